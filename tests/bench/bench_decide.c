/* In-process decide benchmark on the reference workload: no network, one
 * core. First every context is decided and checked against the golden
 * answers (ids exactly, priorities within a relative 1e-9); any mismatch
 * fails the run. Then decisions per second and heap allocations per
 * decision after warm-up (malloc, calloc and realloc are counted through the
 * linker's --wrap).
 *
 * Last, for reference, the time msgpack-c alone takes to decode one context
 * into its object tree, the way a connection does (engine/conn.c), and the
 * time a decision takes from the context's bytes, checked in one pass
 * without a tree (arb_context_parse_bytes): the server's decide.
 *
 * With --state DIR (a fresh folder) the timed loop is the stateful one
 * instead: DIR is opened as an LMDB customer store, one realistic record is
 * stored for each context's customer_id (bench_state.c), then each decision
 * fetches its customer into the decider's arena, decides on it and packs
 * the answer. The golden check stays stateless (state changes answers).
 *
 * With --arms TRIALS (a ruleset of adaptive actions), every action has a
 * learned arm on every channel, TRIALS trials and a tenth of them
 * positive, in the decider's snapshot: what an adaptive decision reads and
 * draws from once learning has run (below `settle`, so every candidate
 * takes a Thompson draw).
 *
 * usage: bench_decide RULES_DIR CONTEXTS.msgpack [GOLDEN.jsonl] [--seconds S] [--state DIR]
 *                     [--arms TRIALS]
 * prints one line of key=value results.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/base/clock.h"
#include "engine/wire/answer.h"
#include "engine/request/context.h"
#include "engine/decide/decide.h"
#include "engine/learn/learner.h"
#include "engine/ruleset/compiled.h"
#include "engine/ruleset/ruleset.h"
#include "tests/bench/bench_state.h"

/* ---- allocation counting */
static unsigned long long allocations;
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n) { allocations++; return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t m) { allocations++; return __real_calloc(n, m); }
void *__wrap_realloc(void *p, size_t n) { allocations++; return __real_realloc(p, n); }

/* BENCH_CLOCK=cpu times the process's CPU time instead of the wall's: on
 * a machine other processes share, time spent descheduled is not counted
 * (tests/bench/tpl_bench compares rulesets that way). */
