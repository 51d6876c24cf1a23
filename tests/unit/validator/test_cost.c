/* test_cost.c - the validator's cost bounds (issue 10 item 6): uniqueItems and enum with
 * a keyed hash, so crafted colliding items cost what random ones do; equality of big
 * objects without O(n^2) lookups; the step budget that stops exponential schemas
 * ("cost"); a regex abandoned at its match limit stopping the validation even under
 * `not`; and the error pass agreeing with the fast path when only it runs out. */
#include "check.h"
#include "validator/validator.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static wr_arena *A;

static val_schema *compile_o(const char *text, const struct val_opts *o)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    if (!j) {
        fprintf(stderr, "bad test JSON: %s\n", je.text);
        abort();
    }
    struct wr_err err = {0, ""};
    val_schema *s = val_compile(j, o, &err);
    json_decref(j);
    if (!s) {
        fprintf(stderr, "compile failed: %s\n", err.msg);
        abort();
    }
    return s;
}

static val_schema *compile(const char *text)
{
    return compile_o(text, NULL);
}

static const struct js_val *inst(const char *text, size_t len)
{
    struct js_val *v = NULL;
    struct js_error e;
    struct js_opts o = {200};
    if (js_parse(A, text, len, &o, &v, &e) != 0) {
        fprintf(stderr, "bad instance: %s\n", e.msg);
        abort();
    }
    return v;
}

static bool ok(const val_schema *s, const char *text)
{
    return val_is_valid(s, inst(text, strlen(text)));
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct text {
    char *p;
    size_t len, cap;
};

static void add(struct text *t, const char *s)
{
    size_t n = strlen(s);
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->p = realloc(t->p, t->cap);
        if (!t->p) {
            abort();
        }
    }
    memcpy(t->p + t->len, s, n + 1);
    t->len += n;
}

static void test_equality_semantics_kept(void)
{
    val_schema *s = compile("{\"uniqueItems\":true}");
    /* Member order does not count; values do. Numbers by value, through the hash too. */
    CHECK(!ok(s, "[{\"a\":1,\"b\":2},{\"b\":2,\"a\":1}]"));
    CHECK(ok(s, "[{\"a\":1,\"b\":2},{\"a\":2,\"b\":1}]"));
    CHECK(!ok(s, "[1,1.0]"));
    CHECK(!ok(s, "[[1,{\"x\":2.0}],[1.0,{\"x\":2}]]"));
    CHECK(ok(s, "[[1,2],[2,1]]"));
    /* An int64 and the double of the same integer near 2^63 are equal and hash alike. */
    CHECK(!ok(s, "[9200000000000000000,9.2e18]"));
    CHECK(!ok(s, "[-0.0,0]"));
    /* The same over 17+ items, where the hash table (not the pairwise loop) decides. */
    CHECK(!ok(s, "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,{\"a\":[1,{\"b\":null}]},"
                 "{\"a\":[1.0,{\"b\":null}]}]"));
    CHECK(ok(s, "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,{\"a\":[1,{\"b\":null}]},"
                "{\"a\":[{\"b\":null},1]},true,false,null,\"\",[],{}]"));
    val_schema_unref(s);
    /* enum over more than 8 values is hashed too. */
    s = compile("{\"enum\":[1,2,3,4,5,6,7,8,9,{\"a\":0,\"b\":1},[1,2]]}");
    CHECK(ok(s, "{\"b\":1,\"a\":0.0}"));
    CHECK(!ok(s, "{\"a\":1,\"b\":0}"));
    CHECK(ok(s, "[1.0,2]"));
    CHECK(!ok(s, "[2,1]"));
    CHECK(ok(s, "9.0"));
    val_schema_unref(s);
}

/* Objects whose values are permutations of one another: an order-free hash built from
 * unkeyed per-member terms gives them all one hash, and a table then turns quadratic. */
