/* sink_metrics.c - the sink's Prometheus text (weir_sink_*, after the spool's weir_spool_*). */
#include "gateway/sink_int.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/prom.h"
#include "common/thread.h"

#include <errno.h>
#include <inttypes.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- metrics --------------------------------------------------------------------- */

static void m_one(struct wr_buf *o, const char *name, enum wr_prom_type type, const char *help,
                  uint64_t v)
{
    wr_prom_family(o, name, type, help);
    wr_prom_sample(o, name, NULL, 0, v);
}

/* One family with a sample per value of one label. */
static void m_labelled(struct wr_buf *o, const char *name, enum wr_prom_type type, const char *help,
                       const char *label, const char *const *values, const uint64_t *v, size_t n)
{
    wr_prom_family(o, name, type, help);
    for (size_t i = 0; i < n; i++) {
        struct wr_prom_label l = {label, values[i]};
        wr_prom_sample(o, name, &l, 1, v[i]);
    }
}

static void m_zones(struct wr_buf *o, const char *name, const char *help, atomic_uint_fast64_t v[2])
{
    static const char *const zones[] = {"raw", "rejected"};
    const uint64_t c[] = {gw__get64(&v[0]), gw__get64(&v[1])};
    m_labelled(o, name, WR_PROM_COUNTER, help, "zone", zones, c, 2);
}

void gw_sink_metrics(gw_sink *s, struct wr_buf *out)
{
    if (!s || !out) {
        return;
    }
    /* The backlog not yet in the lake is the spool's weir_spool_unreleased_bytes. */
    sp_spool_metrics(s->spool, out);
    pthread_mutex_lock(&s->mu);
    uint64_t nopen = s->nopen, nclosed = s->nclosed + (s->inflight ? 1 : 0);
    pthread_mutex_unlock(&s->mu);
    m_one(out, "weir_sink_open_buffers", WR_PROM_GAUGE, "Partition buffers taking lines.", nopen);
    m_one(out, "weir_sink_queued_files", WR_PROM_GAUGE, "Closed buffers waiting for the lake.",
          nclosed);
    static const char *const states[] = {"open_uncompressed", "open_compressed",
                                         "queued_compressed"};
    const uint64_t held[] = {gw__get64(&s->open_raw_bytes), gw__get64(&s->open_gz_bytes),
                             gw__get64(&s->queued_gz_bytes)};
    m_labelled(out, "weir_sink_buffered_bytes", WR_PROM_GAUGE, "Bytes held in partition buffers.",
               "state", states, held, 3);
    m_zones(out, "weir_sink_lines_total", "Lines handed to partition buffers.", s->lines_in);
    m_zones(out, "weir_sink_line_bytes_total", "Uncompressed bytes handed to buffers.",
            s->bytes_in);
    m_zones(out, "weir_sink_files_total", "Files written to the lake.", s->files);
    m_zones(out, "weir_sink_file_bytes_total", "Compressed bytes written to the lake.",
            s->file_bytes);
    m_zones(out, "weir_sink_file_lines_total", "Lines in files written to the lake.",
            s->file_lines);
    static const char *const why[] = {"size", "age", "hour", "drain", "evict", "replay"};
    const uint64_t closed[] = {gw__get64(&s->closed_size),  gw__get64(&s->closed_age),
                               gw__get64(&s->closed_hour),  gw__get64(&s->closed_drain),
                               gw__get64(&s->closed_evict), gw__get64(&s->closed_replay)};
    m_labelled(out, "weir_sink_buffers_closed_total", WR_PROM_COUNTER, "Buffers closed, by reason.",
               "reason", why, closed, 6);
    static const char *const results[] = {"ok", "failed"};
    const uint64_t flushes[] = {gw__get64(&s->flush_ok), gw__get64(&s->flush_failed)};
    m_labelled(out, "weir_sink_flushes_total", WR_PROM_COUNTER,
               "Lake puts of buffer files, by result.", "result", results, flushes, 2);
    uint64_t ph[PUT_BUCKETS];
    for (int i = 0; i < PUT_BUCKETS; i++) {
        ph[i] = gw__get64(&s->put_hist[i]);
    }
    /* The last bucket is +Inf: one bound less than buckets. */
    wr_prom_histogram(out, "weir_sink_lake_put_seconds", "Latency of lake puts (each attempt).",
                      gw__put_bucket_le, ph, PUT_BUCKETS - 1, atomic_load(&s->put_sum));
    m_one(out, "weir_sink_replayed_lines_total", WR_PROM_COUNTER,
          "Lines replayed from the spool at start into buffers.", gw__get64(&s->replayed));
    m_one(out, "weir_sink_replay_skipped_lines_total", WR_PROM_COUNTER,
          "Lines found in the spool at start that the lake already had.",
          gw__get64(&s->replay_skipped));
    m_one(out, "weir_sink_unplaceable_records_total", WR_PROM_COUNTER,
          "Spool records that could not be placed in the lake as they were (bad event type "
          "or time, damaged), written to rejected/ with the reason.",
          gw__get64(&s->unplaceable));
    m_one(out, "weir_sink_late_lines_total", WR_PROM_COUNTER,
          "Lines buffered after their hour had closed (a new file in a closed hour).",
          gw__get64(&s->late_lines));
    m_one(out, "weir_sink_refused_busy_total", WR_PROM_COUNTER,
          "Submits refused because the buffer thread was behind (WR_EAGAIN).",
          gw__get64(&s->refused_busy));
    m_one(out, "weir_sink_throttled_total", WR_PROM_COUNTER,
          "Submits that first waited for the buffer thread (its backlog over 16 MiB).",
          gw__get64(&s->throttled));
    wr_prom_family(out, "weir_sink_throttle_seconds_total", WR_PROM_COUNTER,
                   "Time HTTP threads spent waiting for the buffer thread's backlog to shrink.");
    wr_prom_sample_f(out, "weir_sink_throttle_seconds_total", NULL, 0,
                     (double)gw__get64(&s->throttled_ns) / 1e9);
    m_one(out, "weir_sink_release_failures_total", WR_PROM_COUNTER, "Failed spool releases.",
          gw__get64(&s->release_failed));
    m_one(out, "weir_sink_journal_failures_total", WR_PROM_COUNTER, "Failed journal writes.",
          gw__get64(&s->journal_failed));
    m_one(out, "weir_sink_failed", WR_PROM_GAUGE,
          "1 when a buffer could not be built: the spool is held, restart to replay.",
          (uint64_t)atomic_load(&s->failed));
}
