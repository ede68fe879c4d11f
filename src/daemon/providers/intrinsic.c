/*
 * intrinsic.c - intrinsic instance events by polling instance providers
 * at the WITHIN interval.  See providers.h for the model.
 *
 * Cost: one provider scan per tick of its poller, whatever the number of
 * filters; per served interval group one hash lookup per instance, and a
 * json_equal per instance only when a filter of the group asks for
 * modifications.  Event objects are built only for changes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/providers/providers.h"
#include "daemon/config/config.h"
#include "daemon/engine/engine.h"
#include "daemon/log.h"

/* ====================================================================
 * Filter analysis
 * ==================================================================== */


unsigned
intrinsic_event_kinds(const wmi_schema *schema, const wmi_query *query)
{
    static const struct {
        const char *cls;
        unsigned kind;
    } kinds[] = {
        {"__InstanceCreationEvent", WMID_KIND_CREATION},
        {"__InstanceDeletionEvent", WMID_KIND_DELETION},
        {"__InstanceModificationEvent", WMID_KIND_MODIFICATION},
    };
    const char *from = wmi_query_class(query);
    unsigned out = 0;
    if (from == NULL || wmi_schema_get_class(schema, from) == NULL)
        return 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        const wmi_class *c = wmi_schema_get_class(schema, kinds[i].cls);
        if (c != NULL && wmi_class_isa(c, from))
            out |= kinds[i].kind;
    }
    /* FROM __Event or __IndicationRelated admit these too, but cannot
     * name TargetInstance; only __InstanceOperationEvent and below can. */
    const wmi_class *fc = wmi_schema_get_class(schema, from);
    if (!wmi_class_isa(fc, "__InstanceOperationEvent"))
        return 0;
    return out;
}

bool
intrinsic_needs_polling(const wmi_schema *schema, const wmi_query *query)
{
    if (intrinsic_event_kinds(schema, query) == 0)
        return false;
    const char *target = wmi_query_isa_target(query);
    if (target == NULL)
        return false;
    return wmi_schema_get_class(schema, target) != NULL && instance_polled_providers_for(schema, target, NULL, 0) > 0;
}

bool
intrinsic_check_filter(const wmi_schema *schema, const wmi_query *query, wmi_error *err)
{
    if (!intrinsic_needs_polling(schema, query))
        return true;
    const char *target = wmi_query_isa_target(query);
    if (wmi_query_within(query) < 0 && instance_event_interval_ms(schema, target) == 0) {
        wmi_error_set(err, WBEMESS_E_REGISTRATION_TOO_PRECISE, "", 0, 0,
                      "Query: %s events for %s are found by polling, and the query has no WITHIN "
                      "(add WITHIN seconds)",
                      wmi_query_class(query), target ? target : "this class");
        return false;
    }
    /* Providers that need a scope (files) must find one in the query,
     * unless other providers serve the class too (then they are left out). */
    const struct wmid_instance_provider *ps[16];
    size_t n = instance_polled_providers_for(schema, target, ps, sizeof ps / sizeof ps[0]);
    size_t scoped = 0;
    for (size_t i = 0; i < n && i < sizeof ps / sizeof ps[0]; i++)
        scoped += ps[i]->scope != NULL;
    bool ok = true;
    if (n > 0 && scoped == n) {
        wmi_error local;
        char *sc = ps[0]->scope(schema, query, err ? err : &local);
        ok = sc != NULL;
        free(sc);
    }
    return ok;
}

int64_t
intrinsic_interval_ms(const wmi_query *query, unsigned min_ms)
{
    double w = wmi_query_within(query);
    if (w < 0)
        return -1;
    double ms = w * 1000.0;
    if (!(ms < 86400000.0 * 366))
        ms = 86400000.0 * 366;
    int64_t v = (int64_t)llround(ms);
    return v < (int64_t)min_ms ? (int64_t)min_ms : v;
}

bool
intrinsic_group_due(uint64_t now, uint64_t tick, uint64_t due)
{
    return now + tick > due;
}

