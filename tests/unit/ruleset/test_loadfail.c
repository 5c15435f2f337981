/* The loader never aborts: running out of memory anywhere in a load of
 * rules/retail and the run of its tests ends as a problem of that load.
 *
 * This binary is linked with -Wl,--wrap for every allocator the engine
 * calls by name (malloc, calloc, realloc, strdup, strndup, asprintf,
 * aligned_alloc; see ninja/targets.ninja), so the wrappers below can make
 * the Nth allocation fail. The Lua state allocates through realloc
 * (sandbox_alloc) and msgpack-c's sbuffer through inline realloc calls, so
 * both are reached. A first pass counts the allocations of a whole load and
 * test run; then, for every N up to that count, the Nth one fails (once, or
 * from then on) and the load must either succeed or fail with a problem,
 * without crashing or aborting; under ASan a leak fails the run too. A
 * load that succeeds must be whole: its tests pass once memory is back. An
 * earlier ruleset, loaded before, keeps deciding afterwards.
 *
 * rules/retail declares a catalog of 3,000 products (1 MB of JSON): every
 * trial re-reading it made this test some 3.7 times slower, for no path
 * the 3,000th product takes that the 30th does not. So the loads read a
 * copy of the folder (small_rules) whose catalog keeps only the products
 * the rules and their tests name, the catalog's most popular in stock
 * (what `from = "popular"` reaches) and the products those relate to, with
 * every relation of the kept products cut to the kept ones: the loader
 * still meets tags, relations, extra fields, out-of-stock products, and
 * the rules' tests still pass against it.
 *
 * Every N is tried; LOADFAIL_STRIDE=s tries every s-th N instead, for a quicker
 * look (tests/run sets 3 under ASan). LOADFAIL_N=n runs only that N (to debug one); a crash names the N it
 * happened at on stderr, with a backtrace (addresses for addr2line).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <execinfo.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/ruleset/catalog.h"
#include "engine/ruleset/ruleset.h"
#include "engine/decide/ruletest.h"

#define FULL_RULES "rules/retail"

/* The copy of FULL_RULES the loads read (small_rules). */
static char rules_dir[] = "/tmp/arb-loadfail-XXXXXX";
#define RULES rules_dir

/* The loads run on a thread of their own (run_on_thread), where Criterion's
 * asserts may not jump: a broken expectation there says why and aborts,
 * which fails the test as a crash. */
#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "loadfail: " __VA_ARGS__);                     \
            fputc('\n', stderr);                                           \
            abort();                                                       \
        }                                                                  \
    } while (0)

/* Under ASan, a leak fails the test itself, not only the worker's exit
 * (which Criterion reports as a warning). The leak suppressions of
 * tests/lsan.supp drop every leak whose stack reaches libcriterion, so the
 * loads run on a thread whose stacks do not. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAK_CHECK() __lsan_do_recoverable_leak_check()
#else
#define LEAK_CHECK() 0
#endif

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);

static bool armed;           /* counting and failing only inside a load */
static long count;           /* allocations since armed */
static long fail_at;         /* the allocation that fails; 0: none */
static bool fail_after;      /* every allocation from fail_at on fails */
static long load_allocs;     /* of those, the load's (the rest: its tests') */

static bool fail_now(void)
{
    if (!armed) return false;
    count++;
    return fail_at && (count == fail_at || (fail_after && count > fail_at));
}

void *__wrap_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { return fail_now() ? NULL : __real_calloc(n, size); }
char *__wrap_strdup(const char *s) { return fail_now() ? NULL : __real_strdup(s); }
char *__wrap_strndup(const char *s, size_t n) { return fail_now() ? NULL : __real_strndup(s, n); }

void *__wrap_aligned_alloc(size_t align, size_t n)
{
    return fail_now() ? NULL : __real_aligned_alloc(align, n);
}

/* realloc(p, 0) frees (the Lua allocator never asks it, but be exact):
 * only a request for memory can fail. */
void *__wrap_realloc(void *p, size_t n) { return n && fail_now() ? NULL : __real_realloc(p, n); }

int __wrap_asprintf(char **out, const char *fmt, ...)
{
    if (fail_now()) return -1;
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(out, fmt, ap);
    va_end(ap);
    return r;
}

