/* The server: listeners, workers, signals and the reload control path (see
 * server.h).
 *
 * Accepting (listen.c): the main loop accepts on every listener, duplicates the new
 * socket's descriptor and hands it to a worker through that worker's inbox
 * (a mutex-guarded list plus uv_async_send), round-robin. Connections past
 * max_connections (lowered to what RLIMIT_NOFILE leaves past a reserve, see
 * server_reserve_fds) are closed at once and counted; admin connections are
 * never refused. Unix socket paths are claimed and released by sockpath.c.
 *
 * Reloading: SIGHUP, `reload` on the admin socket and (with --watch) a change
 * in the ruleset folder all start the same job on a thread of its own: read
 * the folder once, load and compile the ruleset (once, shared by every
 * worker, when it has no plain Lua function; else one copy per worker), run
 * its tests, and only when everything passed, publish it in each worker's
 * next_ruleset slot and wake the worker, which swaps it in between two
 * requests. Requests for a reload that arrive while one runs are answered
 * by the next run. A job past --reload-timeout is abandoned: its waiters get
 * an error, the old ruleset keeps serving, later reloads and shutdown go on
 * without it (see reload.h).
 *
 * Signals: blocked until the loop handles them (see control_signals), then
 * SIGHUP reloads and SIGTERM/SIGINT drain and exit 0; during the drain any
 * of them is ignored (logged while the main loop still runs). A reload running or queued at SIGTERM is
 * answered "the server is stopping" before the workers drain.
 */
#include "engine/server/server.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/decide/decide.h"
#include "engine/server/listen.h"
#include "engine/base/log.h"
#include "engine/wire/answer.h"
#include "engine/wire/rpc.h"
#include "engine/ruleset/ruleset.h"
#include "engine/audit/log.h"
#include "engine/server/learn_sync.h"
#include "engine/server/catalog_reload.h"
#include "engine/server/server_priv.h"
#include "engine/state/store.h"
#include "engine/server/redis_loop.h"
#include "engine/server/http.h"

static void waiters_free(reload_waiter_t *wt)
{
    while (wt) {
        reload_waiter_t *next = wt->next;
        free(wt);
        wt = next;
    }
}

const arb_config_t *arb_server_config(const arb_server_t *s) { return &s->cfg; }

void arb__server_conn_closed(arb_server_t *s, bool admin)
{
    atomic_fetch_sub(admin ? &s->open_admin : &s->open_public, 1);
}

void arb__server_stats(arb_server_t *s, arb_stats_t *sum, int64_t *open_connections,
                       uint64_t *reloads_ok, uint64_t *reloads_failed,
                       uint64_t *connections_refused)
{
    for (int i = 0; i < s->nworkers; i++) arb_stats_sum(sum, &s->workers[i].stats);
    *open_connections = atomic_load(&s->open_public) + atomic_load(&s->open_admin);
    *reloads_ok = atomic_load(&s->reloads_ok);
    *reloads_failed = atomic_load(&s->reloads_failed);
    *connections_refused = atomic_load(&s->refused);
    arb_stat_add(&sum->reloads_abandoned, atomic_load(&s->reloads_abandoned));
    for (int i = 0; i < ARB_CODE_COUNT; i++)
        arb_stat_add(&sum->errors[i], atomic_load(&s->reload_errors[i])),
        arb_stat_add(&sum->errors_by[ARB_METHOD_RELOAD][i], atomic_load(&s->reload_errors[i]));
}

/* ------------------------------------------------------------ reloading */

static void reload_start(arb_server_t *s);

/* Pack the reload's answer for msgid: {version, actions} of rs, or the error
 * code listing every problem, through the one error exit. */
static void reload_pack_answer(const arb_ruleset_t *rs, arb_code_t code,
                               const arb_problems_t *problems, uint32_t msgid, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    if (rs) {
        arb_rpc_pack_result_head(&pk, msgid);
        arb_answer_pack_reload(&pk, arb_ruleset_version(rs), arb_ruleset_action_count(rs));
        return;
    }
    msgpack_sbuffer text;
    msgpack_sbuffer_init(&text);
    for (size_t i = 0; i < problems->n; i++) {
        if (i) msgpack_sbuffer_write(&text, "\n", 1);
        msgpack_sbuffer_write(&text, problems->items[i], strlen(problems->items[i]));
    }
    msgpack_sbuffer_write(&text, "", 1);
    arb_rpc_pack_error_list(&pk, msgid, code, text.data ? text.data : "", problems->items,
                            problems->n);
    msgpack_sbuffer_destroy(&text);
}

