local function spent_on(c, cat)
  local total = 0
  for _, p in ipairs(c.purchases) do
    if p.category == cat then total = total + (p.price or 0) end
  end
  return total
end
action "big_spender" {
  channels = { "web", "email" }, value = 5,
  when = function(c) return spent_on(c, "laptop") > 500 and c.consent.marketing end,
  weight = function(c) return math.min(3, spent_on(c, "laptop") / 1000) end,
}
action "errors" { channels = { "web" }, value = 1, when = function(c) error("boom " .. c.customer_id) end }
action "loops" { channels = { "web" }, value = 1, when = function(c) while true do end end }
action "grows" { channels = { "web" }, value = 1,
  when = function(c) local t = {} for i = 1, 1e9 do t[i] = ("x"):rep(100) end end }
action "bad_weight" { channels = { "web" }, value = 1, weight = function(c) return "heavy" end }
action "catches" { channels = { "web" }, value = 1,
  when = function(c) for i = 1, 100 do pcall(function() while true do end end) end return true end }
--@test
test "spender" {
  context = { channel = "web", touchpoint = "web_home",
              purchases = { { category = "laptop", price = 900, ts = ago(days(1)) } },
              consent = { marketing = true } },
  includes = { "big_spender" },
  reasons = { errors = "error:", loops = "budget:", grows = "budget:", bad_weight = "error:" },
}
