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
