/* pgfixture.c - the test harness's throwaway PostgreSQL cluster, run by the same code
 * as `weir up` (reg_pgserver_*), so there is one way to run embedded Postgres.
 *   weir_pgfixture start DIR [--fresh]  start the cluster in DIR, creating it if needed;
 *                                       a stale server there is stopped first; --fresh
 *                                       removes the old cluster and makes a new one
 *   weir_pgfixture up DIR               start the existing cluster in DIR (weir up's)
 *   weir_pgfixture stop DIR [--remove]  stop it (keeping its data, so start restarts
 *                                       it), and with --remove delete it
 *   weir_pgfixture running DIR          exit 0 when a server runs in DIR, 1 when not
 * The conninfo is printed by start and up: host=DIR/run user=weir dbname=weir */
#include "common/log.h"
#include "registry/registry.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ftw.h>

static int usage(void)
{
    fputs("usage: weir_pgfixture start DIR [--fresh] | up DIR | stop DIR [--remove] | "
          "running DIR\n", stderr);
    return 2;
}

/* The postmaster's pid from DIR/data/postmaster.pid, or 0 when there is none. */
static long postmaster_pid(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/data/postmaster.pid", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        return 0;
    }
    char line[32];
    long pid = 0;
    if (fgets(line, sizeof line, f)) {
        char *end;
        pid = strtol(line, &end, 10);
        if (end == line || pid <= 0) {
            pid = 0;
        }
    }
    fclose(f);
    return pid;
}

/* Whether the pid of postmaster.pid is a live postgres: not a zombie left by a kill -9,
 * not a pid reused after a reboot (pg_ctl would signal whatever process has it). */
static bool server_alive(const char *dir)
{
    long pid = postmaster_pid(dir);
    if (pid <= 0) {
        return false;
    }
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return false;
    }
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = '\0';
    /* "PID (COMM) STATE ...": COMM may hold spaces and parentheses, so take the last ')'. */
    const char *open = strchr(stat, '('), *close = strrchr(stat, ')');
    if (!open || !close || close < open || close[1] != ' ') {
        return false;
    }
    char state = close[2];
    return strncmp(open + 1, "postgres", 8) == 0 && state != 'Z' && state != 'X';
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0 && errno != ENOENT) {
        fprintf(stderr, "weir_pgfixture: remove %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Removes what reg_pgserver_up creates under dir (data, run, log, demo.key), then dir
 * itself if it is empty: never anything else. */
static int remove_cluster(const char *dir)
{
    const char *subs[] = {"data", "run", "log"};
    for (size_t i = 0; i < 3; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, subs[i]);
        if (access(path, F_OK) == 0 && nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
            return -1;
        }
    }
    char key[PATH_MAX];
    snprintf(key, sizeof key, "%s/demo.key", dir);
    remove(key);
    if (rmdir(dir) != 0 && errno != ENOENT && errno != ENOTEMPTY) {
        fprintf(stderr, "weir_pgfixture: rmdir %s: %s\n", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static int stop(const char *dir)
{
    if (!server_alive(dir)) {
        return 0;
    }
    struct wr_err err = {0};
    if (reg_pgserver_stop(dir, &err) != 0) {
        fprintf(stderr, "weir_pgfixture: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* Prints the last lines of the server log, so a failed start explains itself. */
static void show_log(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/log/postgres.log", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        return;
    }
    char tail[4096];
    if (fseek(f, -(long)(sizeof tail - 1), SEEK_END) != 0) {
        rewind(f);
    }
    size_t n = fread(tail, 1, sizeof tail - 1, f);
    tail[n] = '\0';
    fclose(f);
    fprintf(stderr, "--- %s (end) ---\n%s\n", path, tail);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        return usage();
    }
    const char *verb = argv[1], *dir = argv[2], *flag = argc == 4 ? argv[3] : "";
    bool start = strcmp(verb, "start") == 0, stopping = strcmp(verb, "stop") == 0;
    if (*flag && !(start && strcmp(flag, "--fresh") == 0) &&
        !(stopping && strcmp(flag, "--remove") == 0)) {
        return usage();
    }
    wr_log_level = WR_LOG_WARN;
    struct wr_err err = {0};
    struct reg_pgserver s;
    if (start) {
        /* A run killed earlier may have left its server running. */
        if (stop(dir) != 0) {
            /* A postmaster killed a moment ago may still be going away. */
            for (int i = 0; i < 100 && server_alive(dir); i++) {
                usleep(100 * 1000);
            }
        }
        if (server_alive(dir)) {
            fprintf(stderr, "weir_pgfixture: a stale server in %s could not be stopped\n", dir);
            return 1;
        }
        if (*flag && remove_cluster(dir) != 0) {
            return 1;
        }
        if (reg_pgserver_up(dir, true, &s, &err) != 0) {
            fprintf(stderr, "weir_pgfixture: %s\n", err.msg);
            show_log(dir);
            return 1;
        }
        printf("%s\n", s.conninfo);
        return 0;
    }
    if (strcmp(verb, "up") == 0) {
        if (reg_pgserver_up(dir, false, &s, &err) != 0) {
            fprintf(stderr, "weir_pgfixture: %s\n", err.msg);
            show_log(dir);
            return 1;
        }
        printf("%s\n", s.conninfo);
        return 0;
    }
    if (stopping) {
        if (stop(dir) != 0) {
            show_log(dir);
            return 1;
        }
        return *flag && remove_cluster(dir) != 0 ? 1 : 0;
    }
    if (strcmp(verb, "running") == 0) {
        return server_alive(dir) ? 0 : 1;
    }
    return usage();
}
