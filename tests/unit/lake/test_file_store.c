/* test_file_store.c - the file:// store: atomic put into nested partitions, no
 * temporary files visible or left behind, list/get/delete, and the failures (a file
 * where a directory should be, an unwritable place, a write that fails midway). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "lake/lake.h"

static char base[256];

static lake_store *open_at(const char *sub)
{
    char url[512];
    snprintf(url, sizeof url, "file://%s/%s", base, sub);
    struct wr_err e = {0};
    lake_store *st = lake_store_open(url, NULL, &e);
    if (!st) {
        fprintf(stderr, "open %s: %s\n", url, e.msg);
    }
    return st;
}

struct seen {
    int n;
    char keys[64][256];
    uint64_t sizes[64];
    int stop_after;
};

static int collect(void *arg, const char *key, uint64_t size)
{
    struct seen *s = arg;
    if (s->n < 64) {
        snprintf(s->keys[s->n], sizeof s->keys[0], "%s", key);
        s->sizes[s->n] = size;
    }
    s->n++;
    if (s->stop_after && s->n >= s->stop_after) {
        return 7;
    }
    return 0;
}

/* Counts names starting with ".tmp" anywhere under dir. */
static int count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        return 0;
    }
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (strncmp(de->d_name, ".tmp", 4) == 0) {
            n++;
        }
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            n += count_tmp(p);
        }
    }
    closedir(d);
    return n;
}

static void test_put_get_roundtrip(void)
{
    lake_store *st = open_at("a/b/c/lake"); /* the root and its parents are created */
    CHECK(st != NULL);
    if (!st) {
        return;
    }
    CHECK_STR(lake_store_kind(st), "file");
    struct wr_err e = {0};
    const char *k = "raw/event_type=page_view/dt=2024-01-01/hr=07/gw1-1-9.jsonl.gz";
    CHECK_INT(lake_store_put(st, k, "hello\n", 6, &e), 0);
    struct wr_buf b;
    wr_buf_init(&b, 1024);
    CHECK_INT(lake_store_get(st, k, &b, &e), 0);
    CHECK_MEM(b.p, b.len, "hello\n", 6);
    /* Overwrite replaces. */
    CHECK_INT(lake_store_put(st, k, "bye", 3, &e), 0);
    wr_buf_clear(&b);
    CHECK_INT(lake_store_get(st, k, &b, &e), 0);
    CHECK_MEM(b.p, b.len, "bye", 3);
    /* Empty objects exist. */
    CHECK_INT(lake_store_put(st, "empty", NULL, 0, &e), 0);
    wr_buf_clear(&b);
    CHECK_INT(lake_store_get(st, "empty", &b, &e), 0);
    CHECK_INT(b.len, 0);
    /* The file is where the layout says. */
    char p[512];
    snprintf(p, sizeof p, "%s/a/b/c/lake/%s", base, k);
    struct stat sb;
    CHECK_INT(stat(p, &sb), 0);
    CHECK_INT(sb.st_size, 3);
    snprintf(p, sizeof p, "%s/a", base);
    CHECK_INT(count_tmp(p), 0);
    wr_buf_free(&b);
    struct lake_store_stats s;
    lake_store_stats(st, &s);
    CHECK_INT(s.bytes_put, 9);
    CHECK_INT(s.failures, 0);
    lake_store_destroy(st);
    lake_store_destroy(NULL);
}

