/*
 * null.c - a consumer provider that drops every event, for benchmarks.
 *
 * Consumer class Bench_NullConsumer (defined by the bench config, see
 * tests/bench/mkconf.py): Name (key) and CounterFile.  find_consumer maps
 * CounterFile (8 bytes, created or truncated) and indicate_to_consumer adds
 * the number of events it was handed to the 64-bit counter in it, so that
 * the bench driver (tests/bench/bench_socket.c) can see, by polling the
 * same mapping, when every expected event has been delivered, without
 * asking the daemon (a Stats request would perturb what is measured).
 *
 * It does nothing with the events themselves: what is measured is socket
 * ingest, JSON parse, object build, routing, WQL and queueing.
 *
 * Built by tests/bench/run.sh:
 *   cc -shared -fPIC -O2 -Iinclude tests/bench/plugins/null.c -L$B/lib -lwmievent
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <wmievent/plugin.h>

struct null_sink {
    struct wmi_unbound_object_sink base; /* first: the host sees this */
    _Atomic uint64_t *counter;           /* in the mapped CounterFile */
    uint64_t local;                      /* when there is no CounterFile */
};

static wmi_status
null_indicate(struct wmi_unbound_object_sink *self, const wmi_object *logical_consumer, size_t n,
              wmi_object *const *events)
{
    struct null_sink *s = (struct null_sink *)(void *)self;
    (void)logical_consumer;
    (void)events;
    if (s->counter != NULL)
        atomic_fetch_add_explicit(s->counter, (uint64_t)n, memory_order_release);
    else
        s->local += n;
    return WBEM_S_NO_ERROR;
}

static void
null_release(struct wmi_unbound_object_sink *self)
{
    struct null_sink *s = (struct null_sink *)(void *)self;
    if (s->counter != NULL)
        munmap((void *)s->counter, sizeof *s->counter);
    free(s);
}

static wmi_status
null_find_consumer(void *provider, const wmi_object *lc, struct wmi_unbound_object_sink **sink)
{
    const char *path = NULL;
    (void)provider;
    struct null_sink *s = calloc(1, sizeof *s);
    if (s == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    s->base.indicate_to_consumer = null_indicate;
    s->base.release = null_release;
    if (wmi_object_get_string(lc, "CounterFile", &path) == WBEM_S_NO_ERROR && path != NULL && path[0]) {
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || ftruncate(fd, sizeof(uint64_t)) != 0) {
            if (fd >= 0)
                close(fd);
            free(s);
            return WBEM_E_INVALID_PARAMETER;
        }
        void *m = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        if (m == MAP_FAILED) {
            free(s);
            return WBEM_E_FAILED;
        }
        s->counter = m;
    }
    *sink = &s->base;
    return WBEM_S_NO_ERROR;
}

static wmi_status
null_initialize(const struct wmi_host *host, const wmi_object *registration, void **provider)
{
    (void)host;
    (void)registration;
    *provider = NULL;
    return WBEM_S_NO_ERROR;
}

static void
null_shutdown(void *provider)
{
    (void)provider;
}

static const struct wmi_event_consumer_provider null_ops = {
    .max_batch = 1024, /* as LogFileEventConsumer */
    .deadline_ms = 0,
    .initialize = null_initialize,
    .find_consumer = null_find_consumer,
    .shutdown = null_shutdown,
};

static const struct wmi_plugin null_plugin = {
    WMI_PLUGIN_DESCRIPTOR("benchnull", "1.0"),
    .consumer_provider = &null_ops,
    .event_provider = NULL,
};

const struct wmi_plugin *
wmi_plugin_entry(uint32_t host_abi_major)
{
    if (host_abi_major != WMI_PLUGIN_ABI_MAJOR)
        return NULL;
    return &null_plugin;
}
