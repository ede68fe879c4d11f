/*
 * bench_daemon_router.c - the router's cost per event (router_indicate,
 * src/daemon/engine/router.c) as the number of filters grows.
 *
 *   usage: bench_daemon_router [-t SECONDS] [-r REPS] DIR...
 *
 * Each DIR is an object dir written by `mkconf.py router DIR --filters N`:
 * N filters, half FROM Bench_Hot and the rest spread over the 100 classes
 * Bench_Cold_000..099, none of which matches the events sent here, all
 * bound to one (never loaded) consumer.  For every DIR the router is built
 * from the loaded objects exactly as the daemon builds it (config_load_objects
 * + router_new; no delivery engine: no filter matches, so nothing is ever
 * pushed) and one borrowed event of each of these classes is indicated over
 * and over:
 *
 *   hot        Bench_Hot: the class with half of the filters
 *   hot-child  Bench_HotChild, a subclass of Bench_Hot without filters of
 *              its own: the filters of its ancestor apply
 *   cold       Bench_Cold_000: one of the 100 classes that share the other half
 *   quiet      Bench_Quiet: a class no filter selects
 *
 * "tested" is the number of filters FROM the event's class or one of its
 * ancestors (counted here independently of the router's index, with
 * wmi_object_isa on every filter's FROM class): the filters the event must
 * be evaluated against.  The claim to check is that ns/event follows
 * "tested", not the total number of filters.
 *
 * Timing: each (DIR, event) is run for SECONDS (default 0.1) per
 * repetition, REPS repetitions (default 5), the best is reported.  Prints
 * one "ROUTER ..." line per measurement and a markdown table.
 *
 * Linked with the daemon's objects (Makefile rule bench_daemon_%).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/wmieventd.h"
#include "daemon/config/config.h"
#include "daemon/engine/engine.h"
#include "daemon/log.h"
#include "daemon/providers/providers.h"

/* The filter checks wmieventd itself builds with. */
static const struct wmid_router_hooks bench_hooks = {.check_filter = intrinsic_check_filter,
                                                    .within_has_effect = intrinsic_within_has_effect};

struct ev_kind {
    const char *label;
    const char *cls;
};

static const struct ev_kind kinds[] = {
    {"hot", "Bench_Hot"},
    {"hot-child", "Bench_HotChild"},
    {"cold", "Bench_Cold_000"},
    {"quiet", "Bench_Quiet"},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

struct result {
    size_t filters;
    const char *label;
    const char *cls;
    size_t tested;
    double ns;
};

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static _Noreturn void
die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_daemon_router: %s%s\n", what, detail);
    exit(1);
}

/* Best ns/event of @reps runs of at least @secs each. */
static double
time_indicate(struct wmid_router *r, wmi_object *ev, double secs, int reps)
{
    /* Calibrate: how many calls take about secs/10. */
    size_t n = 1;
    for (;;) {
        double t0 = now_s();
        for (size_t i = 0; i < n; i++)
            router_indicate(r, ev, 128);
        double dt = now_s() - t0;
        if (dt >= secs / 10 || n >= ((size_t)1 << 40))
            break;
        n *= 2;
    }
    double best = 1e300;
    for (int rep = 0; rep < reps; rep++) {
        size_t done = 0;
        double t0 = now_s(), dt;
        do {
            for (size_t i = 0; i < n; i++)
                router_indicate(r, ev, 128);
            done += n;
            dt = now_s() - t0;
        } while (dt < secs);
        double ns = dt * 1e9 / (double)done;
        if (ns < best)
            best = ns;
    }
    return best;
}

static void
group(char *buf, size_t len, double v)
{
    unsigned long long x = (unsigned long long)(v + 0.5);
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%llu", x);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < len; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = '\0';
}

