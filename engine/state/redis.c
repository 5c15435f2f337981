/* The Redis Cluster backend (--state redis://HOST:PORT[,HOST:PORT...]):
 * customer state shared by every node serving one retailer (DESIGN.md
 * section 5).
 *
 * Keeps state/'s rules for a networked store: a backend stores record
 * bytes only (the merge is arb_store_apply's, the same as memory and
 * LMDB), and a worker never blocks on it: every call is a hiredis async
 * command on the session's own loop (arb_store_session_attach), bounded by
 * a deadline (timeout_ms, then ARB_UNAVAILABLE) and by a count of calls
 * waiting per session (max_pending, then ARB_OVERLOADED at once).
 *
 * Key layout: one hash tag per customer, so every command of a decision
 * touches one slot of one master:
 *   arb:{c:<id>}:rec   the customer record (record.c's bytes), EXPIRE'd at
 *                      the retention's max_age after its last write
 *   arb:{c:<id>}:ops   hash decision id -> the result of its commit (1 h)
 *   arb:{l:<action>}:arms  the learned arms of one action (redis_arms.c;
 *                      arms.c's bytes), never expiring: not customer data
 * Commit is optimistic and exact: GET the record, merge in C, then a Lua
 * script (EVALSHA, loaded on a master the first time it answers NOSCRIPT)
 * SETs the new record only if the stored one is still byte for byte the one
 * merged, else the merge runs again on the new record (at most 32 times).
 * Two nodes taking the last slot of a cap: one SET wins, the other re-merges
 * and sees the cap full, so its granted[] says refused.
 *
 * Every command names one key, except a commit with a decision id (the
 * record and its ops hash, one slot): while a slot migrates, Redis answers
 * such a two-key command TRYAGAIN for a customer in mid-move, and the call
 * fails ARB_UNAVAILABLE (the server's --state-fail policy applies).
 *
 * Routing: the slot map comes from CLUSTER SLOTS, refreshed on each MOVED;
 * until it is known a call goes to the first seed and follows MOVED (and
 * ASK, with ASKING). A connection that drops, or a node that missed a
 * deadline, is closed; the next call to that node connects again.
 */
#include "engine/base/hex.h"
#include "engine/state/record.h"
#include "engine/state/redis_int.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char SCRIPT[] =
    "local ops = KEYS[2]  -- absent without a decision id\n"
    "if ARGV[5] ~= '' then\n"
    "  local r = redis.call('HGET', ops, ARGV[5])\n"
    "  if r then return {2, r} end\n"
    "end\n"
    "local cur = redis.call('GET', KEYS[1])\n"
    "if ARGV[1] == '0' then\n"
    "  if cur then return {0} end\n"
    "elseif cur ~= ARGV[2] then return {0} end\n"
    "local ttl = tonumber(ARGV[4])\n"
    "if ttl > 0 then redis.call('SET', KEYS[1], ARGV[3], 'EX', ttl)\n"
    "else redis.call('SET', KEYS[1], ARGV[3]) end\n"
    "if ARGV[5] ~= '' then\n"
    "  if redis.call('HLEN', ops) >= 1024 then redis.call('DEL', ops) end\n"
    "  redis.call('HSET', ops, ARGV[5], ARGV[6])\n"
    "  redis.call('EXPIRE', ops, 3600)\n"
    "end\n"
    "return {1}\n";

/* ---- requests ---- */

static void req_free(req_t *q)
{
    session_t *s = q->s;
    if (q->prev) q->prev->next = q->next;
    else s->reqs = q->next;
    if (q->next) q->next->prev = q->prev;
    if (q->kind != OP_ARMS) s->live--;
    free(q->old);
    free(q->rec);
    arb_arena_free(&q->carena);
    free(q);
}

void arb_redis_req_release(req_t *q)
{
    if (q->done && q->inflight == 0) req_free(q);
}

