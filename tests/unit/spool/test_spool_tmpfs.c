/* test_spool_tmpfs.c - the spool on a real full disk (a 64 KiB tmpfs): ENOSPC is
 * transient (answered WR_EAGAIN, cut back, held while no segment fits), and every
 * acknowledged record is there after a restart. Skipped (77) where tmpfs cannot be
 * mounted. */
#include <errno.h>
#include <sys/mount.h>

#include "check.h"
#include "spool_testutil.h"

/* A real full disk: a tiny tmpfs (skipped where mounting is not allowed). */
static void test_tmpfs_enospc(void)
{
    char dir[64];
    tu_mkdtemp(dir, sizeof(dir));
    if (mount("tmpfs", dir, "tmpfs", 0, "size=64k") != 0) {
        fprintf(stderr,
                "test_spool_tmpfs: skipped: cannot mount a tmpfs (needs root or "
                "CAP_SYS_ADMIN): %s\n",
                strerror(errno));
        tu_rmdir(dir);
        exit(77);
    }
    char sub[96];
    snprintf(sub, sizeof(sub), "%s/spool", dir);
    sp_spool *s = tu_open(sub, NULL, 1 << 20, 16 << 20);
    CHECK(s != NULL);
    if (s) {
        struct tu_acks acks;
        tu_acks_init(&acks, 4096);
        struct tu_ack_arg a = {&acks, 0};
        char rec[1000];
        memset(rec, 'z', sizeof(rec));
        size_t sent = 0;
        int rc = 0;
        for (int i = 0; i < 200 && rc == 0; i++) {
            rc = sp_spool_append1(s, rec, sizeof(rec), tu_ack, &a, NULL);
            if (rc == 0) {
                sent++;
                tu_acks_wait(&acks, sent);
                if (acks.status[sent - 1] != 0) {
                    break;
                }
            }
        }
        CHECK(sent < 200);
        /* Transient: cut back and held (the probe finds no room for a segment), never
         * failed for good. */
        CHECK_INT(acks.status[sent - 1], WR_EAGAIN);
        CHECK_INT(sp_spool_failed(s), 0);
        CHECK_INT(sp_spool_writable(s), 0);
        CHECK_INT(sp_spool_append1(s, rec, 10, tu_ack, &a, NULL), WR_EAGAIN);
        sp_spool_destroy(s);
        tu_acks_free(&acks);
        /* Every acknowledged record is readable after restart. */
        struct tu_replay r;
        tu_replay_init(&r);
        s = tu_open(sub, &r, 1 << 20, 16 << 20);
        CHECK(s != NULL);
        CHECK_INT(r.n, sent - 1); /* every acknowledged record, not the refused one */
        sp_spool_destroy(s);
        tu_replay_free(&r);
    }
    umount(dir);
    rmdir(dir);
}

int main(void)
{
    CHECK_RUN(test_tmpfs_enospc);
    return CHECK_DONE();
}
