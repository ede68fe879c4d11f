/*
 * object.c - CIM-typed instances over jansson (see object.h).
 *
 * An instance is a jansson object holding "__CLASS" and the properties that
 * were set, plus a pointer to its class and a reference to the schema that
 * owns the class.  Values are checked against the property's CIM type
 * whenever they enter (from JSON or through a put), so that everything
 * downstream (WQL, templates, plugins) can trust the JSON type it finds.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/object_internal.h"
#include "lib/strbuf.h"

/* ====================================================================
 * Value checking
 * ==================================================================== */

/* Number of UTF-8 code points in @s, or -1 if @s is not valid UTF-8. */
static long
utf8_length(const char *s)
{
    long n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int extra;
        if (*p < 0x80)
            extra = 0;
        else if ((*p & 0xE0) == 0xC0)
            extra = 1;
        else if ((*p & 0xF0) == 0xE0)
            extra = 2;
        else if ((*p & 0xF8) == 0xF0)
            extra = 3;
        else
            return -1;
        p++;
        for (int i = 0; i < extra; i++, p++)
            if ((*p & 0xC0) != 0x80)
                return -1;
        n++;
    }
    return n;
}

/* Parse a decimal integer string (64-bit values travel as strings in WMI
 * scripting).  Returns false if @s is not entirely a decimal integer. */
static bool
parse_dec(const char *s, bool *neg, uint64_t *mag)
{
    const char *p = s;
    uint64_t v = 0;
    *neg = false;
    if (*p == '-' || *p == '+')
        *neg = (*p++ == '-');
    if (!isdigit((unsigned char)*p))
        return false;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (*p != '\0')
        return false;
    *mag = v;
    return true;
}

struct int_range {
    int64_t min;
    uint64_t max;
};

static bool
int_range(wmi_cimtype base, struct int_range *r)
{
    switch (base) {
    case CIM_SINT8:  r->min = INT8_MIN;  r->max = INT8_MAX;   return true;
    case CIM_UINT8:  r->min = 0;         r->max = UINT8_MAX;  return true;
    case CIM_SINT16: r->min = INT16_MIN; r->max = INT16_MAX;  return true;
    case CIM_UINT16: r->min = 0;         r->max = UINT16_MAX; return true;
    case CIM_SINT32: r->min = INT32_MIN; r->max = INT32_MAX;  return true;
    case CIM_UINT32: r->min = 0;         r->max = UINT32_MAX; return true;
    case CIM_SINT64: r->min = INT64_MIN; r->max = INT64_MAX;  return true;
    case CIM_UINT64: r->min = 0;         r->max = UINT64_MAX; return true;
    default: return false;
    }
}

static const char *
json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "real";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

static wmi_status
mismatch(wmi_error *err, const char *path, wmi_cimtype type, const json_t *v, const char *why)
{
    wmi__set_error(err, WBEM_E_TYPE_MISMATCH, path, "expected %s, got %s%s%s", wmi_cimtype_name(type),
                   json_type_name(v), why ? ": " : "", why ? why : "");
    return WBEM_E_TYPE_MISMATCH;
}

/* An integer of type @base (range @r): a JSON integer or a decimal
 * string, which becomes an integer (*@repl) when it fits one. */
static wmi_status
check_integer(wmi_cimtype base, const struct int_range *r, json_t *v, json_t **repl, const char *path,
              wmi_error *err)
{
    bool neg;
    uint64_t mag;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        neg = i < 0;
        mag = neg ? (uint64_t)(-(i + 1)) + 1 : (uint64_t)i;
    } else if (json_is_string(v) && parse_dec(json_string_value(v), &neg, &mag)) {
        /* Decimal strings are accepted for every integer type and stored
         * as JSON integers when they fit; only uint64 values above
         * INT64_MAX stay strings. */
    } else {
        return mismatch(err, path, base, v, NULL);
    }
    if (neg ? (mag > (uint64_t)INT64_MAX + 1 || -(int64_t)(mag - 1) - 1 < r->min) : mag > r->max) {
        wmi__set_error(err, WBEM_E_TYPE_MISMATCH, path, "value %s%" PRIu64 " is out of range for %s",
                       neg ? "-" : "", mag, wmi_cimtype_name(base));
        return WBEM_E_TYPE_MISMATCH;
    }
    if (json_is_string(v) && (neg || mag <= (uint64_t)INT64_MAX)) {
        json_int_t iv = neg ? (json_int_t)(-(int64_t)(mag - 1) - 1) : (json_int_t)mag;
        *repl = json_integer(iv);
    }
    return WBEM_S_NO_ERROR;
}

