/* The offline commands a marketer uses on a ruleset folder, no server
 * needed: `arbiter check`, `arbiter test`, `arbiter decide` and
 * `arbiter replay`. Output is meant to be read by a person; `--json` gives
 * machines the decision itself.
 */
#include "engine/cli/rules.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/audit/logread.h"
#include "engine/cli/replay_wins.h"
#include "engine/base/fileio.h"
#include "engine/wire/json.h"
#include "engine/wire/answer.h"
#include "engine/ruleset/compiled.h"
#include "engine/request/context.h"
#include "engine/decide/decide.h"
#include "engine/ruleset/ruleset.h"
#include "engine/decide/ruletest.h"

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

/* Bytes a context file (or stdin) may hold: far more than any replay
 * needs, and a bound on what a mistaken path (a sparse file) can cost. */
#define CONTEXT_FILE_MAX ((size_t)1 << 30)

/* The text of path ("-": stdin) through the one file reader: a FIFO, a
 * device or a directory given by mistake is refused, never waited on.
 * NULL after printing why, as "arbiter <cmd>: <path>: <why>". */
static char *slurp(const char *cmd, const char *path)
{
    char *text = NULL, err[300];
    size_t len = 0;
    int r = strcmp(path, "-") == 0
                ? arb_fd_read(STDIN_FILENO, CONTEXT_FILE_MAX, &text, &len, err, sizeof err)
                : arb_file_read(AT_FDCWD, path, false, CONTEXT_FILE_MAX, &text, &len, err,
                                sizeof err);
    if (r == 1) snprintf(err, sizeof err, "is a folder, not a file of contexts");
    if (r != 0) {
        fprintf(stderr, "arbiter %s: cannot read %s: %s\n", cmd, path, err);
        free(text);
        return NULL;
    }
    return text;
}

/* Decide the JSON context text with rs, with once's memory (the caller
 * calls arb_decide_once_done). Returns the decision (see decision.h), or
 * NULL with err. */
static const arb_decision_t *decide_json(arb_ruleset_t *rs, arb_decider_t *d, const char *text,
                                         arb_decide_once_t *once, char *err, size_t errlen)
{
    msgpack_sbuffer in;
    msgpack_sbuffer_init(&in);
    const arb_decision_t *dec = NULL;
    arb_err_t e;
    if (arb_json_to_msgpack(text, &in, err, errlen) < 0) {
        /* once must still be ready for arb_decide_once_done */
        arb_decide_bytes(d, rs, "", 0, NULL, once, &e);
    } else if (!(dec = arb_decide_bytes(d, rs, in.data, in.size, NULL, once, &e))) {
        snprintf(err, errlen, "%s: %s", arb_code_name(e.code), e.message);
    }
    msgpack_sbuffer_destroy(&in);
    return dec;
}

/* What follows an explain line's reason: the part of `when` that failed,
 * whom it lost to and by how much, and the numbers of its priority. */
static void print_explained(const arb_explained_t *e)
{
    if (e->failed) printf(": %s is false", e->failed);
    if (e->lost_to && !isnan(e->lost_to_priority))
        printf(" to %s (priority %.4g, %.4g more)", e->lost_to, e->lost_to_priority, e->lost_by);
    else if (e->lost_to)
        printf(" (%s)", e->lost_to);
    if (e->eligible)
        printf("  priority %.4g = propensity %.4g (%s) x value %.4g x weight %.4g x lever %.4g",
               e->priority, e->propensity, e->propensity_from ? e->propensity_from : "fixed",
               e->value, e->weight, e->lever);
    /* A recommending action: x its best chosen product's score, and what it
     * considered. */
    if (e->eligible && e->n_products && e->products[0].chosen)
        printf(" x best product %.4g", e->products[0].score);
    for (uint32_t k = 0; k < e->n_products; k++) {
        const arb_explained_product_t *p = &e->products[k];
        printf("%s%s %s", k ? ", " : "\n      products: ", p->sku, p->reason);
        if (!isnan(p->score)) printf(" %.4g", p->score);
    }
}

