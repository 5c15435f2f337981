/* Unit tests for the answer shapes (engine/wire/answer.c), the only code
 * that knows them: decisions built here as arb_decision_t values (as the
 * decide layer returns them, with the constant parts of each action packed
 * the way the loader packs them) are packed with and without explain, and
 * ping, stats and reload answers are packed from plain values; each answer
 * is unpacked and every field checked, in order, with its type.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tests/support/answerfix.h"
#include "engine/base/stats.h"
#include "engine/request/decision.h"
#include "engine/wire/answer.h"

/* ---- helpers ---------------------------------------------------------------- */

static msgpack_sbuffer g_sb;
static msgpack_packer g_pk;
static msgpack_unpacked g_up;
static msgpack_sbuffer g_parts;   /* the actions' head and tail bytes */

static void setup(void)
{
    msgpack_sbuffer_init(&g_sb);
    msgpack_packer_init(&g_pk, &g_sb, msgpack_sbuffer_write);
    msgpack_unpacked_init(&g_up);
    msgpack_sbuffer_init(&g_parts);
}

static void teardown(void)
{
    msgpack_unpacked_destroy(&g_up);
    msgpack_sbuffer_destroy(&g_sb);
    msgpack_sbuffer_destroy(&g_parts);
}

TestSuite(answer, .init = setup, .fini = teardown);

static const msgpack_object *val(const msgpack_object *map, uint32_t i)
{
    return &map->via.map.ptr[i].val;
}

static void expect_f64(const msgpack_object *o, double want, const char *what)
{
    cr_assert_eq(o->type, MSGPACK_OBJECT_FLOAT64, "%s: type %d, want float64", what, o->type);
    cr_assert(o->via.f64 == want || (isnan(want) && isnan(o->via.f64)), "%s: %.17g, want %.17g",
              what, o->via.f64, want);
}

static void expect_u64(const msgpack_object *o, uint64_t want, const char *what)
{
    cr_assert_eq(o->type, MSGPACK_OBJECT_POSITIVE_INTEGER, "%s: type %d", what, o->type);
    cr_assert_eq(o->via.u64, want, "%s: %llu, want %llu", what, (unsigned long long)o->via.u64,
                 (unsigned long long)want);
}

/* An action as the loader prepares it (ruleset/compile_decl.c): the head
 * is {id, priority: ..., the tail ...value, payload} around the two
 * numbers the decision computes. payload is packed by fill, or nil. The
 * bytes live in g_parts; offsets are fixed up by fix_parts. */
typedef struct {
    size_t head_at, head_len, tail_at, tail_len;
} parts_t;

static parts_t prepare(const char *id, double value, void (*fill)(msgpack_packer *))
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, &g_parts, msgpack_sbuffer_write);
    parts_t p;
    p.head_at = g_parts.size;
    msgpack_pack_map(&pk, 5);
    msgpack_pack_str_with_body(&pk, "id", 2);
    msgpack_pack_str_with_body(&pk, id, strlen(id));
    msgpack_pack_str_with_body(&pk, "priority", 8);
    p.head_len = g_parts.size - p.head_at;
    p.tail_at = g_parts.size;
    msgpack_pack_str_with_body(&pk, "value", 5);
    msgpack_pack_double(&pk, value);
    msgpack_pack_str_with_body(&pk, "payload", 7);
    if (fill) fill(&pk); else msgpack_pack_nil(&pk);
    p.tail_len = g_parts.size - p.tail_at;
    return p;
}

static void fix_parts(arb_decided_action_t *a, const parts_t *p)
{
    a->head = g_parts.data + p->head_at;
    a->head_len = p->head_len;
    a->tail = g_parts.data + p->tail_at;
    a->tail_len = p->tail_len;
}

static void payload_map(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    msgpack_pack_str_with_body(pk, "banner", 6);
    msgpack_pack_str_with_body(pk, "tv.png", 6);
    msgpack_pack_str_with_body(pk, "n", 1);
    msgpack_pack_int(pk, -3);
}

