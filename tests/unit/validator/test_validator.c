/* test_validator.c - the validator's behaviour beyond the official suite: the error
 * records (paths, keywords, messages, caps), compile refusals, hostile schemas and
 * instances, numbers, lengths in code points, draft-07 specifics, resources. */
#include "check.h"
#include "validator/validator.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static wr_arena *A;

static json_t *J(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!j) {
        fprintf(stderr, "bad test JSON: %s: %s\n", text, je.text);
        abort();
    }
    return j;
}

static val_schema *compile_o(const char *schema, const struct val_opts *o, struct wr_err *err)
{
    json_t *j = J(schema);
    val_schema *s = val_compile(j, o, err);
    json_decref(j);
    return s;
}

static val_schema *compile(const char *schema)
{
    struct wr_err err = {0, ""};
    val_schema *s = compile_o(schema, NULL, &err);
    if (!s) {
        fprintf(stderr, "compile failed: %s\n", err.msg);
    }
    return s;
}

static const struct js_val *inst(const char *text)
{
    struct js_val *v = NULL;
    struct js_error e;
    struct js_opts o = {2000};
    if (js_parse(A, text, strlen(text), &o, &v, &e) != 0) {
        fprintf(stderr, "bad instance: %s\n", e.msg);
        abort();
    }
    return v;
}

static bool ok(const val_schema *s, const char *text)
{
    return val_is_valid(s, inst(text));
}

static struct val_result full(const val_schema *s, const char *text, unsigned max)
{
    struct val_result r;
    memset(&r, 0, sizeof r);
    CHECK_INT(val_validate(s, inst(text), A, max, &r), 0);
    return r;
}

static void test_http_example_shape(void)
{
    val_schema *s = compile("{\"properties\":{\"user_id\":{\"type\":\"integer\"}}}");
    struct val_result r = full(s, "{\"user_id\":\"abc\"}", 10);
    CHECK(!r.valid);
    CHECK_INT(r.n_errors, 1);
    CHECK(!r.truncated);
    CHECK_STR(r.errors[0].instance_path, "/user_id");
    CHECK_STR(r.errors[0].schema_path, "/properties/user_id/type");
    CHECK_STR(r.errors[0].keyword, "type");
    CHECK_STR(r.errors[0].message, "expected integer, got string");
    r = full(s, "{\"user_id\":7}", 10);
    CHECK(r.valid);
    CHECK_INT(r.n_errors, 0);
    CHECK(r.errors == NULL);
    val_schema_unref(s);
}

static void test_paths_escaped_and_through_ref(void)
{
    val_schema *s = compile("{\"$defs\":{\"t\":{\"type\":\"string\",\"maxLength\":3}},"
                            "\"properties\":{\"a/b~c\":{\"items\":{\"$ref\":\"#/$defs/t\"}}}}");
    struct val_result r = full(s, "{\"a/b~c\":[\"ok\",\"toolong\"]}", 10);
    CHECK_INT(r.n_errors, 1);
    CHECK_STR(r.errors[0].instance_path, "/a~1b~0c/1");
    CHECK_STR(r.errors[0].schema_path, "/properties/a~1b~0c/items/$ref/maxLength");
    CHECK_STR(r.errors[0].keyword, "maxLength");
    CHECK_STR(r.errors[0].message, "expected a string of at most 3 characters, got 7");
    val_schema_unref(s);
}

static void test_every_violation_and_cap(void)
{
    val_schema *s = compile("{\"required\":[\"a\",\"b\",\"c\"],\"additionalProperties\":false,"
                            "\"properties\":{\"n\":{\"minimum\":10}}}");
    struct val_result r = full(s, "{\"x\":1,\"n\":3}", 100);
    CHECK_INT(r.n_errors, 5);
    CHECK_STR(r.errors[0].keyword, "required");
    CHECK_STR(r.errors[0].message, "missing required property \"a\"");
    CHECK_STR(r.errors[0].instance_path, "");
    CHECK_STR(r.errors[0].schema_path, "/required");
    CHECK_STR(r.errors[3].keyword, "additionalProperties");
    CHECK_STR(r.errors[3].instance_path, "/x");
    CHECK_STR(r.errors[3].message, "property \"x\" is not allowed");
    CHECK_STR(r.errors[4].message, "expected at least 10, got 3");
    r = full(s, "{\"x\":1,\"n\":3}", 2);
    CHECK_INT(r.n_errors, 2);
    CHECK(r.truncated);
    CHECK(!r.valid);
    val_schema_unref(s);
}

