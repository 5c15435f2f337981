/* Unix socket paths: taking one without stealing it, giving back only ours.
 *
 * A socket path is a name in the file system that any program may hold. A
 * second server started with the path of a live one must not unlink it (the
 * first would keep running, unreachable); a path that is not a socket at all
 * must not be replaced; a path longer than sun_path must not be silently
 * truncated into another name. On shutdown a server removes the path only
 * if it still names the socket it created.
 */
#ifndef ARB_SOCKPATH_H
#define ARB_SOCKPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Make path ready for bind: 0 when it is free (a stale socket nobody
 * answers on is removed); -1 with a reason in err when it is too long, is
 * not a socket, or a live program listens on it (left untouched). */
int arb_sockpath_claim(const char *path, char *err, size_t errlen);

/* What path names now (after bind): the identity to check at release. */
typedef struct arb_sockpath_id {
    dev_t dev;
    ino_t ino;
    bool valid;
} arb_sockpath_id_t;

arb_sockpath_id_t arb_sockpath_identify(const char *path);

/* Unlink path only if it still names the socket id. */
void arb_sockpath_release(const char *path, arb_sockpath_id_t id);

#endif
