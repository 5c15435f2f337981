/* The methods that go through the customer store (see state_calls.h).
 *
 * Keeps server/'s rule: the one folder with uv.h. The store calls back on
 * whatever thread it likes; this file turns that into "continue on the
 * worker's loop" with one atomic hand-shake per store call (call_*), so that
 * a store that completes at once costs no hop through the inbox, and one
 * that completes on its writer thread never touches the worker's memory
 * beyond the request it completes.
 *
 * A decision with contacts is answered only after its contacts are stored:
 * an answered decision's contacts survive a kill -9. When the store refused
 * some (a concurrent decision took the last place of a cap), the request is
 * decided again on a fresh read, at most ROUNDS_MAX times, and then answered
 * with the granted actions only.
 */
#include "engine/server/state_calls.h"
#include "engine/server/state_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/base/clock.h"
#include "engine/base/pack.h"
#include "engine/decide/adaptive.h"
#include "engine/decide/decide.h"
#include "engine/decide/policy.h"
#include "engine/request/track.h"
#include "engine/ruleset/ruleset.h"
#include "engine/server/conn.h"
#include "engine/server/server_priv.h"
#include "engine/server/worker.h"
#include "engine/state/store.h"
#include "engine/wire/answer.h"
#include "engine/wire/rpc.h"

const msgpack_object *arb_state_customer_id(const msgpack_object *ctx)
{
    const msgpack_object *id = arb_msgpack_map_get(ctx, "customer_id");
    return id && id->type == MSGPACK_OBJECT_STR && id->via.str.size ? id : NULL;
}

/* ------------------------------------------------------------ store calls */

static void call_begin(arb_pending_t *p)
{
    p->call_ns = arb_clock_mono_ns();
    atomic_store(&p->call, CALL_IN);
}

/* After the store call returned: true when its callback already ran. */
static bool call_returned(arb_pending_t *p)
{
    return atomic_exchange(&p->call, CALL_WAITING) == CALL_DONE;
}

/* The callback's end, on any thread: p belongs to the worker from here. */
static void call_complete(arb_pending_t *p)
{
    arb_inbox_item_t *item = p->item;
    if (atomic_exchange(&p->call, CALL_DONE) != CALL_WAITING) return;
    arb_worker_post(p->w, item);   /* still p's: the inbox hands it back, unfreed */
}

static void set_failure(arb_pending_t *p, const arb_err_t *err)
{
    p->status = -1;
    p->code = err ? err->code : ARB_INTERNAL;
    snprintf(p->message, sizeof p->message, "%s", err ? err->message : "state: the store failed");
}

static void on_fetch(void *arg, int status, const arb_err_t *err)
{
    arb_pending_t *p = arg;
    p->status = 0;
    if (status < 0) set_failure(p, err);
    call_complete(p);
}

static void on_commit(void *arg, const arb_commit_result_t *res, const arb_err_t *err)
{
    arb_pending_t *p = arg;
    if (!res) {
        set_failure(p, err);
    } else {
        p->status = 0;
        size_t n = res->n_contacts < p->n_contacts ? res->n_contacts : p->n_contacts;
        if (n) memcpy(p->granted, res->granted, n * sizeof *p->granted);
        p->n_granted = res->n_granted;
        p->stored = res->stored;
        p->outcomes_counted = res->outcomes_counted;
        memcpy(p->pseudonym, res->pseudonym, sizeof p->pseudonym);
        p->pseudonym[sizeof p->pseudonym - 1] = 0;
        p->committed = true;
        if (p->commit.learn) {
            /* The strings live only now; the store keeps them in the
             * result's own buffers (store.c), copied here with it. No
             * allocation: the worker may be reading p's arena meanwhile. */
            p->learned = *res;
            p->learned.granted = NULL;
            const char *const *from[3] = { &res->learn_channel, &res->learn_segment,
                                           &res->learn_decision_id };
            const char **to[3] = { &p->learned.learn_channel, &p->learned.learn_segment,
                                   &p->learned.learn_decision_id };
            for (int i = 0; i < 3; i++)
                *to[i] = *from[i] == res->learn_strings[i] ? p->learned.learn_strings[i] : NULL;
            if (!p->learned.learn_channel || !p->learned.learn_segment) p->learned.learn_known = false;
        }
    }
    call_complete(p);
}

