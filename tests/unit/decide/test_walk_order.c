/* Differential test of decide.c's two walks of the candidates: with explain
 * every action is evaluated, in id order; without, a channel's unguarded
 * candidates go highest priority bound first (compile_index.c), and once
 * the floor (the limit-th best priority found) is above a candidate's bound
 * the rest of its stretch is passed over unread. Both must choose the same
 * actions with the same priorities, for any ruleset: random values (powers
 * of two, so that different products tie exactly), levers, fixed
 * propensities, models with and without a score in the context, bounded
 * weights, plain Lua functions, adaptive actions (a mean, no draw: settle =
 * 0), fallbacks, guarded actions, limits 1 to 3.
 *
 * A second test keeps the draws of adaptive actions that sample: each draw
 * takes the seeded sampler's next number, so they must be taken in id
 * order, as explain takes them. At a touchpoint with diversity nothing is
 * passed over (every eligible action may be needed), so there explain and
 * plain, seeded alike, must choose the same actions with the same draws.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/rulefix.h"

TestSuite(walk_order, .init = rf_setup, .fini = rf_teardown);

enum { RULESETS = 40, CONTEXTS = 40 };

/* The same rulesets and contexts on every run. */
static unsigned short rnd_state[3] = { 2026, 11, 30 };
static uint32_t rnd(uint32_t n) { return (uint32_t)nrand48(rnd_state) % n; }

static const char *const PROPENSITY[] = {
    "", "propensity = 0.5,", "propensity = 0.25,", "propensity = 0,", "model = 'm1',",
    "model = 'm2',", "model = 'm3',", "propensity = adaptive { prior = 0.5, settle = 0 },",
};
static const char *const WEIGHT[] = {
    "", "", "weight = 2,", "weight = boost(segment('s1'), 2),", "weight = min_of(attribute('x'), 4),",
    "weight = recency('tv', days(8)),", "weight = function(c) return 0.5 end,",
    "weight = boost(segment('s2'), 0.5, 2),",
};
static const char *const WHEN[] = {
    "", "", "", "when = segment('s1'),", "when = no(segment('s2')),", "when = attribute('x', above(1)),",
    "when = function(c) return c.attributes.x ~= 2 end,", "when = score('m1', above(0.3)),",
    "when = bought('tv', within(days(30))),", "when = bought('tv', within(days(5))),",
};
static const char *const LEVER[] = { "", "", "", "lever = 0.5,", "lever = 2," };

#define PICK(a) a[rnd(sizeof a / sizeof *a)]

/* Where the conditions that guard an action by a purchase start in WHEN. */
enum { GUARDED = 8 };

/* A random ruleset; drawing: a third of the actions are adaptive and
 * draw, the touchpoint web_home shows one action per category, and no
 * action is guarded by a purchase (the walk reaches those after the
 * others, explain in id order: their draws would come in another order). */
static char *ruleset_of(bool drawing)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert(f);
    fprintf(f, "models { 'm1', 'm2', 'm3' }\n%s\n",
            drawing ? "touchpoint 'web_home' { diverse = 'category' }" : "");
    uint32_t n = 5 + rnd(60);
    for (uint32_t i = 0; i < n; i++) {
        const char *p = drawing && !rnd(3) ? "propensity = adaptive { prior = 0.5 }," : PICK(PROPENSITY);
        fprintf(f, "%s 'a%03u' { channels = 'web', value = %u, category = 'c%u', %s %s %s %s }\n",
                rnd(12) ? "action" : "fallback", i, 1u << rnd(5), rnd(3), p, PICK(WEIGHT),
                WHEN[rnd(drawing ? GUARDED : sizeof WHEN / sizeof *WHEN)], PICK(LEVER));
    }
    cr_assert(fclose(f) == 0);
    for (char *c = buf; *c; c++)
        if (*c == '\'') *c = '"';
    return buf;
}

static char *ruleset(void) { return ruleset_of(false); }

static const char *const SCORE[] = { "0.25", "0.5", "0.75", "1", "0" };

