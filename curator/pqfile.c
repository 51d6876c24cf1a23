/* pqfile.c - a Parquet file on its way to the lake: written into a temporary file under
 * --tmp-dir, sealed (footer, flush), put with lake_store_put_fd, removed. The curated parts,
 * the day's rollup and the user-defined rollups are all written so. */
#include "cur_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int pqfile_write(void *arg, const void *p, size_t len)
{
    return fwrite(p, 1, len, (FILE *)arg) == len ? 0 : WR_EIO;
}

int cur__pqfile_open(struct cur_pqfile *pf, const char *tmp_dir, const char *what,
                     const struct pq_schema *s, const struct pq_opts *o, struct wr_err *err)
{
    pf->w = NULL;
    pf->f = NULL;
    snprintf(pf->path, sizeof pf->path, "%s/weir-%s-XXXXXX", tmp_dir, what);
    int fd = mkstemp(pf->path);
    if (fd < 0) {
        return wr_err_set(err, WR_EIO, "mkstemp in %s: %s", tmp_dir, strerror(errno));
    }
    pf->f = fdopen(fd, "w+b");
    if (!pf->f) {
        close(fd);
        unlink(pf->path);
        return wr_err_set(err, WR_EIO, "fdopen: %s", strerror(errno));
    }
    setvbuf(pf->f, NULL, _IOFBF, 1 << 20);
    pf->w = pq_writer_create(s, o, pqfile_write, pf->f, err);
    if (!pf->w) {
        fclose(pf->f);
        pf->f = NULL;
        unlink(pf->path);
        return err->code ? err->code : WR_EINVAL;
    }
    return 0;
}

int cur__pqfile_seal(struct cur_pqfile *pf, uint64_t *bytes, struct wr_err *err)
{
    int rc = pq_writer_close(pf->w, err);
    if (bytes) {
        *bytes = pq_writer_bytes_written(pf->w);
    }
    pq_writer_destroy(pf->w);
    pf->w = NULL;
    if (rc == 0 && fflush(pf->f) != 0) {
        rc = wr_err_set(err, WR_EIO, "write %s: %s", pf->path, strerror(errno));
    }
    return rc;
}

int cur__pqfile_finish(struct cur_pqfile *pf, int rc, lake_store *st, const char *key,
                       struct wr_err *err)
{
    pq_writer_destroy(pf->w);
    pf->w = NULL;
    if (rc == 0) {
        rc = lake_store_put_fd(st, key, fileno(pf->f), err);
    }
    if (pf->f) {
        fclose(pf->f);
        pf->f = NULL;
        unlink(pf->path);
    }
    return rc;
}
