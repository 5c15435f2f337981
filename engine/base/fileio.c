/* The one whole-file reader (see fileio.h).
 *
 * A name is first opened with O_PATH: no data is read and no device is
 * touched (opening some devices acts). Beneath a folder, the open goes
 * through openat2(RESOLVE_BENEATH), and the kernel refuses any resolution
 * that leaves the folder (an absolute link, "..", a link to /dev/zero); on
 * a kernel without openat2 every link is refused (O_NOFOLLOW), the safe
 * side of the same rule. fstat then says what it is; only a regular file
 * within the size bound is reopened for reading, through /proc, so the file
 * read is the file checked. The read itself stops past the bound, in case
 * the file grows meanwhile. Base layer: includes nothing of ours.
 */
#include "engine/base/fileio.h"

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

/* name under dirfd, as arb_file_read's beneath says. */
static int open_at(int dirfd, const char *name, int flags, bool beneath)
{
    return beneath ? open_beneath(dirfd, name, flags) : openat(dirfd, name, flags | O_CLOEXEC);
}

int arb_fd_read(int fd, size_t max, char **text, size_t *len, char *err, size_t errlen)
{
    *text = NULL;
    *len = 0;
    return read_bounded(fd, 65536, max, text, len, err, errlen);   /* a first guess */
}

int arb_file_read(int dirfd, const char *name, bool beneath, size_t max, char **text,
                  size_t *len, char *err, size_t errlen)
{
    *text = NULL;
    *len = 0;
    int pfd = open_at(dirfd, name, O_PATH, beneath);
    if (pfd < 0 && !beneath)
        return fail(err, errlen, -1, "cannot open the file: %s", strerror(errno));
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
    if (fd < 0)   /* no /proc */
        fd = open_at(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY, beneath);
    close(pfd);
    if (fd < 0) return fail(err, errlen, -1, "cannot open the file: %s", strerror(errno));
    if (fstat(fd, &st2) < 0 || !S_ISREG(st2.st_mode) || st2.st_ino != st.st_ino ||
        st2.st_dev != st.st_dev)
        return fail(err, errlen, fd, "%s", "was replaced while being opened (refused)");
    int r = read_bounded(fd, (size_t)st2.st_size, max, text, len, err, errlen);
    close(fd);
    return r;
}
