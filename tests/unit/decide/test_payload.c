/* Unit tests for personal payloads (engine/ruleset/compile_payload.c,
 * engine/decide/payload.c): every field kind filled from the context, the
 * stored customer and the chosen products, defaults, escaping, the UTF-8
 * cut, numbers, the products list, a payload without fields left byte for
 * byte, and every load error. Decisions go through the real pipeline and
 * the answer writer (rulefix); the products list through a real catalog.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/base/arena.h"
#include "engine/base/utf8.h"
#include "engine/decide/payload.h"
#include "engine/ruleset/catalog.h"
#include "engine/ruleset/payload.h"
#include "tests/support/rulefix.h"

TestSuite(payload, .init = rf_setup, .fini = rf_teardown);

/* The answer's payload of chosen action id, as compact JSON. */
static const char *payload_json(const char *id)
{
    const msgpack_object *a = rf_action(&R, id);
    cr_assert_not_null(a, "%s not chosen: %s", id, rf_dump(&R));
    return rf_json(&R, rf_get(a, "payload"));
}

/* Key `key` of that payload, as compact JSON (a Lua table's keys have no
 * order, so a map's are compared one by one). */
static const char *payload_key(const char *id, const char *key)
{
    const msgpack_object *a = rf_action(&R, id);
    cr_assert_not_null(a, "%s not chosen: %s", id, rf_dump(&R));
    return rf_json(&R, rf_get(rf_get(a, "payload"), key));
}

static void load(const char *rules)
{
    cr_assert(rf_load(&R, "a.lua", rules, NULL), "%s", rf_problems(&R));
}

/* The load of rules fails with a problem holding every needle. */
#define LOAD_FAILS(rules, ...)                                                          \
    do {                                                                                \
        cr_assert_not(rf_load(&R, "a.lua", rules, NULL), "loaded: %s", rules);          \
        cr_assert_not_null(rf_problem_with(&R, __VA_ARGS__, NULL), "%s", rf_problems(&R)); \
    } while (0)

Test(payload, context_fields_are_filled)
{
    load("action 'hi' { channels = { 'web' }, value = 1, payload = {\n"
         "  title = 'Hello {attributes.first_name}, {attributes.points} points ({attributes.ratio})',\n"
         "  who = '{customer_id}@{channel}/{touchpoint}', n = 3 } }\n");
    rf_decide(&R, "{'customer_id':'c-7','touchpoint':'home','attributes':"
                  "{'first_name':'Ana','points':1200,'ratio':0.126}}");
    cr_expect_str_eq(payload_key("hi", "title"), "\"Hello Ana, 1200 points (0.13)\"");
    cr_expect_str_eq(payload_key("hi", "who"), "\"c-7@web/home\"");
    cr_expect_str_eq(payload_key("hi", "n"), "3");
}

Test(payload, numbers_are_whole_or_two_decimals)
{
    load("action 'n' { channels = { 'web' }, value = 1, payload = '{attributes.a}|{attributes.b}|"
         "{attributes.c}|{attributes.d}|{attributes.e}' }\n");
    rf_decide(&R, "{'attributes':{'a':5.0,'b':2.5,'c':-3,'d':1e20,'e':-0.001}}");
    cr_expect_str_eq(payload_json("n"), "\"5|2.5|-3|100000000000000000000|0\"");
}

