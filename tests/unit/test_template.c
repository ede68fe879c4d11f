/*
 * test_template.c - standard string templates.
 *
 * Data-driven: every line of tests/data/template/cases.tsv (name, event,
 * template, expected) becomes one cmocka test, run against the events of
 * events.json built on the classes of classes.json.  The API edges
 * (compile errors, buffer reuse, append, one-shot expansion, threads) are
 * tested in C below.  Run with cwd tests/unit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wmievent/object.h"
#include "wmievent/template.h"

#define DATA_DIR "../data/template/"

struct tcase {
    char *name;
    char *event;
    char *tmpl;
    char *expected;
    int line;
};

static wmi_schema *g_schema;
static json_t *g_events_json;
static struct tcase *g_cases;
static size_t g_ncases;

/* ---- data loading ---- */

/* Decode \t, \n and \\ in place; other backslashes stay as they are. */
static void
unescape(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (s[0] == '\\' && (s[1] == 't' || s[1] == 'n' || s[1] == '\\')) {
            *o++ = s[1] == 't' ? '\t' : s[1] == 'n' ? '\n' : '\\';
            s++;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

static void
load_schema(void)
{
    json_error_t jerr;
    wmi_error err;
    g_schema = wmi_schema_new();
    if (g_schema == NULL) {
        fprintf(stderr, "wmi_schema_new failed\n");
        exit(1);
    }
    json_t *classes = json_load_file(DATA_DIR "classes.json", 0, &jerr);
    if (classes == NULL) {
        fprintf(stderr, "classes.json:%d: %s\n", jerr.line, jerr.text);
        exit(1);
    }
    size_t i;
    json_t *def;
    json_array_foreach(classes, i, def) {
        wmi_status st = wmi_schema_add_class_json(g_schema, def, &err);
        if (WMI_FAILED(st)) {
            fprintf(stderr, "classes.json[%zu]: 0x%08x %s: %s\n", i, st, err.source, err.text);
            exit(1);
        }
    }
    json_decref(classes);
    g_events_json = json_load_file(DATA_DIR "events.json", 0, &jerr);
    if (g_events_json == NULL) {
        fprintf(stderr, "events.json:%d: %s\n", jerr.line, jerr.text);
        exit(1);
    }
}

static void
load_cases(void)
{
    FILE *f = fopen(DATA_DIR "cases.tsv", "r");
    char *line = NULL;
    size_t cap = 0, ccap = 0;
    ssize_t n;
    int lineno = 0;

    if (f == NULL) {
        perror(DATA_DIR "cases.tsv");
        exit(1);
    }
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *fields[4];
        char *p = line;
        int k;
        for (k = 0; k < 4; k++) {
            fields[k] = p;
            char *tab = strchr(p, '\t');
            if (tab == NULL) {
                k++;
                break;
            }
            *tab = '\0';
            p = tab + 1;
        }
        if (k != 4) {
            fprintf(stderr, "cases.tsv:%d: want 4 tab-separated fields\n", lineno);
            exit(1);
        }
        if (g_ncases == ccap) {
            ccap = ccap ? ccap * 2 : 64;
            g_cases = realloc(g_cases, ccap * sizeof *g_cases);
        }
        struct tcase *c = &g_cases[g_ncases++];
        c->name = strdup(fields[0]);
        c->event = strdup(fields[1]);
        c->tmpl = strdup(fields[2]);
        c->expected = strdup(fields[3]);
        c->line = lineno;
        unescape(c->tmpl);
        unescape(c->expected);
    }
    free(line);
    fclose(f);
}

static wmi_object *
make_event(const char *name)
{
    wmi_error err;
    wmi_object *obj = NULL;
    json_t *j = json_object_get(g_events_json, name);
    if (j == NULL)
        fail_msg("no event \"%s\" in events.json", name);
    wmi_status st = wmi_object_from_json(g_schema, j, &obj, &err);
    if (WMI_FAILED(st))
        fail_msg("event %s: 0x%08x %s: %s", name, st, err.source, err.text);
    return obj;
}

/* ---- the data-driven cases ---- */

static void
run_case(void **state)
{
    const struct tcase *c = *state;
    wmi_object *ev = make_event(c->event);
    wmi_template *t = NULL;
    wmi_error err;

    assert_int_equal(wmi_template_compile(c->tmpl, &t, &err), WBEM_S_NO_ERROR);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    assert_int_equal(wmi_template_expand(t, ev, &buf, &len, &cap), WBEM_S_NO_ERROR);
    assert_non_null(buf);
    assert_int_equal(strlen(buf), len);
    if (strcmp(buf, c->expected) != 0) {
        print_error("cases.tsv:%d %s\n  template: [%s]\n  expected: [%s]\n  got:      [%s]\n",
                    c->line, c->name, c->tmpl, c->expected, buf);
        fail();
    }
    /* The same template expands the same way a second time, and the
     * one-shot form agrees. */
    len = 0;
    assert_int_equal(wmi_template_expand(t, ev, &buf, &len, &cap), WBEM_S_NO_ERROR);
    assert_string_equal(buf, c->expected);
    char *once = NULL;
    assert_int_equal(wmi_template_expand_string(c->tmpl, ev, &once), WBEM_S_NO_ERROR);
    assert_string_equal(once, c->expected);
    free(once);
    free(buf);
    wmi_template_free(t);
    wmi_object_unref(ev);
}

/* ---- API edges ---- */

static void
test_compile_null(void **state)
{
    (void)state;
    wmi_template *t = (wmi_template *)&t;
    wmi_error err;
    assert_int_equal(wmi_template_compile(NULL, &t, &err), WBEM_E_INVALID_PARAMETER);
    assert_null(t);
    assert_int_equal(err.status, WBEM_E_INVALID_PARAMETER);
    wmi_template_free(NULL);
}

static void
test_compile_bad_utf8(void **state)
{
    (void)state;
    wmi_template *t = NULL;
    wmi_error err;
    /* line 2, column 4: the lone continuation byte */
    assert_int_equal(wmi_template_compile("ok\nab \x80 %X%", &t, &err), WBEM_E_INVALID_PARAMETER);
    assert_null(t);
    assert_int_equal(err.status, WBEM_E_INVALID_PARAMETER);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 4);
    /* overlong, surrogate, beyond U+10FFFF, truncated */
    assert_int_equal(wmi_template_compile("\xC0\xAF", &t, NULL), WBEM_E_INVALID_PARAMETER);
    assert_int_equal(wmi_template_compile("\xED\xA0\x80", &t, NULL), WBEM_E_INVALID_PARAMETER);
    assert_int_equal(wmi_template_compile("\xF4\x90\x80\x80", &t, NULL), WBEM_E_INVALID_PARAMETER);
    assert_int_equal(wmi_template_compile("abc\xE2\x82", &t, NULL), WBEM_E_INVALID_PARAMETER);
    /* valid 4-byte sequence */
    assert_int_equal(wmi_template_compile("\xF0\x9F\x98\x80", &t, NULL), WBEM_S_NO_ERROR);
    wmi_template_free(t);
    char *out = NULL;
    assert_int_equal(wmi_template_expand_string("\xFF", NULL, &out), WBEM_E_INVALID_PARAMETER);
    assert_null(out);
}

