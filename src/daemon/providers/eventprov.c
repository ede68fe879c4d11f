/*
 * eventprov.c - the event provider host.
 *
 * An event provider is a plugin (wmi_event_provider in
 * include/wmievent/plugin.h) registered by a __Win32Provider and an
 * __EventProviderRegistration whose EventQueryList says what it supplies.
 * The host hands it an event sink (IWbemEventSink, struct ev_sink here)
 * and the provider indicates into it, from its own threads or from loop
 * callbacks the host runs for it (timers, fd watches).
 *
 * Only the loop thread routes.  An indicate from a provider thread is
 * checked there and then (the class against the host's schema, the values
 * against the class, the event against the sink's queries), so that the
 * provider learns at once what was refused, and the accepted events are
 * queued for the loop (the ingress queue, one uv_async wakeup per burst).
 * An indicate from a loop callback is routed at once.  While the delivery
 * engine is congested (SlowDownProviders, low_threshold_on_events), a
 * provider thread waits for it to drain, at most indicate_wait_ms (2 s by
 * default), and then gets WBEM_E_SERVER_TOO_BUSY with none of its
 * events taken; a loop callback gets it at once, since the loop must not
 * wait.
 *
 * IsActive is an atomic flag per sink, recomputed on the loop whenever
 * the router changes (eventprov_sync) or a sink changes (restriction,
 * security): a sink is active when some filter with a binding (or a GROUP
 * window) would accept its events: its FROM class overlaps one of the
 * sink's queries, the filter is not inactive, EventAccess lets the
 * provider publish, and the sink's descriptor lets the filter's creator
 * subscribe.
 *
 * NewQuery/CancelQuery: every filter whose FROM class overlaps the
 * registration is a subscription of the provider, named by its filter
 * name, query and creator; each gets an id when first seen (after
 * AccessCheck allowed it) and is cancelled when a reload removes it.
 *
 * Lifecycle: a plugin event provider is loaded by the eventprov_sync that
 * finds a filter that would make its main sink active (worked out from
 * its registration alone: registration_wanted), and shut down by the idle
 * timer (eventprov_sweep_idle) once none of its sinks has been active for
 * __EventProviderCacheControl.ClearAfter; the next sync that needs it
 * loads it again.  The built-in providers (the process connector) are
 * loaded at start and stay: they cost nothing while nobody listens, and
 * the process connector's start-up probe should not be repeated.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "daemon/providers/providers.h"
#include "daemon/config/config.h"
#include "daemon/engine/engine.h"
#include "daemon/log.h"
#include "daemon/plugins/plugins.h"

/* ====================================================================
 * Types
 * ==================================================================== */

struct wmid_evside;

struct ev_sink {
    struct wmi_event_sink pub;   /* first: the provider sees this */
    struct wmid_eventprov *owner; /* the event provider host it belongs to */
    atomic_int refs;             /* the provider's (until release or unload), and each queued event's */
    bool restricted;
    pthread_mutex_t mu;          /* guards everything below */
    struct wmid_evside *side;    /* NULL once the provider is unloaded */
    struct sec_identity publisher;
    char ns[WMID_NS_MAX + 1];    /* where its events are raised ("": WMID_NS_EVENTS, the built-ins) */
    char **texts;                /* the sink's queries */
    size_t ntexts;
    wmi_schema *schema;          /* the schema they were parsed with (a reference) */
    wmi_query **queries;
    struct sec_descriptor *sd;   /* SetSinkSecurity */
    /* Descriptors replaced while the loop may still be routing with them:
     * freed on the loop when no routing is in progress (sweep_old_sds). */
    struct sec_descriptor **old_sds;
    size_t nold;
    unsigned batch_flags;
    size_t batch_bytes;
    unsigned batch_ms;
    /* MUST_BATCH: accepted events held until batch_bytes or batch_ms. */
    struct ingress *held;
    size_t nheld, capheld, held_bytes;
    uint64_t held_since;         /* ms, CLOCK_MONOTONIC */
    atomic_bool active;
    struct ev_sink *next;        /* in side->sinks */
};

/* One event on its way to the router. */
struct ingress {
    struct ev_sink *sink;        /* a reference */
    wmi_object *event;           /* a reference */
    size_t size;
    unsigned flags;              /* WMID_PUSH_* */
};

struct ev_handle {               /* a timer or an fd watch of the provider */
    struct wmid_evside *side;
    uint64_t id;
    bool is_poll;
    union {
        uv_timer_t timer;
        uv_poll_t poll;
    } h;
    void (*timer_cb)(void *arg);
    void (*fd_cb)(void *arg, int fd);
    void *arg;
    int fd;
    struct ev_handle *next;
};

struct wmid_evside {
    struct wmid_eventprov *owner; /* the event provider host it belongs to */
    struct wmid_provider *p;
    void *dl;
    const struct wmi_plugin *plugin;
    const struct wmi_event_provider *ep;
    void *state;
    struct wmi_host host;
    wmi_object *registration;    /* the one it was last synced with */
    struct sec_identity publisher;
    char ns[WMID_NS_MAX + 1];    /* the registration's namespace; "" for the built-ins */
    struct ev_sink *main;
    struct ev_sink *sinks;       /* the main sink and the restricted ones (loop thread, and mu) */
    pthread_mutex_t mu;
    bool loaded;
    wmi_error error;             /* the load's outcome: status and message for Stats */
    json_t *subs;                /* subscription key -> {"id": n, "status": s, "seen": gen} */
    uint32_t next_id;
    unsigned gen;
    struct ev_handle *handles;
    uint64_t next_handle;
    atomic_ullong indicated, refused, too_busy;
    bool builtin;                /* never unloaded when idle */
};

struct wmid_eventprov {
    uv_loop_t *loop;
    pthread_t loop_thread;
    struct wmid_delivery *d;
    const struct wmid_settings *s;
    struct wmid_lifecycle *lifecycle;
    struct wmid_router *router;
    atomic_bool ready;           /* set by eventprov_new, cleared (under mu) by eventprov_shutdown */
    pthread_mutex_t mu;          /* guards the ingress queue and the held list */
    struct ingress *q;
    size_t nq, capq, q_bytes;
    uv_async_t async;
    bool recompute;              /* a sink changed off the loop: recompute IsActive */
    bool paused;                 /* SlowDownProviders: the rest of the queue waits for a drain */
    unsigned routing;            /* route_one calls in progress (they nest through plugins) */
    atomic_bool old_sds;         /* some sink has replaced descriptors to free */
    uv_timer_t batch_timer;      /* MUST_BATCH latencies */
    atomic_ullong dropped;
    struct builtin *builtins;
    int closing;                 /* handles still closing at shutdown */
    atomic_llong last_refused_log; /* second of the last "refused" warning, for all providers */
};

/* A built-in event provider: a provider record of its own, no library. */
struct builtin {
    struct wmid_provider p;
    const struct wmi_event_provider *ep;
    void *context;               /* *provider before initialize */
    char **queries;
    size_t nqueries;
    struct builtin *next;
};

static bool
on_loop(const struct wmid_eventprov *E)
{
    return E->loop != NULL && pthread_equal(pthread_self(), E->loop_thread);
}

/* ====================================================================
 * Sinks: life cycle and queries
 * ==================================================================== */

static void
sink_unref(struct ev_sink *k)
{
    struct wmid_eventprov *E = k->owner;
    if (k == NULL || atomic_fetch_sub(&k->refs, 1) != 1)
        return;
    for (size_t i = 0; i < k->ntexts; i++) {
        free(k->texts[i]);
        wmi_query_free(k->queries ? k->queries[i] : NULL);
    }
    free(k->texts);
    free(k->queries);
    wmi_schema_free(k->schema);
    sec_descriptor_free(k->sd);
    for (size_t i = 0; i < k->nold; i++)
        sec_descriptor_free(k->old_sds[i]);
    free(k->old_sds);
    for (size_t i = 0; i < k->nheld; i++) {
        wmi_object_unref(k->held[i].event);
        atomic_fetch_add(&E->dropped, 1);
    }
    free(k->held);
    pthread_mutex_destroy(&k->mu);
    free(k);
}

/* With k->mu held: parse the sink's texts against @schema (replacing the
 * old queries).  False when one does not parse (it is left NULL). */
