/* The catalog-only reload (catalog.h): when only stock or prices change,
 * the products file is read again and swapped in under the ruleset that is
 * answering, without reloading the rules (its version stays).
 *
 * Triggers: the admin `reload` with params[0] = {only = "catalog"}, and the
 * folder watch seeing only the declared catalog file change (server.c).
 * The file is read on libuv's thread pool of the main loop; a catalog that
 * loaded is published in each worker's next_catalog slot, tagged with the
 * version of the ruleset it was read for. A worker takes it between two
 * requests and decides with it (arb_decider_set_catalog) only while that
 * ruleset answers: a full reload swaps in a ruleset that read its catalog
 * fresh, and an older ruleset's catalog is dropped, never applied to it.
 *
 * Threads: arb__catalog_reload_request on any thread; _start and
 * _set_current on the main loop; arb__catalog_take, _reset and _free on the
 * worker's own thread. Ownership: a slot holds one catalog reference, the
 * worker's override another (worker.h).
 */
#ifndef ARB_CATALOG_RELOAD_H
#define ARB_CATALOG_RELOAD_H

#include <stdint.h>

#include "engine/server/server.h"

typedef struct arb_worker arb_worker_t;
typedef struct arb_ruleset arb_ruleset_t;

/* A catalog published for the workers: one catalog reference owned. */
typedef struct arb_catalog_pub {
    struct arb_catalog *catalog;
    char version[48];           /* the ruleset version it was read for */
} arb_catalog_pub_t;

/* Queue a catalog-only reload, answered on worker w's connection conn_id
 * (0: nobody to answer, e.g. the watch) for msgid, and wake the main loop. */
void arb__catalog_reload_request(arb_server_t *s, int worker, uint64_t conn_id, uint32_t msgid);

/* Start the queued catalog reloads, unless one runs (main loop). */
void arb__catalog_reload_start(arb_server_t *s);

/* Answer the queued and running catalog reloads "the server is stopping"
 * (main loop, before the workers drain). */
void arb__catalog_reload_stop(arb_server_t *s);

/* The ruleset answering now (rs retained by the server; NULL: none, at
 * shutdown): what a catalog-only reload reads the file of. Also points the
 * folder watch at its catalog file. Main loop. */
void arb__catalog_set_current(arb_server_t *s, arb_ruleset_t *rs);

/* Worker thread: swap in a published catalog when one waits and it was
 * read for the worker's ruleset (dropped otherwise). */
void arb__catalog_take(arb_worker_t *w);

/* Worker thread, after a full ruleset swap: decide with the new
 * ruleset's own catalog again. */
void arb__catalog_reset(arb_worker_t *w);

/* Free what w holds of catalogs, once its thread has ended. */
void arb__catalog_free(arb_worker_t *w);

#endif
