/* Unit tests for the words on purchases and events by any field (bought
 * { channel = "store", brand = "acme" }), on their order in time (before,
 * since_last_purchase, first_purchase, last_purchase) and on the
 * single-category shopper (only_bought, one_category): compiled by
 * engine/ruleset/compile_hist.c, answered by engine/decide/eval_hist.c.
 *
 * Every word is checked twice on each context: action 'a' holds the word,
 * action 'b' a plain Lua rule written against c.purchases / c.events that
 * says the same; both must agree with what the test expects.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/ruleset/compiled.h"
#include "tests/support/dslfix.h"

TestSuite(dsl_words, .init = rf_setup, .fini = rf_teardown);

/* Helpers for the plain Lua twins. */
static const char LUA_HELPERS[] =
    "local function some(list, f) for _, x in ipairs(list) do if f(x) then return true end end return false end\n"
    "local function recent(c, x, d) return c.now - x.ts <= d * 86400 end\n";

/* Load action 'a' (when = word) and action 'b' (when = the plain Lua
 * function whose body is lua, with c the context). */
static void load_pair(const char *word, const char *lua)
{
    char text[8192];
    snprintf(text, sizeof text,
             "%s"
             "settings { default_limit = 5 }\n"
             "action 'a' { channels = { 'web' }, value = 10, when = %s }\n"
             "action 'b' { channels = { 'web' }, value = 10, when = function(c) %s end }\n",
             LUA_HELPERS, word, lua);
    cr_assert(rf_load(&R, "rules.lua", text, NULL), "did not load:\n%s\n%s", rf_problems(&R), text);
}

/* Decide the context; the word ('a') and its plain Lua twin ('b') must both
 * give `want`. */
__attribute__((format(printf, 3, 4)))
static void agree(int line, bool want, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = rf_vdecide(&R, fmt, ap);
    va_end(ap);
    cr_assert_eq(rc, 0, "line %d: context refused: %s", line, R.err.message);
    bool a = rf_chosen(&R, "a"), b = rf_chosen(&R, "b");
    cr_expect_eq(a, want, "line %d: the word says %d, expected %d (%s)", line, a, want, rf_dump(&R));
    cr_expect_eq(b, want, "line %d: plain Lua says %d, expected %d (%s)", line, b, want, rf_dump(&R));
}
#define AGREE(want, ...) agree(__LINE__, want, __VA_ARGS__)

/* A load that must fail with a problem containing `needle` at rules.lua. */
static void refused(const char *when, const char *needle)
{
    char text[2048];
    snprintf(text, sizeof text, "action 'a' { channels = { 'web' }, value = 1,\n  when = %s }\n", when);
    cr_assert_not(rf_load(&R, "rules.lua", text, NULL), "loaded: %s", when);
    cr_expect(rf_problem_with(&R, "rules.lua:2:", needle, NULL) != NULL, "%s: want '%s', got:\n%s",
              when, needle, rf_problems(&R));
}

/* ---- any field of a purchase or an event --------------------------------- */

Test(dsl_words, bought_on_a_channel)
{
    load_pair("bought { category = 'laptop', channel = 'store' }",
              "return some(c.purchases, function(p) return p.category == 'laptop' and p.channel == 'store' end)");
    AGREE(true, "{'purchases':[{'category':'laptop','channel':'store','ts':%lld}]}", AGO_DAYS(3));
    AGREE(false, "{'purchases':[{'category':'laptop','channel':'web','ts':%lld}]}", AGO_DAYS(3));
    AGREE(false, "{'purchases':[{'category':'phone','channel':'store','ts':%lld}]}", AGO_DAYS(3));
    AGREE(false, "{'purchases':[{'category':'laptop','ts':%lld}]}", AGO_DAYS(3));
    AGREE(true, "{'purchases':[{'category':'laptop','channel':'web','ts':%lld},"
                "{'category':'laptop','channel':'store','ts':%lld}]}", AGO_DAYS(3), AGO_DAYS(300));
    AGREE(false, "{}");
}

