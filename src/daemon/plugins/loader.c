/*
 * loader.c - load plugins (.so) through the one entry symbol, check the
 * ABI handshake, and initialize a consumer provider in this process.
 *
 * A plugin that is missing, has the wrong ABI or fails to initialize costs
 * one log line and a recorded status (visible in Stats); every other
 * provider keeps serving.
 *
 * Both binaries link it: the daemon loads its in-process consumer
 * providers with it (consumers.c decides in-process or hosted) and its
 * event providers' libraries (eventprov.c); wmieventd-host loads the
 * isolated ones with it, so the handshake and its messages are one
 * implementation.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/wmieventd.h"
#include "daemon/log.h"
#include "daemon/plugins/plugins.h"

void
plugin_vlog(const char *provider, int level, const char *fmt, va_list ap)
{
    char prefix[300];
    snprintf(prefix, sizeof prefix, "provider %s: ", provider ? provider : "?");
    log_vmsg(level < WMI_LOG_ERR ? WMI_LOG_ERR : (level > WMI_LOG_DEBUG ? WMI_LOG_DEBUG : level), prefix, fmt, ap);
}

static void
host_log(const struct wmi_host *host, int level, const char *fmt, ...)
{
    const struct wmid_provider *p = host->host_private;
    va_list ap;
    va_start(ap, fmt);
    plugin_vlog(p ? p->name : NULL, level, fmt, ap);
    va_end(ap);
}

/* The set_error text of the indicate_to_consumer call in progress on this
 * thread: per call, like errno, so it lives with the thread that makes
 * the call (a delivery thread, or a host's sink worker). */
static _Thread_local char call_error[WMI_HOST_ERROR_MAX];

void
plugin_call_error_clear(void)
{
    call_error[0] = '\0';
}

void
plugin_call_error_set(const char *text)
{
    snprintf(call_error, sizeof call_error, "%s", text != NULL ? text : "");
}

const char *
plugin_call_error(void)
{
    return call_error;
}

void
plugin_host_set_error(const struct wmi_host *host, const char *fmt, ...)
{
    (void)host;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call_error, sizeof call_error, fmt, ap);
    va_end(ap);
}

static bool
fail(struct wmid_provider *p, wmi_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool
fail(struct wmid_provider *p, wmi_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wmi_error_setv(&p->error, st, p->name, 0, 0, fmt, ap);
    va_end(ap);
    log_warnx("provider %s: %s (%s); its consumers get nothing", p->name, p->error.text, wmi_status_name(st));
    if (p->dl != NULL)
        dlclose(p->dl);
    p->dl = NULL;
    p->plugin = NULL;
    p->cp = NULL;
    return false;
}

const struct wmi_plugin *
plugin_open(const char *library, void **dl, wmi_status *st, char *msg, size_t msglen)
{
    *dl = NULL;
    if (library == NULL) {
        *st = WBEM_E_INVALID_PROVIDER_REGISTRATION;
        snprintf(msg, msglen, "__Win32Provider has no Library");
        return NULL;
    }
    dlerror();
    void *h = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        *st = WBEM_E_PROVIDER_LOAD_FAILURE;
        snprintf(msg, msglen, "cannot load %s: %s", library, dlerror());
        return NULL;
    }
    *st = WBEM_E_PROVIDER_LOAD_FAILURE;
    wmi_plugin_entry_fn entry;
    void *sym = dlsym(h, WMI_PLUGIN_ENTRY_SYMBOL);
    const struct wmi_plugin *pl = NULL;
    if (sym == NULL) {
        snprintf(msg, msglen, "%s does not export %s", library, WMI_PLUGIN_ENTRY_SYMBOL);
    } else {
        /* dlsym returns an object pointer; POSIX guarantees the conversion. */
        memcpy(&entry, &sym, sizeof entry);
        pl = entry(WMI_PLUGIN_ABI_MAJOR);
        if (pl == NULL)
            snprintf(msg, msglen, "%s refused host ABI %d", library, WMI_PLUGIN_ABI_MAJOR);
        else if (pl->abi_major != WMI_PLUGIN_ABI_MAJOR)
            snprintf(msg, msglen, "%s was built for plugin ABI %u, this host has ABI %d", library, pl->abi_major,
                     WMI_PLUGIN_ABI_MAJOR);
        else if (pl->size < sizeof(struct wmi_plugin))
            snprintf(msg, msglen, "%s has a descriptor of %zu bytes, ABI %d needs %zu", library, pl->size,
                     WMI_PLUGIN_ABI_MAJOR, sizeof(struct wmi_plugin));
        else {
            *dl = h;
            *st = WBEM_S_NO_ERROR;
            return pl;
        }
    }
    dlclose(h);
    return NULL;
}

bool
plugin_load_in_process(struct wmid_provider *p, const wmi_schema *schema)
{
    char path[4096];
    wmi_status st;

    snprintf(path, sizeof path, "%s", p->library ? p->library : "");
    char why[sizeof p->error.text];
    const struct wmi_plugin *pl = plugin_open(p->library, &p->dl, &st, why, sizeof why);
    if (pl == NULL)
        return fail(p, st, "%s", why);
    const struct wmi_event_consumer_provider *cp = pl->consumer_provider;
    if (cp == NULL || cp->initialize == NULL || cp->find_consumer == NULL)
        return fail(p, WBEM_E_PROVIDER_NOT_CAPABLE, "%s provides no consumer provider", path);
    if (cp->max_batch > WMID_MAX_BATCH)
        return fail(p, WBEM_E_INVALID_PARAMETER, "%s declares max_batch %u; at most %d events per call are "
                    "allowed", path, cp->max_batch, WMID_MAX_BATCH);
    p->plugin = pl;
    p->cp = cp;
    p->host.abi_major = WMI_PLUGIN_ABI_MAJOR;
    p->host.abi_minor = WMI_PLUGIN_ABI_MINOR;
    p->host.size = sizeof p->host;
    p->host.log = host_log;
    p->host.set_error = plugin_host_set_error;
    p->host.schema = schema;
    p->host.host_private = p;
    st = cp->initialize(&p->host, p->registration, &p->state);
    if (WMI_FAILED(st))
        return fail(p, WBEM_E_INITIALIZATION_FAILURE, "initialize failed with %s",
                    wmi_status_name(st) ? wmi_status_name(st) : "an unknown status");
    p->loaded = true;
    wmi_error_set(&p->error, WBEM_S_NO_ERROR, p->name, 0, 0, "loaded %.40s %.20s from %.180s", pl->name ? pl->name : "?",
             pl->version ? pl->version : "", path);
    log_info("provider %s: %s", p->name, p->error.text);
    return true;
}

void
plugin_unload_in_process(struct wmid_provider *p)
{
    if (p->loaded && p->cp->shutdown != NULL)
        p->cp->shutdown(p->state);
    p->loaded = false;
    if (p->dl != NULL) {
        /* Under AddressSanitizer, keep the code mapped so that leak reports
         * can name plugin frames. */
#if !defined(__SANITIZE_ADDRESS__)
        dlclose(p->dl);
#endif
        p->dl = NULL;
    }
}
