/* Reading a ruleset folder safely and consistently (see fileio.h): every
 * file through base/fileio.c's reader, beneath the folder's descriptor, and
 * one copy of the folder per load. No wire and no abort, as the whole
 * ruleset folder: a file that cannot be read is a problem of the load.
 */
#include "engine/ruleset/fileio.h"
#include "engine/ruleset/ruleset_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/base/fileio.h"

int arb_read_in_folder(int dirfd, const char *name, size_t max, char **text, size_t *len,
                       char *err, size_t errlen)
{
    return arb_file_read(dirfd, name, true, max, text, len, err, errlen);
}

/* ------------------------------------------------------------ listing */

/* The load order: files named _*.lua first (helpers the others use with
 * shared.name), then the others, each part in name order (bytes). */
static int by_name(const void *a, const void *b)
{
    const char *x = ((const arb_rule_file_t *)a)->name, *y = ((const arb_rule_file_t *)b)->name;
    if ((x[0] == '_') != (y[0] == '_')) return x[0] == '_' ? -1 : 1;
    return strcmp(x, y);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

void arb__rule_files_free(arb_rule_file_t *files, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(files[i].name);
        free(files[i].path);
        free(files[i].text);
    }
    free(files);
}

static char *join(const char *dir, const char *name)
{
    size_t plen = strlen(dir) + strlen(name) + 2;
    char *p = malloc(plen);
    if (p) snprintf(p, plen, "%s%s%s", dir, ends_with(dir, "/") ? "" : "/", name);
    return p;
}

/* The rule files (or test files) of the folder open as dirfd, shown as dir;
 * *budget is what the folder may still hold, in bytes. */
static void list_fd(int dirfd, const char *dir, bool tests, size_t *budget, arb_rule_file_t **out,
                    size_t *count, arb_problems_t *problems)
{
    arb_rule_file_t *files = NULL;
    size_t n = 0, cap = 0;
    int dfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0) close(dfd);
        arb_problems_add(problems, "%s: cannot list the ruleset folder: %s", dir, strerror(errno));
        *out = NULL;
        *count = 0;
        return;
    }
    rewinddir(d);   /* the duplicate shares the offset of an earlier listing */
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !ends_with(e->d_name, ".lua")) continue;
        if (ends_with(e->d_name, "_test.lua") != tests) continue;
        if (e->d_type == DT_DIR) continue;   /* a folder named x.lua is not a rule file */
        if (n == ARB_RULE_FILES_MAX) {
            arb_problems_add(problems, "%s: more than %d rule files in the folder (refused)", dir,
                             ARB_RULE_FILES_MAX);
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            arb_rule_file_t *nf = realloc(files, cap * sizeof *nf);
            if (!nf) {
                arb_problems_add(problems, "%s: out of memory listing the folder", dir);
                break;
            }
            files = nf;
        }
        arb_rule_file_t *f = &files[n];
        memset(f, 0, sizeof *f);
        char err[256];
        size_t max = *budget < ARB_RULE_FILE_MAX ? *budget : ARB_RULE_FILE_MAX;
        int r = arb_read_in_folder(dirfd, e->d_name, max, &f->text, &f->len, err, sizeof err);
        if (r == 1) continue;   /* a directory reached through a link */
        f->name = strdup(e->d_name);
        f->path = join(dir, e->d_name);
        if (!f->name || !f->path) {
            /* A file left out would change the ruleset: the load fails. */
            arb_problems_add(problems, "%s: out of memory listing the folder", dir);
            free(f->name);
            free(f->path);
            free(f->text);
            break;
        }
        n++;
        if (r < 0 && max < ARB_RULE_FILE_MAX && (strstr(err, "larger") || strstr(err, "grew")))
            arb_problems_add(problems, "%s: %s (all rule files of a folder may hold %zu bytes)",
                             f->path ? f->path : e->d_name, err, ARB_RULE_FOLDER_MAX);
        else if (r < 0)
            arb_problems_add(problems, "%s: %s", f->path ? f->path : e->d_name, err);
        else
            *budget -= f->len;
    }
    closedir(d);
    if (n) qsort(files, n, sizeof *files, by_name);
    *out = files;
    *count = n;
}

static int open_folder(const char *dir, arb_problems_t *problems)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        arb_problems_add(problems, "%s: cannot open the ruleset folder: %s", dir, strerror(errno));
    return fd;
}

/* ------------------------------------------------------------ snapshots */

typedef struct snap_list {
    arb_rule_file_t *files;
    size_t n;
    arb_problems_t problems;
} snap_list_t;

struct arb_folder_snapshot {
    char *dir;          /* as given: the key arb__rule_files_list matches */
    char *resolved;     /* what it pointed to when read */
    snap_list_t lists[2]; /* rule files, test files */
};

