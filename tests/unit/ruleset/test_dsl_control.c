/* Unit tests for control groups and experiments in the rule language
 * (dsl/prelude.lua, engine/ruleset/compile_control.c, ruleset.c): each
 * construct compiled to its value with its defaults, every mistake refused
 * at load as a problem at its file:line, the challenger loaded with the
 * champion (and again on every load), and the `ruleset` view of both.
 */
#include <criterion/criterion.h>

#include <string.h>
#include <sys/stat.h>

#include "engine/ruleset/compiled.h"
#include "engine/decide/policy.h"
#include "tests/support/rulefix.h"

TestSuite(dsl_control, .init = rf_setup, .fini = rf_teardown);

static const char *const CHAMPION =
    "control { share = 0.05, salt = 'holdout-2026', gets = 'nothing' }\n"
    "group 'promo' { cap = { 3, per = days(7) }, control = 0.2 }\n"
    "experiment 'spring_weights' { challenger = 'challenger', share = 0.5 }\n"
    "action 'a' { channels = { 'web' }, value = 1, control = 0.1 }\n"
    "action 'b' { channels = { 'web' }, value = 1, control = { share = 0.25, salt = 'b-2026' } }\n"
    "action 'c' { channels = { 'web' }, value = 1, group = 'promo' }\n"
    "action 'd' { channels = { 'web' }, value = 1 }\n";

static void challenger(const char *text)
{
    char path[128];
    snprintf(path, sizeof path, "%s/challenger", R.dir);
    mkdir(path, 0700);
    rf_write(&R, "challenger/a.lua", text);
}

/* A challenger folder holds what differs: the champion's other files
 * complete it, and the champion's experiment is not the challenger's own. */
Test(dsl_control, a_challenger_is_its_own_files_over_the_champions)
{
    char path[128];
    snprintf(path, sizeof path, "%s/challenger", R.dir);
    mkdir(path, 0700);
    rf_write(&R, "b.lua", "action 'radio' { channels = { 'web' }, value = 5 }\n");
    rf_write(&R, "challenger/b.lua", "action 'radio' { channels = { 'web' }, value = 99 }\n"
                                     "action 'new_tv' { channels = { 'web' }, value = 20 }\n");
    cr_assert(rf_load(&R, "a.lua", "experiment 'e' { challenger = 'challenger', share = 0.5 }\n"
                                   "action 'tv' { channels = { 'web' }, value = 10 }\n", NULL),
              "%s", rf_problems(&R));
    arb_experiment_view_t e;
    cr_assert(arb_ruleset_experiment(R.rs, &e));
    cr_expect_eq(arb_ruleset_action_count(R.rs), 2, "the champion: tv and radio");
    cr_expect_eq(arb_ruleset_action_count(e.challenger), 3, "the challenger: tv (the champion's), radio "
                                                            "and new_tv (its own)");
    const arb_action_t *radio = arb_policy_action(e.challenger, "radio");
    cr_assert_not_null(radio);
    cr_expect_eq(radio->value, 99, "the challenger's b.lua replaces the champion's");
}

static const arb_control_t *control_of(const char *id)
{
    for (uint32_t i = 0; i < R.rs->n_actions; i++)
        if (strcmp(R.rs->actions[i].id, id) == 0)
            return R.rs->action_control && R.rs->action_control[i] >= 0
                       ? &R.rs->controls[R.rs->action_control[i]] : NULL;
    cr_assert_fail("no action %s", id);
    return NULL;
}