/* The one callback of a request; res non-NULL only for a granted commit. */
void arb_redis_req_finish(req_t *q, const arb_commit_result_t *res, const arb_err_t *err)
{
    if (q->done) return;
    q->done = true;
    if (q->timer) {
        q->s->loop.timer_stop(q->timer);
        q->timer = NULL;
    }
    if (q->backoff) {
        q->s->loop.timer_stop(q->backoff);
        q->backoff = NULL;
        q->inflight--;
    }
    if (q->kind == OP_FETCH) q->fetch_cb(q->arg, err ? -1 : 0, err);
    else if (q->kind == OP_COMMIT) q->commit_cb(q->arg, err ? NULL : res, err);
    else if (q->kind == OP_ARMS) arb_redis_arms_done(q, err);
    else q->done_cb(q->arg, err);
}

/* Whom q is for, in messages. */
static const char *about(const req_t *q, char *buf, size_t n)
{
    snprintf(buf, n, q->kind == OP_ARMS ? "the learned arms of action %s" : "customer %s", q->id);
    return buf;
}

static void req_fail(req_t *q, arb_code_t code, const char *fmt, const char *a, int b)
{
    arb_err_t err;
    char what[300];
    snprintf(what, sizeof what, fmt, a, b);
    char who[ARB_STORE_ID_MAX + 40];
    arb_err_set(&err, code, "state: Redis %s (%s, %s)", what, about(q, who, sizeof who), q->s->store->name);
    arb_redis_req_finish(q, NULL, &err);
}

static void on_reply(redisAsyncContext *ac, void *r, void *priv);

void arb_redis_req_send(req_t *q)
{
    session_t *s = q->s;
    node_t *n = q->ask;
    if (!n) {
        int idx = s->slot[q->slot];
        n = idx >= 0 ? s->nodes[idx] : s->nodes[0];
    }
    redisAsyncContext *ac = arb_redis_node_conn(n);
    if (!ac) {
        req_fail(q, ARB_UNAVAILABLE, "cannot connect to %s:%d", n->host, n->port);
        return;
    }
    q->node = n;
    if (q->ask) {
        redisAsyncCommand(ac, NULL, NULL, "ASKING");
        q->ask = NULL;
    }
    int rc;
    if (q->step == ST_GET) {
        rc = redisAsyncCommand(ac, on_reply, q, "GET %s", q->key);
    } else if (q->step == ST_DEL) {
        /* One key per command: a multi-key command meets TRYAGAIN while
         * the slot migrates. */
        rc = redisAsyncCommand(ac, on_reply, q, "DEL %s", q->del_ops ? q->ops_key : q->key);
    } else {
        char ttl[24], result[1100];
        /* Arms never expire: they are not customer data. */
        const arb_retention_t *rt = q->kind == OP_ARMS   ? NULL
                                    : q->commit->retention ? q->commit->retention
                                                           : &s->store->opt.retention;
        snprintf(ttl, sizeof ttl, "%lld", rt && rt->max_age > 0 ? (long long)rt->max_age : 0LL);
        /* What a retry with the same decision id gets back: granted flags,
         * stored, outcomes counted. */
        size_t k = 0;
        for (size_t i = 0; i < q->res.n_contacts && k < 1024; i++) result[k++] = q->granted[i] ? '1' : '0';
        snprintf(result + k, sizeof result - k, ";%zu;%zu", q->res.stored, q->res.outcomes_counted);
        const char *argv[] = {q->use_eval ? "EVAL" : "EVALSHA", q->use_eval ? SCRIPT : ((rstore_t *)s->store->impl)->sha,
                              q->op_id[0] ? "2" : "1", q->key, q->ops_key, q->had_old ? "1" : "0",
                              (const char *)(q->old ? q->old : (uint8_t *)""), (const char *)q->rec, ttl,
                              q->op_id, result};
        size_t len[] = {strlen(argv[0]), strlen(argv[1]), 1, strlen(q->key), strlen(q->ops_key), 1,
                        q->old_len, q->rec_len, strlen(ttl), strlen(q->op_id), strlen(result)};
        /* Without a decision id, one key: a commit works while its slot
         * migrates (a multi-key script would meet TRYAGAIN). */
        int skip = q->op_id[0] ? 0 : 1;
        if (skip) {
            memmove(&argv[4], &argv[5], 6 * sizeof *argv);
            memmove(&len[4], &len[5], 6 * sizeof *len);
        }
        rc = redisAsyncCommandArgv(ac, on_reply, q, 11 - skip, argv, len);
    }
    if (rc != REDIS_OK) {
        req_fail(q, ARB_UNAVAILABLE, "lost the connection to %s:%d", n->host, n->port);
        return;
    }
    q->inflight++;
}

