/* Counters and the decide-latency histogram.
 *
 * Each worker owns one arb_stats_t and is its only writer, so increments are
 * relaxed load+store pairs with no lock and no read-modify-write. The `stats`
 * method sums every worker's block into one arb_stats_t (racy reads of
 * monotonic counters are fine for monitoring).
 */
#ifndef ARB_STATS_H
#define ARB_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/base/error.h"

/* Methods counted separately; anything else counts as ARB_METHOD_OTHER. */
typedef enum arb_method {
    ARB_METHOD_PING,
    ARB_METHOD_STATS,
    ARB_METHOD_RULESET,
    ARB_METHOD_DECIDE,
    ARB_METHOD_DECIDE_MANY,
    ARB_METHOD_RELOAD,
    ARB_METHOD_TRACK,
    ARB_METHOD_FEEDBACK,
    ARB_METHOD_CUSTOMER,
    ARB_METHOD_FORGET,
    ARB_METHOD_LEARNING,
    ARB_METHOD_OTHER,
    ARB_METHOD_COUNT
} arb_method_t;

/* Log-linear histogram of nanoseconds: 8 sub-buckets per power of two, so a
 * reported percentile is within 12.5% of the true value. */
#define ARB_HIST_SUB 8
#define ARB_HIST_BUCKETS (64 * ARB_HIST_SUB)

/* The fixed decide-latency buckets of /metrics, upper bounds in ns; a last
 * bucket (+Inf) follows them. */
#define ARB_DECIDE_LE_FINITE 10
#define ARB_DECIDE_LE_COUNT (ARB_DECIDE_LE_FINITE + 1)
extern const uint64_t arb_decide_le_ns[ARB_DECIDE_LE_FINITE];

/* The bounds of the per-ruleset counts: channels, declared touchpoints and
 * actions past these (and undeclared touchpoints) count in the last, "other"
 * slot, so that /metrics has a bounded number of series. */
#define ARB_STATS_CHANNELS 16
#define ARB_STATS_TOUCHPOINTS 32
#define ARB_STATS_ACTIONS 1024

typedef struct arb_stats {
    _Atomic uint64_t requests[ARB_METHOD_COUNT]; /* frames answered or not, by method */
    _Atomic uint64_t errors[ARB_CODE_COUNT];     /* error answers, by code */
    _Atomic uint64_t decisions;                  /* decisions made (decide_many counts each) */
    _Atomic uint64_t rule_errors;                /* actions skipped because a rule failed */
    _Atomic uint64_t budget_stops;               /* rules stopped by the instruction or memory budget */
    _Atomic uint64_t fallbacks;                  /* decisions answered by a fallback action */
    _Atomic uint64_t undeclared_touchpoints;     /* decisions for a touchpoint the ruleset lacks */
    _Atomic uint64_t connections_accepted;       /* connections handed to this worker */
    _Atomic uint64_t connections_closed;         /* of those, closed since */
    _Atomic uint64_t backpressure_pauses;        /* reads paused for a client not reading */
    _Atomic uint64_t answer_failures;            /* answers replaced by too_large or internal */
    _Atomic uint64_t partial_closes;             /* connections closed: partial frames over --max-partial */
    _Atomic uint64_t decide_ns[ARB_HIST_BUCKETS];/* histogram of time per decision */
    _Atomic uint64_t reloads_abandoned;          /* server-wide: reloads past --reload-timeout */
    _Atomic uint64_t state_failures;             /* store reads or writes that failed (--state-fail) */
    _Atomic uint64_t state_retries;              /* decisions decided again: a cap was taken meanwhile */
    _Atomic uint64_t feedback_unknown;           /* feedback for an adaptive action naming no decision
                                                    that offered it to the customer: nothing learned */
    _Atomic uint64_t learn_syncs;                /* syncs of learned arms with the store (one writer) */
    _Atomic uint64_t learn_sync_failures;        /* ... that failed: their evidence is lost */
    _Atomic uint64_t learn_lost;                 /* deltas lost with a failed sync */
    /* ---- for /metrics (server/http.c, server/metrics.c) */
    _Atomic uint64_t decide_le[ARB_DECIDE_LE_COUNT]; /* decisions by fixed latency bucket (not
                                                    cumulative; the last is over 25 ms) */
    _Atomic uint64_t decide_sum_ns;              /* time spent in those decisions */
    _Atomic uint64_t policy_refusals;            /* actions contact policy refused (caps,
                                                    cooldowns, suppressions, a full channel) */
    /* The last store answer this worker saw (monotonic ms, uv_now's clock):
     * a worker's own, not meaningful once summed. */
    _Atomic uint64_t store_last_ok_ms, store_last_fail_ms;
    /* Counts indexed by the worker's ruleset (arb_stats_ruleset_begin):
     * emptied when the worker swaps rulesets, so an index always means the
     * ruleset rs_seq names; 0 while being emptied. Not meaningful summed. */
    _Atomic uint64_t rs_seq, rs_ptr;
    _Atomic uint64_t by_channel_tp[ARB_STATS_CHANNELS + 1][ARB_STATS_TOUCHPOINTS + 1];
    _Atomic uint64_t by_action[ARB_STATS_ACTIONS + 1];
    /* Error answers by method and code (arb_stat_error); errors[] above is
     * their sum over methods. A request that is not RPC counts as "other". */
    _Atomic uint64_t errors_by[ARB_METHOD_COUNT][ARB_CODE_COUNT];
    /* Store calls by the time from the call to its answer reaching the
     * worker, in the decide buckets (arb_decide_le_ns), and their sum. */
    _Atomic uint64_t store_le[ARB_DECIDE_LE_COUNT];
    _Atomic uint64_t store_sum_ns;
} arb_stats_t;

static inline void arb_stat_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}
#define arb_stat_inc(c) arb_stat_add((c), 1)

/* One error answer with code to a request for method m. */
static inline void arb_stat_error(arb_stats_t *s, arb_method_t m, arb_code_t code)
{
    arb_stat_inc(&s->errors[code]);
    arb_stat_inc(&s->errors_by[(unsigned)m < ARB_METHOD_COUNT ? m : ARB_METHOD_OTHER][code]);
}

/* Record one decision that took ns nanoseconds. */
void arb_stats_record_decide(arb_stats_t *s, uint64_t ns);

/* The worker starts counting for ruleset rs (an identity, only compared)
 * numbered seq: the per-ruleset counts are emptied. */
void arb_stats_ruleset_begin(arb_stats_t *s, const void *rs, uint64_t seq);

/* One decision decided by ruleset rs at channel index ch and touchpoint
 * index tp (-1: undeclared); then each action (its index) it chose. Counted
 * in "other" when rs is not the ruleset the counts are for (a challenger). */
void arb_stats_record_choice(arb_stats_t *s, const void *rs, int ch, int tp);
void arb_stats_record_action(arb_stats_t *s, const void *rs, uint32_t action);

/* A store call's outcome (ok: it answered), at now_ms, ns after it began. */
void arb_stats_store_seen(arb_stats_t *s, bool ok, uint64_t now_ms, uint64_t ns);

/* Add every counter of src into dst (dst is not shared). */
void arb_stats_sum(arb_stats_t *dst, const arb_stats_t *src);

/* The q-quantile (0 < q < 1) of the decide histogram, in nanoseconds;
 * 0 when nothing was recorded. */
uint64_t arb_stats_decide_quantile(const arb_stats_t *s, double q);

/* Name of a method as counted in stats ("ping", ..., "other"). */
const char *arb_method_name(arb_method_t m);

#endif
