/* fuzz_parquet_read.c - libFuzzer target for the Parquet reader (pq_read.h): each input is a
 * whole file read from memory: footer, then every row group of every readable column through
 * the batch API, every value touched (so ASan sees any read past a buffer), and the row API
 * under a filter on the first column. A hostile file must be a refusal with a message, never
 * a crash, a leak or an allocation past the limits set here. Page CRCs are not checked, so
 * mutations reach the decoders. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "parquet/pq_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t touch(const struct pq_batch *b)
{
    uint64_t h = 0;
    for (size_t i = 0; i < b->nrows; i++) {
        if (b->valid && !b->valid[i]) {
            continue;
        }
        switch (b->col->type) {
        case PQ_PT_BOOLEAN: h += ((const uint8_t *)b->values)[i]; break;
        case PQ_PT_INT32:
        case PQ_PT_FLOAT: h += ((const uint32_t *)b->values)[i]; break;
        case PQ_PT_INT64:
        case PQ_PT_DOUBLE: h += ((const uint64_t *)b->values)[i]; break;
        default: {
            const struct pq_bytes *s = &((const struct pq_bytes *)b->values)[i];
            if (s->len) {
                h += s->p[0] + s->p[s->len - 1];
            }
        }
        }
    }
    return h;
}

static void must_have_message(const struct wr_err *err)
{
    if (err->code == 0 || err->msg[0] == 0) {
        __builtin_trap(); /* a failure without a reason */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pq_read_opts o;
    memset(&o, 0, sizeof o);
    o.max_footer_bytes = 1 << 20;
    o.max_page_bytes = 8 << 20;
    o.max_group_bytes = 64 << 20;
    o.max_group_rows = 1 << 20;
    o.no_crc = 1;
    struct wr_err err = {0, ""};
    pq_reader *r = pq_reader_open_mem(data, size, &o, &err);
    if (!r) {
        must_have_message(&err);
        return 0;
    }
    volatile uint64_t sink = 0;
    int rc;
    while ((rc = pq_reader_next_group(r, &err)) == 1) {
        for (size_t k = 0;; k++) {
            struct pq_batch b;
            if (pq_reader_batch(r, k, &b)) {
                break;
            }
            sink += touch(&b);
        }
    }
    if (rc < 0) {
        must_have_message(&err);
    }
    pq_reader_destroy(r);

    /* Again with a filter on the first readable column, through the row API. */
    r = pq_reader_open_mem(data, size, &o, &err);
    if (!r) {
        __builtin_trap(); /* opened once, must open again */
    }
    for (size_t i = 0; i < pq_reader_num_columns(r); i++) {
        const struct pq_rcol *c = pq_reader_column(r, i);
        if (c->unsupported || c->type == PQ_PT_INT96 ||
            ((c->type == PQ_PT_BYTE_ARRAY || c->type == PQ_PT_FLBA) &&
             c->logical == PQ_RL_DECIMAL)) {
            continue;
        }
        struct pq_fv lo;
        memset(&lo, 0, sizeof lo);
        lo.kind = c->type == PQ_PT_FLOAT || c->type == PQ_PT_DOUBLE      ? PQ_FV_DOUBLE
                  : c->type == PQ_PT_BYTE_ARRAY || c->type == PQ_PT_FLBA ? PQ_FV_BYTES
                                                                         : PQ_FV_INT;
        lo.i = size & 0xff;
        lo.d = (double)(size & 0xff);
        lo.p = data;
        lo.len = size < 4 ? size : 4;
        if (pq_reader_filter(r, c->name, &lo, NULL, &err)) {
            __builtin_trap(); /* a fitting filter on a readable column is accepted */
        }
        break;
    }
    while ((rc = pq_reader_next_row(r, &err)) == 1) {
        struct pq_value v;
        pq_reader_value(r, 0, &v);
        sink += (uint64_t)v.i + v.len;
    }
    if (rc < 0) {
        must_have_message(&err);
    }
    pq_reader_destroy(r);
    (void)sink;
    return 0;
}
