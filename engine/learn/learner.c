/* The learner (see learner.h): deltas from every worker under one mutex,
 * combined per arm until the sync takes them; the published snapshot
 * swapped under the same mutex. Keeps learn/'s rule: one lock and atomics,
 * no I/O, no thread of its own.
 *
 * The table: every arm the learner knows beyond its snapshot, keyed by
 * (action, channel, segment), open addressing with linear probing. An
 * entry is pending (evidence added since the last take) or in flight
 * (taken, not yet in a snapshot); both count against the bounds until the
 * next absorb, which keeps only the pending ones. A second table counts,
 * per (action, channel), the segments the entries add to the snapshot's,
 * so that a bound check is two lookups, never a scan.
 *
 * Absorb builds the new snapshot (sort, index: the costly part) outside the
 * mutex, from a copy of the pending arms made under it, so workers adding
 * evidence wait only for the copy and the swap.
 */
#include "engine/learn/learner.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine/learn/snap_int.h"

#define DEFAULT_MAX_ARMS 100000
#define DEFAULT_MAX_SEGMENTS 64

typedef struct entry {
    uint64_t hash;          /* 0: empty slot */
    char *own;              /* the key's strings, one block */
    arb_arm_t arm;          /* pending counts (strings point into own) */
    double half_life;       /* the latest delta's */
    bool pending;           /* added since the last take */
    bool in_snap;           /* the snapshot has this arm: not a new one */
} entry_t;

typedef struct pair {
    uint64_t hash;          /* 0: empty slot */
    const char *action, *channel;   /* borrowed from an entry of the same table's life */
    size_t segments;        /* new non-pooled entries of the pair */
} pair_t;

struct arb_learner {
    pthread_mutex_t mu;
    pthread_mutex_t sync_mu;    /* take and absorb, one at a time */
    size_t max_arms, max_segments;
    entry_t *e;
    size_t cap, n;          /* n: entries */
    size_t n_new;           /* entries not in the snapshot */
    size_t n_pending;
    pair_t *p;
    size_t pcap, pn;
    arb_arms_snap_t *snap;  /* published; one reference is the learner's */
    atomic_uint_fast64_t dropped;
};

/* ---- the tables */

static entry_t *entry_find(entry_t *e, size_t cap, uint64_t h, const arb_arm_delta_t *d)
{
    for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1)) {
        if (!e[i].hash) return &e[i];
        if (e[i].hash == h && strcmp(e[i].arm.action, d->action) == 0 &&
            strcmp(e[i].arm.channel, d->channel) == 0 && strcmp(e[i].arm.segment, d->segment) == 0)
            return &e[i];
    }
}

static pair_t *pair_find(pair_t *p, size_t cap, uint64_t h, const char *action, const char *channel)
{
    for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1)) {
        if (!p[i].hash) return &p[i];
        if (p[i].hash == h && strcmp(p[i].action, action) == 0 && strcmp(p[i].channel, channel) == 0)
            return &p[i];
    }
}

/* Room for one more entry (and pair) at most half full: false when out of
 * memory, the tables unchanged. */
static bool entries_room(arb_learner_t *l)
{
    if (2 * (l->n + 1) <= l->cap) return true;
    size_t cap = l->cap ? 2 * l->cap : 64;
    entry_t *e = calloc(cap, sizeof *e);
    if (!e) return false;
    for (size_t i = 0; i < l->cap; i++) {
        if (!l->e[i].hash) continue;
        arb_arm_delta_t key = {l->e[i].arm.action, l->e[i].arm.channel, l->e[i].arm.segment, 0, 0, 0, 0};
        *entry_find(e, cap, l->e[i].hash, &key) = l->e[i];
    }
    free(l->e);
    l->e = e;
    l->cap = cap;
    return true;
}

static bool pairs_room(arb_learner_t *l)
{
    if (2 * (l->pn + 1) <= l->pcap) return true;
    size_t cap = l->pcap ? 2 * l->pcap : 16;
    pair_t *p = calloc(cap, sizeof *p);
    if (!p) return false;
    for (size_t i = 0; i < l->pcap; i++)
        if (l->p[i].hash) *pair_find(p, cap, l->p[i].hash, l->p[i].action, l->p[i].channel) = l->p[i];
    free(l->p);
    l->p = p;
    l->pcap = cap;
    return true;
}

static size_t pair_segments(const arb_learner_t *l, const char *action, const char *channel)
{
    if (!l->pcap) return 0;
    pair_t *p = pair_find(l->p, l->pcap, arb__pair_hash(action, channel), action, channel);
    return p->hash ? p->segments : 0;
}

/* ---- life */

arb_learner_t *arb_learner_new(const arb_learner_options_t *opt)
{
    arb_learner_t *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->max_arms = opt && opt->max_arms ? opt->max_arms : DEFAULT_MAX_ARMS;
    l->max_segments = opt && opt->max_segments ? opt->max_segments : DEFAULT_MAX_SEGMENTS;
    atomic_init(&l->dropped, 0);
    l->snap = arb__snap_build(NULL, 0);
    if (!l->snap) {
        free(l);
        return NULL;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_mutex_init(&l->sync_mu, NULL);
    return l;
}

void arb_learner_free(arb_learner_t *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->cap; i++) free(l->e[i].own);
    free(l->e);
    free(l->p);
    arb_arms_snap_release(l->snap);
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->sync_mu);
    free(l);
}

