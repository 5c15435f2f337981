/* Bytes as lowercase hex digits: pseudonyms, digests, script hashes. A
 * table, not snprintf("%02x") a byte: this runs on the decision's path
 * (a new customer's pseudonym) and per logged record (its digest).
 */
#ifndef ARB_BASE_HEX_H
#define ARB_BASE_HEX_H

#include <stddef.h>

/* Write 2 * n digits and a NUL into out (2 * n + 1 bytes). */
static inline void arb_hex(const void *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *b = bytes;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

#endif