/* ---- decisions ----------------------------------------------------------------- */

static const char *const DECISION_KEYS[] = { "decision_id", "ruleset", "group", "actions",
                                            "elapsed_us", NULL };
static const char *const EXPLAINED_KEYS[] = { "decision_id", "ruleset", "group", "actions",
                                              "explain", "elapsed_us", NULL };
static const char *const ACTION_KEYS[] = { "id", "priority", "propensity", "value", "payload", NULL };

/* Two chosen actions, the first with a payload. */
static void two_actions(arb_decided_action_t acts[2])
{
    parts_t p0 = prepare("tv_promo", 40, payload_map);
    parts_t p1 = prepare("newsletter", 1, NULL);
    memset(acts, 0, 2 * sizeof *acts);
    acts[0].id = "tv_promo";
    acts[0].priority = 12.5;
    acts[0].propensity = 0.3125;
    acts[0].value = 40;
    acts[1].id = "newsletter";
    acts[1].priority = 0.25;
    acts[1].propensity = 0.25;
    acts[1].value = 1;
    fix_parts(&acts[0], &p0);   /* after both: g_parts may have moved */
    fix_parts(&acts[1], &p1);
}

static void expect_actions(const msgpack_object *acts)
{
    cr_assert_eq(acts->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(acts->via.array.size, 2);
    const msgpack_object *a = &acts->via.array.ptr[0], *b = &acts->via.array.ptr[1];
    af_expect_keys(a, ACTION_KEYS, "actions[0]");
    cr_assert(af_str_is(val(a, 0), "tv_promo"));
    expect_f64(val(a, 1), 12.5, "actions[0].priority");
    expect_f64(val(a, 2), 0.3125, "actions[0].propensity");
    expect_f64(val(a, 3), 40, "actions[0].value");
    const msgpack_object *pl = val(a, 4);
    static const char *const PAYLOAD_KEYS[] = { "banner", "n", NULL };
    af_expect_keys(pl, PAYLOAD_KEYS, "actions[0].payload");
    cr_assert(af_str_is(val(pl, 0), "tv.png"));
    cr_assert_eq(val(pl, 1)->type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
    cr_assert_eq(val(pl, 1)->via.i64, -3);
    af_expect_keys(b, ACTION_KEYS, "actions[1]");
    cr_assert(af_str_is(val(b, 0), "newsletter"));
    expect_f64(val(b, 1), 0.25, "actions[1].priority");
    expect_f64(val(b, 2), 0.25, "actions[1].propensity");
    expect_f64(val(b, 3), 1, "actions[1].value");
    cr_assert_eq(val(b, 4)->type, MSGPACK_OBJECT_NIL, "no payload is nil");
}

Test(answer, a_decision_without_explain)
{
    arb_decided_action_t acts[2];
    two_actions(acts);
    /* The id is given with its length: bytes past it are not part of it. */
    arb_decision_t d = { .decision_id = "0123456789abcdef-2aXXXX", .decision_id_len = 19,
                         .ruleset = "3-0a1b2c3d4e5f", .actions = acts, .n_actions = 2,
                         .explain = NULL, .n_explain = 0, .elapsed_us = 4242 };
    arb_answer_pack_decision(&g_pk, &d);
    const msgpack_object *m = af_unpacked(&g_up, &g_sb);
    af_expect_keys(m, DECISION_KEYS, "decision");
    cr_assert(af_str_is(val(m, 0), "0123456789abcdef-2a"), "decision_id");
    cr_assert(af_str_is(val(m, 1), "3-0a1b2c3d4e5f"), "ruleset");
    cr_assert(af_str_is(val(m, 2), "treatment"), "group: treatment unless said");
    expect_actions(val(m, 3));
    expect_u64(val(m, 4), 4242, "elapsed_us");
}

Test(answer, a_decision_with_explain)
{
    arb_decided_action_t acts[2];
    two_actions(acts);
    const arb_explained_t x[] = {
        { .id = "a_fails", .chosen = false, .reason = "error: rules.lua:3: boom \xff",
          .eligible = false, .priority = NAN, .propensity = NAN },
        { .id = "newsletter", .chosen = true, .reason = "chosen", .eligible = true,
          .priority = 0.25, .propensity = 0.25 },
        { .id = "sofa", .chosen = false, .reason = "when", .eligible = false,
          .priority = NAN, .propensity = NAN },
        { .id = "tv_promo", .chosen = true, .reason = "chosen", .eligible = true,
          .priority = 12.5, .propensity = 0.3125 },
    };
    arb_decision_t d = { .decision_id = "ffffffffffffffff-1", .decision_id_len = 18,
                         .ruleset = "1-000000000000", .actions = acts, .n_actions = 2,
                         .explain = x, .n_explain = 4, .elapsed_us = 0 };
    arb_answer_pack_decision(&g_pk, &d);
    const msgpack_object *m = af_unpacked(&g_up, &g_sb);
    af_expect_keys(m, EXPLAINED_KEYS, "explained decision");
    cr_assert(af_str_is(val(m, 0), "ffffffffffffffff-1"));
    cr_assert(af_str_is(val(m, 1), "1-000000000000"));
    expect_actions(val(m, 3));
    const msgpack_object *e = val(m, 4);
    cr_assert_eq(e->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(e->via.array.size, 4);
    /* The numbers of every entry; propensity, weight and priority when eligible. */
    static const char *const X_KEYS[] = { "id", "chosen", "reason", "propensity_from", "value",
                                          "lever", NULL };
    static const char *const XE_KEYS[] = { "id", "chosen", "reason", "propensity_from", "value",
                                           "lever", "propensity", "weight", "priority", NULL };
    /* A reason quoting a rule's bytes stays valid UTF-8 (\xNN). */
    const char *reasons[] = { "error: rules.lua:3: boom \\xFF", "chosen", "when", "chosen" };
    for (uint32_t i = 0; i < 4; i++) {
        const msgpack_object *xi = &e->via.array.ptr[i];
        af_expect_keys(xi, x[i].eligible ? XE_KEYS : X_KEYS, "explain entry");
        cr_assert(af_str_is(val(xi, 0), x[i].id), "explain[%u].id", i);
        cr_assert_eq(val(xi, 1)->type, MSGPACK_OBJECT_BOOLEAN);
        cr_assert_eq(val(xi, 1)->via.boolean, x[i].chosen, "explain[%u].chosen", i);
        cr_assert(af_str_is(val(xi, 2), reasons[i]), "explain[%u].reason: %.*s", i,
                  (int)val(xi, 2)->via.str.size, val(xi, 2)->via.str.ptr);
    }
    expect_u64(val(m, 5), 0, "elapsed_us");
}

/* An adaptive action's entry gains its evidence: the segment nil for the
 * pooled arm, the sample nil when the mean was used. */
Test(answer, explain_shows_the_learned_evidence_of_adaptive_actions)
{
    const arb_learned_t seg = { "gold", 80, 100, 0.05, 0.75, 0.7125 };
    const arb_learned_t pooled = { "", 300, 1000, 0.5, 0.3, NAN };
    const arb_explained_t x[] = {
        { .id = "a", .chosen = true, .reason = "chosen", .eligible = true, .priority = 1,
          .propensity = 0.7125, .learned = &seg },
        { .id = "b", .chosen = false, .reason = "outranked", .eligible = true, .priority = 0.3,
          .propensity = 0.3, .learned = &pooled },
        { .id = "c", .chosen = false, .reason = "when", .priority = NAN, .propensity = NAN },
    };
    arb_decision_t d = { .decision_id = "f-1", .decision_id_len = 3, .ruleset = "1-0",
                         .explain = x, .n_explain = 3 };
    arb_answer_pack_decision(&g_pk, &d);
    const msgpack_object *m = af_unpacked(&g_up, &g_sb);
    const msgpack_object *e = val(m, 4);
    cr_assert_eq(e->type, MSGPACK_OBJECT_ARRAY);
    static const char *const X_KEYS[] = { "id", "chosen", "reason", "learned", "propensity_from",
                                          "value", "lever", "propensity", "weight", "priority",
                                          NULL };
    static const char *const X3_KEYS[] = { "id", "chosen", "reason", "propensity_from", "value",
                                           "lever", NULL };
    static const char *const L_KEYS[] = { "segment", "positives", "trials", "prior", "mean",
                                          "sample", NULL };
    for (uint32_t i = 0; i < 2; i++) {
        const msgpack_object *xi = &e->via.array.ptr[i];
        af_expect_keys(xi, X_KEYS, "adaptive explain entry");
        af_expect_keys(val(xi, 3), L_KEYS, "learned");
    }
    const msgpack_object *l0 = val(&e->via.array.ptr[0], 3), *l1 = val(&e->via.array.ptr[1], 3);
    cr_assert(af_str_is(val(l0, 0), "gold"));
    expect_f64(val(l0, 1), 80, "positives");
    expect_f64(val(l0, 2), 100, "trials");
    expect_f64(val(l0, 3), 0.05, "prior");
    expect_f64(val(l0, 4), 0.75, "mean");
    expect_f64(val(l0, 5), 0.7125, "sample");
    cr_assert_eq(val(l1, 0)->type, MSGPACK_OBJECT_NIL, "the pooled arm's segment is nil");
    expect_f64(val(l1, 4), 0.3, "mean");
    cr_assert_eq(val(l1, 5)->type, MSGPACK_OBJECT_NIL, "settled: no sample");
    af_expect_keys(&e->via.array.ptr[2], X3_KEYS, "a non-adaptive entry is unchanged");
}

Test(answer, an_empty_decision_and_an_empty_explain)
{
    arb_explained_t none[1];
    arb_decision_t d = { .decision_id = "0000000000000000-0", .decision_id_len = 18,
                         .ruleset = "", .actions = NULL, .n_actions = 0,
                         .explain = none, .n_explain = 0, .elapsed_us = UINT64_MAX };
    arb_answer_pack_decision(&g_pk, &d);
    const msgpack_object *m = af_unpacked(&g_up, &g_sb);
    /* explain asked for (not NULL) is there even when empty. */
    af_expect_keys(m, EXPLAINED_KEYS, "empty decision");
    cr_assert(af_str_is(val(m, 1), ""));
    cr_assert_eq(val(m, 3)->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(val(m, 3)->via.array.size, 0);
    cr_assert_eq(val(m, 4)->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(val(m, 4)->via.array.size, 0);
    expect_u64(val(m, 5), UINT64_MAX, "elapsed_us");
}

Test(answer, a_batch_is_its_head_then_each_decision_through_the_sink)
{
    arb_decided_action_t acts[2];
    two_actions(acts);
    arb_decision_t d = { .decision_id = "0123456789abcdef-1", .decision_id_len = 18,
                         .ruleset = "2-aaaaaaaaaaaa", .actions = acts, .n_actions = 2,
                         .elapsed_us = 7 };
    arb_answer_pack_batch_head(&g_pk, 3);
    for (int i = 0; i < 3; i++) cr_assert_eq(arb_answer_sink(&g_pk, &d), 0);
    const msgpack_object *m = af_unpacked(&g_up, &g_sb);
    cr_assert_eq(m->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(m->via.array.size, 3);
    for (int i = 0; i < 3; i++) {
        const msgpack_object *di = &m->via.array.ptr[i];
        af_expect_keys(di, DECISION_KEYS, "batch entry");
        expect_actions(val(di, 3));
        expect_u64(val(di, 4), 7, "elapsed_us");
    }
}

/* An experiment's decision names it and its arm, after the group. */
Test(answer, a_decision_of_an_experiment_names_its_arm)
{
    arb_decision_t d = { .decision_id = "f-2", .decision_id_len = 3, .ruleset = "4-challenger",
                         .group = "control", .experiment = "spring_weights", .arm = "challenger" };
    arb_answer_pack_decision(&g_pk, &d);
    const msgpack_object *m = af_unpacked(&g_up, &g_sb);
    static const char *const KEYS[] = { "decision_id", "ruleset", "group", "experiment", "arm",
                                        "actions", "elapsed_us", NULL };
    af_expect_keys(m, KEYS, "experiment decision");
    cr_assert(af_str_is(val(m, 1), "4-challenger"));
    cr_assert(af_str_is(val(m, 2), "control"));
    cr_assert(af_str_is(val(m, 3), "spring_weights"));
    cr_assert(af_str_is(val(m, 4), "challenger"));
}

/* ---- ping, stats, reload ---------------------------------------------------------- */

Test(answer, ping)
{
    arb_answer_pack_ping(&g_pk, "1.4.0");
    const msgpack_object *m = af_unpacked(&g_up, &g_sb);
    static const char *const KEYS[] = { "pong", "version", NULL };
    af_expect_keys(m, KEYS, "ping");
    cr_assert_eq(val(m, 0)->type, MSGPACK_OBJECT_BOOLEAN);
    cr_assert(val(m, 0)->via.boolean);
    cr_assert(af_str_is(val(m, 1), "1.4.0"));
}

Test(answer, reload)
{
    arb_answer_pack_reload(&g_pk, "7-0123456789ab", 1234567890123ULL);
    const msgpack_object *m = af_unpacked(&g_up, &g_sb);
    static const char *const KEYS[] = { "version", "actions", NULL };
    af_expect_keys(m, KEYS, "reload");
    cr_assert(af_str_is(val(m, 0), "7-0123456789ab"));
    expect_u64(val(m, 1), 1234567890123ULL, "actions");
}

Test(answer, stats_show_every_counter_gauge_and_quantile)
{
    static arb_stats_t s;   /* zeroed; large (the histogram) */
    memset(&s, 0, sizeof s);
    for (int i = 0; i < ARB_METHOD_COUNT; i++) arb_stat_add(&s.requests[i], 100 + (uint64_t)i);
    for (int i = 0; i < ARB_CODE_COUNT; i++) arb_stat_add(&s.errors[i], 200 + (uint64_t)i);
    arb_stat_add(&s.decisions, 301);
    arb_stat_add(&s.rule_errors, 302);
    arb_stat_add(&s.budget_stops, 303);
    arb_stat_add(&s.fallbacks, 304);
    arb_stat_add(&s.undeclared_touchpoints, 305);
    arb_stat_add(&s.backpressure_pauses, 306);
    arb_stat_add(&s.answer_failures, 307);
    arb_stat_add(&s.partial_closes, 308);
    arb_stat_add(&s.reloads_abandoned, 309);
    arb_stat_add(&s.state_failures, 310);
    arb_stat_add(&s.state_retries, 311);
    arb_stat_add(&s.learn_syncs, 312);
    arb_stat_add(&s.learn_sync_failures, 313);
    arb_stat_add(&s.learn_lost, 314);
    arb_stat_add(&s.feedback_unknown, 315);
    for (int i = 0; i < 1000; i++) arb_stats_record_decide(&s, 1000 + (uint64_t)i * 1000);
    arb_stats_gauges_t g = { .connections = 12, .connections_refused = 13, .reloads_ok = 14,
                             .reloads_failed = 15, .arms = 16, .learn_dropped = 17,
                             .log_written = 18, .log_dropped = 19, .log_failed = 20,
                             .log_files = 21 };
    arb_answer_pack_stats(&g_pk, &s, &g, "5-abcdefabcdef");
    const msgpack_object *m = af_unpacked(&g_up, &g_sb);
    static const char *const KEYS[] = {
        "requests", "errors", "connections", "connections_refused", "decisions", "rule_errors",
        "budget_stops", "fallbacks", "undeclared_touchpoints", "backpressure_pauses",
        "answer_failures", "partial_closes", "reloads", "decide_us", "ruleset",
        "state_failures", "state_retries", "learning", "log", NULL,
    };
    af_expect_keys(m, KEYS, "stats");
    static const char *const METHODS[] = { "ping", "stats", "ruleset", "decide", "decide_many",
                                           "reload", "track", "feedback", "customer", "forget",
                                           "learning", "other", NULL };
    af_expect_keys(val(m, 0), METHODS, "stats.requests");
    for (uint32_t i = 0; i < ARB_METHOD_COUNT; i++)
        expect_u64(val(val(m, 0), i), 100 + i, METHODS[i]);
    static const char *const CODES[] = { "invalid_request", "method_not_found", "invalid_params",
                                         "overloaded", "deadline_exceeded", "forbidden",
                                         "internal", "too_large", "unavailable", NULL };
    af_expect_keys(val(m, 1), CODES, "stats.errors");
    for (uint32_t i = 0; i < ARB_CODE_COUNT; i++) expect_u64(val(val(m, 1), i), 200 + i, CODES[i]);
    expect_u64(val(m, 2), 12, "connections");
    expect_u64(val(m, 3), 13, "connections_refused");
    for (uint32_t i = 4; i <= 11; i++) expect_u64(val(m, i), 301 + (i - 4), KEYS[i]);
    static const char *const RELOADS[] = { "ok", "failed", "abandoned", NULL };
    af_expect_keys(val(m, 12), RELOADS, "stats.reloads");
    expect_u64(val(m, 15), 310, "state_failures");
    expect_u64(val(m, 16), 311, "state_retries");
    static const char *const LEARNING[] = { "arms", "syncs", "sync_failures", "lost", "dropped",
                                            "feedback_unknown", NULL };
    af_expect_keys(val(m, 17), LEARNING, "stats.learning");
    const uint64_t learning[] = { 16, 312, 313, 314, 17, 315 };
    for (uint32_t i = 0; i < 6; i++) expect_u64(val(val(m, 17), i), learning[i], LEARNING[i]);
    static const char *const LOG[] = { "written", "dropped", "failed", "files", NULL };
    af_expect_keys(val(m, 18), LOG, "stats.log");
    for (uint32_t i = 0; i < 4; i++) expect_u64(val(val(m, 18), i), 18 + i, LOG[i]);
    expect_u64(val(val(m, 12), 0), 14, "reloads.ok");
    expect_u64(val(val(m, 12), 1), 15, "reloads.failed");
    expect_u64(val(val(m, 12), 2), 309, "reloads.abandoned");
    static const char *const QS[] = { "p50", "p99", "p999", NULL };
    const double q[] = { 0.5, 0.99, 0.999 };
    af_expect_keys(val(m, 13), QS, "stats.decide_us");
    for (uint32_t i = 0; i < 3; i++) {
        double want = (double)arb_stats_decide_quantile(&s, q[i]) / 1000.0;
        expect_f64(val(val(m, 13), i), want, QS[i]);
        cr_assert(want > 0, "%s: nothing recorded", QS[i]);
    }
    cr_assert(val(val(m, 13), 0)->via.f64 < val(val(m, 13), 2)->via.f64, "p50 < p999");
    cr_assert(af_str_is(val(m, 14), "5-abcdefabcdef"));
}

Test(answer, stats_before_anything_happened)
{
    static arb_stats_t s;
    memset(&s, 0, sizeof s);
    arb_stats_gauges_t g = { 0 };
    arb_answer_pack_stats(&g_pk, &s, &g, "");
    const msgpack_object *m = af_unpacked(&g_up, &g_sb);
    cr_assert_eq(m->via.map.size, 19);
    cr_assert_eq(val(m, 2)->via.i64, 0, "connections");
    for (uint32_t i = 0; i < 3; i++) expect_f64(val(val(m, 13), i), 0, "an empty quantile");
    cr_assert(af_str_is(val(m, 14), ""));
}
