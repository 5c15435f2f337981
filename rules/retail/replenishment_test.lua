-- Tests for replenishment.lua.

local scores = { replenishment = 0.3 }

local function bought(category, days_ago, sku)
  return { sku = sku or (category .. "-1"), category = category, price = 10, ts = ago(days(days_ago)) }
end

-- Vitamins -----------------------------------------------------------------------

test "vitamins bought 40 days ago: time to restock" {
  context = { channel = "email", touchpoint = "email_weekly", scores = scores,
              purchases = { bought("vitamins", 40, "VT-300-D3") } },
  expect  = { "vitamins_refill" },
}

test "vitamins bought 10 days ago: not yet" {
  context = { channel = "email", touchpoint = "email_weekly", scores = scores,
              purchases = { bought("vitamins", 10, "VT-300-D3") } },
  expect  = { "bestsellers" },
  reasons = { vitamins_refill = "when" },
}

test "restocked 10 days ago after a purchase 50 days ago: not yet" {
  context = { channel = "email", touchpoint = "email_weekly", scores = scores,
              purchases = { bought("vitamins", 50, "VT-300-D3"), bought("vitamins", 10, "VT-300-D3") } },
  excludes = { "vitamins_refill" },
  reasons  = { vitamins_refill = "when" },
}

test "never bought vitamins: no refill reminder" {
  context = { channel = "email", touchpoint = "email_weekly", scores = scores,
              purchases = { bought("toothpaste", 10) } },
  excludes = { "vitamins_refill" },
  reasons  = { vitamins_refill = "when" },
}

-- Toothpaste -------------------------------------------------------------------------

test "toothpaste bought 70 days ago: reminder" {
  context = { channel = "app", touchpoint = "app_push", scores = scores,
              purchases = { bought("toothpaste", 70, "TP-010-MINT") } },
  expect  = { "toothpaste_refill" },
}

test "toothpaste bought 20 days ago: no reminder" {
  context = { channel = "app", touchpoint = "app_push", scores = scores,
              purchases = { bought("toothpaste", 20, "TP-010-MINT") } },
  expect  = { },
  reasons = { toothpaste_refill = "when" },
}

test "one restock reminder per home page: vitamins win, toothpaste waits" {
  -- Both are due and share the "replenishment" category; web_home is
  -- diverse, so only the better one (0.3 x 22 against 0.3 x 6) shows.
  context = { channel = "web", touchpoint = "web_home", scores = scores,
              purchases = { bought("vitamins", 40), bought("toothpaste", 70) } },
  expect  = { "vitamins_refill" },
  reasons = { toothpaste_refill = "diversity" },
}

test "the weekly email is diverse too" {
  context = { channel = "email", touchpoint = "email_weekly", scores = scores,
              purchases = { bought("vitamins", 40), bought("toothpaste", 70), bought("contact_lenses", 100) } },
  expect  = { "contact_lenses_refill" },
  reasons = { vitamins_refill = "diversity", toothpaste_refill = "diversity" },
}

test "a push is one message: the most valuable restock" {
  context = { channel = "app", touchpoint = "app_push", scores = scores,
              purchases = { bought("vitamins", 40), bought("toothpaste", 70) } },
  expect  = { "vitamins_refill" },
  reasons = { toothpaste_refill = "outranked" },
}

-- Pet food ---------------------------------------------------------------------------------

test "pet food due: reminder" {
  context = { channel = "app", touchpoint = "app_push", scores = scores,
              purchases = { bought("pet_food", 30) } },
  expect  = { "pet_food_refill" },
}

test "pet food bought a week ago: no reminder" {
  context = { channel = "app", touchpoint = "app_push", scores = scores,
              purchases = { bought("pet_food", 7) } },
  expect  = { },
  reasons = { pet_food_refill = "when" },
}

test "a regular pet food buyer outranks the lenses; an occasional one does not" {
  -- regular: 0.3 x 35 x 1.3 = 13.65 > lenses 0.3 x 45 = 13.5
  context = { channel = "app", touchpoint = "app_push", scores = scores,
              purchases = { bought("pet_food", 30), bought("pet_food", 60), bought("pet_food", 90),
                            bought("contact_lenses", 100) } },
  expect  = { "pet_food_refill" },
  reasons = { contact_lenses_refill = "outranked" },
}

test "an occasional pet food buyer ranks below the lenses" {
  -- occasional: 0.3 x 35 = 10.5 < 13.5
  context = { channel = "app", touchpoint = "app_push", scores = scores,
              purchases = { bought("pet_food", 30), bought("contact_lenses", 100) } },
  expect  = { "contact_lenses_refill" },
  reasons = { pet_food_refill = "outranked" },
}

-- Subscription -------------------------------------------------------------------------------

test "three vitamin orders in six months: offer the subscription after the order" {
  context = { channel = "email", touchpoint = "email_post_purchase", scores = scores,
              purchases = { bought("vitamins", 1), bought("vitamins", 35), bought("vitamins", 70) } },
  expect  = { "vitamins_subscription" },
}

test "two vitamin orders in six months: no subscription offer yet, a review request instead" {
  context = { channel = "email", touchpoint = "email_post_purchase", scores = scores,
              purchases = { bought("vitamins", 1), bought("vitamins", 35), bought("vitamins", 200) } },
  expect  = { "review_request" },
  reasons = { vitamins_subscription = "when" },
}
