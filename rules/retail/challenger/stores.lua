-- Stores: offers that depend on where the customer is.
--
-- Every action here that looks at the location says
-- requires = { "location" }: it is never shown unless the customer gave
-- location consent (consent = { location = true }) AND the channel sent a
-- location. Even without `requires`, near_store / in_store / in_country are
-- false without consent: the engine hides the location from the rules.

-- Welcome coupon in the app when the phone tells us the customer walked
-- into one of our stores.
action "in_store_welcome" {
  channels    = { "app" },
  touchpoints = { "app_home", "app_push" },
  requires    = { "location" },
  model       = "store_visit",
  value       = 10,
  category    = "store_offer",
  when        = in_store(),
  payload     = {
    template = "coupon",
    headline = "Welcome in! 10% off today",
    body     = "Show this screen at any till. Valid today in this store.",
    code     = "INSTORE10",
    discount_pct = 10,
  },
}

-- The Berlin flagship runs live product demos: invite customers who are
-- in that store right now.
action "berlin_flagship_demo" {
  channels    = { "app" },
  touchpoints = { "app_home", "app_push" },
  requires    = { "location" },
  model       = "store_visit",
  value       = 15,
  category    = "store_event",
  when        = in_store("berlin_alexanderplatz"),
  payload     = {
    template = "store_event",
    headline = "Live demo on the 2nd floor at 17:00",
    body     = "Try the new noise-cancelling headsets with our audio team.",
    cta      = "Save my seat",
    store_id = "berlin_alexanderplatz",
  },
}

-- Raining and within 2 km of a store: reserve an umbrella to pick up on
-- the way. A push, so one message only.
action "rain_pickup_umbrella" {
  channels    = { "app" },
  touchpoints = { "app_push" },
  requires    = { "location" },
  model       = "store_visit",
  value       = 20,
  category    = "store_offer",
  when        = all { raining(), near_store(km(2)) },
  payload     = {
    template = "push",
    sku      = "UM-220-BLK",
    headline = "Caught in the rain?",
    body     = "An umbrella is waiting for you at our store around the corner.",
    cta      = "Reserve for pick-up",
  },
}

-- Within 5 km of a store with something added to the cart this week:
-- suggest click & collect today.
action "click_and_collect" {
  channels    = { "app", "web" },
  touchpoints = { "app_home", "web_cart" },
  requires    = { "location" },
  model       = "store_visit",
  value       = 25,
  category    = "store_offer",
  when        = all { near_store(km(5)), added_to_cart(within(days(7))) },
  payload     = {
    template = "banner",
    headline = "Your cart is in stock nearby",
    body     = "Order now and collect it in the store in 2 hours. No delivery fee.",
    cta      = "Collect in store",
  },
}

-- Free shipping to Austria: shown only to visitors located in Austria.
action "austria_free_shipping" {
  channels    = { "web" },
  touchpoints = { "web_home", "web_cart" },
  requires    = { "location" },
  model       = "engagement",
  value       = 6,
  category    = "shipping",
  when        = in_country("AT"),
  payload     = {
    template = "banner",
    headline = "Kostenloser Versand nach Österreich",
    body     = "Free shipping to Austria on every order this month.",
  },
}

-- In-store kiosk: invite loyalty members to scan their card. Kiosks have
-- no propensity model: the kiosk reports each impression and each scan (a
-- `convert`), and Arbiter learns how often members scan, per loyalty tier,
-- from an even guess worth 10 visits.
action "kiosk_scan_and_save" {
  channels    = { "kiosk" },
  touchpoints = { "kiosk_welcome" },
  propensity  = adaptive {
    positive = "convert",
    prior    = 0.5,
    strength = 10,
    segment  = "loyalty_tier",
  },
  value       = 5,
  when        = attribute("loyalty_tier", one_of { "silver", "gold", "platinum" }),
  payload     = {
    template = "kiosk_card",
    headline = "Scan your loyalty card for today's member prices",
  },
}

-- A coupon printed on the receipt for the next visit, for regulars: two
-- purchases or more (today's included) in the last 90 days. The till
-- sends the purchase history with the context.
action "receipt_next_visit_coupon" {
  channels    = { "store" },
  touchpoints = { "store_receipt" },
  model       = "store_visit",
  value       = 8,
  when        = purchases(at_least(2), nil, within(days(90))),
  payload     = {
    template = "receipt_coupon",
    headline = "5 EUR off your next visit over 50 EUR",
    code     = "NEXT5",
    valid_days = 30,
  },
}
