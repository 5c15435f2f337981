/* Unit tests for the decision log's writer (engine/audit/log.c) on a real
 * folder: records read back as JSON lines with the schema's keys in order,
 * files rotate by size and by age, retention deletes old files at a
 * rotation, a full queue drops and counts, a folder that went away counts
 * failures, and a torn tail left by a crash is never appended to.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "engine/audit/log.h"

#define PSEUDO "0123456789abcdef0123456789abcdef"

static char g_dir[64];

static void setup(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/arb-audit-XXXXXX");
    cr_assert(mkdtemp(g_dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    cr_assert(system(cmd) == 0);
}

TestSuite(audit_log, .init = setup, .fini = teardown);

/* The log's files in g_dir (names sorted), and every line's text. */
typedef struct {
    char names[4096][256];
    size_t n_files;
    char **lines;
    size_t n_lines;
    bool torn;           /* some file's last line had no newline */
} files_t;

static int cmp(const void *a, const void *b) { return strcmp(a, b); }

static void read_all(files_t *f)
{
    memset(f, 0, sizeof *f);
    DIR *d = opendir(g_dir);
    cr_assert(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".jsonl") && f->n_files < 4096)
            snprintf(f->names[f->n_files++], 256, "%s", e->d_name);
    closedir(d);
    qsort(f->names, f->n_files, sizeof f->names[0], cmp);
    f->lines = calloc(1 << 20, sizeof *f->lines);
    for (size_t i = 0; i < f->n_files; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", g_dir, f->names[i]);
        FILE *fp = fopen(path, "r");
        cr_assert(fp, "%s", path);
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, fp)) > 0) {
            if (line[n - 1] != '\n') {
                f->torn = true;
                continue;
            }
            line[n - 1] = 0;
            f->lines[f->n_lines++] = strdup(line);
        }
        free(line);
        fclose(fp);
    }
}

static void files_free(files_t *f)
{
    for (size_t i = 0; i < f->n_lines; i++) free(f->lines[i]);
    free(f->lines);
}

/* The keys of a record, in order, must be exactly want. */
static void expect_keys(json_t *o, const char *const *want, const char *what)
{
    const char *k;
    json_t *v;
    size_t i = 0;
    json_object_foreach(o, k, v) {
        cr_assert(want[i], "%s: extra key %s", what, k);
        cr_assert_str_eq(k, want[i], "%s: key %zu", what, i);
        i++;
    }
    cr_assert_null(want[i], "%s: missing %s", what, want[i]);
}

static const char *const DECISION_KEYS[] = { "v", "type", "ts", "decision_id", "customer",
    "channel", "touchpoint", "ruleset", "group", "experiment", "arm", "actions", "held",
    "context", NULL };
static const char *const DECISION_CTX_KEYS[] = { "v", "type", "ts", "decision_id", "customer",
    "channel", "touchpoint", "ruleset", "group", "experiment", "arm", "actions", "held",
    "context", "ctx", NULL };
static const char *const FEEDBACK_KEYS[] = { "v", "type", "ts", "customer", "decision_id",
    "action", "outcome", "channel", "value", NULL };
static const char *const PURCHASE_KEYS[] = { "v", "type", "ts", "customer", "sku", "category",
    "price", "channel", NULL };

static json_t *parse(const char *line)
{
    json_error_t e;
    json_t *o = json_loads(line, 0, &e);
    cr_assert(o, "not JSON (%s): %s", e.text, line);
    cr_assert(json_is_object(o));
    return o;
}

/* A context: {customer_id: "cust-42", channel: "web", cart: 3}. */
static void pack_ctx(msgpack_sbuffer *sb)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "customer_id", 11);
    msgpack_pack_str_with_body(&pk, "cust-42", 7);
    msgpack_pack_str_with_body(&pk, "channel", 7);
    msgpack_pack_str_with_body(&pk, "web", 3);
    msgpack_pack_str_with_body(&pk, "cart", 4);
    msgpack_pack_int(&pk, 3);
}

static const arb_decided_action_t ACTS[2] = {
    { .id = "promo", .priority = 0.5, .propensity = 0.25, .value = 2 },
    { .id = "banner", .priority = 0.125, .propensity = 0.5, .value = 0.25 },
};
static const arb_held_t HELD[1] = { { "upsell", "action" } };

