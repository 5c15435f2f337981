/* The one-action fixture of the rule language's tests (code in dslfix.c):
 * each test writes a condition or a weight, and reads whether action 'a'
 * holds or what priority it gets. Uses the suite's R (rulefix.h).
 */
#ifndef TESTS_DSLFIX_H
#define TESTS_DSLFIX_H

#include <math.h>
#include <stdbool.h>

#include "tests/support/rulefix.h"

/* Load `decls` then one action 'a' (web and email, value 10) whose `when` is
 * the condition text. Fails the test when it does not load. */
void load_when(const char *decls, const char *when);

/* Load `decls` then one action 'a' (web, value 10) whose `weight` is the
 * expression text. Fails the test when it does not load. */
void load_weight(const char *decls, const char *weight);

/* Whether action 'a' is chosen for the context (JSON format). */
__attribute__((format(printf, 1, 2)))
bool hit(const char *fmt, ...);

/* Priority of 'a' for the context; NAN when not chosen. */
__attribute__((format(printf, 1, 2)))
double prio(const char *fmt, ...);

#define NEAR(x, want) (fabs((x) - (want)) < 1e-9)

#endif
