/*
 * test_daemon_intrinsic.c - the pure parts of intrinsic events: finding
 * the `TargetInstance ISA` class of a query, which filters need polling
 * (and WBEMESS_E_REGISTRATION_TOO_PRECISE without WITHIN), the WITHIN
 * floor, interval scheduling on a shared tick, snapshot diffing, and a
 * smoke test of the built-in instance providers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/providers/providers.h"

static wmi_schema *schema;
static struct wmid_instance_env *env;

static int
setup(void **state)
{
    (void)state;
    schema = wmi_schema_new();
    if (schema == NULL || wmi_schema_add_instance_classes(schema, NULL) != WBEM_S_NO_ERROR)
        return -1;
    env = instance_env_new();
    return env != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    instance_env_free(env);
    wmi_schema_free(schema);
    return 0;
}

static wmi_query *
parse(const char *text)
{
    wmi_query *q = NULL;
    wmi_error err;
    memset(&err, 0, sizeof err);
    if (WMI_FAILED(wmi_query_parse(text, schema, &q, &err)))
        fail_msg("%s: %s", text, err.text);
    return q;
}

/* ---- ISA target ---- */

static void
expect_query(const char *text, const char *want)
{
    wmi_query *q = parse(text);
    const char *got = wmi_query_isa_target(q);
    if (want == NULL) {
        if (got != NULL)
            fail_msg("%s: expected no target, got %s", text, got);
    } else {
        if (got == NULL)
            fail_msg("%s: expected %s, got none", text, want);
        assert_string_equal(got, want);
    }
    wmi_query_free(q);
}

static void
test_isa_target_query(void **state)
{
    (void)state;
    expect_query("SELECT * FROM __InstanceCreationEvent WITHIN 5 WHERE TargetInstance ISA 'Win32_Process'",
                 "Win32_Process");
    expect_query("select * from __InstanceCreationEvent within 0.5 where targetinstance isa \"Win32_Process\" and "
                 "TargetInstance.Name = 'sshd'",
                 "Win32_Process");
    expect_query("SELECT * FROM __InstanceModificationEvent WITHIN 5 WHERE TargetInstance.Hour = 3 AND "
                 "(TargetInstance ISA 'Win32_LocalTime') AND TargetInstance.Minute = 0",
                 "Win32_LocalTime");
    /* The most derived of two. */
    expect_query("SELECT * FROM __InstanceCreationEvent WITHIN 5 WHERE TargetInstance ISA 'Win32_Process' AND "
                 "TargetInstance ISA 'CIM_Process'",
                 "Win32_Process");
    expect_query("SELECT * FROM __InstanceCreationEvent WITHIN 5 WHERE TargetInstance ISA 'Win32_Process' OR "
                 "TargetInstance ISA 'Win32_LogicalDisk'",
                 NULL);
}

/* ---- kinds, polling, TOO_PRECISE ---- */

