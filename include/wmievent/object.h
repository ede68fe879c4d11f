/*
 * wmievent/object.h - CIM-typed classes, instances and the class schema.
 *
 * Mirrors IWbemClassObject.  A wmi_class is a class definition (name,
 * superclass chain, typed properties with qualifiers and defaults); a
 * wmi_schema is the set of classes of a namespace, starting with WMI's
 * system classes; a wmi_object is an instance of a class whose property
 * values are held in a jansson tree in the JSON form
 *
 *     {"__CLASS": "Win32_ProcessStartTrace", "ProcessName": "sshd", ...}
 *
 * Every value is checked against its property's CIM type when it is put or
 * when an object is built from JSON, so a routed event is never half-formed.
 *
 * JSON forms of CIM values (what wmi_object_get_json returns and what
 * wmi_object_from_json accepts):
 *   sint8..sint64, uint8..uint64  JSON integer (uint64 above INT64_MAX, and
 *                                 any 64-bit value, may also be a decimal
 *                                 string, as WMI scripting writes them; it
 *                                 is stored as an integer when it fits)
 *   real32, real64                JSON real or integer
 *   boolean                       true / false
 *   string                        JSON string (UTF-8)
 *   char16                        JSON string of exactly one character
 *   datetime                      JSON string, DMTF "yyyymmddHHMMSS.mmmmmmsUUU"
 *                                 or interval "ddddddddHHMMSS.mmmmmm:000"
 *   reference                     JSON string holding an object path,
 *                                 e.g. "__EventFilter.Name=\"ProcStart\""
 *   object                        JSON object with its own "__CLASS"
 *   arrays of the above           JSON array
 *   NULL                          JSON null
 *
 * A property that the class declares but the instance does not set reads
 * as the class default, or NULL when the class has none; a property the
 * class does not declare is WBEM_E_NOT_FOUND.  An instance may hold an
 * explicit NULL, which wmi_object_to_json keeps.
 *
 * Names of classes and properties compare case-insensitively, as in WMI;
 * objects store the spelling of the class definition.
 *
 * Threads: classes and schemas are immutable once built (the schema until
 * the first lookup by another thread); objects are reference-counted with
 * atomic counts and may be read from any number of threads once no thread
 * changes them.  An object handed to wmi_object_ref by another thread is
 * frozen: do not put properties on an object others may be reading.
 */
#ifndef WMIEVENT_OBJECT_H
#define WMIEVENT_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "export.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ====================================================================
 * CIM types (CIMTYPE_ENUMERATION, values as in wbemcli.h)
 * ==================================================================== */

typedef enum wmi_cimtype {
    CIM_ILLEGAL = 0xFFF,
    CIM_EMPTY = 0,
    CIM_SINT8 = 16,
    CIM_UINT8 = 17,
    CIM_SINT16 = 2,
    CIM_UINT16 = 18,
    CIM_SINT32 = 3,
    CIM_UINT32 = 19,
    CIM_SINT64 = 20,
    CIM_UINT64 = 21,
    CIM_REAL32 = 4,
    CIM_REAL64 = 5,
    CIM_BOOLEAN = 11,
    CIM_STRING = 8,
    CIM_DATETIME = 101,
    CIM_REFERENCE = 102,
    CIM_CHAR16 = 103,
    CIM_OBJECT = 13,
    CIM_FLAG_ARRAY = 0x2000
} wmi_cimtype;

/*
 * wmi_cimtype_name - the MOF spelling of a CIM type: "uint32", "string",
 * "datetime", "object", "uint8[]" for CIM_UINT8|CIM_FLAG_ARRAY, ...
 * Returns a static string, or NULL for an invalid type.  Thread-safe.
 */
WMI_EXTERN const char *wmi_cimtype_name(wmi_cimtype type);

/*
 * wmi_cimtype_from_name - parse a MOF type name ("uint32", "String",
 * "datetime", "ref", "object", with an optional "[]" suffix for arrays).
 * Returns WBEM_S_NO_ERROR, or WBEM_E_INVALID_CIM_TYPE.  Thread-safe.
 */
