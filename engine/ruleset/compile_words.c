/* Explain's words for compiled conditions: the text of the vocabulary call
 * that built each condition node (`bought("laptop", within(days(30)))`),
 * rendered back at load from the condition's table (its op and fields, as
 * dsl/prelude.lua builds them) and kept on the node, or "function at
 * file:line" for a plain Lua function. Kept here so that compile_cond.c
 * only hands over the node it compiled; keeps ruleset/'s rule: everything
 * is read at load, so a decision with explain only looks the words up
 * (decide/explain.c) and one without never does. Words stay bounded: a
 * part inside an all, any or no is cut at PART_MAX bytes, the whole at
 * WORDS_MAX, so that conditions shared 2^60 ways or nested 100,000 deep
 * cost a few hundred bytes each.
 */
#include "engine/ruleset/ruleset_int.h"

#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ruleset/rawread.h"

#define WORDS_MAX 240
#define PART_MAX 80

typedef struct words {
    char b[WORDS_MAX + 1];
    size_t n;
    int args;           /* arguments written in the current call */
    bool cut;           /* something did not fit */
} words_t;

static void put(words_t *w, const char *s, size_t len)
{
    size_t room = WORDS_MAX - w->n;
    if (len > room) {
        len = room;
        w->cut = true;
    }
    memcpy(w->b + w->n, s, len);
    w->n += len;
    w->b[w->n] = '\0';
}

static void put_s(words_t *w, const char *s) { put(w, s, strlen(s)); }

static void put_f(words_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_f(words_t *w, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k > 0) put(w, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

/* Before each argument of a call. */
static void arg(words_t *w)
{
    if (w->args++) put_s(w, ", ");
}

static void quoted(words_t *w, const char *s, size_t len)
{
    put_s(w, "\"");
    for (size_t i = 0; i < len && !w->cut; i++) {
        if (s[i] == '"' || s[i] == '\\') put_s(w, "\\");
        put(w, s + i, 1);
    }
    put_s(w, "\"");
}

static void duration(words_t *w, double s)
{
    if (fmod(s, 86400) == 0) put_f(w, "days(%.14g)", s / 86400);
    else if (fmod(s, 3600) == 0) put_f(w, "hours(%.14g)", s / 3600);
    else if (fmod(s, 60) == 0) put_f(w, "minutes(%.14g)", s / 60);
    else put_f(w, "seconds(%.14g)", s);
}

/* Field name of the table at t as a quoted argument; false when it is not
 * a string. */
static bool str_arg(lua_State *L, int t, const char *name, words_t *w)
{
    bool ok = arb_raw_field(L, t, name) == LUA_TSTRING;
    if (ok) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        arg(w);
        quoted(w, s, len);
    }
    lua_pop(L, 1);
    return ok;
}

static double num_field(lua_State *L, int t, const char *name)
{
    double v = arb_raw_field(L, t, name) == LUA_TNUMBER ? lua_tonumber(L, -1) : NAN;
    lua_pop(L, 1);
    return v;
}

static void window_arg(lua_State *L, int t, words_t *w)
{
    double s = num_field(L, t, "window");
    if (isnan(s) || s < 0) return;
    arg(w);
    put_s(w, "within(");
    duration(w, s);
    put_s(w, ")");
}

/* The comparison in field cmp (at_least(3), "gold", one_of { ... }) as an
 * argument; nothing for "exists". */
static void cmp_arg(lua_State *L, int t, words_t *w)
{
    int top = lua_gettop(L);
    if (arb_raw_field(L, t, "cmp") != LUA_TTABLE || arb_raw_field(L, top + 1, "op") != LUA_TSTRING) {
        lua_settop(L, top);
        return;
    }
    const char *op = lua_tostring(L, -1);
    static const char *const names[][2] = { { "ge", "at_least" }, { "le", "at_most" },
                                            { "gt", "above" }, { "lt", "below" } };
    double a = num_field(L, top + 1, "a"), b = num_field(L, top + 1, "b");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(op, names[i][0]) == 0) {
            arg(w);
            put_f(w, "%s(%.14g)", names[i][1], a);
        }
    if (strcmp(op, "between") == 0) {
        arg(w);
        put_f(w, "between(%.14g, %.14g)", a, b);
    } else if (strcmp(op, "eq") == 0) {
        if (!str_arg(L, top + 1, "s", w)) {
            arg(w);
            put_f(w, "%.14g", a);
        }
    } else if (strcmp(op, "one_of") == 0 && arb_raw_field(L, top + 1, "list") == LUA_TTABLE) {
        arg(w);
        put_s(w, "one_of { ");
        int list = lua_gettop(L), n = 0;
        lua_Unsigned len = lua_rawlen(L, list);
        for (lua_Unsigned i = 1; i <= len && !w->cut; i++) {
            lua_rawgeti(L, list, (lua_Integer)i);
            size_t sl;
            const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &sl) : NULL;
            if (s) {
                if (n++) put_s(w, ", ");
                quoted(w, s, sl);
            }
            lua_pop(L, 1);
        }
        put_s(w, " }");
    }
    lua_settop(L, top);
}

