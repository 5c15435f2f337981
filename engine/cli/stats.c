/* `arbiter stats`: the server's counters, readable at a glance.
 *
 * Keeps the cli folder's rule (call.h): it talks to the server through
 * bindings/client and reads the answer as msgpack values; it knows the
 * answer's shape only to arrange it. A counter it does not know (a newer
 * server's) is still printed, under "other", so an operator never misses
 * one because the command is older than the server.
 */
#include "engine/cli/stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "bindings/client/client.h"
#include "engine/base/pack.h"
#include "engine/wire/json.h"

enum { ARB_STATS_OK = 0, ARB_STATS_RPC_ERROR = 1, ARB_STATS_FAILURE = 2 };

/* Label width: the longest label ("undeclared touchpoints") plus a gap. */
#define LABEL_W 26

static void arb_stats_usage(FILE *f)
{
    fputs("usage: arbiter stats [--connect HOST:PORT | --socket PATH] [--timeout SECS] [--json]\n"
          "\n"
          "Print a running server's counters: requests by method, errors by code,\n"
          "decide latency, decisions, connections, reloads, the customer store,\n"
          "learning and the decision log.\n"
          "\n"
          "  --connect HOST:PORT  server TCP address (default 127.0.0.1:7878)\n"
          "  --socket PATH        connect to a Unix socket instead (the admin one works too)\n"
          "  --timeout SECS       give up when no answer came by then (default 10)\n"
          "  --json               print the answer as JSON (what `arbiter call stats` prints)\n"
          "  -h, --help           show this help\n"
          "\n"
          "Exit status: 0 printed, 1 the server answered an error, 2 usage or\n"
          "connection error.\n", f);
}

static int arb_stats_usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "arbiter stats: %s%s\nTry 'arbiter stats --help'.\n", msg, arg ? arg : "");
    return ARB_STATS_FAILURE;
}

/* ---- values --------------------------------------------------------- */

static int arb_stats_is_num(const msgpack_object *o)
{
    return o && (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                 o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
                 o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64);
}

/* An integer with its thousands grouped (12,345,678), or a float with
 * one decimal: the counters are read by people, not parsed. */
static void arb_stats_num(char *out, size_t n, const msgpack_object *o)
{
    if (!arb_stats_is_num(o)) {
        snprintf(out, n, "-");
        return;
    }
    if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64) {
        snprintf(out, n, "%.1f", o->via.f64);
        return;
    }
    char digits[32];
    int neg = o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
    snprintf(digits, sizeof digits, "%llu",
             neg ? (unsigned long long)(-(o->via.i64 + 1)) + 1ull
                 : (unsigned long long)o->via.u64);
    size_t len = strlen(digits), j = 0;
    if (neg && j + 1 < n) out[j++] = '-';
    for (size_t i = 0; i < len && j + 2 < n; i++) {
        if (i > 0 && (len - i) % 3 == 0) out[j++] = ',';
        out[j++] = digits[i];
    }
    out[j] = '\0';
}

static void arb_stats_line(const char *label, const msgpack_object *v, const char *unit)
{
    char num[48];
    if (v && v->type == MSGPACK_OBJECT_STR) {
        printf("  %-*s %.*s\n", LABEL_W, label, (int)v->via.str.size, v->via.str.ptr);
        return;
    }
    arb_stats_num(num, sizeof num, v);
    printf("  %-*s %14s%s%s\n", LABEL_W, label, num, unit ? " " : "", unit ? unit : "");
}

static const msgpack_object *arb_stats_get(const msgpack_object *m, const char *key)
{
    return m && m->type == MSGPACK_OBJECT_MAP ? arb_msgpack_map_get(m, key) : NULL;
}

/* ---- sections ------------------------------------------------------- */

/* A map of counters (requests by method, errors by code): the non-zero
 * ones, largest first would reorder the server's list; its order is kept,
 * and a total line says how much there was. */
static void arb_stats_counters(const char *title, const msgpack_object *m, const char *none)
{
    printf("%s\n", title);
    if (!m || m->type != MSGPACK_OBJECT_MAP) {
        printf("  (not reported)\n\n");
        return;
    }
    uint64_t total = 0;
    int shown = 0;
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object_kv *kv = &m->via.map.ptr[i];
        if (kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER || kv->val.via.u64 == 0) continue;
        if (kv->key.type != MSGPACK_OBJECT_STR) continue;
        char label[64];
        snprintf(label, sizeof label, "%.*s", (int)kv->key.via.str.size, kv->key.via.str.ptr);
        arb_stats_line(label, &kv->val, NULL);
        total += kv->val.via.u64;
        shown++;
    }
    if (shown == 0) {
        printf("  (%s)\n\n", none);
        return;
    }
    msgpack_object t = { .type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = total };
    arb_stats_line("total", &t, NULL);
    putchar('\n');
}

/* One row of a fixed section: the label shown and where the value is. */
typedef struct arb_stats_row {
    const char *label;
    const char *key;       /* top-level key */
    const char *sub;       /* key inside it, or NULL */
    const char *unit;
} arb_stats_row_t;

