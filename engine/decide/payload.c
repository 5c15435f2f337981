/* Rendering personal payloads (see payload.h): the template's constant
 * bytes are copied, each templated string is packed anew from its parts,
 * and a recommending action's chosen products are appended as `products`.
 * Keeps decide/'s rule: values only, no I/O, no lock; the one allocation
 * is the rendered bytes, in the request's arena, sized beforehand so that
 * nothing is copied twice (a stored customer's attributes, read only when a
 * field misses in the context, are unpacked in a zone freed on return).
 */
#include "engine/decide/payload.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/base/civil.h"
#include "engine/base/utf8.h"
#include "engine/decide/eval_date.h"
#include "engine/ruleset/payload.h"

/* The rendered bytes: a buffer sized beforehand. */
typedef struct writer {
    char *buf;
    size_t n, cap;
    bool overflow;      /* the bound was wrong: a bug, answered as an error */
} writer_t;

static int write_cb(void *data, const char *s, size_t len)
{
    writer_t *w = data;
    if (w->n + len > w->cap) {
        w->overflow = true;
        return -1;
    }
    memcpy(w->buf + w->n, s, len);
    w->n += len;
    return 0;
}

/* What the fields of one rendering read. */
typedef struct env {
    const arb_ruleset_t *rs;
    const arb_context_t *ctx;
    const arb_customer_t *customer;
    const arb_catalog_t *cat;
    const uint32_t *products;
    uint32_t n_products;
    bool html;
    bool zone_live;
    const msgpack_object *stored;   /* the stored attributes, once read */
    msgpack_zone zone;
    msgpack_object stored_obj;
} env_t;

/* Attribute key: the context's, else the stored customer's (the context
 * is what the channel knows now; what `track` stored fills the rest). */
static const msgpack_object *attribute(env_t *e, const char *key, uint32_t len)
{
    const msgpack_object *o = arb_msgpack_map_getn(e->ctx->attributes, key, len);
    if (o && o->type != MSGPACK_OBJECT_NIL) return o;
    if (!e->customer || !e->customer->attributes || !e->customer->attributes_len) return NULL;
    if (!e->zone_live) {
        if (!msgpack_zone_init(&e->zone, 1024)) return NULL;
        e->zone_live = true;
        size_t off = 0;
        if (msgpack_unpack((const char *)e->customer->attributes, e->customer->attributes_len, &off,
                           &e->zone, &e->stored_obj) == MSGPACK_UNPACK_SUCCESS &&
            e->stored_obj.type == MSGPACK_OBJECT_MAP)
            e->stored = &e->stored_obj;
    }
    o = arb_msgpack_map_getn(e->stored, key, len);
    return o && o->type != MSGPACK_OBJECT_NIL ? o : NULL;
}

/* A number as a template shows it: whole, or with up to 2 decimals. */
static size_t number_text(double x, char *out, size_t cap)
{
    if (!isfinite(x)) return 0;
    if (x == 0) x = 0;  /* no "-0" */
    int n;
    if (x == floor(x) && fabs(x) < 1e15) {
        n = snprintf(out, cap, "%.0f", x);
    } else {
        n = snprintf(out, cap, "%.2f", x);
        while (n > 0 && out[n - 1] == '0') n--;
        if (n > 0 && out[n - 1] == '.') n--;
        if (n == 2 && out[0] == '-' && out[1] == '0') out[0] = '0', n = 1;
    }
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static int date_of(const env_t *e, const msgpack_object *o, int64_t *ts)
{
    return arb_eval_date_value(o, arb_eval_local_offset(e->rs, e->ctx), ts);
}

/* Whole years (calendar years in the customer's local time: a birthday
 * counts from its day) or whole days from ts to now; -1 in the future. */
static int64_t elapsed(const env_t *e, int64_t ts, bool years)
{
    int64_t now = e->ctx->now;
    if (ts > now) return -1;
    if (!years) return (now - ts) / 86400;
    int64_t off = arb_eval_local_offset(e->rs, e->ctx);
    int64_t d0 = arb_civil_day_of(ts + off), d1 = arb_civil_day_of(now + off);
    int64_t y0, y1;
    int m0, m1, dd0, dd1;
    arb_civil_from_days(d0, &y0, &m0, &dd0);
    arb_civil_from_days(d1, &y1, &m1, &dd1);
    int64_t s0 = ts + off - d0 * 86400, s1 = now + off - d1 * 86400;
    int64_t y = y1 - y0;
    if (m1 < m0 || (m1 == m0 && (dd1 < dd0 || (dd1 == dd0 && s1 < s0)))) y--;
    return y;
}

/* Insert s[0..n) into w: control characters dropped, invalid UTF-8 as
 * U+FFFD, HTML's five characters as entities (html), at most
 * ARB_TPL_VALUE_MAX bytes, cut before a character or entity that would
 * pass them. Returns the bytes written. */
static size_t put_value(writer_t *w, const char *s, size_t n, bool html)
{
    size_t used = 0;
    for (size_t i = 0; i < n;) {
        /* A run of printable ASCII that needs no entity, copied at once. */
        size_t run = i;
        while (run < n && (unsigned char)s[run] >= 0x20 && (unsigned char)s[run] < 0x7f &&
               !(html && (s[run] == '&' || s[run] == '<' || s[run] == '>' || s[run] == '"' ||
                          s[run] == '\'')))
            run++;
        if (run > i) {
            size_t k = run - i;
            if (used + k > ARB_TPL_VALUE_MAX) k = ARB_TPL_VALUE_MAX - used;
            write_cb(w, s + i, k);
            used += k;
            if (k < run - i) break;
            i = run;
            continue;
        }
        unsigned char c = (unsigned char)s[i];
        const char *rep = s + i;
        size_t rl = 1, adv = 1;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) {
                i++;
                continue;
            }
            if (html) {
                switch (c) {
                case '&': rep = "&amp;"; rl = 5; break;
                case '<': rep = "&lt;"; rl = 4; break;
                case '>': rep = "&gt;"; rl = 4; break;
                case '"': rep = "&quot;"; rl = 6; break;
                case '\'': rep = "&#39;"; rl = 5; break;
                default: break;
                }
            }
        } else {
            size_t k = arb_utf8_seq((const unsigned char *)s + i, n - i);
            if (k == 0) {
                rep = "\xEF\xBF\xBD";
                rl = 3;
            } else if (k == 2 && c == 0xC2 && (unsigned char)s[i + 1] < 0xA0) {
                i += 2;     /* C1 controls, U+0080..U+009F */
                continue;
            } else {
                rl = adv = k;
            }
        }
        if (used + rl > ARB_TPL_VALUE_MAX) break;
        write_cb(w, rep, rl);
        used += rl;
        i += adv;
    }
    return used;
}

