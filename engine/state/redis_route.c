/* Redis Cluster routing for the Redis store (redis.c): the key's slot,
 * one connection per master per session, and the slot map from CLUSTER
 * SLOTS. Keeps state/'s rule that a worker never blocks on the network:
 * connections are hiredis async ones on the session's loop, made when a
 * call first needs the node and again after a drop.
 */
#include "engine/state/redis_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CRC16-CCITT (XMODEM), the cluster's key hash (Redis cluster spec). */
static uint16_t crc16(const char *p, size_t n)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)((unsigned char)p[i] << 8);
        for (int b = 0; b < 8; b++) crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

int arb_redis_key_slot(const char *key)
{
    const char *o = strchr(key, '{');
    if (o) {
        const char *c = strchr(o + 1, '}');
        if (c && c > o + 1) return crc16(o + 1, (size_t)(c - o - 1)) & (SLOTS - 1);
    }
    return crc16(key, strlen(key)) & (SLOTS - 1);
}

/* ---- nodes and connections ---- */

node_t *arb_redis_node_get(session_t *s, const char *host, int port)
{
    for (size_t i = 0; i < s->n_nodes; i++)
        if (s->nodes[i]->port == port && strcmp(s->nodes[i]->host, host) == 0) return s->nodes[i];
    if (s->n_nodes == MAX_NODES || strlen(host) >= HOST_MAX) return NULL;
    node_t *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    snprintf(n->host, sizeof n->host, "%s", host);
    n->port = port;
    n->s = s;
    s->nodes[s->n_nodes++] = n;
    return n;
}

int arb_redis_node_index(session_t *s, node_t *n)
{
    for (size_t i = 0; i < s->n_nodes; i++)
        if (s->nodes[i] == n) return (int)i;
    return -1;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    node_t *n = ac->data;
    if (status != REDIS_OK && n && n->ac == ac) n->ac = NULL;  /* hiredis frees it */
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    node_t *n = ac->data;
    if (n && n->ac == ac) n->ac = NULL;
}

redisAsyncContext *arb_redis_node_conn(node_t *n)
{
    if (n->ac) return n->ac;
    redisAsyncContext *ac = redisAsyncConnect(n->host, n->port);
    if (!ac) return NULL;
    if (ac->err || n->s->loop.attach(n->s->loop.loop, ac)) {
        redisAsyncFree(ac);
        return NULL;
    }
    ac->data = n;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    n->ac = ac;
    return ac;
}

/* Close n's connection: every command waiting on it gets a NULL reply. */
void arb_redis_node_drop(node_t *n)
{
    redisAsyncContext *ac = n->ac;
    if (!ac) return;
    n->ac = NULL;
    redisAsyncFree(ac);
}

/* ---- the slot map ---- */

static void on_slots(redisAsyncContext *ac, void *r, void *priv)
{
    session_t *s = priv;
    redisReply *rp = r;
    s->refreshing = false;
    if (!rp || rp->type != REDIS_REPLY_ARRAY || s->closing) return;
    node_t *from = ac->data;
    for (size_t i = 0; i < rp->elements; i++) {
        redisReply *e = rp->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 || e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER || e->element[2]->type != REDIS_REPLY_ARRAY ||
            e->element[2]->elements < 2 || e->element[2]->element[0]->type != REDIS_REPLY_STRING ||
            e->element[2]->element[1]->type != REDIS_REPLY_INTEGER)
            continue;
        long long lo = e->element[0]->integer, hi = e->element[1]->integer;
        const char *host = e->element[2]->element[0]->str;
        if (!*host && from) host = from->host;  /* "": the node that answered */
        long long port = e->element[2]->element[1]->integer;
        if (!*host || port <= 0 || port > 65535) continue;  /* a failed node: MOVED will tell */
        node_t *n = arb_redis_node_get(s, host, (int)port);
        int idx = n ? arb_redis_node_index(s, n) : -1;
        for (long long k = lo; k <= hi && k < SLOTS && k >= 0; k++) s->slot[k] = (int16_t)idx;
    }
}

void arb_redis_refresh_slots(session_t *s, node_t *n)
{
    if (s->refreshing) return;
    redisAsyncContext *ac = arb_redis_node_conn(n);
    if (ac && redisAsyncCommand(ac, on_slots, s, "CLUSTER SLOTS") == REDIS_OK) s->refreshing = true;
}

