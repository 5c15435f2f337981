/* MessagePack-RPC: turns one unpacked frame into its answer.
 *
 * A frame is a request [0, msgid, method, params] (answered with
 * [1, msgid, error, result]) or a notification [2, method, params] (never
 * answered). Errors leave here, and only here, as {code, message} maps.
 */
#ifndef ARB_RPC_H
#define ARB_RPC_H

#include <stdint.h>
#include <msgpack.h>

#include "engine/error.h"
#include "engine/server.h"

/* Answer frame (unpacked from conn c on worker w) into pk. Returns 0, or -1
 * when the frame is not RPC and the connection must close once the answer
 * (if any) is written. */
int arb_rpc_handle(arb_worker_t *w, arb_conn_t *c, const msgpack_object *frame,
                   msgpack_packer *pk);

/* Pack the start of a response, [1, msgid, ...: the caller packs the
 * error (or nil) and the result (or nil) that complete it. */
void arb_rpc_pack_response_head(msgpack_packer *pk, uint32_t msgid);

/* Pack [1, msgid, {code, message}, nil]. */
void arb_rpc_pack_error(msgpack_packer *pk, uint32_t msgid, arb_code_t code, const char *message);

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
