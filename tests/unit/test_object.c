/*
 * test_object.c - the object model, schema, ISA, status names, paths and
 * datetimes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wmievent.h"

static wmi_schema *
schema_with_tour(void)
{
    wmi_schema *s = wmi_schema_new();
    wmi_error err;
    json_t *def = json_loads(
        "{\"__CLASS\": \"Tour_Event\", \"__SUPERCLASS\": \"__ExtrinsicEvent\","
        " \"__PROPERTIES\": {\"Message\": \"string\", \"Severity\": {\"CIMType\": \"uint8\", \"Default\": 3},"
        " \"Big\": \"uint64\", \"Neg\": \"sint16\", \"Ratio\": \"real64\", \"Flag\": \"boolean\", \"Small\": \"real32\","
        " \"Letter\": \"char16\", \"When\": \"datetime\", \"Owner\": \"ref:__EventFilter\","
        " \"Target\": \"object:Win32_ProcessTrace\", \"Tags\": \"string[]\", \"Any\": \"object\"}}",
        0, NULL);
    assert_non_null(def);
    assert_int_equal(wmi_schema_add_class_json(s, def, &err), WBEM_S_NO_ERROR);
    json_decref(def);
    return s;
}

static void
test_status_names(void **state)
{
    (void)state;
    assert_string_equal(wmi_status_name(0x80041017u), "WBEM_E_INVALID_QUERY");
    assert_string_equal(wmi_status_name(WBEM_S_NO_ERROR), "WBEM_S_NO_ERROR");
    assert_string_equal(wmi_status_name(WBEMESS_E_REGISTRATION_TOO_PRECISE),
                        "WBEMESS_E_REGISTRATION_TOO_PRECISE");
    assert_null(wmi_status_name(0x80049999u));
    assert_string_equal(wmi_status_message(0x80049999u), "Unknown status");
    wmi_status st;
    assert_int_equal(wmi_status_from_name("WBEM_E_TYPE_MISMATCH", &st), WBEM_S_NO_ERROR);
    assert_int_equal(st, 0x80041005u);
    assert_int_equal(wmi_status_from_name("WBEM_E_BOGUS", &st), WBEM_E_NOT_FOUND);
    assert_true(WMI_FAILED(WBEM_E_FAILED));
    assert_false(WMI_FAILED(WBEM_S_FALSE));
}

static void
test_schema_builtin_isa(void **state)
{
    (void)state;
    wmi_schema *s = wmi_schema_new();
    const wmi_class *c = wmi_schema_get_class(s, "win32_processstarttrace");
    assert_non_null(c);
    assert_string_equal(wmi_class_name(c), "Win32_ProcessStartTrace");
    assert_true(wmi_class_isa(c, "Win32_ProcessTrace"));
    assert_true(wmi_class_isa(c, "__ExtrinsicEvent"));
    assert_true(wmi_class_isa(c, "__EVENT"));
    assert_false(wmi_class_isa(c, "__InstanceOperationEvent"));
    const wmi_property *p = wmi_class_find_property(c, "processname");
    assert_non_null(p);
    assert_string_equal(p->name, "ProcessName");
    assert_int_equal(p->type, CIM_STRING);
    /* Inherited TIME_CREATED from __Event. */
    p = wmi_class_find_property(c, "TIME_CREATED");
    assert_non_null(p);
    assert_int_equal(p->type, CIM_UINT64);
    assert_string_equal(p->origin, "__Event");

    c = wmi_schema_get_class(s, "LogFileEventConsumer");
    assert_true(wmi_class_isa(c, "__EventConsumer"));
    p = wmi_class_find_property(c, "MaximumFileSize");
    assert_int_equal(p->type, CIM_UINT64);
    assert_int_equal(json_integer_value(p->default_value), 65535);
    p = wmi_class_find_property(c, "Text");
    assert_true(p->flags & WMI_PROPERTY_TEMPLATE);
    assert_true(wmi_class_find_property(c, "Name")->flags & WMI_PROPERTY_KEY);
    assert_true(wmi_class_flags(wmi_schema_get_class(s, "__EventConsumer")) & WMI_CLASS_ABSTRACT);
    assert_true(wmi_class_flags(wmi_schema_get_class(s, "__FilterToConsumerBinding")) &
                WMI_CLASS_ASSOCIATION);
    assert_true(wmi_class_flags(wmi_schema_get_class(s, "__EventSinkCacheControl")) &
                WMI_CLASS_SINGLETON);
    /* Every class the issue names is there. */
    static const char *const names[] = {
        "__ExtrinsicEvent", "__InstanceCreationEvent", "__InstanceDeletionEvent",
        "__InstanceModificationEvent", "__TimerEvent", "__SystemEvent", "__EventDroppedEvent",
        "__EventQueueOverflowEvent", "__ConsumerFailureEvent", "__AggregateEvent", "__EventFilter",
        "__Win32Provider", "__EventConsumerProviderRegistration", "__EventProviderRegistration",
        "ActiveScriptEventConsumer", "CommandLineEventConsumer", "NTEventLogEventConsumer",
        "SMTPEventConsumer", "Win32_ProcessStopTrace", "__IntervalTimerInstruction",
        "__AbsoluteTimerInstruction"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_non_null(wmi_schema_get_class(s, names[i]));
    assert_null(wmi_schema_get_class(s, "NoSuchClass"));
    wmi_schema_free(s);
}

