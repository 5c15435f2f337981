/* The learned arms' stored value and the merge of a sync (arms.h).
 *
 * Keeps state/'s rules: a backend stores bytes only (every backend merges
 * through arb_arms_plan_apply, so the arithmetic is request/arm.c's
 * arb_arm_add wherever the arms live), and decode is total: the payload is
 * walked over bytes (arb_record_msgpack_ok) before msgpack-c unpacks it,
 * then every field is checked for its type and range before it is copied.
 */
#include "engine/state/arms.h"

#include "engine/base/log.h"
#include "engine/state/record.h"

#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const uint8_t magic[4] = {'A', 'R', 'B', 'A'};
enum { VERSION = 1 };

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = v & 0xff; p[1] = (v >> 8) & 0xff; p[2] = (v >> 16) & 0xff; p[3] = v >> 24;
}

static uint32_t get_u32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

int arb_arms_encode(const char *action, const arb_arm_t *arms, size_t n, uint8_t **out, size_t *len,
                    arb_err_t *err)
{
    *out = NULL;
    *len = 0;
    if (n > ARB_ARMS_MAX)
        return arb_err_set(err, ARB_INTERNAL, "state: action %s would have %zu learned arms, over %d", action, n,
                           ARB_ARMS_MAX);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    static const char header[ARB_ARMS_HEADER];
    msgpack_sbuffer_write(&sb, header, sizeof header);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    pack_str(&pk, action);
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_array(&pk, 5);
        pack_str(&pk, arms[i].channel);
        pack_str(&pk, arms[i].segment);
        msgpack_pack_double(&pk, arms[i].positives);
        msgpack_pack_double(&pk, arms[i].trials);
        msgpack_pack_int64(&pk, arms[i].at);
    }
    /* msgpack-c's sbuffer gives up silently when realloc fails. */
    if (!sb.data || sb.size <= ARB_ARMS_HEADER) {
        msgpack_sbuffer_destroy(&sb);
        return arb_err_set(err, ARB_INTERNAL, "state: out of memory encoding the learned arms of %s", action);
    }
    uint8_t *p = (uint8_t *)sb.data;
    size_t plen = sb.size - ARB_ARMS_HEADER;
    memcpy(p, magic, 4);
    p[4] = VERSION;
    put_u32(p + 5, (uint32_t)plen);
    put_u32(p + 9, (uint32_t)crc32(0, p + ARB_ARMS_HEADER, (uInt)plen));
    *out = p;
    *len = sb.size;
    return 0;
}

/* ---- decoding ---- */

static int bad(arb_err_t *err, const char *what)
{
    return arb_err_set(err, ARB_INTERNAL, "state: corrupt learned arms: %s", what);
}

static int get_str(const msgpack_object *o, arb_arena_t *a, const char **out, const char *what, arb_err_t *err)
{
    if (o->type != MSGPACK_OBJECT_STR) return bad(err, what);
    size_t n = o->via.str.size;
    if (n > ARB_ARMS_STR_MAX || (n && memchr(o->via.str.ptr, 0, n))) return bad(err, what);
    char *s = arb_arena_alloc(a, n + 1);
    if (!s) return arb_err_set(err, ARB_INTERNAL, "state: out of memory decoding learned arms");
    if (n) memcpy(s, o->via.str.ptr, n);
    s[n] = 0;
    *out = s;
    return 0;
}

static int get_count(const msgpack_object *o, double *out, const char *what, arb_err_t *err)
{
    if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32) *out = o->via.f64;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) *out = (double)o->via.u64;
    else return bad(err, what);
    if (!isfinite(*out) || *out < 0) return bad(err, what);
    return 0;
}