static bool
sink_parse(struct ev_sink *k, wmi_schema *schema)
{
    bool ok = true;
    wmi_query **nq = calloc(k->ntexts + 1, sizeof *nq);
    if (nq == NULL)
        return false;
    for (size_t i = 0; i < k->ntexts; i++) {
        wmi_error err;
        if (WMI_FAILED(wmi_query_parse(k->texts[i], schema, &nq[i], &err))) {
            nq[i] = NULL;
            ok = false;
        }
    }
    for (size_t i = 0; k->queries != NULL && i < k->ntexts; i++)
        wmi_query_free(k->queries[i]);
    free(k->queries);
    k->queries = nq;
    wmi_schema_free(k->schema);
    k->schema = wmi_schema_ref(schema);
    return ok;
}

/* Do two event classes overlap (one derives from the other)? */
static bool
classes_overlap(const wmi_schema *schema, const char *a, const char *b)
{
    const wmi_class *ca = wmi_schema_get_class(schema, a), *cb = wmi_schema_get_class(schema, b);
    return ca != NULL && cb != NULL && (wmi_class_isa(ca, b) || wmi_class_isa(cb, a));
}

/* Does a temporary subscription (ExecNotificationQuery) select events of
 * class @cls or of a class related to it? */
static bool
temp_wants(const struct wmid_eventprov *E, const wmi_schema *schema, const char *cls)
{
    const char *const *names;
    size_t n = E->router != NULL ? router_temp_classes(E->router, &names) : 0;
    for (size_t i = 0; i < n; i++)
        if (classes_overlap(schema, cls, names[i]))
            return true;
    return false;
}

/* Loop thread, with k->mu held: would some filter of the router, or a
 * temporary subscription, take this sink's events? */
static bool
sink_compute_active(struct ev_sink *k)
{
    struct wmid_eventprov *E = k->owner;
    struct wmid_router *r = E->router;
    if (r == NULL || k->side == NULL)
        return false;
    const wmi_schema *schema = router_schema(r);
    struct wmid_source src = {&k->publisher, k->sd, k->ns[0] ? k->ns : NULL};
    for (size_t j = 0; k->queries != NULL && j < k->ntexts; j++)
        if (k->queries[j] != NULL && temp_wants(E, schema, wmi_query_class(k->queries[j])))
            return true;
    for (size_t i = 0; i < router_filter_count(r); i++) {
        struct wmid_filter *f = router_filter_at(r, i);
        if (!router_filter_wanted(f) || router_filter_polled(f) || !router_filter_accepts(f, &src))
            continue;
        for (size_t j = 0; k->queries != NULL && j < k->ntexts; j++)
            if (k->queries[j] != NULL &&
                classes_overlap(schema, wmi_query_class(k->queries[j]), wmi_query_class(f->query)))
                return true;
    }
    return false;
}

/*
 * Loop thread: is any sink of @side active?  Keeps the provider's idle
 * clock (p->ev_life): reset while one is, started when none is any more,
 * and then the idle timer told.
 */
static void
side_note_activity(struct wmid_evside *side)
{
    struct wmid_eventprov *E = side->owner;
    if (side == NULL || !side->loaded)
        return;
    bool any = false;
    pthread_mutex_lock(&side->mu);
    for (struct ev_sink *k = side->sinks; k != NULL && !any; k = k->next)
        any = atomic_load(&k->active);
    pthread_mutex_unlock(&side->mu);
    struct wmid_life *life = &side->p->ev_life;
    uint64_t now = wmid_now_ms();
    if (any) {
        life->last_used_ms = now;
        life->idle_since_ms = 0;
    } else if (life->idle_since_ms == 0) {
        life->idle_since_ms = now;
        if (!side->builtin)
            lifecycle_kick(E->lifecycle);
    }
}

static void
sink_update_active(struct ev_sink *k)
{
    pthread_mutex_lock(&k->mu);
    bool a = sink_compute_active(k);
    struct wmid_evside *side = k->side;
    pthread_mutex_unlock(&k->mu);
    atomic_store(&k->active, a);
    side_note_activity(side);
}

static void wake_loop(struct wmid_eventprov *E, bool recompute);

/* A sink changed: recompute its IsActive now on the loop, else soon. */
static void
sink_changed(struct ev_sink *k)
{
    struct wmid_eventprov *E = k->owner;
    if (on_loop(E)) {
        sink_update_active(k);
        return;
    }
    wake_loop(E, true);
}

/* ====================================================================
 * Routing (loop thread)
 * ==================================================================== */

/* Wake the loop from a provider thread (and ask for an IsActive
 * recompute).  Under E->mu, and only while the host is up: shutdown clears
 * ready under the same lock before it closes the async handle, so no
 * send can reach a closed handle. */
static void
wake_loop(struct wmid_eventprov *E, bool recompute)
{
    pthread_mutex_lock(&E->mu);
    if (atomic_load(&E->ready)) {
        E->recompute |= recompute;
        uv_async_send(&E->async);
    }
    pthread_mutex_unlock(&E->mu);
}

/*
 * Call @fn for every sink of every loaded event provider (the router's
 * and the built-in ones).  Provider threads add and release restricted
 * sinks under side->mu at any time, so each side's list is copied under
 * its lock with a reference on each sink, and @fn runs without the lock.
 * Loop thread.
 */
static void
for_each_sink(struct wmid_eventprov *E, void (*fn)(struct ev_sink *k, void *arg), void *arg)
{
    size_t nsides = E->router != NULL ? router_provider_count(E->router) : 0;
    struct builtin *b = E->builtins;
    for (size_t i = 0; i < nsides || b != NULL;) {
        struct wmid_evside *side;
        if (i < nsides) {
            side = router_provider_at(E->router, i)->ev;
            i++;
        } else {
            side = b->p.ev;
            b = b->next;
        }
        if (side == NULL || !side->loaded)
            continue;
        pthread_mutex_lock(&side->mu);
        size_t cnt = 0;
        for (struct ev_sink *k = side->sinks; k != NULL; k = k->next)
            cnt++;
        struct ev_sink **v = cnt > 0 ? malloc(cnt * sizeof *v) : NULL;
        size_t n = 0;
        for (struct ev_sink *k = side->sinks; v != NULL && k != NULL; k = k->next) {
            atomic_fetch_add(&k->refs, 1);
            v[n++] = k;
        }
        pthread_mutex_unlock(&side->mu);
        for (size_t j = 0; j < n; j++) {
            fn(v[j], arg);
            sink_unref(v[j]);
        }
        free(v);
    }
}

static void
update_active_cb(struct ev_sink *k, void *arg)
{
    (void)arg;
    sink_update_active(k);
}

/* Route one event; true when the producer must pause (SlowDownProviders). */
static bool
route_one(struct ingress *e)
{
    struct wmid_eventprov *E = e->sink->owner;
    struct ev_sink *k = e->sink;
    bool pause = false;
    if (E->router != NULL) {
        /* Read the source under the lock, route without it: routing may
         * run plugin code (a synchronous consumer, a provider's first
         * load) that indicates into this very sink or takes locks of its
         * own that a provider thread holds while it waits for ours.  A
         * descriptor replaced meanwhile stays allocated (old_sds). */
        pthread_mutex_lock(&k->mu);
        struct sec_identity publisher = k->publisher;
        char ns[sizeof k->ns];
        memcpy(ns, k->ns, sizeof ns);
        struct wmid_source src = {&publisher, k->sd, ns[0] ? ns : NULL};
        pthread_mutex_unlock(&k->mu);
        E->routing++;
        pause = router_indicate_from(E->router, e->event, e->size, e->flags, &src);
        E->routing--;
    } else {
        atomic_fetch_add(&E->dropped, 1);
    }
    wmi_object_unref(e->event);
    sink_unref(k);
    return pause;
}

