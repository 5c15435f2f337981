/* Compiling declarations: settings, channels, models, stores, touchpoints,
 * actions and fallbacks, and the driver of the whole compile
 * (arb__ruleset_compile).
 *
 * The one packing here keeps the folder's rule (no wire): each action's
 * constant part of a decision entry (id, value, payload) is packed once at
 * load and stored with the action, as data computed ahead for speed, the
 * way a marketer's payload is stored as msgpack bytes. wire/answer.c copies
 * those bytes around the numbers a decision computes; the shape of an
 * answer is still its to know, and compile_answer follows it.
 *
 * Compiling checks every field of every declaration (unknown field, wrong
 * type, duplicate id, unknown channel, touchpoint or model...); one problem
 * does not stop the others from being found. Everything that reads the Lua
 * state runs in one protected call, compile_protected; the compiler (cc)
 * owns the C memory an unwinding would skip.
 */
#include "engine/ruleset/ruleset_int.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ruleset/payload.h"
#include "engine/ruleset/rawread.h"
#include "engine/ruleset/recommend.h"
#include "engine/base/pack.h"
#include "engine/base/utf8.h"

static const char *const default_channels[] = { "web", "email", "app", "store",
                                                "call_center", "sms", NULL };

void arb__compile_oom(lua_State *L) { luaL_error(L, COMPILE_OOM); }

void *arb__compile_check(lua_State *L, void *p)
{
    if (!p) arb__compile_oom(L);
    return p;
}

int32_t arb__intern(compiler_t *cc, const char *s, size_t len)
{
    int32_t sym = arb_symtab_intern(&cc->rs->syms, s, (uint32_t)len);
    if (sym < 0) arb__compile_oom(cc->L);
    return sym;
}

int32_t arb__intern_z(compiler_t *cc, const char *s) { return arb__intern(cc, s, strlen(s)); }

/* ---- growable arrays of the ruleset */

/* Room for n + extra elements in an array that only ever grows through
 * here: its capacity is the power of two at or above its count, so it is
 * reallocated O(log n) times, not once per element. */
static size_t capacity_for(size_t n)
{
    size_t cap = 16;
    while (cap < n) cap *= 2;
    return cap;
}

void *arb__grow(lua_State *L, void *arr, size_t elem, size_t n, size_t extra)
{
    if (arr && n + extra <= capacity_for(n)) return arr;
    return arb__compile_check(L, realloc(arr, elem * capacity_for(n + extra)));
}

/* The declarations under sym (sym_decl_t), zeroed until one is made;
 * NULL for a symbol that is not one. */
static sym_decl_t *sym_decl(compiler_t *cc, int32_t sym)
{
    if (sym < 0) return NULL;
    if ((uint32_t)sym >= cc->n_sym_decls) {
        uint32_t n = cc->rs->syms.n > (uint32_t)sym ? cc->rs->syms.n : (uint32_t)sym + 1;
        n = n < 64 ? 64 : n + n / 2;
        sym_decl_t *grown = arb__compile_check(cc->L, realloc(cc->sym_decls, n * sizeof *grown));
        memset(grown + cc->n_sym_decls, 0, (n - cc->n_sym_decls) * sizeof *grown);
        cc->sym_decls = grown;
        cc->n_sym_decls = n;
    }
    return &cc->sym_decls[sym];
}

/* ---- models */

bool arb__model_declared(compiler_t *cc, int32_t sym)
{
    const sym_decl_t *d = sym_decl(cc, sym);
    return d && d->model;
}

int32_t arb__model_ref(compiler_t *cc, const char *name)
{
    int32_t sym = arb__intern_z(cc, name);
    if (!arb__model_declared(cc, sym))
        spec_problem(cc, "unknown model '%s': declare the scores upstream supplies in models { ... }", name);
    return sym;
}

/* ---- declarations: channels, models, settings, stores, touchpoints */