uint64_t arb_learner_dropped(const arb_learner_t *l)
{
    return atomic_load_explicit(&((arb_learner_t *)l)->dropped, memory_order_relaxed);
}

arb_arms_snap_t *arb_learner_snapshot(arb_learner_t *l)
{
    pthread_mutex_lock(&l->mu);
    arb_arms_snap_t *s = l->snap;
    arb_arms_snap_retain(s);
    pthread_mutex_unlock(&l->mu);
    return s;
}

/* ---- adding */

/* A new entry for d's key into *slot, or false: past a bound, or out of
 * memory. Called with the mutex held. */
static bool entry_make(arb_learner_t *l, entry_t **slot, uint64_t h, const arb_arm_delta_t *d)
{
    size_t seg_len = strlen(d->segment);
    bool in_snap = arb_arms_snap_find(l->snap, d->action, d->channel, d->segment, seg_len) != NULL;
    if (!in_snap) {
        if (arb_arms_snap_count(l->snap) + l->n_new >= l->max_arms ||
            (seg_len && arb__snap_segments(l->snap, d->action, d->channel) +
                                pair_segments(l, d->action, d->channel) >= l->max_segments))
            return false;
    }
    bool counts_pair = !in_snap && seg_len;
    size_t la = strlen(d->action), lc = strlen(d->channel);
    char *own = malloc(la + lc + seg_len + 3);
    if (!own) return false;
    if (!entries_room(l) || (counts_pair && !pairs_room(l))) {
        free(own);
        return false;
    }
    entry_t *e = entry_find(l->e, l->cap, h, d);   /* the table may have grown */
    memcpy(own, d->action, la + 1);
    memcpy(own + la + 1, d->channel, lc + 1);
    memcpy(own + la + lc + 2, d->segment, seg_len + 1);
    *e = (entry_t){.hash = h, .own = own, .in_snap = in_snap,
                   .arm = {.action = own, .channel = own + la + 1, .segment = own + la + lc + 2}};
    l->n++;
    if (!in_snap) l->n_new++;
    if (counts_pair) {
        pair_t *p = pair_find(l->p, l->pcap, arb__pair_hash(d->action, d->channel), d->action, d->channel);
        if (!p->hash) {
            *p = (pair_t){.hash = arb__pair_hash(d->action, d->channel),
                          .action = e->arm.action, .channel = e->arm.channel};
            l->pn++;
        }
        p->segments++;
    }
    *slot = e;
    return true;
}

size_t arb_learner_add(arb_learner_t *l, const arb_arm_delta_t *d, size_t n)
{
    size_t dropped = 0;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < n; i++) {
        arb_arm_delta_t di = d[i];
        if (!di.action || !di.channel) {
            dropped++;
            continue;
        }
        if (!di.segment) di.segment = ARB_ARM_POOLED;
        uint64_t h = arb__arm_hash(di.action, di.channel, di.segment, strlen(di.segment));
        entry_t *e = l->cap ? entry_find(l->e, l->cap, h, &di) : NULL;
        if (!e || !e->hash) {
            if (!entry_make(l, &e, h, &di)) {
                dropped++;
                continue;
            }
        }
        if (!e->pending) {
            /* Counts start afresh after a take, as of this delta. */
            e->arm.positives = e->arm.trials = 0;
            e->arm.at = di.ts;
            e->pending = true;
            l->n_pending++;
        }
        arb_arm_add(&e->arm, &di);
        e->half_life = di.half_life;
    }
    pthread_mutex_unlock(&l->mu);
    if (dropped) atomic_fetch_add_explicit(&l->dropped, dropped, memory_order_relaxed);
    return dropped;
}

/* ---- taking */

static char *arena_str(arb_arena_t *a, const char *s)
{
    size_t len = strlen(s) + 1;
    char *p = arb_arena_alloc(a, len);
    if (p) memcpy(p, s, len);
    return p;
}

int arb_learner_take(arb_learner_t *l, arb_learn_batch_t *b)
{
    b->deltas = NULL;
    b->n = 0;
    arb_arena_init(&b->arena);
    pthread_mutex_lock(&l->sync_mu);
    pthread_mutex_lock(&l->mu);
    size_t n = l->n_pending;
    if (n) {
        b->deltas = arb_arena_alloc(&b->arena, n * sizeof *b->deltas);
        if (!b->deltas) goto oom;
        for (size_t i = 0, k = 0; i < l->cap && k < n; i++) {
            entry_t *e = &l->e[i];
            if (!e->hash || !e->pending) continue;
            arb_arm_delta_t *d = &b->deltas[k++];
            *d = (arb_arm_delta_t){.positives = e->arm.positives, .trials = e->arm.trials,
                                   .ts = e->arm.at, .half_life = e->half_life};
            if (!(d->action = arena_str(&b->arena, e->arm.action)) ||
                !(d->channel = arena_str(&b->arena, e->arm.channel)) ||
                !(d->segment = arena_str(&b->arena, e->arm.segment)))
                goto oom;
        }
        /* Only once everything is copied: a failed take moves nothing. */
        for (size_t i = 0; i < l->cap; i++) l->e[i].pending = false;
        l->n_pending = 0;
        b->n = n;
    }
    pthread_mutex_unlock(&l->mu);
    pthread_mutex_unlock(&l->sync_mu);
    return 0;
oom:
    pthread_mutex_unlock(&l->mu);
    pthread_mutex_unlock(&l->sync_mu);
    arb_learn_batch_free(b);
    return -1;
}