WMI_EXTERN wmi_status wmi_cimtype_from_name(const char *name, wmi_cimtype *out);

/* ====================================================================
 * Classes
 * ==================================================================== */

/* Property qualifiers that change behaviour (wmi_property.flags). */
#define WMI_PROPERTY_KEY       0x0001u /* [Key] */
#define WMI_PROPERTY_NOT_NULL  0x0002u /* [not_null] */
#define WMI_PROPERTY_TEMPLATE  0x0004u /* [Template]: standard string template */
#define WMI_PROPERTY_READ_ONLY 0x0008u /* [read] without [write]: set by wmieventd */
#define WMI_PROPERTY_INTERVAL  0x0010u /* [SubType("interval")] datetime */

/* Class qualifiers (wmi_class_flags). */
#define WMI_CLASS_ABSTRACT    0x0001u /* [abstract]: no instances */
#define WMI_CLASS_SINGLETON   0x0002u /* [singleton] */
#define WMI_CLASS_ASSOCIATION 0x0004u /* [Association] */
#define WMI_CLASS_SYSTEM      0x0008u /* a built-in system class (name starts "__") */

/*
 * struct wmi_property - one property of a class, as declared or inherited.
 * All pointers are owned by the class and live as long as it.
 *   name           spelling from the class definition
 *   type           CIM type, with CIM_FLAG_ARRAY for arrays
 *   ref_class      for a typed reference ("Foo ref P") or an embedded object
 *                  declared with [CIMTYPE("object:Foo")], the class name Foo;
 *                  NULL when untyped
 *   flags          WMI_PROPERTY_*
 *   default_value  the class default in the JSON form above, or NULL when
 *                  the class gives none (the property then reads as NULL)
 *   origin         name of the class that first declared the property
 */
typedef struct wmi_property {
    const char *name;
    wmi_cimtype type;
    const char *ref_class;
    uint32_t flags;
    const json_t *default_value;
    const char *origin;
} wmi_property;

/* A class definition (the class form of IWbemClassObject).  Opaque. */
typedef struct wmi_class wmi_class;

/* The class's name as defined.  Borrowed, valid while the class lives. */
WMI_EXTERN const char *wmi_class_name(const wmi_class *cls);

/* The superclass, or NULL for a root class.  Borrowed. */
WMI_EXTERN const wmi_class *wmi_class_superclass(const wmi_class *cls);

/* WMI_CLASS_* qualifiers of the class. */
WMI_EXTERN uint32_t wmi_class_flags(const wmi_class *cls);

/*
 * wmi_class_isa - true if @cls is the class named @ancestor or derives from
 * it (follows the superclass chain; case-insensitive), as WQL's ISA.
 */
WMI_EXTERN bool wmi_class_isa(const wmi_class *cls, const char *ancestor);

/* Number of properties, inherited ones included. */
WMI_EXTERN size_t wmi_class_property_count(const wmi_class *cls);

/*
 * wmi_class_property_at - the @index-th property (0-based; inherited
 * properties first, in declaration order).  Borrowed; NULL when out of range.
 */
WMI_EXTERN const wmi_property *wmi_class_property_at(const wmi_class *cls, size_t index);

/*
 * wmi_class_find_property - the property named @name (case-insensitive),
 * declared or inherited.  Borrowed; NULL when the class has none.
 */
WMI_EXTERN const wmi_property *wmi_class_find_property(const wmi_class *cls, const char *name);

/*
 * wmi_class_qualifier - a class qualifier value as JSON (true for a plain
 * flag qualifier such as [Dynamic], a string for [Provider("x")]).
 * Borrowed; NULL when the class does not carry it.  Inherited qualifiers
 * are included as their flavors propagate them (resolved when the class is
 * built, see wmi_schema_add_class_json): ToSubclass, the default, yes;
 * Restricted or NotToSubclass, and "abstract" always, no.  Thread-safe.
 */
WMI_EXTERN const json_t *wmi_class_qualifier(const wmi_class *cls, const char *name);

/* ====================================================================
 * Schema
 * ==================================================================== */