/* ====================================================================
 * Pollers
 *
 * One poller per provider and scope.  Each kind of change a filter asks
 * for is either pushed by the provider (p->pushing) and told at once, or
 * found by diffing snapshots at the filter's interval.  Pushed
 * modifications are throttled per interval group: the first one of an
 * instance in a window is told at once, later ones are held and told as
 * one (the first previous state, the last state) at the end of the
 * window, so that a file written a thousand times a second makes no more
 * events than polling would.
 * ==================================================================== */

struct pfilter {
    struct wmid_filter *f;
    unsigned kinds;
};

/* The filters of one poller that share one interval. */
struct group {
    uint64_t interval_ms;
    uint64_t due;
    unsigned kinds;              /* every kind its filters ask for */
    struct wmid_snapshot *prev;  /* the last scan; NULL while nothing is polled */
    /* Pushed modifications: told in this window, held for its end (the
     * latest state), and the state before the first held one. */
    struct wmid_snapshot *told, *held, *held_prev;
    struct pfilter *filters;
    size_t nfilters;
};

struct poller {
    struct wmid_intrinsic *owner;
    const struct wmid_instance_provider *ip;
    char *scope;                 /* NULL for providers without one */
    void *state;
    uv_timer_t timer;
    uint64_t tick_ms;
    struct group *groups;
    size_t ngroups;
    bool failing;                /* the last scan failed (logged once) */
    bool subscribed;
    bool started;                /* baselines taken */
    unsigned pushing;            /* WMID_KIND_* the provider pushes now */
};

struct wmid_intrinsic {
    uv_loop_t *loop;
    struct wmid_router *router;
    const wmi_schema *schema;
    struct poller *pollers;
    size_t npollers, cap;
    size_t closing;              /* timers not yet closed */
    bool stopped;
    unsigned long long scans;
    unsigned long long pushed;
};

static unsigned
polled_kinds(const struct poller *p, const struct group *g)
{
    return g->kinds & ~p->pushing;
}

static void
collect(wmi_object *inst, void *arg)
{
    snapshot_add(arg, inst);
}

static struct wmid_snapshot *
scan(struct poller *p)
{
    struct wmid_snapshot *s = snapshot_new();
    if (s == NULL || p->state == NULL) {
        snapshot_unref(s);
        return NULL;
    }
    p->owner->scans++;
    wmi_status st = p->ip->enumerate(p->state, collect, s);
    if (WMI_FAILED(st)) {
        if (!p->failing)
            log_warnx("intrinsic events: %s: enumeration failed (%s); instances kept from the last scan",
                      p->ip->name, wmi_status_name(st) ? wmi_status_name(st) : "error");
        p->failing = true;
        snapshot_unref(s);
        return NULL;
    }
    p->failing = false;
    return s;
}

static wmi_object *
make_event(struct wmid_intrinsic *in, unsigned kind, wmi_object *target, wmi_object *previous,
           uint64_t time_created)
{
    const char *cls = kind == WMID_KIND_CREATION   ? "__InstanceCreationEvent"
                      : kind == WMID_KIND_DELETION ? "__InstanceDeletionEvent"
                                                   : "__InstanceModificationEvent";
    wmi_object *ev;
    if (WMI_FAILED(wmi_object_new(in->schema, cls, &ev)))
        return NULL;
    if (WMI_FAILED(wmi_object_put_object(ev, "TargetInstance", target)) ||
        (previous != NULL && WMI_FAILED(wmi_object_put_object(ev, "PreviousInstance", previous)))) {
        wmi_object_unref(ev);
        return NULL;
    }
    wmi_object_put_uint64(ev, "TIME_CREATED", time_created);
    return ev;
}

static void
tell_group(struct wmid_intrinsic *in, struct group *g, unsigned kind, wmi_object *ev, wmi_object *target,
           bool previous)
{
    size_t size_hint = 128 + 64 * wmi_class_property_count(wmi_object_class(target)) * (previous ? 2 : 1);
    for (size_t i = 0; i < g->nfilters; i++)
        if (g->filters[i].kinds & kind)
            router_indicate_filter(in->router, g->filters[i].f, ev, size_hint);
}

