/* Compiling the words on purchases and events by any field, their order in
 * time and the single-category shopper (compile_hist.c), for
 * compile_cond.c alone. The loader's rule holds: no wire, no server, and a
 * mistake is a problem of the load, never an abort.
 */
#ifndef ARB_COMPILE_HIST_H
#define ARB_COMPILE_HIST_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/ruleset/ruleset_int.h"

/* When the condition table at idx, whose op reads `op`, is one of these
 * words (bought/viewed/purchases/spent with named fields, before,
 * since_last_purchase, first_purchase, last_purchase, only_bought,
 * one_category): fill n (kind, event type, comparison; its window is
 * already set) and return true. compile_cond.c then compiles the table's
 * items as n's kids and gives the node to arb__compile_hist_done. False
 * for any other condition. */
bool arb__compile_hist(compiler_t *cc, int idx, const char *op, arb_node_t *n);

/* Check the kids of the node at index node (-1 passes through): field
 * filters hold fields, before and since_last_purchase purchases or
 * events. Returns node, or -1 with a problem. */
int32_t arb__compile_hist_done(compiler_t *cc, int32_t node);

/* The comparison table at idx into *out (compile_cond.c's compile_cmp). */
void arb__compile_cmp(compiler_t *cc, int idx, arb_cmp_t *out);

#endif
