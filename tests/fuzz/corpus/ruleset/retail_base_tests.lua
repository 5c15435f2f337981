
--@test
-- Tests across themes: touchpoint limits and diversity (declared in base.lua).

local scores = {
  accessories = 0.3, electronics = 0.1, fashion = 0.2, weather = 0.2, store_visit = 0.2,
  cart_recovery = 0.3, reactivation = 0.2, loyalty = 0.2, onboarding = 0.3,
  replenishment = 0.3, maternity = 0.2, engagement = 0.2,
}

-- A gold member and fashion lover who bought a laptop two days ago, on a
-- rainy day: seven actions are eligible on the home page, three of them
-- laptop accessories.
local busy_customer = {
  scores     = scores,
  purchases  = { { sku = "LP-1400-AIR", category = "laptop", price = 1299, ts = ago(days(2)) } },
  attributes = { loyalty_tier = "gold", segments = { "fashion_lover" } },
  weather    = { temp_c = 11, condition = "rain" },
}

local function at(channel, touchpoint, extra)
  local ctx = { channel = channel, touchpoint = touchpoint }
  for k, v in pairs(busy_customer) do ctx[k] = v end
  for k, v in pairs(extra or {}) do ctx[k] = v end
  return ctx
end

test "web_home shows four tiles, never two of the same category" {
  -- headset 12.2, charger 8.2, mouse 6.8 (all laptop_accessories), the new
  -- season edit 4, umbrella 3.6, winter sale 3, the gold express shipping
  -- perk 2.4: the home page keeps the best accessory and fills the other
  -- tiles with other categories.
  context = at("web", "web_home"),
  expect  = { "wireless_headset", "new_season_edit", "umbrella", "winter_sale" },
  reasons = { laptop_charger = "diversity", wireless_mouse = "diversity",
              tier_free_express = "outranked" },
}

test "web_product is not diverse: the three accessories" {
  context = at("web", "web_product"),
  expect  = { "wireless_headset", "laptop_charger", "wireless_mouse" },
}

test "app_home shows three tiles of different categories" {
  context = at("app", "app_home"),
  expect  = { "wireless_headset", "new_season_edit", "umbrella" },
  reasons = { laptop_charger = "diversity", wireless_mouse = "diversity", winter_sale = "outranked" },
}

test "a limit in the context overrides the touchpoint's" {
  context = at("web", "web_home", { limit = 2 }),
  expect  = { "wireless_headset", "new_season_edit" },
  reasons = { umbrella = "outranked" },
}

test "the post-purchase email returns exactly one action" {
  context = at("email", "email_post_purchase"),
  expect  = { "wireless_headset" },
}
