/* The catalog-only reload (see catalog_reload.h). Part of the server (it
 * reads server_priv.h like server.c, worker.c and learn_sync.c): the main
 * loop reads the file on libuv's thread pool and publishes the result; each
 * worker swaps it in on its own thread, between two requests, so a
 * decision reads one catalog from start to end.
 */
#include "engine/server/catalog_reload.h"

#include <stdlib.h>
#include <string.h>

#include "engine/base/log.h"
#include "engine/base/pack.h"
#include "engine/decide/decide.h"
#include "engine/ruleset/catalog.h"
#include "engine/ruleset/compiled.h"
#include "engine/ruleset/ruleset.h"
#include "engine/server/server_priv.h"
#include "engine/wire/rpc.h"

typedef struct catalog_job {
    uv_work_t req;
    arb_server_t *s;
    arb_ruleset_t *rs;          /* the ruleset the file is read for; one hold */
    reload_waiter_t *waiters;   /* answered when done; NULL once shutdown answered them */
    arb_catalog_t *cat;         /* the result, one reference; NULL with problems */
    arb_problems_t problems;
} catalog_job_t;

/* ------------------------------------------------------------ answers */

/* Post the packed answer in out to waiter wt's connection. */
static void post_answer(arb_server_t *s, const reload_waiter_t *wt, const msgpack_sbuffer *out)
{
    arb_inbox_item_t *it = malloc(sizeof *it + out->size);
    if (!it) return;
    memset(it, 0, sizeof *it);
    it->fd = -1;
    it->conn_id = wt->conn_id;
    it->reply_len = out->size;
    memcpy(it->reply, out->data, out->size);
    arb_worker_post(&s->workers[wt->worker], it);
}

/* {version, catalog: {products, checksum}}: what answers now. */
static void pack_done(msgpack_packer *pk, const char *version, const arb_catalog_t *cat)
{
    msgpack_pack_map(pk, 2);
    arb_pack_lit(pk, "version");
    arb_pack_cstr(pk, version);
    arb_pack_lit(pk, "catalog");
    if (!cat) {
        msgpack_pack_nil(pk);
        return;
    }
    msgpack_pack_map(pk, 2);
    arb_pack_lit(pk, "products");
    msgpack_pack_uint32(pk, cat->n_products);
    arb_pack_lit(pk, "checksum");
    arb_pack_cstr(pk, cat->checksum);
}

/* Answer and free every waiter: done (version and cat) when problems is
 * NULL, else the error code listing every problem. */
static void answer_waiters(arb_server_t *s, reload_waiter_t *waiters, const char *version,
                           const arb_catalog_t *cat, arb_code_t code, const arb_problems_t *problems)
{
    for (reload_waiter_t *wt = waiters, *next; wt; wt = next) {
        next = wt->next;
        if (wt->conn_id) {
            msgpack_sbuffer out, text;
            msgpack_sbuffer_init(&out);
            msgpack_packer pk;
            msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
            if (!problems) {
                arb_rpc_pack_result_head(&pk, wt->msgid);
                pack_done(&pk, version, cat);
            } else {
                msgpack_sbuffer_init(&text);
                for (size_t i = 0; i < problems->n; i++) {
                    if (i) msgpack_sbuffer_write(&text, "\n", 1);
                    msgpack_sbuffer_write(&text, problems->items[i], strlen(problems->items[i]));
                }
                msgpack_sbuffer_write(&text, "", 1);
                arb_rpc_pack_error_list(&pk, wt->msgid, code, text.data, problems->items,
                                        problems->n);
                msgpack_sbuffer_destroy(&text);
                arb_stat_inc(&s->reload_errors[code]);   /* counted like any reload error */
            }
            post_answer(s, wt, &out);
            msgpack_sbuffer_destroy(&out);
        }
        free(wt);
    }
}

static void refuse(arb_server_t *s, reload_waiter_t *waiters, arb_code_t code, const char *msg)
{
    arb_problems_t p = { 0 };
    arb_problems_add(&p, "%s", msg);
    answer_waiters(s, waiters, NULL, NULL, code, &p);
    arb_problems_free(&p);
}

