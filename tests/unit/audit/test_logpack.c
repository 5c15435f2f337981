/* Unit tests for the decision log's record format (engine/audit/logpack.c):
 * numbers keep 15 significant digits and read back as the value written
 * (exactly, for a number that had at most 15 digits), strings from clients
 * are escaped so that every line parses and says what was sent (bytes that
 * are not UTF-8 as U+FFFD), and a record read back carries its fields.
 */
#include <criterion/criterion.h>

#include <jansson.h>
#include <math.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/audit/logpack.h"

static uint64_t g_seed = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    g_seed ^= g_seed << 13;
    g_seed ^= g_seed >> 7;
    g_seed ^= g_seed << 17;
    return g_seed;
}

static const char *num(double x)
{
    static char s[32];
    size_t n = arb_logpack_number(x, s);
    cr_assert_eq(n, strlen(s));
    return s;
}

Test(logpack, numbers_in_their_plain_form)
{
    cr_assert_str_eq(num(0), "0");
    cr_assert_str_eq(num(-0.0), "0");
    cr_assert_str_eq(num(1), "1");
    cr_assert_str_eq(num(-2.5), "-2.5");
    cr_assert_str_eq(num(10), "10");
    cr_assert_str_eq(num(1000000), "1000000");
    cr_assert_str_eq(num(353.91000000000003), "353.91");
    cr_assert_str_eq(num(0.1), "0.1");
    cr_assert_str_eq(num(0.30000000000000004), "0.3");
    cr_assert_str_eq(num(0.39446521185868488), "0.394465211858685");
    cr_assert_str_eq(num(9.9999999999999995), "10");
    cr_assert_str_eq(num(0.000123), "0.000123");
    cr_assert_str_eq(num(1e-7), "0.0000001");
    cr_assert_str_eq(num(123456789012345678.0), "123456789012346000");
    cr_assert_str_eq(num(1e20), "100000000000000000000");
    /* outside [1e-7, 1e21): an exponent, still a JSON number */
    cr_assert_str_eq(num(1e21), "1e+21");
    cr_assert_str_eq(num(-1.5e-9), "-1.5e-09");
    cr_assert_str_eq(num(NAN), "null");
    cr_assert_str_eq(num(INFINITY), "null");
    cr_assert_str_eq(num(-INFINITY), "null");
}

Test(logpack, a_number_with_at_most_15_digits_reads_back_the_same)
{
    for (int i = 0; i < 200000; i++) {
        /* d digits of mantissa, a point anywhere from 1e-7 to 1e20 */
        int digits = 1 + (int)(rnd() % 15);
        uint64_t m = rnd() % 1000000000000000ULL;
        for (int k = digits; k < 15; k++) m /= 10;
        if (!m) m = 1;
        int e = (int)(rnd() % 28) - 7 - digits + 1;
        char text[64];
        snprintf(text, sizeof text, "%s%llue%d", rnd() & 1 ? "-" : "", (unsigned long long)m, e);
        double x = strtod(text, NULL);
        if (fabs(x) < 1e-7 || fabs(x) >= 1e21) continue;
        const char *s = num(x);
        cr_assert_eq(strtod(s, NULL), x, "%s rendered as %s", text, s);
        /* the same digits as printf's %.15g, trailing zeros aside */
        char ref[32];
        snprintf(ref, sizeof ref, "%.15g", x);
        cr_assert_eq(strtod(ref, NULL), strtod(s, NULL), "%s: %s against printf %s", text, s, ref);
    }
}

Test(logpack, any_double_keeps_15_significant_digits)
{
    for (int i = 0; i < 200000; i++) {
        uint64_t bits = rnd();
        double x;
        memcpy(&x, &bits, sizeof x);
        if (!isfinite(x)) continue;
        /* within the plain range, most often */
        if (i % 2) x = ldexp((double)(rnd() >> 11) / 9007199254740992.0, (int)(rnd() % 90) - 24);
        const char *s = num(x);
        char *end;
        double back = strtod(s, &end);
        cr_assert_eq(*end, '\0', "%s", s);
        cr_assert(back == x || fabs(back - x) <= fabs(x) * 6e-15, "%.17g rendered as %s", x, s);
    }
}

