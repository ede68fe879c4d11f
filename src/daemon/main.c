/*
 * main.c - wmieventd: flags, start-up, signals, shutdown.
 *
 *   wmieventd [-dnv] [-f file]
 *
 * Start-up order: settings, object dir (classes, then instances), router
 * (filters compiled, bindings resolved), consumer provider plugins, the
 * control socket, the process event source; then READY=1 to systemd.
 * SIGTERM/SIGINT stop accepting, drain the queues within
 * shutdown_timeout_ms, and exit 0.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/intrinsic.h" /* intrinsic events (issue 3) */
#include "daemon/wmieventd.h"

#define DEFAULT_CONFIG "/etc/wmieventd/wmieventd.json"

/* Exit codes (wmieventd(8)). */
enum { EXIT_OK = 0, EXIT_CONFIG = 1, EXIT_USAGE = 2, EXIT_RUNTIME = 3 };

struct daemon_state {
    uv_loop_t *loop;
    struct wmid_settings settings;
    struct wmid_objects objects;
    struct wmid_delivery *delivery;
    struct wmid_router *router;
    struct wmid_control *control;
    struct wmid_proc *proc;
    struct wmid_intrinsic *intrinsic; /* intrinsic events (issue 3) */
    struct wmid_timers *timers;
    uv_signal_t sigterm, sigint, sighup;
    bool stopping;
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
    intrinsic_stop(ds->intrinsic); /* intrinsic events (issue 3) */
    ds->intrinsic = NULL;          /* intrinsic events (issue 3) */
    timers_stop(ds->timers);
    ds->timers = NULL;
    uv_stop(ds->loop);
}

static void
on_signal(uv_signal_t *h, int signum)
{
    struct daemon_state *ds = h->data;
    if (signum == SIGHUP) {
        log_notice("SIGHUP: reloading is not implemented in this version; restart the daemon to apply changes");
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
    if (!config_load_objects(ds.settings.object_dir, &ds.objects, &err)) {
        print_config_error(&err);
        config_free_settings(&ds.settings);
        return EXIT_CONFIG;
    }
    /* The router checks references and queries; -n stops after it. */
    ds.router = router_new(&ds.objects, &ds.settings, NULL, &err);
    if (ds.router == NULL || !timers_check(&ds.objects, &err)) {
        router_free(ds.router);
        print_config_error(&err);
        config_free_objects(&ds.objects);
        config_free_settings(&ds.settings);
        return EXIT_CONFIG;
    }
    if (check_only) {
        fprintf(stderr, "wmieventd: configuration OK (%s, %zu objects)\n", config, ds.objects.ninstances);
        router_free(ds.router);
        config_free_objects(&ds.objects);
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
    ds.delivery = delivery_new(ds.loop, &ds.settings);
    ds.router = router_new(&ds.objects, &ds.settings, ds.delivery, &err);
    if (ds.delivery == NULL || ds.router == NULL) {
        print_config_error(&err);
        return EXIT_CONFIG;
    }
    router_load_providers(ds.router, &ds.settings);
    router_start(ds.router, ds.loop);
    ds.control = control_new(ds.loop, &ds.settings, ds.router, ds.delivery, &err);
    if (ds.control == NULL) {
        log_msg(WMI_LOG_ERR, "control socket %s: %s", err.source, err.text);
        delivery_shutdown(ds.delivery, 0);
        router_free(ds.router);
        delivery_free(ds.delivery);
        uv_run(ds.loop, UV_RUN_NOWAIT);
        config_free_objects(&ds.objects);
        config_free_settings(&ds.settings);
        return EXIT_RUNTIME;
    }
    ds.proc = proc_start(ds.loop, &ds.settings, ds.router);
    ds.intrinsic = intrinsic_start(ds.loop, &ds.settings, ds.router); /* intrinsic events (issue 3) */
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
    router_free(ds.router);
    delivery_free(ds.delivery);
    uv_walk(ds.loop, on_close_walk, NULL);
    uv_run(ds.loop, UV_RUN_DEFAULT);
    uv_loop_close(ds.loop);
    config_free_objects(&ds.objects);
    config_free_settings(&ds.settings);
    return EXIT_OK;
}
