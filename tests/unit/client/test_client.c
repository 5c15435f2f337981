/* Unit tests for the blocking RPC client of the command line
 * (bindings/client/client.c) against a tiny scripted server in a thread:
 * results, error maps, split and pipelined answers, a close mid-answer, a
 * mismatched msgid, TCP over IPv4 and IPv6, and addresses it refuses.
 * Split from wire/test_json.c, which tests the JSON <-> MessagePack
 * conversion.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bindings/client/client.h"
#include "engine/wire/json.h"

/* ---- helpers: a scripted server ---------------------------------------- */

typedef enum {
    SRV_OK,            /* [1, msgid, nil, "ok"] */
    SRV_ERROR,         /* [1, msgid, {code, message}, nil] */
    SRV_NOT_RESPONSE,  /* a request frame instead of a response */
    SRV_BYTEWISE,      /* "ok" answer written one byte at a time */
    SRV_PIPELINE,      /* read two requests, answer both in one write */
    SRV_CLOSE_MID,     /* half a response, then close */
    SRV_WRONG_MSGID,   /* answer with msgid + 100 */
} srv_mode_t;

typedef struct {
    int listen_fd;
    srv_mode_t mode;
    pthread_t thread;
    char dir[64];
    char path[128];
    int port;
    /* What the server saw, checked by the test after joining. */
    int requests_seen;
    uint32_t msgids[2];
    char method[64];
    char params[256];
} test_server_t;

/* Read one msgpack object from fd; returns 0 on success. */
static int srv_read_object(int fd, msgpack_unpacker *u, msgpack_unpacked *out)
{
    for (;;) {
        msgpack_unpack_return r = msgpack_unpacker_next(u, out);
        if (r == MSGPACK_UNPACK_SUCCESS)
            return 0;
        if (r != MSGPACK_UNPACK_CONTINUE)
            return -1;
        if (!msgpack_unpacker_reserve_buffer(u, 1024))
            return -1;
        ssize_t n = read(fd, msgpack_unpacker_buffer(u), msgpack_unpacker_buffer_capacity(u));
        if (n <= 0)
            return -1;
        msgpack_unpacker_buffer_consumed(u, (size_t)n);
    }
}

/* Record a well-formed request [0, msgid, method, params]. */
static int srv_record(test_server_t *s, const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4)
        return -1;
    const msgpack_object *a = o->via.array.ptr;
    if (a[0].via.u64 != 0 || a[2].type != MSGPACK_OBJECT_STR || a[3].type != MSGPACK_OBJECT_ARRAY)
        return -1;
    s->msgids[s->requests_seen++] = (uint32_t)a[1].via.u64;
    snprintf(s->method, sizeof(s->method), "%.*s", (int)a[2].via.str.size, a[2].via.str.ptr);
    char *p = arb_msgpack_to_json(&a[3], 0);
    snprintf(s->params, sizeof(s->params), "%s", p ? p : "");
    free(p);
    return 0;
}

static void srv_pack_answer(msgpack_packer *pk, srv_mode_t mode, uint32_t msgid)
{
    if (mode == SRV_NOT_RESPONSE) {
        msgpack_pack_array(pk, 4);
        msgpack_pack_int(pk, 0);
        msgpack_pack_uint32(pk, msgid);
        msgpack_pack_str_with_body(pk, "hello", 5);
        msgpack_pack_array(pk, 0);
        return;
    }
    msgpack_pack_array(pk, 4);
    msgpack_pack_int(pk, 1);
    msgpack_pack_uint32(pk, mode == SRV_WRONG_MSGID ? msgid + 100 : msgid);
    if (mode == SRV_ERROR) {
        msgpack_pack_map(pk, 2);
        msgpack_pack_str_with_body(pk, "code", 4);
        msgpack_pack_int(pk, -32601);
        msgpack_pack_str_with_body(pk, "message", 7);
        msgpack_pack_str_with_body(pk, "no such method", 14);
        msgpack_pack_nil(pk);
    } else {
        msgpack_pack_nil(pk);
        msgpack_pack_str_with_body(pk, "ok", 2);
    }
}