/* A feedback whose strings came from a client, read back with jansson. */
static json_t *render_feedback(const char *outcome, const char *channel)
{
    arb_feedback_t fb = { "c", "promo", outcome, "id-1", channel, 2.5, 1700000000 };
    arb_logpack_t *r = arb_logpack_feedback(&fb, "0123456789abcdef0123456789abcdef");
    cr_assert(r);
    arb_jbuf_t b = { 0 };
    cr_assert_eq(arb_logpack_render(r, &b), 0);
    free(r);
    cr_assert(b.len > 0 && b.p[b.len - 1] == '\n');
    cr_assert_null(memchr(b.p, '\n', b.len - 1), "a record is one line");
    json_error_t e;
    json_t *o = json_loadb(b.p, b.len, 0, &e);
    cr_assert(o, "%.*s: %s", (int)b.len, b.p, e.text);
    free(b.p);
    return o;
}

Test(logpack, strings_are_escaped_and_read_back_as_sent)
{
    const char *nasty = "q\"b\\n\nr\rt\t\x01\x1f\x7f caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9b\x92 end";
    json_t *o = render_feedback(nasty, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(o, "outcome")), nasty);
    cr_assert(json_is_null(json_object_get(o, "channel")));
    cr_assert_float_eq(json_number_value(json_object_get(o, "value")), 2.5, 0);
    json_decref(o);
}

Test(logpack, bytes_that_are_not_utf8_become_replacement_characters)
{
    /* a lone continuation byte, a cut sequence, an overlong '/', a surrogate */
    json_t *o = render_feedback("a\x80" "b\xe2\x82" "c\xc0\xaf" "d\xed\xa0\x80", "web");
    const char *s = json_string_value(json_object_get(o, "outcome"));
    cr_assert(s);
    cr_assert_eq(strncmp(s, "a\xef\xbf\xbd" "b", 5), 0, "%s", s);
    cr_assert_not_null(strstr(s, "c\xef\xbf\xbd"), "%s", s);
    cr_assert_not_null(strstr(s, "d\xef\xbf\xbd"), "%s", s);
    cr_assert_str_eq(json_string_value(json_object_get(o, "channel")), "web");
    json_decref(o);
}

Test(logpack, a_decision_carries_its_context_whole_when_asked)
{
    arb_decided_action_t acts[1] = { { .id = "promo", .priority = 1.25, .propensity = 0.5,
                                       .value = 2.5 } };
    arb_decision_t d = { .decision_id = "00000000000000aa-1", .decision_id_len = 18,
                         .ruleset = "3-abc", .actions = acts, .n_actions = 1,
                         .channel = "web", .now = 1700000000, .touchpoint = "home" };
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "customer_id", 11);
    msgpack_pack_str_with_body(&pk, "cust-42", 7);
    msgpack_pack_str_with_body(&pk, "channel", 7);
    msgpack_pack_str_with_body(&pk, "web", 3);
    const char *who = "0123456789abcdef0123456789abcdef";
    for (int whole = 0; whole < 2; whole++) {
        arb_logpack_t *r = arb_logpack_decision(&d, who, sb.data, sb.size, whole);
        arb_jbuf_t b = { 0 };
        cr_assert_eq(arb_logpack_render(r, &b), 0);
        free(r);
        json_t *o = json_loadb(b.p, b.len, 0, NULL);
        cr_assert(o, "%.*s", (int)b.len, b.p);
        cr_assert_null(strstr(b.p, "cust-42"), "the customer id never reaches the log");
        cr_assert_str_eq(json_string_value(json_object_get(o, "group")), "treatment");
        cr_assert(json_is_null(json_object_get(o, "arm")));
        json_t *a = json_array_get(json_object_get(o, "actions"), 0);
        cr_assert_float_eq(json_number_value(json_object_get(a, "priority")), 1.25, 0);
        cr_assert_eq(strlen(json_string_value(json_object_get(o, "context"))), 32);
        json_t *ctx = json_object_get(o, "ctx");
        if (whole) {
            cr_assert_str_eq(json_string_value(json_object_get(ctx, "customer_id")), who);
            cr_assert_str_eq(json_string_value(json_object_get(ctx, "channel")), "web");
        } else {
            cr_assert_null(ctx);
        }
        json_decref(o);
        free(b.p);
    }
    msgpack_sbuffer_destroy(&sb);
}
