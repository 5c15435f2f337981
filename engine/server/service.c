/* The methods bound to a worker (see service.h). */
#include "engine/server/service.h"

#include <string.h>
#include <time.h>

#include "engine/audit/log.h"
#include "engine/base/clock.h"
#include "engine/base/pack.h"
#include "engine/decide/adaptive.h"
#include "engine/decide/decide.h"
#include "engine/ruleset/ruleset.h"
#include "engine/server/catalog_reload.h"
#include "engine/server/conn.h"
#include "engine/server/learn_sync.h"
#include "engine/decide/policy.h"
#include "engine/request/track.h"
#include "engine/ruleset/ruleset.h"
#include "engine/wire/answer.h"
#include "engine/server/server_priv.h"
#include "engine/server/state_calls.h"
#include "engine/server/worker.h"
#include "engine/wire/answer.h"
#include "engine/wire/rpc.h"

#define METHODS \
    "decide, decide_many, track, feedback, learning, customer, forget, ruleset, ping, stats, reload"

static arb_method_t method_of(const char *m, size_t n)
{
    for (int i = 0; i < ARB_METHOD_OTHER; i++) {
        const char *name = arb_method_name((arb_method_t)i);
        if (strlen(name) == n && memcmp(name, m, n) == 0) return (arb_method_t)i;
    }
    return ARB_METHOD_OTHER;
}

static void pack_stats(arb_worker_t *w, msgpack_packer *pk)
{
    arb_stats_t sum;   /* about 4 KiB */
    memset(&sum, 0, sizeof sum);
    arb_stats_gauges_t g;
    arb__server_stats(w->server, &sum, &g.connections, &g.reloads_ok, &g.reloads_failed,
                      &g.connections_refused);
    arb_learn_sync_gauges(w->server->learn, &g.arms, &g.learn_dropped);
    arb_log_stats_t ls;
    arb_log_stats(w->server->log, &ls);
    g.log_written = ls.written;
    g.log_dropped = ls.dropped;
    g.log_failed = ls.failed;
    g.log_files = ls.files;
    arb_answer_pack_stats(pk, &sum, &g, arb_ruleset_version(w->ruleset));
}

/* `learning`: every arm this worker's snapshot holds for the adaptive
 * actions of its ruleset, or those of one action ({action}). */
static int learning(arb_worker_t *w, uint32_t msgid, const msgpack_object *arg, msgpack_packer *pk,
                    arb_err_t *err)
{
    const char *action;
    if (arb_learning_parse(arg, &w->arena, &action, err) < 0) return -1;
    if (action && !arb_adaptive_rule(arb_policy_ruleset_of(w->ruleset, action), action, &w->arena))
        return arb_err_set(err, ARB_INVALID_PARAMS,
                           "action: '%.200s' is not an adaptive action of ruleset %s", action,
                           arb_ruleset_version(w->ruleset));
    arb_arm_view_t *rows;
    int n = arb_adaptive_views(w->ruleset, w->arms, action, (int64_t)time(NULL), &w->arena, &rows);
    if (n < 0) return arb_err_set(err, ARB_INTERNAL, "out of memory listing learned arms");
    arb_rpc_pack_result_head(pk, msgid);
    arb_answer_pack_learning(pk, rows, (size_t)n);
    return 0;
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
    arb_rpc_pack_result_head(pk, msgid);
    arb_answer_pack_batch_head(pk, arg->via.array.size);
    /* Batches read no state in this version (NULL customer). */
    return arb_decide_many(w->decider, w->ruleset, arg, NULL, &w->arena, &w->stats, &lim,
                           arb_answer_sink, pk, err);
}

/* reload's params[0]: none or {} reloads everything, {only = "catalog"}
 * only the catalog (catalog_reload.h). */
static int reload_only_catalog(const msgpack_object *arg, bool *catalog, arb_err_t *err)
{
    *catalog = false;
    if (!arg || arg->type == MSGPACK_OBJECT_NIL) return 0;
    if (arg->type != MSGPACK_OBJECT_MAP)
        return arb_err_set(err, ARB_INVALID_PARAMS, "params[0]: expected a map such as {only = \"catalog\"}");
    for (uint32_t i = 0; i < arg->via.map.size; i++) {
        const msgpack_object_kv *kv = &arg->via.map.ptr[i];
        bool only = kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 4 &&
                    memcmp(kv->key.via.str.ptr, "only", 4) == 0;
        if (!only)
            return arb_err_set(err, ARB_INVALID_PARAMS, "params[0]: unknown key; reload knows only 'only'");
        if (kv->val.type != MSGPACK_OBJECT_STR || kv->val.via.str.size != 7 ||
            memcmp(kv->val.via.str.ptr, "catalog", 7) != 0)
            return arb_err_set(err, ARB_INVALID_PARAMS, "params[0].only: expected \"catalog\"");
        *catalog = true;
    }
    return 0;
}

