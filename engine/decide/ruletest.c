/* Rule tests (see ruletest.h): the tests of a folder, read by
 * ruleset/testread.c in a state of their own, each decided through
 * arb_decide_bytes (the path the server takes, with explain forced on) and
 * its expectations compared with the arb_decision_t value. Keeps the decide
 * folder's rule: values in, values out; the only Lua that runs here is the
 * ruleset's own rules, deciding.
 */
#include "engine/decide/ruletest.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/problems.h"
#include "engine/decide/decide.h"
#include "engine/ruleset/catalog.h"
#include "engine/ruleset/testread.h"

/* Memory and wall time all the tests' decisions may take together: each
 * Lua call has its own budgets, but 3,000 tests of a rule that stops on its
 * 100 ms wall budget held a server's reload job for 5 minutes. */
#define RUN_MEMORY (256u * 1024 * 1024)
#define RUN_WALL_NS (5000000000ull)

typedef arb_id_list_t id_list_t;
typedef arb_rule_test_t test_case_t;

/* The decision's parts a test looks at. */
typedef struct outcome {
    const arb_decision_t *dec;       /* the decider's view, read before the next test */
} outcome_t;

/* Append the chosen ids as "a, b, c" to buf. */
static void ids_text(const outcome_t *out, char *buf, size_t n)
{
    buf[0] = '\0';
    for (uint32_t i = 0; i < out->dec->n_actions; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, n - used, "%s%s", i ? ", " : "", out->dec->actions[i].id);
    }
    if (!buf[0]) snprintf(buf, n, "nothing");
}

/* Position of id among the chosen actions, or -1. */
static int chosen_at(const outcome_t *out, const char *id)
{
    for (uint32_t i = 0; i < out->dec->n_actions; i++)
        if (strcmp(out->dec->actions[i].id, id) == 0) return (int)i;
    return -1;
}

static const arb_explained_t *explained_of(const outcome_t *out, const char *id)
{
    for (uint32_t i = 0; i < out->dec->n_explain; i++)
        if (strcmp(out->dec->explain[i].id, id) == 0) return &out->dec->explain[i];
    return NULL;
}

/* The reason a `reasons` entry is compared with, into buf: the explain
 * reason, then for "when" the part that failed (`when: bought("laptop")`)
 * and for an action that lost whom to (`outranked to wireless_mouse`), so
 * that a prefix may say as much as the test wants. NULL when id has no
 * entry. */
static const char *reason_of(const outcome_t *out, const char *id, char *buf, size_t n, size_t *len)
{
    const arb_explained_t *e = explained_of(out, id);
    if (!e) return NULL;
    int k = snprintf(buf, n, "%s%s%s%s%s", e->reason, e->failed ? ": " : "",
                     e->failed ? e->failed : "", e->lost_to ? " to " : "", e->lost_to ? e->lost_to : "");
    *len = k < 0 ? 0 : (size_t)k >= n ? n - 1 : (size_t)k;
    return buf;
}

/* The words of a priorities entry's comparison: "at least 2.5". */
static void priority_want_text(const arb_priority_want_t *w, char *buf, size_t n)
{
    if (strcmp(w->op, "between") == 0) snprintf(buf, n, "between %.15g and %.15g", w->a, w->b);
    else snprintf(buf, n, "%s %.15g", strcmp(w->op, "ge") == 0 ? "at least" : strcmp(w->op, "le") == 0 ? "at most" :
                  strcmp(w->op, "gt") == 0 ? "above" : strcmp(w->op, "lt") == 0 ? "below" : "", w->a);
}

static bool priority_holds(const arb_priority_want_t *w, double p)
{
    if (strcmp(w->op, "ge") == 0) return p >= w->a;
    if (strcmp(w->op, "le") == 0) return p <= w->a;
    if (strcmp(w->op, "gt") == 0) return p > w->a;
    if (strcmp(w->op, "lt") == 0) return p < w->a;
    if (strcmp(w->op, "between") == 0) return p >= w->a && p <= w->b;
    return fabs(p - w->a) <= 1e-9 * (fabs(w->a) > 1 ? fabs(w->a) : 1);   /* eq */
}

