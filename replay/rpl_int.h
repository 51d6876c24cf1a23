/* rpl_int.h - replay/'s internals: a line reader over one gzip object held compressed in
 * memory, inflating a window at a time (the inflated text is never held whole), and the
 * registry cache of regcache.c that replay.c resolves events against. */
#ifndef WEIR_RPL_INT_H
#define WEIR_RPL_INT_H

#include "common/buf.h"
#include "common/err.h"
#include "validator/validator.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#define RPL_WINDOW (1u << 20)

struct rpl_lines {
    z_stream zs;
    bool zs_open;
    bool end;    /* input exhausted */
    bool broken; /* the gzip stream is not valid (truncated, bad CRC, garbage) */
    char *win;   /* RPL_WINDOW bytes of inflated text */
    size_t win_pos, win_len;
    struct wr_buf line; /* a line that spans windows */
    size_t max_line;
    bool skipping;   /* inside a line longer than max_line */
    size_t line_no;  /* 1-based number of the line last returned */
    size_t too_long; /* lines skipped for length */
};

/* Starts reading the gzip stream(s) in in[0, len) (borrowed until rpl_lines_close).
 * Lines longer than max_line are skipped and counted. Returns 0 or WR_ENOMEM. */
int rpl_lines_open(struct rpl_lines *l, const void *in, size_t len, size_t max_line);

/* The next line (without its newline) in *p, *n, valid until the next call; *p points
 * into the reader. Returns 1, 0 at the end, or -1 when the stream turned out broken
 * (l->broken; the lines before were returned) or WR_ENOMEM (-1 too, l->broken unset). */
int rpl_lines_next(struct rpl_lines *l, const char **p, size_t *n);

void rpl_lines_close(struct rpl_lines *l);

/* ---- the ledger writer (ledger.c) ---- */

/* A thread with its own connection (made with like's parameters) that records the
 * replayed_events rows of one rejected file after another, each file in its own
 * transaction, committed when the replay says its files are durable. */
typedef struct rpl_ledger rpl_ledger;
/* NULL with err (WR_EDB: no connection; WR_ENOMEM). commit_delay_ms: the tests' pause
 * before each commit (rpl_opts.test_commit_delay_ms). */
rpl_ledger *rpl__ledger_start(PGconn *like, int64_t commit_delay_ms, struct wr_err *err);
/* Queues rows of the current file in COPY's binary format (4 fields: rejected_file,
 * line, event_id, batch; the writer adds the signature and the trailer); waits while Postgres is far behind. Returns 0 or the ledger's first
 * failure (it sticks: the run must stop). */
int rpl__ledger_rows(rpl_ledger *l, const char *p, size_t len, struct wr_err *err);
/* The current file's replay files are durable: commit its rows (after those queued). */
int rpl__ledger_commit(rpl_ledger *l, const char *key, struct wr_err *err);
/* The current file failed: roll its rows back. */
int rpl__ledger_abort(rpl_ledger *l, struct wr_err *err);
/* Waits until everything queued is committed (or the ledger failed), stops the thread and
 * frees l (NULL: no-op). Returns 0 or the first failure, in err. */
int rpl__ledger_finish(rpl_ledger *l, struct wr_err *err);

/* ---- today's registry (regcache.c) ---- */

struct ver {
    char *type;
    int version;
    bool active;
    bool tried; /* compiled (or failed to) */
    char *json;
    val_schema *s;
};

struct reg_cache {
    struct ver *v;
    size_t n;
    bool annotate;
};

enum { RES_OK = 0, RES_UNKNOWN_TYPE, RES_UNKNOWN_VERSION };

/* A non-negative integer column (Postgres's text for integer never fails to parse). */
int rpl__pg_int(const char *s);
/* Reads every version of every event type into rc (schemas compile on first use). */
int rpl__cache_load(PGconn *pg, struct reg_cache *rc, struct wr_err *err);
void rpl__cache_free(struct reg_cache *rc);
/* The schema an event of type t asking for version want (0: none) resolves to today: a
 * RES_ code; on RES_OK *s and *resolved are set. */
int rpl__resolve(struct reg_cache *rc, const char *t, size_t tl, long long want, bool latest,
                 const val_schema **s, int *resolved);

#endif