static void print_decision(const arb_decision_t *dec)
{
    printf("ruleset %s, decided in %llu us\n", dec->ruleset, (unsigned long long)dec->elapsed_us);
    if (dec->n_actions == 0) printf("  no action\n");
    for (uint32_t i = 0; i < dec->n_actions; i++) {
        const arb_decided_action_t *a = &dec->actions[i];
        printf("  %u. %s  priority %.4g (propensity %.4g, value %.4g)\n", i + 1, a->id,
               a->priority, a->propensity, a->value);
    }
    if (!dec->explain) return;
    printf("why:\n");
    for (uint32_t i = 0; i < dec->n_explain; i++) {
        const arb_explained_t *e = &dec->explain[i];
        int len = (int)strlen(e->id);
        printf("  %s%*s %s", e->id, len < 32 ? 32 - len : 0, "", e->reason);
        print_explained(e);
        printf("\n");
    }
}

/* The decision as the server would send it, as JSON (NULL when out of memory). */
static char *decision_json(const arb_decision_t *dec)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    arb_answer_pack_decision(&pk, dec);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    char *out = NULL;
    if (msgpack_unpack_next(&u, sb.data, sb.size, NULL) == MSGPACK_UNPACK_SUCCESS)
        out = arb_msgpack_to_json(&u.data, 1);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    return out;
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
    char *text = slurp("decide", file);
    if (!text) return 2;
    arb_ruleset_t *rs = load_or_report(dir);
    if (!rs) { free(text); return 1; }
    arb_decider_t *d = arb_decider_new();
    arb_decider_force_explain(d, explain);
    arb_decide_once_t once;
    char err[1200];
    int code = 0;
    const arb_decision_t *dec = decide_json(rs, d, text, &once, err, sizeof err);
    if (!dec) {
        fprintf(stderr, "arbiter decide: %s: %s\n", file, err);
        code = 1;
    } else if (json) {
        char *out = decision_json(dec);
        printf("%s\n", out ? out : "null");
        free(out);
    } else {
        print_decision(dec);
    }
    arb_decide_once_done(&once);
    arb_decider_free(d);
    arb_ruleset_free(rs);
    free(text);
    return code;
}

/* ------------------------------------------------------------ replay */

/* The chosen ids of a decision as "a,b,c" into buf. */
static void chosen_ids(const arb_decision_t *dec, char *buf, size_t n)
{
    buf[0] = '\0';
    for (uint32_t i = 0; i < dec->n_actions; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, n - used, "%s%s", i ? "," : "", dec->actions[i].id);
    }
}

static int replay_usage(FILE *f, int code)
{
    fprintf(f, "usage: arbiter replay --rules DIR CONTEXTS.jsonl [--against DIR2 | --json]\n"
               "       arbiter replay --rules DIR --log LOGDIR [--against DIR2 | --json]\n"
               "Decide every context (one JSON object per line, or the contexts of a\n"
               "decision log's records, logged with --log-contexts) with DIR and print a\n"
               "summary and how often each action wins, overall, by channel and by\n"
               "touchpoint (--json: as one JSON object); with --against, also with DIR2:\n"
               "the wins before and after, and what changed.\n");
    return code;
}

/* How often one action wins, with DIR and with DIR2. */
typedef struct wins {
    char id[256];
    unsigned before, after;
} wins_t;

typedef struct win_table {
    wins_t *w;
    size_t n;
} win_table_t;

