-- Lifecycle: abandoned carts, win-back, loyalty, onboarding, reviews.

---------------------------------------------------------------- abandoned carts

-- Remind a customer of the cart they left in the last three days, unless
-- they bought since. Strongest right after they left (half after a day).
action "cart_reminder" {
  channels    = { "email", "web", "app" },
  touchpoints = { "email_weekly", "web_home", "app_home", "app_push" },
  model       = "cart_recovery",
  value       = 40,
  category    = "cart",
  -- a cart left in the last 3 days and after the latest purchase (a
  -- customer who came back and bought is not reminded)
  when        = since_last_purchase(abandoned_cart(within(days(3)))),
  weight      = recency(abandoned_cart(), days(1)),
  -- Once a day at most; dismissed twice in a month: leave them alone for
  -- two weeks.
  cooldown    = days(1),
  suppress    = { dismiss = { times = 2, within = days(30), pause = days(14) } },
  payload     = {
    template = "cart_reminder",
    headline = "You left something behind",
    body     = "Your basket is saved. Complete your order in one click.",
    cta      = "Back to my basket",
  },
}

-- A text message with a 10% code for valuable customers (lifetime value
-- 500 or more) who left a cart in the last 48 hours. SMS needs its own
-- marketing consent: requires = { "sms" }.
action "cart_rescue_sms" {
  channels    = { "sms" },
  touchpoints = { "sms_alert" },
  requires    = { "sms" },
  model       = "cart_recovery",
  value       = 30,
  when        = all { since_last_purchase(abandoned_cart(within(hours(48)))),
                      attribute("lifetime_value", at_least(500)) },
  payload     = {
    template = "sms",
    text     = "Your basket is waiting: 10% off with code COMEBACK10 until midnight. Stop: reply STOP",
    code     = "COMEBACK10",
  },
}

---------------------------------------------------------------- win-back

-- Win back customers who bought before but not in the last 90 days, with
-- extra weight (x1.5) for those worth 2000 or more over their lifetime.
action "winback_offer" {
  channels    = { "email", "web", "app" },
  touchpoints = { "email_weekly", "web_home", "app_home" },
  model       = "reactivation",
  value       = 50,
  category    = "winback",
  when        = lapsed(days(90)),
  weight      = boost(attribute("lifetime_value", at_least(2000)), 1.5),
  -- One win-back a customer, ever: once it converted they are back, and
  -- twice a month at most until then.
  cap         = { 2, per = days(30) },
  suppress    = { convert = "forever", unsubscribe = "forever" },
  payload     = {
    template = "winback",
    headline = "We miss you: 15 EUR off your next order",
    body     = "A lot has changed since your last visit. Come and see.",
    cta      = "Use my 15 EUR",
    code     = "MISSYOU15",
  },
}

-- High-value customers silent for six months get a call from an agent
-- when they next call us.
action "winback_call" {
  channels    = { "call_center" },
  touchpoints = { "call_center_next_best" },
  model       = "reactivation",
  value       = 80,
  when        = all { lapsed(days(180)), attribute("lifetime_value", at_least(2000)) },
  payload     = {
    template = "agent_script",
    agent_script = "Thank them for years with us; offer 20% on their next order (code VIP20).",
    code = "VIP20",
  },
}

---------------------------------------------------------------- loyalty

local gold_or_platinum = attribute("loyalty_tier", one_of { "gold", "platinum" })

-- Loyalty milestone: spent 1000 or more in the last year and not yet gold
-- or platinum: invite them to upgrade.
action "gold_upgrade_invite" {
  channels    = { "email", "web", "app" },
  touchpoints = { "email_weekly", "email_post_purchase", "web_home", "app_home" },
  model       = "loyalty",
  value       = 30,
  category    = "loyalty",
  when        = all { spent(at_least(1000), within(days(365))), no(gold_or_platinum) },
  payload     = {
    template = "loyalty_milestone",
    headline = "You've unlocked Gold",
    body     = "Over 1000 EUR with us this year: free express shipping and early access are yours.",
    cta      = "Activate Gold",
  },
}

