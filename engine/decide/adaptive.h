/* Adaptive propensities on the decide side (DESIGN.md section 6): what a
 * decision offers for learning, and the evidence a decision or a feedback
 * adds. Like the rest of decide/: values in, values out; no I/O, no lock
 * (the learner's queue is the server's to feed).
 *
 * Ownership: everything returned is allocated in the arena passed or
 * borrowed from the ruleset, the decision or the commit result given,
 * and lives as long as the shortest of them.
 */
#ifndef ARB_DECIDE_ADAPTIVE_H
#define ARB_DECIDE_ADAPTIVE_H

#include <stddef.h>

#include "engine/base/arena.h"
#include "engine/request/arm.h"
#include "engine/request/commit.h"
#include "engine/request/decision.h"
#include "engine/ruleset/compiled.h"

struct arb_arms_snap;

/* The offers dec makes: one per chosen adaptive action (none for a
 * preview), each linked to its contact request in reqs[0..n_reqs) (what
 * arb_policy_contacts made for dec: the request of the same action), or -1
 * when the action's contacts count on impression. Returns the count, -1 on
 * out of memory. */
int arb_adaptive_offers(const arb_ruleset_t *rs, const arb_decision_t *dec,
                        const arb_contact_req_t *reqs, size_t n_reqs, arb_arena_t *arena,
                        arb_offer_req_t **out);

/* The trials a decision's stored offers count (actions whose trials are
 * decisions): offers[i] is stored when stored[i]. One delta for the
 * offer's arm and one for the pooled arm when the segment is not "".
 * Returns the count, -1 on out of memory. */
int arb_adaptive_decision_deltas(const arb_ruleset_t *rs, const arb_offer_req_t *offers,
                                 size_t n_offers, const bool *stored, arb_arena_t *arena,
                                 arb_arm_delta_t **out);

/* How a feedback outcome for action teaches it, NULL when the action is
 * not adaptive in rs (or unknown). Borrowed from rs. */
const arb_learn_rule_t *arb_adaptive_rule(const arb_ruleset_t *rs, const char *action,
                                          arb_arena_t *arena);

/* The deltas a feedback commit's result teaches action (res->learn_* set
 * by the store), at ts: the arm and, for a segment, the pooled arm.
 * Returns the count (0 when nothing is learned), -1 on out of memory. */
int arb_adaptive_feedback_deltas(const arb_ruleset_t *rs, const char *action, int64_t ts,
                                 const arb_commit_result_t *res, arb_arena_t *arena,
                                 arb_arm_delta_t **out);

/* The names of rs's adaptive actions and its experiment challenger's (what
 * a sync reads back), in id order; borrowed from rs. Returns the count, -1
 * on out of memory. */
int arb_adaptive_actions(const arb_ruleset_t *rs, arb_arena_t *arena, const char *const **out);

/* What `learning` lists: every arm of arms whose action is adaptive in rs
 * (or, for an action only its challenger has, in the challenger)
 * (and is `action` when not NULL), decayed to now, with the posterior mean
 * at the action's prior rate. Returns the count, -1 on out of memory. */
int arb_adaptive_views(const arb_ruleset_t *rs, const struct arb_arms_snap *arms,
                       const char *action, int64_t now, arb_arena_t *arena,
                       arb_arm_view_t **out);

#endif
