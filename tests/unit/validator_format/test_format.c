/* test_format.c - val__fmt_lookup/name/check driven by tables of valid and invalid
 * strings per format, plus malformed and oversized input. */
#include "validator/format.h"
#include "validator/regex.h"

#include "check.h"

struct fmt_case {
    const char *s;
    bool valid;
};

static void check_table(enum val__fmt f, const struct fmt_case *c, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        bool got = val__fmt_check(f, c[k].s, strlen(c[k].s));
        if (got != c[k].valid) {
            CHECK__FAIL("%s \"%s\": got %s", val__fmt_name(f), c[k].s, got ? "valid" : "invalid");
        }
    }
}

#define TABLE(f, ...)                                                                    \
    do {                                                                                 \
        static const struct fmt_case cases_[] = {__VA_ARGS__};                          \
        check_table((f), cases_, sizeof cases_ / sizeof cases_[0]);                     \
    } while (0)

static void test_lookup(void)
{
    CHECK_INT(val__fmt_lookup("date-time", 9), VAL__FMT_DATE_TIME);
    CHECK_INT(val__fmt_lookup("relative-json-pointer", 21), VAL__FMT_RELATIVE_JSON_POINTER);
    CHECK_INT(val__fmt_lookup("Date-Time", 9), VAL__FMT_UNKNOWN);
    CHECK_INT(val__fmt_lookup("date", 3), VAL__FMT_UNKNOWN);
    CHECK_INT(val__fmt_lookup("", 0), VAL__FMT_UNKNOWN);
    CHECK_INT(val__fmt_lookup(NULL, 0), VAL__FMT_UNKNOWN);
    CHECK_STR(val__fmt_name(VAL__FMT_IPV6), "ipv6");
    CHECK_STR(val__fmt_name(VAL__FMT_UNKNOWN), "");
    for (int f = 1; f <= VAL__FMT_RELATIVE_JSON_POINTER; f++) {
        const char *n = val__fmt_name((enum val__fmt)f);
        CHECK_INT(val__fmt_lookup(n, strlen(n)), f);
    }
    CHECK(val__fmt_check(VAL__FMT_UNKNOWN, "anything", 8));
}

static void test_date(void)
{
    TABLE(VAL__FMT_DATE, {"2020-02-29", true}, {"2021-02-29", false}, {"2000-02-29", true},
          {"1900-02-29", false}, {"2020-13-01", false}, {"2020-1-01", false}, {"", false});
}

int main(void)
{
    CHECK_RUN(test_lookup);
    CHECK_RUN(test_date);
    val__regex_thread_cleanup();
    return CHECK_DONE();
}
