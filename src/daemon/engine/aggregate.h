/*
 * aggregate.h - GROUP WITHIN windows and __AggregateEvent
 */
#ifndef WMID_ENGINE_AGGREGATE_H
#define WMID_ENGINE_AGGREGATE_H

#include "daemon/wmieventd.h"
#include "daemon/engine/router.h"

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

#endif /* WMID_ENGINE_AGGREGATE_H */
