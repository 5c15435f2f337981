/* The store's front: picks the backend from --state, checks what every
 * backend would check (the customer_id), and dispatches. Keeps state/'s rule
 * that callers see one interface whatever the backend. */
#include "engine/state/store_int.h"

#include "engine/state/record.h"

#include <stdlib.h>
#include <string.h>

int arb_store_open(arb_store_t **out, const char *spec, const arb_store_options_t *opt, arb_err_t *err)
{
    *out = NULL;
    if (!spec || !*spec)
        return arb_err_set(err, ARB_INVALID_PARAMS,
                           "--state: expected `memory`, a folder for the LMDB store, or redis://HOST:PORT[,HOST:PORT...]");
    if (strlen(spec) > 1000)
        return arb_err_set(err, ARB_INVALID_PARAMS, "--state: the folder path is longer than 1000 bytes");
    arb_store_t *s = calloc(1, sizeof *s);
    if (!s) return arb_err_set(err, ARB_INTERNAL, "state: out of memory opening the store");
    if (opt) s->opt = *opt;
    if (!s->opt.map_size) s->opt.map_size = (size_t)64 << 30;
    if (!s->opt.sync_ms) s->opt.sync_ms = 1000;
    if (!s->opt.max_batch) s->opt.max_batch = 512;
    if (!s->opt.timeout_ms) s->opt.timeout_ms = 50;
    if (!s->opt.max_pending) s->opt.max_pending = 1024;
    int rc;
    if (strcmp(spec, "memory") == 0) {
        snprintf(s->name, sizeof s->name, "memory");
        rc = arb_memory_open(s, err);
    } else if (strncmp(spec, "redis://", 8) == 0) {
        snprintf(s->name, sizeof s->name, "%s", spec);
        rc = arb_redis_open(s, spec + 8, err);
    } else {
        snprintf(s->name, sizeof s->name, "lmdb:%s", spec);
        rc = arb_lmdb_open(s, spec, err);
    }
    if (rc) {
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void arb_store_close(arb_store_t *s)
{
    if (!s) return;
    s->ops->close(s);
    free(s);
}

const char *arb_store_name(const arb_store_t *s)
{
    return s->name;
}

arb_store_session_t *arb_store_session_open(arb_store_t *s, arb_err_t *err)
{
    arb_store_session_t *ss = calloc(1, sizeof *ss);
    if (!ss) {
        arb_err_set(err, ARB_INTERNAL, "state: out of memory opening a store session");
        return NULL;
    }
    ss->store = s;
    if (s->ops->session_open && s->ops->session_open(ss, err)) {
        free(ss);
        return NULL;
    }
    return ss;
}

void arb_store_session_close(arb_store_session_t *ss)
{
    if (!ss) return;
    if (ss->store->ops->session_close) ss->store->ops->session_close(ss);
    free(ss);
}

int arb_store_session_attach(arb_store_session_t *ss, const arb_store_loop_t *loop, arb_err_t *err)
{
    return ss->store->ops->session_attach ? ss->store->ops->session_attach(ss, loop, err) : 0;
}

static int check_id(const char *id, arb_err_t *err)
{
    if (!id || !*id) return arb_err_set(err, ARB_INVALID_PARAMS, "customer_id: expected a non-empty string");
    if (strlen(id) > ARB_STORE_ID_MAX)
        return arb_err_set(err, ARB_INVALID_PARAMS, "customer_id: longer than %d bytes", ARB_STORE_ID_MAX);
    return 0;
}

void arb_store_fetch(arb_store_session_t *ss, const char *id, arb_customer_t *out,
                     arb_arena_t *arena, arb_store_fetch_cb cb, void *arg)
{
    arb_err_t err;
    arb_customer_empty(out, "");
    if (check_id(id, &err)) {
        cb(arg, -1, &err);
        return;
    }
    ss->store->ops->fetch(ss, id, out, arena, cb, arg);
}

void arb_store_commit(arb_store_session_t *ss, const char *id, const arb_commit_t *c,
                      arb_store_commit_cb cb, void *arg)
{
    arb_err_t err;
    if (check_id(id, &err)) {
        cb(arg, NULL, &err);
        return;
    }
    ss->store->ops->commit(ss, id, c, cb, arg);
}

void arb_store_commit_once(arb_store_session_t *ss, const char *id, const char *op_id,
                           const arb_commit_t *c, arb_store_commit_cb cb, void *arg)
{
    arb_err_t err;
    if (check_id(id, &err)) {
        cb(arg, NULL, &err);
        return;
    }
    if (op_id && strlen(op_id) > 128) {
        arb_err_set(&err, ARB_INVALID_PARAMS, "decision_id: longer than 128 bytes");
        cb(arg, NULL, &err);
        return;
    }
    if (op_id && ss->store->ops->commit_once) ss->store->ops->commit_once(ss, id, op_id, c, cb, arg);
    else ss->store->ops->commit(ss, id, c, cb, arg);
}

void arb_store_forget(arb_store_session_t *ss, const char *id, arb_store_done_cb cb, void *arg)
{
    arb_err_t err;
    if (check_id(id, &err)) {
        cb(arg, &err);
        return;
    }
    ss->store->ops->forget(ss, id, cb, arg);
}

int arb_store_merge(const arb_store_t *s, const char *id, const arb_customer_t *old, const arb_commit_t *c,
                    arb_arena_t *arena, arb_customer_t *next, bool *granted, arb_commit_result_t *res,
                    arb_err_t *err)
{
    arb_customer_t cur;
    if (old) cur = *old;
    else arb_customer_empty(&cur, id);
    cur.id = id;
    if (arb_commit_merge(&cur, c, &s->opt.retention, arena, next, granted, res, err)) return -1;
    /* The learn_* strings point into the merge's arena (or the kept
     * customer), gone before the backend's callback runs. */
    const char **keep[3] = { &res->learn_channel, &res->learn_segment, &res->learn_decision_id };
    for (int i = 0; i < 3; i++)
        if (*keep[i]) {
            snprintf(res->learn_strings[i], sizeof res->learn_strings[i], "%s", *keep[i]);
            *keep[i] = res->learn_strings[i];
        }
    /* Inline like the strings above, so the decision log can name the
     * customer after the arena is gone ("" for none). */
    if (next->pseudonym) snprintf(res->pseudonym, sizeof res->pseudonym, "%s", next->pseudonym);
    return 0;
}

int arb_store_apply(const arb_store_t *s, const char *id, const uint8_t *old, size_t old_len,
                    const arb_commit_t *c, bool *granted, arb_commit_result_t *res,
                    uint8_t **rec, size_t *rec_len, arb_err_t *err)
{
    arb_arena_t arena;
    arb_arena_init(&arena);
    arb_customer_t cur, next;
    int rc = -1;
    if (old && arb_record_decode(old, old_len, &cur, &arena, err)) {
        /* Say which customer, and the way out. */
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err->message);
        arb_err_set(err, ARB_INTERNAL, "%s (customer %s in %s; `forget` it to start afresh)", why,
                    id, s->name);
    } else if (!arb_store_merge(s, id, old ? &cur : NULL, c, &arena, &next, granted, res, err)) {
        rc = arb_record_encode(&next, rec, rec_len, err);
    }
    arb_arena_free(&arena);
    return rc;
}

void arb_store_arms_sync(arb_store_session_t *ss, const arb_arms_sync_t *req, arb_store_arms_cb cb, void *arg)
{
    arb_err_t err;
    if (!ss->store->ops->arms_sync) {
        arb_err_set(&err, ARB_INTERNAL, "state: the %s store keeps no learned arms", ss->store->name);
        cb(arg, NULL, 0, &err);
        return;
    }
    ss->store->ops->arms_sync(ss, req, cb, arg);
}
