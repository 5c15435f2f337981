/* Closed-loop load generator for an Arbiter (or any msgpack-rpc) server.
 *
 * N connections each keep D requests in flight: every answer received is
 * replaced by a new request, written together with the others completed in
 * the same read. Latency is measured per request from the write to the
 * answer, into the same log-linear histogram the server uses. One libuv
 * loop, one thread: pin it to its own core.
 *
 * usage: loadgen --connect HOST:PORT [--conns N] [--depth D] [--seconds S]
 *                [--warmup S] [--method decide|ping|track|feedback] [--contexts FILE.msgpack]
 *                [--action NAME] (feedback's action; default promo_<n>)
 *                [--server-pid PID] [--payload] [--hold] [--customers N]
 * prints one line: key=value results (throughput, p50/p99/p999 in us,
 * errors, server CPU seconds per second when --server-pid is given).
 * --payload sends the contexts as ping's params too: the transport baseline
 * with the same bytes on the wire and the same decoding as decide.
 * --method track and feedback make their own params, packed per request:
 * a track of 2 events (view, cart_add) and a feedback impression with a
 * unique decision_id, each for a customer drawn from 10,000 (a fixed-seed
 * generator, so runs compare), so their throughput compares with
 * ping --payload and decide.
 * --customers N (decide, ping --payload) replaces each context's customer_id
 * (the workload's "C" and 7 digits) by one drawn from N, in place: with
 * the workload's own 999 ids every customer is decided hundreds of times a
 * second and a store's contacts pile up to its retention; with N large each
 * is decided a few times a run, as a real one is.
 * --hold opens the connections, sends one ping on each, and keeps them open
 * until stdin closes (for measuring the server's memory with many clients).
 */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "engine/base/stats.h"

typedef struct lg_conn {
    uv_tcp_t tcp;
    uv_connect_t connect;
    msgpack_unpacker unp;
    uint32_t next_msgid;
    uint64_t sent_ns[4096];       /* by msgid % 4096: at most depth in flight */
    struct lg *lg;
} lg_conn_t;

typedef struct lg {
    uv_loop_t *loop;
    const char *method;
    const char *action;           /* --action: feedback's action (default promo_<n>) */
    char **ctx;                   /* packed contexts */
    size_t *ctx_len;
    size_t n_ctx, next_ctx;
    long *ctx_id_at;              /* offset of the customer_id's 7 digits in each context, or -1 */
    unsigned customers;           /* --customers N: ids redrawn from N; 0: as in the file */
    int depth;
    bool measuring, stopping, hold, payload;
    void (*gen)(struct lg *, msgpack_packer *);  /* track/feedback: packs params[0] */
    uint64_t seq;                 /* generated requests so far */
    uint32_t rng;                 /* xorshift state of the customer draw */
    int64_t now;                  /* unix seconds at start, for event times */
    uint64_t done, errors, connected, max_ns;
    arb_stats_t hist;
    msgpack_sbuffer batch;        /* requests of one read, written at once */
} lg_t;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_written(uv_write_t *req, int status)
{
    free(req->data);
    free(req);
}

static unsigned next_customer(lg_t *lg);

static void queue_request(lg_conn_t *c, msgpack_sbuffer *out)
{
    lg_t *lg = c->lg;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    uint32_t id = c->next_msgid++;
    msgpack_pack_array(&pk, 4);
    msgpack_pack_int(&pk, 0);
    msgpack_pack_uint32(&pk, id);
    msgpack_pack_str(&pk, strlen(lg->method));
    msgpack_pack_str_body(&pk, lg->method, strlen(lg->method));
    if (lg->gen) {
        msgpack_pack_array(&pk, 1);
        lg->gen(lg, &pk);
    } else if (lg->n_ctx) {
        msgpack_pack_array(&pk, 1);
        size_t i = lg->next_ctx++ % lg->n_ctx;
        msgpack_sbuffer_write(out, lg->ctx[i], lg->ctx_len[i]);
        if (lg->customers && lg->ctx_id_at[i] >= 0) {
            char digits[16];
            snprintf(digits, sizeof digits, "%07u", next_customer(lg) % lg->customers);
            memcpy(out->data + out->size - lg->ctx_len[i] + lg->ctx_id_at[i], digits, 7);
        }
    } else {
        msgpack_pack_array(&pk, 0);
    }
    c->sent_ns[id % 4096] = now_ns();
}