struct emit_ctx {
    struct wmid_intrinsic *in;
    struct group *g;
    uint64_t time_created;
};

static void
emit(unsigned kind, wmi_object *target, wmi_object *previous, void *arg)
{
    struct emit_ctx *ctx = arg;
    wmi_object *ev = make_event(ctx->in, kind, target, previous, ctx->time_created);
    if (ev == NULL)
        return;
    tell_group(ctx->in, ctx->g, kind, ev, target, previous != NULL);
    wmi_object_unref(ev);
}

/* One held modification, at the end of its group's window. */
struct held_ctx {
    struct wmid_intrinsic *in;
    struct group *g;
    uint64_t now;
    bool told;
};

static void
tell_held(const char *path, wmi_object *obj, void *arg)
{
    struct held_ctx *h = arg;
    wmi_object *prev = snapshot_get(h->g->held_prev, path);
    if (prev != NULL && json_equal((json_t *)wmi_object_json(prev), (json_t *)wmi_object_json(obj)))
        return; /* changed and changed back */
    wmi_object *ev = make_event(h->in, WMID_KIND_MODIFICATION, obj, prev, h->now);
    if (ev == NULL)
        return;
    tell_group(h->in, h->g, WMID_KIND_MODIFICATION, ev, obj, prev != NULL);
    wmi_object_unref(ev);
    h->told = true;
}

/* The end of a group's window: tell the held modifications.  Returns
 * whether anything was told. */
static bool
flush_held(struct wmid_intrinsic *in, struct group *g)
{
    struct held_ctx h = {in, g, 0, false};
    struct wmid_snapshot *next_told = NULL;
    if (g->held != NULL && snapshot_count(g->held) > 0) {
        h.now = wmi_time_created_now();
        snapshot_foreach_keyed(g->held, tell_held, &h);
        /* Those just told open the next window. */
        next_told = snapshot_ref(g->held);
    }
    snapshot_unref(g->told);
    snapshot_unref(g->held);
    snapshot_unref(g->held_prev);
    g->told = next_told;
    g->held = g->held_prev = NULL;
    return h.told;
}

static void
on_tick(uv_timer_t *t)
{
    struct poller *p = t->data;
    struct wmid_intrinsic *in = p->owner;
    uint64_t now = uv_now(in->loop);
    bool any = false, need_scan = false;
    if (in->stopped)
        return;
    for (size_t i = 0; i < p->ngroups; i++) {
        struct group *g = &p->groups[i];
        if (!intrinsic_group_due(now, p->tick_ms, g->due))
            continue;
        any = true;
        need_scan |= polled_kinds(p, g) != 0;
    }
    if (!any)
        return;
    struct wmid_snapshot *cur = need_scan ? scan(p) : NULL;
    struct emit_ctx ctx = {in, NULL, wmi_time_created_now()};
    bool emitted = false;
    for (size_t i = 0; i < p->ngroups; i++) {
        struct group *g = &p->groups[i];
        if (!intrinsic_group_due(now, p->tick_ms, g->due))
            continue;
        emitted |= flush_held(in, g);
        unsigned kinds = polled_kinds(p, g);
        if (kinds != 0) {
            if (cur == NULL)
                continue; /* the scan failed: try again at the next tick */
            ctx.g = g;
            if (g->prev != NULL)
                emitted |= snapshot_diff(g->prev, cur, kinds, emit, &ctx) > 0;
            snapshot_unref(g->prev);
            g->prev = snapshot_ref(cur);
        }
        g->due = now + g->interval_ms;
    }
    snapshot_unref(cur);
    if (emitted)
        router_flush(in->router);
}

/* ---- pushes from the provider ---- */

