/*
 * control.c - the control socket: a Unix stream socket carrying JSON lines.
 *
 * Each line is either a bare event (an object with "__CLASS"), indicated
 * with no reply, which is the cheap path for high-rate producers, or a
 * request (an object with "Method"), answered with one reply line that
 * carries a WBEM status.  A connection may also hold temporary
 * subscriptions (ExecNotificationQuery), whose events are written to it as
 * lines of their own (see "Temporary consumers").  docs/protocol.md is the
 * reference.
 *
 * Bad input never closes the connection: a malformed or oversized line, an
 * unknown class or a wrong property type is counted, logged (at most a line
 * a second) and answered with an error where a reply is possible.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/plugins/eventprov.h"
#include "daemon/providers/instance.h"
#include "daemon/providers/intrinsic.h"
#include "daemon/config/repository.h"
#include "daemon/wmieventd.h"
#include "daemon/config/namespace.h"
#include "daemon/config/security.h"
#include "daemon/control/control.h"
#include "daemon/engine/delivery.h"
#include "daemon/engine/router.h"
#include "daemon/log.h"

#define READ_CHUNK (64 * 1024)
#define MAX_PENDING_REPLY_BYTES (1024 * 1024)

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

struct wmid_control {
    uv_loop_t *loop;
    const struct wmid_settings *settings;
    struct wmid_router *router;
    struct wmid_delivery *delivery;
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
    /* Temporary consumers (ExecNotificationQuery): see their section. */
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

/* ====================================================================
 * Errors and replies
 * ==================================================================== */

static void
count_error(struct wmid_control *ctl, struct conn *c, wmi_status st, const char *field, const char *msg)
{
    const char *name = wmi_status_name(st) ? wmi_status_name(st) : "WBEM_E_FAILED";
    json_t *n = json_object_get(ctl->errors_by_status, name);
    json_object_set_new(ctl->errors_by_status, name, json_integer(n ? json_integer_value(n) + 1 : 1));
    ctl->errors++;
    snprintf(c->last_error, sizeof c->last_error, "%s: %s%s%.400s", name, field && field[0] ? field : "",
             field && field[0] ? ": " : "", msg);
    snprintf(ctl->last_error, sizeof ctl->last_error, "connection %lu: %.480s", c->id, c->last_error);
    time_t now = time(NULL);
    if (now != ctl->last_log) {
        ctl->last_log = now;
        if (ctl->suppressed)
            log_warnx("control: %s (and %llu more errors in the last second)", ctl->last_error,
                      ctl->suppressed);
        else
            log_warnx("control: %s", ctl->last_error);
        ctl->suppressed = 0;
    } else {
        ctl->suppressed++;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);
static void process_buffer(struct conn *c, size_t scan_from);
static void temp_drained(struct conn *c);

static void
on_write(uv_write_t *req, int status)
{
    /* The connection outlives its writes: uv_close cancels them (status
     * UV_ECANCELED) before the close callback frees it. */
    struct conn *c = req->handle->data;
    free(req->data);
    free(req);
    if (status == 0 && c->write_paused && !c->closing &&
        uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) < MAX_PENDING_REPLY_BYTES / 2) {
        /* The client reads its replies again: read its requests again. */
        c->write_paused = false;
        if (!c->paused) {
            process_buffer(c, 0);
            if (!c->paused && !c->write_paused && !c->closing)
                uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
            router_flush(c->ctl->router);
        }
    }
    if (status == 0)
        temp_drained(c); /* overflowed temporary consumers learn of it */
}

/* @obj (stolen) as one compact JSON line with its newline (new string;
 * *@n its length with the newline), or NULL when out of memory. */
static char *
json_line(json_t *obj, size_t *n)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (text == NULL)
        return NULL;
    size_t len = strlen(text);
    char *line = realloc(text, len + 2);
    if (line == NULL) {
        free(text);
        return NULL;
    }
    line[len] = '\n';
    line[len + 1] = '\0';
    *n = len + 1;
    return line;
}

/* Send one JSON reply line (steals @reply).  Replies are never dropped: a
 * client that does not read them is not read from either, once more than
 * MAX_PENDING_REPLY_BYTES wait, until it catches up. */
static void
reply(struct conn *c, json_t *reply)
{
    if (c->closing) {
        json_decref(reply);
        return;
    }
    size_t n;
    char *line = json_line(reply, &n);
    if (line == NULL)
        return;
    uv_write_t *req = malloc(sizeof *req);
    if (req == NULL) {
        free(line);
        return;
    }
    req->data = line;
    uv_buf_t b = uv_buf_init(line, (unsigned)n);
    if (uv_write(req, (uv_stream_t *)&c->pipe, &b, 1, on_write) != 0) {
        free(line);
        free(req);
        return;
    }
    if (!c->write_paused && uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > MAX_PENDING_REPLY_BYTES) {
        c->write_paused = true;
        c->ctl->replies_paused++;
        uv_read_stop((uv_stream_t *)&c->pipe);
    }
}

static json_t *
status_reply(const json_t *id, wmi_status st)
{
    json_t *r = json_pack("{sIss}", "Status", (json_int_t)st, "StatusName",
                          wmi_status_name(st) ? wmi_status_name(st) : "WBEM_E_FAILED");
    if (id != NULL)
        json_object_set(r, "Id", (json_t *)id);
    return r;
}

static void
reply_error(struct conn *c, const json_t *id, wmi_status st, const char *field, const char *msg)
{
    json_t *r = status_reply(id, st);
    json_object_set_new(r, "Message", json_string(msg));
    if (field != NULL && field[0])
        json_object_set_new(r, "Field", json_string(field));
    count_error(c->ctl, c, st, field, msg);
    reply(c, r);
}

/* ====================================================================
 * Temporary consumers: ExecNotificationQuery and CancelQuery
 *
 * A temporary subscription lives on its connection, not in the router's
 * snapshot: router_indicate_from hands every event to temp_on_event
 * (router_set_temp_hook) while at least one exists, and the event goes
 * out on the connection as {"Event": ..., "QueryId": N}.  The hook only
 * runs on the loop thread, where all routing happens, so nothing here is
 * locked.
 *
 * Index: the subscriptions are grouped by the class their FROM names
 * (compared without regard to case, as WQL does), and an event is
 * offered only to the groups of its class and its ancestors, as the
 * router's class index does for filters.  Classes are matched by name,
 * not by pointer: events built from an older schema (a provider's) and
 * queries parsed against the newest must still meet.
 *
 * Slow readers: events are never allowed to pile up without bound.  Once
 * TEMP_MAX_PENDING_BYTES wait to be written on the connection, further
 * events for its subscriptions are dropped and counted; when the client
 * has read enough that less than half that waits, each subscription that
 * lost events gets one {"QueryId": N, "Status": WBEM_E_QUEUE_OVERFLOW,
 * "Dropped": k} line and its events flow again.  The connection stays
 * open: what it holds is bounded by the limit, and the daemon never waits
 * for it.  A write that fails (the client went away without a FIN we
 * could read) closes the connection and its subscriptions.
 *
 * Reload: the queries are parsed against the router's schema, which goes
 * with the old router; control_set_router parses them again against the
 * new one.  One that no longer parses (its class was removed) is
 * cancelled with a status line naming the reason.
 * ==================================================================== */

#define TEMP_MAX_PER_CONN 16
#define TEMP_MAX_TOTAL 256
#define TEMP_MAX_PENDING_BYTES (1024 * 1024)

struct tsub {
    struct tsub *next;           /* ctl->temps: every subscription */
    struct tsub *cnext;          /* conn->temps: this connection's */
    struct conn *conn;
    unsigned long qid;
    char *text;                  /* the query as sent, parsed again at reload */
    wmi_query *query;            /* parsed against router_schema(ctl->router) */
    bool mof;                    /* "Format": "MOF": lines carry "Text" instead of "Event" */
    /* The checks of a filter, with the peer as creator: router_filter_accepts
     * applies EventAccess and the source sink's descriptor exactly as it
     * does for permanent filters. */
    struct wmid_filter acc;
    unsigned long long delivered, dropped_total;
    unsigned long long dropped;  /* since the last overflow notice; >0: overflowing */
};

/* One group of the index: the subscriptions whose FROM names @name. */
struct tclass {
    const char *name;            /* borrowed from a subscription's query */
    struct tsub **subs;
    size_t n;
};

static void conn_close(struct conn *c);
static void temp_on_event(void *arg, wmi_object *ev, const struct wmid_source *src);
static bool request_ns(struct conn *c, const json_t *id, const json_t *req, const char *member,
                       char buf[WMID_NS_MAX + 1]);

static void
temp_free(struct tsub *t)
{
    wmi_query_free(t->query);
    sec_descriptor_free(t->acc.event_access);
    free(t->acc.event_ns);
    free(t->text);
    free(t);
}

/* Rebuild the class index after any change, and turn the router's hook on
 * or off: with no temporary subscription, routing pays one branch. */
