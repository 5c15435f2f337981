/* Choosing a recommending action's products (recommend.h). Keeps decide/'s
 * rule: values only, the request's arena for scratch, no I/O. What it reads
 * is bounded by what the customer did, not by the catalog: the seeds (at
 * most 20 purchases or views, newest first), their relations (or the
 * catalog's 100 popular products), and one pass over the merged history
 * for affinity, ownership and what was shown. A candidate is judged from
 * its brief (catalog.h): its product's record is read only for `where`.
 */
#include "engine/decide/recommend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/decide/eval_hist.h"
#include "engine/ruleset/catalog.h"
#include "engine/ruleset/recommend.h"

typedef struct arb_reco_found {
    bool done;
    bool ok;                    /* at least min found */
    uint32_t *products;         /* chosen, best first */
    uint32_t n;
    double best;                /* the first chosen one's score */
    arb_explained_product_t *considered;
    uint32_t n_considered;
} arb_reco_found_t;

/* ---- a small open-addressing table of uint32 keys (0 is empty), with a
 * number per key, in the arena: the history's brands and categories, the
 * products owned or shown, the candidates seen. Most lookups miss (a
 * candidate is rarely owned or shown), and a miss walks to an empty slot:
 * kept at most a quarter full, a miss is about one probe. */
typedef struct idmap {
    uint32_t *keys;
    double *vals;
    uint32_t mask;
    uint32_t shift;             /* 32 - log2(capacity) */
    uint64_t bits[4];           /* a bit per key's hash: most misses end here */
} idmap_t;

/* Room for at most n keys. */
static int idmap_init(idmap_t *m, arb_arena_t *a, uint32_t n, bool vals)
{
    uint32_t cap = 16, bits = 4;
    while (cap < 4 * n) cap *= 2, bits++;
    m->mask = cap - 1;
    m->shift = 32 - bits;
    memset(m->bits, 0, sizeof m->bits);
    m->keys = arb_arena_alloc(a, sizeof *m->keys * cap);
    m->vals = vals ? arb_arena_alloc(a, sizeof *m->vals * cap) : NULL;
    if (!m->keys || (vals && !m->vals)) return -1;
    memset(m->keys, 0, sizeof *m->keys * cap);
    return 0;
}

/* Fibonacci hashing: the product's top bits mix every bit of the key
 * (product indices and value ids are small and dense). */
static inline uint32_t idmap_mix(uint32_t k) { return k * 2654435769u; }

/* Whether k may be in m: false for most keys not in it, without a probe. */
static inline bool idmap_may(const idmap_t *m, uint32_t h)
{
    return (m->bits[h >> 30] >> ((h >> 24) & 63)) & 1;
}

/* The slot of key k (k != 0, h its mix): its own, or the empty one it
 * would take. */
static inline uint32_t idmap_slot(const idmap_t *m, uint32_t k, uint32_t h)
{
    uint32_t s = h >> m->shift;
    while (m->keys[s] && m->keys[s] != k) s = (s + 1) & m->mask;
    return s;
}

/* Insert k; true when it was not there. */
static inline bool idmap_add(idmap_t *m, uint32_t k, double v)
{
    uint32_t h = idmap_mix(k), s = idmap_slot(m, k, h);
    bool fresh = !m->keys[s];
    if (fresh) {
        m->keys[s] = k;
        m->bits[h >> 30] |= 1ull << ((h >> 24) & 63);
        if (m->vals) m->vals[s] = 0;
    }
    if (m->vals) m->vals[s] += v;
    return fresh;
}

static inline bool idmap_has(const idmap_t *m, uint32_t k)
{
    uint32_t h = idmap_mix(k);
    return idmap_may(m, h) && m->keys[idmap_slot(m, k, h)] == k;
}

static inline double idmap_get(const idmap_t *m, uint32_t k)
{
    uint32_t h = idmap_mix(k);
    if (!idmap_may(m, h)) return 0;
    uint32_t s = idmap_slot(m, k, h);
    return m->keys[s] == k ? m->vals[s] : 0;
}

/* ---- one decision's run */

void arb__reco_begin(arb_reco_run_t *r, const arb_ruleset_t *rs, const arb_catalog_t *cat,
                     const arb_context_t *ctx, bool explain, arb_arena_t *arena)
{
    r->rs = rs;
    r->cat = cat;
    r->ctx = ctx;
    r->explain = explain;
    r->arena = arena;
    r->found = NULL;
    r->p_prod = r->e_prod = NULL;
}

