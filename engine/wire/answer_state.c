/* The state methods' answers (see answer.h): `track`, `feedback`,
 * `customer`, `forget`, `learning`. Split from answer.c, whose subject is a decision;
 * the same rule holds: this folder alone knows an answer's shape, and
 * every string it sends is valid UTF-8, including those inside the stored
 * msgpack of attributes and extra fields, which are read and packed again
 * key by key rather than copied.
 */
#include "engine/wire/answer.h"

#include <math.h>
#include <stdio.h>

#include "engine/base/pack.h"
#include "engine/base/utf8.h"
#include "engine/request/arm.h"
#include "engine/request/customer.h"

void arb_answer_pack_track(msgpack_packer *pk, size_t stored)
{
    msgpack_pack_map(pk, 1);
    arb_pack_lit(pk, "stored");
    msgpack_pack_uint64(pk, stored);
}

void arb_answer_pack_feedback(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    arb_pack_lit(pk, "ok");
    msgpack_pack_true(pk);
}

void arb_answer_pack_forget(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    arb_pack_lit(pk, "forgotten");
    msgpack_pack_true(pk);
}

/* n bytes as a UTF-8 str: arb_pack_text's escaping (\xNN), for strings
 * that may hold NUL (those inside stored msgpack). */
static void pack_text_n(msgpack_packer *pk, const char *text, size_t n)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t bad = 0;
    for (size_t i = 0; i < n;) {
        size_t k = arb_utf8_seq(s + i, n - i);
        if (!k) { bad++; k = 1; }
        i += k;
    }
    if (!bad) {
        arb_pack_strn(pk, text, n);
        return;
    }
    msgpack_pack_str(pk, n + bad * 3);
    for (size_t i = 0; i < n;) {
        size_t k = arb_utf8_seq(s + i, n - i);
        if (k) {
            msgpack_pack_str_body(pk, s + i, k);
            i += k;
            continue;
        }
        char esc[5];
        snprintf(esc, sizeof esc, "\\x%02X", s[i++]);
        msgpack_pack_str_body(pk, esc, 4);
    }
}

/* o again, every str (keys included) through pack_text_n. */
static void pack_clean(msgpack_packer *pk, const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_STR: pack_text_n(pk, o->via.str.ptr, o->via.str.size); return;
    case MSGPACK_OBJECT_ARRAY:
        msgpack_pack_array(pk, o->via.array.size);
        for (uint32_t i = 0; i < o->via.array.size; i++) pack_clean(pk, &o->via.array.ptr[i]);
        return;
    case MSGPACK_OBJECT_MAP:
        msgpack_pack_map(pk, o->via.map.size);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            pack_clean(pk, &o->via.map.ptr[i].key);
            pack_clean(pk, &o->via.map.ptr[i].val);
        }
        return;
    default: msgpack_pack_object(pk, *o); return;
    }
}

/* The stored msgpack map bytes as an object in zone, or NULL when there
 * are none or they are not one map. */
static const msgpack_object *stored_map(const uint8_t *p, size_t n, msgpack_zone *zone,
                                        msgpack_object *obj)
{
    if (!p || !n) return NULL;
    size_t off = 0;
    if (msgpack_unpack((const char *)p, n, &off, zone, obj) != MSGPACK_UNPACK_SUCCESS ||
        obj->type != MSGPACK_OBJECT_MAP)
        return NULL;
    return obj;
}

static void pack_opt_str(msgpack_packer *pk, const char *key, const char *v)
{
    if (!v) return;
    arb_pack_cstr(pk, key);
    arb_pack_text(pk, v);
}

static void pack_ts(msgpack_packer *pk, const char *key, int64_t ts)
{
    arb_pack_cstr(pk, key);
    msgpack_pack_int64(pk, ts);
}

static void pack_events(msgpack_packer *pk, const arb_event_t *e, size_t n, bool purchases)
{
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_zone zone;
        msgpack_zone_init(&zone, 256);
        msgpack_object obj;
        const msgpack_object *extra = stored_map(e[i].extra, e[i].extra_len, &zone, &obj);
        uint32_t fields = 1 + (!purchases && e[i].type) + !!e[i].sku + !!e[i].category +
                          !!e[i].channel + !isnan(e[i].price) + (extra ? extra->via.map.size : 0);
        msgpack_pack_map(pk, fields);
        if (!purchases) pack_opt_str(pk, "type", e[i].type);
        pack_ts(pk, "ts", e[i].ts);
        pack_opt_str(pk, "sku", e[i].sku);
        pack_opt_str(pk, "category", e[i].category);
        pack_opt_str(pk, "channel", e[i].channel);
        if (!isnan(e[i].price)) {
            arb_pack_lit(pk, "price");
            msgpack_pack_double(pk, e[i].price);
        }
        for (uint32_t j = 0; extra && j < extra->via.map.size; j++) {
            pack_clean(pk, &extra->via.map.ptr[j].key);
            pack_clean(pk, &extra->via.map.ptr[j].val);
        }
        msgpack_zone_destroy(&zone);
    }
}

static void pack_contacts(msgpack_packer *pk, const arb_contact_t *c, size_t n)
{
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_map(pk, 4);
        arb_pack_lit(pk, "action");
        arb_pack_text(pk, c[i].action ? c[i].action : "");
        arb_pack_lit(pk, "channel");
        if (c[i].channel) arb_pack_text(pk, c[i].channel); else msgpack_pack_nil(pk);
        pack_ts(pk, "ts", c[i].ts);
        arb_pack_lit(pk, "counted");
        arb_pack_text(pk, c[i].counted ? c[i].counted : "");
    }
}