static int channel_index(const arb_ruleset_t *rs, const char *name, size_t len)
{
    for (int i = 0; i < rs->n_channels; i++)
        if (strlen(rs->channels[i]) == len && memcmp(rs->channels[i], name, len) == 0) return i;
    return -1;
}

static void add_channel(compiler_t *cc, const char *s, size_t len, int i, void *ud)
{
    arb_ruleset_t *rs = cc->rs;
    if (channel_index(rs, s, len) >= 0) return;
    if (rs->n_channels == ARB_MAX_CHANNELS) {
        spec_problem(cc, "too many channels (at most %d)", ARB_MAX_CHANNELS);
        return;
    }
    /* Interned first: the copy is counted as soon as it exists, so that
     * running out of memory later leaves nothing uncounted to leak. */
    int32_t sym = arb__intern(cc, s, len);
    rs->channels[rs->n_channels] = arb__compile_check(cc->L, strndup(s, len));
    rs->channel_sym[rs->n_channels] = sym;
    rs->channel_policy[rs->n_channels].counts = arb__channel_default_counts(rs->channels[rs->n_channels]);
    rs->n_channels++;
}

static void add_model(compiler_t *cc, const char *s, size_t len, int i, void *ud)
{
    int32_t sym = arb__intern(cc, s, len);
    if (arb__model_declared(cc, sym)) return;
    GROW(cc->rs, cc->rs->models, cc->rs->n_models, 1);
    sym_decl(cc, sym)->model = true;
    cc->rs->models[cc->rs->n_models++] = sym;
}

static void compile_list_decl(compiler_t *cc, int spec)
{
    lua_State *L = cc->L;
    const char *kind = cc->d->kind;
    if (strcmp(kind, "settings") == 0) {
        static const char *const fields[] = { "default_limit", "utc_offset_hours", NULL };
        spec_check_fields(cc, spec, fields);
        /* Each settings block changes only the fields it names. */
        cc->rs->default_limit = (int)spec_field_number(cc, spec, "default_limit",
                                                  cc->rs->default_limit, false, 1, 100);
        cc->rs->utc_offset_minutes = (int)lround(
            spec_field_number(cc, spec, "utc_offset_hours", cc->rs->utc_offset_minutes / 60.0, false,
                         -14, 14) * 60);
        return;
    }
    lua_Unsigned un = lua_rawlen(L, spec);
    int n = un > INT32_MAX ? INT32_MAX : (int)un;
    for (int i = 1; i <= n; i++) {
        if (lua_rawgeti(L, spec, i) == LUA_TSTRING) {
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            char what[40];
            snprintf(what, sizeof what, "item %d", i);
            if (!spec_utf8_ok(cc, what, s, len)) ;
            else if (strcmp(kind, "outcomes") == 0) arb__add_outcome(cc, s, len);
            else (strcmp(kind, "models") == 0 ? add_model : add_channel)(cc, s, len, i, NULL);
        } else {
            spec_problem(cc, "item %d must be a string, not %s", i, spec_lua_type_article(L, -1));
        }
        lua_pop(L, 1);
    }
}

static void compile_store(compiler_t *cc, int spec)
{
    static const char *const fields[] = { "lat", "lon", "name", NULL };
    spec_check_fields(cc, spec, fields);
    arb_ruleset_t *rs = cc->rs;
    int32_t sym = arb__intern_z(cc, cc->d->id);
    sym_decl_t *d = sym_decl(cc, sym);
    if (d->store) {
        spec_problem(cc, "duplicate store id");
        return;
    }
    GROW(rs, rs->stores, rs->n_stores, 1);
    d->store = true;
    arb_store_t *st = &rs->stores[rs->n_stores++];
    st->sym = sym;
    st->lat = spec_field_number(cc, spec, "lat", 0, true, -90, 90);
    st->lon = spec_field_number(cc, spec, "lon", 0, true, -180, 180);
}

