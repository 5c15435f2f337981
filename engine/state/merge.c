/* Merging one commit into a customer (commit.h): what `track`, `feedback`
 * and a decision's contacts and offers add, the cap checks that decide
 * which contacts are granted, what a feedback teaches an adaptive action
 * (found against the stored offers and outcomes, in the same atomic step,
 * so a duplicate or a flood is recognised however the calls interleave),
 * and retention.
 *
 * Keeps state/'s rule that the merge is a pure function of values: no I/O,
 * no lock, so each backend calls it wherever its own atomicity lives
 * (memory.c under its mutex, lmdb.c in the writer's write transaction).
 * The merged customer shares strings with `old` and with the commit; it is
 * encoded before either goes away.
 */
#include "engine/request/commit.h"
#include "engine/state/record.h"

#include <msgpack.h>
#include <stdbool.h>
#include <string.h>

static void *alloc(arb_arena_t *a, size_t n)
{
    return arb_arena_alloc(a, n ? n : 1);
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool match(const char *want, const char *have)
{
    return !want || (have && strcmp(want, have) == 0);
}

static bool same_event(const arb_event_t *a, const arb_event_t *b)
{
    return a->ts == b->ts && same_str(a->type, b->type) && same_str(a->channel, b->channel) &&
           same_str(a->sku, b->sku) && same_str(a->category, b->category);
}

/* Stable insertion sort by ts: lists are short and nearly sorted. */
#define SORT_BY_TS(type, arr, n)                                   \
    for (size_t i_ = 1; i_ < (n); i_++) {                           \
        type t_ = (arr)[i_];                                        \
        size_t j_ = i_;                                             \
        for (; j_ > 0 && (arr)[j_ - 1].ts > t_.ts; j_--) (arr)[j_] = (arr)[j_ - 1]; \
        (arr)[j_] = t_;                                             \
    }

/* Retention: drop the entries older than now - max_age, then the oldest
 * beyond max_n. Returns the index of the first entry kept. */
#define RETAIN(arr, n, now, max_age, max_n)                         \
    do {                                                            \
        size_t first_ = 0;                                          \
        if ((max_age) > 0)                                          \
            while (first_ < (n) && (arr)[first_].ts < (now) - (max_age)) first_++; \
        if ((max_n) > 0 && (n) - first_ > (max_n)) first_ = (n) - (max_n); \
        (arr) += first_;                                            \
        (n) -= first_;                                              \
    } while (0)

static int merge_events(const arb_event_t *old, size_t n_old, const arb_event_t *add, size_t n_add,
                        arb_arena_t *a, arb_event_t **out, size_t *n_out, size_t *stored)
{
    arb_event_t *e = alloc(a, (n_old + n_add) * sizeof *e);
    if (!e) return -1;
    if (n_old) memcpy(e, old, n_old * sizeof *e);
    size_t n = n_old;
    for (size_t i = 0; i < n_add; i++) {
        bool dup = false;
        /* A repeated track (a client's retry) must not double the history. */
        for (size_t j = 0; j < n && !dup; j++) dup = same_event(&e[j], &add[i]);
        if (dup) continue;
        e[n++] = add[i];
        (*stored)++;
    }
    SORT_BY_TS(arb_event_t, e, n);
    *out = e;
    *n_out = n;
    return 0;
}

/* Retention of the event list: drop the events older than now - max_age,
 * then keep the newest max_events that are not "recommended" and, apart,
 * the newest max_recommended "recommended" ones, the newest per sku only
 * (all that "shown" reads). Counted apart because a decision records one
 * per product it recommends: under one count they would push the
 * customer's own views and carts out of the record within a few decisions.
 * The list stays sorted by ts. */
static int retain_events(arb_event_t *e, size_t *n, int64_t now, const arb_retention_t *rt,
                         arb_arena_t *a)
{
    bool *keep = alloc(a, *n * sizeof *keep);
    if (!keep) return -1;
    size_t others = 0, recos = 0;
    for (size_t i = *n; i-- > 0;) {
        keep[i] = false;
        if (rt->max_age > 0 && e[i].ts < now - rt->max_age) continue;
        if (!same_str(e[i].type, "recommended")) {
            if (!rt->max_events || others < rt->max_events) keep[i] = true, others++;
            continue;
        }
        if (rt->max_recommended && recos >= rt->max_recommended) continue;
        bool newer = false;
        for (size_t j = i + 1; j < *n && !newer; j++)
            newer = keep[j] && same_str(e[j].type, "recommended") && same_str(e[j].sku, e[i].sku);
        if (!newer) keep[i] = true, recos++;
    }
    size_t k = 0;
    for (size_t i = 0; i < *n; i++)
        if (keep[i]) e[k++] = e[i];
    *n = k;
    return 0;
}

/* The keys of add replace those of old; both msgpack maps. */
static int merge_attributes(const uint8_t *old, size_t n_old, const uint8_t *add, size_t n_add,
                            arb_arena_t *a, const uint8_t **out, size_t *n_out, arb_err_t *err)
{
    msgpack_unpacked uo, ua;
    msgpack_unpacked_init(&uo);
    msgpack_unpacked_init(&ua);
    int rc = -1;
    if (!arb_record_msgpack_ok(add, n_add, 32) ||
        msgpack_unpack_next(&ua, (const char *)add, n_add, NULL) != MSGPACK_UNPACK_SUCCESS ||
        ua.data.type != MSGPACK_OBJECT_MAP) {
        arb_err_set(err, ARB_INVALID_PARAMS, "attributes: expected a map");
        goto done;
    }
    bool have_old = old && arb_record_msgpack_ok(old, n_old, 32) && msgpack_unpack_next(&uo, (const char *)old, n_old, NULL) == MSGPACK_UNPACK_SUCCESS &&
                    uo.data.type == MSGPACK_OBJECT_MAP;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    const msgpack_object_map *ma = &ua.data.via.map;
    uint32_t keep = 0;
    const msgpack_object_map *mo = have_old ? &uo.data.via.map : NULL;
    bool *kept = alloc(a, (mo ? mo->size : 0) * sizeof *kept);
    if (!kept) {
        arb_err_set(err, ARB_INTERNAL, "state: out of memory merging attributes");
        msgpack_sbuffer_destroy(&sb);
        goto done;
    }
    for (uint32_t i = 0; mo && i < mo->size; i++) {
        kept[i] = true;
        for (uint32_t j = 0; j < ma->size && kept[i]; j++)
            if (msgpack_object_equal(mo->ptr[i].key, ma->ptr[j].key)) kept[i] = false;
        keep += kept[i];
    }
    msgpack_pack_map(&pk, keep + ma->size);
    for (uint32_t i = 0; mo && i < mo->size; i++)
        if (kept[i]) {
            msgpack_pack_object(&pk, mo->ptr[i].key);
            msgpack_pack_object(&pk, mo->ptr[i].val);
        }
    for (uint32_t j = 0; j < ma->size; j++) {
        msgpack_pack_object(&pk, ma->ptr[j].key);
        msgpack_pack_object(&pk, ma->ptr[j].val);
    }
    uint8_t *b = sb.data ? alloc(a, sb.size) : NULL;
    if (!b) {
        arb_err_set(err, ARB_INTERNAL, "state: out of memory merging attributes");
    } else {
        memcpy(b, sb.data, sb.size);
        *out = b;
        *n_out = sb.size;
        rc = 0;
    }
    msgpack_sbuffer_destroy(&sb);
done:
    msgpack_unpacked_destroy(&uo);
    msgpack_unpacked_destroy(&ua);
    return rc;
}

static bool one_of(const arb_cap_t *cap, const char *action)
{
    if (!cap->n_actions) return match(cap->action, action);
    for (size_t i = 0; i < cap->n_actions; i++)
        if (action && strcmp(cap->actions[i], action) == 0) return true;
    return false;
}

static bool cap_holds(const arb_contact_t *list, size_t n, const arb_contact_t *k, const arb_cap_t *cap)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (list[i].ts > k->ts - cap->window && one_of(cap, list[i].action) &&
            match(cap->channel, list[i].channel))
            count++;
    return count < cap->max;
}

