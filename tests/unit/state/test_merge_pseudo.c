/* Unit tests for a customer's pseudonym (issue 15) in engine/state/merge.c
 * and store.c: the merge keeps the one the customer has, adopts the
 * commit's when there is none, gives none when none is given, and refuses
 * one that is not 32 hex digits; arb_commit_copy (the LMDB writer's queued
 * copy) carries it; through the real memory and LMDB stores the commit's
 * result names the customer's pseudonym after the commit ("" for none),
 * what was stored is fetched again (after a reopen for LMDB), and `forget`
 * erases it with the record.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/request/commit.h"
#include "engine/state/record.h"
#include "engine/state/store.h"

static arb_arena_t A;
static bool granted[4];
static arb_commit_result_t res;

static void setup(void) { arb_arena_init(&A); }
static void teardown(void) { arb_arena_free(&A); }

TestSuite(merge_pseudo, .init = setup, .fini = teardown);

static const int64_t T = 1790000000;
static const char P1[] = "00112233445566778899aabbccddeeff";
static const char P2[] = "ffeeddccbbaa99887766554433221100";

/* A track of one event, with the pseudonym p (NULL: none given). */
static arb_commit_t track(arb_event_t *e, const char *p)
{
    *e = (arb_event_t){T, "view", "web", "SKU-1", NULL, 0, NULL, 0};
    return (arb_commit_t){.now = T, .events = e, .n_events = 1, .pseudonym = p};
}

static arb_customer_t merge(const arb_customer_t *old, const arb_commit_t *cm)
{
    arb_customer_t out;
    arb_err_t err = {0};
    cr_assert_eq(arb_commit_merge(old, cm, NULL, &A, &out, granted, &res, &err), 0, "%s", err.message);
    return out;
}

Test(merge_pseudo, adopted_when_absent_and_given)
{
    arb_customer_t c;
    arb_customer_empty(&c, "c1");
    arb_event_t e;
    arb_commit_t cm = track(&e, P1);
    arb_customer_t out = merge(&c, &cm);
    cr_assert_str_eq(out.pseudonym, P1);
    cr_assert_eq(out.n_events, 1, "the rest of the commit is merged as ever");
}

Test(merge_pseudo, kept_when_present_whatever_the_commit_gives)
{
    arb_customer_t c;
    arb_customer_empty(&c, "c1");
    c.pseudonym = P1;
    arb_event_t e;
    arb_commit_t cm = track(&e, P2);
    arb_customer_t out = merge(&c, &cm);
    cr_assert_str_eq(out.pseudonym, P1, "a second decision's fresh pseudonym replaces nothing");
    cm = track(&e, NULL);
    out = merge(&c, &cm);
    cr_assert_str_eq(out.pseudonym, P1, "a commit without one keeps it");
}

Test(merge_pseudo, none_when_absent_and_not_given)
{
    arb_customer_t c;
    arb_customer_empty(&c, "c1");
    arb_event_t e;
    arb_commit_t cm = track(&e, NULL);
    arb_customer_t out = merge(&c, &cm);
    cr_assert_null(out.pseudonym);
    /* Nor does the record change version for it. */
    uint8_t *buf;
    size_t len;
    arb_err_t err;
    cr_assert_eq(arb_record_encode(&out, &buf, &len, &err), 0, "%s", err.message);
    cr_assert_eq(buf[4], 1);
    free(buf);
}

Test(merge_pseudo, one_that_is_not_32_hex_digits_is_refused)
{
    arb_customer_t c, out;
    arb_customer_empty(&c, "c1");
    arb_event_t e;
    arb_commit_t cm = track(&e, "not-a-pseudonym");
    arb_err_t err = {0};
    cr_assert_eq(arb_commit_merge(&c, &cm, NULL, &A, &out, granted, &res, &err), -1);
    cr_assert_eq(err.code, ARB_INTERNAL);
    cr_assert_not_null(strstr(err.message, "32 hex digits"), "%s", err.message);
    /* A customer who has one already: the commit's is not looked at. */
    c.pseudonym = P1;
    cr_assert_eq(arb_commit_merge(&c, &cm, NULL, &A, &out, granted, &res, &err), 0, "%s", err.message);
    cr_assert_str_eq(out.pseudonym, P1);
}

Test(merge_pseudo, the_queued_copy_of_a_commit_carries_it)
{
    char p[sizeof P1];
    memcpy(p, P1, sizeof p);
    arb_event_t e;
    arb_commit_t cm = track(&e, p);
    arb_commit_t *d = arb_commit_copy(&cm, &A);
    cr_assert_not_null(d);
    memset(p, 'x', sizeof p - 1);   /* the caller's buffer goes away */
    cr_assert_str_eq(d->pseudonym, P1);
    cm.pseudonym = NULL;
    d = arb_commit_copy(&cm, &A);
    cr_assert_not_null(d);
    cr_assert_null(d->pseudonym);
}

