/* Unit tests for the memory store (engine/state/memory.c), which keeps
 * each customer decoded (flat.c) where LMDB keeps record bytes: both are
 * opened side by side (LMDB in a mkdtemp folder) and given the same few
 * hundred random commits through store.h (events, purchases, consents,
 * attributes, outcomes with learning, suppressions, contacts under caps,
 * offers, pseudonyms, retention by age and count, and forgets); every
 * commit's result (granted, counts, learning, pseudonym, or the error) and
 * every customer fetched afterwards must be the same from both. Also: a
 * record the record form refuses as too large is refused by the memory
 * store too, with the same message, and forget then fetch finds nothing.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include "engine/state/record.h"
#include "engine/state/store.h"
#include "engine/state/store_int.h"
#include "tests/unit/state/custfix.h"

static char dir[64];
static arb_store_t *mem, *lmdb;
static arb_store_session_t *mem_s, *lmdb_s;

static const arb_store_options_t opt = {
    .retention = {.max_age = 20 * 86400, .max_events = 12, .max_purchases = 5, .max_contacts = 30,
                  .max_outcomes = 8, .max_offers = 6, .max_recommended = 3},
};

static void setup(void)
{
    arb_err_t err;
    strcpy(dir, "/tmp/arb-memstore-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(arb_store_open(&mem, "memory", &opt, &err), 0, "%s", err.message);
    cr_assert_eq(arb_store_open(&lmdb, dir, &opt, &err), 0, "%s", err.message);
    cr_assert_not_null(mem_s = arb_store_session_open(mem, &err), "%s", err.message);
    cr_assert_not_null(lmdb_s = arb_store_session_open(lmdb, &err), "%s", err.message);
}

static void teardown(void)
{
    arb_store_session_close(mem_s);
    arb_store_session_close(lmdb_s);
    arb_store_close(mem);
    arb_store_close(lmdb);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* One commit's answer, kept past its callback (LMDB's runs on the writer). */
typedef struct answer {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool done;
    int status;
    arb_err_t err;
    arb_commit_result_t res;
    bool granted[8];
    char learn[3][256];
    bool learn_set[3];
} answer_t;

static void on_commit(void *arg, const arb_commit_result_t *res, const arb_err_t *err)
{
    answer_t *a = arg;
    pthread_mutex_lock(&a->m);
    a->status = res ? 0 : -1;
    if (err) a->err = *err;
    if (res) {
        a->res = *res;
        for (size_t i = 0; i < res->n_contacts && i < 8; i++) a->granted[i] = res->granted[i];
        const char *l[3] = {res->learn_channel, res->learn_segment, res->learn_decision_id};
        for (int i = 0; i < 3; i++)
            if ((a->learn_set[i] = l[i] != NULL)) snprintf(a->learn[i], sizeof a->learn[i], "%s", l[i]);
    }
    a->done = true;
    pthread_cond_signal(&a->c);
    pthread_mutex_unlock(&a->m);
}

static void commit_to(arb_store_session_t *ss, const char *id, const arb_commit_t *c, answer_t *a)
{
    memset(a, 0, sizeof *a);
    pthread_mutex_init(&a->m, NULL);
    pthread_cond_init(&a->c, NULL);
    arb_store_commit(ss, id, c, on_commit, a);
    pthread_mutex_lock(&a->m);
    while (!a->done) pthread_cond_wait(&a->c, &a->m);
    pthread_mutex_unlock(&a->m);
    pthread_mutex_destroy(&a->m);
    pthread_cond_destroy(&a->c);
}