/* The latest offer of o's action (with o's decision_id when it has one). */
static arb_offer_t *find_offer(arb_offer_t *fs, size_t n, const arb_outcome_t *o)
{
    for (size_t i = n; i-- > 0;)
        if (strcmp(fs[i].action, o->action) == 0 &&
            (!o->decision_id || strcmp(fs[i].decision_id, o->decision_id) == 0))
            return &fs[i];
    return NULL;
}

/* What the one outcome *o of a feedback teaches (arb_learn_rule_t). At
 * most one trial and one positive per offer, whatever is sent, kept on the
 * offer itself (ARB_OFFER_*): an outcome that retention dropped, or that
 * came with another timestamp, cannot teach twice. */
static void learn(arb_offer_t *fs, size_t nfs, const arb_learn_rule_t *rule, arb_outcome_t *o,
                  arb_commit_result_t *res)
{
    arb_offer_t *f = o->action && o->outcome ? find_offer(fs, nfs, o) : NULL;
    if (!f) return;
    res->learn_known = true;
    res->learn_channel = f->channel;
    res->learn_segment = f->segment;
    res->learn_decision_id = f->decision_id;
    if (!o->decision_id) o->decision_id = f->decision_id;
    bool positive = rule->positive && strcmp(o->outcome, rule->positive) == 0;
    if (positive && !(f->learned & ARB_OFFER_POSITIVE)) {
        res->learn_positives = 1;
        f->learned |= ARB_OFFER_POSITIVE;
    }
    /* A positive before its impression implies the impression; whichever
     * of the two comes first is the offer's one trial. */
    if (rule->trials_on_impression && (positive || strcmp(o->outcome, "impression") == 0) &&
        !(f->learned & ARB_OFFER_TRIAL)) {
        res->learn_trials = 1;
        f->learned |= ARB_OFFER_TRIAL;
    }
}

