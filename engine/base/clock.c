/* The coarse monotonic clock (see clock.h): which clock id it reads is
 * chosen once per process. Base layer: includes nothing of ours.
 */
#include "engine/base/clock.h"

#include <pthread.h>

static pthread_once_t coarse_once = PTHREAD_ONCE_INIT;
static clockid_t coarse_id = CLOCK_MONOTONIC;

static void coarse_choose(void)
{
    struct timespec res;
    if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0 && res.tv_sec == 0 &&
        res.tv_nsec <= 1000000)
        coarse_id = CLOCK_MONOTONIC_COARSE;
}

uint64_t arb_clock_coarse_ns(void)
{
    pthread_once(&coarse_once, coarse_choose);
    return arb__clock_ns(coarse_id);
}
