/* The learned arms in the Redis Cluster store (store.h arb_store_arms_sync):
 * one key per action, arb:{l:<action>}:arms, so each action is one slot and
 * one master, whatever the customers.
 *
 * Keeps state/'s rules for a networked store: the merge is arms.c's, run in
 * C, and the write is the customer records' optimistic one (redis.c): GET
 * the value, merge the deltas, then the set-if-unchanged script SETs it
 * only if the stored bytes are still those merged, else GET and merge
 * again after a short random pause (at most 32 tries); so two nodes
 * syncing deltas for one action end with the exact sum. An action with no deltas is only read (GET). Each action is its own
 * call on the session's loop, all sent at once and each bounded by
 * timeout_ms. A sync's calls do not count against max_pending: that
 * bound sheds requests, and a sync (one at a time per node, one call per
 * adaptive action of the ruleset) refused whenever decisions wait would
 * lose what a busy node learns. The sync calls back once, when
 * every action is done: with every wanted action's arms, or with the first
 * error (the actions done before it keep their deltas: store.h allows it).
 * Arms keys never expire: they are not customer data, and a node restarted
 * after any pause continues from them.
 */
#include "engine/state/arms.h"
#include "engine/state/redis_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct arms_sync {
    arb_arms_plan_t plan;
    size_t waiting;         /* calls not yet called back, +1 while they are being sent */
    bool failed;
    arb_err_t err;          /* the first failure */
    arb_store_arms_cb cb;
    void *arg;
} arms_sync_t;

static void sync_release(arms_sync_t *y)
{
    if (--y->waiting) return;
    const arb_arm_t *arms = NULL;
    size_t n = 0;
    if (!y->failed && arb_arms_plan_result(&y->plan, &arms, &n, &y->err)) y->failed = true;
    y->cb(y->arg, y->failed ? NULL : arms, y->failed ? 0 : n, y->failed ? &y->err : NULL);
    arb_arms_plan_free(&y->plan);
    free(y);
}

void arb_redis_arms_done(req_t *q, const arb_err_t *err)
{
    arms_sync_t *y = q->sync;
    if (err && !y->failed) {
        y->failed = true;
        y->err = *err;
    }
    sync_release(y);
}

void arb_redis_arms_got(req_t *q, const redisReply *rp)
{
    arms_sync_t *y = q->sync;
    free(q->old);
    free(q->rec);
    q->old = q->rec = NULL;
    q->had_old = rp->type == REDIS_REPLY_STRING;
    q->old_len = q->had_old ? rp->len : 0;
    arb_err_t err;
    if (q->had_old && !(q->old = malloc(rp->len + 1))) {
        arb_err_set(&err, ARB_INTERNAL, "state: out of memory reading the learned arms of %s", q->id);
        arb_redis_req_finish(q, NULL, &err);
        return;
    }
    if (q->had_old) memcpy(q->old, rp->str, rp->len);
    if (arb_arms_plan_apply(&y->plan, q->group, q->old, q->old_len, q->s->store->name, &q->rec, &q->rec_len,
                            &err)) {
        arb_arms_plan_skip(&y->plan, q->group, &err);
        arb_redis_req_finish(q, NULL, NULL);
        return;
    }
    if (!q->rec) {  /* nothing to add: the read is the answer */
        arb_redis_req_finish(q, NULL, NULL);
        return;
    }
    q->step = ST_CAS;
    arb_redis_req_send(q);
}

static void retry_now(void *arg)
{
    req_t *q = arg;
    q->s->loop.timer_stop(q->backoff);
    q->backoff = NULL;
    q->inflight--;
    if (!q->done) arb_redis_req_send(q);
    arb_redis_req_release(q);
}

/* Two nodes syncing one action back to back would otherwise keep taking
 * each other's turn (GET, merge, then the other's SET lands first): a
 * random pause of 0 to min(tries, 8) ms breaks the lockstep, well inside
 * the deadline. */
void arb_redis_arms_retry(req_t *q)
{
    unsigned span = (unsigned)(q->tries < 8 ? q->tries : 8) + 1;
    unsigned ms = (unsigned)rand_r(&q->s->seed) % span;
    if (!(q->backoff = q->s->loop.timer_start(q->s->loop.loop, ms, retry_now, q))) {
        arb_redis_req_send(q);
        return;
    }
    q->inflight++;
}

void arb_redis_arms_sync(arb_store_session_t *ss, const arb_arms_sync_t *req, arb_store_arms_cb cb, void *arg)
{
    session_t *s = ss->impl;
    arb_err_t err;
    arms_sync_t *y = calloc(1, sizeof *y);
    if (!y) {
        arb_err_set(&err, ARB_INTERNAL, "state: out of memory syncing learned arms");
        cb(arg, NULL, 0, &err);
        return;
    }
    int rc = arb_arms_plan_init(&y->plan, req, &err);
    /* Every call is made before any is sent, so a refusal adds nothing. */
    req_t **calls = rc || !y->plan.n_groups ? NULL : calloc(y->plan.n_groups, sizeof *calls);
    if (!rc && y->plan.n_groups && !calls) rc = arb_err_set(&err, ARB_INTERNAL, "state: out of memory syncing learned arms");
    size_t made = 0;
    for (; !rc && made < y->plan.n_groups; made++) {
        req_t *q = arb_redis_req_new(ss, OP_ARMS, y->plan.groups[made].action, arg, &err);
        if (!q) {
            rc = -1;
            break;
        }
        q->sync = y;
        q->group = made;
        q->step = ST_GET;
        snprintf(q->key, sizeof q->key, "arb:{l:%s}:arms", y->plan.groups[made].action);
        q->slot = arb_redis_key_slot(q->key);
        calls[made] = q;
    }
    if (rc) {
        /* The calls made are dropped unsent: done, and nothing awaited. */
        for (size_t i = 0; i < made; i++) {
            calls[i]->done = true;
            s->loop.timer_stop(calls[i]->timer);
            calls[i]->timer = NULL;
            arb_redis_req_release(calls[i]);
        }
        free(calls);
        arb_arms_plan_free(&y->plan);
        free(y);
        cb(arg, NULL, 0, &err);
        return;
    }
    y->cb = cb;
    y->arg = arg;
    y->waiting = made + 1;  /* held while sending: a call failing at once must not end the sync */
    for (size_t i = 0; i < made; i++) {
        arb_redis_req_send(calls[i]);
        arb_redis_req_release(calls[i]);
    }
    free(calls);
    sync_release(y);
}
