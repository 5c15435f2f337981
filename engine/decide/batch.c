/* Deciding more than once, or once outside a server (see decide.h):
 * decide_many's batch, bounded by count and work, and the packed context
 * of `arbiter decide` and the rule tests. decide/'s rule: no I/O, no lock,
 * a decision leaves as a value (handed to the sink, or returned).
 */
#include "engine/decide/decide.h"

#include <string.h>

#include "engine/base/clock.h"

const arb_decision_t *arb_decide_bytes(arb_decider_t *d, arb_ruleset_t *rs, const char *ctx,
                                       size_t len, const arb_customer_t *customer,
                                       arb_decide_once_t *once, arb_err_t *err)
{
    msgpack_unpacked_init(&once->ctx);
    arb_arena_init(&once->arena);
    memset(&once->stats, 0, sizeof once->stats);
    if (msgpack_unpack_next(&once->ctx, ctx, len, NULL) != MSGPACK_UNPACK_SUCCESS)
        return arb_err_set(err, ARB_INVALID_PARAMS, "context: not MessagePack"), NULL;
    return arb_decide(d, rs, &once->ctx.data, customer, &once->arena, &once->stats, err);
}

void arb_decide_once_done(arb_decide_once_t *once)
{
    arb_arena_free(&once->arena);
    msgpack_unpacked_destroy(&once->ctx);
}

static double mono_ms(void) { return (double)arb_clock_mono_ns() / 1e6; }

int arb_decide_many(arb_decider_t *d, arb_ruleset_t *rs, const msgpack_object *arr,
                    const arb_customer_t *customer, arb_arena_t *arena, arb_stats_t *st,
                    const arb_batch_limits_t *lim,
                    arb_decision_sink_t sink, void *ud, arb_err_t *err)
{
    uint32_t n = arr->via.array.size;
    if (n > lim->max_batch)
        return arb_err_set(err, ARB_INVALID_PARAMS,
                           "params[0]: %u contexts, more than the %u one decide_many may carry "
                           "(--max-batch); split the batch", n, lim->max_batch);
    double t0 = mono_ms();
    for (uint32_t i = 0; i < n && !(lim->stop && *lim->stop); i++) {
        const arb_decision_t *dec = arb_decide(d, rs, &arr->via.array.ptr[i], customer, arena, st, err);
        if (!dec) {
            char inner[sizeof err->message];
            memcpy(inner, err->message, sizeof inner);
            return arb_err_set(err, err->code, "params[0][%u]: %s", i, inner);
        }
        if (sink(ud, dec) < 0) return -1;
        /* Each decision's memory goes back at once: a batch holds one. */
        arb_arena_reset(arena);
        if (lim->budget_ms > 0 && i + 1 < n && mono_ms() - t0 > lim->budget_ms)
            return arb_err_set(err, ARB_DEADLINE_EXCEEDED,
                               "decide_many worked past its budget of %g ms (--batch-ms) after "
                               "%u of %u contexts; send smaller batches", lim->budget_ms, i + 1, n);
    }
    return 0;
}
