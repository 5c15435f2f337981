/* Payload templates (dsl/README.md, "Personal payloads"): an action's
 * payload strings with {fields} filled at decide time from the context, the
 * stored customer and the chosen products. Compiled at load from the
 * action's packed payload (compile_payload.c) into the constant byte runs
 * between the templated strings and, for each of those, its parts (literal
 * text and fields); decide/payload.c renders them into the request's arena.
 *
 * Ownership: a template, its bytes, texts, parts and slots are owned by the
 * ruleset (rs->templates) and freed with it; file, line and action are
 * borrowed from the action it belongs to.
 */
#ifndef ARB_PAYLOAD_H
#define ARB_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/base/problems.h"

struct arb_ruleset;
struct arb_catalog;

/* Bytes one inserted value may take once escaped: longer ones are cut at a
 * character (or entity) boundary. */
#define ARB_TPL_VALUE_MAX 256u

typedef enum arb_tpart_kind {
    ARB_TP_TEXT,            /* literal text (braces unescaped) */
    ARB_TP_ATTR,            /* {attributes.KEY} */
    ARB_TP_YEARS_SINCE,     /* {years_since.KEY} */
    ARB_TP_DAYS_SINCE,      /* {days_since.KEY} */
    ARB_TP_CUSTOMER_ID,     /* {customer_id} */
    ARB_TP_CHANNEL,         /* {channel} */
    ARB_TP_TOUCHPOINT,      /* {touchpoint} */
    ARB_TP_PRODUCT,         /* {product.FIELD}: a field of the first chosen product */
} arb_tpart_kind_t;

/* One part of a templated string. Texts are offsets into tpl->text. */
typedef struct arb_tpart {
    arb_tpart_kind_t kind;
    uint32_t text, text_len;    /* TEXT: the literal; a field: its KEY or FIELD ("" none) */
    uint32_t dflt, dflt_len;    /* the default after '|' (literal), when has_default */
    bool has_default;
} arb_tpart_t;

/* One templated string of the payload: its packed bytes (header included)
 * are bytes[at .. end), replaced when rendering by the string its parts
 * make. */
typedef struct arb_tslot {
    uint32_t at, end;
    uint32_t first, count;      /* its parts: tpl->parts[first .. first + count) */
} arb_tslot_t;

typedef struct arb_payload_tpl {
    char *bytes;                /* the packed payload (a copy); owned */
    uint32_t len;
    char *text;                 /* literal texts and field names; owned */
    arb_tpart_t *parts;         /* owned */
    uint32_t n_parts;
    arb_tslot_t *slots;         /* in byte order; owned */
    uint32_t n_slots;
    bool escape_html;           /* escape = "html" (the default) */
    bool products;              /* a recommending action: its payload gains `products` */
    bool has_product_fields;    /* a {product.FIELD} part: checked against the catalog */
    uint32_t map_n;             /* products: the payload map's entries (0 for nil) */
    uint32_t map_hdr;           /* products: the map header's bytes (0 for nil) */
    size_t render_max;          /* bytes rendering may write, products aside */
    const char *action;         /* the action's id, file and line (borrowed) */
    const char *file;
    int line;
} arb_payload_tpl_t;

/* Compile the packed payload bytes[0..len) of one action: html selects the
 * escaping, products that the action recommends (its payload must then be a
 * map or nil). Returns 1 with *out filled (the caller frees it with
 * arb_payload_tpl_free), 0 when the payload needs no rendering (no field,
 * no products; *out untouched), or -1 with each mistake added to problems
 * as "<where>: payload: ..." (where: "file:line: action 'id'"). */
int arb_payload_tpl_build(const char *bytes, size_t len, bool html, bool products,
                          const char *where, arb_problems_t *problems, arb_payload_tpl_t *out);

void arb_payload_tpl_free(arb_payload_tpl_t *t);

/* The catalog-dependent checks of every template of rs: a {product.FIELD}
 * that no product of cat has, or that is a list, is a problem (file:line
 * of the action). cat NULL: nothing to check against (a recommending action
 * without a catalog is a problem of its own). Returns the problems added
 * (0: fine). Run at the end of a load, and again for a catalog-only
 * reload. */
int arb_payload_check(const struct arb_ruleset *rs, const struct arb_catalog *cat,
                      arb_problems_t *p);

/* ---- for the loader alone (compile_decl.c, ruleset.c) */

struct compiler;
struct arb_action;

/* Action a's `escape` key and its payload's template, if it needs one, into
 * rs->templates: called once per action, after its answer is packed (the
 * one call compile_decl.c makes). Problems go to the compile's. */
void arb__compile_payload(struct compiler *cc, int spec, struct arb_action *a);

/* After the compile (actions sorted): each template to its action
 * (rs->action_template), then arb_payload_check against rs->catalog.
 * Returns -1 when memory runs out (a problem added). */
int arb__payload_finish(struct arb_ruleset *rs, arb_problems_t *problems);

/* Free rs's templates (arb_ruleset_free). */
void arb__payload_free(struct arb_ruleset *rs);

#endif