static void
test_event_kinds(void **state)
{
    (void)state;
    static const struct {
        const char *from;
        unsigned kinds;
    } cases[] = {
        {"__InstanceCreationEvent", WMID_KIND_CREATION},
        {"__InstanceDeletionEvent", WMID_KIND_DELETION},
        {"__InstanceModificationEvent", WMID_KIND_MODIFICATION},
        {"__InstanceOperationEvent", WMID_KIND_CREATION | WMID_KIND_DELETION | WMID_KIND_MODIFICATION},
        {"__MethodInvocationEvent", 0},
        {"__Event", 0},
        {"Win32_ProcessStartTrace", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[200];
        snprintf(text, sizeof text, "SELECT * FROM %s", cases[i].from);
        wmi_query *q = parse(text);
        assert_int_equal(intrinsic_event_kinds(schema, q), cases[i].kinds);
        wmi_query_free(q);
    }
}

static void
expect_filter(const char *text, bool polled, wmi_status st)
{
    wmi_query *q = parse(text);
    wmi_error err;
    memset(&err, 0, sizeof err);
    if (intrinsic_needs_polling(schema, q) != polled)
        fail_msg("%s: needs polling should be %d", text, polled);
    bool ok = intrinsic_check_filter(schema, q, &err);
    if (st == WBEM_S_NO_ERROR) {
        if (!ok)
            fail_msg("%s: refused: %s", text, err.text);
    } else {
        if (ok)
            fail_msg("%s: accepted", text);
        assert_int_equal(err.status, st);
        assert_non_null(strstr(err.text, "WITHIN"));
    }
    wmi_query_free(q);
}

static void
test_check_filter(void **state)
{
    (void)state;
    const wmi_status precise = WBEMESS_E_REGISTRATION_TOO_PRECISE;
    expect_filter("SELECT * FROM __InstanceCreationEvent WHERE TargetInstance ISA 'Win32_Process'", true, precise);
    expect_filter("SELECT * FROM __InstanceCreationEvent WITHIN 5 WHERE TargetInstance ISA 'Win32_Process'", true,
                 WBEM_S_NO_ERROR);
    expect_filter("SELECT * FROM __InstanceOperationEvent WHERE TargetInstance ISA 'CIM_Process'", true, precise);
    expect_filter("SELECT * FROM __InstanceModificationEvent WHERE TargetInstance ISA 'CIM_ManagedSystemElement'", true,
                 precise);
    /* WMI serves the clock classes with an event provider too: no WITHIN
     * needed (they are polled every second). */
    expect_filter("SELECT * FROM __InstanceModificationEvent WHERE TargetInstance ISA 'Win32_LocalTime' AND "
                 "TargetInstance.Hour = 3",
                 true, WBEM_S_NO_ERROR);
    expect_filter("SELECT * FROM __InstanceModificationEvent WHERE TargetInstance ISA 'Win32_UTCTime'", true,
                 WBEM_S_NO_ERROR);
    /* The repository: not polled (the daemon raises its events through
     * the router), with or without WITHIN. */
    expect_filter("SELECT * FROM __InstanceCreationEvent WHERE TargetInstance ISA '__EventConsumer'", false,
                 WBEM_S_NO_ERROR);
    expect_filter("SELECT * FROM __InstanceDeletionEvent WITHIN 5 WHERE TargetInstance ISA 'LogFileEventConsumer'",
                 false, WBEM_S_NO_ERROR);
    /* Not served (event classes have no instances), or not narrowed. */
    expect_filter("SELECT * FROM __InstanceCreationEvent WHERE TargetInstance ISA 'Win32_ProcessStartTrace'", false,
                 WBEM_S_NO_ERROR);
    expect_filter("SELECT * FROM __InstanceCreationEvent", false, WBEM_S_NO_ERROR);
    expect_filter("SELECT * FROM __InstanceCreationEvent WHERE TargetInstance ISA 'Win32_Process' OR "
                 "TargetInstance ISA '__EventFilter'",
                 false, WBEM_S_NO_ERROR);
    expect_filter("SELECT * FROM Win32_ProcessStartTrace", false, WBEM_S_NO_ERROR);
    expect_filter("SELECT * FROM __MethodInvocationEvent WHERE TargetInstance ISA 'Win32_Process'", false,
                 WBEM_S_NO_ERROR);
}

static void
test_interval_floor(void **state)
{
    (void)state;
    static const struct {
        const char *within;
        unsigned floor;
        int64_t ms;
    } cases[] = {
        {"WITHIN 5", 100, 5000}, {"WITHIN 0.5", 100, 500}, {"WITHIN 0.001", 100, 100},
        {"WITHIN 0.25", 1000, 1000}, {"WITHIN 1.0005", 1, 1001}, {"", 100, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[200];
        snprintf(text, sizeof text, "SELECT * FROM __InstanceCreationEvent %s WHERE TargetInstance ISA 'Win32_Process'",
                 cases[i].within);
        wmi_query *q = parse(text);
        assert_int_equal(intrinsic_interval_ms(q, cases[i].floor), cases[i].ms);
        wmi_query_free(q);
    }
}

/* Groups of 2 s and 5 s on a 2 s tick: each is served at most its
 * interval apart, the 2 s group at every tick. */
static void
test_schedule(void **state)
{
    (void)state;
    const uint64_t tick = 2000, intervals[2] = {2000, 5000};
    uint64_t due[2] = {2000, 5000}, last[2] = {0, 0};
    unsigned served[2] = {0, 0};
    for (uint64_t now = tick; now <= 60000; now += tick) {
        for (int g = 0; g < 2; g++) {
            if (!intrinsic_group_due(now, tick, due[g]))
                continue;
            assert_true(now - last[g] <= intervals[g]);
            last[g] = now;
            due[g] = now + intervals[g];
            served[g]++;
        }
    }
    assert_int_equal(served[0], 30);
    /* Every 4 s: never later than 5 s, and not at every tick. */
    assert_int_equal(served[1], 15);
    /* A late timer still serves a group that is due. */
    assert_true(intrinsic_group_due(7300, 2000, 7000));
    assert_false(intrinsic_group_due(4000, 2000, 7000));
}

/* ---- snapshots ---- */

static wmi_object *
proc(int pid, const char *name, uint64_t ws)
{
    wmi_object *o;
    char handle[16];
    snprintf(handle, sizeof handle, "%d", pid);
    assert_int_equal(wmi_object_new(schema, "Win32_Process", &o), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_object_put_string(o, "Handle", handle), WBEM_S_NO_ERROR);
    wmi_object_put_string(o, "Name", name);
    wmi_object_put_uint64(o, "ProcessId", (uint64_t)pid);
    wmi_object_put_uint64(o, "WorkingSetSize", ws);
    return o;
}

struct changes {
    char log[1024];
};

static void
record(unsigned kind, wmi_object *target, wmi_object *previous, void *arg)
{
    struct changes *c = arg;
    const char *name = NULL, *pname = NULL;
    wmi_object_get_string(target, "Name", &name);
    if (previous != NULL)
        wmi_object_get_string(previous, "Name", &pname);
    size_t n = strlen(c->log);
    snprintf(c->log + n, sizeof c->log - n, "%s%s%s%s;",
             kind == WMID_KIND_CREATION ? "+" : kind == WMID_KIND_DELETION ? "-" : "~", name ? name : "?",
             pname ? "<" : "", pname ? pname : "");
}

static struct wmid_snapshot *
snap(wmi_object **objs, size_t n)
{
    struct wmid_snapshot *s = snapshot_new();
    for (size_t i = 0; i < n; i++) {
        assert_true(snapshot_add(s, objs[i]));
        wmi_object_unref(objs[i]);
    }
    return s;
}

static void
test_snapshot_diff(void **state)
{
    (void)state;
    wmi_object *a[] = {proc(1, "init", 10), proc(2, "sshd", 20), proc(3, "cron", 30)};
    wmi_object *b[] = {proc(2, "sshd2", 20), proc(3, "cron", 30), proc(4, "bash", 40)};
    struct wmid_snapshot *prev = snap(a, 3), *cur = snap(b, 3);
    struct changes c;
    assert_int_equal(snapshot_count(prev), 3);
    assert_non_null(snapshot_get(cur, "Win32_Process.Handle=\"4\""));
    assert_null(snapshot_get(cur, "Win32_Process.Handle=\"1\""));

    memset(&c, 0, sizeof c);
    assert_int_equal(snapshot_diff(prev, cur, WMID_KIND_CREATION | WMID_KIND_DELETION | WMID_KIND_MODIFICATION,
                                   record, &c),
                     3);
    assert_string_equal(c.log, "~sshd2<sshd;+bash;-init;");
    memset(&c, 0, sizeof c);
    assert_int_equal(snapshot_diff(prev, cur, WMID_KIND_CREATION, record, &c), 1);
    assert_string_equal(c.log, "+bash;");
    memset(&c, 0, sizeof c);
    assert_int_equal(snapshot_diff(prev, cur, WMID_KIND_DELETION, record, &c), 1);
    assert_string_equal(c.log, "-init;");
    memset(&c, 0, sizeof c);
    assert_int_equal(snapshot_diff(cur, cur, WMID_KIND_CREATION | WMID_KIND_DELETION | WMID_KIND_MODIFICATION,
                                   record, &c),
                     0);
    /* From an empty snapshot: everything is new. */
    struct wmid_snapshot *empty = snapshot_new();
    memset(&c, 0, sizeof c);
    assert_int_equal(snapshot_diff(empty, prev, WMID_KIND_CREATION, record, &c), 3);
    assert_string_equal(c.log, "+init;+sshd;+cron;");

    /* Same path twice: the later replaces the earlier. */
    wmi_object *dup = proc(4, "zsh", 1);
    assert_true(snapshot_add(cur, dup));
    wmi_object_unref(dup);
    assert_int_equal(snapshot_count(cur), 3);
    const char *name;
    assert_int_equal(wmi_object_get_string(snapshot_get(cur, "Win32_Process.Handle=\"4\""), "Name", &name),
                     WBEM_S_NO_ERROR);
    assert_string_equal(name, "zsh");
    /* No key: refused. */
    wmi_object *nokey;
    assert_int_equal(wmi_object_new(schema, "Win32_Process", &nokey), WBEM_S_NO_ERROR);
    assert_false(snapshot_add(cur, nokey));
    wmi_object_unref(nokey);

    /* Many entries: the index grows. */
    struct wmid_snapshot *big = snapshot_new();
    for (int i = 1; i <= 5000; i++) {
        wmi_object *o = proc(i, "p", (uint64_t)i);
        assert_true(snapshot_add(big, o));
        wmi_object_unref(o);
    }
    assert_int_equal(snapshot_count(big), 5000);
    assert_non_null(snapshot_get(big, "Win32_Process.Handle=\"4321\""));
    memset(&c, 0, sizeof c);
    assert_int_equal(snapshot_diff(big, snapshot_ref(big), WMID_KIND_MODIFICATION, record, &c), 0);
    snapshot_unref(big);
    snapshot_unref(big);
    snapshot_unref(empty);
    snapshot_unref(prev);
    snapshot_unref(cur);
}

/* ---- providers ---- */

struct found {
    const char *key_prop;
    char want[64];
    bool seen;
    size_t n;
};

static void
find_instance(wmi_object *inst, void *arg)
{
    struct found *f = arg;
    const json_t *v;
    f->n++;
    char *path = wmi_object_get_path(inst);
    assert_non_null(path);
    free(path);
    if (wmi_object_get_json(inst, f->key_prop, &v, NULL) != WBEM_S_NO_ERROR)
        return;
    char buf[64];
    if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v))
        snprintf(buf, sizeof buf, "%s", json_string_value(v));
    else
        return;
    if (strcmp(buf, f->want) == 0)
        f->seen = true;
}

