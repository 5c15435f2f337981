/* engine/wire/: bytes <-> values. Its rule: it knows no sockets and no
 * threads; rpc.c alone writes the envelope and {code, message}, and this
 * file's answer.c alone knows the shape of an answer. It includes only the
 * folders before it. (ARCHITECTURE.md; scripts/layers checks the includes.)
 *
 * The answer writer: the one place that knows the shape of a decision on
 * the wire (ARCHITECTURE.md rule 1). The decide path returns a value
 * (decision.h); these functions turn it into the MessagePack map a client
 * reads. They write through pk's callback only: the bound on an answer's
 * size and the handling of a refused write stay with pk's owner (wire/rpc.c). */
#ifndef ARB_ANSWER_H
#define ARB_ANSWER_H

#include <msgpack.h>

#include "engine/base/stats.h"
#include "engine/request/decision.h"
#include "engine/ruleset/ruleset.h"

/* Pack dec as {decision_id, ruleset, actions: [{id, priority, propensity,
 * value, payload}...], explain: [{id, chosen, reason}...] (with explain
 * only), elapsed_us}. Borrows dec for the call only. */
void arb_answer_pack_decision(msgpack_packer *pk, const arb_decision_t *dec);

/* The array head of a decide_many answer of n decisions. */
void arb_answer_pack_batch_head(msgpack_packer *pk, uint32_t n);

/* An arb_decision_sink_t (decide.h) packing each decision into the
 * msgpack_packer ud. */
int arb_answer_sink(void *ud, const arb_decision_t *dec);

/* `ping`: {pong: true, version}. */
void arb_answer_pack_ping(msgpack_packer *pk, const char *version);

/* What `stats` shows beside the summed counters: gauges and counts kept by
 * the server rather than by a worker. */
typedef struct arb_stats_gauges {
    int64_t connections;             /* open now, public and admin */
    uint64_t connections_refused;
    uint64_t reloads_ok, reloads_failed;
    uint64_t arms;                   /* learned arms in the published snapshot */
    uint64_t learn_dropped;          /* deltas dropped by --learn-max-arms/-segments */
    /* The decision log's counters (audit/log.h's arb_log_stats_t; 0 when off). */
    uint64_t log_written, log_dropped, log_failed, log_files;
} arb_stats_gauges_t;

/* `stats`: {requests, errors, connections, ..., decide_us, ruleset}; see
 * README's protocol table. */
void arb_answer_pack_stats(msgpack_packer *pk, const arb_stats_t *sum,
                           const arb_stats_gauges_t *g, const char *version);

/* `ruleset`: {version, checksum, loaded_at, dir, default_limit, channels,
 * models, touchpoints: [{id, limit, diverse}...], actions: [{id, channels,
 * touchpoints, requires, value, lever, model, category, fallback, dynamic,
 * file, line}...]}, read through ruleset.h's view. Borrows rs for the call. */
void arb_answer_pack_ruleset(msgpack_packer *pk, const arb_ruleset_t *rs);

/* The same, with catalog (borrowed; NULL: rs's own) as the catalog rs
 * decides with: a catalog-only reload's products, checksum and loaded_at. */
struct arb_catalog;
void arb_answer_pack_ruleset_reading(msgpack_packer *pk, const arb_ruleset_t *rs,
                                     const struct arb_catalog *catalog);

/* A reload's success: {version, actions}. */
void arb_answer_pack_reload(msgpack_packer *pk, const char *version, uint64_t actions);

/* The state methods' answers (DESIGN.md section 3). customer.h is not
 * included: its arb_event_t clashes with context.h's, which users of this
 * header include. */
typedef struct arb_customer arb_customer_t;

/* `track`: {stored: n}, n events, purchases and consents newly stored. */
void arb_answer_pack_track(msgpack_packer *pk, size_t stored);

/* `feedback`: {ok: true}. */
void arb_answer_pack_feedback(msgpack_packer *pk);

/* `customer`: everything stored about c, lists oldest first:
 *   {customer_id,
 *    events:       [{type, ts, sku?, category?, channel?, price?, ...extra}],
 *    purchases:    [{ts, sku?, category?, channel?, price?, ...extra}],
 *    contacts:     [{action, channel, ts, counted}],
 *    outcomes:     [{action, outcome, ts, decision_id?, channel?, value?}],
 *    consent:      {key: {granted, ts}},
 *    attributes:   {...} ({} when none),
 *    suppressions: [{action, until, reason?}]}
 * Events and purchases come back in the shape `track` took them, their
 * extra fields beside the known ones; a field marked ? is left out when it
 * was not sent. Every string is valid UTF-8 (other bytes as \xNN).
 * Borrows c for the call. */
void arb_answer_pack_customer(msgpack_packer *pk, const arb_customer_t *c);

/* `forget`: {forgotten: true}. */
void arb_answer_pack_forget(msgpack_packer *pk);

/* `learning`: [{action, channel, segment (nil for the pooled arm),
 * positives, negatives, trials, mean}], in the order given. */
struct arb_arm_view;
void arb_answer_pack_learning(msgpack_packer *pk, const struct arb_arm_view *rows, size_t n);

#endif
