/*
 * fuzz_common.h - shared by the libFuzzer targets in tests/fuzz and by
 * tests/unit/test_fuzz_regressions.c and test_daemon_fuzz_sddl.c, which
 * include the targets with FUZZ_NO_MAIN defined and replay their corpora
 * (fuzz_replay.h).
 *
 * Each target defines fuzz_<name>_one(data, size) and, unless FUZZ_NO_MAIN
 * is defined, the LLVMFuzzerTestOneInput that calls it.  A broken invariant
 * (a round trip that does not agree) is a bug: FUZZ_CHECK traps.
 */
#ifndef WMIEVENT_FUZZ_COMMON_H
#define WMIEVENT_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wmievent/object.h"
#include "wmievent/template.h"
#include "wmievent/wql.h"

int fuzz_wql_one(const uint8_t *data, size_t size);
int fuzz_object_one(const uint8_t *data, size_t size);
int fuzz_template_one(const uint8_t *data, size_t size);
int fuzz_path_one(const uint8_t *data, size_t size);
int fuzz_class_one(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                           \
            __builtin_trap();                                                         \
        }                                                                             \
    } while (0)

/*
 * The classes every target sees, on top of the built-in ones: the WQL test
 * classes (tests/data/wql/schema.json), the template test classes
 * (tests/data/template/classes.json) and Fuzz_Event, which has a property
 * of every CIM type, scalar and array, plus keys of several types.  A
 * class the built-in schema already has (Win32_Process) is not redefined;
 * the events below use only the properties both definitions share.
 */
static const char fuzz_classes_json[] =
    "["
    "{\"__CLASS\": \"Win32_Process\", \"__PROPERTIES\": {"
    "  \"Handle\": {\"CIMType\": \"string\", \"Key\": true},"
    "  \"Name\": \"string\", \"ProcessId\": \"uint32\", \"CommandLine\": \"string\"}},"
    "{\"__CLASS\": \"Fuzz_Process\", \"__PROPERTIES\": {"
    "  \"Handle\": {\"CIMType\": \"string\", \"Key\": true},"
    "  \"Name\": \"string\", \"ProcessId\": \"uint32\","
    "  \"Priority\": {\"CIMType\": \"uint32\", \"Default\": 8},"
    "  \"Drives\": \"object:Tpl_Drive[]\"}},"
    "{\"__CLASS\": \"Tpl_Drive\", \"__PROPERTIES\": {\"Name\": \"string\", \"Size\": \"uint64\"}},"
    "{\"__CLASS\": \"Test_Item\", \"__PROPERTIES\": {"
    "  \"Name\": \"string\", \"Size\": \"uint64\", \"Count\": \"uint32\", \"Enabled\": \"boolean\","
    "  \"Note\": {\"CIMType\": \"string\", \"Default\": \"dflt\"}, \"Child\": \"object\"}},"
    "{\"__CLASS\": \"Test_ItemChild\", \"__SUPERCLASS\": \"Test_Item\", \"__PROPERTIES\": {"
    "  \"Extra\": \"string\"}},"
    "{\"__CLASS\": \"Test_Event\", \"__SUPERCLASS\": \"__ExtrinsicEvent\", \"__PROPERTIES\": {"
    "  \"Name\": \"string\", \"ProcessName\": \"string\","
    "  \"Severity\": {\"CIMType\": \"uint32\", \"Default\": 3},"
    "  \"Big\": \"uint64\", \"Neg\": \"sint64\", \"Small\": \"sint8\", \"U8\": \"uint8\","
    "  \"Ratio\": \"real64\", \"R32\": \"real32\", \"Flag\": \"boolean\", \"Letter\": \"char16\","
    "  \"When\": \"datetime\", \"Tags\": \"string[]\", \"Target\": \"object\","
    "  \"Item\": \"object:Test_Item\", \"Owner\": \"ref:__EventFilter\", \"Nothing\": \"string\"}},"
    "{\"__CLASS\": \"Test_SubEvent\", \"__SUPERCLASS\": \"Test_Event\", \"__PROPERTIES\": {"
    "  \"More\": \"string\"}},"
    "{\"__CLASS\": \"X\", \"__SUPERCLASS\": \"__ExtrinsicEvent\", \"__PROPERTIES\": {"
    "  \"A\": \"sint32\", \"B\": \"string\", \"C\": \"boolean\", \"D\": \"real64\", \"E\": \"string\","
    "  \"X\": \"object\"}},"
    "{\"__CLASS\": \"Fuzz_Single\", \"__QUALIFIERS\": {\"singleton\": true},"
    "  \"__PROPERTIES\": {\"V\": \"uint32\"}},"
    "{\"__CLASS\": \"Fuzz_Event\", \"__SUPERCLASS\": \"__ExtrinsicEvent\", \"__PROPERTIES\": {"
    "  \"KS\": {\"CIMType\": \"string\", \"Key\": true},"
    "  \"KU64\": {\"CIMType\": \"uint64\", \"Key\": true, \"Default\": 7},"
    "  \"KS8\": {\"CIMType\": \"sint8\", \"Key\": true, \"Default\": -1},"
    "  \"KB\": {\"CIMType\": \"boolean\", \"Key\": true, \"Default\": true},"
    "  \"KC\": {\"CIMType\": \"char16\", \"Key\": true, \"Default\": \"k\"},"
    "  \"KDT\": {\"CIMType\": \"datetime\", \"Key\": true,"
    "           \"Default\": \"20240101000000.000000+000\"},"
    "  \"KR\": {\"CIMType\": \"ref:Win32_Process\", \"Key\": true,"
    "          \"Default\": \"Win32_Process.Handle=\\\"1\\\"\"},"
    "  \"S8\": \"sint8\", \"U8\": \"uint8\", \"S16\": \"sint16\", \"U16\": \"uint16\","
    "  \"S32\": \"sint32\", \"U32\": \"uint32\", \"S64\": \"sint64\", \"U64\": \"uint64\","
    "  \"R32\": \"real32\", \"R64\": \"real64\", \"B\": \"boolean\", \"S\": \"string\","
    "  \"C\": \"char16\", \"DT\": \"datetime\","
    "  \"Ivl\": {\"CIMType\": \"datetime\", \"SubType\": \"interval\"},"
    "  \"Ref\": \"ref\", \"RefT\": \"Win32_Process ref\", \"Obj\": \"object\","
    "  \"ObjT\": \"object:Win32_Process\", \"Ev\": \"object:Fuzz_Event\","
    "  \"S8A\": \"sint8[]\", \"U8A\": \"uint8[]\", \"S16A\": \"sint16[]\", \"U16A\": \"uint16[]\","
    "  \"S32A\": \"sint32[]\", \"U32A\": \"uint32[]\", \"S64A\": \"sint64[]\", \"U64A\": \"uint64[]\","
    "  \"R32A\": \"real32[]\", \"R64A\": \"real64[]\", \"BA\": \"boolean[]\", \"SA\": \"string[]\","
    "  \"CA\": \"char16[]\", \"DTA\": \"datetime[]\", \"RefA\": \"ref[]\", \"ObjA\": \"object[]\","
    "  \"ObjTA\": \"object:Win32_Process[]\","
    "  \"NN\": {\"CIMType\": \"string\", \"not_null\": true, \"Default\": \"nn\"},"
    "  \"Tpl\": {\"CIMType\": \"string\", \"Template\": true},"
    "  \"Def\": {\"CIMType\": \"uint32[]\", \"Default\": [1, 2, 3]}}},"
    "{\"__CLASS\": \"Fuzz_SubEvent\", \"__SUPERCLASS\": \"Fuzz_Event\", \"__PROPERTIES\": {"
    "  \"More\": \"string\", \"U64\": {\"CIMType\": \"uint64\", \"Default\": \"18446744073709551615\"}}}"
    "]";

