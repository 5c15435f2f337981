/* Unit tests for the bounded answer writer of engine/wire/rpc.c: its limit,
 * its sticky failure (too large, or an allocation that failed), the
 * rewind, and arb_rpc_answer_refused replacing a refused answer whole by
 * one error (too_large, internal), leaving nothing when even that cannot
 * be packed, and only dropping a notification's. No truncated frame may
 * ever be left in the stream.
 */
#include <criterion/criterion.h>

#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/error.h"
#include "engine/wire/rpc.h"

/* The allocation failures below ask realloc for half the address space:
 * under ASan that must fail as in libc, not abort. */
#ifdef __SANITIZE_ADDRESS__
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
#endif

/* Make b (holding "abc") claim to be full at half the address space with
 * `room` bytes free: growing it must fail inside msgpack_sbuffer_write
 * (realloc refuses the size), which the packers would ignore. unfake gives
 * b back its real size so that it can be destroyed. */
typedef struct {
    char *data;
    size_t alloc;
} real_t;

static real_t fake_full(msgpack_sbuffer *b, size_t room)
{
    msgpack_sbuffer_write(b, "abc", 3);
    real_t r = { b->data, b->alloc };
    b->alloc = (SIZE_MAX >> 1) + 1;
    b->size = b->alloc - room;
    return r;
}

static void unfake(msgpack_sbuffer *b, real_t r)
{
    cr_assert_eq(b->data, r.data, "a failed write moved the buffer's memory");
    b->alloc = r.alloc;
    b->size = 3;
}

Test(answer, refuses_past_the_limit_and_stays_refused)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_write(&sb, "head", 4);   /* an earlier answer */
    arb_answer_t a;
    arb_answer_begin(&a, &sb, 100);
    char block[60];
    memset(block, 'x', sizeof block);
    cr_assert_eq(arb_answer_write(&a, block, 60), 0);
    cr_assert_eq(arb_answer_write(&a, block, 41), -1, "101 bytes passed a limit of 100");
    cr_assert_eq(a.failed, ARB_ANSWER_TOO_LARGE);
    cr_assert_eq(arb_answer_write(&a, block, 1), -1, "a refused answer takes nothing more");
    cr_assert_eq(sb.size, 64, "the refused write copied something");
    msgpack_sbuffer_destroy(&sb);
}

Test(answer, allocation_failure_is_noticed_and_nothing_is_copied)
{
    /* A buffer that claims to be nearly full at half the address space. */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    real_t real = fake_full(&sb, 1);
    arb_answer_t a;
    arb_answer_begin(&a, &sb, 0);
    size_t before = sb.size;
    cr_assert_eq(arb_answer_write(&a, "0123456789", 10), -1);
    cr_assert_eq(a.failed, ARB_ANSWER_NOMEM);
    cr_assert_eq(sb.size, before, "a failed write moved the buffer");
    unfake(&sb, real);
    msgpack_sbuffer_destroy(&sb);
}

Test(answer, packer_over_the_writer_keeps_earlier_answers_whole)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    arb_answer_t a;
    msgpack_packer pk;
    /* A first answer that fits. */
    arb_answer_begin(&a, &sb, 64);
    msgpack_packer_init(&pk, &a, arb_answer_write);
    arb_rpc_pack_error(&pk, 1, ARB_OVERLOADED, "busy");
    cr_assert_eq(a.failed, 0);
    size_t first = sb.size;
    /* A second one too large: rewound to where it began, then an error. */
    arb_answer_begin(&a, &sb, 64);
    msgpack_pack_array(&pk, 100);
    for (int i = 0; i < 100; i++) msgpack_pack_int(&pk, 100000 + i);
    cr_assert_eq(a.failed, ARB_ANSWER_TOO_LARGE);
    sb.size = a.start;
    a.failed = 0;
    a.limit = 0;
    arb_rpc_pack_error(&pk, 2, ARB_TOO_LARGE, "too large");
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, first);
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, sb.size, "the stream holds exactly two whole answers");
    cr_assert_eq(u.data.via.array.ptr[1].via.u64, 2);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    cr_assert_str_eq(arb_code_name(ARB_TOO_LARGE), "too_large");
    cr_assert_str_eq(arb_code_name(ARB_UNAVAILABLE), "unavailable");
}