Test(dsl_words, bought_by_any_field_within_a_window)
{
    load_pair("bought { brand = 'acme', within = days(30) }",
              "return some(c.purchases, function(p) return p.brand == 'acme' and recent(c, p, 30) end)");
    AGREE(true, "{'purchases':[{'sku':'x','brand':'acme','ts':%lld}]}", AGO_DAYS(10));
    AGREE(false, "{'purchases':[{'sku':'x','brand':'acme','ts':%lld}]}", AGO_DAYS(40));
    AGREE(false, "{'purchases':[{'sku':'x','brand':'zeta','ts':%lld}]}", AGO_DAYS(10));
    AGREE(false, "{'purchases':[{'sku':'x','ts':%lld}]}", AGO_DAYS(10));
    /* The same window given as an argument. */
    load_pair("bought({ brand = 'acme' }, within(days(30)))",
              "return some(c.purchases, function(p) return p.brand == 'acme' and recent(c, p, 30) end)");
    AGREE(true, "{'purchases':[{'brand':'acme','ts':%lld}]}", AGO_DAYS(29));
    AGREE(false, "{'purchases':[{'brand':'acme','ts':%lld}]}", AGO_DAYS(31));
}

Test(dsl_words, field_values_one_of_numbers_and_booleans)
{
    load_pair("bought { color = one_of { 'red', 'blue' }, size = 42, gift = true }",
              "return some(c.purchases, function(p) return (p.color == 'red' or p.color == 'blue') and "
              "p.size == 42 and p.gift == true end)");
    AGREE(true, "{'purchases':[{'color':'blue','size':42,'gift':true,'ts':%lld}]}", AGO_DAYS(1));
    AGREE(true, "{'purchases':[{'color':'red','size':42.0,'gift':true,'ts':%lld}]}", AGO_DAYS(1));
    AGREE(false, "{'purchases':[{'color':'green','size':42,'gift':true,'ts':%lld}]}", AGO_DAYS(1));
    AGREE(false, "{'purchases':[{'color':'red','size':41,'gift':true,'ts':%lld}]}", AGO_DAYS(1));
    AGREE(false, "{'purchases':[{'color':'red','size':42,'gift':false,'ts':%lld}]}", AGO_DAYS(1));
    AGREE(false, "{'purchases':[{'color':'red','size':'42','gift':true,'ts':%lld}]}", AGO_DAYS(1));
    /* Every field on the same purchase, not spread over several. */
    AGREE(false, "{'purchases':[{'color':'red','ts':%lld},{'size':42,'gift':true,'ts':%lld}]}",
          AGO_DAYS(1), AGO_DAYS(1));
}

Test(dsl_words, viewed_on_a_channel)
{
    load_pair("viewed { category = 'laptop', channel = 'web', within = days(14) }",
              "return some(c.events, function(e) return e.type == 'view' and e.category == 'laptop' and "
              "e.channel == 'web' and recent(c, e, 14) end)");
    AGREE(true, "{'events':[{'type':'view','category':'laptop','channel':'web','ts':%lld}]}", AGO_DAYS(2));
    AGREE(false, "{'events':[{'type':'view','category':'laptop','channel':'app','ts':%lld}]}", AGO_DAYS(2));
    AGREE(false, "{'events':[{'type':'view','category':'laptop','channel':'web','ts':%lld}]}", AGO_DAYS(20));
    AGREE(false, "{'events':[{'type':'search','category':'laptop','channel':'web','ts':%lld}]}", AGO_DAYS(2));
    load_pair("did('wishlist_add', { designer = 'ito' })",
              "return some(c.events, function(e) return e.type == 'wishlist_add' and e.designer == 'ito' end)");
    AGREE(true, "{'events':[{'type':'wishlist_add','designer':'ito','ts':%lld}]}", AGO_DAYS(2));
    AGREE(false, "{'events':[{'type':'view','designer':'ito','ts':%lld}]}", AGO_DAYS(2));
}

