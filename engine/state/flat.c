/* A customer flattened into one relocatable block (flat.h).
 *
 * Keeps state/'s first rule, values only. One walk over the customer's
 * pointers serves both things done to a block, so that they cannot
 * disagree on which pointers there are: COPY fills a block (arrays first,
 * then strings and byte ranges), MOVE adds the distance between a copy and
 * its block to every pointer of the copy. A field added to arb_customer_t
 * or to one of its entries needs one line here, and test_flat's round trip
 * fails until it has it.
 *
 * One pass: the arrays' size follows from the counts, the strings' is
 * guessed (the customer's previous block, plus room for a few new names)
 * and the pass counts what it needed, so a short guess costs one more
 * pass, never a wrong block.
 */
#include "engine/state/flat.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct arb_flat {
    size_t size;           /* of the allocation, this header included */
    size_t used;           /* bytes of body in use (the rest is slack from the guess) */
    size_t strings;        /* bytes of strings and ranges: the next block's guess */
    size_t record_max;     /* arb_flat_record_max */
    max_align_t body[];    /* the arb_customer_t, its arrays, then its bytes */
};

enum { ALIGN = _Alignof(max_align_t) };

static size_t up(size_t n)
{
    return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

typedef enum { COPY, MOVE } walk_mode_t;

/* Every step is inlined with its mode a constant, so that each is compiled
 * as its own straight loop (MOVE: one add per pointer). */
#define STEP static inline __attribute__((always_inline))

/* COPY keeps one copy of each distinct string: 200 contacts name a few
 * actions, channels and "decision" (a third of a record's bytes). A table
 * of the names met, by content, and in front of it a cache by address: a
 * merged customer points at its old block's strings, already one per
 * name, so after the first commit nearly every string is found by its
 * address alone, without reading it. */
enum { NAMES = 256, NAMES_MAX = 192, ADDRS = 512 };

typedef struct name {
    const char *src;   /* the first string met with this content */
    size_t len;        /* its strlen */
    size_t at;         /* where its copy is in the body */
    uint64_t hash;
} name_t;

typedef struct walk {
    char *body;        /* COPY: the block's body */
    size_t arrays;     /* COPY: where the next array goes */
    size_t bytes;      /* COPY: where the next string or range goes (counted past cap) */
    size_t cap;        /* COPY: the body's size; nothing is written past it */
    uintptr_t delta;   /* MOVE: copy minus block, modulo the word */
    size_t record;     /* COPY: every string's length, once per use, and every range's */
    size_t n_names;
    uint16_t slot[NAMES];         /* open addressing by hash: 1 + index into names, 0 empty */
    const char *addr[ADDRS];      /* a string met, by its address's hash */
    uint16_t addr_name[ADDRS];    /*   and its name */
    name_t names[NAMES_MAX];
} walk_t;

/* n bytes of p at the end of the body, when they fit. */
static const void *w_put(walk_t *w, const void *p, size_t n)
{
    char *d = w->body + w->bytes;
    if (w->bytes + n <= w->cap && n) memcpy(d, p, n);
    w->bytes += n;
    return d;
}

STEP const void *w_bytes(walk_t *w, walk_mode_t mode, const void *p, size_t n)
{
    if (!p) return NULL;
    if (mode == MOVE) return (const void *)((uintptr_t)p + w->delta);
    w->record += n;
    return w_put(w, p, n);
}

/* Every byte: names that differ only in their middle (category paths,
 * numbered actions) must not share a run of the table, which a commit
 * walks under the store's one mutex. */
static uint64_t hash(const char *s, size_t len) { return XXH3_64bits(s, len); }

/* s's name, its copy put at the end of the bytes if it is new; NULL when
 * the table is full (then s is copied on its own). */
static const name_t *w_name(walk_t *w, const char *s)
{
    size_t len = strlen(s);
    uint64_t h = hash(s, len);
    size_t i = (size_t)(h >> 32) & (NAMES - 1);
    for (; w->slot[i]; i = (i + 1) & (NAMES - 1)) {
        const name_t *n = &w->names[w->slot[i] - 1];
        if (n->hash == h && n->len == len && memcmp(n->src, s, len) == 0) return n;
    }
    if (w->n_names == NAMES_MAX) return NULL;
    name_t *n = &w->names[w->n_names++];
    *n = (name_t){s, len, w->bytes, h};
    w->slot[i] = (uint16_t)w->n_names;
    w_put(w, s, len + 1);
    return n;
}

STEP const char *w_str(walk_t *w, walk_mode_t mode, const char *s)
{
    if (!s) return NULL;
    if (mode == MOVE) return (const char *)((uintptr_t)s + w->delta);
    size_t a = (size_t)(((uintptr_t)s * UINT64_C(0x9E3779B97F4A7C15)) >> 55) & (ADDRS - 1);
    const name_t *n;
    if (w->addr[a] == s) {
        n = &w->names[w->addr_name[a]];
    } else if ((n = w_name(w, s))) {
        w->addr[a] = s;
        w->addr_name[a] = (uint16_t)(n - w->names);
    } else {
        size_t len = strlen(s);
        w->record += len;
        return w_put(w, s, len + 1);
    }
    w->record += n->len;
    return w->body + n->at;
}

/* The list's new place: COPY room for the n entries in the block (each
 * written once walked), MOVE the moved pointer (the entries were copied
 * with the block). Empty lists are NULL in a block. */
STEP void *w_array(walk_t *w, walk_mode_t mode, const void *p, size_t n, size_t size)
{
    if (!p || !n) return NULL;
    if (mode == MOVE) return (void *)((uintptr_t)p + w->delta);
    char *d = w->body + w->arrays;
    w->arrays += up(n * size);
    return d;
}

/* Each list: its new place, then each entry read from where it is now (the
 * source, or the moved copy itself) with its pointers walked, and written
 * back. */
#define WALK_LIST(type, list, n, fix)                                        \
    do {                                                                     \
        const type *from_ = (list);                                          \
        type *to_ = w_array(w, mode, from_, (n), sizeof(type));              \
        if (mode == MOVE) from_ = to_;                                       \
        for (size_t i_ = 0; to_ && i_ < (n); i_++) {                        \
            type x = from_[i_];                                              \
            fix;                                                             \
            to_[i_] = x;                                                     \
        }                                                                    \
        (list) = to_;                                                        \
    } while (0)

STEP void walk_events(walk_t *w, walk_mode_t mode, arb_event_t **list, size_t n)
{
    WALK_LIST(arb_event_t, *list, n, {
        x.type = w_str(w, mode, x.type);
        x.channel = w_str(w, mode, x.channel);
        x.sku = w_str(w, mode, x.sku);
        x.category = w_str(w, mode, x.category);
        x.extra = w_bytes(w, mode, x.extra, mode == MOVE ? 0 : x.extra_len);
    });
}

/* o: the customer being walked, in place (COPY: already the block's copy
 * of the source; MOVE: the arena's copy). */
STEP void walk(walk_t *w, walk_mode_t mode, arb_customer_t *o)
{
    o->id = w_str(w, mode, o->id);
    walk_events(w, mode, &o->events, o->n_events);
    walk_events(w, mode, &o->purchases, o->n_purchases);
    WALK_LIST(arb_contact_t, o->contacts, o->n_contacts, {
        x.action = w_str(w, mode, x.action);
        x.channel = w_str(w, mode, x.channel);
        x.counted = w_str(w, mode, x.counted);
    });
    WALK_LIST(arb_outcome_t, o->outcomes, o->n_outcomes, {
        x.action = w_str(w, mode, x.action);
        x.outcome = w_str(w, mode, x.outcome);
        x.decision_id = w_str(w, mode, x.decision_id);
        x.channel = w_str(w, mode, x.channel);
    });
    WALK_LIST(arb_consent_t, o->consents, o->n_consents, { x.key = w_str(w, mode, x.key); });
    o->attributes = w_bytes(w, mode, o->attributes, mode == MOVE ? 0 : o->attributes_len);
    WALK_LIST(arb_suppression_t, o->suppressions, o->n_suppressions, {
        x.action = w_str(w, mode, x.action);
        x.reason = w_str(w, mode, x.reason);
    });
    WALK_LIST(arb_offer_t, o->offers, o->n_offers, {
        x.decision_id = w_str(w, mode, x.decision_id);
        x.action = w_str(w, mode, x.action);
        x.channel = w_str(w, mode, x.channel);
        x.segment = w_str(w, mode, x.segment);
    });
    o->pseudonym = w_str(w, mode, o->pseudonym);
}

static size_t arrays_size(const arb_customer_t *c)
{
    return up(c->n_events * sizeof *c->events) + up(c->n_purchases * sizeof *c->purchases) +
           up(c->n_contacts * sizeof *c->contacts) + up(c->n_outcomes * sizeof *c->outcomes) +
           up(c->n_consents * sizeof *c->consents) + up(c->n_suppressions * sizeof *c->suppressions) +
           up(c->n_offers * sizeof *c->offers);
}

int arb_flat_make(const arb_customer_t *c, const arb_flat_t *like, arb_flat_t **out, arb_err_t *err)
{
    *out = NULL;
    size_t head = up(sizeof(arb_customer_t)), start = head + arrays_size(c);
    size_t guess = like ? like->strings + 256 : 2048;
    for (;;) {
        size_t cap = start + guess;
        arb_flat_t *f = malloc(sizeof *f + cap);
        if (!f)
            return arb_err_set(err, ARB_INTERNAL, "state: out of memory keeping customer %s", c->id ? c->id : "");
        f->size = sizeof *f + cap;
        arb_customer_t *o = (arb_customer_t *)f->body;
        *o = *c;
        walk_t w;
        w.body = (char *)f->body;
        w.arrays = head;
        w.bytes = start;
        w.cap = cap;
        w.record = w.n_names = 0;
        memset(w.slot, 0, sizeof w.slot);
        memset(w.addr, 0, sizeof w.addr);
        walk(&w, COPY, o);
        if (w.bytes <= cap) {
            f->used = w.bytes;
            f->strings = w.bytes - start;
            /* Each entry's struct holds at least the bytes msgpack spends on
             * its header, numbers and string headers (a string's at most 5,
             * its pointer 8); the record writes every use of a string. */
            f->record_max = start + w.record;
            *out = f;
            return 0;
        }
        arb_flat_free(f);  /* short: the pass counted what it needs */
        guess = w.bytes - start;
    }
}

const arb_customer_t *arb_flat_customer(const arb_flat_t *f)
{
    return (const arb_customer_t *)f->body;
}

size_t arb_flat_size(const arb_flat_t *f)
{
    return f->size;
}

size_t arb_flat_record_max(const arb_flat_t *f)
{
    return f->record_max;
}

int arb_flat_copy(const arb_flat_t *f, arb_arena_t *arena, arb_customer_t *out)
{
    size_t n = f->used;
    char *copy = arb_arena_alloc(arena, n);
    if (!copy) return -1;
    memcpy(copy, f->body, n);
    walk_t w;  /* MOVE reads only delta */
    w.delta = (uintptr_t)copy - (uintptr_t)f->body;
    arb_customer_t *o = (arb_customer_t *)copy;
    walk(&w, MOVE, o);
    *out = *o;
    return 0;
}

void arb_flat_free(arb_flat_t *f)
{
    if (!f) return;
    explicit_bzero(f, f->size);
    free(f);
}
