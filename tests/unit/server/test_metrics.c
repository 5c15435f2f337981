/* The /metrics renderer (engine/server/metrics.c) on snapshots: every
 * family with HELP and TYPE, the histogram cumulative and consistent,
 * label values escaped and made UTF-8, the bounded series (channels x
 * touchpoints, the top actions and "(other)"), checked by a validator that
 * is not the renderer's (tests/support/expocheck.c). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "engine/server/metrics.h"
#include "tests/support/expocheck.h"

static arb_metrics_snap_t *snap(void)
{
    arb_metrics_snap_t *m = calloc(1, sizeof *m);
    cr_assert_not_null(m);
    m->rss_bytes = 1 << 20;
    m->open_fds = 7;
    m->start_time_s = 1.7e9;
    return m;
}

static char *render_ok(const arb_metrics_snap_t *m)
{
    size_t len = 0;
    char *t = arb_metrics_render(m, &len);
    cr_assert_not_null(t);
    cr_assert_eq(strlen(t), len);
    char why[512];
    cr_assert_eq(arb_expo_check(t, len, why, sizeof why), 0, "%s\n%s", why, t);
    return t;
}

static void has(const char *t, const char *s)
{
    cr_assert_not_null(strstr(t, s), "missing %s in\n%s", s, t);
}

Test(metrics, every_family_has_help_and_type)
{
    arb_metrics_snap_t *m = snap();
    char *t = render_ok(m);
    static const char *const fam[] = {
        "arbiter_requests_total counter", "arbiter_errors_total counter",
        "arbiter_decide_duration_seconds histogram", "arbiter_decisions_total counter",
        "arbiter_store_duration_seconds histogram",
        "arbiter_actions_chosen_total counter", "arbiter_fallbacks_total counter",
        "arbiter_rule_errors_total counter", "arbiter_budget_stops_total counter",
        "arbiter_policy_refusals_total counter", "arbiter_store_failures_total counter",
        "arbiter_log_dropped_total counter", "arbiter_reloads_total counter",
        "arbiter_ruleset_info gauge", "arbiter_connections gauge",
        "process_resident_memory_bytes gauge", "process_open_fds gauge",
        "process_start_time_seconds gauge",
    };
    for (size_t i = 0; i < sizeof fam / sizeof *fam; i++) {
        char line[200];
        snprintf(line, sizeof line, "# TYPE %s\n", fam[i]);
        has(t, line);
        char name[120];
        snprintf(name, sizeof name, "# HELP %.*s ", (int)(strchr(fam[i], ' ') - fam[i]), fam[i]);
        has(t, name);
    }
    /* No ruleset: no info series, no per-ruleset series but "(other)". */
    cr_assert_null(strstr(t, "arbiter_ruleset_info{"));
    free(t);
    free(m);
}

Test(metrics, counters_and_the_histogram)
{
    arb_metrics_snap_t *m = snap();
    atomic_store(&m->sum.requests[ARB_METHOD_DECIDE], 12);
    atomic_store(&m->sum.errors_by[ARB_METHOD_DECIDE][ARB_INVALID_PARAMS], 3);
    atomic_store(&m->sum.decide_le[0], 5);                      /* <= 25us */
    atomic_store(&m->sum.decide_le[5], 2);                      /* <= 1ms */
    atomic_store(&m->sum.decide_le[ARB_DECIDE_LE_FINITE], 1);   /* > 25ms */
    atomic_store(&m->sum.decide_sum_ns, 1500000000);
    atomic_store(&m->sum.policy_refusals, 4);
    atomic_store(&m->sum.store_le[2], 6);                       /* <= 100us */
    atomic_store(&m->sum.store_sum_ns, 300000);
    m->reloads_ok = 2;
    m->log_dropped = 9;
    m->connections = 17;
    char *t = render_ok(m);
    cr_assert_eq(arb_expo_value(t, "arbiter_requests_total{method=\"decide\"}"), 12);
    cr_assert_eq(arb_expo_value(t, "arbiter_errors_total{method=\"decide\",code=\"invalid_params\"}"), 3);
    cr_assert_eq(arb_expo_value(t, "arbiter_errors_total{method=\"track\",code=\"invalid_params\"}"), -1);
    cr_assert_eq(arb_expo_value(t, "arbiter_decide_duration_seconds_bucket{le=\"2.5e-05\"}"), 5);
    cr_assert_eq(arb_expo_value(t, "arbiter_decide_duration_seconds_bucket{le=\"0.0005\"}"), 5);
    cr_assert_eq(arb_expo_value(t, "arbiter_decide_duration_seconds_bucket{le=\"0.001\"}"), 7);
    cr_assert_eq(arb_expo_value(t, "arbiter_decide_duration_seconds_bucket{le=\"0.025\"}"), 7);
    cr_assert_eq(arb_expo_value(t, "arbiter_decide_duration_seconds_bucket{le=\"+Inf\"}"), 8);
    cr_assert_eq(arb_expo_value(t, "arbiter_decide_duration_seconds_count"), 8);
    cr_assert_float_eq(arb_expo_value(t, "arbiter_decide_duration_seconds_sum"), 1.5, 1e-9);
    cr_assert_eq(arb_expo_value(t, "arbiter_policy_refusals_total"), 4);
    cr_assert_eq(arb_expo_value(t, "arbiter_store_duration_seconds_bucket{le=\"5e-05\"}"), 0);
    cr_assert_eq(arb_expo_value(t, "arbiter_store_duration_seconds_bucket{le=\"0.0001\"}"), 6);
    cr_assert_eq(arb_expo_value(t, "arbiter_store_duration_seconds_count"), 6);
    cr_assert_float_eq(arb_expo_value(t, "arbiter_store_duration_seconds_sum"), 0.0003, 1e-12);
    cr_assert_eq(arb_expo_value(t, "arbiter_reloads_total{outcome=\"ok\"}"), 2);
    cr_assert_eq(arb_expo_value(t, "arbiter_log_dropped_total"), 9);
    cr_assert_eq(arb_expo_value(t, "arbiter_connections"), 17);
    cr_assert_eq(arb_expo_value(t, "process_open_fds"), 7);
    free(t);
    free(m);
}

