/* pgserver.c - the embedded PostgreSQL cluster of `weir up` (and of the test harness):
 * initdb on first use, pg_ctl start/stop, Unix socket only. As root the server runs as
 * the unprivileged `postgres` user, because initdb and postgres refuse to run as root. */
#include "registry.h"

#include "common/log.h"
#include "common/opts.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The server's binaries: WEIR_PG_BINDIR, else the newest /usr/lib/postgresql/N/bin. */
static int find_bindir(char *out, size_t outlen, struct wr_err *err)
{
    const char *env = wr_env("WEIR_PG_BINDIR");
    if (env) {
        snprintf(out, outlen, "%s", env);
        return 0;
    }
    glob_t g;
    if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) != 0 || g.gl_pathc == 0) {
        globfree(&g);
        return wr_err_set(err, WR_ENOENT, "no PostgreSQL server found under /usr/lib/postgresql "
                          "(apt-get install postgresql, or set WEIR_PG_BINDIR)");
    }
    /* Versions sort numerically only up to 9 vs 10; pick by parsed major. */
    size_t best = 0;
    long best_v = -1;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        long v = strtol(g.gl_pathv[i] + strlen("/usr/lib/postgresql/"), NULL, 10);
        if (v > best_v) {
            best_v = v;
            best = i;
        }
    }
    snprintf(out, outlen, "%s", g.gl_pathv[best]);
    char *slash = strrchr(out, '/');
    if (slash) {
        *slash = '\0';
    }
    globfree(&g);
    return 0;
}

/* Runs argv as the server's user (postgres when we are root), output appended to logpath.
 * Returns the exit status, or -1 when it could not run. */
static int run_as(const struct passwd *pw, char *const argv[], const char *logpath)
{
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        if (pw && (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
                   setuid(pw->pw_uid) != 0)) {
            dprintf(STDERR_FILENO, "weir: cannot switch to user %s\n", pw->pw_name);
            _exit(126);
        }
        /* Opened as the server's user: a log root created would be closed to pg_ctl -l. */
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) {
            dup2(nul, STDIN_FILENO);
        }
        execv(argv[0], argv);
        dprintf(STDERR_FILENO, "weir: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Whether the server's user can reach path (it cannot under a 0700 home, for one). */
static bool user_can_access(const struct passwd *pw, const char *path)
{
    if (!pw) {
        return true;
    }
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
            _exit(1);
        }
        _exit(access(path, R_OK | W_OK | X_OK) == 0 ? 0 : 1);
    }
    int status;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
}

static int mkdir_owned(const char *path, const struct passwd *pw, mode_t mode, struct wr_err *err)
{
    if (mkdir(path, mode) != 0 && errno != EEXIST) {
        return wr_err_set(err, WR_EIO, "mkdir %s: %s", path, strerror(errno));
    }
    if (pw && chown(path, pw->pw_uid, pw->pw_gid) != 0) {
        return wr_err_set(err, WR_EIO, "chown %s: %s", path, strerror(errno));
    }
    return 0;
}

void reg_pgserver_conninfo(const char *dir, char *out, size_t outlen)
{
    char abs[PATH_MAX];
    if (!realpath(dir, abs)) {
        snprintf(abs, sizeof abs, "%s", dir);
    }
    snprintf(out, outlen, "host=%s/run user=weir dbname=weir", abs);
}