Test(dsl_words, purchases_and_spent_with_a_filter)
{
    load_pair("purchases(at_least(2), { brand = 'acme' })",
              "local n = 0 for _, p in ipairs(c.purchases) do if p.brand == 'acme' then n = n + 1 end end return n >= 2");
    AGREE(true, "{'purchases':[{'brand':'acme','ts':%lld},{'brand':'acme','ts':%lld}]}", AGO_DAYS(1), AGO_DAYS(500));
    AGREE(false, "{'purchases':[{'brand':'acme','ts':%lld},{'brand':'zeta','ts':%lld}]}", AGO_DAYS(1), AGO_DAYS(5));
    load_pair("spent(at_least(100), within(days(90)), { brand = 'acme' })",
              "local t = 0 for _, p in ipairs(c.purchases) do if p.brand == 'acme' and recent(c, p, 90) then "
              "t = t + (p.price or 0) end end return t >= 100");
    AGREE(true, "{'purchases':[{'brand':'acme','price':60,'ts':%lld},{'brand':'acme','price':40,'ts':%lld}]}",
          AGO_DAYS(1), AGO_DAYS(80));
    AGREE(false, "{'purchases':[{'brand':'acme','price':60,'ts':%lld},{'brand':'acme','price':40,'ts':%lld}]}",
          AGO_DAYS(1), AGO_DAYS(100));
    AGREE(false, "{'purchases':[{'brand':'acme','price':60,'ts':%lld},{'brand':'zeta','price':90,'ts':%lld}]}",
          AGO_DAYS(1), AGO_DAYS(2));
}

Test(dsl_words, a_list_of_items_stays_any_of)
{
    load_pair("bought { 'mouse', 'trackpad' }",
              "return some(c.purchases, function(p) return p.category == 'mouse' or p.category == 'trackpad' end)");
    AGREE(true, "{'purchases':[{'category':'trackpad','ts':%lld}]}", AGO_DAYS(1));
    AGREE(false, "{'purchases':[{'category':'keyboard','ts':%lld}]}", AGO_DAYS(1));
}

Test(dsl_words, filter_mistakes_are_load_errors)
{
    refused("bought { 'mouse', channel = 'store' }", "mixes a list of items with named fields");
    refused("bought { [''] = 'x' }", "a field name must not be empty");
    refused("bought { brand = {} }", "field 'brand' must be a string, a number, a boolean or one_of");
    refused("bought({ brand = 'a', within = days(3) }, within(days(3)))", "give the window once");
    refused("viewed { brand = 'a', within = 'soon' }", "within as a duration");
    refused("only_bought('shoes')", "only_bought: expected named fields");
    refused("before(raining(), bought('tv'))", "before: expected its first argument as a purchase or an event");
    refused("before(bought('tv'))", "before: expected its second argument");
    refused("since_last_purchase(bought, 1)", "since_last_purchase: takes one argument");
    refused("since_last_purchase(hot())", "since_last_purchase: expected its argument as a purchase");
    /* an any of anys, shared with itself, would cost 2^depth at decide */
    refused("before(any { any { viewed('x'), viewed('y') }, viewed('z') }, bought('z'))",
            "not an any of anys");
    refused("first_purchase(365)", "first_purchase: expected a comparison of its age");
    refused("last_purchase(one_of { 'x' })", "last_purchase: expected a comparison of its age");
}

/* ---- order in time ---------------------------------------------------------- */

Test(dsl_words, before_viewed_online_then_bought_in_store)
{
    load_pair("before(viewed { category = 'laptop', channel = 'web' }, bought { category = 'laptop', channel = 'store' })",
              "local first for _, e in ipairs(c.events) do if e.type == 'view' and e.category == 'laptop' and "
              "e.channel == 'web' and (not first or e.ts < first) then first = e.ts end end\n"
              "return first ~= nil and some(c.purchases, function(p) return p.category == 'laptop' and "
              "p.channel == 'store' and p.ts > first end)");
    const char *ctx = "{'events':[{'type':'view','category':'laptop','channel':'%s','ts':%lld}],"
                      "'purchases':[{'category':'laptop','channel':'%s','ts':%lld}]}";
    AGREE(true, ctx, "web", AGO_DAYS(5), "store", AGO_DAYS(2));
    AGREE(false, ctx, "web", AGO_DAYS(1), "store", AGO_DAYS(2));     /* viewed after buying */
    AGREE(false, ctx, "app", AGO_DAYS(5), "store", AGO_DAYS(2));     /* viewed in the app */
    AGREE(false, ctx, "web", AGO_DAYS(5), "web", AGO_DAYS(2));       /* bought online */
    AGREE(false, ctx, "web", AGO_DAYS(2), "store", AGO_DAYS(2));     /* at the same second */
    AGREE(false, "{'events':[{'type':'view','category':'laptop','channel':'web','ts':%lld}]}", AGO_DAYS(5));
}

