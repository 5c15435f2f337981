/* The decision log's writer (see log.h). It keeps audit/'s rule: a
 * decision never waits on the disk. Callers pack a record flat (logpack.h:
 * one malloc and a few copies) and link it onto a bounded queue under a
 * short lock; beyond the bound it is dropped and counted. The writer
 * thread alone touches files: woken by the first record after it went
 * idle, it lingers LINGER_MS so that records gather (one wake-up and one
 * write(2) a batch, not a context switch per decision), takes the whole
 * queue at once, renders each record to one line, and writes the batch,
 * so that a crash tears at most the batch's last line. A write the disk
 * refuses (full, gone) is cut back to the last whole line and its records
 * counted as failed: a file never holds a torn line in its middle.
 */
#include "engine/audit/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/audit/logpack.h"
#include "engine/base/log.h"

/* How long the writer lets records gather after the first one: the most a
 * record waits before write(2), beside what kill -9 may lose (README). */
#define LINGER_MS 5

typedef arb_logpack_t rec_t;

struct arb_log {
    arb_log_options_t opt;
    char *dir;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    rec_t *head, **tail;
    size_t queued;
    bool stop;
    bool idle;                 /* the writer waits for a first record */
    pthread_t thread;
    /* the writer's own */
    int fd;                    /* -1: none open */
    size_t file_bytes;
    time_t opened_at;
    unsigned seq;
    arb_jbuf_t buf;
    _Atomic uint64_t written, dropped, failed, files;
};

/* ------------------------------------------------------------ records */

static void enqueue(arb_log_t *l, rec_t *r)
{
    if (!r) {
        atomic_fetch_add(&l->dropped, 1);
        return;
    }
    pthread_mutex_lock(&l->lock);
    bool full = l->stop || l->queued >= l->opt.max_queued;
    if (!full) {
        *l->tail = r;
        l->tail = &r->next;
        l->queued++;
        /* The writer lingering after the first record is not woken again
         * until half the queue waits: one wake-up a batch. */
        if ((l->idle && l->queued == 1) || l->queued == l->opt.max_queued / 2)
            pthread_cond_signal(&l->wake);
    }
    pthread_mutex_unlock(&l->lock);
    if (full) {
        free(r);
        atomic_fetch_add(&l->dropped, 1);
    }
}

void arb_log_decision(arb_log_t *l, const arb_decision_t *d, const char *pseudonym,
                      const char *ctx, size_t ctx_len)
{
    if (!l) return;
    enqueue(l, arb_logpack_decision(d, pseudonym, ctx ? ctx : "", ctx ? ctx_len : 0,
                                   l->opt.contexts));
}

void arb_log_feedback(arb_log_t *l, const arb_feedback_t *fb, const char *pseudonym)
{
    if (l) enqueue(l, arb_logpack_feedback(fb, pseudonym));
}

void arb_log_purchases(arb_log_t *l, const arb_commit_t *track, const char *pseudonym)
{
    if (!l) return;
    for (size_t i = 0; i < track->n_purchases; i++)
        enqueue(l, arb_logpack_purchase(&track->purchases[i], pseudonym));
}

void arb_log_stats(arb_log_t *l, arb_log_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!l) return;
    out->written = atomic_load(&l->written);
    out->dropped = atomic_load(&l->dropped);
    out->failed = atomic_load(&l->failed);
    out->files = atomic_load(&l->files);
}

/* ------------------------------------------------------------ files */

static bool ours(const char *name)
{
    size_t n = strlen(name);
    return strncmp(name, "arbiter-", 8) == 0 && n > 14 && strcmp(name + n - 6, ".jsonl") == 0;
}

/* Files past the retention go at each rotation: the folder never needs a
 * cron job, and a server that is not writing is not deleting either. */
static void retain(arb_log_t *l, time_t now)
{
    DIR *d = opendir(l->dir);
    if (!d) return;
    time_t limit = now - (time_t)l->opt.retention_days * 86400;
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st;
        if (!ours(e->d_name) || fstatat(dirfd(d), e->d_name, &st, 0) < 0) continue;
        if (S_ISREG(st.st_mode) && st.st_mtime < limit && unlinkat(dirfd(d), e->d_name, 0) == 0)
            arb_log_info("decision log file deleted", "dir=%s file=%s", l->dir, e->d_name);
    }
    closedir(d);
}

static void file_close(arb_log_t *l)
{
    if (l->fd < 0) return;
    fsync(l->fd);
    close(l->fd);
    l->fd = -1;
}

static int file_open(arb_log_t *l, time_t now)
{
    file_close(l);
    struct tm tm;
    gmtime_r(&now, &tm);
    char path[4096];
    snprintf(path, sizeof path, "%s/arbiter-%04d%02d%02dT%02d%02d%02d-%ld-%06u.jsonl", l->dir,
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (long)getpid(), l->seq++);
    l->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_EXCL, 0640);
    if (l->fd < 0) return -1;
    l->file_bytes = 0;
    l->opened_at = now;
    atomic_fetch_add(&l->files, 1);
    retain(l, now);
    return 0;
}

