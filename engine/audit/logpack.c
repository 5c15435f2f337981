/* Decision log records (see logpack.h): packed flat by the thread that
 * answered, rendered as JSON lines by the log's writer.
 *
 * The flat form is private to this file and lives for milliseconds: each
 * field in the schema's order, a string as its 32-bit length (UINT32_MAX:
 * null) and bytes, a number as its 8 bytes. One function per record type
 * packs, run twice (once to size, once to copy), and one renders, so the
 * order is written down twice, side by side, and nowhere else.
 */
#include "engine/audit/logpack.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "engine/base/hex.h"
#include "engine/base/utf8.h"
#include "engine/wire/json.h"

#define NUL32 UINT32_MAX

/* ------------------------------------------------------------ packing */

typedef struct flat {
    char *p;                   /* NULL: only count */
    size_t n;
} flat_t;

static void put(flat_t *f, const void *s, size_t n)
{
    if (f->p && n) memcpy(f->p + f->n, s, n);
    f->n += n;
}

static void put_u32(flat_t *f, uint32_t v) { put(f, &v, sizeof v); }
static void put_f64(flat_t *f, double v) { put(f, &v, sizeof v); }
static void put_i64(flat_t *f, int64_t v) { put(f, &v, sizeof v); }

static void put_strn(flat_t *f, const char *s, size_t n)
{
    if (!s || n >= NUL32) {
        put_u32(f, NUL32);
        return;
    }
    put_u32(f, (uint32_t)n);
    put(f, s, n);
}

static void put_str(flat_t *f, const char *s) { put_strn(f, s, s ? strlen(s) : 0); }

typedef struct decision_in {
    const arb_decision_t *d;
    const char *pseudonym, *ctx;   /* ctx: NULL unless the record carries it whole */
    size_t ctx_len;
    bool digested;
    XXH128_canonical_t digest;
} decision_in_t;

static void pack_decision(flat_t *f, const void *arg)
{
    const decision_in_t *in = arg;
    const arb_decision_t *d = in->d;
    put_i64(f, d->now);
    put_strn(f, d->decision_id, d->decision_id_len);
    put_str(f, in->pseudonym);
    put_str(f, d->channel);
    put_str(f, d->touchpoint);
    put_str(f, d->ruleset);
    put_str(f, d->group ? d->group : "treatment");
    put_str(f, d->experiment);
    put_str(f, d->arm);
    put_u32(f, d->n_actions);
    for (uint32_t i = 0; i < d->n_actions; i++) {
        put_str(f, d->actions[i].id);
        put_f64(f, d->actions[i].priority);
        put_f64(f, d->actions[i].propensity);
        put_f64(f, d->actions[i].value);
    }
    put_u32(f, d->n_held);
    for (uint32_t i = 0; i < d->n_held; i++) {
        put_str(f, d->held[i].id);
        put_str(f, d->held[i].control);
    }
    put_u32(f, in->digested);
    put(f, in->digest.digest, sizeof in->digest.digest);
    put_strn(f, in->ctx, in->ctx_len);
}

typedef struct feedback_in {
    const arb_feedback_t *fb;
    const char *pseudonym;
} feedback_in_t;

static void pack_feedback(flat_t *f, const void *arg)
{
    const feedback_in_t *in = arg;
    put_i64(f, in->fb->ts);
    put_str(f, in->pseudonym);
    put_str(f, in->fb->decision_id);
    put_str(f, in->fb->action);
    put_str(f, in->fb->outcome);
    put_str(f, in->fb->channel);
    put_f64(f, in->fb->value);
}

typedef struct purchase_in {
    const arb_event_t *e;
    const char *pseudonym;
} purchase_in_t;

static void pack_purchase(flat_t *f, const void *arg)
{
    const purchase_in_t *in = arg;
    put_i64(f, in->e->ts);
    put_str(f, in->pseudonym);
    put_str(f, in->e->sku);
    put_str(f, in->e->category);
    put_f64(f, in->e->price);
    put_str(f, in->e->channel);
}

