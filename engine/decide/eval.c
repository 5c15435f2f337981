/* Condition and weight evaluation (see eval.h): index a context once, then
 * answer each node with array lookups. Keeps the decide folder's rule: it
 * reads values (the context, the compiled ruleset) and writes none but its
 * own index; no I/O, no lock, no packing. */
#include "engine/decide/eval.h"

#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bindings/lua/context.h"
#include "engine/decide/eval_date.h"
#include "engine/base/clock.h"
#include "bindings/lua/sandbox.h"
#include "engine/decide/eval_catalog.h"
#include "engine/decide/eval_hist.h"

void arb_eval_init(arb_eval_t *ev) { memset(ev, 0, sizeof *ev); }

void arb_eval_free(arb_eval_t *ev)
{
    free(ev->bought_stamp);
    free(ev->bought_latest);
    free(ev->score_stamp);
    free(ev->score);
    free(ev->consent_stamp);
    free(ev->consent_given);
    free(ev->recency_stamp);
    free(ev->recency_half_life);
    free(ev->recency_value);
    free(ev->memo_stamp);
    free(ev->memo_value);
    free(ev->wmemo_stamp);
    free(ev->wmemo_value);
    memset(ev, 0, sizeof *ev);
}

/* Make a memo (stamps and values of `size` bytes) hold n entries; it only
 * grows. Returns 0, or -1 when out of memory. */
static int memo_reserve(uint32_t n, size_t size, uint32_t *cap, uint32_t **stamp, void **value)
{
    if (n <= *cap) return 0;
    uint32_t c = n + n / 2 + 16;
    uint32_t *st = calloc(c, sizeof *st);
    void *v = calloc(c, size);
    if (!st || !v) {
        free(st); free(v);
        return -1;
    }
    free(*stamp); free(*value);
    *stamp = st;
    *value = v;
    *cap = c;
    return 0;
}

/* Make the per-symbol arrays hold n symbols (they only grow). */
static int eval_reserve(arb_eval_t *ev, uint32_t n)
{
    if (n <= ev->cap) return 0;
    uint32_t cap = n + n / 2 + 16;
    uint32_t *bs = calloc(cap, sizeof *bs), *ss = calloc(cap, sizeof *ss);
    uint32_t *rs = calloc(cap, sizeof *rs), *cs = calloc(cap, sizeof *cs);
    int64_t *bl = calloc(cap, sizeof *bl);
    double *sc = calloc(cap, sizeof *sc), *rh = calloc(cap, sizeof *rh), *rv = calloc(cap, sizeof *rv);
    bool *cg = calloc(cap, sizeof *cg);
    if (!bs || !ss || !bl || !sc || !rs || !rh || !rv || !cs || !cg) {
        free(bs); free(ss); free(bl); free(sc); free(rs); free(rh); free(rv); free(cs); free(cg);
        return -1;
    }
    free(ev->consent_stamp);
    free(ev->consent_given);
    ev->consent_stamp = cs;
    ev->consent_given = cg;
    free(ev->bought_stamp); free(ev->bought_latest); free(ev->score_stamp); free(ev->score);
    free(ev->recency_stamp); free(ev->recency_half_life); free(ev->recency_value);
    ev->recency_stamp = rs;
    ev->recency_half_life = rh;
    ev->recency_value = rv;
    ev->bought_stamp = bs;
    ev->bought_latest = bl;
    ev->score_stamp = ss;
    ev->score = sc;
    ev->cap = cap;
    return 0;
}

static int32_t sym_of(const arb_ruleset_t *rs, arb_str_t s)
{
    return s.len ? arb_symtab_find(&rs->syms, s.ptr, s.len) : -1;
}

/* The symbol of s, trying *guess first (a symbol is its name, so a guess
 * whose name is s is the answer whatever ruleset it came from), then
 * remembering the answer for the next request. */
