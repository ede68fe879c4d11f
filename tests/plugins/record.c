/*
 * record.c - a test consumer provider that records what it is given.
 *
 * Serves a consumer class defined by the test's own config, for example
 *
 *   {"__GENUS": 1, "__CLASS": "Test_RecordConsumer", "__SUPERCLASS": "__EventConsumer",
 *    "__PROPERTIES": {"Name": {"CIMType": "string", "Key": true},
 *                     "Filename": "string", "DelayMs": "uint32"}}
 *
 * Each IndicateToConsumer call sleeps DelayMs (0 by default: a slow consumer
 * makes events queue up, so that the host batches them and back-pressure
 * engages), then appends one line per event to Filename:
 *
 *   {"n": <events in this call>, "i": <index in the call>, "event": {...}}
 *
 * so a test can check delivery, order, and the batch sizes the host chose.
 * Each line also carries "tid", the calling thread, and "main", whether
 * that is the daemon's main (loop) thread: synchronous delivery runs there.
 * With SlowCalls (uint32) set, only the first SlowCalls calls sleep.
 * max_batch is REC_MAX_BATCH (16); slow.c builds this same file with 1.
 *
 * Lifecycle log: when the environment variable WMI_TEST_RECORD_CALLS names
 * a file (the daemon's environment, which wmieventd-host inherits), every
 * initialize, find_consumer, release and shutdown appends one line to it,
 * with one write():
 *
 *   {"call":"initialize","provider":"<Provider path>","pid":N,"t":ms}
 *   {"call":"find_consumer","provider":..,"consumer":"<Name>","pid":N,"t":ms}
 *   {"call":"release","provider":..,"consumer":"<Name>","pid":N,"t":ms}
 *   {"call":"shutdown","provider":..,"pid":N,"t":ms}
 *
 * "provider" is the Provider path of the registration it was initialized
 * with, so that several providers built from this file keep apart; "t" is
 * CLOCK_MONOTONIC in ms.  Without the variable nothing is written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "wmievent/object.h"
#include "wmievent/plugin.h"
#include "wmievent/status.h"

#ifndef REC_MAX_BATCH
#define REC_MAX_BATCH 16
#endif
#ifndef REC_NAME
#define REC_NAME "record"
#endif

struct rec_provider {
    const struct wmi_host *host;
    char *name;                  /* the registration's Provider path */
    struct rec_sink *shared;     /* the one sink of consumers with SharedSink = TRUE */
};

struct rec_sink {
    struct wmi_unbound_object_sink base; /* first: the host sees this */
    struct rec_provider *provider;
    char *consumer;              /* the logical consumer's Name */
    char *filename;
    uint64_t delay_ms;
    uint64_t slow_calls;         /* 0: every call sleeps */
    uint64_t calls;
    bool shared;
};

static void
sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int
write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One line of the lifecycle log (WMI_TEST_RECORD_CALLS), if any. */
static void
rec_log_call(const char *call, const struct rec_provider *p, const char *consumer)
{
    const char *path = getenv("WMI_TEST_RECORD_CALLS");
    if (path == NULL || path[0] == '\0')
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    json_t *o = json_pack("{sssssIsI}", "call", call, "provider", p != NULL && p->name != NULL ? p->name : "",
                          "pid", (json_int_t)getpid(), "t",
                          (json_int_t)ts.tv_sec * 1000 + (json_int_t)(ts.tv_nsec / 1000000));
    if (o == NULL)
        return;
    if (consumer != NULL)
        json_object_set_new(o, "consumer", json_string(consumer));
    char *line = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (line == NULL)
        return;
    size_t len = strlen(line);
    char *buf = malloc(len + 2);
    if (buf != NULL) {
        memcpy(buf, line, len);
        buf[len] = '\n';
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            (void)write_all(fd, buf, len + 1);
            close(fd);
        }
    }
    free(buf);
    free(line);
}