/* A random context, without its braces' explain field. */
static char *context(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert(f);
    fprintf(f, "'limit': %u, 'scores': {", 1 + rnd(3));
    const char *sep = "";
    for (uint32_t m = 1; m <= 3; m++) {
        if (!rnd(3)) continue;   /* a model without a score: its actions say "no score" */
        fprintf(f, "%s'm%u': %s", sep, m, PICK(SCORE));
        sep = ", ";
    }
    fprintf(f, "}, 'attributes': {'x': %u, 'segments': [%s]}", rnd(6),
            rnd(2) ? "'s1'" : rnd(2) ? "'s2'" : "");
    if (rnd(2)) fprintf(f, ", 'purchases': [{'category': 'tv', 'ts': %lld}]", AGO_DAYS(rnd(40)));
    cr_assert(fclose(f) == 0);
    for (char *c = buf; *c; c++)
        if (*c == '\'') *c = '"';
    return buf;
}

/* The chosen actions of the last decision, "id=priority ...". */
static void chosen(char *out, size_t cap)
{
    const arb_decision_t *d = rf_decision(&R);
    cr_assert(d, "%s", R.err.message);
    out[0] = 0;
    for (uint32_t i = 0; i < d->n_actions; i++) {
        size_t at = strlen(out);
        snprintf(out + at, cap - at, "%s=%.17g/%.17g ", d->actions[i].id, d->actions[i].priority,
                 d->actions[i].propensity);
    }
}

Test(walk_order, explain_and_plain_choose_the_same_actions_and_priorities)
{
    uint32_t compared = 0, ties = 0;
    for (uint32_t s = 0; s < RULESETS; s++) {
        char *rules = ruleset();
        cr_assert(rf_load(&R, "a.lua", rules, NULL), "%s\n%s", rf_problems(&R), rules);
        for (uint32_t k = 0; k < CONTEXTS; k++) {
            char *ctx = context();
            char a[4096], b[4096];
            rf_decide(&R, "{'explain': true, %s}", ctx);
            chosen(a, sizeof a);
            /* Ties among the chosen and the outranked: what `<=` for `<` would break. */
            const arb_decision_t *d = rf_decision(&R);
            for (uint32_t i = 0; i < d->n_explain; i++)
                if (!d->explain[i].chosen && d->explain[i].eligible && d->n_actions &&
                    d->explain[i].priority == d->actions[d->n_actions - 1].priority)
                    ties++;
            rf_decide(&R, "{%s}", ctx);
            chosen(b, sizeof b);
            cr_assert_str_eq(b, a, "ruleset %u, context %s:\n%s", s, ctx, rules);
            compared++;
            free(ctx);
        }
        free(rules);
    }
    cr_assert_eq(compared, RULESETS * CONTEXTS);
    cr_assert_gt(ties, 100, "the rulesets should tie often (%u ties)", ties);
}

/* The decisions of the loaded ruleset over the contexts, with or without
 * explain, from the sampler seeded with 42, into out. */
static void decide_all(char **ctxs, bool explain, char *out, size_t cap)
{
    arb_decider_seed(R.d, 42);
    out[0] = 0;
    for (uint32_t k = 0; k < CONTEXTS; k++) {
        rf_decide(&R, "{'explain': %s, %s}", explain ? "true" : "false", ctxs[k]);
        size_t at = strlen(out);
        chosen(out + at, cap - at);
        strncat(out, "\n", cap - strlen(out) - 1);
    }
}

Test(walk_order, adaptive_actions_draw_in_id_order)
{
    static char a[1 << 16], b[1 << 16];
    uint32_t draws = 0;
    for (uint32_t s = 0; s < RULESETS; s++) {
        char *rules = ruleset_of(true);
        cr_assert(rf_load(&R, "a.lua", rules, NULL), "%s\n%s", rf_problems(&R), rules);
        char *ctxs[CONTEXTS];
        for (uint32_t k = 0; k < CONTEXTS; k++) ctxs[k] = context();
        decide_all(ctxs, true, a, sizeof a);
        decide_all(ctxs, false, b, sizeof b);
        cr_assert_str_eq(b, a, "ruleset %u:\n%s", s, rules);
        for (const char *p = a; (p = strchr(p, '/')); p++) {
            double x = strtod(p + 1, NULL);   /* not a fixed propensity nor a score: a draw */
            draws += x != 0 && x != 0.25 && x != 0.5 && x != 0.75 && x != 1;
        }
        for (uint32_t k = 0; k < CONTEXTS; k++) free(ctxs[k]);
        free(rules);
    }
    cr_assert_gt(draws, 100, "adaptive actions should be chosen with their draw (%u)", draws);
}
