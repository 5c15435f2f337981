/* Joining the stored customer to the context (see history.h), before the
 * context is indexed, so that every condition, the C ones and the plain Lua
 * ones, reads one history. decide/'s rule: values only, no I/O.
 */
#include "engine/decide/history.h"

#include <math.h>
#include <string.h>

static arb_str_t str_of(const char *s)
{
    return s ? (arb_str_t){ s, (uint32_t)strlen(s) } : (arb_str_t){ NULL, 0 };
}

/* Absent and empty are the same: the context reads both as "not sent". */
static bool same(arb_str_t a, arb_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool purchase_seen(const arb_purchase_t *p, uint32_t n, const arb_purchase_t *x)
{
    for (uint32_t i = 0; i < n; i++)
        if (p[i].ts == x->ts && same(p[i].sku, x->sku) && same(p[i].category, x->category) &&
            same(p[i].channel, x->channel))
            return true;
    return false;
}

static bool event_seen(const arb_ctx_event_t *e, uint32_t n, const arb_ctx_event_t *x)
{
    for (uint32_t i = 0; i < n; i++)
        if (e[i].ts == x->ts && same(e[i].type, x->type) && same(e[i].sku, x->sku) &&
            same(e[i].category, x->category))
            return true;
    return false;
}

static int merge_purchases(arb_context_t *ctx, const arb_customer_t *c, arb_arena_t *arena)
{
    uint32_t n = ctx->n_purchases;
    if (!c->n_purchases) return 0;
    arb_purchase_t *out = arb_arena_alloc(arena, sizeof *out * (n + c->n_purchases));
    if (!out) return -1;
    if (n) memcpy(out, ctx->purchases, sizeof *out * n);
    for (size_t i = 0; i < c->n_purchases; i++) {
        const arb_event_t *s = &c->purchases[i];
        arb_purchase_t p = { str_of(s->sku), str_of(s->category), str_of(s->channel),
                             isnan(s->price) ? 0 : s->price, s->ts, s->extra,
                             (uint32_t)s->extra_len };
        if (!purchase_seen(out, ctx->n_purchases, &p)) out[n++] = p;
    }
    ctx->purchases = out;
    ctx->n_purchases = n;
    return 0;
}

static int merge_events(arb_context_t *ctx, const arb_customer_t *c, arb_arena_t *arena)
{
    uint32_t n = ctx->n_events;
    if (!c->n_events) return 0;
    arb_ctx_event_t *out = arb_arena_alloc(arena, sizeof *out * (n + c->n_events));
    if (!out) return -1;
    if (n) memcpy(out, ctx->events, sizeof *out * n);
    for (size_t i = 0; i < c->n_events; i++) {
        const arb_event_t *s = &c->events[i];
        arb_ctx_event_t e = { str_of(s->type), str_of(s->sku), str_of(s->category), s->ts,
                              str_of(s->channel), s->extra, (uint32_t)s->extra_len };
        if (!event_seen(out, ctx->n_events, &e)) out[n++] = e;
    }
    ctx->events = out;
    ctx->n_events = n;
    return 0;
}

static int merge_consent(arb_context_t *ctx, const arb_customer_t *c, arb_arena_t *arena)
{
    if (!c->n_consents) return 0;
    uint32_t n = ctx->n_consent;
    arb_ctx_consent_t *out = arb_arena_alloc(arena, sizeof *out * (n + c->n_consents));
    if (!out) return -1;
    for (uint32_t i = 0; i < n; i++) {
        out[i] = ctx->consent[i];
        for (size_t k = 0; k < c->n_consents; k++)
            if (!c->consents[k].granted && same(out[i].name, str_of(c->consents[k].key)))
                out[i].given = false;   /* a recorded withdrawal holds */
    }
    for (size_t k = 0; k < c->n_consents; k++) {
        arb_str_t key = str_of(c->consents[k].key);
        bool named = false;
        for (uint32_t i = 0; i < ctx->n_consent && !named; i++) named = same(ctx->consent[i].name, key);
        if (!named) out[n++] = (arb_ctx_consent_t){ key, c->consents[k].granted };
    }
    ctx->consent = out;
    ctx->n_consent = n;
    return 0;
}

int arb_history_merge(arb_context_t *ctx, const arb_customer_t *c, arb_arena_t *arena)
{
    ctx->merged = true;
    ctx->n_ctx_purchases = ctx->n_purchases;
    ctx->n_ctx_events = ctx->n_events;
    if (merge_purchases(ctx, c, arena) < 0 || merge_events(ctx, c, arena) < 0 ||
        merge_consent(ctx, c, arena) < 0)
        return -1;
    return 0;
}
