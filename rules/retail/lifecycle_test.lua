-- Tests for lifecycle.lua.

local scores = {
  cart_recovery = 0.3, reactivation = 0.2, loyalty = 0.2, onboarding = 0.3, engagement = 0.2,
}

-- A purchase some days ago (any product), for the history.
local function order(days_ago, price)
  return { sku = "GEN-001", category = "home", price = price or 40, ts = ago(days(days_ago)) }
end

-- Abandoned carts --------------------------------------------------------------

test "a cart left yesterday: a cart reminder push" {
  context = { channel = "app", touchpoint = "app_push", scores = scores,
              purchases = { order(40) },
              events = { { type = "cart_abandon", sku = "HS-7710-BT", category = "headset", ts = ago(days(1)) } } },
  expect  = { "cart_reminder" },
}

test "a cart left ten days ago is too old for a reminder" {
  context = { channel = "app", touchpoint = "app_push", scores = scores,
              purchases = { order(40) },
              events = { { type = "cart_abandon", sku = "HS-7710-BT", category = "headset", ts = ago(days(10)) } } },
  expect  = { },
  reasons = { cart_reminder = "when" },
}

test "a cart left and then bought: no reminder (since_last_purchase)" {
  context = { channel = "app", touchpoint = "app_push", scores = scores,
              purchases = { { sku = "HS-7710-BT", category = "headset", price = 149, ts = ago(hours(20)) } },
              events = { { type = "cart_abandon", sku = "HS-7710-BT", category = "headset", ts = ago(days(1)) } } },
  expect  = { },
  reasons = { cart_reminder = "when" },
}

test "a valuable customer with SMS consent gets the cart rescue text" {
  context = { channel = "sms", touchpoint = "sms_alert", scores = scores,
              consent = { sms = true }, attributes = { lifetime_value = 1200 },
              purchases = { order(40) },
              events = { { type = "cart_abandon", sku = "CT-880-NAVY", category = "coat", ts = ago(hours(6)) } } },
  expect  = { "cart_rescue_sms" },
}

test "no cart rescue text without SMS consent" {
  context = { channel = "sms", touchpoint = "sms_alert", scores = scores,
              consent = { sms = false }, attributes = { lifetime_value = 1200 },
              purchases = { order(40) },
              events = { { type = "cart_abandon", sku = "CT-880-NAVY", category = "coat", ts = ago(hours(6)) } } },
  expect  = { },
  reasons = { cart_rescue_sms = "consent:sms" },
}

test "no cart rescue text for a low-value customer" {
  context = { channel = "sms", touchpoint = "sms_alert", scores = scores,
              consent = { sms = true }, attributes = { lifetime_value = 120 },
              events = { { type = "cart_abandon", sku = "CT-880-NAVY", category = "coat", ts = ago(hours(6)) } } },
  expect  = { },
  reasons = { cart_rescue_sms = "when" },
}

-- Win-back -------------------------------------------------------------------------

test "last purchase four months ago: the win-back offer" {
  context = { channel = "email", touchpoint = "email_weekly", scores = scores,
              purchases = { order(120), order(300) } },
  expect  = { "winback_offer", "winter_sale" },
}

test "last purchase a month ago: no win-back" {
  context = { channel = "email", touchpoint = "email_weekly", scores = scores,
              purchases = { order(30), order(300) } },
  excludes = { "winback_offer" },
  reasons  = { winback_offer = "when" },
}

test "never bought: not lapsed, welcomed instead" {
  context = { channel = "email", touchpoint = "email_weekly", scores = scores },
  expect  = { "welcome_first_order", "winter_sale" },
  reasons = { winback_offer = "when" },
}

test "a lapsed high-value customer calling in: the agent's win-back call" {
  context = { channel = "call_center", touchpoint = "call_center_next_best", scores = scores,
              attributes = { lifetime_value = 2600 }, purchases = { order(200, 300) } },
  expect  = { "winback_call" },
}

test "a lapsed low-value customer calling in: no win-back call" {
  context = { channel = "call_center", touchpoint = "call_center_next_best", scores = scores,
              attributes = { lifetime_value = 300 }, purchases = { order(200, 300) } },
  expect  = { "call_center_thank_you" },
  reasons = { winback_call = "when" },
}

