/* MessagePack-RPC framing and method dispatch (see rpc.h). */
#include "engine/rpc.h"

#include <string.h>

#include "engine/conn.h"
#include "engine/answer.h"
#include "engine/decide.h"
#include "engine/ruleset.h"
#include "engine/utf8.h"
#include "engine/worker.h"

#define METHODS "decide, decide_many, ruleset, ping, stats, reload"

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

void arb_pack_strn(msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

void arb_pack_cstr(msgpack_packer *pk, const char *s) { arb_pack_strn(pk, s, strlen(s)); }

void arb_pack_text(msgpack_packer *pk, const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text), i = 0, bad = 0;
    while (i < n) {
        size_t k = arb_utf8_seq(s + i, n - i);
        if (!k) { bad++; k = 1; }
        i += k;
    }
    if (!bad) {
        arb_pack_strn(pk, text, n);
        return;
    }
    /* Bytes a client sent that are not UTF-8 come back as \xNN. */
    msgpack_pack_str(pk, n + bad * 3);
    for (i = 0; i < n;) {
        size_t k = arb_utf8_seq(s + i, n - i);
        if (k) {
            msgpack_pack_str_body(pk, s + i, k);
            i += k;
            continue;
        }
        char esc[5];
        snprintf(esc, sizeof esc, "\\x%02X", s[i++]);
        msgpack_pack_str_body(pk, esc, 4);
    }
}

void arb_rpc_pack_response_head(msgpack_packer *pk, uint32_t msgid)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_int(pk, 1);
    msgpack_pack_uint32(pk, msgid);
}

void arb_rpc_pack_error(msgpack_packer *pk, uint32_t msgid, arb_code_t code, const char *message)
{
    arb_rpc_pack_response_head(pk, msgid);
    msgpack_pack_map(pk, 2);
    arb_pack_cstr(pk, "code");
    arb_pack_cstr(pk, arb_code_name(code));
    arb_pack_cstr(pk, "message");
    arb_pack_text(pk, message);
    msgpack_pack_nil(pk);
}

static void pack_result_head(msgpack_packer *pk, uint32_t msgid)
{
    arb_rpc_pack_response_head(pk, msgid);
    msgpack_pack_nil(pk);   /* no error */
}

static arb_method_t method_of(const char *m, size_t n)
{
    static const char *const names[] = { "ping", "stats", "ruleset", "decide",
                                         "decide_many", "reload" };
    for (int i = 0; i < ARB_METHOD_OTHER; i++)
        if (strlen(names[i]) == n && memcmp(names[i], m, n) == 0) return (arb_method_t)i;
    return ARB_METHOD_OTHER;
}

static void pack_ping(arb_worker_t *w, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    arb_pack_cstr(pk, "pong");
    msgpack_pack_true(pk);
    arb_pack_cstr(pk, "version");
    arb_pack_cstr(pk, arb_ruleset_version(w->ruleset));
}

static void pack_counter_map(msgpack_packer *pk, const _Atomic uint64_t *v, int n,
                             const char *(*name)(int))
{
    msgpack_pack_map(pk, (size_t)n);
    for (int i = 0; i < n; i++) {
        arb_pack_cstr(pk, name(i));
        msgpack_pack_uint64(pk, atomic_load_explicit(&v[i], memory_order_relaxed));
    }
}

static const char *method_name_i(int i) { return arb_method_name((arb_method_t)i); }
static const char *code_name_i(int i) { return arb_code_name((arb_code_t)i); }

static void pack_kv_u64(msgpack_packer *pk, const char *k, uint64_t v)
{
    arb_pack_cstr(pk, k);
    msgpack_pack_uint64(pk, v);
}

static void pack_stats(arb_worker_t *w, msgpack_packer *pk)
{
    arb_stats_t sum, *s = &sum;   /* about 4 KiB */
    memset(s, 0, sizeof *s);
    int64_t open;
    uint64_t ok, failed, refused;
    arb__server_stats(w->server, s, &open, &ok, &failed, &refused);
    msgpack_pack_map(pk, 15);
    arb_pack_cstr(pk, "requests");
    pack_counter_map(pk, s->requests, ARB_METHOD_COUNT, method_name_i);
    arb_pack_cstr(pk, "errors");
    pack_counter_map(pk, s->errors, ARB_CODE_COUNT, code_name_i);
    arb_pack_cstr(pk, "connections");
    msgpack_pack_int64(pk, open);
    pack_kv_u64(pk, "connections_refused", refused);
    pack_kv_u64(pk, "decisions", s->decisions);
    pack_kv_u64(pk, "rule_errors", s->rule_errors);
    pack_kv_u64(pk, "budget_stops", s->budget_stops);
    pack_kv_u64(pk, "fallbacks", s->fallbacks);
    pack_kv_u64(pk, "undeclared_touchpoints", s->undeclared_touchpoints);
    pack_kv_u64(pk, "backpressure_pauses", s->backpressure_pauses);
    pack_kv_u64(pk, "answer_failures", s->answer_failures);
    pack_kv_u64(pk, "partial_closes", s->partial_closes);
    arb_pack_cstr(pk, "reloads");
    msgpack_pack_map(pk, 3);
    pack_kv_u64(pk, "ok", ok);
    pack_kv_u64(pk, "failed", failed);
    pack_kv_u64(pk, "abandoned", s->reloads_abandoned);
    arb_pack_cstr(pk, "decide_us");
    msgpack_pack_map(pk, 3);
    static const struct { const char *k; double q; } qs[] = {
        { "p50", 0.5 }, { "p99", 0.99 }, { "p999", 0.999 } };
    for (int i = 0; i < 3; i++) {
        arb_pack_cstr(pk, qs[i].k);
        msgpack_pack_double(pk, (double)arb_stats_decide_quantile(s, qs[i].q) / 1000.0);
    }
    arb_pack_cstr(pk, "ruleset");
    arb_pack_cstr(pk, arb_ruleset_version(w->ruleset));
}

