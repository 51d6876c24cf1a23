/* pq_membuf.h - a growing memory buffer as the Parquet writer's output (pq_writer_create's
 * write callback), for tests that read the file back from memory. */
#ifndef WEIR_TESTS_PQ_MEMBUF_H
#define WEIR_TESTS_PQ_MEMBUF_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

struct mbuf {
    uint8_t *p;
    size_t len, cap;
};

static inline int mb_write(void *arg, const void *p, size_t len)
{
    struct mbuf *b = arg;
    if (b->len + len > b->cap) {
        size_t nc = (b->len + len) * 2;
        uint8_t *np = realloc(b->p, nc);
        if (!np) {
            return WR_ENOMEM;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, p, len);
    b->len += len;
    return 0;
}

#endif