/* The classes of a namespace.  Opaque. */
typedef struct wmi_schema wmi_schema;

/*
 * wmi_schema_new - a new schema holding WMI's built-in system classes:
 * the __Event tree (__ExtrinsicEvent, __InstanceOperationEvent and its
 * children, __TimerEvent, __SystemEvent, __EventDroppedEvent,
 * __EventQueueOverflowEvent, __ConsumerFailureEvent), __AggregateEvent,
 * __EventFilter, __EventConsumer, __FilterToConsumerBinding, __Provider,
 * __Win32Provider, __EventConsumerProviderRegistration,
 * __EventProviderRegistration, the timer instructions, the five standard
 * consumer classes and Win32_ProcessTrace / Win32_ProcessStartTrace /
 * Win32_ProcessStopTrace.  docs/classes.md lists every property.
 *
 * Returns a new schema (free with wmi_schema_free), or NULL when out of
 * memory.
 */
WMI_EXTERN wmi_schema *wmi_schema_new(void);

/*
 * wmi_schema_add_instance_classes - add the CIM and Win32 classes that
 * wmieventd's instance providers serve (root\\cimv2 on Windows):
 * CIM_ManagedSystemElement, CIM_LogicalElement, CIM_Process,
 * Win32_Process, CIM_LogicalDevice, CIM_StorageExtent, CIM_LogicalDisk,
 * Win32_LogicalDisk, CIM_OperatingSystem, Win32_OperatingSystem,
 * Win32_CurrentTime, Win32_LocalTime, Win32_UTCTime, CIM_LogicalFile,
 * CIM_DataFile and CIM_Directory (docs/classes.md).  Kept out of
 * wmi_schema_new so that a schema of one's own may define classes of these
 * names.  Returns WBEM_S_NO_ERROR, or WBEM_E_ALREADY_EXISTS (with @err
 * naming the class) when the schema already has one of them; the classes
 * before it are added.  Not thread-safe: build the schema before sharing it.
 */
WMI_EXTERN wmi_status wmi_schema_add_instance_classes(wmi_schema *schema, wmi_error *err);

/*
 * wmi_schema_ref - take a reference to a schema; returns @schema.
 * Schemas are reference-counted (atomically): every object holds one, so
 * a schema replaced on reload lives until its last object is released.
 */
WMI_EXTERN wmi_schema *wmi_schema_ref(wmi_schema *schema);

/*
 * wmi_schema_free - drop a reference to a schema; the last one frees it
 * and its classes.  Objects hold their own references, so classes stay
 * valid as long as any object of the schema lives.  NULL is ok.
 */
WMI_EXTERN void wmi_schema_free(wmi_schema *schema);

/*
 * wmi_schema_get_class - the class named @name (case-insensitive).
 * Borrowed: valid while the schema lives (or while an object of the class
 * holds it).  NULL when unknown.  Thread-safe for concurrent lookups.
 */
WMI_EXTERN const wmi_class *wmi_schema_get_class(const wmi_schema *schema, const char *name);

