/*
 * repository.c - the repository as a source of intrinsic events.
 *
 * WMI raises __InstanceCreationEvent, __InstanceModificationEvent and
 * __InstanceDeletionEvent for the objects of its repository itself, with
 * no provider and no polling: that is how an administrator watches for new
 * subscriptions (SELECT * FROM __InstanceCreationEvent WITHIN 5 WHERE
 * TargetInstance ISA '__EventConsumer').  Here the repository is the
 * object dir; its instances change when the daemon reloads it.  This
 * provider keeps the instances of the last load keyed by path; each
 * repository_update diffs the new load against them and pushes every
 * change to the subscribed pollers (intrinsic.c) at once.
 *
 * Everything runs on the loop thread.
 */
#include <stdlib.h>

#include "daemon/instance.h"
#include "daemon/intrinsic.h"

struct repo_state {
    struct wmid_instance_sink sink;
    bool subscribed;
    struct repo_state *next;
};

static struct wmid_snapshot *current;  /* the instances of the last load */
static struct repo_state *subscribers;

/* ---- the provider ---- */

static void *
repo_open(const wmi_schema *schema)
{
    (void)schema;
    return calloc(1, sizeof(struct repo_state));
}

static void
repo_unsubscribe(void *state)
{
    struct repo_state *st = state;
    for (struct repo_state **pp = &subscribers; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == st) {
            *pp = st->next;
            break;
        }
    }
    st->subscribed = false;
}

static void
repo_close(void *state)
{
    struct repo_state *st = state;
    if (st->subscribed)
        repo_unsubscribe(st);
    free(st);
}

static wmi_status
repo_enumerate(void *state, wmid_instance_fn fn, void *arg)
{
    (void)state;
    if (current != NULL)
        snapshot_foreach(current, fn, arg);
    return WBEM_S_NO_ERROR;
}

static bool
repo_subscribe(void *state, uv_loop_t *loop, const struct wmid_instance_sink *sink)
{
    struct repo_state *st = state;
    (void)loop;
    st->sink = *sink;
    st->subscribed = true;
    st->next = subscribers;
    subscribers = st;
    st->sink.pushing(st->sink.arg, WMID_PUSH_CREATION | WMID_PUSH_DELETION | WMID_PUSH_MODIFICATION);
    return true;
}

/* Event classes have no instances: queries and enumerations of them are
 * not the repository's. */
static bool
repo_serves(const wmi_class *target)
{
    return !wmi_class_isa(target, "__Event") && !wmi_class_isa(target, "__AggregateEvent");
}

const struct wmid_instance_provider wmid_ip_repository = {
    .name = "repository (object dir)",
    .class_name = "__SystemClass",
    .push = WMID_PUSH_CREATION | WMID_PUSH_DELETION | WMID_PUSH_MODIFICATION,
    .flags = WMID_IP_SUBCLASSES | WMID_IP_NO_WITHIN,
    .serves_subclass = repo_serves,
    .open = repo_open,
    .close = repo_close,
    .enumerate = repo_enumerate,
    .subscribe = repo_subscribe,
    .unsubscribe = repo_unsubscribe,
};

/* ---- updates ---- */

static void
push_change(unsigned kind, wmi_object *target, wmi_object *previous, void *arg)
{
    (void)arg;
    /* A subscriber may not unsubscribe from inside its callback (pollers
     * change only at start and stop), so the list is stable here. */
    for (struct repo_state *st = subscribers; st != NULL; st = st->next) {
        if (kind == WMID_KIND_CREATION)
            st->sink.created(st->sink.arg, target);
        else if (kind == WMID_KIND_DELETION)
            st->sink.deleted(st->sink.arg, target);
        else
            st->sink.modified(st->sink.arg, target, previous);
    }
}

void
repository_update(const struct wmid_objects *o)
{
    struct wmid_snapshot *next = snapshot_new();
    if (next == NULL)
        return; /* keep the last load: the next update reports against it */
    for (size_t i = 0; i < o->ninstances; i++)
        if (wmi_object_isa(o->instances[i], "__SystemClass"))
            snapshot_add(next, o->instances[i]);
    if (current != NULL)
        snapshot_diff(current, next, WMID_KIND_CREATION | WMID_KIND_DELETION | WMID_KIND_MODIFICATION, push_change,
                      NULL);
    snapshot_unref(current);
    current = next;
}

void
repository_clear(void)
{
    snapshot_unref(current);
    current = NULL;
}
