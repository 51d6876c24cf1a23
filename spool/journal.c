/* journal.c - the journal of flushed ranges (journal.h): loading and indexing it for the
 * replay, appending one range per lake file, compacting it as the spool is released. */
#include "common/array.h"
#include "spool/journal.h"

#include "common/buf.h"
#include "common/crc32c.h"
#include "common/fsutil.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NBUCKETS 1024u
#define JOURNAL_MAX_BYTES (64u << 20)
#define JOURNAL_COMPACT_DEAD 64 /* rewrite once this many ranges are below the release */

/* A flushed range: the partition's lines with first <= lsn <= last. */
struct jent {
    struct sp_part key;
    uint64_t first, last;
};

/* At replay: the journaled ranges of one partition, sorted by first. */
struct jpart {
    struct jpart *next;
    struct sp_part key;
    uint64_t hash;
    struct jent *r; /* pointers into the journal's entries are not stable: copies */
    size_t n, cap;
};

struct sp_journal {
    char *dir;
    int dirfd;
    int jfd;        /* open for appending; -1: the next append rewrites the file */
    uint64_t jrel;  /* release point written in the journal */
    char jinst[17]; /* the spool instance the journal's positions belong to */
    uint64_t jbytes;
    struct jent *jl; /* live ranges, for compaction */
    size_t jn, jcap;
    struct jpart *jmap[NBUCKETS]; /* until sp_journal_start */
};

/* Lines: "<crc32c of the rest, 8 hex> <body>\n" with body one of
 *   F <kind char> <hour> <first 16 hex> <last 16 hex> <event type, may be empty>
 *   R <release point 16 hex>
 *   I <spool instance id>
 * A line whose CRC does not match (a torn append) is skipped; a failed append is cut
 * back before the next one, so a torn line never swallows a later one. */

static int jline(char *out, size_t cap, const char *body)
{
    size_t bl = strlen(body);
    uint32_t crc = wr_crc32c(0, body, bl);
    int n = snprintf(out, cap, "%08" PRIx32 " %s\n", crc, body);
    return (n < 0 || (size_t)n >= cap) ? -1 : n;
}

static int jbody_range(char *out, size_t cap, const struct jent *e)
{
    int n = snprintf(out, cap, "F %c %" PRId64 " %016" PRIx64 " %016" PRIx64 " %s", e->key.kind,
                     e->key.hour, e->first, e->last, e->key.event_type);
    return (n < 0 || (size_t)n >= cap) ? -1 : n;
}

static int jl_push(sp_journal *s, const struct jent *e)
{
    if (wr_array_grow(&s->jl, &s->jcap, s->jn + 1, sizeof *s->jl, 64, 0) != 0) {
        return WR_ENOMEM;
    }
    s->jl[s->jn++] = *e;
    return 0;
}

static int parse_hex64(const char *p, size_t len, uint64_t *out)
{
    if (len != 16) {
        return -1;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) {
            return -1;
        }
        v = (v << 4) | (uint64_t)d;
    }
    *out = v;
    return 0;
}

/* Parses one journal body; returns 'F' (range in *e), 'R' (release in *rel) or -1. */
static int jparse(const char *b, size_t len, struct jent *e, uint64_t *rel)
{
    if (len == 18 && b[0] == 'R' && b[1] == ' ') {
        return parse_hex64(b + 2, 16, rel) == 0 ? 'R' : -1;
    }
    if (len == 18 && b[0] == 'I' && b[1] == ' ') {
        memcpy(e->key.event_type, b + 2, 16);
        e->key.event_type[16] = '\0';
        return 'I';
    }
    if (len < 4 || b[0] != 'F' || b[1] != ' ' || (b[2] != 'a' && b[2] != 'r') || b[3] != ' ') {
        return -1;
    }
    memset(e, 0, sizeof(*e));
    e->key.kind = b[2];
    size_t i = 4;
    int neg = 0;
    if (i < len && b[i] == '-') {
        neg = 1;
        i++;
    }
    int64_t h = 0;
    size_t digits = 0;
    while (i < len && b[i] >= '0' && b[i] <= '9' && digits < 15) {
        h = h * 10 + (b[i] - '0');
        i++;
        digits++;
    }
    if (digits == 0 || i + 35 > len || b[i] != ' ' || b[i + 17] != ' ' || b[i + 34] != ' ') {
        return -1;
    }
    e->key.hour = neg ? -h : h;
    if (parse_hex64(b + i + 1, 16, &e->first) != 0 || parse_hex64(b + i + 18, 16, &e->last) != 0) {
        return -1;
    }
    i += 35;
    size_t et = len - i;
    if (et > SP_ET_MAX || (e->key.kind == SP_KIND_ACCEPTED) != (et > 0)) {
        return -1;
    }
    memcpy(e->key.event_type, b + i, et);
    e->key.event_type[et] = '\0';
    e->key.et_len = et;
    return 'F';
}

