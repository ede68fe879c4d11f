/*
 * bad_abi.c - a plugin built for a future ABI: its descriptor says
 * abi_major 99 whatever the host asks.  The host must refuse it with one
 * log line, before calling anything else in it.
 */
#include <stdint.h>
#include <stdlib.h>

#include "wmievent/object.h"
#include "wmievent/plugin.h"
#include "wmievent/status.h"

static wmi_status
ba_initialize(const struct wmi_host *host, const wmi_object *registration, void **provider)
{
    (void)host;
    (void)registration;
    (void)provider;
    abort(); /* the host must not call into a plugin of another ABI */
}

static wmi_status
ba_find_consumer(void *provider, const wmi_object *lc, struct wmi_unbound_object_sink **sink)
{
    (void)provider;
    (void)lc;
    (void)sink;
    abort();
}

static const struct wmi_event_consumer_provider ba_provider = {
    .initialize = ba_initialize,
    .find_consumer = ba_find_consumer,
};

static const struct wmi_plugin ba_plugin = {
    .abi_major = 99,
    .abi_minor = 0,
    .size = sizeof(struct wmi_plugin),
    .name = "bad_abi",
    .version = "99.0",
    .consumer_provider = &ba_provider,
};

const struct wmi_plugin *
wmi_plugin_entry(uint32_t host_abi_major)
{
    (void)host_abi_major;
    return &ba_plugin;
}
