/*
 * delivery.c - the consumer provider of the "delivery" benchmark
 * (tests/bench/bench_daemon_delivery.c): consumers whose cost per call is
 * known, so that what the benchmark times is the delivery engine.
 *
 * Consumer class Bench_DeliveryConsumer (defined by the benchmark's own
 * object dir): Name (key), Slot (uint32, index into the shared block of
 * delivery.h), Mode (string), CallCostUs, EventCostNs, SleepMs (uint32).
 * Modes:
 *   null    count the events, nothing else
 *   stamp   count, and store the time the call returns for every event it
 *           carried (done_ns[k] for the k-th event): latency from
 *           router_indicate to the return of IndicateToConsumer
 *   record  the same (for __ConsumerFailureEvent subscribers)
 *   cost    busy-wait (spin on CLOCK_MONOTONIC) CallCostUs µs per call plus
 *           EventCostNs ns per event: a consumer with a fixed cost per call
 *   sleep   nanosleep SleepMs ms per call (a call past its deadline)
 *
 * max_batch 4096: the batching case needs large batches.
 *
 * Built by tests/bench/run.sh (not part of the product):
 *   cc -shared -fPIC -O2 -Iinclude tests/bench/plugins/delivery.c -L$B/lib -lwmievent
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wmievent/plugin.h>

#include "delivery.h"

static struct bdel_shared shared;

struct bdel_shared *
bench_delivery_shared(void)
{
    return &shared;
}

enum mode { M_NULL, M_STAMP, M_COST, M_SLEEP };

struct bdel_sink {
    struct wmi_unbound_object_sink base; /* first: the host sees this */
    struct bdel_slot *slot;
    enum mode mode;
    uint64_t call_cost_ns, event_cost_ns, sleep_ns;
};

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
account(struct bdel_slot *s, size_t n, uint64_t end)
{
    uint64_t k = atomic_fetch_add_explicit(&s->events, n, memory_order_relaxed);
    if (s->done_ns != NULL)
        for (size_t i = 0; i < n && k + i < s->cap; i++)
            s->done_ns[k + i] = end;
    uint64_t m = atomic_load_explicit(&s->max_n, memory_order_relaxed);
    while (n > m && !atomic_compare_exchange_weak(&s->max_n, &m, n))
        ;
    /* Last, with release: whoever sees calls move sees the rest. */
    atomic_fetch_add_explicit(&s->calls, 1, memory_order_release);
}

static wmi_status
bdel_indicate(struct wmi_unbound_object_sink *self, const wmi_object *logical_consumer, size_t n,
              wmi_object *const *events)
{
    struct bdel_sink *s = (struct bdel_sink *)(void *)self;
    (void)logical_consumer;
    (void)events;
    switch (s->mode) {
    case M_COST: {
        uint64_t until = now_ns() + s->call_cost_ns + s->event_cost_ns * n;
        while (now_ns() < until)
            ;
        break;
    }
    case M_SLEEP: {
        uint64_t t0 = now_ns();
        atomic_store(&s->slot->call_start_ns, t0);
        struct timespec ts = {(time_t)(s->sleep_ns / 1000000000ull), (long)(s->sleep_ns % 1000000000ull)};
        while (nanosleep(&ts, &ts) != 0)
            ;
        atomic_store(&s->slot->call_end_ns, now_ns());
        break;
    }
    default:
        break;
    }
    account(s->slot, n, s->mode == M_STAMP ? now_ns() : 0);
    return WBEM_S_NO_ERROR;
}

static void
bdel_release(struct wmi_unbound_object_sink *self)
{
    free(self);
}

static uint64_t
u64_prop(const wmi_object *o, const char *name)
{
    uint64_t v = 0;
    if (wmi_object_get_uint64(o, name, &v) != WBEM_S_NO_ERROR)
        return 0;
    return v;
}

static wmi_status
bdel_find_consumer(void *provider, const wmi_object *lc, struct wmi_unbound_object_sink **sink)
{
    (void)provider;
    const char *mode = NULL;
    uint64_t slot = u64_prop(lc, "Slot");
    if (slot >= BDEL_SLOTS)
        return WBEM_E_INVALID_PARAMETER;
    struct bdel_sink *s = calloc(1, sizeof *s);
    if (s == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    s->base.indicate_to_consumer = bdel_indicate;
    s->base.release = bdel_release;
    s->slot = &shared.slot[slot];
    if (wmi_object_get_string(lc, "Mode", &mode) != WBEM_S_NO_ERROR || mode == NULL)
        mode = "null";
    if (strcmp(mode, "stamp") == 0 || strcmp(mode, "record") == 0)
        s->mode = M_STAMP;
    else if (strcmp(mode, "cost") == 0)
        s->mode = M_COST;
    else if (strcmp(mode, "sleep") == 0)
        s->mode = M_SLEEP;
    else
        s->mode = M_NULL;
    s->call_cost_ns = u64_prop(lc, "CallCostUs") * 1000u;
    s->event_cost_ns = u64_prop(lc, "EventCostNs");
    s->sleep_ns = u64_prop(lc, "SleepMs") * 1000000u;
    *sink = &s->base;
    return WBEM_S_NO_ERROR;
}

static wmi_status
bdel_initialize(const struct wmi_host *host, const wmi_object *registration, void **provider)
{
    (void)host;
    (void)registration;
    *provider = NULL;
    return WBEM_S_NO_ERROR;
}

static void
bdel_shutdown(void *provider)
{
    (void)provider;
}

static const struct wmi_event_consumer_provider bdel_ops = {
    .max_batch = 4096,
    .deadline_ms = 0, /* the host's: consumer_deadline_ms or __Win32Provider.DeadlineMs */
    .initialize = bdel_initialize,
    .find_consumer = bdel_find_consumer,
    .shutdown = bdel_shutdown,
};

static const struct wmi_plugin bdel_plugin = {
    WMI_PLUGIN_DESCRIPTOR("benchdelivery", "1.0"),
    .consumer_provider = &bdel_ops,
    .event_provider = NULL,
};

const struct wmi_plugin *
wmi_plugin_entry(uint32_t host_abi_major)
{
    if (host_abi_major != WMI_PLUGIN_ABI_MAJOR)
        return NULL;
    return &bdel_plugin;
}
