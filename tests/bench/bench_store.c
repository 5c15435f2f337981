/* The customer store's own cost per stateful decide: one customer grown to
 * the reference workload's shape (20 events, 5 purchases, 5 outcomes, 3
 * consents, a pseudonym and the retention's 200 contacts), then ROUNDS
 * rounds of what a decide asks of the store: fetch the customer into a
 * request's arena, then commit one contact request under two caps (the
 * workload's decide counts a contact at decision time).
 *
 * Keeps tests/bench's rule that nothing asserts a speed: it prints the wall
 * time per round for a quick look; the figures that count are instruction
 * counts under callgrind, per function:
 *   valgrind --tool=callgrind --toggle-collect=arb_store_fetch \
 *     --toggle-collect=arb_store_commit build/bench/bench_store memory 2000
 * then callgrind_annotate --inclusive=yes; subtract a run with ROUNDS 0
 * (the fill's 201 commits) and divide by ROUNDS.
 *
 * usage: bench_store SPEC [ROUNDS]   (SPEC: memory, or a fresh LMDB folder)
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/state/store.h"

static const char *cats[] = {"sdcard", "phone", "soundbar", "printer", "monitor"};
static const char *chans[] = {"web", "email", "app", "store"};
static const char PSEUDO[] = "9f86d081884c7d659a2feaa0c55ad015";

typedef struct wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, failed;
} wait_t;

static void committed(void *arg, const arb_commit_result_t *res, const arb_err_t *err)
{
    wait_t *w = arg;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    if (!res) {
        w->failed = 1;
        fprintf(stderr, "bench_store: commit: %s\n", err->message);
    }
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void fetched(void *arg, int status, const arb_err_t *err)
{
    if (status) {
        fprintf(stderr, "bench_store: fetch: %s\n", err->message);
        *(int *)arg = 1;
    }
}

/* Commit and wait (LMDB calls back on its writer thread). */
static int commit(arb_store_session_t *ss, const arb_commit_t *c)
{
    wait_t w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    arb_store_commit(ss, "customer-000042", c, committed, &w);
    pthread_mutex_lock(&w.mu);
    while (!w.done) pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    return w.failed;
}

static const char *actions[] = {"A001", "A017", "A042", "A063", "A088", "A099"};

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_store SPEC [ROUNDS]\n");
        return 2;
    }
    long rounds = argc > 2 ? atol(argv[2]) : 1000;
    arb_store_options_t opt = {.retention = {.max_contacts = 200}};
    arb_store_t *s;
    arb_err_t err;
    if (arb_store_open(&s, argv[1], &opt, &err)) {
        fprintf(stderr, "bench_store: %s\n", err.message);
        return 1;
    }
    arb_store_session_t *ss = arb_store_session_open(s, &err);
    if (!ss) {
        fprintf(stderr, "bench_store: %s\n", err.message);
        return 1;
    }
    int64_t now = 1790000000, t0 = now - 60 * 86400;
    arb_event_t ev[20], pu[5];
    arb_outcome_t oc[5];
    char sku[25][16], did[5][24];
    for (int k = 0; k < 20; k++) {
        snprintf(sku[k], sizeof sku[k], "SKU-%06d", 131 + k * 37);
        ev[k] = (arb_event_t){t0 + k * 3600, k % 3 ? "view" : "cart", chans[k % 4], sku[k], cats[k % 5],
                              NAN, NULL, 0};
    }
    for (int k = 0; k < 5; k++) {
        snprintf(sku[20 + k], sizeof sku[0], "SKU-%06d", 17 + k);
        pu[k] = (arb_event_t){t0 + k * 86400, NULL, chans[k % 4], sku[20 + k], cats[k], 19.99 + k * 40,
                              NULL, 0};
        snprintf(did[k], sizeof did[k], "d-%08x-%04d", 42, k);
        oc[k] = (arb_outcome_t){t0 + k * 600, actions[k], k % 2 ? "click" : "impression", did[k], "web", NAN};
    }
    arb_consent_t co[3] = {{t0, "email", true}, {t0 + 5, "sms", false}, {t0 + 9, "push", true}};
    arb_commit_t first = {.now = now, .events = ev, .n_events = 20, .purchases = pu, .n_purchases = 5,
                          .outcomes = oc, .n_outcomes = 5, .consents = co, .n_consents = 3,
                          .pseudonym = PSEUDO};
    int bad = commit(ss, &first);
    /* Two caps as a ruleset's contact policy gives them: the action on its
     * channel in a week, and every contact in a day (never reached here). */
    arb_cap_t caps[2] = {{NULL, "email", 1000000, 7 * 86400, NULL, 0},
                         {NULL, NULL, 1000000, 86400, NULL, 0}};
    arb_contact_req_t req = {{0, NULL, "email", "decision"}, caps, 2};
    arb_commit_t c = {.contacts = &req, .n_contacts = 1};
    long i = 0;
    for (; !bad && i < 200; i++) {  /* the retention's 200 contacts */
        req.contact.ts = c.now = now - 200 + i;
        req.contact.action = caps[0].action = actions[i % 6];
        bad = commit(ss, &c);
    }
    arb_arena_t arena;
    arb_arena_init(&arena);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long r = 0; !bad && r < rounds; r++, i++) {
        arb_customer_t cu;
        arb_arena_reset(&arena);
        arb_store_fetch(ss, "customer-000042", &cu, &arena, fetched, &bad);
        if (!bad && cu.n_contacts != 200) {
            fprintf(stderr, "bench_store: %zu contacts fetched, expected 200\n", cu.n_contacts);
            bad = 1;
        }
        req.contact.ts = c.now = now + i;
        req.contact.action = caps[0].action = actions[i % 6];
        if (!bad) bad = commit(ss, &c);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (!bad)
        printf("state=%s rounds=%ld us_per_round=%.3f\n", arb_store_name(s), rounds,
               ((double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3) / (double)rounds);
    arb_arena_free(&arena);
    arb_store_session_close(ss);
    arb_store_close(s);
    return bad;
}
