/* engine/ruleset/: a folder of rule files -> an immutable compiled ruleset.
 * Its rule: no wire and no server (it packs no answer; ruleset.h gives a
 * read-only view that wire/answer.c packs), and never abort(): running out
 * of memory, like every other failure of a load, is a problem of the load.
 * It includes only base/, request/ and bindings/lua/. (ARCHITECTURE.md;
 * scripts/layers checks the includes.)
 *
 * The compiled form of a ruleset, shared by the loader (ruleset.c), the
 * condition evaluator (eval.c) and the decide pipeline (decide.c).
 *
 * Conditions and weights written with the vocabulary are compiled into flat
 * arrays of nodes that C evaluates; only plain Lua functions stay in Lua, as
 * registry references into the ruleset's own lua_State. Everything here is
 * immutable once arb_ruleset_load returns, and owned by the ruleset.
 */
#ifndef ARB_COMPILED_H
#define ARB_COMPILED_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <lua.h>

#include "engine/base/symtab.h"

/* Condition node kinds. */
typedef enum arb_op {
    ARB_OP_TRUE,        /* no condition */
    ARB_OP_ALL,         /* every child */
    ARB_OP_ANY,         /* at least one child */
    ARB_OP_NOT,         /* child 0 is false */
    ARB_OP_BOUGHT,      /* a purchase of sym (category or sku; -1 any) within window */
    ARB_OP_PURCHASES,   /* number of purchases (of sym, within window) compares */
    ARB_OP_SPENT,       /* sum of prices (of sym, within window) compares */
    ARB_OP_EVENT,       /* an event of type sym2 on sym (-1 any) within window */
    ARB_OP_WEATHER,     /* weather.condition == sym */
    ARB_OP_TEMP,        /* weather.temp_c compares */
    ARB_OP_NEAR_STORE,  /* a declared store within num km (needs consent) */
    ARB_OP_IN_STORE,    /* location.store_id present (== sym unless -1) (needs consent) */
    ARB_OP_COUNTRY,     /* location.country == sym (needs consent) */
    ARB_OP_CONSENT,     /* consent[sym] is true */
    ARB_OP_ATTR,        /* attributes[name] compares */
    ARB_OP_SEGMENT,     /* attributes.segments contains sym */
    ARB_OP_SCORE,       /* scores[model] compares */
    ARB_OP_HOUR,        /* local hour in [a, b) (wrapping past midnight) */
    ARB_OP_WEEKDAY,     /* local weekday bit in mask */
    ARB_OP_CHANNEL,     /* context channel == sym */
    ARB_OP_TOUCHPOINT,  /* context touchpoint == sym */
    ARB_OP_LUA,         /* plain Lua function(c) -> truthy */
    /* Purchases and events by any field (compile_hist.c, eval_hist.c): the
     * kids of the *_WHERE and ONLY_BOUGHT nodes are ATTR nodes read as the
     * record's fields (name, cmp), all of which a record must match. */
    ARB_OP_BOUGHT_WHERE,    /* a purchase within window whose fields match */
    ARB_OP_EVENT_WHERE,     /* an event of type sym2 within window whose fields match */
    ARB_OP_PURCHASES_WHERE, /* the number of matching purchases within window compares */
    ARB_OP_SPENT_WHERE,     /* the sum of their prices compares */
    ARB_OP_BEFORE,          /* kids A, B (match nodes): the oldest match of A is older than the
                               newest match of B */
    ARB_OP_SINCE_LAST,      /* kid A (a match node): a match newer than the latest purchase,
                               any match when there is no purchase */
    ARB_OP_FIRST_PURCHASE,  /* the age (seconds) of the oldest purchase compares */
    ARB_OP_LAST_PURCHASE,   /* the age of the newest purchase compares */
    ARB_OP_ONLY_BOUGHT,     /* a purchase within window, and every one there matches */
    ARB_OP_ONE_CATEGORY,    /* a purchase within window, and all there of one category */
    /* Dates (compile_date.c, eval_date.c): sym is the attribute key holding
     * a date (unix seconds or ISO-8601), local time is the customer's. */
    ARB_OP_SINCE,       /* now - attributes[sym] (seconds) compares */
    ARB_OP_UNTIL,       /* attributes[sym] - now (seconds) compares */
    ARB_OP_ANNIVERSARY, /* the a-th (a 0: any) anniversary of attributes[sym] starts within num s */
    ARB_OP_MONTH,       /* local month bit in mask a, January = bit 1 */
    ARB_OP_DAY_OF_YEAR, /* local month * 100 + day in [a, b], wrapping past new year */
} arb_op_t;

