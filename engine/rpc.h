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

/* Where one answer is packed: a msgpack-c write callback over the
 * connection's answer buffer that refuses to grow one answer past `limit`
 * and notices a failed allocation. Either failure is sticky: every later
 * write of this answer is refused too, so the caller finds out once, at the
 * end, rewinds the buffer to `start` and packs an error instead: no
 * truncated frame ever reaches the stream. */
typedef enum { ARB_ANSWER_OK, ARB_ANSWER_TOO_LARGE, ARB_ANSWER_NOMEM } arb_answer_fail_t;
typedef struct arb_answer {
    msgpack_sbuffer *buf;      /* borrowed: the connection's filling buffer */
    size_t start;              /* buf->size when this answer began */
    size_t limit;              /* most bytes this answer may take; 0 = no limit */
    int failed;                /* an arb_answer_fail_t: why a write was refused, 0 if none */
} arb_answer_t;

/* Begin an answer at the end of buf. */
void arb_answer_begin(arb_answer_t *a, msgpack_sbuffer *buf, size_t limit);

/* The write callback for msgpack_packer_init(pk, a, arb_answer_write). */
int arb_answer_write(void *a, const char *data, size_t len);

/* Answer frame (unpacked from conn c on worker w) into pk, whose data is an
 * arb_answer_t. An answer that would pass the answer's limit is replaced by
 * too_large, one whose memory could not be allocated by internal: nothing
 * partial is left in the buffer. Returns 0, or -1 when the frame is not RPC
 * (or not even an error answer could be packed) and the connection must
 * close once what was packed is written. */
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
