/* Compiling payload templates (see payload.h): at load, an action's packed
 * payload is split into the constant bytes between its templated strings
 * and, for each of those, literal text and fields, every field name checked
 * then (an unknown one, an unclosed brace, a product field outside a
 * recommending action are problems with the action's file:line). Keeps the
 * ruleset folder's rule: it packs no answer (the answer's bytes were packed
 * by compile_decl.c; this only finds where the strings in them are) and a
 * failure, running out of memory included, is a problem of the load.
 */
#include "engine/ruleset/payload.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ruleset/catalog.h"
#include "engine/ruleset/rawread.h"
#include "engine/ruleset/ruleset_int.h"

#define FIELDS_KNOWN "the fields are {attributes.KEY}, {years_since.KEY}, {days_since.KEY}, " \
                     "{customer_id}, {channel}, {touchpoint} and, in a recommending action, "  \
                     "{product.FIELD}; write {{ and }} for a brace"

/* What building one template collects; arrays grow by doubling. */
typedef struct builder {
    arb_payload_tpl_t *t;
    const char *base;           /* the packed payload being walked */
    size_t text_cap, parts_cap, slots_cap;
    uint32_t text_len;
    const char *where;
    arb_problems_t *problems;
    int bad;                    /* problems added */
    bool oom;
} builder_t;

static bool grow(builder_t *b, void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap) return true;
    size_t c = *cap ? *cap * 2 : 8;
    void *p = realloc(*arr, c * elem);
    if (!p) return b->oom = true, false;
    *arr = p;
    *cap = c;
    return true;
}

/* s[0..n) into the template's text; its offset, or UINT32_MAX. */
static uint32_t add_text(builder_t *b, const char *s, size_t n)
{
    while (b->text_len + n + 1 > b->text_cap) {
        size_t c = b->text_cap ? b->text_cap * 2 : 64;
        char *p = realloc(b->t->text, c);
        if (!p) return b->oom = true, UINT32_MAX;
        b->t->text = p;
        b->text_cap = c;
    }
    uint32_t at = b->text_len;
    if (n) memcpy(b->t->text + at, s, n);
    b->t->text[at + n] = '\0';
    b->text_len += (uint32_t)n + 1;
    return at;
}

static arb_tpart_t *add_part(builder_t *b, arb_tpart_kind_t kind)
{
    arb_payload_tpl_t *t = b->t;
    if (!grow(b, (void **)&t->parts, &b->parts_cap, t->n_parts, sizeof *t->parts)) return NULL;
    arb_tpart_t *p = &t->parts[t->n_parts++];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    return p;
}

static void problem(builder_t *b, const char *s, size_t n, const char *fmt, const char *name,
                    size_t name_len)
{
    char msg[400];
    snprintf(msg, sizeof msg, fmt, (int)name_len, name);
    arb_problems_add(b->problems, "%s: payload \"%.*s\": %s", b->where, (int)(n > 80 ? 80 : n), s,
                     msg);
    b->bad++;
}

static bool has_prefix(const char *s, size_t n, const char *prefix, size_t *rest)
{
    size_t k = strlen(prefix);
    if (n <= k || memcmp(s, prefix, k) != 0) return false;
    *rest = k;
    return true;
}

/* The field {name|default} of string s: a part, or a problem. */
static void add_field(builder_t *b, const char *s, size_t n, const char *f, size_t len)
{
    const char *bar = memchr(f, '|', len);
    size_t name_len = bar ? (size_t)(bar - f) : len;
    size_t key = 0;
    arb_tpart_kind_t kind;
    if (name_len == 11 && memcmp(f, "customer_id", 11) == 0) kind = ARB_TP_CUSTOMER_ID;
    else if (name_len == 7 && memcmp(f, "channel", 7) == 0) kind = ARB_TP_CHANNEL;
    else if (name_len == 10 && memcmp(f, "touchpoint", 10) == 0) kind = ARB_TP_TOUCHPOINT;
    else if (has_prefix(f, name_len, "attributes.", &key)) kind = ARB_TP_ATTR;
    else if (has_prefix(f, name_len, "years_since.", &key)) kind = ARB_TP_YEARS_SINCE;
    else if (has_prefix(f, name_len, "days_since.", &key)) kind = ARB_TP_DAYS_SINCE;
    else if (has_prefix(f, name_len, "product.", &key)) kind = ARB_TP_PRODUCT;
    else {
        problem(b, s, n, "unknown field {%.*s}: " FIELDS_KNOWN, f, name_len);
        return;
    }
    if (kind == ARB_TP_PRODUCT && !b->t->products) {
        problem(b, s, n, "{%.*s} reads the chosen products: only a recommending action "
                "(recommend = { ... }) has them", f, name_len);
        return;
    }
    arb_tpart_t *p = add_part(b, kind);
    if (!p) return;
    p->text_len = (uint32_t)(name_len - key);
    p->text = add_text(b, f + key, name_len - key);
    if (bar) {
        p->has_default = true;
        p->dflt_len = (uint32_t)(len - name_len - 1);
        p->dflt = add_text(b, bar + 1, len - name_len - 1);
    }
    if (kind == ARB_TP_PRODUCT) b->t->has_product_fields = true;
}

