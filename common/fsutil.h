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

/* One file written atomically: a crash leaves the old file or the new one, never a torn
 * one. The steps, in this order: create tmp in dirfd (mode, under the process umask;
 * an existing tmp is replaced), write the content, sync it, close, rename tmp over name,
 * fsync dirfd. The content is data[0, len), or what fill(arg, fd) writes when fill is
 * not NULL (0, or -1 with errno set). sync(arg, fd) replaces fsync when not NULL (the
 * spool's fault-injection hooks). */
struct wr_atomic_file {
    int dirfd;        /* an open directory */
    const char *tmp;  /* temporary name in dirfd */
    const char *name; /* final name in dirfd */
    unsigned mode;    /* creation mode; 0: 0666 (the umask decides) */
    const void *data;
    size_t len;
    int (*fill)(void *arg, int fd);
    int (*sync)(void *arg, int fd);
    void *arg;
};

/* Writes f atomically. Returns 0; or -1 with errno set by the failed step, *step (when
 * step is not NULL) naming it ("create", "write", "sync", "close", "rename",
 * "fsync directory"), and the temporary file removed. */
int wr_atomic_write(const struct wr_atomic_file *f, const char **step);

#endif
