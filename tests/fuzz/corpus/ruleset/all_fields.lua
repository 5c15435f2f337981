models { "churn" }
channels { "kiosk2", "voice" }
settings { default_limit = 2, utc_offset_hours = -5.5 }
touchpoint "t_local" { limit = 2, diverse = "category", description = "x" }
store "s_local" { lat = -33.86, lon = 151.2, name = "Sydney" }
action "every_field" {
  channels    = { "web", "app", "voice" },
  touchpoints = { "t_local", "web_home" },
  requires    = { "marketing", "location" },
  value       = 10, lever = 1.5, model = "churn",
  category    = "all", description = "every field at once",
  start = "2025-12-01", stop = "2026-02-01T08:00:00Z",
  when   = all { near_store(km(5)), in_store(), bought({ "laptop", "tablet" }, within(days(30))) },
  weight = score("churn") * 2 + attribute("lifetime_value") / 1000 - 0.5,
  payload = { list = { 1, 2.5, "three", true }, map = { a = { b = { c = {} } } } },
}
fallback "fb" { channels = "web", value = 0.1, propensity = 0.5 }
--@test
test "every field" {
  context = { channel = "web", touchpoint = "web_home", consent = { marketing = true, location = true },
              location = { lat = -33.8, lon = 151.2, store_id = "s_local" },
              purchases = { { category = "laptop", ts = ago(days(3)) } }, scores = { churn = 0.5 } },
  includes = { "every_field" }, excludes = { "fb" },
  reasons = { fb = "fallback" }, priorities = { every_field = above(0), fb = between(0, 1) },
}
test "no consent" { context = { channel = "voice", touchpoint = "t_local" }, expect = { "fb" } }
