/* The offline commands a marketer uses on a ruleset folder, no server
 * needed: `arbiter check`, `arbiter test`, `arbiter decide` and
 * `arbiter replay`. Output is meant to be read by a person; `--json` gives
 * machines the decision itself.
 */
#include "engine/cli_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bindings/client/json.h"
#include "engine/compiled.h"
#include "engine/context.h"
#include "engine/decide.h"
#include "engine/ruleset.h"
#include "engine/ruletest.h"

static arb_ruleset_t *load_or_report(const char *dir)
{
    arb_problems_t problems = { 0 };
    arb_ruleset_t *rs = arb_ruleset_load(dir, 1, &problems);
    for (size_t i = 0; i < problems.n; i++) fprintf(stderr, "%s\n", problems.items[i]);
    if (!rs) fprintf(stderr, "%s: %zu problem%s; nothing loaded\n", dir, problems.n,
                     problems.n == 1 ? "" : "s");
    arb_problems_free(&problems);
    return rs;
}

int arb_cli_check(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr,
                "usage: arbiter check DIR\n"
                "Load and validate the ruleset in DIR; print every problem as file:line.\n"
                "Exit 0 when it loads, 1 when it has problems.\n");
        return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    arb_ruleset_t *rs = load_or_report(argv[1]);
    if (!rs) return 1;
    printf("%s: ok, %u actions, %u touchpoints, %u models, version %s\n", argv[1], rs->n_actions,
           rs->n_touchpoints, rs->n_models, arb_ruleset_version(rs));
    arb_ruleset_free(rs);
    return 0;
}

int arb_cli_test(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr,
                "usage: arbiter test DIR\n"
                "Run the tests (*_test.lua) beside the rules in DIR. Each failure is\n"
                "printed as file:line. Exit 0 when all pass, 1 otherwise.\n");
        return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    arb_ruleset_t *rs = load_or_report(argv[1]);
    if (!rs) return 1;
    arb_problems_t failures = { 0 };
    int run = arb_ruleset_run_tests(rs, argv[1], &failures, 1);
    for (size_t i = 0; i < failures.n; i++) fprintf(stderr, "%s\n", failures.items[i]);
    int code = failures.n ? 1 : 0;
    if (run >= 0)
        printf("%d test%s, %zu failure%s\n", run, run == 1 ? "" : "s", failures.n,
               failures.n == 1 ? "" : "s");
    arb_problems_free(&failures);
    arb_ruleset_free(rs);
    return code;
}

/* ------------------------------------------------------------ decide */

static char *slurp(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
        if (n + 1 == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) { free(buf); buf = NULL; }
            else buf = nb;
        }
    }
    if (f != stdin) fclose(f);
    if (buf) buf[n] = '\0';
    return buf;
}

/* Decide the JSON context text with rs; the decision goes to *decision,
 * which points into *out (the caller destroys both). Returns 0, or -1 with
 * err. */
static int decide_json(arb_ruleset_t *rs, arb_decider_t *d, const char *text,
                       msgpack_unpacked *decision, msgpack_sbuffer *out, char *err, size_t errlen)
{
    msgpack_sbuffer in;
    msgpack_sbuffer_init(&in);
    int rc = arb_json_to_msgpack(text, &in, err, errlen);
    arb_err_t e;
    if (rc == 0 && arb_decide_packed(d, rs, in.data, in.size, out, decision, &e) < 0) {
        snprintf(err, errlen, "%s: %s", arb_code_name(e.code), e.message);
        rc = -1;
    }
    msgpack_sbuffer_destroy(&in);
    return rc;
}

static void print_str(const msgpack_object *o)
{
    if (o && o->type == MSGPACK_OBJECT_STR) printf("%.*s", (int)o->via.str.size, o->via.str.ptr);
    else printf("?");
}

static double num(const msgpack_object *o)
{
    if (!o) return 0;
    if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32) return o->via.f64;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) return (double)o->via.u64;
    return 0;
}

static void print_decision(const msgpack_object *dec)
{
    const msgpack_object *acts = arb_msgpack_map_get(dec, "actions");
    const msgpack_object *expl = arb_msgpack_map_get(dec, "explain");
    printf("ruleset ");
    print_str(arb_msgpack_map_get(dec, "ruleset"));
    printf(", decided in %.0f us\n", num(arb_msgpack_map_get(dec, "elapsed_us")));
    if (!acts || acts->via.array.size == 0) printf("  no action\n");
    for (uint32_t i = 0; acts && i < acts->via.array.size; i++) {
        const msgpack_object *a = &acts->via.array.ptr[i];
        printf("  %u. ", i + 1);
        print_str(arb_msgpack_map_get(a, "id"));
        printf("  priority %.4g (propensity %.4g, value %.4g)\n", num(arb_msgpack_map_get(a, "priority")),
               num(arb_msgpack_map_get(a, "propensity")), num(arb_msgpack_map_get(a, "value")));
    }
    if (!expl) return;
    printf("why:\n");
    for (uint32_t i = 0; i < expl->via.array.size; i++) {
        const msgpack_object *e = &expl->via.array.ptr[i];
        const msgpack_object *id = arb_msgpack_map_get(e, "id");
        int len = id && id->type == MSGPACK_OBJECT_STR ? (int)id->via.str.size : 0;
        printf("  %.*s%*s ", len, len ? id->via.str.ptr : "", len < 32 ? 32 - len : 0, "");
        print_str(arb_msgpack_map_get(e, "reason"));
        printf("\n");
    }
}

