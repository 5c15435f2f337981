/* Symbols: the strings a ruleset compares against (categories, skus, event
 * types, models, channels, touchpoints, attribute names...), interned once
 * at load time so that the decide path compares small integers.
 *
 * Ownership: the table owns copies of every name.
 */
#ifndef ARB_SYMTAB_H
#define ARB_SYMTAB_H

#include <stdint.h>

typedef struct arb_symtab {
    uint32_t n;        /* symbols interned */
    uint32_t cap;      /* hash slots, a power of two, > 2n */
    uint64_t *slots;   /* high half: the hash's high 32 bits; low half: id + 1, 0 = empty */
    char **names;      /* NUL-terminated copies, by id */
    uint32_t *lens;    /* their lengths */
} arb_symtab_t;

void arb_symtab_init(arb_symtab_t *t);
void arb_symtab_free(arb_symtab_t *t);

/* The id of name[0..len), or -1 when it was never interned. */
int32_t arb_symtab_find(const arb_symtab_t *t, const char *name, uint32_t len);

/* The id of name[0..len), interning it if new; -1 when out of memory. */
int32_t arb_symtab_intern(arb_symtab_t *t, const char *name, uint32_t len);

/* The hash symbols are found by: a word at a time, since every string a
 * context sends (categories, skus, model names) is looked up per request. */
uint64_t arb_symtab_hash(const char *name, uint32_t len);

/* FNV-1a 64, for the ruleset checksum (a stable, documented function). */
uint64_t arb_hash(const void *data, uint64_t len, uint64_t seed);
#define ARB_HASH_SEED 0xcbf29ce484222325ULL

#endif
