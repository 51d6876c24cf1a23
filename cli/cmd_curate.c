/* cmd_curate.c - `weir curate`: curates the closed hours of the raw zone into Parquet
 * (curator/), once or in a loop (--watch). Wiring only. */
#include "cli.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/prom.h"
#include "curator/curator.h"
#include "registry/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct curate_cfg {
    struct weir_cfg base; /* first: the shared tables' offsets apply to it */
    int64_t grace_ms;
    int64_t lease_ms;
    int64_t lookback_ms;
    uint64_t target_file_bytes;
    uint64_t row_group_bytes;
    uint64_t max_hour_bytes;
    const char *codec;
    long long level;
    bool force;
    const char *tmp_dir;
    const char *worker_id;
    int64_t test_hour_delay_ms;
    const char *metrics_file;
    const char *test_pause_fifo;
};

#define OFF(f) offsetof(struct curate_cfg, f)
#define BOFF(f) offsetof(struct weir_cfg, f)

static const struct wr_opt curate_opts[] = {
    {"dt", NULL, WR_OPT_STRING, NULL, BOFF(dt), "only this day (YYYY-MM-DD)"},
    {"event-type", NULL, WR_OPT_STRING, NULL, BOFF(event_type), "only this event type"},
    {"watch", NULL, WR_OPT_BOOL, "false", BOFF(watch),
     "run again every --interval until SIGINT/SIGTERM"},
    {"interval", "WEIR_CURATE_INTERVAL", WR_OPT_DURATION, "5m", BOFF(watch_interval_ms),
     "pause between runs with --watch"},
    {"threads", "WEIR_CURATE_THREADS", WR_OPT_INT, "1", BOFF(threads),
     "threads in all: N days at once, each also runs queued reading and page compression"},
    {"grace", "WEIR_CURATE_GRACE", WR_OPT_DURATION, "10m", OFF(grace_ms),
     "an hour is closed this long after it ends (> gateway flush interval + upload retries)"},
    {"lease", "WEIR_CURATE_LEASE", WR_OPT_DURATION, "5m", OFF(lease_ms),
     "lease on a day; renewed while working, taken over by others when it expires"},
    {"lookback", "WEIR_CURATE_LOOKBACK", WR_OPT_DURATION, "2h", OFF(lookback_ms),
     "hours of the day before read for dedup only (0s: none)"},
    {"target-file-size", "WEIR_CURATE_FILE_SIZE", WR_OPT_SIZE, "128MiB", OFF(target_file_bytes),
     "start a new part file past this size"},
    {"row-group-size", "WEIR_CURATE_ROW_GROUP", WR_OPT_SIZE, "64MiB", OFF(row_group_bytes),
     "plain-encoded bytes per row group (bounds the writer's memory)"},
    {"max-hour-bytes", "WEIR_CURATE_MAX_HOUR", WR_OPT_SIZE, "2GiB", OFF(max_hour_bytes),
     "cap on one (event type, hour)'s inflated raw text held in memory"},
    {"codec", "WEIR_CURATE_CODEC", WR_OPT_STRING, "zstd", OFF(codec), "zstd, gzip or none"},
    {"level", NULL, WR_OPT_INT, "0", OFF(level), "codec level (0: codec default)"},
    {"force", NULL, WR_OPT_BOOL, "false", OFF(force),
     "re-curate the selected days even when their raw files did not change"},
    {"tmp-dir", "WEIR_CURATE_TMP", WR_OPT_STRING, "/tmp", OFF(tmp_dir),
     "local folder for part files being written"},
    {"worker-id", "WEIR_CURATE_WORKER", WR_OPT_STRING, NULL, OFF(worker_id),
     "lease owner name (default host:pid)"},
    {"metrics-file", "WEIR_CURATE_METRICS_FILE", WR_OPT_STRING, NULL, OFF(metrics_file),
     "after each run, write Prometheus text here (node-exporter textfile; temp + rename)"},
    {"test-hour-delay", NULL, WR_OPT_DURATION, "0s", OFF(test_hour_delay_ms),
     "tests only: pause before each raw hour (to kill a worker mid-run)"},
    {"test-pause-fifo", NULL, WR_OPT_STRING, NULL, OFF(test_pause_fifo),
     "tests only: before the first part upload, create PATH.paused and wait for a writer on "
     "the FIFO PATH (to run a worker past its lease)"},
    {0},
};