/* Literal text s[0..n) as one part (n 0: none). */
static void add_literal(builder_t *b, const char *s, size_t n)
{
    if (!n) return;
    arb_tpart_t *p = add_part(b, ARB_TP_TEXT);
    if (!p) return;
    p->text_len = (uint32_t)n;
    p->text = add_text(b, s, n);
}

/* The string s[0..n) at packed bytes [at, end): a slot of parts. */
static void add_slot(builder_t *b, const char *s, size_t n, uint32_t at, uint32_t end)
{
    arb_payload_tpl_t *t = b->t;
    uint32_t first = t->n_parts;
    char *lit = malloc(n + 1);   /* the literal being gathered, braces unescaped */
    if (!lit) {
        b->oom = true;
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '{' && i + 1 < n && s[i + 1] == '{') {
            lit[k++] = '{';
            i++;
        } else if (s[i] == '}' && i + 1 < n && s[i + 1] == '}') {
            lit[k++] = '}';
            i++;
        } else if (s[i] == '}') {
            problem(b, s, n, "a '}' closes no field%.*s (write }} for a brace)", "", 0);
        } else if (s[i] == '{') {
            const char *close = memchr(s + i + 1, '}', n - i - 1);
            const char *open = memchr(s + i + 1, '{', n - i - 1);
            if (!close || (open && open < close)) {
                problem(b, s, n, "an unclosed brace%.*s (write {{ for a brace)", "", 0);
                break;
            }
            add_literal(b, lit, k);
            k = 0;
            add_field(b, s, n, s + i + 1, (size_t)(close - s - i - 1));
            i = (size_t)(close - s);
        } else {
            lit[k++] = s[i];
        }
    }
    add_literal(b, lit, k);
    free(lit);
    if (b->oom || !grow(b, (void **)&t->slots, &b->slots_cap, t->n_slots, sizeof *t->slots)) return;
    t->slots[t->n_slots++] = (arb_tslot_t){ .at = at, .end = end, .first = first,
                                            .count = t->n_parts - first };
}

/* Bytes of the header msgpack's packer writes before a string of n bytes. */
static uint32_t str_header(size_t n)
{
    return n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5;
}

/* Every string value below o (not map keys), in byte order. */
static void walk(builder_t *b, const msgpack_object *o, size_t len)
{
    switch (o->type) {
    case MSGPACK_OBJECT_STR: {
        const char *s = o->via.str.ptr;
        size_t n = o->via.str.size;
        if (!n || !memchr(s, '{', n)) return;
        uint32_t h = str_header(n);
        size_t at = (size_t)(s - b->base);
        /* The unpacker points into the bytes it read (no copy); the packer
         * wrote the shortest header. Anything else: no template, loudly. */
        if (s < b->base || at < h || at + n > len) {
            arb_problems_add(b->problems, "%s: payload: a string could not be located", b->where);
            b->bad++;
            return;
        }
        add_slot(b, s, n, (uint32_t)(at - h), (uint32_t)(at + n));
        return;
    }
    case MSGPACK_OBJECT_ARRAY:
        for (uint32_t i = 0; i < o->via.array.size; i++) walk(b, &o->via.array.ptr[i], len);
        return;
    case MSGPACK_OBJECT_MAP:
        for (uint32_t i = 0; i < o->via.map.size; i++) walk(b, &o->via.map.ptr[i].val, len);
        return;
    default:
        return;
    }
}

static bool is_products_key(const msgpack_object *k)
{
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == 8 &&
           memcmp(k->via.str.ptr, "products", 8) == 0;
}