-- Loyalty ----------------------------------------------------------------------------

test "1000 EUR spent this year and still silver: invite to Gold" {
  context = { channel = "web", touchpoint = "web_home", scores = scores,
              attributes = { loyalty_tier = "silver" },
              purchases = { order(20, 600), order(150, 450) } },
  includes = { "gold_upgrade_invite" },
  excludes = { "tier_free_express" },
  reasons  = { tier_free_express = "when" },
}

test "800 EUR this year (the rest was longer ago): no Gold invite yet" {
  context = { channel = "web", touchpoint = "web_home", scores = scores,
              attributes = { loyalty_tier = "silver" },
              purchases = { order(20, 600), order(100, 200), order(400, 900) } },
  excludes = { "gold_upgrade_invite" },
  reasons  = { gold_upgrade_invite = "when" },
}

test "a gold member: the express shipping perk, and no invite to what they have" {
  context = { channel = "web", touchpoint = "web_cart", scores = scores,
              attributes = { loyalty_tier = "gold" },
              purchases = { order(20, 600), order(150, 450) } },
  expect  = { "tier_free_express" },
  reasons = { gold_upgrade_invite = "touchpoint" },
}

test "a platinum member gets the perk too" {
  context = { channel = "app", touchpoint = "app_home", scores = scores,
              attributes = { loyalty_tier = "platinum" }, purchases = { order(20) } },
  includes = { "tier_free_express" },
}

test "a silver member does not get the gold perk" {
  context = { channel = "app", touchpoint = "app_home", scores = scores,
              attributes = { loyalty_tier = "silver" }, purchases = { order(20) } },
  excludes = { "tier_free_express" },
  reasons  = { tier_free_express = "when" },
}

test "lifetime value 10000: the personal shopper, at double weight" {
  context = { channel = "call_center", touchpoint = "call_center_next_best", scores = scores,
              attributes = { lifetime_value = 12000 }, purchases = { order(200, 300) } },
  -- personal shopper 0.2 x 150 x 2 = 60 beats the win-back call 0.2 x 80 = 16
  expect  = { "vip_personal_shopper" },
  reasons = { winback_call = "outranked" },
}

test "lifetime value 4000: no personal shopper" {
  context = { channel = "email", touchpoint = "email_weekly", scores = scores,
              attributes = { lifetime_value = 4000 }, purchases = { order(20) } },
  excludes = { "vip_personal_shopper" },
  reasons  = { vip_personal_shopper = "when" },
}

test "expiring points: a push reminder" {
  context = { channel = "app", touchpoint = "app_push", scores = scores,
              attributes = { points_expiring = 800 }, purchases = { order(20) } },
  expect  = { "points_expiring" },
}

test "no expiring points: no reminder" {
  context = { channel = "app", touchpoint = "app_push", scores = scores,
              attributes = { points_expiring = 0 }, purchases = { order(20) } },
  expect  = { },
  reasons = { points_expiring = "when" },
}

-- Onboarding ---------------------------------------------------------------------------

test "a new customer is welcomed on the home page" {
  context = { channel = "web", touchpoint = "web_home", scores = scores },
  includes = { "welcome_first_order" },
}

test "a customer who has bought is not welcomed again" {
  context = { channel = "web", touchpoint = "web_home", scores = scores, purchases = { order(5) } },
  excludes = { "welcome_first_order" },
  reasons  = { welcome_first_order = "when" },
}

test "two purchases and no app: the app nudge" {
  context = { channel = "web", touchpoint = "web_home", scores = scores,
              purchases = { order(5), order(50) } },
  includes = { "app_install_nudge" },
}

test "two purchases but the app is installed: no nudge" {
  context = { channel = "web", touchpoint = "web_home", scores = scores,
              attributes = { has_app = true }, purchases = { order(5), order(50) } },
  excludes = { "app_install_nudge" },
  reasons  = { app_install_nudge = "when" },
}

-- Reviews --------------------------------------------------------------------------------

test "after an order with nothing to cross-sell, ask for a review" {
  context = { channel = "email", touchpoint = "email_post_purchase", scores = scores,
              purchases = { order(3) } },
  expect  = { "review_request" },
  reasons = { order_tracking = "fallback: not needed" },
}

