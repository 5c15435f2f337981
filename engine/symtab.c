/* Symbols interned at load time (see symtab.h). Open addressing with linear
 * probing, at most half full; each slot carries 32 bits of the hash so a
 * probe rarely touches a name. The table only grows while a ruleset loads. */
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

/* Little-endian word of the n (< 8) bytes at p, without reading past them. */
static uint64_t tail_word(const unsigned char *p, uint32_t n)
{
    uint64_t w = 0;
    if (n & 4) { uint32_t v; memcpy(&v, p, 4); w = v; p += 4; }
    if (n & 2) { uint16_t v; memcpy(&v, p, 2); w = (w << 16) | v; p += 2; }
    if (n & 1) w = (w << 8) | *p;
    return w;
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    h ^= h >> 32;
    return h;
}

uint64_t arb_symtab_hash(const char *name, uint32_t len)
{
    const unsigned char *p = (const unsigned char *)name;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix(h ^ w);
    }
    return mix(h ^ tail_word(p, len) ^ ((uint64_t)len << 59));
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

#define SLOT_TAG(h) ((h) & 0xffffffff00000000ULL)

int32_t arb_symtab_find(const arb_symtab_t *t, const char *name, uint32_t len)
{
    if (!t->cap) return -1;
    uint64_t h = arb_symtab_hash(name, len), tag = SLOT_TAG(h);
    for (uint32_t i = (uint32_t)h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        uint64_t s = t->slots[i];
        if (!s) return -1;
        if (SLOT_TAG(s) != tag) continue;
        uint32_t id = (uint32_t)s - 1;
        if (t->lens[id] == len && memcmp(t->names[id], name, len) == 0) return (int32_t)id;
    }
}

/* Put symbol id, of hash h, in the first free slot of its probe sequence. */
static void slot_put(uint64_t *slots, uint32_t cap, uint64_t h, uint32_t id)
{
    uint32_t i = (uint32_t)h & (cap - 1);
    while (slots[i]) i = (i + 1) & (cap - 1);
    slots[i] = SLOT_TAG(h) | (id + 1);
}

static int symtab_grow(arb_symtab_t *t)
{
    uint32_t cap = t->cap ? t->cap * 2 : 64;
    uint64_t *slots = calloc(cap, sizeof *slots);
    char **names = realloc(t->names, sizeof *names * cap / 2);
    if (names) t->names = names;
    uint32_t *lens = realloc(t->lens, sizeof *lens * cap / 2);
    if (lens) t->lens = lens;
    if (!slots || !names || !lens) {
        free(slots);
        return -1;
    }
    for (uint32_t id = 0; id < t->n; id++)
        slot_put(slots, cap, arb_symtab_hash(t->names[id], t->lens[id]), id);
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
    id = (int32_t)t->n++;
    slot_put(t->slots, t->cap, arb_symtab_hash(name, len), (uint32_t)id);
    t->names[id] = copy;
    t->lens[id] = len;
    return id;
}
