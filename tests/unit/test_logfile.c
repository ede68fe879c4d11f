/*
 * test_logfile.c - the LogFileEventConsumer plugin, driven through the
 * plugin ABI exactly as the host drives it: dlopen(logfile.so),
 * wmi_plugin_entry, initialize with a fake struct wmi_host, find_consumer
 * for LogFileEventConsumer instances, indicate_to_consumer, release,
 * shutdown.
 *
 * The plugin is taken from $WMI_PLUGIN_DIR (make SAN=1 builds into
 * build-san/), else ../../build/plugins; run with cwd tests/unit.  The
 * plugin links libwmievent.so.0, which this static test binary does not
 * load, so the library next to the plugin dir (<dir>/../lib) is loaded
 * first, RTLD_GLOBAL, to satisfy the plugin's dependency.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wmievent/object.h"
#include "wmievent/plugin.h"
#include "wmievent/template.h"

static void *g_lib, *g_plugin_so;
static const struct wmi_plugin *g_plugin;
static const struct wmi_event_consumer_provider *g_ops;
static wmi_schema *g_schema;

/* ---- the fake host ---- */

static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_log_count[8];
static char g_log_last[1024];

static void host_log(const struct wmi_host *host, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
host_log(const struct wmi_host *host, int level, const char *fmt, ...)
{
    (void)host;
    va_list ap;
    pthread_mutex_lock(&g_log_lock);
    va_start(ap, fmt);
    vsnprintf(g_log_last, sizeof g_log_last, fmt, ap);
    va_end(ap);
    if (level >= 0 && level < 8)
        g_log_count[level]++;
    pthread_mutex_unlock(&g_log_lock);
}

/* What the plugin said with set_error (ABI 1.2), last. */
static char g_set_error[WMI_HOST_ERROR_MAX];

static void host_set_error(const struct wmi_host *host, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
host_set_error(const struct wmi_host *host, const char *fmt, ...)
{
    (void)host;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_set_error, sizeof g_set_error, fmt, ap);
    va_end(ap);
}

static struct wmi_host g_host = {
    .abi_major = WMI_PLUGIN_ABI_MAJOR,
    .abi_minor = WMI_PLUGIN_ABI_MINOR,
    .size = sizeof(struct wmi_host),
    .log = host_log,
    .set_error = host_set_error,
};

/* ---- per-test state ---- */

struct fixture {
    char dir[64];
    void *provider;
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    chmod(path, 0700);
    return remove(path);
}

static int
setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/wmi-logfile-XXXXXX");
    if (mkdtemp(fx->dir) == NULL)
        return -1;
    memset(g_log_count, 0, sizeof g_log_count);
    g_log_last[0] = '\0';
    if (g_ops->initialize(&g_host, NULL, &fx->provider) != WBEM_S_INITIALIZED)
        return -1;
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    g_ops->shutdown(fx->provider);
    nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

/* ---- helpers ---- */

static char *
path_in(const struct fixture *fx, const char *name)
{
    char *p;
    if (asprintf(&p, "%s/%s", fx->dir, name) < 0)
        fail();
    return p;
}

static wmi_object *
object_from(const char *json)
{
    json_error_t jerr;
    wmi_error err;
    wmi_object *obj = NULL;
    json_t *j = json_loads(json, 0, &jerr);
    if (j == NULL)
        fail_msg("bad test JSON: %s: %s", jerr.text, json);
    wmi_status st = wmi_object_from_json(g_schema, j, &obj, &err);
    json_decref(j);
    if (WMI_FAILED(st))
        fail_msg("object: 0x%08x %s: %s", st, err.source, err.text);
    return obj;
}

/* A LogFileEventConsumer; @extra is more JSON members (may be ""). */
static wmi_object *
consumer(const char *filename, const char *text, const char *extra)
{
    json_t *j = json_pack("{s:s, s:s, s:s}", "__CLASS", "LogFileEventConsumer", "Name", "test",
                          "Filename", filename);
    if (text != NULL)
        json_object_set_new(j, "Text", json_string(text));
    if (extra != NULL && extra[0] != '\0') {
        json_t *more = json_loads(extra, 0, NULL);
        assert_non_null(more);
        json_object_update(j, more);
        json_decref(more);
    }
    wmi_error err;
    wmi_object *obj = NULL;
    wmi_status st = wmi_object_from_json(g_schema, j, &obj, &err);
    json_decref(j);
    if (WMI_FAILED(st))
        fail_msg("consumer: 0x%08x %s: %s", st, err.source, err.text);
    return obj;
}

static struct wmi_unbound_object_sink *
find(const struct fixture *fx, const wmi_object *lc)
{
    struct wmi_unbound_object_sink *sink = NULL;
    assert_int_equal(g_ops->find_consumer(fx->provider, lc, &sink), WBEM_S_NO_ERROR);
    assert_non_null(sink);
    return sink;
}

/* Win32_ProcessStartTrace events named @prefix + (first + i), the number
 * zero-padded to @width digits, with ProcessID first + i. */
static wmi_object **
events(size_t n, const char *prefix, int width, int first)
{
    wmi_object **ev = calloc(n, sizeof *ev);
    for (size_t i = 0; i < n; i++) {
        char name[64], json[160];
        snprintf(name, sizeof name, "%s%0*d", prefix, width, first + (int)i);
        snprintf(json, sizeof json,
                 "{\"__CLASS\":\"Win32_ProcessStartTrace\",\"ProcessName\":\"%s\",\"ProcessID\":%d}",
                 name, first + (int)i);
        ev[i] = object_from(json);
    }
    return ev;
}

static void
events_free(wmi_object **ev, size_t n)
{
    for (size_t i = 0; i < n; i++)
        wmi_object_unref(ev[i]);
    free(ev);
}

/* Indicate n events (see events()) and return the status. */
static wmi_status
indicate(struct wmi_unbound_object_sink *sink, const wmi_object *lc, size_t n, const char *prefix,
         int width, int first)
{
    wmi_object **ev = events(n, prefix, width, first);
    wmi_status st = sink->indicate_to_consumer(sink, lc, n, ev);
    events_free(ev, n);
    return st;
}

/* The whole file, NUL-terminated; *len its size.  NULL if it is missing. */
static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

static void
assert_file(const struct fixture *fx, const char *name, const char *want)
{
    char *p = path_in(fx, name);
    char *got = slurp(p, NULL);
    if (got == NULL)
        fail_msg("%s does not exist", name);
    if (strcmp(got, want) != 0)
        fail_msg("%s:\n  want [%s]\n  got  [%s]", name, want, got);
    free(got);
    free(p);
}

static void
assert_no_file(const struct fixture *fx, const char *name)
{
    char *p = path_in(fx, name);
    if (access(p, F_OK) == 0)
        fail_msg("%s exists", name);
    free(p);
}

static void
write_raw(const struct fixture *fx, const char *name, const void *data, size_t n)
{
    char *p = path_in(fx, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
    free(p);
}

/* dlsym for a function, without an object-to-function pointer cast. */
static wmi_plugin_entry_fn
entry_of(void *so)
{
    void *sym = dlsym(so, WMI_PLUGIN_ENTRY_SYMBOL);
    wmi_plugin_entry_fn fn = NULL;
    if (sym != NULL)
        memcpy(&fn, &sym, sizeof fn);
    return fn;
}

/* ==================================================================== */

static void
test_entry(void **state)
{
    (void)state;
    assert_int_equal(g_plugin->abi_major, WMI_PLUGIN_ABI_MAJOR);
    assert_true(g_plugin->size >= sizeof(struct wmi_plugin));
    assert_string_equal(g_plugin->name, "logfile");
    assert_non_null(g_plugin->version);
    assert_non_null(g_ops);
    assert_int_equal(g_ops->max_batch, 1024);
    wmi_plugin_entry_fn entry = entry_of(g_plugin_so);
    assert_non_null(entry);
    assert_null(entry(WMI_PLUGIN_ABI_MAJOR + 1));
    assert_ptr_equal(entry(WMI_PLUGIN_ABI_MAJOR), g_plugin);
}

/* One line per event; the file is created, then appended to. */
static void
test_lines(void **state)
{
    struct fixture *fx = *state;
    char *path = path_in(fx, "proc.log");
    wmi_object *lc = consumer(path, "%ProcessName% pid=%ProcessID%", "");
    struct wmi_unbound_object_sink *sink = find(fx, lc);

    assert_int_equal(indicate(sink, lc, 3, "p", 0, 1), WBEM_S_NO_ERROR);
    assert_file(fx, "proc.log", "p1 pid=1\np2 pid=2\np3 pid=3\n");
    assert_int_equal(indicate(sink, lc, 1, "p", 0, 4), WBEM_S_NO_ERROR);
    assert_file(fx, "proc.log", "p1 pid=1\np2 pid=2\np3 pid=3\np4 pid=4\n");
    sink->release(sink);

    /* A new sink appends to what is there. */
    sink = find(fx, lc);
    assert_int_equal(indicate(sink, lc, 1, "q", 0, 5), WBEM_S_NO_ERROR);
    assert_file(fx, "proc.log", "p1 pid=1\np2 pid=2\np3 pid=3\np4 pid=4\nq5 pid=5\n");
    sink->release(sink);
    assert_int_equal(g_log_count[WMI_LOG_ERR], 0);
    wmi_object_unref(lc);
    free(path);
}

/* A full batch of max_batch events, in order. */
static void
test_full_batch(void **state)
{
    struct fixture *fx = *state;
    char *path = path_in(fx, "batch.log");
    wmi_object *lc = consumer(path, "%ProcessID%", "{\"MaximumFileSize\": 0}");
    struct wmi_unbound_object_sink *sink = find(fx, lc);
    assert_int_equal(indicate(sink, lc, 1024, "x", 0, 0), WBEM_S_NO_ERROR);
    size_t len;
    char *got = slurp(path, &len);
    assert_non_null(got);
    char *p = got;
    for (int i = 0; i < 1024; i++) {
        char want[16];
        int n = snprintf(want, sizeof want, "%d\n", i);
        assert_memory_equal(p, want, (size_t)n);
        p += n;
    }
    assert_int_equal((size_t)(p - got), len);
    free(got);
    sink->release(sink);
    wmi_object_unref(lc);
    free(path);
}

/* The doc example: a template reaching into an embedded object. */
static void
test_embedded_template(void **state)
{
    struct fixture *fx = *state;
    char *path = path_in(fx, "create.log");
    wmi_object *lc = consumer(
        path, "started %TargetInstance.Name% pid=%TargetInstance.ProcessId% (100%%)", "");
    struct wmi_unbound_object_sink *sink = find(fx, lc);
    wmi_object *ev = object_from(
        "{\"__CLASS\":\"__InstanceCreationEvent\",\"TargetInstance\":"
        "{\"__CLASS\":\"Tlf_Process\",\"Handle\":\"42\",\"Name\":\"sshd\",\"ProcessId\":42}}");
    wmi_object *const evs[2] = {ev, ev};
    assert_int_equal(sink->indicate_to_consumer(sink, lc, 2, evs), WBEM_S_NO_ERROR);
    assert_file(fx, "create.log", "started sshd pid=42 (100%)\nstarted sshd pid=42 (100%)\n");
    wmi_object_unref(ev);
    sink->release(sink);
    wmi_object_unref(lc);
    free(path);
}

/* The directory must exist: WBEM_E_NOT_FOUND, logged once, until it does. */
static void
test_missing_directory(void **state)
{
    struct fixture *fx = *state;
    char *dir = path_in(fx, "later");
    char *path = path_in(fx, "later/x.log");
    wmi_object *lc = consumer(path, "%ProcessName%", "");
    struct wmi_unbound_object_sink *sink = find(fx, lc);

    assert_int_equal(indicate(sink, lc, 1, "a", 0, 1), WBEM_E_NOT_FOUND);
    assert_int_equal(g_log_count[WMI_LOG_ERR], 1);
    assert_non_null(strstr(g_log_last, "later/x.log"));
    assert_int_equal(indicate(sink, lc, 2, "a", 0, 2), WBEM_E_NOT_FOUND);
    assert_int_equal(g_log_count[WMI_LOG_ERR], 1); /* once per episode */
    assert_no_file(fx, "later");

    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(indicate(sink, lc, 1, "b", 0, 4), WBEM_S_NO_ERROR);
    assert_int_equal(g_log_count[WMI_LOG_NOTICE], 1);
    assert_file(fx, "later/x.log", "b4\n");
    sink->release(sink);
    wmi_object_unref(lc);
    free(path);
    free(dir);
}

/* A Filename that is a directory cannot be opened: WBEM_E_FAILED. */
static void
test_open_directory(void **state)
{
    struct fixture *fx = *state;
    char *path = path_in(fx, "sub");
    assert_int_equal(mkdir(path, 0755), 0);
    wmi_object *lc = consumer(path, "%ProcessName%", "");
    struct wmi_unbound_object_sink *sink = find(fx, lc);
    assert_int_equal(indicate(sink, lc, 1, "a", 0, 1), WBEM_E_FAILED);
    assert_int_equal(g_log_count[WMI_LOG_ERR], 1);
    sink->release(sink);
    wmi_object_unref(lc);
    free(path);
}

/* A failed write: ENOSPC is WBEM_E_OUT_OF_DISK_SPACE, logged once. */
static void
test_write_failure(void **state)
{
    struct fixture *fx = *state;
    if (access("/dev/full", W_OK) != 0)
        skip();
    wmi_object *lc = consumer("/dev/full", "%ProcessName%", "");
    struct wmi_unbound_object_sink *sink = find(fx, lc);
    assert_int_equal(indicate(sink, lc, 3, "a", 0, 1), WBEM_E_OUT_OF_DISK_SPACE);
    assert_int_equal(indicate(sink, lc, 1, "a", 0, 1), WBEM_E_OUT_OF_DISK_SPACE);
    assert_int_equal(g_log_count[WMI_LOG_ERR], 1);
    assert_non_null(strstr(g_log_last, "/dev/full"));
    sink->release(sink);
    wmi_object_unref(lc);
}

/* A file the daemon may not write: WBEM_E_ACCESS_DENIED. */
static void
test_access_denied(void **state)
{
    struct fixture *fx = *state;
    char *path;
    if (geteuid() != 0) {
        char *dir = path_in(fx, "ro");
        assert_int_equal(mkdir(dir, 0555), 0);
        path = path_in(fx, "ro/x.log");
        free(dir);
    } else {
        /* root passes file modes; a read-only sysctl still refuses it */
        if (access("/proc/sys/kernel/ostype", F_OK) != 0)
            skip();
        path = strdup("/proc/sys/kernel/ostype");
    }
    wmi_object *lc = consumer(path, "%ProcessName%", "{\"MaximumFileSize\": 0}");
    struct wmi_unbound_object_sink *sink = find(fx, lc);
    g_set_error[0] = '\0';
    assert_int_equal(indicate(sink, lc, 1, "a", 0, 1), WBEM_E_ACCESS_DENIED);
    /* The failure event will name the file (wmi_host.set_error). */
    if (strstr(g_set_error, path) == NULL)
        fail_msg("set_error said [%s], not naming %s", g_set_error, path);
    sink->release(sink);
    wmi_object_unref(lc);
    free(path);
}

/* An 8.3 name: the extension is replaced by 001, 002, ... */
static void
test_rotation_83(void **state)
{
    struct fixture *fx = *state;
    char *path = path_in(fx, "EVENTS.LOG");
    /* lines of 11 bytes; rotate once the file holds 20 bytes or more */
    wmi_object *lc = consumer(path, "%ProcessName%", "{\"MaximumFileSize\": 20}");
    struct wmi_unbound_object_sink *sink = find(fx, lc);

    assert_int_equal(indicate(sink, lc, 5, "line-", 5, 1), WBEM_S_NO_ERROR);
    assert_file(fx, "EVENTS.001", "line-00001\nline-00002\n");
    assert_file(fx, "EVENTS.002", "line-00003\nline-00004\n");
    assert_file(fx, "EVENTS.LOG", "line-00005\n");
    /* checked before each write: 11 < 20, so no rotation yet */
    assert_int_equal(indicate(sink, lc, 1, "line-", 5, 6), WBEM_S_NO_ERROR);
    assert_file(fx, "EVENTS.LOG", "line-00005\nline-00006\n");
    assert_int_equal(indicate(sink, lc, 1, "line-", 5, 7), WBEM_S_NO_ERROR);
    assert_file(fx, "EVENTS.003", "line-00005\nline-00006\n");
    assert_file(fx, "EVENTS.LOG", "line-00007\n");
    assert_no_file(fx, "EVENTS.004");
    sink->release(sink);
    wmi_object_unref(lc);
    free(path);
}

/* An 8.3 name without extension gets one; numbering continues after the
 * highest backup present. */
static void
test_rotation_83_noext(void **state)
{
    struct fixture *fx = *state;
    char *path = path_in(fx, "events");
    write_raw(fx, "events.005", "old\n", 4);
    wmi_object *lc = consumer(path, "%ProcessName%", "{\"MaximumFileSize\": 1}");
    struct wmi_unbound_object_sink *sink = find(fx, lc);
    assert_int_equal(indicate(sink, lc, 2, "n", 0, 1), WBEM_S_NO_ERROR);
    assert_file(fx, "events.006", "n1\n");
    assert_file(fx, "events", "n2\n");
    assert_file(fx, "events.005", "old\n");
    assert_no_file(fx, "events.001");
    sink->release(sink);
    wmi_object_unref(lc);
    free(path);
}

/* Any other name: 001, 002, ... appended to the whole name. */
static void
test_rotation_long_name(void **state)
{
    struct fixture *fx = *state;
    char *path = path_in(fx, "process-starts.log");
    wmi_object *lc = consumer(path, "%ProcessName%", "{\"MaximumFileSize\": 20}");
    struct wmi_unbound_object_sink *sink = find(fx, lc);
    assert_int_equal(indicate(sink, lc, 5, "line-", 5, 1), WBEM_S_NO_ERROR);
    assert_file(fx, "process-starts.log001", "line-00001\nline-00002\n");
    assert_file(fx, "process-starts.log002", "line-00003\nline-00004\n");
    assert_file(fx, "process-starts.log", "line-00005\n");
    assert_no_file(fx, "process-starts.001");
    sink->release(sink);
    wmi_object_unref(lc);
    free(path);
}

/* After 999: the smallest unused number. */
static void
test_rotation_after_999(void **state)
{
    struct fixture *fx = *state;
    char *path = path_in(fx, "A.TXT");
    write_raw(fx, "A.999", "x\n", 2);
    write_raw(fx, "A.001", "y\n", 2);
    write_raw(fx, "A.003", "z\n", 2);
    wmi_object *lc = consumer(path, "%ProcessName%", "{\"MaximumFileSize\": 1}");
    struct wmi_unbound_object_sink *sink = find(fx, lc);
    assert_int_equal(indicate(sink, lc, 3, "r", 0, 1), WBEM_S_NO_ERROR);
    assert_file(fx, "A.002", "r1\n");
    assert_file(fx, "A.004", "r2\n");
    assert_file(fx, "A.TXT", "r3\n");
    assert_file(fx, "A.999", "x\n");
    assert_file(fx, "A.001", "y\n");
    sink->release(sink);
    wmi_object_unref(lc);
    free(path);
}

/* MaximumFileSize 0: no limit. */
static void
test_unlimited(void **state)
{
    struct fixture *fx = *state;
    char *path = path_in(fx, "big.log");
    wmi_object *lc = consumer(path, "%ProcessName%", "{\"MaximumFileSize\": 0}");
    struct wmi_unbound_object_sink *sink = find(fx, lc);
    for (int i = 0; i < 10; i++)
        assert_int_equal(indicate(sink, lc, 1000, "line-", 5, i * 1000), WBEM_S_NO_ERROR);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 110000);
    assert_no_file(fx, "big.log001");
    sink->release(sink);
    wmi_object_unref(lc);
    free(path);
}

/* The class default, 65535 bytes, applies when the property is not set. */
static void
test_default_maximum(void **state)
{
    struct fixture *fx = *state;
    char *path = path_in(fx, "default.log");
    char *bak = path_in(fx, "default.001");
    wmi_object *lc = consumer(path, "%ProcessName%", "");
    struct wmi_unbound_object_sink *sink = find(fx, lc);
    for (int i = 0; i < 7; i++)
        assert_int_equal(indicate(sink, lc, 1000, "line-", 5, i * 1000), WBEM_S_NO_ERROR);
    struct stat st;
    assert_int_equal(stat(bak, &st), 0);
    /* 5958 lines: the first size >= 65535 */
    assert_int_equal(st.st_size, 5958 * 11);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, (7000 - 5958) * 11);
    sink->release(sink);
    wmi_object_unref(lc);
    free(path);
    free(bak);
}