static arb_logpack_t *pack(uint8_t type, void (*fn)(flat_t *, const void *), const void *arg)
{
    flat_t f = { NULL, 0 };
    fn(&f, arg);
    arb_logpack_t *r = malloc(sizeof *r + f.n);
    if (!r) return NULL;
    r->next = NULL;
    r->type = type;
    r->len = f.n;
    f.p = r->body;
    f.n = 0;
    fn(&f, arg);
    return r;
}

arb_logpack_t *arb_logpack_decision(const arb_decision_t *d, const char *pseudonym,
                                   const char *ctx, size_t ctx_len, bool whole)
{
    decision_in_t in = { d, pseudonym, whole ? ctx : NULL, ctx_len, ctx != NULL, { { 0 } } };
    /* XXH3-128, not SHA-256: the digest names equal contexts, it guards no
     * secret; hashed here, while the bytes are in cache (0.1 us for 1 KB),
     * the record need not carry the context (SHA-256 took 1 us). */
    if (ctx) XXH128_canonicalFromHash(&in.digest, XXH3_128bits(ctx, ctx_len));
    return pack(ARB_LOGPACK_DECISION, pack_decision, &in);
}

arb_logpack_t *arb_logpack_feedback(const arb_feedback_t *fb, const char *pseudonym)
{
    feedback_in_t in = { fb, pseudonym };
    return pack(ARB_LOGPACK_FEEDBACK, pack_feedback, &in);
}

arb_logpack_t *arb_logpack_purchase(const arb_event_t *purchase, const char *pseudonym)
{
    purchase_in_t in = { purchase, pseudonym };
    return pack(ARB_LOGPACK_PURCHASE, pack_purchase, &in);
}

/* ------------------------------------------------------------ reading back */

typedef struct cur {
    const char *p, *end;
} cur_t;

static void get(cur_t *c, void *out, size_t n)
{
    /* The record was packed by this file: a short one is a bug, and reads
     * as zeros rather than past its end. */
    if ((size_t)(c->end - c->p) < n) {
        memset(out, 0, n);
        c->p = c->end;
        return;
    }
    memcpy(out, c->p, n);
    c->p += n;
}

static uint32_t get_u32(cur_t *c) { uint32_t v; get(c, &v, sizeof v); return v; }
static double get_f64(cur_t *c) { double v; get(c, &v, sizeof v); return v; }
static int64_t get_i64(cur_t *c) { int64_t v; get(c, &v, sizeof v); return v; }

/* A string's bytes (NULL: null); *n its length. */
static const char *get_str(cur_t *c, size_t *n)
{
    uint32_t len = get_u32(c);
    if (len == NUL32 || len > (size_t)(c->end - c->p)) {
        *n = 0;
        return NULL;
    }
    const char *s = c->p;
    c->p += len;
    *n = len;
    return s;
}

/* ------------------------------------------------------------ JSON */

/* Every writer below reserves its worst case first, so that only the
 * growth can fail; the renderer checks the failure once, at the end. */
typedef struct jw {
    arb_jbuf_t *b;
    int failed;
} jw_t;

static char *jw_grow(jw_t *w, size_t n)
{
    arb_jbuf_t *b = w->b;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + n) cap *= 2;
    char *p = w->failed ? NULL : realloc(b->p, cap);
    if (!p) {
        w->failed = 1;
        return NULL;
    }
    b->p = p;
    b->cap = cap;
    return b->p + b->len;
}

static inline char *jw_reserve(jw_t *w, size_t n)
{
    if (__builtin_expect(w->b->len + n <= w->b->cap, 1)) return w->b->p + w->b->len;
    return jw_grow(w, n);
}

/* Inline, so that a literal's constant length makes its memcpy a move. */
static inline __attribute__((always_inline)) void jw_raw(jw_t *w, const char *s, size_t n)
{
    char *o = jw_reserve(w, n);
    if (!o) return;
    memcpy(o, s, n);
    w->b->len += n;
}

