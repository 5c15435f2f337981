/* The configuration of `arbiter serve` (see config.h): the defaults, the
 * usage text, and the parsing of each option with its bounds. A value out of
 * bounds is refused with the flag, the bounds and the value, so that the
 * operator knows what to type instead.
 */
#include "engine/server/config.h"

#include <stdlib.h>
#include <string.h>

#include "engine/wire/frame.h"
#include "engine/base/log.h"

void arb_config_defaults(arb_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->listen = "127.0.0.1:7878";
    cfg->max_frame = 1024 * 1024;
    cfg->max_depth = 32;
    cfg->max_connections = 10000;
    cfg->max_queued = 1024 * 1024;
    cfg->frame_timeout = 10;
    cfg->idle_timeout = 0;
    cfg->drain_timeout = 5;
    cfg->deadline_ms = 10;
    cfg->max_deadline_ms = 1000;
    cfg->overload_ms = 100;
    cfg->watch = true;
    cfg->reload_timeout = 30;
    cfg->max_answer = 4 * 1024 * 1024;
    cfg->max_batch = 1000;
    cfg->batch_ms = 200;
    cfg->max_partial = 64 * 1024 * 1024;
    cfg->max_queued_total = 256 * 1024 * 1024;
    cfg->state = ARB_STATE_DEFAULT;
    cfg->state_sync_ms = 1000;
    cfg->state_map_size = (size_t)64 << 30;
    cfg->state_fail_open = false;
    cfg->max_pending = 256;
    cfg->learn_ms = 250;
    cfg->learn_max_arms = 100000;
    cfg->learn_max_segments = 64;
    cfg->state_timeout_ms = 50;
    cfg->log_max_bytes = (size_t)64 << 20;
    cfg->log_rotate_s = 3600;
    cfg->log_retention_days = 30;
    cfg->log_queue = 65536;
}

