/* The nodes on purchases and events by any field (bought { channel =
 * "store", brand = "acme" }), on their order in time and on the
 * single-category shopper, answered over the merged history of the
 * context (see eval_hist.h). decide/'s rule: values only; a node reads the
 * records once, in place (recfield.h), and allocates nothing.
 */
#include "engine/decide/eval_hist.h"

#include <string.h>

#include "engine/decide/eval_catalog.h"
#include "engine/request/recfield.h"

static inline bool in_window(const arb_eval_t *ev, int64_t ts, int64_t window)
{
    return window < 0 || ev->ctx->now - ts <= window;
}

/* Whether record i matches every field of filter node n (its kids). A
 * field the record lacks is its product's (catalog words): the record's
 * own, sent or stored, always wins. */
static bool fields_match(const arb_eval_t *ev, const arb_node_t *n, bool purchase, uint32_t i)
{
    const arb_ruleset_t *rs = ev->rs;
    for (uint32_t k = 0; k < n->count; k++) {
        const arb_node_t *f = &rs->nodes[rs->kids[n->first + k]];
        msgpack_object v;
        if (arb_record_field(ev->ctx, purchase, i, f->name, f->name_len, &v)) {
            if (!arb__eval_cmp_object(rs, &f->cmp, &v)) return false;
            continue;
        }
        const arb_product_t *p = arb__eval_product(ev, purchase, i);
        if (!p || !arb__eval_product_match(ev, p, f)) return false;
    }
    return true;
}

/* Whether purchase i is one node n (BOUGHT or BOUGHT_WHERE) matches. */
static bool purchase_is(const arb_eval_t *ev, const arb_node_t *n, uint32_t i)
{
    if (!in_window(ev, ev->ctx->purchases[i].ts, n->window)) return false;
    if (n->op == ARB_OP_BOUGHT)
        return n->sym < 0 || ev->p_cat[i] == n->sym || ev->p_sku[i] == n->sym;
    return fields_match(ev, n, true, i);
}

/* Whether event i is one node n (EVENT or EVENT_WHERE) matches. */
static bool event_is(const arb_eval_t *ev, const arb_node_t *n, uint32_t i)
{
    if (n->sym2 < 0 || ev->e_type[i] != n->sym2) return false;
    if (!in_window(ev, ev->ctx->events[i].ts, n->window)) return false;
    if (n->op == ARB_OP_EVENT)
        return n->sym < 0 || ev->e_cat[i] == n->sym || ev->e_sku[i] == n->sym;
    return fields_match(ev, n, false, i);
}

/* The oldest and newest ts of n's matches (a match node or an ANY of
 * them); false when none. */
static bool match_span(const arb_eval_t *ev, const arb_node_t *n, int64_t *oldest,
                       int64_t *newest)
{
    *oldest = INT64_MAX;
    *newest = INT64_MIN;
    if (n->op == ARB_OP_ANY) {
        for (uint32_t k = 0; k < n->count; k++) {
            int64_t o, w;
            if (!match_span(ev, &ev->rs->nodes[ev->rs->kids[n->first + k]], &o, &w)) continue;
            if (o < *oldest) *oldest = o;
            if (w > *newest) *newest = w;
        }
    } else if (n->op == ARB_OP_BOUGHT || n->op == ARB_OP_BOUGHT_WHERE) {
        for (uint32_t i = 0; i < ev->ctx->n_purchases; i++) {
            if (!purchase_is(ev, n, i)) continue;
            int64_t ts = ev->ctx->purchases[i].ts;
            if (ts < *oldest) *oldest = ts;
            if (ts > *newest) *newest = ts;
        }
    } else if (n->op == ARB_OP_EVENT || n->op == ARB_OP_EVENT_WHERE) {
        for (uint32_t i = 0; i < ev->ctx->n_events; i++) {
            if (!event_is(ev, n, i)) continue;
            int64_t ts = ev->ctx->events[i].ts;
            if (ts < *oldest) *oldest = ts;
            if (ts > *newest) *newest = ts;
        }
    }
    return *newest != INT64_MIN;
}

