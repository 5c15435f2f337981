/* Unit tests for arb_context_parse_bytes (engine/request/context_bytes.c):
 * it fills the context and refuses with the words of arb_context_parse on
 * msgpack-c's unpacking of the same bytes (tests/support/ctxsame.h
 * compares every field), on the reference workload (every context of
 * tests/bench/contexts.msgpack) and on hand-written contexts, good and bad;
 * bytes that are not one MessagePack value are refused as such; and a
 * record-field condition reads the context's own records' fields from the
 * bytes (no tree) as it does from the tree, read by arb_record_field and
 * evaluated by decide/eval.c (the ruleset fixture: tests/support/rulefix.c).
 */
#include <criterion/criterion.h>

#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/decide/eval.h"
#include "engine/request/context.h"
#include "engine/request/recfield.h"
#include "tests/support/ctxfix.h"
#include "tests/support/ctxsame.h"
#include "tests/support/rulefix.h"

TestSuite(context_bytes, .init = ctx_setup, .fini = ctx_teardown);

/* g_sb (one whole value) parsed both ways; the test fails when they differ.
 * Returns arb_context_parse's code. */
static int both_ways(const char *what)
{
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&g_up, g_sb.data, g_sb.size, &off), MSGPACK_UNPACK_SUCCESS,
                 "%s: not one value", what);
    cr_assert_eq(off, g_sb.size, "%s", what);
    char why[300] = "";
    bool same = ctxsame_check(&g_up.data, g_sb.data, g_sb.size, NOW_DEFAULT, &g_arena, why, sizeof why);
    cr_expect(same, "%s: %s", what, why);
    arb_context_t c;
    arb_err_t e;
    return arb_context_parse(&g_up.data, NOW_DEFAULT, &c, &g_arena, &e);
}

static int json_both_ways(const char *text)
{
    json_t *j = json(text);
    msgpack_sbuffer_clear(&g_sb);
    pack_json(&g_pk, j);
    json_decref(j);
    return both_ways(text);
}

Test(context_bytes, the_reference_contexts_parse_the_same)
{
    FILE *f = fopen("tests/bench/contexts.msgpack", "rb");
    cr_assert_not_null(f, "run from the worktree's root");
    static char buf[4 << 20];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    size_t off = 0, n = 0;
    while (off < len) {
        size_t start = off;
        cr_assert_eq(msgpack_unpack_next(&g_up, buf, len, &off), MSGPACK_UNPACK_SUCCESS);
        char why[300] = "";
        cr_assert(ctxsame_check(&g_up.data, buf + start, off - start, NOW_DEFAULT, &g_arena, why,
                                sizeof why),
                  "context %zu: %s", n, why);
        arb_context_t c;
        arb_err_t e;
        cr_assert_eq(arb_context_parse_bytes(buf + start, off - start, 1, false, &c, &g_arena, NULL, &e),
                     0, "context %zu: %s", n, e.message);   /* clean: no tree, so no zone */
        arb_arena_reset(&g_arena);
        n++;
    }
    cr_expect_eq(n, 1000);
}