typedef struct arb_stats_section {
    const char *title;
    const arb_stats_row_t *rows;
} arb_stats_section_t;

static const arb_stats_row_t ROWS_LATENCY[] = {
    { "p50", "decide_us", "p50", "us" }, { "p99", "decide_us", "p99", "us" },
    { "p99.9", "decide_us", "p999", "us" }, { NULL, NULL, NULL, NULL } };
static const arb_stats_row_t ROWS_DECISIONS[] = {
    { "decisions", "decisions", NULL, NULL }, { "fallbacks", "fallbacks", NULL, NULL },
    { "rule errors", "rule_errors", NULL, NULL }, { "budget stops", "budget_stops", NULL, NULL },
    { "undeclared touchpoints", "undeclared_touchpoints", NULL, NULL },
    { "decided again (caps)", "state_retries", NULL, NULL }, { NULL, NULL, NULL, NULL } };
static const arb_stats_row_t ROWS_CONNECTIONS[] = {
    { "open", "connections", NULL, NULL }, { "refused", "connections_refused", NULL, NULL },
    { "backpressure pauses", "backpressure_pauses", NULL, NULL },
    { "closed: partial frames", "partial_closes", NULL, NULL },
    { "answers failed", "answer_failures", NULL, NULL }, { NULL, NULL, NULL, NULL } };
static const arb_stats_row_t ROWS_RULESET[] = {
    { "version", "ruleset", NULL, NULL }, { "reloads ok", "reloads", "ok", NULL },
    { "reloads failed", "reloads", "failed", NULL },
    { "reloads abandoned", "reloads", "abandoned", NULL }, { NULL, NULL, NULL, NULL } };
static const arb_stats_row_t ROWS_STORE[] = {
    { "failures", "state_failures", NULL, NULL }, { NULL, NULL, NULL, NULL } };
static const arb_stats_row_t ROWS_LEARNING[] = {
    { "arms", "learning", "arms", NULL }, { "syncs", "learning", "syncs", NULL },
    { "sync failures", "learning", "sync_failures", NULL },
    { "evidence lost", "learning", "lost", NULL }, { "evidence dropped", "learning", "dropped", NULL },
    { "feedback, no offer", "learning", "feedback_unknown", NULL }, { NULL, NULL, NULL, NULL } };
static const arb_stats_row_t ROWS_LOG[] = {
    { "records written", "log", "written", NULL }, { "records dropped", "log", "dropped", NULL },
    { "records failed", "log", "failed", NULL }, { "files opened", "log", "files", NULL },
    { NULL, NULL, NULL, NULL } };

static const arb_stats_section_t SECTIONS[] = {
    { "decide latency", ROWS_LATENCY }, { "decisions", ROWS_DECISIONS },
    { "connections", ROWS_CONNECTIONS }, { "ruleset", ROWS_RULESET },
    { "customer store", ROWS_STORE }, { "learning", ROWS_LEARNING },
    { "decision log", ROWS_LOG } };

static const char *const SHOWN_KEYS[] = { "requests", "errors", NULL };

/* Whether a top-level key is printed by a section above. */
static int arb_stats_known(const char *key, size_t len)
{
    for (int i = 0; SHOWN_KEYS[i]; i++)
        if (strlen(SHOWN_KEYS[i]) == len && memcmp(SHOWN_KEYS[i], key, len) == 0) return 1;
    for (size_t s = 0; s < sizeof SECTIONS / sizeof SECTIONS[0]; s++)
        for (const arb_stats_row_t *r = SECTIONS[s].rows; r->label; r++)
            if (strlen(r->key) == len && memcmp(r->key, key, len) == 0) return 1;
    return 0;
}

/* What a newer server reports and this command has no place for. */
static void arb_stats_other(const msgpack_object *st)
{
    int shown = 0;
    for (uint32_t i = 0; i < st->via.map.size; i++) {
        const msgpack_object_kv *kv = &st->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR ||
            arb_stats_known(kv->key.via.str.ptr, kv->key.via.str.size))
            continue;
        if (!shown++) printf("other\n");
        char label[64];
        snprintf(label, sizeof label, "%.*s", (int)kv->key.via.str.size, kv->key.via.str.ptr);
        if (arb_stats_is_num(&kv->val) || kv->val.type == MSGPACK_OBJECT_STR) {
            arb_stats_line(label, &kv->val, NULL);
        } else {
            char *json = arb_msgpack_to_json(&kv->val, 0);
            printf("  %-*s %s\n", LABEL_W, label, json ? json : "(out of memory)");
            free(json);
        }
    }
    if (shown) putchar('\n');
}