/* ---- naming the N of a crash */

static volatile long current_n;

static void on_crash(int sig)
{
    char line[80];
    int len = snprintf(line, sizeof line, "loadfail: signal %d at N=%ld (%s)\n", sig, current_n,
                       fail_after ? "from N on" : "once");
    if (len > 0) (void)!write(2, line, (size_t)len);
    void *frames[32];
    backtrace_symbols_fd(frames, backtrace(frames, 32), 2);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void catch_crashes(void)
{
    signal(SIGSEGV, on_crash);
    signal(SIGABRT, on_crash);
    signal(SIGBUS, on_crash);
    signal(SIGFPE, on_crash);
}

/* ---- the folder with a small catalog */

static char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    CHECK(f, "cannot read %s", path);
    char *buf = NULL;
    size_t cap = 0;
    FILE *m = open_memstream(&buf, &cap);
    CHECK(m, "open_memstream failed");
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) fwrite(chunk, 1, got, m);
    fclose(f);
    fclose(m);
    if (len) *len = cap;
    return buf;
}

static void write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(text, 1, len, f) == len && fclose(f) == 0, "cannot write %s", path);
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && !strcmp(s + n - t, tail);
}

/* Marks in `named` every product of `by_sku` a quoted string of the Lua
 * text names ("MS-2040-WL" or 'MS-2040-WL'). */
static void mark_named(const char *text, json_t *by_sku, json_t *named)
{
    for (const char *p = text; *p; p++) {
        if (*p != '"' && *p != '\'') continue;
        const char *end = strchr(p + 1, *p);
        if (!end) break;
        if (!memchr(p + 1, '\n', (size_t)(end - p - 1))) {
            char sku[128];
            size_t n = (size_t)(end - p - 1);
            if (n < sizeof sku) {
                memcpy(sku, p + 1, n);
                sku[n] = 0;
                if (json_object_get(by_sku, sku)) json_object_set_new(named, sku, json_true());
            }
            p = end;
        }
    }
}

static int by_popularity_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* Marks the products `from = "popular"` reaches (the catalog's
 * ARB_CATALOG_POPULAR most popular in stock): kept with every product at
 * least as popular, the small catalog's popular list is the full one's. */
static void keep_popular(const json_t *lines, json_t *named)
{
    size_t i, n = 0;
    json_t *p;
    double *pop = calloc(json_array_size(lines) + 1, sizeof *pop);
    CHECK(pop, "out of memory");
    json_array_foreach(lines, i, p) {
        json_t *st = json_object_get(p, "in_stock");
        if (st && (json_is_false(st) || (json_is_number(st) && json_number_value(st) <= 0))) continue;
        json_t *v = json_object_get(p, "popularity");
        pop[n++] = v ? json_number_value(v) : 0;
    }
    qsort(pop, n, sizeof *pop, by_popularity_desc);
    double least = n ? pop[n < ARB_CATALOG_POPULAR ? n - 1 : ARB_CATALOG_POPULAR - 1] : 0;
    free(pop);
    json_array_foreach(lines, i, p) {
        json_t *st = json_object_get(p, "in_stock"), *v = json_object_get(p, "popularity");
        if (st && (json_is_false(st) || (json_is_number(st) && json_number_value(st) <= 0))) continue;
        if ((v ? json_number_value(v) : 0) >= least)
            json_object_set_new(named, json_string_value(json_object_get(p, "sku")), json_true());
    }
}

/* Writes to `out` the lines of the catalog `in` that are kept: the
 * products the Lua files of `lua_text` name, and what they relate to;
 * a kept product's relations name kept products only. */
