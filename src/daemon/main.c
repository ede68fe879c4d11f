/*
 * main.c - wmieventd: flags, start-up, signals, shutdown.
 *
 *   wmieventd [-dnv] [-f file]
 *
 * Start-up order: settings, object dir (classes, then instances), router
 * (filters compiled, bindings resolved), the event providers some filter
 * wants, the control socket, the process event source; then READY=1 to
 * systemd.  Consumer providers load later, at the first event for one of
 * their consumers; the idle timer (lifecycle.c) unloads what idles.
 * SIGTERM/SIGINT stop accepting, drain the queues within
 * shutdown_timeout_ms, and exit 0.  SIGHUP (or a Reload request) re-reads
 * the object dir: see reload().
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/plugins/eventprov.h"
#include "daemon/plugins/hosting.h"
#include "daemon/providers/instance.h"
#include "daemon/config/repository.h"
#include "daemon/providers/intrinsic.h"
#include "daemon/wmieventd.h"
#include "daemon/config/config.h"
#include "daemon/config/security.h"
#include "daemon/control/control.h"
#include "daemon/engine/delivery.h"
#include "daemon/engine/lifecycle.h"
#include "daemon/engine/router.h"
#include "daemon/log.h"
#include "daemon/notify.h"
#include "daemon/providers/process_trace.h"
#include "daemon/providers/timer.h"

#define DEFAULT_CONFIG "/etc/wmieventd/wmieventd.json"

/* Exit codes (wmieventd(8)). */
enum { EXIT_OK = 0, EXIT_CONFIG = 1, EXIT_USAGE = 2, EXIT_RUNTIME = 3 };

struct daemon_state {
    struct wmid_repo *repo;       /* objects created at run time (state_dir) */
    const char *config_path;
    uv_loop_t *loop;
    struct wmid_settings settings;
    struct wmid_objects objects;
    struct wmid_delivery *delivery;
    struct wmid_router *router;
    struct wmid_control *control;
    struct wmid_proc *proc;
    struct wmid_intrinsic *intrinsic;
    struct wmid_instance_env *instances; /* what the built-in providers share */
    struct wmid_timers *timers;
    struct wmid_lifecycle *lifecycle;
    struct wmid_eventprov *eventprov;
    struct wmid_router_hooks hooks;
    uv_signal_t sigterm, sigint, sighup;
    bool stopping;
    int verbose;
};

static _Noreturn void
usage(void)
{
    fprintf(stderr, "usage: wmieventd [-dnv] [-f file]\n");
    exit(EXIT_USAGE);
}

static void
print_config_error(const wmi_error *err)
{
    const char *name = wmi_status_name(err->status);
    if (err->line > 0)
        fprintf(stderr, "wmieventd: %s:%d:%d: %s (%s)\n", err->source, err->line, err->column, err->text,
                name ? name : "error");
    else
        fprintf(stderr, "wmieventd: %s: %s (%s)\n", err->source, err->text, name ? name : "error");
}

static void
on_close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void
begin_shutdown(struct daemon_state *ds, const char *why)
{
    if (ds->stopping)
        return;
    ds->stopping = true;
    log_notice("%s: shutting down", why);
    notify_systemd("STOPPING=1");
    control_stop_accepting(ds->control);
    proc_stop(ds->proc);
    ds->proc = NULL;
    intrinsic_stop(ds->intrinsic);
    ds->intrinsic = NULL;
    timers_stop(ds->timers);
    ds->timers = NULL;
    /* Nothing is released for idleness while the queues drain. */
    lifecycle_close(ds->lifecycle);
    ds->lifecycle = NULL;
    uv_stop(ds->loop);
}

/* ====================================================================
 * Reload
 * ==================================================================== */

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
static bool reload_now(struct daemon_state *ds, wmi_error *err, size_t *nobjects, json_t *newdoc);

static bool
reload(void *arg, wmi_error *err, size_t *nobjects)
{
    struct daemon_state *ds = arg;
    if (ds->stopping)
        return config_fail(err, WBEM_E_SHUTTING_DOWN, ds->config_path, "the daemon is shutting down");
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
    struct daemon_state *ds = arg;
    return repo_get(ds->repo, &ds->objects, ns, path, st);
}

static json_t *
repo_enum_instances_op(void *arg, const char *ns, const char *cls, wmi_status *st)
{
    struct daemon_state *ds = arg;
    return repo_enum_instances(&ds->objects, ns, cls, st);
}

/* A change is a reload with the candidate repository document: it is
 * written only once the whole configuration with it has been accepted. */
