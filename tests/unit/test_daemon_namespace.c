/*
 * test_daemon_namespace.c - namespace names, paths that name one, and the
 * namespaces of a load (namespace.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/wmieventd.h"
#include "daemon/config/config.h"

static void
check_normalize(const char *in, const char *want)
{
    char *got = ns_normalize(in);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void
test_normalize(void **state)
{
    (void)state;
    check_normalize("\\\\.\\root\\subscription", "root\\subscription");
    check_normalize("//./ROOT/CIMv2/", "root\\cimv2");
    check_normalize("\\\\localhost\\root\\Default", "root\\default");
    /* Another machine's namespace is none of ours. */
    check_normalize("\\\\otherhost\\root\\cimv2", "\\\\otherhost\\root\\cimv2");
    char *remote = ns_normalize("//otherhost/root/cimv2");
    assert_false(ns_is_valid(remote));
    free(remote);
    check_normalize("\\root\\x\\\\", "root\\x");
    check_normalize("root", "root");
    assert_null(ns_normalize(NULL));
}

static void
test_valid(void **state)
{
    (void)state;
    assert_true(ns_is_valid("root"));
    assert_true(ns_is_valid("root\\cimv2\\app"));
    assert_false(ns_is_valid("cimv2"));
    assert_false(ns_is_valid("rooted\\x"));
    assert_false(ns_is_valid("root\\\\x"));
    assert_false(ns_is_valid("root\\x:y"));
    assert_false(ns_is_valid("root\\a.b"));
    assert_false(ns_is_valid(""));
    assert_false(ns_is_valid(NULL));
    /* At most WMID_NS_MAX bytes. */
    char longest[WMID_NS_MAX + 2];
    memcpy(longest, "root\\", 5);
    memset(longest + 5, 'x', sizeof longest - 6);
    longest[WMID_NS_MAX] = '\0';
    assert_true(ns_is_valid(longest));
    longest[WMID_NS_MAX] = 'x';
    longest[WMID_NS_MAX + 1] = '\0';
    assert_false(ns_is_valid(longest));
}

static void
test_split_and_qualify(void **state)
{
    (void)state;
    char *ns = NULL;
    const char *rel = ns_split_path("\\\\.\\root\\CIMV2:Win32_Process.Handle=\"1\"", &ns);
    assert_string_equal(ns, "root\\cimv2");
    assert_string_equal(rel, "Win32_Process.Handle=\"1\"");
    free(ns);
    /* A ':' inside a key value is no namespace. */
    rel = ns_split_path("__EventFilter.Name=\"a:b\"", &ns);
    assert_null(ns);
    assert_string_equal(rel, "__EventFilter.Name=\"a:b\"");
    rel = ns_split_path("Win32_OperatingSystem=@", &ns);
    assert_null(ns);
    assert_string_equal(rel, "Win32_OperatingSystem=@");
    assert_null(ns_split_path(NULL, &ns));

    char *q = ns_qualify("root\\subscription", "__EventFilter.Name=\"x\"");
    assert_string_equal(q, "__EventFilter.Name=\"x\"");
    free(q);
    q = ns_qualify("root\\cimv2", "__EventFilter.Name=\"x\"");
    assert_string_equal(q, "root\\cimv2:__EventFilter.Name=\"x\"");
    free(q);
}

static void
test_declare(void **state)
{
    (void)state;
    struct wmid_objects o;
    wmi_error err;
    memset(&o, 0, sizeof o);
    assert_true(ns_init(&o));
    assert_true(ns_exists(o.namespaces, "ROOT\\CIMV2"));
    assert_false(ns_exists(o.namespaces, "root\\app"));
    /* A child declared before its parent, in one batch, is fine. */
    json_t *list = json_pack("[{ssssss}{ssssss}]", "Parent", "root\\app", "Name", "Sub", "Origin", "f: object 1",
                             "Parent", "root", "Name", "App", "Origin", "f: object 0");
    assert_true(ns_declare(&o, list, &err));
    assert_true(ns_exists(o.namespaces, "root\\app\\sub"));
    json_decref(list);
    /* One that exists (a base one, or declared before) is a record of it. */
    list = json_pack("[{ssssss}{ssssss}]", "Parent", "root", "Name", "app", "Origin", "g: object 2", "Parent",
                     "root", "Name", "CIMV2", "Origin", "g: object 3");
    assert_true(ns_declare(&o, list, &err));
    json_decref(list);
    /* A bad name, a missing parent: refused, naming the object. */
    list = json_pack("[{ssssss}]", "Parent", "root", "Name", "a\\b", "Origin", "g: object 3");
    assert_false(ns_declare(&o, list, &err));
    assert_int_equal(err.status, WBEM_E_INVALID_NAMESPACE);
    json_decref(list);
    list = json_pack("[{ssssss}]", "Parent", "root\\none", "Name", "x", "Origin", "g: object 4");
    assert_false(ns_declare(&o, list, &err));
    assert_int_equal(err.status, WBEM_E_INVALID_NAMESPACE);
    assert_string_equal(err.source, "g: object 4");
    assert_non_null(strstr(err.text, "root\\none does not exist"));
    json_decref(list);
    /* Class homes: a built-in class is in every namespace. */
    assert_true(ns_set_class_home(&o, "App_Event", "root\\app"));
    assert_true(ns_class_in(o.class_ns, "APP_EVENT", "root\\app"));
    assert_false(ns_class_in(o.class_ns, "App_Event", "root\\subscription"));
    assert_true(ns_class_in(o.class_ns, "__EventFilter", "root\\app"));
    assert_string_equal(ns_class_home(o.class_ns, "app_event"), "root\\app");
    config_free_objects(&o);
}

int
main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_split_and_qualify),
        cmocka_unit_test(test_declare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
