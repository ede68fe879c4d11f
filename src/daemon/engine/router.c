/*
 * router.c - the hot path: from an event to the bindings of the filters
 * it matches, through the class index of the snapshot (internal.h,
 * built by subscriptions.c).  Routing runs on the loop thread; it takes
 * no lock, allocates nothing for an event that matches no filter, and
 * calls nothing of the sources that feed it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/wmieventd.h"
#include "daemon/config/config.h"
#include "daemon/engine/internal.h"
#include "daemon/engine/engine.h"
#include "daemon/log.h"

/* ====================================================================
 * Routing
 * ==================================================================== */

/* A filter matched: count the event into its GROUP window, or queue it for
 * each of its bindings. */
static bool deliver_bindings(struct wmid_router *r, struct wmid_filter *f, wmi_object *ev, size_t size_hint,
                             unsigned flags);

static bool
deliver(struct wmid_router *r, struct wmid_filter *f, wmi_object *ev, size_t size_hint, unsigned flags)
{
    atomic_fetch_add_explicit(&f->matched, 1, memory_order_relaxed);
    if (f->live->agg != NULL) {
        aggregate_add(f->live->agg, ev);
        return false;
    }
    if (wmi_query_select_count(f->query) > 0) {
        /* SELECT A, B: the consumers see only the selected properties. */
        wmi_object *p;
        if (WMI_SUCCEEDED(wmi_query_project(f->query, ev, &p))) {
            bool pause = deliver_bindings(r, f, p, size_hint, flags);
            wmi_object_unref(p);
            return pause;
        }
    }
    return deliver_bindings(r, f, ev, size_hint, flags);
}

/* A synchronous binding's call overran its deadline: asynchronous from
 * now on (WMI's advice: only fast consumers belong there). */
static void
demote(struct wmid_binding *b)
{
    if (!atomic_exchange(&b->demoted, true))
        log_warnx("binding %s: a synchronous IndicateToConsumer missed its deadline; the binding is delivered "
                  "asynchronously from now on",
                  b->path);
}

/* An aggregator's closed windows (struct wmid_aggregate_out): their
 * __AggregateEvent goes to the filter's bindings as it is. */
static void
aggregate_deliver(void *arg, struct wmid_filter *f, wmi_object *ev, size_t size_hint)
{
    deliver_bindings(arg, f, ev, size_hint, 0);
}

static void
aggregate_flush(void *arg)
{
    router_flush(arg);
}

void
router_aggregate_out(struct wmid_router *r, struct wmid_aggregate_out *out)
{
    out->deliver = aggregate_deliver;
    out->flush = aggregate_flush;
    out->arg = r;
}

static bool
deliver_bindings(struct wmid_router *r, struct wmid_filter *f, wmi_object *ev, size_t size_hint, unsigned pflags)
{
    bool pause = false;
    for (size_t j = 0; j < f->nbindings; j++) {
        struct wmid_binding *b = f->bindings[j];
        unsigned flags = pflags | (b->slow_down ? WMID_PUSH_SLOW_DOWN : 0);
        enum wmid_push_result res;
        /* The first event for a consumer (or the first since its physical
         * consumer idled out): attach it before the push, so that this
         * event is queued, after every earlier one, rather than dropped.
         * Only the loop thread loads; the daemon routes nowhere else. */
        /* An inactive binding must not even load its provider: that would
         * hand a refused logical consumer to the plugin. */
        if (b->inactive != WBEM_S_NO_ERROR)
            continue;
        if (b->consumer->sink == NULL && r->lazy && pthread_equal(pthread_self(), r->loop_thread))
            attach_consumer(r, b->consumer);
        if (b->synchronous && !atomic_load_explicit(&b->demoted, memory_order_relaxed)) {
            bool late = false;
            res = delivery_call(r->delivery, b->consumer, ev, size_hint, flags, &late);
            if (late)
                demote(b);
        } else {
            res = delivery_push(r->delivery, b->consumer, ev, size_hint, flags);
        }
        if (res == PUSH_DROPPED) {
            atomic_fetch_add_explicit(&r->stats.dropped, 1, memory_order_relaxed);
        } else {
            atomic_fetch_add_explicit(&r->stats.deliveries, 1, memory_order_relaxed);
            pause |= res == PUSH_QUEUED_FULL;
        }
    }
    return pause;
}

bool
router_indicate(struct wmid_router *r, wmi_object *ev, size_t size_hint)
{
    return router_indicate_from(r, ev, size_hint, 0, NULL);
}

bool
router_indicate_flags(struct wmid_router *r, wmi_object *ev, size_t size_hint, unsigned flags)
{
    return router_indicate_from(r, ev, size_hint, flags, NULL);
}