/*
 * wmi_schema_add_class_json - define a class from its JSON form (the
 * PutClass of IWbemServices):
 *
 *   {"__GENUS": 1, "__CLASS": "Tour_Event", "__SUPERCLASS": "__ExtrinsicEvent",
 *    "__QUALIFIERS": {"abstract": true},
 *    "__PROPERTIES": {
 *        "Message":  "string",
 *        "Severity": {"CIMType": "uint32", "Default": 3},
 *        "Name":     {"CIMType": "string", "Key": true, "not_null": true},
 *        "Target":   {"CIMType": "object:Win32_Process"},
 *        "Text":     {"CIMType": "string", "Template": true}}}
 *
 * Qualifier flavors: "__FLAVORS": {"Fixed": ["DisableOverride"]} beside
 * "__QUALIFIERS" (class qualifiers), or inside a property's object (its
 * qualifiers).  A class inherits its superclass's qualifiers that
 * propagate (ToSubclass, the default; not Restricted, NotToSubclass, nor
 * "abstract"), with their flavors; a qualifier with DisableOverride, on
 * an ancestor class or on an ancestor's declaration of a redeclared
 * property, may not take another value (WBEM_E_OVERRIDE_NOT_ALLOWED).
 * ToInstance, NotToInstance, Translatable and Amended are kept and change
 * nothing: instances carry no qualifiers here.
 *
 * "__GENUS" is optional here (1 is WBEM_GENUS_CLASS).  A property given as
 * a string is just its CIM type; as an object it carries "CIMType" and any
 * of the boolean qualifiers Key, not_null, Template, read, and "Default"
 * (checked against the type) and "SubType".  A subclass may redeclare an
 * inherited property only with the same type (a new default is allowed).
 *
 * @def is borrowed.  On failure @err (if not NULL) names the class and
 * property.  Returns WBEM_S_NO_ERROR; WBEM_E_INVALID_SUPERCLASS when the
 * superclass is unknown; WBEM_E_ALREADY_EXISTS when the class exists;
 * WBEM_E_INVALID_CIM_TYPE, WBEM_E_TYPE_MISMATCH (bad default),
 * WBEM_E_INVALID_CLASS (malformed definition, or a class name that is not
 * a letter or "_" followed by letters, digits or "_"; non-ASCII letters are
 * allowed); WBEM_E_INVALID_PROPERTY (a property name that is not such a
 * name, starts with "__" or is declared twice); WBEM_E_CANNOT_BE_KEY (a
 * [Key] on a real, array or embedded object property);
 * WBEM_E_OVERRIDE_NOT_ALLOWED (a DisableOverride qualifier changed, @err
 * naming the class or Class.Property); WBEM_E_OUT_OF_MEMORY.
 * Not thread-safe: build the schema before sharing it.
 */
WMI_EXTERN wmi_status wmi_schema_add_class_json(wmi_schema *schema, const json_t *def, wmi_error *err);

/*
 * wmi_schema_add_classes_json - add the class definitions of @defs (a JSON
 * array of the form above, borrowed), in any order: each goes in after
 * its superclass.  Definitions of classes the schema already has are
 * skipped.  Every definition that can go in does; *@failed (if not NULL)
 * counts those that could not.  Returns WBEM_S_NO_ERROR, or the status of
 * the first refused (WBEM_E_INVALID_SUPERCLASS when its superclass is
 * defined nowhere), with @err naming it; WBEM_E_OUT_OF_MEMORY.  Not
 * thread-safe, as wmi_schema_add_class_json.
 */
WMI_EXTERN wmi_status wmi_schema_add_classes_json(wmi_schema *schema, const json_t *defs, size_t *failed,
                                                  wmi_error *err);

/*
 * wmi_class_to_json - the JSON form of a class (the inverse of
 * wmi_schema_add_class_json, declared properties only).  Returns a new
 * reference, or NULL when out of memory.
 */
WMI_EXTERN json_t *wmi_class_to_json(const wmi_class *cls);

/*
 * wmi_schema_foreach_class - call @fn for every class, in no particular
 * order, until it returns false.  Not safe against concurrent changes.
 */
WMI_EXTERN void wmi_schema_foreach_class(const wmi_schema *schema,
                              bool (*fn)(const wmi_class *cls, void *arg), void *arg);

/* ====================================================================
 * Objects (instances)
 * ==================================================================== */

/* An instance (the instance form of IWbemClassObject).  Opaque, refcounted. */
typedef struct wmi_object wmi_object;

/*
 * wmi_object_new - an empty instance of @class_name (SpawnInstance): every
 * property reads as its class default.  On success *@out is a new
 * reference.  Returns WBEM_S_NO_ERROR; WBEM_E_INVALID_CLASS when the class
 * is unknown or abstract; WBEM_E_OUT_OF_MEMORY.  Thread-safe.
 */
WMI_EXTERN wmi_status wmi_object_new(const wmi_schema *schema, const char *class_name, wmi_object **out);

