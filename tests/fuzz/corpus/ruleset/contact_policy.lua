outcomes { "wishlist" }
group "promo" { cap = { 2, per = days(7) } }
channel "email" { cap = { 1, per = days(7) }, counts = "decision" }
channel "voice" { counts = "impression" }
action "capped" {
  channels = { "web", "email", "voice" }, value = 3, group = "promo",
  cap = { 2, per = days(7) }, cooldown = hours(12), counts = "decision",
  suppress = { dismiss = { times = 2, within = days(30), pause = days(14) },
               convert = "forever", wishlist = { pause = "forever" }, click = { pause = days(3) } },
}
action "free" { channels = { "web", "email" }, value = 1, group = "promo" }
--@test
test "capped by its group" {
  context  = { channel = "web", touchpoint = "web_home" },
  customer = { contacts = { { action = "free", channel = "web", ts = ago(days(1)) },
                            { action = "capped", channel = "email", ts = ago(days(2)) } },
               outcomes = { { action = "capped", outcome = "dismiss", ts = ago(days(3)) } },
               purchases = { { category = "laptop", ts = ago(days(3)) } },
               events = { { type = "view", sku = "x", ts = ago(days(1)) } },
               consent = { email = false } },
  expect   = { },
  reasons  = { capped = "cap: group promo 2 per 7 days, 2 used" },
}
