/* The server's shared state, for the files that make up the server
 * (server.c, worker.c, listen.c, learn_sync.c, catalog_reload.c) and no
 * one else: what the main thread, the workers and the listeners all touch. Every other file sees arb_server_t
 * as opaque (server.h).
 */
#ifndef ARB_SERVER_PRIV_H
#define ARB_SERVER_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "engine/server/reload.h"
#include "engine/server/server.h"
#include "engine/server/sockpath.h"
#include "engine/server/watch.h"
#include "engine/server/worker.h"

/* A connection waiting for a reload's answer. */
typedef struct reload_waiter {
    struct reload_waiter *next;
    int worker;             /* index of the worker holding the connection */
    uint64_t conn_id;       /* 0: nobody to answer (SIGHUP, notification) */
    uint32_t msgid;
} reload_waiter_t;

typedef struct arb_store arb_store_t;

struct arb_server {
    arb_config_t cfg;
    arb_store_t *store;             /* customer state, opened before the workers, closed last */
    struct arb_learn_sync *learn;   /* what adaptive actions learn (learn_sync.h); before the workers */
    struct arb_log *log;            /* the decision log (audit/log.h), NULL when off; opened
                                       before the workers, closed after they drained */
    struct arb_http *http;          /* --http (http.h), NULL when off; stopped at SIGTERM */
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
    _Atomic uint64_t reload_errors[ARB_CODE_COUNT];   /* reload answers that were errors, by code */
    uint64_t seq;                   /* versions handed out so far */
    pthread_mutex_t control_lock;   /* guards queued and control_open */
    bool control_open;              /* workers may still wake the control handle */
    reload_waiter_t *queued;        /* reload requests not yet started */
    arb_reload_t *running;          /* the reload in progress, if any */
    reload_waiter_t *running_waiters; /* answered when it completes */
    /* Catalog-only reloads (catalog_reload.c). */
    reload_waiter_t *queued_catalog; /* not yet started; guarded by control_lock */
    struct catalog_job *catalog_job; /* the one reading the file, NULL none */
    unsigned catalog_published;     /* catalog-only reloads published since
                                       current was set (main loop) */
    arb_ruleset_t *current;         /* the ruleset answering now, one hold: what the
                                       catalog is read again for */
    bool stopping;
};

#endif
