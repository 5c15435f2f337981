/* Logging in logfmt, one line per event on stderr (see log.h).
 *
 * Two guards, because a hostile client (or rule) can make an event repeat
 * as fast as it likes: each message is rate limited (ARB_LOG_BURST lines a
 * second, then one line saying how many were suppressed when it next
 * speaks), and a line is written only when stderr can take it without
 * blocking: a stalled reader of stderr costs lost lines (counted, and said
 * in the next line written), never a stalled worker.
 */
#include "engine/base/log.h"

#include "engine/base/clock.h"

#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ARB_LOG_BURST 20     /* lines per message per second */
#define ARB_LOG_KINDS 64     /* messages tracked at once (hashed) */

typedef struct kind {
    char msg[48];            /* the message, cut: its identity */
    int64_t second;          /* the window being counted */
    uint32_t lines;          /* lines written in it */
    uint64_t suppressed;     /* lines not written since the last one that was */
} kind_t;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static kind_t kinds[ARB_LOG_KINDS];
static uint64_t dropped;     /* lines stderr could not take */

static arb_log_level_t min_level = ARB_LOG_INFO;
static const char *level_names[] = { "debug", "info", "warn", "error" };

void arb_log_set_level(arb_log_level_t level) { min_level = level; }

int arb_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0) return i;
    return -1;
}

char *arb_log_quote(const char *s, char *out, size_t outlen)
{
    size_t n = 0;
    int needs = strpbrk(s, " \"=\n\t") != NULL || *s == '\0';
    if (outlen == 0) return out;
    if (needs && n + 1 < outlen) out[n++] = '"';
    for (; *s && n + 3 < outlen; s++) {
        if (needs && (*s == '"' || *s == '\\')) out[n++] = '\\';
        if (*s == '\n') { out[n++] = '\\'; out[n++] = 'n'; continue; }
        out[n++] = *s;
    }
    if (needs && n + 1 < outlen) out[n++] = '"';
    out[n] = '\0';
    return out;
}

/* Whether msg may be logged now; *suppressed gets how many of its lines
 * were held back since its last. Called with log_lock held. */
static bool admit(const char *msg, int64_t second, uint64_t *suppressed)
{
    uint32_t h = 2166136261u;
    for (const char *p = msg; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    kind_t *k = &kinds[h % ARB_LOG_KINDS];
    if (strncmp(k->msg, msg, sizeof k->msg - 1) != 0) {   /* a new message takes the slot */
        memset(k, 0, sizeof *k);
        snprintf(k->msg, sizeof k->msg, "%s", msg);
    }
    if (k->second != second) {
        k->second = second;
        k->lines = 0;
    }
    if (k->lines >= ARB_LOG_BURST) {
        k->suppressed++;
        return false;
    }
    k->lines++;
    *suppressed = k->suppressed;
    k->suppressed = 0;
    return true;
}

void arb_log(arb_log_level_t level, const char *msg, const char *fields, ...)
{
    if (level < min_level) return;
    char line[2048], qmsg[512];
    struct tm tm;
    int64_t wall_ns = arb_clock_wall_ns();
    time_t wall_s = (time_t)(wall_ns / 1000000000);
    int64_t mono_s = (int64_t)(arb_clock_mono_ns() / 1000000000u);
    uint64_t suppressed = 0;
    pthread_mutex_lock(&log_lock);
    bool ok = admit(msg, mono_s, &suppressed);
    pthread_mutex_unlock(&log_lock);
    if (!ok) return;
    gmtime_r(&wall_s, &tm);
    int n = snprintf(line, sizeof line,
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s msg=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, (long)(wall_ns % 1000000000 / 1000000),
                     level_names[level], arb_log_quote(msg, qmsg, sizeof qmsg));
    if (fields && n > 0 && (size_t)n < sizeof line - 2) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fields);
        int m = vsnprintf(line + n, sizeof line - (size_t)n, fields, ap);
        va_end(ap);
        if (m > 0) n += m;
    }
    if (n < 0) return;
    if ((size_t)n > sizeof line - 64) n = (int)sizeof line - 64;
    if (suppressed)
        n += snprintf(line + n, sizeof line - (size_t)n, " suppressed=%llu",
                      (unsigned long long)suppressed);
    pthread_mutex_lock(&log_lock);
    if (dropped)
        n += snprintf(line + n, sizeof line - (size_t)n, " log_dropped=%llu",
                      (unsigned long long)dropped);
    line[n++] = '\n';
    /* One writer at a time, and only when a line (< PIPE_BUF) fits now. */
    struct pollfd pfd = { .fd = STDERR_FILENO, .events = POLLOUT };
    if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLOUT)) {
        ssize_t w = write(STDERR_FILENO, line, (size_t)n);
        if (w == n) dropped = 0;
        else dropped++;
    } else {
        dropped++;
    }
    pthread_mutex_unlock(&log_lock);
}
