/* The decision log's writer (see log.h). It keeps audit/'s rule: a
 * decision never waits on the disk. Callers copy a record into a jansson
 * value (the copy every record needs anyway) and link it onto a bounded
 * queue under a short lock; beyond the bound it is dropped and counted.
 * The writer thread alone touches files: it takes the whole queue at once,
 * hashes and renders each record to one line, and writes the batch with
 * write(2), so that a crash tears at most the batch's last line. A write
 * the disk refuses (full, gone) is cut back to the last whole line and its
 * records counted as failed: a file never holds a torn line in its middle.
 */
#include "engine/audit/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/base/log.h"
#include "engine/wire/json.h"

typedef struct rec {
    struct rec *next;
    json_t *obj;               /* the record, its keys in the schema's order */
    char *ctx;                 /* decision: the context's MessagePack bytes (malloc'd) */
    size_t ctx_len;
    char pseudonym[33];
} rec_t;

struct arb_log {
    arb_log_options_t opt;
    char *dir;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    rec_t *head, **tail;
    size_t queued;
    bool stop;
    pthread_t thread;
    /* the writer's own */
    int fd;                    /* -1: none open */
    size_t file_bytes;
    time_t opened_at;
    unsigned seq;
    char *buf;
    size_t buf_len, buf_cap;
    _Atomic uint64_t written, dropped, failed, files;
};

/* ------------------------------------------------------------ records */

static json_t *jstr(const char *s)
{
    if (!s) return json_null();
    json_t *v = json_string(s);
    return v ? v : json_string("\xef\xbf\xbd");   /* not UTF-8: never the case for checked input */
}

static json_t *jnum(double d) { return isfinite(d) ? json_real(d) : json_null(); }

static json_t *head(const char *type, int64_t ts)
{
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "v", json_integer(1));
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "ts", json_integer(ts));
    return o;
}

static void enqueue(arb_log_t *l, json_t *obj, const char *ctx, size_t ctx_len,
                    const char *pseudonym)
{
    rec_t *r = obj ? calloc(1, sizeof *r) : NULL;
    if (r && ctx) {
        r->ctx = malloc(ctx_len ? ctx_len : 1);
        if (!r->ctx) {
            free(r);
            r = NULL;
        } else {
            memcpy(r->ctx, ctx, ctx_len);
            r->ctx_len = ctx_len;
        }
    }
    if (!r) {
        json_decref(obj);
        atomic_fetch_add(&l->dropped, 1);
        return;
    }
    r->obj = obj;
    snprintf(r->pseudonym, sizeof r->pseudonym, "%s", pseudonym ? pseudonym : "");
    pthread_mutex_lock(&l->lock);
    bool full = l->stop || l->queued >= l->opt.max_queued;
    if (!full) {
        *l->tail = r;
        l->tail = &r->next;
        if (l->queued++ == 0) pthread_cond_signal(&l->wake);
    }
    pthread_mutex_unlock(&l->lock);
    if (full) {
        json_decref(r->obj);
        free(r->ctx);
        free(r);
        atomic_fetch_add(&l->dropped, 1);
    }
}

void arb_log_decision(arb_log_t *l, const arb_decision_t *d, const char *pseudonym,
                      const char *ctx, size_t ctx_len)
{
    if (!l) return;
    json_t *o = head("decision", d->now);
    json_t *acts = json_array(), *held = json_array();
    if (o && acts && held) {
        json_object_set_new(o, "decision_id", json_stringn(d->decision_id, d->decision_id_len));
        json_object_set_new(o, "customer", jstr(pseudonym));
        json_object_set_new(o, "channel", jstr(d->channel));
        json_object_set_new(o, "touchpoint", jstr(d->touchpoint));
        json_object_set_new(o, "ruleset", jstr(d->ruleset));
        json_object_set_new(o, "group", jstr(d->group ? d->group : "treatment"));
        json_object_set_new(o, "experiment", jstr(d->experiment));
        json_object_set_new(o, "arm", jstr(d->arm));
        for (uint32_t i = 0; i < d->n_actions; i++) {
            const arb_decided_action_t *a = &d->actions[i];
            json_array_append_new(acts, json_pack("{s:o,s:o,s:o,s:o}", "id", jstr(a->id),
                                                  "priority", jnum(a->priority), "propensity",
                                                  jnum(a->propensity), "value", jnum(a->value)));
        }
        for (uint32_t i = 0; i < d->n_held; i++)
            json_array_append_new(held, json_pack("{s:o,s:o}", "id", jstr(d->held[i].id),
                                                  "control", jstr(d->held[i].control)));
        json_object_set_new(o, "actions", acts);
        json_object_set_new(o, "held", held);
        /* the writer sets the digest in this place */
        json_object_set_new(o, "context", json_null());
        acts = held = NULL;
    } else {
        json_decref(o);
        o = NULL;
    }
    json_decref(acts);
    json_decref(held);
    enqueue(l, o, ctx ? ctx : "", ctx ? ctx_len : 0, pseudonym);
}

void arb_log_feedback(arb_log_t *l, const arb_feedback_t *fb, const char *pseudonym)
{
    if (!l) return;
    json_t *o = head("feedback", fb->ts);
    if (o) {
        json_object_set_new(o, "customer", jstr(pseudonym));
        json_object_set_new(o, "decision_id", jstr(fb->decision_id));
        json_object_set_new(o, "action", jstr(fb->action));
        json_object_set_new(o, "outcome", jstr(fb->outcome));
        json_object_set_new(o, "channel", jstr(fb->channel));
        json_object_set_new(o, "value", jnum(fb->value));
    }
    enqueue(l, o, NULL, 0, pseudonym);
}