/* Events the WQL and template targets evaluate against. */
static const char *const fuzz_events_json[] = {
    "{\"__CLASS\": \"__InstanceCreationEvent\", \"TIME_CREATED\": 133000000000000000,"
    " \"TargetInstance\": {\"__CLASS\": \"Win32_Process\", \"Handle\": \"42\", \"Name\": \"sshd\","
    " \"ProcessId\": 42, \"CommandLine\": \"/usr/sbin/sshd -D\"}}",
    "{\"__CLASS\": \"Test_Event\", \"Name\": \"abc\", \"ProcessName\": \"sshd\", \"Big\": "
    "\"18446744073709551615\", \"Neg\": -9223372036854775808, \"Small\": -128, \"U8\": 255,"
    " \"Ratio\": 0.5, \"R32\": 1.5, \"Flag\": true, \"Letter\": \"\\u00e9\","
    " \"When\": \"20240229235959.999999-060\", \"Tags\": [\"a\", \"B\", \"%c\"],"
    " \"Target\": {\"__CLASS\": \"Test_ItemChild\", \"Name\": \"t\", \"Extra\": \"x\","
    "   \"Child\": {\"__CLASS\": \"Test_Item\", \"Name\": \"deep\", \"Size\": 1}},"
    " \"Item\": {\"__CLASS\": \"Test_Item\", \"Name\": \"i\", \"Count\": 4294967295},"
    " \"Owner\": \"__EventFilter.Name=\\\"F\\\"\", \"Nothing\": null}",
    "{\"__CLASS\": \"Fuzz_SubEvent\", \"KS\": \"k\\\"\\\\ey\", \"S8\": -1, \"U8\": 1, \"S16\": -300,"
    " \"U16\": 65535, \"S32\": -2147483648, \"U32\": 4294967295, \"S64\": \"-9223372036854775808\","
    " \"U64\": \"18446744073709551615\", \"R32\": 3.4e38, \"R64\": -1e-300, \"B\": false,"
    " \"S\": \"\\u00fcml\\u00e4ut [x]%_\", \"C\": \"\\u20ac\", \"DT\": \"2024****000000.000000+000\","
    " \"Ivl\": \"00000001020304.000005:000\", \"Ref\": \"Win32_Process.Handle=\\\"42\\\"\","
    " \"RefT\": \"Win32_Process=@\", \"Obj\": {\"__CLASS\": \"Fuzz_Process\", \"Name\": \"o\","
    "   \"Drives\": [{\"__CLASS\": \"Tpl_Drive\", \"Name\": \"C:\", \"Size\": 1024}]},"
    " \"S8A\": [1, -2], \"U64A\": [0, \"18446744073709551615\"], \"R64A\": [0.1, 2],"
    " \"BA\": [true], \"SA\": [], \"CA\": [\"a\", \"b\"], \"DTA\": [\"20240101000000.000000+000\"],"
    " \"RefA\": [\"A=@\"], \"ObjA\": [{\"__CLASS\": \"Tpl_Drive\", \"Name\": \"d\"}, null],"
    " \"ObjTA\": [{\"__CLASS\": \"Win32_Process\", \"Name\": \"p\"}],"
    " \"Ev\": {\"__CLASS\": \"Fuzz_Event\", \"KS\": \"inner\", \"S\": \"nested\"}, \"More\": \"m\"}",
    "{\"__CLASS\": \"X\", \"A\": 1, \"B\": \"b\", \"C\": true, \"D\": 2.5, \"E\": null,"
    " \"X\": {\"__CLASS\": \"X\", \"A\": 2, \"X\": {\"__CLASS\": \"X\", \"B\": \"deep\"}}}",
    "{\"__CLASS\": \"Win32_ProcessStartTrace\", \"ProcessName\": \"sshd\", \"ProcessID\": 4242,"
    " \"ParentProcessID\": 1}",
};

