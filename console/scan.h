/* scan.h - private to console/: reading the lake for one query. Listings, a scan budget
 * (bytes, rows, files, wall time) that says why a query stopped, and whole-file reads with
 * gzip inflation (a damaged raw file yields what was readable, and is reported). One query
 * owns its objects; nothing here is shared between threads. */
#ifndef WEIR_CON_SCAN_H
#define WEIR_CON_SCAN_H

#include "common/buf.h"
#include "common/gzip.h"
#include "console/con_int.h"
#include "lake/lake.h"

#include <stdbool.h>
#include <stdint.h>

struct con_obj {
    char *key;
    uint64_t size;
};

struct con_objs {
    struct con_obj *v;
    size_t n, cap;
};

/* Lists every object under prefix into o (appended). 0 or a lake error code with err. A
 * missing folder is an empty listing. */
int con_objs_list(lake_store *st, const char *prefix, struct con_objs *o, struct wr_err *err);
/* Sorts by key, descending (newest hour or part first). */
void con_objs_sort_desc(struct con_objs *o);
void con_objs_free(struct con_objs *o);

struct con_budget {
    uint64_t max_bytes, max_rows, max_files;
    int64_t deadline_ns;
    uint64_t bytes, rows, files;
    const char *stopped; /* NULL while within budget, else "scan_bytes", "scan_rows", ... */
};

void con_budget_init(struct con_budget *b, const struct con_config *cfg);
/* Counts one more file of size bytes about to be read: false (and stopped set) when it
 * would pass a limit. */
bool con_budget_file(struct con_budget *b, uint64_t bytes);
/* Counts rows looked at; false when past the limit or the deadline. */
bool con_budget_rows(struct con_budget *b, uint64_t rows);

/* Reads the gzip object at key (at most max_bytes inflated) into out (cleared first).
 * Returns 0; 1 when the file is damaged (out holds what inflated before the damage, msg in
 * err); negative when it could not be read at all (err). */
int con_read_gz(lake_store *st, wr_inflater *z, const char *key, uint64_t max_bytes,
                struct wr_buf *raw, struct wr_buf *out, struct wr_err *err);

/* Appends {"file": key, "error": msg} to the array bad. */
void con_bad_file(json_t *bad, const char *key, const char *msg);

#endif
