/* A decision's entries (control.h, "the decision's entries"): its id, its
 * customer id kept NUL-terminated, and
 * each chosen action's entry. Kept apart from decide.c, which holds the
 * pipeline; keeps decide/'s rule (values only, nothing packed for the
 * wire here: the entry points at bytes packed at load).
 */
#include "engine/decide/control.h"

#include <stdlib.h>
#include <string.h>

size_t arb__decision_id(const char *prefix, uint64_t n, char *id)
{
    static const char hex[] = "0123456789abcdef";
    memcpy(id, prefix, 16);
    id[16] = '-';
    char digits[16];
    int k = 0;
    do {
        digits[k++] = hex[n & 15];
        n >>= 4;
    } while (n);
    for (int i = 0; i < k; i++) id[17 + i] = digits[k - 1 - i];
    return (size_t)(17 + k);
}

/* The payload's bytes inside an action's answer tail, where compile_decl.c
 * recorded them when it packed the tail at load. */
static void payload_of(const arb_action_t *a, const char **p, size_t *n)
{
    if (a->answer_tail_len > a->payload_at) {
        *p = a->answer_tail + a->payload_at;
        *n = a->answer_tail_len - a->payload_at;
    } else {
        *p = NULL;
        *n = 0;
    }
}

void arb__take_action(arb_decided_action_t *out, const arb_action_t *a, double priority,
                      double propensity)
{
    out->id = a->id;
    out->priority = priority;
    out->propensity = propensity;
    out->value = a->value;
    payload_of(a, &out->payload, &out->payload_len);
    out->head = a->answer_head;
    out->head_len = a->answer_head_len;
    out->tail = a->answer_tail;
    out->tail_len = a->answer_tail_len;
    out->products = NULL;
    out->n_products = 0;
    out->payload_rendered = false;
}

const char *arb__keep_str(char **buf, size_t *cap, arb_str_t s)
{
    if (s.len + 1 > *cap) {
        size_t n = s.len + 1 < 64 ? 64 : (size_t)s.len + 1;
        char *p = realloc(*buf, n);
        if (!p) return NULL;
        *buf = p;
        *cap = n;
    }
    memcpy(*buf, s.ptr, s.len);
    (*buf)[s.len] = '\0';
    return *buf;
}