static void srv_write(int fd, const msgpack_sbuffer *sb, srv_mode_t mode)
{
    if (mode == SRV_BYTEWISE) {
        for (size_t i = 0; i < sb->size; i++) {
            if (write(fd, sb->data + i, 1) != 1)
                return;
            usleep(1000);
        }
    } else if (mode == SRV_CLOSE_MID) {
        (void)!write(fd, sb->data, sb->size / 2);
    } else {
        (void)!write(fd, sb->data, sb->size);
    }
}

static void *srv_main(void *arg)
{
    test_server_t *s = arg;
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    msgpack_unpacker u;
    msgpack_unpacker_init(&u, 1024);
    msgpack_unpacked obj;
    msgpack_unpacked_init(&obj);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int want = s->mode == SRV_PIPELINE ? 2 : 1;
    for (int i = 0; i < want; i++) {
        if (srv_read_object(fd, &u, &obj) != 0 || srv_record(s, &obj.data) != 0)
            goto out;
        srv_pack_answer(&pk, s->mode, s->msgids[i]);
    }
    srv_write(fd, &sb, s->mode);
    /* Wait for the client to hang up so our answer is not cut short. */
    char c;
    while (read(fd, &c, 1) > 0) {
    }
out:
    msgpack_sbuffer_destroy(&sb);
    msgpack_unpacked_destroy(&obj);
    msgpack_unpacker_destroy(&u);
    close(fd);
    return NULL;
}

static void srv_start_unix(test_server_t *s, srv_mode_t mode)
{
    memset(s, 0, sizeof(*s));
    s->mode = mode;
    strcpy(s->dir, "/tmp/arb_test_json_XXXXXX");
    cr_assert_not_null(mkdtemp(s->dir));
    snprintf(s->path, sizeof(s->path), "%s/sock", s->dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, s->path);
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert_geq(s->listen_fd, 0);
    cr_assert_eq(bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
    cr_assert_eq(listen(s->listen_fd, 1), 0);
    cr_assert_eq(pthread_create(&s->thread, NULL, srv_main, s), 0);
}

/* Listen on a loopback address; returns 0, or -1 if the family is missing. */
static int srv_start_tcp(test_server_t *s, srv_mode_t mode, int v6)
{
    memset(s, 0, sizeof(*s));
    s->mode = mode;
    struct sockaddr_storage ss = {0};
    socklen_t len;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*a);
    }
    s->listen_fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&ss, len) != 0) {
        if (s->listen_fd >= 0)
            close(s->listen_fd);
        return -1;
    }
    cr_assert_eq(listen(s->listen_fd, 1), 0);
    cr_assert_eq(getsockname(s->listen_fd, (struct sockaddr *)&ss, &len), 0);
    s->port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    cr_assert_eq(pthread_create(&s->thread, NULL, srv_main, s), 0);
    return 0;
}

static void srv_finish(test_server_t *s, arb_client_t *c)
{
    arb_client_close(c);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    if (s->path[0]) {
        unlink(s->path);
        rmdir(s->dir);
    }
}

static arb_client_t *connect_unix(test_server_t *s)
{
    char err[256] = "";
    arb_client_t *c = arb_client_connect_unix(s->path, err, sizeof(err));
    cr_assert_not_null(c, "connect failed: %s", err);
    return c;
}

/* ---- client tests ------------------------------------------------------ */