static void
drain_ingress(struct wmid_eventprov *E)
{
    for (;;) {
        pthread_mutex_lock(&E->mu);
        if (E->paused && E->router != NULL) {
            pthread_mutex_unlock(&E->mu);
            return; /* eventprov_resume will come */
        }
        struct ingress *q = E->q;
        size_t n = E->nq;
        bool recompute = E->recompute;
        E->q = NULL;
        E->nq = E->capq = 0;
        E->q_bytes = 0;
        E->recompute = false;
        pthread_mutex_unlock(&E->mu);
        size_t done = 0;
        bool pause = false;
        while (done < n && !pause)
            pause = route_one(&q[done++]);
        if (done < n) {
            /* Stop at the first event after which the producer must pause,
             * as the control socket stops reading: the rest waits, in
             * order, ahead of anything queued meanwhile. */
            pthread_mutex_lock(&E->mu);
            struct ingress *nq = malloc((n - done + E->nq) * sizeof *nq);
            if (nq != NULL) {
                memcpy(nq, q + done, (n - done) * sizeof *nq);
                if (E->nq > 0)
                    memcpy(nq + (n - done), E->q, E->nq * sizeof *nq);
                free(E->q);
                E->q = nq;
                E->nq += n - done;
                E->capq = E->nq;
                for (size_t i = done; i < n; i++)
                    E->q_bytes += q[i].size;
                E->paused = true;
                pthread_mutex_unlock(&E->mu);
                free(q);
                if (E->router != NULL)
                    router_flush(E->router);
                delivery_want_resume(E->d);
                return;
            }
            pthread_mutex_unlock(&E->mu);
            for (; done < n; done++) /* no memory to keep them: route anyway */
                route_one(&q[done]);
        }
        free(q);
        if (n > 0 && E->router != NULL)
            router_flush(E->router);
        if (recompute && E->router != NULL)
            for_each_sink(E, update_active_cb, NULL);
        if (n == 0)
            return;
    }
}

/* Hand accepted events to the router: at once on the loop, else queued. */
static void
submit(struct wmid_eventprov *E, struct ingress *list, size_t n)
{
    if (n == 0)
        return;
    if (!atomic_load(&E->ready)) {
        /* The daemon is stopping: nothing routes any more. */
        for (size_t i = 0; i < n; i++) {
            wmi_object_unref(list[i].event);
            sink_unref(list[i].sink);
            atomic_fetch_add(&E->dropped, 1);
        }
        return;
    }
    if (on_loop(E) && !E->paused) {
        drain_ingress(E); /* what provider threads queued comes first */
        for (size_t i = 0; i < n; i++)
            route_one(&list[i]);
        if (E->router != NULL)
            router_flush(E->router);
        return;
    }
    pthread_mutex_lock(&E->mu);
    if (!atomic_load(&E->ready)) {
        /* Shut down since the check above: never append after the last drain. */
        pthread_mutex_unlock(&E->mu);
        for (size_t i = 0; i < n; i++) {
            wmi_object_unref(list[i].event);
            sink_unref(list[i].sink);
            atomic_fetch_add(&E->dropped, 1);
        }
        return;
    }
    bool wake = E->nq == 0;
    if (E->nq + n > E->capq) {
        size_t ncap = E->capq ? E->capq : 256;
        while (ncap < E->nq + n)
            ncap *= 2;
        struct ingress *nq = realloc(E->q, ncap * sizeof *nq);
        if (nq == NULL) {
            pthread_mutex_unlock(&E->mu);
            for (size_t i = 0; i < n; i++) {
                wmi_object_unref(list[i].event);
                sink_unref(list[i].sink);
                atomic_fetch_add(&E->dropped, 1);
            }
            log_warnx("event providers: out of memory; %zu event(s) dropped", n);
            return;
        }
        E->q = nq;
        E->capq = ncap;
    }
    memcpy(E->q + E->nq, list, n * sizeof *list);
    E->nq += n;
    for (size_t i = 0; i < n; i++)
        E->q_bytes += list[i].size;
    if (wake)
        uv_async_send(&E->async); /* under E->mu: see wake_loop */
    pthread_mutex_unlock(&E->mu);
}

static void on_batch_timer(uv_timer_t *t);
static struct ingress *take_held(struct ev_sink *k, size_t *n);

/* The earliest MUST_BATCH deadline among the sinks. */
static void
next_due_cb(struct ev_sink *k, void *arg)
{
    uint64_t *next = arg;
    pthread_mutex_lock(&k->mu);
    if (k->nheld > 0 && k->held_since + k->batch_ms < *next)
        *next = k->held_since + k->batch_ms;
    pthread_mutex_unlock(&k->mu);
}

void
eventprov_resume(struct wmid_eventprov *E)
{
    if (!atomic_load(&E->ready))
        return;
    pthread_mutex_lock(&E->mu);
    bool was = E->paused;
    E->paused = false;
    pthread_mutex_unlock(&E->mu);
    if (was)
        drain_ingress(E);
}

/* Free the descriptors replaced since the last sweep: no routing is in
 * progress, so none is in use. */
static void
sweep_old_sds(struct ev_sink *k, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&k->mu);
    struct sec_descriptor **old = k->old_sds;
    size_t n = k->nold;
    k->old_sds = NULL;
    k->nold = 0;
    pthread_mutex_unlock(&k->mu);
    for (size_t i = 0; i < n; i++)
        sec_descriptor_free(old[i]);
    free(old);
}

static void
on_async(uv_async_t *a)
{
    struct wmid_eventprov *E = a->data;
    (void)a;
    drain_ingress(E);
    if (E->routing == 0 && atomic_exchange(&E->old_sds, false))
        for_each_sink(E, sweep_old_sds, NULL);
    /* A MUST_BATCH sink may have started holding: arm the latency timer. */
    uint64_t next = UINT64_MAX, now = wmid_now_ms();
    for_each_sink(E, next_due_cb, &next);
    if (next != UINT64_MAX)
        uv_timer_start(&E->batch_timer, on_batch_timer, next > now ? next - now : 0, 0);
}

/* With k->mu held: take what the sink holds (MUST_BATCH). */
static struct ingress *
take_held(struct ev_sink *k, size_t *n)
{
    struct ingress *h = k->held;
    *n = k->nheld;
    k->held = NULL;
    k->nheld = k->capheld = k->held_bytes = 0;
    return h;
}

struct batch_due {
    uint64_t now, next;
};

static void
flush_due_cb(struct ev_sink *k, void *arg)
{
    struct wmid_eventprov *E = k->owner;
    struct batch_due *bd = arg;
    size_t n = 0;
    struct ingress *h = NULL;
    pthread_mutex_lock(&k->mu);
    if (k->nheld > 0 && bd->now >= k->held_since + k->batch_ms)
        h = take_held(k, &n);
    else if (k->nheld > 0 && k->held_since + k->batch_ms < bd->next)
        bd->next = k->held_since + k->batch_ms;
    pthread_mutex_unlock(&k->mu);
    submit(E, h, n);
    free(h);
}

static void
on_batch_timer(uv_timer_t *t)
{
    struct wmid_eventprov *E = t->data;
    struct batch_due bd = {wmid_now_ms(), UINT64_MAX};
    for_each_sink(E, flush_due_cb, &bd);
    if (bd.next != UINT64_MAX)
        uv_timer_start(t, on_batch_timer, bd.next > bd.now ? bd.next - bd.now : 0, 0);
}

/* ====================================================================
 * The sink's functions (any thread)
 * ==================================================================== */

#define K(self) ((struct ev_sink *)(self))

/* With k->mu held: check one event; a new reference to the object to
 * route (a copy of the host's schema when it came from another), or NULL
 * with *@st saying why. */
static wmi_object *
check_event(struct ev_sink *k, wmi_object *ev, wmi_status *st)
{
    const char *cname = ev != NULL ? wmi_object_class_name(ev) : NULL;
    const wmi_class *cls = cname != NULL ? wmi_schema_get_class(k->schema, cname) : NULL;
    if (cls == NULL || !wmi_class_isa(cls, "__Event")) {
        *st = WBEM_E_INVALID_CLASS;
        return NULL;
    }
    wmi_object *use = NULL;
    if (wmi_object_class(ev) == cls) {
        use = wmi_object_ref(ev);
    } else {
        /* Built with another schema (the plugin's own): check every value
         * against the host's class, as a socket event is checked. */
        wmi_error err;
        if (WMI_FAILED(wmi_object_from_json(k->schema, wmi_object_json(ev), &use, &err))) {
            *st = err.status;
            return NULL;
        }
    }
    bool match = false;
    for (size_t i = 0; k->queries != NULL && i < k->ntexts && !match; i++)
        match = k->queries[i] != NULL && wmi_query_evaluate(k->queries[i], use);
    if (!match) {
        wmi_object_unref(use);
        *st = WBEM_E_INVALID_PARAMETER;
        return NULL;
    }
    if (!wmi_object_is_set(use, "TIME_CREATED")) {
        /* Stamp a copy: the provider's object is its own. */
        wmi_object *copy = NULL;
        if (use == ev && WMI_SUCCEEDED(wmi_object_clone(use, &copy))) {
            wmi_object_unref(use);
            use = copy;
        }
        if (use != ev)
            wmi_object_put_uint64(use, "TIME_CREATED", wmi_time_created_now());
    }
    *st = WBEM_S_NO_ERROR;
    return use;
}

