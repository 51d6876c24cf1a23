/* sink.h - where the gateway's lines go after validation: the durable spool first, then
 * per-partition gzip buffers, then lake files (raw/ for accepted events, rejected/ for
 * rejected ones). A line is acknowledged once it is fsynced in the spool; it is released
 * from the spool once its lake file exists. Replays the spool at start. */
#ifndef WEIR_GW_SINK_H
#define WEIR_GW_SINK_H

#include "common/buf.h"
#include "common/err.h"
#include "gateway/line.h"
#include "lake/lake.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gw_sink gw_sink;

struct gw_sink_opts {
    const char *spool_dir;
    uint64_t spool_max_bytes;     /* 0: 1 GiB */
    const char *lake_url;         /* lake root, see lake_store_open */
    const struct lake_s3_opts *s3;/* may be NULL for file:// lakes */
    uint64_t flush_bytes;         /* uncompressed bytes that close a buffer; 0: 8 MiB */
    int64_t flush_interval_ms;    /* age that closes a buffer; 0: 60 s */
    const char *instance_id;      /* NULL: the spool's own id */
    bool ack_from_memory;         /* benchmark only: acknowledge before fsync */
};

/* Called once per successful gw_sink_submit, on a sink thread: status 0 when the lines
 * are durable (fsynced; the buffer thread takes them afterwards, in order, and a drain
 * waits for it); WR_EAGAIN when a transient error (EMFILE, ENFILE, ENOSPC, EIO) kept
 * them out of the spool (answer 503 + Retry-After; the spool recovers by itself);
 * WR_EIO when the spool failed for good (503). Must be quick (e.g.
 * MHD_resume_connection): it runs on the spool writer, between group commits. */
typedef void (*gw_sink_done_fn)(void *arg, int status);

/* Opens the spool (replaying what it holds into the buffers, so nothing acknowledged
 * before a crash is lost and nothing already in the lake is written twice), opens the
 * lake store and starts the sink's threads. NULL with err filled on failure. */
gw_sink *gw_sink_create(const struct gw_sink_opts *opts, struct wr_err *err);

/* Copies n lines into the spool's pending batch and returns at once; done(arg, status)
 * follows on a sink thread. Returns 0; WR_EAGAIN when the spool is full, held by a
 * transient error, or the sink is draining (answer 503 + Retry-After; done is not called); WR_EIO when the spool has
 * failed (503); WR_ELIMIT when a line is too large. Thread-safe. */
int gw_sink_submit(gw_sink *s, const struct gw_line *lines, size_t n, gw_sink_done_fn done,
                   void *arg);

/* True while lines can be taken: not draining, and the spool can write (not failed, not
 * held by a transient error; /readyz). Thread-safe. */
bool gw_sink_ready(gw_sink *s);

/* Stops taking lines, delivers every pending done callback, flushes every buffer to the
 * lake (retrying while the lake is unavailable, up to timeout_ms; 0: no limit) and
 * releases the spool. Returns 0, or WR_EAGAIN when the lake could not take everything in
 * time (the lines stay in the spool and are replayed at the next start). */
int gw_sink_drain(gw_sink *s, int64_t timeout_ms);

/* Drains (if not yet done), stops the threads and frees. NULL is a no-op. */
void gw_sink_destroy(gw_sink *s);

/* Appends the sink's Prometheus metrics (spool, buffers, flushes, lake) to out, in the
 * text exposition format, each family with # HELP and # TYPE. Thread-safe. */
void gw_sink_metrics(gw_sink *s, struct wr_buf *out);

#endif
