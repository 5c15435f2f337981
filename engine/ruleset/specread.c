/* Reading the fields of one declaration (see specread.h): every field a
 * spec or a vocabulary piece may have, read raw, checked as if a stranger
 * had written it, and reported at the declaration's file:line when wrong.
 */
#include "engine/ruleset/specread.h"

#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bindings/lua/sandbox.h"
#include "engine/ruleset/rawread.h"
#include "engine/base/utf8.h"


void spec_problem(compiler_t *cc, const char *fmt, ...)
{
    char msg[2 * ARB_PROBLEM_MAX_LEN];   /* arb_problems_add cuts it, marking the cut */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const decl_t *d = cc->d;
    if (cc->within && d->id) {
        arb_problems_add(cc->problems, "%s:%d: %s '%s': %s: %s", d->file, d->line, d->kind, d->id,
                         cc->within, msg);
        return;
    }
    if (d->id)
        arb_problems_add(cc->problems, "%s:%d: %s '%s': %s", d->file, d->line, d->kind, d->id, msg);
    else
        arb_problems_add(cc->problems, "%s:%d: %s: %s", d->file, d->line, d->kind, msg);
}


bool spec_has_mt(lua_State *L, int idx, int mt_slot)
{
    if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx)) return false;
    bool same = lua_rawequal(L, -1, mt_slot);
    lua_pop(L, 1);
    return same;
}

/* Levenshtein distance, for "did you mean". */
int spec_distance(const char *a, const char *b)
{
    int n = (int)strlen(a), m = (int)strlen(b);
    if (n > 30 || m > 30) return 99;
    int row[32];
    for (int j = 0; j <= m; j++) row[j] = j;
    for (int i = 1; i <= n; i++) {
        int prev = row[0];
        row[0] = i;
        for (int j = 1; j <= m; j++) {
            int cur = row[j];
            int best = prev + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[m];
}

/* Check that every key of the table at idx is one of allowed. */
void spec_check_fields(compiler_t *cc, int idx, const char *const *allowed)
{
    lua_State *L = cc->L;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            spec_problem(cc, "fields are named (name = value); found a positional value");
            continue;
        }
        const char *k = lua_tostring(L, -1);
        const char *near = NULL;
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++) ok = strcmp(k, *a) == 0;
        if (ok) continue;
        for (const char *const *a = allowed; *a && !near; a++)
            if (spec_distance(k, *a) <= 2) near = *a;
        char known[512] = "";
        for (const char *const *a = allowed; *a; a++) {
            if (*known) strncat(known, ", ", sizeof known - strlen(known) - 1);
            strncat(known, *a, sizeof known - strlen(known) - 1);
        }
        if (near) spec_problem(cc, "unknown field '%s' (did you mean '%s'?)", k, near);
        else spec_problem(cc, "unknown field '%s' (fields are: %s)", k, known);
    }
}

const char *spec_lua_type_article(lua_State *L, int idx)
{
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER: return "a number";
    case LUA_TSTRING: return "a string";
    case LUA_TTABLE: return "a table";
    case LUA_TFUNCTION: return "a function";
    case LUA_TBOOLEAN: return "a boolean";
    case LUA_TNIL: return "nothing";
    default: return luaL_typename(L, idx);
    }
}

/* Field `name` of the spec at idx as a number; absent -> def. */
double spec_field_number(compiler_t *cc, int idx, const char *name, double def, bool required,
                           double lo, double hi)
{
    lua_State *L = cc->L;
    double v = def;
    int t = arb_raw_field(L, idx, name);
    if (t == LUA_TNIL) {
        if (required) spec_problem(cc, "'%s' is required", name);
    } else if (t != LUA_TNUMBER) {
        spec_problem(cc, "'%s' must be a number, not %s", name, spec_lua_type_article(L, -1));
    } else {
        v = lua_tonumber(L, -1);
        if (!isfinite(v) || v < lo || v > hi) {
            spec_problem(cc, "'%s' must be between %g and %g", name, lo, hi);
            v = def;
        }
    }
    lua_pop(L, 1);
    return v;
}

