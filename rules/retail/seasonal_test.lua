-- Tests for seasonal.lua. The test clock, NOW, is Thursday 2026-01-01
-- 00:00 UTC, 01:00 local time (utc_offset_hours = 1). A test may set its
-- own `now`, as NOW plus a duration.

local scores = { engagement = 0.2 }

test "the winter sale runs on New Year's Day" {
  context = { channel = "web", touchpoint = "web_home", scores = scores },
  expect  = { "winter_sale" },
}

test "the winter sale is over in February" {
  -- Tuesday 3 February 2026
  context = { channel = "web", touchpoint = "web_home", scores = scores, now = NOW + days(33) },
  expect  = { "bestsellers" },
  reasons = { winter_sale = "dates", black_friday = "dates" },
}

test "the winter sale had not started on 20 December" {
  context = { channel = "web", touchpoint = "web_home", scores = scores, now = NOW - days(12) },
  excludes = { "winter_sale" },
  reasons  = { winter_sale = "dates" },
}

test "Black Friday is not on in January" {
  context = { channel = "email", touchpoint = "email_weekly", scores = scores },
  excludes = { "black_friday" },
  reasons  = { black_friday = "dates" },
}

test "Black Friday Saturday at noon: Black Friday leads" {
  context = { channel = "email", touchpoint = "email_weekly", scores = scores,
              now = NOW + days(331) + hours(12) },
  expect  = { "black_friday" },
}

test "lunchtime on a Thursday: the flash deal push" {
  context = { channel = "app", touchpoint = "app_push", scores = scores, now = NOW + hours(11) },
  expect  = { "lunch_flash_deal" },
}

test "one in the morning: no flash deal push" {
  context = { channel = "app", touchpoint = "app_push", scores = scores },
  expect  = { },
  reasons = { lunch_flash_deal = "when" },
}

test "14:00 local is past the deal" {
  context = { channel = "app", touchpoint = "app_push", scores = scores, now = NOW + hours(13) },
  expect  = { },
  reasons = { lunch_flash_deal = "when" },
}

test "lunchtime on a Saturday: no weekday flash deal" {
  context = { channel = "app", touchpoint = "app_push", scores = scores, now = NOW + days(2) + hours(11) },
  expect  = { },
  reasons = { lunch_flash_deal = "when" },
}

test "Saturday: weekend home ideas on the home page" {
  context = { channel = "web", touchpoint = "web_home", scores = scores, now = NOW + days(2) + hours(11) },
  expect  = { "winter_sale", "weekend_home_ideas" },
}

test "Thursday: no weekend home ideas" {
  context = { channel = "web", touchpoint = "web_home", scores = scores },
  excludes = { "weekend_home_ideas" },
  reasons  = { weekend_home_ideas = "when" },
}
