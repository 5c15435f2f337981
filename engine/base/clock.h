/* The one clock of the engine (ARCHITECTURE.md rule 5): monotonic time for
 * deadlines and budgets, a coarse monotonic time for checks that run before
 * every decision, wall time for what a person reads, and the calling
 * thread's CPU time for budgets of work that may wait for a core. Every
 * clock_gettime and time() of engine/ and bindings/ goes through here, so
 * which clock a number comes from is decided in one place. Base layer:
 * includes nothing of ours.
 */
#ifndef ARB_CLOCK_H
#define ARB_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t arb__clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC in nanoseconds: deadlines and time budgets. */
static inline uint64_t arb_clock_mono_ns(void) { return arb__clock_ns(CLOCK_MONOTONIC); }

/* Monotonic nanoseconds from CLOCK_MONOTONIC_COARSE (a memory read) when it
 * ticks at least every millisecond, else CLOCK_MONOTONIC: the rule libuv
 * applies to uv_now, so the two agree to within a millisecond. */
uint64_t arb_clock_coarse_ns(void);

/* The calling thread's CPU time in nanoseconds. */
static inline uint64_t arb_clock_thread_cpu_ns(void)
{
    return arb__clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

/* Wall time: nanoseconds and whole seconds since the Unix epoch. */
static inline int64_t arb_clock_wall_ns(void) { return (int64_t)arb__clock_ns(CLOCK_REALTIME); }
static inline int64_t arb_clock_wall_s(void) { return arb_clock_wall_ns() / 1000000000; }

#endif