/* Both stores' answers to c, which must be the same. */
static void commit_both(const char *id, const arb_commit_t *c, int step)
{
    answer_t m, l;
    commit_to(mem_s, id, c, &m);
    commit_to(lmdb_s, id, c, &l);
    cr_assert_eq(m.status, l.status, "step %d: memory %d, LMDB %d (%s / %s)", step, m.status, l.status,
                 m.err.message, l.err.message);
    if (m.status) {
        cr_assert_eq(m.err.code, l.err.code, "step %d", step);
        cr_assert_str_eq(m.err.message, l.err.message, "step %d", step);
        return;
    }
    cr_assert_eq(m.res.n_contacts, l.res.n_contacts, "step %d", step);
    for (size_t i = 0; i < m.res.n_contacts; i++)
        cr_assert_eq(m.granted[i], l.granted[i], "step %d: contact %zu", step, i);
    cr_assert_eq(m.res.n_granted, l.res.n_granted, "step %d", step);
    cr_assert_eq(m.res.stored, l.res.stored, "step %d", step);
    cr_assert_eq(m.res.outcomes_counted, l.res.outcomes_counted, "step %d", step);
    cr_assert_eq(m.res.learn_known, l.res.learn_known, "step %d", step);
    cr_assert_eq(m.res.learn_positives, l.res.learn_positives, "step %d", step);
    cr_assert_eq(m.res.learn_trials, l.res.learn_trials, "step %d", step);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(m.learn_set[i], l.learn_set[i], "step %d: learn string %d", step, i);
        cr_assert_str_eq(m.learn[i], l.learn[i], "step %d: learn string %d", step, i);
    }
    cr_assert_str_eq(m.res.pseudonym, l.res.pseudonym, "step %d", step);
}

static void on_fetch(void *arg, int status, const arb_err_t *err)
{
    cr_assert_eq(status, 0, "%s", err ? err->message : "");
    *(bool *)arg = true;
}

static void fetch(arb_store_session_t *ss, const char *id, arb_customer_t *c, arb_arena_t *a)
{
    bool done = false;
    arb_store_fetch(ss, id, c, a, on_fetch, &done);
    cr_assert(done, "fetch calls back before it returns (memory and LMDB)");
}

static void expect_same_fetch(const char *id, int step)
{
    arb_arena_t a;
    arb_arena_init(&a);
    arb_customer_t m, l;
    fetch(mem_s, id, &m, &a);
    fetch(lmdb_s, id, &l, &a);
    const char *why = custfix_diff(&m, &l);
    cr_assert_null(why, "step %d, customer %s: the memory store's %s differ from LMDB's", step, id, why);
    arb_arena_free(&a);
}

static void on_done(void *arg, const arb_err_t *err)
{
    cr_assert_null(err, "%s", err ? err->message : "");
    *(bool *)arg = true;
}

static void forget(arb_store_session_t *ss, const char *id)
{
    bool done = false;
    arb_store_forget(ss, id, on_done, &done);
    while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) usleep(1000);
}

/* ---- random commits ---- */

static uint64_t rng = 0x9E3779B97F4A7C15u;