Test(payload, a_default_fills_a_missing_or_empty_value)
{
    load("action 'd' { channels = { 'web' }, value = 1, payload = {\n"
         "  a = 'Hi {attributes.first_name|there}!', b = '[{attributes.nick|}]',\n"
         "  c = '{attributes.tier|basic}', e = '{years_since.born|many}', f = '{days_since.soon|later}' } }\n");
    rf_decide(&R, "{'attributes':{'nick':'','born':'2030-01-01','soon':%lld}}", RF_NOW + 3600);
    cr_expect_str_eq(payload_key("d", "a"), "\"Hi there!\"");
    cr_expect_str_eq(payload_key("d", "b"), "\"[]\"");
    cr_expect_str_eq(payload_key("d", "c"), "\"basic\"");
    cr_expect_str_eq(payload_key("d", "e"), "\"many\"", "a date in the future: missing");
    cr_expect_str_eq(payload_key("d", "f"), "\"later\"", "an hour ahead is not day 0");
    rf_decide(&R, "{'attributes':{'first_name':'Bo','tier':'gold'}}");
    cr_expect_str_eq(payload_key("d", "a"), "\"Hi Bo!\"");
    cr_expect_str_eq(payload_key("d", "c"), "\"gold\"");
}

Test(payload, a_missing_field_without_default_is_empty)
{
    load("action 'm' { channels = { 'web' }, value = 1, payload = 'Hi {attributes.first_name}.' }\n");
    rf_decide(&R, "{'attributes':{'first_name':['a','list']}}");
    cr_expect_str_eq(payload_json("m"), "\"Hi .\"");
}

Test(payload, inserted_values_are_html_escaped)
{
    load("action 'e' { channels = { 'web' }, value = 1, payload = { t = '<b>{attributes.first_name}</b>' } }\n"
         "action 'raw' { channels = { 'web' }, value = 0.5, escape = 'none',\n"
         "  payload = { t = '<b>{attributes.first_name}</b>' } }\n");
    rf_decide(&R, "{'attributes':{'first_name':'<script>&\\u0022\\u0027'}}");
    const arb_decided_action_t *e = rf_chosen_action(&R, "e");
    cr_assert_not_null(e);
    cr_expect_str_eq(payload_key("e", "t"), "\"<b>&lt;script&gt;&amp;&quot;&#39;</b>\"",
                     "the template's own text is not escaped, the value is");
    cr_expect_str_eq(payload_key("raw", "t"), "\"<b><script>&\\\"'</b>\"");
}

Test(payload, control_characters_are_dropped)
{
    load("action 'c' { channels = { 'web' }, value = 1, payload = '[{attributes.x}]' }\n");
    rf_decide(&R, "{'attributes':{'x':'a\\u0001b\\nc\\u007fd\\u0085e'}}");
    cr_expect_str_eq(payload_json("c"), "\"[abcde]\"");
}

Test(payload, a_value_is_cut_to_256_bytes_at_a_character_boundary)
{
    char attr[700];
    /* 'a' and 300 two-byte characters: 127 of them fit in 256 bytes. */
    size_t k = 0;
    for (int i = 0; i < 300; i++) k += (size_t)snprintf(attr + k, sizeof attr - k, "\xc3\xa9");
    load("action 'u' { channels = { 'web' }, value = 1, payload = '{attributes.x}' }\n");
    rf_decide(&R, "{'attributes':{'x':'a%s'}}", attr);
    const arb_decided_action_t *a = rf_chosen_action(&R, "u");
    cr_assert_not_null(a);
    /* payload bytes: str8 header (2) + 1 + 127 * 2 = 255 bytes of text. */
    cr_expect_eq(a->payload_len, 2 + 255, "%zu", a->payload_len);
    cr_expect(arb_utf8_valid(a->payload + 2, a->payload_len - 2));
}

Test(payload, an_escaped_value_is_cut_before_an_entity_that_would_pass_the_bound)
{
    load("action 'u' { channels = { 'web' }, value = 1, payload = '{attributes.x}' }\n");
    char amps[200];
    memset(amps, '&', 100);
    amps[100] = '\0';
    rf_decide(&R, "{'attributes':{'x':'%s'}}", amps);
    const arb_decided_action_t *a = rf_chosen_action(&R, "u");
    cr_assert_not_null(a);
    cr_expect_eq(a->payload_len, 2 + 51 * 5, "51 whole '&amp;' fit in 256 bytes: %zu", a->payload_len);
    cr_expect_eq(memcmp(a->payload + a->payload_len - 5, "&amp;", 5), 0);
}

