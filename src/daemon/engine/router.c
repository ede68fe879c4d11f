/*
 * router.c - from event to logical consumers.
 *
 * Built once from the loaded objects into an immutable snapshot:
 *   providers      __Win32Provider + __EventConsumerProviderRegistration
 *   consumers      every instance of an __EventConsumer subclass, tied to
 *                  the provider whose ConsumerClassNames lists its class
 *   filters        every __EventFilter, its WQL query compiled once
 *   bindings       __FilterToConsumerBinding, Filter and Consumer resolved
 *   class index    event class -> the filters FROM that class or any of
 *                  its ancestors, so an event is tested only against
 *                  filters that can match it
 *   cache controls the ClearAfter of __EventConsumerProviderCacheControl,
 *                  __EventSinkCacheControl and __EventProviderCacheControl
 * Anything dangling is refused at load with the object named.
 *
 * Consumer providers are loaded lazily, as WMI loads them: not at start,
 * but on the loop thread when an event must first be delivered to one of
 * their logical consumers (ensure_attached, from deliver_bindings); then
 * FindConsumer gives that consumer its physical consumer.  What idles
 * past its ClearAfter is released again by router_sweep_idle, which the
 * idle timer of lifecycle.c runs.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/plugins/eventprov.h"
#include "daemon/providers/instance.h"
#include "daemon/providers/intrinsic.h"
#include "daemon/wmieventd.h"
#include "daemon/config/config.h"
#include "daemon/config/namespace.h"
#include "daemon/config/security.h"
#include "daemon/engine/aggregate.h"
#include "daemon/engine/delivery.h"
#include "daemon/engine/lifecycle.h"
#include "daemon/engine/router.h"
#include "daemon/log.h"
#include "daemon/plugins/hosting.h"
#include "daemon/plugins/loader.h"

/* ====================================================================
 * Class index: class pointer -> filters (open addressing)
 * ==================================================================== */

struct index_slot {
    const wmi_class *cls;
    struct wmid_filter **filters;
    size_t n;
};

struct wmid_router {
    wmi_schema *schema;
    struct wmid_delivery *delivery;
    struct wmid_router *prev;     /* during router_new_from only */
    struct wmid_provider **providers;
    size_t nproviders;
    wmi_object **ev_regs;         /* parallel: __EventProviderRegistration, or NULL */
    struct sec_identity *ev_ids;  /* parallel: their creators */
    char **ev_ns;                 /* parallel: their namespace, where the provider's events are raised */
    /* The namespaces of the load and the homes of its classes (references
     * to wmid_objects.namespaces and .class_ns). */
    json_t *namespaces;
    json_t *class_ns;
    /* Parallel: what this configuration says of each provider, applied to
     * the (possibly shared) provider only when the router is committed,
     * so that a refused reload leaves the running providers alone. */
    wmi_object **regs;            /* __EventConsumerProviderRegistration, or NULL */
    unsigned *deadlines;          /* __Win32Provider.DeadlineMs, 0 when unset */
    struct wmid_consumer **consumers;
    size_t nconsumers;
    struct wmid_filter *filters;
    size_t nfilters;
    struct wmid_binding *bindings;
    size_t nbindings;
    struct index_slot *index;
    size_t index_cap;
    struct wmid_router_stats stats;
    struct wmid_cache_controls cc;
    /* Set by router_prepare_providers: the settings loads use, and the
     * loop thread, the only one that may load a provider (a router used
     * without them never loads lazily). */
    const struct wmid_settings *settings;
    pthread_t loop_thread;
    bool lazy;
};

static size_t
ptr_hash(const void *p)
{
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x;
}

static struct index_slot *
index_find(const struct wmid_router *r, const wmi_class *cls)
{
    size_t j = ptr_hash(cls) & (r->index_cap - 1);
    while (r->index[j].cls != NULL && r->index[j].cls != cls)
        j = (j + 1) & (r->index_cap - 1);
    return &r->index[j];
}

/* Building the index: the filters sorted by their FROM class, so that a
 * class finds the filters of itself and each ancestor by binary search:
 * O(classes x depth x log filters) rather than classes x filters. */
struct from_entry {
    const wmi_class *cls;
    size_t filter;
};

struct index_build {
    struct wmid_router *r;
    struct from_entry *from;
    size_t nfrom;
    size_t *found;               /* scratch, nfilters long */
    bool ok;
};

static int
from_cmp(const void *a, const void *b)
{
    const struct from_entry *x = a, *y = b;
    uintptr_t px = (uintptr_t)x->cls, py = (uintptr_t)y->cls;
    if (px != py)
        return px < py ? -1 : 1;
    return x->filter < y->filter ? -1 : x->filter > y->filter;
}

static int
size_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static bool
index_add_class(const wmi_class *cls, void *arg)
{
    struct index_build *b = arg;
    struct wmid_router *r = b->r;
    size_t n = 0;
    for (const wmi_class *a = cls; a != NULL; a = wmi_class_superclass(a)) {
        /* The first entry of class @a. */
        size_t lo = 0, hi = b->nfrom;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if ((uintptr_t)b->from[mid].cls < (uintptr_t)a)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (; lo < b->nfrom && b->from[lo].cls == a; lo++)
            b->found[n++] = b->from[lo].filter;
    }
    if (n == 0)
        return true;
    /* In configuration order, as every event meets them. */
    qsort(b->found, n, sizeof *b->found, size_cmp);
    struct index_slot *slot = index_find(r, cls);
    slot->cls = cls;
    slot->filters = calloc(n, sizeof *slot->filters);
    if (slot->filters == NULL) {
        b->ok = false;
        return false;
    }
    for (size_t k = 0; k < n; k++)
        slot->filters[slot->n++] = &r->filters[b->found[k]];
    return true;
}

static bool
count_class(const wmi_class *cls, void *arg)
{
    (void)cls;
    (*(size_t *)arg)++;
    return true;
}

/* ====================================================================
 * Building
 * ==================================================================== */


static const char *
str_prop(const wmi_object *o, const char *name)
{
    const char *s = NULL;
    if (wmi_object_get_string(o, name, &s) != WBEM_S_NO_ERROR)
        return NULL;
    return s;
}

/* The single string key of a path ("Name" or the unnamed form), or NULL. */
static const char *
path_name_key(const json_t *keys)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)keys, k, v) {
        if ((strcasecmp(k, "Name") == 0 || k[0] == '\0') && json_is_string(v) && json_object_size(keys) == 1)
            return json_string_value(v);
    }
    return NULL;
}

static struct wmid_provider *
find_provider(struct wmid_router *r, const char *name)
{
    for (size_t i = 0; r != NULL && i < r->nproviders; i++)
        if (strcasecmp(r->providers[i]->name, name) == 0)
            return r->providers[i];
    return NULL;
}

static struct wmid_consumer *
find_consumer(struct wmid_router *r, const char *path)
{
    for (size_t i = 0; r != NULL && i < r->nconsumers; i++)
        if (strcasecmp(r->consumers[i]->path, path) == 0)
            return r->consumers[i];
    return NULL;
}

