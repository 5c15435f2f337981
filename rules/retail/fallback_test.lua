-- Tests for fallback.lua: fallbacks only when nothing else is eligible.

test "nothing eligible on the home page: bestsellers" {
  -- No scores at all: every model-driven action is skipped.
  context = { channel = "web", touchpoint = "web_home" },
  expect  = { "bestsellers" },
  reasons = { winter_sale = "no score: engagement", welcome_first_order = "no score: onboarding" },
}

test "bestsellers without any history: the catalog's most popular in stock, one per category" {
  -- DR-1014 and PH-1024 are the most popular (1.0), then six at 0.999 by
  -- sku: CT-1024, DR-2302-RED (a second cocktail dress: skipped), HS-1036.
  context  = { channel = "web", touchpoint = "web_home" },
  expect   = { "bestsellers" },
  products = { bestsellers = { "DR-1014", "PH-1024", "CT-1024", "HS-1036" } },
}

test "bestsellers leave out what the customer owns or was just shown, and lean to their taste" {
  -- Owns the Vanta dress DR-1014 (long ago), was shown the phone PH-1024
  -- yesterday: neither again; Vanta and cocktail dresses first.
  context  = { channel = "web", touchpoint = "web_home",
               purchases = { { sku = "DR-1014", ts = ago(days(400)) } },
               events = { { type = "recommended", sku = "PH-1024", ts = ago(days(1)) } } },
  expect   = { "bestsellers" },
  products = { bestsellers = { "DR-1002", "CT-1014", "SH-1059", "BT-1055" } },
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
