/* footer.c - the Thrift FileMetaData of a Parquet file: the schema, each row group's column
 * chunks with their statistics, key/value metadata and created_by, written once at close
 * (pq_writer_close, writer.c). */
#include "parquet/pq_int.h"

#include <stdio.h>
#include <string.h>

static void schema_leaf(struct pq__tw *t, const struct pq__col *c)
{
    static const int phys[] = {T_BOOLEAN, T_INT32, T_INT64, T_DOUBLE, T_BYTE_ARRAY};
    pq__tw_struct_begin(t, 0);
    pq__tw_i32(t, 1, phys[c->type]);
    pq__tw_i32(t, 3, c->optional ? REP_OPTIONAL : REP_REQUIRED);
    pq__tw_str(t, 4, c->name);
    switch (c->logical) {
    case PQ_LT_NONE: break;
    case PQ_LT_STRING:
        pq__tw_i32(t, 6, CT_UTF8);
        pq__tw_struct_begin(t, 10);
        pq__tw_struct_begin(t, 1); /* StringType */
        pq__tw_struct_end(t);
        pq__tw_struct_end(t);
        break;
    case PQ_LT_JSON:
        pq__tw_i32(t, 6, CT_JSON);
        pq__tw_struct_begin(t, 10);
        pq__tw_struct_begin(t, 12); /* JsonType */
        pq__tw_struct_end(t);
        pq__tw_struct_end(t);
        break;
    case PQ_LT_INT:
        pq__tw_i32(t, 6, c->type == PQ_INT32 ? CT_INT_32 : CT_INT_64);
        pq__tw_struct_begin(t, 10);
        pq__tw_struct_begin(t, 10); /* IntType */
        pq__tw_i8(t, 1, c->type == PQ_INT32 ? 32 : 64);
        pq__tw_bool(t, 2, 1);
        pq__tw_struct_end(t);
        pq__tw_struct_end(t);
        break;
    case PQ_LT_TIMESTAMP_US:
        pq__tw_i32(t, 6, CT_TIMESTAMP_MICROS);
        pq__tw_struct_begin(t, 10);
        pq__tw_struct_begin(t, 8); /* TimestampType */
        pq__tw_bool(t, 1, 1);      /* isAdjustedToUTC: these are instants */
        pq__tw_struct_begin(t, 2); /* TimeUnit */
        pq__tw_struct_begin(t, 2); /* MICROS */
        pq__tw_struct_end(t);
        pq__tw_struct_end(t);
        pq__tw_struct_end(t);
        pq__tw_struct_end(t);
        break;
    }
    pq__tw_struct_end(t);
}

static void column_chunk(pq_writer *w, struct pq__tw *t, const struct pq__col *c,
                         const struct pq__cmeta *m)
{
    static const int phys[] = {T_BOOLEAN, T_INT32, T_INT64, T_DOUBLE, T_BYTE_ARRAY};
    static const int codec[] = {CODEC_ZSTD, CODEC_GZIP, CODEC_UNCOMPRESSED};
    pq__tw_struct_begin(t, 0);
    pq__tw_i64(t, 2, 0); /* required by Thrift; the metadata lives in the footer, not here */
    pq__tw_struct_begin(t, 3);
    pq__tw_i32(t, 1, phys[c->type]);
    int encs[3], nenc = 0;
    if (m->has_dict || m->n_plain_pages > 0) {
        encs[nenc++] = ENC_PLAIN;
    }
    if (c->optional) {
        encs[nenc++] = ENC_RLE;
    }
    if (m->n_dict_data_pages > 0) {
        encs[nenc++] = ENC_RLE_DICTIONARY;
    }
    pq__tw_list_begin(t, 2, PQ__T_I32, (uint32_t)nenc);
    for (int i = 0; i < nenc; i++) {
        pq__tw_elem_i32(t, encs[i]);
    }
    pq__tw_list_begin(t, 3, PQ__T_BINARY, 1);
    pq__tw_elem_bin(t, c->name, strlen(c->name));
    pq__tw_i32(t, 4, codec[w->o.codec]);
    pq__tw_i64(t, 5, m->num_values);
    pq__tw_i64(t, 6, m->unc);
    pq__tw_i64(t, 7, m->comp);
    pq__tw_i64(t, 9, m->data_off);
    if (m->has_dict) {
        pq__tw_i64(t, 11, m->dict_off);
    }
    pq__tw_struct_begin(t, 12);
    pq__tw_i64(t, 3, m->null_count);
    if (m->has_max) {
        pq__tw_bin(t, 5, w->statbytes.p + m->max_off, m->max_len);
    }
    if (m->has_min) {
        pq__tw_bin(t, 6, w->statbytes.p + m->min_off, m->min_len);
    }
    if (m->has_max) {
        pq__tw_bool(t, 7, m->max_exact);
    }
    if (m->has_min) {
        pq__tw_bool(t, 8, m->min_exact);
    }
    if (m->nan_count >= 0) {
        pq__tw_i64(t, 9, m->nan_count); /* without it readers must assume NaNs may be present */
    }
    pq__tw_struct_end(t);
    int nstats = (m->has_dict ? 1 : 0) + (m->n_dict_data_pages > 0) + (m->n_plain_pages > 0);
    pq__tw_list_begin(t, 13, PQ__T_STRUCT, (uint32_t)nstats);
    if (m->has_dict) {
        pq__tw_struct_begin(t, 0);
        pq__tw_i32(t, 1, PAGE_DICTIONARY);
        pq__tw_i32(t, 2, ENC_PLAIN);
        pq__tw_i32(t, 3, 1);
        pq__tw_struct_end(t);
    }
    if (m->n_dict_data_pages > 0) {
        pq__tw_struct_begin(t, 0);
        pq__tw_i32(t, 1, PAGE_DATA);
        pq__tw_i32(t, 2, ENC_RLE_DICTIONARY);
        pq__tw_i32(t, 3, m->n_dict_data_pages);
        pq__tw_struct_end(t);
    }
    if (m->n_plain_pages > 0) {
        pq__tw_struct_begin(t, 0);
        pq__tw_i32(t, 1, PAGE_DATA);
        pq__tw_i32(t, 2, ENC_PLAIN);
        pq__tw_i32(t, 3, m->n_plain_pages);
        pq__tw_struct_end(t);
    }
    pq__tw_struct_end(t); /* ColumnMetaData */
    pq__tw_struct_end(t); /* ColumnChunk */
}

