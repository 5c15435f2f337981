/* Unit tests for holding a connection set's writes (engine/server/conn.c,
 * arb_conns_hold_writes): answers sent while the set holds are written at
 * the release, all of a connection's in one write, in order; without a
 * hold each is written at once; late answers keep the order of their
 * requests, and a slot answered at the head of the line serves the next
 * deferral. A real libuv loop and a real socket pair.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/server/conn.h"

static uv_loop_t loop;
static arb_config_t cfg;
static arb_stats_t stats;
static arb_conns_t set;
static int peer = -1;

static int no_frame(arb_conn_t *c, const char *f, size_t len, msgpack_sbuffer *out, void *ud)
{
    (void)c, (void)f, (void)len, (void)out, (void)ud;
    return 0;
}

static void no_error(arb_conn_t *c, const char *b, size_t n, const char *m, msgpack_sbuffer *out,
                     void *ud)
{
    (void)c, (void)b, (void)n, (void)m, (void)out, (void)ud;
}

static void on_close(arb_conn_t *c, void *ud) { (void)c, (void)ud; }

static const arb_conn_callbacks_t cb = { no_frame, no_error, on_close };

static arb_conn_t *open_conn(void)
{
    cr_assert(uv_loop_init(&loop) == 0);
    arb_config_defaults(&cfg);
    memset(&stats, 0, sizeof stats);
    arb_conns_init(&set, &loop, &cfg, &stats, 0, &cb, NULL);
    int sv[2];
    cr_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    peer = sv[1];
    cr_assert(arb_conn_open(&set, sv[0], true, false) == 0);
    cr_assert(set.list);
    return set.list;
}

static void close_all(void)
{
    while (set.list) {
        arb_conn_close(set.list);
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    arb_conns_free(&set);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    close(peer);
}

/* What the peer can read now, without waiting: bytes, or 0 for none. */
static ssize_t readable(char *buf, size_t n)
{
    ssize_t r = recv(peer, buf, n, MSG_DONTWAIT);
    if (r < 0) cr_assert(errno == EAGAIN || errno == EWOULDBLOCK, "%s", strerror(errno));
    return r < 0 ? 0 : r;
}

Test(conn_hold, answers_sent_while_held_are_written_at_the_release_in_order)
{
    arb_conn_t *c = open_conn();
    char buf[64];
    arb_conns_hold_writes(&set);
    arb_conn_send(c, "one,", 4);
    arb_conn_send(c, "two,", 4);
    arb_conn_send(c, "three", 5);
    cr_assert_eq(readable(buf, sizeof buf), 0, "an answer was written while the set held writes");
    arb_conns_release_writes(&set);
    ssize_t n = readable(buf, sizeof buf);
    cr_assert_eq(n, 13, "the release wrote %zd bytes", n);
    cr_assert(memcmp(buf, "one,two,three", 13) == 0);
    cr_assert_null(set.due);
    close_all();
}

Test(conn_hold, without_a_hold_an_answer_is_written_at_once)
{
    arb_conn_t *c = open_conn();
    char buf[64];
    arb_conn_send(c, "now", 3);
    cr_assert_eq(readable(buf, sizeof buf), 3, "an answer waited for a loop turn");
    close_all();
}

Test(conn_hold, a_connection_closed_while_held_is_released_safely)
{
    arb_conn_t *c = open_conn();
    char buf[64];
    arb_conns_hold_writes(&set);
    arb_conn_send(c, "lost", 4);
    arb_conn_close(c);   /* freed by the loop's close callback, after the release */
    arb_conns_release_writes(&set);
    cr_assert_eq(readable(buf, sizeof buf), 0);
    close_all();
}

/* Answers owed in line (arb_conn_defer, arb_conn_answer_late): written in
 * the order of their requests whatever order they complete in; the slot of
 * one answered at the head of the line is kept for the next deferral. */
Test(conn_hold, late_answers_keep_the_order_of_their_requests)
{
    arb_conn_t *c = open_conn();
    char buf[64];
    uint64_t a = arb_conn_defer(c, 10), b = arb_conn_defer(c, 10);
    cr_assert(a && b);
    arb_conn_answer_late(c, b, "second", 6);
    cr_assert_eq(readable(buf, sizeof buf), 0, "an answer went out before the one owed ahead of it");
    arb_conn_answer_late(c, a, "first,", 6);
    ssize_t n = readable(buf, sizeof buf);
    cr_assert_eq(n, 12, "%zd bytes", n);
    cr_assert(memcmp(buf, "first,second", 12) == 0);
    cr_assert_eq(c->pending, 0);
    cr_assert_eq(c->line_bytes, 0);
    cr_assert_eq(set.n_spare_slots, 1, "the head's slot was not kept for the next deferral");
    uint64_t d = arb_conn_defer(c, 10);
    cr_assert_eq(set.n_spare_slots, 0, "the next deferral did not take the kept slot");
    arb_conn_answer_late(c, d, "third", 5);
    cr_assert_eq(readable(buf, sizeof buf), 5);
    close_all();
}
