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
-- no propensity model, so a fixed propensity of 0.5 stands in.
action "kiosk_scan_and_save" {
  channels    = { "kiosk" },
  touchpoints = { "kiosk_welcome" },
  propensity  = 0.5,
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

--@test
-- Tests for stores.lua: location offers and location consent.

local scores = { store_visit = 0.2, weather = 0.2 }
local web_scores = { engagement = 0.2 }   -- for the Austria shipping banner

-- Where the customer is. The Berlin Alexanderplatz store is at 52.5219,
-- 13.4132: `nearby` is about 0.6 km from it, `across_town` about 3.6 km,
-- `cologne` hundreds of km from any store.
local in_berlin_store = { lat = 52.5219, lon = 13.4132, store_id = "berlin_alexanderplatz", country = "DE" }
local in_munich_store = { lat = 48.1374, lon = 11.5755, store_id = "munich_marienplatz", country = "DE" }
local nearby = { lat = 52.5200, lon = 13.4050, country = "DE" }
local across_town = { lat = 52.5200, lon = 13.3600, country = "DE" }
local cologne = { lat = 50.9375, lon = 6.9603, country = "DE" }
local vienna = { lat = 48.2082, lon = 16.3738, country = "AT" }

local consented = { location = true, email = true }
local refused = { location = false, email = true }

-- In store ----------------------------------------------------------------------

test "in the Berlin flagship with location consent: the demo and the welcome coupon" {
  context = { channel = "app", touchpoint = "app_home", scores = scores,
              consent = consented, location = in_berlin_store },
  expect  = { "berlin_flagship_demo", "in_store_welcome" },
}

test "in the Berlin flagship without location consent: no store offer at all" {
  context = { channel = "app", touchpoint = "app_home", scores = scores,
              consent = refused, location = in_berlin_store },
  expect  = { "bestsellers" },
  reasons = { berlin_flagship_demo = "consent:location", in_store_welcome = "consent:location",
              click_and_collect = "consent:location" },
}

test "no consent given at all counts as no consent" {
  context = { channel = "app", touchpoint = "app_home", scores = scores, location = in_berlin_store },
  excludes = { "berlin_flagship_demo", "in_store_welcome" },
  reasons  = { berlin_flagship_demo = "consent:location", in_store_welcome = "consent:location" },
}

test "consent but no location sent: nothing location-based" {
  context = { channel = "app", touchpoint = "app_home", scores = scores, consent = consented },
  expect  = { "bestsellers" },
  reasons = { in_store_welcome = "location: not sent", berlin_flagship_demo = "location: not sent" },
}

test "in the Munich store: the welcome coupon but not the Berlin demo" {
  context = { channel = "app", touchpoint = "app_home", scores = scores,
              consent = consented, location = in_munich_store },
  expect  = { "in_store_welcome" },
  reasons = { berlin_flagship_demo = "when" },
}

test "near a store but not in one: no welcome coupon" {
  context = { channel = "app", touchpoint = "app_home", scores = scores,
              consent = consented, location = nearby },
  excludes = { "in_store_welcome" },
  reasons  = { in_store_welcome = "when" },
}

-- Near a store ------------------------------------------------------------------

test "raining 600 m from a store: reserve an umbrella for pick-up" {
  -- 0.2 x 20 = 4 beats the generic umbrella push (0.2 x 18 = 3.6).
  context = { channel = "app", touchpoint = "app_push", scores = scores,
              consent = consented, location = nearby, weather = { temp_c = 9, condition = "rain" } },
  expect  = { "rain_pickup_umbrella" },
  reasons = { umbrella = "outranked" },
}

test "raining 600 m from a store without consent: the generic umbrella push instead" {
  context = { channel = "app", touchpoint = "app_push", scores = scores,
              consent = refused, location = nearby, weather = { temp_c = 9, condition = "rain" } },
  expect  = { "umbrella" },
  reasons = { rain_pickup_umbrella = "consent:location" },
}

test "raining 3.6 km from the nearest store: too far to pick up" {
  context = { channel = "app", touchpoint = "app_push", scores = scores,
              consent = consented, location = across_town, weather = { temp_c = 9, condition = "rain" } },
  expect  = { "umbrella" },
  reasons = { rain_pickup_umbrella = "when" },
}

test "a cart this week and 3.6 km from a store: click and collect" {
  context = { channel = "web", touchpoint = "web_cart", scores = scores,
              consent = consented, location = across_town,
              events = { { type = "cart_add", sku = "HS-7710-BT", category = "headset", ts = ago(days(1)) } } },
  expect  = { "click_and_collect" },
}

test "a cart this week but far from every store: no click and collect" {
  context = { channel = "web", touchpoint = "web_cart", scores = scores,
              consent = consented, location = cologne,
              events = { { type = "cart_add", sku = "HS-7710-BT", category = "headset", ts = ago(days(1)) } } },
  expect  = { "bestsellers" },
  reasons = { click_and_collect = "when" },
}

test "near a store with a cart but without consent: no click and collect" {
  context = { channel = "web", touchpoint = "web_cart", scores = scores,
              consent = refused, location = across_town,
              events = { { type = "cart_add", sku = "HS-7710-BT", category = "headset", ts = ago(days(1)) } } },
  expect  = { "bestsellers" },
  reasons = { click_and_collect = "consent:location" },
}

-- Country ---------------------------------------------------------------------------

test "a visitor in Austria sees free shipping to Austria" {
  context = { channel = "web", touchpoint = "web_home", scores = web_scores,
              consent = consented, location = vienna },
  includes = { "austria_free_shipping" },
}

test "a visitor in Germany does not" {
  context = { channel = "web", touchpoint = "web_home", scores = web_scores,
              consent = consented, location = cologne },
  excludes = { "austria_free_shipping" },
  reasons  = { austria_free_shipping = "when" },
}

test "a visitor in Austria without location consent does not" {
  context = { channel = "web", touchpoint = "web_home", scores = web_scores,
              consent = refused, location = vienna },
  excludes = { "austria_free_shipping" },
  reasons  = { austria_free_shipping = "consent:location" },
}

-- Kiosk and receipt ------------------------------------------------------------------

test "a loyalty member at the kiosk is asked to scan their card" {
  context = { channel = "kiosk", touchpoint = "kiosk_welcome", attributes = { loyalty_tier = "gold" } },
  expect  = { "kiosk_scan_and_save" },
}

test "a guest at the kiosk gets the store map" {
  context = { channel = "kiosk", touchpoint = "kiosk_welcome" },
  expect  = { "kiosk_store_map" },
  reasons = { kiosk_scan_and_save = "when" },
}

test "a regular gets a next-visit coupon on the receipt" {
  context = { channel = "store", touchpoint = "store_receipt", scores = scores,
              purchases = { { sku = "VT-300-D3", category = "vitamins", price = 12, ts = ago(hours(1)) },
                            { sku = "TP-010-MINT", category = "toothpaste", price = 3, ts = ago(days(20)) } } },
  expect  = { "receipt_next_visit_coupon" },
  reasons = { receipt_survey = "fallback: not needed" },
}

test "a first-time shopper gets the survey on the receipt" {
  context = { channel = "store", touchpoint = "store_receipt", scores = scores,
              purchases = { { sku = "VT-300-D3", category = "vitamins", price = 12, ts = ago(hours(1)) } } },
  expect  = { "receipt_survey" },
  reasons = { receipt_next_visit_coupon = "when" },
}
