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

-- The dress's complements in products.jsonl: two clutches, two lipsticks
-- and shoes; the clutch of its own designer and the most popular lipstick
-- win (score: popularity x 2 + affinity to the customer's brands).
test "a red cocktail dress brings the clutch and the lipstick the catalog pairs with it, not another dress" {
  context  = { channel = "web", touchpoint = "web_product",
               purchases = { red_dress_yesterday }, events = viewed_red_dresses, scores = scores },
  expect   = { "complete_the_look" },
  products = { complete_the_look = { "BG-118-GLD", "LS-1107" } },
  reasons  = { cocktail_dress_picks = "when" },
}

test "a red dress sent by its sku alone is known by the catalog" {
  context  = { channel = "web", touchpoint = "web_product", scores = scores,
               purchases = { { sku = "DR-2302-RED", price = 480, ts = ago(days(1)) } } },
  expect   = { "complete_the_look" },
}

test "a dress that is not red does not trigger the look" {
  context  = { channel = "web", touchpoint = "web_product",
               purchases = { { sku = "DR-2255-BLK", category = "cocktail_dress", price = 179, ts = ago(days(1)) } },
               scores = scores },
  excludes = { "complete_the_look" },
  reasons  = { complete_the_look = "when" },
}

test "the look never shows a clutch the customer already owns" {
  context  = { channel = "web", touchpoint = "web_product", scores = scores,
               purchases = { red_dress_yesterday,
                             { sku = "BG-118-GLD", category = "clutch", price = 320, ts = ago(days(200)) } } },
  products = { complete_the_look = { "LS-1107", "BG-1055" } },
}

test "the look is no longer offered six weeks after the dress" {
  context  = { channel = "web", touchpoint = "web_product",
               purchases = { { sku = "DR-2240-RED", category = "cocktail_dress", price = 189, ts = ago(days(42)) } },
               scores = scores },
  excludes = { "complete_the_look", "cocktail_dress_picks" },
}

test "the post-purchase email after a red dress carries the look" {
  context  = { channel = "email", touchpoint = "email_post_purchase",
               purchases = { red_dress_yesterday }, scores = scores },
  expect   = { "complete_the_look" },
  products = { complete_the_look = { "BG-118-GLD", "LS-1107" } },
}

-- Dress picks ------------------------------------------------------------------

test "a customer browsing cocktail dresses gets dresses like the ones they viewed" {
  context  = { channel = "web", touchpoint = "web_product", events = viewed_red_dresses, scores = scores },
  expect   = { "cocktail_dress_picks" },
  products = { cocktail_dress_picks = { "DR-1069", "DR-1065", "DR-1167" } },
}

test "a designer piece brings pieces by like-minded designers" {
  context  = { channel = "web", touchpoint = "web_home", scores = scores,
               purchases = { { sku = "DR-2270-EMR", price = 610, ts = ago(days(20)) } } },
  includes = { "like_minded_designers" },
  products = { like_minded_designers = { "DR-1066", "DR-1013" } },
}

test "browsing dresses two weeks ago is too old for the picks" {
  context = { channel = "web", touchpoint = "web_product",
              events = { { type = "view", sku = "DR-2231-RED", category = "cocktail_dress", ts = ago(days(14)) } },
              scores = scores },
  expect  = { "bestsellers" },
  reasons = { cocktail_dress_picks = "when" },
  -- The bestsellers still lean to what was viewed: the most popular
  -- Caruso cocktail dress first, then one per other category.
  products = { bestsellers = { "DR-2302-RED", "BG-1106", "PH-1024", "CT-1024" } },
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