/*
 * wmi_object_from_json - build an instance from its JSON form, checking
 * every property against the class named by "__CLASS" (embedded objects
 * recursively, at most WMI_MAX_OBJECT_NESTING deep).  Property names are
 * normalised to the class's spelling.  System properties other than
 * "__CLASS" are ignored, as WMI ignores them on PutInstance.
 *
 * @json is borrowed; the object keeps its own copy.  On success *@out is a
 * new reference.  On failure @err (if not NULL) names the property path
 * ("Target.Name") in @err->source.  Returns WBEM_S_NO_ERROR;
 * WBEM_E_INVALID_OBJECT (not a JSON object, or no "__CLASS");
 * WBEM_E_INVALID_CLASS (unknown or abstract class); WBEM_E_NOT_FOUND (a
 * property the class does not declare); WBEM_E_TYPE_MISMATCH (a value of
 * the wrong type or out of range, or a malformed datetime);
 * WBEM_E_OUT_OF_MEMORY.  Thread-safe.
 */
WMI_EXTERN wmi_status wmi_object_from_json(const wmi_schema *schema, const json_t *json,
                                wmi_object **out, wmi_error *err);

/*
 * wmi_object_from_json_new - as wmi_object_from_json, but steals the
 * reference to @json (jansson's "_new" convention), which avoids a copy on
 * the event path.  The caller must not use @json afterwards, success or
 * failure.  The tree may be changed in place (names normalised).
 */
WMI_EXTERN wmi_status wmi_object_from_json_new(const wmi_schema *schema, json_t *json,
                                    wmi_object **out, wmi_error *err);

/* Maximum nesting of embedded objects (WBEM_MAX_OBJECT_NESTING). */
#define WMI_MAX_OBJECT_NESTING 64

/* wmi_object_ref - take a reference; returns @obj.  Thread-safe. */
WMI_EXTERN wmi_object *wmi_object_ref(wmi_object *obj);

/* wmi_object_unref - drop a reference; frees on the last one.  NULL is ok. */
WMI_EXTERN void wmi_object_unref(wmi_object *obj);

/* wmi_object_clone - a new, unshared, deep copy (IWbemClassObject::Clone). */
WMI_EXTERN wmi_status wmi_object_clone(const wmi_object *obj, wmi_object **out);

/* The class of an object.  Borrowed, valid while the object lives. */
WMI_EXTERN const wmi_class *wmi_object_class(const wmi_object *obj);

/* The class name of an object (its __CLASS).  Borrowed. */
WMI_EXTERN const char *wmi_object_class_name(const wmi_object *obj);

/* True if the object's class is or derives from @ancestor. */
WMI_EXTERN bool wmi_object_isa(const wmi_object *obj, const char *ancestor);

/*
 * wmi_object_json - the object's JSON form, "__CLASS" first, set
 * properties only.  Borrowed: do not change it; valid while the object
 * lives.  This is the cheap way to serialise an event (json_dumps).
 */
WMI_EXTERN const json_t *wmi_object_json(const wmi_object *obj);

/*
 * wmi_object_to_json - a new JSON copy of the object in which every
 * property the class declares is present (unset ones as their default or
 * null; an unset [not_null] property with no default is left out, so that
 * the result builds an object again).  New reference; NULL when out of
 * memory.
 */
WMI_EXTERN json_t *wmi_object_to_json(const wmi_object *obj);

/*
 * wmi_object_get_json - a property value in its JSON form, and its type.
 *
 * *@value receives a borrowed reference (valid while the object lives and
 * is not changed): the set value, else the class default, else a JSON null.
 * *@type (if not NULL) receives the property's CIM type.  Returns
 * WBEM_S_NO_ERROR, or WBEM_E_NOT_FOUND when the class has no such property.
 */
WMI_EXTERN wmi_status wmi_object_get_json(const wmi_object *obj, const char *name,
                               const json_t **value, wmi_cimtype *type);

/*
 * Typed getters (IWbemClassObject::Get with a known CIMTYPE).
 * Each returns WBEM_S_NO_ERROR and stores the value; WBEM_S_FALSE when the
 * value is NULL (*out untouched); WBEM_E_NOT_FOUND for an unknown
 * property; WBEM_E_TYPE_MISMATCH when the property's CIM type does not
 * convert to the C type asked for:
 *   _sint64  any signed or unsigned integer type whose value fits
 *   _uint64  any unsigned integer type, or a signed one holding >= 0
 *   _real64  real32, real64, and any integer type
 *   _boolean boolean
 *   _string  string, char16, datetime, reference (borrowed UTF-8)
 *   _object  object: *out is a new reference to the embedded instance
 */
