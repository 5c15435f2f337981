/* Compiling an action's `recommend = { ... }` (recommend.h, dsl/README.md
 * "Recommending actions") into rs->recommends, and, once the actions are
 * sorted, rs->action_recommend and the ARB_HOT_RECOMMEND flag the
 * candidate loop tests. Keeps the loader's rule: every mistake is a problem
 * at the action's file:line ("recommend: ..."), one does not hide the
 * others, and running out of memory raises COMPILE_OOM like the rest of
 * the compile; the checks that need the catalog (its relations) wait for
 * the end of the load, when the catalog, declared in any file, is loaded.
 */
#include "engine/ruleset/ruleset_int.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ruleset/catalog.h"
#include "engine/ruleset/compile_hist.h"
#include "engine/ruleset/rawread.h"
#include "engine/ruleset/recommend.h"

#define DAY 86400.0
#define MAX_SECONDS 1e12

static char *dup_n(lua_State *L, const char *s, size_t n)
{
    return arb__compile_check(L, strndup(s, n));
}

/* from = "complements" or { "complements", "similar" }. */
static void read_from(compiler_t *cc, int spec, arb_recommend_t *r)
{
    spec_list_t l = spec_list_open(cc, spec, "from", true);
    if (l.n > (int)ARB_RECO_MAX_FROM)
        spec_problem(cc, "'from' names %d relations: at most %u", l.n, ARB_RECO_MAX_FROM);
    for (int i = 0; i < l.n && i < (int)ARB_RECO_MAX_FROM; i++) {
        size_t len;
        const char *s = spec_list_item(cc, &l, i, &len);
        if (!s) continue;
        if (!len) {
            spec_problem(cc, "'from': a relation name must not be empty");
            continue;
        }
        if (len == strlen(ARB_RECO_POPULAR) && memcmp(s, ARB_RECO_POPULAR, len) == 0) {
            if (r->popular) spec_problem(cc, "'from' names \"popular\" twice");
            r->popular = true;
            continue;
        }
        r->from_len[r->n_from] = (uint32_t)len;
        r->from_id[r->n_from] = -1;
        r->from[r->n_from++] = dup_n(cc->L, s, len);
    }
    spec_list_close(cc, &l);
}

static void read_exclude(compiler_t *cc, int spec, arb_recommend_t *r)
{
    spec_list_t l = spec_list_open(cc, spec, "exclude", false);
    if (l.n < 0) {
        r->exclude = ARB_RECO_EX_OWNED | ARB_RECO_EX_SHOWN;
        spec_list_close(cc, &l);
        return;
    }
    for (int i = 0; i < l.n; i++) {
        size_t len;
        const char *s = spec_list_item(cc, &l, i, &len);
        if (!s) continue;
        if (strcmp(s, "owned") == 0) r->exclude |= ARB_RECO_EX_OWNED;
        else if (strcmp(s, "shown") == 0) r->exclude |= ARB_RECO_EX_SHOWN;
        else if (strcmp(s, "seed_category") == 0) r->exclude |= ARB_RECO_EX_SEED_CATEGORY;
        else spec_problem(cc, "'exclude': unknown '%s' (one of \"owned\", \"shown\", \"seed_category\")", s);
    }
    spec_list_close(cc, &l);
}

/* score = { affinity = 2, popularity = 1, price_band = 1, model = 0 }. */
static void read_score(compiler_t *cc, int spec, arb_recommend_t *r)
{
    lua_State *L = cc->L;
    r->w_affinity = 1;
    r->w_popularity = 1;
    int t = arb_raw_field(L, spec, "score");
    int at = lua_gettop(L);
    if (t == LUA_TTABLE && !arb_raw_has_mt(L, at)) {
        static const char *const fields[] = { "affinity", "popularity", "price_band", "model", NULL };
        spec_check_fields(cc, at, fields);
        r->w_affinity = spec_field_number(cc, at, "affinity", 0, false, 0, 1e6);
        r->w_popularity = spec_field_number(cc, at, "popularity", 0, false, 0, 1e6);
        r->w_price_band = spec_field_number(cc, at, "price_band", 0, false, 0, 1e6);
        r->w_model = spec_field_number(cc, at, "model", 0, false, 0, 1e6);
    } else if (t != LUA_TNIL) {
        spec_problem(cc, "'score' must be a table of weights, as in score = { affinity = 2, popularity = 1 }, not %s",
                     spec_lua_type_article(L, at));
    }
    lua_pop(L, 1);
    r->w_sum = r->w_affinity + r->w_popularity + r->w_price_band + r->w_model;
    if (!(r->w_sum > 0)) {
        spec_problem(cc, "'score': every weight is 0: give at least one of affinity, popularity, "
                     "price_band, model a weight above 0");
        r->w_sum = 1;
    }
}