static inline int32_t sym_guess(const arb_ruleset_t *rs, arb_str_t s, int32_t *guess)
{
    int32_t g = *guess;
    if (g >= 0 && (uint32_t)g < rs->syms.n && s.len && rs->syms.lens[g] == s.len) {
        const char *name = rs->syms.names[g];
        if (s.len <= 8 ? arb__word((const unsigned char *)s.ptr, s.len) ==
                             arb__word((const unsigned char *)name, s.len)
                       : memcmp(s.ptr, name, s.len) == 0)
            return g;
    }
    return *guess = sym_of(rs, s);
}

/* A record's category: its own, or without one its product's in the
 * catalog; no call at all for a record that names it or a ruleset
 * without a catalog (the commonest cases). */
static inline arb_str_t category_of(const arb_eval_t *ev, bool purchase, uint32_t i, arb_str_t own)
{
    return own.len || !ev->catalog ? own : arb__eval_category(ev, purchase, i, own);
}

static inline void note_bought(arb_eval_t *ev, int32_t sym, int64_t ts)
{
    if (sym < 0) return;
    if (ev->bought_stamp[sym] != ev->stamp) {
        ev->bought_stamp[sym] = ev->stamp;
        ev->bought_latest[sym] = ts;
        ev->bought_syms[ev->n_bought_syms++] = sym;
    } else if (ev->bought_latest[sym] < ts) {
        ev->bought_latest[sym] = ts;
    }
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

int arb_eval_begin(arb_eval_t *ev, const arb_ruleset_t *rs, const arb_context_t *ctx,
                   arb_arena_t *arena)
{
    if (eval_reserve(ev, rs->syms.n) < 0 ||
        memo_reserve(rs->n_nodes, sizeof *ev->memo_value, &ev->memo_cap, &ev->memo_stamp,
                     (void **)&ev->memo_value) < 0 ||
        memo_reserve(rs->n_wexprs, sizeof *ev->wmemo_value, &ev->wmemo_cap, &ev->wmemo_stamp,
                     (void **)&ev->wmemo_value) < 0)
        return -1;
    /* Marks of earlier requests (of any ruleset) hold smaller stamps. */
    if (++ev->stamp == 0) {
        /* The stamp wrapped: clear so no old mark can match. */
        memset(ev->bought_stamp, 0, ev->cap * sizeof *ev->bought_stamp);
        memset(ev->score_stamp, 0, ev->cap * sizeof *ev->score_stamp);
        memset(ev->recency_stamp, 0, ev->cap * sizeof *ev->recency_stamp);
        memset(ev->consent_stamp, 0, ev->cap * sizeof *ev->consent_stamp);
        if (ev->memo_cap) memset(ev->memo_stamp, 0, ev->memo_cap * sizeof *ev->memo_stamp);
        if (ev->wmemo_cap) memset(ev->wmemo_stamp, 0, ev->wmemo_cap * sizeof *ev->wmemo_stamp);
        ev->stamp = 1;
    }
    ev->rs = rs;
    ev->ctx = ctx;
    ev->fault = ARB_FAULT_NONE;
    ev->lua_ready = false;
    ev->latest_any = INT64_MIN;
    uint32_t np = ctx->n_purchases, ne = ctx->n_events;
    ev->p_cat = arb_arena_alloc(arena, sizeof(int32_t) * (np * 4 + ne * 3 + 1));
    if (!ev->p_cat) return -1;
    ev->bought_syms = ev->p_cat + np * 2 + ne * 3;
    ev->n_bought_syms = 0;
    ev->p_sku = ev->p_cat + np;
    ev->e_type = ev->p_sku + np;
    ev->e_cat = ev->e_type + ne;
    ev->e_sku = ev->e_cat + ne;
    if (arb__eval_catalog_begin(ev, arena) < 0) return -1;
    for (uint32_t i = 0; i < np; i++) {
        const arb_purchase_t *p = &ctx->purchases[i];
        /* Sent without a category: its product's, so bought("laptop") and
         * the candidate index (bought_syms) see a laptop. */
        ev->p_cat[i] = sym_of(rs, category_of(ev, true, i, p->category));
        ev->p_sku[i] = sym_of(rs, p->sku);
        note_bought(ev, ev->p_cat[i], p->ts);
        note_bought(ev, ev->p_sku[i], p->ts);
        if (p->ts > ev->latest_any) ev->latest_any = p->ts;
    }
    for (uint32_t i = 0; i < ne; i++) {
        ev->e_type[i] = sym_of(rs, ctx->events[i].type);
        ev->e_cat[i] = sym_of(rs, category_of(ev, false, i, ctx->events[i].category));
        ev->e_sku[i] = sym_of(rs, ctx->events[i].sku);
    }
    for (uint32_t i = 0; i < ctx->n_scores; i++) {
        int32_t sym = i < 32 ? sym_guess(rs, ctx->scores[i].model, &ev->score_guess[i])
                             : sym_of(rs, ctx->scores[i].model);
        if (sym < 0) continue;
        ev->score_stamp[sym] = ev->stamp;
        ev->score[sym] = ctx->scores[i].value;
    }
    for (uint32_t i = 0; i < ctx->n_consent; i++) {
        int32_t sym = i < 8 ? sym_guess(rs, ctx->consent[i].name, &ev->consent_guess[i])
                            : sym_of(rs, ctx->consent[i].name);
        /* The first entry of a name decides, as in arb_context_consent. */
        if (sym < 0 || ev->consent_stamp[sym] == ev->stamp) continue;
        ev->consent_stamp[sym] = ev->stamp;
        ev->consent_given[sym] = ctx->consent[i].given;
    }
    ev->condition_sym = sym_of(rs, ctx->condition);
    ev->location_visible = ctx->has_location && arb_eval_consent(ev, rs->sym_location);
    ev->nearest_km = -1;
    int64_t local = ctx->now + arb_eval_local_offset(rs, ctx);
    int64_t day = floor_div(local, 86400);
    ev->local_hour = (int)((local - day * 86400) / 3600);
    ev->local_wday = (int)(((day + 4) % 7 + 7) % 7);   /* 1970-01-01 was a Thursday */
    return 0;
}

void arb_eval_end(arb_eval_t *ev)
{
    if (ev->lua_ready) arb_lua_context_set(ev->rs->L, NULL);
    ev->lua_ready = false;
}

/* ------------------------------------------------------------ comparisons */

bool arb__eval_cmp_num(const arb_cmp_t *c, double v)
{
    switch (c->op) {
    case ARB_CMP_EXISTS: return true;
    case ARB_CMP_EQ_NUM: return v == c->a;
    case ARB_CMP_GE: return v >= c->a;
    case ARB_CMP_GT: return v > c->a;
    case ARB_CMP_LE: return v <= c->a;
    case ARB_CMP_LT: return v < c->a;
    case ARB_CMP_BETWEEN: return v >= c->a && v <= c->b;
    default: return false;
    }
}

static bool cmp_str(const arb_ruleset_t *rs, const arb_cmp_t *c, const char *s, uint32_t len)
{
    if (c->op == ARB_CMP_EXISTS) return true;
    if (c->op == ARB_CMP_EQ_STR) return len == c->str_len && memcmp(s, c->str, len) == 0;
    if (c->op == ARB_CMP_ONE_OF) {
        for (uint32_t i = 0; i < c->list_n; i++)
            if (rs->str_lens[c->list + i] == len && memcmp(rs->strs[c->list + i], s, len) == 0)
                return true;
    }
    return false;
}

/* Compare a msgpack value (an attribute, a purchase's field) with c. */
bool arb__eval_cmp_object(const arb_ruleset_t *rs, const arb_cmp_t *c, const msgpack_object *o)
{
    if (!o || o->type == MSGPACK_OBJECT_NIL) return false;
    switch (o->type) {
    case MSGPACK_OBJECT_BOOLEAN:
        return c->op == ARB_CMP_EXISTS ? o->via.boolean : arb__eval_cmp_num(c, o->via.boolean ? 1 : 0);
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return arb__eval_cmp_num(c, (double)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return arb__eval_cmp_num(c, (double)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return arb__eval_cmp_num(c, o->via.f64);
    case MSGPACK_OBJECT_STR: return cmp_str(rs, c, o->via.str.ptr, o->via.str.size);
    default: return c->op == ARB_CMP_EXISTS;
    }
}

static const msgpack_object *attribute(const arb_context_t *ctx, const char *name, uint32_t len)
{
    return arb_msgpack_map_getn(ctx->attributes, name, len);
}

/* ------------------------------------------------------------ purchases, events, place */

static inline bool in_window(const arb_eval_t *ev, int64_t ts, int64_t window)
{
    return window < 0 || ev->ctx->now - ts <= window;
}

static inline bool bought(const arb_eval_t *ev, int32_t sym, int64_t window)
{
    if (sym < 0) return ev->latest_any != INT64_MIN && in_window(ev, ev->latest_any, window);
    return ev->bought_stamp[sym] == ev->stamp && in_window(ev, ev->bought_latest[sym], window);
}

/* Count and total price of purchases of sym (-1 any) within window. */
static void purchases_of(const arb_eval_t *ev, int32_t sym, int64_t window, double *count,
                         double *total)
{
    *count = *total = 0;
    for (uint32_t i = 0; i < ev->ctx->n_purchases; i++) {
        const arb_purchase_t *p = &ev->ctx->purchases[i];
        if (sym >= 0 && ev->p_cat[i] != sym && ev->p_sku[i] != sym) continue;
        if (!in_window(ev, p->ts, window)) continue;
        *count += 1;
        *total += p->price;
    }
}

/* Newest ts of an event of node n's type and item within its window;
 * INT64_MIN when none. */
static int64_t newest_event(const arb_eval_t *ev, const arb_node_t *n)
{
    int64_t best = INT64_MIN;
    for (uint32_t i = 0; i < ev->ctx->n_events; i++) {
        if (ev->e_type[i] != n->sym2 || n->sym2 < 0) continue;
        if (n->sym >= 0 && ev->e_cat[i] != n->sym && ev->e_sku[i] != n->sym) continue;
        int64_t ts = ev->ctx->events[i].ts;
        if (in_window(ev, ts, n->window) && ts > best) best = ts;
    }
    return best;
}

static double haversine_km(double lat1, double lon1, double lat2, double lon2)
{
    const double r = 6371.0088, rad = M_PI / 180;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * r * asin(sqrt(a));
}

static double nearest_store_km(arb_eval_t *ev)
{
    if (ev->nearest_km >= 0) return ev->nearest_km;
    double best = INFINITY;
    for (uint32_t i = 0; i < ev->rs->n_stores; i++) {
        double d = haversine_km(ev->ctx->lat, ev->ctx->lon, ev->rs->stores[i].lat,
                                ev->rs->stores[i].lon);
        if (d < best) best = d;
    }
    return ev->nearest_km = best;
}

static bool str_is_sym(const arb_ruleset_t *rs, arb_str_t s, int32_t sym)
{
    return sym >= 0 && s.len == rs->syms.lens[sym] && memcmp(s.ptr, rs->syms.names[sym], s.len) == 0;
}

static bool has_segment(const arb_eval_t *ev, int32_t sym)
{
    const msgpack_object *segs = attribute(ev->ctx, "segments", 8);
    if (!segs || segs->type != MSGPACK_OBJECT_ARRAY || sym < 0) return false;
    for (uint32_t i = 0; i < segs->via.array.size; i++) {
        const msgpack_object *s = &segs->via.array.ptr[i];
        if (s->type == MSGPACK_OBJECT_STR &&
            str_is_sym(ev->rs, (arb_str_t){ s->via.str.ptr, s->via.str.size }, sym))
            return true;
    }
    return false;
}

/* ------------------------------------------------------------ plain Lua */

/* "budget: <what> exceeded at file:line". The sandbox's error reads
 * "file:line: <what> budget exceeded" (no position for memory). */
static void budget_reason(arb_eval_t *ev, const char *what, const char *msg)
{
    char tail[64];
    int n = snprintf(tail, sizeof tail, ": %s budget exceeded", what);
    size_t len = msg ? strlen(msg) : 0;
    if (n > 0 && len > (size_t)n && strcmp(msg + len - (size_t)n, tail) == 0)
        snprintf(ev->fault_msg, sizeof ev->fault_msg, "budget: %s exceeded at %.*s", what,
                 (int)(len - (size_t)n), msg);
    else
        snprintf(ev->fault_msg, sizeof ev->fault_msg, "budget: %s exceeded", what);
}

/* Call the function at registry ref with the context; leaves its result on
 * the stack on success. Returns 0 or -1 (fault recorded). */
static int call_lua(arb_eval_t *ev, int ref)
{
    lua_State *L = ev->rs->L;
    arb_lua_context_set(L, ev->ctx);   /* fresh tables for every rule */
    ev->lua_ready = true;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);            /* fn */
    arb_lua_context_push(L);                           /* fn c */
    /* The decision's deadline stops the call itself, not only the next. */
    arb_sandbox_set_deadline(L, ev->deadline_ns);
    int rc = arb_sandbox_pcall(L, 1, 1, ARB_RULE_INSTRUCTIONS, ARB_RULE_MEMORY);
    if (ev->deadline_ns && arb_clock_mono_ns() > ev->deadline_ns) {
        lua_pop(L, 1);
        ev->fault = ARB_FAULT_DEADLINE;
        snprintf(ev->fault_msg, sizeof ev->fault_msg, "deadline");
        return -1;
    }
    if (rc == LUA_OK) return 0;
    arb_sandbox_t *sb = arb_sandbox_of(L);
    /* Only a string is read: converting a number would allocate, outside
     * any protected call, in a state a rule may have just filled. */
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    char num[48];
    if (lua_type(L, -1) == LUA_TNUMBER) {
        if (lua_isinteger(L, -1)) snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, -1));
        else snprintf(num, sizeof num, "%.14g", lua_tonumber(L, -1));
        msg = num;
    }
    ev->fault = sb->stopped ? ARB_FAULT_BUDGET : ARB_FAULT_ERROR;
    if (sb->stopped)
        budget_reason(ev, sb->why, msg);
    else
        snprintf(ev->fault_msg, sizeof ev->fault_msg, "error: %s", msg ? msg : "(error object is not a string)");
    lua_pop(L, 1);
    return -1;
}

