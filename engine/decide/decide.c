/* The decide pipeline (see decide.h).
 *
 * For one context: check it, index it (eval.c), walk the candidates of its
 * channel (precomputed per channel, highest priority bound first within
 * stretches that keep adaptive actions in place), drop in C what C can
 * decide (touchpoint, flight dates, consent, a missing score), evaluate the
 * conditions and weight of the survivors, then arbitrate: priority =
 * propensity x weight x value x lever, best first, ties by id, the
 * touchpoint's limit and diversity, and a fallback when nothing else is
 * eligible. With `explain`, every action of the ruleset gets its reason.
 */
#include "engine/decide/decide.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "engine/base/clock.h"
#include "engine/ruleset/compiled.h"
#include "engine/decide/adaptive_int.h"
#include "engine/decide/control.h"
#include "engine/decide/eval_weight.h"
#include "engine/decide/eval.h"
#include "engine/decide/explain.h"
#include "engine/decide/history.h"
#include "engine/decide/pass.h"
#include "engine/decide/payload.h"
#include "engine/decide/policy.h"
#include "engine/decide/count.h"
#include "engine/decide/rank.h"
#include "engine/decide/recommend.h"
#include "engine/request/context.h"

struct arb_decider {
    arb_eval_t ev;              /* the context index and evaluator */
    const arb_ruleset_t *serving; /* arb_decide's ruleset, a challenger's champion */
    arb_adaptive_run_t adaptive; /* learned arms and the sampler, for adaptive actions */
    arb_candidate_t *eligible;      /* eligible regular actions */
    arb_candidate_t *fallbacks;     /* eligible fallbacks */
    const char **reasons;       /* per action, for explain */
    uint8_t *chosen;            /* per action, for explain */
    arb_explained_t *explained; /* per action, for explain: what the decision shows */
    arb_decided_action_t *picked; /* the chosen actions of the last decision */
    uint32_t cap;               /* actions the arrays hold */
    uint64_t counter;           /* decisions made, for ids */
    uint64_t considered;        /* actions considered, over every decision */
    bool force_explain;         /* explain every decision (arbiter decide --explain, tests) */
    int64_t deadline_ms;        /* default deadline, 0 none */
    int64_t max_deadline_ms;    /* cap on a context's deadline_ms, 0 none */
    char prefix[17];            /* random per decider, for ids */
    char id[40];                /* the last decision's id */
    char *customer_id;          /* the last decision's customer_id, NUL-terminated */
    size_t customer_id_cap;
    arb_decision_t decision;    /* the last decision, a view into the above */
    const arb_ruleset_t *cat_rs;/* the ruleset cat replaces the catalog of (borrowed) */
    const struct arb_catalog *cat; /* a catalog-only reload (borrowed), NULL none */
    arb_reco_run_t reco;        /* recommending actions' products, this decision */
};

arb_decider_t *arb_decider_new(void)
{
    arb_decider_t *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    arb_eval_init(&d->ev);
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) r = (uint64_t)arb_clock_wall_ns() ^ (uintptr_t)d;
    snprintf(d->prefix, sizeof d->prefix, "%016llx", (unsigned long long)r);
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) r ^= (uint64_t)arb_clock_mono_ns();
    arb_rng_seed(&d->adaptive.rng, r);
    d->ev.adaptive = &d->adaptive;
    return d;
}

void arb_decider_set_arms(arb_decider_t *d, const struct arb_arms_snap *arms) { d->adaptive.arms = arms; }

void arb_decider_set_catalog(arb_decider_t *d, const arb_ruleset_t *rs, const struct arb_catalog *cat)
{
    d->cat_rs = cat ? rs : NULL;
    d->cat = cat;
}

void arb_decider_seed(arb_decider_t *d, uint64_t seed) { arb_rng_seed(&d->adaptive.rng, seed); }

void arb_decider_free(arb_decider_t *d)
{
    if (!d) return;
    arb_eval_free(&d->ev);
    free(d->eligible);
    free(d->fallbacks);
    free(d->reasons);
    free(d->chosen);
    free(d->explained);
    free(d->picked);
    free(d->customer_id);
    free(d);
}

void arb_decider_force_explain(arb_decider_t *d, bool on) { d->force_explain = on; }

