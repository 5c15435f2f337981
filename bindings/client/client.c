/* Arbiter C client: blocking MessagePack-RPC over one TCP or Unix socket.
 *
 * Requests are packed with msgpack_packer into an sbuffer and written whole;
 * responses are read through a streaming msgpack_unpacker so that frames split
 * across reads, or several frames arriving in one read, are both handled.
 */
#include "bindings/client/client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* How much room to ask the unpacker for before each read. */
#define ARB_CLIENT_READ_CHUNK 4096

struct arb_client {
    int fd;
    uint32_t next_msgid;
    msgpack_unpacker unpacker;
};

/* snprintf into a caller buffer that may be NULL or empty. */
static void arb_set_err(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void arb_set_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (errbuf == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

static arb_client_t *arb_client_wrap(int fd, char *errbuf, size_t errlen)
{
    arb_client_t *c = calloc(1, sizeof(*c));
    if (c == NULL || !msgpack_unpacker_init(&c->unpacker, MSGPACK_UNPACKER_INIT_BUFFER_SIZE)) {
        free(c);
        close(fd);
        arb_set_err(errbuf, errlen, "out of memory");
        return NULL;
    }
    c->fd = fd;
    c->next_msgid = 1;
    return c;
}

/* ---- connecting ------------------------------------------------------ */

/* Copy a decimal port 1-65535 into port; service names are not accepted so
 * that a typo fails here rather than as a lookup error. */
static int arb_copy_port(const char *p, char *port, size_t portlen)
{
    size_t len = strspn(p, "0123456789");
    if (len == 0 || p[len] != '\0' || len >= portlen)
        return -1;
    long v = strtol(p, NULL, 10);
    if (v < 1 || v > 65535)
        return -1;
    memcpy(port, p, len + 1);
    return 0;
}

/* Split "host:port" or "[v6]:port" into host and port strings. Unbracketed
 * hosts may not contain ':' because "::1:7878" cannot be split reliably. */
static int arb_split_hostport(const char *hostport, char *host, size_t hostlen,
                              char *port, size_t portlen, char *errbuf, size_t errlen)
{
    const char *h = hostport, *hend, *p;
    if (hostport[0] == '[') {
        h = hostport + 1;
        hend = strchr(h, ']');
        if (hend == NULL || hend[1] != ':') {
            arb_set_err(errbuf, errlen, "bad address '%s': expected [IPv6]:PORT", hostport);
            return -1;
        }
        p = hend + 2;
    } else {
        hend = strrchr(hostport, ':');
        if (hend == NULL || memchr(hostport, ':', (size_t)(hend - hostport)) != NULL) {
            arb_set_err(errbuf, errlen, "bad address '%s': expected HOST:PORT or [IPv6]:PORT",
                        hostport);
            return -1;
        }
        p = hend + 1;
    }
    size_t n = (size_t)(hend - h);
    if (n == 0 || n >= hostlen) {
        arb_set_err(errbuf, errlen, "bad address '%s': %s host", hostport, n ? "overlong" : "empty");
        return -1;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    if (arb_copy_port(p, port, portlen) < 0) {
        arb_set_err(errbuf, errlen, "bad address '%s': port must be 1-65535", hostport);
        return -1;
    }
    return 0;
}

/* Try each resolved address in turn; returns a connected fd or -1 with the
 * errno of the last attempt. */
static int arb_connect_any(const struct addrinfo *list)
{
    int saved = ECONNREFUSED;
    for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int rc;
        do {
            rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        } while (rc < 0 && errno == EINTR);
        if (rc == 0)
            return fd;
        saved = errno;
        close(fd);
    }
    errno = saved;
    return -1;
}

arb_client_t *arb_client_connect_tcp(const char *hostport, char *errbuf, size_t errlen)
{
    char host[256], port[8];
    if (hostport == NULL || arb_split_hostport(hostport, host, sizeof(host), port, sizeof(port),
                                               errbuf, errlen) < 0) {
        if (hostport == NULL)
            arb_set_err(errbuf, errlen, "no address given");
        return NULL;
    }
    struct addrinfo hints = {0}, *list = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
    int gai = getaddrinfo(host, port, &hints, &list);
    if (gai != 0) {
        arb_set_err(errbuf, errlen, "cannot resolve '%s': %s", host,
                    gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
        return NULL;
    }
    int fd = arb_connect_any(list);
    freeaddrinfo(list);
    if (fd < 0) {
        arb_set_err(errbuf, errlen, "cannot connect to %s: %s", hostport, strerror(errno));
        return NULL;
    }
    /* Requests are small and latency-bound; Nagle would hold them back. */
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return arb_client_wrap(fd, errbuf, errlen);
}

arb_client_t *arb_client_connect_unix(const char *path, char *errbuf, size_t errlen)
{
    struct sockaddr_un sa = {0};
    sa.sun_family = AF_UNIX;
    if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof(sa.sun_path)) {
        arb_set_err(errbuf, errlen, "bad unix socket path '%s': %s", path ? path : "",
                    path && path[0] ? "longer than 107 bytes" : "empty");
        return NULL;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        arb_set_err(errbuf, errlen, "socket: %s", strerror(errno));
        return NULL;
    }
    int rc;
    do {
        rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        arb_set_err(errbuf, errlen, "cannot connect to %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    return arb_client_wrap(fd, errbuf, errlen);
}

/* ---- sending --------------------------------------------------------- */

/* Write all of buf. MSG_NOSIGNAL turns a peer that hung up into EPIPE rather
 * than a process-killing SIGPIPE. */
static int arb_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Cheap guard against callers passing a bare value instead of an array,
 * which a server would reject with a less obvious message. */
static int arb_is_array_header(const char *params, size_t len)
{
    if (len == 0)
        return 0;
    unsigned char b = (unsigned char)params[0];
    return (b >= 0x90 && b <= 0x9f) || b == 0xdc || b == 0xdd;
}

/* On failure errno says why: EINVAL for params that are not an array,
 * ENOMEM, or the socket's own error. */
int arb_client_send(arb_client_t *c, uint32_t msgid, const char *method,
                    const char *params, size_t params_len)
{
    if (params != NULL && params_len > 0 && !arb_is_array_header(params, params_len)) {
        errno = EINVAL;
        return -1;
    }
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    size_t mlen = strlen(method);
    int rc = msgpack_pack_array(&pk, 4);
    rc |= msgpack_pack_uint8(&pk, 0);
    rc |= msgpack_pack_uint32(&pk, msgid);
    rc |= msgpack_pack_str(&pk, mlen);
    rc |= msgpack_pack_str_body(&pk, method, mlen);
    if (params != NULL && params_len > 0)
        rc |= msgpack_sbuffer_write(&sb, params, params_len);
    else
        rc |= msgpack_pack_array(&pk, 0);
    if (rc != 0) {
        msgpack_sbuffer_destroy(&sb);
        errno = ENOMEM;
        return -1;
    }
    rc = arb_write_all(c->fd, sb.data, sb.size);
    int saved = errno;
    msgpack_sbuffer_destroy(&sb);
    errno = saved;
    return rc;
}

/* ---- receiving ------------------------------------------------------- */

static const char *arb_frame_kind(const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size == 0)
        return "not an array";
    const msgpack_object *t = &o->via.array.ptr[0];
    if (t->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return "an array without a message type";
    switch (t->via.u64) {
    case 0: return "a request";
    case 1: return "a response of the wrong size";
    case 2: return "a notification";
    default: return "an unknown message type";
    }
}

/* Check the frame is [1, msgid, error, result] and fill reply from it. */
static int arb_fill_reply(arb_client_reply_t *reply, char *errbuf, size_t errlen)
{
    const msgpack_object *o = &reply->unpacked.data;
    const msgpack_object *a = o->via.array.ptr;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4 ||
        a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[0].via.u64 != 1) {
        arb_set_err(errbuf, errlen, "protocol error: expected a response [1, msgid, error, result], "
                    "server sent %s", arb_frame_kind(o));
        return -1;
    }
    if (a[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[1].via.u64 > UINT32_MAX) {
        arb_set_err(errbuf, errlen, "protocol error: response msgid is not a uint32");
        return -1;
    }
    reply->msgid = (uint32_t)a[1].via.u64;
    reply->is_error = a[2].type != MSGPACK_OBJECT_NIL;
    reply->error = a[2];
    reply->result = a[3];
    return 0;
}

/* Read more bytes into the unpacker. Returns bytes read, 0 on EOF, -1 on error. */
static ssize_t arb_read_some(arb_client_t *c)
{
    if (!msgpack_unpacker_reserve_buffer(&c->unpacker, ARB_CLIENT_READ_CHUNK)) {
        errno = ENOMEM;
        return -1;
    }
    ssize_t n;
    do {
        n = recv(c->fd, msgpack_unpacker_buffer(&c->unpacker),
                 msgpack_unpacker_buffer_capacity(&c->unpacker), 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0)
        msgpack_unpacker_buffer_consumed(&c->unpacker, (size_t)n);
    return n;
}

/* Pull the next complete msgpack object into reply->unpacked. */
static int arb_next_object(arb_client_t *c, arb_client_reply_t *reply, char *errbuf, size_t errlen)
{
    for (;;) {
        msgpack_unpack_return r = msgpack_unpacker_next(&c->unpacker, &reply->unpacked);
        if (r == MSGPACK_UNPACK_SUCCESS)
            return 0;
        if (r == MSGPACK_UNPACK_PARSE_ERROR) {
            arb_set_err(errbuf, errlen, "protocol error: server sent malformed msgpack");
            return -1;
        }
        if (r == MSGPACK_UNPACK_NOMEM_ERROR) {
            /* msgpack-c also reports nesting deeper than 32 levels this way. */
            arb_set_err(errbuf, errlen, "response too large or nested too deeply to decode");
            return -1;
        }
        /* Bytes of an unfinished frame make an EOF worth calling out. */
        int pending = msgpack_unpacker_message_size(&c->unpacker) > 0;
        ssize_t n = arb_read_some(c);
        if (n == 0) {
            arb_set_err(errbuf, errlen, "connection closed by server%s",
                        pending ? " in the middle of a response" : "");
            return -1;
        }
        if (n < 0) {
            arb_set_err(errbuf, errlen, "receive failed: %s", strerror(errno));
            return -1;
        }
    }
}

int arb_client_recv(arb_client_t *c, arb_client_reply_t *reply, char *errbuf, size_t errlen)
{
    memset(reply, 0, sizeof(*reply));
    msgpack_unpacked_init(&reply->unpacked);
    if (arb_next_object(c, reply, errbuf, errlen) == 0 &&
        arb_fill_reply(reply, errbuf, errlen) == 0)
        return 0;
    /* Leave the reply empty but still safe to destroy. */
    arb_client_reply_destroy(reply);
    return -1;
}

int arb_client_call(arb_client_t *c, const char *method, const char *params,
                    size_t params_len, arb_client_reply_t *reply,
                    char *errbuf, size_t errlen)
{
    uint32_t msgid = c->next_msgid++;
    if (arb_client_send(c, msgid, method, params, params_len) < 0) {
        memset(reply, 0, sizeof(*reply));
        msgpack_unpacked_init(&reply->unpacked);
        if (errno == EINVAL)
            arb_set_err(errbuf, errlen, "params must be a msgpack array");
        else
            arb_set_err(errbuf, errlen, "send failed: %s", strerror(errno));
        return -1;
    }
    if (arb_client_recv(c, reply, errbuf, errlen) < 0)
        return -1;
    /* A mismatch means responses to earlier pipelined sends are still queued;
     * silently skipping them would hide the caller's bug. */
    if (reply->msgid != msgid) {
        arb_set_err(errbuf, errlen, "protocol error: response msgid %u does not match request msgid %u",
                    (unsigned)reply->msgid, (unsigned)msgid);
        arb_client_reply_destroy(reply);
        return -1;
    }
    return 0;
}

void arb_client_reply_destroy(arb_client_reply_t *reply)
{
    if (reply == NULL)
        return;
    msgpack_unpacked_destroy(&reply->unpacked);
    memset(reply, 0, sizeof(*reply));
    msgpack_unpacked_init(&reply->unpacked);
}

int arb_client_fd(const arb_client_t *c)
{
    return c->fd;
}

void arb_client_close(arb_client_t *c)
{
    if (c == NULL)
        return;
    close(c->fd);
    msgpack_unpacker_destroy(&c->unpacker);
    free(c);
}
