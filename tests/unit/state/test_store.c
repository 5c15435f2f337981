/* Unit tests for engine/state/store.h, through the one interface, on both
 * backends (memory and a real LMDB folder under mkdtemp): what track stores
 * is fetched back, consent keeps the latest statement (a withdrawal holds
 * until a later grant), feedback is idempotent, retention drops by age and
 * by count, a cap of N grants exactly N with 8 threads committing for one
 * customer at once, forget empties the customer, and the LMDB store keeps
 * its data across close and reopen.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include "engine/state/store.h"

static char dir[64];
static arb_store_t *store;
static arb_store_session_t *sess;

static void cleanup_dir(void)
{
    if (!dir[0]) return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
    dir[0] = 0;
}

static void open_store(const char *kind, const arb_store_options_t *opt)
{
    arb_err_t err;
    const char *spec = kind;
    if (strcmp(kind, "lmdb") == 0) {
        if (!dir[0]) {
            strcpy(dir, "/tmp/arb-store-XXXXXX");
            cr_assert_not_null(mkdtemp(dir));
        }
        spec = dir;
    }
    cr_assert_eq(arb_store_open(&store, spec, opt, &err), 0, "%s", err.message);
    sess = arb_store_session_open(store, &err);
    cr_assert_not_null(sess, "%s", err.message);
}

static void close_store(void)
{
    arb_store_session_close(sess);
    arb_store_close(store);
    sess = NULL;
    store = NULL;
}

static void teardown(void)
{
    if (store) close_store();
    cleanup_dir();
}

/* Waiting for a callback that may run on the writer thread. */
typedef struct wait {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool done;
    int status;
    arb_err_t err;
    arb_commit_result_t res;
    bool granted[16];
} wait_t;

static void wait_init(wait_t *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->m, NULL);
    pthread_cond_init(&w->c, NULL);
}

static void wait_done(wait_t *w)
{
    pthread_mutex_lock(&w->m);
    while (!w->done) pthread_cond_wait(&w->c, &w->m);
    pthread_mutex_unlock(&w->m);
    pthread_mutex_destroy(&w->m);
    pthread_cond_destroy(&w->c);
}

static void signal_done(wait_t *w)
{
    pthread_mutex_lock(&w->m);
    w->done = true;
    pthread_cond_signal(&w->c);
    pthread_mutex_unlock(&w->m);
}

static void on_commit(void *arg, const arb_commit_result_t *res, const arb_err_t *err)
{
    wait_t *w = arg;
    w->status = res ? 0 : -1;
    if (err) w->err = *err;
    if (res) {
        w->res = *res;
        for (size_t i = 0; i < res->n_contacts && i < 16; i++) w->granted[i] = res->granted[i];
        w->res.granted = w->granted;
    }
    signal_done(w);
}

static void on_fetch(void *arg, int status, const arb_err_t *err)
{
    wait_t *w = arg;
    w->status = status;
    if (err) w->err = *err;
    signal_done(w);
}

static void on_done(void *arg, const arb_err_t *err)
{
    wait_t *w = arg;
    w->status = err ? -1 : 0;
    if (err) w->err = *err;
    signal_done(w);
}

static wait_t commit(const char *id, const arb_commit_t *c)
{
    wait_t w;
    wait_init(&w);
    arb_store_commit(sess, id, c, on_commit, &w);
    wait_done(&w);
    return w;
}

static void commit_ok(const char *id, const arb_commit_t *c)
{
    wait_t w = commit(id, c);
    cr_assert_eq(w.status, 0, "%s", w.err.message);
}

static arb_arena_t arena;

static arb_customer_t fetch(const char *id)
{
    arb_customer_t c;
    wait_t w;
    wait_init(&w);
    arb_store_fetch(sess, id, &c, &arena, on_fetch, &w);
    wait_done(&w);
    cr_assert_eq(w.status, 0, "%s", w.err.message);
    return c;
}

static void forget(const char *id)
{
    wait_t w;
    wait_init(&w);
    arb_store_forget(sess, id, on_done, &w);
    wait_done(&w);
    cr_assert_eq(w.status, 0, "%s", w.err.message);
}

/* Each behaviour runs on both backends. */
#define BOTH(name)                                                 \
    static void name(const char *kind);                            \
    Test(store_memory, name, .fini = teardown) { name("memory"); } \
    Test(store_lmdb, name, .fini = teardown) { name("lmdb"); }     \
    static void name(const char *kind)

