/*
 * failing_consumer.c - a consumer provider whose IndicateToConsumer always
 * fails with WBEM_E_ACCESS_DENIED: the host must count and log the
 * failure and keep delivering to every other consumer.
 */
#include <stdint.h>
#include <stdlib.h>

/* huge_batch.c builds this file again with other values. */
#ifndef FC_MAX_BATCH
#define FC_MAX_BATCH 8
#define FC_NAME "failing_consumer"
#endif

#include "wmievent/object.h"
#include "wmievent/plugin.h"
#include "wmievent/status.h"

static wmi_status
fc_indicate(struct wmi_unbound_object_sink *self, const wmi_object *logical_consumer, size_t n,
            wmi_object *const *events)
{
    (void)self;
    (void)logical_consumer;
    (void)n;
    (void)events;
    return WBEM_E_ACCESS_DENIED;
}

static void
fc_release(struct wmi_unbound_object_sink *self)
{
    free(self);
}

static wmi_status
fc_initialize(const struct wmi_host *host, const wmi_object *registration, void **provider)
{
    (void)host;
    (void)registration;
    *provider = NULL;
    return WBEM_S_INITIALIZED;
}

static wmi_status
fc_find_consumer(void *provider, const wmi_object *lc, struct wmi_unbound_object_sink **sink)
{
    (void)provider;
    (void)lc;
    struct wmi_unbound_object_sink *s = calloc(1, sizeof *s);
    if (s == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    s->indicate_to_consumer = fc_indicate;
    s->release = fc_release;
    *sink = s;
    return WBEM_S_NO_ERROR;
}

static void
fc_shutdown(void *provider)
{
    (void)provider;
}

static const struct wmi_event_consumer_provider fc_provider = {
    .max_batch = FC_MAX_BATCH,
    .initialize = fc_initialize,
    .find_consumer = fc_find_consumer,
    .shutdown = fc_shutdown,
};

static const struct wmi_plugin fc_plugin = {
    WMI_PLUGIN_DESCRIPTOR(FC_NAME, "1.0"),
    .consumer_provider = &fc_provider,
};

const struct wmi_plugin *
wmi_plugin_entry(uint32_t host_abi_major)
{
    (void)host_abi_major;
    return &fc_plugin;
}