static _Thread_local const arb_folder_snapshot_t *pinned;

arb_folder_snapshot_t *arb_folder_snapshot(const char *dir)
{
    arb_folder_snapshot_t *s = calloc(1, sizeof *s);
    if (!s || !(s->dir = strdup(dir))) {
        free(s);
        return NULL;
    }
    int fd = open_folder(dir, &s->lists[0].problems);
    if (fd < 0) {
        arb_problems_add(&s->lists[1].problems, "%s: cannot open the ruleset folder: %s", dir,
                         strerror(errno));
        s->resolved = strdup("?");
        return s;
    }
    char proc[64], buf[4096];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(proc, buf, sizeof buf - 1);
    buf[k > 0 ? k : 0] = '\0';
    s->resolved = strdup(k > 0 ? buf : "?");
    size_t budget = ARB_RULE_FOLDER_MAX;
    for (int t = 0; t < 2; t++)
        list_fd(fd, dir, t, &budget, &s->lists[t].files, &s->lists[t].n, &s->lists[t].problems);
    close(fd);
    return s;
}

void arb_folder_snapshot_free(arb_folder_snapshot_t *s)
{
    if (!s) return;
    for (int t = 0; t < 2; t++) {
        arb__rule_files_free(s->lists[t].files, s->lists[t].n);
        arb_problems_free(&s->lists[t].problems);
    }
    free(s->dir);
    free(s->resolved);
    free(s);
}

const char *arb_folder_snapshot_resolved(const arb_folder_snapshot_t *s)
{
    return s->resolved ? s->resolved : "?";
}

void arb_folder_pin(const arb_folder_snapshot_t *snap) { pinned = snap; }

static char *dup_mem(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

/* A copy of a pinned listing, its problems reported again. */
static int list_pinned(const snap_list_t *l, arb_rule_file_t **out, size_t *count,
                       arb_problems_t *problems)
{
    for (size_t i = 0; i < l->problems.n; i++) arb_problems_add(problems, "%s", l->problems.items[i]);
    arb_rule_file_t *files = l->n ? calloc(l->n, sizeof *files) : NULL;
    *out = files;
    *count = files ? l->n : 0;
    if (l->n && !files) {
        arb_problems_add(problems, "out of memory copying the rule files");
        return -1;
    }
    for (size_t i = 0; i < l->n; i++) {
        const arb_rule_file_t *f = &l->files[i];
        files[i].name = f->name ? strdup(f->name) : NULL;
        files[i].path = f->path ? strdup(f->path) : NULL;
        files[i].len = f->len;
        files[i].text = f->text ? dup_mem(f->text, f->len) : NULL;
        if ((f->text && !files[i].text) || (f->name && !files[i].name) ||
            (f->path && !files[i].path)) {
            arb_problems_add(problems, "out of memory copying %s", f->path);
            return -1;
        }
    }
    return 0;
}

int arb__rule_files_list(const char *dir, bool tests, arb_rule_file_t **out, size_t *count,
                         arb_problems_t *problems)
{
    if (pinned && strcmp(pinned->dir, dir) == 0)
        return list_pinned(&pinned->lists[tests], out, count, problems);
    *out = NULL;
    *count = 0;
    int fd = open_folder(dir, problems);
    if (fd < 0) return -1;
    size_t budget = ARB_RULE_FOLDER_MAX;
    list_fd(fd, dir, tests, &budget, out, count, problems);
    close(fd);
    return 0;
}

int arb__rule_files_overlay(const char *base, const char *dir, arb_rule_file_t **out, size_t *count,
                            arb_problems_t *problems)
{
    arb_rule_file_t *over, *under;
    size_t n_over, n_under;
    *out = NULL;
    *count = 0;
    if (arb__rule_files_list(dir, false, &over, &n_over, problems) < 0) return -1;
    if (arb__rule_files_list(base, false, &under, &n_under, problems) < 0) {
        arb__rule_files_free(over, n_over);
        return -1;
    }
    arb_rule_file_t *all = realloc(over, (n_over + n_under + 1) * sizeof *all);
    if (!all) {
        arb_problems_add(problems, "%s: out of memory listing the challenger's files", dir);
        arb__rule_files_free(over, n_over);
        arb__rule_files_free(under, n_under);
        return -1;
    }
    size_t n = n_over;
    for (size_t i = 0; i < n_under; i++) {
        bool replaced = false;
        for (size_t j = 0; j < n_over && !replaced; j++) replaced = strcmp(all[j].name, under[i].name) == 0;
        if (replaced) {
            free(under[i].name);
            free(under[i].path);
            free(under[i].text);
        } else {
            all[n++] = under[i];
        }
    }
    free(under);
    qsort(all, n, sizeof *all, by_name);
    *out = all;
    *count = n;
    return 0;
}
