/*
 * evprov.c - a scriptable test event provider (ABI 1.1).
 *
 * Integration tests load it with a __Win32Provider whose Library is
 * evprov.so and an __EventProviderRegistration naming that provider, and
 * then drive and observe every part of the event provider ABI through two
 * files in the directory named by the daemon's environment variable
 * WMI_TEST_EVPROV_DIR:
 *
 *   $DIR/<name>.log   one JSON object per line, appended with one write()
 *   $DIR/<name>.cmd   a FIFO the provider reads commands from
 *
 * <name> is the Name key of the registration's Provider path
 * (__Win32Provider.Name="TestProv" gives TestProv), or the whole path when
 * it does not parse, with every character outside [A-Za-z0-9._-] replaced
 * by "_", so that two providers in one daemon keep apart.  Nothing in $DIR
 * is ever removed: the FIFO outlives the provider, so a reload or an idle
 * unload finds it again.  Without WMI_TEST_EVPROV_DIR the provider works
 * (AccessCheck included) but logs nothing and takes no commands.
 *
 * Every log line carries "t", CLOCK_MONOTONIC in ms.  Calls from the host
 * also carry "main" (whether the call came on the process's main thread,
 * which in wmieventd is the loop thread):
 *
 *   {"call":"initialize","provider":"<Provider path>","queries":[...],
 *    "abi_minor":2,"host_size":N}
 *   {"call":"initialize","fail":true}          (failure injected, see below)
 *   {"call":"provide_events","commands":true}  the FIFO is watched from now
 *   {"call":"new_query","id":3,"language":"WQL","query":"..."}
 *   {"call":"cancel_query","id":3,"known":true} known: new_query had given it
 *   {"call":"access_check","language":"WQL","query":"...","sid":"S-1-22-1-1000",
 *    "answer":"WBEM_S_NO_ERROR"}
 *   {"call":"shutdown"}                        the last line of an instance
 *
 * AccessCheck denies (WBEM_E_ACCESS_DENIED) every query that contains the
 * text "DenyMe" and allows the rest.
 *
 * Failure injection: WMI_TEST_EVPROV_FAIL is a comma-separated list of
 * [<name>:]<call>, where <call> is initialize, provide_events, new_query
 * or cancel_query; that call then returns WBEM_E_FAILED (for every
 * provider, or only for the one called <name>).
 *
 * Commands: one per line on the FIFO.  Write them while the provider is
 * loaded (after its "provide_events" line): with no reader, a writer's
 * open() blocks or fails with ENXIO.  Every command logs one reply line
 * {"reply":"<command>",...}; "status" is a wmi_status as a number and
 * "name" its WBEM name (null when unknown).  An "r" in front of a sink
 * command (rindicate, ractive, rsecurity, rsecurity-none, rbatching) sends
 * it to the restricted sink instead of the one from provide_events.
 *
 *   indicate <json>          build the event from <json> with
 *                            wmi_object_from_json(host->schema) and indicate
 *                            it; a JSON array indicates all of its elements
 *                            in one call.  Reply: status, name, "n"; when
 *                            building fails instead: "stage":"build", the
 *                            status of the build and "error".
 *   thread <count> <json>    a thread of the provider's own indicates the
 *                            event <count> times, one event per call, with
 *                            Seq = 0..count-1 when the class has a Seq
 *                            property; when done (or stopped by shutdown):
 *                            {"reply":"thread","count":N,"done":k,
 *                             "stopped":bool,"ms":M,
 *                             "statuses":{"WBEM_S_NO_ERROR":n,...}}
 *   garbage [<class>]        indicate what the host must refuse, one call
 *                            each: "unknown_class" (Garbage_Event, from a
 *                            private schema), "not_event" (an
 *                            __EventFilter instance) and, when <class> is
 *                            given, "wrong_type" (an instance of <class>
 *                            built against a private redefinition in which
 *                            one of its own properties has another type).
 *                            Each is {"status":..,"name":..}, or null.
 *   active                   is_active: status, name, "active":bool
 *   restrict <q>[ ;; <q>...] get_restricted_sink for these queries; on
 *                            success it replaces (and releases) the one
 *                            kept before, on failure the old one stays
 *   unrestrict               release the restricted sink
 *   security <sddl>          set_sink_security(<sddl>)
 *   security-none            set_sink_security(NULL)
 *   batching <flags> <bytes> <ms>
 *                            set_batching_parameters; <flags> is a number
 *                            (0x1 accepted) or BATCH_IF_NEEDED, MUST_BATCH,
 *                            MUST_NOT_BATCH (with or without WBEM_FLAG_)
 *   timer <ms> <json>        (re)start a repeating host timer; each tick
 *                            indicates the event (Seq = tick number when the
 *                            class has Seq) only if is_active says active.
 *                            A {"reply":"tick","active":bool,"ticks":n,
 *                            "indicated":m,"status":..,"name":..} line is
 *                            logged on the first tick and whenever the
 *                            activity or the indicate status changes.
 *   timer-stop               stop it; reply with ticks, active_ticks and
 *                            indicated
 *   queries                  {"reply":"queries","queries":{"<id>":"<query>"}}:
 *                            the subscriptions new_query announced and
 *                            cancel_query has not taken back
 *   echo <text>              {"reply":"echo","text":"<text>"}: a barrier, as
 *                            commands run in order
 *
 * A line that is not a command logs {"reply":"error","error":...,"line":...}.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "wmievent/object.h"
#include "wmievent/plugin.h"
#include "wmievent/status.h"

/* A command line longer than this is refused whole: tests send short ones. */
#define EVP_MAX_LINE (1024 * 1024)
/* Distinct statuses a thread tallies; more than a test could provoke. */
#define EVP_MAX_STATUSES 16

