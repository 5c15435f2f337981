/* A decision as a value: what arb_decide chose, and (with explain) why each
 * action of the ruleset was or was not chosen. The answer writer
 * (wire/answer.c) turns it into the bytes a client reads; the rule tests,
 * `arbiter decide`/`replay` and the benchmark read it directly, so no
 * decision is packed only to be read back.
 *
 * Ownership: a decision is a view, not a copy. Every pointer in it is
 * borrowed from the decider's scratch, the request's arena or the ruleset
 * that decided; it stays valid until the next decision on the same decider,
 * the arena's reset, or the ruleset's release, whichever comes first. Copy
 * what must outlive that.
 */
#ifndef ARB_DECISION_H
#define ARB_DECISION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One chosen action, best first. */
typedef struct arb_decided_action {
    const char *id;           /* the action's id (the ruleset's) */
    double priority;          /* propensity x weight x value x lever */
    double propensity;
    double value;
    /* The payload as MessagePack bytes prepared at load (a nil when the
     * action has none); the ruleset's. */
    const char *payload;
    size_t payload_len;
    /* The constant parts of this action's answer entry, packed at load
     * (see arb_action_t.answer_head/answer_tail): the answer writer copies
     * them around the two numbers that change. The ruleset's. */
    const char *head, *tail;
    size_t head_len, tail_len;
    /* An adaptive action: the segment of the arm it was decided on
     * (NUL-terminated; "" the pooled arm), which its offer stores. NULL
     * for an action whose propensity is not learned. */
    const char *segment;
    /* A recommending action: the products chosen for it, best first, as
     * indices into the decision's catalog; NULL and 0 otherwise. */
    const uint32_t *products;
    uint32_t n_products;
    /* The payload was made for this decision (a template's fields, a
     * recommending action's products): payload is then the request
     * arena's bytes, tail ends where the payload would start, and the
     * answer writes payload after tail. False: payload is the constant
     * one inside tail. */
    bool payload_rendered;
} arb_decided_action_t;

/* The evidence an adaptive action was decided on, for explain. */
typedef struct arb_learned {
    const char *segment;      /* the arm read: the segment's, or "" when the pooled arm was
                                 used (no value, or no evidence yet for the segment) */
    double positives;         /* decayed to the decision's now; 0 when no arm yet */
    double trials;
    double prior;             /* the prior rate used (the model's score or the action's prior) */
    double mean;              /* posterior mean */
    double sample;            /* the Thompson draw; NAN when the mean was used (settled) */
} arb_learned_t;

/* A product a recommending action considered, for explain. */
typedef struct arb_explained_product {
    const char *sku;          /* the catalog's (NUL-terminated) */
    double score;             /* its score in [0, 1]; NAN when excluded before scoring */
    bool chosen;
    const char *reason;       /* "chosen", "outranked", "diversity", "owned", "shown",
                                 "out_of_stock", "where", "seed_category" (static) */
} arb_explained_product_t;

/* Why one action of the ruleset was or was not chosen. */
typedef struct arb_explained {
    const char *id;           /* the action's id */
    bool chosen;
    const char *reason;       /* "chosen", "outranked", "when", "channel", a rule's fault... */
    bool eligible;            /* its rules ran and said yes: the numbers below are set */
    double priority;          /* NAN unless eligible */
    double propensity;        /* NAN unless eligible */
    const arb_learned_t *learned; /* an eligible adaptive action's evidence; NULL otherwise */
    /* The numbers its priority is the product of (dsl/README.md section 11):
     * value and lever always; weight NAN unless eligible. */
    const char *propensity_from; /* "score: <model>", "adaptive", "fixed" or "default" (1) */
    double value, weight, lever;
    /* An eligible action not chosen ("outranked", "diversity"): the chosen
     * action it failed to beat (the lowest-ranked chosen, or the chosen one
     * of its category), that one's priority and the difference; lost_to is
     * "limit" when no action was chosen for it to lose to (a limit of 0).
     * NULL and NAN otherwise. */
    const char *lost_to;
    double lost_to_priority, lost_by;
    /* reason "when": the first false part of its condition, by the words
     * that built it (`bought("laptop", within(days(30)))`); NULL otherwise.
     * The ruleset's or the request arena's. */
    const char *failed;
    /* A recommending action whose products were looked for: the products
     * it considered (at most 20: the chosen first, then the others by
     * rank, then the excluded); NULL and 0 otherwise. The request arena's. */
    const arb_explained_product_t *products;
    uint32_t n_products;
} arb_explained_t;

/* An action the rules chose that a control group held back. */
typedef struct arb_held {
    const char *id;           /* the action's id */
    const char *control;      /* what held it: "action" (its own control) or the group's id */
} arb_held_t;

typedef struct arb_decision {
    const char *decision_id;  /* "<16 hex>-<counter hex>", NUL-terminated */
    size_t decision_id_len;
    const char *ruleset;      /* the ruleset's version */
    const arb_decided_action_t *actions;
    uint32_t n_actions;
    /* With explain: one entry per action of the ruleset, in id order;
     * explain is NULL without it. */
    const arb_explained_t *explain;
    uint32_t n_explain;
    uint64_t elapsed_us;      /* deciding took this long */
    /* What contact policy needs to count this decision's contacts
     * (decide/policy.h): the context's customer_id (NUL-terminated; the
     * decider's, like decision_id), its channel (the ruleset's name for it),
     * its clock (unix seconds) and its `preview` flag (a look, nothing to
     * count). */
    const char *customer_id;
    const char *channel;
    int64_t now;
    bool preview;
    /* Measurement (DESIGN.md section 7): */
    const char *touchpoint;   /* the context's touchpoint, NUL-terminated */
    const char *group;        /* "treatment" or "control" (the customer is in the global
                                 control group: the actions are the fallback or none) */
    const char *experiment;   /* the experiment that split this decision, NULL none */
    const char *arm;          /* with an experiment: "champion" or "challenger"; NULL otherwise */
    /* Actions chosen by the rules but held back by a per-action or group
     * control (the customer is in that action's control): what the report
     * compares against. Not in `actions`. */
    const arb_held_t *held;
    uint32_t n_held;
    /* The ruleset that decided: the champion, or with an experiment's
     * challenger arm the challenger (owned by the champion). What contact
     * policy and learning must read the decision's actions in. */
    const struct arb_ruleset *decided_by;
    /* The catalog this decision read (catalog.h): decided_by's own, or a
     * catalog-only reload of it (arb_decider_set_catalog); NULL none. */
    const struct arb_catalog *catalog;
} arb_decision_t;

#endif
