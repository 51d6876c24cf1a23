/* cmd_replay.c - `weir replay`: rejected events that pass today's registry back into the
 * raw zone, exactly once (replay/, evolution.md). Wiring only. */
#include "cli.h"

#include "common/clock.h"
#include "common/log.h"
#include "lake/lake.h"
#include "registry/registry.h"
#include "replay/replay.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

struct replay_cfg {
    struct weir_cfg base; /* first: the shared tables' offsets apply to it */
    const char *from, *to, *reason;
    bool latest, dry_run;
    int64_t test_commit_delay_ms;
};

#define OFF(f) offsetof(struct replay_cfg, f)
#define BOFF(f) offsetof(struct weir_cfg, f)

static const struct wr_opt replay_opts[] = {
    {"from", NULL, WR_OPT_STRING, NULL, OFF(from),
     "first rejected hour: RFC 3339 time or YYYY-MM-DD (default: 7 days ago)"},
    {"to", NULL, WR_OPT_STRING, NULL, OFF(to),
     "last rejected hour: RFC 3339 time or YYYY-MM-DD (that day's end; default: now)"},
    {"event-type", NULL, WR_OPT_STRING, NULL, BOFF(event_type), "only events of this type"},
    {"reason", NULL, WR_OPT_STRING, "schema,unknown_event_type,unknown_schema_version", OFF(reason),
     "rejection reasons considered (comma-separated)"},
    {"latest", NULL, WR_OPT_BOOL, "false", OFF(latest),
     "an event that named a now-retired version is checked against the latest active one"},
    {"dry-run", NULL, WR_OPT_BOOL, "false", OFF(dry_run), "report only; write nothing"},
    {"format", "WEIR_FORMAT", WR_OPT_STRING, "assert", BOFF(format),
     "assert or annotate (as the gateway's --format)"},
    {"test-commit-delay", NULL, WR_OPT_DURATION, "0s", OFF(test_commit_delay_ms),
     "tests only: pause between a file's puts and its ledger commit"},
    {0},
};

static const struct wr_cmd replay_cmd = {
    "replay",
    NULL,
    "Re-validates rejected events against today's registry and puts those that now pass "
    "back into the raw zone under their original hour, exactly once; prints a JSON report.",
    {cli_common_opts, cli_lake_opts, replay_opts, NULL},
    0,
    0};

/* RFC 3339, or a bare day (its start; its end when end_of_day). */
static bool parse_time(const char *s, bool end_of_day, int64_t *ms)
{
    int64_t us;
    if (wr_time_parse_rfc3339(s, strlen(s), &us)) {
        *ms = us / 1000;
        return true;
    }
    char tmp[40];
    if (strlen(s) != 10 || snprintf(tmp, sizeof tmp, "%sT00:00:00Z", s) < 0 ||
        !wr_time_parse_rfc3339(tmp, strlen(tmp), &us)) {
        return false;
    }
    *ms = us / 1000 + (end_of_day ? 86400000 - 1 : 0);
    return true;
}

int cmd_replay(int argc, char **argv)
{
    struct replay_cfg rc_;
    memset(&rc_, 0, sizeof rc_);
    char *pos[CLI_MAX_ARGS];
    int npos, rc = cli_parse(&replay_cmd, argc - 1, argv + 1, &rc_.base, pos, &npos);
    if (rc >= 0) {
        return rc;
    }
    struct weir_cfg *cfg = &rc_.base;
    struct rpl_opts o;
    memset(&o, 0, sizeof o);
    int64_t now = wr_time_now_ms();
    o.to_ms = now;
    o.from_ms = now - 7 * 86400000LL;
    if (rc_.from && !parse_time(rc_.from, false, &o.from_ms)) {
        return cli_fail(EXIT_USAGE, "--from: '%s' is not an RFC 3339 time or YYYY-MM-DD", rc_.from);
    }
    if (rc_.to && !parse_time(rc_.to, true, &o.to_ms)) {
        return cli_fail(EXIT_USAGE, "--to: '%s' is not an RFC 3339 time or YYYY-MM-DD", rc_.to);
    }
    if (o.from_ms > o.to_ms) {
        return cli_fail(EXIT_USAGE, "--from is after --to");
    }
    if (cfg->event_type && !reg_event_type_valid(cfg->event_type, strlen(cfg->event_type))) {
        return cli_fail(EXIT_USAGE, "--event-type: '%s' is not an event type", cfg->event_type);
    }
    struct wr_err err = {0};
    if (rpl_reasons_parse(rc_.reason, &o.reasons, &err) != 0) {
        return cli_fail(EXIT_USAGE, "%s", err.msg);
    }
    if (strcmp(cfg->format, "assert") != 0 && strcmp(cfg->format, "annotate") != 0) {
        return cli_fail(EXIT_USAGE, "--format: '%s' is not assert or annotate", cfg->format);
    }
    o.format_annotate = strcmp(cfg->format, "annotate") == 0;
    o.event_type = cfg->event_type;
    o.latest = rc_.latest;
    o.dry_run = rc_.dry_run;
    o.test_commit_delay_ms = rc_.test_commit_delay_ms;
    struct lake_s3_opts s3;
    if ((rc = cli_s3_opts(cfg, &s3)) >= 0) {
        return rc;
    }
    lake_store *st = lake_store_open(cfg->lake, &s3, &err);
    if (!st) {
        return cli_fail(err.code == WR_EINVAL ? EXIT_USAGE : EXIT_FAIL, "--lake: %s", err.msg);
    }
    bool started;
    PGconn *pg = cli_connect(cfg, &started);
    if (!pg) {
        lake_store_destroy(st);
        return EXIT_FAIL;
    }
    struct wr_buf report;
    wr_buf_init(&report, (size_t)64 << 20);
    int status = EXIT_OK;
    if (rpl_replay(st, pg, &o, &report, &err) != 0) {
        status = cli_fail(EXIT_FAIL, "replay: %s", err.msg);
    } else {
        fwrite(report.p, 1, report.len, stdout);
        fputc('\n', stdout);
    }
    wr_buf_free(&report);
    cli_disconnect(cfg, pg, started);
    lake_store_destroy(st);
    return status;
}
