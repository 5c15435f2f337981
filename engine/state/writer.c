/* The single writer thread with group commit (writer.h).
 *
 * Keeps state/'s rule that writes to one file are serialized in one place:
 * workers only enqueue (a mutex held for a pointer swap), the writer takes
 * up to max_batch queued ops into one transaction through the backend's
 * batch function, calls every op back, and syncs the disk every sync_ms
 * when something was written. Callbacks run on this thread, in queue order.
 */
#include "engine/state/writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct arb_writer {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    arb_write_op_t *head, *tail;  /* FIFO */
    bool stop;
    void *ctx;
    arb_writer_batch_fn batch;
    arb_writer_sync_fn sync;
    unsigned max_batch;
    unsigned sync_ms;
    arb_write_op_t **ops;         /* the writer's batch, max_batch entries */
};

arb_write_op_t *arb_write_op_new(arb_write_kind_t kind, const char *id)
{
    arb_write_op_t *op = calloc(1, sizeof *op);
    if (!op) return NULL;
    op->kind = kind;
    snprintf(op->id, sizeof op->id, "%s", id);
    arb_arena_init(&op->arena);
    return op;
}

static void op_done(arb_write_op_t *op)
{
    if (op->kind == ARB_WRITE_COMMIT) op->commit_cb(op->arg, op->rc ? NULL : &op->res, op->rc ? &op->err : NULL);
    else op->done_cb(op->arg, op->rc ? &op->err : NULL);
    arb_arena_free(&op->arena);
    free(op);
}

static void deadline_after(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static bool passed(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void *writer_main(void *p)
{
    arb_writer_t *w = p;
    struct timespec next_sync;
    deadline_after(&next_sync, w->sync_ms);
    bool dirty = false;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->head && !w->stop) {
            if (!dirty) {
                pthread_cond_wait(&w->wake, &w->lock);
                continue;
            }
            if (pthread_cond_timedwait(&w->wake, &w->lock, &next_sync) == ETIMEDOUT) break;
        }
        if (dirty && (passed(&next_sync) || (w->stop && !w->head))) {
            pthread_mutex_unlock(&w->lock);
            w->sync(w->ctx);
            dirty = false;
            deadline_after(&next_sync, w->sync_ms);
            pthread_mutex_lock(&w->lock);
        }
        if (!w->head) {
            if (w->stop) break;
            continue;
        }
        size_t n = 0;
        while (w->head && n < w->max_batch) {
            w->ops[n++] = w->head;
            w->head = w->head->next;
        }
        if (!w->head) w->tail = NULL;
        pthread_mutex_unlock(&w->lock);
        size_t done = 0;
        while (done < n) {
            size_t took = w->batch(w->ctx, w->ops + done, n - done);
            for (size_t i = 0; i < took; i++) op_done(w->ops[done + i]);
            done += took;
        }
        dirty = true;
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int arb_writer_start(arb_writer_t **out, void *ctx, arb_writer_batch_fn batch, arb_writer_sync_fn sync,
                     unsigned max_batch, unsigned sync_ms, arb_err_t *err)
{
    arb_writer_t *w = calloc(1, sizeof *w);
    if (w) w->ops = calloc(max_batch, sizeof *w->ops);
    if (!w || !w->ops) {
        if (w) free(w);
        return arb_err_set(err, ARB_INTERNAL, "state: out of memory starting the store's writer");
    }
    w->ctx = ctx;
    w->batch = batch;
    w->sync = sync;
    w->max_batch = max_batch;
    w->sync_ms = sync_ms;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&w->lock, NULL);
    int rc = pthread_create(&w->thread, NULL, writer_main, w);
    if (rc) {
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        free(w->ops);
        free(w);
        return arb_err_set(err, ARB_INTERNAL, "state: cannot start the store's writer thread: %s",
                           strerror(rc));
    }
    *out = w;
    return 0;
}

void arb_writer_submit(arb_writer_t *w, arb_write_op_t *op)
{
    op->next = NULL;
    pthread_mutex_lock(&w->lock);
    if (w->tail) w->tail->next = op;
    else w->head = op;
    w->tail = op;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

void arb_writer_stop(arb_writer_t *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w->ops);
    free(w);
}
