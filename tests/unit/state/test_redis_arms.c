/* Unit tests for the learned arms in the Redis Cluster store
 * (engine/state/redis_arms.c) against the real 3-master cluster tests/run
 * starts (ARB_REDIS, scripts/redis-cluster), on real libuv loops handed
 * over through engine/server/redis_loop.c: deltas added and read back
 * (only the actions asked), decay by time, the key one slot per action and
 * never expiring, two sessions on two threads (two nodes) syncing deltas
 * for the same actions at once ending with the exact sum and each reading
 * the other's evidence, the totals read back by a store opened afresh (a
 * restarted node), a corrupt stored value skipped (logged, left as it
 * is) while the other actions learn, a sync needing more calls than max_pending done all
 * the same (a busy node must not lose what it learns), and an unreachable cluster
 * answered with ARB_UNAVAILABLE.
 */
#include <criterion/criterion.h>

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "engine/server/redis_loop.h"
#include "engine/state/store.h"

static const char *seeds(void)
{
    const char *s = getenv("ARB_REDIS");
    if ((!s || !*s) && system("command -v redis-server >/dev/null 2>&1") != 0)
        cr_skip_test("redis-server is not installed (scripts/setup installs it)");
    cr_assert(s && *s, "ARB_REDIS is unset: run through tests/run, which starts scripts/redis-cluster");
    return s;
}

typedef struct conn {
    uv_loop_t loop;
    arb_store_t *store;
    arb_store_session_t *sess;
} conn_t;

/* 0, or -1 with err: usable from any thread (no cr_assert). */
static int conn_try_open(conn_t *c, const char *spec, const arb_store_options_t *opt, arb_err_t *err)
{
    char full[1100];
    snprintf(full, sizeof full, "redis://%s", spec);
    uv_loop_init(&c->loop);
    if (arb_store_open(&c->store, full, opt, err)) return -1;
    if (!(c->sess = arb_store_session_open(c->store, err))) return -1;
    arb_store_loop_t l = arb_redis_loop(&c->loop);
    return arb_store_session_attach(c->sess, &l, err);
}

static void conn_open(conn_t *c, const char *spec, const arb_store_options_t *opt)
{
    arb_err_t err;
    cr_assert_eq(conn_try_open(c, spec ? spec : seeds(), opt, &err), 0, "%s", err.message);
}

static void conn_close(conn_t *c)
{
    arb_store_session_close(c->sess);
    arb_store_close(c->store);
    uv_run(&c->loop, UV_RUN_DEFAULT);  /* the closed handles free */
    uv_loop_close(&c->loop);
}

typedef struct got_arm {
    char action[128], channel[64], segment[80];
    double positives, trials;
    int64_t at;
} got_arm_t;

typedef struct got {
    bool done, failed;
    arb_err_t err;
    size_t n;
    got_arm_t arm[32];
} got_t;

static void on_arms(void *arg, const arb_arm_t *arms, size_t n, const arb_err_t *err)
{
    got_t *g = arg;
    g->done = true;
    g->failed = err != NULL;
    if (err) g->err = *err;
    for (size_t i = 0; i < n && i < 32; i++) {
        got_arm_t *a = &g->arm[i];
        snprintf(a->action, sizeof a->action, "%s", arms[i].action);
        snprintf(a->channel, sizeof a->channel, "%s", arms[i].channel);
        snprintf(a->segment, sizeof a->segment, "%s", arms[i].segment);
        a->positives = arms[i].positives;
        a->trials = arms[i].trials;
        a->at = arms[i].at;
    }
    g->n = n;
}

/* One sync, the loop run until it calls back (the store's deadline bounds it). */
static got_t sync_arms(conn_t *c, const arb_arm_delta_t *d, size_t nd, const char *const *actions, size_t na)
{
    got_t g = {0};
    arb_arms_sync_t req = {d, nd, actions, na};
    arb_store_arms_sync(c->sess, &req, on_arms, &g);
    while (!g.done) uv_run(&c->loop, UV_RUN_ONCE);
    return g;
}

static const got_arm_t *find(const got_t *g, const char *action, const char *channel, const char *segment)
{
    for (size_t i = 0; i < g->n; i++)
        if (!strcmp(g->arm[i].action, action) && !strcmp(g->arm[i].channel, channel) &&
            !strcmp(g->arm[i].segment, segment))
            return &g->arm[i];
    return NULL;
}

/* A fresh action id per run: the cluster outlives the tests. */
static const char *fresh(const char *name)
{
    static char buf[8][96];
    static int i;
    char *b = buf[i++ % 8];
    snprintf(b, 96, "%s-%ld-%d", name, (long)getpid(), rand());
    return b;
}

