/* engine/server/: the methods bound to workers, connections and the loop.
 * Its rule: the only folder that includes uv.h; conn.c hands whole frames to
 * callbacks and never names rpc, service or worker internals. It includes
 * only the folders before it. (ARCHITECTURE.md; scripts/layers checks the
 * includes.)
 *
 * The configuration of `arbiter serve`: every option, its default, its
 * bounds, its parsing from the command line and its usage text, in one
 * place, so that the server reads settled values and never argv.
 */
#ifndef ARB_CONFIG_H
#define ARB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Everything `arbiter serve` can be told on its command line. Strings are
 * borrowed from argv and must outlive the server. */
typedef struct arb_config {
    const char *rules_dir;     /* ruleset folder (required) */
    const char *listen;        /* HOST:PORT of the public TCP listener, NULL for none */
    const char *socket_path;   /* public Unix socket, NULL for none */
    const char *admin_path;    /* admin Unix socket (mode 0600), NULL for none */
    int workers;               /* worker threads; 0 means one per core */
    size_t max_frame;          /* largest request frame, bytes */
    int max_depth;             /* deepest nesting in a frame, <= 32 */
    int max_connections;       /* public connections open at once */
    size_t max_queued;         /* bytes of answers queued for one client before reads pause */
    double frame_timeout;      /* seconds a partial frame may stall before the close */
    double idle_timeout;       /* seconds without traffic before the close; 0 = never */
    double drain_timeout;      /* seconds SIGTERM waits for in-flight work */
    int64_t deadline_ms;       /* a decision's deadline unless the context sets one */
    int64_t max_deadline_ms;   /* the most a context's deadline_ms may ask for */
    double overload_ms;        /* a worker this far behind answers `overloaded` */
    bool watch;                /* reload when a file of the ruleset changes */
    double reload_timeout;     /* seconds a reload may take before it is abandoned */
    /* What one request and all clients together may hold. */
    size_t max_answer;         /* largest answer, bytes; a larger one answers too_large */
    uint32_t max_batch;        /* contexts in one decide_many */
    double batch_ms;           /* longest one decide_many may work before it stops */
    size_t max_partial;        /* request bytes held unanswered, across every connection */
    size_t max_queued_total;   /* answer bytes queued, across every connection */
    /* The customer store (DESIGN.md section 5). */
    const char *state;         /* "memory", a folder (LMDB) or redis://...; default ARB_STATE_DEFAULT */
    unsigned state_sync_ms;    /* LMDB: fsync period */
    size_t state_map_size;     /* LMDB: largest the file may grow, bytes */
    unsigned state_timeout_ms; /* Redis: the longest one store call waits */
    bool state_fail_open;      /* store down: decide without state (true) or answer unavailable */
    uint32_t max_pending;      /* requests waiting on the store, per worker; beyond: overloaded */
    /* Learning (DESIGN.md section 6). */
    unsigned learn_ms;         /* how often learned evidence is synced with the store and published */
    bool learn_seeded;         /* --learn-seed given: Thompson draws are reproducible */
    uint64_t learn_seed;       /* worker i's sampler starts from learn_seed + i */
    size_t learn_max_arms;     /* arms a node keeps */
    size_t learn_max_segments; /* segments per action and channel */
    /* The decision log (DESIGN.md section 7; audit/log.h). */
    const char *log_dir;       /* NULL: no log */
    size_t log_max_bytes;      /* rotate a file past this */
    unsigned log_rotate_s;     /* rotate a file this old */
    unsigned log_retention_days; /* delete files older, at rotation */
    size_t log_queue;          /* records waiting for the writer; beyond, dropped */
    bool log_contexts;         /* decision records carry the whole context */
    const char *http;          /* HOST:PORT of /metrics, /healthz, /readyz; NULL: off */
} arb_config_t;

/* The state folder `arbiter serve` uses when --state is not given, relative
 * to the working directory (created when missing). */
#define ARB_STATE_DEFAULT "arbiter-state"

/* Defaults of DESIGN.md section 3 and 5. */
void arb_config_defaults(arb_config_t *cfg);

/* Fill cfg from `serve`'s arguments (argv[0] is "serve"; strings stay
 * borrowed from argv). Returns -1 when cfg is ready to serve, else the exit
 * code to leave with: 0 after --help, 2 after a usage error (already told
 * on stderr). */
int arb_config_parse(arb_config_t *cfg, int argc, char **argv);

/* Print `serve`'s usage to f and return code. */
int arb_config_usage(FILE *f, int code);

#endif
