/*
 * subscriptions.c - the routing snapshot, built from the loaded objects.
 *
 * Built once per configuration (start, reload) into an immutable snapshot:
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
 * Anything dangling is refused at load with the object named.  A reload
 * takes over what did not change (providers, logical consumers, filter
 * counters and GROUP windows) from the snapshot it replaces.
 */
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/wmieventd.h"
#include "daemon/config/config.h"
#include "daemon/engine/internal.h"
#include "daemon/engine/engine.h"
#include "daemon/log.h"
#include "daemon/plugins/plugins.h"

/* ====================================================================
 * The class index
 * ==================================================================== */

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
    struct index_slot *slot = snapshot_index_find(r, cls);
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
        if (!r->providers[i]->run_as && strcasecmp(r->providers[i]->name, name) == 0)
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
    if (p->ev_release != NULL)
        p->ev_release(p); /* its event side (providers/eventprov.c) */
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
        wmid_fail(err, WBEM_E_INVALID_PROVIDER_REGISTRATION, origin,
                    "Provider: expected a path such as __Win32Provider.Name=\"X\"");
    else if ((p = find_provider(r, pname)) == NULL)
        wmid_fail(err, WBEM_E_PROVIDER_NOT_FOUND, origin, "Provider: no __Win32Provider named \"%s\"", pname);
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
        return wmid_fail(err, WBEM_E_ALREADY_EXISTS, origin,
                           "Provider: provider \"%s\" has two __EventProviderRegistration instances", p->name);
    const json_t *list = NULL;
    wmi_object_get_json(x, "EventQueryList", &list, NULL);
    if (!json_is_array(list) || json_array_size(list) == 0)
        return wmid_fail(err, WBEM_E_UNINTERPRETABLE_PROVIDER_QUERY, origin,
                           "EventQueryList: the registration names no event class (give queries such as "
                           "\"SELECT * FROM MyEvent\")");
    size_t k;
    json_t *qv;
    json_array_foreach(list, k, qv) {
        wmi_query *q;
        wmi_error qerr;
        if (!json_is_string(qv) || WMI_FAILED(wmi_query_parse(json_string_value(qv), o->schema, &q, &qerr)))
            return wmid_fail(err, json_is_string(qv) ? WBEM_E_UNINTERPRETABLE_PROVIDER_QUERY : WBEM_E_TYPE_MISMATCH,
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
            return wmid_fail(err, WBEM_E_INVALID_CLASS, origin,
                               "EventQueryList[%zu]: class %s is in namespace %s, not in %s, where the provider's "
                               "events are raised", k, wmi_class_name(cls), ns_class_home(o->class_ns,
                                                                                       wmi_class_name(cls)), ns);
        if (!ok)
            return wmid_fail(err, WBEMESS_E_REGISTRATION_TOO_BROAD, origin,
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
    int64_t usec;
    if (wmi_interval_to_usec(v, &usec) != WBEM_S_NO_ERROR)
        return wmid_fail(err, WBEM_E_INVALID_PARAMETER, origin,
                           "ClearAfter: \"%s\" is not an interval (ddddddddHHMMSS.mmmmmm:000, for example "
                           "00000000000030.000000:000 for 30 seconds)",
                           v);
    uint64_t total = (uint64_t)usec / 1000;
    char least[26];
    if (total < WMID_MIN_CLEAR_MS)
        return wmid_fail(err, WBEM_E_VALUE_OUT_OF_RANGE, origin,
                           "ClearAfter: \"%s\" is shorter than the shortest interval accepted, %u ms (%s)",
                           v, WMID_MIN_CLEAR_MS,
                           wmi_interval_format((int64_t)WMID_MIN_CLEAR_MS * 1000, least));
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
                return wmid_fail(err, WBEM_E_ALREADY_EXISTS, origin,
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
        return wmid_fail(err, WBEM_E_OUT_OF_MEMORY, "", "out of memory");
    return ok;
}

/* What the builders of one snapshot share. */
struct build_ctx {
    struct wmid_router *r;
    const struct wmid_objects *o;
    const struct wmid_settings *s;
    json_t *filter_names;        /* filter key -> index; aggregate class names */
    json_t *class_provider;      /* consumer class -> provider index */
    struct creator_cache *creators;
    wmi_error *err;
};

/* Call @fn for every instance of @cls among the loaded objects, in file
 * order; stop at the first that fails. */
static bool
build_each(struct build_ctx *b, const char *cls, bool (*fn)(struct build_ctx *, size_t, wmi_object *, const char *))
{
    for (size_t i = 0; i < b->o->ninstances; i++) {
        wmi_object *x = b->o->instances[i];
        if (wmi_object_isa(x, cls) && !fn(b, i, x, json_string_value(json_array_get(b->o->origins, i))))
            return false;
    }
    return true;
}

/* The arrays of the snapshot, sized by a count of the objects. */
static bool
build_alloc(struct wmid_router *r, const struct wmid_objects *o, wmi_error *err)
{
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
    /* Each logical consumer may add a provider record of its creator's
     * identity (identity_provider). */
    size_t npc = np + nc + 1;
    r->providers = calloc(npc, sizeof *r->providers);
    r->ev_regs = calloc(npc, sizeof *r->ev_regs);
    r->ev_ids = calloc(npc, sizeof *r->ev_ids);
    r->ev_ns = calloc(npc, sizeof *r->ev_ns);
    r->regs = calloc(npc, sizeof *r->regs);
    r->deadlines = calloc(npc, sizeof *r->deadlines);
    r->consumers = calloc(nc + 1, sizeof *r->consumers);
    r->filters = calloc(nf + 1, sizeof *r->filters);
    r->live = calloc(nf + 1, sizeof *r->live);
    r->bindings = calloc(nb + 1, sizeof *r->bindings);
    if (!r->providers || !r->consumers || !r->filters || !r->bindings || !r->ev_regs || !r->ev_ids || !r->ev_ns || !r->regs ||
        !r->deadlines || !r->live)
        return wmid_fail(err, WBEM_E_OUT_OF_MEMORY, "", "out of memory");
    return true;
}

/* A __Win32Provider: a provider record, or the one a reload keeps (same Name, Library and HostingModel). */
static bool
build_provider(struct build_ctx *b, size_t i, wmi_object *x, const char *origin)
{
    struct wmid_router *r = b->r;
    const struct wmid_settings *s = b->s;
    wmi_error *err = b->err;
    (void)i;
    const char *name = str_prop(x, "Name");
    const char *lib = str_prop(x, "Library");
    if (name == NULL || name[0] == '\0')
        return wmid_fail(err, WBEM_E_INVALID_PROVIDER_REGISTRATION, origin, "Name: a provider needs a Name");
    if (find_provider(r, name) != NULL)
        return wmid_fail(err, WBEM_E_ALREADY_EXISTS, origin, "Name: provider \"%s\" is defined twice", name);
    if (lib == NULL || lib[0] == '\0')
        return wmid_fail(err, WBEM_E_INVALID_PROVIDER_REGISTRATION, origin,
                    "Library: a __Win32Provider needs Library, the path of its .so (it replaces "
                    "WMI's CLSID)");
    char *library = resolve_library(s, lib);
    const char *hm = str_prop(x, "HostingModel");
    struct wmid_provider *p = find_provider(r->prev, name);
    if (library == NULL)
        return wmid_fail(err, WBEM_E_OUT_OF_MEMORY, origin, "out of memory");
    if (p != NULL && strcmp(p->library, library) == 0 && same_string(p->hosting_model, hm)) {
        /* The same code as before the reload: keep it loaded. */
        p->refs++;
        free(library);
    } else {
        p = calloc(1, sizeof *p);
        if (p == NULL) {
            free(library);
            return wmid_fail(err, WBEM_E_OUT_OF_MEMORY, origin, "out of memory");
        }
        p->refs = 1;
        p->name = strdup(name);
        p->library = library;
        p->hosting_model = hm != NULL ? strdup(hm) : NULL;
        wmi_error_set(&p->error, WBEM_E_PROVIDER_NOT_FOUND, p->name, 0, 0, "no __EventConsumerProviderRegistration names it");
    }
    uint64_t dl = 0;
    if (wmi_object_get_uint64(x, "DeadlineMs", &dl) == WBEM_S_NO_ERROR)
        r->deadlines[r->nproviders] = dl > 86400000 ? 86400000 : (unsigned)dl;
    r->providers[r->nproviders++] = p;
    return true;
}

/* An __EventConsumerProviderRegistration: its consumer classes go to its provider. */
static bool
build_registration(struct build_ctx *b, size_t i, wmi_object *x, const char *origin)
{
    struct wmid_router *r = b->r;
    const struct wmid_objects *o = b->o;
    json_t *class_provider = b->class_provider;
    wmi_error *err = b->err;
    (void)i;
    const char *ppath = str_prop(x, "provider");
    char *pclass = NULL;
    json_t *keys = NULL;
    const char *pname = NULL;
    if (ppath == NULL || WMI_FAILED(wmi_path_parse(ppath, &pclass, &keys)) ||
        (pname = path_name_key(keys)) == NULL) {
        free(pclass);
        json_decref(keys);
        return wmid_fail(err, WBEM_E_INVALID_PROVIDER_REGISTRATION, origin,
                    "Provider: expected a path such as __Win32Provider.Name=\"X\"");
    }
    struct wmid_provider *p = find_provider(r, pname);
    if (p == NULL) {
        wmid_fail(err, WBEM_E_PROVIDER_NOT_FOUND, origin, "Provider: no __Win32Provider named \"%s\"", pname);
        free(pclass);
        json_decref(keys);
        return false;
    }
    free(pclass);
    json_decref(keys);
    const json_t *names;
    wmi_object_get_json(x, "ConsumerClassNames", &names, NULL);
    if (!json_is_array(names) || json_array_size(names) == 0) {
        return wmid_fail(err, WBEM_E_INVALID_PROVIDER_REGISTRATION, origin,
                    "ConsumerClassNames: the registration names no consumer class");
    }
    size_t k;
    json_t *cn;
    json_array_foreach(names, k, cn) {
        const wmi_class *cc = wmi_schema_get_class(o->schema, json_string_value(cn));
        if (cc == NULL || !wmi_class_isa(cc, "__EventConsumer")) {
                return wmid_fail(err, WBEM_E_INVALID_CLASS, origin,
                        "ConsumerClassNames[%zu]: \"%s\" is not a class derived from __EventConsumer", k,
                        json_string_value(cn));
        }
        json_t *prev = json_object_get(class_provider, wmi_class_name(cc));
        if (prev != NULL) {
            wmid_fail(err, WBEM_E_ALREADY_EXISTS, origin,
                 "ConsumerClassNames[%zu]: class %s is already served by provider \"%s\"", k,
                 wmi_class_name(cc), r->providers[json_integer_value(prev)]->name);
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
    return true;
}

/*
 * Who a logical consumer created by @cid acts as (WMI's CreatorSID rule,
 * docs/security.md): a non-administrator as itself, its uid, primary gid
 * and groups; an administrator as the service identity consumer_user /
 * consumer_group when one is set, else as the daemon.  True with *@uid and
 * *@gid when that is not the daemon's own identity.
 */
static bool
consumer_identity(const struct wmid_settings *s, const struct sec_identity *cid, long *uid, long *gid)
{
    if (cid->admin) {
        if (s->consumer_uid <= 0)
            return false;
        *uid = s->consumer_uid;
        *gid = s->consumer_gid >= 0 ? s->consumer_gid : s->consumer_uid;
        return true;
    }
    if (cid->uid < 0) {
        *uid = *gid = WMID_RUN_UNKNOWN;
        return true;
    }
    struct passwd *pw = getpwuid((uid_t)cid->uid);
    *uid = cid->uid;
    *gid = pw != NULL ? (long)pw->pw_gid : cid->uid;
    return true;
}

/* The record of @base that acts as @uid/@gid: one per provider and
 * identity in a snapshot, kept over a reload like any provider, always
 * loaded in a host process of its own (hosting.c drops to the identity
 * before the plugin is loaded).  NULL: out of memory. */
static struct wmid_provider *
identity_provider(struct wmid_router *r, struct wmid_provider *base, long uid, long gid)
{
    for (size_t i = 0; i < r->nproviders; i++) {
        struct wmid_provider *p = r->providers[i];
        if (p->run_as && p->run_uid == uid && p->run_gid == gid && strcasecmp(p->name, base->name) == 0)
            return p;
    }
    size_t bi = 0;
    while (r->providers[bi] != base)
        bi++;
    struct wmid_provider *p = NULL;
    for (size_t i = 0; r->prev != NULL && i < r->prev->nproviders && p == NULL; i++) {
        struct wmid_provider *q = r->prev->providers[i];
        if (q->run_as && q->run_uid == uid && q->run_gid == gid && strcasecmp(q->name, base->name) == 0 &&
            strcmp(q->library, base->library) == 0 && same_string(q->hosting_model, base->hosting_model))
            p = q;
    }
    if (p != NULL) {
        p->refs++; /* the same code and identity as before the reload: keep it loaded */
    } else if ((p = calloc(1, sizeof *p)) != NULL) {
        p->refs = 1;
        p->name = strdup(base->name);
        p->library = strdup(base->library);
        p->hosting_model = base->hosting_model != NULL ? strdup(base->hosting_model) : NULL;
        p->run_as = true;
        p->run_uid = uid;
        p->run_gid = gid;
        p->error = base->error;
        if (p->name == NULL || p->library == NULL) {
            provider_unref(p);
            return NULL;
        }
    } else {
        return NULL;
    }
    r->regs[r->nproviders] = r->regs[bi] != NULL ? wmi_object_ref(r->regs[bi]) : NULL;
    r->deadlines[r->nproviders] = r->deadlines[bi];
    r->providers[r->nproviders++] = p;
    return p;
}

/* A logical consumer, tied to the provider of its class, or the one a reload keeps (an equal instance). */
static bool
build_consumer(struct build_ctx *b, size_t i, wmi_object *x, const char *origin)
{
    struct wmid_router *r = b->r;
    const struct wmid_objects *o = b->o;
    const struct wmid_settings *s = b->s;
    json_t *class_provider = b->class_provider;
    struct creator_cache *creators = b->creators;
    wmi_error *err = b->err;
    char *rel = wmi_object_get_path(x);
    char *path = ns_qualify(objects_ns(o, i), rel);
    free(rel);
    if (path == NULL) {
        return wmid_fail(err, WBEM_E_NO_KEY, origin, "Name: a logical consumer needs its key (Name)");
    }
    if (find_consumer(r, path) != NULL) {
        wmid_fail(err, WBEM_E_ALREADY_EXISTS, origin, "%s is defined twice", path);
        free(path);
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
        return wmid_fail(err, WBEM_E_PROVIDER_NOT_FOUND, origin,
                    "no __EventConsumerProviderRegistration lists class %s in ConsumerClassNames",
                    wmi_object_class_name(x));
    }
    struct sec_identity cid;
    long uid, gid;
    creator_of(creators, o->owners ? o->owners[i] : -1, &cid);
    if (consumer_identity(s, &cid, &uid, &gid) && (p = identity_provider(r, p, uid, gid)) == NULL) {
        free(path);
        return wmid_fail(err, WBEM_E_OUT_OF_MEMORY, origin, "out of memory");
    }
    struct wmid_consumer *c = find_consumer(r->prev, path);
    if (c != NULL && c->provider == p && json_equal((json_t *)wmi_object_json(c->logical),
                                                    (json_t *)wmi_object_json(x))) {
        /* Unchanged by the reload: keep its queue, sink and counters. */
        free(path);
        c->refs++;
        r->consumers[r->nconsumers++] = c;
        return true;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        free(path);
        return wmid_fail(err, WBEM_E_OUT_OF_MEMORY, origin, "out of memory");
    }
    c->refs = 1;
    snprintf(c->creator, sizeof c->creator, "%s", cid.sid);
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
    return true;
}

/* An __EventProviderRegistration: what an event provider supplies. */
static bool
build_event_registration(struct build_ctx *b, size_t i, wmi_object *x, const char *origin)
{
    struct wmid_router *r = b->r;
    const struct wmid_objects *o = b->o;
    const struct wmid_settings *s = b->s;
    wmi_error *err = b->err;
    if (!check_event_registration(r, o, x, objects_ns(o, i), origin, o->owners ? o->owners[i] : -1, s->admin_gid,
                                  err))
        return false;
    return true;
}

/*
 * A filter's query, compiled against the classes of the namespace its
 * events come from and checked by the instance providers' rules: a new
 * query, and *@event_ns_out its EventNamespace (new string or NULL); NULL
 * with @err filled.
 */
static wmi_query *
filter_query(struct build_ctx *b, wmi_object *x, const char *origin, const char *ns, const char *text,
             char **event_ns_out)
{
    struct wmid_router *r = b->r;
    const struct wmid_objects *o = b->o;
    wmi_error *err = b->err;
    const char *ens = str_prop(x, "EventNamespace");
    char *event_ns = ens != NULL && ens[0] != '\0' ? ns_normalize(ens) : NULL;
    if (event_ns != NULL && !ns_exists(o->namespaces, event_ns)) {
        wmid_fail(err, WBEM_E_INVALID_NAMESPACE, origin, "EventNamespace: namespace %s does not exist",
                    event_ns);
        free(event_ns);
        return NULL;
    }
    wmi_query *q;
    wmi_error qerr;
    if (WMI_FAILED(wmi_query_parse(text, o->schema, &q, &qerr))) {
        free(event_ns);
        wmi_error_set(err, qerr.status, origin, 0, qerr.column, "Query, column %d: %.280s", qerr.column, qerr.text);
        return NULL;
    }
    if (r->hooks.check_filter != NULL && !r->hooks.check_filter(o->schema, q, &qerr)) {
        wmi_query_free(q);
        free(event_ns);
        wmid_fail(err, qerr.status, origin, "%s", qerr.text);
        return NULL;
    }
    /* The query's classes are those of the namespace its events come
     * from: EventNamespace, or the filter's own. */
    const char *qns = event_ns != NULL ? event_ns : ns;
    const char *qcls[] = {wmi_query_class(q), wmi_query_isa_target(q)};
    for (size_t k = 0; k < 2; k++) {
        if (qcls[k] != NULL && !ns_class_in(o->class_ns, qcls[k], qns)) {
            wmid_fail(err, WBEM_E_INVALID_CLASS, origin,
                        "Query: class %s is in namespace %s, not in %s%s", qcls[k],
                        ns_class_home(o->class_ns, qcls[k]), qns,
                        event_ns == NULL ? " (EventNamespace names where events come from)" : "");
            wmi_query_free(q);
            free(event_ns);
            return NULL;
        }
    }
    /* WITHIN means nothing for extrinsic events, nor for the repository's
     * objects, whose changes the daemon raises itself (as WMI does): it is
     * worth a word only for the former. */
    if (wmi_query_within(q) >= 0 && r->hooks.within_has_effect != NULL &&
        !r->hooks.within_has_effect(o->schema, q))
        log_warnx("%s: Query: WITHIN has no effect here (no instance provider serves the target class); "
                  "the filter receives only the events providers indicate",
                  origin);
    *event_ns_out = event_ns;
    return q;
}

/* Two filters whose names map to one aggregate class ("a-b" and "a_b")
 * would share it, and one BY list would not fit the other's events.  (Kept
 * in filter_names: its filter keys hold a ':', these never do.) */
static bool
filter_group_class(struct build_ctx *b, const struct wmid_filter *f, const char *origin)
{
    char aname[300];
    aggregate_class_name(f, aname, sizeof aname);
    for (char *p = aname; *p != '\0'; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    if (json_object_get(b->filter_names, aname) != NULL)
        return wmid_fail(b->err, WBEM_E_ALREADY_EXISTS, origin,
                           "Name: filter \"%s\" would share its aggregate class with another filter "
                           "(names that differ only in characters other than letters and digits); "
                           "rename one of them", f->qname);
    json_object_set_new(b->filter_names, aname, json_true());
    return true;
}

/* An __EventFilter: its query compiled and checked. */
static bool
build_filter(struct build_ctx *b, size_t i, wmi_object *x, const char *origin)
{
    struct wmid_router *r = b->r;
    const struct wmid_objects *o = b->o;
    json_t *filter_names = b->filter_names;
    struct creator_cache *creators = b->creators;
    wmi_error *err = b->err;
    const char *name = str_prop(x, "Name");
    const char *lang = str_prop(x, "QueryLanguage");
    const char *text = str_prop(x, "Query");
    if (name == NULL || name[0] == '\0')
        return wmid_fail(err, WBEM_E_NO_KEY, origin, "Name: an __EventFilter needs a Name");
    const char *ns = objects_ns(o, i);
    char *key = filter_key(ns, name);
    if (key == NULL)
        return wmid_fail(err, WBEM_E_OUT_OF_MEMORY, origin, "out of memory");
    if (json_object_get(filter_names, key) != NULL) {
        free(key);
        return wmid_fail(err, WBEM_E_ALREADY_EXISTS, origin, "Name: filter \"%s\" is defined twice", name);
    }
    json_object_set_new(filter_names, key, json_integer((json_int_t)r->nfilters));
    free(key);
    if (lang == NULL || strcasecmp(lang, "WQL") != 0)
        return wmid_fail(err, WBEM_E_INVALID_QUERY_TYPE, origin, "QueryLanguage: \"%s\" is not \"WQL\"",
                    lang ? lang : "NULL");
    if (text == NULL)
        return wmid_fail(err, WBEM_E_INVALID_QUERY, origin, "Query: the filter has no query");
    char *event_ns = NULL;
    wmi_query *q = filter_query(b, x, origin, ns, text, &event_ns);
    if (q == NULL)
        return false;
    struct wmid_filter *f = &r->filters[r->nfilters];
    f->live = &r->live[r->nfilters++];
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
            wmi_error_set(err, serr.status, origin, 0, serr.column, "EventAccess, column %d: %.200s", serr.column,
                          serr.text);
            return false;
        }
    }
    if (wmi_query_group_by_count(q) > 0 && !filter_group_class(b, f, origin))
        return false;
    if (wmi_query_group_within(q) >= 0 && !aggregate_define_class(r->schema, f, err)) {
        wmi_error_set(err, err->status, origin, err->line, err->column, "%s", err->text);
        return false;
    }
    return true;
}

/* A __FilterToConsumerBinding: Filter and Consumer resolved, rights checked. */
static bool
build_binding(struct build_ctx *ctx, size_t i, wmi_object *x, const char *origin)
{
    struct wmid_router *r = ctx->r;
    const struct wmid_objects *o = ctx->o;
    const struct wmid_settings *s = ctx->s;
    json_t *filter_names = ctx->filter_names;
    struct creator_cache *creators = ctx->creators;
    wmi_error *err = ctx->err;
    const char *fpath = str_prop(x, "Filter");
    const char *cpath = str_prop(x, "Consumer");
    char *cls = NULL;
    json_t *keys = NULL;
    struct wmid_filter *f = NULL;
    struct wmid_consumer *c = NULL;
    if (fpath == NULL)
        return wmid_fail(err, WBEM_E_INVALID_OBJECT_PATH, origin, "Filter: the binding names no filter");
    if (cpath == NULL)
        return wmid_fail(err, WBEM_E_INVALID_OBJECT_PATH, origin, "Consumer: the binding names no consumer");
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
        return wmid_fail(err, WBEM_E_NOT_FOUND, origin, "Filter: no __EventFilter matches %s", fpath);
    if (c == NULL)
        return wmid_fail(err, WBEM_E_NOT_FOUND, origin, "Consumer: no logical consumer matches %s", cpath);
    for (size_t j = 0; j < r->nbindings; j++)
        if (r->bindings[j].filter == f && r->bindings[j].consumer == c)
            return wmid_fail(err, WBEM_E_ALREADY_EXISTS, origin,
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
    if (sync && c->provider != NULL && provider_is_hosted(c->provider)) {
        /* A call into another process can take up to its hard limit
         * and a restart: never on the indicating thread. */
        log_warnx("%s: DeliverSynchronously is ignored: provider %s runs in a host process (%s%s%s); "
                  "delivered asynchronously",
                  origin, c->provider->name, c->provider->run_as ? "as its consumer's creator" : "HostingModel \"",
                  c->provider->run_as ? "" : c->provider->hosting_model, c->provider->run_as ? "" : "\"");
        sync = false;
    }
    b->synchronous = sync;
    struct wmid_binding **nbs = realloc(f->bindings, (f->nbindings + 1) * sizeof *nbs);
    if (nbs == NULL)
        return wmid_fail(err, WBEM_E_OUT_OF_MEMORY, origin, "out of memory");
    f->bindings = nbs;
    f->bindings[f->nbindings++] = b;
    return true;
}

/* The class index over every class of the schema. */
static bool
build_index(struct wmid_router *r, const struct wmid_objects *o, wmi_error *err)
{
    /* Class index over every class of the schema. */
    size_t ncls = 0;
    wmi_schema_foreach_class(o->schema, count_class, &ncls);
    r->index_cap = 16;
    while (r->index_cap < ncls * 2)
        r->index_cap *= 2;
    r->index = calloc(r->index_cap, sizeof *r->index);
    if (r->index == NULL)
        return wmid_fail(err, WBEM_E_OUT_OF_MEMORY, "", "out of memory");
    struct index_build ib = {r, calloc(r->nfilters + 1, sizeof *ib.from), 0,
                             calloc(r->nfilters + 1, sizeof *ib.found), true};
    if (ib.from == NULL || ib.found == NULL) {
        free(ib.from);
        free(ib.found);
        return wmid_fail(err, WBEM_E_OUT_OF_MEMORY, "", "out of memory");
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
        return wmid_fail(err, WBEM_E_OUT_OF_MEMORY, "", "out of memory");
    return true;
}

static bool
build_objects(struct wmid_router *r, const struct wmid_objects *o, const struct wmid_settings *s,
              json_t *filter_names, struct creator_cache *creators, wmi_error *err)
{
    if (!build_cache_controls(r, o, err) || !build_alloc(r, o, err))
        return false;
    /* Consumer class -> provider, while the consumers are built. */
    json_t *class_provider = json_object();
    if (class_provider == NULL)
        return wmid_fail(err, WBEM_E_OUT_OF_MEMORY, "", "out of memory");
    struct build_ctx b = {r, o, s, filter_names, class_provider, creators, err};
    bool ok = build_each(&b, "__Win32Provider", build_provider) &&
              build_each(&b, "__EventConsumerProviderRegistration", build_registration) &&
              build_each(&b, "__EventConsumer", build_consumer);
    json_decref(class_provider);
    b.class_provider = NULL;
    return ok && build_each(&b, "__EventProviderRegistration", build_event_registration) &&
           build_each(&b, "__EventFilter", build_filter) && build_each(&b, "__FilterToConsumerBinding", build_binding) &&
           build_index(r, o, err);
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
                if (old->live->agg != NULL && wmi_query_group_within(f->query) >= 0) {
                    f->live->agg = old->live->agg;
                    old->live->agg = NULL;
                    struct wmid_aggregate_out out;
                    router_aggregate_out(r, &out);
                    aggregate_rebind(f->live->agg, r->schema, f, &out);
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
    r->temp_hook = prev->temp_hook;
    r->temp_hook_arg = prev->temp_hook_arg;
    r->temp_classes = prev->temp_classes;
    r->ntemp_classes = prev->ntemp_classes;
}

/* router_new and router_new_from: a reload's router takes @prev's hooks. */
static struct wmid_router *
router_build(const struct wmid_objects *o, const struct wmid_settings *s, struct wmid_delivery *d,
             const struct wmid_router_hooks *hooks, struct wmid_router *prev, wmi_error *err)
{
    struct wmid_router *r = calloc(1, sizeof *r);
    if (r == NULL) {
        wmid_fail(err, WBEM_E_OUT_OF_MEMORY, "", "out of memory");
        return NULL;
    }
    r->schema = wmi_schema_ref(o->schema);
    r->namespaces = json_incref(o->namespaces);
    r->class_ns = json_incref(o->class_ns);
    r->delivery = d;
    r->prev = prev;
    if (prev != NULL)
        r->hooks = prev->hooks;
    else if (hooks != NULL)
        r->hooks = *hooks;
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
router_new_from(const struct wmid_objects *o, const struct wmid_settings *s, struct wmid_delivery *d,
                struct wmid_router *prev, wmi_error *err)
{
    return router_build(o, s, d, NULL, prev, err);
}

struct wmid_router *
router_new(const struct wmid_objects *o, const struct wmid_settings *s, struct wmid_delivery *d,
           const struct wmid_router_hooks *hooks, wmi_error *err)
{
    return router_build(o, s, d, hooks, NULL, err);
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
        aggregate_free(r->live[i].agg);
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
    free(r->live);
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
