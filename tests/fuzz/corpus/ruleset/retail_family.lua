-- Family: maternity and newborn.
--
-- A pregnancy moves fast: what was right a week ago is not right today.
-- So these offers fade quickly with the age of the purchase that triggered
-- them (a short half-life in recency): a prenatal purchase yesterday makes
-- them rank high, one two months ago makes them rank below almost anything.

-- Maternity wear for a customer who bought prenatal products (prenatal
-- vitamins, pregnancy tests...) in the last nine months. Half as strong
-- after a week, a quarter after two.
action "maternity_wear" {
  channels    = { "web", "app", "email" },
  touchpoints = { "web_home", "app_home", "email_weekly" },
  model       = "maternity",
  value       = 40,
  category    = "maternity",
  when        = bought("prenatal", within(days(270))),
  weight      = recency("prenatal", days(7)),
  payload     = {
    template = "editorial",
    headline = "Comfortable all the way to the due date",
    body     = "Maternity jeans, dresses and nursing tops that grow with you.",
    cta      = "Shop maternity",
    url      = "/maternity",
  },
}

-- The baby registry: same trigger, fades a little more slowly (10 days).
action "baby_registry_invite" {
  channels    = { "web", "app", "email" },
  touchpoints = { "web_home", "app_home", "email_weekly" },
  model       = "maternity",
  value       = 25,
  category    = "baby",
  when        = bought("prenatal", within(days(270))),
  weight      = recency("prenatal", days(10)),
  payload     = {
    template = "registry",
    headline = "Create your baby registry",
    body     = "Friends and family buy from your list; you get 10% off what is left.",
    cta      = "Start my registry",
  },
}

-- After a first newborn purchase (nappies, bodysuits...), the newborn
-- starter kit, for two months, fading with a two-week half-life.
action "newborn_starter_kit" {
  channels    = { "web", "app", "email" },
  touchpoints = { "web_home", "app_home", "email_weekly" },
  model       = "maternity",
  value       = 35,
  category    = "baby",
  when        = bought("newborn", within(days(60))),
  weight      = recency("newborn", days(14)),
  payload     = {
    template = "bundle",
    sku      = "NB-KIT-01",
    headline = "Everything for the first weeks",
    body     = "Bodysuits, muslins, a sleeping bag and a thermometer: 20% less than separately.",
    cta      = "See the kit",
  },
}

--@test
-- Tests for family.lua: fast-fading maternity offers.

local scores = { maternity = 0.2, engagement = 0.2 }

local function prenatal(days_ago)
  return { sku = "PN-090-FOLIC", category = "prenatal", price = 14.99, ts = ago(days(days_ago)) }
end

test "a prenatal purchase yesterday: maternity offers above the winter sale" {
  -- maternity wear 0.2 x 40 x 0.91 = 7.3, registry 0.2 x 25 x 0.93 = 4.7,
  -- winter sale 0.2 x 15 = 3.
  context = { channel = "app", touchpoint = "app_home", scores = scores, purchases = { prenatal(1) } },
  expect  = { "maternity_wear", "baby_registry_invite", "winter_sale" },
}

test "a prenatal purchase two months ago: the maternity offers fall below the winter sale" {
  -- 60 days is 8.6 half-lives of 7 days: maternity wear 8 x 0.0026 = 0.02;
  -- the registry (10-day half-life) 5 x 0.016 = 0.08.
  context = { channel = "app", touchpoint = "app_home", scores = scores, purchases = { prenatal(60) } },
  expect  = { "winter_sale", "baby_registry_invite", "maternity_wear" },
}

test "the recent purchase counts: an old and a new prenatal purchase rank high" {
  context = { channel = "app", touchpoint = "app_home", scores = scores,
              purchases = { prenatal(120), prenatal(2) } },
  expect  = { "maternity_wear", "baby_registry_invite", "winter_sale" },
}

test "no prenatal purchase: no maternity offer" {
  context = { channel = "app", touchpoint = "app_home", scores = scores,
              purchases = { { sku = "VT-300-D3", category = "vitamins", price = 12, ts = ago(days(1)) } } },
  expect  = { "winter_sale" },
  reasons = { maternity_wear = "when", baby_registry_invite = "when" },
}

test "a prenatal purchase ten months ago is past the window" {
  context = { channel = "app", touchpoint = "app_home", scores = scores, purchases = { prenatal(300) } },
  expect  = { "winter_sale" },
  reasons = { maternity_wear = "when", baby_registry_invite = "when" },
}

test "after the birth, the newborn kit replaces the registry (one baby tile)" {
  -- Both are category "baby"; app_home is diverse. The kit (0.2 x 35 x 0.86)
  -- far outranks a registry invite from a prenatal purchase 100 days ago.
  context = { channel = "app", touchpoint = "app_home", scores = scores,
              purchases = { prenatal(100), { sku = "NB-NAPPY-1", category = "newborn", price = 11, ts = ago(days(3)) } } },
  expect  = { "newborn_starter_kit", "winter_sale", "maternity_wear" },
  reasons = { baby_registry_invite = "diversity" },
}

test "a newborn purchase three months ago: no starter kit" {
  context = { channel = "app", touchpoint = "app_home", scores = scores,
              purchases = { { sku = "NB-NAPPY-1", category = "newborn", price = 11, ts = ago(days(90)) } } },
  excludes = { "newborn_starter_kit" },
  reasons  = { newborn_starter_kit = "when" },
}
