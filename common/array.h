/* array.h - the one way weir grows a heap array of fixed-size elements (vectors of
 * records, slots, names): doubling, overflow-checked, capped. The caller keeps the
 * pointer and the capacity in its own struct; there is no array type to wrap. */
#ifndef WEIR_ARRAY_H
#define WEIR_ARRAY_H

#include <stddef.h>

/* Makes room for at least need elements of elem bytes in *p, whose capacity (in
 * elements) is *cap: doubles from first (when *cap is 0) until need fits, never past
 * max elements (0: no cap beyond what size_t holds). *p and *cap change only on success.
 * Returns 0, WR_ELIMIT when need passes max or the byte size overflows, or WR_ENOMEM.
 * Not thread-safe for one array. */
int wr_array_grow(void *p, size_t *cap, size_t need, size_t elem, size_t first, size_t max);

/* For the common case: room for one more element than n. */
#define WR_ARRAY_PUSH(pp, capp, n, first)                                                          \
    wr_array_grow((pp), (capp), (n) + 1, sizeof **(pp), (first), 0)

#endif