Test(answer, rewind_drops_this_answer_and_its_failure_only)
{
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    msgpack_sbuffer_write(&b, "earlier", 7);
    arb_answer_t a;
    arb_answer_begin(&a, &b, 10);
    cr_assert_eq(a.start, 7);
    cr_assert_eq(arb_answer_write(&a, "0123456789", 10), 0);
    cr_assert_eq(arb_answer_write(&a, "x", 1), -1);
    cr_assert_eq(a.failed, ARB_ANSWER_TOO_LARGE);
    arb_answer_rewind(&a);
    cr_assert_eq(b.size, 7, "the rewind left %zu bytes", b.size);
    cr_assert_eq(memcmp(b.data, "earlier", 7), 0, "the earlier answer was touched");
    cr_assert_eq(a.failed, ARB_ANSWER_OK);
    /* The limit still holds, counted from the same start. */
    cr_assert_eq(arb_answer_write(&a, "abcdefghij", 10), 0);
    cr_assert_eq(arb_answer_write(&a, "k", 1), -1);
    msgpack_sbuffer_destroy(&b);
}

Test(answer, no_limit_takes_any_size)
{
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    arb_answer_t a;
    arb_answer_begin(&a, &b, 0);
    static char big[1 << 20];
    memset(big, 'y', sizeof big);
    for (int i = 0; i < 4; i++) cr_assert_eq(arb_answer_write(&a, big, sizeof big), 0);
    cr_assert_eq(b.size, 4u << 20);
    cr_assert_eq(a.failed, 0);
    msgpack_sbuffer_destroy(&b);
}

/* An answer for msgid 9 packed through the writer, past its limit of 32. */
static void pack_too_large(arb_answer_t *a, msgpack_sbuffer *b, msgpack_packer *p)
{
    arb_answer_begin(a, b, 32);
    msgpack_packer_init(p, a, arb_answer_write);
    arb_rpc_pack_result_head(p, 9);
    msgpack_pack_array(p, 50);
    for (int i = 0; i < 50; i++) msgpack_pack_int(p, 1000 + i);
}

Test(answer, a_standing_answer_is_left_alone)
{
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    arb_answer_t a;
    msgpack_packer p;
    arb_answer_begin(&a, &b, 64);
    msgpack_packer_init(&p, &a, arb_answer_write);
    arb_rpc_pack_result_head(&p, 9);
    msgpack_pack_true(&p);
    size_t size = b.size;
    arb_code_t code = ARB_CODE_COUNT;
    cr_assert_eq(arb_rpc_answer_refused(&a, &p, true, 9, &code), 0);
    cr_assert_eq(b.size, size);
    cr_assert_eq(code, ARB_CODE_COUNT, "the code was set for an answer that stood");
    msgpack_sbuffer_destroy(&b);
}

