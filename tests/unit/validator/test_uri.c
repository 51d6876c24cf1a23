/* test_uri.c - RFC 3986 reference resolution (the section 5.4 examples) and fragments. */
#include "check.h"
#include "validator/val_int.h"

static wr_arena *A;

static void expect(const char *base, const char *ref, const char *want)
{
    const char *got = val__uri_resolve(A, base, ref);
    CHECK_STR(got, want);
}

static void test_rfc3986_normal(void)
{
    const char *b = "http://a/b/c/d;p?q";
    expect(b, "g:h", "g:h");
    expect(b, "g", "http://a/b/c/g");
    expect(b, "./g", "http://a/b/c/g");
    expect(b, "g/", "http://a/b/c/g/");
    expect(b, "/g", "http://a/g");
    expect(b, "//g", "http://g");
    expect(b, "?y", "http://a/b/c/d;p?y");
    expect(b, "g?y", "http://a/b/c/g?y");
    expect(b, "#s", "http://a/b/c/d;p?q#s");
    expect(b, "g#s", "http://a/b/c/g#s");
    expect(b, "g?y#s", "http://a/b/c/g?y#s");
    expect(b, ";x", "http://a/b/c/;x");
    expect(b, "g;x", "http://a/b/c/g;x");
    expect(b, "", "http://a/b/c/d;p?q");
    expect(b, ".", "http://a/b/c/");
    expect(b, "./", "http://a/b/c/");
    expect(b, "..", "http://a/b/");
    expect(b, "../", "http://a/b/");
    expect(b, "../g", "http://a/b/g");
    expect(b, "../..", "http://a/");
    expect(b, "../../g", "http://a/g");
}

static void test_rfc3986_abnormal(void)
{
    const char *b = "http://a/b/c/d;p?q";
    expect(b, "../../../g", "http://a/g");
    expect(b, "../../../../g", "http://a/g");
    expect(b, "/./g", "http://a/g");
    expect(b, "/../g", "http://a/g");
    expect(b, "g.", "http://a/b/c/g.");
    expect(b, ".g", "http://a/b/c/.g");
    expect(b, "g..", "http://a/b/c/g..");
    expect(b, "..g", "http://a/b/c/..g");
    expect(b, "./../g", "http://a/b/g");
    expect(b, "./g/.", "http://a/b/c/g/");
    expect(b, "g/./h", "http://a/b/c/g/h");
    expect(b, "g/../h", "http://a/b/c/h");
    expect(b, "g;x=1/./y", "http://a/b/c/g;x=1/y");
    expect(b, "g;x=1/../y", "http://a/b/c/y");
    expect(b, "g?y/./x", "http://a/b/c/g?y/./x");
    expect(b, "g#s/../x", "http://a/b/c/g#s/../x");
    expect(b, "http:g", "http:g");
}

static void test_urn_and_fragments(void)
{
    expect("urn:uuid:deadbeef-1234", "#/$defs/a", "urn:uuid:deadbeef-1234#/$defs/a");
    expect("http://x/y.json", "#", "http://x/y.json#");
    expect("http://localhost:1234/", "tree", "http://localhost:1234/tree");
    const char *frag;
    CHECK_INT(val__uri_split("http://x/a#b", &frag), 10);
    CHECK_STR(frag, "b");
    CHECK_INT(val__uri_split("http://x/a", &frag), 10);
    CHECK_STR(frag, "");
    char out[32];
    CHECK_INT(val__uri_unescape("a%25b%22", 8, out, sizeof out), 4);
    CHECK_STR(out, "a%b\"");
    CHECK(val__uri_unescape("a%2", 3, out, sizeof out) == (size_t)-1);
    CHECK(val__uri_unescape("a%zz", 4, out, sizeof out) == (size_t)-1);
    CHECK(val__uri_is_absolute("urn:x"));
    CHECK(!val__uri_is_absolute("/a/b"));
    CHECK(!val__uri_is_absolute("1abc:x"));
}

int main(void)
{
    A = wr_arena_create(4096, 0);
    CHECK_RUN(test_rfc3986_normal);
    CHECK_RUN(test_rfc3986_abnormal);
    CHECK_RUN(test_urn_and_fragments);
    wr_arena_destroy(A);
    return CHECK_DONE();
}
