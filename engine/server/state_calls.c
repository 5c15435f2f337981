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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/base/pack.h"
#include "engine/decide/adaptive.h"
#include "engine/decide/decide.h"
#include "engine/decide/policy.h"
#include "engine/learn/learner.h"
#include "engine/request/track.h"
#include "engine/ruleset/ruleset.h"
#include "engine/server/conn.h"
#include "engine/server/learn_sync.h"
#include "engine/server/server_priv.h"
#include "engine/server/worker.h"
#include "engine/state/store.h"
#include "engine/wire/answer.h"
#include "engine/wire/rpc.h"

#define ROUNDS_MAX 3

/* Who finishes a store call: the worker when the callback came while the
 * call was still running (CALL_IN -> CALL_DONE), the inbox when it came
 * after the call returned (CALL_WAITING -> posted). */
enum { CALL_IN, CALL_WAITING, CALL_DONE };

enum { ST_START, ST_FETCHED, ST_COMMITTED, ST_FORGOTTEN };

struct arb_pending {
    arb_worker_t *w;
    arb_method_t m;
    uint64_t conn_id;          /* 0: a notification, nobody to answer */
    uint64_t seq;              /* its answer's place in the connection's line */
    uint32_t msgid;
    int stage;
    int rounds;                /* decide: decisions made so far */
    bool degraded;             /* the store failed and --state-fail open: record nothing */
    _Atomic int call;
    arb_inbox_item_t *item;    /* posted by the store's thread when it completes late */
    char id[ARB_STORE_ID_MAX + 1];
    arb_arena_t arena;         /* one round's memory: customer, decision copy, contacts */
    msgpack_sbuffer ctx_bytes; /* decide: the context, packed, kept for the next round */
    msgpack_unpacked ctx;      /* ... and unpacked: its strings point into ctx_bytes */
    arb_commit_t commit;       /* track, feedback: what to write (in arena) */
    arb_retention_t ret;       /* the ruleset's, which commit points to */
    arb_customer_t customer;   /* what fetch read (in arena) */
    /* The store's answer, written by the thread that calls back. */
    int status;
    arb_code_t code;
    char message[sizeof(((arb_err_t *)0)->message)];
    bool *granted;             /* n_contacts entries, in arena */
    size_t n_contacts, n_granted, stored;
    /* decide: this round's decision, copied into arena, and its contacts */
    arb_decision_t dec;
    arb_contact_req_t *reqs;
    arb_offer_req_t *offers;   /* ... the adaptive actions it shows, for learning */
    size_t n_offers;
    /* feedback: the action, its time, and what the store found to learn */
    const char *fb_action;
    int64_t fb_ts;
    arb_commit_result_t learned;
};

const msgpack_object *arb_state_customer_id(const msgpack_object *ctx)
{
    const msgpack_object *id = arb_msgpack_map_get(ctx, "customer_id");
    return id && id->type == MSGPACK_OBJECT_STR && id->via.str.size ? id : NULL;
}

/* ------------------------------------------------------------ store calls */

static void call_begin(arb_pending_t *p) { atomic_store(&p->call, CALL_IN); }

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
    p->item = NULL;
    arb_worker_post(p->w, item);
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

