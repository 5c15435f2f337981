/* The methods, bound to a worker: one whole frame in, its answer packed.
 *
 * service.c reads the envelope with wire/rpc.c, runs the method with the
 * worker's ruleset, decider and arena, and packs the result with
 * wire/answer.c; every error, whatever its origin, leaves through
 * arb_rpc_pack_error and is counted once in the worker's stats.
 */
#ifndef ARB_SERVICE_H
#define ARB_SERVICE_H

#include <msgpack.h>

#include "engine/server/server.h"

/* Answer frame (len bytes from conn c on worker w, as the frame scanner
 * took them: decide's common request is read from its bytes, any other is
 * unpacked with arb_conn_frame_tree) into pk, whose data is an
 * arb_answer_t (wire/rpc.h). An answer that would pass the answer's limit is
 * replaced by too_large, one whose memory could not be allocated by
 * internal: nothing partial is left in the buffer. Returns 0, or -1 when the
 * frame is not RPC (or not even an error answer could be packed) and the
 * connection must close once what was packed is written. */
int arb_service_handle(arb_worker_t *w, arb_conn_t *c, const char *frame, size_t len,
                       msgpack_packer *pk);

#endif