/* priorities = { id = comparison }: one failure per entry that does not
 * hold, naming the expected and the actual priority (or why it has none). */
static int check_priorities(const test_case_t *t, const outcome_t *out, arb_problems_t *failures)
{
    int failed = 0;
    for (size_t i = 0; i < t->n_priorities; i++) {
        const arb_priority_want_t *w = &t->priorities[i];
        if (!w->id) {
            arb_problems_add(failures, "%s: priorities: each entry must be id = at_least(x), at_most(x), "
                             "above(x), below(x), between(a, b) or a number", t->where);
            failed++;
            continue;
        }
        const arb_explained_t *e = explained_of(out, w->id);
        char want[128];
        priority_want_text(w, want, sizeof want);
        if (!e) {
            arb_problems_add(failures, "%s: expected the priority of %s to be %s, but the ruleset has "
                             "no action '%s'", t->where, w->id, want, w->id);
            failed++;
        } else if (!e->eligible) {
            arb_problems_add(failures, "%s: expected the priority of %s to be %s, got none (reason '%s%s%s')",
                             t->where, w->id, want, e->reason, e->failed ? ": " : "", e->failed ? e->failed : "");
            failed++;
        } else if (!priority_holds(w, e->priority)) {
            arb_problems_add(failures, "%s: expected the priority of %s to be %s, got %.15g", t->where,
                             w->id, want, e->priority);
            failed++;
        }
    }
    return failed;
}

/* ---- the test's stored customer */

/* Reading customer = { ... } into a customer value: its strings copied
 * into the arena (NUL-terminated, as a stored customer's are). */
typedef struct cust_read {
    arb_arena_t *arena;
    char *err;
    size_t errlen;
} cust_read_t;

