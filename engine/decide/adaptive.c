/* Adaptive propensities on the decide side (adaptive.h, adaptive_int.h;
 * dsl/README.md, "Adaptive propensity"): the propensity of an adaptive
 * action from the learned arms, and the offers and evidence decisions and
 * feedback hand to the store and the learner.
 *
 * It keeps decide/'s rule: values in, values out; no I/O, no lock. The
 * arms are an immutable snapshot read as they are; the sampler is the
 * decider's own state. Nothing here runs for an action without the
 * ARB_HOT_ADAPTIVE flag.
 *
 * The posterior: alpha = prior x strength + positives, beta = (1 - prior)
 * x strength + max(0, trials - positives), the counts decayed to the
 * decision's now with the action's half-life. explore "thin" draws from
 * Beta(alpha, beta) while the decayed trials are below settle, then uses
 * the mean alpha / (alpha + beta); "always" draws every time.
 */
#include "engine/decide/adaptive.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/base/pack.h"
#include "engine/decide/adaptive_int.h"
#include "engine/decide/policy.h"
#include "engine/learn/learner.h"

/* A segment value longer than this is cut (a segment is a tier, a
 * region, a cohort: a longer value is an id, not a segment). */
#define SEGMENT_MAX 64

/* A model score used as the prior rate is kept inside (0, 1): at 0 or 1
 * the Beta distribution has no density and no evidence could move it. */
#define PRIOR_EDGE 1e-6

static const arb_adaptive_t *adaptive_of(const arb_ruleset_t *rs, const arb_action_t *a)
{
    return a && a->adaptive >= 0 && (uint32_t)a->adaptive < rs->n_adaptives
               ? &rs->adaptives[a->adaptive]
               : NULL;
}

/* The segment value of ad in ctx into buf (NUL-terminated): its length,
 * or -1 when ad has no segment or the context no usable value. */