static void arb_stats_print(const msgpack_object *st)
{
    arb_stats_counters("requests", arb_stats_get(st, "requests"), "none yet");
    arb_stats_counters("errors", arb_stats_get(st, "errors"), "none");
    for (size_t s = 0; s < sizeof SECTIONS / sizeof SECTIONS[0]; s++) {
        printf("%s\n", SECTIONS[s].title);
        for (const arb_stats_row_t *r = SECTIONS[s].rows; r->label; r++) {
            const msgpack_object *v = arb_stats_get(st, r->key);
            if (r->sub) v = arb_stats_get(v, r->sub);
            arb_stats_line(r->label, v, r->unit);
        }
        putchar('\n');
    }
    arb_stats_other(st);
}

/* ---- the call ------------------------------------------------------- */

typedef struct arb_stats_args {
    const char *tcp, *unix_path, *timeout;
    int json, help;
} arb_stats_args_t;

static int arb_stats_parse(int argc, char **argv, arb_stats_args_t *a)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], **slot = NULL;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            a->help = 1;
            return 0;
        }
        if (strcmp(arg, "--json") == 0) {
            a->json = 1;
            continue;
        }
        static const char *const names[] = { "--connect", "--socket", "--timeout" };
        const char **slots[] = { &a->tcp, &a->unix_path, &a->timeout };
        size_t n = 0;
        for (int k = 0; k < 3 && !slot; k++) {
            n = strlen(names[k]);
            if (strncmp(arg, names[k], n) == 0 && (arg[n] == '\0' || arg[n] == '=')) slot = slots[k];
        }
        if (!slot) return arb_stats_usage_error("unexpected argument: ", arg);
        if (arg[n] == '=') {
            *slot = arg + n + 1;
        } else if (i + 1 < argc) {
            *slot = argv[++i];
        } else {
            return arb_stats_usage_error("option needs a value: ", arg);
        }
    }
    if (a->tcp && a->unix_path)
        return arb_stats_usage_error("--connect and --socket cannot be used together", NULL);
    return 0;
}

/* The client blocks; a server that accepts but never answers (stopped,
 * wedged) must not hang a monitoring script: the socket's own timeouts
 * bound every read and write. */
static int arb_stats_bound(arb_client_t *c, const char *text)
{
    double secs = 10;
    if (text) {
        char *end;
        secs = strtod(text, &end);
        if (*text == '\0' || *end != '\0' || !(secs > 0 && secs <= 86400))
            return arb_stats_usage_error("--timeout must be a number of seconds in (0, 86400]: ",
                                         text);
    }
    struct timeval tv = { (time_t)secs, (suseconds_t)((secs - (double)(time_t)secs) * 1e6) };
    if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1;
    setsockopt(arb_client_fd(c), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(arb_client_fd(c), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return 0;
}

int arb_cli_stats(int argc, char **argv)
{
    arb_stats_args_t a = { NULL, NULL, NULL, 0, 0 };
    int rc = arb_stats_parse(argc, argv, &a);
    if (rc != 0) return rc;
    if (a.help) {
        arb_stats_usage(stdout);
        return ARB_STATS_OK;
    }
    const char *where = a.unix_path ? a.unix_path : a.tcp ? a.tcp : "127.0.0.1:7878";
    char err[512];
    arb_client_t *c = a.unix_path ? arb_client_connect_unix(a.unix_path, err, sizeof err)
                                  : arb_client_connect_tcp(where, err, sizeof err);
    if (!c) {
        fprintf(stderr, "arbiter stats: %s\n", err);
        return ARB_STATS_FAILURE;
    }
    if (arb_stats_bound(c, a.timeout) != 0) {
        arb_client_close(c);
        return ARB_STATS_FAILURE;
    }
    arb_client_reply_t reply;
    int status = ARB_STATS_FAILURE;
    errno = 0;
    if (arb_client_call(c, "stats", NULL, 0, &reply, err, sizeof err) != 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            fprintf(stderr, "arbiter stats: %s: no answer within %s s (--timeout)\n", where,
                    a.timeout ? a.timeout : "10");
        else
            fprintf(stderr, "arbiter stats: %s: %s\n", where, err);
        arb_client_close(c);
        return ARB_STATS_FAILURE;
    }
    if (reply.is_error) {
        char *json = arb_msgpack_to_json(&reply.error, 0);
        fprintf(stderr, "arbiter stats: the server answered an error: %s\n", json ? json : "?");
        free(json);
        status = ARB_STATS_RPC_ERROR;
    } else if (reply.result.type != MSGPACK_OBJECT_MAP) {
        fprintf(stderr, "arbiter stats: %s: the answer is not a map\n", where);
    } else if (a.json) {
        char *json = arb_msgpack_to_json(&reply.result, 1);
        if (json) {
            puts(json);
            status = ARB_STATS_OK;
        } else {
            fputs("arbiter stats: out of memory rendering the answer\n", stderr);
        }
        free(json);
    } else {
        printf("arbiter stats: %s\n\n", where);
        arb_stats_print(&reply.result);
        status = ARB_STATS_OK;
    }
    if (fflush(stdout) != 0 && status == ARB_STATS_OK) {
        perror("arbiter stats: writing stdout");
        status = ARB_STATS_FAILURE;
    }
    arb_client_reply_destroy(&reply);
    arb_client_close(c);
    return status;
}
