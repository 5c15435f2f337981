/* engine/request/: what a decision is asked and what it answers, as values.
 * Its rule: values only, no I/O; it includes only base/. A context is
 * checked here once, the same for C and Lua, and a decision
 * (decision.h) is a plain struct anything later may read. (ARCHITECTURE.md;
 * scripts/layers checks the includes.)
 *
 * The decide context: a checked, C-shaped view of the context map a channel
 * sends (DESIGN.md section 3), built without copying a string.
 *
 * Ownership: every arb_str_t and the raw msgpack_object pointers point into
 * the request's frame, and the arrays live in the arena passed to
 * arb_context_parse; all of it is valid until the frame is released and the
 * arena reset, which happens after the decision is encoded.
 */
#ifndef ARB_CONTEXT_H
#define ARB_CONTEXT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <msgpack.h>

#include "engine/base/arena.h"
#include "engine/base/error.h"
#include "engine/base/pack.h"   /* arb_msgpack_map_get, for readers of ctx->raw */
#include "engine/request/str.h"

typedef struct arb_purchase {
    arb_str_t sku;       /* empty when absent */
    arb_str_t category;  /* empty when absent */
    arb_str_t channel;   /* empty when absent */
    double price;        /* 0 when absent */
    int64_t ts;          /* unix seconds; required */
    /* A stored purchase's other fields (brand, ...) as a msgpack map, set
     * by decide/history.c, borrowed from the stored customer. For the
     * context's own: NULL (their fields are in ctx->raw), or with
     * ctx->records_sent the whole record map as sent, in the input bytes. */
    const uint8_t *extra;
    uint32_t extra_len;
} arb_purchase_t;

typedef struct arb_ctx_event {
    arb_str_t type;      /* view | cart_add | cart_abandon | email_open | email_click | search | ... */
    arb_str_t sku;       /* empty when absent */
    arb_str_t category;  /* empty when absent */
    int64_t ts;          /* unix seconds; required */
    /* Of a stored event (decide/history.c): its channel and its other
     * fields as a msgpack map, borrowed from the stored customer. For the
     * context's own: empty and NULL, their fields in ctx->raw; or with
     * ctx->records_sent extra is the whole record map as sent. */
    arb_str_t channel;
    const uint8_t *extra;
    uint32_t extra_len;
} arb_ctx_event_t;

typedef struct arb_score {
    arb_str_t model;     /* the scores map key */
    double value;        /* the propensity */
} arb_score_t;

typedef struct arb_ctx_consent {
    arb_str_t name;      /* e.g. "location" */
    bool given;          /* the map's value */
} arb_ctx_consent_t;

typedef struct arb_context {
    arb_str_t customer_id;
    arb_str_t channel;
    arb_str_t touchpoint;
    int64_t now;                 /* the context's clock, or the server's when absent */
    bool now_given;              /* true when the caller passed now */

    const arb_ctx_consent_t *consent;
    uint32_t n_consent;

    /* Location. The engine shows it to rules only with consent.location. */
    bool has_location;           /* a location map was sent */
    bool has_coords;             /* it had both lat and lon */
    double lat, lon;
    arb_str_t store_id, country; /* empty when absent */
    /* The raw map; NULL from arb_context_parse_bytes without `whole` (no
     * reader needs it: plain Lua rules read ctx->raw). */
    const msgpack_object *location;

    const arb_purchase_t *purchases;
    uint32_t n_purchases;
    const arb_ctx_event_t *events;
    uint32_t n_events;

    bool has_weather;
    bool has_temp;
    double temp_c;
    arb_str_t condition;         /* empty when absent */
    const msgpack_object *weather; /* the raw map, NULL as location */

    const arb_score_t *scores;
    uint32_t n_scores;

    const msgpack_object *attributes; /* the raw map, or NULL */

    /* The whole context map, for plain Lua rules; NULL from
     * arb_context_parse_bytes without `whole`, and so are the two below. */
    const msgpack_object *raw;
    /* Its "purchases" and "events" arrays (NULL when absent), found once:
     * a field of record i is read from them (recfield.c) per node and
     * record, and the top-level map may hold any number of other keys. */
    const msgpack_object *raw_purchases, *raw_events;
    /* The context's own purchases and events hold their record map as sent
     * in extra (arb_context_parse_bytes): without raw_purchases /
     * raw_events, recfield.c reads a field there as it would from them. */
    bool records_sent;
    /* The context map's bytes as sent (arb_context_parse_bytes; NULL from
     * arb_context_parse): without ctx->raw, plain Lua rules read a part of
     * the context (c.location, c.scores...) from here. */
    const uint8_t *raw_bytes;
    uint32_t raw_len;
    int64_t limit;               /* 0 means the touchpoint's default */
    int64_t deadline_ms;         /* 0 means the server's default deadline */
    bool explain;                /* include the reason for every action */
    bool preview;                /* a look, not a contact: nothing is counted for policy */

    /* The customer's own time zone, as a fixed UTC offset ("+02:00", "Z"):
     * when sent, local-time words read it instead of the ruleset's
     * utc_offset_hours. */
    bool has_timezone;
    int32_t tz_offset_minutes;   /* east of UTC; 0 when absent */
    arb_str_t timezone;          /* as sent, empty when absent */

    /* Set by the decide pipeline when a stored customer was merged in
     * (decide/history.c): purchases, events and consent above are then the
     * union of the context's and the stored ones (arena memory), the first
     * n_ctx_purchases / n_ctx_events of them the context's own, in the order
     * of the raw arrays. Plain Lua rules read the rest from the typed fields. */
    bool merged;
    uint32_t n_ctx_purchases, n_ctx_events;
} arb_context_t;

/* Check o against the context shape and fill *ctx. now_default is used when
 * the context has no `now`. Returns 0, or -1 with an ARB_INVALID_PARAMS
 * error naming the field ("purchases[2].ts: expected an integer"). */
int arb_context_parse(const msgpack_object *o, int64_t now_default, arb_context_t *ctx,
                      arb_arena_t *arena, arb_err_t *err);

/* The same check and the same *ctx, errors included, as arb_context_parse
 * on msgpack-c's unpacking of [p, p + len), which must hold exactly one
 * MessagePack value nested at most 32 deep (else invalid_params "context:
 * not MessagePack"), read without building its tree; besides, the
 * context's own records keep their bytes (records_sent). whole: then also
 * unpack the whole context into zone and set ctx->raw, raw_purchases,
 * raw_events, location and weather into that tree, as arb_context_parse
 * does, for rulesets that read the context as a whole (plain Lua rules:
 * !arb_ruleset_shareable); without it they stay NULL, and record-field
 * conditions read the records' bytes instead.
 *
 * Ownership: strings and extra point into [p, p + len), which must outlive
 * the decision; trees (attributes, raw) live in zone (not NULL), which the
 * caller owns and clears after the decision (a context without attributes
 * and without unknown keys in its records, location or weather takes
 * nothing from it unless whole); arrays live in the arena. */
int arb_context_parse_bytes(const char *p, size_t len, int64_t now_default, bool whole,
                            arb_context_t *ctx, arb_arena_t *arena, msgpack_zone *zone,
                            arb_err_t *err);

/* Whether consent `name` was given (a missing key means false). */
bool arb_context_consent(const arb_context_t *ctx, const char *name, size_t len);

#endif
