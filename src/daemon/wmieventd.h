/*
 * wmieventd.h - the records every subsystem of the daemon shares: the
 * settings, the objects of a configuration, the namespaces events are
 * raised in, and the clock.  Each
 * subsystem has its own header in its folder (docs/architecture.md).
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

/* ====================================================================
 * Settings: wmieventd.json, read by config/config.c, read-only after
 * start-up or a reload for every subsystem
 * ==================================================================== */

struct wmid_hosting;

struct wmid_settings {
    char *config_path;
    char *socket_path;
    int socket_gid;              /* -1: leave the group alone */
    long admin_gid;              /* admin_group: its members are Administrators; -1: root only */
    /* consumer_user, consumer_group: the service identity the consumers
     * of administrators act as (-1: the daemon's own, root); the consumers
     * of anyone else act as their creator (docs/security.md). */
    long consumer_uid;
    long consumer_gid;
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
    /* Not read from the file: the daemon's isolated provider hosts
     * (plugins/plugins.h), set by main.c, for the consumer provider loads
     * that are given these settings.  NULL: no isolated hosting. */
    struct wmid_hosting *hosting;
};

/* ====================================================================
 * The objects of a configuration: read by config/config.c and
 * config/namespace.c, built into the routing snapshot by the engine,
 * served by the providers
 * ==================================================================== */

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

/* ====================================================================
 * Namespaces every subsystem names (config/config.h has the rest)
 * ==================================================================== */

/* Where events are raised: those of the built-in providers and instance
 * pollers in root\cimv2; the rest (the repository, timer instructions,
 * the delivery engine, socket producers and plugin event providers) in the
 * namespace of what raises them, root\subscription unless it says. */
#define WMID_NS_EVENTS       "root\\cimv2"
#define WMID_NS_SUBSCRIPTION "root\\subscription"
/* The namespace of objects and requests that name none. */
#define WMID_NS_DEFAULT      WMID_NS_SUBSCRIPTION

/* The longest namespace name, in bytes (buffers hold WMID_NS_MAX + 1). */
#define WMID_NS_MAX 255

/* ====================================================================
 * Errors (log.c): every error is a wmi_error, filled by the library's one
 * helper, wmi_error_set
 * ==================================================================== */

/* wmi_error_set(@err, @st, @source, 0, 0, @fmt, ...) for the daemon's
 * loaders and checks, which report an error with no line or column (an
 * object, a property, a request) and return false. */
bool wmid_fail(wmi_error *err, wmi_status st, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ====================================================================
 * The daemon's one clock (clock.c)
 * ==================================================================== */

/* CLOCK_MONOTONIC in nanoseconds and in milliseconds: every duration,
 * deadline and moment the daemon keeps is on this clock. */
uint64_t wmid_now_ns(void);
uint64_t wmid_now_ms(void);
/* A wmid_now_ms() moment as a DMTF datetime in UTC for Stats (new
 * reference), or JSON null for 0 (never). */
json_t *wmid_moment_json(uint64_t t);

#endif /* WMIEVENTD_H */
