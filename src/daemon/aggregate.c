/*
 * aggregate.c - GROUP WITHIN n [BY props] [HAVING cond]: __AggregateEvent.
 *
 * A filter with a GROUP clause does not deliver the events its WHERE
 * selects; it counts them.  Events are grouped by the values of the BY
 * properties (one group when there is no BY).  A group's window opens with
 * its first event and lasts GROUP WITHIN seconds; when it closes, one
 * __AggregateEvent is raised for the group, with NumberOfEvents, a copy of
 * the group's first event as Representative, and the BY values, and it is
 * delivered to the filter's bindings if the HAVING condition holds.
 *
 * WMI gives the aggregate event the properties named in BY.  wmieventd's
 * classes are fixed, so for a filter with BY the router defines a subclass
 * of __AggregateEvent named __AggregateEvent_<filter name> carrying them:
 * BY Severity gives a property Severity; BY TargetInstance.Name gives a
 * property TargetInstance holding an embedded object with only Name set.
 * Consumers and templates see %NumberOfEvents%, %Severity% or
 * %TargetInstance.Name% as they would in WMI.
 *
 * Loop thread only: events reach it from router_indicate on the loop, and
 * windows close on a libuv timer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/wmieventd.h"

struct group {
    char *key;                   /* the BY values as compact JSON */
    json_t *by;                  /* their values, in BY order */
    wmi_object *representative;  /* the first event of the window */
    uint64_t count;
    uint64_t deadline;           /* uv_now() when the window closes */
    struct group *next;
};

struct wmid_aggregator {
    uv_loop_t *loop;
    struct wmid_router *router;
    struct wmid_filter *filter;
    const wmi_class *agg_class;  /* __AggregateEvent or the filter's subclass */
    uint64_t window_ms;
    uv_timer_t timer;
    bool timer_armed;
    struct group *head, *tail;   /* in deadline order (windows are equal) */
    size_t ngroups;
    json_t *index;               /* key -> (pointer as integer) */
};

/* Longest group table kept; past it, new groups are refused (and
 * counted) so that a BY over an unbounded property cannot exhaust memory. */
#define MAX_GROUPS 100000

/* ====================================================================
 * Property paths
 * ==================================================================== */

/* A key of @obj named @name, case-insensitively. */
static json_t *
get_ci(const json_t *obj, const char *name, size_t len)
{
    json_t *v = json_object_getn(obj, name, len);
    if (v != NULL)
        return v;
    const char *k;
    json_object_foreach((json_t *)obj, k, v) {
        if (strlen(k) == len && strncasecmp(k, name, len) == 0)
            return v;
    }
    return NULL;
}

/* The value at a dotted path of an event (JSON null when absent). */
static const json_t *
path_value(const wmi_object *ev, const char *path)
{
    const char *dot = strchr(path, '.');
    const json_t *v = NULL;
    char first[256];
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    if (n >= sizeof first)
        return json_null();
    memcpy(first, path, n);
    first[n] = '\0';
    if (wmi_object_get_json(ev, first, &v, NULL) != WBEM_S_NO_ERROR)
        return json_null();
    while (dot != NULL && v != NULL && json_is_object(v)) {
        const char *seg = dot + 1;
        dot = strchr(seg, '.');
        v = get_ci(v, seg, dot ? (size_t)(dot - seg) : strlen(seg));
    }
    return (v == NULL || dot != NULL) ? json_null() : v;
}

/* Put @value at @path into the aggregate's JSON, creating embedded
 * objects (with the __CLASS of the event's own) along the way. */
static void
put_path(json_t *agg, const wmi_object *ev, const char *path, const json_t *value)
{
    json_t *dst = agg;
    const json_t *src = wmi_object_json(ev);
    const char *seg = path;
    for (;;) {
        const char *dot = strchr(seg, '.');
        size_t n = dot ? (size_t)(dot - seg) : strlen(seg);
        /* Use the event's spelling of the name. */
        const char *name = NULL;
        const char *k;
        json_t *sv;
        json_object_foreach((json_t *)src, k, sv) {
            if (strlen(k) == n && strncasecmp(k, seg, n) == 0) {
                name = k;
                break;
            }
        }
        if (name == NULL)
            return;
        if (dot == NULL) {
            json_object_set(dst, name, (json_t *)value);
            return;
        }
        json_t *next = json_object_get(dst, name);
        if (next == NULL) {
            next = json_pack("{sO}", "__CLASS", json_object_get(sv, "__CLASS"));
            json_object_set_new(dst, name, next);
        }
        dst = next;
        src = sv;
        seg = dot + 1;
    }
}

