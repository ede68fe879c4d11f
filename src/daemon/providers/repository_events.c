/*
 * repository_events.c - the repository as a source of intrinsic events.
 *
 * WMI raises __InstanceCreationEvent, __InstanceModificationEvent and
 * __InstanceDeletionEvent for the objects of its repository itself, with
 * no provider and no polling: that is how an administrator watches for new
 * subscriptions (SELECT * FROM __InstanceCreationEvent WITHIN 5 WHERE
 * TargetInstance ISA '__EventConsumer'), and how a MOF file's own
 * instances fire its own filters.  Here the repository is the object dir
 * plus the objects created at run time (config/repository.c); it changes
 * when the daemon reloads or a request changes it.  This module keeps the
 * instances of the last load keyed by path, in the daemon's env
 * (env->repository); each repository_update diffs
 * the new load against them and raises every change through the router,
 * so that every filter whose query selects it takes it (with WITHIN or
 * not, with ISA or a test of TargetInstance.__CLASS).  It also serves
 * EnumInstances for the repository's classes.
 *
 * Everything runs on the loop thread.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/providers/providers.h"
#include "daemon/config/config.h"
#include "daemon/engine/engine.h"

/* The instances of the last load, one snapshot per namespace: paths are
 * relative, and the same path may name an object in each namespace. */
struct ns_snapshot {
    char *ns;
    struct wmid_snapshot *snap;
};
struct wmid_repo_snapshot {
    struct ns_snapshot *current;
    size_t ncurrent;
    bool loaded;                       /* a first load happened: report changes */
};

static struct wmid_snapshot *
find_snapshot(const struct ns_snapshot *set, size_t n, const char *ns)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(set[i].ns, ns) == 0)
            return set[i].snap;
    return NULL;
}

static void
free_snapshots(struct ns_snapshot *set, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(set[i].ns);
        snapshot_unref(set[i].snap);
    }
    free(set);
}

struct wmid_repo_snapshot *
repo_snapshot_new(void)
{
    return calloc(1, sizeof(struct wmid_repo_snapshot));
}

void
repo_snapshot_free(struct wmid_repo_snapshot *rs)
{
    if (rs == NULL)
        return;
    free_snapshots(rs->current, rs->ncurrent);
    free(rs);
}

/* ---- the provider (EnumInstances only) ---- */

struct repo_state {
    const struct wmid_repo_snapshot *rs; /* its env's (NULL: none) */
};

static void *
source_open(struct wmid_instance_env *env, const wmi_schema *schema)
{
    (void)schema;
    struct repo_state *st = calloc(1, sizeof *st);
    if (st != NULL)
        st->rs = env != NULL ? env->repository : NULL;
    return st;
}

static void
source_close(void *state)
{
    free(state);
}

static wmi_status
source_enumerate(void *state, wmid_instance_fn fn, void *arg)
{
    const struct wmid_repo_snapshot *rs = ((const struct repo_state *)state)->rs;
    for (size_t i = 0; rs != NULL && i < rs->ncurrent; i++)
        snapshot_foreach(rs->current[i].snap, fn, arg);
    return WBEM_S_NO_ERROR;
}

const struct wmid_instance_provider wmid_ip_repository = {
    .name = "repository",
    .class_name = "__SystemClass",
    .push = 0,
    .flags = WMID_IP_SUBCLASSES | WMID_IP_NO_WITHIN | WMID_IP_ANY_CLASS,
    .serves_subclass = repository_holds,
    .open = source_open,
    .close = source_close,
    .enumerate = source_enumerate,
};

/* ---- updates ---- */

struct raise_ctx {
    struct wmid_router *r;
    const char *ns;
    uint64_t now;
    size_t n;
};

/* One change, as WMI raises it for a repository object: through the
 * router, in the object's namespace, so that every filter whose query
 * selects it takes it.  A __Namespace instance is a namespace: its
 * changes are __NamespaceCreationEvent and the like, raised in the parent
 * namespace, as WMI raises them. */
static void
raise_change(unsigned kind, wmi_object *target, wmi_object *previous, void *arg)
{
    struct raise_ctx *rc = arg;
    bool ns = wmi_object_isa(target, "__Namespace");
    const char *cls = kind == WMID_KIND_CREATION   ? (ns ? "__NamespaceCreationEvent" : "__InstanceCreationEvent")
                      : kind == WMID_KIND_DELETION ? (ns ? "__NamespaceDeletionEvent" : "__InstanceDeletionEvent")
                                                   : (ns ? "__NamespaceModificationEvent" : "__InstanceModificationEvent");
    wmi_object *ev;
    if (WMI_FAILED(wmi_object_new(router_schema(rc->r), cls, &ev)))
        return;
    if (WMI_SUCCEEDED(wmi_object_put_object(ev, ns ? "TargetNamespace" : "TargetInstance", target)) &&
        (previous == NULL ||
         WMI_SUCCEEDED(wmi_object_put_object(ev, ns ? "PreviousNamespace" : "PreviousInstance", previous)))) {
        wmi_object_put_uint64(ev, "TIME_CREATED", rc->now);
        struct wmid_source here = {NULL, NULL, rc->ns};
        router_indicate_from(rc->r, ev, 512, 0, &here);
        rc->n++;
    }
    wmi_object_unref(ev);
}

void
repository_update(struct wmid_instance_env *env, const struct wmid_objects *o, struct wmid_router *r)
{
    struct wmid_repo_snapshot *rs = env != NULL ? env->repository : NULL;
    if (rs == NULL)
        return;
    struct ns_snapshot *next = NULL;
    size_t nnext = 0;
    bool ok = true;
    for (size_t i = 0; ok && i < o->ninstances; i++) {
        const char *ns = objects_ns(o, i);
        struct wmid_snapshot *s = find_snapshot(next, nnext, ns);
        if (s == NULL) {
            struct ns_snapshot *nn = realloc(next, (nnext + 1) * sizeof *nn);
            ok = nn != NULL;
            if (!ok)
                break;
            next = nn;
            next[nnext] = (struct ns_snapshot){strdup(ns), snapshot_new()};
            ok = next[nnext].ns != NULL && next[nnext].snap != NULL;
            s = next[nnext++].snap;
            if (!ok)
                break;
        }
        snapshot_add_keyed(s, o->instances[i], true);
    }
    if (!ok) {
        free_snapshots(next, nnext);
        return; /* keep the last load: the next update reports against it */
    }
    if (rs->loaded && r != NULL) {
        struct raise_ctx rc = {r, NULL, wmi_time_created_now(), 0};
        struct wmid_snapshot *none = snapshot_new();
        const unsigned all = WMID_KIND_CREATION | WMID_KIND_DELETION | WMID_KIND_MODIFICATION;
        for (size_t i = 0; none != NULL && i < nnext; i++) {
            const struct wmid_snapshot *prev = find_snapshot(rs->current, rs->ncurrent, next[i].ns);
            rc.ns = next[i].ns;
            snapshot_diff(prev != NULL ? prev : none, next[i].snap, all, raise_change, &rc);
        }
        /* A namespace that lost its last object. */
        for (size_t i = 0; none != NULL && i < rs->ncurrent; i++) {
            if (find_snapshot(next, nnext, rs->current[i].ns) != NULL)
                continue;
            rc.ns = rs->current[i].ns;
            snapshot_diff(rs->current[i].snap, none, all, raise_change, &rc);
        }
        snapshot_unref(none);
        if (rc.n > 0)
            router_flush(r);
    }
    free_snapshots(rs->current, rs->ncurrent);
    rs->current = next;
    rs->ncurrent = nnext;
    rs->loaded = true;
}
