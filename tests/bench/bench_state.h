/* bench_decide's stored customers (bench_state.c): fill a store with one
 * realistic record per context's customer_id before anything is timed. */
#ifndef ARB_BENCH_STATE_H
#define ARB_BENCH_STATE_H

#include <stddef.h>

#include <msgpack.h>

#include "engine/state/store.h"

/* Commit one record for each of the n contexts' customer_id through ss,
 * waiting for each commit's callback. *record_bytes: the encoded size of
 * the first context's record. 0, or -1 after printing why. */
int bench_state_fill(arb_store_session_t *ss, const msgpack_object *const *ctxs, size_t n,
                     size_t *record_bytes);

/* The context's customer_id copied into buf ("" when absent). */
const char *bench_state_id(const msgpack_object *ctx, char *buf, size_t cap);

#endif
