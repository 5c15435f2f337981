-- The Arbiter rule language: the prelude every rule file runs in.
--
-- This file is compiled into the arbiter binary. It runs once per ruleset
-- state, with the engine's private helpers as its argument, and returns the
-- tables the engine reads back: the declarations made by rule files, the
-- tests, the marker metatables and the environments rule and test files get.
--
-- Vocabulary functions do not decide anything: they build small tables
-- (conditions, comparisons, weight expressions) marked with a metatable. The
-- engine compiles those into C condition trees at load time; only plain Lua
-- functions written by a marketer run in Lua at decide time.
--
-- Every vocabulary function checks its arguments and raises errors at the
-- rule file's line (error level 2), so a mistake reads "offers.lua:12: ...".

local C = ...                       -- private: C.where(level) -> "file", line

local type, pairs, ipairs, select, error, tostring, setmetatable, getmetatable =
      type, pairs, ipairs, select, error, tostring, setmetatable, getmetatable
local floor, huge = math.floor, math.huge
local format, concat = string.format, table.concat

-- Marker metatables. Rules cannot reach them: their getmetatable hides them.
local COND = { __name = "condition" }
local CMP = { __name = "comparison" }
local WIN = { __name = "window" }
local EXPR = { __name = "weight" }
local ADAPT = { __name = "adaptive" }
local MARKERS = { [COND] = true, [CMP] = true, [WIN] = true, [EXPR] = true, [ADAPT] = true }

local decls, tests = {}, {}
local V = {}                        -- the vocabulary shared by rule and test files

local function fail(msg, level) error(msg, (level or 1) + 1) end

local function is(v, mt) return type(v) == "table" and getmetatable(v) == mt end

local function cond(t) return setmetatable(t, COND) end
local function expr(t) return setmetatable(t, EXPR) end

local function check_string(fn, what, v, level)
  if type(v) ~= "string" or v == "" then
    fail(format("%s: expected %s as a string, got %s", fn, what, type(v)), (level or 2) + 1)
  end
  return v
end

local function check_number(fn, what, v, level)
  if type(v) ~= "number" or v ~= v then
    fail(format("%s: expected %s as a number, got %s", fn, what, type(v)), (level or 2) + 1)
  end
  return v
end

---------------------------------------------------------------- time

local function duration(unit, n_seconds)
  return function(n)
    check_number(unit, "a count", n)
    if n < 0 then fail(unit .. ": expected a count >= 0", 2) end
    return n * n_seconds
  end
end
V.seconds = duration("seconds", 1)
V.minutes = duration("minutes", 60)
V.hours = duration("hours", 3600)
V.days = duration("days", 86400)
V.weeks = duration("weeks", 7 * 86400)
V.km = function(n) check_number("km", "a distance", n); return n end

-- within(days(30)): a time window back from now, for purchases and events.
function V.within(seconds)
  check_number("within", "a duration such as days(30)", seconds)
  return setmetatable({ seconds = seconds }, WIN)
end

---------------------------------------------------------------- comparisons

local function cmp(op, a, b) return setmetatable({ op = op, a = a, b = b }, CMP) end
function V.at_least(x) check_number("at_least", "a number", x); return cmp("ge", x) end
function V.at_most(x) check_number("at_most", "a number", x); return cmp("le", x) end
function V.above(x) check_number("above", "a number", x); return cmp("gt", x) end
function V.below(x) check_number("below", "a number", x); return cmp("lt", x) end
function V.between(a, b)
  check_number("between", "a lower bound", a)
  check_number("between", "an upper bound", b)
  if a > b then fail("between: the lower bound is above the upper bound", 2) end
  return cmp("between", a, b)
end
function V.one_of(list)
  if type(list) ~= "table" or #list == 0 then
    fail("one_of: expected a list of strings, as in one_of { \"gold\", \"platinum\" }", 2)
  end
  for i, s in ipairs(list) do check_string("one_of", "item " .. i, s) end
  return setmetatable({ op = "one_of", list = list }, CMP)
