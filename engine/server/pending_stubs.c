/* TEMPORARY, issue 12: stand-ins for what the decide and params helpers
 * deliver (see pending_stubs.h), just enough for the server's tests before
 * the merge. THE LEAD DELETES THIS FILE at the merge. */
#include "engine/server/pending_stubs.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/base/pack.h"

static char *dup_str(arb_arena_t *a, const msgpack_object *o)
{
    if (!o || o->type != MSGPACK_OBJECT_STR) return NULL;
    char *s = arb_arena_alloc(a, o->via.str.size + 1);
    if (!s) return NULL;
    memcpy(s, o->via.str.ptr, o->via.str.size);
    s[o->via.str.size] = 0;
    return s;
}

static int64_t ts_of(const msgpack_object *m, int64_t now)
{
    const msgpack_object *t = arb_msgpack_map_get(m, "ts");
    if (t && t->type == MSGPACK_OBJECT_POSITIVE_INTEGER) return (int64_t)t->via.u64;
    return now;
}

/* Stub: every chosen action is one contact counted at decide time; an
 * action named in ARB_STUB_CAP="action:max:seconds" gets that cap. */
int arb_policy_contacts(const arb_ruleset_t *rs, const arb_decision_t *dec, arb_arena_t *arena,
                        arb_contact_req_t **out)
{
    (void)rs;
    *out = NULL;
    if (!dec->n_actions) return 0;
    arb_contact_req_t *r = arb_arena_alloc(arena, dec->n_actions * sizeof *r);
    arb_cap_t *cap = arb_arena_alloc(arena, sizeof *cap);
    if (!r || !cap) return -1;
    const char *env = getenv("ARB_STUB_CAP");
    char name[128] = "";
    unsigned max = 0;
    long long win = 0;
    if (env) sscanf(env, "%127[^:]:%u:%lld", name, &max, &win);
    cap->action = NULL;
    cap->channel = NULL;
    cap->max = max;
    cap->window = win;
    for (uint32_t i = 0; i < dec->n_actions; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].contact.ts = (int64_t)time(NULL);
        r[i].contact.action = dec->actions[i].id;
        r[i].contact.channel = "stub";   /* the decision has no channel before the merge */
        r[i].contact.counted = "decision";
        if (strcmp(name, dec->actions[i].id) == 0) {
            cap->action = dec->actions[i].id;
            r[i].caps = cap;
            r[i].n_caps = 1;
        }
    }
    *out = r;
    return (int)dec->n_actions;
}

int arb_policy_feedback_contacts(const arb_ruleset_t *rs, const char *action, const char *channel,
                                 const char *outcome, int64_t ts, arb_arena_t *arena,
                                 arb_contact_req_t **out)
{
    (void)rs; (void)action; (void)channel; (void)outcome; (void)ts; (void)arena;
    *out = NULL;
    return 0;
}

bool arb_ruleset_outcome_known(const arb_ruleset_t *rs, const char *o, size_t n)
{
    (void)rs;
    static const char *const known[] = { "impression", "click", "convert", "dismiss" };
    for (size_t i = 0; i < 4; i++)
        if (strlen(known[i]) == n && memcmp(known[i], o, n) == 0) return true;
    return false;
}

void arb_ruleset_retention(const arb_ruleset_t *rs, arb_retention_t *out)
{
    (void)rs;
    /* Stub: what a ruleset keeps when it says nothing, so that a record
     * stays bounded however many decisions a customer gets. */
    *out = (arb_retention_t){ .max_age = 400 * 86400, .max_events = 1000, .max_purchases = 1000,
                              .max_contacts = 200, .max_outcomes = 1000 };
}

static int need_id(const msgpack_object *arg, arb_arena_t *a, const char **id, arb_err_t *err)
{
    if (!arg || arg->type != MSGPACK_OBJECT_MAP)
        return arb_err_set(err, ARB_INVALID_PARAMS, "params[0]: expected a map");
    *id = dup_str(a, arb_msgpack_map_get(arg, "customer_id"));
    if (!*id || !**id)
        return arb_err_set(err, ARB_INVALID_PARAMS, "customer_id: expected a non-empty string");
    return 0;
}

static int events_of(const msgpack_object *arr, int64_t now, arb_arena_t *a, bool purchases,
                     const arb_event_t **out, size_t *n, arb_err_t *err)
{
    *out = NULL;
    *n = 0;
    if (!arr) return 0;
    const char *field = purchases ? "purchases" : "events";
    if (arr->type != MSGPACK_OBJECT_ARRAY)
        return arb_err_set(err, ARB_INVALID_PARAMS, "%s: expected an array", field);
    arb_event_t *e = arb_arena_alloc(a, (arr->via.array.size + 1) * sizeof *e);
    if (!e) return arb_err_set(err, ARB_INTERNAL, "out of memory");
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        const msgpack_object *m = &arr->via.array.ptr[i];
        if (m->type != MSGPACK_OBJECT_MAP)
            return arb_err_set(err, ARB_INVALID_PARAMS, "%s[%u]: expected a map", field, i);
        memset(&e[i], 0, sizeof e[i]);
        e[i].ts = ts_of(m, now);
        e[i].type = purchases ? NULL : dup_str(a, arb_msgpack_map_get(m, "type"));
        if (!purchases && !e[i].type)
            return arb_err_set(err, ARB_INVALID_PARAMS, "%s[%u].type: expected a string", field, i);
        e[i].channel = dup_str(a, arb_msgpack_map_get(m, "channel"));
        e[i].sku = dup_str(a, arb_msgpack_map_get(m, "sku"));
        e[i].category = dup_str(a, arb_msgpack_map_get(m, "category"));
        const msgpack_object *p = arb_msgpack_map_get(m, "price");
        e[i].price = p && p->type == MSGPACK_OBJECT_FLOAT64 ? p->via.f64 : NAN;
    }
    *out = e;
    *n = arr->via.array.size;
    return 0;
}