static void
test_providers(void **state)
{
    (void)state;
    struct found f = {"ProcessId", "", false, 0};
    snprintf(f.want, sizeof f.want, "%d", (int)getpid());
    assert_int_equal(instance_enumerate(env, schema, "Win32_Process", NULL, find_instance, &f), WBEM_S_NO_ERROR);
    assert_true(f.seen);
    /* CIM_Process enumerates its subclass. */
    memset(&f, 0, sizeof f);
    f.key_prop = "Handle";
    snprintf(f.want, sizeof f.want, "%d", (int)getpid());
    assert_int_equal(instance_enumerate(env, schema, "CIM_Process", NULL, find_instance, &f), WBEM_S_NO_ERROR);
    assert_true(f.seen);
    struct found t = {"Year", "", false, 0};
    assert_int_equal(instance_enumerate(env, schema, "Win32_CurrentTime", NULL, find_instance, &t), WBEM_S_NO_ERROR);
    assert_int_equal(t.n, 2);
    struct found os = {"OSType", "36", false, 0};
    assert_int_equal(instance_enumerate(env, schema, "Win32_OperatingSystem", NULL, find_instance, &os),
                     WBEM_S_NO_ERROR);
    assert_true(os.seen);
    assert_int_equal(os.n, 1);
    assert_int_equal(instance_enumerate(env, schema, "Win32_ProcessStartTrace", NULL, find_instance, &t),
                     WBEM_E_NOT_SUPPORTED);
    /* The repository serves its classes (empty here: nothing loaded). */
    t.n = 0;
    assert_int_equal(instance_enumerate(env, schema, "__EventFilter", NULL, find_instance, &t), WBEM_S_NO_ERROR);
    assert_int_equal(t.n, 0);
    assert_int_equal(instance_enumerate(env, schema, "No_Such_Class", NULL, find_instance, &t), WBEM_E_INVALID_CLASS);
}

