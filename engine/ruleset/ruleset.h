/* Rulesets: loading a folder of rule files into a compiled, validated
 * ruleset, and describing it.
 *
 * A ruleset is loaded whole or not at all: arb_ruleset_load either returns a
 * ruleset or NULL with every problem found, each as "file:line: ...". A
 * loaded ruleset owns its own lua_State and is immutable once loaded. A
 * ruleset with plain Lua functions runs them in that state, so it serves one
 * thread at a time (each worker loads its own copy); one without (the
 * vocabulary alone) never touches its state after loading, and the workers
 * share a single copy (arb_ruleset_shareable, arb_ruleset_retain).
 */
#ifndef ARB_RULESET_H
#define ARB_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "engine/base/problems.h"

typedef struct arb_ruleset arb_ruleset_t;

/* Load and compile the rule files (*.lua except *_test.lua) of dir. seq
 * numbers the load in the version string ("<seq>-<checksum prefix>").
 * Returns the ruleset (caller owns; free with arb_ruleset_free) or NULL with
 * problems filled. */
arb_ruleset_t *arb_ruleset_load(const char *dir, uint64_t seq, arb_problems_t *problems);

/* Drop one owner's hold on rs (NULL is ignored); the last frees it. */
void arb_ruleset_free(arb_ruleset_t *rs);

/* Whether several threads may decide with rs at once: it has no plain Lua
 * function, so deciding only reads it. */
bool arb_ruleset_shareable(const arb_ruleset_t *rs);

/* One more owner of a shareable rs, who frees it with arb_ruleset_free.
 * Returns rs. */
arb_ruleset_t *arb_ruleset_retain(arb_ruleset_t *rs);

/* "<seq>-<first 12 hex of checksum>", stable for the ruleset's life. */
const char *arb_ruleset_version(const arb_ruleset_t *rs);

/* Number of actions (fallbacks included). */
size_t arb_ruleset_action_count(const arb_ruleset_t *rs);

/* Pack the `ruleset` method's result map. */
void arb_ruleset_pack_info(const arb_ruleset_t *rs, msgpack_packer *pk);

#endif