/* ------------------------------------------------------------ conditions */

static int cond_eval_node(arb_eval_t *ev, int32_t idx);

int arb__cond_eval(arb_eval_t *ev, int32_t idx)
{
    if (!ev->rs->nodes[idx].memo) return cond_eval_node(ev, idx);
    int r = cond_eval_node(ev, idx);   /* pure: never a fault */
    ev->memo_stamp[idx] = ev->stamp;
    ev->memo_value[idx] = (uint8_t)r;
    return r;
}

#define NOT_SIMPLE (-2)

/* The answer of the commonest leaves (a purchase, no purchase, the
 * weather), computed in line by the all/any loops; NOT_SIMPLE for any
 * other node. */
static inline int simple_eval(const arb_eval_t *ev, const arb_node_t *n)
{
    switch (n->op) {
    case ARB_OP_BOUGHT: return bought(ev, n->sym, n->window);
    case ARB_OP_NOT: {
        const arb_node_t *k = &ev->rs->nodes[ev->rs->kids[n->first]];
        return k->op == ARB_OP_BOUGHT ? !bought(ev, k->sym, k->window) : NOT_SIMPLE;
    }
    case ARB_OP_WEATHER: return ev->ctx->has_weather && ev->condition_sym == n->sym && n->sym >= 0;
    case ARB_OP_TEMP: return ev->ctx->has_temp && arb__eval_cmp_num(&n->cmp, ev->ctx->temp_c);
    default: return NOT_SIMPLE;
    }
}