Test(metrics, label_values_are_escaped_and_utf8)
{
    arb_metrics_snap_t *m = snap();
    const char *ch[] = { "we\"b" };
    const char *tp[] = { "a\\b\nc", "bad\xff\xfe" };
    const char *ac[] = { "caf\xc3\xa9" };
    m->version = "7-\"x\"\\";
    m->n_channels = 1, m->channels = ch;
    m->n_touchpoints = 2, m->touchpoints = tp;
    m->n_actions = 1, m->actions = ac;
    m->by_channel_tp[0][0] = 3;
    m->by_channel_tp[0][1] = 4;
    m->by_action[0] = 5;
    char *t = render_ok(m);
    has(t, "arbiter_ruleset_info{version=\"7-\\\"x\\\"\\\\\"} 1\n");
    cr_assert_eq(arb_expo_value(t, "arbiter_decisions_total{channel=\"we\\\"b\",touchpoint=\"a\\\\b\\nc\"}"), 3);
    cr_assert_eq(arb_expo_value(t, "arbiter_decisions_total{channel=\"we\\\"b\",touchpoint=\"bad\xEF\xBF\xBD\xEF\xBF\xBD\"}"), 4);
    cr_assert_eq(arb_expo_value(t, "arbiter_actions_chosen_total{action=\"caf\xc3\xa9\"}"), 5);
    free(t);
    free(m);
}

Test(metrics, series_are_bounded_top_actions_and_other)
{
    arb_metrics_snap_t *m = snap();
    static char names[ARB_STATS_ACTIONS][16];
    static const char *ids[ARB_STATS_ACTIONS + 200];
    for (int i = 0; i < ARB_STATS_ACTIONS + 200; i++) {
        if (i < ARB_STATS_ACTIONS) snprintf(names[i], sizeof names[i], "a%d", i);
        ids[i] = names[i % ARB_STATS_ACTIONS];
    }
    const char *ch[] = { "web" }, *tp[] = { "home" };
    m->version = "1-abc";
    m->n_channels = 1, m->channels = ch;
    m->n_touchpoints = 1, m->touchpoints = tp;
    m->n_actions = ARB_STATS_ACTIONS + 200, m->actions = ids;
    uint64_t all = 0;
    for (int i = 0; i < ARB_STATS_ACTIONS; i++) all += m->by_action[i] = (uint64_t)i + 1;
    m->by_action[ARB_STATS_ACTIONS] = 1000;   /* past the bound */
    m->by_channel_tp[ARB_STATS_CHANNELS][ARB_STATS_TOUCHPOINTS] = 6;   /* undeclared */
    char *t = render_ok(m);
    int series = 0;
    for (const char *p = t; (p = strstr(p, "\narbiter_actions_chosen_total{")); p++) series++;
    cr_assert_eq(series, ARB_METRICS_TOP_ACTIONS + 1);
    /* The most chosen are the highest indices here; a0 is in (other). */
    cr_assert_eq(arb_expo_value(t, "arbiter_actions_chosen_total{action=\"a1023\"}"), 1024);
    cr_assert_eq(arb_expo_value(t, "arbiter_actions_chosen_total{action=\"a0\"}"), -1);
    uint64_t top = 0;
    for (int i = 0; i < ARB_METRICS_TOP_ACTIONS; i++) top += (uint64_t)(ARB_STATS_ACTIONS - i);
    cr_assert_eq(arb_expo_value(t, "arbiter_actions_chosen_total{action=\"(other)\"}"),
                 (double)(all - top + 1000));
    cr_assert_eq(arb_expo_value(t, "arbiter_decisions_total{channel=\"(other)\",touchpoint=\"(other)\"}"), 6);
    cr_assert_eq(arb_expo_value(t, "arbiter_decisions_total{channel=\"web\",touchpoint=\"home\"}"), -1,
                 "a series with no decision is left out");
    free(t);
    free(m);
}

