/* Inside engine/learn/: how the learner builds snapshots and asks them what
 * its bounds need (see learner.h). Not for other folders.
 */
#ifndef ARB_LEARN_SNAP_INT_H
#define ARB_LEARN_SNAP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/request/arm.h"

struct arb_arms_snap;

/* One arm to build a snapshot from; half_life is what it is combined with
 * when another of the same key is in the build (0: no decay). */
typedef struct arb__snap_in {
    arb_arm_t arm;
    double half_life;
    int pending;            /* sorts after a stored arm of the same key */
} arb__snap_in_t;

/* The snapshot of in[0..n) (in is reordered; strings are copied), arms of
 * the same key combined with arb_arm_add, one reference for the caller.
 * NULL when out of memory. */
struct arb_arms_snap *arb__snap_build(arb__snap_in_t *in, size_t n);

/* The hash of an arm's key, as the snapshot's index and the learner's
 * table use it; never 0 (0 marks an empty slot). */
uint64_t arb__arm_hash(const char *action, const char *channel, const char *segment,
                       size_t segment_len);
/* The hash of an (action, channel) pair; never 0. */
uint64_t arb__pair_hash(const char *action, const char *channel);

/* How many segments other than the pooled one s holds for action and
 * channel. s may be NULL. */
size_t arb__snap_segments(const struct arb_arms_snap *s, const char *action, const char *channel);

#endif
