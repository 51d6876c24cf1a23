/* bench_enrich.c - weir-bench-enrich: thread CPU time per en_context_render in the
 * configurations the gateway will run (median of runs), against issue 12's budget of
 * ~5 us per event batched and ~34 us per single request.
 * Usage: weir-bench-enrich [--regexes FILE] [--geoip-db FILE] [--uas FILE] [--runs N]
 * --uas: one user agent a line, or a uap-core test YAML (user_agent_string lines); the
 * default is uap-core's tests/test_ua.yaml, whose strings are all different (misses). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>

#include "enrich/enrich.h"

#define MAX_RUNS 15

static double cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Reads user agents: a uap-core YAML's user_agent_string values, else every line. */
static char **read_uas(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    char line[8192];
    char **v = NULL;
    size_t cap = 0;
    *n = 0;
    if (!f) {
        return NULL;
    }
    while (fgets(line, sizeof line, f)) {
        char *s = line, *e;
        const char *key = strstr(line, "user_agent_string:");
        size_t len;
        if (key) {
            s = strchr(key, ':') + 1;
            while (*s == ' ') {
                s++;
            }
            if (*s == '\'' || *s == '"') {
                char q = *s++;
                e = strrchr(s, q);
                if (!e) {
                    continue;
                }
                *e = '\0';
            }
        } else if (strstr(path, ".yaml")) {
            continue;
        }
        len = strcspn(s, "\r\n");
        s[len] = '\0';
        if (!len) {
            continue;
        }
        if (*n == cap) {
            char **nv;
            cap = cap ? cap * 2 : 1024;
            nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                break;
            }
            v = nv;
        }
        v[(*n)++] = strdup(s);
    }
    fclose(f);
    return v;
}

struct row {
    const char *name;
    struct en_config c;
    bool same_ua; /* every event from one browser (cache hits) */
    size_t cache; /* ua_cache_entries; 0 = default */
};

static const char *chrome =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36";

static int run_row(const struct row *r, char **uas, size_t nuas, int runs)
{
    struct wr_err err = {0};
    struct en_config c = r->c;
    en_enricher *e;
    en_worker *w;
    struct sockaddr_in sa;
    double per[MAX_RUNS];
    size_t iters = r->same_ua ? 200000 : (nuas < 4000 ? nuas : 4000);
    char out[EN_CONTEXT_MAX];
    uint64_t bytes = 0;
    c.ua_cache_entries = r->cache;
    e = en_create(&c, &err);
    if (!e) {
        fprintf(stderr, "%s: %s\n", r->name, err.msg);
        return 1;
    }
    w = en_worker_create(e, &err);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    inet_pton(AF_INET, "192.0.2.77", &sa.sin_addr);
    for (int run = 0; run < runs; run++) {
        double t0;
        /* A fresh worker per run for the miss rows: a cold cache every time. */
        if (!r->same_ua) {
            en_worker_destroy(w);
            w = en_worker_create(e, &err);
        }
        t0 = cpu_ns();
        for (size_t i = 0; i < iters; i++) {
            const char *ua = r->same_ua ? chrome : uas[i % nuas];
            struct en_request q;
            int n;
            memset(&q, 0, sizeof q);
            q.peer = (const struct sockaddr *)&sa;
            q.user_agent = ua;
            q.user_agent_len = strlen(ua);
            n = en_context_render(w, &q, out, sizeof out);
            bytes += n > 0 ? (uint64_t)n : 0;
        }
        per[run] = (cpu_ns() - t0) / (double)iters;
    }
    qsort(per, (size_t)runs, sizeof per[0], cmp_double);
    printf("| %-44s | %10.0f | %9.1f%% | %9.1f%% |\n", r->name, per[runs / 2],
           per[runs / 2] / 5000.0 * 100, per[runs / 2] / 34000.0 * 100);
    en_worker_destroy(w);
    en_destroy(e);
    return bytes ? 0 : 1;
}

