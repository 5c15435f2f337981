-- Extra rules the context fuzzer (tests/fuzz/fuzz_context.c) loads beside
-- rules/retail: plain Lua functions that read every part of the context the
-- way a marketer's function might (walking tables, formatting strings,
-- raising errors that quote the context), and the vocabulary words
-- rules/retail does not use. Every decision must answer whatever the context.

-- Sum of everything reachable from v; tables are walked like a rule would.
local function walk(v, depth, acc)
  local t = type(v)
  if t == "table" then
    if depth > 40 then return acc end
    for k, x in pairs(v) do
      acc = walk(k, depth + 1, acc)
      acc = walk(x, depth + 1, acc)
    end
    return acc + #v
  elseif t == "string" then
    return acc + #v + (#v > 0 and v:byte(1) or 0) + (utf8.len(v) or 1)
  elseif t == "number" then
    if math.type(v) == "integer" then return acc + v % 7 end
    if v == v and v > -1e15 and v < 1e15 then return acc + math.floor(v) % 7 end
    return acc + 1
  elseif t == "boolean" then
    return acc + (v and 1 or 0)
  end
  return acc
end

local FIELDS = { "customer_id", "channel", "touchpoint", "now", "location", "purchases",
                 "events", "weather", "scores", "attributes", "consent", "limit", "explain",
                 "preview" }

action "fuzz_walk" {
  channels = { "web", "email", "app", "store", "call_center", "sms", "kiosk" },
  value    = 2,
  category = "fuzz",
  when     = function(c)
    local n = 0
    for _, k in ipairs(FIELDS) do n = walk(c[k], 0, n) end
    return n % 3 ~= 0
  end,
  weight   = function(c)
    local s = 0
    for _, p in ipairs(c.purchases) do
      if type(p) == "table" and type(p.price) == "number" and p.price == p.price then
        s = s + p.price
      end
    end
    if s ~= s or s == math.huge or s == -math.huge then return 1 end
    return math.abs(s) % 10 + 0.5
  end,
  payload  = { template = "fuzz", n = 1 },
}

-- Errors that quote what the customer sent: the reason travels in explain.
action "fuzz_error" {
  channels = { "web", "app", "email" },
  value    = 1,
  when     = function(c)
    local tier = c.attributes.loyalty_tier
    if tier == nil then error("no loyalty tier for customer " .. c.customer_id) end
    if type(tier) ~= "string" then error({ tier = tier }) end
    return #tier > 3
  end,
}

-- A weight that is not always a number.
action "fuzz_weight" {
  channels = { "web", "app" },
  value    = 3,
  weight   = function(c)
    local v = c.attributes.lifetime_value
    if type(v) == "string" then return v end
    return v
  end,
}

-- Strings from the context through the string library.
action "fuzz_strings" {
  channels = { "web", "email", "app", "sms" },
  value    = 1,
  when     = function(c)
    local id = c.customer_id
    local s = string.format("%s|%q|%s", id:upper(), c.channel, tostring(c.now))
    local parts = {}
    for w in s:gmatch("[^|]+") do parts[#parts + 1] = w:sub(1, 8):lower() end
    local seen = table.concat(parts, ","):rep(2)
    return seen:find(c.touchpoint, 1, true) ~= nil or #seen % 2 == 0
  end,
}

-- Location is only visible with consent; a rule that insists still runs.
action "fuzz_location" {
  channels = { "web", "app", "store", "kiosk" },
  value    = 1,
  when     = function(c)
    local loc = c.location
    if loc == nil then return false end
    local lat, lon = loc.lat, loc.lon
    return type(lat) == "number" and type(lon) == "number" and lat * lon > 0
  end,
}

-- Vocabulary rules/retail does not use, on every channel.
action "fuzz_vocabulary" {
  channels    = { "web", "email", "app", "store", "call_center", "sms", "kiosk" },
  model       = "engagement",
  value       = 5,
  category    = "fuzz_vocab",
  requires    = { "marketing" },
  when        = any {
    all { consented("location"), near_store(km(1)), in_store("munich_marienplatz") },
    all { did("wishlist_add", within(days(7))), searched("laptop") },
    all { opened_email(within(hours(12))), clicked_email("newsletter") },
    all { on_channel("web"), at_touchpoint("web_home"), in_country("DE") },
    all { attribute("loyalty_tier", one_of { "gold", "platinum" }), attribute("vip", true) },
    all { attribute("lifetime_value", between(100, 10000)), score("reactivation", above(0.5)) },
    all { spent(at_most(50), within(days(30)), "shoes"), purchases(below(2), "laptop") },
    all { owns("tv"), temperature(between(-5, 5)), snowing() },
    all { weather("fog"), hour_between(22, 6), weekday("mon", "wed", "fri") },
    no(any { segment("vip"), new_customer(), lapsed(days(60)) }),
    added_to_cart(within(minutes(30))),
    viewed({ "tv", "soundbar" }, within(seconds(600))),
    due_for_replenishment("coffee", weeks(2)),
  },
  weight      = max_of(min_of(attribute("lifetime_value") / 100, 3), score("engagement") * 2)
                + boost(weekend(), 1.5, 0.5)
                - recency(viewed("tv"), hours(6)) * 0.1,
  payload     = { template = "fuzz", deep = { a = { b = { c = { 1, 2, 3 } } } } },
}

-- Purchases and events by any field, their order in time, the
-- single-category shopper (read record by record: raw maps of any shape).
action "fuzz_history_words" {
  channels    = { "web", "email", "app", "store", "call_center", "sms", "kiosk" },
  value       = 4,
  when        = any {
    before(viewed { category = "laptop", channel = "web" }, bought { category = "laptop", channel = "store" }),
    all { since_last_purchase(abandoned_cart()), first_purchase(at_least(days(365))) },
    all { last_purchase(at_most(days(30))), purchases(at_least(2), { brand = "acme", size = 42 }) },
    all { spent(at_least(100), within(days(90)), { color = one_of { "red", "blue" }, gift = true }) },
    only_bought { category = "shoes", within = days(365) },
    all { one_category(), did("wishlist_add", { designer = "ito" }) },
  },
  weight      = recency(bought { channel = "store" }, days(14)) + boost(before(viewed { "tv" }, bought("tv")), 2),
}

-- The date words (issue 16): dates read from whatever the attributes hold,
-- in whatever timezone the context sends.
action "fuzz_dates" {
  channels    = { "web", "email", "app", "store", "call_center", "sms", "kiosk" },
  value       = 3,
  category    = "fuzz_dates",
  when        = any {
    since("engaged_at", between(months(2), months(6))),
    until_date("loyalty_tier", within(days(14))),
    anniversary("member_since", { years = 3, within = days(7) }),
    all { anniversary("lifetime_value"), month("feb", 12), day_between("12-01", "02-29") },
    all { season("spring"), since("vip", at_least(years(1))) },
  },
  weight      = boost(anniversary("member_since", { within = days(366) }), 2),
}

fallback "fuzz_fallback" {
  channels = { "web", "email", "app", "store", "call_center", "sms", "kiosk" },
  value    = 0.5,
  lever    = 2,
  payload  = { template = "fallback" },
}
