/* The rule fixture's code (declared in rulefix.h): write a ruleset folder,
 * load it through the real loader, decide JSON contexts through the real
 * decider and answer packer, and read the decision back as a value or as
 * the answer's bytes. One object per flavour ($b/obj/support/rulefix.o),
 * linked into every unit test that loads rules, so a fix here is made once.
 */
#include "tests/support/rulefix.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/answer_ref.h"

/* ---- folders */

void rf_write(rf_t *r, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", r->dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    fwrite(text, 1, strlen(text), f);
    fclose(f);
}

void rf_unlink(rf_t *r, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", r->dir, name);
    unlink(path);
}

/* Remove every file of dir, then dir. */
static void rf_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

void rf_init(rf_t *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "/tmp/arbiter-rules-XXXXXX");
    cr_assert_not_null(mkdtemp(r->dir), "mkdtemp failed");
    r->seq = 1;
    r->d = arb_decider_new();
    cr_assert_not_null(r->d);
    arb_arena_init(&r->arena);
    msgpack_unpacked_init(&r->out);
    msgpack_sbuffer_init(&r->outbuf);
}

void rf_unload(rf_t *r)
{
    arb_ruleset_free(r->rs);
    r->rs = NULL;
    arb_problems_free(&r->problems);
}

void rf_fini(rf_t *r)
{
    rf_unload(r);
    arb_decider_free(r->d);
    r->d = NULL;
    arb_arena_free(&r->arena);
    msgpack_unpacked_destroy(&r->out);
    msgpack_unpacked_init(&r->out);
    msgpack_sbuffer_destroy(&r->outbuf);
    msgpack_sbuffer_init(&r->outbuf);
    r->dec = NULL;
    free(r->ids);
    free(r->ptext);
    free(r->jtext);
    r->ids = r->ptext = r->jtext = NULL;
    if (r->dir[0]) rf_rmdir(r->dir);
    r->dir[0] = '\0';
}

rf_t R;

void rf_setup(void) { rf_init(&R); }
void rf_teardown(void) { rf_fini(&R); }

/* ---- loading */

/* Load the folder as it is now (freeing the previous ruleset). Returns
 * whether it loaded; problems are in r->problems either way. */
bool rf_reload(rf_t *r)
{
    rf_unload(r);
    r->rs = arb_ruleset_load(r->dir, r->seq++, &r->problems);
    return r->rs != NULL;
}

/* Write (name, text) pairs, NULL-terminated, then load the folder. */
bool rf_load(rf_t *r, ...)
{
    va_list ap;
    va_start(ap, r);
    const char *name;
    while ((name = va_arg(ap, const char *))) rf_write(r, name, va_arg(ap, const char *));
    va_end(ap);
    return rf_reload(r);
}

/* Every problem of the last load, one per line (for messages). */
const char *rf_problems(rf_t *r)
{
    size_t n = 1;
    for (size_t i = 0; i < r->problems.n; i++) n += strlen(r->problems.items[i]) + 1;
    free(r->ptext);
    r->ptext = calloc(1, n);
    for (size_t i = 0; i < r->problems.n; i++) {
        strcat(r->ptext, r->problems.items[i]);
        strcat(r->ptext, "\n");
    }
    return r->ptext;
}

/* The first problem containing every one of the NULL-terminated needles. */
const char *rf_problem_with(rf_t *r, ...)
{
    for (size_t i = 0; i < r->problems.n; i++) {
        const char *p = r->problems.items[i];
        bool all = true;
        va_list ap;
        va_start(ap, r);
        const char *needle;
        while ((needle = va_arg(ap, const char *)))
            if (!strstr(p, needle)) all = false;
        va_end(ap);
        if (all) return p;
    }
    return NULL;
}

/* ---- deciding */

