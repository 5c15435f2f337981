/* Fuzz target: context validation (engine/context.c) and the whole decide
 * pipeline (engine/decide.c, engine/cond.c, bindings/lua/context.c) on any
 * context a client can send.
 *
 * Input: one MessagePack object, the context map (params[0] of a decide
 * request). As in the server, it is unpacked only if the frame scanner
 * accepts it (limits: the input's size, depth 32): msgpack-c itself reserves
 * memory from declared lengths, which the scanner exists to refuse.
 *
 * At start-up the target loads one fixed ruleset: rules/retail plus
 * tests/fuzz/context_rules.lua (plain Lua functions reading every part of the
 * context, and the vocabulary retail does not use), copied into a temporary
 * folder. For each input:
 *
 *   - arb_context_parse either accepts it (required strings present and not
 *     empty, every purchase and event with a ts, limit and deadline in
 *     range) or refuses it with invalid_params and a message that packs as
 *     a valid-UTF-8 RPC error;
 *   - arb_decide, plain and with explain forced, never crashes (the explain
 *     decider decides for a fixed stored customer, so every context is also
 *     merged with a stored history and passes contact policy); it refuses
 *     what arb_context_parse refused, with the same message, packing
 *     nothing; an answer is one well-formed decision map whose chosen
 *     actions respect the limit, and whose strings are valid UTF-8 whenever
 *     the context's strings were;
 *   - the ruleset's Lua stack is left as it was;
 *   - arb_context_parse_bytes on the same bytes (whole false and true)
 *     agrees with arb_context_parse: the same code and message, or every
 *     field the same (tests/support/ctxsame.h); on bytes that are not
 *     exactly one value (cut short, bytes after it, past the scanner's
 *     limits) it refuses them as not MessagePack.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <msgpack.h>

#include "engine/base/arena.h"
#include "engine/ruleset/compiled.h"
#include "engine/request/context.h"
#include "engine/wire/answer.h"
#include "engine/decide/decide.h"
#include "engine/wire/frame.h"
#include "engine/base/log.h"
#include "engine/wire/rpc.h"
#include "engine/ruleset/ruleset.h"
#include "engine/base/stats.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/support/ctxsame.h"

static char g_dir[64];
static arb_ruleset_t *g_rs;
static arb_decider_t *g_plain, *g_explain;
static arb_arena_t g_arena;
static arb_stats_t g_stats;

/* A stored customer for the explain decider: history to merge with the
 * context (a purchase and an event the dictionary's contexts may repeat),
 * a consent withdrawal, contacts and outcomes of retail actions, and a
 * stored suppression, so policy's every path runs. */
static arb_event_t g_purchases[] = { { 1767052800, NULL, "web", "LP-1400-AIR", "laptop", 1299, NULL, 0 } };
static arb_event_t g_events[] = { { 1767200000, "cart_abandon", "app", "HS-7710-BT", "headset", NAN, NULL, 0 } };
static arb_consent_t g_consents[] = { { 1767000000, "email", false }, { 1767000000, "location", true } };
static arb_contact_t g_contacts[] = { { 1767100000, "winback_offer", "email", "decision" },
                                      { 1767150000, "cart_reminder", "app", "impression" } };
static arb_outcome_t g_outcomes[] = { { 1767160000, "cart_reminder", "dismiss", NULL, "app", NAN },
                                      { 1767170000, "cart_reminder", "dismiss", NULL, "app", NAN } };
static arb_suppression_t g_suppressions[] = { { 1767300000, "umbrella", "complaint" } };
static const arb_customer_t g_customer = {
    "fuzz-customer", g_events, 1, g_purchases, 1, g_contacts, 2, g_outcomes, 2, g_consents, 2,
    NULL, 0, g_suppressions, 1,
};

static void teardown(void)
{
    arb_ruleset_free(g_rs);
    arb_decider_free(g_plain);
    arb_decider_free(g_explain);
    arb_arena_free(&g_arena);
    if (g_dir[0]) fuzz_rmdir(g_dir);
}