static double now_s(void)
{
    static int cpu = -1;
    if (cpu < 0) cpu = getenv("BENCH_CLOCK") && strcmp(getenv("BENCH_CLOCK"), "cpu") == 0;
    struct timespec ts;
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    fclose(f);
    if (buf) buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

/* Compare one decision with one golden line; print and return -1 on mismatch. */
static int check_golden(const arb_decision_t *dec, const char *line, int i)
{
    json_error_t jerr;
    json_t *g = json_loads(line, 0, &jerr);
    json_t *top = g ? json_object_get(g, "top") : NULL;
    int bad = 0;
    if (!top || json_array_size(top) != dec->n_actions) bad = 1;
    for (size_t k = 0; !bad && k < json_array_size(top); k++) {
        json_t *pair = json_array_get(top, k);
        const char *want_id = json_string_value(json_array_get(pair, 0));
        double want_p = json_number_value(json_array_get(pair, 1));
        const arb_decided_action_t *a = &dec->actions[k];
        if (!want_id || strcmp(a->id, want_id) != 0 ||
            fabs(a->priority - want_p) > 1e-9 * fabs(want_p))
            bad = 1;
    }
    if (bad) {
        fprintf(stderr, "golden mismatch at context %d: expected %s\n  got:", i + 1, line);
        for (uint32_t k = 0; k < dec->n_actions; k++)
            fprintf(stderr, " [%s, %.17g]", dec->actions[k].id, dec->actions[k].priority);
        fprintf(stderr, "\n");
    }
    json_decref(g);
    return bad ? -1 : 0;
}

/* Microseconds msgpack-c takes to decode one of the n contexts (bytes at
 * data + starts[i], up to starts[i + 1]), fed through a streaming unpacker
 * and released per frame as a connection does. */
static double unpack_us(const char *data, const size_t *starts, size_t n, double seconds)
{
    msgpack_unpacker unp;
    if (!msgpack_unpacker_init(&unp, 1 << 16)) return -1;
    unsigned long long frames = 0;
    double t0 = now_s(), t1;
    do {
        for (size_t i = 0; i < n; i++) {
            size_t len = starts[i + 1] - starts[i];
            if (!msgpack_unpacker_reserve_buffer(&unp, len)) return -1;
            memcpy(msgpack_unpacker_buffer(&unp), data + starts[i], len);
            msgpack_unpacker_buffer_consumed(&unp, len);
            if (msgpack_unpacker_execute(&unp) <= 0) return -1;
            msgpack_unpacker_flush_zone(&unp);
            if (unp.z) msgpack_unpacker_reset_zone(&unp);
            msgpack_unpacker_reset(&unp);
        }
        frames += n;
    } while ((t1 = now_s()) - t0 < seconds);
    msgpack_unpacker_destroy(&unp);
    return (t1 - t0) * 1e6 / (double)frames;
}

/* What a server does per decide, but for the envelope: decide, then pack
 * the answer (the timed loop measures both, as it always has). */
static void decide_and_answer(arb_decider_t *d, arb_ruleset_t *rs, const msgpack_object *ctx,
                              arb_arena_t *arena, arb_stats_t *stats, msgpack_packer *pk,
                              msgpack_sbuffer *out)
{
    arb_err_t err;
    out->size = 0;
    const arb_decision_t *dec = arb_decide(d, rs, ctx, NULL, arena, stats, &err);
    if (dec) arb_answer_pack_decision(pk, dec);
    arb_arena_reset(arena);
}

/* The server's path for decide: the context checked straight from its
 * bytes (no tree), decided, the answer packed. Microseconds a decision
 * over whole passes lasting at least `seconds`. */
static double bytes_us(arb_decider_t *d, arb_ruleset_t *rs, const char *data, const size_t *starts,
                       size_t n, double seconds, arb_arena_t *arena, arb_stats_t *stats,
                       msgpack_packer *pk, msgpack_sbuffer *out)
{
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 4096)) return -1;
    bool whole = !arb_ruleset_shareable(rs);
    unsigned long long decisions = 0;
    double t0 = now_s(), t1;
    do {
        for (size_t i = 0; i < n; i++) {
            arb_err_t err;
            arb_context_t ctx;
            out->size = 0;
            uint64_t begin = arb_clock_mono_ns();
            if (arb_context_parse_bytes(data + starts[i], starts[i + 1] - starts[i], arb_clock_wall_s(),
                                        whole, &ctx, arena, &zone, &err) == 0) {
                const arb_decision_t *dec = arb_decide_context(d, rs, &ctx, begin, NULL, arena, stats, &err);
                if (dec) arb_answer_pack_decision(pk, dec);
            }
            arb_arena_reset(arena);
            msgpack_zone_clear(&zone);
        }
        decisions += n;
    } while ((t1 = now_s()) - t0 < seconds);
    msgpack_zone_destroy(&zone);
    return (t1 - t0) * 1e6 / (double)decisions;
}

/* arb_store_fetch on LMDB calls back in the calling thread before it returns. */
typedef struct fetched {
    int status;
    char message[1024];
} fetched_t;

static void on_fetch(void *arg, int status, const arb_err_t *err)
{
    fetched_t *f = arg;
    f->status = status;
    if (status) snprintf(f->message, sizeof f->message, "%s", err->message);
}

/* What a server does per decide with a store, but for the envelope and the
 * contacts' commit: fetch the customer, decide on it, pack the answer. */
static int fetch_decide_and_answer(arb_store_session_t *ss, const char *id, arb_decider_t *d,
                                   arb_ruleset_t *rs, const msgpack_object *ctx,
                                   arb_arena_t *arena, arb_stats_t *stats, msgpack_packer *pk,
                                   msgpack_sbuffer *out)
{
    arb_err_t err;
    arb_customer_t customer;
    fetched_t f = {1, "fetch did not call back"};
    out->size = 0;
    arb_store_fetch(ss, id, &customer, arena, on_fetch, &f);
    if (f.status) {
        fprintf(stderr, "bench_decide: fetching %s: %s\n", id, f.message);
        return -1;
    }
    const arb_decision_t *dec = arb_decide(d, rs, ctx, &customer, arena, stats, &err);
    if (dec) arb_answer_pack_decision(pk, dec);
    arb_arena_reset(arena);
    return 0;
}

/* The --state run: fill a fresh LMDB store in folder, then time fetch +
 * decide on the customer + pack over the contexts. Returns 0 or 1. */
