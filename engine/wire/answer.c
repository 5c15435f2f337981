/* The answer writer (see answer.h): a decision value into the bytes the
 * server has always sent. Each chosen action's entry is mostly constant,
 * so it was packed at load (arb_action_t.answer_head/answer_tail): here it
 * is copied around the two numbers a decision computes, and only the
 * priority and propensity are packed per decision. A decision is gathered
 * in an arb_packbuf_t (base/pack.h) and reaches the packer's callback in
 * one write (a few for a long explain), not one per item: the keys are
 * literals whose str head the compiler folds into the stores. */
#include "engine/wire/answer.h"

#include <math.h>
#include <string.h>

#include "engine/base/pack.h"
#include "engine/ruleset/catalog.h"

static void pack_bool(arb_packbuf_t *b, bool v)
{
    if (v) arb_packbuf_pack_true(b); else arb_packbuf_pack_false(b);
}

/* A chosen action's entry: its head and tail packed at load around the
 * two numbers, with room made once for the whole entry. */
static void pack_action(arb_packbuf_t *b, const arb_decided_action_t *a)
{
    size_t payload = a->payload_rendered ? a->payload_len : 0;
    if (!arb_packbuf_room(b, a->head_len + a->tail_len + payload + 2 * 9 + 11)) {
        /* An entry larger than the room (a big payload): item by item. */
        arb_packbuf_append(b, a->head, a->head_len);
        arb_packbuf_pack_double(b, a->priority);
        arb_packbuf_lit(b, "propensity");
        arb_packbuf_pack_double(b, a->propensity);
        arb_packbuf_append(b, a->tail, a->tail_len);
        if (payload) arb_packbuf_append(b, a->payload, payload);
        return;
    }
    char *at = b->at;
    arb_packroom_put_str_body(&at, a->head, a->head_len);
    arb_packroom_put_double(&at, a->priority);
    arb_packroom_lit(&at, "propensity");
    arb_packroom_put_double(&at, a->propensity);
    arb_packroom_put_str_body(&at, a->tail, a->tail_len);
    if (payload) arb_packroom_put_str_body(&at, a->payload, payload);
    b->at = at;
}

/* An adaptive action's evidence (dsl/README.md, "Adaptive propensity"):
 * segment nil for the pooled arm, sample nil when the mean was used. */
static void pack_learned(arb_packbuf_t *b, const arb_learned_t *l)
{
    arb_packbuf_pack_map(b, 6);
    arb_packbuf_lit(b, "segment");
    if (l->segment && *l->segment) arb_packbuf_text(b, l->segment); else arb_packbuf_pack_nil(b);
    arb_packbuf_lit(b, "positives");
    arb_packbuf_pack_double(b, l->positives);
    arb_packbuf_lit(b, "trials");
    arb_packbuf_pack_double(b, l->trials);
    arb_packbuf_lit(b, "prior");
    arb_packbuf_pack_double(b, l->prior);
    arb_packbuf_lit(b, "mean");
    arb_packbuf_pack_double(b, l->mean);
    arb_packbuf_lit(b, "sample");
    if (isnan(l->sample)) arb_packbuf_pack_nil(b); else arb_packbuf_pack_double(b, l->sample);
}

/* A key given as a literal and its number. */
#define pack_num(b, key, v) (arb_packbuf_lit(b, key), arb_packbuf_pack_double(b, v))

/* A recommending action's products considered (decision.h): sku, score
 * (absent for a product excluded before scoring), chosen, reason. */
static void pack_products(arb_packbuf_t *b, const arb_explained_t *x)
{
    arb_packbuf_lit(b, "products");
    arb_packbuf_pack_array(b, x->n_products);
    for (uint32_t i = 0; i < x->n_products; i++) {
        const arb_explained_product_t *p = &x->products[i];
        arb_packbuf_pack_map(b, 3u + (isnan(p->score) ? 0 : 1));
        arb_packbuf_lit(b, "sku");
        arb_packbuf_text(b, p->sku);
        if (!isnan(p->score)) pack_num(b, "score", p->score);
        arb_packbuf_lit(b, "chosen");
        pack_bool(b, p->chosen);
        arb_packbuf_lit(b, "reason");
        arb_packbuf_cstr(b, p->reason);
    }
}

