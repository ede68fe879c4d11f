/*
 * engine.h - the engine: the routing snapshot and its hot path (router.c, subscriptions.c,
 * attach.c, reports.c), the delivery engine (delivery.c) and the idle timer (lifecycle.c).
 * The one header of src/daemon/engine for the rest of the daemon; engine/internal.h holds
 * what only the engine's files share.
 */
#ifndef WMID_ENGINE_ENGINE_H
#define WMID_ENGINE_ENGINE_H

#include "daemon/wmieventd.h"
#include "daemon/config/config.h"
#include "daemon/plugins/plugins.h"

/* ====================================================================
 * delivery.c - per physical consumer queues and delivery threads
 * ==================================================================== */

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
    char description[256];        /* ErrorDescription */
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

/* ====================================================================
 * router.c - filters, bindings and the class index
 * ==================================================================== */

struct wmid_filter {
    char *name;
    char *ns;                     /* the namespace it lives in */
    char *qname;                  /* the name for Stats and logs: ns_qualify(ns, name) */
    char *path;                   /* ns_qualify'd */
    wmi_query *query;
    /* Who created it (the owner of its object file), and which publishers
     * may deliver to it (__EventFilter.EventAccess; NULL: anyone). */
    struct sec_identity creator;
    struct sec_descriptor *event_access;
    /* __EventFilter.EventNamespace, normalized ("root\cimv2"): only events
     * raised in that namespace reach the filter.  NULL: events of every
     * namespace (a deviation: see docs/classes.md). */
    char *event_ns;
    /* What changes while the snapshot routes (refusal, polling, GROUP
     * window): beside the snapshot, written through the setters below. */
    struct wmid_filter_live *live;
    struct wmid_binding **bindings;
    size_t nbindings;
    /* Events matched: a counter of the router's own hot path. */
    atomic_ullong matched;
};

/*
 * The state of a filter that changes while its snapshot routes.  The
 * snapshot (struct wmid_filter and everything router_commit made) is
 * immutable once committed; this record lives beside it, one per filter,
 * and each member is written by one subsystem only, through its setter,
 * on the loop thread, which is also the only thread that reads it.
 */
struct wmid_filter_live {
    /* Not WBEM_S_NO_ERROR: the filter receives nothing (an event
     * provider's AccessCheck refused it: WBEM_E_ACCESS_DENIED).  Written
     * by eventprov_sync (providers/eventprov.c). */
    wmi_status refused;
    /* A polling source feeds this filter itself at its WITHIN interval
     * (router_indicate_filter): router_indicate skips it.  Written by the
     * intrinsic event poller (providers/intrinsic.c). */
    bool polled;
    /* GROUP WITHIN: matching events are counted here instead of delivered
     * (router_start makes it; a reload hands it over). */
    struct wmid_aggregator *agg;
};

/* The filter's state (see struct wmid_filter_live).  Loop thread. */
static inline wmi_status
router_filter_refused(const struct wmid_filter *f)
{
    return f->live->refused;
}
static inline bool
router_filter_polled(const struct wmid_filter *f)
{
    return f->live->polled;
}
/* Does @f take events at all: a binding, or a GROUP window? */
static inline bool
router_filter_wanted(const struct wmid_filter *f)
{
    return f->nbindings > 0 || f->live->agg != NULL;
}
void router_filter_refuse(struct wmid_filter *f, wmi_status st);
void router_filter_set_polled(struct wmid_filter *f, bool polled);

struct wmid_binding {
    char *path;
    struct wmid_filter *filter;
    struct wmid_consumer *consumer;
    bool slow_down;               /* SlowDownProviders */
    bool synchronous;             /* DeliverSynchronously, or DeliveryQoS = 0 */
    /* Not WBEM_S_NO_ERROR: the binding delivers nothing (WBEM_E_ACCESS_DENIED:
     * its filter, consumer and binding have different creators, or a
     * non-administrator's binding names a consumer whose provider does not
     * take theirs: user_consumer_providers); @why says which. */
    wmi_status inactive;
    char why[240];
    atomic_bool demoted;          /* synchronous, but missed a deadline: asynchronous now */
};

