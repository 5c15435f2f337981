/* Reload jobs on detached threads (see reload.h).
 *
 * A job is shared by its thread and the loop (refs). The thread writes
 * copies, problems and resolved, then sets finished under the lock; the loop
 * reads them only after. notify is NULL once the loop stopped waiting: the
 * thread then only counts itself out of arb_reload_stuck and drops its hold.
 */
#include "engine/server/reload.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine/ruleset/fileio.h"
#include "engine/decide/ruletest.h"

struct arb_reload {
    pthread_mutex_t lock;       /* guards refs, finished, notify */
    int refs;
    bool finished;
    uv_async_t *notify;         /* NULL once detached */
    char *dir;                  /* a copy: the server may be gone */
    int nworkers;
    uint64_t seq;
    arb_ruleset_t **copies;     /* one per worker */
    arb_problems_t problems;
    char *resolved;
};

static _Atomic int stuck;

int arb_reload_stuck(void) { return atomic_load(&stuck); }

void arb_reload_load(const char *dir, int nworkers, uint64_t seq, arb_ruleset_t **copies,
                     arb_problems_t *problems, char **resolved)
{
    arb_folder_snapshot_t *snap = arb_folder_snapshot(dir);
    if (!snap) {
        arb_problems_add(problems, "%s: out of memory reading the folder", dir);
        return;
    }
    if (resolved) *resolved = strdup(arb_folder_snapshot_resolved(snap));
    arb_folder_pin(snap);
    for (int i = 0; i < nworkers && problems->n == 0; i++) {
        if (i > 0 && copies[0] && arb_ruleset_shareable(copies[0])) {
            copies[i] = arb_ruleset_retain(copies[0]);
            continue;
        }
        /* Each copy shares the first one's catalog: read once per reload, so
         * every worker serves the same products under one version. */
        copies[i] = arb_ruleset_load_like(dir, seq, i > 0 ? copies[0] : NULL, problems);
        if (i == 0 && copies[0]) arb_ruleset_run_tests(copies[0], dir, problems, 0);
    }
    arb_folder_pin(NULL);
    arb_folder_snapshot_free(snap);
    malloc_trim(0);   /* compiling leaves freed memory behind: give it back */
}

void arb_reload_release(arb_reload_t *job)
{
    pthread_mutex_lock(&job->lock);
    bool last = --job->refs == 0;
    pthread_mutex_unlock(&job->lock);
    if (!last) return;
    for (int i = 0; job->copies && i < job->nworkers; i++) arb_ruleset_free(job->copies[i]);
    free(job->copies);
    arb_problems_free(&job->problems);
    free(job->dir);
    free(job->resolved);
    pthread_mutex_destroy(&job->lock);
    free(job);
}

static void *reload_thread(void *arg)
{
    arb_reload_t *job = arg;
    /* Lowest priority: the workers keep the cores they need; a reload of
     * 10,000 actions under full load then takes seconds, not requests' time. */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
    job->copies = calloc((size_t)job->nworkers, sizeof *job->copies);
    if (job->copies)
        arb_reload_load(job->dir, job->nworkers, job->seq, job->copies, &job->problems,
                        &job->resolved);
    else
        arb_problems_add(&job->problems, "out of memory");
    pthread_mutex_lock(&job->lock);
    job->finished = true;
    if (job->notify) uv_async_send(job->notify);
    else atomic_fetch_sub(&stuck, 1);   /* detached: nobody waits */
    pthread_mutex_unlock(&job->lock);
    arb_reload_release(job);
    return NULL;
}

arb_reload_t *arb_reload_spawn(const char *dir, int nworkers, uint64_t seq, uv_async_t *notify,
                               char *err, size_t errlen)
{
    arb_reload_t *job = calloc(1, sizeof *job);
    if (!job || !(job->dir = strdup(dir))) {
        free(job);
        snprintf(err, errlen, "out of memory starting the reload");
        return NULL;
    }
    pthread_mutex_init(&job->lock, NULL);
    job->refs = 2;   /* the thread's and the caller's */
    job->notify = notify;
    job->nworkers = nworkers;
    job->seq = seq;
    /* The thread never takes a signal: it may outlive the handlers. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    int r = pthread_create(&th, &attr, reload_thread, job);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        snprintf(err, errlen, "cannot start the reload thread: %s", strerror(r));
        job->refs = 1;
        arb_reload_release(job);
        return NULL;
    }
    return job;
}

bool arb_reload_finished(arb_reload_t *job)
{
    pthread_mutex_lock(&job->lock);
    bool finished = job->finished;
    pthread_mutex_unlock(&job->lock);
    return finished;
}

bool arb_reload_detach(arb_reload_t *job)
{
    pthread_mutex_lock(&job->lock);
    bool running = !job->finished;
    if (running) {
        job->notify = NULL;
        atomic_fetch_add(&stuck, 1);
    }
    pthread_mutex_unlock(&job->lock);
    return running;
}

arb_ruleset_t **arb_reload_copies(arb_reload_t *job) { return job->copies; }
const arb_problems_t *arb_reload_problems(arb_reload_t *job) { return &job->problems; }
const char *arb_reload_resolved(arb_reload_t *job) { return job->resolved ? job->resolved : "?"; }
