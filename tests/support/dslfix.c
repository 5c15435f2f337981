/* The language tests' one-action fixture (declared in dslfix.h): load a
 * single action 'a' around a condition or a weight, then ask whether it is
 * chosen and at what priority. Built on the rule fixture (rulefix.c) and
 * its suite global R; compiled once per flavour ($b/obj/support/dslfix.o).
 */
#include "tests/support/dslfix.h"

#include <stdarg.h>
#include <stdio.h>

/* Load `decls` then one action 'a' (web and email, value 10) whose `when` is
 * the condition text. */
void load_when(const char *decls, const char *when)
{
    char text[8192];
    snprintf(text, sizeof text,
             "%s\n"
             "action 'a' {\n"
             "  channels = { 'web', 'email' },\n"
             "  value = 10,\n"
             "  when = %s,\n"
             "}\n",
             decls ? decls : "", when);
    cr_assert(rf_load(&R, "rules.lua", text, NULL), "rule did not load:\n%s\n%s", rf_problems(&R),
              text);
}

/* Load `decls` then one action 'a' (web, value 10) whose `weight` is the
 * expression text. */
void load_weight(const char *decls, const char *weight)
{
    char text[8192];
    snprintf(text, sizeof text,
             "%s\n"
             "action 'a' { channels = { 'web' }, value = 10, weight = %s }\n",
             decls ? decls : "", weight);
    cr_assert(rf_load(&R, "rules.lua", text, NULL), "rule did not load:\n%s\n%s", rf_problems(&R),
              text);
}

/* Whether action 'a' is chosen for the context (JSON format). */
__attribute__((format(printf, 1, 2)))
bool hit(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = rf_vdecide(&R, fmt, ap);
    va_end(ap);
    cr_assert_eq(rc, 0, "context refused: %s", R.err.message);
    return rf_chosen(&R, "a");
}

/* Priority of 'a' for the context; NAN when not chosen. */
__attribute__((format(printf, 1, 2)))
double prio(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = rf_vdecide(&R, fmt, ap);
    va_end(ap);
    cr_assert_eq(rc, 0, "context refused: %s", R.err.message);
    return rf_priority(&R, "a");
}
