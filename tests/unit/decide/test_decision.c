/* Unit tests for the decision as a value (engine/decision.h) and for the
 * answer writer (engine/answer.c): arb_decide returns what it chose (ids,
 * priorities, the numbers, explain reasons) without packing anything, and
 * answer.c turns a decision into exactly the bytes the server has always
 * sent, checked here against msgpack packed independently of it.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tests/support/rulefix.h"

TestSuite(decision, .init = rf_setup, .fini = rf_teardown);

static void load_three(void)
{
    cr_assert(rf_load(&R, "a.lua",
                      "models { 'm' }\n"
                      "action 'scored' { channels = { 'web' }, value = 40, lever = 1.5, model = 'm', weight = 0.5 }\n"
                      "action 'fixed' { channels = { 'web' }, value = 10, lever = 3, propensity = 0.2 }\n"
                      "action 'never' { channels = { 'web' }, value = 99, when = function(c) return false end }\n"
                      "action 'plain' { channels = { 'web' }, value = 7, payload = { template = 'grid', n = 3 } }\n"
                      "action 'app' { channels = { 'app' }, value = 1000 }\n",
                      NULL),
              "%s", rf_problems(&R));
}

static const arb_explained_t *explained(const arb_decision_t *d, const char *id)
{
    for (uint32_t i = 0; i < d->n_explain; i++)
        if (strcmp(d->explain[i].id, id) == 0) return &d->explain[i];
    return NULL;
}

Test(decision, arb_decide_returns_the_chosen_actions_as_values)
{
    load_three();
    rf_decide(&R, "{'scores':{'m':0.25}}");
    const arb_decision_t *d = R.decision;
    cr_assert_not_null(d);
    cr_assert_eq(d->n_actions, 3, "%s", rf_dump(&R));
    cr_expect_str_eq(d->actions[0].id, "scored");
    cr_expect_str_eq(d->actions[1].id, "plain");
    cr_expect_str_eq(d->actions[2].id, "fixed");
    cr_expect_eq(d->actions[0].priority, 0.25 * 40 * 0.5 * 1.5);
    cr_expect_eq(d->actions[0].propensity, 0.25);
    cr_expect_eq(d->actions[0].value, 40);
    cr_expect_eq(d->actions[2].priority, 0.2 * 10 * 1 * 3);
    cr_expect_eq(d->actions[2].propensity, 0.2);
    cr_expect_str_eq(d->ruleset, arb_ruleset_version(R.rs));
    cr_expect_eq(strlen(d->decision_id), d->decision_id_len);
    cr_expect_eq(d->decision_id_len, 18, "16 hex, '-', counter 1: %s", d->decision_id);
    cr_expect_null(d->explain, "no explain unless asked");
    cr_expect_eq(d->n_explain, 0);
}

Test(decision, a_payload_is_its_msgpack_bytes_prepared_at_load)
{
    load_three();
    rf_decide(&R, "{'scores':{'m':0.25}}");
    const arb_decided_action_t *plain = rf_chosen_action(&R, "plain");
    cr_assert_not_null(plain);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&u, plain->payload, plain->payload_len, &off), MSGPACK_UNPACK_SUCCESS);
    cr_expect_eq(off, plain->payload_len, "the span is the payload, whole");
    cr_expect(rf_str_is(rf_get(&u.data, "template"), "grid"));
    cr_expect_eq(rf_num(rf_get(&u.data, "n")), 3);
    msgpack_unpacked_destroy(&u);
    const arb_decided_action_t *fixed = rf_chosen_action(&R, "fixed");
    cr_assert(fixed && fixed->payload_len == 1);
    cr_expect_eq((unsigned char)fixed->payload[0], 0xc0, "no payload: a nil");
}

Test(decision, explain_entries_carry_reason_and_the_numbers_computed)
{
    load_three();
    rf_decide(&R, "{'scores':{'m':0.25},'explain':true,'limit':1}");
    const arb_decision_t *d = R.decision;
    cr_assert_eq(d->n_actions, 1);
    cr_assert_not_null(d->explain);
    cr_assert_eq(d->n_explain, 5, "every action of the ruleset");
    const arb_explained_t *s = explained(d, "scored"), *f = explained(d, "fixed"),
                          *n = explained(d, "never"), *a = explained(d, "app");
    cr_assert(s && f && n && a);
    cr_expect(s->chosen);
    cr_expect_str_eq(s->reason, "chosen");
    cr_expect(s->eligible);
    cr_expect_eq(s->priority, 0.25 * 40 * 0.5 * 1.5);
    cr_expect_eq(s->propensity, 0.25);
    cr_expect_not(f->chosen);
    cr_expect_str_eq(f->reason, "outranked");
    cr_expect(f->eligible);
    cr_expect_eq(f->priority, 0.2 * 10 * 1 * 3);
    cr_expect_not(n->chosen);
    cr_expect_str_eq(n->reason, "when");
    cr_expect_not(n->eligible);
    cr_expect(isnan(n->priority));
    cr_expect_str_eq(a->reason, "channel");
    cr_expect_not(a->eligible);
    for (uint32_t i = 1; i < d->n_explain; i++)
        cr_expect(strcmp(d->explain[i - 1].id, d->explain[i].id) < 0, "id order");
}

/* Pack, independently of answer.c, the bytes a decision has always been. */
static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

