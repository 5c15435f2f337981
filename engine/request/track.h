/* The parameters of the state methods (DESIGN.md section 3): `track`,
 * `feedback`, `customer` and `forget`, checked and turned into the values
 * the store takes (commit.h, customer.h).
 *
 * Keeps request/'s rule: values only, no I/O; it includes only base/ and
 * request/. The checks are the decide context's own (context_int.h): the
 * same refusals (duplicate keys, NaN keys, bin and ext values, wrong types)
 * with the same messages, each naming the field
 * ("events[2].ts: expected an integer, got a string").
 *
 * Ownership: every string and byte range of the values filled here is a
 * copy in the arena passed (NUL-terminated UTF-8 for strings): they outlive
 * the request's frame, so a server may hold them across an asynchronous
 * fetch, and die with the arena's next reset. The arrays too.
 */
#ifndef ARB_TRACK_H
#define ARB_TRACK_H

#include <msgpack.h>

#include "engine/base/arena.h"
#include "engine/base/error.h"
#include "engine/request/commit.h"

/* Bytes of a customer_id: state/store.h's ARB_STORE_ID_MAX is the same. */
#define ARB_CUSTOMER_ID_MAX 512

/* `track`: arg is {customer_id, events?, purchases?, consent?, attributes?,
 * now?}, shaped as in the decide context:
 *   events     [{type, ts, sku?, category?, channel?, ...}]  type required
 *   purchases  [{ts, sku?, category?, price?, channel?, ...}]
 *   consent    {key: bool}, each stated at the commit's now
 *   attributes a map; its keys replace the stored ones
 *   now        unix seconds; the server's `now` when absent
 * An event's or purchase's other fields are kept as a msgpack map in
 * arb_event_t.extra. At least one of events, purchases, consent, attributes.
 * Other keys are ignored, as in a context (a channel may send its decide
 * context), but may not repeat. Fills *customer_id and *out (zeroed first;
 * out->now set, retention NULL). 0, or -1 with err = invalid_params. */
int arb_track_parse(const msgpack_object *arg, int64_t now, arb_arena_t *arena,
                    const char **customer_id, arb_commit_t *out, arb_err_t *err);

/* `feedback`'s argument. Strings are arena copies as above. */
typedef struct arb_feedback {
    const char *customer_id;
    const char *action;
    const char *outcome;      /* a non-empty string; the server checks the ruleset knows it */
    const char *decision_id;  /* NULL when absent */
    const char *channel;      /* NULL when absent */
    double value;             /* NAN when absent */
    int64_t ts;               /* the `now` passed when absent */
} arb_feedback_t;

/* `feedback`: arg is {customer_id, action, outcome, decision_id?, channel?,
 * value?, ts?}. Other keys are ignored but may not repeat. 0, or -1 with
 * err = invalid_params. */
int arb_feedback_parse(const msgpack_object *arg, int64_t now, arb_arena_t *arena,
                       arb_feedback_t *out, arb_err_t *err);

/* `customer` and `forget`: arg is {customer_id}. 0, or -1 with err. */
int arb_customer_ref_parse(const msgpack_object *arg, arb_arena_t *arena,
                           const char **customer_id, arb_err_t *err);

/* `learning`: arg is absent, nil or {action?}. *action is NULL (every
 * action) or an arena copy. 0, or -1 with err = invalid_params. */
int arb_learning_parse(const msgpack_object *arg, arb_arena_t *arena, const char **action,
                       arb_err_t *err);

#endif
