/* One worker thread: its own libuv loop, its connections, its decider and
 * its ruleset slot (see server.h for the threading). The main thread hands
 * it connections and late replies through its inbox; the control path
 * publishes a new ruleset in next_ruleset, which the worker swaps in
 * between two requests.
 */
#ifndef ARB_WORKER_H
#define ARB_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "engine/base/arena.h"
#include "engine/server/conn.h"
#include "engine/server/server.h"
#include "engine/base/stats.h"

typedef struct arb_decider arb_decider_t;
typedef struct arb_store_session arb_store_session_t;

/* Work handed to a worker by another thread. */
typedef struct arb_inbox_item {
    struct arb_inbox_item *next;
    int fd;                 /* a connection to adopt, or -1 for a reply */
    bool is_pipe, admin;    /* how to adopt fd */
    uint64_t conn_id;       /* the connection a reply goes to */
    struct arb_pending *pending; /* a store call completed late (state_calls.c), or NULL */
    size_t reply_len;       /* bytes in reply */
    char reply[];           /* a packed answer */
} arb_inbox_item_t;

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
    _Atomic(struct arb_arms_snap *) next_arms; /* learned arms published by the sync, taken here */
    _Atomic(struct arb_catalog_pub *) next_catalog; /* a catalog-only reload (catalog_reload.h), taken here */
    atomic_bool stop_requested;/* SIGTERM seen */

    /* ---- worker-thread only ---- */
    arb_ruleset_t *ruleset;    /* the ruleset answering now; owned */
    arb_decider_t *decider;    /* per-worker decide scratch; owned */
    struct arb_arms_snap *arms;/* the learned arms deciding now; one reference owned */
    struct arb_catalog *catalog; /* a catalog-only reload deciding now for ruleset; one
                                    reference owned; NULL: the ruleset's own */
    arb_arena_t arena;         /* per-request memory, reset after each frame */
    msgpack_zone zone;         /* per-request msgpack-c trees (a context's attributes), cleared
                                  after each frame */
    bool zone_ready;           /* zone was initialised (and is destroyed with the worker) */
    arb_store_session_t *session; /* this thread's way into the customer store; owned */
    uint32_t pending;          /* requests waiting on the store (state_calls.c) */
    struct arb_pending *spares;/* finished requests kept for the next ones, with their
                                  arenas (state_calls.c); owned */
    uint32_t n_spares;
    msgpack_sbuffer late_out;  /* where an answer that waited on the store is packed; owned */
    uv_timer_t sweep;          /* frame and idle timeouts, drain on stop */
    arb_conns_t conns;         /* open connections, their spare answer buffers */
    /* Random bytes for new customers' pseudonyms (state_decide.c), drawn
     * from getrandom a pool at a time rather than a syscall a customer. */
    unsigned char rand_pool[256];
    size_t rand_left;          /* unused bytes at the pool's end */
    bool stopping;             /* draining for shutdown */
    uint64_t stop_deadline_ms; /* when draining gives up */
} arb_worker_t;

/* Set up w (index for logs) on its own loop, answering with rs (owned by w
 * from now on, even on failure) and a session of the server's store.
 * Returns 0 or a negative libuv error. */
int arb_worker_init(arb_server_t *s, arb_worker_t *w, int index, arb_ruleset_t *rs);

/* The thread's body: run the loop until the worker has drained. */
void arb_worker_main(void *arg);

/* Free what w holds, once its thread has ended. */
void arb_worker_destroy(arb_worker_t *w);

/* Called on any thread: hand item (owned by w from now on) to w and wake it. */
void arb_worker_post(arb_worker_t *w, arb_inbox_item_t *item);

/* True when worker w has been busy in this loop iteration for longer than
 * the overload bound: new decisions get `overloaded` at once. */
bool arb__worker_overloaded(arb_worker_t *w);

#endif