/* The products list's place: after the payload map's entries (or instead
 * of nil). A problem when the payload is neither. */
static void products_place(builder_t *b, const msgpack_object *o)
{
    arb_payload_tpl_t *t = b->t;
    if (o->type == MSGPACK_OBJECT_NIL) {
        t->map_n = 0;
        t->map_hdr = 1;
        return;
    }
    if (o->type != MSGPACK_OBJECT_MAP) {
        arb_problems_add(b->problems, "%s: payload: a recommending action's payload must be a "
                         "table (or absent): its chosen products are added to it as `products`",
                         b->where);
        b->bad++;
        return;
    }
    for (uint32_t i = 0; i < o->via.map.size; i++)
        if (is_products_key(&o->via.map.ptr[i].key)) {
            arb_problems_add(b->problems, "%s: payload: the key 'products' is the chosen products' "
                             "in a recommending action: name yours otherwise", b->where);
            b->bad++;
        }
    t->map_n = o->via.map.size;
    t->map_hdr = t->map_n < 16 ? 1 : t->map_n < 65536 ? 3 : 5;
}

void arb_payload_tpl_free(arb_payload_tpl_t *t)
{
    if (!t) return;
    free(t->bytes);
    free(t->text);
    free(t->parts);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

int arb_payload_tpl_build(const char *bytes, size_t len, bool html, bool products,
                          const char *where, arb_problems_t *problems, arb_payload_tpl_t *out)
{
    arb_payload_tpl_t t = { .escape_html = html, .products = products };
    builder_t b = { .t = &t, .base = bytes, .where = where, .problems = problems };
    if (!len || len > UINT32_MAX) return 0;
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 1024)) {
        arb_problems_add(problems, "%s: payload: out of memory", where);
        return -1;
    }
    msgpack_object o;
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack(bytes, len, &off, &zone, &o);
    if (rc == MSGPACK_UNPACK_NOMEM_ERROR) b.oom = true;
    else if (rc != MSGPACK_UNPACK_SUCCESS || off != len) {
        arb_problems_add(problems, "%s: payload: its packed bytes do not read back", where);
        b.bad++;
    } else {
        walk(&b, &o, len);
        if (products) products_place(&b, &o);
    }
    msgpack_zone_destroy(&zone);
    if (b.oom) arb_problems_add(problems, "%s: payload: out of memory", where);
    if (b.oom || b.bad) {
        arb_payload_tpl_free(&t);
        return -1;
    }
    if (!t.n_slots && !products) {
        arb_payload_tpl_free(&t);
        return 0;
    }
    t.bytes = malloc(len);
    if (!t.bytes) {
        arb_payload_tpl_free(&t);
        arb_problems_add(problems, "%s: payload: out of memory", where);
        return -1;
    }
    memcpy(t.bytes, bytes, len);
    t.len = (uint32_t)len;
    /* The most rendering writes: the constant bytes, a longer map header,
     * and each slot's header and parts, a field at most its bound or its
     * default. */
    size_t max = len + 5;
    for (uint32_t i = 0; i < t.n_parts; i++) {
        const arb_tpart_t *p = &t.parts[i];
        if (p->kind == ARB_TP_TEXT) max += p->text_len;
        else max += ARB_TPL_VALUE_MAX > p->dflt_len ? ARB_TPL_VALUE_MAX : p->dflt_len;
    }
    t.render_max = max + 5 * (size_t)t.n_slots;
    *out = t;
    return 1;
}

/* ---- the loader's side */

void arb__compile_payload(compiler_t *cc, int spec, arb_action_t *a)
{
    lua_State *L = cc->L;
    bool html = true;
    const char *escape = spec_field_string(cc, spec, "escape", false, false);
    if (escape && strcmp(escape, "none") == 0) html = false;
    else if (escape && strcmp(escape, "html") != 0)
        spec_problem(cc, "'escape': expected \"html\" (the default) or \"none\", got \"%s\"", escape);
    bool products = arb_raw_field(L, spec, "recommend") != LUA_TNIL;
    lua_pop(L, 1);
    if (a->answer_tail_len <= a->payload_at) return;   /* the payload failed to pack */
    char where[300];
    snprintf(where, sizeof where, "%s:%d: %s '%s'", a->file, a->line, cc->d->kind, a->id);
    arb_payload_tpl_t t;
    int rc = arb_payload_tpl_build(a->answer_tail + a->payload_at, a->answer_tail_len - a->payload_at,
                                   html, products, where, cc->problems, &t);
    if (rc <= 0) return;
    t.action = a->id;
    t.file = a->file;
    t.line = a->line;
    arb_ruleset_t *rs = cc->rs;
    arb_payload_tpl_t *grown = realloc(rs->templates, (rs->n_templates + 1) * sizeof *grown);
    if (!grown) {
        arb_payload_tpl_free(&t);
        arb__compile_oom(L);
    }
    rs->templates = grown;
    rs->templates[rs->n_templates++] = t;
}