/* Copy the rule files (not the tests) of rules/retail, plus the extra rules. */
static void write_ruleset(const char *retail)
{
    static const char *const files[] = { "base.lua", "electronics.lua", "fallback.lua",
                                         "family.lua", "fashion.lua", "lifecycle.lua",
                                         "replenishment.lua", "seasonal.lua", "stores.lua",
                                         "weather.lua", "catalog.lua", "products.jsonl", NULL };
    char path[600];
    for (const char *const *f = files; *f; f++) {
        snprintf(path, sizeof path, "%s/%s", retail, *f);
        size_t len;
        char *text = fuzz_read_file(path, &len);
        FUZZ_REQUIRE(text, "cannot read %s", path);
        fuzz_write_file(g_dir, *f, text, len);
        free(text);
    }
    snprintf(path, sizeof path, "%s/../../tests/fuzz/context_rules.lua", retail);
    size_t len;
    char *text = fuzz_read_file(path, &len);
    FUZZ_REQUIRE(text, "cannot read %s", path);
    fuzz_write_file(g_dir, "zz_fuzz.lua", text, len);
    free(text);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    arb_log_set_level(ARB_LOG_ERROR);   /* rule print() lines would flood the output */
    char retail[512];
    fuzz_find_retail(retail, sizeof retail);
    snprintf(g_dir, sizeof g_dir, "/tmp/arbiter-fuzz-context-XXXXXX");
    FUZZ_REQUIRE(mkdtemp(g_dir), "mkdtemp failed");
    atexit(teardown);
    write_ruleset(retail);
    arb_problems_t problems = { 0 };
    g_rs = arb_ruleset_load(g_dir, 1, &problems);
    for (size_t i = 0; i < problems.n; i++) fprintf(stderr, "%s\n", problems.items[i]);
    FUZZ_REQUIRE(g_rs, "the fixed ruleset does not load");
    arb_problems_free(&problems);
    g_plain = arb_decider_new();
    g_explain = arb_decider_new();
    FUZZ_REQUIRE(g_plain && g_explain, "arb_decider_new");
    arb_decider_force_explain(g_explain, true);
    arb_arena_init(&g_arena);
    return 0;
}

/* Whether every str and bin of o (keys included) is valid UTF-8. */
static bool all_utf8(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_STR: return fuzz_utf8_valid(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN: return fuzz_utf8_valid(o->via.bin.ptr, o->via.bin.size);
    case MSGPACK_OBJECT_ARRAY:
        for (uint32_t i = 0; i < o->via.array.size; i++)
            if (!all_utf8(&o->via.array.ptr[i])) return false;
        return true;
    case MSGPACK_OBJECT_MAP:
        for (uint32_t i = 0; i < o->via.map.size; i++)
            if (!all_utf8(&o->via.map.ptr[i].key) || !all_utf8(&o->via.map.ptr[i].val))
                return false;
        return true;
    default: return true;
    }
}

/* The first str of o that is not UTF-8, for the failure message. */
static const msgpack_object *first_bad_str(const msgpack_object *o)
{
    if (o->type == MSGPACK_OBJECT_STR)
        return fuzz_utf8_valid(o->via.str.ptr, o->via.str.size) ? NULL : o;
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            const msgpack_object *b = first_bad_str(&o->via.array.ptr[i]);
            if (b) return b;
        }
    }
    if (o->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *b = first_bad_str(&o->via.map.ptr[i].key);
            if (!b) b = first_bad_str(&o->via.map.ptr[i].val);
            if (b) return b;
        }
    }
    return NULL;
}

