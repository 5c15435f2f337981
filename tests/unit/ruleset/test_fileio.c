/* Unit tests for engine/fileio.c: the rules folder reader refuses what is
 * not a regular file inside the folder (FIFO, device, link leaving, huge
 * file) without blocking or reading it, skips a directory named x.lua, and a
 * pinned snapshot keeps answering with what was read whatever happens to the
 * folder afterwards.
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "engine/ruleset/fileio.h"
#include "engine/ruleset/ruleset_int.h"   /* arb__rule_files_list, the loader's listing */

static char dir[64];
static int dfd = -1;

static void setup(void)
{
    strcpy(dir, "/tmp/arb-fileio-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    dfd = open(dir, O_RDONLY | O_DIRECTORY);
    cr_assert_geq(dfd, 0);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) cr_log_warn("could not remove %s", dir);
    close(dfd);
}

TestSuite(fileio, .init = setup, .fini = teardown, .timeout = 20);

static void put(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *at(const char *name)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

/* Read name; expect return code want and, on failure, needle in the reason. */
static void expect_read(const char *name, int want, const char *needle)
{
    char *text = NULL, err[256] = "";
    size_t len = 0;
    int r = arb_read_in_folder(dfd, name, 1 << 20, &text, &len, err, sizeof err);
    cr_expect_eq(r, want, "%s: got %d (%s)", name, r, err);
    if (needle) cr_expect(strstr(err, needle), "%s: reason '%s' lacks '%s'", name, err, needle);
    if (r != 0) cr_expect_null(text);
    free(text);
}

Test(fileio, regular_file_is_read_whole)
{
    put("a.lua", "hello");
    char *text = NULL, err[256];
    size_t len = 0;
    cr_assert_eq(arb_read_in_folder(dfd, "a.lua", 100, &text, &len, err, sizeof err), 0, "%s", err);
    cr_expect_eq(len, 5);
    cr_expect_str_eq(text, "hello");
    free(text);
}

Test(fileio, fifo_is_refused_without_blocking)
{
    cr_assert_eq(mkfifo(at("f.lua"), 0600), 0);
    expect_read("f.lua", -1, "FIFO");
}

Test(fileio, device_and_links_leaving_are_refused)
{
    cr_assert_eq(symlink("/dev/zero", at("zero.lua")), 0);
    expect_read("zero.lua", -1, "leaving the ruleset folder");
    cr_assert_eq(symlink("../../etc/passwd", at("up.lua")), 0);
    expect_read("up.lua", -1, "leaving the ruleset folder");
    put("in.lua", "x");
    char target[256];
    snprintf(target, sizeof target, "%s/in.lua", dir);
    cr_assert_eq(symlink(target, at("abs.lua")), 0);   /* absolute, even inside */
    expect_read("abs.lua", -1, "leaving the ruleset folder");
    if (mknod(at("null.lua"), S_IFCHR | 0600, makedev(1, 3)) == 0)
        expect_read("null.lua", -1, "character device");
    cr_assert_eq(symlink("missing", at("dangling.lua")), 0);
    expect_read("dangling.lua", -1, "dangling");
}

Test(fileio, relative_link_inside_is_followed)
{
    cr_assert_eq(mkdir(at("lib"), 0700), 0);
    put("lib/x", "inside");
    cr_assert_eq(symlink("lib/x", at("x.lua")), 0);
    expect_read("x.lua", 0, NULL);
}

Test(fileio, huge_file_is_refused_before_reading)
{
    int fd = open(at("huge.lua"), O_CREAT | O_WRONLY, 0600);
    cr_assert_eq(ftruncate(fd, (off_t)1 << 40), 0);   /* sparse: 1 TiB of nothing */
    close(fd);
    expect_read("huge.lua", -1, "larger than the limit");
}

Test(fileio, directory_named_lua_is_not_a_file)
{
    cr_assert_eq(mkdir(at("d.lua"), 0700), 0);
    expect_read("d.lua", 1, NULL);
    put("r.lua", "action");
    arb_rule_file_t *files = NULL;
    size_t n = 0;
    arb_problems_t p = { 0 };
    cr_assert_eq(arb__rule_files_list(dir, false, &files, &n, &p), 0);
    cr_expect_eq(n, 1);
    cr_expect_eq(p.n, 0);
    cr_expect_str_eq(files[0].name, "r.lua");
    arb__rule_files_free(files, n);
    arb_problems_free(&p);
}

Test(fileio, rules_path_that_is_not_a_folder_is_refused)
{
    cr_assert_eq(mkfifo(at("pipe"), 0600), 0);
    arb_rule_file_t *files = NULL;
    size_t n = 0;
    arb_problems_t p = { 0 };
    cr_expect_eq(arb__rule_files_list(at("pipe"), false, &files, &n, &p), -1);
    cr_expect_eq(p.n, 1);
    cr_expect(strstr(p.items[0], "cannot open the ruleset folder"), "%s", p.items[0]);
    arb_problems_free(&p);
}

Test(fileio, pinned_snapshot_answers_with_what_was_read)
{
    put("a.lua", "version one");
    put("a_test.lua", "test one");
    arb_folder_snapshot_t *snap = arb_folder_snapshot(dir);
    cr_assert_not_null(snap);
    put("a.lua", "version two");        /* edited after the read */
    put("b.lua", "new file");
    arb_folder_pin(snap);
    for (int tests = 0; tests < 2; tests++) {
        arb_rule_file_t *files = NULL;
        size_t n = 0;
        arb_problems_t p = { 0 };
        cr_assert_eq(arb__rule_files_list(dir, tests, &files, &n, &p), 0);
        cr_expect_eq(n, 1);
        cr_expect_str_eq(files[0].text, tests ? "test one" : "version one");
        arb__rule_files_free(files, n);
        arb_problems_free(&p);
    }
    arb_folder_pin(NULL);
    arb_rule_file_t *files = NULL;
    size_t n = 0;
    arb_problems_t p = { 0 };
    cr_assert_eq(arb__rule_files_list(dir, false, &files, &n, &p), 0);
    cr_expect_eq(n, 2, "unpinned, the folder is read again");
    arb__rule_files_free(files, n);
    arb_problems_free(&p);
    arb_folder_snapshot_free(snap);
}

Test(fileio, folder_total_is_bounded)
{
    /* Nine sparse files of 30 MiB each: every one is under the limit for a
     * file, together they pass the limit for a folder. */
    size_t each = 30u << 20, n = ARB_RULE_FOLDER_MAX / each + 1;
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%02zu.lua", i);
        int fd = open(at(name), O_CREAT | O_WRONLY, 0600);
        cr_assert_eq(ftruncate(fd, (off_t)each), 0);
        close(fd);
    }
    arb_rule_file_t *files = NULL;
    size_t count = 0;
    arb_problems_t p = { 0 };
    cr_assert_eq(arb__rule_files_list(dir, false, &files, &count, &p), 0);
    cr_expect_eq(count, n);
    cr_assert_eq(p.n, 1, "expected one refusal, got %zu", p.n);
    cr_expect(strstr(p.items[0], "all rule files of a folder may hold"), "%s", p.items[0]);
    size_t total = 0;
    for (size_t i = 0; i < count; i++) total += files[i].len;
    cr_expect_leq(total, ARB_RULE_FOLDER_MAX);
    arb__rule_files_free(files, count);
    arb_problems_free(&p);
}
