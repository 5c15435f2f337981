/* TEMPORARY, issue 12: the interfaces two parallel helpers deliver (decide:
 * engine/decide/policy.h, the ruleset's outcomes and retention, arb_decide's
 * `customer`; params: engine/request/track.h and wire/answer.c's packers),
 * declared with the agreed signatures so that the server compiles and its
 * tests run before the merge. THE LEAD DELETES this file and pending_stubs.c
 * at the merge (their lines in ninja/sources.ninja too) and replaces the
 * one `#include "engine/server/pending_stubs.h"` in state_calls.c and
 * service.c by the real headers. */
#ifndef ARB_PENDING_STUBS_H
#define ARB_PENDING_STUBS_H

#include <math.h>
#include <msgpack.h>

#include "engine/base/arena.h"
#include "engine/base/error.h"
#include "engine/decide/decide.h"
#include "engine/request/commit.h"
#include "engine/request/customer.h"
#include "engine/request/decision.h"

/* arb_decide gains `customer` (decide helper): until then it is dropped. */
#define arb_decide(d, rs, ctx, customer, arena, st, err) \
    ((void)(customer), arb_decide((d), (rs), (ctx), (arena), (st), (err)))
#define arb_decide_many(d, rs, arr, customer, arena, st, lim, sink, ud, err) \
    ((void)(customer), arb_decide_many((d), (rs), (arr), (arena), (st), (lim), (sink), (ud), (err)))

/* engine/decide/policy.h */
int arb_policy_contacts(const arb_ruleset_t *rs, const arb_decision_t *dec, arb_arena_t *arena,
                        arb_contact_req_t **out);
int arb_policy_feedback_contacts(const arb_ruleset_t *rs, const char *action, const char *channel,
                                 const char *outcome, int64_t ts, arb_arena_t *arena,
                                 arb_contact_req_t **out);
/* engine/ruleset/ruleset.h */
bool arb_ruleset_outcome_known(const arb_ruleset_t *rs, const char *outcome, size_t len);
void arb_ruleset_retention(const arb_ruleset_t *rs, arb_retention_t *out);

/* engine/request/track.h */
typedef struct arb_feedback {
    const char *customer_id, *action, *outcome, *decision_id /*NULL*/, *channel /*NULL*/;
    double value /*NAN*/;
    int64_t ts;
} arb_feedback_t;
int arb_track_parse(const msgpack_object *arg, int64_t now, arb_arena_t *arena,
                    const char **customer_id, arb_commit_t *out, arb_err_t *err);
int arb_feedback_parse(const msgpack_object *arg, int64_t now, arb_arena_t *arena,
                       arb_feedback_t *out, arb_err_t *err);
int arb_customer_ref_parse(const msgpack_object *arg, arb_arena_t *arena, const char **customer_id,
                           arb_err_t *err);

/* engine/wire/answer.h */
void arb_answer_pack_track(msgpack_packer *pk, size_t stored);
void arb_answer_pack_feedback(msgpack_packer *pk);
void arb_answer_pack_customer(msgpack_packer *pk, const arb_customer_t *c);
void arb_answer_pack_forget(msgpack_packer *pk);

#endif