static void
test_class_definition_errors(void **state)
{
    (void)state;
    wmi_schema *s = wmi_schema_new();
    wmi_error err;
    static const struct {
        const char *json;
        wmi_status st;
        const char *source;
    } cases[] = {
        {"{\"__CLASS\": \"A\", \"__SUPERCLASS\": \"Nope\"}", WBEM_E_INVALID_SUPERCLASS, "A"},
        {"{\"__CLASS\": \"A\", \"__PROPERTIES\": {\"X\": \"uint33\"}}", WBEM_E_INVALID_CIM_TYPE, "A.X"},
        {"{\"__CLASS\": \"A\", \"__PROPERTIES\": {\"X\": {\"CIMType\": \"uint8\", \"Default\": 300}}}",
         WBEM_E_TYPE_MISMATCH, "A.X"},
        {"{\"__CLASS\": \"A\", \"__PROPERTIES\": {\"X\": 5}}", WBEM_E_INVALID_PROPERTY_TYPE, "A.X"},
        {"{\"__PROPERTIES\": {}}", WBEM_E_INVALID_CLASS, ""},
        {"{\"__CLASS\": \"__EventFilter\"}", WBEM_E_ALREADY_EXISTS, "__EventFilter"},
        {"{\"__CLASS\": \"B\", \"__SUPERCLASS\": \"__EventFilter\", \"__PROPERTIES\": {\"Name\": \"uint32\"}}",
         WBEM_E_UPDATE_TYPE_MISMATCH, "B.Name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *def = json_loads(cases[i].json, 0, NULL);
        assert_non_null(def);
        memset(&err, 0, sizeof err);
        assert_int_equal(wmi_schema_add_class_json(s, def, &err), cases[i].st);
        assert_int_equal(err.status, cases[i].st);
        assert_string_equal(err.source, cases[i].source);
        assert_true(strlen(err.text) > 0);
        json_decref(def);
    }
    /* A subclass may give an inherited property a new default. */
    json_t *def = json_loads("{\"__CLASS\": \"MyLog\", \"__SUPERCLASS\": \"LogFileEventConsumer\","
                             " \"__PROPERTIES\": {\"MaximumFileSize\": {\"CIMType\": \"uint64\", \"Default\": 0}}}",
                             0, NULL);
    assert_int_equal(wmi_schema_add_class_json(s, def, &err), WBEM_S_NO_ERROR);
    json_decref(def);
    const wmi_property *p = wmi_class_find_property(wmi_schema_get_class(s, "MyLog"), "MaximumFileSize");
    assert_int_equal(json_integer_value(p->default_value), 0);
    p = wmi_class_find_property(wmi_schema_get_class(s, "LogFileEventConsumer"), "MaximumFileSize");
    assert_int_equal(json_integer_value(p->default_value), 65535);
    wmi_schema_free(s);
}

/* Definitions in any order go in superclass first; known classes are
 * skipped; an orphan is refused and counted while the rest still go in. */
static void
test_add_classes_any_order(void **state)
{
    (void)state;
    wmi_schema *s = wmi_schema_new();
    wmi_error err;
    size_t failed = 99;
    json_t *defs = json_loads(
        "[{\"__CLASS\": \"C_Leaf\", \"__SUPERCLASS\": \"C_Mid\"},"
        " {\"__CLASS\": \"C_Mid\", \"__SUPERCLASS\": \"C_Base\"},"
        " {\"__CLASS\": \"__EventFilter\"},"
        " {\"__CLASS\": \"C_Base\", \"__SUPERCLASS\": \"__ExtrinsicEvent\"}]",
        0, NULL);
    assert_non_null(defs);
    assert_int_equal(wmi_schema_add_classes_json(s, defs, &failed, &err), WBEM_S_NO_ERROR);
    assert_int_equal(failed, 0);
    assert_true(wmi_class_isa(wmi_schema_get_class(s, "C_Leaf"), "__ExtrinsicEvent"));
    json_decref(defs);
    defs = json_loads("[{\"__CLASS\": \"C_Orphan\", \"__SUPERCLASS\": \"C_Nowhere\"},"
                      " {\"__CLASS\": \"C_Other\", \"__SUPERCLASS\": \"C_Base\"}]",
                      0, NULL);
    assert_int_equal(wmi_schema_add_classes_json(s, defs, &failed, &err), WBEM_E_INVALID_SUPERCLASS);
    assert_int_equal(failed, 1);
    assert_string_equal(err.source, "C_Orphan");
    assert_non_null(wmi_schema_get_class(s, "C_Other"));
    assert_null(wmi_schema_get_class(s, "C_Orphan"));
    json_decref(defs);
    wmi_schema_free(s);
}

/* Qualifier flavors: what a subclass inherits, and what it may not change. */
static void
test_qualifier_flavors(void **state)
{
    (void)state;
    wmi_schema *s = wmi_schema_new();
    wmi_error err;
    size_t failed = 99;
    json_t *defs = json_loads(
        "[{\"__CLASS\": \"F_Base\", \"__QUALIFIERS\": {\"abstract\": true, \"Association\": true,"
        "   \"Fixed\": \"b\", \"Here\": \"only\", \"Open\": 1},"
        "  \"__FLAVORS\": {\"Fixed\": [\"DisableOverride\"], \"Here\": [\"Restricted\"]},"
        "  \"__PROPERTIES\": {\"Name\": {\"CIMType\": \"string\", \"Key\": true},"
        "   \"Level\": {\"CIMType\": \"uint32\", \"Units\": \"s\", \"__FLAVORS\": {\"Units\": [\"DisableOverride\"]}}}},"
        " {\"__CLASS\": \"F_Sub\", \"__SUPERCLASS\": \"F_Base\", \"__QUALIFIERS\": {\"Open\": 2, \"Fixed\": \"b\"},"
        "  \"__PROPERTIES\": {\"Level\": {\"CIMType\": \"uint32\", \"Units\": \"s\", \"Default\": 4}}}]",
        0, NULL);
    assert_non_null(defs);
    assert_int_equal(wmi_schema_add_classes_json(s, defs, &failed, &err), WBEM_S_NO_ERROR);
    json_decref(defs);
    const wmi_class *sub = wmi_schema_get_class(s, "F_Sub");
    /* ToSubclass (the default) propagates; Restricted and abstract do not. */
    assert_string_equal(json_string_value(wmi_class_qualifier(sub, "fixed")), "b");
    assert_int_equal(json_integer_value(wmi_class_qualifier(sub, "Open")), 2);
    assert_null(wmi_class_qualifier(sub, "Here"));
    assert_null(wmi_class_qualifier(sub, "abstract"));
    assert_int_equal(wmi_class_flags(sub) & (WMI_CLASS_ABSTRACT | WMI_CLASS_ASSOCIATION), WMI_CLASS_ASSOCIATION);
    /* DisableOverride: a different value is refused, on a class or a
     * property, and the flavor holds two generations down. */
    const char *bad[] = {
        "{\"__CLASS\": \"F_Bad1\", \"__SUPERCLASS\": \"F_Sub\", \"__QUALIFIERS\": {\"FIXED\": \"c\"}}",
        "{\"__CLASS\": \"F_Bad2\", \"__SUPERCLASS\": \"F_Sub\","
        " \"__PROPERTIES\": {\"level\": {\"CIMType\": \"uint32\", \"Units\": \"ms\"}}}",
    };
    const char *where[] = {"F_Bad1", "F_Bad2.level"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *d = json_loads(bad[i], 0, NULL);
        assert_non_null(d);
        assert_int_equal(wmi_schema_add_class_json(s, d, &err), WBEM_E_OVERRIDE_NOT_ALLOWED);
        assert_string_equal(err.source, where[i]);
        assert_non_null(strstr(err.text, "DisableOverride"));
        json_decref(d);
    }
    assert_null(wmi_schema_get_class(s, "F_Bad1"));
    /* A subclass cannot weaken DisableOverride with flavors of its own... */
    json_t *d = json_loads("{\"__CLASS\": \"F_Weak\", \"__SUPERCLASS\": \"F_Sub\","
                           " \"__QUALIFIERS\": {\"Fixed\": \"b\"}, \"__FLAVORS\": {\"fixed\": [\"EnableOverride\"]}}",
                           0, NULL);
    assert_int_equal(wmi_schema_add_class_json(s, d, &err), WBEM_E_OVERRIDE_NOT_ALLOWED);
    assert_non_null(strstr(err.text, "EnableOverride"));
    json_decref(d);
    /* ... and one that adds other flavors keeps it for its own subclasses. */
    d = json_loads("{\"__CLASS\": \"F_Keep\", \"__SUPERCLASS\": \"F_Sub\","
                   " \"__QUALIFIERS\": {\"Fixed\": \"b\"}, \"__FLAVORS\": {\"FIXED\": [\"ToInstance\"]}}",
                   0, NULL);
    assert_int_equal(wmi_schema_add_class_json(s, d, &err), WBEM_S_NO_ERROR);
    json_decref(d);
    d = json_loads("{\"__CLASS\": \"F_Bad3\", \"__SUPERCLASS\": \"F_Keep\", \"__QUALIFIERS\": {\"Fixed\": \"z\"}}", 0,
                   NULL);
    assert_int_equal(wmi_schema_add_class_json(s, d, &err), WBEM_E_OVERRIDE_NOT_ALLOWED);
    json_decref(d);
    wmi_schema_free(s);
}

static wmi_status
from_text(wmi_schema *s, const char *text, wmi_object **o, wmi_error *err)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    assert_non_null(j);
    return wmi_object_from_json_new(s, j, o, err);
}

