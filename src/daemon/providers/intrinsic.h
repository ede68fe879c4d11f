/*
 * intrinsic.h - intrinsic instance events (__InstanceCreationEvent,
 * __InstanceDeletionEvent, __InstanceModificationEvent and their parent
 * __InstanceOperationEvent) for classes served by an instance provider
 * (instance.h): pushed by the provider where it can, else polled at each
 * filter's WITHIN interval.
 *
 * A filter is served here when its FROM class selects instance operation
 * events and its WHERE narrows TargetInstance with `TargetInstance ISA
 * 'Class'` in the top-level AND chain, where Class or a subclass of it has
 * a provider.  Such a filter needs WITHIN (WBEMESS_E_REGISTRATION_TOO_PRECISE
 * without it: intrinsic_check_filter, called where filters are
 * validated), as in WMI, even when its events turn out to be pushed.
 *
 * One poller per provider (and scope, for providers such as CIM_DataFile
 * that serve what the query names) serves every filter on it.  The kinds
 * the provider pushes (the process connector: Win32_Process creations
 * and deletions; inotify: files) are told at once, sooner than WITHIN as
 * WMI's provider-backed events are, and cost no scan.  The rest are
 * polled: the poller ticks at the shortest interval asked, and keeps one
 * previous snapshot per distinct interval, so each filter is told only at
 * its own interval and sees the changes between its own snapshots.  A
 * group is served at the last tick that does not overshoot its interval,
 * so the delay never exceeds WITHIN.  Pushed modifications are throttled
 * to one per instance per interval (the rest held to the window's end).
 */
#ifndef WMID_INTRINSIC_H
#define WMID_INTRINSIC_H

#include "daemon/providers/snapshot.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/wmieventd.h"
#include "daemon/providers/instance.h"


/* ---- filter analysis (pure; used by router build and tests) ---- */

/* WMID_KIND_* the query's FROM class admits (0 when it selects no
 * instance creation, deletion or modification events). */
unsigned intrinsic_event_kinds(const wmi_schema *schema, const wmi_query *query);

/* True when the query is served by polling an instance provider. */
bool intrinsic_needs_polling(const wmi_schema *schema, const wmi_query *query);

/*
 * Check a filter's query at load: false with @err filled (@err->text says
 * why; the caller sets @err->source) when it needs polling and has no
 * WITHIN (WBEMESS_E_REGISTRATION_TOO_PRECISE), or when its class is
 * served only by providers that need a scope and the query names none
 * (the provider's status: WBEM_E_INVALID_QUERY for CIM_DataFile without
 * TargetInstance.Path).
 */
bool intrinsic_check_filter(const wmi_schema *schema, const wmi_query *query, wmi_error *err);
/* Does WITHIN change what @query receives (a poller serves its target
 * class, or the repository holds it)?  The router's within_has_effect
 * hook: the build warns when a filter's WITHIN has no effect. */
bool intrinsic_within_has_effect(const wmi_schema *schema, const wmi_query *query);

/* The WITHIN of @query in ms, raised to @min_ms; -1 when none. */
int64_t intrinsic_interval_ms(const wmi_query *query, unsigned min_ms);

/*
 * Should a group due at @due be served at a tick at @now, ticks being
 * @tick ms apart?  Yes when waiting for the next tick would overshoot.
 */
bool intrinsic_group_due(uint64_t now, uint64_t tick, uint64_t due);

/* ---- the poller (loop thread) ---- */

struct wmid_intrinsic;

struct wmid_instance_provider;

/* Mark the polled filters of @r and start their pollers, their provider
 * states opened in @env; NULL when no filter needs polling. */
struct wmid_intrinsic *intrinsic_start(uv_loop_t *loop, const struct wmid_settings *s, struct wmid_router *r,
                                       struct wmid_instance_env *env);
/* The same with a given list of providers (tests: fakes). */
struct wmid_intrinsic *intrinsic_start_with(uv_loop_t *loop, const struct wmid_settings *s, struct wmid_router *r,
                                            struct wmid_instance_env *env,
                                            const struct wmid_instance_provider *const *ips, size_t nip);
/* Stop polling; the memory goes once the loop has run the close callbacks.
 * NULL is ok. */
void intrinsic_stop(struct wmid_intrinsic *in);

#endif /* WMID_INTRINSIC_H */
