/* Control groups and experiments on the decide side (see control.h).
 *
 * Keeps decide/'s rule (it reads a compiled ruleset and a context, and
 * writes no state): membership is asked of request/bucket.h only.
 */
#include "engine/decide/control.h"

#include <string.h>

#include "engine/request/bucket.h"

static bool in_share(double share, const char *salt, size_t salt_len, arb_str_t id)
{
    return share > 0 && arb_bucket(salt, salt_len, id.ptr, id.len) < share;
}

const arb_ruleset_t *arb__control_split(const arb_ruleset_t *rs, arb_str_t id,
                                        const char **experiment, const char **arm)
{
    const arb_experiment_t *e = rs->experiment;
    *experiment = NULL;
    *arm = NULL;
    if (!e || !e->ruleset) return rs;
    if (!id.ptr) return rs;
    *experiment = e->name;
    if (in_share(e->share, e->salt, e->salt_len, id)) {
        *arm = "challenger";
        return e->ruleset;
    }
    *arm = "champion";
    return rs;
}

const arb_control_t *arb__control_of(const arb_ruleset_t *rs, uint32_t i, arb_str_t customer_id)
{
    int32_t k = rs->action_control ? rs->action_control[i] : -1;
    if (k < 0) return NULL;
    const arb_control_t *c = &rs->controls[k];
    return in_share(c->share, c->salt, c->salt_len, customer_id) ? c : NULL;
}

bool arb__control_global(const arb_ruleset_t *rs, arb_str_t customer_id)
{
    return in_share(rs->control.share, rs->control.salt, rs->control.salt_len, customer_id);
}

arb_held_t *arb__held_alloc(const arb_ruleset_t *rs, int limit, arb_arena_t *arena, uint32_t *cap)
{
    size_t n = (rs->control.share > 0 && limit > 0 ? (size_t)limit : 0) + rs->n_controlled;
    *cap = (uint32_t)n;
    return n ? arb_arena_alloc(arena, sizeof(arb_held_t) * n) : NULL;
}