static void write_small_catalog(const char *in, const char *out, const char *lua_text)
{
    char *text = read_text(in, NULL);
    json_t *lines = json_array(), *by_sku = json_object(), *named = json_object(), *kept = json_object();
    char *save;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t err;
        json_t *p = json_loads(line, 0, &err);
        CHECK(p && json_is_string(json_object_get(p, "sku")), "%s: a line is no product: %s", in, err.text);
        json_array_append_new(lines, p);
        json_object_set(by_sku, json_string_value(json_object_get(p, "sku")), p);
    }
    free(text);
    mark_named(lua_text, by_sku, named);
    keep_popular(lines, named);
    const char *sku;
    json_t *v;
    json_object_foreach(named, sku, v) {
        json_object_set_new(kept, sku, json_true());
        const char *rel;
        json_t *skus;
        json_object_foreach(json_object_get(json_object_get(by_sku, sku), "relations"), rel, skus) {
            size_t i;
            json_t *s;
            json_array_foreach(skus, i, s) json_object_set_new(kept, json_string_value(s), json_true());
        }
    }
    FILE *f = fopen(out, "wb");
    CHECK(f, "cannot write %s", out);
    size_t i, n_kept = 0, n_related = 0;
    json_t *p;
    json_array_foreach(lines, i, p) {
        if (!json_object_get(kept, json_string_value(json_object_get(p, "sku")))) continue;
        json_t *rels = json_object_get(p, "relations");
        const char *rel;
        json_t *skus;
        void *tmp;
        json_object_foreach_safe(rels, tmp, rel, skus) {
            json_t *cut = json_array();
            size_t k;
            json_t *s;
            json_array_foreach(skus, k, s) if (json_object_get(kept, json_string_value(s))) json_array_append(cut, s);
            n_related += json_array_size(cut);
            if (json_array_size(cut)) json_object_set_new(rels, rel, cut);
            else {
                json_decref(cut);
                json_object_del(rels, rel);
            }
        }
        if (rels && !json_object_size(rels)) json_object_del(p, "relations");
        char *line = json_dumps(p, JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
        CHECK(line, "json_dumps failed");
        fprintf(f, "%s\n", line);
        free(line);
        n_kept++;
    }
    CHECK(fclose(f) == 0, "cannot write %s", out);
    /* The small catalog must still be a catalog worth failing in. */
    CHECK(json_object_size(named) > 0 && n_kept < json_array_size(lines) && n_related > 0,
          "%s: %zu products named, %zu of %zu kept, %zu relations", in, json_object_size(named), n_kept,
          json_array_size(lines), n_related);
    json_decref(lines);
    json_decref(by_sku);
    json_decref(named);
    json_decref(kept);
}

/* Copies the folder `from` to `to` (made), its subfolders too (a
 * challenger); the text of every *.lua file goes to `lua`, the catalogs
 * (*.jsonl) are left for small_rules, which knows then what they must
 * keep. */
static void copy_tree(const char *from, const char *to, FILE *lua, FILE *catalogs)
{
    DIR *d = opendir(from);
    CHECK(d, "cannot open %s", from);
    struct dirent *e;
    char src[512], dst[512];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(src, sizeof src, "%s/%s", from, e->d_name);
        snprintf(dst, sizeof dst, "%s/%s", to, e->d_name);
        if (e->d_type == DT_DIR) {
            CHECK(mkdir(dst, 0700) == 0, "cannot make %s", dst);
            copy_tree(src, dst, lua, catalogs);
        } else if (ends_with(e->d_name, ".jsonl")) {
            fprintf(catalogs, "%s\n%s\n", src, dst);
        } else {
            size_t len;
            char *text = read_text(src, &len);
            write_text(dst, text, len);
            if (ends_with(e->d_name, ".lua")) fprintf(lua, "%s\n", text);
            free(text);
        }
    }
    closedir(d);
}

/* Copies FULL_RULES to rules_dir, each catalog (*.jsonl) made small. */
static void small_rules(void)
{
    CHECK(mkdtemp(rules_dir), "mkdtemp failed");
    char *lua = NULL, *catalogs = NULL;
    size_t lua_len = 0, catalogs_len = 0;
    FILE *l = open_memstream(&lua, &lua_len), *c = open_memstream(&catalogs, &catalogs_len);
    CHECK(l && c, "open_memstream failed");
    copy_tree(FULL_RULES, rules_dir, l, c);
    fclose(l);
    fclose(c);
    char *save;
    for (char *from = strtok_r(catalogs, "\n", &save), *to; from && (to = strtok_r(NULL, "\n", &save));
         from = strtok_r(NULL, "\n", &save))
        write_small_catalog(from, to, lua);
    free(lua);
    free(catalogs);
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_type == DT_DIR) remove_tree(path);
        else unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* ---- one load */

