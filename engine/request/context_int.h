/* Inside request/ only: what context.c (the typed walk) and context_keys.c
 * (one context for C and Lua) share. Values only, no I/O, like the rest of
 * the folder; nothing here is published to another folder (ARCHITECTURE.md
 * rule 4).
 */
#ifndef ARB_CONTEXT_INT_H
#define ARB_CONTEXT_INT_H

#include "engine/request/context.h"

/* Where a value sits in the context, formatted only when it is wrong:
 * base, then [index] when index >= 0, then .key when key is set. */
typedef struct path {
    const char *base;    /* "purchases", "scores", ... or "" at the top */
    int64_t index;       /* array position, -1 none */
    arb_str_t key;       /* map key, ptr NULL none */
} path_t;

/* The path as text in buf (n bytes); returns buf. Cold, as the three
 * below: only rejections and rare maps call them, and the hot walk in
 * context.c is laid out without them. */
__attribute__((cold)) const char *arb__ctx_path_text(const path_t *p, char *buf, size_t n);

/* "a string", "an integer", ... for a message naming what was sent. */
__attribute__((cold)) const char *arb__ctx_type_name(const msgpack_object *o);

/* The index of a key of the n that repeats an earlier one (as Lua would
 * take it), -1 when none, -2 out of memory, -3 a NaN key. */
__attribute__((cold)) int arb__ctx_map_dup(const msgpack_object_kv *kv, uint32_t n, arb_arena_t *arena);

/* A value rules read as a whole (attributes, unknown keys of a known part)
 * at path, checked at every depth: 0, or -1 with *err naming the value. */
int arb__ctx_check_value(const msgpack_object *o, const path_t *path, arb_arena_t *arena,
                             arb_err_t *err);

#endif
