/* A ruleset's life: loading a folder of rule files into a compiled,
 * validated ruleset (or nothing, with every problem reported as
 * file:line), sharing it between owners, freeing it, and describing it
 * (version, checksum, the `ruleset` method's map).
 *
 * A load reads the folder's *.lua files (tests aside) in name order, makes
 * a sandboxed lua_State and runs the prelude in it, runs each rule file in
 * its own environment under one budget (load_state.c), then compiles what the
 * files declared (compile_decl.c, compile_cond.c, compile_index.c). All of
 * it that touches the Lua state runs protected, so that running out of
 * memory anywhere is a problem of that load, never an abort. An
 * experiment's challenger (a sub-folder) is loaded with its champion, owned
 * by it and freed with it (compile_control.c).
 */
#include "engine/ruleset/ruleset_int.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bindings/lua/context.h"
#include "bindings/lua/sandbox.h"
#include "engine/base/clock.h"
#include "engine/base/log.h"
#include "engine/ruleset/catalog.h"
#include "engine/ruleset/recommend.h"
#include "engine/ruleset/payload.h"

/* Returns -1 when memory ran out reading the files again: the version
 * would then name other bytes than the folder's. Other problems of the
 * listing (a test file too large...) are the test run's to report. */
static int ruleset_checksum(arb_ruleset_t *rs, const char *dir, uint64_t seq)
{
    uint64_t h = ARB_HASH_SEED;
    arb_problems_t ignore = { 0 };
    for (int tests = 0; tests < 2; tests++) {
        arb_rule_file_t *files = NULL;
        size_t n = 0;
        arb__rule_files_list(dir, tests, &files, &n, &ignore);
        for (size_t i = 0; i < n; i++) {
            h = arb_hash(files[i].name, strlen(files[i].name) + 1, h);
            if (files[i].text) h = arb_hash(files[i].text, files[i].len, h);
        }
        arb__rule_files_free(files, n);
    }
    bool oom = ignore.n < ignore.total;   /* a problem lost to memory */
    for (size_t i = 0; i < ignore.n; i++) oom |= strstr(ignore.items[i], "out of memory") != NULL;
    arb_problems_free(&ignore);
    if (oom) return -1;
    snprintf(rs->checksum, sizeof rs->checksum, "%016llx", (unsigned long long)h);
    snprintf(rs->version, sizeof rs->version, "%llu-%.12s", (unsigned long long)seq, rs->checksum);
    return 0;
}

/* Never reached: every call that can raise runs protected (rawread.h).
 * Should one ever slip through, Lua aborts after this returns: the log
 * then says why instead of nothing. */
static int ruleset_panic(lua_State *L)
{
    size_t len = 0;
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    char clean[512], q[1100];
    if (msg) arb_text_clean(msg, len, clean, sizeof clean);
    else snprintf(clean, sizeof clean, "an error object that is not a string");
    arb_log_error("lua panic: an error escaped every protected call", "error=%s",
                  arb_log_quote(clean, q, sizeof q));
    return 0;
}

/* The part of a load that touches the Lua state, run in one protected call
 * (load_protected): the Lua API raises when it runs out of memory, and an
 * error outside every protected call would end in Lua's panic, killing the
 * process. The C memory it makes is kept here, freed by the caller. */
typedef struct load_job {
    arb_ruleset_t *rs;
    const char *dir;
    const char *base;           /* a challenger's: its champion's folder, NULL otherwise */
    arb_problems_t *problems;
    size_t before;              /* problems->total when the load began */
    arb_rule_file_t *files;
    size_t n;
} load_job_t;