static void on_forget(void *arg, const arb_err_t *err)
{
    arb_pending_t *p = arg;
    p->status = 0;
    if (err) set_failure(p, err);
    call_complete(p);
}

/* The inbox item a late completion travels in, made before the call so
 * that the store's thread never allocates; kept with p for its next calls
 * and, as a spare, for the next requests. */
static int call_prepare(arb_pending_t *p, arb_err_t *err)
{
    if (!p->item) p->item = calloc(1, sizeof *p->item);
    if (!p->item) return arb_err_set(err, ARB_INTERNAL, "out of memory waiting on the store");
    p->item->fd = -1;
    p->item->pending = p;
    return 0;
}

/* Start fetching p->id; 1 when it completed in place, 0 when it will come
 * through the inbox, -1 with err. */
static int start_fetch(arb_pending_t *p, arb_err_t *err)
{
    if (call_prepare(p, err) < 0) return -1;
    p->stage = ST_FETCHED;
    call_begin(p);
    arb_store_fetch(p->w->session, p->id, &p->customer, &p->arena, on_fetch, p);
    return call_returned(p);
}

static int start_commit(arb_pending_t *p, arb_err_t *err)
{
    if (call_prepare(p, err) < 0) return -1;
    p->stage = ST_COMMITTED;
    p->committed = false;
    call_begin(p);
    /* A decision commits once by its id: a commit the store retries (a
     * lost race, a reply lost with its connection) never counts twice. */
    const char *op = p->m == ARB_METHOD_DECIDE ? p->dec.decision_id : NULL;
    arb_store_commit_once(p->w->session, p->id, op, &p->commit, on_commit, p);
    return call_returned(p);
}

static int start_forget(arb_pending_t *p, arb_err_t *err)
{
    if (call_prepare(p, err) < 0) return -1;
    p->stage = ST_FORGOTTEN;
    call_begin(p);
    arb_store_forget(p->w->session, p->id, on_forget, p);
    return call_returned(p);
}

/* ------------------------------------------------------------ decide */


static int state_failed(arb_pending_t *p, arb_err_t *err)
{
    /* Too many calls already wait on the store: back-pressure, answered
     * `overloaded` whatever --state-fail says, so that a client slows down
     * instead of getting decisions that ignore the customer's caps. */
    if (p->code == ARB_OVERLOADED) return arb_err_set(err, ARB_OVERLOADED, "%s", p->message);
    arb_stat_inc(&p->w->stats.state_failures);
    if (p->w->server->cfg.state_fail_open) {
        p->degraded = true;
        return 0;
    }
    return arb_err_set(err, ARB_UNAVAILABLE, "%s", p->message);
}

/* The customer is read: decide on it, and commit the contacts it makes.
 * 1: done (answer p->dec), 0: waiting on the commit, -1: err. */
static int decide_fetched(arb_pending_t *p, arb_err_t *err)
{
    arb_worker_t *w = p->w;
    const arb_customer_t *cust = p->customer.id && p->customer.id[0] ? &p->customer : NULL;
    if (p->status < 0) {
        if (p->code == ARB_INVALID_PARAMS) return arb_err_set(err, p->code, "%s", p->message);
        if (state_failed(p, err) < 0) return -1;
        cust = NULL;
    }
    p->rounds++;
    const arb_decision_t *dec;
    if (p->parsed) {
        /* The clock (elapsed_us, the deadline) counts the parse, as it does
         * for a context parsed by arb_decide. */
        dec = arb_decide_context(w->decider, w->ruleset, p->parsed,
                                 arb_clock_mono_ns() - p->parse_ns, cust, &p->arena, &w->stats,
                                 err);
    } else {
        const msgpack_object *ctx = arb__state_context(p);
        if (!ctx) return arb_err_set(err, ARB_INTERNAL, "out of memory reading a waiting context");
        dec = arb_decide(w->decider, w->ruleset, ctx, cust, &p->arena, &w->stats, err);
    }
    if (!dec || arb__state_copy_decision(p, dec, err) < 0) return -1;
    if (p->degraded) return 1;
    int n = arb__state_decision_commit(p, err);
    if (n <= 0) return n < 0 ? -1 : 1;
    int r = start_commit(p, err);
    return r < 0 ? -1 : r ? 2 : 0;
}

