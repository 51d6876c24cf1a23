/* array.c - growable heap arrays behind array.h. */
#include "array.h"

#include "err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int wr_array_grow(void *pp, size_t *cap, size_t need, size_t elem, size_t first, size_t max)
{
    if (need <= *cap) {
        return 0;
    }
    size_t limit = SIZE_MAX / (elem ? elem : 1);
    if (max && max < limit) {
        limit = max;
    }
    if (need > limit) {
        return WR_ELIMIT;
    }
    size_t n = *cap ? *cap : (first ? first : 8);
    while (n < need) {
        n = n > limit / 2 ? limit : n * 2;
    }
    if (n > limit) {
        n = limit;
    }
    void *old;
    memcpy(&old, pp, sizeof old);
    void *np = realloc(old, n * elem);
    if (!np) {
        return WR_ENOMEM;
    }
    memcpy(pp, &np, sizeof np);
    *cap = n;
    return 0;
}
