/* Unit tests for the requests a worker keeps between stateful calls
 * (engine/server/state_calls.c), driven through arb_state_call with a real
 * ruleset and the real memory store, the frame handed over as conn.c does:
 * a decision answered in place leaves its request (struct, arena, frame
 * room) to the next one, so that a steady stream allocates none; it
 * decides on the frame's own context and copies no frame; an answer in
 * place is the same whether its request was fresh or kept.
 */
#include <criterion/criterion.h>

#include <msgpack.h>
#include <string.h>

#include "engine/server/server_priv.h"
#include "engine/server/state_calls.h"
#include "engine/server/state_int.h"
#include "engine/server/worker.h"
#include "engine/state/store.h"
#include "engine/wire/rpc.h"
#include "tests/support/rulefix.h"

static arb_server_t S;
static arb_worker_t W;
static arb_conn_t C;

static void setup(void)
{
    rf_setup();
    cr_assert(rf_load(&R, "rules.lua", "action 'offer' { channels = { 'web' }, value = 1 }\n", NULL),
              "%s", rf_problems(&R));
    memset(&S, 0, sizeof S);
    S.cfg.max_pending = 4;
    S.cfg.max_answer = 1 << 20;
    arb_err_t err;
    cr_assert(arb_store_open(&S.store, "memory", NULL, &err) == 0, "%s", err.message);
    memset(&W, 0, sizeof W);
    W.server = &S;
    W.ruleset = R.rs;
    W.decider = R.d;
    cr_assert(uv_loop_init(&W.loop) == 0);
    W.session = arb_store_session_open(S.store, &err);
    cr_assert(W.session, "%s", err.message);
    memset(&C, 0, sizeof C);
    C.id = 1;
}

static void teardown(void)
{
    arb_state_spares_free(&W);
    arb_store_session_close(W.session);
    arb_store_close(S.store);
    uv_loop_close(&W.loop);
    rf_teardown();
}

TestSuite(state_spares, .init = setup, .fini = teardown);

static void pack_kv(msgpack_packer *pk, const char *k, const char *v)
{
    msgpack_pack_str_with_body(pk, k, strlen(k));
    msgpack_pack_str_with_body(pk, v, strlen(v));
}

/* decide for customer id, as conn.c hands a frame over; its answer (the
 * result's bytes) appended to out. */
static int decide(const char *id, msgpack_sbuffer *out)
{
    msgpack_sbuffer f;
    msgpack_sbuffer_init(&f);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &f, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_int(&pk, 0);
    msgpack_pack_uint32(&pk, 7);
    msgpack_pack_str_with_body(&pk, "decide", 6);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 4);
    pack_kv(&pk, "customer_id", id);
    pack_kv(&pk, "channel", "web");
    pack_kv(&pk, "touchpoint", "home");
    msgpack_pack_str_with_body(&pk, "now", 3);
    msgpack_pack_int64(&pk, 1767225600);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert(msgpack_unpack_next(&u, f.data, f.size, NULL) == MSGPACK_UNPACK_SUCCESS);
    C.frame = f.data;
    C.frame_len = f.size;
    arb_answer_t ans;
    arb_answer_begin(&ans, out, S.cfg.max_answer);
    msgpack_packer ap;
    msgpack_packer_init(&ap, &ans, arb_answer_write);
    arb_err_t err;
    int rc = arb_state_call(&W, &C, ARB_METHOD_DECIDE, 7, false,
                            &u.data.via.array.ptr[3].via.array.ptr[0], &ap, &err);
    cr_assert_eq(rc, 0, "%s", err.message);
    C.frame = NULL;
    C.frame_len = 0;
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&f);
    return rc;
}

Test(state_spares, a_request_answered_in_place_serves_the_next_one)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    decide("A", &out);
    cr_assert_eq(W.pending, 0);
    cr_assert_eq(W.n_spares, 1, "the finished request was not kept");
    arb_pending_t *kept = W.spares;
    cr_assert(kept->arena.head, "its arena's chunk was not kept");
    arb_arena_chunk_t *chunk = kept->arena.head;
    for (int i = 0; i < 50; i++) decide(i % 2 ? "A" : "B", &out);
    cr_assert_eq(W.n_spares, 1, "one request at a time needs one spare, not %u", W.n_spares);
    cr_assert_eq(W.spares, kept, "the next request did not reuse the kept one");
    cr_assert_eq(kept->arena.head, chunk, "the arena's chunk was allocated again");
    msgpack_sbuffer_destroy(&out);
}

Test(state_spares, a_decision_answered_in_place_copies_no_frame)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    decide("A", &out);
    cr_assert_eq(W.spares->frame_len, 0, "a frame was copied for a request that never waited");
    cr_assert_null(W.spares->ctx.zone, "the context was unpacked again");
    msgpack_sbuffer_destroy(&out);
}

Test(state_spares, an_answer_is_the_same_from_a_fresh_or_a_kept_request)
{
    msgpack_sbuffer a, b;
    msgpack_sbuffer_init(&a);
    msgpack_sbuffer_init(&b);
    decide("fresh-1", &a);   /* a fresh request */
    decide("fresh-2", &b);   /* the kept one, for a customer as new */
    /* The same but for what differs by nature: the decision id (random),
     * the customer named, the time taken. */
    msgpack_unpacked ua, ub;
    msgpack_unpacked_init(&ua);
    msgpack_unpacked_init(&ub);
    cr_assert(msgpack_unpack_next(&ua, a.data, a.size, NULL) == MSGPACK_UNPACK_SUCCESS);
    cr_assert(msgpack_unpack_next(&ub, b.data, b.size, NULL) == MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *ra = &ua.data.via.array.ptr[3], *rb = &ub.data.via.array.ptr[3];
    cr_assert_eq(ra->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(ra->via.map.size, rb->via.map.size);
    for (uint32_t i = 0; i < ra->via.map.size; i++) {
        const msgpack_object_kv *ka = &ra->via.map.ptr[i], *kb = &rb->via.map.ptr[i];
        cr_assert(msgpack_object_equal(ka->key, kb->key));
        const char *k = ka->key.via.str.ptr;
        size_t n = ka->key.via.str.size;
        bool own = (n == 11 && (memcmp(k, "decision_id", 11) == 0 || memcmp(k, "customer_id", 11) == 0)) ||
                   (n == 10 && memcmp(k, "elapsed_us", 10) == 0);
        if (!own)
            cr_assert(msgpack_object_equal(ka->val, kb->val), "field %.*s differs",
                      (int)ka->key.via.str.size, ka->key.via.str.ptr);
    }
    msgpack_unpacked_destroy(&ua);
    msgpack_unpacked_destroy(&ub);
    msgpack_sbuffer_destroy(&a);
    msgpack_sbuffer_destroy(&b);
}
