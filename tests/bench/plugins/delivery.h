/*
 * delivery.h - what tests/bench/plugins/delivery.c (the consumer provider of
 * the "delivery" benchmark) shares with tests/bench/bench_daemon_delivery.c,
 * which loads it in its own process through the daemon's plugin loader and
 * finds this block with dlopen(RTLD_NOLOAD) + dlsym("bench_delivery_shared").
 *
 * One slot per logical consumer (its "Slot" property).  Times are
 * CLOCK_MONOTONIC nanoseconds.
 */
#ifndef BENCH_DELIVERY_H
#define BENCH_DELIVERY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define BDEL_SLOTS 16

struct bdel_slot {
    _Atomic uint64_t events;      /* events handed to indicate_to_consumer */
    _Atomic uint64_t calls;       /* indicate_to_consumer calls */
    _Atomic uint64_t max_n;       /* the largest n */
    /* Mode "stamp" and "record": the return time of the call that carried
     * the k-th event this consumer received is stored in done_ns[k] (for
     * k < cap).  Set by the benchmark before it sends. */
    uint64_t *done_ns;
    size_t cap;
    /* Mode "sleep": when the last call started and ended. */
    _Atomic uint64_t call_start_ns;
    _Atomic uint64_t call_end_ns;
};

struct bdel_shared {
    struct bdel_slot slot[BDEL_SLOTS];
};

/* Exported by delivery.so. */
struct bdel_shared *bench_delivery_shared(void);

#endif
