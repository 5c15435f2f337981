/* Fuzz target: reading a stored purchase's or event's extra fields in place
 * (engine/request/recfield.c): the msgpack cursor the words on any field
 * (bought { brand = "acme" }) and plain Lua rules read stored records with,
 * at decide time, without allocating.
 *
 * Input: any bytes, taken as the extra-fields map of a stored purchase and
 * of a stored event (what a record read back from the store holds).
 *
 * Properties checked:
 *   - the cursor never reads past the input (ASan) nor loops;
 *   - it agrees with msgpack-c: when msgpack_unpack reads a whole object at
 *     (headers declaring no more items than bytes are left, as msgpack-c
 *     allocates what they declare)
 *     the start, skipping it with the cursor ends at the same byte, and
 *     when that object is a map, every string key whose value is a scalar
 *     reads back (arb_record_field, on the purchase and on the event) as
 *     the first value of that key, equal to msgpack-c's.
 */
#include <stdint.h>
#include <string.h>

#include "engine/request/recfield.h"
#include "tests/fuzz/fuzz_util.h"

static bool same_scalar(const msgpack_object *a, const msgpack_object *b)
{
    if (a->type != b->type) return false;
    switch (a->type) {
    case MSGPACK_OBJECT_NIL: return true;
    case MSGPACK_OBJECT_BOOLEAN: return a->via.boolean == b->via.boolean;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return a->via.u64 == b->via.u64;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return a->via.i64 == b->via.i64;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return memcmp(&a->via.f64, &b->via.f64, sizeof a->via.f64) == 0;
    case MSGPACK_OBJECT_STR:
    case MSGPACK_OBJECT_BIN:
        return a->via.str.size == b->via.str.size &&
               (a->via.str.size == 0 || memcmp(a->via.str.ptr, b->via.str.ptr, a->via.str.size) == 0);
    default: return true;
    }
}

/* The typed fields arb_record_field answers without the extra bytes. */
static bool typed_key(const msgpack_object_str *k)
{
    static const char *const typed[] = { "ts", "price", "type", "sku", "category", "channel", NULL };
    for (const char *const *t = typed; *t; t++)
        if (k->size == strlen(*t) && memcmp(k->ptr, *t, k->size) == 0) return true;
    return false;
}

/* Whether every array or map the cursor meets at the start declares no
 * more items than bytes are left: msgpack-c allocates what a header
 * declares, so an input of a few bytes could ask it for gigabytes. */
static bool plausible(const uint8_t *data, size_t size)
{
    arb_mpcursor_t c = { data, data + size };
    uint64_t left = 1;
    msgpack_object o;
    while (left && arb_mpcursor_next(&c, &o)) {
        left--;
        uint64_t n = o.type == MSGPACK_OBJECT_ARRAY ? o.via.array.size
                   : o.type == MSGPACK_OBJECT_MAP ? 2 * (uint64_t)o.via.map.size : 0;
        if (n > (uint64_t)(c.end - c.p)) return false;
        left += n;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arb_mpcursor_t c = { data, data + size };
    while (arb_mpcursor_skip(&c)) FUZZ_CHECK(c.p <= c.end, "the cursor ran past the input");

    arb_purchase_t p = { .ts = 1, .extra = data, .extra_len = (uint32_t)size };
    arb_ctx_event_t e = { .type = { "view", 4 }, .ts = 1, .extra = data, .extra_len = (uint32_t)size };
    arb_context_t ctx = { .purchases = &p, .n_purchases = 1, .events = &e, .n_events = 1,
                          .merged = true };

    msgpack_zone zone;
    msgpack_zone_init(&zone, 2048);
    msgpack_object o;
    size_t off = 0;
    if (plausible(data, size) &&
        msgpack_unpack((const char *)data, size, &off, &zone, &o) == MSGPACK_UNPACK_SUCCESS) {
        arb_mpcursor_t k = { data, data + size };
        FUZZ_CHECK(arb_mpcursor_skip(&k) && (size_t)(k.p - data) == off,
                   "the cursor skipped to %zu, msgpack-c read %zu bytes", (size_t)(k.p - data), off);
        if (o.type == MSGPACK_OBJECT_MAP) {
            for (uint32_t i = 0; i < o.via.map.size; i++) {
                const msgpack_object *key = &o.via.map.ptr[i].key;
                /* An empty name: msgpack-c gives it no pointer, and rules cannot name it. */
                if (key->type != MSGPACK_OBJECT_STR || key->via.str.size == 0 || typed_key(&key->via.str))
                    continue;
                const msgpack_object *want = arb_msgpack_map_getn(&o, key->via.str.ptr, key->via.str.size);
                if (want->type == MSGPACK_OBJECT_ARRAY || want->type == MSGPACK_OBJECT_MAP ||
                    want->type == MSGPACK_OBJECT_EXT)
                    continue;
                msgpack_object got;
                for (int purchase = 0; purchase < 2; purchase++) {
                    FUZZ_CHECK(arb_record_field(&ctx, purchase, 0, key->via.str.ptr, key->via.str.size, &got),
                               "key %u not found", i);
                    FUZZ_CHECK(same_scalar(&got, want), "key %u reads another value", i);
                }
            }
        }
    }
    msgpack_zone_destroy(&zone);
    return 0;
}
