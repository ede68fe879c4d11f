/*
 * schema.c - class definitions and the schema that holds them.
 *
 * A class is built once from its JSON definition (wmi_schema_add_class_json)
 * and never changes: its property table holds the inherited properties
 * first, then its own, so an index into a superclass's table is valid in
 * every subclass.  The built-in system classes are defined in
 * schema_builtin.c in the same JSON form, so there is one code path.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/object_internal.h"

/* The built-in classes: JSON class definitions, superclasses first. */
extern const char *const wmi__builtin_classes[];
extern const char *const wmi__builtin_instance_classes[];

/* ====================================================================
 * Errors
 * ==================================================================== */

void
wmi__set_error(wmi_error *err, wmi_status st, const char *source, const char *fmt, ...)
{
    /* The library's errors about objects and classes have no position. */
    va_list ap;
    va_start(ap, fmt);
    wmi_error_setv(err, st, source, 0, 0, fmt, ap);
    va_end(ap);
}

/* ====================================================================
 * CIM type names
 * ==================================================================== */

static const struct {
    wmi_cimtype type;
    const char *name;
    const char *array_name;
} cimtype_names[] = {
    {CIM_SINT8, "sint8", "sint8[]"},         {CIM_UINT8, "uint8", "uint8[]"},
    {CIM_SINT16, "sint16", "sint16[]"},      {CIM_UINT16, "uint16", "uint16[]"},
    {CIM_SINT32, "sint32", "sint32[]"},      {CIM_UINT32, "uint32", "uint32[]"},
    {CIM_SINT64, "sint64", "sint64[]"},      {CIM_UINT64, "uint64", "uint64[]"},
    {CIM_REAL32, "real32", "real32[]"},      {CIM_REAL64, "real64", "real64[]"},
    {CIM_BOOLEAN, "boolean", "boolean[]"},   {CIM_STRING, "string", "string[]"},
    {CIM_DATETIME, "datetime", "datetime[]"}, {CIM_REFERENCE, "ref", "ref[]"},
    {CIM_CHAR16, "char16", "char16[]"},      {CIM_OBJECT, "object", "object[]"},
};

const char *
wmi_cimtype_name(wmi_cimtype type)
{
    bool array = (type & CIM_FLAG_ARRAY) != 0;
    wmi_cimtype base = (wmi_cimtype)(type & ~CIM_FLAG_ARRAY);
    for (size_t i = 0; i < sizeof cimtype_names / sizeof cimtype_names[0]; i++)
        if (cimtype_names[i].type == base)
            return array ? cimtype_names[i].array_name : cimtype_names[i].name;
    return NULL;
}

wmi_status
wmi_cimtype_from_name(const char *name, wmi_cimtype *out)
{
    char buf[32];
    size_t n = strlen(name);
    bool array = false;
    if (n >= sizeof buf)
        return WBEM_E_INVALID_CIM_TYPE;
    memcpy(buf, name, n + 1);
    if (n > 2 && strcmp(buf + n - 2, "[]") == 0) {
        array = true;
        buf[n - 2] = '\0';
    }
    if (strcasecmp(buf, "reference") == 0)
        strcpy(buf, "ref");
    for (size_t i = 0; i < sizeof cimtype_names / sizeof cimtype_names[0]; i++) {
        if (strcasecmp(cimtype_names[i].name, buf) == 0) {
            *out = (wmi_cimtype)(cimtype_names[i].type | (array ? CIM_FLAG_ARRAY : 0));
            return WBEM_S_NO_ERROR;
        }
    }
    return WBEM_E_INVALID_CIM_TYPE;
}

/* ====================================================================
 * Classes
 * ==================================================================== */

const char *
wmi_class_name(const wmi_class *cls)
{
    return cls->name;
}

const wmi_class *
wmi_class_superclass(const wmi_class *cls)
{
    return cls->super;
}

uint32_t
wmi_class_flags(const wmi_class *cls)
{
    return cls->flags;
}

bool
wmi_class_isa(const wmi_class *cls, const char *ancestor)
{
    for (; cls != NULL; cls = cls->super)
        if (strcasecmp(cls->name, ancestor) == 0)
            return true;
    return false;
}

size_t
wmi_class_property_count(const wmi_class *cls)
{
    return cls->nprops;
}