/* Stores are compiled in the first pass, before any action's conditions. */
void arb__store_check(compiler_t *cc, int32_t sym)
{
    const sym_decl_t *d = sym_decl(cc, sym);
    if (!d || d->store) return;
    const char *name = cc->rs->syms.names[sym];
    spec_problem(cc, "in_store(\"%s\"): no store \"%s\" is declared: declare it with store \"%s\" "
                 "{ lat = ..., lon = ... }, or fix the id (in_store() means in any store)",
                 name, name, name);
}

static void compile_touchpoint(compiler_t *cc, int spec)
{
    static const char *const fields[] = { "limit", "diverse", "description", NULL };
    spec_check_fields(cc, spec, fields);
    arb_ruleset_t *rs = cc->rs;
    int32_t sym = arb__intern_z(cc, cc->d->id);
    if (sym_decl(cc, sym)->touchpoint) {
        const arb_touchpoint_t *first = &rs->touchpoints[sym_decl(cc, sym)->touchpoint - 1];
        spec_problem(cc, "duplicate touchpoint (first declared at %s:%d)", first->file, first->line);
        return;
    }
    GROW(rs, rs->touchpoints, rs->n_touchpoints, 1);
    arb_touchpoint_t *tp = &rs->touchpoints[rs->n_touchpoints++];
    memset(tp, 0, sizeof *tp);
    sym_decl(cc, sym)->touchpoint = rs->n_touchpoints;
    tp->id = arb__compile_check(cc->L, strdup(cc->d->id));
    tp->file = arb__compile_check(cc->L, strdup(cc->d->file));
    tp->line = cc->d->line;
    tp->sym = sym;
    tp->limit = (int)spec_field_number(cc, spec, "limit", 0, false, 1, 100);
    tp->diverse = -1;
    const char *diverse = spec_field_string(cc, spec, "diverse", false, false);
    if (diverse && strcmp(diverse, "category") == 0) tp->diverse = 0;
    else if (diverse) spec_problem(cc, "'diverse' can only be \"category\"");
}

/* channel "email" { cap = ..., counts = ... }: declares the channel too. */
static void compile_channel(compiler_t *cc, int spec)
{
    size_t len = strlen(cc->d->id);
    add_channel(cc, cc->d->id, len, 0, NULL);
    int ch = channel_index(cc->rs, cc->d->id, len);
    if (ch >= 0) arb__compile_channel_policy(cc, spec, ch);
}

/* ---- actions */

typedef struct action_build {
    arb_action_t *a;
} action_build_t;

static void action_channel(compiler_t *cc, const char *s, size_t len, int i, void *ud)
{
    arb_action_t *a = ud;
    int ch = channel_index(cc->rs, s, len);
    if (ch < 0) {
        char known[400] = "";
        for (int k = 0; k < cc->rs->n_channels; k++) {
            if (*known) strncat(known, ", ", sizeof known - strlen(known) - 1);
            strncat(known, cc->rs->channels[k], sizeof known - strlen(known) - 1);
        }
        spec_problem(cc, "unknown channel '%.*s' (channels are: %s; add others with channels { ... })",
                (int)len, s, known);
        return;
    }
    a->channels |= 1ull << ch;
}

/* The touchpoints and requires arrays hold one slot per item of their
 * list, sized from the one read of its length (list_open). */
static void action_touchpoint(compiler_t *cc, const char *s, size_t len, int i, void *ud)
{
    arb_action_t *a = ud;
    int32_t sym = arb__intern(cc, s, len);
    if (!sym_decl(cc, sym)->touchpoint)
        spec_problem(cc, "unknown touchpoint '%.*s': declare it with touchpoint \"%.*s\" { limit = ... }",
                (int)len, s, (int)len, s);
    a->touchpoints[a->n_touchpoints++] = sym;
}

