/*
 * delivery.c - the delivery engine: one queue and one delivery thread per
 * physical consumer (the IWbemUnboundObjectSink a consumer provider's
 * FindConsumer returned), synchronous calls, the sink deadline, and the
 * reports of everything that could not be delivered.
 *
 * Plugin code runs on the sink's delivery thread, or, for a binding with
 * DeliverSynchronously, on the thread that indicated the event (the loop
 * thread for socket events).  Either way one call at a time per sink: the
 * sink's call lock serializes them.  The queue holds (logical consumer,
 * event) pairs in arrival order; the thread takes the longest run of pairs
 * for one logical consumer, up to the provider's max_batch, and hands it
 * to IndicateToConsumer in one call, so a consumer that keeps up gets
 * n == 1 and one that falls behind gets batches (WMI's automatic
 * batching).  An event marked solo (WBEM_FLAG_MUST_NOT_BATCH) goes alone.
 *
 * Limits are in bytes (the size of the event as it arrived, or an
 * estimate): per logical consumer (__EventConsumer.MaximumQueueSize, else
 * default_consumer_queue_bytes) and for all queues together
 * (high_threshold_on_events).  An event over a limit is dropped, counted
 * and reported (__EventQueueOverflowEvent), unless its binding has
 * SlowDownProviders = TRUE: then it is queued and the producer is told to
 * pause until the queues fall below half their limits.  From
 * low_threshold_on_events on, every producer is told to pause.  An event
 * queued longer than max_wait_on_events is dropped (__EventDroppedEvent).
 *
 * The deadline: each call has deadline_ms (__Win32Provider.DeadlineMs,
 * else the plugin's descriptor, else consumer_deadline_ms: 100 ms as WMI
 * asks of every sink).  A watchdog timer on the loop, armed while a call
 * is in flight, reports a call past its deadline while it still runs
 * (__ConsumerFailureEvent with WBEM_E_PROVIDER_TIMED_OUT).  A sink that
 * misses suspend_after_misses deadlines within suspend_window_ms is
 * suspended: no calls for a backoff that doubles up to suspend_max_ms,
 * its queue kept within its limits, then one probe call of one event; a
 * probe on time resumes it.
 *
 * Producers do not wake a delivery thread per event: delivery_kick, called
 * once per burst (a socket read, a netlink datagram), wakes every sink
 * with work, so a consumer that keeps up costs one wake per burst rather
 * than one futex call per event.
 *
 * Idle release (delivery_release_idle, run by the lifecycle timer on the
 * loop): a sink with nothing queued and no call in flight since
 * __EventSinkCacheControl.ClearAfter is stopped and released, and its
 * logical consumers detached; the next event for one of them attaches it
 * again (router.c) before it is pushed.  The conditions are those of
 * delivery_retire, checked under the sink lock; as only the loop thread
 * pushes and makes synchronous calls, and the release runs there too,
 * nothing can be queued or called between the check and the release.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/wmieventd.h"
#include "daemon/engine/engine.h"
#include "daemon/log.h"
#include "daemon/plugins/plugins.h"

#define QE_SOLO 0x1u

struct qentry {
    struct wmid_consumer *consumer;
    wmi_object *event;
    size_t size;
    uint64_t enq_ns;
    unsigned flags;
};

enum sink_state { SINK_ACTIVE, SINK_SUSPENDED, SINK_PROBING };

struct wmid_sink {
    struct wmid_delivery *d;
    struct wmi_unbound_object_sink *us;
    struct wmid_provider *provider;
    size_t max_batch;
    uint64_t deadline_ns;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t idle_cv;
    /* Held during every IndicateToConsumer, by the delivery thread and by
     * synchronous callers: one call at a time per sink. */
    pthread_mutex_t call_mu;
    struct qentry *ring;
    size_t cap, head, count;
    bool waiting;                /* the thread sleeps on cv */
    bool busy;                   /* a call by the thread is in flight */
    struct wmid_consumer *current; /* the logical consumer of that call */
    size_t nconsumers;           /* logical consumers attached (loop thread) */
    /* When it was attached or a call for it returned (wmid_now_ms clock):
     * written by the delivery thread, read by the idle release. */
    atomic_uint_fast64_t last_used_ms;
    bool stopping;               /* drain, then exit */
    bool abandon;                /* drop what is left, then exit */
    /* The call in flight, for the watchdog: call_start is 0 when none. */
    atomic_uint_fast64_t call_start;
    atomic_uint call_seq;
    atomic_uint reported_seq;    /* the last call reported late */
    /* Suspension (state read by Stats; the rest the thread's own). */
    atomic_int state;
    uint64_t misses[64];         /* times of the last misses, a ring */
    size_t nmisses;
    uint64_t resume_at;          /* ns */
    uint64_t backoff_ms;
    atomic_ullong suspensions;
    /* Delivered events, handed back so that the thread that allocated them
     * (the loop) frees them: freeing on the delivery thread makes both
     * threads contend for malloc's arena lock. */
    wmi_object **grave;
    size_t ngrave, capgrave;
    /* The thread's batch arrays, max_batch long, allocated at attach. */
    wmi_object **batch_events;
    size_t *batch_sizes;
    uint64_t *batch_enq;
    struct wmid_sink *next;
};

struct retiree {
    struct wmid_consumer *c;
    void (*done)(struct wmid_consumer *c);
    struct retiree *next;
};

/* Reports waiting for the loop thread (bounded: past it they are counted). */
#define RAISE_MAX 10000

struct wmid_delivery {
    uv_loop_t *loop;
    const struct wmid_settings *settings;
    struct wmid_sink *sinks;
    atomic_size_t total_bytes;
    size_t max_bytes;
    size_t low_bytes;
    uint64_t max_wait_ns;
    atomic_int nfull;            /* consumers above their limit */
    atomic_bool global_full;
    atomic_bool slowing;         /* above low_threshold_on_events */
    atomic_bool want_resume;
    uv_async_t resume_async;
    void (*resume_cb)(void *arg);
    void *resume_arg;
    uv_async_t reap_async;       /* a sink went idle with events to free */
    /* Consumers removed by a reload, waiting for their queues to drain. */
    struct retiree *retirees;
    uv_timer_t retire_timer;
    bool shut;                   /* delivery_shutdown ran */
    /* The watchdog: a loop timer, running while calls are in flight. */
    uv_timer_t watch_timer;
    uv_async_t watch_async;
    atomic_bool watch_armed;
    /* System events on their way to the loop thread. */
    pthread_mutex_t raise_mu;
    struct wmid_system_event *raised;
    size_t nraised;
    uv_async_t raise_async;
    void (*raise_cb)(void *arg, struct wmid_system_event *se);
    void *raise_arg;
    atomic_ullong raised_total, raise_lost, raise_suppressed;
    atomic_llong last_lost_log;
};

#define WATCH_TICK_MS 2

/* ====================================================================
 * Reports: system events, and rate-limited log lines
 * ==================================================================== */