static void test_get_errors(void)
{
    lake_store *st = open_at("get");
    struct wr_err e = {0};
    struct wr_buf b;
    wr_buf_init(&b, 4);
    CHECK_INT(lake_store_get(st, "nope", &b, &e), WR_ENOENT);
    CHECK_INT(lake_store_get(st, "no/such/dir", &b, &e), WR_ENOENT);
    CHECK_INT(lake_store_put(st, "dir/x", "12345", 5, &e), 0);
    CHECK_INT(lake_store_get(st, "dir", &b, &e), WR_ENOENT); /* a directory is no object */
    CHECK_INT(lake_store_get(st, "dir/x", &b, &e), WR_ELIMIT); /* over the 4-byte cap */
    CHECK(strstr(e.msg, "over the cap") != NULL);
    struct wr_buf b5;
    wr_buf_init(&b5, 5);
    CHECK_INT(lake_store_get(st, "dir/x", &b5, &e), 0); /* exactly the cap */
    CHECK_MEM(b5.p, b5.len, "12345", 5);
    CHECK_INT(lake_store_get(st, "../get/dir/x", &b5, &e), WR_EINVAL);
    wr_buf_free(&b);
    wr_buf_free(&b5);
    lake_store_destroy(st);
}

static void test_list_and_no_temp_visible(void)
{
    lake_store *st = open_at("list");
    struct wr_err e = {0};
    const char *keys[] = {
        "raw/event_type=a/dt=2024-01-01/hr=00/f1.jsonl.gz",
        "raw/event_type=a/dt=2024-01-01/hr=01/f2.jsonl.gz",
        "raw/event_type=a/dt=2024-01-02/hr=00/f3.jsonl.gz",
        "raw/event_type=b/dt=2024-01-01/hr=00/f4.jsonl.gz",
        "rejected/dt=2024-01-01/hr=00/r1.jsonl.gz",
    };
    for (size_t i = 0; i < 5; i++) {
        CHECK_INT(lake_store_put(st, keys[i], keys[i], i + 1, &e), 0);
    }
    /* A crashed writer's temporary file in a partition must stay invisible. */
    char p[512];
    snprintf(p, sizeof p, "%s/list/raw/event_type=a/dt=2024-01-01/hr=00/.tmp-99-1", base);
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    CHECK(fd >= 0);
    CHECK_INT(write(fd, "partial", 7), 7);
    close(fd);

    struct seen s = {0};
    CHECK_INT(lake_store_list(st, "", collect, &s, &e), 0);
    CHECK_INT(s.n, 5);
    for (int i = 0; i < s.n && i < 5; i++) {
        CHECK_STR(s.keys[i], keys[i]); /* sorted, as written above */
        CHECK_INT(s.sizes[i], i + 1);
    }
    memset(&s, 0, sizeof s);
    CHECK_INT(lake_store_list(st, "raw/event_type=a/", collect, &s, &e), 0);
    CHECK_INT(s.n, 3);
    memset(&s, 0, sizeof s);
    /* A prefix that ends inside a segment, as S3 allows. */
    CHECK_INT(lake_store_list(st, "raw/event_type=a/dt=2024-01-0", collect, &s, &e), 0);
    CHECK_INT(s.n, 3);
    memset(&s, 0, sizeof s);
    CHECK_INT(lake_store_list(st, "raw/event_type=a/dt=2024-01-01/hr=0", collect, &s, &e), 0);
    CHECK_INT(s.n, 2);
    memset(&s, 0, sizeof s);
    CHECK_INT(lake_store_list(st, "raw/event_type=", collect, &s, &e), 0);
    CHECK_INT(s.n, 4);
    memset(&s, 0, sizeof s);
    CHECK_INT(lake_store_list(st, "curated/", collect, &s, &e), 0); /* missing dir: nothing */
    CHECK_INT(s.n, 0);
    memset(&s, 0, sizeof s);
    CHECK_INT(lake_store_list(st, "rejected/dt=2024-01-01/hr=00/r1.jsonl.gz", collect, &s, &e), 0);
    CHECK_INT(s.n, 1);
    /* Prefixes that would leave the root are refused. */
    CHECK_INT(lake_store_list(st, "../", collect, &s, &e), WR_EINVAL);
    CHECK_INT(lake_store_list(st, "raw/../../", collect, &s, &e), WR_EINVAL);
    CHECK_INT(lake_store_list(st, "/etc/", collect, &s, &e), WR_EINVAL);
    CHECK_INT(lake_store_list(st, "raw//", collect, &s, &e), WR_EINVAL);
    CHECK_INT(lake_store_put(st, "k", NULL, 3, &e), WR_EINVAL);
    /* The callback can stop the walk; its value comes back. */
    memset(&s, 0, sizeof s);
    s.stop_after = 2;
    CHECK_INT(lake_store_list(st, "", collect, &s, &e), 7);
    CHECK_INT(s.n, 2);
    lake_store_destroy(st);
}

