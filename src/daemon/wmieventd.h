/*
 * wmieventd.h - the daemon's internal interfaces, one section per
 * subsystem (one .c file each).
 */
#ifndef WMIEVENTD_H
#define WMIEVENTD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "wmievent.h"
#include "daemon/config/security.h"

/* ====================================================================
 * log.c - logging to stderr (relayd's log_warn/log_warnx/fatal)
 * ==================================================================== */

void log_init(int level, bool timestamps);
void log_setlevel(int level);
int log_getlevel(void);
/* log_warn appends strerror(errno); log_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int level, const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
_Noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int log_level_from_name(const char *name);

/* ====================================================================
 * config.c - daemon settings and the object dir
 * ==================================================================== */

struct wmid_settings {
    char *config_path;
    char *socket_path;
    int socket_gid;              /* -1: leave the group alone */
    long admin_gid;              /* admin_group: its members are Administrators; -1: root only */
    json_t *user_consumer_providers; /* array of provider names non-administrators may bind to (new ref) */
    char *state_dir;
    char *plugin_dir;
    char *object_dir;
    char *host_program;          /* wmieventd-host; NULL: $WMIEVENTD_HOST, else next to the daemon */
    int log_level;
    size_t max_line_bytes;
    size_t queue_max_bytes;      /* all consumer queues together: HighThresholdOnEvents */
    size_t low_threshold_on_events; /* bytes queued from which producers are slowed */
    unsigned max_wait_on_events_ms; /* 0: queued events never expire */
    unsigned consumer_deadline_ms;  /* IndicateToConsumer budget unless the provider says */
    unsigned suspend_after_misses;  /* K deadline misses ... */
    unsigned suspend_window_ms;     /* ... within this window suspend a sink */
    unsigned suspend_max_ms;        /* the longest suspension (backoff cap) */
    unsigned indicate_wait_ms;      /* how long a provider thread's Indicate waits for a drain */
    size_t default_consumer_queue_bytes;
    unsigned process_poll_ms;
    unsigned shutdown_timeout_ms;
    unsigned min_within_ms;      /* floor for WQL WITHIN polling (intrinsic.c) */
    unsigned max_connections;    /* control socket connections open at once */
};

/* Everything read from the object dir: the schema (built-in classes plus
 * user classes) and the instances, in file order. */
struct wmid_objects {
    wmi_schema *schema;
    json_t *origins;             /* array parallel to instances: "file: object N (Class Name)" */
    wmi_object **instances;
    long *owners;                /* parallel: uid owning the file (CreatorSID), -1 unknown */
    size_t ninstances;
    /* Namespaces (namespace.c): the namespace of each instance (array
     * parallel to instances, normalized names; objects_ns), the home of
     * each class defined in the object dir or at run time (lowercase class
     * name -> namespace; built-in classes have none: every namespace holds
     * them), and the namespaces that exist (normalized name -> true). */
    json_t *ns;
    json_t *class_ns;
    json_t *namespaces;
};

/*
 * Fill @err (status, "file: object N (...)" origin, message; no line or
 * column) and return false: the one way loaders report a config error.
 */
