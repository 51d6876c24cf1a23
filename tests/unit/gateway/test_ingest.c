/* test_ingest.c - gateway/ingest.c without a registry: parsing bodies into batches
 * (JSON, arrays, NDJSON), the refusal codes and messages, and the UTF-8-safe copy of
 * messages. Validation against schemas needs a snapshot and is tested end to end in
 * tests/gateway. */
#include "check.h"

#include "common/arena.h"
#include "common/text.h"
#include "gateway/ingest.h"

#include <stdlib.h>

static const struct gw_limits lim = {.max_events = 3, .max_depth = 8, .max_event_bytes = 1024};

static enum gw_parse_code parse(const char *body, bool ndjson, struct gw_batch *b,
                                struct gw_parse_error *pe)
{
    static wr_arena *a;
    wr_arena_destroy(a);
    a = wr_arena_create(4096, 1 << 20);
    return gw_ingest_parse(a, body, strlen(body), ndjson, &lim, b, pe);
}

static void test_single_object(void)
{
    struct gw_batch b;
    struct gw_parse_error pe;
    CHECK_INT(parse("{\"event_type\":\"a\",\"payload\":{}}", false, &b, &pe), GW_PARSE_OK);
    CHECK_INT(b.n, 1);
    CHECK(b.single);
    CHECK_INT(pe.code, GW_PARSE_OK);
}

static void test_array(void)
{
    struct gw_batch b;
    struct gw_parse_error pe;
    CHECK_INT(parse("[{\"a\":1},{\"b\":2}]", false, &b, &pe), GW_PARSE_OK);
    CHECK_INT(b.n, 2);
    CHECK(!b.single);
    CHECK_INT(parse("[]", false, &b, &pe), GW_PARSE_INVALID_JSON);
    CHECK_STR(pe.message, "the batch is empty");
    CHECK_INT(parse("[{},2]", false, &b, &pe), GW_PARSE_INVALID_JSON);
    CHECK_STR(pe.message, "element 1 of the batch is not an object");
    CHECK_INT(parse("[{},{},{},{}]", false, &b, &pe), GW_PARSE_TOO_LARGE);
    CHECK_STR(pe.message, "more events than the per-request limit");
    CHECK_INT(parse("42", false, &b, &pe), GW_PARSE_INVALID_JSON);
}

static void test_ndjson(void)
{
    struct gw_batch b;
    struct gw_parse_error pe;
    CHECK_INT(parse("{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}\n", true, &b, &pe), GW_PARSE_OK);
    CHECK_INT(b.n, 3);
    CHECK_INT(parse("{\"a\":1}\n{\"b\":2}\n{}\n{}", true, &b, &pe), GW_PARSE_TOO_LARGE);
    CHECK_INT(parse("{\"a\":1} {\"b\":2}", true, &b, &pe), GW_PARSE_INVALID_JSON);
    CHECK_STR(pe.message, "expected a new line after a value at line 1 column 9");
    CHECK_INT(parse("{}\n[1]", true, &b, &pe), GW_PARSE_INVALID_JSON);
    CHECK_STR(pe.message, "NDJSON value 2 is not an object");
    CHECK_INT(parse("\n\n", true, &b, &pe), GW_PARSE_INVALID_JSON);
    CHECK_STR(pe.message, "the body holds no events");
}

static void test_invalid_json_messages(void)
{
    struct gw_batch b;
    struct gw_parse_error pe;
    CHECK_INT(parse("{\"a\":}", false, &b, &pe), GW_PARSE_INVALID_JSON);
    CHECK(strstr(pe.message, "line 1 column 6") != NULL);
    CHECK_INT(parse("[[[[[[[[[[{}]]]]]]]]]]", false, &b, &pe), GW_PARSE_INVALID_JSON);
    CHECK(strstr(pe.message, "nested deeper") != NULL);
    /* A client byte that is not UTF-8 (here after a backslash) never reaches the message. */
    CHECK_INT(parse("{\"a\":\"\\\xff\"}", false, &b, &pe), GW_PARSE_INVALID_JSON);
    CHECK(wr_utf8_valid(pe.message, strlen(pe.message)));
}

static void test_utf8_copy(void)
{
    char out[8];
    /* "aé€" = 1 + 2 + 3 bytes; a 6-byte room (5 + NUL) cuts before the euro sign. */
    CHECK_INT(gw_text_utf8_copy(out, 6, "a\xc3\xa9\xe2\x82\xac", 6), 3);
    CHECK_STR(out, "a\xc3\xa9");
    CHECK_INT(gw_text_utf8_copy(out, sizeof out,
                                "a\xff"
                                "b\xc3",
                                4),
              4);
    CHECK_STR(out, "a?b?");
    CHECK_INT(gw_text_utf8_copy(out, sizeof out, "x\0y", 3), 3);
    CHECK_STR(out, "x?y");
    CHECK_INT(gw_text_utf8_copy(out, 1, "abc", 3), 0);
    CHECK_STR(out, "");
}

int main(void)
{
    CHECK_RUN(test_single_object);
    CHECK_RUN(test_array);
    CHECK_RUN(test_ndjson);
    CHECK_RUN(test_invalid_json_messages);
    CHECK_RUN(test_utf8_copy);
    return CHECK_DONE();
}