/* Decisions are shed, cheaply, when the worker is already behind: a queue
 * of work nobody will wait for helps no one. */
static bool shed(arb_worker_t *w, arb_err_t *err)
{
    if (!arb__worker_overloaded(w)) return false;
    arb_err_set(err, ARB_OVERLOADED, "the server is overloaded; retry later or on another node");
    return true;
}

#define QUEUED_OVER_TOTAL \
    "answers queued for clients that do not read passed --max-queued-total; retry later"

/* decide_many: see arb_decide_many. A batch is answered whole or not at
 * all, so a client never has to match partial results; its work is bounded
 * (--max-batch contexts, --batch-ms of work) so that one request cannot
 * hold the worker while other clients wait. */
static int decide_many(arb_worker_t *w, arb_conn_t *c, uint32_t msgid, const msgpack_object *arg,
                       msgpack_packer *pk, arb_err_t *err)
{
    const arb_config_t *cfg = arb_server_config(w->server);
    if (arg->via.array.size && arb_conn_queued_over_total(c))
        return arb_err_set(err, ARB_OVERLOADED, QUEUED_OVER_TOTAL);
    arb_answer_t *ans = pk->data;
    arb_batch_limits_t lim = { cfg->max_batch, cfg->batch_ms, &ans->failed };
    pack_result_head(pk, msgid);
    arb_answer_pack_batch_head(pk, arg->via.array.size);
    return arb_decide_many(w->decider, w->ruleset, arg, &w->arena, &w->stats, &lim,
                           arb_answer_sink, pk, err);
}

/* Answer a request whose method and params are well-formed. Returns 0 when
 * the answer was packed (or deferred), -1 with err for an error answer. */
static int dispatch(arb_worker_t *w, arb_conn_t *c, arb_method_t m, uint32_t msgid,
                    const msgpack_object *params, msgpack_packer *pk, arb_err_t *err)
{
    const msgpack_object *arg = params->via.array.size ? &params->via.array.ptr[0] : NULL;
    switch (m) {
    case ARB_METHOD_PING:
        pack_result_head(pk, msgid);
        pack_ping(w, pk);
        return 0;
    case ARB_METHOD_STATS:
        pack_result_head(pk, msgid);
        pack_stats(w, pk);
        return 0;
    case ARB_METHOD_RULESET:
        pack_result_head(pk, msgid);
        arb_ruleset_pack_info(w->ruleset, pk);
        return 0;
    case ARB_METHOD_DECIDE:
        if (shed(w, err)) return -1;
        if (arb_conn_queued_over_total(c))
            return arb_err_set(err, ARB_OVERLOADED, QUEUED_OVER_TOTAL);
        if (!arg) return arb_err_set(err, ARB_INVALID_PARAMS, "params[0]: the context map is required");
        const arb_decision_t *dec = arb_decide(w->decider, w->ruleset, arg, &w->arena, &w->stats, err);
        if (!dec) return -1;
        pack_result_head(pk, msgid);
        arb_answer_pack_decision(pk, dec);
        return 0;
    case ARB_METHOD_DECIDE_MANY:
        if (shed(w, err)) return -1;
        if (!arg || arg->type != MSGPACK_OBJECT_ARRAY)
            return arb_err_set(err, ARB_INVALID_PARAMS, "params[0]: expected an array of context maps");
        return decide_many(w, c, msgid, arg, pk, err);
    case ARB_METHOD_RELOAD:
        if (!c->admin)
            return arb_err_set(err, ARB_FORBIDDEN, "reload is allowed only on the admin socket");
        arb__server_request_reload(w->server, w, c->id, msgid);
        return 0;
    default:
        return arb_err_set(err, ARB_METHOD_NOT_FOUND, "no such method; methods are " METHODS);
    }
}

static bool get_msgid(const msgpack_object *o, uint32_t *msgid)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > UINT32_MAX) return false;
    *msgid = (uint32_t)o->via.u64;
    return true;
}

/* Not an RPC frame: answer invalid_request when a msgid can be read. A
 * notification is never answered, even a malformed one. */