Test(answer, a_too_large_answer_becomes_one_too_large_error)
{
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    msgpack_sbuffer_write(&b, "\xc3", 1);   /* an earlier answer: true */
    arb_answer_t a;
    msgpack_packer p;
    pack_too_large(&a, &b, &p);
    cr_assert_eq(a.failed, ARB_ANSWER_TOO_LARGE);
    arb_code_t code = ARB_CODE_COUNT;
    cr_assert_eq(arb_rpc_answer_refused(&a, &p, true, 9, &code), 1);
    cr_assert_eq(code, ARB_TOO_LARGE);
    cr_assert_eq(a.failed, 0);
    /* The stream: the earlier answer, then exactly one whole error frame. */
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&u, b.data, b.size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(u.data.type, MSGPACK_OBJECT_BOOLEAN);
    cr_assert_eq(msgpack_unpack_next(&u, b.data, b.size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, b.size, "something of the refused answer is left");
    const msgpack_object *f = u.data.via.array.ptr;
    cr_assert_eq(f[0].via.u64, 1);
    cr_assert_eq(f[1].via.u64, 9);
    cr_assert_eq(f[3].type, MSGPACK_OBJECT_NIL);
    const msgpack_object *c = &f[2].via.map.ptr[0].val, *m = &f[2].via.map.ptr[1].val;
    cr_assert(c->via.str.size == 9 && memcmp(c->via.str.ptr, "too_large", 9) == 0);
    char msg[256];
    snprintf(msg, sizeof msg, "%.*s", (int)m->via.str.size, m->via.str.ptr);
    cr_assert(strstr(msg, "answer limit of 32 bytes") && strstr(msg, "--max-answer"), "%s", msg);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&b);
}

Test(answer, a_failed_allocation_becomes_an_internal_error)
{
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    arb_answer_t a;
    msgpack_packer p;
    arb_answer_begin(&a, &b, 0);
    msgpack_packer_init(&p, &a, arb_answer_write);
    arb_rpc_pack_result_head(&p, 11);
    /* As if the next write's allocation had failed (the real failure is
     * the test above and allocation_failure_is_noticed_and_nothing_is_copied). */
    a.failed = ARB_ANSWER_NOMEM;
    arb_code_t code = ARB_CODE_COUNT;
    cr_assert_eq(arb_rpc_answer_refused(&a, &p, true, 11, &code), 1);
    cr_assert_eq(code, ARB_INTERNAL);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&u, b.data, b.size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, b.size, "the refused answer's head is still there");
    const msgpack_object *f = u.data.via.array.ptr;
    cr_assert_eq(f[1].via.u64, 11);
    const msgpack_object *c = &f[2].via.map.ptr[0].val, *m = &f[2].via.map.ptr[1].val;
    cr_assert(c->via.str.size == 8 && memcmp(c->via.str.ptr, "internal", 8) == 0);
    cr_assert(memmem(m->via.str.ptr, m->via.str.size, "out of memory", 13));
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&b);
}

Test(answer, an_error_that_cannot_be_packed_leaves_nothing)
{
    /* The buffer cannot grow at all: the answer fails, and so does its
     * error; nothing of either may stay, and the caller must close. */
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    real_t real = fake_full(&b, 0);   /* full: even a one-byte write must grow it */
    size_t start = b.size;
    arb_answer_t a;
    msgpack_packer p;
    arb_answer_begin(&a, &b, 0);
    msgpack_packer_init(&p, &a, arb_answer_write);
    arb_rpc_pack_result_head(&p, 12);
    cr_assert_eq(a.failed, ARB_ANSWER_NOMEM);
    arb_code_t code = ARB_CODE_COUNT;
    cr_assert_eq(arb_rpc_answer_refused(&a, &p, true, 12, &code), -1);
    cr_assert_eq(b.size, start, "a partial error was left in the stream");
    cr_assert_eq(a.failed, 0);
    unfake(&b, real);
    msgpack_sbuffer_destroy(&b);
}

Test(answer, a_notifications_refused_answer_is_only_dropped)
{
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    msgpack_sbuffer_write(&b, "\xc0", 1);
    arb_answer_t a;
    msgpack_packer p;
    pack_too_large(&a, &b, &p);
    arb_code_t code = ARB_CODE_COUNT;
    cr_assert_eq(arb_rpc_answer_refused(&a, &p, false, 9, &code), 1);
    cr_assert_eq(b.size, 1, "a notification got an answer or kept part of one");
    cr_assert_eq(code, ARB_CODE_COUNT, "a notification's refusal set a code");
    cr_assert_eq(a.failed, 0);
    msgpack_sbuffer_destroy(&b);
}
