/*
 * window.c - GROUP WITHIN windows (see wmievent/window.h).
 *
 * The open groups form a queue in the order they opened; a JSON object
 * maps each group's key (its BY values as compact JSON text) to its queue
 * entry, so that counting an event into its group costs one lookup however
 * many groups are open.  All windows of a query have one length, so with a
 * clock that never goes back the queue is also in the order of their ends,
 * and the head is always the next to close.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wmievent/window.h"

struct group {
    char *key;                   /* the BY values as compact JSON */
    json_t *by;                  /* their values, in BY order */
    wmi_object *representative;  /* the first event of the window */
    uint64_t count;
    size_t bytes;                /* the representative as JSON, when a limit counts them */
    uint64_t end;                /* when the window closes, caller's unit */
    struct group *next;
};

struct wmi_window {
    const wmi_query *query;
    const wmi_schema *schema;
    const char *class_name;
    uint64_t length;             /* of a window, caller's unit */
    size_t max_groups, max_bytes;
    struct group *head, *tail;   /* in the order they opened */
    json_t *index;               /* key -> the group's address as an integer */
    wmi_window_stats stats;
};

static void
group_free(struct group *g)
{
    free(g->key);
    json_decref(g->by);
    wmi_object_unref(g->representative);
    free(g);
}

wmi_status
wmi_window_new(const wmi_query *query, const wmi_schema *schema, const char *class_name,
               uint64_t units_per_second, wmi_window **out)
{
    if (out == NULL)
        return WBEM_E_INVALID_PARAMETER;
    *out = NULL;
    if (query == NULL || units_per_second == 0)
        return WBEM_E_INVALID_PARAMETER;
    double within = wmi_query_group_within(query);
    if (within < 0)
        return WBEM_E_INVALID_QUERY;
    wmi_window *w = calloc(1, sizeof *w);
    if (w == NULL || (w->index = json_object()) == NULL) {
        free(w);
        return WBEM_E_OUT_OF_MEMORY;
    }
    w->query = query;
    w->schema = schema;
    w->class_name = class_name;
    /* The parser accepts only positive lengths; a zero one would still
     * close each window at the first chance. */
    w->length = within <= 0 ? 1 : (uint64_t)(within * (double)units_per_second + 0.5);
    *out = w;
    return WBEM_S_NO_ERROR;
}

void
wmi_window_rebind(wmi_window *window, const wmi_query *query, const wmi_schema *schema,
                  const char *class_name)
{
    window->query = query;
    window->schema = schema;
    window->class_name = class_name;
}

void
wmi_window_set_limits(wmi_window *window, size_t max_groups, size_t max_bytes)
{
    window->max_groups = max_groups;
    window->max_bytes = max_bytes;
}

/* Open a group for @event under @key and @by (both taken over). */
static wmi_status
open_group(wmi_window *w, wmi_object *event, char *key, json_t *by, uint64_t now)
{
    /* Measuring an event costs a serialisation: only a byte limit pays it. */
    size_t size = w->max_bytes == 0 ? 0 : json_dumpb(wmi_object_json(event), NULL, 0, JSON_COMPACT);
    if ((w->max_groups != 0 && w->stats.groups >= w->max_groups) ||
        (w->max_bytes != 0 && w->stats.bytes + size > w->max_bytes)) {
        w->stats.refused++;
        free(key);
        json_decref(by);
        return WBEM_E_QUOTA_VIOLATION;
    }
    struct group *g = calloc(1, sizeof *g);
    if (g == NULL || json_object_set_new(w->index, key, json_integer((json_int_t)(uintptr_t)g)) != 0) {
        free(g);
        free(key);
        json_decref(by);
        return WBEM_E_OUT_OF_MEMORY;
    }
    g->key = key;
    g->by = by;
    g->representative = wmi_object_ref(event);
    g->count = 1;
    g->bytes = size;
    g->end = now + w->length;
    if (w->tail != NULL)
        w->tail->next = g;
    else
        w->head = g;
    w->tail = g;
    w->stats.groups++;
    w->stats.bytes += size;
    return WBEM_S_NO_ERROR;
}

wmi_status
wmi_window_add(wmi_window *window, wmi_object *event, uint64_t now)
{
    json_t *by = wmi_query_group_values(window->query, event);
    if (by == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    char *key = json_dumps(by, JSON_COMPACT | JSON_ENCODE_ANY);
    if (key == NULL) {
        json_decref(by);
        return WBEM_E_OUT_OF_MEMORY;
    }
    json_t *found = json_object_get(window->index, key);
    if (found == NULL)
        return open_group(window, event, key, by, now);
    struct group *g = (struct group *)(uintptr_t)json_integer_value(found);
    g->count++;
    free(key);
    json_decref(by);
    return WBEM_S_NO_ERROR;
}

bool
wmi_window_next_close(const wmi_window *window, uint64_t *when)
{
    if (window->head == NULL)
        return false;
    *when = window->head->end;
    return true;
}

wmi_status
wmi_window_close(wmi_window *window, uint64_t now, wmi_object **out, wmi_error *err)
{
    *out = NULL;
    struct group *g = window->head;
    if (g == NULL || g->end > now)
        return WBEM_S_FALSE;
    window->head = g->next;
    if (window->head == NULL)
        window->tail = NULL;
    json_object_del(window->index, g->key);
    window->stats.groups--;
    window->stats.bytes -= g->bytes;
    wmi_error scratch;
    wmi_object *agg;
    wmi_status st = wmi_query_make_aggregate(window->query, window->schema, window->class_name,
                                             g->representative, g->by, g->count, &agg,
                                             err != NULL ? err : &scratch);
    group_free(g);
    if (WMI_FAILED(st))
        return st;
    if (wmi_query_evaluate_having(window->query, agg))
        *out = agg;
    else
        wmi_object_unref(agg);
    return WBEM_S_NO_ERROR;
}

void
wmi_window_get_stats(const wmi_window *window, wmi_window_stats *out)
{
    *out = window->stats;
}

void
wmi_window_free(wmi_window *window)
{
    if (window == NULL)
        return;
    while (window->head != NULL) {
        struct group *g = window->head;
        window->head = g->next;
        group_free(g);
    }
    json_decref(window->index);
    free(window);
}
