/* Compiling an action's propensity (dsl/README.md, "Adaptive propensity"):
 * a fixed number, or `adaptive { ... }`, a propensity learned from
 * feedback, into the plain C value arb_adaptive_t that decide/adaptive.c
 * reads with the learned arms.
 *
 * It keeps the ruleset folder's rule: never abort, every mistake is a
 * problem at the declaration's file:line saying how to fix it, and every
 * read of a rule's table is raw (rawread.h), inside the compiler's one
 * protected call. The prelude only wraps the fields (V.adaptive): a rule
 * holds the wrapper before declaring and may change it, so each field is
 * checked here as if a stranger had written it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ruleset/rawread.h"
#include "engine/ruleset/ruleset_int.h"

/* Half-lives longer than this are mistakes (evidence that fades over a
 * century never fades: leave half_life out). */
#define MAX_HALF_LIFE (100.0 * 366 * 86400)

static const char *const adaptive_fields[] = {
    "positive", "trial", "prior", "strength", "prior_model", "segment", "half_life",
    "explore", "settle", NULL,
};

/* The outcomes `positive` may name, for a suggestion. */
static void suggest_outcome(compiler_t *cc, const char *s)
{
    static const char *const builtin[] = { "click", "convert", "dismiss", NULL };
    const arb_ruleset_t *rs = cc->rs;
    const char *near = NULL;
    for (const char *const *b = builtin; *b && !near; b++)
        if (spec_distance(s, *b) <= 2) near = *b;
    for (uint32_t i = 0; i < rs->n_outcomes && !near; i++)
        if (spec_distance(s, rs->outcomes[i]) <= 2) near = rs->outcomes[i];
    if (near)
        spec_problem(cc, "unknown outcome '%s' for 'positive' (did you mean '%s'?)", s, near);
    else
        spec_problem(cc, "unknown outcome '%s' for 'positive' (known: click, convert, dismiss and "
                     "those declared with outcomes { ... })", s);
}

/* One of two words for field name; dflt when absent. Returns 0 or 1 (the
 * index of the word), dflt on a problem. */
static int read_choice(compiler_t *cc, int spec, const char *name, const char *w0, const char *w1,
                       int dflt)
{
    lua_State *L = cc->L;
    int t = arb_raw_field(L, spec, name), out = dflt;
    if (t == LUA_TSTRING && strcmp(lua_tostring(L, -1), w0) == 0) out = 0;
    else if (t == LUA_TSTRING && strcmp(lua_tostring(L, -1), w1) == 0) out = 1;
    else if (t != LUA_TNIL)
        spec_problem(cc, "'%s' must be \"%s\" or \"%s\", not %s%s%s%s", name, w0, w1,
                     t == LUA_TSTRING ? "\"" : "", t == LUA_TSTRING ? lua_tostring(L, -1) : "",
                     t == LUA_TSTRING ? "\"" : "", t == LUA_TSTRING ? "" : spec_lua_type_article(L, -1));
    lua_pop(L, 1);
    return out;
}

/* Field name as a number; dflt when absent, a problem saying `want` when
 * it is not a number or not ok(v). */
static double read_number(compiler_t *cc, int spec, const char *name, double dflt,
                          bool (*ok)(double), const char *want)
{
    lua_State *L = cc->L;
    int t = arb_raw_field(L, spec, name);
    double v = dflt;
    if (t == LUA_TNUMBER && ok(lua_tonumber(L, -1))) v = lua_tonumber(L, -1);
    else if (t == LUA_TNUMBER) spec_problem(cc, "'%s' must be %s", name, want);
    else if (t != LUA_TNIL)
        spec_problem(cc, "'%s' must be %s, not %s", name, want, spec_lua_type_article(L, -1));
    lua_pop(L, 1);
    return v;
}

static bool rate_ok(double v) { return v > 0 && v < 1; }
static bool strength_ok(double v) { return v > 0 && v <= 1e9; }
static bool half_life_ok(double v) { return v > 0 && v <= MAX_HALF_LIFE; }
static bool settle_ok(double v) { return v >= 0 && v <= 1e12; }

/* The fields of the adaptive wrapper at idx into ad (in rs->adaptives,
 * counted: what it owns is freed with the ruleset whatever happens). */