/* Writes the live ranges (those not wholly below release) and the release point to a
 * new journal: temp + fsync + rename + fsync dir, then reopens it for appending. */
static int journal_rewrite(sp_journal *s, uint64_t release)
{
    size_t keep = 0;
    for (size_t i = 0; i < s->jn; i++) {
        if (s->jl[i].last >= release) {
            s->jl[keep++] = s->jl[i];
        }
    }
    s->jn = keep;
    struct wr_buf b;
    wr_buf_init(&b, JOURNAL_MAX_BYTES);
    char body[400], line[420];
    int rc = 0;
    snprintf(body, sizeof(body), "R %016" PRIx64, release);
    if (jline(line, sizeof(line), body) < 0 || wr_buf_append(&b, line, strlen(line)) != 0) {
        rc = -1;
    }
    if (strlen(s->jinst) == 16) {
        snprintf(body, sizeof(body), "I %s", s->jinst);
        if (jline(line, sizeof(line), body) < 0 || wr_buf_append(&b, line, strlen(line)) != 0) {
            rc = -1;
        }
    }
    for (size_t i = 0; rc == 0 && i < s->jn; i++) {
        if (jbody_range(body, sizeof(body), &s->jl[i]) < 0 || jline(line, sizeof(line), body) < 0 ||
            wr_buf_append(&b, line, strlen(line)) != 0) {
            rc = -1;
        }
    }
    if (rc == 0) {
        struct wr_atomic_file f = {.dirfd = s->dirfd,
                                   .tmp = SP_JOURNAL_TMP,
                                   .name = SP_JOURNAL_NAME,
                                   .mode = 0666,
                                   .data = b.p ? b.p : "",
                                   .len = b.len};
        rc = wr_atomic_write(&f, NULL);
    }
    uint64_t len = b.len;
    wr_buf_free(&b);
    if (rc != 0) {
        return WR_EIO;
    }
    if (s->jfd >= 0) {
        close(s->jfd);
    }
    s->jfd = openat(s->dirfd, SP_JOURNAL_NAME, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (s->jfd < 0) {
        return WR_EIO;
    }
    s->jrel = release;
    s->jbytes = len;
    return 0;
}

static struct jpart *jmap_find(const sp_journal *s, const struct sp_part *k, uint64_t h)
{
    for (struct jpart *p = s->jmap[h % NBUCKETS]; p; p = p->next) {
        if (p->hash == h && sp_part_eq(&p->key, k)) {
            return p;
        }
    }
    return NULL;
}

static int jent_cmp(const void *a, const void *b)
{
    const struct jent *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Reads the journal (if any) into the live list and the replay map. A damaged line ends
 * it: everything before was fsynced before its lines were released, so is whole. */
static int journal_load(sp_journal *s, struct wr_err *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", s->dir, SP_JOURNAL_NAME);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return 0;
        }
        return wr_err_set(err, WR_EIO, "journal: open %s: %s", path, strerror(errno));
    }
    struct wr_buf b;
    wr_buf_init(&b, JOURNAL_MAX_BYTES);
    char chunk[65536];
    int rc = 0;
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            rc = wr_err_set(err, WR_EIO, "journal: read %s: %s", path, strerror(errno));
            break;
        }
        if (r == 0) {
            break;
        }
        if (wr_buf_append(&b, chunk, (size_t)r) != 0) {
            rc = wr_err_set(err, WR_ELIMIT, "journal: %s is larger than %u bytes", path,
                            JOURNAL_MAX_BYTES);
            break;
        }
    }
    close(fd);
    size_t pos = 0;
    while (rc == 0 && pos < b.len) {
        const char *nl = memchr(b.p + pos, '\n', b.len - pos);
        if (!nl) {
            break;
        }
        const char *l = b.p + pos;
        size_t ll = (size_t)(nl - l);
        pos += ll + 1;
        uint32_t want = 0;
        if (ll < 10 || l[8] != ' ') {
            break;
        }
        int bad = 0;
        for (int i = 0; i < 8; i++) {
            char c = l[i];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0) {
                bad = 1;
                break;
            }
            want = (want << 4) | (uint32_t)d;
        }
        if (bad || wr_crc32c(0, l + 9, ll - 9) != want) {
            /* A torn append (cut back before any later append) or a damaged line: each
             * line stands alone, so the others still count. */
            WR_WARN("journal: journal %s: damaged line at byte %zu skipped", path, pos - ll - 1);
            continue;
        }
        struct jent e;
        uint64_t rel = 0;
        int t = jparse(l + 9, ll - 9, &e, &rel);
        if (t == 'R') {
            if (rel > s->jrel) {
                s->jrel = rel;
            }
        } else if (t == 'I') {
            memcpy(s->jinst, e.key.event_type, sizeof(s->jinst));
        } else if (t == 'F') {
            if (jl_push(s, &e) != 0) {
                rc = wr_err_set(err, WR_ENOMEM, "journal: out of memory");
            }
        } else {
            WR_WARN("journal: journal %s: unknown line at byte %zu skipped", path, pos - ll - 1);
        }
    }
    wr_buf_free(&b);
    for (size_t i = 0; rc == 0 && i < s->jn; i++) {
        const struct jent *e = &s->jl[i];
        uint64_t h = sp_part_hash(&e->key);
        struct jpart *p = jmap_find(s, &e->key, h);
        if (!p) {
            p = calloc(1, sizeof(*p));
            if (!p) {
                rc = wr_err_set(err, WR_ENOMEM, "journal: out of memory");
                break;
            }
            p->key = e->key;
            p->hash = h;
            p->next = s->jmap[h % NBUCKETS];
            s->jmap[h % NBUCKETS] = p;
        }
        if (wr_array_grow(&p->r, &p->cap, p->n + 1, sizeof *p->r, 8, 0) != 0) {
            rc = wr_err_set(err, WR_ENOMEM, "journal: out of memory");
            break;
        }
        p->r[p->n++] = *e;
    }
    for (unsigned i = 0; i < NBUCKETS; i++) {
        for (struct jpart *p = s->jmap[i]; p; p = p->next) {
            qsort(p->r, p->n, sizeof(*p->r), jent_cmp);
        }
    }
    return rc;
}