/* The most bytes of events waiting for the loop: past it (or while the
 * queue waits for a drain) providers are slowed as the socket is. */
#define INGRESS_MAX_BYTES (256u * 1024u)

static bool
ingress_full(struct wmid_eventprov *E)
{
    size_t cap = E->s->low_threshold_on_events < INGRESS_MAX_BYTES ? E->s->low_threshold_on_events : INGRESS_MAX_BYTES;
    pthread_mutex_lock(&E->mu);
    bool full = E->paused || E->q_bytes > cap;
    pthread_mutex_unlock(&E->mu);
    return full;
}

/* Wait while the engine is congested; false when it stayed congested past
 * the bound (or at once on the loop). */
static bool
wait_uncongested(struct wmid_eventprov *E)
{
    bool busy = delivery_is_congested(E->d) || ingress_full(E);
    if (!busy)
        return true;
    if (on_loop(E))
        return false;
    unsigned bound = E->s->indicate_wait_ms ? E->s->indicate_wait_ms : 2000;
    uint64_t until = wmid_now_ms() + bound;
    while (wmid_now_ms() < until) {
        struct timespec ts = {0, 2000000L};
        nanosleep(&ts, NULL);
        if (!ingress_full(E) && !delivery_is_congested(E->d))
            return true;
    }
    return false;
}

