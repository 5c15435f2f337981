/* Unit tests for the Redis Cluster store (engine/state/redis.c) against the
 * real 3-master cluster tests/run starts (scripts/redis-cluster; ARB_REDIS
 * is its seed list, ARB_REDIS_DIR its folder), on a real libuv loop handed
 * over through engine/server/redis_loop.c: fetch/commit/forget round trip
 * with the retention's EXPIRE, consent and caps as the other backends,
 * exact caps from two threads on two loops, idempotent commits by decision
 * id, MOVED followed from a single seed, ARB_OVERLOADED beyond max_pending,
 * and a stopped or dead node answered with ARB_UNAVAILABLE within the
 * deadline, then served again without reopening the store (customers, and
 * a learned-arms sync; the rest of the arms in test_redis_arms.c).
 */
#include <criterion/criterion.h>

#include <fcntl.h>

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
    arb_arena_t arena;
} conn_t;

static void conn_open(conn_t *c, const char *spec, const arb_store_options_t *opt)
{
    arb_err_t err;
    char full[1100];
    snprintf(full, sizeof full, "redis://%s", spec ? spec : seeds());
    uv_loop_init(&c->loop);
    cr_assert_eq(arb_store_open(&c->store, full, opt, &err), 0, "%s", err.message);
    c->sess = arb_store_session_open(c->store, &err);
    cr_assert_not_null(c->sess, "%s", err.message);
    arb_store_loop_t l = arb_redis_loop(&c->loop);
    cr_assert_eq(arb_store_session_attach(c->sess, &l, &err), 0, "%s", err.message);
    arb_arena_init(&c->arena);
}

static void conn_close(conn_t *c)
{
    arb_store_session_close(c->sess);
    arb_store_close(c->store);
    uv_run(&c->loop, UV_RUN_DEFAULT);  /* the closed handles free */
    cr_assert_eq(uv_loop_close(&c->loop), 0);
    arb_arena_free(&c->arena);
}

typedef struct wait {
    bool done;
    int status;
    arb_err_t err;
    arb_commit_result_t res;
    bool granted[16];
} wait_t;

static void on_commit(void *arg, const arb_commit_result_t *res, const arb_err_t *err)
{
    wait_t *w = arg;
    w->done = true;
    w->status = res ? 0 : -1;
    if (err) w->err = *err;
    if (res) {
        w->res = *res;
        for (size_t i = 0; i < res->n_contacts && i < 16; i++) w->granted[i] = res->granted[i];
        w->res.granted = w->granted;
    }
}

static void on_fetch(void *arg, int status, const arb_err_t *err)
{
    wait_t *w = arg;
    w->done = true;
    w->status = status;
    if (err) w->err = *err;
}

static void on_done(void *arg, const arb_err_t *err)
{
    wait_t *w = arg;
    w->done = true;
    w->status = err ? -1 : 0;
    if (err) w->err = *err;
}

/* Runs the loop until w is called back: a bounded wait for liveness. */
static void run_until(conn_t *c, wait_t *w)
{
    time_t start = time(NULL);
    while (!w->done) {
        uv_run(&c->loop, UV_RUN_NOWAIT);
        cr_assert(time(NULL) - start < 10, "no callback within 10 s: the store hangs");
        if (!w->done) usleep(200);
    }
}

static wait_t commit_once(conn_t *c, const char *id, const char *op, const arb_commit_t *cm)
{
    wait_t w = {0};
    arb_store_commit_once(c->sess, id, op, cm, on_commit, &w);
    run_until(c, &w);
    return w;
}

static wait_t commit(conn_t *c, const char *id, const arb_commit_t *cm)
{
    return commit_once(c, id, NULL, cm);
}

static arb_customer_t fetch(conn_t *c, const char *id, wait_t *w)
{
    arb_customer_t out;
    *w = (wait_t){0};
    arb_store_fetch(c->sess, id, &out, &c->arena, on_fetch, w);
    run_until(c, w);
    return out;
}

static arb_customer_t fetch_ok(conn_t *c, const char *id)
{
    wait_t w;
    arb_customer_t out = fetch(c, id, &w);
    cr_assert_eq(w.status, 0, "%s", w.err.message);
    return out;
}