static void pk_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

#define CUSTOMERS 10000

/* The next customer of the draw: ids repeat, as a real store sees them. */
static unsigned next_customer(lg_t *lg)
{
    lg->rng ^= lg->rng << 13;
    lg->rng ^= lg->rng >> 17;
    lg->rng ^= lg->rng << 5;
    return lg->rng % CUSTOMERS;
}

static void pack_event(msgpack_packer *pk, const char *type, const char *sku, int64_t ts)
{
    msgpack_pack_map(pk, 5);
    pk_str(pk, "type"); pk_str(pk, type);
    pk_str(pk, "sku"); pk_str(pk, sku);
    pk_str(pk, "category"); pk_str(pk, "shoes");
    pk_str(pk, "channel"); pk_str(pk, "web");
    pk_str(pk, "ts"); msgpack_pack_int64(pk, ts);
}

/* {customer_id, events: [view, cart_add]}: a page view and an add to cart. */
static void gen_track(lg_t *lg, msgpack_packer *pk)
{
    char id[32], sku[32];
    unsigned cust = next_customer(lg);
    snprintf(id, sizeof id, "cust-%05u", cust);
    snprintf(sku, sizeof sku, "SKU-%04u", (unsigned)(lg->seq++ % 5000));
    msgpack_pack_map(pk, 2);
    pk_str(pk, "customer_id"); pk_str(pk, id);
    pk_str(pk, "events");
    msgpack_pack_array(pk, 2);
    pack_event(pk, "view", sku, lg->now - 60);
    pack_event(pk, "cart_add", sku, lg->now - 30);
}

/* {customer_id, action, outcome: impression, decision_id, channel}: the
 * impression of a decided action, its decision_id never seen before. */
static void gen_feedback(lg_t *lg, msgpack_packer *pk)
{
    char id[32], action[128], did[48];
    unsigned cust = next_customer(lg);
    snprintf(id, sizeof id, "cust-%05u", cust);
    if (lg->action) snprintf(action, sizeof action, "%s", lg->action);
    else snprintf(action, sizeof action, "promo_%u", cust % 20);
    snprintf(did, sizeof did, "lg-%lld-%llu", (long long)lg->now, (unsigned long long)lg->seq++);
    msgpack_pack_map(pk, 5);
    pk_str(pk, "customer_id"); pk_str(pk, id);
    pk_str(pk, "action"); pk_str(pk, action);
    pk_str(pk, "outcome"); pk_str(pk, "impression");
    pk_str(pk, "decision_id"); pk_str(pk, did);
    pk_str(pk, "channel"); pk_str(pk, "web");
}

static void flush(lg_conn_t *c, msgpack_sbuffer *out)
{
    if (out->size == 0) return;
    uv_write_t *req = malloc(sizeof *req);
    req->data = out->data;
    uv_buf_t buf = uv_buf_init(out->data, (unsigned)out->size);
    msgpack_sbuffer_init(out);   /* the write owns the bytes now */
    if (uv_write(req, (uv_stream_t *)&c->tcp, &buf, 1, on_written) < 0) on_written(req, -1);
}

static void on_alloc(uv_handle_t *h, size_t s, uv_buf_t *buf)
{
    lg_conn_t *c = h->data;
    msgpack_unpacker_reserve_buffer(&c->unp, 65536);
    *buf = uv_buf_init(msgpack_unpacker_buffer(&c->unp),
                       (unsigned)msgpack_unpacker_buffer_capacity(&c->unp));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    lg_conn_t *c = s->data;
    lg_t *lg = c->lg;
    if (n < 0) {
        if (!lg->stopping) fprintf(stderr, "loadgen: connection closed: %s\n", uv_strerror((int)n));
        uv_read_stop(s);
        return;
    }
    msgpack_unpacker_buffer_consumed(&c->unp, (size_t)n);
    msgpack_unpacked r;
    msgpack_unpacked_init(&r);
    uint64_t t = now_ns();
    while (msgpack_unpacker_next(&c->unp, &r) == MSGPACK_UNPACK_SUCCESS) {
        const msgpack_object *a = r.data.via.array.ptr;
        if (r.data.type != MSGPACK_OBJECT_ARRAY || r.data.via.array.size != 4) continue;
        if (a[2].type != MSGPACK_OBJECT_NIL && lg->errors++ == 0) {
            /* The first error answer, so that a run's error count can be read. */
            fprintf(stderr, "loadgen: first error answer: ");
            msgpack_object_print(stderr, a[2]);
            fprintf(stderr, "\n");
        }
        if (lg->measuring) {
            uint64_t ns = t - c->sent_ns[a[1].via.u64 % 4096];
            lg->done++;
            arb_stats_record_decide(&lg->hist, ns);
            if (ns > lg->max_ns) lg->max_ns = ns;
        }
        if (!lg->stopping && !lg->hold) queue_request(c, &lg->batch);
    }
    msgpack_unpacked_destroy(&r);
    flush(c, &lg->batch);
}