struct evprov;

struct evp_thread {
    struct evp_thread *next;
    struct evprov *p;
    pthread_t tid;
    uint64_t count;
    json_t *event;               /* the event's JSON form, owned */
};

struct evp_query {
    uint32_t id;
    char *query;
};

struct evprov {
    const struct wmi_host *host;
    char *name;                  /* sanitised provider name */
    char *provider_path;         /* the registration's Provider */
    int log_fd;                  /* -1 without WMI_TEST_EVPROV_DIR */
    int cmd_fd;                  /* the FIFO, read end */
    int dummy_fd;                /* a writer of our own: no EOF when tests close theirs */
    uint64_t watch;
    struct wmi_event_sink *sink;
    struct wmi_event_sink *rsink;

    char *line;                  /* the command line being read */
    size_t line_len, line_cap;
    bool line_too_long;          /* discarding up to the next newline */

    struct evp_thread *threads;  /* created and joined on the loop thread only */
    atomic_bool stopping;

    uint64_t timer;
    json_t *timer_event;
    uint64_t ticks, active_ticks, indicated;
    int last_active;             /* -1 before the first tick */
    wmi_status last_tick_status;

    struct evp_query *queries;
    size_t nqueries, queries_cap;

    bool fail_provide_events, fail_new_query, fail_cancel_query;
};

/* ------------------------------------------------------------------ */
/* Logging                                                             */
/* ------------------------------------------------------------------ */

static json_int_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool
on_main_thread(void)
{
    return gettid() == getpid();
}

/*
 * Append @line (stolen) with a timestamp.  One write() per line, on an
 * O_APPEND descriptor, so that lines from the loop and from provider
 * threads never interleave and a test polling the file sees whole lines.
 */
static void
evp_log(struct evprov *p, json_t *line)
{
    if (line == NULL)
        return;
    if (p->log_fd < 0) {
        json_decref(line);
        return;
    }
    json_object_set_new(line, "t", json_integer(now_ms()));
    char *text = json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(line);
    if (text == NULL)
        return;
    size_t n = strlen(text);
    char *buf = realloc(text, n + 2);
    if (buf == NULL) {
        free(text);
        return;
    }
    buf[n] = '\n';
    buf[n + 1] = '\0';
    ssize_t w;
    do
        w = write(p->log_fd, buf, n + 1);
    while (w < 0 && errno == EINTR);
    free(buf);
}

static json_t *
call_line(const char *call)
{
    return json_pack("{s:s, s:b}", "call", call, "main", on_main_thread());
}

static json_t *
reply_line(const char *reply)
{
    return json_pack("{s:s}", "reply", reply);
}

static json_t *
status_name_json(wmi_status st)
{
    const char *name = wmi_status_name(st);
    return name ? json_string(name) : json_null();
}

/* Set "status" and "name" of a reply. */
static void
put_status(json_t *o, wmi_status st)
{
    json_object_set_new(o, "status", json_integer((json_int_t)st));
    json_object_set_new(o, "name", status_name_json(st));
}

static json_t *
status_object(wmi_status st)
{
    json_t *o = json_object();
    if (o != NULL)
        put_status(o, st);
    return o;
}

static void
log_error(struct evprov *p, const char *error, const char *line)
{
    evp_log(p, json_pack("{s:s, s:s, s:s?}", "reply", "error", "error", error, "line", line));
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static char *
sanitize_name(const char *s)
{
    char *out = strdup(s[0] != '\0' ? s : "evprov");
    if (out == NULL)
        return NULL;
    for (char *c = out; *c != '\0'; c++) {
        bool ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
                  *c == '.' || *c == '_' || *c == '-';
        if (!ok)
            *c = '_';
    }
    /* "." and ".." would name the directory itself. */
    if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
        out[0] = '_';
    return out;
}

/* The Name key of a __Win32Provider path, or the whole path. */
static char *
provider_name(const char *path)
{
    char *cls = NULL;
    json_t *keys = NULL;
    char *name = NULL;
    if (WMI_SUCCEEDED(wmi_path_parse(path, &cls, &keys)) && json_is_object(keys)) {
        const char *k;
        json_t *v;
        json_object_foreach(keys, k, v) {
            if (strcasecmp(k, "Name") == 0 && json_is_string(v)) {
                name = sanitize_name(json_string_value(v));
                break;
            }
        }
    }
    free(cls);
    json_decref(keys);
    return name ? name : sanitize_name(path);
}

static char *
join_path(const char *dir, const char *name, const char *suffix)
{
    char *out = NULL;
    if (asprintf(&out, "%s/%s%s", dir, name, suffix) < 0)
        return NULL;
    return out;
}

/*
 * Whether WMI_TEST_EVPROV_FAIL asks @call of provider @name to fail.  The
 * list is read at initialize, so a test sets it once per daemon.
 */
static bool
should_fail(const char *name, const char *call)
{
    const char *spec = getenv("WMI_TEST_EVPROV_FAIL");
    if (spec == NULL || spec[0] == '\0')
        return false;
    char *copy = strdup(spec);
    if (copy == NULL)
        return false;
    bool hit = false;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item != NULL && !hit; item = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(item, ':');
        const char *what = item;
        if (colon != NULL) {
            *colon = '\0';
            if (strcmp(item, name) != 0)
                continue;
            what = colon + 1;
        }
        hit = strcmp(what, call) == 0;
    }
    free(copy);
    return hit;
}

