/* journal.h - the journal of flushed ranges ("sink.journal" in the spool directory): for
 * each lake file written, its partition and the first and last spool positions of its
 * lines. At start the replay skips every record a range covers, so a crash between a
 * lake put and the spool release writes nothing twice. Its positions belong to one spool
 * instance (the checkpoint's id, recorded in the journal): a new instance resets it.
 *
 * Format: text lines "<crc> <body>\n", crc the CRC-32C of body in 8 lowercase hex;
 * body one of
 *   R <release point, 16 lowercase hex>          ranges wholly below it are dead
 *   I <spool instance id, 16 lowercase hex>
 *   F <kind byte> <hour, decimal> <first, 16 hex> <last, 16 hex> <event type, may be empty>
 * (kind byte and hour as in record.h). A line whose CRC does not match (a torn append)
 * is skipped; a failed append is cut back before the next one, so a torn line never
 * swallows a later one. Compaction rewrites the live ranges atomically
 * (sink.journal.tmp, common/fsutil.h wr_atomic_write).
 *
 * Threads: one owner at a time (the sink's create, then its flusher thread); no lock. */
#ifndef WEIR_SPOOL_JOURNAL_H
#define WEIR_SPOOL_JOURNAL_H

#include "common/err.h"
#include "spool/record.h"

#include <stddef.h>
#include <stdint.h>

#define SP_JOURNAL_NAME "sink.journal"
#define SP_JOURNAL_TMP "sink.journal.tmp"

typedef struct sp_journal sp_journal;

/* Reads dir's journal (none is an empty one) and indexes its ranges for
 * sp_journal_covers. Damaged lines are skipped with a warning. NULL with err filled on
 * failure (WR_EIO, WR_ELIMIT past 64 MiB, WR_ENOMEM). */
sp_journal *sp_journal_open(const char *dir, struct wr_err *err);

/* The release point recorded in the journal: every record below it is in the lake. */
uint64_t sp_journal_released(const sp_journal *j);

/* True when the journal says the record at lsn of partition k is in the lake already.
 * Valid until sp_journal_start. */
int sp_journal_covers(const sp_journal *j, const struct sp_part *k, uint64_t lsn);

/* Ends the replay: ties the journal to spool_instance (a different instance than the one
 * recorded drops every range, with a warning: positions may start again), and rewrites
 * it whole (release point max(released, the journal's)), which also cuts a torn tail.
 * Returns 0 or WR_EIO. */
int sp_journal_start(sp_journal *j, const char *spool_instance, uint64_t released);

/* Appends one flushed range, durably (write + fdatasync; cut back on failure, and the
 * next call rewrites the file when the cut failed too). Returns 0, WR_EIO (errno set)
 * or WR_ENOMEM; retry later. */
int sp_journal_append(sp_journal *j, const struct sp_part *k, uint64_t first, uint64_t last);

/* The spool was released to rel: rewrites the journal without the dead ranges once
 * enough have piled up. Returns 0, or WR_EIO (the old journal stays valid). */
int sp_journal_release(sp_journal *j, uint64_t rel);

/* Closes and frees; NULL is a no-op. */
void sp_journal_destroy(sp_journal *j);

#endif