/* Runs a command on the master owning key (the one that answers it without
 * MOVED); the reply, or NULL when no node owns it. */
static redisReply *on_owner(const char *key, const char *fmt, const char *arg, size_t arg_len)
{
    char list[1024];
    snprintf(list, sizeof list, "%s", seeds());
    for (char *save, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        redisContext *rc = redisConnect("127.0.0.1", atoi(strrchr(t, ':') + 1));
        cr_assert(rc && !rc->err);
        redisReply *r = arg ? redisCommand(rc, fmt, key, arg, arg_len) : redisCommand(rc, fmt, key);
        redisFree(rc);
        if (r && !(r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "MOVED", 5))) return r;
        freeReplyObject(r);
    }
    return NULL;
}

static void del_arms(const char *action)
{
    char key[300];
    snprintf(key, sizeof key, "arb:{l:%s}:arms", action);
    freeReplyObject(on_owner(key, "DEL %s", NULL, 0));
}

#define DELTA(a, c, s, p, t, ts, h) ((arb_arm_delta_t){a, c, s, p, t, ts, h})

Test(redis_arms, add_read_back_decay_and_no_expiry)
{
    conn_t c;
    /* A retention age expires customer records, never arms. */
    conn_open(&c, NULL, &(arb_store_options_t){.timeout_ms = 2000, .retention = {.max_age = 86400}});
    const char *boots = fresh("boots"), *socks = fresh("socks"), *hats = fresh("hats");
    arb_arm_delta_t ds[] = {
        DELTA(boots, "web", "", 1, 4, 1000, 100), DELTA(boots, "web", "gold", 1, 1, 1000, 100),
        DELTA(socks, "web", "", 0, 1, 1000, 0),
    };
    const char *want[] = {boots, hats};
    got_t g = sync_arms(&c, ds, 3, want, 2);
    cr_assert(!g.failed, "%s", g.err.message);
    cr_assert_eq(g.n, 2, "boots' two arms only: %zu", g.n);
    const got_arm_t *a = find(&g, boots, "web", "");
    cr_assert(a && a->positives == 1 && a->trials == 4 && a->at == 1000);
    /* 100 s later with half-life 100: the 4 trials are worth 2. */
    arb_arm_delta_t later = DELTA(boots, "web", "", 0, 2, 1100, 100);
    g = sync_arms(&c, &later, 1, want, 1);
    a = find(&g, boots, "web", "");
    cr_assert(a && a->at == 1100);
    cr_assert_float_eq(a->trials, 4.0, 1e-9, "4*0.5 + 2, got %g", a->trials);
    cr_assert_float_eq(a->positives, 0.5, 1e-9);
    /* socks' delta was added though not read back. */
    const char *s1[] = {socks};
    g = sync_arms(&c, NULL, 0, s1, 1);
    cr_assert(!g.failed && g.n == 1 && g.arm[0].trials == 1, "%s", g.err.message);
    char key[300];
    snprintf(key, sizeof key, "arb:{l:%s}:arms", boots);
    redisReply *r = on_owner(key, "TTL %s", NULL, 0);
    cr_assert(r && r->type == REDIS_REPLY_INTEGER && r->integer == -1, "arms keys never expire");
    freeReplyObject(r);
    r = on_owner(key, "GET %s", NULL, 0);
    cr_assert(r && r->type == REDIS_REPLY_STRING && !memcmp(r->str, "ARBA", 4), "one value per action");
    freeReplyObject(r);
    del_arms(boots);
    del_arms(socks);
    conn_close(&c);
}

enum { SYNCS = 150 };

static const char *race_a, *race_b;

typedef struct racer { int failed; arb_err_t err; double seen_a; } racer_t;

/* No cr_assert here: Criterion asserts only from the test's own thread. */
static void *racer(void *p)
{
    racer_t *r = p;
    conn_t c;
    arb_err_t err;
    if (conn_try_open(&c, getenv("ARB_REDIS"), &(arb_store_options_t){.timeout_ms = 5000}, &err)) {
        r->failed++;
        r->err = err;
        return NULL;
    }
    const char *want[] = {race_a};
    for (int i = 0; i < SYNCS; i++) {
        arb_arm_delta_t ds[] = {DELTA(race_a, "web", "", i % 2, 1, 5000, 0), DELTA(race_b, "email", "", 1, 1, 5000, 0)};
        got_t g = sync_arms(&c, ds, 2, want, 1);
        if (g.failed) {
            r->failed++;
            r->err = g.err;
        } else if (g.n == 1) {
            r->seen_a = g.arm[0].trials;
        }
    }
    conn_close(&c);
    return NULL;
}

