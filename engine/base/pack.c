/* Small MessagePack helpers (see pack.h): strings from C and text made
 * safe for a client, written through the packer's callback only. Base
 * layer: includes nothing of ours but utf8. */
#include "engine/base/pack.h"

#include <stdio.h>
#include <string.h>

#include "engine/base/utf8.h"

void arb_pack_strn(msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

void arb_pack_cstr(msgpack_packer *pk, const char *s) { arb_pack_strn(pk, s, strlen(s)); }

void arb_pack_text(msgpack_packer *pk, const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text), i = 0, bad = 0;
    while (i < n) {
        size_t k = arb_utf8_seq(s + i, n - i);
        if (!k) { bad++; k = 1; }
        i += k;
    }
    if (!bad) {
        arb_pack_strn(pk, text, n);
        return;
    }
    /* Bytes a client sent that are not UTF-8 come back as \xNN. */
    msgpack_pack_str(pk, n + bad * 3);
    for (i = 0; i < n;) {
        size_t k = arb_utf8_seq(s + i, n - i);
        if (k) {
            msgpack_pack_str_body(pk, s + i, k);
            i += k;
            continue;
        }
        char esc[5];
        snprintf(esc, sizeof esc, "\\x%02X", s[i++]);
        msgpack_pack_str_body(pk, esc, 4);
    }
}
