/* The product catalog: a JSON-lines file of products loaded with the
 * ruleset (declared by `catalog "products.jsonl"` in a rule file, the path
 * relative to the ruleset's folder), and reloadable on its own when only
 * stock or prices change (reload {only = "catalog"}, or the folder watch
 * seeing only the catalog file change). Rules read it three ways:
 * purchases and events are joined to it by sku (a field a record lacks is
 * read from its product), a recommending action draws products from its
 * relations, and payload templates fill product fields.
 *
 * One line, one product (dsl/README.md, "The catalog"):
 *   {"sku": "LT-100", "name": "Ultrabook 14", "category": "laptop",
 *    "brand": "Acme", "color": "silver", "price": 999.0, "tags": ["premium"],
 *    "in_stock": true, "popularity": 0.8,
 *    "relations": {"complements": ["MS-100"], "similar": ["LT-200"]},
 *    "material": "aluminium"}
 * sku is required and unique; every other field is optional; a top-level
 * field beyond the named ones is kept if it is a string, a number or a
 * boolean (a field rules and templates may read); relations may have any
 * name and must name skus of the same file. Every mistake is a problem
 * "file:line: ...", and a catalog loads whole or not at all.
 *
 * Ownership: a catalog is immutable once loaded and reference counted: the
 * ruleset that declared it holds one reference, a worker that swapped in a
 * catalog-only reload holds another. Every pointer a catalog hands out
 * (products, names, lists) is the catalog's and valid while a reference is
 * held. Loading runs off the decide path (a reload); reading is lock-free.
 */
#ifndef ARB_CATALOG_H
#define ARB_CATALOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/base/problems.h"
#include "engine/base/symtab.h"

/* Bounds a catalog file is checked against (each a problem when passed). */
#define ARB_CATALOG_MAX_PRODUCTS 1000000u
#define ARB_CATALOG_MAX_LINE     (64u * 1024)   /* bytes in one line */
#define ARB_CATALOG_MAX_SKU      64u            /* bytes in a sku */
#define ARB_CATALOG_MAX_TEXT     512u           /* bytes in a name or a string field */
#define ARB_CATALOG_MAX_LIST     100u           /* tags, or skus in one relation */
#define ARB_CATALOG_POPULAR      100u           /* products the popular list keeps */

/* A relation of one product: the products it names, as indices into
 * catalog->products, in file order. */
typedef struct arb_product_rel {
    int32_t relation;       /* id in catalog->relations ("complements", "similar", ...) */
    uint32_t first;         /* into catalog->related */
    uint32_t count;
} arb_product_rel_t;

/* A product's field beyond the named ones. */
typedef enum arb_pfield_kind { ARB_PF_STR, ARB_PF_NUM, ARB_PF_BOOL } arb_pfield_kind_t;

typedef struct arb_product_field {
    int32_t field;          /* id in catalog->fields (the field's name) */
    arb_pfield_kind_t kind;
    int32_t str;            /* ARB_PF_STR: id in catalog->values */
    double num;             /* ARB_PF_NUM: the number; ARB_PF_BOOL: 1 or 0 */
} arb_product_field_t;

typedef struct arb_product {
    const char *sku;        /* NUL-terminated, in the catalog's text */
    const char *name;       /* NUL-terminated; "" when absent */
    uint32_t sku_len, name_len;
    int32_t category;       /* id in catalog->values, -1 absent */
    int32_t brand;          /* id in catalog->values, -1 absent */
    int32_t color;          /* id in catalog->values, -1 absent */
    uint32_t tags, n_tags;  /* value ids at catalog->tag_ids[tags .. tags + n_tags) */
    uint32_t rels, n_rels;  /* catalog->rels[rels .. rels + n_rels) */
    uint32_t fields, n_fields; /* catalog->pfields[fields .. fields + n_fields) */
    double price;           /* NAN when absent */
    double popularity;      /* in [0, 1]; 0 when absent */
    bool in_stock;          /* "in_stock": true/false, or a count (> 0: in stock); absent: true */
    int line;               /* its line in the file, for messages */
} arb_product_t;

/* What a recommending action judges a candidate by, copied from its
 * product so that a relation's candidates are read together, their
 * product indices with them (catalog_pack.c). 32 bytes. */
typedef struct arb_product_brief {
    double price;           /* the product's */
    double popularity;
    int32_t category, brand;
    uint32_t product;       /* its index in catalog->products */
    unsigned sku_rank : 31; /* the sku's place in byte order among the catalog's skus */
    unsigned in_stock : 1;
} arb_product_brief_t;