static void forget(conn_t *c, const char *id)
{
    wait_t w = {0};
    arb_store_forget(c->sess, id, on_done, &w);
    run_until(c, &w);
    cr_assert_eq(w.status, 0, "%s", w.err.message);
}

/* A fresh customer id per test run: the cluster outlives the tests. */
static const char *fresh(const char *name)
{
    static char buf[8][128];
    static int i;
    char *b = buf[i++ % 8];
    snprintf(b, 128, "%s-%ld-%d", name, (long)getpid(), rand());
    return b;
}

/* The port of the master owning key (the node that answers without MOVED). */
static int owner_port(const char *key, long long *ttl)
{
    char list[1024];
    snprintf(list, sizeof list, "%s", seeds());
    for (char *save, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int port = atoi(strrchr(t, ':') + 1);
        redisContext *rc = redisConnect("127.0.0.1", port);
        cr_assert(rc && !rc->err);
        redisReply *r = redisCommand(rc, "TTL %s", key);
        bool mine = r && r->type == REDIS_REPLY_INTEGER;
        if (mine && ttl) *ttl = r->integer;
        freeReplyObject(r);
        redisFree(rc);
        if (mine) return port;
    }
    cr_assert_fail("no node owns %s", key);
    return 0;
}

Test(redis, round_trip_track_fetch_forget_and_expire)
{
    conn_t c;
    arb_retention_t rt = {.max_age = 86400};
    conn_open(&c, NULL, &(arb_store_options_t){.retention = rt});
    const char *id = fresh("rt");
    arb_customer_t got = fetch_ok(&c, id);
    cr_assert_str_eq(got.id, "");
    arb_event_t ev[1] = {{100, "view", "web", "SKU-1", "shoes", 9.5, NULL, 0}};
    wait_t w = commit(&c, id, &(arb_commit_t){.now = 100, .events = ev, .n_events = 1});
    if (w.status) { conn_t c2; conn_open(&c2, NULL, NULL); wait_t w2 = commit(&c2, id, &(arb_commit_t){.now = 100, .events = ev, .n_events = 1}); fprintf(stderr, "new session: %d %s\n", w2.status, w2.err.message); }
    cr_assert_eq(w.status, 0, "%s", w.err.message);
    cr_assert_eq(w.res.stored, 1);
    w = commit(&c, id, &(arb_commit_t){.now = 101, .events = ev, .n_events = 1});
    cr_assert_eq(w.res.stored, 0);  /* a retried track stores nothing twice */
    got = fetch_ok(&c, id);
    cr_assert_str_eq(got.id, id);
    cr_assert_eq(got.n_events, 1);
    cr_assert_str_eq(got.events[0].sku, "SKU-1");
    char key[600];
    snprintf(key, sizeof key, "arb:{c:%s}:rec", id);
    long long ttl = -5;
    owner_port(key, &ttl);
    cr_assert(ttl > 86000 && ttl <= 86400, "the record expires at the retention age, ttl %lld", ttl);
    forget(&c, id);
    got = fetch_ok(&c, id);
    cr_assert_str_eq(got.id, "");
    cr_assert_eq(got.n_events, 0);
    owner_port(key, &ttl);
    cr_assert_eq(ttl, -2, "forget leaves no key");
    conn_close(&c);
}

Test(redis, consent_and_caps_as_the_other_backends)
{
    conn_t c;
    conn_open(&c, NULL, NULL);
    const char *id = fresh("caps");
    arb_consent_t grant10 = {10, "email", true}, withdraw20 = {20, "email", false}, grant15 = {15, "email", true};
    cr_assert_eq(commit(&c, id, &(arb_commit_t){.now = 10, .consents = &grant10, .n_consents = 1}).status, 0);
    cr_assert_eq(commit(&c, id, &(arb_commit_t){.now = 20, .consents = &withdraw20, .n_consents = 1}).status, 0);
    cr_assert_eq(commit(&c, id, &(arb_commit_t){.now = 21, .consents = &grant15, .n_consents = 1}).status, 0);
    arb_customer_t got = fetch_ok(&c, id);
    cr_assert_eq(arb_customer_consent(&got, "email"), 0);  /* the older grant loses */

    arb_cap_t caps[2] = {{"boots", NULL, 2, 100, NULL, 0}, {NULL, "email", 3, 1000, NULL, 0}};
    arb_contact_req_t k[4] = {{{500, "boots", "email", "decision"}, caps, 2},
                              {{501, "boots", "email", "decision"}, caps, 2},
                              {{502, "boots", "web", "decision"}, caps, 1},
                              {{503, "tent", "email", "decision"}, caps + 1, 1}};
    wait_t w = commit(&c, id, &(arb_commit_t){.now = 503, .contacts = k, .n_contacts = 4});
    cr_assert_eq(w.status, 0, "%s", w.err.message);
    cr_assert_eq(w.res.n_granted, 3);
    cr_assert(w.granted[0] && w.granted[1] && !w.granted[2] && w.granted[3]);
    got = fetch_ok(&c, id);
    cr_assert_eq(got.n_contacts, 3);
    forget(&c, id);
    conn_close(&c);
}

