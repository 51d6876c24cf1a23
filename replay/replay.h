/* replay.h - schema evolution on the lake's data (evolution.md):
 *   rpl_replay: reads the rejected zone, re-validates each rejected event against today's
 *     registry and writes those that now pass back into the raw zone under the hour they
 *     were first received, recording each in the `replayed_events` ledger (exactly once);
 *   rpl_sample: validates the recent accepted raw events of one type against a candidate
 *     schema version (the dry run of `weir schema add`).
 * Both stream: one object's compressed bytes and one line at a time (plus, for replay,
 * the replayed lines of one rejected file, flushed past a cap), so memory stays bounded
 * whatever the size of the lake. One store and one PGconn per call; rpl_replay also opens
 * a second connection like it, for the ledger's own thread (replay/ledger.c). */
#ifndef WEIR_REPLAY_H
#define WEIR_REPLAY_H

#include "common/buf.h"
#include "common/err.h"
#include "lake/lake.h"
#include "validator/validator.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- replay ------------------------------------------------------------------------- */

enum {
    RPL_R_SCHEMA = 1u << 0,          /* "schema" */
    RPL_R_UNKNOWN_TYPE = 1u << 1,    /* "unknown_event_type" */
    RPL_R_UNKNOWN_VERSION = 1u << 2, /* "unknown_schema_version" */
    RPL_R_DEFAULT = RPL_R_SCHEMA | RPL_R_UNKNOWN_TYPE | RPL_R_UNKNOWN_VERSION
};

/* Parses the comma-separated --reason list into a mask of RPL_R_* bits. Returns 0, or
 * WR_EINVAL naming the word that is not one of the three replayable reasons (forbidden,
 * envelope, too_large and invalid_json never are). */
int rpl_reasons_parse(const char *list, unsigned *mask, struct wr_err *err);

struct rpl_opts {
    int64_t from_ms, to_ms;       /* rejected-zone hours whose start is in [from, to] */
    const char *event_type;       /* only this type; NULL: all */
    unsigned reasons;             /* RPL_R_* mask; 0: RPL_R_DEFAULT */
    bool latest;                  /* a retired version asked for: use the latest active */
    bool dry_run;                 /* write nothing, record nothing */
    bool format_annotate;         /* compile `format` as annotation (as the gateway's --format) */
    size_t flush_bytes;           /* replayed text buffered per rejected file before a part is
                                  written; 0: 32 MiB */
    int level;                    /* gzip level of replay files; 0: 4 */
    int64_t test_commit_delay_ms; /* tests only: pause after a file's puts, before its
                                     ledger commit (to kill the process there) */
};

/* Runs one replay. pg must be a connection with the migrations applied; a run that
 * writes takes a session advisory lock first, so concurrent replays run one after the
 * other (the second then finds the ledger filled and replays nothing twice). The JSON
 * report (evolution.md) is appended to report. Returns 0 (broken files and lines are
 * counted in the report, not errors), or WR_EDB / WR_EIO / WR_EAGAIN / WR_ENOMEM with err
 * filled: what was committed before stays committed and a new run goes on from there. */
int rpl_replay(lake_store *st, PGconn *pg, const struct rpl_opts *o, struct wr_buf *report,
               struct wr_err *err);

/* ---- dry run of a candidate version ---------------------------------------------- */

struct rpl_sample_opts {
    const char *event_type;
    int64_t now_ms; /* the sample covers the hours of [now - hours, now] */
    int hours;      /* 0: 24 */
    long long max;  /* at most this many events, newest first; 0: 100,000 */
};

struct rpl_sample_error {
    char instance_path[256];
    char keyword[64];
    char example_event_id[132];
    long long count;
};

#define RPL_SAMPLE_TOP 5

struct rpl_sample_result {
    int hours;
    long long events; /* events validated */
    long long would_reject;
    long long broken_lines; /* lines that are no usable envelope (skipped) */
    long long broken_files; /* objects that are not valid gzip (skipped) */
    size_t n_top;
    struct rpl_sample_error top[RPL_SAMPLE_TOP]; /* most common (instance_path, keyword) */
};

/* Validates the accepted raw events of o->event_type from the last o->hours hours of the
 * lake against schema: newest hour first, newest file first within an hour, at most
 * o->max events. Reads only raw/event_type=<t>/dt=<d>/hr=<h>/ of those hours. Returns 0
 * and fills res; WR_EIO / WR_EAGAIN / WR_ENOMEM with err. */
int rpl_sample(lake_store *st, const val_schema *schema, const struct rpl_sample_opts *o,
               struct rpl_sample_result *res, struct wr_err *err);

/* Appends the spec's "sample" object of res to out. Returns 0 or WR_ENOMEM/WR_ELIMIT. */
int rpl_sample_json(const struct rpl_sample_result *res, struct wr_buf *out);

#endif
