/*
 * delivery.h - per physical consumer queues and delivery threads
 */
#ifndef WMID_ENGINE_DELIVERY_H
#define WMID_ENGINE_DELIVERY_H

#include "daemon/wmieventd.h"
#include "daemon/config/security.h"
#include "daemon/plugins/loader.h"

struct wmid_consumer;   /* a logical consumer */
struct wmid_sink;       /* a physical consumer and its delivery thread */

/* Latency buckets: bucket i counts deliveries that took less than 2^i µs
 * from enqueue to the return of IndicateToConsumer; the last, the rest. */
#define WMID_LATENCY_BUCKETS 26

/* Counters of one logical consumer (all atomic; read by Stats). */
struct wmid_consumer_stats {
    atomic_ullong delivered;
    atomic_ullong failed;
    atomic_ullong calls;          /* IndicateToConsumer calls */
    atomic_ullong max_batch;      /* the largest n so far */
    atomic_ullong sync_calls;     /* of which synchronous (on the indicating thread) */
    atomic_ullong deadline_misses;
    atomic_ullong dropped_queue_full;
    atomic_ullong dropped_no_sink;
    atomic_ullong dropped_shutdown;
    atomic_ullong dropped_expired; /* queued longer than max_wait_on_events */
    atomic_ullong queued_bytes;
    atomic_ullong latency[WMID_LATENCY_BUCKETS];
    atomic_ullong latency_max_us;
    atomic_uint last_error;
};

struct wmid_consumer {
    char *path;                   /* LogFileEventConsumer.Name="x" (ns_qualify: "root\\x:..." elsewhere) */
    char *ns;                     /* its namespace */
    wmi_object *logical;          /* the logical consumer instance */
    struct wmid_provider *provider;
    struct wmid_sink *sink;       /* NULL when FindConsumer failed */
    size_t max_queue_bytes;       /* MaximumQueueSize or the default */
    atomic_bool full;             /* overflowed, not yet below half */
    atomic_llong last_drop_log;   /* second of the last drop warning */
    struct wmid_consumer_stats stats;
    atomic_size_t queued_events;  /* in the sink's queue or in the call in flight */
    /* Lazy attach (loop thread): FindConsumer calls that succeeded, physical
     * consumers released when idle, and the backoff of a failed
     * FindConsumer (struct wmid_life's retry fields, for one consumer). */
    unsigned finds;
    unsigned releases;
    unsigned find_failures;       /* in a row */
    uint64_t retry_at_ms;
    unsigned backoff_ms;
    /* Held by each router that lists the consumer: a reload keeps a
     * consumer whose instance is unchanged, queue, sink and counters.
     * Loop thread only. */
    unsigned refs;
    char creator[SEC_SID_MAX];    /* CreatorSID of the logical consumer */
};

enum wmid_push_result {
    PUSH_QUEUED,
    PUSH_QUEUED_FULL,     /* queued, but pause the producer: over a limit (SlowDownProviders)
                           * or over low_threshold_on_events */
    PUSH_DROPPED,         /* counted, logged, and __EventDroppedEvent raised */
};

/* delivery_push flags. */
#define WMID_PUSH_SLOW_DOWN 0x1u  /* SlowDownProviders: over a limit, queue and pause */
#define WMID_PUSH_SOLO      0x2u  /* WBEM_FLAG_MUST_NOT_BATCH: alone in its IndicateToConsumer */

/*
 * What the engine reports about an event it could not deliver, raised as
 * an extrinsic event on the loop thread (router.c builds it):
 *   __ConsumerFailureEvent   IndicateToConsumer failed or missed its deadline
 *   __EventQueueOverflowEvent a queue limit was reached
 *   __EventDroppedEvent      any other drop (no sink, expired, shutdown)
 * References: @event, @logical and @consumer_path are owned by the report.
 */
enum wmid_system_event_kind {
    WMID_SE_CONSUMER_FAILURE,
    WMID_SE_QUEUE_OVERFLOW,
    WMID_SE_DROPPED,
};

struct wmid_system_event {
    enum wmid_system_event_kind kind;
    wmi_object *event;            /* the event concerned (a reference), or NULL */
    wmi_object *logical;          /* the intended logical consumer (a reference) */
    char *consumer_path;          /* its path, ns_qualify'd (owned), and its namespace, where the */
    char ns[WMID_NS_MAX + 1];     /* report is raised: taken when the report is made, so that a */
                                  /* consumer a reload retired is still named right */
    wmi_status code;              /* ErrorCode of a failure */
    uint64_t queue_bytes;         /* CurrentQueueSize of an overflow */
    char description[200];        /* ErrorDescription */
};