/* ====================================================================
 * Windows
 * ==================================================================== */

static void arm(struct wmid_aggregator *a);

static void
emit(struct wmid_aggregator *a, struct group *g)
{
    const wmi_query *q = a->filter->query;
    json_t *j = json_pack("{sssIsO}", "__CLASS", wmi_class_name(a->agg_class), "NumberOfEvents",
                          (json_int_t)(g->count > UINT32_MAX ? UINT32_MAX : g->count), "Representative",
                          wmi_object_json(g->representative));
    for (size_t i = 0; i < wmi_query_group_by_count(q); i++)
        put_path(j, g->representative, wmi_query_group_by_at(q, i), json_array_get(g->by, i));
    wmi_object *agg;
    wmi_error err;
    if (WMI_FAILED(wmi_object_from_json_new(router_schema(a->router), j, &agg, &err))) {
        log_warnx("filter %s: cannot build its __AggregateEvent: %s: %s", a->filter->name, err.source, err.text);
        return;
    }
    if (wmi_query_evaluate_having(q, agg))
        router_deliver_bindings(a->router, a->filter, agg, 256);
    wmi_object_unref(agg);
}

static void
close_due(struct wmid_aggregator *a)
{
    uint64_t now = uv_now(a->loop);
    bool any = false;
    while (a->head != NULL && a->head->deadline <= now) {
        struct group *g = a->head;
        a->head = g->next;
        if (a->head == NULL)
            a->tail = NULL;
        json_object_del(a->index, g->key);
        a->ngroups--;
        emit(a, g);
        any = true;
        free(g->key);
        json_decref(g->by);
        wmi_object_unref(g->representative);
        free(g);
    }
    if (any)
        router_flush(a->router);
}

static void
on_timer(uv_timer_t *t)
{
    struct wmid_aggregator *a = t->data;
    a->timer_armed = false;
    close_due(a);
    arm(a);
}

static void
arm(struct wmid_aggregator *a)
{
    if (a->head == NULL || a->timer_armed)
        return;
    uint64_t now = uv_now(a->loop);
    uv_timer_start(&a->timer, on_timer, a->head->deadline > now ? a->head->deadline - now : 0, 0);
    a->timer_armed = true;
}

void
aggregate_add(struct wmid_aggregator *a, wmi_object *ev)
{
    const wmi_query *q = a->filter->query;
    json_t *by = json_array();
    for (size_t i = 0; i < wmi_query_group_by_count(q); i++)
        json_array_append(by, (json_t *)path_value(ev, wmi_query_group_by_at(q, i)));
    char *key = json_dumps(by, JSON_COMPACT | JSON_ENCODE_ANY);
    if (key == NULL) {
        json_decref(by);
        return;
    }
    json_t *found = json_object_get(a->index, key);
    if (found != NULL) {
        struct group *g = (struct group *)(uintptr_t)json_integer_value(found);
        g->count++;
        free(key);
        json_decref(by);
        return;
    }
    if (a->ngroups >= MAX_GROUPS) {
        log_warnx("filter %s: more than %d open groups; event not aggregated", a->filter->name, MAX_GROUPS);
        free(key);
        json_decref(by);
        return;
    }
    struct group *g = calloc(1, sizeof *g);
    if (g == NULL) {
        free(key);
        json_decref(by);
        return;
    }
    g->key = key;
    g->by = by;
    g->representative = wmi_object_ref(ev);
    g->count = 1;
    g->deadline = uv_now(a->loop) + a->window_ms;
    if (a->tail)
        a->tail->next = g;
    else
        a->head = g;
    a->tail = g;
    a->ngroups++;
    json_object_set_new(a->index, key, json_integer((json_int_t)(uintptr_t)g));
    arm(a);
}