int arb_config_usage(FILE *f, int code)
{
    fprintf(f,
        "usage: arbiter serve --rules DIR [options]\n"
        "\n"
        "Serve next-best-action decisions over MessagePack-RPC.\n"
        "\n"
        "  --rules DIR            ruleset folder (required)\n"
        "  --listen HOST:PORT     public TCP listener (default 127.0.0.1:7878; 'none' for none)\n"
        "  --socket PATH          public Unix socket\n"
        "  --admin PATH           admin Unix socket, mode 0600 (reload is allowed only here)\n"
        "  --workers N            worker threads (default: one per core)\n"
        "  --max-frame BYTES      largest request (default 1048576)\n"
        "  --max-depth N          deepest nesting in a request, at most 32 (default 32)\n"
        "  --max-connections N    public connections at once (default 10000)\n"
        "  --max-queued BYTES     answers queued for a client before its reads pause (default 1048576)\n"
        "  --frame-timeout SECS   close a client whose partial request stalls (default 10)\n"
        "  --idle-timeout SECS    close a silent client (default 0: never)\n"
        "  --drain-timeout SECS   on SIGTERM, longest wait for in-flight requests (default 5)\n"
        "  --deadline-ms MS       a decision's deadline unless its context sets deadline_ms (default 10)\n"
        "  --max-deadline-ms MS   the most a context's deadline_ms may ask for (default 1000)\n"
        "  --overload-ms MS       a worker busy this long in one loop turn answers `overloaded` (default 100)\n"
        "  --max-answer BYTES     largest answer; a larger one answers too_large (default 4194304)\n"
        "  --max-batch N          contexts in one decide_many (default 1000)\n"
        "  --batch-ms MS          longest one decide_many may work before it stops (default 200)\n"
        "  --max-partial BYTES    request bytes held unanswered, all clients together (default 67108864)\n"
        "  --max-queued-total BYTES answers queued, all clients together (default 268435456)\n"
        "  --no-watch             do not reload when a file in DIR changes\n"
        "  --reload-timeout SECS  abandon a reload that takes longer; the old ruleset keeps serving (default 30)\n"
        "  --state memory|DIR|redis://HOST:PORT[,HOST:PORT...]\n"
        "                         customer state: in memory (lost on exit), an LMDB folder created\n"
        "                         if missing (default ./" ARB_STATE_DEFAULT "), or a Redis Cluster shared\n"
        "                         by several nodes (seed nodes; at least one must answer at start-up)\n"
        "  --state-sync-ms MS     LMDB: sync to disk this often; a power loss loses at most this (default 1000)\n"
        "  --state-map-size BYTES LMDB: the largest the state file may grow, K/M/G suffixes (default 64G)\n"
        "  --state-timeout-ms MS  Redis: the longest one state call waits, then it fails (default 50)\n"
        "  --state-fail closed|open  when the state cannot be read or written, decide answers\n"
        "                         `unavailable` (closed, default) or decides without it (open)\n"
        "  --max-pending N        requests waiting on the state store per worker; beyond, `overloaded`\n"
        "                         (default 256; also bounds the Redis calls waiting per worker)\n"
        "  --learn-ms MS          sync what adaptive actions learned with the state store and publish it\n"
        "                         to the workers this often (default 250)\n"
        "  --learn-seed N         seed Thompson sampling (worker i uses N+i): the same traffic gives the\n"
        "                         same decisions; default a random seed\n"
        "  --learn-max-arms N     learned arms kept, over all actions (default 100000)\n"
        "  --learn-max-segments N segments learned per adaptive action and channel (default 64)\n"
        "  --log-level LEVEL      debug | info | warn | error (default info)\n"
        "  --log DIR              write the decision log (JSON lines: decisions, feedback, purchases,\n"
        "                         customers named by pseudonym) into DIR, created if missing (default: off)\n"
        "  --log-max-bytes BYTES  rotate a log file past this size, K/M/G suffixes (default 64M)\n"
        "  --log-rotate-s SECS    rotate a log file this old (default 3600)\n"
        "  --log-retention-days N delete log files older than this, at each rotation (default 30)\n"
        "  --log-queue N          records waiting for the log's writer; beyond, dropped and counted\n"
        "                         (default 65536)\n"
        "  --log-contexts         decision records carry the whole context (for replay --log)\n"
        "  --http HOST:PORT       serve /metrics (Prometheus), /healthz and /readyz over HTTP on\n"
        "                         its own thread, e.g. 127.0.0.1:9090 (default: off)\n"
        "\n"
        "Signals: SIGHUP reloads the ruleset; SIGTERM or SIGINT stop accepting, answer\n"
        "what is in flight and exit 0. One arriving while the ruleset first loads acts once\n"
        "serving starts; during the shutdown drain they are ignored.\n");
    return code;
}