void arb_log_purchases(arb_log_t *l, const arb_commit_t *track, const char *pseudonym)
{
    if (!l) return;
    for (size_t i = 0; i < track->n_purchases; i++) {
        const arb_event_t *e = &track->purchases[i];
        json_t *o = head("purchase", e->ts);
        if (o) {
            json_object_set_new(o, "customer", jstr(pseudonym));
            json_object_set_new(o, "sku", jstr(e->sku));
            json_object_set_new(o, "category", jstr(e->category));
            json_object_set_new(o, "price", jnum(e->price));
            json_object_set_new(o, "channel", jstr(e->channel));
        }
        enqueue(l, o, NULL, 0, pseudonym);
    }
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

/* ------------------------------------------------------------ rendering */

/* The context as logged: customer_id replaced by the pseudonym, rendered
 * as JSON; NULL when it does not unpack or memory runs out. */
static char *ctx_json(const rec_t *r)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    char *s = NULL;
    if (msgpack_unpack_next(&u, r->ctx, r->ctx_len, NULL) == MSGPACK_UNPACK_SUCCESS) {
        msgpack_object *o = &u.data;
        if (o->type == MSGPACK_OBJECT_MAP)
            for (uint32_t i = 0; i < o->via.map.size; i++) {
                msgpack_object *k = &o->via.map.ptr[i].key;
                if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == 11 &&
                    memcmp(k->via.str.ptr, "customer_id", 11) == 0) {
                    msgpack_object *v = &o->via.map.ptr[i].val;
                    v->type = MSGPACK_OBJECT_STR;
                    v->via.str.ptr = r->pseudonym;
                    v->via.str.size = (uint32_t)strlen(r->pseudonym);
                }
            }
        s = arb_msgpack_to_json(o, 0);
    }
    msgpack_unpacked_destroy(&u);
    return s;
}

static int buf_add(arb_log_t *l, const char *s, size_t n)
{
    if (l->buf_len + n > l->buf_cap) {
        size_t cap = l->buf_cap ? l->buf_cap : 65536;
        while (cap < l->buf_len + n) cap *= 2;
        char *b = realloc(l->buf, cap);
        if (!b) return -1;
        l->buf = b;
        l->buf_cap = cap;
    }
    memcpy(l->buf + l->buf_len, s, n);
    l->buf_len += n;
    return 0;
}

/* r as one line (newline included) appended to l->buf; -1 out of memory. */
static int render(arb_log_t *l, rec_t *r)
{
    if (r->ctx) {
        unsigned char md[32];
        unsigned int mdlen = 0;
        char hex[33];
        if (!EVP_Digest(r->ctx, r->ctx_len, md, &mdlen, EVP_sha256(), NULL)) return -1;
        for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
        json_object_set_new(r->obj, "context", json_string(hex));
    }
    char *line = json_dumps(r->obj, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!line) return -1;
    size_t n = strlen(line), start = l->buf_len;
    int rc = 0;
    if (r->ctx && l->opt.contexts) {
        char *c = ctx_json(r);
        line[n - 1] = 0;   /* the closing brace comes after ctx */
        rc = c ? 0 : -1;
        if (rc == 0) rc = buf_add(l, line, n - 1);
        if (rc == 0) rc = buf_add(l, ",\"ctx\":", 7);
        if (rc == 0) rc = buf_add(l, c, strlen(c));
        if (rc == 0) rc = buf_add(l, "}\n", 2);
        free(c);
    } else {
        rc = buf_add(l, line, n);
        if (rc == 0) rc = buf_add(l, "\n", 1);
    }
    free(line);
    if (rc < 0) l->buf_len = start;
    return rc;
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
    if (!l->buf_len) return;
    size_t off = 0;
    while (l->fd >= 0 && off < l->buf_len) {
        ssize_t w = write(l->fd, l->buf + off, l->buf_len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    if (l->fd >= 0 && off == l->buf_len) {
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
    l->buf_len = 0;
}

/* Write the first upto bytes of l->buf (n_recs whole lines) and keep the rest. */
static void flush_prefix(arb_log_t *l, size_t upto, uint64_t n_recs)
{
    size_t rest = l->buf_len - upto;
    l->buf_len = upto;
    flush(l, n_recs);
    memmove(l->buf, l->buf + upto, rest);
    l->buf_len = rest;
}

static void write_batch(arb_log_t *l, rec_t *r)
{
    uint64_t n = 0;
    /* A file deleted under us (by hand, or its folder removed) would take
     * every later record with it: the next record starts a new file. */
    struct stat st;
    bool gone = l->fd >= 0 && fstat(l->fd, &st) == 0 && st.st_nlink == 0;
    while (r) {
        rec_t *next = r->next;
        time_t now = time(NULL);
        size_t before = l->buf_len;
        if (render(l, r) < 0) {
            atomic_fetch_add(&l->failed, 1);
        } else {
            bool old = l->fd >= 0 && now - l->opened_at >= (time_t)l->opt.rotate_s;
            bool big = l->fd >= 0 && l->file_bytes + l->buf_len > l->opt.max_file_bytes &&
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
        json_decref(r->obj);
        free(r->ctx);
        free(r);
        r = next;
    }
    flush(l, n);
}

static void *writer(void *arg)
{
    arb_log_t *l = arg;
    pthread_mutex_lock(&l->lock);
    for (;;) {
        while (!l->head && !l->stop) pthread_cond_wait(&l->wake, &l->lock);
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
    pthread_cond_init(&l->wake, NULL);
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
    free(l->buf);
    free(l->dir);
    free(l);
}
