/* Compiling the words on purchases and events by any field (bought
 * { channel = "store" }), on their order in time (before,
 * since_last_purchase, first_purchase, last_purchase) and the
 * single-category shopper (only_bought, one_category) into the nodes of
 * compiled.h that eval_hist.c answers. Keeps the loader's rule: a table a
 * rule changed after the vocabulary built it is a problem of the load,
 * never a crash, and nothing here runs at decide time.
 */
#include "engine/ruleset/compile_hist.h"

#include <string.h>

#include "engine/ruleset/rawread.h"

static const struct {
    const char *name;   /* the condition table's op */
    arb_op_t op;
    bool where;         /* an existing word's op: only with where = true */
    bool cmp;           /* has a comparison */
} WORDS[] = {
    { "bought", ARB_OP_BOUGHT_WHERE, true, false },
    { "event", ARB_OP_EVENT_WHERE, true, false },
    { "purchases", ARB_OP_PURCHASES_WHERE, true, true },
    { "spent", ARB_OP_SPENT_WHERE, true, true },
    { "before", ARB_OP_BEFORE, false, false },
    { "since_last_purchase", ARB_OP_SINCE_LAST, false, false },
    { "first_purchase", ARB_OP_FIRST_PURCHASE, false, true },
    { "last_purchase", ARB_OP_LAST_PURCHASE, false, true },
    { "only_bought", ARB_OP_ONLY_BOUGHT, false, false },
    { "one_category", ARB_OP_ONE_CATEGORY, false, false },
};

bool arb__compile_hist(compiler_t *cc, int idx, const char *op, arb_node_t *n)
{
    lua_State *L = cc->L;
    size_t w = 0;
    while (w < sizeof WORDS / sizeof WORDS[0] && strcmp(op, WORDS[w].name) != 0) w++;
    if (w == sizeof WORDS / sizeof WORDS[0]) return false;
    if (WORDS[w].where) {
        /* bought("laptop") stays the indexed ARB_OP_BOUGHT: only a filter
         * of named fields is read record by record. */
        bool where = arb_raw_field(L, idx, "where") == LUA_TBOOLEAN && lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (!where) return false;
    }
    n->op = WORDS[w].op;
    if (n->op == ARB_OP_EVENT_WHERE) {
        if (arb_raw_field(L, idx, "type") == LUA_TSTRING) {
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            n->sym2 = arb__intern(cc, s, len);
        } else {
            spec_problem(cc, "an event condition's 'type' must be a string%s", SPEC_CHANGED);
        }
        lua_pop(L, 1);
    }
    if (WORDS[w].cmp) {
        arb_raw_field(L, idx, "cmp");
        arb__compile_cmp(cc, lua_gettop(L), &n->cmp);
        lua_pop(L, 1);
    }
    return true;
}

/* Whether node k matches purchases or events at times: before and
 * since_last_purchase order those. */
static bool is_match(const arb_ruleset_t *rs, uint32_t k)
{
    const arb_node_t *n = &rs->nodes[k];
    if (arb_op_is_match(n->op)) return true;
    if (n->op != ARB_OP_ANY || n->count == 0) return false;
    for (uint32_t i = 0; i < n->count; i++)   /* kids come first: bounded by the nesting */
        if (!is_match(rs, rs->kids[n->first + i])) return false;
    return true;
}

int32_t arb__compile_hist_done(compiler_t *cc, int32_t node)
{
    if (node < 0) return node;
    const arb_ruleset_t *rs = cc->rs;
    const arb_node_t *n = &rs->nodes[node];
    uint32_t want = n->op == ARB_OP_BEFORE ? 2 : n->op == ARB_OP_SINCE_LAST ? 1 : 0;
    bool fields = n->op == ARB_OP_BOUGHT_WHERE || n->op == ARB_OP_EVENT_WHERE ||
                  n->op == ARB_OP_PURCHASES_WHERE || n->op == ARB_OP_SPENT_WHERE ||
                  n->op == ARB_OP_ONLY_BOUGHT;
    if (!fields && n->count != want) {
        spec_problem(cc, "a condition on the order of purchases and events has %u parts, not %u%s",
                     n->count, want, SPEC_CHANGED);
        return -1;
    }
    for (uint32_t i = 0; i < n->count; i++) {
        uint32_t k = rs->kids[n->first + i];
        if (fields ? rs->nodes[k].op != ARB_OP_ATTR : !is_match(rs, k)) {
            spec_problem(cc, fields ? "a filter's item %u is not a field%s"
                                    : "part %u is not a purchase or an event%s", i + 1, SPEC_CHANGED);
            return -1;
        }
    }
    return node;
}
