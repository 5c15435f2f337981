/* Unit tests for the rule language end to end: every construct of the
 * vocabulary (dsl/prelude.lua) compiled by the loader (engine/ruleset.c),
 * evaluated by engine/cond.c and arbitrated by engine/decide.c, each with a
 * context where it holds and one where it does not. Rule folders are written
 * from strings into temp folders (tests/support/rulefix.h).
 */
#include <criterion/criterion.h>

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/ruleset/compiled.h"
#include "tests/support/rulefix.h"

TestSuite(dsl, .init = rf_setup, .fini = rf_teardown);

/* ---- helpers ------------------------------------------------------------ */

/* Load `decls` then one action 'a' (web and email, value 10) whose `when` is
 * the condition text. */
static void load_when(const char *decls, const char *when)
{
    char text[8192];
    snprintf(text, sizeof text,
             "%s\n"
             "action 'a' {\n"
             "  channels = { 'web', 'email' },\n"
             "  value = 10,\n"
             "  when = %s,\n"
             "}\n",
             decls ? decls : "", when);
    cr_assert(rf_load(&R, "rules.lua", text, NULL), "rule did not load:\n%s\n%s", rf_problems(&R),
              text);
}

/* Load `decls` then one action 'a' (web, value 10) whose `weight` is the
 * expression text. */
static void load_weight(const char *decls, const char *weight)
{
    char text[8192];
    snprintf(text, sizeof text,
             "%s\n"
             "action 'a' { channels = { 'web' }, value = 10, weight = %s }\n",
             decls ? decls : "", weight);
    cr_assert(rf_load(&R, "rules.lua", text, NULL), "rule did not load:\n%s\n%s", rf_problems(&R),
              text);
}

/* Whether action 'a' is chosen for the context (JSON format). */
__attribute__((format(printf, 1, 2)))
static bool hit(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = rf_vdecide(&R, fmt, ap);
    va_end(ap);
    cr_assert_eq(rc, 0, "context refused: %s", R.err.message);
    return rf_chosen(&R, "a");
}

/* Priority of 'a' for the context; NAN when not chosen. */
__attribute__((format(printf, 1, 2)))
static double prio(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = rf_vdecide(&R, fmt, ap);
    va_end(ap);
    cr_assert_eq(rc, 0, "context refused: %s", R.err.message);
    return rf_priority(&R, "a");
}

#define NEAR(x, want) (fabs((x) - (want)) < 1e-9)

/* ---- purchases ---------------------------------------------------------- */

Test(dsl, bought_matches_a_category_or_sku_ever_bought)
{
    load_when(NULL, "bought('laptop')");
    cr_expect(hit("{'purchases':[{'category':'laptop','sku':'LP-1','ts':%lld}]}", AGO_DAYS(900)),
              "a laptop bought long ago: %s", rf_dump(&R));
    cr_expect(hit("{'purchases':[{'sku':'laptop','ts':%lld}]}", AGO_DAYS(1)),
              "the name may be a sku: %s", rf_dump(&R));
    cr_expect_not(hit("{'purchases':[{'category':'tv','sku':'TV-1','ts':%lld}]}", AGO_DAYS(1)),
                  "a tv is not a laptop");
    cr_expect_not(hit("{}"), "no purchases at all");
}

Test(dsl, purchases_named_like_the_engine_own_symbols_are_ordinary)
{
    /* "location" and "segments" are symbols the engine interns for itself;
     * a purchase named so must index like any other (it once read past the
     * channel index, which was sized before they were interned). */
    load_when(NULL, "bought('laptop')");
    cr_expect(hit("{'purchases':[{'category':'location','ts':%lld},{'category':'segments','ts':%lld},"
                  "{'category':'laptop','ts':%lld}]}", AGO_DAYS(1), AGO_DAYS(1), AGO_DAYS(1)),
              "%s", rf_dump(&R));
    cr_expect_not(hit("{'purchases':[{'sku':'location','ts':%lld}]}", AGO_DAYS(1)));
}

Test(dsl, bought_within_a_window_only_counts_recent_purchases)
{
    load_when(NULL, "bought('laptop', within(days(30)))");
    cr_expect(hit("{'purchases':[{'category':'laptop','ts':%lld}]}", AGO_DAYS(29)));
    cr_expect_not(hit("{'purchases':[{'category':'laptop','ts':%lld}]}", AGO_DAYS(31)),
                  "31 days ago is outside within(days(30))");
    cr_expect(hit("{'purchases':[{'category':'laptop','ts':%lld},{'category':'laptop','ts':%lld}]}",
                  AGO_DAYS(300), AGO_DAYS(3)),
              "the newest of several purchases counts");
}

Test(dsl, bought_a_list_means_any_of_them)
{
    load_when(NULL, "bought { 'mouse', 'trackpad' }");
    cr_expect(hit("{'purchases':[{'category':'trackpad','ts':%lld}]}", AGO_DAYS(2)));
    cr_expect(hit("{'purchases':[{'category':'mouse','ts':%lld}]}", AGO_DAYS(2)));
    cr_expect_not(hit("{'purchases':[{'category':'keyboard','ts':%lld}]}", AGO_DAYS(2)));
}

Test(dsl, owns_is_bought_at_any_time)
{
    load_when(NULL, "owns('tv')");
    cr_expect(hit("{'purchases':[{'category':'tv','ts':%lld}]}", AGO_DAYS(3000)));
    cr_expect_not(hit("{'purchases':[{'category':'radio','ts':%lld}]}", AGO_DAYS(1)));
}

Test(dsl, due_for_replenishment_after_the_period_without_a_purchase)
{
    load_when(NULL, "due_for_replenishment('coffee', days(30))");
    cr_expect(hit("{'purchases':[{'category':'coffee','ts':%lld}]}", AGO_DAYS(40)),
              "last coffee 40 days ago: due");
    cr_expect_not(hit("{'purchases':[{'category':'coffee','ts':%lld}]}", AGO_DAYS(10)),
                  "last coffee 10 days ago: not due");
    cr_expect_not(hit("{'purchases':[{'category':'coffee','ts':%lld},{'category':'coffee','ts':%lld}]}",
                      AGO_DAYS(40), AGO_DAYS(5)),
                  "an older and a recent coffee: not due");
    cr_expect_not(hit("{}"), "never bought coffee: nothing to replenish");
}

Test(dsl, lapsed_customers_bought_before_but_not_in_the_period)
{
    load_when(NULL, "lapsed(days(90))");
    cr_expect(hit("{'purchases':[{'category':'tv','ts':%lld}]}", AGO_DAYS(100)));
    cr_expect_not(hit("{'purchases':[{'category':'tv','ts':%lld}]}", AGO_DAYS(10)));
    cr_expect_not(hit("{}"), "a customer who never bought has not lapsed");
}

Test(dsl, new_customer_has_no_purchase)
{
    load_when(NULL, "new_customer()");
    cr_expect(hit("{}"));
    cr_expect(hit("{'purchases':[]}"));
    cr_expect_not(hit("{'purchases':[{'category':'tv','ts':%lld}]}", AGO_DAYS(900)));
}

Test(dsl, purchases_counts_with_a_comparison)
{
    load_when(NULL, "purchases(at_least(3))");
    cr_expect(hit("{'purchases':[{'ts':%lld},{'ts':%lld},{'ts':%lld}]}", AGO_DAYS(1), AGO_DAYS(2),
                  AGO_DAYS(3)));
    cr_expect_not(hit("{'purchases':[{'ts':%lld},{'ts':%lld}]}", AGO_DAYS(1), AGO_DAYS(2)));
}

Test(dsl, purchases_of_a_category_within_a_window)
{
    load_when(NULL, "purchases(at_least(2), 'shoes', within(days(60)))");
    cr_expect(hit("{'purchases':[{'category':'shoes','ts':%lld},{'category':'shoes','ts':%lld}]}",
                  AGO_DAYS(5), AGO_DAYS(50)));
    cr_expect_not(hit("{'purchases':[{'category':'shoes','ts':%lld},{'category':'shoes','ts':%lld}]}",
                      AGO_DAYS(5), AGO_DAYS(90)),
                  "one of the two is outside the window");
    cr_expect_not(hit("{'purchases':[{'category':'shoes','ts':%lld},{'category':'hats','ts':%lld}]}",
                      AGO_DAYS(5), AGO_DAYS(6)),
                  "hats are not shoes");
}

Test(dsl, purchases_with_a_plain_number_means_exactly)
{
    load_when(NULL, "purchases(2)");
    cr_expect(hit("{'purchases':[{'ts':%lld},{'ts':%lld}]}", AGO_DAYS(1), AGO_DAYS(2)));
    cr_expect_not(hit("{'purchases':[{'ts':%lld},{'ts':%lld},{'ts':%lld}]}", AGO_DAYS(1),
                      AGO_DAYS(2), AGO_DAYS(3)));
}

Test(dsl, spent_sums_prices_within_a_window)
{
    load_when(NULL, "spent(at_least(500), within(days(365)))");
    cr_expect(hit("{'purchases':[{'price':300,'ts':%lld},{'price':250.5,'ts':%lld}]}", AGO_DAYS(10),
                  AGO_DAYS(200)));
    cr_expect_not(hit("{'purchases':[{'price':300,'ts':%lld},{'price':250,'ts':%lld}]}",
                      AGO_DAYS(10), AGO_DAYS(400)),
                  "the second purchase is older than a year");
    cr_expect_not(hit("{}"));
}