/* ------------------------------------------------------------ the machine */

/* Carry p on until it waits on the store (1) or is done: 0 (answer it) or
 * -1 with err. */
static int run(arb_pending_t *p, arb_err_t *err)
{
    for (;;) {
        int r;
        if (p->stage != ST_START)   /* for /readyz and /metrics: how the store answered */
            arb_stats_store_seen(&p->w->stats, p->status >= 0 || p->code == ARB_INVALID_PARAMS ||
                                 p->code == ARB_OVERLOADED, uv_now(&p->w->loop),
                                 arb_clock_mono_ns() - p->call_ns);
        switch (p->stage) {
        case ST_START:
            r = p->m == ARB_METHOD_DECIDE || p->m == ARB_METHOD_CUSTOMER ? start_fetch(p, err)
                : p->m == ARB_METHOD_FORGET ? start_forget(p, err) : start_commit(p, err);
            if (r <= 0) return r < 0 ? -1 : 1;
            break;
        case ST_FETCHED:
            if (p->m == ARB_METHOD_CUSTOMER) {
                if (p->status < 0) {
                    arb_stat_inc(&p->w->stats.state_failures);
                    return arb_err_set(err, p->code, "%s", p->message);
                }
                return 0;
            }
            r = decide_fetched(p, err);
            if (r < 0) return -1;
            if (r == 1) return 0;
            if (r == 0) return 1;
            break;   /* committed in place */
        case ST_COMMITTED:
            if (p->status < 0) {
                if (p->m != ARB_METHOD_DECIDE) {
                    if (p->code == ARB_OVERLOADED) return arb_err_set(err, p->code, "%s", p->message);
                    arb_stat_inc(&p->w->stats.state_failures);
                    return arb_err_set(err, ARB_UNAVAILABLE, "%s", p->message);
                }
                return state_failed(p, err);   /* open: answer, nothing recorded */
            }
            /* Learning counts the answered round only: a decision decided
             * again is not shown, its offers teach nothing. */
            if (p->m != ARB_METHOD_DECIDE || p->n_granted == p->n_contacts) {
                arb__state_learn(p);
                return 0;
            }
            if (p->rounds >= ROUNDS_MAX) {
                arb__state_keep_granted(p);
                arb__state_learn(p);
                return 0;
            }
            /* A competing decision took a capped place: decide again on
             * what is stored now. */
            arb_stat_inc(&p->w->stats.state_retries);
            arb_arena_reset(&p->arena);
            p->stage = ST_START;
            break;
        case ST_FORGOTTEN:
            if (p->status < 0) {
                arb_stat_inc(&p->w->stats.state_failures);
                return arb_err_set(err, p->code, "%s", p->message);
            }
            return 0;
        }
    }
}

static void pack_result(arb_pending_t *p, msgpack_packer *pk)
{
    arb_rpc_pack_result_head(pk, p->msgid);
    switch (p->m) {
    case ARB_METHOD_DECIDE: arb_answer_pack_decision(pk, &p->dec); break;
    case ARB_METHOD_TRACK: arb_answer_pack_track(pk, p->stored); break;
    case ARB_METHOD_FEEDBACK: arb_answer_pack_feedback(pk); break;
    case ARB_METHOD_CUSTOMER: arb_answer_pack_customer(pk, &p->customer); break;
    default: arb_answer_pack_forget(pk); break;
    }
}

/* ------------------------------------------------------------ spares */

/* A finished request's memory is kept for the next one (its struct, its
 * arena's chunk, its inbox item, its frame's room), so that a steady
 * stream of stateful calls allocates nothing; up to --max-pending of them,
 * as many as can wait at once, and none grown past SPARE_KEEP by one large
 * request. */
#define SPARE_KEEP (64 * 1024)

static void pending_destroy(arb_pending_t *p)
{
    arb_arena_free(&p->arena);
    free(p->frame);
    free(p->item);
    free(p);
}

void arb_state_spares_free(arb_worker_t *w)
{
    while (w->spares) {
        arb_pending_t *p = w->spares;
        w->spares = p->next_spare;
        pending_destroy(p);
    }
    w->n_spares = 0;
    msgpack_sbuffer_destroy(&w->late_out);
    msgpack_sbuffer_init(&w->late_out);
}

