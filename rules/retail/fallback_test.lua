-- Tests for fallback.lua: fallbacks only when nothing else is eligible.

test "nothing eligible on the home page: bestsellers" {
  -- No scores at all: every model-driven action is skipped.
  context = { channel = "web", touchpoint = "web_home" },
  expect  = { "bestsellers" },
  reasons = { winter_sale = "no score: engagement", welcome_first_order = "no score: onboarding" },
}

test "something eligible on the home page: no bestsellers" {
  context = { channel = "web", touchpoint = "web_home", scores = { engagement = 0.2 } },
  expect  = { "winter_sale" },
  reasons = { bestsellers = "fallback: not needed" },
}

test "nothing eligible in a push: no push at all" {
  context = { channel = "app", touchpoint = "app_push" },
  expect  = { },
  reasons = { bestsellers = "touchpoint" },
}

test "nothing to offer on the call: the agent says thank you" {
  context = { channel = "call_center", touchpoint = "call_center_next_best" },
  expect  = { "call_center_thank_you" },
}

test "a fallback is for its own channels only" {
  context = { channel = "sms", touchpoint = "sms_alert" },
  expect  = { },
  reasons = { bestsellers = "channel", call_center_thank_you = "channel" },
}
