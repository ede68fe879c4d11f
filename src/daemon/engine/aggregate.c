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
 * For a filter with BY the router defines __AggregateEvent_<filter name>,
 * derived from __AggregateEvent, to carry the BY values
 * (wmi_query_define_aggregate_class explains the shape).
 *
 * Loop thread only: events reach it from router_indicate on the loop, and
 * windows close on a libuv timer.
 */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/wmieventd.h"
#include "daemon/engine/aggregate.h"
#include "daemon/engine/router.h"
#include "daemon/log.h"

struct group {
    char *key;                   /* the BY values as compact JSON */
    json_t *by;                  /* their values, in BY order */
    wmi_object *representative;  /* the first event of the window */
    uint64_t count;
    size_t bytes;                /* size of the representative as JSON */
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
    uint64_t refused;            /* events over MAX_GROUPS or MAX_GROUP_BYTES */
    size_t bytes;                /* sum of the open groups' bytes */
    uint64_t last_warn;          /* uv_now() of the last warning */
};

/* Longest group table kept; past it, new groups are refused (and
 * counted) so that a BY over an unbounded property cannot exhaust memory. */
#define MAX_GROUPS 10000
/* Most bytes (as JSON text) of representative events kept by one filter's
 * open windows; past it new groups are refused like past MAX_GROUPS. */
#define MAX_GROUP_BYTES (16u * 1024 * 1024)

/* ====================================================================
 * Windows
 * ==================================================================== */

static void arm(struct wmid_aggregator *a);

static void
emit(struct wmid_aggregator *a, struct group *g)
{
    wmi_object *agg;
    wmi_error err;
    const char *cname = a->agg_class == NULL ? NULL : wmi_class_name(a->agg_class);
    if (WMI_FAILED(wmi_query_make_aggregate(a->filter->query, router_schema(a->router), cname,
                                            g->representative, g->by, g->count, &agg, &err))) {
        log_warnx("filter %s: cannot build its __AggregateEvent: %s: %s", a->filter->qname, err.source, err.text);
        return;
    }
    if (wmi_query_evaluate_having(a->filter->query, agg))
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
        a->bytes -= g->bytes;
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
    json_t *by = wmi_query_group_values(a->filter->query, ev);
    if (by == NULL)
        return;
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
    size_t size = json_dumpb(wmi_object_json(ev), NULL, 0, JSON_COMPACT);
    if (a->ngroups >= MAX_GROUPS || a->bytes + size > MAX_GROUP_BYTES) {
        /* Counted, and logged at most once a second. */
        a->refused++;
        uint64_t now = uv_now(a->loop);
        if (now >= a->last_warn + 1000) {
            a->last_warn = now;
            log_warnx("filter %s: %zu open groups holding %zu bytes (limits %d, %u); %llu event(s) not "
                      "aggregated so far",
                      a->filter->qname, a->ngroups, a->bytes, MAX_GROUPS, MAX_GROUP_BYTES,
                      (unsigned long long)a->refused);
        }
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
    g->bytes = size;
    a->bytes += size;
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
    /* NULL (plain __AggregateEvent) when the query has no BY. */
    a->agg_class = wmi_schema_get_class(router_schema(r), aggregate_class_name(f, NULL, 0));
    a->index = json_object();
    uv_timer_init(loop, &a->timer);
    a->timer.data = a;
    return a;
}

void
aggregate_rebind(struct wmid_aggregator *a, struct wmid_router *r, struct wmid_filter *f)
{
    a->router = r;
    a->filter = f;
    a->agg_class = wmi_schema_get_class(router_schema(r), aggregate_class_name(f, NULL, 0));
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
    /* Windows still open at shutdown are dropped, as WMI drops them; the
     * log says how many. */
    if (a->ngroups > 0)
        log_notice("filter %s: %zu GROUP window(s) still open at exit or reload; no __AggregateEvent raised for them",
                   a->filter->qname, a->ngroups);
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
 * it has BY (letters, digits and _ kept, the rest turned into _).  A
 * filter outside root\subscription, or one whose name does not fit a
 * class name (255 bytes), gets "_" and 16 hex digits of a hash of its
 * namespace and name after the (cut) name, so that same-named filters of
 * two namespaces get two classes and no name reads as a namespace.  With
 * @buf NULL, a static buffer is used. */
const char *
aggregate_class_name(const struct wmid_filter *f, char *buf, size_t len)
{
    static char sbuf[300];
    if (buf == NULL) {
        buf = sbuf;
        len = sizeof sbuf;
    }
    const size_t limit = len - 1 < 255 ? len - 1 : 255; /* WMI's longest class name */
    const size_t suffix = 17;                           /* "_" and 16 hex digits */
    bool other_ns = f->ns != NULL && strcasecmp(f->ns, WMID_NS_DEFAULT) != 0;
    int n = snprintf(buf, len, "__AggregateEvent_");
    bool hashed = other_ns || (size_t)n + strlen(f->name) > limit;
    size_t stop = hashed ? limit - suffix : limit;
    for (const char *p = f->name; *p && (size_t)n < stop; p++, n++)
        buf[n] = (char)((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ? *p : '_');
    buf[n] = '\0';
    if (hashed) {
        /* FNV-1a over "ns:name" as the filter keys spell it (lower case). */
        uint64_t h = 0xcbf29ce484222325ull;
        const char *parts[] = {f->ns != NULL ? f->ns : WMID_NS_DEFAULT, ":", f->name};
        for (size_t i = 0; i < 3; i++)
            for (const char *p = parts[i]; *p; p++) {
                h ^= (unsigned char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
                h *= 0x100000001b3ull;
            }
        snprintf(buf + n, len - (size_t)n, "_%016llx", (unsigned long long)h);
    }
    return buf;
}

bool
aggregate_define_class(wmi_schema *schema, const struct wmid_filter *f, wmi_error *err)
{
    char name[300];
    if (wmi_query_group_by_count(f->query) == 0)
        return true;
    aggregate_class_name(f, name, sizeof name);
    return WMI_SUCCEEDED(wmi_query_define_aggregate_class(f->query, schema, name, err));
}