static arb_pending_t *pending_new(arb_worker_t *w)
{
    arb_pending_t *p = w->spares;
    if (!p) {
        p = calloc(1, sizeof *p);
        if (p) arb_arena_init(&p->arena);
        return p;
    }
    w->spares = p->next_spare;
    w->n_spares--;
    arb_inbox_item_t *item = p->item;
    arb_arena_t arena = p->arena;
    char *frame = p->frame;
    size_t cap = p->frame_cap;
    memset(p, 0, sizeof *p);
    p->item = item;
    p->arena = arena;
    p->frame = frame;
    p->frame_cap = cap;
    return p;
}

static void pending_free(arb_pending_t *p)
{
    arb_worker_t *w = p->w;
    w->pending--;
    msgpack_unpacked_destroy(&p->ctx);
    if (w->n_spares >= w->server->cfg.max_pending) {
        pending_destroy(p);
        return;
    }
    arb_arena_reset(&p->arena);
    if (p->arena.head && p->arena.head->size > SPARE_KEEP) arb_arena_free(&p->arena);
    if (p->frame_cap > SPARE_KEEP) {
        free(p->frame);
        p->frame = NULL;
        p->frame_cap = 0;
    }
    p->next_spare = w->spares;
    w->spares = p;
    w->n_spares++;
}

/* What a waiting request holds, counted with its connection's queued
 * answers so that --max-queued and --max-queued-total bound it too. */
static size_t pending_weight(const arb_pending_t *p)
{
    size_t n = sizeof *p + p->frame_cap;
    for (const arb_arena_chunk_t *k = p->arena.head; k; k = k->next) n += k->size;
    return n;
}

static arb_conn_t *conn_by_id(arb_worker_t *w, uint64_t id)
{
    for (arb_conn_t *c = w->conns.list; c; c = c->next)
        if (c->id == id) return c;
    return NULL;
}

/* A request that waited is done: its answer goes to its connection, if
 * still open, through the same writer and error exit as any other. */
static void answer_late(arb_pending_t *p, int rc, const arb_err_t *err)
{
    arb_worker_t *w = p->w;
    arb_conn_t *c = p->conn_id ? conn_by_id(w, p->conn_id) : NULL;
    if (rc < 0 && p->conn_id) arb_stat_error(&w->stats, p->m, err->code);
    if (!c) return;
    /* Packed in the worker's buffer for late answers, kept between them;
     * the connection copies the answer into its line. */
    msgpack_sbuffer *buf = &w->late_out;
    buf->size = 0;
    arb_answer_t ans;
    msgpack_packer pk;
    arb_answer_begin(&ans, buf, w->server->cfg.max_answer);
    msgpack_packer_init(&pk, &ans, arb_answer_write);
    if (rc < 0) arb_rpc_pack_error(&pk, p->msgid, err->code, err->message);
    else pack_result(p, &pk);
    arb_code_t code;
    if (ans.failed) {
        arb_stat_inc(&w->stats.answer_failures);
        if (arb_rpc_answer_refused(&ans, &pk, true, p->msgid, &code) >= 0)
            arb_stat_error(&w->stats, p->m, code);
    }
    arb_conn_answer_late(c, p->seq, buf->data, buf->size);
    if (buf->alloc > SPARE_KEEP) {
        msgpack_sbuffer_destroy(buf);
        msgpack_sbuffer_init(buf);
    }
}

void arb_state_resume(arb_worker_t *w, arb_pending_t *p)
{
    (void)w;
    arb_err_t err;
    int rc = run(p, &err);
    if (rc == 1) return;
    if (rc == 0) arb__state_log(p);   /* before the answer: an answered record is queued */
    answer_late(p, rc, &err);
    pending_free(p);
}

/* ------------------------------------------------------------ methods */

static int copy_id(arb_pending_t *p, const char *id, size_t n, arb_err_t *err)
{
    if (n > ARB_STORE_ID_MAX)
        return arb_err_set(err, ARB_INVALID_PARAMS, "customer_id: longer than %d bytes",
                           ARB_STORE_ID_MAX);
    memcpy(p->id, id, n);
    p->id[n] = 0;
    return 0;
}

/* A decision decides on the frame's own context while the frame lives:
 * with a store that calls back at once (memory, an LMDB fetch) every round
 * does. Only a request that goes on waiting outlives its frame: it keeps
 * the frame's bytes (a copy into room reserved here, before any store call,
 * so that keeping it cannot fail once a call is under way), unpacked again
 * only if a later round or the decision log reads them. */
