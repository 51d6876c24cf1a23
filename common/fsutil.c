/* fsutil.c - write loops and directory syncs behind fsutil.h. */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
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