/* MOVED/ASK "<slot> <host>:<port>": 0 when followed. */
static int redirect(req_t *q, const char *msg, bool ask)
{
    const char *sp = strrchr(msg, ' ');
    const char *colon = sp ? strrchr(sp, ':') : NULL;
    if (!colon || ++q->redirects > MAX_REDIRECTS) return -1;
    char host[HOST_MAX];
    size_t hl = (size_t)(colon - sp - 1);
    if (hl >= sizeof host) return -1;
    memcpy(host, sp + 1, hl);
    host[hl] = 0;
    node_t *n = arb_redis_node_get(q->s, host, atoi(colon + 1));
    if (!n) return -1;
    if (ask) {
        q->ask = n;
    } else {
        q->s->slot[q->slot] = (int16_t)arb_redis_node_index(q->s, n);
        arb_redis_refresh_slots(q->s, n);
    }
    arb_redis_req_send(q);
    return 0;
}

static void commit_merge(req_t *q, const redisReply *rp)
{
    free(q->old);
    free(q->rec);
    q->old = q->rec = NULL;
    q->had_old = rp->type == REDIS_REPLY_STRING;
    q->old_len = q->had_old ? rp->len : 0;
    if (q->had_old && !(q->old = malloc(rp->len + 1))) {
        req_fail(q, ARB_INTERNAL, "%s: out of memory%.0d", "commit", 0);
        return;
    }
    if (q->had_old) memcpy(q->old, rp->str, rp->len);
    arb_err_t err;
    if (arb_store_apply(q->s->store, q->id, q->old, q->old_len, q->commit, q->granted, &q->res, &q->rec,
                        &q->rec_len, &err)) {
        arb_redis_req_finish(q, NULL, &err);
        return;
    }
    q->step = ST_CAS;
    arb_redis_req_send(q);
}

/* A retried decision: the first commit's result, "<0|1...>;stored;outcomes". */
static void commit_replay(req_t *q, const redisReply *r)
{
    arb_commit_result_t res = {.granted = q->granted, .n_contacts = q->commit->n_contacts};
    size_t i = 0;
    for (; i < r->len && r->str[i] != ';'; i++)
        if (i < res.n_contacts) res.n_granted += (q->granted[i] = r->str[i] == '1');
    if (i < r->len) sscanf(r->str + i, ";%zu;%zu", &res.stored, &res.outcomes_counted);
    arb_redis_req_finish(q, &res, NULL);
}

static void fetch_done(req_t *q, const redisReply *rp)
{
    arb_err_t err;
    if (rp->type == REDIS_REPLY_NIL) {
        arb_redis_req_finish(q, NULL, NULL);
        return;
    }
    uint8_t *copy = arb_arena_alloc(q->arena, rp->len ? rp->len : 1);
    if (!copy) {
        req_fail(q, ARB_INTERNAL, "%s: out of memory%.0d", "fetch", 0);
        return;
    }
    memcpy(copy, rp->str, rp->len);
    if (arb_record_decode(copy, rp->len, q->out, q->arena, &err)) {
        arb_redis_req_finish(q, NULL, &err);
        return;
    }
    arb_redis_req_finish(q, NULL, NULL);
}

