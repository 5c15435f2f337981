/* The customer store (DESIGN.md section 5): fetch a customer's state,
 * commit what a decision or a message adds, forget a customer.
 *
 * Keeps state/'s rule of one interface for every backend, shaped for an
 * asynchronous one: every call completes through a callback that runs
 * exactly once, either before the call returns or later on a store thread,
 * and never blocks on a network. state/ includes no uv.h: a server that
 * needs a completion on its own loop hands it over (uv_async) itself.
 *
 * Backends, chosen by the --state value given to arb_store_open():
 *   "memory"      a hash map under a mutex; nothing persists. Every
 *                 callback runs in the calling thread before the call returns.
 *   a folder      LMDB (lmdb.c): one environment shared by every worker.
 *                 fetch runs in the calling thread and calls back before it
 *                 returns; commit and forget are queued to the one writer
 *                 thread (writer.c), which groups them into one write
 *                 transaction and calls back ON THE WRITER THREAD once the
 *                 transaction is in the page cache (a kill -9 loses nothing
 *                 called back); the disk is synced every sync_ms.
 *   redis://HOST:PORT[,HOST:PORT...]
 *                 a Redis Cluster (redis.c) shared by every node. A session
 *                 talks to Redis on its worker's own loop, handed over by
 *                 arb_store_session_attach before the first call; every
 *                 callback runs on that loop, never before the call returns
 *                 (except refusals: a bad id, ARB_OVERLOADED). A call waits
 *                 at most timeout_ms, then gets ARB_UNAVAILABLE.
 *
 * Threads: arb_store_t is shared by every thread; an arb_store_session_t
 * belongs to one thread at a time (one per worker). A callback must not
 * call the store back on the writer thread for long work: it should hand
 * the result over and return.
 *
 * How a worker uses it for a decision: fetch -> decide on the customer ->
 * commit the chosen actions as contact requests with their caps -> answer
 * in the commit callback, with only the granted contacts.
 */
#ifndef ARB_STATE_STORE_H
#define ARB_STATE_STORE_H

#include "engine/base/arena.h"
#include "engine/base/error.h"
#include "engine/request/arm.h"
#include "engine/request/commit.h"
#include "engine/request/customer.h"

typedef struct arb_store arb_store_t;
typedef struct arb_store_session arb_store_session_t;

#define ARB_STORE_ID_MAX 512  /* bytes of a customer_id */

typedef struct arb_store_options {
    arb_retention_t retention;  /* applied on every commit that names none; 0s: keep all */
    size_t map_size;            /* LMDB: the largest the file may grow, bytes; 0: 64 GiB, about
                                   16 million customers (one 4 KiB page each); address space only */
    unsigned sync_ms;           /* LMDB: fsync period; 0: 1000. A power loss loses at most this */
    unsigned max_batch;         /* LMDB: commits per write transaction; 0: 512 */
    unsigned timeout_ms;        /* Redis: the longest a call waits; 0: 50 */
    unsigned max_pending;       /* Redis: calls waiting per session; beyond, ARB_OVERLOADED; 0: 1024 */
} arb_store_options_t;

/* The hand-over of a worker's event loop to a store session whose backend
 * talks to a network (Redis), so that state/ needs no uv.h: the server
 * fills it (engine/server/redis_loop.c). loop is the server's, opaque here.
 * attach registers a hiredis async context (struct redisAsyncContext *) on
 * the loop (0, or -1 when it cannot). timer_start calls cb(arg) once after
 * ms on the loop and returns a handle (NULL when out of memory);
 * timer_stop cancels and frees it (a handle whose timer fired must still be
 * stopped, exactly once). */
struct redisAsyncContext;
typedef struct arb_store_loop {
    void *loop;
    int (*attach)(void *loop, struct redisAsyncContext *ac);
    void *(*timer_start)(void *loop, uint64_t ms, void (*cb)(void *arg), void *arg);
    void (*timer_stop)(void *timer);
} arb_store_loop_t;

/* Open the store named by spec ("memory", a folder path). opt may be NULL
 * (the defaults). -1 with err (a message naming the folder and the fix)
 * when it cannot be opened; *out is the caller's until arb_store_close. */
int arb_store_open(arb_store_t **out, const char *spec, const arb_store_options_t *opt, arb_err_t *err);