/* Comparisons a node may apply to a number or a string. */
typedef enum arb_cmp_op {
    ARB_CMP_EXISTS,     /* the value is present and not false */
    ARB_CMP_EQ_STR,     /* equals the string sym */
    ARB_CMP_ONE_OF,     /* equals one of the strings in list */
    ARB_CMP_EQ_NUM,     /* == a (or boolean a != 0 for booleans) */
    ARB_CMP_GE,         /* >= a */
    ARB_CMP_GT,         /* >  a */
    ARB_CMP_LE,         /* <= a */
    ARB_CMP_LT,         /* <  a */
    ARB_CMP_BETWEEN,    /* a <= v <= b */
} arb_cmp_op_t;

typedef struct arb_cmp {
    arb_cmp_op_t op;
    double a, b;        /* operands for numeric comparisons */
    const char *str;    /* ARB_CMP_EQ_STR: the string (owned by the ruleset) */
    uint32_t str_len;
    uint32_t list;      /* ARB_CMP_ONE_OF: first index into ruleset->strs */
    uint32_t list_n;    /* ... and how many */
} arb_cmp_t;

typedef struct arb_node {
    arb_op_t op;
    int32_t sym;        /* what the node is about (see arb_op_t), -1 any */
    int32_t sym2;       /* event type for ARB_OP_EVENT */
    int64_t window;     /* seconds back from now; -1 ever */
    uint32_t first;     /* ALL/ANY/NOT: first child index in ruleset->kids */
    uint32_t count;     /* ... and how many */
    arb_cmp_t cmp;      /* PURCHASES, SPENT, TEMP, ATTR, SCORE */
    const char *name;   /* ATTR: attribute key (owned by the ruleset) */
    uint32_t name_len;
    uint32_t words;     /* explain: 1 + index in ruleset->strs of the words that built it
                           (`bought("laptop")`), 0 none; not part of its identity. Here, in
                           the padding after name_len, so that a node stays 120 bytes */
    double num;         /* NEAR_STORE: km */
    int a, b;           /* HOUR: [a, b); WEEKDAY: a is a bit mask, Sunday = bit 0 */
    int ref;            /* LUA: registry reference of the function */
    bool pure;          /* no plain Lua function in this subtree */
    bool memo;          /* pure, reached from several places, worth remembering per request */
} arb_node_t;

/* Weight expression kinds. */
typedef enum arb_wop {
    ARB_W_CONST,        /* num */
    ARB_W_RECENCY,      /* 2^(-age/num) of the newest match of condition node `node` */
    ARB_W_SCORE,        /* scores[sym], 0 when missing */
    ARB_W_ATTR,         /* numeric attributes[name], 0 when missing */
    ARB_W_MUL, ARB_W_ADD, ARB_W_SUB, ARB_W_DIV, ARB_W_MIN, ARB_W_MAX,
    ARB_W_IF,           /* node ? left : right */
    ARB_W_LUA,          /* plain Lua function(c) -> number */
} arb_wop_t;

typedef struct arb_wexpr {
    arb_wop_t op;
    double num;         /* CONST value; RECENCY half-life in seconds */
    int32_t sym;        /* SCORE: model symbol */
    int32_t node;       /* RECENCY / IF: condition node index */
    int32_t left, right;/* operands (indices into ruleset->wexprs) */
    const char *name;   /* ATTR: key */
    uint32_t name_len;
    int ref;            /* LUA: registry reference */
    bool pure;          /* no plain Lua function in this expression */
    bool memo;          /* pure and used by several actions: remembered per request */
} arb_wexpr_t;

