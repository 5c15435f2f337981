/* A customer flattened into one relocatable block (flat.h).
 *
 * Keeps state/'s first rule, values only. One walk over the customer's
 * pointers serves the three things done to a block, so that they cannot
 * disagree on which pointers there are: SIZE counts the bytes the block
 * needs, COPY fills it (arrays first, then strings and byte ranges), MOVE
 * adds the distance between a copy and its block to every pointer of the
 * copy. A field added to arb_customer_t or to one of its entries needs one
 * line here, and test_flat's round trip fails until it has it.
 */
#include "engine/state/flat.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct arb_flat {
    size_t size;           /* of the block, this header included */
    size_t record_max;     /* arb_flat_record_max */
    max_align_t body[];    /* the arb_customer_t, its arrays, then its bytes */
};

enum { ALIGN = _Alignof(max_align_t) };

static size_t up(size_t n)
{
    return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

typedef enum { SIZE, COPY, MOVE } walk_mode_t;

/* Every step is inlined with its mode a constant, so that each of the
 * three is compiled as its own straight loop (MOVE: one add per pointer). */
#define STEP static inline __attribute__((always_inline))

typedef struct walk {
    char *body;        /* COPY: the block's body */
    size_t arrays;     /* SIZE: bytes of arrays so far; COPY: where the next array goes */
    size_t bytes;      /* SIZE: bytes of strings and ranges so far; COPY: where the next go */
    uintptr_t delta;   /* MOVE: copy minus block, modulo the word */
} walk_t;

STEP const void *w_bytes(walk_t *w, walk_mode_t mode, const void *p, size_t n)
{
    if (!p) return NULL;
    switch (mode) {
    case SIZE:
        w->bytes += n;
        return p;
    case COPY: {
        char *d = w->body + w->bytes;
        if (n) memcpy(d, p, n);
        w->bytes += n;
        return d;
    }
    default:
        return (const void *)((uintptr_t)p + w->delta);
    }
}

STEP const char *w_str(walk_t *w, walk_mode_t mode, const char *s)
{
    if (!s) return NULL;
    if (mode != COPY) return w_bytes(w, mode, s, mode == SIZE ? strlen(s) + 1 : 0);
    char *d = w->body + w->bytes;  /* one pass: no strlen before the copy */
    w->bytes += (size_t)(stpcpy(d, s) - d) + 1;
    return d;
}

/* The list's new place: SIZE gives NULL (nothing to write to), COPY room
 * for the n entries in the block (each written once walked), MOVE the
 * moved pointer (the entries were copied with the block). Empty lists are
 * NULL in a block. */
STEP void *w_array(walk_t *w, walk_mode_t mode, const void *p, size_t n, size_t size)
{
    if (!p || !n) return NULL;
    switch (mode) {
    case SIZE:
        w->arrays += up(n * size);
        return NULL;
    case COPY: {
        char *d = w->body + w->arrays;
        w->arrays += up(n * size);
        return d;
    }
    default:
        return (void *)((uintptr_t)p + w->delta);
    }
}

/* Each list: its new place, then each entry read from where it is now (the
 * source, or the moved copy itself) with its pointers walked, and written
 * back unless sizing. */
#define WALK_LIST(type, list, n, fix)                                        \
    do {                                                                     \
        const type *from_ = (list);                                          \
        type *to_ = w_array(w, mode, from_, (n), sizeof(type));              \
        if (mode == MOVE) from_ = to_;                                       \
        for (size_t i_ = 0; from_ && i_ < (n); i_++) {                      \
            type x = from_[i_];                                              \
            fix;                                                             \
            if (to_) to_[i_] = x;                                            \
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
 * of the source; MOVE: the arena's copy; SIZE: a scratch copy). */
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

int arb_flat_make(const arb_customer_t *c, arb_flat_t **out, arb_err_t *err)
{
    *out = NULL;
    arb_customer_t scratch = *c;
    walk_t w = {NULL, 0, 0, 0};
    walk(&w, SIZE, &scratch);
    size_t head = up(sizeof(arb_customer_t));
    size_t size = sizeof(arb_flat_t) + head + w.arrays + w.bytes;
    arb_flat_t *f = malloc(size);
    if (!f) return arb_err_set(err, ARB_INTERNAL, "state: out of memory keeping customer %s", c->id ? c->id : "");
    f->size = size;
    /* Each entry's struct holds at least the bytes msgpack spends on its
     * header, numbers and string headers (a string's at most 5, its
     * pointer 8); strings and ranges are copied whole. */
    f->record_max = size;
    arb_customer_t *o = (arb_customer_t *)f->body;
    *o = *c;
    w = (walk_t){(char *)f->body, head, head + w.arrays, 0};
    walk(&w, COPY, o);
    *out = f;
    return 0;
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
    size_t n = f->size - sizeof *f;
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
