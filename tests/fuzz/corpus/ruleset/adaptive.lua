models { "accessories" }
outcomes { "wishlist" }
action "new_bag" { channels = { "web", "email" }, value = 20, propensity = adaptive {
  positive = "click", trial = "impression", prior = 0.05, strength = 20,
  prior_model = "accessories", segment = "loyalty_tier", half_life = days(30),
  explore = "thin", settle = 1000 } }
action "wish" { channels = { "web" }, value = 5, propensity = adaptive { positive = "wishlist",
  trial = "decision", explore = "always" } }
local shared = adaptive {}
action "s1" { channels = { "web" }, value = 1, propensity = shared }
action "s2" { channels = { "app" }, value = 1, propensity = shared }
action "bad1" { channels = { "web" }, value = 1, model = "accessories", propensity = adaptive { prio = 2 } }
action "bad2" { channels = { "web" }, value = 1, propensity = adaptive { positive = "impression",
  half_life = 0, strength = -1, explore = "often", trial = 3, prior_model = "nope", segment = "" } }
action "bad3" { channels = { "web" }, value = 1, propensity = adaptive }
local p = adaptive { prior = 0.2 } p.spec = setmetatable({}, {})
action "bad4" { channels = { "web" }, value = 1, propensity = p }
--@test
test "adaptive" { context = { channel = "web", touchpoint = "web_home",
  attributes = { loyalty_tier = "gold" }, scores = { accessories = 0.3 } } }