/* What the candidate loop reads of every action, packed densely so that a
 * catalog of 10,000 stays in the core's cache: 32 bytes an action, in the
 * same (id) order as arb_action_t. */
typedef struct arb_action_hot {
    int32_t when;           /* root condition node, -1 = always */
    int32_t weight;         /* weight expression, -1 = 1.0 */
    int32_t model;          /* score symbol for the propensity; -1 = the action's fixed propensity */
    uint32_t flags;         /* ARB_HOT_* */
    double value;
    double lever;
} arb_action_hot_t;

#define ARB_HOT_FALLBACK 1u /* declared with `fallback` */
#define ARB_HOT_CHECKS   2u /* touchpoints, dates, consent or location to check first */
#define ARB_HOT_POLICY   4u /* a cap, cooldown, group or suppression to check (with a customer) */
#define ARB_HOT_ANY      8u /* set on every action: a decision that must check them all masks it */
#define ARB_HOT_ADAPTIVE 16u/* the propensity is learned (arb_action_t.adaptive) */
#define ARB_HOT_CONTROL  32u/* a control share of its own or its group's (arb_ruleset.action_control) */
#define ARB_HOT_RECOMMEND 64u/* a recommending action: its products are chosen when its rules pass
                                (arb_ruleset.action_recommend) */

/* An adaptive propensity (dsl/README.md, "Adaptive propensity"): learned
 * per action x channel (x segment) from feedback, as a Beta posterior over
 * the rate of `positive` outcomes per trial. */
typedef struct arb_adaptive {
    char *positive;             /* the outcome that counts as a success; owned */
    bool trials_on_impression;  /* trial = "impression" (true) or "decision" */
    double prior;               /* prior rate, in (0, 1) */
    double strength;            /* what the prior is worth, in trials; > 0 */
    int32_t prior_model;        /* a model symbol whose score, when the context sends it,
                                   is the prior rate instead; -1 none */
    char *segment;              /* attribute learned per value; NULL: pooled only; owned */
    uint32_t segment_len;
    double half_life;           /* seconds; 0: evidence never fades */
    bool always_sample;         /* explore = "always": Thompson sampling on every decision */
    double settle;              /* explore = "thin": trials from which the mean is used */
} arb_adaptive_t;

/* Contact policy (dsl/README.md, "Contact policy"): checked in C against the
 * stored customer before an action's conditions run. */

/* At most max contacts in any `per` seconds; per 0: no limit. */
typedef struct arb_limit {
    uint32_t max;
    int64_t per;
} arb_limit_t;

/* When a contact counts: at decision time or on a reported impression. */
typedef enum arb_counts {
    ARB_COUNTS_DEFAULT = -1,   /* an action's: its channel's */
    ARB_COUNTS_DECISION = 0,
    ARB_COUNTS_IMPRESSION = 1,
} arb_counts_t;

/* A pause after outcomes: `times` outcomes named `outcome` of this action
 * within `within` seconds pause it `pause` seconds after the last of them. */
typedef struct arb_suppress {
    char *outcome;      /* owned */
    uint32_t times;     /* at least 1 */
    int64_t within;     /* seconds; 0 when times is 1 */
    int64_t pause;      /* seconds; ARB_FOREVER never lifts */
} arb_suppress_t;

#define ARB_FOREVER INT64_MAX

/* A control group (dsl/README.md, "Control groups and experiments"): the
 * customers whose arb_bucket(salt, customer_id) is below share are held
 * out. */
typedef struct arb_control {
    double share;       /* in [0, 1); 0: no control group */
    char *salt;         /* owned; NULL until the compile's end gives the default */
    size_t salt_len;
    char *reason;       /* explain's reason for what it holds; owned */
    const char *held_as;/* arb_held_t.control: "action", "global" or the group's id (borrowed) */
    const char *owner;  /* the action's or group's id (borrowed), NULL for the global one */
    bool of_group;      /* a group's control */
} arb_control_t;

