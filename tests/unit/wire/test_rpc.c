/* Unit tests for the MessagePack-RPC envelope and the one error exit
 * (engine/wire/rpc.c): arb_rpc_decode on every envelope a client can send,
 * requests, notifications and each malformed form, and whether it can be
 * answered; and the exact bytes of a result head and of an error, with
 * and without its `errors` list. The bounded answer writer is tested in
 * test_rpc_writer.c. The wire layer knows no socket: every test packs and
 * reads a plain sbuffer.
 */
#include <criterion/criterion.h>

#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/error.h"
#include "engine/wire/rpc.h"

/* ---- helpers ---------------------------------------------------------------- */

static msgpack_sbuffer g_sb;
static msgpack_packer g_pk;
static msgpack_unpacked g_up;

static void setup(void)
{
    msgpack_sbuffer_init(&g_sb);
    msgpack_packer_init(&g_pk, &g_sb, msgpack_sbuffer_write);
    msgpack_unpacked_init(&g_up);
}

static void teardown(void)
{
    msgpack_unpacked_destroy(&g_up);
    msgpack_sbuffer_destroy(&g_sb);
}

TestSuite(rpc, .init = setup, .fini = teardown);

static void str(const char *s)
{
    msgpack_pack_str(&g_pk, strlen(s));
    msgpack_pack_str_body(&g_pk, s, strlen(s));
}

/* Unpack the one value packed into g_sb. */
static const msgpack_object *frame(void)
{
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&g_up, g_sb.data, g_sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, g_sb.size, "more than one value packed");
    return &g_up.data;
}

typedef struct {
    int rc;
    bool answerable;
    arb_rpc_call_t call;
    arb_err_t err;
} decoded_t;

static decoded_t decode(void)
{
    decoded_t d;
    memset(&d, 0xab, sizeof d);   /* nothing may be left unset */
    d.err.code = ARB_INTERNAL;
    d.err.message[0] = '\0';
    d.rc = arb_rpc_decode(frame(), &d.call, &d.answerable, &d.err);
    return d;
}

static bool method_is(const arb_rpc_call_t *c, const char *m)
{
    return c->method && c->method_len == strlen(m) && memcmp(c->method, m, c->method_len) == 0;
}

/* A refused envelope: invalid_request, the message containing `why`,
 * answerable or not, and with the msgid read when answerable. */
static void expect_refused(const char *what, const char *why, bool answerable, uint32_t msgid)
{
    decoded_t d = decode();
    cr_assert_eq(d.rc, -1, "%s: accepted", what);
    cr_assert_eq(d.err.code, ARB_INVALID_REQUEST, "%s: code %d", what, d.err.code);
    cr_assert(strstr(d.err.message, why), "%s: message '%s' lacks '%s'", what, d.err.message, why);
    cr_assert_eq(d.answerable, answerable, "%s: answerable %d", what, d.answerable);
    if (answerable) cr_assert_eq(d.call.msgid, msgid, "%s: msgid %u", what, d.call.msgid);
    cr_assert_null(d.call.params, "%s: params set on a refused envelope", what);
}

/* ---- arb_rpc_decode: what it accepts ------------------------------------------ */

Test(rpc, a_request_is_read_with_its_msgid_method_and_params)
{
    msgpack_pack_array(&g_pk, 4);
    msgpack_pack_int(&g_pk, 0);
    msgpack_pack_uint32(&g_pk, 7);
    str("decide");
    msgpack_pack_array(&g_pk, 2);
    msgpack_pack_map(&g_pk, 0);
    msgpack_pack_true(&g_pk);
    decoded_t d = decode();
    cr_assert_eq(d.rc, 0, "%s", d.err.message);
    cr_assert(d.answerable);
    cr_assert_not(d.call.notification);
    cr_assert_eq(d.call.msgid, 7);
    cr_assert(method_is(&d.call, "decide"));
    cr_assert_eq(d.call.params->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(d.call.params->via.array.size, 2);
    /* The call borrows from the frame: no copy was made. */
    cr_assert_eq(d.call.method, g_up.data.via.array.ptr[2].via.str.ptr);
    cr_assert_eq(d.call.params, &g_up.data.via.array.ptr[3]);
}

Test(rpc, msgids_cover_the_whole_unsigned_32_bit_range)
{
    const uint64_t ids[] = { 0, 1, 127, 128, 65535, 65536, UINT32_MAX };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        msgpack_sbuffer_clear(&g_sb);
        msgpack_pack_array(&g_pk, 4);
        msgpack_pack_int(&g_pk, 0);
        msgpack_pack_uint64(&g_pk, ids[i]);
        str("ping");
        msgpack_pack_array(&g_pk, 0);
        decoded_t d = decode();
        cr_assert_eq(d.rc, 0, "msgid %llu: %s", (unsigned long long)ids[i], d.err.message);
        cr_assert_eq(d.call.msgid, ids[i]);
        cr_assert(d.answerable);
    }
}