/* IsUnicode on a new file: UTF-16LE with a BOM, surrogate pairs included. */
static void
test_unicode_new(void **state)
{
    struct fixture *fx = *state;
    char *path = path_in(fx, "u.log");
    wmi_object *lc = consumer(path, "h\xC3\xA9 %ProcessName% \xF0\x9F\x98\x80", "{\"IsUnicode\": true}");
    struct wmi_unbound_object_sink *sink = find(fx, lc);
    assert_int_equal(indicate(sink, lc, 2, "", 0, 7), WBEM_S_NO_ERROR);
    static const unsigned char line[] = {'h', 0, 0xE9, 0, ' ', 0, '7', 0, ' ', 0,
                                         0x3D, 0xD8, 0x00, 0xDE, '\n', 0};
    size_t len;
    unsigned char *got = (unsigned char *)slurp(path, &len);
    assert_non_null(got);
    assert_int_equal(len, 2 + 2 * sizeof line);
    assert_int_equal(got[0], 0xFF);
    assert_int_equal(got[1], 0xFE);
    assert_memory_equal(got + 2, line, sizeof line);
    assert_int_equal(got[2 + sizeof line + 6], '8');
    free(got);
    sink->release(sink);
    wmi_object_unref(lc);
    free(path);
}

/* IsUnicode is ignored for a file that exists with content. */
static void
test_unicode_existing_ansi(void **state)
{
    struct fixture *fx = *state;
    char *path = path_in(fx, "a.log");
    write_raw(fx, "a.log", "old\n", 4);
    wmi_object *lc = consumer(path, "%ProcessName%", "{\"IsUnicode\": true}");
    struct wmi_unbound_object_sink *sink = find(fx, lc);
    assert_int_equal(indicate(sink, lc, 1, "new", 0, 1), WBEM_S_NO_ERROR);
    assert_file(fx, "a.log", "old\nnew1\n");
    sink->release(sink);
    wmi_object_unref(lc);
    free(path);
}

