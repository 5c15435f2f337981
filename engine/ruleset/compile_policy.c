/* Compiling contact policy (dsl/README.md, "Contact policy"): an action's
 * cap, cooldown, group, counts and suppress fields, the `group` and
 * `channel` declarations and the `outcomes` list, into the plain C values
 * of compiled.h that decide/policy.c checks against a stored customer.
 *
 * It keeps the ruleset folder's rule: never abort, every mistake is a
 * problem at the declaration's file:line, and every read of a rule's table
 * is raw (rawread.h), inside the compiler's one protected call.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ruleset/rawread.h"
#include "engine/ruleset/ruleset_int.h"

/* Windows longer than this are mistakes (a cap per 100 years). */
#define MAX_WINDOW (10LL * 366 * 86400)

static const char *const builtin_outcomes[] = { "impression", "click", "convert", "dismiss", NULL };

static void note_window(arb_ruleset_t *rs, int64_t w)
{
    if (w > rs->policy_window) rs->policy_window = w;
}

/* The number at the top of the stack as a duration in whole seconds, or
 * 0 with a problem naming what. Pops it. */
static int64_t pop_duration(compiler_t *cc, const char *what)
{
    lua_State *L = cc->L;
    int64_t out = 0;
    if (lua_type(L, -1) != LUA_TNUMBER) {
        spec_problem(cc, "%s must be a duration such as days(7), not %s", what,
                     spec_lua_type_article(L, -1));
    } else {
        double v = lua_tonumber(L, -1);
        if (!isfinite(v) || v < 1 || v > (double)MAX_WINDOW)
            spec_problem(cc, "%s must be between 1 second and 10 years", what);
        else out = (int64_t)llround(v);
    }
    lua_pop(L, 1);
    return out;
}

/* Field `name` of spec as a cap { N, per = duration }; {0, 0} when absent. */
static arb_limit_t read_limit(compiler_t *cc, int spec, const char *name)
{
    lua_State *L = cc->L;
    arb_limit_t lim = { 0, 0 };
    int t = arb_raw_field(L, spec, name);
    int tab = lua_gettop(L);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return lim;
    }
    if (t != LUA_TTABLE || arb_raw_has_mt(L, tab)) {
        spec_problem(cc, "'%s' must be a table such as { 2, per = days(7) }, not %s", name,
                     spec_lua_type_article(L, tab));
        lua_pop(L, 1);
        return lim;
    }
    lua_pushnil(L);
    while (lua_next(L, tab)) {
        lua_pop(L, 1);
        bool ok = (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) == 1) ||
                  (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "per") == 0);
        if (!ok) {
            spec_problem(cc, "'%s' has only a count and per, as in { 2, per = days(7) }", name);
            lua_pop(L, 1);
            break;
        }
    }
    lua_rawgeti(L, tab, 1);
    double n = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
    if (!(n >= 0 && n <= 1000000 && n == floor(n)))
        spec_problem(cc, "'%s' must start with a whole number of contacts from 0 to 1000000, "
                     "as in { 2, per = days(7) }", name);
    else lim.max = (uint32_t)n;
    lua_pop(L, 1);
    if (arb_raw_field(L, tab, "per") == LUA_TNIL) {
        spec_problem(cc, "'%s' needs per = a duration, as in { 2, per = days(7) }", name);
        lua_pop(L, 1);
    } else {
        char what[64];
        snprintf(what, sizeof what, "'%s' per", name);
        lim.per = pop_duration(cc, what);
    }
    lua_pop(L, 1);
    note_window(cc->rs, lim.per);
    return lim;
}

/* Field `counts` as "decision" or "impression"; dflt when absent. */
static arb_counts_t read_counts(compiler_t *cc, int spec, arb_counts_t dflt)
{
    const char *s = spec_field_string(cc, spec, "counts", false, false);
    if (!s) return dflt;
    if (strcmp(s, "decision") == 0) return ARB_COUNTS_DECISION;
    if (strcmp(s, "impression") == 0) return ARB_COUNTS_IMPRESSION;
    spec_problem(cc, "'counts' must be \"decision\" or \"impression\", not \"%s\"", s);
    return dflt;
}