/* An experiment: a challenger ruleset deciding for a share of customers. */
typedef struct arb_experiment {
    char *name;         /* owned */
    char *challenger;   /* the folder as declared, relative to the champion's; owned */
    char *salt;         /* owned */
    size_t salt_len;
    double share;
    struct arb_ruleset *ruleset;  /* the challenger, loaded with the champion; owned */
} arb_experiment_t;

/* A group of actions with a cap over all of them. */
typedef struct arb_group {
    char *id;           /* owned */
    arb_limit_t cap;
    const char **members;   /* owned array; the ids of its actions, borrowed from them */
    uint32_t n_members;
    char *file;
    int line;
    int32_t control;    /* index in ruleset->controls, -1 none */
} arb_group_t;

/* An action's contact policy (arb_action_t.policy). */
typedef struct arb_action_policy {
    arb_limit_t cap;        /* per action, any channel */
    int64_t cooldown;       /* seconds after its last contact; 0 none */
    int32_t group;          /* index in ruleset->groups, -1 none */
    arb_counts_t counts;    /* overrides the channel's; ARB_COUNTS_DEFAULT none */
    arb_suppress_t *suppress; /* owned */
    uint32_t n_suppress;
} arb_action_policy_t;

/* A channel's policy: its cap across actions and when its contacts count. */
typedef struct arb_channel_policy {
    arb_limit_t cap;
    arb_counts_t counts;
} arb_channel_policy_t;

/* Everything about an action; the decide path reads arb_action_hot_t first
 * and comes here only for what it flags. */
typedef struct arb_action {
    uint64_t channels;      /* bit per channel index */
    int64_t start, stop;    /* flight dates, unix seconds; 0 = open */
    int32_t when;           /* root condition node, -1 = always */
    int32_t weight;         /* weight expression, -1 = 1.0 */
    int32_t model;          /* score symbol for the propensity; -1 = propensity field */
    int32_t category;       /* category symbol for diversity; -1 none */
    uint32_t n_touchpoints;
    uint32_t n_requires;
    bool fallback;          /* declared with `fallback` */
    bool requires_location; /* one of `requires` is "location": location must be sent too */
    int32_t policy;         /* index in ruleset->policies, -1 none (ARB_HOT_POLICY); kept
                               apart so that an action stays 200 bytes */
    double value;           /* money or any lever */
    double lever;           /* business lever, default 1 */
    double propensity;      /* fixed propensity when there is no model, default 1 */
    double weight_max;      /* the weight never exceeds it; NAN when no bound is known or the
                               action must always be evaluated (a fallback, a plain Lua function
                               in its `when` or weight, a negative value or lever) */
    int32_t *touchpoints;   /* touchpoint symbols it is limited to; NULL = all */
    int32_t *requires;      /* consent symbols it needs */
    char **requires_names;  /* the same, as names (for `ruleset`) */
    char **requires_reasons;/* the same, as explain reasons: "consent:<name>" */
    char *no_score_reason;  /* "no score: <model>", NULL without a model */
    char *id;               /* unique action id */
    char *file;             /* rule file that declared it */
    int line;               /* line of the declaration */
    int32_t adaptive;       /* index in ruleset->adaptives, -1 none (ARB_HOT_ADAPTIVE); here,
                               in the padding after line, so that an action stays 200 bytes */
    char *category_name;
    /* The constant parts of this action's entry in a decision, packed at
     * load: {"id": id, "priority": | ... | "value": value, "payload": payload}. */
    char *answer_head, *answer_tail;
    size_t answer_head_len, answer_tail_len;
    size_t payload_at;      /* where the payload's bytes start in answer_tail */
} arb_action_t;

typedef struct arb_touchpoint {
    char *id;
    int32_t sym;            /* its symbol */
    int limit;              /* actions returned by default */
    int32_t diverse;        /* -1 none, else the field: 0 = category */
    char *file;
    int line;
} arb_touchpoint_t;

/* A candidate as a channel's index holds it: with what it takes to bound
 * its priority, so that a decision passes over an action that cannot be
 * shown without reading the action itself (see decide.c). */