int arb_commit_merge(const arb_customer_t *old, const arb_commit_t *cm,
                     const arb_retention_t *rt, arb_arena_t *a,
                     arb_customer_t *out, bool *granted, arb_commit_result_t *res,
                     arb_err_t *err)
{
    if (cm->retention) rt = cm->retention;
    static const arb_retention_t none;
    if (!rt) rt = &none;
    *out = *old;
    memset(res, 0, sizeof *res);
    res->granted = granted;
    res->n_contacts = cm->n_contacts;
    int64_t now = cm->now;

    if (merge_events(old->events, old->n_events, cm->events, cm->n_events, a, &out->events,
                     &out->n_events, &res->stored) ||
        merge_events(old->purchases, old->n_purchases, cm->purchases, cm->n_purchases, a,
                     &out->purchases, &out->n_purchases, &res->stored))
        goto nomem;
    if (retain_events(out->events, &out->n_events, now, rt, a)) goto nomem;
    RETAIN(out->purchases, out->n_purchases, now, rt->max_age, rt->max_purchases);

    /* Consent: the latest statement per key wins; at the same second a
     * withdrawal wins, so a withdrawal holds until a later grant. */
    arb_consent_t *cs = alloc(a, (old->n_consents + cm->n_consents) * sizeof *cs);
    if (!cs) goto nomem;
    if (old->n_consents) memcpy(cs, old->consents, old->n_consents * sizeof *cs);
    size_t ncs = old->n_consents;
    for (size_t i = 0; i < cm->n_consents; i++) {
        const arb_consent_t *s = &cm->consents[i];
        size_t j = 0;
        while (j < ncs && strcmp(cs[j].key, s->key) != 0) j++;
        if (j == ncs) cs[ncs++] = *s;
        else if (s->ts > cs[j].ts || (s->ts == cs[j].ts && !s->granted)) cs[j] = *s;
        else continue;
        res->stored++;
    }
    out->consents = cs;
    out->n_consents = ncs;

    if (cm->attributes && merge_attributes(old->attributes, old->attributes_len, cm->attributes,
                                           cm->attributes_len, a, &out->attributes,
                                           &out->attributes_len, err))
        return -1;

    /* Suppressions: expired ones go; one per action, the later until wins. */
    arb_suppression_t *ss = alloc(a, (old->n_suppressions + cm->n_suppressions) * sizeof *ss);
    if (!ss) goto nomem;
    size_t nss = 0;
    for (size_t i = 0; i < old->n_suppressions; i++)
        if (old->suppressions[i].until > now) ss[nss++] = old->suppressions[i];
    for (size_t i = 0; i < cm->n_suppressions; i++) {
        const arb_suppression_t *s = &cm->suppressions[i];
        if (s->until <= now) continue;
        size_t j = 0;
        while (j < nss && strcmp(ss[j].action, s->action) != 0) j++;
        if (j == nss) ss[nss++] = *s;
        else if (s->until > ss[j].until) ss[j] = *s;
    }
    out->suppressions = ss;
    out->n_suppressions = nss;

    /* Contacts: each is granted only when all its caps hold, counting what
     * this commit granted before it; this runs under the backend's
     * atomicity, so concurrent decisions cannot both take the last slot. */
    arb_contact_t *ks = alloc(a, (old->n_contacts + cm->n_contacts) * sizeof *ks);
    if (!ks) goto nomem;
    if (old->n_contacts) memcpy(ks, old->contacts, old->n_contacts * sizeof *ks);
    size_t nks = old->n_contacts;
    for (size_t i = 0; i < cm->n_contacts; i++) {
        const arb_contact_req_t *r = &cm->contacts[i];
        bool ok = true;
        for (size_t c = 0; c < r->n_caps && ok; c++) ok = cap_holds(ks, nks, &r->contact, &r->caps[c]);
        granted[i] = ok;
        if (!ok) continue;
        ks[nks++] = r->contact;
        res->n_granted++;
    }
    SORT_BY_TS(arb_contact_t, ks, nks);
    RETAIN(ks, nks, now, rt->max_age, rt->max_contacts);
    out->contacts = ks;
    out->n_contacts = nks;

    /* Offers: stored with their contact (a refused one shows nothing to
     * learn from), once per (decision_id, action) so a retried decision
     * does not make a second offer to match. One without a decision_id or
     * action could never be found again, so it is not kept. */
    arb_offer_t *fs = alloc(a, (old->n_offers + cm->n_offers) * sizeof *fs);
    if (!fs) goto nomem;
    if (old->n_offers) memcpy(fs, old->offers, old->n_offers * sizeof *fs);
    size_t nfs = old->n_offers;
    for (size_t i = 0; i < cm->n_offers; i++) {
        const arb_offer_req_t *r = &cm->offers[i];
        if (!r->offer.decision_id || !r->offer.action) continue;
        if (r->contact >= 0 && ((size_t)r->contact >= cm->n_contacts || !granted[r->contact])) continue;
        bool dup = false;
        for (size_t j = 0; j < nfs && !dup; j++)
            dup = strcmp(fs[j].decision_id, r->offer.decision_id) == 0 && strcmp(fs[j].action, r->offer.action) == 0;
        if (!dup) fs[nfs++] = r->offer;
    }
    SORT_BY_TS(arb_offer_t, fs, nfs);
    RETAIN(fs, nfs, now, rt->max_age, rt->max_offers);
    out->offers = fs;
    out->n_offers = nfs;

    /* Learning runs before the outcome is stored: it needs to know what
     * was stored for the offer before, and an outcome without a decision_id
     * is stored with its offer's, so that a repeat is recognised. */
    arb_outcome_t learned = cm->n_outcomes == 1 ? cm->outcomes[0] : (arb_outcome_t){0};
    if (cm->learn && cm->n_outcomes == 1) learn(fs, nfs, cm->learn, &learned, res);

    /* Outcomes: idempotent by (decision_id, action, outcome). */
    arb_outcome_t *os = alloc(a, (old->n_outcomes + cm->n_outcomes) * sizeof *os);
    if (!os) goto nomem;
    if (old->n_outcomes) memcpy(os, old->outcomes, old->n_outcomes * sizeof *os);
    size_t nos = old->n_outcomes;
    for (size_t i = 0; i < cm->n_outcomes; i++) {
        const arb_outcome_t *o = cm->learn && cm->n_outcomes == 1 ? &learned : &cm->outcomes[i];
        bool dup = false;
        for (size_t j = 0; o->decision_id && j < nos && !dup; j++)
            dup = same_str(os[j].decision_id, o->decision_id) && strcmp(os[j].action, o->action) == 0 &&
                  strcmp(os[j].outcome, o->outcome) == 0;
        if (dup) continue;
        os[nos++] = *o;
        res->outcomes_counted++;
    }
    SORT_BY_TS(arb_outcome_t, os, nos);
    RETAIN(os, nos, now, rt->max_age, rt->max_outcomes);
    out->outcomes = os;
    out->n_outcomes = nos;

    /* Pseudonym: once given, never replaced, so every logged record of the
     * customer names the same one until `forget` erases it. */
    if (!old->pseudonym && cm->pseudonym) {
        if (!arb_record_pseudonym_ok(cm->pseudonym))
            return arb_err_set(err, ARB_INTERNAL, "state: a commit's pseudonym must be %d hex digits",
                               ARB_RECORD_PSEUDONYM_LEN);
        out->pseudonym = cm->pseudonym;
    }
    return 0;
nomem:
    return arb_err_set(err, ARB_INTERNAL, "state: out of memory merging a commit");
}