int64_t arb__hist_newest(const arb_eval_t *ev, const arb_node_t *n)
{
    int64_t oldest, newest;
    return match_span(ev, n, &oldest, &newest) ? newest : INT64_MIN;
}

static const arb_node_t *kid(const arb_eval_t *ev, const arb_node_t *n, uint32_t i)
{
    return &ev->rs->nodes[ev->rs->kids[n->first + i]];
}

/* only_bought (every purchase in the window matches the fields) or
 * one_category (every one has the first one's category); at least one. */
static int every_purchase(const arb_eval_t *ev, const arb_node_t *n)
{
    const arb_context_t *ctx = ev->ctx;
    arb_str_t category = { NULL, 0 };
    bool any = false;
    for (uint32_t i = 0; i < ctx->n_purchases; i++) {
        const arb_purchase_t *p = &ctx->purchases[i];
        if (!in_window(ev, p->ts, n->window)) continue;
        if (n->op == ARB_OP_ONLY_BOUGHT) {
            if (!fields_match(ev, n, true, i)) return 0;
        } else {
            /* A purchase without a category (its own or its product's)
             * is not of the others' one. */
            arb_str_t c = arb__eval_category(ev, true, i, p->category);
            if (!c.len) return 0;
            if (!any) category = c;
            else if (c.len != category.len || memcmp(c.ptr, category.ptr, category.len) != 0)
                return 0;
        }
        any = true;
    }
    return any;
}

int arb__hist_eval(const arb_eval_t *ev, const arb_node_t *n)
{
    const arb_context_t *ctx = ev->ctx;
    int64_t oldest, newest;
    switch (n->op) {
    case ARB_OP_BOUGHT_WHERE:
    case ARB_OP_EVENT_WHERE:
        return match_span(ev, n, &oldest, &newest);
    case ARB_OP_PURCHASES_WHERE:
    case ARB_OP_SPENT_WHERE: {
        double count = 0, total = 0;
        for (uint32_t i = 0; i < ctx->n_purchases; i++) {
            if (!in_window(ev, ctx->purchases[i].ts, n->window) || !fields_match(ev, n, true, i))
                continue;
            count += 1;
            total += ctx->purchases[i].price;
        }
        return arb__eval_cmp_num(&n->cmp, n->op == ARB_OP_PURCHASES_WHERE ? count : total);
    }
    case ARB_OP_BEFORE: {
        int64_t o2, n2;
        if (n->count != 2 || !match_span(ev, kid(ev, n, 0), &oldest, &newest) ||
            !match_span(ev, kid(ev, n, 1), &o2, &n2))
            return 0;
        return oldest < n2;
    }
    case ARB_OP_SINCE_LAST:
        /* latest_any is INT64_MIN without a purchase: any match is after it. */
        return n->count == 1 && match_span(ev, kid(ev, n, 0), &oldest, &newest) &&
               newest > ev->latest_any;
    case ARB_OP_FIRST_PURCHASE:
    case ARB_OP_LAST_PURCHASE: {
        if (!ctx->n_purchases) return 0;
        int64_t ts = n->op == ARB_OP_LAST_PURCHASE ? ev->latest_any : INT64_MAX;
        if (n->op == ARB_OP_FIRST_PURCHASE)
            for (uint32_t i = 0; i < ctx->n_purchases; i++)
                if (ctx->purchases[i].ts < ts) ts = ctx->purchases[i].ts;
        return arb__eval_cmp_num(&n->cmp, (double)(ctx->now - ts));
    }
    case ARB_OP_ONLY_BOUGHT:
    case ARB_OP_ONE_CATEGORY:
        return every_purchase(ev, n);
    default:
        return 0;
    }
}