Test(decision, the_answer_writer_packs_exactly_the_answer_bytes)
{
    /* One action's constant parts, as the ruleset prepares them at load. */
    msgpack_sbuffer head, tail, want, got;
    msgpack_sbuffer_init(&head);
    msgpack_sbuffer_init(&tail);
    msgpack_sbuffer_init(&want);
    msgpack_sbuffer_init(&got);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &head, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    pack_str(&pk, "id");
    pack_str(&pk, "tv");
    pack_str(&pk, "priority");
    msgpack_packer_init(&pk, &tail, msgpack_sbuffer_write);
    pack_str(&pk, "value");
    msgpack_pack_double(&pk, 12.5);
    pack_str(&pk, "payload");
    msgpack_pack_nil(&pk);

    arb_decided_action_t act = { .id = "tv", .priority = 6.25, .propensity = 0.5, .value = 12.5,
                                 .payload = tail.data + tail.size - 1, .payload_len = 1,
                                 .head = head.data, .head_len = head.size,
                                 .tail = tail.data, .tail_len = tail.size };
    arb_explained_t ex[2] = { { .id = "radio", .chosen = false, .reason = "bad \xff" },
                              { .id = "tv", .chosen = true, .reason = "chosen", .eligible = true,
                                .priority = 6.25, .propensity = 0.5,
                                .propensity_from = "score: tv", .value = 12.5, .weight = 1,
                                .lever = 1 } };
    arb_decision_t dec = { .decision_id = "0123456789abcdef-2a", .decision_id_len = 19,
                           .ruleset = "v1", .actions = &act, .n_actions = 1,
                           .explain = ex, .n_explain = 2, .elapsed_us = 300, .group = "control" };
    msgpack_packer_init(&pk, &got, msgpack_sbuffer_write);
    arb_answer_pack_decision(&pk, &dec);

    msgpack_packer_init(&pk, &want, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    pack_str(&pk, "decision_id");
    pack_str(&pk, "0123456789abcdef-2a");
    pack_str(&pk, "ruleset");
    pack_str(&pk, "v1");
    pack_str(&pk, "group");
    pack_str(&pk, "control");
    pack_str(&pk, "actions");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 5);
    pack_str(&pk, "id");
    pack_str(&pk, "tv");
    pack_str(&pk, "priority");
    msgpack_pack_double(&pk, 6.25);
    pack_str(&pk, "propensity");
    msgpack_pack_double(&pk, 0.5);
    pack_str(&pk, "value");
    msgpack_pack_double(&pk, 12.5);
    pack_str(&pk, "payload");
    msgpack_pack_nil(&pk);
    pack_str(&pk, "explain");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_map(&pk, 6);
    pack_str(&pk, "id");
    pack_str(&pk, "radio");
    pack_str(&pk, "chosen");
    msgpack_pack_false(&pk);
    pack_str(&pk, "reason");
    pack_str(&pk, "bad \\xFF");   /* reasons reach the client as UTF-8 */
    pack_str(&pk, "propensity_from");
    pack_str(&pk, "fixed");
    pack_str(&pk, "value");
    msgpack_pack_double(&pk, 0);
    pack_str(&pk, "lever");
    msgpack_pack_double(&pk, 0);
    msgpack_pack_map(&pk, 9);
    pack_str(&pk, "id");
    pack_str(&pk, "tv");
    pack_str(&pk, "chosen");
    msgpack_pack_true(&pk);
    pack_str(&pk, "reason");
    pack_str(&pk, "chosen");
    pack_str(&pk, "propensity_from");
    pack_str(&pk, "score: tv");
    pack_str(&pk, "value");
    msgpack_pack_double(&pk, 12.5);
    pack_str(&pk, "lever");
    msgpack_pack_double(&pk, 1);
    pack_str(&pk, "propensity");
    msgpack_pack_double(&pk, 0.5);
    pack_str(&pk, "weight");
    msgpack_pack_double(&pk, 1);
    pack_str(&pk, "priority");
    msgpack_pack_double(&pk, 6.25);
    pack_str(&pk, "elapsed_us");
    msgpack_pack_uint64(&pk, 300);

    cr_expect_eq(got.size, want.size);
    cr_expect(got.size == want.size && memcmp(got.data, want.data, got.size) == 0,
              "the answer's bytes differ from the expected msgpack");

    /* Without explain: five keys, no explain. */
    dec.explain = NULL;
    dec.n_explain = 0;
    got.size = 0;
    msgpack_packer_init(&pk, &got, msgpack_sbuffer_write);
    arb_answer_pack_decision(&pk, &dec);
    cr_expect_eq((unsigned char)got.data[0], 0x85, "a map of 5");

    msgpack_sbuffer_destroy(&head);
    msgpack_sbuffer_destroy(&tail);
    msgpack_sbuffer_destroy(&want);
    msgpack_sbuffer_destroy(&got);
}

