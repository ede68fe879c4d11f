/*
 * test_daemon_config.c - loading the daemon config, driven by the cases in
 * tests/data/config/, and the plugin handshake.
 *
 * Every directory tests/data/config/<case>/ holds a wmieventd.json (with
 * relative paths), usually a conf.d/ of object files, and an `expected`
 * file: its first line is OK or the name of the WBEM status the load must
 * fail with; every further non-empty line is a substring the error message
 * must contain (file, object, property, line:column).  Each case runs
 * config_load_settings, config_load_objects and router_new (without a
 * delivery engine), the same path as `wmieventd -n`; the message checked
 * is formatted as wmieventd prints it:
 *
 *   SOURCE:LINE:COLUMN: TEXT (STATUS)      or      SOURCE: TEXT (STATUS)
 *
 * tests/integration/run.py runs the same cases through `wmieventd -n`.
 *
 * test_router_providers loads the case valid_plugins with its plugin_dir
 * pointed at the test plugins of tests/plugins/ ($WMI_TEST_PLUGIN_DIR) and
 * checks, through router_load_providers and the Stats JSON, that every
 * unusable provider is recorded with its status while the good one loads.
 * (The handshake itself, plugin by plugin, is test_daemon_plugin.c.)
 *
 * Run with the working directory tests/unit (as `make unit` does).
 */
#include <dirent.h>
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
#include "daemon/engine/engine.h"
#include "daemon/log.h"
#include "daemon/providers/providers.h"

#define CASES_DIR "../data/config"

/* ====================================================================
 * Data-driven cases
 * ==================================================================== */

struct config_case {
    char name[256];
    char expected_status[128];
    char **substrings;
    size_t nsubstrings;
};

static char *
read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    int ch;
    while (mem != NULL && (ch = fgetc(f)) != EOF)
        fputc(ch, mem);
    if (mem != NULL)
        fclose(mem);
    fclose(f);
    return buf;
}

/* The error as `wmieventd -n` prints it (main.c print_config_error). */
static void
format_error(char *buf, size_t len, const wmi_error *err)
{
    const char *name = wmi_status_name(err->status);
    if (err->line > 0)
        snprintf(buf, len, "%s:%d:%d: %s (%s)", err->source, err->line, err->column, err->text,
                 name ? name : "error");
    else
        snprintf(buf, len, "%s: %s (%s)", err->source, err->text, name ? name : "error");
}

/* Load a case the way wmieventd -n does.  On success the caller owns
 * *s, *o and the router (NULL router means failure, @err set). */
static struct wmid_router *
load_case(const char *settings_path, struct wmid_settings *s, struct wmid_objects *o, wmi_error *err,
          const char *plugin_dir_override)
{
    memset(err, 0, sizeof *err);
    if (!config_load_settings(settings_path, s, err))
        return NULL;
    if (plugin_dir_override != NULL) {
        free(s->plugin_dir);
        s->plugin_dir = strdup(plugin_dir_override);
    }
    if (!config_load_objects(s->object_dir, o, err)) {
        config_free_settings(s);
        return NULL;
    }
    static const struct wmid_router_hooks hooks = {.check_filter = intrinsic_check_filter,
                                                  .within_has_effect = intrinsic_within_has_effect};
    struct wmid_router *r = router_new(o, s, NULL, &hooks, err);
    if (r != NULL && !timers_check(o, err)) {
        /* wmieventd -n checks the timer instructions after the router. */
        router_free(r);
        r = NULL;
    }
    if (r == NULL) {
        config_free_objects(o);
        config_free_settings(s);
    }
    return r;
}

static void
test_config_case(void **state)
{
    const struct config_case *c = *state;
    char path[512], msg[2048];
    struct wmid_settings s;
    struct wmid_objects o;
    wmi_error err;

    snprintf(path, sizeof path, "%s/%s/wmieventd.json", CASES_DIR, c->name);
    struct wmid_router *r = load_case(path, &s, &o, &err, NULL);
    if (strcmp(c->expected_status, "OK") == 0) {
        if (r == NULL) {
            format_error(msg, sizeof msg, &err);
            fail_msg("case %s: expected OK, got: %s", c->name, msg);
        }
        assert_true(o.ninstances > 0);
        router_free(r);
        config_free_objects(&o);
        config_free_settings(&s);
        return;
    }
    if (r != NULL) {
        router_free(r);
        config_free_objects(&o);
        config_free_settings(&s);
        fail_msg("case %s: expected %s, but the config loaded", c->name, c->expected_status);
    }
    format_error(msg, sizeof msg, &err);
    const char *got = wmi_status_name(err.status);
    if (got == NULL || strcmp(got, c->expected_status) != 0)
        fail_msg("case %s: expected %s, got %s: %s", c->name, c->expected_status, got ? got : "?", msg);
    for (size_t i = 0; i < c->nsubstrings; i++)
        if (strstr(msg, c->substrings[i]) == NULL)
            fail_msg("case %s: the error does not mention \"%s\": %s", c->name, c->substrings[i], msg);
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(((const struct config_case *)a)->name, ((const struct config_case *)b)->name);
}