/* Answer and free every waiter: with rs when it was loaded, else with code
 * and problems. */
static void reload_answer_waiters(arb_server_t *s, reload_waiter_t *waiters,
                                  const arb_ruleset_t *rs, arb_code_t code,
                                  const arb_problems_t *problems)
{
    for (reload_waiter_t *wt = waiters, *next; wt; wt = next) {
        next = wt->next;
        if (wt->conn_id) {
            msgpack_sbuffer out;
            msgpack_sbuffer_init(&out);
            reload_pack_answer(rs, code, problems, wt->msgid, &out);
            if (!rs) arb_stat_inc(&s->reload_errors[code]);   /* counted like any error */
            arb_inbox_item_t *it = malloc(sizeof *it + out.size);
            if (it) {
                memset(it, 0, sizeof *it);
                it->fd = -1;
                it->conn_id = wt->conn_id;
                it->reply_len = out.size;
                memcpy(it->reply, out.data, out.size);
                arb_worker_post(&s->workers[wt->worker], it);
            }
            msgpack_sbuffer_destroy(&out);
        }
        free(wt);
    }
}

/* Answer waiters with one error message. */
static void reload_refuse(arb_server_t *s, reload_waiter_t *waiters, arb_code_t code,
                          const char *msg)
{
    arb_problems_t p = { 0 };
    arb_problems_add(&p, "%s", msg);
    reload_answer_waiters(s, waiters, NULL, code, &p);
    arb_problems_free(&p);
}

/* The running job is over (done, abandoned or cut by shutdown): forget it
 * and hand back its waiters. */
static reload_waiter_t *reload_forget(arb_server_t *s)
{
    reload_waiter_t *waiters = s->running_waiters;
    uv_timer_stop(&s->reload_watchdog);
    arb_reload_release(s->running);
    s->running = NULL;
    s->running_waiters = NULL;
    return waiters;
}

/* After the reload, watch what the rules path names now (the folder may
 * have been replaced) and start the reloads asked for meanwhile. */
static void reload_next(arb_server_t *s)
{
    if (s->has_watch && !s->stopping) arb_watch_rearm(&s->watch);
    reload_start(s);
}

static void reload_finish(arb_server_t *s)
{
    arb_reload_t *job = s->running;
    arb_ruleset_t **copies = arb_reload_copies(job);
    const arb_problems_t *problems = arb_reload_problems(job);
    bool ok = copies && problems->n == 0;
    for (int i = 0; ok && i < s->nworkers; i++) ok = copies[i] != NULL;
    if (ok) {
        arb_ruleset_t *first = arb_ruleset_retain(copies[0]);   /* for the answers */
        arb__catalog_set_current(s, first);
        for (int i = 0; i < s->nworkers; i++) {
            arb_ruleset_t *stale = atomic_exchange_explicit(&s->workers[i].next_ruleset,
                                                            copies[i], memory_order_release);
            copies[i] = NULL;   /* the worker owns it now */
            arb_ruleset_free(stale);
            uv_async_send(&s->workers[i].wakeup);
        }
        arb_http_set_ruleset(s->http, first);
        atomic_fetch_add(&s->reloads_ok, 1);
        arb_log_info("ruleset reloaded", "version=%s actions=%zu dir=%s read=%s",
                     arb_ruleset_version(first), arb_ruleset_action_count(first),
                     s->cfg.rules_dir, arb_reload_resolved(job));
        reload_answer_waiters(s, reload_forget(s), first, ARB_INTERNAL, NULL);
        arb_ruleset_free(first);
    } else {
        atomic_fetch_add(&s->reloads_failed, 1);
        for (size_t i = 0; i < problems->n; i++) {
            char q[1024];
            arb_log_error("reload rejected", "problem=%s dir=%s",
                          arb_log_quote(problems->items[i], q, sizeof q), s->cfg.rules_dir);
        }
        /* problems belong to the job: answer before forgetting it. */
        reload_answer_waiters(s, s->running_waiters, NULL, ARB_INVALID_PARAMS, problems);
        s->running_waiters = NULL;
        reload_forget(s);
    }
    reload_next(s);
}