typedef struct seed {
    uint32_t product;
    int64_t ts;
} seed_t;

typedef struct cand {
    uint32_t product;
    int32_t key;            /* its category or brand with diverse, else -1 */
    double score;
    uint32_t sku_rank;      /* ties: by sku, without reading the product */
    const char *reason;
} cand_t;

static int by_score(const void *x, const void *y)
{
    const cand_t *a = x, *b = y;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->sku_rank > b->sku_rank) - (a->sku_rank < b->sku_rank);
}

/* Keep x among the best k held sorted in top[0..*m), at most one per key
 * (key -1: none). The same products as sorting every candidate and taking
 * the first k whose key is not taken: a product dropped here has k better
 * ones of distinct keys, or a better one of its own key, and so would have
 * been passed over there too. Without explain, sorting them all is not
 * needed. */
static void top_add(cand_t *top, uint32_t *m, uint32_t k, cand_t x)
{
    /* Full, and not better than the last one held: no place for x (a
     * held one of its key, if any, is better too). Most candidates end
     * here once the best are found. */
    if (*m == k && by_score(&x, &top[k - 1]) >= 0) return;
    uint32_t j = *m;
    for (uint32_t i = 0; x.key >= 0 && i < *m; i++)
        if (top[i].key == x.key) {
            if (by_score(&top[i], &x) <= 0) return;   /* a better one of its kind is held */
            j = i;                                   /* x takes its place */
            break;
        }
    if (j == *m) {
        if (*m == k) j = k - 1;
        else (*m)++;
    }
    while (j > 0 && by_score(&x, &top[j - 1]) < 0) {
        top[j] = top[j - 1];
        j--;
    }
    top[j] = x;
}

/* What one selection works with. */
typedef struct sel {
    const arb_recommend_t *rec;
    const arb_catalog_t *cat;
    const arb_context_t *ctx;
    const arb_ruleset_t *rs;
    arb_arena_t *arena;
    seed_t seeds[ARB_RECO_MAX_SEEDS];
    uint32_t n_seeds;
    idmap_t seed_cats;          /* the seeds' categories + 1 (with seed_category) */
    idmap_t taste;              /* 2 x value id + 1 (+1 brand) -> decayed weight */
    double total;               /* decayed weight of the whole history */
    idmap_t owned, shown;       /* product index + 1 */
    idmap_t model;              /* product index + 1 -> scores["<model>:<sku>"] (score.model) */
    double mean_price;          /* of the purchases; 0 unknown */
} sel_t;

static const arb_product_t *product_of(const arb_catalog_t *cat, arb_str_t sku)
{
    return sku.len ? arb_catalog_find(cat, sku.ptr, sku.len) : NULL;
}

/* Keep p among the newest ARB_RECO_MAX_SEEDS seeds, newest first. */
static void seed_add(sel_t *s, uint32_t product, int64_t ts)
{
    uint32_t n = s->n_seeds;
    if (n == ARB_RECO_MAX_SEEDS && ts <= s->seeds[n - 1].ts) return;
    uint32_t j = n < ARB_RECO_MAX_SEEDS ? s->n_seeds++ : n - 1;
    while (j > 0 && s->seeds[j - 1].ts < ts) {
        s->seeds[j] = s->seeds[j - 1];
        j--;
    }
    s->seeds[j] = (seed_t){ product, ts };
}

static void taste_add(sel_t *s, const arb_product_t *p, arb_str_t category, double w)
{
    s->total += w;
    int32_t cat = p ? p->category : -1;
    if (cat < 0 && category.len) cat = arb_symtab_find(&s->cat->values, category.ptr, category.len);
    if (cat >= 0) idmap_add(&s->taste, 2u * (uint32_t)cat + 1, w);
    if (p && p->brand >= 0) idmap_add(&s->taste, 2u * (uint32_t)p->brand + 2, w);
}

static bool history_event(const arb_ctx_event_t *e)
{
    return ARB_STR_IS(e->type, "view") || ARB_STR_IS(e->type, "recommended") ||
           ARB_STR_IS(e->type, "impression");
}

/* The products of the history's records (NULL: not in the catalog), into
 * pp (purchases) and ep (events): the ones arb_eval_begin found for this
 * decision when the caller passed them, else looked up by sku. */