#define JW_LIT(w, lit) jw_raw((w), (lit), sizeof(lit) - 1)

static void jw_str(jw_t *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (!s) {
        JW_LIT(w, "null");
        return;
    }
    /* At worst 6 bytes (\u00XX or U+FFFD's 3) for each byte, and quotes. */
    char *o = jw_reserve(w, 6 * n + 2), *start = o;
    if (!o) return;
    *o++ = '"';
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        if (__builtin_expect(c >= 0x20 && c < 0x80 && c != '"' && c != '\\', 1)) {
            /* a run of plain bytes, the common case, copied whole */
            size_t j = i + 1;
            while (j < n && u[j] >= 0x20 && u[j] < 0x80 && u[j] != '"' && u[j] != '\\') j++;
            memcpy(o, s + i, j - i);
            o += j - i;
            i = j;
        } else if (c < 0x80) {
            *o++ = '\\';
            switch (c) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '\n': *o++ = 'n'; break;
            case '\r': *o++ = 'r'; break;
            case '\t': *o++ = 't'; break;
            default:
                memcpy(o, "u00", 3);
                o += 3;
                *o++ = hex[c >> 4];
                *o++ = hex[c & 15];
            }
            i++;
        } else {
            size_t k = arb_utf8_seq(u + i, n - i);
            if (k) {
                memcpy(o, s + i, k);
                o += k;
                i += k;
            } else {
                memcpy(o, "\xef\xbf\xbd", 3);
                o += 3;
                i++;
            }
        }
    }
    *o++ = '"';
    w->b->len += (size_t)(o - start);
}

static void jw_cstr(jw_t *w, cur_t *c)
{
    size_t n;
    const char *s = get_str(c, &n);
    jw_str(w, s, n);
}

static const char PAIRS[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                            "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                            "8081828384858687888990919293949596979899";

/* Decimal digits of v, most significant first; returns how many. */
static size_t digits_u64(uint64_t v, char *out)
{
    char tmp[20];
    size_t i = sizeof tmp;
    while (v >= 100) {
        i -= 2;
        memcpy(tmp + i, PAIRS + 2 * (v % 100), 2);
        v /= 100;
    }
    if (v >= 10) {
        i -= 2;
        memcpy(tmp + i, PAIRS + 2 * v, 2);
    } else {
        tmp[--i] = (char)('0' + v);
    }
    memcpy(out, tmp + i, sizeof tmp - i);
    return sizeof tmp - i;
}

static void jw_i64(jw_t *w, int64_t v)
{
    char *o = jw_reserve(w, 21);
    if (!o) return;
    size_t n = 0;
    uint64_t u = (uint64_t)v;
    if (v < 0) {
        o[n++] = '-';
        u = 0 - u;
    }
    w->b->len += n + digits_u64(u, o + n);
}

/* Powers of ten as doubles: 10^0 .. 10^22 are exact; 10^-1 .. 10^-7 the
 * nearest doubles (the compiler rounds the literals). */
static const double P10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                              1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
static const double N10[] = { 1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7 };

size_t arb_logpack_number(double x, char out[32])
{
    if (!isfinite(x)) return (size_t)snprintf(out, 32, "null");
    if (x == 0) return (size_t)snprintf(out, 32, "0");
    size_t o = 0;
    if (x < 0) {
        out[o++] = '-';
        x = -x;
    }
    /* Outside [1e-7, 1e21) printf's exponent form; within, the 15 digits
     * are those of round(x * 10^(14 - e)), e being x's decimal exponent:
     * one rounded product or quotient (the power is exact) away from x.
     * That rounding can move the 15th digit by one against printf's
     * correctly rounded "%.15g" (about 1 double in 75); a number that had
     * at most 15 digits lands far from a tie and reads back exactly.
     * printf is ten times slower. */
    if (x < 1e-7 || x >= 1e21) return o + (size_t)snprintf(out + o, 32 - o, "%.15g", x);
    int e = 0;
    if (x >= 1) {
        while (x >= P10[e + 1]) e++;
    } else {
        while (e > -7 && x < N10[-e]) e--;
    }
    int k = 14 - e;
    uint64_t m = (uint64_t)((k >= 0 ? x * P10[k] : x / P10[-k]) + 0.5);
    if (m >= 1000000000000000ULL) {    /* 9.999...95 rounded up a digit */
        m = (m + 5) / 10;
        e++;
    }
    char d[15];                        /* m has 15 digits: 10^14 <= m < 10^15 */
    /* Two independent 32-bit halves: 7 digits and 8 digits. */
    uint32_t hi = (uint32_t)(m / 100000000), lo = (uint32_t)(m % 100000000);
    for (int i = 13; i > 6; i -= 2, lo /= 100) memcpy(d + i, PAIRS + 2 * (lo % 100), 2);
    for (int i = 5; i > 0; i -= 2, hi /= 100) memcpy(d + i, PAIRS + 2 * (hi % 100), 2);
    d[0] = (char)('0' + hi);
    size_t nd = sizeof d;
    while (nd > 1 && d[nd - 1] == '0') nd--;
    int point = e + 1;                 /* digits before the decimal point */
    if (point <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -point; i++) out[o++] = '0';
        memcpy(out + o, d, nd);
        o += nd;
    } else if ((size_t)point >= nd) {
        memcpy(out + o, d, nd);
        o += nd;
        for (size_t i = nd; i < (size_t)point; i++) out[o++] = '0';
    } else {
        memcpy(out + o, d, (size_t)point);
        o += (size_t)point;
        out[o++] = '.';
        memcpy(out + o, d + point, nd - (size_t)point);
        o += nd - (size_t)point;
    }
    out[o] = '\0';
    return o;
}

