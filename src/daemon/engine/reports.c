/*
 * reports.c - what the engine reports: the system events it raises for
 * what the delivery engine could not deliver (__ConsumerFailureEvent,
 * __EventQueueOverflowEvent, __EventDroppedEvent), and its Stats.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/wmieventd.h"
#include "daemon/config/config.h"
#include "daemon/engine/engine.h"
#include "daemon/engine/internal.h"
#include "daemon/plugins/plugins.h"

/* ====================================================================
 * System events: what the delivery engine could not deliver
 * ==================================================================== */

void
router_raise(struct wmid_router *r, struct wmid_system_event *se)
{
    if (se == NULL) {
        router_flush(r); /* the end of a burst of reports */
        return;
    }
    static const char *const classes[] = {
        [WMID_SE_CONSUMER_FAILURE] = "__ConsumerFailureEvent",
        [WMID_SE_QUEUE_OVERFLOW] = "__EventQueueOverflowEvent",
        [WMID_SE_DROPPED] = "__EventDroppedEvent",
    };
    const wmi_class *cls = wmi_schema_get_class(r->schema, classes[se->kind]);
    wmi_object *ev = NULL;
    /* Build the event only when a filter, or a temporary subscription,
     * could take it. */
    if (cls != NULL && (snapshot_index_find(r, cls)->n > 0 || r->temp_hook != NULL) &&
        WMI_SUCCEEDED(wmi_object_new(r->schema, classes[se->kind], &ev))) {
        if (se->event != NULL)
            wmi_object_put_object(ev, "Event", se->event);
        /* The consumer's namespace is where the report is raised, and its
         * path names it. */
        if (se->consumer_path != NULL)
            wmi_object_put_string(ev, "IntendedConsumer", se->consumer_path);
        if (se->kind == WMID_SE_CONSUMER_FAILURE) {
            wmi_object_put_uint64(ev, "ErrorCode", se->code);
            wmi_object_put_string(ev, "ErrorDescription", se->description);
        } else if (se->kind == WMID_SE_QUEUE_OVERFLOW) {
            wmi_object_put_uint64(ev, "CurrentQueueSize", se->queue_bytes > UINT32_MAX ? UINT32_MAX : se->queue_bytes);
        }
        wmi_object_put_uint64(ev, "TIME_CREATED", wmi_time_created_now());
        struct wmid_source here = {NULL, NULL, se->ns[0] != '\0' ? se->ns : WMID_NS_DEFAULT};
        router_indicate_from(r, ev, 512, 0, &here);
        wmi_object_unref(ev);
    }
    atomic_fetch_add_explicit(&r->stats.system_events, 1, memory_order_relaxed);
    wmi_object_unref(se->event);
    wmi_object_unref(se->logical);
    free(se->consumer_path);
}

/* The providers' part of Stats: load state, identity, host and event side. */
static json_t *
providers_json(struct wmid_router *r)
{
    json_t *providers = json_object();
    for (size_t i = 0; i < r->nproviders; i++) {
        struct wmid_provider *p = r->providers[i];
        uint64_t last = p->life.last_used_ms, sinks_last = 0;
        size_t nsinks = r->delivery != NULL ? delivery_provider_sinks(r->delivery, p, &sinks_last) : 0;
        if (sinks_last > last)
            last = sinks_last;
        const char *state = p->loaded ? "loaded" : p->life.unloaded_idle ? "unloaded when idle" : "not loaded";
        /* A provider acting as a consumer's creator is shown beside the
         * record it copies, under its name and identity. */
        char key[300];
        if (p->run_as)
            snprintf(key, sizeof key, "%s@%ld:%ld", p->name, p->run_uid, p->run_gid);
        else
            snprintf(key, sizeof key, "%s", p->name);
        json_object_set_new(providers, key,
                            json_pack("{sssssssIsssIsIsosI}", "state", state, "library", p->library ? p->library : "",
                                      "status", wmi_status_name(p->error.status) ? wmi_status_name(p->error.status) : "unknown",
                                      "status_code", (json_int_t)p->error.status, "message", p->error.text, "loads",
                                      (json_int_t)p->life.loads, "unloads", (json_int_t)p->life.unloads,
                                      "last_used", wmid_moment_json(last), "sinks", (json_int_t)nsinks));
        if (!p->loaded && p->life.retry_at_ms > wmid_now_ms())
            json_object_set_new(json_object_get(providers, key), "retry_in_ms",
                                json_integer((json_int_t)(p->life.retry_at_ms - wmid_now_ms())));
        json_t *host = hosting_stats_json(p);
        if (host != NULL)
            json_object_set_new(json_object_get(providers, key), "host", host);
        json_t *evs = r->hooks.provider_events_stats != NULL ? r->hooks.provider_events_stats(r->hooks.stats_arg, p)
                                                             : NULL;
        if (evs != NULL)
            json_object_set_new(json_object_get(providers, key), "event_provider", evs);
    }
    return providers;
}

