/* test_names.c - the registry's name rules: API key names and event types, including
 * lengths at and past the limits and bytes a shell or SQL would care about. */
#include "check.h"

#include "registry/registry.h"

static void test_key_names(void)
{
    const char *good[] = {"a", "Z", "0", "demo", "web-frontend", "svc.billing_v2", "A.b-C_d",
                          "9lives", "a..", "a--", "a__"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (!reg_key_name_valid(good[i])) {
            fprintf(stderr, "refused key name '%s'\n", good[i]);
            CHECK(0);
        }
    }
    const char *bad[] = {"", ".a", "-a", "_a", "a b", "a/b", "a;b", "a'b", "a\"b", "a,b",
                         "a\nb", "a\tb", "é", "aé", "a$", "a*", "a=b", "a:b", "a@b", " a",
                         "a "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (reg_key_name_valid(bad[i])) {
            fprintf(stderr, "accepted key name '%s'\n", bad[i]);
            CHECK(0);
        }
    }
    char name[200];
    memset(name, 'k', sizeof name);
    name[128] = '\0';
    CHECK(reg_key_name_valid(name)); /* 128: the limit */
    name[128] = 'k';
    name[129] = '\0';
    CHECK(!reg_key_name_valid(name));
}

static void test_event_types(void)
{
    const char *good[] = {"a", "z", "page_view", "signup", "a1", "a_", "v2_event_9"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (!reg_event_type_valid(good[i], strlen(good[i]))) {
            fprintf(stderr, "refused event type '%s'\n", good[i]);
            CHECK(0);
        }
    }
    const char *bad[] = {"", "A", "Page_view", "pageView", "1a", "_a", "page-view",
                         "page.view", "page view", "a/b", "é", "a'", "a;", "a\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (reg_event_type_valid(bad[i], strlen(bad[i]))) {
            fprintf(stderr, "accepted event type '%s'\n", bad[i]);
            CHECK(0);
        }
    }
    char t[100];
    memset(t, 'e', sizeof t);
    CHECK(reg_event_type_valid(t, 64));  /* 64: the limit */
    CHECK(!reg_event_type_valid(t, 65));
    CHECK(!reg_event_type_valid(t, 0));
    /* The length is what counts: a NUL inside it is refused, bytes after it ignored. */
    CHECK(!reg_event_type_valid("ab\0c", 4));
    CHECK(reg_event_type_valid("ab\0c", 2));
    CHECK(reg_event_type_valid("signup!!!", 6));
}

int main(void)
{
    CHECK_RUN(test_key_names);
    CHECK_RUN(test_event_types);
    return CHECK_DONE();
}
