-- Electronics: what to offer around a laptop.
--
-- Purchases and events come with a category ("laptop", "mouse", "headset",
-- "charger") and a sku; bought("laptop") matches either.

-- The accessories below are for a customer who bought a laptop in the last
-- month. Their pull fades as the laptop purchase gets older: full strength
-- on the day, half after two weeks, a quarter after four.
local laptop_this_month = bought("laptop", within(days(30)))
local fades_with_laptop_age = recency("laptop", days(14))

-- A wireless mouse for a new laptop, unless they bought a mouse this year.
action "wireless_mouse" {
  channels    = { "email", "web", "app" },
  touchpoints = { "email_post_purchase", "web_home", "web_product", "app_home" },
  model       = "accessories",
  value       = 25,
  category    = "laptop_accessories",
  when        = all { laptop_this_month, no(bought("mouse", within(days(365)))) },
  weight      = fades_with_laptop_age,
  payload     = {
    template = "product_card",
    sku      = "MS-2040-WL",
    headline = "The mouse your new laptop deserves",
    body     = "Silent clicks, 18 months of battery, pairs in one second.",
    cta      = "Add to basket",
    price    = 29.99,
  },
}

-- Noise-cancelling headset for a new laptop: our best-margin accessory,
-- unless they bought a headset this year.
action "wireless_headset" {
  channels    = { "email", "web", "app" },
  touchpoints = { "email_post_purchase", "web_home", "web_product", "app_home" },
  model       = "accessories",
  value       = 45,
  category    = "laptop_accessories",
  when        = all { laptop_this_month, no(bought("headset", within(days(365)))) },
  weight      = fades_with_laptop_age,
  payload     = {
    template = "product_card",
    sku      = "HS-7710-BT",
    headline = "Meetings sound better with this",
    body     = "Active noise cancelling and a mic that filters the café behind you.",
    cta      = "Add to basket",
    price    = 149.00,
  },
}

-- A spare USB-C charger (office and home) in the first two months after a
-- laptop, unless they already bought one this year.
action "laptop_charger" {
  channels    = { "email", "web", "app" },
  touchpoints = { "email_post_purchase", "web_home", "web_product", "app_home" },
  model       = "accessories",
  value       = 30,
  category    = "laptop_accessories",
  when        = all { bought("laptop", within(days(60))), no(bought("charger", within(days(365)))) },
  weight      = fades_with_laptop_age,
  payload     = {
    template = "product_card",
    sku      = "CH-65W-USBC",
    headline = "One charger at home, one at work",
    body     = "65 W USB-C, charges your laptop and phone at once.",
    cta      = "Add to basket",
    price    = 39.99,
  },
}

-- Laptop deals for someone who has been looking at laptops for the last
-- two weeks. Never to someone who bought a laptop in the last year: they
-- just bought one, they need accessories, not a second laptop.
action "laptop_deal" {
  channels    = { "web", "app", "email" },
  touchpoints = { "web_home", "web_product", "app_home", "email_weekly" },
  model       = "electronics",
  value       = 120,
  category    = "laptops",
  when        = all { viewed("laptop", within(days(14))), no(bought("laptop", within(days(365)))) },
  payload     = {
    template = "deal_banner",
    sku      = "LP-1400-AIR",
    headline = "The laptop you were looking at is 10% off",
    body     = "Only this week, with free next-day delivery.",
    cta      = "See the deal",
    code     = "LAPTOP10",
  },
}

-- Our vocabulary can say "bought a laptop" and "spent 800 in total", but
-- not "bought one laptop that cost 800 or more". A plain Lua function looks
-- through the purchases for such a laptop in the last two weeks.
local function bought_premium_laptop_recently(c)
  for _, p in ipairs(c.purchases) do
    if p.category == "laptop" and (p.price or 0) >= 800 and c.now - p.ts <= days(14) then
      return true
    end
  end
  return false
end

-- Three-year extended warranty, offered after a premium laptop: in the
-- thank-you email, or by the agent when the customer calls.
action "extended_warranty" {
  channels    = { "email", "call_center" },
  touchpoints = { "email_post_purchase", "call_center_next_best" },
  model       = "electronics",
  value       = 60,
  category    = "services",
  when        = bought_premium_laptop_recently,
  description = "3-year care plan for laptops of 800 EUR and more, within 14 days of purchase",
  payload     = {
    template = "service_offer",
    sku      = "WAR-3Y-LAPTOP",
    headline = "Three more years of peace of mind",
    body     = "Repairs, battery replacement and accidental damage, for 3 years.",
    cta      = "Protect my laptop",
    price    = 129.00,
    agent_script = "Mention the accidental damage cover: it is what customers value most.",
  },
}

--@test
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

-- Extended warranty: a plain Lua function condition --------------------------

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
