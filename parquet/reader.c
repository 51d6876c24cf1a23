/* reader.c - the Parquet reader's public API (pq_read.h): opening (footer via pread), projection,
 * range filters with row-group pruning by statistics, and loading one row group of the read
 * columns at a time (each column by read_column.c into row-indexed arrays, byte strings
 * pointing into the kept page buffers). All of a group's memory is counted against
 * max_group_bytes and reused for the next group. */
#include "common/array.h"
#include "parquet/pq_read.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parquet/read_int.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "PLAIN values are copied in host order: little-endian hosts only"
#endif

/* ---- sources ---- */

static int fd_pread(void *arg, void *buf, size_t len, uint64_t off)
{
    pq_reader *r = arg;
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(r->fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return WR_EIO;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

static int mem_pread(void *arg, void *buf, size_t len, uint64_t off)
{
    pq_reader *r = arg;
    if (off > r->src.size || len > r->src.size - off) {
        return WR_EIO;
    }
    memcpy(buf, r->mem + off, len);
    return 0;
}

int pqr_src_read(pq_reader *r, void *buf, size_t len, uint64_t off)
{
    r->stats.bytes_read += len;
    return r->src.pread(r->src.arg, buf, len, off);
}

/* ---- memory ---- */

static uint64_t budget_used(const pq_reader *r)
{
    return r->group_bytes + r->io_cap + r->scratch_cap + r->pagebuf_cap + r->colbuf_bytes;
}

/* Bump allocation from the group's blocks; the blocks stay allocated for the next group (no
 * page faults for memory the previous group already touched). NULL past the budget. */
void *pqr_galloc(pq_reader *r, size_t n, int zero)
{
    if (n > r->o.max_group_bytes) {
        return NULL;
    }
    n = n ? (n + 15) & ~(size_t)15 : 16;
    for (; r->cur_blk < r->nblks; r->cur_blk++) {
        struct blk *b = &r->blks[r->cur_blk];
        if (b->cap - b->used >= n) {
            uint8_t *p = b->p + b->used;
            b->used += n;
            if (zero) {
                memset(p, 0, n);
            }
            return p;
        }
    }
    size_t size = n > BLK_BYTES ? n : BLK_BYTES;
    if (budget_used(r) > r->o.max_group_bytes - size) {
        size = n; /* the last bytes of the budget: exactly what is asked */
        if (budget_used(r) > r->o.max_group_bytes - size) {
            return NULL;
        }
    }
    if (wr_array_grow(&r->blks, &r->blks_cap, r->nblks + 1, sizeof *r->blks, 16, 0) != 0) {
        return NULL;
    }
    uint8_t *p = zero ? calloc(1, size) : malloc(size);
    if (!p) {
        return NULL;
    }
    r->blks[r->nblks++] = (struct blk){p, size, n};
    r->cur_blk = r->nblks - 1;
    r->group_bytes += size;
    return p;
}

static void group_free(pq_reader *r)
{
    for (size_t i = 0; i < r->nblks; i++) {
        r->blks[i].used = 0;
    }
    r->cur_blk = 0;
    for (size_t i = 0; i < r->ncols; i++) {
        r->cols[i].valid = NULL;
        r->cols[i].values = NULL;
        r->cols[i].loaded = 0;
    }
    r->sel = NULL;
    r->match = NULL;
    r->nsel = 0;
    r->have_group = 0;
    r->row_ready = 0;
}

/* Grows a reused buffer to n bytes within the budget (zeroed when zero). */
static int grow(pq_reader *r, uint8_t **p, size_t *cap, size_t n, int zero)
{
    if (*cap >= n) {
        return 0;
    }
    size_t nc = n < 4096 ? 4096 : n;
    uint64_t others = budget_used(r) - *cap;
    if (nc > r->o.max_group_bytes || others > r->o.max_group_bytes - nc) {
        if (n > r->o.max_group_bytes || others > r->o.max_group_bytes - n) {
            return WR_ELIMIT;
        }
        nc = n;
    }
    free(*p);
    *p = zero ? calloc(1, nc) : malloc(nc);
    *cap = *p ? nc : 0;
    return *p ? 0 : WR_ENOMEM;
}

int pqr_grow(pq_reader *r, uint8_t **p, size_t *cap, size_t n)
{
    return grow(r, p, cap, n, 0);
}

/* A column's reused buffer: the same budget, tracked in colbuf_bytes. Zeroed when allocated
 * (calloc: pages the group never touches cost nothing): rows a filtered read does not
 * materialize then hold zero or an earlier group's value, never uninitialized memory. */
int pqr_grow_col(pq_reader *r, uint8_t **p, size_t *cap, size_t n)
{
    size_t before = *cap;
    int rc = grow(r, p, cap, n, 1);
    r->colbuf_bytes = r->colbuf_bytes - before + *cap;
    return rc;
}

static void free_col_bufs(pq_reader *r)
{
    for (size_t i = 0; i < r->ncols; i++) {
        free(r->cols[i].vbuf);
        free(r->cols[i].mbuf);
        r->cols[i].vbuf = r->cols[i].mbuf = NULL;
        r->cols[i].vcap = r->cols[i].mcap = 0;
    }
    r->colbuf_bytes = 0;
}

/* ---- opening ---- */

static void set_defaults(struct pq_read_opts *o, const struct pq_read_opts *in)
{
    memset(o, 0, sizeof *o);
    if (in) {
        *o = *in;
    }
    if (!o->max_footer_bytes) {
        o->max_footer_bytes = 64u << 20;
    }
    if (!o->max_page_bytes) {
        o->max_page_bytes = 256u << 20;
    }
    if (!o->max_group_bytes) {
        o->max_group_bytes = (uint64_t)1 << 30;
    }
    if (!o->max_group_rows) {
        o->max_group_rows = 64u << 20;
    }
}

static int read_footer(pq_reader *r, struct wr_err *err)
{
    uint64_t size = r->src.size;
    uint8_t tail[8], head[4];
    if (size < 12) {
        return wr_err_set(err, WR_EINVAL, "not a Parquet file: %llu bytes",
                          (unsigned long long)size);
    }
    if (pqr_src_read(r, head, 4, 0) || pqr_src_read(r, tail, 8, size - 8)) {
        return wr_err_set(err, WR_EIO, "read failed: %s", strerror(errno));
    }
    if (memcmp(tail + 4, "PARE", 4) == 0) {
        return wr_err_set(err, WR_EINVAL, "encrypted Parquet files are not supported");
    }
    if (memcmp(head, "PAR1", 4) || memcmp(tail + 4, "PAR1", 4)) {
        return wr_err_set(err, WR_EINVAL, "not a Parquet file: no PAR1 magic at both ends");
    }
    uint64_t flen = (uint64_t)tail[0] | (uint64_t)tail[1] << 8 | (uint64_t)tail[2] << 16 |
                    (uint64_t)tail[3] << 24;
    if (flen == 0 || flen > size - 12) {
        return wr_err_set(err, WR_EINVAL, "footer length %llu does not fit a file of %llu bytes",
                          (unsigned long long)flen, (unsigned long long)size);
    }
    if (flen > r->o.max_footer_bytes) {
        return wr_err_set(err, WR_ELIMIT, "footer of %llu bytes is over the limit of %llu",
                          (unsigned long long)flen, (unsigned long long)r->o.max_footer_bytes);
    }
    r->m.footer = malloc((size_t)flen);
    if (!r->m.footer) {
        return wr_err_set(err, WR_ENOMEM, "out of memory for a footer of %llu bytes",
                          (unsigned long long)flen);
    }
    r->m.footer_len = (size_t)flen;
    if (pqr_src_read(r, r->m.footer, (size_t)flen, size - 8 - flen)) {
        return wr_err_set(err, WR_EIO, "read failed: %s", strerror(errno));
    }
    return pqr_meta_parse(&r->m, size - 8 - flen, err);
}

static int default_projection(pq_reader *r, struct wr_err *err)
{
    size_t n = 0;
    for (size_t i = 0; i < r->m.nleaves; i++) {
        n += r->m.leaves[i].c.unsupported == NULL;
    }
    r->cols = calloc(n ? n : 1, sizeof *r->cols);
    if (!r->cols) {
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < r->m.nleaves; i++) {
        if (!r->m.leaves[i].c.unsupported) {
            struct rcol *c = &r->cols[r->ncols++];
            c->leaf = i;
            c->L = &r->m.leaves[i];
        }
    }
    r->nproj = r->ncols;
    return 0;
}

static size_t vsize_of(enum pq_ptype t)
{
    switch (t) {
    case PQ_PT_BOOLEAN: return 1;
    case PQ_PT_INT32:
    case PQ_PT_FLOAT: return 4;
    case PQ_PT_INT64:
    case PQ_PT_DOUBLE: return 8;
    default: return sizeof(struct pq_bytes);
    }
}

static pq_reader *open_common(pq_reader *r, const struct pq_read_opts *opts, struct wr_err *err)
{
    set_defaults(&r->o, opts);
    if (read_footer(r, err) || default_projection(r, err)) {
        pq_reader_destroy(r);
        return NULL;
    }
    for (size_t i = 0; i < r->ncols; i++) {
        r->cols[i].vsize = vsize_of(r->cols[i].L->c.type);
    }
    return r;
}

pq_reader *pq_reader_open_source(const struct pq_source *src, const struct pq_read_opts *opts,
                                 struct wr_err *err)
{
    pq_reader *r = calloc(1, sizeof *r);
    if (!r) {
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    r->fd = -1;
    r->src = *src;
    return open_common(r, opts, err);
}

pq_reader *pq_reader_open_mem(const void *p, size_t len, const struct pq_read_opts *opts,
                              struct wr_err *err)
{
    pq_reader *r = calloc(1, sizeof *r);
    if (!r) {
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    r->fd = -1;
    r->mem = p;
    r->src.arg = r;
    r->src.pread = mem_pread;
    r->src.size = len;
    return open_common(r, opts, err);
}

pq_reader *pq_reader_open(const char *path, const struct pq_read_opts *opts, struct wr_err *err)
{
    pq_reader *r = calloc(1, sizeof *r);
    if (!r) {
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        wr_err_set(err, errno == ENOENT ? WR_ENOENT : WR_EIO, "open %s: %s", path, strerror(errno));
        free(r);
        return NULL;
    }
    off_t end = lseek(r->fd, 0, SEEK_END);
    if (end < 0) {
        wr_err_set(err, WR_EIO, "seek %s: %s", path, strerror(errno));
        close(r->fd);
        free(r);
        return NULL;
    }
    r->src.arg = r;
    r->src.pread = fd_pread;
    r->src.size = (uint64_t)end;
    return open_common(r, opts, err);
}

void pq_reader_destroy(pq_reader *r)
{
    if (!r) {
        return;
    }
    group_free(r);
    for (size_t i = 0; i < r->nblks; i++) {
        free(r->blks[i].p);
    }
    free(r->blks);
    for (size_t i = 0; i < r->nfilters; i++) {
        free((void *)r->filters[i].lo.p);
        free((void *)r->filters[i].hi.p);
    }
    free(r->filters);
    free_col_bufs(r);
    free(r->cols);
    free(r->io);
    free(r->scratch);
    free(r->pagebuf);
    pqr_codecs_free(&r->codecs);
    pqr_meta_free(&r->m);
    if (r->fd >= 0) {
        close(r->fd);
    }
    free(r);
}

/* ---- footer accessors ---- */

uint64_t pq_reader_num_rows(const pq_reader *r)
{
    return (uint64_t)r->m.num_rows;
}
size_t pq_reader_num_row_groups(const pq_reader *r)
{
    return r->m.ngroups;
}
size_t pq_reader_num_columns(const pq_reader *r)
{
    return r->m.nleaves;
}
const char *pq_reader_created_by(const pq_reader *r)
{
    return r->m.created_by ? r->m.created_by : "";
}

uint64_t pq_reader_row_group_rows(const pq_reader *r, size_t g)
{
    return g < r->m.ngroups ? (uint64_t)r->m.groups[g].num_rows : 0;
}

const struct pq_rcol *pq_reader_column(const pq_reader *r, size_t i)
{
    return i < r->m.nleaves ? &r->m.leaves[i].c : NULL;
}

long pq_reader_find_column(const pq_reader *r, const char *name)
{
    for (size_t i = 0; i < r->m.nleaves; i++) {
        if (strcmp(r->m.leaves[i].name, name) == 0) {
            return (long)i;
        }
    }
    return -1;
}

const char *pq_reader_kv(const pq_reader *r, const char *key)
{
    for (size_t i = 0; i < r->m.nkv; i++) {
        if (r->m.kv[i].key && strcmp(r->m.kv[i].key, key) == 0) {
            return r->m.kv[i].value ? r->m.kv[i].value : "";
        }
    }
    return NULL;
}

/* ---- projection and filters ---- */

static int leaf_usable(const pq_reader *r, const char *name, long *leaf, struct wr_err *err)
{
    *leaf = pq_reader_find_column(r, name);
    if (*leaf < 0) {
        return wr_err_set(err, WR_ENOENT, "no column %s in the file", name);
    }
    if (r->m.leaves[*leaf].c.unsupported) {
        return wr_err_set(err, WR_EINVAL, "column %s: %s", name, r->m.leaves[*leaf].c.unsupported);
    }
    return 0;
}

int pq_reader_project(pq_reader *r, const char *const *names, size_t n, struct wr_err *err)
{
    if (r->started || r->nfilters) {
        return wr_err_set(err, WR_EINVAL, "projection must come before filters and reading");
    }
    struct rcol *nc = calloc(n ? n : 1, sizeof *nc);
    if (!nc) {
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        long leaf;
        int rc = leaf_usable(r, names[i], &leaf, err);
        if (rc) {
            free(nc);
            return rc;
        }
        nc[i].leaf = (size_t)leaf;
        nc[i].L = &r->m.leaves[leaf];
        nc[i].vsize = vsize_of(nc[i].L->c.type);
    }
    free_col_bufs(r);
    free(r->cols);
    r->cols = nc;
    r->ncols = r->nproj = n;
    return 0;
}

static int copy_fv(struct pq_fv *dst, const struct pq_fv *src)
{
    *dst = *src;
    dst->p = NULL;
    if (src->kind == PQ_FV_BYTES) {
        void *p = malloc(src->len ? src->len : 1);
        if (!p) {
            return WR_ENOMEM;
        }
        if (src->len) {
            memcpy(p, src->p, src->len);
        }
        dst->p = p;
    }
    return 0;
}

int pq_reader_filter(pq_reader *r, const char *column, const struct pq_fv *lo,
                     const struct pq_fv *hi, struct wr_err *err)
{
    if (r->started) {
        return wr_err_set(err, WR_EINVAL, "filters must come before reading");
    }
    long leaf;
    int rc = leaf_usable(r, column, &leaf, err);
    if (rc) {
        return rc;
    }
    const struct pq_rcol *c = &r->m.leaves[leaf].c;
    enum pq_fv_kind want = c->type == PQ_PT_FLOAT || c->type == PQ_PT_DOUBLE      ? PQ_FV_DOUBLE
                           : c->type == PQ_PT_BYTE_ARRAY || c->type == PQ_PT_FLBA ? PQ_FV_BYTES
                           : c->type == PQ_PT_INT96 ? (enum pq_fv_kind) - 1
                                                    : PQ_FV_INT;
    if ((lo && lo->kind != want) || (hi && hi->kind != want) || (int)want < 0) {
        return wr_err_set(err, WR_EINVAL, "column %s: filter value of the wrong kind", column);
    }
    if (want == PQ_FV_BYTES && c->logical == PQ_RL_DECIMAL) {
        return wr_err_set(err, WR_EINVAL,
                          "column %s: filters on decimals stored as bytes are not supported",
                          column);
    }
    size_t rcidx = r->ncols;
    for (size_t i = 0; i < r->ncols; i++) {
        if (r->cols[i].leaf == (size_t)leaf) {
            rcidx = i;
        }
    }
    if (rcidx == r->ncols) {
        struct rcol *nc = realloc(r->cols, (r->ncols + 1) * sizeof *nc);
        if (!nc) {
            return wr_err_set(err, WR_ENOMEM, "out of memory");
        }
        r->cols = nc;
        memset(&nc[rcidx], 0, sizeof nc[rcidx]);
        nc[rcidx].leaf = (size_t)leaf;
        nc[rcidx].L = &r->m.leaves[leaf];
        nc[rcidx].vsize = vsize_of(c->type);
        r->ncols++;
    }
    struct rfilter *nf = realloc(r->filters, (r->nfilters + 1) * sizeof *nf);
    if (!nf) {
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    r->filters = nf;
    struct rfilter *f = &nf[r->nfilters];
    memset(f, 0, sizeof *f);
    f->rc = rcidx;
    f->uns = c->logical == PQ_RL_INT && !c->int_signed;
    if ((lo && copy_fv(&f->lo, lo)) || (hi && copy_fv(&f->hi, hi))) {
        free((void *)f->lo.p);
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    f->has_lo = lo != NULL;
    f->has_hi = hi != NULL;
    r->nfilters++;
    return 0;
}

/* ---- comparisons (filters against values and statistics) ---- */

static int cmp_int(int64_t a, int64_t b, int uns)
{
    if (uns) {
        return (uint64_t)a < (uint64_t)b ? -1 : (uint64_t)a > (uint64_t)b;
    }
    return a < b ? -1 : a > b;
}

static int cmp_bytes(const uint8_t *a, size_t al, const void *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) {
        return c;
    }
    return al < bl ? -1 : al > bl;
}

/* Does a value match filter f? slot is one value slot of the column's type. */
int pqr_match_slot(const struct rfilter *f, enum pq_ptype t, const void *slot)
{
    int uns32 = t == PQ_PT_INT32 && f->uns;
    switch (t) {
    case PQ_PT_BOOLEAN:
    case PQ_PT_INT32:
    case PQ_PT_INT64: {
        int64_t v;
        if (t == PQ_PT_BOOLEAN) {
            v = *(const uint8_t *)slot;
        } else if (t == PQ_PT_INT32) {
            int32_t x;
            memcpy(&x, slot, 4);
            v = uns32 ? (int64_t)(uint32_t)x : x;
        } else {
            memcpy(&v, slot, 8);
        }
        int uns = f->uns && t == PQ_PT_INT64;
        return (!f->has_lo || cmp_int(v, f->lo.i, uns) >= 0) &&
               (!f->has_hi || cmp_int(v, f->hi.i, uns) <= 0);
    }
    case PQ_PT_FLOAT:
    case PQ_PT_DOUBLE: {
        double v;
        if (t == PQ_PT_FLOAT) {
            float x;
            memcpy(&x, slot, 4);
            v = x;
        } else {
            memcpy(&v, slot, 8);
        }
        return (!f->has_lo || v >= f->lo.d) && (!f->has_hi || v <= f->hi.d);
    }
    default: {
        const struct pq_bytes *b = slot;
        return (!f->has_lo || cmp_bytes(b->p, b->len, f->lo.p, f->lo.len) >= 0) &&
               (!f->has_hi || cmp_bytes(b->p, b->len, f->hi.p, f->hi.len) <= 0);
    }
    }
}

/* True when the chunk's statistics prove that no value matches f. */
static int stats_exclude(const pq_reader *r, const struct rfilter *f, const struct pqr_chunk *ch)
{
    const struct rcol *c = &r->cols[f->rc];
    const struct pq_rcol *pc = &c->L->c;
    const struct pqr_stats *s = &ch->st;
    if (s->has_null_count && s->null_count >= ch->num_values) {
        return 1; /* all null (or empty): nulls never match */
    }
    const uint8_t *mn = s->min, *mx = s->max;
    uint32_t mnl = s->min_len, mxl = s->max_len;
    int uns = f->uns;
    int signed_order =
        (pc->type == PQ_PT_INT32 || pc->type == PQ_PT_INT64 || pc->type == PQ_PT_FLOAT ||
         pc->type == PQ_PT_DOUBLE || pc->type == PQ_PT_BOOLEAN) &&
        !uns;
    if ((!mn || !mx) && signed_order) {
        mn = s->old_min;
        mx = s->old_max;
        mnl = s->old_min_len;
        mxl = s->old_max_len;
    }
    if (!mn || !mx) {
        return 0;
    }
    switch (pc->type) {
    case PQ_PT_BOOLEAN:
    case PQ_PT_INT32:
    case PQ_PT_INT64: {
        size_t w = pc->type == PQ_PT_BOOLEAN ? 1 : pc->type == PQ_PT_INT32 ? 4 : 8;
        if (mnl != w || mxl != w) {
            return 0;
        }
        int64_t a, b;
        if (w == 1) {
            a = mn[0];
            b = mx[0];
        } else if (w == 4) {
            int32_t x, y;
            memcpy(&x, mn, 4);
            memcpy(&y, mx, 4);
            a = uns ? (int64_t)(uint32_t)x : x;
            b = uns ? (int64_t)(uint32_t)y : y;
        } else {
            memcpy(&a, mn, 8);
            memcpy(&b, mx, 8);
        }
        int u64 = uns && w == 8;
        return (f->has_hi && cmp_int(f->hi.i, a, u64) < 0) ||
               (f->has_lo && cmp_int(f->lo.i, b, u64) > 0);
    }
    case PQ_PT_FLOAT:
    case PQ_PT_DOUBLE: {
        double a, b;
        if (pc->type == PQ_PT_FLOAT) {
            float x, y;
            if (mnl != 4 || mxl != 4) {
                return 0;
            }
            memcpy(&x, mn, 4);
            memcpy(&y, mx, 4);
            a = x;
            b = y;
        } else {
            if (mnl != 8 || mxl != 8) {
                return 0;
            }
            memcpy(&a, mn, 8);
            memcpy(&b, mx, 8);
        }
        if (isnan(a) || isnan(b)) {
            return 0;
        }
        return (f->has_hi && f->hi.d < a) || (f->has_lo && f->lo.d > b);
    }
    case PQ_PT_BYTE_ARRAY:
    case PQ_PT_FLBA:
        return (f->has_hi && cmp_bytes(f->hi.p, f->hi.len, mn, mnl) < 0) ||
               (f->has_lo && cmp_bytes(f->lo.p, f->lo.len, mx, mxl) > 0);
    default: return 0;
    }
}

/* ---- iteration ---- */

static int group_pruned(const pq_reader *r, size_t g)
{
    for (size_t i = 0; i < r->nfilters; i++) {
        const struct rfilter *f = &r->filters[i];
        if (stats_exclude(r, f, &r->m.groups[g].chunks[r->cols[f->rc].leaf])) {
            return 1;
        }
    }
    return 0;
}

static int select_rows(pq_reader *r, struct wr_err *err)
{
    size_t n = r->group_rows;
    r->sel = pqr_galloc(r, (n ? n : 1) * sizeof(uint32_t), 0);
    if (!r->sel) {
        return wr_err_set(err, WR_ELIMIT, "row group %zu over the memory limit (selection)",
                          r->cur_g);
    }
    size_t k = 0;
    if (!r->match) {
        for (size_t i = 0; i < n; i++) {
            r->sel[i] = (uint32_t)i;
        }
        k = n;
    } else {
        const uint8_t *m = r->match;
        for (size_t i = 0; i < n; i++) {
            r->sel[k] = (uint32_t)i;
            k += m[i];
        }
    }
    r->nsel = k;
    return 0;
}

/* Reads the filtered columns into r->match, stopping at the first one that leaves no row. */
static int filter_group(pq_reader *r, size_t g, struct wr_err *err)
{
    size_t n = r->group_rows;
    r->match = pqr_galloc(r, n ? n : 1, 0);
    if (!r->match) {
        return wr_err_set(err, WR_ELIMIT, "row group %zu over the memory limit (selection)", g);
    }
    memset(r->match, 1, n);
    const struct rfilter *fl[16];
    /* Columns in the order of their first filter: the caller puts the most selective first. */
    for (size_t first = 0; first < r->nfilters; first++) {
        size_t i = r->filters[first].rc, nf = 0;
        int seen_before = 0;
        for (size_t j = 0; j < first; j++) {
            seen_before |= r->filters[j].rc == i;
        }
        if (seen_before) {
            continue;
        }
        for (size_t j = first; j < r->nfilters; j++) {
            if (r->filters[j].rc == i && nf < sizeof fl / sizeof fl[0]) {
                fl[nf++] = &r->filters[j];
            }
        }
        if (n > 0 && !memchr(r->match, 1, n)) {
            break; /* no row left: the group is skipped, its other filtered columns unread */
        }
        int rc = pqr_load_filtered(r, &r->cols[i], g, fl, nf, err);
        if (rc) {
            return rc;
        }
        /* More than 16 filters on one column: the rest are checked row by row. */
        size_t seen = 0;
        for (size_t j = 0; j < r->nfilters; j++) {
            if (r->filters[j].rc != i || seen++ < nf) {
                continue;
            }
            const struct rcol *c = &r->cols[i];
            for (size_t k = 0; k < n; k++) {
                if (r->match[k] && (!c->valid || c->valid[k])) {
                    r->match[k] = (uint8_t)pqr_match_slot(
                        &r->filters[j], c->L->c.type, (const uint8_t *)c->values + k * c->vsize);
                }
            }
        }
    }
    return 0;
}

static int fail_sticky(pq_reader *r, int rc, struct wr_err *err)
{
    r->failed = rc;
    if (err) {
        r->fail_err = *err;
    }
    return rc;
}

int pq_reader_next_group(pq_reader *r, struct wr_err *err)
{
    struct wr_err local;
    if (!err) {
        err = &local;
    }
    if (r->failed) {
        *err = r->fail_err;
        return r->failed;
    }
    r->started = 1;
    group_free(r);
    while (r->next_g < r->m.ngroups) {
        size_t g = r->next_g++;
        if (group_pruned(r, g)) {
            r->stats.groups_skipped_stats++;
            continue;
        }
        int64_t rows = r->m.groups[g].num_rows;
        if ((uint64_t)rows > r->o.max_group_rows || (uint64_t)rows > UINT32_MAX) {
            wr_err_set(err, WR_ELIMIT, "row group %zu has %lld rows, over the limit of %llu", g,
                       (long long)rows, (unsigned long long)r->o.max_group_rows);
            return fail_sticky(r, WR_ELIMIT, err);
        }
        r->cur_g = g;
        r->group_rows = (size_t)rows;
        int rc = r->nfilters ? filter_group(r, g, err) : 0;
        if (rc == 0) {
            rc = select_rows(r, err);
        }
        if (rc) {
            group_free(r);
            return fail_sticky(r, rc, err);
        }
        r->stats.rows_scanned += (uint64_t)rows;
        if (r->nfilters && r->nsel == 0) {
            r->stats.groups_skipped_rows++;
            group_free(r);
            continue;
        }
        for (size_t i = 0; i < r->ncols; i++) {
            if (!r->cols[i].loaded) {
                rc = pqr_load_column(r, &r->cols[i], g, err);
                if (rc) {
                    group_free(r);
                    return fail_sticky(r, rc, err);
                }
            }
        }
        r->stats.groups_read++;
        r->have_group = 1;
        r->cur_row = 0;
        r->row_ready = 0;
        return 1;
    }
    return 0;
}

size_t pq_reader_group_index(const pq_reader *r)
{
    return r->cur_g;
}
size_t pq_reader_group_rows(const pq_reader *r)
{
    return r->have_group ? r->group_rows : 0;
}

int pq_reader_batch(const pq_reader *r, size_t k, struct pq_batch *b)
{
    if (!r->have_group || k >= r->nproj) {
        return WR_EINVAL;
    }
    const struct rcol *c = &r->cols[k];
    b->col = &c->L->c;
    b->nrows = r->group_rows;
    b->valid = c->valid;
    b->values = c->values;
    return 0;
}

const uint32_t *pq_reader_selection(const pq_reader *r, size_t *n)
{
    *n = r->have_group ? r->nsel : 0;
    return r->sel;
}

int pq_reader_next_row(pq_reader *r, struct wr_err *err)
{
    if (r->have_group && r->row_ready && r->cur_row + 1 < r->nsel) {
        r->cur_row++;
        return 1;
    }
    if (r->have_group && !r->row_ready && r->nsel > 0) {
        r->row_ready = 1;
        r->cur_row = 0;
        return 1;
    }
    for (;;) {
        int rc = pq_reader_next_group(r, err);
        if (rc <= 0) {
            return rc;
        }
        if (r->nsel > 0) {
            r->row_ready = 1;
            r->cur_row = 0;
            return 1;
        }
    }
}

void pq_reader_value(const pq_reader *r, size_t k, struct pq_value *v)
{
    memset(v, 0, sizeof *v);
    if (!r->have_group || !r->row_ready || k >= r->nproj) {
        v->null = 1;
        return;
    }
    const struct rcol *c = &r->cols[k];
    size_t i = r->sel[r->cur_row];
    if (c->valid && !c->valid[i]) {
        v->null = 1;
        return;
    }
    const uint8_t *s = (const uint8_t *)c->values + i * c->vsize;
    switch (c->L->c.type) {
    case PQ_PT_BOOLEAN: v->i = *s; break;
    case PQ_PT_INT32: {
        int32_t x;
        memcpy(&x, s, 4);
        v->i = x;
        break;
    }
    case PQ_PT_INT64: memcpy(&v->i, s, 8); break;
    case PQ_PT_FLOAT: {
        float x;
        memcpy(&x, s, 4);
        v->d = x;
        break;
    }
    case PQ_PT_DOUBLE: memcpy(&v->d, s, 8); break;
    default: {
        const struct pq_bytes *b = (const struct pq_bytes *)s;
        v->p = b->p;
        v->len = b->len;
    }
    }
}

void pq_reader_stats(const pq_reader *r, struct pq_read_stats *s)
{
    *s = r->stats;
}