static bool
rate_ok(atomic_llong *last)
{
    long long now = (long long)(wmid_now_ns() / 1000000000u);
    long long prev = atomic_load(last);
    return prev != now && atomic_compare_exchange_strong(last, &prev, now);
}

static void
complain_drop(struct wmid_consumer *c, const char *why)
{
    /* Rate-limited per consumer, so that one flooded consumer does not hide
     * the drops of another. */
    if (!rate_ok(&c->last_drop_log))
        return;
    log_warnx("consumer %s: event dropped (%s); dropped so far: %llu queue full, %llu no sink, %llu expired",
              c->path, why, (unsigned long long)atomic_load(&c->stats.dropped_queue_full),
              (unsigned long long)atomic_load(&c->stats.dropped_no_sink),
              (unsigned long long)atomic_load(&c->stats.dropped_expired));
}

/*
 * Report that @ev (borrowed) did not reach @c.  A report about an event
 * that is itself such a report (__EventDroppedEvent and below) is counted
 * and not raised: failure events about a consumer cannot feed its failure
 * path again, so one bad consumer costs at most one report per event.
 * Any thread.
 */
static void
raise_report(struct wmid_delivery *d, enum wmid_system_event_kind kind, struct wmid_consumer *c, wmi_object *ev,
             wmi_status code, uint64_t queue_bytes, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void
raise_report(struct wmid_delivery *d, enum wmid_system_event_kind kind, struct wmid_consumer *c, wmi_object *ev,
             wmi_status code, uint64_t queue_bytes, const char *fmt, ...)
{
    if (d->raise_cb == NULL)
        return;
    if (ev != NULL && wmi_object_isa(ev, "__EventDroppedEvent")) {
        atomic_fetch_add(&d->raise_suppressed, 1);
        return;
    }
    pthread_mutex_lock(&d->raise_mu);
    if (d->nraised >= RAISE_MAX || d->raised == NULL) {
        pthread_mutex_unlock(&d->raise_mu);
        atomic_fetch_add(&d->raise_lost, 1);
        if (rate_ok(&d->last_lost_log))
            log_warnx("delivery: %d failure/drop reports already wait for the loop; %llu not raised so far "
                      "(counted in Stats)",
                      RAISE_MAX, (unsigned long long)atomic_load(&d->raise_lost));
        return;
    }
    bool wake = d->nraised == 0;
    struct wmid_system_event *se = &d->raised[d->nraised++];
    memset(se, 0, sizeof *se);
    se->kind = kind;
    se->event = ev != NULL ? wmi_object_ref(ev) : NULL;
    se->logical = wmi_object_ref(c->logical);
    se->consumer_path = c->path != NULL ? strdup(c->path) : NULL;
    snprintf(se->ns, sizeof se->ns, "%s", c->ns != NULL ? c->ns : WMID_NS_DEFAULT);
    se->code = code;
    se->queue_bytes = queue_bytes;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(se->description, sizeof se->description, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&d->raise_mu);
    atomic_fetch_add(&d->raised_total, 1);
    if (wake)
        uv_async_send(&d->raise_async);
}

static void
on_raise(uv_async_t *a)
{
    struct wmid_delivery *d = a->data;
    pthread_mutex_lock(&d->raise_mu);
    size_t n = d->nraised;
    struct wmid_system_event *batch = NULL;
    if (n > 0) {
        batch = malloc(n * sizeof *batch);
        if (batch != NULL) {
            memcpy(batch, d->raised, n * sizeof *batch);
            d->nraised = 0;
        }
    }
    pthread_mutex_unlock(&d->raise_mu);
    if (batch == NULL) {
        if (n > 0)
            uv_async_send(a); /* try again on the next turn */
        return;
    }
    for (size_t i = 0; i < n; i++)
        d->raise_cb(d->raise_arg, &batch[i]);
    d->raise_cb(d->raise_arg, NULL);
    free(batch);
}

void
delivery_set_raise_cb(struct wmid_delivery *d, void (*cb)(void *arg, struct wmid_system_event *se), void *arg)
{
    d->raise_cb = cb;
    d->raise_arg = arg;
}

/* ====================================================================
 * Queue
 * ==================================================================== */

static bool
ring_push(struct wmid_sink *k, struct qentry e)
{
    if (k->count == k->cap) {
        size_t ncap = k->cap ? k->cap * 2 : 256;
        struct qentry *nr = malloc(ncap * sizeof *nr);
        if (nr == NULL)
            return false;
        for (size_t i = 0; i < k->count; i++)
            nr[i] = k->ring[(k->head + i) % k->cap];
        free(k->ring);
        k->ring = nr;
        k->cap = ncap;
        k->head = 0;
    }
    k->ring[(k->head + k->count) % k->cap] = e;
    k->count++;
    return true;
}

static void
account_release(struct wmid_delivery *d, struct wmid_consumer *c, size_t size, size_t n)
{
    atomic_fetch_sub(&c->stats.queued_bytes, size);
    atomic_fetch_sub(&d->total_bytes, size);
    atomic_fetch_sub(&c->queued_events, n);
}

/* After a batch: clear "full" marks that fell below half and wake paused
 * producers when nothing is full any more. */
static void
check_resume(struct wmid_delivery *d, struct wmid_consumer *c)
{
    if (atomic_load(&c->full) && atomic_load(&c->stats.queued_bytes) < c->max_queue_bytes / 2 &&
        atomic_exchange(&c->full, false))
        atomic_fetch_sub(&d->nfull, 1);
    size_t total = atomic_load(&d->total_bytes);
    if (atomic_load(&d->global_full) && total < d->max_bytes / 2)
        atomic_store(&d->global_full, false);
    if (atomic_load(&d->slowing) && total < d->low_bytes / 2)
        atomic_store(&d->slowing, false);
    if (atomic_load(&d->want_resume) && !delivery_is_congested(d)) {
        if (atomic_exchange(&d->want_resume, false))
            uv_async_send(&d->resume_async);
    }
}

/* ====================================================================
 * Graveyard: delivered events go back to the loop thread to be freed
 * ==================================================================== */

#define GRAVE_MAX 65536

/* With the sink locked: keep @n events for the loop thread.  False when
 * the graveyard is full (the caller frees them itself). */
static bool
grave_put(struct wmid_sink *k, wmi_object *const *events, size_t n)
{
    if (k->ngrave + n > k->capgrave) {
        size_t ncap = k->capgrave ? k->capgrave : 1024;
        while (ncap < k->ngrave + n)
            ncap *= 2;
        if (ncap > GRAVE_MAX)
            return false;
        wmi_object **ng = realloc(k->grave, ncap * sizeof *ng);
        if (ng == NULL)
            return false;
        k->grave = ng;
        k->capgrave = ncap;
    }
    memcpy(k->grave + k->ngrave, events, n * sizeof *events);
    k->ngrave += n;
    return true;
}

/* ====================================================================
 * Calls, counters and the deadline
 * ==================================================================== */

static unsigned
latency_bucket(uint64_t us)
{
    unsigned b = 0;
    while (b < WMID_LATENCY_BUCKETS - 1 && us >= (1ull << b))
        b++;
    return b;
}

static void
count_call(struct wmid_consumer *c, size_t n, const uint64_t *enq, uint64_t end)
{
    atomic_fetch_add_explicit(&c->stats.calls, 1, memory_order_relaxed);
    unsigned long long mb = atomic_load_explicit(&c->stats.max_batch, memory_order_relaxed);
    while (n > mb && !atomic_compare_exchange_weak(&c->stats.max_batch, &mb, n))
        ;
    for (size_t i = 0; i < n; i++) {
        uint64_t us = end > enq[i] ? (end - enq[i]) / 1000 : 0;
        atomic_fetch_add_explicit(&c->stats.latency[latency_bucket(us)], 1, memory_order_relaxed);
        unsigned long long m = atomic_load_explicit(&c->stats.latency_max_us, memory_order_relaxed);
        while (us > m && !atomic_compare_exchange_weak(&c->stats.latency_max_us, &m, us))
            ;
    }
}

/* The outcome of one call for @c: counters, log, failure reports. */
static void
finish_call(struct wmid_delivery *d, struct wmid_consumer *c, wmi_status st, size_t n, wmi_object *const *events)
{
    if (WMI_FAILED(st)) {
        atomic_fetch_add(&c->stats.failed, n);
        unsigned prev = atomic_exchange(&c->stats.last_error, st);
        if (prev != st)
            log_warnx("consumer %s: IndicateToConsumer failed with %s (%s); %zu event(s) not delivered", c->path,
                      wmi_status_name(st) ? wmi_status_name(st) : "an unknown status", wmi_status_message(st), n);
        /* The plugin's own words, when it gave some (wmi_host.set_error). */
        const char *why = plugin_call_error();
        for (size_t i = 0; i < n; i++)
            raise_report(d, WMID_SE_CONSUMER_FAILURE, c, events[i], st, 0, "IndicateToConsumer failed with %s%s%s",
                         wmi_status_name(st) ? wmi_status_name(st) : "an unknown status", why[0] ? ": " : "", why);
    } else {
        atomic_fetch_add(&c->stats.delivered, n);
        atomic_store(&c->stats.last_error, 0);
    }
}

/* Report a call past its deadline once (the watchdog while it runs, or
 * the caller when it returns, whichever comes first). */
static void
report_late(struct wmid_delivery *d, struct wmid_sink *k, unsigned seq, struct wmid_consumer *c, wmi_object *ev,
            uint64_t ran_ns, bool running)
{
    unsigned prev = atomic_load(&k->reported_seq);
    if (prev == seq || !atomic_compare_exchange_strong(&k->reported_seq, &prev, seq))
        return;
    atomic_fetch_add(&c->stats.deadline_misses, 1);
    uint64_t dl = k->deadline_ns / 1000000;
    if (rate_ok(&c->last_drop_log))
        log_warnx("consumer %s: IndicateToConsumer %s %llu ms, past its deadline of %llu ms (%llu miss(es) so "
                  "far)",
                  c->path, running ? "has been running for" : "took", (unsigned long long)(ran_ns / 1000000),
                  (unsigned long long)dl, (unsigned long long)atomic_load(&c->stats.deadline_misses));
    raise_report(d, WMID_SE_CONSUMER_FAILURE, c, ev, WBEM_E_PROVIDER_TIMED_OUT, 0,
                 "IndicateToConsumer %s %llu ms, past its deadline of %llu ms",
                 running ? "still running after" : "took", (unsigned long long)(ran_ns / 1000000),
                 (unsigned long long)dl);
}

static void
watch_tick(uv_timer_t *h)
{
    struct wmid_delivery *d = h->data;
    bool any = false;
    for (struct wmid_sink *k = d->sinks; k != NULL; k = k->next) {
        unsigned seq = atomic_load(&k->call_seq);
        uint64_t start = atomic_load(&k->call_start);
        if (start == 0 || atomic_load(&k->call_seq) != seq)
            continue;
        any = true;
        /* The clock after the start was read: a call that began after an
         * earlier reading would look as if it ran for 2^64 ns. */
        uint64_t now = wmid_now_ns();
        if (now < start)
            continue;
        if (now - start <= k->deadline_ns || atomic_load(&k->reported_seq) == seq)
            continue;
        /* Still the same call?  Take what the report needs under the lock. */
        wmi_object *ev = NULL;
        struct wmid_consumer *c = NULL;
        pthread_mutex_lock(&k->mu);
        if (k->busy && atomic_load(&k->call_seq) == seq && k->current != NULL) {
            c = k->current;
            ev = wmi_object_ref(k->batch_events[0]);
        }
        if (c != NULL)
            report_late(d, k, seq, c, ev, now - start, true);
        pthread_mutex_unlock(&k->mu);
        wmi_object_unref(ev);
    }
    if (!any) {
        /* Nothing in flight: stop until a call starts.  Disarm, then look
         * again, so that a call that started meanwhile is not missed. */
        atomic_store(&d->watch_armed, false);
        uv_timer_stop(h);
        for (struct wmid_sink *k = d->sinks; k != NULL; k = k->next)
            if (atomic_load(&k->call_start) != 0 && !atomic_exchange(&d->watch_armed, true)) {
                uv_timer_start(h, watch_tick, WATCH_TICK_MS, WATCH_TICK_MS);
                break;
            }
    }
}

static void
on_watch_async(uv_async_t *a)
{
    struct wmid_delivery *d = a->data;
    if (!uv_is_active((uv_handle_t *)&d->watch_timer))
        uv_timer_start(&d->watch_timer, watch_tick, WATCH_TICK_MS, WATCH_TICK_MS);
}

/* A call starts: mark it for the watchdog and wake the watchdog if it
 * sleeps (once per idle period, not per call). */
static unsigned
call_begin(struct wmid_delivery *d, struct wmid_sink *k, uint64_t start, bool on_loop)
{
    unsigned seq = atomic_fetch_add(&k->call_seq, 1) + 1;
    atomic_store(&k->call_start, start);
    /* A synchronous call on the loop thread is timed when it returns: the
     * watchdog cannot run meanwhile. */
    if (!on_loop && !atomic_load(&d->watch_armed) && !atomic_exchange(&d->watch_armed, true))
        uv_async_send(&d->watch_async);
    return seq;
}

/* After a late call: suspend the sink when it missed too often. */
static void
note_miss(struct wmid_delivery *d, struct wmid_sink *k, uint64_t now)
{
    const struct wmid_settings *s = d->settings;
    size_t K = s->suspend_after_misses ? s->suspend_after_misses : 3;
    if (K > sizeof k->misses / sizeof k->misses[0])
        K = sizeof k->misses / sizeof k->misses[0];
    k->misses[k->nmisses % K] = now;
    k->nmisses++;
    bool probe_failed = atomic_load(&k->state) == SINK_PROBING;
    if (!probe_failed) {
        if (k->nmisses < K)
            return;
        uint64_t oldest = k->misses[k->nmisses % K]; /* the K-th latest */
        if (now - oldest > (uint64_t)s->suspend_window_ms * 1000000ull)
            return;
    }
    uint64_t maxms = s->suspend_max_ms ? s->suspend_max_ms : 60000;
    k->backoff_ms = probe_failed ? k->backoff_ms * 2 : 1000;
    if (k->backoff_ms > maxms)
        k->backoff_ms = maxms;
    k->resume_at = now + k->backoff_ms * 1000000ull;
    k->nmisses = 0;
    atomic_store(&k->state, SINK_SUSPENDED);
    atomic_fetch_add(&k->suspensions, 1);
    log_warnx("provider %s: a consumer missed its deadline %s; suspended for %llu ms "
              "(WBEM_E_PROVIDER_SUSPENDED), then one probe call",
              k->provider->name, probe_failed ? "on the probe call" : "too often",
              (unsigned long long)k->backoff_ms);
}

/* ====================================================================
 * Delivery thread
 * ==================================================================== */

/* With k->mu held: drop the head entries that waited longer than
 * max_wait_on_events. */
static void
expire_head(struct wmid_delivery *d, struct wmid_sink *k, uint64_t now)
{
    while (k->count > 0 && now - k->ring[k->head].enq_ns > d->max_wait_ns) {
        struct qentry e = k->ring[k->head];
        k->head = (k->head + 1) % k->cap;
        k->count--;
        atomic_fetch_add(&e.consumer->stats.dropped_expired, 1);
        account_release(d, e.consumer, e.size, 1);
        raise_report(d, WMID_SE_DROPPED, e.consumer, e.event, WBEM_E_TIMED_OUT, 0,
                     "queued longer than max_wait_on_events (%llu ms)",
                     (unsigned long long)(d->max_wait_ns / 1000000));
        complain_drop(e.consumer, "queued longer than max_wait_on_events");
        check_resume(d, e.consumer);
        if (!grave_put(k, &e.event, 1))
            wmi_object_unref(e.event);
    }
}

/* A suspended sink waits out its suspension (events may expire meanwhile):
 * true when it waited and the loop must look again; false once the wait is
 * over, the sink now probing.  With k->mu held. */
static bool
wait_suspended(struct wmid_delivery *d, struct wmid_sink *k)
{
    uint64_t now = wmid_now_ns();
    if (now < k->resume_at && !k->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t left = k->resume_at - now;
        ts.tv_sec += (time_t)(left / 1000000000ull);
        ts.tv_nsec += (long)(left % 1000000000ull);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        k->waiting = true;
        pthread_cond_timedwait(&k->cv, &k->mu, &ts);
        k->waiting = false;
        if (d->max_wait_ns > 0)
            expire_head(d, k, wmid_now_ns());
        return true;
    }
    atomic_store(&k->state, SINK_PROBING);
    return false;
}

/* Take the longest run for one logical consumer off the queue, up to
 * max_batch, into the sink's batch arrays; a solo event goes alone, and a
 * probe is one event.  Returns the count and *@cp the consumer.  With
 * k->mu held and k->count > 0. */
static size_t
take_batch(struct wmid_sink *k, struct wmid_consumer **cp)
{
    struct wmid_consumer *c = k->ring[k->head].consumer;
    size_t limit = atomic_load(&k->state) == SINK_PROBING ? 1 : k->max_batch;
    size_t n = 0;
    while (n < limit && k->count > 0 && k->ring[k->head].consumer == c) {
        const struct qentry *e = &k->ring[k->head];
        if ((e->flags & QE_SOLO) && n > 0)
            break;
        k->batch_events[n] = e->event;
        k->batch_sizes[n] = e->size;
        k->batch_enq[n] = e->enq_ns;
        k->head = (k->head + 1) % k->cap;
        k->count--;
        n++;
        if (e->flags & QE_SOLO)
            break;
    }
    *cp = c;
    return n;
}

/* IndicateToConsumer for a batch taken off the queue, then its accounting
 * and deadline check.  Without k->mu. */
static void
call_batch(struct wmid_delivery *d, struct wmid_sink *k, struct wmid_consumer *c, size_t n)
{
    wmi_object **events = k->batch_events;
    pthread_mutex_lock(&k->call_mu);
    uint64_t start = wmid_now_ns();
    unsigned seq = call_begin(d, k, start, false);
    plugin_call_error_clear();
    wmi_status st = k->us->indicate_to_consumer(k->us, c->logical, n, events);
    uint64_t end = wmid_now_ns();
    atomic_store(&k->call_start, 0);
    atomic_store_explicit(&k->last_used_ms, end / 1000000u, memory_order_relaxed);
    pthread_mutex_unlock(&k->call_mu);

    count_call(c, n, k->batch_enq, end);
    finish_call(d, c, st, n, events);
    if (end - start > k->deadline_ns) {
        report_late(d, k, seq, c, events[0], end - start, false);
        note_miss(d, k, end);
    } else if (atomic_load(&k->state) == SINK_PROBING) {
        atomic_store(&k->state, SINK_ACTIVE);
        log_notice("provider %s: the probe call returned within its deadline; delivery resumed",
                   k->provider->name);
    }
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += k->batch_sizes[i];
    account_release(d, c, bytes, n);
    check_resume(d, c);
}

/* The batch is done: its events go to the graveyard, which the loop
 * empties (events are freed on the loop thread).  With k->mu held; it is
 * dropped and taken again around the wake-up. */
static void
return_batch(struct wmid_delivery *d, struct wmid_sink *k, size_t n)
{
    wmi_object **events = k->batch_events;
    k->busy = false;
    k->current = NULL; /* from here on delivery_retire may free c */
    bool handed = grave_put(k, events, n);
    bool reap = k->count == 0 && k->ngrave > 0;
    if (k->count == 0)
        pthread_cond_broadcast(&k->idle_cv);
    if (!handed || reap) {
        pthread_mutex_unlock(&k->mu);
        if (!handed) /* the graveyard is full: free here rather than grow */
            for (size_t i = 0; i < n; i++)
                wmi_object_unref(events[i]);
        if (reap)
            uv_async_send(&d->reap_async);
        pthread_mutex_lock(&k->mu);
    }
}

/* Abandoned at shutdown: count what could not be delivered.  With k->mu
 * held. */
static void
abandon_queue(struct wmid_delivery *d, struct wmid_sink *k)
{
    while (k->count > 0) {
        struct qentry *e = &k->ring[k->head];
        atomic_fetch_add(&e->consumer->stats.dropped_shutdown, 1);
        account_release(d, e->consumer, e->size, 1);
        wmi_object_unref(e->event);
        k->head = (k->head + 1) % k->cap;
        k->count--;
    }
}

static void *
sink_thread(void *arg)
{
    struct wmid_sink *k = arg;
    struct wmid_delivery *d = k->d;

    pthread_mutex_lock(&k->mu);
    for (;;) {
        while (k->count == 0 && !k->stopping) {
            k->waiting = true;
            pthread_cond_wait(&k->cv, &k->mu);
            k->waiting = false;
        }
        if (k->count == 0 || k->abandon)
            break;
        if (atomic_load(&k->state) == SINK_SUSPENDED && wait_suspended(d, k))
            continue;
        if (d->max_wait_ns > 0) {
            expire_head(d, k, wmid_now_ns());
            if (k->count == 0)
                continue;
        }
        struct wmid_consumer *c;
        size_t n = take_batch(k, &c);
        k->busy = true;
        k->current = c;
        pthread_mutex_unlock(&k->mu);
        call_batch(d, k, c, n);
        pthread_mutex_lock(&k->mu);
        return_batch(d, k, n);
    }
    abandon_queue(d, k);
    pthread_cond_broadcast(&k->idle_cv);
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

/* ====================================================================
 * Engine
 * ==================================================================== */

void
delivery_kick(struct wmid_delivery *d)
{
    for (struct wmid_sink *k = d->sinks; k != NULL; k = k->next) {
        wmi_object **grave = NULL;
        size_t ngrave = 0;
        pthread_mutex_lock(&k->mu);
        bool wake = k->waiting && k->count > 0 && atomic_load(&k->state) != SINK_SUSPENDED;
        if (k->ngrave > 0) {
            /* Take the whole graveyard; the thread starts a new one. */
            grave = k->grave;
            ngrave = k->ngrave;
            k->grave = NULL;
            k->ngrave = k->capgrave = 0;
        }
        pthread_mutex_unlock(&k->mu);
        if (wake)
            pthread_cond_signal(&k->cv);
        for (size_t i = 0; i < ngrave; i++)
            wmi_object_unref(grave[i]);
        free(grave);
    }
}

/* ====================================================================
 * Retiring consumers (reload)
 * ==================================================================== */

static void
sink_free(struct wmid_sink *k)
{
    for (size_t i = 0; i < k->ngrave; i++)
        wmi_object_unref(k->grave[i]);
    free(k->ring);
    free(k->grave);
    free(k->batch_events);
    free(k->batch_sizes);
    free(k->batch_enq);
    pthread_mutex_destroy(&k->mu);
    pthread_mutex_destroy(&k->call_mu);
    pthread_cond_destroy(&k->cv);
    pthread_cond_destroy(&k->idle_cv);
    free(k);
}

/* Stop the thread of a sink that has no consumer left (so nothing queued
 * and no call in flight: the join is immediate), release the physical
 * consumer and free the sink. */
static void
sink_stop(struct wmid_delivery *d, struct wmid_sink *k)
{
    pthread_mutex_lock(&k->mu);
    k->stopping = true;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    if (k->started)
        pthread_join(k->thread, NULL);
    k->started = false;
    if (k->us != NULL && k->us->release != NULL)
        k->us->release(k->us);
    for (struct wmid_sink **pp = &d->sinks; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == k) {
            *pp = k->next;
            break;
        }
    }
    sink_free(k);
}

static bool
retire_ready(struct wmid_consumer *c)
{
    struct wmid_sink *k = c->sink;
    pthread_mutex_lock(&k->mu);
    bool ready = atomic_load(&c->queued_events) == 0 && k->current != c;
    pthread_mutex_unlock(&k->mu);
    return ready;
}

static void
retire_finish(struct wmid_delivery *d, struct wmid_consumer *c, void (*done)(struct wmid_consumer *))
{
    struct wmid_sink *k = c->sink;
    c->sink = NULL;
    if (k != NULL && --k->nconsumers == 0)
        sink_stop(d, k); /* releases the physical consumer, and with it what it knew */
    else if (k != NULL && c->provider != NULL && c->provider->hosted != NULL)
        hosting_forget(c->provider, c->logical);
    done(c);
}

static void
on_retire_timer(uv_timer_t *h)
{
    struct wmid_delivery *d = h->data;
    struct retiree **pp = &d->retirees;
    while (*pp != NULL) {
        struct retiree *t = *pp;
        if (!retire_ready(t->c)) {
            pp = &t->next;
            continue;
        }
        *pp = t->next;
        retire_finish(d, t->c, t->done);
        free(t);
    }
    if (d->retirees == NULL)
        uv_timer_stop(h);
}

void
delivery_retire(struct wmid_delivery *d, struct wmid_consumer *c, void (*done)(struct wmid_consumer *c))
{
    if (d->shut || c->sink == NULL) {
        /* No queue (never attached), or every thread stopped and every
         * physical consumer released already (exit). */
        c->sink = NULL;
        done(c);
        return;
    }
    if (retire_ready(c)) {
        retire_finish(d, c, done);
        return;
    }
    struct retiree *t = malloc(sizeof *t);
    if (t == NULL) {
        /* Cannot wait for it: keep it (a leak) rather than free it under
         * its delivery thread. */
        log_warnx("consumer %s: out of memory; it stays allocated", c->path);
        return;
    }
    t->c = c;
    t->done = done;
    t->next = d->retirees;
    d->retirees = t;
    if (!uv_is_active((uv_handle_t *)&d->retire_timer))
        uv_timer_start(&d->retire_timer, on_retire_timer, 20, 20);
}

size_t
delivery_retiring(struct wmid_delivery *d)
{
    size_t n = 0;
    for (struct retiree *t = d->retirees; t != NULL; t = t->next)
        n++;
    return n;
}

static void
on_reap(uv_async_t *a)
{
    delivery_kick(a->data);
}

static void
on_resume(uv_async_t *a)
{
    struct wmid_delivery *d = a->data;
    if (d->resume_cb != NULL)
        d->resume_cb(d->resume_arg);
}

struct wmid_delivery *
delivery_new(uv_loop_t *loop, const struct wmid_settings *s)
{
    struct wmid_delivery *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    d->raised = calloc(RAISE_MAX, sizeof *d->raised);
    if (d->raised == NULL) {
        free(d);
        return NULL;
    }
    d->loop = loop;
    d->settings = s;
    d->max_bytes = s->queue_max_bytes;
    d->low_bytes = s->low_threshold_on_events ? s->low_threshold_on_events : s->queue_max_bytes;
    d->max_wait_ns = (uint64_t)s->max_wait_on_events_ms * 1000000ull;
    pthread_mutex_init(&d->raise_mu, NULL);
    uv_async_init(loop, &d->resume_async, on_resume);
    d->resume_async.data = d;
    uv_async_init(loop, &d->reap_async, on_reap);
    d->reap_async.data = d;
    uv_async_init(loop, &d->raise_async, on_raise);
    d->raise_async.data = d;
    uv_async_init(loop, &d->watch_async, on_watch_async);
    d->watch_async.data = d;
    uv_timer_init(loop, &d->watch_timer);
    d->watch_timer.data = d;
    uv_timer_init(loop, &d->retire_timer);
    d->retire_timer.data = d;
    return d;
}

void
delivery_set_resume_cb(struct wmid_delivery *d, void (*cb)(void *arg), void *arg)
{
    d->resume_cb = cb;
    d->resume_arg = arg;
}

bool
delivery_attach(struct wmid_delivery *d, struct wmid_consumer *c)
{
    struct wmid_provider *p = c->provider;
    struct wmi_unbound_object_sink *us = NULL;

    if (p == NULL || !p->loaded)
        return false;
    wmi_status st = p->cp->find_consumer(p->state, c->logical, &us);
    if (WMI_FAILED(st) || us == NULL || us->indicate_to_consumer == NULL) {
        /* A sink handed back with a failure, or without indicate, is the
         * plugin's to free. */
        if (us != NULL && us->release != NULL)
            us->release(us);
        /* Retried with a backoff (router.c): a warning for the first
         * failure in a row, the retries at info level. */
        log_msg(c->find_failures == 0 ? WMI_LOG_WARNING : WMI_LOG_INFO,
                "consumer %s: FindConsumer of provider %s failed with %s%s; its events are counted as dropped "
                "until it succeeds",
                c->path, p->name, WMI_FAILED(st) ? wmi_status_name(st) : "no sink",
                c->find_failures == 0 ? "" : " again");
        atomic_store(&c->stats.last_error, WMI_FAILED(st) ? st : WBEM_E_PROVIDER_FAILURE);
        return false;
    }
    uint64_t now_ms = wmid_now_ns() / 1000000u;
    for (struct wmid_sink *k = d->sinks; k != NULL; k = k->next) {
        if (k->us == us) {
            c->sink = k;
            k->nconsumers++;
            atomic_store(&k->last_used_ms, now_ms);
            return true;
        }
    }
    struct wmid_sink *k = calloc(1, sizeof *k);
    if (k == NULL)
        return false;
    k->d = d;
    k->us = us;
    k->provider = p;
    k->max_batch = p->cp->max_batch ? p->cp->max_batch : 1;
    unsigned dl = p->deadline_ms ? p->deadline_ms
                  : p->cp->deadline_ms ? p->cp->deadline_ms
                  : d->settings->consumer_deadline_ms ? d->settings->consumer_deadline_ms
                                                      : 100;
    k->deadline_ns = (uint64_t)dl * 1000000ull;
    k->batch_events = calloc(k->max_batch, sizeof *k->batch_events);
    k->batch_sizes = calloc(k->max_batch, sizeof *k->batch_sizes);
    k->batch_enq = calloc(k->max_batch, sizeof *k->batch_enq);
    if (k->batch_events == NULL || k->batch_sizes == NULL || k->batch_enq == NULL) {
        log_warnx("consumer %s: cannot allocate batches of %zu events; not attached", c->path, k->max_batch);
        free(k->batch_events);
        free(k->batch_sizes);
        free(k->batch_enq);
        free(k);
        if (us->release != NULL)
            us->release(us);
        return false;
    }
    pthread_mutex_init(&k->mu, NULL);
    pthread_mutex_init(&k->call_mu, NULL);
    /* Timed waits on the monotonic clock: a wall-clock step must not
     * stretch a suspension or a shutdown drain. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&k->cv, &ca);
    pthread_cond_init(&k->idle_cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&k->thread, NULL, sink_thread, k) != 0) {
        log_warn("consumer %s: cannot start a delivery thread", c->path);
        free(k->batch_events);
        free(k->batch_sizes);
        free(k->batch_enq);
        free(k);
        if (us->release != NULL)
            us->release(us);
        return false;
    }
    k->started = true;
    atomic_store(&k->last_used_ms, now_ms);
    k->next = d->sinks;
    d->sinks = k;
    c->sink = k;
    k->nconsumers = 1;
    return true;
}

uint64_t
delivery_release_idle(struct wmid_delivery *d, struct wmid_consumer *const *consumers, size_t n, uint64_t clear_ms,
                      uint64_t now)
{
    uint64_t next = UINT64_MAX;
    if (d->shut)
        return next;
    struct wmid_sink *k = d->sinks;
    while (k != NULL) {
        struct wmid_sink *after = k->next; /* k may be freed below */
        uint64_t due = now + clear_ms;     /* when busy: not before a whole ClearAfter */
        bool retiring = false;
        for (struct retiree *t = d->retirees; t != NULL && !retiring; t = t->next)
            retiring = t->c->sink == k;
        /* The conditions of retire_ready, for the whole sink: nothing
         * queued for any of its consumers, no call by its thread.  A
         * synchronous call runs on this (the loop) thread, so none is in
         * flight now. */
        pthread_mutex_lock(&k->mu);
        bool idle = !retiring && !k->stopping && k->started && k->count == 0 && !k->busy &&
                    atomic_load(&k->call_start) == 0;
        pthread_mutex_unlock(&k->mu);
        uint64_t last = atomic_load(&k->last_used_ms);
        if (idle)
            due = last + clear_ms;
        size_t mine = 0;
        for (size_t i = 0; idle && now >= due && i < n; i++)
            mine += consumers[i]->sink == k;
        if (!idle || now < due || mine != k->nconsumers) {
            /* A consumer outside @consumers holding it would be left
             * pointing at a freed sink: keep it then (it cannot happen
             * while every consumer is in the router or retiring). */
            next = due < next ? due : next;
            k = after;
            continue;
        }
        struct wmid_provider *p = k->provider;
        for (size_t i = 0; i < n; i++) {
            struct wmid_consumer *c = consumers[i];
            if (c->sink != k)
                continue;
            c->sink = NULL;
            c->releases++;
            /* Debug: a consumer that gets an event now and then would
             * otherwise log this every ClearAfter; the provider's own
             * load and shutdown are logged at info level. */
            log_debug("consumer %s: physical consumer released after %llu ms without events "
                     "(__EventSinkCacheControl.ClearAfter %llu ms); FindConsumer again at its next event",
                     c->path, (unsigned long long)(now - last), (unsigned long long)clear_ms);
        }
        k->nconsumers = 0;
        sink_stop(d, k);
        if (p->life.last_used_ms < last)
            p->life.last_used_ms = last;
        if (delivery_provider_sinks(d, p, NULL) == 0)
            p->life.idle_since_ms = now;
        k = after;
    }
    return next;
}