static bool
same_string(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* ====================================================================
 * Shared objects: providers and logical consumers outlive a router when
 * a reload keeps them (reference counts, loop thread only).
 * ==================================================================== */

static void
provider_unref(struct wmid_provider *p)
{
    if (p == NULL || --p->refs > 0)
        return;
    eventprov_unload(p);
    plugin_unload(p);
    free(p->name);
    free(p->library);
    free(p->hosting_model);
    wmi_object_unref(p->registration);
    wmi_schema_free(p->schema);
    free(p);
}

static void
consumer_free(struct wmid_consumer *c)
{
    free(c->path);
    free(c->ns);
    wmi_object_unref(c->logical);
    provider_unref(c->provider);
    free(c);
}

static void
consumer_unref(struct wmid_router *r, struct wmid_consumer *c)
{
    if (c == NULL || --c->refs > 0)
        return;
    if (r->delivery != NULL)
        delivery_retire(r->delivery, c, consumer_free); /* after its queue drains */
    else
        consumer_free(c);
}

static char *
resolve_library(const struct wmid_settings *s, const char *lib)
{
    char *out;
    if (strchr(lib, '/') != NULL)
        return strdup(lib);
    if (asprintf(&out, "%s/%s", s->plugin_dir, lib) < 0)
        return NULL;
    return out;
}

/* The __Win32Provider a registration's Provider path names, or NULL with
 * @err filled. */
static struct wmid_provider *
registration_provider(struct wmid_router *r, wmi_object *x, const char *origin, wmi_error *err)
{
    const char *ppath = str_prop(x, "Provider");
    char *pclass = NULL;
    json_t *keys = NULL;
    const char *pname = NULL;
    struct wmid_provider *p = NULL;
    if (ppath == NULL || WMI_FAILED(wmi_path_parse(ppath, &pclass, &keys)) || (pname = path_name_key(keys)) == NULL)
        config_fail(err, WBEM_E_INVALID_PROVIDER_REGISTRATION, origin,
                    "Provider: expected a path such as __Win32Provider.Name=\"X\"");
    else if ((p = find_provider(r, pname)) == NULL)
        config_fail(err, WBEM_E_PROVIDER_NOT_FOUND, origin, "Provider: no __Win32Provider named \"%s\"", pname);
    free(pclass);
    json_decref(keys);
    return p;
}

/*
 * An __EventProviderRegistration: its EventQueryList must name event
 * classes of the provider's own, below __ExtrinsicEvent and outside the
 * events the daemon raises itself (__SystemEvent and its subclasses), as
 * WMI refuses registrations that claim its system events.
 */
static bool
check_event_registration(struct wmid_router *r, const struct wmid_objects *o, wmi_object *x, const char *ns,
                         const char *origin, long owner, long admin_gid, wmi_error *err)
{
    struct wmid_provider *p = registration_provider(r, x, origin, err);
    if (p == NULL)
        return false;
    size_t pi = 0;
    while (r->providers[pi] != p)
        pi++;
    if (r->ev_regs[pi] != NULL)
        return config_fail(err, WBEM_E_ALREADY_EXISTS, origin,
                           "Provider: provider \"%s\" has two __EventProviderRegistration instances", p->name);
    const json_t *list = NULL;
    wmi_object_get_json(x, "EventQueryList", &list, NULL);
    if (!json_is_array(list) || json_array_size(list) == 0)
        return config_fail(err, WBEM_E_UNINTERPRETABLE_PROVIDER_QUERY, origin,
                           "EventQueryList: the registration names no event class (give queries such as "
                           "\"SELECT * FROM MyEvent\")");
    size_t k;
    json_t *qv;
    json_array_foreach(list, k, qv) {
        wmi_query *q;
        wmi_error qerr;
        if (!json_is_string(qv) || WMI_FAILED(wmi_query_parse(json_string_value(qv), o->schema, &q, &qerr)))
            return config_fail(err, json_is_string(qv) ? WBEM_E_UNINTERPRETABLE_PROVIDER_QUERY : WBEM_E_TYPE_MISMATCH,
                               origin, "EventQueryList[%zu]%s%.300s", k, json_is_string(qv) ? ": " : ": not a string",
                               json_is_string(qv) ? qerr.text : "");
        const wmi_class *cls = wmi_schema_get_class(o->schema, wmi_query_class(q));
        bool ok = cls != NULL && wmi_class_isa(cls, "__ExtrinsicEvent") &&
                  strcasecmp(wmi_class_name(cls), "__ExtrinsicEvent") != 0 && !wmi_class_isa(cls, "__SystemEvent");
        bool here = cls == NULL || ns_class_in(o->class_ns, wmi_class_name(cls), ns);
        char cname[128];
        snprintf(cname, sizeof cname, "%s", wmi_query_class(q) ? wmi_query_class(q) : "?");
        wmi_query_free(q);
        if (ok && !here)
            return config_fail(err, WBEM_E_INVALID_CLASS, origin,
                               "EventQueryList[%zu]: class %s is in namespace %s, not in %s, where the provider's "
                               "events are raised", k, wmi_class_name(cls), ns_class_home(o->class_ns,
                                                                                       wmi_class_name(cls)), ns);
        if (!ok)
            return config_fail(err, WBEMESS_E_REGISTRATION_TOO_BROAD, origin,
                               "EventQueryList[%zu]: events of class %s overlap the system events the daemon "
                               "raises itself; name a class derived from __ExtrinsicEvent (not __SystemEvent)",
                               k, cname);
    }
    r->ev_regs[pi] = wmi_object_ref(x);
    r->ev_ns[pi] = strdup(ns);
    sec_identity_from_uid(&r->ev_ids[pi], owner, admin_gid);
    return true;
}

/*
 * ClearAfter of a cache control instance, in ms, into *@ms; left alone when
 * the property is not set (the default stays).  The object loader checked
 * the DMTF syntax already; what is left is that it must be an interval
 * ("ddddddddHHMMSS.mmmmmm:000", not a point in time) of at least
 * WMID_MIN_CLEAR_MS.
 */
static bool
clear_after(wmi_object *x, const char *origin, uint64_t *ms, wmi_error *err)
{
    const char *v = NULL;
    if (wmi_object_get_string(x, "ClearAfter", &v) != WBEM_S_NO_ERROR || v == NULL)
        return true;
    if (!wmi_datetime_check(v) || strlen(v) != 25 || v[21] != ':')
        return config_fail(err, WBEM_E_INVALID_PARAMETER, origin,
                           "ClearAfter: \"%s\" is not an interval (ddddddddHHMMSS.mmmmmm:000, for example "
                           "00000000000030.000000:000 for 30 seconds)",
                           v);
    uint64_t f[5] = {0};
    static const int off[] = {0, 8, 10, 12, 15}, len[] = {8, 2, 2, 2, 6};
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < len[i]; j++)
            f[i] = f[i] * 10 + (uint64_t)(v[off[i] + j] - '0');
    uint64_t total = (((f[0] * 24 + f[1]) * 60 + f[2]) * 60 + f[3]) * 1000 + f[4] / 1000;
    if (total < WMID_MIN_CLEAR_MS)
        return config_fail(err, WBEM_E_VALUE_OUT_OF_RANGE, origin,
                           "ClearAfter: \"%s\" is shorter than the shortest interval accepted, %u ms "
                           "(00000000000000.%06u:000)",
                           v, WMID_MIN_CLEAR_MS, WMID_MIN_CLEAR_MS * 1000);
    *ms = total;
    return true;
}

/* The three cache control singletons: each at most once. */
static bool
build_cache_controls(struct wmid_router *r, const struct wmid_objects *o, wmi_error *err)
{
    static const char *const classes[] = {"__EventConsumerProviderCacheControl", "__EventSinkCacheControl",
                                          "__EventProviderCacheControl"};
    uint64_t *dest[] = {&r->cc.provider_ms, &r->cc.sink_ms, &r->cc.event_provider_ms};
    bool seen[3] = {false, false, false};
    r->cc.provider_ms = WMID_DEFAULT_PROVIDER_CLEAR_MS;
    r->cc.sink_ms = WMID_DEFAULT_SINK_CLEAR_MS;
    r->cc.event_provider_ms = WMID_DEFAULT_EVENT_PROVIDER_CLEAR_MS;
    for (size_t i = 0; i < o->ninstances; i++) {
        wmi_object *x = o->instances[i];
        if (!wmi_object_isa(x, "__CacheControl"))
            continue;
        const char *origin = json_string_value(json_array_get(o->origins, i));
        for (size_t k = 0; k < 3; k++) {
            if (!wmi_object_isa(x, classes[k]))
                continue;
            if (seen[k])
                return config_fail(err, WBEM_E_ALREADY_EXISTS, origin,
                                   "%s is a singleton: it is defined twice", classes[k]);
            seen[k] = true;
            if (!clear_after(x, origin, dest[k], err))
                return false;
        }
    }
    return true;
}

