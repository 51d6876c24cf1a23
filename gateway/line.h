/* line.h - one stored line as the gateway hands it on: the JSON text of an accepted
 * event's envelope or of a rejection, and the partition it belongs to. ingest.c makes
 * them (in the request's arena), the sink copies them into the spool. Plain data: no
 * functions, no dependencies, so the pure ingest module needs neither the sink nor the
 * lake. */
#ifndef WEIR_GW_LINE_H
#define WEIR_GW_LINE_H

#include <stddef.h>
#include <stdint.h>

enum gw_line_kind {
    GW_LINE_ACCEPTED = 'a', /* -> raw/event_type=<t>/dt=/hr=/ */
    GW_LINE_REJECTED = 'r'  /* -> rejected/dt=/hr=/ (event_type unused) */
};

/* One JSON line (without the trailing newline) and where it belongs. */
struct gw_line {
    int kind;               /* enum gw_line_kind */
    const char *event_type; /* accepted lines: the validated event type */
    size_t event_type_len;
    int64_t received_at_ms; /* partition (dt, hr) comes from this, UTC */
    const char *p;          /* the line, len bytes; not owned (the request's arena) */
    size_t len;
};

#endif