static int cust_fail(cust_read_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cust_fail(cust_read_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(r->err, r->errlen, "customer.");
    vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static const msgpack_object *field(const msgpack_object *map, const char *key)
{
    if (map->type != MSGPACK_OBJECT_MAP) return NULL;
    size_t n = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && memcmp(k->via.str.ptr, key, n) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

static char *arena_str(cust_read_t *r, const char *p, size_t n)
{
    char *s = arb_arena_alloc(r->arena, n + 1);
    if (!s) return NULL;
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Field key of entry i of list as a string copy (NULL when absent). */
static int str_field(cust_read_t *r, const msgpack_object *e, const char *list, uint32_t i,
                     const char *key, bool required, const char **out)
{
    const msgpack_object *v = field(e, key);
    *out = NULL;
    if (!v) return required ? cust_fail(r, "%s[%u].%s: required", list, i + 1, key) : 0;
    if (v->type != MSGPACK_OBJECT_STR) return cust_fail(r, "%s[%u].%s: expected a string", list, i + 1, key);
    *out = arena_str(r, v->via.str.ptr, v->via.str.size);
    return *out ? 0 : cust_fail(r, "out of memory");
}

static int num_field(cust_read_t *r, const msgpack_object *e, const char *list, uint32_t i,
                     const char *key, bool required, double *out)
{
    const msgpack_object *v = field(e, key);
    if (!v) return required ? cust_fail(r, "%s[%u].%s: required", list, i + 1, key) : 0;
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) *out = (double)v->via.u64;
    else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) *out = (double)v->via.i64;
    else if (v->type == MSGPACK_OBJECT_FLOAT32 || v->type == MSGPACK_OBJECT_FLOAT64) *out = v->via.f64;
    else return cust_fail(r, "%s[%u].%s: expected a number", list, i + 1, key);
    return 0;
}

/* The list `name` of the customer map: its entries, or none. */
static int list_of(cust_read_t *r, const msgpack_object *c, const char *name, uint32_t *n,
                   const msgpack_object **items, size_t elem, void **out)
{
    const msgpack_object *v = field(c, name);
    *n = 0;
    *out = NULL;
    if (!v || (v->type == MSGPACK_OBJECT_MAP && v->via.map.size == 0)) return 0;
    if (v->type != MSGPACK_OBJECT_ARRAY) return cust_fail(r, "%s: expected a list of { ... }", name);
    *n = v->via.array.size;
    *items = v->via.array.ptr;
    for (uint32_t i = 0; i < *n; i++)
        if ((*items)[i].type != MSGPACK_OBJECT_MAP) return cust_fail(r, "%s[%u]: expected a { ... } table", name, i + 1);
    *out = *n ? arb_arena_alloc(r->arena, elem * *n) : NULL;
    return *n && !*out ? cust_fail(r, "out of memory") : 0;
}

/* The fields of entry e other than the typed ones, packed as a msgpack map
 * into the arena, as track stores them (arb_event_t.extra): the words on
 * any field (bought { brand = "acme" }) read them on a test's customer too. */
static int extra_fields(cust_read_t *r, const msgpack_object *e, arb_event_t *out)
{
    static const char *const typed[] = { "ts", "price", "type", "sku", "category", "channel", NULL };
    uint32_t n = 0;
    const msgpack_object_kv *kv = e->via.map.ptr;
    bool *other = e->via.map.size ? arb_arena_alloc(r->arena, e->via.map.size) : NULL;
    if (e->via.map.size && !other) return cust_fail(r, "out of memory");
    for (uint32_t i = 0; i < e->via.map.size; i++) {
        other[i] = kv[i].key.type == MSGPACK_OBJECT_STR;
        for (const char *const *t = typed; *t && other[i]; t++)
            other[i] = !(kv[i].key.via.str.size == strlen(*t) &&
                         memcmp(kv[i].key.via.str.ptr, *t, kv[i].key.via.str.size) == 0);
        n += other[i];
    }
    if (!n) return 0;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, n);
    for (uint32_t i = 0; i < e->via.map.size; i++) {
        if (!other[i]) continue;
        msgpack_pack_object(&pk, kv[i].key);
        msgpack_pack_object(&pk, kv[i].val);
    }
    uint8_t *bytes = sb.data ? arb_arena_alloc(r->arena, sb.size) : NULL;
    if (bytes) memcpy(bytes, sb.data, sb.size);
    out->extra = bytes;
    out->extra_len = bytes ? sb.size : 0;
    msgpack_sbuffer_destroy(&sb);
    return bytes ? 0 : cust_fail(r, "out of memory");
}

static int read_events(cust_read_t *r, const msgpack_object *c, const char *name, bool purchases,
                       arb_event_t **out, size_t *count)
{
    uint32_t n;
    const msgpack_object *it = NULL;
    if (list_of(r, c, name, &n, &it, sizeof **out, (void **)out) < 0) return -1;
    for (uint32_t i = 0; i < n; i++) {
        arb_event_t *e = &(*out)[i];
        double ts = 0, price = NAN;
        memset(e, 0, sizeof *e);
        if (num_field(r, &it[i], name, i, "ts", true, &ts) < 0 ||
            num_field(r, &it[i], name, i, "price", false, &price) < 0 ||
            (!purchases && str_field(r, &it[i], name, i, "type", true, &e->type) < 0) ||
            str_field(r, &it[i], name, i, "sku", false, &e->sku) < 0 ||
            str_field(r, &it[i], name, i, "category", false, &e->category) < 0 ||
            str_field(r, &it[i], name, i, "channel", false, &e->channel) < 0 ||
            extra_fields(r, &it[i], e) < 0)
            return -1;
        e->ts = (int64_t)ts;
        e->price = price;
    }
    *count = n;
    return 0;
}

/* customer = { contacts, outcomes, purchases, events, consent } into *c. */
static int customer_read(const msgpack_object *o, arb_arena_t *arena, arb_customer_t *c,
                         char *err, size_t errlen)
{
    cust_read_t r = { arena, err, errlen };
    memset(c, 0, sizeof *c);
    c->id = "test-customer";
    if (o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == 0) return 0;   /* {} */
    if (o->type != MSGPACK_OBJECT_MAP) return cust_fail(&r, "expected a { ... } table");
    static const char *const known[] = { "contacts", "outcomes", "purchases", "events", "consent", NULL };
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        bool ok = false;
        for (const char *const *w = known; *w && !ok; w++)
            ok = k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(*w) &&
                 memcmp(k->via.str.ptr, *w, k->via.str.size) == 0;
        if (!ok) return cust_fail(&r, "%.*s: unknown (contacts, outcomes, purchases, events, consent)",
                                  k->type == MSGPACK_OBJECT_STR ? (int)k->via.str.size : 1,
                                  k->type == MSGPACK_OBJECT_STR ? k->via.str.ptr : "?");
    }
    uint32_t n;
    const msgpack_object *it = NULL;
    if (list_of(&r, o, "contacts", &n, &it, sizeof *c->contacts, (void **)&c->contacts) < 0) return -1;
    for (uint32_t i = 0; i < n; i++) {
        arb_contact_t *k = &c->contacts[i];
        double ts = 0;
        if (num_field(&r, &it[i], "contacts", i, "ts", true, &ts) < 0 ||
            str_field(&r, &it[i], "contacts", i, "action", true, &k->action) < 0 ||
            str_field(&r, &it[i], "contacts", i, "channel", true, &k->channel) < 0 ||
            str_field(&r, &it[i], "contacts", i, "counted", false, &k->counted) < 0)
            return -1;
        k->ts = (int64_t)ts;
    }
    c->n_contacts = n;
    if (list_of(&r, o, "outcomes", &n, &it, sizeof *c->outcomes, (void **)&c->outcomes) < 0) return -1;
    for (uint32_t i = 0; i < n; i++) {
        arb_outcome_t *k = &c->outcomes[i];
        double ts = 0;
        k->value = NAN;
        if (num_field(&r, &it[i], "outcomes", i, "ts", true, &ts) < 0 ||
            str_field(&r, &it[i], "outcomes", i, "action", true, &k->action) < 0 ||
            str_field(&r, &it[i], "outcomes", i, "outcome", true, &k->outcome) < 0 ||
            str_field(&r, &it[i], "outcomes", i, "channel", false, &k->channel) < 0)
            return -1;
        k->ts = (int64_t)ts;
        k->decision_id = NULL;
    }
    c->n_outcomes = n;
    if (read_events(&r, o, "purchases", true, &c->purchases, &c->n_purchases) < 0 ||
        read_events(&r, o, "events", false, &c->events, &c->n_events) < 0)
        return -1;
    const msgpack_object *consent = field(o, "consent");
    if (consent && !(consent->type == MSGPACK_OBJECT_ARRAY && consent->via.array.size == 0)) {
        if (consent->type != MSGPACK_OBJECT_MAP) return cust_fail(&r, "consent: expected { name = true|false }");
        uint32_t m = consent->via.map.size;
        c->consents = arb_arena_alloc(arena, sizeof *c->consents * m);
        if (!c->consents) return cust_fail(&r, "out of memory");
        for (uint32_t i = 0; i < m; i++) {
            const msgpack_object_kv *kv = &consent->via.map.ptr[i];
            if (kv->key.type != MSGPACK_OBJECT_STR || kv->val.type != MSGPACK_OBJECT_BOOLEAN)
                return cust_fail(&r, "consent: expected { name = true|false }");
            const char *key = arena_str(&r, kv->key.via.str.ptr, kv->key.via.str.size);
            if (!key) return cust_fail(&r, "out of memory");
            c->consents[i] = (arb_consent_t){ 0, key, kv->val.via.boolean };
        }
        c->n_consents = m;
    }
    return 0;
}