struct creator_cache;
static bool build_objects(struct wmid_router *r, const struct wmid_objects *o, const struct wmid_settings *s,
                          json_t *filter_names, struct creator_cache *creators, wmi_error *err);

/* Creators of objects: most files share an owner, and each lookup reads
 * the passwd and group databases, so remember the last few. */
struct creator_cache {
    long admin_gid;
    long uid[8];
    struct sec_identity id[8];
    size_t n, next;
};

static void
creator_of(struct creator_cache *cc, long uid, struct sec_identity *out)
{
    for (size_t k = 0; k < cc->n; k++) {
        if (cc->uid[k] == uid) {
            *out = cc->id[k];
            return;
        }
    }
    sec_identity_from_uid(out, uid, cc->admin_gid);
    size_t k = cc->n < 8 ? cc->n++ : cc->next++ % 8;
    cc->uid[k] = uid;
    cc->id[k] = *out;
}

/* Filters are keyed by namespace and name, without case: "ns:name" in
 * lower case (namespaces are normalized to lower case already).  A new
 * string, whole however long the name (NULL: out of memory). */
static char *
filter_key(const char *ns, const char *name)
{
    char *key = NULL;
    if (asprintf(&key, "%s:%s", ns, name) < 0)
        return NULL;
    for (char *p = key + strlen(ns) + 1; *p != '\0'; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    return key;
}

/*
 * WMI's rules for who may subscribe: a filter, a logical consumer and the
 * binding between them must have the same creator (CreatorSID), and a
 * binding created by a non-administrator may name only consumers whose
 * provider takes subscriptions from non-administrators (the
 * user_consumer_providers setting).  A binding that breaks them loads but
 * delivers nothing; the log and Stats say why.
 */
static void
check_binding_rights(struct wmid_router *r, const struct wmid_settings *s, struct creator_cache *creators,
                     struct wmid_binding *b, long owner, const char *origin)
{
    (void)r;
    struct sec_identity who;
    creator_of(creators, owner, &who);
    if (strcmp(who.sid, b->filter->creator.sid) != 0 || strcmp(who.sid, b->consumer->creator) != 0) {
        b->inactive = WBEM_E_ACCESS_DENIED;
        snprintf(b->why, sizeof b->why, "created by %.20s, its filter by %.20s, its consumer by %.20s",
                 who.sid[0] ? who.sid : "?", b->filter->creator.sid[0] ? b->filter->creator.sid : "?",
                 b->consumer->creator[0] ? b->consumer->creator : "?");
    } else if (!who.admin) {
        bool allowed = false;
        size_t k;
        json_t *e;
        json_array_foreach(s->user_consumer_providers, k, e) {
            allowed |= b->consumer->provider != NULL &&
                       strcasecmp(json_string_value(e), b->consumer->provider->name) == 0;
        }
        if (!allowed) {
            b->inactive = WBEM_E_ACCESS_DENIED;
            snprintf(b->why, sizeof b->why,
                     "a non-administrator's binding to a consumer of provider %.60s, which "
                     "user_consumer_providers does not list",
                     b->consumer->provider ? b->consumer->provider->name : "?");
        }
    }
    if (b->inactive != WBEM_S_NO_ERROR)
        log_warnx("%s: the binding delivers nothing (WBEM_E_ACCESS_DENIED): %s", origin, b->why);
}

static bool
build(struct wmid_router *r, const struct wmid_objects *o, const struct wmid_settings *s, wmi_error *err)
{
    /* Lookups by name during the build (filters: name -> index), so that
     * 10,000 filters and bindings cost no quadratic search. */
    json_t *filter_names = json_object();
    struct creator_cache *creators = calloc(1, sizeof *creators);
    if (creators != NULL)
        creators->admin_gid = s->admin_gid;
    bool ok = filter_names != NULL && creators != NULL && build_objects(r, o, s, filter_names, creators, err);
    json_decref(filter_names);
    free(creators);
    if (filter_names == NULL || creators == NULL)
        return config_fail(err, WBEM_E_OUT_OF_MEMORY, "", "out of memory");
    return ok;
}

static bool
build_objects(struct wmid_router *r, const struct wmid_objects *o, const struct wmid_settings *s,
              json_t *filter_names, struct creator_cache *creators, wmi_error *err)
{
    if (!build_cache_controls(r, o, err))
        return false;
    size_t np = 0, nc = 0, nf = 0, nb = 0;
    for (size_t i = 0; i < o->ninstances; i++) {
        wmi_object *x = o->instances[i];
        if (wmi_object_isa(x, "__Win32Provider"))
            np++;
        else if (wmi_object_isa(x, "__EventConsumer"))
            nc++;
        else if (wmi_object_isa(x, "__EventFilter"))
            nf++;
        else if (wmi_object_isa(x, "__FilterToConsumerBinding"))
            nb++;
    }
    r->providers = calloc(np + 1, sizeof *r->providers);
    r->ev_regs = calloc(np + 1, sizeof *r->ev_regs);
    r->ev_ids = calloc(np + 1, sizeof *r->ev_ids);
    r->ev_ns = calloc(np + 1, sizeof *r->ev_ns);
    r->regs = calloc(np + 1, sizeof *r->regs);
    r->deadlines = calloc(np + 1, sizeof *r->deadlines);
    r->consumers = calloc(nc + 1, sizeof *r->consumers);
    r->filters = calloc(nf + 1, sizeof *r->filters);
    r->bindings = calloc(nb + 1, sizeof *r->bindings);
    if (!r->providers || !r->consumers || !r->filters || !r->bindings || !r->ev_regs || !r->ev_ids || !r->ev_ns || !r->regs ||
        !r->deadlines)
        return config_fail(err, WBEM_E_OUT_OF_MEMORY, "", "out of memory");

    /* Providers. */
    for (size_t i = 0; i < o->ninstances; i++) {
        wmi_object *x = o->instances[i];
        const char *origin = json_string_value(json_array_get(o->origins, i));
        if (!wmi_object_isa(x, "__Win32Provider"))
            continue;
        const char *name = str_prop(x, "Name");
        const char *lib = str_prop(x, "Library");
        if (name == NULL || name[0] == '\0')
            return config_fail(err, WBEM_E_INVALID_PROVIDER_REGISTRATION, origin, "Name: a provider needs a Name");
        if (find_provider(r, name) != NULL)
            return config_fail(err, WBEM_E_ALREADY_EXISTS, origin, "Name: provider \"%s\" is defined twice", name);
        if (lib == NULL || lib[0] == '\0')
            return config_fail(err, WBEM_E_INVALID_PROVIDER_REGISTRATION, origin,
                        "Library: a __Win32Provider needs Library, the path of its .so (it replaces "
                        "WMI's CLSID)");
        char *library = resolve_library(s, lib);
        const char *hm = str_prop(x, "HostingModel");
        struct wmid_provider *p = find_provider(r->prev, name);
        if (library == NULL)
            return config_fail(err, WBEM_E_OUT_OF_MEMORY, origin, "out of memory");
        if (p != NULL && strcmp(p->library, library) == 0 && same_string(p->hosting_model, hm)) {
            /* The same code as before the reload: keep it loaded. */
            p->refs++;
            free(library);
        } else {
            p = calloc(1, sizeof *p);
            if (p == NULL) {
                free(library);
                return config_fail(err, WBEM_E_OUT_OF_MEMORY, origin, "out of memory");
            }
            p->refs = 1;
            p->name = strdup(name);
            p->library = library;
            p->hosting_model = hm != NULL ? strdup(hm) : NULL;
            p->status = WBEM_E_PROVIDER_NOT_FOUND;
            snprintf(p->message, sizeof p->message, "no __EventConsumerProviderRegistration names it");
        }
        uint64_t dl = 0;
        if (wmi_object_get_uint64(x, "DeadlineMs", &dl) == WBEM_S_NO_ERROR)
            r->deadlines[r->nproviders] = dl > 86400000 ? 86400000 : (unsigned)dl;
        r->providers[r->nproviders++] = p;
    }
    /* Registrations: consumer class -> provider. */
    json_t *class_provider = json_object();
    for (size_t i = 0; i < o->ninstances; i++) {
        wmi_object *x = o->instances[i];
        const char *origin = json_string_value(json_array_get(o->origins, i));
        if (!wmi_object_isa(x, "__EventConsumerProviderRegistration"))
            continue;
        const char *ppath = str_prop(x, "provider");
        char *pclass = NULL;
        json_t *keys = NULL;
        const char *pname = NULL;
        if (ppath == NULL || WMI_FAILED(wmi_path_parse(ppath, &pclass, &keys)) ||
            (pname = path_name_key(keys)) == NULL) {
            free(pclass);
            json_decref(keys);
            json_decref(class_provider);
            return config_fail(err, WBEM_E_INVALID_PROVIDER_REGISTRATION, origin,
                        "Provider: expected a path such as __Win32Provider.Name=\"X\"");
        }
        struct wmid_provider *p = find_provider(r, pname);
        if (p == NULL) {
            config_fail(err, WBEM_E_PROVIDER_NOT_FOUND, origin, "Provider: no __Win32Provider named \"%s\"", pname);
            free(pclass);
            json_decref(keys);
            json_decref(class_provider);
            return false;
        }
        free(pclass);
        json_decref(keys);
        const json_t *names;
        wmi_object_get_json(x, "ConsumerClassNames", &names, NULL);
        if (!json_is_array(names) || json_array_size(names) == 0) {
            json_decref(class_provider);
            return config_fail(err, WBEM_E_INVALID_PROVIDER_REGISTRATION, origin,
                        "ConsumerClassNames: the registration names no consumer class");
        }
        size_t k;
        json_t *cn;
        json_array_foreach(names, k, cn) {
            const wmi_class *cc = wmi_schema_get_class(o->schema, json_string_value(cn));
            if (cc == NULL || !wmi_class_isa(cc, "__EventConsumer")) {
                json_decref(class_provider);
                return config_fail(err, WBEM_E_INVALID_CLASS, origin,
                            "ConsumerClassNames[%zu]: \"%s\" is not a class derived from __EventConsumer", k,
                            json_string_value(cn));
            }
            json_t *prev = json_object_get(class_provider, wmi_class_name(cc));
            if (prev != NULL) {
                config_fail(err, WBEM_E_ALREADY_EXISTS, origin,
                     "ConsumerClassNames[%zu]: class %s is already served by provider \"%s\"", k,
                     wmi_class_name(cc), r->providers[json_integer_value(prev)]->name);
                json_decref(class_provider);
                return false;
            }
            size_t pi = 0;
            while (r->providers[pi] != p)
                pi++;
            json_object_set_new(class_provider, wmi_class_name(cc), json_integer((json_int_t)pi));
        }
        size_t ri = 0;
        while (r->providers[ri] != p)
            ri++;
        wmi_object_unref(r->regs[ri]);
        r->regs[ri] = wmi_object_ref(x);
    }
    /* Logical consumers. */
    for (size_t i = 0; i < o->ninstances; i++) {
        wmi_object *x = o->instances[i];
        const char *origin = json_string_value(json_array_get(o->origins, i));
        if (!wmi_object_isa(x, "__EventConsumer"))
            continue;
        char *rel = wmi_object_get_path(x);
        char *path = ns_qualify(objects_ns(o, i), rel);
        free(rel);
        if (path == NULL) {
            json_decref(class_provider);
            return config_fail(err, WBEM_E_NO_KEY, origin, "Name: a logical consumer needs its key (Name)");
        }
        if (find_consumer(r, path) != NULL) {
            config_fail(err, WBEM_E_ALREADY_EXISTS, origin, "%s is defined twice", path);
            free(path);
            json_decref(class_provider);
            return false;
        }
        struct wmid_provider *p = NULL;
        for (const wmi_class *cc = wmi_object_class(x); cc != NULL && p == NULL; cc = wmi_class_superclass(cc)) {
            json_t *pi = json_object_get(class_provider, wmi_class_name(cc));
            if (pi != NULL)
                p = r->providers[json_integer_value(pi)];
        }
        if (p == NULL) {
            free(path);
            json_decref(class_provider);
            return config_fail(err, WBEM_E_PROVIDER_NOT_FOUND, origin,
                        "no __EventConsumerProviderRegistration lists class %s in ConsumerClassNames",
                        wmi_object_class_name(x));
        }
        struct wmid_consumer *c = find_consumer(r->prev, path);
        if (c != NULL && c->provider == p && json_equal((json_t *)wmi_object_json(c->logical),
                                                        (json_t *)wmi_object_json(x))) {
            /* Unchanged by the reload: keep its queue, sink and counters. */
            free(path);
            c->refs++;
            r->consumers[r->nconsumers++] = c;
            continue;
        }
        c = calloc(1, sizeof *c);
        if (c == NULL) {
            free(path);
            json_decref(class_provider);
            return config_fail(err, WBEM_E_OUT_OF_MEMORY, origin, "out of memory");
        }
        c->refs = 1;
        {
            struct sec_identity cid;
            creator_of(creators, o->owners ? o->owners[i] : -1, &cid);
            snprintf(c->creator, sizeof c->creator, "%s", cid.sid);
        }
        c->path = path;
        c->ns = strdup(objects_ns(o, i));
        c->logical = wmi_object_ref(x);
        c->provider = p;
        p->refs++;
        r->consumers[r->nconsumers++] = c;
        uint64_t mqs = 0;
        c->max_queue_bytes = s->default_consumer_queue_bytes;
        if (wmi_object_get_uint64(x, "MaximumQueueSize", &mqs) == WBEM_S_NO_ERROR && mqs > 0)
            c->max_queue_bytes = (size_t)mqs;
    }
    json_decref(class_provider);
    /* Event provider registrations: what each event provider supplies. */
    for (size_t i = 0; i < o->ninstances; i++) {
        wmi_object *x = o->instances[i];
        const char *origin = json_string_value(json_array_get(o->origins, i));
        if (!wmi_object_isa(x, "__EventProviderRegistration"))
            continue;
        if (!check_event_registration(r, o, x, objects_ns(o, i), origin, o->owners ? o->owners[i] : -1, s->admin_gid,
                                      err))
            return false;
    }
    /* Filters. */
    for (size_t i = 0; i < o->ninstances; i++) {
        wmi_object *x = o->instances[i];
        const char *origin = json_string_value(json_array_get(o->origins, i));
        if (!wmi_object_isa(x, "__EventFilter"))
            continue;
        const char *name = str_prop(x, "Name");
        const char *lang = str_prop(x, "QueryLanguage");
        const char *text = str_prop(x, "Query");
        if (name == NULL || name[0] == '\0')
            return config_fail(err, WBEM_E_NO_KEY, origin, "Name: an __EventFilter needs a Name");
        const char *ns = objects_ns(o, i);
        char *key = filter_key(ns, name);
        if (key == NULL)
            return config_fail(err, WBEM_E_OUT_OF_MEMORY, origin, "out of memory");
        if (json_object_get(filter_names, key) != NULL) {
            free(key);
            return config_fail(err, WBEM_E_ALREADY_EXISTS, origin, "Name: filter \"%s\" is defined twice", name);
        }
        json_object_set_new(filter_names, key, json_integer((json_int_t)r->nfilters));
        free(key);
        if (lang == NULL || strcasecmp(lang, "WQL") != 0)
            return config_fail(err, WBEM_E_INVALID_QUERY_TYPE, origin, "QueryLanguage: \"%s\" is not \"WQL\"",
                        lang ? lang : "NULL");
        if (text == NULL)
            return config_fail(err, WBEM_E_INVALID_QUERY, origin, "Query: the filter has no query");
        const char *ens = str_prop(x, "EventNamespace");
        char *event_ns = ens != NULL && ens[0] != '\0' ? ns_normalize(ens) : NULL;
        if (event_ns != NULL && !ns_exists(o->namespaces, event_ns)) {
            config_fail(err, WBEM_E_INVALID_NAMESPACE, origin, "EventNamespace: namespace %s does not exist",
                        event_ns);
            free(event_ns);
            return false;
        }
        wmi_query *q;
        wmi_error qerr;
        if (WMI_FAILED(wmi_query_parse(text, o->schema, &q, &qerr))) {
            free(event_ns);
            err->status = qerr.status;
            err->line = 0;
            err->column = qerr.column;
            snprintf(err->source, sizeof err->source, "%s", origin);
            snprintf(err->text, sizeof err->text, "Query, column %d: %.280s", qerr.column, qerr.text);
            return false;
        }
        if (!intrinsic_check_filter(o->schema, q, &qerr)) {
            wmi_query_free(q);
            free(event_ns);
            return config_fail(err, qerr.status, origin, "%s", qerr.text);
        }
        /* The query's classes are those of the namespace its events come
         * from: EventNamespace, or the filter's own. */
        const char *qns = event_ns != NULL ? event_ns : ns;
        const char *qcls[] = {wmi_query_class(q), wmi_query_isa_target(q)};
        for (size_t k = 0; k < 2; k++) {
            if (qcls[k] != NULL && !ns_class_in(o->class_ns, qcls[k], qns)) {
                config_fail(err, WBEM_E_INVALID_CLASS, origin,
                            "Query: class %s is in namespace %s, not in %s%s", qcls[k],
                            ns_class_home(o->class_ns, qcls[k]), qns,
                            event_ns == NULL ? " (EventNamespace names where events come from)" : "");
                wmi_query_free(q);
                free(event_ns);
                return false;
            }
        }
        /* WITHIN means nothing for extrinsic events, nor for the repository's
         * objects, whose changes the daemon raises itself (as WMI does): it is
         * worth a word only for the former. */
        const char *isa = wmi_query_isa_target(q);
        const wmi_class *isa_cls = isa ? wmi_schema_get_class(o->schema, isa) : NULL;
        if (wmi_query_within(q) >= 0 && !intrinsic_needs_polling(o->schema, q) &&
            (intrinsic_event_kinds(o->schema, q) == 0 || isa_cls == NULL || !repository_holds(isa_cls)))
            log_warnx("%s: Query: WITHIN has no effect here (no instance provider serves the target class); "
                      "the filter receives only the events providers indicate",
                      origin);
        struct wmid_filter *f = &r->filters[r->nfilters++];
        f->name = strdup(name);
        f->ns = strdup(ns);
        f->qname = ns_qualify(ns, name);
        {
            char *rel = wmi_object_get_path(x);
            f->path = ns_qualify(ns, rel);
            free(rel);
        }
        f->query = q;
        creator_of(creators, o->owners ? o->owners[i] : -1, &f->creator);
        f->event_ns = event_ns;
        const char *access = str_prop(x, "EventAccess");
        if (access != NULL) {
            wmi_error serr;
            f->event_access = sec_descriptor_parse(access, &serr);
            if (f->event_access == NULL) {
                err->status = serr.status;
                err->line = 0;
                err->column = serr.column;
                snprintf(err->source, sizeof err->source, "%s", origin);
                snprintf(err->text, sizeof err->text, "EventAccess, column %d: %.200s", serr.column, serr.text);
                return false;
            }
        }
        /* Two filters whose names map to one aggregate class ("a-b" and
         * "a_b") would share it, and one BY list would not fit the other's
         * events.  (Kept in filter_names: its filter keys hold a ':', these
         * never do.) */
        if (wmi_query_group_by_count(q) > 0) {
            char aname[300];
            aggregate_class_name(f, aname, sizeof aname);
            for (char *p = aname; *p != '\0'; p++)
                *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
            if (json_object_get(filter_names, aname) != NULL)
                return config_fail(err, WBEM_E_ALREADY_EXISTS, origin,
                                   "Name: filter \"%s\" would share its aggregate class with another filter "
                                   "(names that differ only in characters other than letters and digits); "
                                   "rename one of them", f->qname);
            json_object_set_new(filter_names, aname, json_true());
        }
        if (wmi_query_group_within(q) >= 0 && !aggregate_define_class(r->schema, f, err)) {
            snprintf(err->source, sizeof err->source, "%s", origin);
            return false;
        }
    }
    /* Bindings. */
    for (size_t i = 0; i < o->ninstances; i++) {
        wmi_object *x = o->instances[i];
        const char *origin = json_string_value(json_array_get(o->origins, i));
        if (!wmi_object_isa(x, "__FilterToConsumerBinding"))
            continue;
        const char *fpath = str_prop(x, "Filter");
        const char *cpath = str_prop(x, "Consumer");
        char *cls = NULL;
        json_t *keys = NULL;
        struct wmid_filter *f = NULL;
        struct wmid_consumer *c = NULL;
        if (fpath == NULL)
            return config_fail(err, WBEM_E_INVALID_OBJECT_PATH, origin, "Filter: the binding names no filter");
        if (cpath == NULL)
            return config_fail(err, WBEM_E_INVALID_OBJECT_PATH, origin, "Consumer: the binding names no consumer");
        /* Paths relative to the binding's namespace, or naming one. */
        const char *bns = objects_ns(o, i);
        char *fns = NULL, *cns = NULL;
        const char *frel = ns_split_path(fpath, &fns), *crel = ns_split_path(cpath, &cns);
        if (WMI_SUCCEEDED(wmi_path_parse(frel, &cls, &keys))) {
            const char *fname = path_name_key(keys);
            json_t *fi = NULL;
            char *key = fname != NULL ? filter_key(fns != NULL ? fns : bns, fname) : NULL;
            if (key != NULL)
                fi = json_object_get(filter_names, key);
            free(key);
            if (fi != NULL)
                f = &r->filters[json_integer_value(fi)];
        }
        free(cls);
        json_decref(keys);
        if (WMI_SUCCEEDED(wmi_path_parse(crel, &cls, &keys))) {
            const char *cname = path_name_key(keys);
            for (size_t j = 0; cname && j < r->nconsumers; j++) {
                const char *n = str_prop(r->consumers[j]->logical, "Name");
                if (n != NULL && strcasecmp(n, cname) == 0 &&
                    strcasecmp(r->consumers[j]->ns, cns != NULL ? cns : bns) == 0 &&
                    wmi_class_isa(wmi_object_class(r->consumers[j]->logical), cls))
                    c = r->consumers[j];
            }
        }
        free(cls);
        json_decref(keys);
        free(fns);
        free(cns);
        if (f == NULL)
            return config_fail(err, WBEM_E_NOT_FOUND, origin, "Filter: no __EventFilter matches %s", fpath);
        if (c == NULL)
            return config_fail(err, WBEM_E_NOT_FOUND, origin, "Consumer: no logical consumer matches %s", cpath);
        for (size_t j = 0; j < r->nbindings; j++)
            if (r->bindings[j].filter == f && r->bindings[j].consumer == c)
                return config_fail(err, WBEM_E_ALREADY_EXISTS, origin,
                            "a binding of filter \"%s\" to %s is defined twice", f->qname, c->path);
        struct wmid_binding *b = &r->bindings[r->nbindings++];
        {
            char *rel = wmi_object_get_path(x);
            b->path = ns_qualify(bns, rel);
            free(rel);
        }
        b->filter = f;
        b->consumer = c;
        bool slow = false, sync = false;
        uint64_t qos = 1;
        wmi_object_get_boolean(x, "SlowDownProviders", &slow);
        b->slow_down = slow;
        check_binding_rights(r, s, creators, b, o->owners ? o->owners[i] : -1, origin);
        /* DeliverSynchronously = TRUE overrides DeliveryQoS; QoS 0 is
         * WMIMSG_FLAG_QOS_SYNCHRONOUS. */
        wmi_object_get_boolean(x, "DeliverSynchronously", &sync);
        if (!sync && wmi_object_get_uint64(x, "DeliveryQoS", &qos) == WBEM_S_NO_ERROR && qos == 0)
            sync = true;
        if (sync && c->provider != NULL && hosting_is_isolated(c->provider->hosting_model)) {
            /* A call into another process can take up to its hard limit
             * and a restart: never on the indicating thread. */
            log_warnx("%s: DeliverSynchronously is ignored: provider %s runs in a host process (HostingModel "
                      "\"%s\"); delivered asynchronously",
                      origin, c->provider->name, c->provider->hosting_model);
            sync = false;
        }
        b->synchronous = sync;
        struct wmid_binding **nbs = realloc(f->bindings, (f->nbindings + 1) * sizeof *nbs);
        if (nbs == NULL)
            return config_fail(err, WBEM_E_OUT_OF_MEMORY, origin, "out of memory");
        f->bindings = nbs;
        f->bindings[f->nbindings++] = b;
    }
    /* Class index over every class of the schema. */
    size_t ncls = 0;
    wmi_schema_foreach_class(o->schema, count_class, &ncls);
    r->index_cap = 16;
    while (r->index_cap < ncls * 2)
        r->index_cap *= 2;
    r->index = calloc(r->index_cap, sizeof *r->index);
    if (r->index == NULL)
        return config_fail(err, WBEM_E_OUT_OF_MEMORY, "", "out of memory");
    struct index_build ib = {r, calloc(r->nfilters + 1, sizeof *ib.from), 0,
                             calloc(r->nfilters + 1, sizeof *ib.found), true};
    if (ib.from == NULL || ib.found == NULL) {
        free(ib.from);
        free(ib.found);
        return config_fail(err, WBEM_E_OUT_OF_MEMORY, "", "out of memory");
    }
    for (size_t i = 0; i < r->nfilters; i++) {
        const wmi_class *fc = wmi_schema_get_class(o->schema, wmi_query_class(r->filters[i].query));
        if (fc != NULL)
            ib.from[ib.nfrom++] = (struct from_entry){fc, i};
    }
    qsort(ib.from, ib.nfrom, sizeof *ib.from, from_cmp);
    wmi_schema_foreach_class(o->schema, index_add_class, &ib);
    free(ib.from);
    free(ib.found);
    if (!ib.ok)
        return config_fail(err, WBEM_E_OUT_OF_MEMORY, "", "out of memory");
    return true;
}

/* A reload: filters with the same name and query keep their counters and
 * their open GROUP windows, and the router its totals. */
static void
take_over(struct wmid_router *r, struct wmid_router *prev)
{
    for (size_t i = 0; i < r->nfilters; i++) {
        struct wmid_filter *f = &r->filters[i];
        for (size_t j = 0; j < prev->nfilters; j++) {
            struct wmid_filter *old = &prev->filters[j];
            if (strcasecmp(old->name, f->name) != 0 || strcmp(old->ns, f->ns) != 0)
                continue;
            char *a = wmi_query_to_string(old->query), *b = wmi_query_to_string(f->query);
            if (a != NULL && b != NULL && strcmp(a, b) == 0) {
                atomic_store(&f->matched, atomic_load(&old->matched));
                if (old->agg != NULL && wmi_query_group_within(f->query) >= 0) {
                    f->agg = old->agg;
                    old->agg = NULL;
                    aggregate_rebind(f->agg, r, f);
                }
            }
            free(a);
            free(b);
            break;
        }
    }
    atomic_store(&r->stats.received, atomic_load(&prev->stats.received));
    atomic_store(&r->stats.routed, atomic_load(&prev->stats.routed));
    atomic_store(&r->stats.deliveries, atomic_load(&prev->stats.deliveries));
    atomic_store(&r->stats.dropped, atomic_load(&prev->stats.dropped));
    atomic_store(&r->stats.system_events, atomic_load(&prev->stats.system_events));
}

struct wmid_router *
router_new_from(const struct wmid_objects *o, const struct wmid_settings *s, struct wmid_delivery *d,
                struct wmid_router *prev, wmi_error *err)
{
    struct wmid_router *r = calloc(1, sizeof *r);
    if (r == NULL) {
        config_fail(err, WBEM_E_OUT_OF_MEMORY, "", "out of memory");
        return NULL;
    }
    r->schema = wmi_schema_ref(o->schema);
    r->namespaces = json_incref(o->namespaces);
    r->class_ns = json_incref(o->class_ns);
    r->delivery = d;
    r->prev = prev;
    bool ok = build(r, o, s, err);
    r->prev = NULL;
    if (!ok) {
        router_free(r);
        return NULL;
    }
    /* A first configuration shares nothing with a running one: commit at
     * once.  A reload's new router is committed by the caller
     * (router_commit) once everything else about it checked out. */
    if (prev == NULL)
        router_commit(r, NULL);
    return r;
}

void
router_commit(struct wmid_router *r, struct wmid_router *prev)
{
    for (size_t i = 0; i < r->nproviders; i++) {
        struct wmid_provider *p = r->providers[i];
        if (r->regs[i] != p->registration) {
            wmi_object_unref(p->registration);
            p->registration = r->regs[i] != NULL ? wmi_object_ref(r->regs[i]) : NULL;
        }
        p->deadline_ms = r->deadlines[i];
    }
    if (prev != NULL)
        take_over(r, prev);
}

struct wmid_router *
router_new(const struct wmid_objects *o, const struct wmid_settings *s, struct wmid_delivery *d,
           wmi_error *err)
{
    return router_new_from(o, s, d, NULL, err);
}

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
                     (p->status == WBEM_E_PROVIDER_NOT_FOUND || p->status == WBEM_S_FALSE);
        if (!used) {
            p->status = WBEM_S_FALSE;
            snprintf(p->message, sizeof p->message, "not loaded: no logical consumer uses it");
        } else if (fresh) {
            p->status = WBEM_S_FALSE;
            snprintf(p->message, sizeof p->message,
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
    lifecycle_kick();
    return true;
}

/*
 * Give @c a physical consumer: load its provider if it is not loaded, then
 * FindConsumer, unless a failure of either is still backing off.  Loop
 * thread.
 */
static bool
ensure_attached(struct wmid_router *r, struct wmid_consumer *c)
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
    lifecycle_kick();
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
            ensure_attached(r, r->consumers[j]);
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
        p->status = WBEM_S_FALSE;
        snprintf(p->message, sizeof p->message,
                 "unloaded when idle (ClearAfter %llu ms); it loads again at the next event for one of its "
                 "consumers",
                 (unsigned long long)r->cc.provider_ms);
    }
    uint64_t ev = eventprov_sweep_idle(r, r->cc.event_provider_ms, now);
    return ev < next ? ev : next;
}

