/* The listeners of the server (see listen.c): open every one the
 * configuration asks for, and lower the public connection limit to what the
 * open-file limit leaves. Both run on the main thread before serving.
 */
#ifndef ARB_LISTEN_H
#define ARB_LISTEN_H

#include "engine/server/server.h"

/* Open the TCP, Unix and admin listeners of s's configuration. Returns 0,
 * or -1 (logged) when one cannot listen. */
int arb_listen_all(arb_server_t *s);

/* Set s's public connection limit from max_connections and RLIMIT_NOFILE.
 * Returns 0, or -1 (logged) when too few descriptors are left to serve. */
int arb_listen_reserve_fds(arb_server_t *s);

#endif