Test(payload, a_plain_ascii_value_is_cut_to_256_bytes)
{
    load("action 'u' { channels = { 'web' }, value = 1, payload = '{attributes.x}.' }\n");
    char a[400];
    memset(a, 'a', 300);
    a[300] = '\0';
    rf_decide(&R, "{'attributes':{'x':'%s'}}", a);
    const arb_decided_action_t *d = rf_chosen_action(&R, "u");
    cr_assert_not_null(d);
    cr_expect_eq(d->payload_len, 3 + 256 + 1, "str16 header, 256 bytes of the value, the '.': %zu",
                 d->payload_len);
    cr_expect_eq(d->payload[d->payload_len - 1], '.');
}

Test(payload, years_and_days_since_a_date)
{
    /* RF_NOW is 2026-01-01T00:00:00Z. */
    load("action 'y' { channels = { 'web' }, value = 1, payload = {\n"
         "  a = '{years_since.member_since} years with us', b = '{years_since.almost}',\n"
         "  c = '{days_since.joined} days', d = '{years_since.unix}', e = '{days_since.bad|?}' } }\n");
    rf_decide(&R, "{'attributes':{'member_since':'2023-01-05','almost':'2023-01-01T00:00:01Z',"
                  "'joined':'2025-12-01','unix':%lld,'bad':'someday'}}",
              (long long)(RF_NOW - 10LL * 365 * RF_DAY));
    cr_expect_str_eq(payload_key("y", "a"), "\"2 years with us\"");
    cr_expect_str_eq(payload_key("y", "b"), "\"2\"", "a day short of its third anniversary");
    cr_expect_str_eq(payload_key("y", "c"), "\"31 days\"");
    cr_expect_str_eq(payload_key("y", "d"), "\"9\"", "3650 days: 9 years and some (leap days)");
    cr_expect_str_eq(payload_key("y", "e"), "\"?\"", "not a date: missing");
    rf_decide(&R, "{'attributes':{'member_since':'2023-01-01'}}");
    cr_expect_str_eq(rf_json(&R, rf_get(rf_get(rf_action(&R, "y"), "payload"), "a")), "\"3 years with us\"");
}

static arb_customer_t C;

/* A stored customer whose attributes are the map packed from JSON text. */
static void stored_attributes(msgpack_sbuffer *sb, const char *json)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    json_error_t je;
    json_t *j = json_loads(json, 0, &je);
    cr_assert_not_null(j, "%s", je.text);
    const char *key;
    json_t *v;
    msgpack_pack_map(&pk, json_object_size(j));
    json_object_foreach(j, key, v) {
        msgpack_pack_str_with_body(&pk, key, strlen(key));
        if (json_is_string(v)) msgpack_pack_str_with_body(&pk, json_string_value(v), json_string_length(v));
        else msgpack_pack_double(&pk, json_number_value(v));
    }
    json_decref(j);
    memset(&C, 0, sizeof C);
    C.id = "cust-1";
    C.attributes = (const uint8_t *)sb->data;
    C.attributes_len = sb->size;
    R.customer = &C;
}

Test(payload, stored_attributes_fill_what_the_context_does_not_send)
{
    load("action 's' { channels = { 'web' }, value = 1, payload = {\n"
         "  a = '{attributes.first_name}', b = '{years_since.member_since}', c = '{attributes.tier}' } }\n");
    msgpack_sbuffer sb;
    stored_attributes(&sb, "{\"first_name\": \"Stored\", \"member_since\": \"2020-06-01\", \"tier\": \"gold\"}");
    rf_decide(&R, "{'attributes':{'tier':'platinum'}}");
    cr_expect_str_eq(payload_key("s", "a"), "\"Stored\"");
    cr_expect_str_eq(payload_key("s", "b"), "\"5\"");
    cr_expect_str_eq(payload_key("s", "c"), "\"platinum\"", "the context's own value wins");
    R.customer = NULL;
    msgpack_sbuffer_destroy(&sb);
}

