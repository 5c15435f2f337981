/* The LMDB backend: one environment in the --state folder, shared by every
 * worker of the process (DESIGN.md section 5).
 *
 * Keeps state/'s rules for the embedded store:
 * - Reads run in the calling thread in a short read transaction (one reader
 *   slot per session, reset between reads); the record is copied out and
 *   checked before the transaction ends, never held across an async step.
 * - Writes go through the one writer thread (writer.c): many commits in one
 *   write transaction, the caps checked and the contacts added inside it, so
 *   a cap of N grants exactly N. The environment is MDB_NOSYNC: a commit is
 *   called back once in the page cache (a kill -9 loses nothing), and the
 *   writer fsyncs every sync_ms (a power loss loses at most that). Never
 *   MDB_WRITEMAP: a full disk would be a SIGBUS instead of an error.
 * - Forget leaves nothing readable. LMDB is copy-on-write, so each update
 *   and each delete leaves the old version in freed pages. Every record is
 *   padded to fill whole overflow pages of its own (the leaf pages only hold
 *   a 16-byte SHA-256 prefix of the customer_id and a page number), and
 *   after each write transaction commits, the writer overwrites with zeros,
 *   in the file, the old values that transaction replaced or deleted (LMDB
 *   reuses no page freed by a transaction before the next one, and the
 *   writer is the only one). A transaction never touches one customer
 *   twice, so an old value is always a committed page of the map. The
 *   buffers LMDB keeps for reuse after a transaction are zeroed too where
 *   they held a record (one-page records). A reader that races the zeroing
 *   sees a bad checksum and reads again from a fresh snapshot. What may
 *   stay, in freed leaf pages until LMDB reuses them, is the 16-byte key:
 *   it names the customer only to someone who already knows the id.
 * - The learned arms (store.h arb_store_arms_sync) live in the same
 *   environment, in a named database "arms" keyed by action id (the main
 *   database's keys are 16 bytes, so its entry "arms" collides with no
 *   customer). A sync is queued to the writer like a commit and runs in the
 *   group's write transaction, inside a nested transaction so that it adds
 *   all its deltas or none; what it reads back is read in that transaction.
 *   Arms are not customer data: not padded, scrubbed nor forgotten.
 */
#include "engine/base/log.h"
#include "engine/state/arms.h"
#include "engine/state/record.h"
#include "engine/state/store_int.h"
#include "engine/state/writer.h"

#include <errno.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { KEY_LEN = 16, PAGE_HEADER = 16, READ_TRIES = 8, P_OVERFLOW_FLAG = 0x04 };

typedef struct lmdb {
    arb_store_t *store;
    MDB_env *env;
    MDB_dbi dbi;
    MDB_dbi arms_dbi;  /* the named database "arms": action id -> arms.c's value */
    int fd;
    size_t psize;
    size_t map_size;
    char folder[1024];
    arb_writer_t *writer;
    /* The writer's scratch, reused per transaction. */
    struct scrub { size_t off, len; } *scrub;
    void **reserved;   /* one-page record buffers LMDB will reuse */
    size_t cap;
} lmdb_t;

typedef struct session {
    MDB_txn *rtxn;     /* reset between reads; keeps this session's reader slot */
} session_t;

static void key_of(const char *id, uint8_t key[KEY_LEN])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_Digest(id, strlen(id), md, &n, EVP_sha256(), NULL);
    memcpy(key, md, KEY_LEN);
}

static int fail_lmdb(lmdb_t *l, arb_err_t *err, int rc, const char *doing)
{
    if (rc == MDB_MAP_FULL)
        return arb_err_set(err, ARB_UNAVAILABLE,
                           "state: the LMDB store in %s is full (its map size is %zu bytes) while %s; "
                           "raise the store's map size, or forget customers",
                           l->folder, l->map_size, doing);
    if (rc == ENOSPC || rc == EDQUOT || rc == EFBIG)
        return arb_err_set(err, ARB_UNAVAILABLE,
                           "state: the disk holding the LMDB store %s is full (%s) while %s; free space on it",
                           l->folder, mdb_strerror(rc), doing);
    return arb_err_set(err, ARB_UNAVAILABLE, "state: the LMDB store in %s failed while %s: %s", l->folder,
                       doing, mdb_strerror(rc));
}

/* ---- reads, in the calling thread ---- */

