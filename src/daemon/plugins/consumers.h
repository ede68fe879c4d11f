/*
 * consumers.h - consumer providers as the daemon loads them: in its own
 * process (loader.c), or in a wmieventd-host process when their
 * __Win32Provider.HostingModel asks for isolation (hosting.c).
 */
#ifndef WMID_PLUGINS_CONSUMERS_H
#define WMID_PLUGINS_CONSUMERS_H

#include <stdbool.h>

#include "wmievent.h"

struct wmid_provider;
struct wmid_settings;

/* Load and initialize @p where its HostingModel says; on failure logs one
 * line, records status, returns false.  Loop thread. */
bool plugin_load(struct wmid_provider *p, const struct wmid_settings *s, const wmi_schema *schema);
/* Shut @p down and unload it, wherever it was loaded.  Loop thread. */
void plugin_unload(struct wmid_provider *p);

#endif /* WMID_PLUGINS_CONSUMERS_H */
