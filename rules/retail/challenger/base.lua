-- Arbiter reference ruleset: retail.
--
-- This file declares what every other file of the folder builds on: the
-- settings, the extra channels, the model scores upstream sends, the
-- touchpoints (the places where actions are shown) and the stores. It holds
-- no action. The actions live in one file per theme:
--
--   electronics.lua    laptop accessories, warranty, laptop deals
--   fashion.lua        complete the look, dresses, shoes, new season
--   weather.lua        umbrella, allergy relief, coats, boots, sunscreen
--   stores.lua         in-store and near-store offers (need location consent)
--   lifecycle.lua      cart abandonment, win-back, loyalty, onboarding
--   replenishment.lua  vitamins, toothpaste, lenses, pet food
--   family.lua         maternity and newborn
--   seasonal.lua       time-boxed campaigns (flight dates, time of day)
--   fallback.lua       what to show when nothing else is eligible
--
-- Each theme has a *_test.lua file beside it: run `arbiter test rules/retail`.

-- Local time for hour_between and weekday: Central European (winter) time.
-- Three actions per touchpoint unless the touchpoint says otherwise.
settings { default_limit = 3, utc_offset_hours = 1 }

-- The six standard channels (web, email, app, store, call_center, sms) are
-- always there; the self-service kiosks in our stores are one more.
channels { "kiosk" }

-- Contact policy per channel (dsl/README.md, "Contact policy"). Email is
-- counted when the decision is made (the mail goes out); six offers a week
-- at most, two weekly mails of three. A text message is intrusive: one a
-- week, whatever it is about. Web and app count what the customer saw
-- (feedback impressions), with no limit across actions.
channel "email" { cap = { 6, per = days(7) }, counts = "decision" }
channel "sms" { cap = { 1, per = days(7) } }

-- Outcomes a channel may report with feedback besides impression, click,
-- convert and dismiss.
outcomes { "unsubscribe" }

-- The propensity scores the data science team sends with every context, in
-- `scores`. An action with `model = "..."` uses that score as its
-- propensity; when the score is missing, the action is skipped.
models {
  "accessories",     -- will buy an accessory for a recent purchase
  "electronics",     -- will buy a big-ticket electronics item
  "fashion",         -- will respond to a style recommendation
  "weather",         -- will respond to a weather-led offer
  "store_visit",     -- will come into a store
  "cart_recovery",   -- will come back to an abandoned cart
  "reactivation",    -- a lapsed customer will buy again
  "loyalty",         -- will engage with the loyalty programme
  "onboarding",      -- a new customer will place a first order
  "replenishment",   -- will restock a consumable
  "maternity",       -- will buy maternity and baby products
  "engagement",      -- will click general content and campaigns
}

-- Touchpoints: where a channel shows actions, and how many at once.

-- The web home page has four recommendation slots, never two of the same
-- category, so a laptop buyer does not see a wall of accessories.
touchpoint "web_home" { limit = 4, diverse = "category",
                        description = "Home page carousel, 4 tiles" }
touchpoint "web_product" { limit = 3, description = "\"You may also like\" on a product page" }
touchpoint "web_cart" { limit = 2, description = "Cart page, under the basket" }

-- The app home screen: three cards, all of different categories.
touchpoint "app_home" { limit = 3, diverse = "category" }
-- A push notification: exactly one message.
touchpoint "app_push" { limit = 1 }

-- The email sent the day after an order: one hero offer, no more.
touchpoint "email_post_purchase" { limit = 1,
                                   description = "Thank-you email, one hero block" }
-- The weekly newsletter: three blocks of different categories.
touchpoint "email_weekly" { limit = 3, diverse = "category" }

-- Store: the coupon printed on the receipt, and the kiosk welcome screen.
touchpoint "store_receipt" { limit = 1 }
touchpoint "kiosk_welcome" { limit = 2 }

-- The call centre agent's screen suggests one thing to offer.
touchpoint "call_center_next_best" { limit = 1 }
-- A text message: one at a time.
touchpoint "sms_alert" { limit = 1 }

-- Our flagship stores, for near_store(km(...)) and in_store("...").
store "berlin_alexanderplatz" { lat = 52.5219, lon = 13.4132, name = "Berlin Alexanderplatz" }
store "munich_marienplatz" { lat = 48.1374, lon = 11.5755, name = "München Marienplatz" }
store "hamburg_jungfernstieg" { lat = 53.5526, lon = 9.9925, name = "Hamburg Jungfernstieg" }
