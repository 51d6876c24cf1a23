/* test_spool_damage.c - recovery against random damage: bytes flipped anywhere in a
 * multi-segment spool and random tails cut. Every record whose bytes were not touched
 * must come back exactly once at its position; nothing else may come back. */
#include <fcntl.h>

#include "check.h"
#include "spool_testutil.h"

enum { N = 120, SEG = 4096, ROUNDS = 300 };

struct image {
    int nseg;
    uint64_t start[64];
    char *bytes[64];
    size_t len[64];
};

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void save_image(const char *dir, struct image *im)
{
    im->nseg = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL && im->nseg < 64) {
        size_t l = strlen(de->d_name);
        if (l != 20 || strcmp(de->d_name + 16, ".wal") != 0) {
            continue;
        }
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        int i = im->nseg++;
        im->start[i] = strtoull(de->d_name, NULL, 16);
        im->bytes[i] = malloc((size_t)n + 1);
        im->len[i] = fread(im->bytes[i], 1, (size_t)n, f);
        fclose(f);
    }
    closedir(d);
}

static void write_image(const char *dir, const struct image *im, char *const *bytes,
                        const size_t *len)
{
    for (int i = 0; i < im->nseg; i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%016" PRIx64 ".wal", dir, im->start[i]);
        FILE *f = fopen(path, "wb");
        fwrite(bytes[i], 1, len[i], f);
        fclose(f);
    }
}

static int seg_of(const struct image *im, uint64_t lsn)
{
    int k = -1;
    for (int i = 0; i < im->nseg; i++) {
        if (im->start[i] <= lsn && (k < 0 || im->start[i] > im->start[k])) {
            k = i;
        }
    }
    return k;
}

/* prealloc: segments written as zero-filled spares (their room is damaged too). */
static void random_damage(int prealloc)
{
    char dir[64];
    tu_mkdtemp(dir, sizeof(dir));
    sp_spool *s = tu_open_ex(dir, NULL, SEG, 0, prealloc);
    uint64_t lsn[N];
    size_t rlen[N];
    struct tu_acks acks;
    tu_acks_init(&acks, N);
    struct tu_ack_arg a = {&acks, 0};
    char rec[400];
    for (uint32_t i = 0; i < N; i++) {
        rlen[i] = tu_record(i, rec, sizeof(rec), 300);
        if (prealloc) {
            /* one record at a time, each after a spare is ready: every cut takes one */
            CHECK(tu_wait_spare(s));
        }
        sp_spool_append1(s, rec, rlen[i], tu_ack, &a, &lsn[i]);
        if (prealloc) {
            tu_acks_wait(&acks, i + 1);
        }
    }
    tu_acks_wait(&acks, N);
    if (prealloc) {
        struct sp_spool_stats st;
        sp_spool_stats(s, &st);
        CHECK_INT(st.prealloc_taken, st.segments);
    }
    sp_spool_destroy(s);
    tu_acks_free(&acks);
    struct image im;
    save_image(dir, &im);
    CHECK(im.nseg >= 5);
    /* The last segment is the one with the highest start. */
    int last = 0;
    for (int i = 1; i < im.nseg; i++) {
        if (im.start[i] > im.start[last]) {
            last = i;
        }
    }

    int missing = 0, wrong = 0, dup = 0, failed_open = 0;
    char *bytes[64];
    size_t len[64];
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < im.nseg; i++) {
            bytes[i] = malloc(im.len[i] + 1);
            memcpy(bytes[i], im.bytes[i], im.len[i]);
            len[i] = im.len[i];
        }
        /* touched[i]: record i lost at least one byte to the damage. */
        int touched[N] = {0};
        int flips = 1 + (int)(rng() % 6);
        for (int f = 0; f < flips; f++) {
            int sg = (int)(rng() % (uint64_t)im.nseg);
            if (len[sg] == 0) {
                continue;
            }
            size_t off = (size_t)(rng() % len[sg]);
            bytes[sg][off] ^= (char)(1 + rng() % 255);
            uint64_t pos = im.start[sg] + off;
            for (int i = 0; i < N; i++) {
                if (pos >= lsn[i] && pos < sp_spool_record_end(lsn[i], rlen[i])) {
                    touched[i] = 1;
                }
            }
        }
        if (rng() % 3 == 0 && len[last] > 0) {
            size_t cut = (size_t)(rng() % len[last]);
            for (int i = 0; i < N; i++) {
                if (sp_spool_record_end(lsn[i], rlen[i]) > im.start[last] + cut) {
                    touched[i] = 1;
                }
            }
            len[last] = cut;
        }
        write_image(dir, &im, bytes, len);
        for (int i = 0; i < im.nseg; i++) {
            free(bytes[i]);
        }

        struct tu_replay r;
        tu_replay_init(&r);
        s = tu_open_ex(dir, &r, SEG, 0, prealloc);
        if (!s) {
            failed_open++;
            tu_replay_free(&r);
            continue;
        }
        int seen[N] = {0};
        for (size_t k = 0; k < r.n; k++) {
            unsigned id = 0;
            if (sscanf(r.p[k], "{\"i\":%u", &id) != 1 || id >= N) {
                wrong++;
                continue;
            }
            size_t l = tu_record(id, rec, sizeof(rec), 300);
            if (r.lsn[k] != lsn[id] || r.len[k] != l || memcmp(r.p[k], rec, l) != 0) {
                wrong++;
            }
            if (seen[id]++) {
                dup++;
            }
        }
        for (int i = 0; i < N; i++) {
            if (!touched[i] && !seen[i]) {
                missing++;
                fprintf(stderr, "round %d: untouched record %d (segment %d) not replayed\n", round,
                        i, seg_of(&im, lsn[i]));
            }
        }
        sp_spool_destroy(s);
        tu_replay_free(&r);
    }
    CHECK_INT(failed_open, 0);
    CHECK_INT(missing, 0);
    CHECK_INT(wrong, 0);
    CHECK_INT(dup, 0);
    for (int i = 0; i < im.nseg; i++) {
        free(im.bytes[i]);
    }
    tu_rmdir(dir);
}

static void test_random_damage(void)
{
    random_damage(0);
}

static void test_random_damage_preallocated(void)
{
    random_damage(1);
}

int main(void)
{
    CHECK_RUN(test_random_damage);
    CHECK_RUN(test_random_damage_preallocated);
    return CHECK_DONE();
}