/* ------------------------------------------------------------ the main loop */

void arb__catalog_reload_request(arb_server_t *s, int worker, uint64_t conn_id, uint32_t msgid)
{
    reload_waiter_t *wt = calloc(1, sizeof *wt);
    if (!wt) return;
    wt->worker = worker;
    wt->conn_id = conn_id;
    wt->msgid = msgid;
    pthread_mutex_lock(&s->control_lock);
    wt->next = s->queued_catalog;
    s->queued_catalog = wt;
    if (s->control_open) uv_async_send(&s->control);   /* not once it closes */
    pthread_mutex_unlock(&s->control_lock);
}

static void job_run(uv_work_t *req)
{
    catalog_job_t *job = req->data;
    job->cat = arb_ruleset_catalog_reload(job->rs, &job->problems);
}

/* Hand cat to every worker (a reference each), tagged version. */
static void publish(arb_server_t *s, arb_catalog_t *cat, const char *version)
{
    for (int i = 0; i < s->nworkers; i++) {
        arb_catalog_pub_t *pub = malloc(sizeof *pub);
        if (!pub) continue;   /* that worker keeps the catalog it has */
        pub->catalog = arb_catalog_retain(cat);
        snprintf(pub->version, sizeof pub->version, "%s", version);
        arb_catalog_pub_t *stale = atomic_exchange_explicit(&s->workers[i].next_catalog, pub,
                                                            memory_order_release);
        if (stale) {
            arb_catalog_release(stale->catalog);
            free(stale);
        }
        uv_async_send(&s->workers[i].wakeup);
    }
}

static void job_done(uv_work_t *req, int status)
{
    (void)status;
    catalog_job_t *job = req->data;
    arb_server_t *s = job->s;
    s->catalog_job = NULL;
    const char *version = arb_ruleset_version(job->rs);
    if (s->stopping) {
        arb_catalog_release(job->cat);   /* the workers are draining; waiters were answered */
    } else if (s->current != job->rs) {
        /* A full reload replaced the ruleset meanwhile: this catalog was
         * read for rules that no longer answer, and the full reload's may
         * be older than the file. Read again for the new ruleset; the
         * waiters are answered with what then serves. */
        arb_catalog_release(job->cat);
        reload_waiter_t *last = job->waiters;
        while (last && last->next) last = last->next;
        if (last) {
            pthread_mutex_lock(&s->control_lock);
            last->next = s->queued_catalog;
            s->queued_catalog = job->waiters;
            pthread_mutex_unlock(&s->control_lock);
        } else {
            arb__catalog_reload_request(s, 0, 0, 0);   /* the watch's: nobody to answer */
        }
    } else if (!job->cat) {
        atomic_fetch_add(&s->reloads_failed, 1);
        for (size_t i = 0; i < job->problems.n; i++) {
            char q[1024];
            arb_log_error("catalog reload rejected", "problem=%s version=%s",
                          arb_log_quote(job->problems.items[i], q, sizeof q), version);
        }
        answer_waiters(s, job->waiters, NULL, NULL, ARB_INVALID_PARAMS, &job->problems);
    } else {
        atomic_fetch_add(&s->reloads_ok, 1);
        s->catalog_published++;
        arb_log_info("catalog reloaded", "version=%s products=%u checksum=%s file=%s", version,
                     job->cat->n_products, job->cat->checksum, job->cat->path);
        /* Published first: a request sent after the answer reads it. */
        publish(s, job->cat, version);
        answer_waiters(s, job->waiters, version, job->cat, ARB_INTERNAL, NULL);
        arb_catalog_release(job->cat);
    }
    arb_problems_free(&job->problems);
    arb_ruleset_free(job->rs);
    free(job);
    arb__catalog_reload_start(s);   /* the ones asked for meanwhile */
}

