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

-- Three-year extended warranty, offered after a premium laptop: in the
-- thank-you email, or by the agent when the customer calls.
action "extended_warranty" {
  channels    = { "email", "call_center" },
  touchpoints = { "email_post_purchase", "call_center_next_best" },
  model       = "electronics",
  value       = 60,
  category    = "services",
  -- one laptop of 800 or more in the last two weeks (not 800 in total:
  -- a filter reads each purchase's own fields)
  when        = bought { category = "laptop", price = at_least(800), within = days(14) },
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
