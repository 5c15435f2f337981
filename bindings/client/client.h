/* Arbiter C client: a blocking MessagePack-RPC client for one connection.
 *
 * Used by the `arbiter call` and `arbiter reload` commands and by the
 * benchmark's load generator. It speaks the standard MessagePack-RPC framing
 * (request [0, msgid, method, params], response [1, msgid, error, result]),
 * so it also works against any other msgpack-rpc server.
 *
 * Ownership: an arb_client_t is created by arb_client_connect_* and owned by
 * the caller until arb_client_close. A result handed out by arb_client_call
 * lives in the arb_client_reply_t the caller passed in, until the caller calls
 * arb_client_reply_destroy on it.
 */
#ifndef ARB_CLIENT_H
#define ARB_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

typedef struct arb_client arb_client_t;

/* One answer from the server. Exactly one of `error` and `result` is
 * meaningful: `is_error` says which. Both point into `zone`-owned memory. */
typedef struct arb_client_reply {
    uint32_t msgid;          /* msgid the server echoed */
    int is_error;            /* 1 when the server answered an error */
    msgpack_object error;    /* the error map {code, message} when is_error */
    msgpack_object result;   /* the result when !is_error */
    msgpack_unpacked unpacked; /* owns the memory behind error and result */
} arb_client_reply_t;

/* Connect to HOST:PORT over TCP ("127.0.0.1:7878"; "[::1]:7878" for IPv6).
 * Returns NULL and writes a message into errbuf on failure. */
arb_client_t *arb_client_connect_tcp(const char *hostport, char *errbuf, size_t errlen);

/* Connect to a Unix socket at path. Returns NULL and writes errbuf on failure. */
arb_client_t *arb_client_connect_unix(const char *path, char *errbuf, size_t errlen);

/* Send request [0, msgid, method, params] where params is the msgpack bytes of
 * an array (the caller packs it; NULL/0 means the empty array). Does not wait. */
int arb_client_send(arb_client_t *c, uint32_t msgid, const char *method,
                    const char *params, size_t params_len);

/* Wait for the next response frame and fill *reply. Returns 0, or -1 with a
 * message in errbuf when the connection failed or the frame was not a
 * response. */
int arb_client_recv(arb_client_t *c, arb_client_reply_t *reply, char *errbuf, size_t errlen);

/* send + recv of one request, matching the msgid. */
int arb_client_call(arb_client_t *c, const char *method, const char *params,
                    size_t params_len, arb_client_reply_t *reply,
                    char *errbuf, size_t errlen);

/* Release the memory behind a reply. */
void arb_client_reply_destroy(arb_client_reply_t *reply);

/* The socket's file descriptor (for poll-based callers such as a load generator). */
int arb_client_fd(const arb_client_t *c);

/* Close the connection and free the client. NULL is allowed. */
void arb_client_close(arb_client_t *c);

#endif
