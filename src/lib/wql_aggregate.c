/*
 * wql_aggregate.c - the __AggregateEvent of a GROUP WITHIN query: the BY
 * values of an event, the aggregate class of a query with BY, and the
 * aggregate instance of one group window.  Shared by the daemon's GROUP
 * windows and by `wmieventctl wql eval`, which replays them offline.
 *
 * WMI gives the aggregate event the properties named in BY.  Classes here
 * are fixed, so a query with BY gets a class derived from __AggregateEvent
 * that carries them: BY Severity gives a property Severity; BY
 * TargetInstance.Name gives a property TargetInstance holding an embedded
 * object with only Name set.  %NumberOfEvents%, %Severity% and
 * %TargetInstance.Name% then expand as in WMI.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wmievent/wql.h"

/* A key of @obj named @name (@len bytes), case-insensitively. */
static json_t *
get_ci(const json_t *obj, const char *name, size_t len)
{
    json_t *v = json_object_getn(obj, name, len);
    if (v != NULL)
        return v;
    const char *k;
    json_object_foreach((json_t *)obj, k, v) {
        if (strlen(k) == len && strncasecmp(k, name, len) == 0)
            return v;
    }
    return NULL;
}

/* The value at a dotted path of an event (JSON null when absent). */
static const json_t *
path_value(const wmi_object *ev, const char *path)
{
    const char *dot = strchr(path, '.');
    const json_t *v = NULL;
    char first[256];
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    if (n >= sizeof first)
        return json_null();
    memcpy(first, path, n);
    first[n] = '\0';
    if (wmi_object_get_json(ev, first, &v, NULL) != WBEM_S_NO_ERROR)
        return json_null();
    while (dot != NULL && v != NULL && json_is_object(v)) {
        const char *seg = dot + 1;
        dot = strchr(seg, '.');
        v = get_ci(v, seg, dot ? (size_t)(dot - seg) : strlen(seg));
    }
    return (v == NULL || dot != NULL) ? json_null() : v;
}

json_t *
wmi_query_group_values(const wmi_query *query, const wmi_object *event)
{
    json_t *by = json_array();
    for (size_t i = 0; by != NULL && i < wmi_query_group_by_count(query); i++)
        json_array_append(by, (json_t *)path_value(event, wmi_query_group_by_at(query, i)));
    return by;
}

wmi_status
wmi_query_define_aggregate_class(const wmi_query *query, wmi_schema *schema, const char *class_name,
                                 wmi_error *err)
{
    size_t nby = wmi_query_group_by_count(query);
    if (wmi_schema_get_class(schema, class_name) != NULL)
        return WBEM_S_FALSE;
    const wmi_class *from = wmi_schema_get_class(schema, wmi_query_class(query));
    json_t *props = json_object();
    for (size_t i = 0; i < nby; i++) {
        const char *path = wmi_query_group_by_at(query, i);
        const char *dot = strchr(path, '.');
        char first[256];
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof first)
            n = sizeof first - 1;
        memcpy(first, path, n);
        first[n] = '\0';
        const wmi_property *p = from ? wmi_class_find_property(from, first) : NULL;
        /* Without the FROM class (a schema-less parse), values keep their
         * JSON form: a string property is the only safe guess. */
        const char *pname = p ? p->name : first;
        if (json_object_get(props, pname) != NULL)
            continue;
        char spec[300];
        if (dot != NULL || (p != NULL && p->type == CIM_OBJECT))
            snprintf(spec, sizeof spec, "object");
        else if (p == NULL)
            snprintf(spec, sizeof spec, "string");
        else if ((p->type & ~CIM_FLAG_ARRAY) == CIM_REFERENCE && p->ref_class)
            snprintf(spec, sizeof spec, "ref:%s%s", p->ref_class, (p->type & CIM_FLAG_ARRAY) ? "[]" : "");
        else
            snprintf(spec, sizeof spec, "%s", wmi_cimtype_name(p->type) ? wmi_cimtype_name(p->type) : "string");
        json_object_set_new(props, pname, json_string(spec));
    }
    json_t *def = json_pack("{sssssO}", "__CLASS", class_name, "__SUPERCLASS", "__AggregateEvent",
                            "__PROPERTIES", props);
    json_decref(props);
    if (def == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    wmi_status st = wmi_schema_add_class_json(schema, def, err);
    json_decref(def);
    return st;
}

/* Put @value at @path into the aggregate's JSON, creating embedded objects
 * (with the __CLASS of the event's own) along the way. */
static void
put_path(json_t *agg, const wmi_object *ev, const char *path, const json_t *value)
{
    json_t *dst = agg;
    const json_t *src = wmi_object_json(ev);
    const char *seg = path;
    for (;;) {
        const char *dot = strchr(seg, '.');
        size_t n = dot ? (size_t)(dot - seg) : strlen(seg);
        const char *name = NULL;
        const char *k;
        json_t *sv = NULL;
        json_object_foreach((json_t *)src, k, sv) {
            if (strlen(k) == n && strncasecmp(k, seg, n) == 0) {
                name = k;
                break;
            }
        }
        if (dot == NULL && name == NULL && dst == agg) {
            /* A top-level property the event leaves at its default: take
             * the class's spelling. */
            char first[256];
            if (n >= sizeof first)
                return;
            memcpy(first, seg, n);
            first[n] = '\0';
            const wmi_property *p = wmi_class_find_property(wmi_object_class(ev), first);
            name = p ? p->name : NULL;
        }
        if (name == NULL)
            return;
        if (dot == NULL) {
            json_object_set(dst, name, (json_t *)value);
            return;
        }
        if (!json_is_object(sv))
            return;
        json_t *next = json_object_get(dst, name);
        if (next == NULL) {
            next = json_pack("{sO}", "__CLASS", json_object_get(sv, "__CLASS"));
            json_object_set_new(dst, name, next);
        }
        dst = next;
        src = sv;
        seg = dot + 1;
    }
}

wmi_status
wmi_query_make_aggregate(const wmi_query *query, const wmi_schema *schema, const char *class_name,
                         const wmi_object *representative, const json_t *by_values, uint64_t count,
                         wmi_object **out, wmi_error *err)
{
    *out = NULL;
    json_t *j = json_pack("{sssIsO}", "__CLASS", class_name ? class_name : "__AggregateEvent",
                          "NumberOfEvents", (json_int_t)(count > UINT32_MAX ? UINT32_MAX : count),
                          "Representative", wmi_object_json(representative));
    if (j == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    for (size_t i = 0; class_name != NULL && i < wmi_query_group_by_count(query); i++)
        put_path(j, representative, wmi_query_group_by_at(query, i), json_array_get(by_values, i));
    return wmi_object_from_json_new(schema, j, out, err);
}
