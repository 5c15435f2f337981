/* A recommending action's `recommend = { ... }` (dsl/README.md,
 * "Recommending actions"), as compiled: which catalog relations to follow
 * from which of the customer's purchases or views, what to exclude, how
 * to score and how many to choose. Keeps the loader's rule: built at load
 * (compile_recommend.c), immutable after, nothing here runs at decide time;
 * decide/recommend.c reads it against the catalog a decision reads.
 *
 * Relation names stay names: a catalog-only reload may number its
 * relations differently. Their ids in the ruleset's own catalog are
 * resolved at load (from_id); a decision reading another catalog (after a
 * catalog-only reload) finds them by name in it.
 *
 * `from = "popular"` is not a relation: the catalog's most popular
 * products in stock (catalog->popular), a source without seeds.
 *
 * Ownership: every pointer in an arb_recommend_t is owned by the ruleset
 * (freed by arb_recommend_free), but `action`, the id of the action it
 * belongs to, which is the action's.
 */
#ifndef ARB_RECOMMEND_H
#define ARB_RECOMMEND_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/base/problems.h"
#include "engine/ruleset/compiled.h"

#define ARB_RECO_MAX_COUNT 20u      /* products one action chooses, at most */
#define ARB_RECO_MAX_SEEDS 20u      /* purchases or views the relations start from */
#define ARB_RECO_MAX_FROM 8u        /* relations one action follows */
#define ARB_RECO_EXPLAIN_MAX 20u    /* products explain lists per action */

/* seeds: what the relations start from (bits). */
#define ARB_RECO_SEED_PURCHASES 1u
#define ARB_RECO_SEED_VIEWS 2u

/* exclude (bits). */
#define ARB_RECO_EX_OWNED 1u          /* a product the customer bought, ever */
#define ARB_RECO_EX_SHOWN 2u          /* "recommended"/"impression" events of it within shown_within */
#define ARB_RECO_EX_SEED_CATEGORY 4u  /* a product of a seed's category */

typedef enum arb_reco_diverse {
    ARB_RECO_DIVERSE_NONE,
    ARB_RECO_DIVERSE_CATEGORY,
    ARB_RECO_DIVERSE_BRAND,
} arb_reco_diverse_t;

/* One `where` field: the product's field `name` compares as cmp (strings
 * of cmp are the ruleset's: rs->strs, or str below). */
typedef struct arb_reco_where {
    char *name;             /* owned */
    uint32_t name_len;
    arb_cmp_t cmp;
    char *str;              /* owned copy behind a plain string's cmp.str; NULL otherwise */
} arb_reco_where_t;

typedef struct arb_recommend {
    const char *action;     /* the action's id (borrowed from it) */
    char *file;             /* where the action was declared, for load problems; owned */
    int line;
    char *from[ARB_RECO_MAX_FROM]; /* relation names; owned */
    uint32_t from_len[ARB_RECO_MAX_FROM];
    int32_t from_id[ARB_RECO_MAX_FROM]; /* in rs->catalog->relations (set at load), -1 none */
    uint32_t n_from;
    bool popular;           /* `from` names "popular": the catalog's popular list too */
    uint32_t seeds;         /* ARB_RECO_SEED_* */
    int64_t within;         /* seeds this recent, seconds */
    uint32_t count, min;    /* 1 <= min <= count <= ARB_RECO_MAX_COUNT */
    uint32_t exclude;       /* ARB_RECO_EX_* */
    int64_t shown_within;   /* seconds */
    arb_reco_diverse_t diverse;
    double w_affinity, w_popularity, w_price_band, w_model;  /* each >= 0 */
    double w_sum;           /* their sum, > 0 */
    double half_life;       /* seconds, > 0 */
    char *model;            /* scores["<model>:<sku>"]; owned, NULL none */
    uint32_t model_len;
    arb_reco_where_t *where; /* owned */
    uint32_t n_where;
} arb_recommend_t;

/* The name `from` gives the popular source; a catalog relation of that
 * name cannot be followed (a load problem when an action asks for it). */
#define ARB_RECO_POPULAR "popular"

/* The checks that need the catalog: every `from` relation is one some
 * product of cat has, and none is named "popular" when an action reads the
 * popular list. Adds "file:line: action 'id': recommend: ..." to p
 * for each problem; returns how many it found. Run at load, once the
 * catalog is loaded, and by a catalog-only reload against the new one. */
struct arb_catalog;
int arb_recommend_check(const arb_ruleset_t *rs, const struct arb_catalog *cat, arb_problems_t *p);

/* The loader's own (compile_decl.c, ruleset.c): compile the action's
 * `recommend` field at spec (none: nothing); once the actions are sorted
 * and their hot fields set, rs->action_recommend and ARB_HOT_RECOMMEND
 * (-1 when memory runs out); at the end of the load, the catalog's checks,
 * or a problem for each recommending action when no catalog is declared. */
struct compiler;
void arb__compile_recommend(struct compiler *cc, int spec, arb_action_t *a);
int arb__ruleset_recommend_finish(arb_ruleset_t *rs);
void arb__recommend_load_check(arb_ruleset_t *rs, arb_problems_t *p);

/* Free rs->recommends and rs->action_recommend. */
void arb_recommend_free(arb_ruleset_t *rs);

#endif