/* Field p's value inserted into w; false (nothing written) when missing
 * or empty. */
static bool put_field(env_t *e, writer_t *w, const arb_payload_tpl_t *t, const arb_tpart_t *p)
{
    const char *key = t->text + p->text;
    const char *s = NULL;
    size_t n = 0;
    char num[64];
    switch (p->kind) {
    case ARB_TP_CUSTOMER_ID: s = e->ctx->customer_id.ptr; n = e->ctx->customer_id.len; break;
    case ARB_TP_CHANNEL: s = e->ctx->channel.ptr; n = e->ctx->channel.len; break;
    case ARB_TP_TOUCHPOINT: s = e->ctx->touchpoint.ptr; n = e->ctx->touchpoint.len; break;
    case ARB_TP_ATTR: {
        const msgpack_object *o = attribute(e, key, p->text_len);
        if (!o) return false;
        if (o->type == MSGPACK_OBJECT_STR) s = o->via.str.ptr, n = o->via.str.size;
        else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            s = num, n = (size_t)snprintf(num, sizeof num, "%llu", (unsigned long long)o->via.u64);
        else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            s = num, n = (size_t)snprintf(num, sizeof num, "%lld", (long long)o->via.i64);
        else if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64)
            s = num, n = number_text(o->via.f64, num, sizeof num);
        break;
    }
    case ARB_TP_YEARS_SINCE:
    case ARB_TP_DAYS_SINCE: {
        const msgpack_object *o = attribute(e, key, p->text_len);
        int64_t ts, v;
        if (!o || date_of(e, o, &ts) < 0 || (v = elapsed(e, ts, p->kind == ARB_TP_YEARS_SINCE)) < 0)
            return false;
        s = num, n = (size_t)snprintf(num, sizeof num, "%lld", (long long)v);
        break;
    }
    case ARB_TP_PRODUCT: {
        arb_pvalue_t v;
        if (!e->cat || !e->n_products || e->products[0] >= e->cat->n_products ||
            !arb_catalog_get(e->cat, &e->cat->products[e->products[0]], key, p->text_len, &v))
            return false;
        if (v.kind == ARB_PV_STR) s = v.str, n = v.len;
        else if (v.kind == ARB_PV_NUM) s = num, n = number_text(v.num, num, sizeof num);
        else if (v.kind == ARB_PV_BOOL) s = v.num != 0 ? "true" : "false", n = strlen(s);
        break;
    }
    default:
        return false;
    }
    return s && n && put_value(w, s, n, e->html) > 0;
}

/* One templated string: its parts, then the header its length needs (the
 * text is written 5 bytes on, room for the longest header, and moved back). */
static void put_slot(env_t *e, writer_t *w, const arb_payload_tpl_t *t, const arb_tslot_t *sl)
{
    size_t start = w->n;
    if (w->n + 5 > w->cap) {
        w->overflow = true;
        return;
    }
    w->n += 5;
    for (uint32_t i = 0; i < sl->count; i++) {
        const arb_tpart_t *p = &t->parts[sl->first + i];
        if (p->kind == ARB_TP_TEXT) write_cb(w, t->text + p->text, p->text_len);
        else if (!put_field(e, w, t, p) && p->has_default)
            write_cb(w, t->text + p->dflt, p->dflt_len);
    }
    size_t len = w->n - start - 5;
    char hdr[5];
    writer_t h = { .buf = hdr, .cap = sizeof hdr };
    msgpack_packer pk;
    msgpack_packer_init(&pk, &h, write_cb);
    msgpack_pack_str(&pk, len);
    memmove(w->buf + start + h.n, w->buf + start + 5, len);
    memcpy(w->buf + start, hdr, h.n);
    w->n = start + h.n + len;
}