void arb_learn_batch_free(arb_learn_batch_t *b)
{
    if (!b) return;
    arb_arena_free(&b->arena);
    b->deltas = NULL;
    b->n = 0;
}

/* ---- absorbing */

/* The tables after l->snap became s: only pending entries stay (in-flight
 * ones are in s now, or were lost by the sync), each told whether s has
 * it, and the pair counts recounted. false when out of memory, nothing
 * changed. Called with the mutex held. */
static bool tables_rebuild(arb_learner_t *l, const arb_arms_snap_t *s)
{
    size_t cap = 64, pcap = 16;
    while (2 * l->n_pending > cap) cap *= 2;
    while (2 * l->n_pending > pcap) pcap *= 2;
    entry_t *e = calloc(cap, sizeof *e);
    pair_t *p = calloc(pcap, sizeof *p);
    if (!e || !p) {
        free(e);
        free(p);
        return false;
    }
    size_t n = 0, n_new = 0, pn = 0;
    for (size_t i = 0; i < l->cap; i++) {
        entry_t *old = &l->e[i];
        if (!old->hash) continue;
        if (!old->pending) {
            free(old->own);
            continue;
        }
        entry_t *ne = entry_find(e, cap, old->hash,
                                 &(arb_arm_delta_t){old->arm.action, old->arm.channel, old->arm.segment, 0, 0, 0, 0});
        *ne = *old;
        n++;
        const arb_arm_t *a = &ne->arm;
        size_t seg_len = strlen(a->segment);
        ne->in_snap = arb_arms_snap_find(s, a->action, a->channel, a->segment, seg_len) != NULL;
        if (ne->in_snap) continue;
        n_new++;
        if (!seg_len) continue;
        uint64_t ph = arb__pair_hash(a->action, a->channel);
        pair_t *pp = pair_find(p, pcap, ph, a->action, a->channel);
        if (!pp->hash) {
            *pp = (pair_t){.hash = ph, .action = a->action, .channel = a->channel};
            pn++;
        }
        pp->segments++;
    }
    free(l->e);
    free(l->p);
    l->e = e;
    l->cap = cap;
    l->n = n;
    l->n_new = n_new;
    l->p = p;
    l->pcap = pcap;
    l->pn = pn;
    return true;
}

arb_arms_snap_t *arb_learner_absorb(arb_learner_t *l, const arb_arm_t *stored, size_t n)
{
    pthread_mutex_lock(&l->sync_mu);
    pthread_mutex_lock(&l->mu);
    size_t np = l->n_pending;
    arb__snap_in_t *in = malloc((n + np) * sizeof *in + 1);
    if (!in) {
        pthread_mutex_unlock(&l->mu);
        pthread_mutex_unlock(&l->sync_mu);
        return NULL;
    }
    /* The pending arms' strings stay put while sync_mu is held: only
     * tables_rebuild frees them, and only absorb calls it. */
    size_t k = 0;
    for (size_t i = 0; i < l->cap && k < np; i++)
        if (l->e[i].hash && l->e[i].pending)
            in[k++] = (arb__snap_in_t){.arm = l->e[i].arm, .half_life = l->e[i].half_life, .pending = 1};
    pthread_mutex_unlock(&l->mu);
    for (size_t i = 0; i < n; i++) {
        if (!stored[i].action || !stored[i].channel) continue;
        in[k] = (arb__snap_in_t){.arm = stored[i]};
        if (!in[k].arm.segment) in[k].arm.segment = ARB_ARM_POOLED;
        k++;
    }
    arb_arms_snap_t *s = arb__snap_build(in, k);
    free(in);
    if (!s) {
        pthread_mutex_unlock(&l->sync_mu);
        return NULL;
    }
    pthread_mutex_lock(&l->mu);
    if (!tables_rebuild(l, s)) {
        pthread_mutex_unlock(&l->mu);
        pthread_mutex_unlock(&l->sync_mu);
        arb_arms_snap_release(s);
        return NULL;
    }
    arb_arms_snap_t *old = l->snap;
    l->snap = s;
    arb_arms_snap_retain(s);    /* the caller's; the build's is the learner's */
    pthread_mutex_unlock(&l->mu);
    pthread_mutex_unlock(&l->sync_mu);
    arb_arms_snap_release(old);
    return s;
}
