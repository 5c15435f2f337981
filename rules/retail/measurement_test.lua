-- Tests for measurement.lua. Membership is a keyed hash of the customer id
-- (arbiter's request/bucket.h): shopper-28 is in the 5% hold-out,
-- shopper-5 in the challenger's 10% (and not held out), test-customer (the
-- default id) in neither. Computed with python3:
--   hmac.new(salt, id, sha256).digest()[:8] as a big-endian integer / 2^64

local scores = { maternity = 0.2, engagement = 0.2 }
local prenatal_4_days_ago = { sku = "PN-090-FOLIC", category = "prenatal", price = 14.99, ts = ago(days(4)) }

test "a held-out customer gets the bestsellers instead of what the rules chose" {
  context = { customer_id = "shopper-28", channel = "web", touchpoint = "web_home", scores = scores },
  expect  = { "bestsellers" },
  reasons = { winter_sale = "control: global hold-out (5%)" },
}

test "the same page for a customer in treatment: the winter sale" {
  context = { customer_id = "test-customer", channel = "web", touchpoint = "web_home", scores = scores },
  expect  = { "winter_sale" },
}

test "the champion values the winter sale 15: below the registry invite" {
  -- maternity wear 0.2 x 40 x 0.67 = 5.4, registry 0.2 x 25 x 0.76 = 3.8, winter sale 3
  context = { customer_id = "test-customer", channel = "app", touchpoint = "app_home", scores = scores,
              purchases = { prenatal_4_days_ago } },
  expect  = { "maternity_wear", "baby_registry_invite", "winter_sale" },
}

test "the challenger values it 20: above the registry invite" {
  -- winter sale 0.2 x 20 = 4
  context = { customer_id = "shopper-5", channel = "app", touchpoint = "app_home", scores = scores,
              purchases = { prenatal_4_days_ago } },
  expect  = { "maternity_wear", "winter_sale", "baby_registry_invite" },
}
