/* JSON <-> MessagePack conversion for the command line, built on jansson.
 *
 * JSON -> msgpack parses with jansson and walks the tree into a packer.
 * msgpack -> JSON builds a jansson tree and lets jansson do the escaping and
 * indentation; the only extra work is making invalid UTF-8 acceptable to
 * jansson and keeping reals short.
 */
#include "engine/wire/json.h"

#include "engine/base/utf8.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON -> msgpack ------------------------------------------------- */

static int arb_pack_json(msgpack_packer *pk, const json_t *v);

static int arb_pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    return msgpack_pack_str(pk, len) | msgpack_pack_str_body(pk, s, len);
}

static int arb_pack_object(msgpack_packer *pk, const json_t *v)
{
    const char *key;
    size_t key_len;
    json_t *val;
    int rc = msgpack_pack_map(pk, json_object_size(v));
    /* json_object_keylen_foreach wants a non-const object but does not modify it. */
    json_t *obj = (json_t *)v;
    json_object_keylen_foreach(obj, key, key_len, val) {
        rc |= arb_pack_str(pk, key, key_len);
        rc |= arb_pack_json(pk, val);
    }
    return rc;
}

static int arb_pack_array(msgpack_packer *pk, const json_t *v)
{
    size_t n = json_array_size(v);
    int rc = msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++)
        rc |= arb_pack_json(pk, json_array_get(v, i));
    return rc;
}

/* Returns 0, or nonzero when the packer's writer failed (out of memory). */
static int arb_pack_json(msgpack_packer *pk, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return arb_pack_object(pk, v);
    case JSON_ARRAY: return arb_pack_array(pk, v);
    case JSON_STRING: return arb_pack_str(pk, json_string_value(v), json_string_length(v));
    case JSON_INTEGER: return msgpack_pack_int64(pk, (int64_t)json_integer_value(v));
    case JSON_REAL: return msgpack_pack_double(pk, json_real_value(v));
    case JSON_TRUE: return msgpack_pack_true(pk);
    case JSON_FALSE: return msgpack_pack_false(pk);
    case JSON_NULL: return msgpack_pack_nil(pk);
    }
    return -1;
}

int arb_json_to_msgpack(const char *text, msgpack_sbuffer *out, char *err, size_t errlen)
{
    json_error_t je;
    /* Duplicate keys are rejected because a context with two values for one
     * field is almost certainly a mistake, and which one wins is arbitrary. */
    json_t *root = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (root == NULL) {
        if (err != NULL && errlen > 0) {
            if (je.line > 0)
                snprintf(err, errlen, "line %d column %d: %s", je.line, je.column, je.text);
            else
                snprintf(err, errlen, "%s", je.text);
        }
        return -1;
    }
    size_t start = out->size;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    int rc = arb_pack_json(&pk, root);
    json_decref(root);
    if (rc != 0) {
        out->size = start; /* do not leave half a value behind */
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* ---- msgpack -> JSON ------------------------------------------------- */

/* Walk state: the largest %g precision any real in the tree needs. jansson
 * applies one precision to a whole dump, and its default of 17 prints 0.1 as
 * 0.10000000000000001, so we use the smallest precision that round-trips. */
typedef struct arb_render {
    int precision;
} arb_render_t;

/* Copy s with each invalid byte replaced by U+FFFD. Caller frees. */
static char *arb_utf8_fix(const char *s, size_t n, size_t *out_len)
{
    char *out = malloc(n * 3 + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = arb_utf8_seq((const unsigned char *)s + i, n - i);
        if (k == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i += 1;
        } else {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        }
    }
    *out_len = o;
    return out;
}

/* Bytes as a jansson string, repairing invalid UTF-8 so jansson accepts it. */
static json_t *arb_json_bytes(const char *s, size_t n)
{
    if (arb_utf8_valid(s, n))
        return json_stringn_nocheck(s, n);
    size_t len;
    char *fixed = arb_utf8_fix(s, n, &len);
    if (fixed == NULL)
        return NULL;
    json_t *j = json_stringn_nocheck(fixed, len);
    free(fixed);
    return j;
}

/* Smallest %g precision that reads back as exactly d. */
static int arb_double_precision(double d)
{
    char buf[40];
    for (int p = 1; p < 17; p++) {
        snprintf(buf, sizeof(buf), "%.*g", p, d);
        if (strtod(buf, NULL) == d)
            return p;
    }
    return 17;
}

/* A float32 widened to double shows float noise (0.1f is 0.100000001...);
 * use the shortest decimal that reads back as the same float instead. */
static double arb_float32_value(float f)
{
    char buf[40];
    for (int p = 1; p < 9; p++) {
        snprintf(buf, sizeof(buf), "%.*g", p, (double)f);
        if (strtof(buf, NULL) == f)
            return strtod(buf, NULL);
    }
    return (double)f;
}

static json_t *arb_json_real(const msgpack_object *o, arb_render_t *r)
{
    double d = o->type == MSGPACK_OBJECT_FLOAT32 ? arb_float32_value((float)o->via.f64) : o->via.f64;
    if (d != d || d - d != 0) /* NaN or infinity: JSON has no spelling for them */
        return json_null();
    int p = arb_double_precision(d);
    if (p > r->precision)
        r->precision = p;
    return json_real(d);
}

static json_t *arb_json_uint(uint64_t u, arb_render_t *r)
{
    if (u <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)u);
    /* jansson integers are signed 64-bit; the nearest real is the least bad. */
    msgpack_object o = {.type = MSGPACK_OBJECT_FLOAT64, .via.f64 = (double)u};
    return arb_json_real(&o, r);
}

static json_t *arb_build(const msgpack_object *o, arb_render_t *r);

/* Object key text: strings as themselves, anything else as its compact JSON
 * text. Caller frees. */
static char *arb_key_text(const msgpack_object *k, size_t *len)
{
    arb_render_t kr = {.precision = 1};
    json_t *j = arb_build(k, &kr);
    if (j == NULL)
        return NULL;
    char *s = NULL;
    if (json_is_string(j)) {
        *len = json_string_length(j);
        s = malloc(*len + 1);
        if (s != NULL)
            memcpy(s, json_string_value(j), *len + 1);
    } else {
        s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(kr.precision));
        if (s != NULL)
            *len = strlen(s);
    }
    json_decref(j);
    return s;
}

