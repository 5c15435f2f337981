/* Explain's words for compiled conditions: the text of the vocabulary call
 * that built each condition node (`bought("laptop", within(days(30)))`),
 * which the prelude renders onto the condition's table as `words`, or
 * "function at file:line" for a plain Lua function. Kept here so that
 * compile_cond.c only hands over the node it compiled; keeps ruleset/'s
 * rule: everything is read at load, so a decision with explain only looks
 * the words up (decide/explain.c) and one without never does.
 */
#include "engine/ruleset/ruleset_int.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ruleset/rawread.h"

/* Longest words kept: an any { } of forty alternatives is still named by
 * its start. */
#define WORDS_MAX 240

static void words_store(compiler_t *cc, int32_t node, const char *s, size_t len)
{
    arb_ruleset_t *rs = cc->rs;
    char cut[WORDS_MAX + 4];
    if (len > WORDS_MAX) {
        memcpy(cut, s, WORDS_MAX);
        memcpy(cut + WORDS_MAX, "...", 4);
        s = cut;
        len = WORDS_MAX + 3;
    }
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
    if (lua_type(L, idx) == LUA_TFUNCTION) {
        lua_Debug ar;
        lua_pushvalue(L, idx);
        if (!lua_getinfo(L, ">S", &ar)) return;
        char buf[300];
        int n = snprintf(buf, sizeof buf, "function at %s:%d",
                         ar.source[0] == '@' ? ar.source + 1 : ar.short_src, ar.linedefined);
        words_store(cc, node, buf, n < 0 ? 0 : (size_t)n >= sizeof buf ? sizeof buf - 1 : (size_t)n);
        return;
    }
    if (lua_type(L, idx) != LUA_TTABLE) return;
    if (arb_raw_field(L, idx, "words") == LUA_TSTRING) {   /* raw: no rule code runs */
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        words_store(cc, node, s, len);
    }
    lua_pop(L, 1);
}
