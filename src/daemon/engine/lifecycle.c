/*
 * lifecycle.c - the idle timer of the provider lifecycle.
 *
 * Consumer providers load at the first event for one of their logical
 * consumers, physical consumers are found then too (attach.c), and event
 * providers load when a filter wants their events (eventprov.c).  This
 * timer releases them again after their cache control's ClearAfter:
 * physical consumers (__EventSinkCacheControl), consumer providers left
 * without one (__EventConsumerProviderCacheControl), event providers whose
 * sinks are all inactive (__EventProviderCacheControl).
 *
 * Idle CPU matters, so the timer never ticks at a fixed rate: each sweep
 * (router_sweep_idle, then the sweeps added with lifecycle_add_sweep) returns when the next release may be due, and the
 * timer sleeps until then; with nothing loaded it is stopped.  What gets
 * loaded, or goes idle, calls lifecycle_kick, which arms the timer no
 * later than the shortest ClearAfter from now.  A release is then late by
 * at most that much, within WMI's "up to twice ClearAfter".
 */
#include <stdlib.h>

#include "daemon/wmieventd.h"
#include "daemon/engine/engine.h"

/* Never sleep less than this between two sweeps, so that a burst of due
 * times cannot make the timer spin. */
#define SWEEP_MIN_GAP_MS 50u

struct wmid_lifecycle {
    uv_timer_t timer;
    bool ready;
    struct wmid_router *router;
    uint64_t due_ms;             /* when the armed timer fires */
    struct {
        wmid_sweep_fn fn;
        void *arg;
    } sweeps[WMID_LIFECYCLE_MAX_SWEEPS];
    size_t nsweeps;
};

static void on_timer(uv_timer_t *t);

static void
arm(struct wmid_lifecycle *lc, uint64_t now, uint64_t due)
{
    if (due < now + SWEEP_MIN_GAP_MS)
        due = now + SWEEP_MIN_GAP_MS;
    lc->due_ms = due;
    uv_timer_start(&lc->timer, on_timer, due - now, 0);
}

static void
on_timer(uv_timer_t *t)
{
    struct wmid_lifecycle *lc = t->data;
    if (lc->router == NULL)
        return;
    uint64_t now = wmid_now_ms();
    uint64_t next = router_sweep_idle(lc->router, now);
    for (size_t i = 0; i < lc->nsweeps; i++) {
        uint64_t due = lc->sweeps[i].fn(lc->sweeps[i].arg, now);
        next = due < next ? due : next;
    }
    if (next == UINT64_MAX)
        return; /* nothing loaded: sleep until something is */
    arm(lc, now, next);
}

struct wmid_lifecycle *
lifecycle_new(uv_loop_t *loop)
{
    struct wmid_lifecycle *lc = calloc(1, sizeof *lc);
    if (lc == NULL)
        return NULL;
    uv_timer_init(loop, &lc->timer);
    lc->timer.data = lc;
    lc->ready = true;
    return lc;
}

bool
lifecycle_add_sweep(struct wmid_lifecycle *lc, wmid_sweep_fn fn, void *arg)
{
    if (lc->nsweeps == WMID_LIFECYCLE_MAX_SWEEPS)
        return false;
    lc->sweeps[lc->nsweeps].fn = fn;
    lc->sweeps[lc->nsweeps++].arg = arg;
    return true;
}

void
lifecycle_kick(struct wmid_lifecycle *lc)
{
    if (lc == NULL || !lc->ready || lc->router == NULL)
        return;
    const struct wmid_cache_controls *cc = router_cache_controls(lc->router);
    uint64_t min = cc->provider_ms;
    if (cc->sink_ms < min)
        min = cc->sink_ms;
    if (cc->event_provider_ms < min)
        min = cc->event_provider_ms;
    uint64_t now = wmid_now_ms();
    if (uv_is_active((uv_handle_t *)&lc->timer) && lc->due_ms <= now + min)
        return;
    arm(lc, now, now + min);
}

void
lifecycle_kick_hook(void *arg)
{
    lifecycle_kick(arg);
}

void
lifecycle_set_router(struct wmid_lifecycle *lc, struct wmid_router *r)
{
    if (!lc->ready)
        return;
    lc->router = r;
    /* New ClearAfter values apply at once: look again within the shortest
     * of them rather than when the old ones said. */
    uv_timer_stop(&lc->timer);
    lifecycle_kick(lc);
}

static void
on_closed(uv_handle_t *h)
{
    free(h->data);
}

void
lifecycle_close(struct wmid_lifecycle *lc)
{
    if (lc == NULL)
        return;
    lc->ready = false;
    lc->router = NULL;
    uv_timer_stop(&lc->timer);
    uv_close((uv_handle_t *)&lc->timer, on_closed);
}
