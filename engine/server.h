/* The server: listeners on the main thread, N worker threads each running its
 * own libuv loop, and the control path (signals, reload).
 *
 * Threads: the main thread owns the listening sockets, the signal handlers
 * and reloads; it accepts every connection and hands its file descriptor to a
 * worker, round-robin. A worker owns its connections and its decider, and
 * holds a ruleset: its own copy (with its own lua_State) when the rules have
 * plain Lua functions, else one copy shared read-only by every worker (see
 * ruleset.h); nothing on the decide path takes a lock.
 */
#ifndef ARB_SERVER_H
#define ARB_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "engine/arena.h"
#include "engine/stats.h"

typedef struct arb_ruleset arb_ruleset_t;
typedef struct arb_conn arb_conn_t;
typedef struct arb_server arb_server_t;
typedef struct arb_decider arb_decider_t;

/* Everything `arbiter serve` can be told on its command line. Strings are
 * borrowed from argv and must outlive the server. */
typedef struct arb_config {
    const char *rules_dir;     /* ruleset folder (required) */
    const char *listen;        /* HOST:PORT of the public TCP listener, NULL for none */
    const char *socket_path;   /* public Unix socket, NULL for none */
    const char *admin_path;    /* admin Unix socket (mode 0600), NULL for none */
    int workers;               /* worker threads; 0 means one per core */
    size_t max_frame;          /* largest request frame, bytes */
    int max_depth;             /* deepest nesting in a frame, <= 32 */
    int max_connections;       /* public connections open at once */
    size_t max_queued;         /* bytes of answers queued for one client before reads pause */
    double frame_timeout;      /* seconds a partial frame may stall before the close */
    double idle_timeout;       /* seconds without traffic before the close; 0 = never */
    double drain_timeout;      /* seconds SIGTERM waits for in-flight work */
    int64_t deadline_ms;       /* a decision's deadline unless the context sets one */
    int64_t max_deadline_ms;   /* the most a context's deadline_ms may ask for */
    double overload_ms;        /* a worker this far behind answers `overloaded` */
    bool watch;                /* reload when a file of the ruleset changes */
    double reload_timeout;     /* seconds a reload may take before it is abandoned */
    /* What one request and all clients together may hold. */
    size_t max_answer;         /* largest answer, bytes; a larger one answers too_large */
    uint32_t max_batch;        /* contexts in one decide_many */
    double batch_ms;           /* longest one decide_many may work before it stops */
    size_t max_partial;        /* request bytes held unanswered, across every connection */
    size_t max_queued_total;   /* answer bytes queued, across every connection */
} arb_config_t;

/* Defaults of DESIGN.md section 3 and 5. */
void arb_config_defaults(arb_config_t *cfg);

/* One worker thread. Fields below the line are touched only by its thread. */
typedef struct arb_worker {
    arb_server_t *server;      /* the server this worker belongs to */
    int index;                 /* 0..workers-1, for logs */
    uv_thread_t thread;
    uv_loop_t loop;
    uv_async_t wakeup;         /* new connections, a ruleset to swap in, stop */
    arb_stats_t stats;         /* written by this thread only */

    pthread_mutex_t inbox_lock;/* guards inbox */
    struct arb_inbox_item *inbox; /* fds handed over by the main thread, replies */
    _Atomic(arb_ruleset_t *) next_ruleset; /* set by the control path, taken here */
    atomic_bool stop_requested;/* SIGTERM seen */

    /* ---- worker-thread only ---- */
    arb_ruleset_t *ruleset;    /* the ruleset answering now; owned */
    arb_decider_t *decider;    /* per-worker decide scratch; owned */
    arb_arena_t arena;         /* per-request memory, reset after each frame */
    uv_timer_t sweep;          /* frame and idle timeouts, drain on stop */
    arb_conn_t *conns;         /* open connections (intrusive list) */
    uint64_t next_conn_id;     /* ids for matching late replies to connections */
    bool stopping;             /* draining for shutdown */
    char *spare[64];           /* answer buffers between uses (ARB_OUT_CHUNK bytes each) */
    int n_spare;
    uint64_t stop_deadline_ms; /* when draining gives up */
} arb_worker_t;

/* Run the server until SIGTERM/SIGINT. Returns the process exit code:
 * 0 after a clean shutdown, 2 when it could not start. */
int arb_server_run(const arb_config_t *cfg);

/* Called on a worker thread: the configuration in force. */
const arb_config_t *arb_server_config(const arb_server_t *s);

/* Called on a worker thread when a connection closes. */
void arb__server_conn_closed(arb_server_t *s, bool admin);

/* Called on a worker thread for `reload`: ask the control thread to reload.
 * The answer arrives later via arb__worker_post_reply for (conn_id, msgid). */
void arb__server_request_reload(arb_server_t *s, arb_worker_t *w, uint64_t conn_id,
                                uint32_t msgid);

/* True when worker w has been busy in this loop iteration for longer than
 * the overload bound: new decisions get `overloaded` at once. */
bool arb__worker_overloaded(arb_worker_t *w);

/* Summed stats of every worker plus server-wide gauges, for `stats`. */
void arb__server_stats(arb_server_t *s, arb_stats_t *sum, int64_t *open_connections,
                       uint64_t *reloads_ok, uint64_t *reloads_failed,
                       uint64_t *connections_refused);

#endif