/* Write l->buf (n_recs whole lines) to the open file, or count them failed. */
static void flush(arb_log_t *l, uint64_t n_recs)
{
    if (!l->buf.len) return;
    size_t off = 0;
    while (l->fd >= 0 && off < l->buf.len) {
        ssize_t w = write(l->fd, l->buf.p + off, l->buf.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    if (l->fd >= 0 && off == l->buf.len) {
        l->file_bytes += off;
        atomic_fetch_add(&l->written, n_recs);
    } else {
        /* Cut a partial batch off, so the file keeps only whole lines. */
        if (l->fd >= 0 && off && ftruncate(l->fd, (off_t)l->file_bytes) < 0) l->file_bytes += off;
        uint64_t before = atomic_fetch_add(&l->failed, n_recs);
        if (before == 0 || (before + n_recs) / 10000 != before / 10000) {
            char q[300];
            arb_log_warn("decision log write failed", "dir=%s error=%s failed=%llu", l->dir,
                         arb_log_quote(strerror(errno), q, sizeof q),
                         (unsigned long long)(before + n_recs));
        }
    }
    l->buf.len = 0;
}

/* Write the first upto bytes of l->buf (n_recs whole lines) and keep the rest. */
static void flush_prefix(arb_log_t *l, size_t upto, uint64_t n_recs)
{
    size_t rest = l->buf.len - upto;
    l->buf.len = upto;
    flush(l, n_recs);
    memmove(l->buf.p, l->buf.p + upto, rest);
    l->buf.len = rest;
}

static void write_batch(arb_log_t *l, rec_t *r)
{
    uint64_t n = 0;
    /* A file deleted under us (by hand, or its folder removed) would take
     * every later record with it: the next record starts a new file. */
    struct stat st;
    bool gone = l->fd >= 0 && fstat(l->fd, &st) == 0 && st.st_nlink == 0;
    time_t now = time(NULL);   /* a batch is milliseconds of records */
    while (r) {
        rec_t *next = r->next;
        size_t before = l->buf.len;
        if (arb_logpack_render(r, &l->buf) < 0) {
            atomic_fetch_add(&l->failed, 1);
        } else {
            bool old = l->fd >= 0 && now - l->opened_at >= (time_t)l->opt.rotate_s;
            bool big = l->fd >= 0 && l->file_bytes + l->buf.len > l->opt.max_file_bytes &&
                       l->file_bytes + before > 0;
            if (l->fd < 0 || old || big || gone) {
                gone = false;
                /* this line starts the next file */
                flush_prefix(l, before, n);
                n = 0;
                if (file_open(l, now) < 0 && atomic_load(&l->failed) == 0) {
                    char q[300];
                    arb_log_warn("cannot open a decision log file", "dir=%s error=%s", l->dir,
                                 arb_log_quote(strerror(errno), q, sizeof q));
                }
            }
            n++;
        }
        free(r);
        r = next;
    }
    flush(l, n);
}

static void *writer(void *arg)
{
    arb_log_t *l = arg;
    pthread_setname_np(pthread_self(), "arb-log");
    pthread_mutex_lock(&l->lock);
    for (;;) {
        l->idle = true;
        while (!l->head && !l->stop) pthread_cond_wait(&l->wake, &l->lock);
        l->idle = false;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += LINGER_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!l->stop && l->queued < l->opt.max_queued / 2)
            if (pthread_cond_timedwait(&l->wake, &l->lock, &until) == ETIMEDOUT) break;
        rec_t *batch = l->head;
        l->head = NULL;
        l->tail = &l->head;
        l->queued = 0;
        bool stop = l->stop;
        pthread_mutex_unlock(&l->lock);
        if (batch) write_batch(l, batch);
        pthread_mutex_lock(&l->lock);
        if (stop && !l->head) break;
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

int arb_log_open(arb_log_t **out, const arb_log_options_t *opt, arb_err_t *err)
{
    *out = NULL;
    if (!opt->dir || !*opt->dir)
        return arb_err_set(err, ARB_INVALID_PARAMS, "--log: a folder is required");
    if (mkdir(opt->dir, 0700) < 0 && errno != EEXIST)
        return arb_err_set(err, ARB_UNAVAILABLE, "--log %.300s: cannot create the folder: %s",
                           opt->dir, strerror(errno));
    struct stat st;
    if (stat(opt->dir, &st) < 0 || !S_ISDIR(st.st_mode) || access(opt->dir, W_OK | X_OK) < 0)
        return arb_err_set(err, ARB_UNAVAILABLE, "--log %.300s: not a folder this process can "
                           "write in%s%s", opt->dir, errno ? ": " : "", errno ? strerror(errno) : "");
    arb_log_t *l = calloc(1, sizeof *l);
    if (!l || !(l->dir = strdup(opt->dir))) {
        free(l);
        return arb_err_set(err, ARB_INTERNAL, "out of memory opening the decision log");
    }
    l->opt = *opt;
    l->opt.dir = l->dir;
    if (!l->opt.max_file_bytes) l->opt.max_file_bytes = (size_t)64 << 20;
    if (!l->opt.rotate_s) l->opt.rotate_s = 3600;
    if (!l->opt.retention_days) l->opt.retention_days = 30;
    if (!l->opt.max_queued) l->opt.max_queued = 65536;
    l->fd = -1;
    l->tail = &l->head;
    pthread_mutex_init(&l->lock, NULL);
    /* The linger is measured on the monotonic clock: a wall clock set back
     * must not hold records for its difference. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&l->thread, NULL, writer, l) != 0) {
        pthread_mutex_destroy(&l->lock);
        pthread_cond_destroy(&l->wake);
        free(l->dir);
        free(l);
        return arb_err_set(err, ARB_INTERNAL, "cannot start the decision log's thread");
    }
    *out = l;
    return 0;
}

void arb_log_close(arb_log_t *l)
{
    if (!l) return;
    pthread_mutex_lock(&l->lock);
    l->stop = true;
    pthread_cond_signal(&l->wake);
    pthread_mutex_unlock(&l->lock);
    pthread_join(l->thread, NULL);
    file_close(l);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->wake);
    free(l->buf.p);
    free(l->dir);
    free(l);
}
