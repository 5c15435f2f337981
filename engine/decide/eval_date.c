/* Date conditions (see eval_date.h): the date of an attribute, read as unix
 * seconds or an ISO-8601 string at decide time, and today's date in the
 * customer's local time, both by base/civil.c's integer arithmetic (no TZ,
 * no localtime: any worker thread may run it). Keeps the decide folder's
 * rule: values in, an answer out, no I/O and no lock.
 */
#include "engine/decide/eval_date.h"

#include <math.h>

#include "engine/base/civil.h"

/* Unix seconds of years 1 to 9999, as the context's own times: a date in
 * milliseconds falls outside and reads as no date. */
#define DATE_MIN (-62135596800LL)
#define DATE_MAX 253402300799LL

int arb_eval_date_value(const msgpack_object *o, int64_t offset, int64_t *ts)
{
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)DATE_MAX) return -1;
        *ts = (int64_t)o->via.u64;
        return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        if (o->via.i64 < DATE_MIN) return -1;
        *ts = o->via.i64;
        return 0;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!(o->via.f64 >= (double)DATE_MIN && o->via.f64 <= (double)DATE_MAX)) return -1;
        *ts = (int64_t)floor(o->via.f64);
        return 0;
    case MSGPACK_OBJECT_STR:
        return arb_civil_iso_parse(o->via.str.ptr, o->via.str.size, offset, ts);
    default:
        return -1;
    }
}

/* The date held in attribute sym: 0 with *ts set, -1 when absent or not a
 * date. A date without an offset is local time. */
static int attr_date(const arb_eval_t *ev, int32_t sym, int64_t offset, int64_t *ts)
{
    const arb_ruleset_t *rs = ev->rs;
    if (sym < 0) return -1;
    const msgpack_object *o = arb_msgpack_map_getn(ev->ctx->attributes, rs->syms.names[sym],
                                                   rs->syms.lens[sym]);
    return o ? arb_eval_date_value(o, offset, ts) : -1;
}

/* The numeric comparisons since and until_date allow (prelude.lua). */
static bool cmp_seconds(const arb_cmp_t *c, double v)
{
    switch (c->op) {
    case ARB_CMP_GE: return v >= c->a;
    case ARB_CMP_GT: return v > c->a;
    case ARB_CMP_LE: return v <= c->a;
    case ARB_CMP_LT: return v < c->a;
    case ARB_CMP_BETWEEN: return v >= c->a && v <= c->b;
    case ARB_CMP_EQ_NUM: return v == c->a;
    case ARB_CMP_EXISTS: return true;
    default: return false;
    }
}

/* Whether the n-th (0: any, from the first) anniversary of the local day
 * `born` starts within `within` seconds of the start of day `today`. Born
 * on Feb 29: Feb 28 in the years without one. */
static bool anniversary(int64_t born, int64_t today, int years, double within)
{
    int64_t y0, y;
    int m0, d0, m, d;
    arb_civil_from_days(born, &y0, &m0, &d0);
    arb_civil_from_days(today, &y, &m, &d);
    for (int64_t yc = y; yc <= y + 1; yc++) {
        int64_t n = yc - y0;
        if (n < 1 || (years && n != years)) continue;
        int dd = m0 == 2 && d0 == 29 && !arb_civil_leap(yc) ? 28 : d0;
        int64_t ahead = arb_civil_days(yc, m0, dd) - today;
        if (ahead >= 0 && (double)ahead * 86400 < within) return true;
    }
    return false;
}

int arb_eval_date(const arb_eval_t *ev, const arb_node_t *n)
{
    int64_t offset = arb_eval_local_offset(ev->rs, ev->ctx), now = ev->ctx->now, ts;
    int64_t today = arb_civil_day_of(now + offset);
    switch (n->op) {
    case ARB_OP_SINCE:
    case ARB_OP_UNTIL: {
        if (attr_date(ev, n->sym, offset, &ts) < 0) return 0;
        /* Only the date's own side of now: at_most(days(14)) until a
         * renewal must not hold for one that passed a year ago. */
        int64_t d = n->op == ARB_OP_SINCE ? now - ts : ts - now;
        return d >= 0 && cmp_seconds(&n->cmp, (double)d);
    }
    case ARB_OP_ANNIVERSARY:
        if (attr_date(ev, n->sym, offset, &ts) < 0) return 0;
        return anniversary(arb_civil_day_of(ts + offset), today, n->a, n->num);
    case ARB_OP_MONTH:
    case ARB_OP_DAY_OF_YEAR: {
        int64_t y;
        int m, d;
        arb_civil_from_days(today, &y, &m, &d);
        if (n->op == ARB_OP_MONTH) return (n->a >> m) & 1;
        int md = m * 100 + d;
        return n->a <= n->b ? md >= n->a && md <= n->b : md >= n->a || md <= n->b;
    }
    default:
        return 0;
    }
}
