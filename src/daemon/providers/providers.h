/*
 * providers.h - the event sources: instance providers and their registry (instance.c,
 * registry.c and the providers), WITHIN polling (intrinsic.c, snapshot.c), the host of plugin
 * event providers (eventprov.c), process traces (process_trace.c) and timer instructions
 * (timer.c).  The one header of src/daemon/providers.
 */
#ifndef WMID_PROVIDERS_PROVIDERS_H
#define WMID_PROVIDERS_PROVIDERS_H

#include <stdbool.h>
#include <stddef.h>
#include "wmievent.h"
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <uv.h>
#include "daemon/config/config.h"
#include "daemon/wmieventd.h"
#include "daemon/plugins/plugins.h"

/* ====================================================================
 * snapshot.c - instances keyed by object path, and the changes between two
 * such snapshots: what the WITHIN pollers (intrinsic.c) and the
 * repository's event source (repository_events.c) both diff.  Loop thread;
 * a snapshot is immutable once shared (snapshot_ref).
 * ==================================================================== */

/* Kinds of intrinsic instance events. */
#define WMID_KIND_CREATION     0x1u
#define WMID_KIND_DELETION     0x2u
#define WMID_KIND_MODIFICATION 0x4u

struct wmid_snapshot;

struct wmid_snapshot *snapshot_new(void);
struct wmid_snapshot *snapshot_ref(struct wmid_snapshot *s);
void snapshot_unref(struct wmid_snapshot *s);
/* Add @inst (a reference is taken), keyed by wmi_object_get_path; false
 * when it has no path or out of memory.  A second instance with the same
 * path replaces the first. */
bool snapshot_add(struct wmid_snapshot *s, wmi_object *inst);
/* The same, keyed by the path in lower case when @fold_case: the
 * repository's keys compare without case, as WMI compares string keys, so
 * that a change of case is a modification. */
bool snapshot_add_keyed(struct wmid_snapshot *s, wmi_object *inst, bool fold_case);
/* A copy of @s without the instance at @path (a new snapshot; NULL: out
 * of memory). */
struct wmid_snapshot *snapshot_without(const struct wmid_snapshot *s, const char *path);
size_t snapshot_count(const struct wmid_snapshot *s);
/* Call @fn with each instance (borrowed), in insertion order. */
void snapshot_foreach(const struct wmid_snapshot *s, void (*fn)(wmi_object *inst, void *arg), void *arg);
/* The same with the key each instance is kept under. */
void snapshot_foreach_keyed(const struct wmid_snapshot *s, void (*fn)(const char *path, wmi_object *inst, void *arg),
                            void *arg);
/* The instance with @path, or NULL.  Borrowed. */
wmi_object *snapshot_get(const struct wmid_snapshot *s, const char *path);

/* One change: @target is the instance now (the deleted one for a
 * deletion); @previous the old state of a modification, else NULL. */
typedef void (*wmid_change_fn)(unsigned kind, wmi_object *target, wmi_object *previous, void *arg);

/*
 * The changes from @prev to @cur, of the kinds in @kinds: creations and
 * modifications in @cur's order, then deletions in @prev's order.  An
 * instance is modified when its JSON differs (json_equal).  Returns the
 * number of changes reported.
 */
size_t snapshot_diff(const struct wmid_snapshot *prev, const struct wmid_snapshot *cur, unsigned kinds,
                     wmid_change_fn fn, void *arg);

/* ====================================================================
 * instance.c, registry.c - instance providers inside the daemon.  An instance provider
 * serves the instances of one (non-abstract) class: Win32_Process from
 * /proc, Win32_LogicalDisk from the mount table, ... It is the daemon's
 * counterpart of a WMI instance provider
 * (IWbemServices::CreateInstanceEnumAsync, read-only), and what the
 * intrinsic event poller (intrinsic.c) and the EnumInstances control
 * request use.  The interface is shaped so that a later plugin ABI
 * (wmievent/plugin.h, a "wmi_instance_provider" descriptor next to
 * wmi_event_consumer_provider) can expose it unchanged to third-party .so
 * providers: - every entry point takes an opaque state from open(), no
 * globals; what the built-in providers share across their states is the
 * daemon's struct wmid_instance_env (below), given at open(); - instances
 * cross the interface as wmi_object (public type), borrowed for the
 * duration of a callback, as consumer plugins get events; - statuses are
 * WBEM statuses; - enumerate() is synchronous and is called on one thread
 * at a time (today the loop thread); a provider must not block for long (a
 * plugin ABI would let slow providers run on a worker thread); - push
 * (subscribe) is optional: a provider that learns of changes by itself (the
 * process connector, inotify) reports them on the loop thread, and the
 * poller then need not poll for those kinds.
 * ==================================================================== */