static int lm_session_open(arb_store_session_t *ss, arb_err_t *err)
{
    session_t *s = calloc(1, sizeof *s);
    if (!s) return arb_err_set(err, ARB_INTERNAL, "state: out of memory opening a store session");
    ss->impl = s;
    return 0;
}

static void lm_session_close(arb_store_session_t *ss)
{
    session_t *s = ss->impl;
    if (s->rtxn) mdb_txn_abort(s->rtxn);
    free(s);
}

/* One read: the record copied into arena (*copy NULL when none). */
static int read_once(lmdb_t *l, session_t *s, const uint8_t *key, arb_arena_t *arena, uint8_t **copy,
                     size_t *len, arb_err_t *err)
{
    int rc = s->rtxn ? mdb_txn_renew(s->rtxn) : mdb_txn_begin(l->env, NULL, MDB_RDONLY, &s->rtxn);
    if (rc) {
        if (s->rtxn) {
            mdb_txn_abort(s->rtxn);
            s->rtxn = NULL;
        }
        return fail_lmdb(l, err, rc, "reading");
    }
    MDB_val k = {KEY_LEN, (void *)key}, v;
    *copy = NULL;
    *len = 0;
    rc = mdb_get(s->rtxn, l->dbi, &k, &v);
    if (rc == 0) {
        size_t n = arb_record_size(v.mv_data, v.mv_size);
        if (!n) n = v.mv_size < ARB_RECORD_HEADER ? v.mv_size : ARB_RECORD_HEADER;  /* decode says why */
        *copy = arb_arena_alloc(arena, n ? n : 1);
        if (*copy) {
            memcpy(*copy, v.mv_data, n);
            *len = n;
        }
    }
    mdb_txn_reset(s->rtxn);
    if (rc && rc != MDB_NOTFOUND) return fail_lmdb(l, err, rc, "reading");
    if (rc == 0 && !*copy) return arb_err_set(err, ARB_INTERNAL, "state: out of memory reading a customer");
    return 0;
}

static void lm_fetch(arb_store_session_t *ss, const char *id, arb_customer_t *out, arb_arena_t *arena,
                     arb_store_fetch_cb cb, void *arg)
{
    lmdb_t *l = ss->store->impl;
    session_t *s = ss->impl;
    uint8_t key[KEY_LEN];
    key_of(id, key);
    arb_err_t err;
    for (int i = 0; i < READ_TRIES; i++) {
        uint8_t *copy;
        size_t len;
        if (read_once(l, s, key, arena, &copy, &len, &err)) {
            cb(arg, -1, &err);
            return;
        }
        if (!copy) {
            cb(arg, 0, NULL);
            return;
        }
        /* A bad record is most likely an old version being zeroed by the
         * writer under this snapshot: a fresh snapshot has the new one. */
        if (arb_record_decode(copy, len, out, arena, &err) == 0) {
            if (strcmp(out->id, id) != 0) {
                arb_customer_empty(out, "");
                arb_err_set(&err, ARB_INTERNAL, "state: customers %s and %s share a key in %s", id, out->id,
                            l->folder);
                cb(arg, -1, &err);
                return;
            }
            cb(arg, 0, NULL);
            return;
        }
    }
    char why[sizeof err.message];
    snprintf(why, sizeof why, "%s", err.message);
    arb_err_set(&err, ARB_INTERNAL, "%s (customer %s in %s; `forget` it to start afresh)", why, id, l->folder);
    cb(arg, -1, &err);
}

/* ---- writes, on the writer thread ---- */

static void lm_commit(arb_store_session_t *ss, const char *id, const arb_commit_t *c,
                      arb_store_commit_cb cb, void *arg)
{
    lmdb_t *l = ss->store->impl;
    arb_write_op_t *op = arb_write_op_new(ARB_WRITE_COMMIT, id);
    if (op) {
        op->commit = arb_commit_copy(c, &op->arena);
        op->granted = arb_arena_alloc(&op->arena, (c->n_contacts + 1) * sizeof *op->granted);
    }
    if (!op || !op->commit || !op->granted) {
        if (op) {
            arb_arena_free(&op->arena);
            free(op);
        }
        arb_err_t err;
        arb_err_set(&err, ARB_INTERNAL, "state: out of memory queueing a commit for customer %s", id);
        cb(arg, NULL, &err);
        return;
    }
    op->commit_cb = cb;
    op->arg = arg;
    arb_writer_submit(l->writer, op);
}