typedef struct outcome {
    bool loaded;        /* the ruleset loaded */
    int tests;          /* tests run (-1: they could not be read or run) */
    size_t problems;    /* problems of the load, or test failures */
} outcome_t;

/* Load RULES and run its tests, the Nth allocation failing (0: none). */
static outcome_t load_once(long n)
{
    outcome_t o = { 0 };
    arb_problems_t p = { 0 };
    current_n = n;
    count = 0;
    fail_at = n;
    armed = true;
    arb_ruleset_t *rs = arb_ruleset_load(RULES, 1, &p);
    if (!n) load_allocs = count;
    o.loaded = rs != NULL;
    o.tests = rs ? arb_ruleset_run_tests(rs, RULES, &p, 0) : -1;
    armed = false;
    o.problems = p.total;
    arb_problems_free(&p);
    if (rs && n && n <= load_allocs) {
        /* A load that succeeded is the whole ruleset, not a part that
         * lost something to the failure: its tests pass once memory is
         * back. (A failure after the load is the tests' own.) */
        int again = arb_ruleset_run_tests(rs, RULES, &p, 0);
        CHECK(again > 0 && p.total == 0, "N=%ld: loaded, but then %d tests, %zu failures%s%s",
                  n, again, p.total, p.n ? ": " : "", p.n ? p.items[0] : "");
        arb_problems_free(&p);
    }
    arb_ruleset_free(rs);
    return o;
}

/* How many allocations a whole load and test run makes. */
static long count_allocations(void)
{
    outcome_t o = load_once(0);
    CHECK(o.loaded, "the rules must load without a failing allocation");
    CHECK(o.tests > 0 && o.problems == 0, "its tests must pass (%d run, %zu failures)",
              o.tests, o.problems);
    return count;
}

/* An earlier ruleset, loaded before the failing loads, still decides as
 * it did: its own tests pass. */
static void old_ruleset_serves(arb_ruleset_t *old)
{
    arb_problems_t p = { 0 };
    int n = arb_ruleset_run_tests(old, RULES, &p, 0);
    CHECK(n > 0 && p.total == 0, "the earlier ruleset: %d tests, %zu failures", n, p.total);
    arb_problems_free(&p);
}

static void *every_n(void *arg)
{
    bool after = *(bool *)arg;
    catch_crashes();
    small_rules();
    arb_problems_t p = { 0 };
    arb_ruleset_t *old = arb_ruleset_load(RULES, 1, &p);
    CHECK(old, "the rules must load: %s", p.n ? p.items[0] : "");
    long total = count_allocations();
    long from = 1, to = total;
    const char *one = getenv("LOADFAIL_N"), *stride_env = getenv("LOADFAIL_STRIDE");
    long stride = stride_env && atol(stride_env) > 0 ? atol(stride_env) : 1;
    if (one) from = to = atol(one);
    fail_after = after;
    long failed = 0;
    for (long n = from; n <= to; n += stride) {
        outcome_t o = load_once(n);
        if (!o.loaded) {
            failed++;
            CHECK(o.problems > 0, "N=%ld: the load failed without a problem", n);
        } else if (o.tests < 0) {
            CHECK(o.problems > 0, "N=%ld: the tests failed without a problem", n);
        }
    }
    fail_after = false;
    fprintf(stderr, "loadfail: %ld allocations per load and test run (%ld the load's); %ld loads failed with "
                "a problem (%s)\n", total, load_allocs, failed, after ? "from N on" : "once");
    /* Failing from N on, every load but those failing after the end of
     * the load itself must fail. */
    if (after && !one) CHECK(failed > 0, "failing from N on, some load must fail");
    old_ruleset_serves(old);
    arb_ruleset_free(old);
    arb_problems_free(&p);
    remove_tree(rules_dir);
    return NULL;
}

static void run_on_thread(bool after)
{
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, every_n, &after), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(LEAK_CHECK(), 0, "memory leaked (see the report above)");
}

Test(loadfail, every_allocation_failing_once, .timeout = 1800)
{
    run_on_thread(false);
}

Test(loadfail, every_allocation_failing_from_then_on, .timeout = 1800)
{
    run_on_thread(true);
}