static void action_require(compiler_t *cc, const char *s, size_t len, int i, void *ud)
{
    arb_action_t *a = ud;
    a->requires[a->n_requires] = arb__intern(cc, s, len);
    /* Counted first: a failure below leaves a NULL that freeing skips. */
    uint32_t k = a->n_requires++;
    a->requires_names[k] = arb__compile_check(cc->L, strndup(s, len));
    /* Explain reasons are made here once, not per request. */
    if (asprintf(&a->requires_reasons[k], "consent:%.*s", (int)len, s) < 0) {
        a->requires_reasons[k] = NULL;
        arb__compile_oom(cc->L);
    }
    if (len == 8 && memcmp(s, "location", 8) == 0) a->requires_location = true;
}

/* Call each for every item of the open list l, then close it. */
static void list_each(compiler_t *cc, const spec_list_t *l, arb_action_t *a,
                      void (*each)(compiler_t *, const char *, size_t, int, void *))
{
    for (int i = 0; i < l->n; i++) {
        size_t len;
        const char *s = spec_list_item(cc, l, i, &len);
        if (s) each(cc, s, len, i, a);
    }
    spec_list_close(cc, l);
}

/* The bytes packed into sb, in an allocation of exactly their size (an
 * sbuffer reserves 8 KiB: ten thousand actions would hold 80 MB of air);
 * sb is emptied. */
static char *sbuffer_take(lua_State *L, msgpack_sbuffer *sb, size_t *len)
{
    char *copy = arb__compile_check(L, malloc(sb->size ? sb->size : 1));
    memcpy(copy, sb->data, sb->size);
    *len = sb->size;
    msgpack_sbuffer_clear(sb);
    return copy;
}

/* Pack what every decision that chooses action a says of it, but for the
 * priority and propensity (see pack_action in decide.c): the head
 * {"id": id, "priority": and the tail "value": value, "payload": payload},
 * the payload packed from the rule's table. */
/* The packer's writer: a write msgpack-c cannot make room for would
 * otherwise be dropped silently, leaving an answer with bytes missing. */
static int answer_write(void *data, const char *buf, size_t len)
{
    compiler_t *cc = data;
    if (msgpack_sbuffer_write(&cc->answer, buf, len) != 0) arb__compile_oom(cc->L);
    return 0;
}

static void compile_answer(compiler_t *cc, int spec, arb_action_t *a)
{
    lua_State *L = cc->L;
    msgpack_sbuffer *sb = &cc->answer;   /* owned by cc: freed even if this unwinds */
    msgpack_packer pk;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, cc, answer_write);
    msgpack_pack_map(&pk, 5);
    arb_pack_lit(&pk, "id");
    arb_pack_cstr(&pk, a->id);
    arb_pack_lit(&pk, "priority");
    a->answer_head = sbuffer_take(L, sb, &a->answer_head_len);
    arb_pack_lit(&pk, "value");
    msgpack_pack_double(&pk, a->value);
    arb_pack_lit(&pk, "payload");
    char err[200];
    size_t before = sb->size;
    a->payload_at = before;   /* decisions hand the payload out from here (decide.c) */
    if (arb_raw_field(L, spec, "payload") == LUA_TNIL) {
        msgpack_pack_nil(&pk);
    } else if (cc->payload_bytes >= ARB_PAYLOADS_MAX) {
        spec_problem(cc, "'payload': the payloads of all actions together pass %u bytes",
                ARB_PAYLOADS_MAX);
    } else if (arb_raw_pack(L, -1, &pk, sb, ARB_PAYLOAD_MAX, true, err, sizeof err) < 0) {
        spec_problem(cc, "'payload': %s", err);
        msgpack_sbuffer_clear(sb);   /* the load fails: what was packed is not kept */
    } else {
        cc->payload_bytes += sb->size - before;
    }
    lua_pop(L, 1);
    a->answer_tail = sbuffer_take(L, sb, &a->answer_tail_len);
}