void
router_free(struct wmid_router *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->index_cap; i++)
        free(r->index[i].filters);
    free(r->index);
    for (size_t i = 0; i < r->nbindings; i++)
        free(r->bindings[i].path);
    free(r->bindings);
    for (size_t i = 0; i < r->nfilters; i++) {
        aggregate_free(r->filters[i].agg);
        sec_descriptor_free(r->filters[i].event_access);
        free(r->filters[i].event_ns);
        free(r->filters[i].ns);
        free(r->filters[i].qname);
        free(r->filters[i].name);
        free(r->filters[i].path);
        free(r->filters[i].bindings);
        wmi_query_free(r->filters[i].query);
    }
    free(r->filters);
    for (size_t i = 0; i < r->nconsumers; i++)
        consumer_unref(r, r->consumers[i]);
    free(r->consumers);
    for (size_t i = 0; i < r->nproviders; i++) {
        provider_unref(r->providers[i]);
        wmi_object_unref(r->ev_regs[i]);
        free(r->ev_ns[i]);
    }
    free(r->ev_ns);
    json_decref(r->namespaces);
    json_decref(r->class_ns);
    free(r->providers);
    free(r->ev_regs);
    free(r->ev_ids);
    for (size_t i = 0; r->regs != NULL && i < r->nproviders; i++)
        wmi_object_unref(r->regs[i]);
    free(r->regs);
    free(r->deadlines);
    wmi_schema_free(r->schema);
    free(r);
}