static int decide_usage(FILE *f, int code)
{
    fprintf(f, "usage: arbiter decide --rules DIR CONTEXT.json [--explain] [--json]\n"
               "Decide for one context (a JSON file, or - for stdin) with the ruleset in\n"
               "DIR, without a server. --explain gives the reason for every action;\n"
               "--json prints the decision as the server would send it.\n");
    return code;
}

int arb_cli_decide(int argc, char **argv)
{
    const char *dir = NULL, *file = NULL;
    bool explain = false, json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc) dir = argv[++i];
        else if (strcmp(argv[i], "--explain") == 0) explain = true;
        else if (strcmp(argv[i], "--json") == 0) json = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return decide_usage(stdout, 0);
        else if (!file && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)) file = argv[i];
        else return decide_usage(stderr, 2);
    }
    if (!dir || !file) return decide_usage(stderr, 2);
    char *text = slurp(file);
    if (!text) {
        fprintf(stderr, "arbiter decide: cannot read %s\n", file);
        return 2;
    }
    arb_ruleset_t *rs = load_or_report(dir);
    if (!rs) { free(text); return 1; }
    arb_decider_t *d = arb_decider_new();
    arb_decider_force_explain(d, explain);
    msgpack_unpacked dec;
    msgpack_unpacked_init(&dec);
    msgpack_sbuffer bytes;
    msgpack_sbuffer_init(&bytes);
    char err[1200];
    int code = 0;
    if (decide_json(rs, d, text, &dec, &bytes, err, sizeof err) < 0) {
        fprintf(stderr, "arbiter decide: %s: %s\n", file, err);
        code = 1;
    } else if (json) {
        char *out = arb_msgpack_to_json(&dec.data, 1);
        printf("%s\n", out ? out : "null");
        free(out);
    } else {
        print_decision(&dec.data);
    }
    msgpack_unpacked_destroy(&dec);
    msgpack_sbuffer_destroy(&bytes);
    arb_decider_free(d);
    arb_ruleset_free(rs);
    free(text);
    return code;
}

/* ------------------------------------------------------------ replay */

/* The chosen ids of a decision as "a,b,c" into buf. */
static void chosen_ids(const msgpack_object *dec, char *buf, size_t n)
{
    const msgpack_object *acts = arb_msgpack_map_get(dec, "actions");
    buf[0] = '\0';
    for (uint32_t i = 0; acts && i < acts->via.array.size; i++) {
        const msgpack_object *id = arb_msgpack_map_get(&acts->via.array.ptr[i], "id");
        size_t used = strlen(buf);
        if (id && id->type == MSGPACK_OBJECT_STR)
            snprintf(buf + used, n - used, "%s%.*s", i ? "," : "", (int)id->via.str.size, id->via.str.ptr);
    }
}

static int replay_usage(FILE *f, int code)
{
    fprintf(f, "usage: arbiter replay --rules DIR CONTEXTS.jsonl [--against DIR2]\n"
               "Decide every context (one JSON object per line) with DIR and print a\n"
               "summary; with --against, also with DIR2, and list what changed.\n");
    return code;
}

int arb_cli_replay(int argc, char **argv)
{
    const char *dir = NULL, *against = NULL, *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc) dir = argv[++i];
        else if (strcmp(argv[i], "--against") == 0 && i + 1 < argc) against = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return replay_usage(stdout, 0);
        else if (!file && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)) file = argv[i];
        else return replay_usage(stderr, 2);
    }
    if (!dir || !file) return replay_usage(stderr, 2);
    char *text = slurp(file);
    if (!text) {
        fprintf(stderr, "arbiter replay: cannot read %s\n", file);
        return 2;
    }
    arb_ruleset_t *a = load_or_report(dir), *b = against ? load_or_report(against) : NULL;
    if (!a || (against && !b)) {
        arb_ruleset_free(a);
        arb_ruleset_free(b);
        free(text);
        return 1;
    }
    arb_decider_t *d = arb_decider_new();
    unsigned total = 0, errors = 0, changed = 0, empty = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!*line) continue;
        total++;
        msgpack_unpacked da, db;
        msgpack_unpacked_init(&da);
        msgpack_unpacked_init(&db);
        msgpack_sbuffer ba, bb;
        msgpack_sbuffer_init(&ba);
        msgpack_sbuffer_init(&bb);
        char err[1200], ia[512], ib[512];
        if (decide_json(a, d, line, &da, &ba, err, sizeof err) < 0) {
            errors++;
            if (errors <= 10) fprintf(stderr, "%s:%u: %s\n", file, total, err);
        } else {
            chosen_ids(&da.data, ia, sizeof ia);
            empty += ia[0] == '\0';
            if (b && decide_json(b, d, line, &db, &bb, err, sizeof err) == 0) {
                chosen_ids(&db.data, ib, sizeof ib);
                if (strcmp(ia, ib) != 0) {
                    changed++;
                    if (changed <= 20) printf("%s:%u: [%s] -> [%s]\n", file, total, ia, ib);
                }
            }
        }
        msgpack_unpacked_destroy(&da);
        msgpack_unpacked_destroy(&db);
        msgpack_sbuffer_destroy(&ba);
        msgpack_sbuffer_destroy(&bb);
    }
    printf("%u contexts, %u invalid, %u with no action", total, errors, empty);
    if (b) printf(", %u changed by %s", changed, against);
    printf("\n");
    arb_decider_free(d);
    arb_ruleset_free(a);
    arb_ruleset_free(b);
    free(text);
    return 0;
}
