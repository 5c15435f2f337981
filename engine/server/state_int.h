/* What the files of the state methods share (state_calls.c runs the
 * machine and the store calls; state_decide.c makes a decision's round:
 * its copy, its commit, what it keeps and what it teaches). Private to
 * engine/server/.
 */
#ifndef ARB_SERVER_STATE_INT_H
#define ARB_SERVER_STATE_INT_H

#include <msgpack.h>
#include <stdatomic.h>

#include "engine/request/commit.h"
#include "engine/request/decision.h"
#include "engine/request/track.h"
#include "engine/server/state_calls.h"
#include "engine/server/worker.h"
#include "engine/state/store.h"

#define ROUNDS_MAX 3

/* Who finishes a store call: the worker when the callback came while the
 * call was still running (CALL_IN -> CALL_DONE), the inbox when it came
 * after the call returned (CALL_WAITING -> posted). */
enum { CALL_IN, CALL_WAITING, CALL_DONE };

enum { ST_START, ST_FETCHED, ST_COMMITTED, ST_FORGOTTEN };

struct arb_pending {
    arb_worker_t *w;
    arb_method_t m;
    uint64_t conn_id;          /* 0: a notification, nobody to answer */
    uint64_t seq;              /* its answer's place in the connection's line */
    uint32_t msgid;
    int stage;
    int rounds;                /* decide: decisions made so far */
    bool degraded;             /* the store failed and --state-fail open: record nothing */
    _Atomic int call;
    uint64_t call_ns;          /* when the store call began (arb_clock_mono_ns), for /metrics */
    /* Kept with p between requests (the worker's spares): */
    arb_pending_t *next_spare;
    arb_inbox_item_t *item;    /* posted by the store's thread when it completes late; p's */
    arb_arena_t arena;         /* one round's memory: customer, decision copy, contacts */
    char *frame;               /* decide, once it waits on the store: its frame's bytes */
    size_t frame_cap;          /* ... the room there, reserved before the first store call */
    /* Cleared for each request: */
    size_t frame_len;
    const msgpack_object *arg; /* decide: the context, the frame's while arb_state_call
                                  runs, else ctx's; NULL: not unpacked yet */
    msgpack_unpacked ctx;      /* ... the kept frame, unpacked when a round needs it */
    /* decide's common request, read from its bytes (arb_state_decide): the
     * context parsed, the frame's while arb_state_decide runs (NULL once
     * the frame is kept: a later round then decides on arg), and params[0]'s
     * bytes, in the frame, then in its copy. */
    const arb_context_t *parsed;
    uint64_t parse_ns;         /* ... what parsing it took */
    const char *ctx_bytes;
    size_t ctx_len;
    char id[ARB_STORE_ID_MAX + 1];
    arb_commit_t commit;       /* track, feedback: what to write (in arena) */
    arb_retention_t ret;       /* the ruleset's, which commit points to */
    arb_customer_t customer;   /* what fetch read (in arena) */
    /* The store's answer, written by the thread that calls back. */
    int status;
    arb_code_t code;
    char message[sizeof(((arb_err_t *)0)->message)];
    bool *granted;             /* n_contacts entries, in arena */
    size_t n_contacts, n_granted, stored;
    size_t outcomes_counted;   /* outcomes the commit stored as new (not repeats) */
    /* decide: this round's decision, copied into arena, and its contacts */
    arb_decision_t dec;
    arb_contact_req_t *reqs;
    arb_offer_req_t *offers;   /* ... the adaptive actions it shows, for learning */
    size_t n_offers;
    /* feedback: the action, its time, and what the store found to learn */
    const char *fb_action;
    int64_t fb_ts;
    arb_commit_result_t learned;
    arb_feedback_t fb;         /* feedback: its argument, for the decision log (in arena) */
    /* The decision log (on): the fresh pseudonym every commit offers (the
     * store keeps an older one), and the customer's after the commit. */
    char fresh_pseudonym[33];
    char pseudonym[33];
    bool committed;            /* this round's commit completed */
};

/* The context p decides on (see arb_pending.arg); NULL when out of memory. */
const msgpack_object *arb__state_context(arb_pending_t *p);

/* A copy of s (n bytes, NUL added) in a, NULL when s is or out of memory. */
char *arb__state_copy_bytes(arb_arena_t *a, const char *s, size_t n);
#define arb__state_copy_str(a, s) ((s) ? arb__state_copy_bytes((a), (s), strlen(s)) : NULL)

/* d, copied into p's arena as p->dec: it answers after the commit. */
int arb__state_copy_decision(arb_pending_t *p, const arb_decision_t *d, arb_err_t *err);

/* p->dec's contacts and offers as p->commit: how many (0: nothing to
 * commit, answer now), -1 with err. */
int arb__state_decision_commit(arb_pending_t *p, arb_err_t *err);

/* Keep only p->dec's actions whose every contact was granted. */
void arb__state_keep_granted(arb_pending_t *p);

/* What p's stored commit teaches, to the learner. */
void arb__state_learn(arb_pending_t *p);

/* With the decision log on: a fresh pseudonym for p's commit (32 hex digits
 * from getrandom), or NULL when the log is off or getrandom failed. */
const char *arb__state_fresh_pseudonym(arb_pending_t *p);

/* p is answered (0 from its machine): log what it committed, with the
 * customer's pseudonym, when the log is on. */
void arb__state_log(arb_pending_t *p);

#endif