/* Turn the format into JSON text: printf, then ' -> ". Caller frees. */
char *rf_vjson(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    char *s = malloc((size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    for (char *p = s; *p; p++)
        if (*p == '\'') *p = '"';
    return s;
}

/* Decide the context given as JSON (format, single quotes allowed), with
 * defaults filled in. Returns arb_decide's result; the decision is r->dec. */
int rf_vdecide(rf_t *r, const char *fmt, va_list ap)
{
    cr_assert_not_null(r->rs, "no ruleset loaded:\n%s", rf_problems(r));
    char *text = rf_vjson(fmt, ap);
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    cr_assert_not_null(j, "bad JSON in the test: %s: %s", jerr.text, text);
    free(text);
    if (!json_object_get(j, "customer_id")) json_object_set_new(j, "customer_id", json_string("cust-1"));
    if (!json_object_get(j, "channel")) json_object_set_new(j, "channel", json_string("web"));
    if (!json_object_get(j, "touchpoint")) json_object_set_new(j, "touchpoint", json_string("web_home"));
    if (!json_object_get(j, "now")) json_object_set_new(j, "now", json_integer(RF_NOW));
    text = json_dumps(j, JSON_COMPACT);
    json_decref(j);

    msgpack_sbuffer in;
    msgpack_sbuffer_init(&in);
    msgpack_sbuffer_destroy(&r->outbuf);   /* the previous decision goes */
    msgpack_sbuffer_init(&r->outbuf);
    msgpack_sbuffer *res = &r->outbuf;
    char err[256];
    cr_assert_eq(arb_json_to_msgpack(text, &in, err, sizeof err), 0, "%s", err);
    free(text);
    msgpack_unpacked ctx;
    msgpack_unpacked_init(&ctx);
    cr_assert_eq(msgpack_unpack_next(&ctx, in.data, in.size, NULL), MSGPACK_UNPACK_SUCCESS);

    memset(&r->err, 0, sizeof r->err);
    arb_arena_reset(&r->arena);   /* the previous decision's arena memory goes */
    r->decision = arb_decide(r->d, r->rs, &ctx.data, r->customer, &r->arena, &r->stats, &r->err);
    r->rc = r->decision ? 0 : -1;
    msgpack_unpacked_destroy(&r->out);
    msgpack_unpacked_init(&r->out);
    r->dec = NULL;
    if (r->decision) {
        /* The answer's bytes too, for the tests of its shape (payloads,
         * decision_id, elapsed_us); the rest read r->decision. */
        msgpack_packer pk;
        msgpack_packer_init(&pk, res, msgpack_sbuffer_write);
        arb_answer_pack_decision(&pk, r->decision);
        ar_expect_same(r->decision);   /* the bytes clients have always read */
        cr_assert_eq(msgpack_unpack_next(&r->out, res->data, res->size, NULL), MSGPACK_UNPACK_SUCCESS,
                     "the decision is not valid MessagePack");
        r->dec = &r->out.data;
    }
    msgpack_unpacked_destroy(&ctx);
    msgpack_sbuffer_destroy(&in);
    return r->rc;
}

/* Decide; the context must be accepted. */
__attribute__((format(printf, 2, 3)))
const msgpack_object *rf_decide(rf_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = rf_vdecide(r, fmt, ap);
    va_end(ap);
    cr_assert_eq(rc, 0, "the context was refused: %s", r->err.message);
    return r->dec;
}

/* Decide; returns arb_decide's result (the context may be refused). */
__attribute__((format(printf, 2, 3)))
int rf_try_decide(rf_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = rf_vdecide(r, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- reading the decision */

const msgpack_object *rf_get(const msgpack_object *map, const char *key)
{
    return arb_msgpack_map_get(map, key);
}

bool rf_str_is(const msgpack_object *o, const char *s)
{
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
           memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

double rf_num(const msgpack_object *o)
{
    if (!o) return NAN;
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return (double)o->via.u64;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return (double)o->via.i64;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return o->via.f64;
    default: return NAN;
    }
}

/* The chosen actions array of the last decision. */
const msgpack_object *rf_actions(rf_t *r)
{
    const msgpack_object *a = r->dec ? rf_get(r->dec, "actions") : NULL;
    cr_assert(a && a->type == MSGPACK_OBJECT_ARRAY, "the decision has no actions array");
    return a;
}

/* The last decision, which must have been made. */
const arb_decision_t *rf_decision(rf_t *r)
{
    cr_assert_not_null(r->decision, "no decision: the context was refused: %s", r->err.message);
    return r->decision;
}

uint32_t rf_count(rf_t *r) { return rf_decision(r)->n_actions; }

/* The chosen ids, in order, joined by ","; "" when none. */
const char *rf_ids(rf_t *r)
{
    const arb_decision_t *d = rf_decision(r);
    size_t n = 1;
    for (uint32_t i = 0; i < d->n_actions; i++) n += strlen(d->actions[i].id) + 1;
    free(r->ids);
    r->ids = calloc(1, n);
    for (uint32_t i = 0; i < d->n_actions; i++) {
        if (i) strcat(r->ids, ",");
        strcat(r->ids, d->actions[i].id);
    }
    return r->ids;
}

/* The chosen action with this id, or NULL. */
const arb_decided_action_t *rf_chosen_action(rf_t *r, const char *id)
{
    const arb_decision_t *d = rf_decision(r);
    for (uint32_t i = 0; i < d->n_actions; i++)
        if (strcmp(d->actions[i].id, id) == 0) return &d->actions[i];
    return NULL;
}

/* The chosen action map with this id, or NULL. */
const msgpack_object *rf_action(rf_t *r, const char *id)
{
    const msgpack_object *a = rf_actions(r);
    for (uint32_t i = 0; i < a->via.array.size; i++)
        if (rf_str_is(rf_get(&a->via.array.ptr[i], "id"), id)) return &a->via.array.ptr[i];
    return NULL;
}

bool rf_chosen(rf_t *r, const char *id) { return rf_chosen_action(r, id) != NULL; }

/* Priority of chosen action id; NAN when it was not chosen. */
double rf_priority(rf_t *r, const char *id)
{
    const arb_decided_action_t *a = rf_chosen_action(r, id);
    return a ? a->priority : NAN;
}

/* The explain entry of id, or NULL. */
const msgpack_object *rf_explained(rf_t *r, const char *id)
{
    const msgpack_object *e = r->dec ? rf_get(r->dec, "explain") : NULL;
    if (!e || e->type != MSGPACK_OBJECT_ARRAY) return NULL;
    for (uint32_t i = 0; i < e->via.array.size; i++)
        if (rf_str_is(rf_get(&e->via.array.ptr[i], "id"), id)) return &e->via.array.ptr[i];
    return NULL;
}

/* The explain reason of id (a copy), or "(none)" when absent. */
const char *rf_reason(rf_t *r, const char *id)
{
    const arb_decision_t *d = r->decision;
    for (uint32_t i = 0; d && i < d->n_explain; i++)
        if (strcmp(d->explain[i].id, id) == 0) {
            snprintf(r->reason, sizeof r->reason, "%s", d->explain[i].reason);
            return r->reason;
        }
    return "(none)";
}

bool rf_starts(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* o as compact JSON (scratch, valid until the next rf_ call using it). */
const char *rf_json(rf_t *r, const msgpack_object *o)
{
    free(r->jtext);
    r->jtext = o ? arb_msgpack_to_json(o, 0) : strdup("(null)");
    return r->jtext;
}

/* The decision as JSON, for failure messages. */
const char *rf_dump(rf_t *r) { return rf_json(r, r->dec); }