const wmi_property *
wmi_class_property_at(const wmi_class *cls, size_t index)
{
    return index < cls->nprops ? &cls->props[index] : NULL;
}

const wmi_property *
wmi_class_find_property(const wmi_class *cls, const char *name)
{
    return wmi__cimap_get(&cls->index, name);
}

const json_t *
wmi_class_qualifier(const wmi_class *cls, const char *name)
{
    const char *k;
    json_t *v;
    json_object_foreach(cls->qualifiers, k, v) {
        if (strcasecmp(k, name) == 0)
            return v;
    }
    return NULL;
}

static void
class_free(struct wmi_class *cls)
{
    if (cls == NULL)
        return;
    for (size_t i = cls->ninherited; i < cls->nprops; i++) {
        free((char *)cls->props[i].name);
        free((char *)cls->props[i].ref_class);
        json_decref((json_t *)cls->props[i].default_value);
    }
    /* Inherited entries borrow their strings from the superclass, except
     * for overridden defaults, which are owned (see class_build). */
    for (size_t i = 0; i < cls->ninherited; i++) {
        if (cls->props[i].default_value != cls->super->props[i].default_value)
            json_decref((json_t *)cls->props[i].default_value);
    }
    free(cls->props);
    wmi__cimap_free(&cls->index);
    json_decref(cls->qualifiers);
    json_decref(cls->flavors);
    json_decref(cls->def);
    free(cls->name);
    free(cls);
}

/* Boolean qualifiers recognised on a property definition object. */
static const struct {
    const char *name;
    uint32_t flag;
} prop_qualifiers[] = {
    {"Key", WMI_PROPERTY_KEY},
    {"not_null", WMI_PROPERTY_NOT_NULL},
    {"Template", WMI_PROPERTY_TEMPLATE},
    {"read", WMI_PROPERTY_READ_ONLY},
};

/* Parse "uint32", "object:Foo", "Foo ref", "ref:Foo", with "[]" suffix. */
static wmi_status
parse_prop_type(const char *spec, wmi_cimtype *type, char **ref_class)
{
    char buf[300];
    size_t n = strlen(spec);
    bool array = false;

    *ref_class = NULL;
    if (n >= sizeof buf)
        return WBEM_E_INVALID_CIM_TYPE;
    memcpy(buf, spec, n + 1);
    if (n > 2 && strcmp(buf + n - 2, "[]") == 0) {
        array = true;
        buf[n - 2] = '\0';
    }
    char *colon = strchr(buf, ':');
    char *space = strchr(buf, ' ');
    if (colon != NULL) {
        *colon = '\0';
        if (strcasecmp(buf, "object") != 0 && strcasecmp(buf, "ref") != 0 &&
            strcasecmp(buf, "reference") != 0)
            return WBEM_E_INVALID_CIM_TYPE;
        if (colon[1] == '\0')
            return WBEM_E_INVALID_CIM_TYPE;
        *ref_class = strdup(colon + 1);
        *type = strcasecmp(buf, "object") == 0 ? CIM_OBJECT : CIM_REFERENCE;
    } else if (space != NULL && strcasecmp(space + 1, "ref") == 0) {
        *space = '\0';
        *ref_class = strdup(buf);
        *type = CIM_REFERENCE;
    } else {
        wmi_status st = wmi_cimtype_from_name(buf, type);
        if (WMI_FAILED(st))
            return st;
    }
    if (array)
        *type = (wmi_cimtype)(*type | CIM_FLAG_ARRAY);
    return WBEM_S_NO_ERROR;
}

/* Check a class default against the property; returns the value to keep
 * (a new reference) or NULL with @err set. */
static json_t *
check_default(const wmi_schema *schema, const wmi_property *prop, json_t *v,
              const char *cname, wmi_error *err)
{
    json_t *repl = NULL;
    char path[300];
    snprintf(path, sizeof path, "%s.%s", cname, prop->name);
    if (json_is_null(v))
        return NULL;
    wmi_status st = wmi__check_value(schema, prop, v, &repl, 0, path, sizeof path, err);
    if (WMI_FAILED(st))
        return NULL;
    return repl ? repl : json_incref(v);
}

/*
 * A class or property name: a letter, '_' or a non-ASCII character, then
 * digits too.  These are the names WQL, object paths and templates can
 * write; "A.B", "K=1" or "x y" would make paths that do not parse back.
 */
