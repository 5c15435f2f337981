/* A string view for request/ (values only, no I/O: the folder's rule),
 * split from context.h so that a parser building state values
 * (track.c: customer.h's arb_event_t) can share the context checker
 * (context_int.h) without context.h's record types, whose names clash.
 *
 * Ownership: an arb_str_t borrows its bytes; whoever made it says how long
 * they live.
 */
#ifndef ARB_STR_H
#define ARB_STR_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* A string that is not NUL-terminated. */
typedef struct arb_str {
    const char *ptr;
    uint32_t len;
} arb_str_t;

static inline bool arb_str_eq(arb_str_t s, const char *z)
{
    size_t n = strlen(z);
    return s.len == n && (n == 0 || memcmp(s.ptr, z, n) == 0);
}

/* s equals the string literal lit: the length is known when compiling, so
 * this is a compare of a few words, not a call. */
#define ARB_STR_IS(s, lit) \
    ((s).len == sizeof(lit) - 1 && memcmp((s).ptr, lit, sizeof(lit) - 1) == 0)

#endif