Test(dsl_words, before_with_lists_and_plain_words)
{
    load_pair("before(viewed { 'mouse', 'trackpad' }, bought('laptop'))",
              "local first for _, e in ipairs(c.events) do if e.type == 'view' and (e.category == 'mouse' or "
              "e.category == 'trackpad') and (not first or e.ts < first) then first = e.ts end end\n"
              "return first ~= nil and some(c.purchases, function(p) return p.category == 'laptop' and p.ts > first end)");
    const char *ctx = "{'events':[{'type':'view','category':'%s','ts':%lld}],"
                      "'purchases':[{'category':'laptop','ts':%lld},{'category':'laptop','ts':%lld}]}";
    AGREE(true, ctx, "trackpad", AGO_DAYS(5), AGO_DAYS(9), AGO_DAYS(1));   /* some pair in order */
    AGREE(false, ctx, "trackpad", AGO_DAYS(5), AGO_DAYS(9), AGO_DAYS(8));
    AGREE(false, ctx, "monitor", AGO_DAYS(5), AGO_DAYS(9), AGO_DAYS(1));
}

Test(dsl_words, since_last_purchase)
{
    load_pair("since_last_purchase(abandoned_cart())",
              "local last for _, p in ipairs(c.purchases) do if not last or p.ts > last then last = p.ts end end\n"
              "return some(c.events, function(e) return e.type == 'cart_abandon' and (not last or e.ts > last) end)");
    const char *ctx = "{'events':[{'type':'cart_abandon','ts':%lld}],'purchases':[{'sku':'x','ts':%lld}]}";
    AGREE(true, ctx, AGO_DAYS(1), AGO_DAYS(3));
    AGREE(false, ctx, AGO_DAYS(4), AGO_DAYS(3));
    AGREE(false, ctx, AGO_DAYS(3), AGO_DAYS(3));   /* at the second of the purchase: not after it */
    AGREE(true, "{'events':[{'type':'cart_abandon','ts':%lld}]}", AGO_DAYS(40));   /* never bought */
    AGREE(false, "{'purchases':[{'sku':'x','ts':%lld}]}", AGO_DAYS(3));
    load_pair("since_last_purchase(viewed { channel = 'app' })",
              "local last for _, p in ipairs(c.purchases) do if not last or p.ts > last then last = p.ts end end\n"
              "return some(c.events, function(e) return e.type == 'view' and e.channel == 'app' and (not last or e.ts > last) end)");
    AGREE(true, "{'events':[{'type':'view','channel':'app','ts':%lld}],'purchases':[{'sku':'x','ts':%lld}]}",
          AGO_DAYS(1), AGO_DAYS(3));
    AGREE(false, "{'events':[{'type':'view','channel':'web','ts':%lld}],'purchases':[{'sku':'x','ts':%lld}]}",
          AGO_DAYS(1), AGO_DAYS(3));
}

Test(dsl_words, first_and_last_purchase)
{
    load_pair("first_purchase(at_least(days(365)))",
              "local first for _, p in ipairs(c.purchases) do if not first or p.ts < first then first = p.ts end end\n"
              "return first ~= nil and c.now - first >= 365 * 86400");
    const char *two = "{'purchases':[{'sku':'x','ts':%lld},{'sku':'y','ts':%lld}]}";
    AGREE(true, two, AGO_DAYS(2), AGO_DAYS(400));
    AGREE(false, two, AGO_DAYS(2), AGO_DAYS(300));
    AGREE(false, "{}");
    load_pair("last_purchase(at_most(days(30)))",
              "local last for _, p in ipairs(c.purchases) do if not last or p.ts > last then last = p.ts end end\n"
              "return last ~= nil and c.now - last <= 30 * 86400");
    AGREE(true, two, AGO_DAYS(400), AGO_DAYS(20));
    AGREE(false, two, AGO_DAYS(400), AGO_DAYS(31));
    AGREE(false, "{}");
}

