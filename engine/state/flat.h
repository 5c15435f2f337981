/* A customer flattened into one relocatable block: the memory store's form
 * of a customer (memory.c), kept decoded so that a fetch is one memcpy and
 * a commit merges without decoding or encoding anything.
 *
 * Keeps state/'s first rule, values only: a block is plain memory, never
 * I/O. It lives in state/ beside record.c, the other stored form of a
 * customer, because only a backend keeps customers; request/ holds the
 * customer as a decision reads it, whatever stored it.
 *
 * Layout: the arb_customer_t first, then its arrays (aligned), then every
 * string (one copy of each distinct one, however many entries name it)
 * and byte range it points to. Every pointer of the customer points
 * into the block (NULL stays NULL), so a copy made with one memcpy becomes
 * a customer of its own by adding the distance between the two blocks to
 * each pointer.
 */
#ifndef ARB_STATE_FLAT_H
#define ARB_STATE_FLAT_H

#include "engine/base/arena.h"
#include "engine/base/error.h"
#include "engine/request/customer.h"

typedef struct arb_flat arb_flat_t;

/* c and everything it points to copied into one malloc'd block (*out, the
 * caller's until arb_flat_free). Empty lists become NULL. like (NULL: none)
 * is a block of about the same customer, its previous version: its size
 * is the first guess of this one's. -1 with err (ARB_INTERNAL) when out of
 * memory. */
int arb_flat_make(const arb_customer_t *c, const arb_flat_t *like, arb_flat_t **out, arb_err_t *err);

/* The customer inside f: valid, and not to be changed, until f is freed. */
const arb_customer_t *arb_flat_customer(const arb_flat_t *f);

/* The block's size in bytes, the customer included (what it holds in
 * the heap). */
size_t arb_flat_size(const arb_flat_t *f);

/* Never less than arb_record_encode's payload for the same customer (each
 * entry's struct is at least what msgpack spends on its numbers and
 * headers, and every use of a string counts): so that the memory store
 * can refuse what the record form would without encoding. */
size_t arb_flat_record_max(const arb_flat_t *f);

/* *out: a customer of its own in arena (one allocation, one memcpy, every
 * pointer moved), independent of f. -1 when the arena is out of memory. */
int arb_flat_copy(const arb_flat_t *f, arb_arena_t *arena, arb_customer_t *out);

/* Zero the whole block, then free it: no version of a customer lingers in
 * the heap once replaced or forgotten. NULL is ignored. */
void arb_flat_free(arb_flat_t *f);

#endif