Test(redis_arms, two_nodes_syncing_at_once_add_up_exactly_and_a_restart_reads_them)
{
    seeds();
    race_a = fresh("race-a");
    race_b = fresh("race-b");
    racer_t rs[2] = {{0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, racer, &rs[i]);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) cr_assert_eq(rs[i].failed, 0, "%s", rs[i].err.message);
    /* The last sync of either saw evidence the other one added. */
    cr_assert(rs[0].seen_a > SYNCS || rs[1].seen_a > SYNCS, "each node learns from the other: %g, %g",
              rs[0].seen_a, rs[1].seen_a);
    /* A store opened afresh (a restarted node) reads the exact totals. */
    conn_t c;
    conn_open(&c, NULL, &(arb_store_options_t){.timeout_ms = 2000});
    const char *want[] = {race_a, race_b};
    got_t g = sync_arms(&c, NULL, 0, want, 2);
    cr_assert(!g.failed, "%s", g.err.message);
    const got_arm_t *a = find(&g, race_a, "web", ""), *b = find(&g, race_b, "email", "");
    cr_assert(a && b);
    cr_assert_eq(a->trials, 2 * SYNCS, "every delta counted exactly once: %g", a->trials);
    cr_assert_eq(a->positives, SYNCS);
    cr_assert_eq(b->trials, 2 * SYNCS, "%g", b->trials);
    cr_assert_eq(b->positives, 2 * SYNCS);
    del_arms(race_a);
    del_arms(race_b);
    conn_close(&c);
}

Test(redis_arms, a_corrupt_value_is_skipped_and_the_others_learn)
{
    conn_t c;
    conn_open(&c, NULL, &(arb_store_options_t){.timeout_ms = 2000});
    const char *bad = fresh("corrupt"), *good = fresh("good");
    char key[300];
    snprintf(key, sizeof key, "arb:{l:%s}:arms", bad);
    freeReplyObject(on_owner(key, "SET %s %b", "ARBA\x01not-a-value", 17));
    arb_arm_delta_t ds[] = {DELTA(bad, "web", "", 1, 1, 1000, 0), DELTA(good, "web", "", 1, 1, 1000, 0)};
    const char *want[] = {bad, good};
    got_t g = sync_arms(&c, ds, 2, want, 2);
    cr_assert(!g.failed, "one bad value does not stop the sync: %s", g.err.message);
    cr_assert_eq(g.n, 1, "the good action's arm only");
    cr_assert_str_eq(g.arm[0].action, good);
    /* Left as it is: nothing overwrote it. */
    const char *only[] = {bad};
    g = sync_arms(&c, NULL, 0, only, 1);
    cr_assert(!g.failed && g.n == 0, "%s", g.err.message);
    redisReply *r = on_owner(key, "GET %s", NULL, 0);
    cr_assert(r && r->type == REDIS_REPLY_STRING && r->len == 17);
    freeReplyObject(r);
    del_arms(bad);
    del_arms(good);
    conn_close(&c);
}

Test(redis_arms, more_actions_than_max_pending_still_sync)
{
    conn_t c;
    conn_open(&c, NULL, &(arb_store_options_t){.timeout_ms = 2000, .max_pending = 2});
    const char *a = fresh("ov-a"), *b = fresh("ov-b"), *d = fresh("ov-c");
    arb_arm_delta_t ds[] = {DELTA(a, "web", "", 1, 1, 1000, 0), DELTA(b, "web", "", 1, 1, 1000, 0),
                            DELTA(d, "web", "", 1, 1, 1000, 0)};
    const char *three[] = {a, b, d};
    got_t g = sync_arms(&c, ds, 3, three, 3);
    cr_assert(!g.failed, "%s", g.err.message);
    cr_assert_eq(g.n, 3, "every action's arm read back");
    conn_close(&c);
}

Test(redis_arms, an_unreachable_cluster_is_unavailable)
{
    seeds();
    conn_t c;
    conn_open(&c, "127.0.0.1:1", &(arb_store_options_t){.timeout_ms = 200});
    arb_arm_delta_t d = DELTA("boots", "web", "", 1, 1, 1000, 0);
    const char *want[] = {"boots"};
    time_t start = time(NULL);
    got_t g = sync_arms(&c, &d, 1, want, 1);
    cr_assert(g.failed && g.err.code == ARB_UNAVAILABLE, "%s", g.err.message);
    cr_assert(strstr(g.err.message, "learned arms of action boots"), "%s", g.err.message);
    cr_assert(time(NULL) - start < 10, "bounded by the deadline");
    conn_close(&c);
}
