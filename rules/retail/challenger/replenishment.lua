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