static bool
apply_doc(struct daemon_state *ds, json_t *newdoc, wmi_error *err)
{
    size_t n;
    if (ds->stopping) {
        json_decref(newdoc);
        return config_fail(err, WBEM_E_SHUTTING_DOWN, ds->config_path, "the daemon is shutting down");
    }
    bool ok = reload_now(ds, err, &n, newdoc);
    json_decref(newdoc);
    return ok;
}

static bool
repo_put_op(void *arg, const struct sec_identity *who, const char *ns, const json_t *instance, unsigned flags,
            wmi_error *err)
{
    struct daemon_state *ds = arg;
    json_t *doc = NULL;
    if (WMI_FAILED(repo_put_in(ds->repo, repo_doc(ds->repo), &ds->objects, who, ns, instance, flags, &doc, err)))
        return false;
    return apply_doc(ds, doc, err);
}

static bool
repo_del_op(void *arg, const struct sec_identity *who, const char *ns, const char *path, wmi_error *err)
{
    struct daemon_state *ds = arg;
    json_t *doc = NULL;
    if (WMI_FAILED(repo_delete_in(ds->repo, repo_doc(ds->repo), &ds->objects, who, ns, path, &doc, err)))
        return false;
    return apply_doc(ds, doc, err);
}

static bool
repo_put_class_op(void *arg, const struct sec_identity *who, const char *ns, const json_t *cls, unsigned flags,
                  wmi_error *err)
{
    struct daemon_state *ds = arg;
    json_t *doc = NULL;
    if (WMI_FAILED(repo_put_class_in(ds->repo, repo_doc(ds->repo), &ds->objects, who, ns, cls, flags, &doc, err)))
        return false;
    return apply_doc(ds, doc, err);
}

static bool
repo_del_class_op(void *arg, const struct sec_identity *who, const char *ns, const char *name, wmi_error *err)
{
    struct daemon_state *ds = arg;
    json_t *doc = NULL;
    if (WMI_FAILED(repo_delete_class_in(ds->repo, repo_doc(ds->repo), &ds->objects, who, ns, name, &doc, err)))
        return false;
    return apply_doc(ds, doc, err);
}

static json_t *
repo_enum_classes_op(void *arg, const char *ns, const char *super, bool deep, wmi_status *st)
{
    struct daemon_state *ds = arg;
    return repo_enum_classes(&ds->objects, ns, super, deep, st);
}

static bool load_objects(struct daemon_state *ds, const char *object_dir, const json_t *doc, struct wmid_objects *o,
                         wmi_error *err);