/* Parse a whole positive number into *out within [lo, hi]. */
static int parse_num(const char *flag, const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "arbiter serve: %s must be a number between %g and %g, not '%s'\n", flag,
                lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* BYTES with an optional K, M, G or T suffix (powers of 1024) within [lo, hi]. */
static int parse_bytes(const char *flag, const char *s, double lo, double hi, size_t *out)
{
    char *end;
    double v = strtod(s, &end), mul = 1;
    if (*end && !end[1]) {
        const char *units = "KMGT";
        char unit = (char)(end[0] & ~0x20);   /* upper case */
        const char *u = unit ? strchr(units, unit) : NULL;
        if (u) {
            mul = (double)(1ull << (10 * (u - units + 1)));
            end++;
        }
    }
    v *= mul;
    if (*s == '\0' || *end != '\0' || !(v >= lo && v <= hi)) {
        fprintf(stderr, "arbiter serve: %s must be bytes between %g and %g (K, M, G, T suffixes), "
                "not '%s'\n", flag, lo, hi, s);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

int arb_config_parse(arb_config_t *cfgp, int argc, char **argv)
{
    arb_config_t cfg;
    arb_config_defaults(&cfg);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double n;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return arb_config_usage(stdout, 0);
        if (strcmp(a, "--no-watch") == 0) { cfg.watch = false; continue; }
        if (strcmp(a, "--log-contexts") == 0) { cfg.log_contexts = true; continue; }
        if (!v || a[0] != '-') {
            fprintf(stderr, "arbiter serve: unexpected '%s'\n", a);
            return arb_config_usage(stderr, 2);
        }
        i++;
        if (strcmp(a, "--rules") == 0) cfg.rules_dir = v;
        else if (strcmp(a, "--listen") == 0) cfg.listen = strcmp(v, "none") == 0 ? NULL : v;
        else if (strcmp(a, "--socket") == 0) cfg.socket_path = v;
        else if (strcmp(a, "--http") == 0) cfg.http = v;
        else if (strcmp(a, "--admin") == 0) cfg.admin_path = v;
        else if (strcmp(a, "--log-level") == 0) {
            int level = arb_log_level_parse(v);
            if (level < 0) {
                fprintf(stderr, "arbiter serve: --log-level is debug, info, warn or error\n");
                return 2;
            }
            arb_log_set_level((arb_log_level_t)level);
        } else if (strcmp(a, "--workers") == 0) {
            if (parse_num(a, v, 1, 256, &n) < 0) return 2;
            cfg.workers = (int)n;
        } else if (strcmp(a, "--max-frame") == 0) {
            if (parse_num(a, v, 64, 1 << 30, &n) < 0) return 2;
            cfg.max_frame = (size_t)n;
        } else if (strcmp(a, "--max-depth") == 0) {
            if (parse_num(a, v, 2, ARB_FRAME_DEPTH_MAX, &n) < 0) return 2;
            cfg.max_depth = (int)n;
        } else if (strcmp(a, "--max-connections") == 0) {
            if (parse_num(a, v, 1, 1000000, &n) < 0) return 2;
            cfg.max_connections = (int)n;
        } else if (strcmp(a, "--max-queued") == 0) {
            if (parse_num(a, v, 1024, 1 << 30, &n) < 0) return 2;
            cfg.max_queued = (size_t)n;
        } else if (strcmp(a, "--frame-timeout") == 0) {
            if (parse_num(a, v, 0, 86400, &cfg.frame_timeout) < 0) return 2;
        } else if (strcmp(a, "--idle-timeout") == 0) {
            if (parse_num(a, v, 0, 86400 * 30, &cfg.idle_timeout) < 0) return 2;
        } else if (strcmp(a, "--deadline-ms") == 0) {
            if (parse_num(a, v, 1, 60000, &n) < 0) return 2;
            cfg.deadline_ms = (int64_t)n;
        } else if (strcmp(a, "--max-deadline-ms") == 0) {
            if (parse_num(a, v, 1, 600000, &n) < 0) return 2;
            cfg.max_deadline_ms = (int64_t)n;
        } else if (strcmp(a, "--overload-ms") == 0) {
            if (parse_num(a, v, 1, 60000, &cfg.overload_ms) < 0) return 2;
        } else if (strcmp(a, "--reload-timeout") == 0) {
            if (parse_num(a, v, 0.001, 86400, &cfg.reload_timeout) < 0) return 2;
        } else if (strcmp(a, "--drain-timeout") == 0) {
            if (parse_num(a, v, 0, 3600, &cfg.drain_timeout) < 0) return 2;
        } else if (strcmp(a, "--max-answer") == 0) {
            if (parse_num(a, v, 1024, 1 << 30, &n) < 0) return 2;
            cfg.max_answer = (size_t)n;
        } else if (strcmp(a, "--max-batch") == 0) {
            if (parse_num(a, v, 1, 1000000, &n) < 0) return 2;
            cfg.max_batch = (uint32_t)n;
        } else if (strcmp(a, "--batch-ms") == 0) {
            if (parse_num(a, v, 1, 600000, &cfg.batch_ms) < 0) return 2;
        } else if (strcmp(a, "--max-partial") == 0) {
            if (parse_num(a, v, 64 * 1024, 1e12, &n) < 0) return 2;
            cfg.max_partial = (size_t)n;
        } else if (strcmp(a, "--max-queued-total") == 0) {
            if (parse_num(a, v, 64 * 1024, 1e12, &n) < 0) return 2;
            cfg.max_queued_total = (size_t)n;
        } else if (strcmp(a, "--state") == 0) {
            if (!*v) {
                fprintf(stderr, "arbiter serve: --state is memory, a folder or redis://HOST:PORT, not ''\n");
                return 2;
            }
            cfg.state = v;
        } else if (strcmp(a, "--state-timeout-ms") == 0) {
            if (parse_num(a, v, 1, 60000, &n) < 0) return 2;
            cfg.state_timeout_ms = (unsigned)n;
        } else if (strcmp(a, "--state-sync-ms") == 0) {
            if (parse_num(a, v, 1, 3600000, &n) < 0) return 2;
            cfg.state_sync_ms = (unsigned)n;
        } else if (strcmp(a, "--state-map-size") == 0) {
            if (parse_bytes(a, v, 64 * 1024, 1e15, &cfg.state_map_size) < 0) return 2;
        } else if (strcmp(a, "--state-fail") == 0) {
            if (strcmp(v, "open") != 0 && strcmp(v, "closed") != 0) {
                fprintf(stderr, "arbiter serve: --state-fail is open or closed, not '%s'\n", v);
                return 2;
            }
            cfg.state_fail_open = strcmp(v, "open") == 0;
        } else if (strcmp(a, "--max-pending") == 0) {
            if (parse_num(a, v, 1, 1000000, &n) < 0) return 2;
            cfg.max_pending = (uint32_t)n;
        } else if (strcmp(a, "--learn-ms") == 0) {
            if (parse_num(a, v, 1, 3600000, &n) < 0) return 2;
            cfg.learn_ms = (unsigned)n;
        } else if (strcmp(a, "--learn-seed") == 0) {
            if (parse_num(a, v, 0, 1e15, &n) < 0) return 2;
            cfg.learn_seeded = true;
            cfg.learn_seed = (uint64_t)n;
        } else if (strcmp(a, "--learn-max-arms") == 0) {
            if (parse_num(a, v, 1, 100000000, &n) < 0) return 2;
            cfg.learn_max_arms = (size_t)n;
        } else if (strcmp(a, "--learn-max-segments") == 0) {
            if (parse_num(a, v, 1, 100000, &n) < 0) return 2;
            cfg.learn_max_segments = (size_t)n;
        } else if (strcmp(a, "--log") == 0) {
            if (!*v) {
                fprintf(stderr, "arbiter serve: --log is a folder, not ''\n");
                return 2;
            }
            cfg.log_dir = v;
        } else if (strcmp(a, "--log-max-bytes") == 0) {
            if (parse_bytes(a, v, 4096, 1e15, &cfg.log_max_bytes) < 0) return 2;
        } else if (strcmp(a, "--log-rotate-s") == 0) {
            if (parse_num(a, v, 1, 86400 * 366, &n) < 0) return 2;
            cfg.log_rotate_s = (unsigned)n;
        } else if (strcmp(a, "--log-retention-days") == 0) {
            if (parse_num(a, v, 1, 36600, &n) < 0) return 2;
            cfg.log_retention_days = (unsigned)n;
        } else if (strcmp(a, "--log-queue") == 0) {
            if (parse_num(a, v, 1, 1e8, &n) < 0) return 2;
            cfg.log_queue = (size_t)n;
        } else {
            fprintf(stderr, "arbiter serve: unknown option '%s'\n", a);
            return arb_config_usage(stderr, 2);
        }
    }
    if (!cfg.rules_dir) {
        fprintf(stderr, "arbiter serve: --rules DIR is required\n");
        return arb_config_usage(stderr, 2);
    }
    if (cfg.socket_path && cfg.admin_path && strcmp(cfg.socket_path, cfg.admin_path) == 0) {
        fprintf(stderr, "arbiter serve: --socket and --admin must be different paths\n");
        return 2;
    }
    if (!cfg.listen && !cfg.socket_path) {
        fprintf(stderr, "arbiter serve: nothing to listen on: give --listen or --socket\n");
        return 2;
    }
    *cfgp = cfg;
    return -1;
}