/* ====================================================================
 * Routing
 * ==================================================================== */

/* A filter matched: count the event into its GROUP window, or queue it for
 * each of its bindings. */
static bool deliver_bindings(struct wmid_router *r, struct wmid_filter *f, wmi_object *ev, size_t size_hint,
                             unsigned flags);

static bool
deliver(struct wmid_router *r, struct wmid_filter *f, wmi_object *ev, size_t size_hint, unsigned flags)
{
    atomic_fetch_add_explicit(&f->matched, 1, memory_order_relaxed);
    if (f->agg != NULL) {
        aggregate_add(f->agg, ev);
        return false;
    }
    if (wmi_query_select_count(f->query) > 0) {
        /* SELECT A, B: the consumers see only the selected properties. */
        wmi_object *p;
        if (WMI_SUCCEEDED(wmi_query_project(f->query, ev, &p))) {
            bool pause = deliver_bindings(r, f, p, size_hint, flags);
            wmi_object_unref(p);
            return pause;
        }
    }
    return deliver_bindings(r, f, ev, size_hint, flags);
}

/* A synchronous binding's call overran its deadline: asynchronous from
 * now on (WMI's advice: only fast consumers belong there). */
static void
demote(struct wmid_binding *b)
{
    if (!atomic_exchange(&b->demoted, true))
        log_warnx("binding %s: a synchronous IndicateToConsumer missed its deadline; the binding is delivered "
                  "asynchronously from now on",
                  b->path);
}