/* Which operation of a MofComp failed: its file and line. */
static bool
mof_fail(wmi_error *err, const json_t *op, size_t k)
{
    char text[sizeof err->text];
    snprintf(text, sizeof text, "operation %zu: %.60s%s%.*s", k, err->source, err->source[0] ? ": " : "",
             (int)(sizeof text - 100), err->text);
    snprintf(err->text, sizeof err->text, "%s", text);
    snprintf(err->source, sizeof err->source, "%s", json_string_value(json_object_get(op, "Source")) ?
                                                        json_string_value(json_object_get(op, "Source")) : "MOF");
    err->line = (int)json_integer_value(json_object_get(op, "Line"));
    err->column = 0;
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
mof_blame(struct daemon_state *ds, wmi_error *err, const json_t *ops, const json_t *tags)
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
    struct daemon_state *ds = arg;
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
        if (phase == 2 && !load_objects(ds, ds->settings.object_dir, doc, &tmp, err)) {
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
                memset(err, 0, sizeof *err);
                err->status = st;
                snprintf(err->text, sizeof err->text, "\"Kind\" is missing");
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
                memset(err, 0, sizeof *err);
                err->status = st;
                snprintf(err->text, sizeof err->text, "unknown Kind \"%.40s\"", kind);
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
static bool
load_objects(struct daemon_state *ds, const char *object_dir, const json_t *doc, struct wmid_objects *o,
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
reload_now(struct daemon_state *ds, wmi_error *err, size_t *nobjects, json_t *newdoc)
{
    struct wmid_settings ns;
    struct wmid_objects no;

    memset(&ns, 0, sizeof ns);
    memset(&no, 0, sizeof no);
    if (!config_load_settings(ds->config_path, &ns, err))
        return false;
    if (!load_objects(ds, ns.object_dir, newdoc, &no, err)) {
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

/* A provider's event side in Stats (the router's provider_events_stats
 * hook). */
static json_t *
provider_events_stats(void *arg, const struct wmid_provider *p)
{
    (void)arg;
    return eventprov_stats_json(p);
}

/* Failure and drop reports of the delivery engine go to the router of the
 * moment (it changes at reload). */
static void
on_system_event(void *arg, struct wmid_system_event *se)
{
    struct daemon_state *ds = arg;
    router_raise(ds->router, se);
}

static void
on_signal(uv_signal_t *h, int signum)
{
    struct daemon_state *ds = h->data;
    if (signum == SIGHUP) {
        wmi_error err;
        size_t n;
        memset(&err, 0, sizeof err);
        if (!reload(ds, &err, &n)) {
            const char *name = wmi_status_name(err.status);
            if (err.line > 0)
                log_warnx("SIGHUP: reload refused, configuration unchanged: %s:%d:%d: %s (%s)", err.source, err.line,
                          err.column, err.text, name ? name : "error");
            else
                log_warnx("SIGHUP: reload refused, configuration unchanged: %s: %s (%s)", err.source, err.text,
                          name ? name : "error");
        }
        return;
    }
    begin_shutdown(ds, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

int
main(int argc, char **argv)
{
    const char *config = DEFAULT_CONFIG;
    bool check_only = false, foreground = false;
    int verbose = 0, ch;
    struct daemon_state ds;
    wmi_error err;

    memset(&ds, 0, sizeof ds);
    while ((ch = getopt(argc, argv, "df:nv")) != -1) {
        switch (ch) {
        case 'd':
            foreground = true;
            break;
        case 'f':
            config = optarg;
            break;
        case 'n':
            check_only = true;
            break;
        case 'v':
            verbose++;
            break;
        default:
            usage();
        }
    }
    if (optind != argc)
        usage();
    ds.config_path = config;
    ds.verbose = verbose;
    /* The daemon never forks: systemd (Type=notify) or the shell keeps it.
     * -d is accepted for familiarity and adds timestamps to the log. */
    log_init(WMI_LOG_INFO, foreground || isatty(STDERR_FILENO));

    memset(&err, 0, sizeof err);
    if (!config_load_settings(config, &ds.settings, &err)) {
        print_config_error(&err);
        return EXIT_CONFIG;
    }
    log_setlevel(ds.settings.log_level + verbose > WMI_LOG_DEBUG ? WMI_LOG_DEBUG
                                                                   : ds.settings.log_level + verbose);
    ds.repo = repo_open(ds.settings.state_dir, &err);
    if (ds.repo == NULL || !load_objects(&ds, ds.settings.object_dir, NULL, &ds.objects, &err)) {
        print_config_error(&err);
        repo_close(ds.repo);
        config_free_settings(&ds.settings);
        return EXIT_CONFIG;
    }
    /* The router checks references and queries; -n stops after it. */
    ds.hooks.check_filter = intrinsic_check_filter;
    ds.hooks.within_has_effect = intrinsic_within_has_effect;
    ds.router = router_new(&ds.objects, &ds.settings, NULL, &ds.hooks, &err);
    if (ds.router == NULL || !timers_check(&ds.objects, &err)) {
        router_free(ds.router);
        print_config_error(&err);
        config_free_objects(&ds.objects);
        repo_close(ds.repo);
        config_free_settings(&ds.settings);
        return EXIT_CONFIG;
    }
    if (check_only) {
        fprintf(stderr, "wmieventd: configuration OK (%s, %zu objects)\n", config, ds.objects.ninstances);
        router_free(ds.router);
        config_free_objects(&ds.objects);
        repo_close(ds.repo);
        config_free_settings(&ds.settings);
        return EXIT_OK;
    }
    router_free(ds.router);

    signal(SIGPIPE, SIG_IGN);
    /* Until the handlers are in place, hold SIGTERM/SIGINT/SIGHUP: one that
     * came during start-up would otherwise kill the daemon with no drain
     * and leave its socket behind.  Threads started meanwhile (delivery)
     * inherit the mask and so never take these signals. */
    sigset_t held;
    sigemptyset(&held);
    sigaddset(&held, SIGTERM);
    sigaddset(&held, SIGINT);
    sigaddset(&held, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &held, NULL);
    ds.loop = uv_default_loop();
    ds.settings.hosting = hosting_new();
    ds.instances = instance_env_new();
    ds.delivery = delivery_new(ds.loop, &ds.settings);
    ds.lifecycle = lifecycle_new(ds.loop);
    ds.hooks.loaded = lifecycle_kick_hook;
    ds.hooks.loaded_arg = ds.lifecycle;
    ds.hooks.provider_events_stats = provider_events_stats;
    ds.router = router_new(&ds.objects, &ds.settings, ds.delivery, &ds.hooks, &err);
    if (ds.delivery == NULL || ds.lifecycle == NULL || ds.router == NULL) {
        print_config_error(&err);
        return EXIT_CONFIG;
    }
    delivery_set_raise_cb(ds.delivery, on_system_event, &ds);
    ds.eventprov = eventprov_new(ds.loop, ds.delivery, &ds.settings, ds.lifecycle);
    if (ds.eventprov == NULL)
        fatalx("out of memory");
    lifecycle_add_sweep(ds.lifecycle, eventprov_sweep_idle, ds.eventprov);
    router_prepare_providers(ds.router, &ds.settings); /* consumer providers load at their first event */
    router_start(ds.router, ds.loop);
    lifecycle_set_router(ds.lifecycle, ds.router);
    eventprov_sync(ds.eventprov, ds.router);
    ds.control = control_new(ds.loop, &ds.settings, ds.router, ds.delivery, ds.eventprov, ds.instances, &err);
    if (ds.control == NULL) {
        log_msg(WMI_LOG_ERR, "control socket %s: %s", err.source, err.text);
        lifecycle_close(ds.lifecycle);
        delivery_shutdown(ds.delivery, 0);
        router_free(ds.router);
        delivery_free(ds.delivery);
        hosting_free(ds.settings.hosting);
        uv_run(ds.loop, UV_RUN_NOWAIT);
        instance_env_free(ds.instances);
        config_free_objects(&ds.objects);
        repo_close(ds.repo);
        config_free_settings(&ds.settings);
        return EXIT_RUNTIME;
    }
    control_set_reload(ds.control, reload, &ds);
    struct wmid_repo_ops ops = {
        .get = repo_get_op,
        .enum_instances = repo_enum_instances_op,
        .put = repo_put_op,
        .del = repo_del_op,
        .put_class = repo_put_class_op,
        .del_class = repo_del_class_op,
        .enum_classes = repo_enum_classes_op,
        .mofcomp = repo_mofcomp_op,
        .arg = &ds,
    };
    control_set_repository(ds.control, &ops);
    ds.proc = proc_start(ds.loop, &ds.settings, ds.instances, ds.eventprov);
    eventprov_sync(ds.eventprov, ds.router); /* the process connector's sink */
    repository_update(ds.instances, &ds.objects, NULL); /* the first load: no events */
    ds.intrinsic = intrinsic_start(ds.loop, &ds.settings, ds.router, ds.instances);
    ds.timers = timers_start(ds.loop, &ds.objects, ds.router);

    uv_signal_init(ds.loop, &ds.sigterm);
    uv_signal_init(ds.loop, &ds.sigint);
    uv_signal_init(ds.loop, &ds.sighup);
    ds.sigterm.data = ds.sigint.data = ds.sighup.data = &ds;
    uv_signal_start(&ds.sigterm, on_signal, SIGTERM);
    uv_signal_start(&ds.sigint, on_signal, SIGINT);
    uv_signal_start(&ds.sighup, on_signal, SIGHUP);
    pthread_sigmask(SIG_UNBLOCK, &held, NULL);

    log_notice("wmieventd %s ready: %zu objects from %s", WMIEVENT_VERSION, ds.objects.ninstances,
               ds.settings.object_dir);
    notify_systemd("READY=1");

    uv_run(ds.loop, UV_RUN_DEFAULT);

    /* Drain what is queued, then release everything. */
    bool drained = delivery_shutdown(ds.delivery, ds.settings.shutdown_timeout_ms);
    control_close(ds.control);
    json_t *stats = router_stats_json(ds.router);
    json_t *ev = json_object_get(stats, "events");
    log_notice("stopped: %lld events received, %lld routed, %lld dropped",
               (long long)json_integer_value(json_object_get(ev, "received")),
               (long long)json_integer_value(json_object_get(ev, "routed")),
               (long long)json_integer_value(json_object_get(ev, "dropped")));
    json_decref(stats);
    if (!drained) {
        /* A plugin call outlived shutdown_timeout_ms and its delivery thread
         * was left running: freeing the router (its logical consumer), the
         * engine (its queue) or the plugin (its code) would pull them from
         * under it.  Leave at once; the kernel reclaims the rest. */
        log_notice("a consumer call was still running at exit; resources not released");
        _exit(EXIT_OK);
    }
    /* Plugin event providers stop (their threads joined in shutdown) before
     * the host they indicate into goes. */
    for (size_t i = 0; i < router_provider_count(ds.router); i++)
        eventprov_unload(router_provider_at(ds.router, i));
    eventprov_shutdown(ds.eventprov);
    router_free(ds.router);
    delivery_free(ds.delivery);
    hosting_free(ds.settings.hosting); /* the last provider closed its host */
    uv_walk(ds.loop, on_close_walk, NULL);
    uv_run(ds.loop, UV_RUN_DEFAULT);
    uv_loop_close(ds.loop);
    instance_env_free(ds.instances); /* the pollers and the connector are gone */
    repo_close(ds.repo);
    config_free_objects(&ds.objects);
    config_free_settings(&ds.settings);
    return EXIT_OK;
}