BOTH(track_then_fetch_sees_it)
{
    open_store(kind, NULL);
    arb_event_t ev[2] = {{100, "view", "web", "SKU-1", "shoes", NAN, NULL, 0},
                         {90, "cart", "app", "SKU-2", "toys", NAN, NULL, 0}};
    arb_event_t pu[1] = {{95, NULL, "store", "SKU-3", "kitchen", 49.5, NULL, 0}};
    uint8_t attrs[] = {0x81, 0xa4, 't', 'i', 'e', 'r', 0xa4, 'g', 'o', 'l', 'd'};
    arb_commit_t c = {.now = 100, .events = ev, .n_events = 2, .purchases = pu, .n_purchases = 1,
                      .attributes = attrs, .attributes_len = sizeof attrs};
    wait_t w = commit("cust-1", &c);
    cr_assert_eq(w.status, 0, "%s", w.err.message);
    cr_assert_eq(w.res.stored, 3);
    /* The same track again (a client's retry) stores nothing twice. */
    w = commit("cust-1", &c);
    cr_assert_eq(w.res.stored, 0);
    /* A later attribute replaces its key and keeps the others. */
    uint8_t more[] = {0x82, 0xa4, 't', 'i', 'e', 'r', 0xa6, 's', 'i', 'l', 'v', 'e', 'r', 0xa1, 'x', 0x07};
    commit_ok("cust-1", &(arb_commit_t){.now = 101, .attributes = more, .attributes_len = sizeof more});

    arb_arena_init(&arena);
    arb_customer_t got = fetch("cust-1");
    cr_assert_str_eq(got.id, "cust-1");
    cr_assert_eq(got.n_events, 2);
    cr_assert_str_eq(got.events[0].type, "cart");  /* oldest first */
    cr_assert_str_eq(got.events[1].sku, "SKU-1");
    cr_assert_eq(got.n_purchases, 1);
    cr_assert_float_eq(got.purchases[0].price, 49.5, 1e-9);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, (const char *)got.attributes, got.attributes_len, NULL),
                 MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(u.data.type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(u.data.via.map.size, 2);
    bool silver = false;
    for (uint32_t i = 0; i < 2; i++)
        if (u.data.via.map.ptr[i].val.type == MSGPACK_OBJECT_STR)
            silver = u.data.via.map.ptr[i].val.via.str.size == 6;
    cr_assert(silver);
    msgpack_unpacked_destroy(&u);

    arb_customer_t none = fetch("cust-2");
    cr_assert_str_eq(none.id, "");
    cr_assert_eq(none.n_events, 0);
    arb_arena_free(&arena);
}

BOTH(consent_withdrawal_holds_until_a_later_grant)
{
    open_store(kind, NULL);
    arb_arena_init(&arena);
    arb_consent_t grant10 = {10, "email", true}, withdraw20 = {20, "email", false}, grant15 = {15, "email", true},
                  grant30 = {30, "email", true}, withdraw30 = {30, "email", false};
    commit_ok("c", &(arb_commit_t){.now = 10, .consents = &grant10, .n_consents = 1});
    cr_assert_eq(arb_customer_consent(&(arb_customer_t){0}, "email"), -1);
    arb_customer_t got = fetch("c");
    cr_assert_eq(arb_customer_consent(&got, "email"), 1);
    commit_ok("c", &(arb_commit_t){.now = 20, .consents = &withdraw20, .n_consents = 1});
    got = fetch("c");
    cr_assert_eq(arb_customer_consent(&got, "email"), 0);
    /* A grant stated earlier than the withdrawal, arriving late, does not lift it. */
    commit_ok("c", &(arb_commit_t){.now = 21, .consents = &grant15, .n_consents = 1});
    got = fetch("c");
    cr_assert_eq(arb_customer_consent(&got, "email"), 0);
    commit_ok("c", &(arb_commit_t){.now = 30, .consents = &grant30, .n_consents = 1});
    got = fetch("c");
    cr_assert_eq(arb_customer_consent(&got, "email"), 1);
    cr_assert_eq(got.n_consents, 1);
    /* The same second: the withdrawal wins. */
    commit_ok("c", &(arb_commit_t){.now = 30, .consents = &withdraw30, .n_consents = 1});
    got = fetch("c");
    cr_assert_eq(arb_customer_consent(&got, "email"), 0);
    arb_arena_free(&arena);
}