/* Child i of node n. */
static inline int child_eval(arb_eval_t *ev, const arb_node_t *n, uint32_t i)
{
    int32_t k = (int32_t)ev->rs->kids[n->first + i];
    int r = simple_eval(ev, &ev->rs->nodes[k]);
    return r != NOT_SIMPLE ? r : arb_cond_eval(ev, k);
}

static int cond_eval_node(arb_eval_t *ev, int32_t idx)
{
    const arb_ruleset_t *rs = ev->rs;
    const arb_context_t *ctx = ev->ctx;
    const arb_node_t *n = &rs->nodes[idx];
    double count, total;
    switch (n->op) {
    case ARB_OP_TRUE: return 1;
    case ARB_OP_ALL:
        for (uint32_t i = 0; i < n->count; i++) {
            int r = child_eval(ev, n, i);
            if (r <= 0) return r;
        }
        return 1;
    case ARB_OP_ANY:
        for (uint32_t i = 0; i < n->count; i++) {
            int r = child_eval(ev, n, i);
            if (r != 0) return r;
        }
        return 0;
    case ARB_OP_NOT: {
        int r = arb_cond_eval(ev, (int32_t)rs->kids[n->first]);
        return r < 0 ? r : !r;
    }
    case ARB_OP_BOUGHT: return bought(ev, n->sym, n->window);
    case ARB_OP_PURCHASES:
        purchases_of(ev, n->sym, n->window, &count, &total);
        return arb__eval_cmp_num(&n->cmp, count);
    case ARB_OP_SPENT:
        purchases_of(ev, n->sym, n->window, &count, &total);
        return arb__eval_cmp_num(&n->cmp, total);
    case ARB_OP_EVENT: return newest_event(ev, n) != INT64_MIN;
    case ARB_OP_WEATHER: return ctx->has_weather && ev->condition_sym == n->sym && n->sym >= 0;
    case ARB_OP_TEMP: return ctx->has_temp && arb__eval_cmp_num(&n->cmp, ctx->temp_c);
    case ARB_OP_NEAR_STORE:
        return ev->location_visible && ctx->has_coords && nearest_store_km(ev) <= n->num;
    case ARB_OP_IN_STORE:
        return ev->location_visible && ctx->store_id.len &&
               (n->sym < 0 || str_is_sym(rs, ctx->store_id, n->sym));
    case ARB_OP_COUNTRY: return ev->location_visible && str_is_sym(rs, ctx->country, n->sym);
    case ARB_OP_CONSENT: return arb_eval_consent(ev, n->sym);
    case ARB_OP_ATTR: return arb__eval_cmp_object(rs, &n->cmp, attribute(ctx, n->name, n->name_len));
    case ARB_OP_SEGMENT: return has_segment(ev, n->sym);
    case ARB_OP_SCORE: {
        double v;
        return arb_eval_score(ev, n->sym, &v) && arb__eval_cmp_num(&n->cmp, v);
    }
    case ARB_OP_HOUR:
        if (n->a < n->b) return ev->local_hour >= n->a && ev->local_hour < n->b;
        if (n->a > n->b) return ev->local_hour >= n->a || ev->local_hour < n->b;
        return 0;
    case ARB_OP_WEEKDAY: return (n->a >> ev->local_wday) & 1;
    case ARB_OP_CHANNEL: return str_is_sym(rs, ctx->channel, n->sym);
    case ARB_OP_TOUCHPOINT: return str_is_sym(rs, ctx->touchpoint, n->sym);
    case ARB_OP_BOUGHT_WHERE: case ARB_OP_EVENT_WHERE: case ARB_OP_PURCHASES_WHERE:
    case ARB_OP_SPENT_WHERE: case ARB_OP_BEFORE: case ARB_OP_SINCE_LAST:
    case ARB_OP_FIRST_PURCHASE: case ARB_OP_LAST_PURCHASE: case ARB_OP_ONLY_BOUGHT:
    case ARB_OP_ONE_CATEGORY:
        return arb__hist_eval(ev, n);
    case ARB_OP_SINCE: case ARB_OP_UNTIL: case ARB_OP_ANNIVERSARY: case ARB_OP_MONTH:
    case ARB_OP_DAY_OF_YEAR: return arb_eval_date(ev, n);
    case ARB_OP_LUA: {
        if (call_lua(ev, n->ref) < 0) return -1;
        int r = lua_toboolean(rs->L, -1);
        lua_pop(rs->L, 1);
        return r;
    }
    }
    return 0;
}