/* ---- checking */

static bool chosen_is(const outcome_t *out, const id_list_t *want)
{
    if (out->dec->n_actions != want->n) return false;
    for (size_t i = 0; i < want->n; i++)
        if (!want->items[i] || chosen_at(out, want->items[i]) != (int)i) return false;
    return true;
}

/* The skus of decided action a's products as "A, B" into buf. */
static void skus_text(const outcome_t *out, const arb_decided_action_t *a, char *buf, size_t n)
{
    buf[0] = '\0';
    for (uint32_t i = 0; i < a->n_products && out->dec->catalog; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, n - used, "%s%s", i ? ", " : "", out->dec->catalog->products[a->products[i]].sku);
    }
    if (!buf[0]) snprintf(buf, n, "none");
}

/* products = { id = { "SKU", ... } }: the action was chosen with exactly
 * these products, best first. */
static int check_products(const test_case_t *t, const outcome_t *out, arb_problems_t *failures)
{
    int failed = 0;
    for (size_t i = 0; i < t->product_ids.n; i++) {
        const char *id = t->product_ids.items[i];
        const arb_id_list_t *want = &t->product_wants[i];
        if (!id) {
            arb_problems_add(failures, "%s: products: each entry must be id = { \"SKU\", ... }", t->where);
            failed++;
            continue;
        }
        int at = chosen_at(out, id);
        char got[1024], wanted[1024] = "";
        if (at < 0) {
            arb_problems_add(failures, "%s: products of %s: it was not chosen", t->where, id);
            failed++;
            continue;
        }
        const arb_decided_action_t *a = &out->dec->actions[at];
        bool same = a->n_products == want->n && out->dec->catalog;
        for (size_t k = 0; k < want->n; k++) {
            size_t used = strlen(wanted);
            snprintf(wanted + used, sizeof wanted - used, "%s%s", k ? ", " : "", want->items[k] ? want->items[k] : "?");
            same = same && want->items[k] && strcmp(out->dec->catalog->products[a->products[k]].sku, want->items[k]) == 0;
        }
        if (!same) {
            skus_text(out, a, got, sizeof got);
            arb_problems_add(failures, "%s: products of %s: expected %s, got %s", t->where, id,
                             want->n ? wanted : "none", got);
            failed++;
        }
    }
    return failed;
}

