/* Fuzz target: the ruleset loader (engine/ruleset.c, the prelude, the
 * sandbox), then deciding with what it loaded (engine/decide.c,
 * engine/cond.c) and running rule tests (engine/ruletest.c).
 *
 * Input: the text of one rule file. If it contains a line "--@test", the
 * text after that line is the file's rule tests (written beside it as
 * rules_test.lua); "--@test" is a Lua comment, so the input stays one valid
 * Lua chunk either way.
 *
 * The folder also holds a fixed base.lua, a copy of rules/retail/base.lua
 * (settings, the kiosk channel, the twelve models, the touchpoints and
 * stores), so a rule file written for rules/retail loads as it is.
 *
 * For each input:
 *   - arb_ruleset_load returns a ruleset and no problem, or NULL and at
 *     least one problem; it must stop (the sandbox's instruction, memory
 *     and wall-time budgets, which C library loops are charged to as well;
 *     libFuzzer's -timeout catches a hang);
 *   - every problem and every test failure names its file (it starts with
 *     the folder's path) and never prints a missing string as "(null)",
 *     whatever the rule raised (a table, nil, a number, an object whose
 *     __tostring fails);
 *   - a loaded ruleset decides three fixed, rich contexts (web, app and
 *     email, explain forced) into well-formed decisions, describes itself
 *     (the `ruleset` method's map) as well-formed MessagePack, and runs its
 *     tests; the rule state's Lua stack is left as it was;
 *   - everything is freed (LeakSanitizer is on).
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
#include "engine/base/log.h"
#include "engine/wire/rpc.h"
#include "engine/ruleset/ruleset.h"
#include "engine/decide/ruletest.h"
#include "engine/base/stats.h"
#include "tests/fuzz/fuzz_util.h"

#define NOW 1767225600LL   /* the prelude's test clock, 2026-01-01T00:00:00Z */
#define DAY 86400LL
#define SEPARATOR "\n--@test\n"

static char g_dir[64];
static arb_decider_t *g_decider;
static arb_arena_t g_arena;
static arb_stats_t g_stats;
static msgpack_sbuffer g_ctx[3];    /* the packed fixed contexts */
static uint64_t g_seq = 1;

static void teardown(void)
{
    arb_decider_free(g_decider);
    arb_arena_free(&g_arena);
    for (int i = 0; i < 3; i++) msgpack_sbuffer_destroy(&g_ctx[i]);
    if (g_dir[0]) fuzz_rmdir(g_dir);
}

static void pk_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* A purchase or event record: a map of string fields, a price, a ts. */
static void pk_record(msgpack_packer *pk, const char *const *kv, double price, int64_t ts)
{
    size_t n = 0;
    while (kv[n * 2]) n++;
    msgpack_pack_map(pk, n + (price > 0) + 1);
    for (size_t i = 0; i < n; i++) {
        pk_str(pk, kv[i * 2]);
        pk_str(pk, kv[i * 2 + 1]);
    }
    if (price > 0) {
        pk_str(pk, "price");
        msgpack_pack_double(pk, price);
    }
    pk_str(pk, "ts");
    msgpack_pack_int64(pk, ts);
}