static int reserve_frame(arb_pending_t *p, const arb_conn_t *c, arb_err_t *err)
{
    if (!c->frame) return arb_err_set(err, ARB_INTERNAL, "a decision outside a frame");
    if (c->frame_len <= p->frame_cap) return 0;
    char *f = realloc(p->frame, c->frame_len);
    if (!f) return arb_err_set(err, ARB_INTERNAL, "out of memory keeping a context");
    p->frame = f;
    p->frame_cap = c->frame_len;
    return 0;
}

static void keep_frame(arb_pending_t *p, const arb_conn_t *c)
{
    memcpy(p->frame, c->frame, c->frame_len);
    p->frame_len = c->frame_len;
    p->arg = NULL;
    p->parsed = NULL;
    if (p->ctx_bytes) p->ctx_bytes = p->frame + (p->ctx_bytes - c->frame);   /* now the copy's */
}

const msgpack_object *arb__state_context(arb_pending_t *p)
{
    if (p->arg) return p->arg;
    if (p->ctx_bytes) {   /* read without a tree so far */
        if (msgpack_unpack_next(&p->ctx, p->ctx_bytes, p->ctx_len, NULL) != MSGPACK_UNPACK_SUCCESS)
            return NULL;
        return p->arg = &p->ctx.data;
    }
    if (!p->frame_len ||
        msgpack_unpack_next(&p->ctx, p->frame, p->frame_len, NULL) != MSGPACK_UNPACK_SUCCESS)
        return NULL;
    /* A request, checked by rpc.c before: [type, msgid, method, [context, ...]] */
    const msgpack_object *f = &p->ctx.data;
    if (f->type != MSGPACK_OBJECT_ARRAY || f->via.array.size != 4) return NULL;
    const msgpack_object *params = &f->via.array.ptr[3];
    if (params->type != MSGPACK_OBJECT_ARRAY || !params->via.array.size) return NULL;
    p->arg = &params->via.array.ptr[0];
    return p->arg;
}

/* What track and feedback write, parsed into p (p->commit, p->id). */
static int parse_write(arb_pending_t *p, const msgpack_object *arg, arb_err_t *err)
{
    arb_worker_t *w = p->w;
    int64_t now = (int64_t)time(NULL);
    arb_ruleset_retention(w->ruleset, &p->ret);
    const char *id;
    if (p->m == ARB_METHOD_TRACK) {
        if (arb_track_parse(arg, now, &p->arena, &id, &p->commit, err) < 0) return -1;
    } else {
        arb_feedback_t fb;
        if (arb_feedback_parse(arg, now, &p->arena, &fb, err) < 0) return -1;
        /* A challenger's own action is the challenger's to count and learn. */
        const arb_ruleset_t *rs = arb_policy_ruleset_of(w->ruleset, fb.action);
        if (!arb_ruleset_outcome_known(rs, fb.outcome, strlen(fb.outcome)))
            return arb_err_set(err, ARB_INVALID_PARAMS,
                               "outcome: '%.200s' is not an outcome of this ruleset; known: "
                               "impression, click, convert, dismiss and the ruleset's own",
                               fb.outcome);
        arb_outcome_t *o = arb_arena_alloc(&p->arena, sizeof *o);
        if (!o) return arb_err_set(err, ARB_INTERNAL, "out of memory reading feedback");
        *o = (arb_outcome_t){ fb.ts, fb.action, fb.outcome, fb.decision_id, fb.channel, fb.value };
        memset(&p->commit, 0, sizeof p->commit);
        p->commit.now = now;
        p->commit.outcomes = o;
        p->commit.n_outcomes = 1;
        arb_contact_req_t *reqs;
        int n = arb_policy_feedback_contacts(rs, fb.action, fb.channel, fb.outcome, fb.ts,
                                             &p->arena, &reqs);
        if (n < 0) return arb_err_set(err, ARB_INTERNAL, "out of memory reading feedback");
        p->commit.contacts = reqs;
        p->commit.n_contacts = (size_t)n;
        p->commit.learn = arb_adaptive_rule(rs, fb.action, &p->arena);
        p->fb_action = fb.action;
        p->fb_ts = fb.ts;
        p->fb = fb;
        p->n_contacts = (size_t)n;
        p->granted = arb_arena_alloc(&p->arena, ((size_t)n + 1) * sizeof *p->granted);
        if (!p->granted) return arb_err_set(err, ARB_INTERNAL, "out of memory reading feedback");
        id = fb.customer_id;
    }
    p->commit.retention = &p->ret;
    p->commit.pseudonym = arb__state_fresh_pseudonym(p);
    return copy_id(p, id, strlen(id), err);
}

