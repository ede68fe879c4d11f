/*
 * reload.c - a new configuration for the running daemon: the candidate
 * settings and objects are read, a candidate snapshot built and checked,
 * a repository change saved, and only then the snapshot swapped in
 * (router_commit) and the sources restarted on it.  A refused candidate
 * leaves everything running as it was.  The repository requests of the
 * control socket are reloads with a candidate repository document.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/providers/providers.h"
#include "daemon/plugins/plugins.h"
#include "daemon/config/config.h"
#include "daemon/wmieventd.h"
#include "daemon/control/control.h"
#include "daemon/engine/engine.h"
#include "daemon/log.h"
#include "daemon/notify.h"
#include "daemon/daemon.h"

/* Settings a reload applies; the others (the socket, the queue limits of
 * the engine, ...) are bound to what is running and wait for a restart. */
static void
apply_settings(struct wmid_settings *cur, struct wmid_settings *ns, int verbose)
{
    int level = ns->log_level + verbose > WMI_LOG_DEBUG ? WMI_LOG_DEBUG : ns->log_level + verbose;
    if (level != log_getlevel())
        log_setlevel(level);
    char *t = cur->object_dir;
    cur->object_dir = ns->object_dir;
    ns->object_dir = t;
    t = cur->plugin_dir;
    cur->plugin_dir = ns->plugin_dir;
    ns->plugin_dir = t;
    cur->log_level = ns->log_level;
    cur->min_within_ms = ns->min_within_ms;
    cur->default_consumer_queue_bytes = ns->default_consumer_queue_bytes;
    const char *later = NULL;
    if (strcmp(cur->socket_path, ns->socket_path) != 0 || cur->socket_gid != ns->socket_gid)
        later = "socket";
    else if (strcmp(cur->state_dir, ns->state_dir) != 0)
        later = "state_dir";
    else if (cur->queue_max_bytes != ns->queue_max_bytes)
        later = "queue_max_bytes";
    else if (cur->max_line_bytes != ns->max_line_bytes)
        later = "max_line_bytes";
    else if (cur->max_connections != ns->max_connections)
        later = "max_connections";
    else if (cur->process_poll_ms != ns->process_poll_ms)
        later = "process_poll_ms";
    else if (cur->shutdown_timeout_ms != ns->shutdown_timeout_ms)
        later = "shutdown_timeout_ms";
    if (later != NULL)
        log_warnx("%s: \"%s\" changed; it takes effect at the next start", cur->config_path, later);
}

/*
 * Re-read the config file and the object dir, and switch to them only if
 * every object is valid (else nothing changes and @err says what was
 * refused).  Unchanged providers and logical consumers are kept with
 * their queues and counters; removed consumers are released once their
 * queues drain; filters keep their counters and open GROUP windows;
 * pollers and timer instructions restart.  The repository's changes raise
 * __InstanceCreationEvent, __InstanceModificationEvent and
 * __InstanceDeletionEvent.  Loop thread.
 */
static bool reload_now(struct wmid_daemon *ds, wmi_error *err, size_t *nobjects, json_t *newdoc);

bool
reload_config(void *arg, wmi_error *err, size_t *nobjects)
{
    struct wmid_daemon *ds = arg;
    if (ds->stopping)
        return wmid_fail(err, WBEM_E_SHUTTING_DOWN, ds->config_path, "the daemon is shutting down");
    notify_systemd("RELOADING=1");
    bool ok = reload_now(ds, err, nobjects, NULL);
    notify_systemd("READY=1");
    return ok;
}

/* ====================================================================
 * The repository at run time (GetObject, PutInstance, DeleteInstance)
 * ==================================================================== */

static json_t *
repo_get_op(void *arg, const char *ns, const char *path, wmi_status *st)
{
    struct wmid_daemon *ds = arg;
    return repo_get(ds->repo, &ds->objects, ns, path, st);
}

static json_t *
repo_enum_instances_op(void *arg, const char *ns, const char *cls, wmi_status *st)
{
    struct wmid_daemon *ds = arg;
    return repo_enum_instances(&ds->objects, ns, cls, st);
}

/* A change is a reload with the candidate repository document: it is
 * written only once the whole configuration with it has been accepted. */
