/*
 * timer.c - timer events: __IntervalTimerInstruction and
 * __AbsoluteTimerInstruction instances raise __TimerEvent.
 *
 * As in WMI, a timer instruction is an instance (keyed by TimerId) and a
 * subscription selects its events with
 *   SELECT * FROM __TimerEvent WHERE TimerId = "X"
 * __TimerEvent.NumFirings is 1 normally.  When firings were missed (the
 * daemon was busy, the machine was suspended), an instruction with
 * SkipIfPassed = FALSE raises one event whose NumFirings counts every
 * firing due since the last event, and one with SkipIfPassed = TRUE raises
 * one event with NumFirings = 1 (the missed ones are skipped).  An absolute
 * timer whose EventDateTime is already past at start fires at once, unless
 * SkipIfPassed.
 *
 * Interval timers run on the monotonic clock, with firings scheduled at
 * start + k * IntervalBetweenEvents (so they do not drift); absolute ones
 * on the real-time clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "daemon/wmieventd.h"
#include "daemon/config/config.h"
#include "daemon/engine/engine.h"
#include "daemon/log.h"
#include "daemon/providers/providers.h"

/* The shortest interval honoured, in ms; WMI may ignore "tiny" values. */
#define MIN_INTERVAL_MS 10

struct wmid_timer {
    struct wmid_timers *owner;
    uv_timer_t handle;
    char *timer_id;
    char *ns;                    /* the instruction's namespace, where its events are raised */
    bool absolute;
    bool skip_if_passed;
    uint64_t interval_ms;        /* interval timers */
    uint64_t next_due;           /* uv_now() time of the next firing */
};

struct wmid_timers {
    uv_loop_t *loop;
    struct wmid_router *router;
    struct wmid_timer *timers;
    size_t n;
};


bool
timers_check(const struct wmid_objects *o, wmi_error *err)
{
    for (size_t i = 0; i < o->ninstances; i++) {
        wmi_object *x = o->instances[i];
        const char *origin = json_string_value(json_array_get(o->origins, i));
        if (!wmi_object_isa(x, "__TimerInstruction"))
            continue;
        const char *id = NULL;
        if (wmi_object_get_string(x, "TimerId", &id) != WBEM_S_NO_ERROR || id[0] == '\0')
            return wmid_fail(err, WBEM_E_NO_KEY, origin, "TimerId: a timer instruction needs a TimerId");
        for (size_t j = 0; j < i; j++) {
            const char *other = NULL;
            if (wmi_object_isa(o->instances[j], "__TimerInstruction") &&
                wmi_object_get_string(o->instances[j], "TimerId", &other) == WBEM_S_NO_ERROR &&
                strcasecmp(other, id) == 0 && strcmp(objects_ns(o, i), objects_ns(o, j)) == 0)
                return wmid_fail(err, WBEM_E_ALREADY_EXISTS, origin, "TimerId: timer \"%s\" is defined twice",
                                  id);
        }
        if (wmi_object_isa(x, "__IntervalTimerInstruction")) {
            uint64_t ms = 0;
            if (wmi_object_get_uint64(x, "IntervalBetweenEvents", &ms) != WBEM_S_NO_ERROR || ms == 0)
                return wmid_fail(err, WBEM_E_INVALID_PARAMETER, origin,
                                  "IntervalBetweenEvents: the interval in milliseconds must be set and above 0");
        } else if (wmi_object_isa(x, "__AbsoluteTimerInstruction")) {
            const char *when = NULL;
            int64_t usec;
            if (wmi_object_get_string(x, "EventDateTime", &when) != WBEM_S_NO_ERROR ||
                WMI_FAILED(wmi_datetime_to_usec(when, &usec)))
                return wmid_fail(err, WBEM_E_INVALID_PARAMETER, origin,
                                  "EventDateTime: a fully specified DMTF datetime is needed "
                                  "(yyyymmddHHMMSS.mmmmmmsUUU, no wildcards)");
        }
    }
    return true;
}

/* Raise one __TimerEvent. */
static void
fire(struct wmid_timer *t, uint64_t firings)
{
    wmi_object *ev;
    if (WMI_FAILED(wmi_object_new(router_schema(t->owner->router), "__TimerEvent", &ev)))
        return;
    wmi_object_put_string(ev, "TimerId", t->timer_id);
    wmi_object_put_uint64(ev, "NumFirings", firings > UINT32_MAX ? UINT32_MAX : firings);
    wmi_object_put_uint64(ev, "TIME_CREATED", wmi_time_created_now());
    struct wmid_source here = {NULL, NULL, t->ns};
    router_indicate_from(t->owner->router, ev, 128, 0, &here);
    router_flush(t->owner->router);
    wmi_object_unref(ev);
}

