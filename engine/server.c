/* The server: listeners, workers, signals and the reload control path (see
 * server.h).
 *
 * Accepting: the main loop accepts on every listener, duplicates the new
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
#include "engine/server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "engine/conn.h"
#include "engine/decide.h"
#include "engine/log.h"
#include "engine/reload.h"
#include "engine/rpc.h"
#include "engine/ruleset.h"
#include "engine/sockpath.h"
#include "engine/watch.h"

/* Work handed to a worker by another thread. */
typedef struct arb_inbox_item {
    struct arb_inbox_item *next;
    int fd;                 /* a connection to adopt, or -1 for a reply */
    bool is_pipe, admin;    /* how to adopt fd */
    uint64_t conn_id;       /* the connection a reply goes to */
    size_t reply_len;       /* bytes in reply */
    char reply[];           /* a packed answer */
} arb_inbox_item_t;

/* A connection waiting for a reload's answer. */
typedef struct reload_waiter {
    struct reload_waiter *next;
    int worker;             /* index of the worker holding the connection */
    uint64_t conn_id;       /* 0: nobody to answer (SIGHUP, notification) */
    uint32_t msgid;
} reload_waiter_t;

static void waiters_free(reload_waiter_t *wt)
{
    while (wt) {
        reload_waiter_t *next = wt->next;
        free(wt);
        wt = next;
    }
}

struct arb_server {
    arb_config_t cfg;
    uv_loop_t loop;
    uv_tcp_t tcp;
    uv_pipe_t sock, admin;
    bool has_tcp, has_sock, has_admin;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_async_t control;             /* workers asking for a reload */
    arb_watch_t watch;              /* changes in the ruleset folder (when has_watch) */
    bool has_watch;
    uv_async_t reload_async;        /* a reload thread finished */
    uv_timer_t reload_watchdog;     /* abandons a reload past --reload-timeout */
    _Atomic uint64_t reloads_abandoned;
    int public_limit;               /* max_connections, lowered to fit RLIMIT_NOFILE */
    arb_sockpath_id_t sock_id, admin_id; /* the socket files we created */
    int nworkers;
    arb_worker_t *workers;
    unsigned next_worker;
    _Atomic int64_t open_public;    /* public connections open now */
    _Atomic int64_t open_admin;     /* admin connections open now */
    _Atomic uint64_t refused;       /* connections refused at the limit */
    _Atomic uint64_t reloads_ok, reloads_failed;
    uint64_t seq;                   /* versions handed out so far */
    pthread_mutex_t control_lock;   /* guards queued and control_open */
    bool control_open;              /* workers may still wake the control handle */
    reload_waiter_t *queued;        /* reload requests not yet started */
    arb_reload_t *running;          /* the reload in progress, if any */
    reload_waiter_t *running_waiters; /* answered when it completes */
    bool stopping;
    clockid_t busy_clock;           /* for the overload check: see server_busy_clock */
};

/* CLOCK_MONOTONIC_COARSE (a memory read) when it ticks at least every
 * millisecond, else CLOCK_MONOTONIC: the rule libuv applies to uv_now, so
 * the two agree to within a millisecond. */
static clockid_t server_busy_clock(void)
{
    struct timespec res;
    if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0 && res.tv_sec == 0 &&
        res.tv_nsec <= 1000000)
        return CLOCK_MONOTONIC_COARSE;
    return CLOCK_MONOTONIC;
}

void arb_config_defaults(arb_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->listen = "127.0.0.1:7878";
    cfg->max_frame = 1024 * 1024;
    cfg->max_depth = 32;
    cfg->max_connections = 10000;
    cfg->max_queued = 1024 * 1024;
    cfg->frame_timeout = 10;
    cfg->idle_timeout = 0;
    cfg->drain_timeout = 5;
    cfg->deadline_ms = 10;
    cfg->max_deadline_ms = 1000;
    cfg->overload_ms = 100;
    cfg->watch = true;
    cfg->reload_timeout = 30;
    cfg->max_answer = 4 * 1024 * 1024;
    cfg->max_batch = 1000;
    cfg->batch_ms = 200;
    cfg->max_partial = 64 * 1024 * 1024;
    cfg->max_queued_total = 256 * 1024 * 1024;
}

const arb_config_t *arb_server_config(const arb_server_t *s) { return &s->cfg; }

