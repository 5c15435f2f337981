action "a" { channels = { "web" }, value = 1 }
--@test
test "reasons as a list" {
  context = { channel = "web", touchpoint = "web_home" },
  reasons = { "chosen" },
}
