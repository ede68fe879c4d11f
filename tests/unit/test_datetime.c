/*
 * test_datetime.c - the one DMTF datetime converter (src/lib/datetime.c):
 * the internal reader that the WQL evaluator uses and the exported
 * functions of object.h, driven by tables of cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "lib/datetime.h"
#include "wmievent.h"

/* One text, what the reader makes of it and what the exported parsers say. */
static const struct read_case {
    const char *text;
    wmi__dmtf_kind kind;
    int64_t usec;          /* for ABS and INTERVAL */
    bool exists;           /* for ABS */
} read_cases[] = {
    {"19700101000000.000001+000", WMI__DMTF_ABS, 1, true},
    {"19980416135809.000000-300", WMI__DMTF_ABS, INT64_C(892753089000000), true},
    {"19980416185809.000000+000", WMI__DMTF_ABS, INT64_C(892753089000000), true},
    {"19691231235959.999999+000", WMI__DMTF_ABS, -1, true},
    {"00000101000000.000000+000", WMI__DMTF_ABS, INT64_C(-62167219200000000), true},
    {"20240229120000.000000+000", WMI__DMTF_ABS, INT64_C(1709208000000000), true},
    /* A day past the month's end or a leap second rolls over for WQL, but
     * is no moment for wmi_datetime_to_usec. */
    {"20230229120000.000000+000", WMI__DMTF_ABS, INT64_C(1677672000000000), false},
    {"20230101000060.000000+000", WMI__DMTF_ABS, INT64_C(1672531260000000), false},
    {"****0401******.000000+***", WMI__DMTF_WILD, 0, false},
    {"00000001000000.000000:000", WMI__DMTF_INTERVAL, INT64_C(86400000000), false},
    {"00000000000030.500000:000", WMI__DMTF_INTERVAL, 30500000, false},
    {"99999999235959.999999:000", WMI__DMTF_INTERVAL, INT64_C(8639999999999999999), false},
    {"19980416135809.000000-30", WMI__DMTF_NONE, 0, false},
    {"19981316135809.000000-300", WMI__DMTF_NONE, 0, false},
    {"19980016135809.000000-300", WMI__DMTF_NONE, 0, false},
    {"19980432135809.000000-300", WMI__DMTF_NONE, 0, false},
    {"1998041613580*.000000-300", WMI__DMTF_NONE, 0, false},
    {"19980416135809.000000*300", WMI__DMTF_NONE, 0, false},
    {"00000001250000.000000:000", WMI__DMTF_NONE, 0, false},
    {"0000000*000000.000000:000", WMI__DMTF_NONE, 0, false},
    {"00000001000000.000000:001", WMI__DMTF_NONE, 0, false},
    {"00000001000000,000000:000", WMI__DMTF_NONE, 0, false},
    {"", WMI__DMTF_NONE, 0, false},
};

static void
test_read_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof read_cases / sizeof read_cases[0]; i++) {
        const struct read_case *c = &read_cases[i];
        wmi__dmtf d;
        bool ok = wmi__dmtf_read(c->text, strlen(c->text), &d);
        assert_int_equal(ok, c->kind != WMI__DMTF_NONE);
        assert_int_equal(d.kind, c->kind);
        assert_int_equal(d.usec, c->kind == WMI__DMTF_WILD ? 0 : c->usec);
        assert_int_equal(d.exists, c->exists);
        assert_int_equal(wmi_datetime_check(c->text), ok);
        int64_t us = 42;
        bool moment = c->kind == WMI__DMTF_ABS && c->exists;
        assert_int_equal(wmi_datetime_to_usec(c->text, &us),
                         moment ? WBEM_S_NO_ERROR : WBEM_E_INVALID_PARAMETER);
        assert_int_equal(us, moment ? c->usec : 42);
        us = 42;
        bool interval = c->kind == WMI__DMTF_INTERVAL;
        assert_int_equal(wmi_interval_to_usec(c->text, &us),
                         interval ? WBEM_S_NO_ERROR : WBEM_E_INVALID_PARAMETER);
        assert_int_equal(us, interval ? c->usec : 42);
    }
    assert_false(wmi_datetime_check(NULL));
}