static void
test_expand_appends(void **state)
{
    (void)state;
    wmi_object *ev = make_event("start");
    wmi_template *t = NULL;
    assert_int_equal(wmi_template_compile("%ProcessName%;", &t, NULL), WBEM_S_NO_ERROR);
    char *buf = strdup("pre:");
    size_t len = 4, cap = 5;
    assert_int_equal(wmi_template_expand(t, ev, &buf, &len, &cap), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_template_expand(t, ev, &buf, &len, &cap), WBEM_S_NO_ERROR);
    assert_string_equal(buf, "pre:sshd;sshd;");
    assert_int_equal(len, 14);
    assert_true(cap > len);
    free(buf);
    wmi_template_free(t);
    wmi_object_unref(ev);
}

static void
test_expand_empty_is_terminated(void **state)
{
    (void)state;
    wmi_template *t = NULL;
    assert_int_equal(wmi_template_compile("%Nothing%", &t, NULL), WBEM_S_NO_ERROR);
    wmi_object *ev = make_event("start");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    assert_int_equal(wmi_template_expand(t, ev, &buf, &len, &cap), WBEM_S_NO_ERROR);
    assert_non_null(buf);
    assert_int_equal(len, 0);
    assert_string_equal(buf, "");
    /* NULL event: every property expands empty, literals stay */
    wmi_template_free(t);
    assert_int_equal(wmi_template_compile("a%X%b", &t, NULL), WBEM_S_NO_ERROR);
    len = 0;
    assert_int_equal(wmi_template_expand(t, NULL, &buf, &len, &cap), WBEM_S_NO_ERROR);
    assert_string_equal(buf, "ab");
    assert_int_equal(wmi_template_expand(NULL, ev, &buf, &len, &cap), WBEM_E_INVALID_PARAMETER);
    free(buf);
    wmi_template_free(t);
    wmi_object_unref(ev);
}