Test(dsl, spent_on_one_category)
{
    load_when(NULL, "spent(above(100), within(days(30)), 'shoes')");
    cr_expect(hit("{'purchases':[{'category':'shoes','price':60,'ts':%lld},{'category':'shoes','price':50,'ts':%lld}]}",
                  AGO_DAYS(1), AGO_DAYS(2)));
    cr_expect_not(hit("{'purchases':[{'category':'shoes','price':60,'ts':%lld},{'category':'hats','price':500,'ts':%lld}]}",
                      AGO_DAYS(1), AGO_DAYS(2)));
}

/* ---- events ------------------------------------------------------------- */

Test(dsl, viewed_an_item_within_a_window)
{
    load_when(NULL, "viewed('tv', within(days(7)))");
    cr_expect(hit("{'events':[{'type':'view','category':'tv','ts':%lld}]}", AGO_DAYS(2)));
    cr_expect(hit("{'events':[{'type':'view','sku':'tv','ts':%lld}]}", AGO_DAYS(2)));
    cr_expect_not(hit("{'events':[{'type':'view','category':'tv','ts':%lld}]}", AGO_DAYS(10)),
                  "too old");
    cr_expect_not(hit("{'events':[{'type':'cart_add','category':'tv','ts':%lld}]}", AGO_DAYS(1)),
                  "not a view");
    cr_expect_not(hit("{'events':[{'type':'view','category':'radio','ts':%lld}]}", AGO_DAYS(1)),
                  "not a tv");
}

Test(dsl, added_to_cart_a_sku)
{
    load_when(NULL, "added_to_cart('SKU-1')");
    cr_expect(hit("{'events':[{'type':'cart_add','sku':'SKU-1','ts':%lld}]}", AGO_DAYS(100)));
    cr_expect_not(hit("{'events':[{'type':'cart_add','sku':'SKU-2','ts':%lld}]}", AGO_DAYS(1)));
    cr_expect_not(hit("{'events':[{'type':'view','sku':'SKU-1','ts':%lld}]}", AGO_DAYS(1)));
}

Test(dsl, abandoned_cart_with_only_a_window)
{
    load_when(NULL, "abandoned_cart(within(days(1)))");
    cr_expect(hit("{'events':[{'type':'cart_abandon','sku':'X','ts':%lld}]}", RF_NOW - 3600));
    cr_expect_not(hit("{'events':[{'type':'cart_abandon','sku':'X','ts':%lld}]}", AGO_DAYS(3)));
    cr_expect_not(hit("{'events':[{'type':'cart_add','sku':'X','ts':%lld}]}", RF_NOW - 3600));
}

Test(dsl, opened_and_clicked_email)
{
    load_when(NULL, "all { opened_email('promo', within(days(7))), no(clicked_email('promo')) }");
    cr_expect(hit("{'events':[{'type':'email_open','category':'promo','ts':%lld}]}", AGO_DAYS(1)));
    cr_expect_not(hit("{'events':[{'type':'email_open','category':'promo','ts':%lld},"
                      "{'type':'email_click','category':'promo','ts':%lld}]}",
                      AGO_DAYS(1), AGO_DAYS(1)),
                  "clicked");
    cr_expect_not(hit("{'events':[{'type':'email_open','category':'news','ts':%lld}]}", AGO_DAYS(1)));
}

Test(dsl, clicked_email_any)
{
    load_when(NULL, "clicked_email()");
    cr_expect(hit("{'events':[{'type':'email_click','ts':%lld}]}", AGO_DAYS(1)));
    cr_expect_not(hit("{'events':[{'type':'email_open','ts':%lld}]}", AGO_DAYS(1)));
}

Test(dsl, searched_a_term_list)
{
    load_when(NULL, "searched({ 'boots', 'wellies' }, within(days(3)))");
    cr_expect(hit("{'events':[{'type':'search','category':'wellies','ts':%lld}]}", AGO_DAYS(1)));
    cr_expect_not(hit("{'events':[{'type':'search','category':'sandals','ts':%lld}]}", AGO_DAYS(1)));
    cr_expect_not(hit("{'events':[{'type':'search','category':'boots','ts':%lld}]}", AGO_DAYS(4)));
}

Test(dsl, did_any_event_type)
{
    load_when(NULL, "did('wishlist_add', 'SKU-9', within(days(7)))");
    cr_expect(hit("{'events':[{'type':'wishlist_add','sku':'SKU-9','ts':%lld}]}", AGO_DAYS(6)));
    cr_expect_not(hit("{'events':[{'type':'wishlist_add','sku':'SKU-9','ts':%lld}]}", AGO_DAYS(8)));
    cr_expect_not(hit("{'events':[{'type':'wishlist_remove','sku':'SKU-9','ts':%lld}]}", AGO_DAYS(1)));
}

/* ---- weather ------------------------------------------------------------ */

Test(dsl, weather_condition_by_name)
{
    load_when(NULL, "weather('fog')");
    cr_expect(hit("{'weather':{'condition':'fog','temp_c':8}}"));
    cr_expect_not(hit("{'weather':{'condition':'rain','temp_c':8}}"));
    cr_expect_not(hit("{}"), "no weather sent");
}

Test(dsl, raining_and_snowing)
{
    load_when(NULL, "any { raining(), snowing() }");
    cr_expect(hit("{'weather':{'condition':'rain'}}"));
    cr_expect(hit("{'weather':{'condition':'snow'}}"));
    cr_expect_not(hit("{'weather':{'condition':'sun'}}"));
    load_when(NULL, "snowing()");
    cr_expect_not(hit("{'weather':{'condition':'rain'}}"));
}

Test(dsl, temperature_comparisons)
{
    load_when(NULL, "temperature(below(0))");
    cr_expect(hit("{'weather':{'temp_c':-3.5}}"));
    cr_expect_not(hit("{'weather':{'temp_c':2}}"));
    cr_expect_not(hit("{'weather':{'condition':'snow'}}"), "no temperature sent");
    load_when(NULL, "temperature(between(10, 20))");
    cr_expect(hit("{'weather':{'temp_c':10}}"));
    cr_expect(hit("{'weather':{'temp_c':20}}"));
    cr_expect_not(hit("{'weather':{'temp_c':20.5}}"));
}

Test(dsl, hot_is_25_and_above)
{
    load_when(NULL, "hot()");
    cr_expect(hit("{'weather':{'temp_c':25}}"));
    cr_expect_not(hit("{'weather':{'temp_c':24.9}}"));
}

Test(dsl, cold_is_5_and_below)
{
    load_when(NULL, "cold()");
    cr_expect(hit("{'weather':{'temp_c':5}}"));
    cr_expect(hit("{'weather':{'temp_c':-10}}"));
    cr_expect_not(hit("{'weather':{'temp_c':5.1}}"));
}

/* ---- place and consent -------------------------------------------------- */

/* Paris, and a second store far away. 1 km of latitude is 1/111.195 deg. */
#define STORES "store 'PAR' { lat = 48.8566, lon = 2.3522 }\nstore 'NYC' { lat = 40.7128, lon = -74.0060 }\n"

Test(dsl, near_store_uses_the_great_circle_distance)
{
    load_when(STORES, "near_store(km(2))");
    /* ~1.0 km north of the Paris store */
    cr_expect(hit("{'consent':{'location':true},'location':{'lat':%.6f,'lon':2.3522}}",
                  48.8566 + 1.0 / 111.195),
              "1 km away is within km(2): %s", rf_dump(&R));
    /* ~5 km north */
    cr_expect_not(hit("{'consent':{'location':true},'location':{'lat':%.6f,'lon':2.3522}}",
                      48.8566 + 5.0 / 111.195),
                  "5 km away is not within km(2)");
    /* ~1 km east, where a degree of longitude is shorter: 1/(111.195 cos(lat)) */
    cr_expect(hit("{'consent':{'location':true},'location':{'lat':48.8566,'lon':%.6f}}",
                  2.3522 + 1.0 / (111.195 * cos(48.8566 * M_PI / 180))));
    cr_expect_not(hit("{'consent':{'location':true},'location':{'lat':48.8566,'lon':%.6f}}",
                      2.3522 + 2.5 / (111.195 * cos(48.8566 * M_PI / 180))),
                  "2.5 km east is beyond km(2) (a flat lat/lon distance would say 1.6)");
    /* near the second store counts too */
    cr_expect(hit("{'consent':{'location':true},'location':{'lat':40.7130,'lon':-74.0060}}"));
}

Test(dsl, near_store_needs_coordinates)
{
    load_when(STORES, "near_store(km(2))");
    cr_expect_not(hit("{'consent':{'location':true},'location':{'country':'FR'}}"));
    cr_expect_not(hit("{'consent':{'location':true},'location':{'lat':48.8566}}"));
}

