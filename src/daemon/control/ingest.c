/*
 * ingest.c - the events a control connection raises.
 *
 * This file takes events from producers to the router: bare events (a line
 * that is an object with "__CLASS", indicated with no reply, the cheap path
 * for high-rate producers) and the Indicate request (an array of events,
 * all or nothing, with a reply).  It stamps events with TIME_CREATED,
 * converts the string values wmieventctl sends (Coerce), and resolves the
 * namespace an event is raised in, which requests use too (request_ns).
 * A connection that asked for SetBatchingParameters is an event sink whose
 * events are held and routed by size or latency; this file owns that too.
 * The router's answer, whether the producer must pause, goes back to
 * server.c, which stops reading.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/config/config.h"
#include "daemon/control/internal.h"
#include "daemon/engine/engine.h"

/* ====================================================================
 * Namespaces
 * ==================================================================== */

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
bool
ingest_request_ns(struct conn *c, const json_t *id, const json_t *req, const char *member, char buf[WMID_NS_MAX + 1])
{
    char msg[400];
    wmi_status st = resolve_ns(c->ctl->router, json_object_get(req, member), buf, msg, sizeof msg);
    if (WMI_FAILED(st))
        reply_error(c, id, st, member, msg);
    return WMI_SUCCEEDED(st);
}

/* ====================================================================
 * Events as they arrive
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

/* Route what a MUST_BATCH sink held.  Returns true when the producer must
 * pause. */
bool
ingest_flush_held(struct conn *c)
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
    if (ingest_flush_held(c))
        conn_pause(c);
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
        pause = ingest_flush_held(c);
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
            return ingest_flush_held(c) | router_indicate_from(c->ctl->router, ev, size, 0, &src) | pause; /* no room */
        c->capheld = ncap;
    }
    c->held[c->nheld] = wmi_object_ref(ev);
    c->held_size[c->nheld++] = size;
    c->held_bytes += size;
    if (c->held_bytes >= c->batch_max_bytes)
        return ingest_flush_held(c) | pause;
    if (c->nheld == 1)
        uv_timer_start(c->batch_timer, on_batch_latency, c->batch_latency_ms, 0);
    return pause;
}

bool
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
    if (ingest_flush_held(c))
        conn_pause(c);
    c->batch_flags = (unsigned)flags;
    c->batch_max_bytes = (size_t)bytes;
    c->batch_latency_ms = (unsigned)ms;
    reply(c, status_reply(id, WBEM_S_NO_ERROR));
    return false;
}

/* ====================================================================
 * Bare events
 * ==================================================================== */

/* A bare event is refused without a reply: counted, and logged by
 * count_error. */
bool
ingest_bare_event(struct conn *c, json_t *j, size_t size)
{
    struct wmid_control *ctl = c->ctl;
    char msg[400];
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
    bool pause = ingest(c, ev, size, ns);
    wmi_object_unref(ev);
    return pause;
}

/* ====================================================================
 * Indicate
 * ==================================================================== */

bool
req_indicate(struct conn *c, const json_t *id, json_t *req)
{
    struct wmid_control *ctl = c->ctl;
    json_t *events = json_object_get(req, "Events");
    bool do_coerce = json_is_true(json_object_get(req, "Coerce"));
    const wmi_schema *schema = router_schema(ctl->router);
    char ns[WMID_NS_MAX + 1];

    if (!ingest_request_ns(c, id, req, "Namespace", ns))
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
