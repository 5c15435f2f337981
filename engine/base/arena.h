/* engine/base/: the folder every other one builds on. Its rule: it
 * includes nothing of ours (only the C library, pthread and msgpack-c), so
 * that errors, problems, the arena, the clock, the file reader, logs,
 * stats, symbols and the msgpack helpers mean the same thing in every
 * layer. (ARCHITECTURE.md; scripts/layers checks the includes.)
 *
 * A bump allocator reset once per request, so that decoding a context and
 * deciding allocate nothing from malloc after warm-up. Chunks are kept across
 * resets; a request that needed more than usual leaves the arena at its new
 * size, bounded by the frame limit times a small factor. */
#ifndef ARB_ARENA_H
#define ARB_ARENA_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct arb_arena_chunk {
    struct arb_arena_chunk *next;  /* older chunk */
    size_t size;                   /* usable bytes after the header */
    size_t used;                   /* bytes handed out */
    max_align_t data[];            /* the memory itself */
} arb_arena_chunk_t;

typedef struct arb_arena {
    arb_arena_chunk_t *head;  /* newest chunk, allocated from first */
} arb_arena_t;

static inline void arb_arena_init(arb_arena_t *a) { a->head = NULL; }

/* n bytes aligned for any type, or NULL when malloc fails. */
static inline void *arb_arena_alloc(arb_arena_t *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    arb_arena_chunk_t *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = c ? c->size * 2 : 16384;
        while (size < n) size *= 2;
        c = malloc(sizeof *c + size);
        if (!c) return NULL;
        c->next = a->head;
        c->size = size;
        c->used = 0;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

/* Forget every allocation. Keeps only the newest (largest) chunk. */
static inline void arb_arena_reset(arb_arena_t *a)
{
    arb_arena_chunk_t *c = a->head;
    if (!c) return;
    arb_arena_chunk_t *old = c->next;
    while (old) {
        arb_arena_chunk_t *next = old->next;
        free(old);
        old = next;
    }
    c->next = NULL;
    c->used = 0;
}

/* arb_arena_reset, zeroing first every byte handed out: what must not
 * linger in memory once its owner is done (a customer `forget` may erase). */
static inline void arb_arena_wipe(arb_arena_t *a)
{
    for (arb_arena_chunk_t *c = a->head; c; c = c->next) explicit_bzero(c->data, c->used);
    arb_arena_reset(a);
}

static inline void arb_arena_free(arb_arena_t *a)
{
    arb_arena_reset(a);
    free(a->head);
    a->head = NULL;
}

#endif