static unsigned pick(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static const char *ids[] = {"alice", "bob", "carol", "dave"};
static const char *types[] = {"view", "cart", "recommended"};
static const char *chans[] = {"web", "email", "app"};
static const char *skus[] = {"S1", "S2", "S3", "S4", "S5", "S6"};
static const char *cats[] = {"shoes", "toys", "tv"};
static const char *acts[] = {"A1", "A2", "A3", "A4"};
static const char *outs[] = {"impression", "click", "convert", "dismiss"};
static const char *keys[] = {"email", "sms", "push"};
static const char *dids[] = {"d-1", "d-2", "d-3", "d-4", "d-5"};
static const char *pseudos[] = {"9f86d081884c7d659a2feaa0c55ad015", "0123456789abcdef0123456789ABCDEF"};
static const uint8_t brand[] = {0x81, 0xa5, 'b', 'r', 'a', 'n', 'd', 0xa4, 'A', 'c', 'm', 'e'};
static const uint8_t empty_map[] = {0x80};
static const uint8_t tier_gold[] = {0x81, 0xa4, 't', 'i', 'e', 'r', 0xa4, 'g', 'o', 'l', 'd'};
static const uint8_t tier_ltv[] = {0x82, 0xa4, 't', 'i', 'e', 'r', 0xa6, 's', 'i', 'l', 'v', 'e', 'r',
                                   0xa3, 'l', 't', 'v', 0xcd, 0x04, 0xd2};

static const char *maybe(const char *s)
{
    return pick(5) ? s : NULL;
}

typedef struct one {
    arb_event_t events[3], purchases[1];
    arb_consent_t consent;
    arb_outcome_t outcome;
    arb_suppression_t supp;
    arb_cap_t caps[3];
    const char *group[2];
    arb_contact_req_t contacts[3];
    arb_offer_req_t offers[2];
    arb_learn_rule_t learn;
} one_t;

static void random_commit(one_t *o, arb_commit_t *c, int64_t now)
{
    memset(o, 0, sizeof *o);
    *c = (arb_commit_t){.now = now};
    c->n_events = pick(4);
    for (size_t i = 0; i < c->n_events; i++) {
        int extra = pick(4);
        o->events[i] = (arb_event_t){now - pick(40) * 86400, types[pick(3)], maybe(chans[pick(3)]),
                                     maybe(skus[pick(6)]), maybe(cats[pick(3)]), pick(2) ? NAN : pick(1000) / 4.0,
                                     extra == 1 ? brand : extra == 2 ? empty_map : NULL,
                                     extra == 1 ? sizeof brand : extra == 2 ? sizeof empty_map : 0};
    }
    c->events = o->events;
    if ((c->n_purchases = pick(3) == 0)) {
        o->purchases[0] = (arb_event_t){now - pick(10) * 3600, NULL, maybe(chans[pick(3)]), skus[pick(6)],
                                        maybe(cats[pick(3)]), pick(4) ? 9.99 * (1 + pick(9)) : NAN, NULL, 0};
        c->purchases = o->purchases;
    }
    if ((c->n_consents = pick(4) == 0)) {
        o->consent = (arb_consent_t){now, keys[pick(3)], pick(2)};
        c->consents = &o->consent;
    }
    unsigned at = pick(6);
    if (at < 3) {
        c->attributes = at == 0 ? tier_gold : at == 1 ? tier_ltv : empty_map;
        c->attributes_len = at == 0 ? sizeof tier_gold : at == 1 ? sizeof tier_ltv : sizeof empty_map;
    }
    if ((c->n_outcomes = pick(3) == 0)) {
        o->outcome = (arb_outcome_t){now, acts[pick(4)], outs[pick(4)], maybe(dids[pick(5)]),
                                     maybe(chans[pick(3)]), pick(3) ? NAN : 50.0};
        c->outcomes = &o->outcome;
        if (pick(2)) {
            o->learn = (arb_learn_rule_t){"click", pick(2)};
            c->learn = &o->learn;
        }
    }
    if ((c->n_suppressions = pick(6) == 0)) {
        o->supp = (arb_suppression_t){now + pick(5) * 3600, acts[pick(4)], maybe("complained")};
        c->suppressions = &o->supp;
    }
    o->group[0] = "A1";
    o->group[1] = "A3";
    o->caps[0] = (arb_cap_t){NULL, "email", 1 + pick(4), 86400, NULL, 0};
    o->caps[1] = (arb_cap_t){NULL, NULL, 2 + pick(6), 7 * 86400, o->group, 2};
    c->n_contacts = pick(4);
    for (size_t i = 0; i < c->n_contacts; i++) {
        const char *a = acts[pick(4)];
        o->caps[2] = (arb_cap_t){a, NULL, 1 + pick(3), 3 * 86400, NULL, 0};
        o->contacts[i] = (arb_contact_req_t){{now, a, chans[pick(3)], pick(3) ? "decision" : "impression"},
                                             &o->caps[pick(3)], 1};
    }
    c->contacts = o->contacts;
    c->n_offers = c->n_contacts ? pick(3) : 0;
    for (size_t i = 0; i < c->n_offers; i++)
        o->offers[i] = (arb_offer_req_t){{now, dids[pick(5)], o->contacts[i % c->n_contacts].contact.action,
                                          o->contacts[i % c->n_contacts].contact.channel, pick(2) ? "" : "gold",
                                          0},
                                         pick(2) ? (int32_t)(i % c->n_contacts) : -1};
    c->offers = o->offers;
    c->pseudonym = pick(3) ? pseudos[pick(2)] : NULL;
}

Test(memory_store, answers_as_lmdb_does_over_random_commits, .init = setup, .fini = teardown)
{
    int64_t now = 1790000000;
    one_t o;
    arb_commit_t c;
    for (int step = 0; step < 400; step++) {
        const char *id = ids[pick(4)];
        now += pick(4 * 3600);
        if (pick(40) == 0) {
            forget(mem_s, id);
            forget(lmdb_s, id);
        } else {
            random_commit(&o, &c, now);
            commit_both(id, &c, step);
        }
        expect_same_fetch(id, step);
    }
    for (int i = 0; i < 4; i++) expect_same_fetch(ids[i], 400);
}

Test(memory_store, a_customer_over_the_record_limit_is_refused_as_lmdb_refuses_it, .init = setup,
     .fini = teardown)
{
    /* attributes {"blob": <ARB_RECORD_MAX bytes>}: the record would be over the limit. */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "blob", 4);
    char *blob = calloc(1, ARB_RECORD_MAX);
    cr_assert_not_null(blob);
    msgpack_pack_bin_with_body(&pk, blob, ARB_RECORD_MAX);
    free(blob);
    arb_commit_t c = {.now = 1790000000, .attributes = (const uint8_t *)sb.data, .attributes_len = sb.size};
    answer_t m;
    commit_both("big", &c, 0);
    commit_to(mem_s, "big", &c, &m);
    cr_assert_eq(m.status, -1);
    cr_assert(strstr(m.err.message, "over the 16777216-byte limit"), "%s", m.err.message);
    msgpack_sbuffer_destroy(&sb);
    expect_same_fetch("big", 1);
}

