/* test_array.c - growable arrays: doubling, the element cap, overflow, and that a failed
 * grow leaves the array as it was. */
#include "check.h"

#include "common/array.h"
#include "common/err.h"

#include <stdint.h>
#include <stdlib.h>

static void test_push_and_double(void)
{
    int *v = NULL;
    size_t n = 0, cap = 0;
    for (int i = 0; i < 1000; i++) {
        CHECK_INT(WR_ARRAY_PUSH(&v, &cap, n, 4), 0);
        v[n++] = i;
    }
    CHECK(cap >= 1000 && cap < 2048);
    CHECK((cap & (cap - 1)) == 0); /* 4 doubled */
    long sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += v[i];
    }
    CHECK_INT(sum, 999 * 1000 / 2);
    /* Already room: nothing changes. */
    int *before = v;
    size_t cap0 = cap;
    CHECK_INT(wr_array_grow(&v, &cap, 10, sizeof *v, 4, 0), 0);
    CHECK(v == before && cap == cap0);
    free(v);
}

static void test_caps(void)
{
    char *p = NULL;
    size_t cap = 0;
    CHECK_INT(wr_array_grow(&p, &cap, 100, 1, 16, 64), WR_ELIMIT);
    CHECK(p == NULL && cap == 0);
    CHECK_INT(wr_array_grow(&p, &cap, 40, 1, 16, 50), 0);
    CHECK_INT(cap, 50); /* doubling stops at the cap */
    CHECK_INT(wr_array_grow(&p, &cap, 51, 1, 16, 50), WR_ELIMIT);
    CHECK_INT(cap, 50);
    free(p);
    /* A byte size that overflows size_t is refused, not wrapped. */
    uint64_t *q = NULL;
    cap = 0;
    CHECK_INT(wr_array_grow(&q, &cap, SIZE_MAX / 4, sizeof *q, 8, 0), WR_ELIMIT);
    CHECK(q == NULL && cap == 0);
}

int main(void)
{
    CHECK_RUN(test_push_and_double);
    CHECK_RUN(test_caps);
    return CHECK_DONE();
}
