/*
 * attach.c - consumer providers and physical consumers, attached on demand.
 *
 * Consumer providers are loaded lazily, as WMI loads them: not at start,
 * but on the loop thread when an event must first be delivered to one of
 * their logical consumers (attach_consumer, from the router's hot path);
 * then FindConsumer gives that consumer its physical consumer.  What idles
 * past its ClearAfter is released again by router_sweep_idle, which the
 * idle timer of lifecycle.c runs; the lifecycle learns of every load
 * through the router's load hook (router_set_load_hook), never by a call
 * from here.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/wmieventd.h"
#include "daemon/engine/engine.h"
#include "daemon/engine/internal.h"
#include "daemon/log.h"
#include "daemon/plugins/plugins.h"

/* A failed load or FindConsumer waits this long before the next attempt,
 * doubling at each failure in a row up to RETRY_MAX_MS; a reload or a
 * success starts again from nothing. */
#define RETRY_FIRST_MS 2000u
#define RETRY_MAX_MS 60000u

static void
backoff(uint64_t *retry_at, unsigned *ms, uint64_t now)
{
    *ms = *ms == 0 ? RETRY_FIRST_MS : (*ms >= RETRY_MAX_MS / 2 ? RETRY_MAX_MS : *ms * 2);
    *retry_at = now + *ms;
}

void
router_prepare_providers(struct wmid_router *r, const struct wmid_settings *s)
{
    r->settings = s;
    r->loop_thread = pthread_self();
    r->lazy = true;
    for (size_t i = 0; i < r->nproviders; i++) {
        struct wmid_provider *p = r->providers[i];
        p->life.retry_at_ms = 0;
        p->life.backoff_ms = 0;
        if (p->loaded || p->registration == NULL)
            continue; /* kept loaded by a reload, or no consumer provider */
        bool used = false;
        for (size_t j = 0; j < r->nconsumers && !used; j++)
            used = r->consumers[j]->provider == p;
        /* Never tried: the status build() gave it.  A failed load keeps its
         * status until the next attempt, an idle unload its message. */
        bool fresh = p->life.loads == 0 && !p->life.unloaded_idle &&
                     (p->error.status == WBEM_E_PROVIDER_NOT_FOUND || p->error.status == WBEM_S_FALSE);
        if (!used) {
            wmi_error_set(&p->error, WBEM_S_FALSE, p->name, 0, 0, "not loaded: no logical consumer uses it");
        } else if (fresh) {
            wmi_error_set(&p->error, WBEM_S_FALSE, p->name, 0, 0,
                          "not loaded yet: it loads when an event must first be delivered to one of its consumers");
        }
    }
    for (size_t j = 0; j < r->nconsumers; j++) {
        r->consumers[j]->retry_at_ms = 0;
        r->consumers[j]->backoff_ms = 0;
    }
}

/* Load @p unless a failed load is still backing off.  Loop thread. */
static bool
ensure_loaded(struct wmid_router *r, struct wmid_provider *p, uint64_t now)
{
    if (p->loaded)
        return true;
    if (p->registration == NULL || r->settings == NULL || now < p->life.retry_at_ms)
        return false;
    /* A fresh load gets the schema of the moment; one the event side of
     * the same provider uses stays, as that side holds it. */
    if (p->ev == NULL || p->schema == NULL) {
        wmi_schema_free(p->schema);
        p->schema = wmi_schema_ref(r->schema);
    }
    if (!plugin_load(p, r->settings, p->schema)) {
        backoff(&p->life.retry_at_ms, &p->life.backoff_ms, now);
        log_notice("provider %s: not loaded again before an event %u s from now, or a reload", p->name,
                   p->life.backoff_ms / 1000);
        return false;
    }
    p->life.loads++;
    p->life.unloaded_idle = false;
    p->life.backoff_ms = 0;
    p->life.retry_at_ms = 0;
    p->life.last_used_ms = now;
    p->life.idle_since_ms = now; /* until a sink attaches */
    if (r->hooks.loaded != NULL)
        r->hooks.loaded(r->hooks.loaded_arg);
    return true;
}

/*
 * Give @c a physical consumer: load its provider if it is not loaded, then
 * FindConsumer, unless a failure of either is still backing off.  Loop
 * thread.
 */
bool
attach_consumer(struct wmid_router *r, struct wmid_consumer *c)
{
    struct wmid_provider *p = c->provider;
    if (p == NULL || r->delivery == NULL)
        return false;
    uint64_t now = wmid_now_ms();
    if (!ensure_loaded(r, p, now) || now < c->retry_at_ms)
        return false;
    if (!delivery_attach(r->delivery, c)) {
        c->find_failures++;
        backoff(&c->retry_at_ms, &c->backoff_ms, now);
        return false;
    }
    c->finds++;
    c->find_failures = 0;
    c->backoff_ms = 0;
    c->retry_at_ms = 0;
    p->life.last_used_ms = now;
    p->life.idle_since_ms = 0;
    if (r->hooks.loaded != NULL)
        r->hooks.loaded(r->hooks.loaded_arg);
    return true;
}

void
router_load_providers(struct wmid_router *r, const struct wmid_settings *s)
{
    router_prepare_providers(r, s);
    uint64_t now = wmid_now_ms();
    for (size_t j = 0; j < r->nconsumers; j++)
        ensure_loaded(r, r->consumers[j]->provider, now);
    for (size_t j = 0; j < r->nconsumers; j++)
        if (r->consumers[j]->sink == NULL)
            attach_consumer(r, r->consumers[j]);
}

size_t
router_provider_count(const struct wmid_router *r)
{
    return r->nproviders;
}

const struct wmid_cache_controls *
router_cache_controls(const struct wmid_router *r)
{
    return &r->cc;
}

uint64_t
router_sweep_idle(struct wmid_router *r, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    if (r->delivery != NULL)
        next = delivery_release_idle(r->delivery, r->consumers, r->nconsumers, r->cc.sink_ms, now);
    /* Consumer providers without a physical consumer.  Those a reload
     * dropped are not here: they go when their last user does. */
    for (size_t i = 0; i < r->nproviders; i++) {
        struct wmid_provider *p = r->providers[i];
        if (!p->loaded)
            continue;
        if (r->delivery != NULL && delivery_provider_sinks(r->delivery, p, NULL) > 0) {
            p->life.idle_since_ms = 0; /* due after its sinks, which count above */
            continue;
        }
        if (p->life.idle_since_ms == 0)
            p->life.idle_since_ms = now;
        uint64_t due = p->life.idle_since_ms + r->cc.provider_ms;
        if (now < due) {
            next = due < next ? due : next;
            continue;
        }
        log_info("provider %s: no physical consumer for %llu ms (__EventConsumerProviderCacheControl.ClearAfter "
                 "%llu ms): shut down; it loads again at the next event for one of its consumers",
                 p->name, (unsigned long long)(now - p->life.idle_since_ms), (unsigned long long)r->cc.provider_ms);
        plugin_unload(p);
        p->life.unloads++;
        p->life.unloaded_idle = true;
        p->life.idle_since_ms = 0;
        wmi_error_set(&p->error, WBEM_S_FALSE, p->name, 0, 0,
                      "unloaded when idle (ClearAfter %llu ms); it loads again at the next event for one of its "
                 "consumers",
                 (unsigned long long)r->cc.provider_ms);
    }
    return next;
}
