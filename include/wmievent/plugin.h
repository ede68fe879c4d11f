/*
 * wmievent/plugin.h - the plugin ABI: consumer providers as .so files.
 *
 * A plugin is a shared object that exports exactly one symbol,
 *
 *     const struct wmi_plugin *wmi_plugin_entry(uint32_t host_abi_major);
 *
 * The host (wmieventd) dlopen()s the library named by the Library property
 * of a __Win32Provider instance, calls wmi_plugin_entry with its ABI major
 * version, and checks the returned descriptor: the same ABI major, and a
 * struct size at least the size the host was built with for that major.
 * A plugin that cannot serve this host returns NULL.  The host refuses a
 * mismatch with one log line and goes on serving every other consumer.
 *
 * The consumer side mirrors WMI's COM interfaces:
 *
 *   WMI                                   here
 *   IWbemProviderInit::Initialize         wmi_event_consumer_provider.initialize
 *   IWbemEventConsumerProvider::FindConsumer
 *                                         wmi_event_consumer_provider.find_consumer
 *   IWbemUnboundObjectSink                struct wmi_unbound_object_sink
 *   IWbemUnboundObjectSink::IndicateToConsumer
 *                                         wmi_unbound_object_sink.indicate_to_consumer
 *   IUnknown::Release (of the sink)       wmi_unbound_object_sink.release
 *   provider unload                       wmi_event_consumer_provider.shutdown
 *
 * Loading: as in WMI, a consumer provider is loaded (initialize) when an
 * event must first be delivered to one of its logical consumers, and
 * find_consumer is called then for that consumer.  A physical consumer
 * idle for __EventSinkCacheControl.ClearAfter is released (release), and
 * find_consumer is called again at that consumer's next event; a provider
 * without physical consumers for __EventConsumerProviderCacheControl
 * .ClearAfter is shut down (shutdown) and initialized again at the next
 * event.  An event provider is loaded when a filter wants its events and
 * shut down when its sinks have been inactive for
 * __EventProviderCacheControl.ClearAfter.  So one process may see several
 * initialize/shutdown pairs of one plugin.
 *
 * Threads: initialize, find_consumer, release and shutdown are called from
 * the host's control thread, never concurrently with each other for one
 * provider.  indicate_to_consumer is called one call at a time per sink:
 * from the sink's delivery thread, or, for a binding with
 * DeliverSynchronously = TRUE (or DeliveryQoS = 0), from the thread that
 * indicated the event, which for socket producers is the host's event
 * loop: only fast, trusted consumers belong in synchronous bindings.
 * A call should finish within the provider's deadline (deadline_ms; 100 ms
 * by default, as WMI asks of every sink; __Win32Provider.DeadlineMs
 * overrides it).  The host watches it: a call past it raises
 * __ConsumerFailureEvent (WBEM_E_PROVIDER_TIMED_OUT), demotes a
 * synchronous binding to asynchronous delivery, and a sink that misses
 * often is suspended for a while (WBEM_E_PROVIDER_SUSPENDED in Stats).
 *
 * Ownership: everything the host passes in is borrowed for the duration of
 * the call.  A plugin that keeps an object beyond the call takes a
 * reference with wmi_object_ref.  Plugins link libwmievent for objects and
 * templates (`pkg-config --cflags --libs wmievent`) and need no symbol
 * from the daemon binary; the host's own services come in struct wmi_host.
 */
#ifndef WMIEVENT_PLUGIN_H
#define WMIEVENT_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "object.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version of this header.  A change of major breaks plugins. */
#define WMI_PLUGIN_ABI_MAJOR 1
#define WMI_PLUGIN_ABI_MINOR 2

/* The one symbol a plugin exports, as a string for dlsym(). */
#define WMI_PLUGIN_ENTRY_SYMBOL "wmi_plugin_entry"