static void jmap_free(sp_journal *s)
{
    for (unsigned i = 0; i < NBUCKETS; i++) {
        struct jpart *p = s->jmap[i];
        while (p) {
            struct jpart *next = p->next;
            free(p->r);
            free(p);
            p = next;
        }
        s->jmap[i] = NULL;
    }
}

/* True when the journal says the line at lsn of partition k is in the lake already. */
static int journal_covers(const sp_journal *s, const struct sp_part *k, uint64_t lsn)
{
    struct jpart *p = jmap_find(s, k, sp_part_hash(k));
    if (!p || p->n == 0) {
        return 0;
    }
    size_t lo = 0, hi = p->n; /* the last range with first <= lsn */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->r[mid].first <= lsn) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return p->r[lo].first <= lsn && lsn <= p->r[lo].last;
}

/* Appends one flushed range, durably. Flusher thread. */
static int journal_append(sp_journal *s, const struct sp_part *k, uint64_t first, uint64_t last)
{
    struct jent e = {.key = *k, .first = first, .last = last};
    char body[400], line[420];
    int n;
    if (jbody_range(body, sizeof(body), &e) < 0 || (n = jline(line, sizeof(line), body)) < 0) {
        return WR_EINVAL;
    }
    /* Room in the live list first: a durable range missing from it would be dropped by
     * the next compaction while still needed. */
    if (jl_push(s, &e) != 0) {
        return WR_ENOMEM;
    }
    s->jn--;
    if (s->jfd < 0 || wr_write_all(s->jfd, line, (size_t)n) != 0 || fdatasync(s->jfd) != 0) {
        if (s->jfd >= 0 && ftruncate(s->jfd, (off_t)s->jbytes) != 0) {
            /* Reopening rewrites the file whole. */
            close(s->jfd);
            s->jfd = -1;
        }
        return WR_EIO;
    }
    s->jn++;
    s->jbytes += (uint64_t)n;
    return 0;
}

