/* arena.c - chained-block bump allocator behind arena.h. */
#include "arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct block {
    struct block *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

struct wr_arena {
    struct block *head; /* current block; the first block is last in the chain */
    size_t block_bytes;
    size_t cap_bytes;
    size_t total; /* bytes of all blocks, for the cap */
    size_t handed;
};

static struct block *block_new(size_t size)
{
    if (size > SIZE_MAX - sizeof(struct block)) {
        return NULL; /* the header would wrap the size into a tiny block */
    }
    struct block *b = malloc(sizeof *b + size);
    if (b) {
        b->next = NULL;
        b->size = size;
        b->used = 0;
    }
    return b;
}

wr_arena *wr_arena_create(size_t block_bytes, size_t cap_bytes)
{
    wr_arena *a = calloc(1, sizeof *a);
    if (!a) {
        return NULL;
    }
    a->block_bytes = block_bytes ? block_bytes : 4096;
    a->cap_bytes = cap_bytes;
    a->head = block_new(a->block_bytes);
    if (!a->head) {
        free(a);
        return NULL;
    }
    a->total = a->block_bytes;
    return a;
}

void wr_arena_destroy(wr_arena *a)
{
    if (!a) {
        return;
    }
    struct block *b = a->head;
    while (b) {
        struct block *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

void *wr_arena_alloc(wr_arena *a, size_t n)
{
    const size_t align = alignof(max_align_t);
    if (n > SIZE_MAX - align) {
        return NULL;
    }
    size_t need = (n + align - 1) & ~(align - 1);
    if (need == 0) {
        need = align;
    }
    struct block *b = a->head;
    if (b->size - b->used < need) {
        size_t size = need > a->block_bytes ? need : a->block_bytes;
        if (a->cap_bytes && (a->total + size > a->cap_bytes || a->total + size < a->total)) {
            return NULL;
        }
        b = block_new(size);
        if (!b) {
            return NULL;
        }
        b->next = a->head;
        a->head = b;
        a->total += size;
    }
    void *p = b->data + b->used;
    b->used += need;
    a->handed += need;
    return p;
}

char *wr_arena_strndup(wr_arena *a, const char *p, size_t len)
{
    if (len == SIZE_MAX) {
        return NULL;
    }
    char *s = wr_arena_alloc(a, len + 1);
    if (s) {
        if (len) {
            memcpy(s, p, len);
        }
        s[len] = '\0';
    }
    return s;
}

void wr_arena_reset(wr_arena *a)
{
    struct block *b = a->head;
    while (b->next) {
        struct block *next = b->next;
        a->total -= b->size;
        free(b);
        b = next;
    }
    b->used = 0;
    a->head = b;
    a->handed = 0;
}

size_t wr_arena_used(const wr_arena *a)
{
    return a->handed;
}
