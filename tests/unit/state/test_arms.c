/* Unit tests for the learned arms in the store (store.h arb_store_arms_sync,
 * engine/state/arms.c) with the memory backend and a real LMDB file under
 * mkdtemp: deltas added and read back (only the actions asked for, deltas
 * for other actions still added), decay by the deltas' times and
 * half-life, concurrent syncs from many threads adding up exactly, the
 * totals kept across close and reopen (LMDB), a corrupt stored value
 * skipped (logged, left as it is, not a crash) while the other actions
 * learn, bad deltas refused before anything is added, and the
 * codec's own checks: a round trip, and every truncation or corruption of a
 * value refused with ARB_INTERNAL.
 */
#include <criterion/criterion.h>

#include <lmdb.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "engine/state/arms.h"
#include "engine/state/store.h"

static char dir[64];

static void setup(void)
{
    strcpy(dir, "/tmp/arb-arms-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

typedef struct got_arm {
    char action[64], channel[64], segment[80];
    double positives, trials;
    int64_t at;
} got_arm_t;

typedef struct got {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool done;
    arb_err_t err;
    bool failed;
    size_t n;
    got_arm_t arm[64];
} got_t;

static void on_arms(void *arg, const arb_arm_t *arms, size_t n, const arb_err_t *err)
{
    got_t *g = arg;
    pthread_mutex_lock(&g->m);
    g->failed = err != NULL;
    if (err) g->err = *err;
    cr_assert(err ? !arms && !n : (n == 0 || arms != NULL));
    for (size_t i = 0; i < n && i < 64; i++) {
        got_arm_t *a = &g->arm[i];
        snprintf(a->action, sizeof a->action, "%s", arms[i].action);
        snprintf(a->channel, sizeof a->channel, "%s", arms[i].channel);
        snprintf(a->segment, sizeof a->segment, "%s", arms[i].segment);
        a->positives = arms[i].positives;
        a->trials = arms[i].trials;
        a->at = arms[i].at;
    }
    g->n = n;
    g->done = true;
    pthread_cond_signal(&g->c);
    pthread_mutex_unlock(&g->m);
}

static void on_commit(void *arg, const arb_commit_result_t *res, const arb_err_t *err)
{
    got_t *g = arg;
    pthread_mutex_lock(&g->m);
    g->failed = !res;
    if (err) g->err = *err;
    g->done = true;
    pthread_cond_signal(&g->c);
    pthread_mutex_unlock(&g->m);
}

static void on_fetch(void *arg, int status, const arb_err_t *err)
{
    got_t *g = arg;
    g->failed = status != 0;
    if (err) g->err = *err;
    g->done = true;
}

/* One sync, waited for (the LMDB callback runs on the writer thread). */
static got_t sync_arms(arb_store_session_t *s, const arb_arm_delta_t *d, size_t nd, const char *const *actions,
                       size_t na)
{
    got_t g = {.m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER};
    arb_arms_sync_t req = {d, nd, actions, na};
    arb_store_arms_sync(s, &req, on_arms, &g);
    pthread_mutex_lock(&g.m);
    while (!g.done) pthread_cond_wait(&g.c, &g.m);
    pthread_mutex_unlock(&g.m);
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

typedef struct db {
    arb_store_t *store;
    arb_store_session_t *sess;
} db_t;

static db_t db_open(const char *spec)
{
    db_t d;
    arb_err_t err;
    cr_assert_eq(arb_store_open(&d.store, spec, NULL, &err), 0, "%s", err.message);
    d.sess = arb_store_session_open(d.store, &err);
    cr_assert_not_null(d.sess, "%s", err.message);
    return d;
}

static void db_close(db_t *d)
{
    arb_store_session_close(d->sess);
    arb_store_close(d->store);
}

static const char *spec_of(bool lmdb)
{
    return lmdb ? dir : "memory";
}

#define DELTA(a, c, s, p, t, ts, h) ((arb_arm_delta_t){a, c, s, p, t, ts, h})

/* ---- behaviours, run on both backends ---- */

static void add_and_read_back(bool lmdb)
{
    db_t d = db_open(spec_of(lmdb));
    arb_arm_delta_t ds[] = {
        DELTA("boots", "web", "", 1, 1, 1000, 0),      DELTA("boots", "web", "", 0, 1, 1001, 0),
        DELTA("boots", "web", "gold", 1, 1, 1001, 0),  DELTA("boots", "email", "", 0, 2, 1002, 0),
        DELTA("socks", "web", "", 1, 3, 1003, 0),
    };
    const char *want[] = {"boots", "hats"};
    got_t g = sync_arms(d.sess, ds, 5, want, 2);
    cr_assert(!g.failed, "%s", g.err.message);
    cr_assert_eq(g.n, 3, "boots' three arms only, not socks', nothing for hats: %zu", g.n);
    const got_arm_t *a = find(&g, "boots", "web", "");
    cr_assert(a && a->positives == 1 && a->trials == 2 && a->at == 1001);
    a = find(&g, "boots", "web", "gold");
    cr_assert(a && a->positives == 1 && a->trials == 1);
    a = find(&g, "boots", "email", "");
    cr_assert(a && a->positives == 0 && a->trials == 2 && a->at == 1002);
    /* socks' delta was added though not asked for; a read adds nothing. */
    const char *socks[] = {"socks"};
    g = sync_arms(d.sess, NULL, 0, socks, 1);
    cr_assert(!g.failed, "%s", g.err.message);
    cr_assert_eq(g.n, 1);
    cr_assert(g.arm[0].positives == 1 && g.arm[0].trials == 3);
    g = sync_arms(d.sess, NULL, 0, socks, 1);
    cr_assert(g.n == 1 && g.arm[0].trials == 3);
    /* Nothing asked: nothing back, the deltas still added. */
    arb_arm_delta_t more = DELTA("socks", "web", "", 0, 1, 1004, 0);
    g = sync_arms(d.sess, &more, 1, NULL, 0);
    cr_assert(!g.failed && g.n == 0);
    g = sync_arms(d.sess, NULL, 0, socks, 1);
    cr_assert(g.n == 1 && g.arm[0].trials == 4);
    db_close(&d);
}

Test(arms, memory_adds_and_reads_back_only_the_actions_asked) { add_and_read_back(false); }
Test(arms, lmdb_adds_and_reads_back_only_the_actions_asked, .init = setup, .fini = teardown) { add_and_read_back(true); }

static void decays_by_time(bool lmdb)
{
    db_t d = db_open(spec_of(lmdb));
    const char *want[] = {"boots"};
    /* Half-life 100 s: 4 trials at t=1000 are worth 2 at t=1100. */
    arb_arm_delta_t a = DELTA("boots", "web", "", 2, 4, 1000, 100);
    got_t g = sync_arms(d.sess, &a, 1, want, 1);
    cr_assert(!g.failed, "%s", g.err.message);
    arb_arm_delta_t b = DELTA("boots", "web", "", 1, 2, 1100, 100);
    g = sync_arms(d.sess, &b, 1, want, 1);
    cr_assert(g.n == 1 && g.arm[0].at == 1100);
    cr_assert_float_eq(g.arm[0].trials, 4.0, 1e-9, "4*0.5 + 2, got %g", g.arm[0].trials);
    cr_assert_float_eq(g.arm[0].positives, 2.0, 1e-9, "2*0.5 + 1, got %g", g.arm[0].positives);
    /* An older delta arriving late is decayed to the arm's time. */
    arb_arm_delta_t c = DELTA("boots", "web", "", 0, 4, 900, 100);
    g = sync_arms(d.sess, &c, 1, want, 1);
    cr_assert(g.n == 1 && g.arm[0].at == 1100);
    cr_assert_float_eq(g.arm[0].trials, 5.0, 1e-9, "4 + 4*0.25, got %g", g.arm[0].trials);
    db_close(&d);
}

Test(arms, memory_decays_by_the_deltas_time_and_half_life) { decays_by_time(false); }
Test(arms, lmdb_decays_by_the_deltas_time_and_half_life, .init = setup, .fini = teardown) { decays_by_time(true); }

enum { THREADS = 6, SYNCS = 2000 };

static void *syncer(void *p)
{
    arb_store_t *store = p;
    arb_err_t err;
    arb_store_session_t *s = arb_store_session_open(store, &err);
    cr_assert_not_null(s);
    const char *want[] = {"boots"};
    for (int i = 0; i < SYNCS; i++) {
        arb_arm_delta_t ds[] = {DELTA("boots", "web", "", i % 2, 1, 5000, 0), DELTA("hats", "web", "", 0, 1, 5000, 0)};
        got_t g = sync_arms(s, ds, 2, want, 1);
        cr_assert(!g.failed, "%s", g.err.message);
    }
    arb_store_session_close(s);
    return NULL;
}

static void concurrent_exact(bool lmdb)
{
    db_t d = db_open(spec_of(lmdb));
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, syncer, d.store);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    const char *want[] = {"boots", "hats"};
    got_t g = sync_arms(d.sess, NULL, 0, want, 2);
    const got_arm_t *b = find(&g, "boots", "web", ""), *h = find(&g, "hats", "web", "");
    cr_assert(b && h);
    cr_assert_eq(b->trials, THREADS * SYNCS, "every delta counted once: %g", b->trials);
    cr_assert_eq(b->positives, THREADS * SYNCS / 2);
    cr_assert_eq(h->trials, THREADS * SYNCS);
    db_close(&d);
}

Test(arms, memory_concurrent_syncs_add_up_exactly) { concurrent_exact(false); }
Test(arms, lmdb_concurrent_syncs_add_up_exactly, .init = setup, .fini = teardown) { concurrent_exact(true); }

static void bad_deltas_refused(bool lmdb)
{
    db_t d = db_open(spec_of(lmdb));
    const char *want[] = {"boots"};
    arb_arm_delta_t ds[] = {DELTA("boots", "web", "", 1, 1, 1000, 0), DELTA("boots", "web", "", NAN, 1, 1000, 0)};
    got_t g = sync_arms(d.sess, ds, 2, want, 1);
    cr_assert(g.failed && g.err.code == ARB_INVALID_PARAMS, "%s", g.err.message);
    cr_assert(strstr(g.err.message, "delta 1"), "%s", g.err.message);
    arb_arm_delta_t nul = DELTA("boots", NULL, "", 1, 1, 1000, 0);
    g = sync_arms(d.sess, &nul, 1, want, 1);
    cr_assert(g.failed && g.err.code == ARB_INVALID_PARAMS, "%s", g.err.message);
    g = sync_arms(d.sess, NULL, 0, want, 1);
    cr_assert(!g.failed && g.n == 0, "nothing of a refused sync is added");
    db_close(&d);
}

Test(arms, memory_refuses_bad_deltas_and_adds_nothing) { bad_deltas_refused(false); }
Test(arms, lmdb_refuses_bad_deltas_and_adds_nothing, .init = setup, .fini = teardown) { bad_deltas_refused(true); }

static void on_forgot(void *arg, const arb_err_t *err)
{
    got_t *g = arg;
    pthread_mutex_lock(&g->m);
    g->failed = err != NULL;
    g->done = true;
    pthread_cond_signal(&g->c);
    pthread_mutex_unlock(&g->m);
}

/* Arms are not customer data: forgetting a customer (even one whose id is
 * an action's) leaves them. */
static void forget_leaves_arms(bool lmdb)
{
    db_t d = db_open(spec_of(lmdb));
    arb_arm_delta_t ds[] = {DELTA("boots", "web", "", 1, 1, 1000, 0)};
    const char *want[] = {"boots"};
    got_t g = sync_arms(d.sess, ds, 1, want, 1);
    cr_assert(!g.failed && g.n == 1, "%s", g.err.message);
    got_t f = {.m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER};
    arb_store_forget(d.sess, "boots", on_forgot, &f);
    pthread_mutex_lock(&f.m);
    while (!f.done) pthread_cond_wait(&f.c, &f.m);
    pthread_mutex_unlock(&f.m);
    cr_assert(!f.failed);
    g = sync_arms(d.sess, NULL, 0, want, 1);
    cr_assert(!g.failed && g.n == 1 && g.arm[0].trials == 1, "%s", g.err.message);
    db_close(&d);
}

Test(arms, memory_forget_leaves_arms) { forget_leaves_arms(false); }
Test(arms, lmdb_forget_leaves_arms, .init = setup, .fini = teardown) { forget_leaves_arms(true); }

Test(arms, an_action_keeps_at_most_ARB_ARMS_MAX_arms)
{
    db_t d = db_open("memory");
    size_t n = ARB_ARMS_MAX + 3;
    arb_arm_delta_t *ds = calloc(n, sizeof *ds);
    char (*seg)[16] = calloc(n, sizeof *seg);
    for (size_t i = 0; i < n; i++) {
        snprintf(seg[i], sizeof seg[i], "s%zu", i);
        ds[i] = DELTA("boots", "web", seg[i], 0, 1, 1000, 0);
    }
    const char *want[] = {"boots"};
    got_t g = sync_arms(d.sess, ds, n, want, 1);
    cr_assert(!g.failed, "%s", g.err.message);
    cr_assert_eq(g.n, ARB_ARMS_MAX, "new arms past the limit are dropped: %zu", g.n);
    /* Existing arms still learn. */
    arb_arm_delta_t again = DELTA("boots", "web", "s0", 1, 1, 1000, 0);
    g = sync_arms(d.sess, &again, 1, want, 1);
    cr_assert(!g.failed && g.n == ARB_ARMS_MAX, "%s", g.err.message);
    free(ds);
    free(seg);
    db_close(&d);
}

/* ---- LMDB only ---- */

Test(arms, lmdb_reopen_keeps_the_totals, .init = setup, .fini = teardown)
{
    db_t d = db_open(dir);
    arb_arm_delta_t ds[] = {DELTA("boots", "web", "", 3, 7, 1000, 0), DELTA("boots", "web", "gold", 1, 2, 1000, 0)};
    got_t g = sync_arms(d.sess, ds, 2, NULL, 0);
    cr_assert(!g.failed, "%s", g.err.message);
    /* Customers live beside the arms, untouched by them. */
    arb_contact_req_t k = {{1000, "boots", "web", "decision"}, NULL, 0};
    arb_commit_t cm = {.now = 1000, .contacts = &k, .n_contacts = 1};
    got_t c = {.m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER};
    arb_store_commit(d.sess, "boots", &cm, on_commit, &c);
    pthread_mutex_lock(&c.m);
    while (!c.done) pthread_cond_wait(&c.c, &c.m);
    pthread_mutex_unlock(&c.m);
    cr_assert(!c.failed, "%s", c.err.message);
    db_close(&d);
    d = db_open(dir);
    const char *want[] = {"boots"};
    g = sync_arms(d.sess, NULL, 0, want, 1);
    cr_assert(!g.failed, "%s", g.err.message);
    cr_assert_eq(g.n, 2);
    const got_arm_t *a = find(&g, "boots", "web", "");
    cr_assert(a && a->positives == 3 && a->trials == 7 && a->at == 1000);
    a = find(&g, "boots", "web", "gold");
    cr_assert(a && a->positives == 1 && a->trials == 2);
    arb_arena_t arena;
    arb_arena_init(&arena);
    arb_customer_t cu;
    got_t f = {.m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER};
    arb_store_fetch(d.sess, "boots", &cu, &arena, on_fetch, &f);
    cr_assert(f.done && !f.failed, "%s", f.err.message);
    cr_assert(cu.n_contacts == 1 && !strcmp(cu.id, "boots"), "the customer named like the action is intact");
    arb_arena_free(&arena);
    db_close(&d);
}

Test(arms, lmdb_a_full_map_fails_the_sync_as_unavailable_and_reads_go_on, .init = setup, .fini = teardown)
{
    arb_err_t err;
    db_t d;
    cr_assert_eq(arb_store_open(&d.store, dir, &(arb_store_options_t){.map_size = 256 << 10}, &err), 0, "%s",
                 err.message);
    d.sess = arb_store_session_open(d.store, &err);
    enum { PER = 40 };
    char seg[PER][96];
    arb_arm_delta_t ds[PER];
    got_t g;
    int i = 0;
    for (;; i++) {
        char action[32];
        snprintf(action, sizeof action, "filler-%d", i);
        for (int k = 0; k < PER; k++) {
            snprintf(seg[k], sizeof seg[k], "segment-%d-%0*d", k, 60, i);
            ds[k] = DELTA(action, "web", seg[k], 1, 1, 1000, 0);
        }
        g = sync_arms(d.sess, ds, PER, NULL, 0);
        if (g.failed) break;
        cr_assert_lt(i, 10000, "the map never filled");
    }
    cr_assert_eq(g.err.code, ARB_UNAVAILABLE, "%s", g.err.message);
    cr_assert(strstr(g.err.message, "map size") && strstr(g.err.message, "learning"), "%s", g.err.message);
    const char *first[] = {"filler-0"};
    g = sync_arms(d.sess, NULL, 0, first, 1);
    cr_assert(!g.failed && g.n == PER, "reads go on: %s", g.err.message);
    db_close(&d);
}

/* Writes raw bytes under action's key in the environment's "arms" database. */
static void put_raw(const char *action, const void *bytes, size_t n)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 1), 0);
    cr_assert_eq(mdb_env_set_mapsize(env, (size_t)64 << 30), 0);
    cr_assert_eq(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "arms", 0, &dbi), 0, "lmdb.c keeps the arms in a database named arms");
    MDB_val k = {strlen(action), (void *)action}, v = {n, (void *)bytes};
    cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