static void on_reply(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    req_t *q = priv;
    redisReply *rp = r;
    q->inflight--;
    if (q->done) {
        arb_redis_req_release(q);
        return;
    }
    if (!rp) {
        req_fail(q, ARB_UNAVAILABLE, "lost the connection to %s:%d", q->node->host, q->node->port);
    } else if (rp->type == REDIS_REPLY_ERROR) {
        if (strncmp(rp->str, "MOVED ", 6) == 0 || strncmp(rp->str, "ASK ", 4) == 0) {
            if (redirect(q, rp->str, rp->str[1] == 'S'))
                req_fail(q, ARB_UNAVAILABLE, "kept redirecting (%s)%.0d", rp->str, 0);
        } else if (strncmp(rp->str, "NOSCRIPT", 8) == 0 && !q->use_eval) {
            q->use_eval = true;  /* EVAL loads it into this master's script cache */
            arb_redis_req_send(q);
        } else {
            req_fail(q, ARB_UNAVAILABLE, "answered an error: %s%.0d", rp->str, 0);
        }
    } else if (q->step == ST_DEL && !q->del_ops) {
        q->del_ops = true;
        arb_redis_req_send(q);
    } else if (q->step == ST_DEL) {
        arb_redis_req_finish(q, NULL, NULL);
    } else if (q->step == ST_GET && rp->type != REDIS_REPLY_NIL && rp->type != REDIS_REPLY_STRING) {
        req_fail(q, ARB_UNAVAILABLE, "answered GET with a reply of type %s%d", "", rp->type);
    } else if (q->step == ST_GET && q->kind == OP_FETCH) {
        fetch_done(q, rp);
    } else if (q->step == ST_GET && q->kind == OP_ARMS) {
        arb_redis_arms_got(q, rp);
    } else if (q->step == ST_GET) {
        commit_merge(q, rp);
    } else if (rp->type != REDIS_REPLY_ARRAY || rp->elements < 1 ||
               rp->element[0]->type != REDIS_REPLY_INTEGER) {
        req_fail(q, ARB_UNAVAILABLE, "answered the commit script oddly%s%.0d", "", 0);
    } else if (rp->element[0]->integer == 1) {
        arb_redis_req_finish(q, &q->res, NULL);
    } else if (rp->element[0]->integer == 2 && rp->elements == 2 && rp->element[1]->type == REDIS_REPLY_STRING) {
        commit_replay(q, rp->element[1]);
    } else if (++q->tries >= MAX_TRIES) {
        req_fail(q, ARB_UNAVAILABLE, "%s kept losing the race for its key (%d tries)",
                 q->kind == OP_ARMS ? "sync" : "commit", MAX_TRIES);
    } else {
        q->step = ST_GET;  /* another node wrote first: merge again on its record */
        if (q->kind == OP_ARMS) arb_redis_arms_retry(q);
        else arb_redis_req_send(q);
    }
    arb_redis_req_release(q);
}

static void on_deadline(void *arg)
{
    req_t *q = arg;
    session_t *s = q->s;
    arb_err_t err;
    s->loop.timer_stop(q->timer);
    q->timer = NULL;
    char who[ARB_STORE_ID_MAX + 40];
    arb_err_set(&err, ARB_UNAVAILABLE, "state: Redis did not answer within %u ms (%s, %s)",
                s->store->opt.timeout_ms, about(q, who, sizeof who), s->store->name);
    arb_redis_req_finish(q, NULL, &err);
    /* A node that misses a deadline is treated as dead: its late replies
     * and buffers go now, and the next call connects afresh. */
    q->inflight++;
    if (q->node) arb_redis_node_drop(q->node);
    q->inflight--;
    arb_redis_req_release(q);
}

