/* Test fixture for the rule language (code in rulefix.c, linked as
 * $b/obj/support/rulefix.o): write a ruleset folder from strings,
 * load it, decide contexts written as JSON, read the decision back.
 *
 *   static rf_t R;                         one per test (Criterion forks)
 *   rf_init(&R);                           makes a temp folder
 *   cr_assert(rf_load(&R, "a.lua", "action 'x' { ... }", NULL), "%s", rf_problems(&R));
 *   rf_decide(&R, "{'channel':'web','purchases':[{'category':'tv','ts':%lld}]}", AGO_DAYS(2));
 *   cr_assert_str_eq(rf_ids(&R), "x");
 *   rf_fini(&R);                           frees everything, removes the folder
 *
 * Contexts are printf formats whose single quotes become double quotes, so
 * JSON reads without escapes. Missing customer_id, channel, touchpoint and
 * now are filled in with "cust-1", "web", "web_home" and RF_NOW.
 *
 * Ownership: the rf_t owns everything it points to. Strings returned by
 * rf_ids, rf_problems, rf_reason and rf_json are its scratch, valid until
 * the next call of the same function or rf_fini; the decision and its
 * msgpack views are valid until the next decide, load or rf_fini.
 */
#ifndef TESTS_RULEFIX_H
#define TESTS_RULEFIX_H

#include <criterion/criterion.h>

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/wire/json.h"
#include "engine/base/arena.h"
#include "engine/request/context.h"
#include "engine/wire/answer.h"
#include "engine/decide/decide.h"
#include "engine/ruleset/ruleset.h"
#include "engine/decide/ruletest.h"
#include "engine/base/stats.h"

/* 2026-01-01T00:00:00Z, a Thursday: the clock of every context by default
 * (the same instant as NOW in rule test files). */
#define RF_NOW 1767225600LL
#define RF_DAY 86400LL
#define AGO_DAYS(n) ((long long)(RF_NOW - (long long)((n) * RF_DAY)))

typedef struct rf {
    char dir[64];                /* the temp ruleset folder */
    uint64_t seq;                /* next load's sequence number */
    arb_ruleset_t *rs;           /* the loaded ruleset, or NULL */
    arb_problems_t problems;     /* of the last load */
    arb_decider_t *d;
    arb_stats_t stats;           /* summed over every decision of the fixture */
    arb_arena_t arena;
    const arb_decision_t *decision; /* the last decision (the decider's view), or NULL */
    msgpack_unpacked out;        /* the last decision as answer.c packs it */
    msgpack_sbuffer outbuf;      /* its bytes: unpacked strings point into them */
    const msgpack_object *dec;   /* its map (for tests of the answer's shape), or NULL
                                    after a refused context */
    arb_err_t err;               /* why the last context was refused */
    int rc;                      /* arb_decide's return */
    const arb_customer_t *customer; /* the stored customer decisions read (the test's), or NULL */
    char *ids;                   /* scratch for rf_ids */
    char *ptext;                 /* scratch for rf_problems */
    char *jtext;                 /* scratch for rf_json */
    char reason[512];            /* scratch for rf_reason */
} rf_t;

/* The fixture of a test file's suite: Criterion runs each test in its own
 * process, so one global serves every test; rf_setup and rf_teardown are
 * the suite's .init and .fini (rf_init(&R), rf_fini(&R)). */
extern rf_t R;
void rf_setup(void);
void rf_teardown(void);

/* ---- folders */

void rf_write(rf_t *r, const char *name, const char *text);

void rf_unlink(rf_t *r, const char *name);

/* Make the temp folder and the decider; rf_fini frees all and removes it. */
void rf_init(rf_t *r);

/* Free the loaded ruleset and the last load's problems. */
void rf_unload(rf_t *r);

void rf_fini(rf_t *r);

/* ---- loading */

/* Load the folder as it is now (freeing the previous ruleset). Returns
 * whether it loaded; problems are in r->problems either way. */
bool rf_reload(rf_t *r);

/* Write (name, text) pairs, NULL-terminated, then load the folder. */
bool rf_load(rf_t *r, ...);

/* Every problem of the last load, one per line (for messages). */
const char *rf_problems(rf_t *r);

/* The first problem containing every one of the NULL-terminated needles. */
const char *rf_problem_with(rf_t *r, ...);

/* ---- deciding */

/* Turn the format into JSON text: printf, then ' -> ". Caller frees. */
char *rf_vjson(const char *fmt, va_list ap);

/* Decide the context given as JSON (format, single quotes allowed), with
 * defaults filled in. Returns arb_decide's result; the decision is r->dec. */
int rf_vdecide(rf_t *r, const char *fmt, va_list ap);

/* Decide; the context must be accepted. */
__attribute__((format(printf, 2, 3)))
const msgpack_object *rf_decide(rf_t *r, const char *fmt, ...);

/* Decide; returns arb_decide's result (the context may be refused). */
__attribute__((format(printf, 2, 3)))
int rf_try_decide(rf_t *r, const char *fmt, ...);

/* ---- reading the decision */

const msgpack_object *rf_get(const msgpack_object *map, const char *key);

bool rf_str_is(const msgpack_object *o, const char *s);

double rf_num(const msgpack_object *o);

/* The chosen actions array of the last decision. */
const msgpack_object *rf_actions(rf_t *r);

/* The last decision, which must have been made. */
const arb_decision_t *rf_decision(rf_t *r);

uint32_t rf_count(rf_t *r);

/* The chosen ids, in order, joined by ","; "" when none. */
const char *rf_ids(rf_t *r);

/* The chosen action with this id, or NULL. */
const arb_decided_action_t *rf_chosen_action(rf_t *r, const char *id);

/* The chosen action map with this id, or NULL. */
const msgpack_object *rf_action(rf_t *r, const char *id);

bool rf_chosen(rf_t *r, const char *id);

/* Priority of chosen action id; NAN when it was not chosen. */
double rf_priority(rf_t *r, const char *id);

/* The explain entry of id, or NULL. */
const msgpack_object *rf_explained(rf_t *r, const char *id);

/* The explain reason of id (a copy), or "(none)" when absent. */
const char *rf_reason(rf_t *r, const char *id);

bool rf_starts(const char *s, const char *prefix);

/* o as compact JSON (scratch, valid until the next rf_ call using it). */
const char *rf_json(rf_t *r, const msgpack_object *o);

/* The decision as JSON, for failure messages. */
const char *rf_dump(rf_t *r);

#endif