static int state_run(arb_ruleset_t *rs, arb_decider_t *d, const msgpack_unpacked *objs, size_t n,
                     const char *folder, double seconds, arb_arena_t *arena, arb_stats_t *stats,
                     msgpack_packer *pk, msgpack_sbuffer *out)
{
    arb_err_t err;
    arb_store_t *store;
    if (arb_store_open(&store, folder, NULL, &err) < 0) {
        fprintf(stderr, "bench_decide: %s\n", err.message);
        return 1;
    }
    arb_store_session_t *ss = arb_store_session_open(store, &err);
    if (!ss) {
        fprintf(stderr, "bench_decide: %s\n", err.message);
        arb_store_close(store);
        return 1;
    }
    const msgpack_object **ctxs = malloc(sizeof *ctxs * n);
    char (*ids)[ARB_STORE_ID_MAX] = malloc(sizeof *ids * n);
    for (size_t i = 0; i < n; i++) {
        ctxs[i] = &objs[i].data;
        bench_state_id(ctxs[i], ids[i], sizeof ids[i]);
    }
    size_t record_bytes;
    int bad = bench_state_fill(ss, ctxs, n, &record_bytes) < 0;
    for (size_t i = 0; !bad && i < n; i++)
        bad = fetch_decide_and_answer(ss, ids[i], d, rs, ctxs[i], arena, stats, pk, out) < 0;
    unsigned long long decisions = 0, allocs_before = allocations;
    uint64_t considered_before = arb_decider_considered(d);
    double t0 = now_s(), t1 = t0;
    while (!bad) {
        for (size_t i = 0; !bad && i < n; i++)
            bad = fetch_decide_and_answer(ss, ids[i], d, rs, ctxs[i], arena, stats, pk, out) < 0;
        decisions += n;
        if ((t1 = now_s()) - t0 >= seconds) break;
    }
    if (!bad) {
        printf("state=lmdb actions=%zu contexts=%zu decisions=%llu seconds=%.2f decisions_per_s=%.0f us_per_decision=%.3f allocs_per_decision=%.4f considered_per_decision=%.1f record_bytes=%zu\n",
               arb_ruleset_action_count(rs), n, decisions, t1 - t0, (double)decisions / (t1 - t0),
               (t1 - t0) * 1e6 / (double)decisions,
               (double)(allocations - allocs_before) / (double)decisions,
               (double)(arb_decider_considered(d) - considered_before) / (double)decisions,
               record_bytes);
    }
    free(ids);
    free(ctxs);
    arb_store_session_close(ss);
    arb_store_close(store);
    return bad;
}

/* A snapshot with one arm per action and channel of rs (see above). */
static arb_arms_snap_t *bench_arms(const arb_ruleset_t *rs, double trials, arb_learner_t **lp)
{
    arb_learner_options_t opt = { 10000000, 64 };
    arb_learner_t *l = arb_learner_new(&opt);
    size_t n = (size_t)rs->n_actions * (size_t)rs->n_channels, k = 0;
    arb_arm_t *arms = calloc(n ? n : 1, sizeof *arms);
    if (!l || !arms) return NULL;
    for (uint32_t i = 0; i < rs->n_actions; i++)
        for (int c = 0; c < rs->n_channels; c++)
            arms[k++] = (arb_arm_t){ rs->actions[i].id, rs->channels[c], ARB_ARM_POOLED,
                                     trials / 10, trials, (int64_t)time(NULL) };
    arb_arms_snap_t *snap = arb_learner_absorb(l, arms, k);
    free(arms);
    *lp = l;
    return snap;
}