static void history_products(const sel_t *s, const arb_reco_run_t *r, const arb_product_t **pp,
                             const arb_product_t **ep)
{
    const arb_context_t *ctx = s->ctx;
    for (uint32_t i = 0; i < ctx->n_purchases; i++) {
        pp[i] = r->p_prod ? r->p_prod[i] : product_of(s->cat, ctx->purchases[i].sku);
        if (pp[i]) __builtin_prefetch(pp[i]);
    }
    for (uint32_t i = 0; i < ctx->n_events; i++) {
        ep[i] = !history_event(&ctx->events[i]) ? NULL
              : r->e_prod ? r->e_prod[i] : product_of(s->cat, ctx->events[i].sku);
        if (ep[i]) __builtin_prefetch(ep[i]);
    }
}

/* One pass over the merged history: seeds, affinity, owned, shown, the
 * mean purchase price. */
static int read_history(sel_t *s, const arb_reco_run_t *r)
{
    const arb_recommend_t *rec = s->rec;
    const arb_context_t *ctx = s->ctx;
    uint32_t n = ctx->n_purchases + ctx->n_events;
    const arb_product_t **pp = arb_arena_alloc(s->arena, sizeof *pp * (n + 1)), **ep = pp + ctx->n_purchases;
    if (!pp || idmap_init(&s->taste, s->arena, 2 * n, true) < 0 ||
        idmap_init(&s->owned, s->arena, ctx->n_purchases, false) < 0 ||
        idmap_init(&s->shown, s->arena, ctx->n_events, false) < 0)
        return -1;
    history_products(s, r, pp, ep);
    bool taste = rec->w_affinity > 0;
    double price_sum = 0, prices = 0;
    for (uint32_t i = 0; i < ctx->n_purchases; i++) {
        const arb_purchase_t *pu = &ctx->purchases[i];
        const arb_product_t *p = pp[i];
        int64_t age = ctx->now - pu->ts;
        if (age < 0) age = 0;
        if (p && (rec->seeds & ARB_RECO_SEED_PURCHASES) && age <= rec->within)
            seed_add(s, (uint32_t)(p - s->cat->products), pu->ts);
        if (p) idmap_add(&s->owned, (uint32_t)(p - s->cat->products) + 1, 0);
        if (taste) taste_add(s, p, pu->category, exp2(-(double)age / rec->half_life));
        double price = pu->price > 0 ? pu->price : p && p->price > 0 ? p->price : NAN;
        if (price > 0) {
            price_sum += price;
            prices++;
        }
    }
    s->mean_price = prices ? price_sum / prices : 0;
    for (uint32_t i = 0; i < ctx->n_events; i++) {
        const arb_ctx_event_t *e = &ctx->events[i];
        int64_t age = ctx->now - e->ts;
        if (age < 0) age = 0;
        if (!history_event(e)) continue;
        bool view = ARB_STR_IS(e->type, "view");
        const arb_product_t *p = ep[i];
        if (!view) {
            if (p && age <= rec->shown_within) idmap_add(&s->shown, (uint32_t)(p - s->cat->products) + 1, 0);
            continue;
        }
        if (p && (rec->seeds & ARB_RECO_SEED_VIEWS) && age <= rec->within)
            seed_add(s, (uint32_t)(p - s->cat->products), e->ts);
        if (taste) taste_add(s, p, e->category, exp2(-(double)age / rec->half_life));
    }
    return 0;
}

/* Whether product p's field matches one `where` filter. */
static bool where_one(const sel_t *s, const arb_product_t *p, const arb_reco_where_t *w)
{
    arb_pvalue_t v;
    if (!arb_catalog_get(s->cat, p, w->name, w->name_len, &v)) return false;
    const arb_cmp_t *c = &w->cmp;
    switch (v.kind) {
    case ARB_PV_STR: {
        msgpack_object o = { .type = MSGPACK_OBJECT_STR };
        o.via.str.ptr = v.str;
        o.via.str.size = v.len;
        return arb__eval_cmp_object(s->rs, c, &o);
    }
    case ARB_PV_NUM: return arb__eval_cmp_num(c, v.num);
    case ARB_PV_BOOL: return c->op == ARB_CMP_EXISTS ? v.num != 0 : arb__eval_cmp_num(c, v.num);
    case ARB_PV_LIST:
        if (c->op == ARB_CMP_EXISTS) return v.n > 0;
        if (c->op == ARB_CMP_EQ_STR) return arb_catalog_list_has(s->cat, &v, c->str, c->str_len);
        if (c->op == ARB_CMP_ONE_OF) {
            for (uint32_t k = 0; k < c->list_n; k++)
                if (arb_catalog_list_has(s->cat, &v, s->rs->strs[c->list + k], s->rs->str_lens[c->list + k]))
                    return true;
        }
        return false;
    default: return false;
    }
}