bool
router_deliver_bindings(struct wmid_router *r, struct wmid_filter *f, wmi_object *ev, size_t size_hint)
{
    return deliver_bindings(r, f, ev, size_hint, 0);
}

static bool
deliver_bindings(struct wmid_router *r, struct wmid_filter *f, wmi_object *ev, size_t size_hint, unsigned pflags)
{
    bool pause = false;
    for (size_t j = 0; j < f->nbindings; j++) {
        struct wmid_binding *b = f->bindings[j];
        unsigned flags = pflags | (b->slow_down ? WMID_PUSH_SLOW_DOWN : 0);
        enum wmid_push_result res;
        /* The first event for a consumer (or the first since its physical
         * consumer idled out): attach it before the push, so that this
         * event is queued, after every earlier one, rather than dropped.
         * Only the loop thread loads; the daemon routes nowhere else. */
        /* An inactive binding must not even load its provider: that would
         * hand a refused logical consumer to the plugin. */
        if (b->inactive != WBEM_S_NO_ERROR)
            continue;
        if (b->consumer->sink == NULL && r->lazy && pthread_equal(pthread_self(), r->loop_thread))
            ensure_attached(r, b->consumer);
        if (b->synchronous && !atomic_load_explicit(&b->demoted, memory_order_relaxed)) {
            bool late = false;
            res = delivery_call(r->delivery, b->consumer, ev, size_hint, flags, &late);
            if (late)
                demote(b);
        } else {
            res = delivery_push(r->delivery, b->consumer, ev, size_hint, flags);
        }
        if (res == PUSH_DROPPED) {
            atomic_fetch_add_explicit(&r->stats.dropped, 1, memory_order_relaxed);
        } else {
            atomic_fetch_add_explicit(&r->stats.deliveries, 1, memory_order_relaxed);
            pause |= res == PUSH_QUEUED_FULL;
        }
    }
    return pause;
}

