/* Control groups and experiments on the decide side (decide.c's helpers;
 * dsl/README.md, "Control groups and experiments"). Internal to decide/.
 *
 * Who decides (the champion or the experiment's challenger) and who is held
 * out are pure functions of a salt and the customer id (request/bucket.h),
 * so every node, channel and restart agrees without sharing state.
 */
#ifndef ARB_DECIDE_CONTROL_H
#define ARB_DECIDE_CONTROL_H

#include <stdbool.h>
#include <stdint.h>
#include <msgpack.h>

#include "engine/base/arena.h"
#include "engine/request/decision.h"
#include "engine/request/str.h"
#include "engine/ruleset/compiled.h"

/* The ruleset that decides for customer_id (a parsed context's) for
 * champion rs: its experiment's challenger when the id falls in the
 * experiment's share, else rs. Sets *experiment and *arm
 * ("champion"/"challenger"), both NULL without an experiment. Borrowed
 * from rs. */
const arb_ruleset_t *arb__control_split(const arb_ruleset_t *rs, arb_str_t customer_id,
                                        const char **experiment, const char **arm);

/* The per-action or group control that holds action i (flagged
 * ARB_HOT_CONTROL) out for customer_id, or NULL when the customer is not
 * in its share. */
const arb_control_t *arb__control_of(const arb_ruleset_t *rs, uint32_t i, arb_str_t customer_id);

/* Whether customer_id is in rs's global control group. */
bool arb__control_global(const arb_ruleset_t *rs, arb_str_t customer_id);

/* Room for every action a decision with rs may hold back (limit: the
 * decision's), in arena, *cap of them; NULL when rs holds none back (or
 * out of memory, told apart by rs having controls). */
arb_held_t *arb__held_alloc(const arb_ruleset_t *rs, int limit, arb_arena_t *arena, uint32_t *cap);

/* ---- the decision's entries (pick.c) */

/* "<16 hex prefix>-<counter in hex>" into id (>= 34 bytes); its length. */
size_t arb__decision_id(const char *prefix, uint64_t counter, char *id);

/* Action a's entry in a decision, with the numbers the decision computed. */
void arb__take_action(arb_decided_action_t *out, const arb_action_t *a, double priority,
                      double propensity);

/* s, NUL-terminated, into *buf (grown to *cap, not allocated per
 * decision); NULL when memory runs out. */
const char *arb__keep_str(char **buf, size_t *cap, arb_str_t s);

#endif