static void server_on_reload_async(uv_async_t *a)
{
    arb_server_t *s = a->data;
    if (s->running && arb_reload_finished(s->running)) reload_finish(s);
}

static void server_on_reload_watchdog(uv_timer_t *t)
{
    arb_server_t *s = t->data;
    if (!s->running) return;
    if (!arb_reload_detach(s->running)) {   /* finished meanwhile */
        reload_finish(s);
        return;
    }
    atomic_fetch_add(&s->reloads_abandoned, 1);
    char msg[256];
    snprintf(msg, sizeof msg, "%s: the reload took longer than --reload-timeout (%g s) and was "
             "abandoned; the previous ruleset keeps serving", s->cfg.rules_dir,
             s->cfg.reload_timeout);
    arb_log_error("reload abandoned", "timeout_s=%g dir=%s", s->cfg.reload_timeout,
                  s->cfg.rules_dir);
    reload_refuse(s, reload_forget(s), ARB_DEADLINE_EXCEEDED, msg);
    reload_next(s);
}

static void reload_start(arb_server_t *s)
{
    if (s->running || s->stopping) return;
    pthread_mutex_lock(&s->control_lock);
    reload_waiter_t *waiters = s->queued;
    s->queued = NULL;
    pthread_mutex_unlock(&s->control_lock);
    if (!waiters) return;
    int stuck = arb_reload_stuck();
    if (stuck >= ARB_RELOADS_STUCK_MAX) {
        char msg[256];
        snprintf(msg, sizeof msg, "%d earlier reloads passed --reload-timeout and still run; no "
                 "reload starts until one ends (the current ruleset keeps serving)", stuck);
        arb_log_error("reload refused", "reason=\"%d reloads still stuck\"", stuck);
        atomic_fetch_add(&s->reloads_failed, 1);
        reload_refuse(s, waiters, ARB_OVERLOADED, msg);
        return;
    }
    char err[256];
    s->running = arb_reload_spawn(s->cfg.rules_dir, s->nworkers, ++s->seq, &s->reload_async, err,
                                  sizeof err);
    if (!s->running) {
        arb_log_error("reload rejected", "problem=\"%s\" dir=%s", err, s->cfg.rules_dir);
        atomic_fetch_add(&s->reloads_failed, 1);
        reload_refuse(s, waiters, ARB_INTERNAL, err);
        return;
    }
    s->running_waiters = waiters;
    uv_timer_start(&s->reload_watchdog, server_on_reload_watchdog,
                   (uint64_t)(s->cfg.reload_timeout * 1000), 0);
}

static void reload_enqueue(arb_server_t *s, int worker, uint64_t conn_id, uint32_t msgid)
{
    reload_waiter_t *wt = calloc(1, sizeof *wt);
    if (!wt) return;
    wt->worker = worker;
    wt->conn_id = conn_id;
    wt->msgid = msgid;
    pthread_mutex_lock(&s->control_lock);
    wt->next = s->queued;
    s->queued = wt;
    pthread_mutex_unlock(&s->control_lock);
}

void arb__server_request_reload(arb_server_t *s, arb_worker_t *w, uint64_t conn_id, uint32_t msgid)
{
    reload_enqueue(s, w->index, conn_id, msgid);
    pthread_mutex_lock(&s->control_lock);
    if (s->control_open) uv_async_send(&s->control);   /* not once it closes */
    pthread_mutex_unlock(&s->control_lock);
}

static void server_on_control(uv_async_t *a)
{
    reload_start(a->data);
    arb__catalog_reload_start(a->data);
}