static arb_decision_t decision(void)
{
    return (arb_decision_t){ .decision_id = "00000000000000aa-1", .decision_id_len = 18,
                             .ruleset = "3-abc", .actions = ACTS, .n_actions = 2,
                             .customer_id = "cust-42", .channel = "web", .now = 1700000000,
                             .touchpoint = "home", .group = "treatment",
                             .experiment = "spring", .arm = "challenger", .held = HELD,
                             .n_held = 1 };
}

static arb_log_t *open_log(arb_log_options_t opt)
{
    opt.dir = g_dir;
    arb_log_t *l;
    arb_err_t err;
    cr_assert_eq(arb_log_open(&l, &opt, &err), 0, "%s", err.message);
    return l;
}

static void log_n(arb_log_t *l, int n)
{
    msgpack_sbuffer sb;
    pack_ctx(&sb);
    arb_decision_t d = decision();
    for (int i = 0; i < n; i++) arb_log_decision(l, &d, PSEUDO, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void wait_written(arb_log_t *l, uint64_t n)
{
    arb_log_stats_t st;
    for (int i = 0; i < 1000; i++) {   /* a bounded wait for the writer, not a speed test */
        arb_log_stats(l, &st);
        if (st.written + st.failed >= n) return;
        usleep(10000);
    }
    cr_assert_fail("the writer never wrote %llu records", (unsigned long long)n);
}

Test(audit_log, every_record_is_a_json_line_with_the_schemas_keys)
{
    arb_log_t *l = open_log((arb_log_options_t){ 0 });
    msgpack_sbuffer sb;
    pack_ctx(&sb);
    arb_decision_t d = decision();
    arb_log_decision(l, &d, PSEUDO, sb.data, sb.size);
    arb_feedback_t fb = { "cust-42", "promo", "convert", "00000000000000aa-1", "web", 9.5, 1700000100 };
    arb_log_feedback(l, &fb, PSEUDO);
    arb_feedback_t bare = { "cust-42", "promo", "click", NULL, NULL, NAN, 1700000101 };
    arb_log_feedback(l, &bare, PSEUDO);
    arb_event_t buys[2] = { { .ts = 1700000200, .sku = "sku-1", .category = "shoes", .price = 59.9,
                              .channel = "store" },
                            { .ts = 1700000201, .price = NAN } };
    arb_commit_t track = { .purchases = buys, .n_purchases = 2 };
    arb_log_purchases(l, &track, PSEUDO);
    arb_log_close(l);

    static files_t f;
    read_all(&f);
    cr_assert_eq(f.n_files, 1);
    cr_assert_eq(f.n_lines, 5);
    cr_assert(!f.torn);
    json_t *o = parse(f.lines[0]);
    expect_keys(o, DECISION_KEYS, "decision");
    cr_assert_eq(json_integer_value(json_object_get(o, "v")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(o, "type")), "decision");
    cr_assert_eq(json_integer_value(json_object_get(o, "ts")), 1700000000);
    cr_assert_str_eq(json_string_value(json_object_get(o, "decision_id")), "00000000000000aa-1");
    cr_assert_str_eq(json_string_value(json_object_get(o, "customer")), PSEUDO);
    cr_assert_str_eq(json_string_value(json_object_get(o, "touchpoint")), "home");
    cr_assert_str_eq(json_string_value(json_object_get(o, "arm")), "challenger");
    json_t *a = json_object_get(o, "actions");
    cr_assert_eq(json_array_size(a), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 1), "id")), "banner");
    cr_assert_float_eq(json_real_value(json_object_get(json_array_get(a, 0), "priority")), 0.5, 1e-12);
    cr_assert_float_eq(json_number_value(json_object_get(json_array_get(a, 0), "value")), 2, 1e-12);
    json_t *h = json_array_get(json_object_get(o, "held"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(h, "control")), "action");
    /* the context's digest: XXH3-128 of its bytes, big-endian, in hex */
    XXH128_canonical_t md;
    XXH128_canonicalFromHash(&md, XXH3_128bits(sb.data, sb.size));
    char hex[33];
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", md.digest[i]);
    cr_assert_str_eq(json_string_value(json_object_get(o, "context")), hex);
    json_decref(o);

    o = parse(f.lines[1]);
    expect_keys(o, FEEDBACK_KEYS, "feedback");
    cr_assert_float_eq(json_number_value(json_object_get(o, "value")), 9.5, 1e-12);
    json_decref(o);
    o = parse(f.lines[2]);
    expect_keys(o, FEEDBACK_KEYS, "feedback without options");
    cr_assert(json_is_null(json_object_get(o, "decision_id")));
    cr_assert(json_is_null(json_object_get(o, "value")));
    cr_assert(json_is_null(json_object_get(o, "channel")));
    json_decref(o);
    for (int i = 3; i < 5; i++) {
        o = parse(f.lines[i]);
        expect_keys(o, PURCHASE_KEYS, "purchase");
        cr_assert_str_eq(json_string_value(json_object_get(o, "customer")), PSEUDO);
        json_decref(o);
    }
    o = parse(f.lines[4]);
    cr_assert(json_is_null(json_object_get(o, "price")) && json_is_null(json_object_get(o, "sku")));
    json_decref(o);
    for (size_t i = 0; i < f.n_lines; i++) cr_assert_null(strstr(f.lines[i], "cust-42"));
    files_free(&f);
    msgpack_sbuffer_destroy(&sb);
}