static void lm_forget(arb_store_session_t *ss, const char *id, arb_store_done_cb cb, void *arg)
{
    lmdb_t *l = ss->store->impl;
    arb_write_op_t *op = arb_write_op_new(ARB_WRITE_FORGET, id);
    if (!op) {
        arb_err_t err;
        arb_err_set(&err, ARB_INTERNAL, "state: out of memory queueing a forget for customer %s", id);
        cb(arg, &err);
        return;
    }
    op->done_cb = cb;
    op->arg = arg;
    arb_writer_submit(l->writer, op);
}

/* ---- learned arms, on the writer thread ---- */

typedef struct arms_job {
    arb_arms_plan_t plan;
    arb_store_arms_cb cb;
    void *arg;
} arms_job_t;

/* The writer's callback of an ARB_WRITE_ARMS op (its done_cb). */
static void arms_done(void *arg, const arb_err_t *err)
{
    arms_job_t *job = arg;
    arb_err_t e;
    const arb_arm_t *arms = NULL;
    size_t n = 0;
    if (!err && arb_arms_plan_result(&job->plan, &arms, &n, &e)) err = &e;
    job->cb(job->arg, err ? NULL : arms, err ? 0 : n, err);
    arb_arms_plan_free(&job->plan);
    free(job);
}

static void lm_arms_sync(arb_store_session_t *ss, const arb_arms_sync_t *req, arb_store_arms_cb cb, void *arg)
{
    lmdb_t *l = ss->store->impl;
    arb_err_t err;
    arms_job_t *job = calloc(1, sizeof *job);
    arb_write_op_t *op = job ? arb_write_op_new(ARB_WRITE_ARMS, "") : NULL;
    if (!op) {
        free(job);
        arb_err_set(&err, ARB_INTERNAL, "state: out of memory queueing a sync of learned arms");
        cb(arg, NULL, 0, &err);
        return;
    }
    if (arb_arms_plan_init(&job->plan, req, &err)) {
        arb_arms_plan_free(&job->plan);
        free(job);
        free(op);
        cb(arg, NULL, 0, &err);
        return;
    }
    job->cb = cb;
    job->arg = arg;
    op->done_cb = arms_done;
    op->arg = job;
    arb_writer_submit(l->writer, op);
}

/* One sync inside the group's transaction, in a nested one: all its
 * deltas or none. A failure fails this op only (op->rc, op->err). */
static void arms_apply(lmdb_t *l, MDB_txn *parent, arb_write_op_t *op)
{
    arms_job_t *job = op->arg;
    MDB_txn *txn;
    int rc = mdb_txn_begin(l->env, parent, 0, &txn);
    if (rc) {
        op->rc = fail_lmdb(l, &op->err, rc, "learning");
        return;
    }
    for (size_t g = 0; !rc && g < job->plan.n_groups; g++) {
        const char *action = job->plan.groups[g].action;
        MDB_val k = {strlen(action), (void *)action}, old;
        rc = mdb_get(txn, l->arms_dbi, &k, &old);
        if (rc && rc != MDB_NOTFOUND) break;
        uint8_t *rec;
        size_t len;
        arb_err_t why;
        if (arb_arms_plan_apply(&job->plan, g, rc ? NULL : old.mv_data, rc ? 0 : old.mv_size, l->store->name, &rec,
                                &len, &why)) {
            arb_arms_plan_skip(&job->plan, g, &why);
            rc = 0;
            continue;
        }
        rc = 0;
        if (rec) {
            MDB_val v = {len, rec};
            rc = mdb_put(txn, l->arms_dbi, &k, &v, 0);
            free(rec);
        }
    }
    if (!rc) rc = mdb_txn_commit(txn);
    else mdb_txn_abort(txn);
    if (rc) op->rc = fail_lmdb(l, &op->err, rc, "learning");
}

/* The old value v is about to be replaced or deleted: zero it after
 * commit. Its file offset comes from the page header before it (LMDB's
 * on-disk format: page number, pad, flags, page count), checked to be the
 * overflow page holding exactly this value; anything else is logged, not
 * written. */
static void note_old(lmdb_t *l, size_t *n, const MDB_val *v)
{
    const uint8_t *p = v->mv_data;
    const uint8_t *page = p - PAGE_HEADER;
    uint64_t pgno;
    uint16_t flags;
    uint32_t pages;
    memcpy(&pgno, page, sizeof pgno);
    memcpy(&flags, page + 10, sizeof flags);
    memcpy(&pages, page + 12, sizeof pages);
    if ((uintptr_t)page % l->psize != 0 || flags != P_OVERFLOW_FLAG ||
        (size_t)pages * l->psize < v->mv_size + PAGE_HEADER || pgno * l->psize >= l->map_size) {
        arb_log_warn("state: an old record is not in an overflow page; it is not scrubbed", "folder=%s",
                     l->folder);
        return;
    }
    l->scrub[(*n)++] = (struct scrub){(size_t)pgno * l->psize + PAGE_HEADER, v->mv_size};
}

