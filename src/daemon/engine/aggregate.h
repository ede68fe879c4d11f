/*
 * aggregate.h - GROUP WITHIN windows and __AggregateEvent
 */
#ifndef WMID_ENGINE_AGGREGATE_H
#define WMID_ENGINE_AGGREGATE_H

#include "daemon/wmieventd.h"
#include "daemon/engine/router.h"

struct wmid_aggregator;
struct wmid_aggregator *aggregate_new(uv_loop_t *loop, struct wmid_router *r, struct wmid_filter *f);
void aggregate_add(struct wmid_aggregator *a, wmi_object *ev);
void aggregate_free(struct wmid_aggregator *a);
/* A reload took the filter over: its open windows now report to @f of @r. */
void aggregate_rebind(struct wmid_aggregator *a, struct wmid_router *r, struct wmid_filter *f);
/* Define __AggregateEvent_<filter> for a filter with GROUP BY (idempotent:
 * a schema may serve two routers; the router refuses two filters whose
 * names give one class). */
bool aggregate_define_class(wmi_schema *schema, const struct wmid_filter *f, wmi_error *err);
const char *aggregate_class_name(const struct wmid_filter *f, char *buf, size_t len);

#endif /* WMID_ENGINE_AGGREGATE_H */