/* Today's common browsers parsed without a cache: what one cache miss costs for them. */
static int run_common(const char *regexes, int runs)
{
    static const char *const common[] = {
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
        "Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile "
        "Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 "
        "Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
        "Safari/537.36 Edg/120.0.2210.61"};
    struct wr_err err = {0};
    en_ua_rules *r = en_ua_load(regexes, &err);
    en_ua_parser *p;
    double per[MAX_RUNS];
    if (!r) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    p = en_ua_parser_create(r, 0, &err);
    for (int run = 0; run < runs; run++) {
        double t0 = cpu_ns();
        for (int i = 0; i < 600; i++) {
            struct en_ua ua;
            en_ua_parse(p, common[i % 6], strlen(common[i % 6]), &ua, NULL);
        }
        per[run] = (cpu_ns() - t0) / 600;
    }
    qsort(per, (size_t)runs, sizeof per[0], cmp_double);
    printf("| %-44s | %10.0f | %9.1f%% | %9.1f%% |\n", "6 common browsers, UA parse only, no cache",
           per[runs / 2], per[runs / 2] / 5000.0 * 100, per[runs / 2] / 34000.0 * 100);
    en_ua_parser_destroy(p);
    en_ua_rules_destroy(r);
    return 0;
}

int main(int argc, char **argv)
{
    const char *regexes = NULL, *geo = NULL, *uas_path = "/usr/share/uap-core/tests/test_ua.yaml";
    int runs = 5, rc = 0;
    size_t nuas = 0;
    char **uas;
    struct row rows[6];
    int nrows = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--regexes") && i + 1 < argc) {
            regexes = argv[++i];
        } else if (!strcmp(argv[i], "--geoip-db") && i + 1 < argc) {
            geo = argv[++i];
        } else if (!strcmp(argv[i], "--uas") && i + 1 < argc) {
            uas_path = argv[++i];
        } else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > MAX_RUNS) {
                fprintf(stderr, "--runs: 1-%d\n", MAX_RUNS);
                return 2;
            }
            runs = (int)v;
        } else {
            fprintf(
                stderr,
                "usage: weir-bench-enrich [--regexes FILE] [--geoip-db FILE] [--uas FILE] [--runs N]\n");
            return 2;
        }
    }
    uas = read_uas(uas_path, &nuas);
    if (!uas || !nuas) {
        fprintf(stderr, "%s: no user agents\n", uas_path);
        return 1;
    }
    for (int i = 0; i < 6; i++) {
        en_config_init(&rows[i].c);
        rows[i].c.ua_regexes = regexes;
        rows[i].same_ua = true;
        rows[i].cache = 0;
    }
    rows[nrows].name = "keep, store-user-agent no (baseline), hit";
    rows[nrows].c.ip_mode = EN_IP_KEEP;
    rows[nrows++].c.store_user_agent = false;
    rows[nrows++].name = "default (truncate, user agent), cache hit";
    if (geo) {
        rows[nrows].name = "default + geo, cache hit";
        rows[nrows++].c.geoip_db = geo;
    }
    rows[nrows].name = "default, distinct UAs, cache miss";
    rows[nrows++].same_ua = false;
    if (geo) {
        rows[nrows].name = "default + geo, distinct UAs, cache miss";
        rows[nrows].c.geoip_db = geo;
        rows[nrows++].same_ua = false;
    }
    printf("%zu user agents from %s; thread CPU ns per event, median of %d runs\n\n", nuas,
           uas_path, runs);
    printf("| %-44s | %10s | %10s | %10s |\n", "configuration", "ns/event", "of 5 us", "of 34 us");
    printf("|%s|%s|%s|%s|\n", "----------------------------------------------", "------------",
           "------------", "------------");
    for (int i = 0; i < nrows; i++) {
        rc |= run_row(&rows[i], uas, nuas, runs);
    }
    rc |= run_common(regexes, runs);
    for (size_t i = 0; i < nuas; i++) {
        free(uas[i]);
    }
    free(uas);
    return rc;
}