int main(int argc, char **argv)
{
    double arm_trials = -1;
    const char *dir = NULL, *ctxs = NULL, *golden = NULL, *state = NULL;
    double seconds = 3;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) state = argv[++i];
        else if (strcmp(argv[i], "--arms") == 0 && i + 1 < argc) arm_trials = atof(argv[++i]);
        else if (!dir) dir = argv[i];
        else if (!ctxs) ctxs = argv[i];
        else golden = argv[i];
    }
    if (!dir || !ctxs) {
        fprintf(stderr, "usage: bench_decide RULES_DIR CONTEXTS.msgpack [GOLDEN.jsonl] [--seconds S] [--state DIR]\n");
        return 2;
    }
    arb_problems_t problems = { 0 };
    arb_ruleset_t *rs = arb_ruleset_load(dir, 1, &problems);
    for (size_t i = 0; i < problems.n; i++) fprintf(stderr, "%s\n", problems.items[i]);
    if (!rs) return 2;
    size_t len;
    char *data = slurp(ctxs, &len);
    if (!data) { fprintf(stderr, "cannot read %s\n", ctxs); return 2; }
    msgpack_unpacked *objs = NULL;
    size_t n = 0, off = 0, cap = 0, *starts = NULL;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            objs = realloc(objs, sizeof *objs * cap);
            starts = realloc(starts, sizeof *starts * (cap + 1));
        }
        starts[n] = off;
        msgpack_unpacked_init(&objs[n]);
        if (msgpack_unpack_next(&objs[n], data, len, &off) != MSGPACK_UNPACK_SUCCESS) break;
        starts[n + 1] = off;
        n++;
    }
    arb_decider_t *d = arb_decider_new();
    arb_learner_t *learner = NULL;
    arb_arms_snap_t *snap = NULL;
    if (arm_trials >= 0) {
        if (!(snap = bench_arms(rs, arm_trials, &learner))) { fprintf(stderr, "out of memory\n"); return 2; }
        arb_decider_set_arms(d, snap);
        arb_decider_seed(d, 42);
    }
    arb_arena_t arena;
    arb_arena_init(&arena);
    arb_stats_t stats;
    memset(&stats, 0, sizeof stats);
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
    arb_err_t err;
    int failures = 0;
    if (golden) {
        size_t glen;
        char *gtext = slurp(golden, &glen), *save = NULL;
        char *line = gtext ? strtok_r(gtext, "\n", &save) : NULL;
        msgpack_zone zone;
        if (!msgpack_zone_init(&zone, 4096)) return 2;
        for (size_t i = 0; i < n; i++, line = strtok_r(NULL, "\n", &save)) {
            /* From the tree, then from the bytes (the server's path): both
             * must give the golden answer. */
            for (int from_bytes = 0; from_bytes < 2; from_bytes++) {
                arb_context_t ctx;
                const arb_decision_t *dec =
                    !from_bytes ? arb_decide(d, rs, &objs[i].data, NULL, &arena, &stats, &err)
                    : arb_context_parse_bytes(data + starts[i], starts[i + 1] - starts[i],
                                              arb_clock_wall_s(), !arb_ruleset_shareable(rs), &ctx,
                                              &arena, &zone, &err) < 0 ? NULL
                    : arb_decide_context(d, rs, &ctx, arb_clock_mono_ns(), NULL, &arena, &stats, &err);
                if (!dec) {
                    fprintf(stderr, "context %zu%s: %s\n", i + 1, from_bytes ? " (bytes)" : "",
                            err.message);
                    failures++;
                } else if (!line || check_golden(dec, line, (int)i) < 0) {
                    failures++;
                }
                arb_arena_reset(&arena);
                msgpack_zone_clear(&zone);
            }
        }
        msgpack_zone_destroy(&zone);
        free(gtext);
        printf("golden: %zu contexts, %d mismatches (each decided from its tree and from its bytes)\n",
               n, failures);
    }
    if (state) {
        failures += state_run(rs, d, objs, n, state, seconds, &arena, &stats, &pk, &out);
    } else {
        /* Warm up, then time whole passes over the contexts. */
        for (size_t i = 0; i < n; i++) {
            decide_and_answer(d, rs, &objs[i].data, &arena, &stats, &pk, &out);
        }
        unsigned long long decisions = 0, allocs_before = allocations;
        uint64_t considered_before = arb_decider_considered(d);
        double t0 = now_s(), t1;
        do {
            for (size_t i = 0; i < n; i++) {
                decide_and_answer(d, rs, &objs[i].data, &arena, &stats, &pk, &out);
            }
            decisions += n;
        } while ((t1 = now_s()) - t0 < seconds);
        double allocs = (double)(allocations - allocs_before) / (double)decisions;
        double considered = (double)(arb_decider_considered(d) - considered_before) / (double)decisions;
        printf("actions=%zu contexts=%zu decisions=%llu seconds=%.2f decisions_per_s=%.0f us_per_decision=%.3f allocs_per_decision=%.4f considered_per_decision=%.1f unpack_us=%.3f bytes_us=%.3f\n",
               arb_ruleset_action_count(rs), n, decisions, t1 - t0, (double)decisions / (t1 - t0),
               (t1 - t0) * 1e6 / (double)decisions, allocs, considered,
               unpack_us(data, starts, n, seconds / 3),
               bytes_us(d, rs, data, starts, n, seconds / 2, &arena, &stats, &pk, &out));
    }
    free(starts);
    for (size_t i = 0; i <= n && i < cap; i++) msgpack_unpacked_destroy(&objs[i]);
    free(objs);
    free(data);
    msgpack_sbuffer_destroy(&out);
    arb_arena_free(&arena);
    arb_decider_free(d);
    arb_arms_snap_release(snap);
    arb_learner_free(learner);
    arb_ruleset_free(rs);
    return failures ? 1 : 0;
}