static char *copy_bytes(arb_arena_t *a, const char *s, size_t n)
{
    if (!s) return NULL;
    char *d = arb_arena_alloc(a, n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}
#define copy_str(a, s) ((s) ? copy_bytes((a), (s), strlen(s)) : NULL)

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
        if (p->commit.learn) {   /* the strings live only now: into p's idle arena */
            p->learned = *res;
            p->learned.granted = NULL;
            p->learned.learn_channel = copy_str(&p->arena, res->learn_channel);
            p->learned.learn_segment = copy_str(&p->arena, res->learn_segment);
            p->learned.learn_decision_id = copy_str(&p->arena, res->learn_decision_id);
            if (res->learn_known && (!p->learned.learn_channel || !p->learned.learn_segment))
                p->learned.learn_known = false;   /* out of memory: nothing learned */
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
 * that the store's thread never allocates. */
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


/* The decision is a view into the decider's scratch and the ruleset (which
 * a reload may retire): a copy in p's arena answers it after the commit. */
static int copy_decision(arb_pending_t *p, const arb_decision_t *d, arb_err_t *err)
{
    arb_arena_t *a = &p->arena;
    arb_decision_t *c = &p->dec;
    *c = *d;
    c->decision_id = copy_bytes(a, d->decision_id, d->decision_id_len);
    c->ruleset = copy_str(a, d->ruleset);
    arb_decided_action_t *acts = arb_arena_alloc(a, (d->n_actions + 1) * sizeof *acts);
    arb_explained_t *ex = arb_arena_alloc(a, (d->n_explain + 1) * sizeof *ex);
    if (!c->decision_id || !acts || !ex) goto nomem;
    for (uint32_t i = 0; i < d->n_actions; i++) {
        acts[i] = d->actions[i];
        acts[i].id = copy_str(a, d->actions[i].id);
        acts[i].payload = copy_bytes(a, d->actions[i].payload, d->actions[i].payload_len);
        acts[i].head = copy_bytes(a, d->actions[i].head, d->actions[i].head_len);
        acts[i].tail = copy_bytes(a, d->actions[i].tail, d->actions[i].tail_len);
        acts[i].segment = copy_str(a, d->actions[i].segment);
        if (!acts[i].id) goto nomem;
    }
    for (uint32_t i = 0; i < d->n_explain; i++) {
        ex[i] = d->explain[i];
        ex[i].id = copy_str(a, d->explain[i].id);
        ex[i].reason = copy_str(a, d->explain[i].reason);
        if (d->explain[i].learned) {
            arb_learned_t *l = arb_arena_alloc(a, sizeof *l);
            if (!l) goto nomem;
            *l = *d->explain[i].learned;
            l->segment = copy_str(a, l->segment);
            ex[i].learned = l;
        }
    }
    c->actions = acts;
    c->explain = d->explain ? ex : NULL;
    return 0;
nomem:
    return arb_err_set(err, ARB_INTERNAL, "out of memory holding a decision for the store");
}

/* Keep only the actions whose every contact was granted; explain says
 * `cap` for the others. */
static void decision_keep_granted(arb_pending_t *p)
{
    arb_decided_action_t *acts = (arb_decided_action_t *)p->dec.actions;
    arb_explained_t *ex = (arb_explained_t *)p->dec.explain;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < p->dec.n_actions; i++) {
        bool ok = true;
        for (size_t k = 0; k < p->n_contacts; k++)
            if (!p->granted[k] && p->reqs[k].contact.action &&
                strcmp(p->reqs[k].contact.action, acts[i].id) == 0)
                ok = false;
        if (ok) {
            acts[kept++] = acts[i];
            continue;
        }
        for (uint32_t e = 0; ex && e < p->dec.n_explain; e++)
            if (strcmp(ex[e].id, acts[i].id) == 0) {
                ex[e].chosen = false;
                ex[e].reason = "cap";
            }
    }
    p->dec.n_actions = kept;
}

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
    const arb_decision_t *dec = arb_decide(w->decider, w->ruleset, &p->ctx.data, cust, &p->arena,
                                           &w->stats, err);
    if (!dec || copy_decision(p, dec, err) < 0) return -1;
    if (p->degraded) return 1;
    int n = arb_policy_contacts(w->ruleset, &p->dec, &p->arena, &p->reqs);
    if (n < 0) return arb_err_set(err, ARB_INTERNAL, "out of memory listing a decision's contacts");
    int o = arb_adaptive_offers(w->ruleset, &p->dec, p->reqs, (size_t)n, &p->arena, &p->offers);
    if (o < 0) return arb_err_set(err, ARB_INTERNAL, "out of memory listing a decision's offers");
    p->n_offers = (size_t)o;
    if (n == 0 && o == 0) return 1;
    arb_ruleset_retention(w->ruleset, &p->ret);
    memset(&p->commit, 0, sizeof p->commit);
    p->commit.now = p->dec.now;
    p->commit.contacts = p->reqs;
    p->commit.n_contacts = (size_t)n;
    p->commit.offers = p->offers;
    p->commit.n_offers = p->n_offers;
    p->commit.retention = &p->ret;
    p->n_contacts = (size_t)n;
    p->granted = arb_arena_alloc(&p->arena, ((size_t)n + 1) * sizeof *p->granted);
    if (!p->granted) return arb_err_set(err, ARB_INTERNAL, "out of memory committing contacts");
    int r = start_commit(p, err);
    return r < 0 ? -1 : r ? 2 : 0;
}

