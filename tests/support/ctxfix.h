/* Fixture of the context tests (code in ctxfix.c). Contexts are written as
 * JSON with jansson (readable), packed to MessagePack with msgpack-c's
 * packer, unpacked with msgpack_unpack_next and parsed with
 * arb_context_parse; what JSON cannot express is packed by hand into g_pk.
 * The globals are one test's: Criterion runs each test in its own process.
 */
#ifndef TESTS_CTXFIX_H
#define TESTS_CTXFIX_H

#include <criterion/criterion.h>

#include <jansson.h>
#include <msgpack.h>
#include <stdbool.h>

#include "engine/base/arena.h"
#include "engine/base/error.h"
#include "engine/request/context.h"

#define NOW_DEFAULT 1700000000

extern msgpack_sbuffer g_sb;     /* the frame being packed */
extern msgpack_packer g_pk;      /* packs into g_sb */
extern msgpack_unpacked g_up;    /* g_sb unpacked: the parsed context points into it */
extern arb_arena_t g_arena;
extern arb_context_t g_ctx;      /* the last parse's result */
extern arb_err_t g_err;          /* the last parse's error */

/* A context with every field set (JSON). */
extern const char *const FULL;

/* The suite's .init and .fini. */
void ctx_setup(void);
void ctx_teardown(void);

void pk_cstr(msgpack_packer *pk, const char *s);

/* JSON value -> MessagePack, integers as integers, reals as float64. */
void pack_json(msgpack_packer *pk, json_t *j);

/* Parse test JSON (any value); fails the test on bad JSON. Caller decrefs. */
json_t *json(const char *text);

/* Unpack whatever g_sb holds (one whole value) and parse it. */
int parse_packed(void);

/* Pack JSON text and parse it. */
int parse_text(const char *text);

/* The three required fields plus `extra` (a JSON object's members, without
 * braces, or ""). */
int parse_with(const char *extra);

void expect_ok(int rc, const char *what);

/* Refused with invalid_params and a message containing want. */
void expect_error(int rc, const char *want, const char *what);

/* The string lies inside the packed frame (no copy was made). */
bool in_frame(arb_str_t s);

/* s equals want and, when not empty, points into the frame. */
void expect_str(arb_str_t s, const char *want, const char *what);

void expect_absent_str(arb_str_t s, const char *what);

/* Hand packing: a map of 3 + extra pairs whose first three are the required
 * fields; the caller packs the `extra` pairs next. */
void pack_required(size_t extra);

#endif
