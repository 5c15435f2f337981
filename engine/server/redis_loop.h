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

#endif
