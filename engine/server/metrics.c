/* The Prometheus exposition text of /metrics (see metrics.h). Keeps the
 * server folder's rule by touching no loop: numbers and names in, text out.
 *
 * Every family has HELP and TYPE lines; counters end in _total, units are
 * in the names (_seconds, _bytes). Label values are escaped as the format
 * asks (backslash, double quote, newline) and made valid UTF-8, since
 * ruleset versions, channels, touchpoints and action ids come from rule
 * files. Series are bounded: channels x declared touchpoints of the ruleset
 * (stats.h's bounds) and the top ARB_METRICS_TOP_ACTIONS actions, the rest
 * in "(other)".
 */
#include "engine/server/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/error.h"
#include "engine/base/utf8.h"

#define OTHER "(other)"

static uint64_t ld(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static void put_label(FILE *f, const char *v)
{
    size_t n = v ? strlen(v) : 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)v[i];
        size_t k = arb_utf8_seq((const unsigned char *)v + i, n - i);
        if (k == 0) {
            fputs("\xEF\xBF\xBD", f);   /* U+FFFD */
            i++;
            continue;
        }
        if (c == '\\') fputs("\\\\", f);
        else if (c == '"') fputs("\\\"", f);
        else if (c == '\n') fputs("\\n", f);
        else fwrite(v + i, 1, k, f);
        i += k;
    }
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
    head(f, name, type, help);
    fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

#define COUNTER(f, name, help, v) one((f), (name), "counter", (help), (v))

static void histogram(FILE *f, const char *n, const char *help, const _Atomic uint64_t *le,
                      const _Atomic uint64_t *sum_ns)
{
    head(f, n, "histogram", help);
    uint64_t cum = 0;
    for (int b = 0; b < ARB_DECIDE_LE_FINITE; b++) {
        cum += ld(&le[b]);
        fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", n, (double)arb_decide_le_ns[b] / 1e9,
                (unsigned long long)cum);
    }
    cum += ld(&le[ARB_DECIDE_LE_FINITE]);
    fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", n, (unsigned long long)cum);
    fprintf(f, "%s_sum %.9f\n", n, (double)ld(sum_ns) / 1e9);
    fprintf(f, "%s_count %llu\n", n, (unsigned long long)cum);
}

static void by_method_and_code(FILE *f, const arb_stats_t *s)
{
    head(f, "arbiter_requests_total", "counter", "RPC requests received, by method.");
    for (int m = 0; m < ARB_METHOD_COUNT; m++)
        fprintf(f, "arbiter_requests_total{method=\"%s\"} %llu\n", arb_method_name((arb_method_t)m),
                (unsigned long long)ld(&s->requests[m]));
    head(f, "arbiter_errors_total", "counter",
         "RPC error answers, by method and error code (method other: not a request).");
    for (int m = 0; m < ARB_METHOD_COUNT; m++)
        for (int c = 0; c < ARB_CODE_COUNT; c++) {
            uint64_t v = ld(&s->errors_by[m][c]);
            if (v)   /* a series appears with its first error */
                fprintf(f, "arbiter_errors_total{method=\"%s\",code=\"%s\"} %llu\n",
                        arb_method_name((arb_method_t)m), arb_code_name((arb_code_t)c),
                        (unsigned long long)v);
        }
}

static const char *name_or_other(const char *const *names, uint32_t n, uint32_t i, uint32_t bound)
{
    return i < n && i < bound && names && names[i] ? names[i] : OTHER;
}

