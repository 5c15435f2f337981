/* Counters and the decide-latency histogram (see stats.h): plain numbers
 * each worker keeps and the server sums. Base layer: includes nothing of
 * ours. */
#include "engine/base/stats.h"

static unsigned bucket_of(uint64_t ns)
{
    if (ns < ARB_HIST_SUB) return (unsigned)ns;
    unsigned e = 63u - (unsigned)__builtin_clzll(ns);   /* ns in [2^e, 2^(e+1)) */
    unsigned sub = (unsigned)(ns >> (e - 3)) & (ARB_HIST_SUB - 1);
    return (e - 2) * ARB_HIST_SUB + sub;
}

/* The upper bound of a bucket, reported as its value. */
static uint64_t bucket_top(unsigned b)
{
    if (b < ARB_HIST_SUB) return b;
    unsigned e = b / ARB_HIST_SUB + 2, sub = b % ARB_HIST_SUB;
    return ((uint64_t)(ARB_HIST_SUB + sub + 1) << (e - 3)) - 1;
}

const uint64_t arb_decide_le_ns[ARB_DECIDE_LE_FINITE] = {
    25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 25000000,
};

void arb_stats_record_decide(arb_stats_t *s, uint64_t ns)
{
    arb_stat_inc(&s->decide_ns[bucket_of(ns)]);
    unsigned b = 0;
    while (b < ARB_DECIDE_LE_FINITE && ns > arb_decide_le_ns[b]) b++;
    arb_stat_inc(&s->decide_le[b]);
    arb_stat_add(&s->decide_sum_ns, ns);
}

void arb_stats_ruleset_begin(arb_stats_t *s, const void *rs, uint64_t seq)
{
    /* A reader (the HTTP thread) checks rs_seq before and after reading the
     * counts: 0 meanwhile, or another number, makes it skip this worker. */
    atomic_store_explicit(&s->rs_seq, 0, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    for (int c = 0; c <= ARB_STATS_CHANNELS; c++)
        for (int t = 0; t <= ARB_STATS_TOUCHPOINTS; t++)
            atomic_store_explicit(&s->by_channel_tp[c][t], 0, memory_order_relaxed);
    for (int a = 0; a <= ARB_STATS_ACTIONS; a++)
        atomic_store_explicit(&s->by_action[a], 0, memory_order_relaxed);
    atomic_store_explicit(&s->rs_ptr, (uint64_t)(uintptr_t)rs, memory_order_relaxed);
    atomic_store_explicit(&s->rs_seq, seq, memory_order_release);
}

static bool counts_for(const arb_stats_t *s, const void *rs)
{
    return atomic_load_explicit(&s->rs_ptr, memory_order_relaxed) == (uint64_t)(uintptr_t)rs;
}

void arb_stats_record_choice(arb_stats_t *s, const void *rs, int ch, int tp)
{
    bool mine = counts_for(s, rs);
    if (!mine || ch < 0 || ch >= ARB_STATS_CHANNELS) ch = ARB_STATS_CHANNELS;
    if (!mine || tp < 0 || tp >= ARB_STATS_TOUCHPOINTS) tp = ARB_STATS_TOUCHPOINTS;
    arb_stat_inc(&s->by_channel_tp[ch][tp]);
}

void arb_stats_record_action(arb_stats_t *s, const void *rs, uint32_t action)
{
    bool mine = counts_for(s, rs);
    arb_stat_inc(&s->by_action[mine && action < ARB_STATS_ACTIONS ? action : ARB_STATS_ACTIONS]);
}

void arb_stats_store_seen(arb_stats_t *s, bool ok, uint64_t now_ms, uint64_t ns)
{
    unsigned b = 0;
    while (b < ARB_DECIDE_LE_FINITE && ns > arb_decide_le_ns[b]) b++;
    arb_stat_inc(&s->store_le[b]);
    arb_stat_add(&s->store_sum_ns, ns);
    atomic_store_explicit(ok ? &s->store_last_ok_ms : &s->store_last_fail_ms, now_ms,
                          memory_order_relaxed);
}

static void sum_array(_Atomic uint64_t *dst, const _Atomic uint64_t *src, int n)
{
    for (int i = 0; i < n; i++)
        arb_stat_add(&dst[i], atomic_load_explicit(&src[i], memory_order_relaxed));
}

void arb_stats_sum(arb_stats_t *dst, const arb_stats_t *src)
{
    /* The struct is a sequence of _Atomic uint64_t: add it word by word. */
    sum_array((_Atomic uint64_t *)dst, (const _Atomic uint64_t *)src,
              (int)(sizeof *dst / sizeof(uint64_t)));
}

uint64_t arb_stats_decide_quantile(const arb_stats_t *s, double q)
{
    uint64_t total = 0, seen = 0;
    for (unsigned b = 0; b < ARB_HIST_BUCKETS; b++)
        total += atomic_load_explicit(&s->decide_ns[b], memory_order_relaxed);
    if (total == 0) return 0;
    uint64_t want = (uint64_t)(q * (double)total);
    if (want >= total) want = total - 1;
    for (unsigned b = 0; b < ARB_HIST_BUCKETS; b++) {
        seen += atomic_load_explicit(&s->decide_ns[b], memory_order_relaxed);
        if (seen > want) return bucket_top(b);
    }
    return bucket_top(ARB_HIST_BUCKETS - 1);
}

const char *arb_method_name(arb_method_t m)
{
    static const char *const names[ARB_METHOD_COUNT] = {
        "ping",  "stats",    "ruleset",  "decide", "decide_many",
        "reload", "track", "feedback", "customer", "forget", "learning", "other",
    };
    return (unsigned)m < ARB_METHOD_COUNT ? names[m] : "other";
}