Test(decision, a_real_decision_packs_its_values)
{
    load_three();
    arb_decider_force_explain(R.d, true);
    rf_decide(&R, "{'scores':{'m':0.25}}");
    const arb_decision_t *d = R.decision;
    cr_expect(rf_str_is(rf_get(R.dec, "decision_id"), d->decision_id));
    cr_expect(rf_str_is(rf_get(R.dec, "ruleset"), d->ruleset));
    cr_expect_eq(rf_num(rf_get(R.dec, "elapsed_us")), (double)d->elapsed_us);
    const msgpack_object *acts = rf_get(R.dec, "actions");
    cr_assert(acts && acts->via.array.size == d->n_actions);
    for (uint32_t i = 0; i < d->n_actions; i++) {
        const msgpack_object *a = &acts->via.array.ptr[i];
        cr_expect(rf_str_is(rf_get(a, "id"), d->actions[i].id));
        cr_expect_eq(rf_num(rf_get(a, "priority")), d->actions[i].priority);
        cr_expect_eq(rf_num(rf_get(a, "propensity")), d->actions[i].propensity);
        cr_expect_eq(rf_num(rf_get(a, "value")), d->actions[i].value);
    }
    const msgpack_object *ex = rf_get(R.dec, "explain");
    cr_assert(ex && ex->via.array.size == d->n_explain);
    for (uint32_t i = 0; i < d->n_explain; i++)
        cr_expect(rf_str_is(rf_get(&ex->via.array.ptr[i], "reason"), d->explain[i].reason));
}

/* The decider remembers which symbol each score and consent name had in
 * the last request (eval.c sym_guess); a ruleset that numbers the same
 * names differently must still read each score and consent by its name. */
static const char *const renumbered[2] = {
    "models { 'ma', 'mb' }\n"
    "action 'a' { channels = { 'web' }, model = 'ma', value = 1, requires = { 'email' } }\n"
    "action 'b' { channels = { 'web' }, model = 'mb', value = 1, requires = { 'sms' } }\n",
    "models { 'mz', 'mb', 'ma' }\n"
    "action 'z' { channels = { 'web' }, model = 'mz', value = 1, requires = { 'sms' } }\n"
    "action 'b' { channels = { 'web' }, model = 'mb', value = 1, requires = { 'sms', 'email' } }\n"
    "action 'a' { channels = { 'web' }, model = 'ma', value = 1, requires = { 'email' } }\n",
};

Test(decision, scores_and_consents_are_read_by_name_when_a_reload_renumbers_them)
{
    const char *ctx = "{'scores':{'ma':0.75,'mb':0.25},'consent':{'email':true,'sms':false}}";
    for (int i = 0; i < 2; i++) {   /* the same decider, one ruleset then the other */
        cr_assert(rf_load(&R, "a.lua", renumbered[i], NULL), "%s", rf_problems(&R));
        rf_decide(&R, ctx);
        cr_expect_str_eq(rf_ids(&R), "a", "ruleset %d: %s", i, rf_dump(&R));
        cr_expect_eq(rf_priority(&R, "a"), 0.75);
    }
    rf_decide(&R, "{'scores':{'ma':0.5,'mb':0.25,'mz':0.125},'consent':{'email':true,'sms':true}}");
    cr_expect_str_eq(rf_ids(&R), "a,b,z", "%s", rf_dump(&R));
    cr_expect_eq(rf_priority(&R, "z"), 0.125);
}

/* A run of candidates guarded by one purchase is passed over at once
 * (decide.c run_below) only when its narrowest window still reaches the
 * purchase: past it the walk stops, and what it never reached is not
 * counted as considered. */
Test(decision, a_run_of_guarded_actions_is_passed_over_only_within_its_windows)
{
    char rules[2048];
    size_t len = (size_t)snprintf(rules, sizeof rules, "action 'top' { channels = { 'web' }, value = 100 }\n");
    for (int i = 0; i < 8; i++)   /* windows 40, 35, ... 5 days: 6 reach a purchase 12 days old */
        len += (size_t)snprintf(rules + len, sizeof rules - len,
                                "action 'g%d' { channels = { 'web' }, value = 1,"
                                " when = bought('c1', within(days(%d))) }\n", i, 40 - 5 * i);
    cr_assert(rf_load(&R, "a.lua", rules, NULL), "%s", rf_problems(&R));
    uint64_t before = arb_decider_considered(R.d);
    rf_decide(&R, "{'limit':1,'purchases':[{'category':'c1','ts':%lld}]}", AGO_DAYS(12));
    cr_expect_str_eq(rf_ids(&R), "top", "%s", rf_dump(&R));
    cr_expect_eq(arb_decider_considered(R.d) - before, 7, "top and the 6 windows that reach");
}