static void
temp_reindex(struct wmid_control *ctl)
{
    for (size_t i = 0; i < ctl->ntclasses; i++)
        free(ctl->tclasses[i].subs);
    free(ctl->tclasses);
    ctl->tclasses = NULL;
    ctl->ntclasses = 0;
    if (ctl->ntemps > 0)
        ctl->tclasses = calloc(ctl->ntemps, sizeof *ctl->tclasses);
    for (struct tsub *t = ctl->temps; t != NULL && ctl->tclasses != NULL; t = t->next) {
        const char *name = wmi_query_class(t->query);
        size_t i;
        for (i = 0; i < ctl->ntclasses; i++)
            if (strcasecmp(ctl->tclasses[i].name, name) == 0)
                break;
        if (i == ctl->ntclasses) {
            ctl->tclasses[i].name = name;
            ctl->ntclasses++;
        }
        struct tclass *tc = &ctl->tclasses[i];
        struct tsub **ns = realloc(tc->subs, (tc->n + 1) * sizeof *ns);
        if (ns == NULL)
            continue; /* out of memory: this one hears nothing until the next change */
        tc->subs = ns;
        tc->subs[tc->n++] = t;
    }
    router_set_temp_hook(ctl->ntemps > 0 ? temp_on_event : NULL, ctl);
    /* The event providers that serve only when someone listens (the
     * process connector, plugins) learn of the classes temporary
     * consumers want, as they do of filters'. */
    free(ctl->tnames);
    ctl->tnames = ctl->ntclasses > 0 ? calloc(ctl->ntclasses, sizeof *ctl->tnames) : NULL;
    for (size_t i = 0; ctl->tnames != NULL && i < ctl->ntclasses; i++)
        ctl->tnames[i] = ctl->tclasses[i].name;
    router_set_temp_classes(ctl->tnames, ctl->tnames != NULL ? ctl->ntclasses : 0);
    if (!ctl->closing && ctl->router != NULL)
        eventprov_sync(ctl->router);
}

/* Unlink @t from both lists (the index is rebuilt by the caller). */
static void
temp_unlink(struct wmid_control *ctl, struct tsub *t)
{
    for (struct tsub **pp = &ctl->temps; *pp != NULL; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    for (struct tsub **pp = &t->conn->temps; *pp != NULL; pp = &(*pp)->cnext)
        if (*pp == t) {
            *pp = t->cnext;
            break;
        }
    ctl->ntemps--;
    t->conn->ntemps--;
}

static void
on_temp_write(uv_write_t *req, int status)
{
    struct conn *c = req->handle->data;
    /* The reply path's bookkeeping (memory, reading again once drained). */
    on_write(req, status);
    if (status < 0 && status != UV_ECANCELED && !c->closing) {
        /* The peer is gone (EPIPE) though we may not have read its EOF: a
         * reply back-pressure pause stops reading.  Nobody will read these
         * events: end the subscriptions with the connection. */
        log_debug("control: connection %lu: write: %s", c->id, uv_strerror(status));
        conn_close(c);
    }
}

/* Queue @line (@n bytes, ending in a newline; ownership taken). */
static void
temp_write(struct conn *c, char *line, size_t n)
{
    uv_write_t *req = malloc(sizeof *req);
    if (req == NULL) {
        free(line);
        return;
    }
    req->data = line;
    uv_buf_t b = uv_buf_init(line, (unsigned)n);
    if (uv_write(req, (uv_stream_t *)&c->pipe, &b, 1, on_temp_write) != 0) {
        free(line);
        free(req);
    }
}

/* A status line about subscription @t (steals @msg). */
static void
temp_status_line(struct tsub *t, json_t *msg)
{
    json_object_set_new(msg, "QueryId", json_integer((json_int_t)t->qid));
    size_t n;
    char *line = json_line(msg, &n);
    if (line != NULL)
        temp_write(t->conn, line, n);
}

static void
temp_notify_overflow(struct tsub *t)
{
    char msg[200];
    snprintf(msg, sizeof msg,
             "%llu event(s) dropped: the client left more than %d bytes unread; events flow again",
             t->dropped, TEMP_MAX_PENDING_BYTES);
    temp_status_line(t, json_pack("{sIsssIss}", "Status", (json_int_t)WBEM_E_QUEUE_OVERFLOW, "StatusName",
                                  "WBEM_E_QUEUE_OVERFLOW", "Dropped", (json_int_t)t->dropped, "Message", msg));
    t->conn->ctl->temp_overflows++;
    t->dropped = 0;
}

/* The connection's writes drained: tell each overflowing subscription how
 * much it lost, and let its events through again. */
static void
temp_drained(struct conn *c)
{
    if (c->closing || c->temps == NULL ||
        uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) >= TEMP_MAX_PENDING_BYTES / 2)
        return;
    for (struct tsub *t = c->temps; t != NULL; t = t->cnext)
        if (t->dropped > 0)
            temp_notify_overflow(t);
}

/* One event (borrowed) for subscription @t.  *@full caches the event's
 * JSON text across the subscriptions that take it whole. */
static void
temp_offer(struct tsub *t, wmi_object *ev, const struct wmid_source *src, char **full)
{
    struct conn *c = t->conn;
    struct wmid_control *ctl = c->ctl;
    if (!router_filter_accepts(&t->acc, src) || !wmi_query_evaluate_where(t->query, ev))
        return;
    size_t pending = uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe);
    if (t->dropped > 0 && pending < TEMP_MAX_PENDING_BYTES / 2)
        temp_notify_overflow(t);
    if (t->dropped > 0 || pending >= TEMP_MAX_PENDING_BYTES) {
        t->dropped++;
        t->dropped_total++;
        ctl->temp_dropped++;
        return;
    }
    char *body = NULL;
    bool owned = true;
    /* SELECT A, B: the client sees what a filter's consumers would; when
     * the projection fails (out of memory), the whole event. */
    wmi_object *p = NULL;
    if (wmi_query_select_count(t->query) == 0 || WMI_FAILED(wmi_query_project(t->query, ev, &p)))
        p = wmi_object_ref(ev);
    if (t->mof) {
        char *mof = wmi_object_get_text(p);
        json_t *s = mof != NULL ? json_string(mof) : NULL;
        body = s != NULL ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
        json_decref(s);
        free(mof);
    } else if (p == ev) {
        if (*full == NULL)
            *full = json_dumps(wmi_object_json(ev), JSON_COMPACT);
        body = *full;
        owned = false;
    } else {
        body = json_dumps(wmi_object_json(p), JSON_COMPACT);
    }
    wmi_object_unref(p);
    if (body == NULL)
        return;
    size_t blen = strlen(body);
    size_t cap = blen + 64;
    char *line = malloc(cap);
    if (line != NULL) {
        int n = snprintf(line, cap, "{\"%s\":%s,\"QueryId\":%lu}\n", t->mof ? "Text" : "Event", body, t->qid);
        temp_write(c, line, (size_t)n);
        t->delivered++;
        ctl->temp_delivered++;
    }
    if (owned)
        free(body);
}

static void
temp_on_event(void *arg, wmi_object *ev, const struct wmid_source *src)
{
    struct wmid_control *ctl = arg;
    /* Connections belong to the loop: an event routed elsewhere (a unit
     * test's thread) cannot be written, and is not offered. */
    if (!pthread_equal(pthread_self(), ctl->loop_thread) || ctl->ntclasses == 0)
        return;
    char *full = NULL;
    for (const wmi_class *cls = wmi_object_class(ev); cls != NULL; cls = wmi_class_superclass(cls)) {
        const char *name = wmi_class_name(cls);
        for (size_t i = 0; i < ctl->ntclasses; i++) {
            const struct tclass *tc = &ctl->tclasses[i];
            if (strcasecmp(tc->name, name) != 0)
                continue;
            for (size_t j = 0; j < tc->n; j++)
                temp_offer(tc->subs[j], ev, src, &full);
        }
    }
    free(full);
}

/*
 * Parse @text for a temporary subscription against @schema: a new query,
 * or NULL with @err saying why (the status, and the column for syntax).
 * Checked as filters are at load (intrinsic_check_filter); then what the
 * temporary path cannot serve is refused: intrinsic events of instance
 * providers are made by pollers for each filter (intrinsic.c), which
 * temporary consumers do not have, and GROUP WITHIN needs an aggregator
 * and its class in the snapshot.
 */
static wmi_query *
temp_parse(const wmi_schema *schema, const char *text, wmi_error *err)
{
    wmi_query *q = NULL;
    memset(err, 0, sizeof *err);
    if (WMI_FAILED(wmi_query_parse(text, schema, &q, err)))
        return NULL;
    wmi_error ierr;
    memset(&ierr, 0, sizeof ierr);
    if (!intrinsic_check_filter(schema, q, &ierr)) {
        *err = ierr;
        wmi_query_free(q);
        return NULL;
    }
    if (intrinsic_needs_polling(schema, q)) {
        err->status = WBEM_E_NOT_SUPPORTED;
        err->column = 0;
        snprintf(err->text, sizeof err->text,
                 "intrinsic events of %s come from polling an instance provider, which only permanent "
                 "__EventFilter subscriptions do; temporary consumers receive indicated events only",
                 wmi_query_isa_target(q));
        wmi_query_free(q);
        return NULL;
    }
    if (wmi_query_group_within(q) >= 0) {
        err->status = WBEM_E_NOT_SUPPORTED;
        err->column = 0;
        snprintf(err->text, sizeof err->text,
                 "GROUP WITHIN is served for permanent __EventFilter subscriptions only");
        wmi_query_free(q);
        return NULL;
    }
    return q;
}

