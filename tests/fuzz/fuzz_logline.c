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
 *     and no group converts more customers than it has.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/audit/logread.h"
#include "engine/audit/report.h"
#include "tests/fuzz/fuzz_util.h"

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