/* ---- the single-category shopper -------------------------------------------- */

Test(dsl_words, only_bought)
{
    load_pair("only_bought { category = 'shoes' }",
              "if #c.purchases == 0 then return false end\n"
              "for _, p in ipairs(c.purchases) do if p.category ~= 'shoes' then return false end end return true");
    AGREE(true, "{'purchases':[{'category':'shoes','ts':%lld},{'category':'shoes','ts':%lld}]}", AGO_DAYS(1), AGO_DAYS(90));
    AGREE(false, "{'purchases':[{'category':'shoes','ts':%lld},{'category':'bags','ts':%lld}]}", AGO_DAYS(1), AGO_DAYS(90));
    AGREE(false, "{'purchases':[{'sku':'s-1','ts':%lld}]}", AGO_DAYS(1));
    AGREE(false, "{}");
    load_pair("only_bought { brand = 'acme', within = days(30) }",
              "local n = 0 for _, p in ipairs(c.purchases) do if recent(c, p, 30) then n = n + 1 "
              "if p.brand ~= 'acme' then return false end end end return n > 0");
    AGREE(true, "{'purchases':[{'brand':'acme','ts':%lld},{'brand':'zeta','ts':%lld}]}", AGO_DAYS(1), AGO_DAYS(90));
    AGREE(false, "{'purchases':[{'brand':'acme','ts':%lld},{'brand':'zeta','ts':%lld}]}", AGO_DAYS(1), AGO_DAYS(9));
}

Test(dsl_words, one_category)
{
    load_pair("one_category()",
              "local cat for _, p in ipairs(c.purchases) do if not p.category then return false end "
              "cat = cat or p.category if p.category ~= cat then return false end end return cat ~= nil");
    const char *two = "{'purchases':[{'category':'%s','ts':%lld},{'category':'%s','ts':%lld}]}";
    AGREE(true, two, "shoes", AGO_DAYS(1), "shoes", AGO_DAYS(200));
    AGREE(false, two, "shoes", AGO_DAYS(1), "bags", AGO_DAYS(200));
    AGREE(true, "{'purchases':[{'category':'bags','ts':%lld}]}", AGO_DAYS(1));
    AGREE(false, "{'purchases':[{'category':'bags','ts':%lld},{'sku':'x','ts':%lld}]}", AGO_DAYS(1), AGO_DAYS(2));
    AGREE(false, "{'purchases':[{'sku':'x','ts':%lld}]}", AGO_DAYS(1));   /* no category at all */
    AGREE(false, "{}");
}

/* ---- in weights ----------------------------------------------------------------- */

Test(dsl_words, recency_and_boost_of_a_filter)
{
    load_weight(NULL, "recency(bought { category = 'laptop', channel = 'store' }, days(14))");
    double p = prio("{'purchases':[{'category':'laptop','channel':'store','ts':%lld},"
                    "{'category':'laptop','channel':'web','ts':%lld}]}", AGO_DAYS(14), AGO_DAYS(1));
    cr_expect(NEAR(p, 5.0), "the newest store purchase, one half-life ago: 5, got %.17g", p);
    p = prio("{'purchases':[{'category':'laptop','channel':'web','ts':%lld}]}", AGO_DAYS(1));
    cr_expect(NEAR(p, 0.0), "no store purchase: 0, got %.17g", p);
    load_weight(NULL, "recency(viewed { channel = 'web' }, days(7))");
    p = prio("{'events':[{'type':'view','channel':'web','ts':%lld}]}", AGO_DAYS(7));
    cr_expect(NEAR(p, 5.0), "got %.17g", p);
    load_weight(NULL, "boost(before(viewed('tv'), bought('tv')), 2) * boost(one_category(), 3)");
    p = prio("{'events':[{'type':'view','category':'tv','ts':%lld}],'purchases':[{'category':'tv','ts':%lld}]}",
             AGO_DAYS(3), AGO_DAYS(1));
    cr_expect(NEAR(p, 60.0), "10 x 2 x 3, got %.17g", p);
    p = prio("{'purchases':[{'category':'tv','ts':%lld},{'category':'radio','ts':%lld}]}", AGO_DAYS(3), AGO_DAYS(1));
    cr_expect(NEAR(p, 10.0), "neither: 10, got %.17g", p);
}