/* ====================================================================
 * Life cycle
 * ==================================================================== */

struct wmid_aggregator *
aggregate_new(uv_loop_t *loop, struct wmid_router *r, struct wmid_filter *f)
{
    struct wmid_aggregator *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->loop = loop;
    a->router = r;
    a->filter = f;
    double w = wmi_query_group_within(f->query);
    a->window_ms = w <= 0 ? 1 : (uint64_t)(w * 1000.0 + 0.5);
    a->agg_class = wmi_schema_get_class(router_schema(r), aggregate_class_name(f, NULL, 0));
    if (a->agg_class == NULL)
        a->agg_class = wmi_schema_get_class(router_schema(r), "__AggregateEvent");
    a->index = json_object();
    uv_timer_init(loop, &a->timer);
    a->timer.data = a;
    return a;
}

static void
on_closed(uv_handle_t *h)
{
    free(h->data);
}

void
aggregate_free(struct wmid_aggregator *a)
{
    if (a == NULL)
        return;
    /* Windows still open at shutdown are dropped, as WMI drops them. */
    while (a->head != NULL) {
        struct group *g = a->head;
        a->head = g->next;
        free(g->key);
        json_decref(g->by);
        wmi_object_unref(g->representative);
        free(g);
    }
    json_decref(a->index);
    uv_timer_stop(&a->timer);
    uv_close((uv_handle_t *)&a->timer, on_closed);
}

/* __AggregateEvent_<name>: the class of the filter's aggregate events when
 * it has BY (letters, digits and _ kept, the rest turned into _).  With
 * @buf NULL, a static buffer is used. */
const char *
aggregate_class_name(const struct wmid_filter *f, char *buf, size_t len)
{
    static char sbuf[300];
    if (buf == NULL) {
        buf = sbuf;
        len = sizeof sbuf;
    }
    int n = snprintf(buf, len, "__AggregateEvent_");
    for (const char *p = f->name; *p && (size_t)n + 1 < len; p++, n++)
        buf[n] = (char)((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ? *p : '_');
    buf[n] = '\0';
    return buf;
}

bool
aggregate_define_class(wmi_schema *schema, const struct wmid_filter *f, wmi_error *err)
{
    const wmi_query *q = f->query;
    size_t nby = wmi_query_group_by_count(q);
    char name[300];
    if (nby == 0)
        return true;
    aggregate_class_name(f, name, sizeof name);
    if (wmi_schema_get_class(schema, name) != NULL)
        return true; /* defined by an earlier build of the same objects */
    const wmi_class *from = wmi_schema_get_class(schema, wmi_query_class(q));
    json_t *props = json_object();
    for (size_t i = 0; i < nby; i++) {
        const char *path = wmi_query_group_by_at(q, i);
        const char *dot = strchr(path, '.');
        char first[256];
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof first)
            n = sizeof first - 1;
        memcpy(first, path, n);
        first[n] = '\0';
        const wmi_property *p = from ? wmi_class_find_property(from, first) : NULL;
        if (p == NULL || json_object_get(props, p->name) != NULL)
            continue;
        const char *tname = wmi_cimtype_name(p->type);
        char spec[300];
        if (p->type == CIM_OBJECT || dot != NULL)
            snprintf(spec, sizeof spec, "object");
        else if ((p->type & ~CIM_FLAG_ARRAY) == CIM_REFERENCE && p->ref_class)
            snprintf(spec, sizeof spec, "ref:%s%s", p->ref_class, (p->type & CIM_FLAG_ARRAY) ? "[]" : "");
        else
            snprintf(spec, sizeof spec, "%s", tname ? tname : "string");
        json_object_set_new(props, p->name, json_string(spec));
    }
    json_t *def = json_pack("{sssssO}", "__CLASS", name, "__SUPERCLASS", "__AggregateEvent", "__PROPERTIES", props);
    json_decref(props);
    wmi_status st = wmi_schema_add_class_json(schema, def, err);
    json_decref(def);
    return WMI_SUCCEEDED(st);
}