bool config_fail(wmi_error *err, wmi_status st, const char *origin, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Load the daemon settings; on error prints nothing and fills @err. */
bool config_load_settings(const char *path, struct wmid_settings *s, wmi_error *err);
void config_free_settings(struct wmid_settings *s);
/* Load classes then instances of every *.json in @dir; false and @err on error. */
bool config_load_objects(const char *dir, struct wmid_objects *o, wmi_error *err);
void config_free_objects(struct wmid_objects *o);
/* Append the objects created at run time (the repository document of
 * repo.c; origins "@source: object N (...)", owners their creators).  False
 * and @err naming the object when one no longer fits its class. */
bool config_add_runtime(struct wmid_objects *o, const json_t *doc, const char *source, wmi_error *err);

/* ====================================================================
 * namespace.c - namespaces, paths that name one, and the namespaces and
 * class homes of a load
 * ==================================================================== */

/* Where events are raised: those of the built-in providers and instance
 * pollers in root\cimv2; the rest (the repository, timer instructions,
 * the delivery engine, socket producers and plugin event providers) in the
 * namespace of what raises them, root\subscription unless it says. */
#define WMID_NS_EVENTS       "root\\cimv2"
#define WMID_NS_SUBSCRIPTION "root\\subscription"
/* The namespace of objects and requests that name none. */
#define WMID_NS_DEFAULT      WMID_NS_SUBSCRIPTION

/* A namespace as WMI writes it ("\\\\.\\root\\cimv2", "//./root/cimv2",
 * "ROOT\\CIMV2"), normalized to "root\\cimv2" (new string; NULL for NULL). */
char *ns_normalize(const char *ns);
/* The longest namespace name, in bytes (buffers hold WMID_NS_MAX + 1). */
#define WMID_NS_MAX 255
/* Is normalized @ns a well-formed namespace name ("root" or "root\\..." with
 * non-empty segments free of path syntax, at most WMID_NS_MAX bytes)? */
bool ns_is_valid(const char *ns);
/* Split "root\\cimv2:Class.Key=1" (or "\\\\.\\root\\cimv2:...") into the
 * relative path (returned, borrowed from @path) and *@ns (new normalized
 * string, NULL when the path names no namespace). */
const char *ns_split_path(const char *path, char **ns);
/* The path shown for an object of @ns: @rel itself in WMID_NS_DEFAULT,
 * "ns:rel" elsewhere (new string). */
char *ns_qualify(const char *ns, const char *rel);
/* Fill the namespace members of @o with the base namespaces (root,
 * root\\subscription, root\\cimv2, root\\default).  False: out of memory. */
bool ns_init(struct wmid_objects *o);
/* Does namespace @ns (any spelling) exist in @namespaces (an
 * wmid_objects.namespaces; NULL: the base namespaces only)? */
bool ns_exists(const json_t *namespaces, const char *ns);
/* The namespace of user class @cls (borrowed), or NULL for a built-in
 * class, which every namespace holds. */
const char *ns_class_home(const json_t *class_ns, const char *cls);
/* Does namespace @ns hold class @cls? */
bool ns_class_in(const json_t *class_ns, const char *cls, const char *ns);
bool ns_set_class_home(struct wmid_objects *o, const char *cls, const char *ns);
/* The namespace of instance @i (borrowed). */
const char *objects_ns(const struct wmid_objects *o, size_t i);
/* The namespace an object names in @member ("__NAMESPACE" in the object
 * dir, "Namespace" in the repository file), normalized (new string):
 * WMID_NS_DEFAULT when absent; NULL with @err (WBEM_E_INVALID_NAMESPACE,
 * @origin) when malformed.  Existence is the caller's to check. */
char *ns_of_object(const json_t *obj, const char *member, wmi_error *err, const char *origin);
/* Create the namespaces of __Namespace instances: @ns_instances is
 * [{"Parent": ns, "Name": name, "Origin": where}]; one that exists already
 * is left as it is.  False with @err (WBEM_E_INVALID_NAMESPACE: a name
 * that is not one path segment, a parent that does not exist) naming the
 * instance. */
bool ns_declare(struct wmid_objects *o, const json_t *ns_instances, wmi_error *err);

/* ====================================================================
 * plugin.c - consumer provider plugins
 * ==================================================================== */

/* The largest max_batch a consumer provider may declare. */
#define WMID_MAX_BATCH 65536

/* CLOCK_MONOTONIC in milliseconds: the clock of the provider lifecycle
 * (lifecycle.c). */
uint64_t wmid_now_ms(void);
/* A wmid_now_ms() moment as a DMTF datetime in UTC for Stats (new
 * reference), or JSON null for 0 (never). */
json_t *wmid_moment_json(uint64_t t);

/*
 * The lifecycle of one side of a provider (its consumer provider, or its
 * event provider): loaded when first needed, shut down when idle
 * (lifecycle.c).  Loop thread only.  Times are wmid_now_ms(); 0 is never.
 */
struct wmid_life {
    unsigned loads;               /* successful loads */
    unsigned unloads;             /* shutdowns while the provider stayed configured */
    bool unloaded_idle;           /* the last unload was for idleness (Stats: "unloaded when idle") */
    uint64_t last_used_ms;        /* the last load, FindConsumer or (event side) active moment */
    uint64_t idle_since_ms;       /* nothing uses it since then; 0 while in use */
    uint64_t retry_at_ms;         /* a failed load is not tried again before this */
    unsigned backoff_ms;          /* the wait after the next failure (0: the first one) */
};

struct wmid_provider {
    char *name;                   /* __Win32Provider.Name */
    char *library;                /* resolved path */
    char *hosting_model;          /* __Win32Provider.HostingModel; NULL when not set */
    unsigned deadline_ms;         /* __Win32Provider.DeadlineMs; 0 when not set */
    struct wmid_hosted *hosted;   /* hosting.c: the host process, when isolated */
    wmi_object *registration;     /* __EventConsumerProviderRegistration */
    void *dl;
    const struct wmi_plugin *plugin;
    const struct wmi_event_consumer_provider *cp;
    void *state;                  /* from initialize */
    struct wmi_host host;
    wmi_status status;            /* load outcome */
    char message[256];
    bool loaded;
    /* Held by each router and each logical consumer that uses the
     * provider; a reload keeps a provider whose name and library stay the
     * same.  Loop thread only. */
    unsigned refs;
    /* The schema the plugin was initialized with (a reference), kept while
     * the provider lives: the plugin may build objects of it. */
    wmi_schema *schema;
    /* Event provider side (eventprov.c), loaded while the router lists an
     * __EventProviderRegistration for the provider (router_provider_events)
     * and a filter wants its events, until it idles. */
    struct wmid_evside *ev;
    /* Load and idle bookkeeping of the consumer side and the event side. */
    struct wmid_life life;
    struct wmid_life ev_life;
    bool ev_registered;           /* the current router registers it as an event provider */
};

/*
 * dlopen @library, call its entry symbol and check the handshake (ABI
 * major, descriptor size).  The descriptor (in the library) and *@dl, or
 * NULL with *@st and @msg saying why.  Any thread.
 */
const struct wmi_plugin *plugin_open(const char *library, void **dl, wmi_status *st, char *msg, size_t msglen);
/* wmi_host.log for the provider called @provider: "provider NAME: ...",
 * the level clamped to WMI_LOG_ERR..WMI_LOG_DEBUG.  Thread-safe. */
void plugin_vlog(const char *provider, int level, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
/* Load and initialize; on failure logs one line, records status, returns false. */
bool plugin_load(struct wmid_provider *p, const struct wmid_settings *s, const wmi_schema *schema);
void plugin_unload(struct wmid_provider *p);

/* ====================================================================
 * hosting.c - isolated hosting: a provider in its own wmieventd-host
 * process, behind a proxy consumer provider
 * ==================================================================== */

struct wmid_hosted;

/* True when HostingModel @model (NULL allowed) asks for a host process. */
bool hosting_is_isolated(const char *model);
/*
 * Start the host process of @p's group (or join it) and load the plugin
 * there.  On success p->cp and p->state are a proxy whose find_consumer
 * and indicate_to_consumer forward to the host, p->loaded is true, and
 * p->hosted is set.  On failure: one log line, p->status and p->message
 * recorded, false.  Loop thread.
 */
bool hosting_load(struct wmid_provider *p, const struct wmid_settings *s, const wmi_schema *schema);
/* Shut the provider down in its host (the host exits with its last
 * provider).  Every sink of @p has been released.  Loop thread. */
void hosting_unload(struct wmid_provider *p);
/* A logical consumer of a hosted provider is gone while its physical
 * consumer stays (shared with others): forget it here and in the host.
 * No call for it is in flight.  Loop thread. */
void hosting_forget(struct wmid_provider *p, const wmi_object *logical);
/* The host's state for Stats (new reference), or NULL when not hosted. */
json_t *hosting_stats_json(const struct wmid_provider *p);

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
    /* Not WBEM_S_NO_ERROR: the filter receives nothing (an event
     * provider's AccessCheck refused it: WBEM_E_ACCESS_DENIED).  Set on
     * the loop thread by eventprov_sync. */
    wmi_status inactive;
    /* Set by a polling source that feeds this filter itself at its WITHIN
     * interval (router_indicate_filter): router_indicate then skips it. */
    bool polled;
    /* GROUP WITHIN: matching events are counted here instead of delivered. */
    struct wmid_aggregator *agg;
    struct wmid_binding **bindings;
    size_t nbindings;
    atomic_ullong matched;
};

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

/* Build from the loaded objects; false with @err naming the object. */
struct wmid_router *router_new(const struct wmid_objects *o, const struct wmid_settings *s,
                               struct wmid_delivery *d, wmi_error *err);
/*
 * The same for a reload: providers (same Name and Library), logical
 * consumers (same path, an equal instance, the same provider) and the
 * open GROUP windows and counters of filters (same Name and Query) are
 * taken over from @prev, which stays usable until router_free(@prev).
 * Loop thread.
 */
struct wmid_router *router_new_from(const struct wmid_objects *o, const struct wmid_settings *s,
                                    struct wmid_delivery *d, struct wmid_router *prev, wmi_error *err);
/* Make a router built by router_new_from(..., @prev, ...) the one in
 * charge: the registrations and deadlines it read apply to its (shared)
 * providers, and @prev's counters and open GROUP windows move to it.
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
 * source (NULL: the daemon's own sources), after the filters.  One hook
 * for all routers, so that a reload does not lose it; NULL (the default,
 * and whenever there is no temporary subscription) costs one branch per
 * event.  Events are routed on the loop thread; set it there too.
 */
typedef void (*wmid_temp_hook)(void *arg, wmi_object *ev, const struct wmid_source *src);
void router_set_temp_hook(wmid_temp_hook fn, void *arg);
/* The FROM classes of the temporary subscriptions (control.c sets them,
 * borrowed until its next call), so that the event providers that serve
 * only when someone listens (eventprov.c) serve temporary consumers too.
 * Loop thread. */
void router_set_temp_classes(const char *const *names, size_t n);
size_t router_temp_classes(const char *const **names);
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
/* Deliver @ev to @f's bindings as is (aggregate events). */
bool router_deliver_bindings(struct wmid_router *r, struct wmid_filter *f, wmi_object *ev, size_t size_hint);
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
 * Release what has idled past its ClearAfter: physical consumers, consumer
 * providers without a sink, event providers whose sinks are inactive (not
 * the built-in ones).  Returns when the next one may be due
 * (wmid_now_ms() clock; UINT64_MAX: nothing loaded).  Loop thread.
 */
uint64_t router_sweep_idle(struct wmid_router *r, uint64_t now_ms);

/* ====================================================================
 * lifecycle.c - the idle timer: providers and physical consumers loaded
 * on demand are released after their ClearAfter
 * ==================================================================== */

/* The timer on @loop; nothing runs until lifecycle_set_router. */
void lifecycle_init(uv_loop_t *loop);
/* The router of the moment (start, reload: its cache controls apply from
 * now on).  Loop thread. */
void lifecycle_set_router(struct wmid_router *r);
/* Something was loaded or attached, or went idle: make sure the timer
 * looks at it within its ClearAfter.  Costs nothing when the timer is
 * armed already; without lifecycle_init (tests), nothing.  Loop thread. */
void lifecycle_kick(void);
/* Stop for good (shutdown); the timer handle is closed.  Loop thread. */
void lifecycle_shutdown(void);

/* ====================================================================
 * control.c - the Unix control socket (JSON lines)
 * ==================================================================== */

struct wmid_control;
struct wmid_control *control_new(uv_loop_t *loop, const struct wmid_settings *s,
                                 struct wmid_router *r, struct wmid_delivery *d, wmi_error *err);
/* The router that serves requests from now on (reload).  Loop thread. */
void control_set_router(struct wmid_control *c, struct wmid_router *r);
/* The repository at run time, for GetObject, PutInstance and
 * DeleteInstance (main.c implements them over repo.c).  Loop thread. */
struct wmid_repo_ops {
    /* Every operation takes the request's "Namespace" (@ns: NULL for the
     * default, root\\subscription; repo.h says how paths override it). */
    /* The object at @path: new reference, or NULL with *@st. */
    json_t *(*get)(void *arg, const char *ns, const char *path, wmi_status *st);
    /* EnumInstances of a class the repository holds (new array), or NULL
     * with *@st. */
    json_t *(*enum_instances)(void *arg, const char *ns, const char *cls, wmi_status *st);
    /* Create or change an instance (flags WMID_PUT_*), or delete one, as
     * @who; the configuration is rebuilt with the change and the
     * repository file written.  False with @err (nothing changed). */
    bool (*put)(void *arg, const struct sec_identity *who, const char *ns, const json_t *instance, unsigned flags,
                wmi_error *err);
    bool (*del)(void *arg, const struct sec_identity *who, const char *ns, const char *path, wmi_error *err);
    /* Classes at run time (administrators), and EnumClasses. */
    bool (*put_class)(void *arg, const struct sec_identity *who, const char *ns, const json_t *cls, unsigned flags,
                      wmi_error *err);
    bool (*del_class)(void *arg, const struct sec_identity *who, const char *ns, const char *name, wmi_error *err);
    json_t *(*enum_classes)(void *arg, const char *ns, const char *super, bool deep, wmi_status *st);
    /* MofComp: the operations of a compiled MOF file (as wmieventctl
     * sends them, each with its "Namespace"), applied all or nothing;
     * *@applied counts them. */
    bool (*mofcomp)(void *arg, const struct sec_identity *who, const json_t *ops, size_t *applied, wmi_error *err);
    void *arg;
};
void control_set_repository(struct wmid_control *c, const struct wmid_repo_ops *ops);
/* What the Reload request calls: true with the number of objects loaded,
 * or false with @err naming the file or object that was refused (the
 * running configuration stays).  Loop thread. */
void control_set_reload(struct wmid_control *c, bool (*fn)(void *arg, wmi_error *err, size_t *nobjects),
                        void *arg);
void control_stop_accepting(struct wmid_control *c);
void control_close(struct wmid_control *c);
json_t *control_stats_json(struct wmid_control *c);

/* ====================================================================
 * providers/proc_connector.c - Win32_ProcessStartTrace / StopTrace
 * ==================================================================== */

struct wmid_proc;
/* Start the process connector; its events go out as those of the built-in
 * event provider "ProcessTrace" (eventprov_add_builtin), from the next
 * eventprov_sync on.  Loop thread. */
struct wmid_proc *proc_start(uv_loop_t *loop, const struct wmid_settings *s);
void proc_stop(struct wmid_proc *p);
const char *proc_source_name(const struct wmid_proc *p);

/* ====================================================================
 * aggregate.c - GROUP WITHIN windows and __AggregateEvent
 * ==================================================================== */

struct wmid_aggregator;
struct wmid_aggregator *aggregate_new(uv_loop_t *loop, struct wmid_router *r, struct wmid_filter *f);
void aggregate_add(struct wmid_aggregator *a, wmi_object *ev);
void aggregate_free(struct wmid_aggregator *a);
/* A reload took the filter over: its open windows now report to @f of @r. */
void aggregate_rebind(struct wmid_aggregator *a, struct wmid_router *r, struct wmid_filter *f);
/* Define __AggregateEvent_<filter> for a filter with GROUP BY (idempotent:
 * a schema may serve two routers; the router refuses two filters whose
 * names give one class). */
bool aggregate_define_class(wmi_schema *schema, const struct wmid_filter *f, wmi_error *err);
const char *aggregate_class_name(const struct wmid_filter *f, char *buf, size_t len);

/* ====================================================================
 * timer.c - __IntervalTimerInstruction / __AbsoluteTimerInstruction
 * ==================================================================== */

struct wmid_timers;
/* Check the timer instructions among the loaded objects (for -n too). */
bool timers_check(const struct wmid_objects *o, wmi_error *err);
/* Start a uv timer per instruction; they raise __TimerEvent. */
struct wmid_timers *timers_start(uv_loop_t *loop, const struct wmid_objects *o, struct wmid_router *r);
void timers_stop(struct wmid_timers *ts);

/* ====================================================================
 * notify.c - systemd readiness without libsystemd
 * ==================================================================== */

void notify_systemd(const char *state);

#endif /* WMIEVENTD_H */
