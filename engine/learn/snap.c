/* Snapshots of learned arms (see learner.h): immutable once built, read by
 * every worker's decide path with no lock and no allocation, freed by the
 * last of their owners. Keeps learn/'s rule: values and atomics only.
 *
 * One allocation holds everything: the header, the arms sorted by (action,
 * channel, segment) for `learning`, an open-addressing index (linear
 * probing, at most half full) from an arm's key hash to its place, a
 * second small index of (action, channel) pairs with their segment counts
 * for the learner's bounds, and the strings. A find is one hash of the key
 * and usually one probe.
 */
#include "engine/learn/learner.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "engine/learn/snap_int.h"

typedef struct arm_slot {
    uint64_t hash;          /* 0: empty */
    uint32_t idx;           /* into arms */
    uint32_t seg_len;       /* compared before the bytes: the key's segment has a length */
} arm_slot_t;

typedef struct pair_slot {
    uint64_t hash;          /* 0: empty */
    uint32_t first;         /* the pair's first arm (they are contiguous, sorted) */
    uint32_t segments;      /* its arms other than the pooled one */
} pair_slot_t;

struct arb_arms_snap {
    atomic_size_t refs;
    size_t n;
    arb_arm_t *arms;
    arm_slot_t *slots;
    size_t mask;
    pair_slot_t *pairs;
    size_t pmask;
};

/* FNV-1a over the bytes, then a 64-bit finalizer (MurmurHash3's fmix64) so
 * that the low bits the index masks with depend on every byte. */
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static inline uint64_t fnv_str(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) h = (h ^ *p) * FNV_PRIME;
    return h;
}

static inline uint64_t fmix(uint64_t h, uint64_t tag)
{
    /* The separators (0 between fields, tag last) keep ("ab","c") and
     * ("a","bc") apart, and an arm's hash apart from its pair's. */
    h = (h ^ tag) * FNV_PRIME;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h ? h : 1;
}

uint64_t arb__arm_hash(const char *action, const char *channel, const char *segment,
                       size_t segment_len)
{
    uint64_t h = fnv_str(FNV_OFFSET, action) * FNV_PRIME;
    h = fnv_str(h, channel) * FNV_PRIME;
    const unsigned char *p = (const unsigned char *)segment;
    for (size_t i = 0; i < segment_len; i++) h = (h ^ p[i]) * FNV_PRIME;
    return fmix(h, 0xa1);
}

uint64_t arb__pair_hash(const char *action, const char *channel)
{
    uint64_t h = fnv_str(FNV_OFFSET, action) * FNV_PRIME;
    h = fnv_str(h, channel);
    return fmix(h, 0xb2);
}

const arb_arm_t *arb_arms_snap_find(const arb_arms_snap_t *s, const char *action,
                                    const char *channel, const char *segment, size_t segment_len)
{
    if (!s || !s->n || !action || !channel || (!segment && segment_len)) return NULL;
    uint64_t h = arb__arm_hash(action, channel, segment, segment_len);
    for (size_t i = h & s->mask;; i = (i + 1) & s->mask) {
        const arm_slot_t *sl = &s->slots[i];
        if (!sl->hash) return NULL;
        if (sl->hash != h || sl->seg_len != segment_len) continue;
        const arb_arm_t *a = &s->arms[sl->idx];
        if (strcmp(a->action, action) == 0 && strcmp(a->channel, channel) == 0 &&
            (segment_len == 0 || memcmp(a->segment, segment, segment_len) == 0))
            return a;
    }
}

size_t arb__snap_segments(const arb_arms_snap_t *s, const char *action, const char *channel)
{
    if (!s || !s->n) return 0;
    uint64_t h = arb__pair_hash(action, channel);
    for (size_t i = h & s->pmask;; i = (i + 1) & s->pmask) {
        const pair_slot_t *sl = &s->pairs[i];
        if (!sl->hash) return 0;
        if (sl->hash != h) continue;
        const arb_arm_t *a = &s->arms[sl->first];
        if (strcmp(a->action, action) == 0 && strcmp(a->channel, channel) == 0) return sl->segments;
    }
}

size_t arb_arms_snap_count(const arb_arms_snap_t *s) { return s ? s->n : 0; }

const arb_arm_t *arb_arms_snap_at(const arb_arms_snap_t *s, size_t i)
{
    return s && i < s->n ? &s->arms[i] : NULL;
}

void arb_arms_snap_retain(arb_arms_snap_t *s)
{
    if (s) atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void arb_arms_snap_release(arb_arms_snap_t *s)
{
    /* acq_rel: every owner's reads happen before the last one frees. */
    if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) free(s);
}

/* ---- building */