/* Why product idx (its brief b) may not be recommended, or NULL. */
static const char *excluded(const sel_t *s, const arb_product_brief_t *b, uint32_t idx)
{
    const arb_recommend_t *rec = s->rec;
    if ((rec->exclude & ARB_RECO_EX_OWNED) && idmap_has(&s->owned, idx + 1)) return "owned";
    if ((rec->exclude & ARB_RECO_EX_SHOWN) && idmap_has(&s->shown, idx + 1)) return "shown";
    if (!b->in_stock) return "out_of_stock";
    if ((rec->exclude & ARB_RECO_EX_SEED_CATEGORY) && b->category >= 0 &&
        idmap_has(&s->seed_cats, (uint32_t)b->category + 1))
        return "seed_category";
    for (uint32_t k = 0; k < rec->n_where; k++)
        if (!where_one(s, &s->cat->products[idx], &rec->where[k])) return "where";
    return NULL;
}

/* scores["<model>:<sku>"], 0 when the context does not send it: read
 * once per decision into s->model (a candidate per score would be
 * quadratic in what a client sends), each clamped to [0, 1], the bound the
 * priority's pruning needs. */
static int read_model_scores(sel_t *s)
{
    const arb_recommend_t *rec = s->rec;
    const arb_context_t *ctx = s->ctx;
    if (idmap_init(&s->model, s->arena, ctx->n_scores, true) < 0) return -1;
    for (uint32_t i = 0; i < ctx->n_scores; i++) {
        arb_str_t m = ctx->scores[i].model;
        if (m.len <= rec->model_len + 1 || memcmp(m.ptr, rec->model, rec->model_len) != 0 ||
            m.ptr[rec->model_len] != ':')
            continue;
        const arb_product_t *p = arb_catalog_find(s->cat, m.ptr + rec->model_len + 1,
                                                  m.len - rec->model_len - 1);
        uint32_t k = p ? (uint32_t)(p - s->cat->products) + 1 : 0;
        double v = ctx->scores[i].value;
        if (k && !idmap_has(&s->model, k)) idmap_add(&s->model, k, v > 1 ? 1 : v > 0 ? v : 0);
    }
    return 0;
}

static double score_of(const sel_t *s, const arb_product_brief_t *p, uint32_t idx)
{
    const arb_recommend_t *rec = s->rec;
    double sum = 0;
    if (rec->w_affinity > 0 && s->total > 0) {
        double w = (p->category >= 0 ? idmap_get(&s->taste, 2u * (uint32_t)p->category + 1) : 0) +
                   (p->brand >= 0 ? idmap_get(&s->taste, 2u * (uint32_t)p->brand + 2) : 0);
        sum += rec->w_affinity * w / (2 * s->total);
    }
    if (rec->w_popularity > 0) sum += rec->w_popularity * p->popularity;
    if (rec->w_price_band > 0) {
        double m = s->mean_price, x = p->price;
        sum += rec->w_price_band * (m > 0 && x > 0 ? (x < m ? x / m : m / x) : 0.5);
    }
    if (rec->w_model > 0 && rec->model) sum += rec->w_model * idmap_get(&s->model, idx + 1);
    double v = sum / rec->w_sum;
    return v > 1 ? 1 : v > 0 ? v : 0;
}

static int32_t diverse_key(const arb_recommend_t *rec, const arb_product_brief_t *p)
{
    return rec->diverse == ARB_RECO_DIVERSE_CATEGORY ? p->category
         : rec->diverse == ARB_RECO_DIVERSE_BRAND ? p->brand : -1;
}

/* The id of rec's relation j in cat: resolved at load for the ruleset's
 * own catalog (which the ruleset holds, so the same address is the same
 * catalog); another one, swapped in by a catalog-only reload, by name. */