/* An identifier ends up in answers and logs: it must be valid UTF-8. */
bool spec_utf8_ok(compiler_t *cc, const char *what, const char *s, size_t len)
{
    if (arb_utf8_valid(s, len)) return true;
    spec_problem(cc, "%s is not valid UTF-8 (byte %zu)", what, arb_utf8_first_invalid(s, len) + 1);
    return false;
}

/* Field `name` as a string (owned by the spec, which the caller keeps on
 * the stack), or NULL when absent or wrong. An identifier (id) must also be
 * valid UTF-8. */
const char *spec_field_string(compiler_t *cc, int idx, const char *name, bool required, bool id)
{
    lua_State *L = cc->L;
    const char *v = NULL;
    size_t len = 0;
    int t = arb_raw_field(L, idx, name);
    if (t == LUA_TNIL) {
        if (required) spec_problem(cc, "'%s' is required", name);
    } else if (t != LUA_TSTRING) {
        spec_problem(cc, "'%s' must be a string, not %s", name, spec_lua_type_article(L, -1));
    } else {
        v = lua_tolstring(L, -1, &len);
        char what[80];
        snprintf(what, sizeof what, "'%s'", name);
        if (id && !spec_utf8_ok(cc, what, v, len)) v = NULL;
    }
    lua_pop(L, 1);   /* the string stays alive: the spec holds it */
    return v;
}


/* Push field `name` of the spec at idx as a list (pop with list_close). */
spec_list_t spec_list_open(compiler_t *cc, int idx, const char *name, bool required)
{
    lua_State *L = cc->L;
    spec_list_t l = { .n = -1, .name = name };
    int t = arb_raw_field(L, idx, name);
    l.idx = lua_gettop(L);
    if (t == LUA_TNIL) {
        if (required) spec_problem(cc, "'%s' is required", name);
    } else if (t == LUA_TSTRING) {
        l.single = true;
        l.n = 1;
    } else if (t != LUA_TTABLE || arb_raw_has_mt(L, -1)) {
        spec_problem(cc, "'%s' must be a list of strings, as in %s = { \"a\", \"b\" }", name, name);
        l.n = 0;
    } else {
        lua_Unsigned n = lua_rawlen(L, -1);
        l.n = n > INT32_MAX ? INT32_MAX : (int)n;
        if (l.n == 0 && required) spec_problem(cc, "'%s' must not be empty", name);
    }
    return l;
}

/* An item costs about what the C heap keeps for it (its copies, an
 * interned symbol, its slots: some 100 bytes) at one instruction per 2.5
 * bytes, and its bytes at one per 2: the whole load's 50 million
 * instructions then let the compiler keep at most some 125 MB. A ruleset
 * of 10,000 actions with 10 items each uses 8% of it. */
#define SPEC_ITEM_COST 40
#define SPEC_ITEM_BYTES_PER_INSTRUCTION 2

void spec_charge_item(compiler_t *cc, size_t len)
{
    arb__sandbox_charge(cc->L, SPEC_ITEM_COST + (double)len / SPEC_ITEM_BYTES_PER_INSTRUCTION);
}

/* Item i (0-based, below l->n) as a valid UTF-8 string, or NULL with a
 * problem. The string stays alive while the list is on the stack. */
const char *spec_list_item(compiler_t *cc, const spec_list_t *l, int i, size_t *len)
{
    lua_State *L = cc->L;
    const char *s = NULL;
    *len = 0;
    if (l->single) {
        s = lua_tolstring(L, l->idx, len);
    } else {
        if (lua_rawgeti(L, l->idx, i + 1) != LUA_TSTRING)
            spec_problem(cc, "'%s' item %d must be a string, not %s", l->name, i + 1,
                    spec_lua_type_article(L, -1));
        else
            s = lua_tolstring(L, -1, len);
        lua_pop(L, 1);   /* the list holds the string */
    }
    spec_charge_item(cc, s ? *len : 0);
    char what[80];
    snprintf(what, sizeof what, "'%s' item %d", l->name, i + 1);
    return s && spec_utf8_ok(cc, what, s, *len) ? s : NULL;
}

