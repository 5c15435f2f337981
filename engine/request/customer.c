/* Reading a stored customer (see customer.h): the questions contact policy
 * asks of a customer value. Values only, no I/O (the request layer's rule).
 */
#include "engine/request/customer.h"

#include <string.h>

int arb_customer_consent(const arb_customer_t *c, const char *key)
{
    for (size_t i = 0; i < c->n_consents; i++)
        if (strcmp(c->consents[i].key, key) == 0) return c->consents[i].granted;
    return -1;
}

static bool match(const char *want, const char *have)
{
    return !want || (have && strcmp(want, have) == 0);
}

size_t arb_customer_contacts_since(const arb_customer_t *c, const char *action,
                                   const char *channel, int64_t since)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_contacts; i++) {
        const arb_contact_t *k = &c->contacts[i];
        if (k->ts > since && match(action, k->action) && match(channel, k->channel)) n++;
    }
    return n;
}

bool arb_customer_suppressed(const arb_customer_t *c, const char *action, int64_t now)
{
    for (size_t i = 0; i < c->n_suppressions; i++)
        if (c->suppressions[i].until > now && strcmp(c->suppressions[i].action, action) == 0) return true;
    return false;
}