static void
pushed(struct poller *p, unsigned kind, wmi_object *inst, wmi_object *previous)
{
    struct wmid_intrinsic *in = p->owner;
    if (in->stopped || !p->started || !(p->pushing & kind))
        return;
    in->pushed++;
    wmi_object *ev = NULL;
    char *path = kind != WMID_KIND_CREATION ? wmi_object_get_path(inst) : NULL;
    for (size_t i = 0; i < p->ngroups; i++) {
        struct group *g = &p->groups[i];
        if (!(g->kinds & kind))
            continue;
        if (kind == WMID_KIND_MODIFICATION && path != NULL) {
            if (g->told != NULL && snapshot_get(g->told, path) != NULL) {
                /* Told in this window already: hold it for the window's end. */
                if (g->held == NULL)
                    g->held = snapshot_new();
                if (g->held_prev == NULL)
                    g->held_prev = snapshot_new();
                if (g->held == NULL || g->held_prev == NULL)
                    continue;
                if (previous != NULL && snapshot_get(g->held_prev, path) == NULL)
                    snapshot_add(g->held_prev, previous);
                snapshot_add(g->held, inst);
                continue;
            }
            if (g->told == NULL)
                g->told = snapshot_new();
            if (g->told != NULL)
                snapshot_add(g->told, inst);
        } else if (kind == WMID_KIND_DELETION && path != NULL && g->held != NULL &&
                   snapshot_get(g->held, path) != NULL) {
            /* Gone: a held modification no longer stands. */
            struct wmid_snapshot *h = snapshot_without(g->held, path);
            if (h != NULL) {
                snapshot_unref(g->held);
                g->held = h;
            }
        }
        if (ev == NULL)
            ev = make_event(in, kind, inst, previous, wmi_time_created_now());
        if (ev != NULL)
            tell_group(in, g, kind, ev, inst, previous != NULL);
    }
    free(path);
    if (ev != NULL) {
        wmi_object_unref(ev);
        router_flush(in->router);
    }
}

static void
on_created(void *arg, wmi_object *inst)
{
    pushed(arg, WMID_KIND_CREATION, inst, NULL);
}

static void
on_deleted(void *arg, wmi_object *inst)
{
    pushed(arg, WMID_KIND_DELETION, inst, NULL);
}

static void
on_modified(void *arg, wmi_object *inst, wmi_object *previous)
{
    pushed(arg, WMID_KIND_MODIFICATION, inst, previous);
}

static size_t
filter_count(const struct poller *p, bool polled_only)
{
    size_t n = 0;
    for (size_t i = 0; i < p->ngroups; i++)
        for (size_t j = 0; j < p->groups[i].nfilters; j++)
            n += !polled_only || (p->groups[i].filters[j].kinds & ~p->pushing) != 0;
    return n;
}

static const char *
kinds_text(unsigned kinds, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s%s", kinds & WMID_KIND_CREATION ? " creations" : "",
             kinds & WMID_KIND_DELETION ? " deletions" : "", kinds & WMID_KIND_MODIFICATION ? " modifications" : "",
             kinds == 0 ? " nothing" : "");
    return buf + 1;
}

/*
 * The provider pushes @kinds from now on.  Kinds that become pushed are
 * no longer polled: with the process connector every exec after it was
 * proven is pushed, so nothing falls in between.  Kinds that go back to
 * polling need a baseline: one scan, against which each group first
 * reports what it polled until now (so a group's polled modifications
 * are not lost), and from which every polled group starts.
 */