static void jw_num(jw_t *w, double x)
{
    char s[32];
    jw_raw(w, s, arb_logpack_number(x, s));
}

/* The context as logged: customer_id replaced by the pseudonym, as JSON;
 * NULL when it does not unpack or memory runs out. */
static char *ctx_json(const char *ctx, size_t len, const char *pseudonym, size_t plen)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    char *s = NULL;
    if (msgpack_unpack_next(&u, ctx, len, NULL) == MSGPACK_UNPACK_SUCCESS) {
        msgpack_object *o = &u.data;
        if (o->type == MSGPACK_OBJECT_MAP)
            for (uint32_t i = 0; i < o->via.map.size; i++) {
                msgpack_object *k = &o->via.map.ptr[i].key;
                if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == 11 &&
                    memcmp(k->via.str.ptr, "customer_id", 11) == 0) {
                    msgpack_object *v = &o->via.map.ptr[i].val;
                    v->type = MSGPACK_OBJECT_STR;
                    v->via.str.ptr = pseudonym ? pseudonym : "";
                    v->via.str.size = (uint32_t)plen;
                }
            }
        s = arb_msgpack_to_json(o, 0);
    }
    msgpack_unpacked_destroy(&u);
    return s;
}

static void render_decision(jw_t *w, cur_t *c)
{
    JW_LIT(w, "{\"v\":1,\"type\":\"decision\",\"ts\":");
    jw_i64(w, get_i64(c));
    JW_LIT(w, ",\"decision_id\":");
    jw_cstr(w, c);
    JW_LIT(w, ",\"customer\":");
    size_t who_len;
    const char *who = get_str(c, &who_len);
    jw_str(w, who, who_len);
    JW_LIT(w, ",\"channel\":");
    jw_cstr(w, c);
    JW_LIT(w, ",\"touchpoint\":");
    jw_cstr(w, c);
    JW_LIT(w, ",\"ruleset\":");
    jw_cstr(w, c);
    JW_LIT(w, ",\"group\":");
    jw_cstr(w, c);
    JW_LIT(w, ",\"experiment\":");
    jw_cstr(w, c);
    JW_LIT(w, ",\"arm\":");
    jw_cstr(w, c);
    JW_LIT(w, ",\"actions\":[");
    uint32_t n = get_u32(c);
    for (uint32_t i = 0; i < n && c->p < c->end; i++) {
        JW_LIT(w, "{\"id\":");
        jw_cstr(w, c);
        JW_LIT(w, ",\"priority\":");
        jw_num(w, get_f64(c));
        JW_LIT(w, ",\"propensity\":");
        jw_num(w, get_f64(c));
        JW_LIT(w, ",\"value\":");
        jw_num(w, get_f64(c));
        if (i + 1 < n) JW_LIT(w, "},");
        else JW_LIT(w, "}");
    }
    JW_LIT(w, "],\"held\":[");
    n = get_u32(c);
    for (uint32_t i = 0; i < n && c->p < c->end; i++) {
        JW_LIT(w, "{\"id\":");
        jw_cstr(w, c);
        JW_LIT(w, ",\"control\":");
        jw_cstr(w, c);
        if (i + 1 < n) JW_LIT(w, "},");
        else JW_LIT(w, "}");
    }
    JW_LIT(w, "],\"context\":");
    unsigned char md[16];
    bool digested = get_u32(c) != 0;
    get(c, md, sizeof md);
    size_t ctx_len;
    const char *ctx = get_str(c, &ctx_len);
    if (!digested) {
        JW_LIT(w, "null");
        return;
    }
    char q[35];
    arb_hex(md, sizeof md, q + 1);
    q[0] = q[33] = '"';
    jw_raw(w, q, 34);
    if (ctx) {
        char *js = ctx_json(ctx, ctx_len, who, who_len);
        if (!js) {
            w->failed = 1;
            return;
        }
        JW_LIT(w, ",\"ctx\":");
        jw_raw(w, js, strlen(js));
        free(js);
    }
}

