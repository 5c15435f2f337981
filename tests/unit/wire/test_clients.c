/* Unit tests for what hostile clients meet first (issue 10): the bounded
 * answer writer (engine/wire/rpc.c: too_large, a failed allocation, the rewind),
 * the context refusals that keep C and Lua reading the same thing
 * (engine/context.c: duplicate keys at any depth, NaN keys, bin and
 * extension values, scores outside [0, 1]) and the log's rate limit
 * (engine/log.c).
 */
#include <criterion/criterion.h>

#include <math.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/base/arena.h"
#include "engine/request/context.h"
#include "engine/base/error.h"
#include "engine/base/log.h"
#include "engine/wire/rpc.h"

/* The allocation failure below asks realloc for half the address space:
 * under ASan that must fail as in libc, not abort. */
#ifdef __SANITIZE_ADDRESS__
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
#endif

/* ---- the answer writer ----------------------------------------------------- */

Test(answer, refuses_past_the_limit_and_stays_refused)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_write(&sb, "head", 4);   /* an earlier answer */
    arb_answer_t a;
    arb_answer_begin(&a, &sb, 100);
    char block[60];
    memset(block, 'x', sizeof block);
    cr_assert_eq(arb_answer_write(&a, block, 60), 0);
    cr_assert_eq(arb_answer_write(&a, block, 41), -1, "101 bytes passed a limit of 100");
    cr_assert_eq(a.failed, ARB_ANSWER_TOO_LARGE);
    cr_assert_eq(arb_answer_write(&a, block, 1), -1, "a refused answer takes nothing more");
    cr_assert_eq(sb.size, 64, "the refused write copied something");
    msgpack_sbuffer_destroy(&sb);
}

Test(answer, allocation_failure_is_noticed_and_nothing_is_copied)
{
    /* A buffer that claims to be nearly full at half the address space:
     * growing it must fail inside msgpack_sbuffer_write (realloc refuses
     * the size), which the packers would ignore. */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_write(&sb, "abc", 3);
    char *keep = sb.data;
    size_t keep_alloc = sb.alloc;
    sb.alloc = (SIZE_MAX >> 1) + 1;
    sb.size = sb.alloc - 1;
    arb_answer_t a;
    arb_answer_begin(&a, &sb, 0);
    size_t before = sb.size;
    cr_assert_eq(arb_answer_write(&a, "0123456789", 10), -1);
    cr_assert_eq(a.failed, ARB_ANSWER_NOMEM);
    cr_assert_eq(sb.size, before, "a failed write moved the buffer");
    cr_assert_eq(sb.data, keep);
    sb.alloc = keep_alloc;
    sb.size = 3;
    msgpack_sbuffer_destroy(&sb);
}

Test(answer, packer_over_the_writer_keeps_earlier_answers_whole)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    arb_answer_t a;
    msgpack_packer pk;
    /* A first answer that fits. */
    arb_answer_begin(&a, &sb, 64);
    msgpack_packer_init(&pk, &a, arb_answer_write);
    arb_rpc_pack_error(&pk, 1, ARB_OVERLOADED, "busy");
    cr_assert_eq(a.failed, 0);
    size_t first = sb.size;
    /* A second one too large: rewound to where it began, then an error. */
    arb_answer_begin(&a, &sb, 64);
    msgpack_pack_array(&pk, 100);
    for (int i = 0; i < 100; i++) msgpack_pack_int(&pk, 100000 + i);
    cr_assert_eq(a.failed, ARB_ANSWER_TOO_LARGE);
    sb.size = a.start;
    a.failed = 0;
    a.limit = 0;
    arb_rpc_pack_error(&pk, 2, ARB_TOO_LARGE, "too large");
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, first);
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, sb.size, "the stream holds exactly two whole answers");
    cr_assert_eq(u.data.via.array.ptr[1].via.u64, 2);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    cr_assert_str_eq(arb_code_name(ARB_TOO_LARGE), "too_large");
    cr_assert_str_eq(arb_code_name(ARB_UNAVAILABLE), "unavailable");
}

/* ---- the context --------------------------------------------------------- */

static msgpack_sbuffer g_sb;
static msgpack_packer g_pk;
static arb_arena_t g_arena;
static arb_err_t g_err;

static void setup(void)
{
    msgpack_sbuffer_init(&g_sb);
    msgpack_packer_init(&g_pk, &g_sb, msgpack_sbuffer_write);
    arb_arena_init(&g_arena);
    memset(&g_err, 0, sizeof g_err);
}

static void teardown(void)
{
    msgpack_sbuffer_destroy(&g_sb);
    arb_arena_free(&g_arena);
}