static void
on_pushing(void *arg, unsigned kinds)
{
    struct poller *p = arg;
    struct wmid_intrinsic *in = p->owner;
    unsigned old = p->pushing;
    kinds &= WMID_KIND_CREATION | WMID_KIND_DELETION | WMID_KIND_MODIFICATION;
    if (old == kinds || in->stopped)
        return;
    p->pushing = kinds;
    char buf[64];
    log_info("intrinsic events: %s pushes %s; %zu of %zu filter(s) still polled", p->ip->name,
             kinds_text(kinds, buf, sizeof buf), filter_count(p, true), filter_count(p, false));
    if (!p->started)
        return; /* intrinsic_start takes the baselines */
    bool emitted = false;
    if (old & ~kinds) {
        struct wmid_snapshot *cur = scan(p);
        struct emit_ctx ctx = {in, NULL, wmi_time_created_now()};
        for (size_t i = 0; i < p->ngroups; i++) {
            struct group *g = &p->groups[i];
            unsigned before = g->kinds & ~old, after = g->kinds & ~kinds;
            ctx.g = g;
            if (cur != NULL && before != 0 && g->prev != NULL)
                emitted |= snapshot_diff(g->prev, cur, before, emit, &ctx) > 0;
            snapshot_unref(g->prev);
            g->prev = after != 0 && cur != NULL ? snapshot_ref(cur) : NULL;
        }
        snapshot_unref(cur);
    } else {
        for (size_t i = 0; i < p->ngroups; i++) {
            struct group *g = &p->groups[i];
            if (polled_kinds(p, g) == 0) {
                snapshot_unref(g->prev);
                g->prev = NULL;
            }
        }
    }
    if (!(kinds & WMID_KIND_MODIFICATION))
        for (size_t i = 0; i < p->ngroups; i++)
            emitted |= flush_held(in, &p->groups[i]);
    if (emitted)
        router_flush(in->router);
}

/* ---- set-up ---- */

static struct poller *
poller_for(struct wmid_intrinsic *in, const struct wmid_instance_provider *ip, const char *scope)
{
    for (size_t i = 0; i < in->npollers; i++) {
        struct poller *p = &in->pollers[i];
        if (p->ip == ip && (scope == NULL ? p->scope == NULL : p->scope != NULL && strcmp(p->scope, scope) == 0))
            return p;
    }
    if (in->npollers == in->cap) {
        size_t ncap = in->cap ? in->cap * 2 : 8;
        struct poller *np = realloc(in->pollers, ncap * sizeof *np);
        if (np == NULL)
            return NULL;
        in->pollers = np;
        in->cap = ncap;
    }
    struct poller *p = &in->pollers[in->npollers];
    memset(p, 0, sizeof *p);
    p->scope = scope ? strdup(scope) : NULL;
    if (scope != NULL && p->scope == NULL)
        return NULL;
    p->owner = in;
    p->ip = ip;
    in->npollers++;
    return p;
}

static bool
add_to_group(struct poller *p, struct wmid_filter *f, unsigned kinds, uint64_t interval)
{
    struct group *g = NULL;
    for (size_t i = 0; i < p->ngroups; i++)
        if (p->groups[i].interval_ms == interval)
            g = &p->groups[i];
    if (g == NULL) {
        struct group *ng = realloc(p->groups, (p->ngroups + 1) * sizeof *ng);
        if (ng == NULL)
            return false;
        p->groups = ng;
        g = &p->groups[p->ngroups++];
        memset(g, 0, sizeof *g);
        g->interval_ms = interval;
    }
    struct pfilter *nf = realloc(g->filters, (g->nfilters + 1) * sizeof *nf);
    if (nf == NULL)
        return false;
    g->filters = nf;
    g->filters[g->nfilters++] = (struct pfilter){f, kinds};
    g->kinds |= kinds;
    return true;
}

static void
free_pollers(struct wmid_intrinsic *in)
{
    for (size_t i = 0; i < in->npollers; i++) {
        struct poller *p = &in->pollers[i];
        if (p->state != NULL && p->subscribed)
            p->ip->unsubscribe(p->state);
        p->subscribed = false;
        for (size_t j = 0; j < p->ngroups; j++) {
            struct group *g = &p->groups[j];
            snapshot_unref(g->prev);
            snapshot_unref(g->told);
            snapshot_unref(g->held);
            snapshot_unref(g->held_prev);
            g->prev = g->told = g->held = g->held_prev = NULL;
            free(g->filters);
        }
        free(p->groups);
        p->groups = NULL;
        p->ngroups = 0;
        if (p->state != NULL)
            p->ip->close(p->state);
        p->state = NULL;
        free(p->scope);
        p->scope = NULL;
    }
}

