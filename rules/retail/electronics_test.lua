-- Tests for electronics.lua. The test clock is 2026-01-01T00:00:00Z;
-- ago(days(2)) is two days before it.

-- Every model's score, as upstream would send them.
local scores = {
  accessories = 0.3, electronics = 0.1, fashion = 0.2, weather = 0.2, store_visit = 0.2,
  cart_recovery = 0.3, reactivation = 0.2, loyalty = 0.2, onboarding = 0.3,
  replenishment = 0.3, maternity = 0.2, engagement = 0.2,
}

local laptop_2_days_ago = { sku = "LP-1400-AIR", category = "laptop", price = 1299, ts = ago(days(2)) }

-- Laptop -> accessories -------------------------------------------------------

test "a laptop buyer is offered the headset, the charger and the mouse" {
  context = { channel = "web", touchpoint = "web_product",
              purchases = { laptop_2_days_ago }, scores = scores },
  -- priority = 0.3 x value x 0.906 (two days into a 14-day half-life)
  expect  = { "wireless_headset", "laptop_charger", "wireless_mouse" },
}

test "a customer without a laptop gets no laptop accessory" {
  context = { channel = "web", touchpoint = "web_product",
              purchases = { { sku = "TV-55-OLED", category = "tv", price = 1499, ts = ago(days(2)) } },
              scores = scores },
  excludes = { "wireless_mouse", "wireless_headset", "laptop_charger" },
  reasons  = { wireless_mouse = "when", wireless_headset = "when", laptop_charger = "when" },
}

test "a laptop bought two months ago no longer triggers the mouse or the headset" {
  context = { channel = "web", touchpoint = "web_product",
              purchases = { { sku = "LP-1400-AIR", category = "laptop", price = 1299, ts = ago(days(45)) } },
              scores = scores },
  expect  = { "laptop_charger" },
  reasons = { wireless_mouse = "when", wireless_headset = "when" },
}

test "no mouse for a laptop buyer who bought a mouse with it" {
  context = { channel = "web", touchpoint = "web_product",
              purchases = { laptop_2_days_ago,
                            { sku = "MS-2040-WL", category = "mouse", price = 29.99, ts = ago(days(2)) } },
              scores = scores },
  expect  = { "wireless_headset", "laptop_charger" },
  reasons = { wireless_mouse = "when" },
}

test "accessories fade as the laptop purchase gets older" {
  -- Bought shoes 3 days ago (shoe care kit: 0.2 x 12 = 2.4, no fading) and
  -- a laptop 28 days ago: two half-lives, the accessories weigh 0.25. The
  -- headset (0.3 x 45 x 0.25 = 3.4) still leads, the shoe care kit passes
  -- the charger (2.25), and the mouse (1.9) drops out.
  context = { channel = "web", touchpoint = "web_product",
              purchases = { { sku = "LP-1400-AIR", category = "laptop", price = 1299, ts = ago(days(28)) },
                            { sku = "SH-501-BRN", category = "shoes", price = 119, ts = ago(days(3)) } },
              scores = scores },
  expect  = { "wireless_headset", "shoe_care_kit", "laptop_charger" },
  reasons = { wireless_mouse = "outranked" },
}

test "a fresh laptop purchase outranks the shoe care kit" {
  context = { channel = "web", touchpoint = "web_product",
              purchases = { laptop_2_days_ago,
                            { sku = "SH-501-BRN", category = "shoes", price = 119, ts = ago(days(3)) } },
              scores = scores },
  expect  = { "wireless_headset", "laptop_charger", "wireless_mouse" },
  reasons = { shoe_care_kit = "outranked" },
}

-- Never a second laptop to someone who just bought one -----------------------

test "a laptop browser who has not bought one sees the laptop deal" {
  context = { channel = "web", touchpoint = "web_product",
              events = { { type = "view", sku = "LP-1400-AIR", category = "laptop", ts = ago(hours(5)) } },
              scores = scores },
  expect  = { "laptop_deal" },
}

test "a laptop buyer who keeps browsing laptops never gets the laptop deal" {
  context = { channel = "web", touchpoint = "web_product",
              purchases = { laptop_2_days_ago },
              events = { { type = "view", sku = "LP-1600-PRO", category = "laptop", ts = ago(hours(5)) } },
              scores = scores },
  expect   = { "wireless_headset", "laptop_charger", "wireless_mouse" },
  excludes = { "laptop_deal" },
  reasons  = { laptop_deal = "when" },
}

-- Post-purchase email: exactly one action ------------------------------------

test "the post-purchase email carries exactly one offer" {
  -- Headset, charger, mouse, warranty and the review request are all
  -- eligible; the email's limit of 1 keeps only the best.
  context = { channel = "email", touchpoint = "email_post_purchase",
              purchases = { laptop_2_days_ago }, scores = scores },
  expect  = { "wireless_headset" },
  reasons = { laptop_charger = "outranked", wireless_mouse = "outranked",
              extended_warranty = "outranked", review_request = "outranked" },
}

-- Extended warranty: a filter on each purchase's own fields ------------------

test "the agent offers the warranty to a caller who bought a premium laptop" {
  context = { channel = "call_center", touchpoint = "call_center_next_best",
              purchases = { laptop_2_days_ago }, scores = scores },
  expect  = { "extended_warranty" },
}

test "no warranty for a cheap laptop" {
  context = { channel = "call_center", touchpoint = "call_center_next_best",
              purchases = { { sku = "LP-0300-EDU", category = "laptop", price = 349, ts = ago(days(2)) } },
              scores = scores },
  expect  = { "call_center_thank_you" },
  reasons = { extended_warranty = "when" },
}

test "no warranty for two cheap laptops that cost 800 together" {
  context = { channel = "call_center", touchpoint = "call_center_next_best",
              purchases = { { sku = "LP-0300-EDU", category = "laptop", price = 449, ts = ago(days(2)) },
                            { sku = "LP-0300-EDU", category = "laptop", price = 449, ts = ago(days(3)) } },
              scores = scores },
  expect  = { "call_center_thank_you" },
  reasons = { extended_warranty = "when" },
}

test "no warranty once the premium laptop is older than two weeks" {
  context = { channel = "call_center", touchpoint = "call_center_next_best",
              purchases = { { sku = "LP-1400-AIR", category = "laptop", price = 1299, ts = ago(days(20)) } },
              scores = scores },
  excludes = { "extended_warranty" },
  reasons  = { extended_warranty = "when" },
}

test "without the electronics score the warranty is skipped" {
  context = { channel = "call_center", touchpoint = "call_center_next_best",
              purchases = { laptop_2_days_ago }, scores = { accessories = 0.3 } },
  expect  = { "call_center_thank_you" },
  reasons = { extended_warranty = "no score: electronics" },
}
