/* Fuzz target: the decision log reader (engine/audit/logread.c), the one
 * parser of a file format written by another process (and, after a crash,
 * cut anywhere), and the report computed on whatever it reads
 * (engine/audit/report.c).
 *
 * Input: the text of one LOGDIR file (JSON lines; the seeds are records of
 * each type in the schema of README.md, "Decision log").
 *
 * Properties checked:
 *   - reading never crashes, leaks or reads past the input (ASan);
 *   - every record has its customer, its type's strings, and ids for each
 *     action and held action; at most one torn tail, and only when the
 *     input does not end with a newline; records + malformed + torn lines
 *     never exceed the input's lines, and a malformed line is described;
 *   - the report on those records, by action, arm and channel, computes,
 *     and no group converts more customers than it has;
 *   - each record, packed and rendered again by the writer's own code
 *     (engine/audit/logpack.c), is one line that reads back as the same
 *     record: whatever strings and numbers a reader accepts, the writer
 *     writes so that they read back (numbers to 15 significant digits).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include "engine/audit/logpack.h"
#include "engine/audit/logread.h"
#include "engine/audit/report.h"
#include "tests/fuzz/fuzz_util.h"

static bool same_str(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

static bool same_num(double a, double b)
{
    if (!isfinite(a) || !isfinite(b)) return !isfinite(a) && !isfinite(b);
    return a == b || fabs(a - b) <= fmax(fabs(a), fabs(b)) * 6e-15;
}

/* r written by the writer's code, then read back. */
static void check_rewrite(const arb_logrec_t *r)
{
    arb_logpack_t *p = NULL;
    arb_decided_action_t acts[64];
    arb_held_t held[64];
    if (r->type == ARB_LOGREC_DECISION) {
        if (r->n_actions > 64 || r->n_held > 64) return;
        for (uint32_t i = 0; i < r->n_actions; i++)
            acts[i] = (arb_decided_action_t){ .id = r->actions[i].id,
                                              .priority = r->actions[i].priority,
                                              .propensity = r->actions[i].propensity,
                                              .value = r->actions[i].value };
        for (uint32_t i = 0; i < r->n_held; i++)
            held[i] = (arb_held_t){ r->held[i].id, r->held[i].control };
        arb_decision_t d = { .decision_id = r->decision_id,
                             .decision_id_len = r->decision_id ? strlen(r->decision_id) : 0,
                             .ruleset = r->ruleset, .actions = acts, .n_actions = r->n_actions,
                             .channel = r->channel, .now = r->ts, .touchpoint = r->touchpoint,
                             .group = r->control ? "control" : "treatment",
                             .experiment = r->experiment, .arm = r->arm, .held = held,
                             .n_held = r->n_held };
        p = arb_logpack_decision(&d, r->customer, NULL, 0, false);
    } else if (r->type == ARB_LOGREC_FEEDBACK) {
        arb_feedback_t fb = { NULL, r->action, r->outcome, r->decision_id, r->channel,
                              r->has_value ? r->value : NAN, r->ts };
        p = arb_logpack_feedback(&fb, r->customer);
    } else {
        arb_event_t e = { .ts = r->ts, .channel = r->channel, .sku = r->sku,
                          .category = r->category, .price = r->has_value ? r->value : NAN };
        p = arb_logpack_purchase(&e, r->customer);
    }
    FUZZ_CHECK(p, "out of memory packing");
    arb_jbuf_t b = { 0 };
    FUZZ_CHECK(arb_logpack_render(p, &b) == 0, "rendering failed");
    free(p);
    FUZZ_CHECK(b.len && b.p[b.len - 1] == '\n' && !memchr(b.p, '\n', b.len - 1),
               "not one line: %.*s", (int)b.len, b.p);
    arb_logrec_t q;
    char err[256];
    FUZZ_CHECK(arb_logrec_parse(b.p, b.len - 1, &q, err, sizeof err) == 0, "%s: %.*s", err,
               (int)b.len, b.p);
    /* (a purchase has no decision_id: the reader takes one, the writer has none) */
    FUZZ_CHECK(q.type == r->type && q.ts == r->ts && same_str(q.customer, r->customer) &&
                   (r->type == ARB_LOGREC_PURCHASE || same_str(q.decision_id, r->decision_id)) &&
                   same_str(q.channel, r->channel),
               "the common fields changed: %.*s", (int)b.len, b.p);
    if (r->type == ARB_LOGREC_DECISION) {
        FUZZ_CHECK(same_str(q.touchpoint, r->touchpoint) && same_str(q.ruleset, r->ruleset) &&
                       same_str(q.experiment, r->experiment) && same_str(q.arm, r->arm) &&
                       q.control == r->control && q.n_actions == r->n_actions &&
                       q.n_held == r->n_held,
                   "a decision changed: %.*s", (int)b.len, b.p);
        for (uint32_t i = 0; i < r->n_actions; i++)
            FUZZ_CHECK(same_str(q.actions[i].id, r->actions[i].id) &&
                           same_num(q.actions[i].priority, r->actions[i].priority) &&
                           same_num(q.actions[i].propensity, r->actions[i].propensity) &&
                           same_num(q.actions[i].value, r->actions[i].value),
                       "action %u changed: %.*s", i, (int)b.len, b.p);
        for (uint32_t i = 0; i < r->n_held; i++)
            FUZZ_CHECK(same_str(q.held[i].id, r->held[i].id) &&
                           same_str(q.held[i].control, r->held[i].control),
                       "held %u changed: %.*s", i, (int)b.len, b.p);
    } else {
        FUZZ_CHECK(same_str(q.action, r->action) && same_str(q.outcome, r->outcome) &&
                       same_str(q.sku, r->sku) && same_str(q.category, r->category) &&
                       q.has_value == r->has_value &&
                       (!r->has_value || same_num(q.value, r->value)),
                   "a feedback or purchase changed: %.*s", (int)b.len, b.p);
    }
    arb_logrec_free(&q);
    free(b.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arb_logset_t set = { 0 };
    const char *text = (const char *)data;
    FUZZ_CHECK(arb_logset_add_text(&set, text, size, "fuzz.jsonl") == 0, "out of memory");
    size_t lines = 0;
    for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
    bool cut = size && data[size - 1] != '\n';
    FUZZ_CHECK(set.torn == (cut ? 1u : 0u), "torn %zu for an input %s a newline", set.torn,
               cut ? "without" : "ending with");
    FUZZ_CHECK(set.n + set.malformed <= lines, "%zu records, %zu malformed of %zu lines", set.n,
               set.malformed, lines);
    FUZZ_CHECK(!set.malformed || set.first_malformed[0], "a malformed line not described");
    for (size_t i = 0; i < set.n; i++) {
        const arb_logrec_t *r = &set.recs[i];
        FUZZ_CHECK(r->customer && r->customer[0], "record %zu without its customer", i);
        if (r->type == ARB_LOGREC_FEEDBACK)
            FUZZ_CHECK(r->action && r->outcome, "feedback %zu without action or outcome", i);
        for (uint32_t k = 0; k < r->n_actions; k++) FUZZ_CHECK(r->actions[k].id, "an action without id");
        for (uint32_t k = 0; k < r->n_held; k++) FUZZ_CHECK(r->held[k].id, "a held action without id");
        check_rewrite(r);
    }
    for (int by = ARB_REPORT_BY_ACTION; by <= ARB_REPORT_BY_CHANNEL; by++) {
        arb_report_t rep;
        arb_err_t err;
        arb_report_options_t opt = { .by = (arb_report_by_t)by };
        FUZZ_CHECK(arb_report_compute(set.recs, set.n, &opt, &rep, &err) == 0, "%s", err.message);
        FUZZ_CHECK(rep.records == set.n, "the report saw %llu of %zu records",
                   (unsigned long long)rep.records, set.n);
        for (size_t i = 0; i < rep.n_rows; i++) {
            const arb_report_row_t *w = &rep.rows[i];
            FUZZ_CHECK(w->treatment.converted <= w->treatment.customers &&
                           w->control.converted <= w->control.customers,
                       "more converted than customers in row %zu", i);
        }
        arb_report_free(&rep);
    }
    arb_logset_free(&set);
    return 0;
}