static void
test_object_from_json(void **state)
{
    (void)state;
    wmi_schema *s = schema_with_tour();
    wmi_object *o;
    wmi_error err;

    assert_int_equal(from_text(s,
                               "{\"__CLASS\": \"tour_event\", \"message\": \"hi\", \"Big\": \"18446744073709551615\","
                               " \"Neg\": -5, \"Ratio\": 2, \"Flag\": true, \"Letter\": \"x\","
                               " \"When\": \"20261122093000.000000+060\", \"Owner\": \"__EventFilter.Name=\\\"F\\\"\","
                               " \"Target\": {\"__CLASS\": \"Win32_ProcessStartTrace\", \"ProcessName\": \"sshd\"},"
                               " \"Tags\": [\"a\", \"b\"], \"Any\": null, \"__PATH\": \"ignored\"}",
                               &o, &err),
                     WBEM_S_NO_ERROR);
    assert_string_equal(wmi_object_class_name(o), "Tour_Event");
    const char *str;
    assert_int_equal(wmi_object_get_string(o, "Message", &str), WBEM_S_NO_ERROR);
    assert_string_equal(str, "hi");
    /* Names are normalised to the class's spelling. */
    assert_non_null(json_object_get(wmi_object_json(o), "Message"));
    assert_null(json_object_get(wmi_object_json(o), "message"));
    assert_null(json_object_get(wmi_object_json(o), "__PATH"));
    uint64_t u;
    assert_int_equal(wmi_object_get_uint64(o, "Big", &u), WBEM_S_NO_ERROR);
    assert_true(u == UINT64_MAX);
    int64_t i;
    assert_int_equal(wmi_object_get_sint64(o, "Neg", &i), WBEM_S_NO_ERROR);
    assert_int_equal(i, -5);
    assert_int_equal(wmi_object_get_uint64(o, "Neg", &u), WBEM_E_TYPE_MISMATCH);
    double d;
    assert_int_equal(wmi_object_get_real64(o, "Ratio", &d), WBEM_S_NO_ERROR);
    assert_true(d == 2.0);
    assert_true(json_is_real(json_object_get(wmi_object_json(o), "Ratio")));
    /* Default for an unset property; NULL distinct from absent. */
    assert_int_equal(wmi_object_get_sint64(o, "Severity", &i), WBEM_S_NO_ERROR);
    assert_int_equal(i, 3);
    assert_false(wmi_object_is_set(o, "Severity"));
    assert_true(wmi_object_is_set(o, "Any"));
    wmi_object *any;
    assert_int_equal(wmi_object_get_object(o, "Any", &any), WBEM_S_FALSE);
    assert_int_equal(wmi_object_get_string(o, "Nope", &str), WBEM_E_NOT_FOUND);
    assert_int_equal(wmi_object_get_string(o, "Neg", &str), WBEM_E_TYPE_MISMATCH);
    wmi_object *t;
    assert_int_equal(wmi_object_get_object(o, "Target", &t), WBEM_S_NO_ERROR);
    assert_true(wmi_object_isa(t, "Win32_ProcessTrace"));
    assert_int_equal(wmi_object_get_string(t, "ProcessName", &str), WBEM_S_NO_ERROR);
    assert_string_equal(str, "sshd");
    wmi_object_unref(t);

    /* JSON round trip. */
    char *dump = json_dumps(wmi_object_json(o), JSON_COMPACT);
    wmi_object *o2;
    assert_int_equal(from_text(s, dump, &o2, &err), WBEM_S_NO_ERROR);
    assert_true(json_equal(wmi_object_json(o), wmi_object_json(o2)));
    free(dump);
    json_t *full = wmi_object_to_json(o2);
    assert_int_equal(json_integer_value(json_object_get(full, "Severity")), 3);
    assert_true(json_is_null(json_object_get(full, "Any")));
    assert_true(json_is_null(json_object_get(full, "SECURITY_DESCRIPTOR")));
    json_decref(full);
    wmi_object_unref(o2);
    wmi_object_unref(o);
    wmi_schema_free(s);
}