/* Once the buffer is large enough, expansion reuses it as it is. */
static void
test_buffer_reuse(void **state)
{
    (void)state;
    wmi_object *ev = make_event("start");
    wmi_template *t = NULL;
    assert_int_equal(wmi_template_compile("%ProcessName% %ProcessID%", &t, NULL), WBEM_S_NO_ERROR);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    assert_int_equal(wmi_template_expand(t, ev, &buf, &len, &cap), WBEM_S_NO_ERROR);
    char *first = buf;
    size_t first_cap = cap;
    for (int i = 0; i < 100000; i++) {
        len = 0;
        assert_int_equal(wmi_template_expand(t, ev, &buf, &len, &cap), WBEM_S_NO_ERROR);
    }
    assert_ptr_equal(buf, first);
    assert_int_equal(cap, first_cap);
    assert_string_equal(buf, "sshd 4242");
    free(buf);
    wmi_template_free(t);
    wmi_object_unref(ev);
}

struct thread_arg {
    const wmi_template *t;
    const wmi_object *ev;
    int bad;
};

static void *
expand_thread(void *p)
{
    struct thread_arg *a = p;
    char *buf = NULL;
    size_t len, cap = 0;
    for (int i = 0; i < 20000; i++) {
        len = 0;
        if (wmi_template_expand(a->t, a->ev, &buf, &len, &cap) != WBEM_S_NO_ERROR ||
            strcmp(buf, "started sshd pid=42 (100%)") != 0)
            a->bad++;
    }
    free(buf);
    return NULL;
}

/* One compiled template, one event, four threads. */
static void
test_threads(void **state)
{
    (void)state;
    wmi_object *ev = make_event("create");
    wmi_template *t = NULL;
    assert_int_equal(wmi_template_compile(
                         "started %TargetInstance.Name% pid=%TargetInstance.ProcessId% (100%%)",
                         &t, NULL),
                     WBEM_S_NO_ERROR);
    pthread_t th[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){t, ev, 0};
        assert_int_equal(pthread_create(&th[i], NULL, expand_thread, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].bad, 0);
    }
    wmi_template_free(t);
    wmi_object_unref(ev);
}

/* A value put with the typed setters formats like one read from JSON. */
static void
test_put_values(void **state)
{
    (void)state;
    wmi_object *ev = NULL;
    assert_int_equal(wmi_object_new(g_schema, "Tpl_Event", &ev), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_object_put_real64(ev, "R32", (double)0.1f), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_object_put_real64(ev, "R64", 1.0 / 3.0), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_object_put_uint64(ev, "U64", UINT64_MAX), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_object_put_sint64(ev, "S64", INT64_MIN), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_object_put_boolean(ev, "B", false), WBEM_S_NO_ERROR);
    char *out = NULL;
    assert_int_equal(wmi_template_expand_string("%R32%|%R64%|%U64%|%S64%|%B%", ev, &out),
                     WBEM_S_NO_ERROR);
    assert_string_equal(out, "0.1|0.3333333333333333|18446744073709551615|-9223372036854775808|FALSE");
    free(out);
    wmi_object_unref(ev);
}

int
main(void)
{
    load_schema();
    load_cases();

    const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_compile_null),
        cmocka_unit_test(test_compile_bad_utf8),
        cmocka_unit_test(test_expand_appends),
        cmocka_unit_test(test_expand_empty_is_terminated),
        cmocka_unit_test(test_buffer_reuse),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_put_values),
    };
    size_t nfixed = sizeof fixed / sizeof fixed[0];
    struct CMUnitTest *tests = calloc(g_ncases + nfixed, sizeof *tests);
    for (size_t i = 0; i < g_ncases; i++) {
        tests[i].name = g_cases[i].name;
        tests[i].test_func = run_case;
        tests[i].initial_state = &g_cases[i];
    }
    memcpy(tests + g_ncases, fixed, sizeof fixed);
    int rc = _cmocka_run_group_tests("template", tests, g_ncases + nfixed, NULL, NULL);

    for (size_t i = 0; i < g_ncases; i++) {
        free(g_cases[i].name);
        free(g_cases[i].event);
        free(g_cases[i].tmpl);
        free(g_cases[i].expected);
    }
    free(g_cases);
    free(tests);
    json_decref(g_events_json);
    wmi_schema_free(g_schema);
    return rc;
}