static bool
apply_doc(struct wmid_daemon *ds, json_t *newdoc, wmi_error *err)
{
    size_t n;
    if (ds->stopping) {
        json_decref(newdoc);
        return wmid_fail(err, WBEM_E_SHUTTING_DOWN, ds->config_path, "the daemon is shutting down");
    }
    bool ok = reload_now(ds, err, &n, newdoc);
    json_decref(newdoc);
    return ok;
}

static bool
repo_put_op(void *arg, const struct sec_identity *who, const char *ns, const json_t *instance, unsigned flags,
            wmi_error *err)
{
    struct wmid_daemon *ds = arg;
    json_t *doc = NULL;
    if (WMI_FAILED(repo_put_in(ds->repo, repo_doc(ds->repo), &ds->objects, who, ns, instance, flags, &doc, err)))
        return false;
    return apply_doc(ds, doc, err);
}

static bool
repo_del_op(void *arg, const struct sec_identity *who, const char *ns, const char *path, wmi_error *err)
{
    struct wmid_daemon *ds = arg;
    json_t *doc = NULL;
    if (WMI_FAILED(repo_delete_in(ds->repo, repo_doc(ds->repo), &ds->objects, who, ns, path, &doc, err)))
        return false;
    return apply_doc(ds, doc, err);
}

static bool
repo_put_class_op(void *arg, const struct sec_identity *who, const char *ns, const json_t *cls, unsigned flags,
                  wmi_error *err)
{
    struct wmid_daemon *ds = arg;
    json_t *doc = NULL;
    if (WMI_FAILED(repo_put_class_in(ds->repo, repo_doc(ds->repo), &ds->objects, who, ns, cls, flags, &doc, err)))
        return false;
    return apply_doc(ds, doc, err);
}

static bool
repo_del_class_op(void *arg, const struct sec_identity *who, const char *ns, const char *name, wmi_error *err)
{
    struct wmid_daemon *ds = arg;
    json_t *doc = NULL;
    if (WMI_FAILED(repo_delete_class_in(ds->repo, repo_doc(ds->repo), &ds->objects, who, ns, name, &doc, err)))
        return false;
    return apply_doc(ds, doc, err);
}

static json_t *
repo_enum_classes_op(void *arg, const char *ns, const char *super, bool deep, wmi_status *st)
{
    struct wmid_daemon *ds = arg;
    return repo_enum_classes(&ds->objects, ns, super, deep, st);
}

/* Which operation of a MofComp failed: its file and line. */
static bool
mof_fail(wmi_error *err, const json_t *op, size_t k)
{
    const char *src = json_string_value(json_object_get(op, "Source"));
    /* The arguments may point into *err: wmi_error_set reads them first. */
    wmi_error_set(err, err->status, src ? src : "MOF", (int)json_integer_value(json_object_get(op, "Line")), 0,
                  "operation %zu: %.60s%s%.*s", k, err->source, err->source[0] ? ": " : "",
                  (int)(sizeof err->text - 100), err->text);
    return false;
}

/*
 * Which MofComp operation made each entry of the candidate document: @tags
 * (an array parallel to @old's list) becomes the one parallel to @new's,
 * after operation @k appended, replaced or removed entries (order is kept,
 * so one walk tells them apart).
 */
static json_t *
align_tags(const json_t *old, const json_t *new, const json_t *tags, size_t k)
{
    json_t *out = json_array();
    size_t i = 0, j = 0, nn = json_array_size(new), no = json_array_size(old);
    while (out != NULL && i < nn) {
        if (j < no && json_equal(json_array_get(old, j), json_array_get(new, i))) {
            json_array_append(out, json_array_get(tags, j) ? json_array_get(tags, j) : json_null());
            i++, j++;
        } else if (nn - i >= no - j) {
            /* appended (more left than before) or replaced (as many) */
            json_array_append_new(out, json_integer((json_int_t)k));
            j += nn - i == no - j;
            i++;
        } else {
            j++; /* removed */
        }
    }
    return out;
}

/* The candidate document of a MofComp was refused by the reload, which
 * names one of its entries ("<repository>: object N ..."): name the MOF
 * operation that made it instead, with its file and line. */
