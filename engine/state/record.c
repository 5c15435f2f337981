/* Encoding and decoding of one customer's record (record.h).
 *
 * Keeps state/'s rule for file formats: decode is total. One pass over the
 * payload with a bounded cursor (base/mpread.h) checks every value for its
 * type as it reads it, so whatever the bytes, the result is a customer or
 * an error naming the first thing wrong, and nothing is read past the end.
 * No object tree is built and no validating walk runs first: the record's
 * shape is known, so each read checks what it needs. The encoder writes
 * the same bytes msgpack-c's packer wrote (base/mpwrite.h; test_record_bytes
 * holds records written by that packer), so records move freely between
 * builds before and after it.
 */
#include "engine/state/record.h"

#include "engine/base/mpread.h"
#include "engine/base/mpwrite.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const uint8_t magic[4] = {'A', 'R', 'B', 'C'};
/* Version 1: the 8 lists before offers. Version 2: the same with offers,
 * then the pseudonym (or nil). A customer with neither is still written as
 * version 1, so that a ruleset without adaptive actions and a server
 * without a decision log write what they always wrote and an older build
 * still reads it. Version 2 records written before pseudonyms (9 fields)
 * are read too: they name none. */
enum { VERSION_PLAIN = 1, VERSION_OFFERS = 2 };