static int32_t relation_id(const arb_ruleset_t *rs, const arb_catalog_t *cat, const arb_recommend_t *rec,
                           uint32_t j)
{
    if (cat == rs->catalog) return rec->from_id[j];
    return arb_symtab_find(&cat->relations, rec->from[j], rec->from_len[j]);
}

/* Where candidates come from: a seed's relation, or the popular list. */
typedef struct source {
    const arb_product_brief_t *briefs;
    uint32_t n;
} source_t;

/* The sources of rec for this customer, into src (room for every seed x
 * relation + 1); returns how many, *bound the candidates they hold. */
static uint32_t sources_of(const sel_t *s, const arb_recommend_t *rec, source_t *src, uint32_t *bound)
{
    const arb_catalog_t *cat = s->cat;
    int32_t rels[ARB_RECO_MAX_FROM];
    uint32_t n_rels = 0, n = 0;
    for (uint32_t j = 0; j < rec->n_from; j++) {
        int32_t id = relation_id(s->rs, cat, rec, j);
        if (id >= 0) rels[n_rels++] = id;
    }
    for (uint32_t k = 0; k < s->n_seeds && n_rels; k++)
        __builtin_prefetch(&cat->rels[cat->products[s->seeds[k].product].rels]);
    *bound = 0;
    for (uint32_t k = 0; k < s->n_seeds; k++)
        for (uint32_t j = 0; j < n_rels; j++) {
            const uint32_t *to;
            uint32_t m = arb_catalog_related(cat, &cat->products[s->seeds[k].product], rels[j], &to);
            if (!m) continue;
            /* Asked for together, a seed's lists arrive while the others
             * are looked up (a cold catalog: each is a miss). */
            const arb_product_brief_t *b = arb_catalog_briefs(cat, to);
            for (uint32_t t = 0; t < m; t += 2) __builtin_prefetch(&b[t]);
            src[n++] = (source_t){ b, m };
            *bound += m;
        }
    if (rec->popular && cat->n_popular) {
        src[n++] = (source_t){ cat->popular, cat->n_popular };
        *bound += cat->n_popular;
    }
    return n;
}