/* Check the test's expectations against out. Adds one failure per broken
 * expectation. */
static int check_expectations(const test_case_t *t, const outcome_t *out, arb_problems_t *failures)
{
    int failed = 0;
    char got[1024];
    ids_text(out, got, sizeof got);
    if (t->expect.given && !chosen_is(out, &t->expect)) {
        char want[1024] = "";
        for (size_t i = 0; i < t->expect.n; i++) {
            size_t used = strlen(want);
            snprintf(want + used, sizeof want - used, "%s%s", i ? ", " : "",
                     t->expect.items[i] ? t->expect.items[i] : "?");
        }
        arb_problems_add(failures, "%s: expected %s, got %s", t->where,
                         t->expect.n ? want : "nothing", got);
        failed++;
    }
    for (int pass = 0; pass < 2; pass++) {
        const id_list_t *l = pass ? &t->excludes : &t->includes;
        for (size_t i = 0; i < l->n; i++) {
            const char *id = l->items[i];
            if (id && (chosen_at(out, id) >= 0) == (pass == 1)) {
                arb_problems_add(failures, "%s: expected %s%s, got %s", t->where,
                                 pass ? "no " : "", id, got);
                failed++;
            }
        }
    }
    for (size_t i = 0; i < t->reason_ids.n; i++) {
        const char *id = t->reason_ids.items[i], *want = t->reason_wants.items[i];
        size_t len = 0;
        char text[600];
        const char *have = id ? reason_of(out, id, text, sizeof text, &len) : NULL;
        if (!id || !want || !have || len < strlen(want) || memcmp(have, want, strlen(want)) != 0) {
            arb_problems_add(failures, "%s: expected the reason for %s to be '%s', got '%.*s'",
                             t->where, id ? id : "?", want ? want : "?", have ? (int)len : 4,
                             have ? have : "none");
            failed++;
        }
    }
    return failed + check_priorities(t, out, failures) + check_products(t, out, failures);
}

