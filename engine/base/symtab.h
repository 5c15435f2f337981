/* Symbols: the strings a ruleset compares against (categories, skus, event
 * types, models, channels, touchpoints, attribute names...), interned once
 * at load time so that the decide path compares small integers.
 *
 * Every string a context sends (purchase categories and skus, model names,
 * consents...) is looked up once per request, so lookups are built for
 * short strings: a name of up to 16 bytes is held as two words, and a
 * lookup compares words, not bytes.
 *
 * Ownership: the table owns copies of every name.
 */
#ifndef ARB_SYMTAB_H
#define ARB_SYMTAB_H

#include <stdint.h>
#include <string.h>

/* A name as the table compares it: up to 16 bytes exactly as two words
 * (see arb_symkey_load), longer ones by their bytes too. */
typedef struct arb_symkey {
    uint64_t w0, w1;
    uint32_t len;
} arb_symkey_t;

/* A hash slot holds the key itself, so a lookup reads one cache line per
 * probe (the table is cold between requests: the network's buffers pass
 * through the cache in between). */
typedef struct arb_symslot {
    arb_symkey_t key;
    uint32_t id1;        /* symbol id + 1; 0 = empty */
    uint32_t pad;        /* 32 bytes: two slots per cache line */
} arb_symslot_t;

typedef struct arb_symtab {
    uint32_t n;          /* symbols interned */
    uint32_t cap;        /* hash slots, a power of two, > 2n */
    arb_symslot_t *slots;/* cache-line aligned */
    char **names;        /* NUL-terminated copies, by id */
    uint32_t *lens;      /* their lengths */
} arb_symtab_t;

void arb_symtab_init(arb_symtab_t *t);
void arb_symtab_free(arb_symtab_t *t);

/* The id of name[0..len), interning it if new; -1 when out of memory. */
int32_t arb_symtab_intern(arb_symtab_t *t, const char *name, uint32_t len);

/* The id of a name longer than 16 bytes, or -1 (arb_symtab_find's slow path). */
int32_t arb__symtab_find_long(const arb_symtab_t *t, const char *name, uint32_t len);

/* The n <= 8 bytes at p as one word, reading exactly those bytes; for a
 * given n, different bytes give different words. */
static inline uint64_t arb__word(const unsigned char *p, uint32_t n)
{
    uint32_t a, b;
    if (n >= 4) {
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        return a | (uint64_t)b << 32;
    }
    if (n == 0) return 0;
    return p[0] | (uint64_t)p[n >> 1] << 8 | (uint64_t)p[n - 1] << 16;
}

/* The key of name[0..len): its first 16 bytes as words. */
static inline arb_symkey_t arb_symkey_load(const char *name, uint32_t len)
{
    const unsigned char *p = (const unsigned char *)name;
    arb_symkey_t k = { 0, 0, len };
    if (len > 8) {
        memcpy(&k.w0, p, 8);
        k.w1 = arb__word(p + 8, len - 8 > 8 ? 8 : len - 8);
    } else {
        k.w0 = arb__word(p, len);
    }
    return k;
}

/* The hash of a key (names over 16 bytes add the rest of their bytes). */
static inline uint64_t arb_symkey_hash(const arb_symkey_t *k)
{
    uint64_t h = (k->w0 ^ 0x9e3779b97f4a7c15ULL) * 0xbf58476d1ce4e5b9ULL;
    h ^= (k->w1 + k->len) * 0x94d049bb133111ebULL;
    h ^= h >> 31;
    h *= 0xd6e8feb86659fd93ULL;
    return h ^ (h >> 32);
}

/* The id of name[0..len), or -1 when it was never interned. */
static inline int32_t arb_symtab_find(const arb_symtab_t *t, const char *name, uint32_t len)
{
    if (len > 16) return arb__symtab_find_long(t, name, len);
    if (!t->cap) return -1;
    arb_symkey_t k = arb_symkey_load(name, len);
    for (uint32_t i = (uint32_t)arb_symkey_hash(&k) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        const arb_symslot_t *s = &t->slots[i];
        if (!s->id1) return -1;
        if (s->key.w0 == k.w0 && s->key.w1 == k.w1 && s->key.len == len) return (int32_t)s->id1 - 1;
    }
}

/* A general-purpose hash of bytes (for tables of other things). */
uint64_t arb_symtab_hash(const char *data, uint32_t len);

/* FNV-1a 64, for the ruleset checksum (a stable, documented function). */
uint64_t arb_hash(const void *data, uint64_t len, uint64_t seed);
#define ARB_HASH_SEED 0xcbf29ce484222325ULL

#endif