/* A burst of changes in the folder settled (see watch.h). */
static void server_on_folder_change(void *data)
{
    arb_server_t *s = data;
    bool rules = s->watch.rules_changed;
    s->watch.rules_changed = s->watch.catalog_changed = false;
    if (s->stopping) return;
    if (!rules) {   /* only the declared catalog file: the rules stay */
        arb_log_info("catalog file changed", "dir=%s file=%s", s->cfg.rules_dir, s->watch.catalog);
        arb__catalog_reload_request(s, 0, 0, 0);
        return;
    }
    arb_log_info("ruleset folder changed", "dir=%s", s->cfg.rules_dir);
    reload_enqueue(s, 0, 0, 0);
    reload_start(s);
}

/* ------------------------------------------------------------ signals */

static void close_if_open(uv_handle_t *h, bool open)
{
    if (open && !uv_is_closing(h)) uv_close(h, NULL);
}

static void server_stop(arb_server_t *s)
{
    if (s->stopping) return;
    s->stopping = true;
    arb_log_info("shutting down", "reason=signal drain_timeout_s=%g", s->cfg.drain_timeout);
    close_if_open((uv_handle_t *)&s->tcp, s->has_tcp);
    close_if_open((uv_handle_t *)&s->sock, s->has_sock);
    close_if_open((uv_handle_t *)&s->admin, s->has_admin);
    arb_http_stop(s->http);   /* promptly: scrapes in progress are cut */
    s->http = NULL;
    if (s->has_sock) arb_sockpath_release(s->cfg.socket_path, s->sock_id);
    if (s->has_admin) arb_sockpath_release(s->cfg.admin_path, s->admin_id);
    if (s->has_watch) arb_watch_close(&s->watch);
    /* The signal handles stay (unreferenced): a signal during the drain is
     * logged and ignored instead of finding the default action. */
    uv_unref((uv_handle_t *)&s->sig_term);
    uv_unref((uv_handle_t *)&s->sig_int);
    uv_unref((uv_handle_t *)&s->sig_hup);
    pthread_mutex_lock(&s->control_lock);
    s->control_open = false;
    reload_waiter_t *queued = s->queued;
    s->queued = NULL;
    pthread_mutex_unlock(&s->control_lock);
    close_if_open((uv_handle_t *)&s->control, true);
    /* Whoever waits for a reload gets an answer before the workers drain. */
    const char *stopping = "the server is stopping: the reload was not done";
    reload_refuse(s, queued, ARB_INTERNAL, stopping);
    arb__catalog_reload_stop(s);
    if (s->running) {
        arb_reload_detach(s->running);   /* a reload that finished anyway is dropped */
        reload_refuse(s, reload_forget(s), ARB_INTERNAL, stopping);
    }
    close_if_open((uv_handle_t *)&s->reload_watchdog, true);
    close_if_open((uv_handle_t *)&s->reload_async, true);
    for (int i = 0; i < s->nworkers; i++) {
        atomic_store(&s->workers[i].stop_requested, true);
        uv_async_send(&s->workers[i].wakeup);
    }
}

static void server_on_signal(uv_signal_t *h, int signum)
{
    arb_server_t *s = h->data;
    if (s->stopping) {
        arb_log_info("signal ignored", "signal=%s reason=\"shutting down\"",
                     signum == SIGHUP ? "SIGHUP" : signum == SIGINT ? "SIGINT" : "SIGTERM");
        return;
    }
    if (signum == SIGHUP) {
        arb_log_info("reload requested", "reason=SIGHUP");
        if (s->has_watch) arb_watch_rearm(&s->watch);   /* even if no reload follows */
        reload_enqueue(s, 0, 0, 0);
        reload_start(s);
        return;
    }
    server_stop(s);
}

static void signal_watch(arb_server_t *s, uv_signal_t *h, int signum)
{
    uv_signal_init(&s->loop, h);
    h->data = s;
    uv_signal_start(h, server_on_signal, signum);
}

/* SIGHUP, SIGTERM and SIGINT are blocked from the start until the loop
 * handles them, and again once it stopped: one arriving while the ruleset
 * loads waits and is then acted on (a reload, a clean stop), never the
 * default action that kills the process. Threads created meanwhile inherit
 * the block, so the main thread alone takes them. */
