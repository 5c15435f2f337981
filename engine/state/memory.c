/* The `memory` backend: customers in a hash map under one mutex; nothing
 * persists. Each customer is kept decoded, as one relocatable block
 * (flat.c), since its bytes never leave the process: a fetch copies the
 * block into the request's arena, a commit merges straight from it and
 * flattens the result. Keeps state/'s rule that a backend never looks
 * inside a customer: the merge, caps and retention are arb_store_merge's
 * (the same as LMDB's and Redis's), run under the mutex so that concurrent
 * commits for one customer are serialized. The learned arms are a second
 * map, action -> arms.c's value bytes, merged under the same mutex. Every
 * callback runs in the calling thread before the call returns, outside the
 * mutex. */
#include "engine/state/arms.h"
#include "engine/state/flat.h"
#include "engine/state/record.h"
#include "engine/state/store_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { BUCKETS = 4096 };

typedef struct entry {
    struct entry *next;
    arb_flat_t *customer;  /* the customers' table */
    uint8_t *rec;          /* the arms' table: arms.c's value */
    size_t len;
    char id[];
} entry_t;

typedef struct memory {
    pthread_mutex_t lock;
    entry_t *bucket[BUCKETS];
    entry_t *arms[BUCKETS];   /* keyed by action id; never forgotten */
} memory_t;

static size_t hash(const char *id)
{
    size_t h = 1469598103934665603u;  /* FNV-1a: the ids are not attacker-chosen keys of a shared table */
    for (; *id; id++) h = (h ^ (unsigned char)*id) * 1099511628211u;
    return h % BUCKETS;
}

static entry_t **find_in(entry_t **table, const char *id)
{
    entry_t **e = &table[hash(id)];
    while (*e && strcmp((*e)->id, id) != 0) e = &(*e)->next;
    return e;
}

static entry_t **find(memory_t *m, const char *id)
{
    return find_in(m->bucket, id);
}

/* A session's arena for the merge, reset at each commit: after warm-up a
 * commit allocates only the new block. Used only under the mutex. */
static int mem_session_open(arb_store_session_t *ss, arb_err_t *err)
{
    arb_arena_t *a = malloc(sizeof *a);
    if (!a) return arb_err_set(err, ARB_INTERNAL, "state: out of memory opening a store session");
    arb_arena_init(a);
    ss->impl = a;
    return 0;
}

static void mem_session_close(arb_store_session_t *ss)
{
    arb_arena_free(ss->impl);
    free(ss->impl);
}

static void mem_fetch(arb_store_session_t *ss, const char *id, arb_customer_t *out, arb_arena_t *arena,
                      arb_store_fetch_cb cb, void *arg)
{
    memory_t *m = ss->store->impl;
    pthread_mutex_lock(&m->lock);
    entry_t *e = *find(m, id);
    int rc = e ? arb_flat_copy(e->customer, arena, out) : 0;
    pthread_mutex_unlock(&m->lock);
    if (rc) {
        arb_err_t err;
        arb_err_set(&err, ARB_INTERNAL, "state: out of memory reading customer %s", id);
        cb(arg, -1, &err);
        return;
    }
    cb(arg, 0, NULL);
}

/* The merged customer kept as a new block, refused where the record form
 * would refuse it (a pseudonym that is not 32 hex digits, a record over
 * ARB_RECORD_MAX), so that the memory store keeps what LMDB and Redis
 * would: only a customer whose record might be over the limit needs the
 * encoder's verdict, and its message. */
static int keep(const arb_customer_t *next, const arb_flat_t *like, arb_flat_t **out, arb_err_t *err)
{
    if (arb_flat_make(next, like, out, err)) return -1;
    if (arb_flat_record_max(*out) <= ARB_RECORD_MAX &&
        (!next->pseudonym || arb_record_pseudonym_ok(next->pseudonym)))
        return 0;
    uint8_t *rec;
    size_t len;
    if (!arb_record_encode(next, &rec, &len, err)) {
        explicit_bzero(rec, len);
        free(rec);
        return 0;
    }
    arb_flat_free(*out);
    *out = NULL;
    return -1;
}

