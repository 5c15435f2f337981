/* engine/server/: the methods bound to workers, connections and the loop.
 * The HTTP endpoint (--http HOST:PORT): /metrics, /healthz and /readyz,
 * served by libmicrohttpd on a thread of its own, never on a worker or the
 * main loop; it only reads what the workers count (relaxed atomics) and
 * what the server publishes to it (the ruleset serving now).
 */
#ifndef ARB_HTTP_H
#define ARB_HTTP_H

#include <stddef.h>

typedef struct arb_server arb_server_t;
typedef struct arb_ruleset arb_ruleset_t;
typedef struct arb_http arb_http_t;

/* Start serving on spec ("HOST:PORT"; the host an IPv4 or IPv6 literal or
 * a name resolved once) for server s (borrowed; it outlives the endpoint).
 * Returns the endpoint (owned by the caller, arb_http_stop frees it) or
 * NULL with a message in err (errlen bytes). */
arb_http_t *arb_http_start(arb_server_t *s, const char *spec, char *err, size_t errlen);

/* The ruleset serving now (retained here; the previous one released).
 * Called by the main thread at start and after every reload. */
void arb_http_set_ruleset(arb_http_t *h, arb_ruleset_t *rs);

/* Stop the thread, close every HTTP connection and free h (NULL is
 * ignored). Returns promptly: answers in progress are cut. */
void arb_http_stop(arb_http_t *h);

#endif