static void
test_object_bad_json(void **state)
{
    (void)state;
    wmi_schema *s = schema_with_tour();
    wmi_object *o;
    wmi_error err;
    static const struct {
        const char *json;
        wmi_status st;
        const char *source;
    } cases[] = {
        {"{\"Message\": \"x\"}", WBEM_E_INVALID_OBJECT, ""},
        {"[1]", WBEM_E_INVALID_OBJECT, ""},
        {"{\"__CLASS\": \"Nope\"}", WBEM_E_INVALID_CLASS, "__CLASS"},
        {"{\"__CLASS\": \"__Event\"}", WBEM_E_INVALID_CLASS, "__CLASS"},
        {"{\"__CLASS\": \"Tour_Event\", \"Colour\": 1}", WBEM_E_NOT_FOUND, "Colour"},
        {"{\"__CLASS\": \"Tour_Event\", \"Severity\": \"high\"}", WBEM_E_TYPE_MISMATCH, "Severity"},
        {"{\"__CLASS\": \"Tour_Event\", \"Severity\": 256}", WBEM_E_TYPE_MISMATCH, "Severity"},
        {"{\"__CLASS\": \"Tour_Event\", \"Neg\": 40000}", WBEM_E_TYPE_MISMATCH, "Neg"},
        {"{\"__CLASS\": \"Tour_Event\", \"Big\": -1}", WBEM_E_TYPE_MISMATCH, "Big"},
        {"{\"__CLASS\": \"Tour_Event\", \"Small\": 1e39}", WBEM_E_TYPE_MISMATCH, "Small"},
        {"{\"__CLASS\": \"Tour_Event\", \"Small\": \"-4e38\"}", WBEM_E_TYPE_MISMATCH, "Small"},
        {"{\"__CLASS\": \"Tour_Event\", \"Flag\": 1}", WBEM_E_TYPE_MISMATCH, "Flag"},
        {"{\"__CLASS\": \"Tour_Event\", \"Letter\": \"xy\"}", WBEM_E_TYPE_MISMATCH, "Letter"},
        {"{\"__CLASS\": \"Tour_Event\", \"When\": \"yesterday\"}", WBEM_E_TYPE_MISMATCH, "When"},
        {"{\"__CLASS\": \"Tour_Event\", \"When\": \"20261322093000.000000+060\"}", WBEM_E_TYPE_MISMATCH, "When"},
        {"{\"__CLASS\": \"Tour_Event\", \"Owner\": \"not a path\"}", WBEM_E_TYPE_MISMATCH, "Owner"},
        {"{\"__CLASS\": \"Tour_Event\", \"Owner\": \"LogFileEventConsumer.Name=\\\"x\\\"\"}",
         WBEM_E_TYPE_MISMATCH, "Owner"},
        {"{\"__CLASS\": \"Tour_Event\", \"Tags\": [\"a\", 2]}", WBEM_E_TYPE_MISMATCH, "Tags[1]"},
        {"{\"__CLASS\": \"Tour_Event\", \"Tags\": \"a\"}", WBEM_E_TYPE_MISMATCH, "Tags"},
        {"{\"__CLASS\": \"Tour_Event\", \"Target\": {\"__CLASS\": \"Tour_Event\"}}", WBEM_E_TYPE_MISMATCH,
         "Target"},
        {"{\"__CLASS\": \"Tour_Event\", \"Target\": {\"__CLASS\": \"Win32_ProcessStartTrace\", \"ProcessID\": \"x\"}}",
         WBEM_E_TYPE_MISMATCH, "Target.ProcessID"},
        {"{\"__CLASS\": \"Tour_Event\", \"Any\": {\"Name\": 1}}", WBEM_E_INVALID_OBJECT, "Any"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&err, 0, sizeof err);
        o = (wmi_object *)1;
        wmi_status st = from_text(s, cases[i].json, &o, &err);
        if (st != cases[i].st || strcmp(err.source, cases[i].source) != 0)
            fail_msg("case %zu %s: got %s source '%s' (%s)", i, cases[i].json, wmi_status_name(st),
                     err.source, err.text);
        assert_null(o);
    }
    /* Nesting deeper than WMI_MAX_OBJECT_NESTING is refused, not recursed. */
    json_t *deep = json_pack("{ss}", "__CLASS", "Tour_Event");
    for (int k = 0; k < WMI_MAX_OBJECT_NESTING + 5; k++)
        deep = json_pack("{ssso}", "__CLASS", "Tour_Event", "Any", deep);
    assert_int_equal(wmi_object_from_json_new(s, deep, &o, &err), WBEM_E_INVALID_OBJECT);
    wmi_schema_free(s);
}

