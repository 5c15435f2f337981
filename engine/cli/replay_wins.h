/* `arbiter replay` without --against: how often each action wins, overall,
 * by channel and by touchpoint (replay_wins.c). Keeps cli/'s rule: reads
 * decisions as values, prints for a person or as JSON for a machine.
 *
 * Ownership: the table copies every string it keeps; the caller owns the
 * table (arb_replay_wins_free) and the text arb_replay_wins_json returns.
 */
#ifndef ARB_CLI_REPLAY_WINS_H
#define ARB_CLI_REPLAY_WINS_H

#include <stdio.h>

#include "engine/request/decision.h"

typedef struct arb_replay_wins arb_replay_wins_t;

/* A new empty table; NULL when out of memory. */
arb_replay_wins_t *arb_replay_wins_new(void);
void arb_replay_wins_free(arb_replay_wins_t *w);

/* Count dec: one decision on its channel and touchpoint, and a win for
 * each action it chose. */
void arb_replay_wins_add(arb_replay_wins_t *w, const arb_decision_t *dec);

/* The wins by channel and by touchpoint, as tables (after the overall
 * table rules.c prints). */
void arb_replay_wins_print(const arb_replay_wins_t *w, FILE *f);

/* Everything as one JSON object: contexts, invalid, no_action, actions
 * (overall), by_channel and by_touchpoint. NULL when out of memory. */
char *arb_replay_wins_json(const arb_replay_wins_t *w, unsigned contexts, unsigned invalid,
                           unsigned no_action);

#endif