WMI_EXTERN wmi_status wmi_object_get_sint64(const wmi_object *obj, const char *name, int64_t *out);
WMI_EXTERN wmi_status wmi_object_get_uint64(const wmi_object *obj, const char *name, uint64_t *out);
WMI_EXTERN wmi_status wmi_object_get_real64(const wmi_object *obj, const char *name, double *out);
WMI_EXTERN wmi_status wmi_object_get_boolean(const wmi_object *obj, const char *name, bool *out);
WMI_EXTERN wmi_status wmi_object_get_string(const wmi_object *obj, const char *name, const char **out);
WMI_EXTERN wmi_status wmi_object_get_object(const wmi_object *obj, const char *name, wmi_object **out);

/*
 * Typed setters (IWbemClassObject::Put).  The object must not be shared
 * with other threads yet.  Each checks the value against the property's
 * CIM type: integers must fit the property's width and sign; strings must
 * be valid UTF-8, one character for char16, a DMTF datetime or interval
 * for datetime.  _put_object stores a copy of @value, which must be an
 * instance of the property's declared class when it has one.  _put_json
 * takes any value (arrays included) in the JSON form above and steals the
 * reference to @value.  _put_null stores NULL; a [not_null] property
 * refuses it with WBEM_E_ILLEGAL_NULL.
 * Returns WBEM_S_NO_ERROR, WBEM_E_NOT_FOUND, WBEM_E_TYPE_MISMATCH,
 * WBEM_E_ILLEGAL_NULL or WBEM_E_OUT_OF_MEMORY.
 */
WMI_EXTERN wmi_status wmi_object_put_sint64(wmi_object *obj, const char *name, int64_t value);
WMI_EXTERN wmi_status wmi_object_put_uint64(wmi_object *obj, const char *name, uint64_t value);
WMI_EXTERN wmi_status wmi_object_put_real64(wmi_object *obj, const char *name, double value);
WMI_EXTERN wmi_status wmi_object_put_boolean(wmi_object *obj, const char *name, bool value);
WMI_EXTERN wmi_status wmi_object_put_string(wmi_object *obj, const char *name, const char *value);
WMI_EXTERN wmi_status wmi_object_put_object(wmi_object *obj, const char *name, const wmi_object *value);
WMI_EXTERN wmi_status wmi_object_put_json(wmi_object *obj, const char *name, json_t *value);
WMI_EXTERN wmi_status wmi_object_put_null(wmi_object *obj, const char *name);

/*
 * wmi_object_is_set - true when the instance itself holds a value (NULL
 * included) for @name, false when the property reads through to the class
 * default or the class has no such property.
 */
WMI_EXTERN bool wmi_object_is_set(const wmi_object *obj, const char *name);

/*
 * wmi_object_get_path - the object path of an instance from its key
 * properties, as __RELPATH: Class.Key="v" (several keys comma-separated in
 * declaration order; integers bare; strings quoted with \" and \\
 * escaped), "Class=@" for a singleton.  Returns a new malloc'd string (free
 * it), or NULL when a key is NULL or the class has no key.
 */
WMI_EXTERN char *wmi_object_get_path(const wmi_object *obj);

/*
 * wmi_object_get_text - the object's MOF text (GetObjectText):
 *
 *   instance of Win32_Process
 *   {
 *   	Name = "sshd";
 *   	ProcessId = 42;
 *   };
 *
 * Set, non-NULL properties only, in class order.  Returns a new malloc'd
 * string (free it), or NULL when out of memory.
 */
WMI_EXTERN char *wmi_object_get_text(const wmi_object *obj);

