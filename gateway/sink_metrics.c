/* sink_metrics.c - the sink's Prometheus text (weir_sink_*, after the spool's weir_spool_*). */
#include "gateway/sink_int.h"

#include "common/clock.h"
#include "common/log.h"
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

static void m_head(struct wr_buf *o, const char *name, const char *type, const char *help)
{
    wr_buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void m_one(struct wr_buf *o, const char *name, const char *type, const char *help,
                  uint64_t v)
{
    m_head(o, name, type, help);
    wr_buf_printf(o, "%s %" PRIu64 "\n", name, v);
}

static void m_zones(struct wr_buf *o, const char *name, const char *help,
                    atomic_uint_fast64_t v[2])
{
    m_head(o, name, "counter", help);
    wr_buf_printf(o, "%s{zone=\"raw\"} %" PRIu64 "\n%s{zone=\"rejected\"} %" PRIu64 "\n", name,
                  (uint64_t)gw__get64(&v[0]), name, (uint64_t)gw__get64(&v[1]));
}

static void m_hist(struct wr_buf *o, const char *name, const char *help, const double *le,
                   const uint64_t *counts, size_t nb, double sum)
{
    m_head(o, name, "histogram", help);
    uint64_t cum = 0;
    for (size_t i = 0; i < nb; i++) {
        cum += counts[i];
        if (i + 1 < nb) {
            wr_buf_printf(o, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, le[i], cum);
        } else {
            wr_buf_printf(o, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
        }
    }
    wr_buf_printf(o, "%s_sum %.9g\n%s_count %" PRIu64 "\n", name, sum, name, cum);
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
    m_one(out, "weir_sink_open_buffers", "gauge", "Partition buffers taking lines.", nopen);
    m_one(out, "weir_sink_queued_files", "gauge", "Closed buffers waiting for the lake.", nclosed);
    m_head(out, "weir_sink_buffered_bytes", "gauge", "Bytes held in partition buffers.");
    wr_buf_printf(out,
                  "weir_sink_buffered_bytes{state=\"open_uncompressed\"} %" PRIu64
                  "\nweir_sink_buffered_bytes{state=\"open_compressed\"} %" PRIu64
                  "\nweir_sink_buffered_bytes{state=\"queued_compressed\"} %" PRIu64 "\n",
                  (uint64_t)gw__get64(&s->open_raw_bytes), (uint64_t)gw__get64(&s->open_gz_bytes),
                  (uint64_t)gw__get64(&s->queued_gz_bytes));
    m_zones(out, "weir_sink_lines_total", "Lines handed to partition buffers.", s->lines_in);
    m_zones(out, "weir_sink_line_bytes_total", "Uncompressed bytes handed to buffers.", s->bytes_in);
    m_zones(out, "weir_sink_files_total", "Files written to the lake.", s->files);
    m_zones(out, "weir_sink_file_bytes_total", "Compressed bytes written to the lake.",
            s->file_bytes);
    m_zones(out, "weir_sink_file_lines_total", "Lines in files written to the lake.", s->file_lines);
    m_head(out, "weir_sink_buffers_closed_total", "counter", "Buffers closed, by reason.");
    wr_buf_printf(out,
                  "weir_sink_buffers_closed_total{reason=\"size\"} %" PRIu64
                  "\nweir_sink_buffers_closed_total{reason=\"age\"} %" PRIu64
                  "\nweir_sink_buffers_closed_total{reason=\"hour\"} %" PRIu64
                  "\nweir_sink_buffers_closed_total{reason=\"drain\"} %" PRIu64
                  "\nweir_sink_buffers_closed_total{reason=\"evict\"} %" PRIu64
                  "\nweir_sink_buffers_closed_total{reason=\"replay\"} %" PRIu64 "\n",
                  (uint64_t)gw__get64(&s->closed_size), (uint64_t)gw__get64(&s->closed_age),
                  (uint64_t)gw__get64(&s->closed_hour), (uint64_t)gw__get64(&s->closed_drain),
                  (uint64_t)gw__get64(&s->closed_evict), (uint64_t)gw__get64(&s->closed_replay));
    m_head(out, "weir_sink_flushes_total", "counter", "Lake puts of buffer files, by result.");
    wr_buf_printf(out,
                  "weir_sink_flushes_total{result=\"ok\"} %" PRIu64
                  "\nweir_sink_flushes_total{result=\"failed\"} %" PRIu64 "\n",
                  (uint64_t)gw__get64(&s->flush_ok), (uint64_t)gw__get64(&s->flush_failed));
    uint64_t ph[PUT_BUCKETS];
    for (int i = 0; i < PUT_BUCKETS; i++) {
        ph[i] = gw__get64(&s->put_hist[i]);
    }
    m_hist(out, "weir_sink_lake_put_seconds", "Latency of lake puts (each attempt).", gw__put_bucket_le,
           ph, PUT_BUCKETS, atomic_load(&s->put_sum));
    m_one(out, "weir_sink_replayed_lines_total", "counter",
          "Lines replayed from the spool at start into buffers.", gw__get64(&s->replayed));
    m_one(out, "weir_sink_replay_skipped_lines_total", "counter",
          "Lines found in the spool at start that the lake already had.",
          gw__get64(&s->replay_skipped));
    m_one(out, "weir_sink_unplaceable_records_total", "counter",
          "Spool records that could not be placed in the lake as they were (bad event type "
          "or time, damaged), written to rejected/ with the reason.",
          gw__get64(&s->unplaceable));
    m_one(out, "weir_sink_late_lines_total", "counter",
          "Lines buffered after their hour had closed (a new file in a closed hour).",
          gw__get64(&s->late_lines));
    m_one(out, "weir_sink_refused_busy_total", "counter",
          "Submits refused because the buffer thread was behind (WR_EAGAIN).",
          gw__get64(&s->refused_busy));
    m_one(out, "weir_sink_release_failures_total", "counter", "Failed spool releases.",
          gw__get64(&s->release_failed));
    m_one(out, "weir_sink_journal_failures_total", "counter", "Failed journal writes.",
          gw__get64(&s->journal_failed));
    m_one(out, "weir_sink_failed", "gauge",
          "1 when a buffer could not be built: the spool is held, restart to replay.",
          (uint64_t)atomic_load(&s->failed));
}
