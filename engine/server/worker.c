/* A worker thread (see worker.h): its libuv loop, its inbox (connections
 * and late replies handed over by the main thread), its ruleset slot and the
 * swap between two requests, its spare answer buffers and the sweep timer
 * that enforces the frame and idle timeouts and drives the drain on stop.
 * Nothing here takes a lock on the decide path: the inbox lock is taken only
 * when another thread hands work over.
 */
#include "engine/server/worker.h"

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "engine/base/clock.h"
#include "engine/base/log.h"
#include "engine/server/conn.h"
#include "engine/decide/decide.h"
#include "engine/learn/learner.h"
#include "engine/server/learn_sync.h"
#include "engine/wire/frame.h"
#include "engine/server/service.h"
#include "engine/server/redis_loop.h"
#include "engine/server/state_calls.h"
#include "engine/state/store.h"
#include "engine/wire/rpc.h"
#include "engine/ruleset/ruleset.h"
#include "engine/server/catalog_reload.h"
#include "engine/server/server_priv.h"

bool arb__worker_overloaded(arb_worker_t *w)
{
    /* uv_now is the time the loop iteration began: how long this iteration
     * has been working is how long the last readable client has waited.
     * This runs before every decision: the coarse clock, when it is fine
     * enough (as libuv itself decides for uv_now). */
    double now_ms = (double)arb_clock_coarse_ns() / 1e6;
    return now_ms - (double)uv_now(&w->loop) > w->server->cfg.overload_ms;
}

void arb_worker_post(arb_worker_t *w, arb_inbox_item_t *item)
{
    pthread_mutex_lock(&w->inbox_lock);
    item->next = w->inbox;
    w->inbox = item;
    pthread_mutex_unlock(&w->inbox_lock);
    uv_async_send(&w->wakeup);
}

static void worker_deliver_reply(arb_worker_t *w, arb_inbox_item_t *it)
{
    for (arb_conn_t *c = w->conns.list; c; c = c->next)
        if (c->id == it->conn_id) {
            arb_conn_send(c, it->reply, it->reply_len);
            return;
        }
}

/* Take the inbox in arrival order and act on each item. */
static void worker_drain_inbox(arb_worker_t *w)
{
    pthread_mutex_lock(&w->inbox_lock);
    arb_inbox_item_t *list = w->inbox, *rev = NULL;
    w->inbox = NULL;
    pthread_mutex_unlock(&w->inbox_lock);
    while (list) {
        arb_inbox_item_t *next = list->next;
        list->next = rev;
        rev = list;
        list = next;
    }
    /* Store completions come in runs: their answers are written once per
     * connection at the end, not one write(2) each. */
    arb_conns_hold_writes(&w->conns);
    while (rev) {
        arb_inbox_item_t *next = rev->next;
        if (rev->fd >= 0) {
            if (w->stopping) {
                close(rev->fd);
                arb__server_conn_closed(w->server, rev->admin);
            } else {
                if (arb_conn_open(&w->conns, rev->fd, rev->is_pipe, rev->admin) < 0)
                    arb__server_conn_closed(w->server, rev->admin);
            }
        } else if (rev->pending) {
            /* The item is its request's (state_calls.c), used again for its
             * next store call: not freed here. */
            arb_state_resume(w, rev->pending);
            rev = next;
            continue;
        } else {
            worker_deliver_reply(w, rev);
        }
        free(rev);
        rev = next;
    }
    arb_conns_release_writes(&w->conns);
}

/* Freeing rulesets runs on libuv's thread pool, which serves nothing else
 * here: at the lowest priority, it takes the cores the workers leave idle
 * instead of delaying requests (reloads run on threads of their own at the
 * same priority: reload.c). */
static void background_priority(void)
{
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
}

/* Freeing a large ruleset (its lua_State, its nodes) takes milliseconds:
 * it happens on libuv's thread pool, not between two requests. */
typedef struct retired {
    uv_work_t req;
    arb_ruleset_t *rs;
} retired_t;

static void retired_free(uv_work_t *req)
{
    background_priority();
    arb_ruleset_free(((retired_t *)req->data)->rs);
    malloc_trim(0);
}

static void retired_done(uv_work_t *req, int status) { free(req->data); }

