/* Deterministic buckets (see bucket.h): HMAC-SHA-256 of the customer id
 * keyed by the salt, the first 8 bytes as a big-endian integer over 2^64.
 *
 * Keeps request/'s rule (values only, no I/O): a pure function of its
 * inputs, so every node, channel and restart places a customer alike
 * without sharing anything but the salt.
 */
/* SHA-256's own functions: OpenSSL 3 marks them deprecated in favour of
 * EVP, whose one-shot HMAC() costs about 2 us a call (a provider fetch and
 * allocations), five times this, and every decision of a ruleset with a
 * control group or an experiment takes one or two. */
#define OPENSSL_API_COMPAT 10101

#include "engine/request/bucket.h"

#include <stdint.h>
#include <string.h>
#include <openssl/sha.h>

/* HMAC-SHA-256 (RFC 2104) of msg under key, on SHA-256's own functions:
 * H((K ^ opad) || H((K ^ ipad) || msg)), K the key padded to a block, or
 * its digest when longer than one. */
static void hmac_sha256(const unsigned char *key, size_t key_len, const unsigned char *msg,
                        size_t msg_len, unsigned char out[SHA256_DIGEST_LENGTH])
{
    unsigned char k[SHA256_CBLOCK] = { 0 }, pad[SHA256_CBLOCK], inner[SHA256_DIGEST_LENGTH];
    if (key_len > sizeof k) SHA256(key, key_len, k);
    else if (key_len) memcpy(k, key, key_len);
    SHA256_CTX c;
    for (size_t i = 0; i < sizeof k; i++) pad[i] = k[i] ^ 0x36;
    SHA256_Init(&c);
    SHA256_Update(&c, pad, sizeof pad);
    SHA256_Update(&c, msg, msg_len);
    SHA256_Final(inner, &c);
    for (size_t i = 0; i < sizeof k; i++) pad[i] = k[i] ^ 0x5c;
    SHA256_Init(&c);
    SHA256_Update(&c, pad, sizeof pad);
    SHA256_Update(&c, inner, sizeof inner);
    SHA256_Final(out, &c);
}

double arb_bucket(const char *salt, size_t salt_len, const char *customer_id, size_t id_len)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    hmac_sha256((const unsigned char *)(salt ? salt : ""), salt ? salt_len : 0,
                (const unsigned char *)(customer_id ? customer_id : ""), customer_id ? id_len : 0, md);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | md[i];
    /* The top 53 bits, exactly representable: the result stays below 1. */
    return (double)(v >> 11) * 0x1.0p-53;
}