static void decisions(FILE *f, const arb_metrics_snap_t *m)
{
    head(f, "arbiter_decisions_total", "counter",
         "Decisions by channel and touchpoint since the current ruleset was loaded; (other): "
         "undeclared touchpoints, a challenger's decisions, past the bounds.");
    if (!m->version) return;
    for (uint32_t c = 0; c <= ARB_STATS_CHANNELS; c++) {
        if (c < ARB_STATS_CHANNELS && c >= m->n_channels) continue;
        for (uint32_t t = 0; t <= ARB_STATS_TOUCHPOINTS; t++) {
            if (t < ARB_STATS_TOUCHPOINTS && t >= m->n_touchpoints) continue;
            uint64_t v = m->by_channel_tp[c][t];
            if (v == 0) continue;   /* a series appears with its first decision */
            fputs("arbiter_decisions_total{channel=\"", f);
            put_label(f, name_or_other(m->channels, m->n_channels, c, ARB_STATS_CHANNELS));
            fputs("\",touchpoint=\"", f);
            put_label(f, name_or_other(m->touchpoints, m->n_touchpoints, t, ARB_STATS_TOUCHPOINTS));
            fprintf(f, "\"} %llu\n", (unsigned long long)v);
        }
    }
}

static void actions(FILE *f, const arb_metrics_snap_t *m)
{
    head(f, "arbiter_actions_chosen_total", "counter",
         "Times an action was chosen since the current ruleset was loaded: the most chosen "
         "actions, every other one in (other).");
    uint32_t n = m->n_actions < ARB_STATS_ACTIONS ? m->n_actions : ARB_STATS_ACTIONS;
    if (!m->version) n = 0;
    uint32_t top[ARB_METRICS_TOP_ACTIONS];
    bool taken[ARB_STATS_ACTIONS] = { false };
    int k = 0;
    for (; k < ARB_METRICS_TOP_ACTIONS; k++) {   /* n is at most 1024: 50 passes are cheap */
        int best = -1;
        for (uint32_t i = 0; i < n; i++)
            if (!taken[i] && m->by_action[i] && (best < 0 || m->by_action[i] > m->by_action[best]))
                best = (int)i;
        if (best < 0) break;
        taken[best] = true;
        top[k] = (uint32_t)best;
    }
    uint64_t other = m->by_action[ARB_STATS_ACTIONS];
    for (uint32_t i = 0; i < n; i++)
        if (!taken[i]) other += m->by_action[i];
    for (int i = 0; i < k; i++) {
        fputs("arbiter_actions_chosen_total{action=\"", f);
        put_label(f, name_or_other(m->actions, m->n_actions, top[i], ARB_STATS_ACTIONS));
        fprintf(f, "\"} %llu\n", (unsigned long long)m->by_action[top[i]]);
    }
    fprintf(f, "arbiter_actions_chosen_total{action=\"" OTHER "\"} %llu\n",
            (unsigned long long)other);
}