Test(rpc, a_method_may_come_as_bin)
{
    msgpack_pack_array(&g_pk, 4);
    msgpack_pack_int(&g_pk, 0);
    msgpack_pack_int(&g_pk, 3);
    msgpack_pack_bin(&g_pk, 4);
    msgpack_pack_bin_body(&g_pk, "ping", 4);
    msgpack_pack_array(&g_pk, 0);
    decoded_t d = decode();
    cr_assert_eq(d.rc, 0, "%s", d.err.message);
    cr_assert(method_is(&d.call, "ping"));
    cr_assert_eq(d.call.params->via.array.size, 0);
}

Test(rpc, a_notification_is_read_and_never_answerable)
{
    msgpack_pack_array(&g_pk, 3);
    msgpack_pack_int(&g_pk, 2);
    str("ping");
    msgpack_pack_array(&g_pk, 1);
    msgpack_pack_nil(&g_pk);
    decoded_t d = decode();
    cr_assert_eq(d.rc, 0, "%s", d.err.message);
    cr_assert(d.call.notification);
    cr_assert_not(d.answerable);
    cr_assert_eq(d.call.msgid, 0);
    cr_assert(method_is(&d.call, "ping"));
    cr_assert_eq(d.call.params, &g_up.data.via.array.ptr[2]);
}

/* ---- arb_rpc_decode: what it refuses, and whether it can say so --------------- */

Test(rpc, a_frame_that_is_not_an_array_cannot_be_answered)
{
    msgpack_pack_map(&g_pk, 0);
    expect_refused("a map", "not a MessagePack-RPC frame", false, 0);
    msgpack_sbuffer_clear(&g_sb);
    msgpack_pack_int(&g_pk, 0);
    expect_refused("an integer", "not a MessagePack-RPC frame", false, 0);
    msgpack_sbuffer_clear(&g_sb);
    str("[0, 1, \"ping\", []]");
    expect_refused("a string", "not a MessagePack-RPC frame", false, 0);
}

Test(rpc, a_short_array_is_answered_when_its_msgid_can_be_read)
{
    msgpack_pack_array(&g_pk, 0);
    expect_refused("[]", "not a MessagePack-RPC frame", false, 0);
    msgpack_sbuffer_clear(&g_sb);
    msgpack_pack_array(&g_pk, 1);
    msgpack_pack_int(&g_pk, 0);
    expect_refused("[0]", "not a MessagePack-RPC frame", false, 0);
    msgpack_sbuffer_clear(&g_sb);
    msgpack_pack_array(&g_pk, 2);
    msgpack_pack_int(&g_pk, 0);
    msgpack_pack_int(&g_pk, 5);
    expect_refused("[0, 5]", "not a MessagePack-RPC frame", true, 5);
    msgpack_sbuffer_clear(&g_sb);
    msgpack_pack_array(&g_pk, 2);
    msgpack_pack_int(&g_pk, 2);
    str("ping");
    expect_refused("[2, \"ping\"]", "not a MessagePack-RPC frame", false, 0);
}

