/*
 * repository.c - the repository as a source of intrinsic events.
 *
 * WMI raises __InstanceCreationEvent, __InstanceModificationEvent and
 * __InstanceDeletionEvent for the objects of its repository itself, with
 * no provider and no polling: that is how an administrator watches for new
 * subscriptions (SELECT * FROM __InstanceCreationEvent WITHIN 5 WHERE
 * TargetInstance ISA '__EventConsumer'), and how a MOF file's own
 * instances fire its own filters.  Here the repository is the object dir
 * plus the objects created at run time (repo.c); it changes when the
 * daemon reloads or a request changes it.  This module keeps the
 * instances of the last load keyed by path; each repository_update diffs
 * the new load against them and raises every change through the router,
 * so that every filter whose query selects it takes it (with WITHIN or
 * not, with ISA or a test of TargetInstance.__CLASS).  It also serves
 * EnumInstances for the repository's classes.
 *
 * Everything runs on the loop thread.
 */
#include <stdlib.h>

#include "daemon/instance.h"
#include "daemon/intrinsic.h"

static struct wmid_snapshot *current;  /* the instances of the last load */

/* ---- the provider (EnumInstances only) ---- */

static void *
repo_open(const wmi_schema *schema)
{
    (void)schema;
    return calloc(1, 1);
}

static void
repo_close(void *state)
{
    free(state);
}

static wmi_status
repo_enumerate(void *state, wmid_instance_fn fn, void *arg)
{
    (void)state;
    if (current != NULL)
        snapshot_foreach(current, fn, arg);
    return WBEM_S_NO_ERROR;
}

/* Event classes have no instances, and the CIM classes under
 * CIM_ManagedSystemElement (Win32_Process, CIM_DataFile, ...) come from
 * their instance providers: neither is the repository's. */
bool
repository_holds(const wmi_class *target)
{
    return !wmi_class_isa(target, "__Event") && !wmi_class_isa(target, "__AggregateEvent") &&
           !wmi_class_isa(target, "CIM_ManagedSystemElement");
}

const struct wmid_instance_provider wmid_ip_repository = {
    .name = "repository",
    .class_name = "__SystemClass",
    .push = 0,
    .flags = WMID_IP_SUBCLASSES | WMID_IP_NO_WITHIN | WMID_IP_ANY_CLASS,
    .serves_subclass = repository_holds,
    .open = repo_open,
    .close = repo_close,
    .enumerate = repo_enumerate,
};

/* ---- updates ---- */

struct raise_ctx {
    struct wmid_router *r;
    uint64_t now;
    size_t n;
};

/* One change, as WMI raises it for a repository object: through the
 * router, so that every filter whose query selects it takes it. */
static void
raise_change(unsigned kind, wmi_object *target, wmi_object *previous, void *arg)
{
    struct raise_ctx *rc = arg;
    const char *cls = kind == WMID_KIND_CREATION   ? "__InstanceCreationEvent"
                      : kind == WMID_KIND_DELETION ? "__InstanceDeletionEvent"
                                                   : "__InstanceModificationEvent";
    wmi_object *ev;
    if (WMI_FAILED(wmi_object_new(router_schema(rc->r), cls, &ev)))
        return;
    if (WMI_SUCCEEDED(wmi_object_put_object(ev, "TargetInstance", target)) &&
        (previous == NULL || WMI_SUCCEEDED(wmi_object_put_object(ev, "PreviousInstance", previous)))) {
        wmi_object_put_uint64(ev, "TIME_CREATED", rc->now);
        struct wmid_source here = {NULL, NULL, WMID_NS_SUBSCRIPTION};
        router_indicate_from(rc->r, ev, 512, 0, &here);
        rc->n++;
    }
    wmi_object_unref(ev);
}

void
repository_update(const struct wmid_objects *o, struct wmid_router *r)
{
    struct wmid_snapshot *next = snapshot_new();
    if (next == NULL)
        return; /* keep the last load: the next update reports against it */
    for (size_t i = 0; i < o->ninstances; i++)
        snapshot_add(next, o->instances[i]);
    if (current != NULL && r != NULL) {
        struct raise_ctx rc = {r, wmi_time_created_now(), 0};
        snapshot_diff(current, next, WMID_KIND_CREATION | WMID_KIND_DELETION | WMID_KIND_MODIFICATION, raise_change,
                      &rc);
        if (rc.n > 0)
            router_flush(r);
    }
    snapshot_unref(current);
    current = next;
}

void
repository_clear(void)
{
    snapshot_unref(current);
    current = NULL;
}