static int decode_payload(const msgpack_object *r, const char *action, arb_arm_t **arms, size_t *n,
                          arb_arena_t *a, arb_err_t *err)
{
    if (r->type != MSGPACK_OBJECT_ARRAY || r->via.array.size != 2) return bad(err, "not a 2-field array");
    const msgpack_object *f = r->via.array.ptr;
    const char *stored;
    if (get_str(&f[0], a, &stored, "the action", err)) return -1;
    if (action && strcmp(stored, action) != 0)
        return arb_err_set(err, ARB_INTERNAL, "state: corrupt learned arms: they name action %s", stored);
    if (f[1].type != MSGPACK_OBJECT_ARRAY) return bad(err, "the arms are not an array");
    size_t k = f[1].via.array.size;
    if (k > ARB_ARMS_MAX) return bad(err, "more arms than an action may have");
    arb_arm_t *out = k ? arb_arena_alloc(a, k * sizeof *out) : NULL;
    if (k && !out) return arb_err_set(err, ARB_INTERNAL, "state: out of memory decoding learned arms");
    for (size_t i = 0; i < k; i++) {
        const msgpack_object *e = &f[1].via.array.ptr[i];
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 5) return bad(err, "an arm is not a 5-field array");
        const msgpack_object *g = e->via.array.ptr;
        arb_arm_t *m = &out[i];
        m->action = stored;
        if (get_str(&g[0], a, &m->channel, "an arm's channel", err) ||
            get_str(&g[1], a, &m->segment, "an arm's segment", err) ||
            get_count(&g[2], &m->positives, "an arm's positives", err) ||
            get_count(&g[3], &m->trials, "an arm's trials", err))
            return -1;
        if (g[4].type == MSGPACK_OBJECT_POSITIVE_INTEGER && g[4].via.u64 <= INT64_MAX) m->at = (int64_t)g[4].via.u64;
        else if (g[4].type == MSGPACK_OBJECT_NEGATIVE_INTEGER) m->at = g[4].via.i64;
        else return bad(err, "an arm's time");
        for (size_t j = 0; j < i; j++)
            if (strcmp(out[j].channel, m->channel) == 0 && strcmp(out[j].segment, m->segment) == 0)
                return bad(err, "an arm is there twice");
    }
    *arms = out;
    *n = k;
    return 0;
}

