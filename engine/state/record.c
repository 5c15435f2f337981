/* Encoding and decoding of one customer's record (record.h).
 *
 * Keeps state/'s rule for file formats: decode is total. msgpack-c parses
 * the payload (bounded by ARB_RECORD_MAX), then every field is checked for
 * its type before it is copied into the caller's arena; whatever the bytes,
 * the result is a customer or an error naming the first thing wrong.
 */
#include "engine/state/record.h"

#include <math.h>
#include <msgpack.h>
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

static void pack_str(msgpack_packer *pk, const char *s)
{
    if (!s) {
        msgpack_pack_nil(pk);
        return;
    }
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pack_num(msgpack_packer *pk, double v)
{
    if (isnan(v)) msgpack_pack_nil(pk);
    else msgpack_pack_double(pk, v);
}

static void pack_bin(msgpack_packer *pk, const uint8_t *b, size_t n)
{
    if (!b) {
        msgpack_pack_nil(pk);
        return;
    }
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, b, n);
}

static void pack_events(msgpack_packer *pk, const arb_event_t *e, size_t n)
{
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_array(pk, 7);
        msgpack_pack_int64(pk, e[i].ts);
        pack_str(pk, e[i].type);
        pack_str(pk, e[i].channel);
        pack_str(pk, e[i].sku);
        pack_str(pk, e[i].category);
        pack_num(pk, e[i].price);
        pack_bin(pk, e[i].extra, e[i].extra_len);
    }
}

int arb_record_encode(const arb_customer_t *c, uint8_t **out, size_t *len, arb_err_t *err)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    /* Room for the header first, filled once the payload is known. */
    static const char header[ARB_RECORD_HEADER];
    msgpack_sbuffer_write(&sb, header, sizeof header);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    /* What decode would refuse is never written: a record that cannot be
     * read back would lose the customer at the next commit. */
    if (c->pseudonym && !arb_record_pseudonym_ok(c->pseudonym)) {
        msgpack_sbuffer_destroy(&sb);
        return arb_err_set(err, ARB_INTERNAL,
                           "state: customer %s has a pseudonym that is not %d hex digits; not stored",
                           c->id ? c->id : "", ARB_RECORD_PSEUDONYM_LEN);
    }
    int version = c->n_offers || c->pseudonym ? VERSION_OFFERS : VERSION_PLAIN;
    msgpack_pack_array(&pk, version == VERSION_OFFERS ? 10 : 8);
    pack_str(&pk, c->id ? c->id : "");
    pack_events(&pk, c->events, c->n_events);
    pack_events(&pk, c->purchases, c->n_purchases);
    msgpack_pack_array(&pk, c->n_contacts);
    for (size_t i = 0; i < c->n_contacts; i++) {
        const arb_contact_t *k = &c->contacts[i];
        msgpack_pack_array(&pk, 4);
        msgpack_pack_int64(&pk, k->ts);
        pack_str(&pk, k->action);
        pack_str(&pk, k->channel);
        pack_str(&pk, k->counted);
    }
    msgpack_pack_array(&pk, c->n_outcomes);
    for (size_t i = 0; i < c->n_outcomes; i++) {
        const arb_outcome_t *o = &c->outcomes[i];
        msgpack_pack_array(&pk, 6);
        msgpack_pack_int64(&pk, o->ts);
        pack_str(&pk, o->action);
        pack_str(&pk, o->outcome);
        pack_str(&pk, o->decision_id);
        pack_str(&pk, o->channel);
        pack_num(&pk, o->value);
    }
    msgpack_pack_array(&pk, c->n_consents);
    for (size_t i = 0; i < c->n_consents; i++) {
        msgpack_pack_array(&pk, 3);
        msgpack_pack_int64(&pk, c->consents[i].ts);
        pack_str(&pk, c->consents[i].key);
        if (c->consents[i].granted) msgpack_pack_true(&pk);
        else msgpack_pack_false(&pk);
    }
    pack_bin(&pk, c->attributes, c->attributes_len);
    msgpack_pack_array(&pk, c->n_suppressions);
    for (size_t i = 0; i < c->n_suppressions; i++) {
        msgpack_pack_array(&pk, 3);
        msgpack_pack_int64(&pk, c->suppressions[i].until);
        pack_str(&pk, c->suppressions[i].action);
        pack_str(&pk, c->suppressions[i].reason);
    }
    if (version == VERSION_OFFERS) {
        msgpack_pack_array(&pk, c->n_offers);
        for (size_t i = 0; i < c->n_offers; i++) {
            const arb_offer_t *f = &c->offers[i];
            msgpack_pack_array(&pk, 6);
            msgpack_pack_int64(&pk, f->ts);
            pack_str(&pk, f->decision_id);
            pack_str(&pk, f->action);
            pack_str(&pk, f->channel);
            pack_str(&pk, f->segment);
            msgpack_pack_unsigned_int(&pk, f->learned);
        }
        pack_str(&pk, c->pseudonym);
    }
    if (!sb.data) return arb_err_set(err, ARB_INTERNAL, "state: out of memory encoding a customer record");
    size_t plen = sb.size - ARB_RECORD_HEADER;
    if (plen > ARB_RECORD_MAX) {
        msgpack_sbuffer_destroy(&sb);
        return arb_err_set(err, ARB_INTERNAL,
                           "state: customer %s needs a %zu-byte record, over the %u-byte limit; "
                           "lower the ruleset's retention counts",
                           c->id ? c->id : "", plen, ARB_RECORD_MAX);
    }
    uint8_t *p = (uint8_t *)sb.data;
    memcpy(p, magic, 4);
    p[4] = (uint8_t)version;
    put_u32(p + 5, (uint32_t)plen);
    put_u32(p + 9, (uint32_t)crc32(0, p + ARB_RECORD_HEADER, (uInt)plen));
    *out = p;
    *len = sb.size;
    return 0;
}