static void
on_timer_closed(uv_handle_t *h)
{
    struct poller *p = h->data;
    struct wmid_intrinsic *in = p->owner;
    if (--in->closing == 0) {
        free(in->pollers);
        free(in);
    }
}

/* Put @f in the pollers of the providers that serve its target. */
static void
add_filter(struct wmid_intrinsic *in, struct wmid_filter *f, const struct wmid_instance_provider *const *ips,
           size_t nip, uint64_t ms)
{
    const wmi_schema *schema = in->schema;
    const char *target = wmi_query_isa_target(f->query);
    unsigned kinds = intrinsic_event_kinds(schema, f->query);
    for (size_t k = 0; k < nip && target != NULL; k++) {
        if ((ips[k]->flags & WMID_IP_NO_WITHIN) || !instance_provider_serves(schema, ips[k], target))
            continue;
        char *sc = NULL;
        if (ips[k]->scope != NULL) {
            wmi_error err;
            memset(&err, 0, sizeof err);
            sc = ips[k]->scope(schema, f->query, &err);
            if (sc == NULL)
                continue; /* too broad for it: other providers serve the class */
        }
        struct poller *p = poller_for(in, ips[k], sc);
        if (p == NULL || !add_to_group(p, f, kinds, ms))
            log_warnx("filter \"%s\": out of memory", f->qname);
        free(sc);
    }
}

struct wmid_intrinsic *
intrinsic_start_with(uv_loop_t *loop, const struct wmid_settings *s, struct wmid_router *r,
                     struct wmid_instance_env *env, const struct wmid_instance_provider *const *ips, size_t nip)
{
    const wmi_schema *schema = router_schema(r);
    struct wmid_intrinsic *in = calloc(1, sizeof *in);
    if (in == NULL)
        return NULL;
    in->loop = loop;
    in->router = r;
    in->schema = schema;
    unsigned floor_ms = s->min_within_ms ? s->min_within_ms : 1;
    for (size_t i = 0; i < router_filter_count(r); i++) {
        struct wmid_filter *f = router_filter_at(r, i);
        if (!intrinsic_needs_polling(schema, f->query))
            continue;
        /* Pollers raise their events in root\cimv2. */
        if (f->event_ns != NULL && strcmp(f->event_ns, WMID_NS_EVENTS) != 0) {
            log_warnx("filter \"%s\": EventNamespace %s: instance events of %s are raised in %s; it receives none",
                      f->qname, f->event_ns, wmi_query_isa_target(f->query), WMID_NS_EVENTS);
            continue;
        }
        int64_t ms = intrinsic_interval_ms(f->query, floor_ms);
        unsigned ev_ms = instance_event_interval_ms(schema, wmi_query_isa_target(f->query));
        if (ms < 0 && ev_ms > 0) /* WMI's event provider: no WITHIN needed */
            ms = ev_ms < floor_ms ? floor_ms : ev_ms;
        if (ms < 0) {
            log_warnx("filter \"%s\": needs WITHIN to be polled (WBEMESS_E_REGISTRATION_TOO_PRECISE); "
                      "it receives no instance events",
                      f->qname);
            continue;
        }
        if (wmi_query_within(f->query) >= 0 && wmi_query_within(f->query) * 1000.0 < (double)floor_ms)
            log_warnx("filter \"%s\": WITHIN %g is below min_within_ms (%u ms); polled every %u ms", f->qname,
                      wmi_query_within(f->query), floor_ms, floor_ms);
        add_filter(in, f, ips, nip, (uint64_t)ms);
        router_filter_set_polled(f, true);
    }
    /* Open each provider, subscribe to what it pushes, take the first
     * snapshot of what is polled, start the timer. */
    uint64_t now = uv_now(loop);
    for (size_t i = 0; i < in->npollers; i++) {
        struct poller *p = &in->pollers[i];
        p->state = instance_open(env, p->ip, schema, p->scope);
        if (p->state == NULL)
            log_warnx("intrinsic events: %s: cannot start; its filters receive no events", p->ip->name);
        if (p->state != NULL && p->ip->push != 0 && p->ip->subscribe != NULL) {
            struct wmid_instance_sink sink = {on_created, on_deleted, on_modified, on_pushing, p};
            p->subscribed = p->ip->subscribe(p->state, loop, &sink);
        }
        p->tick_ms = UINT64_MAX;
        bool polled = false;
        for (size_t j = 0; j < p->ngroups; j++) {
            struct group *g = &p->groups[j];
            g->due = now + g->interval_ms;
            if (g->interval_ms < p->tick_ms)
                p->tick_ms = g->interval_ms;
            polled |= polled_kinds(p, g) != 0;
        }
        struct wmid_snapshot *first = polled ? scan(p) : NULL;
        if (polled && first == NULL)
            first = snapshot_new();
        for (size_t j = 0; j < p->ngroups; j++)
            if (polled_kinds(p, &p->groups[j]) != 0 && first != NULL)
                p->groups[j].prev = snapshot_ref(first);
        snapshot_unref(first);
        p->started = true;
        uv_timer_init(loop, &p->timer);
        in->closing++;
        if (p->state != NULL && p->ngroups > 0)
            uv_timer_start(&p->timer, on_tick, p->tick_ms, p->tick_ms);
        char where[128] = "";
        if (p->scope != NULL)
            snprintf(where, sizeof where, " (%.100s)", p->scope);
        for (char *c = where; *c != '\0'; c++)
            if (*c == '\n')
                *c = ' ';
        if (polled) {
            log_info("intrinsic events: polling %s%s every %llu ms for %zu filter(s) in %zu interval group(s)",
                     p->ip->name, where, (unsigned long long)p->tick_ms, filter_count(p, false), p->ngroups);
        } else {
            char buf[64];
            log_info("intrinsic events: %s%s pushes %s; %zu filter(s), none polled", p->ip->name, where,
                     kinds_text(p->pushing, buf, sizeof buf), filter_count(p, false));
        }
    }
    /* The timers hold the poller array: fix their data pointers now that
     * it no longer moves. */
    for (size_t i = 0; i < in->npollers; i++)
        in->pollers[i].timer.data = &in->pollers[i];
    if (in->npollers == 0) {
        free(in->pollers);
        free(in);
        return NULL;
    }
    return in;
}

