/* Fuzz target: decide_many (arb_decide_many in engine/decide.c) on any batch
 * a client can send, packed through the server's bounded answer writer
 * (arb_answer_t in engine/wire/rpc.c).
 *
 * Input: [limit byte] + one MessagePack object, params[0] of a decide_many
 * request. As in the server, the object is unpacked only if the frame
 * scanner accepts it. The limit byte picks the answer limit (none, or
 * 1 KiB .. 255 KiB), so that too_large is reached mid-batch as often as
 * not. The ruleset is the fixed one of fuzz_context (rules/retail plus
 * tests/fuzz/context_rules.lua).
 *
 * For each input:
 *   - the batch is answered whole or not at all: on success the packed
 *     answer is one array of as many decision maps as contexts; on failure
 *     the error names the element (params[0][i]: ...), and that element
 *     alone is refused by arb_decide while every element before it is
 *     decided (a batch's choice is the first invalid element's);
 *   - a refusal by the answer writer (too_large) stops the batch, and after
 *     the rewind the buffer holds exactly what it held before;
 *   - every error packs as a valid-UTF-8 RPC error answer;
 *   - the arena and the Lua stack are left as they were.
 */
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

#define MAX_BATCH 64

static char g_dir[64];
static arb_ruleset_t *g_rs;
static arb_decider_t *g_d;
static arb_arena_t g_arena;
static arb_stats_t g_stats;

static void teardown(void)
{
    arb_ruleset_free(g_rs);
    arb_decider_free(g_d);
    arb_arena_free(&g_arena);
    if (g_dir[0]) fuzz_rmdir(g_dir);
}

/* The rule files (not the tests) of rules/retail, plus the extra rules. */
static void write_ruleset(const char *retail)
{
    static const char *const files[] = { "base.lua", "electronics.lua", "fallback.lua",
                                         "family.lua", "fashion.lua", "lifecycle.lua",
                                         "replenishment.lua", "seasonal.lua", "stores.lua",
                                         "weather.lua", "catalog.lua", "products.jsonl", NULL };
    char path[600];
    size_t len;
    for (const char *const *f = files; *f; f++) {
        snprintf(path, sizeof path, "%s/%s", retail, *f);
        char *text = fuzz_read_file(path, &len);
        FUZZ_REQUIRE(text, "cannot read %s", path);
        fuzz_write_file(g_dir, *f, text, len);
        free(text);
    }
    snprintf(path, sizeof path, "%s/../../tests/fuzz/context_rules.lua", retail);
    char *text = fuzz_read_file(path, &len);
    FUZZ_REQUIRE(text, "cannot read %s", path);
    fuzz_write_file(g_dir, "zz_fuzz.lua", text, len);
    free(text);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    arb_log_set_level(ARB_LOG_ERROR);
    char retail[512];
    fuzz_find_retail(retail, sizeof retail);
    snprintf(g_dir, sizeof g_dir, "/tmp/arbiter-fuzz-many-XXXXXX");
    FUZZ_REQUIRE(mkdtemp(g_dir), "mkdtemp failed");
    atexit(teardown);
    write_ruleset(retail);
    arb_problems_t problems = { 0 };
    g_rs = arb_ruleset_load(g_dir, 1, &problems);
    for (size_t i = 0; i < problems.n; i++) fprintf(stderr, "%s\n", problems.items[i]);
    FUZZ_REQUIRE(g_rs, "the fixed ruleset does not load");
    arb_problems_free(&problems);
    g_d = arb_decider_new();
    FUZZ_REQUIRE(g_d, "arb_decider_new");
    arb_arena_init(&g_arena);
    return 0;
}

/* Whether arb_decide alone accepts element o. */
static bool decides_alone(const msgpack_object *o, arb_err_t *err)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    const arb_decision_t *dec = arb_decide(g_d, g_rs, o, NULL, &g_arena, &g_stats, err);
    if (dec) arb_answer_pack_decision(&pk, dec);
    int rc = dec ? 0 : -1;
    msgpack_sbuffer_destroy(&sb);
    arb_arena_reset(&g_arena);
    return rc == 0;
}

