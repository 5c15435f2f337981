/* The server: listeners on the main thread, N worker threads each running its
 * own libuv loop, and the control path (signals, reload).
 *
 * Threads: the main thread owns the listening sockets, the signal handlers
 * and reloads; it accepts every connection and hands its file descriptor to a
 * worker, round-robin. A worker owns its connections and its decider, and
 * holds a ruleset: its own copy (with its own lua_State) when the rules have
 * plain Lua functions, else one copy shared read-only by every worker (see
 * ruleset.h); nothing on the decide path takes a lock.
 */
#ifndef ARB_SERVER_H
#define ARB_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "engine/server/config.h"
#include "engine/base/stats.h"

typedef struct arb_ruleset arb_ruleset_t;
typedef struct arb_conn arb_conn_t;
typedef struct arb_server arb_server_t;
typedef struct arb_worker arb_worker_t;

/* Run the server until SIGTERM/SIGINT. Returns the process exit code:
 * 0 after a clean shutdown, 2 when it could not start. */
int arb_server_run(const arb_config_t *cfg);

/* Called on a worker thread: the configuration in force. */
const arb_config_t *arb_server_config(const arb_server_t *s);

/* Called on a worker thread when a connection closes. */
void arb__server_conn_closed(arb_server_t *s, bool admin);

/* Called on a worker thread for `reload`: ask the control thread to reload.
 * The answer arrives later via arb__worker_post_reply for (conn_id, msgid). */
void arb__server_request_reload(arb_server_t *s, arb_worker_t *w, uint64_t conn_id,
                                uint32_t msgid);

/* Summed stats of every worker plus server-wide gauges, for `stats`. */
void arb__server_stats(arb_server_t *s, arb_stats_t *sum, int64_t *open_connections,
                       uint64_t *reloads_ok, uint64_t *reloads_failed,
                       uint64_t *connections_refused);

#endif