Test(memory_store, forget_then_fetch_finds_nothing, .init = setup, .fini = teardown)
{
    one_t o;
    arb_commit_t c;
    for (int i = 0; i < 30; i++) {
        random_commit(&o, &c, 1790000000 + i * 60);
        c.pseudonym = pseudos[0];
        commit_both("gone", &c, i);
    }
    arb_arena_t a;
    arb_arena_init(&a);
    arb_customer_t cu;
    fetch(mem_s, "gone", &cu, &a);
    cr_assert_str_eq(cu.id, "gone");
    cr_assert_str_eq(cu.pseudonym, pseudos[0]);
    forget(mem_s, "gone");
    fetch(mem_s, "gone", &cu, &a);
    cr_assert_str_eq(cu.id, "", "a forgotten customer is one never stored");
    cr_assert_null(cu.pseudonym);
    cr_assert_eq(cu.n_events + cu.n_purchases + cu.n_contacts + cu.n_outcomes + cu.n_consents +
                     cu.n_suppressions + cu.n_offers + cu.attributes_len, 0);
    /* And a commit after it starts afresh: no pseudonym carried over. */
    c = (arb_commit_t){.now = 1790009000};
    answer_t m;
    commit_to(mem_s, "gone", &c, &m);
    cr_assert_eq(m.status, 0);
    cr_assert_str_eq(m.res.pseudonym, "");
    arb_arena_free(&a);
}

/* What a commit merged lingers nowhere once it is kept: the session's
 * scratch (the merge's copy of the customer) is zeroed before the commit
 * answers, as the block it replaced is. A `forget` then leaves no copy. */
Test(memory_store, a_commit_leaves_no_copy_of_the_customer_in_its_scratch, .init = setup, .fini = teardown)
{
    static const uint8_t attrs[] = { 0x81, 0xa5, 'e', 'm', 'a', 'i', 'l', 0xb0, 's', 'e', 'c', 'r', 'e',
                                     't', '@', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c' };
    arb_commit_t c = {.now = 1790000000, .attributes = attrs, .attributes_len = sizeof attrs};
    answer_t m;
    commit_to(mem_s, "secret", &c, &m);
    cr_assert_eq(m.status, 0);
    forget(mem_s, "secret");
    const arb_arena_t *a = mem_s->impl;
    cr_assert_not_null(a->head, "the merge used the session's arena");
    for (const arb_arena_chunk_t *ch = a->head; ch; ch = ch->next)
        cr_expect_null(memmem(ch->data, ch->size, "secret@example.c", 16), "the attribute lingers");
}
