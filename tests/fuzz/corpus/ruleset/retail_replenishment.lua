-- Replenishment: consumables that run out. due_for_replenishment("x", days(n))
-- holds for a customer who bought x before, but not in the last n days.

local replenishment_places = { "email_weekly", "app_home", "app_push", "web_home" }

-- A 30-day pack of vitamins: remind after 30 days without a restock.
action "vitamins_refill" {
  channels    = { "email", "app", "web" },
  touchpoints = replenishment_places,
  model       = "replenishment",
  value       = 22,
  category    = "replenishment",
  when        = due_for_replenishment("vitamins", days(30)),
  payload     = {
    template = "reorder",
    sku      = "VT-300-D3",
    headline = "Running low on vitamins?",
    body     = "Your Vitamin D3 pack lasts 30 days. Reorder in one click.",
    cta      = "Reorder",
    price    = 12.49,
  },
}

-- Toothpaste: remind after 60 days.
action "toothpaste_refill" {
  channels    = { "email", "app", "web" },
  touchpoints = replenishment_places,
  model       = "replenishment",
  value       = 6,
  category    = "replenishment",
  when        = due_for_replenishment("toothpaste", days(60)),
  payload     = {
    template = "reorder",
    sku      = "TP-010-MINT",
    headline = "Time for fresh toothpaste",
    body     = "Your usual mint toothpaste, 3 for 2 this week.",
    cta      = "Reorder",
    price    = 2.99,
  },
}

-- Monthly contact lenses, bought by the quarter: remind after 90 days.
action "contact_lenses_refill" {
  channels    = { "email", "app", "web" },
  touchpoints = replenishment_places,
  model       = "replenishment",
  value       = 45,
  category    = "replenishment",
  when        = due_for_replenishment("contact_lenses", days(90)),
  payload     = {
    template = "reorder",
    sku      = "CL-MONTH-6",
    headline = "Your lenses are due",
    body     = "Same prescription, delivered tomorrow.",
    cta      = "Reorder my lenses",
  },
}

-- Pet food, a 4-week bag: remind after 28 days. Regular pet food buyers
-- (3 bags or more, ever) are the most reliable: x1.3.
action "pet_food_refill" {
  channels    = { "email", "app", "web" },
  touchpoints = replenishment_places,
  model       = "replenishment",
  value       = 35,
  category    = "replenishment",
  when        = due_for_replenishment("pet_food", days(28)),
  weight      = boost(purchases(at_least(3), "pet_food"), 1.3),
  payload     = {
    template = "reorder",
    sku      = "PF-DOG-12KG",
    headline = "Is the bowl getting empty?",
    body     = "Your usual 12 kg bag, delivered to your door.",
    cta      = "Reorder",
  },
}

-- Customers who bought vitamins three times or more in six months are
-- offered a subscription (15% off, delivered every month) instead of
-- reminders. Shown in the thank-you email and the weekly email.
action "vitamins_subscription" {
  channels    = { "email", "web" },
  touchpoints = { "email_post_purchase", "email_weekly", "web_home" },
  model       = "replenishment",
  value       = 40,
  category    = "subscription",
  when        = purchases(at_least(3), "vitamins", within(days(180))),
  payload     = {
    template = "subscription_offer",
    sku      = "VT-300-D3",
    headline = "Never run out: subscribe and save 15%",
    body     = "Delivered every 30 days. Pause or cancel any time.",
    cta      = "Subscribe",
    discount_pct = 15,
  },
}

--@test
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
