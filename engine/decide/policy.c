/* Contact policy, checked in C (see policy.h). decide/'s rule: no I/O, no
 * lock, values in and out; the counts come from the customer value the
 * caller read, at the context's clock.
 *
 * A window of w seconds at now holds what happened at ts > now - w, as the
 * store counts a cap (arb_customer_contacts_since, arb_commit_merge), so the
 * prefilter and the store agree on every edge.
 */
#include "engine/decide/policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/ruleset/ruleset.h"

const arb_action_t *arb_policy_action(const arb_ruleset_t *rs, const char *id)
{
    uint32_t lo = 0, hi = rs->n_actions;   /* actions are sorted by id */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(rs->actions[mid].id, id);
        if (c == 0) return &rs->actions[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static int channel_named(const arb_ruleset_t *rs, const char *name)
{
    for (int i = 0; name && i < rs->n_channels; i++)
        if (strcmp(rs->channels[i], name) == 0) return i;
    return -1;
}

/* ------------------------------------------------------------ reasons */

static const char *fmt(arb_arena_t *arena, const char *fallback, const char *f, ...)
    __attribute__((format(printf, 3, 4)));
static const char *fmt(arb_arena_t *arena, const char *fallback, const char *f, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    if (n < 0) return fallback;
    size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
    char *out = arb_arena_alloc(arena, len + 1);
    if (!out) return fallback;
    memcpy(out, buf, len);
    out[len] = '\0';
    return out;
}

/* "7 days", "1 day", "12 hours", "90 seconds". */
static void span(char *buf, size_t n, int64_t s)
{
    if (s % 86400 == 0) snprintf(buf, n, "%lld day%s", (long long)(s / 86400), s == 86400 ? "" : "s");
    else if (s % 3600 == 0) snprintf(buf, n, "%lld hour%s", (long long)(s / 3600), s == 3600 ? "" : "s");
    else snprintf(buf, n, "%lld second%s", (long long)s, s == 1 ? "" : "s");
}

/* "2026-12-01" (UTC). */
static void day(char *buf, size_t n, int64_t ts)
{
    time_t t = (time_t)ts;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%d", &tm)) snprintf(buf, n, "%lld", (long long)ts);
}

static const char *cap_reason(arb_arena_t *arena, const char *what, arb_limit_t cap, size_t used)
{
    char per[32];
    span(per, sizeof per, cap.per);
    return fmt(arena, "cap", "cap: %s%s%u per %s, %zu used", what, *what ? " " : "", cap.max, per, used);
}

/* ------------------------------------------------------------ checks */

static size_t group_used(const arb_ruleset_t *rs, int32_t g, const arb_customer_t *c, int64_t since)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_contacts; i++) {
        const arb_contact_t *k = &c->contacts[i];
        if (k->ts <= since || !k->action) continue;
        const arb_action_t *a = arb_policy_action(rs, k->action);
        const arb_action_policy_t *p = a ? arb_action_policy(rs, a) : NULL;
        if (p && p->group == g) n++;
    }
    return n;
}

/* Until when rule s suppresses action id (0: it does not): each reported
 * outcome that, with the ones before it within s->within, makes s->times,
 * pauses the action s->pause after it. */
static int64_t suppressed_until(const arb_suppress_t *s, const char *id, const arb_customer_t *c,
                                int64_t now)
{
    int64_t until = 0;
    for (size_t j = 0; j < c->n_outcomes; j++) {
        const arb_outcome_t *o = &c->outcomes[j];
        if (o->ts > now || !o->action || !o->outcome || strcmp(o->action, id) != 0 ||
            strcmp(o->outcome, s->outcome) != 0)
            continue;
        uint32_t n = 0;
        for (size_t i = 0; i < c->n_outcomes && n < s->times; i++) {
            const arb_outcome_t *p = &c->outcomes[i];
            if (p->ts <= o->ts && p->ts > o->ts - s->within - (s->times == 1) && p->action &&
                p->outcome && strcmp(p->action, id) == 0 && strcmp(p->outcome, s->outcome) == 0)
                n++;
        }
        if (n < s->times) continue;
        int64_t u = s->pause == ARB_FOREVER ? ARB_FOREVER : o->ts + s->pause;
        if (u > until) until = u;
    }
    return until > now ? until : 0;
}

