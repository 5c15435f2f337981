-- Fallbacks: shown only when no regular action is eligible, so that a
-- page slot is never empty. Ranked among themselves like any action.

-- Our bestsellers, for the home pages, product and cart pages and the
-- weekly email. Not for push notifications or SMS: no message is better
-- than a generic one there. The products are the catalog's most popular
-- in stock (from = "popular": no purchase or view needed, a fallback's
-- customer often has none), one per category, not what the customer owns
-- or was shown this week; with a history, its brands and categories first.
fallback "bestsellers" {
  channels    = { "web", "app", "email" },
  touchpoints = { "web_home", "web_product", "web_cart", "app_home", "email_weekly" },
  value       = 1,
  recommend   = { from = "popular", count = 4, diverse = "category" },
  payload     = {
    template = "product_grid",
    headline = "Bestsellers this week",
    cta      = "Shop bestsellers",
  },
}

-- The post-purchase email always goes out: when no cross-sell fits, it
-- carries the order tracking block.
fallback "order_tracking" {
  channels    = { "email" },
  touchpoints = { "email_post_purchase" },
  value       = 1,
  payload     = {
    template = "order_tracking",
    headline = "Thank you for your order",
    body     = "Follow your parcel: we will email you again when it ships.",
    cta      = "Track my order",
  },
}

-- The kiosk shows the store map when it has nothing personal to offer.
fallback "kiosk_store_map" {
  channels = { "kiosk" },
  value    = 1,
  payload  = { template = "store_map", headline = "Find your way around the store" },
}

-- The receipt carries a satisfaction survey when no coupon applies.
fallback "receipt_survey" {
  channels = { "store" },
  value    = 1,
  payload  = { template = "receipt_footer", headline = "How did we do? Tell us and win a 50 EUR voucher",
               url = "https://example.com/survey" },
}

-- The call centre agent thanks the customer when there is nothing to offer.
fallback "call_center_thank_you" {
  channels = { "call_center" },
  value    = 1,
  payload  = { template = "agent_script",
               agent_script = "Thank the customer for calling; no offer today." },
}
