/*
 * init_fails.c - a consumer provider whose initialize fails with
 * WBEM_E_FAILED.  The host must log it once, never call find_consumer or
 * shutdown, and go on serving the other providers.
 */
#include <stdint.h>
#include <stdlib.h>

#include "wmievent/object.h"
#include "wmievent/plugin.h"
#include "wmievent/status.h"

static wmi_status
if_initialize(const struct wmi_host *host, const wmi_object *registration, void **provider)
{
    (void)registration;
    *provider = NULL;
    host->log(host, WMI_LOG_ERR, "init_fails: refusing to initialize (test plugin)");
    return WBEM_E_FAILED;
}

static wmi_status
if_find_consumer(void *provider, const wmi_object *lc, struct wmi_unbound_object_sink **sink)
{
    (void)provider;
    (void)lc;
    (void)sink;
    abort(); /* never called after a failed initialize */
}

static void
if_shutdown(void *provider)
{
    (void)provider;
    abort(); /* never called after a failed initialize */
}

static const struct wmi_event_consumer_provider if_provider = {
    .initialize = if_initialize,
    .find_consumer = if_find_consumer,
    .shutdown = if_shutdown,
};

static const struct wmi_plugin if_plugin = {
    WMI_PLUGIN_DESCRIPTOR("init_fails", "1.0"),
    .consumer_provider = &if_provider,
};

const struct wmi_plugin *
wmi_plugin_entry(uint32_t host_abi_major)
{
    (void)host_abi_major;
    return &if_plugin;
}