json_t *
router_stats_json(struct wmid_router *r)
{
    json_t *out = json_object();
    json_object_set_new(out, "events",
                        json_pack("{sIsIsIsIsI}", "received", (json_int_t)atomic_load(&r->stats.received),
                                  "routed", (json_int_t)atomic_load(&r->stats.routed), "queued",
                                  (json_int_t)atomic_load(&r->stats.deliveries), "dropped",
                                  (json_int_t)atomic_load(&r->stats.dropped), "system_events",
                                  (json_int_t)atomic_load(&r->stats.system_events)));
    json_t *filters = json_object();
    for (size_t i = 0; i < r->nfilters; i++) {
        char *q = wmi_query_to_string(r->filters[i].query);
        struct wmid_filter *f = &r->filters[i];
        json_t *fo = json_pack("{sssIsIssss}", "query", q ? q : "", "matched", (json_int_t)atomic_load(&f->matched),
                               "bindings", (json_int_t)f->nbindings, "state",
                               f->live->refused != WBEM_S_NO_ERROR ? "inactive" : "active", "creator", f->creator.sid);
        if (f->live->refused != WBEM_S_NO_ERROR)
            json_object_set_new(fo, "status", json_string(wmi_status_name(f->live->refused) ? wmi_status_name(f->live->refused) : "error"));
        if (f->event_ns != NULL)
            json_object_set_new(fo, "event_namespace", json_string(f->event_ns));
        if (f->event_access != NULL) {
            char *sd = sec_descriptor_to_string(f->event_access);
            json_object_set_new(fo, "event_access", json_string(sd ? sd : ""));
            free(sd);
        }
        /* Keyed by name, qualified outside the default namespace as paths
         * are (qname). */
        json_object_set_new(filters, f->qname ? f->qname : f->name, fo);
        free(q);
    }
    json_object_set_new(out, "filters", filters);
    json_t *consumers = json_object();
    for (size_t i = 0; i < r->nconsumers; i++) {
        struct wmid_consumer *c = r->consumers[i];
        unsigned le = atomic_load(&c->stats.last_error);
        json_t *o = r->delivery != NULL ? delivery_consumer_stats_json(r->delivery, c) : json_object();
        json_object_set_new(o, "provider", json_string(c->provider ? c->provider->name : ""));
        json_object_set_new(o, "attached", json_boolean(c->sink != NULL));
        json_object_set_new(o, "finds", json_integer((json_int_t)c->finds));
        json_object_set_new(o, "releases", json_integer((json_int_t)c->releases));
        if (le != 0)
            json_object_set_new(o, "last_error", json_string(wmi_status_name(le) ? wmi_status_name(le) : "unknown"));
        json_object_set_new(consumers, c->path, o);
    }
    json_t *bindings = json_object();
    for (size_t i = 0; i < r->nbindings; i++) {
        struct wmid_binding *b = &r->bindings[i];
        const char *mode = b->inactive != WBEM_S_NO_ERROR ? "inactive"
                           : !b->synchronous          ? "asynchronous"
                           : atomic_load(&b->demoted) ? "demoted"
                                                      : "synchronous";
        json_t *bo = json_pack("{sssssssb}", "filter", b->filter->qname ? b->filter->qname : b->filter->name, "consumer", b->consumer->path, "mode", mode,
                               "slow_down_providers", b->slow_down);
        if (b->inactive != WBEM_S_NO_ERROR) {
            json_object_set_new(bo, "status", json_string(wmi_status_name(b->inactive)));
            json_object_set_new(bo, "reason", json_string(b->why));
        }
        json_object_set_new(bindings, b->path ? b->path : "", bo);
    }
    json_object_set_new(out, "bindings", bindings);
    json_object_set_new(out, "consumers", consumers);
    json_object_set_new(out, "providers", providers_json(r));
    return out;
}
