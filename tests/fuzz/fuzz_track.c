/* Fuzz target: the parameters of the state methods (engine/request/track.c)
 * and what the store and the `customer` answer make of them: any object a
 * client can send as params[0] of track, feedback, customer, forget or
 * learning.
 *
 * Input: one MessagePack object, unpacked only if the frame scanner accepts
 * it (as fuzz_context: msgpack-c reserves memory from declared lengths,
 * which the scanner refuses first). Each input goes through all four
 * parsers.
 *
 * Properties checked:
 *   - a refusal is invalid_params with a message;
 *   - an accepted track has a customer_id of 1 to ARB_CUSTOMER_ID_MAX bytes
 *     of UTF-8 without NUL, one event or purchase per element sent, each
 *     string kept valid UTF-8 without NUL, every event a type, every consent
 *     the commit's now, attributes and extra fields that unpack to one map,
 *     and at least one of the four parts;
 *   - that commit merges (engine/state/merge.c) into an empty customer with
 *     no more stored than sent, and arb_answer_pack_customer on the result
 *     packs one whole value whose every string is valid UTF-8;
 *   - an accepted feedback has the same customer_id bounds, non-empty
 *     action and outcome, NULL or non-empty decision_id and channel, a
 *     finite or NaN value; merged as an outcome, it packs likewise;
 *   - an accepted customer reference has the same bounds.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "engine/base/arena.h"
#include "engine/base/pack.h"
#include "engine/request/track.h"
#include "engine/wire/answer.h"
#include "engine/wire/frame.h"
#include "engine/request/customer.h"
#include "tests/fuzz/fuzz_util.h"

#define NOW 1767225600

static void check_id(const char *id)
{
    FUZZ_CHECK(id, "accepted without a customer_id");
    size_t n = strlen(id);
    FUZZ_CHECK(n >= 1 && n <= ARB_CUSTOMER_ID_MAX, "customer_id of %zu bytes accepted", n);
    FUZZ_CHECK(fuzz_utf8_valid(id, n), "customer_id not UTF-8");
}

/* NULL, or a NUL-terminated UTF-8 string (NUL bytes cannot hide inside a
 * C string, so the parser's refusal of them shows as the lengths below). */
static void check_str(const char *s, const char *what)
{
    if (s) FUZZ_CHECK(fuzz_utf8_valid(s, strlen(s)), "%s not UTF-8", what);
}

static void check_map_bytes(const uint8_t *p, size_t n, const char *what)
{
    if (!p) {
        FUZZ_CHECK(n == 0, "%s: a length without bytes", what);
        return;
    }
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    FUZZ_CHECK(msgpack_unpack_next(&u, (const char *)p, n, &off) == MSGPACK_UNPACK_SUCCESS && off == n &&
                   u.data.type == MSGPACK_OBJECT_MAP,
               "%s: not one msgpack map", what);
    msgpack_unpacked_destroy(&u);
}

static bool all_utf8(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_STR: return fuzz_utf8_valid(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_ARRAY:
        for (uint32_t i = 0; i < o->via.array.size; i++)
            if (!all_utf8(&o->via.array.ptr[i])) return false;
        return true;
    case MSGPACK_OBJECT_MAP:
        for (uint32_t i = 0; i < o->via.map.size; i++)
            if (!all_utf8(&o->via.map.ptr[i].key) || !all_utf8(&o->via.map.ptr[i].val)) return false;
        return true;
    default: return true;
    }
}

