test "laptop buyer gets a mouse" {
  context = { channel = "email", touchpoint = "email_post_purchase",
              purchases = { { sku = "LP-1", category = "laptop", ts = ago(days(2)) } },
              scores = { accessories = 0.4 } },
  expect = { "wireless_mouse" },
}
test "no consent no umbrella" {
  context = { channel = "app", touchpoint = "app_home", weather = { condition = "rain" },
              location = { lat = 40.0, lon = -74.001 } },
  expect = { "newsletter" },
  reasons = { umbrella_in_store = "consent:location" },
}
test "consent umbrella" {
  context = { channel = "app", touchpoint = "app_home", weather = { condition = "rain" },
              consent = { location = true }, location = { lat = 40.0, lon = -74.001 } },
  expect = { "umbrella_in_store" },
}
