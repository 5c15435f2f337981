/* Listening and the accept hand-off (see listen.h): the TCP listener, the
 * public and admin Unix sockets (their paths claimed and released by
 * sockpath.c), and the accept callback on the main loop that duplicates each
 * new socket's descriptor and hands it to a worker, round-robin. Connections
 * past max_connections (lowered to what RLIMIT_NOFILE leaves past a reserve,
 * see arb_listen_reserve_fds) are closed at once and counted; admin
 * connections are never refused.
 */
#include "engine/server/listen.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "engine/base/log.h"
#include "engine/server/server_priv.h"

static void free_handle(uv_handle_t *h) { free(h); }

static void server_on_connection(uv_stream_t *listener, int status)
{
    arb_server_t *s = listener->data;
    if (status < 0 || s->stopping) return;
    bool is_pipe = listener->type == UV_NAMED_PIPE;
    bool admin = listener == (uv_stream_t *)&s->admin;
    uv_stream_t *client = malloc(is_pipe ? sizeof(uv_pipe_t) : sizeof(uv_tcp_t));
    if (!client) return;
    if (is_pipe) uv_pipe_init(&s->loop, (uv_pipe_t *)client, 0);
    else uv_tcp_init(&s->loop, (uv_tcp_t *)client);
    uv_os_fd_t fd = -1;
    int dupfd = -1;
    if (uv_accept(listener, client) == 0 && uv_fileno((uv_handle_t *)client, &fd) == 0)
        dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    uv_close((uv_handle_t *)client, free_handle);
    if (dupfd < 0) return;
    if (!admin && atomic_load(&s->open_public) >= s->public_limit) {
        close(dupfd);
        if (atomic_fetch_add(&s->refused, 1) % 1000 == 0)
            arb_log_warn("connection refused", "reason=\"connection limit\" limit=%d",
                         s->public_limit);
        return;
    }
    atomic_fetch_add(admin ? &s->open_admin : &s->open_public, 1);
    arb_inbox_item_t *it = calloc(1, sizeof *it);
    if (!it) {
        close(dupfd);
        arb__server_conn_closed(s, admin);
        return;
    }
    it->fd = dupfd;
    it->is_pipe = is_pipe;
    it->admin = admin;
    arb_worker_post(&s->workers[s->next_worker++ % (unsigned)s->nworkers], it);
}

static int parse_hostport(const char *hp, struct sockaddr_storage *ss)
{
    char host[256];
    const char *colon = strrchr(hp, ':');
    if (!colon || colon == hp || strlen(colon + 1) == 0) return UV_EINVAL;
    size_t hl = (size_t)(colon - hp);
    if (hl >= sizeof host) return UV_EINVAL;
    memcpy(host, hp, hl);
    host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) return UV_EINVAL;
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)ss);
    }
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss);
}

static int listen_tcp(arb_server_t *s)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    int r = parse_hostport(s->cfg.listen, &ss);
    if (r < 0) {
        arb_log_error("bad --listen address", "addr=%s hint=\"use HOST:PORT, e.g. 127.0.0.1:7878\"",
                      s->cfg.listen);
        return r;
    }
    uv_tcp_init(&s->loop, &s->tcp);
    s->has_tcp = true;
    s->tcp.data = s;
    r = uv_tcp_bind(&s->tcp, (struct sockaddr *)&ss, 0);
    if (r == 0) r = uv_listen((uv_stream_t *)&s->tcp, 1024, server_on_connection);
    if (r < 0) {
        arb_log_error("cannot listen", "addr=%s error=\"%s\"", s->cfg.listen, uv_strerror(r));
        return r;
    }
    arb_log_info("listening", "addr=%s kind=tcp", s->cfg.listen);
    return 0;
}

static int listen_unix(arb_server_t *s, uv_pipe_t *p, const char *path, bool admin)
{
    uv_pipe_init(&s->loop, p, 0);
    p->data = s;
    char err[256];
    if (arb_sockpath_claim(path, err, sizeof err) < 0) {
        arb_log_error("cannot listen", "path=%s kind=%s error=\"%s\"", path,
                      admin ? "admin" : "unix", err);
        return -1;
    }
    /* Bound here, not by uv_pipe_bind: libuv unlinks the path of a bound
     * pipe when it closes, whoever owns the path by then. The admin socket
     * is created 0600: no window where others may connect. */
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);   /* length checked by the claim */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), r = 0;
    mode_t old = umask(admin ? 0177 : 0111);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) r = -errno;
    umask(old);
    if (r == 0) {
        *(admin ? &s->admin_id : &s->sock_id) = arb_sockpath_identify(path);
        *(admin ? &s->has_admin : &s->has_sock) = true;
        r = uv_pipe_open(p, fd);
        if (r == 0) fd = -1;
        if (r == 0) r = uv_listen((uv_stream_t *)p, 1024, server_on_connection);
    }
    if (fd >= 0) close(fd);
    if (r < 0) {
        arb_log_error("cannot listen", "path=%s error=\"%s\"", path, uv_strerror(r));
        return r;
    }
    arb_log_info("listening", "path=%s kind=%s", path, admin ? "admin" : "unix");
    return 0;
}

/* Descriptors kept free for the admin socket and the server's own needs
 * (reading the rules folder, accepting and refusing one connection). */
#define FD_RESERVE 32

/* Public clients must not take the descriptors the admin socket and a
 * reload need: the public connection limit is lowered to what the open-file
 * limit (ulimit -n) leaves once the server's own descriptors and a reserve
 * are counted. A connection past it is accepted and closed at once, and
 * counted, so the listener never spins on EMFILE. */
int arb_listen_reserve_fds(arb_server_t *s)
{
    s->public_limit = s->cfg.max_connections;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY) return 0;
    int used = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return 0;
    while (readdir(d)) used++;
    closedir(d);
    used -= 2;   /* "." and ".."; the listing's own descriptor counts as slack */
    long room = (long)rl.rlim_cur - used - FD_RESERVE;
    if (room < 1) {
        arb_log_error("too few file descriptors", "open_file_limit=%llu in_use=%d reserve=%d "
                      "hint=\"raise ulimit -n\"", (unsigned long long)rl.rlim_cur, used,
                      FD_RESERVE);
        return -1;
    }
    if (room < s->public_limit) {
        arb_log_warn("connection limit lowered", "max_connections=%d limit=%ld open_file_limit=%llu "
                     "hint=\"raise ulimit -n\"", s->cfg.max_connections, room,
                     (unsigned long long)rl.rlim_cur);
        s->public_limit = (int)room;
    }
    return 0;
}

int arb_listen_all(arb_server_t *s)
{
    if (s->cfg.listen && listen_tcp(s) < 0) return -1;
    if (s->cfg.socket_path && listen_unix(s, &s->sock, s->cfg.socket_path, false) < 0) return -1;
    if (s->cfg.admin_path && listen_unix(s, &s->admin, s->cfg.admin_path, true) < 0) return -1;
    return 0;
}