static void test_delete(void)
{
    lake_store *st = open_at("del");
    struct wr_err e = {0};
    CHECK_INT(lake_store_put(st, "x/y/z", "1", 1, &e), 0);
    CHECK_INT(lake_store_delete(st, "x/y/z", &e), 0);
    struct wr_buf b;
    wr_buf_init(&b, 16);
    CHECK_INT(lake_store_get(st, "x/y/z", &b, &e), WR_ENOENT);
    CHECK_INT(lake_store_delete(st, "x/y/z", &e), 0);   /* already gone */
    CHECK_INT(lake_store_delete(st, "q/r/s", &e), 0);   /* never there */
    CHECK_INT(lake_store_delete(st, "x/../z", &e), WR_EINVAL);
    wr_buf_free(&b);
    lake_store_destroy(st);
}

static void test_put_fd_and_path(void)
{
    lake_store *st = open_at("fd");
    struct wr_err e = {0};
    char src[512];
    snprintf(src, sizeof src, "%s/src.bin", base);
    int fd = open(src, O_CREAT | O_RDWR | O_TRUNC, 0644);
    static char data[3 * 1024 * 1024 + 17];
    for (size_t i = 0; i < sizeof data; i++) {
        data[i] = (char)(i * 7 + 3);
    }
    CHECK_INT(write(fd, data, sizeof data), sizeof data);
    /* The fd's position is not used: the whole file goes. */
    CHECK_INT(lake_store_put_fd(st, "big/one.bin", fd, &e), 0);
    close(fd);
    CHECK_INT(lake_store_put_path(st, "big/two.bin", src, &e), 0);
    struct wr_buf b;
    wr_buf_init(&b, sizeof data);
    CHECK_INT(lake_store_get(st, "big/one.bin", &b, &e), 0);
    CHECK_MEM(b.p, b.len, data, sizeof data);
    wr_buf_clear(&b);
    CHECK_INT(lake_store_get(st, "big/two.bin", &b, &e), 0);
    CHECK(b.len == sizeof data && memcmp(b.p, data, sizeof data) == 0);
    CHECK_INT(lake_store_put_path(st, "big/three.bin", "/nonexistent/file", &e), WR_ENOENT);
    wr_buf_free(&b);
    lake_store_destroy(st);
}

static void test_bad_keys(void)
{
    lake_store *st = open_at("keys");
    struct wr_err e = {0};
    const char *bad[] = {"", "/abs", "../up", "a/../../up", ".hidden", "a/.tmp-1-1", "a//b", "a/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(lake_store_put(st, bad[i], "x", 1, &e), WR_EINVAL);
    }
    char p[512];
    snprintf(p, sizeof p, "%s/up", base);
    CHECK(access(p, F_OK) != 0); /* nothing escaped the root */
    struct lake_store_stats s;
    lake_store_stats(st, &s);
    CHECK_INT(s.failures, sizeof bad / sizeof bad[0]);
    lake_store_destroy(st);
}

static void test_file_where_dir_expected(void)
{
    lake_store *st = open_at("clash");
    struct wr_err e = {0};
    CHECK_INT(lake_store_put(st, "raw", "i am a file", 11, &e), 0);
    int rc = lake_store_put(st, "raw/event_type=a/x", "y", 1, &e);
    CHECK_INT(rc, WR_EIO);
    CHECK(strstr(e.msg, "raw") != NULL);
    lake_store_destroy(st);

    /* A root that cannot be created is refused at open with the reason. */
    char url[512];
    snprintf(url, sizeof url, "file://%s/clash/raw/sub", base);
    memset(&e, 0, sizeof e);
    CHECK(lake_store_open(url, NULL, &e) == NULL);
    CHECK_INT(e.code, WR_EIO);
    CHECK(strstr(e.msg, "Not a directory") != NULL);
}

