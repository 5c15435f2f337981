/* Unit tests for reading the decision log back (engine/audit/logread.c):
 * the three record types of the schema, a torn tail skipped, malformed
 * lines counted and described, a LOGDIR's *.jsonl files in name order.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/audit/logread.h"

#define DECISION                                                                              \
    "{\"v\":1,\"type\":\"decision\",\"ts\":1700000000,\"decision_id\":\"d1\",\"customer\":"  \
    "\"0123456789abcdef0123456789abcdef\",\"channel\":\"app\",\"touchpoint\":\"home\","       \
    "\"ruleset\":\"r-1\",\"group\":\"control\",\"experiment\":\"spring\",\"arm\":"            \
    "\"challenger\",\"actions\":[{\"id\":\"fb\",\"priority\":1.5,\"propensity\":0.25,"        \
    "\"value\":2}],\"held\":[{\"id\":\"boots\",\"control\":\"global\"}],\"context\":"         \
    "\"00112233445566778899aabbccddeeff\",\"ctx\":{\"channel\":\"app\",\"n\":[1,2]}}"
#define FEEDBACK                                                                              \
    "{\"v\":1,\"type\":\"feedback\",\"ts\":1700000005,\"customer\":\"p2\",\"decision_id\":"  \
    "null,\"action\":\"boots\",\"outcome\":\"convert\",\"channel\":null,\"value\":12.5}"
#define PURCHASE                                                                              \
    "{\"v\":1,\"type\":\"purchase\",\"ts\":1700000009,\"customer\":\"p3\",\"sku\":\"s1\","   \
    "\"category\":null,\"price\":null,\"channel\":\"web\"}"

static arb_logset_t set;

static void fini(void)
{
    arb_logset_free(&set);
}

TestSuite(logread, .fini = fini);

static void add(const char *text)
{
    cr_assert_eq(arb_logset_add_text(&set, text, strlen(text), "f.jsonl"), 0);
}

Test(logread, reads_the_three_record_types)
{
    add(DECISION "\n" FEEDBACK "\n" PURCHASE "\n");
    cr_assert_eq(set.n, 3);
    cr_assert_eq(set.malformed, 0, "%s", set.first_malformed);
    const arb_logrec_t *d = &set.recs[0], *f = &set.recs[1], *p = &set.recs[2];
    cr_assert_eq(d->type, ARB_LOGREC_DECISION);
    cr_assert_eq(d->ts, 1700000000);
    cr_assert_str_eq(d->customer, "0123456789abcdef0123456789abcdef");
    cr_assert_str_eq(d->decision_id, "d1");
    cr_assert_str_eq(d->channel, "app");
    cr_assert_str_eq(d->touchpoint, "home");
    cr_assert_str_eq(d->ruleset, "r-1");
    cr_assert(d->control);
    cr_assert_str_eq(d->experiment, "spring");
    cr_assert_str_eq(d->arm, "challenger");
    cr_assert_eq(d->n_actions, 1);
    cr_assert_str_eq(d->actions[0].id, "fb");
    cr_assert_float_eq(d->actions[0].priority, 1.5, 1e-12);
    cr_assert_float_eq(d->actions[0].propensity, 0.25, 1e-12);
    cr_assert_float_eq(d->actions[0].value, 2, 1e-12);
    cr_assert_eq(d->n_held, 1);
    cr_assert_str_eq(d->held[0].id, "boots");
    cr_assert_str_eq(d->held[0].control, "global");
    cr_assert_str_eq(d->ctx, "{\"channel\":\"app\",\"n\":[1,2]}");
    cr_assert_eq(f->type, ARB_LOGREC_FEEDBACK);
    cr_assert_null(f->decision_id);
    cr_assert_null(f->channel);
    cr_assert_str_eq(f->action, "boots");
    cr_assert_str_eq(f->outcome, "convert");
    cr_assert(f->has_value);
    cr_assert_float_eq(f->value, 12.5, 1e-12);
    cr_assert_eq(p->type, ARB_LOGREC_PURCHASE);
    cr_assert_str_eq(p->sku, "s1");
    cr_assert_null(p->category);
    cr_assert(!p->has_value, "a null price is no value");
    cr_assert_str_eq(p->channel, "web");
}

Test(logread, a_torn_tail_is_skipped)
{
    char text[4096];
    snprintf(text, sizeof text, "%s\n%s", FEEDBACK, PURCHASE);     /* no final newline */
    add(text);
    cr_assert_eq(set.n, 1);
    cr_assert_eq(set.torn, 1);
    cr_assert_eq(set.malformed, 0);
    /* a whole line cut anywhere is torn, never read as a record */
    snprintf(text, sizeof text, "%.*s", 40, DECISION);
    add(text);
    cr_assert_eq(set.n, 1);
    cr_assert_eq(set.torn, 2);
}

Test(logread, malformed_lines_are_counted_and_the_first_described)
{
    add(FEEDBACK "\n"
        "garbage\n"
        "{\"v\":2,\"type\":\"feedback\",\"ts\":1,\"customer\":\"p\",\"action\":\"a\",\"outcome\":\"o\"}\n"
        "{\"v\":1,\"type\":\"feedback\",\"ts\":\"1\",\"customer\":\"p\",\"action\":\"a\",\"outcome\":\"o\"}\n"
        "{\"v\":1,\"type\":\"feedback\",\"ts\":1,\"action\":\"a\",\"outcome\":\"o\"}\n"
        "{\"v\":1,\"type\":\"decision\",\"ts\":1,\"customer\":\"p\",\"group\":\"maybe\"}\n"
        "{\"v\":1,\"type\":\"decision\",\"ts\":1,\"customer\":\"p\",\"actions\":[{\"priority\":1}]}\n"
        "{\"v\":1,\"type\":\"decision\",\"ts\":1,\"customer\":\"p\",\"actions\":[{\"id\":\"a\",\"value\":\"x\"}]}\n"
        "{\"v\":1,\"type\":\"elsewhat\",\"ts\":1,\"customer\":\"p\"}\n"
        "[1,2]\n"
        "\n"
        PURCHASE "\n");
    cr_assert_eq(set.n, 2, "the good lines around the bad ones are kept");
    cr_assert_eq(set.malformed, 9);
    cr_assert_str_eq(set.first_malformed, "f.jsonl:2: not JSON: '[' or '{' expected near 'garbage'");
}

static char dir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(logread, a_logdir_is_read_in_name_order)
{
    snprintf(dir, sizeof dir, "/tmp/arb_logread_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    write_file("arbiter-20260102T000000-1-2.jsonl", PURCHASE "\n");
    write_file("arbiter-20260101T000000-1-1.jsonl", FEEDBACK "\n" DECISION);   /* torn */
    write_file("notes.txt", "not a log\n");
    arb_err_t err;
    cr_assert_eq(arb_logset_read_dir(&set, dir, &err), 0, "%s", err.message);
    cr_assert_eq(set.files, 2);
    cr_assert_eq(set.n, 2);
    cr_assert_eq(set.torn, 1);
    cr_assert_eq(set.recs[0].type, ARB_LOGREC_FEEDBACK, "the older file first");
    cr_assert_eq(set.recs[1].type, ARB_LOGREC_PURCHASE);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(arb_logset_read_dir(&set, dir, &err), -1);
    cr_assert(strstr(err.message, "cannot read the log folder"), "%s", err.message);
}