/* A real32 or real64 (@base): a number, or a string that reads as one. */
static wmi_status
check_real(wmi_cimtype base, json_t *v, json_t **repl, const char *path, wmi_error *err)
{
    if (json_is_integer(v)) {
        *repl = json_real((double)json_integer_value(v));
        return WBEM_S_NO_ERROR;
    }
    /* A real32 holds what a float holds: beyond FLT_MAX it would
     * become infinity when a consumer stores it as one. */
    if (json_is_real(v) && base == CIM_REAL32 && fabs(json_real_value(v)) > (double)FLT_MAX)
        return mismatch(err, path, base, v, "out of the range of real32");
    if (json_is_real(v))
        return WBEM_S_NO_ERROR;
    if (json_is_string(v)) {
        /* Reals written as strings (as MOF text or scripts might). */
        char *end;
        const char *s = json_string_value(v);
        errno = 0;
        double d = strtod(s, &end);
        if (*s != '\0' && *end == '\0' && errno == 0 && isfinite(d)) {
            if (base == CIM_REAL32 && fabs(d) > (double)FLT_MAX)
                return mismatch(err, path, base, v, "out of the range of real32");
            *repl = json_real(d);
            return WBEM_S_NO_ERROR;
        }
    }
    return mismatch(err, path, base, v, NULL);
}

/* A char16: one character, or its code point (stored as the character). */
static wmi_status
check_char16(json_t *v, json_t **repl, const char *path, wmi_error *err)
{
    if (json_is_string(v) && utf8_length(json_string_value(v)) == 1)
        return WBEM_S_NO_ERROR;
    if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) <= 0xFFFF) {
        /* A char16 given as its code point: store the character. */
        char buf[4];
        json_int_t c = json_integer_value(v);
        if (c < 0x80) {
            buf[0] = (char)c;
            buf[1] = 0;
        } else if (c < 0x800) {
            buf[0] = (char)(0xC0 | (c >> 6));
            buf[1] = (char)(0x80 | (c & 0x3F));
            buf[2] = 0;
        } else {
            if (c >= 0xD800 && c <= 0xDFFF)
                return mismatch(err, path, CIM_CHAR16, v, "a surrogate is not a character");
            buf[0] = (char)(0xE0 | (c >> 12));
            buf[1] = (char)(0x80 | ((c >> 6) & 0x3F));
            buf[2] = (char)(0x80 | (c & 0x3F));
            buf[3] = 0;
        }
        *repl = json_string(buf);
        return WBEM_S_NO_ERROR;
    }
    return mismatch(err, path, CIM_CHAR16, v, "char16 is one character");
}

/* A reference: an object path, to a @prop->ref_class when @schema knows
 * the class it names. */
static wmi_status
check_reference(const wmi_schema *schema, const wmi_property *prop, json_t *v, const char *path,
                wmi_error *err)
{
    if (json_is_string(v)) {
        char *cn;
        json_t *keys;
        if (WMI_FAILED(wmi_path_parse(json_string_value(v), &cn, &keys)))
            return mismatch(err, path, CIM_REFERENCE, v, "not an object path such as Class.Key=\"value\"");
        bool ok = true;
        if (prop != NULL && prop->ref_class != NULL && schema != NULL) {
            const wmi_class *rc = wmi_schema_get_class(schema, cn);
            ok = rc == NULL || wmi_class_isa(rc, prop->ref_class);
        }
        free(cn);
        json_decref(keys);
        if (!ok) {
            wmi__set_error(err, WBEM_E_TYPE_MISMATCH, path, "the path does not name a %s",
                           prop->ref_class);
            return WBEM_E_TYPE_MISMATCH;
        }
        return WBEM_S_NO_ERROR;
    }
    return mismatch(err, path, CIM_REFERENCE, v, NULL);
}

/* An embedded object: an instance (of @prop->ref_class when given). */
static wmi_status
check_embedded(const wmi_schema *schema, const wmi_property *prop, json_t *v, int depth, char *path,
               size_t pathlen, wmi_error *err)
{
    if (json_is_object(v)) {
        const struct wmi_class *ec;
        wmi_status st = wmi__check_instance(schema, v, &ec, depth + 1, path, pathlen, err);
        if (WMI_FAILED(st))
            return st;
        if (prop != NULL && prop->ref_class != NULL && !wmi_class_isa(ec, prop->ref_class)) {
            wmi__set_error(err, WBEM_E_TYPE_MISMATCH, path, "expected an instance of %s, got %s",
                           prop->ref_class, ec->name);
            return WBEM_E_TYPE_MISMATCH;
        }
        return WBEM_S_NO_ERROR;
    }
    return mismatch(err, path, CIM_OBJECT, v, "an embedded object is a JSON object with \"__CLASS\"");
}

/* Check one scalar of base type @base.  *@repl gets a converted value. */
static wmi_status
check_scalar(const wmi_schema *schema, const wmi_property *prop, wmi_cimtype base, json_t *v,
             json_t **repl, int depth, char *path, size_t pathlen, wmi_error *err)
{
    struct int_range r;

    *repl = NULL;
    if (json_is_null(v))
        return WBEM_S_NO_ERROR;
    if (int_range(base, &r))
        return check_integer(base, &r, v, repl, path, err);
    switch (base) {
    case CIM_REAL32:
    case CIM_REAL64:
        return check_real(base, v, repl, path, err);
    case CIM_BOOLEAN:
        if (json_is_boolean(v))
            return WBEM_S_NO_ERROR;
        return mismatch(err, path, base, v, NULL);
    case CIM_STRING:
        if (json_is_string(v))
            return WBEM_S_NO_ERROR;
        return mismatch(err, path, base, v, NULL);
    case CIM_CHAR16:
        return check_char16(v, repl, path, err);
    case CIM_DATETIME:
        if (json_is_string(v) && wmi_datetime_check(json_string_value(v)))
            return WBEM_S_NO_ERROR;
        return mismatch(err, path, base, v,
                        "not a DMTF datetime (yyyymmddHHMMSS.mmmmmmsUUU) or interval "
                        "(ddddddddHHMMSS.mmmmmm:000)");
    case CIM_REFERENCE:
        return check_reference(schema, prop, v, path, err);
    case CIM_OBJECT:
        return check_embedded(schema, prop, v, depth, path, pathlen, err);
    default:
        wmi__set_error(err, WBEM_E_INVALID_CIM_TYPE, path, "invalid CIM type %d", (int)base);
        return WBEM_E_INVALID_CIM_TYPE;
    }
}