/* ---- decoding ---- */

static bool take_len(const uint8_t *p, size_t n, size_t *i, int bytes, size_t *out)
{
    if (n - *i < (size_t)bytes) return false;
    size_t v = 0;
    for (int k = 0; k < bytes; k++) v = v << 8 | p[(*i)++];
    *out = v;
    return true;
}

/* True when p[0..n) is exactly one msgpack object nesting at most
 * max_depth (<= 32) deep, whose every container claims no more elements
 * than there are bytes left. msgpack-c allocates a container's elements
 * before reading them, so a corrupt count would be a huge allocation: this
 * walk runs first, over bytes only. */
bool arb_record_msgpack_ok(const uint8_t *p, size_t n, int max_depth)
{
    size_t left[34];
    int d = 0;
    size_t i = 0;
    left[0] = 1;
    if (max_depth > 32) max_depth = 32;
    while (d >= 0) {
        if (left[d] == 0) {
            d--;
            continue;
        }
        left[d]--;
        if (i >= n) return false;
        uint8_t b = p[i++];
        size_t skip = 0, count = 0, len;
        bool container = false;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, bool */
        } else if ((b & 0xe0) == 0xa0) {
            skip = b & 0x1f;
        } else if ((b & 0xf0) == 0x90) {
            container = true;
            count = b & 0x0f;
        } else if ((b & 0xf0) == 0x80) {
            container = true;
            count = (size_t)(b & 0x0f) * 2;
        } else {
            switch (b) {
            case 0xc4: case 0xd9: if (!take_len(p, n, &i, 1, &skip)) return false; break;
            case 0xc5: case 0xda: if (!take_len(p, n, &i, 2, &skip)) return false; break;
            case 0xc6: case 0xdb: if (!take_len(p, n, &i, 4, &skip)) return false; break;
            case 0xc7: if (!take_len(p, n, &i, 1, &skip)) return false; skip++; break;
            case 0xc8: if (!take_len(p, n, &i, 2, &skip)) return false; skip++; break;
            case 0xc9: if (!take_len(p, n, &i, 4, &skip)) return false; skip++; break;
            case 0xcc: case 0xd0: skip = 1; break;
            case 0xcd: case 0xd1: skip = 2; break;
            case 0xca: case 0xce: case 0xd2: skip = 4; break;
            case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
            case 0xd4: skip = 2; break;
            case 0xd5: skip = 3; break;
            case 0xd6: skip = 5; break;
            case 0xd7: skip = 9; break;
            case 0xd8: skip = 17; break;
            case 0xdc: if (!take_len(p, n, &i, 2, &len)) return false; container = true; count = len; break;
            case 0xdd: if (!take_len(p, n, &i, 4, &len)) return false; container = true; count = len; break;
            case 0xde: if (!take_len(p, n, &i, 2, &len)) return false; container = true; count = len * 2; break;
            case 0xdf: if (!take_len(p, n, &i, 4, &len)) return false; container = true; count = len * 2; break;
            default: return false;  /* 0xc1, never used */
            }
        }
        if (skip > n - i) return false;
        i += skip;
        if (container) {
            if (count > n - i || d + 1 > max_depth) return false;
            left[++d] = count;
        }
    }
    return i == n;
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

typedef struct dec {
    arb_arena_t *arena;
    arb_err_t *err;
} dec_t;

static int bad(dec_t *d, const char *what)
{
    return arb_err_set(d->err, ARB_INTERNAL, "state: corrupt customer record: %s", what);
}

