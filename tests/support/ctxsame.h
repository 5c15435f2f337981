/* The two context parsers agree (tests only): arb_context_parse on
 * msgpack-c's unpacking of some bytes, and arb_context_parse_bytes on the
 * bytes themselves, with whole false and true. Header-only, so the fuzz
 * target (tests/fuzz/fuzz_context.c) and the unit test
 * (tests/unit/request/test_context_bytes.c) share one comparison without a
 * library of their own.
 *
 * Agree means: the same return code; on a refusal the same error code and
 * message; on success every field of arb_context_t equal, strings at the
 * same address (both point into the input), arrays element by element,
 * raw maps packing to the same bytes. Where the byte parser differs by
 * design (context.h): records_sent is set and each own record's extra
 * holds one value equal to its raw map (the record's own bytes); without
 * whole, raw, raw_purchases, raw_events, location and weather are NULL.
 */
#ifndef TESTS_CTXSAME_H
#define TESTS_CTXSAME_H

#include <msgpack.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "engine/base/arena.h"
#include "engine/base/error.h"
#include "engine/request/context.h"

/* [p, p + n) is exactly one value that packs as o does (msgpack-c packs
 * a value in its shortest form, which the input need not use). */
static inline bool ctxsame_packs_to(const msgpack_object *o, const void *p, size_t n)
{
    msgpack_zone zone;
    msgpack_zone_init(&zone, 1024);
    msgpack_object x;
    size_t off = 0;
    bool same = msgpack_unpack(p, n, &off, &zone, &x) == MSGPACK_UNPACK_SUCCESS;
    msgpack_sbuffer a, b;
    msgpack_sbuffer_init(&a);
    msgpack_sbuffer_init(&b);
    if (same) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, &a, msgpack_sbuffer_write);
        msgpack_pack_object(&pk, *o);
        msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
        msgpack_pack_object(&pk, x);
        same = a.size == b.size && (a.size == 0 || memcmp(a.data, b.data, a.size) == 0);
    }
    msgpack_sbuffer_destroy(&a);
    msgpack_sbuffer_destroy(&b);
    msgpack_zone_destroy(&zone);
    return same;
}

/* a and b both NULL, or pack to the same bytes. */
static inline bool ctxsame_obj(const msgpack_object *a, const msgpack_object *b)
{
    if (!a || !b) return a == b;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, *a);
    bool same = ctxsame_packs_to(b, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return same;
}

static inline bool ctxsame_str(arb_str_t a, arb_str_t b)
{
    return a.ptr == b.ptr && a.len == b.len;
}