bool
router_filter_accepts(const struct wmid_filter *f, const struct wmid_source *src)
{
    if (f->live->refused != WBEM_S_NO_ERROR)
        return false;
    if (f->event_ns != NULL && strcasecmp(f->event_ns, src != NULL && src->ns != NULL ? src->ns : WMID_NS_EVENTS) != 0)
        return false;
    if (src == NULL)
        return true;
    /* The daemon's own sources (no publisher) are not subject to EventAccess. */
    if (f->event_access != NULL && src->publisher != NULL &&
        !sec_descriptor_allows(f->event_access, src->publisher, SEC_RIGHT_PUBLISH))
        return false;
    return src->sink_sd == NULL || sec_descriptor_allows(src->sink_sd, &f->creator, SEC_RIGHT_SUBSCRIBE);
}

void
router_set_temp_classes(struct wmid_router *r, const char *const *names, size_t n)
{
    r->temp_classes = names;
    r->ntemp_classes = n;
}

size_t
router_temp_classes(const struct wmid_router *r, const char *const **names)
{
    *names = r->temp_classes;
    return r->ntemp_classes;
}

void
router_set_temp_hook(struct wmid_router *r, wmid_temp_hook fn, void *arg)
{
    r->temp_hook_arg = arg;
    r->temp_hook = fn;
}

void
router_filter_refuse(struct wmid_filter *f, wmi_status st)
{
    f->live->refused = st;
}

void
router_filter_set_polled(struct wmid_filter *f, bool polled)
{
    f->live->polled = polled;
}

bool
router_indicate_from(struct wmid_router *r, wmi_object *ev, size_t size_hint, unsigned flags,
                     const struct wmid_source *src)
{
    bool pause = false, routed = false;
    atomic_fetch_add_explicit(&r->stats.received, 1, memory_order_relaxed);
    const struct index_slot *slot = snapshot_index_find(r, wmi_object_class(ev));
    for (size_t i = 0; i < slot->n; i++) {
        struct wmid_filter *f = slot->filters[i];
        if (f->live->polled || (f->live->refused != WBEM_S_NO_ERROR) ||
            ((src != NULL || f->event_access != NULL || f->event_ns != NULL) && !router_filter_accepts(f, src)) ||
            !wmi_query_evaluate_where(f->query, ev))
            continue;
        routed = true;
        pause |= deliver(r, f, ev, size_hint, flags);
    }
    if (r->temp_hook != NULL)
        r->temp_hook(r->temp_hook_arg, ev, src);
    if (routed)
        atomic_fetch_add_explicit(&r->stats.routed, 1, memory_order_relaxed);
    return pause;
}

bool
router_indicate_filter(struct wmid_router *r, struct wmid_filter *f, wmi_object *ev, size_t size_hint)
{
    atomic_fetch_add_explicit(&r->stats.received, 1, memory_order_relaxed);
    if (!wmi_query_evaluate(f->query, ev))
        return false;
    atomic_fetch_add_explicit(&r->stats.routed, 1, memory_order_relaxed);
    return deliver(r, f, ev, size_hint, 0);
}

void
router_start(struct wmid_router *r, uv_loop_t *loop)
{
    struct wmid_aggregate_out out;
    router_aggregate_out(r, &out);
    for (size_t i = 0; i < r->nfilters; i++)
        if (wmi_query_group_within(r->filters[i].query) >= 0 && r->filters[i].live->agg == NULL)
            r->filters[i].live->agg = aggregate_new(loop, r->schema, &r->filters[i], &out);
}

struct wmid_provider *
router_provider_at(struct wmid_router *r, size_t i)
{
    return i < r->nproviders ? r->providers[i] : NULL;
}

wmi_object *
router_provider_events(struct wmid_router *r, size_t i, const struct sec_identity **publisher, const char **ns)
{
    if (i >= r->nproviders)
        return NULL;
    if (publisher != NULL)
        *publisher = &r->ev_ids[i];
    if (ns != NULL)
        *ns = r->ev_ns[i];
    return r->ev_regs[i];
}

bool
router_has_namespace(const struct wmid_router *r, const char *ns)
{
    return ns_exists(r->namespaces, ns);
}

bool
router_class_in(const struct wmid_router *r, const char *cls, const char *ns)
{
    return ns_class_in(r->class_ns, cls, ns);
}

const char *
router_class_home(const struct wmid_router *r, const char *cls)
{
    return ns_class_home(r->class_ns, cls);
}

size_t
router_filter_count(const struct wmid_router *r)
{
    return r->nfilters;
}

struct wmid_filter *
router_filter_at(struct wmid_router *r, size_t i)
{
    return i < r->nfilters ? &r->filters[i] : NULL;
}

void
router_flush(struct wmid_router *r)
{
    if (r->delivery != NULL)
        delivery_kick(r->delivery);
}

const wmi_schema *
router_schema(const struct wmid_router *r)
{
    return r->schema;
}

struct wmid_router_stats *
router_stats(struct wmid_router *r)
{
    return &r->stats;
}