#define FUZZ_NEVENTS (sizeof fuzz_events_json / sizeof fuzz_events_json[0])

struct fuzz_world {
    wmi_schema *schema;
    wmi_object *events[FUZZ_NEVENTS];
    wmi_object *aggregate;
};

/* Built once, never freed (LeakSanitizer sees it as reachable). */
static inline const struct fuzz_world *
fuzz_world(void)
{
    static struct fuzz_world w;
    if (w.schema != NULL)
        return &w;
    json_error_t jerr;
    wmi_error err;
    w.schema = wmi_schema_new();
    json_t *classes = json_loads(fuzz_classes_json, 0, &jerr);
    if (w.schema == NULL || classes == NULL) {
        fprintf(stderr, "fuzz: classes: %s\n", jerr.text);
        abort();
    }
    /* Superclasses are not always first in the list: a few passes. */
    for (int pass = 0; pass < 4; pass++) {
        size_t i;
        json_t *def;
        json_array_foreach(classes, i, def) {
            const char *name = json_string_value(json_object_get(def, "__CLASS"));
            if (wmi_schema_get_class(w.schema, name) == NULL)
                (void)wmi_schema_add_class_json(w.schema, def, &err);
        }
    }
    size_t i;
    json_t *def;
    json_array_foreach(classes, i, def) {
        const char *name = json_string_value(json_object_get(def, "__CLASS"));
        if (wmi_schema_get_class(w.schema, name) == NULL) {
            wmi_schema_add_class_json(w.schema, def, &err);
            fprintf(stderr, "fuzz: class %s: %s\n", name, err.text);
            abort();
        }
    }
    json_decref(classes);
    for (size_t e = 0; e < FUZZ_NEVENTS; e++) {
        json_t *j = json_loads(fuzz_events_json[e], 0, &jerr);
        if (j == NULL || WMI_FAILED(wmi_object_from_json_new(w.schema, j, &w.events[e], &err))) {
            fprintf(stderr, "fuzz: event %zu: %s%s\n", e, j ? err.source : jerr.text,
                    j ? err.text : "");
            abort();
        }
    }
    if (WMI_FAILED(wmi_object_new(w.schema, "__AggregateEvent", &w.aggregate)) ||
        WMI_FAILED(wmi_object_put_uint64(w.aggregate, "NumberOfEvents", 3)) ||
        WMI_FAILED(wmi_object_put_object(w.aggregate, "Representative", w.events[1]))) {
        fprintf(stderr, "fuzz: aggregate event\n");
        abort();
    }
    return &w;
}

/* A NUL-terminated copy of the fuzzer's bytes (free it). */
static inline char *
fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        abort();
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif /* WMIEVENT_FUZZ_COMMON_H */
