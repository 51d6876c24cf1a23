/* test_geo.c - MaxMind DB lookups through libmaxminddb on the database make_mmdb.pl
 * writes into the build tree (IPv4, IPv6, mapped, country-only, unknown, bad files).
 * Usage: test_enrich_geo TEST.mmdb */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "enrich/enrich.h"

static const char *db_path;

static struct en_geo look(const char *ip, int *rc)
{
    struct wr_err err = {0};
    en_geo_db *g = en_geo_open(db_path, &err);
    struct en_addr a;
    struct en_geo geo;
    memset(&geo, 0xaa, sizeof geo);
    CHECK(g != NULL);
    CHECK_INT(en_addr_parse(ip, strlen(ip), &a), 0);
    *rc = g ? en_geo_lookup(g, &a, &geo) : -1;
    en_geo_close(g);
    return geo;
}

static void test_city_v4(void)
{
    int rc;
    struct en_geo g = look("192.0.2.77", &rc);
    CHECK_INT(rc, 0);
    CHECK(g.found);
    CHECK_STR(g.country, "SE");
    CHECK_STR(g.region, "Stockholm County");
    CHECK_STR(g.city, "Stockholm");
    CHECK(g.has_location);
    CHECK(g.lat > 59.32 && g.lat < 59.33);
    CHECK(g.lon > 18.06 && g.lon < 18.07);
}

static void test_other_half(void)
{
    int rc;
    struct en_geo g = look("192.0.2.200", &rc);
    CHECK_INT(rc, 0);
    CHECK_STR(g.city, "Gothenburg");
    CHECK_STR(g.region, "V\xc3\xa4stra G\xc3\xb6taland County");
}

static void test_mapped_v6(void)
{
    int rc;
    struct en_geo g = look("::ffff:192.0.2.200", &rc);
    CHECK_INT(rc, 0);
    CHECK(g.found);
    CHECK_STR(g.country, "SE");
}

static void test_country_only(void)
{
    int rc;
    struct en_geo g = look("198.51.100.1", &rc);
    CHECK_INT(rc, 0);
    CHECK(g.found);
    CHECK_STR(g.country, "NZ");
    CHECK_STR(g.region, "");
    CHECK_STR(g.city, "");
    CHECK(!g.has_location);
}

static void test_city_v6(void)
{
    int rc;
    struct en_geo g = look("2001:db8:1:ffff::5", &rc);
    CHECK_INT(rc, 0);
    CHECK(g.found);
    CHECK_STR(g.country, "DE");
    CHECK_STR(g.region, "Bavaria \"Bayern\"");
    CHECK_STR(g.city, "M\xc3\xbcnchen");
    CHECK(g.has_location);
}

static void test_unknown(void)
{
    int rc;
    struct en_geo g = look("203.0.113.1", &rc);
    CHECK_INT(rc, 0);
    CHECK(!g.found);
    CHECK_STR(g.country, "");
    g = look("2001:db8:2::1", &rc);
    CHECK_INT(rc, 0);
    CHECK(!g.found);
}

static void test_bad_files(void)
{
    struct wr_err err = {0};
    char path[] = "/tmp/weir-enrich-geo-XXXXXX";
    int fd;
    CHECK(en_geo_open("/nonexistent/weir.mmdb", &err) == NULL);
    CHECK_INT(err.code, WR_EIO);
    CHECK(strstr(err.msg, "--geoip-db") && strstr(err.msg, "/nonexistent/weir.mmdb"));
    fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(write(fd, "not a maxmind database at all", 29) == 29);
        close(fd);
        CHECK(en_geo_open(path, &err) == NULL);
        CHECK_INT(err.code, WR_EINVAL);
        CHECK(strstr(err.msg, "--geoip-db"));
        unlink(path);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2 || access(argv[1], R_OK) != 0) {
        fprintf(
            stderr,
            "skip: the test database was not built (is libmaxmind-db-writer-perl installed?)\n");
        return 77;
    }
    db_path = argv[1];
    CHECK_RUN(test_city_v4);
    CHECK_RUN(test_other_half);
    CHECK_RUN(test_mapped_v6);
    CHECK_RUN(test_country_only);
    CHECK_RUN(test_city_v6);
    CHECK_RUN(test_unknown);
    CHECK_RUN(test_bad_files);
    return CHECK_DONE();
}