static int by_id(const void *key, const void *elem)
{
    return strcmp(key, ((const arb_action_t *)elem)->id);
}

int arb__payload_finish(arb_ruleset_t *rs, arb_problems_t *problems)
{
    if (!rs->n_templates) return 0;
    rs->action_template = malloc(sizeof *rs->action_template * (rs->n_actions + 1));
    if (!rs->action_template) {
        arb_problems_add(problems, "%s: out of memory loading the payload templates", rs->dir);
        return -1;
    }
    for (uint32_t i = 0; i < rs->n_actions; i++) rs->action_template[i] = -1;
    for (uint32_t i = 0; i < rs->n_templates; i++) {
        const arb_action_t *a = bsearch(rs->templates[i].action, rs->actions, rs->n_actions,
                                        sizeof *rs->actions, by_id);
        if (a) rs->action_template[a - rs->actions] = (int32_t)i;
    }
    arb_payload_check(rs, rs->catalog, problems);
    return 0;
}

void arb__payload_free(arb_ruleset_t *rs)
{
    for (uint32_t i = 0; i < rs->n_templates; i++) arb_payload_tpl_free(&rs->templates[i]);
    free(rs->templates);
    free(rs->action_template);
    rs->templates = NULL;
    rs->action_template = NULL;
    rs->n_templates = 0;
}

/* ---- the catalog's side */

/* The field names products have, for the message: the named ones and the
 * catalog's own. */
static void known_fields(const arb_catalog_t *cat, char *out, size_t cap)
{
    int n = snprintf(out, cap, "sku, name, brand, category, color, price, popularity, in_stock");
    for (uint32_t i = 0; i < cat->fields.n && n > 0 && (size_t)n < cap; i++)
        n += snprintf(out + n, cap - (size_t)n, ", %s", cat->fields.names[i]);
}

static int check_part(const arb_payload_tpl_t *t, const arb_tpart_t *p, const arb_catalog_t *cat,
                      arb_problems_t *problems)
{
    const char *name = t->text + p->text;
    arb_pvalue_t v;
    static const char *const named[] = { "sku", "name", "brand", "category", "color", "price",
                                         "popularity", "in_stock", "tags", NULL };
    bool maybe = arb_symtab_find(&cat->fields, name, p->text_len) >= 0 ||
                 arb_symtab_find(&cat->relations, name, p->text_len) >= 0;
    for (const char *const *k = named; *k && !maybe; k++) maybe = strcmp(*k, name) == 0;
    /* A name no product can have is told without a pass over the catalog. */
    for (uint32_t i = 0; maybe && i < cat->n_products; i++) {
        if (!arb_catalog_get(cat, &cat->products[i], name, p->text_len, &v)) continue;
        if (v.kind != ARB_PV_LIST) return 0;
        arb_problems_add(problems, "%s:%d: action '%s': payload: {product.%s} is a list; a field "
                         "inserts one value (a text, a number or a boolean)", t->file, t->line,
                         t->action, name);
        return 1;
    }
    char known[600];
    known_fields(cat, known, sizeof known);
    arb_problems_add(problems, "%s:%d: action '%s': payload: {product.%s}: no product of the "
                     "catalog has that field (fields: %s)", t->file, t->line, t->action, name, known);
    return 1;
}

int arb_payload_check(const arb_ruleset_t *rs, const arb_catalog_t *cat, arb_problems_t *p)
{
    if (!cat) return 0;
    int bad = 0;
    for (uint32_t i = 0; i < rs->n_templates; i++) {
        const arb_payload_tpl_t *t = &rs->templates[i];
        if (!t->has_product_fields) continue;
        for (uint32_t k = 0; k < t->n_parts; k++)
            if (t->parts[k].kind == ARB_TP_PRODUCT) bad += check_part(t, &t->parts[k], cat, p);
    }
    return bad;
}