static int get_str(dec_t *d, const msgpack_object *o, bool nullable, const char **out, const char *what)
{
    if (o->type == MSGPACK_OBJECT_NIL && nullable) {
        *out = NULL;
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_STR) return bad(d, what);
    size_t n = o->via.str.size;
    if (n && memchr(o->via.str.ptr, 0, n)) return bad(d, what);
    char *s = arb_arena_alloc(d->arena, n + 1);
    if (!s) return arb_err_set(d->err, ARB_INTERNAL, "state: out of memory decoding a customer record");
    if (n) memcpy(s, o->via.str.ptr, n);
    s[n] = 0;
    *out = s;
    return 0;
}

static int get_i64(dec_t *d, const msgpack_object *o, int64_t *out, const char *what)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) *out = (int64_t)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) *out = o->via.i64;
    else return bad(d, what);
    return 0;
}

static int get_num(dec_t *d, const msgpack_object *o, double *out, const char *what)
{
    if (o->type == MSGPACK_OBJECT_NIL) *out = NAN;
    else if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32) *out = o->via.f64;
    else return bad(d, what);
    return 0;
}

static int get_bin(dec_t *d, const msgpack_object *o, const uint8_t **out, size_t *len, const char *what)
{
    if (o->type == MSGPACK_OBJECT_NIL) {
        *out = NULL;
        *len = 0;
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_BIN) return bad(d, what);
    /* What the merge unpacks later: one map, checked like the payload. */
    const uint8_t *raw = (const uint8_t *)o->via.bin.ptr;
    if (!o->via.bin.size || ((raw[0] & 0xf0) != 0x80 && raw[0] != 0xde && raw[0] != 0xdf)) return bad(d, what);
    if (!arb_record_msgpack_ok(raw, o->via.bin.size, 32)) return bad(d, what);
    uint8_t *b = arb_arena_alloc(d->arena, o->via.bin.size ? o->via.bin.size : 1);
    if (!b) return arb_err_set(d->err, ARB_INTERNAL, "state: out of memory decoding a customer record");
    memcpy(b, o->via.bin.ptr, o->via.bin.size);
    *out = b;
    *len = o->via.bin.size;
    return 0;
}

/* The array o of n-field arrays: *items allocated for its entries. */
static int get_list(dec_t *d, const msgpack_object *o, uint32_t fields, size_t size,
                    void **items, size_t *n, const char *what)
{
    if (o->type != MSGPACK_OBJECT_ARRAY) return bad(d, what);
    *n = o->via.array.size;
    *items = NULL;
    if (!*n) return 0;
    *items = arb_arena_alloc(d->arena, size * *n);
    if (!*items) return arb_err_set(d->err, ARB_INTERNAL, "state: out of memory decoding a customer record");
    for (size_t i = 0; i < *n; i++) {
        const msgpack_object *e = &o->via.array.ptr[i];
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != fields) return bad(d, what);
    }
    return 0;
}

static int get_events(dec_t *d, const msgpack_object *o, arb_event_t **out, size_t *n, const char *what)
{
    if (get_list(d, o, 7, sizeof **out, (void **)out, n, what)) return -1;
    for (size_t i = 0; i < *n; i++) {
        const msgpack_object *f = o->via.array.ptr[i].via.array.ptr;
        arb_event_t *e = &(*out)[i];
        if (get_i64(d, &f[0], &e->ts, what) || get_str(d, &f[1], true, &e->type, what) ||
            get_str(d, &f[2], true, &e->channel, what) || get_str(d, &f[3], true, &e->sku, what) ||
            get_str(d, &f[4], true, &e->category, what) || get_num(d, &f[5], &e->price, what) ||
            get_bin(d, &f[6], &e->extra, &e->extra_len, what))
            return -1;
    }
    return 0;
}

