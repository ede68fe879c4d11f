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
 * The groups and their windows are the library's engine (wmievent/
 * window.h), counting in uv_now() milliseconds; this file arms its libuv
 * timer for the next window's end and delivers what closes.
 *
 * Loop thread only: events reach it from router_indicate on the loop, and
 * windows close on a libuv timer.  What closes goes out through the
 * callbacks the router gave it (struct wmid_aggregate_out), never by a
 * call into the router.
 */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/wmieventd.h"
#include "daemon/engine/internal.h"
#include "daemon/engine/engine.h"
#include "daemon/log.h"

struct wmid_aggregator {
    uv_loop_t *loop;
    struct wmid_aggregate_out out;
    struct wmid_filter *filter;
    const wmi_class *agg_class;  /* __AggregateEvent or the filter's subclass */
    wmi_window *windows;         /* the open groups: the library's engine */
    uv_timer_t timer;
    bool timer_armed;
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

/* The class name of the filter's aggregate events, NULL for plain
 * __AggregateEvent (no BY); borrowed from the router's schema. */
static const char *
agg_class_name(const struct wmid_aggregator *a)
{
    return a->agg_class == NULL ? NULL : wmi_class_name(a->agg_class);
}

static void
close_due(struct wmid_aggregator *a)
{
    uint64_t now = uv_now(a->loop);
    bool any = false;
    wmi_object *agg;
    wmi_error err;
    wmi_status st;
    while ((st = wmi_window_close(a->windows, now, &agg, &err)) != WBEM_S_FALSE) {
        any = true;
        if (WMI_FAILED(st))
            log_warnx("filter %s: cannot build its __AggregateEvent: %s: %s", a->filter->qname, err.source,
                      err.text);
        else if (agg != NULL)
            a->out.deliver(a->out.arg, a->filter, agg, 256);
        wmi_object_unref(agg);
    }
    if (any)
        a->out.flush(a->out.arg);
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
    uint64_t due;
    if (a->timer_armed || !wmi_window_next_close(a->windows, &due))
        return;
    uint64_t now = uv_now(a->loop);
    uv_timer_start(&a->timer, on_timer, due > now ? due - now : 0, 0);
    a->timer_armed = true;
}

void
aggregate_add(struct wmid_aggregator *a, wmi_object *ev)
{
    uint64_t now = uv_now(a->loop);
    if (wmi_window_add(a->windows, ev, now) == WBEM_E_QUOTA_VIOLATION) {
        /* Counted by the engine, and logged at most once a second. */
        if (now >= a->last_warn + 1000) {
            wmi_window_stats st;
            wmi_window_get_stats(a->windows, &st);
            a->last_warn = now;
            log_warnx("filter %s: %zu open groups holding %zu bytes (limits %d, %u); %llu event(s) not "
                      "aggregated so far",
                      a->filter->qname, st.groups, st.bytes, MAX_GROUPS, MAX_GROUP_BYTES,
                      (unsigned long long)st.refused);
        }
        return;
    }
    arm(a);
}

/* ====================================================================
 * Life cycle
 * ==================================================================== */

struct wmid_aggregator *
aggregate_new(uv_loop_t *loop, const wmi_schema *schema, struct wmid_filter *f, const struct wmid_aggregate_out *out)
{
    struct wmid_aggregator *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->loop = loop;
    a->out = *out;
    a->filter = f;
    /* NULL (plain __AggregateEvent) when the query has no BY. */
    char name[WMID_AGGREGATE_CLASS_MAX];
    a->agg_class = wmi_schema_get_class(schema, aggregate_class_name(f, name, sizeof name));
    /* Windows count in uv_now() milliseconds. */
    if (WMI_FAILED(wmi_window_new(f->query, schema, agg_class_name(a), 1000, &a->windows))) {
        free(a);
        return NULL;
    }
    wmi_window_set_limits(a->windows, MAX_GROUPS, MAX_GROUP_BYTES);
    uv_timer_init(loop, &a->timer);
    a->timer.data = a;
    return a;
}

void
aggregate_rebind(struct wmid_aggregator *a, const wmi_schema *schema, struct wmid_filter *f,
                 const struct wmid_aggregate_out *out)
{
    a->out = *out;
    a->filter = f;
    char name[WMID_AGGREGATE_CLASS_MAX];
    a->agg_class = wmi_schema_get_class(schema, aggregate_class_name(f, name, sizeof name));
    wmi_window_rebind(a->windows, f->query, schema, agg_class_name(a));
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
    wmi_window_stats st;
    wmi_window_get_stats(a->windows, &st);
    if (st.groups > 0)
        log_notice("filter %s: %zu GROUP window(s) still open at exit or reload; no __AggregateEvent raised for them",
                   a->filter->qname, st.groups);
    wmi_window_free(a->windows);
    uv_timer_stop(&a->timer);
    uv_close((uv_handle_t *)&a->timer, on_closed);
}

/* __AggregateEvent_<name>: the class of the filter's aggregate events when
 * it has BY (letters, digits and _ kept, the rest turned into _).  A
 * filter outside root\subscription, or one whose name does not fit a
 * class name (255 bytes), gets "_" and 16 hex digits of a hash of its
 * namespace and name after the (cut) name, so that same-named filters of
 * two namespaces get two classes and no name reads as a namespace.  @buf
 * holds @len bytes (WMID_AGGREGATE_CLASS_MAX is enough). */
const char *
aggregate_class_name(const struct wmid_filter *f, char *buf, size_t len)
{
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
    char name[WMID_AGGREGATE_CLASS_MAX];
    if (wmi_query_group_by_count(f->query) == 0)
        return true;
    aggregate_class_name(f, name, sizeof name);
    return WMI_SUCCEEDED(wmi_query_define_aggregate_class(f->query, schema, name, err));
}