static void check_error(const arb_err_t *err, const msgpack_object *arr)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    arb_rpc_pack_error(&pk, 9, err->code, err->message);
    fuzz_check_error_answer(sb.data, sb.size, 9);
    msgpack_sbuffer_destroy(&sb);

    unsigned idx;
    int used = 0;
    if (sscanf(err->message, "params[0][%u]: %n", &idx, &used) == 1 && used > 0) {
        FUZZ_CHECK(idx < arr->via.array.size, "error names element %u of %u", idx,
                   arr->via.array.size);
        FUZZ_CHECK(err->code == ARB_INVALID_PARAMS || err->code == ARB_DEADLINE_EXCEEDED,
                   "an element failed with %s: %s", arb_code_name(err->code), err->message);
        arb_err_t e1;
        for (unsigned i = 0; i < idx; i++)
            FUZZ_CHECK(decides_alone(&arr->via.array.ptr[i], &e1),
                       "element %u before the failing %u is refused alone: %s", i, idx, e1.message);
        if (err->code == ARB_INVALID_PARAMS) {
            FUZZ_CHECK(!decides_alone(&arr->via.array.ptr[idx], &e1),
                       "element %u is refused in the batch (%s) but decided alone", idx,
                       err->message);
            FUZZ_CHECK(strcmp(e1.message, err->message + used) == 0,
                       "element %u: batch says '%s', alone '%s'", idx, err->message, e1.message);
        }
    } else {
        FUZZ_CHECK(strncmp(err->message, "params[0]: ", 11) == 0 ||
                       strncmp(err->message, "decide_many worked past", 23) == 0,
                   "a batch error that names no element: %s", err->message);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t limit = data[0] ? (size_t)data[0] * 1024 : 0;
    data++;
    size--;
    arb_frame_scan_t scan;
    arb_frame_scan_reset(&scan);
    arb_frame_limits_t flim = { size, ARB_FRAME_DEPTH_MAX };
    size_t flen;
    if (arb_frame_scan(&scan, (const char *)data, size, &flim, &flen) != ARB_FRAME_DONE) return 0;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc = msgpack_unpack_next(&u, (const char *)data, flen, &off);
    FUZZ_CHECK(rc == MSGPACK_UNPACK_SUCCESS && off == flen,
               "msgpack-c refused (rc %d) a frame the scanner accepted", rc);
    const msgpack_object *arr = &u.data;
    if (arr->type != MSGPACK_OBJECT_ARRAY) {   /* rpc.c refuses it before */
        msgpack_unpacked_destroy(&u);
        return 0;
    }

    /* As in the server: answers go after what the buffer already holds. */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_write(&sb, "prior", 5);
    arb_answer_t ans;
    arb_answer_begin(&ans, &sb, limit);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &ans, arb_answer_write);
    arb_batch_limits_t lim = { MAX_BATCH, 0, &ans.failed };
    arb_err_t err;
    memset(&err, 0, sizeof err);
    int top = lua_gettop(g_rs->L);
    arb_answer_pack_batch_head(&pk, arr->via.array.size);
    rc = arb_decide_many(g_d, g_rs, arr, NULL, &g_arena, &g_stats, &lim, arb_answer_sink, &pk, &err);
    FUZZ_CHECK(lua_gettop(g_rs->L) == top, "the rule state's stack moved by %d",
               lua_gettop(g_rs->L) - top);
    arb_arena_reset(&g_arena);
    if (rc == 0 && ans.failed) {
        FUZZ_CHECK(ans.failed == ARB_ANSWER_TOO_LARGE && limit,
                   "the writer failed (%d) without a limit", ans.failed);
        FUZZ_CHECK(sb.size - ans.start <= limit, "%zu bytes written past the limit %zu",
                   sb.size - ans.start, limit);
        sb.size = ans.start;   /* rpc.c's rewind */
    } else if (rc == 0) {
        msgpack_unpacked d;
        msgpack_unpacked_init(&d);
        size_t doff = 0;
        int drc = msgpack_unpack_next(&d, sb.data + ans.start, sb.size - ans.start, &doff);
        FUZZ_CHECK(drc == MSGPACK_UNPACK_SUCCESS && doff == sb.size - ans.start,
                   "the answer is not one MessagePack object");
        FUZZ_CHECK(d.data.type == MSGPACK_OBJECT_ARRAY &&
                       d.data.via.array.size == arr->via.array.size,
                   "%u contexts answered by something else than %u decisions",
                   arr->via.array.size, arr->via.array.size);
        for (uint32_t i = 0; i < d.data.via.array.size; i++)
            FUZZ_CHECK(d.data.via.array.ptr[i].type == MSGPACK_OBJECT_MAP, "decision %u not a map", i);
        msgpack_unpacked_destroy(&d);
        FUZZ_CHECK(limit == 0 || sb.size - ans.start <= limit, "an answer past the limit");
        sb.size = ans.start;
    } else {
        FUZZ_CHECK(rc == -1 && err.message[0], "refused (%d) without a message", rc);
        check_error(&err, arr);
        sb.size = ans.start;
    }
    FUZZ_CHECK(sb.size == 5 && memcmp(sb.data, "prior", 5) == 0,
               "the rewind did not leave the buffer as it was");
    msgpack_sbuffer_destroy(&sb);
    msgpack_unpacked_destroy(&u);
    return 0;
}
