-- Seasonal: campaigns that run between two dates or at certain hours.
-- start and stop are dates ("2026-11-27") or times ("2026-11-27T06:00:00Z",
-- UTC); the action runs from start (included) until stop (excluded).

-- The winter sale, 26 December to 15 January included.
action "winter_sale" {
  channels    = { "web", "app", "email" },
  touchpoints = { "web_home", "app_home", "email_weekly" },
  model       = "engagement",
  value       = 15,
  category    = "sale",
  start       = "2025-12-26",
  stop        = "2026-01-16",
  payload     = {
    template = "sale_banner",
    headline = "Winter sale: up to 50% off",
    cta      = "Shop the sale",
    url      = "/sale",
  },
}

-- Black Friday weekend: Friday 06:00 CET to Monday midnight CET.
action "black_friday" {
  channels    = { "web", "app", "email" },
  touchpoints = { "web_home", "app_home", "email_weekly" },
  model       = "engagement",
  value       = 60,
  lever       = 1.5,   -- the business wants Black Friday first this weekend
  category    = "sale",
  start       = "2026-11-27T05:00:00Z",
  stop        = "2026-11-30T23:00:00Z",
  payload     = {
    template = "sale_banner",
    headline = "Black Friday: the whole store up to 60% off",
    cta      = "Shop Black Friday",
    url      = "/black-friday",
  },
}

-- Lunchtime flash deal push on weekdays, 11:00 to 14:00 local time
-- (settings: utc_offset_hours = 1).
action "lunch_flash_deal" {
  channels    = { "app" },
  touchpoints = { "app_push" },
  model       = "engagement",
  value       = 10,
  when        = all { hour_between(11, 14), weekday("mon", "tue", "wed", "thu", "fri") },
  payload     = {
    template = "push",
    headline = "Lunch break deal: 2 hours only",
    body     = "20% off headphones until 14:00.",
    cta      = "Grab it",
  },
}

-- Weekend home and garden inspiration on the home page.
action "weekend_home_ideas" {
  channels    = { "web" },
  touchpoints = { "web_home" },
  model       = "engagement",
  value       = 8,
  category    = "home",
  when        = weekend(),
  payload     = {
    template = "editorial",
    headline = "Weekend project: a reading corner",
    cta      = "Get inspired",
    url      = "/ideas/reading-corner",
  },
}

--@test
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