Test(redis, idempotent_by_decision_id)
{
    conn_t c;
    conn_open(&c, NULL, NULL);
    const char *id = fresh("idem");
    arb_cap_t cap = {NULL, NULL, 1, 1000, NULL, 0};
    arb_contact_req_t k = {{500, "boots", "email", "decision"}, &cap, 1};
    arb_commit_t cm = {.now = 500, .contacts = &k, .n_contacts = 1};
    wait_t w = commit_once(&c, id, "dec-1", &cm);
    cr_assert_eq(w.status, 0, "%s", w.err.message);
    cr_assert(w.granted[0]);
    /* The retried request: granted again, counted once. */
    w = commit_once(&c, id, "dec-1", &cm);
    cr_assert_eq(w.status, 0, "%s", w.err.message);
    cr_assert(w.granted[0]);
    cr_assert_eq(w.res.n_granted, 1);
    cr_assert_eq(fetch_ok(&c, id).n_contacts, 1);
    /* Another decision meets the full cap. */
    w = commit_once(&c, id, "dec-2", &cm);
    cr_assert_eq(w.status, 0, "%s", w.err.message);
    cr_assert(!w.granted[0]);
    cr_assert_eq(fetch_ok(&c, id).n_contacts, 1);
    forget(&c, id);
    conn_close(&c);
}

/* ---- exact caps from two threads, each with its own loop ---- */

enum { RACE_EACH = 30, RACE_CAP = 7 };
static const char *race_id;

typedef struct racer { int granted, failed; arb_err_t err; } racer_t;

/* No cr_assert here: Criterion asserts only from the test's own thread. */
static void *racer(void *p)
{
    racer_t *r = p;
    conn_t c;
    arb_err_t err;
    uv_loop_init(&c.loop);
    arb_arena_init(&c.arena);
    char spec[1100];
    snprintf(spec, sizeof spec, "redis://%s", getenv("ARB_REDIS"));
    if (arb_store_open(&c.store, spec, &(arb_store_options_t){.timeout_ms = 5000}, &err) ||
        !(c.sess = arb_store_session_open(c.store, &err))) {
        r->failed++;
        r->err = err;
        return NULL;
    }
    arb_store_loop_t l = arb_redis_loop(&c.loop);
    arb_store_session_attach(c.sess, &l, &err);
    arb_cap_t cap = {"boots", NULL, RACE_CAP, 100000, NULL, 0};
    for (int i = 0; i < RACE_EACH; i++) {
        arb_contact_req_t k = {{1000 + i, "boots", "email", "decision"}, &cap, 1};
        wait_t w = {0};
        arb_store_commit(c.sess, race_id, &(arb_commit_t){.now = 1000 + i, .contacts = &k, .n_contacts = 1},
                         on_commit, &w);
        while (!w.done) uv_run(&c.loop, UV_RUN_ONCE);  /* the store's deadline bounds each wait */
        if (w.status) {
            r->failed++;
            r->err = w.err;
        } else {
            r->granted += w.granted[0];
        }
    }
    arb_store_session_close(c.sess);
    arb_store_close(c.store);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    uv_loop_close(&c.loop);
    return NULL;
}

