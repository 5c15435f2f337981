/* The pre-issue-19 answer writer and the comparison (see answer_ref.h).
 * Not engine code: kept verbatim so that a change of the engine's writer
 * is checked against what clients have always read. */
#include "tests/support/answer_ref.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/base/pack.h"
#include "engine/base/utf8.h"
#include "engine/wire/answer.h"

static void ref_pack_text(msgpack_packer *pk, const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text), i = 0, bad = 0;
    while (i < n) {
        size_t k = arb_utf8_seq(s + i, n - i);
        if (!k) { bad++; k = 1; }
        i += k;
    }
    if (!bad) {
        arb_pack_strn(pk, text, n);
        return;
    }
    /* Bytes a client sent that are not UTF-8 come back as \xNN. */
    msgpack_pack_str(pk, n + bad * 3);
    for (i = 0; i < n;) {
        size_t k = arb_utf8_seq(s + i, n - i);
        if (k) {
            msgpack_pack_str_body(pk, s + i, k);
            i += k;
            continue;
        }
        char esc[5];
        snprintf(esc, sizeof esc, "\\x%02X", s[i++]);
        msgpack_pack_str_body(pk, esc, 4);
    }
}

static void pack_action(msgpack_packer *pk, const arb_decided_action_t *a)
{
    pk->callback(pk->data, a->head, a->head_len);
    msgpack_pack_double(pk, a->priority);
    arb_pack_lit(pk, "propensity");
    msgpack_pack_double(pk, a->propensity);
    pk->callback(pk->data, a->tail, a->tail_len);
    if (a->payload_rendered) pk->callback(pk->data, a->payload, a->payload_len);
}

/* An adaptive action's evidence (dsl/README.md, "Adaptive propensity"):
 * segment nil for the pooled arm, sample nil when the mean was used. */
static void pack_learned(msgpack_packer *pk, const arb_learned_t *l)
{
    msgpack_pack_map(pk, 6);
    arb_pack_lit(pk, "segment");
    if (l->segment && *l->segment) ref_pack_text(pk, l->segment); else msgpack_pack_nil(pk);
    arb_pack_lit(pk, "positives");
    msgpack_pack_double(pk, l->positives);
    arb_pack_lit(pk, "trials");
    msgpack_pack_double(pk, l->trials);
    arb_pack_lit(pk, "prior");
    msgpack_pack_double(pk, l->prior);
    arb_pack_lit(pk, "mean");
    msgpack_pack_double(pk, l->mean);
    arb_pack_lit(pk, "sample");
    if (isnan(l->sample)) msgpack_pack_nil(pk); else msgpack_pack_double(pk, l->sample);
}

static void pack_num(msgpack_packer *pk, const char *key, double v)
{
    arb_pack_cstr(pk, key);
    msgpack_pack_double(pk, v);
}

/* One explain entry (dsl/README.md section 11): id, chosen, reason, the
 * numbers the priority is the product of (propensity, weight and priority
 * only when its rules said yes), whom it lost to and by how much, and the
 * words of the part of its `when` that failed. */
/* A recommending action's products considered (decision.h): sku, score
 * (absent for a product excluded before scoring), chosen, reason. */
static void pack_products(msgpack_packer *pk, const arb_explained_t *x)
{
    arb_pack_lit(pk, "products");
    msgpack_pack_array(pk, x->n_products);
    for (uint32_t i = 0; i < x->n_products; i++) {
        const arb_explained_product_t *p = &x->products[i];
        msgpack_pack_map(pk, 3u + (isnan(p->score) ? 0 : 1));
        arb_pack_lit(pk, "sku");
        ref_pack_text(pk, p->sku);
        if (!isnan(p->score)) pack_num(pk, "score", p->score);
        arb_pack_lit(pk, "chosen");
        if (p->chosen) msgpack_pack_true(pk); else msgpack_pack_false(pk);
        arb_pack_lit(pk, "reason");
        arb_pack_cstr(pk, p->reason);
    }
}