void arb__catalog_reload_start(arb_server_t *s)
{
    if (s->catalog_job || s->stopping) return;
    pthread_mutex_lock(&s->control_lock);
    reload_waiter_t *waiters = s->queued_catalog;
    s->queued_catalog = NULL;
    pthread_mutex_unlock(&s->control_lock);
    if (!waiters) return;
    if (!s->current || !s->current->catalog_file) {
        refuse(s, waiters, ARB_INVALID_PARAMS,
               "this ruleset declares no catalog: reload {only = \"catalog\"} has nothing to read");
        return;
    }
    catalog_job_t *job = calloc(1, sizeof *job);
    if (!job) {
        refuse(s, waiters, ARB_INTERNAL, "out of memory starting the catalog reload");
        return;
    }
    job->s = s;
    job->rs = arb_ruleset_retain(s->current);   /* read only: its folder and file name */
    job->waiters = waiters;
    job->req.data = job;
    if (uv_queue_work(&s->loop, &job->req, job_run, job_done) < 0) {
        arb_ruleset_free(job->rs);
        free(job);
        refuse(s, waiters, ARB_INTERNAL, "cannot start the catalog reload");
        return;
    }
    s->catalog_job = job;
}

void arb__catalog_reload_stop(arb_server_t *s)
{
    const char *stopping = "the server is stopping: the catalog reload was not done";
    pthread_mutex_lock(&s->control_lock);
    reload_waiter_t *queued = s->queued_catalog;
    s->queued_catalog = NULL;
    pthread_mutex_unlock(&s->control_lock);
    refuse(s, queued, ARB_INTERNAL, stopping);
    catalog_job_t *job = s->catalog_job;
    if (job) {
        refuse(s, job->waiters, ARB_INTERNAL, stopping);
        job->waiters = NULL;
    }
}

void arb__catalog_set_current(arb_server_t *s, arb_ruleset_t *rs)
{
    arb_ruleset_t *old = s->current;
    s->current = rs ? arb_ruleset_retain(rs) : NULL;
    /* A catalog-only reload published while the full reload ran may have
     * read the file after it: the newest file must win, so read it again
     * for the new ruleset (queued: it starts on the next loop turn). */
    if (old && rs && rs->catalog_file && s->catalog_published && !s->stopping)
        arb__catalog_reload_request(s, 0, 0, 0);
    s->catalog_published = 0;
    arb_ruleset_free(old);
    /* A catalog in a subfolder is watched there too (watch.c). */
    if (s->has_watch) arb_watch_set_catalog(&s->watch, rs ? rs->catalog_file : NULL);
}

/* ------------------------------------------------------------ the workers */

void arb__catalog_reset(arb_worker_t *w)
{
    if (!w->catalog) return;
    arb_decider_set_catalog(w->decider, NULL, NULL);
    arb_catalog_release(w->catalog);
    w->catalog = NULL;
}

void arb__catalog_take(arb_worker_t *w)
{
    if (!atomic_load_explicit(&w->next_catalog, memory_order_relaxed)) return;
    arb_catalog_pub_t *pub = atomic_exchange_explicit(&w->next_catalog, NULL, memory_order_acquire);
    if (!pub) return;
    const char *mine = arb_ruleset_version(w->ruleset);
    if (strcmp(pub->version, mine) != 0) {
        /* Read for a newer ruleset this worker has not swapped in yet: kept
         * for after the swap, unless a newer publication took the slot. */
        if (strtoull(pub->version, NULL, 10) > strtoull(mine, NULL, 10)) {
            arb_catalog_pub_t *none = NULL;
            if (atomic_compare_exchange_strong(&w->next_catalog, &none, pub)) return;
        }
        arb_catalog_release(pub->catalog);   /* read for a ruleset that no longer answers */
    } else {
        arb__catalog_reset(w);
        w->catalog = pub->catalog;
        arb_decider_set_catalog(w->decider, w->ruleset, w->catalog);
    }
    free(pub);
}

void arb__catalog_free(arb_worker_t *w)
{
    arb_catalog_release(w->catalog);
    w->catalog = NULL;
    arb_catalog_pub_t *pub = atomic_exchange(&w->next_catalog, NULL);
    if (pub) arb_catalog_release(pub->catalog);
    free(pub);
}
