/*
 * plugins.h - consumer providers: the loader and its handshake (loader.c, shared with
 * wmieventd-host), the wire between the daemon and a host process (hostproto.c), in-process
 * or hosted loading (consumers.c), and isolated hosting (hosting.c).  The one header of
 * src/daemon/plugins.
 */
#ifndef WMID_PLUGINS_PLUGINS_H
#define WMID_PLUGINS_PLUGINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "daemon/wmieventd.h"
#include "wmievent.h"

/* ====================================================================
 * hostproto.c - the wire between wmieventd (hosting.c) and the isolated
 * provider host wmieventd-host (src/host/host.c).  Both ends speak
 * length-prefixed JSON over one socketpair: each frame is a 4-byte
 * big-endian payload length followed by that many bytes holding one JSON
 * object.  Frames are bounded (WMID_HOST_MAX_REQUEST towards the host,
 * WMID_HOST_MAX_REPLY back), so that neither side can be made to buffer
 * without limit; a frame over its bound, or a payload that is not a JSON
 * object, means the peer is broken.  docs/hosting.md describes the
 * messages.
 * ==================================================================== */

/* The descriptor number the host finds its end of the socketpair on. */
#define WMID_HOST_FD 3
/* Largest frame the daemon sends (a batch of events). */
#define WMID_HOST_MAX_REQUEST (64u * 1024 * 1024)
/* Largest frame the host sends (replies are small). */
#define WMID_HOST_MAX_REPLY (1024u * 1024)
/* Time allowed for a control call (start, Load, FindConsumer, Release,
 * Unload), in ms: plugins may do real work in initialize. */
#define WMID_HOST_CONTROL_MS 5000
/* A call to IndicateToConsumer may take this many times the provider's
 * deadline before its host is killed as hung. */
#define WMID_HOST_HARD_LIMIT_FACTOR 10
/* The deadline of a provider whose descriptor says 0 (WMI's 100 ms). */
#define WMID_HOST_DEFAULT_DEADLINE_MS 100

/* A frame under construction: the first 4 bytes hold the length once
 * sealed. */
struct hp_buf {
    char *data;
    size_t len, cap;
};

/* Start a new frame (keeps the allocation). */
void hp_buf_reset(struct hp_buf *b);
bool hp_buf_append(struct hp_buf *b, const char *s, size_t n);
bool hp_buf_printf(struct hp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append @j in compact form. */
bool hp_buf_json(struct hp_buf *b, const json_t *j);
/* Payload bytes so far. */
size_t hp_buf_payload(const struct hp_buf *b);
/* Write the length prefix; the frame is data[0..len). */
void hp_buf_seal(struct hp_buf *b);
void hp_buf_free(struct hp_buf *b);
/* A whole frame holding @j; false when out of memory. */
bool hp_buf_frame_json(struct hp_buf *b, const json_t *j);

/* Monotonic clock in ms. */
int64_t hp_now_ms(void);

/*
 * Write all of @data to @fd (blocking or not) before @deadline_ms on the
 * hp_now_ms clock (-1: no deadline).  Returns 0, or -1 with errno set
 * (ETIMEDOUT at the deadline, EPIPE when the peer is gone).
 */
int hp_write_all(int fd, const char *data, size_t len, int64_t deadline_ms);

/* Incoming frames. */
struct hp_reader {
    char *data;
    size_t off, len, cap;
    size_t max;                  /* largest payload accepted */
};

/* One read(2) into the reader: 1 bytes read, 0 end of file, -1 error
 * (errno; EAGAIN when nothing is there on a non-blocking fd). */
int hp_read(int fd, struct hp_reader *r);
/*
 * The next whole frame: 1 with *@msg (a new reference to a JSON object),
 * 0 when more bytes are needed, -1 when the stream is garbage, with *@why
 * saying how.
 */
int hp_next(struct hp_reader *r, json_t **msg, const char **why);
void hp_reader_free(struct hp_reader *r);

/* ====================================================================
 * loader.c - plugins: the provider record, dlopen and the ABI handshake,
 * and a consumer provider loaded in this process.  The daemon and
 * wmieventd-host both link loader.c; how the daemon loads a consumer
 * provider (in-process or in a host) is consumers.c (below).
 * ==================================================================== */

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

#define WMID_RUN_UNKNOWN (-2L)

struct wmid_provider {
    char *name;                   /* __Win32Provider.Name */
    char *library;                /* resolved path */
    char *hosting_model;          /* __Win32Provider.HostingModel; NULL when not set */
    /* The identity this provider record acts as (docs/security.md): with
     * run_as false (a zeroed record) the daemon's own; with run_as the
     * provider runs in a wmieventd-host process of its own with run_uid,
     * run_gid and the user's supplementary groups (run_uid
     * WMID_RUN_UNKNOWN: a creator with no known uid, whom nothing may act
     * as: the load is refused).  Fixed when the record is made. */
    bool run_as;
    long run_uid;
    long run_gid;
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
/* The text a plugin gave with wmi_host.set_error for the
 * indicate_to_consumer call just made on this thread ("" when none):
 * cleared before each call, read after a failed one (borrowed, valid
 * until the next clear or set on this thread).  plugin_call_error_set
 * stands in for the plugin when the call was forwarded (a host process's
 * reply).  Thread-safe: the text is the calling thread's own. */
void plugin_call_error_clear(void);
/* wmi_host.set_error of every host struct the daemon and the host process
 * fill: the text for this thread's call in progress. */
void plugin_host_set_error(const struct wmi_host *host, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void plugin_call_error_set(const char *text);
const char *plugin_call_error(void);
/* Shut down and unload what plugin_load_in_process loaded. */
void plugin_unload_in_process(struct wmid_provider *p);

/* ====================================================================
 * consumers.c - consumer providers as the daemon loads them: in its own
 * process (loader.c), or in a wmieventd-host process when their
 * __Win32Provider.HostingModel asks for isolation (hosting.c).
 * ==================================================================== */

struct wmid_provider;
struct wmid_settings;

/* Does @p run in a wmieventd-host process: its HostingModel asks for
 * isolation, or it acts as an identity other than the daemon's
 * (run_as)? */
bool provider_is_hosted(const struct wmid_provider *p);
/* Load and initialize @p where its HostingModel says; on failure logs one
 * line, records status, returns false.  Loop thread. */
bool plugin_load(struct wmid_provider *p, const struct wmid_settings *s, const wmi_schema *schema);
/* Shut @p down and unload it, wherever it was loaded.  Loop thread. */
void plugin_unload(struct wmid_provider *p);

/* ====================================================================
 * hosting.c - isolated hosting: a provider in its own wmieventd-host
 * process, behind a proxy consumer provider
 * ==================================================================== */

struct wmid_hosted;
struct wmid_hosting;

/* The daemon's isolated provider hosts: main.c makes the handle and puts
 * it in its settings (wmid_settings.hosting), through which
 * hosting_load reaches it; hosting_free once every provider is unloaded
 * (it closes any host still running).  Loop thread. */
struct wmid_hosting *hosting_new(void);
void hosting_free(struct wmid_hosting *hg);

/* True when HostingModel @model (NULL allowed) asks for a host process. */
bool hosting_is_isolated(const char *model);
/*
 * Start the host process of @p's group (or join it) among s->hosting's
 * and load the plugin there.  On success p->cp and p->state are a proxy whose find_consumer
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

#endif /* WMID_PLUGINS_PLUGINS_H */
