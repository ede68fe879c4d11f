/*
 * clock.c - the daemon's one clock: CLOCK_MONOTONIC, in nanoseconds for
 * the delivery engine's latencies and in milliseconds for timers, backoffs
 * and the provider lifecycle, and its moments shown as DMTF datetimes.
 */
#include <time.h>

#include "daemon/wmieventd.h"

uint64_t
wmid_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t
wmid_now_ms(void)
{
    return wmid_now_ns() / 1000000u;
}

json_t *
wmid_moment_json(uint64_t t)
{
    if (t == 0)
        return json_null();
    /* The moment is a monotonic one: it is shown as the wall-clock time
     * that lies as far back from now. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = wmid_now_ms();
    int64_t usec = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - (int64_t)(now > t ? now - t : 0) * 1000;
    char buf[26];
    return json_string(wmi_datetime_format(usec, 0, buf));
}