Test(redis, exact_caps_from_two_loops_at_once)
{
    race_id = fresh("race");
    seeds();
    racer_t g[2] = {{0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, racer, &g[i]);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) cr_assert_eq(g[i].failed, 0, "%s", g[i].err.message);
    cr_assert_eq(g[0].granted + g[1].granted, RACE_CAP, "granted %d + %d, cap %d", g[0].granted, g[1].granted, RACE_CAP);
    conn_t c;
    conn_open(&c, NULL, NULL);
    cr_assert_eq(fetch_ok(&c, race_id).n_contacts, RACE_CAP);
    forget(&c, race_id);
    conn_close(&c);
}

Test(redis, moved_followed_from_a_single_seed)
{
    /* One seed, and a first call sent before the slot map has come, for a
     * customer on another master: reached only by following MOVED. */
    char one[300];
    snprintf(one, sizeof one, "%s", seeds());
    *strchr(one, ',') = 0;
    int seed_port = atoi(strrchr(one, ':') + 1);
    char ids[24][64];
    int first = -1, ports[3] = {0}, n_ports = 0;
    for (int i = 0; i < 24; i++) {
        snprintf(ids[i], sizeof ids[i], "moved-%d-%d", (int)getpid(), i);
        char key[1600];
        snprintf(key, sizeof key, "arb:{c:%s}:rec", ids[i]);
        int p = owner_port(key, NULL);
        if (first < 0 && p != seed_port) first = i;
        bool seen = false;
        for (int j = 0; j < n_ports; j++) seen |= ports[j] == p;
        if (!seen && n_ports < 3) ports[n_ports++] = p;
    }
    cr_assert(first >= 0 && n_ports == 3, "the customers spread over the three masters");
    conn_t c;
    conn_open(&c, one, NULL);
    arb_event_t ev[1] = {{100, "view", "web", "SKU-1", NULL, 1.0, NULL, 0}};
    for (int k = 0; k < 24; k++) {
        const char *id = ids[(first + k) % 24];
        wait_t w = commit(&c, id, &(arb_commit_t){.now = 100, .events = ev, .n_events = 1});
        cr_assert_eq(w.status, 0, "%s", w.err.message);
        cr_assert_eq(fetch_ok(&c, id).n_events, 1);
        forget(&c, id);
    }
    conn_close(&c);
}

/* A synchronous connection to the node on port (the test's own view). */
static redisReply *node_cmd(int port, const char *fmt, ...)
{
    redisContext *rc = redisConnect("127.0.0.1", port);
    cr_assert(rc && !rc->err);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(rc, fmt, ap);
    va_end(ap);
    redisFree(rc);
    cr_assert_not_null(r);
    return r;
}

static void node_ok(int port, const char *fmt, const char *a, const char *b)
{
    redisReply *r = node_cmd(port, fmt, a, b);
    cr_assert_neq(r->type, REDIS_REPLY_ERROR, "%s", r->str);
    freeReplyObject(r);
}

static char migrating[2][48];  /* node ids; the slot goes back to the first */
static int mig_port[2];
static char mig_slot[8];

/* The cluster is shared with the tests that follow (a reshard refuses a
 * cluster with an open slot): STABLE clears the importing and migrating
 * states, which SETSLOT NODE alone leaves on the importing node. */
static void end_migration(void)
{
    if (!mig_port[0]) return;
    for (int i = 0; i < 2; i++) {
        redisReply *r = node_cmd(mig_port[i], "CLUSTER SETSLOT %s STABLE", mig_slot);
        cr_assert_neq(r->type, REDIS_REPLY_ERROR, "%s", r->str);
        freeReplyObject(r);
    }
    for (int i = 0; i < 2; i++) node_ok(mig_port[i], "CLUSTER SETSLOT %s NODE %s", mig_slot, migrating[0]);
}