-- Tier perk: gold and platinum members see free express shipping in the
-- cart and on the home pages.
action "tier_free_express" {
  channels    = { "web", "app" },
  touchpoints = { "web_cart", "web_home", "app_home" },
  model       = "loyalty",
  value       = 12,
  category    = "loyalty",
  when        = gold_or_platinum,
  payload     = {
    template = "perk",
    headline = "Express shipping is on us",
    body     = "As a Gold or Platinum member, your order ships express for free.",
  },
}

-- Our very best customers (lifetime value 5000 or more) are offered a
-- personal shopper. The richer the customer, the stronger, capped at x2:
-- lifetime value 5000 weighs 1, 7500 weighs 1.5, 10000 and more weigh 2.
action "vip_personal_shopper" {
  channels    = { "call_center", "email" },
  touchpoints = { "call_center_next_best", "email_weekly" },
  model       = "loyalty",
  value       = 150,
  category    = "vip",
  when        = attribute("lifetime_value", at_least(5000)),
  weight      = min_of(attribute("lifetime_value") / 5000, 2),
  payload     = {
    template = "vip_invite",
    headline = "Meet your personal shopper",
    body     = "A private appointment in the store of your choice, with champagne.",
    cta      = "Book my appointment",
    agent_script = "Offer a personal shopping appointment; book it in the store calendar.",
  },
}

-- Loyalty points about to expire (the CRM sends points_expiring): remind
-- the member. More points, more weight, capped at x3 (1500 points).
action "points_expiring" {
  channels    = { "email", "app" },
  touchpoints = { "email_weekly", "app_home", "app_push" },
  model       = "loyalty",
  value       = 10,
  category    = "loyalty",
  when        = attribute("points_expiring", above(0)),
  weight      = min_of(attribute("points_expiring") / 500, 3),
  payload     = {
    template = "points_reminder",
    headline = "Your points expire at the end of the month",
    cta      = "Spend my points",
  },
}

---------------------------------------------------------------- onboarding

-- A new customer (no purchase yet) gets 10% off the first order.
action "welcome_first_order" {
  channels    = { "web", "email", "app" },
  touchpoints = { "web_home", "email_weekly", "app_home" },
  model       = "onboarding",
  value       = 20,
  category    = "onboarding",
  when        = new_customer(),
  payload     = {
    template = "welcome",
    headline = "Welcome! 10% off your first order",
    body     = "Free returns for 100 days, and delivery tomorrow.",
    cta      = "Start shopping",
    code     = "HELLO10",
  },
}

-- Customers who bought twice or more on the web, and have not installed
-- the app (the CRM sends has_app = true once they do), get an app nudge.
action "app_install_nudge" {
  channels    = { "web" },
  touchpoints = { "web_home" },
  model       = "engagement",
  value       = 8,
  category    = "app",
  when        = all { purchases(at_least(2)), no(attribute("has_app", true)) },
  payload     = {
    template = "app_banner",
    headline = "Get the app: track orders and get member prices",
    cta      = "Download",
  },
}

-- Ask for a review in the thank-you email. No model scores it: its
-- propensity is learned from feedback (dsl/README.md section 17), starting
-- from the 30% click rate earlier review mails had, worth 20 mails. An email
-- is a trial when it is decided (the mail service reports no impressions);
-- a click is the success; what customers did two months ago counts half.
-- A plain Lua weight counts the items bought in the last two weeks (more to
-- review, more reason to ask), up to 3.
action "review_request" {
  channels    = { "email" },
  touchpoints = { "email_post_purchase" },
  propensity  = adaptive {
    positive  = "click",
    trial     = "decision",
    prior     = 0.3,
    strength  = 20,
    half_life = days(60),
  },
  value       = 5,
  category    = "reviews",
  when        = purchases(at_least(1), nil, within(days(14))),
  weight      = function(c)
    local n = 0
    for _, p in ipairs(c.purchases) do
      if c.now - p.ts <= days(14) then n = n + 1 end
    end
    return math.min(n, 3)
  end,
  payload     = {
    template = "review_request",
    headline = "How are you getting on?",
    body     = "Tell other customers what you think, and get 100 loyalty points.",
    cta      = "Write a review",
  },
}