static void
test_object_put(void **state)
{
    (void)state;
    wmi_schema *s = schema_with_tour();
    wmi_object *o;
    assert_int_equal(wmi_object_new(s, "Tour_Event", &o), WBEM_S_NO_ERROR);
    wmi_object_unref(o);
    assert_int_equal(wmi_object_new(s, "__EventConsumer", &o), WBEM_E_INVALID_CLASS);
    assert_null(o);
    assert_int_equal(wmi_object_new(s, "Tour_Event", &o), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_object_put_uint64(o, "Severity", 7), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_object_put_uint64(o, "Severity", 700), WBEM_E_TYPE_MISMATCH);
    assert_int_equal(wmi_object_put_sint64(o, "Severity", -1), WBEM_E_TYPE_MISMATCH);
    assert_int_equal(wmi_object_put_string(o, "Severity", "x"), WBEM_E_TYPE_MISMATCH);
    assert_int_equal(wmi_object_put_string(o, "Missing", "x"), WBEM_E_NOT_FOUND);
    assert_int_equal(wmi_object_put_uint64(o, "Big", UINT64_MAX), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_object_put_real64(o, "Ratio", 0.5), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_object_put_boolean(o, "Flag", true), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_object_put_string(o, "When", "bad"), WBEM_E_TYPE_MISMATCH);
    assert_int_equal(wmi_object_put_string(o, "Message", "a \"quoted\" word"), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_object_put_json(o, "Tags", json_pack("[ss]", "x", "y")), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_object_put_null(o, "Message"), WBEM_S_NO_ERROR);
    assert_true(wmi_object_is_set(o, "Message"));
    const char *str = "unchanged";
    assert_int_equal(wmi_object_get_string(o, "Message", &str), WBEM_S_FALSE);
    assert_string_equal(str, "unchanged");
    uint64_t u;
    assert_int_equal(wmi_object_get_uint64(o, "Severity", &u), WBEM_S_NO_ERROR);
    assert_true(u == 7);
    wmi_object *t;
    assert_int_equal(wmi_object_new(s, "Win32_ProcessStartTrace", &t), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_object_put_string(t, "ProcessName", "bash"), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_object_put_object(o, "Target", t), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_object_put_object(o, "Owner", t), WBEM_E_TYPE_MISMATCH);
    wmi_object *f;
    assert_int_equal(wmi_object_new(s, "__EventFilter", &f), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_object_put_null(f, "Query"), WBEM_E_ILLEGAL_NULL);
    wmi_object_unref(f);

    char *text = wmi_object_get_text(o);
    assert_non_null(strstr(text, "instance of Tour_Event\n{\n"));
    assert_non_null(strstr(text, "\tSeverity = 7;\n"));
    assert_non_null(strstr(text, "\tBig = 18446744073709551615;\n"));
    assert_non_null(strstr(text, "\tTags = {\"x\", \"y\"};\n"));
    assert_non_null(strstr(text, "\tTarget = instance of Win32_ProcessStartTrace\n\t{\n\t\tProcessName = \"bash\";\n\t};\n"));
    assert_null(strstr(text, ";;"));
    assert_null(strstr(text, "Message"));
    free(text);
    wmi_object_unref(t);
    wmi_object_unref(o);
    wmi_schema_free(s);
}