static bool
class_has(const wmi_object *obj, const char *prop)
{
    return wmi_class_find_property(wmi_object_class(obj), prop) != NULL;
}

/* Build an event of the host's schema; on failure log a "build" reply. */
static wmi_status
build_event(struct evprov *p, const char *reply, const json_t *json, wmi_object **out)
{
    wmi_error err;
    memset(&err, 0, sizeof err);
    wmi_status st = wmi_object_from_json(p->host->schema, json, out, &err);
    if (WMI_FAILED(st)) {
        json_t *r = reply_line(reply);
        if (r != NULL) {
            json_object_set_new(r, "stage", json_string("build"));
            put_status(r, st);
            json_object_set_new(r, "error", json_string(err.text));
            json_object_set_new(r, "source", json_string(err.source));
        }
        evp_log(p, r);
    }
    return st;
}

/* ------------------------------------------------------------------ */
/* Threads                                                             */
/* ------------------------------------------------------------------ */

struct tally {
    wmi_status status[EVP_MAX_STATUSES];
    uint64_t count[EVP_MAX_STATUSES];
    size_t n;
};

static void
tally_add(struct tally *t, wmi_status st)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->status[i] == st) {
            t->count[i]++;
            return;
        }
    }
    if (t->n < EVP_MAX_STATUSES) {
        t->status[t->n] = st;
        t->count[t->n++] = 1;
    }
}

static json_t *
tally_json(const struct tally *t)
{
    json_t *o = json_object();
    for (size_t i = 0; o != NULL && i < t->n; i++) {
        const char *name = wmi_status_name(t->status[i]);
        char hex[16];
        if (name == NULL) {
            snprintf(hex, sizeof hex, "0x%08" PRIx32, t->status[i]);
            name = hex;
        }
        json_object_set_new(o, name, json_integer((json_int_t)t->count[i]));
    }
    return o;
}

static void *
thread_main(void *arg)
{
    struct evp_thread *th = arg;
    struct evprov *p = th->p;
    struct tally tally;
    memset(&tally, 0, sizeof tally);
    json_int_t t0 = now_ms();
    uint64_t done = 0;
    bool stopped = false;

    for (uint64_t i = 0; i < th->count; i++) {
        if (atomic_load(&p->stopping)) {
            stopped = true;
            break;
        }
        wmi_object *obj = NULL;
        wmi_status st = wmi_object_from_json(p->host->schema, th->event, &obj, NULL);
        if (WMI_SUCCEEDED(st) && class_has(obj, "Seq"))
            st = wmi_object_put_uint64(obj, "Seq", i);
        if (WMI_SUCCEEDED(st))
            st = p->sink->indicate(p->sink, 1, &obj);
        wmi_object_unref(obj);
        tally_add(&tally, st);
        done++;
    }
    json_t *r = json_pack("{s:s, s:I, s:I, s:b, s:I, s:o}", "reply", "thread", "count", (json_int_t)th->count,
                          "done", (json_int_t)done, "stopped", stopped, "ms", now_ms() - t0, "statuses",
                          tally_json(&tally));
    evp_log(p, r);
    return NULL;
}

static void
cmd_thread(struct evprov *p, const char *args)
{
    char *end = NULL;
    errno = 0;
    unsigned long long count = strtoull(args, &end, 10);
    if (errno != 0 || end == args || *end != ' ') {
        log_error(p, "usage: thread <count> <json>", args);
        return;
    }
    json_error_t jerr;
    json_t *event = json_loads(end + 1, 0, &jerr);
    if (event == NULL) {
        log_error(p, jerr.text, end + 1);
        return;
    }
    /* Check the event once here, so that a bad one is reported like indicate's. */
    wmi_object *probe = NULL;
    if (WMI_FAILED(build_event(p, "thread", event, &probe))) {
        json_decref(event);
        return;
    }
    wmi_object_unref(probe);
    struct evp_thread *th = calloc(1, sizeof *th);
    if (th == NULL) {
        json_decref(event);
        log_error(p, "out of memory", NULL);
        return;
    }
    th->p = p;
    th->count = count;
    th->event = event;
    int rc = pthread_create(&th->tid, NULL, thread_main, th);
    if (rc != 0) {
        json_decref(event);
        free(th);
        log_error(p, strerror(rc), NULL);
        return;
    }
    th->next = p->threads;
    p->threads = th;
}

static void
join_threads(struct evprov *p)
{
    atomic_store(&p->stopping, true);
    while (p->threads != NULL) {
        struct evp_thread *th = p->threads;
        p->threads = th->next;
        pthread_join(th->tid, NULL);
        json_decref(th->event);
        free(th);
    }
}

/* ------------------------------------------------------------------ */
/* Sink commands                                                       */
/* ------------------------------------------------------------------ */

