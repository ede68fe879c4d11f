/*
 * test_error.c - wmi_error_set and wmi_error_setv (wmievent/status.h):
 * every field filled, the cuts, NULL arguments, and an error wrapped with
 * its own fields; and the library's errors going through them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wmievent.h"

static const char long_text[] =
    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789";

static const struct error_case {
    wmi_status status;
    const char *source;
    int line, column;
    const char *arg;          /* formatted with "why: %s" */
    const char *want_source;
    int want_line, want_column;
    size_t want_text_len;     /* strlen of the text */
} cases[] = {
    {WBEM_E_INVALID_QUERY, "query", 0, 12, "x", "query", 0, 12, 6},
    {WBEM_E_INVALID_PARAMETER, "conf.d/a.json", 3, 7, "x", "conf.d/a.json", 3, 7, 6},
    {WBEM_E_NOT_FOUND, NULL, 0, 0, "", "", 0, 0, 5},
    {WBEM_E_FAILED, "x", -4, -1, "x", "x", 0, 0, 6},
    /* The text is cut at 319 bytes, the source at 255. */
    {WBEM_E_FAILED, long_text, 1, 1, long_text, NULL, 1, 1, 319},
};

static void
test_error_set_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct error_case *c = &cases[i];
        wmi_error err;
        memset(&err, 0x5a, sizeof err);
        assert_int_equal(wmi_error_set(&err, c->status, c->source, c->line, c->column, "why: %s", c->arg),
                         c->status);
        assert_int_equal(err.status, c->status);
        assert_int_equal(err.line, c->want_line);
        assert_int_equal(err.column, c->want_column);
        if (c->want_source != NULL) {
            assert_string_equal(err.source, c->want_source);
        } else {
            assert_int_equal(strlen(err.source), sizeof err.source - 1);
            assert_memory_equal(err.source, c->source, sizeof err.source - 1);
        }
        assert_int_equal(strlen(err.text), c->want_text_len);
        assert_memory_equal(err.text, "why: ", 5);
        assert_memory_equal(err.text + 5, c->arg, c->want_text_len - 5);
    }
}

static void
test_error_set_nulls(void **state)
{
    (void)state;
    /* No struct: nothing written, the status still returned. */
    assert_int_equal(wmi_error_set(NULL, WBEM_E_FAILED, "s", 1, 2, "t"), WBEM_E_FAILED);
    wmi_error err;
    memset(&err, 0x5a, sizeof err);
    assert_int_equal(wmi_error_set(&err, WBEM_S_FALSE, NULL, 0, 0, NULL), WBEM_S_FALSE);
    assert_string_equal(err.source, "");
    assert_string_equal(err.text, "");
}

/* Wrapping an error in more context reads the fields before writing them. */
static void
test_error_set_wraps_itself(void **state)
{
    (void)state;
    wmi_error err;
    wmi_error_set(&err, WBEM_E_INVALID_CLASS, "Foo.Bar", 0, 0, "no class %s", "Foo");
    wmi_error_set(&err, err.status, "file.mof", 12, 0, "operation 3: %s: %s", err.source, err.text);
    assert_int_equal(err.status, WBEM_E_INVALID_CLASS);
    assert_string_equal(err.source, "file.mof");
    assert_int_equal(err.line, 12);
    assert_string_equal(err.text, "operation 3: Foo.Bar: no class Foo");
}

static wmi_status
wrapper(wmi_error *err, const char *fmt, ...) WMI_PRINTF_LIKE(2, 3);

static wmi_status
wrapper(wmi_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wmi_status st = wmi_error_setv(err, WBEM_E_TYPE_MISMATCH, "wrapped", 4, 5, fmt, ap);
    va_end(ap);
    return st;
}

static void
test_error_setv(void **state)
{
    (void)state;
    wmi_error err;
    assert_int_equal(wrapper(&err, "%d-%s", 42, "x"), WBEM_E_TYPE_MISMATCH);
    assert_string_equal(err.text, "42-x");
    assert_string_equal(err.source, "wrapped");
    assert_int_equal(err.line, 4);
    assert_int_equal(err.column, 5);
}

/* The library's own errors go through the helper: no stale field is left
 * from an earlier error in the same struct. */
static void
test_library_errors_fill_every_field(void **state)
{
    (void)state;
    wmi_error err;
    wmi_query *q;
    wmi_error_set(&err, WBEM_E_FAILED, "stale", 9, 9, "stale");
    wmi_status st = wmi_query_parse("SELECT * FROM", NULL, &q, &err);
    assert_true(WMI_FAILED(st));
    assert_int_equal(err.status, st);
    assert_string_equal(err.source, "");
    assert_int_equal(err.line, 0);
    assert_true(err.column > 0);
    wmi_schema *schema = wmi_schema_new();
    json_t *bad = json_pack("{ss}", "__CLASS", "No_Such_Class");
    wmi_object *o;
    wmi_error_set(&err, WBEM_E_FAILED, "stale", 9, 9, "stale");
    assert_int_equal(wmi_object_from_json(schema, bad, &o, &err), WBEM_E_INVALID_CLASS);
    assert_int_equal(err.status, WBEM_E_INVALID_CLASS);
    assert_int_equal(err.line, 0);
    assert_int_equal(err.column, 0);
    assert_string_not_equal(err.text, "stale");
    json_decref(bad);
    wmi_schema_free(schema);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_set_table),
        cmocka_unit_test(test_error_set_nulls),
        cmocka_unit_test(test_error_set_wraps_itself),
        cmocka_unit_test(test_error_setv),
        cmocka_unit_test(test_library_errors_fill_every_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
