/*
 * wmievent/window.h - GROUP WITHIN windows: the engine that turns the
 * events a GROUP query selects into __AggregateEvent instances.
 *
 * Mirrors WMI's WQL GROUP clause:
 *
 *   SELECT * FROM class [WHERE cond] GROUP WITHIN seconds [BY prop, ...]
 *     [HAVING cond]
 *
 * does not deliver the events its WHERE selects; it counts them.  Events
 * fall in one group per distinct tuple of BY values (one group when there
 * is no BY).  A group's window opens with its first event and lasts GROUP
 * WITHIN seconds; when it closes, one __AggregateEvent (or the query's
 * aggregate class, see wmi_query_define_aggregate_class) is made for it,
 * with NumberOfEvents, a copy of the first event as Representative, and the
 * BY values, and it is handed out if the HAVING condition holds.
 *
 * The engine has no clock and no timer of its own: the caller says what
 * time it is at each call, asks wmi_window_next_close when to come back,
 * and arms its own timer (the daemon a libuv timer on uv_now(), wmieventctl
 * `wql eval` nothing, replaying windows in the events' TIME_CREATED).
 *
 * Time unit: each window counts time in a unit its caller picks, given as
 * @units_per_second to wmi_window_new (1000 for milliseconds, 10000000 for
 * the 100-nanosecond ticks of TIME_CREATED); every @now of that window is
 * in that unit.  The window's length is GROUP WITHIN seconds times
 * @units_per_second, rounded to the nearest unit.
 *
 * Windows close in the order they opened, the oldest first, once @now
 * reaches their end.  With a clock that never goes back (uv_now) that is
 * the order of their ends; when @now goes back (events replayed out of
 * order) a window waits for the ones opened before it.
 *
 * Threads: a window is used by one thread at a time; separate windows are
 * independent.  The query, schema and aggregate class name a window is
 * given are borrowed and only read.
 */
#ifndef WMIEVENT_WINDOW_H
#define WMIEVENT_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "object.h"
#include "status.h"
#include "wql.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The open GROUP windows of one query.  Opaque. */
typedef struct wmi_window wmi_window;

/*
 * struct wmi_window_stats - what a window holds and has refused.
 *   groups   open windows (groups) now
 *   bytes    sum of the open groups' representative events as compact
 *            JSON text; counted only while a byte limit is set, else 0
 *   refused  events refused so far by the limits (wmi_window_set_limits)
 */
typedef struct wmi_window_stats {
    size_t groups;
    size_t bytes;
    uint64_t refused;
} wmi_window_stats;

/*
 * wmi_window_new - an engine with no open window for @query, a query with
 * a GROUP clause (wmi_query_group_within >= 0).
 *
 * @query and @schema are borrowed: both must outlive the window, or be
 * replaced first with wmi_window_rebind.  @class_name is the aggregate
 * class to make (borrowed, same lifetime): the class
 * wmi_query_define_aggregate_class added to @schema for a query with BY,
 * or NULL for plain __AggregateEvent.  @units_per_second is the caller's
 * time unit (see above).  No limits are set.
 *
 * *@out is a new window, for wmi_window_free.  Returns WBEM_S_NO_ERROR;
 * WBEM_E_INVALID_PARAMETER (NULL query or out, @units_per_second 0);
 * WBEM_E_INVALID_QUERY (the query has no GROUP clause); or
 * WBEM_E_OUT_OF_MEMORY.  *@out is NULL on failure.
 */
WMI_EXTERN wmi_status wmi_window_new(const wmi_query *query, const wmi_schema *schema, const char *class_name,
                          uint64_t units_per_second, wmi_window **out);

/*
 * wmi_window_rebind - make @window use another @query, @schema and
 * @class_name (borrowed, as for wmi_window_new) from now on, keeping its
 * open windows: for a configuration reload that keeps the filter.  The
 * new query should group as the old one did (same GROUP WITHIN and BY);
 * the open windows keep their ends either way.  Cannot fail.
 */
WMI_EXTERN void wmi_window_rebind(wmi_window *window, const wmi_query *query, const wmi_schema *schema,
                       const char *class_name);

/*
 * wmi_window_set_limits - bound what @window keeps, so that a BY over an
 * unbounded property cannot exhaust memory: at most @max_groups open
 * groups, and at most @max_bytes of representative events (as compact
 * JSON text).  An event that would open a group past either is refused.
 * 0 means no limit (the default).  Events counted into an open group are
 * never refused.
 */
WMI_EXTERN void wmi_window_set_limits(wmi_window *window, size_t max_groups, size_t max_bytes);

/*
 * wmi_window_add - count @event, which the query selected (the caller ran
 * wmi_query_evaluate), at time @now.  An event whose BY values match an
 * open group adds one to its count, even when that group's end has passed
 * but it was not closed yet; any other event opens a group whose window
 * ends at @now plus the window's length, and whose Representative it is.
 *
 * @event is borrowed; a group it opens takes a reference to it, so it must
 * not change afterwards.  Windows are not closed here: call
 * wmi_window_close first to close those due at @now.
 *
 * Returns WBEM_S_NO_ERROR; WBEM_E_QUOTA_VIOLATION when a limit refused the
 * event (counted in wmi_window_stats.refused, nothing else changed); or
 * WBEM_E_OUT_OF_MEMORY (the event is lost).
 */
WMI_EXTERN wmi_status wmi_window_add(wmi_window *window, wmi_object *event, uint64_t now);

/*
 * wmi_window_next_close - when the oldest open window ends: true and *@when
 * set (in the window's unit; it may be <= now, then it is due), or false
 * when no window is open (*@when unchanged).  A caller with a timer arms
 * it for that moment and calls wmi_window_close then.
 */
WMI_EXTERN bool wmi_window_next_close(const wmi_window *window, uint64_t *when);

/*
 * wmi_window_close - close the oldest open window if it ends by @now
 * (UINT64_MAX closes every window, as at the end of a replay).  Call it
 * until it returns WBEM_S_FALSE.
 *
 * Returns WBEM_S_FALSE when no window is due: nothing changed, *@out NULL.
 * Otherwise one window was closed and its group forgotten:
 *   WBEM_S_NO_ERROR: *@out is a new reference to its aggregate event when
 *       the HAVING condition holds, NULL when HAVING rejected it;
 *   a failure (a status of wmi_query_make_aggregate, @err filled when not
 *       NULL): the aggregate could not be made, *@out NULL.
 */
WMI_EXTERN wmi_status wmi_window_close(wmi_window *window, uint64_t now, wmi_object **out, wmi_error *err);

/* wmi_window_get_stats - fill *@out with what @window holds now. */
WMI_EXTERN void wmi_window_get_stats(const wmi_window *window, wmi_window_stats *out);

/*
 * wmi_window_free - free @window and drop its open windows unclosed (no
 * aggregate is made for them, as WMI drops them when a filter goes).
 * NULL is ok.
 */
WMI_EXTERN void wmi_window_free(wmi_window *window);

#ifdef __cplusplus
}
#endif
#endif /* WMIEVENT_WINDOW_H */