Test(audit_log, contexts_carry_the_pseudonym_never_the_customer_id)
{
    arb_log_t *l = open_log((arb_log_options_t){ .contexts = true });
    log_n(l, 3);
    arb_log_close(l);   /* close writes what was queued */
    static files_t f;
    read_all(&f);
    cr_assert_eq(f.n_lines, 3);
    for (size_t i = 0; i < f.n_lines; i++) {
        json_t *o = parse(f.lines[i]);
        expect_keys(o, DECISION_CTX_KEYS, "decision with ctx");
        json_t *ctx = json_object_get(o, "ctx");
        cr_assert_str_eq(json_string_value(json_object_get(ctx, "customer_id")), PSEUDO);
        cr_assert_eq(json_integer_value(json_object_get(ctx, "cart")), 3);
        cr_assert_null(strstr(f.lines[i], "cust-42"));
        json_decref(o);
    }
    files_free(&f);
}

Test(audit_log, rotates_by_size_every_line_whole)
{
    arb_log_t *l = open_log((arb_log_options_t){ .max_file_bytes = 2048 });
    log_n(l, 300);
    arb_log_close(l);
    static files_t f;
    read_all(&f);
    cr_assert_gt(f.n_files, 10, "files: %zu", f.n_files);
    cr_assert_eq(f.n_lines, 300);
    cr_assert(!f.torn);
    for (size_t i = 0; i < f.n_files; i++) {
        char path[600];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", g_dir, f.names[i]);
        cr_assert(stat(path, &st) == 0);
        cr_assert_leq(st.st_size, 2048, "%s: %lld bytes", f.names[i], (long long)st.st_size);
    }
    for (size_t i = 0; i < f.n_lines; i++) json_decref(parse(f.lines[i]));
    files_free(&f);
}

Test(audit_log, stats_count_records_and_files)
{
    arb_log_t *l = open_log((arb_log_options_t){ .max_file_bytes = 4096 });
    log_n(l, 100);
    wait_written(l, 100);
    arb_log_stats_t st;
    arb_log_stats(l, &st);
    arb_log_close(l);
    static files_t f;
    read_all(&f);
    cr_assert_eq(st.written, 100);
    cr_assert_eq(st.dropped + st.failed, 0);
    cr_assert_eq(st.files, f.n_files);
    files_free(&f);
}

Test(audit_log, rotates_by_age)
{
    arb_log_t *l = open_log((arb_log_options_t){ .rotate_s = 1 });
    log_n(l, 2);
    wait_written(l, 2);
    sleep(2);
    log_n(l, 2);
    arb_log_close(l);
    static files_t f;
    read_all(&f);
    cr_assert_eq(f.n_files, 2);
    cr_assert_eq(f.n_lines, 4);
    files_free(&f);
}

static void touch(const char *name, time_t mtime, const char *text)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *fp = fopen(path, "w");
    cr_assert(fp);
    fputs(text, fp);
    fclose(fp);
    struct timespec ts[2] = { { mtime, 0 }, { mtime, 0 } };
    cr_assert(utimensat(AT_FDCWD, path, ts, 0) == 0);
}