Test(dsl, near_store_finds_stores_declared_in_another_file)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'a' { channels = { 'web' }, value = 1, when = near_store(km(1)) }\n",
                      "z.lua", "store 'PAR' { lat = 48.8566, lon = 2.3522 }\n", NULL),
              "%s", rf_problems(&R));
    cr_expect(hit("{'consent':{'location':true},'location':{'lat':48.8566,'lon':2.3522}}"));
}

Test(dsl, in_store_any_or_a_given_store)
{
    load_when(NULL, "in_store()");
    cr_expect(hit("{'consent':{'location':true},'location':{'store_id':'S7'}}"));
    cr_expect_not(hit("{'consent':{'location':true},'location':{'lat':1,'lon':1}}"));
    load_when(NULL, "in_store('S1')");
    cr_expect(hit("{'consent':{'location':true},'location':{'store_id':'S1'}}"));
    cr_expect_not(hit("{'consent':{'location':true},'location':{'store_id':'S2'}}"));
}

Test(dsl, in_country_compares_the_country_code)
{
    load_when(NULL, "in_country('FR')");
    cr_expect(hit("{'consent':{'location':true},'location':{'country':'FR'}}"));
    cr_expect_not(hit("{'consent':{'location':true},'location':{'country':'DE'}}"));
    cr_expect_not(hit("{'consent':{'location':true}}"));
}

Test(dsl, consented_reads_one_consent)
{
    load_when(NULL, "consented('email_marketing')");
    cr_expect(hit("{'consent':{'email_marketing':true}}"));
    cr_expect_not(hit("{'consent':{'email_marketing':false}}"));
    cr_expect_not(hit("{'consent':{'sms':true}}"));
    cr_expect_not(hit("{}"));
}

/* ---- customer and models ------------------------------------------------ */

Test(dsl, attribute_equals_a_string)
{
    load_when(NULL, "attribute('loyalty_tier', 'gold')");
    cr_expect(hit("{'attributes':{'loyalty_tier':'gold'}}"));
    cr_expect_not(hit("{'attributes':{'loyalty_tier':'silver'}}"));
    cr_expect_not(hit("{'attributes':{}}"));
    cr_expect_not(hit("{}"));
}

Test(dsl, attribute_equals_a_number_or_boolean)
{
    load_when(NULL, "all { attribute('visits', 3), attribute('vip', true) }");
    cr_expect(hit("{'attributes':{'visits':3,'vip':true}}"));
    cr_expect_not(hit("{'attributes':{'visits':4,'vip':true}}"));
    cr_expect_not(hit("{'attributes':{'visits':3,'vip':false}}"));
}

Test(dsl, attribute_with_a_comparison)
{
    load_when(NULL, "attribute('age', at_least(18))");
    cr_expect(hit("{'attributes':{'age':18}}"));
    cr_expect(hit("{'attributes':{'age':40.5}}"));
    cr_expect_not(hit("{'attributes':{'age':17}}"));
    cr_expect_not(hit("{'attributes':{'age':'eighteen'}}"), "a string is not a number");
}

Test(dsl, attribute_one_of_a_list)
{
    load_when(NULL, "attribute('tier', one_of { 'gold', 'platinum' })");
    cr_expect(hit("{'attributes':{'tier':'platinum'}}"));
    cr_expect(hit("{'attributes':{'tier':'gold'}}"));
    cr_expect_not(hit("{'attributes':{'tier':'silver'}}"));
    cr_expect_not(hit("{'attributes':{'tier':'gol'}}"));
}

Test(dsl, segment_membership)
{
    load_when(NULL, "segment('students')");
    cr_expect(hit("{'attributes':{'segments':['parents','students']}}"));
    cr_expect_not(hit("{'attributes':{'segments':['parents']}}"));
    cr_expect_not(hit("{'attributes':{'segments':'students'}}"), "segments must be a list");
    cr_expect_not(hit("{}"));
}

Test(dsl, score_with_a_comparison)
{
    load_when("models { 'churn' }", "score('churn', above(0.7))");
    cr_expect(hit("{'scores':{'churn':0.8}}"));
    cr_expect_not(hit("{'scores':{'churn':0.7}}"), "above is strict");
    cr_expect_not(hit("{'scores':{'other':0.9}}"), "no churn score");
    cr_expect_not(hit("{}"));
}

/* ---- time --------------------------------------------------------------- */

Test(dsl, hour_between_is_from_inclusive_to_exclusive)
{
    load_when(NULL, "hour_between(9, 17)");
    cr_expect(hit("{'now':%lld}", RF_NOW + 9 * 3600));
    cr_expect(hit("{'now':%lld}", RF_NOW + 16 * 3600 + 3599));
    cr_expect_not(hit("{'now':%lld}", RF_NOW + 17 * 3600));
    cr_expect_not(hit("{'now':%lld}", RF_NOW + 8 * 3600 + 3599));
}

Test(dsl, hour_between_wraps_past_midnight)
{
    load_when(NULL, "hour_between(22, 6)");
    cr_expect(hit("{'now':%lld}", RF_NOW + 23 * 3600));
    cr_expect(hit("{'now':%lld}", RF_NOW + 22 * 3600));
    cr_expect(hit("{'now':%lld}", RF_NOW + 3 * 3600));
    cr_expect(hit("{'now':%lld}", RF_NOW));
    cr_expect_not(hit("{'now':%lld}", RF_NOW + 6 * 3600));
    cr_expect_not(hit("{'now':%lld}", RF_NOW + 12 * 3600));
}

Test(dsl, hour_between_uses_the_settings_utc_offset)
{
    load_when("settings { utc_offset_hours = 2 }", "hour_between(9, 17)");
    cr_expect(hit("{'now':%lld}", RF_NOW + 8 * 3600), "08:00 UTC is 10:00 at UTC+2");
    cr_expect_not(hit("{'now':%lld}", RF_NOW + 16 * 3600), "16:00 UTC is 18:00 at UTC+2");
    load_when("settings { utc_offset_hours = -5 }", "hour_between(20, 23)");
    cr_expect(hit("{'now':%lld}", RF_NOW + 3600), "01:00 UTC is 20:00 the day before at UTC-5");
    cr_expect_not(hit("{'now':%lld}", RF_NOW + 20 * 3600));
    load_when("settings { utc_offset_hours = 5.5 }", "hour_between(9, 10)");
    cr_expect(hit("{'now':%lld}", RF_NOW + 3 * 3600 + 1800), "03:30 UTC is 09:00 at UTC+5:30");
    cr_expect_not(hit("{'now':%lld}", RF_NOW + 3 * 3600 + 1799), "03:29:59 UTC is 08:59:59");
}

Test(dsl, weekday_names_and_weekend)
{
    /* RF_NOW is Thursday 2026-01-01 */
    load_when(NULL, "weekday('thu', 'Friday')");
    cr_expect(hit("{}"));
    cr_expect(hit("{'now':%lld}", RF_NOW + RF_DAY));
    cr_expect_not(hit("{'now':%lld}", RF_NOW + 2 * RF_DAY));
    cr_expect_not(hit("{'now':%lld}", RF_NOW - 1), "Wednesday 23:59:59");
    load_when(NULL, "weekend()");
    cr_expect(hit("{'now':%lld}", RF_NOW + 2 * RF_DAY), "Saturday");
    cr_expect(hit("{'now':%lld}", RF_NOW + 3 * RF_DAY + 86399), "Sunday 23:59:59");
    cr_expect_not(hit("{'now':%lld}", RF_NOW + 4 * RF_DAY), "Monday");
    cr_expect_not(hit("{}"), "Thursday");
}

Test(dsl, weekday_uses_the_settings_utc_offset)
{
    load_when("settings { utc_offset_hours = 2 }", "weekday('thu')");
    cr_expect(hit("{'now':%lld}", RF_NOW - 3600), "Wed 23:00 UTC is Thu 01:00 at UTC+2");
    cr_expect(hit("{'now':%lld}", RF_NOW + RF_DAY - 2 * 3600 - 1), "Thu 21:59:59 UTC is Thu 23:59:59 at UTC+2");
    cr_expect_not(hit("{'now':%lld}", RF_NOW + RF_DAY - 2 * 3600), "Thu 22:00 UTC is Fri 00:00 at UTC+2");
}

Test(dsl, on_channel_and_at_touchpoint)
{
    load_when(NULL, "on_channel('email')");
    cr_expect(hit("{'channel':'email'}"));
    cr_expect_not(hit("{'channel':'web'}"));
    load_when(NULL, "at_touchpoint('web_cart')");
    cr_expect(hit("{'touchpoint':'web_cart'}"));
    cr_expect_not(hit("{'touchpoint':'web_home'}"));
}

/* ---- combinators -------------------------------------------------------- */

Test(dsl, all_any_no_nest)
{
    load_when(NULL, "all { any { raining(), snowing() }, no(hot()), not_(attribute('opt_out', true)) }");
    cr_expect(hit("{'weather':{'condition':'rain','temp_c':10}}"));
    cr_expect(hit("{'weather':{'condition':'snow','temp_c':-2},'attributes':{'opt_out':false}}"));
    cr_expect_not(hit("{'weather':{'condition':'snow','temp_c':30}}"), "hot");
    cr_expect_not(hit("{'weather':{'condition':'sun','temp_c':10}}"), "neither rain nor snow");
    cr_expect_not(hit("{'weather':{'condition':'rain','temp_c':10},'attributes':{'opt_out':true}}"));
}