BOTH(feedback_is_idempotent)
{
    open_store(kind, NULL);
    arb_arena_init(&arena);
    arb_outcome_t click = {50, "boots", "click", "d-1", "web", NAN};
    arb_outcome_t convert = {60, "boots", "convert", "d-1", "web", 99.0};
    wait_t w = commit("c", &(arb_commit_t){.now = 50, .outcomes = &click, .n_outcomes = 1});
    cr_assert_eq(w.res.outcomes_counted, 1);
    w = commit("c", &(arb_commit_t){.now = 51, .outcomes = &click, .n_outcomes = 1});
    cr_assert_eq(w.status, 0);
    cr_assert_eq(w.res.outcomes_counted, 0);
    w = commit("c", &(arb_commit_t){.now = 60, .outcomes = &convert, .n_outcomes = 1});
    cr_assert_eq(w.res.outcomes_counted, 1);
    /* Without a decision_id nothing tells two feedbacks apart: both count. */
    arb_outcome_t anon = {70, "boots", "click", NULL, "web", NAN};
    commit_ok("c", &(arb_commit_t){.now = 70, .outcomes = &anon, .n_outcomes = 1});
    commit_ok("c", &(arb_commit_t){.now = 70, .outcomes = &anon, .n_outcomes = 1});
    arb_customer_t got = fetch("c");
    cr_assert_eq(got.n_outcomes, 4);
    cr_assert_str_eq(got.outcomes[1].outcome, "convert");
    cr_assert_float_eq(got.outcomes[1].value, 99.0, 1e-9);
    arb_arena_free(&arena);
}

BOTH(retention_drops_by_age_and_by_count)
{
    arb_store_options_t opt = {.retention = {.max_age = 1000, .max_events = 3, .max_contacts = 2}};
    open_store(kind, &opt);
    arb_arena_init(&arena);
    arb_event_t ev[5];
    for (int i = 0; i < 5; i++) ev[i] = (arb_event_t){10000 - 1500 + i * 400, "view", "web", "S", "c", NAN, NULL, 0};
    /* ts 8500 (too old at now=10000), 8900, 9300, 9700, 10100 */
    commit_ok("c", &(arb_commit_t){.now = 10000, .events = ev, .n_events = 5});
    arb_customer_t got = fetch("c");
    cr_assert_eq(got.n_events, 3);
    cr_assert_eq(got.events[0].ts, 9300);
    cr_assert_eq(got.events[2].ts, 10100);
    /* Age alone, later: only what is younger than 1000 s stays. */
    commit_ok("c", &(arb_commit_t){.now = 10600});
    got = fetch("c");
    cr_assert_eq(got.n_events, 2);
    cr_assert_eq(got.events[0].ts, 9700);
    /* A commit's own retention wins over the store's. */
    arb_retention_t keep1 = {.max_events = 1};
    commit_ok("c", &(arb_commit_t){.now = 10600, .retention = &keep1});
    got = fetch("c");
    cr_assert_eq(got.n_events, 1);
    cr_assert_eq(got.events[0].ts, 10100);
    /* Contacts are kept by count too. */
    arb_contact_req_t k[3] = {{{10001, "a", "web", "decision"}, NULL, 0},
                              {{10002, "b", "web", "decision"}, NULL, 0},
                              {{10003, "c", "web", "decision"}, NULL, 0}};
    commit_ok("c", &(arb_commit_t){.now = 10003, .contacts = k, .n_contacts = 3});
    got = fetch("c");
    cr_assert_eq(got.n_contacts, 2);
    cr_assert_str_eq(got.contacts[0].action, "b");
    arb_arena_free(&arena);
}