size_t
delivery_provider_sinks(struct wmid_delivery *d, const struct wmid_provider *p, uint64_t *last_used_ms)
{
    size_t n = 0;
    uint64_t last = 0;
    for (struct wmid_sink *k = d->sinks; k != NULL; k = k->next) {
        if (k->provider != p || k->us == NULL)
            continue;
        n++;
        uint64_t t = atomic_load(&k->last_used_ms);
        last = t > last ? t : last;
    }
    if (last_used_ms != NULL)
        *last_used_ms = last;
    return n;
}

enum wmid_push_result
delivery_push(struct wmid_delivery *d, struct wmid_consumer *c, wmi_object *ev, size_t size, unsigned flags)
{
    struct wmid_sink *k = c->sink;
    if (k == NULL) {
        atomic_fetch_add(&c->stats.dropped_no_sink, 1);
        complain_drop(c, "no physical consumer");
        raise_report(d, WMID_SE_DROPPED, c, ev, WBEM_E_PROVIDER_NOT_FOUND, 0,
                     c->provider != NULL && !c->provider->loaded
                         ? "the logical consumer has no physical consumer (its provider is not loaded)"
                         : "the logical consumer has no physical consumer (FindConsumer failed)");
        return PUSH_DROPPED;
    }
    size_t cq = atomic_load(&c->stats.queued_bytes);
    size_t tq = atomic_load(&d->total_bytes);
    bool over_c = cq + size > c->max_queue_bytes;
    bool over_t = tq + size > d->max_bytes;
    bool slow_down = (flags & WMID_PUSH_SLOW_DOWN) != 0;
    /* SlowDownProviders may overshoot by what the producer sends before it
     * pauses, but never past twice the limit. */
    if ((over_c || over_t) &&
        (!slow_down || cq + size > 2 * c->max_queue_bytes || tq + size > 2 * d->max_bytes)) {
        atomic_fetch_add(&c->stats.dropped_queue_full, 1);
        complain_drop(c, over_c ? "the consumer's queue is full" : "the global queue limit is reached");
        raise_report(d, WMID_SE_QUEUE_OVERFLOW, c, ev, WBEM_E_QUEUE_OVERFLOW, over_c ? cq : tq,
                     over_c ? "the consumer's queue is full (MaximumQueueSize %zu bytes)"
                            : "all queues together are full (high_threshold_on_events %zu bytes)",
                     over_c ? c->max_queue_bytes : d->max_bytes);
        return PUSH_DROPPED;
    }
    atomic_fetch_add(&c->stats.queued_bytes, size);
    atomic_fetch_add(&d->total_bytes, size);
    /* Mark the overflow before the event becomes visible to the delivery
     * thread: were it marked after, the thread could drain the queue and
     * run check_resume in between, and nothing would ever clear the mark
     * (a paused producer never resumed). */
    if (over_t)
        atomic_store(&d->global_full, true);
    if (over_c && !atomic_exchange(&c->full, true))
        atomic_fetch_add(&d->nfull, 1);
    bool slow = tq + size >= d->low_bytes;
    if (slow)
        atomic_store(&d->slowing, true);
    wmi_object_ref(ev);
    struct qentry e = {c, ev, size, wmid_now_ns(), (flags & WMID_PUSH_SOLO) ? QE_SOLO : 0};
    pthread_mutex_lock(&k->mu);
    bool ok = !k->stopping && ring_push(k, e);
    if (ok)
        atomic_fetch_add(&c->queued_events, 1);
    /* A full batch is worth a wake at once; anything less waits for the
     * producer's delivery_kick at the end of its burst. */
    bool wake = ok && k->waiting && k->count >= k->max_batch && atomic_load(&k->state) != SINK_SUSPENDED;
    pthread_mutex_unlock(&k->mu);
    if (!ok) {
        wmi_object_unref(ev);
        account_release(d, c, size, 0);
        check_resume(d, c);
        atomic_fetch_add(&c->stats.dropped_shutdown, 1);
        raise_report(d, WMID_SE_DROPPED, c, ev, WBEM_E_SHUTTING_DOWN, 0, "the consumer is shutting down");
        return PUSH_DROPPED;
    }
    if (wake)
        pthread_cond_signal(&k->cv);
    return (over_c || over_t || slow) ? PUSH_QUEUED_FULL : PUSH_QUEUED;
}