Test(dsl_control, every_construct_compiles_to_its_value)
{
    challenger("action 'x' { channels = { 'web' }, value = 2 }\n");
    cr_assert(rf_load(&R, "a.lua", CHAMPION, NULL), "%s", rf_problems(&R));
    arb_control_view_t c;
    cr_assert(arb_ruleset_control(R.rs, &c));
    cr_expect_eq(c.share, 0.05);
    cr_expect_str_eq(c.salt, "holdout-2026");
    cr_expect_str_eq(c.gets, "nothing");
    const arb_control_t *a = control_of("a"), *b = control_of("b"), *cg = control_of("c");
    cr_assert(a && b && cg);
    cr_expect_eq(a->share, 0.1);
    cr_expect_str_eq(a->salt, "holdout-2026:a", "an action's salt defaults to <global>:<id>");
    cr_expect_str_eq(a->held_as, "action");
    cr_expect_str_eq(a->reason, "control: held out (10%)");
    cr_expect_str_eq(b->salt, "b-2026");
    cr_expect_eq(b->share, 0.25);
    cr_expect_str_eq(cg->salt, "holdout-2026:group:promo");
    cr_expect_str_eq(cg->held_as, "promo");
    cr_expect_str_eq(cg->reason, "control: group promo");
    cr_expect_null(control_of("d"));
    arb_experiment_view_t e;
    cr_assert(arb_ruleset_experiment(R.rs, &e));
    cr_expect_str_eq(e.name, "spring_weights");
    cr_expect_eq(e.share, 0.5);
    cr_expect_str_eq(e.salt, "holdout-2026:experiment:spring_weights");
    cr_expect_str_eq(e.challenger_dir, "challenger");
    cr_assert_not_null(e.challenger);
    cr_expect_eq(arb_ruleset_action_count(e.challenger), 1);
    /* The champion's loader reads only its own files, not the sub-folder's. */
    cr_expect_eq(arb_ruleset_action_count(R.rs), 4);
}

Test(dsl_control, defaults)
{
    cr_assert(rf_load(&R, "a.lua", "action 'd' { channels = { 'web' }, value = 1 }\n", NULL),
              "%s", rf_problems(&R));
    arb_control_view_t c;
    arb_experiment_view_t e;
    cr_expect_not(arb_ruleset_control(R.rs, &c), "no control declared");
    cr_expect_not(arb_ruleset_experiment(R.rs, &e));
    cr_assert(rf_load(&R, "a.lua", "control { share = 0.1 }\naction 'd' { channels = { 'web' }, value = 1, control = 0.3 }\n",
                      NULL), "%s", rf_problems(&R));
    cr_assert(arb_ruleset_control(R.rs, &c));
    cr_expect_str_eq(c.salt, "arbiter");
    cr_expect_str_eq(c.gets, "fallback");
    cr_expect_str_eq(control_of("d")->salt, "arbiter:d");
    cr_expect_str_eq(R.rs->control.reason, "control: global hold-out (10%)");
}

static void expect_problem(const char *text, const char *needle)
{
    cr_expect_not(rf_load(&R, "a.lua", text, NULL), "loaded: %s", text);
    cr_expect_not_null(rf_problem_with(&R, "a.lua:", needle, NULL), "want '%s' in:\n%s", needle,
                       rf_problems(&R));
}

#define ACT "action 'd' { channels = { 'web' }, value = 1 }\n"

Test(dsl_control, mistakes_are_problems_at_their_line)
{
    expect_problem("control { share = 1 }\n" ACT, "'share' must be below 1");
    expect_problem("control { share = -0.1 }\n" ACT, "'share' must be between 0 and 1");
    expect_problem("control { salt = 'x' }\n" ACT, "'share' is required");
    expect_problem("control { share = 0.1, gets = 'coupon' }\n" ACT, "'gets' must be \"fallback\" or \"nothing\"");
    expect_problem("control { share = 0.1, salt = '' }\n" ACT, "'salt' must not be empty");
    expect_problem("control { share = 0.1, sallt = 'x' }\n" ACT, "sallt");
    expect_problem("control { share = 0.1 }\ncontrol { share = 0.2 }\n" ACT, "at most one global control");
    expect_problem("action 'd' { channels = { 'web' }, value = 1, control = 'half' }\n",
                   "'control' must be a share");
    expect_problem("action 'd' { channels = { 'web' }, value = 1, control = 1.5 }\n",
                   "'control' must be between 0 and 1");
    expect_problem("action 'd' { channels = { 'web' }, value = 1, control = { salt = 'x' } }\n",
                   "'share' is required");
    expect_problem("group 'g' { cap = { 1, per = days(1) }, control = { share = 0.1, shar = 1 } }\n" ACT,
                   "shar");
    expect_problem("experiment 'e' { share = 0.5 }\n" ACT, "'challenger' is required");
    expect_problem("experiment 'e' { challenger = '../other', share = 0.5 }\n" ACT,
                   "must be a sub-folder");
    expect_problem("experiment 'e' { challenger = '/etc', share = 0.5 }\n" ACT, "must be a sub-folder");
    expect_problem("experiment 'e' { challenger = 'c', share = 1 }\n" ACT, "'share' must be below 1");
}