struct wmid_router;

struct wmid_router_stats {
    atomic_ullong received;       /* events indicated */
    atomic_ullong routed;         /* events that matched at least one filter */
    atomic_ullong deliveries;     /* event x consumer pairs queued */
    atomic_ullong dropped;        /* event x consumer pairs dropped */
    atomic_ullong system_events;  /* failure and drop events raised */
};

/*
 * What the engine asks of the subsystems around it, as callbacks, so that
 * it never calls the sources that feed it nor the timer that sweeps it
 * (docs/architecture.md: dependencies point one way).  Every member may
 * be NULL: that check is skipped, that report left out.
 */
struct wmid_router_hooks {
    /* The instance providers' rules for a filter's query
     * (providers/intrinsic.c): refuse a query the pollers cannot serve
     * (false, @err filled), and say whether WITHIN has an effect (the
     * build warns when it has none). */
    bool (*check_filter)(const wmi_schema *schema, const wmi_query *q, wmi_error *err);
    bool (*within_has_effect)(const wmi_schema *schema, const wmi_query *q);
    /* A consumer provider was loaded or a physical consumer attached, so
     * something may go idle: the idle timer must look within its
     * ClearAfter (engine/lifecycle.c).  Loop thread. */
    void (*loaded)(void *arg);
    void *loaded_arg;
    /* The event side of provider @p for Stats (new reference), or NULL
     * when it has none (providers/eventprov.c). */
    json_t *(*provider_events_stats)(void *arg, const struct wmid_provider *p);
    void *stats_arg;
};

/* Build from the loaded objects, with @hooks (copied; NULL: none); false
 * with @err naming the object. */
struct wmid_router *router_new(const struct wmid_objects *o, const struct wmid_settings *s,
                               struct wmid_delivery *d, const struct wmid_router_hooks *hooks, wmi_error *err);
/*
 * The same for a reload: providers (same Name and Library), logical
 * consumers (same path, an equal instance, the same provider) and the
 * open GROUP windows and counters of filters (same Name and Query) are
 * taken over from @prev, which stays usable until router_free(@prev).
 * The hooks are @prev's.  Loop thread.
 */
struct wmid_router *router_new_from(const struct wmid_objects *o, const struct wmid_settings *s,
                                    struct wmid_delivery *d, struct wmid_router *prev, wmi_error *err);
/* Make a router built by router_new_from(..., @prev, ...) the one in
 * charge: the registrations and deadlines it read apply to its (shared)
 * providers, and @prev's counters and open GROUP windows move to it.
 * The temporary consumers' hook and classes move too.
 * Until then @prev is untouched, so a reload refused after the build
 * (router_free of the new one) leaves the running one whole.  Loop
 * thread. */
void router_commit(struct wmid_router *r, struct wmid_router *prev);
void router_free(struct wmid_router *r);
/*
 * Route one event (borrowed).  Returns true when the producer should pause
 * (a SlowDownProviders consumer is full).  Thread-safe.
 */
bool router_indicate(struct wmid_router *r, wmi_object *ev, size_t size_hint);
/* The same with WMID_PUSH_* flags for every delivery (WMID_PUSH_SOLO:
 * the producer's sink asked for WBEM_FLAG_MUST_NOT_BATCH). */
bool router_indicate_flags(struct wmid_router *r, wmi_object *ev, size_t size_hint, unsigned flags);
/* Where an event comes from, for the security checks: an external
 * publisher (a socket peer, a plugin event provider) and the descriptor of
 * the sink it came through. */

struct wmid_source {
    const struct sec_identity *publisher;   /* checked against EventAccess (WBEM_RIGHT_PUBLISH) */
    const struct sec_descriptor *sink_sd;   /* checked against CreatorSID (WBEM_RIGHT_SUBSCRIBE); NULL: anyone */
    const char *ns;                         /* the namespace the event is raised in; NULL: WMID_NS_EVENTS */
};
/* The same from an external source (NULL: the daemon's own sources, which
 * every filter accepts). */
