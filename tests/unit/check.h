/* check.h - the one helper header of the C tests: typed, non-fatal, counted assertions.
 * A test file defines static void test_x(void) functions and lists them in main()
 * with CHECK_RUN(test_x); CHECK_DONE() prints "N passed, N failed" and returns.
 * A test that cannot run here calls CHECK_SKIP("why"): the reason goes to stderr as
 * "SKIP: why" and the process exits 77, which ctest reports as skipped (every test has
 * SKIP_RETURN_CODE 77), never as passed. Include it as "check.h" or "tests/unit/check.h". */
#ifndef WEIR_CHECK_H
#define WEIR_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check__failed_asserts;
static int check__passed, check__failed;

#define CHECK__FAIL(fmt, ...)                                                        \
    do {                                                                             \
        fprintf(stderr, "%s:%d: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__);        \
        check__failed_asserts++;                                                     \
    } while (0)

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            CHECK__FAIL("CHECK(%s) failed", #cond);                                  \
        }                                                                            \
    } while (0)

#define CHECK_INT(a, b)                                                              \
    do {                                                                             \
        long long check__a = (long long)(a), check__b = (long long)(b);              \
        if (check__a != check__b) {                                                  \
            CHECK__FAIL("%s == %s: %lld != %lld", #a, #b, check__a, check__b);       \
        }                                                                            \
    } while (0)

#define CHECK_STR(a, b)                                                              \
    do {                                                                             \
        const char *check__a = (a), *check__b = (b);                                 \
        if (!check__a || !check__b || strcmp(check__a, check__b) != 0) {             \
            CHECK__FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b,                        \
                        check__a ? check__a : "(null)", check__b ? check__b : "(null)"); \
        }                                                                            \
    } while (0)

#define CHECK_MEM(a, alen, b, blen)                                                  \
    do {                                                                             \
        size_t check__al = (alen), check__bl = (blen);                               \
        if (check__al != check__bl || memcmp((a), (b), check__al) != 0) {            \
            CHECK__FAIL("%s == %s: \"%.*s\" != \"%.*s\"", #a, #b, (int)check__al,    \
                        (const char *)(a), (int)check__bl, (const char *)(b));       \
        }                                                                            \
    } while (0)

#define CHECK_RUN(fn)                                                                \
    do {                                                                             \
        int check__before = check__failed_asserts;                                   \
        fn();                                                                        \
        if (check__failed_asserts == check__before) {                                \
            check__passed++;                                                         \
        } else {                                                                     \
            check__failed++;                                                         \
            fprintf(stderr, "FAIL %s\n", #fn);                                       \
        }                                                                            \
    } while (0)

#define CHECK_SKIP(...)                                                              \
    do {                                                                             \
        fprintf(stderr, "SKIP: " __VA_ARGS__);                                       \
        fputc('\n', stderr);                                                         \
        exit(77);                                                                    \
    } while (0)

#define CHECK_DONE()                                                                 \
    (printf("%d passed, %d failed\n", check__passed, check__failed),                 \
     check__failed ? 1 : 0)

#endif
