/* The product catalog's loader (catalog.h; the readers are catalog_read.c): a JSON-lines file
 * read whole or not at all, every mistake a problem "file:line: message",
 * never an abort (running out of memory is a problem too). It keeps the
 * ruleset folder's rule: everything is checked at load, so the decide path
 * only reads (lock-free, no allocation).
 *
 * Two passes: the first parses every line (jansson, one line at a time,
 * duplicate keys refused) into compact arrays, keeping the skus a relation
 * names aside; the second resolves them once every sku is known, so a
 * relation may name a product of a later line. Memory is compact because a
 * catalog of 100,000 products is held by every ruleset generation alive:
 * names in one text pool, categories/brands/colors/tags/string values
 * interned once, lists as ranges of shared arrays.
 */
#include "engine/ruleset/catalog.h"

#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/base/fileio.h"
#include "engine/base/utf8.h"

/* A sku a relation names, resolved in the second pass. */
typedef struct pending {
    uint32_t off, len;      /* in loader.refs */
} pending_t;

typedef struct loader {
    arb_catalog_t *c;
    const char *disp;
    arb_problems_t *pb;
    size_t before;          /* pb->total at the start */
    bool oom;
    size_t cap_products, cap_names, cap_tags, cap_rels, cap_fields, cap_related;
    char *pool;             /* product names; pointers fixed once it stops growing */
    size_t pool_len, pool_cap;
    uint32_t *name_off;     /* per product, into pool */
    char *refs;             /* the skus relations name, until resolved */
    size_t refs_len, refs_cap;
    pending_t *pend;        /* one per catalog->related entry */
    uint32_t n_related;
} loader_t;

#define PROB(ld, line, ...) problem_at(ld, line, __VA_ARGS__)

static void __attribute__((format(printf, 3, 4)))
problem_at(loader_t *ld, int line, const char *fmt, ...)
{
    char msg[ARB_PROBLEM_MAX_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0) arb_problems_add(ld->pb, "%s:%d: %s", ld->disp, line, msg);
    else arb_problems_add(ld->pb, "%s: %s", ld->disp, msg);
}

static void oom(loader_t *ld)
{
    if (!ld->oom) problem_at(ld, 0, "out of memory loading the catalog");
    ld->oom = true;
}

/* Make room for need elements of size elem in *p (capacity *cap). */
static bool grow(loader_t *ld, void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return true;
    size_t n = *cap ? *cap : 16;
    while (n < need) n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q) {
        oom(ld);
        return false;
    }
    *p = q;
    *cap = n;
    return true;
}

/* A string kept for a message: cut and cleaned (the line may hold anything). */
static const char *shown(const char *s, size_t n, char *buf, size_t len)
{
    arb_text_clean(s, n, buf, len);
    return buf;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* A string field (category, brand, color, a tag) as a value id; -1 and a
 * problem when it is not a string or too long. */
static int32_t value_of(loader_t *ld, int line, const char *what, const json_t *v)
{
    if (!json_is_string(v)) {
        PROB(ld, line, "%s must be a string, not %s", what, type_name(v));
        return -1;
    }
    size_t n = json_string_length(v);
    if (n > ARB_CATALOG_MAX_TEXT) {
        PROB(ld, line, "%s is over %u bytes", what, ARB_CATALOG_MAX_TEXT);
        return -1;
    }
    int32_t id = arb_symtab_intern(&ld->c->values, json_string_value(v), (uint32_t)n);
    if (id < 0) oom(ld);
    return id;
}

static void read_tags(loader_t *ld, arb_product_t *p, const json_t *v)
{
    if (!json_is_array(v)) {
        PROB(ld, p->line, "tags must be a list of strings, not %s", type_name(v));
        return;
    }
    size_t n = json_array_size(v);
    if (n > ARB_CATALOG_MAX_LIST) {
        PROB(ld, p->line, "tags has %zu items (at most %u)", n, ARB_CATALOG_MAX_LIST);
        return;
    }
    arb_catalog_t *c = ld->c;
    if (!grow(ld, (void **)&c->tag_ids, &ld->cap_tags, p->tags + n, sizeof *c->tag_ids)) return;
    for (size_t i = 0; i < n; i++) {
        char what[32];
        snprintf(what, sizeof what, "tags item %zu", i + 1);
        int32_t id = value_of(ld, p->line, what, json_array_get(v, i));
        if (id >= 0) c->tag_ids[p->tags + p->n_tags++] = id;
    }
}

/* One relation: its skus kept aside until every product is known. */
/* The fields every product line may have (read_line reads them by name). */
static bool named_field(const char *k)
{
    static const char *const names[] = { "sku", "name", "category", "brand", "color", "price",
                                         "popularity", "in_stock", "tags", "relations" };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(k, names[i]) == 0) return true;
    return false;
}

