-- Fashion: complete the look, dresses, shoes, the new season.

-- A red cocktail dress: the catalog (catalog.lua) knows each dress's
-- color, so a new season's red dresses need no list of skus here. A
-- purchase sent with its sku alone is joined to its product.
local bought_red_cocktail_dress = bought { category = "cocktail_dress", color = "red", within = days(30) }

-- Complete the look: after a red cocktail dress bought in the last month,
-- the clutch and the lipstick the catalog pairs with that dress
-- (its "complements"), one of each, never another dress, nothing the
-- customer owns or was shown this week. Strongest right after the purchase
-- (half after 10 days).
action "complete_the_look" {
  channels    = { "email", "web", "app" },
  touchpoints = { "email_post_purchase", "web_home", "web_product", "app_home" },
  model       = "fashion",
  value       = 50,
  category    = "bags",
  when        = bought_red_cocktail_dress,
  weight      = recency("cocktail_dress", days(10)),
  recommend   = {
    from    = "complements",
    within  = days(30),
    count   = 2,
    where   = { category = one_of { "clutch", "lipstick" } },
    exclude = { "owned", "shown", "seed_category" },
    diverse = "category",
    score   = { popularity = 2, affinity = 1 },
  },
  payload     = {
    template = "complete_the_look",
    headline = "The finishing touch for your red dress, {attributes.first_name|with love}",
    body     = "{product.name} by {product.brand}, chosen to go with your dress.",
    cta      = "Complete the look",
  },
}

-- Cocktail dress picks for someone browsing cocktail dresses this week,
-- but not to someone who bought one in the last three months: after a red
-- dress we complete the look, we do not push another red dress. The picks
-- are dresses like the ones they looked at (the catalog's "similar"), one
-- per designer, in stock.
action "cocktail_dress_picks" {
  channels    = { "web", "app", "email" },
  touchpoints = { "web_home", "web_product", "app_home", "email_weekly" },
  model       = "fashion",
  value       = 80,
  category    = "dresses",
  when        = all { viewed("cocktail_dress", within(days(7))),
                      no(bought("cocktail_dress", within(days(90)))) },
  recommend   = {
    from    = "similar",
    seeds   = "views",
    within  = days(7),
    count   = 3,
    diverse = "brand",
  },
  payload     = {
    template = "product_grid",
    headline = "Cocktail dresses picked for you",
    cta      = "Shop the edit",
  },
}

-- Like-minded designers: a designer piece bought in the last two months
-- brings pieces by designers of the same school (the catalog's "similar"
-- links them), one per designer.
action "like_minded_designers" {
  channels    = { "email", "web", "app" },
  touchpoints = { "email_weekly", "web_home", "app_home" },
  model       = "fashion",
  value       = 30,
  category    = "fashion",
  when        = bought { designer_school = one_of { "classic", "avant-garde" }, within = days(60) },
  recommend   = {
    from    = "similar",
    within  = days(60),
    count   = 3,
    diverse = "brand",
    score   = { popularity = 1, price_band = 1 },
  },
  payload     = {
    template = "designer_edit",
    headline = "If you love {product.brand}, meet its peers",
    cta      = "Discover the designers",
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