static int reject_frame(arb_worker_t *w, const msgpack_object *f, msgpack_packer *pk,
                        const char *why)
{
    uint32_t msgid;
    arb_stat_inc(&w->stats.errors[ARB_INVALID_REQUEST]);
    const msgpack_object *a = f->type == MSGPACK_OBJECT_ARRAY ? f->via.array.ptr : NULL;
    bool request = a && f->via.array.size >= 2 && a[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                   a[0].via.u64 != 2;
    if (request && get_msgid(&a[1], &msgid)) arb_rpc_pack_error(pk, msgid, ARB_INVALID_REQUEST, why);
    return -1;
}

static bool is_name(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_STR || o->type == MSGPACK_OBJECT_BIN;
}


static void handle_notification(arb_worker_t *w, arb_conn_t *c, const msgpack_object *a)
{
    arb_method_t m = method_of(a[1].via.str.ptr, a[1].via.str.size);
    arb_stat_inc(&w->stats.requests[m]);
    if (m == ARB_METHOD_RELOAD && c->admin) arb__server_request_reload(w->server, w, 0, 0);
}

static int handle(arb_worker_t *w, arb_conn_t *c, const msgpack_object *f, msgpack_packer *pk)
{
    if (f->type != MSGPACK_OBJECT_ARRAY || f->via.array.size < 3)
        return reject_frame(w, f, pk, "not a MessagePack-RPC frame: expected [0, msgid, method, params] or [2, method, params]");
    const msgpack_object *a = f->via.array.ptr;
    if (f->via.array.size == 3 && a[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER && a[0].via.u64 == 2) {
        if (!is_name(&a[1]) || a[2].type != MSGPACK_OBJECT_ARRAY)
            return reject_frame(w, f, pk, "notification must be [2, method, params]");
        handle_notification(w, c, a);
        return 0;
    }
    uint32_t msgid;
    if (f->via.array.size != 4 || a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[0].via.u64 != 0)
        return reject_frame(w, f, pk, "not a MessagePack-RPC request: expected [0, msgid, method, params]");
    if (!get_msgid(&a[1], &msgid))
        return reject_frame(w, f, pk, "msgid must be an unsigned 32-bit integer");
    if (!is_name(&a[2])) return reject_frame(w, f, pk, "method must be a string");
    if (a[3].type != MSGPACK_OBJECT_ARRAY) return reject_frame(w, f, pk, "params must be an array");

    arb_method_t m = method_of(a[2].via.str.ptr, a[2].via.str.size);
    arb_stat_inc(&w->stats.requests[m]);
    arb_err_t err;
    if (dispatch(w, c, m, msgid, &a[3], pk, &err) < 0) {
        arb_answer_t *ans = pk->data;
        ans->buf->size = ans->start;   /* drop a partly packed answer */
        ans->failed = ARB_ANSWER_OK;
        arb_stat_inc(&w->stats.errors[err.code]);
        arb_rpc_pack_error(pk, msgid, err.code, err.message);
    }
    return 0;
}

/* An answer the writer refused is replaced, whole, by an error saying why;
 * when even that cannot be packed, nothing of it stays and the connection
 * closes (the client then knows its request was not answered). */
static int answer_failed(arb_worker_t *w, const msgpack_object *f, arb_answer_t *ans,
                         msgpack_packer *pk)
{
    const msgpack_object *a = f->via.array.ptr;
    arb_answer_fail_t why = (arb_answer_fail_t)ans->failed;
    ans->buf->size = ans->start;
    ans->failed = ARB_ANSWER_OK;
    size_t limit = ans->limit;
    ans->limit = 0;   /* an error answer is small: never refused for its size */
    arb_stat_inc(&w->stats.answer_failures);
    uint32_t msgid;
    bool request = f->type == MSGPACK_OBJECT_ARRAY && f->via.array.size == 4 &&
                   get_msgid(&a[1], &msgid);
    if (!request) return 0;   /* a notification's answer is never sent anyway */
    char msg[200];
    arb_code_t code = why == ARB_ANSWER_TOO_LARGE ? ARB_TOO_LARGE : ARB_INTERNAL;
    if (why == ARB_ANSWER_TOO_LARGE)
        snprintf(msg, sizeof msg, "the answer would pass the answer limit of %zu bytes "
                 "(--max-answer); ask for less (a smaller batch, no explain)", limit);
    else
        snprintf(msg, sizeof msg, "out of memory while packing the answer; retry later");
    arb_stat_inc(&w->stats.errors[code]);
    arb_rpc_pack_error(pk, msgid, code, msg);
    if (ans->failed) {
        ans->buf->size = ans->start;
        ans->failed = ARB_ANSWER_OK;
        return -1;
    }
    return 0;
}

int arb_rpc_handle(arb_worker_t *w, arb_conn_t *c, const msgpack_object *f, msgpack_packer *pk)
{
    arb_answer_t *ans = pk->data;
    int rc = handle(w, c, f, pk);
    if (ans->failed && answer_failed(w, f, ans, pk) < 0) rc = -1;
    return rc;
}