static const struct wr_cmd curate_cmd = {
    "curate", NULL,
    "Curates every closed raw hour not yet curated (or the given day/type) into Parquet; "
    "many workers may run at once.",
    {cli_common_opts, cli_lake_opts, curate_opts, NULL}, 0, 0};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int valid_day(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') {
        return 0;
    }
    for (int i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) {
            return 0;
        }
    }
    return 1;
}

/* --- --metrics-file ------------------------------------------------------------ */

#define LAST_SUCCESS "weir_curate_last_success_timestamp_seconds"

/* The last success recorded in an earlier file, so that a failed run (a new process
 * each hour under the timer) keeps it; 0 when there is none. */
static double previous_success(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        return 0;
    }
    char line[256];
    double v = 0;
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(LAST_SUCCESS);
        if (strncmp(line, LAST_SUCCESS, n) == 0 && line[n] == ' ') {
            char *end;
            errno = 0;
            double d = strtod(line + n + 1, &end);
            if (errno == 0 && end != line + n + 1 && d > 0) {
                v = d;
            }
        }
    }
    fclose(f);
    return v;
}

struct metrics_fill {
    const struct wr_buf *text;
};

/* Metrics are not secret and node-exporter runs as another user: 0644 whatever --umask. */
static int metrics_fill(void *arg, int fd)
{
    const struct metrics_fill *m = arg;
    if (wr_write_all(fd, m->text->p, m->text->len) != 0) {
        return -1;
    }
    return fchmod(fd, 0644);
}

/* Writes the run's figures to path atomically (node-exporter reads whole files only).
 * Returns 0, or -1 after printing why. */