/* n, or less so that s[0..n) does not end inside a UTF-8 character. */
static size_t utf8_cut(const char *s, size_t n)
{
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    return n;
}

/* The words of already compiled node k, cut to PART_MAX. */
static void part(const arb_ruleset_t *rs, uint32_t k, words_t *w)
{
    uint32_t i = k < rs->n_nodes ? rs->nodes[k].words : 0;
    const char *s = i && i <= rs->n_strs ? rs->strs[i - 1] : "?";
    size_t len = strlen(s);
    if (len > PART_MAX) {
        put(w, s, utf8_cut(s, PART_MAX - 3));
        put_s(w, "...");
    } else {
        put(w, s, len);
    }
}

static const char *event_word(const char *type)
{
    static const char *const names[][2] = {
        { "view", "viewed" }, { "cart_add", "added_to_cart" }, { "cart_abandon", "abandoned_cart" },
        { "email_open", "opened_email" }, { "email_click", "clicked_email" }, { "search", "searched" },
    };
    for (size_t i = 0; type && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(type, names[i][0]) == 0) return names[i][1];
    return NULL;
}

/* A filter's named fields as `{ category = "laptop", price = at_least(800),
 * within = days(14) }` (prelude.lua filter_of: the table's items are attr
 * conditions, its window in .window); nothing unless t is one. */
static void filter_arg(lua_State *L, int t, words_t *w)
{
    int top = lua_gettop(L);
    lua_Unsigned len = lua_rawlen(L, t);
    arg(w);
    put_s(w, "{ ");
    for (lua_Unsigned i = 1; i <= len && !w->cut; i++) {
        if (lua_rawgeti(L, t, (lua_Integer)i) != LUA_TTABLE) {
            lua_settop(L, top);
            continue;
        }
        int item = lua_gettop(L);
        if (arb_raw_field(L, item, "name") == LUA_TSTRING) {
            if (i > 1) put_s(w, ", ");
            put_s(w, lua_tostring(L, -1));
            put_s(w, " = ");
            int args = w->args;
            w->args = 0;   /* the comparison, without an argument's comma */
            cmp_arg(L, item, w);
            w->args = args;
        }
        lua_settop(L, top);
    }
    double s = num_field(L, t, "window");
    if (!isnan(s) && s >= 0) {
        put_s(w, len ? ", within = " : "within = ");
        duration(w, s);
    }
    put_s(w, " }");
}

static bool is_filter(lua_State *L, int t)
{
    bool yes = arb_raw_field(L, t, "where") == LUA_TBOOLEAN && lua_toboolean(L, -1);
    lua_pop(L, 1);
    return yes;
}

/* The words of the history and date words (prelude_history.lua,
 * prelude_dates.lua); false for an op that is none of them. */