Test(dsl, combinators_accept_plain_functions)
{
    load_when(NULL, "any { raining(), function(c) return c.attributes.umbrella_fan == true end }");
    cr_expect(hit("{'attributes':{'umbrella_fan':true}}"));
    cr_expect(hit("{'weather':{'condition':'rain'}}"));
    cr_expect_not(hit("{'attributes':{'umbrella_fan':false}}"));
}

/* ---- weights ------------------------------------------------------------ */

Test(dsl, recency_halves_after_each_half_life)
{
    load_weight(NULL, "recency('laptop', days(14))");
    double p = prio("{'purchases':[{'category':'laptop','ts':%lld}]}", AGO_DAYS(14));
    cr_expect(NEAR(p, 5.0), "one half-life: value 10 x 0.5 = 5, got %.17g", p);
    p = prio("{'purchases':[{'category':'laptop','ts':%lld}]}", AGO_DAYS(28));
    cr_expect(NEAR(p, 2.5), "two half-lives: 2.5, got %.17g", p);
    p = prio("{'purchases':[{'category':'laptop','ts':%lld}]}", RF_NOW);
    cr_expect(NEAR(p, 10.0), "bought right now: weight 1, got %.17g", p);
    p = prio("{'purchases':[{'category':'laptop','ts':%lld},{'category':'laptop','ts':%lld}]}",
             AGO_DAYS(100), AGO_DAYS(14));
    cr_expect(NEAR(p, 5.0), "the newest purchase counts, got %.17g", p);
    p = prio("{}");
    cr_expect(NEAR(p, 0.0), "never bought: weight 0, got %.17g", p);
}

Test(dsl, recency_of_an_event)
{
    load_weight(NULL, "recency(viewed('tv'), days(7))");
    double p = prio("{'events':[{'type':'view','category':'tv','ts':%lld}]}", AGO_DAYS(7));
    cr_expect(NEAR(p, 5.0), "got %.17g", p);
}

Test(dsl, boost_multiplies_when_the_condition_holds)
{
    load_weight(NULL, "boost(raining(), 1.5)");
    cr_expect(NEAR(prio("{'weather':{'condition':'rain'}}"), 15.0));
    cr_expect(NEAR(prio("{'weather':{'condition':'sun'}}"), 10.0));
    load_weight(NULL, "boost(raining(), 2, 0.5)");
    cr_expect(NEAR(prio("{'weather':{'condition':'rain'}}"), 20.0));
    cr_expect(NEAR(prio("{}"), 5.0));
}

Test(dsl, score_and_attribute_in_weight_expressions)
{
    load_weight("models { 'churn' }", "score('churn') * 2");
    cr_expect(NEAR(prio("{'scores':{'churn':0.25}}"), 5.0), "10 x 0.25 x 2");
    cr_expect(NEAR(prio("{}"), 0.0), "a missing score weighs 0");
    load_weight(NULL, "attribute('ltv') / 100");
    cr_expect(NEAR(prio("{'attributes':{'ltv':250}}"), 25.0), "10 x 2.5");
    cr_expect(NEAR(prio("{'attributes':{'ltv':'lots'}}"), 0.0), "a non-number attribute weighs 0");
}

Test(dsl, weight_arithmetic)
{
    load_weight("models { 'm' }", "(score('m') + 1) * 2 - 0.5");
    cr_expect(NEAR(prio("{'scores':{'m':0.25}}"), 20.0), "((0.25 + 1) x 2 - 0.5) x 10 = 20");
    load_weight(NULL, "2 * attribute('x') + attribute('y') / 4");
    cr_expect(NEAR(prio("{'attributes':{'x':1,'y':2}}"), 25.0), "(2 + 0.5) x 10");
    load_weight(NULL, "min_of(attribute('x'), 3) + max_of(attribute('y'), 1)");
    cr_expect(NEAR(prio("{'attributes':{'x':7,'y':0.5}}"), 40.0), "(3 + 1) x 10");
    load_weight(NULL, "attribute('x') / attribute('zero')");
    cr_expect(NEAR(prio("{'attributes':{'x':7,'zero':0}}"), 0.0), "division by zero weighs 0");
}

Test(dsl, plain_number_weight)
{
    load_weight(NULL, "0.3");
    cr_expect(NEAR(prio("{}"), 3.0));
}

/* ---- plain Lua functions ------------------------------------------------ */

Test(dsl, function_condition_reads_attributes)
{
    load_when(NULL, "function(c) return c.attributes.loyalty_tier == 'gold' end");
    cr_expect(hit("{'attributes':{'loyalty_tier':'gold'}}"));
    cr_expect_not(hit("{'attributes':{'loyalty_tier':'silver'}}"));
    cr_expect_not(hit("{}"), "absent attributes read as an empty table");
    cr_expect_str_eq(rf_reason(&R, "a"), "(none)", "no explain unless asked");
}

Test(dsl, function_condition_reads_purchases)
{
    load_when(NULL,
              "function(c)\n"
              "    local n = 0\n"
              "    for _, p in ipairs(c.purchases) do\n"
              "      if p.category == 'book' and p.price >= 10 then n = n + 1 end\n"
              "    end\n"
              "    return n >= 2\n"
              "  end");
    cr_expect(hit("{'purchases':[{'category':'book','price':12,'ts':%lld},{'category':'book','price':10,'ts':%lld}]}",
                  AGO_DAYS(1), AGO_DAYS(2)),
              "%s", rf_dump(&R));
    cr_expect_not(hit("{'purchases':[{'category':'book','price':12,'ts':%lld},{'category':'book','price':9,'ts':%lld}]}",
                      AGO_DAYS(1), AGO_DAYS(2)));
}

Test(dsl, function_condition_reads_scores_now_and_request_fields)
{
    load_when(NULL,
              "function(c) return c.scores.churn > 0.5 and c.now == 1767225600 + 60\n"
              "    and c.channel == 'web' and c.touchpoint == 'web_home' and c.customer_id == 'cust-1'\n"
              "    and c.weather.condition == 'rain' and c.events[1].type == 'view'\n"
              "    and c.consent.email == true end");
    cr_expect(hit("{'now':%lld,'scores':{'churn':0.6},'weather':{'condition':'rain'},"
                  "'events':[{'type':'view','ts':1}],'consent':{'email':true}}",
                  RF_NOW + 60),
              "%s", rf_dump(&R));
    cr_expect_not(hit("{'now':%lld,'scores':{'churn':0.6},'weather':{'condition':'rain'},"
                      "'events':[{'type':'view','ts':1}],'consent':{'email':true}}",
                      RF_NOW + 61));
    cr_expect_not(hit("{'now':%lld,'scores':{'churn':0.4},'weather':{'condition':'rain'},"
                      "'events':[{'type':'view','ts':1}],'consent':{'email':true}}",
                      RF_NOW + 60));
}

Test(dsl, function_weight_reads_the_context)
{
    load_weight(NULL, "function(c) return c.attributes.ltv / 100 + #c.purchases end");
    double p = prio("{'attributes':{'ltv':150},'purchases':[{'ts':%lld},{'ts':%lld}]}", AGO_DAYS(1),
                    AGO_DAYS(2));
    cr_expect(NEAR(p, 35.0), "(1.5 + 2) x 10, got %.17g", p);
}

Test(dsl, function_weight_mixed_into_an_expression)
{
    load_weight(NULL, "boost(raining(), function(c) return c.attributes.k end)");
    cr_expect(NEAR(prio("{'weather':{'condition':'rain'},'attributes':{'k':4}}"), 40.0));
    cr_expect(NEAR(prio("{'attributes':{'k':4}}"), 10.0));
}

Test(dsl, function_weight_must_return_a_number)
{
    load_weight(NULL, "function(c) return 'heavy' end");
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "");
    cr_expect(rf_starts(rf_reason(&R, "a"), "error:"), "reason: %s", rf_reason(&R, "a"));
}

/* ---- arbitration -------------------------------------------------------- */

Test(dsl, priority_is_propensity_times_value_times_weight_times_lever)
{
    cr_assert(rf_load(&R, "a.lua",
                      "models { 'm' }\n"
                      "action 'scored' { channels = { 'web' }, value = 40, lever = 1.5, model = 'm', weight = 0.5 }\n"
                      "action 'fixed' { channels = { 'web' }, value = 10, lever = 3, propensity = 0.2 }\n"
                      "action 'plain' { channels = { 'web' }, value = 7 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'scores':{'m':0.25}}");
    cr_assert_str_eq(rf_ids(&R), "scored,plain,fixed", "%s", rf_dump(&R));
    const msgpack_object *s = rf_action(&R, "scored");
    cr_expect_eq(rf_num(rf_get(s, "priority")), 0.25 * 40 * 0.5 * 1.5);
    cr_expect_eq(rf_num(rf_get(s, "propensity")), 0.25);
    cr_expect_eq(rf_num(rf_get(s, "value")), 40);
    const msgpack_object *f = rf_action(&R, "fixed");
    cr_expect_eq(rf_num(rf_get(f, "priority")), 0.2 * 10 * 1 * 3);
    cr_expect_eq(rf_num(rf_get(f, "propensity")), 0.2);
    cr_expect_eq(rf_priority(&R, "plain"), 7.0);
}

Test(dsl, best_priority_first)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'low' { channels = { 'web' }, value = 1 }\n"
                      "action 'high' { channels = { 'web' }, value = 3 }\n"
                      "action 'mid' { channels = { 'web' }, value = 2 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{}");
    cr_expect_str_eq(rf_ids(&R), "high,mid,low");
}