end

-- A plain value given where a comparison is expected means "equals".
local function as_cmp(fn, v, level)
  if is(v, CMP) then return v end
  local t = type(v)
  if t == "string" then return setmetatable({ op = "eq", s = v }, CMP) end
  if t == "number" then return cmp("eq", v) end
  if t == "boolean" then return cmp("eq", v and 1 or 0) end
  if v == nil then return cmp("exists") end
  fail(fn .. ": expected a value or a comparison such as at_least(3)", (level or 2) + 1)
end

---------------------------------------------------------------- combinators

-- Vocabulary functions by identity, so that `when = raining` (without the
-- parentheses) is caught instead of running as an always-true plain function.
local VOCAB = {}

local function check_called(fn, v, level)
  local name = VOCAB[v]
  if name then
    fail(format("%s: '%s' must be called: write %s(...)", fn, name, name), (level or 2) + 1)
  end
end

local function check_cond(fn, i, c, level)
  check_called(fn, c, (level or 2) + 1)
  if not (is(c, COND) or type(c) == "function") then
    fail(format("%s: item %d is not a condition (got %s)", fn, i, type(c)), (level or 2) + 1)
  end
  return c
end

local function combinator(op)
  return function(list)
    if type(list) ~= "table" or is(list, COND) then
      fail(format("%s: expected a list of conditions, as in %s { raining(), cold() }", op, op), 2)
    end
    local t = { op = op }
    for i, c in ipairs(list) do t[i] = check_cond(op, i, c) end
    if #t == 0 then fail(op .. ": the list of conditions is empty", 2) end
    return cond(t)
  end
end
V.all = combinator("all")
V.any = combinator("any")
function V.no(c) return cond { op = "not", check_cond("no", 1, c) } end
V["not_"] = V.no

---------------------------------------------------------------- purchases and events

local function window_of(fn, w, level)
  if w == nil then return nil end
  if is(w, WIN) then return w.seconds end
  fail(fn .. ": expected a window such as within(days(30))", (level or 2) + 1)
end

