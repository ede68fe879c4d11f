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
 * the object dir: see reload.c.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/providers/providers.h"
#include "daemon/plugins/plugins.h"
#include "daemon/config/config.h"
#include "daemon/wmieventd.h"
#include "daemon/control/control.h"
#include "daemon/engine/engine.h"
#include "daemon/log.h"
#include "daemon/notify.h"
#include "daemon/daemon.h"

#define DEFAULT_CONFIG "/etc/wmieventd/wmieventd.json"

/* Exit codes (wmieventd(8)). */
enum { EXIT_OK = 0, EXIT_CONFIG = 1, EXIT_USAGE = 2, EXIT_RUNTIME = 3 };

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
begin_shutdown(struct wmid_daemon *ds, const char *why)
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
    struct wmid_daemon *ds = arg;
    router_raise(ds->router, se);
}

static void
on_signal(uv_signal_t *h, int signum)
{
    struct wmid_daemon *ds = h->data;
    if (signum == SIGHUP) {
        wmi_error err;
        size_t n;
        memset(&err, 0, sizeof err);
        if (!reload_config(ds, &err, &n)) {
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

/* What the flags ask for. */
struct options {
    const char *config;
    bool check_only;
    bool foreground;
    int verbose;
};

static void
parse_flags(int argc, char **argv, struct options *opt)
{
    int ch;
    opt->config = DEFAULT_CONFIG;
    while ((ch = getopt(argc, argv, "df:nv")) != -1) {
        switch (ch) {
        case 'd':
            opt->foreground = true;
            break;
        case 'f':
            opt->config = optarg;
            break;
        case 'n':
            opt->check_only = true;
            break;
        case 'v':
            opt->verbose++;
            break;
        default:
            usage();
        }
    }
    if (optind != argc)
        usage();
}

/* Release what check_config loaded (settings, repository, objects). */
static void
free_config(struct wmid_daemon *ds)
{
    config_free_objects(&ds->objects);
    repo_close(ds->repo);
    config_free_settings(&ds->settings);
}

/*
 * Read the settings, the repository and the objects, and build a router
 * from them without a delivery engine, which checks every reference and
 * query (-n stops after it).  EXIT_OK to go on (or, with -n, to stop),
 * else the exit code, the error printed.
 */
static int
check_config(struct wmid_daemon *ds, const struct options *opt)
{
    wmi_error err;
    memset(&err, 0, sizeof err);
    if (!config_load_settings(opt->config, &ds->settings, &err)) {
        print_config_error(&err);
        return EXIT_CONFIG;
    }
    log_setlevel(ds->settings.log_level + opt->verbose > WMI_LOG_DEBUG ? WMI_LOG_DEBUG
                                                                         : ds->settings.log_level + opt->verbose);
    ds->repo = repo_open(ds->settings.state_dir, &err);
    if (ds->repo == NULL || !reload_load_objects(ds, ds->settings.object_dir, NULL, &ds->objects, &err)) {
        print_config_error(&err);
        repo_close(ds->repo);
        config_free_settings(&ds->settings);
        return EXIT_CONFIG;
    }
    ds->hooks.check_filter = intrinsic_check_filter;
    ds->hooks.within_has_effect = intrinsic_within_has_effect;
    struct wmid_router *r = router_new(&ds->objects, &ds->settings, NULL, &ds->hooks, &err);
    bool ok = r != NULL && timers_check(&ds->objects, &err);
    router_free(r);
    if (!ok) {
        print_config_error(&err);
        free_config(ds);
        return EXIT_CONFIG;
    }
    if (opt->check_only)
        fprintf(stderr, "wmieventd: configuration OK (%s, %zu objects)\n", opt->config, ds->objects.ninstances);
    return EXIT_OK;
}

/*
 * The engine: hosting, the instance providers' state, the delivery
 * engine, the idle timer, the router, the event provider host.  False
 * with @err when the configuration does not build (it did in
 * check_config, so only when memory runs out).
 */
static bool
start_engine(struct wmid_daemon *ds, wmi_error *err)
{
    ds->settings.hosting = hosting_new();
    ds->instances = instance_env_new();
    if (ds->settings.hosting == NULL || ds->instances == NULL)
        fatalx("out of memory");
    ds->delivery = delivery_new(ds->loop, &ds->settings);
    ds->lifecycle = lifecycle_new(ds->loop);
    ds->hooks.loaded = lifecycle_kick_hook;
    ds->hooks.loaded_arg = ds->lifecycle;
    ds->hooks.provider_events_stats = provider_events_stats;
    ds->router = router_new(&ds->objects, &ds->settings, ds->delivery, &ds->hooks, err);
    if (ds->delivery == NULL || ds->lifecycle == NULL || ds->router == NULL)
        return false;
    delivery_set_raise_cb(ds->delivery, on_system_event, ds);
    ds->eventprov = eventprov_new(ds->loop, ds->delivery, &ds->settings, ds->lifecycle);
    if (ds->eventprov == NULL)
        fatalx("out of memory");
    lifecycle_add_sweep(ds->lifecycle, eventprov_sweep_idle, ds->eventprov);
    router_prepare_providers(ds->router, &ds->settings); /* consumer providers load at their first event */
    router_start(ds->router, ds->loop);
    lifecycle_set_router(ds->lifecycle, ds->router);
    eventprov_sync(ds->eventprov, ds->router);
    return true;
}

/* The control socket could not be opened: undo start_engine. */
static void
stop_engine_early(struct wmid_daemon *ds)
{
    lifecycle_close(ds->lifecycle);
    delivery_shutdown(ds->delivery, 0);
    for (size_t i = 0; i < router_provider_count(ds->router); i++)
        eventprov_unload(router_provider_at(ds->router, i));
    eventprov_shutdown(ds->eventprov);
    router_free(ds->router);
    delivery_free(ds->delivery);
    hosting_free(ds->settings.hosting);
    uv_run(ds->loop, UV_RUN_NOWAIT);
    instance_env_free(ds->instances);
    free_config(ds);
}

/* The control socket, then the event sources: the process connector, the
 * repository's first load, the pollers and the timer instructions. */
static bool
start_sources(struct wmid_daemon *ds)
{
    wmi_error err;
    memset(&err, 0, sizeof err);
    ds->control = control_new(ds->loop, &ds->settings, ds->router, ds->delivery, ds->eventprov, ds->instances, &err);
    if (ds->control == NULL) {
        log_msg(WMI_LOG_ERR, "control socket %s: %s", err.source, err.text);
        return false;
    }
    control_set_reload(ds->control, reload_config, ds);
    struct wmid_repo_ops ops;
    reload_repository_ops(ds, &ops);
    control_set_repository(ds->control, &ops);
    ds->proc = proc_start(ds->loop, &ds->settings, ds->instances, ds->eventprov);
    eventprov_sync(ds->eventprov, ds->router); /* the process connector's sink */
    repository_update(ds->instances, &ds->objects, NULL); /* the first load: no events */
    ds->intrinsic = intrinsic_start(ds->loop, &ds->settings, ds->router, ds->instances);
    ds->timers = timers_start(ds->loop, &ds->objects, ds->router);
    return true;
}

/* SIGTERM, SIGINT and SIGHUP on the loop; then the ones held during
 * start-up are let through. */
static void
start_signals(struct wmid_daemon *ds, const sigset_t *held)
{
    uv_signal_init(ds->loop, &ds->sigterm);
    uv_signal_init(ds->loop, &ds->sigint);
    uv_signal_init(ds->loop, &ds->sighup);
    ds->sigterm.data = ds->sigint.data = ds->sighup.data = ds;
    uv_signal_start(&ds->sigterm, on_signal, SIGTERM);
    uv_signal_start(&ds->sigint, on_signal, SIGINT);
    uv_signal_start(&ds->sighup, on_signal, SIGHUP);
    pthread_sigmask(SIG_UNBLOCK, held, NULL);
}

/* After the loop: drain what is queued, then release everything.  Never
 * returns when a plugin call outlived the drain. */
static void
stop_all(struct wmid_daemon *ds)
{
    bool drained = delivery_shutdown(ds->delivery, ds->settings.shutdown_timeout_ms);
    control_close(ds->control);
    json_t *stats = router_stats_json(ds->router);
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
    for (size_t i = 0; i < router_provider_count(ds->router); i++)
        eventprov_unload(router_provider_at(ds->router, i));
    eventprov_shutdown(ds->eventprov);
    router_free(ds->router);
    delivery_free(ds->delivery);
    hosting_free(ds->settings.hosting); /* the last provider closed its host */
    uv_walk(ds->loop, on_close_walk, NULL);
    uv_run(ds->loop, UV_RUN_DEFAULT);
    uv_loop_close(ds->loop);
    instance_env_free(ds->instances); /* the pollers and the connector are gone */
    free_config(ds);
}

int
main(int argc, char **argv)
{
    struct options opt = {0};
    struct wmid_daemon ds;
    wmi_error err;

    memset(&ds, 0, sizeof ds);
    parse_flags(argc, argv, &opt);
    ds.config_path = opt.config;
    ds.verbose = opt.verbose;
    /* The daemon never forks: systemd (Type=notify) or the shell keeps it.
     * -d is accepted for familiarity and adds timestamps to the log. */
    log_init(WMI_LOG_INFO, opt.foreground || isatty(STDERR_FILENO));
    int rc = check_config(&ds, &opt);
    if (rc != EXIT_OK || opt.check_only) {
        if (rc == EXIT_OK)
            free_config(&ds);
        return rc;
    }

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
    memset(&err, 0, sizeof err);
    if (!start_engine(&ds, &err)) {
        print_config_error(&err);
        return EXIT_CONFIG;
    }
    if (!start_sources(&ds)) {
        stop_engine_early(&ds);
        return EXIT_RUNTIME;
    }
    start_signals(&ds, &held);
    log_notice("wmieventd %s ready: %zu objects from %s", WMIEVENT_VERSION, ds.objects.ninstances,
               ds.settings.object_dir);
    notify_systemd("READY=1");

    uv_run(ds.loop, UV_RUN_DEFAULT);
    stop_all(&ds);
    return EXIT_OK;
}
