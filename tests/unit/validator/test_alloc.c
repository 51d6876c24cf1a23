/* test_alloc.c - val_is_valid allocates nothing: malloc, calloc and realloc are
 * interposed in this binary and counted while valid bench events are validated. */
#include "check.h"
#include "events.h"
#include "validator/validator.h"

#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VAL_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(VAL_TEST_ASAN)
int main(void)
{
    (void)check__failed_asserts;
    (void)check__passed;
    (void)check__failed;
    fprintf(stderr, "SKIP: allocation counting is not possible under AddressSanitizer\n");
    return 77;
}
#else

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);

static volatile int counting;
static volatile long allocations;

void *malloc(size_t n)
{
    if (counting) {
        allocations++;
    }
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
    if (counting) {
        allocations++;
    }
    return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
    if (counting) {
        allocations++;
    }
    return __libc_realloc(p, n);
}

static int missing;

static void test_valid_events_allocate_nothing(void)
{
    wr_arena *a = wr_arena_create(1 << 16, 0);
    for (size_t i = 0; i < sizeof val_test_events / sizeof val_test_events[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", VAL_TEST_SCHEMAS,
                 val_test_events[i].schema_file);
        json_error_t je;
        json_t *doc = json_load_file(path, 0, &je);
        if (!doc) {
            missing = 1;
            return;
        }
        struct wr_err err;
        val_schema *s = val_compile(doc, NULL, &err);
        json_decref(doc);
        CHECK(s != NULL);
        if (!s) {
            continue;
        }
        struct js_val *v = NULL;
        struct js_error jerr;
        const char *text = val_test_events[i].valid;
        CHECK_INT(js_parse(a, text, strlen(text), NULL, &v, &jerr), 0);
        /* The first pattern search on a thread creates its match data: warm up. */
        CHECK(val_is_valid(s, v));
        allocations = 0;
        counting = 1;
        bool all = true;
        for (int k = 0; k < 1000; k++) {
            all &= val_is_valid(s, v);
        }
        counting = 0;
        CHECK(all);
        CHECK_INT(allocations, 0);
        printf("%s: %ld allocations in 1000 validations of a valid event\n",
               val_test_events[i].schema_file, allocations);
        val_schema_unref(s);
    }
    wr_arena_destroy(a);
}

static void test_counter_works(void)
{
    allocations = 0;
    counting = 1;
    void *p = malloc(16);
    counting = 0;
    free(p);
    CHECK_INT(allocations, 1);
}

int main(void)
{
    CHECK_RUN(test_counter_works);
    CHECK_RUN(test_valid_events_allocate_nothing);
    if (missing) {
        fprintf(stderr, "FAIL: the test's schemas are not under %s\n", VAL_TEST_SCHEMAS);
        return 1;
    }
    return CHECK_DONE();
}
#endif
