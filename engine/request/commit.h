/* What one write adds to a customer, and how it is merged (state/merge.c).
 *
 * Values only, no I/O, like customer.h: every backend runs the same
 * arb_commit_merge() on the record it holds (memory.c under its lock,
 * lmdb.c inside the writer's write transaction, later a Redis script's
 * equivalent), so that the caps are checked and the contacts added in one
 * step, and a cap of N grants exactly N whatever the concurrency.
 *
 * Ownership: the caller owns an arb_commit_t and everything it points to;
 * arb_store_commit() copies what it needs before returning.
 */
#ifndef ARB_STATE_COMMIT_H
#define ARB_STATE_COMMIT_H

#include "engine/base/arena.h"
#include "engine/base/error.h"
#include "engine/request/customer.h"

/* At most `max` stored contacts matching action and channel (NULL: any) in
 * the `window` seconds before the new contact's ts. max 0 refuses always.
 * With n_actions > 0 the contact's action must be one of `actions` instead
 * (a group's cap: the group as the ruleset has it now). */
typedef struct arb_cap {
    const char *action;
    const char *channel;
    uint32_t max;
    int64_t window;
    const char *const *actions;
    size_t n_actions;
} arb_cap_t;

/* A contact a decision wants to count, granted only when every cap holds
 * (counting the contacts granted earlier in the same commit). */
typedef struct arb_contact_req {
    arb_contact_t contact;
    const arb_cap_t *caps;
    size_t n_caps;
} arb_contact_req_t;

/* An offer a decision wants to store (customer.h), stored when its contact
 * request commit->contacts[contact] is granted, or always when contact is
 * -1 (the action's contacts count on impression). Offers are unique by
 * (decision_id, action): a second one merges nothing. */
typedef struct arb_offer_req {
    arb_offer_t offer;
    int32_t contact;
} arb_offer_req_t;

/* How the one outcome of a feedback commit teaches its adaptive action.
 * The offer it learns from is the stored offer of (outcome.decision_id,
 * action); without a decision_id, the customer's latest offer of the
 * action, whose decision_id the stored outcome then takes (so that a
 * repeat is recognised). With an offer found and the outcome not already
 * stored for it:
 *   positives 1 when the outcome is `positive`;
 *   trials 1 (trials_on_impression only) when the outcome is "impression"
 *     or `positive` and neither was stored for that offer before (a click
 *     reported before its impression implies the impression, once).
 * Otherwise 0 and 0. */
typedef struct arb_learn_rule {
    const char *positive;       /* the outcome that counts as a success */
    bool trials_on_impression;  /* false: trials are counted at decision time */
} arb_learn_rule_t;

/* What is kept per customer: entries older than max_age seconds before the
 * commit's `now` are dropped, then the oldest beyond each count. 0 means no
 * limit. The ruleset must keep max_age at least its longest cap window.
 * Events of type "recommended" (what a decision recommended) are counted
 * apart: max_events bounds the others, however many recommended ones there
 * are, and max_recommended bounds those, keeping the newest per sku. */
typedef struct arb_retention {
    int64_t max_age;
    uint32_t max_events, max_purchases, max_contacts, max_outcomes, max_offers;
    uint32_t max_recommended;
} arb_retention_t;

typedef struct arb_commit {
    int64_t now;                          /* unix seconds, for retention and suppressions */
    const arb_event_t *events;            size_t n_events;      /* from track */
    const arb_event_t *purchases;         size_t n_purchases;   /* from track */
    const arb_consent_t *consents;        size_t n_consents;    /* from track */
    const uint8_t *attributes;            size_t attributes_len; /* msgpack map from track: its keys replace */
    const arb_outcome_t *outcomes;        size_t n_outcomes;    /* from feedback */
    const arb_suppression_t *suppressions; size_t n_suppressions;
    const arb_contact_req_t *contacts;    size_t n_contacts;    /* from a decision */
    const arb_offer_req_t *offers;        size_t n_offers;      /* from a decision */
    const arb_learn_rule_t *learn;        /* feedback of an adaptive action: how its one
                                             outcome teaches (NULL: it does not) */
    const arb_retention_t *retention;     /* NULL: the store's default */
    const char *pseudonym;                /* a fresh random one (32 hex digits) for a customer
                                             who has none yet; NULL: give none */
} arb_commit_t;

/* What a commit did, handed to its callback. */
typedef struct arb_commit_result {
    const bool *granted;       /* per contact request, in order; n_contacts entries */
    size_t n_contacts;
    size_t n_granted;
    size_t stored;             /* events + purchases + consents newly stored (track's {stored}) */
    size_t outcomes_counted;   /* outcomes not already recorded */
    /* With commit->learn: */
    bool learn_known;          /* an offer was found for the outcome */
    double learn_positives;    /* 0 or 1, see arb_learn_rule_t */
    double learn_trials;       /* 0 or 1 */
    const char *learn_channel; /* the offer's channel and segment (valid during the */
    const char *learn_segment; /*   callback), NULL when no offer was found */
    const char *learn_decision_id; /* the offer's decision_id, NULL when none was found */
    /* Where a backend keeps the three strings above once the merge's memory
     * is gone (arb_store_apply copies them here, each cut at 255 bytes). */
    char learn_strings[3][256];
    /* The customer's pseudonym after the commit ("" when it has none). */
    char pseudonym[33];
} arb_commit_result_t;

/* Merge commit into old (not changed) giving *out, allocated in arena, with
 * retention applied. granted must hold commit->n_contacts entries. Fails
 * only when the arena runs out of memory or the attributes are not a map. */
int arb_commit_merge(const arb_customer_t *old, const arb_commit_t *commit,
                     const arb_retention_t *retention, arb_arena_t *arena,
                     arb_customer_t *out, bool *granted, arb_commit_result_t *res,
                     arb_err_t *err);

/* A deep copy of c into arena (one arena per queued commit), or NULL when
 * out of memory. */
arb_commit_t *arb_commit_copy(const arb_commit_t *c, arb_arena_t *arena);

#endif