Test(arms, lmdb_a_corrupt_value_is_skipped_and_the_others_learn, .init = setup, .fini = teardown)
{
    db_t d = db_open(dir);
    arb_arm_delta_t ds[] = {DELTA("boots", "web", "", 1, 1, 1000, 0), DELTA("socks", "web", "", 1, 1, 1000, 0)};
    got_t g = sync_arms(d.sess, ds, 2, NULL, 0);
    cr_assert(!g.failed, "%s", g.err.message);
    db_close(&d);
    put_raw("socks", "ARBA\x01garbage-garbage", 17);
    d = db_open(dir);
    const char *boots[] = {"boots"}, *socks[] = {"socks"};
    g = sync_arms(d.sess, NULL, 0, socks, 1);
    cr_assert(!g.failed && g.n == 0, "the corrupt action reads back nothing: %s", g.err.message);
    /* One bad value does not stop the node's learning: boots learns, the
     * delta for socks is lost (logged), its value left as it is. */
    g = sync_arms(d.sess, ds, 2, NULL, 0);
    cr_assert(!g.failed, "%s", g.err.message);
    g = sync_arms(d.sess, NULL, 0, boots, 1);
    cr_assert(!g.failed && g.n == 1, "%s", g.err.message);
    cr_assert_eq(g.arm[0].trials, 2, "boots learned beside the corrupt socks");
    g = sync_arms(d.sess, NULL, 0, socks, 1);
    cr_assert(!g.failed && g.n == 0, "socks is still unreadable, not overwritten");
    db_close(&d);
}

