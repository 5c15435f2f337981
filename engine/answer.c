/* The answer writer (see answer.h): a decision value into the bytes the
 * server has always sent. Each chosen action's entry is mostly constant,
 * so it was packed at load (arb_action_t.answer_head/answer_tail): here it
 * is copied around the two numbers a decision computes, and only the
 * priority and propensity are packed per decision. */
#include "engine/answer.h"

#include "engine/rpc.h"

static void pack_action(msgpack_packer *pk, const arb_decided_action_t *a)
{
    pk->callback(pk->data, a->head, a->head_len);
    msgpack_pack_double(pk, a->priority);
    arb_pack_lit(pk, "propensity");
    msgpack_pack_double(pk, a->propensity);
    pk->callback(pk->data, a->tail, a->tail_len);
}

static void pack_explain(msgpack_packer *pk, const arb_decision_t *dec)
{
    msgpack_pack_array(pk, dec->n_explain);
    for (uint32_t i = 0; i < dec->n_explain; i++) {
        const arb_explained_t *x = &dec->explain[i];
        msgpack_pack_map(pk, 3);
        arb_pack_lit(pk, "id");
        arb_pack_cstr(pk, x->id);
        arb_pack_lit(pk, "chosen");
        if (x->chosen) msgpack_pack_true(pk); else msgpack_pack_false(pk);
        arb_pack_lit(pk, "reason");
        /* Reasons quote rule errors, cut to a fixed size: keep them UTF-8. */
        arb_pack_text(pk, x->reason);
    }
}

void arb_answer_pack_decision(msgpack_packer *pk, const arb_decision_t *dec)
{
    msgpack_pack_map(pk, dec->explain ? 5 : 4);
    arb_pack_lit(pk, "decision_id");
    arb_pack_strn(pk, dec->decision_id, dec->decision_id_len);
    arb_pack_lit(pk, "ruleset");
    arb_pack_cstr(pk, dec->ruleset);
    arb_pack_lit(pk, "actions");
    msgpack_pack_array(pk, dec->n_actions);
    for (uint32_t i = 0; i < dec->n_actions; i++) pack_action(pk, &dec->actions[i]);
    if (dec->explain) {
        arb_pack_lit(pk, "explain");
        pack_explain(pk, dec);
    }
    arb_pack_lit(pk, "elapsed_us");
    msgpack_pack_uint64(pk, dec->elapsed_us);
}

void arb_answer_pack_batch_head(msgpack_packer *pk, uint32_t n) { msgpack_pack_array(pk, n); }

int arb_answer_sink(void *ud, const arb_decision_t *dec)
{
    arb_answer_pack_decision(ud, dec);
    return 0;
}
