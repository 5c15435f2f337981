/* The answer writer: the one place that knows the shape of a decision on
 * the wire (ARCHITECTURE.md rule 1). The decide path returns a value
 * (decision.h); these functions turn it into the MessagePack map a client
 * reads. They write through pk's callback only: the bound on an answer's
 * size and the handling of a refused write stay with pk's owner (rpc.c). */
#ifndef ARB_ANSWER_H
#define ARB_ANSWER_H

#include <msgpack.h>

#include "engine/decision.h"

/* Pack dec as {decision_id, ruleset, actions: [{id, priority, propensity,
 * value, payload}...], explain: [{id, chosen, reason}...] (with explain
 * only), elapsed_us}. Borrows dec for the call only. */
void arb_answer_pack_decision(msgpack_packer *pk, const arb_decision_t *dec);

/* The array head of a decide_many answer of n decisions. */
void arb_answer_pack_batch_head(msgpack_packer *pk, uint32_t n);

/* An arb_decision_sink_t (decide.h) packing each decision into the
 * msgpack_packer ud. */
int arb_answer_sink(void *ud, const arb_decision_t *dec);

#endif