bool arb__worker_overloaded(arb_worker_t *w)
{
    /* uv_now is the time the loop iteration began: how long this iteration
     * has been working is how long the last readable client has waited.
     * This runs before every decision: busy_clock is the coarse clock when
     * it is fine enough (as libuv itself decides for uv_now). */
    struct timespec ts;
    clock_gettime(w->server->busy_clock, &ts);
    double now_ms = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
    return now_ms - (double)uv_now(&w->loop) > w->server->cfg.overload_ms;
}

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
}

/* ------------------------------------------------------------ workers */

static void worker_post(arb_worker_t *w, arb_inbox_item_t *item)
{
    pthread_mutex_lock(&w->inbox_lock);
    item->next = w->inbox;
    w->inbox = item;
    pthread_mutex_unlock(&w->inbox_lock);
    uv_async_send(&w->wakeup);
}

static void worker_deliver_reply(arb_worker_t *w, arb_inbox_item_t *it)
{
    for (arb_conn_t *c = w->conns; c; c = c->next)
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
    while (rev) {
        arb_inbox_item_t *next = rev->next;
        if (rev->fd >= 0) {
            if (w->stopping) {
                close(rev->fd);
                arb__server_conn_closed(w->server, rev->admin);
            } else {
                arb_conn_open(w, rev->fd, rev->is_pipe, rev->admin);
            }
        } else {
            worker_deliver_reply(w, rev);
        }
        free(rev);
        rev = next;
    }
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
    w->ruleset = next;
    worker_retire_ruleset(w, old);
}

static void worker_close_handles(arb_worker_t *w)
{
    if (!uv_is_closing((uv_handle_t *)&w->sweep)) uv_close((uv_handle_t *)&w->sweep, NULL);
    if (!uv_is_closing((uv_handle_t *)&w->wakeup)) uv_close((uv_handle_t *)&w->wakeup, NULL);
}

static void worker_on_sweep(uv_timer_t *t)
{
    arb_worker_t *w = t->data;
    uint64_t now = uv_now(&w->loop);
    for (arb_conn_t *c = w->conns, *next; c; c = next) {
        next = c->next;
        arb_conn_check_timeouts(c, now);
    }
    if (w->stopping && !w->conns) worker_close_handles(w);
}

static void worker_on_wakeup(uv_async_t *a)
{
    arb_worker_t *w = a->data;
    worker_swap_ruleset(w);
    worker_drain_inbox(w);
    if (atomic_load(&w->stop_requested) && !w->stopping) {
        w->stopping = true;
        w->stop_deadline_ms = uv_now(&w->loop) + (uint64_t)(w->server->cfg.drain_timeout * 1000);
        uv_timer_start(&w->sweep, worker_on_sweep, 20, 20);
    }
}

static void worker_main(void *arg)
{
    arb_worker_t *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    /* Late inbox items (a reply racing the stop) are dropped here. */
    worker_drain_inbox(w);
}

static int worker_init(arb_server_t *s, arb_worker_t *w, int index, arb_ruleset_t *rs)
{
    memset(w, 0, sizeof *w);
    w->server = s;
    w->index = index;
    w->ruleset = rs;
    w->decider = arb_decider_new();
    if (w->decider) arb_decider_set_deadline(w->decider, s->cfg.deadline_ms, s->cfg.max_deadline_ms);
    arb_arena_init(&w->arena);
    pthread_mutex_init(&w->inbox_lock, NULL);
    atomic_init(&w->next_ruleset, NULL);
    atomic_init(&w->stop_requested, false);
    int r = uv_loop_init(&w->loop);
    if (r == 0) r = uv_async_init(&w->loop, &w->wakeup, worker_on_wakeup);
    if (r == 0) r = uv_timer_init(&w->loop, &w->sweep);
    if (r < 0 || !w->decider) return r < 0 ? r : UV_ENOMEM;
    w->wakeup.data = w;
    w->sweep.data = w;
    return uv_timer_start(&w->sweep, worker_on_sweep, 250, 250);
}

static void worker_destroy(arb_worker_t *w)
{
    while (w->n_spare) free(w->spare[--w->n_spare]);
    /* Items posted after the loop ended: replies nobody waits for now. */
    for (arb_inbox_item_t *it = w->inbox, *next; it; it = next) {
        next = it->next;
        if (it->fd >= 0) close(it->fd);
        free(it);
    }
    uv_loop_close(&w->loop);
    arb_ruleset_free(w->ruleset);
    arb_ruleset_free(atomic_exchange(&w->next_ruleset, NULL));
    arb_decider_free(w->decider);
    arb_arena_free(&w->arena);
    pthread_mutex_destroy(&w->inbox_lock);
}

