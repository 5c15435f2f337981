/* Refusing Lua's and / or / not applied to conditions, by a scan of a rule
 * file's source before it runs.
 *
 * A condition is a table, and every table is true to Lua: `raining() and
 * cold()` is cold() alone, `raining() or cold()` is raining() alone and
 * `not raining()` is false. Nothing at run time can see the operator (it
 * is gone once the file ran), so the words are looked for in the text: an
 * and / or / not right before a call of a condition or weight word (the
 * prelude's logic_words, parentheses between allowed), and an and / or
 * right after the ) or } that closes one. Strings, long strings and
 * comments are skipped; plain Lua between plain values (c.x and c.y), and
 * field calls (t.all { }) stay legal. A condition kept in a local and
 * combined later (`local wet = raining()  when = wet and cold()`) is not
 * seen: dsl/README.mistakes.md says so.
 *
 * Keeps the folder's rule: no wire, no abort; a finding is a problem of the
 * load at the file's line, and the file still runs so that its other
 * mistakes are reported too.
 */
#include "engine/ruleset/ruleset_int.h"

#include <lauxlib.h>
#include <stdbool.h>
#include <string.h>

/* How deep brackets are followed: deeper ones count as plain. */
#define LEX_DEPTH 256

typedef enum tok { T_NAME, T_OPEN, T_CLOSE, T_STRING, T_DOT, T_OTHER, T_END } tok_t;

typedef struct lexer {
    const char *s, *end;
    int line;
    tok_t kind;
    const char *text;       /* T_NAME: the name, len bytes */
    size_t len;
    char ch;                /* T_OPEN / T_CLOSE: the bracket */
    int tok_line;
} lexer_t;

static bool name_start(char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

/* At "[" of a long bracket [==[: its level (the = count), or -1. */
static int long_open(const char *p, const char *end)
{
    if (p >= end || *p != '[') return -1;
    int level = 0;
    for (p++; p < end && *p == '='; p++) level++;
    return p < end && *p == '[' ? level : -1;
}

/* Skip a long string or comment whose opening is at p (level known). */
static const char *long_skip(lexer_t *x, const char *p, int level)
{
    p += level + 2;
    for (; p < x->end; p++) {
        if (*p == '\n') x->line++;
        if (*p != ']') continue;
        const char *q = p + 1;
        int n = 0;
        while (q < x->end && *q == '=') q++, n++;
        if (n == level && q < x->end && *q == ']') return q + 1;
    }
    return x->end;
}

/* Skip a quoted string opening at p. */
static const char *quoted_skip(lexer_t *x, const char *p)
{
    char q = *p++;
    for (; p < x->end && *p != q; p++) {
        if (*p == '\n') x->line++;   /* an error in Lua, or after \ or \z */
        if (*p == '\\' && p + 1 < x->end) {
            p++;
            if (*p == '\n') x->line++;
        }
    }
    return p < x->end ? p + 1 : p;
}

static void lex_next(lexer_t *x)
{
    const char *p = x->s;
    for (;;) {
        while (p < x->end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == '\f' || *p == '\v')) {
            if (*p == '\n') x->line++;
            p++;
        }
        if (p + 1 < x->end && p[0] == '-' && p[1] == '-') {
            int level = long_open(p + 2, x->end);
            if (level >= 0) {
                p = long_skip(x, p + 2, level);
            } else {
                while (p < x->end && *p != '\n') p++;
            }
            continue;
        }
        break;
    }
    x->tok_line = x->line;
    if (p >= x->end) {
        x->kind = T_END;
        x->s = p;
        return;
    }
    char c = *p;
    int level;
    if (name_start(c)) {
        x->text = p;
        while (p < x->end && name_char(*p)) p++;
        x->len = (size_t)(p - x->text);
        x->kind = T_NAME;
    } else if (c >= '0' && c <= '9') {
        /* A number: digits, letters, dots, and a sign after an exponent. */
        for (p++; p < x->end; p++) {
            if (name_char(*p) || *p == '.') continue;
            if ((*p == '+' || *p == '-') && strchr("eEpP", p[-1])) continue;
            break;
        }
        x->kind = T_OTHER;
    } else if (c == '"' || c == '\'') {
        p = quoted_skip(x, p);
        x->kind = T_STRING;
    } else if ((level = long_open(p, x->end)) >= 0) {
        p = long_skip(x, p, level);
        x->kind = T_STRING;
    } else if (c == '(' || c == '{' || c == '[') {
        x->ch = c;
        x->kind = T_OPEN;
        p++;
    } else if (c == ')' || c == '}' || c == ']') {
        x->ch = c;
        x->kind = T_CLOSE;
        p++;
    } else if (c == '.' || c == ':') {
        /* A field or method (t.all, t:any): never the vocabulary. ".." is
         * concatenation, "..." varargs, "::" a label: plain either way. */
        x->kind = p + 1 < x->end && (p[1] == '.' || p[1] == ':') ? T_OTHER : T_DOT;
        p += x->kind == T_DOT ? 1 : 2;
    } else {
        x->kind = T_OTHER;
        p++;
    }
    x->s = p;
}