struct wmid_instance_env;

/* Called once per instance; @inst is borrowed (ref it to keep it). */
typedef void (*wmid_instance_fn)(wmi_object *inst, void *arg);

/* What a provider can push (wmid_instance_provider.push, and
 * wmid_instance_sink.pushing). */
#define WMID_PUSH_CREATION     0x1u
#define WMID_PUSH_DELETION     0x2u
#define WMID_PUSH_MODIFICATION 0x4u

/*
 * Changes a pushing provider reports (loop thread; objects borrowed).
 * @previous is the state before a modification.
 *
 * pushing() says which kinds (WMID_PUSH_*) the provider reports from now
 * on; it may be called from subscribe() and later, whenever the source
 * changes (the process connector proves itself after start, a watched
 * directory goes away).  Until it is called the provider reports nothing
 * and the caller polls.  Kinds not in the last pushing() mask must be
 * found by enumerating.
 */
struct wmid_instance_sink {
    void (*created)(void *arg, wmi_object *inst);
    void (*deleted)(void *arg, wmi_object *inst);
    void (*modified)(void *arg, wmi_object *inst, wmi_object *previous);
    void (*pushing)(void *arg, unsigned kinds);
    void *arg;
};

/* Flags of wmid_instance_provider.flags. */
/* It returns instances of class_name's subclasses too, and so serves a
 * query on any of them (the repository: every __EventConsumer subclass). */
#define WMID_IP_SUBCLASSES 0x1u
/* Not polled: its changes are raised as events by the daemon itself
 * (the repository: repository_update), so that intrinsic.c leaves it out
 * and its filters need no WITHIN, as WMI raises the events of repository
 * objects itself.  It still serves EnumInstances. */
#define WMID_IP_NO_WITHIN  0x2u
/* It may hold instances of any class (serves_subclass decides): the
 * repository holds the instances of the administrator's own classes. */
#define WMID_IP_ANY_CLASS  0x4u

struct wmid_instance_provider {
    const char *name;            /* for logs: "Win32_Process (/proc)" */
    const char *class_name;      /* class of every instance it returns */
    unsigned push;               /* WMID_PUSH_* it may report via subscribe */
    unsigned flags;              /* WMID_IP_* */
    /* Not 0: WMI has an event provider for the class (Win32_LocalTime's
     * clock provider), so an intrinsic event query on it needs no WITHIN;
     * without one it is polled every event_interval_ms. */
    unsigned event_interval_ms;
    /* Optional, for WMID_IP_SUBCLASSES: does it hold instances of @target,
     * a subclass of class_name?  (The repository holds no events.) */
    bool (*serves_subclass)(const wmi_class *target);
    /* A new provider state in @env, which providers whose states share
     * something (the process feed, stuck statvfs calls, the repository's
     * instances) take it from, and the others ignore; NULL when the source
     * is unusable (logged).  @env and @schema are borrowed and outlive the
     * state.  NULL for providers that need a scope (below). */
    void *(*open)(struct wmid_instance_env *env, const wmi_schema *schema);
    void (*close)(void *state);
    /* Call @fn once per current instance.  WBEM_S_NO_ERROR, or a failure
     * status (the instances given so far stand). */
    wmi_status (*enumerate)(void *state, wmid_instance_fn fn, void *arg);
    /* Optional (NULL when push == 0): start reporting changes to @sink
     * on @loop until unsubscribe.  @sink is copied. */
    bool (*subscribe)(void *state, uv_loop_t *loop, const struct wmid_instance_sink *sink);
    void (*unsubscribe)(void *state);
    /*
     * Optional, for providers that cannot list every instance of their
     * class (CIM_DataFile: every file on the machine), WMI's
     * ExecQuery-only providers.  scope() reads what @query (an event
     * query naming TargetInstance) narrows them to, as a canonical
     * string (new malloc'd; equal strings for equal scopes, so that
     * filters can share a poller), or NULL with @err filled when the
     * query is too broad.  open_scoped() opens a state serving that
     * scope only.  Such providers are left out of enumerations without a
     * scope (instance_enumerate) and of queries on an ancestor class that
     * other providers serve.
     */
    char *(*scope)(const wmi_schema *schema, const wmi_query *query, wmi_error *err);
    void *(*open_scoped)(struct wmid_instance_env *env, const wmi_schema *schema, const char *scope);
};

