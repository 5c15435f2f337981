/* Fixture of the answer-shape tests (see answerfix.h). */
#include "tests/support/answerfix.h"

#include <criterion/criterion.h>
#include <string.h>

const msgpack_object *af_unpacked(msgpack_unpacked *up, const msgpack_sbuffer *sb)
{
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(up, sb->data, sb->size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, sb->size, "the answer is not one whole value");
    return &up->data;
}

bool af_str_is(const msgpack_object *o, const char *s)
{
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
           memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

void af_expect_keys(const msgpack_object *map, const char *const *keys, const char *what)
{
    cr_assert_eq(map->type, MSGPACK_OBJECT_MAP, "%s: not a map", what);
    uint32_t n = 0;
    while (keys[n]) n++;
    cr_assert_eq(map->via.map.size, n, "%s: %u keys, want %u", what, map->via.map.size, n);
    for (uint32_t i = 0; i < n; i++)
        cr_assert(af_str_is(&map->via.map.ptr[i].key, keys[i]), "%s: key %u is not %s", what, i,
                  keys[i]);
}
