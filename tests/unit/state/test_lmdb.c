/* Unit tests for engine/state/lmdb.c on real LMDB files under mkdtemp:
 * forget leaves no byte of the customer readable in data.mdb (old versions
 * included), a full map fails commits with ARB_UNAVAILABLE while reads go on,
 * a folder the server cannot write is refused at open with a clear message,
 * data survives close and reopen and a kill -9 right after the commit
 * callbacks, and reads racing the writer's zeroing never see a torn record.
 * Also prints the commit throughput with group commit (not asserted).
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/state/store.h"

static char dir[64];
static arb_store_t *store;
static arb_store_session_t *sess;
static arb_arena_t arena;

static void setup(void)
{
    strcpy(dir, "/tmp/arb-lmdb-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    arb_arena_init(&arena);
}

static void teardown(void)
{
    if (sess) arb_store_session_close(sess);
    if (store) arb_store_close(store);
    sess = NULL;
    store = NULL;
    arb_arena_free(&arena);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "chmod -R u+rwx %s; rm -rf %s", dir, dir);
    cr_assert_eq(system(cmd), 0);
}

static void open_store(const arb_store_options_t *opt)
{
    arb_err_t err;
    cr_assert_eq(arb_store_open(&store, dir, opt, &err), 0, "%s", err.message);
    sess = arb_store_session_open(store, &err);
    cr_assert_not_null(sess, "%s", err.message);
}

static void close_store(void)
{
    arb_store_session_close(sess);
    arb_store_close(store);
    sess = NULL;
    store = NULL;
}

typedef struct wait {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool done;
    int status;
    arb_err_t err;
    size_t granted;
} wait_t;

static void signal_done(wait_t *w, int status, const arb_err_t *err)
{
    pthread_mutex_lock(&w->m);
    w->status = status;
    if (err) w->err = *err;
    w->done = true;
    pthread_cond_signal(&w->c);
    pthread_mutex_unlock(&w->m);
}

static void on_commit(void *arg, const arb_commit_result_t *res, const arb_err_t *err)
{
    wait_t *w = arg;
    if (res) w->granted = res->n_granted;
    signal_done(w, res ? 0 : -1, err);
}

static void on_fetch(void *arg, int status, const arb_err_t *err) { signal_done(arg, status, err); }
static void on_done(void *arg, const arb_err_t *err) { signal_done(arg, err ? -1 : 0, err); }

static void wait_for(wait_t *w)
{
    pthread_mutex_lock(&w->m);
    while (!w->done) pthread_cond_wait(&w->c, &w->m);
    pthread_mutex_unlock(&w->m);
}

#define WAIT_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, {0}, 0}

static wait_t commit(arb_store_session_t *s, const char *id, const arb_commit_t *c)
{
    wait_t w = WAIT_INIT;
    arb_store_commit(s, id, c, on_commit, &w);
    wait_for(&w);
    return w;
}

static arb_customer_t fetch(const char *id)
{
    arb_customer_t c;
    wait_t w = WAIT_INIT;
    arb_store_fetch(sess, id, &c, &arena, on_fetch, &w);
    wait_for(&w);
    cr_assert_eq(w.status, 0, "%s", w.err.message);
    return c;
}

/* The whole data file, as anyone with the disk could read it. */
static char *read_data_file(size_t *len)
{
    char path[128];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(*len + 1);
    cr_assert_eq(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

static size_t count_in_file(const char *needle)
{
    size_t len, n = 0;
    char *buf = read_data_file(&len);
    for (char *p = buf; (p = memmem(p, len - (size_t)(p - buf), needle, strlen(needle))); p++) n++;
    free(buf);
    return n;
}

static void store_marker_versions(const char *id, const char *marker, int versions, int events_per)
{
    for (int v = 0; v < versions; v++) {
        arb_event_t ev[64];
        char sku[64][64];
        for (int i = 0; i < events_per; i++) {
            snprintf(sku[i], sizeof sku[i], "%s-v%d-%d", marker, v, i);
            ev[i] = (arb_event_t){1000 + v * 100 + i, "view", "web", sku[i], marker, NAN, NULL, 0};
        }
        arb_consent_t cs = {1000 + v, marker, v % 2};
        wait_t w = commit(sess, id, &(arb_commit_t){.now = 1000 + v * 100, .events = ev, .n_events = events_per,
                                                    .consents = &cs, .n_consents = 1});
        cr_assert_eq(w.status, 0, "%s", w.err.message);
        /* Another customer between versions, so freed pages get reused. */
        arb_event_t other = {1000 + v, "view", "app", "OTHER-SKU", "other", NAN, NULL, 0};
        cr_assert_eq(commit(sess, "bystander", &(arb_commit_t){.now = 1000 + v, .events = &other, .n_events = 1}).status, 0);
    }
}

static void forget_and_check(const char *id, const char *marker)
{
    cr_assert_gt(count_in_file(marker), 0, "the marker should be in the file before forget");
    wait_t w = WAIT_INIT;
    arb_store_forget(sess, id, on_done, &w);
    wait_for(&w);
    cr_assert_eq(w.status, 0, "%s", w.err.message);
    cr_assert_eq(fetch(id).n_events, 0);
    cr_assert_eq(count_in_file(marker), 0, "a forgotten customer's bytes are still in data.mdb");
    cr_assert_eq(count_in_file(id), 0, "the forgotten customer_id is still in data.mdb");
    close_store();
    cr_assert_eq(count_in_file(marker), 0);
    open_store(NULL);
    cr_assert_eq(fetch(id).n_events, 0);
    cr_assert_gt(fetch("bystander").n_events, 0);
}

Test(lmdb, forget_scrubs_every_version_from_the_file, .init = setup, .fini = teardown)
{
    open_store(NULL);
    /* One-page records, several versions. */
    store_marker_versions("cust-ZQX-4711", "MARKER-7c1e9b", 6, 8);
    forget_and_check("cust-ZQX-4711", "MARKER-7c1e9b");
}

Test(lmdb, forget_scrubs_records_of_several_pages, .init = setup, .fini = teardown)
{
    open_store(NULL);
    store_marker_versions("cust-BIG-0815", "MARKER-big-a55e", 5, 60);
    forget_and_check("cust-BIG-0815", "MARKER-big-a55e");
}

Test(lmdb, a_full_map_fails_commits_as_unavailable_and_reads_go_on, .init = setup, .fini = teardown)
{
    open_store(&(arb_store_options_t){.map_size = 256 << 10});
    arb_event_t ev = {1, "view", "web", "SKU", "cat", NAN, NULL, 0};
    cr_assert_eq(commit(sess, "first", &(arb_commit_t){.now = 1, .events = &ev, .n_events = 1}).status, 0);
    wait_t w;
    int i = 0;
    for (;; i++) {
        char id[32];
        snprintf(id, sizeof id, "filler-%d", i);
        w = commit(sess, id, &(arb_commit_t){.now = 1, .events = &ev, .n_events = 1});
        if (w.status) break;
        cr_assert_lt(i, 10000, "the map never filled");
    }
    cr_assert_eq(w.err.code, ARB_UNAVAILABLE);
    cr_assert_not_null(strstr(w.err.message, dir), "%s", w.err.message);
    cr_assert_not_null(strstr(w.err.message, "map size"), "%s", w.err.message);
    fprintf(stderr, "lmdb: a full map reads: %s\n", w.err.message);
    /* Reads still work, and the store keeps failing cleanly. */
    cr_assert_eq(fetch("first").n_events, 1);
    cr_assert_eq(fetch("filler-0").n_events, 1);
    w = commit(sess, "late", &(arb_commit_t){.now = 1, .events = &ev, .n_events = 1});
    cr_assert_eq(w.status, -1);
    cr_assert_eq(w.err.code, ARB_UNAVAILABLE);
    cr_assert_eq(fetch("first").n_events, 1);
}

/* A disk that refuses writes (here a file size limit, as a full disk would):
 * the commit fails as unavailable, nothing crashes, reads go on. */
Test(lmdb, a_write_error_fails_the_commit_and_reads_go_on, .init = setup, .fini = teardown)
{
    open_store(NULL);
    arb_event_t ev = {1, "view", "web", "SKU", "cat", NAN, NULL, 0};
    cr_assert_eq(commit(sess, "first", &(arb_commit_t){.now = 1, .events = &ev, .n_events = 1}).status, 0);
    signal(SIGXFSZ, SIG_IGN);
    char path[128];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    struct rlimit rl = {(rlim_t)st.st_size + 8 * 4096, (rlim_t)st.st_size + 8 * 4096};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    wait_t w;
    for (int i = 0;; i++) {
        char id[32];
        snprintf(id, sizeof id, "filler-%d", i);
        w = commit(sess, id, &(arb_commit_t){.now = 1, .events = &ev, .n_events = 1});
        if (w.status) break;
        cr_assert_lt(i, 1000, "the size limit never hit");
    }
    cr_assert_eq(w.err.code, ARB_UNAVAILABLE);
    cr_assert_not_null(strstr(w.err.message, dir), "%s", w.err.message);
    cr_assert_not_null(strstr(w.err.message, "full"), "%s", w.err.message);
    fprintf(stderr, "lmdb: a refused write reads: %s\n", w.err.message);
    cr_assert_eq(fetch("first").n_events, 1);
    cr_assert_eq(fetch("filler-0").n_events, 1);
}

Test(lmdb, a_folder_the_server_cannot_write_is_refused_at_open, .init = setup, .fini = teardown)
{
    char ro[128];
    snprintf(ro, sizeof ro, "%s/ro", dir);
    cr_assert_eq(mkdir(ro, 0555), 0);
    cr_assert_eq(chmod(dir, 0755), 0);  /* the folder exists and can be reached, not written */
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* root writes anywhere: test as nobody. */
        if (geteuid() == 0 && setuid(65534) != 0) _exit(3);
        arb_store_t *s = NULL;
        arb_err_t err = {0};
        int rc = arb_store_open(&s, ro, NULL, &err);
        if (write(fds[1], err.message, strlen(err.message) + 1) < 0) _exit(4);
        _exit(rc == -1 ? 0 : 1);
    }
    close(fds[1]);
    char msg[1100] = {0};
    cr_assert_gt(read(fds[0], msg, sizeof msg - 1), 0);
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "open of a read-only folder succeeded (%d)", st);
    cr_assert_not_null(strstr(msg, ro), "%s", msg);
    cr_assert_not_null(strstr(msg, "write access"), "%s", msg);

    /* A folder that cannot be created: its parent is a file. */
    char file[128], under[160];
    snprintf(file, sizeof file, "%s/plain", dir);
    FILE *f = fopen(file, "w");
    fclose(f);
    snprintf(under, sizeof under, "%s/state", file);
    arb_err_t err;
    cr_assert_eq(arb_store_open(&store, under, NULL, &err), -1);
    cr_assert_null(store);
    cr_assert_not_null(strstr(err.message, under), "%s", err.message);
    cr_assert_not_null(strstr(err.message, "cannot create"), "%s", err.message);
}

