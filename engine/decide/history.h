/* The stored customer joined to a decide context (decide/history.c).
 *
 * decide/'s rule: values only. The merged arrays are arena memory and
 * borrow the customer's strings, valid while both the arena and the
 * customer are.
 */
#ifndef ARB_HISTORY_H
#define ARB_HISTORY_H

#include "engine/base/arena.h"
#include "engine/request/context.h"
#include "engine/request/customer.h"

/* Join c's history to ctx: purchases and events become the union of the
 * context's (first, in their order) and the stored ones that are not the
 * same entry (same ts, sku, category, channel for purchases; same ts, type,
 * sku, category for events, whose channel the context does not type); a
 * consent the customer withdrew stays withdrawn whatever the context says,
 * the context may withdraw one the customer gave, and a stored grant the
 * context does not name counts as given. Sets ctx->merged. Returns 0, or -1
 * when the arena runs out. */
int arb_history_merge(arb_context_t *ctx, const arb_customer_t *c, arb_arena_t *arena);

#endif
