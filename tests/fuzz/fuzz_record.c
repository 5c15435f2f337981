/* Fuzz target: the customer record decoder (engine/state/record.c), the one
 * file format of the state store, and the merge that runs on whatever a
 * stored record decodes to (engine/state/merge.c).
 *
 * Input: the bytes of a stored value (the seeds are real records; a record
 * with a wrong checksum is refused early, so the target also tries the
 * input with its checksum recomputed, to reach the payload checks).
 *
 * Properties checked:
 *   - decode never crashes, leaks or reads past the input (ASan), and on
 *     failure gives an ARB_INTERNAL error with a message and an empty
 *     customer;
 *   - what decodes re-encodes to a record that decodes to the same encoding
 *     (encode(decode(encode(decode(x)))) == encode(decode(x)));
 *   - a decoded pseudonym is 32 hex digits (or none);
 *   - merging a commit (an event, a consent, an outcome, a capped contact
 *     and its offer, with a learn rule, and a fresh pseudonym) into any
 *     decoded customer succeeds, learns at most one trial and one positive,
 *     keeps the customer's pseudonym or adopts the commit's, and encodes to
 *     a valid record; so does a feedback without a decision_id (the latest
 *     offer).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "engine/request/commit.h"
#include "engine/state/record.h"
#include "tests/fuzz/fuzz_util.h"

static void check(const uint8_t *data, size_t size)
{
    arb_arena_t a;
    arb_arena_init(&a);
    arb_customer_t c;
    arb_err_t err = {0};
    if (arb_record_decode(data, size, &c, &a, &err) != 0) {
        FUZZ_CHECK(err.code == ARB_INTERNAL && err.message[0], "a refusal without its message");
        FUZZ_CHECK(c.n_events == 0 && c.n_contacts == 0 && c.id && !c.id[0], "a refusal left data behind");
        arb_arena_free(&a);
        return;
    }
    FUZZ_CHECK(!c.pseudonym || arb_record_pseudonym_ok(c.pseudonym), "a malformed pseudonym decoded");
    uint8_t *e1, *e2;
    size_t n1, n2;
    FUZZ_CHECK(arb_record_encode(&c, &e1, &n1, &err) == 0, "re-encoding failed: %s", err.message);
    arb_customer_t d;
    FUZZ_CHECK(arb_record_decode(e1, n1, &d, &a, &err) == 0, "a re-encoded record is refused: %s", err.message);
    FUZZ_CHECK(arb_record_encode(&d, &e2, &n2, &err) == 0, "encoding failed: %s", err.message);
    FUZZ_CHECK(n1 == n2 && memcmp(e1, e2, n1) == 0, "encode(decode()) is not stable");
    free(e1);
    free(e2);

    arb_event_t ev = {1790000000, "view", "web", "SKU-1", "shoes", NAN, NULL, 0};
    arb_consent_t cs = {1790000000, "email", false};
    arb_outcome_t oc = {1790000000, "boots", "click", "d-1", "web", NAN};
    arb_cap_t cap = {"boots", NULL, 3, 86400, NULL, 0};
    arb_contact_req_t k = {{1790000000, "boots", "web", "decision"}, &cap, 1};
    arb_offer_req_t of = {{1790000000, "d-1", "boots", "web", ""}, 0};
    arb_learn_rule_t rule = {"click", true};
    arb_retention_t rt = {.max_age = 86400 * 90, .max_events = 50, .max_contacts = 50, .max_outcomes = 50,
                          .max_offers = 50, .max_recommended = 50};
    arb_commit_t cm = {.now = 1790000000, .events = &ev, .n_events = 1, .consents = &cs, .n_consents = 1,
                       .outcomes = &oc, .n_outcomes = 1, .contacts = &k, .n_contacts = 1,
                       .offers = &of, .n_offers = 1, .learn = &rule,
                       .pseudonym = "0123456789abcdef0123456789abcdef"};
    arb_customer_t m;
    bool granted[1];
    arb_commit_result_t res;
    FUZZ_CHECK(arb_commit_merge(&c, &cm, &rt, &a, &m, granted, &res, &err) == 0, "merge failed: %s",
               err.message);
    FUZZ_CHECK(m.n_events <= 50 && m.n_contacts <= 50 && m.n_offers <= 50, "retention not applied");
    FUZZ_CHECK(res.learn_positives <= 1 && res.learn_trials <= 1, "learned more than one per offer");
    FUZZ_CHECK(!res.learn_known || (res.learn_decision_id && strcmp(res.learn_decision_id, "d-1") == 0),
               "learned from an offer of another decision");
    FUZZ_CHECK(m.pseudonym && strcmp(m.pseudonym, c.pseudonym ? c.pseudonym : cm.pseudonym) == 0,
               "the pseudonym was neither kept nor adopted");
    if (arb_record_encode(&m, &e1, &n1, &err) == 0) {
        FUZZ_CHECK(arb_record_decode(e1, n1, &d, &a, &err) == 0, "a merged record is refused: %s", err.message);
        free(e1);
    }
    /* A feedback naming no decision: the customer's latest offer of it. */
    arb_outcome_t anon = {1790000001, "boots", "impression", NULL, "web", NAN};
    arb_commit_t fb = {.now = 1790000001, .outcomes = &anon, .n_outcomes = 1, .learn = &rule};
    arb_customer_t m2;
    FUZZ_CHECK(arb_commit_merge(&m, &fb, &rt, &a, &m2, granted, &res, &err) == 0, "merge failed: %s",
               err.message);
    FUZZ_CHECK(res.learn_positives == 0 && res.learn_trials <= 1, "an impression learned a positive");
    if (arb_record_encode(&m2, &e1, &n1, &err) == 0) {
        FUZZ_CHECK(arb_record_decode(e1, n1, &d, &a, &err) == 0, "a merged record is refused: %s", err.message);
        free(e1);
    }
    arb_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);  /* exact size: ASan sees any over-read */
    memcpy(copy, data, size);
    check(copy, size);
    /* The same bytes with a correct checksum, to reach the payload checks. */
    if (size >= ARB_RECORD_HEADER && memcmp(copy, "ARBC", 4) == 0) {
        uint32_t plen = (uint32_t)copy[5] | (uint32_t)copy[6] << 8 | (uint32_t)copy[7] << 16 |
                        (uint32_t)copy[8] << 24;
        if (plen <= size - ARB_RECORD_HEADER) {
            uint32_t crc = (uint32_t)crc32(0, copy + ARB_RECORD_HEADER, plen);
            for (int i = 0; i < 4; i++) copy[9 + i] = (crc >> (8 * i)) & 0xff;
            check(copy, size);
        }
    }
    free(copy);
    return 0;
}