/* One `where` field: a string, a number, a boolean or a comparison. */
static void read_where_item(compiler_t *cc, int v, arb_reco_where_t *w)
{
    lua_State *L = cc->L;
    int t = lua_type(L, v);
    if (t == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, v, &len);
        w->str = dup_n(L, s, len);
        w->cmp.op = ARB_CMP_EQ_STR;
        w->cmp.str = w->str;
        w->cmp.str_len = (uint32_t)len;
    } else if (t == LUA_TNUMBER) {
        w->cmp.op = ARB_CMP_EQ_NUM;
        w->cmp.a = lua_tonumber(L, v);
        if (!isfinite(w->cmp.a)) spec_problem(cc, "'where': field '%s' must be a finite number", w->name);
    } else if (t == LUA_TBOOLEAN) {
        w->cmp.op = ARB_CMP_EQ_NUM;
        w->cmp.a = lua_toboolean(L, v) ? 1 : 0;
    } else if (spec_has_mt(L, v, cc->cmp_mt)) {
        arb__compile_cmp(cc, v, &w->cmp);
    } else {
        spec_problem(cc, "'where': field '%s' must be a string, a number, a boolean or a comparison "
                     "such as below(100) or one_of { ... }, not %s", w->name, spec_lua_type_article(L, v));
    }
}