static size_t padded(const lmdb_t *l, size_t len)
{
    size_t pages = (len + PAGE_HEADER + l->psize - 1) / l->psize;
    return pages * l->psize - PAGE_HEADER;
}

/* One transaction over ops[0..took); -1 when the transaction failed (every
 * op taken gets the error). */
static int try_batch(lmdb_t *l, arb_write_op_t **ops, size_t n, size_t *took)
{
    size_t nscrub = 0, nres = 0;
    uint8_t keys[n][KEY_LEN];
    MDB_txn *txn;
    int rc = mdb_txn_begin(l->env, NULL, 0, &txn);
    size_t i = 0;
    if (rc) {
        txn = NULL;
        i = 1;  /* the first op carries the error */
    }
    for (; !rc && i < n; i++) {
        arb_write_op_t *op = ops[i];
        if (op->kind == ARB_WRITE_ARMS) {
            op->rc = 0;
            arms_apply(l, txn, op);
            continue;
        }
        key_of(op->id, keys[i]);
        /* One customer once per transaction: so every old value is in the map. */
        bool again = false;
        for (size_t j = 0; j < i && !again; j++)
            again = ops[j]->kind != ARB_WRITE_ARMS && memcmp(keys[j], keys[i], KEY_LEN) == 0;
        if (again) break;
        op->rc = 0;
        MDB_val k = {KEY_LEN, keys[i]}, old;
        rc = mdb_get(txn, l->dbi, &k, &old);
        bool have = rc == 0;
        if (rc && rc != MDB_NOTFOUND) continue;  /* i++ then leave: this op failed with the txn */
        rc = 0;
        if (op->kind == ARB_WRITE_FORGET) {
            if (have) {
                note_old(l, &nscrub, &old);
                rc = mdb_del(txn, l->dbi, &k, NULL);
            }
            continue;
        }
        uint8_t *rec;
        size_t len;
        size_t size = have ? arb_record_size(old.mv_data, old.mv_size) : 0;
        if (arb_store_apply(l->store, op->id, have ? old.mv_data : NULL, have ? (size ? size : old.mv_size) : 0,
                            op->commit, op->granted, &op->res, &rec, &len, &op->err)) {
            op->rc = -1;
            continue;
        }
        if (have) note_old(l, &nscrub, &old);
        MDB_val v = {padded(l, len), NULL};
        rc = mdb_put(txn, l->dbi, &k, &v, MDB_RESERVE);
        if (rc == 0) {
            memcpy(v.mv_data, rec, len);
            memset((char *)v.mv_data + len, 0, v.mv_size - len);
            if (v.mv_size + PAGE_HEADER == l->psize) l->reserved[nres++] = v.mv_data;
        }
        free(rec);
    }
    *took = i;
    if (rc == 0) rc = mdb_txn_commit(txn);
    else if (txn) mdb_txn_abort(txn);
    /* Committed or not, LMDB keeps one-page buffers for its next pages. */
    for (size_t r = 0; r < nres; r++) memset(l->reserved[r], 0, l->psize - PAGE_HEADER);
    if (rc) {
        for (size_t j = 0; j < *took; j++) {
            ops[j]->rc = -1;
            fail_lmdb(l, &ops[j]->err, rc,
                      ops[j]->kind == ARB_WRITE_FORGET ? "forgetting" : ops[j]->kind == ARB_WRITE_ARMS ? "learning" : "committing");
        }
        return -1;
    }
    static const char zeros[65536];
    for (size_t s = 0; s < nscrub; s++)
        for (size_t off = 0; off < l->scrub[s].len;) {
            size_t chunk = l->scrub[s].len - off < sizeof zeros ? l->scrub[s].len - off : sizeof zeros;
            ssize_t w = pwrite(l->fd, zeros, chunk, (off_t)(l->scrub[s].off + off));
            if (w <= 0) {
                arb_log_error("state: cannot zero a forgotten record", "folder=%s error=\"%s\"", l->folder,
                              strerror(errno));
                break;
            }
            off += (size_t)w;
        }
    return 0;
}