uint64_t arb_decider_considered(const arb_decider_t *d) { return d->considered; }

void arb_decider_set_deadline(arb_decider_t *d, int64_t default_ms, int64_t max_ms)
{
    d->deadline_ms = default_ms;
    d->max_deadline_ms = max_ms;
}

static int decider_reserve(arb_decider_t *d, uint32_t n)
{
    if (n <= d->cap) return 0;
    arb_candidate_t *e = malloc(sizeof *e * n), *f = malloc(sizeof *f * n);
    const char **r = malloc(sizeof *r * n);
    uint8_t *c = malloc(n);
    arb_explained_t *x = malloc(sizeof *x * n);
    arb_decided_action_t *p = malloc(sizeof *p * n);
    if (!e || !f || !r || !c || !x || !p) {
        free(e); free(f); free(r); free(c); free(x); free(p);
        return -1;
    }
    free(d->eligible); free(d->fallbacks); free(d->reasons); free(d->chosen);
    free(d->explained); free(d->picked);
    d->explained = x;
    d->picked = p;
    d->eligible = e;
    d->fallbacks = f;
    d->reasons = r;
    d->chosen = c;
    d->cap = n;
    return 0;
}

/* ------------------------------------------------------------ filtering */

static int channel_of(const arb_ruleset_t *rs, arb_str_t ch)
{
    for (int i = 0; i < rs->n_channels; i++)
        if (arb_str_eq(ch, rs->channels[i])) return i;
    return -1;
}

static int unknown_channel(const arb_ruleset_t *rs, arb_str_t ch, arb_err_t *err)
{
    char known[400] = "";
    for (int i = 0; i < rs->n_channels; i++) {
        if (*known) strncat(known, ", ", sizeof known - strlen(known) - 1);
        strncat(known, rs->channels[i], sizeof known - strlen(known) - 1);
    }
    return arb_err_set(err, ARB_INVALID_PARAMS, "channel: unknown channel '%.*s' (this ruleset knows: %s)",
                       (int)(ch.len > 64 ? 64 : ch.len), ch.ptr, known);
}

static const arb_touchpoint_t *touchpoint_of(const arb_ruleset_t *rs, int32_t sym)
{
    if (sym < 0) return NULL;
    for (uint32_t i = 0; i < rs->n_touchpoints; i++)
        if (rs->touchpoints[i].sym == sym) return &rs->touchpoints[i];
    return NULL;
}

/* Why action a cannot be shown at all, before its rules run, for what
 * ARB_HOT_CHECKS flags; NULL when it may. */
static const char *prefilter_ctx(const arb_eval_t *ev, const arb_action_t *a, int32_t tp_sym)
{
    const arb_context_t *ctx = ev->ctx;
    if (a->n_touchpoints) {
        bool ok = false;
        for (uint32_t k = 0; k < a->n_touchpoints && !ok; k++) ok = a->touchpoints[k] == tp_sym;
        if (!ok) return "touchpoint";
    }
    if ((a->start && ctx->now < a->start) || (a->stop && ctx->now >= a->stop)) return "dates";
    for (uint32_t k = 0; k < a->n_requires; k++)
        if (!arb_eval_consent(ev, a->requires[k]))
            return a->requires_reasons[k] ? a->requires_reasons[k] : "consent";
    if (a->requires_location && !ctx->has_location) return "location: not sent";
    return NULL;
}

/* Evaluate action i (hot fields h) fully. Returns 1 eligible (priority
 * and *weight set), 0 not (reason set), -1 faulted (reason is the fault). */