Test(payload, invalid_utf8_becomes_the_replacement_character)
{
    load("action 'v' { channels = { 'web' }, value = 1, payload = '<{attributes.first_name}>' }\n");
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "first_name", 10);
    msgpack_pack_str_with_body(&pk, "A\xff" "B\xc3", 4);   /* stored before validation existed */
    memset(&C, 0, sizeof C);
    C.id = "cust-1";
    C.attributes = (const uint8_t *)sb.data;
    C.attributes_len = sb.size;
    R.customer = &C;
    rf_decide(&R, "{}");
    cr_expect_str_eq(payload_json("v"), "\"<A\xef\xbf\xbd" "B\xef\xbf\xbd>\"");
    R.customer = NULL;
    msgpack_sbuffer_destroy(&sb);
}

Test(payload, braces_are_doubled_to_be_literal)
{
    load("action 'b' { channels = { 'web' }, value = 1, payload = { css = '{{ color: red }} {channel}' } }\n");
    rf_decide(&R, "{}");
    cr_expect_str_eq(payload_json("b"), "{\"css\":\"{ color: red } web\"}");
}

Test(payload, a_payload_without_fields_is_unchanged_byte_for_byte)
{
    load("action 'plain' { channels = { 'web' }, value = 2, payload = { template = 'grid', n = 3, "
         "keys = { ['{not}'] = 'a key is never a template' } } }\n"
         "action 'tpl' { channels = { 'web' }, value = 1, payload = { t = '{channel}' } }\n");
    rf_decide(&R, "{}");
    const arb_decided_action_t *a = rf_chosen_action(&R, "plain");
    cr_assert_not_null(a);
    cr_expect_not(a->payload_rendered, "no field: the constant payload");
    const arb_action_t *act = NULL;
    for (uint32_t i = 0; i < R.rs->n_actions; i++)
        if (strcmp(R.rs->actions[i].id, "plain") == 0) act = &R.rs->actions[i];
    cr_assert_not_null(act);
    cr_expect_eq(a->payload, act->answer_tail + act->payload_at, "the very bytes packed at load");
    cr_expect_eq(a->tail_len, act->answer_tail_len);
    cr_expect(rf_chosen_action(&R, "tpl")->payload_rendered);
    cr_expect_str_eq(payload_key("plain", "keys"), "{\"{not}\":\"a key is never a template\"}");
}

Test(payload, a_ruleset_without_templates_has_none)
{
    load("action 'plain' { channels = { 'web' }, value = 2, payload = { a = 'x' } }\n");
    cr_expect_null(R.rs->action_template);
    cr_expect_eq(R.rs->n_templates, 0);
}

/* ---- load errors */

Test(payload, an_unknown_field_is_a_load_error_listing_the_known_ones)
{
    LOAD_FAILS("action 'x' { channels = { 'web' }, value = 1, payload = { t = 'Hi {first_name}' } }\n",
               "a.lua:1: action 'x': payload \"Hi {first_name}\": unknown field {first_name}",
               "{attributes.KEY}", "{years_since.KEY}", "{days_since.KEY}", "{customer_id}",
               "{channel}", "{touchpoint}", "{product.FIELD}");
}

Test(payload, an_empty_key_is_an_unknown_field)
{
    LOAD_FAILS("action 'x' { channels = { 'web' }, value = 1, payload = '{attributes.}' }\n",
               "a.lua:1: action 'x'", "unknown field {attributes.}");
    LOAD_FAILS("action 'x' { channels = { 'web' }, value = 1, payload = '{}' }\n", "unknown field {}");
}

Test(payload, an_unclosed_brace_is_a_load_error)
{
    LOAD_FAILS("action 'x' { channels = { 'web' }, value = 1, payload = { a = { 'Hi {attributes.x' } } }\n",
               "a.lua:1: action 'x': payload \"Hi {attributes.x\": an unclosed brace");
    LOAD_FAILS("action 'x' { channels = { 'web' }, value = 1, payload = 'Hi {a{channel}' }\n",
               "an unclosed brace");
}

