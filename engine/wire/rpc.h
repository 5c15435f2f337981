/* MessagePack-RPC: the envelope and the one error exit.
 *
 * A frame is a request [0, msgid, method, params] (answered with
 * [1, msgid, error, result]) or a notification [2, method, params] (never
 * answered). This file reads the envelope into an arb_rpc_call_t and writes
 * the answer's envelope; errors leave here, and only here, as {code,
 * message} maps. It knows no method, no socket and no thread: the methods
 * are server/service.c's.
 */
#ifndef ARB_RPC_H
#define ARB_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "engine/base/error.h"
#include "engine/base/pack.h"

/* One call read from a frame. Every pointer borrows from the frame. */
typedef struct arb_rpc_call {
    bool notification;             /* [2, method, params]: never answered */
    uint32_t msgid;                /* requests only */
    const char *method;            /* not NUL-terminated */
    size_t method_len;
    const msgpack_object *params;  /* an array */
} arb_rpc_call_t;

/* Read frame f's envelope into call. Returns 0, or -1 with err
 * (invalid_request, saying what is wrong) and *answerable telling whether
 * the error can be answered: a msgid was read and the frame is not a
 * notification. */
int arb_rpc_decode(const msgpack_object *f, arb_rpc_call_t *call, bool *answerable,
                   arb_err_t *err);

/* The common request, [0, msgid, method, [arg]] with one param, read
 * from frame f's len bytes (one whole MessagePack value, as the frame
 * scanner checked) without a tree: its msgid, method and arg's bytes,
 * which run to the frame's end. False for any other frame (notifications,
 * other params, a method sent as bin), which arb_rpc_decode reads. */
typedef struct arb_rpc_peek {
    uint32_t msgid;
    const char *method;   /* not NUL-terminated; borrows from f */
    uint32_t method_len;
    const char *arg;      /* borrows from f */
    size_t arg_len;
} arb_rpc_peek_t;
bool arb_rpc_peek_one(const char *f, size_t len, arb_rpc_peek_t *out);

/* Where one answer is packed: a msgpack-c write callback over the
 * connection's answer buffer that refuses to grow one answer past `limit`
 * and notices a failed allocation. Either failure is sticky: every later
 * write of this answer is refused too, so the caller finds out once, at the
 * end, and arb_rpc_answer_refused replaces it with an error: no truncated
 * frame ever reaches the stream. */
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

/* Drop what this answer packed so far (and its failure). */
void arb_answer_rewind(arb_answer_t *a);

/* [1, msgid, nil, ...: the caller packs the result that completes it. */
void arb_rpc_pack_result_head(msgpack_packer *pk, uint32_t msgid);

/* The one error exit: [1, msgid, {code, message}, nil]; with n_items > 0
 * the map also holds `errors`, every item (a reload's problems). The
 * message is made valid UTF-8. */
void arb_rpc_pack_error(msgpack_packer *pk, uint32_t msgid, arb_code_t code, const char *message);
void arb_rpc_pack_error_list(msgpack_packer *pk, uint32_t msgid, arb_code_t code,
                             const char *message, char *const *items, size_t n_items);

/* After an answer for msgid was packed into a (whose packer is pk): when a
 * write was refused, replace the answer, whole, by the error saying why
 * (too_large or internal) and set *code to it; returns 1 then, 0 when the
 * answer stood, -1 when even the error could not be packed (nothing of it
 * stays; the connection must close so the client knows). answerable false
 * (a notification) only drops the refused answer. */
int arb_rpc_answer_refused(arb_answer_t *a, msgpack_packer *pk, bool answerable, uint32_t msgid,
                           arb_code_t *code);

#endif