static int run_one(arb_ruleset_t *rs, arb_decider_t *d, const test_case_t *t,
                   arb_problems_t *failures, int verbose)
{
    int failed = 0;
    if (t->err[0]) {
        arb_problems_add(failures, "%s: %s", t->where, t->err);
        failed = 1;
    } else {
        arb_decide_once_t once;
        arb_err_t e;
        arb_arena_t arena;
        arb_arena_init(&arena);
        msgpack_unpacked cu;
        msgpack_unpacked_init(&cu);
        arb_customer_t customer;
        char cerr[300] = "";
        bool has_customer = t->customer.size > 0;
        if (has_customer &&
            (msgpack_unpack_next(&cu, t->customer.data, t->customer.size, NULL) != MSGPACK_UNPACK_SUCCESS ||
             customer_read(&cu.data, &arena, &customer, cerr, sizeof cerr) < 0)) {
            arb_problems_add(failures, "%s: %s", t->where, cerr[0] ? cerr : "customer: unreadable");
            failed = 1;
            arb_decide_bytes(d, rs, "", 0, NULL, &once, &e);   /* once must be ready for _done */
        }
        outcome_t out = { NULL };
        if (!failed)
            out.dec = arb_decide_bytes(d, rs, t->context.data, t->context.size,
                                       has_customer ? &customer : NULL, &once, &e);
        if (failed) {
            /* the customer's problem is reported */
        } else if (!out.dec) {
            arb_problems_add(failures, "%s: the context is invalid: %.500s", t->where, e.message);
            failed = 1;
        } else {
            failed = check_expectations(t, &out, failures);
        }
        arb_decide_once_done(&once);
        msgpack_unpacked_destroy(&cu);
        arb_arena_free(&arena);
    }
    if (verbose) {
        char where[sizeof t->where];
        arb_text_clean(t->where, strlen(t->where), where, sizeof where);
        printf("%s %s\n", failed ? "FAIL" : "ok  ", where);
    }
    return failed;
}

int arb_ruleset_run_tests(arb_ruleset_t *rs, const char *dir, arb_problems_t *failures,
                          int verbose)
{
    arb_rule_tests_t r;
    if (arb_rule_tests_read(dir, &r, failures) < 0) return -1;
    arb_rule_tests_check_ids(&r, rs);
    int rc = 0;
    arb_decider_t *d = arb_decider_new();
    if (!d) {
        arb_problems_add(failures, "%s: out of memory running the tests", dir);
        rc = -1;
    } else {
        arb_decider_force_explain(d, true);
        /* Adaptive actions draw their propensity: a fixed seed gives a
         * test the same answer on every run (dsl/README.md, section 17). */
        arb_decider_seed(d, 1);
        /* One wall budget for every Lua call of the run, so that no test
         * passes the run's deadline; the instructions stay per call. */
        arb_ruleset_run_budget_begin(rs, RUN_MEMORY, RUN_WALL_NS);
        uint64_t deadline = arb_ruleset_run_clock_ns(rs) + RUN_WALL_NS;
        for (size_t i = 0; i < r.n; i++) {
            if (arb_ruleset_run_clock_ns(rs) >= deadline) {
                arb_problems_add(failures, "%s: running the tests stopped after %zu of %zu: together "
                                 "they may take %llu s (do rules stop on their budgets in every test?)",
                                 dir, i, r.n, RUN_WALL_NS / 1000000000ull);
                rc = -1;
                break;
            }
            run_one(rs, d, &r.cases[i], failures, verbose);
        }
        arb_ruleset_run_budget_end(rs);
        arb_decider_free(d);
    }
    size_t n = r.n;
    arb_rule_tests_free(&r);
    return rc < 0 ? -1 : (int)n;
}