/* One explain entry (dsl/README.md section 11): id, chosen, reason, the
 * numbers the priority is the product of (propensity, weight and priority
 * only when its rules said yes), whom it lost to and by how much, and the
 * words of the part of its `when` that failed. */
static void pack_explained(arb_packbuf_t *b, const arb_explained_t *x)
{
    bool lost_numbers = x->lost_to && !isnan(x->lost_to_priority);
    arb_packbuf_pack_map(b, 6u + (x->learned ? 1 : 0) + (x->eligible ? 3 : 0) +
                                (x->lost_to ? 1 : 0) + (lost_numbers ? 2 : 0) +
                                (x->failed ? 1 : 0) + (x->products ? 1 : 0));
    arb_packbuf_lit(b, "id");
    arb_packbuf_cstr(b, x->id);
    arb_packbuf_lit(b, "chosen");
    pack_bool(b, x->chosen);
    arb_packbuf_lit(b, "reason");
    /* Reasons quote rule errors, cut to a fixed size: keep them UTF-8. */
    arb_packbuf_text(b, x->reason);
    if (x->learned) {
        arb_packbuf_lit(b, "learned");
        pack_learned(b, x->learned);
    }
    arb_packbuf_lit(b, "propensity_from");
    arb_packbuf_text(b, x->propensity_from ? x->propensity_from : "fixed");
    pack_num(b, "value", x->value);
    pack_num(b, "lever", x->lever);
    if (x->eligible) {
        pack_num(b, "propensity", x->propensity);
        pack_num(b, "weight", x->weight);
        pack_num(b, "priority", x->priority);
    }
    if (x->lost_to) {
        arb_packbuf_lit(b, "lost_to");
        arb_packbuf_text(b, x->lost_to);
    }
    if (lost_numbers) {
        pack_num(b, "lost_to_priority", x->lost_to_priority);
        pack_num(b, "lost_by", x->lost_by);
    }
    if (x->failed) {
        arb_packbuf_lit(b, "failed");
        arb_packbuf_text(b, x->failed);   /* a rule's strings: keep them UTF-8 */
    }
    if (x->products) pack_products(b, x);
}

void arb_answer_pack_decision(msgpack_packer *pk, const arb_decision_t *dec)
{
    arb_packbuf_t b;
    arb_packbuf_begin(&b, pk);
    const char *group = dec->group ? dec->group : "treatment";
    size_t ruleset_len = strlen(dec->ruleset), group_len = strlen(group);
    uint32_t n_keys = 5u + (dec->explain ? 1 : 0) + (dec->experiment ? 2 : 0);
    /* The map head and the first three keys and values: 42 bytes of keys and
     * heads at most (map 1, "decision_id" 12, "ruleset" 8, "group" 6, three
     * str heads of 5) beside the strings. */
    if (arb_packbuf_room(&b, 42 + dec->decision_id_len + ruleset_len + group_len)) {
        char *at = b.at;
        arb_packroom_put_map(&at, n_keys);
        arb_packroom_lit(&at, "decision_id");
        arb_packroom_put_str(&at, dec->decision_id_len);
        arb_packroom_put_str_body(&at, dec->decision_id, dec->decision_id_len);
        arb_packroom_lit(&at, "ruleset");
        arb_packroom_put_str(&at, ruleset_len);
        arb_packroom_put_str_body(&at, dec->ruleset, ruleset_len);
        /* Measurement (dsl/README.md, "Control groups and experiments"). */
        arb_packroom_lit(&at, "group");
        arb_packroom_put_str(&at, group_len);
        arb_packroom_put_str_body(&at, group, group_len);
        b.at = at;
    } else {   /* strings longer than the room */
        arb_packbuf_pack_map(&b, n_keys);
        arb_packbuf_lit(&b, "decision_id");
        arb_packbuf_strn(&b, dec->decision_id, dec->decision_id_len);
        arb_packbuf_lit(&b, "ruleset");
        arb_packbuf_strn(&b, dec->ruleset, ruleset_len);
        arb_packbuf_lit(&b, "group");
        arb_packbuf_strn(&b, group, group_len);
    }
    if (dec->experiment) {
        arb_packbuf_lit(&b, "experiment");
        arb_packbuf_text(&b, dec->experiment);
        arb_packbuf_lit(&b, "arm");
        arb_packbuf_cstr(&b, dec->arm);
    }
    arb_packbuf_lit(&b, "actions");
    arb_packbuf_pack_array(&b, dec->n_actions);
    for (uint32_t i = 0; i < dec->n_actions; i++) pack_action(&b, &dec->actions[i]);
    if (dec->explain) {
        arb_packbuf_lit(&b, "explain");
        arb_packbuf_pack_array(&b, dec->n_explain);
        for (uint32_t i = 0; i < dec->n_explain; i++) pack_explained(&b, &dec->explain[i]);
    }
    arb_packbuf_lit(&b, "elapsed_us");
    arb_packbuf_pack_uint64(&b, dec->elapsed_us);
    arb_packbuf_end(&b);
}