static void read_relation(loader_t *ld, arb_product_t *p, const char *name, const json_t *v)
{
    arb_catalog_t *c = ld->c;
    char buf[80];
    const char *shown_name = shown(name, strlen(name), buf, sizeof buf);
    size_t nl = strlen(name);
    if (nl == 0 || nl > ARB_CATALOG_MAX_TEXT) {
        PROB(ld, p->line, "relation name '%s' must be 1 to %u bytes", shown_name, ARB_CATALOG_MAX_TEXT);
        return;
    }
    if (!json_is_array(v)) {
        PROB(ld, p->line, "relation '%s' must be a list of skus, not %s", shown_name, type_name(v));
        return;
    }
    size_t n = json_array_size(v);
    if (n > ARB_CATALOG_MAX_LIST) {
        PROB(ld, p->line, "relation '%s' has %zu skus (at most %u)", shown_name, n, ARB_CATALOG_MAX_LIST);
        return;
    }
    /* A rule reads a relation and a field alike, by name (product.<name>,
     * where): one name must mean one thing. */
    if (named_field(name)) {
        PROB(ld, p->line, "relation '%s' has the name of a product field: name it otherwise", shown_name);
        return;
    }
    if (arb_symtab_find(&c->fields, name, (uint32_t)nl) >= 0) {
        PROB(ld, p->line, "'%s' is a field of another product and a relation here: name one otherwise",
             shown_name);
        return;
    }
    int32_t rel = arb_symtab_intern(&c->relations, name, (uint32_t)nl);
    if (rel < 0 || !grow(ld, (void **)&c->rels, &ld->cap_rels, p->rels + p->n_rels + 1, sizeof *c->rels) ||
        !grow(ld, (void **)&ld->pend, &ld->cap_related, ld->n_related + n, sizeof *ld->pend)) {
        if (rel < 0) oom(ld);
        return;
    }
    arb_product_rel_t *r = &c->rels[p->rels + p->n_rels++];
    *r = (arb_product_rel_t){ .relation = rel, .first = ld->n_related, .count = 0 };
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_array_get(v, i);
        size_t sl = json_string_length(s);
        if (!json_is_string(s) || sl == 0 || sl > ARB_CATALOG_MAX_SKU) {
            PROB(ld, p->line, "relation '%s' item %zu must be a sku (a string of 1 to %u bytes), not %s",
                 shown_name, i + 1, ARB_CATALOG_MAX_SKU, json_is_string(s) ? "that" : type_name(s));
            continue;
        }
        if (!grow(ld, (void **)&ld->refs, &ld->refs_cap, ld->refs_len + sl, 1)) return;
        memcpy(ld->refs + ld->refs_len, json_string_value(s), sl);
        ld->pend[ld->n_related++] = (pending_t){ (uint32_t)ld->refs_len, (uint32_t)sl };
        ld->refs_len += sl;
        r->count++;
    }
}

static void read_relations(loader_t *ld, arb_product_t *p, const json_t *v)
{
    if (!json_is_object(v)) {
        PROB(ld, p->line, "relations must be an object of lists of skus, as in "
             "{\"complements\": [\"MS-100\"]}, not %s", type_name(v));
        return;
    }
    const char *k;
    json_t *list;
    json_object_foreach((json_t *)v, k, list) read_relation(ld, p, k, list);
}

