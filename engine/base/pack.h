/* Small MessagePack helpers every layer packs and reads with: strings from
 * C, text made safe for a client, and the one map lookup by string key
 * (ARCHITECTURE.md rule 5). The packers write through the packer's callback
 * only, so the bound and failure handling of an answer stay with its owner
 * (wire/rpc.c). Base layer: includes nothing of ours but utf8.
 */
#ifndef ARB_PACK_H
#define ARB_PACK_H

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

#endif
