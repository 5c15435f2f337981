/* The answer of a decision is the same bytes as before issue 19 made the
 * writer gather it into one write (engine/wire/answer.c, base/pack.h's
 * arb_packbuf_t): every decision here is packed by today's writer and by
 * the old one kept in tests/support/answer_ref.c, and the bytes compared.
 *
 * The decisions: the benchmark's 1,000 contexts decided on its reference
 * ruleset (tests/bench/gen_rules, written to a temp folder), with explain
 * off and on, and on its adaptive variant with a learned arm for every
 * action (evidence and Thompson draws in explain); and hand-made ones for
 * what the benchmark never makes: an experiment, a control group, explained
 * products, text that is not UTF-8, strings and payloads longer than the
 * writer's room. (Every rule test's decision is compared too, in rulefix.c.)
 * Last, the server's writer (wire/rpc.c) still refuses an answer past its
 * limit when the answer arrives in one piece.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/base/arena.h"
#include "engine/base/stats.h"
#include "engine/decide/decide.h"
#include "engine/learn/learner.h"
#include "engine/request/arm.h"
#include "engine/ruleset/compiled.h"
#include "engine/ruleset/ruleset.h"
#include "engine/wire/answer.h"
#include "engine/wire/rpc.h"
#include "tests/support/answer_ref.h"

TestSuite(answer_same);

/* ---- the benchmark's contexts ------------------------------------------ */

typedef struct bench {
    char dir[64];
    arb_ruleset_t *rs;
    char *data;                  /* contexts.msgpack */
    msgpack_unpacked *ctx;
    size_t n;
} bench_t;