static void mem_commit(arb_store_session_t *ss, const char *id, const arb_commit_t *c,
                       arb_store_commit_cb cb, void *arg)
{
    memory_t *m = ss->store->impl;
    arb_arena_t *arena = ss->impl;
    arb_err_t err;
    arb_commit_result_t res;
    arb_customer_t next;
    arb_flat_t *kept = NULL;
    bool *granted = calloc(c->n_contacts + 1, sizeof *granted);
    if (!granted) {
        arb_err_set(&err, ARB_INTERNAL, "state: out of memory committing for customer %s", id);
        cb(arg, NULL, &err);
        return;
    }
    pthread_mutex_lock(&m->lock);
    entry_t **slot = find(m, id);
    entry_t *e = *slot;
    int rc = arb_store_merge(ss->store, id, e ? arb_flat_customer(e->customer) : NULL, c, arena, &next,
                             granted, &res, &err);
    if (!rc) rc = keep(&next, e ? e->customer : NULL, &kept, &err);
    if (!rc && !e) {
        size_t n = strlen(id) + 1;
        if ((e = calloc(1, sizeof *e + n))) {
            memcpy(e->id, id, n);
            *slot = e;
        } else {
            rc = arb_err_set(&err, ARB_INTERNAL, "state: out of memory committing for customer %s", id);
            arb_flat_free(kept);
        }
    }
    if (!rc) {
        arb_flat_free(e->customer);  /* zeroed: no old version lingers in the heap */
        e->customer = kept;
    }
    /* Nor the merge's copy (res holds none of it: its strings are inline). */
    arb_arena_wipe(arena);
    pthread_mutex_unlock(&m->lock);
    cb(arg, rc ? NULL : &res, rc ? &err : NULL);
    free(granted);
}

static void mem_forget(arb_store_session_t *ss, const char *id, arb_store_done_cb cb, void *arg)
{
    memory_t *m = ss->store->impl;
    pthread_mutex_lock(&m->lock);
    entry_t **slot = find(m, id);
    entry_t *e = *slot;
    if (e) {
        *slot = e->next;
        arb_flat_free(e->customer);  /* erased (zeroed), not just unlinked */
        free(e);
    }
    pthread_mutex_unlock(&m->lock);
    cb(arg, NULL);
}

/* Every group's step under the mutex: a sync is atomic, and two syncs for
 * one action add up exactly. */
static void mem_arms_sync(arb_store_session_t *ss, const arb_arms_sync_t *req, arb_store_arms_cb cb, void *arg)
{
    memory_t *m = ss->store->impl;
    arb_arms_plan_t p;
    arb_err_t err;
    int rc = arb_arms_plan_init(&p, req, &err);
    if (!rc) {
        pthread_mutex_lock(&m->lock);
        for (size_t g = 0; !rc && g < p.n_groups; g++) {
            entry_t **slot = find_in(m->arms, p.groups[g].action);
            entry_t *e = *slot;
            uint8_t *rec;
            size_t len;
            if (arb_arms_plan_apply(&p, g, e ? e->rec : NULL, e ? e->len : 0, ss->store->name, &rec, &len,
                                    &err)) {
                arb_arms_plan_skip(&p, g, &err);
                continue;
            }
            if (!rec) continue;
            if (!e) {
                size_t n = strlen(p.groups[g].action) + 1;
                if (!(e = calloc(1, sizeof *e + n))) {
                    free(rec);
                    rc = arb_err_set(&err, ARB_INTERNAL, "state: out of memory storing learned arms");
                    continue;
                }
                memcpy(e->id, p.groups[g].action, n);
                *slot = e;
            }
            free(e->rec);
            e->rec = rec;
            e->len = len;
        }
        pthread_mutex_unlock(&m->lock);
    }
    const arb_arm_t *arms = NULL;
    size_t n = 0;
    if (!rc) rc = arb_arms_plan_result(&p, &arms, &n, &err);
    cb(arg, rc ? NULL : arms, rc ? 0 : n, rc ? &err : NULL);
    arb_arms_plan_free(&p);
}

static void free_table(entry_t **table)
{
    for (size_t i = 0; i < BUCKETS; i++)
        for (entry_t *e = table[i], *next; e; e = next) {
            next = e->next;
            arb_flat_free(e->customer);
            free(e->rec);
            free(e);
        }
}

static void mem_close(arb_store_t *s)
{
    memory_t *m = s->impl;
    free_table(m->bucket);
    free_table(m->arms);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static const arb_store_ops_t ops = {
    .session_open = mem_session_open,
    .session_close = mem_session_close,
    .fetch = mem_fetch,
    .commit = mem_commit,
    .forget = mem_forget,
    .arms_sync = mem_arms_sync,
    .close = mem_close,
};

int arb_memory_open(arb_store_t *s, arb_err_t *err)
{
    memory_t *m = calloc(1, sizeof *m);
    if (!m) return arb_err_set(err, ARB_INTERNAL, "state: out of memory opening the memory store");
    pthread_mutex_init(&m->lock, NULL);
    s->impl = m;
    s->ops = &ops;
    return 0;
}