/* The built-in providers (src/daemon/providers). */
extern const struct wmid_instance_provider wmid_ip_win32_process;
extern const struct wmid_instance_provider wmid_ip_logical_disk;
extern const struct wmid_instance_provider wmid_ip_operating_system;
extern const struct wmid_instance_provider wmid_ip_local_time;
extern const struct wmid_instance_provider wmid_ip_utc_time;
extern const struct wmid_instance_provider wmid_ip_data_file;
extern const struct wmid_instance_provider wmid_ip_directory;
extern const struct wmid_instance_provider wmid_ip_repository;

/* Facts of this machine the providers put in their instances, read at the
 * first use and kept in the env (struct wmid_instance_env.facts), so that
 * no provider keeps state of its own. */
struct wmid_host_facts {
    char host[256];              /* "" until read */
    char caption[256];           /* "" until read */
    int64_t boot_usec;           /* 0 until read */
};

/*
 * What the built-in providers share across their states, one per daemon:
 * main.c makes it (instance_env_new) and hands it to what opens
 * providers (intrinsic_start), to the process connector (proc_start) and
 * to repository_update, and frees it once they have stopped.  Any field
 * may be NULL (out of memory): what needs it then does without.  Loop
 * thread.
 */
struct wmid_process_feed;
struct wmid_statvfs_calls;
struct wmid_repo_snapshot;
struct wmid_proc;
struct wmid_instance_env {
    struct wmid_process_feed *processes;   /* exec and exit for Win32_Process states (win32_process.c) */
    struct wmid_statvfs_calls *statvfs;    /* statvfs calls stuck on dead mounts (logical_disk.c) */
    struct wmid_repo_snapshot *repository; /* the repository's last load (repository_events.c) */
    struct wmid_proc *proc;                /* the process connector while it runs (process_trace.c) */
    struct wmid_host_facts facts;          /* what every provider reads of the machine (instance.c) */
};
struct wmid_instance_env *instance_env_new(void);
void instance_env_free(struct wmid_instance_env *env);
/* The pieces of an env, each made and freed by its file. */
struct wmid_process_feed *process_feed_new(void);
void process_feed_free(struct wmid_process_feed *f);
struct wmid_statvfs_calls *statvfs_calls_new(void);
void statvfs_calls_free(struct wmid_statvfs_calls *c);
struct wmid_repo_snapshot *repo_snapshot_new(void);
void repo_snapshot_free(struct wmid_repo_snapshot *rs);

/* A state of @ip in @env (open; open_scoped for @scope). */
void *instance_open(struct wmid_instance_env *env, const struct wmid_instance_provider *ip, const wmi_schema *schema,
                    const char *scope);

/*
 * The repository (providers/repository_events.c): the objects of the object dir
 * and those created at run time, of every class without an instance
 * provider (filters, consumers, bindings, registrations, timer
 * instructions, and instances of the administrator's own classes).  The
 * daemon calls repository_update with the objects it loaded, at start
 * (no events; @r NULL) and after each reload or change: each creation,
 * deletion and modification (instances compared by path, then by value)
 * is raised as __InstanceCreationEvent, __InstanceDeletionEvent or
 * __InstanceModificationEvent through @r, so that any filter takes them,
 * with or without WITHIN or ISA, as in WMI.  It serves EnumInstances as
 * an instance provider (class __SystemClass and below, and the classes
 * of its instances).  The last load is kept in env->repository.  Loop
 * thread.
 */
struct wmid_objects;
struct wmid_router;
void repository_update(struct wmid_instance_env *env, const struct wmid_objects *o, struct wmid_router *r);

/* Does @ip serve the instances of @target (the class named in a query's
 * ISA, or an enumeration)?  Its class is @target or derives from it, or
 * (WMID_IP_SUBCLASSES) @target derives from its class. */
bool instance_provider_serves(const wmi_schema *schema, const struct wmid_instance_provider *ip,
                              const char *target);

/* Every built-in provider; *@n receives the count. */
const struct wmid_instance_provider *const *instance_providers(size_t *n);

/*
 * The providers whose class is @class_name or derives from it (a deep
 * enumeration, as WMI's default): up to @max into @out; returns how many
 * match (which may exceed @max).  @schema resolves the classes.
 */
size_t instance_providers_for(const wmi_schema *schema, const char *class_name,
                              const struct wmid_instance_provider **out, size_t max);
/* The same without the providers that are not polled (WMID_IP_NO_WITHIN):
 * what intrinsic.c serves. */
size_t instance_polled_providers_for(const wmi_schema *schema, const char *class_name,
                                     const struct wmid_instance_provider **out, size_t max);
