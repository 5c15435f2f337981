"""Seed scenarios end to end: `decide` over RPC on rules/retail.

One real ``arbiter serve --rules rules/retail`` per test class; contexts are
built here in Python and sent over a real socket. Every assertion is exact
(ids and order) where the ruleset is deterministic, and every failure
message carries the decision's explain reasons (a second decide with
explain=true), so a failure says why each action was or was not chosen.

The rule tests beside the rules (rules/retail/*_test.lua) run with the clock
at 2026-01-01T00:00:00Z; every context here sends that same ``now`` and
builds its timestamps back from it, so the expectations can be checked
against the rule files and their tests by hand.
"""

import os
import shutil
import tempfile

import harness
from harness import E2ETestCase, REPO_ROOT, assert_decision

# The scenarios are written against the reference ruleset itself, whatever
# ARBITER_E2E_RULES says.
RETAIL = (REPO_ROOT / "rules" / "retail").resolve()

NOW = 1767225600            # 2026-01-01T00:00:00Z, a Thursday; the rule tests' clock
DAY = 86400
HOUR = 3600


def ago(days=0, hours=0):
    return NOW - days * DAY - hours * HOUR


# Every model's score, as upstream sends them (base_test.lua).
ALL_SCORES = {
    "accessories": 0.3, "electronics": 0.1, "fashion": 0.2, "weather": 0.2,
    "store_visit": 0.2, "cart_recovery": 0.3, "reactivation": 0.2, "loyalty": 0.2,
    "onboarding": 0.3, "replenishment": 0.3, "maternity": 0.2, "engagement": 0.2,
}
# lifecycle_test.lua's scores.
LIFECYCLE_SCORES = {"cart_recovery": 0.3, "reactivation": 0.2, "loyalty": 0.2,
                    "onboarding": 0.3, "engagement": 0.2}

LAPTOP_2_DAYS_AGO = {"sku": "LP-1400-AIR", "category": "laptop", "price": 1299,
                     "ts": ago(days=2), "channel": "web"}
RED_DRESS_YESTERDAY = {"sku": "DR-2231-RED", "category": "cocktail_dress", "price": 189,
                       "ts": ago(days=1)}
VIEWED_RED_DRESSES = [
    {"type": "view", "sku": "DR-2231-RED", "category": "cocktail_dress", "ts": ago(days=2)},
    {"type": "view", "sku": "DR-2240-RED", "category": "cocktail_dress", "ts": ago(days=1)},
]

# Berlin Alexanderplatz is at 52.5219, 13.4132 (base.lua); NEARBY is about
# 0.6 km from it, COLOGNE hundreds of km from every store.
IN_BERLIN_STORE = {"lat": 52.5219, "lon": 13.4132, "store_id": "berlin_alexanderplatz",
                   "country": "DE"}
NEARBY = {"lat": 52.5200, "lon": 13.4050, "country": "DE"}
VIENNA = {"lat": 48.2082, "lon": 16.3738, "country": "AT"}
CONSENTED = {"location": True, "email": True}
REFUSED = {"location": False, "email": True}


def order(days_ago, price=40, category="home", sku="GEN-001"):
    return {"sku": sku, "category": category, "price": price, "ts": ago(days=days_ago)}


def prenatal(days_ago):
    return order(days_ago, 14.99, "prenatal", "PN-090-FOLIC")


def context(channel, touchpoint, customer_id="c-e2e", **fields):
    ctx = {"customer_id": customer_id, "channel": channel, "touchpoint": touchpoint,
           "now": NOW}
    ctx.update(fields)
    return ctx


def ids(decision):
    return [a["id"] for a in decision["actions"]]


def busy_customer(channel, touchpoint, **extra):
    """base_test.lua's busy customer: a gold member and fashion lover who
    bought a laptop two days ago, on a rainy day."""
    return context(channel, touchpoint, customer_id="c-busy",
                   scores=ALL_SCORES, purchases=[LAPTOP_2_DAYS_AGO],
                   attributes={"loyalty_tier": "gold", "segments": ["fashion_lover"]},
                   weather={"temp_c": 11, "condition": "rain"}, **extra)


