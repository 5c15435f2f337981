group "promo" { cap = { 3, per = days(7) }, control = 0.2 }
control { share = 0.2 }
action "tv" { channels = { "web" }, value = 10, control = 0.1, group = "promo" }
action "radio" { channels = { "web" }, value = 5, control = { share = 0.3, salt = "r" } }
fallback "newsletter" { channels = { "web" }, value = 1 }
--@test
test "held" { context = { customer_id = "c1", channel = "web" }, expect = { "newsletter" } }