/* Choose the products of rec into f. 0, or -1 out of memory. */
static int choose(arb_reco_run_t *r, const arb_recommend_t *rec, arb_reco_found_t *f)
{
    sel_t s = { .rec = rec, .cat = r->cat, .ctx = r->ctx, .rs = r->rs, .arena = r->arena };
    if (read_history(&s, r) < 0) return -1;
    if (s.rec->w_model > 0 && s.rec->model && read_model_scores(&s) < 0) return -1;
    uint32_t bound = 0;
    source_t *src = arb_arena_alloc(r->arena, sizeof *src * (s.n_seeds * rec->n_from + 1));
    if (!src) return -1;
    uint32_t n_src = sources_of(&s, rec, src, &bound);
    idmap_t seen;
    cand_t *pass = arb_arena_alloc(r->arena, sizeof *pass * (bound + 1));
    cand_t *out = r->explain ? arb_arena_alloc(r->arena, sizeof *out * ARB_RECO_EXPLAIN_MAX) : NULL;
    if (!pass || (r->explain && !out) || idmap_init(&seen, r->arena, bound, false) < 0) return -1;
    if (rec->exclude & ARB_RECO_EX_SEED_CATEGORY) {
        if (idmap_init(&s.seed_cats, r->arena, s.n_seeds, false) < 0) return -1;
        for (uint32_t k = 0; k < s.n_seeds; k++) {
            int32_t cat = s.cat->products[s.seeds[k].product].category;
            if (cat >= 0) idmap_add(&s.seed_cats, (uint32_t)cat + 1, 0);
        }
    }
    f->products = arb_arena_alloc(r->arena, sizeof *f->products * rec->count);
    if (!f->products) return -1;
    uint32_t n_pass = 0, n_out = 0;
    /* The popular list alone names each product once (catalog_pack.c). */
    bool dedupe = !(n_src == 1 && src[0].briefs == s.cat->popular);
    for (uint32_t i = 0; i < n_src; i++)
        for (uint32_t t = 0; t < src[i].n; t++) {
            const arb_product_brief_t *b = &src[i].briefs[t];
            uint32_t idx = b->product;
            if (dedupe && !idmap_add(&seen, idx + 1, 0)) continue;
            const char *why = excluded(&s, b, idx);
            cand_t c = { idx, diverse_key(rec, b), NAN, b->sku_rank, why };
            if (!why) {
                c.score = score_of(&s, b, idx);
                if (r->explain) pass[n_pass++] = c;
                else top_add(pass, &n_pass, rec->count, c);
            } else if (out && n_out < ARB_RECO_EXPLAIN_MAX) {
                out[n_out++] = c;
            }
        }
    if (!r->explain) {   /* pass holds the chosen, best first */
        for (uint32_t i = 0; i < n_pass; i++) f->products[i] = pass[i].product;
        f->n = n_pass;
        f->best = n_pass ? pass[0].score : 0;
        f->ok = f->n >= rec->min;
        return 0;
    }
    qsort(pass, n_pass, sizeof *pass, by_score);
    int32_t keys[ARB_RECO_MAX_COUNT];
    for (uint32_t i = 0; i < n_pass; i++) {
        int32_t key = pass[i].key;
        bool clash = false;
        for (uint32_t j = 0; key >= 0 && j < f->n && !clash; j++) clash = keys[j] == key;
        if (f->n == rec->count) pass[i].reason = "outranked";
        else if (clash) pass[i].reason = "diversity";
        else {
            pass[i].reason = "chosen";
            if (!f->n) f->best = pass[i].score;
            keys[f->n] = key;
            f->products[f->n++] = pass[i].product;
        }
    }
    f->ok = f->n >= rec->min;
    /* The chosen first, then the others by rank, then the excluded. */
    f->considered = arb_arena_alloc(r->arena, sizeof *f->considered * ARB_RECO_EXPLAIN_MAX);
    if (!f->considered) return -1;
    for (int pass_no = 0; pass_no < 3; pass_no++) {
        const cand_t *from = pass_no < 2 ? pass : out;
        uint32_t n = pass_no < 2 ? n_pass : n_out;
        for (uint32_t i = 0; i < n && f->n_considered < ARB_RECO_EXPLAIN_MAX; i++) {
            bool chosen = pass_no < 2 && strcmp(from[i].reason, "chosen") == 0;
            if (pass_no < 2 && chosen != (pass_no == 0)) continue;
            f->considered[f->n_considered++] = (arb_explained_product_t){
                s.cat->products[from[i].product].sku, from[i].score, pass_no == 0, from[i].reason };
        }
    }
    return 0;
}

int arb__reco_apply(arb_reco_run_t *r, uint32_t action, double *priority, const char **why)
{
    const arb_ruleset_t *rs = r->rs;
    int32_t k = rs->action_recommend ? rs->action_recommend[action] : -1;
    if (k < 0) return 1;
    if (!r->found) {
        r->found = arb_arena_alloc(r->arena, sizeof *r->found * rs->n_recommends);
        if (!r->found) return *why = "out of memory", -1;
        memset(r->found, 0, sizeof *r->found * rs->n_recommends);
    }
    arb_reco_found_t *f = &r->found[k];
    if (!f->done) {
        f->done = true;
        if (r->cat && choose(r, &rs->recommends[k], f) < 0) {
            f->n = 0;
            f->ok = false;
            return *why = "out of memory", -1;
        }
    }
    if (!f->ok) {
        *why = "no products";
        return 0;
    }
    /* The best chosen product's score, in [0, 1]: the bound the candidate
     * loop prunes by (weight_max) stays an upper bound. */
    *priority *= f->best;
    return 1;
}

void arb__reco_products(const arb_reco_run_t *r, uint32_t action, const uint32_t **products,
                        uint32_t *n)
{
    int32_t k = r->found && r->rs->action_recommend ? r->rs->action_recommend[action] : -1;
    const arb_reco_found_t *f = k >= 0 ? &r->found[k] : NULL;
    *products = f && f->ok ? f->products : NULL;
    *n = f && f->ok ? f->n : 0;
}

void arb__reco_explain(const arb_reco_run_t *r, uint32_t action, arb_explained_t *x)
{
    int32_t k = r->found && r->rs->action_recommend ? r->rs->action_recommend[action] : -1;
    const arb_reco_found_t *f = k >= 0 ? &r->found[k] : NULL;
    x->products = f && f->done ? f->considered : NULL;
    x->n_products = f && f->done ? f->n_considered : 0;
}
