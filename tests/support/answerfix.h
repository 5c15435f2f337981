/* Fixture of the answer-shape tests (code in answerfix.c): reading back
 * what an answer packer wrote, one whole value, and checking a map's keys
 * in order.
 */
#ifndef TESTS_ANSWERFIX_H
#define TESTS_ANSWERFIX_H

#include <msgpack.h>
#include <stdbool.h>

/* The one value packed into sb, unpacked into up (which must be
 * initialised); fails the test unless it is all of sb. */
const msgpack_object *af_unpacked(msgpack_unpacked *up, const msgpack_sbuffer *sb);

/* Whether o is the str s. */
bool af_str_is(const msgpack_object *o, const char *s);

/* map has exactly these keys in this order (NULL-terminated). */
void af_expect_keys(const msgpack_object *map, const char *const *keys, const char *what);

#endif