arb_counts_t arb__channel_default_counts(const char *channel)
{
    /* A message sent is a contact whether or not it is opened; a page or
     * screen counts when it is seen. */
    return strcmp(channel, "email") == 0 || strcmp(channel, "sms") == 0 ||
                   strcmp(channel, "call_center") == 0
               ? ARB_COUNTS_DECISION
               : ARB_COUNTS_IMPRESSION;
}

void arb__compile_channel_policy(compiler_t *cc, int spec, int ch)
{
    static const char *const fields[] = { "cap", "counts", "description", NULL };
    spec_check_fields(cc, spec, fields);
    arb_channel_policy_t *p = &cc->rs->channel_policy[ch];
    p->cap = read_limit(cc, spec, "cap");
    p->counts = read_counts(cc, spec, p->counts);
    spec_field_string(cc, spec, "description", false, false);
}

void arb__compile_group(compiler_t *cc, int spec)
{
    static const char *const fields[] = { "cap", "description", "control", NULL };
    spec_check_fields(cc, spec, fields);
    arb_ruleset_t *rs = cc->rs;
    for (uint32_t i = 0; i < rs->n_groups; i++)
        if (strcmp(rs->groups[i].id, cc->d->id) == 0) {
            spec_problem(cc, "duplicate group (first declared at %s:%d)", rs->groups[i].file,
                         rs->groups[i].line);
            return;
        }
    GROW(rs, rs->groups, rs->n_groups, 1);
    arb_group_t *g = &rs->groups[rs->n_groups++];
    memset(g, 0, sizeof *g);
    g->id = arb__compile_check(cc->L, strdup(cc->d->id));
    g->file = arb__compile_check(cc->L, strdup(cc->d->file));
    g->line = cc->d->line;
    g->control = -1;
    g->control = arb__compile_control_field(cc, spec, g->id, true);
    g->cap = read_limit(cc, spec, "cap");
    if (arb_raw_field(cc->L, spec, "cap") == LUA_TNIL)
        spec_problem(cc, "a group needs cap = { N, per = duration }");
    lua_pop(cc->L, 1);
    spec_field_string(cc, spec, "description", false, false);
}

bool arb_ruleset_outcome_known(const arb_ruleset_t *rs, const char *s, size_t len)
{
    for (const char *const *b = builtin_outcomes; *b; b++)
        if (strlen(*b) == len && memcmp(*b, s, len) == 0) return true;
    for (uint32_t i = 0; i < rs->n_outcomes; i++)
        if (strlen(rs->outcomes[i]) == len && memcmp(rs->outcomes[i], s, len) == 0) return true;
    return false;
}

void arb__add_outcome(compiler_t *cc, const char *s, size_t len)
{
    arb_ruleset_t *rs = cc->rs;
    if (len == 0 || len > 64) {
        spec_problem(cc, "an outcome name has 1 to 64 bytes");
        return;
    }
    if (arb_ruleset_outcome_known(rs, s, len)) return;
    GROW(rs, rs->outcomes, rs->n_outcomes, 1);
    rs->outcomes[rs->n_outcomes] = arb__compile_check(cc->L, strndup(s, len));
    rs->n_outcomes++;
}