Test(dsl, ties_are_broken_by_id_ascending)
{
    cr_assert(rf_load(&R, "b.lua",
                      "action 'zeta' { channels = { 'web' }, value = 5 }\n"
                      "action 'alpha' { channels = { 'web' }, value = 5 }\n",
                      "a.lua",
                      "action 'mu' { channels = { 'web' }, value = 2.5, lever = 2 }\n"
                      "action 'beta' { channels = { 'web' }, value = 5 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'limit':4}");
    cr_expect_str_eq(rf_ids(&R), "alpha,beta,mu,zeta");
}

#define FIVE_ACTIONS                                        \
    "action 'a1' { channels = { 'web' }, value = 5 }\n"     \
    "action 'a2' { channels = { 'web' }, value = 4 }\n"     \
    "action 'a3' { channels = { 'web' }, value = 3 }\n"     \
    "action 'a4' { channels = { 'web' }, value = 2 }\n"     \
    "action 'a5' { channels = { 'web' }, value = 1 }\n"

Test(dsl, touchpoint_limit_caps_the_answer)
{
    cr_assert(rf_load(&R, "a.lua", "touchpoint 'web_home' { limit = 2 }\n" FIVE_ACTIONS, NULL), "%s",
              rf_problems(&R));
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "a1,a2");
    cr_expect_str_eq(rf_reason(&R, "a3"), "outranked");
}

Test(dsl, context_limit_overrides_the_touchpoint_limit)
{
    cr_assert(rf_load(&R, "a.lua", "touchpoint 'web_home' { limit = 2 }\n" FIVE_ACTIONS, NULL), "%s",
              rf_problems(&R));
    rf_decide(&R, "{'limit':4}");
    cr_expect_str_eq(rf_ids(&R), "a1,a2,a3,a4");
    rf_decide(&R, "{'limit':1}");
    cr_expect_str_eq(rf_ids(&R), "a1");
    cr_expect_neq(rf_try_decide(&R, "{'limit':0}"), 0, "limit 0 is refused");
}

Test(dsl, undeclared_touchpoint_uses_the_default_limit_of_3)
{
    cr_assert(rf_load(&R, "a.lua", "touchpoint 'web_home' { limit = 1 }\n" FIVE_ACTIONS, NULL), "%s",
              rf_problems(&R));
    uint64_t before = R.stats.undeclared_touchpoints;
    rf_decide(&R, "{'touchpoint':'somewhere_new'}");
    cr_expect_str_eq(rf_ids(&R), "a1,a2,a3");
    cr_expect_eq(R.stats.undeclared_touchpoints, before + 1);
    rf_decide(&R, "{}");
    cr_expect_str_eq(rf_ids(&R), "a1");
    cr_expect_eq(R.stats.undeclared_touchpoints, before + 1, "web_home is declared");
}

Test(dsl, settings_default_limit)
{
    cr_assert(rf_load(&R, "a.lua", "settings { default_limit = 4 }\n" FIVE_ACTIONS, NULL), "%s",
              rf_problems(&R));
    rf_decide(&R, "{'touchpoint':'anywhere'}");
    cr_expect_str_eq(rf_ids(&R), "a1,a2,a3,a4");
}

Test(dsl, touchpoint_without_limit_uses_the_default_limit)
{
    cr_assert(rf_load(&R, "a.lua",
                      "settings { default_limit = 2 }\ntouchpoint 'web_home' { diverse = 'category' }\n" FIVE_ACTIONS,
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{}");
    cr_expect_str_eq(rf_ids(&R), "a1,a2");
}

Test(dsl, diversity_by_category)
{
    cr_assert(rf_load(&R, "a.lua",
                      "touchpoint 'web_home' { limit = 3, diverse = 'category' }\n"
                      "action 'shoe1' { channels = { 'web' }, value = 50, category = 'shoes' }\n"
                      "action 'shoe2' { channels = { 'web' }, value = 40, category = 'shoes' }\n"
                      "action 'hat' { channels = { 'web' }, value = 30, category = 'hats' }\n"
                      "action 'bag' { channels = { 'web' }, value = 20, category = 'bags' }\n"
                      "action 'misc' { channels = { 'web' }, value = 10 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "shoe1,hat,bag");
    cr_expect_str_eq(rf_reason(&R, "shoe2"), "diversity");
    /* the same actions at a touchpoint without diversity */
    rf_decide(&R, "{'touchpoint':'other'}");
    cr_expect_str_eq(rf_ids(&R), "shoe1,shoe2,hat");
}

Test(dsl, actions_without_category_never_clash)
{
    cr_assert(rf_load(&R, "a.lua",
                      "touchpoint 'web_home' { limit = 3, diverse = 'category' }\n"
                      "action 'x' { channels = { 'web' }, value = 3 }\n"
                      "action 'y' { channels = { 'web' }, value = 2 }\n"
                      "action 'z' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{}");
    cr_expect_str_eq(rf_ids(&R), "x,y,z");
}

#define WITH_FALLBACK                                                                 \
    "action 'promo' { channels = { 'web' }, value = 5, when = raining() }\n"          \
    "fallback 'newsletter' { channels = { 'web' }, value = 1 }\n"                     \
    "fallback 'brand' { channels = { 'web' }, value = 0.5 }\n"

Test(dsl, fallback_only_when_nothing_else_is_eligible)
{
    cr_assert(rf_load(&R, "a.lua", WITH_FALLBACK, NULL), "%s", rf_problems(&R));
    uint64_t fb = R.stats.fallbacks;
    rf_decide(&R, "{'weather':{'condition':'rain'},'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "promo", "room is left, but fallbacks stay out");
    cr_expect(rf_starts(rf_reason(&R, "newsletter"), "fallback"), "reason: %s",
              rf_reason(&R, "newsletter"));
    cr_expect_eq(R.stats.fallbacks, fb);
    rf_decide(&R, "{'weather':{'condition':'sun'}}");
    cr_expect_str_eq(rf_ids(&R), "newsletter,brand");
    cr_expect_eq(R.stats.fallbacks, fb + 1);
    rf_decide(&R, "{'limit':1}");
    cr_expect_str_eq(rf_ids(&R), "newsletter");
}

Test(dsl, fallbacks_obey_their_own_channels_and_conditions)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'promo' { channels = { 'web' }, value = 5, when = raining() }\n"
                      "fallback 'email_only' { channels = { 'email' }, value = 1 }\n"
                      "fallback 'cold_only' { channels = { 'web' }, value = 1, when = cold() }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'weather':{'condition':'sun','temp_c':20}}");
    cr_expect_str_eq(rf_ids(&R), "");
    rf_decide(&R, "{'weather':{'condition':'sun','temp_c':0}}");
    cr_expect_str_eq(rf_ids(&R), "cold_only");
}

Test(dsl, flight_dates_start_inclusive_stop_exclusive)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'sale' { channels = { 'web' }, value = 1, start = '2026-01-10', stop = '2026-02-01T00:00:00Z' }\n",
                      NULL),
              "%s", rf_problems(&R));
    long long jan10 = RF_NOW + 9 * RF_DAY, feb1 = RF_NOW + 31 * RF_DAY;
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "", "before the start");
    cr_expect_str_eq(rf_reason(&R, "sale"), "dates");
    rf_decide(&R, "{'now':%lld}", jan10 - 1);
    cr_expect_str_eq(rf_ids(&R), "");
    rf_decide(&R, "{'now':%lld}", jan10);
    cr_expect_str_eq(rf_ids(&R), "sale", "on the start");
    rf_decide(&R, "{'now':%lld}", feb1 - 1);
    cr_expect_str_eq(rf_ids(&R), "sale");
    rf_decide(&R, "{'now':%lld}", feb1);
    cr_expect_str_eq(rf_ids(&R), "", "on the stop");
}

Test(dsl, flight_dates_with_a_time_or_unix_seconds)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'morning' { channels = { 'web' }, value = 1, start = '2026-01-01T08:00:00Z' }\n"
                      "action 'until_noon' { channels = { 'web' }, value = 1, stop = 1767268800 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'now':%lld}", RF_NOW + 7 * 3600);
    cr_expect_str_eq(rf_ids(&R), "until_noon");
    rf_decide(&R, "{'now':%lld}", RF_NOW + 8 * 3600);
    cr_expect_str_eq(rf_ids(&R), "morning,until_noon");
    rf_decide(&R, "{'now':%lld}", RF_NOW + 12 * 3600);
    cr_expect_str_eq(rf_ids(&R), "morning");
}