/* The sink a command addresses; logs an error reply when there is none. */
static struct wmi_event_sink *
pick_sink(struct evprov *p, bool restricted, const char *reply)
{
    struct wmi_event_sink *s = restricted ? p->rsink : p->sink;
    if (s == NULL)
        evp_log(p, json_pack("{s:s, s:s}", "reply", reply, "error",
                             restricted ? "no restricted sink" : "no sink"));
    return s;
}

static void
cmd_indicate(struct evprov *p, bool restricted, const char *args)
{
    const char *reply = restricted ? "rindicate" : "indicate";
    struct wmi_event_sink *sink = pick_sink(p, restricted, reply);
    if (sink == NULL)
        return;
    json_error_t jerr;
    json_t *json = json_loads(args, JSON_DECODE_ANY, &jerr);
    if (json == NULL) {
        log_error(p, jerr.text, args);
        return;
    }
    size_t n = json_is_array(json) ? json_array_size(json) : 1;
    wmi_object **events = calloc(n ? n : 1, sizeof *events);
    size_t built = 0;
    bool ok = events != NULL && n > 0;
    for (size_t i = 0; ok && i < n; i++) {
        const json_t *one = json_is_array(json) ? json_array_get(json, i) : json;
        ok = WMI_SUCCEEDED(build_event(p, reply, one, &events[i]));
        if (ok)
            built++;
    }
    if (ok) {
        wmi_status st = sink->indicate(sink, n, events);
        json_t *r = reply_line(reply);
        if (r != NULL) {
            put_status(r, st);
            json_object_set_new(r, "n", json_integer((json_int_t)n));
        }
        evp_log(p, r);
    } else if (events == NULL || n == 0) {
        log_error(p, n == 0 ? "no events" : "out of memory", args);
    }
    for (size_t i = 0; i < built; i++)
        wmi_object_unref(events[i]);
    free(events);
    json_decref(json);
}

static void
cmd_active(struct evprov *p, bool restricted)
{
    const char *reply = restricted ? "ractive" : "active";
    struct wmi_event_sink *sink = pick_sink(p, restricted, reply);
    if (sink == NULL)
        return;
    wmi_status st = sink->is_active(sink);
    json_t *r = reply_line(reply);
    if (r != NULL) {
        put_status(r, st);
        json_object_set_new(r, "active", json_boolean(st == WBEM_S_NO_ERROR));
    }
    evp_log(p, r);
}

static void
cmd_restrict(struct evprov *p, const char *args)
{
    if (pick_sink(p, false, "restrict") == NULL)
        return;
    char *copy = strdup(args);
    const char **queries = calloc(strlen(args) / 2 + 2, sizeof *queries);
    if (copy == NULL || queries == NULL) {
        free(copy);
        free(queries);
        log_error(p, "out of memory", NULL);
        return;
    }
    /* Queries are separated by " ;; ", which WQL never contains. */
    size_t n = 0;
    char *q = copy;
    for (;;) {
        char *sep = strstr(q, ";;");
        if (sep != NULL)
            *sep = '\0';
        while (*q == ' ')
            q++;
        size_t len = strlen(q);
        while (len > 0 && q[len - 1] == ' ')
            q[--len] = '\0';
        if (len > 0)
            queries[n++] = q;
        if (sep == NULL)
            break;
        q = sep + 2;
    }
    struct wmi_event_sink *out = NULL;
    wmi_status st = p->sink->get_restricted_sink(p->sink, n, queries, &out);
    json_t *r = reply_line("restrict");
    if (r != NULL) {
        put_status(r, st);
        json_object_set_new(r, "n", json_integer((json_int_t)n));
    }
    if (WMI_SUCCEEDED(st) && out != NULL) {
        if (p->rsink != NULL)
            p->rsink->release(p->rsink);
        p->rsink = out;
    }
    evp_log(p, r);
    free(queries);
    free(copy);
}

static void
cmd_unrestrict(struct evprov *p)
{
    bool had = p->rsink != NULL;
    if (had)
        p->rsink->release(p->rsink);
    p->rsink = NULL;
    evp_log(p, json_pack("{s:s, s:b}", "reply", "unrestrict", "released", had));
}

static void
cmd_security(struct evprov *p, bool restricted, const char *sddl, const char *reply)
{
    struct wmi_event_sink *sink = pick_sink(p, restricted, reply);
    if (sink == NULL)
        return;
    wmi_status st = sink->set_sink_security(sink, sddl);
    json_t *r = reply_line(reply);
    if (r != NULL)
        put_status(r, st);
    evp_log(p, r);
}

static bool
parse_flags(const char *s, int32_t *out)
{
    if (strncmp(s, "WBEM_FLAG_", 10) == 0)
        s += 10;
    if (strcmp(s, "BATCH_IF_NEEDED") == 0)
        *out = WBEM_FLAG_BATCH_IF_NEEDED;
    else if (strcmp(s, "MUST_BATCH") == 0)
        *out = WBEM_FLAG_MUST_BATCH;
    else if (strcmp(s, "MUST_NOT_BATCH") == 0)
        *out = WBEM_FLAG_MUST_NOT_BATCH;
    else {
        char *end = NULL;
        errno = 0;
        long v = strtol(s, &end, 0);
        if (errno != 0 || end == s || *end != '\0' || v < INT32_MIN || v > INT32_MAX)
            return false;
        *out = (int32_t)v;
    }
    return true;
}

