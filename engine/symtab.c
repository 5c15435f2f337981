/* Symbols interned at load time (see symtab.h). Open addressing with linear
 * probing; the table only grows while a ruleset loads. */
#include "engine/symtab.h"

#include <stdlib.h>
#include <string.h>

uint64_t arb_hash(const void *data, uint64_t len, uint64_t h)
{
    const unsigned char *p = data;
    for (uint64_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void arb_symtab_init(arb_symtab_t *t) { memset(t, 0, sizeof *t); }

void arb_symtab_free(arb_symtab_t *t)
{
    for (uint32_t i = 0; i < t->n; i++) free(t->names[i]);
    free(t->names);
    free(t->lens);
    free(t->hashes);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

int32_t arb_symtab_find(const arb_symtab_t *t, const char *name, uint32_t len)
{
    if (!t->cap) return -1;
    uint64_t h = arb_hash(name, len, ARB_HASH_SEED);
    for (uint32_t i = (uint32_t)h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        uint32_t s = t->slots[i];
        if (!s) return -1;
        uint32_t id = s - 1;
        if (t->hashes[id] == h && t->lens[id] == len && memcmp(t->names[id], name, len) == 0)
            return (int32_t)id;
    }
}

static int symtab_grow(arb_symtab_t *t)
{
    uint32_t cap = t->cap ? t->cap * 2 : 64;
    uint32_t *slots = calloc(cap, sizeof *slots);
    char **names = realloc(t->names, sizeof *names * cap / 2);
    if (names) t->names = names;
    uint32_t *lens = realloc(t->lens, sizeof *lens * cap / 2);
    if (lens) t->lens = lens;
    uint64_t *hashes = realloc(t->hashes, sizeof *hashes * cap / 2);
    if (hashes) t->hashes = hashes;
    if (!slots || !names || !lens || !hashes) {
        free(slots);
        return -1;
    }
    for (uint32_t id = 0; id < t->n; id++) {
        uint32_t i = (uint32_t)t->hashes[id] & (cap - 1);
        while (slots[i]) i = (i + 1) & (cap - 1);
        slots[i] = id + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

int32_t arb_symtab_intern(arb_symtab_t *t, const char *name, uint32_t len)
{
    int32_t id = arb_symtab_find(t, name, len);
    if (id >= 0) return id;
    if ((t->n + 1) * 2 > t->cap && symtab_grow(t) < 0) return -1;
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, name, len);
    copy[len] = '\0';
    uint64_t h = arb_hash(name, len, ARB_HASH_SEED);
    uint32_t i = (uint32_t)h & (t->cap - 1);
    while (t->slots[i]) i = (i + 1) & (t->cap - 1);
    id = (int32_t)t->n++;
    t->slots[i] = (uint32_t)id + 1;
    t->names[id] = copy;
    t->lens[id] = len;
    t->hashes[id] = h;
    return id;
}
