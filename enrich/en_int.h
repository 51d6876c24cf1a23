/* en_int.h - what the files of enrich/ share and nothing outside includes. */
#ifndef WEIR_EN_INT_H
#define WEIR_EN_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "enrich/enrich.h"

/* One thread's PCRE2 state: match data, a match context with limits, a JIT stack. */
struct en__match {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *stack;
};

int en__match_init(struct en__match *m);
void en__match_free(struct en__match *m);

/* One cached string and its result; entries live in one array, chained by index. */
struct en__entry {
    uint64_t hash;
    char *key; /* malloc'd, key_len bytes */
    size_t key_len;
    struct en_ua val;
    uint32_t next; /* hash chain */
    uint32_t prev_lru, next_lru;
};

struct en_ua_parser {
    const en_ua_rules *rules;
    struct en__match m;
    struct en__entry *e; /* cap entries; index 0 is the LRU list's head sentinel */
    uint32_t cap, used;
    uint32_t *buckets; /* nbuckets heads, 0 = empty */
    uint32_t nbuckets; /* a power of two */
    uint64_t hits, misses;
};

/* Copies src[0, len) into dst (cap bytes, NUL-terminated), cut at cap - 1 bytes but
 * never inside a UTF-8 sequence. Returns the bytes copied. */
size_t en__copy_cut(char *dst, size_t cap, const char *src, size_t len);

/* What every match of a pattern contains: for each of ngroups groups, one of its runs
 * of bytes (ASCII lowercased, at most EN_LIT_MAX each). Group g holds runs
 * [gend[g-1], gend[g]) (from 0 for g == 0). ngroups == 0 when nothing is known (the
 * pattern may match anything, or uses syntax the scan does not understand). */
#define EN_LIT_MAX 32
#define EN_REQ_MAX 512
#define EN_REQ_GROUPS 4
struct en__req {
    size_t n, ngroups;
    size_t gend[EN_REQ_GROUPS];
    uint8_t len[EN_REQ_MAX];
    char lit[EN_REQ_MAX][EN_LIT_MAX];
};
void en__required(const char *re, size_t len, struct en__req *out);

/* For the tests: how many rules match ua but would be skipped by the prefilter (must
 * be 0: the prefilter may only skip rules that cannot match). */
size_t en__prefilter_misses(en_ua_parser *p, const char *ua, size_t len);

/* A fast non-cryptographic 64-bit hash for the UA cache. */
uint64_t en__hash(const void *p, size_t len);

#endif
