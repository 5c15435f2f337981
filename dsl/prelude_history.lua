-- The words on the order of a customer's history, a part of the prelude
-- (dsl/prelude.lua runs it with C.part("history") and its own helpers):
-- what happened before what, since the last purchase, the age of the first
-- and last purchase, and the single-category shopper. Like the prelude,
-- these functions only build marked tables (compiled to C by
-- engine/ruleset/compile_hist.c) and check their arguments at the rule's
-- line.

local P = ...
local V, COND, CMP = P.V, P.COND, P.CMP
local fail, is, cond, check_called = P.fail, P.is, P.cond, P.check_called
local filter_of, window_of = P.filter_of, P.window_of

local ipairs = ipairs
local format = string.format

-- A purchase or event condition (bought/viewed/did... with their filters,
-- or a list of them: any { ... } of such conditions), which has times to
-- order.
local function check_match(fn, what, c, level)
  level = (level or 2) + 1
  check_called(fn, c, level)
  -- One level of any: an any of anys shared with itself would make the
  -- evaluator (which walks these without a memo) visit 2^depth leaves.
  local function single(x) return is(x, COND) and (x.op == "bought" or x.op == "event") end
  local function match(x)
    if single(x) then return true end
    if not is(x, COND) or x.op ~= "any" or #x == 0 then return false end
    for _, k in ipairs(x) do if not single(k) then return false end end
    return true
  end
  if not match(c) then
    fail(format("%s: expected %s as a purchase or an event, such as bought { category = " ..
                "\"laptop\" } or viewed(\"laptop\"), or one any { ... } of them (not an any " ..
                "of anys)", fn, what), level)
  end
  return c
end

-- before(viewed { category = "laptop", channel = "web" }, bought { category = "laptop" }):
-- some match of the first happened before some match of the second.
function V.before(a, b)
  return cond { op = "before", check_match("before", "its first argument", a),
                check_match("before", "its second argument", b) }
end

-- since_last_purchase(abandoned_cart()): a match after the latest purchase
-- (any match when there was no purchase).
function V.since_last_purchase(a)
  return cond { op = "since_last_purchase", check_match("since_last_purchase", "its argument", a) }
end

local function age_of(fn, op)
  return function(c)
    if not is(c, CMP) or c.op == "one_of" or c.op == "eq" and c.s then
      fail(format("%s: expected a comparison of its age, such as at_least(days(365))", fn), 2)
    end
    return cond { op = op, cmp = c }
  end
end
-- first_purchase(at_least(days(365))): a customer for a year or more.
V.first_purchase = age_of("first_purchase", "first_purchase")
-- last_purchase(at_most(days(30))): bought within the last 30 days.
V.last_purchase = age_of("last_purchase", "last_purchase")

-- only_bought { category = "shoes" }: at least one purchase, and every
-- purchase matches (within = days(365) looks at that window only).
function V.only_bought(what, window)
  local f = filter_of("only_bought", what, window_of("only_bought", window))
  if not f then
    fail("only_bought: expected named fields, as in only_bought { category = \"shoes\" }", 2)
  end
  f.op = "only_bought"
  return cond(f)
end

-- one_category(): at least one purchase, all of them in one category
-- (one_category(within(days(365))): in that window).
function V.one_category(window)
  return cond { op = "one_category", window = window_of("one_category", window) }
end
