/*
 * consumers.c - consumer providers as the daemon loads them: an isolated
 * one (HostingModel, hosting.c) in its wmieventd-host process, any other
 * in the daemon's own process (loader.c).  The host binary loads with
 * loader.c alone.
 */
#include "daemon/wmieventd.h"
#include "daemon/plugins/plugins.h"

bool
provider_is_hosted(const struct wmid_provider *p)
{
    return p->run_as || hosting_is_isolated(p->hosting_model);
}

bool
plugin_load(struct wmid_provider *p, const struct wmid_settings *s, const wmi_schema *schema)
{
    if (provider_is_hosted(p))
        return hosting_load(p, s, schema);
    return plugin_load_in_process(p, schema);
}

void
plugin_unload(struct wmid_provider *p)
{
    if (provider_is_hosted(p))
        hosting_unload(p);
    else
        plugin_unload_in_process(p);
}