/* The members of an ExecNotificationQuery but its Namespace:
 * QueryLanguage, Query, Format and the type of EventAccess, then the
 * limits on subscriptions.  False with the reply sent; else *@text is the
 * query and *@mof its format. */
static bool
temp_check_request(struct conn *c, const json_t *id, const json_t *req, const char **text, bool *mof)
{
    struct wmid_control *ctl = c->ctl;
    const json_t *jl = json_object_get(req, "QueryLanguage");
    const json_t *jfmt = json_object_get(req, "Format");
    const json_t *jacc = json_object_get(req, "EventAccess");
    char msg[600];

    *text = json_string_value(json_object_get(req, "Query"));
    if (jl != NULL && (!json_is_string(jl) || strcasecmp(json_string_value(jl), "WQL") != 0)) {
        reply_error(c, id, WBEM_E_INVALID_QUERY_TYPE, "QueryLanguage", "QueryLanguage must be \"WQL\"");
        return false;
    }
    if (*text == NULL) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "Query", "ExecNotificationQuery needs \"Query\": a string");
        return false;
    }
    *mof = false;
    if (jfmt != NULL) {
        const char *f = json_string_value(jfmt);
        if (f == NULL || (strcasecmp(f, "MOF") != 0 && strcasecmp(f, "JSON") != 0)) {
            reply_error(c, id, WBEM_E_INVALID_PARAMETER, "Format", "Format is \"JSON\" (the default) or \"MOF\"");
            return false;
        }
        *mof = strcasecmp(f, "MOF") == 0;
    }
    if (jacc != NULL && !json_is_string(jacc)) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "EventAccess", "EventAccess is an SDDL string");
        return false;
    }
    if (c->ntemps >= TEMP_MAX_PER_CONN || ctl->ntemps >= TEMP_MAX_TOTAL) {
        snprintf(msg, sizeof msg, "%s temporary subscriptions %s (%u); cancel one first",
                 c->ntemps >= TEMP_MAX_PER_CONN ? "too many" : "the daemon holds too many",
                 c->ntemps >= TEMP_MAX_PER_CONN ? "on this connection" : "in all",
                 c->ntemps >= TEMP_MAX_PER_CONN ? TEMP_MAX_PER_CONN : TEMP_MAX_TOTAL);
        reply_error(c, id, WBEM_E_QUOTA_VIOLATION, "Method", msg);
        return false;
    }
    return true;
}

/* temp_parse against the router's schema; with a namespace (@ns not
 * NULL), the classes the query names must be that namespace's. */
static wmi_query *
temp_parse_in(struct wmid_control *ctl, const char *text, const char *ns, wmi_error *err)
{
    wmi_query *q = temp_parse(router_schema(ctl->router), text, err);
    if (q != NULL && ns != NULL) {
        const char *qcls[] = {wmi_query_class(q), wmi_query_isa_target(q)};
        for (size_t k = 0; k < 2; k++) {
            if (q != NULL && qcls[k] != NULL && !router_class_in(ctl->router, qcls[k], ns)) {
                memset(err, 0, sizeof *err);
                err->status = WBEM_E_INVALID_CLASS;
                snprintf(err->text, sizeof err->text, "class %.60s is in namespace %.100s, not in %.100s", qcls[k],
                         router_class_home(ctl->router, qcls[k]), ns);
                wmi_query_free(q);
                q = NULL;
            }
        }
    }
    return q;
}

/* The reply to a query that was refused (@err): its status and message,
 * with the column of a syntax error. */
static void
temp_reply_query_error(struct conn *c, const json_t *id, const wmi_error *err)
{
    char msg[600];
    json_t *r = status_reply(id, err->status);
    if (err->column > 0)
        snprintf(msg, sizeof msg, "column %d: %.500s", err->column, err->text);
    else
        snprintf(msg, sizeof msg, "%.580s", err->text);
    json_object_set_new(r, "Message", json_string(msg));
    json_object_set_new(r, "Field", json_string("Query"));
    if (err->column > 0)
        json_object_set_new(r, "Column", json_integer(err->column));
    count_error(c->ctl, c, err->status, "Query", msg);
    reply(c, r);
}

/* A new subscription to @q (taken), @text as sent, with the EventAccess
 * @jacc (NULL: anyone's events); NULL with the reply sent. */
static struct tsub *
temp_new(struct conn *c, const json_t *id, const char *text, wmi_query *q, const json_t *jacc)
{
    char msg[600];
    struct tsub *t = calloc(1, sizeof *t);
    if (t == NULL || (t->text = strdup(text)) == NULL) {
        free(t);
        wmi_query_free(q);
        reply_error(c, id, WBEM_E_OUT_OF_MEMORY, NULL, "out of memory");
        return NULL;
    }
    if (jacc != NULL) {
        wmi_error serr;
        t->acc.event_access = sec_descriptor_parse(json_string_value(jacc), &serr);
        if (t->acc.event_access == NULL) {
            snprintf(msg, sizeof msg, "column %d: %.500s", serr.column, serr.text);
            reply_error(c, id, serr.status, "EventAccess", msg);
            wmi_query_free(q);
            temp_free(t);
            return NULL;
        }
    }
    t->query = q;
    return t;
}

/* @t becomes connection @c's, for events raised in @ns (NULL: every
 * namespace), and the index takes it. */
static void
temp_add(struct conn *c, struct tsub *t, bool mof, const char *ns)
{
    struct wmid_control *ctl = c->ctl;
    t->mof = mof;
    t->acc.event_ns = ns != NULL ? strdup(ns) : NULL;
    t->conn = c;
    t->qid = ++ctl->next_qid;
    t->acc.creator = c->identity;
    t->acc.inactive = WBEM_S_NO_ERROR;
    t->next = ctl->temps;
    ctl->temps = t;
    t->cnext = c->temps;
    c->temps = t;
    ctl->ntemps++;
    c->ntemps++;
    ctl->temp_created++;
    temp_reindex(ctl);
}

static bool
req_exec_notification_query(struct conn *c, const json_t *id, json_t *req)
{
    const char *text = NULL;
    bool mof = false;
    if (!temp_check_request(c, id, req, &text, &mof))
        return false;
    /* With a Namespace, the subscription takes the events raised there,
     * and its classes must be that namespace's; without, every
     * namespace's, as a filter without EventNamespace. */
    char ns[WMID_NS_MAX + 1];
    bool has_ns = json_object_get(req, "Namespace") != NULL;
    if (has_ns && !request_ns(c, id, req, "Namespace", ns))
        return false;
    wmi_error err;
    wmi_query *q = temp_parse_in(c->ctl, text, has_ns ? ns : NULL, &err);
    if (q == NULL) {
        temp_reply_query_error(c, id, &err);
        return false;
    }
    struct tsub *t = temp_new(c, id, text, q, json_object_get(req, "EventAccess"));
    if (t == NULL)
        return false;
    temp_add(c, t, mof, has_ns ? ns : NULL);
    log_debug("control: connection %lu (uid %ld): temporary subscription %lu: %s", c->id, c->uid, t->qid, text);
    json_t *r = status_reply(id, WBEM_S_NO_ERROR);
    json_object_set_new(r, "QueryId", json_integer((json_int_t)t->qid));
    reply(c, r);
    return false;
}

static bool
req_cancel_query(struct conn *c, const json_t *id, json_t *req)
{
    json_t *jq = json_object_get(req, "QueryId");
    if (!json_is_integer(jq)) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "QueryId", "CancelQuery needs \"QueryId\": an integer");
        return false;
    }
    /* Only the connection's own: another client's QueryId is not found. */
    struct tsub *t;
    for (t = c->temps; t != NULL; t = t->cnext)
        if ((json_int_t)t->qid == json_integer_value(jq))
            break;
    if (t == NULL) {
        char msg[120];
        snprintf(msg, sizeof msg, "no temporary subscription %lld on this connection",
                 (long long)json_integer_value(jq));
        reply_error(c, id, WBEM_E_NOT_FOUND, "QueryId", msg);
        return false;
    }
    temp_unlink(c->ctl, t);
    temp_reindex(c->ctl);
    temp_free(t);
    json_t *r = status_reply(id, WBEM_S_NO_ERROR);
    json_object_set(r, "QueryId", jq);
    reply(c, r);
    return false;
}

/* The connection goes: so do its subscriptions. */
static void
temp_conn_closed(struct conn *c)
{
    if (c->temps == NULL)
        return;
    while (c->temps != NULL) {
        struct tsub *t = c->temps;
        temp_unlink(c->ctl, t);
        temp_free(t);
    }
    temp_reindex(c->ctl);
}

/* A reload swapped routers: parse every query again against the new
 * schema (the old one goes with the old router). */