static void
cmd_batching(struct evprov *p, bool restricted, const char *args)
{
    const char *reply = restricted ? "rbatching" : "batching";
    char flags[64];
    unsigned long long bytes = 0, ms = 0;
    int32_t f = 0;
    if (sscanf(args, "%63s %llu %llu", flags, &bytes, &ms) != 3 || !parse_flags(flags, &f) ||
        bytes > UINT32_MAX || ms > UINT32_MAX) {
        log_error(p, "usage: batching <flags> <bytes> <ms>", args);
        return;
    }
    struct wmi_event_sink *sink = pick_sink(p, restricted, reply);
    if (sink == NULL)
        return;
    wmi_status st = sink->set_batching_parameters(sink, f, (uint32_t)bytes, (uint32_t)ms);
    json_t *r = reply_line(reply);
    if (r != NULL)
        put_status(r, st);
    evp_log(p, r);
}

/*
 * garbage: events the host must refuse, each in a call of its own so that
 * each status is the refusal of that one event.
 */
static wmi_status
indicate_one(struct evprov *p, wmi_object *obj)
{
    return p->sink->indicate(p->sink, 1, &obj);
}

/* A private schema with one class derived from __ExtrinsicEvent. */
static wmi_schema *
private_schema(const char *cls, const char *prop, const char *type)
{
    wmi_schema *s = wmi_schema_new();
    json_t *def = json_pack("{s:s, s:s, s:{s:s}}", "__CLASS", cls, "__SUPERCLASS", "__ExtrinsicEvent",
                            "__PROPERTIES", prop, type);
    if (s == NULL || def == NULL || WMI_FAILED(wmi_schema_add_class_json(s, def, NULL))) {
        wmi_schema_free(s);
        s = NULL;
    }
    json_decref(def);
    return s;
}

static json_t *
garbage_unknown_class(struct evprov *p)
{
    wmi_schema *s = private_schema("Garbage_Event", "Junk", "string");
    json_t *ev = json_pack("{s:s, s:s}", "__CLASS", "Garbage_Event", "Junk", "garbage");
    wmi_object *obj = NULL;
    json_t *out = json_null();
    if (s != NULL && ev != NULL && WMI_SUCCEEDED(wmi_object_from_json(s, ev, &obj, NULL))) {
        json_decref(out);
        out = status_object(indicate_one(p, obj));
    }
    wmi_object_unref(obj);
    json_decref(ev);
    wmi_schema_free(s);
    return out;
}

static json_t *
garbage_not_event(struct evprov *p)
{
    wmi_object *obj = NULL;
    json_t *out = json_null();
    if (WMI_SUCCEEDED(wmi_object_new(p->host->schema, "__EventFilter", &obj))) {
        json_decref(out);
        out = status_object(indicate_one(p, obj));
    }
    wmi_object_unref(obj);
    return out;
}

/*
 * An instance of @cls whose value does not fit the host's definition of
 * @cls: the object API checks every value against the object's own class,
 * so the only way to a wrong type is a private class of the same name in
 * which one of the host class's own properties has another type.
 */
static json_t *
garbage_wrong_type(struct evprov *p, const char *cls)
{
    const wmi_class *hc = wmi_schema_get_class(p->host->schema, cls);
    if (hc == NULL)
        return json_null();
    const wmi_property *prop = NULL;
    for (size_t i = 0; i < wmi_class_property_count(hc); i++) {
        const wmi_property *pr = wmi_class_property_at(hc, i);
        if (pr != NULL && pr->origin != NULL && strncmp(pr->origin, "__", 2) != 0) {
            prop = pr;
            break;
        }
    }
    if (prop == NULL)
        return json_null();
    bool was_string = prop->type == CIM_STRING;
    wmi_schema *s = private_schema(wmi_class_name(hc), prop->name, was_string ? "uint32" : "string");
    json_t *ev = json_pack("{s:s, s:o}", "__CLASS", wmi_class_name(hc), prop->name,
                           was_string ? json_integer(7) : json_string("garbage"));
    wmi_object *obj = NULL;
    json_t *out = json_null();
    if (s != NULL && ev != NULL && WMI_SUCCEEDED(wmi_object_from_json(s, ev, &obj, NULL))) {
        json_decref(out);
        out = status_object(indicate_one(p, obj));
        json_object_set_new(out, "property", json_string(prop->name));
    }
    wmi_object_unref(obj);
    json_decref(ev);
    wmi_schema_free(s);
    return out;
}

static void
cmd_garbage(struct evprov *p, const char *args)
{
    if (pick_sink(p, false, "garbage") == NULL)
        return;
    json_t *r = reply_line("garbage");
    if (r == NULL)
        return;
    json_object_set_new(r, "unknown_class", garbage_unknown_class(p));
    json_object_set_new(r, "not_event", garbage_not_event(p));
    json_object_set_new(r, "wrong_type", args[0] != '\0' ? garbage_wrong_type(p, args) : json_null());
    evp_log(p, r);
}

/* ------------------------------------------------------------------ */
/* Timer                                                               */
/* ------------------------------------------------------------------ */