static bool render_more(compiler_t *cc, int t, const char *op, const arb_node_t *n, words_t *w)
{
    lua_State *L = cc->L;
    if (strcmp(op, "before") == 0 || strcmp(op, "since_last_purchase") == 0) {
        put_f(w, "%s(", op);
        for (uint32_t k = 0; k < n->count; k++) {
            arg(w);
            part(cc->rs, cc->rs->kids[n->first + k], w);
        }
    } else if (strcmp(op, "first_purchase") == 0 || strcmp(op, "last_purchase") == 0) {
        put_f(w, "%s(", op);
        cmp_arg(L, t, w);
    } else if (strcmp(op, "only_bought") == 0) {
        put_s(w, "only_bought(");
        filter_arg(L, t, w);
    } else if (strcmp(op, "one_category") == 0) {
        put_s(w, "one_category(");
        window_arg(L, t, w);
    } else if (strcmp(op, "since") == 0 || strcmp(op, "until") == 0) {
        put_s(w, op[0] == 's' ? "since(" : "until_date(");
        str_arg(L, t, "name", w);
        cmp_arg(L, t, w);
    } else if (strcmp(op, "anniversary") == 0) {
        put_s(w, "anniversary(");
        str_arg(L, t, "name", w);
        double years = num_field(L, t, "years"), within = num_field(L, t, "within");
        arg(w);
        put_s(w, "{ ");
        if (years > 0) put_f(w, "years = %.14g, ", years);
        put_s(w, "within = ");
        duration(w, within);
        put_s(w, " }");
    } else if (strcmp(op, "month") == 0) {
        static const char *const months[] = { "jan", "feb", "mar", "apr", "may", "jun",
                                              "jul", "aug", "sep", "oct", "nov", "dec" };
        put_s(w, "month(");
        for (int m = 1; m <= 12; m++)
            if (n->a & (1 << m)) {
                arg(w);
                put_f(w, "\"%s\"", months[m - 1]);
            }
    } else if (strcmp(op, "day") == 0) {
        put_f(w, "day_between(\"%02d-%02d\", \"%02d-%02d\"", n->a / 100, n->a % 100,
              n->b / 100, n->b % 100);
    } else {
        return false;
    }
    return true;
}