static void test_messages(void)
{
    struct {
        const char *schema, *instance, *keyword, *message;
    } cases[] = {
        {"{\"type\":[\"string\",\"null\"]}", "1.5", "type", "expected null or string, got number"},
        {"{\"enum\":[1,2,3]}", "4", "enum", "value is not one of the 3 allowed values"},
        {"{\"const\":\"a\"}", "\"b\"", "const", "value does not equal the constant"},
        {"{\"pattern\":\"^a+$\"}", "\"b\"", "pattern", "string does not match the pattern ^a+$"},
        {"{\"format\":\"date\"}", "\"2020-13-45\"", "format", "string is not a valid date"},
        {"{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":0}]}", "3", "oneOf",
         "value matches more than one subschema (0 and 1)"},
        {"{\"not\":{\"type\":\"string\"}}", "\"x\"", "not", "value must not match the schema under not"},
        {"{\"uniqueItems\":true}", "[1,2,1.0]", "uniqueItems", "array items 0 and 2 are equal"},
        {"{\"contains\":{\"type\":\"string\"}}", "[1]", "contains",
         "no array item matches the contains schema"},
        {"{\"multipleOf\":0.01}", "0.001", "multipleOf", "expected a multiple of 0.01, got 0.001"},
        {"{\"dependentRequired\":{\"a\":[\"b\"]}}", "{\"a\":1}", "dependentRequired",
         "property \"a\" requires property \"b\""},
        {"{\"minItems\":2}", "[1]", "minItems", "expected an array of at least 2 items, got 1"},
        {"{\"maxProperties\":0}", "{\"a\":1}", "maxProperties",
         "expected an object of at most 0 properties, got 1"},
        {"{\"unevaluatedProperties\":false,\"properties\":{\"a\":true}}", "{\"a\":1,\"b\":2}",
         "unevaluatedProperties", "property \"b\" is not allowed (unevaluated)"},
        {"false", "1", "false", "no value is allowed here (false schema)"},
        {"{\"prefixItems\":[true],\"items\":false}", "[1,2]", "items", "array item 1 is not allowed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        val_schema *s = compile(cases[i].schema);
        CHECK(s != NULL);
        if (!s) {
            continue;
        }
        struct val_result r = full(s, cases[i].instance, 10);
        CHECK(!r.valid);
        CHECK(r.n_errors >= 1);
        if (r.n_errors >= 1) {
            CHECK_STR(r.errors[0].keyword, cases[i].keyword);
            CHECK_STR(r.errors[0].message, cases[i].message);
        }
        CHECK(!ok(s, cases[i].instance));
        val_schema_unref(s);
    }
}

static void test_required_with_properties(void)
{
    /* All required names among properties (counted in the properties pass) or not. */
    const char *schemas[] = {
        "{\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":true,\"c\":true},"
        "\"required\":[\"a\",\"b\"]}",
        "{\"properties\":{\"a\":{\"type\":\"integer\"},\"c\":true},"
        "\"required\":[\"a\",\"b\"]}",
    };
    for (int k = 0; k < 2; k++) {
        val_schema *s = compile(schemas[k]);
        CHECK(ok(s, "{\"a\":1,\"b\":2}"));
        CHECK(ok(s, "{\"c\":0,\"b\":2,\"a\":1,\"z\":3}"));
        CHECK(!ok(s, "{\"a\":1,\"c\":2}"));
        CHECK(!ok(s, "{\"b\":1,\"c\":2,\"d\":3}"));
        CHECK(!ok(s, "{}"));
        struct val_result r = full(s, "{\"a\":1,\"c\":2}", 10);
        CHECK_INT(r.n_errors, 1);
        CHECK_STR(r.errors[0].message, "missing required property \"b\"");
        r = full(s, "{\"a\":\"x\"}", 10);
        CHECK_INT(r.n_errors, 2);
        val_schema_unref(s);
    }
}