static bool exists(const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    return access(path, F_OK) == 0;
}

Test(audit_log, retention_deletes_old_files_at_rotation)
{
    time_t now = time(NULL);
    touch("arbiter-20200101T000000-1-000000.jsonl", now - 31 * 86400, "{}\n");
    touch("arbiter-20200102T000000-1-000000.jsonl", now - 29 * 86400, "{}\n");
    touch("notes.txt", now - 400 * 86400, "mine\n");
    arb_log_t *l = open_log((arb_log_options_t){ .retention_days = 30 });
    log_n(l, 1);
    arb_log_close(l);
    cr_assert(!exists("arbiter-20200101T000000-1-000000.jsonl"), "past the retention: deleted");
    cr_assert(exists("arbiter-20200102T000000-1-000000.jsonl"), "within the retention: kept");
    cr_assert(exists("notes.txt"), "not a log file: kept");
}

Test(audit_log, a_full_queue_counts_what_it_dropped)
{
    arb_log_t *l = open_log((arb_log_options_t){ .max_queued = 1 });
    const uint64_t n = 20000;
    log_n(l, (int)n);
    arb_log_stats_t st;
    for (int i = 0; i < 1000; i++) {
        arb_log_stats(l, &st);
        if (st.written + st.dropped + st.failed == n) break;
        usleep(10000);
    }
    arb_log_close(l);
    static files_t f;
    read_all(&f);
    cr_assert_gt(st.dropped, 0);
    cr_assert_eq(st.written + st.dropped + st.failed, n);
    cr_assert_eq(st.written, f.n_lines);
    files_free(&f);
}

Test(audit_log, a_folder_gone_counts_failures)
{
    arb_log_t *l = open_log((arb_log_options_t){ 0 });
    /* the folder is replaced by a file: no log file can be created */
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && touch '%s'", g_dir, g_dir);
    cr_assert(system(cmd) == 0);
    log_n(l, 5);
    wait_written(l, 5);
    arb_log_stats_t st;
    arb_log_stats(l, &st);
    arb_log_close(l);
    cr_assert_eq(st.failed, 5);
    cr_assert_eq(st.written, 0);
    unlink(g_dir);
    cr_assert(mkdir(g_dir, 0700) == 0);
}

Test(audit_log, a_file_deleted_under_the_writer_is_replaced)
{
    arb_log_t *l = open_log((arb_log_options_t){ 0 });
    log_n(l, 2);
    wait_written(l, 2);
    static files_t f;
    read_all(&f);
    cr_assert_eq(f.n_files, 1);
    char path[600];
    snprintf(path, sizeof path, "%s/%s", g_dir, f.names[0]);
    files_free(&f);
    cr_assert(unlink(path) == 0);
    log_n(l, 3);
    arb_log_close(l);
    read_all(&f);
    cr_assert_eq(f.n_files, 1);
    cr_assert_eq(f.n_lines, 3, "the records after the deletion are in a new file");
    files_free(&f);
}

Test(audit_log, open_refuses_a_folder_it_cannot_make)
{
    char path[128];
    snprintf(path, sizeof path, "%s/file", g_dir);
    touch("file", time(NULL), "x");
    char sub[160];
    snprintf(sub, sizeof sub, "%s/log", path);
    arb_log_t *l = (arb_log_t *)1;
    arb_err_t err;
    arb_log_options_t opt = { .dir = sub };
    cr_assert_eq(arb_log_open(&l, &opt, &err), -1);
    cr_assert_null(l);
    cr_assert(strstr(err.message, sub), "%s", err.message);
}

Test(audit_log, a_torn_tail_is_left_alone)
{
    /* what a crash leaves: the last line without its newline */
    touch("arbiter-20200101T000000-1-000000.jsonl", time(NULL), "{\"v\":1}\n{\"v\":1,\"ty");
    arb_log_t *l = open_log((arb_log_options_t){ 0 });
    log_n(l, 3);
    arb_log_close(l);
    static files_t f;
    read_all(&f);
    cr_assert_eq(f.n_files, 2);
    cr_assert(f.torn);
    cr_assert_eq(f.n_lines, 4, "the old whole line and three new ones");
    for (size_t i = 0; i < f.n_lines; i++) json_decref(parse(f.lines[i]));
    files_free(&f);
}
