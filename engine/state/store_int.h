/* What every backend of store.h provides (memory.c, lmdb.c), and what
 * store.c shares with them. Private to engine/state/. */
#ifndef ARB_STATE_STORE_INT_H
#define ARB_STATE_STORE_INT_H

#include "engine/state/store.h"

typedef struct arb_store_ops {
    int (*session_open)(arb_store_session_t *ss, arb_err_t *err);
    void (*session_close)(arb_store_session_t *ss);
    int (*session_attach)(arb_store_session_t *ss, const arb_store_loop_t *loop, arb_err_t *err);
    void (*fetch)(arb_store_session_t *ss, const char *id, arb_customer_t *out, arb_arena_t *arena,
                  arb_store_fetch_cb cb, void *arg);
    void (*commit)(arb_store_session_t *ss, const char *id, const arb_commit_t *c,
                   arb_store_commit_cb cb, void *arg);
    void (*commit_once)(arb_store_session_t *ss, const char *id, const char *op_id,
                        const arb_commit_t *c, arb_store_commit_cb cb, void *arg);  /* NULL: commit */
    void (*forget)(arb_store_session_t *ss, const char *id, arb_store_done_cb cb, void *arg);
    void (*arms_sync)(arb_store_session_t *ss, const arb_arms_sync_t *req, arb_store_arms_cb cb, void *arg);
    void (*close)(arb_store_t *s);
} arb_store_ops_t;

struct arb_store {
    const arb_store_ops_t *ops;
    arb_store_options_t opt;  /* with the defaults filled in */
    char name[1100];
    void *impl;               /* the backend's */
};

struct arb_store_session {
    arb_store_t *store;
    void *impl;               /* the backend's, per session */
};

/* One commit applied to a decoded customer (old, or NULL when none):
 * merged with the store's retention into *next, allocated in arena (and
 * pointing into old where nothing changed: old must outlive next). The
 * learn_* strings and the pseudonym of *res are copied into res itself, so
 * res outlives arena and old. granted holds c->n_contacts entries. What
 * every backend runs inside its own atomic step: memory.c on the customer
 * it keeps, arb_store_apply on record bytes. */
int arb_store_merge(const arb_store_t *s, const char *id, const arb_customer_t *old, const arb_commit_t *c,
                    arb_arena_t *arena, arb_customer_t *next, bool *granted, arb_commit_result_t *res,
                    arb_err_t *err);

/* arb_store_merge on a stored record (old, or NULL when none): decode,
 * merge, encode. *rec is malloc'd (the caller frees it). For the backends
 * that keep bytes (LMDB, Redis). */
int arb_store_apply(const arb_store_t *s, const char *id, const uint8_t *old, size_t old_len,
                    const arb_commit_t *c, bool *granted, arb_commit_result_t *res,
                    uint8_t **rec, size_t *rec_len, arb_err_t *err);

int arb_memory_open(arb_store_t *s, arb_err_t *err);
int arb_lmdb_open(arb_store_t *s, const char *folder, arb_err_t *err);
int arb_redis_open(arb_store_t *s, const char *seeds, arb_err_t *err);

#endif