static void control_signals(int how)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(how, &set, NULL);
}

/* ------------------------------------------------------------ running */

static int server_load_initial(arb_server_t *s, arb_ruleset_t **copies)
{
    arb_problems_t problems = { 0 };
    s->seq = 1;
    arb_log_info("loading ruleset", "dir=%s", s->cfg.rules_dir);
    arb_reload_load(s->cfg.rules_dir, s->nworkers, s->seq, copies, &problems, NULL);
    if (problems.n) {
        for (size_t i = 0; i < problems.n; i++) {
            char q[1024];
            arb_log_error("cannot load ruleset", "problem=%s dir=%s",
                          arb_log_quote(problems.items[i], q, sizeof q), s->cfg.rules_dir);
        }
        arb_problems_free(&problems);
        for (int i = 0; i < s->nworkers; i++) {
            arb_ruleset_free(copies[i]);
            copies[i] = NULL;
        }
        return -1;
    }
    atomic_store(&s->reloads_ok, 0);
    return 0;
}

/* The customer store, before any worker: a folder that cannot be used is a
 * start-up error naming it, not a server that fails every decision. */
static int server_store_open(arb_server_t *s)
{
    arb_store_options_t opt = { .map_size = s->cfg.state_map_size,
                                .sync_ms = s->cfg.state_sync_ms,
                                .timeout_ms = s->cfg.state_timeout_ms,
                                .max_pending = s->cfg.max_pending };
    arb_err_t err;
    /* A cluster that no seed answers is a start-up error naming the
     * seeds, not a server that fails every decision; once serving, a
     * Redis that goes away follows --state-fail. */
    bool redis = strncmp(s->cfg.state, "redis://", 8) == 0;
    if (arb_store_open(&s->store, s->cfg.state, &opt, &err) < 0 ||
        (redis && arb_redis_probe(s->cfg.state + 8, 1000, &err) < 0)) {
        char q[1200];
        arb_log_error("cannot open state", "state=%s error=%s", s->cfg.state,
                      arb_log_quote(err.message, q, sizeof q));
        return -1;
    }
    arb_log_info("state opened", "store=%s fail=%s", arb_store_name(s->store),
                 s->cfg.state_fail_open ? "open" : "closed");
    return 0;
}

/* The decision log, before any worker: a folder that cannot be written is
 * a start-up error naming it, not a log that silently stays empty. */
static int server_log_open(arb_server_t *s)
{
    if (!s->cfg.log_dir) return 0;
    arb_log_options_t opt = { .dir = s->cfg.log_dir, .max_file_bytes = s->cfg.log_max_bytes,
                              .rotate_s = s->cfg.log_rotate_s,
                              .retention_days = s->cfg.log_retention_days,
                              .max_queued = s->cfg.log_queue, .contexts = s->cfg.log_contexts };
    arb_err_t err;
    if (arb_log_open(&s->log, &opt, &err) < 0) {
        char q[1200];
        arb_log_error("cannot open the decision log", "error=%s",
                      arb_log_quote(err.message, q, sizeof q));
        return -1;
    }
    arb_log_info("decision log opened", "dir=%s contexts=%s", s->cfg.log_dir,
                 s->cfg.log_contexts ? "yes" : "no");
    return 0;
}

/* --http: after the listeners, on a thread of its own (http.h). */
static int server_http_start(arb_server_t *s, arb_ruleset_t *rs)
{
    char err[300];
    if (!(s->http = arb_http_start(s, s->cfg.http, err, sizeof err))) {
        arb_log_error("cannot serve http", "error=\"%s\"", err);
        return -1;
    }
    arb_http_set_ruleset(s->http, rs);
    arb_log_info("http serving", "addr=%s paths=\"/metrics /healthz /readyz\"", s->cfg.http);
    return 0;
}