static void pack_explained(msgpack_packer *pk, const arb_explained_t *x)
{
    bool lost_numbers = x->lost_to && !isnan(x->lost_to_priority);
    msgpack_pack_map(pk, 6u + (x->learned ? 1 : 0) + (x->eligible ? 3 : 0) +
                             (x->lost_to ? 1 : 0) + (lost_numbers ? 2 : 0) + (x->failed ? 1 : 0) +
                             (x->products ? 1 : 0));
    arb_pack_lit(pk, "id");
    arb_pack_cstr(pk, x->id);
    arb_pack_lit(pk, "chosen");
    if (x->chosen) msgpack_pack_true(pk); else msgpack_pack_false(pk);
    arb_pack_lit(pk, "reason");
    /* Reasons quote rule errors, cut to a fixed size: keep them UTF-8. */
    ref_pack_text(pk, x->reason);
    if (x->learned) {
        arb_pack_lit(pk, "learned");
        pack_learned(pk, x->learned);
    }
    arb_pack_lit(pk, "propensity_from");
    ref_pack_text(pk, x->propensity_from ? x->propensity_from : "fixed");
    pack_num(pk, "value", x->value);
    pack_num(pk, "lever", x->lever);
    if (x->eligible) {
        pack_num(pk, "propensity", x->propensity);
        pack_num(pk, "weight", x->weight);
        pack_num(pk, "priority", x->priority);
    }
    if (x->lost_to) {
        arb_pack_lit(pk, "lost_to");
        ref_pack_text(pk, x->lost_to);
    }
    if (lost_numbers) {
        pack_num(pk, "lost_to_priority", x->lost_to_priority);
        pack_num(pk, "lost_by", x->lost_by);
    }
    if (x->failed) {
        arb_pack_lit(pk, "failed");
        ref_pack_text(pk, x->failed);   /* a rule's strings: keep them UTF-8 */
    }
    if (x->products) pack_products(pk, x);
}

static void pack_explain(msgpack_packer *pk, const arb_decision_t *dec)
{
    msgpack_pack_array(pk, dec->n_explain);
    for (uint32_t i = 0; i < dec->n_explain; i++) pack_explained(pk, &dec->explain[i]);
}

void ar_pack_decision_ref(msgpack_packer *pk, const arb_decision_t *dec)
{
    msgpack_pack_map(pk, 5u + (dec->explain ? 1 : 0) + (dec->experiment ? 2 : 0));
    arb_pack_lit(pk, "decision_id");
    arb_pack_strn(pk, dec->decision_id, dec->decision_id_len);
    arb_pack_lit(pk, "ruleset");
    arb_pack_cstr(pk, dec->ruleset);
    /* Measurement (dsl/README.md, "Control groups and experiments"). */
    arb_pack_lit(pk, "group");
    arb_pack_cstr(pk, dec->group ? dec->group : "treatment");
    if (dec->experiment) {
        arb_pack_lit(pk, "experiment");
        ref_pack_text(pk, dec->experiment);
        arb_pack_lit(pk, "arm");
        arb_pack_cstr(pk, dec->arm);
    }
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

size_t ar_expect_same(const arb_decision_t *dec)
{
    msgpack_sbuffer now, ref;
    msgpack_sbuffer_init(&now);
    msgpack_sbuffer_init(&ref);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &now, msgpack_sbuffer_write);
    arb_answer_pack_decision(&pk, dec);
    msgpack_packer_init(&pk, &ref, msgpack_sbuffer_write);
    ar_pack_decision_ref(&pk, dec);
    size_t at = 0, n = now.size < ref.size ? now.size : ref.size;
    while (at < n && now.data[at] == ref.data[at]) at++;
    bool same = now.size == ref.size && at == n;
    size_t size = now.size, ref_size = ref.size;
    msgpack_sbuffer_destroy(&now);
    msgpack_sbuffer_destroy(&ref);
    cr_assert(same, "decision %.*s: the answer (%zu bytes) differs from the reference's (%zu) "
              "at byte %zu", (int)dec->decision_id_len, dec->decision_id, size, ref_size, at);
    return size;
}