/* A field beyond the named ones: a string, a number or a boolean. */
static void read_extra(loader_t *ld, arb_product_t *p, const char *k, const json_t *v)
{
    arb_catalog_t *c = ld->c;
    char buf[80];
    size_t kl = strlen(k);
    if (kl == 0 || kl > ARB_CATALOG_MAX_TEXT) {
        PROB(ld, p->line, "field name '%s' must be 1 to %u bytes", shown(k, kl, buf, sizeof buf),
             ARB_CATALOG_MAX_TEXT);
        return;
    }
    arb_product_field_t f = { .field = -1, .str = -1 };
    if (json_is_string(v)) {
        char what[120];
        snprintf(what, sizeof what, "field '%s'", shown(k, kl, buf, sizeof buf));
        f.kind = ARB_PF_STR;
        if ((f.str = value_of(ld, p->line, what, v)) < 0) return;
    } else if (json_is_number(v)) {
        f.kind = ARB_PF_NUM;
        f.num = json_number_value(v);
        if (!isfinite(f.num)) {
            PROB(ld, p->line, "field '%s' must be a finite number", shown(k, kl, buf, sizeof buf));
            return;
        }
    } else if (json_is_boolean(v)) {
        f.kind = ARB_PF_BOOL;
        f.num = json_is_true(v);
    } else {
        PROB(ld, p->line, "field '%s' is %s: only strings, numbers and booleans; lists go in tags "
             "or relations", shown(k, kl, buf, sizeof buf), type_name(v));
        return;
    }
    if (arb_symtab_find(&c->relations, k, (uint32_t)kl) >= 0) {
        PROB(ld, p->line, "'%s' is a relation of another product and a field here: name one otherwise",
             shown(k, kl, buf, sizeof buf));
        return;
    }
    if ((f.field = arb_symtab_intern(&c->fields, k, (uint32_t)kl)) < 0) {
        oom(ld);
        return;
    }
    if (!grow(ld, (void **)&c->pfields, &ld->cap_fields, p->fields + p->n_fields + 1, sizeof *c->pfields))
        return;
    c->pfields[p->fields + p->n_fields++] = f;
}

static double number_of(loader_t *ld, int line, const char *what, const json_t *v, double lo,
                        double hi, double dflt)
{
    if (!json_is_number(v)) {
        PROB(ld, line, "%s must be a number, not %s", what, type_name(v));
        return dflt;
    }
    double x = json_number_value(v);
    if (!isfinite(x) || x < lo || x > hi) {
        if (hi == INFINITY) PROB(ld, line, "%s must be a finite number >= %g, not %.17g", what, lo, x);
        else PROB(ld, line, "%s must be between %g and %g, not %.17g", what, lo, hi, x);
        return dflt;
    }
    return x;
}

/* The sku of a line's product: interned as the next product index; false
 * (with a problem) when missing, mistyped, too long or a duplicate. */
static bool read_sku(loader_t *ld, int line, const json_t *obj)
{
    arb_catalog_t *c = ld->c;
    const json_t *v = json_object_get(obj, "sku");
    if (!v) {
        PROB(ld, line, "missing sku: every product needs a unique \"sku\"");
        return false;
    }
    if (!json_is_string(v)) {
        PROB(ld, line, "sku must be a string, not %s", type_name(v));
        return false;
    }
    const char *s = json_string_value(v);
    uint32_t n = (uint32_t)json_string_length(v);
    char buf[100];
    if (n == 0) {
        PROB(ld, line, "empty sku");
        return false;
    }
    if (n > ARB_CATALOG_MAX_SKU) {
        PROB(ld, line, "sku '%s' is over %u bytes", shown(s, n, buf, 40), ARB_CATALOG_MAX_SKU);
        return false;
    }
    int32_t first = arb_symtab_find(&c->skus, s, n);
    if (first >= 0) {
        PROB(ld, line, "duplicate sku '%s' (first on line %d)", shown(s, n, buf, sizeof buf),
             c->products[first].line);
        return false;
    }
    if (!grow(ld, (void **)&c->products, &ld->cap_products, c->n_products + 1, sizeof *c->products) ||
        !grow(ld, (void **)&ld->name_off, &ld->cap_names, c->n_products + 1, sizeof *ld->name_off))
        return false;
    if (arb_symtab_intern(&c->skus, s, n) != (int32_t)c->n_products) {
        oom(ld);
        return false;
    }
    return true;
}