Test(client, call_returns_result, .timeout = 10)
{
    test_server_t s;
    srv_start_unix(&s, SRV_OK);
    arb_client_t *c = connect_unix(&s);
    cr_expect_geq(arb_client_fd(c), 0);
    arb_client_reply_t r;
    char err[256] = "";
    cr_assert_eq(arb_client_call(c, "ping", NULL, 0, &r, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(r.is_error, 0);
    cr_assert_eq(r.result.type, MSGPACK_OBJECT_STR);
    cr_expect_eq(r.result.via.str.size, 2);
    cr_expect_eq(memcmp(r.result.via.str.ptr, "ok", 2), 0);
    arb_client_reply_destroy(&r);
    srv_finish(&s, c);
    cr_expect_eq(s.requests_seen, 1);
    cr_expect_eq(r.msgid, 0); /* destroy clears the reply */
    cr_expect_str_eq(s.method, "ping");
    cr_expect_str_eq(s.params, "[]");
}

Test(client, call_returns_error_map, .timeout = 10)
{
    test_server_t s;
    srv_start_unix(&s, SRV_ERROR);
    arb_client_t *c = connect_unix(&s);
    arb_client_reply_t r;
    char err[256] = "";
    cr_assert_eq(arb_client_call(c, "nope", NULL, 0, &r, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(r.is_error, 1);
    cr_assert_eq(r.error.type, MSGPACK_OBJECT_MAP);
    char *j = arb_msgpack_to_json(&r.error, 0);
    cr_expect_str_eq(j, "{\"code\":-32601,\"message\":\"no such method\"}");
    free(j);
    arb_client_reply_destroy(&r);
    srv_finish(&s, c);
}

Test(client, non_response_frame_fails_recv, .timeout = 10)
{
    test_server_t s;
    srv_start_unix(&s, SRV_NOT_RESPONSE);
    arb_client_t *c = connect_unix(&s);
    cr_assert_eq(arb_client_send(c, 5, "ping", NULL, 0), 0);
    arb_client_reply_t r;
    char err[256] = "";
    cr_assert_eq(arb_client_recv(c, &r, err, sizeof(err)), -1);
    cr_expect(strstr(err, "expected a response") != NULL, "got: %s", err);
    cr_expect(strstr(err, "a request") != NULL, "got: %s", err);
    arb_client_reply_destroy(&r); /* safe after a failed recv */
    srv_finish(&s, c);
}

Test(client, response_split_across_reads, .timeout = 10)
{
    test_server_t s;
    srv_start_unix(&s, SRV_BYTEWISE);
    arb_client_t *c = connect_unix(&s);
    arb_client_reply_t r;
    char err[256] = "";
    cr_assert_eq(arb_client_call(c, "ping", NULL, 0, &r, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(r.result.type, MSGPACK_OBJECT_STR);
    arb_client_reply_destroy(&r);
    srv_finish(&s, c);
}

Test(client, pipelined_responses_in_one_read, .timeout = 10)
{
    test_server_t s;
    srv_start_unix(&s, SRV_PIPELINE);
    arb_client_t *c = connect_unix(&s);
    cr_assert_eq(arb_client_send(c, 7, "a", NULL, 0), 0);
    cr_assert_eq(arb_client_send(c, 8, "b", "\x91\x01", 2), 0);
    arb_client_reply_t r1, r2;
    char err[256] = "";
    cr_assert_eq(arb_client_recv(c, &r1, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(arb_client_recv(c, &r2, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(r1.msgid, 7);
    cr_expect_eq(r2.msgid, 8);
    arb_client_reply_destroy(&r1);
    arb_client_reply_destroy(&r2);
    srv_finish(&s, c);
    cr_expect_str_eq(s.params, "[1]");
}

Test(client, close_mid_response_is_reported, .timeout = 10)
{
    test_server_t s;
    srv_start_unix(&s, SRV_CLOSE_MID);
    /* The server waits for us to hang up, so shut its side by hand. */
    arb_client_t *c = connect_unix(&s);
    cr_assert_eq(arb_client_send(c, 1, "ping", NULL, 0), 0);
    arb_client_reply_t r;
    char err[256] = "";
    shutdown(arb_client_fd(c), SHUT_WR);
    cr_assert_eq(arb_client_recv(c, &r, err, sizeof(err)), -1);
    cr_expect_str_eq(err, "connection closed by server in the middle of a response");
    srv_finish(&s, c);
}

Test(client, mismatched_msgid_fails_call, .timeout = 10)
{
    test_server_t s;
    srv_start_unix(&s, SRV_WRONG_MSGID);
    arb_client_t *c = connect_unix(&s);
    arb_client_reply_t r;
    char err[256] = "";
    cr_assert_eq(arb_client_call(c, "ping", NULL, 0, &r, err, sizeof(err)), -1);
    cr_expect(strstr(err, "does not match") != NULL, "got: %s", err);
    srv_finish(&s, c);
}

Test(client, params_must_be_an_array)
{
    test_server_t s;
    srv_start_unix(&s, SRV_OK);
    arb_client_t *c = connect_unix(&s);
    errno = 0;
    cr_expect_eq(arb_client_send(c, 1, "ping", "\x01", 1), -1);
    cr_expect_eq(errno, EINVAL);
    arb_client_reply_t r;
    char err[256] = "";
    cr_expect_eq(arb_client_call(c, "ping", "\xc0", 1, &r, err, sizeof(err)), -1);
    cr_expect_str_eq(err, "params must be a msgpack array");
    arb_client_reply_destroy(&r);
    srv_finish(&s, c);
}

Test(client, tcp_ipv4_with_params, .timeout = 10)
{
    test_server_t s;
    cr_assert_eq(srv_start_tcp(&s, SRV_OK, 0), 0);
    char addr[64], err[256] = "";
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", s.port);
    arb_client_t *c = arb_client_connect_tcp(addr, err, sizeof(err));
    cr_assert_not_null(c, "%s", err);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_write(&sb, "\x91", 1);
    cr_assert_eq(arb_json_to_msgpack("{\"user\": {\"id\": 3}}", &sb, err, sizeof(err)), 0);
    arb_client_reply_t r;
    cr_assert_eq(arb_client_call(c, "decide", sb.data, sb.size, &r, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(r.is_error, 0);
    arb_client_reply_destroy(&r);
    msgpack_sbuffer_destroy(&sb);
    srv_finish(&s, c);
    cr_expect_str_eq(s.method, "decide");
    cr_expect_str_eq(s.params, "[{\"user\":{\"id\":3}}]");
}

Test(client, tcp_ipv6_bracketed, .timeout = 10)
{
    test_server_t s;
    if (srv_start_tcp(&s, SRV_OK, 1) != 0)
        cr_skip_test("no IPv6 loopback here");
    char addr[64], err[256] = "";
    snprintf(addr, sizeof(addr), "[::1]:%d", s.port);
    arb_client_t *c = arb_client_connect_tcp(addr, err, sizeof(err));
    cr_assert_not_null(c, "%s", err);
    arb_client_reply_t r;
    cr_assert_eq(arb_client_call(c, "ping", NULL, 0, &r, err, sizeof(err)), 0, "%s", err);
    arb_client_reply_destroy(&r);
    srv_finish(&s, c);
}

Test(client, bad_addresses_are_rejected)
{
    static const char *bad[] = {"localhost", "localhost:", ":7878", "host:abc", "host:0",
                                "host:65536", "host:12x", "[::1]", "[::1]7878", "::1:7878",
                                "host:-1", "[]:7878"};
    char err[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        cr_expect_null(arb_client_connect_tcp(bad[i], err, sizeof(err)), "%s", bad[i]);
        cr_expect(strstr(err, "bad address") != NULL, "%s: got '%s'", bad[i], err);
    }
}

Test(client, connect_failures_name_the_target)
{
    char err[256] = "";
    cr_expect_null(arb_client_connect_unix("/nonexistent/arb.sock", err, sizeof(err)));
    cr_expect(strstr(err, "/nonexistent/arb.sock") != NULL, "got: %s", err);
    cr_expect_null(arb_client_connect_unix("", err, sizeof(err)));
    arb_client_close(NULL);
}
