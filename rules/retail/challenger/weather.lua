-- Weather: the channel sends the local weather with the context
-- (weather = { temp_c = 3, condition = "rain" }). raining() and snowing()
-- read the condition; hot() is 25 °C or more, cold() 5 °C or less.

-- An umbrella when it rains. A customer who bought an umbrella in the
-- last year still sees it, but at a third of the strength.
action "umbrella" {
  channels    = { "web", "app" },
  touchpoints = { "web_home", "app_home", "app_push" },
  model       = "weather",
  value       = 18,
  category    = "rainwear",
  when        = raining(),
  weight      = boost(bought("umbrella", within(days(365))), 0.3),
  payload     = {
    template = "weather_banner",
    sku      = "UM-220-BLK",
    headline = "Rain today. Stay dry.",
    body     = "Our wind-proof compact umbrella fits in any bag.",
    cta      = "Buy now, collect in 1 hour",
    price    = 24.99,
  },
}

-- Allergy relief on hot days (pollen counts peak with the heat); twice as
-- strong for customers we know suffer from hay fever.
action "allergy_relief" {
  channels    = { "web", "app", "email" },
  touchpoints = { "web_home", "app_home", "email_weekly" },
  model       = "weather",
  value       = 14,
  category    = "health",
  when        = hot(),
  weight      = boost(segment("allergy_sufferer"), 2),
  payload     = {
    template = "weather_banner",
    sku      = "AL-104-ANTIH",
    headline = "High pollen today",
    body     = "Non-drowsy antihistamines, 30 tablets. Delivered tomorrow.",
    cta      = "Shop allergy relief",
    price    = 8.49,
  },
}

-- A warm coat when it is cold (5 °C or less), unless they bought a coat
-- in the last six months.
action "winter_coat" {
  channels    = { "web", "app", "email" },
  touchpoints = { "web_home", "app_home", "email_weekly" },
  model       = "weather",
  value       = 90,
  category    = "outerwear",
  when        = all { cold(), no(bought("coat", within(days(180)))) },
  payload     = {
    template = "weather_banner",
    sku      = "CT-880-NAVY",
    headline = "Cold snap: wrap up warm",
    body     = "Our down parka is rated to -20 °C.",
    cta      = "Shop coats",
    price    = 229.00,
  },
}

-- Snow boots when it snows, unless they bought winter boots this year.
action "snow_boots" {
  channels    = { "web", "app" },
  touchpoints = { "web_home", "app_home", "app_push" },
  model       = "weather",
  value       = 70,
  category    = "footwear",
  when        = all { snowing(), no(bought("winter_boots", within(days(365)))) },
  payload     = {
    template = "weather_banner",
    sku      = "BT-410-SNOW",
    headline = "Snow is here",
    body     = "Waterproof, lined, and with a sole that grips ice.",
    cta      = "Shop snow boots",
    price    = 139.00,
  },
}

-- Sunscreen on hot, clear days.
action "sunscreen" {
  channels    = { "web", "app" },
  touchpoints = { "web_home", "app_home", "app_push" },
  model       = "weather",
  value       = 10,
  category    = "sun_care",
  when        = all { hot(), weather("clear") },
  payload     = {
    template = "weather_banner",
    sku      = "SS-050-SPF50",
    headline = "Sun's out: SPF 50",
    body     = "Light, non-greasy, water-resistant for 80 minutes.",
    cta      = "Add to basket",
    price    = 12.99,
  },
}