static size_t write_batch(void *ctx, arb_write_op_t **ops, size_t n)
{
    lmdb_t *l = ctx;
    size_t took;
    if (try_batch(l, ops, n, &took) == 0 || took <= 1) return took;
    /* The transaction failed (map full, disk full): each op alone, so one
     * that fits is not refused for another's sake. */
    for (size_t i = 0; i < took; i++) {
        size_t one;
        try_batch(l, ops + i, 1, &one);
    }
    return took;
}

static void sync_env(void *ctx)
{
    lmdb_t *l = ctx;
    int rc = mdb_env_sync(l->env, 1);
    if (rc) arb_log_error("state: cannot sync the LMDB store", "folder=%s error=\"%s\"", l->folder, mdb_strerror(rc));
}

static void lm_close(arb_store_t *s)
{
    lmdb_t *l = s->impl;
    arb_writer_stop(l->writer);
    mdb_env_close(l->env);
    free(l->scrub);
    free(l->reserved);
    free(l);
}

static const arb_store_ops_t ops = {
    .session_open = lm_session_open,
    .session_close = lm_session_close,
    .fetch = lm_fetch,
    .commit = lm_commit,
    .forget = lm_forget,
    .arms_sync = lm_arms_sync,
    .close = lm_close,
};

int arb_lmdb_open(arb_store_t *s, const char *folder, arb_err_t *err)
{
    if (mkdir(folder, 0700) != 0 && errno != EEXIST)
        return arb_err_set(err, ARB_INVALID_PARAMS,
                           "--state %s: cannot create the store's folder: %s; create it with write access "
                           "for the server, or pick another folder",
                           folder, strerror(errno));
    lmdb_t *l = calloc(1, sizeof *l);
    if (!l) return arb_err_set(err, ARB_INTERNAL, "state: out of memory opening the LMDB store");
    l->store = s;
    l->map_size = s->opt.map_size;
    l->cap = s->opt.max_batch;
    l->scrub = calloc(l->cap, sizeof *l->scrub);
    l->reserved = calloc(l->cap, sizeof *l->reserved);
    snprintf(l->folder, sizeof l->folder, "%s", folder);
    int rc = !l->scrub || !l->reserved ? ENOMEM : mdb_env_create(&l->env);
    if (!rc) rc = mdb_env_set_mapsize(l->env, l->map_size);
    if (!rc) rc = mdb_env_set_maxreaders(l->env, 1024);
    if (!rc) rc = mdb_env_set_maxdbs(l->env, 1);
    if (!rc) rc = mdb_env_open(l->env, folder, MDB_NOSYNC | MDB_NOTLS, 0600);
    int dead;
    if (!rc) rc = mdb_reader_check(l->env, &dead);  /* slots left by a process killed while reading */
    MDB_txn *txn = NULL;
    if (!rc) rc = mdb_txn_begin(l->env, NULL, 0, &txn);
    if (!rc) rc = mdb_dbi_open(txn, NULL, 0, &l->dbi);
    if (!rc) rc = mdb_dbi_open(txn, "arms", MDB_CREATE, &l->arms_dbi);
    if (!rc) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (txn) mdb_txn_abort(txn);
    MDB_envinfo info;
    MDB_stat st;
    if (!rc) rc = mdb_env_info(l->env, &info);
    if (!rc) rc = mdb_env_stat(l->env, &st);
    if (!rc) rc = mdb_env_get_fd(l->env, &l->fd);
    if (rc) {
        if (rc == EACCES || rc == EROFS || rc == EPERM)
            arb_err_set(err, ARB_INVALID_PARAMS,
                        "--state %s: cannot open the LMDB store there: %s; give the server write access to "
                        "that folder, or pick another one",
                        folder, mdb_strerror(rc));
        else
            arb_err_set(err, ARB_INVALID_PARAMS, "--state %s: cannot open the LMDB store there: %s", folder,
                        mdb_strerror(rc));
        if (l->env) mdb_env_close(l->env);
        free(l->scrub);
        free(l->reserved);
        free(l);
        return -1;
    }
    l->map_size = info.me_mapsize;
    l->psize = st.ms_psize;
    s->impl = l;
    s->ops = &ops;
    if (arb_writer_start(&l->writer, l, write_batch, sync_env, s->opt.max_batch, s->opt.sync_ms, err)) {
        mdb_env_close(l->env);
        free(l->scrub);
        free(l->reserved);
        free(l);
        return -1;
    }
    return 0;
}
