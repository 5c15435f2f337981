/* Problems of a load or of a test run: bounded in number and in length,
 * and always valid UTF-8.
 *
 * Problems travel far: into the reload answer, the log (one line each) and
 * the output of `arbiter check`. A rule file controls much of their text
 * (ids, field names, its own error messages, even its file name) and can
 * produce as many as it likes with a loop, so each message is cut to
 * ARB_PROBLEM_MAX_LEN bytes with its bytes that are not UTF-8 (and control
 * characters, which would break a line) written as \xNN, and a list keeps
 * ARB_PROBLEMS_MAX messages followed by one "... and N more problems" line.
 * The total is still counted, so a caller can tell that a load failed.
 */
#include "engine/base/problems.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/utf8.h"

size_t arb_text_clean(const char *s, size_t n, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0, i = 0;
    if (outlen == 0) return 0;
    /* Room for the longest piece (4 bytes) and the "..." of a cut. */
    while (i < n && o + 4 + 3 < outlen) {
        size_t k = arb_utf8_seq(u + i, n - i);
        if (k == 1 && (u[i] < 0x20 || u[i] == 0x7f)) k = 0;
        if (k) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
            continue;
        }
        out[o++] = '\\';
        out[o++] = 'x';
        out[o++] = hex[u[i] >> 4];
        out[o++] = hex[u[i] & 15];
        i++;
    }
    if (i < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return o;
}

/* The last slot says how many were left out. */
static void problems_summarise(arb_problems_t *p)
{
    char line[80];
    size_t more = p->total - ARB_PROBLEMS_MAX;
    snprintf(line, sizeof line, "... and %zu more problem%s", more, more == 1 ? "" : "s");
    char *s = strdup(line);
    if (!s) return;
    if (p->n > ARB_PROBLEMS_MAX) free(p->items[ARB_PROBLEMS_MAX]);
    p->items[ARB_PROBLEMS_MAX] = s;
    p->n = ARB_PROBLEMS_MAX + 1;
}

void arb_problems_add(arb_problems_t *p, const char *fmt, ...)
{
    p->total++;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        if (cap > ARB_PROBLEMS_MAX + 1) cap = ARB_PROBLEMS_MAX + 1;
        if (cap > p->cap) {
            char **items = realloc(p->items, cap * sizeof *items);
            if (!items) return;
            p->items = items;
            p->cap = cap;
        }
    }
    if (p->total > ARB_PROBLEMS_MAX) {
        /* Counted, not formatted: a loop of 600,000 mistakes costs no more. */
        if (p->n >= ARB_PROBLEMS_MAX) problems_summarise(p);
        return;
    }
    char raw[4 * ARB_PROBLEM_MAX_LEN], clean[ARB_PROBLEM_MAX_LEN];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    if (len < 0) return;
    size_t n = (size_t)len < sizeof raw ? (size_t)len : sizeof raw - 1;
    arb_text_clean(raw, n, clean, sizeof clean);
    p->items[p->n] = strdup(clean);
    if (p->items[p->n]) p->n++;
}

void arb_problems_free(arb_problems_t *p)
{
    for (size_t i = 0; i < p->n; i++) free(p->items[i]);
    free(p->items);
    memset(p, 0, sizeof *p);
}