bool
router_indicate(struct wmid_router *r, wmi_object *ev, size_t size_hint)
{
    return router_indicate_from(r, ev, size_hint, 0, NULL);
}

bool
router_indicate_flags(struct wmid_router *r, wmi_object *ev, size_t size_hint, unsigned flags)
{
    return router_indicate_from(r, ev, size_hint, flags, NULL);
}

bool
router_filter_accepts(const struct wmid_filter *f, const struct wmid_source *src)
{
    if (f->inactive != WBEM_S_NO_ERROR)
        return false;
    if (f->event_ns != NULL && strcasecmp(f->event_ns, src != NULL && src->ns != NULL ? src->ns : WMID_NS_EVENTS) != 0)
        return false;
    if (src == NULL)
        return true;
    /* The daemon's own sources (no publisher) are not subject to EventAccess. */
    if (f->event_access != NULL && src->publisher != NULL &&
        !sec_descriptor_allows(f->event_access, src->publisher, SEC_RIGHT_PUBLISH))
        return false;
    return src->sink_sd == NULL || sec_descriptor_allows(src->sink_sd, &f->creator, SEC_RIGHT_SUBSCRIBE);
}

/* The temporary consumers' hook (router_set_temp_hook): not in the
 * snapshot, so that it outlives a reload. */
static wmid_temp_hook temp_hook;
static void *temp_hook_arg;
static const char *const *temp_classes;
static size_t ntemp_classes;

void
router_set_temp_classes(const char *const *names, size_t n)
{
    temp_classes = names;
    ntemp_classes = n;
}

size_t
router_temp_classes(const char *const **names)
{
    *names = temp_classes;
    return ntemp_classes;
}

void
router_set_temp_hook(wmid_temp_hook fn, void *arg)
{
    temp_hook_arg = arg;
    temp_hook = fn;
}

bool
router_indicate_from(struct wmid_router *r, wmi_object *ev, size_t size_hint, unsigned flags,
                     const struct wmid_source *src)
{
    bool pause = false, routed = false;
    atomic_fetch_add_explicit(&r->stats.received, 1, memory_order_relaxed);
    const struct index_slot *slot = index_find(r, wmi_object_class(ev));
    for (size_t i = 0; i < slot->n; i++) {
        struct wmid_filter *f = slot->filters[i];
        if (f->polled || (f->inactive != WBEM_S_NO_ERROR) ||
            ((src != NULL || f->event_access != NULL || f->event_ns != NULL) && !router_filter_accepts(f, src)) ||
            !wmi_query_evaluate_where(f->query, ev))
            continue;
        routed = true;
        pause |= deliver(r, f, ev, size_hint, flags);
    }
    if (temp_hook != NULL)
        temp_hook(temp_hook_arg, ev, src);
    if (routed)
        atomic_fetch_add_explicit(&r->stats.routed, 1, memory_order_relaxed);
    return pause;
}

bool
router_indicate_filter(struct wmid_router *r, struct wmid_filter *f, wmi_object *ev, size_t size_hint)
{
    atomic_fetch_add_explicit(&r->stats.received, 1, memory_order_relaxed);
    if (!wmi_query_evaluate(f->query, ev))
        return false;
    atomic_fetch_add_explicit(&r->stats.routed, 1, memory_order_relaxed);
    return deliver(r, f, ev, size_hint, 0);
}

/* ====================================================================
 * System events: what the delivery engine could not deliver
 * ==================================================================== */

void
router_raise(struct wmid_router *r, struct wmid_system_event *se)
{
    if (se == NULL) {
        router_flush(r); /* the end of a burst of reports */
        return;
    }
    static const char *const classes[] = {
        [WMID_SE_CONSUMER_FAILURE] = "__ConsumerFailureEvent",
        [WMID_SE_QUEUE_OVERFLOW] = "__EventQueueOverflowEvent",
        [WMID_SE_DROPPED] = "__EventDroppedEvent",
    };
    const wmi_class *cls = wmi_schema_get_class(r->schema, classes[se->kind]);
    wmi_object *ev = NULL;
    /* Build the event only when a filter, or a temporary subscription,
     * could take it. */
    if (cls != NULL && (index_find(r, cls)->n > 0 || temp_hook != NULL) &&
        WMI_SUCCEEDED(wmi_object_new(r->schema, classes[se->kind], &ev))) {
        if (se->event != NULL)
            wmi_object_put_object(ev, "Event", se->event);
        /* The consumer's namespace is where the report is raised, and its
         * path names it. */
        if (se->consumer_path != NULL)
            wmi_object_put_string(ev, "IntendedConsumer", se->consumer_path);
        if (se->kind == WMID_SE_CONSUMER_FAILURE) {
            wmi_object_put_uint64(ev, "ErrorCode", se->code);
            wmi_object_put_string(ev, "ErrorDescription", se->description);
        } else if (se->kind == WMID_SE_QUEUE_OVERFLOW) {
            wmi_object_put_uint64(ev, "CurrentQueueSize", se->queue_bytes > UINT32_MAX ? UINT32_MAX : se->queue_bytes);
        }
        wmi_object_put_uint64(ev, "TIME_CREATED", wmi_time_created_now());
        struct wmid_source here = {NULL, NULL, se->ns[0] != '\0' ? se->ns : WMID_NS_DEFAULT};
        router_indicate_from(r, ev, 512, 0, &here);
        wmi_object_unref(ev);
    }
    atomic_fetch_add_explicit(&r->stats.system_events, 1, memory_order_relaxed);
    wmi_object_unref(se->event);
    wmi_object_unref(se->logical);
    free(se->consumer_path);
}