/* The interval (ms) at which a query on @class_name without WITHIN is
 * polled: the longest event_interval_ms of its polled providers, or 0 when
 * one of them has none (the query then needs WITHIN). */
unsigned instance_event_interval_ms(const wmi_schema *schema, const char *class_name);

/*
 * Enumerate every instance of @class_name and its subclasses (open in
 * @env, enumerate, close each matching provider but @skip, whose
 * instances the caller lists itself (the repository's, per namespace;
 * NULL: none)).  WBEM_E_INVALID_CLASS when
 * the schema has no such class, WBEM_E_NOT_SUPPORTED when no provider
 * serves it or a subclass, WBEM_E_INVALID_QUERY when only providers that
 * need a scope do (CIM_DataFile: name the directory in a query), else
 * the first provider failure or WBEM_S_NO_ERROR.  Providers that need a
 * scope are skipped.
 */
wmi_status instance_enumerate(struct wmid_instance_env *env, const wmi_schema *schema, const char *class_name,
                              const struct wmid_instance_provider *skip, wmid_instance_fn fn, void *arg);

/*
 * Process events for the Win32_Process provider (win32_process.c), fed
 * by the process connector (process_trace.c) on the loop thread into
 * env->processes (@f; NULL is ignored).  The connector calls
 * process_feed_source(f, true) once the netlink source is proven (false
 * if it stops), then _exec and _exit with the pid (thread group id) of
 * every exec and exit, and _overrun when it lost events.  Win32_Process
 * states of that env that subscribed turn them into pushed creations and
 * deletions; with no subscriber they cost nothing.
 */
void process_feed_source(struct wmid_process_feed *f, bool pushing);
void process_feed_exec(struct wmid_process_feed *f, int pid);
void process_feed_exit(struct wmid_process_feed *f, int pid);
void process_feed_overrun(struct wmid_process_feed *f);

/* ---- helpers shared by the providers (instance.c) ---- */

/*
 * wmi_query_equalities with copies the caller owns: the string values that @prop (e.g. "TargetInstance.Path", compared
 * without case) must equal for @query to select an event: from the first
 * term of the WHERE's top-level AND chain that is `prop = "v"` (either
 * way round) or an OR of such equalities.  The count, with the values in
 * a new array *@out (free each, then the array); 0 (and *@out NULL) when
 * no such term narrows every event (none, or an OR at the top).
 */
size_t instance_query_equalities(const wmi_query *query, const char *prop, char ***out);

/* Read a small file into @buf (NUL-terminated); bytes read or -1. */
ssize_t instance_read_file(const char *path, char *buf, size_t len);
/* The target of a /proc symlink (exe, cwd), " (deleted)" removed; a new
 * malloc'd string or NULL.  (providers/win32_process.c) */
char *instance_read_link(const char *path);
/* /proc/PID/cmdline with NULs as spaces (new string, NULL for kernel
 * threads or when unreadable); *@argv0 gets a copy of the first argument
 * (free it; may be NULL).  (providers/win32_process.c) */
char *instance_proc_cmdline(int pid, char **argv0);
/* The host name. */
const char *instance_host_name(struct wmid_host_facts *hf);
/* The local UTC offset in minutes east of UTC, for @t. */
int instance_utc_offset(time_t t);
/* Put a DMTF datetime of @usec (microseconds since the epoch) in local time. */
wmi_status instance_put_datetime(wmi_object *o, const char *name, int64_t usec);
/* PRETTY_NAME of /etc/os-release (else /usr/lib/os-release), else "Linux". */
const char *instance_os_caption(struct wmid_host_facts *hf);
/* Boot time in microseconds since the epoch (btime of /proc/stat). */
int64_t instance_boot_usec(struct wmid_host_facts *hf);

/* ====================================================================
 * intrinsic.c - intrinsic instance events (__InstanceCreationEvent,
 * __InstanceDeletionEvent, __InstanceModificationEvent and their parent
 * __InstanceOperationEvent) for classes served by an instance provider
 * (above): pushed by the provider where it can, else polled at each
 * filter's WITHIN interval.  A filter is served here when its FROM class
 * selects instance operation events and its WHERE narrows TargetInstance
 * with `TargetInstance ISA 'Class'` in the top-level AND chain, where Class
 * or a subclass of it has a provider.  Such a filter needs WITHIN
 * (WBEMESS_E_REGISTRATION_TOO_PRECISE without it: intrinsic_check_filter,
 * called where filters are validated), as in WMI, even when its events turn
 * out to be pushed.  One poller per provider (and scope, for providers such
 * as CIM_DataFile that serve what the query names) serves every filter on
 * it.  The kinds the provider pushes (the process connector: Win32_Process
 * creations and deletions; inotify: files) are told at once, sooner than
 * WITHIN as WMI's provider-backed events are, and cost no scan.  The rest
 * are polled: the poller ticks at the shortest interval asked, and keeps
 * one previous snapshot per distinct interval, so each filter is told only
 * at its own interval and sees the changes between its own snapshots.  A
 * group is served at the last tick that does not overshoot its interval, so
 * the delay never exceeds WITHIN.  Pushed modifications are throttled to
 * one per instance per interval (the rest held to the window's end).
 * ==================================================================== */