static bool
valid_name(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; u[i] != '\0'; i++) {
        unsigned char c = u[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c >= 0x80 ||
                  (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return u[0] != '\0';
}

/* ====================================================================
 * Qualifier flavors
 *
 * A qualifier's flavors ("__FLAVORS": {"Name": ["DisableOverride", ...]}
 * beside "__QUALIFIERS", or inside a property's object) say whether it
 * propagates to subclasses (ToSubclass, the default; NotToSubclass and
 * Restricted stop it) and whether a subclass may change it
 * (EnableOverride, the default; DisableOverride forbids a different
 * value: WBEM_E_OVERRIDE_NOT_ALLOWED).  ToInstance, NotToInstance,
 * Translatable and Amended are kept but change nothing: instances carry
 * no qualifiers here, and nothing is localized.  "abstract" never
 * propagates, whatever its flavors (a subclass of an abstract class is
 * concrete unless it says so), as CIM declares it Restricted.
 * ==================================================================== */

/* The member of object @o named @name without regard to case. */
static json_t *
get_ci(const json_t *o, const char *name)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        if (strcasecmp(k, name) == 0)
            return v;
    }
    return NULL;
}

static bool
has_flavor(const json_t *flavors, const char *qualifier, const char *flavor)
{
    size_t i;
    json_t *f;
    json_array_foreach(get_ci(flavors, qualifier), i, f) {
        if (json_is_string(f) && strcasecmp(json_string_value(f), flavor) == 0)
            return true;
    }
    return false;
}

static bool
propagates(const json_t *flavors, const char *qualifier)
{
    return strcasecmp(qualifier, "abstract") != 0 && !has_flavor(flavors, qualifier, "Restricted") &&
           !has_flavor(flavors, qualifier, "NotToSubclass");
}

/* The class qualifiers of @cls (own, in cls->qualifiers and @own_flavors)
 * merged with those @super propagates; a DisableOverride one changed is
 * an error naming both classes. */
