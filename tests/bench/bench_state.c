/* The stored customers of bench_decide's `--state DIR` run: one realistic
 * record per context's customer_id, written through the real LMDB store
 * before anything is timed, so that the timed loop measures what a decide
 * with state costs in process (fetch, decide on the customer, pack).
 *
 * Keeps tests/bench's rule that everything is measured against a baseline of
 * the same run and nothing asserts a speed: this file only fills the store
 * and reports the record's size; bench_decide.c times it against its
 * stateless loop.
 *
 * A record (the state store's test_record shape: 20 events, 5 purchases, 10
 * contacts, 5 outcomes, 3 consents) made plausible for its context: views,
 * carts and purchases in the workload's own categories (so that history
 * merges with the context's purchases and bought(...) conditions see it),
 * within the 60 days before the context's `now`; contacts and outcomes of
 * catalog actions on the context's channel.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "engine/state/record.h"
#include "engine/state/store.h"
#include "tests/bench/bench_state.h"

static const char *cats[] = {"sdcard", "phone", "soundbar", "printer", "monitor", "headphones",
                             "tv", "tablet", "laptop", "keyboard", "case", "coat", "grill",
                             "sunscreen", "charger", "umbrella", "boots", "ink", "mouse", "camera"};
static const char *chans[] = {"web", "email", "app", "store"};

/* The string under key in map o, copied into buf; def when absent. */
static const char *map_str(const msgpack_object *o, const char *key, char *buf, size_t cap,
                           const char *def)
{
    if (o->type != MSGPACK_OBJECT_MAP) return def;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
            memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) == 0 &&
            kv->val.type == MSGPACK_OBJECT_STR && kv->val.via.str.size < cap) {
            memcpy(buf, kv->val.via.str.ptr, kv->val.via.str.size);
            buf[kv->val.via.str.size] = '\0';
            return buf;
        }
    }
    return def;
}

static int64_t map_int(const msgpack_object *o, const char *key, int64_t def)
{
    if (o->type != MSGPACK_OBJECT_MAP) return def;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
            memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) == 0 &&
            kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            return (int64_t)kv->val.via.u64;
    }
    return def;
}

/* The record's parts for context number i, in static storage (one at a time). */
static arb_event_t events[20], purchases[5];
static arb_contact_t contacts[10];
static arb_contact_req_t reqs[10];
static arb_outcome_t outcomes[5];
static arb_consent_t consents[3];
static char skus[25][16], actions[15][8], decision_ids[5][24];

static void realistic(size_t i, int64_t now, const char *channel,
                      arb_commit_t *c)
{
    int64_t t0 = now - 60 * 86400;
    for (int k = 0; k < 20; k++) {
        snprintf(skus[k], sizeof skus[k], "SKU-%06zu", (i * 131 + (size_t)k * 37) % 1000000);
        events[k] = (arb_event_t){t0 + k * 3 * 86400 / 2, k % 3 ? "view" : "cart", chans[k % 4],
                                  skus[k], cats[(i + (size_t)k * 7) % 20], NAN, NULL, 0};
    }
    for (int k = 0; k < 5; k++) {
        snprintf(skus[20 + k], sizeof skus[0], "SKU-%06zu", (i * 17 + (size_t)k) % 1000000);
        purchases[k] = (arb_event_t){t0 + k * 11 * 86400, NULL, chans[k % 4], skus[20 + k],
                                     cats[(i * 3 + (size_t)k * 5) % 20], 19.99 + k * 40, NULL, 0};
    }
    for (int k = 0; k < 10; k++) {
        snprintf(actions[k], sizeof actions[k], "A%03zu", 1 + (i + (size_t)k * 13) % 100);
        contacts[k] = (arb_contact_t){t0 + k * 5 * 86400, actions[k], k % 2 ? channel : "email",
                                      "decision"};
        reqs[k] = (arb_contact_req_t){contacts[k], NULL, 0};
    }
    for (int k = 0; k < 5; k++) {
        snprintf(decision_ids[k], sizeof decision_ids[k], "d-%08zx-%04d", i, k);
        outcomes[k] = (arb_outcome_t){contacts[2 * k].ts + 600, actions[2 * k],
                                      k % 2 ? "click" : "impression", decision_ids[k],
                                      contacts[2 * k].channel, k == 4 ? 120.0 : NAN};
    }
    consents[0] = (arb_consent_t){t0, "email", true};
    consents[1] = (arb_consent_t){t0 + 5, "sms", false};
    consents[2] = (arb_consent_t){t0 + 9, "push", true};
    *c = (arb_commit_t){.now = now, .events = events, .n_events = 20, .purchases = purchases,
                        .n_purchases = 5, .consents = consents, .n_consents = 3,
                        .outcomes = outcomes, .n_outcomes = 5, .contacts = reqs, .n_contacts = 10};
}

/* A commit calls back on the store's writer thread: the filler waits for it. */
typedef struct wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int failed;
    char message[1024];
} wait_t;

static void committed(void *arg, const arb_commit_result_t *res, const arb_err_t *err)
{
    wait_t *w = arg;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    if (!res) {
        w->failed = 1;
        snprintf(w->message, sizeof w->message, "%s", err ? err->message : "commit failed");
    }
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int bench_state_fill(arb_store_session_t *ss, const msgpack_object *const *ctxs, size_t n,
                     size_t *record_bytes)
{
    wait_t w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, ""};
    *record_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        char id[ARB_STORE_ID_MAX], channel[64];
        if (!map_str(ctxs[i], "customer_id", id, sizeof id, NULL)) continue;
        arb_commit_t c;
        realistic(i, map_int(ctxs[i], "now", 1790000000),
                  map_str(ctxs[i], "channel", channel, sizeof channel, "web"), &c);
        if (i == 0) {
            /* The same record as arb_customer_t, encoded: what one customer takes. */
            arb_customer_t cu = {id, events, 20, purchases, 5, contacts, 10, outcomes, 5,
                                 consents, 3, NULL, 0, NULL, 0, NULL, 0, NULL};
            uint8_t *buf;
            arb_err_t err;
            if (arb_record_encode(&cu, &buf, record_bytes, &err) == 0) free(buf);
        }
        w.done = 0;
        arb_store_commit(ss, id, &c, committed, &w);
        pthread_mutex_lock(&w.mu);
        while (!w.done) pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        if (w.failed) {
            fprintf(stderr, "bench_decide: storing customer %s: %s\n", id, w.message);
            return -1;
        }
    }
    return 0;
}

const char *bench_state_id(const msgpack_object *ctx, char *buf, size_t cap)
{
    return map_str(ctx, "customer_id", buf, cap, "");
}
