/* Reload jobs: loading a ruleset folder on a thread of its own, which the
 * server may stop waiting for.
 *
 * A load can take long (a big ruleset on a busy machine, a rule file doing
 * legal but heavy work) and a thread cannot be cancelled safely (it may hold
 * the allocator's locks). So each job runs on a detached thread; the loop
 * that started it either collects its result once it signals `notify`, or
 * detaches it (time limit, shutdown): the thread then finishes alone, frees
 * what it built and touches nothing outside the job. Detached jobs still
 * running are counted (arb_reload_stuck) so a folder that always hangs
 * cannot pile up threads: the server refuses new reloads past
 * ARB_RELOADS_STUCK_MAX.
 *
 * Threads: arb_reload_spawn, _finished, _detach, _copies, _problems,
 * _resolved and _release are called by the loop that spawned the job.
 */
#ifndef ARB_RELOAD_H
#define ARB_RELOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "engine/ruleset/ruleset.h"

#define ARB_RELOADS_STUCK_MAX 4

/* Fill copies (nworkers slots) with the ruleset of dir, or fill problems.
 * The folder is read once (one snapshot, through one descriptor): the rules,
 * their tests and every copy come from the same version of it, whatever
 * renames or link flips happen meanwhile; its tests must pass. A ruleset
 * without plain Lua functions is loaded once and shared by every slot; one
 * with them is loaded per slot, each in its own lua_State. *resolved (when
 * resolved is not NULL; caller frees) names the folder read, after links. */
void arb_reload_load(const char *dir, int nworkers, uint64_t seq, arb_ruleset_t **copies,
                     arb_problems_t *problems, char **resolved);

typedef struct arb_reload arb_reload_t;

/* Start loading dir on a detached thread; uv_async_send(notify) when done
 * (unless detached by then). NULL with a reason in err when no thread could
 * start. The caller holds the job until arb_reload_release. */
arb_reload_t *arb_reload_spawn(const char *dir, int nworkers, uint64_t seq, uv_async_t *notify,
                               char *err, size_t errlen);

/* Whether the thread has finished (its results may then be read). */
bool arb_reload_finished(arb_reload_t *job);

/* Stop waiting: the thread finishes alone and frees its results. Returns
 * false (and detaches nothing) when it had in fact finished. */
bool arb_reload_detach(arb_reload_t *job);

/* Results of a finished job: nworkers slots (the caller may take a slot's
 * ruleset and set it to NULL; the rest is freed with the job), the problems,
 * the folder read ("?" if unknown). Owned by the job. */
arb_ruleset_t **arb_reload_copies(arb_reload_t *job);
const arb_problems_t *arb_reload_problems(arb_reload_t *job);
const char *arb_reload_resolved(arb_reload_t *job);

/* Drop the caller's hold; the last holder frees the job. */
void arb_reload_release(arb_reload_t *job);

/* Detached jobs whose thread still runs (process-wide). */
int arb_reload_stuck(void);

#endif