static void worker_retire_ruleset(arb_worker_t *w, arb_ruleset_t *old)
{
    retired_t *r = malloc(sizeof *r);
    if (!r) {
        arb_ruleset_free(old);
        return;
    }
    r->rs = old;
    r->req.data = r;
    if (uv_queue_work(&w->loop, &r->req, retired_free, retired_done) < 0) {
        arb_ruleset_free(old);
        free(r);
    }
}

static void worker_swap_ruleset(arb_worker_t *w)
{
    arb_ruleset_t *next = atomic_exchange_explicit(&w->next_ruleset, NULL, memory_order_acquire);
    if (!next) return;
    arb_ruleset_t *old = w->ruleset;
    arb__catalog_reset(w);   /* the new ruleset read its catalog fresh */
    w->ruleset = next;
    arb_stats_ruleset_begin(&w->stats, next, strtoull(arb_ruleset_version(next), NULL, 10));
    worker_retire_ruleset(w, old);
}

static void worker_close_handles(arb_worker_t *w)
{
    /* The store session's handles (Redis connections, deadline timers) live
     * on this loop: closed here, on this thread, so that the loop's last
     * turns close them before uv_loop_close. Nothing waits on it now. */
    arb_store_session_close(w->session);
    w->session = NULL;
    if (!uv_is_closing((uv_handle_t *)&w->sweep)) uv_close((uv_handle_t *)&w->sweep, NULL);
    if (!uv_is_closing((uv_handle_t *)&w->wakeup)) uv_close((uv_handle_t *)&w->wakeup, NULL);
}

static void worker_on_sweep(uv_timer_t *t)
{
    arb_worker_t *w = t->data;
    uint64_t now = uv_now(&w->loop);
    for (arb_conn_t *c = w->conns.list, *next; c; c = next) {
        next = c->next;
        arb_conn_check_timeouts(c, now, w->stopping, w->stop_deadline_ms);
    }
    /* Requests waiting on the store hold the loop: their completion comes
     * through the wakeup handle, and what was decided must be answered.
     * Worker 0 then stores what every worker learned (learn_sync.h). */
    if (!w->stopping || w->conns.list || w->pending) return;
    if (w->index == 0 && !arb_learn_sync_drained(w->server->learn)) return;
    if (w->index != 0) arb_learn_sync_worker_drained(w->server->learn);
    worker_close_handles(w);
}

static void worker_on_wakeup(uv_async_t *a)
{
    arb_worker_t *w = a->data;
    worker_swap_ruleset(w);
    arb__catalog_take(w);
    worker_drain_inbox(w);
    if (atomic_load(&w->stop_requested) && !w->stopping) {
        w->stopping = true;
        w->stop_deadline_ms = uv_now(&w->loop) + (uint64_t)(w->server->cfg.drain_timeout * 1000);
        uv_timer_start(&w->sweep, worker_on_sweep, 20, 20);
    }
}

void arb_worker_main(void *arg)
{
    arb_worker_t *w = arg;
    /* Named for top -H and perf: "arb-worker-0", ... (15 bytes at most). */
    char name[16];
    snprintf(name, sizeof name, "arb-worker-%d", w->index);
    pthread_setname_np(pthread_self(), name);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    /* Late inbox items (a reply racing the stop) are dropped here. */
    worker_drain_inbox(w);
}

/* ------------------------------------------------------------ frames */

/* A whole frame from one of w's connections: service.c answers it, bounded by
 * --max-answer, and the request's memory is reset for the next one. */
static int worker_on_frame(arb_conn_t *c, const char *frame, size_t len, msgpack_sbuffer *out,
                           void *ud)
{
    arb_worker_t *w = ud;
    arb_learn_sync_take(w->server->learn, w);
    arb__catalog_take(w);
    msgpack_packer pk;
    arb_answer_t ans;
    arb_answer_begin(&ans, out, w->server->cfg.max_answer);
    msgpack_packer_init(&pk, &ans, arb_answer_write);
    int rc = arb_service_handle(w, c, frame, len, &pk);
    arb_arena_reset(&w->arena);
    msgpack_zone_clear(&w->zone);
    return rc;
}

