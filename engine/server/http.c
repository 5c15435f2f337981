/* The HTTP endpoint (see http.h). Keeps the server folder's rule: it is
 * part of the server and reads the server's shared state (server_priv.h),
 * but runs on libmicrohttpd's own thread, so that no scrape, slow client or
 * flood of connections ever takes time from a worker.
 *
 * Bounds, as for bad RPC input (DESIGN.md section 10): at most
 * HTTP_CONNECTIONS connections (more are closed at accept by the library),
 * HTTP_TIMEOUT_S seconds per connection, HTTP_MEMORY bytes of request
 * buffer per connection (longer headers are answered 431 by the library),
 * only GET and HEAD (405) on three paths (404).
 *
 * /readyz: a ruleset is loaded, and with a Redis store the newest store
 * answer any worker saw was not a failure. The workers keep that
 * (stats.h's store_last_ok_ms / store_last_fail_ms); the endpoint never
 * talks to the store itself.
 */
#include "engine/server/http.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine/audit/log.h"
#include "engine/base/log.h"
#include "engine/ruleset/ruleset.h"
#include "engine/server/learn_sync.h"
#include "engine/server/metrics.h"
#include "engine/server/server_priv.h"

#define HTTP_CONNECTIONS 256
#define HTTP_TIMEOUT_S 10
#define HTTP_MEMORY (32 * 1024)

struct arb_http {
    arb_server_t *s;
    struct MHD_Daemon *d;
    pthread_mutex_t lock;        /* guards rs */
    arb_ruleset_t *rs;           /* the ruleset serving now; one hold owned */
    bool redis;                  /* the store is Redis: readiness follows its answers */
    double start_time_s;
    _Atomic uint64_t requests, rejected;
    _Atomic uint64_t log_sec, log_skipped;   /* on_mhd_error's rate limit */
};

/* "HOST:PORT" with an IPv4 literal, [IPv6] literal or localhost. */
static int parse_addr(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || !colon[1]) return -1;
    size_t hl = (size_t)(colon - spec);
    if (hl >= sizeof host) return -1;
    memcpy(host, spec, hl);
    host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) return -1;
    memset(ss, 0, sizeof *ss);
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        host[hl - 1] = '\0';
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *len = sizeof *a;
        return inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1 ? 0 : -1;
    }
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    *len = sizeof *a;
    return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

/* ------------------------------------------------------------ reading */

static int64_t proc_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    long long size, rss;
    int n = fscanf(f, "%lld %lld", &size, &rss);
    fclose(f);
    return n == 2 ? rss * (int64_t)sysconf(_SC_PAGESIZE) : -1;
}

static int64_t proc_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int64_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1;   /* the directory's own descriptor */
}

/* The process's start, from /proc/self/stat's starttime and the boot time. */
static double proc_start_time(void)
{
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f) return 0;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');   /* the command name may hold spaces */
    unsigned long long start = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
                            "%*d %*d %*d %llu", &start) != 1)
        return 0;
    f = fopen("/proc/stat", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long btime = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "btime %llu", &btime) == 1) break;
    fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    return btime && hz > 0 ? (double)btime + (double)start / (double)hz : 0;
}

/* Whether the store answered the last time any worker asked it. */
static bool store_ready(arb_http_t *h, const char **why)
{
    if (!h->redis) return true;
    uint64_t ok = 0, fail = 0;
    for (int i = 0; i < h->s->nworkers; i++) {
        const arb_stats_t *st = &h->s->workers[i].stats;
        uint64_t o = atomic_load_explicit(&st->store_last_ok_ms, memory_order_relaxed);
        uint64_t f = atomic_load_explicit(&st->store_last_fail_ms, memory_order_relaxed);
        if (o > ok) ok = o;
        if (f > fail) fail = f;
    }
    if (fail > ok) *why = "the customer store (Redis) failed its last call";
    return fail <= ok;
}

static bool ready(arb_http_t *h, bool have_rs, const char **why)
{
    if (!have_rs) {
        *why = "no ruleset loaded";
        return false;
    }
    return store_ready(h, why);
}

/* Add the per-ruleset counts of every worker counting for seq; a worker
 * swapping rulesets meanwhile is left out (stats.h's rs_seq protocol). */
