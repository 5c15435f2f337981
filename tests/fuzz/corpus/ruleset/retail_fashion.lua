-- Fashion: complete the look, dresses, shoes, the new season.

-- The red cocktail dresses of this season, by sku. bought { ... } with a
-- list matches any of them.
local RED_COCKTAIL_DRESSES = { "DR-2231-RED", "DR-2240-RED", "DR-2302-RED" }
local bought_red_cocktail_dress = bought(RED_COCKTAIL_DRESSES, within(days(30)))

-- Complete the look: a gold clutch to go with a red cocktail dress bought
-- in the last month. Strongest right after the purchase (half after 10 days).
action "gold_clutch" {
  channels    = { "email", "web", "app" },
  touchpoints = { "email_post_purchase", "web_home", "web_product", "app_home" },
  model       = "fashion",
  value       = 35,
  category    = "bags",
  when        = bought_red_cocktail_dress,
  weight      = recency("cocktail_dress", days(10)),
  payload     = {
    template = "complete_the_look",
    sku      = "BG-118-GLD",
    headline = "The finishing touch for your red dress",
    body     = "Our metallic gold clutch: room for a phone, a lipstick and the keys.",
    cta      = "Complete the look",
    price    = 59.00,
  },
}

-- Complete the look: the matching ruby lipstick for the same dress.
action "ruby_lipstick" {
  channels    = { "email", "web", "app" },
  touchpoints = { "email_post_purchase", "web_home", "web_product", "app_home" },
  model       = "fashion",
  value       = 15,
  category    = "beauty",
  when        = bought_red_cocktail_dress,
  weight      = recency("cocktail_dress", days(10)),
  payload     = {
    template = "complete_the_look",
    sku      = "LS-031-RUBY",
    headline = "The red that matches your dress",
    body     = "Long-wear ruby lipstick, shade-matched to our cocktail collection.",
    cta      = "Add to basket",
    price    = 24.00,
  },
}

-- Cocktail dress picks for someone browsing cocktail dresses this week,
-- but not to someone who bought one in the last three months: after a red
-- dress we complete the look, we do not push another red dress.
action "cocktail_dress_picks" {
  channels    = { "web", "app", "email" },
  touchpoints = { "web_home", "web_product", "app_home", "email_weekly" },
  model       = "fashion",
  value       = 80,
  category    = "dresses",
  when        = all { viewed("cocktail_dress", within(days(7))),
                      no(bought("cocktail_dress", within(days(90)))) },
  payload     = {
    template = "product_grid",
    headline = "Cocktail dresses picked for you",
    skus     = { "DR-2231-RED", "DR-2255-BLK", "DR-2270-EMR" },
    cta      = "Shop the edit",
  },
}

-- Shoe care kit for anyone who bought shoes in the last two weeks and no
-- shoe care product in the last six months.
action "shoe_care_kit" {
  channels    = { "web", "email" },
  touchpoints = { "web_product", "web_cart", "email_post_purchase" },
  model       = "fashion",
  value       = 12,
  category    = "shoe_care",
  when        = all { bought("shoes", within(days(14))), no(bought("shoe_care", within(days(180)))) },
  payload     = {
    template = "product_card",
    sku      = "SC-010-KIT",
    headline = "Keep your new shoes looking new",
    body     = "Brush, cream and waterproofing spray in one kit.",
    cta      = "Add to basket",
    price    = 19.00,
  },
}

-- The new season edit for customers in the "fashion_lover" segment; half
-- as strong again for those who clicked one of our emails this month.
action "new_season_edit" {
  channels    = { "web", "app", "email" },
  touchpoints = { "web_home", "app_home", "email_weekly" },
  model       = "fashion",
  value       = 20,
  category    = "fashion",
  when        = segment("fashion_lover"),
  weight      = boost(clicked_email(within(days(30))), 1.5),
  payload     = {
    template = "editorial",
    headline = "Spring/Summer 2026 has landed",
    body     = "Linen, pastels and the return of the wide-leg trouser.",
    cta      = "Discover the collection",
    url      = "/collections/ss26",
  },
}

--@test
-- Tests for fashion.lua.

local scores = {
  accessories = 0.3, electronics = 0.1, fashion = 0.2, weather = 0.2, store_visit = 0.2,
  cart_recovery = 0.3, reactivation = 0.2, loyalty = 0.2, onboarding = 0.3,
  replenishment = 0.3, maternity = 0.2, engagement = 0.2,
}