req_t *arb_redis_req_new(arb_store_session_t *ss, op_kind_t kind, const char *id, void *arg, arb_err_t *err)
{
    session_t *s = ss->impl;
    if (!s->attached) {
        arb_err_set(err, ARB_INTERNAL, "state: the Redis store session has no loop (arb_store_session_attach)");
        return NULL;
    }
    /* max_pending sheds customer calls; the learning sync (OP_ARMS, one
     * at a time per node) is not counted, so a busy node keeps learning. */
    if (kind != OP_ARMS && s->live >= s->store->opt.max_pending) {
        arb_err_set(err, ARB_OVERLOADED, "state: %zu calls already wait for Redis on this worker (%s)",
                    s->live, s->store->name);
        return NULL;
    }
    req_t *q = calloc(1, sizeof *q);
    if (!q || !(q->timer = s->loop.timer_start(s->loop.loop, s->store->opt.timeout_ms, on_deadline, q))) {
        free(q);
        arb_err_set(err, ARB_INTERNAL, "state: out of memory calling Redis");
        return NULL;
    }
    q->s = s;
    q->kind = kind;
    q->arg = arg;
    snprintf(q->id, sizeof q->id, "%s", id);
    snprintf(q->key, sizeof q->key, "arb:{c:%s}:rec", id);
    snprintf(q->ops_key, sizeof q->ops_key, "arb:{c:%s}:ops", id);
    q->slot = arb_redis_key_slot(q->key);
    arb_arena_init(&q->carena);
    q->next = s->reqs;
    if (s->reqs) s->reqs->prev = q;
    s->reqs = q;
    if (kind != OP_ARMS) s->live++;
    return q;
}

static void r_fetch(arb_store_session_t *ss, const char *id, arb_customer_t *out, arb_arena_t *arena,
                    arb_store_fetch_cb cb, void *arg)
{
    arb_err_t err;
    req_t *q = arb_redis_req_new(ss, OP_FETCH, id, arg, &err);
    if (!q) {
        cb(arg, -1, &err);
        return;
    }
    q->fetch_cb = cb;
    q->out = out;
    q->arena = arena;
    q->step = ST_GET;
    arb_redis_req_send(q);
    arb_redis_req_release(q);
}

static void r_commit_once(arb_store_session_t *ss, const char *id, const char *op_id, const arb_commit_t *c,
                          arb_store_commit_cb cb, void *arg)
{
    arb_err_t err;
    req_t *q = arb_redis_req_new(ss, OP_COMMIT, id, arg, &err);
    if (!q) {
        cb(arg, NULL, &err);
        return;
    }
    q->commit_cb = cb;
    snprintf(q->op_id, sizeof q->op_id, "%s", op_id ? op_id : "");
    if (!(q->commit = arb_commit_copy(c, &q->carena)) ||
        !(q->granted = arb_arena_alloc(&q->carena, (c->n_contacts + 1) * sizeof *q->granted))) {
        req_fail(q, ARB_INTERNAL, "%s: out of memory%.0d", "commit", 0);
        arb_redis_req_release(q);
        return;
    }
    q->step = ST_GET;
    arb_redis_req_send(q);
    arb_redis_req_release(q);
}

static void r_commit(arb_store_session_t *ss, const char *id, const arb_commit_t *c, arb_store_commit_cb cb,
                     void *arg)
{
    r_commit_once(ss, id, NULL, c, cb, arg);
}

static void r_forget(arb_store_session_t *ss, const char *id, arb_store_done_cb cb, void *arg)
{
    arb_err_t err;
    req_t *q = arb_redis_req_new(ss, OP_FORGET, id, arg, &err);
    if (!q) {
        cb(arg, &err);
        return;
    }
    q->done_cb = cb;
    q->step = ST_DEL;
    arb_redis_req_send(q);
    arb_redis_req_release(q);
}

/* ---- sessions and the store ---- */