static void
on_tick(void *arg)
{
    struct evprov *p = arg;
    bool active = p->sink->is_active(p->sink) == WBEM_S_NO_ERROR;
    wmi_status st = p->last_tick_status;
    p->ticks++;
    if (active) {
        p->active_ticks++;
        wmi_object *obj = NULL;
        st = wmi_object_from_json(p->host->schema, p->timer_event, &obj, NULL);
        if (WMI_SUCCEEDED(st) && class_has(obj, "Seq"))
            st = wmi_object_put_uint64(obj, "Seq", p->ticks - 1);
        if (WMI_SUCCEEDED(st))
            st = p->sink->indicate(p->sink, 1, &obj);
        wmi_object_unref(obj);
        if (st == WBEM_S_NO_ERROR)
            p->indicated++;
    }
    /* Log sparsely: a test wants the transitions, not every tick. */
    if (p->last_active != (int)active || st != p->last_tick_status) {
        json_t *r = json_pack("{s:s, s:b, s:I, s:I}", "reply", "tick", "active", active, "ticks",
                              (json_int_t)p->ticks, "indicated", (json_int_t)p->indicated);
        if (r != NULL)
            put_status(r, st);
        evp_log(p, r);
    }
    p->last_active = active;
    p->last_tick_status = st;
}

static void
timer_stop(struct evprov *p)
{
    if (p->timer != 0)
        p->host->timer_stop(p->host, p->timer);
    p->timer = 0;
    json_decref(p->timer_event);
    p->timer_event = NULL;
}

static void
cmd_timer(struct evprov *p, const char *args)
{
    char *end = NULL;
    errno = 0;
    unsigned long long ms = strtoull(args, &end, 10);
    if (errno != 0 || end == args || *end != ' ' || ms == 0) {
        log_error(p, "usage: timer <ms> <json>", args);
        return;
    }
    json_error_t jerr;
    json_t *event = json_loads(end + 1, 0, &jerr);
    if (event == NULL) {
        log_error(p, jerr.text, end + 1);
        return;
    }
    wmi_object *probe = NULL;
    if (WMI_FAILED(build_event(p, "timer", event, &probe))) {
        json_decref(event);
        return;
    }
    wmi_object_unref(probe);
    timer_stop(p);
    p->timer_event = event;
    p->ticks = p->active_ticks = p->indicated = 0;
    p->last_active = -1;
    p->last_tick_status = WBEM_S_NO_ERROR;
    p->timer = p->host->timer_start(p->host, ms, ms, on_tick, p);
    evp_log(p, json_pack("{s:s, s:b}", "reply", "timer", "started", p->timer != 0));
}

static void
cmd_timer_stop(struct evprov *p)
{
    bool had = p->timer != 0;
    timer_stop(p);
    evp_log(p, json_pack("{s:s, s:b, s:I, s:I, s:I}", "reply", "timer-stop", "stopped", had, "ticks",
                         (json_int_t)p->ticks, "active_ticks", (json_int_t)p->active_ticks, "indicated",
                         (json_int_t)p->indicated));
}

/* ------------------------------------------------------------------ */
/* Queries                                                             */
/* ------------------------------------------------------------------ */

static void
cmd_queries(struct evprov *p)
{
    json_t *qs = json_object();
    for (size_t i = 0; qs != NULL && i < p->nqueries; i++) {
        char id[16];
        snprintf(id, sizeof id, "%" PRIu32, p->queries[i].id);
        json_object_set_new(qs, id, json_string(p->queries[i].query));
    }
    evp_log(p, json_pack("{s:s, s:o}", "reply", "queries", "queries", qs ? qs : json_object()));
}

/* ------------------------------------------------------------------ */
/* The command FIFO                                                    */
/* ------------------------------------------------------------------ */

static bool
is_cmd(const char *word, size_t wlen, const char *name)
{
    return strlen(name) == wlen && memcmp(word, name, wlen) == 0;
}

static void
run_command(struct evprov *p, char *line)
{
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
        line[--len] = '\0';
    while (*line == ' ')
        line++;
    if (*line == '\0')
        return;
    size_t wlen = strcspn(line, " ");
    const char *args = line + wlen;
    while (*args == ' ')
        args++;
    bool r = line[0] == 'r' && !is_cmd(line, wlen, "restrict");
    const char *w = r ? line + 1 : line;
    size_t wl = r ? wlen - 1 : wlen;

    if (is_cmd(w, wl, "indicate"))
        cmd_indicate(p, r, args);
    else if (is_cmd(w, wl, "active"))
        cmd_active(p, r);
    else if (is_cmd(w, wl, "security"))
        cmd_security(p, r, args, r ? "rsecurity" : "security");
    else if (is_cmd(w, wl, "security-none"))
        cmd_security(p, r, NULL, r ? "rsecurity-none" : "security-none");
    else if (is_cmd(w, wl, "batching"))
        cmd_batching(p, r, args);
    else if (is_cmd(line, wlen, "restrict"))
        cmd_restrict(p, args);
    else if (is_cmd(line, wlen, "unrestrict"))
        cmd_unrestrict(p);
    else if (is_cmd(line, wlen, "thread"))
        cmd_thread(p, args);
    else if (is_cmd(line, wlen, "garbage"))
        cmd_garbage(p, args);
    else if (is_cmd(line, wlen, "timer"))
        cmd_timer(p, args);
    else if (is_cmd(line, wlen, "timer-stop"))
        cmd_timer_stop(p);
    else if (is_cmd(line, wlen, "queries"))
        cmd_queries(p);
    else if (is_cmd(line, wlen, "echo"))
        evp_log(p, json_pack("{s:s, s:s}", "reply", "echo", "text", args));
    else
        log_error(p, "unknown command", line);
}