void spec_list_close(compiler_t *cc, const spec_list_t *l) { lua_settop(cc->L, l->idx - 1); }

/* Call each(cc, string, len, i, ud) for the list of strings in field `name`.
 * Returns the count, or -1 when the field is absent. */
int spec_field_string_list(compiler_t *cc, int idx, const char *name, bool required,
                             void (*each)(compiler_t *, const char *, size_t, int, void *),
                             void *ud)
{
    spec_list_t l = spec_list_open(cc, idx, name, required);
    for (int i = 0; i < l.n; i++) {
        size_t len;
        const char *s = spec_list_item(cc, &l, i, &len);
        if (s) each(cc, s, len, i, ud);
    }
    spec_list_close(cc, &l);
    return l.n;
}

/* "2026-11-01" or "2026-11-01T08:00:00Z" or unix seconds. */
int64_t spec_field_date(compiler_t *cc, int idx, const char *name)
{
    lua_State *L = cc->L;
    int64_t v = 0;
    int t = arb_raw_field(L, idx, name);
    if (t == LUA_TNUMBER && lua_isinteger(L, -1)) {
        v = lua_tointeger(L, -1);
    } else if (t == LUA_TSTRING) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *s = lua_tostring(L, -1);
        int n = 0;
        if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) == 3 &&
            (s[n] == '\0' || sscanf(s + n, "T%2d:%2d:%2dZ", &tm.tm_hour, &tm.tm_min, &tm.tm_sec) == 3) &&
            tm.tm_mon >= 1 && tm.tm_mon <= 12 && tm.tm_mday >= 1 && tm.tm_mday <= 31) {
            tm.tm_year -= 1900;
            tm.tm_mon -= 1;
            struct tm want = tm, back;
            time_t when = timegm(&tm);
            /* timegm normalises 30 February into March: refuse what moved. */
            if (!gmtime_r(&when, &back) || back.tm_mday != want.tm_mday || back.tm_mon != want.tm_mon ||
                back.tm_hour != want.tm_hour || back.tm_min != want.tm_min ||
                back.tm_sec != want.tm_sec)
                spec_problem(cc, "'%s' must be a date that exists; %s does not", name, s);
            v = (int64_t)when;
        } else {
            spec_problem(cc, "'%s' must be a date such as \"2026-11-01\" or \"2026-11-01T08:00:00Z\"", name);
        }
    } else if (t != LUA_TNIL) {
        spec_problem(cc, "'%s' must be a date string or unix seconds", name);
    }
    lua_pop(L, 1);
    return v;
}

/* ---- untrusted pieces
 *
 * Conditions, comparisons and weights are tables the prelude made, but a
 * rule holds them before declaring and may change them: every field is
 * checked again here, as if a stranger had written it. */

const char *const SPEC_CHANGED = " (was it changed after it was made?)";

/* Field `name` of the piece at idx as a string, or NULL with a problem. */
const char *spec_piece_string(compiler_t *cc, int idx, const char *name, size_t *len)
{
    lua_State *L = cc->L;
    const char *v = NULL;
    if (arb_raw_field(L, idx, name) == LUA_TSTRING) v = lua_tolstring(L, -1, len);
    else spec_problem(cc, "a condition's '%s' is missing or not a string%s", name, SPEC_CHANGED);
    lua_pop(L, 1);   /* the string stays alive: the table holds it */
    return v;
}

/* Field `name` as a number in [lo, hi]; def when absent. */
double spec_piece_number(compiler_t *cc, int idx, const char *name, double def, double lo,
                           double hi)
{
    lua_State *L = cc->L;
    double v = def;
    int t = arb_raw_field(L, idx, name);
    if (t == LUA_TNUMBER) {
        v = lua_tonumber(L, -1);
        if (!(v >= lo && v <= hi)) {
            spec_problem(cc, "a condition's '%s' must be between %g and %g%s", name, lo, hi, SPEC_CHANGED);
            v = def;
        }
    } else if (t != LUA_TNIL) {
        spec_problem(cc, "a condition's '%s' must be a number%s", name, SPEC_CHANGED);
    }
    lua_pop(L, 1);
    return v;
}