/* Answer a request whose envelope is well-formed. Returns 0 when the answer
 * was packed (or deferred), -1 with err for an error answer. */
static int dispatch(arb_worker_t *w, arb_conn_t *c, arb_method_t m, uint32_t msgid,
                    const msgpack_object *params, msgpack_packer *pk, arb_err_t *err)
{
    const msgpack_object *arg = params->via.array.size ? &params->via.array.ptr[0] : NULL;
    switch (m) {
    case ARB_METHOD_PING:
        arb_rpc_pack_result_head(pk, msgid);
        arb_answer_pack_ping(pk, arb_ruleset_version(w->ruleset));
        return 0;
    case ARB_METHOD_STATS:
        arb_rpc_pack_result_head(pk, msgid);
        pack_stats(w, pk);
        return 0;
    case ARB_METHOD_RULESET:
        arb_rpc_pack_result_head(pk, msgid);
        arb_answer_pack_ruleset_reading(pk, w->ruleset, w->catalog);   /* a catalog-only reload's */
        return 0;
    case ARB_METHOD_DECIDE:
        if (shed(w, err)) return -1;
        if (arb_conn_queued_over_total(c))
            return arb_err_set(err, ARB_OVERLOADED, QUEUED_OVER_TOTAL);
        if (!arg) return arb_err_set(err, ARB_INVALID_PARAMS, "params[0]: the context map is required");
        if (arb_state_customer_id(arg))   /* reads and writes the customer's state */
            return arb_state_call(w, c, m, msgid, false, arg, pk, err);
        const arb_decision_t *dec = arb_decide(w->decider, w->ruleset, arg, NULL, &w->arena,
                                               &w->stats, err);
        if (!dec) return -1;
        arb_rpc_pack_result_head(pk, msgid);
        arb_answer_pack_decision(pk, dec);
        return 0;
    case ARB_METHOD_DECIDE_MANY:
        if (shed(w, err)) return -1;
        if (!arg || arg->type != MSGPACK_OBJECT_ARRAY)
            return arb_err_set(err, ARB_INVALID_PARAMS, "params[0]: expected an array of context maps");
        return decide_many(w, c, msgid, arg, pk, err);
    case ARB_METHOD_TRACK:
    case ARB_METHOD_FEEDBACK:
    case ARB_METHOD_CUSTOMER:
    case ARB_METHOD_FORGET:
        return arb_state_call(w, c, m, msgid, false, arg, pk, err);
    case ARB_METHOD_LEARNING:
        return learning(w, msgid, arg, pk, err);
    case ARB_METHOD_RELOAD: {
        if (!c->admin)
            return arb_err_set(err, ARB_FORBIDDEN, "reload is allowed only on the admin socket");
        bool catalog;
        if (reload_only_catalog(arg, &catalog, err) < 0) return -1;
        if (catalog) arb__catalog_reload_request(w->server, w->index, c->id, msgid);
        else arb__server_request_reload(w->server, w, c->id, msgid);
        return 0;
    }
    default:
        return arb_err_set(err, ARB_METHOD_NOT_FOUND, "no such method; methods are " METHODS);
    }
}

/* The one error exit of a request: what it packed is dropped. */
static void answer_error(arb_worker_t *w, msgpack_packer *pk, arb_method_t m, uint32_t msgid,
                         const arb_err_t *err)
{
    arb_answer_rewind(pk->data);   /* drop a partly packed answer */
    arb_stat_error(&w->stats, m, err->code);
    arb_rpc_pack_error(pk, msgid, err->code, err->message);
}

static int handle(arb_worker_t *w, arb_conn_t *c, const arb_rpc_call_t *call, msgpack_packer *pk)
{
    arb_method_t m = method_of(call->method, call->method_len);
    arb_stat_inc(&w->stats.requests[m]);
    if (call->notification) {
        if (m == ARB_METHOD_RELOAD && c->admin) {
            arb_err_t err;
            bool catalog;
            const msgpack_object *arg =
                call->params->via.array.size ? &call->params->via.array.ptr[0] : NULL;
            if (reload_only_catalog(arg, &catalog, &err) == 0) {
                if (catalog) arb__catalog_reload_request(w->server, w->index, 0, 0);
                else arb__server_request_reload(w->server, w, 0, 0);
            }
        }
        /* track and feedback are applied; their errors have nobody to go to */
        if ((m == ARB_METHOD_TRACK || m == ARB_METHOD_FEEDBACK) && call->params->via.array.size) {
            arb_err_t err;
            arb_state_call(w, c, m, 0, true, &call->params->via.array.ptr[0], pk, &err);
        }
        return 0;
    }
    arb_err_t err;
    if (dispatch(w, c, m, call->msgid, call->params, pk, &err) < 0)
        answer_error(w, pk, m, call->msgid, &err);
    return 0;
}