/* ---- the queued copy of a commit ---- */

static const char *dup(arb_arena_t *a, const char *s, bool *fail)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = arb_arena_alloc(a, n);
    if (!d) {
        *fail = true;
        return NULL;
    }
    return memcpy(d, s, n);
}

static const uint8_t *dupb(arb_arena_t *a, const uint8_t *b, size_t n, bool *fail)
{
    if (!b) return NULL;
    uint8_t *d = alloc(a, n);
    if (!d) {
        *fail = true;
        return NULL;
    }
    return memcpy(d, b, n);
}

#define DUP_ARRAY(dst, src, n)                                       \
    do {                                                             \
        void *p_ = alloc(a, (n) * sizeof *(src));                    \
        if (!p_) return NULL;                                        \
        if (n) memcpy(p_, (src), (n) * sizeof *(src));               \
        (dst) = p_;                                                  \
    } while (0)

static arb_event_t *dup_events(arb_arena_t *a, const arb_event_t *src, size_t n, bool *fail)
{
    arb_event_t *e;
    DUP_ARRAY(e, src, n);
    for (size_t i = 0; i < n; i++) {
        e[i].type = dup(a, e[i].type, fail);
        e[i].channel = dup(a, e[i].channel, fail);
        e[i].sku = dup(a, e[i].sku, fail);
        e[i].category = dup(a, e[i].category, fail);
        e[i].extra = dupb(a, e[i].extra, e[i].extra_len, fail);
    }
    return e;
}

