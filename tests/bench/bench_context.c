/* What checking one decide context costs, two ways, over the reference
 * contexts (tests/bench/contexts.msgpack), for callgrind to count:
 *
 *   tree   msgpack-c's streaming unpacker, as a connection feeds it
 *          (engine/server/conn.c: execute, then flush and reset the zone),
 *          then arb_context_parse on the tree           (tree_one)
 *   bytes  arb_context_parse_bytes, whole=false          (bytes_one)
 *   whole  arb_context_parse_bytes, whole=true           (bytes_one)
 *
 * Usage: bench_context MODE [ROUNDS] [CONTEXTS]
 * Instructions per context:
 *   valgrind --tool=callgrind --toggle-collect=tree_one build/bench/bench_context tree 3
 * then the total over ROUNDS x 1000 contexts. Copying the bytes into the
 * unpacker's buffer stands for the socket read and is not counted. Wall
 * time is printed for a quick look only (the machine is shared).
 */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/base/arena.h"
#include "engine/base/error.h"
#include "engine/request/context.h"

#define NOW 1767225600

static __attribute__((noinline)) int tree_one(msgpack_unpacker *unp, arb_arena_t *arena)
{
    if (msgpack_unpacker_execute(unp) <= 0) return -1;
    msgpack_object o = msgpack_unpacker_data(unp);
    arb_context_t ctx;
    arb_err_t err;
    int rc = arb_context_parse(&o, NOW, &ctx, arena, &err);
    arb_arena_reset(arena);
    msgpack_unpacker_flush_zone(unp);
    if (unp->z) msgpack_unpacker_reset_zone(unp);
    msgpack_unpacker_reset(unp);
    return rc;
}

static __attribute__((noinline)) int bytes_one(const char *p, size_t len, bool whole,
                                               arb_arena_t *arena, msgpack_zone *zone)
{
    arb_context_t ctx;
    arb_err_t err;
    int rc = arb_context_parse_bytes(p, len, NOW, whole, &ctx, arena, zone, &err);
    arb_arena_reset(arena);
    msgpack_zone_clear(zone);
    return rc;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "bytes";
    int rounds = argc > 2 ? atoi(argv[2]) : 3;
    const char *path = argc > 3 ? argv[3] : "tests/bench/contexts.msgpack";
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); return 2; }
    static char data[8 << 20];
    size_t len = fread(data, 1, sizeof data, f);
    fclose(f);
    size_t starts[4096], n = 0, off = 0;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    while (off < len && n < 4095) {
        starts[n++] = off;
        if (msgpack_unpack_next(&u, data, len, &off) != MSGPACK_UNPACK_SUCCESS) return 2;
    }
    starts[n] = off;
    msgpack_unpacked_destroy(&u);

    arb_arena_t arena;
    arb_arena_init(&arena);
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    msgpack_unpacker unp;
    if (!msgpack_unpacker_init(&unp, 1 << 16)) return 2;
    bool tree = strcmp(mode, "tree") == 0, whole = strcmp(mode, "whole") == 0;
    if (!tree && !whole && strcmp(mode, "bytes") != 0) {
        fprintf(stderr, "usage: bench_context tree|bytes|whole [ROUNDS] [CONTEXTS]\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int r = 0; r < rounds; r++)
        for (size_t i = 0; i < n; i++) {
            size_t l = starts[i + 1] - starts[i];
            int rc;
            if (tree) {
                if (!msgpack_unpacker_reserve_buffer(&unp, l)) return 2;
                memcpy(msgpack_unpacker_buffer(&unp), data + starts[i], l);
                msgpack_unpacker_buffer_consumed(&unp, l);
                rc = tree_one(&unp, &arena);
            } else {
                rc = bytes_one(data + starts[i], l, whole, &arena, &zone);
            }
            if (rc != 0) {
                fprintf(stderr, "context %zu refused\n", i);
                return 1;
            }
        }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3);
    printf("%s: %zu contexts x %d rounds, %.3f us a context (wall, indicative only)\n", mode, n,
           rounds, us / (double)(n * (size_t)rounds));
    msgpack_unpacker_destroy(&unp);
    msgpack_zone_destroy(&zone);
    arb_arena_free(&arena);
    return 0;
}
