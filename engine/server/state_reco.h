/* A decision's recommended products in the state methods (state_reco.c):
 * their copy that outlives the request's arena, and the "recommended"
 * events a stored customer keeps of them, so that the next decision on any
 * channel knows what was shown (recommend's exclude "shown"). Internal to
 * server/, beside state_decide.c.
 */
#ifndef ARB_SERVER_STATE_RECO_H
#define ARB_SERVER_STATE_RECO_H

#include "engine/base/arena.h"
#include "engine/request/customer.h"
#include "engine/request/decision.h"

struct arb_pending;
struct arb_catalog;

/* act's products, copied into a (act->products then points there); -1
 * when out of memory. */
int arb__state_copy_products(arb_arena_t *a, arb_decided_action_t *act);

/* x's explained products and their skus, copied into a; -1 when out of memory. */
int arb__state_copy_explained_products(arb_arena_t *a, arb_explained_t *x);

/* One event {type "recommended", sku, channel, ts = the decision's now}
 * per product of each action of p->dec, in p's arena, as *out; returns
 * how many (0: none), -1 when out of memory. The decision's catalog must
 * still be held (it is: this runs right after the decision). */
int arb__state_recommended(struct arb_pending *p, arb_event_t **out);

#endif