/* Count each id of "a,b,c" (chosen_ids) as a win. */
static void count_wins(win_table_t *t, const char *ids, bool after)
{
    for (const char *p = ids; *p;) {
        size_t len = strcspn(p, ",");
        size_t i = 0;
        while (i < t->n && !(strlen(t->w[i].id) == len && strncmp(t->w[i].id, p, len) == 0)) i++;
        if (i == t->n) {
            wins_t *q = realloc(t->w, (t->n + 1) * sizeof *q);
            if (!q) return;     /* the table loses a row; the summary stays right */
            t->w = q;
            memset(&q[i], 0, sizeof q[i]);
            snprintf(q[i].id, sizeof q[i].id, "%.*s", (int)(len < 255 ? len : 255), p);
            t->n++;
        }
        if (after) t->w[i].after++;
        else t->w[i].before++;
        p += len + (p[len] == ',');
    }
}

static int by_wins(const void *a, const void *b)
{
    const wins_t *x = a, *y = b;
    if (x->before != y->before) return x->before > y->before ? -1 : 1;
    return strcmp(x->id, y->id);
}

static void print_wins(win_table_t *t, bool against)
{
    if (!t->n) return;
    qsort(t->w, t->n, sizeof *t->w, by_wins);
    int width = 6;
    for (size_t i = 0; i < t->n; i++)
        if ((int)strlen(t->w[i].id) > width) width = (int)strlen(t->w[i].id);
    printf("%-*s  %8s%s\n", width, "action", "wins", against ? "     after" : "");
    for (size_t i = 0; i < t->n; i++) {
        printf("%-*s  %8u", width, t->w[i].id, t->w[i].before);
        if (against) printf("  %8u", t->w[i].after);
        printf("\n");
    }
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Decide each context (JSON text) with a and, when given, b; print the
 * changes, the summary and the wins. A change is named label:line, or by
 * the logged decision's id when ids is given; who (or NULL) names each
 * context's customer, to count the customers whose answer changes. */
static void replay_run(arb_ruleset_t *a, arb_ruleset_t *b, const char *against, char **ctxs,
                       const char **ids, const char **who, size_t n, const char *label, bool json)
{
    arb_decider_t *d = arb_decider_new();
    arb_replay_wins_t *groups = b ? NULL : arb_replay_wins_new();   /* by channel and touchpoint */
    unsigned total = 0, errors = 0, changed = 0, empty = 0;
    win_table_t wins = { 0 };
    const char **moved = who ? malloc((n ? n : 1) * sizeof *moved) : NULL;
    for (size_t k = 0; k < n; k++) {
        const char *line = ctxs[k];
        total++;
        arb_decide_once_t oa, ob;
        char err[1200], ia[512], ib[512];
        const arb_decision_t *da = decide_json(a, d, line, &oa, err, sizeof err);
        if (!da) {
            errors++;
            if (errors <= 10 && ids) fprintf(stderr, "%s: decision %s: %s\n", label, ids[k], err);
            else if (errors <= 10) fprintf(stderr, "%s:%u: %s\n", label, total, err);
        } else {
            chosen_ids(da, ia, sizeof ia);   /* copied: the next decision on d replaces da */
            empty += ia[0] == '\0';
            count_wins(&wins, ia, false);
            if (groups) arb_replay_wins_add(groups, da);
            if (b) {
                const arb_decision_t *db = decide_json(b, d, line, &ob, err, sizeof err);
                if (db) {
                    chosen_ids(db, ib, sizeof ib);
                    count_wins(&wins, ib, true);
                    if (strcmp(ia, ib) != 0) {
                        if (moved) moved[changed] = who[k];
                        changed++;
                        if (changed <= 20 && ids)
                            printf("%s: decision %s: [%s] -> [%s]\n", label, ids[k], ia, ib);
                        else if (changed <= 20)
                            printf("%s:%u: [%s] -> [%s]\n", label, total, ia, ib);
                    }
                }
                arb_decide_once_done(&ob);
            }
        }
        arb_decide_once_done(&oa);
    }
    if (json) {
        char *text = groups ? arb_replay_wins_json(groups, total, errors, empty) : NULL;
        printf("%s\n", text ? text : "null");
        if (!text) fprintf(stderr, "%s: out of memory writing the JSON\n", label);
        free(text);
        arb_replay_wins_free(groups);
        free(moved);
        free(wins.w);
        arb_decider_free(d);
        return;
    }
    printf("%u contexts, %u invalid, %u with no action", total, errors, empty);
    if (b) printf(", %u changed by %s", changed, against);
    if (b && moved) {
        size_t distinct = 0;
        if (changed) qsort(moved, changed, sizeof *moved, by_str);
        for (unsigned i = 0; i < changed; i++) distinct += i == 0 || strcmp(moved[i], moved[i - 1]) != 0;
        printf(" (%zu customer%s)", distinct, distinct == 1 ? "" : "s");
    }
    free(moved);
    printf("\n");
    print_wins(&wins, b != NULL);
    if (groups) arb_replay_wins_print(groups, stdout);
    arb_replay_wins_free(groups);
    free(wins.w);
    arb_decider_free(d);
}

int arb_cli_replay(int argc, char **argv)
{
    const char *dir = NULL, *against = NULL, *file = NULL, *logdir = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc) dir = argv[++i];
        else if (strcmp(argv[i], "--json") == 0) json = true;
        else if (strcmp(argv[i], "--against") == 0 && i + 1 < argc) against = argv[++i];
        else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc) logdir = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return replay_usage(stdout, 0);
        else if (!file && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)) file = argv[i];
        else return replay_usage(stderr, 2);
    }
    if (!dir || !file == !logdir || (json && against)) return replay_usage(stderr, 2);
    char *text = NULL, **ctxs = NULL;
    const char **ids = NULL, **who = NULL;
    size_t n = 0;
    arb_logset_t set = { 0 };
    if (file) {
        if (!(text = slurp("replay", file))) return 2;
        size_t cap = 1;
        for (const char *p = text; *p; p++) cap += *p == '\n';
        ctxs = malloc(cap * sizeof *ctxs);
        char *save = NULL;
        for (char *line = ctxs ? strtok_r(text, "\n", &save) : NULL; line;
             line = strtok_r(NULL, "\n", &save))
            if (*line) ctxs[n++] = line;
    } else {
        arb_err_t err;
        if (arb_logset_read_dir(&set, logdir, &err) < 0) {
            fprintf(stderr, "arbiter replay: %s\n", err.message);
            arb_logset_free(&set);
            return 2;
        }
        size_t without = 0;
        ctxs = malloc((set.n ? set.n : 1) * sizeof *ctxs);
        ids = malloc((set.n ? set.n : 1) * sizeof *ids);
        who = malloc((set.n ? set.n : 1) * sizeof *who);
        for (size_t i = 0; ctxs && ids && who && i < set.n; i++) {
            if (set.recs[i].type != ARB_LOGREC_DECISION) continue;
            if (!set.recs[i].ctx) {
                without++;
                continue;
            }
            ids[n] = set.recs[i].decision_id ? set.recs[i].decision_id : "(no id)";
            who[n] = set.recs[i].customer;
            ctxs[n++] = set.recs[i].ctx;
        }
        if (without)
            printf("%zu logged decision%s without a context skipped (the server logs contexts "
                   "with --log-contexts)\n", without, without == 1 ? "" : "s");
        if (set.malformed)
            fprintf(stderr, "arbiter replay: %zu malformed line%s skipped (the first: %s)\n",
                    set.malformed, set.malformed == 1 ? "" : "s", set.first_malformed);
    }
    int code = 0;
    arb_ruleset_t *a = NULL, *b = NULL;
    if (!ctxs || (logdir && (!ids || !who))) {
        fprintf(stderr, "arbiter replay: out of memory\n");
        code = 2;
    } else if (!(a = load_or_report(dir)) || (against && !(b = load_or_report(against)))) {
        code = 1;
    } else {
        replay_run(a, b, against, ctxs, ids, who, n, file ? file : logdir, json);
    }
    arb_ruleset_free(a);
    arb_ruleset_free(b);
    free(ctxs);
    free(ids);
    free(who);
    free(text);
    arb_logset_free(&set);
    return code;
}