/* A context that touches every part the vocabulary reads. */
static void pack_context(msgpack_sbuffer *sb, const char *channel, const char *touchpoint)
{
    static const char *const models[] = { "accessories", "electronics", "fashion", "weather",
                                          "store_visit", "cart_recovery", "reactivation",
                                          "loyalty", "onboarding", "replenishment", "maternity",
                                          "engagement" };
    msgpack_sbuffer_init(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 12);
    pk_str(&pk, "customer_id"); pk_str(&pk, "fuzz-customer");
    pk_str(&pk, "channel"); pk_str(&pk, channel);
    pk_str(&pk, "touchpoint"); pk_str(&pk, touchpoint);
    pk_str(&pk, "now"); msgpack_pack_int64(&pk, NOW);
    pk_str(&pk, "explain"); msgpack_pack_true(&pk);
    pk_str(&pk, "consent");
    msgpack_pack_map(&pk, 3);
    pk_str(&pk, "location"); msgpack_pack_true(&pk);
    pk_str(&pk, "marketing"); msgpack_pack_true(&pk);
    pk_str(&pk, "email"); msgpack_pack_false(&pk);
    pk_str(&pk, "location");
    msgpack_pack_map(&pk, 4);
    pk_str(&pk, "lat"); msgpack_pack_double(&pk, 52.5200);
    pk_str(&pk, "lon"); msgpack_pack_double(&pk, 13.4100);
    pk_str(&pk, "store_id"); pk_str(&pk, "berlin_alexanderplatz");
    pk_str(&pk, "country"); pk_str(&pk, "DE");
    pk_str(&pk, "purchases");
    msgpack_pack_array(&pk, 4);
    pk_record(&pk, (const char *const[]){ "sku", "LP-1400-AIR", "category", "laptop", "channel", "web", NULL }, 1299, NOW - 2 * DAY);
    pk_record(&pk, (const char *const[]){ "sku", "MS-2040-WL", "category", "mouse", NULL }, 29.99, NOW - 400 * DAY);
    pk_record(&pk, (const char *const[]){ "category", "vitamins", NULL }, 12.5, NOW - 45 * DAY);
    pk_record(&pk, (const char *const[]){ "category", "dress", NULL }, 89, NOW - 10 * DAY);
    pk_str(&pk, "events");
    msgpack_pack_array(&pk, 5);
    pk_record(&pk, (const char *const[]){ "type", "view", "sku", "TV-55-OLED", "category", "tv", NULL }, 0, NOW - 3600);
    pk_record(&pk, (const char *const[]){ "type", "cart_add", "category", "shoes", NULL }, 0, NOW - 7200);
    pk_record(&pk, (const char *const[]){ "type", "cart_abandon", "category", "shoes", NULL }, 0, NOW - 3000);
    pk_record(&pk, (const char *const[]){ "type", "email_open", NULL }, 0, NOW - 2 * DAY);
    pk_record(&pk, (const char *const[]){ "type", "search", "category", "laptop", NULL }, 0, NOW - 60);
    pk_str(&pk, "weather");
    msgpack_pack_map(&pk, 2);
    pk_str(&pk, "temp_c"); msgpack_pack_double(&pk, 4.5);
    pk_str(&pk, "condition"); pk_str(&pk, "rain");
    pk_str(&pk, "scores");
    msgpack_pack_map(&pk, sizeof models / sizeof models[0]);
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        pk_str(&pk, models[i]);
        msgpack_pack_double(&pk, 0.05 + 0.07 * (double)i);
    }
    pk_str(&pk, "attributes");
    msgpack_pack_map(&pk, 4);
    pk_str(&pk, "loyalty_tier"); pk_str(&pk, "gold");
    pk_str(&pk, "segments");
    msgpack_pack_array(&pk, 2);
    pk_str(&pk, "fashion_lover"); pk_str(&pk, "vip");
    pk_str(&pk, "lifetime_value"); msgpack_pack_double(&pk, 1234.5);
    pk_str(&pk, "expecting"); msgpack_pack_true(&pk);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    arb_log_set_level(ARB_LOG_ERROR);   /* rule print() lines would flood the output */
    char retail[512], path[600];
    fuzz_find_retail(retail, sizeof retail);
    snprintf(g_dir, sizeof g_dir, "/tmp/arbiter-fuzz-ruleset-XXXXXX");
    FUZZ_REQUIRE(mkdtemp(g_dir), "mkdtemp failed");
    atexit(teardown);
    snprintf(path, sizeof path, "%s/base.lua", retail);
    size_t len;
    char *base = fuzz_read_file(path, &len);
    FUZZ_REQUIRE(base, "cannot read %s", path);
    fuzz_write_file(g_dir, "base.lua", base, len);
    free(base);
    pack_context(&g_ctx[0], "web", "web_home");
    pack_context(&g_ctx[1], "app", "app_home");
    pack_context(&g_ctx[2], "email", "email_post_purchase");
    g_decider = arb_decider_new();
    FUZZ_REQUIRE(g_decider, "arb_decider_new");
    arb_decider_force_explain(g_decider, true);
    arb_arena_init(&g_arena);
    return 0;
}

static void check_msgpack(const msgpack_sbuffer *sb, const char *what)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc = msgpack_unpack_next(&u, sb->data, sb->size, &off);
    FUZZ_CHECK(rc == MSGPACK_UNPACK_SUCCESS && off == sb->size && u.data.type == MSGPACK_OBJECT_MAP,
               "%s is not one MessagePack map (rc %d, %zu of %zu bytes)", what, rc, off, sb->size);
    msgpack_unpacked_destroy(&u);
}

/* The input, for check_problem: a problem may quote it. */
static const uint8_t *g_input;
static size_t g_input_len;