static void compile_action(compiler_t *cc, int spec, bool fallback)
{
    static const char *const fields[] = {
        "channels", "touchpoints", "requires", "value", "lever", "model", "propensity",
        "category", "payload", "start", "stop", "when", "weight", "description",
        "cap", "cooldown", "group", "counts", "suppress", "control", "recommend", "escape", NULL,
    };
    lua_State *L = cc->L;
    arb_ruleset_t *rs = cc->rs;
    spec_check_fields(cc, spec, fields);
    GROW(rs, rs->actions, rs->n_actions, 1);
    arb_action_t *a = &rs->actions[rs->n_actions++];
    memset(a, 0, sizeof *a);
    a->id = arb__compile_check(L, strdup(cc->d->id));
    a->file = arb__compile_check(L, strdup(cc->d->file));
    a->line = cc->d->line;
    a->fallback = fallback;
    a->model = -1;
    a->category = -1;
    a->when = -1;
    a->weight = -1;
    a->policy = -1;
    a->adaptive = -1;
    spec_field_string_list(cc, spec, "channels", true, action_channel, a);
    /* Each list is read once: the length that sizes its array bounds its filling. */
    spec_list_t l = spec_list_open(cc, spec, "touchpoints", false);
    size_t n = l.n > 0 ? (size_t)l.n : 0;
    a->touchpoints = arb__compile_check(L, calloc(n + 1, sizeof *a->touchpoints));
    list_each(cc, &l, a, action_touchpoint);
    l = spec_list_open(cc, spec, "requires", false);
    n = l.n > 0 ? (size_t)l.n : 0;
    a->requires = arb__compile_check(L, calloc(n + 1, sizeof *a->requires));
    a->requires_names = arb__compile_check(L, calloc(n + 1, sizeof *a->requires_names));
    a->requires_reasons = arb__compile_check(L, calloc(n + 1, sizeof *a->requires_reasons));
    list_each(cc, &l, a, action_require);
    a->value = spec_field_number(cc, spec, "value", 0, true, 0, 1e15);
    a->lever = spec_field_number(cc, spec, "lever", 1, false, 0, 1e6);
    const char *model = spec_field_string(cc, spec, "model", false, true);
    if (model) {
        a->model = arb__model_ref(cc, model);
        if (asprintf(&a->no_score_reason, "no score: %s", model) < 0) {
            a->no_score_reason = NULL;
            arb__compile_oom(L);
        }
    }
    arb__compile_propensity(cc, spec, a, model != NULL);
    const char *category = spec_field_string(cc, spec, "category", false, true);
    if (category) {
        a->category_name = arb__compile_check(L, strdup(category));
        a->category = arb__intern_z(cc, a->category_name);
    }
    a->start = spec_field_date(cc, spec, "start");
    a->stop = spec_field_date(cc, spec, "stop");
    if (a->start && a->stop && a->stop <= a->start) spec_problem(cc, "'stop' must come after 'start'");
    if (arb_raw_field(L, spec, "when") != LUA_TNIL) a->when = arb__compile_cond(cc, lua_gettop(L));
    lua_pop(L, 1);
    if (arb_raw_field(L, spec, "weight") != LUA_TNIL) a->weight = arb__compile_wexpr(cc, lua_gettop(L));
    lua_pop(L, 1);
    arb__check_action_numbers(cc, spec, a);
    arb__compile_action_policy(cc, spec, a);
    arb__compile_control_field(cc, spec, a->id, false);
    arb__compile_recommend(cc, spec, a);
    compile_answer(cc, spec, a);
    arb__compile_payload(cc, spec, a);
    spec_field_string(cc, spec, "description", false, false);
}

/* ---- the whole ruleset */

static int by_action_id(const void *x, const void *y)
{
    return strcmp(((const arb_action_t *)x)->id, ((const arb_action_t *)y)->id);
}


/* Read the declaration at the top of the stack into d (strings stay owned by
 * the Lua table, which stays referenced by the prelude's decls list). */