arb_commit_t *arb_commit_copy(const arb_commit_t *c, arb_arena_t *a)
{
    bool fail = false;
    arb_commit_t *d = alloc(a, sizeof *d);
    if (!d) return NULL;
    *d = *c;
    if (!(d->events = dup_events(a, c->events, c->n_events, &fail))) return NULL;
    if (!(d->purchases = dup_events(a, c->purchases, c->n_purchases, &fail))) return NULL;
    arb_consent_t *cs;
    DUP_ARRAY(cs, c->consents, c->n_consents);
    for (size_t i = 0; i < c->n_consents; i++) cs[i].key = dup(a, cs[i].key, &fail);
    d->consents = cs;
    d->attributes = dupb(a, c->attributes, c->attributes_len, &fail);
    arb_outcome_t *os;
    DUP_ARRAY(os, c->outcomes, c->n_outcomes);
    for (size_t i = 0; i < c->n_outcomes; i++) {
        os[i].action = dup(a, os[i].action, &fail);
        os[i].outcome = dup(a, os[i].outcome, &fail);
        os[i].decision_id = dup(a, os[i].decision_id, &fail);
        os[i].channel = dup(a, os[i].channel, &fail);
    }
    d->outcomes = os;
    arb_suppression_t *ss;
    DUP_ARRAY(ss, c->suppressions, c->n_suppressions);
    for (size_t i = 0; i < c->n_suppressions; i++) {
        ss[i].action = dup(a, ss[i].action, &fail);
        ss[i].reason = dup(a, ss[i].reason, &fail);
    }
    d->suppressions = ss;
    arb_contact_req_t *ks;
    DUP_ARRAY(ks, c->contacts, c->n_contacts);
    for (size_t i = 0; i < c->n_contacts; i++) {
        ks[i].contact.action = dup(a, ks[i].contact.action, &fail);
        ks[i].contact.channel = dup(a, ks[i].contact.channel, &fail);
        ks[i].contact.counted = dup(a, ks[i].contact.counted, &fail);
        arb_cap_t *caps;
        DUP_ARRAY(caps, c->contacts[i].caps, c->contacts[i].n_caps);
        for (size_t j = 0; j < c->contacts[i].n_caps; j++) {
            caps[j].action = dup(a, caps[j].action, &fail);
            caps[j].channel = dup(a, caps[j].channel, &fail);
            const char **acts = NULL;
            DUP_ARRAY(acts, c->contacts[i].caps[j].actions, c->contacts[i].caps[j].n_actions);
            for (size_t m = 0; m < caps[j].n_actions; m++) acts[m] = dup(a, acts[m], &fail);
            caps[j].actions = acts;
        }
        ks[i].caps = caps;
    }
    d->contacts = ks;
    arb_offer_req_t *fs;
    DUP_ARRAY(fs, c->offers, c->n_offers);
    for (size_t i = 0; i < c->n_offers; i++) {
        fs[i].offer.decision_id = dup(a, fs[i].offer.decision_id, &fail);
        fs[i].offer.action = dup(a, fs[i].offer.action, &fail);
        fs[i].offer.channel = dup(a, fs[i].offer.channel, &fail);
        fs[i].offer.segment = dup(a, fs[i].offer.segment, &fail);
    }
    d->offers = fs;
    if (c->learn) {
        arb_learn_rule_t *l = alloc(a, sizeof *l);
        if (!l) return NULL;
        *l = *c->learn;
        l->positive = dup(a, l->positive, &fail);
        d->learn = l;
    }
    d->pseudonym = dup(a, c->pseudonym, &fail);
    if (c->retention) {
        arb_retention_t *r = alloc(a, sizeof *r);
        if (!r) return NULL;
        *r = *c->retention;
        d->retention = r;
    }
    return fail ? NULL : d;
}