/* One product line (bounded). */
static void read_line(loader_t *ld, const char *s, size_t n, int line)
{
    arb_catalog_t *c = ld->c;
    json_error_t err;
    json_t *obj = json_loadb(s, n, JSON_REJECT_DUPLICATES, &err);
    if (!obj) {
        /* jansson refuses bytes that are not UTF-8 too: checked only then
         * (a line it accepts is valid UTF-8), for a clearer message. */
        size_t bad = arb_utf8_first_invalid(s, n);
        if (json_error_code(&err) == json_error_out_of_memory) oom(ld);
        else if (bad < n) PROB(ld, line, "not valid UTF-8 (byte %zu of the line)", bad + 1);
        else PROB(ld, line, "bad JSON at column %d: %s", err.column, err.text);
        return;
    }
    if (!json_is_object(obj)) {
        PROB(ld, line, "a product must be a JSON object, as in {\"sku\": \"LT-100\", ...}, not %s",
             type_name(obj));
        json_decref(obj);
        return;
    }
    /* A line with a bad sku is still checked for its other mistakes. */
    bool keep = read_sku(ld, line, obj);
    arb_product_t scratch, *p = keep ? &c->products[c->n_products] : &scratch;
    *p = (arb_product_t){ .category = -1, .brand = -1, .color = -1, .price = NAN, .in_stock = true,
                          .line = line, .tags = 0, .rels = 0, .fields = 0 };
    /* Lists go at the ends of the shared arrays (a dropped line's too: the
     * catalog then fails anyway). */
    uint32_t tag_end = 0, rel_end = 0, field_end = 0;
    if (c->n_products) {
        const arb_product_t *q = &c->products[c->n_products - 1];
        tag_end = q->tags + q->n_tags;
        rel_end = q->rels + q->n_rels;
        field_end = q->fields + q->n_fields;
    }
    p->tags = tag_end;
    p->rels = rel_end;
    p->fields = field_end;
    uint32_t related0 = ld->n_related;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        if (strcmp(k, "sku") == 0) continue;
        else if (strcmp(k, "name") == 0) {
            if (!json_is_string(v)) PROB(ld, line, "name must be a string, not %s", type_name(v));
            else if (json_string_length(v) > ARB_CATALOG_MAX_TEXT)
                PROB(ld, line, "name is over %u bytes", ARB_CATALOG_MAX_TEXT);
            else if (keep) {
                size_t nl = json_string_length(v);
                if (!grow(ld, (void **)&ld->pool, &ld->pool_cap, ld->pool_len + nl + 1, 1)) continue;
                memcpy(ld->pool + ld->pool_len, json_string_value(v), nl + 1);
                ld->name_off[c->n_products] = (uint32_t)ld->pool_len;
                p->name_len = (uint32_t)nl;
                ld->pool_len += nl + 1;
            }
        } else if (strcmp(k, "category") == 0) p->category = value_of(ld, line, "category", v);
        else if (strcmp(k, "brand") == 0) p->brand = value_of(ld, line, "brand", v);
        else if (strcmp(k, "color") == 0) p->color = value_of(ld, line, "color", v);
        else if (strcmp(k, "price") == 0) p->price = number_of(ld, line, "price", v, 0, INFINITY, NAN);
        else if (strcmp(k, "popularity") == 0) p->popularity = number_of(ld, line, "popularity", v, 0, 1, 0);
        else if (strcmp(k, "in_stock") == 0) {
            if (json_is_boolean(v)) p->in_stock = json_is_true(v);
            else if (json_is_number(v) && isfinite(json_number_value(v))) p->in_stock = json_number_value(v) > 0;
            else PROB(ld, line, "in_stock must be true, false or a count, not %s", type_name(v));
        } else if (strcmp(k, "tags") == 0) read_tags(ld, p, v);
        else if (strcmp(k, "relations") == 0) read_relations(ld, p, v);
        else read_extra(ld, p, k, v);
    }
    json_decref(obj);
    if (!keep) {
        ld->n_related = related0;   /* nothing to resolve for a product not kept */
        return;
    }
    if (p->name_len == 0) ld->name_off[c->n_products] = UINT32_MAX;
    c->n_products++;
}