typedef struct arb_cand {
    uint32_t action;        /* index in ruleset->actions */
    int32_t model;          /* the action's model symbol, -1 = fixed propensity */
    int64_t window;         /* guarded: the guard's window, -1 ever; always: -1 */
    double propensity;      /* the fixed propensity, when model < 0 */
    double value, weight_max, lever;  /* as arb_action_t */
} arb_cand_t;

/* The candidates of one channel. An action whose `when` requires a
 * purchase (bought(x, within(w)) as the condition or one of its `all`) is
 * reached through what the context bought, with a window no older than that
 * purchase; the others are candidates for every context. */
typedef struct arb_channel_index {
    arb_cand_t *always;     /* actions without such a guard: see always_rest for the order */
    uint32_t n_always;
    arb_cand_t *guarded;    /* guarded actions, grouped by guard symbol, widest window first */
    uint32_t *first;        /* per symbol: where its group starts in guarded */
    uint32_t *count;        /* per symbol: how many actions its group holds */
    /* The runs of ARB_CAND_RUN candidates a decision may pass over at
     * once, unread (decide.c): always[j] starts always_runs[j /
     * ARB_CAND_RUN]; a symbol's guarded group is cut into runs from its
     * start, the first of them guarded_runs[run_first[sym]]. */
    struct arb_cand_run *always_runs, *guarded_runs;
    uint32_t *run_first;
    /* always[], and each symbol's guarded group, is cut into stretches
     * at its adaptive actions (each a stretch of its own: its draw takes
     * the sampler's next number, so it keeps its place among the others)
     * and, guarded, where the window changes; the stretches keep the
     * list's order (id order; widest window first), and inside one the
     * candidates go highest priority bound first, ties in id order. Per
     * position, what a decision needs to pass over the rest of its
     * stretch at once (decide.c). */
    struct arb_cand_rest *always_rest, *guarded_rest;
} arb_channel_index_t;

/* The rest of a stretch from position j of always[] (or guarded[]; see
 * always_rest): ub, the bound of the candidate at j (arb_cand_run_t.ub),
 * is the largest of every candidate's in [j, end); models, the places in
 * rs->models they read, each of which must be scored. */
typedef struct arb_cand_rest {
    double ub;
    uint64_t models;
    uint32_t end;
} arb_cand_rest_t;

/* A run of candidates as one: the largest priority bound of them, a
 * model's score taken anywhere in [0, 1] (INFINITY when one has none);
 * the places in rs->models of the models they read, each of which must be
 * scored; guarded, its narrowest window (its last), -1 ever. */
typedef struct arb_cand_run {
    double ub;
    uint64_t models;
    int64_t window;
} arb_cand_run_t;

/* The candidates of a run (arb_channel_index_t.always_runs). */
#define ARB_CAND_RUN 4

typedef struct arb_store {
    int32_t sym;            /* store id symbol */
    double lat, lon;
} arb_store_t;

#define ARB_MAX_CHANNELS 64

/* Memory a ruleset's lua_State may grow by, after loading, for everything
 * its rules ever keep. */
#define ARB_RULESET_HEADROOM (64u * 1024 * 1024)

typedef struct arb_ruleset arb_ruleset_t;