static wmi_status
rec_indicate(struct wmi_unbound_object_sink *self, const wmi_object *logical_consumer, size_t n,
             wmi_object *const *events)
{
    struct rec_sink *s = (struct rec_sink *)self;
    (void)logical_consumer;
    s->calls++;
    if (s->delay_ms > 0 && (s->slow_calls == 0 || s->calls <= s->slow_calls))
        sleep_ms(s->delay_ms);
    long tid = (long)gettid();
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (mem == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    for (size_t i = 0; i < n; i++) {
        char *ev = json_dumps(wmi_object_json(events[i]), JSON_COMPACT);
        fprintf(mem, "{\"n\":%zu,\"i\":%zu,\"tid\":%ld,\"main\":%s,\"event\":%s}\n", n, i, tid,
                tid == (long)getpid() ? "true" : "false", ev ? ev : "null");
        free(ev);
    }
    fclose(mem);
    int fd = open(s->filename, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(buf);
        return WBEM_E_ACCESS_DENIED;
    }
    /* One write per call, so a reader sees whole batches. */
    int rc = write_all(fd, buf, len);
    close(fd);
    free(buf);
    return rc == 0 ? WBEM_S_NO_ERROR : WBEM_E_FAILED;
}

static void
rec_release(struct wmi_unbound_object_sink *self)
{
    struct rec_sink *s = (struct rec_sink *)self;
    rec_log_call("release", s->provider, s->consumer);
    if (s->shared && s->provider->shared == s)
        s->provider->shared = NULL;
    free(s->consumer);
    free(s->filename);
    free(s);
}

static wmi_status
rec_initialize(const struct wmi_host *host, const wmi_object *registration, void **provider)
{
    struct rec_provider *p = calloc(1, sizeof *p);
    const char *name = NULL;
    if (p == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    p->host = host;
    if (registration != NULL && wmi_object_get_string(registration, "Provider", &name) == WBEM_S_NO_ERROR &&
        name != NULL)
        p->name = strdup(name);
    rec_log_call("initialize", p, NULL);
    *provider = p;
    return WBEM_S_INITIALIZED;
}

static wmi_status
rec_find_consumer(void *provider, const wmi_object *lc, struct wmi_unbound_object_sink **sink)
{
    struct rec_provider *p = provider;
    const struct wmi_host *host = p->host;
    const char *filename = NULL;
    const char *name = NULL;
    uint64_t delay = 0;

    if (wmi_object_get_string(lc, "Name", &name) != WBEM_S_NO_ERROR)
        name = NULL;
    rec_log_call("find_consumer", p, name != NULL ? name : "");

    if (wmi_object_get_string(lc, "Filename", &filename) != WBEM_S_NO_ERROR || filename[0] == '\0') {
        host->log(host, WMI_LOG_ERR, "%s: Filename is not set", wmi_object_class_name(lc));
        return WBEM_E_INVALID_PARAMETER;
    }
    if (WMI_FAILED(wmi_object_get_uint64(lc, "DelayMs", &delay)))
        delay = 0;
    uint64_t slow_calls = 0;
    if (WMI_FAILED(wmi_object_get_uint64(lc, "SlowCalls", &slow_calls)))
        slow_calls = 0;
    /* SharedSink (boolean, optional): every such consumer gets the same
     * physical consumer, released once, as plugins that serve many
     * logical consumers through one sink do. */
    bool shared = false;
    if (WMI_FAILED(wmi_object_get_boolean(lc, "SharedSink", &shared)))
        shared = false;
    if (shared && p->shared != NULL) {
        *sink = &p->shared->base;
        return WBEM_S_NO_ERROR;
    }
    struct rec_sink *s = calloc(1, sizeof *s);
    if (s == NULL || (s->filename = strdup(filename)) == NULL) {
        free(s);
        return WBEM_E_OUT_OF_MEMORY;
    }
    if (shared) {
        s->shared = true;
        p->shared = s;
    }
    s->provider = p;
    s->consumer = strdup(name != NULL ? name : "");
    s->delay_ms = delay;
    s->slow_calls = slow_calls;
    s->base.indicate_to_consumer = rec_indicate;
    s->base.release = rec_release;
    *sink = &s->base;
    return WBEM_S_NO_ERROR;
}

static void
rec_shutdown(void *provider)
{
    struct rec_provider *p = provider;
    rec_log_call("shutdown", p, NULL);
    free(p->name);
    free(p);
}

static const struct wmi_event_consumer_provider rec_provider = {
    .max_batch = REC_MAX_BATCH,
    .deadline_ms = 0,
    .initialize = rec_initialize,
    .find_consumer = rec_find_consumer,
    .shutdown = rec_shutdown,
};

static const struct wmi_plugin rec_plugin = {
    WMI_PLUGIN_DESCRIPTOR(REC_NAME, "1.0"),
    .consumer_provider = &rec_provider,
    .event_provider = NULL,
};

const struct wmi_plugin *
wmi_plugin_entry(uint32_t host_abi_major)
{
    if (host_abi_major != WMI_PLUGIN_ABI_MAJOR)
        return NULL;
    return &rec_plugin;
}
