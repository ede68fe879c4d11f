/*
 * hosting.h - isolated hosting: a provider in its own wmieventd-host
 * process, behind a proxy consumer provider
 */
#ifndef WMID_PLUGINS_HOSTING_H
#define WMID_PLUGINS_HOSTING_H

#include "daemon/wmieventd.h"
#include "daemon/plugins/loader.h"

struct wmid_hosted;
struct wmid_hosting;

/* The daemon's isolated provider hosts: main.c makes the handle and puts
 * it in its settings (wmid_settings.hosting), through which
 * hosting_load reaches it; hosting_free once every provider is unloaded
 * (it closes any host still running).  Loop thread. */
struct wmid_hosting *hosting_new(void);
void hosting_free(struct wmid_hosting *hg);

/* True when HostingModel @model (NULL allowed) asks for a host process. */
bool hosting_is_isolated(const char *model);
/*
 * Start the host process of @p's group (or join it) among s->hosting's
 * and load the plugin there.  On success p->cp and p->state are a proxy whose find_consumer
 * and indicate_to_consumer forward to the host, p->loaded is true, and
 * p->hosted is set.  On failure: one log line, p->status and p->message
 * recorded, false.  Loop thread.
 */
bool hosting_load(struct wmid_provider *p, const struct wmid_settings *s, const wmi_schema *schema);
/* Shut the provider down in its host (the host exits with its last
 * provider).  Every sink of @p has been released.  Loop thread. */
void hosting_unload(struct wmid_provider *p);
/* A logical consumer of a hosted provider is gone while its physical
 * consumer stays (shared with others): forget it here and in the host.
 * No call for it is in flight.  Loop thread. */
void hosting_forget(struct wmid_provider *p, const wmi_object *logical);
/* The host's state for Stats (new reference), or NULL when not hosted. */
json_t *hosting_stats_json(const struct wmid_provider *p);

#endif /* WMID_PLUGINS_HOSTING_H */