static int write_metrics(const char *path, const struct cur_stats *st, int run_rc,
                         double seconds, double ended_s, double *last_success)
{
    if (run_rc == 0) {
        *last_success = ended_s;
    }
    struct wr_buf b;
    wr_buf_init(&b, 1 << 20);
    int rc = 0;
    rc |= wr_prom_gauge_f(&b, LAST_SUCCESS,
                          "end of the last run that curated every day it claimed (unix "
                          "seconds; 0: none yet)",
                          *last_success);
    rc |= wr_prom_gauge_f(&b, "weir_curate_last_run_timestamp_seconds",
                          "end of the last run, successful or not (unix seconds)", ended_s);
    rc |= wr_prom_gauge(&b, "weir_curate_last_run_success",
                        "1 when the last run curated every day it claimed, else 0",
                        run_rc == 0 ? 1 : 0);
    rc |= wr_prom_gauge_f(&b, "weir_curate_last_run_seconds", "duration of the last run",
                          seconds);
    rc |= wr_prom_gauge(&b, "weir_curate_last_run_days_curated",
                        "(event type, day) pairs the last run curated", st->units_done);
    rc |= wr_prom_gauge(&b, "weir_curate_last_run_days_failed",
                        "days whose curation failed in the last run (retried by the next)",
                        st->units_failed);
    rc |= wr_prom_gauge(&b, "weir_curate_last_run_days_lost",
                        "days the last run left to another worker that took the lease",
                        st->units_lost);
    rc |= wr_prom_gauge(&b, "weir_curate_last_run_lines", "raw lines the last run read",
                        st->lines);
    rc |= wr_prom_gauge(&b, "weir_curate_last_run_rows", "Parquet rows the last run wrote",
                        st->rows);
    rc |= wr_prom_gauge(&b, "weir_curate_last_run_duplicates",
                        "lines the last run dropped as duplicates (same event_id)",
                        st->duplicates);
    rc |= wr_prom_gauge(&b, "weir_curate_last_run_invalid_lines",
                        "raw lines the last run could not use", st->invalid_lines);
    rc |= wr_prom_gauge(&b, "weir_curate_last_run_bytes_written",
                        "bytes of Parquet the last run wrote", st->bytes_written);
    if (rc) {
        wr_buf_free(&b);
        cli_fail(EXIT_FAIL, "--metrics-file: out of memory");
        return -1;
    }
    char dir[4096], tmp[512];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!slash) {
        snprintf(dir, sizeof dir, ".");
    } else if ((size_t)(slash - path) >= sizeof dir) {
        wr_buf_free(&b);
        cli_fail(EXIT_FAIL, "--metrics-file: path too long");
        return -1;
    } else {
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    }
    /* node-exporter's textfile collector reads *.prom only: the dot-name .tmp is ignored. */
    if (!*base || snprintf(tmp, sizeof tmp, ".%s.tmp", base) >= (int)sizeof tmp) {
        wr_buf_free(&b);
        cli_fail(EXIT_USAGE, "--metrics-file: '%s' is not a file name", path);
        return -1;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        cli_fail(EXIT_FAIL, "--metrics-file: %s: %s", dir, strerror(errno));
        wr_buf_free(&b);
        return -1;
    }
    struct metrics_fill mf = {&b};
    struct wr_atomic_file af = {dfd, tmp, base, 0644, NULL, 0, metrics_fill, NULL, &mf};
    const char *step = NULL;
    rc = wr_atomic_write(&af, &step);
    if (rc != 0) {
        cli_fail(EXIT_FAIL, "--metrics-file: %s: %s: %s", path, step ? step : "write",
                 strerror(errno));
    }
    close(dfd);
    wr_buf_free(&b);
    return rc == 0 ? 0 : -1;
}

