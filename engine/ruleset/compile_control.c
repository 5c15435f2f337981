/* Compiling control groups and experiments (dsl/README.md, "Control groups
 * and experiments"): the global control { ... }, an action's or a group's
 * `control` field, and experiment "name" { ... }; then, once every action
 * is sorted, the salts left to their defaults and the per-action index the
 * decide path reads.
 *
 * Keeps the folder's rule: it only builds the compiled form (compiled.h);
 * which customer falls where is decide/'s to ask (request/bucket.h), and
 * loading the challenger folder is ruleset.c's. Running out of memory
 * raises COMPILE_OOM like every other part of the compile.
 */
#include "engine/ruleset/ruleset_int.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ruleset/rawread.h"

#define DEFAULT_SALT "arbiter"

static char *dup_or_raise(lua_State *L, const char *s) { return arb__compile_check(L, strdup(s)); }

/* A share: a number in [0, 1). */
static double read_share(compiler_t *cc, int idx, const char *name, bool required)
{
    double s = spec_field_number(cc, idx, name, 0, required, 0, 1);
    if (s >= 1) {
        spec_problem(cc, "'%s' must be below 1 (a share of customers, as in %s = 0.05)", name, name);
        s = 0;
    }
    return s;
}

/* An optional salt: a non-empty UTF-8 string. */
static const char *read_salt(compiler_t *cc, int idx)
{
    const char *salt = spec_field_string(cc, idx, "salt", false, true);
    if (salt && !*salt) {
        spec_problem(cc, "'salt' must not be empty");
        return NULL;
    }
    return salt;
}

void arb__compile_global_control(compiler_t *cc, int spec)
{
    static const char *const fields[] = { "share", "salt", "gets", "description", NULL };
    arb_ruleset_t *rs = cc->rs;
    spec_check_fields(cc, spec, fields);
    if (rs->control_declared) {
        spec_problem(cc, "a second control { ... }: a ruleset has at most one global control group");
        return;
    }
    rs->control_declared = true;
    rs->control.share = read_share(cc, spec, "share", true);
    const char *salt = read_salt(cc, spec);
    if (salt) {
        rs->control.salt = dup_or_raise(cc->L, salt);
        rs->control.salt_len = strlen(salt);
    }
    const char *gets = spec_field_string(cc, spec, "gets", false, false);
    rs->control_fallback = true;
    if (gets && strcmp(gets, "nothing") == 0) rs->control_fallback = false;
    else if (gets && strcmp(gets, "fallback") != 0)
        spec_problem(cc, "'gets' must be \"fallback\" or \"nothing\", not \"%s\"", gets);
    spec_field_string(cc, spec, "description", false, false);
}

int32_t arb__compile_control_field(compiler_t *cc, int spec, const char *owner, bool of_group)
{
    lua_State *L = cc->L;
    arb_ruleset_t *rs = cc->rs;
    int t = arb_raw_field(L, spec, "control");
    int at = lua_gettop(L);
    double share = 0;
    const char *salt = NULL;
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return -1;
    } else if (t == LUA_TNUMBER) {
        lua_pop(L, 1);
        share = read_share(cc, spec, "control", false);
    } else if (t == LUA_TTABLE && !arb_raw_has_mt(L, at)) {
        static const char *const fields[] = { "share", "salt", NULL };
        cc->within = "control";
        spec_check_fields(cc, at, fields);
        share = read_share(cc, at, "share", true);
        salt = read_salt(cc, at);
        cc->within = NULL;
        lua_pop(L, 1);   /* the salt stays alive: the spec holds the table */
    } else {
        spec_problem(cc, "'control' must be a share (control = 0.1) or "
                     "{ share = 0.1, salt = \"...\" }, not %s", spec_lua_type_article(L, at));
        lua_pop(L, 1);
        return -1;
    }
    if (share <= 0) return -1;
    GROW(rs, rs->controls, rs->n_controls, 1);
    arb_control_t *c = &rs->controls[rs->n_controls++];
    memset(c, 0, sizeof *c);
    c->share = share;
    c->owner = owner;
    c->of_group = of_group;
    c->held_as = of_group ? owner : "action";
    if (salt) {
        c->salt = dup_or_raise(L, salt);
        c->salt_len = strlen(salt);
    }
    return (int32_t)(rs->n_controls - 1);
}

/* A challenger folder must be a sub-folder of the champion's. */
static bool subfolder_ok(const char *p)
{
    if (!*p || *p == '/') return false;
    for (const char *s = p; *s;) {
        size_t n = strcspn(s, "/");
        if ((n == 2 && s[0] == '.' && s[1] == '.') || (n == 1 && s[0] == '.')) return false;
        s += n;
        while (*s == '/') s++;
    }
    return true;
}