static void
take_bytes(struct evprov *p, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            if (p->line_too_long)
                log_error(p, "line too long", NULL);
            else if (p->line_len > 0) {
                p->line[p->line_len] = '\0';
                run_command(p, p->line);
            }
            p->line_len = 0;
            p->line_too_long = false;
            continue;
        }
        if (p->line_too_long)
            continue;
        if (p->line_len + 1 >= p->line_cap) {
            size_t cap = p->line_cap ? p->line_cap * 2 : 4096;
            char *nl = cap <= EVP_MAX_LINE ? realloc(p->line, cap) : NULL;
            if (nl == NULL) {
                p->line_too_long = true;
                continue;
            }
            p->line = nl;
            p->line_cap = cap;
        }
        p->line[p->line_len++] = buf[i];
    }
}

static void
on_readable(void *arg, int fd)
{
    struct evprov *p = arg;
    char buf[4096];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r > 0) {
            take_bytes(p, buf, (size_t)r);
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        /* EAGAIN: drained.  0 cannot happen while our own writer is open. */
        break;
    }
}

/* ------------------------------------------------------------------ */
/* The provider                                                        */
/* ------------------------------------------------------------------ */

static void
evp_free(struct evprov *p)
{
    if (p->cmd_fd >= 0)
        close(p->cmd_fd);
    if (p->dummy_fd >= 0)
        close(p->dummy_fd);
    if (p->log_fd >= 0)
        close(p->log_fd);
    for (size_t i = 0; i < p->nqueries; i++)
        free(p->queries[i].query);
    free(p->queries);
    free(p->line);
    free(p->name);
    free(p->provider_path);
    free(p);
}

/* Open (creating if need be) the command FIFO; false with errno on failure. */
static bool
open_fifo(struct evprov *p, const char *path)
{
    if (mkfifo(path, 0600) != 0) {
        struct stat st;
        if (errno != EEXIST)
            return false;
        if (lstat(path, &st) != 0)
            return false;
        if (!S_ISFIFO(st.st_mode)) {
            errno = EEXIST;
            return false;
        }
    }
    p->cmd_fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (p->cmd_fd < 0)
        return false;
    /* Our own writer: without one, every test writer's close would make
     * the FIFO readable at EOF forever and the watch would spin. */
    p->dummy_fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    return p->dummy_fd >= 0;
}

