/* Deterministic buckets (see bucket.h): HMAC-SHA-256 of the customer id
 * keyed by the salt, the first 8 bytes as a big-endian integer over 2^64.
 *
 * Keeps request/'s rule (values only, no I/O): libcrypto's one-shot HMAC
 * is a pure function of its inputs, so every node, channel and restart
 * places a customer alike without sharing anything but the salt.
 */
#include "engine/request/bucket.h"

#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

double arb_bucket(const char *salt, size_t salt_len, const char *customer_id, size_t id_len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    /* HMAC wants a non-NULL key pointer even for an empty key. */
    static const char empty[1];
    if (!HMAC(EVP_sha256(), salt ? salt : empty, (int)salt_len,
              (const unsigned char *)(customer_id ? customer_id : empty), id_len, md, &md_len) ||
        md_len < 8)
        return 0.0;   /* not reached with SHA-256; 0 puts the customer in every share */
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | md[i];
    /* The top 53 bits, exactly representable: the result stays below 1. */
    return (double)(v >> 11) * 0x1.0p-53;
}
