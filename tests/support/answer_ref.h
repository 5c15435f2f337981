/* The answer writer of a decision as it was before issue 19 gathered it
 * into one write (engine/wire/answer.c and base/pack.c's arb_pack_text at
 * 72b7115, copied unchanged but for the names): the reference the packer
 * of today must match byte for byte. Every rule test's decision is packed
 * by both (rulefix.c), and test_answer_same packs the benchmark's 1,000
 * contexts and hand-made edge cases by both. Code in answer_ref.c.
 */
#ifndef TESTS_ANSWER_REF_H
#define TESTS_ANSWER_REF_H

#include <msgpack.h>
#include <stddef.h>

#include "engine/request/decision.h"

/* Pack dec as the old writer did, one callback per item. */
void ar_pack_decision_ref(msgpack_packer *pk, const arb_decision_t *dec);

/* Pack dec with arb_answer_pack_decision and with the reference into
 * fresh buffers; fail the test, naming the first byte that differs, unless
 * they are the same bytes. Returns the answer's size. */
size_t ar_expect_same(const arb_decision_t *dec);

#endif