Test(payload, a_lone_closing_brace_in_a_template_is_a_load_error)
{
    LOAD_FAILS("action 'x' { channels = { 'web' }, value = 1, payload = '{channel} }' }\n",
               "a.lua:1: action 'x'", "a '}' closes no field");
}

Test(payload, a_product_field_outside_a_recommending_action_is_a_load_error)
{
    LOAD_FAILS("\n\naction 'x' { channels = { 'web' }, value = 1, payload = 'New from {product.brand}' }\n",
               "a.lua:3: action 'x'", "{product.brand} reads the chosen products",
               "recommending action");
}

Test(payload, escape_must_be_html_or_none)
{
    LOAD_FAILS("action 'x' { channels = { 'web' }, value = 1, escape = 'js', payload = '{channel}' }\n",
               "a.lua:1: action 'x': 'escape': expected \"html\" (the default) or \"none\"");
}

Test(payload, every_mistake_of_a_load_is_reported)
{
    cr_assert_not(rf_load(&R, "a.lua",
                          "action 'x' { channels = { 'web' }, value = 1, payload = { a = '{nope}', b = '{x' } }\n"
                          "fallback 'f' { channels = { 'web' }, value = 1, payload = '{what}' }\n", NULL));
    cr_expect_not_null(rf_problem_with(&R, "action 'x'", "{nope}", NULL), "%s", rf_problems(&R));
    cr_expect_not_null(rf_problem_with(&R, "action 'x'", "unclosed", NULL), "%s", rf_problems(&R));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:2: fallback 'f'", "{what}", NULL), "%s", rf_problems(&R));
}

/* ---- recommending actions: the products list and product fields, with a
 * real catalog. Until recommending actions are merged (`recommend` is then
 * a key of the action), the template is built from packed bytes directly
 * and rendered for a one-action ruleset. */

static const char PRODUCTS[] =
    "{\"sku\": \"LT-100\", \"name\": \"Ultrabook <14>\", \"brand\": \"Acme & Co\", \"category\": \"laptop\","
    " \"color\": \"silver\", \"price\": 999.5, \"material\": \"aluminium\", \"tags\": [\"premium\"]}\n"
    "{\"sku\": \"MS-100\", \"name\": \"Mouse\", \"price\": 25}\n"
    "{\"sku\": \"BG-1\"}\n";

static arb_catalog_t *catalog(void)
{
    arb_problems_t p = { 0 };
    arb_catalog_t *c = arb_catalog_parse(PRODUCTS, strlen(PRODUCTS), "products.jsonl", &p);
    cr_assert_not_null(c, "%s", p.n ? p.items[0] : "?");
    arb_problems_free(&p);
    return c;
}

/* The payload packed from JSON text, as compile_decl.c packs a rule's table. */
static void pack_json(msgpack_sbuffer *sb, const char *json)
{
    msgpack_sbuffer_init(sb);
    if (!json) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
        msgpack_pack_nil(&pk);
        return;
    }
    char err[200];
    cr_assert_eq(arb_json_to_msgpack(json, sb, err, sizeof err), 0, "%s", err);
}

typedef struct one {
    arb_ruleset_t rs;
    arb_action_t action;
    arb_payload_tpl_t tpl;
    int32_t action_template[1];
    msgpack_sbuffer sb;
    arb_problems_t problems;
} one_t;

/* A one-action ruleset whose payload is json (NULL: nil), recommending. */
static int one_build(one_t *o, const char *json, bool html)
{
    memset(o, 0, sizeof *o);
    pack_json(&o->sb, json);
    int rc = arb_payload_tpl_build(o->sb.data, o->sb.size, html, true, "a.lua:1: action 'rec'",
                                   &o->problems, &o->tpl);
    o->action.id = "rec";
    o->action.file = "a.lua";
    o->action.line = 1;
    o->tpl.action = "rec";
    o->tpl.file = "a.lua";
    o->tpl.line = 1;
    o->rs.actions = &o->action;
    o->rs.n_actions = 1;
    o->rs.templates = &o->tpl;
    o->rs.n_templates = rc == 1;
    o->rs.action_template = o->action_template;
    return rc;
}