/* ------------------------------------------------------------ accepting */

static void free_handle(uv_handle_t *h) { free(h); }

static void server_on_connection(uv_stream_t *listener, int status)
{
    arb_server_t *s = listener->data;
    if (status < 0 || s->stopping) return;
    bool is_pipe = listener->type == UV_NAMED_PIPE;
    bool admin = listener == (uv_stream_t *)&s->admin;
    uv_stream_t *client = malloc(is_pipe ? sizeof(uv_pipe_t) : sizeof(uv_tcp_t));
    if (!client) return;
    if (is_pipe) uv_pipe_init(&s->loop, (uv_pipe_t *)client, 0);
    else uv_tcp_init(&s->loop, (uv_tcp_t *)client);
    uv_os_fd_t fd = -1;
    int dupfd = -1;
    if (uv_accept(listener, client) == 0 && uv_fileno((uv_handle_t *)client, &fd) == 0)
        dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    uv_close((uv_handle_t *)client, free_handle);
    if (dupfd < 0) return;
    if (!admin && atomic_load(&s->open_public) >= s->public_limit) {
        close(dupfd);
        if (atomic_fetch_add(&s->refused, 1) % 1000 == 0)
            arb_log_warn("connection refused", "reason=\"connection limit\" limit=%d",
                         s->public_limit);
        return;
    }
    atomic_fetch_add(admin ? &s->open_admin : &s->open_public, 1);
    arb_inbox_item_t *it = calloc(1, sizeof *it);
    if (!it) {
        close(dupfd);
        arb__server_conn_closed(s, admin);
        return;
    }
    it->fd = dupfd;
    it->is_pipe = is_pipe;
    it->admin = admin;
    worker_post(&s->workers[s->next_worker++ % (unsigned)s->nworkers], it);
}

static int parse_hostport(const char *hp, struct sockaddr_storage *ss)
{
    char host[256];
    const char *colon = strrchr(hp, ':');
    if (!colon || colon == hp || strlen(colon + 1) == 0) return UV_EINVAL;
    size_t hl = (size_t)(colon - hp);
    if (hl >= sizeof host) return UV_EINVAL;
    memcpy(host, hp, hl);
    host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) return UV_EINVAL;
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)ss);
    }
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss);
}

static int listen_tcp(arb_server_t *s)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    int r = parse_hostport(s->cfg.listen, &ss);
    if (r < 0) {
        arb_log_error("bad --listen address", "addr=%s hint=\"use HOST:PORT, e.g. 127.0.0.1:7878\"",
                      s->cfg.listen);
        return r;
    }
    uv_tcp_init(&s->loop, &s->tcp);
    s->has_tcp = true;
    s->tcp.data = s;
    r = uv_tcp_bind(&s->tcp, (struct sockaddr *)&ss, 0);
    if (r == 0) r = uv_listen((uv_stream_t *)&s->tcp, 1024, server_on_connection);
    if (r < 0) {
        arb_log_error("cannot listen", "addr=%s error=\"%s\"", s->cfg.listen, uv_strerror(r));
        return r;
    }
    arb_log_info("listening", "addr=%s kind=tcp", s->cfg.listen);
    return 0;
}

static int listen_unix(arb_server_t *s, uv_pipe_t *p, const char *path, bool admin)
{
    uv_pipe_init(&s->loop, p, 0);
    p->data = s;
    char err[256];
    if (arb_sockpath_claim(path, err, sizeof err) < 0) {
        arb_log_error("cannot listen", "path=%s kind=%s error=\"%s\"", path,
                      admin ? "admin" : "unix", err);
        return -1;
    }
    /* Bound here, not by uv_pipe_bind: libuv unlinks the path of a bound
     * pipe when it closes, whoever owns the path by then. The admin socket
     * is created 0600: no window where others may connect. */
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);   /* length checked by the claim */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), r = 0;
    mode_t old = umask(admin ? 0177 : 0111);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) r = -errno;
    umask(old);
    if (r == 0) {
        *(admin ? &s->admin_id : &s->sock_id) = arb_sockpath_identify(path);
        *(admin ? &s->has_admin : &s->has_sock) = true;
        r = uv_pipe_open(p, fd);
        if (r == 0) fd = -1;
        if (r == 0) r = uv_listen((uv_stream_t *)p, 1024, server_on_connection);
    }
    if (fd >= 0) close(fd);
    if (r < 0) {
        arb_log_error("cannot listen", "path=%s error=\"%s\"", path, uv_strerror(r));
        return r;
    }
    arb_log_info("listening", "path=%s kind=%s", path, admin ? "admin" : "unix");
    return 0;
}