/* where = { price = below(100), category = one_of { "clutch", "lipstick" } }. */
static void read_where(compiler_t *cc, int spec, arb_recommend_t *r)
{
    lua_State *L = cc->L;
    int t = arb_raw_field(L, spec, "where");
    int at = lua_gettop(L);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (t != LUA_TTABLE || arb_raw_has_mt(L, at)) {
        spec_problem(cc, "'where' must be a table of product fields, as in where = { price = below(100) }, not %s",
                     spec_lua_type_article(L, at));
        lua_pop(L, 1);
        return;
    }
    uint32_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, at)) {   /* lua_next is raw: no metamethod runs */
        n++;
        lua_pop(L, 1);
    }
    r->where = arb__compile_check(L, calloc(n + 1, sizeof *r->where));
    lua_pushnil(L);
    while (lua_next(L, at)) {
        int v = lua_gettop(L), k = v - 1;
        if (lua_type(L, k) != LUA_TSTRING) {
            spec_problem(cc, "'where': a field name must be a string, not %s", spec_lua_type_article(L, k));
        } else {
            size_t len;
            const char *name = lua_tolstring(L, k, &len);
            spec_charge_item(cc, len);
            arb_reco_where_t *w = &r->where[r->n_where++];
            w->name = dup_n(L, name, len);
            w->name_len = (uint32_t)len;
            w->cmp.op = ARB_CMP_EXISTS;
            if (!len) spec_problem(cc, "'where': a field name must not be empty");
            read_where_item(cc, v, w);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* A duration field in seconds (days(30)); def when absent. */
static int64_t read_seconds(compiler_t *cc, int spec, const char *name, double def, double lo)
{
    return (int64_t)spec_field_number(cc, spec, name, def, false, lo, MAX_SECONDS);
}

/* from = "popular" alone starts from no purchase or view: a field that
 * only chooses seeds would silently do nothing, so it is a mistake. */
static void check_seedless(compiler_t *cc, int spec, const arb_recommend_t *r)
{
    static const char *const seed_fields[] = { "seeds", "within", NULL };
    for (int i = 0; seed_fields[i]; i++) {
        int t = arb_raw_field(cc->L, spec, seed_fields[i]);
        lua_pop(cc->L, 1);
        if (t != LUA_TNIL)
            spec_problem(cc, "'%s' does nothing with from = \"popular\" alone: the popular products "
                         "start from no purchase or view (remove '%s', or add a relation to 'from')",
                         seed_fields[i], seed_fields[i]);
    }
    if (r->exclude & ARB_RECO_EX_SEED_CATEGORY)
        spec_problem(cc, "'exclude': \"seed_category\" needs seeds, and from = \"popular\" alone has "
                     "none (add a relation to 'from', or drop \"seed_category\")");
}

void arb__compile_recommend(compiler_t *cc, int spec, arb_action_t *a)
{
    static const char *const fields[] = {
        "from", "seeds", "within", "count", "min", "where", "exclude", "shown_within",
        "diverse", "score", "half_life", "model", NULL,
    };
    lua_State *L = cc->L;
    arb_ruleset_t *rs = cc->rs;
    int t = arb_raw_field(L, spec, "recommend");
    int at = lua_gettop(L);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (t != LUA_TTABLE || arb_raw_has_mt(L, at)) {
        spec_problem(cc, "'recommend' must be a table, as in recommend = { from = \"complements\" }, not %s",
                     spec_lua_type_article(L, at));
        lua_pop(L, 1);
        return;
    }
    /* Counted before anything is allocated for it: unwinding frees it whole. */
    GROW(rs, rs->recommends, rs->n_recommends, 1);
    arb_recommend_t *r = &rs->recommends[rs->n_recommends++];
    memset(r, 0, sizeof *r);
    r->action = a->id;
    r->line = a->line;
    r->file = arb__compile_check(L, strdup(a->file));
    cc->within = "recommend";
    spec_check_fields(cc, at, fields);
    read_from(cc, at, r);
    const char *seeds = spec_field_string(cc, at, "seeds", false, false);
    r->seeds = ARB_RECO_SEED_PURCHASES;
    if (seeds && strcmp(seeds, "views") == 0) r->seeds = ARB_RECO_SEED_VIEWS;
    else if (seeds && strcmp(seeds, "both") == 0) r->seeds = ARB_RECO_SEED_PURCHASES | ARB_RECO_SEED_VIEWS;
    else if (seeds && strcmp(seeds, "purchases") != 0)
        spec_problem(cc, "'seeds' must be \"purchases\", \"views\" or \"both\", not \"%s\"", seeds);
    r->within = read_seconds(cc, at, "within", 90 * DAY, 0);
    r->count = (uint32_t)spec_field_number(cc, at, "count", 3, false, 1, ARB_RECO_MAX_COUNT);
    r->min = (uint32_t)spec_field_number(cc, at, "min", 1, false, 1, ARB_RECO_MAX_COUNT);
    if (r->min > r->count) {
        spec_problem(cc, "'min' (%u) is above 'count' (%u): the action could never be eligible",
                     r->min, r->count);
        r->min = r->count;
    }
    read_where(cc, at, r);
    read_exclude(cc, at, r);
    r->shown_within = read_seconds(cc, at, "shown_within", 7 * DAY, 0);
    const char *diverse = spec_field_string(cc, at, "diverse", false, false);
    if (diverse && strcmp(diverse, "category") == 0) r->diverse = ARB_RECO_DIVERSE_CATEGORY;
    else if (diverse && strcmp(diverse, "brand") == 0) r->diverse = ARB_RECO_DIVERSE_BRAND;
    else if (diverse)
        spec_problem(cc, "'diverse' must be \"category\" or \"brand\", not \"%s\"", diverse);
    read_score(cc, at, r);
    r->half_life = spec_field_number(cc, at, "half_life", 90 * DAY, false, 1, MAX_SECONDS);
    const char *model = spec_field_string(cc, at, "model", false, true);
    if (model) {
        r->model = arb__compile_check(L, strdup(model));
        r->model_len = (uint32_t)strlen(model);
    }
    if (r->w_model > 0 && !model)
        spec_problem(cc, "'score' weighs the model but no 'model' is named: add model = \"reco\" "
                     "(read as scores[\"reco:<sku>\"])");
    if (r->popular && !r->n_from) check_seedless(cc, at, r);
    cc->within = NULL;
    lua_pop(L, 1);
}

static int by_id(const void *key, const void *elem)
{
    return strcmp(key, ((const arb_action_t *)elem)->id);
}

int arb__ruleset_recommend_finish(arb_ruleset_t *rs)
{
    if (!rs->n_recommends) return 0;
    rs->action_recommend = malloc(sizeof *rs->action_recommend * (rs->n_actions + 1));
    if (!rs->action_recommend) return -1;
    for (uint32_t i = 0; i < rs->n_actions; i++) rs->action_recommend[i] = -1;
    for (uint32_t k = 0; k < rs->n_recommends; k++) {
        const arb_action_t *a = bsearch(rs->recommends[k].action, rs->actions, rs->n_actions,
                                        sizeof *rs->actions, by_id);
        if (!a) continue;
        uint32_t i = (uint32_t)(a - rs->actions);
        rs->action_recommend[i] = (int32_t)k;
        rs->hot[i].flags |= ARB_HOT_RECOMMEND;
        /* The priority is the product of the usual numbers and the best
         * chosen product's score, in [0, 1]: weight_max bounds it still. */
    }
    return 0;
}

int arb_recommend_check(const arb_ruleset_t *rs, const arb_catalog_t *cat, arb_problems_t *p)
{
    int found = 0;
    for (uint32_t k = 0; k < rs->n_recommends; k++) {
        const arb_recommend_t *r = &rs->recommends[k];
        if (r->popular && arb_symtab_find(&cat->relations, ARB_RECO_POPULAR, strlen(ARB_RECO_POPULAR)) >= 0) {
            arb_problems_add(p, "%s:%d: action '%s': recommend: 'from': \"popular\" is the catalog's most "
                             "popular products, but the catalog %s also has a relation named 'popular': "
                             "rename that relation in the catalog", r->file, r->line, r->action,
                             rs->catalog_file ? rs->catalog_file : cat->path ? cat->path : "");
            found++;
        }
        for (uint32_t j = 0; j < r->n_from; j++) {
            if (arb_symtab_find(&cat->relations, r->from[j], r->from_len[j]) >= 0) continue;
            char known[400] = "";
            for (uint32_t i = 0; i < cat->relations.n; i++) {
                if (*known) strncat(known, ", ", sizeof known - strlen(known) - 1);
                strncat(known, cat->relations.names[i], sizeof known - strlen(known) - 1);
            }
            arb_problems_add(p, "%s:%d: action '%s': recommend: 'from': no product of the catalog %s "
                             "has a relation '%s' (its relations: %s)", r->file, r->line, r->action,
                             rs->catalog_file ? rs->catalog_file : cat->path ? cat->path : "",
                             r->from[j], *known ? known : "none");
            found++;
        }
    }
    return found;
}

void arb__recommend_load_check(arb_ruleset_t *rs, arb_problems_t *p)
{
    if (!rs->n_recommends) return;
    if (rs->catalog) {
        /* The ids a decision reading this catalog uses (another catalog,
         * after a catalog-only reload, is read by name). */
        for (uint32_t k = 0; k < rs->n_recommends; k++) {
            arb_recommend_t *r = &rs->recommends[k];
            for (uint32_t j = 0; j < r->n_from; j++)
                r->from_id[j] = arb_symtab_find(&rs->catalog->relations, r->from[j], r->from_len[j]);
        }
        arb_recommend_check(rs, rs->catalog, p);
        return;
    }
    if (rs->catalog_file) return;   /* declared, but it failed to load: that is the problem */
    for (uint32_t k = 0; k < rs->n_recommends; k++)
        arb_problems_add(p, "%s:%d: action '%s': recommend needs the product catalog: declare the "
                         "catalog: catalog \"products.jsonl\"", rs->recommends[k].file,
                         rs->recommends[k].line, rs->recommends[k].action);
}

void arb_recommend_free(arb_ruleset_t *rs)
{
    for (uint32_t k = 0; k < rs->n_recommends; k++) {
        arb_recommend_t *r = &rs->recommends[k];
        free(r->file);
        for (uint32_t j = 0; j < r->n_from; j++) free(r->from[j]);
        free(r->model);
        for (uint32_t j = 0; j < r->n_where; j++) {
            free(r->where[j].name);
            free(r->where[j].str);
        }
        free(r->where);
    }
    free(rs->recommends);
    free(rs->action_recommend);
    rs->recommends = NULL;
    rs->action_recommend = NULL;
    rs->n_recommends = 0;
}