Test(lmdb, reopen_keeps_every_customer, .init = setup, .fini = teardown)
{
    open_store(NULL);
    for (int i = 0; i < 200; i++) {
        char id[32];
        snprintf(id, sizeof id, "c-%d", i);
        arb_contact_req_t k = {{100 + i, "boots", "web", "decision"}, NULL, 0};
        cr_assert_eq(commit(sess, id, &(arb_commit_t){.now = 100 + i, .contacts = &k, .n_contacts = 1}).status, 0);
    }
    close_store();
    open_store(NULL);
    for (int i = 0; i < 200; i++) {
        char id[32];
        snprintf(id, sizeof id, "c-%d", i);
        arb_customer_t c = fetch(id);
        cr_assert_eq(c.n_contacts, 1);
        cr_assert_eq(c.contacts[0].ts, 100 + i);
    }
}

/* ---- kill -9 ---- */

static atomic_int child_done;

static void on_child_commit(void *arg, const arb_commit_result_t *res, const arb_err_t *err)
{
    if (!res || res->n_granted != 1) _exit(5);
    atomic_fetch_add(&child_done, 1);
}

Test(lmdb, a_kill_9_after_the_callbacks_loses_no_contact, .init = setup, .fini = teardown)
{
    enum { N = 300 };
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        arb_store_t *s;
        arb_err_t err;
        /* A sync period longer than the test: only the page cache holds it. */
        if (arb_store_open(&s, dir, &(arb_store_options_t){.sync_ms = 600000}, &err)) _exit(2);
        arb_store_session_t *ss = arb_store_session_open(s, &err);
        for (int i = 0; i < N; i++) {
            char id[32];
            snprintf(id, sizeof id, "k-%d", i % 30);
            arb_contact_req_t k = {{1000 + i, "boots", "email", "decision"}, NULL, 0};
            arb_store_commit(ss, id, &(arb_commit_t){.now = 1000 + i, .contacts = &k, .n_contacts = 1},
                             on_child_commit, NULL);
        }
        while (atomic_load(&child_done) < N) usleep(1000);
        raise(SIGKILL);
        _exit(6);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the child did not die by SIGKILL (%d)", st);
    open_store(NULL);
    size_t total = 0;
    for (int i = 0; i < 30; i++) {
        char id[32];
        snprintf(id, sizeof id, "k-%d", i);
        total += fetch(id).n_contacts;
    }
    cr_assert_eq(total, N);
}