sp_journal *sp_journal_open(const char *dir, struct wr_err *err)
{
    sp_journal *j = calloc(1, sizeof(*j));
    if (!j || !(j->dir = strdup(dir))) {
        free(j);
        wr_err_set(err, WR_ENOMEM, "journal: out of memory");
        return NULL;
    }
    j->jfd = -1;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        wr_err_set(err, WR_EIO, "journal: mkdir %s: %s", dir, strerror(errno));
        sp_journal_destroy(j);
        return NULL;
    }
    j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (j->dirfd < 0) {
        wr_err_set(err, WR_EIO, "journal: open %s: %s", dir, strerror(errno));
        sp_journal_destroy(j);
        return NULL;
    }
    if (journal_load(j, err) != 0) {
        sp_journal_destroy(j);
        return NULL;
    }
    return j;
}

uint64_t sp_journal_released(const sp_journal *j)
{
    return j->jrel;
}

int sp_journal_covers(const sp_journal *j, const struct sp_part *k, uint64_t lsn)
{
    return journal_covers(j, k, lsn);
}

int sp_journal_start(sp_journal *j, const char *spool_instance, uint64_t released)
{
    jmap_free(j);
    if (j->jinst[0] && strcmp(j->jinst, spool_instance) != 0) {
        /* A new spool epoch (its checkpoint was lost or the directory reset): positions
         * may start again from anywhere, so the old ranges could match new lines. They
         * served the replay (same segments, same positions) and go now: a crash before
         * the next release may then duplicate lines, never lose them. */
        WR_WARN("journal: spool instance changed (%s -> %s); journal of flushed ranges reset",
                j->jinst, spool_instance);
        j->jn = 0;
        j->jrel = 0;
    }
    snprintf(j->jinst, sizeof(j->jinst), "%s", spool_instance);
    return journal_rewrite(j, released > j->jrel ? released : j->jrel);
}

int sp_journal_append(sp_journal *j, const struct sp_part *k, uint64_t first, uint64_t last)
{
    if (j->jfd < 0 && journal_rewrite(j, j->jrel) != 0) {
        errno = EIO;
        return WR_EIO;
    }
    return journal_append(j, k, first, last);
}

int sp_journal_release(sp_journal *j, uint64_t rel)
{
    size_t dead = 0;
    for (size_t i = 0; i < j->jn; i++) {
        dead += j->jl[i].last < rel;
    }
    if (dead >= JOURNAL_COMPACT_DEAD || j->jbytes > JOURNAL_MAX_BYTES / 2) {
        return journal_rewrite(j, rel);
    }
    return 0;
}

void sp_journal_destroy(sp_journal *j)
{
    if (!j) {
        return;
    }
    if (j->jfd >= 0) {
        close(j->jfd);
    }
    if (j->dirfd >= 0) {
        close(j->dirfd);
    }
    jmap_free(j);
    free(j->jl);
    free(j->dir);
    free(j);
}
