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
