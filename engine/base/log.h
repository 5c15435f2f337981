/* Logging: one logfmt line per event on stderr.
 *
 *   ts=2026-11-22T20:15:03.123Z level=info msg="listening" addr=127.0.0.1:7878
 *
 * Callers pass the message and then key=value pairs already formatted; values
 * with spaces must be quoted by the caller with arb_log_quote(). Thread-safe:
 * each line is written with a single write(2).
 */
#ifndef ARB_LOG_H
#define ARB_LOG_H

#include <stddef.h>

typedef enum { ARB_LOG_DEBUG, ARB_LOG_INFO, ARB_LOG_WARN, ARB_LOG_ERROR } arb_log_level_t;

/* Lines below this level are dropped. Default ARB_LOG_INFO. */
void arb_log_set_level(arb_log_level_t level);

/* Parse "debug" | "info" | "warn" | "error"; returns -1 for anything else. */
int arb_log_level_parse(const char *name);

/* Log msg with optional extra fields in printf form ("addr=%s n=%d").
 * fields may be NULL. */
void arb_log(arb_log_level_t level, const char *msg, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

/* Write s into out as a logfmt value: bare when it has no space, quote or
 * '=', else double-quoted with \" and \n escaped. Always NUL-terminates.
 * Returns out. */
char *arb_log_quote(const char *s, char *out, size_t outlen);

#define arb_log_info(msg, ...) arb_log(ARB_LOG_INFO, msg, __VA_ARGS__)
#define arb_log_warn(msg, ...) arb_log(ARB_LOG_WARN, msg, __VA_ARGS__)
#define arb_log_error(msg, ...) arb_log(ARB_LOG_ERROR, msg, __VA_ARGS__)

#endif