static void one_free(one_t *o)
{
    arb_payload_tpl_free(&o->tpl);
    msgpack_sbuffer_destroy(&o->sb);
    arb_problems_free(&o->problems);
}

/* Render o for products (catalog indices) and return the payload as JSON. */
static const char *one_render(one_t *o, const arb_catalog_t *cat, const uint32_t *products, uint32_t n,
                              arb_arena_t *arena)
{
    arb_context_t ctx = { .now = RF_NOW, .customer_id = { "c-1", 3 }, .channel = { "web", 3 } };
    arb_decided_action_t out = { .products = products, .n_products = n };
    cr_assert_eq(arb_payload_render(&out, &o->rs, 0, &ctx, NULL, cat, arena), 0);
    cr_assert(out.payload_rendered);
    cr_expect_eq(out.tail_len, o->action.payload_at);
    msgpack_zone z;
    msgpack_zone_init(&z, 1024);
    msgpack_object obj;
    size_t off = 0;
    cr_assert_eq(msgpack_unpack(out.payload, out.payload_len, &off, &z, &obj), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, out.payload_len, "every byte read");
    const char *j = rf_json(&R, &obj);
    msgpack_zone_destroy(&z);
    return j;
}

Test(payload, a_recommending_action_lists_its_products_best_first)
{
    arb_catalog_t *cat = catalog();
    one_t o;
    cr_assert_eq(one_build(&o, "{\"headline\": \"New from {product.brand}: {product.name}\"}", true), 1);
    arb_arena_t arena;
    arb_arena_init(&arena);
    uint32_t picks[] = { 1, 0, 2 };
    cr_expect_str_eq(one_render(&o, cat, picks, 3, &arena),
                     "{\"headline\":\"New from : Mouse\",\"products\":["
                     "{\"sku\":\"MS-100\",\"name\":\"Mouse\",\"price\":25.0},"
                     "{\"sku\":\"LT-100\",\"name\":\"Ultrabook <14>\",\"brand\":\"Acme & Co\","
                     "\"category\":\"laptop\",\"color\":\"silver\",\"price\":999.5},"
                     "{\"sku\":\"BG-1\"}]}");
    uint32_t first[] = { 0 };
    cr_expect_str_eq(one_render(&o, cat, first, 1, &arena),
                     "{\"headline\":\"New from Acme &amp; Co: Ultrabook &lt;14&gt;\",\"products\":["
                     "{\"sku\":\"LT-100\",\"name\":\"Ultrabook <14>\",\"brand\":\"Acme & Co\","
                     "\"category\":\"laptop\",\"color\":\"silver\",\"price\":999.5}]}",
                     "fields escaped; the list holds the catalog's values as data");
    arb_arena_free(&arena);
    one_free(&o);
    arb_catalog_release(cat);
}

Test(payload, product_fields_read_numbers_and_extra_fields)
{
    arb_catalog_t *cat = catalog();
    one_t o;
    cr_assert_eq(one_build(&o, "{\"t\": \"{product.price} {product.material} {product.sku} {product.color|none}\"}",
                           false), 1);
    arb_arena_t arena;
    arb_arena_init(&arena);
    uint32_t a[] = { 0 }, b[] = { 1 };
    cr_expect(strstr(one_render(&o, cat, a, 1, &arena), "\"t\":\"999.5 aluminium LT-100 silver\""), "%s",
              R.jtext);
    cr_expect(strstr(one_render(&o, cat, b, 1, &arena), "\"t\":\"25  MS-100 none\""), "%s", R.jtext);
    cr_expect(strstr(one_render(&o, cat, NULL, 0, &arena), "\"t\":\"   none\",\"products\":[]"), "%s",
              R.jtext);
    arb_arena_free(&arena);
    one_free(&o);
    arb_catalog_release(cat);
}

