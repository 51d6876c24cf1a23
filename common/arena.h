/* arena.h - a bump allocator for memory that dies together (one request, one parse).
 * Blocks are chained; a hard cap bounds the total. Not thread-safe: one owner. */
#ifndef WEIR_ARENA_H
#define WEIR_ARENA_H

#include <stddef.h>

typedef struct wr_arena wr_arena;

/* Creates an arena whose blocks are at least block_bytes and whose total allocation
 * never exceeds cap_bytes (0 = no cap). Returns NULL when out of memory. */
wr_arena *wr_arena_create(size_t block_bytes, size_t cap_bytes);

/* Frees every block. NULL is a no-op. */
void wr_arena_destroy(wr_arena *a);

/* Returns n bytes aligned for any type, or NULL when the cap would be exceeded or
 * malloc fails. Memory lives until the next reset or destroy. */
void *wr_arena_alloc(wr_arena *a, size_t n);

/* Copies len bytes and adds a NUL; NULL as wr_arena_alloc. */
char *wr_arena_strndup(wr_arena *a, const char *p, size_t len);

/* Forgets every allocation but keeps the first block, so a reused arena that stays
 * within one block never calls malloc again. */
void wr_arena_reset(wr_arena *a);

/* Bytes handed out since create or the last reset. */
size_t wr_arena_used(const wr_arena *a);

#endif
