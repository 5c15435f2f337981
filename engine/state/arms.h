/* The learned arms as the store keeps them (store.h arb_store_arms_sync):
 * one value per action holding every arm of that action, so a sync touches
 * one key per action and the merge is one read-modify-write of that key.
 * Private to engine/state/. Keeps state/'s rule that a file format is
 * decoded totally: any bytes give the arms or a clear error, never a crash
 * (fuzzed by tests/fuzz/fuzz_arms.c).
 *
 * Layout of a value: "ARBA", a version byte (1), the payload length (u32
 * LE), the payload's zlib crc32 (u32 LE), then the payload: one msgpack
 * array [action, [[channel, segment, positives, trials, at], ...]], with
 * positives and trials float64 (finite, >= 0) and at an integer (unix
 * seconds). At most ARB_ARMS_MAX arms; strings at most ARB_ARMS_STR_MAX
 * bytes, no NUL.
 *
 * A sync is planned once (arb_arms_plan_init: the deltas grouped by
 * action, the actions to read back marked), then each backend runs
 * arb_arms_plan_apply for every group inside its own atomic step (the
 * memory store's lock, LMDB's write transaction, Redis's set-if-unchanged
 * script), and hands arb_arms_plan_result to the callback.
 */
#ifndef ARB_STATE_ARMS_H
#define ARB_STATE_ARMS_H

#include "engine/base/arena.h"
#include "engine/base/error.h"
#include "engine/request/arm.h"
#include "engine/state/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARB_ARMS_HEADER 13
#define ARB_ARMS_MAX 4096            /* arms of one action; a delta for a new arm past it is dropped */
#define ARB_ARMS_STR_MAX 256         /* bytes of an action id, a channel or a segment */
#define ARB_ARMS_VALUE_MAX (1u << 22) /* a larger value is refused as corrupt */

/* Encode the n arms of action into a malloc'd buffer (*out, the caller's,
 * free()). Each arm's own action field is ignored. -1 with err when out of
 * memory or past ARB_ARMS_MAX. */
int arb_arms_encode(const char *action, const arb_arm_t *arms, size_t n, uint8_t **out, size_t *len,
                    arb_err_t *err);

/* Decode len bytes into *arms (n of them), every pointer into arena, each
 * arm's action the stored one. action non-NULL: the stored action must be
 * it (a value under another action's key is corrupt). -1 with err
 * (ARB_INTERNAL, naming what is wrong) for anything that is not such a
 * value; then *arms is NULL and *n 0. */
int arb_arms_decode(const uint8_t *data, size_t len, const char *action, arb_arm_t **arms, size_t *n,
                    arb_arena_t *arena, arb_err_t *err);

/* One action of a sync. */
typedef struct arb_arms_group {
    const char *action;                 /* in the plan's arena */
    arb_arm_delta_t *deltas;            /* copies, in the plan's arena */
    size_t n_deltas;
    bool wanted;                        /* named in req->actions: read back */
    const arb_arm_t *arms;              /* after apply, when wanted: what is stored */
    size_t n_arms;
} arb_arms_group_t;

typedef struct arb_arms_plan {
    arb_arena_t arena;                  /* every string, delta and read-back arm */
    arb_arms_group_t *groups;           /* sorted by action, one per action */
    size_t n_groups;
} arb_arms_plan_t;

/* Check and copy req (deltas grouped by action; actions deduplicated).
 * -1 with err (ARB_INVALID_PARAMS naming the bad delta or action: nothing
 * may then be added) or ARB_INTERNAL when out of memory; free the plan
 * either way. */
int arb_arms_plan_init(arb_arms_plan_t *p, const arb_arms_sync_t *req, arb_err_t *err);

/* Group g's step on its stored value old (NULL: none), named `where` in
 * errors (the store): when the group has deltas, *rec (malloc'd, the
 * caller's) is the value to store, else *rec is NULL and nothing changes;
 * when wanted, the group's arms become what is stored afterwards (replacing
 * those of an earlier try). -1 with err (ARB_INTERNAL: old is corrupt, or
 * out of memory); *rec NULL. */
int arb_arms_plan_apply(arb_arms_plan_t *p, size_t g, const uint8_t *old, size_t old_len, const char *where,
                        uint8_t **rec, size_t *rec_len, arb_err_t *err);

/* Group g's step failed with err (its stored value is corrupt, or memory
 * ran out): its deltas are lost and it reads back nothing, logged; the
 * sync goes on with the other actions, so that one bad value does not stop
 * a node's learning. */
void arb_arms_plan_skip(arb_arms_plan_t *p, size_t g, const arb_err_t *err);

/* Every wanted group's arms in one array in the plan's arena (NULL, 0 when
 * none). -1 with err when out of memory. */
int arb_arms_plan_result(arb_arms_plan_t *p, const arb_arm_t **arms, size_t *n, arb_err_t *err);

void arb_arms_plan_free(arb_arms_plan_t *p);

#endif