/* ------------------------------------------------------------ weights */

/* Newest ts matching a bought or event node, INT64_MIN when none. */
static int64_t newest_match(const arb_eval_t *ev, const arb_node_t *n)
{
    if (n->op == ARB_OP_EVENT) return newest_event(ev, n);
    if (n->op != ARB_OP_BOUGHT) return arb__hist_newest(ev, n);
    if (!bought(ev, n->sym, n->window)) return INT64_MIN;
    return n->sym < 0 ? ev->latest_any : ev->bought_latest[n->sym];
}

static int weight_eval_expr(arb_eval_t *ev, int32_t idx, double *out);

int arb__weight_eval(arb_eval_t *ev, int32_t idx, double *out)
{
    if (!ev->rs->wexprs[idx].memo) return weight_eval_expr(ev, idx, out);
    weight_eval_expr(ev, idx, &ev->wmemo_value[idx]);   /* pure: never a fault */
    ev->wmemo_stamp[idx] = ev->stamp;
    *out = ev->wmemo_value[idx];
    return 0;
}

static int weight_eval_expr(arb_eval_t *ev, int32_t idx, double *out)
{
    const arb_wexpr_t *w = &ev->rs->wexprs[idx];
    double l, r;
    switch (w->op) {
    case ARB_W_CONST: *out = w->num; return 0;
    case ARB_W_RECENCY: {
        const arb_node_t *n = &ev->rs->nodes[w->node];
        int64_t ts = newest_match(ev, n);
        if (ts == INT64_MIN) { *out = 0; return 0; }
        /* Many actions weigh the same purchase with the same half-life:
         * one exp() per symbol and request. */
        bool memo = n->op == ARB_OP_BOUGHT && n->sym >= 0;
        if (memo && ev->recency_stamp[n->sym] == ev->stamp && ev->recency_half_life[n->sym] == w->num) {
            *out = ev->recency_value[n->sym];
            return 0;
        }
        int64_t age = ev->ctx->now - ts;
        if (age < 0) age = 0;
        *out = exp(-M_LN2 * (double)age / w->num);
        if (memo) {
            ev->recency_stamp[n->sym] = ev->stamp;
            ev->recency_half_life[n->sym] = w->num;
            ev->recency_value[n->sym] = *out;
        }
        return 0;
    }
    case ARB_W_SCORE:
        if (!arb_eval_score(ev, w->sym, out)) *out = 0;
        return 0;
    case ARB_W_ATTR: {
        const msgpack_object *o = attribute(ev->ctx, w->name, w->name_len);
        *out = !o ? 0 : o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (double)o->via.u64
             : o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? (double)o->via.i64
             : (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32) ? o->via.f64 : 0;
        return 0;
    }
    case ARB_W_IF: {
        int c = arb_cond_eval(ev, w->node);
        if (c < 0) return -1;
        return arb_weight_eval(ev, c ? w->left : w->right, out);
    }
    case ARB_W_LUA: {
        lua_State *L = ev->rs->L;
        if (call_lua(ev, w->ref) < 0) return -1;
        /* A number, not a string Lua would convert: "1e308" reads as a
         * weight nobody meant. */
        bool isnum = lua_type(L, -1) == LUA_TNUMBER;
        *out = isnum ? lua_tonumber(L, -1) : 0;
        lua_pop(L, 1);
        if (!isnum || !isfinite(*out)) {
            ev->fault = ARB_FAULT_ERROR;
            snprintf(ev->fault_msg, sizeof ev->fault_msg, "error: weight function returned no number");
            return -1;
        }
        return 0;
    }
    default: break;
    }
    if (arb_weight_eval(ev, w->left, &l) < 0 || arb_weight_eval(ev, w->right, &r) < 0) return -1;
    switch (w->op) {
    case ARB_W_MUL: *out = l * r; break;
    case ARB_W_ADD: *out = l + r; break;
    case ARB_W_SUB: *out = l - r; break;
    case ARB_W_DIV: *out = r != 0 ? l / r : 0; break;
    case ARB_W_MIN: *out = l < r ? l : r; break;
    default: *out = l > r ? l : r; break;
    }
    return 0;
}