wmi_status
wmi__check_value(const wmi_schema *schema, const wmi_property *prop, json_t *v, json_t **repl,
                 int depth, char *path, size_t pathlen, wmi_error *err)
{
    wmi_cimtype type = prop->type;
    wmi_cimtype base = (wmi_cimtype)(type & ~CIM_FLAG_ARRAY);

    *repl = NULL;
    if (json_is_null(v)) {
        if (prop->flags & WMI_PROPERTY_NOT_NULL) {
            wmi__set_error(err, WBEM_E_ILLEGAL_NULL, path, "the property is [not_null]");
            return WBEM_E_ILLEGAL_NULL;
        }
        return WBEM_S_NO_ERROR;
    }
    if (!(type & CIM_FLAG_ARRAY))
        return check_scalar(schema, prop, base, v, repl, depth, path, pathlen, err);
    if (!json_is_array(v))
        return mismatch(err, path, type, v, NULL);
    size_t i, plen = strlen(path);
    json_t *e;
    json_array_foreach(v, i, e) {
        json_t *er;
        snprintf(path + plen, pathlen - plen, "[%zu]", i);
        wmi_status st = check_scalar(schema, prop, base, e, &er, depth, path, pathlen, err);
        if (WMI_FAILED(st))
            return st;
        if (er != NULL)
            json_array_set_new(v, i, er);
    }
    path[plen] = '\0';
    return WBEM_S_NO_ERROR;
}

/* path + "." + key (or key alone at the top), truncated to fit; a memcpy
 * rather than snprintf, since it runs for every property of every event. */
static void
path_append(char *path, size_t plen, size_t pathlen, const char *key)
{
    size_t klen = strlen(key);
    size_t dot = plen ? 1 : 0;
    if (plen + dot + 1 >= pathlen)
        return; /* no room: the path stays as deep as it fits */
    if (plen + dot + klen >= pathlen)
        klen = pathlen - plen - dot - 1;
    if (dot)
        path[plen] = '.';
    memcpy(path + plen + dot, key, klen);
    path[plen + dot + klen] = '\0';
}

wmi_status
wmi__check_instance(const wmi_schema *schema, json_t *obj, const struct wmi_class **cls_out,
                    int depth, char *path, size_t pathlen, wmi_error *err)
{
    const char *cname;
    const struct wmi_class *cls;
    const char *key;
    json_t *val, *tmp;
    size_t plen = strlen(path);

    if (depth > WMI_MAX_OBJECT_NESTING) {
        wmi__set_error(err, WBEM_E_INVALID_OBJECT, path, "embedded objects nest deeper than %d",
                       WMI_MAX_OBJECT_NESTING);
        return WBEM_E_INVALID_OBJECT;
    }
    if (!json_is_object(obj)) {
        wmi__set_error(err, WBEM_E_INVALID_OBJECT, path, "an instance is a JSON object, got %s",
                       json_type_name(obj));
        return WBEM_E_INVALID_OBJECT;
    }
    cname = json_string_value(json_object_get(obj, "__CLASS"));
    if (cname == NULL) {
        wmi__set_error(err, WBEM_E_INVALID_OBJECT, path, "the instance has no \"__CLASS\" string");
        return WBEM_E_INVALID_OBJECT;
    }
    cls = schema ? wmi__cimap_get(&schema->classes, cname) : NULL;
    if (cls == NULL) {
        wmi__set_error(err, WBEM_E_INVALID_CLASS, path[0] ? path : "__CLASS", "unknown class %s", cname);
        return WBEM_E_INVALID_CLASS;
    }
    if (cls->flags & WMI_CLASS_ABSTRACT) {
        wmi__set_error(err, WBEM_E_INVALID_CLASS, path[0] ? path : "__CLASS",
                       "class %s is abstract and has no instances", cls->name);
        return WBEM_E_INVALID_CLASS;
    }
    if (strcmp(cname, cls->name) != 0)
        json_object_set_new(obj, "__CLASS", json_string(cls->name));

    /* Names spelled differently from the class are renamed after the walk,
     * since jansson objects must not change shape while iterated. */
    json_t *renames = NULL;
    json_object_foreach_safe(obj, tmp, key, val) {
        if (key[0] == '_' && key[1] == '_') {
            if (strcmp(key, "__CLASS") != 0)
                json_object_del(obj, key);
            continue;
        }
        const wmi_property *prop = wmi__cimap_get(&cls->index, key);
        path_append(path, plen, pathlen, key);
        if (prop == NULL) {
            json_decref(renames);
            wmi__set_error(err, WBEM_E_NOT_FOUND, path, "class %s has no property %s", cls->name, key);
            return WBEM_E_NOT_FOUND;
        }
        json_t *repl;
        wmi_status st = wmi__check_value(schema, prop, val, &repl, depth, path, pathlen, err);
        if (WMI_FAILED(st)) {
            json_decref(renames);
            return st;
        }
        if (repl != NULL)
            json_object_set_new(obj, key, repl);
        if (strcmp(key, prop->name) != 0) {
            if (renames == NULL)
                renames = json_array();
            json_array_append_new(renames, json_pack("[ss]", key, prop->name));
        }
        path[plen] = '\0';
    }
    size_t i;
    json_array_foreach(renames, i, val) {
        const char *from = json_string_value(json_array_get(val, 0));
        const char *to = json_string_value(json_array_get(val, 1));
        json_object_set(obj, to, json_object_get(obj, from));
        json_object_del(obj, from);
    }
    json_decref(renames);
    *cls_out = cls;
    return WBEM_S_NO_ERROR;
}