Test(rpc, a_request_of_the_wrong_length_or_type_is_answered)
{
    /* [0, 5, "m"]: a request without params. */
    msgpack_pack_array(&g_pk, 3);
    msgpack_pack_int(&g_pk, 0);
    msgpack_pack_int(&g_pk, 5);
    str("m");
    expect_refused("three elements", "expected [0, msgid, method, params]", true, 5);
    /* [0, 6, "m", [], nil]: one too many. */
    msgpack_sbuffer_clear(&g_sb);
    msgpack_pack_array(&g_pk, 5);
    msgpack_pack_int(&g_pk, 0);
    msgpack_pack_int(&g_pk, 6);
    str("m");
    msgpack_pack_array(&g_pk, 0);
    msgpack_pack_nil(&g_pk);
    expect_refused("five elements", "expected [0, msgid, method, params]", true, 6);
    /* [1, 7, nil, nil]: a response sent to the server; [3, 8, ...]: no such type. */
    msgpack_sbuffer_clear(&g_sb);
    msgpack_pack_array(&g_pk, 4);
    msgpack_pack_int(&g_pk, 1);
    msgpack_pack_int(&g_pk, 7);
    msgpack_pack_nil(&g_pk);
    msgpack_pack_nil(&g_pk);
    expect_refused("a response", "not a MessagePack-RPC request", true, 7);
    msgpack_sbuffer_clear(&g_sb);
    msgpack_pack_array(&g_pk, 4);
    msgpack_pack_int(&g_pk, 3);
    msgpack_pack_int(&g_pk, 8);
    str("m");
    msgpack_pack_array(&g_pk, 0);
    expect_refused("type 3", "not a MessagePack-RPC request", true, 8);
}

Test(rpc, a_type_that_is_not_an_unsigned_integer_cannot_be_answered)
{
    msgpack_pack_array(&g_pk, 4);
    str("0");
    msgpack_pack_int(&g_pk, 5);
    str("m");
    msgpack_pack_array(&g_pk, 0);
    expect_refused("a string type", "not a MessagePack-RPC request", false, 0);
    msgpack_sbuffer_clear(&g_sb);
    msgpack_pack_array(&g_pk, 4);
    msgpack_pack_int(&g_pk, -1);
    msgpack_pack_int(&g_pk, 5);
    str("m");
    msgpack_pack_array(&g_pk, 0);
    expect_refused("type -1", "not a MessagePack-RPC request", false, 0);
}

Test(rpc, a_msgid_outside_uint32_cannot_be_answered)
{
    msgpack_pack_array(&g_pk, 4);
    msgpack_pack_int(&g_pk, 0);
    msgpack_pack_int(&g_pk, -1);
    str("m");
    msgpack_pack_array(&g_pk, 0);
    expect_refused("msgid -1", "msgid must be an unsigned 32-bit integer", false, 0);
    msgpack_sbuffer_clear(&g_sb);
    msgpack_pack_array(&g_pk, 4);
    msgpack_pack_int(&g_pk, 0);
    msgpack_pack_uint64(&g_pk, (uint64_t)UINT32_MAX + 1);
    str("m");
    msgpack_pack_array(&g_pk, 0);
    expect_refused("msgid 2^32", "msgid must be an unsigned 32-bit integer", false, 0);
    msgpack_sbuffer_clear(&g_sb);
    msgpack_pack_array(&g_pk, 4);
    msgpack_pack_int(&g_pk, 0);
    str("1");
    str("m");
    msgpack_pack_array(&g_pk, 0);
    expect_refused("msgid as a string", "msgid must be an unsigned 32-bit integer", false, 0);
    msgpack_sbuffer_clear(&g_sb);
    msgpack_pack_array(&g_pk, 4);
    msgpack_pack_int(&g_pk, 0);
    msgpack_pack_double(&g_pk, 1.0);
    str("m");
    msgpack_pack_array(&g_pk, 0);
    expect_refused("msgid 1.0", "msgid must be an unsigned 32-bit integer", false, 0);
}