/* Complete every queued commit (their callbacks run), sync, and free.
 * Every session must be closed first. NULL is ignored. */
void arb_store_close(arb_store_t *s);

/* "memory" or "lmdb:<folder>": for logs. Owned by the store. */
const char *arb_store_name(const arb_store_t *s);

/* One per worker thread; closed before the store. NULL with err. */
arb_store_session_t *arb_store_session_open(arb_store_t *s, arb_err_t *err);
void arb_store_session_close(arb_store_session_t *ss);

/* Give the session its thread's loop (copied; loop->loop must outlive the
 * session). A no-op for memory and LMDB; the Redis store needs it before
 * its first call and connects lazily. The session must be closed on that
 * loop's thread, and the loop run afterwards until its handles close. */
int arb_store_session_attach(arb_store_session_t *ss, const arb_store_loop_t *loop, arb_err_t *err);

/* status 0: *out holds the customer (empty, with id "", when nothing is
 * stored); -1: err says why (ARB_UNAVAILABLE: the store cannot be read;
 * ARB_INVALID_PARAMS: a bad customer_id; ARB_INTERNAL: a corrupt record).
 * err lives only during the callback. */
typedef void (*arb_store_fetch_cb)(void *arg, int status, const arb_err_t *err);

/* Read customer id into *out, decoded into arena: out and arena are the
 * caller's, must live until the callback, and the arena must not be used
 * by anyone else until then. id is copied before the call returns. */
void arb_store_fetch(arb_store_session_t *ss, const char *id, arb_customer_t *out,
                     arb_arena_t *arena, arb_store_fetch_cb cb, void *arg);

/* res (NULL on failure) and err (NULL on success) live only during the
 * callback. On failure nothing of the commit is stored. */
typedef void (*arb_store_commit_cb)(void *arg, const arb_commit_result_t *res, const arb_err_t *err);

/* Merge c into customer id atomically: caps checked and contacts added in
 * one step, so concurrent commits for one customer grant a cap of N exactly
 * N times. c and all it points to are copied before the call returns. */
void arb_store_commit(arb_store_session_t *ss, const char *id, const arb_commit_t *c,
                      arb_store_commit_cb cb, void *arg);

/* arb_store_commit, idempotent by op_id (a decision id; NULL: as
 * arb_store_commit): a second commit with an op_id already committed for
 * this customer (within the last hour) merges nothing and gets the first
 * one's granted[] again, so a retried request never counts twice. Redis
 * only: memory and LMDB commit it like arb_store_commit. op_id is copied. */
void arb_store_commit_once(arb_store_session_t *ss, const char *id, const char *op_id,
                           const arb_commit_t *c, arb_store_commit_cb cb, void *arg);

/* err NULL on success. */
typedef void (*arb_store_done_cb)(void *arg, const arb_err_t *err);

/* Erase customer id: fetches give an empty customer from the callback on,
 * and (LMDB) no earlier version of its record stays readable in the file. */
void arb_store_forget(arb_store_session_t *ss, const char *id, arb_store_done_cb cb, void *arg);

/* ---- learned arms (request/arm.h): kept per action, shared by every
 * worker and (Redis) every node. Not per customer: forget leaves them. */

/* One sync of a node's learning with the store: add the deltas, then read
 * back every stored arm of the named actions (those of the ruleset now
 * serving), other nodes' evidence included. Strings are copied before the
 * call returns. */
typedef struct arb_arms_sync {
    const arb_arm_delta_t *deltas;  size_t n_deltas;
    const char *const *actions;     size_t n_actions;
} arb_arms_sync_t;

/* arms (NULL on failure) and their strings live only during the callback;
 * n may be 0. On failure (err set) each action's deltas were added at most
 * once: some may have been and others not; the caller counts them lost,
 * never adds them again. The callback runs as arb_store_commit's does (on
 * the writer thread for LMDB, the session's loop for Redis). */
typedef void (*arb_store_arms_cb)(void *arg, const arb_arm_t *arms, size_t n, const arb_err_t *err);

void arb_store_arms_sync(arb_store_session_t *ss, const arb_arms_sync_t *req,
                         arb_store_arms_cb cb, void *arg);

#endif