void arb_answer_pack_batch_head(msgpack_packer *pk, uint32_t n) { msgpack_pack_array(pk, n); }

int arb_answer_sink(void *ud, const arb_decision_t *dec)
{
    arb_answer_pack_decision(ud, dec);
    return 0;
}

void arb_answer_pack_ping(msgpack_packer *pk, const char *version)
{
    msgpack_pack_map(pk, 2);
    arb_pack_lit(pk, "pong");
    msgpack_pack_true(pk);
    arb_pack_lit(pk, "version");
    arb_pack_cstr(pk, version);
}

static void pack_counter_map(msgpack_packer *pk, const _Atomic uint64_t *v, int n,
                             const char *(*name)(int))
{
    msgpack_pack_map(pk, (size_t)n);
    for (int i = 0; i < n; i++) {
        arb_pack_cstr(pk, name(i));
        msgpack_pack_uint64(pk, atomic_load_explicit(&v[i], memory_order_relaxed));
    }
}

static const char *method_name_i(int i) { return arb_method_name((arb_method_t)i); }
static const char *code_name_i(int i) { return arb_code_name((arb_code_t)i); }

static void pack_kv_u64(msgpack_packer *pk, const char *k, uint64_t v)
{
    arb_pack_cstr(pk, k);
    msgpack_pack_uint64(pk, v);
}

void arb_answer_pack_stats(msgpack_packer *pk, const arb_stats_t *s,
                           const arb_stats_gauges_t *g, const char *version)
{
    msgpack_pack_map(pk, 19);
    arb_pack_lit(pk, "requests");
    pack_counter_map(pk, s->requests, ARB_METHOD_COUNT, method_name_i);
    arb_pack_lit(pk, "errors");
    pack_counter_map(pk, s->errors, ARB_CODE_COUNT, code_name_i);
    arb_pack_lit(pk, "connections");
    msgpack_pack_int64(pk, g->connections);
    pack_kv_u64(pk, "connections_refused", g->connections_refused);
    pack_kv_u64(pk, "decisions", s->decisions);
    pack_kv_u64(pk, "rule_errors", s->rule_errors);
    pack_kv_u64(pk, "budget_stops", s->budget_stops);
    pack_kv_u64(pk, "fallbacks", s->fallbacks);
    pack_kv_u64(pk, "undeclared_touchpoints", s->undeclared_touchpoints);
    pack_kv_u64(pk, "backpressure_pauses", s->backpressure_pauses);
    pack_kv_u64(pk, "answer_failures", s->answer_failures);
    pack_kv_u64(pk, "partial_closes", s->partial_closes);
    arb_pack_lit(pk, "reloads");
    msgpack_pack_map(pk, 3);
    pack_kv_u64(pk, "ok", g->reloads_ok);
    pack_kv_u64(pk, "failed", g->reloads_failed);
    pack_kv_u64(pk, "abandoned", s->reloads_abandoned);
    arb_pack_lit(pk, "decide_us");
    msgpack_pack_map(pk, 3);
    static const struct { const char *k; double q; } qs[] = {
        { "p50", 0.5 }, { "p99", 0.99 }, { "p999", 0.999 } };
    for (int i = 0; i < 3; i++) {
        arb_pack_cstr(pk, qs[i].k);
        msgpack_pack_double(pk, (double)arb_stats_decide_quantile(s, qs[i].q) / 1000.0);
    }
    arb_pack_lit(pk, "ruleset");
    arb_pack_cstr(pk, version);
    pack_kv_u64(pk, "state_failures", s->state_failures);
    pack_kv_u64(pk, "state_retries", s->state_retries);
    arb_pack_lit(pk, "learning");
    msgpack_pack_map(pk, 6);
    pack_kv_u64(pk, "arms", g->arms);
    pack_kv_u64(pk, "syncs", s->learn_syncs);
    pack_kv_u64(pk, "sync_failures", s->learn_sync_failures);
    pack_kv_u64(pk, "lost", s->learn_lost);
    pack_kv_u64(pk, "dropped", g->learn_dropped);
    pack_kv_u64(pk, "feedback_unknown", s->feedback_unknown);
    arb_pack_lit(pk, "log");
    msgpack_pack_map(pk, 4);
    pack_kv_u64(pk, "written", g->log_written);
    pack_kv_u64(pk, "dropped", g->log_dropped);
    pack_kv_u64(pk, "failed", g->log_failed);
    pack_kv_u64(pk, "files", g->log_files);
}

