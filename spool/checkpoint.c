/* checkpoint.c - the checkpoint file: the release point and the instance id, replaced
 * atomically (common/fsutil.h wr_atomic_write), read and checked at open. */
#include "common/hash.h"
#include "spool/spool_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/fsutil.h"
#include "common/thread.h"

struct ckpt_fill {
    sp_spool *s;
    const char *body;
    size_t len;
};

/* The checkpoint's bytes go through the spool's I/O hooks, so the fault tests reach them. */
static int ckpt_fill(void *arg, int fd)
{
    struct ckpt_fill *c = arg;
    return sp__write_all(c->s, fd, c->body, c->len, 0, NULL);
}

static int ckpt_sync(void *arg, int fd)
{
    struct ckpt_fill *c = arg;
    return sp__io_fdatasync(c->s, fd);
}

int sp__ckpt_write(sp_spool *s, uint64_t released, struct wr_err *err)
{
    char body[160];
    int n = snprintf(body, sizeof(body), "weir-spool 1\ninstance %s\nreleased %" PRIu64 "\n",
                     s->instance, released);
    uint32_t crc = wr_crc32c(0, body, (size_t)n);
    n += snprintf(body + n, sizeof(body) - (size_t)n, "crc %08" PRIx32 "\n", crc);
    struct ckpt_fill c = {s, body, (size_t)n};
    struct wr_atomic_file f = {.dirfd = s->dir_fd,
                               .tmp = SP__CKPT_TMP,
                               .name = SP__CKPT_NAME,
                               .mode = SP__FILE_MODE,
                               .fill = ckpt_fill,
                               .sync = ckpt_sync,
                               .arg = &c};
    const char *step = "write";
    if (wr_atomic_write(&f, &step) != 0) {
        return wr_err_set(err, WR_EIO, "spool: checkpoint %s/%s: %s: %s", s->dir, SP__CKPT_NAME,
                          step, strerror(errno));
    }
    return 0;
}

/* Returns 1 and fills instance/released when a valid checkpoint exists, 0 when it is
 * missing, -1 when it is present but damaged. */
int sp__ckpt_read(sp_spool *s, uint64_t *released)
{
    int fd = openat(s->dir_fd, SP__CKPT_NAME, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    char buf[256];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    char *crc_line = strstr(buf, "crc ");
    if (!crc_line || strncmp(buf, "weir-spool 1\ninstance ", 22) != 0) {
        return -1;
    }
    uint32_t want = wr_crc32c(0, buf, (size_t)(crc_line - buf));
    char *end = NULL;
    errno = 0;
    unsigned long long got = strtoull(crc_line + 4, &end, 16);
    if (errno != 0 || end == crc_line + 4 || got != want) {
        return -1;
    }
    const char *inst = buf + 22;
    for (int i = 0; i < 16; i++) {
        char c = inst[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return -1;
        }
    }
    if (strncmp(inst + 16, "\nreleased ", 10) != 0) {
        return -1;
    }
    errno = 0;
    unsigned long long rel = strtoull(inst + 26, &end, 10);
    if (errno != 0 || end == inst + 26 || *end != '\n') {
        return -1;
    }
    memcpy(s->instance, inst, 16);
    s->instance[16] = '\0';
    *released = rel;
    return 1;
}

int sp__make_instance_id(sp_spool *s, struct wr_err *err)
{
    (void)err;
    wr_random_hex(8, s->instance);
    return 0;
}