static void
temp_reparse(struct wmid_control *ctl)
{
    struct tsub *t = ctl->temps;
    while (t != NULL) {
        struct tsub *next = t->next;
        wmi_error err;
        wmi_query *q = temp_parse(router_schema(ctl->router), t->text, &err);
        if (q != NULL) {
            wmi_query_free(t->query);
            t->query = q;
        } else {
            char msg[400];
            snprintf(msg, sizeof msg, "cancelled at reload: the query no longer holds: %.300s", err.text);
            log_notice("control: connection %lu: temporary subscription %lu %s", t->conn->id, t->qid, msg);
            temp_status_line(t, json_pack("{sIsssssb}", "Status", (json_int_t)err.status, "StatusName",
                                          wmi_status_name(err.status) ? wmi_status_name(err.status)
                                                                      : "WBEM_E_FAILED",
                                          "Message", msg, "Cancelled", 1));
            temp_unlink(ctl, t);
            temp_free(t);
        }
        t = next;
    }
    temp_reindex(ctl);
}

static json_t *
temp_stats_json(struct wmid_control *ctl)
{
    json_t *list = json_array();
    for (struct tsub *t = ctl->temps; t != NULL; t = t->next)
        json_array_append_new(list, json_pack("{sIsIsIsssIsIsI}", "QueryId", (json_int_t)t->qid, "connection",
                                              (json_int_t)t->conn->id, "uid", (json_int_t)t->conn->uid, "Query",
                                              t->text, "delivered", (json_int_t)t->delivered, "dropped",
                                              (json_int_t)t->dropped_total, "pending_bytes",
                                              (json_int_t)uv_stream_get_write_queue_size(
                                                  (uv_stream_t *)&t->conn->pipe)));
    return json_pack("{sIsIsIsIsIso}", "count", (json_int_t)ctl->ntemps, "created", (json_int_t)ctl->temp_created,
                     "delivered", (json_int_t)ctl->temp_delivered, "dropped", (json_int_t)ctl->temp_dropped,
                     "overflow_notices", (json_int_t)ctl->temp_overflows, "subscriptions", list);
}

/* ====================================================================
 * Requests
 * ==================================================================== */

/* WMI stamps every event with TIME_CREATED when it is raised; do the same
 * for events that arrive without one. */
static void
stamp(wmi_object *ev)
{
    if (!wmi_object_is_set(ev, "TIME_CREATED"))
        wmi_object_put_uint64(ev, "TIME_CREATED", wmi_time_created_now());
}

/* wmieventctl indicate sends every value as a string; convert the ones
 * whose CIM type is not a string (integers already accept decimal text). */
static void
coerce(const wmi_schema *schema, json_t *ev)
{
    const wmi_class *cls = wmi_schema_get_class(schema, json_string_value(json_object_get(ev, "__CLASS")));
    const char *k;
    json_t *v;
    if (cls == NULL)
        return;
    json_object_foreach(ev, k, v) {
        const wmi_property *p = wmi_class_find_property(cls, k);
        if (p == NULL || !json_is_string(v))
            continue;
        const char *s = json_string_value(v);
        if (p->type == CIM_BOOLEAN) {
            if (strcasecmp(s, "TRUE") == 0 || strcmp(s, "1") == 0)
                json_object_set_new(ev, k, json_true());
            else if (strcasecmp(s, "FALSE") == 0 || strcmp(s, "0") == 0)
                json_object_set_new(ev, k, json_false());
        } else if (p->type == CIM_OBJECT || (p->type & CIM_FLAG_ARRAY)) {
            json_t *parsed = json_loads(s, JSON_DECODE_ANY, NULL);
            if (parsed != NULL)
                json_object_set_new(ev, k, parsed);
        }
    }
}

/* ====================================================================
 * The connection as an event sink: SetBatchingParameters
 * ==================================================================== */

static void set_paused(struct conn *c);

/* Route what a MUST_BATCH sink held.  Returns true when the producer must
 * pause. */
static bool
flush_held(struct conn *c)
{
    bool pause = false;
    if (c->batch_timer != NULL)
        uv_timer_stop(c->batch_timer);
    struct wmid_source src = {&c->identity, NULL, c->held_ns};
    for (size_t i = 0; i < c->nheld; i++) {
        pause |= router_indicate_from(c->ctl->router, c->held[i], c->held_size[i], 0, &src);
        wmi_object_unref(c->held[i]);
    }
    c->nheld = 0;
    c->held_bytes = 0;
    return pause;
}

static void
on_batch_latency(uv_timer_t *t)
{
    struct conn *c = t->data;
    if (flush_held(c))
        set_paused(c);
    router_flush(c->ctl->router);
}

/* Route one event from this connection, as its batching parameters say.
 * @ev is borrowed.  Returns true when the producer must pause. */
static bool
ingest(struct conn *c, wmi_object *ev, size_t size, const char *ns)
{
    struct wmid_source src = {&c->identity, NULL, ns};
    if (c->batch_flags == WBEM_FLAG_MUST_NOT_BATCH)
        return router_indicate_from(c->ctl->router, ev, size, WMID_PUSH_SOLO, &src);
    if (c->batch_flags != WBEM_FLAG_MUST_BATCH)
        return router_indicate_from(c->ctl->router, ev, size, 0, &src);
    /* Held events share one namespace: another one sends them first. */
    bool pause = false;
    if (c->nheld > 0 && strcmp(c->held_ns, ns) != 0)
        pause = flush_held(c);
    snprintf(c->held_ns, sizeof c->held_ns, "%s", ns);
    if (c->nheld == c->capheld) {
        size_t ncap = c->capheld ? c->capheld * 2 : 64;
        wmi_object **nh = realloc(c->held, ncap * sizeof *nh);
        if (nh != NULL)
            c->held = nh;
        size_t *nsz = nh != NULL ? realloc(c->held_size, ncap * sizeof *nsz) : NULL;
        if (nsz != NULL)
            c->held_size = nsz;
        if (nh == NULL || nsz == NULL)
            return flush_held(c) | router_indicate_from(c->ctl->router, ev, size, 0, &src) | pause; /* no room */
        c->capheld = ncap;
    }
    c->held[c->nheld] = wmi_object_ref(ev);
    c->held_size[c->nheld++] = size;
    c->held_bytes += size;
    if (c->held_bytes >= c->batch_max_bytes)
        return flush_held(c) | pause;
    if (c->nheld == 1)
        uv_timer_start(c->batch_timer, on_batch_latency, c->batch_latency_ms, 0);
    return pause;
}

/*
 * The namespace @v names (a request's "Namespace", a bare event's
 * "__NAMESPACE"; NULL: WMID_NS_DEFAULT), normalized into @buf.
 * WBEM_E_INVALID_PARAMETER when it is not a string,
 * WBEM_E_INVALID_NAMESPACE when it names no namespace of the snapshot
 * (@msg says which).
 */
static wmi_status
resolve_ns(const struct wmid_router *r, const json_t *v, char buf[WMID_NS_MAX + 1], char *msg, size_t msglen)
{
    if (v == NULL) {
        snprintf(buf, WMID_NS_MAX + 1, "%s", WMID_NS_DEFAULT);
        return WBEM_S_NO_ERROR;
    }
    if (!json_is_string(v)) {
        snprintf(msg, msglen, "a namespace is a string (root\\...)");
        return WBEM_E_INVALID_PARAMETER;
    }
    char *ns = ns_normalize(json_string_value(v));
    bool ok = ns != NULL && strlen(ns) <= WMID_NS_MAX && router_has_namespace(r, ns);
    if (ok)
        snprintf(buf, WMID_NS_MAX + 1, "%s", ns);
    else
        snprintf(msg, msglen, "namespace %.300s does not exist", json_string_value(v));
    free(ns);
    return ok ? WBEM_S_NO_ERROR : WBEM_E_INVALID_NAMESPACE;
}

/* resolve_ns for request member @member; false with the reply sent. */
static bool
request_ns(struct conn *c, const json_t *id, const json_t *req, const char *member, char buf[WMID_NS_MAX + 1])
{
    char msg[400];
    wmi_status st = resolve_ns(c->ctl->router, json_object_get(req, member), buf, msg, sizeof msg);
    if (WMI_FAILED(st))
        reply_error(c, id, st, member, msg);
    return WMI_SUCCEEDED(st);
}

/* The same for requests handed to the repository, which checks the name
 * itself: NULL when absent, false with a reply when not a string. */
static bool
request_ns_member(struct conn *c, const json_t *id, const json_t *req, const char **ns)
{
    const json_t *v = json_object_get(req, "Namespace");
    *ns = json_string_value(v);
    if (v != NULL && *ns == NULL) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "Namespace", "Namespace is a string (root\\...)");
        return false;
    }
    return true;
}