BOTH(caps_grant_per_contact_and_report_each)
{
    open_store(kind, NULL);
    arb_arena_init(&arena);
    /* boots: at most 2 per 100 s; email: at most 3 per 1000 s. */
    arb_cap_t caps[2] = {{"boots", NULL, 2, 100, NULL, 0}, {NULL, "email", 3, 1000, NULL, 0}};
    arb_contact_req_t k[4] = {{{500, "boots", "email", "decision"}, caps, 2},
                              {{501, "boots", "email", "decision"}, caps, 2},
                              {{502, "boots", "web", "decision"}, caps, 1},   /* boots full */
                              {{503, "tent", "email", "decision"}, caps + 1, 1}};  /* its own caps */
    wait_t w = commit("c", &(arb_commit_t){.now = 503, .contacts = k, .n_contacts = 4});
    cr_assert_eq(w.status, 0, "%s", w.err.message);
    cr_assert_eq(w.res.n_contacts, 4);
    cr_assert(w.granted[0] && w.granted[1] && !w.granted[2] && w.granted[3]);
    cr_assert_eq(w.res.n_granted, 3);
    /* email is now full; boots frees up after its window. */
    arb_contact_req_t k2[2] = {{{650, "boots", "email", "decision"}, caps, 2},
                               {{651, "boots", "web", "decision"}, caps, 1}};  /* not the email cap */
    w = commit("c", &(arb_commit_t){.now = 651, .contacts = k2, .n_contacts = 2});
    cr_assert(!w.granted[0] && w.granted[1]);
    arb_customer_t got = fetch("c");
    cr_assert_eq(got.n_contacts, 4);
    cr_assert_eq(arb_customer_contacts_since(&got, "boots", NULL, 0), 3);
    /* A cap of 0 refuses always. */
    arb_cap_t zero = {"boots", NULL, 0, 10, NULL, 0};
    arb_contact_req_t k3 = {{700, "boots", "app", "decision"}, &zero, 1};
    w = commit("c", &(arb_commit_t){.now = 700, .contacts = &k3, .n_contacts = 1});
    cr_assert_not(w.granted[0]);
    arb_arena_free(&arena);
}

BOTH(a_group_cap_counts_the_contacts_of_every_member)
{
    open_store(kind, NULL);
    arb_arena_init(&arena);
    /* promo = {boots, tent}: at most 2 contacts of either per 100 s; scarf
     * is not a member and neither counts nor is refused. */
    static const char *const promo[] = {"boots", "tent"};
    arb_cap_t group = {NULL, NULL, 2, 100, promo, 2};
    arb_contact_req_t k[4] = {{{500, "boots", "email", "decision"}, &group, 1},
                              {{501, "scarf", "email", "decision"}, NULL, 0},
                              {{502, "tent", "web", "decision"}, &group, 1},
                              {{503, "tent", "app", "decision"}, &group, 1}};  /* promo full */
    wait_t w = commit("c", &(arb_commit_t){.now = 503, .contacts = k, .n_contacts = 4});
    cr_assert_eq(w.status, 0, "%s", w.err.message);
    cr_assert(w.granted[0] && w.granted[1] && w.granted[2] && !w.granted[3],
              "the third promo contact within 100 s is refused");
    arb_contact_req_t k2 = {{601, "boots", "web", "decision"}, &group, 1};
    w = commit("c", &(arb_commit_t){.now = 601, .contacts = &k2, .n_contacts = 1});
    cr_assert(w.granted[0], "boots at 500 left the window: one place is free again");
    arb_arena_free(&arena);
}

/* ---- exact caps under concurrency ---- */

enum { THREADS = 8, TRIES = 6, CAP = 10 };

static atomic_int granted_total, callbacks;
static pthread_mutex_t all_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_c = PTHREAD_COND_INITIALIZER;

static void on_race_commit(void *arg, const arb_commit_result_t *res, const arb_err_t *err)
{
    cr_assert_not_null(res, "%s", err ? err->message : "");
    atomic_fetch_add(&granted_total, (int)res->n_granted);
    pthread_mutex_lock(&all_m);
    atomic_fetch_add(&callbacks, 1);
    pthread_cond_broadcast(&all_c);
    pthread_mutex_unlock(&all_m);
}

static void *racer(void *p)
{
    arb_err_t err;
    arb_store_session_t *s = arb_store_session_open(store, &err);
    cr_assert_not_null(s);
    static const arb_cap_t cap = {"boots", NULL, CAP, 3600, NULL, 0};
    for (int i = 0; i < TRIES; i++) {
        arb_contact_req_t k = {{1000 + i, "boots", "web", "decision"}, &cap, 1};
        arb_store_commit(s, "hot", &(arb_commit_t){.now = 1000 + i, .contacts = &k, .n_contacts = 1},
                         on_race_commit, NULL);
    }
    arb_store_session_close(s);
    return p;
}

BOTH(a_cap_of_n_grants_exactly_n_with_8_threads)
{
    open_store(kind, NULL);
    arb_arena_init(&arena);
    atomic_store(&granted_total, 0);
    atomic_store(&callbacks, 0);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, racer, NULL);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    pthread_mutex_lock(&all_m);
    while (atomic_load(&callbacks) < THREADS * TRIES) pthread_cond_wait(&all_c, &all_m);
    pthread_mutex_unlock(&all_m);
    cr_assert_eq(atomic_load(&granted_total), CAP);
    arb_customer_t got = fetch("hot");
    cr_assert_eq(got.n_contacts, CAP);
    arb_arena_free(&arena);
}

