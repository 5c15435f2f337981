-- The rule language's checks: what every vocabulary word takes, checked
-- before the word runs, and the words Lua's and/or/not must not touch.
--
-- Compiled into the arbiter binary beside dsl/prelude.lua, which calls this
-- chunk once (as C.checks) with its vocabulary V, its test words T and its
-- markers; the words of V and T that have an entry in USAGE are replaced by
-- checked ones, and the set of condition and weight words is returned for
-- the loader's scan of each rule file (engine/ruleset/lexcheck.c). See
-- dsl/README.mistakes.md for every mistake refused and its message.

local P = ...
local V, T, is, COND, CMP = P.V, P.T, P.is, P.COND, P.CMP
local type, pairs, ipairs, select, error = type, pairs, ipairs, select, error
local floor, format = math.floor, string.format

-- What every word takes, checked before the word runs, so that a mistake
-- is refused at the rule's line instead of ignored: the most arguments
-- (select('#') counts trailing nils, so bought(x, w, nil) is three), how
-- the word is written, and which arguments are durations. The checks run
-- in a wrapper that tail-calls the word: the word's own errors still blame
-- the rule's line (level 2). A word added to V without an entry here is
-- not checked: give it one.
-- Windows may be minutes (viewed within the last 5 minutes); a lapse, a
-- replenishment period or a half-life under an hour is surely a mistake.
local MINUTE, HOUR, MAX_DURATION = 60, 3600, 100 * 365.25 * 86400

local function number_text(n)
  if n == floor(n) and n > -1e15 and n < 1e15 then return format("%d", n) end
  return format("%g", n)
end

-- A duration given as a bare number: below its least (a minute, an hour)
-- it is surely days written without their unit; past 100 years it is a
-- date in milliseconds. (A date in unix seconds, some 56 years, cannot be
-- told from a long window, which tests use: it is not refused.)
local function check_duration(fn, v, example, least)
  if type(v) ~= "number" or v ~= v then return end
  if v < least then
    error(format("%s: %s is a number of seconds, surely a missing unit (this duration is at least %s): write %s",
                 fn, number_text(v), least == HOUR and "an hour" or "a minute", format(example, number_text(v))), 3)
  end
  if v > MAX_DURATION then
    error(format("%s: %s seconds is over 100 years: it looks like a date, not a duration (write a duration such as days(30))",
                 fn, number_text(v)), 3)
  end
end

-- A score is in [0, 1] (DESIGN.md): a comparison with a bound outside it
-- always or never holds.
local function check_score_cmp(model, c)
  local hint = "scores are between 0 and 1: write a threshold such as above(0.7)"
  if type(c) == "string" or (is(c, CMP) and (c.op == "eq" and c.s ~= nil or c.op == "one_of")) then
    error(format("score(%q, ...): a score is a number, never a string: %s", model, hint), 3)
  end
  local bounds = type(c) == "number" and { c } or (is(c, CMP) and { c.a, c.b }) or {}
  for _, b in pairs(bounds) do
    if type(b) == "number" and (b < 0 or b > 1) then
      error(format("score(%q, ...): the bound %s is outside [0, 1], where every score lies, so the comparison always holds or never does: %s",
                   model, number_text(b), hint), 3)
    end
  end
end

