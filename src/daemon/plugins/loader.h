/*
 * loader.h - plugins: the provider record, dlopen and the ABI handshake,
 * and a consumer provider loaded in this process.  The daemon and
 * wmieventd-host both link loader.c; how the daemon loads a consumer
 * provider (in-process or in a host) is consumers.h.
 */
#ifndef WMID_PLUGINS_LOADER_H
#define WMID_PLUGINS_LOADER_H

#include "daemon/wmieventd.h"

/* The largest max_batch a consumer provider may declare. */
#define WMID_MAX_BATCH 65536

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
    wmi_error error;              /* load outcome: status and message for Stats */
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
    /* Set by the event provider host with @ev: shuts the event side down
     * when the provider itself goes (the engine's last reference), so
     * that the engine need not know the event side.  Loop thread. */
    void (*ev_release)(struct wmid_provider *p);
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
/* Load @p's library in this process and initialize its consumer provider
 * with @schema; on failure logs one line, records status, returns false.
 * p->hosting_model is not looked at. */
bool plugin_load_in_process(struct wmid_provider *p, const wmi_schema *schema);
/* Shut down and unload what plugin_load_in_process loaded. */
void plugin_unload_in_process(struct wmid_provider *p);

#endif /* WMID_PLUGINS_LOADER_H */
