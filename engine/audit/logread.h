/* Reading the decision log back (README.md, "Decision log"): every *.jsonl
 * file of a LOGDIR into records, for `arbiter report` and `arbiter replay
 * --log`. It keeps the audit/ rule (log.h: base/, request/, decide/ and
 * wire/ at most, never server/): it needs base/ alone.
 *
 * A line that lacks its newline at the end of a file is a torn tail (a
 * crash cut it): skipped and counted as torn. A line that is not a record
 * of the schema is counted as malformed (the first one is described), never
 * fatal: a report over a damaged log still says what it can.
 */
#ifndef ARB_AUDIT_LOGREAD_H
#define ARB_AUDIT_LOGREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/base/error.h"

typedef enum arb_logrec_type {
    ARB_LOGREC_DECISION,
    ARB_LOGREC_FEEDBACK,
    ARB_LOGREC_PURCHASE,
} arb_logrec_type_t;

typedef struct arb_logrec_action {
    char *id;
    double priority, propensity, value;
} arb_logrec_action_t;

typedef struct arb_logrec_held {
    char *id;
    char *control;              /* "global", "action" or a group id */
} arb_logrec_held_t;

/* One record. Every string is owned by the record (freed by
 * arb_logset_free); a field the record's type lacks, or null in the line,
 * is NULL. */
typedef struct arb_logrec {
    arb_logrec_type_t type;
    int64_t ts;                 /* unix seconds */
    char *customer;             /* the pseudonym; never NULL */
    char *decision_id;
    char *channel;
    /* decision */
    char *touchpoint, *ruleset, *experiment, *arm;
    bool control;               /* "group": "control" */
    arb_logrec_action_t *actions;
    uint32_t n_actions;
    arb_logrec_held_t *held;
    uint32_t n_held;
    char *ctx;                  /* the "ctx" object as JSON text; NULL when not logged */
    /* feedback */
    char *action, *outcome;
    /* purchase */
    char *sku, *category;
    /* feedback value or purchase price */
    bool has_value;
    double value;
} arb_logrec_t;

typedef struct arb_logset {
    arb_logrec_t *recs;         /* in file name order, then line order */
    size_t n, cap;
    size_t files;               /* files read */
    size_t malformed;           /* lines that are no record */
    size_t torn;                /* torn tails skipped */
    char first_malformed[512];  /* "FILE:LINE: why" of the first malformed line */
} arb_logset_t;

/* Parse one line (len bytes, no newline; need not be NUL-terminated) into
 * *out. 0, or -1 with why in err (out then holds nothing to free). */
int arb_logrec_parse(const char *line, size_t len, arb_logrec_t *out, char *err, size_t errlen);

/* Append the records of a file's text to set; name labels the malformed
 * line. -1 only when out of memory. */
int arb_logset_add_text(arb_logset_t *set, const char *text, size_t len, const char *name);

/* Append every *.jsonl file of dir, in name order (names start with their
 * UTC time, so this is time order). -1 with err naming dir when it cannot
 * be read. */
int arb_logset_read_dir(arb_logset_t *set, const char *dir, arb_err_t *err);

void arb_logrec_free(arb_logrec_t *r);
/* Free every record; set is left empty. */
void arb_logset_free(arb_logset_t *set);

#endif