static int load_protected(lua_State *L)
{
    load_job_t *job = lua_touserdata(L, 1);
    lua_settop(L, 0);
    arb_lua_context_init(L);
    if (arb__prelude_run(L, job->problems) == 0 &&
        (job->base ? arb__rule_files_overlay(job->base, job->dir, &job->files, &job->n, job->problems)
                   : arb__rule_files_list(job->dir, false, &job->files, &job->n, job->problems)) == 0) {
        if (job->n == 0 && job->problems->total == job->before)
            arb_problems_add(job->problems, "%s: no rule files (*.lua) in the folder", job->dir);
        for (size_t i = 0; i < job->n; i++)
            if (job->files[i].text) {
                arb__rule_file_lexcheck(L, &job->files[i], job->problems);
                arb__rule_file_run(L, &job->files[i], "rules_env", job->problems);
            }
        /* Compile what the other files declared even when one failed, so one
         * load reports every mistake; a reference to something the failed
         * file declared is then reported as unknown too. */
        if (job->n) arb__ruleset_compile(job->rs, job->problems);
        if (job->n) arb__recommend_load_check(job->rs, job->problems);
    }
    return 0;
}

static arb_ruleset_t *ruleset_load(const char *dir, const char *base, struct arb_catalog *catalog,
                                   uint64_t seq, arb_problems_t *problems);

/* An experiment's challenger: the sub-folder it names, holding the files
 * that differ from the champion's (the champion's others complete it),
 * loaded like any ruleset but refusing an experiment of its own; its
 * checksum joins the champion's, so that the version changes when only the
 * challenger did. Returns -1 with problems. */
static int challenger_load(arb_ruleset_t *rs, uint64_t seq, arb_problems_t *problems)
{
    arb_experiment_t *e = rs->experiment;
    char *path = NULL;
    if (asprintf(&path, "%s/%s", rs->dir, e->challenger) < 0) {
        arb_problems_add(problems, "%s: out of memory loading the challenger", rs->dir);
        return -1;
    }
    /* A challenger declaring the champion's catalog file shares its catalog. */
    e->ruleset = ruleset_load(path, rs->dir, rs->catalog, seq, problems);
    free(path);
    if (!e->ruleset) return -1;
    uint64_t h = strtoull(rs->checksum, NULL, 16);
    h = arb_hash(e->ruleset->checksum, strlen(e->ruleset->checksum), h);
    snprintf(rs->checksum, sizeof rs->checksum, "%016llx", (unsigned long long)h);
    snprintf(rs->version, sizeof rs->version, "%llu-%.12s", (unsigned long long)seq, rs->checksum);
    /* A worker deciding with the champion decides with its challenger too. */
    rs->shareable = rs->shareable && e->ruleset->shareable;
    return 0;
}

arb_ruleset_t *arb_ruleset_load(const char *dir, uint64_t seq, arb_problems_t *problems)
{
    return ruleset_load(dir, NULL, NULL, seq, problems);
}

arb_ruleset_t *arb_ruleset_load_like(const char *dir, uint64_t seq, const arb_ruleset_t *like,
                                     arb_problems_t *problems)
{
    return ruleset_load(dir, NULL, like ? like->catalog : NULL, seq, problems);
}

static arb_ruleset_t *ruleset_load(const char *dir, const char *base, struct arb_catalog *catalog,
                                   uint64_t seq, arb_problems_t *problems)
{
    bool challenger = base != NULL;
    size_t before = problems->total;
    arb_ruleset_t *rs = calloc(1, sizeof *rs);
    if (!rs) {
        arb_problems_add(problems, "%s: out of memory loading the ruleset", dir);
        return NULL;
    }
    atomic_init(&rs->owners, 1);
    rs->is_challenger = challenger;
    rs->sandbox = calloc(1, sizeof *rs->sandbox);
    rs->dir = strdup(dir);
    arb_symtab_init(&rs->syms);
    rs->loaded_at = arb_clock_wall_s();
    rs->catalog = arb_catalog_retain(catalog);  /* kept only if declared again (compile_catalog.c) */
    if (!rs->sandbox || !rs->dir || !(rs->L = arb_sandbox_new(rs->sandbox))) {
        arb_problems_add(problems, "%s: out of memory creating the rule state", dir);
        arb_ruleset_free(rs);
        return NULL;
    }
    lua_atpanic(rs->L, ruleset_panic);
    load_job_t job = { .rs = rs, .dir = dir, .base = base, .problems = problems, .before = before };
    /* One budget for the prelude, every rule file and the compile. */
    arb__load_budget(rs->L, true);
    lua_pushcfunction(rs->L, load_protected);
    lua_pushlightuserdata(rs->L, &job);
    int rc = lua_pcall(rs->L, 1, 0, 0);
    if (rc == LUA_ERRMEM)
        arb_problems_add(problems, "%s: out of memory loading the ruleset", dir);
    else if (rc != LUA_OK)
        arb_problems_add(problems, "%s: loading stopped: %s", dir,
                         lua_type(rs->L, -1) == LUA_TSTRING ? lua_tostring(rs->L, -1) : "error");
    lua_settop(rs->L, 0);
    arb__load_budget(rs->L, false);
    arb__rule_files_free(job.files, job.n);
    /* After the catalog is loaded: the templates' product fields are checked against it
     * (even when the load already failed, so that one load reports every mistake). */
    arb__payload_finish(rs, problems);
    if (problems->total != before) {
        arb_ruleset_free(rs);
        return NULL;
    }
    if (ruleset_checksum(rs, dir, seq) < 0) {
        arb_problems_add(problems, "%s: out of memory loading the ruleset", dir);
        arb_ruleset_free(rs);
        return NULL;
    }
    if (rs->experiment && challenger_load(rs, seq, problems) < 0) {
        arb_ruleset_free(rs);
        return NULL;
    }
    lua_gc(rs->L, LUA_GCCOLLECT);
    rs->sandbox->cap = rs->sandbox->used + ARB_RULESET_HEADROOM;
    return rs;
}

