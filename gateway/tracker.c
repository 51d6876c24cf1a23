/* tracker.c - /v1/weir.js, the browser tracker (gateway/tracker/weir.js), compiled into
 * the binary by cmake/embed.cmake; its ETag is a hash of the text, made once. */
#include "browser.h"

#include "common/embed.h"
#include "common/hash.h"

#include <pthread.h>
#include <string.h>

extern const struct wr_embedded gw__tracker_files[];

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const struct wr_embedded *file;
static char etag[2 + 32 + 1];

static void init(void)
{
    for (const struct wr_embedded *e = gw__tracker_files; e->name; e++) {
        if (strcmp(e->name, "weir.js") == 0) {
            file = e;
        }
    }
    unsigned char sha[32];
    char hex[65];
    wr_sha256(file->data, file->len, sha);
    wr_hex(sha, 32, hex);
    etag[0] = '"';
    memcpy(etag + 1, hex, 32);
    etag[33] = '"';
    etag[34] = '\0';
}

void gw_tracker(const char **js, size_t *len, const char **tag)
{
    pthread_once(&once, init);
    *js = file->data;
    *len = file->len;
    *tag = etag;
}