static void bench_load(bench_t *b, const char *flags)
{
    strcpy(b->dir, "/tmp/arb_answer_same_XXXXXX");
    cr_assert_not_null(mkdtemp(b->dir));
    char cmd[256];
    snprintf(cmd, sizeof cmd, "python3 tests/bench/gen_rules tests/bench/catalog.json %s/rules "
             "--copies 1 %s", b->dir, flags);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    char rules[96];
    snprintf(rules, sizeof rules, "%s/rules", b->dir);
    arb_problems_t problems = { 0 };
    b->rs = arb_ruleset_load(rules, 1, &problems);
    cr_assert_not_null(b->rs, "%s", problems.n ? problems.items[0] : "?");
    arb_problems_free(&problems);

    FILE *f = fopen("tests/bench/contexts.msgpack", "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    size_t len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    b->data = malloc(len);
    cr_assert_eq(fread(b->data, 1, len, f), len);
    fclose(f);
    b->ctx = calloc(2000, sizeof *b->ctx);
    size_t off = 0;
    while (b->n < 2000) {
        msgpack_unpacked_init(&b->ctx[b->n]);
        if (msgpack_unpack_next(&b->ctx[b->n], b->data, len, &off) != MSGPACK_UNPACK_SUCCESS) break;
        b->n++;
    }
    cr_assert_eq(b->n, 1000, "the benchmark's contexts");
}

static void bench_free(bench_t *b)
{
    for (size_t i = 0; i <= b->n; i++) msgpack_unpacked_destroy(&b->ctx[i]);
    free(b->ctx);
    free(b->data);
    arb_ruleset_free(b->rs);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", b->dir);
    cr_assert_eq(system(cmd), 0);
}

/* Decide every context on d with explain as said and compare the answers.
 * Returns the largest answer's size; *learned counts explain entries with
 * learned evidence. */
static size_t decide_all(bench_t *b, arb_decider_t *d, bool explain, size_t *learned)
{
    arb_arena_t arena;
    arb_arena_init(&arena);
    arb_stats_t stats;
    memset(&stats, 0, sizeof stats);
    arb_decider_force_explain(d, explain);
    size_t largest = 0, chosen = 0;
    for (size_t i = 0; i < b->n; i++) {
        arb_err_t err;
        const arb_decision_t *dec = arb_decide(d, b->rs, &b->ctx[i].data, NULL, &arena, &stats, &err);
        cr_assert_not_null(dec, "context %zu: %s", i + 1, err.message);
        cr_assert_eq(dec->explain != NULL, explain);
        chosen += dec->n_actions;
        for (uint32_t k = 0; learned && k < dec->n_explain; k++) *learned += !!dec->explain[k].learned;
        size_t size = ar_expect_same(dec);
        if (size > largest) largest = size;
        arb_arena_reset(&arena);
    }
    cr_assert_gt(chosen, b->n, "the contexts choose actions");
    arb_arena_free(&arena);
    return largest;
}

Test(answer_same, the_benchmarks_contexts_with_and_without_explain)
{
    bench_t b = { 0 };
    bench_load(&b, "");
    arb_decider_t *d = arb_decider_new();
    size_t plain = decide_all(&b, d, false, NULL);
    size_t explained = decide_all(&b, d, true, NULL);
    /* An explained answer of 100 actions passes the writer's room: the
     * writes of a full room are compared too. */
    cr_expect_gt(explained, sizeof(((arb_packbuf_t *)0)->room), "largest %zu", explained);
    cr_expect_gt(plain, 0);
    arb_decider_free(d);
    bench_free(&b);
}

Test(answer_same, the_benchmarks_adaptive_ruleset_with_an_arm_for_every_action)
{
    bench_t b = { 0 };
    bench_load(&b, "--adaptive");
    arb_learner_options_t opt = { 10000000, 64 };
    arb_learner_t *l = arb_learner_new(&opt);
    const arb_ruleset_t *rs = b.rs;
    size_t n = (size_t)rs->n_actions * (size_t)rs->n_channels, k = 0;
    arb_arm_t *arms = calloc(n, sizeof *arms);
    for (uint32_t i = 0; i < rs->n_actions; i++)
        for (int c = 0; c < rs->n_channels; c++)
            arms[k++] = (arb_arm_t){ rs->actions[i].id, rs->channels[c], ARB_ARM_POOLED,
                                     i % 7 ? 30 : 3000, i % 7 ? 300 : 30000, (int64_t)time(NULL) };
    arb_arms_snap_t *snap = arb_learner_absorb(l, arms, k);
    free(arms);
    arb_decider_t *d = arb_decider_new();
    arb_decider_set_arms(d, snap);
    arb_decider_seed(d, 42);
    size_t learned = 0;
    decide_all(&b, d, false, NULL);
    decide_all(&b, d, true, &learned);
    cr_expect_gt(learned, 1000, "explain shows learned evidence: %zu entries", learned);
    arb_decider_free(d);
    arb_arms_snap_release(snap);
    arb_learner_free(l);
    bench_free(&b);
}

/* ---- what the benchmark never makes ------------------------------------ */

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* An action entry packed as the loader packs it (compile_decl.c), its
 * payload a str of payload_len bytes, rendered for the decision or not. */
typedef struct {
    msgpack_sbuffer head, tail, payload;
} entry_t;

static void entry_make(entry_t *e, arb_decided_action_t *a, const char *id, size_t payload_len,
                       bool rendered)
{
    msgpack_sbuffer_init(&e->head);
    msgpack_sbuffer_init(&e->tail);
    msgpack_sbuffer_init(&e->payload);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &e->head, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    msgpack_pack_str_with_body(&pk, "id", 2);
    msgpack_pack_str_with_body(&pk, id, strlen(id));
    msgpack_pack_str_with_body(&pk, "priority", 8);
    msgpack_packer_init(&pk, &e->tail, msgpack_sbuffer_write);
    msgpack_pack_str_with_body(&pk, "value", 5);
    msgpack_pack_double(&pk, 12.5);
    msgpack_pack_str_with_body(&pk, "payload", 7);
    msgpack_packer_init(&pk, rendered ? &e->payload : &e->tail, msgpack_sbuffer_write);
    char *body = repeat('p', payload_len);
    msgpack_pack_str_with_body(&pk, body, payload_len);
    free(body);
    *a = (arb_decided_action_t){ .id = id, .priority = 3.25, .propensity = 0.125, .value = 12.5,
                                 .head = e->head.data, .head_len = e->head.size,
                                 .tail = e->tail.data, .tail_len = e->tail.size,
                                 .payload = e->payload.data, .payload_len = e->payload.size,
                                 .payload_rendered = rendered };
}

static void entry_free(entry_t *e)
{
    msgpack_sbuffer_destroy(&e->head);
    msgpack_sbuffer_destroy(&e->tail);
    msgpack_sbuffer_destroy(&e->payload);
}

Test(answer_same, experiments_control_products_bad_text_and_long_strings)
{
    /* Long enough to need str8, str16 heads and more than the room. */
    char *id40 = repeat('i', 40), *ver300 = repeat('v', 300), *long_reason = repeat('r', 9000);
    long_reason[4090] = '\xff';   /* not UTF-8, where the room fills */
    long_reason[8000] = '\xc3';
    entry_t e[4];
    arb_decided_action_t acts[4];
    entry_make(&e[0], &acts[0], "small", 10, false);
    entry_make(&e[1], &acts[1], "rendered_big", 6000, true);
    entry_make(&e[2], &acts[2], id40, 70000, false);   /* str32 head, past the room */
    entry_make(&e[3], &acts[3], "rendered_small", 300, true);
    const arb_explained_product_t products[] = {
        { "sku-1", 0.75, true, "chosen" }, { "sku-\xfe", NAN, false, "owned" },
        { "sku-3", 0.5, false, "diversity" },
    };
    const arb_learned_t pooled = { "", 3, 30, 0.1, 0.1, NAN };
    const arb_learned_t seg = { "gold\xff", 80, 100, 0.05, 0.75, 0.7125 };
    enum { NX = 300 };
    arb_explained_t *x = calloc(NX, sizeof *x);
    for (int i = 0; i < NX; i++) {
        x[i] = (arb_explained_t){ .id = i % 2 ? "odd" : id40, .chosen = i % 3 == 0,
                                  .reason = i == 7 ? long_reason : i % 2 ? "when" : "outranked",
                                  .eligible = i % 2 == 0, .priority = i, .propensity = 0.5,
                                  .propensity_from = i % 4 ? NULL : "score: m\x80",
                                  .value = 10, .weight = i % 2 ? NAN : 2, .lever = 1 };
        if (i % 5 == 0) x[i].learned = i % 10 ? &pooled : &seg;
        if (i % 6 == 2) x[i].lost_to = "limit", x[i].lost_to_priority = NAN;
        if (i % 6 == 4) x[i].lost_to = "small", x[i].lost_to_priority = 4, x[i].lost_by = 0.5;
        if (i % 2) x[i].failed = i == 9 ? long_reason : "bought(\"tv\")";
        if (i % 11 == 0) x[i].products = products, x[i].n_products = 3;
    }
    arb_decision_t d = { .decision_id = "0123456789abcdef-ff", .decision_id_len = 19,
                         .ruleset = ver300, .actions = acts, .n_actions = 4,
                         .elapsed_us = 70000, .group = "control",
                         .experiment = "spring\xe9", .arm = "challenger" };
    cr_expect_gt(ar_expect_same(&d), 70000);
    d.explain = x;
    d.n_explain = NX;
    cr_expect_gt(ar_expect_same(&d), 100000);
    d.experiment = NULL;
    d.group = NULL;
    d.ruleset = id40;
    d.elapsed_us = UINT64_MAX;
    ar_expect_same(&d);
    d.n_actions = 0;
    d.n_explain = 0;
    ar_expect_same(&d);
    for (int i = 0; i < 4; i++) entry_free(&e[i]);
    free(x);
    free(id40);
    free(ver300);
    free(long_reason);
}

/* The server's writer checks its limit per write: an answer arriving in one
 * write is refused whole past it, and stands whole within it. */
Test(answer_same, the_servers_limit_still_refuses_an_answer_past_it)
{
    entry_t e;
    arb_decided_action_t act;
    entry_make(&e, &act, "a", 100, false);
    arb_decision_t d = { .decision_id = "0123456789abcdef-1", .decision_id_len = 18,
                         .ruleset = "1-0", .actions = &act, .n_actions = 1 };
    size_t size = ar_expect_same(&d);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_sbuffer_write(&buf, "xyz", 3);   /* an earlier answer on the connection */
    arb_answer_t a;
    msgpack_packer pk;
    arb_answer_begin(&a, &buf, size - 1);
    msgpack_packer_init(&pk, &a, arb_answer_write);
    arb_answer_pack_decision(&pk, &d);
    cr_expect_eq(a.failed, ARB_ANSWER_TOO_LARGE);
    arb_answer_rewind(&a);
    cr_expect_eq(buf.size, 3);
    arb_answer_begin(&a, &buf, size);
    arb_answer_pack_decision(&pk, &d);
    cr_expect_eq(a.failed, ARB_ANSWER_OK);
    cr_expect_eq(buf.size, 3 + size);
    msgpack_sbuffer_destroy(&buf);
    entry_free(&e);
}