/*
 * WBEM_BATCH_TYPE: the lFlags of IWbemEventSink::SetBatchingParameters, for
 * event sinks (socket producers: the SetBatchingParameters request, see
 * docs/protocol.md).  BATCH_IF_NEEDED (the default): the host batches
 * deliveries only when a consumer falls behind.  MUST_BATCH: the sink
 * holds events until MaxBufferSize bytes or MaxSendLatency ms, whichever
 * comes first, and routes them together.  MUST_NOT_BATCH: each event goes
 * to a consumer in an IndicateToConsumer call of its own (n == 1).
 */
#define WBEM_FLAG_BATCH_IF_NEEDED 0x0
#define WBEM_FLAG_MUST_BATCH      0x1
#define WBEM_FLAG_MUST_NOT_BATCH  0x2

/* Log levels for wmi_host.log, as syslog's. */
#define WMI_LOG_ERR     3
#define WMI_LOG_WARNING 4
#define WMI_LOG_NOTICE  5
#define WMI_LOG_INFO    6
#define WMI_LOG_DEBUG   7

/*
 * struct wmi_host - services the host offers a plugin.  Borrowed: valid from
 * initialize until shutdown returns.  All functions are thread-safe.
 */
struct wmi_host {
    uint32_t abi_major;   /* WMI_PLUGIN_ABI_MAJOR of the host */
    uint32_t abi_minor;   /* WMI_PLUGIN_ABI_MINOR of the host */
    size_t size;          /* sizeof(struct wmi_host) in the host */