Test(redis, ask_followed_while_a_slot_migrates, .fini = end_migration)
{
    const char *id = fresh("ask");
    char key[600];
    snprintf(key, sizeof key, "arb:{c:%s}:rec", id);
    int from = owner_port(key, NULL);
    int to = from == atoi(strrchr(seeds(), ':') + 1) ? from - 1 : from + 1;  /* another master */
    redisReply *r = node_cmd(from, "CLUSTER KEYSLOT %s", key);
    snprintf(mig_slot, sizeof mig_slot, "%lld", r->integer);
    freeReplyObject(r);
    int ports[2] = {from, to};
    for (int i = 0; i < 2; i++) {
        r = node_cmd(ports[i], "CLUSTER MYID");
        snprintf(migrating[i], sizeof migrating[i], "%s", r->str);
        freeReplyObject(r);
    }
    mig_port[0] = from;
    mig_port[1] = to;
    node_ok(to, "CLUSTER SETSLOT %s IMPORTING %s", mig_slot, migrating[0]);
    node_ok(from, "CLUSTER SETSLOT %s MIGRATING %s", mig_slot, migrating[1]);
    /* The customer is new, so every command meets ASK to the importing node. */
    conn_t c;
    conn_open(&c, NULL, NULL);
    arb_event_t ev[1] = {{100, "view", "web", "SKU-1", NULL, 1.0, NULL, 0}};
    wait_t w = commit(&c, id, &(arb_commit_t){.now = 100, .events = ev, .n_events = 1});
    cr_assert_eq(w.status, 0, "%s", w.err.message);
    cr_assert_eq(fetch_ok(&c, id).n_events, 1);
    r = node_cmd(to, "ASKING");
    freeReplyObject(r);
    forget(&c, id);
    cr_assert_str_eq(fetch_ok(&c, id).id, "");
    conn_close(&c);
}

Test(redis, overloaded_beyond_max_pending)
{
    conn_t c;
    conn_open(&c, NULL, &(arb_store_options_t){.max_pending = 2, .timeout_ms = 2000});
    wait_t w[3] = {{0}};
    arb_customer_t out[3];
    for (int i = 0; i < 3; i++) arb_store_fetch(c.sess, "x", &out[i], &c.arena, on_fetch, &w[i]);
    cr_assert(!w[0].done && !w[1].done);
    cr_assert(w[2].done, "refused at once, without waiting");
    cr_assert_eq(w[2].err.code, ARB_OVERLOADED);
    run_until(&c, &w[0]);
    run_until(&c, &w[1]);
    cr_assert_eq(w[0].status, 0, "%s", w[0].err.message);
    conn_close(&c);
}

static int pid_of(int port)
{
    const char *dir = getenv("ARB_REDIS_DIR");
    cr_assert(dir, "ARB_REDIS_DIR is unset (tests/run sets it)");
    char path[600];
    snprintf(path, sizeof path, "%s/%d/redis.pid", dir, port);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    int pid = 0;
    cr_assert_eq(fscanf(f, "%d", &pid), 1);
    fclose(f);
    return pid;
}

/* The node restarted by system() must not inherit this process's sockets
 * (hiredis 0.14 opens them without close-on-exec): a daemon holding a copy
 * of the loop's sockets would keep their epoll registrations alive. */
static void run_clean(const char *cmd)
{
    for (int fd = 3; fd < 1024; fd++) {
        int fl = fcntl(fd, F_GETFD);
        if (fl >= 0) fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
    }
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static int stopped_pid;

/* Whatever the test's outcome, the node it stopped runs again. */
static void resume_node(void)
{
    if (stopped_pid) kill(stopped_pid, SIGCONT);
}

static void expect_unavailable_in_time(conn_t *c, const char *id)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    wait_t w;
    fetch(c, id, &w);
    clock_gettime(CLOCK_MONOTONIC, &b);
    cr_assert_eq(w.status, -1);
    cr_assert_eq(w.err.code, ARB_UNAVAILABLE, "%s", w.err.message);
    double ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
    cr_assert(ms < 2000, "failed after %.0f ms: the deadline is 100 ms", ms);
}

Test(redis, a_hung_node_times_out_then_serves_again, .fini = resume_node)
{
    conn_t c;
    /* max_pending 2: the calls that timed out must not stay counted while
     * their replies never come, or the third would be ARB_OVERLOADED. */
    conn_open(&c, NULL, &(arb_store_options_t){.timeout_ms = 100, .max_pending = 2});
    const char *id = fresh("hung");
    arb_event_t ev[1] = {{100, "view", "web", "SKU-1", NULL, 1.0, NULL, 0}};
    cr_assert_eq(commit(&c, id, &(arb_commit_t){.now = 100, .events = ev, .n_events = 1}).status, 0);
    char key[600];
    snprintf(key, sizeof key, "arb:{c:%s}:rec", id);
    int pid = pid_of(owner_port(key, NULL));
    stopped_pid = pid;
    cr_assert_eq(kill(pid, SIGSTOP), 0);
    expect_unavailable_in_time(&c, id);
    expect_unavailable_in_time(&c, id);
    expect_unavailable_in_time(&c, id);
    cr_assert_eq(kill(pid, SIGCONT), 0);
    cr_assert_eq(fetch_ok(&c, id).n_events, 1);
    forget(&c, id);
    conn_close(&c);
}