int cmd_curate(int argc, char **argv)
{
    struct curate_cfg cc;
    memset(&cc, 0, sizeof cc);
    char *pos[CLI_MAX_ARGS];
    int npos, rc = cli_parse(&curate_cmd, argc - 1, argv + 1, &cc.base, pos, &npos);
    if (rc >= 0) {
        return rc;
    }
    struct weir_cfg *cfg = &cc.base;
    if (cfg->dt && !valid_day(cfg->dt)) {
        return cli_fail(EXIT_USAGE, "--dt: '%s' is not YYYY-MM-DD", cfg->dt);
    }
    if (cfg->event_type && !reg_event_type_valid(cfg->event_type, strlen(cfg->event_type))) {
        return cli_fail(EXIT_USAGE, "--event-type: '%s' is not an event type", cfg->event_type);
    }
    if (cfg->threads < 1 || cfg->threads > 64) {
        return cli_fail(EXIT_USAGE, "--threads must be 1..64");
    }
    if (cc.grace_ms < 0 || cc.lease_ms < 1000 || cfg->watch_interval_ms <= 0) {
        return cli_fail(EXIT_USAGE, "--grace must be >= 0, --lease >= 1s, --interval > 0");
    }
    if (cc.target_file_bytes < 4096 || cc.row_group_bytes < 4096 || cc.max_hour_bytes < 4096) {
        return cli_fail(EXIT_USAGE, "sizes must be at least 4KiB");
    }
    struct cur_config c;
    memset(&c, 0, sizeof c);
    if (strcmp(cc.codec, "zstd") == 0) {
        c.codec = PQ_CODEC_ZSTD;
    } else if (strcmp(cc.codec, "gzip") == 0) {
        c.codec = PQ_CODEC_GZIP;
    } else if (strcmp(cc.codec, "none") == 0) {
        c.codec = PQ_CODEC_UNCOMPRESSED;
    } else {
        return cli_fail(EXIT_USAGE, "--codec: '%s' is not zstd, gzip or none", cc.codec);
    }
    struct lake_s3_opts s3;
    int src = cli_s3_opts(cfg, &s3);
    if (src >= 0) {
        return src;
    }
    bool started;
    PGconn *pg = cli_connect(cfg, &started);
    if (!pg) {
        return EXIT_FAIL;
    }
    char conninfo[640];
    if (cfg->database_url) {
        snprintf(conninfo, sizeof conninfo, "%s", cfg->database_url);
    } else {
        reg_pgserver_conninfo(cfg->pg_dir, conninfo, sizeof conninfo);
    }
    c.lake_url = cfg->lake;
    c.s3 = &s3;
    c.conninfo = conninfo;
    c.dt = cfg->dt;
    c.event_type = cfg->event_type;
    c.grace_ms = cc.grace_ms;
    c.lease_ms = cc.lease_ms;
    c.lookback_ms = cc.lookback_ms ? cc.lookback_ms : -1;
    c.target_file_bytes = cc.target_file_bytes;
    c.row_group_bytes = cc.row_group_bytes;
    c.max_hour_bytes = cc.max_hour_bytes;
    c.level = (int)cc.level;
    c.threads = (int)cfg->threads;
    c.force = cc.force;
    c.tmp_dir = cc.tmp_dir;
    c.worker_id = cc.worker_id;
    c.test_hour_delay_ms = cc.test_hour_delay_ms;
    c.test_pause_fifo = cc.test_pause_fifo;
    if (cc.grace_ms == 0) {
        c.grace_ms = 1; /* an explicit 0s: closed right at the hour's end (1 ms) */
    }
    if (cfg->watch) {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
    }
    int status = EXIT_OK;
    double last_success = cc.metrics_file ? previous_success(cc.metrics_file) : 0;
    do {
        struct cur_stats st;
        memset(&st, 0, sizeof st);
        struct wr_err err = {0};
        int64_t started_ns = wr_time_mono_ns();
        int r = cur_run(&c, &st, &err);
        if (wr_log_enabled(WR_LOG_INFO)) {
            struct wr_logline l;
            wr_logline_begin(&l, WR_LOG_INFO, "curate: run finished");
            wr_logline_int(&l, "days", (int64_t)st.units_done);
            wr_logline_int(&l, "days_failed", (int64_t)st.units_failed);
            wr_logline_int(&l, "days_lost", (int64_t)st.units_lost);
            wr_logline_int(&l, "lines", (int64_t)st.lines);
            wr_logline_int(&l, "rows", (int64_t)st.rows);
            wr_logline_int(&l, "duplicates", (int64_t)st.duplicates);
            wr_logline_int(&l, "invalid_lines", (int64_t)st.invalid_lines);
            wr_logline_int(&l, "bad_files", (int64_t)st.bad_files);
            wr_logline_int(&l, "type_mismatches", (int64_t)st.type_mismatches);
            wr_logline_int(&l, "files_written", (int64_t)st.files_written);
            wr_logline_int(&l, "bytes_written", (int64_t)st.bytes_written);
            wr_logline_end(&l);
        }
        if (r != 0) {
            status = cli_fail(EXIT_FAIL, "%s", err.msg);
        } else if (cfg->watch) {
            status = EXIT_OK;
        }
        if (cc.metrics_file &&
            write_metrics(cc.metrics_file, &st, r, (double)(wr_time_mono_ns() - started_ns) / 1e9,
                          (double)wr_time_now_ms() / 1000.0, &last_success) != 0) {
            status = EXIT_FAIL;
        }
        for (int64_t slept = 0; cfg->watch && !stop && slept < cfg->watch_interval_ms;
             slept += 200) {
            struct timespec ts = {0, 200 * 1000000L};
            nanosleep(&ts, NULL);
        }
    } while (cfg->watch && !stop);
    cli_disconnect(cfg, pg, started);
    return status;
}
