/* Shared helpers for the libFuzzer targets in tests/fuzz: checks that abort
 * with a message (so libFuzzer keeps the input as a crash), UTF-8
 * validation, scratch folders, and finding the repository's rules/retail.
 *
 * Everything is static inline: each target is one translation unit.
 */
#ifndef ARB_FUZZ_UTIL_H
#define ARB_FUZZ_UTIL_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>

#include "engine/base/problems.h"

/* A property the target checks: when it does not hold, print why and abort,
 * which libFuzzer reports as a crash and saves the input for. */
#define FUZZ_CHECK(cond, ...)                                                         \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "\nFUZZ_CHECK failed at %s:%d: %s\n  ", __FILE__, __LINE__, \
                    #cond);                                                           \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
            abort();                                                                  \
        }                                                                             \
    } while (0)

/* A setup step that must work, or the target cannot run at all. */
#define FUZZ_REQUIRE(cond, ...)                                                       \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "fuzz target setup failed: ");                           \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
            exit(2);                                                                  \
        }                                                                             \
    } while (0)

/* Whether s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, at most
 * U+10FFFF). Written independently of rpc.c's checker on purpose. */
static inline bool fuzz_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned cp;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; }
        else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; }
        else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; }
        else return false;
        if (i + len > n) return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000))
            return false;
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += len;
    }
    return true;
}

/* Whether problem i of list is the cap's summary (problems.c): past
 * ARB_PROBLEMS_MAX, the last line counts the rest and names no file. It
 * must count exactly what was left out. */
static inline bool fuzz_problem_is_cap_summary(const arb_problems_t *list, size_t i)
{
    if (i != ARB_PROBLEMS_MAX || i != list->n - 1 || strncmp(list->items[i], "... and ", 8) != 0) return false;
    size_t more = list->total - ARB_PROBLEMS_MAX;
    char want[80];
    snprintf(want, sizeof want, "... and %zu more problem%s", more, more == 1 ? "" : "s");
    FUZZ_CHECK(strcmp(list->items[i], want) == 0, "cap summary '%s' for %zu problems", list->items[i],
               list->total);
    return true;
}

/* Unpack an RPC error answer [1, msgid, {code, message}, nil] packed into
 * buf and check that it is one well-formed frame whose message is valid
 * UTF-8 (msgpack str must be). */
static inline void fuzz_check_error_answer(const char *buf, size_t len, uint32_t msgid)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc = msgpack_unpack_next(&u, buf, len, &off);
    FUZZ_CHECK(rc == MSGPACK_UNPACK_SUCCESS && off == len, "error answer does not unpack (rc %d)", rc);
    const msgpack_object *o = &u.data;
    FUZZ_CHECK(o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == 4, "error answer shape");
    const msgpack_object *a = o->via.array.ptr;
    FUZZ_CHECK(a[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER && a[1].via.u64 == msgid,
               "error answer msgid");
    FUZZ_CHECK(a[2].type == MSGPACK_OBJECT_MAP && a[2].via.map.size == 2, "error map shape");
    for (uint32_t i = 0; i < 2; i++) {
        const msgpack_object *v = &a[2].via.map.ptr[i].val;
        FUZZ_CHECK(v->type == MSGPACK_OBJECT_STR, "error map value is not a string");
        FUZZ_CHECK(fuzz_utf8_valid(v->via.str.ptr, v->via.str.size),
                   "error answer string is not valid UTF-8: %.*s", (int)v->via.str.size,
                   v->via.str.ptr);
    }
    msgpack_unpacked_destroy(&u);
}

/* ---- files and folders */

static inline char *fuzz_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return NULL; }
    long n = ftell(f);
    rewind(f);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    if (len) *len = (size_t)n;
    return buf;
}

static inline void fuzz_write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    FUZZ_REQUIRE(f, "cannot write %s", path);
    FUZZ_REQUIRE(fwrite(data, 1, len, f) == len, "short write to %s", path);
    fclose(f);
}

static inline void fuzz_unlink(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

/* Remove every file of the (flat) folder dir, then dir. */
static inline void fuzz_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* The repository's rules/retail folder: $ARB_FUZZ_RULES, else rules/retail
 * under the current directory, else relative to the binary
 * (build/fuzz/fuzz_x -> ../../rules/retail). Writes it to out. */
static inline void fuzz_find_retail(char *out, size_t n)
{
    const char *env = getenv("ARB_FUZZ_RULES");
    struct stat st;
    char probe[600];
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return;
    }
    if (stat("rules/retail/base.lua", &st) == 0) {
        snprintf(out, n, "rules/retail");
        return;
    }
    char exe[400];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        snprintf(probe, sizeof probe, "%s/../../rules/retail/base.lua", exe);
        if (stat(probe, &st) == 0) {
            snprintf(out, n, "%s/../../rules/retail", exe);
            return;
        }
    }
    FUZZ_REQUIRE(false, "cannot find rules/retail: run from the repository root or set ARB_FUZZ_RULES");
}

#endif
