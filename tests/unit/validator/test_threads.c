/* test_threads.c - one compiled schema shared by several threads validating at once (fast
 * path and full error pass, each thread with its own arena), plus concurrent ref/unref. */
#include "check.h"
#include "events.h"
#include "validator/validator.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { THREADS = 4, ROUNDS = 5000, NEV = sizeof val_test_events / sizeof val_test_events[0] };

static val_schema *schemas[NEV];

struct job {
    int bad;
};

static void *compiler(void *arg)
{
    struct job *j = arg;
    for (int r = 0; r < 30; r++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", VAL_TEST_SCHEMAS,
                 val_test_events[r % NEV].schema_file);
        json_error_t je;
        json_t *doc = json_load_file(path, 0, &je);
        struct wr_err err;
        val_schema *s = doc ? val_compile(doc, NULL, &err) : NULL;
        json_decref(doc);
        if (!s) {
            j->bad++;
        }
        val_schema_unref(s);
    }
    return NULL;
}

static void test_concurrent_compiles(void)
{
    /* The first compiles race for the bundled meta-schemas (compiled once). */
    pthread_t t[THREADS];
    struct job jobs[THREADS];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < THREADS; i++) {
        CHECK_INT(pthread_create(&t[i], NULL, compiler, &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(jobs[i].bad, 0);
    }
}

static void *worker(void *arg)
{
    struct job *j = arg;
    wr_arena *a = wr_arena_create(1 << 16, 0);
    for (int r = 0; r < ROUNDS; r++) {
        size_t i = (size_t)r % NEV;
        val_schema *s = val_schema_ref(schemas[i]);
        for (int good = 0; good < 2; good++) {
            const char *text = good ? val_test_events[i].valid : val_test_events[i].invalid;
            struct js_val *v = NULL;
            struct js_error e;
            wr_arena_reset(a);
            if (js_parse(a, text, strlen(text), NULL, &v, &e) != 0) {
                j->bad++;
                continue;
            }
            if (val_is_valid(s, v) != (bool)good) {
                j->bad++;
            }
            struct val_result res;
            if (val_validate(s, v, a, 50, &res) != 0 || res.valid != (bool)good ||
                (!good && res.n_errors < 3)) {
                j->bad++;
            }
        }
        val_schema_unref(s);
    }
    wr_arena_destroy(a);
    return NULL;
}

static int missing;

static void test_shared_schema(void)
{
    for (size_t i = 0; i < NEV; i++) {
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
        schemas[i] = val_compile(doc, NULL, &err);
        json_decref(doc);
        CHECK(schemas[i] != NULL);
        if (!schemas[i]) {
            return;
        }
    }
    pthread_t t[THREADS];
    struct job jobs[THREADS];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < THREADS; i++) {
        CHECK_INT(pthread_create(&t[i], NULL, worker, &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(jobs[i].bad, 0);
    }
    for (size_t i = 0; i < NEV; i++) {
        val_schema_unref(schemas[i]);
    }
}

int main(void)
{
    char probe[512];
    snprintf(probe, sizeof probe, "%s/%s", VAL_TEST_SCHEMAS,
             val_test_events[0].schema_file);
    FILE *f = fopen(probe, "r");
    if (!f) {
        fprintf(stderr, "FAIL: the test's schemas are not under %s\n", VAL_TEST_SCHEMAS);
        return 1;
    }
    fclose(f);
    CHECK_RUN(test_concurrent_compiles);
    CHECK_RUN(test_shared_schema);
    if (missing) {
        fprintf(stderr, "FAIL: the test's schemas are not under %s\n", VAL_TEST_SCHEMAS);
        return 1;
    }
    return CHECK_DONE();
}