static void render_feedback(jw_t *w, cur_t *c)
{
    JW_LIT(w, "{\"v\":1,\"type\":\"feedback\",\"ts\":");
    jw_i64(w, get_i64(c));
    JW_LIT(w, ",\"customer\":");
    jw_cstr(w, c);
    JW_LIT(w, ",\"decision_id\":");
    jw_cstr(w, c);
    JW_LIT(w, ",\"action\":");
    jw_cstr(w, c);
    JW_LIT(w, ",\"outcome\":");
    jw_cstr(w, c);
    JW_LIT(w, ",\"channel\":");
    jw_cstr(w, c);
    JW_LIT(w, ",\"value\":");
    jw_num(w, get_f64(c));
}

static void render_purchase(jw_t *w, cur_t *c)
{
    JW_LIT(w, "{\"v\":1,\"type\":\"purchase\",\"ts\":");
    jw_i64(w, get_i64(c));
    JW_LIT(w, ",\"customer\":");
    jw_cstr(w, c);
    JW_LIT(w, ",\"sku\":");
    jw_cstr(w, c);
    JW_LIT(w, ",\"category\":");
    jw_cstr(w, c);
    JW_LIT(w, ",\"price\":");
    jw_num(w, get_f64(c));
    JW_LIT(w, ",\"channel\":");
    jw_cstr(w, c);
}

int arb_logpack_render(const arb_logpack_t *r, arb_jbuf_t *out)
{
    size_t start = out->len;
    jw_t w = { out, 0 };
    cur_t c = { r->body, r->body + r->len };
    switch (r->type) {
    case ARB_LOGPACK_DECISION: render_decision(&w, &c); break;
    case ARB_LOGPACK_FEEDBACK: render_feedback(&w, &c); break;
    case ARB_LOGPACK_PURCHASE: render_purchase(&w, &c); break;
    default: w.failed = 1;
    }
    JW_LIT(&w, "}\n");
    if (w.failed) {
        out->len = start;
        return -1;
    }
    return 0;
}
