/*
 * instance.h - instance providers inside the daemon.
 *
 * An instance provider serves the instances of one (non-abstract) class:
 * Win32_Process from /proc, Win32_LogicalDisk from the mount table, ...
 * It is the daemon's counterpart of a WMI instance provider
 * (IWbemServices::CreateInstanceEnumAsync, read-only), and what the
 * intrinsic event poller (intrinsic.c) and the EnumInstances control
 * request use.
 *
 * The interface is shaped so that a later plugin ABI (wmievent/plugin.h,
 * a "wmi_instance_provider" descriptor next to wmi_event_consumer_provider)
 * can expose it unchanged to third-party .so providers:
 *   - every entry point takes an opaque state from open(), no globals;
 *     what the built-in providers share across their states is the
 *     daemon's struct wmid_instance_env (below), given at open();
 *   - instances cross the interface as wmi_object (public type), borrowed
 *     for the duration of a callback, as consumer plugins get events;
 *   - statuses are WBEM statuses;
 *   - enumerate() is synchronous and is called on one thread at a time
 *     (today the loop thread); a provider must not block for long (a
 *     plugin ABI would let slow providers run on a worker thread);
 *   - push (subscribe) is optional: a provider that learns of changes by
 *     itself (the process connector, inotify) reports them on the loop
 *     thread, and the poller then need not poll for those kinds.
 */
#ifndef WMID_INSTANCE_H
#define WMID_INSTANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <uv.h>

#include "wmievent.h"
#include "daemon/config/config.h"

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

#endif /* WMID_INSTANCE_H */