/* ---- readers racing the writer ---- */

static atomic_bool stop_reading;
static atomic_int reads, read_failures;

static void *reader(void *p)
{
    arb_err_t err;
    arb_store_session_t *s = arb_store_session_open(store, &err);
    arb_arena_t a;
    arb_arena_init(&a);
    while (!atomic_load(&stop_reading)) {
        arb_customer_t c;
        wait_t w = WAIT_INIT;
        arb_store_fetch(s, "busy", &c, &a, on_fetch, &w);
        wait_for(&w);
        if (w.status != 0 || (c.id[0] && strcmp(c.id, "busy") != 0)) atomic_fetch_add(&read_failures, 1);
        atomic_fetch_add(&reads, 1);
        arb_arena_reset(&a);
    }
    arb_arena_free(&a);
    arb_store_session_close(s);
    return p;
}

Test(lmdb, reads_racing_updates_and_forgets_always_see_a_whole_record, .init = setup, .fini = teardown)
{
    open_store(NULL);
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, reader, NULL);
    arb_event_t ev[40];
    for (int i = 0; i < 40; i++) ev[i] = (arb_event_t){i, "view", "web", "SKU", "cat", NAN, NULL, 0};
    for (int v = 0; v < 2000; v++) {
        ev[v % 40].ts = 100 + v;  /* a new event each time: a new record each time */
        cr_assert_eq(commit(sess, "busy", &(arb_commit_t){.now = v, .events = ev, .n_events = 40}).status, 0);
        if (v % 50 == 49) {
            wait_t w = WAIT_INIT;
            arb_store_forget(sess, "busy", on_done, &w);
            wait_for(&w);
        }
    }
    atomic_store(&stop_reading, true);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    cr_assert_gt(atomic_load(&reads), 0);
    cr_assert_eq(atomic_load(&read_failures), 0);
}

