/* Rendering personal payloads (dsl/README.md, "Personal payloads"): a
 * chosen action's payload template (ruleset/payload.h) filled from the
 * decision's context, the stored customer and the products chosen for it,
 * as MessagePack bytes in the request's arena. Keeps the decide folder's
 * rule: values in, bytes out, no I/O; the answer writer copies the bytes.
 */
#ifndef ARB_DECIDE_PAYLOAD_H
#define ARB_DECIDE_PAYLOAD_H

#include <stdint.h>

#include "engine/base/arena.h"
#include "engine/request/context.h"
#include "engine/request/customer.h"
#include "engine/request/decision.h"
#include "engine/ruleset/catalog.h"
#include "engine/ruleset/compiled.h"

/* Render action `action` of rs (an index in rs->actions) into out, chosen
 * for the context ctx (customer: the stored one, NULL none; cat: the
 * catalog out->products index, NULL none): when the action has a template,
 * out->payload becomes the rendered bytes (the arena's), out->tail_len the
 * action's payload_at and out->payload_rendered true; otherwise out is
 * left as it is. Returns 0, or -1 when the arena runs out of memory. */
int arb_payload_render(arb_decided_action_t *out, const arb_ruleset_t *rs, uint32_t action,
                       const arb_context_t *ctx, const arb_customer_t *customer,
                       const arb_catalog_t *cat, arb_arena_t *arena);

#endif