static inline bool ctxsame_num(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

static inline bool ctxsame_fail(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return false;
}

#define CTXSAME(cond, ...) \
    do { if (!(cond)) return ctxsame_fail(why, n, __VA_ARGS__); } while (0)

/* b (arb_context_parse_bytes, whole or not) agrees with a (arb_context_parse). */
static inline bool ctxsame_fields(const arb_context_t *a, const arb_context_t *b, bool whole,
                                  char *why, size_t n)
{
    CTXSAME(ctxsame_str(a->customer_id, b->customer_id), "customer_id");
    CTXSAME(ctxsame_str(a->channel, b->channel), "channel");
    CTXSAME(ctxsame_str(a->touchpoint, b->touchpoint), "touchpoint");
    CTXSAME(a->now == b->now && a->now_given == b->now_given, "now");
    CTXSAME(a->n_consent == b->n_consent, "n_consent %u vs %u", a->n_consent, b->n_consent);
    for (uint32_t i = 0; i < a->n_consent; i++)
        CTXSAME(ctxsame_str(a->consent[i].name, b->consent[i].name) &&
                    a->consent[i].given == b->consent[i].given, "consent[%u]", i);
    CTXSAME(a->has_location == b->has_location && a->has_coords == b->has_coords, "has_location/coords");
    CTXSAME(ctxsame_num(a->lat, b->lat) && ctxsame_num(a->lon, b->lon), "lat/lon");
    CTXSAME(ctxsame_str(a->store_id, b->store_id) && ctxsame_str(a->country, b->country),
            "store_id/country");
    CTXSAME(a->n_purchases == b->n_purchases, "n_purchases %u vs %u", a->n_purchases, b->n_purchases);
    for (uint32_t i = 0; i < a->n_purchases; i++) {
        const arb_purchase_t *x = &a->purchases[i], *y = &b->purchases[i];
        CTXSAME(ctxsame_str(x->sku, y->sku) && ctxsame_str(x->category, y->category) &&
                    ctxsame_str(x->channel, y->channel) && ctxsame_num(x->price, y->price) &&
                    x->ts == y->ts, "purchases[%u]", i);
        CTXSAME(!x->extra && !x->extra_len, "purchases[%u]: extra from arb_context_parse", i);
        CTXSAME(y->extra && ctxsame_packs_to(&a->raw_purchases->via.array.ptr[i], y->extra,
                                             y->extra_len), "purchases[%u]: its bytes", i);
    }
    CTXSAME(a->n_events == b->n_events, "n_events %u vs %u", a->n_events, b->n_events);
    for (uint32_t i = 0; i < a->n_events; i++) {
        const arb_ctx_event_t *x = &a->events[i], *y = &b->events[i];
        CTXSAME(ctxsame_str(x->type, y->type) && ctxsame_str(x->sku, y->sku) &&
                    ctxsame_str(x->category, y->category) && ctxsame_str(x->channel, y->channel) &&
                    x->ts == y->ts, "events[%u]", i);
        CTXSAME(!x->extra && !x->extra_len, "events[%u]: extra from arb_context_parse", i);
        CTXSAME(y->extra && ctxsame_packs_to(&a->raw_events->via.array.ptr[i], y->extra,
                                             y->extra_len), "events[%u]: its bytes", i);
    }
    CTXSAME(a->has_weather == b->has_weather && a->has_temp == b->has_temp &&
                ctxsame_num(a->temp_c, b->temp_c) && ctxsame_str(a->condition, b->condition),
            "weather fields");
    CTXSAME(a->n_scores == b->n_scores, "n_scores %u vs %u", a->n_scores, b->n_scores);
    for (uint32_t i = 0; i < a->n_scores; i++)
        CTXSAME(ctxsame_str(a->scores[i].model, b->scores[i].model) &&
                    ctxsame_num(a->scores[i].value, b->scores[i].value), "scores[%u]", i);
    CTXSAME(ctxsame_obj(a->attributes, b->attributes), "attributes");
    CTXSAME(a->limit == b->limit && a->deadline_ms == b->deadline_ms, "limit/deadline_ms");
    CTXSAME(a->explain == b->explain && a->preview == b->preview, "explain/preview");
    CTXSAME(a->has_timezone == b->has_timezone && a->tz_offset_minutes == b->tz_offset_minutes &&
                ctxsame_str(a->timezone, b->timezone), "timezone");
    CTXSAME(!a->merged && !b->merged && !b->n_ctx_purchases && !b->n_ctx_events, "merged");
    CTXSAME(!a->records_sent && b->records_sent, "records_sent");
    if (whole) {
        CTXSAME(ctxsame_obj(a->location, b->location), "location map");
        CTXSAME(ctxsame_obj(a->weather, b->weather), "weather map");
        CTXSAME(ctxsame_obj(a->raw, b->raw), "raw");
        CTXSAME(ctxsame_obj(a->raw_purchases, b->raw_purchases), "raw_purchases");
        CTXSAME(ctxsame_obj(a->raw_events, b->raw_events), "raw_events");
    } else {
        CTXSAME(!b->location && !b->weather && !b->raw && !b->raw_purchases && !b->raw_events,
                "a tree without whole");
    }
    return true;
}

/* Parse the context both ways: o is msgpack-c's unpacking of exactly
 * [p, p + len). False, with why (n bytes) saying what differs, when the
 * byte parser, with whole false or true, does not agree. The arena is
 * the caller's (reset by it afterwards). */
static inline bool ctxsame_check(const msgpack_object *o, const char *p, size_t len,
                                 int64_t now, arb_arena_t *arena, char *why, size_t n)
{
    arb_context_t a;
    arb_err_t ea;
    memset(&ea, 0, sizeof ea);
    int ra = arb_context_parse(o, now, &a, arena, &ea);
    for (int whole = 0; whole < 2; whole++) {
        arb_context_t b;
        arb_err_t eb;
        memset(&eb, 0, sizeof eb);
        msgpack_zone zone;
        msgpack_zone_init(&zone, 2048);
        int rb = arb_context_parse_bytes(p, len, now, whole, &b, arena, &zone, &eb);
        bool same = true;
        if (ra != rb)
            same = ctxsame_fail(why, n, "whole=%d: rc %d vs %d (%s / %s)", whole, ra, rb,
                                ra ? ea.message : "", rb ? eb.message : "");
        else if (ra && (ea.code != eb.code || strcmp(ea.message, eb.message) != 0))
            same = ctxsame_fail(why, n, "whole=%d: '%s' vs '%s'", whole, ea.message, eb.message);
        else if (!ra && !ctxsame_fields(&a, &b, whole, why, n)) {
            size_t k = strlen(why);
            snprintf(why + k, n - k, " (whole=%d)", whole);
            same = false;
        }
        msgpack_zone_destroy(&zone);
        if (!same) return false;
    }
    return true;
}

#undef CTXSAME

#endif
