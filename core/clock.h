/* clock: monotonic seconds, for rates, timeouts and heartbeats. */
#ifndef TESSERA_CLOCK_H
#define TESSERA_CLOCK_H

#include <time.h>

static inline double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
