/* fsutil.h - the small file-system steps durable writes are made of. */
#ifndef WEIR_FSUTIL_H
#define WEIR_FSUTIL_H

#include <stddef.h>

/* Writes all len bytes to fd, retrying short writes and EINTR. Returns 0, or -1 with
 * errno set. */
int wr_write_all(int fd, const void *p, size_t len);

/* fsyncs the directory dir, so that a rename or a new file in it survives a crash.
 * Returns 0, or -1 with errno set. */
int wr_fsync_dir(const char *dir);

#endif
