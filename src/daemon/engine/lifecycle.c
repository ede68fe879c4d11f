/*
 * lifecycle.c - the idle timer of the provider lifecycle.
 *
 * Consumer providers load at the first event for one of their logical
 * consumers, physical consumers are found then too (router.c), and event
 * providers load when a filter wants their events (eventprov.c).  This
 * timer releases them again after their cache control's ClearAfter:
 * physical consumers (__EventSinkCacheControl), consumer providers left
 * without one (__EventConsumerProviderCacheControl), event providers whose
 * sinks are all inactive (__EventProviderCacheControl).
 *
 * Idle CPU matters, so the timer never ticks at a fixed rate: each sweep
 * (router_sweep_idle) returns when the next release may be due, and the
 * timer sleeps until then; with nothing loaded it is stopped.  What gets
 * loaded, or goes idle, calls lifecycle_kick, which arms the timer no
 * later than the shortest ClearAfter from now.  A release is then late by
 * at most that much, within WMI's "up to twice ClearAfter".
 */
#include <time.h>

#include "daemon/wmieventd.h"
#include "daemon/engine/lifecycle.h"
#include "daemon/engine/router.h"

/* Never sleep less than this between two sweeps, so that a burst of due
 * times cannot make the timer spin. */
#define SWEEP_MIN_GAP_MS 50u

static struct {
    uv_loop_t *loop;
    uv_timer_t timer;
    bool ready;
    struct wmid_router *router;
    uint64_t due_ms;             /* when the armed timer fires */
} L;

static void on_timer(uv_timer_t *t);

static void
arm(uint64_t now, uint64_t due)
{
    if (due < now + SWEEP_MIN_GAP_MS)
        due = now + SWEEP_MIN_GAP_MS;
    L.due_ms = due;
    uv_timer_start(&L.timer, on_timer, due - now, 0);
}

static void
on_timer(uv_timer_t *t)
{
    (void)t;
    if (L.router == NULL)
        return;
    uint64_t now = wmid_now_ms();
    uint64_t next = router_sweep_idle(L.router, now);
    if (next == UINT64_MAX)
        return; /* nothing loaded: sleep until something is */
    arm(now, next);
}

void
lifecycle_init(uv_loop_t *loop)
{
    L.loop = loop;
    uv_timer_init(loop, &L.timer);
    L.ready = true;
}

void
lifecycle_kick(void)
{
    if (!L.ready || L.router == NULL)
        return;
    const struct wmid_cache_controls *cc = router_cache_controls(L.router);
    uint64_t min = cc->provider_ms;
    if (cc->sink_ms < min)
        min = cc->sink_ms;
    if (cc->event_provider_ms < min)
        min = cc->event_provider_ms;
    uint64_t now = wmid_now_ms();
    if (uv_is_active((uv_handle_t *)&L.timer) && L.due_ms <= now + min)
        return;
    arm(now, now + min);
}

void
lifecycle_set_router(struct wmid_router *r)
{
    if (!L.ready)
        return;
    L.router = r;
    /* New ClearAfter values apply at once: look again within the shortest
     * of them rather than when the old ones said. */
    uv_timer_stop(&L.timer);
    lifecycle_kick();
}

void
lifecycle_shutdown(void)
{
    if (!L.ready)
        return;
    L.ready = false;
    L.router = NULL;
    uv_timer_stop(&L.timer);
    uv_close((uv_handle_t *)&L.timer, NULL);
}