int pq__write_footer(pq_writer *w)
{
    struct wr_buf *b = &w->body;
    b->len = 0;
    struct pq__tw t;
    pq__tw_init(&t, b);
    pq__tw_i32(&t, 1, 1);
    pq__tw_list_begin(&t, 2, PQ__T_STRUCT, (uint32_t)(w->ncols + 1));
    pq__tw_struct_begin(&t, 0);
    pq__tw_str(&t, 4, "schema");
    pq__tw_i32(&t, 5, (int32_t)w->ncols);
    pq__tw_struct_end(&t);
    for (size_t i = 0; i < w->ncols; i++) {
        schema_leaf(&t, &w->cols[i]);
    }
    pq__tw_i64(&t, 3, (int64_t)w->total_rows);
    size_t nrg = w->rgmetas.len / sizeof(struct pq__rgmeta);
    pq__tw_list_begin(&t, 4, PQ__T_STRUCT, (uint32_t)nrg);
    for (size_t r = 0; r < nrg; r++) {
        struct pq__rgmeta rg;
        memcpy(&rg, w->rgmetas.p + r * sizeof rg, sizeof rg);
        pq__tw_struct_begin(&t, 0);
        pq__tw_list_begin(&t, 1, PQ__T_STRUCT, (uint32_t)w->ncols);
        for (size_t i = 0; i < w->ncols; i++) {
            struct pq__cmeta m;
            memcpy(&m, w->cmetas.p + (r * w->ncols + i) * sizeof m, sizeof m);
            column_chunk(w, &t, &w->cols[i], &m);
        }
        pq__tw_i64(&t, 2, rg.total_unc);
        pq__tw_i64(&t, 3, rg.num_rows);
        pq__tw_i64(&t, 5, rg.file_offset);
        pq__tw_i64(&t, 6, rg.total_comp);
        if (r <= INT16_MAX) {
            pq__tw_field(&t, PQ__T_I16, 7);
            pq__put_uvarint(b, pq__zigzag64((int64_t)r));
        }
        pq__tw_struct_end(&t);
    }
    if (w->nkv > 0) {
        pq__tw_list_begin(&t, 5, PQ__T_STRUCT, (uint32_t)w->nkv);
        for (size_t i = 0; i < w->nkv; i++) {
            pq__tw_struct_begin(&t, 0);
            pq__tw_str(&t, 1, w->kv[2 * i]);
            pq__tw_str(&t, 2, w->kv[2 * i + 1]);
            pq__tw_struct_end(&t);
        }
    }
    pq__tw_str(&t, 6, w->created_by);
    pq__tw_list_begin(&t, 7, PQ__T_STRUCT, (uint32_t)w->ncols);
    for (size_t i = 0; i < w->ncols; i++) {
        pq__tw_struct_begin(&t, 0); /* ColumnOrder */
        pq__tw_struct_begin(&t, 1); /* TYPE_ORDER: TypeDefinedOrder */
        pq__tw_struct_end(&t);
        pq__tw_struct_end(&t);
    }
    pq__tw_end(&t);
    int rc = pq__buf_check(w, b);
    if (rc != 0) {
        return rc;
    }
    if (t.overflow || b->len > UINT32_MAX) {
        return pq__fail(w, WR_ELIMIT, "parquet: footer too large");
    }
    uint8_t tail[8];
    uint32_t n = (uint32_t)b->len;
    tail[0] = (uint8_t)n;
    tail[1] = (uint8_t)(n >> 8);
    tail[2] = (uint8_t)(n >> 16);
    tail[3] = (uint8_t)(n >> 24);
    memcpy(tail + 4, "PAR1", 4);
    if ((rc = pq__emit(w, b->p, b->len)) != 0) {
        return rc;
    }
    return pq__emit(w, tail, 8);
}
