/*
 * delivery.c - the delivery engine, first form: one bounded queue and one
 * delivery thread per physical consumer (the IWbemUnboundObjectSink a
 * consumer provider's FindConsumer returned).
 *
 * Plugin code never runs on the loop thread.  The queue holds (logical
 * consumer, event) pairs in arrival order; the thread takes the longest
 * run of pairs for one logical consumer, up to the provider's max_batch,
 * and hands it to IndicateToConsumer in one call, so a consumer that keeps
 * up gets n == 1 and one that falls behind gets batches (WMI's automatic
 * batching).
 *
 * Limits are in bytes (the size of the event as it arrived, or an
 * estimate): per logical consumer (__EventConsumer.MaximumQueueSize, else
 * the default_consumer_queue_bytes setting) and for all queues together
 * (queue_max_bytes).  An event over a limit is dropped and counted, unless
 * its binding has SlowDownProviders = TRUE: then it is queued and the
 * producer is told to pause until the queues fall below half their limits.
 *
 * Producers do not wake a delivery thread per event: delivery_kick, called
 * once per burst (a socket read, a netlink datagram), wakes every sink
 * with work, so a consumer that keeps up costs one wake per burst rather
 * than one futex call per event.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/wmieventd.h"

struct qentry {
    struct wmid_consumer *consumer;
    wmi_object *event;
    size_t size;
};

struct wmid_sink {
    struct wmid_delivery *d;
    struct wmi_unbound_object_sink *us;
    struct wmid_provider *provider;
    size_t max_batch;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t idle_cv;
    struct qentry *ring;
    size_t cap, head, count;
    bool waiting;                /* the thread sleeps on cv */
    bool busy;                   /* a call is in flight */
    struct wmid_consumer *current; /* the logical consumer of that call */
    size_t nconsumers;           /* logical consumers attached (loop thread) */
    bool stopping;               /* drain, then exit */
    bool abandon;                /* drop what is left, then exit */
    /* Delivered events, handed back so that the thread that allocated them
     * (the loop) frees them: freeing on the delivery thread makes both
     * threads contend for malloc's arena lock. */
    wmi_object **grave;
    size_t ngrave, capgrave;
    /* The thread's batch arrays, max_batch long, allocated at attach. */
    wmi_object **batch_events;
    size_t *batch_sizes;
    struct wmid_sink *next;
};

struct wmid_delivery {
    uv_loop_t *loop;
    const struct wmid_settings *settings;
    struct wmid_sink *sinks;
    atomic_size_t total_bytes;
    size_t max_bytes;
    atomic_int nfull;            /* consumers above their limit */
    atomic_bool global_full;
    atomic_bool want_resume;
    uv_async_t resume_async;
    void (*resume_cb)(void *arg);
    void *resume_arg;
    uv_async_t reap_async;       /* a sink went idle with events to free */
    /* Consumers removed by a reload, waiting for their queues to drain. */
    struct retiree *retirees;
    uv_timer_t retire_timer;
    bool shut;                   /* delivery_shutdown ran */
};

struct retiree {
    struct wmid_consumer *c;
    void (*done)(struct wmid_consumer *c);
    struct retiree *next;
};

/* ====================================================================
 * Rate-limited complaints: the first, then at most one line a second.
 * ==================================================================== */