static void test_anyof_reports_branches_only_when_failing(void)
{
    val_schema *s = compile("{\"anyOf\":[{\"type\":\"string\"},{\"minimum\":5}]}");
    struct val_result r = full(s, "3", 10);
    CHECK_INT(r.n_errors, 2);
    CHECK_STR(r.errors[0].schema_path, "/anyOf/0/type");
    CHECK_STR(r.errors[1].schema_path, "/anyOf/1/minimum");
    r = full(s, "7", 10);
    CHECK(r.valid);
    CHECK_INT(r.n_errors, 0);
    val_schema_unref(s);
}

static void test_schema_paths_of_applicators(void)
{
    struct {
        const char *schema, *instance, *ipath, *spath, *keyword;
    } cases[] = {
        {"{\"if\":{\"type\":\"integer\"},\"then\":{\"minimum\":5},\"else\":{\"type\":\"string\"}}",
         "3", "", "/then/minimum", "minimum"},
        {"{\"if\":{\"type\":\"integer\"},\"then\":{\"minimum\":5},\"else\":{\"type\":\"string\"}}",
         "1.5", "", "/else/type", "type"},
        {"{\"propertyNames\":{\"maxLength\":2}}", "{\"abc\":1}", "/abc", "/propertyNames/maxLength",
         "maxLength"},
        {"{\"dependentSchemas\":{\"a\":{\"required\":[\"b\"]}}}", "{\"a\":1}", "",
         "/dependentSchemas/a/required", "required"},
        {"{\"contains\":{\"type\":\"string\"},\"minContains\":2}", "[\"a\",1]", "", "/minContains",
         "minContains"},
        {"{\"contains\":{\"type\":\"string\"},\"maxContains\":1}", "[\"a\",\"b\"]", "",
         "/maxContains", "maxContains"},
        {"{\"prefixItems\":[{\"type\":\"string\"}],\"unevaluatedItems\":false}", "[\"a\",2]", "/1",
         "/unevaluatedItems", "unevaluatedItems"},
        {"{\"allOf\":[{\"properties\":{\"a\":{\"type\":\"string\"}}}]}", "{\"a\":1}", "/a",
         "/allOf/0/properties/a/type", "type"},
        {"{\"patternProperties\":{\"^x-\":{\"type\":\"integer\"}}}", "{\"x-a\":\"s\"}", "/x-a",
         "/patternProperties/^x-/type", "type"},
        {"{\"$defs\":{\"n\":{\"$dynamicAnchor\":\"n\",\"type\":\"integer\"}},"
         "\"items\":{\"$dynamicRef\":\"#n\"}}",
         "[1,\"x\"]", "/1", "/items/$dynamicRef/type", "type"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        val_schema *s = compile(cases[i].schema);
        CHECK(s != NULL);
        if (!s) {
            continue;
        }
        struct val_result r = full(s, cases[i].instance, 10);
        CHECK(!r.valid);
        CHECK_INT(r.n_errors, 1);
        if (r.n_errors >= 1) {
            CHECK_STR(r.errors[0].instance_path, cases[i].ipath);
            CHECK_STR(r.errors[0].schema_path, cases[i].spath);
            CHECK_STR(r.errors[0].keyword, cases[i].keyword);
        }
        val_schema_unref(s);
    }
}

static void refused(const char *schema, const char *msg_prefix)
{
    struct wr_err err = {0, ""};
    val_schema *s = compile_o(schema, NULL, &err);
    CHECK(s == NULL);
    CHECK_INT(err.code, WR_EINVAL);
    if (strncmp(err.msg, msg_prefix, strlen(msg_prefix)) != 0) {
        fprintf(stderr, "refusal of %s: \"%s\" does not start with \"%s\"\n", schema, err.msg,
                msg_prefix);
        CHECK(0);
    }
    val_schema_unref(s);
}

static void test_compile_refusals(void)
{
    refused("{\"minimum\":\"x\"}", "/minimum: expected number, got string");
    refused("{\"properties\":{\"a\":{\"type\":\"strnig\"}}}", "/properties/a/type");
    refused("{\"pattern\":\"(\"}", "/pattern");
    refused("{\"$ref\":\"#/$defs/nope\"}", "/$ref: cannot resolve reference");
    refused("{\"$ref\":\"http://example.com/x.json\"}", "/$ref: cannot resolve reference");
    refused("{\"$ref\":\"#\"}", "(root): a $ref cycle");
    refused("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"allOf\":[{\"$ref\":\"#/$defs/a\"}]}},"
            "\"properties\":{\"x\":{\"$ref\":\"#/$defs/a\"}}}",
            "(root): a $ref cycle");
    refused("{\"$schema\":\"http://example.com/my-dialect\"}", "$schema: unknown meta-schema");
    refused("{\"items\":[{\"type\":\"string\"}]}", "/items");
    struct wr_err err = {0, ""};
    json_t *n = json_integer(3);
    CHECK(val_compile(n, NULL, &err) == NULL);
    CHECK_INT(err.code, WR_EINVAL);
    json_decref(n);
}

static void test_recursion_consuming_input_is_fine(void)
{
    val_schema *s = compile("{\"type\":\"object\",\"properties\":{\"next\":{\"$ref\":\"#\"},"
                            "\"v\":{\"type\":\"integer\"}}}");
    char buf[8192];
    size_t o = 0;
    for (int i = 0; i < 40; i++) {
        o += (size_t)snprintf(buf + o, sizeof buf - o, "{\"v\":%d,\"next\":", i);
    }
    o += (size_t)snprintf(buf + o, sizeof buf - o, "{\"v\":\"bad\"}");
    for (int i = 0; i < 40; i++) {
        buf[o++] = '}';
    }
    buf[o] = '\0';
    CHECK(!ok(s, buf));
    struct val_result r = full(s, buf, 10);
    CHECK_INT(r.n_errors, 1);
    CHECK_STR(r.errors[0].message, "expected integer, got string");
    CHECK(strncmp(r.errors[0].schema_path, "/properties/next/$ref/properties/next/$ref/", 43) == 0);
    val_schema_unref(s);
}

static void test_deep_instance_bounded(void)
{
    /* 1500 nested arrays through a recursive schema: evaluation stops at max_depth. */
    struct val_opts o = {0};
    o.max_depth = 100;
    struct wr_err err;
    val_schema *s = compile_o("{\"items\":{\"$ref\":\"#\"}}", &o, &err);
    CHECK(s != NULL);
    char *deep = malloc(3001);
    memset(deep, '[', 1500);
    memset(deep + 1500, ']', 1500);
    deep[3000] = '\0';
    CHECK(!ok(s, deep));
    struct val_result r = full(s, deep, 5);
    CHECK(!r.valid);
    CHECK_STR(r.errors[0].message, "schema evaluation nested too deep");
    memset(deep, '[', 50);
    memset(deep + 50, ']', 50);
    deep[100] = '\0';
    CHECK(ok(s, deep));
    free(deep);
    val_schema_unref(s);
}

static void test_deep_schema_refused(void)
{
    json_t *root = json_object(), *cur = root;
    for (int i = 0; i < 1500; i++) {
        json_t *n = json_object();
        json_object_set_new(cur, "not", n);
        cur = n;
    }
    struct wr_err err = {0, ""};
    val_schema *s = val_compile(root, NULL, &err);
    CHECK(s == NULL);
    CHECK(err.code != 0);
    json_decref(root);
}

static void test_long_in_place_chain_refused(void)
{
    /* properties p_i -> $defs d_i -> allOf $ref d_(i-1): each compiled shallowly, but one
     * in-place chain of 5000 references. */
    json_t *root = json_object(), *defs = json_object(), *props = json_object();
    for (int i = 0; i < 5000; i++) {
        char name[32], ref[48];
        snprintf(name, sizeof name, "d%d", i);
        json_t *d = json_object();
        json_object_set_new(d, "type", json_string("integer"));
        if (i > 0) {
            snprintf(ref, sizeof ref, "#/$defs/d%d", i - 1);
            json_t *all = json_array(), *r = json_object();
            json_object_set_new(r, "$ref", json_string(ref));
            json_array_append_new(all, r);
            json_object_set_new(d, "allOf", all);
        }
        json_object_set_new(defs, name, d);
        snprintf(ref, sizeof ref, "#/$defs/d%d", i);
        json_t *p = json_object();
        json_object_set_new(p, "$ref", json_string(ref));
        snprintf(name, sizeof name, "p%d", i);
        json_object_set_new(props, name, p);
    }
    json_object_set_new(root, "$defs", defs);
    json_object_set_new(root, "properties", props);
    struct wr_err err = {0, ""};
    val_schema *s = val_compile(root, NULL, &err);
    CHECK(s == NULL);
    CHECK_INT(err.code, WR_EINVAL);
    json_decref(root);
}

static void test_huge_enum_and_unique_items(void)
{
    json_t *sch = json_object(), *en = json_array();
    for (int i = 0; i < 100000; i++) {
        char b[32];
        snprintf(b, sizeof b, "value-%d", i);
        json_array_append_new(en, json_string(b));
    }
    json_object_set_new(sch, "enum", en);
    struct wr_err err;
    val_schema *s = val_compile(sch, NULL, &err);
    json_decref(sch);
    CHECK(s != NULL);
    clock_t t0 = clock();
    for (int i = 0; i < 1000; i++) {
        CHECK(ok(s, "\"value-99999\""));
        CHECK(!ok(s, "\"value-100000\""));
        wr_arena_reset(A);
    }
    /* Hashed: 2000 lookups in a 100k enum take far less than a linear scan would. */
    CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
    val_schema_unref(s);

    s = compile("{\"uniqueItems\":true}");
    char *arr = malloc(20000 * 8 + 16);
    size_t o = 0;
    arr[o++] = '[';
    for (int i = 0; i < 20000; i++) {
        o += (size_t)snprintf(arr + o, 20000 * 8 + 16 - o, "%s%d", i ? "," : "", i);
    }
    arr[o++] = ']';
    arr[o] = '\0';
    CHECK(ok(s, arr));
    arr[o - 1] = ',';
    memcpy(arr + o, "19999.0]", 9);
    CHECK(!ok(s, arr));
    free(arr);
    val_schema_unref(s);
}

static void test_multiple_of(void)
{
    struct {
        const char *schema, *instance;
        bool valid;
    } cases[] = {
        {"{\"multipleOf\":0.0001}", "0.0075", true},
        {"{\"multipleOf\":0.0001}", "0.00751", false},
        {"{\"multipleOf\":0.01}", "19.99", true},
        {"{\"multipleOf\":0.1}", "0.3", true},
        {"{\"multipleOf\":1.5}", "4.5", true},
        {"{\"multipleOf\":2.5}", "10", true},
        {"{\"multipleOf\":3}", "10", false},
        {"{\"multipleOf\":0.5}", "1e308", true},
        {"{\"multipleOf\":3}", "9007199254740993", true},
        {"{\"multipleOf\":7}", "-49", true},
        {"{\"multipleOf\":1e-20}", "3e-19", true},
        {"{\"multipleOf\":0.123456789}", "1e308", false},
        {"{\"multipleOf\":1}", "12345678901234567890123", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        val_schema *s = compile(cases[i].schema);
        if (ok(s, cases[i].instance) != cases[i].valid) {
            fprintf(stderr, "multipleOf case %zu: %s / %s\n", i, cases[i].instance,
                    cases[i].schema);
            CHECK(0);
        }
        val_schema_unref(s);
    }
}

static void test_numbers_by_value(void)
{
    val_schema *s = compile("{\"const\":{\"a\":[1,2.0]}}");
    CHECK(ok(s, "{\"a\":[1.0,2]}"));
    CHECK(!ok(s, "{\"a\":[1,2.5]}"));
    val_schema_unref(s);
    s = compile("{\"type\":\"integer\",\"maximum\":9007199254740993}");
    CHECK(ok(s, "1.0"));
    CHECK(ok(s, "9007199254740993"));
    CHECK(!ok(s, "9007199254740994"));
    CHECK(!ok(s, "1.5"));
    val_schema_unref(s);
    s = compile("{\"enum\":[1,2,3,4,5,6,7,8,9,10,11,12.5]}");
    CHECK(ok(s, "11.0"));
    CHECK(ok(s, "12.5"));
    CHECK(!ok(s, "12"));
    val_schema_unref(s);
}

static void test_lengths_in_code_points(void)
{
    val_schema *s = compile("{\"maxLength\":2}");
    CHECK(ok(s, "\"\xc3\xa9\xe2\x82\xac\""));
    CHECK(ok(s, "\"\\ud83d\\ude00\\ud83d\\ude00\""));
    CHECK(!ok(s, "\"abc\""));
    val_schema_unref(s);
    s = compile("{\"minLength\":3}");
    CHECK(!ok(s, "\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\""));
    CHECK(ok(s, "\"a\\u0000b\""));
    val_schema_unref(s);
}

static void test_draft7_specifics(void)
{
    const char *d7 = "\"$schema\":\"http://json-schema.org/draft-07/schema#\",";
    char buf[512];
    snprintf(buf, sizeof buf,
             "{%s\"definitions\":{\"a\":{\"type\":\"integer\"}},"
             "\"properties\":{\"x\":{\"$ref\":\"#/definitions/a\",\"maximum\":1}}}",
             d7);
    val_schema *s = compile(buf);
    CHECK(val_schema_dialect(s) == VAL_DIALECT_DRAFT7);
    CHECK(ok(s, "{\"x\":5}"));
    CHECK(!ok(s, "{\"x\":\"5\"}"));
    val_schema_unref(s);
    snprintf(buf, sizeof buf,
             "{%s\"dependencies\":{\"a\":[\"b\"],\"c\":{\"required\":[\"d\"]}},"
             "\"items\":[{\"type\":\"integer\"}],\"additionalItems\":false}",
             d7);
    s = compile(buf);
    CHECK(ok(s, "{\"a\":1,\"b\":2}"));
    CHECK(!ok(s, "{\"a\":1}"));
    CHECK(!ok(s, "{\"c\":1}"));
    CHECK(ok(s, "[1]"));
    CHECK(!ok(s, "[1,2]"));
    val_schema_unref(s);
    /* The default dialect applies to schemas without $schema. */
    struct val_opts o = {0};
    o.default_dialect = VAL_DIALECT_DRAFT7;
    struct wr_err err;
    s = compile_o("{\"items\":[{\"type\":\"integer\"}],\"additionalItems\":false}", &o, &err);
    CHECK(s != NULL);
    CHECK(!ok(s, "[1,2]"));
    val_schema_unref(s);
}

static void test_format_modes(void)
{
    val_schema *s = compile("{\"format\":\"date\"}");
    CHECK(!ok(s, "\"2020-13-45\""));
    CHECK(ok(s, "\"2020-12-31\""));
    CHECK(ok(s, "42"));
    val_schema_unref(s);
    struct val_opts o = {0};
    o.format_annotate = true;
    struct wr_err err;
    s = compile_o("{\"format\":\"date\"}", &o, &err);
    CHECK(ok(s, "\"2020-13-45\""));
    val_schema_unref(s);
    s = compile("{\"format\":\"no-such-format\"}");
    CHECK(ok(s, "\"anything\""));
    val_schema_unref(s);
}

static void test_resources(void)
{
    struct wr_err err = {0, ""};
    val_resources *rs = val_resources_create(&err);
    json_t *doc = J("{\"$defs\":{\"pos\":{\"type\":\"integer\",\"minimum\":1}}}");
    CHECK_INT(val_resources_add(rs, "relative/x.json", doc, &err), WR_EINVAL);
    CHECK_INT(val_resources_add(rs, "https://weir.invalid/common.json#", doc, &err), 0);
    json_decref(doc);
    struct val_opts o = {0};
    o.resources = rs;
    val_schema *s = compile_o("{\"$id\":\"https://weir.invalid/ev.json\","
                              "\"properties\":{\"n\":{\"$ref\":\"common.json#/$defs/pos\"}}}",
                              &o, &err);
    CHECK(s != NULL);
    val_resources_destroy(rs);
    val_resources_destroy(NULL);
    CHECK(ok(s, "{\"n\":3}"));
    CHECK(!ok(s, "{\"n\":0}"));
    struct val_result r = full(s, "{\"n\":0}", 10);
    CHECK_STR(r.errors[0].schema_path, "/properties/n/$ref/minimum");
    CHECK_STR(r.errors[0].message, "expected at least 1, got 0");
    r = full(s, "{\"n\":0.1}", 10);
    CHECK_STR(r.errors[0].message, "expected integer, got number");
    CHECK_STR(r.errors[1].message, "expected at least 1, got 0.1");
    val_schema_unref(s);
    /* Without the resource the reference does not resolve: nothing is fetched. */
    s = compile_o("{\"$ref\":\"https://weir.invalid/common.json#/$defs/pos\"}", NULL, &err);
    CHECK(s == NULL);
}

static void test_refcount(void)
{
    val_schema *s = compile("{\"type\":\"integer\"}");
    CHECK(val_schema_ref(s) == s);
    val_schema_unref(s);
    CHECK(ok(s, "1"));
    val_schema_unref(s);
    val_schema_unref(NULL);
    CHECK(val_schema_ref(NULL) == NULL);
}

static void test_arena_cap_is_enomem(void)
{
    val_schema *s = compile("{\"required\":[\"a\",\"b\",\"c\",\"d\"]}");
    const struct js_val *v = inst("{}");
    wr_arena *tiny = wr_arena_create(64, 64);
    struct val_result r;
    CHECK_INT(val_validate(s, v, tiny, 10, &r), WR_ENOMEM);
    CHECK(!r.valid);
    wr_arena_destroy(tiny);
    val_schema_unref(s);
}

static void test_catastrophic_pattern_bounded(void)
{
    val_schema *s = compile("{\"pattern\":\"^(a+)+$\"}");
    char buf[128];
    memset(buf, 'a', 100);
    buf[0] = '"';
    buf[99] = 'b';
    buf[100] = '"';
    buf[101] = '\0';
    clock_t t0 = clock();
    CHECK(!ok(s, buf));
    CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
    val_schema_unref(s);
}

static void test_dynamic_ref_extension(void)
{
    /* A generic "tree" whose node type an extending schema narrows via $dynamicAnchor. */
    val_schema *s = compile(
        "{\"$id\":\"https://weir.invalid/strict\",\"$dynamicAnchor\":\"node\","
        "\"$ref\":\"tree\",\"unevaluatedProperties\":false,"
        "\"$defs\":{\"tree\":{\"$id\":\"tree\",\"$dynamicAnchor\":\"node\",\"type\":\"object\","
        "\"properties\":{\"data\":true,\"children\":{\"type\":\"array\","
        "\"items\":{\"$dynamicRef\":\"#node\"}}}}}}");
    CHECK(s != NULL);
    CHECK(ok(s, "{\"children\":[{\"data\":1}]}"));
    CHECK(!ok(s, "{\"children\":[{\"daat\":1}]}"));
    val_schema_unref(s);
}

int main(void)
{
    A = wr_arena_create(1 << 16, 0);
    CHECK_RUN(test_http_example_shape);
    CHECK_RUN(test_paths_escaped_and_through_ref);
    CHECK_RUN(test_every_violation_and_cap);
    CHECK_RUN(test_messages);
    CHECK_RUN(test_required_with_properties);
    CHECK_RUN(test_anyof_reports_branches_only_when_failing);
    CHECK_RUN(test_schema_paths_of_applicators);
    CHECK_RUN(test_compile_refusals);
    CHECK_RUN(test_recursion_consuming_input_is_fine);
    CHECK_RUN(test_deep_instance_bounded);
    CHECK_RUN(test_deep_schema_refused);
    CHECK_RUN(test_long_in_place_chain_refused);
    CHECK_RUN(test_huge_enum_and_unique_items);
    CHECK_RUN(test_multiple_of);
    CHECK_RUN(test_numbers_by_value);
    CHECK_RUN(test_lengths_in_code_points);
    CHECK_RUN(test_draft7_specifics);
    CHECK_RUN(test_format_modes);
    CHECK_RUN(test_resources);
    CHECK_RUN(test_refcount);
    CHECK_RUN(test_arena_cap_is_enomem);
    CHECK_RUN(test_catastrophic_pattern_bounded);
    CHECK_RUN(test_dynamic_ref_extension);
    wr_arena_destroy(A);
    return CHECK_DONE();
}