typedef struct arb_catalog {
    _Atomic uint32_t refs;
    char *path;             /* the file it was read from */
    char checksum[17];      /* FNV-1a 64 of the file's bytes, hex */
    int64_t loaded_at;      /* unix seconds */
    arb_product_t *products;/* in file order */
    uint32_t n_products;
    arb_symtab_t skus;      /* sku -> product index (symbol id == index) */
    arb_symtab_t values;    /* categories, brands, colors, tags and string field values */
    arb_symtab_t relations; /* relation names */
    arb_symtab_t fields;    /* names of the extra fields */
    uint32_t *related;      /* product indices of every relation */
    arb_product_rel_t *rels;
    int32_t *tag_ids;
    arb_product_field_t *pfields;
    /* briefs[i] is the brief of the product related[i] names. */
    arb_product_brief_t *briefs;
    /* The briefs of the ARB_CATALOG_POPULAR (or fewer) products in stock
     * of the highest popularity, most popular first, ties by sku (a
     * recommending action's `from = "popular"`). */
    arb_product_brief_t *popular;
    uint32_t n_popular;
    size_t bytes;           /* memory the catalog holds, all of it (for stats and the bench) */
} arb_catalog_t;

/* Read the catalog file at path (display is the name problems use, e.g.
 * "products.jsonl"; NULL: path). Returns the catalog with one reference
 * (the caller's) or NULL with every problem found, each "display:line:
 * message" (at most ARB_PROBLEMS_MAX of them, like a ruleset). */
arb_catalog_t *arb_catalog_load(const char *path, const char *display, arb_problems_t *problems);

/* The same from bytes already read (the fuzz target, the tests). */
arb_catalog_t *arb_catalog_parse(const char *data, size_t len, const char *display,
                                 arb_problems_t *problems);

/* One more reference; returns c. NULL is passed through. */
arb_catalog_t *arb_catalog_retain(arb_catalog_t *c);

/* Drop one reference (NULL ignored); the last frees the catalog. Any thread. */
void arb_catalog_release(arb_catalog_t *c);

/* The product with this sku, or NULL. */
static inline const arb_product_t *arb_catalog_find(const arb_catalog_t *c, const char *sku,
                                                    uint32_t len)
{
    if (!c) return NULL;
    int32_t i = arb_symtab_find(&c->skus, sku, len);
    return i < 0 ? NULL : &c->products[i];
}

/* The loader's own (catalog.c calls it once the relations are resolved):
 * build briefs and the popular list, adding their memory to c->bytes. 0,
 * or -1 when memory runs out (what it allocated is freed with c). */
int arb__catalog_pack(arb_catalog_t *c, uint32_t n_related);

/* The briefs of the products arb_catalog_related returned in `to`. */
static inline const arb_product_brief_t *arb_catalog_briefs(const arb_catalog_t *c, const uint32_t *to)
{
    return c->briefs + (to - c->related);
}

/* A product's field as rules read it: by name, for conditions
 * (`bought { brand = "Acme" }`) and templates (`{brand}`). */
typedef enum arb_pvalue_kind {
    ARB_PV_NONE,            /* the product has no such field */
    ARB_PV_STR,             /* str/len */
    ARB_PV_NUM,             /* num (price, popularity, a number field) */
    ARB_PV_BOOL,            /* num 1 or 0 (in_stock, a boolean field) */
    ARB_PV_LIST,            /* tags or a relation: a string matches when the list holds it */
} arb_pvalue_kind_t;

typedef struct arb_pvalue {
    arb_pvalue_kind_t kind;
    const char *str;        /* ARB_PV_STR: NUL-terminated, the catalog's */
    uint32_t len;
    double num;
    /* ARB_PV_LIST: tags as value ids (is_products false) or a relation as
     * product indices (is_products true). */
    const int32_t *ids;
    uint32_t n;
    bool is_products;
} arb_pvalue_t;

/* Read field name[0..len) of product p: "sku", "name", "category",
 * "brand", "color", "price", "popularity", "in_stock", "tags", a relation's
 * name, or an extra field. Returns false (out->kind ARB_PV_NONE) when p has
 * no such field. */
bool arb_catalog_get(const arb_catalog_t *c, const arb_product_t *p, const char *name,
                     uint32_t len, arb_pvalue_t *out);

/* Whether the list v (from arb_catalog_get) holds the string s[0..len): a
 * tag by its value, a relation by a product's sku. */
bool arb_catalog_list_has(const arb_catalog_t *c, const arb_pvalue_t *v, const char *s,
                          uint32_t len);

/* The products p's relation named rel (an id from catalog->relations):
 * sets *out to their indices and returns how many (0: none). */
uint32_t arb_catalog_related(const arb_catalog_t *c, const arb_product_t *p, int32_t rel,
                             const uint32_t **out);

/* The name of value id v (a category, brand, color, tag or string value). */
static inline const char *arb_catalog_value(const arb_catalog_t *c, int32_t v)
{
    return v < 0 ? "" : c->values.names[v];
}

#endif
