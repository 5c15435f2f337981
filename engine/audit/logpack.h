/* A decision log record in two forms (log.c's private parts, exposed for
 * the unit tests and the fuzz target): flat bytes packed on the deciding
 * thread, one malloc and a few copies, and the JSON line the writer thread
 * renders from them, in the schema of README.md, "Decision log". Numbers
 * are written with 15 significant digits (DBL_DIG: a number sent with at
 * most 15 digits reads back as the same digits), strings are escaped as
 * JSON requires, and bytes that are not UTF-8 become U+FFFD.
 *
 * Why not jansson: a json_t per record took some 30 allocations on the
 * deciding thread and json_dumps' "%.17g" half of the writer's time; with
 * SHA-256 of the context, the log cost two thirds of the throughput of a
 * worker sharing its core with the writer (tests/bench, "Decision log").
 */
#ifndef ARB_AUDIT_LOGPACK_H
#define ARB_AUDIT_LOGPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/request/customer.h"
#include "engine/request/decision.h"
#include "engine/request/track.h"

typedef struct arb_logpack {
    struct arb_logpack *next;  /* the queue's link (log.c) */
    uint8_t type;              /* ARB_LOGPACK_* */
    size_t len;                /* bytes in body */
    char body[];
} arb_logpack_t;

enum { ARB_LOGPACK_DECISION = 1, ARB_LOGPACK_FEEDBACK, ARB_LOGPACK_PURCHASE };

/* Pack a record: everything is copied; the caller frees the result with
 * free(). NULL when memory runs out. pseudonym: 32 hex digits (or NULL).
 * ctx/ctx_len: the decision's context as MessagePack, NULL when none: its
 * digest is taken now, and with whole the record carries it too (as JSON,
 * "ctx", once rendered). */
arb_logpack_t *arb_logpack_decision(const arb_decision_t *d, const char *pseudonym,
                                   const char *ctx, size_t ctx_len, bool whole);
arb_logpack_t *arb_logpack_feedback(const arb_feedback_t *fb, const char *pseudonym);
arb_logpack_t *arb_logpack_purchase(const arb_event_t *purchase, const char *pseudonym);

/* A growing text buffer; zero-initialised is empty. The owner frees p. */
typedef struct arb_jbuf {
    char *p;
    size_t len, cap;
} arb_jbuf_t;

/* Append r as one JSON line (newline included) to out. -1 when memory
 * runs out, or a whole context does not unpack (out is left as it was). */
int arb_logpack_render(const arb_logpack_t *r, arb_jbuf_t *out);

/* x as JSON (the renderer's number form): 15 significant digits, no
 * exponent between 1e-7 and 1e21, "null" when not finite. Writes at most
 * 32 bytes and a NUL; returns the length. */
size_t arb_logpack_number(double x, char out[32]);

#endif
