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
 * Every N is tried (about 24,000 for rules/retail and its tests: some 9
 * minutes); LOADFAIL_STRIDE=s tries every s-th N instead, for a quicker
 * look (tests/run sets 3 under ASan). LOADFAIL_N=n runs only that N (to debug one); a crash names the N it
 * happened at on stderr, with a backtrace (addresses for addr2line).
 */
#include <criterion/criterion.h>
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/ruleset/ruleset.h"
#include "engine/decide/ruletest.h"

#define RULES "rules/retail"

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
    CHECK(o.loaded, "rules/retail must load without a failing allocation");
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
    arb_problems_t p = { 0 };
    arb_ruleset_t *old = arb_ruleset_load(RULES, 1, &p);
    CHECK(old, "rules/retail must load");
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
