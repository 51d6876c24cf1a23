/* ua_cache.c - the per-thread UA parser: its PCRE2 state and an LRU cache of distinct
 * User-Agent strings, so a batch from one browser is parsed once. No locks: one
 * parser belongs to one thread. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "enrich/en_int.h"

size_t en__copy_cut(char *dst, size_t cap, const char *src, size_t len)
{
    if (cap == 0) {
        return 0;
    }
    len = wr_utf8_cut(src, len, cap - 1);
    if (len) {
        memcpy(dst, src, len);
    }
    dst[len] = '\0';
    return len;
}

uint64_t en__hash(const void *p, size_t len)
{
    const unsigned char *s = p;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (len * 0xff51afd7ed558ccdull);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
        h ^= h >> 29;
        s += 8;
        len -= 8;
    }
    if (len) {
        uint64_t w = 0;
        memcpy(&w, s, len);
        h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    }
    h ^= h >> 32;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 29;
    return h;
}

en_ua_parser *en_ua_parser_create(const en_ua_rules *r, size_t entries, struct wr_err *err)
{
    en_ua_parser *p = calloc(1, sizeof *p);
    if (!p) {
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    p->rules = r;
    if (en__match_init(&p->m) != 0) {
        free(p);
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    if (entries > 1u << 20) {
        entries = 1u << 20;
    }
    if (entries) {
        p->cap = (uint32_t)entries;
        p->nbuckets = 1;
        while (p->nbuckets < p->cap * 2) {
            p->nbuckets <<= 1;
        }
        p->e = calloc((size_t)p->cap + 1, sizeof *p->e);
        p->buckets = calloc(p->nbuckets, sizeof *p->buckets);
        if (!p->e || !p->buckets) {
            en_ua_parser_destroy(p);
            wr_err_set(err, WR_ENOMEM, "out of memory");
            return NULL;
        }
        p->e[0].next_lru = p->e[0].prev_lru = 0;
    }
    return p;
}

void en_ua_parser_destroy(en_ua_parser *p)
{
    if (!p) {
        return;
    }
    if (p->e) {
        for (uint32_t i = 1; i <= p->used; i++) {
            free(p->e[i].key);
        }
    }
    free(p->e);
    free(p->buckets);
    en__match_free(&p->m);
    free(p);
}

void en_ua_parser_stats(const en_ua_parser *p, uint64_t *hits, uint64_t *misses)
{
    *hits = p->hits;
    *misses = p->misses;
}

static void lru_unlink(struct en__entry *e, uint32_t i)
{
    e[e[i].prev_lru].next_lru = e[i].next_lru;
    e[e[i].next_lru].prev_lru = e[i].prev_lru;
}

static void lru_push_front(struct en__entry *e, uint32_t i)
{
    e[i].prev_lru = 0;
    e[i].next_lru = e[0].next_lru;
    e[e[0].next_lru].prev_lru = i;
    e[0].next_lru = i;
}

static void parse_uncached(en_ua_parser *p, const char *ua, size_t len, struct en_ua *out)
{
    struct en_uap raw;
    en_ua_parse_raw(p, ua, len, &raw);
    en_ua_classify(&raw, ua, len, out);
}

void en_ua_parse(en_ua_parser *p, const char *ua, size_t len, struct en_ua *out, bool *hit)
{
    uint64_t h;
    uint32_t *slot, i;
    if (!ua) {
        ua = "";
        len = 0;
    }
    if (len > EN_UA_MATCH_MAX) {
        len = EN_UA_MATCH_MAX;
    }
    if (hit) {
        *hit = false;
    }
    if (!p->cap) {
        p->misses++;
        parse_uncached(p, ua, len, out);
        return;
    }
    h = en__hash(ua, len);
    slot = &p->buckets[h & (p->nbuckets - 1)];
    for (i = *slot; i; i = p->e[i].next) {
        struct en__entry *en = &p->e[i];
        if (en->hash == h && en->key_len == len && memcmp(en->key, ua, len) == 0) {
            lru_unlink(p->e, i);
            lru_push_front(p->e, i);
            *out = en->val;
            p->hits++;
            if (hit) {
                *hit = true;
            }
            return;
        }
    }
    p->misses++;
    parse_uncached(p, ua, len, out);
    /* Take a fresh entry, or evict the least recently used one. */
    if (p->used < p->cap) {
        i = ++p->used;
    } else {
        uint32_t *link;
        i = p->e[0].prev_lru;
        lru_unlink(p->e, i);
        link = &p->buckets[p->e[i].hash & (p->nbuckets - 1)];
        while (*link != i) {
            link = &p->e[*link].next;
        }
        *link = p->e[i].next;
    }
    {
        struct en__entry *en = &p->e[i];
        char *k = realloc(en->key, len ? len : 1);
        if (!k) {
            /* Out of memory: the answer stands; the entry stays linked but with a length
             * no key can have, so it never matches and is evicted in turn. */
            free(en->key);
            en->key = NULL;
            len = SIZE_MAX;
        } else if (len) {
            memcpy(k, ua, len);
        }
        en->key = k;
        en->key_len = len;
        en->hash = h;
        en->val = *out;
        en->next = *slot;
        *slot = i;
        lru_push_front(p->e, i);
    }
}