static void sum_ruleset_counts(arb_http_t *h, uint64_t seq, arb_metrics_snap_t *m)
{
    static const size_t ncells = (ARB_STATS_CHANNELS + 1) * (ARB_STATS_TOUCHPOINTS + 1);
    uint64_t cells[(ARB_STATS_CHANNELS + 1) * (ARB_STATS_TOUCHPOINTS + 1)];
    uint64_t acts[ARB_STATS_ACTIONS + 1];
    for (int i = 0; i < h->s->nworkers; i++) {
        const arb_stats_t *st = &h->s->workers[i].stats;
        if (atomic_load_explicit(&st->rs_seq, memory_order_acquire) != seq) continue;
        const _Atomic uint64_t *c = &st->by_channel_tp[0][0];
        for (size_t k = 0; k < ncells; k++) cells[k] = atomic_load_explicit(&c[k], memory_order_relaxed);
        for (size_t k = 0; k <= ARB_STATS_ACTIONS; k++)
            acts[k] = atomic_load_explicit(&st->by_action[k], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&st->rs_seq, memory_order_relaxed) != seq) continue;
        uint64_t *dst = &m->by_channel_tp[0][0];
        for (size_t k = 0; k < ncells; k++) dst[k] += cells[k];
        for (size_t k = 0; k <= ARB_STATS_ACTIONS; k++) m->by_action[k] += acts[k];
    }
}

/* Names of the ruleset's channels, touchpoints and actions (up to the
 * stats bounds), pointing into rs; arrays allocated in *names. */
static int ruleset_names(arb_ruleset_t *rs, arb_metrics_snap_t *m, const char ***names)
{
    arb_ruleset_view_t v;
    arb_ruleset_view(rs, &v);
    m->version = v.version;
    m->n_channels = v.n_channels < ARB_STATS_CHANNELS ? v.n_channels : ARB_STATS_CHANNELS;
    m->n_touchpoints = v.n_touchpoints < ARB_STATS_TOUCHPOINTS ? v.n_touchpoints
                                                               : ARB_STATS_TOUCHPOINTS;
    m->n_actions = v.n_actions < ARB_STATS_ACTIONS ? v.n_actions : ARB_STATS_ACTIONS;
    const char **a = calloc((size_t)m->n_channels + m->n_touchpoints + m->n_actions + 1, sizeof *a);
    if (!a) return -1;
    for (uint32_t i = 0; i < m->n_channels; i++) a[i] = arb_ruleset_channel(rs, i);
    for (uint32_t i = 0; i < m->n_touchpoints; i++) {
        arb_touchpoint_view_t t;
        arb_ruleset_touchpoint(rs, i, &t);
        a[m->n_channels + i] = t.id;
    }
    for (uint32_t i = 0; i < m->n_actions; i++) {
        arb_action_view_t av;
        arb_ruleset_action(rs, i, &av);
        a[m->n_channels + m->n_touchpoints + i] = av.id;
    }
    m->channels = a;
    m->touchpoints = a + m->n_channels;
    m->actions = a + m->n_channels + m->n_touchpoints;
    *names = a;
    return 0;
}

static arb_ruleset_t *current_ruleset(arb_http_t *h)
{
    pthread_mutex_lock(&h->lock);
    arb_ruleset_t *rs = h->rs ? arb_ruleset_retain(h->rs) : NULL;
    pthread_mutex_unlock(&h->lock);
    return rs;
}

static char *render_metrics(arb_http_t *h, size_t *len)
{
    arb_metrics_snap_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    arb_server_t *s = h->s;
    arb__server_stats(s, &m->sum, &m->connections, &m->reloads_ok, &m->reloads_failed,
                      &m->connections_refused);
    arb_learn_sync_gauges(s->learn, &m->arms, &m->learn_dropped);
    arb_log_stats_t ls;
    arb_log_stats(s->log, &ls);
    m->log_written = ls.written;
    m->log_dropped = ls.dropped;
    m->log_failed = ls.failed;
    arb_ruleset_t *rs = current_ruleset(h);
    const char **names = NULL, *why;
    m->ready = ready(h, rs != NULL, &why);
    char *text = NULL;
    if (!rs || ruleset_names(rs, m, &names) == 0) {
        if (rs) sum_ruleset_counts(h, strtoull(m->version, NULL, 10), m);
        m->rss_bytes = proc_rss_bytes();
        m->open_fds = proc_open_fds();
        m->start_time_s = h->start_time_s;
        m->http_requests = atomic_load(&h->requests);
        m->http_rejected = atomic_load(&h->rejected);
        text = arb_metrics_render(m, len);
    }
    free(names);
    arb_ruleset_free(rs);
    free(m);
    return text;
}