Test(rpc, a_bad_method_or_params_is_answered_with_its_msgid)
{
    msgpack_pack_array(&g_pk, 4);
    msgpack_pack_int(&g_pk, 0);
    msgpack_pack_int(&g_pk, 9);
    msgpack_pack_int(&g_pk, 42);
    msgpack_pack_array(&g_pk, 0);
    expect_refused("method 42", "method must be a string", true, 9);
    msgpack_sbuffer_clear(&g_sb);
    msgpack_pack_array(&g_pk, 4);
    msgpack_pack_int(&g_pk, 0);
    msgpack_pack_int(&g_pk, 10);
    msgpack_pack_nil(&g_pk);
    msgpack_pack_array(&g_pk, 0);
    expect_refused("method nil", "method must be a string", true, 10);
    msgpack_sbuffer_clear(&g_sb);
    msgpack_pack_array(&g_pk, 4);
    msgpack_pack_int(&g_pk, 0);
    msgpack_pack_int(&g_pk, 11);
    str("decide");
    msgpack_pack_map(&g_pk, 0);
    expect_refused("params a map", "params must be an array", true, 11);
    msgpack_sbuffer_clear(&g_sb);
    msgpack_pack_array(&g_pk, 4);
    msgpack_pack_int(&g_pk, 0);
    msgpack_pack_int(&g_pk, 12);
    str("decide");
    msgpack_pack_nil(&g_pk);
    expect_refused("params nil", "params must be an array", true, 12);
}

Test(rpc, a_malformed_notification_is_never_answered)
{
    msgpack_pack_array(&g_pk, 3);
    msgpack_pack_int(&g_pk, 2);
    msgpack_pack_int(&g_pk, 1);
    msgpack_pack_array(&g_pk, 0);
    expect_refused("method 1", "notification must be [2, method, params]", false, 0);
    msgpack_sbuffer_clear(&g_sb);
    msgpack_pack_array(&g_pk, 3);
    msgpack_pack_int(&g_pk, 2);
    str("ping");
    msgpack_pack_nil(&g_pk);
    expect_refused("params nil", "notification must be [2, method, params]", false, 0);
    /* Four elements after a 2: neither a request nor a notification, and
     * its second element is not a msgid to answer. */
    msgpack_sbuffer_clear(&g_sb);
    msgpack_pack_array(&g_pk, 4);
    msgpack_pack_int(&g_pk, 2);
    msgpack_pack_int(&g_pk, 5);
    str("ping");
    msgpack_pack_array(&g_pk, 0);
    expect_refused("[2, 5, \"ping\", []]", "not a MessagePack-RPC request", false, 0);
}

/* ---- the envelope's bytes -------------------------------------------------------- */

