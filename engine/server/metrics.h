/* engine/server/: the methods bound to workers, connections and the loop.
 * This file keeps its folder's rule by touching no loop at all: the
 * Prometheus exposition text of /metrics (http.c) is a pure function of a
 * snapshot of numbers and names, so that it can be tested and fuzzed
 * without a server.
 */
#ifndef ARB_METRICS_H
#define ARB_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/base/stats.h"

/* How many chosen actions get a series of their own; the rest add up in
 * action="(other)". */
#define ARB_METRICS_TOP_ACTIONS 50

/* Everything /metrics shows, read at one moment. Every pointer is borrowed
 * for the call; names need not be valid UTF-8 (invalid bytes are shown as
 * U+FFFD). */
typedef struct arb_metrics_snap {
    arb_stats_t sum;                 /* every worker's counters, summed (arb__server_stats) */
    int64_t connections;             /* RPC connections open now */
    uint64_t connections_refused;
    uint64_t reloads_ok, reloads_failed;
    uint64_t log_written, log_dropped, log_failed;
    uint64_t arms, learn_dropped;
    bool ready;                      /* what /readyz says now */
    /* The ruleset serving now: its version and the names its counts are
     * indexed by; NULL version: none loaded. */
    const char *version;
    uint32_t n_channels, n_touchpoints, n_actions;
    const char *const *channels, *const *touchpoints, *const *actions;
    /* The counts of the workers that count for this ruleset (stats.h's
     * by_channel_tp and by_action, summed). */
    uint64_t by_channel_tp[ARB_STATS_CHANNELS + 1][ARB_STATS_TOUCHPOINTS + 1];
    uint64_t by_action[ARB_STATS_ACTIONS + 1];
    /* The process (/proc/self); negative: unknown, the family is left out. */
    int64_t rss_bytes, open_fds;
    double start_time_s;             /* unix seconds; <= 0: unknown */
    /* The HTTP endpoint itself. */
    uint64_t http_requests, http_rejected;
} arb_metrics_snap_t;

/* The exposition text (format 0.0.4) of m: a NUL-terminated string the
 * caller frees, its length in *len; NULL when memory ran out. */
char *arb_metrics_render(const arb_metrics_snap_t *m, size_t *len);

#endif