static int decode_payload(dec_t *d, const msgpack_object *r, int version, arb_customer_t *c)
{
    if (version == VERSION_PLAIN && (r->type != MSGPACK_OBJECT_ARRAY || r->via.array.size != 8))
        return bad(d, "not an 8-field array");
    if (version == VERSION_OFFERS &&
        (r->type != MSGPACK_OBJECT_ARRAY || r->via.array.size < 9 || r->via.array.size > 10))
        return bad(d, "not a 9-field array (or 10, with the pseudonym)");
    const msgpack_object *f = r->via.array.ptr;
    if (get_str(d, &f[0], false, &c->id, "id") ||
        get_events(d, &f[1], &c->events, &c->n_events, "events") ||
        get_events(d, &f[2], &c->purchases, &c->n_purchases, "purchases"))
        return -1;
    if (get_list(d, &f[3], 4, sizeof *c->contacts, (void **)&c->contacts, &c->n_contacts, "contacts"))
        return -1;
    for (size_t i = 0; i < c->n_contacts; i++) {
        const msgpack_object *g = f[3].via.array.ptr[i].via.array.ptr;
        arb_contact_t *k = &c->contacts[i];
        if (get_i64(d, &g[0], &k->ts, "contacts") || get_str(d, &g[1], false, &k->action, "contacts") ||
            get_str(d, &g[2], true, &k->channel, "contacts") ||
            get_str(d, &g[3], true, &k->counted, "contacts"))
            return -1;
    }
    if (get_list(d, &f[4], 6, sizeof *c->outcomes, (void **)&c->outcomes, &c->n_outcomes, "outcomes"))
        return -1;
    for (size_t i = 0; i < c->n_outcomes; i++) {
        const msgpack_object *g = f[4].via.array.ptr[i].via.array.ptr;
        arb_outcome_t *o = &c->outcomes[i];
        if (get_i64(d, &g[0], &o->ts, "outcomes") || get_str(d, &g[1], false, &o->action, "outcomes") ||
            get_str(d, &g[2], false, &o->outcome, "outcomes") ||
            get_str(d, &g[3], true, &o->decision_id, "outcomes") ||
            get_str(d, &g[4], true, &o->channel, "outcomes") || get_num(d, &g[5], &o->value, "outcomes"))
            return -1;
    }
    if (get_list(d, &f[5], 3, sizeof *c->consents, (void **)&c->consents, &c->n_consents, "consents"))
        return -1;
    for (size_t i = 0; i < c->n_consents; i++) {
        const msgpack_object *g = f[5].via.array.ptr[i].via.array.ptr;
        arb_consent_t *k = &c->consents[i];
        if (get_i64(d, &g[0], &k->ts, "consents") || get_str(d, &g[1], false, &k->key, "consents"))
            return -1;
        if (g[2].type != MSGPACK_OBJECT_BOOLEAN) return bad(d, "consents");
        k->granted = g[2].via.boolean;
    }
    if (get_bin(d, &f[6], &c->attributes, &c->attributes_len, "attributes")) return -1;
    if (get_list(d, &f[7], 3, sizeof *c->suppressions, (void **)&c->suppressions, &c->n_suppressions,
                 "suppressions"))
        return -1;
    for (size_t i = 0; i < c->n_suppressions; i++) {
        const msgpack_object *g = f[7].via.array.ptr[i].via.array.ptr;
        arb_suppression_t *s = &c->suppressions[i];
        if (get_i64(d, &g[0], &s->until, "suppressions") ||
            get_str(d, &g[1], false, &s->action, "suppressions") ||
            get_str(d, &g[2], true, &s->reason, "suppressions"))
            return -1;
    }
    if (version == VERSION_PLAIN) return 0;
    /* An offer is found by (decision_id, action): both must be there. */
    if (get_list(d, &f[8], 6, sizeof *c->offers, (void **)&c->offers, &c->n_offers, "offers")) return -1;
    for (size_t i = 0; i < c->n_offers; i++) {
        const msgpack_object *g = f[8].via.array.ptr[i].via.array.ptr;
        arb_offer_t *k = &c->offers[i];
        if (get_i64(d, &g[0], &k->ts, "offers") || get_str(d, &g[1], false, &k->decision_id, "offers") ||
            get_str(d, &g[2], false, &k->action, "offers") || get_str(d, &g[3], true, &k->channel, "offers") ||
            get_str(d, &g[4], true, &k->segment, "offers"))
            return -1;
        /* What feedback taught from it: the two ARB_OFFER_* bits, nothing else. */
        if (g[5].type != MSGPACK_OBJECT_POSITIVE_INTEGER || g[5].via.u64 > 3) return bad(d, "offers");
        k->learned = (unsigned)g[5].via.u64;
    }
    if (r->via.array.size == 9) return 0;
    /* The log names the customer by it: anything else is not one. */
    if (get_str(d, &f[9], true, &c->pseudonym, "pseudonym")) return -1;
    if (c->pseudonym && !arb_record_pseudonym_ok(c->pseudonym)) return bad(d, "pseudonym");
    return 0;
}

int arb_record_decode(const uint8_t *data, size_t len, arb_customer_t *c,
                      arb_arena_t *arena, arb_err_t *err)
{
    dec_t d = {arena, err};
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
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc;
    if (!arb_record_msgpack_ok(p, plen, 3))
        rc = bad(&d, "payload is not msgpack of the record's shape");
    else if (msgpack_unpack_next(&u, (const char *)p, plen, &off) != MSGPACK_UNPACK_SUCCESS)
        rc = bad(&d, "payload is not msgpack");
    else if (off != plen)
        rc = bad(&d, "bytes after the payload");
    else
        rc = decode_payload(&d, &u.data, data[4], c);
    msgpack_unpacked_destroy(&u);
    if (rc) arb_customer_empty(c, "");
    return rc;
}

void arb_customer_empty(arb_customer_t *c, const char *id)
{
    memset(c, 0, sizeof *c);
    c->id = id;
}

/* ---- reading a customer (customer.h) ---- */
