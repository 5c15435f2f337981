/* Logging in logfmt, one line per event on stderr (see log.h). */
#include "engine/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

void arb_log(arb_log_level_t level, const char *msg, const char *fields, ...)
{
    if (level < min_level) return;
    char line[2048], qmsg[512];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s msg=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
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
    if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