void arb__compile_experiment(compiler_t *cc, int spec)
{
    static const char *const fields[] = { "challenger", "share", "salt", "description", NULL };
    arb_ruleset_t *rs = cc->rs;
    lua_State *L = cc->L;
    spec_check_fields(cc, spec, fields);
    if (rs->is_challenger) {
        /* The champion's files the challenger shares (ruleset.c) declare
         * the experiment itself: not the challenger's. One of its own files
         * declaring another would run nothing. */
        const char *file = cc->d ? cc->d->file : NULL;
        size_t n = strlen(rs->dir);
        if (file && strncmp(file, rs->dir, n) == 0 && file[n] == '/')
            spec_problem(cc, "a challenger ruleset may not declare its own experiment");
        return;
    }
    if (rs->experiment) {
        spec_problem(cc, "a second experiment (first: '%s'): a ruleset runs at most one",
                     rs->experiment->name);
        return;
    }
    const char *dir = spec_field_string(cc, spec, "challenger", true, false);
    double share = read_share(cc, spec, "share", true);
    const char *salt = read_salt(cc, spec);
    spec_field_string(cc, spec, "description", false, false);
    if (dir && !subfolder_ok(dir)) {
        spec_problem(cc, "'challenger' must be a sub-folder of the ruleset's folder (as in "
                     "challenger = \"challenger\"), not \"%s\"", dir);
        dir = NULL;
    }
    if (!dir) return;
    rs->experiment = arb__compile_check(L, calloc(1, sizeof *rs->experiment));
    arb_experiment_t *e = rs->experiment;
    e->share = share;
    e->name = dup_or_raise(L, cc->d->id);
    e->challenger = dup_or_raise(L, dir);
    if (salt) {
        e->salt = dup_or_raise(L, salt);
        e->salt_len = strlen(salt);
    }
}

/* ---- after the compile */

static int by_id(const void *key, const void *elem)
{
    return strcmp(key, ((const arb_action_t *)elem)->id);
}

/* c's default salt ("<global>:<id>" or "<global>:group:<id>") and its
 * explain reason. Returns -1 when memory runs out. */
static int control_finish(const arb_ruleset_t *rs, arb_control_t *c)
{
    const char *global = rs->control.salt;
    if (!c->salt) {
        int n = c->of_group ? asprintf(&c->salt, "%s:group:%s", global, c->owner)
                            : asprintf(&c->salt, "%s:%s", global, c->owner);
        if (n < 0) return c->salt = NULL, -1;
        c->salt_len = (size_t)n;
    }
    int n = c->of_group ? asprintf(&c->reason, "control: group %s", c->owner)
                        : asprintf(&c->reason, "control: held out (%g%%)", c->share * 100);
    if (n < 0) return c->reason = NULL, -1;
    return 0;
}

int arb__ruleset_controls_finish(arb_ruleset_t *rs)
{
    arb_control_t *g = &rs->control;
    if (!g->salt) {
        if (!(g->salt = strdup(DEFAULT_SALT))) return -1;
        g->salt_len = strlen(DEFAULT_SALT);
    }
    g->held_as = "global";
    if (!g->reason && asprintf(&g->reason, "control: global hold-out (%g%%)", g->share * 100) < 0)
        return g->reason = NULL, -1;
    if (rs->experiment && !rs->experiment->salt) {
        arb_experiment_t *e = rs->experiment;
        int n = asprintf(&e->salt, "%s:experiment:%s", g->salt, e->name);
        if (n < 0) return e->salt = NULL, -1;
        e->salt_len = (size_t)n;
    }
    for (uint32_t k = 0; k < rs->n_controls; k++)
        if (control_finish(rs, &rs->controls[k]) < 0) return -1;
    if (!rs->n_controls) return 0;
    rs->action_control = malloc(sizeof *rs->action_control * (rs->n_actions + 1));
    if (!rs->action_control) return -1;
    for (uint32_t i = 0; i < rs->n_actions; i++) {
        /* An action's own control replaces its group's. */
        const arb_action_policy_t *p = arb_action_policy(rs, &rs->actions[i]);
        rs->action_control[i] = p && p->group >= 0 ? rs->groups[p->group].control : -1;
    }
    for (uint32_t k = 0; k < rs->n_controls; k++) {
        if (rs->controls[k].of_group) continue;
        const arb_action_t *a = bsearch(rs->controls[k].owner, rs->actions, rs->n_actions,
                                        sizeof *rs->actions, by_id);
        if (a) rs->action_control[a - rs->actions] = (int32_t)k;
    }
    for (uint32_t i = 0; i < rs->n_actions; i++) {
        if (rs->action_control[i] < 0) continue;
        rs->n_controlled++;
        rs->hot[i].flags |= ARB_HOT_CONTROL;
        /* Never passed over unread: a held action is one that was eligible,
         * whatever it would have been outranked by. */
        rs->actions[i].weight_max = NAN;
    }
    return 0;
}

void arb__ruleset_controls_free(arb_ruleset_t *rs)
{
    free(rs->control.salt);
    free(rs->control.reason);
    for (uint32_t k = 0; k < rs->n_controls; k++) {
        free(rs->controls[k].salt);
        free(rs->controls[k].reason);
    }
    free(rs->controls);
    free(rs->action_control);
    if (rs->experiment) {
        free(rs->experiment->name);
        free(rs->experiment->challenger);
        free(rs->experiment->salt);
        arb_ruleset_free(rs->experiment->ruleset);
        free(rs->experiment);
    }
}
