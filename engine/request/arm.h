/* Learned propensities as values (DESIGN.md section 6): an arm is the
 * evidence for one adaptive action on one channel in one segment, and a
 * delta is what one feedback (or one decision, when trials count at
 * decision time) adds to it.
 *
 * Keeps request/'s rule: values only, no I/O. The same arithmetic is used
 * by the learner (engine/learn), every store backend (engine/state merges
 * the deltas into what it keeps) and the decide path (which decays an arm
 * to the decision's clock), so that evidence fades the same way wherever
 * it is read.
 *
 * Evidence decays: counts are kept "as of" a time `at`; read at a later
 * time t with a half-life h they are worth 2^(-(t - at) / h) as much. A
 * half-life of 0 means evidence never fades.
 *
 * Ownership: the strings of an arm or a delta are borrowed; whoever fills
 * one says how long they live.
 */
#ifndef ARB_REQUEST_ARM_H
#define ARB_REQUEST_ARM_H

#include <stdint.h>

/* The segment of a pooled arm: every customer of the action on the channel,
 * whatever their segment value. An action learned per segment feeds both
 * its segment's arm and the pooled one. */
#define ARB_ARM_POOLED ""

typedef struct arb_arm {
    const char *action;     /* the action's id */
    const char *channel;    /* the channel's name */
    const char *segment;    /* the segment attribute's value as a string; ARB_ARM_POOLED */
    double positives;       /* decayed count of positive outcomes, as of `at` */
    double trials;          /* decayed count of trials, as of `at` (may be < positives
                               when positives came without their trial; readers clamp) */
    int64_t at;             /* unix seconds the counts are as of */
} arb_arm_t;

/* Evidence for one arm. */
typedef struct arb_arm_delta {
    const char *action, *channel, *segment;
    double positives, trials;   /* usually 0 or 1 each */
    int64_t ts;                 /* when it happened (unix seconds) */
    double half_life;           /* seconds, the action's; 0: never fades */
} arb_arm_delta_t;

/* What an arm is worth to a reader: its counts decayed to now. */
typedef struct arb_arm_view {
    const char *action, *channel, *segment;   /* borrowed from the arm */
    double positives;       /* decayed to now */
    double negatives;       /* max(0, trials - positives), decayed to now */
    double trials;          /* decayed to now */
    double mean;            /* posterior mean with the action's prior rate */
} arb_arm_view_t;

/* arm's counts decayed from arm->at to now (unchanged when now <= at or
 * half_life is 0) into *positives and *trials. */
void arb_arm_decayed(const arb_arm_t *arm, int64_t now, double half_life,
                     double *positives, double *trials);

/* Add d to arm (same action, channel and segment; not checked): the older
 * of the two is decayed to the newer's time with d->half_life, then they
 * are summed, and arm->at becomes the newer time. Adding the same deltas in
 * any order gives the same arm (up to rounding). */
void arb_arm_add(arb_arm_t *arm, const arb_arm_delta_t *d);

#endif