/* A problem a user can act on: it names the file (the folder's path
 * first) and has no "(null)" where a message was missing (unless the rule
 * text itself says "(null)", which a problem may quote). The list is capped
 * (problems.c): past the cap, its last line counts the rest instead. */
static void check_problem(const arb_problems_t *list, size_t i, const char *what)
{
    const char *p = list->items[i];
    FUZZ_CHECK(p && p[0], "a %s is empty", what);
    if (fuzz_problem_is_cap_summary(list, i)) return;
    FUZZ_CHECK(strncmp(p, g_dir, strlen(g_dir)) == 0, "a %s does not name its file: %s", what, p);
    FUZZ_CHECK(strstr(p, "(null)") == NULL || memmem(g_input, g_input_len, "(null)", 6) != NULL,
               "a %s reads \"(null)\": %s", what, p);
}

static void decide_fixed(arb_ruleset_t *rs, const msgpack_sbuffer *in)
{
    msgpack_unpacked ctx;
    msgpack_unpacked_init(&ctx);
    FUZZ_REQUIRE(msgpack_unpack_next(&ctx, in->data, in->size, NULL) == MSGPACK_UNPACK_SUCCESS,
                 "fixed context");
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
    arb_err_t err;
    memset(&err, 0, sizeof err);
    int top = lua_gettop(rs->L);
    const arb_decision_t *dec = arb_decide(g_decider, rs, &ctx.data, NULL, &g_arena, &g_stats, &err);
    if (dec) arb_answer_pack_decision(&pk, dec);
    int rc = dec ? 0 : -1;
    FUZZ_CHECK(lua_gettop(rs->L) == top, "arb_decide left %d values on the rule state's stack",
               lua_gettop(rs->L) - top);
    arb_arena_reset(&g_arena);
    /* The context is valid and its channel is a standard one, always known. */
    FUZZ_CHECK(rc == 0, "a loaded ruleset refused the fixed context: %s: %s",
               arb_code_name(err.code), err.message);
    check_msgpack(&out, "the decision");
    msgpack_sbuffer_destroy(&out);
    msgpack_unpacked_destroy(&ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    g_input = data;
    g_input_len = size;
    const char *sep = size >= sizeof SEPARATOR - 1 ? memmem(text, size, SEPARATOR, sizeof SEPARATOR - 1) : NULL;
    size_t rules_len = sep ? (size_t)(sep - text) : size;
    fuzz_write_file(g_dir, "rules.lua", text, rules_len);
    if (sep) {
        const char *tests = sep + sizeof SEPARATOR - 1;
        fuzz_write_file(g_dir, "rules_test.lua", tests, size - (size_t)(tests - text));
    } else {
        fuzz_unlink(g_dir, "rules_test.lua");
    }

    arb_problems_t problems = { 0 };
    arb_ruleset_t *rs = arb_ruleset_load(g_dir, g_seq++, &problems);
    for (size_t i = 0; i < problems.n; i++) check_problem(&problems, i, "problem");
    if (!rs) {
        FUZZ_CHECK(problems.n > 0, "the load failed without a problem");
        arb_problems_free(&problems);
        return 0;
    }
    FUZZ_CHECK(problems.n == 0, "a ruleset loaded with %zu problems: %s", problems.n, problems.items[0]);
    arb_problems_free(&problems);
    FUZZ_CHECK(lua_gettop(rs->L) == 0, "the load left %d values on the rule state's stack",
               lua_gettop(rs->L));
    FUZZ_CHECK(arb_ruleset_version(rs)[0], "no version");

    for (int i = 0; i < 3; i++) decide_fixed(rs, &g_ctx[i]);

    msgpack_sbuffer info;
    msgpack_sbuffer_init(&info);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &info, msgpack_sbuffer_write);
    arb_answer_pack_ruleset(&pk, rs);
    check_msgpack(&info, "the ruleset description");
    msgpack_sbuffer_destroy(&info);

    arb_problems_t failures = { 0 };
    int run = arb_ruleset_run_tests(rs, g_dir, &failures, 0);
    FUZZ_CHECK(run >= -1, "arb_ruleset_run_tests returned %d", run);
    if (run < 0) FUZZ_CHECK(failures.n > 0, "test files failed to load without a problem");
    for (size_t i = 0; i < failures.n; i++) check_problem(&failures, i, "test failure");
    FUZZ_CHECK(lua_gettop(rs->L) == 0, "the tests left %d values on the rule state's stack",
               lua_gettop(rs->L));
    arb_problems_free(&failures);
    arb_ruleset_free(rs);
    return 0;
}