static void read_adaptive(compiler_t *cc, int idx, arb_adaptive_t *ad)
{
    lua_State *L = cc->L;
    if (arb_raw_field(L, idx, "spec") != LUA_TTABLE || arb_raw_has_mt(L, -1)) {
        spec_problem(cc, "its fields are not a plain { ... } table%s", SPEC_CHANGED);
        lua_pop(L, 1);
        return;
    }
    int spec = lua_gettop(L);
    spec_check_fields(cc, spec, adaptive_fields);

    const char *pos = spec_field_string(cc, spec, "positive", false, true);
    if (!pos) pos = "click";
    if (strcmp(pos, "impression") == 0)
        spec_problem(cc, "'positive' cannot be \"impression\": it is the trial; name the outcome "
                     "that counts as a success, such as \"click\" or \"convert\"");
    else if (!arb_ruleset_outcome_known(cc->rs, pos, strlen(pos)))
        suggest_outcome(cc, pos);
    ad->positive = arb__compile_check(L, strdup(pos));

    ad->trials_on_impression = read_choice(cc, spec, "trial", "impression", "decision", 0) == 0;
    ad->always_sample = read_choice(cc, spec, "explore", "thin", "always", 0) == 1;
    ad->prior = read_number(cc, spec, "prior", 0.5, rate_ok,
                            "a rate above 0 and below 1, such as 0.05");
    ad->strength = read_number(cc, spec, "strength", 2, strength_ok,
                               "what the prior is worth in trials, above 0 (such as 20)");
    ad->half_life = read_number(cc, spec, "half_life", 0, half_life_ok,
                                "a positive duration such as days(30) (leave it out: evidence "
                                "never fades)");
    ad->settle = read_number(cc, spec, "settle", 1000, settle_ok,
                             "a count of trials from 0 to 1e12, such as 1000");

    const char *model = spec_field_string(cc, spec, "prior_model", false, true);
    if (model) {
        int32_t sym = arb__intern_z(cc, model);
        if (arb__model_declared(cc, sym)) ad->prior_model = sym;
        else spec_problem(cc, "unknown prior_model '%s': declare the scores upstream supplies in "
                          "models { ... }", model);
    }
    const char *seg = spec_field_string(cc, spec, "segment", false, true);
    if (seg && (seg[0] == '\0' || strlen(seg) > 64)) {
        spec_problem(cc, "'segment' must name a context attribute of 1 to 64 bytes, such as "
                     "\"loyalty_tier\"");
    } else if (seg) {
        ad->segment = arb__compile_check(L, strdup(seg));
        ad->segment_len = (uint32_t)strlen(seg);
    }
    lua_pop(L, 1);
}

void arb__compile_propensity(compiler_t *cc, int spec, arb_action_t *a, bool has_model)
{
    lua_State *L = cc->L;
    arb_ruleset_t *rs = cc->rs;
    a->adaptive = -1;
    int t = arb_raw_field(L, spec, "propensity");
    int idx = lua_gettop(L);
    if (t == LUA_TNIL || t == LUA_TNUMBER) {
        lua_pop(L, 1);
        a->propensity = spec_field_number(cc, spec, "propensity", 1, false, 0, 1);
        if (has_model && t != LUA_TNIL)
            spec_problem(cc, "give either 'model' (propensity from scores) or a fixed 'propensity', not both");
        return;
    }
    a->propensity = 1;
    if (!spec_has_mt(L, idx, cc->adapt_mt)) {
        bool uncalled = false;
        if (t == LUA_TFUNCTION) {
            lua_pushvalue(L, idx);
            uncalled = lua_rawget(L, cc->vocab) == LUA_TSTRING &&
                       strcmp(lua_tostring(L, -1), "adaptive") == 0;
            lua_pop(L, 1);
        }
        if (uncalled)
            spec_problem(cc, "'propensity': 'adaptive' must be called: write adaptive { ... }");
        else
            spec_problem(cc, "'propensity' must be a number from 0 to 1 or adaptive { ... }, not %s",
                         spec_lua_type_article(L, idx));
        lua_pop(L, 1);
        return;
    }
    if (has_model)
        spec_problem(cc, "an adaptive propensity does not take 'model': to start from the model's "
                     "score, give it as prior_model inside adaptive { ... }");
    /* Its evidence is stored under its id (state/arms.h: at most 256 bytes). */
    if (a->id && strlen(a->id) > 256)
        spec_problem(cc, "an adaptive action's id is at most 256 bytes (it names its learned "
                     "evidence in the store); shorten it");
    /* Counted before it is filled: whatever it owns is freed with rs even
     * when running out of memory unwinds from below. */
    GROW(rs, rs->adaptives, rs->n_adaptives, 1);
    arb_adaptive_t *ad = &rs->adaptives[rs->n_adaptives];
    memset(ad, 0, sizeof *ad);
    ad->prior_model = -1;
    a->adaptive = (int32_t)rs->n_adaptives++;
    const char *outer = cc->within;
    cc->within = "adaptive";
    read_adaptive(cc, idx, ad);
    cc->within = outer;
    lua_pop(L, 1);
}
