/* The learner and its snapshots (see sample.h for engine/learn/'s rule).
 *
 * Evidence flows one way: workers add deltas (arb_learner_add, any thread,
 * one short lock); one sync driver (the server, on one worker's loop) takes
 * what was added (arb_learner_take), adds it to the store and reads back
 * the store's totals (state/store.h arb_store_arms_sync), and hands them to
 * arb_learner_absorb, which builds a new immutable snapshot (the store's
 * totals plus whatever was added since the take) and publishes it. A
 * snapshot is read without any lock by the decide path and swapped into
 * each worker like a ruleset; it is freed by its last owner.
 *
 * Bounds: a delta that would create an arm past max_arms, or a segment
 * past max_segments for its action and channel, is dropped and counted
 * (the pooled arm of that action and channel still learns).
 *
 * Ownership: the learner copies every string it is given. A snapshot and
 * the arms and strings it holds belong to the snapshot, alive while
 * someone holds a reference.
 */
#ifndef ARB_LEARN_LEARNER_H
#define ARB_LEARN_LEARNER_H

#include <stddef.h>
#include <stdint.h>

#include "engine/base/arena.h"
#include "engine/request/arm.h"

typedef struct arb_arms_snap arb_arms_snap_t;
typedef struct arb_learner arb_learner_t;

/* ---- snapshots: immutable, reference counted */

/* The arm of action, channel and segment (segment_len bytes, not
 * NUL-terminated; "" with 0 is the pooled arm), or NULL. s may be NULL. */
const arb_arm_t *arb_arms_snap_find(const arb_arms_snap_t *s, const char *action,
                                    const char *channel, const char *segment, size_t segment_len);

/* Every arm, sorted by action, channel, segment (bytewise), for `learning`. */
size_t arb_arms_snap_count(const arb_arms_snap_t *s);
const arb_arm_t *arb_arms_snap_at(const arb_arms_snap_t *s, size_t i);

/* Take one more reference / drop one (the last frees it). NULL is ignored. */
void arb_arms_snap_retain(arb_arms_snap_t *s);
void arb_arms_snap_release(arb_arms_snap_t *s);

/* ---- the learner */

typedef struct arb_learner_options {
    size_t max_arms;        /* 0: 100,000 */
    size_t max_segments;    /* distinct segments per action and channel; 0: 64 */
} arb_learner_options_t;

/* NULL when out of memory. opt may be NULL (the defaults). Starts with an
 * empty snapshot. */
arb_learner_t *arb_learner_new(const arb_learner_options_t *opt);
void arb_learner_free(arb_learner_t *l);

/* Queue evidence; any thread. Copies d. Returns how many deltas were
 * dropped (bounds above, or out of memory). */
size_t arb_learner_add(arb_learner_t *l, const arb_arm_delta_t *d, size_t n);

/* What a take hands to the sync: deltas (combined per arm) whose strings
 * live in the batch's arena. Owned by the caller until arb_learn_batch_free. */
typedef struct arb_learn_batch {
    arb_arm_delta_t *deltas;
    size_t n;
    arb_arena_t arena;
} arb_learn_batch_t;

/* Move everything queued since the last take into *b (n may be 0).
 * 0, or -1 when out of memory (nothing is moved). */
int arb_learner_take(arb_learner_t *l, arb_learn_batch_t *b);
void arb_learn_batch_free(arb_learn_batch_t *b);

/* The store's totals after a sync (or on start): build the snapshot of
 * stored[0..n) plus everything queued since the last take, publish it, and
 * return it with one reference for the caller (who hands it to the
 * workers). NULL when out of memory: the previous snapshot stays. */
arb_arms_snap_t *arb_learner_absorb(arb_learner_t *l, const arb_arm_t *stored, size_t n);

/* The latest published snapshot, with one reference for the caller. */
arb_arms_snap_t *arb_learner_snapshot(arb_learner_t *l);

/* Deltas dropped by the bounds since the learner was made. */
uint64_t arb_learner_dropped(const arb_learner_t *l);

#endif