/* ---- filter analysis (pure; used by router build and tests) ---- */

/* WMID_KIND_* the query's FROM class admits (0 when it selects no
 * instance creation, deletion or modification events). */
unsigned intrinsic_event_kinds(const wmi_schema *schema, const wmi_query *query);

/* True when the query is served by polling an instance provider. */
bool intrinsic_needs_polling(const wmi_schema *schema, const wmi_query *query);

/*
 * Check a filter's query at load: false with @err filled (@err->text says
 * why; the caller sets @err->source) when it needs polling and has no
 * WITHIN (WBEMESS_E_REGISTRATION_TOO_PRECISE), or when its class is
 * served only by providers that need a scope and the query names none
 * (the provider's status: WBEM_E_INVALID_QUERY for CIM_DataFile without
 * TargetInstance.Path).
 */
bool intrinsic_check_filter(const wmi_schema *schema, const wmi_query *query, wmi_error *err);
/* Does WITHIN change what @query receives (a poller serves its target
 * class, or the repository holds it)?  The router's within_has_effect
 * hook: the build warns when a filter's WITHIN has no effect. */
bool intrinsic_within_has_effect(const wmi_schema *schema, const wmi_query *query);

/* The WITHIN of @query in ms, raised to @min_ms; -1 when none. */
int64_t intrinsic_interval_ms(const wmi_query *query, unsigned min_ms);

/*
 * Should a group due at @due be served at a tick at @now, ticks being
 * @tick ms apart?  Yes when waiting for the next tick would overshoot.
 */
bool intrinsic_group_due(uint64_t now, uint64_t tick, uint64_t due);

/* ---- the poller (loop thread) ---- */

struct wmid_intrinsic;

struct wmid_instance_provider;

/* Mark the polled filters of @r and start their pollers, their provider
 * states opened in @env; NULL when no filter needs polling. */
struct wmid_intrinsic *intrinsic_start(uv_loop_t *loop, const struct wmid_settings *s, struct wmid_router *r,
                                       struct wmid_instance_env *env);
/* The same with a given list of providers (tests: fakes). */
struct wmid_intrinsic *intrinsic_start_with(uv_loop_t *loop, const struct wmid_settings *s, struct wmid_router *r,
                                            struct wmid_instance_env *env,
                                            const struct wmid_instance_provider *const *ips, size_t nip);
/* Stop polling; the memory goes once the loop has run the close callbacks.
 * NULL is ok. */
void intrinsic_stop(struct wmid_intrinsic *in);

/* ====================================================================
 * eventprov.c - the event provider host: plugin event providers
 * (wmi_event_provider, include/wmievent/plugin.h) and their event sinks
 * (IWbemEventSink).  See eventprov.c.
 * ==================================================================== */

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

/* ====================================================================
 * process_trace.c - Win32_ProcessStartTrace / StopTrace
 * ==================================================================== */

struct wmid_proc;
struct wmid_instance_env;
struct wmid_eventprov;
/* Start the process connector of @env (env->proc); its events go out
 * through @ep as those of the built-in event provider "ProcessTrace"
 * (eventprov_add_builtin), from the next eventprov_sync on, and its execs
 * and exits into env->processes.  Loop thread. */
struct wmid_proc *proc_start(uv_loop_t *loop, const struct wmid_settings *s, struct wmid_instance_env *env,
                             struct wmid_eventprov *ep);
void proc_stop(struct wmid_proc *p);

/* ====================================================================
 * timer.c - __IntervalTimerInstruction / __AbsoluteTimerInstruction
 * ==================================================================== */

struct wmid_timers;
/* Check the timer instructions among the loaded objects (for -n too). */
bool timers_check(const struct wmid_objects *o, wmi_error *err);
/* Start a uv timer per instruction; they raise __TimerEvent. */
struct wmid_timers *timers_start(uv_loop_t *loop, const struct wmid_objects *o, struct wmid_router *r);
void timers_stop(struct wmid_timers *ts);

#endif /* WMID_PROVIDERS_PROVIDERS_H */
