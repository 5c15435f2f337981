/* Unit tests for request/bucket.c: fixed vectors computed independently
 * (python3: int.from_bytes(hmac.new(salt, id, sha256).digest()[:8], "big")
 * >> 11, over 2^53), determinism, another salt reshuffling, and shares
 * holding over 10,000 ids within 3 standard errors.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/request/bucket.h"

static double b(const char *salt, const char *id) { return arb_bucket(salt, strlen(salt), id, strlen(id)); }

Test(bucket, fixed_vectors)
{
    cr_expect_eq(b("holdout-2026", "c1"), 0.6014989691210064);
    cr_expect_eq(b("arbiter", "alice"), 0.8088381172369467);
    cr_expect_eq(b("spring", "customer-42"), 0.3836265147907889);
    cr_expect_eq(b("", "x"), 0.2997525952763609);
    /* A salt longer than SHA-256's block is hashed first (RFC 2104), as
     * python3's hmac does: 150 x 's'. */
    char salt[151];
    memset(salt, 's', 150);
    salt[150] = 0;
    cr_expect_eq(b(salt, "cust-1"), 0.9764536920958046);
}

Test(bucket, same_inputs_same_place_and_in_range)
{
    char id[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "cust-%d", i);
        double v = b("s", id);
        cr_assert(v >= 0 && v < 1, "%s: %g", id, v);
        cr_expect_eq(v, b("s", id));
    }
}

Test(bucket, another_salt_reshuffles)
{
    char id[32];
    int in_a = 0, in_both = 0;
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof id, "cust-%d", i);
        bool a = b("salt-a", id) < 0.5, c = b("salt-b", id) < 0.5;
        in_a += a;
        in_both += a && c;
    }
    /* Independent halves overlap on about a quarter, not on all of them. */
    cr_expect(fabs(in_both / 10000.0 - 0.25) < 3 * sqrt(0.25 * 0.75 / 10000), "overlap %d of %d", in_both, in_a);
}

Test(bucket, shares_hold)
{
    static const double shares[] = { 0.05, 0.1, 0.2, 0.5, 0.9 };
    char id[32];
    for (size_t k = 0; k < sizeof shares / sizeof *shares; k++) {
        double s = shares[k];
        int n = 0;
        for (int i = 0; i < 10000; i++) {
            snprintf(id, sizeof id, "c%05d", i);
            n += b("holdout-2026", id) < s;
        }
        double se = sqrt(s * (1 - s) / 10000);
        cr_expect(fabs(n / 10000.0 - s) <= 3 * se, "share %g: %d of 10000", s, n);
    }
}
