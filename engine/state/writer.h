/* The one writer thread of a store (writer.c): a queue of commits and
 * forgets, taken many at a time into one write transaction (group commit),
 * then called back on the writer thread. Private to engine/state/. */
#ifndef ARB_STATE_WRITER_H
#define ARB_STATE_WRITER_H

#include "engine/state/store.h"

/* ARB_WRITE_ARMS: a learned-arms sync (lmdb.c), called back through
 * done_cb like a forget; its arg is the backend's own. */
typedef enum { ARB_WRITE_COMMIT, ARB_WRITE_FORGET, ARB_WRITE_ARMS } arb_write_kind_t;

/* One queued write; the writer owns it from arb_writer_submit on. */
typedef struct arb_write_op {
    struct arb_write_op *next;
    arb_write_kind_t kind;
    char id[ARB_STORE_ID_MAX + 1];
    arb_arena_t arena;           /* holds commit and granted */
    arb_commit_t *commit;        /* ARB_WRITE_COMMIT: a copy of the caller's */
    bool *granted;
    arb_store_commit_cb commit_cb;
    arb_store_done_cb done_cb;
    void *arg;
    /* Filled by the batch function. */
    int rc;
    arb_err_t err;
    arb_commit_result_t res;
} arb_write_op_t;

/* Apply ops[0..n) in one transaction, filling each op's rc/err/res; returns
 * how many it took (at least 1): it may stop early (the rest go to the next
 * transaction). */
typedef size_t (*arb_writer_batch_fn)(void *ctx, arb_write_op_t **ops, size_t n);
/* Make what was written durable (fsync). */
typedef void (*arb_writer_sync_fn)(void *ctx);

typedef struct arb_writer arb_writer_t;

int arb_writer_start(arb_writer_t **out, void *ctx, arb_writer_batch_fn batch, arb_writer_sync_fn sync,
                     unsigned max_batch, unsigned sync_ms, arb_err_t *err);

/* A new op for id, or NULL when out of memory. */
arb_write_op_t *arb_write_op_new(arb_write_kind_t kind, const char *id);

void arb_writer_submit(arb_writer_t *w, arb_write_op_t *op);

/* Drain the queue (every callback runs), sync, join the thread, free. */
void arb_writer_stop(arb_writer_t *w);

#endif