static void
complain_drop(struct wmid_consumer *c, const char *why)
{
    /* Rate-limited per consumer, so that one flooded consumer does not hide
     * the drops of another. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long now = (long long)ts.tv_sec;
    long long prev = atomic_load(&c->last_drop_log);
    if (prev == now || !atomic_compare_exchange_strong(&c->last_drop_log, &prev, now))
        return;
    log_warnx("consumer %s: event dropped (%s); dropped so far: %llu queue full, %llu no sink", c->path,
              why, (unsigned long long)atomic_load(&c->stats.dropped_queue_full),
              (unsigned long long)atomic_load(&c->stats.dropped_no_sink));
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
    if (atomic_load(&d->global_full) && atomic_load(&d->total_bytes) < d->max_bytes / 2)
        atomic_store(&d->global_full, false);
    if (atomic_load(&d->want_resume) && atomic_load(&d->nfull) == 0 && !atomic_load(&d->global_full)) {
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
 * Delivery thread
 * ==================================================================== */

static void *
sink_thread(void *arg)
{
    struct wmid_sink *k = arg;
    struct wmid_delivery *d = k->d;
    wmi_object **events = k->batch_events;
    size_t *sizes = k->batch_sizes;

    pthread_mutex_lock(&k->mu);
    for (;;) {
        while (k->count == 0 && !k->stopping) {
            k->waiting = true;
            pthread_cond_wait(&k->cv, &k->mu);
            k->waiting = false;
        }
        if (k->count == 0 || k->abandon)
            break;
        /* The longest run for one logical consumer, up to max_batch. */
        struct wmid_consumer *c = k->ring[k->head].consumer;
        size_t n = 0;
        while (n < k->max_batch && k->count > 0 && k->ring[k->head].consumer == c) {
            events[n] = k->ring[k->head].event;
            sizes[n] = k->ring[k->head].size;
            k->head = (k->head + 1) % k->cap;
            k->count--;
            n++;
        }
        k->busy = true;
        k->current = c;
        pthread_mutex_unlock(&k->mu);

        wmi_status st = k->us->indicate_to_consumer(k->us, c->logical, n, events);
        size_t bytes = 0;
        for (size_t i = 0; i < n; i++)
            bytes += sizes[i];
        if (WMI_FAILED(st)) {
            atomic_fetch_add(&c->stats.failed, n);
            unsigned prev = atomic_exchange(&c->stats.last_error, st);
            if (prev != st)
                log_warnx("consumer %s: IndicateToConsumer failed with %s (%s); %zu event(s) not delivered",
                          c->path, wmi_status_name(st) ? wmi_status_name(st) : "an unknown status",
                          wmi_status_message(st), n);
        } else {
            atomic_fetch_add(&c->stats.delivered, n);
            atomic_store(&c->stats.last_error, 0);
        }
        account_release(d, c, bytes, n);
        check_resume(d, c);
        pthread_mutex_lock(&k->mu);
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
    /* Abandoned at shutdown: count what could not be delivered. */
    while (k->count > 0) {
        struct qentry *e = &k->ring[k->head];
        atomic_fetch_add(&e->consumer->stats.dropped_shutdown, 1);
        account_release(d, e->consumer, e->size, 1);
        wmi_object_unref(e->event);
        k->head = (k->head + 1) % k->cap;
        k->count--;
    }
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
        bool wake = k->waiting && k->count > 0;
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
    pthread_mutex_destroy(&k->mu);
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
        sink_stop(d, k);
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
    d->loop = loop;
    d->settings = s;
    d->max_bytes = s->queue_max_bytes;
    uv_async_init(loop, &d->resume_async, on_resume);
    d->resume_async.data = d;
    uv_async_init(loop, &d->reap_async, on_reap);
    d->reap_async.data = d;
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
        log_warnx("consumer %s: FindConsumer of provider %s failed with %s; its events will be counted as "
                  "dropped",
                  c->path, p->name, WMI_FAILED(st) ? wmi_status_name(st) : "no sink");
        atomic_store(&c->stats.last_error, WMI_FAILED(st) ? st : WBEM_E_PROVIDER_FAILURE);
        return false;
    }
    for (struct wmid_sink *k = d->sinks; k != NULL; k = k->next) {
        if (k->us == us) {
            c->sink = k;
            k->nconsumers++;
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
    k->batch_events = calloc(k->max_batch, sizeof *k->batch_events);
    k->batch_sizes = calloc(k->max_batch, sizeof *k->batch_sizes);
    if (k->batch_events == NULL || k->batch_sizes == NULL) {
        log_warnx("consumer %s: cannot allocate batches of %zu events; not attached", c->path, k->max_batch);
        free(k->batch_events);
        free(k->batch_sizes);
        free(k);
        if (us->release != NULL)
            us->release(us);
        return false;
    }
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    pthread_cond_init(&k->idle_cv, NULL);
    if (pthread_create(&k->thread, NULL, sink_thread, k) != 0) {
        log_warn("consumer %s: cannot start a delivery thread", c->path);
        free(k->batch_events);
        free(k->batch_sizes);
        free(k);
        if (us->release != NULL)
            us->release(us);
        return false;
    }
    k->started = true;
    k->next = d->sinks;
    d->sinks = k;
    c->sink = k;
    k->nconsumers = 1;
    return true;
}

enum wmid_push_result
delivery_push(struct wmid_delivery *d, struct wmid_consumer *c, wmi_object *ev, size_t size, bool slow_down)
{
    struct wmid_sink *k = c->sink;
    if (k == NULL) {
        atomic_fetch_add(&c->stats.dropped_no_sink, 1);
        complain_drop(c, "no physical consumer");
        return PUSH_DROPPED;
    }
    size_t cq = atomic_load(&c->stats.queued_bytes);
    size_t tq = atomic_load(&d->total_bytes);
    bool over_c = cq + size > c->max_queue_bytes;
    bool over_t = tq + size > d->max_bytes;
    /* SlowDownProviders may overshoot by what the producer sends before it
     * pauses, but never past twice the limit. */
    if ((over_c || over_t) &&
        (!slow_down || cq + size > 2 * c->max_queue_bytes || tq + size > 2 * d->max_bytes)) {
        atomic_fetch_add(&c->stats.dropped_queue_full, 1);
        complain_drop(c, over_c ? "the consumer's queue is full" : "the global queue limit is reached");
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
    wmi_object_ref(ev);
    pthread_mutex_lock(&k->mu);
    bool ok = !k->stopping && ring_push(k, (struct qentry){c, ev, size});
    if (ok)
        atomic_fetch_add(&c->queued_events, 1);
    /* A full batch is worth a wake at once; anything less waits for the
     * producer's delivery_kick at the end of its burst. */
    bool wake = ok && k->waiting && k->count >= k->max_batch;
    pthread_mutex_unlock(&k->mu);
    if (!ok) {
        wmi_object_unref(ev);
        account_release(d, c, size, 0);
        check_resume(d, c);
        atomic_fetch_add(&c->stats.dropped_shutdown, 1);
        return PUSH_DROPPED;
    }
    if (wake)
        pthread_cond_signal(&k->cv);
    return (over_c || over_t) ? PUSH_QUEUED_FULL : PUSH_QUEUED;
}

bool
delivery_is_congested(struct wmid_delivery *d)
{
    return atomic_load(&d->nfull) > 0 || atomic_load(&d->global_full);
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

bool
delivery_shutdown(struct wmid_delivery *d, unsigned timeout_ms)
{
    bool all_stopped = true;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
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
    }
    return all_stopped;
}

static void
on_async_closed(uv_handle_t *h)
{
    free(h->data);
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
    d->resume_async.data = d;
    uv_close((uv_handle_t *)&d->resume_async, on_async_closed);
}