struct wmid_delivery;   /* the engine: all sinks */

struct wmid_delivery *delivery_new(uv_loop_t *loop, const struct wmid_settings *s);
/* Physical consumer for @c via FindConsumer; shares sinks returned twice.
 * A failure is logged as a warning the first time in a row
 * (c->find_failures == 0), at info level after.  Loop thread. */
bool delivery_attach(struct wmid_delivery *d, struct wmid_consumer *c);
/*
 * Release the physical consumers that have had nothing queued and no call
 * for @clear_ms (__EventSinkCacheControl.ClearAfter): stop their threads,
 * call release, and detach their logical consumers, which are all among
 * @consumers (a sink a retiring consumer still uses is left alone).  A
 * provider that loses its last sink gets life.idle_since_ms = @now_ms.
 * Returns when the next one may be due (UINT64_MAX: no sink).  Loop thread.
 */
uint64_t delivery_release_idle(struct wmid_delivery *d, struct wmid_consumer *const *consumers, size_t n,
                               uint64_t clear_ms, uint64_t now_ms);
/* The physical consumers @p serves now, and (when @last_used_ms is not
 * NULL) the latest moment one of them was attached or returned from a
 * call.  Loop thread. */
size_t delivery_provider_sinks(struct wmid_delivery *d, const struct wmid_provider *p, uint64_t *last_used_ms);
/* Queue one event for a logical consumer; thread-safe.  @size_hint in
 * bytes; @flags WMID_PUSH_*. */
enum wmid_push_result delivery_push(struct wmid_delivery *d, struct wmid_consumer *c, wmi_object *ev,
                                    size_t size_hint, unsigned flags);
/*
 * Synchronous delivery (DeliverSynchronously): IndicateToConsumer for @ev
 * alone, on the calling thread, before returning; serialized with the
 * sink's delivery thread.  When the sink is suspended, has events queued
 * for @c (order is kept), or its thread stays in a call past the deadline,
 * the event is queued instead (delivery_push).  *@late is set when the
 * call overran the deadline: the caller demotes the binding.
 */
enum wmid_push_result delivery_call(struct wmid_delivery *d, struct wmid_consumer *c, wmi_object *ev,
                                    size_t size_hint, unsigned flags, bool *late);
/* Where system events (failures, drops) go: @cb runs on the loop thread
 * and takes ownership of the report's references; a NULL report ends a
 * burst. */
void delivery_set_raise_cb(struct wmid_delivery *d, void (*cb)(void *arg, struct wmid_system_event *se),
                           void *arg);
/* A consumer's delivery counters and state as JSON (new reference). */
json_t *delivery_consumer_stats_json(struct wmid_delivery *d, struct wmid_consumer *c);
/* Engine-wide counters as JSON (new reference). */
json_t *delivery_stats_json(struct wmid_delivery *d);
/*
 * Wake the delivery threads that have queued work, and free the events they
 * handed back.  Producers call it (through router_flush) once per burst of
 * router_indicate calls.  Loop thread.
 */
void delivery_kick(struct wmid_delivery *d);
/* Called on the loop thread when queues drained below their low marks. */
void delivery_set_resume_cb(struct wmid_delivery *d, void (*cb)(void *arg), void *arg);
/* True while a consumer (or the global limit) that overflowed has not
 * drained below half its limit. */
bool delivery_is_congested(struct wmid_delivery *d);
/* A producer paused: call the resume callback once nothing is congested. */
void delivery_want_resume(struct wmid_delivery *d);
/* Drain within @timeout_ms, stop threads, release sinks.  Returns false when
 * a plugin call was still running at the deadline: its thread is left
 * behind, and nothing it may touch (consumers, router, plugins, the
 * engine) may be freed; the caller must exit without tearing down. */
bool delivery_shutdown(struct wmid_delivery *d, unsigned timeout_ms);
void delivery_free(struct wmid_delivery *d);
size_t delivery_queued_bytes(struct wmid_delivery *d);
/*
 * A consumer left the configuration (reload): once its queued events are
 * delivered and no call for it is in flight, detach it from its sink
 * (stopping the sink's thread and releasing the physical consumer when it
 * was the sink's last) and call @done(@c) on the loop thread.  At once when
 * it has no sink.  After delivery_shutdown, @done runs in delivery_free.
 */
void delivery_retire(struct wmid_delivery *d, struct wmid_consumer *c, void (*done)(struct wmid_consumer *c));
/* Consumers waiting in delivery_retire. */
size_t delivery_retiring(struct wmid_delivery *d);

#endif /* WMID_ENGINE_DELIVERY_H */