static void expect_bytes(const unsigned char *want, size_t n, const char *what)
{
    cr_assert_eq(g_sb.size, n, "%s: %zu bytes, want %zu", what, g_sb.size, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq((unsigned char)g_sb.data[i], want[i], "%s: byte %zu is 0x%02x, want 0x%02x", what,
                     i, (unsigned char)g_sb.data[i], want[i]);
}

Test(rpc, a_result_head_is_response_msgid_and_nil)
{
    arb_rpc_pack_result_head(&g_pk, 5);
    msgpack_pack_true(&g_pk);
    static const unsigned char want[] = { 0x94, 0x01, 0x05, 0xc0, 0xc3 };
    expect_bytes(want, sizeof want, "[1, 5, nil, true]");
    msgpack_sbuffer_clear(&g_sb);
    arb_rpc_pack_result_head(&g_pk, UINT32_MAX);
    msgpack_pack_nil(&g_pk);
    static const unsigned char big[] = { 0x94, 0x01, 0xce, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0 };
    expect_bytes(big, sizeof big, "[1, 2^32-1, nil, nil]");
}

Test(rpc, an_error_is_code_and_message_then_nil)
{
    arb_rpc_pack_error(&g_pk, 3, ARB_OVERLOADED, "busy");
    static const unsigned char want[] = {
        0x94, 0x01, 0x03,
        0x82,
        0xa4, 'c', 'o', 'd', 'e', 0xaa, 'o', 'v', 'e', 'r', 'l', 'o', 'a', 'd', 'e', 'd',
        0xa7, 'm', 'e', 's', 's', 'a', 'g', 'e', 0xa4, 'b', 'u', 's', 'y',
        0xc0,
    };
    expect_bytes(want, sizeof want, "overloaded");
}

Test(rpc, an_error_list_adds_every_item_under_errors)
{
    char *items[] = { "a.lua:3: unknown field 'valeu'", "b.lua:1: syntax error" };
    arb_rpc_pack_error_list(&g_pk, 4, ARB_INVALID_PARAMS, "2 problems", items, 2);
    const msgpack_object *f = frame();
    cr_assert_eq(f->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(f->via.array.size, 4);
    const msgpack_object *a = f->via.array.ptr;
    cr_assert_eq(a[0].via.u64, 1);
    cr_assert_eq(a[1].via.u64, 4);
    cr_assert_eq(a[3].type, MSGPACK_OBJECT_NIL);
    const msgpack_object *e = &a[2];
    cr_assert_eq(e->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(e->via.map.size, 3);
    const char *keys[] = { "code", "message", "errors" };
    for (uint32_t i = 0; i < 3; i++) {
        const msgpack_object *k = &e->via.map.ptr[i].key;
        cr_assert(k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(keys[i]) &&
                  memcmp(k->via.str.ptr, keys[i], k->via.str.size) == 0, "key %u", i);
    }
    const msgpack_object *code = &e->via.map.ptr[0].val, *msg = &e->via.map.ptr[1].val;
    cr_assert(code->via.str.size == 14 && memcmp(code->via.str.ptr, "invalid_params", 14) == 0);
    cr_assert(msg->via.str.size == 10 && memcmp(msg->via.str.ptr, "2 problems", 10) == 0);
    const msgpack_object *errs = &e->via.map.ptr[2].val;
    cr_assert_eq(errs->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(errs->via.array.size, 2);
    for (uint32_t i = 0; i < 2; i++) {
        cr_assert_eq(errs->via.array.ptr[i].type, MSGPACK_OBJECT_STR);
        cr_assert_eq(errs->via.array.ptr[i].via.str.size, strlen(items[i]));
        cr_assert(memcmp(errs->via.array.ptr[i].via.str.ptr, items[i], strlen(items[i])) == 0);
    }
}

Test(rpc, an_error_list_of_none_is_a_plain_error)
{
    arb_rpc_pack_error_list(&g_pk, 3, ARB_OVERLOADED, "busy", NULL, 0);
    msgpack_sbuffer plain;
    msgpack_sbuffer_init(&plain);
    msgpack_packer ppk;
    msgpack_packer_init(&ppk, &plain, msgpack_sbuffer_write);
    arb_rpc_pack_error(&ppk, 3, ARB_OVERLOADED, "busy");
    cr_assert_eq(g_sb.size, plain.size);
    cr_assert(memcmp(g_sb.data, plain.data, g_sb.size) == 0, "no `errors` key without items");
    msgpack_sbuffer_destroy(&plain);
}

Test(rpc, messages_and_items_that_are_not_utf8_are_escaped)
{
    char *items[] = { "bad \xff item" };
    arb_rpc_pack_error_list(&g_pk, 1, ARB_INVALID_REQUEST, "method \xc3( unknown", items, 1);
    const msgpack_object *e = &frame()->via.array.ptr[2];
    const msgpack_object *msg = &e->via.map.ptr[1].val;
    const char *want = "method \\xC3( unknown";
    cr_assert(msg->via.str.size == strlen(want) && memcmp(msg->via.str.ptr, want, strlen(want)) == 0,
              "message '%.*s'", (int)msg->via.str.size, msg->via.str.ptr);
    const msgpack_object *item = &e->via.map.ptr[2].val.via.array.ptr[0];
    const char *iwant = "bad \\xFF item";
    cr_assert(item->via.str.size == strlen(iwant) && memcmp(item->via.str.ptr, iwant, strlen(iwant)) == 0,
              "item '%.*s'", (int)item->via.str.size, item->via.str.ptr);
}

Test(rpc, every_code_has_its_wire_name)
{
    static const char *const names[ARB_CODE_COUNT] = {
        "invalid_request", "method_not_found", "invalid_params", "overloaded",
        "deadline_exceeded", "forbidden", "internal", "too_large", "unavailable",
    };
    for (int c = 0; c < ARB_CODE_COUNT; c++) {
        msgpack_sbuffer_clear(&g_sb);
        arb_rpc_pack_error(&g_pk, 1, (arb_code_t)c, "m");
        const msgpack_object *code = &frame()->via.array.ptr[2].via.map.ptr[0].val;
        cr_assert(code->via.str.size == strlen(names[c]) &&
                  memcmp(code->via.str.ptr, names[c], code->via.str.size) == 0, "code %d", c);
    }
}