bool arb_record_pseudonym_ok(const char *s)
{
    if (!s) return false;
    size_t n = 0;
    /* Hex by hand: isxdigit would follow the locale. */
    for (; s[n]; n++) {
        char ch = s[n];
        if (n == ARB_RECORD_PSEUDONYM_LEN ||
            !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
            return false;
    }
    return n == ARB_RECORD_PSEUDONYM_LEN;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = v & 0xff; p[1] = (v >> 8) & 0xff; p[2] = (v >> 16) & 0xff; p[3] = v >> 24;
}

static uint32_t get_u32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- encoding ---- */

/* Straight into one buffer (base/mpwrite.h, the bytes msgpack-c's packer
 * wrote before it), sized once from the customer's counts and doubled in
 * the rare case that guess was short. */
static void pack_str(arb_mpwrite_t *w, const char *s)
{
    if (!s) arb_mpwrite_nil(w);
    else arb_mpwrite_str(w, s, strlen(s));
}

static void pack_num(arb_mpwrite_t *w, double v)
{
    if (isnan(v)) arb_mpwrite_nil(w);
    else arb_mpwrite_double(w, v);
}

static void pack_bin(arb_mpwrite_t *w, const uint8_t *b, size_t n)
{
    if (!b) arb_mpwrite_nil(w);
    else arb_mpwrite_bin(w, b, n);
}

static void pack_events(arb_mpwrite_t *w, const arb_event_t *e, size_t n)
{
    arb_mpwrite_array(w, n);
    for (size_t i = 0; i < n; i++) {
        arb_mpwrite_array(w, 7);
        arb_mpwrite_int(w, e[i].ts);
        pack_str(w, e[i].type);
        pack_str(w, e[i].channel);
        pack_str(w, e[i].sku);
        pack_str(w, e[i].category);
        pack_num(w, e[i].price);
        pack_bin(w, e[i].extra, e[i].extra_len);
    }
}

int arb_record_encode(const arb_customer_t *c, uint8_t **out, size_t *len, arb_err_t *err)
{
    /* What decode would refuse is never written: a record that cannot be
     * read back would lose the customer at the next commit. */
    if (c->pseudonym && !arb_record_pseudonym_ok(c->pseudonym))
        return arb_err_set(err, ARB_INTERNAL,
                           "state: customer %s has a pseudonym that is not %d hex digits; not stored",
                           c->id ? c->id : "", ARB_RECORD_PSEUDONYM_LEN);
    arb_mpwrite_t w = {0};
    /* Room for the header first, filled once the payload is known. */
    if (arb_mpwrite_reserve(&w, 256 + 64 * (c->n_events + c->n_purchases + c->n_outcomes + c->n_offers) +
                                    40 * c->n_contacts + 32 * (c->n_consents + c->n_suppressions) +
                                    c->attributes_len))
        w.size = ARB_RECORD_HEADER;
    int version = c->n_offers || c->pseudonym ? VERSION_OFFERS : VERSION_PLAIN;
    arb_mpwrite_array(&w, version == VERSION_OFFERS ? 10 : 8);
    pack_str(&w, c->id ? c->id : "");
    pack_events(&w, c->events, c->n_events);
    pack_events(&w, c->purchases, c->n_purchases);
    arb_mpwrite_array(&w, c->n_contacts);
    for (size_t i = 0; i < c->n_contacts; i++) {
        const arb_contact_t *k = &c->contacts[i];
        arb_mpwrite_array(&w, 4);
        arb_mpwrite_int(&w, k->ts);
        pack_str(&w, k->action);
        pack_str(&w, k->channel);
        pack_str(&w, k->counted);
    }
    arb_mpwrite_array(&w, c->n_outcomes);
    for (size_t i = 0; i < c->n_outcomes; i++) {
        const arb_outcome_t *o = &c->outcomes[i];
        arb_mpwrite_array(&w, 6);
        arb_mpwrite_int(&w, o->ts);
        pack_str(&w, o->action);
        pack_str(&w, o->outcome);
        pack_str(&w, o->decision_id);
        pack_str(&w, o->channel);
        pack_num(&w, o->value);
    }
    arb_mpwrite_array(&w, c->n_consents);
    for (size_t i = 0; i < c->n_consents; i++) {
        arb_mpwrite_array(&w, 3);
        arb_mpwrite_int(&w, c->consents[i].ts);
        pack_str(&w, c->consents[i].key);
        arb_mpwrite_bool(&w, c->consents[i].granted);
    }
    pack_bin(&w, c->attributes, c->attributes_len);
    arb_mpwrite_array(&w, c->n_suppressions);
    for (size_t i = 0; i < c->n_suppressions; i++) {
        arb_mpwrite_array(&w, 3);
        arb_mpwrite_int(&w, c->suppressions[i].until);
        pack_str(&w, c->suppressions[i].action);
        pack_str(&w, c->suppressions[i].reason);
    }
    if (version == VERSION_OFFERS) {
        arb_mpwrite_array(&w, c->n_offers);
        for (size_t i = 0; i < c->n_offers; i++) {
            const arb_offer_t *f = &c->offers[i];
            arb_mpwrite_array(&w, 6);
            arb_mpwrite_int(&w, f->ts);
            pack_str(&w, f->decision_id);
            pack_str(&w, f->action);
            pack_str(&w, f->channel);
            pack_str(&w, f->segment);
            arb_mpwrite_uint32(&w, f->learned);
        }
        pack_str(&w, c->pseudonym);
    }
    if (w.failed) {
        free(w.data);
        return arb_err_set(err, ARB_INTERNAL, "state: out of memory encoding a customer record");
    }
    size_t plen = w.size - ARB_RECORD_HEADER;
    if (plen > ARB_RECORD_MAX) {
        free(w.data);
        return arb_err_set(err, ARB_INTERNAL,
                           "state: customer %s needs a %zu-byte record, over the %u-byte limit; "
                           "lower the ruleset's retention counts",
                           c->id ? c->id : "", plen, ARB_RECORD_MAX);
    }
    uint8_t *p = w.data;
    memcpy(p, magic, 4);
    p[4] = (uint8_t)version;
    put_u32(p + 5, (uint32_t)plen);
    put_u32(p + 9, (uint32_t)crc32(0, p + ARB_RECORD_HEADER, (uInt)plen));
    *out = p;
    *len = w.size;
    return 0;
}

/* ---- decoding ---- */

bool arb_record_msgpack_ok(const uint8_t *p, size_t n, int max_depth)
{
    arb_mpread_t r;
    arb_mpread_init(&r, p, n);
    return arb_mpread_skip(&r, max_depth) && r.p == r.end;
}

size_t arb_record_size(const uint8_t *data, size_t len)
{
    if (len < ARB_RECORD_HEADER || memcmp(data, magic, 4) != 0 ||
        (data[4] != VERSION_PLAIN && data[4] != VERSION_OFFERS))
        return 0;
    uint32_t plen = get_u32(data + 5);
    if (plen > ARB_RECORD_MAX || plen > len - ARB_RECORD_HEADER) return 0;
    return ARB_RECORD_HEADER + plen;
}

/* One pass over the payload: each value is checked for its type as it is
 * read. Strings and byte ranges are copied into one pool sized once from
 * the payload (a str of n bytes takes at least n + 1 of them, so its copy
 * and its NUL fit), which keeps them NUL-terminated as customer.h promises
 * and lets the caller drop the bytes after the call. */
typedef struct dec {
    arb_mpread_t r;
    char *pool;           /* the next free byte of the strings' pool */
    arb_arena_t *arena;
    arb_err_t *err;
} dec_t;

static int bad(dec_t *d, const char *what)
{
    return arb_err_set(d->err, ARB_INTERNAL, "state: corrupt customer record: %s", what);
}

static int no_memory(dec_t *d)
{
    return arb_err_set(d->err, ARB_INTERNAL, "state: out of memory decoding a customer record");
}

static inline __attribute__((always_inline)) int get_str(dec_t *d, bool nullable, const char **out, const char *what)
{
    if (nullable && arb_mpread_nil(&d->r)) {
        *out = NULL;
        return 0;
    }
    const char *s;
    uint32_t n;
    /* A NUL inside would cut the string: what is read back must re-encode the same. */
    if (!arb_mpread_str(&d->r, &s, &n) || (n && memchr(s, 0, n))) return bad(d, what);
    char *copy = d->pool;
    memcpy(copy, s, n);
    copy[n] = 0;
    d->pool += n + 1;
    *out = copy;
    return 0;
}

static inline __attribute__((always_inline)) int get_i64(dec_t *d, int64_t *out, const char *what)
{
    return arb_mpread_int(&d->r, out) ? 0 : bad(d, what);
}

static int get_num(dec_t *d, double *out, const char *what)
{
    if (arb_mpread_nil(&d->r)) *out = NAN;
    else if (!arb_mpread_float(&d->r, out)) return bad(d, what);
    return 0;
}

static int get_bin(dec_t *d, const uint8_t **out, size_t *len, const char *what)
{
    *out = NULL;
    *len = 0;
    if (arb_mpread_nil(&d->r)) return 0;
    const uint8_t *raw;
    uint32_t n;
    if (!arb_mpread_bin(&d->r, &raw, &n)) return bad(d, what);
    /* What the merge unpacks later: one map, checked like the payload. */
    if (!n || ((raw[0] & 0xf0) != 0x80 && raw[0] != 0xde && raw[0] != 0xdf)) return bad(d, what);
    if (!arb_record_msgpack_ok(raw, n, 32)) return bad(d, what);
    memcpy(d->pool, raw, n);
    *out = (const uint8_t *)d->pool;
    *len = n;
    d->pool += n;
    return 0;
}

/* The header of a list of `fields`-field arrays: *items allocated for its
 * entries, each of which takes at least fields + 1 bytes. */
static int get_list(dec_t *d, uint32_t fields, size_t size, void **items, size_t *n, const char *what)
{
    uint32_t k;
    *n = 0;
    *items = NULL;
    if (!arb_mpread_array(&d->r, &k) || (uint64_t)k * (fields + 1) > arb_mpread_left(&d->r))
        return bad(d, what);
    if (!k) return 0;
    if (!(*items = arb_arena_alloc(d->arena, size * k))) return no_memory(d);
    *n = k;
    return 0;
}

/* The header of one entry of such a list. */
static int get_item(dec_t *d, uint32_t fields, const char *what)
{
    uint32_t k;
    return arb_mpread_array(&d->r, &k) && k == fields ? 0 : bad(d, what);
}

static int get_events(dec_t *d, arb_event_t **out, size_t *n, const char *what)
{
    if (get_list(d, 7, sizeof **out, (void **)out, n, what)) return -1;
    for (size_t i = 0; i < *n; i++) {
        arb_event_t *e = &(*out)[i];
        if (get_item(d, 7, what) || get_i64(d, &e->ts, what) || get_str(d, true, &e->type, what) ||
            get_str(d, true, &e->channel, what) || get_str(d, true, &e->sku, what) ||
            get_str(d, true, &e->category, what) || get_num(d, &e->price, what) ||
            get_bin(d, &e->extra, &e->extra_len, what))
            return -1;
    }
    return 0;
}

static int get_contacts(dec_t *d, arb_customer_t *c)
{
    const char *what = "contacts";
    if (get_list(d, 4, sizeof *c->contacts, (void **)&c->contacts, &c->n_contacts, what)) return -1;
    for (size_t i = 0; i < c->n_contacts; i++) {
        arb_contact_t *k = &c->contacts[i];
        if (get_item(d, 4, what) || get_i64(d, &k->ts, what) || get_str(d, false, &k->action, what) ||
            get_str(d, true, &k->channel, what) || get_str(d, true, &k->counted, what))
            return -1;
    }
    return 0;
}

static int get_outcomes(dec_t *d, arb_customer_t *c)
{
    const char *what = "outcomes";
    if (get_list(d, 6, sizeof *c->outcomes, (void **)&c->outcomes, &c->n_outcomes, what)) return -1;
    for (size_t i = 0; i < c->n_outcomes; i++) {
        arb_outcome_t *o = &c->outcomes[i];
        if (get_item(d, 6, what) || get_i64(d, &o->ts, what) || get_str(d, false, &o->action, what) ||
            get_str(d, false, &o->outcome, what) || get_str(d, true, &o->decision_id, what) ||
            get_str(d, true, &o->channel, what) || get_num(d, &o->value, what))
            return -1;
    }
    return 0;
}

static int get_consents(dec_t *d, arb_customer_t *c)
{
    const char *what = "consents";
    if (get_list(d, 3, sizeof *c->consents, (void **)&c->consents, &c->n_consents, what)) return -1;
    for (size_t i = 0; i < c->n_consents; i++) {
        arb_consent_t *k = &c->consents[i];
        if (get_item(d, 3, what) || get_i64(d, &k->ts, what) || get_str(d, false, &k->key, what))
            return -1;
        if (!arb_mpread_bool(&d->r, &k->granted)) return bad(d, what);
    }
    return 0;
}

static int get_suppressions(dec_t *d, arb_customer_t *c)
{
    const char *what = "suppressions";
    if (get_list(d, 3, sizeof *c->suppressions, (void **)&c->suppressions, &c->n_suppressions, what))
        return -1;
    for (size_t i = 0; i < c->n_suppressions; i++) {
        arb_suppression_t *s = &c->suppressions[i];
        if (get_item(d, 3, what) || get_i64(d, &s->until, what) || get_str(d, false, &s->action, what) ||
            get_str(d, true, &s->reason, what))
            return -1;
    }
    return 0;
}

static int get_offers(dec_t *d, arb_customer_t *c)
{
    const char *what = "offers";
    if (get_list(d, 6, sizeof *c->offers, (void **)&c->offers, &c->n_offers, what)) return -1;
    for (size_t i = 0; i < c->n_offers; i++) {
        arb_offer_t *k = &c->offers[i];
        int64_t learned = 0;
        /* An offer is found by (decision_id, action): both must be there. */
        if (get_item(d, 6, what) || get_i64(d, &k->ts, what) || get_str(d, false, &k->decision_id, what) ||
            get_str(d, false, &k->action, what) || get_str(d, true, &k->channel, what) ||
            get_str(d, true, &k->segment, what) || get_i64(d, &learned, what))
            return -1;
        /* What feedback taught from it: the two ARB_OFFER_* bits, nothing else. */
        if (learned < 0 || learned > 3) return bad(d, what);
        k->learned = (unsigned)learned;
    }
    return 0;
}

static int decode_payload(dec_t *d, int version, arb_customer_t *c)
{
    uint32_t fields = 0;
    bool shaped = arb_mpread_array(&d->r, &fields);
    if (version == VERSION_PLAIN && (!shaped || fields != 8))
        return bad(d, "payload is not msgpack of the record's shape: not an 8-field array");
    if (version == VERSION_OFFERS && (!shaped || fields < 9 || fields > 10))
        return bad(d, "payload is not msgpack of the record's shape: "
                      "not a 9-field array (or 10, with the pseudonym)");
    if (get_str(d, false, &c->id, "id") || get_events(d, &c->events, &c->n_events, "events") ||
        get_events(d, &c->purchases, &c->n_purchases, "purchases") || get_contacts(d, c) ||
        get_outcomes(d, c) || get_consents(d, c) ||
        get_bin(d, &c->attributes, &c->attributes_len, "attributes") || get_suppressions(d, c))
        return -1;
    if (version == VERSION_OFFERS && get_offers(d, c)) return -1;
    if (fields == 10) {
        /* The log names the customer by it: anything else is not one. */
        if (get_str(d, true, &c->pseudonym, "pseudonym")) return -1;
        if (c->pseudonym && !arb_record_pseudonym_ok(c->pseudonym)) return bad(d, "pseudonym");
    }
    if (d->r.p != d->r.end) return bad(d, "payload is not msgpack of the record: bytes after it");
    return 0;
}

static int decode(const uint8_t *data, size_t len, arb_customer_t *c, arb_arena_t *arena, arb_err_t *err)
{
    dec_t d = {.arena = arena, .err = err};
    arb_customer_empty(c, "");
    if (len < ARB_RECORD_HEADER) return bad(&d, "shorter than its header");
    if (memcmp(data, magic, 4) != 0) return bad(&d, "no ARBC magic");
    if (data[4] != VERSION_PLAIN && data[4] != VERSION_OFFERS)
        return arb_err_set(err, ARB_INTERNAL,
                           "state: customer record version %u is not known to this build (it knows %d and %d); "
                           "run the Arbiter that wrote it, or forget the customer",
                           data[4], VERSION_PLAIN, VERSION_OFFERS);
    size_t size = arb_record_size(data, len);
    if (!size) return bad(&d, "payload length past the end");
    const uint8_t *p = data + ARB_RECORD_HEADER;
    size_t plen = size - ARB_RECORD_HEADER;
    if (crc32(0, p, (uInt)plen) != get_u32(data + 9)) return bad(&d, "checksum mismatch");
    arb_mpread_init(&d.r, p, plen);
    if (!(d.pool = arb_arena_alloc(arena, plen ? plen : 1))) return no_memory(&d);
    int rc = decode_payload(&d, data[4], c);
    if (rc) arb_customer_empty(c, "");
    return rc;
}

int arb_record_decode(const uint8_t *data, size_t len, arb_customer_t *c, arb_arena_t *arena, arb_err_t *err)
{
    return decode(data, len, c, arena, err);
}

void arb_customer_empty(arb_customer_t *c, const char *id)
{
    memset(c, 0, sizeof *c);
    c->id = id;
}

/* ---- reading a customer (customer.h) ---- */