/*
 * wmi_value_get_text - the MOF text of one value given in its JSON form
 * with its CIM type: strings and datetimes quoted with \" and \\ escaped,
 * char16 as 'c', booleans TRUE/FALSE, NULL as NULL, arrays as {a, b},
 * embedded objects as their "instance of" text.  Returns a new malloc'd
 * string (free it), or NULL when out of memory.  Thread-safe.
 */
WMI_EXTERN char *wmi_value_get_text(const json_t *value, wmi_cimtype type);

/* ====================================================================
 * Object paths
 * ==================================================================== */

/*
 * wmi_path_parse - split an object path ("__EventFilter.Name=\"X\"",
 * "Cls.K1=1,K2=\"a\"", "Cls=@", or with a "\\\\.\\root\\subscription:"
 * namespace prefix) into its class and a JSON object of key values.
 * *@class_name is a new malloc'd string; *@keys a new reference.  Returns
 * WBEM_S_NO_ERROR or WBEM_E_INVALID_OBJECT_PATH.
 */
WMI_EXTERN wmi_status wmi_path_parse(const char *path, char **class_name, json_t **keys);

/* ====================================================================
 * DMTF datetime
 * ==================================================================== */

/*
 * These convert between DMTF text and microseconds, with one calendar (the
 * proleptic Gregorian) and no locale or time zone of the machine: a point
 * in time is "yyyymmddHHMMSS.mmmmmmsUUU" (sUUU: the UTC offset in minutes,
 * '+' east of UTC), an interval (CIM_DATETIME with [SubType("interval")])
 * "ddddddddHHMMSS.mmmmmm:000".  All are thread-safe and allocation-free;
 * the strings are borrowed and the output buffers belong to the caller.
 */

/*
 * wmi_datetime_check - true if @s is a well-formed DMTF datetime
 * ("yyyymmddHHMMSS.mmmmmmsUUU", asterisks allowed for whole unspecified
 * fields) or interval ("ddddddddHHMMSS.mmmmmm:000").  NULL is not one.
 */
WMI_EXTERN bool wmi_datetime_check(const char *s);

/*
 * wmi_datetime_format - format @usec microseconds since the Unix epoch as
 * a DMTF datetime with UTC offset @utc_offset_min (minutes east of UTC)
 * into @buf (at least 26 bytes).  A year past 9999 keeps its last four
 * digits.  Returns @buf.
 */
WMI_EXTERN char *wmi_datetime_format(int64_t usec, int utc_offset_min, char buf[26]);

/*
 * wmi_datetime_to_usec - parse a fully specified DMTF datetime into
 * microseconds since the Unix epoch, UTC.  Returns WBEM_S_NO_ERROR or
 * WBEM_E_INVALID_PARAMETER (NULL, malformed, wildcards, an interval, or a
 * date that does not exist such as February 31); *@usec is left alone on
 * failure.
 */
WMI_EXTERN wmi_status wmi_datetime_to_usec(const char *s, int64_t *usec);

/*
 * wmi_interval_to_usec - parse a DMTF interval "ddddddddHHMMSS.mmmmmm:000"
 * into its length in microseconds.  Returns WBEM_S_NO_ERROR or
 * WBEM_E_INVALID_PARAMETER (NULL, malformed, or a point in time rather
 * than an interval); *@usec is left alone on failure.
 */
WMI_EXTERN wmi_status wmi_interval_to_usec(const char *s, int64_t *usec);

/*
 * wmi_interval_format - format a duration of @usec microseconds as a DMTF
 * interval "ddddddddHHMMSS.mmmmmm:000" into @buf (at least 26 bytes).
 * Returns @buf, or NULL when @usec is negative or longer than the longest
 * interval, 99999999 days 23:59:59.999999 (@buf is then unchanged).
 */
WMI_EXTERN char *wmi_interval_format(int64_t usec, char buf[26]);

/*
 * wmi_time_created_now - the current time as a __Event.TIME_CREATED value:
 * 100-nanosecond intervals since 1601-01-01 UTC (a Windows FILETIME).
 * Thread-safe.
 */
WMI_EXTERN uint64_t wmi_time_created_now(void);

#ifdef __cplusplus
}
#endif
#endif /* WMIEVENT_OBJECT_H */