test "an old order only: no review request, the order tracking fallback" {
  context = { channel = "email", touchpoint = "email_post_purchase", scores = scores,
              purchases = { order(30) } },
  expect  = { "order_tracking" },
  reasons = { review_request = "when" },
}

-- Contact policy: the stored customer (customer = { ... }) ----------------------

test "a win-back that converted is never offered again" {
  context  = { channel = "email", touchpoint = "email_weekly", scores = scores,
               purchases = { order(120), order(300) } },
  customer = { outcomes = { { action = "winback_offer", outcome = "convert", ts = ago(days(100)) } } },
  expect   = { "winter_sale" },
  reasons  = { winback_offer = "suppressed: convert, forever" },
}

test "two win-back mails this month: no third" {
  context  = { channel = "email", touchpoint = "email_weekly", scores = scores,
               purchases = { order(120), order(300) } },
  customer = { contacts = {
    { action = "winback_offer", channel = "email", ts = ago(days(20)) },
    { action = "winback_offer", channel = "web", ts = ago(days(3)) } } },
  expect   = { "winter_sale" },
  reasons  = { winback_offer = "cap: 2 per 30 days, 2 used" },
}

test "six offers by email this week: nothing more by email" {
  context  = { channel = "email", touchpoint = "email_weekly", scores = scores,
               purchases = { order(120), order(300) } },
  customer = { contacts = {
    { action = "winter_sale", channel = "email", ts = ago(days(6)) },
    { action = "winter_sale", channel = "email", ts = ago(days(5)) },
    { action = "gold_upgrade_invite", channel = "email", ts = ago(days(5)) },
    { action = "winter_sale", channel = "email", ts = ago(days(2)) },
    { action = "points_expiring", channel = "email", ts = ago(days(2)) },
    { action = "points_expiring", channel = "email", ts = ago(days(1)) } } },
  expect   = { },
  reasons  = { winback_offer = "cap: channel email 6 per 7 days, 6 used" },
}

test "the same customer on the web: the email limit does not apply" {
  context  = { channel = "web", touchpoint = "web_home", scores = scores,
               purchases = { order(120), order(300) } },
  customer = { contacts = {
    { action = "winter_sale", channel = "email", ts = ago(days(6)) },
    { action = "winter_sale", channel = "email", ts = ago(days(5)) },
    { action = "gold_upgrade_invite", channel = "email", ts = ago(days(5)) },
    { action = "winter_sale", channel = "email", ts = ago(days(2)) },
    { action = "points_expiring", channel = "email", ts = ago(days(2)) },
    { action = "points_expiring", channel = "email", ts = ago(days(1)) } } },
  includes = { "winback_offer" },
}

test "a cart reminder dismissed twice this month pauses for two weeks" {
  context  = { channel = "app", touchpoint = "app_push", scores = scores,
               purchases = { order(40) },
               events = { { type = "cart_abandon", sku = "HS-7710-BT", category = "headset", ts = ago(days(1)) } } },
  customer = { outcomes = {
    { action = "cart_reminder", outcome = "dismiss", channel = "app", ts = ago(days(12)) },
    { action = "cart_reminder", outcome = "dismiss", channel = "app", ts = ago(days(4)) } } },
  expect   = { },
  reasons  = { cart_reminder = "suppressed: dismiss, until 2026-01-11" },
}

test "a cart reminder yesterday: not again today" {
  context  = { channel = "app", touchpoint = "app_push", scores = scores,
               purchases = { order(40) },
               events = { { type = "cart_abandon", sku = "HS-7710-BT", category = "headset", ts = ago(days(1)) } } },
  customer = { contacts = { { action = "cart_reminder", channel = "app", ts = ago(hours(20)) } } },
  expect   = { },
  reasons  = { cart_reminder = "cooldown: 1 day, last contact 2025-12-31" },
}

test "the cart seen in another session counts (stored events join the context)" {
  context  = { channel = "app", touchpoint = "app_push", scores = scores, purchases = { order(40) } },
  customer = { events = { { type = "cart_abandon", sku = "HS-7710-BT", category = "headset",
                            channel = "web", ts = ago(days(1)) } } },
  expect   = { "cart_reminder" },
}