Test(dsl_words, identical_filters_compile_once)
{
    char text[1024];
    snprintf(text, sizeof text,
             "action 'a' { channels = { 'web' }, value = 1, when = bought { channel = 'store', brand = 'acme' } }\n"
             "action 'b' { channels = { 'web' }, value = 1, when = bought { brand = 'acme', channel = 'store' } }\n");
    cr_assert(rf_load(&R, "rules.lua", text, NULL), "%s", rf_problems(&R));
    const arb_ruleset_t *rs = R.rs;
    uint32_t a = 0, b = 1;
    cr_expect_eq(rs->actions[a].when, rs->actions[b].when, "the field order does not matter");
    cr_expect_eq(rs->nodes[rs->actions[a].when].op, ARB_OP_BOUGHT_WHERE);
}

/* ---- the merged history ------------------------------------------------------- */

static arb_customer_t C;
static arb_event_t P[1], E[1];

Test(dsl_words, stored_records_keep_their_fields)
{
    /* {"brand":"acme"} and {"designer":"ito"}, as track stores a record's extra fields. */
    static const uint8_t brand[] = { 0x81, 0xa5, 'b', 'r', 'a', 'n', 'd', 0xa4, 'a', 'c', 'm', 'e' };
    static const uint8_t designer[] = { 0x81, 0xa8, 'd', 'e', 's', 'i', 'g', 'n', 'e', 'r',
                                        0xa3, 'i', 't', 'o' };
    P[0] = (arb_event_t){ AGO_DAYS(3), NULL, "store", NULL, "laptop", 900, brand, sizeof brand };
    E[0] = (arb_event_t){ AGO_DAYS(9), "view", "web", NULL, "laptop", NAN, designer, sizeof designer };
    memset(&C, 0, sizeof C);
    C.id = "cust-1";
    C.purchases = P;
    C.n_purchases = 1;
    C.events = E;
    C.n_events = 1;

    load_pair("bought { brand = 'acme', channel = 'store' }",
              "return some(c.purchases, function(p) return p.brand == 'acme' and p.channel == 'store' end)");
    AGREE(false, "{}");
    R.customer = &C;
    AGREE(true, "{}");
    AGREE(true, "{'purchases':[{'brand':'zeta','ts':%lld}]}", AGO_DAYS(1));

    load_pair("before(viewed { channel = 'web', designer = 'ito' }, bought { category = 'laptop', channel = 'store' })",
              "return some(c.events, function(e) return e.type == 'view' and e.channel == 'web' and e.designer == 'ito' "
              "and some(c.purchases, function(p) return p.category == 'laptop' and p.channel == 'store' and p.ts > e.ts end) end)");
    AGREE(true, "{}");   /* both stored */
    P[0].ts = AGO_DAYS(10);
    AGREE(false, "{}");  /* bought before the view */
    AGREE(true, "{'purchases':[{'category':'laptop','channel':'store','ts':%lld}]}", AGO_DAYS(1));  /* and again since */
    R.customer = NULL;
}

/* ---- the worked examples of dsl/README.md, section 19 --------------------------- */