static wmi_status
sink_indicate(struct wmi_event_sink *self, size_t n, wmi_object *const *events)
{
    struct wmid_eventprov *E = ((struct ev_sink *)self)->owner;
    struct ev_sink *k = K(self);
    if (n == 0 || events == NULL)
        return WBEM_E_INVALID_PARAMETER;
    pthread_mutex_lock(&k->mu);
    struct wmid_evside *side = k->side;
    pthread_mutex_unlock(&k->mu);
    if (side == NULL)
        return WBEM_E_SHUTTING_DOWN;
    if (!wait_uncongested(E)) {
        atomic_fetch_add(&side->too_busy, n);
        return WBEM_E_SERVER_TOO_BUSY;
    }
    struct ingress *list = calloc(n, sizeof *list);
    if (list == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    size_t nl = 0, refused = 0;
    wmi_status first = WBEM_S_NO_ERROR;
    struct ingress *flush = NULL;
    size_t nflush = 0;
    bool arm = false;
    pthread_mutex_lock(&k->mu);
    for (size_t i = 0; i < n; i++) {
        wmi_status st;
        wmi_object *use = check_event(k, events[i], &st);
        if (use == NULL) {
            refused++;
            if (first == WBEM_S_NO_ERROR)
                first = st;
            continue;
        }
        size_t size = json_dumpb(wmi_object_json(use), NULL, 0, JSON_COMPACT);
        struct ingress e = {k, use, size ? size : 256,
                            k->batch_flags == WBEM_FLAG_MUST_NOT_BATCH ? WMID_PUSH_SOLO : 0u};
        atomic_fetch_add(&k->refs, 1);
        if (k->batch_flags != WBEM_FLAG_MUST_BATCH) {
            list[nl++] = e;
            continue;
        }
        if (k->nheld == k->capheld) {
            size_t ncap = k->capheld ? k->capheld * 2 : 64;
            struct ingress *nh = realloc(k->held, ncap * sizeof *nh);
            if (nh == NULL) {
                list[nl++] = e; /* no room to hold it: route it now */
                continue;
            }
            k->held = nh;
            k->capheld = ncap;
        }
        if (k->nheld == 0) {
            k->held_since = wmid_now_ms();
            arm = true;
        }
        k->held[k->nheld++] = e;
        k->held_bytes += e.size;
        if (k->held_bytes >= k->batch_bytes)
            flush = take_held(k, &nflush);
    }
    pthread_mutex_unlock(&k->mu);
    atomic_fetch_add(&side->indicated, n - refused);
    if (refused > 0) {
        atomic_fetch_add(&side->refused, refused);
        long long sec = (long long)(wmid_now_ms() / 1000);
        long long prev = atomic_load(&E->last_refused_log);
        if (prev != sec && atomic_compare_exchange_strong(&E->last_refused_log, &prev, sec))
            log_warnx("provider %s: %zu event(s) refused (%s); %llu refused so far", side->p->name, refused,
                      wmi_status_name(first) ? wmi_status_name(first) : "error",
                      (unsigned long long)atomic_load(&side->refused));
    }
    submit(E, flush, nflush);
    free(flush);
    submit(E, list, nl);
    free(list);
    if (arm && atomic_load(&E->ready)) {
        if (on_loop(E))
            on_batch_timer(&E->batch_timer);
        else
            wake_loop(E, false);
    }
    return first;
}

static wmi_status
sink_is_active(struct wmi_event_sink *self)
{
    return atomic_load(&K(self)->active) ? WBEM_S_NO_ERROR : WBEM_S_FALSE;
}

static void sink_release(struct wmi_event_sink *self);
static wmi_status sink_get_restricted(struct wmi_event_sink *self, size_t n, const char *const *queries,
                                      struct wmi_event_sink **out);
static wmi_status sink_set_security(struct wmi_event_sink *self, const char *sddl);
static wmi_status sink_set_batching(struct wmi_event_sink *self, int32_t flags, uint32_t max_buffer_bytes,
                                    uint32_t max_send_latency_ms);

static struct ev_sink *
sink_new(struct wmid_evside *side, bool restricted)
{
    struct ev_sink *k = calloc(1, sizeof *k);
    if (k == NULL)
        return NULL;
    k->owner = side->owner;
    k->pub.size = sizeof k->pub;
    k->pub.indicate = sink_indicate;
    k->pub.is_active = sink_is_active;
    k->pub.get_restricted_sink = sink_get_restricted;
    k->pub.set_sink_security = sink_set_security;
    k->pub.set_batching_parameters = sink_set_batching;
    k->pub.release = sink_release;
    atomic_init(&k->refs, 1);
    k->restricted = restricted;
    k->side = side;
    /* A restricted sink is made on a provider thread: it takes the
     * publisher and namespace under side->mu when it is linked in, as
     * side_resync writes them. */
    if (!restricted) {
        k->publisher = side->publisher;
        memcpy(k->ns, side->ns, sizeof k->ns);
    }
    k->batch_flags = WBEM_FLAG_BATCH_IF_NEEDED;
    k->batch_bytes = 65536;
    k->batch_ms = 100;
    pthread_mutex_init(&k->mu, NULL);
    return k;
}

static wmi_status
sink_get_restricted(struct wmi_event_sink *self, size_t n, const char *const *queries, struct wmi_event_sink **out)
{
    struct ev_sink *parent = K(self);
    if (out == NULL)
        return WBEM_E_INVALID_PARAMETER;
    *out = NULL;
    if (n == 0 || queries == NULL || n > 1024)
        return WBEM_E_INVALID_PARAMETER;
    pthread_mutex_lock(&parent->mu);
    struct wmid_evside *side = parent->side;
    wmi_schema *schema = parent->schema ? wmi_schema_ref(parent->schema) : NULL;
    pthread_mutex_unlock(&parent->mu);
    if (side == NULL || schema == NULL) {
        wmi_schema_free(schema);
        return WBEM_E_SHUTTING_DOWN;
    }
    struct ev_sink *k = sink_new(side, true);
    wmi_status st = WBEM_S_NO_ERROR;
    if (k == NULL || (k->texts = calloc(n, sizeof *k->texts)) == NULL) {
        st = WBEM_E_OUT_OF_MEMORY;
    } else {
        for (size_t i = 0; i < n && st == WBEM_S_NO_ERROR; i++) {
            if (queries[i] == NULL || (k->texts[i] = strdup(queries[i])) == NULL)
                st = queries[i] == NULL ? WBEM_E_INVALID_PARAMETER : WBEM_E_OUT_OF_MEMORY;
            else
                k->ntexts++;
        }
    }
    if (st == WBEM_S_NO_ERROR) {
        pthread_mutex_lock(&k->mu);
        bool parsed = sink_parse(k, schema);
        pthread_mutex_unlock(&k->mu);
        if (!parsed)
            st = WBEM_E_INVALID_QUERY;
    }
    /* Each query must stay within what the provider registered. */
    pthread_mutex_lock(&side->main->mu);
    for (size_t i = 0; st == WBEM_S_NO_ERROR && k->queries != NULL && i < k->ntexts; i++) {
        const wmi_class *c = wmi_schema_get_class(schema, wmi_query_class(k->queries[i]));
        bool within = false;
        for (size_t j = 0; c != NULL && side->main->queries != NULL && j < side->main->ntexts && !within; j++)
            within = side->main->queries[j] != NULL && wmi_class_isa(c, wmi_query_class(side->main->queries[j]));
        if (!within)
            st = WBEM_E_INVALID_PARAMETER;
    }
    pthread_mutex_unlock(&side->main->mu);
    wmi_schema_free(schema);
    if (st != WBEM_S_NO_ERROR) {
        sink_unref(k);
        return st;
    }
    pthread_mutex_lock(&side->mu);
    k->next = side->sinks;
    side->sinks = k;
    pthread_mutex_lock(&k->mu);
    k->publisher = side->publisher;
    memcpy(k->ns, side->ns, sizeof k->ns);
    pthread_mutex_unlock(&k->mu);
    pthread_mutex_unlock(&side->mu);
    sink_changed(k);
    *out = &k->pub;
    return WBEM_S_NO_ERROR;
}

/* Cut @k off its side (the provider released it, or is unloaded) and hand
 * the events it held to the router; returns the side it had (NULL: cut
 * off already). */
static struct wmid_evside *
sink_detach(struct ev_sink *k)
{
    struct wmid_eventprov *E = k->owner;
    pthread_mutex_lock(&k->mu);
    struct wmid_evside *side = k->side;
    k->side = NULL;
    size_t n = 0;
    struct ingress *h = take_held(k, &n);
    pthread_mutex_unlock(&k->mu);
    submit(E, h, n);
    free(h);
    return side;
}

static void
sink_release(struct wmi_event_sink *self)
{
    struct ev_sink *k = K(self);
    if (!k->restricted)
        return; /* the main sink lives until the provider is unloaded */
    struct wmid_evside *side = sink_detach(k);
    if (side != NULL) {
        pthread_mutex_lock(&side->mu);
        for (struct ev_sink **pp = &side->sinks; *pp != NULL; pp = &(*pp)->next)
            if (*pp == k) {
                *pp = k->next;
                break;
            }
        struct ev_sink *main_sink = side->main;
        pthread_mutex_unlock(&side->mu);
        /* It may have been the provider's only active sink: its idle clock
         * starts now (the recompute notes the activity of every sink). */
        if (main_sink != NULL)
            sink_changed(main_sink);
    }
    sink_unref(k);
}

static wmi_status
sink_set_security(struct wmi_event_sink *self, const char *sddl)
{
    struct wmid_eventprov *E = ((struct ev_sink *)self)->owner;
    struct ev_sink *k = K(self);
    struct sec_descriptor *sd = NULL;
    if (sddl != NULL) {
        wmi_error err;
        sd = sec_descriptor_parse(sddl, &err);
        if (sd == NULL) {
            pthread_mutex_lock(&k->mu);
            const char *name = k->side ? k->side->p->name : "?";
            log_warnx("provider %s: SetSinkSecurity refused, column %d: %s (%s)", name, err.column, err.text,
                      wmi_status_name(err.status) ? wmi_status_name(err.status) : "error");
            pthread_mutex_unlock(&k->mu);
            return WBEM_E_INVALID_PARAMETER;
        }
    }
    pthread_mutex_lock(&k->mu);
    /* The loop may be routing with the old one right now (route_one reads
     * it under the lock, then routes without): keep it until a sweep. */
    struct sec_descriptor **no = k->sd != NULL ? realloc(k->old_sds, (k->nold + 1) * sizeof *no) : NULL;
    if (no != NULL) {
        k->old_sds = no;
        k->old_sds[k->nold++] = k->sd;
        atomic_store(&E->old_sds, true);
    } else if (k->sd != NULL) {
        pthread_mutex_unlock(&k->mu);
        sec_descriptor_free(sd);
        return WBEM_E_OUT_OF_MEMORY;
    }
    k->sd = sd;
    pthread_mutex_unlock(&k->mu);
    sink_changed(k);
    return WBEM_S_NO_ERROR;
}

static wmi_status
sink_set_batching(struct wmi_event_sink *self, int32_t flags, uint32_t max_buffer_bytes, uint32_t max_send_latency_ms)
{
    struct wmid_eventprov *E = ((struct ev_sink *)self)->owner;
    struct ev_sink *k = K(self);
    if ((flags != WBEM_FLAG_BATCH_IF_NEEDED && flags != WBEM_FLAG_MUST_BATCH && flags != WBEM_FLAG_MUST_NOT_BATCH) ||
        max_buffer_bytes == 0 || max_send_latency_ms == 0 || max_send_latency_ms > 60000)
        return WBEM_E_INVALID_PARAMETER;
    pthread_mutex_lock(&k->mu);
    size_t n = 0;
    struct ingress *h = take_held(k, &n); /* what the old parameters held goes now */
    k->batch_flags = (unsigned)flags;
    k->batch_bytes = max_buffer_bytes;
    k->batch_ms = max_send_latency_ms;
    pthread_mutex_unlock(&k->mu);
    submit(E, h, n);
    free(h);
    return WBEM_S_NO_ERROR;
}

/* ====================================================================
 * Loop services for the provider (struct wmi_host, ABI 1.1)
 * ==================================================================== */

static void
host_log(const struct wmi_host *host, int level, const char *fmt, ...)
{
    const struct wmid_evside *side = host->host_private;
    va_list ap;
    va_start(ap, fmt);
    plugin_vlog(side ? side->p->name : NULL, level, fmt, ap);
    va_end(ap);
}

static void
on_handle_closed(uv_handle_t *h)
{
    free(h->data);
}

static void
handle_close(struct ev_handle *e)
{
    uv_close(e->is_poll ? (uv_handle_t *)&e->h.poll : (uv_handle_t *)&e->h.timer, on_handle_closed);
}

static struct ev_handle *handle_take(struct wmid_evside *side, uint64_t id);

static void
on_provider_timer(uv_timer_t *t)
{
    struct ev_handle *e = t->data;
    struct wmid_evside *side = e->side;
    uint64_t id = e->id;
    bool once = uv_timer_get_repeat(t) == 0;
    e->timer_cb(e->arg);
    /* A one-shot timer is done: forget it (unless the callback did). */
    if (once && (e = handle_take(side, id)) != NULL)
        handle_close(e);
}

static void
on_provider_poll(uv_poll_t *p, int status, int events)
{
    struct ev_handle *e = p->data;
    (void)status;
    (void)events;
    e->fd_cb(e->arg, e->fd);
}

static uint64_t
host_timer_start(const struct wmi_host *host, uint64_t timeout_ms, uint64_t repeat_ms, void (*cb)(void *arg),
                 void *arg)
{
    struct wmid_eventprov *E = ((struct wmid_evside *)host->host_private)->owner;
    struct wmid_evside *side = host->host_private;
    if (!on_loop(E) || cb == NULL)
        return 0;
    struct ev_handle *e = calloc(1, sizeof *e);
    if (e == NULL)
        return 0;
    e->side = side;
    e->id = ++side->next_handle;
    e->timer_cb = cb;
    e->arg = arg;
    uv_timer_init(E->loop, &e->h.timer);
    e->h.timer.data = e;
    uv_timer_start(&e->h.timer, on_provider_timer, timeout_ms, repeat_ms);
    e->next = side->handles;
    side->handles = e;
    return e->id;
}

static struct ev_handle *
handle_take(struct wmid_evside *side, uint64_t id)
{
    for (struct ev_handle **pp = &side->handles; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            struct ev_handle *e = *pp;
            *pp = e->next;
            return e;
        }
    }
    return NULL;
}

static void
host_timer_stop(const struct wmi_host *host, uint64_t id)
{
    struct wmid_eventprov *E = ((struct wmid_evside *)host->host_private)->owner;
    struct wmid_evside *side = host->host_private;
    struct ev_handle *e = on_loop(E) ? handle_take(side, id) : NULL;
    if (e != NULL && !e->is_poll) {
        uv_timer_stop(&e->h.timer);
        handle_close(e);
    } else if (e != NULL) {
        e->next = side->handles; /* not a timer: keep it */
        side->handles = e;
    }
}

