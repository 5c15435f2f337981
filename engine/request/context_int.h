/* Inside request/ only: what context.c (the typed walk), context_keys.c
 * (one context for C and Lua) and track.c (the state methods' parameters,
 * checked the same way as a context) share. Values only, no I/O, like the
 * rest of the folder; nothing here is published to another folder
 * (ARCHITECTURE.md rule 4). It does not include context.h, whose record
 * types share names with customer.h's, so track.c can include both this
 * and commit.h.
 */
#ifndef ARB_CONTEXT_INT_H
#define ARB_CONTEXT_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <msgpack.h>

#include "engine/base/arena.h"
#include "engine/base/error.h"
#include "engine/request/str.h"

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

/* Walking a str-keyed map one known field at a time (context.c's
 * each_field): a field function returns the bit of the known key it read
 * (0 to 31), FIELD_UNKNOWN for a key it does not know, or -1 with *err
 * set. */
typedef int (*field_fn)(void *out, arb_str_t key, const msgpack_object *v, const path_t *path,
                        arb_err_t *err);
#define FIELD_UNKNOWN 32
#define FIELD(bit, call) return (call) < 0 ? -1 : (bit)

/* The context walk's own checks as calls, for track.c: context.c keeps its
 * inlined copies, so the decide path pays nothing for these. Each returns
 * 0, or -1 with *err = invalid_params naming path, in the context's words
 * ("events[2].ts: expected an integer, got a string"). */
int arb__ctx_get_str(const msgpack_object *o, const path_t *path, arb_str_t *out, arb_err_t *err);
int arb__ctx_get_time(const msgpack_object *o, const path_t *path, int64_t *out, arb_err_t *err);
int arb__ctx_get_num(const msgpack_object *o, const path_t *path, double *out, arb_err_t *err);
int arb__ctx_get_bool(const msgpack_object *o, const path_t *path, bool *out, arb_err_t *err);
/* "<path>: expected <want>, got <what o is>". */
__attribute__((cold)) int arb__ctx_wrong(arb_err_t *err, const path_t *path, const char *want,
                                       const msgpack_object *o);
/* "<path>: duplicate key: a map may hold each key once". */
__attribute__((cold)) int arb__ctx_dup_error(const path_t *path, arb_err_t *err);
/* o must be a map of string keys; field() is called for each, and each
 * known bit seen twice is a duplicate. *unknown: some key was not known
 * (then the caller checks the whole map with arb__ctx_check_value). */
int arb__ctx_each_field(const msgpack_object *o, const path_t *path, void *out, field_fn field,
                        bool *unknown, arb_err_t *err);

#endif