static void pack_outcomes(msgpack_packer *pk, const arb_outcome_t *o, size_t n)
{
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_map(pk, 3 + !!o[i].decision_id + !!o[i].channel + !isnan(o[i].value));
        arb_pack_lit(pk, "action");
        arb_pack_text(pk, o[i].action ? o[i].action : "");
        arb_pack_lit(pk, "outcome");
        arb_pack_text(pk, o[i].outcome ? o[i].outcome : "");
        pack_ts(pk, "ts", o[i].ts);
        pack_opt_str(pk, "decision_id", o[i].decision_id);
        pack_opt_str(pk, "channel", o[i].channel);
        if (!isnan(o[i].value)) {
            arb_pack_lit(pk, "value");
            msgpack_pack_double(pk, o[i].value);
        }
    }
}

static void pack_consent(msgpack_packer *pk, const arb_consent_t *c, size_t n)
{
    msgpack_pack_map(pk, n);
    for (size_t i = 0; i < n; i++) {
        arb_pack_text(pk, c[i].key ? c[i].key : "");
        msgpack_pack_map(pk, 2);
        arb_pack_lit(pk, "granted");
        if (c[i].granted) msgpack_pack_true(pk); else msgpack_pack_false(pk);
        pack_ts(pk, "ts", c[i].ts);
    }
}

static void pack_suppressions(msgpack_packer *pk, const arb_suppression_t *s, size_t n)
{
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_map(pk, 2 + !!s[i].reason);
        arb_pack_lit(pk, "action");
        arb_pack_text(pk, s[i].action ? s[i].action : "");
        pack_ts(pk, "until", s[i].until);
        pack_opt_str(pk, "reason", s[i].reason);
    }
}

/* The pooled arm's segment ("") is nil, in an offer as in `learning`: a
 * client tells "every customer" from a segment whose value is empty. */
static void pack_segment(msgpack_packer *pk, const char *segment)
{
    arb_pack_lit(pk, "segment");
    if (segment && segment[0]) arb_pack_text(pk, segment); else msgpack_pack_nil(pk);
}

static void pack_offers(msgpack_packer *pk, const arb_offer_t *f, size_t n)
{
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_map(pk, 5);
        pack_ts(pk, "ts", f[i].ts);
        arb_pack_lit(pk, "decision_id");
        arb_pack_text(pk, f[i].decision_id ? f[i].decision_id : "");
        arb_pack_lit(pk, "action");
        arb_pack_text(pk, f[i].action ? f[i].action : "");
        arb_pack_lit(pk, "channel");
        if (f[i].channel) arb_pack_text(pk, f[i].channel); else msgpack_pack_nil(pk);
        pack_segment(pk, f[i].segment);
    }
}

void arb_answer_pack_learning(msgpack_packer *pk, const arb_arm_view_t *rows, size_t n)
{
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        const arb_arm_view_t *r = &rows[i];
        msgpack_pack_map(pk, 7);
        arb_pack_lit(pk, "action");
        arb_pack_text(pk, r->action ? r->action : "");
        arb_pack_lit(pk, "channel");
        arb_pack_text(pk, r->channel ? r->channel : "");
        pack_segment(pk, r->segment);
        arb_pack_lit(pk, "positives");
        msgpack_pack_double(pk, r->positives);
        arb_pack_lit(pk, "negatives");
        msgpack_pack_double(pk, r->negatives);
        arb_pack_lit(pk, "trials");
        msgpack_pack_double(pk, r->trials);
        arb_pack_lit(pk, "mean");
        msgpack_pack_double(pk, r->mean);
    }
}

void arb_answer_pack_customer(msgpack_packer *pk, const arb_customer_t *c)
{
    msgpack_pack_map(pk, 10);
    arb_pack_lit(pk, "customer_id");
    arb_pack_text(pk, c->id ? c->id : "");
    arb_pack_lit(pk, "events");
    pack_events(pk, c->events, c->n_events, false);
    arb_pack_lit(pk, "purchases");
    pack_events(pk, c->purchases, c->n_purchases, true);
    arb_pack_lit(pk, "contacts");
    pack_contacts(pk, c->contacts, c->n_contacts);
    arb_pack_lit(pk, "outcomes");
    pack_outcomes(pk, c->outcomes, c->n_outcomes);
    arb_pack_lit(pk, "consent");
    pack_consent(pk, c->consents, c->n_consents);
    arb_pack_lit(pk, "attributes");
    msgpack_zone zone;
    msgpack_zone_init(&zone, 256);
    msgpack_object obj;
    const msgpack_object *attrs = stored_map(c->attributes, c->attributes_len, &zone, &obj);
    if (attrs) pack_clean(pk, attrs); else msgpack_pack_map(pk, 0);
    msgpack_zone_destroy(&zone);
    arb_pack_lit(pk, "suppressions");
    pack_suppressions(pk, c->suppressions, c->n_suppressions);
    arb_pack_lit(pk, "offers");
    pack_offers(pk, c->offers, c->n_offers);
    /* What the decision log names the customer by: an operator asked
     * about a customer finds their logged records with it. */
    arb_pack_lit(pk, "pseudonym");
    if (c->pseudonym) arb_pack_text(pk, c->pseudonym); else msgpack_pack_nil(pk);
}