/* Merge cm into an empty customer and pack the `customer` answer. */
static void merge_and_pack(const char *id, const arb_commit_t *cm, arb_arena_t *a, size_t sent)
{
    arb_customer_t empty = { .id = id }, out;
    bool granted[1];
    arb_commit_result_t res;
    arb_err_t err = { 0 };
    FUZZ_CHECK(arb_commit_merge(&empty, cm, NULL, a, &out, granted, &res, &err) == 0,
               "an accepted commit does not merge: %s", err.message);
    FUZZ_CHECK(res.stored <= sent, "stored %zu of %zu sent", res.stored, sent);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    arb_answer_pack_customer(&pk, &out);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    FUZZ_CHECK(msgpack_unpack_next(&u, sb.data, sb.size, &off) == MSGPACK_UNPACK_SUCCESS && off == sb.size,
               "the customer answer is not one whole value");
    /* Its shape: the keys of README's `customer` row, whatever was stored. */
    static const char *const KEYS[] = { "customer_id", "events", "purchases", "contacts", "outcomes",
                                        "consent", "attributes", "suppressions", "offers",
                                        "pseudonym" };
    const size_t n_keys = sizeof KEYS / sizeof *KEYS;
    FUZZ_CHECK(u.data.type == MSGPACK_OBJECT_MAP && u.data.via.map.size == n_keys, "the customer answer's shape");
    for (size_t i = 0; i < n_keys; i++)
        FUZZ_CHECK(arb_msgpack_map_get(&u.data, KEYS[i]), "the customer answer has no %s", KEYS[i]);
    FUZZ_CHECK(all_utf8(&u.data), "the customer answer has a string that is not UTF-8");
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

static void refused(int rc, const arb_err_t *err, const char *what)
{
    FUZZ_CHECK(rc == -1 && err->message[0], "%s refused without a message", what);
    FUZZ_CHECK(err->code == ARB_INVALID_PARAMS, "%s refused with %s: %s", what, arb_code_name(err->code),
               err->message);
}

static size_t array_len(const msgpack_object *o, const char *key)
{
    const msgpack_object *v = arb_msgpack_map_get(o, key);
    return v && v->type == MSGPACK_OBJECT_ARRAY ? v->via.array.size : 0;
}

static void try_track(const msgpack_object *o, arb_arena_t *a)
{
    const char *id;
    arb_commit_t cm;
    arb_err_t err = { 0 };
    int rc = arb_track_parse(o, NOW, a, &id, &cm, &err);
    if (rc != 0) {
        refused(rc, &err, "track");
        return;
    }
    check_id(id);
    FUZZ_CHECK(cm.n_events == array_len(o, "events") && cm.n_purchases == array_len(o, "purchases"),
               "not one event or purchase per element sent");
    FUZZ_CHECK(cm.events || cm.purchases || cm.consents || cm.attributes, "accepted with nothing to store");
    FUZZ_CHECK(!cm.contacts && !cm.outcomes && !cm.suppressions && !cm.retention, "track wrote a decision's part");
    for (int p = 0; p < 2; p++) {
        const arb_event_t *e = p ? cm.purchases : cm.events;
        size_t n = p ? cm.n_purchases : cm.n_events;
        for (size_t i = 0; i < n; i++) {
            FUZZ_CHECK(p ? !e[i].type : e[i].type && e[i].type[0], "event %zu: type", i);
            check_str(e[i].type, "type");
            check_str(e[i].sku, "sku");
            check_str(e[i].category, "category");
            check_str(e[i].channel, "channel");
            FUZZ_CHECK(isnan(e[i].price) || isfinite(e[i].price), "an infinite price");
            check_map_bytes(e[i].extra, e[i].extra_len, "extra");
        }
    }
    for (size_t i = 0; i < cm.n_consents; i++) {
        check_str(cm.consents[i].key, "consent key");
        FUZZ_CHECK(cm.consents[i].key && cm.consents[i].ts == cm.now, "consent %zu: key or ts", i);
    }
    check_map_bytes(cm.attributes, cm.attributes_len, "attributes");
    merge_and_pack(id, &cm, a, cm.n_events + cm.n_purchases + cm.n_consents);
}

static void try_feedback(const msgpack_object *o, arb_arena_t *a)
{
    arb_feedback_t fb;
    arb_err_t err = { 0 };
    int rc = arb_feedback_parse(o, NOW, a, &fb, &err);
    if (rc != 0) {
        refused(rc, &err, "feedback");
        return;
    }
    check_id(fb.customer_id);
    FUZZ_CHECK(fb.action && fb.action[0] && fb.outcome && fb.outcome[0], "action or outcome empty");
    FUZZ_CHECK(!fb.decision_id || fb.decision_id[0], "an empty decision_id");
    FUZZ_CHECK(!fb.channel || fb.channel[0], "an empty channel");
    check_str(fb.action, "action");
    check_str(fb.outcome, "outcome");
    check_str(fb.decision_id, "decision_id");
    check_str(fb.channel, "channel");
    FUZZ_CHECK(isnan(fb.value) || isfinite(fb.value), "an infinite value");
    arb_outcome_t oc = { fb.ts, fb.action, fb.outcome, fb.decision_id, fb.channel, fb.value };
    arb_commit_t cm = { .now = fb.ts, .outcomes = &oc, .n_outcomes = 1 };
    merge_and_pack(fb.customer_id, &cm, a, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    arb_frame_scan_t scan;
    arb_frame_scan_reset(&scan);
    arb_frame_limits_t lim = { size, ARB_FRAME_DEPTH_MAX };
    size_t flen;
    if (arb_frame_scan(&scan, (const char *)data, size, &lim, &flen) != ARB_FRAME_DONE) return 0;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc = msgpack_unpack_next(&u, (const char *)data, flen, &off);
    FUZZ_CHECK(rc == MSGPACK_UNPACK_SUCCESS && off == flen,
               "msgpack-c refused (rc %d) a frame the scanner accepted", rc);
    arb_arena_t a;
    arb_arena_init(&a);
    try_track(&u.data, &a);
    arb_arena_reset(&a);
    try_feedback(&u.data, &a);
    arb_arena_reset(&a);
    const char *id;
    arb_err_t err = { 0 };
    rc = arb_customer_ref_parse(&u.data, &a, &id, &err);
    if (rc == 0) check_id(id);
    else refused(rc, &err, "customer reference");
    arb_arena_reset(&a);
    const char *action;
    rc = arb_learning_parse(&u.data, &a, &action, &err);
    if (rc == 0 && action) check_str(action, "learning's action");
    else if (rc != 0) refused(rc, &err, "learning");
    arb_arena_free(&a);
    msgpack_unpacked_destroy(&u);
    return 0;
}