enum wmid_push_result
delivery_call(struct wmid_delivery *d, struct wmid_consumer *c, wmi_object *ev, size_t size, unsigned flags,
              bool *late)
{
    struct wmid_sink *k = c->sink;
    *late = false;
    /* Queued events for this consumer go first (order), and a suspended
     * sink takes no calls: queue it. */
    if (k == NULL || atomic_load(&c->queued_events) > 0 || atomic_load(&k->state) != SINK_ACTIVE)
        return delivery_push(d, c, ev, size, flags);
    /* Wait for the delivery thread's call no longer than the deadline. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(k->deadline_ns / 1000000000ull);
    ts.tv_nsec += (long)(k->deadline_ns % 1000000000ull);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    if (pthread_mutex_clocklock(&k->call_mu, CLOCK_MONOTONIC, &ts) != 0)
        return delivery_push(d, c, ev, size, flags);
    uint64_t start = wmid_now_ns();
    unsigned seq = call_begin(d, k, start, true);
    plugin_call_error_clear();
    wmi_object *one[1] = {ev};
    wmi_status st = k->us->indicate_to_consumer(k->us, c->logical, 1, one);
    uint64_t end = wmid_now_ns();
    atomic_store(&k->call_start, 0);
    atomic_store_explicit(&k->last_used_ms, end / 1000000u, memory_order_relaxed);
    pthread_mutex_unlock(&k->call_mu);
    uint64_t enq[1] = {start};
    atomic_fetch_add_explicit(&c->stats.sync_calls, 1, memory_order_relaxed);
    count_call(c, 1, enq, end);
    finish_call(d, c, st, 1, one);
    if (end - start > k->deadline_ns) {
        *late = true;
        report_late(d, k, seq, c, ev, end - start, false);
    }
    return PUSH_QUEUED;
}

bool
delivery_is_congested(struct wmid_delivery *d)
{
    return atomic_load(&d->nfull) > 0 || atomic_load(&d->global_full) || atomic_load(&d->slowing);
}

void
delivery_want_resume(struct wmid_delivery *d)
{
    atomic_store(&d->want_resume, true);
    /* Check after setting the flag, so that a drain that finished in
     * between is not missed. */
    if (!delivery_is_congested(d) && atomic_exchange(&d->want_resume, false))
        uv_async_send(&d->resume_async);
}

