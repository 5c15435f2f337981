/* The one UTF-8 check (see utf8.h): the wire escapes with it, the JSON
 * converter repairs with it, the loader refuses with it. */
#include "engine/base/utf8.h"

size_t arb_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char b = s[0];
    if (b < 0x80) return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;   /* allowed range of the second byte */
    if (b >= 0xc2 && b <= 0xdf) len = 2;
    else if (b >= 0xe0 && b <= 0xef) len = 3;
    else if (b >= 0xf0 && b <= 0xf4) len = 4;
    else return 0;
    if (b == 0xe0) lo = 0xa0;        /* overlong */
    else if (b == 0xed) hi = 0x9f;   /* surrogates */
    else if (b == 0xf0) lo = 0x90;   /* overlong */
    else if (b == 0xf4) hi = 0x8f;   /* past U+10FFFF */
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return len;
}

size_t arb_utf8_first_invalid(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = arb_utf8_seq((const unsigned char *)s + i, n - i);
        if (!k) return i;
        i += k;
    }
    return n;
}

bool arb_utf8_valid(const char *s, size_t n) { return arb_utf8_first_invalid(s, n) == n; }
