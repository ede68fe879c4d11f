/*
 * sample.c - SampleEventConsumer, a minimal out-of-tree consumer provider
 * for wmieventd.
 *
 * For every event routed to a SampleEventConsumer logical consumer it
 * appends the event's JSON form, one object per line, to the file named by
 * the consumer's Filename property.  It shows the whole plugin ABI
 * (wmievent-plugin(3)): the entry symbol, initialize, find_consumer
 * returning a physical consumer (struct wmi_unbound_object_sink),
 * indicate_to_consumer with batches, release and shutdown.
 *
 * Build: make            (needs only `pkg-config --cflags --libs wmievent`)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wmievent.h>

/* The physical consumer: one per logical consumer, holding its open file. */
struct sample_sink {
    struct wmi_unbound_object_sink base; /* first, so the host's pointer is ours */
    const struct wmi_host *host;
    int fd;
};

/* Write all of buf, retrying short writes and EINTR. */
static int
write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/*
 * Called on the sink's delivery thread, one call at a time for this sink.
 * The events are borrowed: we serialise them and keep nothing.
 */
static wmi_status
sample_indicate(struct wmi_unbound_object_sink *self, const wmi_object *logical_consumer,
                size_t n, wmi_object *const *events)
{
    struct sample_sink *s = (struct sample_sink *)self;
    (void)logical_consumer; /* settings were read in find_consumer */

    for (size_t i = 0; i < n; i++) {
        char *line = json_dumps(wmi_object_json(events[i]), JSON_COMPACT);
        if (line == NULL)
            return WBEM_E_OUT_OF_MEMORY;
        size_t len = strlen(line);
        line[len] = '\n'; /* replace the NUL: we write len + 1 bytes, no NUL */
        int rc = write_all(s->fd, line, len + 1);
        free(line);
        if (rc != 0) {
            s->host->log(s->host, WMI_LOG_ERR, "write: %s", strerror(errno));
            return WBEM_E_FAILED;
        }
    }
    return WBEM_S_NO_ERROR;
}

static void
sample_release(struct wmi_unbound_object_sink *self)
{
    struct sample_sink *s = (struct sample_sink *)self;
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}

/* FindConsumer: read the logical consumer's settings, open its file. */
static wmi_status
sample_find_consumer(void *provider, const wmi_object *logical_consumer,
                     struct wmi_unbound_object_sink **sink)
{
    const struct wmi_host *host = provider;
    const char *filename = NULL;

    if (wmi_object_get_string(logical_consumer, "Filename", &filename) != WBEM_S_NO_ERROR ||
        filename[0] == '\0') {
        host->log(host, WMI_LOG_ERR, "SampleEventConsumer: Filename is not set");
        return WBEM_E_INVALID_PARAMETER;
    }
    struct sample_sink *s = calloc(1, sizeof *s);
    if (s == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    s->base.indicate_to_consumer = sample_indicate;
    s->base.release = sample_release;
    s->host = host;
    s->fd = open(filename, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (s->fd < 0) {
        host->log(host, WMI_LOG_ERR, "SampleEventConsumer: %s: %s", filename, strerror(errno));
        free(s);
        return WBEM_E_ACCESS_DENIED;
    }
    *sink = &s->base;
    return WBEM_S_NO_ERROR;
}

/* IWbemProviderInit::Initialize: the host table is all the state we need. */
static wmi_status
sample_initialize(const struct wmi_host *host, const wmi_object *registration, void **provider)
{
    (void)registration;
    host->log(host, WMI_LOG_INFO, "sample consumer provider ready");
    *provider = (void *)(uintptr_t)host; /* borrowed until shutdown */
    return WBEM_S_INITIALIZED;
}

static void
sample_shutdown(void *provider)
{
    (void)provider; /* nothing allocated */
}

static const struct wmi_event_consumer_provider sample_provider = {
    .max_batch = 64,
    .deadline_ms = 0, /* host default, 100 ms */
    .initialize = sample_initialize,
    .find_consumer = sample_find_consumer,
    .shutdown = sample_shutdown,
};

static const struct wmi_plugin sample_plugin = {
    WMI_PLUGIN_DESCRIPTOR("sample", "1.0"),
    .consumer_provider = &sample_provider,
    .event_provider = NULL,
};

const struct wmi_plugin *
wmi_plugin_entry(uint32_t host_abi_major)
{
    if (host_abi_major != WMI_PLUGIN_ABI_MAJOR)
        return NULL;
    return &sample_plugin;
}