struct wmid_intrinsic *
intrinsic_start(uv_loop_t *loop, const struct wmid_settings *s, struct wmid_router *r,
                struct wmid_instance_env *env)
{
    size_t nip;
    const struct wmid_instance_provider *const *ips = instance_providers(&nip);
    return intrinsic_start_with(loop, s, r, env, ips, nip);
}

void
intrinsic_stop(struct wmid_intrinsic *in)
{
    if (in == NULL || in->stopped)
        return;
    log_info("intrinsic events: stopped after %llu provider scan(s) and %llu pushed change(s)", in->scans,
             in->pushed);
    in->stopped = true;
    free_pollers(in);
    for (size_t i = 0; i < in->npollers; i++) {
        uv_timer_stop(&in->pollers[i].timer);
        uv_close((uv_handle_t *)&in->pollers[i].timer, on_timer_closed);
    }
}

/* Does WITHIN change what filter query @query receives?  It does where a
 * poller serves the target class, and for the repository's own objects,
 * whose changes the daemon raises itself (WITHIN is then accepted and
 * needs no poll); for extrinsic events it means nothing. */
bool
intrinsic_within_has_effect(const wmi_schema *schema, const wmi_query *query)
{
    if (intrinsic_needs_polling(schema, query))
        return true;
    const char *isa = wmi_query_isa_target(query);
    const wmi_class *isa_cls = isa ? wmi_schema_get_class(schema, isa) : NULL;
    return intrinsic_event_kinds(schema, query) != 0 && isa_cls != NULL && repository_holds(isa_cls);
}