/* Value v's bytes (none when v < 0). */
static size_t value_len(const arb_catalog_t *c, int32_t v) { return v < 0 ? 0 : c->values.lens[v]; }

/* A key and a str value at at (room made for them). */
#define PUT_KV(at, lit, v, n) \
    (arb_packroom_lit(at, lit), arb_packroom_put_str(at, n), arb_packroom_put_str_body(at, v, n))

/* `products`: {sku, name, brand, category, color, price} per chosen
 * product, best first, absent fields left out. The catalog's values as
 * they are: structured data the client reads (and escapes where it
 * shows them), not text inserted into the marketer's. Written without a
 * check per item: products_max made room for them all. */
static void put_products(env_t *e, writer_t *w, size_t room)
{
    if (w->cap - w->n < room) {
        w->overflow = true;
        return;
    }
    const arb_catalog_t *c = e->cat;
    uint32_t n = c ? e->n_products : 0;
    char *at = w->buf + w->n, **pa = &at;
    arb_packroom_lit(pa, "products");
    arb_packroom_put_array(pa, n);
    for (uint32_t i = 0; i < n; i++) {
        const arb_product_t *p = &c->products[e->products[i]];
        uint32_t k = 1 + (p->name_len > 0) + (p->brand >= 0) + (p->category >= 0) +
                     (p->color >= 0) + !isnan(p->price);
        arb_packroom_put_map(pa, k);
        PUT_KV(pa, "sku", p->sku, p->sku_len);
        if (p->name_len) PUT_KV(pa, "name", p->name, p->name_len);
        if (p->brand >= 0) PUT_KV(pa, "brand", arb_catalog_value(c, p->brand), value_len(c, p->brand));
        if (p->category >= 0)
            PUT_KV(pa, "category", arb_catalog_value(c, p->category), value_len(c, p->category));
        if (p->color >= 0) PUT_KV(pa, "color", arb_catalog_value(c, p->color), value_len(c, p->color));
        if (!isnan(p->price)) {
            arb_packroom_lit(pa, "price");
            arb_packroom_put_double(pa, p->price);
        }
    }
    w->n = (size_t)(at - w->buf);
}

/* The bytes put_products may write: per product its strings, and at most
 * 71 of keys and heads (6 keys of 30 bytes with their 6 heads, 5 str
 * heads of up to 5, a double of 9, a map head of 1). */
static size_t products_max(const env_t *e)
{
    const arb_catalog_t *c = e->cat;
    size_t max = 16;
    for (uint32_t i = 0; c && i < e->n_products; i++) {
        const arb_product_t *p = &c->products[e->products[i]];
        max += 96 + p->sku_len + p->name_len + value_len(c, p->brand) + value_len(c, p->category) +
               value_len(c, p->color);
    }
    return max;
}

int arb_payload_render(arb_decided_action_t *out, const arb_ruleset_t *rs, uint32_t action,
                       const arb_context_t *ctx, const arb_customer_t *customer,
                       const arb_catalog_t *cat, arb_arena_t *arena)
{
    int32_t ti = rs->action_template ? rs->action_template[action] : -1;
    if (ti < 0) return 0;
    const arb_payload_tpl_t *t = &rs->templates[ti];
    env_t e = { .rs = rs, .ctx = ctx, .customer = customer, .cat = cat, .html = t->escape_html,
                .products = out->products, .n_products = out->products ? out->n_products : 0 };
    for (uint32_t i = 0; cat && i < e.n_products; i++)
        if (e.products[i] >= cat->n_products) e.n_products = i;   /* never past the catalog */
    size_t room = t->products ? products_max(&e) : 0, cap = t->render_max + room;
    writer_t w = { .buf = arb_arena_alloc(arena, cap), .cap = cap };
    if (!w.buf) return -1;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &w, write_cb);
    size_t pos = 0;
    if (t->products) {
        msgpack_pack_map(&pk, t->map_n + 1);
        pos = t->map_hdr;
    }
    for (uint32_t i = 0; i < t->n_slots; i++) {
        const arb_tslot_t *sl = &t->slots[i];
        write_cb(&w, t->bytes + pos, sl->at - pos);
        put_slot(&e, &w, t, sl);
        pos = sl->end;
    }
    write_cb(&w, t->bytes + pos, t->len - pos);
    if (t->products) put_products(&e, &w, room);
    if (e.zone_live) msgpack_zone_destroy(&e.zone);
    if (w.overflow) return -1;
    const arb_action_t *a = &rs->actions[action];
    out->payload = w.buf;
    out->payload_len = w.n;
    out->tail_len = a->payload_at;
    out->payload_rendered = true;
    return 0;
}