size_t
delivery_queued_bytes(struct wmid_delivery *d)
{
    return atomic_load(&d->total_bytes);
}

/* ====================================================================
 * Stats
 * ==================================================================== */

static const char *
sink_state_name(const struct wmid_sink *k)
{
    if (k == NULL)
        return "detached";
    switch (atomic_load(&k->state)) {
    case SINK_SUSPENDED:
        return "suspended";
    case SINK_PROBING:
        return "probing";
    default:
        return "active";
    }
}

/* The upper bound (µs) of the bucket holding the q-quantile. */
static unsigned long long
quantile_us(const unsigned long long *b, unsigned long long total, double q)
{
    unsigned long long want = (unsigned long long)((double)total * q);
    unsigned long long seen = 0;
    if (want >= total)
        want = total - 1;
    for (unsigned i = 0; i < WMID_LATENCY_BUCKETS; i++) {
        seen += b[i];
        if (seen > want)
            return i == 0 ? 1 : 1ull << i;
    }
    return 1ull << (WMID_LATENCY_BUCKETS - 1);
}

json_t *
delivery_consumer_stats_json(struct wmid_delivery *d, struct wmid_consumer *c)
{
    (void)d;
    const struct wmid_consumer_stats *s = &c->stats;
    unsigned long long calls = atomic_load(&s->calls), delivered = atomic_load(&s->delivered),
                       failed = atomic_load(&s->failed);
    struct wmid_sink *k = c->sink;
    json_t *o = json_pack(
        "{sIsIsIsIsfsIsIs{sIsIsIsI}sIsIsIss}", "delivered", (json_int_t)delivered, "failed", (json_int_t)failed,
        "calls", (json_int_t)calls, "synchronous_calls", (json_int_t)atomic_load(&s->sync_calls), "mean_batch",
        calls ? (double)(delivered + failed) / (double)calls : 0.0, "max_batch",
        (json_int_t)atomic_load(&s->max_batch), "deadline_misses", (json_int_t)atomic_load(&s->deadline_misses),
        "dropped", "queue_full", (json_int_t)atomic_load(&s->dropped_queue_full), "no_sink",
        (json_int_t)atomic_load(&s->dropped_no_sink), "expired", (json_int_t)atomic_load(&s->dropped_expired),
        "shutdown", (json_int_t)atomic_load(&s->dropped_shutdown), "queued_events",
        (json_int_t)atomic_load(&c->queued_events), "queued_bytes", (json_int_t)atomic_load(&s->queued_bytes),
        "max_queue_bytes", (json_int_t)c->max_queue_bytes, "state",
        k != NULL && atomic_load(&k->state) == SINK_SUSPENDED ? "suspended" : sink_state_name(k));
    if (k != NULL) {
        json_object_set_new(o, "deadline_ms", json_integer((json_int_t)(k->deadline_ns / 1000000)));
        json_object_set_new(o, "suspensions", json_integer((json_int_t)atomic_load(&k->suspensions)));
        if (atomic_load(&k->state) == SINK_SUSPENDED)
            json_object_set_new(o, "status", json_string("WBEM_E_PROVIDER_SUSPENDED"));
    }
    unsigned long long b[WMID_LATENCY_BUCKETS], total = 0;
    json_t *buckets = json_object();
    for (unsigned i = 0; i < WMID_LATENCY_BUCKETS; i++) {
        b[i] = atomic_load(&s->latency[i]);
        total += b[i];
        if (b[i] > 0) {
            char key[32];
            if (i == WMID_LATENCY_BUCKETS - 1)
                snprintf(key, sizeof key, "more");
            else
                snprintf(key, sizeof key, "%llu", 1ull << i);
            json_object_set_new(buckets, key, json_integer((json_int_t)b[i]));
        }
    }
    json_t *lat = json_object();
    if (total > 0) {
        json_object_set_new(lat, "p50", json_integer((json_int_t)quantile_us(b, total, 0.5)));
        json_object_set_new(lat, "p99", json_integer((json_int_t)quantile_us(b, total, 0.99)));
        json_object_set_new(lat, "p999", json_integer((json_int_t)quantile_us(b, total, 0.999)));
        json_object_set_new(lat, "max", json_integer((json_int_t)atomic_load(&s->latency_max_us)));
    }
    json_object_set_new(lat, "below_us", buckets);
    json_object_set_new(o, "latency_us", lat);
    return o;
}

