/* record.h - the gateway's spool record: the payload of one segment record (spool.h),
 * one stored line and the lake partition it belongs to. The kind bytes below are part of
 * the on-disk format (and of the journal's range lines, journal.h): never renumber them.
 *
 *   offset 0   kind            1 byte   SP_KIND_ACCEPTED 'a' or SP_KIND_REJECTED 'r'
 *          1   received_at_ms  i64      unix time in milliseconds, UTC (little-endian)
 *          9   et_len          u16      event type bytes (0 for rejected lines)
 *         11   event type      et_len bytes (accepted lines: 1..SP_ET_MAX)
 *   11+et_len  line            the rest: one JSON line, no newline
 *
 * Pure functions; no threads, no files. */
#ifndef WEIR_SPOOL_RECORD_H
#define WEIR_SPOOL_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define SP_KIND_ACCEPTED 'a' /* -> raw/event_type=<t>/dt=/hr=/ */
#define SP_KIND_REJECTED 'r' /* -> rejected/dt=/hr=/ */
#define SP_REC_HDR 11u
#define SP_ET_MAX 200u /* longest event type: a lake key segment */

/* One record; for decoded ones the pointers refer into the record's bytes. */
struct sp_rec {
    int kind; /* SP_KIND_* */
    int64_t received_at_ms;
    const char *event_type;
    size_t event_type_len;
    const char *line;
    size_t line_len;
};

/* Bytes sp_rec_encode writes for r (the event type counts for accepted records only). */
size_t sp_rec_size(const struct sp_rec *r);

/* Encodes r into out (sp_rec_size(r) bytes). r->kind must be SP_KIND_* and the event
 * type at most SP_ET_MAX bytes (the caller checks). */
void sp_rec_encode(const struct sp_rec *r, char *out);

/* Decodes a record; 0, or WR_EINVAL when the bytes are not one. A decoded record may
 * still be unplaceable (an event type that is no lake key segment, a time outside years
 * 0..9999): the caller checks before it trusts the fields. */
int sp_rec_decode(const char *p, size_t len, struct sp_rec *out);

/* UTC hour number (floor of ms / 3600000) of a unix time in milliseconds. */
int64_t sp_hour_of_ms(int64_t ms);

/* A lake partition: zone (the kind byte), event type (empty for rejected) and UTC hour. */
struct sp_part {
    int kind;
    int64_t hour;
    size_t et_len;
    char event_type[SP_ET_MAX + 1];
};

/* Fills k from a decoded record. */
void sp_part_of(struct sp_part *k, const struct sp_rec *r);
uint64_t sp_part_hash(const struct sp_part *k);
int sp_part_eq(const struct sp_part *a, const struct sp_part *b);

#endif