static bool
req_set_batching(struct conn *c, const json_t *id, json_t *req)
{
    const json_t *jf = json_object_get(req, "Flags");
    const json_t *jb = json_object_get(req, "MaxBufferSize");
    const json_t *jl = json_object_get(req, "MaxSendLatency");
    json_int_t flags = json_is_integer(jf) ? json_integer_value(jf) : -1;
    if (json_is_string(jf)) {
        const char *s = json_string_value(jf);
        flags = strcmp(s, "WBEM_FLAG_BATCH_IF_NEEDED") == 0 ? WBEM_FLAG_BATCH_IF_NEEDED
                : strcmp(s, "WBEM_FLAG_MUST_BATCH") == 0   ? WBEM_FLAG_MUST_BATCH
                : strcmp(s, "WBEM_FLAG_MUST_NOT_BATCH") == 0 ? WBEM_FLAG_MUST_NOT_BATCH
                                                             : -1;
    }
    if (flags != WBEM_FLAG_BATCH_IF_NEEDED && flags != WBEM_FLAG_MUST_BATCH && flags != WBEM_FLAG_MUST_NOT_BATCH) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "Flags",
                    "Flags is WBEM_FLAG_BATCH_IF_NEEDED (0), WBEM_FLAG_MUST_BATCH (1) or WBEM_FLAG_MUST_NOT_BATCH (2)");
        return false;
    }
    json_int_t bytes = json_is_integer(jb) ? json_integer_value(jb) : (jb == NULL ? 65536 : -1);
    json_int_t ms = json_is_integer(jl) ? json_integer_value(jl) : (jl == NULL ? 100 : -1);
    if (bytes <= 0 || bytes > 64 * 1024 * 1024) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "MaxBufferSize",
                    "MaxBufferSize is in bytes, from 1 to 67108864");
        return false;
    }
    if (ms <= 0 || ms > 60000) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "MaxSendLatency", "MaxSendLatency is in ms, from 1 to 60000");
        return false;
    }
    if (flags == WBEM_FLAG_MUST_BATCH && c->batch_timer == NULL) {
        c->batch_timer = malloc(sizeof *c->batch_timer);
        if (c->batch_timer == NULL) {
            reply_error(c, id, WBEM_E_OUT_OF_MEMORY, NULL, "out of memory");
            return false;
        }
        uv_timer_init(c->ctl->loop, c->batch_timer);
        c->batch_timer->data = c;
    }
    /* What was held under the old parameters goes now. */
    if (flush_held(c))
        set_paused(c);
    c->batch_flags = (unsigned)flags;
    c->batch_max_bytes = (size_t)bytes;
    c->batch_latency_ms = (unsigned)ms;
    reply(c, status_reply(id, WBEM_S_NO_ERROR));
    return false;
}

static bool
req_indicate(struct conn *c, const json_t *id, json_t *req)
{
    struct wmid_control *ctl = c->ctl;
    json_t *events = json_object_get(req, "Events");
    bool do_coerce = json_is_true(json_object_get(req, "Coerce"));
    const wmi_schema *schema = router_schema(ctl->router);
    char ns[WMID_NS_MAX + 1];

    if (!request_ns(c, id, req, "Namespace", ns))
        return false;
    if (!json_is_array(events)) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "Events", "Indicate needs \"Events\": an array of event objects");
        return false;
    }
    size_t n = json_array_size(events);
    wmi_object **objs = calloc(n + 1, sizeof *objs);
    bool pause = false;
    if (objs == NULL)
        return false;
    size_t i;
    json_t *e;
    /* All or nothing: check every event before routing any. */
    json_array_foreach(events, i, e) {
        wmi_error err;
        char field[400];
        if (do_coerce && json_is_object(e))
            coerce(schema, e);
        const char *cname = json_string_value(json_object_get(e, "__CLASS"));
        if (cname != NULL && !router_class_in(ctl->router, cname, ns)) {
            snprintf(field, sizeof field, "Events[%zu].__CLASS", i);
            char msg[400];
            snprintf(msg, sizeof msg, "class %.120s is in namespace %.120s, not in %.120s", cname,
                     router_class_home(ctl->router, cname), ns);
            reply_error(c, id, WBEM_E_INVALID_CLASS, field, msg);
            goto out;
        }
        if (WMI_FAILED(wmi_object_from_json(schema, e, &objs[i], &err))) {
            snprintf(field, sizeof field, "Events[%zu]%s%s", i, err.source[0] ? "." : "", err.source);
            reply_error(c, id, err.status, field, err.text);
            goto out;
        }
        if (!wmi_object_isa(objs[i], "__Event")) {
            snprintf(field, sizeof field, "Events[%zu]", i);
            reply_error(c, id, WBEM_E_NOT_EVENT_CLASS, field,
                        "only instances of __Event subclasses can be indicated");
            goto out;
        }
    }
    for (i = 0; i < n; i++) {
        stamp(objs[i]);
        /* Queue limits count bytes: the event's size as JSON text. */
        size_t size = json_dumpb(wmi_object_json(objs[i]), NULL, 0, JSON_COMPACT);
        pause |= ingest(c, objs[i], size ? size : 256, ns);
    }
    ctl->events += n;
    json_t *r = status_reply(id, WBEM_S_NO_ERROR);
    json_object_set_new(r, "Indicated", json_integer((json_int_t)n));
    reply(c, r);
out:
    for (i = 0; i < n; i++)
        wmi_object_unref(objs[i]);
    free(objs);
    return pause; /* SlowDownProviders: a request pauses the connection as bare events do */
}

/* EnumInstances: every instance of a class and its subclasses that the
 * built-in instance providers return (Get-CimInstance). */
static void
enum_one(wmi_object *inst, void *arg)
{
    json_t *list = arg;
    json_t *j = json_copy((json_t *)wmi_object_json(inst));
    char *path = wmi_object_get_path(inst);
    if (j == NULL)
        return;
    if (path != NULL)
        json_object_set_new(j, "__RELPATH", json_string(path));
    free(path);
    json_array_append_new(list, j);
}

static bool
req_enum_instances(struct conn *c, const json_t *id, json_t *req)
{
    const char *cls = json_string_value(json_object_get(req, "ClassName"));
    char msg[300];
    if (cls == NULL) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "ClassName", "EnumInstances needs \"ClassName\": a string");
        return false;
    }
    const char *ns;
    if (!request_ns_member(c, id, req, &ns))
        return false;
    /* The repository's own objects are listed in their namespace; the
     * instance providers' classes (Win32_Process, ...) are in every one. */
    const struct wmid_instance_provider *ps[16];
    size_t np = instance_providers_for(router_schema(c->ctl->router), cls, ps, 16);
    bool has_repo = false;
    for (size_t i = 0; i < np && i < 16; i++)
        has_repo = has_repo || ps[i] == &wmid_ip_repository;
    has_repo = has_repo && c->ctl->repo.enum_instances != NULL;
    json_t *list = NULL;
    wmi_status st;
    if (has_repo) {
        list = c->ctl->repo.enum_instances(c->ctl->repo.arg, ns, cls, &st);
        if (list == NULL) {
            snprintf(msg, sizeof msg,
                     st == WBEM_E_INVALID_NAMESPACE ? "namespace %.200s does not exist"
                                                    : "no class \"%.200s\" in this namespace",
                     st == WBEM_E_INVALID_NAMESPACE ? ns : cls);
            reply_error(c, id, st, st == WBEM_E_INVALID_NAMESPACE ? "Namespace" : "ClassName", msg);
            return false;
        }
        if (np == 1) {
            json_t *r = status_reply(id, WBEM_S_NO_ERROR);
            json_object_set_new(r, "Instances", list);
            reply(c, r);
            return false;
        }
    } else {
        char nsbuf[WMID_NS_MAX + 1];
        if (!request_ns(c, id, req, "Namespace", nsbuf))
            return false;
        list = json_array();
    }
    st = instance_enumerate_without(router_schema(c->ctl->router), cls, has_repo ? &wmid_ip_repository : NULL,
                                    enum_one, list);
    if (st == WBEM_E_INVALID_CLASS || st == WBEM_E_NOT_SUPPORTED) {
        snprintf(msg, sizeof msg,
                 st == WBEM_E_INVALID_CLASS ? "no class \"%.200s\"" : "no instance provider serves class \"%.200s\"",
                 cls);
        reply_error(c, id, st, "ClassName", msg);
        json_decref(list);
        return false;
    }
    if (WMI_FAILED(st)) {
        snprintf(msg, sizeof msg, "an instance provider of \"%.200s\" failed", cls);
        reply_error(c, id, st, "ClassName", msg);
        json_decref(list);
        return false;
    }
    json_t *r = status_reply(id, WBEM_S_NO_ERROR);
    json_object_set_new(r, "Instances", list);
    reply(c, r);
    return false;
}

/* ====================================================================
 * The repository: GetObject, PutInstance, DeleteInstance
 * ==================================================================== */

/* A failed repository request: status, the field or file, the message. */
static void
reply_wmi_error(struct conn *c, const json_t *id, const wmi_error *err)
{
    struct wmid_control *ctl = c->ctl;
    wmi_status st = err->status ? err->status : WBEM_E_FAILED;
    json_t *r = status_reply(id, st);
    json_object_set_new(r, "Message", json_string(err->text));
    if (err->source[0])
        json_object_set_new(r, err->line > 0 || strchr(err->source, ':') || strchr(err->source, '/') ? "Source" : "Field",
                            json_string(err->source));
    if (err->line > 0) {
        json_object_set_new(r, "Line", json_integer(err->line));
        json_object_set_new(r, "Column", json_integer(err->column));
    }
    count_error(ctl, c, st, err->source, err->text);
    reply(c, r);
}

/* The reply to a repository change: its status, or the error. */
static void
reply_outcome(struct conn *c, const json_t *id, bool ok, const wmi_error *err)
{
    if (ok)
        reply(c, status_reply(id, WBEM_S_NO_ERROR));
    else
        reply_wmi_error(c, id, err);
}

