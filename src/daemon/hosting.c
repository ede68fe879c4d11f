/*
 * hosting.c - isolated hosting (placeholder until the host process lands):
 * every HostingModel is served in-process.
 */
#include "daemon/wmieventd.h"

bool
hosting_is_isolated(const char *model)
{
    (void)model;
    return false;
}

bool
hosting_load(struct wmid_provider *p, const struct wmid_settings *s, const wmi_schema *schema)
{
    return plugin_load(p, s, schema);
}

void
hosting_unload(struct wmid_provider *p)
{
    plugin_unload(p);
}

json_t *
hosting_stats_json(const struct wmid_provider *p)
{
    (void)p;
    return NULL;
}