static void
test_paths(void **state)
{
    (void)state;
    wmi_schema *s = wmi_schema_new();
    wmi_object *o;
    wmi_error err;
    assert_int_equal(from_text(s, "{\"__CLASS\": \"__EventFilter\", \"Name\": \"a\\\"b\", \"Query\": \"q\","
                                  " \"QueryLanguage\": \"WQL\"}", &o, &err),
                     WBEM_S_NO_ERROR);
    char *path = wmi_object_get_path(o);
    assert_string_equal(path, "__EventFilter.Name=\"a\\\"b\"");
    char *cn;
    json_t *keys;
    assert_int_equal(wmi_path_parse(path, &cn, &keys), WBEM_S_NO_ERROR);
    assert_string_equal(cn, "__EventFilter");
    assert_string_equal(json_string_value(json_object_get(keys, "Name")), "a\"b");
    free(cn);
    json_decref(keys);
    free(path);
    wmi_object_unref(o);

    assert_int_equal(wmi_path_parse("\\\\.\\root\\subscription:__FilterToConsumerBinding.Consumer=\"X.Name=\\\"c\\\"\",Filter=\"F\"",
                                    &cn, &keys), WBEM_S_NO_ERROR);
    assert_string_equal(cn, "__FilterToConsumerBinding");
    assert_string_equal(json_string_value(json_object_get(keys, "Consumer")), "X.Name=\"c\"");
    free(cn);
    json_decref(keys);
    assert_int_equal(wmi_path_parse("Disk.Id=42,On=TRUE", &cn, &keys), WBEM_S_NO_ERROR);
    assert_int_equal(json_integer_value(json_object_get(keys, "Id")), 42);
    assert_true(json_is_true(json_object_get(keys, "On")));
    free(cn);
    json_decref(keys);
    assert_int_equal(wmi_path_parse("__EventSinkCacheControl=@", &cn, &keys), WBEM_S_NO_ERROR);
    free(cn);
    json_decref(keys);
    static const char *const bad[] = {"", ".Name=\"x\"", "A.Name=\"x", "A.=1", "A.B", "A.B=1,", "A B"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(wmi_path_parse(bad[i], &cn, &keys), WBEM_E_INVALID_OBJECT_PATH);
    wmi_schema_free(s);
}

static void
test_datetime(void **state)
{
    (void)state;
    assert_true(wmi_datetime_check("19980416135809.000000-300"));
    assert_true(wmi_datetime_check("****0401******.000000+***"));
    assert_true(wmi_datetime_check("00000001000000.000000:000"));
    assert_false(wmi_datetime_check("19980416135809.000000-30"));
    assert_false(wmi_datetime_check("19981316135809.000000-300"));
    assert_false(wmi_datetime_check("1998041613580*.000000-300"));
    assert_false(wmi_datetime_check("00000001250000.000000:000"));
    int64_t us;
    assert_int_equal(wmi_datetime_to_usec("19700101000000.000001+000", &us), WBEM_S_NO_ERROR);
    assert_true(us == 1);
    /* 13:58:09 at UTC-5 is 18:58:09 UTC. */
    int64_t us2;
    assert_int_equal(wmi_datetime_to_usec("19980416185809.000000+000", &us), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_datetime_to_usec("19980416135809.000000-300", &us2), WBEM_S_NO_ERROR);
    assert_true(us == us2);
    char buf[26];
    assert_string_equal(wmi_datetime_format(us, -300, buf), "19980416135809.000000-300");
    assert_string_equal(wmi_datetime_format(us, 0, buf), "19980416185809.000000+000");
    assert_int_equal(wmi_datetime_to_usec("****0401******.000000+***", &us), WBEM_E_INVALID_PARAMETER);
    /* Days that do not exist are not rolled into the next month. */
    assert_int_equal(wmi_datetime_to_usec("20230231120000.000000+000", &us), WBEM_E_INVALID_PARAMETER);
    assert_int_equal(wmi_datetime_to_usec("20230431120000.000000+000", &us), WBEM_E_INVALID_PARAMETER);
    assert_int_equal(wmi_datetime_to_usec("20240229120000.000000+000", &us), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_datetime_to_usec("20230229120000.000000+000", &us), WBEM_E_INVALID_PARAMETER);
    uint64_t now = wmi_time_created_now();
    assert_true(now > 133000000000000000ull); /* after 2022 */
}

static void
test_cimtype_names(void **state)
{
    (void)state;
    wmi_cimtype t;
    assert_string_equal(wmi_cimtype_name(CIM_UINT32), "uint32");
    assert_string_equal(wmi_cimtype_name((wmi_cimtype)(CIM_UINT8 | CIM_FLAG_ARRAY)), "uint8[]");
    assert_null(wmi_cimtype_name((wmi_cimtype)999));
    assert_int_equal(wmi_cimtype_from_name("DateTime", &t), WBEM_S_NO_ERROR);
    assert_int_equal(t, CIM_DATETIME);
    assert_int_equal(wmi_cimtype_from_name("string[]", &t), WBEM_S_NO_ERROR);
    assert_int_equal(t, CIM_STRING | CIM_FLAG_ARRAY);
    assert_int_equal(wmi_cimtype_from_name("int", &t), WBEM_E_INVALID_CIM_TYPE);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_names),     cmocka_unit_test(test_schema_builtin_isa),
        cmocka_unit_test(test_class_definition_errors), cmocka_unit_test(test_object_from_json),
        cmocka_unit_test(test_object_bad_json),  cmocka_unit_test(test_object_put),
        cmocka_unit_test(test_paths),            cmocka_unit_test(test_datetime),
        cmocka_unit_test(test_cimtype_names),    cmocka_unit_test(test_add_classes_any_order),
        cmocka_unit_test(test_qualifier_flavors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
