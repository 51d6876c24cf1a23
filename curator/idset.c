/* idset.c - the dedup state of a day: 128-bit hashes of event ids in one open-addressing
 * table (16 bytes a slot, grown at 3/4 load), plus the raw-file fingerprint. */
#include "curator.h"
#include "cur_int.h"

#include "common/hash.h"

#include <stdlib.h>
#include <string.h>

struct slot {
    uint64_t a, b; /* a == 0 && b == 0: empty (hashes are forced nonzero) */
};

struct cur_idset {
    struct slot *slots;
    size_t mask;  /* slots - 1 */
    size_t count;
};

static uint64_t mix64(uint64_t x)
{
    /* a multiply-xorshift finaliser: every input bit reaches every output bit */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

void cur__hash128(const void *p, size_t len, uint64_t *ha, uint64_t *hb)
{
    const unsigned char *s = p;
    uint64_t a = 0x6a09e667f3bcc908ULL ^ len, b = 0xbb67ae8584caa73bULL ^ (len << 1);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        a = mix64(a ^ w) + 0x3c6ef372fe94f82bULL;
        b = mix64(b + w) ^ 0xa54ff53a5f1d36f1ULL;
    }
    uint64_t w = 0;
    memcpy(&w, s + i, len - i);
    a = mix64(a ^ w ^ 0x510e527fade682d1ULL);
    b = mix64(mix64(b + w) ^ a);
    if (a == 0 && b == 0) {
        a = 1;
    }
    *ha = a;
    *hb = b;
}

cur_idset *cur_idset_create(void)
{
    cur_idset *s = calloc(1, sizeof *s);
    if (!s) {
        return NULL;
    }
    s->slots = calloc(1024, sizeof *s->slots);
    if (!s->slots) {
        free(s);
        return NULL;
    }
    s->mask = 1023;
    return s;
}

void cur_idset_destroy(cur_idset *s)
{
    if (s) {
        free(s->slots);
        free(s);
    }
}

void cur__idset_clear(cur_idset *s)
{
    memset(s->slots, 0, (s->mask + 1) * sizeof *s->slots);
    s->count = 0;
}

void cur__idset_prefetch(const cur_idset *s, uint64_t a)
{
    __builtin_prefetch(&s->slots[(size_t)a & s->mask]);
}

static void place(struct slot *slots, size_t mask, uint64_t a, uint64_t b)
{
    size_t i = (size_t)a & mask;
    while (slots[i].a || slots[i].b) {
        i = (i + 1) & mask;
    }
    slots[i].a = a;
    slots[i].b = b;
}

static int grow(cur_idset *s)
{
    size_t n = (s->mask + 1) * 2;
    struct slot *ns = calloc(n, sizeof *ns);
    if (!ns) {
        return WR_ENOMEM;
    }
    for (size_t i = 0; i <= s->mask; i++) {
        if (s->slots[i].a || s->slots[i].b) {
            place(ns, n - 1, s->slots[i].a, s->slots[i].b);
        }
    }
    free(s->slots);
    s->slots = ns;
    s->mask = n - 1;
    return 0;
}

int cur__idset_add_hash(cur_idset *s, uint64_t a, uint64_t b)
{
    if ((s->count + 1) * 4 > (s->mask + 1) * 3) {
        int rc = grow(s);
        if (rc) {
            return rc;
        }
    }
    size_t i = (size_t)a & s->mask;
    while (s->slots[i].a || s->slots[i].b) {
        if (s->slots[i].a == a && s->slots[i].b == b) {
            return 0;
        }
        i = (i + 1) & s->mask;
    }
    s->slots[i].a = a;
    s->slots[i].b = b;
    s->count++;
    return 1;
}

int cur__idset_has_hash(const cur_idset *s, uint64_t a, uint64_t b)
{
    size_t i = (size_t)a & s->mask;
    while (s->slots[i].a || s->slots[i].b) {
        if (s->slots[i].a == a && s->slots[i].b == b) {
            return 1;
        }
        i = (i + 1) & s->mask;
    }
    return 0;
}

int cur_idset_add(cur_idset *s, const void *id, size_t len)
{
    uint64_t a, b;
    cur__hash128(id, len, &a, &b);
    return cur__idset_add_hash(s, a, b);
}

size_t cur_idset_count(const cur_idset *s)
{
    return s->count;
}

size_t cur_idset_bytes(const cur_idset *s)
{
    return (s->mask + 1) * sizeof(struct slot) + sizeof *s;
}

void cur_fingerprint(const char *const *keys, const uint64_t *sizes, size_t n, char out[65])
{
    struct wr_buf b;
    wr_buf_init(&b, (size_t)1 << 30);
    for (size_t i = 0; i < n; i++) {
        if (wr_buf_printf(&b, "%s\t%llu\n", keys[i], (unsigned long long)sizes[i]) != 0) {
            break; /* only past 1 GiB of names: the prefix still changes with the list */
        }
    }
    wr_sha256_hex(b.p ? b.p : "", b.len, out);
    wr_buf_free(&b);
}
