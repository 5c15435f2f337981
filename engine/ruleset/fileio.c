/* Reading a ruleset folder safely and consistently (see fileio.h).
 *
 * Every name is first opened with O_PATH through openat2(RESOLVE_BENEATH):
 * no data is read and no device is touched (opening some devices acts), and
 * the kernel refuses any resolution that leaves the folder (an absolute link,
 * "..", a link to /dev/zero). fstat then says what it is; only a regular
 * file within the size bound is reopened for reading, through /proc, so the
 * file read is the file checked. The read itself stops past the bound, in
 * case the file grows meanwhile. On a kernel without openat2 every link is
 * refused (O_NOFOLLOW), the safe side of the same rule.
 */
#include "engine/ruleset/fileio.h"
#include "engine/ruleset/ruleset_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int open_beneath(int dirfd, const char *name, int flags)
{
    struct open_how how = { .flags = (unsigned)(flags | O_CLOEXEC),
                            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
    long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof how);
    if (fd < 0 && (errno == ENOSYS || errno == EPERM))   /* old kernel, or a seccomp filter */
        fd = openat(dirfd, name, flags | O_CLOEXEC | O_NOFOLLOW);
    return (int)fd;
}

static const char *kind_of(mode_t m)
{
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISLNK(m)) return "a link (links are refused on this kernel)";
    return "not a regular file";
}

static int fail(char *err, size_t errlen, int fd, const char *fmt, const char *arg)
{
    snprintf(err, errlen, fmt, arg);
    if (fd >= 0) close(fd);
    return -1;
}

/* Read fd to the end, at most max bytes; expect is the size fstat saw. */
static int read_bounded(int fd, size_t expect, size_t max, char **text, size_t *len, char *err,
                        size_t errlen)
{
    size_t cap = (expect < max ? expect : max) + 1, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) return fail(err, errlen, -1, "%s", "out of memory reading the file");
    for (;;) {
        if (n == cap) {
            if (cap > max) break;                       /* read max + 1: too big */
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                free(buf);
                return fail(err, errlen, -1, "%s", "out of memory reading the file");
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            free(buf);
            return fail(err, errlen, -1, "cannot read the file: %s", strerror(errno));
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    if (n > max) {
        free(buf);
        snprintf(err, errlen, "grew past the limit of %zu bytes while being read", max);
        return -1;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

int arb_read_in_folder(int dirfd, const char *name, size_t max, char **text, size_t *len,
                       char *err, size_t errlen)
{
    *text = NULL;
    *len = 0;
    int pfd = open_beneath(dirfd, name, O_PATH);
    if (pfd < 0) {
        if (errno == EXDEV)
            return fail(err, errlen, -1, "%s",
                        "is a link leaving the ruleset folder (refused: a link must be "
                        "relative and stay inside the folder)");
        if (errno == ELOOP) return fail(err, errlen, -1, "%s", "is a link loop");
        if (errno == ENOENT) return fail(err, errlen, -1, "%s", "is a dangling link or vanished");
        return fail(err, errlen, -1, "cannot open the file: %s", strerror(errno));
    }
    struct stat st, st2;
    if (fstat(pfd, &st) < 0) return fail(err, errlen, pfd, "cannot stat: %s", strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        close(pfd);
        return 1;
    }
    if (!S_ISREG(st.st_mode))
        return fail(err, errlen, pfd, "is %s, not a regular file (refused)", kind_of(st.st_mode));
    if ((unsigned long long)st.st_size > max) {
        char lim[64];
        snprintf(lim, sizeof lim, "%zu", max);
        return fail(err, errlen, pfd, "is larger than the limit of %s bytes (refused)", lim);
    }
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", pfd);
    int fd = open(proc, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) fd = open_beneath(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY);  /* no /proc */
    close(pfd);
    if (fd < 0) return fail(err, errlen, -1, "cannot open the file: %s", strerror(errno));
    if (fstat(fd, &st2) < 0 || !S_ISREG(st2.st_mode) || st2.st_ino != st.st_ino ||
        st2.st_dev != st.st_dev)
        return fail(err, errlen, fd, "%s", "was replaced while being opened (refused)");
    int r = read_bounded(fd, (size_t)st2.st_size, max, text, len, err, errlen);
    close(fd);
    return r;
}

/* ------------------------------------------------------------ listing */

static int by_name(const void *a, const void *b)
{
    return strcmp(((const arb_rule_file_t *)a)->name, ((const arb_rule_file_t *)b)->name);
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