void arb_answer_pack_reload(msgpack_packer *pk, const char *version, uint64_t actions)
{
    msgpack_pack_map(pk, 2);
    arb_pack_lit(pk, "version");
    arb_pack_cstr(pk, version);
    arb_pack_lit(pk, "actions");
    msgpack_pack_uint64(pk, actions);
}

/* ------------------------------------------------------------ `ruleset` */

static void pack_channel_names(msgpack_packer *pk, const arb_ruleset_t *rs, uint32_t n_channels,
                               uint64_t mask)
{
    msgpack_pack_array(pk, (size_t)__builtin_popcountll(mask));
    for (uint32_t ch = 0; ch < n_channels; ch++)
        if (mask & (1ull << ch)) arb_pack_cstr(pk, arb_ruleset_channel(rs, ch));
}

static void pack_action_info(msgpack_packer *pk, const arb_ruleset_t *rs, uint32_t n_channels,
                             uint32_t i)
{
    arb_action_view_t a;
    arb_ruleset_action(rs, i, &a);
    msgpack_pack_map(pk, 12);
    arb_pack_lit(pk, "id");
    arb_pack_cstr(pk, a.id);
    arb_pack_lit(pk, "channels");
    pack_channel_names(pk, rs, n_channels, a.channels);
    arb_pack_lit(pk, "touchpoints");
    msgpack_pack_array(pk, a.n_touchpoints);
    for (uint32_t k = 0; k < a.n_touchpoints; k++)
        arb_pack_cstr(pk, arb_ruleset_action_touchpoint(rs, i, k));
    arb_pack_lit(pk, "requires");
    msgpack_pack_array(pk, a.n_requires);
    for (uint32_t k = 0; k < a.n_requires; k++) arb_pack_cstr(pk, a.requires[k]);
    arb_pack_lit(pk, "value");
    msgpack_pack_double(pk, a.value);
    arb_pack_lit(pk, "lever");
    msgpack_pack_double(pk, a.lever);
    arb_pack_lit(pk, "model");
    if (a.model) arb_pack_cstr(pk, a.model); else msgpack_pack_nil(pk);
    arb_pack_lit(pk, "category");
    if (a.category) arb_pack_cstr(pk, a.category); else msgpack_pack_nil(pk);
    arb_pack_lit(pk, "fallback");
    if (a.fallback) msgpack_pack_true(pk); else msgpack_pack_false(pk);
    arb_pack_lit(pk, "dynamic");
    if (a.dynamic) msgpack_pack_true(pk); else msgpack_pack_false(pk);
    arb_pack_lit(pk, "file");
    arb_pack_text(pk, a.file);   /* a file name need not be UTF-8: escaped */
    arb_pack_lit(pk, "line");
    msgpack_pack_int(pk, a.line);
}

/* "experiments": [{name, share, salt, challenger: version}] and
 * "control": {share, salt, gets} or nil. */
