/* A small validator of the Prometheus text exposition format (0.0.4), for
 * the renderer's unit test and fuzz target: every line is a HELP or TYPE
 * comment or a sample `name{label="value",...} number`; every sample's
 * family was typed before it; label values are valid UTF-8 with only \\,
 * \" and \n escapes; no series appears twice; the text ends in a newline.
 */
#ifndef ARB_EXPOCHECK_H
#define ARB_EXPOCHECK_H

#include <stddef.h>

/* 0 when text (len bytes) is valid, else -1 with the reason and the line
 * in why (cap bytes). */
int arb_expo_check(const char *text, size_t len, char *why, size_t cap);

/* The value of the sample whose line starts with prefix (the name and
 * labels, e.g. `arbiter_errors_total{code="internal"}`); -1 when absent. */
double arb_expo_value(const char *text, const char *prefix);

#endif
