/* Contact policy on the decide side (dsl/README.md, "Contact policy"): the
 * caps, cooldowns and suppressions a ruleset declares, checked in C against
 * a stored customer before an action's conditions run, and the contacts a
 * decision or a feedback outcome asks the store to count.
 *
 * Like the rest of decide/: no I/O and no lock; values in, values out. The
 * store (engine/state) checks the caps again atomically when it counts a
 * contact (request/commit.h), so a cap of N grants exactly N whatever the
 * concurrency; the prefilter here only saves showing what would be refused.
 *
 * Ownership: everything returned is allocated in the arena passed (or is a
 * static string or the ruleset's), and lives until that arena's reset or the
 * ruleset's release, whichever comes first.
 */
#ifndef ARB_POLICY_H
#define ARB_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/base/arena.h"
#include "engine/request/commit.h"
#include "engine/request/customer.h"
#include "engine/request/decision.h"
#include "engine/ruleset/compiled.h"

/* The contacts dec makes, as commit requests with their caps (only the
 * chosen actions whose contact counts at decision time; nothing when the
 * context has preview = true). Each carries the action's cap and cooldown
 * (a cooldown d is the cap {action, any channel, 1, d}) and its channel's
 * cap; a group's cap is checked by the prefilter only (arb_cap_t names one
 * action or all). Allocated in arena. Returns the count, -1 on OOM. */
int arb_policy_contacts(const arb_ruleset_t *rs, const arb_decision_t *dec,
                        arb_arena_t *arena, arb_contact_req_t **out);

/* The contacts a feedback outcome makes: an `impression` of an action on a
 * channel whose contacts count on impression becomes one contact, with no
 * cap (the customer saw it, full cap or not). Returns the count (0 or 1),
 * -1 on OOM. action and channel unknown to rs make none. */
int arb_policy_feedback_contacts(const arb_ruleset_t *rs, const char *action, const char *channel,
                                 const char *outcome, int64_t ts, arb_arena_t *arena,
                                 arb_contact_req_t **out);

/* Whether outcome (len bytes) is one feedback may report: impression,
 * click, convert, dismiss, or one the ruleset declares with outcomes {}. */
bool arb_ruleset_outcome_known(const arb_ruleset_t *rs, const char *outcome, size_t len);

/* The retention the ruleset asks for: max_age at least its longest cap,
 * cooldown or suppression window; 0 when a suppression is "forever" (its
 * outcomes must be kept whatever their age) or when it has no policy (it
 * asks nothing: the store's default applies). The counts are 0: the
 * ruleset asks none. */
void arb_ruleset_retention(const arb_ruleset_t *rs, arb_retention_t *out);

/* ---- the prefilter, for decide.c (and its tests) */

/* Why action a may not be shown to c at now for its own cap, cooldown,
 * group cap or a suppression; NULL when it may. With explain the reason
 * carries its numbers ("cap: 2 per 7 days, 2 used"), allocated in arena;
 * without, a static word ("cap", "cooldown", "suppressed"). */
const char *arb_policy_check(const arb_ruleset_t *rs, const arb_action_t *a,
                             const arb_customer_t *c, int64_t now, bool explain,
                             arb_arena_t *arena);

/* Why no action may be shown on channel ch (its cap is reached), or NULL. */
const char *arb_policy_channel_check(const arb_ruleset_t *rs, int ch, const arb_customer_t *c,
                                     int64_t now, bool explain, arb_arena_t *arena);

/* The action of rs named id, or NULL. */
const arb_action_t *arb_policy_action(const arb_ruleset_t *rs, const char *id);

/* The ruleset that has action id: rs, or its experiment's challenger when
 * only the challenger declares it (feedback and learning for a challenger's
 * own action read its rules); rs when neither has it. */
const arb_ruleset_t *arb_policy_ruleset_of(const arb_ruleset_t *rs, const char *id);

#endif