static void pack_measurement(msgpack_packer *pk, const arb_ruleset_t *rs)
{
    arb_experiment_view_t e;
    bool has = arb_ruleset_experiment(rs, &e);
    arb_pack_lit(pk, "experiments");
    msgpack_pack_array(pk, has ? 1 : 0);
    if (has) {
        msgpack_pack_map(pk, 4);
        arb_pack_lit(pk, "name");
        arb_pack_text(pk, e.name);
        arb_pack_lit(pk, "share");
        msgpack_pack_double(pk, e.share);
        arb_pack_lit(pk, "salt");
        arb_pack_text(pk, e.salt);
        arb_pack_lit(pk, "challenger");
        arb_pack_cstr(pk, arb_ruleset_version(e.challenger));
    }
    arb_control_view_t c;
    arb_pack_lit(pk, "control");
    if (!arb_ruleset_control(rs, &c)) {
        msgpack_pack_nil(pk);
        return;
    }
    msgpack_pack_map(pk, 3);
    arb_pack_lit(pk, "share");
    msgpack_pack_double(pk, c.share);
    arb_pack_lit(pk, "salt");
    arb_pack_text(pk, c.salt);
    arb_pack_lit(pk, "gets");
    arb_pack_cstr(pk, c.gets);
}

/* "catalog": {file, products, checksum, loaded_at} or nil; those of
 * reading (a catalog-only reload) when not NULL. */
static void pack_catalog(msgpack_packer *pk, const arb_ruleset_t *rs,
                         const struct arb_catalog *reading)
{
    arb_catalog_view_t c;
    arb_pack_lit(pk, "catalog");
    if (!arb_ruleset_catalog(rs, &c)) {
        msgpack_pack_nil(pk);
        return;
    }
    if (reading) {
        c.products = reading->n_products;
        c.checksum = reading->checksum;
        c.loaded_at = reading->loaded_at;
    }
    msgpack_pack_map(pk, 4);
    arb_pack_lit(pk, "file");
    arb_pack_text(pk, c.file);
    arb_pack_lit(pk, "products");
    msgpack_pack_uint32(pk, c.products);
    arb_pack_lit(pk, "checksum");
    arb_pack_cstr(pk, c.checksum);
    arb_pack_lit(pk, "loaded_at");
    msgpack_pack_int64(pk, c.loaded_at);
}

void arb_answer_pack_ruleset(msgpack_packer *pk, const arb_ruleset_t *rs)
{
    arb_answer_pack_ruleset_reading(pk, rs, NULL);
}

void arb_answer_pack_ruleset_reading(msgpack_packer *pk, const arb_ruleset_t *rs,
                                     const struct arb_catalog *catalog)
{
    arb_ruleset_view_t v;
    arb_ruleset_view(rs, &v);
    msgpack_pack_map(pk, 12);
    arb_pack_lit(pk, "version");
    arb_pack_cstr(pk, v.version);
    arb_pack_lit(pk, "checksum");
    arb_pack_cstr(pk, v.checksum);
    arb_pack_lit(pk, "loaded_at");
    msgpack_pack_int64(pk, v.loaded_at);
    arb_pack_lit(pk, "dir");
    arb_pack_text(pk, v.dir);
    arb_pack_lit(pk, "default_limit");
    msgpack_pack_int(pk, v.default_limit);
    arb_pack_lit(pk, "channels");
    uint64_t all = v.n_channels == 64 ? ~0ull : (1ull << v.n_channels) - 1;
    pack_channel_names(pk, rs, v.n_channels, all);
    arb_pack_lit(pk, "models");
    msgpack_pack_array(pk, v.n_models);
    for (uint32_t i = 0; i < v.n_models; i++) arb_pack_cstr(pk, arb_ruleset_model(rs, i));
    arb_pack_lit(pk, "touchpoints");
    msgpack_pack_array(pk, v.n_touchpoints);
    for (uint32_t i = 0; i < v.n_touchpoints; i++) {
        arb_touchpoint_view_t tp;
        arb_ruleset_touchpoint(rs, i, &tp);
        msgpack_pack_map(pk, 3);
        arb_pack_lit(pk, "id");
        arb_pack_cstr(pk, tp.id);
        arb_pack_lit(pk, "limit");
        msgpack_pack_int(pk, tp.limit);
        arb_pack_lit(pk, "diverse");
        if (tp.diverse_by_category) arb_pack_lit(pk, "category"); else msgpack_pack_nil(pk);
    }
    arb_pack_lit(pk, "actions");
    msgpack_pack_array(pk, v.n_actions);
    for (uint32_t i = 0; i < v.n_actions; i++) pack_action_info(pk, rs, v.n_channels, i);
    pack_measurement(pk, rs);
    pack_catalog(pk, rs, catalog);
}
