/* engine/audit/: the decision log (DESIGN.md section 7). Its rule: fed
 * values (arb_decision_t and the state methods' parameters) through a
 * queue; its own thread formats and writes; a decision never waits on it:
 * when the queue is full or the disk refuses, records are dropped and
 * counted. It includes base/, request/, decide/ and wire/ (for JSON), never
 * server/. (ARCHITECTURE.md; scripts/layers checks the includes.)
 *
 * Files: LOGDIR/arbiter-<UTC yyyymmddThhmmss>-<pid>-<seq>.jsonl, one JSON
 * object per line (the schema is in README.md, "Decision log"), appended,
 * rotated by size and by age, and deleted past the retention. A line is
 * written whole or, after a crash, is the last line of its file without
 * its newline: readers skip such a torn tail.
 *
 * Customers are named by their pseudonym (customer.h), never by id.
 */
#ifndef ARB_AUDIT_LOG_H
#define ARB_AUDIT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/base/error.h"
#include "engine/request/decision.h"
#include "engine/request/track.h"

typedef struct arb_log arb_log_t;

typedef struct arb_log_options {
    const char *dir;            /* created when missing (0700) */
    size_t max_file_bytes;      /* rotate past this; 0: 64 MiB */
    unsigned rotate_s;          /* rotate a file this old; 0: 3600 */
    unsigned retention_days;    /* delete files older; 0: 30 */
    size_t max_queued;          /* records waiting for the writer; beyond, dropped; 0: 65536 */
    bool contexts;              /* decision records carry the whole context (for replay) */
} arb_log_options_t;

/* Open (and create) the log folder and start its writer thread. -1 with err
 * naming the folder when it cannot be written. */
int arb_log_open(arb_log_t **out, const arb_log_options_t *opt, arb_err_t *err);

/* Write everything queued, close the file, join the thread, free. NULL ok. */
void arb_log_close(arb_log_t *l);

/* Queue one record; any thread; never blocks beyond a short lock, never
 * fails visibly (a record that cannot be queued is counted as dropped).
 * Everything passed is copied. pseudonym: the customer's (32 hex digits).
 * ctx/ctx_len: the decision's context as MessagePack (its digest is
 * logged; the whole context too with opt.contexts). */
void arb_log_decision(arb_log_t *l, const arb_decision_t *d, const char *pseudonym,
                      const char *ctx, size_t ctx_len);
void arb_log_feedback(arb_log_t *l, const arb_feedback_t *fb, const char *pseudonym);
/* The purchases of a `track` (each its own record). */
void arb_log_purchases(arb_log_t *l, const arb_commit_t *track, const char *pseudonym);

typedef struct arb_log_stats {
    uint64_t written;           /* records written */
    uint64_t dropped;           /* queue full */
    uint64_t failed;            /* the disk refused (full, gone): dropped too */
    uint64_t files;             /* files rotated to */
} arb_log_stats_t;

void arb_log_stats(arb_log_t *l, arb_log_stats_t *out);

#endif