local red_dress_yesterday = { sku = "DR-2231-RED", category = "cocktail_dress", price = 189, ts = ago(days(1)) }
local viewed_red_dresses = {
  { type = "view", sku = "DR-2231-RED", category = "cocktail_dress", ts = ago(days(2)) },
  { type = "view", sku = "DR-2240-RED", category = "cocktail_dress", ts = ago(days(1)) },
}

-- Complete the look ------------------------------------------------------------

test "a red cocktail dress brings the gold clutch and the lipstick, not another dress" {
  context = { channel = "web", touchpoint = "web_product",
              purchases = { red_dress_yesterday }, events = viewed_red_dresses, scores = scores },
  expect  = { "gold_clutch", "ruby_lipstick" },
  reasons = { cocktail_dress_picks = "when" },
}

test "a dress that is not one of the red cocktail dresses does not trigger the look" {
  context = { channel = "web", touchpoint = "web_product",
              purchases = { { sku = "DR-2255-BLK", category = "cocktail_dress", price = 179, ts = ago(days(1)) } },
              scores = scores },
  excludes = { "gold_clutch", "ruby_lipstick" },
  reasons  = { gold_clutch = "when", ruby_lipstick = "when" },
}

test "the look is no longer offered six weeks after the dress" {
  context = { channel = "web", touchpoint = "web_product",
              purchases = { { sku = "DR-2240-RED", category = "cocktail_dress", price = 189, ts = ago(days(42)) } },
              scores = scores },
  excludes = { "gold_clutch", "ruby_lipstick", "cocktail_dress_picks" },
}

test "the post-purchase email after a red dress shows only the clutch" {
  context = { channel = "email", touchpoint = "email_post_purchase",
              purchases = { red_dress_yesterday }, scores = scores },
  expect  = { "gold_clutch" },
  reasons = { ruby_lipstick = "outranked" },
}

-- Dress picks ------------------------------------------------------------------

test "a customer browsing cocktail dresses gets the dress picks" {
  context = { channel = "web", touchpoint = "web_product", events = viewed_red_dresses, scores = scores },
  expect  = { "cocktail_dress_picks" },
}

test "browsing dresses two weeks ago is too old for the picks" {
  context = { channel = "web", touchpoint = "web_product",
              events = { { type = "view", sku = "DR-2231-RED", category = "cocktail_dress", ts = ago(days(14)) } },
              scores = scores },
  expect  = { "bestsellers" },
  reasons = { cocktail_dress_picks = "when" },
}

-- Shoes --------------------------------------------------------------------------

test "new shoes bring the shoe care kit" {
  context = { channel = "web", touchpoint = "web_cart",
              purchases = { { sku = "SH-501-BRN", category = "shoes", price = 119, ts = ago(days(3)) } },
              scores = scores },
  includes = { "shoe_care_kit" },
}

test "no shoe care kit for someone who bought shoe care with the shoes" {
  context = { channel = "web", touchpoint = "web_cart",
              purchases = { { sku = "SH-501-BRN", category = "shoes", price = 119, ts = ago(days(3)) },
                            { sku = "SC-022-SPRAY", category = "shoe_care", price = 9, ts = ago(days(3)) } },
              scores = scores },
  excludes = { "shoe_care_kit" },
  reasons  = { shoe_care_kit = "when" },
}

-- New season edit: segment and boost ----------------------------------------------

test "fashion lovers see the new season edit on the home page" {
  context = { channel = "web", touchpoint = "web_home", scores = scores,
              attributes = { segments = { "fashion_lover", "newsletter" } } },
  includes = { "new_season_edit" },
}

test "customers outside the fashion_lover segment do not" {
  context = { channel = "web", touchpoint = "web_home", scores = scores,
              attributes = { segments = { "bargain_hunter" } } },
  excludes = { "new_season_edit" },
  reasons  = { new_season_edit = "when" },
}

-- With the engagement score at 0.35 the winter sale is worth 0.35 x 15 =
-- 5.25; the edit is worth 0.2 x 20 = 4, or 6 with the email-click boost.
local sale_scores = { fashion = 0.2, engagement = 0.35 }

test "without an email click the winter sale leads the weekly email" {
  context = { channel = "email", touchpoint = "email_weekly", scores = sale_scores,
              attributes = { segments = { "fashion_lover" } } },
  expect  = { "winter_sale", "new_season_edit" },
}

test "an email click this month lifts the edit above the winter sale" {
  context = { channel = "email", touchpoint = "email_weekly", scores = sale_scores,
              attributes = { segments = { "fashion_lover" } },
              events = { { type = "email_click", ts = ago(days(3)) } } },
  expect  = { "new_season_edit", "winter_sale" },
}