bool arb_ruleset_shareable(const arb_ruleset_t *rs) { return rs->shareable; }

arb_ruleset_t *arb_ruleset_retain(arb_ruleset_t *rs)
{
    atomic_fetch_add_explicit(&rs->owners, 1, memory_order_relaxed);
    return rs;
}

void arb_ruleset_free(arb_ruleset_t *rs)
{
    /* acq_rel: every owner's reads happen before the last one frees. */
    if (!rs || atomic_fetch_sub_explicit(&rs->owners, 1, memory_order_acq_rel) != 1) return;
    if (rs->L) lua_close(rs->L);
    free(rs->sandbox);
    for (uint32_t i = 0; i < rs->n_actions; i++) {
        arb_action_t *a = &rs->actions[i];
        free(a->id);
        free(a->file);
        free(a->touchpoints);
        free(a->requires);
        for (uint32_t k = 0; k < a->n_requires; k++) {
            free(a->requires_names[k]);
            free(a->requires_reasons[k]);
        }
        free(a->requires_names);
        free(a->requires_reasons);
        free(a->no_score_reason);
        free(a->category_name);
        free(a->answer_head);
        free(a->answer_tail);
    }
    free(rs->actions);
    arb__payload_free(rs);
    for (uint32_t i = 0; i < rs->n_policies; i++) {
        for (uint32_t k = 0; k < rs->policies[i].n_suppress; k++) free(rs->policies[i].suppress[k].outcome);
        free(rs->policies[i].suppress);
    }
    free(rs->policies);
    for (uint32_t i = 0; i < rs->n_adaptives; i++) {
        free(rs->adaptives[i].positive);
        free(rs->adaptives[i].segment);
    }
    free(rs->adaptives);
    for (uint32_t i = 0; i < rs->n_groups; i++) {
        free(rs->groups[i].id);
        free(rs->groups[i].file);
        free(rs->groups[i].members);
    }
    free(rs->groups);
    arb__ruleset_controls_free(rs);
    arb_recommend_free(rs);
    for (uint32_t i = 0; i < rs->n_outcomes; i++) free(rs->outcomes[i]);
    free(rs->outcomes);
    free(rs->hot);
    for (int ch = 0; ch < rs->n_channels; ch++) {
        free(rs->channels[ch]);
        free(rs->by_channel[ch].always);
        free(rs->by_channel[ch].guarded);
        free(rs->by_channel[ch].first);
        free(rs->by_channel[ch].count);
        free(rs->by_channel[ch].always_runs);
        free(rs->by_channel[ch].always_rest);
        free(rs->by_channel[ch].guarded_rest);
        free(rs->by_channel[ch].guarded_runs);
        free(rs->by_channel[ch].run_first);
    }
    for (uint32_t i = 0; i < rs->n_touchpoints; i++) {
        free(rs->touchpoints[i].id);
        free(rs->touchpoints[i].file);
    }
    free(rs->touchpoints);
    for (uint32_t i = 0; i < rs->n_strs; i++) free(rs->strs[i]);
    free(rs->strs);
    free(rs->str_lens);
    free(rs->models);
    free(rs->stores);
    free(rs->nodes);
    free(rs->kids);
    free(rs->wexprs);
    free(rs->dir);
    arb_catalog_release(rs->catalog);
    free(rs->catalog_file);
    arb_symtab_free(&rs->syms);
    free(rs);
}