static int segment_value(const arb_adaptive_t *ad, const arb_context_t *ctx, char buf[SEGMENT_MAX + 1])
{
    if (!ad->segment || !ctx->attributes) return -1;
    const msgpack_object *o = arb_msgpack_map_getn(ctx->attributes, ad->segment, ad->segment_len);
    if (!o) return -1;
    size_t n;
    switch (o->type) {
    case MSGPACK_OBJECT_STR:
        n = o->via.str.size;
        if (n > SEGMENT_MAX) {
            n = SEGMENT_MAX;
            /* Cut at a character: the segment is sent back as text. */
            while (n > 0 && ((unsigned char)o->via.str.ptr[n] & 0xC0) == 0x80) n--;
        }
        memcpy(buf, o->via.str.ptr, n);
        buf[n] = '\0';
        return (int)n;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return snprintf(buf, SEGMENT_MAX + 1, "%" PRIu64, o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return snprintf(buf, SEGMENT_MAX + 1, "%" PRId64, o->via.i64);
    case MSGPACK_OBJECT_BOOLEAN:
        return snprintf(buf, SEGMENT_MAX + 1, "%s", o->via.boolean ? "true" : "false");
    default:
        return -1;
    }
}

const char *arb__adaptive_segment(const arb_eval_t *ev, const arb_action_t *a, arb_arena_t *arena)
{
    const arb_adaptive_t *ad = adaptive_of(ev->rs, a);
    char buf[SEGMENT_MAX + 1];
    int n = ad ? segment_value(ad, ev->ctx, buf) : -1;
    if (n < 0) return ARB_ARM_POOLED;
    char *s = arb_arena_alloc(arena, (size_t)n + 1);
    if (s) memcpy(s, buf, (size_t)n + 1);
    return s;
}

double arb__adaptive_propensity(arb_eval_t *ev, const arb_action_t *a)
{
    const arb_adaptive_t *ad = adaptive_of(ev->rs, a);
    arb_adaptive_run_t *run = ev->adaptive;
    if (!ad || !run) return a->propensity;
    run->learned = NULL;
    double prior = ad->prior, score;
    if (ad->prior_model >= 0 && arb_eval_score(ev, ad->prior_model, &score) && !isnan(score))
        prior = fmin(fmax(score, PRIOR_EDGE), 1 - PRIOR_EDGE);
    char seg[SEGMENT_MAX + 1];
    int seg_len = segment_value(ad, ev->ctx, seg);
    const arb_arm_t *arm = NULL;
    if (run->arms && seg_len >= 0)
        arm = arb_arms_snap_find(run->arms, a->id, run->channel, seg, (size_t)seg_len);
    bool segment_used = arm != NULL;
    if (run->arms && !arm) arm = arb_arms_snap_find(run->arms, a->id, run->channel, ARB_ARM_POOLED, 0);
    double pos = 0, trials = 0;
    if (arm) arb_arm_decayed(arm, ev->ctx->now, ad->half_life, &pos, &trials);
    /* Positives may arrive without their trial (readers clamp, arm.h). */
    pos = pos > 0 ? pos : 0;
    trials = trials > 0 ? trials : 0;
    double neg = trials > pos ? trials - pos : 0;
    double alpha = prior * ad->strength + pos, beta = (1 - prior) * ad->strength + neg;
    double mean = alpha / (alpha + beta), sample = NAN, p = mean;
    if (ad->always_sample || trials < ad->settle) {
        sample = arb_rng_beta(&run->rng, alpha, beta);
        p = sample;
    }
    if (!(p >= 0)) p = 0;
    if (p > 1) p = 1;
    if (run->explain) {
        arb_learned_t *l = arb_arena_alloc(run->arena, sizeof *l);
        char *s = segment_used ? arb_arena_alloc(run->arena, (size_t)seg_len + 1) : NULL;
        if (l && (s || !segment_used)) {
            if (s) memcpy(s, seg, (size_t)seg_len + 1);
            *l = (arb_learned_t){ s ? s : ARB_ARM_POOLED, pos, trials, prior, mean, sample };
            run->learned = l;
        }
    }
    return p;
}

/* ------------------------------------------------------------ offers and evidence */

int arb_adaptive_offers(const arb_ruleset_t *rs, const arb_decision_t *dec,
                        const arb_contact_req_t *reqs, size_t n_reqs, arb_arena_t *arena,
                        arb_offer_req_t **out)
{
    *out = NULL;
    if (dec->preview || dec->n_actions == 0) return 0;
    arb_offer_req_t *offers = NULL;
    int n = 0;
    for (uint32_t i = 0; i < dec->n_actions; i++) {
        const arb_decided_action_t *da = &dec->actions[i];
        const arb_action_t *a = arb_policy_action(rs, da->id);
        if (!adaptive_of(rs, a)) continue;
        if (!offers && !(offers = arb_arena_alloc(arena, sizeof *offers * dec->n_actions))) return -1;
        int32_t contact = -1;
        for (size_t j = 0; j < n_reqs && contact < 0; j++)
            if (reqs[j].contact.action && strcmp(reqs[j].contact.action, da->id) == 0) contact = (int32_t)j;
        /* The decision's strings, not the ruleset's: a reload may free the
         * ruleset before the server is done with the offer. */
        offers[n].offer = (arb_offer_t){ dec->now, dec->decision_id, da->id, dec->channel,
                                         da->segment ? da->segment : ARB_ARM_POOLED, 0 };
        offers[n].contact = contact;
        n++;
    }
    *out = offers;
    return n;
}

/* Append the delta of (action, channel, segment) and, for a segment, of
 * the pooled arm to out[*n]. */
static void add_deltas(arb_arm_delta_t *out, int *n, const arb_adaptive_t *ad, const char *action,
                       const char *channel, const char *segment, double positives, double trials,
                       int64_t ts)
{
    arb_arm_delta_t d = { action, channel, segment ? segment : ARB_ARM_POOLED, positives, trials, ts,
                          ad->half_life };
    out[(*n)++] = d;
    if (*d.segment) {
        d.segment = ARB_ARM_POOLED;
        out[(*n)++] = d;
    }
}

int arb_adaptive_decision_deltas(const arb_ruleset_t *rs, const arb_offer_req_t *offers,
                                 size_t n_offers, const bool *stored, arb_arena_t *arena,
                                 arb_arm_delta_t **out)
{
    *out = NULL;
    if (n_offers == 0) return 0;
    arb_arm_delta_t *d = arb_arena_alloc(arena, sizeof *d * 2 * n_offers);
    if (!d) return -1;
    int n = 0;
    for (size_t i = 0; i < n_offers; i++) {
        const arb_offer_t *o = &offers[i].offer;
        const arb_action_t *a = arb_policy_action(rs, o->action);
        const arb_adaptive_t *ad = adaptive_of(rs, a);
        if (!stored[i] || !ad || ad->trials_on_impression) continue;
        add_deltas(d, &n, ad, a->id, o->channel, o->segment, 0, 1, o->ts);
    }
    *out = d;
    return n;
}

const arb_learn_rule_t *arb_adaptive_rule(const arb_ruleset_t *rs, const char *action,
                                          arb_arena_t *arena)
{
    const arb_adaptive_t *ad = action ? adaptive_of(rs, arb_policy_action(rs, action)) : NULL;
    if (!ad) return NULL;
    arb_learn_rule_t *r = arb_arena_alloc(arena, sizeof *r);
    if (r) *r = (arb_learn_rule_t){ ad->positive, ad->trials_on_impression };
    return r;
}

int arb_adaptive_feedback_deltas(const arb_ruleset_t *rs, const char *action, int64_t ts,
                                 const arb_commit_result_t *res, arb_arena_t *arena,
                                 arb_arm_delta_t **out)
{
    *out = NULL;
    const arb_action_t *a = action ? arb_policy_action(rs, action) : NULL;
    const arb_adaptive_t *ad = adaptive_of(rs, a);
    if (!ad || !res->learn_known || !res->learn_channel ||
        (res->learn_positives <= 0 && res->learn_trials <= 0))
        return 0;
    arb_arm_delta_t *d = arb_arena_alloc(arena, sizeof *d * 2);
    if (!d) return -1;
    int n = 0;
    add_deltas(d, &n, ad, a->id, res->learn_channel, res->learn_segment, res->learn_positives,
               res->learn_trials, ts);
    *out = d;
    return n;
}

int arb_adaptive_actions(const arb_ruleset_t *rs, arb_arena_t *arena, const char *const **out)
{
    *out = NULL;
    /* The challenger's adaptive actions learn too: the same names twice
     * are harmless (a sync reads each action once). */
    const arb_ruleset_t *ch = rs->experiment ? rs->experiment->ruleset : NULL;
    uint32_t cap = rs->n_adaptives + (ch ? ch->n_adaptives : 0);
    if (cap == 0) return 0;
    const char **names = arb_arena_alloc(arena, sizeof *names * cap);
    if (!names) return -1;
    int n = 0;
    for (const arb_ruleset_t *r = rs; r; r = r == rs ? ch : NULL)
        for (uint32_t i = 0; i < r->n_actions; i++)
            if (r->actions[i].adaptive >= 0) names[n++] = r->actions[i].id;
    *out = names;
    return n;
}

int arb_adaptive_views(const arb_ruleset_t *rs, const struct arb_arms_snap *arms,
                       const char *action, int64_t now, arb_arena_t *arena,
                       arb_arm_view_t **out)
{
    *out = NULL;
    size_t total = arms ? arb_arms_snap_count(arms) : 0;
    if (total == 0) return 0;
    arb_arm_view_t *v = arb_arena_alloc(arena, sizeof *v * total);
    if (!v) return -1;
    int n = 0;
    for (size_t i = 0; i < total; i++) {
        const arb_arm_t *arm = arb_arms_snap_at(arms, i);
        if (action && strcmp(arm->action, action) != 0) continue;
        const arb_ruleset_t *of = arb_policy_ruleset_of(rs, arm->action);
        const arb_adaptive_t *ad = adaptive_of(of, arb_policy_action(of, arm->action));
        if (!ad) continue;
        double pos, trials;
        arb_arm_decayed(arm, now, ad->half_life, &pos, &trials);
        pos = pos > 0 ? pos : 0;
        trials = trials > 0 ? trials : 0;
        double neg = trials > pos ? trials - pos : 0;
        double alpha = ad->prior * ad->strength + pos, beta = (1 - ad->prior) * ad->strength + neg;
        v[n++] = (arb_arm_view_t){ arm->action, arm->channel, arm->segment, pos, neg, trials,
                                   alpha / (alpha + beta) };
    }
    *out = v;
    return n;
}