/* ---- query narrowing (scopes) ---- */

static void
expect_equalities(const char *text, const char *want)
{
    wmi_query *q = parse(text);
    char **v;
    size_t n = instance_query_equalities(q, "TargetInstance.Path", &v);
    char got[256] = "";
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(got);
        snprintf(got + len, sizeof got - len, "%s%s", i ? "|" : "", v[i]);
        free(v[i]);
    }
    free(v);
    if (strcmp(got, want) != 0)
        fail_msg("%s: got [%s], want [%s]", text, got, want);
    wmi_query_free(q);
}

static void
test_query_equalities(void **state)
{
    (void)state;
    const char *pre = "SELECT * FROM __InstanceCreationEvent WITHIN 5 WHERE ";
    char text[512];
#define EQ(where, want)                                                                                             \
    do {                                                                                                            \
        snprintf(text, sizeof text, "%s%s", pre, where);                                                            \
        expect_equalities(text, want);                                                                              \
    } while (0)
    EQ("TargetInstance ISA 'CIM_DataFile' AND TargetInstance.Path = '/tmp/w/'", "/tmp/w/");
    EQ("targetinstance.path = '/a/'", "/a/");
    EQ("TargetInstance ISA 'CIM_DataFile' AND '/a/' = TargetInstance.Path", "/a/");
    EQ("TargetInstance ISA 'CIM_DataFile' AND TargetInstance.Path = '\\\\tmp\\\\w\\\\'", "\\tmp\\w\\");
    EQ("TargetInstance ISA 'CIM_DataFile' AND (TargetInstance.Path = '/a/' OR TargetInstance.Path = '/b\"c/')",
       "/a/|/b\"c/");
    EQ("TargetInstance.Path = '/a/' OR TargetInstance.Path = '/b/'", "/a/|/b/");
    /* Nothing that narrows every event. */
    EQ("TargetInstance ISA 'CIM_DataFile'", "");
    EQ("TargetInstance ISA 'CIM_DataFile' AND TargetInstance.Path = '/a/' OR TargetInstance.Name = 'x'", "");
    EQ("TargetInstance ISA 'CIM_DataFile' AND (TargetInstance.Path = '/a/' OR TargetInstance.Name = 'x')", "");
    EQ("TargetInstance ISA 'CIM_DataFile' AND NOT TargetInstance.Path = '/a/'", "");
    EQ("TargetInstance ISA 'CIM_DataFile' AND TargetInstance.Path <> '/a/'", "");
    EQ("TargetInstance ISA 'CIM_DataFile' AND TargetInstance.PathX = '/a/'", "");
#undef EQ
}