/* What a stored commit teaches: the trials of a decision's offers (for
 * actions whose trials are decisions), or a feedback's evidence. */
static void learn(arb_pending_t *p)
{
    arb_worker_t *w = p->w;
    arb_arm_delta_t *d = NULL;
    int n = 0;
    if (p->m == ARB_METHOD_DECIDE && p->n_offers) {
        bool *stored = arb_arena_alloc(&p->arena, p->n_offers * sizeof *stored);
        if (!stored) return;
        for (size_t i = 0; i < p->n_offers; i++)
            stored[i] = p->offers[i].contact < 0 || p->granted[p->offers[i].contact];
        n = arb_adaptive_decision_deltas(w->ruleset, p->offers, p->n_offers, stored, &p->arena, &d);
    } else if (p->m == ARB_METHOD_FEEDBACK && p->commit.learn) {
        if (!p->learned.learn_known) {
            arb_stat_inc(&w->stats.feedback_unknown);
            return;
        }
        n = arb_adaptive_feedback_deltas(w->ruleset, p->fb_action, p->fb_ts, &p->learned,
                                         &p->arena, &d);
    }
    if (n > 0) arb_learner_add(arb_learn_sync_learner(w->server->learn), d, (size_t)n);
}

/* ------------------------------------------------------------ the machine */

/* Carry p on until it waits on the store (1) or is done: 0 (answer it) or
 * -1 with err. */
