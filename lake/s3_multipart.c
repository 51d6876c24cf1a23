/* s3_multipart.c - multipart upload for the s3:// backend (objects over the store's
 * multipart threshold): initiate, one PUT per part, complete; an upload that fails after
 * it started is aborted so it does not hold storage. Split from s3.c, which owns the
 * store, the request/retry loop (lake__s3_request) and the single-PUT path. */
#include <stdio.h>
#include <string.h>

#include "lake/lake_int.h"

#define SMALL_BODY_MAX (1024u * 1024u)
#define MAX_PARTS 10000

static int upload_abort(struct s3_store *s, const char *fk, const char *enc_id)
{
    struct wr_buf q, raw;
    wr_buf_init(&q, 8192);
    wr_buf_init(&raw, 8192);
    struct wr_err e2 = {0};
    int rc = wr_buf_printf(&raw, "uploadId=%s", enc_id);
    if (rc == 0) {
        rc = lake__s3_query(&q, raw.p, &e2);
    }
    if (rc == 0) {
        struct s3_call c = {.method = "DELETE", .key = fk, .query = q.p};
        rc = lake__s3_request(s, &c, &e2);
    }
    wr_buf_free(&q);
    wr_buf_free(&raw);
    return rc;
}

int lake__s3_put_multipart(struct s3_store *s, const char *fk, const struct lake__src *src,
                           struct wr_err *err)
{
    uint64_t part = s->part_size;
    while ((src->len + part - 1) / part > MAX_PARTS) {
        part *= 2;
    }
    struct wr_buf resp, q, raw, done, enc_id;
    wr_buf_init(&resp, SMALL_BODY_MAX);
    wr_buf_init(&q, 8192);
    wr_buf_init(&raw, 8192);
    wr_buf_init(&done, (size_t)MAX_PARTS * 200 + 256);
    wr_buf_init(&enc_id, 4096);
    int rc, started = 0;
    char upload_id[1024];

    /* Initiate. */
    if ((rc = lake__s3_query(&q, "uploads=", err)) != 0) {
        goto out;
    }
    struct s3_call init = {.method = "POST",
                           .key = fk,
                           .query = q.p,
                           .resp = &resp,
                           .content_type = lake__s3_content_type(fk)};
    if ((rc = lake__s3_request(s, &init, err)) != 0) {
        goto out;
    }
    const char *v;
    size_t vl, pos = 0;
    if (!lake__xml_find(resp.p ? resp.p : "", resp.len, &pos, "UploadId", &v, &vl) ||
        lake__xml_text(v, vl, upload_id, sizeof upload_id) != 0 || !upload_id[0]) {
        rc = wr_err_set(err, WR_EIO, "S3 initiate multipart %.80s: no UploadId in the answer", fk);
        goto out;
    }
    started = 1;
    s->base.stats.multipart_uploads++;
    if ((rc = lake__uri_encode(&enc_id, upload_id, strlen(upload_id), 0)) != 0 ||
        (rc = wr_buf_printf(&done, "<CompleteMultipartUpload>")) != 0) {
        rc = wr_err_set(err, rc, "upload id");
        goto out;
    }

    /* Parts. */
    unsigned n = 0;
    for (uint64_t off = 0; off < src->len || n == 0; off += part) {
        n++;
        struct lake__src ps = *src;
        uint64_t pl = src->len - off < part ? src->len - off : part;
        if (src->mem) {
            ps.mem = src->mem + off;
            ps.off = 0;
        } else {
            ps.off = src->off + off;
        }
        ps.len = pl;
        wr_buf_clear(&raw);
        if (wr_buf_printf(&raw, "partNumber=%u&uploadId=%s", n, enc_id.p) != 0 ||
            (rc = lake__s3_query(&q, raw.p, err)) != 0) {
            rc = rc ? rc : wr_err_set(err, WR_ELIMIT, "S3 part query");
            goto out;
        }
        struct s3_call pc = {.method = "PUT", .key = fk, .query = q.p, .body = &ps};
        if ((rc = lake__s3_request(s, &pc, err)) != 0) {
            goto out;
        }
        if (!pc.etag[0]) {
            rc =
                wr_err_set(err, WR_EIO, "S3 upload part %u of %.80s: no ETag in the answer", n, fk);
            goto out;
        }
        if (wr_buf_printf(&done, "<Part><PartNumber>%u</PartNumber><ETag>", n) != 0 ||
            lake__xml_escape(&done, pc.etag) != 0 || wr_buf_printf(&done, "</ETag></Part>") != 0) {
            rc = wr_err_set(err, WR_ENOMEM, "S3 complete document");
            goto out;
        }
        if (src->len == 0) {
            break;
        }
    }
    if (wr_buf_printf(&done, "</CompleteMultipartUpload>") != 0) {
        rc = wr_err_set(err, WR_ENOMEM, "S3 complete document");
        goto out;
    }

    /* Complete. */
    wr_buf_clear(&raw);
    if (wr_buf_printf(&raw, "uploadId=%s", enc_id.p) != 0 ||
        (rc = lake__s3_query(&q, raw.p, err)) != 0) {
        rc = rc ? rc : wr_err_set(err, WR_ELIMIT, "S3 complete query");
        goto out;
    }
    struct lake__src body = {.mem = done.p, .fd = -1, .off = 0, .len = done.len};
    wr_buf_clear(&resp);
    struct s3_call cc = {.method = "POST",
                         .key = fk,
                         .query = q.p,
                         .body = &body,
                         .content_type = "application/xml",
                         .resp = &resp,
                         .error_in_200 = 1};
    rc = lake__s3_request(s, &cc, err);
    if (rc == 0) {
        started = 0;
    }
out:
    if (started) {
        /* Best effort: an unfinished upload holds storage until aborted (or until a
         * bucket lifecycle rule AbortIncompleteMultipartUpload removes it). */
        upload_abort(s, fk, enc_id.p ? enc_id.p : "");
    }
    wr_buf_free(&resp);
    wr_buf_free(&q);
    wr_buf_free(&raw);
    wr_buf_free(&done);
    wr_buf_free(&enc_id);
    return rc;
}
