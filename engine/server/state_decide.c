/* A decision's round in the state methods (see state_int.h): the copy
 * that outlives the decider and the ruleset, the commit of its contacts
 * and offers, the actions kept when a cap refused some, and the evidence
 * learning takes from what was stored.
 */
#include "engine/server/state_int.h"
#include "engine/server/state_reco.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "engine/audit/log.h"
#include "engine/base/hex.h"
#include "engine/base/mpread.h"
#include "engine/decide/adaptive.h"
#include "engine/decide/policy.h"
#include "engine/learn/learner.h"
#include "engine/server/learn_sync.h"
#include "engine/server/server_priv.h"

char *arb__state_copy_bytes(arb_arena_t *a, const char *s, size_t n)
{
    if (!s) return NULL;
    char *d = arb_arena_alloc(a, n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

/* The decision is a view into the decider's scratch and the ruleset (which
 * a reload may retire): a copy in p's arena answers it after the commit. */
int arb__state_copy_decision(arb_pending_t *p, const arb_decision_t *d, arb_err_t *err)
{
    arb_arena_t *a = &p->arena;
    arb_decision_t *c = &p->dec;
    *c = *d;
    c->decision_id = arb__state_copy_bytes(a, d->decision_id, d->decision_id_len);
    c->ruleset = arb__state_copy_str(a, d->ruleset);
    /* The decider's and the ruleset's strings: the next decision, or a
     * reload, may change or free them before the commit completes. */
    c->channel = arb__state_copy_str(a, d->channel);
    c->customer_id = arb__state_copy_str(a, d->customer_id);
    c->touchpoint = arb__state_copy_str(a, d->touchpoint);
    c->group = arb__state_copy_str(a, d->group);
    c->experiment = arb__state_copy_str(a, d->experiment);
    c->arm = arb__state_copy_str(a, d->arm);
    arb_decided_action_t *acts = arb_arena_alloc(a, (d->n_actions + 1) * sizeof *acts);
    arb_explained_t *ex = arb_arena_alloc(a, (d->n_explain + 1) * sizeof *ex);
    if (!c->decision_id || !acts || !ex) goto nomem;
    for (uint32_t i = 0; i < d->n_actions; i++) {
        acts[i] = d->actions[i];
        acts[i].id = arb__state_copy_str(a, d->actions[i].id);
        acts[i].payload = arb__state_copy_bytes(a, d->actions[i].payload, d->actions[i].payload_len);
        acts[i].head = arb__state_copy_bytes(a, d->actions[i].head, d->actions[i].head_len);
        acts[i].tail = arb__state_copy_bytes(a, d->actions[i].tail, d->actions[i].tail_len);
        acts[i].segment = arb__state_copy_str(a, d->actions[i].segment);
        if (!acts[i].id || arb__state_copy_products(a, &acts[i]) < 0) goto nomem;
    }
    for (uint32_t i = 0; i < d->n_explain; i++) {
        ex[i] = d->explain[i];
        ex[i].id = arb__state_copy_str(a, d->explain[i].id);
        ex[i].reason = arb__state_copy_str(a, d->explain[i].reason);
        /* explain's words and names: the ruleset's, which a reload may free */
        ex[i].propensity_from = arb__state_copy_str(a, d->explain[i].propensity_from);
        ex[i].lost_to = arb__state_copy_str(a, d->explain[i].lost_to);
        ex[i].failed = arb__state_copy_str(a, d->explain[i].failed);
        if (arb__state_copy_explained_products(a, &ex[i]) < 0) goto nomem;
        if (d->explain[i].learned) {
            arb_learned_t *l = arb_arena_alloc(a, sizeof *l);
            if (!l) goto nomem;
            *l = *d->explain[i].learned;
            l->segment = arb__state_copy_str(a, l->segment);
            ex[i].learned = l;
        }
    }
    arb_held_t *held = arb_arena_alloc(a, (d->n_held + 1) * sizeof *held);
    if (!held) goto nomem;
    for (uint32_t i = 0; i < d->n_held; i++) {
        held[i].id = arb__state_copy_str(a, d->held[i].id);
        held[i].control = arb__state_copy_str(a, d->held[i].control);
        if (!held[i].id) goto nomem;
    }
    c->actions = acts;
    c->explain = d->explain ? ex : NULL;
    c->held = held;
    return 0;
nomem:
    return arb_err_set(err, ARB_INTERNAL, "out of memory holding a decision for the store");
}

/* Keep only the actions whose every contact was granted; explain says
 * `cap` for the others. */
void arb__state_keep_granted(arb_pending_t *p)
{
    arb_decided_action_t *acts = (arb_decided_action_t *)p->dec.actions;
    arb_explained_t *ex = (arb_explained_t *)p->dec.explain;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < p->dec.n_actions; i++) {
        bool ok = true;
        for (size_t k = 0; k < p->n_contacts; k++)
            if (!p->granted[k] && p->reqs[k].contact.action &&
                strcmp(p->reqs[k].contact.action, acts[i].id) == 0)
                ok = false;
        if (ok) {
            acts[kept++] = acts[i];
            continue;
        }
        for (uint32_t e = 0; ex && e < p->dec.n_explain; e++)
            if (strcmp(ex[e].id, acts[i].id) == 0) {
                ex[e].chosen = false;
                ex[e].reason = "cap";
            }
    }
    p->dec.n_actions = kept;
}

int arb__state_decision_commit(arb_pending_t *p, arb_err_t *err)
{
    arb_worker_t *w = p->w;
    /* A challenger's decision is counted and learned in the challenger's
     * terms: its actions' caps and adaptive rules (decision.decided_by). */
    const arb_ruleset_t *by = p->dec.decided_by ? p->dec.decided_by : w->ruleset;
    int n = arb_policy_contacts(by, &p->dec, &p->arena, &p->reqs);
    if (n < 0) return arb_err_set(err, ARB_INTERNAL, "out of memory listing a decision's contacts");
    /* What is read after the commit points into p, not into the ruleset
     * (the caps are copied by the store before the call returns). */
    for (int i = 0; i < n; i++) {
        arb_contact_t *k = &p->reqs[i].contact;
        for (uint32_t j = 0; j < p->dec.n_actions; j++)
            if (k->action && strcmp(k->action, p->dec.actions[j].id) == 0) k->action = p->dec.actions[j].id;
        k->channel = p->dec.channel;
    }
    int o = arb_adaptive_offers(by, &p->dec, p->reqs, (size_t)n, &p->arena, &p->offers);
    if (o < 0) return arb_err_set(err, ARB_INTERNAL, "out of memory listing a decision's offers");
    p->n_offers = (size_t)o;
    /* With the log on, a customer who has no pseudonym yet gets one with
     * this decision: its record must name it before the log does. */
    const char *fresh = p->dec.preview ? NULL : arb__state_fresh_pseudonym(p);
    bool name = fresh && !p->customer.pseudonym;
    arb_event_t *shown = NULL;
    int e = p->dec.preview ? 0 : arb__state_recommended(p, &shown);
    if (e < 0) return arb_err_set(err, ARB_INTERNAL, "out of memory listing a decision's products");
    if (n == 0 && o == 0 && e == 0 && !name) return 0;
    arb_ruleset_retention(w->ruleset, &p->ret);
    memset(&p->commit, 0, sizeof p->commit);
    p->commit.now = p->dec.now;
    p->commit.contacts = p->reqs;
    p->commit.n_contacts = (size_t)n;
    p->commit.offers = p->offers;
    p->commit.n_offers = p->n_offers;
    p->commit.retention = &p->ret;
    p->commit.pseudonym = fresh;
    p->commit.events = shown;
    p->commit.n_events = (size_t)e;
    p->n_contacts = (size_t)n;
    p->granted = arb_arena_alloc(&p->arena, ((size_t)n + 1) * sizeof *p->granted);
    if (!p->granted) return arb_err_set(err, ARB_INTERNAL, "out of memory committing contacts");
    return n + o + e + (name ? 1 : 0);
}

/* What a stored commit teaches: the trials of a decision's offers (for
 * actions whose trials are decisions), or a feedback's evidence. */
void arb__state_learn(arb_pending_t *p)
{
    arb_worker_t *w = p->w;
    arb_arm_delta_t *d = NULL;
    int n = 0;
    if (p->m == ARB_METHOD_DECIDE && p->n_offers) {
        bool *stored = arb_arena_alloc(&p->arena, p->n_offers * sizeof *stored);
        if (!stored) return;
        for (size_t i = 0; i < p->n_offers; i++)
            stored[i] = p->offers[i].contact < 0 || p->granted[p->offers[i].contact];
        /* The ruleset that decided may be gone (a reload): the one serving
         * now, or its challenger, read by the offers' action. */
        const arb_ruleset_t *rs = arb_policy_ruleset_of(w->ruleset, p->offers[0].offer.action);
        n = arb_adaptive_decision_deltas(rs, p->offers, p->n_offers, stored, &p->arena, &d);
    } else if (p->m == ARB_METHOD_FEEDBACK && p->commit.learn) {
        if (!p->learned.learn_known) {
            arb_stat_inc(&w->stats.feedback_unknown);
            return;
        }
        n = arb_adaptive_feedback_deltas(arb_policy_ruleset_of(w->ruleset, p->fb_action), p->fb_action,
                                         p->fb_ts, &p->learned,
                                         &p->arena, &d);
    }
    /* Evidence is dated by the client's clock (a context's now, a
     * feedback's ts); one from the future would make every later delta
     * count for nothing against it (request/arm.h), on every node. */
    int64_t now = (int64_t)time(NULL);
    for (int i = 0; i < n; i++)
        if (d[i].ts > now) d[i].ts = now;
    if (n > 0) arb_learner_add(arb_learn_sync_learner(w->server->learn), d, (size_t)n);
}


const char *arb__state_fresh_pseudonym(arb_pending_t *p)
{
    if (!p->w->server->log) return NULL;
    if (p->fresh_pseudonym[0]) return p->fresh_pseudonym;
    arb_worker_t *w = p->w;
    enum { N = 16 };
    if (w->rand_left < N) {
        if (getrandom(w->rand_pool, sizeof w->rand_pool, 0) != (ssize_t)sizeof w->rand_pool)
            return NULL;
        w->rand_left = sizeof w->rand_pool;
    }
    unsigned char *r = w->rand_pool + sizeof w->rand_pool - w->rand_left;
    arb_hex(r, N, p->fresh_pseudonym);
    /* A pseudonym's bytes are used once: wiped as taken. */
    memset(r, 0, N);
    w->rand_left -= N;
    return p->fresh_pseudonym;
}

/* The log's context is msgpack-c's packing of it (its digest is of those
 * bytes, whatever encoding the client chose), made only for a decision
 * logged: the bytes as sent when they are already in that form (as
 * msgpack libraries send them), no tree, no packing. */
static void log_decision(arb_log_t *l, arb_pending_t *p, const char *who)
{
    if (p->ctx_bytes && arb_mpread_shortest(p->ctx_bytes, p->ctx_len)) {
        arb_log_decision(l, &p->dec, who, p->ctx_bytes, p->ctx_len);
        return;
    }
    const msgpack_object *ctx = arb__state_context(p);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (ctx && msgpack_pack_object(&pk, *ctx) == 0) arb_log_decision(l, &p->dec, who, sb.data, sb.size);
    else arb_log_decision(l, &p->dec, who, NULL, 0);
    msgpack_sbuffer_destroy(&sb);
}

void arb__state_log(arb_pending_t *p)
{
    arb_log_t *l = p->w->server->log;
    if (!l || p->degraded) return;
    /* The customer's pseudonym as the store has it: after the commit the
     * result's, else the fetched record's. Nobody named: nothing logged
     * (a store that failed open keeps nothing either). */
    const char *who = p->committed && p->pseudonym[0] ? p->pseudonym
                      : p->m == ARB_METHOD_DECIDE ? p->customer.pseudonym : NULL;
    if (!who || !*who) return;
    if (p->m == ARB_METHOD_DECIDE && !p->dec.preview)
        log_decision(l, p, who);
    else if (p->m == ARB_METHOD_FEEDBACK && p->committed && p->outcomes_counted)
        /* Only an outcome the store counted: a feedback delivered again
         * (a client's retry) is stored once (merge.c, one outcome per
         * decision_id, action and outcome), so the report counts it once. */
        arb_log_feedback(l, &p->fb, who);
    else if (p->m == ARB_METHOD_TRACK && p->commit.n_purchases)
        arb_log_purchases(l, &p->commit, who);
}