class ScenarioCase(E2ETestCase):
    """A server shared by the whole class (the tests only read state), with
    helpers that decide and explain."""

    RULES = RETAIL

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = harness.start_shared_server(rules=cls.RULES)

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def setUp(self):
        self.assertTrue(self.server.alive(), "the shared server died: %s"
                        % self.server.describe_exit(self.server.proc.poll()))
        self.c = self.connect(self.server)
        self.version = self.c.ok("ping")["version"]

    # -- deciding ---------------------------------------------------------

    def decide(self, ctx, explain=False):
        # Each scenario asks what a customer would be shown: a preview, so
        # that deciding it twice (with and without explain) or reusing a
        # customer id across scenarios counts no contact against the retail
        # ruleset's caps (its own tests cover those).
        ctx = dict(ctx, explain=explain)
        ctx.setdefault("preview", True)
        d = self.c.ok("decide", ctx)
        assert_decision(self, d, explain=explain)
        self.assertEqual(d["ruleset"], self.version,
                         "the decision names another ruleset version than ping")
        return d

    def explain(self, ctx):
        """(decision, {action id: reason}) for ctx decided with explain=true."""
        d = self.decide(ctx, explain=True)
        reasons = {}
        for e in d["explain"]:
            self.assertIsInstance(e, dict, "explain entry is not a map: %r" % (e,))
            self.assertNotIn(e["id"], reasons, "action %r explained twice" % e["id"])
            reasons[e["id"]] = e["reason"]
            self.assertEqual(bool(e["chosen"]), e["reason"] == "chosen",
                             "explain entry disagrees with itself: %r" % (e,))
        return d, reasons

    @staticmethod
    def describe(d, reasons):
        """A readable failure message: the actions with their priorities and
        why every action that is not simply off this channel/touchpoint was
        or was not chosen."""
        acts = ", ".join("%s (%.4g)" % (a["id"], a["priority"]) for a in d["actions"]) or "none"
        why = "\n    ".join("%-26s %s" % (k, v) for k, v in sorted(reasons.items())
                            if v not in ("channel", "touchpoint"))
        return "\n  got: [%s]\n  why:\n    %s" % (acts, why)

    def assert_actions(self, ctx, expected, reasons=None, excludes=()):
        """ctx decides exactly `expected` (ids, in order), with and without
        explain; `reasons` are the explain reasons of other actions;
        `excludes` must not be returned. Returns (decision, reasons)."""
        plain = self.decide(ctx)
        d, why = self.explain(ctx)
        msg = self.describe(d, why)
        self.assertEqual(ids(plain), list(expected), "wrong actions" + msg)
        self.assertEqual(ids(d), list(expected), "explain=true changed the answer" + msg)
        for aid in expected:
            self.assertEqual(why.get(aid), "chosen", "%s not explained as chosen%s" % (aid, msg))
        for aid in excludes:
            self.assertNotIn(aid, ids(plain), "%s must not be returned%s" % (aid, msg))
        for aid, reason in (reasons or {}).items():
            self.assertEqual(why.get(aid), reason, "explain reason of %s%s" % (aid, msg))
        return plain, why