static int create_cluster(const char *bindir, const char *abs, const struct passwd *pw,
                          struct wr_err *err)
{
    char path[PATH_MAX + 32], logpath[PATH_MAX + 32], initdb[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/data", abs);
    snprintf(logpath, sizeof logpath, "%s/log/initdb.log", abs);
    snprintf(initdb, sizeof initdb, "%s/initdb", bindir);
    WR_INFO("creating the embedded PostgreSQL cluster in %s", abs);
    char *argv[] = {initdb, "-D", path, "-U", "weir", "--auth=trust", "-E", "UTF8",
                    "--no-locale", "--no-sync", NULL};
    /* --no-sync: a cluster that dies during initdb is simply created again. */
    if (run_as(pw, argv, logpath) != 0) {
        return wr_err_set(err, WR_EIO, "initdb failed; see %s", logpath);
    }
    char conf[PATH_MAX + 32];
    snprintf(conf, sizeof conf, "%s/data/postgresql.conf", abs);
    FILE *f = fopen(conf, "a");
    if (!f) {
        return wr_err_set(err, WR_EIO, "open %s: %s", conf, strerror(errno));
    }
    /* Only the Unix socket, in a 0700 folder: trust authentication is safe there. */
    fprintf(f, "\n# weir embedded cluster\nlisten_addresses = ''\n"
               "unix_socket_directories = '%s/run'\nunix_socket_permissions = 0700\n"
               "max_connections = 200\nlogging_collector = off\n",
            abs);
    if (fclose(f) != 0) {
        return wr_err_set(err, WR_EIO, "write %s: %s", conf, strerror(errno));
    }
    return 0;
}

static int ensure_database(const char *abs, struct wr_err *err)
{
    char ci[PATH_MAX + 64];
    snprintf(ci, sizeof ci, "host=%s/run user=weir dbname=postgres", abs);
    PGconn *c = reg_connect(ci, err);
    if (!c) {
        return WR_EDB;
    }
    int rc = 0;
    PGresult *r = reg_exec(c, PGRES_TUPLES_OK, err,
                           "SELECT 1 FROM pg_database WHERE datname = 'weir'", 0, NULL);
    if (!r) {
        rc = WR_EDB;
    } else if (PQntuples(r) == 0) {
        PQclear(r);
        r = reg_exec(c, PGRES_COMMAND_OK, err, "CREATE DATABASE weir", 0, NULL);
        rc = r ? 0 : WR_EDB;
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}

int reg_pgserver_up(const char *dir, bool create, struct reg_pgserver *s, struct wr_err *err)
{
    memset(s, 0, sizeof *s);
    char bindir[PATH_MAX];
    int rc = find_bindir(bindir, sizeof bindir, err);
    if (rc) {
        return rc;
    }
    struct passwd *pw = NULL;
    if (geteuid() == 0) {
        pw = getpwnam("postgres");
        if (!pw) {
            return wr_err_set(err, WR_ENOENT, "running as root needs the 'postgres' user "
                              "(apt-get install postgresql creates it)");
        }
    }
    char pgversion[PATH_MAX + 32];
    snprintf(pgversion, sizeof pgversion, "%s/data/PG_VERSION", dir);
    bool exists = access(pgversion, F_OK) == 0;
    if (!exists && !create) {
        return wr_err_set(err, WR_ENOENT, "no embedded cluster in %s (run `weir up` first, or "
                          "set WEIR_DATABASE_URL)", dir);
    }
    if (mkdir(dir, 0755) == 0) {
        chmod(dir, 0755); /* the postgres user must pass through it, whatever the umask */
    } else if (errno != EEXIST) {
        return wr_err_set(err, WR_EIO, "mkdir %s: %s", dir, strerror(errno));
    }
    char abs[PATH_MAX];
    if (!realpath(dir, abs)) {
        return wr_err_set(err, WR_EIO, "%s: %s", dir, strerror(errno));
    }
    if (strlen(abs) > 80) {
        /* A Unix socket path has room for about 107 bytes. */
        return wr_err_set(err, WR_EINVAL, "%s: path too long for a Unix socket (80 bytes at "
                          "most); use a shorter folder", abs);
    }
    snprintf(s->dir, sizeof s->dir, "%.400s", abs);
    snprintf(s->conninfo, sizeof s->conninfo, "host=%.400s/run user=weir dbname=weir", abs);
    char sub[PATH_MAX + 16];
    const char *subs[] = {"data", "run", "log"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(sub, sizeof sub, "%s/%s", abs, subs[i]);
        rc = mkdir_owned(sub, pw, 0700, err);
        if (rc) {
            return rc;
        }
    }
    if (!user_can_access(pw, sub)) {
        return wr_err_set(err, WR_EIO, "the postgres user cannot reach %s: give its parent "
                          "folders o+x, or use another folder", abs);
    }
    if (!exists) {
        rc = create_cluster(bindir, abs, pw, err);
        if (rc) {
            return rc;
        }
    }
    char pgctl[PATH_MAX + 16], data[PATH_MAX + 16], logpath[PATH_MAX + 32];
    snprintf(pgctl, sizeof pgctl, "%s/pg_ctl", bindir);
    snprintf(data, sizeof data, "%s/data", abs);
    snprintf(logpath, sizeof logpath, "%s/log/postgres.log", abs);
    char *status_argv[] = {pgctl, "status", "-D", data, NULL};
    if (run_as(pw, status_argv, "/dev/null") != 0) {
        WR_INFO("starting the embedded PostgreSQL in %s", abs);
        char *start_argv[] = {pgctl, "start", "-D", data, "-l", logpath, "-w", "-t", "120", NULL};
        if (run_as(pw, start_argv, logpath) != 0) {
            return wr_err_set(err, WR_EIO, "PostgreSQL did not start; see %s", logpath);
        }
        s->started = true;
    }
    rc = ensure_database(abs, err);
    if (rc && s->started) {
        reg_pgserver_stop(abs, NULL);
        s->started = false;
    }
    return rc;
}

int reg_pgserver_stop(const char *dir, struct wr_err *err)
{
    char bindir[PATH_MAX];
    int rc = find_bindir(bindir, sizeof bindir, err);
    if (rc) {
        return rc;
    }
    struct passwd *pw = geteuid() == 0 ? getpwnam("postgres") : NULL;
    char pgctl[PATH_MAX + 16], data[PATH_MAX + 16], logpath[PATH_MAX + 32];
    snprintf(pgctl, sizeof pgctl, "%s/pg_ctl", bindir);
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(logpath, sizeof logpath, "%s/log/postgres.log", dir);
    char *argv[] = {pgctl, "stop", "-D", data, "-m", "fast", "-w", "-t", "60", NULL};
    if (run_as(pw, argv, logpath) != 0) {
        return wr_err_set(err, WR_EIO, "PostgreSQL did not stop; see %s", logpath);
    }
    return 0;
}
