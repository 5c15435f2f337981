/* Small MessagePack helpers every layer packs with: strings from C, and
 * text made safe for a client. They write through the packer's callback
 * only, so the bound and failure handling of an answer stay with its owner
 * (wire/rpc.c). Base layer: includes nothing of ours but utf8.
 */
#ifndef ARB_PACK_H
#define ARB_PACK_H

#include <stddef.h>
#include <msgpack.h>

/* Pack a str from a NUL-terminated C string. */
void arb_pack_cstr(msgpack_packer *pk, const char *s);

/* Pack a message for a client as a valid UTF-8 str: bytes that are not
 * UTF-8 (echoed from a request) are written as \xNN. */
void arb_pack_text(msgpack_packer *pk, const char *text);

/* Pack a str of len bytes. */
void arb_pack_strn(msgpack_packer *pk, const char *s, size_t len);

/* Pack a string literal (its length known when compiling). */
#define arb_pack_lit(pk, lit) arb_pack_strn(pk, lit, sizeof(lit) - 1)

#endif