    /*
     * log - write one line to the daemon's log, prefixed with the
     * provider's name.  @level is WMI_LOG_*.  No trailing newline needed.
     */
    void (*log)(const struct wmi_host *host, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

    /*
     * schema - the classes of the provider's namespace, for building
     * objects with wmi_object_new.  Borrowed; valid until shutdown.
     */
    const wmi_schema *schema;

    /* Host-private data; plugins must not touch it. */
    void *host_private;

    /* ---- ABI 1.1: loop services, for event providers (check
     * host->size >= offsetof the member + its size before use).  Call
     * them on the host's loop thread only: from provide_events,
     * new_query, cancel_query, access_check, shutdown, or one of these
     * callbacks.  The host stops every timer and watch still running
     * before it calls shutdown; timer_stop and fd_unwatch ignore ids that
     * are no longer running, so shutdown may call them and then close its
     * fds. ---- */

    /*
     * timer_start - call @cb(@arg) on the loop thread after @timeout_ms,
     * then every @repeat_ms (0: once; a one-shot timer is forgotten after
     * its callback returns, so its id needs no timer_stop).  Returns a
     * timer id (> 0) for timer_stop, or 0 when out of memory.  Like a
     * libuv timer.
     */
    uint64_t (*timer_start)(const struct wmi_host *host, uint64_t timeout_ms, uint64_t repeat_ms,
                            void (*cb)(void *arg), void *arg);
    /* timer_stop - stop and forget a timer; an unknown id is ignored. */
    void (*timer_stop)(const struct wmi_host *host, uint64_t timer);
    /*
     * fd_watch - call @cb(@arg, @fd) on the loop thread whenever @fd (a
     * descriptor the plugin owns: a FIFO, a socket, an inotify or
     * timerfd) is readable.  Returns a watch id (> 0) or 0 when the fd
     * cannot be watched.  The plugin closes @fd itself, after fd_unwatch.
     */
    uint64_t (*fd_watch)(const struct wmi_host *host, int fd, void (*cb)(void *arg, int fd), void *arg);
    void (*fd_unwatch)(const struct wmi_host *host, uint64_t watch);

    /* ---- ABI 1.2 (check host->size >= offsetof the member + its size
     * before use) ---- */

    /*
     * set_error - say in words why the indicate_to_consumer call in
     * progress fails: the text becomes the ErrorDescription of the
     * __ConsumerFailureEvent the failure raises (for example the file a
     * LogFile consumer may not open, and why).  Call it from within
     * indicate_to_consumer, on the calling thread, before returning a
     * WBEM error; it applies to that call only, like errno, and is
     * ignored when the call succeeds.  printf-formatted; at most
     * WMI_HOST_ERROR_MAX - 1 bytes are kept.  Thread-safe.
     */
    void (*set_error)(const struct wmi_host *host, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
};

/* The longest set_error text kept, in bytes with its NUL. */
#define WMI_HOST_ERROR_MAX 160

/* ====================================================================
 * Event providers (ABI 1.1)
 * ==================================================================== */

/*
 * struct wmi_event_sink - an event sink (IWbemEventSink), owned by the
 * host.  The sink handed to provide_events is valid until the provider's
 * shutdown returns; a restricted sink until its release.  Every function
 * is thread-safe: call it from the provider's own threads or from loop
 * callbacks.
 */
struct wmi_event_sink {
    size_t size;          /* sizeof(struct wmi_event_sink) in the host */

    /*
     * indicate - IWbemObjectSink::Indicate: route @n (>= 1) events.
     * @events are borrowed; the host takes its own references.  Each event
     * is an instance of an __Event subclass of the host's schema
     * (host->schema), with values of the right CIM types, that matches at
     * least one query of the sink (the registration's EventQueryList, or
     * the restricted sink's queries).  An event that is not is refused and
     * counted (Stats), the others go on; the status is then the first
     * refusal's: WBEM_E_INVALID_CLASS (unknown class, or not an event
     * class), WBEM_E_TYPE_MISMATCH or WBEM_E_INVALID_OBJECT (a value does
     * not fit its property), WBEM_E_INVALID_PARAMETER (matches none of the
     * sink's queries; @n is 0).
     * Back-pressure (SlowDownProviders, low_threshold_on_events): while the
     * queues are congested, indicate from a provider thread waits for them
     * to drain, at most the daemon's indicate_wait_ms (2000 ms), then
     * returns WBEM_E_SERVER_TOO_BUSY without taking any of the events; from
     * a loop callback it returns WBEM_E_SERVER_TOO_BUSY at once.
     * Otherwise WBEM_S_NO_ERROR.
     */
    wmi_status (*indicate)(struct wmi_event_sink *self, size_t n, wmi_object *const *events);

    /*
     * is_active - IWbemEventSink::IsActive: WBEM_S_NO_ERROR when some
     * active subscription may receive what this sink carries (a filter
     * with a binding whose FROM class overlaps one of the sink's queries),
     * WBEM_S_FALSE when none: the provider may stay idle.  An atomic read;
     * its answer changes as filters come and go (reload).
     */
    wmi_status (*is_active)(struct wmi_event_sink *self);

    /*
     * get_restricted_sink - IWbemEventSink::GetRestrictedSink: a new sink
     * for @n WQL event queries, each within what the provider registered
     * (its FROM class is a class, or a subclass of a class, of the
     * registration's EventQueryList).  Its is_active answers for these
     * queries only, and its indicate refuses events that match none of
     * them.  *@out is released with release().  WBEM_E_INVALID_QUERY (a
     * query does not parse), WBEM_E_INVALID_PARAMETER (@n is 0, or a query
     * outside the registration), WBEM_E_OUT_OF_MEMORY.
     */
    wmi_status (*get_restricted_sink)(struct wmi_event_sink *self, size_t n, const char *const *queries,
                                      struct wmi_event_sink **out);

    /*
     * set_sink_security - IWbemEventSink::SetSinkSecurity: who may receive
     * this sink's events, as an SDDL descriptor (the subset in
     * docs/security.md): a subscription gets an event only if its
     * CreatorSID is granted WBEM_RIGHT_SUBSCRIBE (0x40).  NULL removes the
     * descriptor.  WBEM_E_INVALID_PARAMETER for text outside the subset
     * (logged with the column).
     */
    wmi_status (*set_sink_security)(struct wmi_event_sink *self, const char *sddl);

    /*
     * set_batching_parameters - IWbemEventSink::SetBatchingParameters:
     * @flags WBEM_FLAG_BATCH_IF_NEEDED, WBEM_FLAG_MUST_BATCH or
     * WBEM_FLAG_MUST_NOT_BATCH; @max_buffer_bytes (bytes of events as JSON
     * text) and @max_send_latency_ms bound how long MUST_BATCH holds
     * events.  WBEM_E_INVALID_PARAMETER for other flags or zero bounds.
     */
    wmi_status (*set_batching_parameters)(struct wmi_event_sink *self, int32_t flags, uint32_t max_buffer_bytes,
                                          uint32_t max_send_latency_ms);

    /* release - the provider is done with a restricted sink (a no-op for
     * the sink of provide_events). */
    void (*release)(struct wmi_event_sink *self);
};

/*
 * struct wmi_event_provider - an event provider (IWbemProviderInit +
 * IWbemEventProvider, and optionally IWbemEventProviderQuerySink and
 * IWbemEventProviderSecurity).  Registered with a __Win32Provider and an
 * __EventProviderRegistration whose EventQueryList says what it supplies.
 * Every call but indicate comes on the host's loop thread and must not
 * block for long.
 */
struct wmi_event_provider {
    /*
     * initialize - set the provider up; @registration is the
     * __EventProviderRegistration (borrowed for the call).  Returns
     * WBEM_S_INITIALIZED (0) or a WBEM error, in which case the host logs
     * it, does not call shutdown (free what you took), and does not use
     * the provider.
     */
    wmi_status (*initialize)(const struct wmi_host *host, const wmi_object *registration, void **provider);

    /*
     * provide_events - IWbemEventProvider::ProvideEvents: keep @sink (valid
     * until shutdown returns) and indicate into it, from threads of the
     * provider's own or from host loop callbacks.  Called once, after
     * initialize.  WBEM_S_NO_ERROR, or an error: the provider is then shut
     * down and reported.
     */
    wmi_status (*provide_events)(void *provider, struct wmi_event_sink *sink);

    /*
     * new_query - IWbemEventProviderQuerySink::NewQuery (optional, NULL):
     * a subscription that the registration covers became active (at load,
     * or when a reload creates it); @id names it until cancel_query(@id).
     * @language is "WQL".  The provider may produce only what is asked.
     * is_active already counts the new subscription when new_query runs.
     */
    wmi_status (*new_query)(void *provider, uint32_t id, const char *language, const char *query);
    /* cancel_query - the subscription @id went away (optional). */
    wmi_status (*cancel_query)(void *provider, uint32_t id);

    /*
     * access_check - IWbemEventProviderSecurity::AccessCheck (optional):
     * may a subscription created by @creator_sid ("S-1-22-1-<uid>", or
     * "S-1-5-32-544" for administrators) receive what @query selects?
     * WBEM_S_NO_ERROR allows; any failure (WBEM_E_ACCESS_DENIED) makes the
     * filter inactive, as in WMI, visible in Stats and the log.  Called
     * before new_query for that subscription.
     */
    wmi_status (*access_check)(void *provider, const char *language, const char *query, const char *creator_sid);

    /* shutdown - free the provider; its sinks are invalid afterwards. */
    void (*shutdown)(void *provider);
};

/*
 * struct wmi_unbound_object_sink - a physical consumer (IWbemUnboundObjectSink).
 *
 * A plugin allocates one of these (usually embedded as the first member of
 * its own struct) in find_consumer and the host keeps it until it calls
 * release.  One sink may serve several logical consumers.
 */
struct wmi_unbound_object_sink {
    /*
     * indicate_to_consumer - deliver @n (>= 1) events for @logical_consumer
     * (an instance of the consumer's class, e.g. LogFileEventConsumer).
     * @events[0..n-1] are instances of __Event subclasses.  All borrowed.
     * Returns WBEM_S_NO_ERROR, or a WBEM error, which the host logs and
     * counts against the consumer (a later release raises
     * __ConsumerFailureEvent for it).  n > 1 when events queued up while
     * the previous call ran (automatic batching), never above max_batch.
     */
    wmi_status (*indicate_to_consumer)(struct wmi_unbound_object_sink *self,
                                       const wmi_object *logical_consumer, size_t n,
                                       wmi_object *const *events);

    /* release - the host is done with the sink; free it. */
    void (*release)(struct wmi_unbound_object_sink *self);
};

/*
 * struct wmi_event_consumer_provider - a consumer provider
 * (IWbemProviderInit + IWbemEventConsumerProvider).
 */
struct wmi_event_consumer_provider {
    /*
     * max_batch - the largest n the host may pass to indicate_to_consumer;
     * 0 means 1 (no batching).
     */
    uint32_t max_batch;

    /* deadline_ms - time budget of one indicate_to_consumer call in ms;
     * 0 means the host default (100 ms). */
    uint32_t deadline_ms;

    /*
     * initialize - set the provider up.  @registration is the
     * __EventConsumerProviderRegistration instance that names it (borrowed
     * for the call).  Store the provider's state in *@provider.  Returns
     * WBEM_S_INITIALIZED (0) or a WBEM error (WBEM_E_FAILED), in which case
     * the host logs it, does not call shutdown, and does not use the
     * provider.
     */
    wmi_status (*initialize)(const struct wmi_host *host, const wmi_object *registration,
                             void **provider);

    /*
     * find_consumer - return the physical consumer for @logical_consumer
     * (borrowed) in *@sink.  Returns WBEM_S_NO_ERROR, or a WBEM error such
     * as WBEM_E_NOT_FOUND or WBEM_E_INVALID_PARAMETER (a logical consumer
     * whose settings are unusable), which the host logs; events for that
     * logical consumer are then dropped and counted (dropped.no_sink in
     * the daemon's Stats).
     */
    wmi_status (*find_consumer)(void *provider, const wmi_object *logical_consumer,
                                struct wmi_unbound_object_sink **sink);

    /* shutdown - every sink has been released; free the provider. */
    void (*shutdown)(void *provider);
};

/*
 * struct wmi_plugin - what wmi_plugin_entry returns.  Static and const in
 * the plugin: the host never frees or changes it.
 */
struct wmi_plugin {
    uint32_t abi_major;   /* WMI_PLUGIN_ABI_MAJOR the plugin was built with */
    uint32_t abi_minor;   /* WMI_PLUGIN_ABI_MINOR the plugin was built with */
    size_t size;          /* sizeof(struct wmi_plugin) in the plugin */
    const char *name;     /* short name for logs, e.g. "logfile" */
    const char *version;  /* the plugin's own version string */

    /* The consumer provider, or NULL if the plugin provides none. */
    const struct wmi_event_consumer_provider *consumer_provider;

    /* The event provider (ABI 1.1), or NULL if the plugin provides none. */
    const struct wmi_event_provider *event_provider;
};

/* The type of wmi_plugin_entry. */
typedef const struct wmi_plugin *(*wmi_plugin_entry_fn)(uint32_t host_abi_major);

/*
 * WMI_PLUGIN_DESCRIPTOR - fill the header fields of a struct wmi_plugin:
 *
 *   static const struct wmi_plugin plugin = {
 *       WMI_PLUGIN_DESCRIPTOR("myconsumer", "1.0"),
 *       .consumer_provider = &my_provider,
 *   };
 */
#define WMI_PLUGIN_DESCRIPTOR(name_, version_)                                     \
    .abi_major = WMI_PLUGIN_ABI_MAJOR, .abi_minor = WMI_PLUGIN_ABI_MINOR,          \
    .size = sizeof(struct wmi_plugin), .name = (name_), .version = (version_)

/* The entry point every plugin defines (declared here so it is exported). */
__attribute__((visibility("default")))
const struct wmi_plugin *wmi_plugin_entry(uint32_t host_abi_major);

#ifdef __cplusplus
}
#endif
#endif /* WMIEVENT_PLUGIN_H */