bool router_indicate_from(struct wmid_router *r, wmi_object *ev, size_t size_hint, unsigned flags,
                          const struct wmid_source *src);
/* Is @f (not inactive, with a binding or a GROUP window) willing to take
 * events of @src?  (The checks of router_indicate_from, for IsActive.) */
bool router_filter_accepts(const struct wmid_filter *f, const struct wmid_source *src);
/*
 * Temporary consumers (ExecNotificationQuery, control.c) are no part of
 * the snapshot: they come and go with connections.  When a hook is set,
 * router_indicate_from hands it every event it routes (borrowed) and its
 * source (NULL: the daemon's own sources), after the filters.  A reload
 * hands it to the next router (router_commit); NULL (the default, and
 * whenever there is no temporary subscription) costs one branch per
 * event.  Events are routed on the loop thread; set it there too.
 */
typedef void (*wmid_temp_hook)(void *arg, wmi_object *ev, const struct wmid_source *src);
void router_set_temp_hook(struct wmid_router *r, wmid_temp_hook fn, void *arg);
/* The FROM classes of the temporary subscriptions (control.c sets them,
 * borrowed until its next call), so that the event providers that serve
 * only when someone listens (eventprov.c) serve temporary consumers too.
 * Loop thread. */
void router_set_temp_classes(struct wmid_router *r, const char *const *names, size_t n);
size_t router_temp_classes(const struct wmid_router *r, const char *const **names);
/* The providers of the snapshot (borrowed). */
struct wmid_provider *router_provider_at(struct wmid_router *r, size_t i);
/* The __EventProviderRegistration of provider @i in this snapshot (borrowed;
 * NULL when it is no event provider here), *@publisher the identity of its
 * creator, which publishes the provider's events, and *@ns the namespace
 * of the registration, where they are raised (borrowed; either may be
 * NULL). */
wmi_object *router_provider_events(struct wmid_router *r, size_t i, const struct sec_identity **publisher,
                                   const char **ns);
/* Does namespace @ns exist in this snapshot, and does it hold class @cls
 * (built-in classes are in every namespace)?  Any thread: read-only. */
bool router_has_namespace(const struct wmid_router *r, const char *ns);
bool router_class_in(const struct wmid_router *r, const char *cls, const char *ns);
/* The namespace of user class @cls (borrowed, valid while the router
 * lives), or NULL for a built-in or unknown class. */
const char *router_class_home(const struct wmid_router *r, const char *cls);
/* End of a burst of router_indicate calls: wake the delivery threads. */
void router_flush(struct wmid_router *r);
/* Raise what the delivery engine reports (delivery_set_raise_cb) as an
 * extrinsic event; NULL ends a burst of reports.  Loop thread. */
void router_raise(struct wmid_router *r, struct wmid_system_event *se);
/* Start what runs on the loop: the GROUP aggregators. */
void router_start(struct wmid_router *r, uv_loop_t *loop);
/* The filters of the snapshot (borrowed; valid while the router lives). */
size_t router_filter_count(const struct wmid_router *r);
struct wmid_filter *router_filter_at(struct wmid_router *r, size_t i);
/*
 * Deliver @ev (borrowed) to one filter only, if its WHERE holds: for
 * sources that must tell each filter at its own pace (WITHIN polling).
 * Returns true when the producer should pause, as router_indicate.
 */
bool router_indicate_filter(struct wmid_router *r, struct wmid_filter *f, wmi_object *ev, size_t size_hint);
const wmi_schema *router_schema(const struct wmid_router *r);
struct wmid_router_stats *router_stats(struct wmid_router *r);
/* Stats as JSON (new reference). */
json_t *router_stats_json(struct wmid_router *r);
/*
 * A router is put in place (start, reload): remember @s (it must outlive
 * the router) for the loads to come, forget the retry backoffs of failed
 * loads and FindConsumer calls (a reload retries at the next event), and
 * record in Stats why providers are not loaded.  Nothing is loaded: a
 * consumer provider loads, and FindConsumer runs, on the loop thread when
 * an event must first be delivered to one of its logical consumers.  Loop
 * thread.
 */
