/* Claiming and releasing Unix socket paths (see sockpath.h).
 *
 * Whether a socket file is live is asked the only reliable way: connect to
 * it. A non-blocking connect that succeeds or finds the backlog full
 * (EAGAIN) means a program listens; ECONNREFUSED means the file outlived its
 * server. The check and the bind are not atomic: two servers started at the
 * same instant may still race, which bind's EADDRINUSE then reports.
 */
#include "engine/server/sockpath.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int arb_sockpath_claim(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof sa.sun_path) {
        snprintf(err, errlen, "socket path is %zu bytes long; a Unix socket path holds 1 to %zu "
                 "bytes (use a shorter path)", len, sizeof sa.sun_path - 1);
        return -1;
    }
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "cannot inspect the socket path: %s", strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "the path exists and is not a socket (refusing to replace it)");
        return -1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, len + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "cannot probe the socket path: %s", strerror(errno));
        return -1;
    }
    int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    int e = errno;
    close(fd);
    if (r == 0 || e == EAGAIN || e == EINPROGRESS) {
        snprintf(err, errlen, "a running program listens on this socket path (another server?); "
                 "stop it or choose another path");
        return -1;
    }
    if (e != ECONNREFUSED) {
        snprintf(err, errlen, "cannot probe the socket path: %s", strerror(e));
        return -1;
    }
    if (unlink(path) < 0 && errno != ENOENT) {   /* stale: its server is gone */
        snprintf(err, errlen, "cannot remove the stale socket: %s", strerror(errno));
        return -1;
    }
    return 0;
}

arb_sockpath_id_t arb_sockpath_identify(const char *path)
{
    arb_sockpath_id_t id = { 0 };
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        id.dev = st.st_dev;
        id.ino = st.st_ino;
        id.valid = true;
    }
    return id;
}

void arb_sockpath_release(const char *path, arb_sockpath_id_t id)
{
    struct stat st;
    if (id.valid && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == id.dev &&
        st.st_ino == id.ino)
        unlink(path);
}
