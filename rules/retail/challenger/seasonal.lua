-- Seasonal: campaigns that run between two dates or at certain hours.
-- start and stop are dates ("2026-11-27") or times ("2026-11-27T06:00:00Z",
-- UTC); the action runs from start (included) until stop (excluded).

-- The winter sale, 26 December to 15 January included.
action "winter_sale" {
  channels    = { "web", "app", "email" },
  touchpoints = { "web_home", "app_home", "email_weekly" },
  model       = "engagement",
  value       = 20,   -- the champion values it 15
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
