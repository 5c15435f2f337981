/* The sync of learned evidence (see learn_sync.h).
 *
 * The store calls back on its own terms (before the call returns for
 * memory, on the writer thread for LMDB, on worker 0's loop for Redis).
 * The callback only copies what the store read back and wakes worker 0
 * (uv_async_send, safe from any thread): building the snapshot (a sort and
 * an index of every arm) runs there, never on the LMDB writer thread that
 * every customer commit waits on. `busy` says a sync is in flight, until
 * worker 0 has published its snapshot: the next tick waits for it, and the
 * drain closes the handles only when it is false.
 */
#include "engine/server/learn_sync.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/log.h"
#include "engine/decide/adaptive.h"
#include "engine/decide/decide.h"
#include "engine/server/server_priv.h"
#include "engine/server/worker.h"
#include "engine/state/store.h"

struct arb_learn_sync {
    arb_server_t *server;
    arb_learner_t *learner;
    arb_worker_t *w;            /* the worker whose loop and session sync */
    uv_timer_t timer;
    uv_async_t synced;          /* the store called back: absorb on worker 0 */
    bool timer_open, closing, last_started;
    /* Handed from the store's callback to worker 0 (before the async). */
    arb_arm_t *got;             /* one malloc: the arms, then their strings */
    size_t n_got;
    bool got_failed;
    atomic_bool busy;           /* a sync is in flight */
    atomic_int drained;         /* other workers that have drained */
    arb_learn_batch_t batch;    /* the evidence of the sync in flight */
    arb_arena_t arena;          /* the action names it reads back */
    _Atomic uint64_t arms;      /* arms in the newest snapshot */
};

arb_learn_sync_t *arb_learn_sync_new(arb_server_t *s)
{
    arb_learn_sync_t *ls = calloc(1, sizeof *ls);
    if (!ls) return NULL;
    ls->server = s;
    arb_learner_options_t opt = { s->cfg.learn_max_arms, s->cfg.learn_max_segments };
    ls->learner = arb_learner_new(&opt);
    if (!ls->learner) {
        free(ls);
        return NULL;
    }
    arb_arena_init(&ls->arena);
    atomic_init(&ls->busy, false);
    atomic_init(&ls->drained, 0);
    return ls;
}

void arb_learn_sync_free(arb_learn_sync_t *ls)
{
    if (!ls) return;
    free(ls->got);
    arb_learn_batch_free(&ls->batch);
    arb_arena_free(&ls->arena);
    arb_learner_free(ls->learner);
    free(ls);
}

arb_learner_t *arb_learn_sync_learner(arb_learn_sync_t *ls) { return ls->learner; }

/* Hand snap to every worker's slot; a snapshot a worker never took is
 * released here. */
static void publish(arb_learn_sync_t *ls, arb_arms_snap_t *snap)
{
    arb_server_t *s = ls->server;
    atomic_store(&ls->arms, arb_arms_snap_count(snap));
    for (int i = 0; i < s->nworkers; i++) {
        arb_arms_snap_retain(snap);
        arb_arms_snap_release(atomic_exchange(&s->workers[i].next_arms, snap));
    }
    arb_arms_snap_release(snap);
}

/* A copy of arms[0..n) and their strings in one malloc, NULL when out of
 * memory (or n is 0). */
static arb_arm_t *arms_copy(const arb_arm_t *arms, size_t n)
{
    size_t bytes = n * sizeof *arms;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(arms[i].action) + strlen(arms[i].channel) + strlen(arms[i].segment) + 3;
    arb_arm_t *out = n ? malloc(bytes) : NULL;
    if (!out) return NULL;
    char *p = (char *)(out + n);
    for (size_t i = 0; i < n; i++) {
        out[i] = arms[i];
        const char **f[3] = { &out[i].action, &out[i].channel, &out[i].segment };
        for (int k = 0; k < 3; k++) {
            size_t len = strlen(*f[k]) + 1;
            memcpy(p, *f[k], len);
            *f[k] = p;
            p += len;
        }
    }
    return out;
}