/* ---- the codec ---- */

Test(arms, codec_round_trip_and_every_truncation_refused)
{
    arb_arm_t arms[] = {{"x", "web", "", 1.5, 10, 1000}, {"x", "email", "gold", 0, 3.25, -5}};
    uint8_t *v;
    size_t n;
    arb_err_t err;
    cr_assert_eq(arb_arms_encode("boots", arms, 2, &v, &n, &err), 0, "%s", err.message);
    arb_arena_t a;
    arb_arena_init(&a);
    arb_arm_t *out;
    size_t k;
    cr_assert_eq(arb_arms_decode(v, n, "boots", &out, &k, &a, &err), 0, "%s", err.message);
    cr_assert_eq(k, 2);
    cr_assert_str_eq(out[0].action, "boots");
    cr_assert_str_eq(out[1].channel, "email");
    cr_assert_str_eq(out[1].segment, "gold");
    cr_assert(out[0].positives == 1.5 && out[0].trials == 10 && out[0].at == 1000 && out[1].at == -5);
    cr_assert_eq(arb_arms_decode(v, n, "socks", &out, &k, &a, &err), -1, "under another action's key");
    cr_assert(err.code == ARB_INTERNAL && strstr(err.message, "name action boots"), "%s", err.message);
    for (size_t cut = 0; cut < n; cut++) {
        cr_assert_eq(arb_arms_decode(v, cut, "boots", &out, &k, &a, &err), -1, "a %zu-byte prefix", cut);
        cr_assert(err.code == ARB_INTERNAL && err.message[0] && !out && !k);
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t *c = malloc(n);
        memcpy(c, v, n);
        c[i] ^= 0x40;
        cr_assert_eq(arb_arms_decode(c, n, "boots", &out, &k, &a, &err), -1, "byte %zu flipped", i);
        free(c);
    }
    free(v);
    arb_arena_free(&a);
}