/* Bytes that are not a frame: invalid_request when a msgid can be read. */
static void worker_on_protocol_error(arb_conn_t *c, const char *p, size_t len, const char *msg,
                                     msgpack_sbuffer *out, void *ud)
{
    arb_worker_t *w = ud;
    uint32_t msgid;
    msgpack_packer pk;
    arb_answer_t ans;
    arb_answer_begin(&ans, out, 0);
    msgpack_packer_init(&pk, &ans, arb_answer_write);
    if (arb_frame_peek_msgid(p, len, &msgid))
        arb_rpc_pack_error(&pk, msgid, ARB_INVALID_REQUEST, msg);
    if (ans.failed) ans.buf->size = ans.start;   /* out of memory: the close says it */
    arb_stat_error(&w->stats, ARB_METHOD_OTHER, ARB_INVALID_REQUEST);
}

static void worker_on_conn_close(arb_conn_t *c, void *ud)
{
    arb_worker_t *w = ud;
    arb__server_conn_closed(w->server, c->admin);
}

static const arb_conn_callbacks_t worker_conn_callbacks = {
    .on_frame = worker_on_frame,
    .on_protocol_error = worker_on_protocol_error,
    .on_close = worker_on_conn_close,
};

int arb_worker_init(arb_server_t *s, arb_worker_t *w, int index, arb_ruleset_t *rs)
{
    memset(w, 0, sizeof *w);
    w->server = s;
    w->index = index;
    w->ruleset = rs;
    arb_stats_ruleset_begin(&w->stats, rs, strtoull(arb_ruleset_version(rs), NULL, 10));
    w->decider = arb_decider_new();
    if (w->decider) arb_decider_set_deadline(w->decider, s->cfg.deadline_ms, s->cfg.max_deadline_ms);
    if (w->decider && s->cfg.learn_seeded) arb_decider_seed(w->decider, s->cfg.learn_seed + (uint64_t)index);
    arb_arena_init(&w->arena);
    w->zone_ready = msgpack_zone_init(&w->zone, 4096);
    pthread_mutex_init(&w->inbox_lock, NULL);
    atomic_init(&w->next_ruleset, NULL);
    atomic_init(&w->next_arms, NULL);
    atomic_init(&w->next_catalog, NULL);
    atomic_init(&w->stop_requested, false);
    int r = uv_loop_init(&w->loop);
    if (r == 0) r = uv_async_init(&w->loop, &w->wakeup, worker_on_wakeup);
    if (r == 0) r = uv_timer_init(&w->loop, &w->sweep);
    arb_conns_init(&w->conns, &w->loop, &s->cfg, &w->stats, index, &worker_conn_callbacks, w);
    if (r < 0 || !w->decider || !w->zone_ready) return r < 0 ? r : UV_ENOMEM;
    arb_err_t err;
    w->session = arb_store_session_open(s->store, &err);
    if (!w->session) {
        arb_log_error("cannot start worker", "worker=%d error=\"%s\"", index, err.message);
        return UV_ENOMEM;
    }
    /* Redis talks on this worker's loop; memory and LMDB ignore it. */
    arb_store_loop_t l = arb_redis_loop(&w->loop);
    if (arb_store_session_attach(w->session, &l, &err) < 0) {
        arb_log_error("cannot start worker", "worker=%d error=\"%s\"", index, err.message);
        return UV_ENOMEM;
    }
    w->wakeup.data = w;
    w->sweep.data = w;
    if (index == 0 && (r = arb_learn_sync_start(s->learn, w)) < 0) return r;
    return uv_timer_start(&w->sweep, worker_on_sweep, 250, 250);
}

void arb_worker_destroy(arb_worker_t *w)
{
    arb_conns_free(&w->conns);
    /* Items posted after the loop ended: replies nobody waits for now. */
    for (arb_inbox_item_t *it = w->inbox, *next; it; it = next) {
        next = it->next;
        if (it->fd >= 0) close(it->fd);
        if (!it->pending) free(it);   /* a request's own item goes with it */
    }
    arb_state_spares_free(w);
    uv_loop_close(&w->loop);
    arb_ruleset_free(w->ruleset);
    arb_ruleset_free(atomic_exchange(&w->next_ruleset, NULL));
    arb__catalog_free(w);
    arb_decider_free(w->decider);
    arb_arms_snap_release(w->arms);
    arb_arms_snap_release(atomic_exchange(&w->next_arms, NULL));
    arb_store_session_close(w->session);
    arb_arena_free(&w->arena);
    if (w->zone_ready) msgpack_zone_destroy(&w->zone);
    pthread_mutex_destroy(&w->inbox_lock);
}