/* A UTF-16LE file stays UTF-16LE when IsUnicode is FALSE. */
static void
test_existing_unicode_kept(void **state)
{
    struct fixture *fx = *state;
    char *path = path_in(fx, "w.log");
    static const unsigned char old[] = {0xFF, 0xFE, 'o', 0, '\n', 0};
    write_raw(fx, "w.log", old, sizeof old);
    wmi_object *lc = consumer(path, "%ProcessName%", "");
    struct wmi_unbound_object_sink *sink = find(fx, lc);
    assert_int_equal(indicate(sink, lc, 1, "n", 0, 1), WBEM_S_NO_ERROR);
    static const unsigned char want[] = {0xFF, 0xFE, 'o', 0, '\n', 0, 'n', 0, '1', 0, '\n', 0};
    size_t len;
    char *got = slurp(path, &len);
    assert_int_equal(len, sizeof want);
    assert_memory_equal(got, want, sizeof want);
    free(got);
    sink->release(sink);
    wmi_object_unref(lc);
    free(path);
}

/* A rotated UTF-16 file: the backup keeps its BOM, the new primary gets one. */
static void
test_unicode_rotation(void **state)
{
    struct fixture *fx = *state;
    char *path = path_in(fx, "U.LOG");
    wmi_object *lc = consumer(path, "%ProcessName%", "{\"IsUnicode\": true, \"MaximumFileSize\": 4}");
    struct wmi_unbound_object_sink *sink = find(fx, lc);
    assert_int_equal(indicate(sink, lc, 2, "", 0, 1), WBEM_S_NO_ERROR);
    static const unsigned char one[] = {0xFF, 0xFE, '1', 0, '\n', 0};
    static const unsigned char two[] = {0xFF, 0xFE, '2', 0, '\n', 0};
    char *bak = path_in(fx, "U.001");
    size_t len;
    char *got = slurp(bak, &len);
    assert_int_equal(len, sizeof one);
    assert_memory_equal(got, one, sizeof one);
    free(got);
    got = slurp(path, &len);
    assert_int_equal(len, sizeof two);
    assert_memory_equal(got, two, sizeof two);
    free(got);
    sink->release(sink);
    wmi_object_unref(lc);
    free(path);
    free(bak);
}