/* One entry of `suppress`: key (outcome) at -2, value at -1. */
static void read_suppress_one(compiler_t *cc, arb_action_policy_t *a)
{
    lua_State *L = cc->L;
    if (lua_type(L, -2) != LUA_TSTRING) {
        spec_problem(cc, "'suppress' is keyed by outcome, as in suppress = { convert = \"forever\" }");
        return;
    }
    size_t klen;
    const char *k = lua_tolstring(L, -2, &klen);
    if (!arb_ruleset_outcome_known(cc->rs, k, klen)) {
        spec_problem(cc, "'suppress': unknown outcome '%s' (impression, click, convert, dismiss, "
                     "or one declared with outcomes { ... })", k);
        return;
    }
    arb_suppress_t s = { NULL, 1, 0, 0 };
    int v = lua_gettop(L);
    if (lua_type(L, v) == LUA_TSTRING && strcmp(lua_tostring(L, v), "forever") == 0) {
        s.pause = ARB_FOREVER;
    } else if (lua_type(L, v) == LUA_TTABLE && !arb_raw_has_mt(L, v)) {
        static const char *const fields[] = { "times", "within", "pause", NULL };
        spec_check_fields(cc, v, fields);
        s.times = (uint32_t)spec_field_number(cc, v, "times", 1, false, 1, 1000);
        if (arb_raw_field(L, v, "within") != LUA_TNIL) s.within = pop_duration(cc, "'suppress' within");
        else lua_pop(L, 1);
        int t = arb_raw_field(L, v, "pause");
        if (t == LUA_TSTRING && strcmp(lua_tostring(L, -1), "forever") == 0) {
            s.pause = ARB_FOREVER;
            lua_pop(L, 1);
        } else if (t == LUA_TNIL) {
            spec_problem(cc, "'suppress' %s needs pause = a duration or \"forever\"", k);
            lua_pop(L, 1);
        } else {
            s.pause = pop_duration(cc, "'suppress' pause");
        }
        if (s.times > 1 && !s.within)
            spec_problem(cc, "'suppress' %s: times = %u needs within = a duration", k, s.times);
        if (s.times == 1 && s.within)
            spec_problem(cc, "'suppress' %s: within counts only with times > 1", k);
    } else {
        spec_problem(cc, "'suppress' %s must be \"forever\" or a table such as "
                     "{ times = 2, within = days(30), pause = days(14) }", k);
        return;
    }
    if (s.pause == ARB_FOREVER) cc->rs->policy_forever = true;
    else note_window(cc->rs, s.pause);
    note_window(cc->rs, s.within);
    /* The slot first, then the name straight into it: running out of
     * memory in either leaves nothing unowned (test_loadfail). */
    GROW(cc->rs, a->suppress, a->n_suppress, 1);
    s.outcome = NULL;
    a->suppress[a->n_suppress++] = s;
    a->suppress[a->n_suppress - 1].outcome = arb__compile_check(L, strdup(k));
}

void arb__compile_action_policy(compiler_t *cc, int spec, arb_action_t *action)
{
    lua_State *L = cc->L;
    arb_ruleset_t *rs = cc->rs;
    /* Read into the ruleset's array, so that what an unwinding error
     * leaves is freed with it; taken back below when nothing is set. */
    GROW(rs, rs->policies, rs->n_policies, 1);
    uint32_t at = rs->n_policies++;
    arb_action_policy_t *a = &rs->policies[at];
    memset(a, 0, sizeof *a);
    a->group = -1;
    a->counts = read_counts(cc, spec, ARB_COUNTS_DEFAULT);
    a->cap = read_limit(cc, spec, "cap");
    if (arb_raw_field(L, spec, "cooldown") != LUA_TNIL) a->cooldown = pop_duration(cc, "'cooldown'");
    else lua_pop(L, 1);
    note_window(cc->rs, a->cooldown);
    const char *group = spec_field_string(cc, spec, "group", false, false);
    if (group) {
        for (uint32_t i = 0; i < cc->rs->n_groups && a->group < 0; i++)
            if (strcmp(cc->rs->groups[i].id, group) == 0) a->group = (int32_t)i;
        if (a->group < 0) {
            spec_problem(cc, "unknown group '%s': declare it with group \"%s\" { cap = { 3, per = days(7) } }",
                         group, group);
        } else {
            /* The store checks a group cap against the group's members
             * (arb_cap_t.actions): kept here, once per ruleset. */
            arb_group_t *g = &cc->rs->groups[a->group];
            GROW(cc->rs, g->members, g->n_members, 1);
            g->members[g->n_members++] = action->id;
        }
    }
    int t = arb_raw_field(L, spec, "suppress");
    int tab = lua_gettop(L);
    if (t == LUA_TTABLE && !arb_raw_has_mt(L, tab)) {
        lua_pushnil(L);
        while (lua_next(L, tab)) {
            read_suppress_one(cc, a);
            lua_settop(L, tab + 1);   /* the key stays for lua_next */
        }
    } else if (t != LUA_TNIL) {
        spec_problem(cc, "'suppress' must be a table keyed by outcome, as in "
                     "suppress = { dismiss = { pause = days(3) } }");
    }
    lua_settop(L, tab - 1);
    if (!a->cap.per && !a->cooldown && a->group < 0 && a->counts == ARB_COUNTS_DEFAULT &&
        !a->n_suppress) {
        free(a->suppress);
        rs->n_policies--;
        action->policy = -1;
    } else {
        action->policy = (int32_t)at;
    }
}