/* The words of the condition table at t, compiled to node n. */
static void render(compiler_t *cc, int t, const arb_node_t *n, words_t *w)
{
    lua_State *L = cc->L;
    const arb_ruleset_t *rs = cc->rs;
    int top = lua_gettop(L);
    const char *op = arb_raw_field(L, t, "op") == LUA_TSTRING ? lua_tostring(L, -1) : "?";
    static const char *const one_string[][3] = {
        { "weather", "weather", "is" }, { "country", "in_country", "is" },
        { "consent", "consented", "name" }, { "segment", "segment", "name" },
        { "channel", "on_channel", "is" }, { "touchpoint", "at_touchpoint", "is" },
    };
    if (n->op == ARB_OP_ALL || n->op == ARB_OP_ANY || n->op == ARB_OP_NOT) {
        put_s(w, n->op == ARB_OP_NOT ? "no(" : n->op == ARB_OP_ALL ? "all { " : "any { ");
        for (uint32_t k = 0; k < n->count; k++) {
            if (k) put_s(w, ", ");
            if (w->n > WORDS_MAX - PART_MAX) {
                put_s(w, "...");
                break;
            }
            part(rs, rs->kids[n->first + k], w);
        }
        put_s(w, n->op == ARB_OP_NOT ? ")" : " }");
        lua_settop(L, top);
        return;
    }
    for (size_t i = 0; i < sizeof one_string / sizeof one_string[0]; i++)
        if (strcmp(op, one_string[i][0]) == 0) {
            put_f(w, "%s(", one_string[i][1]);
            str_arg(L, t, one_string[i][2], w);
            put_s(w, ")");
            lua_settop(L, top);
            return;
        }
    bool filter = is_filter(L, t);
    if (strcmp(op, "event") == 0) {
        const char *type = arb_raw_field(L, t, "type") == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        const char *word = event_word(type);
        put_f(w, "%s(", word ? word : "did");
        if (!word) str_arg(L, t, "type", w);
        if (filter) {
            filter_arg(L, t, w);
        } else {
            str_arg(L, t, "what", w);
            window_arg(L, t, w);
        }
    } else if (strcmp(op, "bought") == 0) {
        put_s(w, "bought(");
        if (filter) {
            filter_arg(L, t, w);
        } else {
            str_arg(L, t, "what", w);
            window_arg(L, t, w);
        }
    } else if (strcmp(op, "purchases") == 0) {
        put_s(w, "purchases(");
        cmp_arg(L, t, w);
        if (filter) {
            filter_arg(L, t, w);
        } else {
            str_arg(L, t, "what", w);
            window_arg(L, t, w);
        }
    } else if (strcmp(op, "spent") == 0) {
        put_s(w, "spent(");
        cmp_arg(L, t, w);
        if (filter) {
            filter_arg(L, t, w);
        } else {
            window_arg(L, t, w);
            str_arg(L, t, "what", w);
        }
    } else if (render_more(cc, t, op, n, w)) {
        /* rendered */
    } else if (strcmp(op, "temp") == 0) {
        put_s(w, "temperature(");
        cmp_arg(L, t, w);
    } else if (strcmp(op, "attr") == 0 || strcmp(op, "score") == 0) {
        put_s(w, op[0] == 'a' ? "attribute(" : "score(");
        str_arg(L, t, op[0] == 'a' ? "name" : "model", w);
        cmp_arg(L, t, w);
    } else if (strcmp(op, "near_store") == 0) {
        put_f(w, "near_store(km(%.14g)", num_field(L, t, "km"));
    } else if (strcmp(op, "in_store") == 0) {
        put_s(w, "in_store(");
        str_arg(L, t, "store", w);
    } else if (strcmp(op, "hour") == 0) {
        put_f(w, "hour_between(%d, %d", n->a, n->b);
    } else if (strcmp(op, "weekday") == 0) {
        static const char *const days[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
        put_s(w, "weekday(");
        for (int d = 0; d < 7; d++)
            if (n->a & (1 << d)) {
                arg(w);
                put_f(w, "\"%s\"", days[d]);
            }
    } else {
        put_f(w, "%.40s(", op);   /* a word this renderer does not know yet: its op */
    }
    put_s(w, ")");
    lua_settop(L, top);
}

static void words_store(compiler_t *cc, int32_t node, const char *s, size_t len)
{
    arb_ruleset_t *rs = cc->rs;
    GROW(rs, rs->strs, rs->n_strs, 1);
    GROW(rs, rs->str_lens, rs->n_strs, 1);
    char *c = arb__compile_check(rs->L, malloc(len + 1));
    memcpy(c, s, len);
    c[len] = '\0';
    rs->strs[rs->n_strs] = c;
    rs->str_lens[rs->n_strs] = (uint32_t)len;
    rs->nodes[node].words = ++rs->n_strs;   /* 1 + its index */
}

void arb__compile_words(compiler_t *cc, int idx, int32_t node)
{
    lua_State *L = cc->L;
    if (node < 0 || (uint32_t)node >= cc->rs->n_nodes || cc->rs->nodes[node].words) return;
    words_t w = { .n = 0 };
    w.b[0] = '\0';
    if (lua_type(L, idx) == LUA_TFUNCTION) {
        lua_Debug ar;
        lua_pushvalue(L, idx);
        if (!lua_getinfo(L, ">S", &ar)) return;
        put_f(&w, "function at ");
        put_s(&w, ar.source[0] == '@' ? ar.source + 1 : ar.short_src);
        put_f(&w, ":%d", ar.linedefined);
    } else if (lua_type(L, idx) == LUA_TTABLE) {
        luaL_checkstack(L, 6, "condition words");
        render(cc, idx, &cc->rs->nodes[node], &w);
    } else {
        return;
    }
    if (w.cut) {
        w.n = utf8_cut(w.b, WORDS_MAX - 3);
        memcpy(w.b + w.n, "...", 4);
        w.n += 3;
    }
    words_store(cc, node, w.b, w.n);
}
