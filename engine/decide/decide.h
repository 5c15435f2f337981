/* engine/decide/: context + ruleset -> arb_decision_t. Its rule: no I/O,
 * no lock and no packing: a decision leaves as a value, and the rule tests
 * compare values. It includes only the folders before it (base, request,
 * bindings/lua, ruleset). (ARCHITECTURE.md; scripts/layers checks the
 * includes.)
 *
 * The decide pipeline: context -> C prefilter (channel, touchpoint, consent,
 * flight dates) -> conditions of the survivors -> arbitration in C
 * (propensity x weight x value x lever, ties by id, limit, diversity,
 * fallback) -> the decision, a value (decision.h) wire/answer.c packs.
 */
#ifndef ARB_DECIDE_H
#define ARB_DECIDE_H

#include <stdbool.h>
#include <msgpack.h>

#include "engine/base/arena.h"
#include "engine/request/decision.h"
#include "engine/base/error.h"
#include "engine/base/stats.h"
#include "engine/request/context.h"
#include "engine/request/customer.h"

typedef struct arb_ruleset arb_ruleset_t;
typedef struct arb_decider arb_decider_t;

/* Per-thread scratch for deciding (candidate lists, the context index),
 * reused across requests. */
arb_decider_t *arb_decider_new(void);
void arb_decider_free(arb_decider_t *d);

/* Deadlines: a decision that runs past default_ms (or the context's
 * deadline_ms, capped at max_ms) stops and answers deadline_exceeded.
 * 0 means no deadline (the default, for offline use). */
void arb_decider_set_deadline(arb_decider_t *d, int64_t default_ms, int64_t max_ms);

/* The learned arms (learn/learner.h) d's decisions read for adaptive
 * actions; NULL (the default): none, every adaptive action uses its prior.
 * Borrowed: the caller keeps the snapshot alive while d decides with it. */
struct arb_arms_snap;
void arb_decider_set_arms(arb_decider_t *d, const struct arb_arms_snap *arms);

/* When deciding with rs, read the catalog cat instead of rs's own (a
 * catalog-only reload, catalog.h); cat NULL: rs's own again. Both borrowed:
 * the caller keeps them alive while d decides with them. Deciding with
 * any other ruleset (an experiment's challenger) reads that one's own. */
struct arb_catalog;
void arb_decider_set_catalog(arb_decider_t *d, const arb_ruleset_t *rs, const struct arb_catalog *cat);

/* Seed d's Thompson sampler: the same seed, arms and contexts give the same
 * decisions. Without it, a decider seeds itself from getrandom(). */
void arb_decider_seed(arb_decider_t *d, uint64_t seed);

/* Explain every decision of d, whatever the context asks. */
void arb_decider_force_explain(arb_decider_t *d, bool on);

/* Actions this decider has considered (run its prefilter and rules on)
 * since it was made, over every decision: what a decision's cost follows. */
uint64_t arb_decider_considered(const arb_decider_t *d);

/* Decide for the context map o with ruleset rs, for the stored customer
 * (NULL: nothing stored; borrowed for the call, and its strings until the
 * decision is read). With a customer, its purchases and events join the
 * context's (duplicates dropped), a consent it withdrew stays withdrawn,
 * and contact policy (policy.h) drops capped, cooling or suppressed
 * actions before their rules run. Returns the decision, a
 * view into d's scratch, rs and arena (see decision.h: valid until the
 * next decision on d or the arena's reset), or NULL with err
 * (invalid_params naming the field, deadline_exceeded, internal). Nothing
 * is packed: wire/answer.c writes the answer. Per-request memory comes
 * from arena; the caller resets it. */
const arb_decision_t *arb_decide(arb_decider_t *d, const arb_ruleset_t *rs, const msgpack_object *ctx,
                                 const arb_customer_t *customer, arb_arena_t *arena,
                                 arb_stats_t *stats, arb_err_t *err);

/* arb_decide on a context the caller parsed (arb_context_parse or
 * arb_context_parse_bytes into the same arena), borrowed for the call; t0:
 * when the request began (arb_clock_mono_ns), for the decision's elapsed
 * time. */
const arb_decision_t *arb_decide_context(arb_decider_t *d, const arb_ruleset_t *rs,
                                         const arb_context_t *ctx, uint64_t t0,
                                         const arb_customer_t *customer, arb_arena_t *arena,
                                         arb_stats_t *stats, arb_err_t *err);

/* Where decide_many hands each decision, in order, before the next one is
 * made: returns 0, or -1 (with its own err already set by ud's owner) to
 * stop the batch. */
typedef int (*arb_decision_sink_t)(void *ud, const arb_decision_t *dec);

/* What bounds one decide_many: at most max_batch contexts, and budget_ms
 * of work (0: none); *stop (when not NULL) is polled between contexts and
 * ends the batch early when set (the answer being packed was refused). */
typedef struct arb_batch_limits {
    uint32_t max_batch;
    double budget_ms;
    const int *stop;
} arb_batch_limits_t;

/* Decide every context of the array arr in order, handing each decision
 * to sink(ud, decision). The batch is answered whole or not at all: returns
 * 0, or -1 with err naming the first failing element (params[0][i]: ...),
 * a batch past max_batch (invalid_params) or past its budget
 * (deadline_exceeded); what the sink was given is then the caller's to
 * discard. The arena is reset after each decision. customer is passed to
 * every decision (NULL: batches read no stored state). */
int arb_decide_many(arb_decider_t *d, arb_ruleset_t *rs, const msgpack_object *arr,
                    const arb_customer_t *customer, arb_arena_t *arena, arb_stats_t *st, const arb_batch_limits_t *lim,
                    arb_decision_sink_t sink, void *ud, arb_err_t *err);

/* Deciding once, outside a server (arbiter decide/replay, rule tests): the
 * context arrives packed, and the decision's view needs the unpacked
 * context's memory, an arena and stats of its own until it is read. */
typedef struct arb_decide_once {
    msgpack_unpacked ctx;
    arb_arena_t arena;
    arb_stats_t stats;
} arb_decide_once_t;

/* Decide the packed context ctx[0..len) for customer (NULL: none) with
 * once's memory (uninitialised on entry). Returns the decision (valid until arb_decide_once_done(once)
 * or the next decision on d), or NULL with err. Either way the caller
 * calls arb_decide_once_done(once). */
const arb_decision_t *arb_decide_bytes(arb_decider_t *d, arb_ruleset_t *rs, const char *ctx,
                                       size_t len, const arb_customer_t *customer,
                                       arb_decide_once_t *once, arb_err_t *err);
void arb_decide_once_done(arb_decide_once_t *once);

#endif