/* Descriptors kept free for the admin socket and the server's own needs
 * (reading the rules folder, accepting and refusing one connection). */
#define FD_RESERVE 32

/* Public clients must not take the descriptors the admin socket and a
 * reload need: the public connection limit is lowered to what the open-file
 * limit (ulimit -n) leaves once the server's own descriptors and a reserve
 * are counted. A connection past it is accepted and closed at once, and
 * counted, so the listener never spins on EMFILE. */
static int server_reserve_fds(arb_server_t *s)
{
    s->public_limit = s->cfg.max_connections;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY) return 0;
    int used = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return 0;
    while (readdir(d)) used++;
    closedir(d);
    used -= 2;   /* "." and ".."; the listing's own descriptor counts as slack */
    long room = (long)rl.rlim_cur - used - FD_RESERVE;
    if (room < 1) {
        arb_log_error("too few file descriptors", "open_file_limit=%llu in_use=%d reserve=%d "
                      "hint=\"raise ulimit -n\"", (unsigned long long)rl.rlim_cur, used,
                      FD_RESERVE);
        return -1;
    }
    if (room < s->public_limit) {
        arb_log_warn("connection limit lowered", "max_connections=%d limit=%ld open_file_limit=%llu "
                     "hint=\"raise ulimit -n\"", s->cfg.max_connections, room,
                     (unsigned long long)rl.rlim_cur);
        s->public_limit = (int)room;
    }
    return 0;
}

/* ------------------------------------------------------------ reloading */

static void reload_start(arb_server_t *s);

/* Pack the reload's answer for msgid: {version, actions} of rs, or the error
 * code listing every problem. */
static void reload_pack_answer(const arb_ruleset_t *rs, const char *code,
                               const arb_problems_t *problems, uint32_t msgid, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    arb_rpc_pack_response_head(&pk, msgid);
    if (!rs) {
        msgpack_sbuffer text;
        msgpack_sbuffer_init(&text);
        for (size_t i = 0; i < problems->n; i++) {
            if (i) msgpack_sbuffer_write(&text, "\n", 1);
            msgpack_sbuffer_write(&text, problems->items[i], strlen(problems->items[i]));
        }
        msgpack_pack_map(&pk, 3);
        arb_pack_cstr(&pk, "code");
        arb_pack_cstr(&pk, code);
        arb_pack_cstr(&pk, "message");
        arb_pack_strn(&pk, text.data ? text.data : "", text.size);
        arb_pack_cstr(&pk, "errors");
        msgpack_pack_array(&pk, problems->n);
        for (size_t i = 0; i < problems->n; i++) arb_pack_cstr(&pk, problems->items[i]);
        msgpack_pack_nil(&pk);
        msgpack_sbuffer_destroy(&text);
        return;
    }
    msgpack_pack_nil(&pk);
    msgpack_pack_map(&pk, 2);
    arb_pack_cstr(&pk, "version");
    arb_pack_cstr(&pk, arb_ruleset_version(rs));
    arb_pack_cstr(&pk, "actions");
    msgpack_pack_uint64(&pk, arb_ruleset_action_count(rs));
}

/* Answer and free every waiter: with rs when it was loaded, else with code
 * and problems. */
static void reload_answer_waiters(arb_server_t *s, reload_waiter_t *waiters,
                                  const arb_ruleset_t *rs, const char *code,
                                  const arb_problems_t *problems)
{
    for (reload_waiter_t *wt = waiters, *next; wt; wt = next) {
        next = wt->next;
        if (wt->conn_id) {
            msgpack_sbuffer out;
            msgpack_sbuffer_init(&out);
            reload_pack_answer(rs, code, problems, wt->msgid, &out);
            arb_inbox_item_t *it = malloc(sizeof *it + out.size);
            if (it) {
                memset(it, 0, sizeof *it);
                it->fd = -1;
                it->conn_id = wt->conn_id;
                it->reply_len = out.size;
                memcpy(it->reply, out.data, out.size);
                worker_post(&s->workers[wt->worker], it);
            }
            msgpack_sbuffer_destroy(&out);
        }
        free(wt);
    }
}

