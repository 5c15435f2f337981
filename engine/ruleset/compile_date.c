/* Compiling the date words (dsl/prelude.lua, "dates, seasons,
 * anniversaries"): since, until_date, anniversary, month, season and
 * day_between become C nodes (compiled.h, ARB_OP_SINCE and after), so no
 * Lua runs for them at decide time. Keeps the ruleset folder's rule: a
 * mistake is a problem of the load, never an abort. The prelude checked
 * the words' arguments where the rule was written; the bounds here catch
 * a table changed after it was made.
 */
#include "engine/ruleset/ruleset_int.h"

#include <string.h>

#include "engine/ruleset/rawread.h"

/* Longest anniversary look-ahead: a year and a day, so that two candidate
 * years (this one and the next) always cover it. */
#define MAX_WITHIN (366.0 * 86400)

bool arb__date_op(const char *op)
{
    static const char *const ops[] = { "since", "until", "anniversary", "month", "day", NULL };
    for (int i = 0; ops[i]; i++)
        if (strcmp(op, ops[i]) == 0) return true;
    return false;
}

/* The attribute key of a date word, as a symbol. */
static int32_t date_key(compiler_t *cc, int idx)
{
    size_t len;
    const char *name = spec_piece_string(cc, idx, "name", &len);
    return name ? arb__intern(cc, name, len) : -1;
}

int arb__compile_date_cond(compiler_t *cc, int idx, const char *op, arb_node_t *n)
{
    if (strcmp(op, "since") == 0 || strcmp(op, "until") == 0) {
        n->op = op[0] == 's' ? ARB_OP_SINCE : ARB_OP_UNTIL;
        n->sym = date_key(cc, idx);
        return n->sym < 0 ? -1 : 0;   /* the comparison: compile_cond.c */
    }
    if (strcmp(op, "anniversary") == 0) {
        n->op = ARB_OP_ANNIVERSARY;
        n->sym = date_key(cc, idx);
        n->a = (int)spec_piece_number(cc, idx, "years", 0, 0, 10000);
        n->num = spec_piece_number(cc, idx, "within", 86400, 1, MAX_WITHIN);
        return n->sym < 0 ? -1 : 0;
    }
    if (strcmp(op, "month") == 0) {
        n->op = ARB_OP_MONTH;
        n->a = (int)spec_piece_number(cc, idx, "mask", 0, 2, 8190);   /* bits 1-12 */
        return 0;
    }
    n->op = ARB_OP_DAY_OF_YEAR;
    n->a = (int)spec_piece_number(cc, idx, "from", 101, 101, 1231);
    n->b = (int)spec_piece_number(cc, idx, "to", 1231, 101, 1231);
    return 0;
}