TestSuite(keys, .init = setup, .fini = teardown);

static void str(const char *s)
{
    msgpack_pack_str(&g_pk, strlen(s));
    msgpack_pack_str_body(&g_pk, s, strlen(s));
}

/* Start a context map of 3 + extra entries with the required strings. */
static void begin(uint32_t extra)
{
    msgpack_sbuffer_clear(&g_sb);
    msgpack_pack_map(&g_pk, 3 + extra);
    str("customer_id");
    str("c1");
    str("channel");
    str("web");
    str("touchpoint");
    str("home");
}

/* Parse what was packed; returns arb_context_parse's result. */
static int parse(void)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, g_sb.data, g_sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    arb_context_t ctx;
    int rc = arb_context_parse(&u.data, 1700000000, &ctx, &g_arena, &g_err);
    msgpack_unpacked_destroy(&u);
    arb_arena_reset(&g_arena);
    return rc;
}

static void refused(const char *want, const char *what)
{
    cr_assert_eq(parse(), -1, "%s: accepted", what);
    cr_assert_eq(g_err.code, ARB_INVALID_PARAMS, "%s: code %d", what, g_err.code);
    cr_assert(strstr(g_err.message, want), "%s: message '%s' lacks '%s'", what, g_err.message, want);
}

Test(keys, duplicates_at_the_top_and_in_each_part)
{
    begin(1);
    str("channel");
    str("email");
    refused("channel: duplicate key", "top level");

    begin(1);
    str("scores");
    msgpack_pack_map(&g_pk, 2);
    str("m");
    msgpack_pack_double(&g_pk, 0.5);
    str("m");
    msgpack_pack_double(&g_pk, 0.2);
    refused("scores.m: duplicate key", "scores");

    begin(1);
    str("purchases");
    msgpack_pack_array(&g_pk, 2);
    msgpack_pack_map(&g_pk, 1);
    str("ts");
    msgpack_pack_int(&g_pk, 1);
    msgpack_pack_map(&g_pk, 3);
    str("ts");
    msgpack_pack_int(&g_pk, 1);
    str("brand");
    str("a");
    str("brand");
    str("b");
    refused("purchases[1].brand: duplicate key", "extra field of a purchase");

    begin(1);
    str("attributes");
    msgpack_pack_map(&g_pk, 1);
    str("segments");
    msgpack_pack_array(&g_pk, 2);
    str("x");
    msgpack_pack_map(&g_pk, 2);
    str("k");
    msgpack_pack_nil(&g_pk);
    str("k");
    msgpack_pack_nil(&g_pk);
    refused("attributes.segments[1].k: duplicate key", "deep in attributes");
}

Test(keys, keys_lua_takes_as_one)
{
    begin(1);
    str("attributes");
    msgpack_pack_map(&g_pk, 2);
    str("tier");
    str("gold");
    msgpack_pack_bin(&g_pk, 4);
    msgpack_pack_bin_body(&g_pk, "tier", 4);
    str("x");
    refused("duplicate key", "str and bin of the same bytes");

    begin(1);
    str("attributes");
    msgpack_pack_map(&g_pk, 2);
    msgpack_pack_int(&g_pk, 3);
    str("a");
    msgpack_pack_double(&g_pk, 3.0);
    str("b");
    refused("duplicate key", "3 and 3.0");

    begin(1);
    str("attributes");
    msgpack_pack_map(&g_pk, 2);
    msgpack_pack_int(&g_pk, 3);
    str("a");
    msgpack_pack_double(&g_pk, 3.5);
    str("b");
    cr_assert_eq(parse(), 0, "3 and 3.5 are two keys: %s", g_err.message);

    begin(1);
    str("attributes");
    msgpack_pack_map(&g_pk, 1);
    msgpack_pack_double(&g_pk, NAN);
    str("a");
    refused("NaN", "a NaN key");

    /* Maps (as keys) are never one key in Lua: two empty ones are fine. */
    begin(1);
    str("attributes");
    msgpack_pack_map(&g_pk, 2);
    msgpack_pack_map(&g_pk, 0);
    str("a");
    msgpack_pack_map(&g_pk, 0);
    str("b");
    cr_assert_eq(parse(), 0, "two map keys: %s", g_err.message);
}

/* Maps of 9..64 string keys (fingerprints) and of more (hash), with the
 * duplicate at either end. */