Test(dsl_words, worked_examples)
{
    cr_assert(rf_load(&R, "rules.lua",
        "action 'laptop_bundle_after_store' {\n"
        "  channels = { 'web', 'email' }, value = 45, propensity = 0.15, requires = { 'marketing' },\n"
        "  when = all {\n"
        "    before(viewed { category = 'laptop', channel = 'web' },\n"
        "           bought { category = 'laptop', channel = 'store', within = days(14) }),\n"
        "    no(bought { category = 'laptop_bag', within = days(14) }),\n"
        "  },\n"
        "  weight = recency(bought { category = 'laptop', channel = 'store' }, days(7)),\n"
        "}\n"
        "action 'shoes_only_discover_bags' {\n"
        "  channels = { 'web', 'app', 'email' }, value = 20, propensity = 0.08,\n"
        "  when = all { only_bought { category = 'shoes' }, purchases(at_least(2)), last_purchase(above(days(7))) },\n"
        "}\n"
        "action 'single_category_explore' {\n"
        "  channels = { 'email' }, value = 8, propensity = 0.05,\n"
        "  when = all { one_category(), first_purchase(at_least(days(180))) },\n"
        "  weight = boost(purchases(at_least(5)), 1.5),\n"
        "}\n", NULL), "%s", rf_problems(&R));
    const char *laptop = "{'consent':{'marketing':true},"
        "'events':[{'type':'view','category':'laptop','channel':'web','ts':%lld}],"
        "'purchases':[{'category':'laptop','channel':'%s','price':1299,'ts':%lld}]}";
    rf_decide(&R, laptop, AGO_DAYS(9), "store", AGO_DAYS(7));
    cr_expect_str_eq(rf_ids(&R), "laptop_bundle_after_store");
    double p = rf_priority(&R, "laptop_bundle_after_store");
    cr_expect(NEAR(p, 45 * 0.15 * 0.5), "one half-life since the store purchase, got %.17g", p);
    rf_decide(&R, laptop, AGO_DAYS(9), "web", AGO_DAYS(7));
    cr_expect_str_eq(rf_ids(&R), "", "bought online");
    rf_decide(&R, laptop, AGO_DAYS(5), "store", AGO_DAYS(7));
    cr_expect_str_eq(rf_ids(&R), "", "browsed after buying");

    const char *shoes = "{'channel':'email','touchpoint':'email_weekly','purchases':["
        "{'category':'shoes','ts':%lld},{'category':'%s','ts':%lld}]}";
    rf_decide(&R, shoes, AGO_DAYS(200), "shoes", AGO_DAYS(30));
    cr_expect_str_eq(rf_ids(&R), "shoes_only_discover_bags,single_category_explore");
    rf_decide(&R, shoes, AGO_DAYS(200), "shoes", AGO_DAYS(3));
    cr_expect_str_eq(rf_ids(&R), "single_category_explore", "bought in the last week");
    rf_decide(&R, shoes, AGO_DAYS(200), "bags", AGO_DAYS(30));
    cr_expect_str_eq(rf_ids(&R), "", "two categories");
}

/* A rule test's customer = { purchases = { ... } } keeps every field of an
 * entry, as track stores them: the words and plain Lua read them. */
Test(dsl_words, a_rule_tests_stored_customer_keeps_every_field)
{
    load_pair("before(viewed { channel = 'web', designer = 'ito' }, bought { brand = 'acme', size = 42 })",
              "return some(c.events, function(e) return e.type == 'view' and e.channel == 'web' and "
              "e.designer == 'ito' and some(c.purchases, function(p) return p.brand == 'acme' and "
              "p.size == 42 and p.ts > e.ts end) end)");
    rf_write(&R, "rules_test.lua",
             "test 'stored' {\n"
             "  context = { channel = 'web', touchpoint = 'web_home' },\n"
             "  customer = { events = { { type = 'view', channel = 'web', designer = 'ito', ts = ago(days(5)) } },\n"
             "               purchases = { { category = 'x', brand = 'acme', size = 42, ts = ago(days(1)) } } },\n"
             "  includes = { 'a', 'b' },\n"
             "}\n"
             "test 'stored, another size' {\n"
             "  context = { channel = 'web', touchpoint = 'web_home' },\n"
             "  customer = { events = { { type = 'view', channel = 'web', designer = 'ito', ts = ago(days(5)) } },\n"
             "               purchases = { { category = 'x', brand = 'acme', size = 41, ts = ago(days(1)) } } },\n"
             "  excludes = { 'a', 'b' },\n"
             "}\n");
    arb_problems_t failures = { 0 };
    int n = arb_ruleset_run_tests(R.rs, R.dir, &failures, 0);
    cr_expect_eq(n, 2);
    cr_expect_eq(failures.n, 0, "first failure: %s", failures.n ? failures.items[0] : "");
    arb_problems_free(&failures);
}
