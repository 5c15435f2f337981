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

--@test
-- Tests for weather.lua. Only the weather score is sent, so that the other
-- themes stay out of the way ("no score: ...").

local scores = { weather = 0.2 }

-- Umbrella -----------------------------------------------------------------------

test "it rains: umbrella" {
  context = { channel = "app", touchpoint = "app_home", scores = scores,
              weather = { temp_c = 12, condition = "rain" } },
  expect  = { "umbrella" },
}

test "it does not rain: no umbrella" {
  context = { channel = "app", touchpoint = "app_home", scores = scores,
              weather = { temp_c = 12, condition = "clouds" } },
  expect  = { "bestsellers" },
  reasons = { umbrella = "when" },
}

test "no weather sent: no umbrella" {
  context = { channel = "app", touchpoint = "app_home", scores = scores },
  excludes = { "umbrella" },
  reasons  = { umbrella = "when" },
}

test "a customer who bought an umbrella still sees it when it rains, just lower" {
  -- 0.2 x 18 x 0.3 = 1.08, below the coat (0.2 x 90 = 18) on a cold wet day.
  context = { channel = "app", touchpoint = "app_home", scores = scores,
              weather = { temp_c = 2, condition = "rain" },
              purchases = { { sku = "UM-220-BLK", category = "umbrella", price = 24.99, ts = ago(days(100)) } } },
  expect  = { "winter_coat", "umbrella" },
}

-- Allergy relief ---------------------------------------------------------------------

test "a hot day: allergy relief" {
  context = { channel = "web", touchpoint = "web_home", scores = scores,
              weather = { temp_c = 31, condition = "clouds" } },
  expect  = { "allergy_relief" },
}

test "a mild day: no allergy relief" {
  context = { channel = "web", touchpoint = "web_home", scores = scores,
              weather = { temp_c = 18, condition = "clouds" } },
  expect  = { "bestsellers" },
  reasons = { allergy_relief = "when" },
}

test "hot and clear: allergy relief for a hay fever sufferer ranks above sunscreen" {
  -- 0.2 x 14 x 2 = 5.6 against 0.2 x 10 = 2.
  context = { channel = "app", touchpoint = "app_home", scores = scores,
              weather = { temp_c = 29, condition = "clear" },
              attributes = { segments = { "allergy_sufferer" } } },
  expect  = { "allergy_relief", "sunscreen" },
}

-- Coat ------------------------------------------------------------------------------------

test "a cold day: a winter coat" {
  context = { channel = "email", touchpoint = "email_weekly", scores = scores,
              weather = { temp_c = -3, condition = "clear" } },
  expect  = { "winter_coat" },
}

test "a warm day: no coat" {
  context = { channel = "email", touchpoint = "email_weekly", scores = scores,
              weather = { temp_c = 15, condition = "clear" } },
  expect  = { "bestsellers" },
  reasons = { winter_coat = "when" },
}

test "no coat for someone who bought one this winter" {
  context = { channel = "email", touchpoint = "email_weekly", scores = scores,
              weather = { temp_c = -3, condition = "clear" },
              purchases = { { sku = "CT-880-NAVY", category = "coat", price = 229, ts = ago(days(40)) } } },
  expect  = { "bestsellers" },
  reasons = { winter_coat = "when" },
}

-- Snow ---------------------------------------------------------------------------------------

test "snow: the coat, then the boots, on the app" {
  context = { channel = "app", touchpoint = "app_home", scores = scores,
              weather = { temp_c = -1, condition = "snow" } },
  expect  = { "winter_coat", "snow_boots" },
}

test "snow but already bought winter boots: no push at all" {
  context = { channel = "app", touchpoint = "app_push", scores = scores,
              weather = { temp_c = 1, condition = "snow" },
              purchases = { { sku = "BT-410-SNOW", category = "winter_boots", price = 139, ts = ago(days(60)) } } },
  expect  = { },
  reasons = { snow_boots = "when", winter_coat = "touchpoint" },
}
