models { "accessories", "weather_gear" }
touchpoint "email_post_purchase" { limit = 1 }
touchpoint "web_home" { limit = 4, diverse = "category" }
store "S1" { lat = 40.0, lon = -74.0 }

action "wireless_mouse" {
  channels = { "email", "web", "app" },
  value    = 25,
  model    = "accessories",
  category = "accessory",
  when     = all { bought("laptop", within(days(30))), no(bought("mouse")) },
  weight   = recency("laptop", days(14)),
  payload  = { template = "accessory_grid", sku = "MS-100" },
}

action "umbrella_in_store" {
  channels = { "app" },
  requires = { "location" },
  when     = all { raining(), near_store(km(2)) },
  value    = 8,
}

action "gold_perk" {
  channels = { "web" },
  value = 5,
  when = function(c) return c.attributes.loyalty_tier == "gold" end,
}
fallback "newsletter" { channels = { "web", "email", "app" }, value = 1 }
