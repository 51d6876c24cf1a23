/* lake_copy.c - the replay tests' bridge to an S3 lake: copies a local folder into a
 * bucket (created when missing) and objects under a prefix back into a folder, through
 * weir's own store. Credentials and region come from the AWS_* variables.
 *   lake_copy ENDPOINT BUCKET put SRC_DIR
 *   lake_copy ENDPOINT BUCKET get PREFIX DEST_DIR */
#define _XOPEN_SOURCE 700
#include "lake/lake.h"
#include "lake/lake_int.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static lake_store *st;
static size_t root_len;
static int failures;

static int put_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag != FTW_F) {
        return 0;
    }
    struct wr_err e = {0};
    if (lake_store_put_path(st, path + root_len + 1, path, &e) != 0) {
        fprintf(stderr, "lake_copy: put %s: %s\n", path, e.msg);
        failures++;
    }
    return 0;
}

static void mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0700);
            *p = '/';
        }
    }
}

static const char *dest;

static int get_one(void *arg, const char *key, uint64_t size)
{
    (void)arg;
    (void)size;
    struct wr_buf b;
    wr_buf_init(&b, (size_t)1 << 30);
    struct wr_err e = {0};
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dest, key);
    mkdirs(path);
    FILE *f = NULL;
    if (lake_store_get(st, key, &b, &e) != 0 || !(f = fopen(path, "wb")) ||
        fwrite(b.p ? b.p : "", 1, b.len, f) != b.len) {
        fprintf(stderr, "lake_copy: get %s: %s\n", key, e.msg[0] ? e.msg : strerror(errno));
        failures++;
    }
    if (f) {
        fclose(f);
    }
    wr_buf_free(&b);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: lake_copy ENDPOINT BUCKET put SRC_DIR | get PREFIX DEST_DIR\n");
        return 2;
    }
    struct lake_s3_opts o;
    memset(&o, 0, sizeof o);
    o.endpoint = argv[1];
    o.addressing = LAKE_S3_ADDR_PATH;
    char url[256];
    snprintf(url, sizeof url, "s3://%s", argv[2]);
    struct wr_err e = {0};
    st = lake_store_open(url, &o, &e);
    if (!st) {
        fprintf(stderr, "lake_copy: %s\n", e.msg);
        return 1;
    }
    if (strcmp(argv[3], "put") == 0) {
        if (lake__s3_create_bucket(st, &e) != 0) {
            fprintf(stderr, "lake_copy: create bucket: %s\n", e.msg);
            return 1;
        }
        root_len = strlen(argv[4]);
        nftw(argv[4], put_one, 16, FTW_PHYS);
    } else if (argc == 6 && strcmp(argv[3], "get") == 0) {
        dest = argv[5];
        if (lake_store_list(st, argv[4], get_one, NULL, &e) != 0) {
            fprintf(stderr, "lake_copy: list: %s\n", e.msg);
            failures++;
        }
    } else {
        fprintf(stderr, "lake_copy: unknown command %s\n", argv[3]);
        return 2;
    }
    lake_store_destroy(st);
    return failures ? 1 : 0;
}