static inline __attribute__((always_inline)) int
evaluate(arb_eval_t *ev, uint32_t i, const arb_action_hot_t *h, arb_candidate_t *c,
         const char **reason, arb_arena_t *arena, double *weight_out)
{
    double propensity, weight = 1;
    if (h->model < 0) {
        propensity = ev->rs->actions[i].propensity;
    } else if (!arb_eval_score(ev, h->model, &propensity)) {
        const char *why = ev->rs->actions[i].no_score_reason;
        *reason = why ? why : "no score";
        return 0;
    }
    int r = h->when >= 0 ? arb_cond_eval(ev, h->when) : 1;
    if (r > 0 && h->weight >= 0 && arb_weight_eval_priority(ev, h->weight, &weight) < 0) r = -1;
    if (r < 0) {
        size_t n = strlen(ev->fault_msg) + 1;
        char *why = arb_arena_alloc(arena, n);
        if (why) memcpy(why, ev->fault_msg, n);
        *reason = why ? why : "error";
        return -1;
    }
    if (r == 0) {
        *reason = "when";
        return 0;
    }
    if (h->flags & ARB_HOT_ADAPTIVE) propensity = arb__adaptive_propensity(ev, &ev->rs->actions[i]);
    c->propensity = propensity;
    c->priority = propensity * h->value * weight * h->lever;
    *weight_out = weight;
    if (!isfinite(c->priority)) {
        /* 0 x infinity, or a product past DBL_MAX: no order can place it
         * among others, and no client could read it back, so it is not shown. */
        *reason = isnan(c->priority) ? "priority: not a number" : "priority: infinite";
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------ deciding */

/* What a decision works with, besides the decider. */
typedef struct request {
    const arb_ruleset_t *rs;
    arb_context_t ctx;
    int channel;
    int32_t tp_sym;
    int limit;
    bool diverse;
    arb_arena_t *arena;
    arb_stats_t *st;
    const arb_customer_t *customer; /* NULL: nothing stored, no policy to check */
    const char *channel_full;   /* the channel's cap is reached: why nothing is shown */
    /* The hot flags that send an action through prefilter(): ARB_HOT_CHECKS
     * alone without a customer (as cheap as before policy existed), the
     * policy's too with one, and every action (ARB_HOT_ANY) when the
     * channel is full or a stored suppression may name any action. */
    uint32_t check_mask;
    /* Without explain or diversity a decision shows the best `limit`
     * regular actions: the eligible array then holds only those, sorted,
     * and once it is full an action whose priority's bound is below its
     * last cannot be shown, and its rules need not run. */
    bool prune;
    arb_held_t *held;           /* what control groups held back (control.c) */
    uint32_t n_held, held_cap;
} request_t;

/* prefilter(), then contact policy against the stored customer: both in C,
 * before any rule runs, so a capped action costs a count. */
static const char *prefilter(const arb_decider_t *d, const request_t *q, uint32_t i, uint32_t flags)
{
    const arb_action_t *a = &q->rs->actions[i];
    const char *why = flags & ARB_HOT_CHECKS ? prefilter_ctx(&d->ev, a, q->tp_sym) : NULL;
    if (why || !q->customer) return why;
    if (q->channel_full) return arb_stat_inc(&q->st->policy_refusals), q->channel_full;
    if ((flags & ARB_HOT_POLICY) || q->customer->n_suppressions)
        why = arb_policy_check(q->rs, a, q->customer, q->ctx.now, q->ctx.explain, q->arena);
    if (why) arb_stat_inc(&q->st->policy_refusals);
    return why;
}

/* The priority a regular action must reach to be shown, as far as this
 * decision knows (n_elig eligible so far): -INFINITY until `limit` are. */
static double prune_floor(const arb_decider_t *d, const request_t *q, uint32_t n_elig)
{
    return q->prune && n_elig == (uint32_t)q->limit ? d->eligible[n_elig - 1].priority : -INFINITY;
}

/* How often, in candidates, the C-only path looks at the clock; rule
 * calls into Lua look at it after each call. */
#define DEADLINE_EVERY 64

/* Sort action i into eligible, fallbacks or a reason. Returns 0, or -1
 * when a rule call ran past the deadline. */
static inline __attribute__((always_inline)) int
consider_one(arb_decider_t *d, request_t *q, uint32_t i, uint32_t *n_elig, uint32_t *n_fb)
{
    const arb_action_hot_t *h = &q->rs->hot[i];
    const char *why = NULL;
    d->considered++;
    if (q->ctx.explain && !(q->rs->actions[i].channels & (1ull << q->channel))) why = "channel";
    else if (h->flags & q->check_mask)
        why = q->customer ? prefilter(d, q, i, h->flags)
                          : prefilter_ctx(&d->ev, &q->rs->actions[i], q->tp_sym);
    arb_candidate_t c = { i, 0, 0 };
    double weight = NAN;
    int r = why ? 0 : evaluate(&d->ev, i, h, &c, &why, q->arena, &weight);
    if (r < 0 && d->ev.fault == ARB_FAULT_DEADLINE) return -1;
    if (r > 0 && (h->flags & ARB_HOT_RECOMMEND)) r = arb__reco_apply(&d->reco, i, &c.priority, &why);
    const arb_control_t *held = r > 0 && (h->flags & ARB_HOT_CONTROL)
                                    ? arb__control_of(q->rs, i, q->ctx.customer_id) : NULL;
    if (held) {   /* eligible, so held back: what the control group measures against */
        if (q->n_held < q->held_cap) q->held[q->n_held++] = (arb_held_t){ q->rs->actions[i].id, held->held_as };
        why = held->reason;
    }
    if (r < 0) {
        arb_stat_inc(&q->st->rule_errors);
        if (d->ev.fault == ARB_FAULT_BUDGET) arb_stat_inc(&q->st->budget_stops);
    }
    if (q->ctx.explain) {
        d->reasons[i] = why;
        arb_considered_t x = { r, why, c.priority, c.propensity, weight,
                               r > 0 && (h->flags & ARB_HOT_ADAPTIVE) ? d->adaptive.learned : NULL };
        arb__explain_one(&d->explained[i], &d->ev, &q->rs->actions[i], &x, q->arena);
        if (h->flags & ARB_HOT_RECOMMEND) arb__reco_explain(&d->reco, i, &d->explained[i]);
    }
    if (r > 0 && !held) {
        if (h->flags & ARB_HOT_FALLBACK) {
            d->fallbacks[(*n_fb)++] = c;
        } else if (q->prune) {
            arb__top_insert(d->eligible, n_elig, (uint32_t)q->limit, c);
        } else {
            d->eligible[(*n_elig)++] = c;
        }
    }
    return 0;
}

/* True every DEADLINE_EVERY candidates once the deadline has passed. */
static bool late(const arb_decider_t *d, uint32_t seen)
{
    return d->ev.deadline_ns && seen % DEADLINE_EVERY == DEADLINE_EVERY - 1 &&
           arb_clock_mono_ns() > d->ev.deadline_ns;
}

/* late() for a run of n candidates passed over at once. */
static bool late_after(const arb_decider_t *d, uint32_t *seen, uint32_t n)
{
    uint32_t from = *seen;
    return *seen += n, d->ev.deadline_ns && from / DEADLINE_EVERY != *seen / DEADLINE_EVERY &&
           arb_clock_mono_ns() > d->ev.deadline_ns;
}

/* Sort every candidate of this request into eligible, fallbacks or a
 * reason: with explain every action of the ruleset in id order, else the
 * channel's unguarded actions plus, for each thing the context bought,
 * the actions guarded by it whose window reaches that purchase, in the
 * order of arb_channel_index_t. Returns 0, or -1 when the deadline passed
 * first. */
static int consider(arb_decider_t *d, request_t *q, uint32_t *n_elig, uint32_t *n_fb)
{
    const arb_ruleset_t *rs = q->rs;
    uint32_t seen = 0;
    if (q->ctx.explain) {
        for (uint32_t i = 0; i < rs->n_actions; i++)
            if (consider_one(d, q, i, n_elig, n_fb) < 0 || late(d, seen++)) return -1;
        return 0;
    }
    /* A 10,000-action catalog passes most candidates over on their bound:
     * the floor is read again only when an action was sorted in, the rest
     * of a stretch (highest bound first) or a run below it is passed over
     * at once, and they are counted at the end. */
    const arb_channel_index_t *x = &rs->by_channel[q->channel];
    const arb_eval_t *ev = &d->ev;
    double floor = prune_floor(d, q, *n_elig);
    uint64_t passed = 0, scored = 0, scored_known = 0;
    for (uint32_t j = 0; j < x->n_always; j++) {
        const arb_cand_rest_t *t = &x->always_rest[j];
        if (t->ub < floor && all_scored(rs, ev, t->models, &scored, &scored_known)) {
            passed += t->end - j;   /* the rest of its stretch, bound highest first */
            if (late_after(d, &seen, t->end - j)) goto stop;
            j = t->end - 1;
            continue;
        }
        if (j % ARB_CAND_RUN == 0 && run_below(rs, ev, floor, &x->always_runs[j / ARB_CAND_RUN],
                                               &scored, &scored_known)) {
            uint32_t n = x->n_always - j < ARB_CAND_RUN ? x->n_always - j : ARB_CAND_RUN;
            passed += n;
            if (late_after(d, &seen, n)) goto stop;
            j += n - 1;
            continue;
        }
        const arb_cand_t *e = &x->always[j];
        if (cannot_be_shown(ev, floor, e)) passed++;
        else if (consider_one(d, q, e->action, n_elig, n_fb) < 0) goto stop;
        else floor = prune_floor(d, q, *n_elig);
        if (late(d, seen++)) goto stop;
    }
    for (uint32_t s = 0; s < ev->n_bought_syms; s++) {
        int32_t sym = ev->bought_syms[s];
        int64_t age = q->ctx.now - ev->bought_latest[sym];
        const arb_cand_run_t *run = &x->guarded_runs[x->run_first[sym]];
        for (uint32_t k = x->first[sym], end = k + x->count[sym]; k < end; k++) {
            const arb_cand_t *e = &x->guarded[k];
            if (e->window >= 0 && e->window < age) break;   /* narrower ones too */
            const arb_cand_rest_t *t = &x->guarded_rest[k];   /* its stretch: one window */
            if (t->ub < floor && all_scored(rs, ev, t->models, &scored, &scored_known)) {
                passed += t->end - k;
                if (late_after(d, &seen, t->end - k)) goto stop;
                k = t->end - 1;
                continue;
            }
            uint32_t at = k - x->first[sym];
            /* A run: passed over whole when even its narrowest window reaches. */
            if (at % ARB_CAND_RUN == 0) {
                const arb_cand_run_t *r = &run[at / ARB_CAND_RUN];
                uint32_t n = end - k < ARB_CAND_RUN ? end - k : ARB_CAND_RUN;
                if ((r->window < 0 || r->window >= age) &&
                    run_below(rs, ev, floor, r, &scored, &scored_known)) {
                    passed += n;
                    if (late_after(d, &seen, n)) goto stop;
                    k += n - 1;
                    continue;
                }
            }
            if (cannot_be_shown(ev, floor, e)) passed++;
            else if (consider_one(d, q, e->action, n_elig, n_fb) < 0) goto stop;
            else floor = prune_floor(d, q, *n_elig);
            if (late(d, seen++)) goto stop;
        }
    }
    d->considered += passed;
    return 0;
stop:
    return d->considered += passed, -1;
}

static int request_prepare(request_t *q, const arb_ruleset_t *rs, const arb_context_t *ctx,
                           const arb_customer_t *customer, bool force_explain, arb_arena_t *arena,
                           arb_err_t *err)
{
    q->rs = rs;
    q->arena = arena;
    q->ctx = *ctx;   /* a copy: the history merge and explain change it */
    q->ctx.explain |= force_explain;
    q->channel = channel_of(rs, q->ctx.channel);
    if (q->channel < 0) return unknown_channel(rs, q->ctx.channel, err);
    q->check_mask = ARB_HOT_CHECKS;
    if (customer) {
        q->customer = customer;
        q->check_mask |= ARB_HOT_POLICY;
        if (customer->n_suppressions) q->check_mask |= ARB_HOT_ANY;
        if (arb_history_merge(&q->ctx, customer, arena) < 0)
            return arb_err_set(err, ARB_INTERNAL, "out of memory");
        q->channel_full = arb_policy_channel_check(rs, q->channel, customer, q->ctx.now,
                                                   q->ctx.explain, arena);
        if (q->channel_full) q->check_mask |= ARB_HOT_ANY;
    }
    q->tp_sym = arb_symtab_find(&rs->syms, q->ctx.touchpoint.ptr, q->ctx.touchpoint.len);
    const arb_touchpoint_t *tp = touchpoint_of(rs, q->tp_sym);
    if (!tp) arb_stat_inc(&q->st->undeclared_touchpoints);
    q->limit = (int)(q->ctx.limit ? q->ctx.limit : tp && tp->limit ? tp->limit : rs->default_limit);
    q->diverse = tp && tp->diverse == 0;
    q->prune = !q->ctx.explain && !q->diverse && q->limit >= 1;
    return 0;
}

/* The global control group (control.c): with the customer in it, the
 * chosen regular actions (pick[0..k)) are held back instead of shown, and
 * the fallbacks stay eligible only when its customers get them. Returns
 * how many of the chosen stay shown (0). */
static uint32_t hold_globally(arb_decider_t *d, request_t *q, const uint32_t *pick, uint32_t k,
                              uint32_t *n_fb)
{
    const arb_ruleset_t *rs = q->rs;
    const char **reasons = q->ctx.explain ? d->reasons : NULL;
    for (uint32_t i = 0; i < k; i++) {
        uint32_t a = d->eligible[pick[i]].action;
        if (q->n_held < q->held_cap) q->held[q->n_held++] = (arb_held_t){ rs->actions[a].id, rs->control.held_as };
        if (reasons) reasons[a] = rs->control.reason, d->chosen[a] = 0;
    }
    if (!rs->control_fallback) {
        for (uint32_t i = 0; reasons && i < *n_fb; i++) reasons[d->fallbacks[i].action] = rs->control.reason;
        *n_fb = 0;
    }
    return 0;
}

static const arb_decision_t *decide_in(arb_decider_t *d, const arb_ruleset_t *rs,
                                       const arb_context_t *ctx, uint64_t t0,
                                       const arb_customer_t *customer, arb_arena_t *arena,
                                       arb_stats_t *st, arb_err_t *err)
{
    request_t q = { .st = st };
    if (request_prepare(&q, rs, ctx, customer, d->force_explain, arena, err) < 0) return NULL;
    q.held = arb__held_alloc(rs, q.limit, arena, &q.held_cap);
    char *touchpoint = arb_arena_alloc(arena, q.ctx.touchpoint.len + 1);
    d->ev.catalog = d->cat && d->cat_rs == rs ? d->cat : rs->catalog;   /* begin joins to it */
    if ((q.held_cap && !q.held) || !touchpoint || decider_reserve(d, rs->n_actions + 1) < 0 ||
        arb_eval_begin(&d->ev, rs, &q.ctx, arena) < 0)
        return arb_err_set(err, ARB_INTERNAL, "out of memory"), NULL;
    arb__reco_begin(&d->reco, rs, d->ev.catalog, &q.ctx, q.ctx.explain, arena);
    d->reco.p_prod = d->ev.p_prod, d->reco.e_prod = d->ev.e_prod;   /* found once, read by both */
    if (q.ctx.explain) {
        memset(d->chosen, 0, rs->n_actions);
        memset(d->reasons, 0, sizeof *d->reasons * rs->n_actions);
    }
    int64_t ms = q.ctx.deadline_ms ? q.ctx.deadline_ms : d->deadline_ms;
    if (d->max_deadline_ms && ms > d->max_deadline_ms) ms = d->max_deadline_ms;
    d->ev.deadline_ns = ms > 0 ? t0 + (uint64_t)ms * 1000000u : 0;
    d->adaptive.channel = rs->channels[q.channel];
    d->adaptive.arena = arena;
    d->adaptive.explain = q.ctx.explain;
    uint32_t n_elig = 0, n_fb = 0;
    int late = consider(d, &q, &n_elig, &n_fb);
    arb_eval_end(&d->ev);
    if (late < 0)
        return arb_err_set(err, ARB_DEADLINE_EXCEEDED,
                           "the decision ran past its deadline of %lld ms; no answer was chosen",
                           (long long)ms), NULL;

    const char **reasons = q.ctx.explain ? d->reasons : NULL;
    uint8_t *chosen = q.ctx.explain ? d->chosen : NULL;
    n_elig = arb__rank(d->eligible, n_elig, q.limit, q.diverse, reasons);
    uint32_t *pick = arb_arena_alloc(arena, sizeof *pick * ((size_t)q.limit + 1));
    if (!pick) return arb_err_set(err, ARB_INTERNAL, "out of memory"), NULL;
    arb_candidate_t *from = d->eligible;
    uint32_t k = arb__choose(rs, d->eligible, n_elig, q.limit, q.diverse, pick, reasons, chosen);
    bool control = arb__control_global(rs, q.ctx.customer_id);
    if (control) k = hold_globally(d, &q, pick, k, &n_fb);
    if (k == 0 && n_fb) {
        n_fb = arb__rank(d->fallbacks, n_fb, q.limit, q.diverse, reasons);
        from = d->fallbacks;
        k = arb__choose(rs, d->fallbacks, n_fb, q.limit, q.diverse, pick, reasons, chosen);
        arb_stat_inc(&st->fallbacks);
    } else if (reasons) {
        for (uint32_t i = 0; i < n_fb; i++) reasons[d->fallbacks[i].action] = "fallback: not needed";
    }

    arb_decision_t *dec = &d->decision;
    dec->decision_id_len = arb__decision_id(d->prefix, ++d->counter, d->id);
    d->id[dec->decision_id_len] = '\0';
    dec->decision_id = d->id;
    dec->ruleset = rs->version;
    dec->customer_id = arb__keep_str(&d->customer_id, &d->customer_id_cap, q.ctx.customer_id);
    if (!dec->customer_id) return arb_err_set(err, ARB_INTERNAL, "out of memory"), NULL;
    dec->channel = rs->channels[q.channel];
    dec->now = q.ctx.now;
    dec->preview = q.ctx.preview;
    memcpy(touchpoint, q.ctx.touchpoint.ptr, q.ctx.touchpoint.len);
    touchpoint[q.ctx.touchpoint.len] = '\0';
    dec->touchpoint = touchpoint;
    dec->group = control ? "control" : "treatment";
    dec->held = q.held;
    dec->n_held = q.n_held;
    dec->decided_by = rs;
    dec->catalog = d->ev.catalog;
    for (uint32_t i = 0; i < k; i++) {
        const arb_action_t *a = &rs->actions[from[pick[i]].action];
        arb__take_action(&d->picked[i], a, from[pick[i]].priority, from[pick[i]].propensity);
        arb__reco_products(&d->reco, from[pick[i]].action, &d->picked[i].products, &d->picked[i].n_products);
        d->picked[i].segment = a->adaptive >= 0 ? arb__adaptive_segment(&d->ev, a, arena) : NULL;
        if (a->adaptive >= 0 && !d->picked[i].segment)
            return arb_err_set(err, ARB_INTERNAL, "out of memory"), NULL;
        /* Last: after the products chosen for it are set. */
        if (rs->action_template && arb_payload_render(&d->picked[i], rs, from[pick[i]].action, &q.ctx,
                                                      customer, d->ev.catalog, arena) < 0)
            return arb_err_set(err, ARB_INTERNAL, "out of memory"), NULL;
    }
    dec->actions = d->picked;
    dec->n_actions = k;
    dec->explain = NULL;
    dec->n_explain = 0;
    if (q.ctx.explain) {
        arb__explain_finish(d->explained, rs, d->chosen, d->reasons, d->picked, k);
        dec->explain = d->explained;
        dec->n_explain = rs->n_actions;
    }
    arb__count_decision(st, d->serving, rs, q.channel, touchpoint_of(rs, q.tp_sym), from, pick, k);
    uint64_t ns = arb_clock_mono_ns() - t0;
    dec->elapsed_us = ns / 1000;
    arb_stat_inc(&st->decisions);
    arb_stats_record_decide(st, ns);
    return dec;
}

const arb_decision_t *arb_decide_context(arb_decider_t *d, const arb_ruleset_t *rs,
                                         const arb_context_t *ctx, uint64_t t0,
                                         const arb_customer_t *customer, arb_arena_t *arena,
                                         arb_stats_t *st, arb_err_t *err)
{
    const char *experiment, *arm;
    const arb_ruleset_t *by = arb__control_split(rs, ctx->customer_id, &experiment, &arm);
    d->serving = rs;   /* counts are kept under the serving ruleset (count.c) */
    const arb_decision_t *dec = decide_in(d, by, ctx, t0, customer, arena, st, err);
    if (dec) {
        d->decision.experiment = experiment;
        d->decision.arm = arm;
    }
    return dec;
}

const arb_decision_t *arb_decide(arb_decider_t *d, const arb_ruleset_t *rs, const msgpack_object *o,
                                 const arb_customer_t *customer, arb_arena_t *arena,
                                 arb_stats_t *st, arb_err_t *err)
{
    uint64_t t0 = arb_clock_mono_ns();
    arb_context_t ctx;
    if (arb_context_parse(o, arb_clock_wall_s(), &ctx, arena, err) < 0) return NULL;
    return arb_decide_context(d, rs, &ctx, t0, customer, arena, st, err);
}
