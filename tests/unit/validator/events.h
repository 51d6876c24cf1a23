/* events.h - valid payloads of the three schemas of tests/unit/validator/schemas (copies
 * of the benchmark's schemas, kept here so the tests need nothing outside the repository),
 * for the validator's allocation and thread tests. */
#ifndef WEIR_TEST_VAL_EVENTS_H
#define WEIR_TEST_VAL_EVENTS_H

static const struct {
    const char *schema_file;
    const char *valid;
    const char *invalid;
} val_test_events[] = {
    {"page_view.schema.json",
     "{\"path\":\"/docs/intro\",\"referrer\":\"https://example.com/x?y=1\",\"title\":\"Intro\","
     "\"user_id\":\"u_abcdefgh12\",\"session_id\":\"0f8fad5b-d9cb-469f-a165-70867728950e\","
     "\"screen\":{\"w\":1920,\"h\":1080,\"dpr\":2},\"utm\":{\"source\":\"news\","
     "\"medium\":\"email\"},\"ts\":\"2026-11-21T12:00:00.123Z\",\"locale\":\"en-US\","
     "\"device\":\"desktop\"}",
     "{\"path\":\"docs\",\"session_id\":\"nope\",\"screen\":{\"w\":0},\"ts\":\"yesterday\"}"},
    {"api_metric.schema.json",
     "{\"service\":\"checkout-api\",\"endpoint\":\"/v1/orders/{id}\",\"method\":\"POST\","
     "\"status\":201,\"duration_ms\":12.5,\"bytes_in\":512,\"bytes_out\":2048,"
     "\"region\":\"eu-west-1\",\"host\":\"api.example.com\",\"client_ip\":\"2001:db8::1\","
     "\"sampled\":true,\"tags\":{\"team\":\"payments\",\"build\":\"abc123\"}}",
     "{\"service\":\"Checkout\",\"endpoint\":\"/v1\",\"method\":\"FETCH\",\"status\":700,"
     "\"duration_ms\":-1,\"client_ip\":\"999.1.1.1\"}"},
    {"frontend_error.schema.json",
     "{\"session_id\":\"0f8fad5b-d9cb-469f-a165-70867728950e\",\"user_id\":null,"
     "\"message\":\"TypeError: x is undefined\",\"error_type\":\"TypeError\","
     "\"url\":\"https://app.example.com/cart\",\"severity\":\"error\","
     "\"release\":\"1.4.2-beta.1\",\"browser\":{\"name\":\"firefox\",\"version\":\"120.0.1\"},"
     "\"stack\":[{\"fn\":\"render\",\"file\":\"app.js\",\"line\":10,\"col\":5,\"in_app\":true},"
     "{\"file\":\"vendor.js\",\"line\":1}],\"context\":{\"route\":\"/cart\",\"items\":3,"
     "\"debug\":false,\"x\":null}}",
     "{\"session_id\":\"x\",\"message\":\"\",\"error_type\":\"1bad\",\"url\":\"not a uri\","
     "\"severity\":\"panic\",\"browser\":{\"name\":\"lynx\"}}"},
};

#endif