/* logrotate moved the file away: a new one is started (checked once a second). */
static void
test_external_rotation(void **state)
{
    struct fixture *fx = *state;
    char *path = path_in(fx, "rot.log");
    char *moved = path_in(fx, "rot.log.1");
    wmi_object *lc = consumer(path, "%ProcessName%", "");
    struct wmi_unbound_object_sink *sink = find(fx, lc);
    assert_int_equal(indicate(sink, lc, 1, "a", 0, 1), WBEM_S_NO_ERROR);
    assert_int_equal(rename(path, moved), 0);
    struct timespec ts = {1, 100000000};
    nanosleep(&ts, NULL);
    assert_int_equal(indicate(sink, lc, 1, "b", 0, 2), WBEM_S_NO_ERROR);
    assert_file(fx, "rot.log.1", "a1\n");
    assert_file(fx, "rot.log", "b2\n");
    /* and after a delete */
    assert_int_equal(unlink(path), 0);
    nanosleep(&ts, NULL);
    assert_int_equal(indicate(sink, lc, 1, "c", 0, 3), WBEM_S_NO_ERROR);
    assert_file(fx, "rot.log", "c3\n");
    sink->release(sink);
    wmi_object_unref(lc);
    free(path);
    free(moved);
}

struct writer {
    struct wmi_unbound_object_sink *sink;
    const wmi_object *lc;
    int tag;
    int failures;
};