static bool
req_get_object(struct conn *c, const json_t *id, json_t *req)
{
    const char *path = json_string_value(json_object_get(req, "Path"));
    if (path == NULL) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "Path", "GetObject needs \"Path\": an object path");
        return false;
    }
    const char *ns;
    if (!request_ns_member(c, id, req, &ns))
        return false;
    wmi_status st = WBEM_E_NOT_SUPPORTED;
    json_t *got = c->ctl->repo.get ? c->ctl->repo.get(c->ctl->repo.arg, ns, path, &st) : NULL;
    if (got == NULL && st == WBEM_E_INVALID_NAMESPACE) {
        char msg[400];
        char *pns = NULL;
        ns_split_path(path, &pns);
        snprintf(msg, sizeof msg, "namespace %.300s does not exist", pns ? pns : ns ? ns : "?");
        free(pns);
        reply_error(c, id, st, "Namespace", msg);
        return false;
    }
    if (got == NULL) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s: %.500s",
                 st == WBEM_E_INVALID_OBJECT_PATH ? "not an object path"
                 : st == WBEM_E_INVALID_NAMESPACE ? "no such namespace"
                 : st == WBEM_E_INVALID_CLASS     ? "no such class in the namespace"
                                                  : "no such object",
                 path);
        reply_error(c, id, st, "Path", msg);
        return false;
    }
    json_t *r = status_reply(id, WBEM_S_NO_ERROR);
    json_object_update(r, got);
    json_decref(got);
    reply(c, r);
    return false;
}

/* WBEM_FLAG_CREATE_OR_UPDATE (0), WBEM_FLAG_UPDATE_ONLY (1),
 * WBEM_FLAG_CREATE_ONLY (2), by name or number; -1 otherwise. */
static long
put_flags(const json_t *f)
{
    if (f == NULL)
        return WMID_PUT_CREATE_OR_UPDATE;
    if (json_is_integer(f))
        return json_integer_value(f) >= 0 && json_integer_value(f) <= 2 ? (long)json_integer_value(f) : -1;
    const char *s = json_string_value(f);
    if (s == NULL)
        return -1;
    if (strncmp(s, "WBEM_FLAG_", 10) == 0)
        s += 10;
    return strcmp(s, "CREATE_OR_UPDATE") == 0 ? (long)WMID_PUT_CREATE_OR_UPDATE
           : strcmp(s, "UPDATE_ONLY") == 0    ? (long)WMID_PUT_UPDATE_ONLY
           : strcmp(s, "CREATE_ONLY") == 0    ? (long)WMID_PUT_CREATE_ONLY
                                              : -1;
}

static bool
req_put_instance(struct conn *c, const json_t *id, json_t *req)
{
    const json_t *inst = json_object_get(req, "Instance");
    long flags = put_flags(json_object_get(req, "Flags"));
    const char *ns;
    if (!request_ns_member(c, id, req, &ns))
        return false;
    if (!json_is_object(inst)) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "Instance", "PutInstance needs \"Instance\": an object");
        return false;
    }
    if (flags < 0) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "Flags",
                    "Flags is WBEM_FLAG_CREATE_OR_UPDATE (0), WBEM_FLAG_UPDATE_ONLY (1) or WBEM_FLAG_CREATE_ONLY (2)");
        return false;
    }
    if (c->ctl->repo.put == NULL) {
        reply_error(c, id, WBEM_E_NOT_SUPPORTED, "Method", "this daemon has no repository");
        return false;
    }
    wmi_error err;
    memset(&err, 0, sizeof err);
    reply_outcome(c, id, c->ctl->repo.put(c->ctl->repo.arg, &c->identity, ns, inst, (unsigned)flags, &err), &err);
    return false;
}

static bool
req_delete_instance(struct conn *c, const json_t *id, json_t *req)
{
    const char *path = json_string_value(json_object_get(req, "Path"));
    if (path == NULL) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "Path", "DeleteInstance needs \"Path\": an object path");
        return false;
    }
    const char *ns;
    if (!request_ns_member(c, id, req, &ns))
        return false;
    if (c->ctl->repo.del == NULL) {
        reply_error(c, id, WBEM_E_NOT_SUPPORTED, "Method", "this daemon has no repository");
        return false;
    }
    wmi_error err;
    memset(&err, 0, sizeof err);
    reply_outcome(c, id, c->ctl->repo.del(c->ctl->repo.arg, &c->identity, ns, path, &err), &err);
    return false;
}

static bool
req_enum_classes(struct conn *c, const json_t *id, json_t *req)
{
    const json_t *sup = json_object_get(req, "SuperClass");
    const json_t *deep = json_object_get(req, "Deep");
    if ((sup != NULL && !json_is_string(sup)) || (deep != NULL && !json_is_boolean(deep))) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, sup != NULL && !json_is_string(sup) ? "SuperClass" : "Deep",
                    "EnumClasses takes \"SuperClass\" (a class name) and \"Deep\" (true or false)");
        return false;
    }
    const char *ns;
    if (!request_ns_member(c, id, req, &ns))
        return false;
    wmi_status st = WBEM_E_NOT_SUPPORTED;
    json_t *list = c->ctl->repo.enum_classes ? c->ctl->repo.enum_classes(c->ctl->repo.arg, ns, json_string_value(sup),
                                                                         deep == NULL || json_is_true(deep), &st)
                                             : NULL;
    if (list == NULL) {
        if (st == WBEM_E_INVALID_NAMESPACE)
            reply_error(c, id, st, "Namespace", "no such namespace");
        else
            reply_error(c, id, st, "SuperClass", "no such class in the namespace");
        return false;
    }
    json_t *r = status_reply(id, WBEM_S_NO_ERROR);
    json_object_set_new(r, "Classes", list);
    reply(c, r);
    return false;
}

static bool
req_put_class(struct conn *c, const json_t *id, json_t *req)
{
    const json_t *cls = json_object_get(req, "Class");
    long flags = put_flags(json_object_get(req, "Flags"));
    const char *ns;
    if (!request_ns_member(c, id, req, &ns))
        return false;
    if (!json_is_object(cls) || flags < 0 || c->ctl->repo.put_class == NULL) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, !json_is_object(cls) ? "Class" : "Flags",
                    "PutClass needs \"Class\": a class definition (docs/configuration.md), and valid \"Flags\"");
        return false;
    }
    wmi_error err;
    memset(&err, 0, sizeof err);
    reply_outcome(c, id, c->ctl->repo.put_class(c->ctl->repo.arg, &c->identity, ns, cls, (unsigned)flags, &err), &err);
    return false;
}

static bool
req_delete_class(struct conn *c, const json_t *id, json_t *req)
{
    const char *name = json_string_value(json_object_get(req, "ClassName"));
    const char *ns;
    if (!request_ns_member(c, id, req, &ns))
        return false;
    if (name == NULL || c->ctl->repo.del_class == NULL) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "ClassName", "DeleteClass needs \"ClassName\"");
        return false;
    }
    wmi_error err;
    memset(&err, 0, sizeof err);
    reply_outcome(c, id, c->ctl->repo.del_class(c->ctl->repo.arg, &c->identity, ns, name, &err), &err);
    return false;
}

/* MofComp: what wmieventctl compiled (the MOF compiler runs in the
 * client, which reads the files and their includes), applied here all or
 * nothing.  The daemon never opens a file a request names. */
static bool
req_mofcomp(struct conn *c, const json_t *id, json_t *req)
{
    const json_t *ops = json_object_get(req, "Operations");
    if (!json_is_array(ops) || c->ctl->repo.mofcomp == NULL) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "Operations",
                    "MofComp needs \"Operations\": the compiled operations (wmieventctl mofcomp sends them)");
        return false;
    }
    wmi_error err;
    size_t n = 0;
    memset(&err, 0, sizeof err);
    if (!c->ctl->repo.mofcomp(c->ctl->repo.arg, &c->identity, ops, &n, &err)) {
        reply_wmi_error(c, id, &err);
        return false;
    }
    json_t *r = status_reply(id, WBEM_S_NO_ERROR);
    json_object_set_new(r, "Applied", json_integer((json_int_t)n));
    reply(c, r);
    return false;
}

void
control_set_repository(struct wmid_control *c, const struct wmid_repo_ops *ops)
{
    c->repo = *ops;
}

/* Reload re-reads files that only their owner can change, but it is not
 * free (plugins may load, pollers restart): only root and the daemon's own
 * user may ask for it, as only they may send SIGHUP. */