static void
mof_blame(struct wmid_daemon *ds, wmi_error *err, const json_t *ops, const json_t *tags)
{
    const char *repo = repo_path(ds->repo);
    size_t n = strlen(repo);
    static const char *const lists[] = {"Objects", "Classes"}, *const words[] = {": object ", ": class "};
    for (size_t l = 0; l < 2; l++) {
        size_t w = strlen(words[l]);
        if (strncmp(err->source, repo, n) != 0 || strncmp(err->source + n, words[l], w) != 0)
            continue;
        size_t idx = strtoul(err->source + n + w, NULL, 10);
        const json_t *k = json_array_get(json_object_get(tags, lists[l]), idx);
        if (json_is_integer(k))
            mof_fail(err, json_array_get(ops, (size_t)json_integer_value(k)), (size_t)json_integer_value(k));
    }
}

/*
 * MofComp: the operations of a compiled MOF file, all or nothing, each in
 * its namespace.  Namespaces (__Namespace instances), classes and class
 * deletions first, against the current repository; then the other
 * instances against the repository with those; then one reload with the
 * result, as for any change.  Qualifier declarations need nothing here.
 */
static bool
repo_mofcomp_op(void *arg, const struct sec_identity *who, const json_t *ops, size_t *applied, wmi_error *err)
{
    struct wmid_daemon *ds = arg;
    json_t *doc = json_deep_copy(repo_doc(ds->repo)), *nd = NULL;
    size_t k;
    json_t *op;
    *applied = 0;
    /* Which operation made each entry, for an error of the final reload. */
    json_t *tags = json_pack("{s[]s[]}", "Objects", "Classes");
    for (size_t l = 0; tags != NULL && l < 2; l++) {
        const char *list = l == 0 ? "Objects" : "Classes";
        for (size_t i = 0; i < json_array_size(json_object_get(doc, list)); i++)
            json_array_append_new(json_object_get(tags, list), json_null());
    }
    /* Phase 0: namespaces; 1: classes; 2: the other instances, against a
     * load with the classes. */
    for (int phase = 0; phase < 3; phase++) {
        struct wmid_objects tmp;
        memset(&tmp, 0, sizeof tmp);
        if (phase == 2 && !reload_load_objects(ds, ds->settings.object_dir, doc, &tmp, err)) {
            mof_blame(ds, err, ops, tags);
            json_decref(doc);
            json_decref(tags);
            return false;
        }
        const struct wmid_objects *cur = phase < 2 ? &ds->objects : &tmp;
        json_array_foreach(ops, k, op) {
            const char *kind = json_string_value(json_object_get(op, "Kind"));
            const char *ns = json_string_value(json_object_get(op, "Namespace"));
            unsigned flags = (unsigned)json_integer_value(json_object_get(op, "Flags")) & 0x3u;
            const json_t *obj = json_object_get(op, "Object");
            const char *target = json_string_value(json_object_get(op, "Target"));
            const char *ocls = json_string_value(json_object_get(obj, "__CLASS"));
            bool nsi = ocls != NULL && strcasecmp(ocls, "__Namespace") == 0;
            wmi_status st = WBEM_S_FALSE;
            if (kind == NULL) {
                st = WBEM_E_INVALID_PARAMETER;
                wmi_error_set(err, st, "", 0, 0, "\"Kind\" is missing");
            } else if (phase == 1 && strcmp(kind, "class") == 0) {
                st = repo_put_class_in(ds->repo, doc, cur, who, ns, obj, flags, &nd, err);
            } else if (phase == 1 && strcmp(kind, "deleteclass") == 0) {
                st = repo_delete_class_in(ds->repo, doc, cur, who, ns, target, &nd, err);
            } else if (strcmp(kind, "instance") == 0 && (phase == 0 ? nsi : phase == 2 && !nsi)) {
                st = repo_put_in(ds->repo, doc, cur, who, ns, obj, flags, &nd, err);
            } else if (phase == 2 && strcmp(kind, "deleteinstance") == 0) {
                st = repo_delete_in(ds->repo, doc, cur, who, ns, target, &nd, err);
            } else if (strcmp(kind, "class") != 0 && strcmp(kind, "deleteclass") != 0 &&
                       strcmp(kind, "instance") != 0 && strcmp(kind, "deleteinstance") != 0 &&
                       strcmp(kind, "qualifier") != 0) {
                st = WBEM_E_INVALID_PARAMETER;
                wmi_error_set(err, st, "", 0, 0, "unknown Kind \"%.40s\"", kind);
            }
            if (st == WBEM_S_FALSE)
                continue; /* the other phase's */
            if (WMI_FAILED(st)) {
                if (phase == 2)
                    config_free_objects(&tmp);
                json_decref(doc);
                json_decref(tags);
                return mof_fail(err, op, k);
            }
            for (size_t l = 0; tags != NULL && l < 2; l++) {
                const char *list = l == 0 ? "Objects" : "Classes";
                json_object_set_new(tags, list, align_tags(json_object_get(doc, list), json_object_get(nd, list),
                                                           json_object_get(tags, list), k));
            }
            json_decref(doc);
            doc = nd;
            nd = NULL;
            (*applied)++;
        }
        if (phase == 2)
            config_free_objects(&tmp);
    }
    bool ok = apply_doc(ds, doc, err);
    if (!ok)
        mof_blame(ds, err, ops, tags);
    json_decref(tags);
    return ok;
}