static uint64_t
host_fd_watch(const struct wmi_host *host, int fd, void (*cb)(void *arg, int fd), void *arg)
{
    struct wmid_eventprov *E = ((struct wmid_evside *)host->host_private)->owner;
    struct wmid_evside *side = host->host_private;
    if (!on_loop(E) || cb == NULL || fd < 0)
        return 0;
    struct ev_handle *e = calloc(1, sizeof *e);
    if (e == NULL)
        return 0;
    e->is_poll = true;
    if (uv_poll_init(E->loop, &e->h.poll, fd) != 0) {
        free(e);
        return 0;
    }
    e->side = side;
    e->id = ++side->next_handle;
    e->fd_cb = cb;
    e->fd = fd;
    e->arg = arg;
    e->h.poll.data = e;
    uv_poll_start(&e->h.poll, UV_READABLE, on_provider_poll);
    e->next = side->handles;
    side->handles = e;
    return e->id;
}

static void
host_fd_unwatch(const struct wmi_host *host, uint64_t id)
{
    struct wmid_eventprov *E = ((struct wmid_evside *)host->host_private)->owner;
    struct wmid_evside *side = host->host_private;
    struct ev_handle *e = on_loop(E) ? handle_take(side, id) : NULL;
    if (e != NULL && e->is_poll) {
        uv_poll_stop(&e->h.poll);
        handle_close(e);
    } else if (e != NULL) {
        e->next = side->handles;
        side->handles = e;
    }
}

/* ====================================================================
 * Loading, syncing, unloading (loop thread)
 * ==================================================================== */

static void
side_fail(struct wmid_evside *side, wmi_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
side_fail(struct wmid_evside *side, wmi_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wmi_error_setv(&side->error, st, side->p->name, 0, 0, fmt, ap);
    va_end(ap);
    log_warnx("provider %s: event provider: %s (%s); its events are not routed", side->p->name, side->error.text,
              wmi_status_name(st) ? wmi_status_name(st) : "error");
}

/* The texts of the registration's EventQueryList (new array of new strings). */
static char **
registration_texts(wmi_object *reg, size_t *n)
{
    const json_t *list = NULL;
    wmi_object_get_json(reg, "EventQueryList", &list, NULL);
    *n = 0;
    char **t = calloc(json_array_size(list) + 1, sizeof *t);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        if (t != NULL && json_is_string(v) && (t[*n] = strdup(json_string_value(v))) != NULL)
            (*n)++;
    }
    return t;
}

static void
side_load(struct wmid_eventprov *E, struct wmid_provider *p, wmi_object *reg, const struct sec_identity *publisher, const char *ns,
          const struct wmi_event_provider *builtin, void *context)
{
    struct wmid_evside *side = calloc(1, sizeof *side);
    if (side == NULL)
        return;
    p->ev = side;
    p->ev_release = eventprov_unload;
    side->owner = E;
    side->p = p;
    side->registration = wmi_object_ref(reg);
    side->publisher = *publisher;
    snprintf(side->ns, sizeof side->ns, "%s", ns ? ns : "");
    side->subs = json_object();
    side->builtin = builtin != NULL;
    pthread_mutex_init(&side->mu, NULL);
    p->ev_life.idle_since_ms = 0;
    wmi_status st;
    char why[256];
    if (hosting_is_isolated(p->hosting_model)) {
        side_fail(side, WBEM_E_NOT_SUPPORTED, "HostingModel \"%s\": event providers run in-process only",
                  p->hosting_model);
        return;
    }
    if (builtin != NULL) {
        side->ep = builtin;
    } else {
        side->plugin = plugin_open(p->library, &side->dl, &st, why, sizeof why);
        if (side->plugin == NULL) {
            side_fail(side, st, "%s", why);
            return;
        }
        side->ep = side->plugin->event_provider;
    }
    if (side->ep == NULL || side->ep->initialize == NULL || side->ep->provide_events == NULL) {
        side_fail(side, WBEM_E_PROVIDER_NOT_CAPABLE, "%s provides no event provider", p->library);
        return;
    }
    side->host.abi_major = WMI_PLUGIN_ABI_MAJOR;
    side->host.abi_minor = WMI_PLUGIN_ABI_MINOR;
    side->host.size = sizeof side->host;
    side->host.log = host_log;
    side->host.set_error = plugin_host_set_error;
    side->host.schema = router_schema(E->router);
    side->host.host_private = side;
    side->host.timer_start = host_timer_start;
    side->host.timer_stop = host_timer_stop;
    side->host.fd_watch = host_fd_watch;
    side->host.fd_unwatch = host_fd_unwatch;
    /* The host schema must outlive the provider: the provider keeps it. */
    if (p->schema == NULL)
        p->schema = wmi_schema_ref((wmi_schema *)router_schema(E->router));
    side->host.schema = p->schema;
    side->main = sink_new(side, false);
    if (side->main == NULL) {
        side_fail(side, WBEM_E_OUT_OF_MEMORY, "out of memory");
        return;
    }
    side->main->texts = registration_texts(reg, &side->main->ntexts);
    pthread_mutex_lock(&side->main->mu);
    sink_parse(side->main, (wmi_schema *)router_schema(E->router));
    pthread_mutex_unlock(&side->main->mu);
    side->sinks = side->main;
    side->state = context; /* a built-in's context (eventprov_add_builtin) */
    st = side->ep->initialize(&side->host, reg, &side->state);
    if (WMI_FAILED(st)) {
        side_fail(side, WBEM_E_INITIALIZATION_FAILURE, "initialize failed with %s",
                  wmi_status_name(st) ? wmi_status_name(st) : "an unknown status");
        return;
    }
    side->loaded = true;
    p->ev_life.loads++;
    p->ev_life.unloaded_idle = false;
    sink_update_active(side->main);
    st = side->ep->provide_events(side->state, &side->main->pub);
    if (WMI_FAILED(st)) {
        side_fail(side, st, "ProvideEvents failed with %s", wmi_status_name(st) ? wmi_status_name(st) : "an unknown status");
        eventprov_unload(p);
        return;
    }
    if (builtin != NULL)
        wmi_error_set(&side->error, WBEM_S_NO_ERROR, p->name, 0, 0, "built in");
    else
        wmi_error_set(&side->error, WBEM_S_NO_ERROR, p->name, 0, 0, "loaded %.40s %.20s from %.180s",
                 side->plugin->name ? side->plugin->name : "?", side->plugin->version ? side->plugin->version : "",
                 p->library);
    log_info("provider %s: event provider %s", p->name, side->error.text);
}

/* The registration changed or the schema did: new queries for every sink. */
static void
side_resync(struct wmid_evside *side, wmi_object *reg, const struct sec_identity *publisher, const char *ns)
{
    struct wmid_eventprov *E = side->owner;
    wmi_schema *schema = (wmi_schema *)router_schema(E->router);
    if (reg != side->registration) {
        size_t n;
        char **texts = registration_texts(reg, &n);
        /* Texts and queries change together, under the lock provider
         * threads read them with: the number of queries may change. */
        pthread_mutex_lock(&side->main->mu);
        for (size_t i = 0; i < side->main->ntexts; i++) {
            free(side->main->texts[i]);
            wmi_query_free(side->main->queries ? side->main->queries[i] : NULL);
        }
        free(side->main->texts);
        free(side->main->queries);
        side->main->queries = NULL;
        side->main->texts = texts;
        side->main->ntexts = n;
        sink_parse(side->main, schema);
        pthread_mutex_unlock(&side->main->mu);
        wmi_object_unref(side->registration);
        side->registration = wmi_object_ref(reg);
    }
    pthread_mutex_lock(&side->mu);
    side->publisher = *publisher;
    snprintf(side->ns, sizeof side->ns, "%s", ns ? ns : "");
    for (struct ev_sink *k = side->sinks; k != NULL; k = k->next) {
        pthread_mutex_lock(&k->mu);
        k->publisher = *publisher;
        memcpy(k->ns, side->ns, sizeof k->ns);
        sink_parse(k, schema);
        pthread_mutex_unlock(&k->mu);
    }
    pthread_mutex_unlock(&side->mu);
}