/* ---- throughput, printed for the report, never asserted ---- */

enum { TP_THREADS = 4, TP_EACH = 5000 };
static atomic_int tp_done;

static void on_tp(void *arg, const arb_commit_result_t *res, const arb_err_t *err)
{
    cr_assert_not_null(res);
    atomic_fetch_add(&tp_done, 1);
}

static void *tp_writer(void *p)
{
    arb_err_t err;
    arb_store_session_t *s = arb_store_session_open(store, &err);
    intptr_t n = (intptr_t)p;
    for (int i = 0; i < TP_EACH; i++) {
        char id[32];
        snprintf(id, sizeof id, "tp-%ld-%d", (long)n, i % 1000);
        arb_contact_req_t k = {{1000 + i, "boots", "web", "decision"}, NULL, 0};
        arb_store_commit(s, id, &(arb_commit_t){.now = 1000 + i, .contacts = &k, .n_contacts = 1}, on_tp, NULL);
    }
    arb_store_session_close(s);
    return p;
}

Test(lmdb, print_group_commit_throughput, .init = setup, .fini = teardown)
{
    open_store(NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t t[TP_THREADS];
    for (intptr_t i = 0; i < TP_THREADS; i++) pthread_create(&t[i], NULL, tp_writer, (void *)i);
    for (int i = 0; i < TP_THREADS; i++) pthread_join(t[i], NULL);
    while (atomic_load(&tp_done) < TP_THREADS * TP_EACH) usleep(1000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr, "lmdb: %d commits (one contact each, 4000 customers) in %.3f s: %.0f commits/s\n",
            TP_THREADS * TP_EACH, s, TP_THREADS * TP_EACH / s);
    cr_assert_eq(atomic_load(&tp_done), TP_THREADS * TP_EACH);
    close_store();
    struct stat st;
    char path[128];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    cr_assert_eq(stat(path, &st), 0);
    fprintf(stderr, "lmdb: data.mdb holds 4000 customers in %lld bytes: %lld bytes per customer\n",
            (long long)st.st_size, (long long)st.st_size / 4000);
}