static void on_connect(uv_connect_t *req, int status)
{
    lg_conn_t *c = req->data;
    lg_t *lg = c->lg;
    if (status < 0) {
        fprintf(stderr, "loadgen: connect: %s\n", uv_strerror(status));
        exit(2);
    }
    lg->connected++;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    for (int i = 0; i < (lg->hold ? 1 : lg->depth); i++) queue_request(c, &out);
    flush(c, &out);
    msgpack_sbuffer_destroy(&out);
}

static void on_phase(uv_timer_t *t)
{
    lg_t *lg = t->data;
    if (!lg->measuring) {
        lg->measuring = true;
        return;
    }
    lg->measuring = false;
    lg->stopping = true;
    uv_stop(lg->loop);
}

static void on_stdin(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    free(buf->base);
    if (n < 0) uv_stop(s->loop);
}

static void stdin_alloc(uv_handle_t *h, size_t s, uv_buf_t *buf) { *buf = uv_buf_init(malloc(256), 256); }

static void load_contexts(lg_t *lg, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    size_t len = (size_t)ftell(f), off = 0, cap = 0;
    fseek(f, 0, SEEK_SET);
    char *data = malloc(len);
    if (fread(data, 1, len, f) != len) exit(2);
    fclose(f);
    msgpack_unpacked r;
    msgpack_unpacked_init(&r);
    while (off < len) {
        size_t start = off;
        if (msgpack_unpack_next(&r, data, len, &off) != MSGPACK_UNPACK_SUCCESS) break;
        if (lg->n_ctx == cap) {
            cap = cap ? cap * 2 : 1024;
            lg->ctx = realloc(lg->ctx, cap * sizeof *lg->ctx);
            lg->ctx_len = realloc(lg->ctx_len, cap * sizeof *lg->ctx_len);
        }
        lg->ctx[lg->n_ctx] = data + start;
        lg->ctx_len[lg->n_ctx++] = off - start;
    }
    msgpack_unpacked_destroy(&r);
}

static double cpu_seconds(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (p) sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
    return (double)(ut + st) / 100.0;
}

