/* Problems: what went wrong in a load, as a bounded list of messages a user
 * can act on ("file:line: action 'id': message"). A load never stops at the
 * first problem and never aborts: it adds here and goes on, so that one
 * reload reports everything to fix at once. Base layer: includes nothing of
 * ours.
 */
#ifndef ARB_PROBLEMS_H
#define ARB_PROBLEMS_H

#include <stddef.h>

/* At most this many problems are kept, then one "... and N more problems"
 * line; each is cut to ARB_PROBLEM_MAX_LEN bytes (see problems.c). */
#define ARB_PROBLEMS_MAX 100
#define ARB_PROBLEM_MAX_LEN 1024

/* Every problem a load found, in file order: the first ARB_PROBLEMS_MAX,
 * then a summary line. Every item is valid UTF-8 without control bytes. */
typedef struct arb_problems {
    char **items;    /* malloc'd "file:line: action 'id': message" strings, owned */
    size_t n;        /* how many are kept (at most ARB_PROBLEMS_MAX + 1) */
    size_t cap;      /* allocated slots */
    size_t total;    /* how many were added, kept or not: a load failed when it grew */
} arb_problems_t;

void arb_problems_add(arb_problems_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void arb_problems_free(arb_problems_t *p);

/* Copy the n bytes at s into out (outlen >= 8 bytes, NUL-terminated) as
 * valid UTF-8: invalid bytes and control characters become \xNN, and text
 * that does not fit ends with "...". Returns the length written. */
size_t arb_text_clean(const char *s, size_t n, char *out, size_t outlen);

#endif
