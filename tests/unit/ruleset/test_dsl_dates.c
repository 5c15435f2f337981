/* Unit tests for the date words of the rule language (issue 16): dates held
 * in attributes (since, until_date, anniversary, months, years), recurring
 * seasons (month, season, day_between), the customer's own timezone for
 * every local-time word, and helpers shared across files (share, shared,
 * the load order of _*.lua). Each word is decided on fixed clocks (the year
 * boundary, Feb 29, offsets) through its C node AND through a plain Lua
 * rule computing the same from c.now, c.timezone and c.attributes: both
 * must agree on every context. The calendar arithmetic itself
 * (engine/base/civil.c) is checked against glibc's timegm/gmtime_r.
 */
#include <criterion/criterion.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/base/civil.h"
#include "engine/ruleset/compiled.h"
#include "tests/support/dslfix.h"

TestSuite(dsl_dates, .init = rf_setup, .fini = rf_teardown);

/* Unix seconds of a UTC civil time, by glibc rather than by civil.c. */
static long long at(int y, int mo, int d, int h, int mi)
{
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi };
    return (long long)timegm(&tm);
}

/* ---- calendar arithmetic ------------------------------------------------- */

Test(dsl_dates, civil_days_agree_with_timegm_for_every_day_of_four_centuries)
{
    for (int64_t z = arb_civil_days(1900, 1, 1); z <= arb_civil_days(2300, 12, 31); z++) {
        int64_t y;
        int m, d;
        arb_civil_from_days(z, &y, &m, &d);
        time_t t = (time_t)(z * 86400);
        struct tm tm;
        gmtime_r(&t, &tm);
        cr_assert(y == tm.tm_year + 1900 && m == tm.tm_mon + 1 && d == tm.tm_mday,
                  "day %lld: %lld-%d-%d, glibc %d-%d-%d", (long long)z, (long long)y, m, d,
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        cr_assert_eq(arb_civil_days(y, m, d), z);
    }
    cr_assert_eq(arb_civil_day_of(-1), -1, "the second before 1970 is the day before");
    cr_assert_eq(arb_civil_month_days(2024, 2), 29);
    cr_assert_eq(arb_civil_month_days(2100, 2), 28, "1900, 2100: not leap");
    cr_assert_eq(arb_civil_month_days(2000, 2), 29, "2000: leap");
}

static long long iso(const char *s, long long offset)
{
    int64_t t;
    return arb_civil_iso_parse(s, strlen(s), offset, &t) == 0 ? (long long)t : -1;
}

Test(dsl_dates, iso_dates_with_and_without_offsets)
{
    cr_expect_eq(iso("2026-03-01", 0), at(2026, 3, 1, 0, 0));
    cr_expect_eq(iso("2026-03-01", 7200), at(2026, 2, 28, 22, 0), "no offset: local time");
    cr_expect_eq(iso("2026-03-01T10:00:00Z", 7200), at(2026, 3, 1, 10, 0), "Z wins over local");
    cr_expect_eq(iso("2026-03-01T10:00:00+02:00", 0), at(2026, 3, 1, 8, 0));
    cr_expect_eq(iso("2026-03-01T10:00:00-05:30", 0), at(2026, 3, 1, 15, 30));
    cr_expect_eq(iso("2026-03-01T10:00:00+0200", 0), at(2026, 3, 1, 8, 0));
    cr_expect_eq(iso("2026-03-01T10:00", 0), at(2026, 3, 1, 10, 0));
    cr_expect_eq(iso("2026-03-01 10:00:30.250Z", 0), at(2026, 3, 1, 10, 0) + 30);
    cr_expect_eq(iso("2024-02-29", 0), at(2024, 2, 29, 0, 0));
    static const char *const bad[] = {
        "2026-02-29", "2026-13-01", "2026-00-10", "2026-04-31", "26-03-01", "2026/03/01",
        "2026-03-01T25:00:00Z", "2026-03-01T10:00:00+25:00", "2026-03-01Z", "2026-03-01T10",
        "2026-03-01T10:00:00.Z", "next tuesday", "", "2026-03-01T10:00:00Zx",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(iso(bad[i], 0), -1, "'%s' is not a date", bad[i]);
}

/* ---- C word and plain Lua rule side by side ------------------------------ */

/* Plain Lua the agreeing rules use: civil dates by a year-by-year walk (not
 * civil.c's formula), the timezone from c.timezone, dates from attributes. */
static const char LUA_DATES[] =
    "local function leap(y) return y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0) end\n"
    "local LEN = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }\n"
    "local function mdays(y, m) return m == 2 and leap(y) and 29 or LEN[m] end\n"
    "local function ylen(y) return leap(y) and 366 or 365 end\n"
    "local function dfc(y, m, d)\n"
    "  local z = 0\n"
    "  if y >= 1970 then for k = 1970, y - 1 do z = z + ylen(k) end\n"
    "  else for k = y, 1969 do z = z - ylen(k) end end\n"
    "  for k = 1, m - 1 do z = z + mdays(y, k) end\n"
    "  return z + d - 1\n"
    "end\n"
    "local function civil(z)\n"
    "  local y = 1970\n"
    "  while z < 0 do y = y - 1; z = z + ylen(y) end\n"
    "  while z >= ylen(y) do z = z - ylen(y); y = y + 1 end\n"
    "  local m = 1\n"
    "  while z >= mdays(y, m) do z = z - mdays(y, m); m = m + 1 end\n"
    "  return y, m, z + 1\n"
    "end\n"
    "local function off(c)\n"
    "  local tz = c.timezone\n"
    "  if tz == nil or tz == 'Z' then return 0 end\n"
    "  local s, h, m = tz:match('^([+-])(%d%d):(%d%d)$')\n"
    "  local v = (tonumber(h) * 60 + tonumber(m)) * 60\n"
    "  return s == '-' and -v or v\n"
    "end\n"
    "local function date(c, name)\n"
    "  local v = c.attributes[name]\n"
    "  if math.type(v) == 'integer' then return v end\n"
    "  if type(v) ~= 'string' then return nil end\n"
    "  local y, mo, d, rest = v:match('^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$')\n"
    "  if not y then return nil end\n"
    "  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)\n"
    "  if mo < 1 or mo > 12 or d < 1 or d > mdays(y, mo) then return nil end\n"
    "  local t = dfc(y, mo, d) * 86400\n"
    "  if rest == '' then return t - off(c) end\n"
    "  local hh, mi, ss, z = rest:match('^T(%d%d):(%d%d):(%d%d)(.*)$')\n"
    "  if not hh then return nil end\n"
    "  t = t + tonumber(hh) * 3600 + tonumber(mi) * 60 + tonumber(ss)\n"
    "  if z == '' then return t - off(c) end\n"
    "  if z == 'Z' then return t end\n"
    "  local s, h, m = z:match('^([+-])(%d%d):(%d%d)$')\n"
    "  if not s then return nil end\n"
    "  local o = tonumber(h) * 3600 + tonumber(m) * 60\n"
    "  return s == '-' and t + o or t - o\n"
    "end\n"
    "local function today(c) return civil((c.now + off(c)) // 86400) end\n"
    "local function local_day(c, t) return (t + off(c)) // 86400 end\n"
    "local MONTH, YEAR = 2629746, 31556952\n";

/* Load `decls`, then action 'a' whose `when` is the word, and action 'b'
 * whose `when` is function(c) <lua> end, the same condition in plain Lua. */
static void load_pair(const char *decls, const char *word, const char *lua)
{
    char text[16384];
    snprintf(text, sizeof text,
             "%s%s\n"
             "action 'a' { channels = { 'web' }, value = 10, when = %s }\n"
             "action 'b' { channels = { 'web' }, value = 10, when = function(c)\n%s\nend }\n",
             LUA_DATES, decls ? decls : "", word, lua);
    cr_assert(rf_load(&R, "rules.lua", text, NULL), "did not load:\n%s", rf_problems(&R));
}

/* Whether the word holds for the context; fails when the plain Lua rule
 * disagrees. */
__attribute__((format(printf, 1, 2)))
static bool both(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = rf_vdecide(&R, fmt, ap);
    va_end(ap);
    cr_assert_eq(rc, 0, "context refused: %s", R.err.message);
    bool a = rf_chosen(&R, "a"), b = rf_chosen(&R, "b");
    cr_assert_eq(a, b, "the C word says %d, the plain Lua rule %d: %s", a, b, rf_dump(&R));
    return a;
}

/* ---- since / until_date --------------------------------------------------- */

#define ENGAGED "since('engaged_at', between(months(2), months(6)))"
#define ENGAGED_LUA \
    "local t = date(c, 'engaged_at')\n" \
    "return t ~= nil and c.now - t >= 2 * MONTH and c.now - t <= 6 * MONTH"

Test(dsl_dates, since_a_date_in_seconds_or_iso)
{
    load_pair(NULL, ENGAGED, ENGAGED_LUA);
    cr_expect(both("{'attributes':{'engaged_at':%lld}}", AGO_DAYS(90)), "3 months ago");
    cr_expect_not(both("{'attributes':{'engaged_at':%lld}}", AGO_DAYS(30)), "1 month ago");
    cr_expect_not(both("{'attributes':{'engaged_at':%lld}}", AGO_DAYS(200)), "6.6 months ago");
    cr_expect(both("{'attributes':{'engaged_at':%lld}}", RF_NOW - 2 * 2629746), "2 months to the second");
    cr_expect_not(both("{'attributes':{'engaged_at':%lld}}", RF_NOW - 2 * 2629746 + 1));
    cr_expect(both("{'attributes':{'engaged_at':'2025-10-01'}}"), "ISO date, 3 months before 2026-01-01");
    cr_expect(both("{'attributes':{'engaged_at':'2025-10-01T18:30:00+02:00'}}"));
    cr_expect_not(both("{'attributes':{'engaged_at':'2025-12-01'}}"), "one month");
    cr_expect(both("{'attributes':{'engaged_at':'2025-11-01T00:00:00Z'}}"), "61 days: 2.004 months");
    cr_expect_not(both("{'attributes':{'engaged_at':'2025-11-02T00:00:00Z'}}"), "60 days: 1.97 months");
}

Test(dsl_dates, since_is_false_for_absent_unreadable_or_future_dates)
{
    load_pair(NULL, ENGAGED, ENGAGED_LUA);
    cr_expect_not(both("{}"), "no attributes");
    cr_expect_not(both("{'attributes':{'engaged_at':'next tuesday'}}"));
    cr_expect_not(both("{'attributes':{'engaged_at':'2025-02-30'}}"), "no such day");
    cr_expect_not(both("{'attributes':{'engaged_at':true}}"));
    cr_expect_not(both("{'attributes':{'engaged_at':%lld}}", AGO_DAYS(90) * 1000),
                  "milliseconds are no date (year 57000)");
    load_pair(NULL, "since('engaged_at', at_most(days(30)))",
              "local t = date(c, 'engaged_at')\n"
              "return t ~= nil and c.now >= t and c.now - t <= 30 * 86400");
    cr_expect(both("{'attributes':{'engaged_at':%lld}}", AGO_DAYS(3)));
    cr_expect_not(both("{'attributes':{'engaged_at':%lld}}", AGO_DAYS(-3)), "a date to come is not since");
}

Test(dsl_dates, since_within_a_window)
{
    load_pair(NULL, "since('signed_up_at', within(days(30)))",
              "local t = date(c, 'signed_up_at')\n"
              "return t ~= nil and c.now >= t and c.now - t <= 30 * 86400");
    cr_expect(both("{'attributes':{'signed_up_at':%lld}}", AGO_DAYS(30)));
    cr_expect_not(both("{'attributes':{'signed_up_at':%lld}}", AGO_DAYS(31)));
    cr_expect_not(both("{'attributes':{'signed_up_at':%lld}}", AGO_DAYS(-1)));
}

Test(dsl_dates, until_date_counts_forward_only)
{
    load_pair(NULL, "until_date('renewal_at', at_most(days(14)))",
              "local t = date(c, 'renewal_at')\n"
              "return t ~= nil and t >= c.now and t - c.now <= 14 * 86400");
    cr_expect(both("{'attributes':{'renewal_at':'2026-01-10'}}"));
    cr_expect(both("{'attributes':{'renewal_at':'2026-01-15T00:00:00Z'}}"), "14 days exactly");
    cr_expect_not(both("{'attributes':{'renewal_at':'2026-01-15T00:00:01Z'}}"));
    cr_expect_not(both("{'attributes':{'renewal_at':'2025-12-01'}}"), "a renewal passed is not until");
    cr_expect_not(both("{}"));
    cr_expect(both("{'attributes':{'renewal_at':'2026-01-15'},'timezone':'+02:00'}"),
                  "midnight at +02:00 is 22:00 UTC the day before: 13.9 days");
}

Test(dsl_dates, years_are_365_2425_days)
{
    load_pair(NULL, "since('member_since', at_least(years(1)))",
              "local t = date(c, 'member_since')\n"
              "return t ~= nil and c.now - t >= YEAR");
    cr_expect_not(both("{'attributes':{'member_since':'2025-01-01T00:00:00Z'}}"), "365 days");
    cr_expect(both("{'attributes':{'member_since':'2024-12-31T18:00:00Z'}}"), "365.25 days");
}

/* ---- anniversary ----------------------------------------------------------- */

/* The Lua twin of anniversary(name, { years = Y (0 any), within = W days }). */
static void load_anniversary(int years, int within)
{
    char word[160], lua[1024];
    if (years)
        snprintf(word, sizeof word, "anniversary('member_since', { years = %d, within = days(%d) })",
                 years, within);
    else
        snprintf(word, sizeof word, "anniversary('member_since', { within = days(%d) })", within);
    snprintf(lua, sizeof lua,
             "local t = date(c, 'member_since')\n"
             "if t == nil then return false end\n"
             "local y0, m0, d0 = civil(local_day(c, t))\n"
             "local y = today(c)\n"
             "local now = local_day(c, c.now)\n"
             "for yc = y, y + 1 do\n"
             "  local dd = (m0 == 2 and d0 == 29 and not leap(yc)) and 28 or d0\n"
             "  local ahead = dfc(yc, m0, dd) - now\n"
             "  local n = yc - y0\n"
             "  if n >= 1 and (%d == 0 or n == %d) and ahead >= 0 and ahead < %d then return true end\n"
             "end\n"
             "return false",
             years, years, within);
    load_pair(NULL, word, lua);
}

Test(dsl_dates, anniversary_in_the_days_ahead)
{
    load_anniversary(3, 7);
    cr_expect(both("{'attributes':{'member_since':'2023-01-05'}}"), "3rd anniversary in 4 days");
    cr_expect(both("{'attributes':{'member_since':'2023-01-01'}}"), "3rd anniversary today");
    cr_expect(both("{'attributes':{'member_since':'2023-01-07'}}"), "in 6 days: the 7th day");
    cr_expect_not(both("{'attributes':{'member_since':'2023-01-08'}}"), "in 7 days: the 8th day");
    cr_expect_not(both("{'attributes':{'member_since':'2022-12-31'}}"), "yesterday");
    cr_expect_not(both("{'attributes':{'member_since':'2022-01-05'}}"), "the 4th, not the 3rd");
    cr_expect(both("{'attributes':{'member_since':%lld}}", at(2023, 1, 3, 15, 0)), "unix seconds");
    cr_expect_not(both("{}"));
    cr_expect_not(both("{'attributes':{'member_since':'soon'}}"));
    load_anniversary(0, 7);
    cr_expect(both("{'attributes':{'member_since':'2022-01-05'}}"), "any anniversary");
    cr_expect(both("{'attributes':{'member_since':'2025-01-05'}}"), "the first");
    cr_expect_not(both("{'attributes':{'member_since':'2026-01-03'}}"), "joined in 2 days: no anniversary");
    cr_expect_not(both("{'attributes':{'member_since':'2026-01-01'}}"), "joined today: the 0th is none");
}

Test(dsl_dates, anniversary_across_the_year_boundary)
{
    load_anniversary(6, 7);
    cr_expect(both("{'now':%lld,'attributes':{'member_since':'2020-01-02'}}", at(2025, 12, 30, 12, 0)),
              "Dec 30: the 6th anniversary on Jan 2 next year");
    cr_expect_not(both("{'now':%lld,'attributes':{'member_since':'2019-01-02'}}", at(2025, 12, 30, 12, 0)),
                  "that would be the 7th");
    cr_expect_not(both("{'now':%lld,'attributes':{'member_since':'2020-01-02'}}", at(2024, 12, 30, 12, 0)),
                  "a year early: the 5th");
}

Test(dsl_dates, anniversary_of_february_29)
{
    load_anniversary(1, 1);
    cr_expect(both("{'now':%lld,'attributes':{'member_since':'2024-02-29'}}", at(2025, 2, 28, 9, 0)),
              "Feb 28 in a year without Feb 29");
    cr_expect_not(both("{'now':%lld,'attributes':{'member_since':'2024-02-29'}}", at(2025, 3, 1, 9, 0)));
    load_anniversary(4, 1);
    cr_expect(both("{'now':%lld,'attributes':{'member_since':'2024-02-29'}}", at(2028, 2, 29, 9, 0)),
              "Feb 29 again in 2028");
    cr_expect_not(both("{'now':%lld,'attributes':{'member_since':'2024-02-29'}}", at(2028, 2, 28, 9, 0)),
                  "not the 28th in a leap year");
}

Test(dsl_dates, anniversary_in_the_customer_timezone)
{
    load_anniversary(3, 1);
    long long now = at(2026, 1, 4, 23, 0);   /* Jan 5, 01:00 at +02:00 */
    cr_expect_not(both("{'now':%lld,'attributes':{'member_since':'2023-01-05'}}", now), "Jan 4 in UTC");
    cr_expect(both("{'now':%lld,'timezone':'+02:00','attributes':{'member_since':'2023-01-05'}}", now),
              "Jan 5 at +02:00");
    cr_expect_not(both("{'now':%lld,'timezone':'-05:00','attributes':{'member_since':'2023-01-05'}}", now));
    cr_expect(both("{'now':%lld,'timezone':'+02:00','attributes':{'member_since':'2023-01-04T23:30:00Z'}}", now),
              "joined at 01:30 on Jan 5 in the customer's time");
    load_when("settings { utc_offset_hours = 2 }", "anniversary('member_since', { years = 3 })");
    cr_expect(hit("{'now':%lld,'attributes':{'member_since':'2023-01-05'}}", now),
              "the ruleset's offset when the context sends none");
    cr_expect_not(hit("{'now':%lld,'timezone':'Z','attributes':{'member_since':'2023-01-05'}}", now),
                  "the context's timezone wins");
}

/* ---- month, season, day_between ------------------------------------------- */

Test(dsl_dates, month_and_season_in_local_time)
{
    const char *spring_lua = "local y, m = today(c) return m >= 3 and m <= 5";
    load_pair(NULL, "month('mar', 'April', 5)", spring_lua);
    cr_expect(both("{'now':%lld}", at(2026, 3, 1, 0, 30)));
    cr_expect(both("{'now':%lld}", at(2026, 5, 31, 23, 59)));
    cr_expect_not(both("{'now':%lld}", at(2026, 2, 28, 23, 59)));
    cr_expect_not(both("{'now':%lld}", at(2026, 6, 1, 0, 0)));
    cr_expect_not(both("{'now':%lld,'timezone':'-05:00'}", at(2026, 3, 1, 0, 30)), "still Feb 28 at -05:00");
    cr_expect(both("{'now':%lld,'timezone':'+01:00'}", at(2026, 2, 28, 23, 30)), "already Mar 1 at +01:00");
    load_pair(NULL, "season('spring')", spring_lua);
    cr_expect(both("{'now':%lld}", at(2026, 4, 15, 12, 0)));
    cr_expect_not(both("{'now':%lld}", at(2026, 9, 15, 12, 0)));
    load_pair(NULL, "season('winter')", "local y, m = today(c) return m == 12 or m <= 2");
    cr_expect(both("{}"), "January");
    cr_expect(both("{'now':%lld}", at(2025, 12, 31, 23, 0)));
    cr_expect(both("{'now':%lld}", at(2028, 2, 29, 12, 0)));
    cr_expect_not(both("{'now':%lld}", at(2028, 3, 1, 0, 0)));
    load_when(NULL, "season('fall')");
    cr_expect(hit("{'now':%lld}", at(2026, 10, 1, 0, 0)));
    cr_expect_not(hit("{}"));
}

Test(dsl_dates, day_between_every_year_and_over_the_new_year)
{
    load_pair(NULL, "day_between('03-15', '05-31')",
              "local y, m, d = today(c) local md = m * 100 + d return md >= 315 and md <= 531");
    cr_expect(both("{'now':%lld}", at(2026, 3, 15, 0, 0)));
    cr_expect(both("{'now':%lld}", at(2031, 5, 31, 23, 59)), "every year");
    cr_expect_not(both("{'now':%lld}", at(2026, 3, 14, 23, 59)));
    cr_expect_not(both("{'now':%lld}", at(2026, 6, 1, 0, 0)));
    load_pair(NULL, "day_between('12-01', '02-28')",
              "local y, m, d = today(c) local md = m * 100 + d return md >= 1201 or md <= 228");
    cr_expect(both("{'now':%lld}", at(2025, 12, 1, 0, 0)));
    cr_expect(both("{}"), "Jan 1");
    cr_expect(both("{'now':%lld}", at(2028, 2, 28, 12, 0)));
    cr_expect_not(both("{'now':%lld}", at(2028, 2, 29, 12, 0)), "Feb 29 is after Feb 28");
    cr_expect_not(both("{'now':%lld}", at(2025, 11, 30, 23, 59)));
    cr_expect(both("{'now':%lld,'timezone':'+01:00'}", at(2025, 11, 30, 23, 30)), "Dec 1 at +01:00");
    load_pair(NULL, "day_between('02-29', '02-29')",
              "local y, m, d = today(c) return m == 2 and d == 29");
    cr_expect(both("{'now':%lld}", at(2028, 2, 29, 12, 0)));
    cr_expect_not(both("{'now':%lld}", at(2027, 2, 28, 12, 0)));
}

/* ---- the customer's timezone for hour_between and weekday ----------------- */

Test(dsl_dates, hour_between_and_weekday_in_the_customer_timezone)
{
    load_pair("settings { utc_offset_hours = 1 }", "hour_between(9, 17)",
              "local h = ((c.now + (c.timezone and off(c) or 3600)) % 86400) // 3600\n"
              "return h >= 9 and h < 17");
    cr_expect(both("{'now':%lld,'timezone':'+02:00'}", RF_NOW + 8 * 3600), "08:00 UTC is 10:00 at +02:00");
    cr_expect_not(both("{'now':%lld}", RF_NOW + 7 * 3600), "08:00 at the ruleset's +1");
    cr_expect(both("{'now':%lld}", RF_NOW + 8 * 3600), "09:00 at the ruleset's +1");
    cr_expect_not(both("{'now':%lld,'timezone':'Z'}", RF_NOW + 8 * 3600), "Z: 08:00");
    cr_expect(both("{'now':%lld,'timezone':'-05:30'}", RF_NOW + 14 * 3600 + 1800), "09:00 at -05:30");
    cr_expect_not(both("{'now':%lld,'timezone':'-05:30'}", RF_NOW + 14 * 3600 + 1799));
    load_pair(NULL, "weekday('wed')",
              "return ((c.now + off(c)) // 86400 + 4) % 7 == 3");
    cr_expect_not(both("{}"), "Thursday in UTC");
    cr_expect(both("{'timezone':'-00:30'}"), "still Wednesday at -00:30");
}

Test(dsl_dates, plain_rules_read_the_timezone)
{
    load_when(NULL, "function(c) return c.timezone == '+05:45' end");
    cr_expect(hit("{'timezone':'+05:45'}"));
    cr_expect_not(hit("{}"), "absent: nil");
}

/* ---- in weights ------------------------------------------------------------ */

Test(dsl_dates, date_words_weigh_through_boost)
{
    load_weight(NULL, "boost(anniversary('member_since', { within = days(7) }), 2) * "
                      "boost(season('winter'), 1.5)");
    double p = prio("{'attributes':{'member_since':'2020-01-03'}}");
    cr_expect(NEAR(p, 30), "10 x 2 x 1.5, got %g", p);
    p = prio("{'attributes':{'member_since':'2020-03-03'}}");
    cr_expect(NEAR(p, 15), "10 x 1.5, got %g", p);
}

/* ---- mistakes the words catch ---------------------------------------------- */

static void expect_refused(const char *when, const char *needle)
{
    char text[1024];
    snprintf(text, sizeof text, "action 'a' { channels = { 'web' }, value = 10,\n  when = %s }\n", when);
    cr_assert_not(rf_load(&R, "rules.lua", text, NULL), "loaded: %s", when);
    cr_expect_not_null(rf_problem_with(&R, "rules.lua:2:", needle, NULL),
                       "%s: wanted rules.lua:2: ... %s, got:\n%s", when, needle, rf_problems(&R));
}

Test(dsl_dates, mistakes_in_date_words_are_load_errors_at_the_line)
{
    expect_refused("since('engaged_at', days(30))", "since: expected a comparison of durations");
    expect_refused("since('engaged_at', 'gold')", "since: expected a comparison");
    expect_refused("until_date('renewal_at', one_of { 'a' })", "until_date: expected a comparison");
    expect_refused("since(42, at_most(days(3)))", "since: expected an attribute name");
    expect_refused("anniversary('m', { year = 3 })", "unknown option 'year'");
    expect_refused("anniversary('m', { years = 2.5 })", "years is a whole number");
    expect_refused("anniversary('m', { within = hours(2) })", "within is from days(1)");
    expect_refused("anniversary('m', 3)", "anniversary: expected options");
    expect_refused("month('smarch')", "month: expected month names");
    expect_refused("month(13)", "month: expected month names");
    expect_refused("month()", "month: name at least one month");
    expect_refused("season('monsoon')", "season: expected \"spring\"");
    expect_refused("day_between('02-30', '03-01')", "day_between: expected days as \"MM-DD\"");
    expect_refused("day_between('3-1', '03-31')", "day_between: expected days as \"MM-DD\"");
    expect_refused("months(-1) > 0", "months: expected a count >= 0");
}

/* ---- helpers shared across files ------------------------------------------- */

Test(dsl_dates, a_shared_condition_is_used_by_the_files_that_load_after)
{
    /* "A.lua" sorts before "_shared.lua" byte by byte: it only sees the
     * share because _*.lua files load first. */
    cr_assert(rf_load(&R,
                      "_shared.lua", "share('adult', attribute('age', at_least(18)))\n"
                                     "share('spring', season('spring'))\n",
                      "A.lua", "action 'a' { channels = { 'web' }, value = 10, when = shared.adult }\n",
                      "b.lua", "action 'b' { channels = { 'web' }, value = 10,\n"
                               "  when = all { shared('adult'), shared.spring } }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'attributes':{'age':30},'now':%lld}", at(2026, 4, 1, 12, 0));
    cr_expect_str_eq(rf_ids(&R), "a,b");
    rf_decide(&R, "{'attributes':{'age':30}}");
    cr_expect_str_eq(rf_ids(&R), "a", "January is not spring");
    rf_decide(&R, "{'attributes':{'age':12},'now':%lld}", at(2026, 4, 1, 12, 0));
    cr_expect_str_eq(rf_ids(&R), "");
    /* One table, one compiled node: a shared condition is compiled once. */
    const arb_action_hot_t *a = &R.rs->hot[0], *b = &R.rs->hot[1];
    cr_expect_eq(R.rs->kids[R.rs->nodes[b->when].first], (uint32_t)a->when);
}

Test(dsl_dates, a_date_word_used_by_several_actions_is_read_once_per_request)
{
    /* A date attribute is looked up and its text parsed: a shared date
     * condition is remembered per request like an attribute one. */
    cr_assert(rf_load(&R,
                      "_shared.lua", "share('engaged', since('engaged_at', between(months(2), months(6))))\n"
                                     "share('loyal', anniversary('member_since', { within = days(7) }))\n",
                      "a.lua", "action 'a' { channels = { 'web' }, value = 10, when = shared.engaged }\n"
                               "action 'b' { channels = { 'web' }, value = 9, when = shared.engaged }\n"
                               "action 'c' { channels = { 'web' }, value = 8, when = shared.loyal }\n"
                               "action 'd' { channels = { 'web' }, value = 7, when = shared.loyal }\n",
                      NULL),
              "%s", rf_problems(&R));
    cr_expect(R.rs->nodes[R.rs->hot[0].when].memo, "since, shared: remembered");
    cr_expect(R.rs->nodes[R.rs->hot[2].when].memo, "anniversary, shared: remembered");
    rf_decide(&R, "{'attributes':{'engaged_at':'2025-10-01','member_since':'2020-01-03'}}");
    cr_expect_str_eq(rf_ids(&R), "a,b,c", "the top 3 (the default limit)");
    rf_decide(&R, "{'attributes':{'engaged_at':'2025-12-01','member_since':'2020-01-03'}}");
    cr_expect_str_eq(rf_ids(&R), "c,d");
}

Test(dsl_dates, an_unknown_shared_name_is_a_load_error_at_its_line)
{
    cr_assert_not(rf_load(&R,
                          "_shared.lua", "share('adult', attribute('age', at_least(18)))\n",
                          "a.lua", "action 'a' { channels = { 'web' }, value = 10,\n"
                                   "  when = shared.adlut }\n",
                          NULL));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:2:", "nothing is shared as 'adlut'", "_*.lua", NULL),
                       "%s", rf_problems(&R));
    cr_assert_not(rf_load(&R,
                          "a.lua", "action 'a' { channels = { 'web' }, value = 10,\n"
                                   "  when = shared('later') }\n",
                          "b.lua", "share('later', raining())\n",
                          NULL));
    cr_expect_not_null(rf_problem_with(&R, "a.lua:2:", "nothing is shared as 'later'", NULL),
                       "a share in a file loading later is not seen: %s", rf_problems(&R));
}

Test(dsl_dates, sharing_a_name_twice_or_a_non_condition_is_a_load_error)
{
    cr_assert_not(rf_load(&R,
                          "_a.lua", "share('adult', attribute('age', at_least(18)))\n",
                          "_b.lua", "\nshare('adult', raining())\n",
                          NULL));
    cr_expect_not_null(rf_problem_with(&R, "_b.lua:2:", "'adult' is already shared", "_a.lua:1", NULL),
                       "%s", rf_problems(&R));
    cr_assert_not(rf_load(&R, "_b.lua", "share('wet', raining)\n", NULL));
    cr_expect_not_null(rf_problem_with(&R, "_b.lua:1:", "'raining' must be called", NULL), "%s",
                       rf_problems(&R));
    cr_assert_not(rf_load(&R, "_b.lua", "share('n', 3)\n", NULL));
    cr_expect_not_null(rf_problem_with(&R, "_b.lua:1:", "share: 'n' must be a condition", NULL), "%s",
                       rf_problems(&R));
    cr_assert_not(rf_load(&R, "_b.lua", "shared.x = raining()\n", NULL));
    cr_expect_not_null(rf_problem_with(&R, "_b.lua:1:", "shared is read-only", NULL), "%s",
                       rf_problems(&R));
}

Test(dsl_dates, a_shared_weight_and_function)
{
    cr_assert(rf_load(&R,
                      "_shared.lua", "share('loyal', boost(anniversary('member_since'), 3))\n"
                                     "share('vip', function(c) return c.attributes.vip == true end)\n",
                      "a.lua", "action 'a' { channels = { 'web' }, value = 10, weight = shared.loyal,\n"
                               "  when = shared.vip }\n",
                      NULL),
              "%s", rf_problems(&R));
    rf_decide(&R, "{'attributes':{'vip':true,'member_since':'2020-01-01'}}");
    cr_expect(NEAR(rf_priority(&R, "a"), 30), "%s", rf_dump(&R));
    rf_decide(&R, "{'attributes':{'vip':false,'member_since':'2020-01-01'}}");
    cr_expect_str_eq(rf_ids(&R), "");
}