static bool is_name(const lexer_t *x, const char *kw)
{
    return x->kind == T_NAME && x->len == strlen(kw) && memcmp(x->text, kw, x->len) == 0;
}

/* Whether the name is a word of logic_words (the table at index words). */
static bool logic_word(lua_State *L, int words, const char *name, size_t len)
{
    lua_pushlstring(L, name, len);
    bool yes = lua_rawget(L, words) != LUA_TNIL;
    lua_pop(L, 1);
    return yes;
}

static void report(arb_problems_t *problems, const char *path, int line, const char *op,
                   const char *word, size_t len, bool after)
{
    const char *fix = op[0] == 'a' ? "all { a, b } for both"
                      : op[0] == 'o' ? "any { a, b } for either" : "no(a) for its opposite";
    const char *means = op[0] == 'a' ? "`a and b` is b alone"
                        : op[0] == 'o' ? "`a or b` is a alone" : "`not a` is always false";
    arb_problems_add(problems,
                     "%s:%d: Lua's '%s' %s %.*s(...): a condition is a table, which Lua counts as "
                     "true, so %s; write %s",
                     path, line, op, after ? "after" : "before", (int)len, word, means, fix);
}

void arb__rule_file_lexcheck(lua_State *L, const arb_rule_file_t *f, arb_problems_t *problems)
{
    if (!f->text) return;
    arb__prelude_push(L, "logic_words");
    int words = lua_gettop(L);
    if (!lua_istable(L, words)) {
        lua_pop(L, 1);
        return;
    }
    lexer_t x = { .s = f->text, .end = f->text + f->len, .line = 1 };
    /* Which open brackets are a word's call, and that word. */
    const char *call_word[LEX_DEPTH];
    size_t call_len[LEX_DEPTH];
    int depth = 0;
    bool definer = false;                       /* prev: `function` or `local`, or a . or : */
    const char *word = NULL;                    /* prev: a logic word, maybe called next */
    size_t word_len = 0;
    const char *closed = NULL;                  /* prev closed this word's call */
    size_t closed_len = 0;
    const char *op = NULL;                      /* an and/or/not before, only ( between */
    int op_line = 0;
    bool op_reported = false;
    for (lex_next(&x); x.kind != T_END; lex_next(&x)) {
        bool is_and = is_name(&x, "and"), is_or = is_name(&x, "or"), is_not = is_name(&x, "not");
        bool calls = word && (x.kind == T_STRING || (x.kind == T_OPEN && x.ch != '['));
        if (calls && op && !op_reported) report(problems, f->path, op_line, op, word, word_len, false);
        const char *now_closed = NULL;
        size_t now_closed_len = 0;
        if (x.kind == T_OPEN) {
            if (depth < LEX_DEPTH) {
                call_word[depth] = calls ? word : NULL;
                call_len[depth] = calls ? word_len : 0;
            }
            depth++;
        } else if (x.kind == T_CLOSE) {
            if (depth > 0 && --depth < LEX_DEPTH && call_word[depth]) {
                now_closed = call_word[depth];
                now_closed_len = call_len[depth];
            }
        } else if (calls) {
            now_closed = word;   /* bought "laptop": the call ends with its string */
            now_closed_len = word_len;
        }
        bool after = (is_and || is_or) && closed;
        if (after) report(problems, f->path, x.tok_line, is_and ? "and" : "or", closed, closed_len, true);
        bool keyword = is_and || is_or || is_not;
        bool is_word = x.kind == T_NAME && !keyword && !definer &&
                       logic_word(L, words, x.text, x.len);
        if (keyword) {
            op = is_and ? "and" : is_or ? "or" : "not";
            op_line = x.tok_line;
            op_reported = after;
        } else if (!(x.kind == T_OPEN && x.ch == '(' && !calls) && !is_word) {
            op = NULL;   /* `a and c.x`, `a or 1`: plain Lua */
        }
        word = is_word ? x.text : NULL;
        word_len = is_word ? x.len : 0;
        closed = now_closed;
        closed_len = now_closed_len;
        definer = x.kind == T_DOT || is_name(&x, "function") || is_name(&x, "local");
    }
    lua_pop(L, 1);
}
