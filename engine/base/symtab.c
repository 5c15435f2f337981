/* Symbols interned at load time (see symtab.h). Open addressing with linear
 * probing, at most half full; each slot holds its name's key, so a probe
 * touches nothing else (but a name over 16 bytes, compared in full). The
 * table only grows while a ruleset loads. */
#include "engine/base/symtab.h"

#include <stdlib.h>

uint64_t arb_hash(const void *data, uint64_t len, uint64_t h)
{
    const unsigned char *p = data;
    for (uint64_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* The hash of a key and, past 16 bytes, of the rest of the name. */
static uint64_t name_hash(const arb_symkey_t *k, const char *name)
{
    uint64_t h = arb_symkey_hash(k);
    const unsigned char *p = (const unsigned char *)name;
    for (uint32_t i = 16; i < k->len; i += 8) {
        uint32_t n = k->len - i < 8 ? k->len - i : 8;
        h = (h ^ arb__word(p + i, n)) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 29;
    }
    return h;
}

uint64_t arb_symtab_hash(const char *data, uint32_t len)
{
    arb_symkey_t k = arb_symkey_load(data, len);
    return name_hash(&k, data);
}

void arb_symtab_init(arb_symtab_t *t) { memset(t, 0, sizeof *t); }

void arb_symtab_free(arb_symtab_t *t)
{
    for (uint32_t i = 0; i < t->n; i++) free(t->names[i]);
    free(t->names);
    free(t->lens);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* The id of name (any length), or -1; *slot is where it would go. */
static int32_t symtab_probe(const arb_symtab_t *t, const char *name, uint32_t len, uint32_t *slot)
{
    arb_symkey_t k = arb_symkey_load(name, len);
    uint32_t i = (uint32_t)name_hash(&k, name) & (t->cap - 1);
    for (;; i = (i + 1) & (t->cap - 1)) {
        const arb_symslot_t *s = &t->slots[i];
        if (!s->id1) break;
        if (s->key.w0 == k.w0 && s->key.w1 == k.w1 && s->key.len == len &&
            memcmp(t->names[s->id1 - 1], name, len) == 0)
            return (int32_t)s->id1 - 1;
    }
    *slot = i;
    return -1;
}

int32_t arb__symtab_find_long(const arb_symtab_t *t, const char *name, uint32_t len)
{
    uint32_t slot;
    return t->cap ? symtab_probe(t, name, len, &slot) : -1;
}

/* Put symbol id, of key k, in the first free slot of its probe sequence. */
static void slot_put(arb_symslot_t *slots, uint32_t cap, const arb_symkey_t *k,
                     const char *name, uint32_t id)
{
    uint32_t i = (uint32_t)name_hash(k, name) & (cap - 1);
    while (slots[i].id1) i = (i + 1) & (cap - 1);
    slots[i].key = *k;
    slots[i].id1 = id + 1;
}

static int symtab_grow(arb_symtab_t *t)
{
    uint32_t cap = t->cap ? t->cap * 2 : 64;
    arb_symslot_t *slots = aligned_alloc(64, sizeof *slots * cap);
    char **names = realloc(t->names, sizeof *names * cap / 2);
    if (names) t->names = names;
    uint32_t *lens = realloc(t->lens, sizeof *lens * cap / 2);
    if (lens) t->lens = lens;
    if (!slots || !names || !lens) {
        free(slots);
        return -1;
    }
    memset(slots, 0, sizeof *slots * cap);
    for (uint32_t i = 0; i < t->cap; i++)
        if (t->slots[i].id1)
            slot_put(slots, cap, &t->slots[i].key, t->names[t->slots[i].id1 - 1], t->slots[i].id1 - 1);
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

int32_t arb_symtab_intern(arb_symtab_t *t, const char *name, uint32_t len)
{
    uint32_t slot;
    if ((t->n + 1) * 2 > t->cap && symtab_grow(t) < 0) return -1;
    int32_t id = symtab_probe(t, name, len, &slot);
    if (id >= 0) return id;
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, name, len);
    copy[len] = '\0';
    id = (int32_t)t->n++;
    t->slots[slot].key = arb_symkey_load(name, len);
    t->slots[slot].id1 = (uint32_t)id + 1;
    t->names[id] = copy;
    t->lens[id] = len;
    return id;
}
