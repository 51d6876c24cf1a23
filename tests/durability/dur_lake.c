/* dur_lake.c - the durability tests read the lake through the project's own store code:
 * list every object a lister sees and copy it into a local folder, or create a bucket.
 * Usage: dur_lake fetch URL OUTDIR | dur_lake mkbucket URL. S3 settings from the env:
 * S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "lake/lake.h"
#include "lake/lake_int.h"

#define OBJECT_MAX (256u << 20)

struct fetch {
    lake_store *st;
    const char *out;
    unsigned long objects;
    int failed;
};

/* mkdir -p of the folders of path (everything before the last '/'). */
static int make_parents(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc != 0 && errno != EEXIST) {
            return -1;
        }
    }
    return 0;
}

static int fetch_one(void *arg, const char *key, uint64_t size)
{
    struct fetch *f = arg;
    struct wr_buf b;
    wr_buf_init(&b, OBJECT_MAX);
    struct wr_err e = {0};
    int rc = lake_store_get(f->st, key, &b, &e);
    if (rc != 0) {
        fprintf(stderr, "dur_lake: get %s: %s\n", key, e.msg);
        f->failed = 1;
        wr_buf_free(&b);
        return 0;
    }
    char path[LAKE_PATH_MAX + 1024];
    int n = snprintf(path, sizeof path, "%s/%s", f->out, key);
    FILE *fp = NULL;
    if (n > 0 && (size_t)n < sizeof path && make_parents(path) == 0) {
        fp = fopen(path, "wb");
    }
    if (!fp || (b.len && fwrite(b.p, 1, b.len, fp) != b.len) || fclose(fp) != 0) {
        fprintf(stderr, "dur_lake: cannot write %s\n", path);
        f->failed = 1;
    }
    /* listed size vs fetched size: a mismatch would be a half-visible object */
    printf("%s\t%llu\t%zu\n", key, (unsigned long long)size, b.len);
    f->objects++;
    wr_buf_free(&b);
    return 0;
}

static lake_store *open_store(const char *url)
{
    struct lake_s3_opts o;
    memset(&o, 0, sizeof o);
    o.endpoint = getenv("S3_ENDPOINT");
    o.addressing = LAKE_S3_ADDR_PATH;
    o.retry_base_ms = 100;
    o.max_attempts = 8;
    lake_s3_opts_from_env(&o);
    struct wr_err e = {0};
    lake_store *st = lake_store_open(url, &o, &e);
    if (!st) {
        fprintf(stderr, "dur_lake: open %s: %s\n", url, e.msg);
    }
    return st;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "mkbucket") == 0) {
        lake_store *st = open_store(argv[2]);
        struct wr_err e = {0};
        int rc = st ? lake__s3_create_bucket(st, &e) : -1;
        if (st && rc != 0) {
            fprintf(stderr, "dur_lake: create bucket: %s\n", e.msg);
        }
        lake_store_destroy(st);
        return rc == 0 ? 0 : 1;
    }
    if (argc != 4 || strcmp(argv[1], "fetch") != 0) {
        fprintf(stderr, "usage: dur_lake fetch URL OUTDIR | dur_lake mkbucket URL\n");
        return 2;
    }
    struct fetch f = {open_store(argv[2]), argv[3], 0, 0};
    if (!f.st) {
        return 1;
    }
    struct wr_err e = {0};
    int rc = lake_store_list(f.st, "", fetch_one, &f, &e);
    if (rc != 0) {
        fprintf(stderr, "dur_lake: list: %s\n", e.msg);
    }
    lake_store_destroy(f.st);
    fprintf(stderr, "dur_lake: %lu objects\n", f.objects);
    return rc != 0 || f.failed ? 1 : 0;
}