/* A payload with the right header but a bad field: its checksum made right. */
static int decode_payload_hex(const uint8_t *payload, size_t plen, arb_err_t *err)
{
    uint8_t buf[256];
    memcpy(buf, "ARBA\x01", 5);
    buf[5] = plen & 0xff; buf[6] = 0; buf[7] = 0; buf[8] = 0;
    uint32_t crc = (uint32_t)crc32(0, payload, (uInt)plen);
    for (int i = 0; i < 4; i++) buf[9 + i] = (crc >> (8 * i)) & 0xff;
    memcpy(buf + 13, payload, plen);
    arb_arena_t a;
    arb_arena_init(&a);
    arb_arm_t *out;
    size_t k;
    int rc = arb_arms_decode(buf, 13 + plen, NULL, &out, &k, &a, err);
    arb_arena_free(&a);
    return rc;
}

Test(arms, codec_refuses_bad_fields)
{
    arb_err_t err;
    /* [ "b", [ ["w", "", -1.0, 1.0, 5] ] ]: negative positives */
    static const uint8_t neg[] = {0x92, 0xa1, 'b', 0x91, 0x95, 0xa1, 'w', 0xa0, 0xcb, 0xbf, 0xf0, 0, 0, 0, 0, 0, 0,
                                  0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x05};
    cr_assert_eq(decode_payload_hex(neg, sizeof neg, &err), -1);
    cr_assert(strstr(err.message, "positives"), "%s", err.message);
    /* the same arm twice */
    static const uint8_t twice[] = {0x92, 0xa1, 'b', 0x92, 0x95, 0xa1, 'w', 0xa0, 0x01, 0x01, 0x05,
                                    0x95, 0xa1, 'w', 0xa0, 0x01, 0x01, 0x05};
    cr_assert_eq(decode_payload_hex(twice, sizeof twice, &err), -1);
    cr_assert(strstr(err.message, "twice"), "%s", err.message);
    /* a time that is a string */
    static const uint8_t at[] = {0x92, 0xa1, 'b', 0x91, 0x95, 0xa1, 'w', 0xa0, 0x01, 0x01, 0xa1, '5'};
    cr_assert_eq(decode_payload_hex(at, sizeof at, &err), -1);
    cr_assert(strstr(err.message, "time"), "%s", err.message);
    /* a NUL inside a channel */
    static const uint8_t nul[] = {0x92, 0xa1, 'b', 0x91, 0x95, 0xa2, 'w', 0, 0xa0, 0x01, 0x01, 0x05};
    cr_assert_eq(decode_payload_hex(nul, sizeof nul, &err), -1);
    /* and the good one decodes */
    static const uint8_t ok[] = {0x92, 0xa1, 'b', 0x91, 0x95, 0xa1, 'w', 0xa0, 0x01, 0x01, 0x05};
    cr_assert_eq(decode_payload_hex(ok, sizeof ok, &err), 0, "%s", err.message);
}
