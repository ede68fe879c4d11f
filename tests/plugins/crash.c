/*
 * crash.c - the recording consumer of record.c, misbehaving on cue, for
 * the isolated hosting tests (tests/integration/t_hosting.py).  Before
 * recording a batch, IndicateToConsumer looks at each event's Message:
 *
 *   "crash"       abort(): the process that runs the plugin dies of SIGABRT
 *                 (abort, not SIGSEGV, so that AddressSanitizer builds stay
 *                 quiet about it);
 *   "crash once"  the same, but only the first time: a marker file
 *                 <Filename>.crashed remembers it, so the redelivery of the
 *                 batch to a restarted host succeeds;
 *   "hang"        sleeps forever.
 *
 * Every other batch is recorded as record.c does.  max_batch is 4.
 */
#include <signal.h>

#define REC_MAX_BATCH 4
#define REC_NAME "crash"
/* record.c's own entry point and descriptor stay, under another name. */
#define wmi_plugin_entry record_plugin_entry
#include "record.c"
#undef wmi_plugin_entry

__attribute__((visibility("default")))
const struct wmi_plugin *wmi_plugin_entry(uint32_t host_abi_major);

static wmi_status
crash_indicate(struct wmi_unbound_object_sink *self, const wmi_object *logical_consumer, size_t n,
               wmi_object *const *events)
{
    struct rec_sink *s = (struct rec_sink *)self;
    for (size_t i = 0; i < n; i++) {
        const char *msg = NULL;
        if (wmi_object_get_string(events[i], "Message", &msg) != WBEM_S_NO_ERROR)
            continue;
        if (strcmp(msg, "crash") == 0)
            abort();
        if (strcmp(msg, "hang") == 0)
            for (;;)
                pause();
        if (strcmp(msg, "crash once") == 0) {
            char marker[4096];
            snprintf(marker, sizeof marker, "%s.crashed", s->filename);
            int fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (fd >= 0) {
                close(fd);
                abort();
            }
        }
    }
    return rec_indicate(self, logical_consumer, n, events);
}

static wmi_status
crash_find_consumer(void *provider, const wmi_object *lc, struct wmi_unbound_object_sink **sink)
{
    wmi_status st = rec_find_consumer(provider, lc, sink);
    if (st == WBEM_S_NO_ERROR)
        (*sink)->indicate_to_consumer = crash_indicate;
    return st;
}

static const struct wmi_event_consumer_provider crash_provider = {
    .max_batch = REC_MAX_BATCH,
    .deadline_ms = 0,
    .initialize = rec_initialize,
    .find_consumer = crash_find_consumer,
    .shutdown = rec_shutdown,
};

static const struct wmi_plugin crash_plugin = {
    WMI_PLUGIN_DESCRIPTOR(REC_NAME, "1.0"),
    .consumer_provider = &crash_provider,
    .event_provider = NULL,
};

const struct wmi_plugin *
wmi_plugin_entry(uint32_t host_abi_major)
{
    if (host_abi_major != WMI_PLUGIN_ABI_MAJOR)
        return NULL;
    return &crash_plugin;
}