/* ====================================================================
 * Object life cycle
 * ==================================================================== */

static wmi_object *
object_alloc(const wmi_schema *schema, const struct wmi_class *cls, json_t *json)
{
    wmi_object *obj = malloc(sizeof *obj);
    if (obj == NULL)
        return NULL;
    atomic_init(&obj->refs, 1);
    obj->cls = cls;
    obj->schema = wmi_schema_ref((wmi_schema *)schema);
    obj->json = json;
    return obj;
}

wmi_status
wmi_object_new(const wmi_schema *schema, const char *class_name, wmi_object **out)
{
    const struct wmi_class *cls = wmi__cimap_get(&schema->classes, class_name);
    *out = NULL;
    if (cls == NULL || (cls->flags & WMI_CLASS_ABSTRACT))
        return WBEM_E_INVALID_CLASS;
    json_t *json = json_object();
    if (json == NULL || json_object_set_new(json, "__CLASS", json_string(cls->name)) != 0) {
        json_decref(json);
        return WBEM_E_OUT_OF_MEMORY;
    }
    *out = object_alloc(schema, cls, json);
    if (*out == NULL) {
        json_decref(json);
        return WBEM_E_OUT_OF_MEMORY;
    }
    return WBEM_S_NO_ERROR;
}

wmi_status
wmi_object_from_json_new(const wmi_schema *schema, json_t *json, wmi_object **out, wmi_error *err)
{
    const struct wmi_class *cls;
    char path[512] = "";

    *out = NULL;
    if (json == NULL) {
        wmi__set_error(err, WBEM_E_INVALID_OBJECT, "", "no object");
        return WBEM_E_INVALID_OBJECT;
    }
    wmi_status st = wmi__check_instance(schema, json, &cls, 0, path, sizeof path, err);
    if (WMI_FAILED(st)) {
        json_decref(json);
        return st;
    }
    *out = object_alloc(schema, cls, json);
    if (*out == NULL) {
        json_decref(json);
        return WBEM_E_OUT_OF_MEMORY;
    }
    return WBEM_S_NO_ERROR;
}

wmi_status
wmi_object_from_json(const wmi_schema *schema, const json_t *json, wmi_object **out, wmi_error *err)
{
    json_t *copy = json_deep_copy(json);
    if (copy == NULL && json != NULL) {
        *out = NULL;
        return WBEM_E_OUT_OF_MEMORY;
    }
    return wmi_object_from_json_new(schema, copy, out, err);
}

wmi_object *
wmi_object_ref(wmi_object *obj)
{
    if (obj != NULL)
        atomic_fetch_add_explicit(&obj->refs, 1, memory_order_relaxed);
    return obj;
}

void
wmi_object_unref(wmi_object *obj)
{
    if (obj == NULL)
        return;
    if (atomic_fetch_sub_explicit(&obj->refs, 1, memory_order_acq_rel) != 1)
        return;
    json_decref(obj->json);
    wmi_schema_free(obj->schema);
    free(obj);
}

wmi_status
wmi_object_clone(const wmi_object *obj, wmi_object **out)
{
    json_t *copy = json_deep_copy(obj->json);
    *out = copy ? object_alloc(obj->schema, obj->cls, copy) : NULL;
    if (*out == NULL) {
        json_decref(copy);
        return WBEM_E_OUT_OF_MEMORY;
    }
    return WBEM_S_NO_ERROR;
}

const wmi_class *
wmi_object_class(const wmi_object *obj)
{
    return obj->cls;
}

const char *
wmi_object_class_name(const wmi_object *obj)
{
    return obj->cls->name;
}

bool
wmi_object_isa(const wmi_object *obj, const char *ancestor)
{
    return wmi_class_isa(obj->cls, ancestor);
}

const json_t *
wmi_object_json(const wmi_object *obj)
{
    return obj->json;
}