static bool
req_reload(struct conn *c, const json_t *id, json_t *req)
{
    (void)req;
    struct wmid_control *ctl = c->ctl;
    if (c->uid != 0 && c->uid != (long)getuid()) {
        reply_error(c, id, WBEM_E_ACCESS_DENIED, "Method",
                    "Reload is allowed to root and to the daemon's own user only");
        return false;
    }
    if (ctl->reload == NULL) {
        reply_error(c, id, WBEM_E_NOT_SUPPORTED, "Method", "this daemon cannot reload");
        return false;
    }
    wmi_error err;
    size_t n = 0;
    memset(&err, 0, sizeof err);
    if (!ctl->reload(ctl->reload_arg, &err, &n)) {
        json_t *r = status_reply(id, err.status ? err.status : WBEM_E_FAILED);
        json_object_set_new(r, "Message", json_string(err.text));
        if (err.source[0])
            json_object_set_new(r, "Source", json_string(err.source));
        if (err.line > 0) {
            json_object_set_new(r, "Line", json_integer(err.line));
            json_object_set_new(r, "Column", json_integer(err.column));
        }
        count_error(ctl, c, err.status ? err.status : WBEM_E_FAILED, err.source, err.text);
        reply(c, r);
        return false;
    }
    json_t *r = status_reply(id, WBEM_S_NO_ERROR);
    json_object_set_new(r, "Objects", json_integer((json_int_t)n));
    reply(c, r);
    return false;
}

/* Stats' "connections" member (new object). */
static json_t *
connections_stats_json(struct wmid_control *ctl)
{
    json_t *o = json_pack("{sIsIsIsIsIsIsIsIsIsIsO}", "accepted", (json_int_t)ctl->accepted, "open",
                          (json_int_t)ctl->nopen, "lines", (json_int_t)ctl->lines, "events",
                          (json_int_t)ctl->events, "refused", (json_int_t)ctl->refused, "requests",
                          (json_int_t)ctl->requests, "errors", (json_int_t)ctl->errors, "replies_paused",
                          (json_int_t)ctl->replies_paused, "paused", (json_int_t)ctl->paused,
                          "refused_connections", (json_int_t)ctl->refused_connections, "errors_by_status",
                          ctl->errors_by_status);
    if (ctl->last_error[0])
        json_object_set_new(o, "last_error", json_string(ctl->last_error));
    return o;
}

static bool
req_stats(struct conn *c, const json_t *id, json_t *req)
{
    struct wmid_control *ctl = c->ctl;
    (void)req;
    json_t *r = status_reply(id, WBEM_S_NO_ERROR);
    json_t *stats = router_stats_json(ctl->router);
    json_object_set_new(stats, "connections", connections_stats_json(ctl));
    json_object_set_new(stats, "queued_bytes", json_integer((json_int_t)delivery_queued_bytes(ctl->delivery)));
    json_object_set_new(stats, "delivery", delivery_stats_json(ctl->delivery));
    json_object_set_new(stats, "builtin_event_providers", eventprov_builtin_stats_json());
    json_object_set_new(stats, "temporary", temp_stats_json(ctl));
    json_object_set_new(r, "Stats", stats);
    /* The asking connection's own counts, so that a producer can learn
     * what happened to the bare events it sent. */
    json_t *mine = json_pack("{sIsIsI}", "id", (json_int_t)c->id, "events", (json_int_t)c->events, "refused",
                             (json_int_t)c->refused);
    if (c->last_error[0])
        json_object_set_new(mine, "last_error", json_string(c->last_error));
    json_object_set_new(r, "Connection", mine);
    reply(c, r);
    return false;
}

static bool
req_ping(struct conn *c, const json_t *id, json_t *req)
{
    (void)req;
    reply(c, status_reply(id, WBEM_S_NO_ERROR));
    return false;
}

/* A request's handler: @id is the request's "Id" (NULL without one), @req
 * the request.  Returns true when the producer must pause
 * (SlowDownProviders), as a bare event may make it: only Indicate ever
 * does. */
typedef bool request_handler(struct conn *c, const json_t *id, json_t *req);

/* Every request the socket serves (method names compare without regard
 * to case). */
static const struct {
    const char *method;
    request_handler *fn;
} requests[] = {
    {"Indicate", req_indicate},
    {"Stats", req_stats},
    {"Ping", req_ping},
    {"EnumInstances", req_enum_instances},
    {"Reload", req_reload},
    {"GetObject", req_get_object},
    {"PutInstance", req_put_instance},
    {"DeleteInstance", req_delete_instance},
    {"EnumClasses", req_enum_classes},
    {"PutClass", req_put_class},
    {"DeleteClass", req_delete_class},
    {"MofComp", req_mofcomp},
    {"SetBatchingParameters", req_set_batching},
    {"ExecNotificationQuery", req_exec_notification_query},
    {"CancelQuery", req_cancel_query},
};

static bool
handle_request(struct conn *c, json_t *req)
{
    const json_t *id = json_object_get(req, "Id");
    const char *method = json_string_value(json_object_get(req, "Method"));

    c->ctl->requests++;
    if (method == NULL) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "Method", "\"Method\" must be a string");
        return false;
    }
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++)
        if (strcasecmp(method, requests[i].method) == 0)
            return requests[i].fn(c, id, req);
    char msg[400];
    snprintf(msg, sizeof msg, "unknown method \"%.200s\" (see docs/protocol.md for the methods served)", method);
    reply_error(c, id, WBEM_E_NOT_SUPPORTED, "Method", msg);
    return false;
}

/* ====================================================================
 * Lines
 * ==================================================================== */

static bool
blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return false;
    return true;
}

/* Handle one complete line (without its newline).  Returns true when the
 * producer must pause. */
static bool
handle_line(struct conn *c, const char *line, size_t n)
{
    struct wmid_control *ctl = c->ctl;
    json_error_t jerr;
    char msg[400];

    ctl->lines++;
    if (blank(line, n))
        return false;
    json_t *j = json_loadb(line, n, 0, &jerr);
    if (j == NULL) {
        snprintf(msg, sizeof msg, "malformed JSON line at column %d: %s", jerr.column, jerr.text);
        ctl->refused++;
        c->refused++;
        reply_error(c, NULL, WBEM_E_INVALID_SYNTAX, NULL, msg);
        return false;
    }
    if (json_is_object(j) && json_object_get(j, "__CLASS") != NULL) {
        wmi_object *ev;
        wmi_error err;
        const wmi_schema *schema = router_schema(ctl->router);
        /* A bare event may say where it is raised, as its __NAMESPACE. */
        char ns[WMID_NS_MAX + 1];
        const char *cname = json_string_value(json_object_get(j, "__CLASS"));
        wmi_status nst = resolve_ns(ctl->router, json_object_get(j, "__NAMESPACE"), ns, msg, sizeof msg);
        if (WMI_FAILED(nst)) {
            ctl->refused++;
            c->refused++;
            /* A bare event's namespace that is no namespace, string or not. */
            count_error(ctl, c, WBEM_E_INVALID_NAMESPACE, "__NAMESPACE", msg);
            json_decref(j);
            return false;
        }
        if (cname != NULL && !router_class_in(ctl->router, cname, ns)) {
            snprintf(msg, sizeof msg, "class %.120s is in namespace %.120s, not in %.120s", cname,
                     router_class_home(ctl->router, cname), ns);
            ctl->refused++;
            c->refused++;
            count_error(ctl, c, WBEM_E_INVALID_CLASS, "__CLASS", msg);
            json_decref(j);
            return false;
        }
        if (WMI_FAILED(wmi_object_from_json_new(schema, j, &ev, &err))) {
            ctl->refused++;
            c->refused++;
            count_error(ctl, c, err.status, err.source, err.text);
            return false;
        }
        if (!wmi_object_isa(ev, "__Event")) {
            ctl->refused++;
            c->refused++;
            count_error(ctl, c, WBEM_E_NOT_EVENT_CLASS, wmi_object_class_name(ev),
                        "only instances of __Event subclasses can be indicated");
            wmi_object_unref(ev);
            return false;
        }
        stamp(ev);
        ctl->events++;
        c->events++;
        bool pause = ingest(c, ev, n + 1, ns);
        wmi_object_unref(ev);
        return pause;
    }
    bool pause = false;
    if (json_is_object(j) && json_object_get(j, "Method") != NULL) {
        pause = handle_request(c, j);
    } else {
        reply_error(c, NULL, WBEM_E_INVALID_PARAMETER, NULL,
                    "a line is an event object with \"__CLASS\" or a request with \"Method\"");
    }
    json_decref(j);
    return pause;
}

/* ====================================================================
 * Connections
 * ==================================================================== */

static void
refuse_oversized(struct conn *c)
{
    char msg[160];
    snprintf(msg, sizeof msg, "line longer than max_line_bytes (%zu bytes); skipped",
             c->ctl->settings->max_line_bytes);
    c->ctl->refused++;
    c->refused++;
    reply_error(c, NULL, WBEM_E_TOO_MUCH_DATA, NULL, msg);
}

static void
on_conn_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    free(c->buf);
    free(c->held);
    free(c->held_size);
    free(c);
}

static void
on_timer_closed(uv_handle_t *h)
{
    free(h);
}

static void
conn_close(struct conn *c)
{
    struct wmid_control *ctl = c->ctl;
    if (c->closing)
        return;
    /* A MUST_BATCH sink's held events are routed, not lost, when the
     * producer goes. */
    if (c->nheld > 0) {
        flush_held(c);
        router_flush(ctl->router);
    }
    if (c->batch_timer != NULL) {
        uv_close((uv_handle_t *)c->batch_timer, on_timer_closed);
        c->batch_timer = NULL;
    }
    temp_conn_closed(c);
    c->closing = true;
    ctl->nopen--;
    if (c->prev)
        c->prev->next = c->next;
    else
        ctl->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct conn *c = h->data;
    (void)suggested;
    if (c->cap - c->len < READ_CHUNK) {
        size_t ncap = c->len + READ_CHUNK;
        char *nb = realloc(c->buf, ncap);
        if (nb == NULL) {
            *b = uv_buf_init(NULL, 0);
            return;
        }
        c->buf = nb;
        c->cap = ncap;
    }
    *b = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len));
}