static int key_cmp(const arb_arm_t *a, const arb_arm_t *b)
{
    int c = strcmp(a->action, b->action);
    if (!c) c = strcmp(a->channel, b->channel);
    if (!c) c = strcmp(a->segment, b->segment);
    return c;
}

static int in_cmp(const void *pa, const void *pb)
{
    const arb__snap_in_t *a = pa, *b = pb;
    int c = key_cmp(&a->arm, &b->arm);
    return c ? c : (a->pending > b->pending) - (a->pending < b->pending);
}

static size_t pow2_at_least(size_t n)
{
    size_t c = 8;
    while (c < n) c <<= 1;
    return c;
}

#define ALIGN8(x) (((x) + 7) & ~(size_t)7)

static char *put_str(char **cursor, const char *s)
{
    size_t len = strlen(s) + 1;
    char *p = *cursor;
    memcpy(p, s, len);
    *cursor += len;
    return p;
}

arb_arms_snap_t *arb__snap_build(arb__snap_in_t *in, size_t n)
{
    /* Sorted by key, stored before pending: each key's arms are adjacent
     * and combined into the first of the run, with the last one's
     * half-life (a pending arm's, the action's latest). */
    if (n > 1) qsort(in, n, sizeof *in, in_cmp);
    size_t m = 0, strings = 0, n_pairs = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && key_cmp(&in[i].arm, &in[j].arm) == 0) j++;
        arb_arm_t acc = in[i].arm;
        double h = in[j - 1].half_life;
        for (size_t k = i + 1; k < j; k++) {
            arb_arm_delta_t d = {.positives = in[k].arm.positives, .trials = in[k].arm.trials,
                                 .ts = in[k].arm.at, .half_life = h};
            arb_arm_add(&acc, &d);
        }
        if (!m || strcmp(in[m - 1].arm.action, acc.action) || strcmp(in[m - 1].arm.channel, acc.channel))
            n_pairs++;
        in[m].arm = acc;
        in[m].half_life = h;
        strings += strlen(acc.action) + strlen(acc.channel) + strlen(acc.segment) + 3;
        m++;
        i = j;
    }
    if (m > UINT32_MAX) return NULL;
    size_t cap = pow2_at_least(2 * m), pcap = pow2_at_least(2 * n_pairs);
    size_t off_arms = ALIGN8(sizeof(arb_arms_snap_t));
    size_t off_slots = off_arms + ALIGN8(m * sizeof(arb_arm_t));
    size_t off_pairs = off_slots + cap * sizeof(arm_slot_t);
    size_t off_str = off_pairs + pcap * sizeof(pair_slot_t);
    char *base = malloc(off_str + strings);
    if (!base) return NULL;
    arb_arms_snap_t *s = (arb_arms_snap_t *)base;
    atomic_init(&s->refs, 1);
    s->n = m;
    s->arms = (arb_arm_t *)(base + off_arms);
    s->slots = (arm_slot_t *)(base + off_slots);
    s->mask = cap - 1;
    s->pairs = (pair_slot_t *)(base + off_pairs);
    s->pmask = pcap - 1;
    memset(s->slots, 0, cap * sizeof(arm_slot_t));
    memset(s->pairs, 0, pcap * sizeof(pair_slot_t));
    char *cursor = base + off_str;
    pair_slot_t *pair = NULL;
    for (size_t i = 0; i < m; i++) {
        arb_arm_t *a = &s->arms[i];
        *a = in[i].arm;
        /* A pair's arms share its first arm's action and channel copies. */
        if (pair && strcmp(s->arms[pair->first].action, a->action) == 0 &&
            strcmp(s->arms[pair->first].channel, a->channel) == 0) {
            a->action = s->arms[pair->first].action;
            a->channel = s->arms[pair->first].channel;
        } else {
            a->action = put_str(&cursor, a->action);
            a->channel = put_str(&cursor, a->channel);
            uint64_t ph = arb__pair_hash(a->action, a->channel);
            size_t k = ph & s->pmask;
            while (s->pairs[k].hash) k = (k + 1) & s->pmask;
            pair = &s->pairs[k];
            *pair = (pair_slot_t){.hash = ph, .first = (uint32_t)i};
        }
        a->segment = put_str(&cursor, a->segment);
        size_t seg_len = strlen(a->segment);
        if (seg_len) pair->segments++;
        uint64_t h = arb__arm_hash(a->action, a->channel, a->segment, seg_len);
        size_t k = h & s->mask;
        while (s->slots[k].hash) k = (k + 1) & s->mask;
        s->slots[k] = (arm_slot_t){.hash = h, .idx = (uint32_t)i, .seg_len = (uint32_t)seg_len};
    }
    return s;
}
