/* Small MessagePack helpers every layer packs and reads with: strings from
 * C, text made safe for a client, and the one map lookup by string key
 * (ARCHITECTURE.md rule 5). The packers write through the packer's callback
 * only, so the bound and failure handling of an answer stay with its owner
 * (wire/rpc.c). Base layer: includes nothing of ours but utf8.
 */
#ifndef ARB_PACK_H
#define ARB_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <msgpack.h>

/* Pack a str from a NUL-terminated C string. */
void arb_pack_cstr(msgpack_packer *pk, const char *s);

/* Pack a message for a client as a valid UTF-8 str: bytes that are not
 * UTF-8 (echoed from a request) are written as \xNN. */
void arb_pack_text(msgpack_packer *pk, const char *text);

/* Pack a str of len bytes. */
void arb_pack_strn(msgpack_packer *pk, const char *s, size_t len);

/* The value at the str key `key` (n bytes) in map o, or NULL when o is not
 * a map or has no such key (the first one when a map repeats it). The one
 * map lookup by string key of the engine and its bindings; inline because
 * rules look attributes up with it on every decision. The result points
 * into o. */
static inline const msgpack_object *arb_msgpack_map_getn(const msgpack_object *o, const char *key,
                                                         size_t n)
{
    if (!o || o->type != MSGPACK_OBJECT_MAP) return NULL;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0)
            return &o->via.map.ptr[i].val;
    }
    return NULL;
}

/* The same for a NUL-terminated key. */
static inline const msgpack_object *arb_msgpack_map_get(const msgpack_object *o, const char *key)
{
    return arb_msgpack_map_getn(o, key, strlen(key));
}

/* Pack a string literal (its length known when compiling). */
#define arb_pack_lit(pk, lit) arb_pack_strn(pk, lit, sizeof(lit) - 1)

/* ---- packing many items with one write
 *
 * msgpack_packer hands every item (a map head, a key, a number) to its
 * callback: a call, a bound check and a copy per item, which made up three
 * quarters of packing a decision. An arb_packbuf_t gathers the items in
 * room on the caller's stack with plain stores and hands them to the
 * packer's callback in one write when full and at arb_packbuf_end; the
 * callback (the connection's bound, its failure flag) sees the same bytes
 * in larger pieces. The items are encoded by msgpack-c's own pack_template.h,
 * instantiated below over the room: arb_packbuf_pack_map, _str, _str_body,
 * _double, _uint64, _nil, _true, _false... write exactly what
 * msgpack_pack_map etc. write. */
typedef struct arb_packbuf {
    char *at, *end;       /* the free part of room */
    msgpack_packer *pk;   /* where the bytes go (borrowed) */
    char room[4096];
} arb_packbuf_t;

static inline void arb_packbuf_begin(arb_packbuf_t *b, msgpack_packer *pk)
{
    b->at = b->room;
    b->end = b->room + sizeof b->room;
    b->pk = pk;
}

/* What does not fit in the room: write the room out, then the bytes. */
int arb_packbuf_spill(arb_packbuf_t *b, const void *p, size_t n);

static inline int arb_packbuf_append(arb_packbuf_t *b, const void *p, size_t n)
{
    if ((size_t)(b->end - b->at) < n) return arb_packbuf_spill(b, p, n);
    memcpy(b->at, p, n);
    b->at += n;
    return 0;
}

/* Write out what is gathered (the end of an answer, or before packing
 * through b->pk directly). b stays usable. */
void arb_packbuf_end(arb_packbuf_t *b);

#define msgpack_pack_inline_func(name) static inline int arb_packbuf_pack##name
#define msgpack_pack_user arb_packbuf_t *
#define msgpack_pack_append_buffer(user, buf, len) return arb_packbuf_append(user, buf, len)
#define msgpack_pack_ext arb_packbuf_pack_ext   /* the template's timestamp calls it */
#include <msgpack/pack_template.h>
#undef msgpack_pack_ext

/* The same packers without the bound check, for bytes the caller made
 * room for: arb_packroom_put_double(&at, d) etc. write at at and move it
 * on. A local `at` stays in a register where b->at is reloaded after
 * every call. */
#define msgpack_pack_inline_func(name) static inline int arb_packroom_put##name
#define msgpack_pack_user char **
#define msgpack_pack_append_buffer(user, buf, len) \
    return (memcpy(*(user), buf, len), *(user) += (len), 0)
#define msgpack_pack_ext arb_packroom_put_ext
#include <msgpack/pack_template.h>
#undef msgpack_pack_ext

/* A literal str at at (room made for it), its head folded when compiling. */
#define arb_packroom_lit(at, lit) \
    (arb_packroom_put_str(at, sizeof(lit) - 1), arb_packroom_put_str_body(at, lit, sizeof(lit) - 1))

/* Room for n more bytes in b: b->at has at least n free after it, the
 * room written out first if need be. False when n is more than the whole
 * room: pack through the checked packers then. */
static inline bool arb_packbuf_room(arb_packbuf_t *b, size_t n)
{
    if ((size_t)(b->end - b->at) >= n) return true;
    arb_packbuf_end(b);
    return n <= sizeof b->room;
}

/* A str of len bytes; a str from a C string; a literal's. */
static inline void arb_packbuf_strn(arb_packbuf_t *b, const char *s, size_t len)
{
    arb_packbuf_pack_str(b, len);
    arb_packbuf_append(b, s, len);
}

static inline void arb_packbuf_cstr(arb_packbuf_t *b, const char *s)
{
    arb_packbuf_strn(b, s, strlen(s));
}

#define arb_packbuf_lit(b, lit) arb_packbuf_strn(b, lit, sizeof(lit) - 1)

/* arb_pack_text's str (valid UTF-8, other bytes as \xNN) into b. */
void arb_packbuf_text(arb_packbuf_t *b, const char *text);

#endif
