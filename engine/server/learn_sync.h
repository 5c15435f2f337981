/* The one writer of what this node learns (DESIGN.md section 6).
 *
 * Workers add evidence to the learner (engine/learn) as decisions and
 * feedback complete. Worker 0's loop runs this sync every --learn-ms: take
 * what was added, add it to the state store and read back the store's
 * totals for the adaptive actions of the ruleset serving now (other nodes'
 * evidence included), build a snapshot of them, and publish it: each
 * worker takes the newest snapshot before its next request, without a
 * lock. One sync at a time; a failed one loses its evidence (counted),
 * never counts it twice. On shutdown, once every worker has drained, a
 * last sync stores what is left.
 */
#ifndef ARB_SERVER_LEARN_SYNC_H
#define ARB_SERVER_LEARN_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/learn/learner.h"

typedef struct arb_server arb_server_t;
typedef struct arb_worker arb_worker_t;
typedef struct arb_learn_sync arb_learn_sync_t;

/* Made before the workers (NULL when out of memory); freed after them. */
arb_learn_sync_t *arb_learn_sync_new(arb_server_t *s);
void arb_learn_sync_free(arb_learn_sync_t *ls);

/* The learner workers add evidence to. */
arb_learner_t *arb_learn_sync_learner(arb_learn_sync_t *ls);

/* On worker w's loop (worker 0), before it runs: a first sync at once (what
 * the store learned before this start), then one every --learn-ms. */
int arb_learn_sync_start(arb_learn_sync_t *ls, arb_worker_t *w);

/* Draining, on w's loop: true once the last sync has completed and the
 * timer is closed (call again until then; it starts that sync itself when
 * every other worker has drained). */
bool arb_learn_sync_drained(arb_learn_sync_t *ls);

/* Worker w (not the sync's) has drained: nothing more will be learned on it. */
void arb_learn_sync_worker_drained(arb_learn_sync_t *ls);

/* On any worker's thread, before a request: swap in the newest published
 * snapshot if there is one (releasing the old), and hand it to the
 * worker's decider. */
void arb_learn_sync_take(arb_learn_sync_t *ls, arb_worker_t *w);

/* Arms in the newest published snapshot, deltas the learner dropped. */
void arb_learn_sync_gauges(arb_learn_sync_t *ls, uint64_t *arms, uint64_t *dropped);

#endif