-- A table of named fields is a filter on the purchase's or event's fields:
-- bought { category = "laptop", channel = "store", within = days(30) }.
-- Returns the list of field conditions (its window in .window), or nil
-- when `what` is not such a table (a string, a list of items: any of).
local function filter_of(fn, what, window, level)
  level = (level or 2) + 1
  if type(what) ~= "table" or getmetatable(what) ~= nil then return nil end
  local names, items = {}, 0
  for k in pairs(what) do
    if k == "" then fail(fn .. ": a field name must not be empty", level)
    elseif type(k) == "string" then names[#names + 1] = k
    elseif math.type(k) == "integer" and k >= 1 then items = items + 1
    else fail(format("%s: a field name must be a string, not %s", fn, type(k)), level) end
  end
  if #names == 0 then return nil end
  if items > 0 then
    fail(format("%s: mixes a list of items with named fields: write either { \"mouse\", " ..
                "\"trackpad\" } (any of) or { category = \"laptop\", channel = \"store\" }", fn),
         level)
  end
  table.sort(names)
  local f = {}
  for _, k in ipairs(names) do
    local v = what[k]
    if k == "within" then
      if window then fail(fn .. ": give the window once, as within = days(30) or within(days(30))", level) end
      if is(v, WIN) then v = v.seconds end
      check_number(fn, "within as a duration such as days(30)", v, level)
      if v < 0 then fail(fn .. ": within must be a duration >= 0", level) end
      window = v
    else
      local t = type(v)
      if not (t == "string" or t == "number" or t == "boolean" or is(v, CMP)) then
        fail(format("%s: field '%s' must be a string, a number, a boolean or one_of { ... }, not %s",
                    fn, k, t), level)
      end
      if t == "number" then check_number(fn, "field '" .. k .. "'", v, level) end
      f[#f + 1] = cond { op = "attr", name = k, cmp = as_cmp(fn, v, level) }
    end
  end
  f.window = window
  return f
end

-- The filter `what` as a condition of kind op (with where = true), or nil.
local function where(fn, op, what, window, extra)
  local f = filter_of(fn, what, window, 3)
  if not f then return nil end
  f.op, f.where = op, true
  for k, v in pairs(extra or {}) do f[k] = v end
  return cond(f)
end

-- what: a category or sku, or a list of them (any of).
local function about(fn, what, build)
  if type(what) == "table" and not is(what, COND) then
    local alts = { op = "any" }
    for i, w in ipairs(what) do alts[i] = build(check_string(fn, "item " .. i, w, 3)) end
    if #alts == 0 then fail(fn .. ": the list is empty", 3) end
    return cond(alts)
  end
  if what == nil then return build(nil) end
  return build(check_string(fn, "a category or sku", what, 3))
end

-- bought("laptop"), bought("laptop", within(days(30))), bought { "mouse", "trackpad" }
function V.bought(what, window)
  local w = window_of("bought", window)
  local f = where("bought", "bought", what, w)
  if f then return f end
  return about("bought", what, function(x) return cond { op = "bought", what = x, window = w } end)
end
V.owns = function(what) return V.bought(what) end

-- not bought here within the window, but bought before: time to restock.
function V.due_for_replenishment(what, every)
  check_number("due_for_replenishment", "a period such as days(30)", every)
  return V.all { V.bought(what), V.no(V.bought(what, V.within(every))) }
end

-- lapsed(days(90)): a customer who bought before but not in the window.
function V.lapsed(period)
  check_number("lapsed", "a period such as days(90)", period)
  return V.all { cond { op = "bought" }, V.no(cond { op = "bought", window = period }) }
end

-- new_customer(): no purchase at all yet.
function V.new_customer() return V.no(cond { op = "bought" }) end

-- purchases(at_least(3)), purchases(at_least(2), "shoes", within(days(60)))
function V.purchases(c, what, window)
  local w = window_of("purchases", window)
  local f = where("purchases", "purchases", what, w, { cmp = as_cmp("purchases", c) })
  if f then return f end
  if what ~= nil then check_string("purchases", "a category or sku", what) end
  return cond { op = "purchases", cmp = as_cmp("purchases", c), what = what, window = w }
end

-- spent(at_least(500), within(days(365))): total of purchase prices.
function V.spent(c, window, what)
  local w = window_of("spent", window)
  local f = where("spent", "spent", what, w, { cmp = as_cmp("spent", c) })
  if f then return f end
  if what ~= nil then check_string("spent", "a category or sku", what) end
  return cond { op = "spent", cmp = as_cmp("spent", c), what = what, window = w }
end

local function event(fn, etype)
  return function(what, window)
    if is(what, WIN) then what, window = nil, what end
    local w = window_of(fn, window)
    local f = where(fn, "event", what, w, { type = etype })
    if f then return f end
    return about(fn, what, function(x)
      return cond { op = "event", type = etype, what = x, window = w }
    end)
  end
end
V.viewed = event("viewed", "view")
V.added_to_cart = event("added_to_cart", "cart_add")
V.abandoned_cart = event("abandoned_cart", "cart_abandon")
V.opened_email = event("opened_email", "email_open")
V.clicked_email = event("clicked_email", "email_click")
V.searched = event("searched", "search")
-- did("wishlist_add", "sku-1", within(days(7))): any event type.
function V.did(etype, what, window)
  check_string("did", "an event type", etype)
  return event("did", etype)(what, window)
end

---------------------------------------------------------------- order in time, the single-category shopper

-- before, since_last_purchase, first_purchase, last_purchase, only_bought
-- and one_category: in dsl/prelude_history.lua (a part of its own, so that
-- no file passes 600 lines), which adds them to V with these helpers.
C.part("history") {
  V = V, COND = COND, CMP = CMP, fail = fail, is = is, cond = cond,
  check_called = check_called, filter_of = filter_of, window_of = window_of,
}

---------------------------------------------------------------- weather, place, consent

-- weather, raining, snowing, temperature, hot, cold, near_store, in_store,
-- in_country and consented: in dsl/prelude_place.lua (a part of its own, so
-- that no file passes 600 lines), which adds them to V with these helpers.
C.part("place") {
  V = V, cond = cond, as_cmp = as_cmp, check_string = check_string, check_number = check_number,
}

---------------------------------------------------------------- customer and models

-- attribute("loyalty_tier", "gold") is a condition; attribute("lifetime_value")
-- alone is a number for weights.
function V.attribute(name, ...)
  check_string("attribute", "an attribute name", name)
  if select("#", ...) == 0 then return expr { op = "attr", name = name } end
  return cond { op = "attr", name = name, cmp = as_cmp("attribute", (...)) }
end
function V.segment(name)
  return cond { op = "segment", name = check_string("segment", "a segment name", name) }
end
-- score("churn", above(0.7)) is a condition; score("churn") alone a number.
function V.score(model, ...)
  check_string("score", "a model name", model)
  if select("#", ...) == 0 then return expr { op = "score", model = model } end
  return cond { op = "score", model = model, cmp = as_cmp("score", (...)) }
end

---------------------------------------------------------------- time of day, week, place in the journey

function V.hour_between(from, to)
  check_number("hour_between", "a starting hour 0-23", from)
  check_number("hour_between", "an ending hour 0-24", to)
  if from < 0 or from > 23 or to < 0 or to > 24 or floor(from) ~= from or floor(to) ~= to then
    fail("hour_between: hours are whole numbers, from 0-23 and to 0-24", 2)
  end
  return cond { op = "hour", from = from, to = to }
end

local DAYS = { sun = 0, mon = 1, tue = 2, wed = 3, thu = 4, fri = 5, sat = 6 }
function V.weekday(...)
  local mask = 0
  for i = 1, select("#", ...) do
    local d = select(i, ...)
    local bit = type(d) == "string" and DAYS[d:sub(1, 3):lower()]
    if not bit then fail("weekday: expected day names such as \"sat\", \"sun\"", 2) end
    mask = mask | (1 << bit)
  end
  if mask == 0 then fail("weekday: name at least one day", 2) end
  return cond { op = "weekday", mask = mask }
end
function V.weekend() return V.weekday("sat", "sun") end

function V.on_channel(name)
  return cond { op = "channel", is = check_string("on_channel", "a channel", name) }
end
function V.at_touchpoint(name)
  return cond { op = "touchpoint", is = check_string("at_touchpoint", "a touchpoint", name) }
end

---------------------------------------------------------------- dates, seasons, anniversaries

-- since, until_date, anniversary, months, years, month, season, day_between,
-- share and shared: in dsl/prelude_dates.lua (a part of its own, so that no
-- file passes 600 lines), which adds them to V with these helpers.
C.part("dates") {
  V = V, C = C, COND = COND, CMP = CMP, WIN = WIN, EXPR = EXPR, fail = fail, is = is,
  cond = cond, cmp = cmp, duration = duration, check_string = check_string,
  check_number = check_number, check_called = check_called,
}

---------------------------------------------------------------- weights

local function as_expr(v, level)
  if is(v, EXPR) then return v end
  if type(v) == "number" then return expr { op = "const", n = v } end
  check_called("weight", v, (level or 2) + 1)
  if type(v) == "function" then return v end
  fail("weight: expected a number, a weight expression or a function(c)", (level or 2) + 1)
end

local function binary(op)
  return function(l, r) return expr { op = op, l = as_expr(l, 2), r = as_expr(r, 2) } end
end
EXPR.__mul, EXPR.__add, EXPR.__sub, EXPR.__div = binary("mul"), binary("add"), binary("sub"), binary("div")

-- recency("laptop", days(14)): 1 for a purchase right now, 0.5 after 14 days,
-- 0.25 after 28... of the newest purchase (or event condition) matching.
function V.recency(what, half_life)
  check_number("recency", "a half-life such as days(14)", half_life)
  if half_life <= 0 then fail("recency: the half-life must be above zero", 2) end
  local c = what
  if type(what) == "string" then c = V.bought(what) end
  if not (is(c, COND) and (c.op == "bought" or c.op == "event")) then
    fail("recency: expected a category or sku, or bought(...)/viewed(...)", 2)
  end
  return expr { op = "recency", cond = c, half_life = half_life }
end

-- boost(cond, 1.5): weigh 1.5 when cond holds, else 1.
function V.boost(c, factor, otherwise)
  check_cond("boost", 1, c)
  return expr { op = "if", cond = c, l = as_expr(factor, 2), r = as_expr(otherwise or 1, 2) }
end
function V.min_of(a, b) return expr { op = "min", l = as_expr(a, 2), r = as_expr(b, 2) } end
function V.max_of(a, b) return expr { op = "max", l = as_expr(a, 2), r = as_expr(b, 2) } end

---------------------------------------------------------------- learned propensity

-- propensity = adaptive { positive = "click", prior = 0.05, ... }: a propensity
-- learned from feedback (dsl/README.md, "Adaptive propensity"). Only the
-- shape is checked here; the fields are checked where the action compiles
-- (engine/ruleset/compile_adaptive.c), so that every mistake is reported at
-- once, at the action's line, with the others of the ruleset.
function V.adaptive(spec)
  if spec == nil then spec = {} end
  if type(spec) ~= "table" or getmetatable(spec) ~= nil then
    fail("adaptive: expected a { ... } table of fields, as in adaptive { prior = 0.05 }", 2)
  end
  return setmetatable({ spec = spec }, ADAPT)
end

---------------------------------------------------------------- declarations

-- A spec is a plain table, read raw by the engine after the files ran (see
-- engine/rawread.h): a metatable here, or given to it later, is refused.
local function declare(kind)
  return function(id)
    if type(id) ~= "string" or id == "" then
      fail(format("%s: expected an id string, as in %s \"my_id\" { ... }", kind, kind), 2)
    end
    local file, line = C.where(2)
    local d = { kind = kind, id = id, file = file, line = line }
    decls[#decls + 1] = d
    return function(spec)
      if type(spec) ~= "table" or getmetatable(spec) ~= nil then
        fail(format("%s %q: expected a { ... } table of fields", kind, id), 2)
      end
      d.spec = spec
    end
  end
end
V.action = declare("action")
V.fallback = declare("fallback")
V.touchpoint = declare("touchpoint")
V.store = declare("store")
V.group = declare("group")
V.channel = declare("channel")
V.experiment = declare("experiment")

local function declare_list(kind)
  return function(spec)
    if type(spec) ~= "table" or getmetatable(spec) ~= nil then
      fail(kind .. ": expected a { ... } table", 2)
    end
    local file, line = C.where(2)
    decls[#decls + 1] = { kind = kind, spec = spec, file = file, line = line }
  end
end
V.models = declare_list("models")
V.channels = declare_list("channels")
V.settings = declare_list("settings")
V.outcomes = declare_list("outcomes")
V.control = declare_list("control")

-- catalog "products.jsonl", or catalog { file = "products.jsonl" }: the
-- ruleset's product catalog, a JSON-lines file in its folder (dsl/README.md,
-- "The catalog"). The path and the file are checked where it compiles
-- (engine/ruleset/compile_catalog.c), with the other declarations.
function V.catalog(spec)
  if type(spec) == "string" then
    spec = { file = spec }
  elseif type(spec) ~= "table" or getmetatable(spec) ~= nil then
    fail('catalog: expected a file name, as in catalog "products.jsonl"', 2)
  end
  local file, line = C.where(2)
  decls[#decls + 1] = { kind = "catalog", spec = spec, file = file, line = line }
end

---------------------------------------------------------------- tests

local T = {}
function T.test(name)
  check_string("test", "a test name", name)
  local file, line = C.where(2)
  return function(spec)
    if type(spec) ~= "table" or getmetatable(spec) ~= nil then
      fail(format("test %q: expected a { ... } table", name), 2)
    end
    tests[#tests + 1] = { name = name, spec = spec, file = file, line = line }
  end
end
T.NOW = 1767225600   -- 2026-01-01T00:00:00Z: the clock of every test context
function T.ago(seconds)
  check_number("ago", "a duration such as days(3)", seconds)
  return T.NOW - floor(seconds)
end

---------------------------------------------------------------- environments

-- Read-only copies of the libraries, so that no rule file can change what
-- another one sees.
local function frozen(lib, name)
  return setmetatable({}, {
    __index = lib,
    __newindex = function()
      -- Blame the rule's line even when a C function (table.insert) wrote.
      for level = 2, 6 do
        local file, line = C.where(level)
        if line and line > 0 then
          error(format("%s:%d: %s is read-only", file, line, name), 0)
        end
      end
      error(name .. " is read-only", 2)
    end,
    __metatable = false,
  })
end

local SAFE = { "assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget",
               "rawlen", "select", "tonumber", "tostring", "type", "xpcall" }

local function public_table(extra)
  local P = {}
  for _, k in ipairs(SAFE) do P[k] = _ENV[k] end
  P.string = frozen(string, "string")
  P.table = frozen(table, "table")
  P.math = frozen(math, "math")
  P.utf8 = frozen(utf8, "utf8")
  P.print = C.print
  P.setmetatable = function(t, mt)
    if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
      error("setmetatable: __gc is not allowed in rules", 2)
    end
    local ok, r = pcall(setmetatable, t, mt)
    if not ok then error((tostring(r):gsub("^prelude:%d+: ", "")), 2) end
    return r
  end
  P.getmetatable = function(v)
    local mt = getmetatable(v)
    if MARKERS[mt] then return false end
    return mt
  end
  for k, v in pairs(V) do P[k] = v end
  for k, v in pairs(extra or {}) do P[k] = v end
  return P
end

-- Every word checks its arity and its durations before it runs, and the
-- words and/or/not must not touch are listed for the loader's scan: see
-- dsl/checks.lua (compiled in beside this file, given here as C.checks).
local LOGIC = C.checks { V = V, T = T, is = is, COND = COND, CMP = CMP }

for k, v in pairs(V) do
  if type(v) == "function" then VOCAB[v] = k end
end

-- Lua patterns, string.rep, table.concat/move/insert/... run in C where the
-- instruction hook does not reach: the sandbox wraps them in C and charges
-- their work to the budget (bindings/lua/sandbox_lib.c), for the prelude's
-- own calls and every rule's alike.

local RULES, TESTS = public_table(), public_table(T)

-- A fresh global table for one file: reads fall through to the vocabulary,
-- unknown names and assignments to globals are errors at the file's line.
local function env_for(P)
  return function()
    return setmetatable({}, {
      __index = function(_, k)
        local v = P[k]
        if v == nil then error(format("unknown name '%s'", tostring(k)), 2) end
        return v
      end,
      __newindex = function(_, k)
        error(format("assignment to undeclared global '%s' (use local)", tostring(k)), 2)
      end,
      __metatable = false,
    })
  end
end

return {
  decls = decls,
  tests = tests,
  COND = COND,
  CMP = CMP,
  vocab = VOCAB,
  logic_words = LOGIC,
  EXPR = EXPR,
  ADAPT = ADAPT,
  rules_env = env_for(RULES),
  tests_env = env_for(TESTS),
  now = T.NOW,
}
