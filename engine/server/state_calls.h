/* The methods that read or write the customer store (decide with a
 * customer_id, track, feedback, customer, forget), bound to a worker.
 *
 * The store may complete a call later, on its writer thread (state/store.h):
 * such a request becomes an arb_pending_t, owned by its worker, and is
 * finished on the worker's loop when the store's completion comes back
 * through the worker's inbox (arb_worker_post). Its answer then goes to its
 * connection by id, in its place in the connection's line (conn.h: answers
 * keep the order of requests), or is dropped when the connection has
 * closed. A store that calls back at once (memory, every LMDB fetch) is
 * answered in place, like any other method.
 */
#ifndef ARB_STATE_CALLS_H
#define ARB_STATE_CALLS_H

#include <msgpack.h>

#include "engine/base/error.h"
#include "engine/base/stats.h"
#include "engine/request/context.h"
#include "engine/server/server.h"

typedef struct arb_pending arb_pending_t;

/* Run method m (decide, track, feedback, customer or forget) for frame
 * msgid of connection c on worker w; notify: a notification, applied without
 * an answer. Returns 0 when the answer was packed into pk or deferred (or
 * there is none), -1 with err for an error answer. */
int arb_state_call(arb_worker_t *w, arb_conn_t *c, arb_method_t m, uint32_t msgid, bool notify,
                   const msgpack_object *arg, msgpack_packer *pk, arb_err_t *err);

/* decide's common request, its context ctx already parsed (in parse_ns)
 * from params[0]'s bytes [bytes, + len) in the frame c is handling (both
 * borrowed for the call; a request that waits on the store keeps the
 * frame's bytes). As arb_state_call otherwise. */
int arb_state_decide(arb_worker_t *w, arb_conn_t *c, uint32_t msgid, const arb_context_t *ctx,
                     uint64_t parse_ns, const char *bytes, size_t len, msgpack_packer *pk,
                     arb_err_t *err);

/* Called on w's thread with a completion posted by the store's thread:
 * carry p on, and answer it when it is done. */
void arb_state_resume(arb_worker_t *w, arb_pending_t *p);

/* Free the finished requests w keeps for its next ones (on w's thread, or
 * once it has ended). */
void arb_state_spares_free(arb_worker_t *w);

/* Where a decision's customer_id is, or NULL when the context names none
 * (then the decision reads and writes no state). */
const msgpack_object *arb_state_customer_id(const msgpack_object *ctx);

#endif