Test(metrics, unknown_process_values_leave_their_family_out)
{
    arb_metrics_snap_t *m = snap();
    m->rss_bytes = -1;
    m->open_fds = -1;
    m->start_time_s = 0;
    char *t = render_ok(m);
    cr_assert_null(strstr(t, "process_"));
    free(t);
    free(m);
}

/* The counts behind the families (engine/base/stats.c). */
Test(metrics_counts, latency_buckets_are_upper_bounds_inclusive)
{
    arb_stats_t *s = calloc(1, sizeof *s);
    arb_stats_record_decide(s, 25000);      /* exactly 25 us: the first bucket */
    arb_stats_record_decide(s, 25001);
    arb_stats_record_decide(s, 25000000);   /* 25 ms: the last finite one */
    arb_stats_record_decide(s, 25000001);   /* +Inf */
    cr_assert_eq(atomic_load(&s->decide_le[0]), 1);
    cr_assert_eq(atomic_load(&s->decide_le[1]), 1);
    cr_assert_eq(atomic_load(&s->decide_le[ARB_DECIDE_LE_FINITE - 1]), 1);
    cr_assert_eq(atomic_load(&s->decide_le[ARB_DECIDE_LE_FINITE]), 1);
    cr_assert_eq(atomic_load(&s->decide_sum_ns), 25000 + 25001 + 25000000 + 25000001);
    free(s);
}

Test(metrics_counts, per_ruleset_counts_are_bounded_and_emptied_at_a_swap)
{
    arb_stats_t *s = calloc(1, sizeof *s);
    static int a, b;   /* two rulesets' identities */
    arb_stats_ruleset_begin(s, &a, 7);
    cr_assert_eq(atomic_load(&s->rs_seq), 7);
    arb_stats_record_choice(s, &a, 1, 2);
    arb_stats_record_choice(s, &a, 1, -1);                    /* undeclared touchpoint */
    arb_stats_record_choice(s, &a, ARB_STATS_CHANNELS + 3, 0);/* past the bound */
    arb_stats_record_choice(s, &b, 1, 2);                     /* another ruleset */
    arb_stats_record_action(s, &a, 5);
    arb_stats_record_action(s, &a, ARB_STATS_ACTIONS);
    arb_stats_record_action(s, &b, 5);
    cr_assert_eq(atomic_load(&s->by_channel_tp[1][2]), 1);
    cr_assert_eq(atomic_load(&s->by_channel_tp[1][ARB_STATS_TOUCHPOINTS]), 1);
    cr_assert_eq(atomic_load(&s->by_channel_tp[ARB_STATS_CHANNELS][0]), 1);
    cr_assert_eq(atomic_load(&s->by_channel_tp[ARB_STATS_CHANNELS][ARB_STATS_TOUCHPOINTS]), 1);
    cr_assert_eq(atomic_load(&s->by_action[5]), 1);
    cr_assert_eq(atomic_load(&s->by_action[ARB_STATS_ACTIONS]), 2);
    arb_stats_ruleset_begin(s, &b, 8);
    cr_assert_eq(atomic_load(&s->rs_seq), 8);
    cr_assert_eq(atomic_load(&s->by_channel_tp[1][2]), 0);
    cr_assert_eq(atomic_load(&s->by_action[5]), 0);
    arb_stats_record_action(s, &b, 5);
    cr_assert_eq(atomic_load(&s->by_action[5]), 1);
    free(s);
}

Test(metrics_counts, an_error_counts_by_code_and_by_method)
{
    arb_stats_t *s = calloc(1, sizeof *s);
    arb_stat_error(s, ARB_METHOD_TRACK, ARB_INVALID_PARAMS);
    arb_stat_error(s, (arb_method_t)99, ARB_INTERNAL);   /* out of range: other */
    cr_assert_eq(atomic_load(&s->errors[ARB_INVALID_PARAMS]), 1);
    cr_assert_eq(atomic_load(&s->errors_by[ARB_METHOD_TRACK][ARB_INVALID_PARAMS]), 1);
    cr_assert_eq(atomic_load(&s->errors_by[ARB_METHOD_OTHER][ARB_INTERNAL]), 1);
    free(s);
}
