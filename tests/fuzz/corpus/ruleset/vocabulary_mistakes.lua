action "a" { channels = { "web" }, value = 1, when = raining }
action "b" { channels = { "nope" }, value = -1, when = all {} }
action "c" { channels = { "web" }, value = 1, model = "unknown", propensity = 2 }
action "d" { channels = { "web" }, value = 1, touchpoints = { "nowhere" }, stop = "2026-02-30" }
action "a" { channels = { "web" }, value = 1, colour = "red" }
touchpoint "web_home" { limit = 500 }