static json_t *arb_build_map(const msgpack_object_map *m, arb_render_t *r)
{
    json_t *obj = json_object();
    for (uint32_t i = 0; obj != NULL && i < m->size; i++) {
        size_t klen = 0;
        char *key = arb_key_text(&m->ptr[i].key, &klen);
        json_t *val = key ? arb_build(&m->ptr[i].val, r) : NULL;
        /* setn_new takes val's reference even when it fails. */
        if (val == NULL || json_object_setn_new_nocheck(obj, key, klen, val) != 0) {
            json_decref(obj);
            obj = NULL;
        }
        free(key);
    }
    return obj;
}

static json_t *arb_build_array(const msgpack_object_array *a, arb_render_t *r)
{
    json_t *arr = json_array();
    for (uint32_t i = 0; arr != NULL && i < a->size; i++) {
        json_t *v = arb_build(&a->ptr[i], r);
        if (v == NULL || json_array_append_new(arr, v) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

/* Build the jansson tree for o. NULL means out of memory. */
static json_t *arb_build(const msgpack_object *o, arb_render_t *r)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return json_null();
    case MSGPACK_OBJECT_BOOLEAN: return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return arb_json_uint(o->via.u64, r);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return arb_json_real(o, r);
    case MSGPACK_OBJECT_STR: return arb_json_bytes(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN: return arb_json_bytes(o->via.bin.ptr, o->via.bin.size);
    case MSGPACK_OBJECT_ARRAY: return arb_build_array(&o->via.array, r);
    case MSGPACK_OBJECT_MAP: return arb_build_map(&o->via.map, r);
    case MSGPACK_OBJECT_EXT: return json_null();
    }
    return json_null();
}

char *arb_msgpack_to_json(const msgpack_object *o, int pretty)
{
    arb_render_t r = {.precision = 1};
    json_t *root = arb_build(o, &r);
    if (root == NULL)
        return NULL;
    size_t flags = JSON_ENCODE_ANY | JSON_REAL_PRECISION(r.precision);
    flags |= pretty ? JSON_INDENT(2) : JSON_COMPACT;
    char *s = json_dumps(root, flags);
    json_decref(root);
    return s;
}
