/* The exposition validator of expocheck.h: a line at a time, by hand, so
 * that the test does not trust the renderer's own idea of the format. */
#include "tests/support/expocheck.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/utf8.h"

#define MAX_TYPED 256
#define MAX_SERIES 8192

static bool name_char(char c, bool first)
{
    return isalpha((unsigned char)c) || c == '_' || c == ':' || (!first && isdigit((unsigned char)c));
}

static size_t name_len(const char *p, const char *end)
{
    size_t n = 0;
    while (p + n < end && name_char(p[n], n == 0)) n++;
    return n;
}

static int fail(char *why, size_t cap, const char *msg, const char *line, size_t n)
{
    snprintf(why, cap, "%s: %.*s", msg, (int)(n > 200 ? 200 : n), line);
    return -1;
}

/* Labels at *pp up to '}': name="value" pairs. */
static int labels(const char **pp, const char *end)
{
    const char *p = *pp;
    while (p < end && *p != '}') {
        size_t n = name_len(p, end);
        if (n == 0 || p + n + 1 >= end || p[n] != '=' || p[n + 1] != '"') return -1;
        p += n + 2;
        const char *v = p;
        while (p < end && *p != '"') {
            if (*p == '\\') {
                if (p + 1 >= end || !strchr("\\\"n", p[1])) return -1;
                p += 2;
            } else if (*p == '\n') {
                return -1;
            } else {
                p++;
            }
        }
        if (p >= end || !arb_utf8_valid(v, (size_t)(p - v))) return -1;
        p++;
        if (p < end && *p == ',') p++;
    }
    if (p >= end) return -1;
    *pp = p + 1;
    return 0;
}

static bool number(const char *p, const char *end)
{
    char buf[64];
    size_t n = (size_t)(end - p);
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, p, n);
    buf[n] = '\0';
    if (!strcmp(buf, "+Inf") || !strcmp(buf, "-Inf") || !strcmp(buf, "NaN")) return true;
    char *e;
    strtod(buf, &e);
    return *e == '\0';
}

int arb_expo_check(const char *text, size_t len, char *why, size_t cap)
{
    char typed[MAX_TYPED][128];
    int ntyped = 0;
    char **series = calloc(MAX_SERIES, sizeof *series);
    int nseries = 0, rc = 0;
    if (!series) return fail(why, cap, "out of memory", "", 0);
    if (len == 0 || text[len - 1] != '\n') {
        rc = fail(why, cap, "does not end in a newline", "", 0);
        goto out;
    }
    for (const char *line = text; line < text + len;) {
        const char *end = memchr(line, '\n', (size_t)(text + len - line));
        size_t n = (size_t)(end - line);
        if (memchr(line, '\0', n)) { rc = fail(why, cap, "NUL byte", line, n); goto out; }
        if (n >= 7 && !memcmp(line, "# TYPE ", 7)) {
            const char *p = line + 7;
            size_t k = name_len(p, end);
            const char *t = p + k + 1;
            bool known = (end - t == 7 && !memcmp(t, "counter", 7)) ||
                         (end - t == 5 && !memcmp(t, "gauge", 5)) ||
                         (end - t == 9 && !memcmp(t, "histogram", 9));
            if (k == 0 || k >= 128 || p[k] != ' ' || !known) {
                rc = fail(why, cap, "bad TYPE line", line, n);
                goto out;
            }
            if (ntyped < MAX_TYPED) { memcpy(typed[ntyped], p, k); typed[ntyped++][k] = '\0'; }
        } else if (n >= 7 && !memcmp(line, "# HELP ", 7)) {
            if (name_len(line + 7, end) == 0) { rc = fail(why, cap, "bad HELP line", line, n); goto out; }
        } else {
            size_t k = name_len(line, end);
            const char *p = line + k;
            if (k == 0) { rc = fail(why, cap, "not a sample", line, n); goto out; }
            if (p < end && *p == '{') {
                p++;
                if (labels(&p, end) < 0) { rc = fail(why, cap, "bad labels", line, n); goto out; }
            }
            if (p >= end || *p != ' ' || !number(p + 1, end)) {
                rc = fail(why, cap, "bad value", line, n);
                goto out;
            }
            bool ok = false;
            for (int i = 0; i < ntyped && !ok; i++) {
                size_t tl = strlen(typed[i]);
                ok = !strncmp(line, typed[i], tl) &&
                     (k == tl || (k > tl && (!strncmp(line + tl, "_bucket", k - tl) ||
                                             !strncmp(line + tl, "_sum", k - tl) ||
                                             !strncmp(line + tl, "_count", k - tl))));
            }
            if (!ok) { rc = fail(why, cap, "sample before its TYPE", line, n); goto out; }
            size_t sk = (size_t)(p - line);
            for (int i = 0; i < nseries; i++)
                if (strlen(series[i]) == sk && !memcmp(series[i], line, sk)) {
                    rc = fail(why, cap, "series twice", line, n);
                    goto out;
                }
            if (nseries < MAX_SERIES && (series[nseries] = strndup(line, sk))) nseries++;
        }
        line = end + 1;
    }
out:
    for (int i = 0; i < nseries; i++) free(series[i]);
    free(series);
    return rc;
}

double arb_expo_value(const char *text, const char *prefix)
{
    size_t pl = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, prefix, pl) && p[pl] == ' ') return strtod(p + pl + 1, NULL);
    return -1;
}