json_t *
wmi_object_to_json(const wmi_object *obj)
{
    json_t *out = json_object();
    if (out == NULL)
        return NULL;
    json_object_set_new(out, "__CLASS", json_string(obj->cls->name));
    for (size_t i = 0; i < obj->cls->nprops; i++) {
        const wmi_property *p = &obj->cls->props[i];
        json_t *v = json_object_get(obj->json, p->name);
        if (v == NULL)
            v = (json_t *)p->default_value;
        /* An unset [not_null] property with no default is left out: a JSON
         * null there would not build an object again. */
        if (v == NULL && (p->flags & WMI_PROPERTY_NOT_NULL))
            continue;
        json_object_set_new(out, p->name, v ? json_deep_copy(v) : json_null());
    }
    return out;
}

/* ====================================================================
 * Get and put
 * ==================================================================== */

wmi_status
wmi_object_get_json(const wmi_object *obj, const char *name, const json_t **value, wmi_cimtype *type)
{
    const wmi_property *p = wmi__cimap_get(&obj->cls->index, name);
    if (p == NULL)
        return WBEM_E_NOT_FOUND;
    const json_t *v = json_object_get(obj->json, p->name);
    if (v == NULL)
        v = p->default_value;
    if (v == NULL)
        v = json_null(); /* jansson's null is a static singleton */
    *value = v;
    if (type)
        *type = p->type;
    return WBEM_S_NO_ERROR;
}

bool
wmi_object_is_set(const wmi_object *obj, const char *name)
{
    const wmi_property *p = wmi__cimap_get(&obj->cls->index, name);
    return p != NULL && json_object_get(obj->json, p->name) != NULL;
}

static bool
is_signed(wmi_cimtype t)
{
    return t == CIM_SINT8 || t == CIM_SINT16 || t == CIM_SINT32 || t == CIM_SINT64;
}

static bool
is_unsigned(wmi_cimtype t)
{
    return t == CIM_UINT8 || t == CIM_UINT16 || t == CIM_UINT32 || t == CIM_UINT64;
}

/* Fetch a scalar for a typed getter: NOT_FOUND, or S_FALSE when NULL. */
static wmi_status
get_scalar(const wmi_object *obj, const char *name, const json_t **v, wmi_cimtype *type)
{
    wmi_status st = wmi_object_get_json(obj, name, v, type);
    if (WMI_FAILED(st))
        return st;
    if (*type & CIM_FLAG_ARRAY)
        return WBEM_E_TYPE_MISMATCH;
    return json_is_null(*v) ? WBEM_S_FALSE : WBEM_S_NO_ERROR;
}

wmi_status
wmi_object_get_sint64(const wmi_object *obj, const char *name, int64_t *out)
{
    const json_t *v;
    wmi_cimtype t;
    wmi_status st = get_scalar(obj, name, &v, &t);
    if (st != WBEM_S_NO_ERROR)
        return st;
    if (!is_signed(t) && !is_unsigned(t))
        return WBEM_E_TYPE_MISMATCH;
    if (!json_is_integer(v))
        return WBEM_E_TYPE_MISMATCH; /* a uint64 above INT64_MAX */
    *out = json_integer_value(v);
    return WBEM_S_NO_ERROR;
}

wmi_status
wmi_object_get_uint64(const wmi_object *obj, const char *name, uint64_t *out)
{
    const json_t *v;
    wmi_cimtype t;
    bool neg;
    uint64_t mag;
    wmi_status st = get_scalar(obj, name, &v, &t);
    if (st != WBEM_S_NO_ERROR)
        return st;
    if (!is_signed(t) && !is_unsigned(t))
        return WBEM_E_TYPE_MISMATCH;
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0)
            return WBEM_E_TYPE_MISMATCH;
        *out = (uint64_t)json_integer_value(v);
        return WBEM_S_NO_ERROR;
    }
    if (json_is_string(v) && parse_dec(json_string_value(v), &neg, &mag) && !neg) {
        *out = mag;
        return WBEM_S_NO_ERROR;
    }
    return WBEM_E_TYPE_MISMATCH;
}

wmi_status
wmi_object_get_real64(const wmi_object *obj, const char *name, double *out)
{
    const json_t *v;
    wmi_cimtype t;
    wmi_status st = get_scalar(obj, name, &v, &t);
    if (st != WBEM_S_NO_ERROR)
        return st;
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return WBEM_S_NO_ERROR;
    }
    if (json_is_string(v) && t == CIM_UINT64) {
        *out = strtod(json_string_value(v), NULL);
        return WBEM_S_NO_ERROR;
    }
    return WBEM_E_TYPE_MISMATCH;
}

wmi_status
wmi_object_get_boolean(const wmi_object *obj, const char *name, bool *out)
{
    const json_t *v;
    wmi_cimtype t;
    wmi_status st = get_scalar(obj, name, &v, &t);
    if (st != WBEM_S_NO_ERROR)
        return st;
    if (t != CIM_BOOLEAN)
        return WBEM_E_TYPE_MISMATCH;
    *out = json_is_true(v);
    return WBEM_S_NO_ERROR;
}

