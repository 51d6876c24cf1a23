/* inflate_ceiling.c - the ceiling of the console's raw path on this CPU: every *.gz file
 * under a folder read into memory, then inflated whole (libdeflate, every gzip member, into
 * one reused buffer) on one core, timed, without searching or parsing. Prints
 * {"files": n, "gzip_bytes": n, "text_bytes": n, "seconds": s, "gzip_mb_per_s": x}.
 * bench.py builds it with `cc -O2 inflate_ceiling.c -ldeflate`.
 *   inflate_ceiling DIR [ROUNDS] */
#define _GNU_SOURCE
#include <ftw.h>
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct file {
    unsigned char *p;
    size_t n;
};

static struct file *files;
static size_t nfiles, capfiles;

static int add(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    size_t l = strlen(path);
    if (flag != FTW_F || l < 3 || strcmp(path + l - 3, ".gz") != 0) {
        return 0;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        return 0;
    }
    if (nfiles == capfiles) {
        capfiles = capfiles ? capfiles * 2 : 256;
        files = realloc(files, capfiles * sizeof *files);
        if (!files) {
            exit(1);
        }
    }
    struct file *x = &files[nfiles];
    x->n = (size_t)st->st_size;
    x->p = malloc(x->n ? x->n : 1);
    if (!x->p || fread(x->p, 1, x->n, f) != x->n) {
        exit(1);
    }
    fclose(f);
    nfiles++;
    return 0;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: inflate_ceiling DIR [ROUNDS]\n");
        return 2;
    }
    int rounds = 1;
    if (argc > 2) {
        char *end;
        long v = strtol(argv[2], &end, 10);
        if (end == argv[2] || *end || v < 1 || v > 100) {
            fprintf(stderr, "ROUNDS: 1 to 100\n");
            return 2;
        }
        rounds = (int)v;
    }
    if (nftw(argv[1], add, 32, FTW_PHYS) != 0) {
        perror(argv[1]);
        return 1;
    }
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    size_t cap = 64u << 20;
    unsigned char *out = malloc(cap);
    if (!d || !out) {
        return 1;
    }
    double best = 0;
    unsigned long long gz = 0, text = 0;
    for (int r = 0; r < rounds; r++) {
        gz = text = 0;
        double t0 = now_s();
        for (size_t i = 0; i < nfiles; i++) {
            const unsigned char *p = files[i].p;
            size_t left = files[i].n;
            while (left > 0) {
                size_t in_used = 0, out_used = 0;
                enum libdeflate_result rc =
                    libdeflate_gzip_decompress_ex(d, p, left, out, cap, &in_used, &out_used);
                if (rc != LIBDEFLATE_SUCCESS) {
                    break; /* a damaged member: the rest of the file is skipped */
                }
                p += in_used;
                left -= in_used;
                text += out_used;
            }
            gz += files[i].n;
        }
        double s = now_s() - t0;
        best = r == 0 || s < best ? s : best;
    }
    printf("{\"files\": %zu, \"gzip_bytes\": %llu, \"text_bytes\": %llu, \"seconds\": %.3f, "
           "\"gzip_mb_per_s\": %.1f}\n",
           nfiles, gz, text, best, best > 0 ? (double)gz / 1e6 / best : 0.0);
    return 0;
}
