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