/* Read every case dir; returns the number of cases (0 on error). */
static size_t
load_cases(struct config_case **out)
{
    DIR *d = opendir(CASES_DIR);
    if (d == NULL) {
        fprintf(stderr, "test_daemon_config: cannot open %s (run from tests/unit)\n", CASES_DIR);
        return 0;
    }
    struct config_case *cases = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char path[600];
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s/expected", CASES_DIR, de->d_name);
        char *text = read_file(path);
        if (text == NULL)
            continue;
        struct config_case *nc = realloc(cases, (n + 1) * sizeof *nc);
        if (nc == NULL) {
            free(text);
            break;
        }
        cases = nc;
        struct config_case *c = &cases[n++];
        memset(c, 0, sizeof *c);
        snprintf(c->name, sizeof c->name, "%s", de->d_name);
        char *save = NULL;
        bool first = true;
        for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
            size_t len = strlen(line);
            while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
                line[--len] = '\0';
            if (len == 0)
                continue;
            if (first) {
                snprintf(c->expected_status, sizeof c->expected_status, "%s", line);
                first = false;
                continue;
            }
            char **ns = realloc(c->substrings, (c->nsubstrings + 1) * sizeof *ns);
            if (ns == NULL)
                break;
            c->substrings = ns;
            c->substrings[c->nsubstrings++] = strdup(line);
        }
        free(text);
    }
    closedir(d);
    if (n > 0)
        qsort(cases, n, sizeof *cases, name_cmp);
    *out = cases;
    return n;
}

static void
free_cases(struct config_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < cases[i].nsubstrings; j++)
            free(cases[i].substrings[j]);
        free(cases[i].substrings);
    }
    free(cases);
}

/* ====================================================================
 * Providers named by a config
 * ==================================================================== */

static const char *
test_plugin_dir(void)
{
    const char *d = getenv("WMI_TEST_PLUGIN_DIR");
    return d != NULL ? d : "../../build/tests/plugins";
}

/* valid_plugins through the router: every failure recorded, per provider,
 * in Stats; the good one and the unused one as they should be. */
static void
test_router_providers(void **state)
{
    (void)state;
    struct wmid_settings s;
    struct wmid_objects o;
    wmi_error err;
    char msg[1024];

    struct wmid_router *r = load_case(CASES_DIR "/valid_plugins/wmieventd.json", &s, &o, &err, test_plugin_dir());
    if (r == NULL) {
        format_error(msg, sizeof msg, &err);
        fail_msg("valid_plugins: %s", msg);
    }
    router_load_providers(r, &s);
    assert_int_equal(router_provider_count(r), 6);
    json_t *stats = router_stats_json(r);
    json_t *providers = json_object_get(stats, "providers");
    static const struct {
        const char *name, *state, *status, *message;
    } want[] = {
        {"Record", "loaded", "WBEM_S_NO_ERROR", "record"},
        {"BadAbi", "not loaded", "WBEM_E_PROVIDER_LOAD_FAILURE", "ABI 99"},
        {"NoEntry", "not loaded", "WBEM_E_PROVIDER_LOAD_FAILURE", "wmi_plugin_entry"},
        {"InitFails", "not loaded", "WBEM_E_INITIALIZATION_FAILURE", "initialize"},
        {"Missing", "not loaded", "WBEM_E_PROVIDER_LOAD_FAILURE", "no-such-plugin.so"},
        {"Unused", "not loaded", "WBEM_E_PROVIDER_NOT_FOUND", "no __EventConsumerProviderRegistration"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        json_t *p = json_object_get(providers, want[i].name);
        char *dump = json_dumps(p, JSON_COMPACT);
        const char *st = json_string_value(json_object_get(p, "state"));
        const char *sn = json_string_value(json_object_get(p, "status"));
        const char *m = json_string_value(json_object_get(p, "message"));
        if (p == NULL || st == NULL || sn == NULL || m == NULL || strcmp(st, want[i].state) != 0 ||
            strcmp(sn, want[i].status) != 0 || strstr(m, want[i].message) == NULL) {
            fail_msg("provider %s: %s; expected state \"%s\", status %s, message mentioning \"%s\"",
                     want[i].name, dump ? dump : "(none)", want[i].state, want[i].status, want[i].message);
        }
        free(dump);
    }
    json_decref(stats);
    router_free(r);
    config_free_objects(&o);
    config_free_settings(&s);
}

int
main(void)
{
    static const struct CMUnitTest plugin_tests[] = {
        cmocka_unit_test(test_router_providers),
    };
    struct config_case *cases = NULL;
    size_t n = load_cases(&cases);
    if (n == 0) {
        fprintf(stderr, "test_daemon_config: no cases in %s\n", CASES_DIR);
        return 1;
    }
    /* Refused providers log a line each; keep them out of the report. */
    log_init(WMI_LOG_ERR - 1, false);
    struct CMUnitTest *tests = calloc(n, sizeof *tests);
    if (tests == NULL)
        return 1;
    for (size_t i = 0; i < n; i++) {
        tests[i].name = cases[i].name;
        tests[i].test_func = test_config_case;
        tests[i].initial_state = &cases[i];
    }
    int failed = _cmocka_run_group_tests("config cases", tests, n, NULL, NULL);
    failed += cmocka_run_group_tests_name("providers from config", plugin_tests, NULL, NULL);
    free(tests);
    free_cases(cases, n);
    return failed != 0;
}