static wmi_status
inherit_qualifiers(struct wmi_class *cls, const struct wmi_class *super, const json_t *own_flavors, wmi_error *err)
{
    const char *k;
    json_t *v;
    cls->flavors = json_is_object(own_flavors) ? json_deep_copy(own_flavors) : json_object();
    if (cls->flavors == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    if (super == NULL)
        return WBEM_S_NO_ERROR;
    json_object_foreach(super->qualifiers, k, v) {
        if (!propagates(super->flavors, k))
            continue;
        const json_t *own = get_ci(cls->qualifiers, k);
        if (own != NULL && has_flavor(super->flavors, k, "DisableOverride") && !json_equal((json_t *)own, v)) {
            wmi__set_error(err, WBEM_E_OVERRIDE_NOT_ALLOWED, cls->name,
                           "qualifier %s of class %s has the DisableOverride flavor: a subclass cannot change it", k,
                           super->name);
            return WBEM_E_OVERRIDE_NOT_ALLOWED;
        }
        if (own == NULL && json_object_set(cls->qualifiers, k, v) != 0)
            return WBEM_E_OUT_OF_MEMORY;
        /* Its flavors come along unless the subclass gives its own; a
         * DisableOverride one keeps its flavors whatever the subclass says,
         * so that it holds all the way down. */
        json_t *sf = get_ci(super->flavors, k);
        const json_t *of = get_ci(own_flavors, k);
        if (of != NULL && has_flavor(super->flavors, k, "DisableOverride")) {
            static const char *const weaker[] = {"EnableOverride", "Restricted", "NotToSubclass"};
            for (size_t w = 0; w < sizeof weaker / sizeof weaker[0]; w++) {
                if (has_flavor(own_flavors, k, weaker[w])) {
                    wmi__set_error(err, WBEM_E_OVERRIDE_NOT_ALLOWED, cls->name,
                                   "qualifier %s of class %s has the DisableOverride flavor: a subclass cannot "
                                   "give it %s", k, super->name, weaker[w]);
                    return WBEM_E_OVERRIDE_NOT_ALLOWED;
                }
            }
            json_t *merged = json_deep_copy(sf);
            size_t i;
            json_t *f;
            json_array_foreach(of, i, f) {
                if (json_is_string(f) && !has_flavor(super->flavors, k, json_string_value(f)))
                    json_array_append(merged, f);
            }
            /* One entry per qualifier, whatever the spelling of the
             * subclass's. */
            const char *ok;
            json_t *ov;
            void *tmp;
            json_object_foreach_safe(cls->flavors, tmp, ok, ov) {
                if (strcasecmp(ok, k) == 0)
                    json_object_del(cls->flavors, ok);
            }
            if (merged == NULL || json_object_set_new(cls->flavors, k, merged) != 0)
                return WBEM_E_OUT_OF_MEMORY;
        } else if (sf != NULL && of == NULL && json_object_set(cls->flavors, k, sf) != 0) {
            return WBEM_E_OUT_OF_MEMORY;
        }
    }
    return WBEM_S_NO_ERROR;
}

/* A redeclared property @prop (its definition @val in class @cname): no
 * qualifier that an ancestor's declaration marks DisableOverride may take
 * another value. */
static wmi_status
check_property_overrides(const struct wmi_class *super, const char *cname, const char *prop, const json_t *val,
                         wmi_error *err)
{
    if (!json_is_object(val))
        return WBEM_S_NO_ERROR;
    for (const struct wmi_class *a = super; a != NULL; a = a->super) {
        const json_t *pdef = get_ci(json_object_get(a->def, "__PROPERTIES"), prop);
        const json_t *fl = json_object_get(pdef, "__FLAVORS");
        const char *q;
        json_t *qv;
        json_object_foreach((json_t *)pdef, q, qv) {
            const json_t *mine = get_ci(val, q);
            if (mine == NULL || !has_flavor(fl, q, "DisableOverride") || json_equal((json_t *)mine, qv))
                continue;
            char where[300];
            snprintf(where, sizeof where, "%s.%s", cname, prop);
            wmi__set_error(err, WBEM_E_OVERRIDE_NOT_ALLOWED, where,
                           "qualifier %s of %s.%s has the DisableOverride flavor: a subclass cannot change it", q,
                           a->name, prop);
            return WBEM_E_OVERRIDE_NOT_ALLOWED;
        }
    }
    return WBEM_S_NO_ERROR;
}

/* A property's definition: "uint32", or {"CIMType": ..., "Default": ...,
 * qualifiers}. */
struct prop_decl {
    const char *tspec;   /* the type as written, or NULL */
    json_t *dflt;        /* borrowed from the class's copy of its definition */
    uint32_t flags;
    wmi_cimtype type;
    char *ref_class;     /* from the type "ref:C" */
};

/* Read the type, default and flags of property definition @val. */
static void
read_prop_decl(json_t *val, struct prop_decl *pd)
{
    if (json_is_string(val)) {
        pd->tspec = json_string_value(val);
        return;
    }
    if (!json_is_object(val))
        return;
    const char *qk;
    json_t *qv;
    json_object_foreach(val, qk, qv) {
        if (strcasecmp(qk, "CIMType") == 0) {
            pd->tspec = json_string_value(qv);
        } else if (strcasecmp(qk, "Default") == 0) {
            pd->dflt = qv;
        } else if (strcasecmp(qk, "SubType") == 0) {
            if (json_is_string(qv) && strcasecmp(json_string_value(qv), "interval") == 0)
                pd->flags |= WMI_PROPERTY_INTERVAL;
        } else {
            size_t q;
            for (q = 0; q < sizeof prop_qualifiers / sizeof prop_qualifiers[0]; q++)
                if (strcasecmp(qk, prop_qualifiers[q].name) == 0)
                    break;
            if (q == sizeof prop_qualifiers / sizeof prop_qualifiers[0] || !json_is_boolean(qv)) {
                /* Other qualifiers (Description, MaxLen, ...) carry
                 * no behaviour here; keep only known flags. */
                continue;
            }
            if (json_is_true(qv))
                pd->flags |= prop_qualifiers[q].flag;
        }
    }
}

/* Property @inh, inherited by @cls, redeclared as @pd (at @where). */
static wmi_status
redeclare_property(const wmi_schema *schema, struct wmi_class *cls, wmi_property *inh,
                   const struct prop_decl *pd, const char *where, wmi_error *err)
{
    /* A redeclaration may only change the default (and add flags). */
    if (inh->type != pd->type) {
        wmi__set_error(err, WBEM_E_UPDATE_TYPE_MISMATCH, where, "redeclared with type %s; %s declares it %s",
                       pd->tspec, inh->origin, wmi_cimtype_name(inh->type));
        return WBEM_E_UPDATE_TYPE_MISMATCH;
    }
    inh->flags |= pd->flags;
    if (pd->dflt != NULL) {
        const struct wmi_class *super = cls->super;
        json_t *d = check_default(schema, inh, pd->dflt, cls->name, err);
        if (d == NULL && !json_is_null(pd->dflt))
            return WBEM_E_TYPE_MISMATCH;
        if (inh->default_value != (super ? super->props[inh - cls->props].default_value : NULL))
            json_decref((json_t *)inh->default_value);
        inh->default_value = d;
    }
    return WBEM_S_NO_ERROR;
}

/* Property @key of @cls declared as @pd (its ref_class taken), at @where. */
static wmi_status
declare_property(const wmi_schema *schema, struct wmi_class *cls, const char *key, struct prop_decl *pd,
                 const char *where, wmi_error *err)
{
    /* JSON keys are unique, but names compare case-insensitively. */
    for (size_t d = cls->ninherited; d < cls->nprops; d++) {
        if (strcasecmp(cls->props[d].name, key) == 0) {
            wmi__set_error(err, WBEM_E_INVALID_PROPERTY, where,
                           "property %s is declared twice (names are case-insensitive)", key);
            free(pd->ref_class);
            return WBEM_E_INVALID_PROPERTY;
        }
    }
    wmi_property *p = &cls->props[cls->nprops];
    p->name = strdup(key);
    p->type = pd->type;
    p->ref_class = pd->ref_class;
    p->flags = pd->flags;
    p->origin = cls->name;
    cls->nprops++;
    if (p->name == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    if (pd->dflt != NULL) {
        p->default_value = check_default(schema, p, pd->dflt, cls->name, err);
        if (p->default_value == NULL && !json_is_null(pd->dflt))
            return WBEM_E_TYPE_MISMATCH;
    }
    return WBEM_S_NO_ERROR;
}

/* Declare or redeclare property @key, defined as @val, in class @cls
 * being built. */
static wmi_status
class_add_property(const wmi_schema *schema, struct wmi_class *cls, const char *key, json_t *val,
                   wmi_error *err)
{
    struct prop_decl pd = {0};
    char where[300];

    snprintf(where, sizeof where, "%s.%s", cls->name, key);
    if (key[0] == '\0' || strlen(key) > 255 || (key[0] == '_' && key[1] == '_') || !valid_name(key)) {
        wmi__set_error(err, WBEM_E_INVALID_PROPERTY, where,
                       "a property name must be 1 to 255 characters, a letter or \"_\" then "
                       "letters, digits or \"_\", and not start with \"__\"");
        return WBEM_E_INVALID_PROPERTY;
    }
    read_prop_decl(val, &pd);
    if (pd.tspec == NULL) {
        wmi__set_error(err, WBEM_E_INVALID_PROPERTY_TYPE, where,
                       "a property needs a CIM type: \"uint32\" or {\"CIMType\": \"uint32\", ...}");
        return WBEM_E_INVALID_PROPERTY_TYPE;
    }
    if (WMI_FAILED(parse_prop_type(pd.tspec, &pd.type, &pd.ref_class))) {
        wmi__set_error(err, WBEM_E_INVALID_CIM_TYPE, where, "unknown CIM type \"%s\"", pd.tspec);
        return WBEM_E_INVALID_CIM_TYPE;
    }
    /* Keys are written into object paths, which hold integers,
     * booleans and strings only (as in WMI: no real, array or
     * embedded object keys). */
    if ((pd.flags & WMI_PROPERTY_KEY) && ((pd.type & CIM_FLAG_ARRAY) || pd.type == CIM_REAL32 ||
                                          pd.type == CIM_REAL64 || pd.type == CIM_OBJECT)) {
        free(pd.ref_class);
        wmi__set_error(err, WBEM_E_CANNOT_BE_KEY, where, "a %s property cannot be a key",
                       wmi_cimtype_name(pd.type));
        return WBEM_E_CANNOT_BE_KEY;
    }
    wmi_property *inh = wmi__cimap_get(&cls->index, key);
    if (inh == NULL)
        return declare_property(schema, cls, key, &pd, where, err);
    wmi_status st = check_property_overrides(cls->super, cls->name, key, val, err);
    if (WMI_SUCCEEDED(st))
        st = redeclare_property(schema, cls, inh, &pd, where, err);
    free(pd.ref_class);
    return st;
}

/* Check definition @def of a new class of @schema; *@super receives its
 * superclass, or NULL. */
static wmi_status
check_class_def(const wmi_schema *schema, const json_t *def, const struct wmi_class **super, wmi_error *err)
{
    const char *cname = json_string_value(json_object_get(def, "__CLASS"));
    const char *sname = json_string_value(json_object_get(def, "__SUPERCLASS"));
    json_t *quals = json_object_get(def, "__QUALIFIERS");
    json_t *props = json_object_get(def, "__PROPERTIES");

    *super = NULL;
    if (!json_is_object(def) || cname == NULL || cname[0] == '\0') {
        wmi__set_error(err, WBEM_E_INVALID_CLASS, "", "a class definition needs a \"__CLASS\" string");
        return WBEM_E_INVALID_CLASS;
    }
    if (strlen(cname) > 255) {
        wmi__set_error(err, WBEM_E_CLASS_NAME_TOO_WIDE, cname, "class name longer than 255 characters");
        return WBEM_E_CLASS_NAME_TOO_WIDE;
    }
    if (!valid_name(cname)) {
        wmi__set_error(err, WBEM_E_INVALID_CLASS, cname,
                       "a class name is a letter or \"_\", then letters, digits or \"_\"");
        return WBEM_E_INVALID_CLASS;
    }
    if (wmi__cimap_get(&schema->classes, cname) != NULL) {
        wmi__set_error(err, WBEM_E_ALREADY_EXISTS, cname, "class %s is already defined", cname);
        return WBEM_E_ALREADY_EXISTS;
    }
    if ((quals != NULL && !json_is_object(quals)) || (props != NULL && !json_is_object(props))) {
        wmi__set_error(err, WBEM_E_INVALID_CLASS, cname,
                       "\"__QUALIFIERS\" and \"__PROPERTIES\" must be JSON objects");
        return WBEM_E_INVALID_CLASS;
    }
    if (sname != NULL && sname[0] != '\0') {
        *super = wmi__cimap_get(&schema->classes, sname);
        if (*super == NULL) {
            wmi__set_error(err, WBEM_E_INVALID_SUPERCLASS, cname, "superclass %s is not defined", sname);
            return WBEM_E_INVALID_SUPERCLASS;
        }
    }
    return WBEM_S_NO_ERROR;
}

/* A new class of checked definition @def under @super: its name, copies
 * of its definition and qualifiers, its flags and a property table with
 * the inherited properties, room for its own. */
static wmi_status
class_new(const json_t *def, const struct wmi_class *super, struct wmi_class **out, wmi_error *err)
{
    const char *cname = json_string_value(json_object_get(def, "__CLASS"));
    json_t *quals = json_object_get(def, "__QUALIFIERS");
    json_t *props = json_object_get(def, "__PROPERTIES");
    const char *key;
    json_t *val;

    struct wmi_class *cls = calloc(1, sizeof *cls);
    if (cls == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    cls->name = strdup(cname);
    cls->super = super;
    cls->depth = super ? super->depth + 1 : 0;
    cls->qualifiers = quals ? json_deep_copy(quals) : json_object();
    cls->def = json_deep_copy(def);
    if (cname[0] == '_' && cname[1] == '_')
        cls->flags |= WMI_CLASS_SYSTEM;
    if (cls->name == NULL || cls->qualifiers == NULL || cls->def == NULL) {
        class_free(cls);
        return WBEM_E_OUT_OF_MEMORY;
    }
    wmi_status fst = inherit_qualifiers(cls, super, json_object_get(def, "__FLAVORS"), err);
    if (WMI_FAILED(fst)) {
        class_free(cls);
        return fst;
    }
    json_object_foreach(cls->qualifiers, key, val) {
        if (!json_is_true(val))
            continue;
        if (strcasecmp(key, "abstract") == 0)
            cls->flags |= WMI_CLASS_ABSTRACT;
        else if (strcasecmp(key, "singleton") == 0)
            cls->flags |= WMI_CLASS_SINGLETON;
        else if (strcasecmp(key, "Association") == 0)
            cls->flags |= WMI_CLASS_ASSOCIATION;
    }

    size_t ninh = super ? super->nprops : 0;
    size_t ndecl = props ? json_object_size(props) : 0;
    cls->props = calloc(ninh + ndecl + 1, sizeof *cls->props);
    if (cls->name == NULL || cls->qualifiers == NULL || cls->def == NULL || cls->props == NULL) {
        class_free(cls);
        return WBEM_E_OUT_OF_MEMORY;
    }
    if (ninh)
        memcpy(cls->props, super->props, ninh * sizeof *cls->props);
    cls->ninherited = ninh;
    cls->nprops = ninh;
    for (size_t i = 0; i < ninh; i++)
        wmi__cimap_put(&cls->index, cls->props[i].name, &cls->props[i]);
    *out = cls;
    return WBEM_S_NO_ERROR;
}

static wmi_status
class_build(wmi_schema *schema, const json_t *def, struct wmi_class **out, wmi_error *err)
{
    const struct wmi_class *super;
    struct wmi_class *cls;
    const char *key;
    json_t *val;

    *out = NULL;
    wmi_status st = check_class_def(schema, def, &super, err);
    if (WMI_SUCCEEDED(st))
        st = class_new(def, super, &cls, err);
    if (WMI_FAILED(st))
        return st;
    /* From here on read the class's own copy: checking a default may
     * normalise it in place (an embedded object's "__CLASS" spelling,
     * decimal strings), and the property keeps a reference to it.  The
     * caller's definition is borrowed and must not change. */
    json_t *props = json_object_get(cls->def, "__PROPERTIES");
    json_object_foreach(props, key, val) {
        st = class_add_property(schema, cls, key, val, err);
        if (WMI_FAILED(st))
            break;
    }
    /* Index the declared properties only now: the table no longer moves. */
    for (size_t i = cls->ninherited; WMI_SUCCEEDED(st) && i < cls->nprops; i++)
        if (!wmi__cimap_put(&cls->index, cls->props[i].name, &cls->props[i]))
            st = WBEM_E_OUT_OF_MEMORY;
    if (WMI_FAILED(st)) {
        class_free(cls);
        return st;
    }
    /* An association has exactly two references (MOF rule); keep the
     * check lenient for system classes that predate it. */
    *out = cls;
    return WBEM_S_NO_ERROR;
}

/* ====================================================================
 * Schema
 * ==================================================================== */

static wmi_status
schema_insert(wmi_schema *schema, struct wmi_class *cls)
{
    if (schema->nlist == schema->caplist) {
        size_t ncap = schema->caplist ? schema->caplist * 2 : 64;
        struct wmi_class **nl = realloc(schema->list, ncap * sizeof *nl);
        if (nl == NULL)
            return WBEM_E_OUT_OF_MEMORY;
        schema->list = nl;
        schema->caplist = ncap;
    }
    if (!wmi__cimap_put(&schema->classes, cls->name, cls))
        return WBEM_E_OUT_OF_MEMORY;
    schema->list[schema->nlist++] = cls;
    return WBEM_S_NO_ERROR;
}

wmi_status
wmi_schema_add_class_json(wmi_schema *schema, const json_t *def, wmi_error *err)
{
    struct wmi_class *cls;
    json_t *genus = json_object_get(def, "__GENUS");
    if (genus != NULL && json_integer_value(genus) != 1) {
        wmi__set_error(err, WBEM_E_INVALID_CLASS,
                       json_string_value(json_object_get(def, "__CLASS")),
                       "a class definition has \"__GENUS\": 1 (2 is an instance)");
        return WBEM_E_INVALID_CLASS;
    }
    wmi_status st = class_build(schema, def, &cls, err);
    if (WMI_FAILED(st))
        return st;
    st = schema_insert(schema, cls);
    if (WMI_FAILED(st))
        class_free(cls);
    return st;
}

wmi_status
wmi_schema_add_classes_json(wmi_schema *schema, const json_t *defs, size_t *failed, wmi_error *err)
{
    wmi_status first = WBEM_S_NO_ERROR;
    size_t bad = 0;
    json_t *pending = json_array();
    size_t i;
    json_t *def;
    if (pending == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    json_array_foreach(defs, i, def) {
        const char *name = json_string_value(json_object_get(def, "__CLASS"));
        if (name == NULL || wmi_schema_get_class(schema, name) == NULL)
            json_array_append(pending, def);
    }
    /* Superclass first, in as many passes as the order of @defs needs. */
    for (bool progress = true; progress && json_array_size(pending) > 0;) {
        progress = false;
        for (i = 0; i < json_array_size(pending);) {
            def = json_array_get(pending, i);
            const char *sup = json_string_value(json_object_get(def, "__SUPERCLASS"));
            if (sup != NULL && wmi_schema_get_class(schema, sup) == NULL) {
                i++;
                continue;
            }
            wmi_error e;
            wmi_status st = wmi_schema_add_class_json(schema, def, &e);
            if (WMI_FAILED(st) && bad++ == 0) {
                first = st;
                if (err != NULL)
                    *err = e;
            }
            json_array_remove(pending, i);
            progress = true;
        }
    }
    /* What is left has a superclass nobody defines. */
    for (i = 0; i < json_array_size(pending); i++) {
        if (bad++ == 0) {
            first = WBEM_E_INVALID_SUPERCLASS;
            def = json_array_get(pending, i);
            wmi__set_error(err, first, json_string_value(json_object_get(def, "__CLASS")), "superclass %s is unknown",
                           json_string_value(json_object_get(def, "__SUPERCLASS")));
        }
    }
    json_decref(pending);
    if (failed != NULL)
        *failed = bad;
    return first;
}

/* Define every class of a built-in table; a broken table is a build
 * defect (the unit tests catch it), except a class that already exists. */
static wmi_status
add_builtin_table(wmi_schema *schema, const char *const *table, bool strict, wmi_error *err)
{
    json_error_t jerr;
    for (size_t i = 0; table[i] != NULL; i++) {
        json_t *def = json_loads(table[i], 0, &jerr);
        wmi_status st = def ? wmi_schema_add_class_json(schema, def, err) : WBEM_E_FAILED;
        json_decref(def);
        if (WMI_FAILED(st) && (strict || st != WBEM_E_ALREADY_EXISTS)) {
            fprintf(stderr, "libwmievent: built-in class %zu: %s %s\n", i, def ? err->source : jerr.text,
                    def ? err->text : "");
            abort();
        }
        if (WMI_FAILED(st))
            return st;
    }
    return WBEM_S_NO_ERROR;
}

wmi_schema *
wmi_schema_new(void)
{
    wmi_schema *schema = calloc(1, sizeof *schema);
    wmi_error err;

    if (schema == NULL)
        return NULL;
    atomic_init(&schema->refs, 1);
    add_builtin_table(schema, wmi__builtin_classes, true, &err);
    return schema;
}

wmi_status
wmi_schema_add_instance_classes(wmi_schema *schema, wmi_error *err)
{
    wmi_error local;
    return add_builtin_table(schema, wmi__builtin_instance_classes, false, err ? err : &local);
}

wmi_schema *
wmi_schema_ref(wmi_schema *schema)
{
    atomic_fetch_add_explicit(&schema->refs, 1, memory_order_relaxed);
    return schema;
}

void
wmi_schema_free(wmi_schema *schema)
{
    if (schema == NULL)
        return;
    if (atomic_fetch_sub_explicit(&schema->refs, 1, memory_order_acq_rel) != 1)
        return;
    /* Free subclasses before their superclasses: reverse definition order. */
    for (size_t i = schema->nlist; i-- > 0;)
        class_free(schema->list[i]);
    free(schema->list);
    wmi__cimap_free(&schema->classes);
    free(schema);
}

const wmi_class *
wmi_schema_get_class(const wmi_schema *schema, const char *name)
{
    return wmi__cimap_get(&schema->classes, name);
}

void
wmi_schema_foreach_class(const wmi_schema *schema, bool (*fn)(const wmi_class *cls, void *arg),
                         void *arg)
{
    for (size_t i = 0; i < schema->nlist; i++)
        if (!fn(schema->list[i], arg))
            return;
}

json_t *
wmi_class_to_json(const wmi_class *cls)
{
    return json_deep_copy(cls->def);
}