class RetailScenarioTest(ScenarioCase):
    """The seed scenarios of the reference ruleset, over a real socket."""

    # 1. laptop -> accessories, never a second laptop ----------------------

    def test_laptop_buyer_gets_accessories(self):
        ctx = context("web", "web_product", scores=ALL_SCORES, purchases=[LAPTOP_2_DAYS_AGO])
        # 0.3 x value x 0.906 (two days of a 14-day half-life): 45, 30, 25.
        d, _ = self.assert_actions(ctx, ["wireless_headset", "laptop_charger", "wireless_mouse"],
                                   reasons={"laptop_deal": "when"}, excludes=["laptop_deal"])
        w = 0.5 ** (2 / 14)
        for a, value in zip(d["actions"], (45, 30, 25)):
            self.assertAlmostEqual(a["priority"], 0.3 * value * w, places=6, msg=a["id"])
            self.assertEqual(a["value"], value, a["id"])
            self.assertAlmostEqual(a["propensity"], 0.3, places=9, msg=a["id"])
        self.assertEqual(d["actions"][1]["payload"]["sku"], "CH-65W-USBC")

    def test_laptop_buyer_browsing_laptops_never_gets_a_second_laptop(self):
        # Viewing laptops alone brings the laptop deal ...
        browser = context("web", "web_product", scores=ALL_SCORES,
                          events=[{"type": "view", "sku": "LP-1400-AIR", "category": "laptop",
                                   "ts": ago(hours=5)}])
        self.assert_actions(browser, ["laptop_deal"])
        # ... but not to someone who bought one two days ago: accessories.
        buyer = dict(browser, purchases=[LAPTOP_2_DAYS_AGO],
                     events=[{"type": "view", "sku": "LP-1600-PRO", "category": "laptop",
                              "ts": ago(hours=5)}])
        self.assert_actions(buyer, ["wireless_headset", "laptop_charger", "wireless_mouse"],
                            reasons={"laptop_deal": "when"}, excludes=["laptop_deal"])

    def test_no_laptop_no_accessories(self):
        ctx = context("web", "web_product", scores=ALL_SCORES,
                      purchases=[order(2, 1499, "tv", "TV-55-OLED")])
        self.assert_actions(ctx, ["bestsellers"],
                            reasons={"wireless_mouse": "when", "wireless_headset": "when",
                                     "laptop_charger": "when"})

    # 2. complete the look ---------------------------------------------------

    def test_red_dress_completes_the_look(self):
        ctx = context("web", "web_product", scores=ALL_SCORES,
                      purchases=[RED_DRESS_YESTERDAY], events=VIEWED_RED_DRESSES)
        d, _ = self.assert_actions(ctx, ["complete_the_look"],
                                   reasons={"cocktail_dress_picks": "when"},
                                   excludes=["cocktail_dress_picks"])
        # The catalog's complements of that dress: a clutch and a lipstick,
        # never a dress; the payload lists them and fills its fields.
        products = d["actions"][0]["payload"]["products"]
        self.assertEqual([p["category"] for p in products], ["clutch", "lipstick"])
        self.assertEqual(products[0]["sku"], "BG-118-GLD")
        self.assertEqual(d["actions"][0]["payload"]["body"],
                         "Gold Evening Clutch by Caruso, chosen to go with your dress.")

    def test_dress_browser_without_a_dress_gets_dress_picks(self):
        # The contrast: the same browsing without the purchase brings dresses
        # like the ones viewed, and no look to complete.
        ctx = context("web", "web_product", scores=ALL_SCORES, events=VIEWED_RED_DRESSES)
        d, _ = self.assert_actions(ctx, ["cocktail_dress_picks"],
                                   reasons={"complete_the_look": "when"})
        products = d["actions"][0]["payload"]["products"]
        self.assertEqual({p["category"] for p in products}, {"cocktail_dress"})
        self.assertEqual(len({p["brand"] for p in products}), len(products), "one per designer")

    def test_a_dress_that_is_not_red_does_not_complete_the_look(self):
        ctx = context("web", "web_product", scores=ALL_SCORES,
                      purchases=[order(1, 179, "cocktail_dress", "DR-2255-BLK")])
        self.assert_actions(ctx, ["bestsellers"],
                            reasons={"complete_the_look": "when"},
                            excludes=["complete_the_look"])

    # 3. weather ----------------------------------------------------------------

    def weather(self, channel, touchpoint, temp_c, condition, **extra):
        return context(channel, touchpoint, scores={"weather": 0.2},
                       weather={"temp_c": temp_c, "condition": condition}, **extra)

    def test_rain_umbrella(self):
        self.assert_actions(self.weather("app", "app_home", 12, "rain"), ["umbrella"])
        self.assert_actions(self.weather("app", "app_home", 12, "clouds"), ["bestsellers"],
                            reasons={"umbrella": "when"})
        self.assert_actions(context("app", "app_home", scores={"weather": 0.2}),
                            ["bestsellers"], reasons={"umbrella": "when"})

    def test_hot_allergy_relief(self):
        self.assert_actions(self.weather("web", "web_home", 31, "clouds"), ["allergy_relief"],
                            reasons={"sunscreen": "when"})
        self.assert_actions(self.weather("web", "web_home", 18, "clouds"), ["bestsellers"],
                            reasons={"allergy_relief": "when"})

    def test_cold_coat(self):
        self.assert_actions(self.weather("email", "email_weekly", -3, "clear"), ["winter_coat"])
        self.assert_actions(self.weather("email", "email_weekly", 15, "clear"), ["bestsellers"],
                            reasons={"winter_coat": "when"})
        # Bought a coat this winter: no coat even when it is cold.
        self.assert_actions(self.weather("email", "email_weekly", -3, "clear",
                                         purchases=[order(40, 229, "coat", "CT-880-NAVY")]),
                            ["bestsellers"], reasons={"winter_coat": "when"})

    # 4. location consent ----------------------------------------------------------

    STORE_SCORES = {"store_visit": 0.2, "weather": 0.2}

    def test_in_store_offer_needs_location_consent(self):
        with_consent = context("app", "app_home", scores=self.STORE_SCORES,
                               consent=CONSENTED, location=IN_BERLIN_STORE)
        self.assert_actions(with_consent, ["berlin_flagship_demo", "in_store_welcome"])
        without = dict(with_consent, consent=REFUSED)
        self.assert_actions(without, ["bestsellers"],
                            reasons={"berlin_flagship_demo": "consent:location",
                                     "in_store_welcome": "consent:location",
                                     "click_and_collect": "consent:location"},
                            excludes=["berlin_flagship_demo", "in_store_welcome"])
        # No consent map at all is no consent.
        no_map = dict(with_consent)
        del no_map["consent"]
        self.assert_actions(no_map, ["bestsellers"],
                            reasons={"berlin_flagship_demo": "consent:location",
                                     "in_store_welcome": "consent:location"})
        # Consent but no location: nothing location-based.
        no_location = dict(with_consent)
        del no_location["location"]
        self.assert_actions(no_location, ["bestsellers"],
                            reasons={"berlin_flagship_demo": "location: not sent",
                                     "in_store_welcome": "location: not sent"})

    def test_near_store_offer_needs_location_consent(self):
        rain = {"temp_c": 9, "condition": "rain"}
        with_consent = context("app", "app_push", scores=self.STORE_SCORES,
                               consent=CONSENTED, location=NEARBY, weather=rain)
        # 0.2 x 20 = 4 beats the generic umbrella (0.2 x 18 = 3.6) in a
        # one-message push.
        self.assert_actions(with_consent, ["rain_pickup_umbrella"],
                            reasons={"umbrella": "outranked"})
        without = dict(with_consent, consent=REFUSED)
        self.assert_actions(without, ["umbrella"],
                            reasons={"rain_pickup_umbrella": "consent:location"},
                            excludes=["rain_pickup_umbrella"])

    def test_country_offer_needs_location_consent(self):
        ctx = context("web", "web_home", scores={"engagement": 0.2},
                      consent=CONSENTED, location=VIENNA)
        # winter sale 0.2 x 15 = 3, free shipping to Austria 0.2 x 6 = 1.2.
        self.assert_actions(ctx, ["winter_sale", "austria_free_shipping"])
        self.assert_actions(dict(ctx, consent=REFUSED), ["winter_sale"],
                            reasons={"austria_free_shipping": "consent:location"})

    def test_location_without_consent_is_invisible(self):
        # Sending a location without consent must decide exactly as sending
        # none at all: the same actions, and the same reason for every action.
        for tp, extra in (("app_home", {}),
                          ("app_push", {"weather": {"temp_c": 9, "condition": "rain"}})):
            for consent in (REFUSED, None):
                base = context("app", tp, scores=self.STORE_SCORES, **extra)
                if consent is not None:
                    base["consent"] = consent
                located = dict(base, location=IN_BERLIN_STORE)
                d_none, why_none = self.explain(base)
                d_loc, why_loc = self.explain(located)
                self.assertEqual(ids(d_loc), ids(d_none),
                                 "a location without consent changed the decision at %s%s"
                                 % (tp, self.describe(d_loc, why_loc)))
                self.assertEqual(why_loc, why_none,
                                 "a location without consent changed the reasons at %s" % tp)

    # 5. cart abandonment ---------------------------------------------------------

    def cart(self, abandoned, purchases=None, **extra):
        return context("app", "app_push", scores=LIFECYCLE_SCORES,
                       purchases=purchases if purchases is not None else [order(40)],
                       events=[{"type": "cart_abandon", "sku": "HS-7710-BT",
                                "category": "headset", "ts": abandoned}], **extra)

    def test_cart_abandonment(self):
        d, _ = self.assert_actions(self.cart(ago(days=1)), ["cart_reminder"])
        # 0.3 x 40 x 0.5 (one day of a one-day half-life)
        self.assertAlmostEqual(d["actions"][0]["priority"], 6.0, places=6)
        self.assert_actions(self.cart(ago(days=10)), [], reasons={"cart_reminder": "when"})

    def test_cart_bought_since_is_no_longer_abandoned(self):
        bought = [{"sku": "HS-7710-BT", "category": "headset", "price": 149, "ts": ago(hours=20)}]
        self.assert_actions(self.cart(ago(days=1), purchases=bought), [],
                            reasons={"cart_reminder": "when"}, excludes=["cart_reminder"])

    def test_cart_rescue_sms_needs_sms_consent(self):
        ctx = dict(self.cart(ago(hours=6), attributes={"lifetime_value": 1200}),
                   channel="sms", touchpoint="sms_alert", consent={"sms": True})
        self.assert_actions(ctx, ["cart_rescue_sms"])
        self.assert_actions(dict(ctx, consent={"sms": False}), [],
                            reasons={"cart_rescue_sms": "consent:sms"})

    # 6. reactivation -------------------------------------------------------------

    def test_lapsed_customer_is_won_back(self):
        lapsed = context("email", "email_weekly", scores=LIFECYCLE_SCORES,
                         purchases=[order(120), order(300)])
        # win-back 0.2 x 50 = 10, winter sale 0.2 x 15 = 3
        self.assert_actions(lapsed, ["winback_offer", "winter_sale"])

    def test_active_customer_is_not_won_back(self):
        active = context("email", "email_weekly", scores=LIFECYCLE_SCORES,
                         purchases=[order(30), order(300)])
        self.assert_actions(active, ["winter_sale"], reasons={"winback_offer": "when"},
                            excludes=["winback_offer"])

    def test_lapsed_high_value_caller_gets_the_winback_call(self):
        caller = context("call_center", "call_center_next_best", scores=LIFECYCLE_SCORES,
                         attributes={"lifetime_value": 2600}, purchases=[order(200, 300)])
        self.assert_actions(caller, ["winback_call"])
        self.assert_actions(dict(caller, attributes={"lifetime_value": 300}),
                            ["call_center_thank_you"], reasons={"winback_call": "when"})

    # 7. loyalty --------------------------------------------------------------------

    def test_loyalty_milestone_invites_to_gold(self):
        # 1050 EUR this year and still silver.
        silver = context("web", "web_home", scores=LIFECYCLE_SCORES,
                         attributes={"loyalty_tier": "silver"},
                         purchases=[order(20, 600), order(150, 450)])
        # invite 0.2 x 30 = 6, winter sale 3, app nudge (two purchases) 1.6
        self.assert_actions(silver, ["gold_upgrade_invite", "winter_sale", "app_install_nudge"],
                            reasons={"tier_free_express": "when"},
                            excludes=["tier_free_express"])
        # 800 EUR in the last year: not yet.
        self.assert_actions(dict(silver, purchases=[order(20, 600), order(100, 200),
                                                    order(400, 900)]),
                            ["winter_sale", "app_install_nudge"],
                            reasons={"gold_upgrade_invite": "when"})

    def test_gold_member_gets_the_tier_perk_not_the_invite(self):
        gold = context("web", "web_home", scores=LIFECYCLE_SCORES,
                       attributes={"loyalty_tier": "gold"},
                       purchases=[order(20, 600), order(150, 450)])
        # winter sale 3, express shipping perk 0.2 x 12 = 2.4, app nudge 1.6
        self.assert_actions(gold, ["winter_sale", "tier_free_express", "app_install_nudge"],
                            reasons={"gold_upgrade_invite": "when"},
                            excludes=["gold_upgrade_invite"])
        self.assert_actions(dict(gold, touchpoint="web_cart"), ["tier_free_express"],
                            reasons={"gold_upgrade_invite": "touchpoint"})

    def test_vip_personal_shopper_and_expiring_points(self):
        vip = context("call_center", "call_center_next_best", scores=LIFECYCLE_SCORES,
                      attributes={"lifetime_value": 12000}, purchases=[order(200, 300)])
        d, _ = self.assert_actions(vip, ["vip_personal_shopper"],
                                   reasons={"winback_call": "outranked"})
        self.assertAlmostEqual(d["actions"][0]["priority"], 0.2 * 150 * 2, places=6)
        points = context("app", "app_push", scores=LIFECYCLE_SCORES,
                         attributes={"points_expiring": 800}, purchases=[order(20)])
        self.assert_actions(points, ["points_expiring"])
        self.assert_actions(dict(points, attributes={"points_expiring": 0}), [],
                            reasons={"points_expiring": "when"})

    # 8. post-purchase email: exactly one action ---------------------------------------

    def test_post_purchase_email_has_exactly_one_action(self):
        ctx = context("email", "email_post_purchase", scores=ALL_SCORES,
                      purchases=[LAPTOP_2_DAYS_AGO])
        # Headset, charger, mouse, warranty and the review request are all
        # eligible; the email's limit of 1 keeps only the best.
        d, why = self.assert_actions(ctx, ["wireless_headset"],
                                     reasons={"laptop_charger": "outranked",
                                              "wireless_mouse": "outranked",
                                              "extended_warranty": "outranked",
                                              "review_request": "outranked",
                                              "order_tracking": "fallback: not needed"})
        self.assertEqual(len(d["actions"]), 1)
        self.assert_actions(dict(ctx, purchases=[RED_DRESS_YESTERDAY]), ["complete_the_look"])
        self.assert_actions(busy_customer("email", "email_post_purchase"), ["wireless_headset"])
        # Nothing to cross-sell: still exactly one block, order tracking.
        self.assert_actions(dict(ctx, purchases=[order(30)]), ["order_tracking"],
                            reasons={"review_request": "when"})

    # 9. onboarding ---------------------------------------------------------------------

    def test_new_customer_is_welcomed(self):
        new = context("web", "web_home", scores=LIFECYCLE_SCORES)
        # welcome 0.3 x 20 = 6, winter sale 3; never bought is not lapsed.
        self.assert_actions(new, ["welcome_first_order", "winter_sale"],
                            reasons={"winback_offer": "when"})
        self.assert_actions(dict(new, channel="email", touchpoint="email_weekly"),
                            ["welcome_first_order", "winter_sale"])

    def test_existing_customer_is_not_welcomed(self):
        existing = context("web", "web_home", scores=LIFECYCLE_SCORES, purchases=[order(5)])
        self.assert_actions(existing, ["winter_sale"],
                            reasons={"welcome_first_order": "when"},
                            excludes=["welcome_first_order"])

    # 10. replenishment ---------------------------------------------------------------

    def replenish(self, channel, touchpoint, *purchases):
        return context(channel, touchpoint, scores={"replenishment": 0.3},
                       purchases=list(purchases))

    def test_vitamins_due(self):
        self.assert_actions(self.replenish("email", "email_weekly",
                                           order(40, 10, "vitamins", "VT-300-D3")),
                            ["vitamins_refill"])
        self.assert_actions(self.replenish("email", "email_weekly",
                                           order(10, 10, "vitamins", "VT-300-D3")),
                            ["bestsellers"], reasons={"vitamins_refill": "when"})
        # Bought 50 days ago but restocked 10 days ago: not yet.
        self.assert_actions(self.replenish("email", "email_weekly",
                                           order(50, 10, "vitamins", "VT-300-D3"),
                                           order(10, 10, "vitamins", "VT-300-D3")),
                            ["bestsellers"], reasons={"vitamins_refill": "when"})

    def test_toothpaste_due(self):
        self.assert_actions(self.replenish("app", "app_push",
                                           order(70, 3, "toothpaste", "TP-010-MINT")),
                            ["toothpaste_refill"])
        self.assert_actions(self.replenish("app", "app_push",
                                           order(20, 3, "toothpaste", "TP-010-MINT")),
                            [], reasons={"toothpaste_refill": "when"})

    # 11. maternity: fast-decaying recency -----------------------------------------------

    def test_maternity_recency(self):
        scores = {"maternity": 0.2, "engagement": 0.2}
        recent = context("app", "app_home", scores=scores, purchases=[prenatal(1)])
        d_recent, _ = self.assert_actions(
            recent, ["maternity_wear", "baby_registry_invite", "winter_sale"])
        old = dict(recent, purchases=[prenatal(60)])
        d_old, _ = self.assert_actions(
            old, ["winter_sale", "baby_registry_invite", "maternity_wear"])

        def priority(d, aid):
            return {a["id"]: a["priority"] for a in d["actions"]}[aid]

        # maternity wear: 7-day half-life; the registry: 10 days.
        for d, days_ago in ((d_recent, 1), (d_old, 60)):
            self.assertAlmostEqual(priority(d, "maternity_wear"),
                                   0.2 * 40 * 0.5 ** (days_ago / 7), places=6)
            self.assertAlmostEqual(priority(d, "baby_registry_invite"),
                                   0.2 * 25 * 0.5 ** (days_ago / 10), places=6)
        self.assertGreater(priority(d_recent, "maternity_wear"),
                           100 * priority(d_old, "maternity_wear"))
        # The newest purchase counts: an old and a recent one rank high.
        self.assert_actions(dict(recent, purchases=[prenatal(120), prenatal(2)]),
                            ["maternity_wear", "baby_registry_invite", "winter_sale"])
        # No prenatal purchase, or one past the nine-month window: none.
        self.assert_actions(dict(recent, purchases=[prenatal(300)]), ["winter_sale"],
                            reasons={"maternity_wear": "when", "baby_registry_invite": "when"})

    # 12. fallback --------------------------------------------------------------------

    def test_fallback_when_nothing_is_eligible(self):
        nothing = context("web", "web_home")
        d, _ = self.assert_actions(nothing, ["bestsellers"],
                                   reasons={"winter_sale": "no score: engagement",
                                            "welcome_first_order": "no score: onboarding"})
        # No purchase, no view: the catalog's most popular products in stock
        # (from = "popular"), one per category; no sku is listed by hand.
        self.assertEqual([p["sku"] for p in d["actions"][0]["payload"]["products"]],
                         ["DR-1014", "PH-1024", "CT-1024", "HS-1036"])
        self.assert_actions(context("call_center", "call_center_next_best"),
                            ["call_center_thank_you"])

    def test_bestsellers_are_not_shown_twice_in_a_week(self):
        # Not a preview: each decision records its products as "recommended"
        # in the customer's record (the real store), so the next decision of
        # the same customer, on another channel, shows the next bestsellers.
        first = self.decide(context("web", "web_home", customer_id="c-bestsellers",
                                    preview=False))
        again = self.decide(context("email", "email_weekly", customer_id="c-bestsellers",
                                    preview=False))
        skus = [[p["sku"] for p in d["actions"][0]["payload"]["products"]] for d in (first, again)]
        self.assertEqual(skus[0], ["DR-1014", "PH-1024", "CT-1024", "HS-1036"])
        self.assertEqual(skus[1], ["DR-2302-RED", "KB-1102", "LB-1009", "PH-1129"])
        # A preview reads what was shown but records nothing: twice the third list.
        for _ in range(2):
            preview = self.decide(context("web", "web_home", customer_id="c-bestsellers"))
            self.assertEqual([p["sku"] for p in preview["actions"][0]["payload"]["products"]],
                             ["HS-1126", "KC-1047", "KB-1080", "PC-1080"])

    def test_no_fallback_when_something_is_eligible(self):
        self.assert_actions(context("web", "web_home", scores={"engagement": 0.2}),
                            ["winter_sale"], reasons={"bestsellers": "fallback: not needed"})
        # A push has no fallback: nothing rather than something generic.
        self.assert_actions(context("app", "app_push"), [],
                            reasons={"bestsellers": "touchpoint"})

    # 13. diversity at web_home --------------------------------------------------------

    def categories(self):
        return {a["id"]: a.get("category") for a in self.c.ok("ruleset")["actions"]}

    def test_web_home_is_diverse(self):
        # headset 12.2, charger 8.2, mouse 6.8 (all laptop_accessories), the
        # new season edit 4, umbrella 3.6, winter sale 3, express perk 2.4.
        d, _ = self.assert_actions(busy_customer("web", "web_home"),
                                   ["wireless_headset", "new_season_edit", "umbrella",
                                    "winter_sale"],
                                   reasons={"laptop_charger": "diversity",
                                            "wireless_mouse": "diversity",
                                            "tier_free_express": "outranked"})
        cats = self.categories()
        chosen = [cats[i] for i in ids(d)]
        self.assertEqual(len(set(chosen)), len(chosen), "two actions share a category: %r"
                         % list(zip(ids(d), chosen)))
        # The same customer on a page that is not diverse: the accessories.
        self.assert_actions(busy_customer("web", "web_product"),
                            ["wireless_headset", "laptop_charger", "wireless_mouse"])

    def test_one_restock_per_home_page(self):
        ctx = self.replenish("web", "web_home", order(40, 10, "vitamins"),
                             order(70, 10, "toothpaste"))
        self.assert_actions(ctx, ["vitamins_refill"], reasons={"toothpaste_refill": "diversity"})

    def test_web_home_never_repeats_a_category(self):
        cats = self.categories()
        for ctx in SCENARIOS:
            ctx = dict(ctx, channel="web", touchpoint="web_home")
            d, why = self.explain(ctx)
            chosen = [cats[i] for i in ids(d) if cats.get(i)]
            self.assertEqual(len(set(chosen)), len(chosen),
                             "%s: two actions share a category%s"
                             % (ctx["customer_id"], self.describe(d, why)))
            self.assertLessEqual(len(d["actions"]), 4)

    # decide_many and versions ----------------------------------------------------------

    def test_decide_many_matches_decide(self):
        many = self.c.ok("decide_many", SCENARIOS)
        self.assertIsInstance(many, list)
        self.assertEqual(len(many), len(SCENARIOS))
        seen_ids = set()
        for i, (ctx, d) in enumerate(zip(SCENARIOS, many)):
            where = "decision[%d] (%s)" % (i, ctx["customer_id"])
            assert_decision(self, d, where=where)
            self.assertEqual(d["ruleset"], self.version, where)
            self.assertNotIn(d["decision_id"], seen_ids, "%s reuses a decision_id" % where)
            seen_ids.add(d["decision_id"])
            single = self.decide(ctx)
            self.assertEqual(ids(d), ids(single), where)
        # The batch is not trivially uniform.
        self.assertGreater(len({tuple(ids(d)) for d in many}), len(SCENARIOS) // 2)

    def test_every_decision_names_the_ping_version(self):
        version = self.c.ok("ping")["version"]
        self.assertEqual(self.c.ok("ruleset")["version"], version)
        for ctx in SCENARIOS:
            for explain in (False, True):
                d = self.c.ok("decide", dict(ctx, explain=explain))
                self.assertEqual(d["ruleset"], version, ctx["customer_id"])


# Scenario contexts for decide_many and the diversity sweep: one per theme.
SCENARIOS = [
    context("web", "web_product", "s-laptop", scores=ALL_SCORES, purchases=[LAPTOP_2_DAYS_AGO]),
    context("web", "web_product", "s-dress", scores=ALL_SCORES,
            purchases=[RED_DRESS_YESTERDAY], events=VIEWED_RED_DRESSES),
    context("app", "app_home", "s-rain", scores={"weather": 0.2},
            weather={"temp_c": 12, "condition": "rain"}),
    context("web", "web_home", "s-hot", scores={"weather": 0.2},
            weather={"temp_c": 31, "condition": "clouds"}),
    context("email", "email_weekly", "s-cold", scores={"weather": 0.2},
            weather={"temp_c": -3, "condition": "clear"}),
    context("app", "app_home", "s-store", scores={"store_visit": 0.2, "weather": 0.2},
            consent=CONSENTED, location=IN_BERLIN_STORE),
    context("app", "app_home", "s-store-refused", scores={"store_visit": 0.2, "weather": 0.2},
            consent=REFUSED, location=IN_BERLIN_STORE),
    context("app", "app_push", "s-cart", scores=LIFECYCLE_SCORES, purchases=[order(40)],
            events=[{"type": "cart_abandon", "sku": "HS-7710-BT", "category": "headset",
                     "ts": ago(days=1)}]),
    context("email", "email_weekly", "s-lapsed", scores=LIFECYCLE_SCORES,
            purchases=[order(120), order(300)]),
    context("web", "web_home", "s-silver", scores=LIFECYCLE_SCORES,
            attributes={"loyalty_tier": "silver"}, purchases=[order(20, 600), order(150, 450)]),
    context("email", "email_post_purchase", "s-post", scores=ALL_SCORES,
            purchases=[LAPTOP_2_DAYS_AGO]),
    context("web", "web_home", "s-new", scores=LIFECYCLE_SCORES),
    context("email", "email_weekly", "s-vitamins", scores={"replenishment": 0.3},
            purchases=[order(40, 10, "vitamins", "VT-300-D3")]),
    context("app", "app_home", "s-prenatal", scores={"maternity": 0.2, "engagement": 0.2},
            purchases=[prenatal(1)]),
    context("web", "web_home", "s-nothing"),
    busy_customer("web", "web_home"),
    context("web", "web_home", "s-restock", scores={"replenishment": 0.3},
            purchases=[order(40, 10, "vitamins"), order(70, 10, "toothpaste"),
                       order(100, 10, "contact_lenses")]),
]


# --------------------------------------------------------------------------
# The location is hidden from the rules without consent, even for an action
# that does not say requires = { "location" }. Every location action of
# rules/retail says it, so this needs a ruleset of its own.

HIDDEN_RULES = """
store "berlin_alexanderplatz" { lat = 52.5219, lon = 13.4132 }

-- No `requires`: only the engine hides the location.
action "sees_store" { channels = { "app" }, value = 10, when = in_store() }
action "sees_near" { channels = { "app" }, value = 9, when = near_store(km(2)) }
action "sees_country" { channels = { "app" }, value = 8, when = in_country("DE") }
action "lua_sees_location" {
  channels = { "app" }, value = 7,
  when = function(c) return c.location ~= nil end,
}
fallback "nothing_seen" { channels = { "app" }, value = 1 }
"""
HIDDEN_TEST = """
test "without consent nothing is seen" {
  context = { channel = "app", touchpoint = "home",
              location = { lat = 52.5219, lon = 13.4132, store_id = "berlin_alexanderplatz", country = "DE" } },
  expect = { "nothing_seen" },
}
"""


class LocationHiddenTest(ScenarioCase):

    @classmethod
    def setUpClass(cls):
        cls.rules_dir = tempfile.mkdtemp(prefix="arb-rules-", dir="/tmp")
        with open(os.path.join(cls.rules_dir, "location.lua"), "w") as f:
            f.write(HIDDEN_RULES)
        with open(os.path.join(cls.rules_dir, "location_test.lua"), "w") as f:
            f.write(HIDDEN_TEST)
        cls.RULES = cls.rules_dir
        try:
            super().setUpClass()
        except BaseException:
            shutil.rmtree(cls.rules_dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.rules_dir, ignore_errors=True)

    def test_location_without_consent_is_invisible_to_rules(self):
        located = context("app", "home", location=IN_BERLIN_STORE, limit=10)
        everything = ["sees_store", "sees_near", "sees_country", "lua_sees_location"]
        self.assert_actions(dict(located, consent={"location": True}), everything,
                            reasons={"nothing_seen": "fallback: not needed"})
        hidden = {aid: "when" for aid in everything}
        self.assert_actions(dict(located, consent={"location": False}), ["nothing_seen"],
                            reasons=hidden)
        self.assert_actions(located, ["nothing_seen"], reasons=hidden)
        self.assert_actions(dict(located, consent={"email": True, "sms": True}),
                            ["nothing_seen"], reasons=hidden)
