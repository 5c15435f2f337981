/* Fuzz target: the learned arms' stored value (engine/state/arms.c), the
 * file format every store backend keeps an action's arms in, and the merge
 * a sync runs on whatever a stored value decodes to.
 *
 * Input: the bytes of a stored value (the seeds are real values; a value
 * with a wrong checksum is refused early, so the target also tries the
 * input with its checksum recomputed, to reach the payload checks).
 *
 * Properties checked:
 *   - decode never crashes, leaks or reads past the input (ASan), and on
 *     failure gives an ARB_INTERNAL error with a message and no arms;
 *   - what decodes has finite counts >= 0 and strings within the limits, and
 *     re-encodes to a value that decodes to the same encoding;
 *   - a sync's step (arb_arms_plan_apply with deltas for an existing arm and
 *     a new one, the action read back) on any value that decodes succeeds,
 *     gives a value that decodes, and counts the new trials; on a value that
 *     does not decode it fails with ARB_INTERNAL and nothing to store.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "engine/state/arms.h"
#include "tests/fuzz/fuzz_util.h"

static void check(const uint8_t *data, size_t size)
{
    arb_arena_t a;
    arb_arena_init(&a);
    arb_arm_t *arms;
    size_t n;
    arb_err_t err = {0};
    int rc = arb_arms_decode(data, size, NULL, &arms, &n, &a, &err);
    const char *action = "boots";
    if (rc != 0) {
        FUZZ_CHECK(err.code == ARB_INTERNAL && err.message[0], "a refusal without its message");
        FUZZ_CHECK(!arms && !n, "a refusal left arms behind");
    } else {
        FUZZ_CHECK(n <= ARB_ARMS_MAX, "too many arms: %zu", n);
        for (size_t i = 0; i < n; i++) {
            FUZZ_CHECK(isfinite(arms[i].positives) && arms[i].positives >= 0, "positives %g", arms[i].positives);
            FUZZ_CHECK(isfinite(arms[i].trials) && arms[i].trials >= 0, "trials %g", arms[i].trials);
            FUZZ_CHECK(strlen(arms[i].channel) <= ARB_ARMS_STR_MAX && strlen(arms[i].segment) <= ARB_ARMS_STR_MAX,
                       "a string past the limit");
        }
        action = n ? arms[0].action : action;
        uint8_t *e1, *e2;
        size_t n1, n2;
        FUZZ_CHECK(arb_arms_encode(action, arms, n, &e1, &n1, &err) == 0, "re-encoding failed: %s", err.message);
        arb_arm_t *again;
        size_t k;
        FUZZ_CHECK(arb_arms_decode(e1, n1, action, &again, &k, &a, &err) == 0, "a re-encoded value is refused: %s",
                   err.message);
        FUZZ_CHECK(k == n, "re-decoding changed the count");
        FUZZ_CHECK(arb_arms_encode(action, again, k, &e2, &n2, &err) == 0, "encoding failed: %s", err.message);
        FUZZ_CHECK(n1 == n2 && memcmp(e1, e2, n1) == 0, "encode(decode()) is not stable");
        free(e1);
        free(e2);
    }
    /* The key's action: the stored one when arms decode (an empty value's
     * action is not known here: "boots", which it may not name). */
    char key[ARB_ARMS_STR_MAX + 1];
    snprintf(key, sizeof key, "%s", action);
    const char *chan = rc == 0 && n ? arms[0].channel : "web";
    const char *seg = rc == 0 && n ? arms[0].segment : "";
    double before = rc == 0 && n ? arms[0].trials : 0;
    int64_t at = rc == 0 && n ? arms[0].at : 0;
    arb_arm_delta_t ds[] = {{key, chan, seg, 1, 1, at, 0}, {key, "fuzz-new-channel", "", 0, 2, at, 0}};
    const char *want[] = {key};
    arb_arms_sync_t req = {ds, 2, want, 1};
    arb_arms_plan_t p;
    FUZZ_CHECK(arb_arms_plan_init(&p, &req, &err) == 0, "a plan of good deltas refused: %s", err.message);
    uint8_t *rec;
    size_t len;
    int arc = arb_arms_plan_apply(&p, 0, data, size, "fuzz", &rec, &len, &err);
    if (rc != 0) {
        FUZZ_CHECK(arc != 0 && err.code == ARB_INTERNAL && !rec, "a bad value was merged");
    } else if (arc == 0) {
        FUZZ_CHECK(rec != NULL, "deltas but nothing to store");
        arb_arm_t *m;
        size_t mk;
        FUZZ_CHECK(arb_arms_decode(rec, len, key, &m, &mk, &a, &err) == 0, "a merged value is refused: %s",
                   err.message);
        FUZZ_CHECK(mk >= n && mk <= n + 2 && mk <= ARB_ARMS_MAX, "merge changed the arm count oddly: %zu -> %zu",
                   n, mk);
        const arb_arm_t *res;
        size_t rn;
        FUZZ_CHECK(arb_arms_plan_result(&p, &res, &rn, &err) == 0 && rn == mk, "read-back is not what was stored");
        for (size_t i = 0; i < mk; i++)
            if (!strcmp(m[i].channel, chan) && !strcmp(m[i].segment, seg))
                FUZZ_CHECK(m[i].trials >= before + 1 - 1e-9 * (before + 1), "a trial was lost: %g -> %g", before,
                           m[i].trials);
        free(rec);
    } else {
        /* An empty value naming another action than the key's. */
        FUZZ_CHECK(err.code == ARB_INTERNAL && !rec, "a merge failed without its error");
    }
    arb_arms_plan_free(&p);
    arb_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);  /* exact size: ASan sees any over-read */
    memcpy(copy, data, size);
    check(copy, size);
    /* The same bytes with a correct checksum, to reach the payload checks. */
    if (size >= ARB_ARMS_HEADER && memcmp(copy, "ARBA", 4) == 0) {
        uint32_t plen = (uint32_t)(size - ARB_ARMS_HEADER);
        for (int i = 0; i < 4; i++) copy[5 + i] = (plen >> (8 * i)) & 0xff;
        uint32_t crc = (uint32_t)crc32(0, copy + ARB_ARMS_HEADER, plen);
        for (int i = 0; i < 4; i++) copy[9 + i] = (crc >> (8 * i)) & 0xff;
        check(copy, size);
    }
    free(copy);
    return 0;
}