static int r_session_open(arb_store_session_t *ss, arb_err_t *err)
{
    session_t *s = calloc(1, sizeof *s);
    if (!s) return arb_err_set(err, ARB_INTERNAL, "state: out of memory opening a Redis session");
    s->store = ss->store;
    s->seed = (unsigned)(uintptr_t)s ^ (unsigned)time(NULL);
    memset(s->slot, 0xff, sizeof s->slot);
    ss->impl = s;
    return 0;
}

static int r_session_attach(arb_store_session_t *ss, const arb_store_loop_t *loop, arb_err_t *err)
{
    session_t *s = ss->impl;
    rstore_t *r = ss->store->impl;
    if (!loop || !loop->attach || !loop->timer_start || !loop->timer_stop)
        return arb_err_set(err, ARB_INTERNAL, "state: the Redis store needs a loop with attach and timers");
    if (s->attached) return arb_err_set(err, ARB_INTERNAL, "state: a Redis store session is attached once");
    s->loop = *loop;
    s->attached = true;
    for (size_t i = 0; i < r->n_seeds; i++)
        if (!arb_redis_node_get(s, r->seeds[i].host, r->seeds[i].port))
            return arb_err_set(err, ARB_INTERNAL, "state: out of memory opening a Redis session");
    arb_redis_refresh_slots(s, s->nodes[0]);  /* answered later; meanwhile MOVED guides */
    return 0;
}

static void r_session_close(arb_store_session_t *ss)
{
    session_t *s = ss->impl;
    s->closing = true;
    arb_err_t err;
    for (req_t *q = s->reqs; q; q = q->next)
        if (!q->done) {
            char who[ARB_STORE_ID_MAX + 40];
            arb_err_set(&err, ARB_UNAVAILABLE, "state: the Redis store session closed (%s)",
                        about(q, who, sizeof who));
            arb_redis_req_finish(q, NULL, &err);
        }
    for (size_t i = 0; i < s->n_nodes; i++) {
        arb_redis_node_drop(s->nodes[i]);  /* late replies come back NULL and free their requests */
        free(s->nodes[i]);
    }
    while (s->reqs) req_free(s->reqs);
    free(s);
}

static void r_close(arb_store_t *s)
{
    free(s->impl);
}

static const arb_store_ops_t ops = {
    .session_open = r_session_open,
    .session_close = r_session_close,
    .session_attach = r_session_attach,
    .fetch = r_fetch,
    .commit = r_commit,
    .commit_once = r_commit_once,
    .forget = r_forget,
    .arms_sync = arb_redis_arms_sync,
    .close = r_close,
};

int arb_redis_open(arb_store_t *s, const char *seeds, arb_err_t *err)
{
    rstore_t *r = calloc(1, sizeof *r);
    if (!r) return arb_err_set(err, ARB_INTERNAL, "state: out of memory opening the Redis store");
    const char *p = seeds;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *colon = memrchr(p, ':', n);
        char *stop = NULL;
        long port = colon ? strtol(colon + 1, &stop, 10) : 0;
        if (r->n_seeds == MAX_SEEDS || !colon || colon == p || (size_t)(colon - p) >= HOST_MAX ||
            stop != p + n || port < 1 || port > 65535) {
            free(r);
            return arb_err_set(err, ARB_INVALID_PARAMS,
                               "--state redis://%s: expected HOST:PORT[,HOST:PORT...] (at most %d seed nodes)",
                               seeds, MAX_SEEDS);
        }
        seed_t *sd = &r->seeds[r->n_seeds++];
        memcpy(sd->host, p, (size_t)(colon - p));
        sd->port = (int)port;
        p += n + (end ? 1 : 0);
    }
    if (!r->n_seeds) {
        free(r);
        return arb_err_set(err, ARB_INVALID_PARAMS, "--state redis://: name at least one seed node HOST:PORT");
    }
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdn = 0;
    EVP_Digest(SCRIPT, strlen(SCRIPT), md, &mdn, EVP_sha1(), NULL);
    arb_hex(md, 20, r->sha);
    s->impl = r;
    s->ops = &ops;
    return 0;
}