/*
 * Handle the complete lines in the buffer, from @scan_from on (the bytes
 * before it hold no newline).  Stops at the first line after which the
 * producer must pause (SlowDownProviders): the lines after it stay in the
 * buffer, unread by the router, until on_resume.  Without that, one read of
 * 64 KiB of small events would be routed at once and overshoot the
 * consumer's queue limit (and drop) before the pause took effect.
 */
static void
process_buffer(struct conn *c, size_t scan_from)
{
    struct wmid_control *ctl = c->ctl;
    size_t start = 0;
    bool pause = false;
    if (c->buf == NULL)
        return; /* nothing buffered (an oversized line's memory was given back) */
    while (!pause) {
        char *nl = memchr(c->buf + scan_from, '\n', c->len - scan_from);
        if (nl == NULL)
            break;
        size_t end = (size_t)(nl - c->buf);
        /* A CRLF line's CR does not count against the limit. */
        size_t linelen = end - start - (end > start && c->buf[end - 1] == '\r' ? 1 : 0);
        if (c->discarding) {
            c->discarding = false;
        } else if (linelen > ctl->settings->max_line_bytes) {
            refuse_oversized(c);
        } else {
            pause = handle_line(c, c->buf + start, end - start);
        }
        start = end + 1;
        scan_from = start;
        if (c->closing)
            return;
    }
    if (start > 0) {
        memmove(c->buf, c->buf + start, c->len - start);
        c->len -= start;
    }
    if (!pause && c->len > ctl->settings->max_line_bytes) {
        /* Keep no more of an oversized line: skip to its newline. */
        if (!c->discarding)
            refuse_oversized(c);
        c->discarding = true;
        c->len = 0;
    }
    if (c->len == 0 && c->cap > 4 * READ_CHUNK) {
        /* Give back the memory an oversized line made us take. */
        free(c->buf);
        c->buf = NULL;
        c->cap = 0;
    }
    if (pause)
        set_paused(c);
}

/* Stop reading a producer until the queues drain (on_resume). */
static void
set_paused(struct conn *c)
{
    if (c->paused || c->closing)
        return;
    c->paused = true;
    c->ctl->paused++;
    uv_read_stop((uv_stream_t *)&c->pipe);
    delivery_want_resume(c->ctl->delivery);
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct conn *c = s->data;
    (void)b;

    if (nread < 0) {
        if (nread != UV_EOF)
            log_debug("control: connection %lu: %s", c->id, uv_strerror((int)nread));
        conn_close(c);
        return;
    }
    if (nread == 0)
        return;
    size_t scan_from = c->len;
    c->len += (size_t)nread;
    process_buffer(c, scan_from);
    /* One wake of the delivery threads per read, not per event. */
    router_flush(c->ctl->router);
}

static void
on_resume(void *arg)
{
    struct wmid_control *ctl = arg;
    if (delivery_is_congested(ctl->delivery)) {
        delivery_want_resume(ctl->delivery);
        return;
    }
    /* The event providers' queue waits for the same drain. */
    eventprov_resume();
    for (struct conn *c = ctl->conns; c != NULL; c = c->next) {
        if (c->paused && !c->closing) {
            c->paused = false;
            /* First the lines read before the pause; they may pause again. */
            process_buffer(c, 0);
            if (!c->paused && !c->write_paused && !c->closing)
                uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
        }
    }
    router_flush(ctl->router);
}

static void
on_connection(uv_stream_t *server, int status)
{
    struct wmid_control *ctl = server->data;
    if (status < 0) {
        log_warnx("control: accept: %s", uv_strerror(status));
        return;
    }
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return;
    uv_pipe_init(ctl->loop, &c->pipe, 0);
    c->pipe.data = c;
    c->ctl = ctl;
    c->id = ++ctl->next_id;
    c->uid = -1;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0) {
        uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
        return;
    }
    uv_os_fd_t fd;
    struct ucred cred;
    socklen_t clen = sizeof cred;
    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) == 0 &&
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
        c->uid = (long)cred.uid;
    /* Once per connection: the group lookup may go through NSS. */
    sec_identity_from_uid(&c->identity, c->uid, ctl->settings->admin_gid);
    if (ctl->nopen >= ctl->settings->max_connections) {
        /* Each connection may hold a line of up to max_line_bytes: bound
         * how many there are.  Refused with a log line a second at most. */
        ctl->refused_connections++;
        time_t now = time(NULL);
        if (now != ctl->last_refuse_log) {
            ctl->last_refuse_log = now;
            log_warnx("control: %u connections open (max_connections); refusing uid %ld (%llu refused so far)",
                      ctl->nopen, c->uid, ctl->refused_connections);
        }
        uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
        return;
    }
    ctl->nopen++;
    c->next = ctl->conns;
    if (ctl->conns)
        ctl->conns->prev = c;
    ctl->conns = c;
    ctl->accepted++;
    log_debug("control: connection %lu from uid %ld", c->id, c->uid);
    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

/* ====================================================================
 * Listener
 * ==================================================================== */

static int
mkdir_p(const char *dir)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* Is something already listening on @path? */
static bool
socket_in_use(const char *path)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool used = connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0;
    close(fd);
    return used;
}

struct wmid_control *
control_new(uv_loop_t *loop, const struct wmid_settings *s, struct wmid_router *r, struct wmid_delivery *d,
            wmi_error *err)
{
    struct wmid_control *ctl = calloc(1, sizeof *ctl);
    if (ctl == NULL)
        return NULL;
    ctl->loop = loop;
    ctl->settings = s;
    ctl->router = r;
    ctl->delivery = d;
    ctl->errors_by_status = json_object();
    ctl->loop_thread = pthread_self();
    delivery_set_resume_cb(d, on_resume, ctl);

    char *dir = strdup(s->socket_path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        if (mkdir_p(dir) != 0)
            log_warn("control: cannot create %s", dir);
    }
    free(dir);
    if (strlen(s->socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        snprintf(err->text, sizeof err->text, "socket path is longer than %zu bytes",
                 sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        goto fail;
    }
    if (socket_in_use(s->socket_path)) {
        snprintf(err->text, sizeof err->text, "another daemon is listening on this socket");
        goto fail;
    }
    unlink(s->socket_path);
    uv_pipe_init(loop, &ctl->listener, 0);
    ctl->listener.data = ctl;
    mode_t old = umask(0117);
    int rc = uv_pipe_bind(&ctl->listener, s->socket_path);
    umask(old);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&ctl->listener, 128, on_connection);
    if (rc != 0) {
        snprintf(err->text, sizeof err->text, "cannot listen: %s", uv_strerror(rc));
        uv_close((uv_handle_t *)&ctl->listener, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        goto fail;
    }
    chmod(s->socket_path, 0660);
    if (s->socket_gid >= 0 && chown(s->socket_path, (uid_t)-1, (gid_t)s->socket_gid) != 0)
        log_warn("control: chown %s", s->socket_path);
    ctl->listening = true;
    log_info("control: listening on %s", s->socket_path);
    return ctl;
fail:
    err->status = WBEM_E_FAILED;
    err->line = err->column = 0;
    snprintf(err->source, sizeof err->source, "%s", s->socket_path);
    json_decref(ctl->errors_by_status);
    free(ctl);
    return NULL;
}

void
control_set_router(struct wmid_control *c, struct wmid_router *r)
{
    c->router = r;
    if (c->temps != NULL)
        temp_reparse(c);
}

void
control_set_reload(struct wmid_control *c, bool (*fn)(void *arg, wmi_error *err, size_t *nobjects), void *arg)
{
    c->reload = fn;
    c->reload_arg = arg;
}

void
control_stop_accepting(struct wmid_control *ctl)
{
    if (ctl->listening) {
        ctl->listening = false;
        uv_close((uv_handle_t *)&ctl->listener, NULL);
        unlink(ctl->settings->socket_path);
    }
}

void
control_close(struct wmid_control *ctl)
{
    control_stop_accepting(ctl);
    /* Lines a paused producer sent but the daemon had not read yet are not
     * routed: say so rather than lose them silently. */
    size_t held = 0;
    unsigned nheld = 0;
    for (struct conn *c = ctl->conns; c != NULL; c = c->next) {
        if ((c->paused || c->write_paused) && c->len > 0) {
            held += c->len;
            nheld++;
        }
    }
    if (held > 0)
        log_warnx("control: %zu byte(s) of lines read from %u paused connection(s) were not routed before exit",
                  held, nheld);
    while (ctl->conns != NULL)
        conn_close(ctl->conns);
    uv_run(ctl->loop, UV_RUN_NOWAIT);
    ctl->closing = true;
    temp_reindex(ctl); /* no subscription is left: the router's hook goes */
    free(ctl->tnames);
    ctl->tnames = NULL;
    json_decref(ctl->errors_by_status);
    free(ctl);
}
