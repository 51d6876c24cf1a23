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