static void check_decision(const char *buf, size_t len, const arb_context_t *ctx, bool explain,
                           bool utf8_in)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc = msgpack_unpack_next(&u, buf, len, &off);
    FUZZ_CHECK(rc == MSGPACK_UNPACK_SUCCESS && off == len,
               "the decision is not one MessagePack object (rc %d, %zu of %zu bytes)", rc, off, len);
    const msgpack_object *d = &u.data;
    /* decision_id, ruleset, group, actions, elapsed_us; explain with it;
     * experiment and arm when an experiment split the decision. */
    FUZZ_CHECK(d->type == MSGPACK_OBJECT_MAP, "the decision is not a map");
    const msgpack_object *exp = arb_msgpack_map_get(d, "experiment");
    FUZZ_CHECK(d->via.map.size == 5u + (explain ? 1u : 0u) + (exp ? 2u : 0u),
               "the decision map has %u entries", d->via.map.size);
    const msgpack_object *group = arb_msgpack_map_get(d, "group");
    FUZZ_CHECK(group && group->type == MSGPACK_OBJECT_STR, "no group");
    FUZZ_CHECK(!exp || arb_msgpack_map_get(d, "arm"), "an experiment without its arm");
    const msgpack_object *actions = arb_msgpack_map_get(d, "actions");
    FUZZ_CHECK(actions && actions->type == MSGPACK_OBJECT_ARRAY, "no actions array");
    if (ctx->limit)
        FUZZ_CHECK(actions->via.array.size <= (uint64_t)ctx->limit, "%u actions over the limit %lld",
                   actions->via.array.size, (long long)ctx->limit);
    for (uint32_t i = 0; i < actions->via.array.size; i++) {
        const msgpack_object *id = arb_msgpack_map_get(&actions->via.array.ptr[i], "id");
        FUZZ_CHECK(id && id->type == MSGPACK_OBJECT_STR, "action %u without an id", i);
    }
    const msgpack_object *ex = arb_msgpack_map_get(d, "explain");
    if (explain)
        FUZZ_CHECK(ex && ex->type == MSGPACK_OBJECT_ARRAY &&
                       ex->via.array.size == arb_ruleset_action_count(g_rs),
                   "explain does not list every action");
    if (utf8_in) {
        const msgpack_object *bad = first_bad_str(d);
        FUZZ_CHECK(!bad, "the decision holds a string that is not UTF-8 although the context's "
                         "strings all were: \"%.*s\"",
                   bad ? (int)bad->via.str.size : 0, bad ? bad->via.str.ptr : "");
    }
    msgpack_unpacked_destroy(&u);
}

static void decide_once(arb_decider_t *d, const msgpack_object *o, int parse_rc,
                        const arb_context_t *ctx, const arb_err_t *parse_err, bool utf8_in)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    arb_err_t err;
    memset(&err, 0, sizeof err);
    int top = lua_gettop(g_rs->L);
    const arb_decision_t *dec =
        arb_decide(d, g_rs, o, d == g_explain ? &g_customer : NULL, &g_arena, &g_stats, &err);
    if (dec) arb_answer_pack_decision(&pk, dec);
    int rc = dec ? 0 : -1;
    FUZZ_CHECK(lua_gettop(g_rs->L) == top, "arb_decide left %d values on the rule state's stack",
               lua_gettop(g_rs->L) - top);
    if (rc == 0) {
        FUZZ_CHECK(parse_rc == 0, "arb_decide answered a context arb_context_parse refused: %s",
                   parse_err->message);
        check_decision(sb.data, sb.size, ctx, d == g_explain || ctx->explain, utf8_in);
    } else {
        FUZZ_CHECK(rc == -1, "arb_decide returned %d", rc);
        FUZZ_CHECK(sb.size == 0, "a refused decision packed %zu bytes", sb.size);
        FUZZ_CHECK((unsigned)err.code < ARB_CODE_COUNT, "error code %d", (int)err.code);
        if (parse_rc != 0)
            FUZZ_CHECK(strcmp(err.message, parse_err->message) == 0,
                       "arb_decide and arb_context_parse disagree: '%s' vs '%s'", err.message,
                       parse_err->message);
        else
            FUZZ_CHECK(err.code == ARB_INVALID_PARAMS || err.code == ARB_DEADLINE_EXCEEDED,
                       "a valid context failed with %s: %s", arb_code_name(err.code), err.message);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        arb_rpc_pack_error(&pk, 7, err.code, err.message);
        fuzz_check_error_answer(sb.data, sb.size, 7);
    }
    msgpack_sbuffer_destroy(&sb);
    arb_arena_reset(&g_arena);
}