wmi_status
wmi_object_get_string(const wmi_object *obj, const char *name, const char **out)
{
    const json_t *v;
    wmi_cimtype t;
    wmi_status st = get_scalar(obj, name, &v, &t);
    if (st != WBEM_S_NO_ERROR)
        return st;
    if (t != CIM_STRING && t != CIM_CHAR16 && t != CIM_DATETIME && t != CIM_REFERENCE)
        return WBEM_E_TYPE_MISMATCH;
    *out = json_string_value(v);
    return WBEM_S_NO_ERROR;
}

wmi_status
wmi_object_get_object(const wmi_object *obj, const char *name, wmi_object **out)
{
    const json_t *v;
    wmi_cimtype t;
    wmi_status st = get_scalar(obj, name, &v, &t);
    if (st != WBEM_S_NO_ERROR)
        return st;
    if (t != CIM_OBJECT)
        return WBEM_E_TYPE_MISMATCH;
    const struct wmi_class *cls =
        wmi__cimap_get(&obj->schema->classes, json_string_value(json_object_get(v, "__CLASS")));
    if (cls == NULL)
        return WBEM_E_INVALID_CLASS;
    /* The embedded tree is shared, not copied: the parent is frozen or
     * owned by the caller, and the new object holds its own reference. */
    *out = object_alloc(obj->schema, cls, json_incref((json_t *)v));
    if (*out == NULL) {
        json_decref((json_t *)v);
        return WBEM_E_OUT_OF_MEMORY;
    }
    return WBEM_S_NO_ERROR;
}

wmi_status
wmi_object_put_json(wmi_object *obj, const char *name, json_t *value)
{
    char path[512];
    json_t *repl;
    const wmi_property *p = wmi__cimap_get(&obj->cls->index, name);

    if (value == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    if (p == NULL) {
        json_decref(value);
        return WBEM_E_NOT_FOUND;
    }
    snprintf(path, sizeof path, "%s", p->name);
    wmi_status st = wmi__check_value(obj->schema, p, value, &repl, 0, path, sizeof path, NULL);
    if (WMI_FAILED(st)) {
        json_decref(value);
        return st;
    }
    if (repl != NULL) {
        json_decref(value);
        value = repl;
    }
    if (json_object_set_new(obj->json, p->name, value) != 0)
        return WBEM_E_OUT_OF_MEMORY;
    return WBEM_S_NO_ERROR;
}

wmi_status
wmi_object_put_sint64(wmi_object *obj, const char *name, int64_t value)
{
    const wmi_property *p = wmi__cimap_get(&obj->cls->index, name);
    if (p != NULL && (p->type == CIM_REAL32 || p->type == CIM_REAL64))
        return wmi_object_put_json(obj, name, json_real((double)value));
    if (p != NULL && !is_signed(p->type) && !is_unsigned(p->type))
        return WBEM_E_TYPE_MISMATCH;
    return wmi_object_put_json(obj, name, json_integer(value));
}

wmi_status
wmi_object_put_uint64(wmi_object *obj, const char *name, uint64_t value)
{
    if (value <= (uint64_t)INT64_MAX)
        return wmi_object_put_sint64(obj, name, (int64_t)value);
    const wmi_property *p = wmi__cimap_get(&obj->cls->index, name);
    if (p != NULL && p->type != CIM_UINT64)
        return WBEM_E_TYPE_MISMATCH;
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, value);
    return wmi_object_put_json(obj, name, json_string(buf));
}

wmi_status
wmi_object_put_real64(wmi_object *obj, const char *name, double value)
{
    const wmi_property *p = wmi__cimap_get(&obj->cls->index, name);
    if (p != NULL && p->type != CIM_REAL32 && p->type != CIM_REAL64)
        return WBEM_E_TYPE_MISMATCH;
    if (!isfinite(value))
        return WBEM_E_TYPE_MISMATCH;
    return wmi_object_put_json(obj, name, json_real(value));
}

wmi_status
wmi_object_put_boolean(wmi_object *obj, const char *name, bool value)
{
    return wmi_object_put_json(obj, name, json_boolean(value));
}

wmi_status
wmi_object_put_string(wmi_object *obj, const char *name, const char *value)
{
    const wmi_property *p = wmi__cimap_get(&obj->cls->index, name);
    if (p == NULL)
        return WBEM_E_NOT_FOUND;
    if (value == NULL)
        return wmi_object_put_null(obj, name);
    if (p->type != CIM_STRING && p->type != CIM_CHAR16 && p->type != CIM_DATETIME &&
        p->type != CIM_REFERENCE)
        return WBEM_E_TYPE_MISMATCH;
    json_t *s = json_string(value);
    if (s == NULL)
        return utf8_length(value) < 0 ? WBEM_E_TYPE_MISMATCH : WBEM_E_OUT_OF_MEMORY;
    return wmi_object_put_json(obj, name, s);
}

wmi_status
wmi_object_put_object(wmi_object *obj, const char *name, const wmi_object *value)
{
    if (value == NULL)
        return wmi_object_put_null(obj, name);
    json_t *copy = json_deep_copy(value->json);
    return wmi_object_put_json(obj, name, copy);
}

wmi_status
wmi_object_put_null(wmi_object *obj, const char *name)
{
    return wmi_object_put_json(obj, name, json_null());
}

/* ====================================================================
 * MOF text and object paths
 * ==================================================================== */