static int prepare(arb_pending_t *p, const arb_conn_t *c, const msgpack_object *arg,
                   arb_err_t *err)
{
    if (p->m == ARB_METHOD_DECIDE && p->parsed) {
        if (copy_id(p, p->parsed->customer_id.ptr, p->parsed->customer_id.len, err) < 0) return -1;
        return reserve_frame(p, c, err);
    }
    if (p->m == ARB_METHOD_DECIDE) {
        const msgpack_object *id = arb_state_customer_id(arg);
        if (copy_id(p, id->via.str.ptr, id->via.str.size, err) < 0) return -1;
        p->arg = arg;
        return reserve_frame(p, c, err);
    }
    if (p->m == ARB_METHOD_TRACK || p->m == ARB_METHOD_FEEDBACK) return parse_write(p, arg, err);
    const char *id;
    if (arb_customer_ref_parse(arg, &p->arena, &id, err) < 0) return -1;
    return copy_id(p, id, strlen(id), err);
}

/* decide, or one of the state methods: ctx (decide's common request)
 * parsed from bytes [ctx_bytes, + ctx_len), else arg. */
static int state_call(arb_worker_t *w, arb_conn_t *c, arb_method_t m, uint32_t msgid, bool notify,
                      const msgpack_object *arg, const arb_context_t *ctx, uint64_t parse_ns,
                      const char *ctx_bytes, size_t ctx_len, msgpack_packer *pk, arb_err_t *err)
{
    if ((m == ARB_METHOD_CUSTOMER || m == ARB_METHOD_FORGET) && !c->admin)
        return arb_err_set(err, ARB_FORBIDDEN, "%s is allowed only on the admin socket",
                           arb_method_name(m));
    if (!arg && !ctx) return arb_err_set(err, ARB_INVALID_PARAMS, "params[0]: a map is required");
    if (w->pending >= w->server->cfg.max_pending)
        return arb_err_set(err, ARB_OVERLOADED,
                           "too many requests wait on the state store (--max-pending); retry later");
    arb_pending_t *p = pending_new(w);
    if (!p) return arb_err_set(err, ARB_INTERNAL, "out of memory");
    w->pending++;
    p->w = w;
    p->m = m;
    p->conn_id = notify ? 0 : c->id;
    p->msgid = msgid;
    msgpack_unpacked_init(&p->ctx);
    atomic_init(&p->call, CALL_WAITING);
    p->parsed = ctx;
    p->parse_ns = parse_ns;
    p->ctx_bytes = ctx_bytes;
    p->ctx_len = ctx_len;
    int rc = prepare(p, c, arg, err);
    if (rc == 0) rc = run(p, err);
    if (rc == 1) {
        if (p->m == ARB_METHOD_DECIDE) keep_frame(p, c);
        if (p->conn_id) p->seq = arb_conn_defer(c, pending_weight(p));
        return 0;
    }
    if (rc == 0) arb__state_log(p);
    if (rc == 0 && !notify) pack_result(p, pk);
    pending_free(p);
    return rc;
}

int arb_state_call(arb_worker_t *w, arb_conn_t *c, arb_method_t m, uint32_t msgid, bool notify,
                   const msgpack_object *arg, msgpack_packer *pk, arb_err_t *err)
{
    return state_call(w, c, m, msgid, notify, arg, NULL, 0, NULL, 0, pk, err);
}

int arb_state_decide(arb_worker_t *w, arb_conn_t *c, uint32_t msgid, const arb_context_t *ctx,
                     uint64_t parse_ns, const char *bytes, size_t len, msgpack_packer *pk,
                     arb_err_t *err)
{
    return state_call(w, c, ARB_METHOD_DECIDE, msgid, false, NULL, ctx, parse_ns, bytes, len, pk,
                      err);
}