/* The object dir's objects, then those created at run time. */
bool
reload_load_objects(struct wmid_daemon *ds, const char *object_dir, const json_t *doc, struct wmid_objects *o,
             wmi_error *err)
{
    if (!config_load_objects(object_dir, o, err))
        return false;
    if (ds->repo != NULL && !config_add_runtime(o, doc ? doc : repo_doc(ds->repo), repo_path(ds->repo), err)) {
        config_free_objects(o);
        return false;
    }
    return true;
}

static bool
reload_now(struct wmid_daemon *ds, wmi_error *err, size_t *nobjects, json_t *newdoc)
{
    struct wmid_settings ns;
    struct wmid_objects no;

    memset(&ns, 0, sizeof ns);
    memset(&no, 0, sizeof no);
    if (!config_load_settings(ds->config_path, &ns, err))
        return false;
    if (!reload_load_objects(ds, ns.object_dir, newdoc, &no, err)) {
        config_free_settings(&ns);
        return false;
    }
    struct wmid_router *nr = router_new_from(&no, &ns, ds->delivery, ds->router, err);
    /* A repository change is written once the configuration with it is
     * known good, and before it takes effect. */
    if (nr == NULL || !timers_check(&no, err) || (newdoc != NULL && !repo_save(ds->repo, newdoc, err))) {
        router_free(nr);
        config_free_objects(&no);
        config_free_settings(&ns);
        return false;
    }
    router_commit(nr, ds->router);
    apply_settings(&ds->settings, &ns, ds->verbose);
    config_free_settings(&ns);

    intrinsic_stop(ds->intrinsic);
    timers_stop(ds->timers);
    router_prepare_providers(nr, &ds->settings);
    router_start(nr, ds->loop);
    eventprov_sync(ds->eventprov, nr);
    struct wmid_router *old = ds->router;
    ds->router = nr;
    lifecycle_set_router(ds->lifecycle, nr); /* its cache controls apply from now on */
    control_set_router(ds->control, nr);
    ds->intrinsic = intrinsic_start(ds->loop, &ds->settings, nr, ds->instances);
    ds->timers = timers_start(ds->loop, &no, nr);
    /* After the new pollers subscribed, so that they are told. */
    repository_update(ds->instances, &no, nr);
    router_flush(nr);
    router_free(old);
    config_free_objects(&ds->objects);
    ds->objects = no;
    *nobjects = no.ninstances;
    log_notice("reloaded %s: %zu objects; %zu removed consumer(s) draining", ds->settings.object_dir,
               no.ninstances, delivery_retiring(ds->delivery));
    return true;
}

void
reload_repository_ops(struct wmid_daemon *ds, struct wmid_repo_ops *ops)
{
    ops->get = repo_get_op;
    ops->enum_instances = repo_enum_instances_op;
    ops->put = repo_put_op;
    ops->del = repo_del_op;
    ops->put_class = repo_put_class_op;
    ops->del_class = repo_del_class_op;
    ops->enum_classes = repo_enum_classes_op;
    ops->mofcomp = repo_mofcomp_op;
    ops->arg = ds;
}