void
router_start(struct wmid_router *r, uv_loop_t *loop)
{
    for (size_t i = 0; i < r->nfilters; i++)
        if (wmi_query_group_within(r->filters[i].query) >= 0 && r->filters[i].agg == NULL)
            r->filters[i].agg = aggregate_new(loop, r, &r->filters[i]);
}

struct wmid_provider *
router_provider_at(struct wmid_router *r, size_t i)
{
    return i < r->nproviders ? r->providers[i] : NULL;
}

wmi_object *
router_provider_events(struct wmid_router *r, size_t i, const struct sec_identity **publisher, const char **ns)
{
    if (i >= r->nproviders)
        return NULL;
    if (publisher != NULL)
        *publisher = &r->ev_ids[i];
    if (ns != NULL)
        *ns = r->ev_ns[i];
    return r->ev_regs[i];
}

bool
router_has_namespace(const struct wmid_router *r, const char *ns)
{
    return ns_exists(r->namespaces, ns);
}

bool
router_class_in(const struct wmid_router *r, const char *cls, const char *ns)
{
    return ns_class_in(r->class_ns, cls, ns);
}

const char *
router_class_home(const struct wmid_router *r, const char *cls)
{
    return ns_class_home(r->class_ns, cls);
}

size_t
router_filter_count(const struct wmid_router *r)
{
    return r->nfilters;
}

struct wmid_filter *
router_filter_at(struct wmid_router *r, size_t i)
{
    return i < r->nfilters ? &r->filters[i] : NULL;
}

void
router_flush(struct wmid_router *r)
{
    if (r->delivery != NULL)
        delivery_kick(r->delivery);
}

const wmi_schema *
router_schema(const struct wmid_router *r)
{
    return r->schema;
}

struct wmid_router_stats *
router_stats(struct wmid_router *r)
{
    return &r->stats;
}

json_t *
router_stats_json(struct wmid_router *r)
{
    json_t *out = json_object();
    json_object_set_new(out, "events",
                        json_pack("{sIsIsIsIsI}", "received", (json_int_t)atomic_load(&r->stats.received),
                                  "routed", (json_int_t)atomic_load(&r->stats.routed), "queued",
                                  (json_int_t)atomic_load(&r->stats.deliveries), "dropped",
                                  (json_int_t)atomic_load(&r->stats.dropped), "system_events",
                                  (json_int_t)atomic_load(&r->stats.system_events)));
    json_t *filters = json_object();
    for (size_t i = 0; i < r->nfilters; i++) {
        char *q = wmi_query_to_string(r->filters[i].query);
        struct wmid_filter *f = &r->filters[i];
        json_t *fo = json_pack("{sssIsIssss}", "query", q ? q : "", "matched", (json_int_t)atomic_load(&f->matched),
                               "bindings", (json_int_t)f->nbindings, "state",
                               f->inactive != WBEM_S_NO_ERROR ? "inactive" : "active", "creator", f->creator.sid);
        if (f->inactive != WBEM_S_NO_ERROR)
            json_object_set_new(fo, "status", json_string(wmi_status_name(f->inactive) ? wmi_status_name(f->inactive) : "error"));
        if (f->event_ns != NULL)
            json_object_set_new(fo, "event_namespace", json_string(f->event_ns));
        if (f->event_access != NULL) {
            char *sd = sec_descriptor_to_string(f->event_access);
            json_object_set_new(fo, "event_access", json_string(sd ? sd : ""));
            free(sd);
        }
        /* Keyed by name, qualified outside the default namespace as paths
         * are (qname). */
        json_object_set_new(filters, f->qname ? f->qname : f->name, fo);
        free(q);
    }
    json_object_set_new(out, "filters", filters);
    json_t *consumers = json_object();
    for (size_t i = 0; i < r->nconsumers; i++) {
        struct wmid_consumer *c = r->consumers[i];
        unsigned le = atomic_load(&c->stats.last_error);
        json_t *o = r->delivery != NULL ? delivery_consumer_stats_json(r->delivery, c) : json_object();
        json_object_set_new(o, "provider", json_string(c->provider ? c->provider->name : ""));
        json_object_set_new(o, "attached", json_boolean(c->sink != NULL));
        json_object_set_new(o, "finds", json_integer((json_int_t)c->finds));
        json_object_set_new(o, "releases", json_integer((json_int_t)c->releases));
        if (le != 0)
            json_object_set_new(o, "last_error", json_string(wmi_status_name(le) ? wmi_status_name(le) : "unknown"));
        json_object_set_new(consumers, c->path, o);
    }
    json_t *bindings = json_object();
    for (size_t i = 0; i < r->nbindings; i++) {
        struct wmid_binding *b = &r->bindings[i];
        const char *mode = b->inactive != WBEM_S_NO_ERROR ? "inactive"
                           : !b->synchronous          ? "asynchronous"
                           : atomic_load(&b->demoted) ? "demoted"
                                                      : "synchronous";
        json_t *bo = json_pack("{sssssssb}", "filter", b->filter->qname ? b->filter->qname : b->filter->name, "consumer", b->consumer->path, "mode", mode,
                               "slow_down_providers", b->slow_down);
        if (b->inactive != WBEM_S_NO_ERROR) {
            json_object_set_new(bo, "status", json_string(wmi_status_name(b->inactive)));
            json_object_set_new(bo, "reason", json_string(b->why));
        }
        json_object_set_new(bindings, b->path ? b->path : "", bo);
    }
    json_object_set_new(out, "bindings", bindings);
    json_object_set_new(out, "consumers", consumers);
    json_t *providers = json_object();
    for (size_t i = 0; i < r->nproviders; i++) {
        struct wmid_provider *p = r->providers[i];
        uint64_t last = p->life.last_used_ms, sinks_last = 0;
        size_t nsinks = r->delivery != NULL ? delivery_provider_sinks(r->delivery, p, &sinks_last) : 0;
        if (sinks_last > last)
            last = sinks_last;
        const char *state = p->loaded ? "loaded" : p->life.unloaded_idle ? "unloaded when idle" : "not loaded";
        json_object_set_new(providers, p->name,
                            json_pack("{sssssssIsssIsIsosI}", "state", state, "library", p->library ? p->library : "",
                                      "status", wmi_status_name(p->status) ? wmi_status_name(p->status) : "unknown",
                                      "status_code", (json_int_t)p->status, "message", p->message, "loads",
                                      (json_int_t)p->life.loads, "unloads", (json_int_t)p->life.unloads,
                                      "last_used", wmid_moment_json(last), "sinks", (json_int_t)nsinks));
        if (!p->loaded && p->life.retry_at_ms > wmid_now_ms())
            json_object_set_new(json_object_get(providers, p->name), "retry_in_ms",
                                json_integer((json_int_t)(p->life.retry_at_ms - wmid_now_ms())));
        json_t *host = hosting_stats_json(p);
        if (host != NULL)
            json_object_set_new(json_object_get(providers, p->name), "host", host);
        json_t *evs = eventprov_stats_json(p);
        if (evs != NULL)
            json_object_set_new(json_object_get(providers, p->name), "event_provider", evs);
    }
    json_object_set_new(out, "providers", providers);
    return out;
}