const char *arb_policy_check(const arb_ruleset_t *rs, const arb_action_t *action,
                             const arb_customer_t *c, int64_t now, bool explain,
                             arb_arena_t *arena)
{
    static const arb_action_policy_t none = { .group = -1, .counts = ARB_COUNTS_DEFAULT };
    const arb_action_policy_t *a = arb_action_policy(rs, action);
    const char *id = action->id;
    if (!a) a = &none;   /* stored suppressions still hold */
    for (uint32_t k = 0; k < a->n_suppress; k++) {
        int64_t until = suppressed_until(&a->suppress[k], id, c, now);
        if (!until) continue;
        if (!explain) return "suppressed";
        if (until == ARB_FOREVER) return fmt(arena, "suppressed", "suppressed: %s, forever", a->suppress[k].outcome);
        char d[32];
        day(d, sizeof d, until);
        return fmt(arena, "suppressed", "suppressed: %s, until %s", a->suppress[k].outcome, d);
    }
    for (size_t i = 0; i < c->n_suppressions; i++) {
        const arb_suppression_t *s = &c->suppressions[i];
        if (s->until <= now || !s->action || strcmp(s->action, id) != 0) continue;
        if (!explain) return "suppressed";
        char d[32];
        day(d, sizeof d, s->until);
        return fmt(arena, "suppressed", "suppressed: %s, until %s", s->reason ? s->reason : "stored", d);
    }
    if (a->cooldown) {
        for (size_t i = c->n_contacts; i-- > 0;) {
            const arb_contact_t *k = &c->contacts[i];
            if (k->ts <= now - a->cooldown || !k->action || strcmp(k->action, id) != 0) continue;
            if (!explain) return "cooldown";
            char per[32], d[32];
            span(per, sizeof per, a->cooldown);
            day(d, sizeof d, k->ts);
            return fmt(arena, "cooldown", "cooldown: %s, last contact %s", per, d);
        }
    }
    if (a->cap.per) {
        size_t used = arb_customer_contacts_since(c, id, NULL, now - a->cap.per);
        if (used >= a->cap.max) return explain ? cap_reason(arena, "", a->cap, used) : "cap";
    }
    if (a->group >= 0) {
        const arb_group_t *g = &rs->groups[a->group];
        size_t used = group_used(rs, a->group, c, now - g->cap.per);
        if (used >= g->cap.max) {
            if (!explain) return "cap";
            char what[80];
            snprintf(what, sizeof what, "group %s", g->id);
            return cap_reason(arena, what, g->cap, used);
        }
    }
    return NULL;
}

const char *arb_policy_channel_check(const arb_ruleset_t *rs, int ch, const arb_customer_t *c,
                                     int64_t now, bool explain, arb_arena_t *arena)
{
    arb_limit_t cap = rs->channel_policy[ch].cap;
    if (!cap.per) return NULL;
    size_t used = arb_customer_contacts_since(c, NULL, rs->channels[ch], now - cap.per);
    if (used < cap.max) return NULL;
    if (!explain) return "cap";
    char what[80];
    snprintf(what, sizeof what, "channel %s", rs->channels[ch]);
    return cap_reason(arena, what, cap, used);
}

/* ------------------------------------------------------------ contacts */

static arb_counts_t counts_of(const arb_ruleset_t *rs, const arb_action_t *a, int ch)
{
    const arb_action_policy_t *p = arb_action_policy(rs, a);
    return p && p->counts != ARB_COUNTS_DEFAULT ? p->counts : rs->channel_policy[ch].counts;
}