static void
on_interval(uv_timer_t *h)
{
    struct wmid_timer *t = h->data;
    uint64_t now = uv_now(h->loop);
    /* Every firing due by now: 1 normally, more when the loop was held up. */
    uint64_t due = now >= t->next_due ? 1 + (now - t->next_due) / t->interval_ms : 1;
    t->next_due += due * t->interval_ms;
    fire(t, t->skip_if_passed ? 1 : due);
    uv_timer_start(&t->handle, on_interval, t->next_due > now ? t->next_due - now : 0, 0);
}

static void
on_absolute(uv_timer_t *h)
{
    fire(h->data, 1);
}

struct wmid_timers *
timers_start(uv_loop_t *loop, const struct wmid_objects *o, struct wmid_router *r)
{
    struct wmid_timers *ts = calloc(1, sizeof *ts);
    if (ts == NULL)
        return NULL;
    ts->loop = loop;
    ts->router = r;
    size_t n = 0;
    for (size_t i = 0; i < o->ninstances; i++)
        if (wmi_object_isa(o->instances[i], "__TimerInstruction"))
            n++;
    ts->timers = calloc(n + 1, sizeof *ts->timers);
    if (ts->timers == NULL) {
        free(ts);
        return NULL;
    }
    for (size_t i = 0; i < o->ninstances; i++) {
        wmi_object *x = o->instances[i];
        if (!wmi_object_isa(x, "__TimerInstruction"))
            continue;
        struct wmid_timer *t = &ts->timers[ts->n];
        const char *id = NULL;
        bool skip = false;
        wmi_object_get_string(x, "TimerId", &id);
        wmi_object_get_boolean(x, "SkipIfPassed", &skip);
        t->owner = ts;
        t->timer_id = strdup(id ? id : "");
        t->ns = strdup(objects_ns(o, i));
        t->skip_if_passed = skip;
        uv_timer_init(loop, &t->handle);
        t->handle.data = t;
        ts->n++;
        if (wmi_object_isa(x, "__IntervalTimerInstruction")) {
            uint64_t ms = 0;
            wmi_object_get_uint64(x, "IntervalBetweenEvents", &ms);
            if (ms < MIN_INTERVAL_MS) {
                log_warnx("timer %s: IntervalBetweenEvents %llu ms raised to %d ms", t->timer_id,
                          (unsigned long long)ms, MIN_INTERVAL_MS);
                ms = MIN_INTERVAL_MS;
            }
            t->interval_ms = ms;
            t->next_due = uv_now(loop) + ms;
            uv_timer_start(&t->handle, on_interval, ms, 0);
            log_info("timer %s: every %llu ms", t->timer_id, (unsigned long long)ms);
        } else {
            const char *when = NULL;
            int64_t at = 0;
            wmi_object_get_string(x, "EventDateTime", &when);
            wmi_datetime_to_usec(when, &at);
            struct timespec ts_now;
            clock_gettime(CLOCK_REALTIME, &ts_now);
            int64_t now = (int64_t)ts_now.tv_sec * 1000000 + ts_now.tv_nsec / 1000;
            t->absolute = true;
            if (at <= now && skip) {
                log_info("timer %s: %s has passed and SkipIfPassed is set; it will not fire", t->timer_id, when);
                continue;
            }
            uint64_t delay = at > now ? (uint64_t)(at - now + 999) / 1000 : 0;
            uv_timer_start(&t->handle, on_absolute, delay, 0);
            log_info("timer %s: once at %s (in %llu ms)", t->timer_id, when, (unsigned long long)delay);
        }
    }
    return ts;
}

static void
on_timer_closed(uv_handle_t *h)
{
    struct wmid_timer *t = h->data;
    struct wmid_timers *ts = t->owner;
    free(t->timer_id);
    free(t->ns);
    t->timer_id = NULL;
    /* The last handle to close frees the set. */
    for (size_t i = 0; i < ts->n; i++)
        if (ts->timers[i].timer_id != NULL)
            return;
    free(ts->timers);
    free(ts);
}

void
timers_stop(struct wmid_timers *ts)
{
    if (ts == NULL)
        return;
    if (ts->n == 0) {
        free(ts->timers);
        free(ts);
        return;
    }
    for (size_t i = 0; i < ts->n; i++) {
        uv_timer_stop(&ts->timers[i].handle);
        uv_close((uv_handle_t *)&ts->timers[i].handle, on_timer_closed);
    }
}
