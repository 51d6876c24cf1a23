/* geo.c - context.geo from a MaxMind DB file (GeoLite2 or DB-IP, Country or City)
 * through libmaxminddb; the file is memory-mapped once and read by every thread. */
#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "enrich/en_int.h"

struct en_geo_db {
    MMDB_s mmdb;
};

en_geo_db *en_geo_open(const char *path, struct wr_err *err)
{
    en_geo_db *g = calloc(1, sizeof *g);
    int rc;
    if (!g) {
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    rc = MMDB_open(path, MMDB_MODE_MMAP, &g->mmdb);
    if (rc != MMDB_SUCCESS) {
        wr_err_set(err, rc == MMDB_FILE_OPEN_ERROR || rc == MMDB_IO_ERROR ? WR_EIO : WR_EINVAL,
                   "--geoip-db %s: %s", path, MMDB_strerror(rc));
        free(g);
        return NULL;
    }
    return g;
}

void en_geo_close(en_geo_db *g)
{
    if (!g) {
        return;
    }
    MMDB_close(&g->mmdb);
    free(g);
}

/* A UTF-8 string at the path into dst; false when absent or of another type. */
static bool get_string(MMDB_entry_s *e, char *dst, size_t cap, const char *const *path)
{
    MMDB_entry_data_s d;
    if (MMDB_aget_value(e, &d, path) != MMDB_SUCCESS || !d.has_data ||
        d.type != MMDB_DATA_TYPE_UTF8_STRING) {
        return false;
    }
    en__copy_cut(dst, cap, d.utf8_string, d.data_size);
    return true;
}

static bool get_double(MMDB_entry_s *e, double *v, const char *const *path)
{
    MMDB_entry_data_s d;
    if (MMDB_aget_value(e, &d, path) != MMDB_SUCCESS || !d.has_data) {
        return false;
    }
    if (d.type == MMDB_DATA_TYPE_DOUBLE) {
        *v = d.double_value;
    } else if (d.type == MMDB_DATA_TYPE_FLOAT) {
        *v = d.float_value;
    } else {
        return false;
    }
    return true;
}

int en_geo_lookup(const en_geo_db *g, const struct en_addr *a, struct en_geo *out)
{
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    const struct sockaddr *sa;
    MMDB_lookup_result_s res;
    int mmdb_err = MMDB_SUCCESS;
    static const char *const country[] = {"country", "iso_code", NULL};
    static const char *const region[] = {"subdivisions", "0", "names", "en", NULL};
    static const char *const city[] = {"city", "names", "en", NULL};
    static const char *const lat[] = {"location", "latitude", NULL};
    static const char *const lon[] = {"location", "longitude", NULL};

    memset(out, 0, sizeof *out);
    if (a->family == 4) {
        memset(&in4, 0, sizeof in4);
        in4.sin_family = AF_INET;
        memcpy(&in4.sin_addr, a->b, 4);
        sa = (const struct sockaddr *)&in4;
    } else {
        memset(&in6, 0, sizeof in6);
        in6.sin6_family = AF_INET6;
        memcpy(&in6.sin6_addr, a->b, 16);
        sa = (const struct sockaddr *)&in6;
    }
    /* libmaxminddb's lookups only read the mapping; the cast drops a const the
     * library's prototype lacks. */
    res = MMDB_lookup_sockaddr((MMDB_s *)&g->mmdb, sa, &mmdb_err);
    memset(&in4, 0, sizeof in4);
    memset(&in6, 0, sizeof in6);
    if (mmdb_err != MMDB_SUCCESS) {
        /* An IPv6 address in an IPv4-only database is not an error, just unknown. */
        return mmdb_err == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR ? 0 : WR_EIO;
    }
    if (!res.found_entry) {
        return 0;
    }
    out->found = true;
    /* Not registered_country: that is where the block is registered, not where the
     * client is, and a wrong country is worse than none. */
    get_string(&res.entry, out->country, sizeof out->country, country);
    get_string(&res.entry, out->region, sizeof out->region, region);
    get_string(&res.entry, out->city, sizeof out->city, city);
    if (get_double(&res.entry, &out->lat, lat) && get_double(&res.entry, &out->lon, lon)) {
        out->has_location = true;
    }
    return 0;
}
