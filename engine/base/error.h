/* Errors as values. A failing function fills an arb_err_t at the failure
 * site and returns -1; the RPC edge (rpc.c) turns it into the wire's
 * {code, message} map once. Messages name what the user must change. */
#ifndef ARB_ERROR_H
#define ARB_ERROR_H

#include <stdarg.h>
#include <stdio.h>

/* The wire's error codes (DESIGN.md section 3), in a fixed order that
 * stats uses as an index. */
typedef enum arb_code {
    ARB_INVALID_REQUEST,
    ARB_METHOD_NOT_FOUND,
    ARB_INVALID_PARAMS,
    ARB_OVERLOADED,
    ARB_DEADLINE_EXCEEDED,
    ARB_FORBIDDEN,
    ARB_INTERNAL,
    ARB_TOO_LARGE,        /* the answer would pass the answer limit */
    ARB_UNAVAILABLE,      /* the shared store cannot be reached and the policy says fail */
    ARB_CODE_COUNT
} arb_code_t;

typedef struct arb_err {
    arb_code_t code;     /* which wire code this error travels as */
    char message[1024];  /* what went wrong, naming the offending field */
} arb_err_t;

/* The wire name of a code: "invalid_params", ... */
static inline const char *arb_code_name(arb_code_t code)
{
    static const char *const names[ARB_CODE_COUNT] = {
        "invalid_request", "method_not_found", "invalid_params", "overloaded",
        "deadline_exceeded", "forbidden", "internal", "too_large", "unavailable",
    };
    return (unsigned)code < ARB_CODE_COUNT ? names[code] : "internal";
}

/* Fill e (when not NULL) and return -1, so call sites read
 * `return arb_err_set(err, ARB_INVALID_PARAMS, "channel: expected a string");` */
__attribute__((format(printf, 3, 4)))
static inline int arb_err_set(arb_err_t *e, arb_code_t code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        e->code = code;
        vsnprintf(e->message, sizeof e->message, fmt, ap);
        va_end(ap);
    }
    return -1;
}

#endif
