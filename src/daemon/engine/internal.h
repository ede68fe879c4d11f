/*
 * internal.h - what only the files of src/daemon/engine share: the routing snapshot's
 * records (struct wmid_router) and the GROUP aggregator.  Nothing outside the folder
 * includes it.
 */
#ifndef WMID_ENGINE_INTERNAL_H
#define WMID_ENGINE_INTERNAL_H

#include <pthread.h>
#include "daemon/wmieventd.h"
#include "daemon/engine/engine.h"

/* ====================================================================
 * The routing snapshot (router.c, subscriptions.c), as the engine shares it
 * (router.c routes through it, subscriptions.c builds it, attach.c and
 * reports.c read it).  Nothing outside src/daemon/engine includes this
 * header: elsewhere struct wmid_router is opaque (engine/engine.h).  A
 * snapshot is immutable once committed (router_commit): what changes while
 * it routes lives beside it, in struct wmid_filter_live, written only
 * through the setters of engine.h by the subsystem that owns it.
 * ==================================================================== */

struct index_slot {
    const wmi_class *cls;
    struct wmid_filter **filters;
    size_t n;
};

struct wmid_router {
    wmi_schema *schema;
    struct wmid_delivery *delivery;
    struct wmid_router *prev;     /* during router_new_from only */
    struct wmid_provider **providers;
    size_t nproviders;
    wmi_object **ev_regs;         /* parallel: __EventProviderRegistration, or NULL */
    struct sec_identity *ev_ids;  /* parallel: their creators */
    char **ev_ns;                 /* parallel: their namespace, where the provider's events are raised */
    /* The namespaces of the load and the homes of its classes (references
     * to wmid_objects.namespaces and .class_ns). */
    json_t *namespaces;
    json_t *class_ns;
    /* Parallel: what this configuration says of each provider, applied to
     * the (possibly shared) provider only when the router is committed,
     * so that a refused reload leaves the running providers alone. */
    wmi_object **regs;            /* __EventConsumerProviderRegistration, or NULL */
    unsigned *deadlines;          /* __Win32Provider.DeadlineMs, 0 when unset */
    struct wmid_consumer **consumers;
    size_t nconsumers;
    struct wmid_filter *filters;
    size_t nfilters;
    struct wmid_binding *bindings;
    size_t nbindings;
    struct index_slot *index;
    size_t index_cap;
    struct wmid_router_stats stats;
    struct wmid_cache_controls cc;
    /* Set by router_prepare_providers: the settings loads use, and the
     * loop thread, the only one that may load a provider (a router used
     * without them never loads lazily). */
    const struct wmid_settings *settings;
    pthread_t loop_thread;
    bool lazy;
    struct wmid_router_hooks hooks;
    /* Beside the snapshot: what changes while it routes (one record per
     * filter, which each filter's live points to), and the temporary
     * consumers' hook and classes (router_set_temp_hook), which a reload
     * hands on. */
    struct wmid_filter_live *live;
    wmid_temp_hook temp_hook;
    void *temp_hook_arg;
    const char *const *temp_classes;
    size_t ntemp_classes;
};

/* The class index: open addressing on the class pointer. */
static inline size_t
snapshot_ptr_hash(const void *p)
{
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x;
}

static inline struct index_slot *
snapshot_index_find(const struct wmid_router *r, const wmi_class *cls)
{
    size_t j = snapshot_ptr_hash(cls) & (r->index_cap - 1);
    while (r->index[j].cls != NULL && r->index[j].cls != cls)
        j = (j + 1) & (r->index_cap - 1);
    return &r->index[j];
}

/* router.c: the callbacks through which @r's GROUP aggregators deliver
 * (aggregate_new, aggregate_rebind). */
struct wmid_aggregate_out;
void router_aggregate_out(struct wmid_router *r, struct wmid_aggregate_out *out);

/* attach.c: give @c a physical consumer on the loop thread (load its
 * provider, FindConsumer), unless a failure is still backing off. */
bool attach_consumer(struct wmid_router *r, struct wmid_consumer *c);

/* ====================================================================
 * aggregate.c - GROUP WITHIN windows and __AggregateEvent
 * ==================================================================== */

struct wmid_aggregator;

/* Where an aggregator's closed windows go, so that it never calls the
 * router that feeds it: @deliver for each __AggregateEvent that passed
 * HAVING (borrowed for the call), then @flush at the end of the burst.
 * The router passes its own (router.c). */
struct wmid_aggregate_out {
    void (*deliver)(void *arg, struct wmid_filter *f, wmi_object *ev, size_t size_hint);
    void (*flush)(void *arg);
    void *arg;
};

/* The windows of filter @f (borrowed; its query has GROUP WITHIN), whose
 * classes are those of @schema (borrowed, as long as the aggregator
 * lives), reporting to @out (copied).  New, or NULL: out of memory.  Loop
 * thread. */
struct wmid_aggregator *aggregate_new(uv_loop_t *loop, const wmi_schema *schema, struct wmid_filter *f,
                                      const struct wmid_aggregate_out *out);
/* Count @ev (borrowed) into its group's window.  Loop thread. */
void aggregate_add(struct wmid_aggregator *a, wmi_object *ev);
void aggregate_free(struct wmid_aggregator *a);
/* A reload took the filter over: its open windows now report to @out for
 * @f, with the classes of @schema. */
void aggregate_rebind(struct wmid_aggregator *a, const wmi_schema *schema, struct wmid_filter *f,
                      const struct wmid_aggregate_out *out);
/* Define __AggregateEvent_<filter> for a filter with GROUP BY (idempotent:
 * a schema may serve two routers; the router refuses two filters whose
 * names give one class). */
bool aggregate_define_class(wmi_schema *schema, const struct wmid_filter *f, wmi_error *err);
/* The name of @f's aggregate class, into @buf (@len bytes; returned). */
#define WMID_AGGREGATE_CLASS_MAX 300
const char *aggregate_class_name(const struct wmid_filter *f, char *buf, size_t len);

#endif /* WMID_ENGINE_INTERNAL_H */
