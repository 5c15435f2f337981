/* Deterministic buckets for control groups and experiments (DESIGN.md
 * section 7): where a customer falls in [0, 1) for a salt, by a keyed hash
 * (HMAC-SHA-256 with the salt as key, the first 8 bytes as an integer
 * scaled to [0, 1)). The same customer and salt give the same value on
 * every node, channel and restart; another salt reshuffles everyone.
 *
 * Keeps request/'s rule: values only, no I/O (libcrypto's HMAC is a pure
 * function here).
 */
#ifndef ARB_REQUEST_BUCKET_H
#define ARB_REQUEST_BUCKET_H

#include <stddef.h>

/* The customer's place for salt, in [0, 1): a customer is in a share s
 * when arb_bucket(...) < s. Both strings are bytes with lengths. */
double arb_bucket(const char *salt, size_t salt_len, const char *customer_id, size_t id_len);

#endif