Test(context_bytes, good_contexts_parse_the_same)
{
    static const char *const good[] = {
        "{\"customer_id\": \"c\", \"channel\": \"web\", \"touchpoint\": \"t\"}",
        "{\"touchpoint\": \"t\", \"channel\": \"web\", \"customer_id\": \"c\", \"limit\": 3,"
        " \"deadline_ms\": 20, \"explain\": true, \"preview\": false, \"timezone\": \"+02:00\","
        " \"now\": 1767225600, \"extra_key\": {\"a\": [1, {\"b\": null}]}, \"x\": 1}",
        "{\"customer_id\": \"c\", \"channel\": \"web\", \"touchpoint\": \"t\","
        " \"location\": {\"lat\": 1.5, \"lon\": -2, \"store_id\": \"S1\", \"country\": \"FR\","
        " \"floor\": {\"n\": 2}}, \"weather\": {\"temp_c\": -3, \"condition\": \"rain\", \"w\": [1]},"
        " \"attributes\": {\"tier\": \"gold\", \"n\": [1, 2, {\"x\": 1}]},"
        " \"consent\": {\"location\": true, \"email\": false},"
        " \"scores\": {\"zeta_model_long_name\": 0.5, \"alpha\": 1, \"b\": 0}}",
        "{\"customer_id\": \"c\", \"channel\": \"web\", \"touchpoint\": \"t\","
        " \"purchases\": [{\"ts\": 5, \"sku\": \"A\", \"brand\": \"acme\", \"tags\": [\"x\"]},"
        " {\"ts\": 6, \"price\": 9.5, \"category\": \"c\", \"channel\": \"store\"}],"
        " \"events\": [{\"type\": \"view\", \"ts\": 7, \"channel\": \"app\", \"meta\": {\"k\": 1}}]}",
        "{\"customer_id\": \"c\", \"channel\": \"web\", \"touchpoint\": \"t\", \"location\": {\"lat\": 1},"
        " \"consent\": {\"a\": true, \"b\": true, \"c\": true, \"d\": true, \"e\": true, \"f\": true,"
        " \"g\": true, \"h\": true, \"i\": false}}",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        cr_expect_eq(json_both_ways(good[i]), 0, "%s", good[i]);
}

Test(context_bytes, bad_contexts_are_refused_the_same)
{
    static const char *const bad[] = {
        "[1]", "\"ctx\"", "{}", "{\"customer_id\": \"\", \"channel\": \"w\", \"touchpoint\": \"t\"}",
        "{\"customer_id\": 7, \"channel\": \"w\", \"touchpoint\": \"t\"}",
        "{\"customer_id\": \"c\", \"channel\": [\"web\"], \"touchpoint\": \"t\"}",
        "{\"customer_id\": \"c\", \"channel\": \"w\"}",
        "{\"customer_id\": \"c\", \"channel\": \"w\", \"touchpoint\": \"t\", \"now\": 1.5}",
        "{\"customer_id\": \"c\", \"channel\": \"w\", \"touchpoint\": \"t\", \"now\": 999999999999999}",
        "{\"customer_id\": \"c\", \"channel\": \"w\", \"touchpoint\": \"t\", \"limit\": 0}",
        "{\"customer_id\": \"c\", \"channel\": \"w\", \"touchpoint\": \"t\", \"limit\": {}}",
        "{\"customer_id\": \"c\", \"channel\": \"w\", \"touchpoint\": \"t\", \"deadline_ms\": 0}",
        "{\"customer_id\": \"c\", \"channel\": \"w\", \"touchpoint\": \"t\", \"timezone\": \"Europe/Paris\"}",
        "{\"customer_id\": \"c\", \"channel\": \"w\", \"touchpoint\": \"t\", \"scores\": {\"m\": 1.5}}",
        "{\"customer_id\": \"c\", \"channel\": \"w\", \"touchpoint\": \"t\", \"scores\": {\"m\": [1]}}",
        "{\"customer_id\": \"c\", \"channel\": \"w\", \"touchpoint\": \"t\", \"scores\": [0.5]}",
        "{\"customer_id\": \"c\", \"channel\": \"w\", \"touchpoint\": \"t\", \"consent\": {\"e\": 1}}",
        "{\"customer_id\": \"c\", \"channel\": \"w\", \"touchpoint\": \"t\", \"location\": {\"lat\": \"1\"}}",
        "{\"customer_id\": \"c\", \"channel\": \"w\", \"touchpoint\": \"t\", \"location\": [1]}",
        "{\"customer_id\": \"c\", \"channel\": \"w\", \"touchpoint\": \"t\", \"weather\": {\"temp_c\": {}}}",
        "{\"customer_id\": \"c\", \"channel\": \"w\", \"touchpoint\": \"t\", \"weather\": 3}",
        "{\"customer_id\": \"c\", \"channel\": \"w\", \"touchpoint\": \"t\", \"purchases\": {}}",
        "{\"customer_id\": \"c\", \"channel\": \"w\", \"touchpoint\": \"t\", \"purchases\": [[]]}",
        "{\"customer_id\": \"c\", \"channel\": \"w\", \"touchpoint\": \"t\", \"purchases\": [{\"sku\": \"a\"}]}",
        "{\"customer_id\": \"c\", \"channel\": \"w\", \"touchpoint\": \"t\", \"purchases\": [{\"ts\": 1,"
        " \"sku\": {\"a\": 1}}]}",
        "{\"customer_id\": \"c\", \"channel\": \"w\", \"touchpoint\": \"t\", \"events\": [{\"ts\": \"x\"}]}",
        "{\"customer_id\": \"c\", \"channel\": \"w\", \"touchpoint\": \"t\", \"attributes\": null}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(json_both_ways(bad[i]), -1, "%s: accepted", bad[i]);
}

/* What JSON cannot say: extension, binary and float32 values, keys that
 * are not strings or repeat, at the top, in a record, in attributes. */
Test(context_bytes, msgpack_only_contexts_are_refused_the_same)
{
    for (int c = 0; c < 11; c++) {
        pack_required(1);
        switch (c) {
        case 0: pk_cstr(&g_pk, "now"); msgpack_pack_ext_with_body(&g_pk, "ab", 2, 5); break;
        case 1: pk_cstr(&g_pk, "limit"); msgpack_pack_bin_with_body(&g_pk, "ab", 2); break;
        case 2: msgpack_pack_int(&g_pk, 3); msgpack_pack_nil(&g_pk); break;   /* a key not a string */
        case 3: pk_cstr(&g_pk, "channel"); pk_cstr(&g_pk, "app"); break;      /* a known key twice */
        case 4:   /* an unknown key twice */
            g_sb.size = 0;
            pack_required(2);
            pk_cstr(&g_pk, "zz"); msgpack_pack_nil(&g_pk);
            pk_cstr(&g_pk, "zz"); msgpack_pack_true(&g_pk);
            break;
        case 5:   /* ext under an unknown key of a purchase */
            pk_cstr(&g_pk, "purchases"); msgpack_pack_array(&g_pk, 1); msgpack_pack_map(&g_pk, 2);
            pk_cstr(&g_pk, "ts"); msgpack_pack_int(&g_pk, 1);
            pk_cstr(&g_pk, "x"); msgpack_pack_ext_with_body(&g_pk, "abcd", 4, -3);
            break;
        case 6:   /* a repeated key deep in attributes */
            pk_cstr(&g_pk, "attributes"); msgpack_pack_map(&g_pk, 1); pk_cstr(&g_pk, "a");
            msgpack_pack_map(&g_pk, 2); pk_cstr(&g_pk, "k"); msgpack_pack_nil(&g_pk);
            pk_cstr(&g_pk, "k"); msgpack_pack_nil(&g_pk);
            break;
        case 7:   /* float32 scores, one out of range; then a repeat among unsorted ones */
            pk_cstr(&g_pk, "scores"); msgpack_pack_map(&g_pk, 3);
            pk_cstr(&g_pk, "b"); msgpack_pack_float(&g_pk, 0.25f);
            pk_cstr(&g_pk, "a"); msgpack_pack_float(&g_pk, 0.5f);
            pk_cstr(&g_pk, "b"); msgpack_pack_float(&g_pk, 0.75f);
            break;
        case 8:   /* a NaN score */
            pk_cstr(&g_pk, "scores"); msgpack_pack_map(&g_pk, 1);
            pk_cstr(&g_pk, "a"); msgpack_pack_double(&g_pk, NAN);
            break;
        case 9:   /* a purchase key that is a map */
            pk_cstr(&g_pk, "purchases"); msgpack_pack_array(&g_pk, 1); msgpack_pack_map(&g_pk, 1);
            msgpack_pack_map(&g_pk, 0); msgpack_pack_int(&g_pk, 1);
            break;
        default:   /* a uint64 now above INT64_MAX */
            pk_cstr(&g_pk, "now"); msgpack_pack_uint64(&g_pk, UINT64_MAX);
            break;
        }
        char what[32];
        snprintf(what, sizeof what, "case %d", c);
        cr_expect_eq(both_ways(what), -1, "%s: accepted", what);
    }
}

static int bytes_parse(const char *p, size_t len, bool whole, arb_context_t *c, arb_err_t *e,
                       msgpack_zone *zone)
{
    memset(e, 0, sizeof *e);
    return arb_context_parse_bytes(p, len, NOW_DEFAULT, whole, c, &g_arena, zone, e);
}

/* Bytes after the value, a value cut short, nothing at all, a byte that
 * is never MessagePack, nesting past 32: msgpack-c would not unpack one
 * value; refused as such even when the walk met another fault first. */
Test(context_bytes, bytes_that_are_not_one_value_are_refused)
{
    msgpack_zone zone;
    msgpack_zone_init(&zone, 1024);
    json_t *j = json("{\"customer_id\": \"c\", \"channel\": \"w\", \"touchpoint\": \"t\"}");
    msgpack_sbuffer_clear(&g_sb);
    pack_json(&g_pk, j);
    json_decref(j);
    arb_context_t c;
    arb_err_t e;
    for (int whole = 0; whole < 2; whole++) {
        cr_assert_eq(bytes_parse(g_sb.data, g_sb.size, whole, &c, &e, &zone), 0, "%s", e.message);
        for (size_t cut = 0; cut < g_sb.size; cut++) {
            cr_assert_eq(bytes_parse(g_sb.data, cut, whole, &c, &e, &zone), -1);
            cr_expect_str_eq(e.message, "context: not MessagePack", "cut at %zu", cut);
            cr_expect_eq(e.code, ARB_INVALID_PARAMS);
        }
    }
    msgpack_pack_nil(&g_pk);   /* a second value after the context */
    for (int whole = 0; whole < 2; whole++) {
        cr_assert_eq(bytes_parse(g_sb.data, g_sb.size, whole, &c, &e, &zone), -1);
        cr_expect_str_eq(e.message, "context: not MessagePack");
    }
    /* customer_id of the wrong type first, then 0xc1 */
    const char bad[] = "\x82\xab" "customer_id\x07\xa1" "x\xc1";
    cr_assert_eq(bytes_parse(bad, sizeof bad - 1, false, &c, &e, &zone), -1);
    cr_expect_str_eq(e.message, "context: not MessagePack");
    /* under an unknown key, 31 levels (32 with the context) and 32 */
    for (int levels = 31; levels <= 32; levels++) {
        msgpack_sbuffer_clear(&g_sb);
        pack_required(1);
        pk_cstr(&g_pk, "deep");
        for (int d = 0; d < levels; d++) msgpack_pack_array(&g_pk, 1);
        msgpack_pack_nil(&g_pk);
        int rc = bytes_parse(g_sb.data, g_sb.size, false, &c, &e, &zone);
        if (levels == 31) cr_expect_eq(rc, 0, "%s", e.message);
        else {
            cr_expect_eq(rc, -1);
            cr_expect_str_eq(e.message, "context: not MessagePack");
        }
    }
    msgpack_zone_destroy(&zone);
}

/* Field `name` of own purchase (or event) i, as a record-field condition
 * reads it (eval_hist.c: arb_record_field). */
static bool field_of(const arb_context_t *c, bool purchase, uint32_t i, const char *name,
                     msgpack_object *out)
{
    return arb_record_field(c, purchase, i, name, (uint32_t)strlen(name), out);
}

/* bought { brand = "acme" } on a context parsed without its tree
 * (whole=false, as a shareable ruleset's decide would): the record's own
 * fields, read from its bytes, are those the tree gives. */
Test(context_bytes, record_fields_read_without_the_tree)
{
    json_t *j = json("{\"customer_id\": \"c\", \"channel\": \"w\", \"touchpoint\": \"t\","
                     " \"purchases\": [{\"ts\": 5, \"sku\": \"A\", \"brand\": \"acme\"},"
                     " {\"ts\": 6, \"price\": 9.5, \"brand\": \"other\", \"size\": 42}],"
                     " \"events\": [{\"type\": \"view\", \"ts\": 7, \"channel\": \"app\","
                     " \"color\": \"red\"}, {\"type\": \"view\", \"ts\": 8}]}");
    msgpack_sbuffer_clear(&g_sb);
    pack_json(&g_pk, j);
    json_decref(j);
    msgpack_zone zone;
    msgpack_zone_init(&zone, 1024);
    arb_context_t flat, tree;
    arb_err_t e;
    cr_assert_eq(bytes_parse(g_sb.data, g_sb.size, false, &flat, &e, &zone), 0, "%s", e.message);
    cr_assert_eq(bytes_parse(g_sb.data, g_sb.size, true, &tree, &e, &zone), 0, "%s", e.message);
    cr_assert_null(flat.raw);
    msgpack_object v;
    cr_assert(field_of(&flat, true, 0, "brand", &v));
    cr_expect(v.type == MSGPACK_OBJECT_STR && v.via.str.size == 4 &&
              memcmp(v.via.str.ptr, "acme", 4) == 0);
    cr_expect_not(field_of(&flat, true, 0, "price", &v), "price: not sent, so absent");
    cr_assert(field_of(&flat, true, 1, "price", &v));
    cr_expect(v.type == MSGPACK_OBJECT_FLOAT64 && v.via.f64 == 9.5);
    cr_assert(field_of(&flat, false, 0, "channel", &v), "an own event's channel");
    cr_expect(v.type == MSGPACK_OBJECT_STR && v.via.str.size == 3);
    cr_expect_not(field_of(&flat, false, 1, "channel", &v));
    /* every field the same both ways */
    static const char *const names[] = { "ts", "sku", "brand", "price", "size", "channel",
                                         "category", "type", "color", "none" };
    for (int purchase = 0; purchase < 2; purchase++)
        for (uint32_t i = 0; i < 2; i++)
            for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
                msgpack_object a, b;
                bool ha = field_of(&tree, purchase, i, names[k], &a);
                bool hb = field_of(&flat, purchase, i, names[k], &b);
                cr_expect_eq(ha, hb, "%s %u.%s", purchase ? "purchase" : "event", i, names[k]);
                if (ha && hb) cr_expect(ctxsame_obj(&a, &b), "%u.%s", i, names[k]);
            }
    msgpack_zone_destroy(&zone);
}

/* The condition itself: a shareable ruleset's `bought { brand = ... }`
 * and `bought { size = ... }` evaluated (decide/eval.c) on contexts parsed
 * without the tree, as with it: the own records' other fields are read
 * from their bytes. */
Test(context_bytes, a_record_field_condition_holds_without_the_tree)
{
    rf_init(&R);
    cr_assert(rf_load(&R, "rules.lua",
                      "action 'acme' { channels = { 'web' }, value = 1, when = bought { brand = 'acme' } }\n"
                      "action 'big' { channels = { 'web' }, value = 1, when = bought { size = 42 } }\n",
                      NULL),
              "%s", rf_problems(&R));
    cr_assert(arb_ruleset_shareable(R.rs), "no plain Lua: decided with whole=false");
    static const struct { const char *ctx; bool acme, big; } cases[] = {
        { "{\"purchases\": [{\"ts\": 5, \"brand\": \"acme\"}]}", true, false },
        { "{\"purchases\": [{\"ts\": 5, \"brand\": \"other\", \"size\": 42}]}", false, true },
        { "{\"purchases\": [{\"ts\": 5, \"sku\": \"a\"}, {\"size\": 42, \"ts\": 6, \"brand\": \"acme\"}]}",
          true, true },
        { "{\"purchases\": [{\"ts\": 5, \"size\": 41}]}", false, false },
    };
    msgpack_zone zone;
    msgpack_zone_init(&zone, 1024);
    arb_eval_t ev;
    arb_eval_init(&ev);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        for (int whole = 0; whole < 2; whole++) {
            json_t *j = json(cases[c].ctx);
            json_object_set_new(j, "customer_id", json_string("c"));
            json_object_set_new(j, "channel", json_string("web"));
            json_object_set_new(j, "touchpoint", json_string("web_home"));
            msgpack_sbuffer_clear(&g_sb);
            pack_json(&g_pk, j);
            json_decref(j);
            arb_context_t ctx;
            arb_err_t e;
            cr_assert_eq(bytes_parse(g_sb.data, g_sb.size, whole, &ctx, &e, &zone), 0, "%s", e.message);
            cr_assert_eq(ctx.raw == NULL, !whole);
            ev.catalog = NULL;
            cr_assert_eq(arb_eval_begin(&ev, R.rs, &ctx, &g_arena), 0);
            for (uint32_t a = 0; a < R.rs->n_actions; a++) {
                bool acme = strcmp(R.rs->actions[a].id, "acme") == 0;
                int got = arb_cond_eval(&ev, R.rs->actions[a].when);
                cr_expect_eq(got, acme ? cases[c].acme : cases[c].big, "%s whole=%d: %s",
                             cases[c].ctx, whole, R.rs->actions[a].id);
            }
            arb_eval_end(&ev);
            arb_arena_reset(&g_arena);
            msgpack_zone_clear(&zone);
        }
    arb_eval_free(&ev);
    msgpack_zone_destroy(&zone);
    rf_fini(&R);
}