/* decide's common request ([0, msgid, "decide", [context]]) from its bytes:
 * the context is checked in one pass, msgpack-c's tree of the frame is
 * never built. A context refused answers as from the tree (dispatch), so
 * that what the state path checks first (a customer_id too long for the
 * store, --max-pending, a store that failed closed) still answers first.
 * Returns 0, -1 with err, or 1 when msgpack-c refuses the frame (the
 * connection answers it). */
static int decide_bytes(arb_worker_t *w, arb_conn_t *c, const arb_rpc_peek_t *rq,
                        msgpack_packer *pk, arb_err_t *err)
{
    if (shed(w, err)) return -1;
    if (arb_conn_queued_over_total(c)) return arb_err_set(err, ARB_OVERLOADED, QUEUED_OVER_TOTAL);
    uint64_t t0 = arb_clock_mono_ns();
    arb_context_t ctx;
    if (arb_context_parse_bytes(rq->arg, rq->arg_len, arb_clock_wall_s(), false, &ctx, &w->arena,
                                &w->zone, err) < 0) {
        arb_arena_reset(&w->arena);
        msgpack_zone_clear(&w->zone);
        const msgpack_object *f = arb_conn_frame_tree(c);
        if (!f) return 1;
        return dispatch(w, c, ARB_METHOD_DECIDE, rq->msgid, &f->via.array.ptr[3], pk, err);
    }
    /* A parsed context names its customer: decide reads and writes state. */
    return arb_state_decide(w, c, rq->msgid, &ctx, arb_clock_mono_ns() - t0, rq->arg,
                            rq->arg_len, pk, err);
}

/* After an answer was packed: one refused for its size or memory is
 * replaced by the error saying why. Returns -1 when the connection must
 * close. */
static int answer_refused(arb_worker_t *w, msgpack_packer *pk, bool answerable, uint32_t msgid,
                          arb_method_t m)
{
    arb_answer_t *ans = pk->data;
    if (!ans->failed) return 0;
    arb_code_t code;
    arb_stat_inc(&w->stats.answer_failures);
    int r = arb_rpc_answer_refused(ans, pk, answerable, msgid, &code);
    if (r < 0) return -1;
    if (answerable) arb_stat_error(&w->stats, m, code);
    return 0;
}

int arb_service_handle(arb_worker_t *w, arb_conn_t *c, const char *frame, size_t len,
                       msgpack_packer *pk)
{
    arb_rpc_peek_t rq;
    arb_err_t err;
    if (arb_rpc_peek_one(frame, len, &rq) && rq.method_len == 6 && !memcmp(rq.method, "decide", 6)) {
        arb_stat_inc(&w->stats.requests[ARB_METHOD_DECIDE]);
        int rc = decide_bytes(w, c, &rq, pk, &err);
        if (rc > 0) return 0;   /* not MessagePack after all: the connection answers it */
        if (rc < 0) answer_error(w, pk, ARB_METHOD_DECIDE, rq.msgid, &err);
        return answer_refused(w, pk, true, rq.msgid, ARB_METHOD_DECIDE);
    }
    const msgpack_object *f = arb_conn_frame_tree(c);
    if (!f) return 0;   /* not MessagePack after all: the connection answers it */
    arb_rpc_call_t call;
    bool answerable;
    int rc;
    if (arb_rpc_decode(f, &call, &answerable, &err) < 0) {
        arb_stat_error(&w->stats, ARB_METHOD_OTHER, err.code);
        if (answerable) arb_rpc_pack_error(pk, call.msgid, err.code, err.message);
        rc = -1;   /* not RPC: the stream cannot be trusted any more */
    } else {
        rc = handle(w, c, &call, pk);
        answerable = !call.notification;
    }
    arb_method_t m = rc == -1 ? ARB_METHOD_OTHER : method_of(call.method, call.method_len);
    return answer_refused(w, pk, answerable, call.msgid, m) < 0 ? -1 : rc;
}
