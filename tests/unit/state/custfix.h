/* Customers for the state tests that compare two of them: a realistic one
 * of every field's kinds, and a deep equality that names the first field
 * that differs (strings by content, NULL apart from ""; NaN equal to NaN;
 * byte ranges by content, NULL apart from empty). Header-only: each test
 * binary that includes it is one translation unit.
 */
#ifndef ARB_TESTS_CUSTFIX_H
#define ARB_TESTS_CUSTFIX_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "engine/request/customer.h"

static bool custfix_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool custfix_num(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

static bool custfix_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    return (!a) == (!b) && an == bn && (!an || memcmp(a, b, an) == 0);
}

static bool custfix_events(const arb_event_t *a, size_t an, const arb_event_t *b, size_t bn)
{
    if (an != bn) return false;
    for (size_t i = 0; i < an; i++)
        if (a[i].ts != b[i].ts || !custfix_str(a[i].type, b[i].type) ||
            !custfix_str(a[i].channel, b[i].channel) || !custfix_str(a[i].sku, b[i].sku) ||
            !custfix_str(a[i].category, b[i].category) || !custfix_num(a[i].price, b[i].price) ||
            !custfix_bytes(a[i].extra, a[i].extra_len, b[i].extra, b[i].extra_len))
            return false;
    return true;
}

/* NULL when a and b are the same customer, else the first field that is not. */
static const char *custfix_diff(const arb_customer_t *a, const arb_customer_t *b)
{
    if (!custfix_str(a->id, b->id)) return "id";
    if (!custfix_events(a->events, a->n_events, b->events, b->n_events)) return "events";
    if (!custfix_events(a->purchases, a->n_purchases, b->purchases, b->n_purchases)) return "purchases";
    if (a->n_contacts != b->n_contacts) return "n_contacts";
    for (size_t i = 0; i < a->n_contacts; i++) {
        const arb_contact_t *x = &a->contacts[i], *y = &b->contacts[i];
        if (x->ts != y->ts || !custfix_str(x->action, y->action) || !custfix_str(x->channel, y->channel) ||
            !custfix_str(x->counted, y->counted))
            return "contacts";
    }
    if (a->n_outcomes != b->n_outcomes) return "n_outcomes";
    for (size_t i = 0; i < a->n_outcomes; i++) {
        const arb_outcome_t *x = &a->outcomes[i], *y = &b->outcomes[i];
        if (x->ts != y->ts || !custfix_str(x->action, y->action) || !custfix_str(x->outcome, y->outcome) ||
            !custfix_str(x->decision_id, y->decision_id) || !custfix_str(x->channel, y->channel) ||
            !custfix_num(x->value, y->value))
            return "outcomes";
    }
    if (a->n_consents != b->n_consents) return "n_consents";
    for (size_t i = 0; i < a->n_consents; i++)
        if (a->consents[i].ts != b->consents[i].ts || !custfix_str(a->consents[i].key, b->consents[i].key) ||
            a->consents[i].granted != b->consents[i].granted)
            return "consents";
    if (!custfix_bytes(a->attributes, a->attributes_len, b->attributes, b->attributes_len)) return "attributes";
    if (a->n_suppressions != b->n_suppressions) return "n_suppressions";
    for (size_t i = 0; i < a->n_suppressions; i++)
        if (a->suppressions[i].until != b->suppressions[i].until ||
            !custfix_str(a->suppressions[i].action, b->suppressions[i].action) ||
            !custfix_str(a->suppressions[i].reason, b->suppressions[i].reason))
            return "suppressions";
    if (a->n_offers != b->n_offers) return "n_offers";
    for (size_t i = 0; i < a->n_offers; i++) {
        const arb_offer_t *x = &a->offers[i], *y = &b->offers[i];
        if (x->ts != y->ts || !custfix_str(x->decision_id, y->decision_id) ||
            !custfix_str(x->action, y->action) || !custfix_str(x->channel, y->channel) ||
            !custfix_str(x->segment, y->segment) || x->learned != y->learned)
            return "offers";
    }
    if (!custfix_str(a->pseudonym, b->pseudonym)) return "pseudonym";
    return NULL;
}

#endif