struct arb_ruleset {
    _Atomic uint32_t owners;    /* workers (or others) holding it; the last frees it */
    bool shareable;             /* no plain Lua function: threads may share it */
    lua_State *L;               /* holds the plain Lua functions; owned */
    struct arb_sandbox *sandbox;/* budgets for L; owned */
    char version[48];           /* "<seq>-<checksum prefix>" */
    char checksum[17];          /* FNV-1a 64 of the files, hex */
    int64_t loaded_at;          /* unix seconds */
    char *dir;                  /* folder it came from */
    arb_symtab_t syms;          /* every string conditions compare against */
    arb_action_t *actions;      /* sorted by id, fallbacks included */
    arb_action_hot_t *hot;      /* the same actions' hot fields, same order */
    uint32_t n_actions;
    arb_channel_index_t by_channel[ARB_MAX_CHANNELS]; /* candidates per channel */
    char *channels[ARB_MAX_CHANNELS];      /* channel names by index */
    int32_t channel_sym[ARB_MAX_CHANNELS]; /* their symbols */
    int n_channels;
    arb_touchpoint_t *touchpoints;
    uint32_t n_touchpoints;
    int default_limit;          /* limit for undeclared touchpoints */
    int utc_offset_minutes;     /* local time for hour and weekday conditions */
    int32_t *models;            /* declared model symbols */
    uint32_t n_models;
    arb_store_t *stores;
    uint32_t n_stores;
    arb_node_t *nodes;          /* condition nodes, identical ones shared; children first */
    uint32_t n_nodes;
    uint32_t *kids;             /* child node indices of ALL/ANY/NOT */
    uint32_t n_kids;
    arb_wexpr_t *wexprs;        /* weight expressions, identical ones shared; operands first */
    uint32_t n_wexprs;
    char **strs;                /* strings for ONE_OF lists, owned */
    uint32_t *str_lens;
    uint32_t n_strs;
    arb_channel_policy_t channel_policy[ARB_MAX_CHANNELS]; /* by channel index */
    arb_action_policy_t *policies; /* of the actions that have one (arb_action_t.policy) */
    uint32_t n_policies;
    arb_adaptive_t *adaptives;  /* of the adaptive actions (arb_action_t.adaptive) */
    uint32_t n_adaptives;
    arb_group_t *groups;        /* declared with group "id" { ... } */
    uint32_t n_groups;
    char **outcomes;            /* feedback outcomes declared with outcomes { ... }; owned */
    uint32_t n_outcomes;
    int64_t policy_window;      /* the longest cap, cooldown or suppression window */
    bool policy_forever;        /* a suppression never lifts */
    int32_t sym_segments;       /* the symbol "segments" */
    int32_t sym_location;       /* the symbol "location" */
    /* Control groups and experiments (compile_control.c). */
    bool control_declared;      /* a global control { ... } was declared */
    bool control_fallback;      /* its customers get the fallback (else nothing) */
    arb_control_t control;      /* the global hold-out; share 0: none */
    arb_control_t *controls;    /* per action and per group */
    uint32_t n_controls;
    int32_t *action_control;    /* per action (id order): index in controls, -1 none */
    uint32_t n_controlled;      /* actions with one (what a decision may hold back) */
    arb_experiment_t *experiment; /* at most one; NULL none */
    bool is_challenger;         /* loaded as an experiment's challenger: may not declare one */
    /* The product catalog (catalog.h), declared with `catalog "file"`. */
    struct arb_catalog *catalog;  /* one reference owned; NULL: none declared */
    char *catalog_file;         /* as declared, relative to dir; owned; NULL none */
    /* Recommending actions (recommend.h): an action's `recommend = {...}`. */
    struct arb_recommend *recommends; /* owned */
    uint32_t n_recommends;
    int32_t *action_recommend;  /* per action (id order): index in recommends, -1 none;
                                   NULL when no action recommends */
    /* Payload templates (payload.h): payloads with {fields} filled at decide time. */
    struct arb_payload_tpl *templates; /* owned */
    uint32_t n_templates;
    int32_t *action_template;   /* per action (id order): index in templates, -1 none;
                                   NULL when no payload has a field */
};

/* Action a's contact policy, or NULL when it has none. */
static inline const arb_action_policy_t *arb_action_policy(const arb_ruleset_t *rs,
                                                           const arb_action_t *a)
{
    return a->policy >= 0 ? &rs->policies[a->policy] : NULL;
}

/* Whether nodes of kind op are purchases or events that match at a time
 * (what recency weighs and before / since_last_purchase order). An ANY of
 * them matches too, at the times of its kids. */
static inline bool arb_op_is_match(arb_op_t op)
{
    return op == ARB_OP_BOUGHT || op == ARB_OP_EVENT || op == ARB_OP_BOUGHT_WHERE ||
           op == ARB_OP_EVENT_WHERE;
}

#endif
