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