int arb_arms_decode(const uint8_t *data, size_t len, const char *action, arb_arm_t **arms, size_t *n,
                    arb_arena_t *arena, arb_err_t *err)
{
    *arms = NULL;
    *n = 0;
    if (len < ARB_ARMS_HEADER) return bad(err, "shorter than its header");
    if (memcmp(data, magic, 4) != 0) return bad(err, "no ARBA magic");
    if (data[4] != VERSION)
        return arb_err_set(err, ARB_INTERNAL,
                           "state: learned arms version %u are not known to this build (it knows %d); "
                           "run the Arbiter that wrote them",
                           data[4], VERSION);
    uint32_t plen = get_u32(data + 5);
    if (plen > ARB_ARMS_VALUE_MAX || plen != len - ARB_ARMS_HEADER) return bad(err, "wrong payload length");
    const uint8_t *p = data + ARB_ARMS_HEADER;
    if (crc32(0, p, (uInt)plen) != get_u32(data + 9)) return bad(err, "checksum mismatch");
    if (!arb_record_msgpack_ok(p, plen, 3)) return bad(err, "payload is not msgpack of the arms' shape");
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc;
    if (msgpack_unpack_next(&u, (const char *)p, plen, &off) != MSGPACK_UNPACK_SUCCESS || off != plen)
        rc = bad(err, "payload is not msgpack");
    else
        rc = decode_payload(&u.data, action, arms, n, arena, err);
    msgpack_unpacked_destroy(&u);
    if (rc) {
        *arms = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- a sync's plan ---- */

typedef struct item {
    const char *action;
    const arb_arm_delta_t *delta;  /* NULL: a wanted action */
} item_t;

static int by_action(const void *a, const void *b)
{
    const item_t *x = a, *y = b;
    return strcmp(x->action, y->action);
}

static char *dup_str(arb_arena_t *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = arb_arena_alloc(a, n);
    if (d) memcpy(d, s, n);
    return d;
}

static int check_str(const char *s, const char *what, size_t i, arb_err_t *err)
{
    if (!s) return arb_err_set(err, ARB_INVALID_PARAMS, "state: arms sync: %s %zu is missing", what, i);
    if (strlen(s) > ARB_ARMS_STR_MAX)
        return arb_err_set(err, ARB_INVALID_PARAMS, "state: arms sync: %s %zu is longer than %d bytes", what, i,
                           ARB_ARMS_STR_MAX);
    return 0;
}

static int check_delta(const arb_arm_delta_t *d, size_t i, arb_err_t *err)
{
    if (check_str(d->action, "the action of delta", i, err) || check_str(d->channel, "the channel of delta", i, err) ||
        check_str(d->segment, "the segment of delta", i, err))
        return -1;
    if (!*d->action) return arb_err_set(err, ARB_INVALID_PARAMS, "state: arms sync: delta %zu has an empty action", i);
    if (!isfinite(d->positives) || d->positives < 0 || !isfinite(d->trials) || d->trials < 0 ||
        !isfinite(d->half_life) || d->half_life < 0)
        return arb_err_set(err, ARB_INVALID_PARAMS,
                           "state: arms sync: delta %zu (action %s) needs finite counts and half-life >= 0", i,
                           d->action);
    return 0;
}

int arb_arms_plan_init(arb_arms_plan_t *p, const arb_arms_sync_t *req, arb_err_t *err)
{
    memset(p, 0, sizeof *p);
    arb_arena_init(&p->arena);
    size_t n = req->n_deltas + req->n_actions;
    for (size_t i = 0; i < req->n_deltas; i++)
        if (check_delta(&req->deltas[i], i, err)) return -1;
    for (size_t i = 0; i < req->n_actions; i++) {
        if (check_str(req->actions[i], "action", i, err)) return -1;
        if (!*req->actions[i]) return arb_err_set(err, ARB_INVALID_PARAMS, "state: arms sync: action %zu is empty", i);
    }
    if (!n) return 0;
    item_t *items = malloc(n * sizeof *items);
    if (!items) return arb_err_set(err, ARB_INTERNAL, "state: out of memory planning an arms sync");
    for (size_t i = 0; i < req->n_deltas; i++) items[i] = (item_t){req->deltas[i].action, &req->deltas[i]};
    for (size_t i = 0; i < req->n_actions; i++) items[req->n_deltas + i] = (item_t){req->actions[i], NULL};
    qsort(items, n, sizeof *items, by_action);
    size_t groups = 0;
    for (size_t i = 0; i < n; i++) groups += i == 0 || strcmp(items[i - 1].action, items[i].action) != 0;
    p->groups = arb_arena_alloc(&p->arena, groups * sizeof *p->groups);
    int rc = p->groups ? 0 : -1;
    for (size_t i = 0, end; !rc && i < n; i = end) {
        arb_arms_group_t *g = &p->groups[p->n_groups++];
        memset(g, 0, sizeof *g);
        size_t nd = 0;
        for (end = i; end < n && strcmp(items[end].action, items[i].action) == 0; end++) nd += items[end].delta != NULL;
        if (!(g->action = dup_str(&p->arena, items[i].action)) ||
            (nd && !(g->deltas = arb_arena_alloc(&p->arena, nd * sizeof *g->deltas)))) {
            rc = -1;
            break;
        }
        for (size_t j = i; j < end; j++) {
            const arb_arm_delta_t *d = items[j].delta;
            if (!d) {
                g->wanted = true;
                continue;
            }
            arb_arm_delta_t *c = &g->deltas[g->n_deltas++];
            *c = *d;
            c->action = g->action;
            if (!(c->channel = dup_str(&p->arena, d->channel)) || !(c->segment = dup_str(&p->arena, d->segment))) {
                rc = -1;
                break;
            }
        }
    }
    free(items);
    if (rc) return arb_err_set(err, ARB_INTERNAL, "state: out of memory planning an arms sync");
    return 0;
}

static arb_arm_t *find_arm(arb_arm_t *arms, size_t n, const char *channel, const char *segment)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(arms[i].channel, channel) == 0 && strcmp(arms[i].segment, segment) == 0) return &arms[i];
    return NULL;
}