/* The reader needs no NUL: it reads exactly the bytes it is given. */
static void
test_read_counted(void **state)
{
    (void)state;
    static const char text[] = "19700101000000.000001+000TRAILING";
    wmi__dmtf d;
    assert_true(wmi__dmtf_read(text, 25, &d));
    assert_int_equal(d.usec, 1);
    assert_false(wmi__dmtf_read(text, 26, &d));
    assert_false(wmi__dmtf_read(text, 24, &d));
}

static const struct format_case {
    int64_t usec;
    int offset_min;
    const char *text;
} format_cases[] = {
    {0, 0, "19700101000000.000000+000"},
    {-1, 0, "19691231235959.999999+000"},
    {INT64_C(892753089000000), -300, "19980416135809.000000-300"},
    {INT64_C(892753089000000), 0, "19980416185809.000000+000"},
    {INT64_C(892753089123456), 330, "19980417002809.123456+330"},
    {INT64_C(1709208000000000), 0, "20240229120000.000000+000"},
    {INT64_C(-62167219200000000), 0, "00000101000000.000000+000"},
};

static void
test_format_table(void **state)
{
    (void)state;
    char buf[26];
    for (size_t i = 0; i < sizeof format_cases / sizeof format_cases[0]; i++) {
        const struct format_case *c = &format_cases[i];
        assert_string_equal(wmi_datetime_format(c->usec, c->offset_min, buf), c->text);
        int64_t back = 0;
        assert_int_equal(wmi_datetime_to_usec(buf, &back), WBEM_S_NO_ERROR);
        assert_int_equal(back, c->usec);
    }
}

/* The calendar arithmetic agrees with the C library's gmtime_r over a wide
 * sweep of moments, both signs and leap years included. */
static void
test_format_matches_gmtime(void **state)
{
    (void)state;
    char buf[26], want[64];
    for (int64_t secs = INT64_C(-62135596800); secs < INT64_C(253402300800); secs += INT64_C(7777777)) {
        time_t t = (time_t)secs;
        struct tm tm;
        assert_non_null(gmtime_r(&t, &tm));
        snprintf(want, sizeof want, "%04d%02d%02d%02d%02d%02d.000007+000", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        assert_string_equal(wmi_datetime_format(secs * 1000000 + 7, 0, buf), want);
    }
}

static const struct interval_case {
    int64_t usec;
    const char *text;    /* NULL: out of range */
} interval_cases[] = {
    {0, "00000000000000.000000:000"},
    {100000, "00000000000000.100000:000"},
    {INT64_C(30000000), "00000000000030.000000:000"},
    {INT64_C(90061000001), "00000001010101.000001:000"},
    {INT64_C(8639999999999999999), "99999999235959.999999:000"},
    {INT64_C(8640000000000000000), NULL},
    {-1, NULL},
};

static void
test_interval_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof interval_cases / sizeof interval_cases[0]; i++) {
        const struct interval_case *c = &interval_cases[i];
        char buf[26] = "unchanged";
        char *r = wmi_interval_format(c->usec, buf);
        if (c->text == NULL) {
            assert_null(r);
            assert_string_equal(buf, "unchanged");
            continue;
        }
        assert_ptr_equal(r, buf);
        assert_string_equal(buf, c->text);
        int64_t back = -1;
        assert_int_equal(wmi_interval_to_usec(buf, &back), WBEM_S_NO_ERROR);
        assert_int_equal(back, c->usec);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_table),   cmocka_unit_test(test_read_counted),
        cmocka_unit_test(test_format_table), cmocka_unit_test(test_format_matches_gmtime),
        cmocka_unit_test(test_interval_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