int
main(int argc, char **argv)
{
    double secs = 0.1;
    int reps = 5, ch;
    while ((ch = getopt(argc, argv, "t:r:")) != -1) {
        switch (ch) {
        case 't': secs = atof(optarg); break;
        case 'r': reps = atoi(optarg); break;
        default: die("usage: bench_daemon_router [-t SECONDS] [-r REPS] DIR...", "");
        }
    }
    if (optind >= argc || secs <= 0 || reps <= 0)
        die("usage: bench_daemon_router [-t SECONDS] [-r REPS] DIR...", "");
    log_init(WMI_LOG_ERR, false);

    size_t ndirs = (size_t)(argc - optind);
    struct result *res = calloc(ndirs * NKINDS, sizeof *res);
    size_t nres = 0;
    struct wmid_settings s;
    memset(&s, 0, sizeof s);
    s.plugin_dir = (char *)"/nonexistent";
    s.default_consumer_queue_bytes = 1 << 20;
    s.min_within_ms = 100;

    for (int d = optind; d < argc; d++) {
        struct wmid_objects o;
        wmi_error err;
        memset(&o, 0, sizeof o);
        memset(&err, 0, sizeof err);
        double t0 = now_s();
        if (!config_load_objects(argv[d], &o, &err))
            die("config_load_objects: ", err.text);
        double t1 = now_s();
        struct wmid_router *r = router_new(&o, &s, NULL, &bench_hooks, &err);
        if (r == NULL)
            die("router_new: ", err.text);
        double t2 = now_s();
        size_t nf = router_filter_count(r);
        printf("ROUTER-BUILD filters=%zu load_ms=%.0f router_new_ms=%.0f\n", nf, (t1 - t0) * 1e3,
               (t2 - t1) * 1e3);
        for (size_t k = 0; k < NKINDS; k++) {
            wmi_object *ev;
            if (WMI_FAILED(wmi_object_new(o.schema, kinds[k].cls, &ev)))
                die("no class (run mkconf.py router): ", kinds[k].cls);
            wmi_object_put_string(ev, "Name", "proc-110.exe");
            wmi_object_put_uint64(ev, "Value", 5);
            size_t tested = 0;
            for (size_t i = 0; i < nf; i++) {
                struct wmid_filter *f = router_filter_at(r, i);
                if (!router_filter_polled(f) && wmi_object_isa(ev, wmi_query_class(f->query)))
                    tested++;
            }
            unsigned long long routed0 = atomic_load(&router_stats(r)->routed);
            double ns = time_indicate(r, ev, secs, reps);
            if (atomic_load(&router_stats(r)->routed) != routed0)
                die("an event matched a filter: the configuration is not mkconf.py router's", "");
            printf("ROUTER filters=%zu event=%s class=%s tested=%zu ns_event=%.1f\n", nf, kinds[k].label,
                   kinds[k].cls, tested, ns);
            fflush(stdout);
            res[nres++] = (struct result){nf, kinds[k].label, kinds[k].cls, tested, ns};
            wmi_object_unref(ev);
        }
        router_free(r);
        config_free_objects(&o);
    }

    /* The cost of an event with no filter to test, per configuration: the
     * baseline the per-filter figure is taken over. */
    printf("\n| filters (total) | event | filters on its class + ancestors | ns/event | ns per filter tested |\n");
    printf("|---:|---|---:|---:|---:|\n");
    for (size_t i = 0; i < nres; i++) {
        double base = 0;
        for (size_t j = 0; j < nres; j++)
            if (res[j].filters == res[i].filters && res[j].tested == 0)
                base = res[j].ns;
        char tot[32], ns[32];
        group(tot, sizeof tot, (double)res[i].filters);
        if (res[i].ns < 100)
            snprintf(ns, sizeof ns, "%.1f", res[i].ns);
        else
            group(ns, sizeof ns, res[i].ns);
        if (res[i].tested > 0)
            printf("| %s | %s (%s) | %zu | %s | %.1f |\n", tot, res[i].label, res[i].cls, res[i].tested, ns,
                   (res[i].ns - base) / (double)res[i].tested);
        else
            printf("| %s | %s (%s) | 0 | %s | - |\n", tot, res[i].label, res[i].cls, ns);
    }
    free(res);
    return 0;
}
