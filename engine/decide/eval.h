/* Evaluating compiled conditions and weights against one context.
 *
 * arb_eval_begin builds, once per request, an index of the context keyed by
 * the ruleset's symbols: the newest purchase per category and sku, the
 * symbols of each event, the scores by model. Nodes then answer with array
 * lookups, so a decision costs what its candidate actions cost, not what the
 * catalog or the context's history holds. The index arrays are reused across
 * requests (stamped, never cleared).
 */
#ifndef ARB_COND_H
#define ARB_COND_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/base/arena.h"
#include "engine/ruleset/compiled.h"
#include "engine/request/context.h"

/* A rule fault: why an action could not be evaluated. */
typedef enum arb_fault {
    ARB_FAULT_NONE,
    ARB_FAULT_ERROR,    /* the rule raised an error */
    ARB_FAULT_BUDGET,   /* the rule ran out of instructions or memory */
    ARB_FAULT_DEADLINE, /* the decision's deadline passed during the rule */
} arb_fault_t;

/* Budgets for one plain Lua rule call. */
#define ARB_RULE_INSTRUCTIONS 200000
#define ARB_RULE_MEMORY (8u * 1024 * 1024)

typedef struct arb_eval {
    const arb_ruleset_t *rs;    /* the ruleset deciding */
    const arb_context_t *ctx;   /* the request */
    const struct arb_catalog *catalog; /* the catalog this decision reads; NULL none */
    uint32_t stamp;             /* this request's mark in the per-symbol arrays */
    uint32_t cap;               /* symbols the arrays can hold */
    uint32_t *bought_stamp;     /* per symbol: == stamp when bought in this context */
    int64_t *bought_latest;     /* per symbol: newest purchase ts */
    uint32_t *score_stamp;      /* per symbol: == stamp when the context scores it */
    uint32_t *consent_stamp;    /* per symbol: == stamp when the context names that consent */
    bool *consent_given;        /* per symbol: its value, when named */
    uint32_t *recency_stamp;    /* per symbol: == stamp when recency_value holds */
    double *recency_half_life;  /* per symbol: the half-life recency_value is for */
    double *recency_value;      /* per symbol: recency weight of its newest purchase */
    double *score;              /* per symbol: the score */
    uint32_t memo_cap;          /* nodes the memo arrays can hold */
    uint32_t *memo_stamp;       /* per shared node: == stamp when memo_value holds its answer */
    uint8_t *memo_value;        /* per shared node: its answer, 0 or 1 */
    uint32_t wmemo_cap;         /* weight expressions the weight memo can hold */
    uint32_t *wmemo_stamp;      /* per shared weight: == stamp when wmemo_value holds it */
    double *wmemo_value;        /* per shared weight: its value */
    int64_t latest_any;         /* newest purchase ts of any kind */
    int32_t *bought_syms;       /* distinct symbols this context bought; arena */
    uint32_t n_bought_syms;
    int32_t *p_cat, *p_sku;     /* per purchase: symbols (-1 unknown); arena */
    int32_t *e_type, *e_cat, *e_sku; /* per event: symbols; arena */
    /* Per purchase and per event: its product in catalog (by sku), NULL
     * none; arena. Both NULL without a catalog (eval_catalog.h). */
    const struct arb_product **p_prod, **e_prod;
    /* The symbol each of the first score and consent names had in the
     * last request, a guess checked against the name (eval.c sym_guess):
     * a channel sends the same models in the same order, so most names
     * cost a compare instead of a hash lookup. */
    int32_t score_guess[32], consent_guess[8];
    int32_t condition_sym;      /* weather condition symbol, -1 */
    bool location_visible;      /* consent.location given and location sent */
    double nearest_km;          /* distance to the nearest store; < 0 not computed */
    int local_hour, local_wday; /* for hour and weekday conditions */
    bool lua_ready;             /* the Lua context points at ctx */
    struct arb_adaptive_run *adaptive; /* the decider's learned arms and sampler (adaptive_int.h) */
    uint64_t deadline_ns;       /* CLOCK_MONOTONIC deadline of the decision, 0 none */
    arb_fault_t fault;          /* set when an evaluation returned -1 */
    char fault_msg[300];        /* the rule's error message */
} arb_eval_t;

void arb_eval_init(arb_eval_t *ev);
void arb_eval_free(arb_eval_t *ev);

/* Index ctx for rs, joined to ev->catalog (set it first; NULL none).
 * Returns 0, or -1 when out of memory. */
int arb_eval_begin(arb_eval_t *ev, const arb_ruleset_t *rs, const arb_context_t *ctx,
                   arb_arena_t *arena);

/* Detach the Lua context from the request. */
void arb_eval_end(arb_eval_t *ev);

/* The evaluations themselves (arb_cond_eval and arb_weight_eval answer
 * from the memo first). */
int arb__cond_eval(arb_eval_t *ev, int32_t node);
int arb__weight_eval(arb_eval_t *ev, int32_t w, double *out);

/* 1 true, 0 false, -1 fault (ev->fault, ev->fault_msg). */
static inline int arb_cond_eval(arb_eval_t *ev, int32_t node)
{
    if (ev->rs->nodes[node].memo && ev->memo_stamp[node] == ev->stamp) return ev->memo_value[node];
    return arb__cond_eval(ev, node);
}

/* The weight expression w into *out. 0, or -1 fault. */
static inline int arb_weight_eval(arb_eval_t *ev, int32_t w, double *out)
{
    if (ev->rs->wexprs[w].memo && ev->wmemo_stamp[w] == ev->stamp) {
        *out = ev->wmemo_value[w];
        return 0;
    }
    return arb__weight_eval(ev, w, out);
}

/* Whether the context gives the consent named by symbol sym (a missing
 * key means no). */
static inline bool arb_eval_consent(const arb_eval_t *ev, int32_t sym)
{
    return sym >= 0 && (uint32_t)sym < ev->cap && ev->consent_stamp[sym] == ev->stamp &&
           ev->consent_given[sym];
}

/* The context's score for model symbol sym; false when not sent. */
static inline bool arb_eval_score(const arb_eval_t *ev, int32_t sym, double *out)
{
    if (sym < 0 || (uint32_t)sym >= ev->cap || ev->score_stamp[sym] != ev->stamp) return false;
    *out = ev->score[sym];
    return true;
}

#endif