/* ---- through the real stores ---- */

typedef struct wait {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool done, ok;
    arb_err_t err;
    char pseudonym[40];
} wait_t;

#define WAIT_INIT {.m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER}

static void finish(wait_t *w, bool ok, const arb_err_t *err)
{
    pthread_mutex_lock(&w->m);
    w->ok = ok;
    if (err) w->err = *err;
    w->done = true;
    pthread_cond_signal(&w->c);
    pthread_mutex_unlock(&w->m);
}

static void await(wait_t *w)
{
    pthread_mutex_lock(&w->m);
    while (!w->done) pthread_cond_wait(&w->c, &w->m);
    pthread_mutex_unlock(&w->m);
}

/* The result's pseudonym, read in the callback as the server reads it: the
 * merge's memory is gone by then. */
static void on_commit(void *arg, const arb_commit_result_t *r, const arb_err_t *err)
{
    wait_t *w = arg;
    if (r) snprintf(w->pseudonym, sizeof w->pseudonym, "%s", r->pseudonym);
    finish(w, r != NULL, err);
}

static void on_fetch(void *arg, int status, const arb_err_t *err) { finish(arg, status == 0, err); }
static void on_forget(void *arg, const arb_err_t *err) { finish(arg, err == NULL, err); }

/* Commit a track for id with pseudonym p; the result's pseudonym. */
static const char *commit(arb_store_session_t *ss, const char *id, const char *p)
{
    static wait_t w;
    w = (wait_t)WAIT_INIT;
    arb_event_t e;
    arb_commit_t cm = track(&e, p);
    arb_store_commit(ss, id, &cm, on_commit, &w);
    await(&w);
    cr_assert(w.ok, "%s", w.err.message);
    return w.pseudonym;
}

static const char *fetched(arb_store_session_t *ss, const char *id)
{
    arb_customer_t c;
    wait_t w = WAIT_INIT;
    arb_store_fetch(ss, id, &c, &A, on_fetch, &w);
    await(&w);
    cr_assert(w.ok, "%s", w.err.message);
    return c.pseudonym;
}

static void forget(arb_store_session_t *ss, const char *id)
{
    wait_t w = WAIT_INIT;
    arb_store_forget(ss, id, on_forget, &w);
    await(&w);
    cr_assert(w.ok, "%s", w.err.message);
}

static arb_store_session_t *open_store(const char *spec, arb_store_t **store)
{
    arb_err_t err;
    cr_assert_eq(arb_store_open(store, spec, NULL, &err), 0, "%s", err.message);
    arb_store_session_t *ss = arb_store_session_open(*store, &err);
    cr_assert_not_null(ss, "%s", err.message);
    return ss;
}

/* The result says the customer's pseudonym after each commit. */
static void through_store(arb_store_session_t *ss)
{
    cr_assert_str_eq(commit(ss, "cust-1", NULL), "", "none given, none had");
    cr_assert_null(fetched(ss, "cust-1"));
    cr_assert_str_eq(commit(ss, "cust-1", P1), P1, "adopted");
    cr_assert_str_eq(commit(ss, "cust-1", P2), P1, "kept");
    cr_assert_str_eq(commit(ss, "cust-1", NULL), P1, "kept when none is given");
    cr_assert_str_eq(fetched(ss, "cust-1"), P1);
    cr_assert_str_eq(commit(ss, "cust-2", P2), P2, "a new customer's first commit");
    cr_assert_null(fetched(ss, "cust-3"), "never stored: none");
}

static void after_forget(arb_store_session_t *ss)
{
    forget(ss, "cust-1");
    cr_assert_null(fetched(ss, "cust-1"), "erased with the record");
    cr_assert_str_eq(commit(ss, "cust-1", P2), P2, "a forgotten customer gets a new one");
    cr_assert_str_eq(fetched(ss, "cust-2"), P2, "another customer keeps theirs");
}

Test(merge_pseudo, through_the_memory_store)
{
    arb_store_t *store;
    arb_store_session_t *ss = open_store("memory", &store);
    through_store(ss);
    after_forget(ss);
    arb_store_session_close(ss);
    arb_store_close(store);
}

Test(merge_pseudo, through_the_lmdb_store_and_a_reopen)
{
    /* The LMDB writer merges a queued copy of the commit: the pseudonym
     * must come with it, and be on disk after a reopen. */
    char dir[] = "/tmp/arb-pseudo-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    arb_store_t *store;
    arb_store_session_t *ss = open_store(dir, &store);
    through_store(ss);
    arb_store_session_close(ss);
    arb_store_close(store);
    ss = open_store(dir, &store);
    cr_assert_str_eq(fetched(ss, "cust-1"), P1, "kept on disk");
    after_forget(ss);
    arb_store_session_close(ss);
    arb_store_close(store);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
