/* fsutil.h - the small file-system steps durable writes are made of. */
#ifndef WEIR_FSUTIL_H
#define WEIR_FSUTIL_H

#include <stddef.h>

/* Writes all len bytes to fd, retrying short writes and EINTR. Returns 0, or -1 with
 * errno set. */
int wr_write_all(int fd, const void *p, size_t len);

/* Writes bytes [off, off + len) of fd's dirty pages to the disk and waits for them (not
 * the metadata: a later fsync/fdatasync still makes the file durable). Large durable
 * writes call it chunk by chunk, so the final fsync does not put tens of MiB in the
 * device queue at once ahead of the spool's small group commits. Returns 0, or -1 with
 * errno set. */
int wr_sync_range(int fd, long long off, long long len);

/* Writes all len bytes to fd like wr_write_all, handing each chunk bytes to the disk
 * with wr_sync_range as it goes (chunk 0: 1 MiB). */
int wr_write_all_paced(int fd, const void *p, size_t len, size_t chunk);

/* fsyncs the directory dir, so that a rename or a new file in it survives a crash.
 * Returns 0, or -1 with errno set. */
int wr_fsync_dir(const char *dir);

#endif
