/* A connection's timer duty (see conn.h, arb_conn_check_timeouts): the
 * owner's sweep closes the connections that stalled, idled or, while the
 * server drains, went quiet. Uses conn.h's public API only. */
#include "engine/server/conn.h"

#include "engine/base/log.h"

void arb_conn_check_timeouts(arb_conn_t *c, uint64_t now_ms, bool draining,
                             uint64_t drain_deadline_ms)
{
    const arb_config_t *cfg = c->set->cfg;
    if (c->closing) return;
    if (c->frame_started_ms && cfg->frame_timeout > 0 &&
        now_ms - c->frame_started_ms > (uint64_t)(cfg->frame_timeout * 1000)) {
        arb_log_warn("closing connection", "reason=\"partial frame stalled\" worker=%d",
                     c->set->log_index);
        arb_conn_close(c);
        return;
    }
    if (cfg->idle_timeout > 0 && !c->writing &&
        now_ms - c->last_active_ms > (uint64_t)(cfg->idle_timeout * 1000)) {
        arb_conn_close(c);
        return;
    }
    if (draining) {
        bool quiet = now_ms - c->last_active_ms >= 100 && !c->writing &&
                     arb_conn_queued(c) == 0 && !c->pending;
        if (quiet || now_ms >= drain_deadline_ms) arb_conn_close(c);
    }
}