static void server_close_walk(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

int arb_server_run(const arb_config_t *cfg)
{
    signal(SIGPIPE, SIG_IGN);
    control_signals(SIG_BLOCK);
    arb_server_t *s = calloc(1, sizeof *s);
    if (!s) return 2;
    s->cfg = *cfg;
    s->nworkers = cfg->workers > 0 ? cfg->workers : (int)uv_available_parallelism();
    s->workers = calloc((size_t)s->nworkers, sizeof *s->workers);
    arb_ruleset_t **copies = calloc((size_t)s->nworkers, sizeof *copies);
    pthread_mutex_init(&s->control_lock, NULL);
    uv_loop_init(&s->loop);
    int code = 2, started = 0;
    if (!s->workers || !copies || server_store_open(s) < 0 || server_log_open(s) < 0 ||
        server_load_initial(s, copies) < 0 ||
        !(s->learn = arb_learn_sync_new(s)))
        goto out;
    for (int i = 0; i < s->nworkers; i++, started++)
        if (arb_worker_init(s, &s->workers[i], i, copies[i]) < 0) goto out;
    if (arb_listen_all(s) < 0 || arb_listen_reserve_fds(s) < 0) goto out;
    if (cfg->http && server_http_start(s, copies[0]) < 0) goto out;
    uv_async_init(&s->loop, &s->control, server_on_control);
    s->control.data = s;
    s->control_open = true;
    uv_async_init(&s->loop, &s->reload_async, server_on_reload_async);
    s->reload_async.data = s;
    uv_timer_init(&s->loop, &s->reload_watchdog);
    s->reload_watchdog.data = s;
    signal_watch(s, &s->sig_term, SIGTERM);
    signal_watch(s, &s->sig_int, SIGINT);
    signal_watch(s, &s->sig_hup, SIGHUP);
    if (cfg->watch)
        s->has_watch = arb_watch_start(&s->watch, &s->loop, cfg->rules_dir,
                                       server_on_folder_change, s) == 0;
    arb__catalog_set_current(s, copies[0]);
    for (int i = 0; i < s->nworkers; i++)
        uv_thread_create(&s->workers[i].thread, arb_worker_main, &s->workers[i]);
    arb_log_info("serving", "version=%s workers=%d actions=%zu dir=%s",
                 arb_ruleset_version(copies[0]), s->nworkers,
                 arb_ruleset_action_count(copies[0]), cfg->rules_dir);
    control_signals(SIG_UNBLOCK);   /* signals that came during start-up act now */
    uv_run(&s->loop, UV_RUN_DEFAULT);
    control_signals(SIG_BLOCK);
    for (int i = 0; i < s->nworkers; i++) uv_thread_join(&s->workers[i].thread);
    arb_log_info("stopped", NULL);
    code = 0;
out:
    /* Close what is still open (the signal handles; everything on a failed
     * start-up, before any thread ran). */
    uv_walk(&s->loop, server_close_walk, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    if (code != 0) {
        if (s->has_sock) arb_sockpath_release(s->cfg.socket_path, s->sock_id);
        if (s->has_admin) arb_sockpath_release(s->cfg.admin_path, s->admin_id);
        for (int i = 0; i < started; i++) {
            /* The session first: its Redis handles close themselves. */
            arb_store_session_close(s->workers[i].session);
            s->workers[i].session = NULL;
            uv_walk(&s->workers[i].loop, server_close_walk, NULL);
            uv_run(&s->workers[i].loop, UV_RUN_DEFAULT);
        }
        for (int i = started; i < s->nworkers && copies; i++) arb_ruleset_free(copies[i]);
    }
    arb_http_stop(s->http);   /* a failed start-up: before the workers it reads go */
    for (int i = 0; i < started; i++) arb_worker_destroy(&s->workers[i]);
    /* The workers drained: every answered decision is queued; this writes
     * them all before the process exits. */
    arb_log_close(s->log);
    arb_learn_sync_free(s->learn);
    /* Last: every session is closed, every commit called back; this syncs. */
    arb_store_close(s->store);
    waiters_free(s->queued);   /* reloads asked for during shutdown */
    waiters_free(s->queued_catalog);
    arb_ruleset_free(s->current);
    uv_loop_close(&s->loop);
    pthread_mutex_destroy(&s->control_lock);
    if (s->has_watch) arb_watch_close(&s->watch);   /* its strings, after a failed start */
    free(copies);
    free(s->workers);
    free(s);
    return code;
}