int arb_policy_contacts(const arb_ruleset_t *rs, const arb_decision_t *dec,
                        arb_arena_t *arena, arb_contact_req_t **out)
{
    *out = NULL;
    int ch = channel_named(rs, dec->channel);
    if (dec->preview || ch < 0 || dec->n_actions == 0) return 0;
    arb_contact_req_t *reqs = arb_arena_alloc(arena, sizeof *reqs * dec->n_actions);
    if (!reqs) return -1;
    int n = 0;
    for (uint32_t i = 0; i < dec->n_actions; i++) {
        const arb_action_t *a = arb_policy_action(rs, dec->actions[i].id);
        if (!a || counts_of(rs, a, ch) != ARB_COUNTS_DECISION) continue;
        const arb_action_policy_t *p = arb_action_policy(rs, a);
        arb_cap_t *caps = arb_arena_alloc(arena, sizeof *caps * 4);
        if (!caps) return -1;
        size_t k = 0;
        if (p && p->cap.per) caps[k++] = (arb_cap_t){ .action = a->id, .max = p->cap.max, .window = p->cap.per };
        if (p && p->cooldown) caps[k++] = (arb_cap_t){ .action = a->id, .max = 1, .window = p->cooldown };
        if (p && p->group >= 0) {
            const arb_group_t *g = &rs->groups[p->group];
            caps[k++] = (arb_cap_t){ NULL, NULL, g->cap.max, g->cap.per,
                                     (const char *const *)g->members, g->n_members };
        }
        const arb_limit_t *cc = &rs->channel_policy[ch].cap;
        if (cc->per) caps[k++] = (arb_cap_t){ .channel = rs->channels[ch], .max = cc->max, .window = cc->per };
        reqs[n].contact = (arb_contact_t){ dec->now, a->id, rs->channels[ch], "decision" };
        reqs[n].caps = caps;
        reqs[n].n_caps = k;
        n++;
    }
    *out = reqs;
    return n;
}

int arb_policy_feedback_contacts(const arb_ruleset_t *rs, const char *action, const char *channel,
                                 const char *outcome, int64_t ts, arb_arena_t *arena,
                                 arb_contact_req_t **out)
{
    *out = NULL;
    if (!outcome || strcmp(outcome, "impression") != 0 || !action) return 0;
    const arb_action_t *a = arb_policy_action(rs, action);
    int ch = channel_named(rs, channel);
    if (!a || ch < 0 || counts_of(rs, a, ch) != ARB_COUNTS_IMPRESSION) return 0;
    arb_contact_req_t *r = arb_arena_alloc(arena, sizeof *r);
    if (!r) return -1;
    r->contact = (arb_contact_t){ ts, a->id, rs->channels[ch], "impression" };
    r->caps = NULL;
    r->n_caps = 0;
    *out = r;
    return 1;
}

/* What a customer's record keeps. The age covers a year of history for the
 * rules' conditions (bought(..., within(days(30))) reads stored purchases
 * too) and at least the longest cap, cooldown or suppression window; a
 * "forever" suppression keeps every age, bounded by the counts alone. The
 * counts keep a record near 10 KB at the most (DESIGN.md section 5). */
#define RETAIN_AGE (365 * 86400)
#define RETAIN_EVENTS 200
#define RETAIN_PURCHASES 100
#define RETAIN_CONTACTS 200
#define RETAIN_OUTCOMES 200
/* Offers: a feedback comes within days of its decision, and each adaptive
 * action shown adds one; 100 of ~60 bytes keep the record's bound. */
#define RETAIN_OFFERS 100
/* "recommended" events, one per product a decision recommends, kept apart
 * from the customer's own events (which they would otherwise push out) and
 * once per sku: enough for "shown" to cover ten decisions of 20 products. */
#define RETAIN_RECOMMENDED 200

void arb_ruleset_retention(const arb_ruleset_t *rs, arb_retention_t *out)
{
    memset(out, 0, sizeof *out);
    out->max_age = rs->policy_forever ? 0
                   : rs->policy_window > RETAIN_AGE ? rs->policy_window : RETAIN_AGE;
    out->max_events = RETAIN_EVENTS;
    out->max_purchases = RETAIN_PURCHASES;
    out->max_contacts = RETAIN_CONTACTS;
    out->max_outcomes = RETAIN_OUTCOMES;
    out->max_offers = RETAIN_OFFERS;
    out->max_recommended = RETAIN_RECOMMENDED;
}

const arb_ruleset_t *arb_policy_ruleset_of(const arb_ruleset_t *rs, const char *id)
{
    if (!id || arb_policy_action(rs, id) || !rs->experiment || !rs->experiment->ruleset) return rs;
    const arb_ruleset_t *ch = rs->experiment->ruleset;
    return arb_policy_action(ch, id) ? ch : rs;
}