static void
test_file_scope(void **state)
{
    (void)state;
    static const struct {
        const char *where;
        const char *scope; /* NULL: refused */
    } cases[] = {
        {"TargetInstance ISA 'CIM_DataFile' AND TargetInstance.Path = '/tmp/w/'", "/tmp/w/"},
        {"TargetInstance ISA 'CIM_DataFile' AND (TargetInstance.Path = '/b/' OR TargetInstance.Path = '/a/' OR "
         "TargetInstance.Path = '/b/')",
         "/a/\n/b/"},
        {"TargetInstance ISA 'CIM_DataFile' AND TargetInstance.Path = '\\\\w\\\\'", "\\w\\"},
        {"TargetInstance ISA 'CIM_DataFile'", NULL},
        {"TargetInstance ISA 'CIM_DataFile' AND TargetInstance.Path = '/tmp/w'", NULL},
        {"TargetInstance ISA 'CIM_DataFile' AND TargetInstance.Path = 'tmp/'", NULL},
        {"TargetInstance ISA 'CIM_DataFile' AND TargetInstance.Path = ''", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "SELECT * FROM __InstanceOperationEvent WITHIN 5 WHERE %s", cases[i].where);
        wmi_query *q = parse(text);
        wmi_error err;
        memset(&err, 0, sizeof err);
        char *sc = wmid_ip_data_file.scope(schema, q, &err);
        if (cases[i].scope == NULL) {
            if (sc != NULL)
                fail_msg("%s: accepted as [%s]", text, sc);
            assert_int_equal(err.status, WBEM_E_INVALID_QUERY);
            assert_int_equal(intrinsic_check_filter(schema, q, &err), false);
            assert_int_equal(err.status, WBEM_E_INVALID_QUERY);
        } else {
            if (sc == NULL)
                fail_msg("%s: refused: %s", text, err.text);
            assert_string_equal(sc, cases[i].scope);
            assert_true(intrinsic_check_filter(schema, q, &err));
        }
        free(sc);
        wmi_query_free(q);
    }
    /* Unscoped enumeration of the file classes is refused. */
    struct found f = {"Name", "", false, 0};
    assert_int_equal(instance_enumerate(env, schema, "CIM_DataFile", NULL, find_instance, &f), WBEM_E_INVALID_QUERY);
    assert_int_equal(instance_enumerate(env, schema, "CIM_LogicalFile", NULL, find_instance, &f), WBEM_E_INVALID_QUERY);
}