static int run(arb_pending_t *p, arb_err_t *err)
{
    for (;;) {
        int r;
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
            learn(p);
            if (p->m != ARB_METHOD_DECIDE || p->n_granted == p->n_contacts) return 0;
            if (p->rounds >= ROUNDS_MAX) {
                decision_keep_granted(p);
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

static void pending_free(arb_pending_t *p)
{
    p->w->pending--;
    msgpack_unpacked_destroy(&p->ctx);
    msgpack_sbuffer_destroy(&p->ctx_bytes);
    arb_arena_free(&p->arena);
    free(p->item);
    free(p);
}

/* What a waiting request holds, counted with its connection's queued
 * answers so that --max-queued and --max-queued-total bound it too. */
static size_t pending_weight(const arb_pending_t *p)
{
    size_t n = sizeof *p + p->ctx_bytes.alloc;
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
    if (rc < 0 && p->conn_id) arb_stat_inc(&w->stats.errors[err->code]);
    if (!c) return;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    arb_answer_t ans;
    msgpack_packer pk;
    arb_answer_begin(&ans, &buf, w->server->cfg.max_answer);
    msgpack_packer_init(&pk, &ans, arb_answer_write);
    if (rc < 0) arb_rpc_pack_error(&pk, p->msgid, err->code, err->message);
    else pack_result(p, &pk);
    arb_code_t code;
    if (ans.failed) {
        arb_stat_inc(&w->stats.answer_failures);
        if (arb_rpc_answer_refused(&ans, &pk, true, p->msgid, &code) >= 0)
            arb_stat_inc(&w->stats.errors[code]);
    }
    arb_conn_answer_late(c, p->seq, buf.data, buf.size);
    msgpack_sbuffer_destroy(&buf);
}

void arb_state_resume(arb_worker_t *w, arb_pending_t *p)
{
    (void)w;
    arb_err_t err;
    int rc = run(p, &err);
    if (rc == 1) return;
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

/* The context, copied: a second round decides on it after the frame's
 * memory has gone. */
static int keep_context(arb_pending_t *p, const msgpack_object *arg, arb_err_t *err)
{
    msgpack_sbuffer *sb = &p->ctx_bytes;
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    int rc = msgpack_pack_object(&pk, *arg);
    if (rc == 0 && msgpack_unpack_next(&p->ctx, sb->data, sb->size, NULL) != MSGPACK_UNPACK_SUCCESS)
        rc = -1;
    return rc ? arb_err_set(err, ARB_INTERNAL, "out of memory keeping a context") : 0;
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
        if (!arb_ruleset_outcome_known(w->ruleset, fb.outcome, strlen(fb.outcome)))
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
        int n = arb_policy_feedback_contacts(w->ruleset, fb.action, fb.channel, fb.outcome, fb.ts,
                                             &p->arena, &reqs);
        if (n < 0) return arb_err_set(err, ARB_INTERNAL, "out of memory reading feedback");
        p->commit.contacts = reqs;
        p->commit.n_contacts = (size_t)n;
        p->commit.learn = arb_adaptive_rule(w->ruleset, fb.action, &p->arena);
        p->fb_action = fb.action;
        p->fb_ts = fb.ts;
        p->n_contacts = (size_t)n;
        p->granted = arb_arena_alloc(&p->arena, ((size_t)n + 1) * sizeof *p->granted);
        if (!p->granted) return arb_err_set(err, ARB_INTERNAL, "out of memory reading feedback");
        id = fb.customer_id;
    }
    p->commit.retention = &p->ret;
    return copy_id(p, id, strlen(id), err);
}

static int prepare(arb_pending_t *p, const msgpack_object *arg, arb_err_t *err)
{
    if (p->m == ARB_METHOD_DECIDE) {
        const msgpack_object *id = arb_state_customer_id(arg);
        if (copy_id(p, id->via.str.ptr, id->via.str.size, err) < 0) return -1;
        return keep_context(p, arg, err);
    }
    if (p->m == ARB_METHOD_TRACK || p->m == ARB_METHOD_FEEDBACK) return parse_write(p, arg, err);
    const char *id;
    if (arb_customer_ref_parse(arg, &p->arena, &id, err) < 0) return -1;
    return copy_id(p, id, strlen(id), err);
}

int arb_state_call(arb_worker_t *w, arb_conn_t *c, arb_method_t m, uint32_t msgid, bool notify,
                   const msgpack_object *arg, msgpack_packer *pk, arb_err_t *err)
{
    if ((m == ARB_METHOD_CUSTOMER || m == ARB_METHOD_FORGET) && !c->admin)
        return arb_err_set(err, ARB_FORBIDDEN, "%s is allowed only on the admin socket",
                           arb_method_name(m));
    if (!arg) return arb_err_set(err, ARB_INVALID_PARAMS, "params[0]: a map is required");
    if (w->pending >= w->server->cfg.max_pending)
        return arb_err_set(err, ARB_OVERLOADED,
                           "too many requests wait on the state store (--max-pending); retry later");
    arb_pending_t *p = calloc(1, sizeof *p);
    if (!p) return arb_err_set(err, ARB_INTERNAL, "out of memory");
    w->pending++;
    p->w = w;
    p->m = m;
    p->conn_id = notify ? 0 : c->id;
    p->msgid = msgid;
    arb_arena_init(&p->arena);
    msgpack_unpacked_init(&p->ctx);
    msgpack_sbuffer_init(&p->ctx_bytes);
    atomic_init(&p->call, CALL_WAITING);
    int rc = prepare(p, arg, err);
    if (rc == 0) rc = run(p, err);
    if (rc == 1) {
        if (p->conn_id) p->seq = arb_conn_defer(c, pending_weight(p));
        return 0;
    }
    if (rc == 0 && !notify) pack_result(p, pk);
    pending_free(p);
    return rc;
}