Test(payload, a_nil_payload_of_a_recommending_action_becomes_its_products)
{
    arb_catalog_t *cat = catalog();
    one_t o;
    cr_assert_eq(one_build(&o, NULL, true), 1, "products alone need rendering");
    arb_arena_t arena;
    arb_arena_init(&arena);
    uint32_t picks[] = { 2 };
    cr_expect_str_eq(one_render(&o, cat, picks, 1, &arena), "{\"products\":[{\"sku\":\"BG-1\"}]}");
    arb_arena_free(&arena);
    one_free(&o);
    arb_catalog_release(cat);
}

Test(payload, a_map_of_many_keys_gains_products_as_one_more)
{
    arb_catalog_t *cat = catalog();
    char json[2000];
    size_t k = (size_t)snprintf(json, sizeof json, "{");
    for (int i = 0; i < 20; i++) k += (size_t)snprintf(json + k, sizeof json - k, "\"k%02d\": %d, ", i, i);
    snprintf(json + k, sizeof json - k, "\"last\": \"x\"}");
    one_t o;
    cr_assert_eq(one_build(&o, json, true), 1);
    cr_expect_eq(o.tpl.map_n, 21);
    cr_expect_eq(o.tpl.map_hdr, 3, "map16");
    arb_arena_t arena;
    arb_arena_init(&arena);
    uint32_t picks[] = { 2 };
    const char *j = one_render(&o, cat, picks, 1, &arena);
    cr_expect(strstr(j, "\"k19\":19,\"last\":\"x\",\"products\":[{\"sku\":\"BG-1\"}]}"), "%s", j);
    arb_arena_free(&arena);
    one_free(&o);
    arb_catalog_release(cat);
}

Test(payload, a_recommending_action_needs_a_table_payload_without_products)
{
    one_t o;
    cr_expect_eq(one_build(&o, "\"just text\"", true), -1);
    cr_expect(o.problems.n && strstr(o.problems.items[0], "a.lua:1: action 'rec': payload: a recommending "
                                     "action's payload must be a table"), "%s", o.problems.n ? o.problems.items[0] : "");
    one_free(&o);
    cr_expect_eq(one_build(&o, "3", true), -1);
    one_free(&o);
    cr_expect_eq(one_build(&o, "{\"products\": [1]}", true), -1);
    cr_expect(o.problems.n && strstr(o.problems.items[0], "the key 'products' is the chosen products'"), "%s",
              o.problems.n ? o.problems.items[0] : "");
    one_free(&o);
}

Test(payload, product_fields_are_checked_against_the_catalog)
{
    arb_catalog_t *cat = catalog();
    one_t o;
    cr_assert_eq(one_build(&o, "{\"a\": \"{product.brand} {product.material}\"}", true), 1);
    arb_problems_t p = { 0 };
    cr_expect_eq(arb_payload_check(&o.rs, cat, &p), 0, "%s", p.n ? p.items[0] : "");
    one_free(&o);
    cr_assert_eq(one_build(&o, "{\"a\": \"{product.weight}\", \"b\": \"{product.tags}\"}", true), 1);
    cr_expect_eq(arb_payload_check(&o.rs, cat, &p), 2);
    cr_assert_eq(p.n, 2);
    cr_expect(strstr(p.items[0], "a.lua:1: action 'rec': payload: {product.weight}: no product of the catalog "
                     "has that field (fields: sku, name, brand, category, color, price, popularity, in_stock, "
                     "material)"), "%s", p.items[0]);
    cr_expect(strstr(p.items[1], "{product.tags} is a list"), "%s", p.items[1]);
    cr_expect_eq(arb_payload_check(&o.rs, NULL, &p), 0, "no catalog: nothing to check against");
    arb_problems_free(&p);
    one_free(&o);
    arb_catalog_release(cat);
}
