/* Small MessagePack helpers (see pack.h): strings from C, text made safe
 * for a client, and the buffer that gathers many items into one write of
 * the packer's callback. Base layer: includes nothing of ours but utf8. */
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

int arb_packbuf_spill(arb_packbuf_t *b, const void *p, size_t n)
{
    arb_packbuf_end(b);
    if (n > sizeof b->room) return b->pk->callback(b->pk->data, p, n);
    memcpy(b->at, p, n);
    b->at += n;
    return 0;
}

void arb_packbuf_end(arb_packbuf_t *b)
{
    /* The callback's result is not ours to act on: its owner keeps the
     * failure (wire/rpc.c's sticky flag), as msgpack-c's packers do. */
    if (b->at > b->room) b->pk->callback(b->pk->data, b->room, (size_t)(b->at - b->room));
    b->at = b->room;
}

void arb_packbuf_text(arb_packbuf_t *b, const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text), i = 0, bad = 0;
    /* Most text is ASCII (ids, reasons, model names), valid as it is: its
     * high bits are looked at eight bytes at a time before any byte is
     * decoded, which made explain's texts four times cheaper. */
    uint64_t high = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        high |= w;
    }
    for (; i < n; i++) high |= s[i];
    if (!(high & 0x8080808080808080ull)) {
        arb_packbuf_strn(b, text, n);
        return;
    }
    for (i = 0; i < n;) {
        size_t k = arb_utf8_seq(s + i, n - i);
        if (!k) { bad++; k = 1; }
        i += k;
    }
    if (!bad) {
        arb_packbuf_strn(b, text, n);
        return;
    }
    /* Bytes a client sent that are not UTF-8 come back as \xNN. */
    arb_packbuf_pack_str(b, n + bad * 3);
    for (i = 0; i < n;) {
        size_t k = arb_utf8_seq(s + i, n - i);
        if (k) {
            arb_packbuf_append(b, s + i, k);
            i += k;
            continue;
        }
        char esc[5];
        snprintf(esc, sizeof esc, "\\x%02X", s[i++]);
        arb_packbuf_append(b, esc, 4);
    }
}

void arb_pack_text(msgpack_packer *pk, const char *text)
{
    arb_packbuf_t b;
    arb_packbuf_begin(&b, pk);
    arb_packbuf_text(&b, text);
    arb_packbuf_end(&b);
}
