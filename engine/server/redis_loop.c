/* hiredis on a worker's libuv loop, and the deadline timers of the Redis
 * store: the one place where hiredis meets libuv, so that
 * state/ stays free of uv.h (ARCHITECTURE.md: only engine/server/ does).
 */
#include "engine/server/redis_loop.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* hiredis's own libuv adapter (hiredis/adapters/libuv.h, 0.14) ignores a
 * poll error: a refused connect would then wait for the deadline instead of
 * failing at once. This one hands the error to hiredis, which reads it from
 * the socket and disconnects. */
typedef struct events {
    redisAsyncContext *ac;
    uv_poll_t poll;
    int mask;
} events_t;

static void on_poll(uv_poll_t *h, int status, int ev)
{
    events_t *e = h->data;
    if (status < 0) ev = e->mask;  /* let hiredis find the socket's error */
    if (e->ac && (ev & UV_READABLE)) redisAsyncHandleRead(e->ac);
    if (e->ac && (ev & UV_WRITABLE)) redisAsyncHandleWrite(e->ac);
}

static void set_mask(events_t *e, int mask)
{
    e->mask = mask;
    if (mask) uv_poll_start(&e->poll, mask, on_poll);
    else uv_poll_stop(&e->poll);
}

static void add_read(void *p) { set_mask(p, ((events_t *)p)->mask | UV_READABLE); }
static void del_read(void *p) { set_mask(p, ((events_t *)p)->mask & ~UV_READABLE); }
static void add_write(void *p) { set_mask(p, ((events_t *)p)->mask | UV_WRITABLE); }
static void del_write(void *p) { set_mask(p, ((events_t *)p)->mask & ~UV_WRITABLE); }

static void on_events_closed(uv_handle_t *h)
{
    free(h->data);
}

static void cleanup(void *p)
{
    events_t *e = p;
    e->ac = NULL;  /* hiredis frees the context right after */
    uv_close((uv_handle_t *)&e->poll, on_events_closed);
}

static int attach(void *loop, struct redisAsyncContext *ac)
{
    if (ac->ev.data) return -1;
    events_t *e = calloc(1, sizeof *e);
    if (!e) return -1;
    if (uv_poll_init_socket(loop, &e->poll, ac->c.fd) != 0) {
        free(e);
        return -1;
    }
    e->ac = ac;
    e->poll.data = e;
    ac->ev.data = e;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    return 0;
}

typedef struct timer {
    uv_timer_t t;
    void (*cb)(void *);
    void *arg;
} rtimer_t;

static void on_timer(uv_timer_t *t)
{
    rtimer_t *tm = (rtimer_t *)t;
    tm->cb(tm->arg);
}

static void *timer_start(void *loop, uint64_t ms, void (*cb)(void *), void *arg)
{
    rtimer_t *tm = malloc(sizeof *tm);
    if (!tm) return NULL;
    uv_timer_init(loop, &tm->t);
    tm->cb = cb;
    tm->arg = arg;
    /* The loop's clock is the time its turn began: after a long callback a
     * deadline counted from it would have passed before the call is sent. */
    uv_update_time(loop);
    uv_timer_start(&tm->t, on_timer, ms, 0);
    return tm;
}

static void on_closed(uv_handle_t *h)
{
    free(h);
}

static void timer_stop(void *timer)
{
    rtimer_t *tm = timer;
    if (!tm) return;
    uv_timer_stop(&tm->t);
    uv_close((uv_handle_t *)&tm->t, on_closed);  /* freed on the loop's next turn */
}

arb_store_loop_t arb_redis_loop(uv_loop_t *loop)
{
    return (arb_store_loop_t){.loop = loop, .attach = attach, .timer_start = timer_start, .timer_stop = timer_stop};
}

/* One seed: NULL when it answers a slot map, else why not. */
static const char *probe_one(const char *host, int port, unsigned timeout_ms, char *why, size_t n)
{
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        snprintf(why, n, "%s", c ? c->errstr : "out of memory");
        redisFree(c);
        return why;
    }
    redisSetTimeout(c, tv);
    redisReply *r = redisCommand(c, "CLUSTER SLOTS");
    if (!r) snprintf(why, n, "%s", c->err ? c->errstr : "no answer");
    else if (r->type == REDIS_REPLY_ERROR) snprintf(why, n, "%s", r->str);
    else if (r->type != REDIS_REPLY_ARRAY || r->elements == 0)
        snprintf(why, n, "no slots assigned: the cluster is not created yet");
    else why = NULL;
    if (r) freeReplyObject(r);
    redisFree(c);
    return why;
}

int arb_redis_probe(const char *seeds, unsigned timeout_ms, arb_err_t *err)
{
    char all[900] = "", why[200];
    size_t used = 0;
    for (const char *p = seeds; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char seed[300];
        snprintf(seed, sizeof seed, "%.*s", (int)(len < 299 ? len : 299), p);
        char *colon = strrchr(seed, ':');
        const char *bad = "expected HOST:PORT";
        if (colon) {
            *colon = 0;
            bad = probe_one(seed, atoi(colon + 1), timeout_ms, why, sizeof why);
            *colon = ':';
        }
        if (!bad) return 0;
        if (used < sizeof all)
            used += (size_t)snprintf(all + used, sizeof all - used, "%s%s: %s", used ? "; " : "", seed, bad);
        p += len + (end ? 1 : 0);
    }
    return arb_err_set(err, ARB_UNAVAILABLE,
                       "no Redis Cluster node answered at the seeds %s (%s); start the cluster, or "
                       "name nodes that are up", seeds, all);
}