const char *arb_ruleset_version(const arb_ruleset_t *rs) { return rs->version; }

size_t arb_ruleset_action_count(const arb_ruleset_t *rs) { return rs->n_actions; }

void arb_ruleset_run_budget_begin(arb_ruleset_t *rs, size_t mem_bytes, uint64_t wall_ns)
{
    arb_sandbox_total_begin(rs->L, INT64_MAX / 4, mem_bytes, wall_ns);
}

void arb_ruleset_run_budget_end(arb_ruleset_t *rs) { arb_sandbox_total_end(rs->L); }

uint64_t arb_ruleset_run_clock_ns(arb_ruleset_t *rs) { return arb_sandbox_clock_ns(rs->L); }

/* ------------------------------------------------------------ the read-only view */

void arb_ruleset_view(const arb_ruleset_t *rs, arb_ruleset_view_t *out)
{
    *out = (arb_ruleset_view_t){
        .version = rs->version, .checksum = rs->checksum, .dir = rs->dir,
        .loaded_at = rs->loaded_at, .default_limit = rs->default_limit,
        .n_channels = (uint32_t)rs->n_channels, .n_models = rs->n_models,
        .n_touchpoints = rs->n_touchpoints, .n_actions = rs->n_actions,
    };
}

const char *arb_ruleset_channel(const arb_ruleset_t *rs, uint32_t i) { return rs->channels[i]; }

const char *arb_ruleset_model(const arb_ruleset_t *rs, uint32_t i)
{
    return rs->syms.names[rs->models[i]];
}

void arb_ruleset_touchpoint(const arb_ruleset_t *rs, uint32_t i, arb_touchpoint_view_t *out)
{
    const arb_touchpoint_t *tp = &rs->touchpoints[i];
    *out = (arb_touchpoint_view_t){
        .id = tp->id, .limit = tp->limit ? tp->limit : rs->default_limit,
        .diverse_by_category = tp->diverse == 0,
    };
}

void arb_ruleset_action(const arb_ruleset_t *rs, uint32_t i, arb_action_view_t *out)
{
    const arb_action_t *a = &rs->actions[i];
    *out = (arb_action_view_t){
        .id = a->id, .channels = a->channels, .n_touchpoints = a->n_touchpoints,
        .n_requires = a->n_requires, .requires = (const char *const *)a->requires_names,
        .value = a->value, .lever = a->lever,
        .model = a->model >= 0 ? rs->syms.names[a->model] : NULL,
        .category = a->category_name, .fallback = a->fallback, .dynamic = a->when >= 0,
        .file = a->file, .line = a->line,
    };
}

const char *arb_ruleset_action_touchpoint(const arb_ruleset_t *rs, uint32_t i, uint32_t k)
{
    return rs->syms.names[rs->actions[i].touchpoints[k]];
}

/* ------------------------------------------------------------ control groups and experiments */

bool arb_ruleset_control(const arb_ruleset_t *rs, arb_control_view_t *out)
{
    *out = (arb_control_view_t){ .share = rs->control.share, .salt = rs->control.salt,
                                 .gets = rs->control_fallback ? "fallback" : "nothing" };
    return rs->control_declared;
}

bool arb_ruleset_experiment(const arb_ruleset_t *rs, arb_experiment_view_t *out)
{
    const arb_experiment_t *e = rs->experiment;
    if (!e) return false;
    *out = (arb_experiment_view_t){ .name = e->name, .share = e->share, .salt = e->salt,
                                    .challenger_dir = e->challenger,
                                    .challenger = e->ruleset };
    return true;
}