Test(dsl_control, a_missing_challenger_folder_fails_the_load)
{
    cr_expect_not(rf_load(&R, "a.lua", "experiment 'e' { challenger = 'nowhere', share = 0.5 }\n" ACT, NULL));
    cr_expect_not_null(rf_problem_with(&R, "nowhere", NULL), "%s", rf_problems(&R));
}

Test(dsl_control, a_challenger_may_not_declare_an_experiment)
{
    challenger("experiment 'inner' { challenger = 'x', share = 0.1 }\n" ACT);
    cr_expect_not(rf_load(&R, "a.lua", "experiment 'e' { challenger = 'challenger', share = 0.5 }\n" ACT, NULL));
    cr_expect_not_null(rf_problem_with(&R, "challenger/a.lua:", "may not declare its own experiment", NULL),
                       "%s", rf_problems(&R));
}

Test(dsl_control, a_second_experiment_is_refused)
{
    challenger(ACT);
    expect_problem("experiment 'e' { challenger = 'challenger', share = 0.5 }\n"
                   "experiment 'f' { challenger = 'challenger', share = 0.5 }\n" ACT,
                   "a second experiment");
}

Test(dsl_control, a_load_loads_the_challenger_again)
{
    challenger("action 'x' { channels = { 'web' }, value = 2 }\n");
    cr_assert(rf_load(&R, "a.lua", "experiment 'e' { challenger = 'challenger', share = 0.5 }\n" ACT, NULL),
              "%s", rf_problems(&R));
    arb_experiment_view_t e;
    cr_assert(arb_ruleset_experiment(R.rs, &e));
    char before[48], champion_before[48];
    snprintf(before, sizeof before, "%s", arb_ruleset_version(e.challenger));
    snprintf(champion_before, sizeof champion_before, "%s", arb_ruleset_version(R.rs));
    cr_expect_eq(arb_ruleset_action_count(e.challenger), 1);
    challenger("action 'x' { channels = { 'web' }, value = 2 }\naction 'y' { channels = { 'web' }, value = 3 }\n");
    cr_assert(rf_reload(&R), "%s", rf_problems(&R));
    cr_assert(arb_ruleset_experiment(R.rs, &e));
    cr_expect_eq(arb_ruleset_action_count(e.challenger), 2, "the changed challenger was read");
    /* Versions: "<seq>-<checksum>": compare the checksum parts. */
    cr_expect_str_neq(strchr(arb_ruleset_version(e.challenger), '-'), strchr(before, '-'));
    cr_expect_str_neq(strchr(arb_ruleset_version(R.rs), '-'), strchr(champion_before, '-'),
                      "the champion's version names its challenger's files too");
    /* A broken challenger fails the whole load. */
    challenger("action 'x' { channels = { 'web' }, valu = 2 }\n");
    cr_expect_not(rf_reload(&R));
    cr_expect_not_null(rf_problem_with(&R, "challenger/a.lua:", "valu", NULL), "%s", rf_problems(&R));
}
