/*
 * test_daemon_plugin.c - the plugin loader's ABI handshake: a good plugin
 * loads and initializes; a missing file, a wrong ABI, a missing entry
 * symbol and a failing initialize are each refused with the right WBEM
 * status and a message, without taking the process down.
 *
 * Plugins come from $WMI_PLUGIN_DIR (logfile.so) and $WMI_TEST_PLUGIN_DIR
 * (built from tests/plugins), both set by `make unit`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/wmieventd.h"
#include "daemon/log.h"
#include "daemon/plugins/plugins.h"

static wmi_schema *schema;
static struct wmid_settings settings;

static const char *
dir_env(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v ? v : fallback;
}

static wmi_object *
registration(void)
{
    wmi_object *reg;
    wmi_error err;
    json_t *j = json_pack("{sssss[s]}", "__CLASS", "__EventConsumerProviderRegistration", "Provider",
                          "__Win32Provider.Name=\"T\"", "ConsumerClassNames", "LogFileEventConsumer");
    assert_int_equal(wmi_object_from_json_new(schema, j, &reg, &err), WBEM_S_NO_ERROR);
    return reg;
}

/* Load @lib from @dir into a fresh provider; returns its final status. */
static wmi_status
try_load(const char *dir, const char *lib, struct wmid_provider *p)
{
    memset(p, 0, sizeof *p);
    p->name = (char *)"T";
    if (asprintf(&p->library, "%s/%s", dir, lib) < 0)
        fail();
    p->registration = registration();
    bool ok = plugin_load(p, &settings, schema);
    assert_int_equal(ok, p->loaded);
    return p->error.status;
}

static void
release(struct wmid_provider *p)
{
    plugin_unload(p);
    free(p->library);
    wmi_object_unref(p->registration);
}

static void
test_good_plugin(void **state)
{
    (void)state;
    struct wmid_provider p;
    assert_int_equal(try_load(dir_env("WMI_PLUGIN_DIR", "../../build/plugins"), "logfile.so", &p),
                     WBEM_S_NO_ERROR);
    assert_true(p.loaded);
    assert_non_null(p.cp);
    assert_non_null(p.cp->find_consumer);
    assert_int_equal(p.host.abi_major, WMI_PLUGIN_ABI_MAJOR);
    assert_ptr_equal(p.host.schema, schema);
    assert_non_null(strstr(p.error.text, "loaded"));
    release(&p);
}

static void
test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *lib;
        wmi_status status;
        const char *message;
    } cases[] = {
        {"does-not-exist.so", WBEM_E_PROVIDER_LOAD_FAILURE, "cannot load"},
        {"bad_abi.so", WBEM_E_PROVIDER_LOAD_FAILURE, "ABI"},
        {"no_entry.so", WBEM_E_PROVIDER_LOAD_FAILURE, "wmi_plugin_entry"},
        {"init_fails.so", WBEM_E_INITIALIZATION_FAILURE, "initialize failed"},
    };
    const char *dir = dir_env("WMI_TEST_PLUGIN_DIR", "../../build/tests/plugins");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct wmid_provider p;
        wmi_status st = try_load(dir, cases[i].lib, &p);
        if (st != cases[i].status || strstr(p.error.text, cases[i].message) == NULL)
            fail_msg("%s: got %s \"%s\"", cases[i].lib, wmi_status_name(st), p.error.text);
        assert_false(p.loaded);
        assert_null(p.dl);
        release(&p);
    }
}

static void
test_no_library(void **state)
{
    (void)state;
    struct wmid_provider p;
    memset(&p, 0, sizeof p);
    p.name = (char *)"T";
    assert_false(plugin_load(&p, &settings, schema));
    assert_int_equal(p.error.status, WBEM_E_INVALID_PROVIDER_REGISTRATION);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_plugin),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_no_library),
    };
    /* The loader logs one line per refusal; keep them out of the report. */
    log_init(WMI_LOG_ERR - 1, false);
    schema = wmi_schema_new();
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    wmi_schema_free(schema);
    return rc;
}