/* arb_context_parse_bytes on bytes that are not exactly one value (with
 * whole false and true): refused as not MessagePack. */
static void check_not_one_value(const uint8_t *data, size_t size)
{
    for (int whole = 0; whole < 2; whole++) {
        msgpack_zone zone;
        msgpack_zone_init(&zone, 2048);
        arb_context_t ctx;
        arb_err_t err;
        memset(&err, 0, sizeof err);
        int rc = arb_context_parse_bytes((const char *)data, size, 1767225600, whole, &ctx, &g_arena,
                                         &zone, &err);
        FUZZ_CHECK(rc == -1 && err.code == ARB_INVALID_PARAMS &&
                       strcmp(err.message, "context: not MessagePack") == 0,
                   "arb_context_parse_bytes (whole=%d) on bytes that are not one value: %d '%s'",
                   whole, rc, rc ? err.message : "");
        msgpack_zone_destroy(&zone);
        arb_arena_reset(&g_arena);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    /* The server unpacks only what the scanner accepted. */
    arb_frame_scan_t scan;
    arb_frame_scan_reset(&scan);
    arb_frame_limits_t lim = { size, ARB_FRAME_DEPTH_MAX };
    size_t flen;
    if (arb_frame_scan(&scan, (const char *)data, size, &lim, &flen) != ARB_FRAME_DONE) {
        check_not_one_value(data, size);
        return 0;
    }
    if (flen < size) check_not_one_value(data, size);   /* bytes after the context */

    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc = msgpack_unpack_next(&u, (const char *)data, flen, &off);
    FUZZ_CHECK(rc == MSGPACK_UNPACK_SUCCESS && off == flen,
               "msgpack-c refused (rc %d) a frame the scanner accepted", rc);
    const msgpack_object *o = &u.data;
    bool utf8_in = all_utf8(o);

    /* The byte parser agrees with arb_context_parse on the span msgpack-c
     * unpacked, field by field (tests/support/ctxsame.h). */
    char why[400];
    FUZZ_CHECK(ctxsame_check(o, (const char *)data, flen, 1767225600, &g_arena, why, sizeof why),
               "arb_context_parse_bytes disagrees with arb_context_parse: %s", why);
    arb_arena_reset(&g_arena);

    arb_context_t ctx;
    arb_err_t perr;
    memset(&perr, 0, sizeof perr);
    int prc = arb_context_parse(o, 1767225600, &ctx, &g_arena, &perr);
    if (prc == 0) {
        FUZZ_CHECK(ctx.customer_id.len && ctx.channel.len && ctx.touchpoint.len,
                   "an accepted context lacks a required string");
        for (uint32_t i = 0; i < ctx.n_purchases; i++)
            FUZZ_CHECK(ctx.purchases[i].ts != INT64_MIN, "purchase %u accepted without ts", i);
        for (uint32_t i = 0; i < ctx.n_events; i++)
            FUZZ_CHECK(ctx.events[i].ts != INT64_MIN, "event %u accepted without ts", i);
        FUZZ_CHECK(ctx.limit == 0 || (ctx.limit >= 1 && ctx.limit <= 1000), "limit out of range");
        FUZZ_CHECK(ctx.deadline_ms >= 0, "negative deadline accepted");
        FUZZ_CHECK(!ctx.has_coords || ctx.has_location, "coordinates without a location");
        for (uint32_t i = 0; i < ctx.n_scores; i++)
            FUZZ_CHECK(ctx.scores[i].value == ctx.scores[i].value, "a NaN score was accepted");
    } else {
        FUZZ_CHECK(prc == -1 && perr.message[0], "refused without a message");
        FUZZ_CHECK(perr.code == ARB_INVALID_PARAMS, "context refused with %s: %s",
                   arb_code_name(perr.code), perr.message);
    }
    /* ctx points into the arena, which decide_once resets: keep what it needs. */
    arb_context_t kept = ctx;
    decide_once(g_plain, o, prc, &kept, &perr, utf8_in);
    decide_once(g_explain, o, prc, &kept, &perr, utf8_in);
    msgpack_unpacked_destroy(&u);
    return 0;
}