/* ------------------------------------------------------------ answering */

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *type,
                              char *body, size_t len, bool owned)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        if (owned) free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, "Allow", "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

#define TEXT "text/plain; charset=utf-8"
#define LIT(s) (char *)(s), sizeof(s) - 1, false

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)con_cls;
    arb_http_t *h = cls;
    atomic_fetch_add(&h->requests, 1);
    bool metrics = strcmp(url, "/metrics") == 0, health = strcmp(url, "/healthz") == 0,
         readyz = strcmp(url, "/readyz") == 0;
    if (!metrics && !health && !readyz) {
        atomic_fetch_add(&h->rejected, 1);
        return answer(c, MHD_HTTP_NOT_FOUND, TEXT, LIT("not found: try /metrics, /healthz or /readyz\n"));
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        atomic_fetch_add(&h->rejected, 1);
        return answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, TEXT, LIT("only GET and HEAD\n"));
    }
    if (health) return answer(c, MHD_HTTP_OK, TEXT, LIT("ok\n"));
    if (readyz) {
        arb_ruleset_t *rs = current_ruleset(h);
        const char *why = "";
        bool ok = ready(h, rs != NULL, &why);
        arb_ruleset_free(rs);
        if (ok) return answer(c, MHD_HTTP_OK, TEXT, LIT("ready\n"));
        char *body;
        int n = asprintf(&body, "not ready: %s\n", why);
        if (n < 0) return MHD_NO;
        return answer(c, MHD_HTTP_SERVICE_UNAVAILABLE, TEXT, body, (size_t)n, true);
    }
    size_t len = 0;
    char *text = render_metrics(h, &len);
    if (!text) return answer(c, MHD_HTTP_INTERNAL_SERVER_ERROR, TEXT, LIT("out of memory\n"));
    return answer(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len, true);
}

/* The library's complaints (a connection over the limit, a bad request),
 * at most one a second: a flood must not become a flood of log lines. */
static void on_mhd_error(void *cls, const char *fmt, va_list ap)
{
    arb_http_t *h = cls;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t sec = (uint64_t)now.tv_sec, last = atomic_load(&h->log_sec);
    if (last == sec || !atomic_compare_exchange_strong(&h->log_sec, &last, sec)) {
        atomic_fetch_add(&h->log_skipped, 1);
        return;
    }
    char msg[512], q[1100];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = '\0';
    arb_log_warn("http", "error=%s skipped_since=%llu", arb_log_quote(msg, q, sizeof q),
                 (unsigned long long)atomic_exchange(&h->log_skipped, 0));
}

/* ------------------------------------------------------------ lifetime */

arb_http_t *arb_http_start(arb_server_t *s, const char *spec, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_addr(spec, &ss, &sl) < 0) {
        snprintf(err, errlen, "--http %s: expected HOST:PORT with an IP address, e.g. "
                 "127.0.0.1:9090 or [::1]:9090", spec);
        return NULL;
    }
    arb_http_t *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->s = s;
    h->redis = strncmp(s->cfg.state, "redis://", 8) == 0;
    h->start_time_s = proc_start_time();
    pthread_mutex_init(&h->lock, NULL);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTIONS,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)128,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, h,
                            MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, errlen, "--http %s: cannot listen (address in use, or not this host's?)",
                 spec);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return NULL;
    }
    return h;
}

void arb_http_set_ruleset(arb_http_t *h, arb_ruleset_t *rs)
{
    if (!h) return;
    arb_ruleset_t *hold = rs ? arb_ruleset_retain(rs) : NULL;
    pthread_mutex_lock(&h->lock);
    arb_ruleset_t *old = h->rs;
    h->rs = hold;
    pthread_mutex_unlock(&h->lock);
    arb_ruleset_free(old);
}

void arb_http_stop(arb_http_t *h)
{
    if (!h) return;
    MHD_stop_daemon(h->d);
    arb_ruleset_free(h->rs);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