/* Answer waiters with one error message. */
static void reload_refuse(arb_server_t *s, reload_waiter_t *waiters, const char *code,
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
        for (int i = 0; i < s->nworkers; i++) {
            arb_ruleset_t *stale = atomic_exchange_explicit(&s->workers[i].next_ruleset,
                                                            copies[i], memory_order_release);
            copies[i] = NULL;   /* the worker owns it now */
            arb_ruleset_free(stale);
            uv_async_send(&s->workers[i].wakeup);
        }
        atomic_fetch_add(&s->reloads_ok, 1);
        arb_log_info("ruleset reloaded", "version=%s actions=%zu dir=%s read=%s",
                     arb_ruleset_version(first), arb_ruleset_action_count(first),
                     s->cfg.rules_dir, arb_reload_resolved(job));
        reload_answer_waiters(s, reload_forget(s), first, NULL, NULL);
        arb_ruleset_free(first);
    } else {
        atomic_fetch_add(&s->reloads_failed, 1);
        for (size_t i = 0; i < problems->n; i++) {
            char q[1024];
            arb_log_error("reload rejected", "problem=%s dir=%s",
                          arb_log_quote(problems->items[i], q, sizeof q), s->cfg.rules_dir);
        }
        /* problems belong to the job: answer before forgetting it. */
        reload_answer_waiters(s, s->running_waiters, NULL, "invalid_params", problems);
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
    reload_refuse(s, reload_forget(s), "deadline_exceeded", msg);
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
        reload_refuse(s, waiters, "overloaded", msg);
        return;
    }
    char err[256];
    s->running = arb_reload_spawn(s->cfg.rules_dir, s->nworkers, ++s->seq, &s->reload_async, err,
                                  sizeof err);
    if (!s->running) {
        arb_log_error("reload rejected", "problem=\"%s\" dir=%s", err, s->cfg.rules_dir);
        atomic_fetch_add(&s->reloads_failed, 1);
        reload_refuse(s, waiters, "internal", err);
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

static void server_on_control(uv_async_t *a) { reload_start(a->data); }

/* A burst of changes in the folder settled (see watch.h). */
static void server_on_folder_change(void *data)
{
    arb_server_t *s = data;
    if (s->stopping) return;
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
    reload_refuse(s, queued, "internal", stopping);
    if (s->running) {
        arb_reload_detach(s->running);   /* a reload that finished anyway is dropped */
        reload_refuse(s, reload_forget(s), "internal", stopping);
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

static int server_listen_all(arb_server_t *s)
{
    if (s->cfg.listen && listen_tcp(s) < 0) return -1;
    if (s->cfg.socket_path && listen_unix(s, &s->sock, s->cfg.socket_path, false) < 0) return -1;
    if (s->cfg.admin_path && listen_unix(s, &s->admin, s->cfg.admin_path, true) < 0) return -1;
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
    s->busy_clock = server_busy_clock();
    s->nworkers = cfg->workers > 0 ? cfg->workers : (int)uv_available_parallelism();
    s->workers = calloc((size_t)s->nworkers, sizeof *s->workers);
    arb_ruleset_t **copies = calloc((size_t)s->nworkers, sizeof *copies);
    pthread_mutex_init(&s->control_lock, NULL);
    uv_loop_init(&s->loop);
    int code = 2, started = 0;
    if (!s->workers || !copies || server_load_initial(s, copies) < 0) goto out;
    for (int i = 0; i < s->nworkers; i++, started++)
        if (worker_init(s, &s->workers[i], i, copies[i]) < 0) goto out;
    if (server_listen_all(s) < 0 || server_reserve_fds(s) < 0) goto out;
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
    for (int i = 0; i < s->nworkers; i++)
        uv_thread_create(&s->workers[i].thread, worker_main, &s->workers[i]);
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
            uv_walk(&s->workers[i].loop, server_close_walk, NULL);
            uv_run(&s->workers[i].loop, UV_RUN_DEFAULT);
        }
        for (int i = started; i < s->nworkers && copies; i++) arb_ruleset_free(copies[i]);
    }
    for (int i = 0; i < started; i++) worker_destroy(&s->workers[i]);
    waiters_free(s->queued);   /* reloads asked for during shutdown */
    uv_loop_close(&s->loop);
    pthread_mutex_destroy(&s->control_lock);
    if (s->has_watch) arb_watch_close(&s->watch);   /* its strings, after a failed start */
    free(copies);
    free(s->workers);
    free(s);
    return code;
}
