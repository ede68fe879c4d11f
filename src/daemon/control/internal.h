/*
 * internal.h - what the files of the control socket share, and nothing
 * outside src/daemon/control includes it (control.h is the public header).
 *
 * The control socket is five files.  server.c owns the listener and the
 * connections: reading, line framing, back-pressure, the write queue and
 * closing.  requests.c owns the method table, which maps every request
 * Method to its handler, and the handlers of the repository, Reload, Stats
 * and Ping.  ingest.c owns the events a connection raises: bare events,
 * Indicate and SetBatchingParameters.  temporary.c owns the temporary
 * subscriptions (ExecNotificationQuery, CancelQuery).  reply.c builds and
 * sends replies and errors.
 *
 * Calls point one way, down this list: server.c (which hands a line to
 * requests.c or, a bare event, to ingest.c, and tells temporary.c of
 * drained writes, closed connections and reloads), requests.c (whose table
 * names the handlers of ingest.c and temporary.c), temporary.c (which
 * resolves namespaces with ingest.c's request_ns), ingest.c, reply.c.  The
 * exception is the connection itself: the files below write on it and
 * pause it through server.c's conn_* functions.
 *
 * Everything here runs on the loop thread (the router hook of temporary.c
 * checks that it does).
 */
#ifndef WMID_CONTROL_INTERNAL_H
#define WMID_CONTROL_INTERNAL_H

#include <time.h>

#include "daemon/wmieventd.h"
#include "daemon/config/config.h"
#include "daemon/control/control.h"

struct tsub;
struct tclass;

/* One client connection. */
struct conn {
    uv_pipe_t pipe;
    struct wmid_control *ctl;
    struct conn *prev, *next;
    char *buf;
    size_t len, cap;
    bool discarding;             /* skipping the rest of an oversized line */
    bool paused;                 /* SlowDownProviders back-pressure */
    bool write_paused;           /* replies the client does not read */
    bool closing;
    unsigned long id;
    long uid;
    struct sec_identity identity; /* the peer, as a publisher (EventAccess) */
    unsigned long long events, refused;  /* this connection's bare events */
    char last_error[512];
    /* SetBatchingParameters: the connection is an event sink. */
    unsigned batch_flags;        /* WBEM_FLAG_* */
    size_t batch_max_bytes;
    unsigned batch_latency_ms;
    wmi_object **held;           /* MUST_BATCH: events not routed yet */
    size_t *held_size;
    char held_ns[WMID_NS_MAX + 1]; /* the namespace of the held events (one at a time) */
    size_t nheld, capheld, held_bytes;
    uv_timer_t *batch_timer;     /* its own allocation: closed on its own */
    /* Temporary consumers (ExecNotificationQuery) of this connection. */
    struct tsub *temps;
    unsigned ntemps;
};

/* The control socket (control_new). */
struct wmid_control {
    uv_loop_t *loop;
    const struct wmid_settings *settings;
    struct wmid_router *router;
    struct wmid_delivery *delivery;
    struct wmid_eventprov *eventprov; /* the event provider host: resume, sync, Stats */
    struct wmid_instance_env *instances; /* the instance providers' env: EnumInstances */
    bool (*reload)(void *arg, wmi_error *err, size_t *nobjects);
    void *reload_arg;
    struct wmid_repo_ops repo;    /* GetObject, PutInstance, DeleteInstance */
    uv_pipe_t listener;
    bool listening;
    struct conn *conns;
    unsigned long next_id;
    /* Counters (loop thread only). */
    unsigned long long accepted, lines, events, refused, requests, errors, replies_paused, paused;
    json_t *errors_by_status;    /* name -> count */
    char last_error[512];
    time_t last_log;
    unsigned nopen;
    unsigned long long refused_connections;
    time_t last_refuse_log;
    unsigned long long suppressed;
    /* Temporary consumers (ExecNotificationQuery): see temporary.c. */
    pthread_t loop_thread;
    struct tsub *temps;
    unsigned ntemps;
    unsigned long next_qid;
    struct tclass *tclasses;
    size_t ntclasses;
    const char **tnames;         /* the FROM classes, for router_set_temp_classes */
    bool closing;                /* control_close: no event provider is told any more */
    unsigned long long temp_created, temp_delivered, temp_dropped, temp_overflows;
};

/*
 * A request's handler (requests.c's method table): @id is the request's
 * "Id" (NULL without one), @req the request.  Returns true when the
 * producer must pause (SlowDownProviders), as a bare event may make it:
 * only Indicate ever does.
 */
typedef bool request_handler(struct conn *c, const json_t *id, json_t *req);

/* ---- server.c: the connection ---- */

/* Queue the reply @line (@n bytes, ending in a newline; ownership taken).
 * Past MAX_PENDING_REPLY_BYTES unread, the connection is not read from
 * until its client catches up. */
void conn_send_reply(struct conn *c, char *line, size_t n);
/* Queue @line (the same) that is no reply: a temporary subscription's
 * event or status line.  A write that fails closes the connection. */
void conn_send_event(struct conn *c, char *line, size_t n);
/* Stop reading a producer until the queues drain. */
void conn_pause(struct conn *c);

/* ---- requests.c: the method table ---- */

/* Answer the request @req (borrowed); true when the producer must pause. */
bool handle_request(struct conn *c, json_t *req);

/* ---- ingest.c: events from connections ---- */

/* The bare event @j (stolen), @size bytes on the wire; true when the
 * producer must pause. */
bool ingest_bare_event(struct conn *c, json_t *j, size_t size);
/* Route what a MUST_BATCH sink held; true when the producer must pause. */
bool ingest_flush_held(struct conn *c);
/* The namespace of request member @member, normalized into @buf; false
 * with the reply sent. */
bool ingest_request_ns(struct conn *c, const json_t *id, const json_t *req, const char *member,
                char buf[WMID_NS_MAX + 1]);
bool req_indicate(struct conn *c, const json_t *id, json_t *req);
bool req_set_batching(struct conn *c, const json_t *id, json_t *req);

/* ---- temporary.c: temporary subscriptions ---- */

bool req_exec_notification_query(struct conn *c, const json_t *id, json_t *req);
bool req_cancel_query(struct conn *c, const json_t *id, json_t *req);
/* The connection's writes drained: overflowing subscriptions hear of it. */
void temp_drained(struct conn *c);
/* The connection goes: so do its subscriptions. */
void temp_conn_closed(struct conn *c);
/* A reload swapped routers: parse every query again. */
void temp_reparse(struct wmid_control *ctl);
/* Rebuild the class index and the router's hook after a change. */
void temp_reindex(struct wmid_control *ctl);
/* Stats' "temporary" member (new object). */
json_t *temp_stats_json(struct wmid_control *ctl);

/* ---- reply.c: replies and errors ---- */

/* Count and log (at most a line a second) an error of connection @c. */
void count_error(struct wmid_control *ctl, struct conn *c, wmi_status st, const char *field, const char *msg);
/* @obj (stolen) as one compact JSON line with its newline. */
char *json_line(json_t *obj, size_t *n);
/* Send one reply line (steals @reply). */
void reply(struct conn *c, json_t *reply);
/* {"Status": @st, "StatusName": ..., "Id": @id} (new object). */
json_t *status_reply(const json_t *id, wmi_status st);
void reply_error(struct conn *c, const json_t *id, wmi_status st, const char *field, const char *msg);
void reply_wmi_error(struct conn *c, const json_t *id, const wmi_error *err);
void reply_outcome(struct conn *c, const json_t *id, bool ok, const wmi_error *err);

#endif /* WMID_CONTROL_INTERNAL_H */