static void test_unwritable_place(void)
{
    struct wr_err e = {0};
    if (geteuid() != 0) {
        char p[512];
        snprintf(p, sizeof p, "%s/ro", base);
        mkdir(p, 0555);
        lake_store *st = open_at("ro");
        CHECK(st != NULL);
        CHECK_INT(lake_store_put(st, "x/y", "1", 1, &e), WR_EIO);
        CHECK(strstr(e.msg, "Permission denied") != NULL);
        lake_store_destroy(st);
    }
    /* Root ignores permissions, but not a read-only file system. */
    memset(&e, 0, sizeof e);
    lake_store *st = lake_store_open("file:///proc/weir-lake-test", NULL, &e);
    CHECK(st == NULL);
    CHECK_INT(e.code, WR_EIO);
    CHECK(strstr(e.msg, "weir-lake-test") != NULL);
}

/* A write that fails midway (here: over RLIMIT_FSIZE, which binds root too) must
 * leave the previous object intact and no temporary file behind. */
static void test_failed_write_leaves_old_object(void)
{
    lake_store *st = open_at("full");
    struct wr_err e = {0};
    CHECK_INT(lake_store_put(st, "p/obj", "old", 3, &e), 0);
    struct rlimit old, lim = {4096, 4096};
    getrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_IGN);
    lim.rlim_max = old.rlim_max;
    CHECK_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
    static char big[64 * 1024];
    memset(big, 'n', sizeof big);
    int rc = lake_store_put(st, "p/obj", big, sizeof big, &e);
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK_INT(rc, WR_EIO);
    CHECK(strstr(e.msg, "write") != NULL);
    struct wr_buf b;
    wr_buf_init(&b, 1 << 20);
    CHECK_INT(lake_store_get(st, "p/obj", &b, &e), 0);
    CHECK_MEM(b.p, b.len, "old", 3);
    char p[512];
    snprintf(p, sizeof p, "%s/full", base);
    CHECK_INT(count_tmp(p), 0);
    wr_buf_free(&b);
    lake_store_destroy(st);
}

static void test_relative_root(void)
{
    char cwd[512];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    char d[512];
    snprintf(d, sizeof d, "%s/rel", base);
    mkdir(d, 0755);
    CHECK_INT(chdir(d), 0);
    struct wr_err e = {0};
    lake_store *st = lake_store_open(LAKE_DEFAULT_URL, NULL, &e);
    CHECK(st != NULL);
    /* The store keeps its directory even if the process changes directory later. */
    CHECK_INT(chdir(cwd), 0);
    if (st) {
        CHECK_INT(lake_store_put(st, "k", "v", 1, &e), 0);
        lake_store_destroy(st);
    }
    char p[600];
    snprintf(p, sizeof p, "%s/var/lake/k", d);
    CHECK_INT(access(p, F_OK), 0);
}

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            rm_rf(p);
        } else {
            unlink(p);
        }
    }
    closedir(d);
    rmdir(dir);
}

int main(void)
{
    snprintf(base, sizeof base, "/tmp/weir-lake-test-XXXXXX");
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    CHECK_RUN(test_put_get_roundtrip);
    CHECK_RUN(test_get_errors);
    CHECK_RUN(test_list_and_no_temp_visible);
    CHECK_RUN(test_delete);
    CHECK_RUN(test_put_fd_and_path);
    CHECK_RUN(test_bad_keys);
    CHECK_RUN(test_file_where_dir_expected);
    CHECK_RUN(test_unwritable_place);
    CHECK_RUN(test_failed_write_leaves_old_object);
    CHECK_RUN(test_relative_root);
    rm_rf(base);
    return CHECK_DONE();
}