json_t *
delivery_stats_json(struct wmid_delivery *d)
{
    size_t sinks = 0, suspended = 0;
    for (struct wmid_sink *k = d->sinks; k != NULL; k = k->next) {
        sinks++;
        suspended += atomic_load(&k->state) == SINK_SUSPENDED;
    }
    return json_pack("{sIsIsIsIsIsbsIsIsI}", "queued_bytes", (json_int_t)atomic_load(&d->total_bytes),
                     "high_threshold_on_events", (json_int_t)d->max_bytes, "low_threshold_on_events",
                     (json_int_t)d->low_bytes, "sinks", (json_int_t)sinks, "suspended", (json_int_t)suspended,
                     "slowing_producers", atomic_load(&d->slowing) || atomic_load(&d->global_full) ||
                                              atomic_load(&d->nfull) > 0,
                     "reports_raised", (json_int_t)atomic_load(&d->raised_total), "reports_lost",
                     (json_int_t)atomic_load(&d->raise_lost), "reports_suppressed",
                     (json_int_t)atomic_load(&d->raise_suppressed));
}

/* ====================================================================
 * Shutdown
 * ==================================================================== */

bool
delivery_shutdown(struct wmid_delivery *d, unsigned timeout_ms)
{
    bool all_stopped = true;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    for (struct wmid_sink *k = d->sinks; k != NULL; k = k->next) {
        pthread_mutex_lock(&k->mu);
        k->stopping = true;
        pthread_cond_signal(&k->cv);
        pthread_mutex_unlock(&k->mu);
    }
    for (struct wmid_sink *k = d->sinks; k != NULL; k = k->next) {
        if (!k->started)
            continue;
        pthread_mutex_lock(&k->mu);
        int rc = 0;
        while ((k->count > 0 || k->busy) && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&k->idle_cv, &k->mu, &deadline);
        if (k->count > 0 || k->busy) {
            log_warnx("provider %s: %zu event(s) not delivered within %u ms of shutdown; dropped", k->provider->name,
                      k->count, timeout_ms);
            k->abandon = true;
        }
        bool stuck = k->busy;
        pthread_mutex_unlock(&k->mu);
        if (stuck) {
            /* A plugin call that never returns cannot be interrupted; leave
             * the thread (and its sink) behind rather than hang the exit. */
            pthread_detach(k->thread);
            k->started = false;
            k->us = NULL;
            all_stopped = false;
            continue;
        }
        pthread_join(k->thread, NULL);
        k->started = false;
    }
    if (all_stopped)
        delivery_kick(d); /* free what the threads handed back */
    for (struct wmid_sink *k = d->sinks; k != NULL; k = k->next) {
        if (k->us != NULL && k->us->release != NULL)
            k->us->release(k->us);
        k->us = NULL;
    }
    if (all_stopped) {
        /* Every thread is gone: consumers still retiring can go now. */
        uv_timer_stop(&d->retire_timer);
        while (d->retirees != NULL) {
            struct retiree *t = d->retirees;
            d->retirees = t->next;
            t->c->sink = NULL;
            t->done(t->c);
            free(t);
        }
        d->shut = true;
        /* Reports nobody will route any more. */
        pthread_mutex_lock(&d->raise_mu);
        for (size_t i = 0; i < d->nraised; i++) {
            wmi_object_unref(d->raised[i].event);
            wmi_object_unref(d->raised[i].logical);
            free(d->raised[i].consumer_path);
        }
        d->nraised = 0;
        pthread_mutex_unlock(&d->raise_mu);
    }
    return all_stopped;
}

static void
on_async_closed(uv_handle_t *h)
{
    struct wmid_delivery *d = h->data;
    pthread_mutex_destroy(&d->raise_mu);
    free(d->raised);
    free(d);
}

void
delivery_free(struct wmid_delivery *d)
{
    struct wmid_sink *k = d->sinks;
    while (k != NULL) {
        struct wmid_sink *next = k->next;
        if (k->us == NULL && k->started == false)
            sink_free(k);
        k = next;
    }
    uv_close((uv_handle_t *)&d->reap_async, NULL);
    uv_close((uv_handle_t *)&d->retire_timer, NULL);
    uv_close((uv_handle_t *)&d->watch_timer, NULL);
    uv_close((uv_handle_t *)&d->watch_async, NULL);
    uv_close((uv_handle_t *)&d->raise_async, NULL);
    d->resume_async.data = d;
    uv_close((uv_handle_t *)&d->resume_async, on_async_closed);
}