Test(keys, large_maps)
{
    static const uint32_t sizes[] = { 9, 20, 64, 65, 300 };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint32_t n = sizes[s];
        for (int dup = 0; dup < 3; dup++) {
            begin(1);
            str("attributes");
            msgpack_pack_map(&g_pk, n);
            for (uint32_t i = 0; i < n; i++) {
                char k[16];
                uint32_t j = i;
                if (dup == 1 && i == n - 1) j = 0;          /* last repeats the first */
                if (dup == 2 && i == n / 2) j = n / 2 - 1;  /* neighbours */
                snprintf(k, sizeof k, "k%u", j);
                str(k);
                msgpack_pack_int(&g_pk, (int)i);
            }
            if (dup) refused("duplicate key", "large map");
            else cr_assert_eq(parse(), 0, "%u distinct keys refused: %s", n, g_err.message);
        }
    }
}

Test(keys, bin_and_ext_values)
{
    begin(1);
    str("attributes");
    msgpack_pack_map(&g_pk, 1);
    str("tier");
    msgpack_pack_bin(&g_pk, 4);
    msgpack_pack_bin_body(&g_pk, "gold", 4);
    refused("attributes.tier: binary", "bin attribute");

    begin(1);
    str("events");
    msgpack_pack_array(&g_pk, 1);
    msgpack_pack_map(&g_pk, 2);
    str("ts");
    msgpack_pack_int(&g_pk, 1);
    str("extra");
    msgpack_pack_ext(&g_pk, 1, 3);
    msgpack_pack_ext_body(&g_pk, "x", 1);
    refused("events[0].extra: extension", "ext in an event");
}

Test(keys, scores_are_propensities)
{
    static const double bad[] = { -0.0001, 1.0001, 2, -1, 1e300 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        begin(1);
        str("scores");
        msgpack_pack_map(&g_pk, 1);
        str("churn");
        msgpack_pack_double(&g_pk, bad[i]);
        refused("scores.churn: a score is a propensity, between 0 and 1", "score");
    }
    static const double good[] = { 0, 1, 0.5, -0.0 };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        begin(1);
        str("scores");
        msgpack_pack_map(&g_pk, 1);
        str("churn");
        msgpack_pack_double(&g_pk, good[i]);
        cr_assert_eq(parse(), 0, "%g refused: %s", good[i], g_err.message);
    }
}

/* ---- the log ------------------------------------------------------------- */

/* Run f with stderr sent to a temporary file; return what it wrote. */
static char *capture(void (*f)(void))
{
    char path[] = "/tmp/arb-test-log-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    f();
    dup2(saved, STDERR_FILENO);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)n + 1);
    cr_assert(pread(fd, text, (size_t)n, 0) == n);
    close(fd);
    unlink(path);
    return text;
}

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++) n++;
    return n;
}

static void flood(void)
{
    for (int i = 0; i < 500; i++) arb_log_warn("unit flood", "i=%d", i);
    arb_log_info("unit other", NULL);   /* another message has its own budget */
}

static void after_a_second(void)
{
    sleep(1);
    usleep(100000);
    arb_log_warn("unit flood", "i=last");
}

Test(log, repeated_lines_are_rate_limited_and_counted)
{
    char *a = capture(flood);
    size_t lines = count(a, "msg=\"unit flood\"");
    cr_assert(lines >= 1 && lines <= 40, "%zu lines of one message in a burst", lines);
    cr_assert_eq(count(a, "msg=\"unit other\""), 1);
    char *b = capture(after_a_second);
    cr_assert(strstr(b, "i=last suppressed="), "the next line does not say what was held: %s", b);
    unsigned long held = strtoul(strstr(b, "suppressed=") + 11, NULL, 10);
    cr_assert_eq(held + lines, 500, "%lu held + %zu written != 500", held, lines);
    free(a);
    free(b);
}

Test(keys, unknown_top_level_keys_stay_free)
{
    /* Read by neither C nor Lua: what they hold is not checked... */
    begin(1);
    str("zz_unknown");
    msgpack_pack_array(&g_pk, 2);
    msgpack_pack_bin(&g_pk, 2);
    msgpack_pack_bin_body(&g_pk, "\x00\x01", 2);
    msgpack_pack_map(&g_pk, 2);
    str("k");
    msgpack_pack_nil(&g_pk);
    str("k");
    msgpack_pack_nil(&g_pk);
    cr_assert_eq(parse(), 0, "an unknown key's value refused: %s", g_err.message);
    /* ...but the context map itself holds each key once. */
    begin(2);
    str("zz_unknown");
    msgpack_pack_nil(&g_pk);
    str("zz_unknown");
    msgpack_pack_nil(&g_pk);
    refused("zz_unknown: duplicate key", "an unknown key twice");
}