static void *
writer_thread(void *p)
{
    struct writer *w = p;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "w%d-", w->tag);
    for (int i = 0; i < 100; i++)
        if (indicate(w->sink, w->lc, 10, prefix, 5, i * 10) != WBEM_S_NO_ERROR)
            w->failures++;
    return NULL;
}

/* Two logical consumers naming one file (spelled differently) share it:
 * concurrent writes and rotations lose and tear no line. */
static void
test_shared_file(void **state)
{
    struct fixture *fx = *state;
    char *p1 = path_in(fx, "shared-file.log");
    char *p2 = path_in(fx, ".//shared-file.log");
    wmi_object *lc1 = consumer(p1, "%ProcessName%", "{\"MaximumFileSize\": 2000}");
    wmi_object *lc2 = consumer(p2, "%ProcessName%", "{\"MaximumFileSize\": 2000}");
    struct wmi_unbound_object_sink *s1 = find(fx, lc1), *s2 = find(fx, lc2);
    struct writer w1 = {s1, lc1, 1, 0}, w2 = {s2, lc2, 2, 0};
    pthread_t t1, t2;
    assert_int_equal(pthread_create(&t1, NULL, writer_thread, &w1), 0);
    assert_int_equal(pthread_create(&t2, NULL, writer_thread, &w2), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    assert_int_equal(w1.failures, 0);
    assert_int_equal(w2.failures, 0);

    /* 2 x 1000 lines of 9 bytes, in shared-file.log and shared-file.log001.. */
    int seen[2][1000];
    memset(seen, 0, sizeof seen);
    int files = 0;
    for (int k = 0; k <= 999; k++) {
        char name[32];
        if (k == 0)
            snprintf(name, sizeof name, "shared-file.log");
        else
            snprintf(name, sizeof name, "shared-file.log%03d", k);
        char *p = path_in(fx, name);
        size_t len;
        char *got = slurp(p, &len);
        free(p);
        if (got == NULL)
            continue;
        files++;
        assert_true(k == 0 || len >= 2000);
        assert_true(len < 2000 + 9 * 10 + 9);
        for (char *line = got; *line;) {
            int w, n;
            assert_int_equal(sscanf(line, "w%d-%05d\n", &w, &n), 2);
            assert_true(w == 1 || w == 2);
            assert_true(n >= 0 && n < 1000);
            assert_int_equal(line[8], '\n');
            seen[w - 1][n]++;
            line += 9;
        }
        free(got);
    }
    assert_true(files >= 9); /* 18000 bytes in files of ~2000 */
    for (int w = 0; w < 2; w++)
        for (int n = 0; n < 1000; n++)
            assert_int_equal(seen[w][n], 1);

    s1->release(s1);
    /* the other consumer keeps the shared file */
    assert_int_equal(indicate(s2, lc2, 1, "last", 0, 0), WBEM_S_NO_ERROR);
    s2->release(s2);
    wmi_object_unref(lc1);
    wmi_object_unref(lc2);
    free(p1);
    free(p2);
}

/* Settings that cannot work are refused by find_consumer; a NULL Text
 * writes empty lines. */
static void
test_find_consumer_settings(void **state)
{
    struct fixture *fx = *state;
    struct wmi_unbound_object_sink *sink = (struct wmi_unbound_object_sink *)&sink;
    wmi_object *lc = object_from("{\"__CLASS\":\"LogFileEventConsumer\",\"Name\":\"nofile\"}");
    assert_int_equal(g_ops->find_consumer(fx->provider, lc, &sink), WBEM_E_INVALID_PARAMETER);
    assert_null(sink);
    wmi_object_unref(lc);

    lc = consumer("", "%X%", "");
    assert_int_equal(g_ops->find_consumer(fx->provider, lc, &sink), WBEM_E_INVALID_PARAMETER);
    wmi_object_unref(lc);

    char *dir = path_in(fx, "d/");
    lc = consumer(dir, "%X%", "");
    assert_int_equal(g_ops->find_consumer(fx->provider, lc, &sink), WBEM_E_INVALID_PARAMETER);
    wmi_object_unref(lc);
    free(dir);
    assert_true(g_log_count[WMI_LOG_ERR] >= 3);

    char *path = path_in(fx, "notext.log");
    lc = consumer(path, NULL, "");
    sink = find(fx, lc);
    assert_int_equal(indicate(sink, lc, 2, "x", 0, 0), WBEM_S_NO_ERROR);
    assert_file(fx, "notext.log", "\n\n");
    sink->release(sink);
    wmi_object_unref(lc);
    free(path);
}

/* FileMode: a file the consumer creates gets exactly that mode (0640 when
 * unset) whatever the umask; an existing file keeps its own; a bad one is
 * refused at find_consumer. */
static void
test_file_mode(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        const char *file, *extra;
        mode_t umask_, want;
    } cases[] = {
        {"default.log", "", 0, 0640},
        {"default077.log", "", 077, 0640},
        {"own.log", "{\"FileMode\": \"0600\"}", 0, 0600},
        {"wide.log", "{\"FileMode\": \"644\"}", 077, 0644},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *path = path_in(fx, cases[i].file);
        wmi_object *lc = consumer(path, "%ProcessName%", cases[i].extra);
        struct wmi_unbound_object_sink *sink = find(fx, lc);
        mode_t old = umask(cases[i].umask_);
        assert_int_equal(indicate(sink, lc, 1, "m", 0, 1), WBEM_S_NO_ERROR);
        umask(old);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        if ((st.st_mode & 07777) != cases[i].want)
            fail_msg("%s: mode %o, want %o", cases[i].file, (unsigned)(st.st_mode & 07777), (unsigned)cases[i].want);
        sink->release(sink);
        wmi_object_unref(lc);
        free(path);
    }
    static const char *const bad[] = {"{\"FileMode\": \"0999\"}", "{\"FileMode\": \"4755\"}",
                                      "{\"FileMode\": \"\"}", "{\"FileMode\": \"rw\"}", "{\"FileMode\": \"0\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *path = path_in(fx, "bad.log");
        wmi_object *lc = consumer(path, "%X%", bad[i]);
        struct wmi_unbound_object_sink *sink = NULL;
        assert_int_equal(g_ops->find_consumer(fx->provider, lc, &sink), WBEM_E_INVALID_PARAMETER);
        assert_null(sink);
        wmi_object_unref(lc);
        free(path);
    }
    assert_no_file(fx, "bad.log");
}

