/* The one UTF-8 check (DESIGN.md section 3: every string Arbiter sends is
 * valid UTF-8). Pure functions over bytes; no allocation, no state. */
#ifndef ARB_UTF8_H
#define ARB_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (at most n bytes, n >= 1), or 0
 * when s does not start one: overlong forms, UTF-16 surrogates and code
 * points past U+10FFFF are invalid. */
size_t arb_utf8_seq(const unsigned char *s, size_t n);

/* True when all n bytes at s are valid UTF-8. */
bool arb_utf8_valid(const char *s, size_t n);

/* Offset of the first byte of s that is not valid UTF-8, or n. */
size_t arb_utf8_first_invalid(const char *s, size_t n);

#endif