static void decl_read(lua_State *L, decl_t *d)
{
    int idx = lua_gettop(L);
    /* The record is the prelude's, but read raw all the same: only strings
     * and an integer are taken from it, never converted. */
    d->kind = arb_raw_field(L, idx, "kind") == LUA_TSTRING ? lua_tostring(L, -1) : "declaration";
    d->id = arb_raw_field(L, idx, "id") == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    d->file = arb_raw_field(L, idx, "file") == LUA_TSTRING ? lua_tostring(L, -1) : "?";
    d->line = arb_raw_field(L, idx, "line") == LUA_TNUMBER ? (int)lua_tointeger(L, -1) : 0;
    lua_pop(L, 4);
}

/* Whether running `file` already failed: a declaration whose body then
 * has none was cut short by that error (a mistake inside its { ... }), and
 * "has no { ... } body" would be a second, misleading problem. */
static bool file_failed(const compiler_t *cc, const char *file)
{
    size_t len = strlen(file);
    for (size_t i = 0; i < cc->problems->n; i++)
        if (strncmp(cc->problems->items[i], file, len) == 0 && cc->problems->items[i][len] == ':')
            return true;
    return false;
}

/* Compile every declaration of one of the given kinds. */
static void compile_pass(compiler_t *cc, int decls, bool actions)
{
    lua_State *L = cc->L;
    int n = (int)lua_rawlen(L, decls);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, decls, i);                       /* decl */
        decl_t d;
        decl_read(L, &d);
        cc->d = &d;
        bool is_action = strcmp(d.kind, "action") == 0 || strcmp(d.kind, "fallback") == 0;
        if (is_action == actions) {
            if (arb_raw_field(L, -1, "spec") != LUA_TTABLE) {
                if (!file_failed(cc, d.file)) spec_problem(cc, "has no { ... } body");
            } else if (arb_raw_has_mt(L, -1)) {
                /* Given after declaring: its fields are not what they seem. */
                spec_problem(cc, "the { ... } body has a metatable: declarations are plain tables");
            } else if (d.id && !arb_utf8_valid(d.id, strlen(d.id))) {
                spec_problem(cc, "the id is not valid UTF-8 (byte %zu)",
                        arb_utf8_first_invalid(d.id, strlen(d.id)) + 1);
            } else {
                int spec = lua_gettop(L);
                if (is_action) compile_action(cc, spec, d.kind[0] == 'f');
                else if (strcmp(d.kind, "touchpoint") == 0) compile_touchpoint(cc, spec);
                else if (strcmp(d.kind, "store") == 0) compile_store(cc, spec);
                else if (strcmp(d.kind, "group") == 0) arb__compile_group(cc, spec);
                else if (strcmp(d.kind, "channel") == 0) compile_channel(cc, spec);
                else if (strcmp(d.kind, "control") == 0) arb__compile_global_control(cc, spec);
                else if (strcmp(d.kind, "experiment") == 0) arb__compile_experiment(cc, spec);
                else if (strcmp(d.kind, "catalog") == 0) arb__compile_catalog(cc, spec);
                else compile_list_decl(cc, spec);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
}

static void check_duplicates(compiler_t *cc)
{
    arb_ruleset_t *rs = cc->rs;
    for (uint32_t i = 1; i < rs->n_actions; i++) {
        arb_action_t *a = &rs->actions[i - 1], *b = &rs->actions[i];
        if (strcmp(a->id, b->id) != 0) continue;
        const arb_action_t *later = (strcmp(a->file, b->file) > 0 ||
                                     (strcmp(a->file, b->file) == 0 && a->line > b->line)) ? a : b;
        const arb_action_t *first = later == a ? b : a;
        arb_problems_add(cc->problems, "%s:%d: %s '%s': duplicate id (first declared at %s:%d)",
                         later->file, later->line, later->fallback ? "fallback" : "action",
                         later->id, first->file, first->line);
    }
}



/* Everything that reads the Lua state, in one protected call: every read
 * of a rule's tables is raw, so what could still raise is only running out
 * of memory (interning a key, a registry reference), and that unwinds to
 * arb__ruleset_compile. cc owns whatever C memory the unwinding would skip. */
static int compile_protected(lua_State *L, void *ud)
{
    compiler_t *cc = ud;
    for (const char *const *c = default_channels; *c; c++) add_channel(cc, *c, strlen(*c), 0, NULL);
    arb__prelude_push(L, "COND");
    cc->cond_mt = lua_gettop(L);
    arb__prelude_push(L, "CMP");
    cc->cmp_mt = lua_gettop(L);
    arb__prelude_push(L, "EXPR");
    cc->expr_mt = lua_gettop(L);
    arb__prelude_push(L, "ADAPT");
    cc->adapt_mt = lua_gettop(L);
    arb__prelude_push(L, "vocab");
    cc->vocab = lua_gettop(L);
    lua_newtable(L);
    cc->memo_cond = lua_gettop(L);
    lua_newtable(L);
    cc->memo_wexpr = lua_gettop(L);
    arb__prelude_push(L, "decls");
    int decls = lua_gettop(L);
    compile_pass(cc, decls, false);
    compile_pass(cc, decls, true);
    /* Everything declared now lives in C (and plain functions in the
     * registry): empty the declarations so the collector frees them. The
     * prelude keeps the table itself as an upvalue. */
    for (lua_Integer i = (lua_Integer)lua_rawlen(L, decls); i >= 1; i--) {
        lua_pushnil(L);
        lua_rawseti(L, decls, i);
    }
    return 0;
}

void arb__ruleset_compile(arb_ruleset_t *rs, arb_problems_t *problems)
{
    const decl_t whole = { .kind = "ruleset", .file = rs->dir };
    compiler_t cc = { .rs = rs, .L = rs->L, .problems = problems, .d = &whole };
    msgpack_sbuffer_init(&cc.key);
    msgpack_sbuffer_init(&cc.other);
    msgpack_sbuffer_init(&cc.answer);
    rs->default_limit = 3;
    char err[300];
    int rc = arb_raw_protected(rs->L, compile_protected, &cc, LOAD_INSTRUCTIONS, LOAD_MEMORY, err,
                               sizeof err);
    cc.d = &whole;
    arb__catalog_load(&cc, rc == 0);
    free(cc.shared_nodes.slots);
    free(cc.shared_wexprs.slots);
    free(cc.shared_nodes.growing);
    free(cc.shared_wexprs.growing);
    free(cc.scratch);
    free(cc.sym_decls);
    msgpack_sbuffer_destroy(&cc.key);
    msgpack_sbuffer_destroy(&cc.other);
    msgpack_sbuffer_destroy(&cc.answer);
    if (rc < 0 && strcmp(err, COMPILE_OOM) == 0) {
        arb_problems_add(problems, "%s: %s", rs->dir, COMPILE_OOM);
        return;
    }
    if (rc < 0) {
        arb_problems_add(problems, "%s: compiling the declarations stopped: %s", rs->dir, err);
        return;
    }
    if (rs->n_actions) qsort(rs->actions, rs->n_actions, sizeof *rs->actions, by_action_id);
    check_duplicates(&cc);
    /* Every symbol exists before the channel index sizes its arrays by them. */
    rs->sym_segments = arb_symtab_intern(&rs->syms, "segments", 8);
    rs->sym_location = arb_symtab_intern(&rs->syms, "location", 8);
    if (arb__ruleset_mark_shared(rs) < 0 || arb__ruleset_weight_max(rs) < 0 || arb__ruleset_hot_fields(rs) < 0 ||
        arb__ruleset_controls_finish(rs) < 0 || arb__ruleset_recommend_finish(rs) < 0 ||
        rs->sym_segments < 0 || rs->sym_location < 0 || arb__ruleset_index_channels(rs) < 0)
        arb_problems_add(problems, "%s: %s", rs->dir, COMPILE_OOM);
}