/* The second pass: every sku a relation names becomes a product index. */
static void resolve(loader_t *ld)
{
    arb_catalog_t *c = ld->c;
    /* Never NULL, even without an edge: an empty relation's list is
     * related + first, and NULL + 0 is undefined. */
    if (!(c->related = malloc((ld->n_related + 1) * sizeof *c->related))) {
        oom(ld);
        return;
    }
    for (uint32_t i = 0; i < c->n_products; i++) {
        const arb_product_t *p = &c->products[i];
        for (uint32_t r = 0; r < p->n_rels; r++) {
            const arb_product_rel_t *rel = &c->rels[p->rels + r];
            for (uint32_t k = 0; k < rel->count; k++) {
                const pending_t *pd = &ld->pend[rel->first + k];
                const char *s = ld->refs + pd->off;
                int32_t id = arb_symtab_find(&c->skus, s, pd->len);
                char a[100], b[100];
                if (id < 0)
                    PROB(ld, p->line, "relation '%s' names sku '%s', which no line of the catalog has",
                         c->relations.names[rel->relation], shown(s, pd->len, a, sizeof a));
                else if ((uint32_t)id == i)
                    PROB(ld, p->line, "relation '%s' of '%s' names the product itself",
                         c->relations.names[rel->relation], shown(p->sku, p->sku_len, b, sizeof b));
                else c->related[rel->first + k] = (uint32_t)id;
            }
        }
    }
}

static size_t symtab_bytes(const arb_symtab_t *t)
{
    size_t b = (size_t)t->cap * sizeof *t->slots + (size_t)t->cap / 2 * (sizeof *t->names + sizeof *t->lens);
    /* Each name is its own allocation: its bytes rounded as malloc does. */
    for (uint32_t i = 0; i < t->n; i++) b += ((size_t)t->lens[i] + 1 + 8 + 15) & ~(size_t)15;
    return b;
}

static void finish(loader_t *ld)
{
    arb_catalog_t *c = ld->c;
    /* The pool stopped growing: names become pointers; trim the arrays. */
    if (ld->pool_len) {
        char *pool = realloc(ld->pool, ld->pool_len);
        if (pool) ld->pool = pool;
    }
    for (uint32_t i = 0; i < c->n_products; i++) {
        arb_product_t *p = &c->products[i];
        p->sku = c->skus.names[i];
        p->sku_len = c->skus.lens[i];
        p->name = ld->name_off[i] == UINT32_MAX ? "" : ld->pool + ld->name_off[i];
    }
    if (c->n_products) {
        arb_product_t *q = realloc(c->products, c->n_products * sizeof *q);
        if (q) c->products = q;
    }
    c->bytes = sizeof *c + strlen(c->path) + 1 + ld->pool_len + (size_t)c->n_products * sizeof *c->products +
               (size_t)ld->n_related * sizeof *c->related + ld->cap_rels * sizeof *c->rels +
               ld->cap_tags * sizeof *c->tag_ids + ld->cap_fields * sizeof *c->pfields +
               symtab_bytes(&c->skus) + symtab_bytes(&c->values) + symtab_bytes(&c->relations) +
               symtab_bytes(&c->fields);
}

/* The catalog and the text pool its names point into (catalog.h has no
 * field for it: the names are reached through the products). */
typedef struct catalog_box {
    arb_catalog_t c;
    char *pool;
} catalog_box_t;