static void permuted_objects(struct text *t, int n, bool crafted)
{
    add(t, "[");
    for (int i = 0; i < n; i++) {
        int v[8];
        if (crafted) {
            /* The i-th permutation of 0..7 (factorial number system). */
            int pool[8] = {0, 1, 2, 3, 4, 5, 6, 7}, left = 8, x = i;
            for (int k = 0; k < 8; k++) {
                int f = 1;
                for (int m = 2; m < left; m++) {
                    f *= m;
                }
                int pick = (x / f) % left;
                x %= f;
                v[k] = pool[pick];
                memmove(pool + pick, pool + pick + 1, (size_t)(left - pick - 1) * sizeof pool[0]);
                left--;
            }
        } else {
            unsigned x = (unsigned)(i * 48271u + 12345u) * 2654435761u % 100000000u;
            for (int k = 0; k < 8; k++) {
                v[k] = (int)(x % 10);
                x /= 10;
            }
        }
        char item[128];
        snprintf(item, sizeof item,
                 "%s{\"a\":%d,\"b\":%d,\"c\":%d,\"d\":%d,\"e\":%d,\"f\":%d,\"g\":%d,\"h\":%d}",
                 i ? "," : "", v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
        add(t, item);
    }
    add(t, "]");
}

static double median_validate_ms(const val_schema *s, const struct text *t, bool *valid)
{
    double best[5];
    for (int r = 0; r < 5; r++) {
        wr_arena_reset(A);
        const struct js_val *v = inst(t->p, t->len);
        double t0 = cpu_ms();
        *valid = val_is_valid(s, v);
        best[r] = cpu_ms() - t0;
    }
    for (int i = 0; i < 5; i++) {
        for (int j = i + 1; j < 5; j++) {
            if (best[j] < best[i]) {
                double x = best[i];
                best[i] = best[j];
                best[j] = x;
            }
        }
    }
    return best[2];
}

static void test_unique_items_crafted_costs_like_random(void)
{
    val_schema *s = compile("{\"uniqueItems\":true}");
    struct text crafted = {0}, random = {0};
    permuted_objects(&crafted, 20000, true);
    permuted_objects(&random, 20000, false);
    bool vc = false, vr = false;
    double c = median_validate_ms(s, &crafted, &vc);
    double r = median_validate_ms(s, &random, &vr);
    printf("uniqueItems over 20,000 objects: crafted %.2f ms, random %.2f ms of CPU\n", c, r);
    CHECK(vc);
    CHECK(vr);
    /* The target is 3x; a shared, noisy machine gets a little more room here
     * (bench/validator's weir-bench-validator-cost holds the 3x line). The quadratic
     * table took hundreds of times longer. */
    CHECK(c <= 4 * r + 5);
    free(crafted.p);
    free(random.p);
    val_schema_unref(s);
}

static void test_big_equal_objects_compared_in_n_log_n(void)
{
    val_schema *s = compile("{\"uniqueItems\":true}");
    struct text t = {0};
    int members = 40000;
    char m[48];
    add(&t, "[{");
    for (int i = 0; i < members; i++) {
        snprintf(m, sizeof m, "%s\"k%d\":%d", i ? "," : "", i, i % 7);
        add(&t, m);
    }
    add(&t, "},{");
    for (int i = members - 1; i >= 0; i--) {
        snprintf(m, sizeof m, "%s\"k%d\":%d", i < members - 1 ? "," : "", i, i % 7);
        add(&t, m);
    }
    add(&t, "}]");
    bool valid = true;
    double ms = median_validate_ms(s, &t, &valid);
    CHECK(!valid); /* the same object twice */
    /* Member by member lookups would be 1.6e9 comparisons: seconds, not milliseconds. */
    CHECK(ms < 1000);
    free(t.p);
    val_schema_unref(s);
}

static const char *EXPONENTIAL =
    "{\"$defs\":{\"t\":{\"anyOf\":[{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/t\"}},"
    "{\"type\":\"array\",\"prefixItems\":[{\"$ref\":\"#/$defs/t\"}]},"
    "{\"type\":\"integer\",\"minimum\":5}]}},\"$ref\":\"#/$defs/t\"}";

static void nested(struct text *t, int depth, const char *leaf)
{
    for (int i = 0; i < depth; i++) {
        add(t, "[");
    }
    add(t, leaf);
    for (int i = 0; i < depth; i++) {
        add(t, "]");
    }
}

static void test_step_budget_stops_exponential_schemas(void)
{
    val_schema *s = compile(EXPONENTIAL);
    struct text t = {0};
    nested(&t, 60, "1"); /* 2^60 paths without a budget */
    double t0 = cpu_ms();
    CHECK(!ok(s, t.p));
    struct val_result r;
    wr_arena_reset(A);
    CHECK_INT(val_validate(s, inst(t.p, t.len), A, 10, &r), 0);
    double took = cpu_ms() - t0;
    CHECK(!r.valid);
    CHECK(r.n_errors >= 1);
    bool said = false;
    for (size_t i = 0; i < r.n_errors; i++) {
        said |= strcmp(r.errors[i].keyword, "cost") == 0 &&
                strstr(r.errors[i].message, "step budget") != NULL;
    }
    CHECK(said);
    CHECK(took < 5000);
    /* The same schema on an instance that holds is untouched by the budget. */
    struct text good = {0};
    nested(&good, 60, "7");
    CHECK(ok(s, good.p));
    free(t.p);
    free(good.p);
    val_schema_unref(s);
}

static void test_step_budget_option_and_contract(void)
{
    /* A fixed budget: 50 items each through a $ref frame need more than 20 steps. */
    struct val_opts o;
    memset(&o, 0, sizeof o);
    o.max_steps = 20;
    val_schema *s = compile_o("{\"items\":{\"$ref\":\"#/$defs/n\"},"
                              "\"$defs\":{\"n\":{\"type\":\"integer\",\"minimum\":0}}}",
                              &o);
    struct text t = {0};
    add(&t, "[0");
    for (int i = 1; i < 50; i++) {
        add(&t, ",1");
    }
    add(&t, "]");
    CHECK(!ok(s, t.p));
    CHECK(ok(s, "[1,2,3]"));
    val_schema_unref(s);
    /* The error pass walks a failing anyOf branch to its end where the fast path stops at
     * the first failure: when only the error pass runs out, the verdict stays the fast
     * path's (valid, no errors). */
    o.max_steps = 30;
    s = compile_o("{\"anyOf\":[{\"items\":{\"$ref\":\"#/$defs/o\"}},true],"
                  "\"$defs\":{\"o\":{\"type\":\"object\"}}}",
                  &o);
    CHECK(ok(s, t.p));
    struct val_result r;
    wr_arena_reset(A);
    CHECK_INT(val_validate(s, inst(t.p, t.len), A, 10, &r), 0);
    CHECK(r.valid);
    CHECK_INT(r.n_errors, 0);
    free(t.p);
    val_schema_unref(s);
}

static void test_abandoned_regex_stops_even_under_not(void)
{
    /* Before: `not` turned an abandoned search into "valid", and every item paid the
     * match limit. Now the first abandoned search ends the validation as invalid. */
    val_schema *s = compile("{\"items\":{\"not\":{\"pattern\":\"^(a|aa)+$\"}}}");
    struct text t = {0};
    add(&t, "[");
    for (int i = 0; i < 2000; i++) {
        add(&t, i ? ",\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\""
                  : "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\"");
    }
    add(&t, "]");
    double t0 = cpu_ms();
    CHECK(!ok(s, t.p));
    struct val_result r;
    wr_arena_reset(A);
    CHECK_INT(val_validate(s, inst(t.p, t.len), A, 10, &r), 0);
    CHECK(cpu_ms() - t0 < 2000);
    CHECK(!r.valid);
    CHECK_INT(r.n_errors, 1);
    if (r.n_errors == 1) {
        CHECK_STR(r.errors[0].keyword, "pattern");
        CHECK(strstr(r.errors[0].message, "abandoned") != NULL);
        CHECK_STR(r.errors[0].instance_path, "/0");
    }
    /* An ordinary non-match under not is still a pass. */
    CHECK(ok(s, "[\"b\",\"ab\"]"));
    CHECK(!ok(s, "[\"aaa\"]"));
    free(t.p);
    val_schema_unref(s);
}

int main(void)
{
    A = wr_arena_create(1 << 16, 0);
    CHECK_RUN(test_equality_semantics_kept);
    CHECK_RUN(test_unique_items_crafted_costs_like_random);
    CHECK_RUN(test_big_equal_objects_compared_in_n_log_n);
    CHECK_RUN(test_step_budget_stops_exponential_schemas);
    CHECK_RUN(test_step_budget_option_and_contract);
    CHECK_RUN(test_abandoned_regex_stops_even_under_not);
    wr_arena_destroy(A);
    return CHECK_DONE();
}
