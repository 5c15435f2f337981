/* MessagePack-RPC envelope and error exit (see rpc.h). */
#include "engine/wire/rpc.h"

#include "engine/base/mpread.h"

#include <stdio.h>
#include <string.h>

void arb_answer_begin(arb_answer_t *a, msgpack_sbuffer *buf, size_t limit)
{
    a->buf = buf;
    a->start = buf->size;
    a->limit = limit;
    a->failed = ARB_ANSWER_OK;
}

int arb_answer_write(void *data, const char *bytes, size_t len)
{
    arb_answer_t *a = data;
    if (a->failed) return -1;
    if (a->limit && a->buf->size - a->start + len > a->limit) {
        a->failed = ARB_ANSWER_TOO_LARGE;
        return -1;
    }
    /* msgpack_sbuffer_write copies nothing when its realloc fails, but the
     * packers ignore that: without the sticky flag the frame would go out
     * with a hole in it. */
    if (msgpack_sbuffer_write(a->buf, bytes, len) != 0) {
        a->failed = ARB_ANSWER_NOMEM;
        return -1;
    }
    return 0;
}

void arb_answer_rewind(arb_answer_t *a)
{
    a->buf->size = a->start;
    a->failed = ARB_ANSWER_OK;
}

static void pack_response_head(msgpack_packer *pk, uint32_t msgid)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_int(pk, 1);
    msgpack_pack_uint32(pk, msgid);
}

void arb_rpc_pack_result_head(msgpack_packer *pk, uint32_t msgid)
{
    pack_response_head(pk, msgid);
    msgpack_pack_nil(pk);   /* no error */
}

void arb_rpc_pack_error_list(msgpack_packer *pk, uint32_t msgid, arb_code_t code,
                             const char *message, char *const *items, size_t n_items)
{
    pack_response_head(pk, msgid);
    msgpack_pack_map(pk, n_items ? 3 : 2);
    arb_pack_lit(pk, "code");
    arb_pack_cstr(pk, arb_code_name(code));
    arb_pack_lit(pk, "message");
    arb_pack_text(pk, message);
    if (n_items) {
        arb_pack_lit(pk, "errors");
        msgpack_pack_array(pk, n_items);
        for (size_t i = 0; i < n_items; i++) arb_pack_text(pk, items[i]);
    }
    msgpack_pack_nil(pk);
}

void arb_rpc_pack_error(msgpack_packer *pk, uint32_t msgid, arb_code_t code, const char *message)
{
    arb_rpc_pack_error_list(pk, msgid, code, message, NULL, 0);
}

static bool get_msgid(const msgpack_object *o, uint32_t *msgid)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > UINT32_MAX) return false;
    *msgid = (uint32_t)o->via.u64;
    return true;
}

static bool is_name(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_STR || o->type == MSGPACK_OBJECT_BIN;
}

/* Not an RPC frame: it can be answered when it looks like a request whose
 * msgid can be read. A notification is never answered, even a malformed
 * one. */
static int reject(const msgpack_object *f, arb_rpc_call_t *call, bool *answerable,
                  arb_err_t *err, const char *why)
{
    const msgpack_object *a = f->type == MSGPACK_OBJECT_ARRAY ? f->via.array.ptr : NULL;
    bool request = a && f->via.array.size >= 2 && a[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                   a[0].via.u64 != 2;
    *answerable = request && get_msgid(&a[1], &call->msgid);
    return arb_err_set(err, ARB_INVALID_REQUEST, "%s", why);
}

int arb_rpc_decode(const msgpack_object *f, arb_rpc_call_t *call, bool *answerable,
                   arb_err_t *err)
{
    memset(call, 0, sizeof *call);
    *answerable = false;
    if (f->type != MSGPACK_OBJECT_ARRAY || f->via.array.size < 3)
        return reject(f, call, answerable, err, "not a MessagePack-RPC frame: expected [0, msgid, method, params] or [2, method, params]");
    const msgpack_object *a = f->via.array.ptr;
    if (f->via.array.size == 3 && a[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER && a[0].via.u64 == 2) {
        if (!is_name(&a[1]) || a[2].type != MSGPACK_OBJECT_ARRAY)
            return reject(f, call, answerable, err, "notification must be [2, method, params]");
        call->notification = true;
        call->method = a[1].via.str.ptr;
        call->method_len = a[1].via.str.size;
        call->params = &a[2];
        return 0;
    }
    if (f->via.array.size != 4 || a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[0].via.u64 != 0)
        return reject(f, call, answerable, err, "not a MessagePack-RPC request: expected [0, msgid, method, params]");
    if (!get_msgid(&a[1], &call->msgid))
        return reject(f, call, answerable, err, "msgid must be an unsigned 32-bit integer");
    *answerable = true;
    if (!is_name(&a[2])) return arb_err_set(err, ARB_INVALID_REQUEST, "method must be a string");
    if (a[3].type != MSGPACK_OBJECT_ARRAY)
        return arb_err_set(err, ARB_INVALID_REQUEST, "params must be an array");
    call->method = a[2].via.str.ptr;
    call->method_len = a[2].via.str.size;
    call->params = &a[3];
    return 0;
}

bool arb_rpc_peek_one(const char *f, size_t len, arb_rpc_peek_t *out)
{
    arb_mpread_t r;
    arb_mpread_init(&r, f, len);
    uint32_t n, params;
    int64_t type, msgid;
    return arb_mpread_array(&r, &n) && n == 4 && arb_mpread_int(&r, &type) && type == 0 &&
           arb_mpread_int(&r, &msgid) && msgid >= 0 && msgid <= UINT32_MAX &&
           arb_mpread_str(&r, &out->method, &out->method_len) &&
           arb_mpread_array(&r, &params) && params == 1 && r.p < r.end &&
           (out->msgid = (uint32_t)msgid, out->arg = (const char *)r.p,
            out->arg_len = arb_mpread_left(&r), true);
}

int arb_rpc_answer_refused(arb_answer_t *a, msgpack_packer *pk, bool answerable, uint32_t msgid,
                           arb_code_t *code)
{
    if (!a->failed) return 0;
    arb_answer_fail_t why = (arb_answer_fail_t)a->failed;
    size_t limit = a->limit;
    arb_answer_rewind(a);
    if (!answerable) return 1;   /* a notification's answer is never sent anyway */
    a->limit = 0;   /* an error answer is small: never refused for its size */
    char msg[200];
    *code = why == ARB_ANSWER_TOO_LARGE ? ARB_TOO_LARGE : ARB_INTERNAL;
    if (why == ARB_ANSWER_TOO_LARGE)
        snprintf(msg, sizeof msg, "the answer would pass the answer limit of %zu bytes "
                 "(--max-answer); ask for less (a smaller batch, no explain)", limit);
    else
        snprintf(msg, sizeof msg, "out of memory while packing the answer; retry later");
    arb_rpc_pack_error(pk, msgid, *code, msg);
    if (a->failed) {
        arb_answer_rewind(a);
        return -1;
    }
    return 1;
}
