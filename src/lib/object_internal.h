/*
 * object_internal.h - the insides of wmi_class, wmi_schema and wmi_object,
 * shared by schema.c, object.c and the rest of libwmievent.
 */
#ifndef WMI_OBJECT_INTERNAL_H
#define WMI_OBJECT_INTERNAL_H

#include <stdatomic.h>

#include "lib/cimap.h"
#include "wmievent/object.h"

struct wmi_class {
    char *name;
    const struct wmi_class *super;
    uint32_t flags;
    json_t *qualifiers;       /* object; class qualifiers: its own, plus those of its
                               * superclass whose flavors propagate them (ToSubclass) */
    json_t *flavors;          /* object; qualifier name -> [flavor, ...] of the above */
    json_t *def;              /* the definition as given, for class_to_json */
    size_t nprops;            /* inherited + declared */
    size_t ninherited;
    wmi_property *props;      /* strings point into owned copies below */
    cimap index;              /* name -> wmi_property * */
    size_t depth;             /* 0 for a root class */
};

struct wmi_schema {
    atomic_int refs;
    cimap classes;            /* name -> struct wmi_class * */
    struct wmi_class **list;  /* for freeing and iteration, in definition order */
    size_t nlist, caplist;
};

struct wmi_object {
    atomic_int refs;
    const struct wmi_class *cls;
    wmi_schema *schema;       /* reference held: keeps cls alive */
    json_t *json;             /* "__CLASS" first, then set properties */
};

/* Check and normalise a value of @type in place; *@repl receives a new
 * value to store instead of @v when a conversion was needed (or NULL). */
wmi_status wmi__check_value(const wmi_schema *schema, const wmi_property *prop, json_t *v,
                            json_t **repl, int depth, char *path, size_t pathlen, wmi_error *err);

/* Validate an embedded or top-level instance tree in place. */
wmi_status wmi__check_instance(const wmi_schema *schema, json_t *obj, const struct wmi_class **cls_out,
                               int depth, char *path, size_t pathlen, wmi_error *err);

void wmi__set_error(wmi_error *err, wmi_status st, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));


#endif
