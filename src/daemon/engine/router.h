/*
 * router.h - filters, bindings and the class index
 */
#ifndef WMID_ENGINE_ROUTER_H
#define WMID_ENGINE_ROUTER_H

#include "daemon/wmieventd.h"
#include "daemon/config/config.h"
#include "daemon/config/security.h"
#include "daemon/engine/delivery.h"
#include "daemon/plugins/loader.h"

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

#endif /* WMID_ENGINE_ROUTER_H */
