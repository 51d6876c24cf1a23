/* fsutil.c - write loops and directory syncs behind fsutil.h. */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int wr_write_all(int fd, const void *p, size_t len)
{
    const char *c = p;
    while (len > 0) {
        ssize_t w = write(fd, c, len);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        c += w;
        len -= (size_t)w;
    }
    return 0;
}

int wr_sync_range(int fd, long long off, long long len)
{
    return sync_file_range(fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WAIT_BEFORE |
                           SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
}

int wr_write_all_paced(int fd, const void *p, size_t len, size_t chunk)
{
    const char *c = p;
    if (chunk == 0) {
        chunk = 1u << 20;
    }
    off_t at = lseek(fd, 0, SEEK_CUR);
    while (len > 0) {
        size_t n = len < chunk ? len : chunk;
        if (wr_write_all(fd, c, n) != 0) {
            return -1;
        }
        /* Files that cannot say where they are (pipes) are only written. */
        if (at >= 0 && wr_sync_range(fd, at, (long long)n) != 0 && errno != ESPIPE &&
            errno != EINVAL) {
            return -1;
        }
        at = at >= 0 ? at + (off_t)n : at;
        c += n;
        len -= n;
    }
    return 0;
}

int wr_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int wr_atomic_write(const struct wr_atomic_file *f, const char **step)
{
    const char *what = "create";
    int fd = openat(f->dirfd, f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                    f->mode ? (mode_t)f->mode : (mode_t)0666);
    if (fd < 0) {
        goto fail;
    }
    what = "write";
    if (f->fill ? f->fill(f->arg, fd) != 0 : wr_write_all(fd, f->data, f->len) != 0) {
        goto fail_fd;
    }
    what = "sync";
    if (f->sync ? f->sync(f->arg, fd) != 0 : fsync(fd) != 0) {
        goto fail_fd;
    }
    what = "close";
    if (close(fd) != 0) {
        fd = -1;
        goto fail_unlink;
    }
    fd = -1;
    what = "rename";
    if (renameat(f->dirfd, f->tmp, f->dirfd, f->name) != 0) {
        goto fail_unlink;
    }
    /* The rename took effect; only its durability is in doubt, and the tmp name is gone. */
    what = "fsync directory";
    if (fsync(f->dirfd) != 0) {
        goto fail;
    }
    return 0;
fail_fd:
    {
        int e = errno;
        close(fd);
        errno = e;
    }
fail_unlink:
    {
        int e = errno;
        unlinkat(f->dirfd, f->tmp, 0);
        errno = e;
    }
fail:
    if (step) {
        *step = what;
    }
    return -1;
}