/* Any thread: keep what the store said for worker 0. */
static void on_synced(void *arg, const arb_arm_t *arms, size_t n, const arb_err_t *err)
{
    arb_learn_sync_t *ls = arg;
    ls->got = err ? NULL : arms_copy(arms, n);
    ls->n_got = ls->got ? n : 0;
    ls->got_failed = err || (n && !ls->got);
    if (err) arb_log_warn("learning sync failed", "deltas=%zu error=\"%s\"", ls->batch.n, err->message);
    uv_async_send(&ls->synced);
}

/* Worker 0: publish what the sync read back. */
static void on_synced_async(uv_async_t *a)
{
    arb_learn_sync_t *ls = a->data;
    if (!atomic_load(&ls->busy)) return;   /* a spurious wake-up */
    arb_stats_t *st = &ls->w->stats;
    if (ls->got_failed) {
        arb_stat_inc(&st->learn_sync_failures);
        arb_stat_add(&st->learn_lost, ls->batch.n);
    } else {
        arb_stat_inc(&st->learn_syncs);
        arb_arms_snap_t *snap = arb_learner_absorb(ls->learner, ls->got, ls->n_got);
        if (snap) publish(ls, snap);
    }
    free(ls->got);
    ls->got = NULL;
    ls->n_got = 0;
    arb_learn_batch_free(&ls->batch);
    atomic_store(&ls->busy, false);
    /* The drain waits for this sync: carry it on now. */
    if (ls->closing) arb_learn_sync_drained(ls);
}

static void sync_run(arb_learn_sync_t *ls)
{
    if (atomic_load(&ls->busy)) return;
    arb_arena_reset(&ls->arena);
    const char *const *names = NULL;
    int n = arb_adaptive_actions(ls->w->ruleset, &ls->arena, &names);
    if (n < 0 || arb_learner_take(ls->learner, &ls->batch) < 0) return;   /* out of memory: next tick */
    if (n == 0 && ls->batch.n == 0) {
        arb_learn_batch_free(&ls->batch);
        return;
    }
    atomic_store(&ls->busy, true);
    arb_arms_sync_t req = { ls->batch.deltas, ls->batch.n, names, (size_t)n };
    arb_store_arms_sync(ls->w->session, &req, on_synced, ls);
}

static void on_tick(uv_timer_t *t) { sync_run(t->data); }

int arb_learn_sync_start(arb_learn_sync_t *ls, arb_worker_t *w)
{
    ls->w = w;
    int r = uv_timer_init(&w->loop, &ls->timer);
    if (r < 0) return r;
    ls->timer.data = ls;
    ls->timer_open = true;
    if ((r = uv_async_init(&w->loop, &ls->synced, on_synced_async)) < 0) return r;
    ls->synced.data = ls;
    return uv_timer_start(&ls->timer, on_tick, 0, ls->server->cfg.learn_ms);
}

void arb_learn_sync_worker_drained(arb_learn_sync_t *ls) { atomic_fetch_add(&ls->drained, 1); }

bool arb_learn_sync_drained(arb_learn_sync_t *ls)
{
    if (!ls->timer_open) return true;
    if (!ls->closing) {
        uv_timer_stop(&ls->timer);
        ls->closing = true;
    }
    if (atomic_load(&ls->busy)) return false;
    if (!ls->last_started) {
        /* Evidence still comes from workers answering their last requests:
         * the last sync waits for them. */
        if (atomic_load(&ls->drained) < ls->server->nworkers - 1) return false;
        ls->last_started = true;
        sync_run(ls);
        if (atomic_load(&ls->busy)) return false;
    }
    uv_close((uv_handle_t *)&ls->timer, NULL);
    uv_close((uv_handle_t *)&ls->synced, NULL);
    ls->timer_open = false;
    return true;
}

void arb_learn_sync_take(arb_learn_sync_t *ls, arb_worker_t *w)
{
    if (!atomic_load_explicit(&w->next_arms, memory_order_relaxed)) return;
    arb_arms_snap_t *next = atomic_exchange(&w->next_arms, NULL);
    if (!next) return;
    arb_arms_snap_release(w->arms);
    w->arms = next;
    arb_decider_set_arms(w->decider, next);
}

void arb_learn_sync_gauges(arb_learn_sync_t *ls, uint64_t *arms, uint64_t *dropped)
{
    *arms = ls ? atomic_load(&ls->arms) : 0;
    *dropped = ls ? arb_learner_dropped(ls->learner) : 0;
}