static void on_arms(void *arg, const arb_arm_t *arms, size_t n, const arb_err_t *err)
{
    wait_t *w = arg;
    w->done = true;
    w->status = err ? -1 : (int)n;
    if (err) w->err = *err;
    if (n) w->res.stored = (size_t)arms[0].trials;
}

Test(redis, an_arms_sync_on_a_hung_node_times_out_then_syncs_again, .fini = resume_node)
{
    conn_t c;
    conn_open(&c, NULL, &(arb_store_options_t){.timeout_ms = 100});
    const char *action = fresh("hung-arms");
    arb_arm_delta_t d = {action, "web", "", 1, 1, 1000, 0};
    arb_arms_sync_t req = {&d, 1, &action, 1};
    wait_t w = {0};
    arb_store_arms_sync(c.sess, &req, on_arms, &w);
    run_until(&c, &w);
    cr_assert_eq(w.status, 1, "%s", w.err.message);
    char key[600];
    snprintf(key, sizeof key, "arb:{l:%s}:arms", action);
    int port = owner_port(key, NULL);
    stopped_pid = pid_of(port);
    cr_assert_eq(kill(stopped_pid, SIGSTOP), 0);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    w = (wait_t){0};
    arb_store_arms_sync(c.sess, &req, on_arms, &w);
    run_until(&c, &w);
    clock_gettime(CLOCK_MONOTONIC, &b);
    cr_assert(w.status == -1 && w.err.code == ARB_UNAVAILABLE, "%s", w.err.message);
    cr_assert(strstr(w.err.message, "learned arms of action"), "%s", w.err.message);
    double ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
    cr_assert(ms < 2000, "failed after %.0f ms: the deadline is 100 ms", ms);
    cr_assert_eq(kill(stopped_pid, SIGCONT), 0);
    /* The same session syncs again; the timed-out delta counted at most once. */
    w = (wait_t){0};
    arb_store_arms_sync(c.sess, &req, on_arms, &w);
    run_until(&c, &w);
    cr_assert_eq(w.status, 1, "%s", w.err.message);
    cr_assert(w.res.stored == 2 || w.res.stored == 3, "trials %zu", w.res.stored);
    freeReplyObject(node_cmd(port, "DEL %s", key));
    conn_close(&c);
}

Test(redis, a_dead_node_fails_fast_then_its_restart_serves_again, .timeout = 60)
{
    conn_t c;
    conn_open(&c, NULL, &(arb_store_options_t){.timeout_ms = 100});
    const char *id = fresh("dead");
    arb_event_t ev[1] = {{100, "view", "web", "SKU-1", NULL, 1.0, NULL, 0}};
    cr_assert_eq(commit(&c, id, &(arb_commit_t){.now = 100, .events = ev, .n_events = 1}).status, 0);
    char key[600], cmd[1200];
    snprintf(key, sizeof key, "arb:{c:%s}:rec", id);
    int port = owner_port(key, NULL);
    snprintf(cmd, sizeof cmd, "scripts/redis-cluster node-stop %s %d", getenv("ARB_REDIS_DIR"), port);
    run_clean(cmd);
    expect_unavailable_in_time(&c, id);
    expect_unavailable_in_time(&c, id);  /* a refused connect fails at once too */
    snprintf(cmd, sizeof cmd, "scripts/redis-cluster node-start %s %d", getenv("ARB_REDIS_DIR"), port);
    run_clean(cmd);
    /* The node came back empty (no persistence in the test cluster); the
     * same session connects again and serves it. */
    wait_t w = commit(&c, id, &(arb_commit_t){.now = 100, .events = ev, .n_events = 1});
    cr_assert_eq(w.status, 0, "%s", w.err.message);
    cr_assert_eq(fetch_ok(&c, id).n_events, 1);
    forget(&c, id);
    conn_close(&c);
}