/* NewQuery / CancelQuery / AccessCheck for the filters of @r. */
static void
side_queries(struct wmid_evside *side, struct wmid_router *r)
{
    const wmi_schema *schema = router_schema(r);
    side->gen++;
    for (size_t i = 0; i < router_filter_count(r); i++) {
        struct wmid_filter *f = router_filter_at(r, i);
        if (router_filter_polled(f))
            continue;
        bool covered = false;
        pthread_mutex_lock(&side->main->mu);
        for (size_t j = 0; side->main->queries != NULL && j < side->main->ntexts && !covered; j++)
            covered = side->main->queries[j] != NULL &&
                      classes_overlap(schema, wmi_query_class(side->main->queries[j]), wmi_query_class(f->query));
        pthread_mutex_unlock(&side->main->mu);
        if (!covered)
            continue;
        char *text = wmi_query_to_string(f->query);
        if (text == NULL)
            continue;
        char *key = NULL;
        if (asprintf(&key, "%s\n%s\n%s", f->qname, text, f->creator.sid) < 0) {
            free(text);
            continue;
        }
        json_t *sub = json_object_get(side->subs, key);
        if (sub == NULL) {
            wmi_status st = WBEM_S_NO_ERROR;
            if (side->ep->access_check != NULL)
                st = side->ep->access_check(side->state, "WQL", text, f->creator.sid);
            json_int_t id = 0;
            if (WMI_FAILED(st)) {
                log_warnx("filter \"%s\": provider %s refused it in AccessCheck for %s (%s); the filter is inactive",
                          f->qname, side->p->name, f->creator.sid[0] ? f->creator.sid : "an unknown creator",
                          wmi_status_name(st) ? wmi_status_name(st) : "error");
            } else {
                id = ++side->next_id;
                if (side->ep->new_query != NULL) {
                    wmi_status nst = side->ep->new_query(side->state, (uint32_t)id, "WQL", text);
                    if (WMI_FAILED(nst))
                        log_warnx("provider %s: NewQuery %lld for filter \"%s\" failed with %s", side->p->name,
                                  (long long)id, f->qname, wmi_status_name(nst) ? wmi_status_name(nst) : "error");
                }
            }
            sub = json_pack("{sIsIsI}", "id", id, "status", (json_int_t)(WMI_FAILED(st) ? st : 0), "seen",
                            (json_int_t)side->gen);
            json_object_set_new(side->subs, key, sub);
        }
        json_object_set_new(sub, "seen", json_integer((json_int_t)side->gen));
        wmi_status denied = (wmi_status)json_integer_value(json_object_get(sub, "status"));
        if (denied != 0)
            router_filter_refuse(f, denied);
        free(key);
        free(text);
    }
    /* Subscriptions that went away. */
    const char *key;
    json_t *sub, *tmp;
    json_object_foreach_safe(side->subs, tmp, key, sub) {
        if (json_integer_value(json_object_get(sub, "seen")) == (json_int_t)side->gen)
            continue;
        json_int_t id = json_integer_value(json_object_get(sub, "id"));
        if (id > 0 && side->ep->cancel_query != NULL)
            side->ep->cancel_query(side->state, (uint32_t)id);
        json_object_del(side->subs, key);
    }
}

/*
 * Would a filter of @r make the main sink of a provider registered with
 * @reg active?  sink_compute_active's test (a filter with a binding or a
 * GROUP window, not polled, accepting the provider as publisher, whose
 * class overlaps one of the registration's), made from the registration
 * alone, so that a provider need not be loaded to find out whether it
 * should be.  The main sink has no descriptor until the provider sets one.
 */
static bool
registration_wanted(struct wmid_eventprov *E, struct wmid_router *r, wmi_object *reg, const struct sec_identity *publisher, const char *ns)
{
    size_t n = 0;
    char **texts = registration_texts(reg, &n);
    const wmi_schema *schema = router_schema(r);
    struct wmid_source src = {publisher, NULL, ns};
    bool want = false;
    for (size_t i = 0; i < n; i++) {
        wmi_query *q = NULL;
        wmi_error err;
        if (!want && WMI_SUCCEEDED(wmi_query_parse(texts[i], schema, &q, &err))) {
            want = temp_wants(E, schema, wmi_query_class(q));
            for (size_t j = 0; j < router_filter_count(r) && !want; j++) {
                struct wmid_filter *f = router_filter_at(r, j);
                want = router_filter_wanted(f) && !router_filter_polled(f) && router_filter_accepts(f, &src) &&
                       classes_overlap(schema, wmi_query_class(q), wmi_query_class(f->query));
            }
            wmi_query_free(q);
        }
        free(texts[i]);
    }
    free(texts);
    return want;
}

uint64_t
eventprov_sweep_idle(void *arg, uint64_t now)
{
    struct wmid_eventprov *E = arg;
    struct wmid_router *r = E->router;
    uint64_t next = UINT64_MAX;
    if (r == NULL)
        return next;
    uint64_t clear_ms = router_cache_controls(r)->event_provider_ms;
    for (size_t i = 0; i < router_provider_count(r); i++) {
        struct wmid_provider *p = router_provider_at(r, i);
        struct wmid_evside *side = p->ev;
        if (side == NULL || !side->loaded || side->builtin || p->ev_life.idle_since_ms == 0)
            continue;
        uint64_t due = p->ev_life.idle_since_ms + clear_ms;
        if (now < due) {
            next = due < next ? due : next;
            continue;
        }
        log_info("provider %s: event provider inactive for %llu ms (__EventProviderCacheControl.ClearAfter %llu "
                 "ms): shut down; it loads again when a filter needs its events",
                 p->name, (unsigned long long)(now - p->ev_life.idle_since_ms), (unsigned long long)clear_ms);
        eventprov_unload(p);
        p->ev_life.unloaded_idle = true;
    }
    return next;
}

struct wmid_eventprov *
eventprov_new(uv_loop_t *loop, struct wmid_delivery *d, const struct wmid_settings *s, struct wmid_lifecycle *lc)
{
    struct wmid_eventprov *E = calloc(1, sizeof *E);
    if (E == NULL)
        return NULL;
    E->loop = loop;
    E->lifecycle = lc;
    E->loop_thread = pthread_self();
    E->d = d;
    E->s = s;
    pthread_mutex_init(&E->mu, NULL);
    uv_async_init(loop, &E->async, on_async);
    E->async.data = E;
    uv_timer_init(loop, &E->batch_timer);
    E->batch_timer.data = E;
    atomic_store(&E->ready, true);
    return E;
}

static wmi_object *builtin_registration(struct builtin *b, const wmi_schema *schema);

void
eventprov_sync(struct wmid_eventprov *E, struct wmid_router *r)
{
    if (!atomic_load(&E->ready))
        return;
    drain_ingress(E); /* what was queued goes to the router it was meant for */
    E->router = r;
    for (size_t i = 0; i < router_provider_count(r); i++) {
        struct wmid_provider *p = router_provider_at(r, i);
        const struct sec_identity *publisher = NULL;
        const char *ns = NULL;
        wmi_object *reg = router_provider_events(r, i, &publisher, &ns);
        p->ev_registered = reg != NULL;
        if (reg == NULL) {
            if (p->ev != NULL)
                eventprov_unload(p); /* no longer an event provider */
            continue;
        }
        if (p->ev != NULL && !p->ev->loaded)
            eventprov_unload(p); /* it failed before: try again, if it is needed */
        if (p->ev == NULL) {
            /* Not loaded (never, or unloaded when idle): only for a filter
             * that would take its events.  One that is loaded stays until
             * it idles, even when no filter wants it any more. */
            if (registration_wanted(E, r, reg, publisher, ns))
                side_load(E, p, reg, publisher, ns, NULL, NULL);
        } else {
            side_resync(p->ev, reg, publisher, ns);
        }
    }
    /* The built-in providers, with a registration of the new schema. */
    struct sec_identity system;
    sec_identity_from_sid(&system, SEC_SID_LOCAL_SYSTEM, -1);
    for (struct builtin *b = E->builtins; b != NULL; b = b->next) {
        wmi_object *reg = builtin_registration(b, router_schema(r));
        if (reg == NULL)
            continue;
        if (b->p.ev != NULL && !b->p.ev->loaded)
            eventprov_unload(&b->p);
        /* It builds its events from host->schema, which follows reloads
         * (its objects keep their own schema alive). */
        wmi_schema_free(b->p.schema);
        b->p.schema = wmi_schema_ref((wmi_schema *)router_schema(r));
        if (b->p.ev == NULL) {
            side_load(E, &b->p, reg, &system, NULL, b->ep, b->context);
        } else {
            b->p.ev->host.schema = b->p.schema;
            side_resync(b->p.ev, reg, &system, NULL);
        }
        wmi_object_unref(reg);
    }
    /* IsActive before NewQuery, so that a provider that checks it there
     * sees the new subscriptions; again after, with every filter's final
     * state (AccessCheck may deactivate filters). */
    for_each_sink(E, update_active_cb, NULL);
    for (size_t i = 0; i < router_provider_count(r); i++) {
        struct wmid_provider *p = router_provider_at(r, i);
        if (p->ev != NULL && p->ev->loaded)
            side_queries(p->ev, r);
    }
    for (struct builtin *b = E->builtins; b != NULL; b = b->next)
        if (b->p.ev != NULL && b->p.ev->loaded)
            side_queries(b->p.ev, r);
    for_each_sink(E, update_active_cb, NULL);
}

