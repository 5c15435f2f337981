/* A purchase's or an event's field by name, wherever the record came from
 * (request/'s rule: values only, no I/O; it includes only base/ and
 * request/).
 *
 * A context's own records keep every field the channel sent in ctx->raw; a
 * stored one (merged by decide/history.c) keeps sku, category, channel,
 * price and type typed and the rest (brand, color, size...) as msgpack
 * bytes (arb_purchase_t.extra). Conditions on any field (dsl: bought
 * { brand = "acme" }) and plain Lua rules read both through here, so they
 * see one history.
 *
 * Ownership: a value written to *out borrows from the context (its frame,
 * or the stored customer's arena) and lives as long as they do. Nothing
 * here allocates.
 */
#ifndef ARB_RECFIELD_H
#define ARB_RECFIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "engine/request/context.h"

/* A reader over msgpack bytes, one item at a time. */
typedef struct arb_mpcursor {
    const uint8_t *p, *end;
} arb_mpcursor_t;

/* Read the next item into *out: a scalar whole (nil, boolean, integers,
 * floats, str and bin pointing into the bytes), an array or a map as its
 * header only (type and via.array.size / via.map.size, ptr NULL: the
 * elements, or keys and values in turn, are the next items). Anything else
 * (ext) reads as nil. Returns false at the end or on bytes that are not
 * msgpack. */
bool arb_mpcursor_next(arb_mpcursor_t *c, msgpack_object *out);

/* Skip the next item, containers whole. Returns false as above. */
bool arb_mpcursor_skip(arb_mpcursor_t *c);

/* Field `name` (len bytes) of purchase i (purchase true) or event i of
 * ctx, into *out as arb_mpcursor_next reads it (a nested array or map as
 * its header). Returns false when the record has no such field. */
bool arb_record_field(const arb_context_t *ctx, bool purchase, uint32_t i, const char *name,
                      uint32_t len, msgpack_object *out);

#endif