void router_prepare_providers(struct wmid_router *r, const struct wmid_settings *s);
/* router_prepare_providers, then load every provider that has logical
 * consumers and attach them all at once (unit tests and benchmarks, which
 * run no lifecycle).  Never fails: failures are recorded. */
void router_load_providers(struct wmid_router *r, const struct wmid_settings *s);
size_t router_provider_count(const struct wmid_router *r);
/* The cache controls of the snapshot, in ms (ClearAfter of
 * __EventConsumerProviderCacheControl, __EventSinkCacheControl and
 * __EventProviderCacheControl, or the defaults below). */
#define WMID_DEFAULT_PROVIDER_CLEAR_MS 30000u
#define WMID_DEFAULT_SINK_CLEAR_MS 15000u
#define WMID_DEFAULT_EVENT_PROVIDER_CLEAR_MS 30000u
/* The shortest ClearAfter accepted: a shorter one would make the idle
 * timer spin. */
#define WMID_MIN_CLEAR_MS 100u
struct wmid_cache_controls {
    uint64_t provider_ms;
    uint64_t sink_ms;
    uint64_t event_provider_ms;
};
const struct wmid_cache_controls *router_cache_controls(const struct wmid_router *r);
/*
 * Release what has idled past its ClearAfter: physical consumers and
 * consumer providers without a sink (event providers have their own
 * sweep, providers/eventprov.c; the idle timer runs both).  Returns when the next one may be due
 * (wmid_now_ms() clock; UINT64_MAX: nothing loaded).  Loop thread.
 */
uint64_t router_sweep_idle(struct wmid_router *r, uint64_t now_ms);

/* ====================================================================
 * lifecycle.c - the idle timer: providers and physical consumers loaded on
 * demand are released after their ClearAfter.
 * ==================================================================== */

struct wmid_router;
struct wmid_lifecycle;

/* A sweep: release what has idled past its ClearAfter at @now_ms and
 * return when the next release may be due (wmid_now_ms() clock;
 * UINT64_MAX: nothing loaded).  Loop thread. */
typedef uint64_t (*wmid_sweep_fn)(void *arg, uint64_t now_ms);

/* The idle timer on @loop (new handle; NULL: out of memory).  Nothing
 * runs until lifecycle_set_router. */
struct wmid_lifecycle *lifecycle_new(uv_loop_t *loop);
/* Sweep with @fn too, after the router's own sweep (router_sweep_idle):
 * the event providers' (providers/eventprov.c) is one.  At most
 * WMID_LIFECYCLE_MAX_SWEEPS; false beyond.  Loop thread. */
#define WMID_LIFECYCLE_MAX_SWEEPS 4
bool lifecycle_add_sweep(struct wmid_lifecycle *lc, wmid_sweep_fn fn, void *arg);
/* The router of the moment (start, reload: its cache controls apply from
 * now on, and its consumers are swept).  Loop thread. */
void lifecycle_set_router(struct wmid_lifecycle *lc, struct wmid_router *r);
/* Something was loaded or attached, or went idle: make sure the timer
 * looks at it within its ClearAfter.  Costs nothing when the timer is
 * armed already; with @lc NULL or stopped, nothing.  Loop thread. */
void lifecycle_kick(struct wmid_lifecycle *lc);
/* The same as a wmid_router_hooks.loaded callback (@arg: the handle). */
void lifecycle_kick_hook(void *arg);
/* Stop for good (shutdown): the timer handle is closed and the handle
 * freed once libuv is done with it.  NULL is ignored.  Loop thread. */
void lifecycle_close(struct wmid_lifecycle *lc);

#endif /* WMID_ENGINE_ENGINE_H */