/* ==================================================================== */

static int
load_plugin(void)
{
    const char *dir = getenv("WMI_PLUGIN_DIR");
    char path[4096];
    if (dir == NULL || dir[0] == '\0')
        dir = "../../build/plugins";
    snprintf(path, sizeof path, "%s/../lib/libwmievent.so.0", dir);
    g_lib = dlopen(path, RTLD_NOW | RTLD_GLOBAL); /* may be found otherwise */
    snprintf(path, sizeof path, "%s/logfile.so", dir);
    g_plugin_so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (g_plugin_so == NULL) {
        fprintf(stderr, "test_logfile: %s\n", dlerror());
        return -1;
    }
    wmi_plugin_entry_fn entry = entry_of(g_plugin_so);
    if (entry == NULL) {
        fprintf(stderr, "test_logfile: %s\n", dlerror());
        return -1;
    }
    g_plugin = entry(WMI_PLUGIN_ABI_MAJOR);
    if (g_plugin == NULL || g_plugin->consumer_provider == NULL) {
        fprintf(stderr, "test_logfile: the plugin refused ABI %d\n", WMI_PLUGIN_ABI_MAJOR);
        return -1;
    }
    g_ops = g_plugin->consumer_provider;
    return 0;
}

int
main(void)
{
    if (load_plugin() != 0)
        return 1;
    g_schema = wmi_schema_new();
    json_t *cls = json_loads("{\"__CLASS\":\"Tlf_Process\",\"__PROPERTIES\":{"
                             "\"Handle\":{\"CIMType\":\"string\",\"Key\":true},"
                             "\"Name\":\"string\",\"ProcessId\":\"uint32\"}}",
                             0, NULL);
    if (g_schema == NULL || cls == NULL ||
        WMI_FAILED(wmi_schema_add_class_json(g_schema, cls, NULL)))
        return 1;
    json_decref(cls);
    g_host.schema = g_schema;

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry),
        cmocka_unit_test_setup_teardown(test_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_embedded_template, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access_denied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_83, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_83_noext, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_long_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_after_999, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unlimited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_maximum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unicode_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unicode_existing_ansi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_existing_unicode_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unicode_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_external_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_find_consumer_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_mode, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    wmi_schema_free(g_schema);
    /* The plugin stays loaded: unloading it under ASan hides leak origins. */
    (void)g_lib;
    return rc;
}