static void catalog_free(arb_catalog_t *c)
{
    catalog_box_t *box = (catalog_box_t *)c;
    free(box->pool);
    free(c->path);
    free(c->products);
    arb_symtab_free(&c->skus);
    arb_symtab_free(&c->values);
    arb_symtab_free(&c->relations);
    arb_symtab_free(&c->fields);
    free(c->related);
    free(c->rels);
    free(c->tag_ids);
    free(c->pfields);
    free(c->briefs);
    free(c->popular);
    free(box);
}

arb_catalog_t *arb_catalog_parse(const char *data, size_t len, const char *display,
                                 arb_problems_t *problems)
{
    catalog_box_t *box = calloc(1, sizeof *box);
    loader_t ld = { .disp = display ? display : "catalog", .pb = problems, .before = problems->total };
    if (!box || !(box->c.path = strdup(ld.disp))) {
        free(box);
        arb_problems_add(problems, "%s: out of memory loading the catalog", ld.disp);
        return NULL;
    }
    arb_catalog_t *c = ld.c = &box->c;
    atomic_init(&c->refs, 1);
    arb_symtab_init(&c->skus);
    arb_symtab_init(&c->values);
    arb_symtab_init(&c->relations);
    arb_symtab_init(&c->fields);
    snprintf(c->checksum, sizeof c->checksum, "%016llx",
             (unsigned long long)arb_hash(data, len, ARB_HASH_SEED));
    c->loaded_at = (int64_t)time(NULL);
    int line = 0;
    for (size_t at = 0; at < len && !ld.oom;) {
        const char *s = data + at;
        const char *nl = memchr(s, '\n', len - at);
        size_t n = nl ? (size_t)(nl - s) : len - at;
        at += n + 1;
        line++;
        if (n && s[n - 1] == '\r') n--;
        size_t i = 0;
        while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
        if (i == n || s[i] == '#') continue;
        if (n > ARB_CATALOG_MAX_LINE) {
            PROB(&ld, line, "line is %zu bytes (at most %u)", n, ARB_CATALOG_MAX_LINE);
            continue;
        }
        if (c->n_products >= ARB_CATALOG_MAX_PRODUCTS) {
            PROB(&ld, line, "more than %u products (the most a catalog holds)", ARB_CATALOG_MAX_PRODUCTS);
            break;
        }
        read_line(&ld, s, n, line);
    }
    if (!ld.oom) {
        finish(&ld);
        resolve(&ld);
        if (problems->total == ld.before && arb__catalog_pack(c, ld.n_related) < 0) oom(&ld);
    }
    box->pool = ld.pool;
    free(ld.name_off);
    free(ld.refs);
    free(ld.pend);
    if (problems->total != ld.before) {
        catalog_free(c);
        return NULL;
    }
    return c;
}

arb_catalog_t *arb_catalog_load(const char *path, const char *display, arb_problems_t *problems)
{
    char *text = NULL, err[256];
    size_t len = 0;
    const char *disp = display ? display : path;
    /* The longest file that can hold the most products of the longest lines. */
    int rc = arb_file_read(AT_FDCWD, path, false, (size_t)ARB_CATALOG_MAX_PRODUCTS * 1024 * 4, &text,
                           &len, err, sizeof err);
    if (rc != 0) {
        if (rc > 0) arb_problems_add(problems, "%s: is a folder, not a catalog file", disp);
        else arb_problems_add(problems, "%s: cannot read the catalog: %s", disp, err);
        free(text);
        return NULL;
    }
    arb_catalog_t *c = arb_catalog_parse(text, len, disp, problems);
    free(text);
    if (c) {
        char *p = strdup(path);
        if (!p) {
            arb_problems_add(problems, "%s: out of memory loading the catalog", disp);
            arb_catalog_release(c);
            return NULL;
        }
        c->bytes += strlen(p) - strlen(c->path);
        free(c->path);
        c->path = p;
    }
    return c;
}

arb_catalog_t *arb_catalog_retain(arb_catalog_t *c)
{
    if (c) atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

void arb_catalog_release(arb_catalog_t *c)
{
    /* acq_rel: every holder's reads happen before the last one frees. */
    if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1) return;
    catalog_free(c);
}
