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

#include "object.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version of this header.  A change of major breaks plugins. */
#define WMI_PLUGIN_ABI_MAJOR 1
#define WMI_PLUGIN_ABI_MINOR 0

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

    /* Reserved for event providers (a later minor version); NULL. */
    const void *event_provider;
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