Test(dsl, channel_filtering)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'web_only' { channels = { 'web' }, value = 2 }\n"
                      "action 'email_only' { channels = 'email', value = 3 }\n"
                      "action 'both' { channels = { 'web', 'email' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "web_only,both");
    cr_expect_str_eq(rf_reason(&R, "email_only"), "channel");
    rf_decide(&R, "{'channel':'email','touchpoint':'newsletter'}");
    cr_expect_str_eq(rf_ids(&R), "email_only,both");
    cr_expect_neq(rf_try_decide(&R, "{'channel':'fax'}"), 0);
    cr_expect(strstr(R.err.message, "fax") != NULL, "%s", R.err.message);
}

Test(dsl, declared_channels_add_to_the_defaults)
{
    cr_assert(rf_load(&R, "a.lua",
                      "channels { 'kiosk' }\n"
                      "action 'k' { channels = { 'kiosk' }, value = 1 }\n"
                      "action 'w' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'channel':'kiosk'}");
    cr_expect_str_eq(rf_ids(&R), "k");
    rf_decide(&R, "{'channel':'web'}");
    cr_expect_str_eq(rf_ids(&R), "w");
}

Test(dsl, touchpoints_field_restricts_an_action)
{
    cr_assert(rf_load(&R, "a.lua",
                      "touchpoint 'web_home' { limit = 3 }\n"
                      "touchpoint 'web_cart' { limit = 3 }\n"
                      "action 'cart_only' { channels = { 'web' }, touchpoints = { 'web_cart' }, value = 2 }\n"
                      "action 'anywhere' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "anywhere");
    cr_expect_str_eq(rf_reason(&R, "cart_only"), "touchpoint");
    rf_decide(&R, "{'touchpoint':'web_cart'}");
    cr_expect_str_eq(rf_ids(&R), "cart_only,anywhere");
}

Test(dsl, requires_consent)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'personal' { channels = { 'web' }, requires = { 'personalisation' }, value = 2 }\n"
                      "action 'generic' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "generic");
    cr_expect_str_eq(rf_reason(&R, "personal"), "consent:personalisation");
    rf_decide(&R, "{'explain':true,'consent':{'personalisation':false}}");
    cr_expect_str_eq(rf_ids(&R), "generic");
    rf_decide(&R, "{'consent':{'personalisation':true}}");
    cr_expect_str_eq(rf_ids(&R), "personal,generic");
}

Test(dsl, missing_model_score_skips_the_action)
{
    cr_assert(rf_load(&R, "a.lua",
                      "models { 'm' }\n"
                      "action 'scored' { channels = { 'web' }, model = 'm', value = 100 }\n"
                      "action 'other' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true,'scores':{'n':0.9}}");
    cr_expect_str_eq(rf_ids(&R), "other");
    cr_expect_str_eq(rf_reason(&R, "scored"), "no score: m");
    rf_decide(&R, "{'scores':{'m':0.5}}");
    cr_expect_str_eq(rf_ids(&R), "scored,other");
    cr_expect_eq(rf_priority(&R, "scored"), 50.0);
}

Test(dsl, explain_lists_every_action_with_a_reason)
{
    cr_assert(rf_load(&R, "a.lua",
                      "models { 'm' }\n"
                      "touchpoint 'web_home' { limit = 1 }\n"
                      "action 'best' { channels = { 'web' }, value = 9 }\n"
                      "action 'second' { channels = { 'web' }, value = 8 }\n"
                      "action 'by_email' { channels = { 'email' }, value = 9 }\n"
                      "action 'needs_rain' { channels = { 'web' }, value = 9, when = raining() }\n"
                      "action 'needs_score' { channels = { 'web' }, value = 9, model = 'm' }\n"
                      "action 'later' { channels = { 'web' }, value = 9, start = '2030-01-01' }\n"
                      "fallback 'fb' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true}");
    const msgpack_object *e = rf_get(R.dec, "explain");
    cr_assert(e && e->type == MSGPACK_OBJECT_ARRAY, "%s", rf_dump(&R));
    cr_expect_eq(e->via.array.size, arb_ruleset_action_count(R.rs));
    cr_expect_eq(e->via.array.size, 7);
    static const char *const want[][2] = {
        { "best", "chosen" },  { "second", "outranked" }, { "by_email", "channel" },
        { "needs_rain", "when" }, { "needs_score", "no score: m" }, { "later", "dates" },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect_str_eq(rf_reason(&R, want[i][0]), want[i][1], "reason of %s", want[i][0]);
    cr_expect(rf_starts(rf_reason(&R, "fb"), "fallback"), "fb: %s", rf_reason(&R, "fb"));
    for (uint32_t i = 0; i < e->via.array.size; i++) {
        const msgpack_object *x = &e->via.array.ptr[i];
        const msgpack_object *id = rf_get(x, "id"), *chosen = rf_get(x, "chosen");
        cr_assert(id && id->type == MSGPACK_OBJECT_STR);
        cr_assert(chosen && chosen->type == MSGPACK_OBJECT_BOOLEAN);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)id->via.str.size, id->via.str.ptr);
        cr_expect_eq(chosen->via.boolean, rf_chosen(&R, name), "chosen flag of %s", name);
    }
}

Test(dsl, explain_is_absent_unless_asked_and_forced_by_the_decider)
{
    cr_assert(rf_load(&R, "a.lua", "action 'a' { channels = { 'web' }, value = 1 }\n", NULL), "%s",
              rf_problems(&R));
    rf_decide(&R, "{}");
    cr_expect_null(rf_get(R.dec, "explain"));
    arb_decider_force_explain(R.d, true);
    rf_decide(&R, "{}");
    cr_expect_str_eq(rf_reason(&R, "a"), "chosen");
}

Test(dsl, payload_is_returned_as_given)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'a' { channels = { 'web' }, value = 1, payload = {\n"
                      "  template = 'grid', count = 3, ratio = 0.25, on = true,\n"
                      "  skus = { 'A', 'B', 'C' },\n"
                      "  nested = { deep = { text = 'hi', n = -7 } },\n"
                      "} }\n"
                      "action 'b' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{}");
    const msgpack_object *p = rf_get(rf_action(&R, "a"), "payload");
    cr_assert(p && p->type == MSGPACK_OBJECT_MAP, "%s", rf_dump(&R));
    cr_expect_eq(p->via.map.size, 6);
    cr_expect(rf_str_is(rf_get(p, "template"), "grid"));
    const msgpack_object *count = rf_get(p, "count");
    cr_expect(count && count->type == MSGPACK_OBJECT_POSITIVE_INTEGER && count->via.u64 == 3,
              "an integer stays an integer");
    cr_expect_eq(rf_num(rf_get(p, "ratio")), 0.25);
    const msgpack_object *on = rf_get(p, "on");
    cr_expect(on && on->type == MSGPACK_OBJECT_BOOLEAN && on->via.boolean);
    const msgpack_object *skus = rf_get(p, "skus");
    cr_assert(skus && skus->type == MSGPACK_OBJECT_ARRAY && skus->via.array.size == 3);
    cr_expect(rf_str_is(&skus->via.array.ptr[0], "A"));
    cr_expect(rf_str_is(&skus->via.array.ptr[2], "C"));
    const msgpack_object *deep = rf_get(rf_get(p, "nested"), "deep");
    cr_expect(rf_str_is(rf_get(deep, "text"), "hi"));
    cr_expect_eq(rf_num(rf_get(deep, "n")), -7);
    const msgpack_object *none = rf_get(rf_action(&R, "b"), "payload");
    cr_expect(none && none->type == MSGPACK_OBJECT_NIL, "no payload is nil");
}

Test(dsl, decision_fields)
{
    cr_assert(rf_load(&R, "a.lua", "action 'a' { channels = { 'web' }, value = 1 }\n", NULL), "%s",
              rf_problems(&R));
    rf_decide(&R, "{}");
    const msgpack_object *id = rf_get(R.dec, "decision_id");
    cr_assert(id && id->type == MSGPACK_OBJECT_STR && id->via.str.size > 0, "%s", rf_dump(&R));
    char first[128];
    snprintf(first, sizeof first, "%.*s", (int)id->via.str.size, id->via.str.ptr);
    cr_expect(rf_str_is(rf_get(R.dec, "ruleset"), arb_ruleset_version(R.rs)), "%s", rf_dump(&R));
    const msgpack_object *us = rf_get(R.dec, "elapsed_us");
    cr_expect(us && us->type == MSGPACK_OBJECT_POSITIVE_INTEGER, "elapsed_us is an unsigned integer");
    cr_expect(us && us->via.u64 < 10 * 1000 * 1000, "a tiny decision takes well under 10 s");

    rf_decide(&R, "{}");
    cr_expect_not(rf_str_is(rf_get(R.dec, "decision_id"), first), "ids are unique per decision");

    arb_decider_t *other = arb_decider_new();
    arb_decider_t *mine = R.d;
    R.d = other;
    rf_decide(&R, "{}");
    cr_expect_not(rf_str_is(rf_get(R.dec, "decision_id"), first), "and across deciders");
    R.d = mine;
    arb_decider_free(other);
}

Test(dsl, decision_names_the_ruleset_version_after_a_reload)
{
    cr_assert(rf_load(&R, "a.lua", "action 'a' { channels = { 'web' }, value = 1 }\n", NULL));
    rf_decide(&R, "{}");
    cr_expect(rf_str_is(rf_get(R.dec, "ruleset"), arb_ruleset_version(R.rs)));
    cr_assert(rf_load(&R, "a.lua", "action 'b' { channels = { 'web' }, value = 1 }\n", NULL));
    rf_decide(&R, "{}");
    cr_expect_str_eq(rf_ids(&R), "b");
    cr_expect(rf_str_is(rf_get(R.dec, "ruleset"), arb_ruleset_version(R.rs)), "%s", rf_dump(&R));
    cr_expect(rf_starts(arb_ruleset_version(R.rs), "2-"), "%s", arb_ruleset_version(R.rs));
}

/* ---- rule test files ---------------------------------------------------- */

#define TESTED_RULES                                                                 \
    "action 'umbrella' { channels = { 'app' }, requires = { 'location' }, value = 8,\n" \
    "  when = all { raining(), in_country('FR') } }\n"                               \
    "fallback 'newsletter' { channels = { 'app', 'web' }, value = 1 }\n"

Test(dsl, run_tests_passes_a_passing_test_file)
{
    cr_assert(rf_load(&R, "rules.lua", TESTED_RULES, NULL), "%s", rf_problems(&R));
    rf_write(&R, "rules_test.lua",
             "test 'rain in France' {\n"
             "  context = { channel = 'app', touchpoint = 'app_home', weather = { condition = 'rain' },\n"
             "              consent = { location = true }, location = { country = 'FR' } },\n"
             "  expect = { 'umbrella' },\n"
             "}\n"
             "test 'no consent' {\n"
             "  context = { channel = 'app', touchpoint = 'app_home', weather = { condition = 'rain' },\n"
             "              location = { country = 'FR' } },\n"
             "  expect = { 'newsletter' }, excludes = { 'umbrella' },\n"
             "  reasons = { umbrella = 'consent:location' },\n"
             "}\n"
             "test 'uses the test clock' {\n"
             "  context = { channel = 'web', touchpoint = 'web_home',\n"
             "              purchases = { { category = 'x', ts = ago(days(2)) } } },\n"
             "  includes = { 'newsletter' },\n"
             "}\n");
    arb_problems_t failures = { 0 };
    int n = arb_ruleset_run_tests(R.rs, R.dir, &failures, 0);
    cr_expect_eq(n, 3, "three tests run");
    cr_expect_eq(failures.n, 0, "first failure: %s", failures.n ? failures.items[0] : "");
    arb_problems_free(&failures);
}

Test(dsl, run_tests_reports_the_file_and_line_of_a_failing_test)
{
    cr_assert(rf_load(&R, "rules.lua", TESTED_RULES, NULL), "%s", rf_problems(&R));
    rf_write(&R, "a_test.lua",
             "test 'passes' {\n"
             "  context = { channel = 'web', touchpoint = 'web_home' },\n"
             "  expect = { 'newsletter' },\n"
             "}\n"
             "\n"
             "test 'wrong expectation' {\n"
             "  context = { channel = 'app', touchpoint = 'app_home', weather = { condition = 'rain' } },\n"
             "  expect = { 'umbrella' },\n"
             "}\n");
    arb_problems_t failures = { 0 };
    int n = arb_ruleset_run_tests(R.rs, R.dir, &failures, 0);
    cr_expect_eq(n, 2);
    cr_assert_eq(failures.n, 1, "exactly one failure");
    char want[256];
    snprintf(want, sizeof want, "%s/a_test.lua:6: test 'wrong expectation'", R.dir);
    cr_expect(rf_starts(failures.items[0], want), "got: %s\nwant prefix: %s", failures.items[0], want);
    cr_expect(strstr(failures.items[0], "umbrella") && strstr(failures.items[0], "newsletter"),
              "names what was expected and what came: %s", failures.items[0]);
    arb_problems_free(&failures);
}

Test(dsl, run_tests_reports_a_broken_test_file)
{
    cr_assert(rf_load(&R, "rules.lua", TESTED_RULES, NULL), "%s", rf_problems(&R));
    rf_write(&R, "b_test.lua", "test 'x' {\n  context = { channel = 'web' \n");
    arb_problems_t failures = { 0 };
    cr_expect_eq(arb_ruleset_run_tests(R.rs, R.dir, &failures, 0), -1);
    cr_assert_geq(failures.n, 1);
    char want[256];
    snprintf(want, sizeof want, "%s/b_test.lua:", R.dir);
    cr_expect(rf_starts(failures.items[0], want), "%s", failures.items[0]);
    arb_problems_free(&failures);
}

/* ---- shared conditions and weights ---------------------------------------- */

/* Three offers with one condition and one weight, a fourth with another. */
#define SAME_CONDITION_RULES                                                                 \
    "local laptop_no_mouse = all { bought('laptop', within(days(30))),\n"                    \
    "                              no(bought('mouse', within(days(60)))) }\n"                \
    "action 'm1' { channels = { 'web' }, value = 10, when = laptop_no_mouse,\n"              \
    "              weight = recency('laptop', days(14)) }\n"                                 \
    "action 'm2' { channels = { 'web' }, value = 20, when = all { bought('laptop', within(days(30))),\n" \
    "              no(bought('mouse', within(days(60)))) }, weight = recency('laptop', days(14)) }\n" \
    "action 'm3' { channels = { 'web' }, value = 30, lever = 2, when = laptop_no_mouse,\n"   \
    "              weight = recency('laptop', days(14)) }\n"                                 \
    "action 'other' { channels = { 'web' }, value = 1,\n"                                    \
    "                 when = bought('laptop', within(days(7))) }\n"

Test(dsl, identical_conditions_and_weights_are_compiled_once)
{
    cr_assert(rf_load(&R, "a.lua", SAME_CONDITION_RULES, NULL), "%s", rf_problems(&R));
    /* bought(laptop, 30d), bought(mouse, 60d), no(...), all {...}, bought(laptop, 7d),
     * and the recency weight's bought(laptop) */
    cr_expect_eq(R.rs->n_nodes, 6, "nodes: %u", R.rs->n_nodes);
    cr_expect_eq(R.rs->n_wexprs, 1, "weights: %u", R.rs->n_wexprs);
    const arb_action_t *m1 = NULL, *m2 = NULL;
    for (uint32_t i = 0; i < R.rs->n_actions; i++) {
        if (strcmp(R.rs->actions[i].id, "m1") == 0) m1 = &R.rs->actions[i];
        if (strcmp(R.rs->actions[i].id, "m2") == 0) m2 = &R.rs->actions[i];
    }
    cr_assert(m1 && m2);
    cr_expect_eq(m1->when, m2->when, "written apart, the same condition is one node");
    cr_expect(R.rs->nodes[m1->when].memo, "a shared condition is remembered per request");
}

Test(dsl, shared_conditions_answer_for_each_request_and_each_action)
{
    cr_assert(rf_load(&R, "a.lua", SAME_CONDITION_RULES, NULL), "%s", rf_problems(&R));
    const char *laptop = "{'limit':4,'purchases':[{'category':'laptop','ts':%lld}]}";
    rf_decide(&R, laptop, AGO_DAYS(14));
    cr_expect_str_eq(rf_ids(&R), "m3,m2,m1", "%s", rf_dump(&R));
    cr_expect(NEAR(rf_priority(&R, "m1"), 5.0), "10 x 0.5: %.17g", rf_priority(&R, "m1"));
    cr_expect(NEAR(rf_priority(&R, "m2"), 10.0), "20 x 0.5: %.17g", rf_priority(&R, "m2"));
    cr_expect(NEAR(rf_priority(&R, "m3"), 30.0), "30 x 0.5 x 2: %.17g", rf_priority(&R, "m3"));
    /* The next request's answers are its own: a mouse now rules them out... */
    rf_decide(&R, "{'limit':4,'purchases':[{'category':'laptop','ts':%lld},"
                  "{'category':'mouse','ts':%lld}]}", AGO_DAYS(3), AGO_DAYS(1));
    cr_expect_str_eq(rf_ids(&R), "other", "%s", rf_dump(&R));
    /* ... and a newer laptop weighs more. */
    rf_decide(&R, laptop, RF_NOW);
    cr_expect_str_eq(rf_ids(&R), "m3,m2,m1,other", "%s", rf_dump(&R));
    cr_expect(NEAR(rf_priority(&R, "m1"), 10.0), "%.17g", rf_priority(&R, "m1"));
}

Test(dsl, a_plain_function_runs_for_every_action_that_uses_it)
{
    cr_assert(rf_load(&R, "a.lua",
                      "local calls = 0\n"
                      "local function counted(c) calls = calls + 1 return true end\n"
                      "action 'a' { channels = { 'web' }, value = 1, when = all { raining(), counted } }\n"
                      "action 'b' { channels = { 'web' }, value = 1, when = all { raining(), counted } }\n"
                      "action 'c' { channels = { 'web' }, value = 1, weight = function(c) return calls end }\n",
                      NULL),
              "%s", rf_problems(&R));
    const char *rain = "{'weather':{'condition':'rain'}}";
    rf_decide(&R, rain);
    cr_expect_eq(rf_priority(&R, "c"), 2.0, "a and b each called it once: %s", rf_dump(&R));
    rf_decide(&R, rain);
    cr_expect_eq(rf_priority(&R, "c"), 4.0, "and again on the next decision: %s", rf_dump(&R));
}

Test(dsl, thresholds_and_windows_at_their_limits)
{
    /* Thresholds a float cannot hold, windows past 2^31 seconds, purchases
     * a century old. */
    cr_assert(rf_load(&R, "a.lua",
                      "action 'cold_inline' { channels = { 'web' }, value = 1,\n"
                      "  when = all { bought('tv'), temperature(below(0.5)) } }\n"
                      "action 'cold_tree' { channels = { 'web' }, value = 1,\n"
                      "  when = all { bought('tv'), temperature(below(0.1)) } }\n"
                      "action 'long_inline' { channels = { 'web' }, value = 1,\n"
                      "  when = no(bought('tv', within(days(20000)))) }\n"
                      "action 'long_tree' { channels = { 'web' }, value = 1,\n"
                      "  when = no(bought('tv', within(days(30000)))) }\n"
                      "action 'three_tree' { channels = { 'web' }, value = 1,\n"
                      "  when = all { bought('tv'), raining(), no(bought('radio')) } }\n",
                      NULL),
              "%s", rf_problems(&R));
    const char *ctx = "{'limit':10,'weather':{'temp_c':%s,'condition':'%s'},"
                      "'purchases':[{'category':'tv','ts':%lld}]}";
    rf_decide(&R, ctx, "0.05", "rain", AGO_DAYS(25000));
    cr_expect_str_eq(rf_ids(&R), "cold_inline,cold_tree,long_inline,three_tree", "%s", rf_dump(&R));
    rf_decide(&R, ctx, "0.3", "clear", AGO_DAYS(10));
    cr_expect_str_eq(rf_ids(&R), "cold_inline", "%s", rf_dump(&R));
    rf_decide(&R, ctx, "0.6", "rain", AGO_DAYS(40000));
    cr_expect_str_eq(rf_ids(&R), "long_inline,long_tree,three_tree", "%s", rf_dump(&R));
}

/* ---- deciding without running what cannot be shown ------------------------- */

/* A small deterministic generator, so a failure names its seed. */
static uint32_t lcg(uint32_t *s) { return (*s = *s * 1103515245u + 12345u) >> 8; }

/* The ids and priorities of the decision's actions, as text. */
static void answer_text(char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    const msgpack_object *acts = rf_actions(&R);
    for (uint32_t i = 0; i < acts->via.array.size && len < n; i++) {
        const msgpack_object *a = &acts->via.array.ptr[i];
        const msgpack_object *id = rf_get(a, "id");
        len += (size_t)snprintf(out + len, n - len, "%.*s=%.17g ", (int)id->via.str.size,
                                id->via.str.ptr, rf_num(rf_get(a, "priority")));
    }
}

Test(dsl, skipping_actions_that_cannot_be_shown_never_changes_the_answer)
{
    /* Without explain, once `limit` actions are eligible an action whose
     * priority bound (propensity x value x weight's bound x lever) is below
     * the last of them is not evaluated. With explain every action is. The
     * answers must be the same, ties at the boundary included. */
    static const char *const weights[] = {
        "", "weight = recency('c%u', days(7)),", "weight = 2,", "weight = 0,",
        "weight = max_of(recency('c%u', days(3)), 0.5),", "weight = boost(raining(), 3),",
        "weight = recency('c%u', days(5)) * boost(raining(), 2, 0.5),",
        "weight = score('m2') * 3,", "weight = min_of(attribute('ltv') / 100, 2),",
        "weight = 1 + recency('c%u', days(9)),", "weight = function(c) return 1.5 end,",
    };
    static const char *const whens[] = {
        "", "when = bought('c%u'),", "when = no(bought('c%u', within(days(20)))),",
        "when = raining(),", "when = all { bought('c%u'), temperature(below(10)) },",
        "when = function(c) return #c.purchases > 2 end,",
    };
    for (uint32_t seed = 1; seed <= 12; seed++) {
        uint32_t s = seed;
        char *rules = malloc(64 * 1024);
        size_t len = (size_t)snprintf(rules, 64 * 1024, "models { 'm1', 'm2' }\n");
        for (int a = 0; a < 60; a++) {
            char w[160], c[160];
            snprintf(w, sizeof w, weights[lcg(&s) % 11], lcg(&s) % 6);
            snprintf(c, sizeof c, whens[lcg(&s) % 6], lcg(&s) % 6);
            /* Few distinct values and levers: ties are common. */
            len += (size_t)snprintf(rules + len, 64 * 1024 - len,
                                    "action 'a%02d' { channels = { 'web' }, value = %u, lever = %s,"
                                    " %s %s %s }\n",
                                    a, 1 + lcg(&s) % 5, lcg(&s) % 3 ? "1" : "0.5",
                                    lcg(&s) % 2 ? "model = 'm1'," : "propensity = 0.5,", w, c);
        }
        cr_assert(rf_load(&R, "a.lua", rules, NULL), "seed %u: %s", seed, rf_problems(&R));
        for (int k = 0; k < 20; k++) {
            char ctx[512], pruned[2048], full[2048];
            snprintf(ctx, sizeof ctx,
                     "{'limit':%u,'scores':{'m1':%.3f,'m2':%.3f},'attributes':{'ltv':%u},"
                     "'weather':{'condition':'%s','temp_c':%u},'purchases':["
                     "{'category':'c%u','ts':%%lld},{'category':'c%u','ts':%%lld},"
                     "{'category':'c%u','ts':%%lld}]%s}",
                     1 + lcg(&s) % 6, (lcg(&s) % 1000) / 1000.0, (lcg(&s) % 1000) / 1000.0,
                     lcg(&s) % 300, lcg(&s) % 2 ? "rain" : "clear", lcg(&s) % 20, lcg(&s) % 6,
                     lcg(&s) % 6, lcg(&s) % 6, "%s");
            long long t1 = AGO_DAYS(lcg(&s) % 30), t2 = AGO_DAYS(lcg(&s) % 30),
                      t3 = AGO_DAYS(lcg(&s) % 30);
            rf_decide(&R, ctx, t1, t2, t3, "");
            answer_text(pruned, sizeof pruned);
            rf_decide(&R, ctx, t1, t2, t3, ",'explain':true");
            answer_text(full, sizeof full);
            cr_expect_str_eq(pruned, full, "seed %u, context %d:\n%s", seed, k, ctx);
        }
        free(rules);
    }
}

Test(dsl, an_action_whose_priority_is_not_a_number_is_not_shown)
{
    /* value 0 times a weight that overflowed: 0 x infinity. */
    cr_assert(rf_load(&R, "a.lua",
                      "action 'big' { channels = { 'web' }, value = 0,\n"
                      "               weight = attribute('ltv') * 1e300 }\n"
                      "action 'plain' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'attributes':{'ltv':1e300},'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "plain", "%s", rf_dump(&R));
    cr_expect_str_eq(rf_reason(&R, "big"), "priority: not a number");
    rf_decide(&R, "{'attributes':{'ltv':2}}");
    cr_expect_str_eq(rf_ids(&R), "plain,big", "a finite weight: priority 0, %s", rf_dump(&R));
}

Test(dsl, an_action_whose_priority_is_infinite_is_not_shown)
{
    /* A weight past DBL_MAX (1e300 x 1e300) times a finite value. */
    cr_assert(rf_load(&R, "a.lua",
                      "action 'huge' { channels = { 'web' }, value = 1e15,\n"
                      "                weight = attribute('ltv') * 1e300 }\n"
                      "action 'plain' { channels = { 'web' }, value = 1 }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'attributes':{'ltv':1e300},'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "plain", "%s", rf_dump(&R));
    cr_expect_str_eq(rf_reason(&R, "huge"), "priority: infinite");
}

Test(dsl, a_weight_function_must_return_a_number_not_a_string)
{
    cr_assert(rf_load(&R, "a.lua",
                      "action 'str' { channels = { 'web' }, value = 1,\n"
                      "               weight = function(c) return '1e308' end }\n"
                      "action 'num' { channels = { 'web' }, value = 1,\n"
                      "               weight = function(c) return 2 end }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'explain':true}");
    cr_expect_str_eq(rf_ids(&R), "num", "%s", rf_dump(&R));
    cr_expect(strstr(rf_reason(&R, "str"), "weight function returned no number") != NULL, "%s",
              rf_reason(&R, "str"));
}

Test(dsl, a_plain_function_in_a_weight_runs_even_for_an_action_that_cannot_win)
{
    /* Skipping actions that cannot be shown must not hide a rule's error. */
    cr_assert(rf_load(&R, "a.lua",
                      "action 'a_top' { channels = { 'web' }, value = 10 }\n"
                      "action 'b_low' { channels = { 'web' }, value = 1,\n"
                      "                 weight = boost(function(c) error('boom') end, 2) }\n",
                      NULL),
              "%s", rf_problems(&R));
    uint64_t before = R.stats.rule_errors;
    rf_decide(&R, "{'limit':1}");
    cr_expect_str_eq(rf_ids(&R), "a_top");   /* considered first: b_low comes after the floor */
    cr_expect_eq(R.stats.rule_errors - before, 1, "the function ran and its error was counted");
}