static void process(FILE *f, const arb_metrics_snap_t *m)
{
    if (m->rss_bytes >= 0) {
        head(f, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        fprintf(f, "process_resident_memory_bytes %lld\n", (long long)m->rss_bytes);
    }
    if (m->open_fds >= 0) {
        head(f, "process_open_fds", "gauge", "Number of open file descriptors.");
        fprintf(f, "process_open_fds %lld\n", (long long)m->open_fds);
    }
    if (m->start_time_s > 0) {
        head(f, "process_start_time_seconds", "gauge",
             "Start time of the process since unix epoch in seconds.");
        fprintf(f, "process_start_time_seconds %.3f\n", m->start_time_s);
    }
}

char *arb_metrics_render(const arb_metrics_snap_t *m, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    if (!f) return NULL;
    const arb_stats_t *s = &m->sum;
    by_method_and_code(f, s);
    histogram(f, "arbiter_decide_duration_seconds",
              "Time to decide one decision (decide_many counts each context).", s->decide_le,
              &s->decide_sum_ns);
    decisions(f, m);
    actions(f, m);
    COUNTER(f, "arbiter_fallbacks_total", "Decisions answered by a fallback action.",
            ld(&s->fallbacks));
    COUNTER(f, "arbiter_undeclared_touchpoints_total",
            "Decisions for a touchpoint the ruleset does not declare.",
            ld(&s->undeclared_touchpoints));
    COUNTER(f, "arbiter_rule_errors_total", "Actions skipped because a rule failed.",
            ld(&s->rule_errors));
    COUNTER(f, "arbiter_budget_stops_total",
            "Rules stopped by the instruction, memory or time budget.", ld(&s->budget_stops));
    COUNTER(f, "arbiter_policy_refusals_total",
            "Actions refused by contact policy (caps, cooldowns, suppressions, a full channel).",
            ld(&s->policy_refusals));
    COUNTER(f, "arbiter_store_failures_total", "Customer store reads or writes that failed.",
            ld(&s->state_failures));
    histogram(f, "arbiter_store_duration_seconds",
              "Time from a customer store call to its answer reaching the worker.", s->store_le,
              &s->store_sum_ns);
    COUNTER(f, "arbiter_store_retries_total",
            "Decisions decided again because a cap was taken meanwhile.", ld(&s->state_retries));
    COUNTER(f, "arbiter_log_written_total", "Decision log records written.", m->log_written);
    COUNTER(f, "arbiter_log_dropped_total", "Decision log records dropped: the queue was full.",
            m->log_dropped);
    COUNTER(f, "arbiter_log_failed_total",
            "Decision log records dropped: the disk refused them.", m->log_failed);
    head(f, "arbiter_reloads_total", "counter", "Ruleset reloads, by outcome.");
    fprintf(f, "arbiter_reloads_total{outcome=\"ok\"} %llu\n"
               "arbiter_reloads_total{outcome=\"failed\"} %llu\n"
               "arbiter_reloads_total{outcome=\"abandoned\"} %llu\n",
            (unsigned long long)m->reloads_ok, (unsigned long long)m->reloads_failed,
            (unsigned long long)ld(&s->reloads_abandoned));
    head(f, "arbiter_ruleset_info", "gauge", "The ruleset serving now (its version label).");
    if (m->version) {
        fputs("arbiter_ruleset_info{version=\"", f);
        put_label(f, m->version);
        fputs("\"} 1\n", f);
    }
    head(f, "arbiter_ready", "gauge", "1 when /readyz answers 200.");
    fprintf(f, "arbiter_ready %d\n", m->ready ? 1 : 0);
    head(f, "arbiter_connections", "gauge", "RPC connections open now (public and admin).");
    fprintf(f, "arbiter_connections %lld\n", (long long)m->connections);
    COUNTER(f, "arbiter_connections_accepted_total", "RPC connections accepted.",
            ld(&s->connections_accepted));
    COUNTER(f, "arbiter_connections_refused_total",
            "RPC connections refused at --max-connections.", m->connections_refused);
    COUNTER(f, "arbiter_answer_failures_total",
            "Answers replaced by too_large or internal.", ld(&s->answer_failures));
    COUNTER(f, "arbiter_backpressure_pauses_total",
            "Reads paused for a client that does not read its answers.",
            ld(&s->backpressure_pauses));
    COUNTER(f, "arbiter_partial_closes_total",
            "Connections closed: partial frames over --max-partial.", ld(&s->partial_closes));
    head(f, "arbiter_learn_arms", "gauge", "Learned arms in the published snapshot.");
    fprintf(f, "arbiter_learn_arms %llu\n", (unsigned long long)m->arms);
    COUNTER(f, "arbiter_learn_syncs_total", "Syncs of learned arms with the store.",
            ld(&s->learn_syncs));
    COUNTER(f, "arbiter_learn_sync_failures_total", "Syncs of learned arms that failed.",
            ld(&s->learn_sync_failures));
    COUNTER(f, "arbiter_http_requests_total", "Requests answered on the HTTP port.",
            m->http_requests);
    COUNTER(f, "arbiter_http_rejected_total",
            "HTTP requests answered 404 or 405 (unknown path or method).", m->http_rejected);
    process(f, m);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    *len = n;
    return text;
}