-- recency needs one purchase or event: a list is any of several.
local function check_recency_of(what)
  if is(what, COND) and what.op == "any" then
    local names, parts = {}, {}
    for i, c in ipairs(what) do
      if type(c) == "table" and type(c.what) == "string" then names[#names + 1] = c.what end
      if i > 3 then break end
    end
    for i = 1, #names do parts[i] = format("recency(%q, days(7))", names[i]) end
    local example = #parts >= 2 and format("max_of(%s, %s)", parts[1], parts[2])
                    or "max_of(recency(\"a\", days(7)), recency(\"b\", days(7)))"
    error(format("recency: a list (bought { ... }) is any of several purchases, and a recency is of one; "
                 .. "for the newest of them write %s", example), 3)
  end
end

local USAGE = {
  seconds = { 1, "seconds(30)" }, minutes = { 1, "minutes(30)" }, hours = { 1, "hours(6)" },
  days = { 1, "days(30)" }, weeks = { 1, "weeks(2)" }, km = { 1, "km(2)" },
  within = { 1, "within(days(30))", dur = { [1] = { "within(days(%s))", MINUTE } } },
  at_least = { 1, "at_least(3)" }, at_most = { 1, "at_most(3)" }, above = { 1, "above(0.7)" },
  below = { 1, "below(0.7)" }, between = { 2, "between(2, 5)" },
  one_of = { 1, "one_of { \"gold\", \"platinum\" }" },
  all = { 1, "all { raining(), cold() }" }, any = { 1, "any { raining(), cold() }" },
  no = { 1, "no(raining()), or no(any { a, b }) for neither" },
  not_ = { 1, "no(raining()), or no(any { a, b }) for neither" },
  bought = { 2, "bought(\"laptop\", within(days(30)))" }, owns = { 1, "owns(\"tv\")" },
  due_for_replenishment = { 2, "due_for_replenishment(\"coffee\", days(30))",
                            dur = { [2] = { "due_for_replenishment(..., days(%s))", HOUR } } },
  lapsed = { 1, "lapsed(days(90))", dur = { [1] = { "lapsed(days(%s))", HOUR } } },
  new_customer = { 0, "new_customer()" },
  purchases = { 3, "purchases(at_least(2), \"shoes\", within(days(60)))" },
  spent = { 3, "spent(at_least(500), within(days(365)), \"shoes\")" },
  viewed = { 2, "viewed(\"laptop\", within(days(7)))" },
  added_to_cart = { 2, "added_to_cart(\"laptop\", within(days(7)))" },
  abandoned_cart = { 2, "abandoned_cart(\"laptop\", within(days(7)))" },
  opened_email = { 2, "opened_email(\"newsletter\", within(days(7)))" },
  clicked_email = { 2, "clicked_email(\"newsletter\", within(days(7)))" },
  searched = { 2, "searched(\"laptop\", within(days(7)))" },
  did = { 3, "did(\"wishlist_add\", \"sku-1\", within(days(7)))" },
  weather = { 1, "weather(\"rain\")" }, raining = { 0, "raining()" }, snowing = { 0, "snowing()" },
  temperature = { 1, "temperature(at_least(25))" }, hot = { 0, "hot()" }, cold = { 0, "cold()" },
  near_store = { 1, "near_store(km(2))" }, in_store = { 1, "in_store(\"store_id\") or in_store()" },
  in_country = { 1, "in_country(\"FR\")" }, consented = { 1, "consented(\"location\")" },
  attribute = { 2, "attribute(\"loyalty_tier\", \"gold\")" }, segment = { 1, "segment(\"vip\")" },
  score = { 2, "score(\"churn\", above(0.7))" },
  hour_between = { 2, "hour_between(9, 17)" }, weekday = { 7, "weekday(\"sat\", \"sun\")" },
  weekend = { 0, "weekend()" }, on_channel = { 1, "on_channel(\"email\")" },
  at_touchpoint = { 1, "at_touchpoint(\"web_home\")" },
  recency = { 2, "recency(\"laptop\", days(14))", dur = { [2] = { "recency(..., days(%s))", HOUR } } },
  boost = { 3, "boost(raining(), 1.5)" }, min_of = { 2, "min_of(a, b)" }, max_of = { 2, "max_of(a, b)" },
  adaptive = { 1, "adaptive { prior = 0.05 }" },
  action = { 1, "action \"id\" { ... }" }, fallback = { 1, "fallback \"id\" { ... }" },
  touchpoint = { 1, "touchpoint \"id\" { ... }" }, store = { 1, "store \"id\" { lat = ..., lon = ... }" },
  group = { 1, "group \"id\" { ... }" }, channel = { 1, "channel \"id\" { ... }" },
  experiment = { 1, "experiment \"id\" { ... }" },
  models = { 1, "models { \"churn\" }" }, channels = { 1, "channels { \"kiosk\" }" },
  settings = { 1, "settings { default_limit = 3 }" }, outcomes = { 1, "outcomes { \"purchase\" }" },
  control = { 1, "control { share = 0.05 }" },
  test = { 1, "test \"name\" { context = { ... }, expect = { ... } }" }, ago = { 1, "ago(days(3))" },
  -- dsl/prelude_history.lua
  before = { 2, "before(viewed { category = \"laptop\" }, bought { category = \"laptop\" })" },
  since_last_purchase = { 1, "since_last_purchase(abandoned_cart())" },
  first_purchase = { 1, "first_purchase(at_least(days(365)))" },
  last_purchase = { 1, "last_purchase(at_most(days(30)))" },
  only_bought = { 2, "only_bought { category = \"shoes\" }" },
  one_category = { 1, "one_category()" },
  -- dsl/prelude_dates.lua
  months = { 1, "months(6)" }, years = { 1, "years(3)" },
  since = { 2, "since(\"engaged_at\", between(months(2), months(6)))" },
  until_date = { 2, "until_date(\"renewal_at\", at_most(days(14)))" },
  anniversary = { 2, "anniversary(\"member_since\", { years = 3, within = days(7) })" },
  month = { 12, "month(\"mar\", \"apr\", \"may\")" }, season = { 1, "season(\"spring\")" },
  day_between = { 2, "day_between(\"03-15\", \"05-31\")" },
  share = { 2, "share(\"name\", bought(\"laptop\"))" },
}

local EXTRA = {
  -- Tail calls, so that their errors at level 3 name the rule's line.
  score = function(model, ...)
    if type(model) == "string" and select("#", ...) > 0 then return check_score_cmp(model, (...)) end
  end,
  recency = function(what) return check_recency_of(what) end,
}

local function checked(name, fn, u)
  local max, example, dur, extra = u[1], u[2], u.dur, EXTRA[name]
  local takes = max == 0 and "no argument" or max == 1 and "one argument" or format("at most %d arguments", max)
  return function(...)
    local n = select("#", ...)
    if n > max then
      error(format("%s: takes %s, got %d (an extra one would be ignored): write %s", name, takes, n, example), 2)
    end
    if dur then
      for i, ex in pairs(dur) do if i <= n then check_duration(name, (select(i, ...)), ex[1], ex[2]) end end
    end
    if extra then extra(...) end
    return fn(...)   -- a tail call: the word's own errors blame the rule's line
  end
end

for _, words in ipairs { V, T } do
  for k, fn in pairs(words) do
    if type(fn) == "function" and USAGE[k] then words[k] = checked(k, fn, USAGE[k]) end
  end
end

-- The words whose result Lua's and/or/not would silently drop: everything
-- but the numbers and comparisons they take and the declarations. The
-- loader scans each rule file's source for and/or/not beside a call of one
-- (engine/ruleset/lexcheck.c).
local NOT_LOGIC = { seconds = 1, minutes = 1, hours = 1, days = 1, weeks = 1, months = 1, years = 1,
                    km = 1, within = 1, share = 1,
                    at_least = 1, at_most = 1, above = 1, below = 1, between = 1, one_of = 1,
                    adaptive = 1, action = 1, fallback = 1, touchpoint = 1, store = 1, group = 1,
                    channel = 1, experiment = 1, models = 1, channels = 1, settings = 1,
                    outcomes = 1, control = 1 }
local LOGIC = {}
for k, v in pairs(V) do
  if type(v) == "function" and not NOT_LOGIC[k] then LOGIC[k] = true end
end
return LOGIC