int arb_track_parse(const msgpack_object *arg, int64_t now, arb_arena_t *a,
                    const char **customer_id, arb_commit_t *out, arb_err_t *err)
{
    memset(out, 0, sizeof *out);
    out->now = now;
    if (need_id(arg, a, customer_id, err) < 0) return -1;
    if (events_of(arb_msgpack_map_get(arg, "events"), now, a, false, &out->events, &out->n_events,
                  err) < 0 ||
        events_of(arb_msgpack_map_get(arg, "purchases"), now, a, true, &out->purchases,
                  &out->n_purchases, err) < 0)
        return -1;
    const msgpack_object *cs = arb_msgpack_map_get(arg, "consent");
    if (cs) {
        if (cs->type != MSGPACK_OBJECT_MAP)
            return arb_err_set(err, ARB_INVALID_PARAMS, "consent: expected a map of booleans");
        arb_consent_t *c = arb_arena_alloc(a, (cs->via.map.size + 1) * sizeof *c);
        if (!c) return arb_err_set(err, ARB_INTERNAL, "out of memory");
        for (uint32_t i = 0; i < cs->via.map.size; i++) {
            const msgpack_object_kv *kv = &cs->via.map.ptr[i];
            if (kv->val.type != MSGPACK_OBJECT_BOOLEAN)
                return arb_err_set(err, ARB_INVALID_PARAMS, "consent: expected a map of booleans");
            c[i].ts = now;
            c[i].key = dup_str(a, &kv->key);
            c[i].granted = kv->val.via.boolean;
        }
        out->consents = c;
        out->n_consents = cs->via.map.size;
    }
    return 0;
}

int arb_feedback_parse(const msgpack_object *arg, int64_t now, arb_arena_t *a, arb_feedback_t *out,
                       arb_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (need_id(arg, a, &out->customer_id, err) < 0) return -1;
    out->action = dup_str(a, arb_msgpack_map_get(arg, "action"));
    if (!out->action) return arb_err_set(err, ARB_INVALID_PARAMS, "action: expected a string");
    out->outcome = dup_str(a, arb_msgpack_map_get(arg, "outcome"));
    if (!out->outcome) return arb_err_set(err, ARB_INVALID_PARAMS, "outcome: expected a string");
    out->decision_id = dup_str(a, arb_msgpack_map_get(arg, "decision_id"));
    out->channel = dup_str(a, arb_msgpack_map_get(arg, "channel"));
    out->value = NAN;
    out->ts = ts_of(arg, now);
    return 0;
}

int arb_customer_ref_parse(const msgpack_object *arg, arb_arena_t *a, const char **customer_id,
                           arb_err_t *err)
{
    return need_id(arg, a, customer_id, err);
}

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

static void pack_opt(msgpack_packer *pk, const char *s)
{
    if (s) arb_pack_cstr(pk, s);
    else msgpack_pack_nil(pk);
}

void arb_answer_pack_customer(msgpack_packer *pk, const arb_customer_t *c)
{
    msgpack_pack_map(pk, 5);
    arb_pack_lit(pk, "customer_id");
    arb_pack_cstr(pk, c->id ? c->id : "");
    arb_pack_lit(pk, "events");
    msgpack_pack_array(pk, c->n_events);
    for (size_t i = 0; i < c->n_events; i++) {
        msgpack_pack_map(pk, 4);
        arb_pack_lit(pk, "type"); pack_opt(pk, c->events[i].type);
        arb_pack_lit(pk, "channel"); pack_opt(pk, c->events[i].channel);
        arb_pack_lit(pk, "sku"); pack_opt(pk, c->events[i].sku);
        arb_pack_lit(pk, "ts"); msgpack_pack_int64(pk, c->events[i].ts);
    }
    arb_pack_lit(pk, "contacts");
    msgpack_pack_array(pk, c->n_contacts);
    for (size_t i = 0; i < c->n_contacts; i++) {
        msgpack_pack_map(pk, 3);
        arb_pack_lit(pk, "action"); pack_opt(pk, c->contacts[i].action);
        arb_pack_lit(pk, "channel"); pack_opt(pk, c->contacts[i].channel);
        arb_pack_lit(pk, "ts"); msgpack_pack_int64(pk, c->contacts[i].ts);
    }
    arb_pack_lit(pk, "outcomes");
    msgpack_pack_array(pk, c->n_outcomes);
    for (size_t i = 0; i < c->n_outcomes; i++) {
        msgpack_pack_map(pk, 2);
        arb_pack_lit(pk, "action"); pack_opt(pk, c->outcomes[i].action);
        arb_pack_lit(pk, "outcome"); pack_opt(pk, c->outcomes[i].outcome);
    }
    arb_pack_lit(pk, "consents");
    msgpack_pack_map(pk, c->n_consents);
    for (size_t i = 0; i < c->n_consents; i++) {
        arb_pack_cstr(pk, c->consents[i].key);
        if (c->consents[i].granted) msgpack_pack_true(pk);
        else msgpack_pack_false(pk);
    }
}