BOTH(suppressions_expire_and_the_later_until_wins)
{
    open_store(kind, NULL);
    arb_arena_init(&arena);
    arb_suppression_t s[3] = {{200, "boots", "complained"}, {150, "boots", NULL}, {90, "tent", "expired already"}};
    commit_ok("c", &(arb_commit_t){.now = 100, .suppressions = s, .n_suppressions = 3});
    arb_customer_t got = fetch("c");
    cr_assert_eq(got.n_suppressions, 1);
    cr_assert(arb_customer_suppressed(&got, "boots", 199));
    cr_assert_not(arb_customer_suppressed(&got, "boots", 200));
    cr_assert_str_eq(got.suppressions[0].reason, "complained");
    commit_ok("c", &(arb_commit_t){.now = 250});
    got = fetch("c");
    cr_assert_eq(got.n_suppressions, 0);
    arb_arena_free(&arena);
}

BOTH(forget_empties_the_customer)
{
    open_store(kind, NULL);
    arb_arena_init(&arena);
    arb_event_t ev = {1, "view", "web", "S", "c", NAN, NULL, 0};
    commit_ok("gone", &(arb_commit_t){.now = 1, .events = &ev, .n_events = 1});
    commit_ok("kept", &(arb_commit_t){.now = 1, .events = &ev, .n_events = 1});
    forget("gone");
    forget("never-stored");
    arb_customer_t got = fetch("gone");
    cr_assert_str_eq(got.id, "");
    cr_assert_eq(got.n_events, 0);
    got = fetch("kept");
    cr_assert_eq(got.n_events, 1);
    /* Starting afresh after forget. */
    commit_ok("gone", &(arb_commit_t){.now = 2});
    got = fetch("gone");
    cr_assert_str_eq(got.id, "gone");
    cr_assert_eq(got.n_events, 0);
    arb_arena_free(&arena);
}

BOTH(a_bad_customer_id_is_refused)
{
    open_store(kind, NULL);
    arb_arena_init(&arena);
    wait_t w = commit("", &(arb_commit_t){.now = 1});
    cr_assert_eq(w.status, -1);
    cr_assert_eq(w.err.code, ARB_INVALID_PARAMS);
    cr_assert_not_null(strstr(w.err.message, "customer_id"));
    char long_id[ARB_STORE_ID_MAX + 2];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = 0;
    w = commit(long_id, &(arb_commit_t){.now = 1});
    cr_assert_eq(w.err.code, ARB_INVALID_PARAMS);
    /* Attributes that are not a map: that commit fails, nothing stored. */
    uint8_t notmap[] = {0x01};
    w = commit("c", &(arb_commit_t){.now = 1, .attributes = notmap, .attributes_len = 1});
    cr_assert_eq(w.status, -1);
    cr_assert_eq(w.err.code, ARB_INVALID_PARAMS);
    cr_assert_not_null(strstr(w.err.message, "attributes"));
    arb_arena_free(&arena);
}

BOTH(reopen_after_close)
{
    open_store(kind, NULL);
    arb_arena_init(&arena);
    arb_contact_req_t k = {{5, "boots", "web", "decision"}, NULL, 0};
    commit_ok("c", &(arb_commit_t){.now = 5, .contacts = &k, .n_contacts = 1});
    close_store();
    open_store(kind, NULL);
    arb_customer_t got = fetch("c");
    /* The LMDB folder keeps it; memory keeps nothing, as documented. */
    cr_assert_eq(got.n_contacts, strcmp(kind, "lmdb") == 0 ? 1u : 0u);
    arb_arena_free(&arena);
}

Test(store, open_refuses_bad_redis_seeds_and_empty_spec)
{
    arb_err_t err;
    cr_assert_eq(arb_store_open(&store, "redis://127.0.0.1", NULL, &err), -1);
    cr_assert_not_null(strstr(err.message, "HOST:PORT"));
    cr_assert_eq(arb_store_open(&store, "redis://a:1,b:0", NULL, &err), -1);
    cr_assert_eq(arb_store_open(&store, "redis://", NULL, &err), -1);
    cr_assert_eq(arb_store_open(&store, "", NULL, &err), -1);
    cr_assert_not_null(strstr(err.message, "--state"));
    cr_assert_null(store);
}
