/* Fuzz target: the /metrics renderer (engine/server/metrics.c). The HTTP
 * input itself is libmicrohttpd's; what is ours is the text it sends, made
 * from counters and from names the rule files choose.
 *
 * Input: bytes read as a snapshot: counter values (8 bytes each) for the
 * summed stats, the per-ruleset counts and the gauges, then NUL-separated
 * strings for the version, channels, touchpoints and actions (any bytes:
 * quotes, backslashes, newlines, invalid UTF-8; each name once in its list,
 * as a ruleset has them).
 *
 * Properties checked: the renderer never crashes or leaks (ASan); its text
 * passes the exposition validator of tests/support/expocheck.c (every line
 * well formed, typed, label values escaped and valid UTF-8, no series
 * twice); the histogram's count equals its +Inf bucket, and the
 * arbiter_ruleset_info series is there exactly when a version is.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/server/metrics.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/support/expocheck.h"

typedef struct {
    const uint8_t *p;
    size_t n;
} input_t;

static uint64_t u64(input_t *in)
{
    uint64_t v = 0;
    size_t k = in->n < 8 ? in->n : 8;
    memcpy(&v, in->p, k);
    in->p += k;
    in->n -= k;
    return v;
}

/* The next NUL-terminated string of the input (copied into a pool). */
static const char *str(input_t *in, char **pool, size_t *left)
{
    const uint8_t *z = memchr(in->p, 0, in->n);
    size_t k = z ? (size_t)(z - in->p) : in->n;
    if (k + 1 > *left) k = *left ? *left - 1 : 0;
    if (!*left) return "";
    char *s = *pool;
    memcpy(s, in->p, k);
    s[k] = '\0';
    *pool += k + 1;
    *left -= k + 1;
    size_t used = z ? (size_t)(z - in->p) + 1 : in->n;
    in->p += used;
    in->n -= used;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input_t in = { data, size };
    arb_metrics_snap_t *m = calloc(1, sizeof *m);
    static char buf[1 << 16];
    static const char *names[3 * 64];
    char *pool = buf;
    size_t left = sizeof buf;
    FUZZ_REQUIRE(m, "out of memory");
    uint8_t shape = (uint8_t)u64(&in);
    _Atomic uint64_t *w = (_Atomic uint64_t *)&m->sum;
    size_t nw = sizeof m->sum / sizeof(uint64_t);
    for (size_t i = 0; i < nw && in.n; i += 1 + (u64(&in) & 63))
        atomic_store(&w[i], u64(&in));
    for (int i = 0; i < 8 && in.n; i++) {
        uint64_t at = u64(&in);
        m->by_channel_tp[at % (ARB_STATS_CHANNELS + 1)][(at >> 8) % (ARB_STATS_TOUCHPOINTS + 1)] = u64(&in);
        m->by_action[(at >> 16) % (ARB_STATS_ACTIONS + 1)] = u64(&in);
    }
    m->connections = (int64_t)u64(&in);
    m->reloads_ok = u64(&in);
    m->rss_bytes = (int64_t)u64(&in);
    m->open_fds = (int64_t)u64(&in);
    m->start_time_s = (double)(u64(&in) % 4000000000u);
    m->ready = shape & 1;
    if (shape & 2) m->version = str(&in, &pool, &left);
    m->n_channels = (shape >> 2) & 15;
    m->n_touchpoints = (shape >> 4) & 15;
    m->n_actions = 64;
    for (uint32_t i = 0; i < m->n_channels + m->n_touchpoints + m->n_actions; i++)
        names[i] = in.n ? str(&in, &pool, &left) : "x";
    /* A ruleset names each channel, touchpoint and action once: a name
     * met again in its list (the input ran out, or repeats one) is made
     * distinct, as the loader would have refused the copy. */
    static char renamed[3 * 64][16];
    uint32_t lists[3][2] = { { 0, m->n_channels },
                             { m->n_channels, m->n_channels + m->n_touchpoints },
                             { m->n_channels + m->n_touchpoints, m->n_channels + m->n_touchpoints + m->n_actions } };
    for (int l = 0; l < 3; l++)
        for (uint32_t i = lists[l][0]; i < lists[l][1]; i++)
            for (uint32_t j = lists[l][0], tries = 0; j < i; j++)
                if (strcmp(names[i], names[j]) == 0) {   /* renamed until unlike every earlier one */
                    snprintf(renamed[i], sizeof renamed[i], "dup-%u-%u", i, tries++);
                    names[i] = renamed[i];
                    j = lists[l][0] - 1;
                }
    m->channels = names;
    m->touchpoints = names + m->n_channels;
    m->actions = names + m->n_channels + m->n_touchpoints;
    if (shape & 128) m->n_actions = 0, m->actions = NULL;

    size_t len = 0;
    char *t = arb_metrics_render(m, &len);
    FUZZ_REQUIRE(t, "out of memory rendering");
    char why[512];
    FUZZ_CHECK(arb_expo_check(t, len, why, sizeof why) == 0, "invalid exposition: %s", why);
    FUZZ_CHECK(arb_expo_value(t, "arbiter_decide_duration_seconds_count") ==
                   arb_expo_value(t, "arbiter_decide_duration_seconds_bucket{le=\"+Inf\"}"),
               "histogram count is not its +Inf bucket");
    FUZZ_CHECK((strstr(t, "\narbiter_ruleset_info{") != NULL) == (m->version != NULL),
               "ruleset_info without a version, or the other way round");
    free(t);
    free(m);
    return 0;
}