/* ====================================================================
 * Built-in providers
 * ==================================================================== */

static wmi_object *
builtin_registration(struct builtin *b, const wmi_schema *schema)
{
    json_t *list = json_array();
    for (size_t i = 0; i < b->nqueries; i++)
        json_array_append_new(list, json_string(b->queries[i]));
    char path[200];
    snprintf(path, sizeof path, "__Win32Provider.Name=\"%s\"", b->p.name);
    json_t *j = json_pack("{sssssO}", "__CLASS", "__EventProviderRegistration", "Provider", path, "EventQueryList",
                          list);
    json_decref(list);
    wmi_object *reg = NULL;
    wmi_error err;
    if (j == NULL || WMI_FAILED(wmi_object_from_json_new(schema, j, &reg, &err)))
        return NULL;
    return reg;
}

void
eventprov_add_builtin(struct wmid_eventprov *E, const char *name, const struct wmi_event_provider *ep, const char *const *queries,
                      size_t nqueries, void *context)
{
    struct builtin *b = calloc(1, sizeof *b);
    if (b == NULL || (b->queries = calloc(nqueries + 1, sizeof *b->queries)) == NULL ||
        (b->p.name = strdup(name)) == NULL) {
        if (b != NULL)
            free(b->queries);
        free(b);
        log_warnx("event providers: out of memory; built-in provider %s not served", name);
        return;
    }
    for (size_t i = 0; i < nqueries; i++)
        if ((b->queries[b->nqueries] = strdup(queries[i])) != NULL)
            b->nqueries++;
    b->p.refs = 1;
    b->ep = ep;
    b->context = context;
    b->next = E->builtins;
    E->builtins = b;
}

void
eventprov_remove_builtin(struct wmid_eventprov *E, const struct wmi_event_provider *ep)
{
    for (struct builtin **pp = &E->builtins; *pp != NULL; pp = &(*pp)->next) {
        struct builtin *b = *pp;
        if (b->ep != ep)
            continue;
        *pp = b->next;
        eventprov_unload(&b->p);
        for (size_t i = 0; i < b->nqueries; i++)
            free(b->queries[i]);
        free(b->queries);
        free(b->p.name);
        wmi_schema_free(b->p.schema);
        free(b);
        return;
    }
}

json_t *
eventprov_builtin_stats_json(struct wmid_eventprov *E)
{
    json_t *out = json_object();
    for (struct builtin *b = E->builtins; b != NULL; b = b->next) {
        json_t *s = eventprov_stats_json(&b->p);
        if (s != NULL)
            json_object_set_new(out, b->p.name, s);
    }
    return out;
}

void
eventprov_unload(struct wmid_provider *p)
{
    struct wmid_evside *side = p->ev;
    if (side == NULL)
        return;
    /* Timers and watches first, so that no callback runs into a provider
     * that is going. */
    while (side->handles != NULL) {
        struct ev_handle *e = side->handles;
        side->handles = e->next;
        if (e->is_poll)
            uv_poll_stop(&e->h.poll);
        else
            uv_timer_stop(&e->h.timer);
        handle_close(e);
    }
    if (side->loaded && side->ep->shutdown != NULL)
        side->ep->shutdown(side->state);
    if (side->loaded) {
        p->ev_life.unloads++;
        p->ev_life.last_used_ms = p->ev_life.idle_since_ms ? p->ev_life.last_used_ms : wmid_now_ms();
    }
    p->ev_life.idle_since_ms = 0;
    p->ev_life.unloaded_idle = false;
    side->loaded = false;
    /* The sinks outlive the provider only as long as events they took
     * wait for the router; they refuse anything more. */
    pthread_mutex_lock(&side->mu);
    struct ev_sink *k = side->sinks;
    side->sinks = NULL;
    pthread_mutex_unlock(&side->mu);
    while (k != NULL) {
        struct ev_sink *next = k->next;
        sink_detach(k);
        atomic_store(&k->active, false);
        sink_unref(k); /* the provider's reference */
        k = next;
    }
    if (side->dl != NULL) {
#if !defined(__SANITIZE_ADDRESS__)
        dlclose(side->dl);
#endif
    }
    wmi_object_unref(side->registration);
    json_decref(side->subs);
    pthread_mutex_destroy(&side->mu);
    p->ev = NULL;
    free(side);
}

/* The host is freed once libuv is done with both of its handles. */
static void
on_host_closed(uv_handle_t *h)
{
    struct wmid_eventprov *E = h->data;
    if (--E->closing == 0) {
        pthread_mutex_destroy(&E->mu);
        free(E);
    }
}

void
eventprov_shutdown(struct wmid_eventprov *E)
{
    if (E == NULL || !atomic_load(&E->ready))
        return;
    while (E->builtins != NULL)
        eventprov_remove_builtin(E, E->builtins->ep);
    /* From here no provider thread appends or wakes the loop (both check
     * ready under E->mu); what is queued is counted as not routed. */
    pthread_mutex_lock(&E->mu);
    atomic_store(&E->ready, false);
    pthread_mutex_unlock(&E->mu);
    E->router = NULL;
    drain_ingress(E);
    if (atomic_load(&E->dropped) > 0)
        log_notice("event providers: %llu event(s) not routed at exit", (unsigned long long)atomic_load(&E->dropped));
    uv_timer_stop(&E->batch_timer);
    E->closing = 2;
    uv_close((uv_handle_t *)&E->batch_timer, on_host_closed);
    uv_close((uv_handle_t *)&E->async, on_host_closed);
}

json_t *
eventprov_stats_json(const struct wmid_provider *p)
{
    const struct wmid_evside *side = p->ev;
    const struct wmid_life *life = &p->ev_life;
    if (side == NULL) {
        if (!p->ev_registered)
            return NULL;
        return json_pack("{sssssIsssIsIso}", "state", life->unloaded_idle ? "unloaded when idle" : "not loaded",
                         "status", "WBEM_S_FALSE", "status_code", (json_int_t)WBEM_S_FALSE, "message",
                         life->unloaded_idle ? "unloaded when idle; it loads again when a filter needs its events"
                                             : "not loaded: no filter wants its events",
                         "loads", (json_int_t)life->loads, "unloads", (json_int_t)life->unloads, "last_used",
                         wmid_moment_json(life->last_used_ms));
    }
    size_t nsinks = 0, active = 0, denied = 0;
    pthread_mutex_lock((pthread_mutex_t *)&side->mu);
    for (const struct ev_sink *k = side->sinks; k != NULL; k = k->next) {
        nsinks++;
        active += atomic_load(&k->active);
    }
    pthread_mutex_unlock((pthread_mutex_t *)&side->mu);
    const char *key;
    json_t *sub;
    json_object_foreach(side->subs, key, sub) {
        denied += json_integer_value(json_object_get(sub, "status")) != 0;
    }
    json_t *o = json_pack("{sssssIsssIsIsIsIsIsI}", "state", side->loaded ? "loaded" : "not loaded", "status",
                     wmi_status_name(side->error.status) ? wmi_status_name(side->error.status) : "unknown", "status_code",
                     (json_int_t)side->error.status, "message", side->error.text, "indicated",
                     (json_int_t)atomic_load(&side->indicated), "refused", (json_int_t)atomic_load(&side->refused),
                     "too_busy", (json_int_t)atomic_load(&side->too_busy), "sinks", (json_int_t)nsinks, "active_sinks",
                     (json_int_t)active, "subscriptions", (json_int_t)(json_object_size(side->subs) - denied));
    json_object_set_new(o, "loads", json_integer((json_int_t)life->loads));
    json_object_set_new(o, "unloads", json_integer((json_int_t)life->unloads));
    json_object_set_new(o, "last_used", wmid_moment_json(side->loaded && active > 0 ? wmid_now_ms()
                                                                                   : life->last_used_ms));
    return o;
}
