/* Unit tests for the rule language's conditions end to end: every construct
 * of the vocabulary (dsl/prelude.lua) compiled by the loader (engine/ruleset),
 * evaluated by engine/decide/eval.c, each with a context where it holds and
 * one where it does not. Weights, shared conditions and plain functions are
 * in test_dsl_weights.c; arbitration in decide/test_arbitrate.c. Rule
 * folders are written from strings into temp folders (tests/support/rulefix.c,
 * the one-action fixture in tests/support/dslfix.c).
 */
#include <criterion/criterion.h>

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/ruleset/compiled.h"
#include "tests/support/dslfix.h"

TestSuite(dsl, .init = rf_setup, .fini = rf_teardown);

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
    load_when("store 'S1' { lat = 48.8566, lon = 2.3522 }\n", "in_store('S1')");
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
