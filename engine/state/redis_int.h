/* What redis.c (the calls) and redis_route.c (the cluster routing) share:
 * the session's nodes and slot map, and one call in flight. Private to
 * engine/state/; keeps state/'s rule that only the store's files see a
 * backend's insides.
 */
#ifndef ARB_STATE_REDIS_INT_H
#define ARB_STATE_REDIS_INT_H

#include "engine/state/store_int.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

enum { SLOTS = 16384, MAX_NODES = 64, MAX_SEEDS = 16, HOST_MAX = 256, MAX_REDIRECTS = 5,
       MAX_TRIES = 32, OPS_TTL = 3600 };

typedef struct seed { char host[HOST_MAX]; int port; } seed_t;

typedef struct rstore {
    seed_t seeds[MAX_SEEDS];
    size_t n_seeds;
    char sha[41];   /* SHA1 of SCRIPT, for EVALSHA */
} rstore_t;

struct session;

typedef struct node {
    char host[HOST_MAX];
    int port;
    redisAsyncContext *ac;  /* NULL: not connected; the next command connects */
    struct session *s;
} node_t;

typedef struct session {
    arb_store_t *store;
    arb_store_loop_t loop;
    bool attached, closing, refreshing;
    node_t *nodes[MAX_NODES];
    size_t n_nodes;
    int16_t slot[SLOTS];    /* node index, -1 unknown */
    size_t live;            /* customer calls not yet freed (waiting or awaiting a late reply); the
                               learning sync's calls (OP_ARMS) are not counted: see redis_arms.c */
    unsigned seed;          /* rand_r's, for the arms' retry jitter */
    struct req *reqs;
} session_t;

typedef enum { OP_FETCH, OP_COMMIT, OP_FORGET, OP_ARMS } op_kind_t;
typedef enum { ST_GET, ST_CAS, ST_DEL } step_t;

typedef struct req {
    struct req *prev, *next;
    session_t *s;
    op_kind_t kind;
    step_t step;
    bool done, use_eval, asking, del_ops;
    int inflight, redirects, tries;
    void *timer;
    void *backoff;          /* OP_ARMS: the pause before trying again (counted in inflight) */
    node_t *node;           /* where the last command went */
    int slot;
    char key[ARB_STORE_ID_MAX + 16], ops_key[ARB_STORE_ID_MAX + 16];
    char id[ARB_STORE_ID_MAX + 1], op_id[130];
    node_t *ask;            /* ASK target for the next command */
    arb_customer_t *out;
    arb_arena_t *arena;
    arb_arena_t carena;     /* the commit's copy and granted */
    arb_commit_t *commit;
    bool *granted;
    arb_commit_result_t res;
    uint8_t *old, *rec;
    size_t old_len, rec_len;
    bool had_old;
    arb_store_fetch_cb fetch_cb;
    arb_store_commit_cb commit_cb;
    arb_store_done_cb done_cb;
    void *arg;
    struct arms_sync *sync; /* OP_ARMS: the sync this action's call belongs to */
    size_t group;           /* OP_ARMS: its group in the sync's plan */
} req_t;

/* ---- the calls (redis.c), for redis_arms.c ---- */

/* A new call for id (a customer, or OP_ARMS: an action; the key is then
 * the caller's to set) with its deadline started; NULL with err
 * (ARB_OVERLOADED beyond max_pending). */
req_t *arb_redis_req_new(arb_store_session_t *ss, op_kind_t kind, const char *id, void *arg, arb_err_t *err);
/* Send q's current step to its slot's node. */
void arb_redis_req_send(req_t *q);
/* q's one callback (res: a granted commit's result). */
void arb_redis_req_finish(req_t *q, const arb_commit_result_t *res, const arb_err_t *err);
/* Free q once called back and no reply is awaited. */
void arb_redis_req_release(req_t *q);

/* ---- learned arms (redis_arms.c) ---- */

/* store.h arb_store_arms_sync for the Redis store. */
void arb_redis_arms_sync(arb_store_session_t *ss, const arb_arms_sync_t *req, arb_store_arms_cb cb, void *arg);
/* An OP_ARMS call's GET answered (nil or a string): merge, then CAS or finish. */
void arb_redis_arms_got(req_t *q, const redisReply *rp);
/* An OP_ARMS call lost the race for its key: GET again after a short
 * random pause. */
void arb_redis_arms_retry(req_t *q);
/* An OP_ARMS call's one callback (err NULL: its action is done). */
void arb_redis_arms_done(req_t *q, const arb_err_t *err);

/* The slot of a key (CRC16 of its hash tag, Redis cluster spec). */
int arb_redis_key_slot(const char *key);
/* The session's node host:port, added when new; NULL when the table is full. */
node_t *arb_redis_node_get(session_t *s, const char *host, int port);
int arb_redis_node_index(session_t *s, node_t *n);
/* n's connection, connecting (attached to the session's loop) when it has
 * none; NULL when it cannot. */
redisAsyncContext *arb_redis_node_conn(node_t *n);
/* Close n's connection: every command waiting on it gets a NULL reply. */
void arb_redis_node_drop(node_t *n);
/* Ask n for CLUSTER SLOTS (unless a refresh is under way); the slot map
 * changes when it answers. */
void arb_redis_refresh_slots(session_t *s, node_t *n);

#endif
