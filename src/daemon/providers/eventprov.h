/*
 * eventprov.h - the event provider host: plugin event providers
 * (wmi_event_provider, include/wmievent/plugin.h) and their event sinks
 * (IWbemEventSink).  See eventprov.c.
 */
#ifndef WMID_EVENTPROV_H
#define WMID_EVENTPROV_H

#include "daemon/wmieventd.h"
#include "daemon/plugins/loader.h"

struct wmid_router;

struct wmid_delivery;
struct wmid_lifecycle;

/* The event provider host (a handle, main.c's; every entry point below
 * that takes @E works on it). */
struct wmid_eventprov;

/* Set the host up: the loop (whose thread is the only one that routes),
 * the delivery engine (for back-pressure), the settings, and the idle
 * timer to tell when a provider loads (NULL: none).  A new handle, freed
 * by eventprov_shutdown; NULL: out of memory.  Loop thread, once, before
 * eventprov_sync. */
struct wmid_eventprov *eventprov_new(uv_loop_t *loop, struct wmid_delivery *d, const struct wmid_settings *s,
                                     struct wmid_lifecycle *lc);

/*
 * A router is in place (start, reload).  For each provider it registers
 * as an event provider (router_provider_events): when it is not loaded and
 * a filter wants its events, load and initialize it and call
 * provide_events (once); give its sinks the new registration and
 * schema; run AccessCheck for subscriptions it has not seen (a refusal
 * marks the filter inactive, WBEM_E_ACCESS_DENIED), NewQuery for the new
 * ones and CancelQuery for those gone; and recompute every sink's
 * IsActive.  A provider the router no longer registers is shut down.
 * Failures are logged and kept for Stats; they never stop other
 * providers.  Loop thread.
 */
void eventprov_sync(struct wmid_eventprov *E, struct wmid_router *r);

/*
 * Shut down the plugin event providers whose sinks have all been inactive
 * for the __EventProviderCacheControl.ClearAfter of the router of the last
 * sync; the built-in ones stay.  Returns when the next one may be due
 * (UINT64_MAX: none is idle; one that goes idle tells the idle timer).  A
 * sweep of the idle timer (lifecycle_add_sweep, @arg the host).  Loop
 * thread.
 */
uint64_t eventprov_sweep_idle(void *arg, uint64_t now_ms);

/* Shut @p's event side down, if loaded: its timers and fd watches stop,
 * shutdown is called, then its sinks refuse further events.  Events it
 * indicated before are still routed.  Loop thread. */
void eventprov_unload(struct wmid_provider *p);

/* The delivery engine drained (its resume callback, through control.c):
 * route what the ingress queue kept back.  Loop thread. */
void eventprov_resume(struct wmid_eventprov *E);

/* At exit, after every provider is unloaded: drop what is still waiting
 * to be routed (counted), close the host's handles; the handle is freed
 * when libuv has closed them (the loop must run once more).  NULL is
 * ignored.  Loop thread. */
void eventprov_shutdown(struct wmid_eventprov *E);

/* @p's event side for Stats (new reference), or NULL when it has none. */
json_t *eventprov_stats_json(const struct wmid_provider *p);

/*
 * Serve a built-in event provider (the process connector) exactly as a
 * plugin is served, without a library: a registration with @queries (WQL
 * texts, copied) is made for it, its publisher identity is LocalSystem
 * (S-1-5-18), and it is loaded at the next eventprov_sync.  @ep is
 * borrowed and must stay valid until eventprov_remove_builtin.  @context
 * is what a built-in's initialize finds in *provider (its out-parameter,
 * set to @context before each call), for it to keep or replace; a plugin's
 * finds NULL there.  Loop thread.
 */
void eventprov_add_builtin(struct wmid_eventprov *E, const char *name, const struct wmi_event_provider *ep, const char *const *queries,
                           size_t nqueries, void *context);
/* Shut a built-in provider down (its shutdown is called) and forget it. */
void eventprov_remove_builtin(struct wmid_eventprov *E, const struct wmi_event_provider *ep);
/* The built-in providers for Stats, by name (new reference). */
json_t *eventprov_builtin_stats_json(struct wmid_eventprov *E);

#endif /* WMID_EVENTPROV_H */