int main(int argc, char **argv)
{
    const char *connect_to = "127.0.0.1:7878", *contexts = NULL;
    int conns = 1, pid = 0;
    double seconds = 5, warmup = 1;
    lg_t lg;
    memset(&lg, 0, sizeof lg);
    lg.method = "ping";
    lg.depth = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(a, "--hold") == 0) { lg.hold = true; continue; }
        if (strcmp(a, "--payload") == 0) { lg.payload = true; continue; }
        i++;
        if (strcmp(a, "--connect") == 0) connect_to = v;
        else if (strcmp(a, "--conns") == 0) conns = atoi(v);
        else if (strcmp(a, "--depth") == 0) lg.depth = atoi(v);
        else if (strcmp(a, "--seconds") == 0) seconds = atof(v);
        else if (strcmp(a, "--warmup") == 0) warmup = atof(v);
        else if (strcmp(a, "--method") == 0) lg.method = v;
        else if (strcmp(a, "--action") == 0) lg.action = v;
        else if (strcmp(a, "--contexts") == 0) contexts = v;
        else if (strcmp(a, "--server-pid") == 0) pid = atoi(v);
        else if (strcmp(a, "--customers") == 0) lg.customers = (unsigned)atoi(v);
        else { fprintf(stderr, "loadgen: unknown option %s\n", a); return 2; }
    }
    if (lg.depth < 1 || lg.depth > 4000 || conns < 1) return 2;
    lg.rng = 2463534242u;
    lg.now = (int64_t)time(NULL);
    if (strcmp(lg.method, "track") == 0) lg.gen = gen_track;
    else if (strcmp(lg.method, "feedback") == 0) lg.gen = gen_feedback;
    else if (contexts && (lg.payload || strcmp(lg.method, "ping") != 0)) load_contexts(&lg, contexts);
    if (lg.customers > 10000000) return 2;
    lg.ctx_id_at = calloc(lg.n_ctx ? lg.n_ctx : 1, sizeof *lg.ctx_id_at);
    for (size_t i = 0; i < lg.n_ctx; i++) {
        /* fixstr "customer_id" then fixstr of 8: "C" and 7 digits. */
        static const char key[] = "\xab" "customer_id" "\xa8" "C";
        const char *at = memmem(lg.ctx[i], lg.ctx_len[i], key, sizeof key - 1);
        lg.ctx_id_at[i] = at ? (long)(at - lg.ctx[i]) + (long)sizeof key - 1 : -1;
    }
    char host[256];
    snprintf(host, sizeof host, "%s", connect_to);
    char *colon = strrchr(host, ':');
    if (!colon) return 2;
    *colon = '\0';
    struct sockaddr_in addr;
    uv_ip4_addr(host, atoi(colon + 1), &addr);
    lg.loop = uv_default_loop();
    msgpack_sbuffer_init(&lg.batch);
    lg_conn_t *cs = calloc((size_t)conns, sizeof *cs);
    for (int i = 0; i < conns; i++) {
        cs[i].lg = &lg;
        msgpack_unpacker_init(&cs[i].unp, 65536);
        uv_tcp_init(lg.loop, &cs[i].tcp);
        cs[i].tcp.data = &cs[i];
        cs[i].connect.data = &cs[i];
        uv_tcp_connect(&cs[i].connect, &cs[i].tcp, (struct sockaddr *)&addr, on_connect);
    }
    if (lg.hold) {
        uv_pipe_t in;
        uv_pipe_init(lg.loop, &in, 0);
        uv_pipe_open(&in, 0);
        uv_read_start((uv_stream_t *)&in, stdin_alloc, on_stdin);
        uv_run(lg.loop, UV_RUN_DEFAULT);
        printf("held=%llu\n", (unsigned long long)lg.connected);
        return 0;
    }
    uv_timer_t warm, stop;
    uv_timer_init(lg.loop, &warm);
    uv_timer_init(lg.loop, &stop);
    warm.data = stop.data = &lg;
    uv_timer_start(&warm, on_phase, (uint64_t)(warmup * 1000), 0);
    uv_timer_start(&stop, on_phase, (uint64_t)((warmup + seconds) * 1000), 0);
    double cpu0 = 0, cpu1 = 0;
    uint64_t t0 = 0;
    /* Run the warm-up, then sample the clock and CPU as measuring starts. */
    while (!lg.measuring) uv_run(lg.loop, UV_RUN_ONCE);
    t0 = now_ns();
    cpu0 = pid ? cpu_seconds(pid) : 0;
    uv_run(lg.loop, UV_RUN_DEFAULT);
    double elapsed = (double)(now_ns() - t0) / 1e9;
    cpu1 = pid ? cpu_seconds(pid) : 0;
    printf("method=%s conns=%d depth=%d rps=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f errors=%llu server_cpu=%.2f\n",
           lg.method, conns, lg.depth, (double)lg.done / elapsed,
           (double)arb_stats_decide_quantile(&lg.hist, 0.5) / 1000.0,
           (double)arb_stats_decide_quantile(&lg.hist, 0.99) / 1000.0,
           (double)arb_stats_decide_quantile(&lg.hist, 0.999) / 1000.0, (double)lg.max_ns / 1000.0,
           (unsigned long long)lg.errors, pid ? (cpu1 - cpu0) / elapsed : 0.0);
    return 0;   /* errors are reported, not fatal: overload and deadlines are answers too */
}