int arb_arms_plan_apply(arb_arms_plan_t *p, size_t gi, const uint8_t *old, size_t old_len, const char *where,
                        uint8_t **rec, size_t *rec_len, arb_err_t *err)
{
    arb_arms_group_t *g = &p->groups[gi];
    *rec = NULL;
    *rec_len = 0;
    arb_arena_t tmp;
    arb_arena_init(&tmp);
    arb_arm_t *cur = NULL;
    size_t n = 0;
    int rc = 0;
    /* Decoded into the plan's arena when nothing changes (it is the read-back). */
    arb_arena_t *into = g->n_deltas ? &tmp : &p->arena;
    if (old && arb_arms_decode(old, old_len, g->action, &cur, &n, into, err)) {
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err->message);
        arb_err_set(err, ARB_INTERNAL,
                    "%s (action %s in %s); its feedback is not learned until that value is erased", why, g->action,
                    where);
        rc = -1;
        goto done;
    }
    if (g->n_deltas) {
        size_t cap = n + g->n_deltas < ARB_ARMS_MAX ? n + g->n_deltas : ARB_ARMS_MAX;
        arb_arm_t *next = arb_arena_alloc(&tmp, (cap ? cap : 1) * sizeof *next);
        if (!next) {
            rc = arb_err_set(err, ARB_INTERNAL, "state: out of memory merging the learned arms of %s", g->action);
            goto done;
        }
        if (n) memcpy(next, cur, n * sizeof *next);
        size_t dropped = 0;
        for (size_t i = 0; i < g->n_deltas; i++) {
            const arb_arm_delta_t *d = &g->deltas[i];
            arb_arm_t *m = find_arm(next, n, d->channel, d->segment);
            if (!m) {
                if (n == cap) {  /* past ARB_ARMS_MAX: a segment attribute with too many values */
                    dropped++;
                    continue;
                }
                m = &next[n++];
                *m = (arb_arm_t){g->action, d->channel, d->segment, 0, 0, d->ts};
            }
            arb_arm_add(m, d);
        }
        if (dropped)
            arb_log_warn("state: an action has as many learned arms as it may; evidence for new ones is dropped "
                         "(segment it by an attribute with fewer values)",
                         "action=%s max=%d dropped=%zu", g->action, ARB_ARMS_MAX, dropped);
        if (arb_arms_encode(g->action, next, n, rec, rec_len, err)) {
            rc = -1;
            goto done;
        }
        /* The read-back is what was just encoded: decode it into the plan. */
        if (g->wanted && arb_arms_decode(*rec, *rec_len, g->action, &cur, &n, &p->arena, err)) {
            free(*rec);
            *rec = NULL;
            rc = -1;
            goto done;
        }
    }
    if (g->wanted) {
        g->arms = cur;
        g->n_arms = n;
    }
done:
    arb_arena_free(&tmp);
    return rc;
}

void arb_arms_plan_skip(arb_arms_plan_t *p, size_t g, const arb_err_t *err)
{
    arb_arms_group_t *gr = &p->groups[g];
    arb_log_warn("learned arms skipped", "action=%s error=\"%s\"", gr->action, err->message);
    gr->arms = NULL;
    gr->n_arms = 0;
}

int arb_arms_plan_result(arb_arms_plan_t *p, const arb_arm_t **arms, size_t *n, arb_err_t *err)
{
    size_t total = 0;
    for (size_t i = 0; i < p->n_groups; i++) total += p->groups[i].wanted ? p->groups[i].n_arms : 0;
    *arms = NULL;
    *n = 0;
    if (!total) return 0;
    arb_arm_t *out = arb_arena_alloc(&p->arena, total * sizeof *out);
    if (!out) return arb_err_set(err, ARB_INTERNAL, "state: out of memory reading learned arms");
    size_t k = 0;
    for (size_t i = 0; i < p->n_groups; i++)
        if (p->groups[i].wanted)
            for (size_t j = 0; j < p->groups[i].n_arms; j++) out[k++] = p->groups[i].arms[j];
    *arms = out;
    *n = k;
    return 0;
}

void arb_arms_plan_free(arb_arms_plan_t *p)
{
    arb_arena_free(&p->arena);
    p->groups = NULL;
    p->n_groups = 0;
}