/* ---- pushes: Win32_Process fed as the process connector would ---- */

struct push_log {
    unsigned pushing;
    int created, deleted;
    int pid;
    char name[64];
};

static void
pl_created(void *arg, wmi_object *inst)
{
    struct push_log *l = arg;
    uint64_t pid = 0;
    const char *name = NULL;
    wmi_object_get_uint64(inst, "ProcessId", &pid);
    wmi_object_get_string(inst, "Name", &name);
    if ((int)pid == l->pid) {
        l->created++;
        snprintf(l->name, sizeof l->name, "%s", name ? name : "");
    }
}

static void
pl_deleted(void *arg, wmi_object *inst)
{
    struct push_log *l = arg;
    uint64_t pid = 0;
    wmi_object_get_uint64(inst, "ProcessId", &pid);
    if ((int)pid == l->pid)
        l->deleted++;
}

static void
pl_modified(void *arg, wmi_object *inst, wmi_object *previous)
{
    (void)arg;
    (void)inst;
    (void)previous;
    fail_msg("Win32_Process does not push modifications");
}

static void
pl_pushing(void *arg, unsigned kinds)
{
    ((struct push_log *)arg)->pushing = kinds;
}

static void
test_process_push(void **state)
{
    (void)state;
    struct push_log l;
    memset(&l, 0, sizeof l);
    void *st = wmid_ip_win32_process.open(env, schema);
    assert_non_null(st);
    struct wmid_instance_sink sink = {pl_created, pl_deleted, pl_modified, pl_pushing, &l};
    assert_true(wmid_ip_win32_process.subscribe(st, uv_default_loop(), &sink));
    assert_int_equal(l.pushing, 0);          /* no connector yet */
    process_feed_exec(env->processes, (int)getpid()); /* ignored: not proven */
    process_feed_source(env->processes, true);
    assert_int_equal(l.pushing, WMID_PUSH_CREATION | WMID_PUSH_DELETION);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        execl("/bin/sleep", "sleep", "5", (char *)NULL);
        _exit(127);
    }
    l.pid = (int)child;
    /* Wait for the exec to show in /proc, then report it. */
    for (int i = 0; i < 200; i++) {
        char buf[256], path[64];
        snprintf(path, sizeof path, "/proc/%d/comm", (int)child);
        if (instance_read_file(path, buf, sizeof buf) > 0 && strncmp(buf, "sleep", 5) == 0)
            break;
        usleep(10000);
    }
    process_feed_exec(env->processes, (int)child);
    assert_int_equal(l.created, 1);
    assert_string_equal(l.name, "sleep");
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    process_feed_exit(env->processes, (int)child);
    assert_int_equal(l.deleted, 1);
    process_feed_exit(env->processes, (int)child); /* told once */
    assert_int_equal(l.deleted, 1);
    process_feed_source(env->processes, false);
    assert_int_equal(l.pushing, 0);
    wmid_ip_win32_process.close(st);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isa_target_query),
        cmocka_unit_test(test_event_kinds),     cmocka_unit_test(test_check_filter),
        cmocka_unit_test(test_interval_floor),  cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_snapshot_diff),   cmocka_unit_test(test_providers),
        cmocka_unit_test(test_query_equalities), cmocka_unit_test(test_file_scope),
        cmocka_unit_test(test_process_push),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