static wmi_status
evp_initialize(const struct wmi_host *host, const wmi_object *registration, void **provider)
{
    /* The loop services came with ABI 1.1; an older host has no fd_watch. */
    if (host->size < offsetof(struct wmi_host, fd_unwatch) + sizeof host->fd_unwatch ||
        host->timer_start == NULL || host->timer_stop == NULL || host->fd_watch == NULL ||
        host->fd_unwatch == NULL) {
        host->log(host, WMI_LOG_ERR, "evprov: the host offers no loop services (ABI %u.%u, wmi_host of %zu bytes)",
                  host->abi_major, host->abi_minor, host->size);
        return WBEM_E_FAILED;
    }
    struct evprov *p = calloc(1, sizeof *p);
    if (p == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    p->host = host;
    p->log_fd = p->cmd_fd = p->dummy_fd = -1;
    p->last_active = -1;
    atomic_init(&p->stopping, false);

    const char *path = NULL;
    if (WMI_FAILED(wmi_object_get_string(registration, "Provider", &path)) || path == NULL)
        path = "";
    p->provider_path = strdup(path);
    p->name = provider_name(path);
    if (p->provider_path == NULL || p->name == NULL) {
        evp_free(p);
        return WBEM_E_OUT_OF_MEMORY;
    }

    const char *dir = getenv("WMI_TEST_EVPROV_DIR");
    if (dir != NULL && dir[0] != '\0') {
        char *log_path = join_path(dir, p->name, ".log");
        char *cmd_path = join_path(dir, p->name, ".cmd");
        bool ok = log_path != NULL && cmd_path != NULL;
        if (ok) {
            p->log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            if (p->log_fd < 0)
                host->log(host, WMI_LOG_ERR, "evprov: cannot open %s: %s", log_path, strerror(errno));
            else if (!open_fifo(p, cmd_path))
                host->log(host, WMI_LOG_ERR, "evprov: cannot open the FIFO %s: %s", cmd_path, strerror(errno));
            ok = p->log_fd >= 0 && p->dummy_fd >= 0;
        }
        free(log_path);
        free(cmd_path);
        if (!ok) {
            evp_free(p);
            return WBEM_E_FAILED;
        }
    } else {
        host->log(host, WMI_LOG_NOTICE, "evprov: WMI_TEST_EVPROV_DIR is not set: no log, no commands");
    }

    if (should_fail(p->name, "initialize")) {
        json_t *r = call_line("initialize");
        json_object_set_new(r, "fail", json_true());
        evp_log(p, r);
        evp_free(p);
        return WBEM_E_FAILED;
    }
    p->fail_provide_events = should_fail(p->name, "provide_events");
    p->fail_new_query = should_fail(p->name, "new_query");
    p->fail_cancel_query = should_fail(p->name, "cancel_query");

    json_t *r = call_line("initialize");
    if (r != NULL) {
        const json_t *ql = NULL;
        json_object_set_new(r, "provider", json_string(p->provider_path));
        if (WMI_SUCCEEDED(wmi_object_get_json(registration, "EventQueryList", &ql, NULL)) && ql != NULL)
            json_object_set_new(r, "queries", json_deep_copy(ql));
        json_object_set_new(r, "abi_minor", json_integer(host->abi_minor));
        json_object_set_new(r, "host_size", json_integer((json_int_t)host->size));
    }
    evp_log(p, r);
    *provider = p;
    return WBEM_S_INITIALIZED;
}

static wmi_status
evp_provide_events(void *provider, struct wmi_event_sink *sink)
{
    struct evprov *p = provider;
    if (sink == NULL || sink->size < offsetof(struct wmi_event_sink, release) + sizeof sink->release) {
        p->host->log(p->host, WMI_LOG_ERR, "evprov: the event sink is too small for ABI 1.1");
        return WBEM_E_FAILED;
    }
    p->sink = sink;
    if (p->fail_provide_events) {
        json_t *r = call_line("provide_events");
        json_object_set_new(r, "fail", json_true());
        evp_log(p, r);
        return WBEM_E_FAILED;
    }
    if (p->cmd_fd >= 0) {
        p->watch = p->host->fd_watch(p->host, p->cmd_fd, on_readable, p);
        if (p->watch == 0) {
            p->host->log(p->host, WMI_LOG_ERR, "evprov: cannot watch the command FIFO");
            return WBEM_E_FAILED;
        }
    }
    json_t *r = call_line("provide_events");
    json_object_set_new(r, "commands", json_boolean(p->watch != 0));
    evp_log(p, r);
    return WBEM_S_NO_ERROR;
}

static wmi_status
evp_new_query(void *provider, uint32_t id, const char *language, const char *query)
{
    struct evprov *p = provider;
    json_t *r = json_pack("{s:s, s:b, s:I, s:s?, s:s?}", "call", "new_query", "main", on_main_thread(), "id",
                          (json_int_t)id, "language", language, "query", query);
    if (p->fail_new_query) {
        json_object_set_new(r, "fail", json_true());
        evp_log(p, r);
        return WBEM_E_FAILED;
    }
    evp_log(p, r);
    if (p->nqueries == p->queries_cap) {
        size_t cap = p->queries_cap ? p->queries_cap * 2 : 8;
        struct evp_query *nq = realloc(p->queries, cap * sizeof *nq);
        if (nq == NULL)
            return WBEM_E_OUT_OF_MEMORY;
        p->queries = nq;
        p->queries_cap = cap;
    }
    char *copy = strdup(query ? query : "");
    if (copy == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    p->queries[p->nqueries].id = id;
    p->queries[p->nqueries].query = copy;
    p->nqueries++;
    return WBEM_S_NO_ERROR;
}

static wmi_status
evp_cancel_query(void *provider, uint32_t id)
{
    struct evprov *p = provider;
    bool known = false;
    for (size_t i = 0; i < p->nqueries; i++) {
        if (p->queries[i].id == id) {
            free(p->queries[i].query);
            p->queries[i] = p->queries[--p->nqueries];
            known = true;
            break;
        }
    }
    json_t *r = json_pack("{s:s, s:b, s:I, s:b}", "call", "cancel_query", "main", on_main_thread(), "id",
                          (json_int_t)id, "known", known);
    if (p->fail_cancel_query)
        json_object_set_new(r, "fail", json_true());
    evp_log(p, r);
    return p->fail_cancel_query ? WBEM_E_FAILED : WBEM_S_NO_ERROR;
}

static wmi_status
evp_access_check(void *provider, const char *language, const char *query, const char *creator_sid)
{
    struct evprov *p = provider;
    wmi_status answer = query != NULL && strstr(query, "DenyMe") != NULL ? WBEM_E_ACCESS_DENIED : WBEM_S_NO_ERROR;
    json_t *r = json_pack("{s:s, s:b, s:s?, s:s?, s:s?, s:o}", "call", "access_check", "main", on_main_thread(),
                          "language", language, "query", query, "sid", creator_sid, "answer",
                          status_name_json(answer));
    evp_log(p, r);
    return answer;
}

static void
evp_shutdown(void *provider)
{
    struct evprov *p = provider;
    /* Threads first: they indicate into the sink, which is valid until we return. */
    join_threads(p);
    timer_stop(p);
    if (p->watch != 0)
        p->host->fd_unwatch(p->host, p->watch);
    p->watch = 0;
    if (p->rsink != NULL)
        p->rsink->release(p->rsink);
    p->rsink = NULL;
    evp_log(p, call_line("shutdown"));
    evp_free(p);
}

static const struct wmi_event_provider evp_provider = {
    .initialize = evp_initialize,
    .provide_events = evp_provide_events,
    .new_query = evp_new_query,
    .cancel_query = evp_cancel_query,
    .access_check = evp_access_check,
    .shutdown = evp_shutdown,
};

static const struct wmi_plugin evp_plugin = {
    WMI_PLUGIN_DESCRIPTOR("evprov", "1.0"),
    .consumer_provider = NULL,
    .event_provider = &evp_provider,
};

const struct wmi_plugin *
wmi_plugin_entry(uint32_t host_abi_major)
{
    if (host_abi_major != WMI_PLUGIN_ABI_MAJOR)
        return NULL;
    return &evp_plugin;
}
