/* The stored form of one customer: one record per customer, so a decision
 * is one read. Keeps state/'s rule that a file format is decoded totally:
 * any bytes give a value or a clear error, never a crash (fuzzed by
 * tests/fuzz/fuzz_record.c).
 *
 * Layout: "ARBC", a version byte (1 or 2), the payload length (u32 LE),
 * the payload's zlib crc32 (u32 LE), then the payload: one msgpack array
 * [id, events, purchases, contacts, outcomes, consents, attributes,
 * suppressions] (version 1), or the same with offers and the pseudonym
 * appended (version 2, each offer [ts, decision_id, action, channel,
 * segment, learned], the pseudonym 32 hex digits or nil; version 2 records
 * written before pseudonyms have 9 fields and name none). The encoder
 * writes version 1 whenever the customer has neither offers nor a
 * pseudonym, so a build from before them still reads those records; the
 * decoder reads every form. Bytes
 * after the payload are padding (lmdb.c pads records so that each lives in
 * its own overflow pages) and are ignored.
 */
#ifndef ARB_STATE_RECORD_H
#define ARB_STATE_RECORD_H

#include "engine/base/arena.h"
#include "engine/base/error.h"
#include "engine/request/customer.h"

#define ARB_RECORD_HEADER 13
#define ARB_RECORD_MAX (16u << 20)   /* a larger record is refused as corrupt */
#define ARB_RECORD_PSEUDONYM_LEN 32  /* hex digits in a customer's pseudonym */

/* True when s is a pseudonym as stored: exactly 32 hex digits (NULL: no). */
bool arb_record_pseudonym_ok(const char *s);

/* Encode c into a malloc'd buffer (*out, owned by the caller, free()),
 * *len its size. -1 with err (ARB_INTERNAL) when out of memory, over
 * ARB_RECORD_MAX, or when c's pseudonym is not 32 hex digits (decode
 * would refuse the record). */
int arb_record_encode(const arb_customer_t *c, uint8_t **out, size_t *len, arb_err_t *err);

/* The header and payload size of an encoded record (without padding), or 0
 * when the header is not valid. */
size_t arb_record_size(const uint8_t *data, size_t len);

/* Decode len bytes into *c, every pointer into arena. -1 with err
 * (ARB_INTERNAL, naming what is wrong) for anything that is not a record. */
int arb_record_decode(const uint8_t *data, size_t len, arb_customer_t *c,
                      arb_arena_t *arena, arb_err_t *err);

/* True when p[0..n) is exactly one msgpack object nested at most max_depth
 * (<= 32) deep whose containers claim no more elements than bytes remain:
 * what must hold before msgpack-c may unpack bytes nobody checked. */
bool arb_record_msgpack_ok(const uint8_t *p, size_t n, int max_depth);

/* An empty customer with this id (id copied into arena; NULL on no memory). */
void arb_customer_empty(arb_customer_t *c, const char *id);

#endif
