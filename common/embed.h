/* embed.h - data files compiled into the binary by cmake/embed.cmake (migrations,
 * meta-schemas). Each array ends with an entry whose name is NULL; data is
 * NUL-terminated for convenience, len excludes the NUL. */
#ifndef WEIR_EMBED_H
#define WEIR_EMBED_H

#include <stddef.h>

struct wr_embedded {
    const char *name; /* file name without directories */
    const char *data;
    size_t len;
};

#endif
