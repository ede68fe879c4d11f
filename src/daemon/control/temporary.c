/*
 * temporary.c - temporary subscriptions on the control socket.
 *
 * This file owns ExecNotificationQuery and CancelQuery: the subscriptions
 * each connection holds, the index the router's hook looks them up by, the
 * events and status lines written for them, the overflow notices of slow
 * readers, and the parsing of their queries again when a reload swaps
 * routers.
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
 * could read) closes the connection and its subscriptions (server.c's
 * conn_send_event).
 *
 * Reload: the queries are parsed against the router's schema, which goes
 * with the old router; control_set_router parses them again against the
 * new one.  One that no longer parses (its class was removed) is
 * cancelled with a status line naming the reason.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/providers/providers.h"
#include "daemon/config/config.h"
#include "daemon/control/internal.h"
#include "daemon/engine/engine.h"
#include "daemon/log.h"

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
    struct wmid_filter_live acc_live; /* acc.live: never refused, never polled */
    unsigned long long delivered, dropped_total;
    unsigned long long dropped;  /* since the last overflow notice; >0: overflowing */
};

/* One group of the index: the subscriptions whose FROM names @name. */
struct tclass {
    const char *name;            /* borrowed from a subscription's query */
    struct tsub **subs;
    size_t n;
};

/* ====================================================================
 * Subscriptions and their index
 * ==================================================================== */

static void temp_on_event(void *arg, wmi_object *ev, const struct wmid_source *src);

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
void
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
    if (ctl->router != NULL)
        router_set_temp_hook(ctl->router, ctl->ntemps > 0 ? temp_on_event : NULL, ctl);
    /* The event providers that serve only when someone listens (the
     * process connector, plugins) learn of the classes temporary
     * consumers want, as they do of filters'. */
    free(ctl->tnames);
    ctl->tnames = ctl->ntclasses > 0 ? calloc(ctl->ntclasses, sizeof *ctl->tnames) : NULL;
    for (size_t i = 0; ctl->tnames != NULL && i < ctl->ntclasses; i++)
        ctl->tnames[i] = ctl->tclasses[i].name;
    if (ctl->router != NULL)
        router_set_temp_classes(ctl->router, ctl->tnames, ctl->tnames != NULL ? ctl->ntclasses : 0);
    if (!ctl->closing && ctl->router != NULL)
        eventprov_sync(ctl->eventprov, ctl->router);
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

/* ====================================================================
 * Writing events and status lines
 * ==================================================================== */

/* A status line about subscription @t (steals @msg). */
static void
temp_status_line(struct tsub *t, json_t *msg)
{
    json_object_set_new(msg, "QueryId", json_integer((json_int_t)t->qid));
    size_t n;
    char *line = json_line(msg, &n);
    if (line != NULL)
        conn_send_event(t->conn, line, n);
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
void
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
        conn_send_event(c, line, (size_t)n);
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

/* ====================================================================
 * ExecNotificationQuery and CancelQuery
 * ==================================================================== */

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
        wmi_error_set(err, WBEM_E_NOT_SUPPORTED, err->source, err->line, 0,
                 "intrinsic events of %s come from polling an instance provider, which only permanent "
                 "__EventFilter subscriptions do; temporary consumers receive indicated events only",
                 wmi_query_isa_target(q));
        wmi_query_free(q);
        return NULL;
    }
    if (wmi_query_group_within(q) >= 0) {
        wmi_error_set(err, WBEM_E_NOT_SUPPORTED, err->source, err->line, 0,
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
                wmi_error_set(err, WBEM_E_INVALID_CLASS, "", 0, 0, "class %.60s is in namespace %.100s, not in %.100s", qcls[k],
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
    t->acc.live = &t->acc_live;
    t->next = ctl->temps;
    ctl->temps = t;
    t->cnext = c->temps;
    c->temps = t;
    ctl->ntemps++;
    c->ntemps++;
    ctl->temp_created++;
    temp_reindex(ctl);
}

bool
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
    if (has_ns && !ingest_request_ns(c, id, req, "Namespace", ns))
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

bool
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

/* ====================================================================
 * Closed connections, reload and Stats
 * ==================================================================== */

/* The connection goes: so do its subscriptions. */
void
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
void
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

json_t *
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
