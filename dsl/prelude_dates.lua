-- The date words of the rule language, a part of the prelude
-- (dsl/prelude.lua runs it with C.part("dates") and its own helpers): dates
-- held in attributes, recurring seasons, anniversaries, and conditions shared
-- across files. Like the prelude, these functions only build marked tables
-- (compiled to C by engine/ruleset/compile_date.c) and check their arguments
-- at the rule's line.

local P = ...
local V, C, COND, CMP, WIN, EXPR = P.V, P.C, P.COND, P.CMP, P.WIN, P.EXPR
local fail, is, cond, cmp, duration = P.fail, P.is, P.cond, P.cmp, P.duration
local check_string, check_number, check_called = P.check_string, P.check_number, P.check_called

local type, pairs, select, error, tostring, setmetatable, getmetatable, tonumber =
      type, pairs, select, error, tostring, setmetatable, getmetatable, tonumber
local floor, format, unpack = math.floor, string.format, table.unpack

-- A month is a twelfth of the Gregorian year (30.436875 days), a year
-- 365.2425 days: since("engaged_at", at_least(months(2))) is 60.87 days.
-- For a calendar anniversary to the day, anniversary() counts civil dates.
V.months = duration("months", 2629746)
V.years = duration("years", 31556952)

-- How long since (or until) the date held in an attribute: the comparison
-- is on seconds, as between(months(2), months(6)), or a window:
-- since("signed_up_at", within(days(30))) is between(0, days(30)). The
-- date is unix seconds or an ISO-8601 string; absent or unreadable: false.
local function date_cmp(fn, c)
  if is(c, WIN) then return cmp("between", 0, c.seconds) end
  if is(c, CMP) and (c.op == "ge" or c.op == "gt" or c.op == "le" or c.op == "lt" or c.op == "between") then
    return c
  end
  fail(format("%s: expected a comparison of durations such as between(months(2), months(6)) or within(days(30))", fn), 3)
end
function V.since(name, c)
  check_string("since", "an attribute name", name)
  return cond { op = "since", name = name, cmp = date_cmp("since", c) }
end
function V.until_date(name, c)
  check_string("until_date", "an attribute name", name)
  return cond { op = "until", name = name, cmp = date_cmp("until_date", c) }
end

-- anniversary("member_since", { years = 3, within = days(7) }): the date's
-- 3rd anniversary is today or in the 6 days after (local days). years
-- omitted: any anniversary; within omitted: days(1), today only.
function V.anniversary(name, opts)
  check_string("anniversary", "an attribute name", name)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" or getmetatable(opts) ~= nil then
    fail("anniversary: expected options as in { years = 3, within = days(7) }", 2)
  end
  for k in pairs(opts) do
    if k ~= "years" and k ~= "within" then
      fail(format("anniversary: unknown option '%s' (options are: years, within)", tostring(k)), 2)
    end
  end
  local years, within = opts.years, opts.within
  if years ~= nil then
    check_number("anniversary", "years as a whole number", years)
    if years < 1 or years > 10000 or floor(years) ~= years then
      fail("anniversary: years is a whole number from 1, as in years = 3", 2)
    end
  end
  if within ~= nil then
    check_number("anniversary", "within as a duration such as days(7)", within)
    if within < 86400 or within > 366 * 86400 then
      fail("anniversary: within is from days(1) (today) to days(366)", 2)
    end
  end
  return cond { op = "anniversary", name = name, years = years or 0, within = within or 86400 }
end

local MONTHS = { jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6,
                 jul = 7, aug = 8, sep = 9, oct = 10, nov = 11, dec = 12 }
local function month_mask(fn, ...)
  local mask = 0
  for i = 1, select("#", ...) do
    local m = select(i, ...)
    local n = type(m) == "string" and MONTHS[m:sub(1, 3):lower()] or
              type(m) == "number" and m >= 1 and m <= 12 and floor(m) == m and m
    if not n then fail(fn .. ": expected month names such as \"mar\" or numbers 1-12", 3) end
    mask = mask | (1 << n)
  end
  if mask == 0 then fail(fn .. ": name at least one month", 3) end
  return mask
end
-- month("mar", "apr", "may"): today's month, in the customer's local time.
function V.month(...) return cond { op = "month", mask = month_mask("month", ...) } end

-- Meteorological seasons of the northern hemisphere, by whole months.
local SEASONS = { spring = { "mar", "apr", "may" }, summer = { "jun", "jul", "aug" },
                  autumn = { "sep", "oct", "nov" }, fall = { "sep", "oct", "nov" },
                  winter = { "dec", "jan", "feb" } }
function V.season(name)
  local months = type(name) == "string" and SEASONS[name:lower()]
  if not months then fail("season: expected \"spring\", \"summer\", \"autumn\" (or \"fall\") or \"winter\"", 2) end
  return cond { op = "month", mask = month_mask("season", unpack(months)) }
end

-- day_between("03-15", "05-31"), both days included, every year;
-- day_between("12-01", "02-28") wraps over the new year.
local function month_day(fn, s)
  local m, d
  if type(s) == "string" then m, d = s:match("^(%d%d)%-(%d%d)$") end
  m, d = tonumber(m), tonumber(d)
  local last = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
  if not (m and d) or m < 1 or m > 12 or d < 1 or d > last[m] then
    fail(fn .. ": expected days as \"MM-DD\", such as \"03-15\"", 3)
  end
  return m * 100 + d
end
function V.day_between(from, to)
  return cond { op = "day", from = month_day("day_between", from), to = month_day("day_between", to) }
end

-- Helpers shared across files: share("adult_shopper", cond) in one file,
-- shared.adult_shopper (or shared("adult_shopper")) in any file that loads
-- after it. Files named _*.lua load first, in name order, then the others.
local shares = {}
function V.share(name, v)
  check_string("share", "a name", name)
  check_called("share", v)
  if not (is(v, COND) or is(v, EXPR) or type(v) == "function") then
    fail(format("share: '%s' must be a condition, a weight or a function(c), not %s", name, type(v)), 2)
  end
  local file, line = C.where(2)
  local known = shares[name]
  if known then
    fail(format("share: '%s' is already shared (%s:%d)", name, known.file, known.line), 2)
  end
  shares[name] = { value = v, file = file, line = line }
end
local function shared_get(name)
  local known = type(name) == "string" and shares[name]
  if not known then
    error(format("shared: nothing is shared as '%s' yet: share(\"%s\", ...) in a file that loads first (files named _*.lua load before the others)",
                 tostring(name), tostring(name)), 3)
  end
  return known.value
end
V.shared = setmetatable({}, {
  -- Not tail calls: shared_get's error level counts this frame.
  __index = function(_, name) local v = shared_get(name); return v end,
  __call = function(_, name) local v = shared_get(name); return v end,
  __newindex = function() error("shared is read-only: write share(\"name\", condition)", 2) end,
  __metatable = false,
})
