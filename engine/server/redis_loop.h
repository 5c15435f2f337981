/* The worker loop handed to a Redis store session (state/store.h's
 * arb_store_loop_t), built on libuv. Keeps the server's rule that only
 * engine/server/ includes uv.h: state/redis.c sees only these functions.
 */
#ifndef ARB_SERVER_REDIS_LOOP_H
#define ARB_SERVER_REDIS_LOOP_H

#include "engine/state/store.h"

#include <uv.h>

/* The hand-over for loop (not owned; it must outlive every session attached
 * with it). Pass the result to arb_store_session_attach. */
arb_store_loop_t arb_redis_loop(uv_loop_t *loop);

/* Start-up check of a --state redis://SEEDS spec (seeds without the
 * scheme): 0 when at least one seed answers CLUSTER SLOTS with a slot map
 * within timeout_ms, else -1 with err naming every seed and why it failed
 * (refused, timed out, not in cluster mode). Blocks: call it before the
 * workers start. */
int arb_redis_probe(const char *seeds, unsigned timeout_ms, arb_err_t *err);

#endif
