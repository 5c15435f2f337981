/* Rulesets: loading a folder of rule files into a compiled, validated
 * ruleset, and describing it.
 *
 * A ruleset is loaded whole or not at all: arb_ruleset_load either returns a
 * ruleset or NULL with every problem found, each as "file:line: ...". A
 * loaded ruleset owns its own lua_State and is immutable once loaded. A
 * ruleset with plain Lua functions runs them in that state, so it serves one
 * thread at a time (each worker loads its own copy); one without (the
 * vocabulary alone) never touches its state after loading, and the workers
 * share a single copy (arb_ruleset_shareable, arb_ruleset_retain).
 */
#ifndef ARB_RULESET_H
#define ARB_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/base/problems.h"

typedef struct arb_ruleset arb_ruleset_t;

/* Load and compile the rule files (*.lua except *_test.lua) of dir. seq
 * numbers the load in the version string ("<seq>-<checksum prefix>").
 * Returns the ruleset (caller owns; free with arb_ruleset_free) or NULL with
 * problems filled. */
arb_ruleset_t *arb_ruleset_load(const char *dir, uint64_t seq, arb_problems_t *problems);

/* arb_ruleset_load, reusing like's catalog (a reference; like stays the
 * caller's) when the new ruleset declares the same file: one reload's
 * copies for several workers then read the products file once and share
 * one catalog. like NULL: arb_ruleset_load. */
arb_ruleset_t *arb_ruleset_load_like(const char *dir, uint64_t seq, const arb_ruleset_t *like,
                                     arb_problems_t *problems);

/* Drop one owner's hold on rs (NULL is ignored); the last frees it. */
void arb_ruleset_free(arb_ruleset_t *rs);

/* Whether several threads may decide with rs at once: it has no plain Lua
 * function, so deciding only reads it. */
bool arb_ruleset_shareable(const arb_ruleset_t *rs);

/* One more owner of a shareable rs, who frees it with arb_ruleset_free.
 * Returns rs. */
arb_ruleset_t *arb_ruleset_retain(arb_ruleset_t *rs);

/* "<seq>-<first 12 hex of checksum>", stable for the ruleset's life. */
const char *arb_ruleset_version(const arb_ruleset_t *rs);

/* Whether outcome (len bytes) is one feedback may report: impression,
 * click, convert, dismiss, or one the ruleset declares with outcomes {}.
 * (Also declared in decide/policy.h, beside the rest of contact policy.) */
bool arb_ruleset_outcome_known(const arb_ruleset_t *rs, const char *outcome, size_t len);

/* Number of actions (fallbacks included). */
size_t arb_ruleset_action_count(const arb_ruleset_t *rs);

/* Deciding many contexts in a row (the rule tests): every Lua call rs
 * makes between _begin and _end shares one budget of mem_bytes and wall_ns
 * (instructions stay per call), so that no call passes the run's deadline.
 * arb_ruleset_run_clock_ns reads the clock that wall time is counted in. */
void arb_ruleset_run_budget_begin(arb_ruleset_t *rs, size_t mem_bytes, uint64_t wall_ns);
void arb_ruleset_run_budget_end(arb_ruleset_t *rs);
uint64_t arb_ruleset_run_clock_ns(arb_ruleset_t *rs);

/* ---- a read-only view, for describing a ruleset (the `ruleset` method,
 * packed by wire/answer.c). Every pointer is borrowed from rs and valid
 * while the caller holds rs. */

typedef struct arb_ruleset_view {
    const char *version;        /* as arb_ruleset_version */
    const char *checksum;       /* FNV-1a 64 of the files, 16 hex digits */
    const char *dir;            /* the folder it was loaded from (need not be UTF-8) */
    int64_t loaded_at;          /* unix seconds */
    int default_limit;          /* actions returned at an undeclared touchpoint */
    uint32_t n_channels, n_models, n_touchpoints, n_actions;
} arb_ruleset_view_t;

void arb_ruleset_view(const arb_ruleset_t *rs, arb_ruleset_view_t *out);

/* The ruleset's catalog (declared with `catalog "file"`), for the
 * `ruleset` method: false when it declares none. */
typedef struct arb_catalog_view {
    const char *file;           /* as declared, relative to the ruleset folder */
    uint32_t products;
    const char *checksum;       /* FNV-1a 64 of the file, 16 hex digits */
    int64_t loaded_at;          /* unix seconds */
    size_t bytes;               /* memory the catalog holds */
} arb_catalog_view_t;

bool arb_ruleset_catalog(const arb_ruleset_t *rs, arb_catalog_view_t *out);

/* Read rs's declared catalog file again (a catalog-only reload: stock or
 * prices changed). Returns a new catalog with one reference (the caller's;
 * arb_catalog_release) or NULL with problems: every mistake of the file as
 * "file:line: ...", or "this ruleset declares no catalog". rs is unchanged. */
struct arb_catalog;
struct arb_catalog *arb_ruleset_catalog_reload(const arb_ruleset_t *rs, arb_problems_t *problems);

/* The name of channel i (< n_channels), in declaration order; channel i is
 * bit i of arb_action_view_t.channels. */
const char *arb_ruleset_channel(const arb_ruleset_t *rs, uint32_t i);

/* The name of model i (< n_models). */
const char *arb_ruleset_model(const arb_ruleset_t *rs, uint32_t i);

typedef struct arb_touchpoint_view {
    const char *id;
    int limit;                  /* its own limit, else the ruleset's default */
    bool diverse_by_category;   /* at most one action per category */
} arb_touchpoint_view_t;

/* Touchpoint i (< n_touchpoints). */
void arb_ruleset_touchpoint(const arb_ruleset_t *rs, uint32_t i, arb_touchpoint_view_t *out);

typedef struct arb_action_view {
    const char *id;
    uint64_t channels;          /* bit i: channel i */
    uint32_t n_touchpoints;     /* 0: every touchpoint (arb_ruleset_action_touchpoint) */
    uint32_t n_requires;
    const char *const *requires;/* consent names it needs */
    double value, lever;
    const char *model;          /* NULL without one */
    const char *category;       /* NULL without one */
    bool fallback;
    bool dynamic;               /* its `when` is a plain Lua function */
    const char *file;           /* the rule file that declared it (need not be UTF-8) */
    int line;
} arb_action_view_t;

/* Action i (< n_actions), fallbacks included, in declaration order. */
void arb_ruleset_action(const arb_ruleset_t *rs, uint32_t i, arb_action_view_t *out);

/* The name of touchpoint k (< n_touchpoints) action i is limited to. */
const char *arb_ruleset_action_touchpoint(const arb_ruleset_t *rs, uint32_t i, uint32_t k);

/* The global control group (dsl/README.md, "Control groups and
 * experiments"): false when the ruleset declares none. */
typedef struct arb_control_view {
    double share;               /* in [0, 1) */
    const char *salt;
    const char *gets;           /* "fallback" or "nothing" */
} arb_control_view_t;

bool arb_ruleset_control(const arb_ruleset_t *rs, arb_control_view_t *out);

/* The ruleset's experiment (at most one): false when it runs none. The
 * challenger is owned by rs and lives as long as it. */
typedef struct arb_experiment_view {
    const char *name;
    double share;               /* the challenger's share of customers, in [0, 1) */
    const char *salt;
    const char *challenger_dir; /* as declared, relative to the ruleset's folder */
    const arb_ruleset_t *challenger;
} arb_experiment_view_t;

bool arb_ruleset_experiment(const arb_ruleset_t *rs, arb_experiment_view_t *out);

#endif