static bool
put_quoted(wmi_strbuf *sb, const char *s, char quote)
{
    bool ok = wmi__strbuf_putc(sb, quote);
    for (; ok && *s; s++) {
        if (*s == quote || *s == '\\')
            ok = wmi__strbuf_putc(sb, '\\');
        if (ok)
            ok = wmi__strbuf_putc(sb, *s);
    }
    return ok && wmi__strbuf_putc(sb, quote);
}

static bool put_instance_text(wmi_strbuf *sb, const json_t *obj, const wmi_schema *schema, int indent);

/* Format a number the way MOF text and templates show it. */
static bool
put_real(wmi_strbuf *sb, double d)
{
    char buf[40];
    /* Shortest text that reads back as the same double. */
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    return wmi__strbuf_puts(sb, buf);
}

static bool
put_scalar_text(wmi_strbuf *sb, const json_t *v, wmi_cimtype base, const wmi_schema *schema,
                int indent)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
        return wmi__strbuf_puts(sb, "NULL");
    case JSON_TRUE:
        return wmi__strbuf_puts(sb, "TRUE");
    case JSON_FALSE:
        return wmi__strbuf_puts(sb, "FALSE");
    case JSON_INTEGER:
        return wmi__strbuf_printf(sb, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_REAL:
        return put_real(sb, json_real_value(v));
    case JSON_STRING:
        if (base == CIM_UINT64 || base == CIM_SINT64)
            return wmi__strbuf_puts(sb, json_string_value(v));
        return put_quoted(sb, json_string_value(v), base == CIM_CHAR16 ? '\'' : '"');
    case JSON_OBJECT:
        return put_instance_text(sb, v, schema, indent);
    case JSON_ARRAY:
        break;
    }
    return wmi__strbuf_puts(sb, "NULL");
}

static bool
put_value_text(wmi_strbuf *sb, const json_t *v, wmi_cimtype type, const wmi_schema *schema,
               int indent)
{
    wmi_cimtype base = (wmi_cimtype)(type & ~CIM_FLAG_ARRAY);
    if (!json_is_array(v))
        return put_scalar_text(sb, v, base, schema, indent);
    bool ok = wmi__strbuf_putc(sb, '{');
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (ok && i)
            ok = wmi__strbuf_puts(sb, ", ");
        if (ok)
            ok = put_scalar_text(sb, e, base, schema, indent);
    }
    return ok && wmi__strbuf_putc(sb, '}');
}

static bool
put_indent(wmi_strbuf *sb, int indent)
{
    bool ok = true;
    for (int i = 0; ok && i < indent; i++)
        ok = wmi__strbuf_putc(sb, '\t');
    return ok;
}

/* "instance of X\n{\n\tP = v;\n};" with the class's property order when the
 * class is known, else the JSON order. */
static bool
put_instance_text(wmi_strbuf *sb, const json_t *obj, const wmi_schema *schema, int indent)
{
    const char *cname = json_string_value(json_object_get(obj, "__CLASS"));
    const struct wmi_class *cls = (schema && cname) ? wmi__cimap_get(&schema->classes, cname) : NULL;
    bool ok = wmi__strbuf_printf(sb, "instance of %s\n", cname ? cname : "__Unknown");
    ok = ok && put_indent(sb, indent) && wmi__strbuf_puts(sb, "{\n");
    if (cls != NULL) {
        for (size_t i = 0; ok && i < cls->nprops; i++) {
            const json_t *v = json_object_get(obj, cls->props[i].name);
            if (v == NULL || json_is_null(v))
                continue;
            ok = put_indent(sb, indent + 1) && wmi__strbuf_printf(sb, "%s = ", cls->props[i].name) &&
                 put_value_text(sb, v, cls->props[i].type, schema, indent + 1) &&
                 wmi__strbuf_puts(sb, ";\n");
        }
    } else {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)obj, k, v) {
            if (!ok)
                break;
            if ((k[0] == '_' && k[1] == '_') || json_is_null(v))
                continue;
            ok = put_indent(sb, indent + 1) && wmi__strbuf_printf(sb, "%s = ", k) &&
                 put_value_text(sb, v, CIM_EMPTY, schema, indent + 1) && wmi__strbuf_puts(sb, ";\n");
        }
    }
    /* Only the outermost instance ends with "};"; an embedded one ends
     * with "}" and its property line supplies the ";". */
    return ok && put_indent(sb, indent) && wmi__strbuf_puts(sb, indent ? "}" : "};");
}

char *
wmi_object_get_text(const wmi_object *obj)
{
    wmi_strbuf sb = {0};
    if (!put_instance_text(&sb, obj->json, obj->schema, 0) || !wmi__strbuf_putc(&sb, '\n')) {
        wmi__strbuf_free(&sb);
        return NULL;
    }
    return wmi__strbuf_detach(&sb);
}

char *
wmi_value_get_text(const json_t *value, wmi_cimtype type)
{
    wmi_strbuf sb = {0};
    if (!put_value_text(&sb, value, type, NULL, 0)) {
        wmi__strbuf_free(&sb);
        return NULL;
    }
    return wmi__strbuf_detach(&sb);
}

