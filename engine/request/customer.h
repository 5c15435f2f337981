/* The stored customer as a value a decision reads (DESIGN.md section 5).
 *
 * This file keeps state/'s first rule: values only, no I/O. Everything here
 * is plain data that record.c encodes and decodes and merge.c combines with
 * what a `track`, a `feedback` or a decision adds; the backends (memory.c,
 * lmdb.c, later Redis) never look inside a customer.
 *
 * Ownership: a decoded customer and every string or byte range it points to
 * live in the arb_arena_t it was decoded into (arb_record_decode's arena),
 * and die with that arena's next reset. Strings are NUL-terminated UTF-8 as
 * the channel sent them. Every list is ordered oldest first (by ts), so the
 * newest entries are at the end. Times are unix seconds.
 */
#ifndef ARB_STATE_CUSTOMER_H
#define ARB_STATE_CUSTOMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An event (`type` set: "view", "cart", ...) or a purchase (`type` NULL). */
typedef struct arb_event {
    int64_t ts;
    const char *type;      /* events: what happened; purchases: NULL */
    const char *channel;   /* NULL when unknown */
    const char *sku;       /* NULL when absent */
    const char *category;  /* NULL when absent */
    double price;          /* NAN when absent */
    const uint8_t *extra;  /* msgpack map of the other fields (brand, ...), or NULL */
    size_t extra_len;
} arb_event_t;

/* One contact counted for contact policy: an action shown on a channel. */
typedef struct arb_contact {
    int64_t ts;
    const char *action;
    const char *channel;
    const char *counted;   /* how it was counted: "decision" (at decide time), "impression", ... */
} arb_contact_t;

/* One outcome reported by `feedback`. */
typedef struct arb_outcome {
    int64_t ts;
    const char *action;
    const char *outcome;      /* impression, click, convert, dismiss, or a ruleset-declared name */
    const char *decision_id;  /* NULL when the feedback named none (then never deduplicated) */
    const char *channel;      /* NULL when unknown */
    double value;             /* NAN when absent */
} arb_outcome_t;

/* An adaptive action (dsl/README.md, "Adaptive propensity") a decision
 * showed this customer: what a later feedback for it learns from. Stored
 * only for decisions that counted (no preview) and, when its contact was
 * refused by a cap, not at all. */
typedef struct arb_offer {
    int64_t ts;
    const char *decision_id;
    const char *action;
    const char *channel;
    const char *segment;      /* the arm's segment: the attribute's value, or "" (pooled) */
    unsigned learned;         /* what feedback already taught from it: ARB_OFFER_* bits */
} arb_offer_t;

#define ARB_OFFER_TRIAL    1u  /* its trial was counted */
#define ARB_OFFER_POSITIVE 2u  /* its positive was counted */

/* The latest consent statement for one key ("email", "location", ...). */
typedef struct arb_consent {
    int64_t ts;
    const char *key;
    bool granted;
} arb_consent_t;

/* An action that must not be offered to this customer before `until`. */
typedef struct arb_suppression {
    int64_t until;
    const char *action;
    const char *reason;  /* NULL when none was given */
} arb_suppression_t;

typedef struct arb_customer {
    const char *id;                 /* the customer_id; "" for a customer never stored */
    arb_event_t *events;            size_t n_events;
    arb_event_t *purchases;         size_t n_purchases;
    arb_contact_t *contacts;        size_t n_contacts;
    arb_outcome_t *outcomes;        size_t n_outcomes;
    arb_consent_t *consents;        size_t n_consents;   /* one per key */
    const uint8_t *attributes;      size_t attributes_len; /* msgpack map, or NULL */
    arb_suppression_t *suppressions; size_t n_suppressions;
    arb_offer_t *offers;            size_t n_offers;
    /* A random pseudonym (32 hex digits) the decision log names the
     * customer by; NULL until a write gives one. Erased with the record by
     * `forget`: logged records then name nobody that can be found again. */
    const char *pseudonym;
} arb_customer_t;

/* The recorded consent for key: 1 granted, 0 withdrawn, -1 never stated. */
int arb_customer_consent(const arb_customer_t *c, const char *key);

/* How many stored contacts match action and channel (NULL matches any) with
 * ts > since. What a cap counts. */
size_t arb_customer_contacts_since(const arb_customer_t *c, const char *action,
                                   const char *channel, int64_t since);

/* True when a suppression for action holds at now. */
bool arb_customer_suppressed(const arb_customer_t *c, const char *action, int64_t now);

#endif