char *
wmi_object_get_path(const wmi_object *obj)
{
    wmi_strbuf sb = {0};
    bool ok = wmi__strbuf_puts(&sb, obj->cls->name);
    if (obj->cls->flags & WMI_CLASS_SINGLETON) {
        ok = ok && wmi__strbuf_puts(&sb, "=@");
        return ok ? wmi__strbuf_detach(&sb) : (wmi__strbuf_free(&sb), NULL);
    }
    int nkeys = 0;
    for (size_t i = 0; ok && i < obj->cls->nprops; i++) {
        const wmi_property *p = &obj->cls->props[i];
        if (!(p->flags & WMI_PROPERTY_KEY))
            continue;
        const json_t *v = json_object_get(obj->json, p->name);
        if (v == NULL)
            v = p->default_value;
        if (v == NULL || json_is_null(v) || json_is_array(v) || json_is_object(v)) {
            ok = false;
            break;
        }
        ok = wmi__strbuf_putc(&sb, nkeys++ ? ',' : '.') && wmi__strbuf_printf(&sb, "%s=", p->name);
        if (ok && json_is_string(v))
            ok = put_quoted(&sb, json_string_value(v), '"');
        else if (ok)
            ok = put_scalar_text(&sb, v, p->type, NULL, 0);
    }
    if (!ok || nkeys == 0) {
        wmi__strbuf_free(&sb);
        return NULL;
    }
    return wmi__strbuf_detach(&sb);
}

/* Parse one key value of an object path: "quoted", 'c', number, TRUE/FALSE. */
static const char *
path_value(const char *p, json_t **out)
{
    if (*p == '"' || *p == '\'') {
        char q = *p++;
        wmi_strbuf sb = {0};
        while (*p && *p != q) {
            if (*p == '\\' && p[1])
                p++;
            if (!wmi__strbuf_putc(&sb, *p++)) {
                wmi__strbuf_free(&sb);
                return NULL;
            }
        }
        if (*p != q) {
            wmi__strbuf_free(&sb);
            return NULL;
        }
        char *s = wmi__strbuf_detach(&sb);
        *out = json_string(s);
        free(s);
        return *out ? p + 1 : NULL;
    }
    const char *start = p;
    while (*p && *p != ',')
        p++;
    size_t n = (size_t)(p - start);
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return NULL;
    memcpy(buf, start, n);
    buf[n] = '\0';
    bool neg;
    uint64_t mag;
    if (strcasecmp(buf, "TRUE") == 0)
        *out = json_true();
    else if (strcasecmp(buf, "FALSE") == 0)
        *out = json_false();
    else if (parse_dec(buf, &neg, &mag) && (neg ? mag <= (uint64_t)INT64_MAX + 1 : mag <= INT64_MAX))
        *out = json_integer(neg ? (json_int_t)(-(int64_t)(mag - 1) - 1) : (json_int_t)mag);
    else
        return NULL;
    return p;
}

static bool
is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80;
}

wmi_status
wmi_path_parse(const char *path, char **class_name, json_t **keys)
{
    const char *p = path;
    *class_name = NULL;
    *keys = NULL;
    if (path == NULL)
        return WBEM_E_INVALID_OBJECT_PATH;
    /* Skip a "\\server\namespace:" or "root\ns:" prefix. */
    const char *colon = strchr(p, ':');
    const char *quote = strpbrk(p, "\"'");
    if (colon != NULL && (quote == NULL || colon < quote))
        p = colon + 1;
    const char *start = p;
    while (is_name_char(*p))
        p++;
    if (p == start)
        return WBEM_E_INVALID_OBJECT_PATH;
    json_t *k = json_object();
    char *cn = strndup(start, (size_t)(p - start));
    if (k == NULL || cn == NULL) {
        json_decref(k);
        free(cn);
        return WBEM_E_OUT_OF_MEMORY;
    }
    if (*p == '\0') {
        /* A class path (no keys): valid for references to classes. */
    } else if (p[0] == '=' && p[1] == '@' && p[2] == '\0') {
        /* A singleton. */
    } else if (*p == '=') {
        /* One unnamed key: Class="value". */
        json_t *v;
        const char *q = path_value(p + 1, &v);
        if (q == NULL)
            goto bad;
        if (*q != '\0') {
            json_decref(v);
            goto bad;
        }
        json_object_set_new(k, "", v);
    } else if (*p == '.') {
        p++;
        for (;;) {
            const char *ks = p;
            while (is_name_char(*p))
                p++;
            if (p == ks || *p != '=')
                goto bad;
            char *kn = strndup(ks, (size_t)(p - ks));
            json_t *v;
            const char *q = path_value(p + 1, &v);
            if (q == NULL || kn == NULL) {
                if (q != NULL)
                    json_decref(v);
                free(kn);
                goto bad;
            }
            json_object_set_new(k, kn, v);
            free(kn);
            p = q;
            if (*p == '\0')
                break;
            if (*p != ',')
                goto bad;
            p++;
        }
    } else {
        goto bad;
    }
    *class_name = cn;
    *keys = k;
    return WBEM_S_NO_ERROR;
bad:
    json_decref(k);
    free(cn);
    return WBEM_E_INVALID_OBJECT_PATH;
}
