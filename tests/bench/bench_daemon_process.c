/*
 * bench_daemon_process.c - the cost of polling Win32_Process: one
 * enumeration of the built-in provider (src/daemon/providers/win32_process.c,
 * through the instance.h interface), per 1,000 processes.
 *
 *   usage: bench_daemon_process [-n CHILDREN] [-r REPS]
 *
 * Measured twice: with the processes the machine has, then with CHILDREN
 * (default 1,000) more, `sleep 60` children this program starts (and kills
 * at the end; they also die with it: PR_SET_PDEATHSIG).  For each:
 *
 *   cold        the first enumeration of a new provider state: every
 *               process is new, so its exe link, cmdline and sessionid are
 *               read besides its stat (what a poller's first scan, or a
 *               scan after a burst of process starts, costs)
 *   enumerate   a steady-state enumeration (the per-process cache is warm:
 *               one read of /proc/PID/stat and one instance built per
 *               process), best and median of REPS (default 21)
 *   scan+diff   what the intrinsic poller does per tick (intrinsic.c):
 *               enumerate into a new snapshot (keyed by object path), then
 *               snapshot_diff against the previous one for creation,
 *               deletion and modification; best and median of REPS
 *
 * Prints "POLL ..." lines and a markdown table, in us per scan and us per
 * 1,000 processes.  On a shared machine the best is the figure to compare
 * (the median carries the neighbours' load).  Linked with the daemon's objects (bench_daemon_%).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/providers/providers.h"
#include "daemon/wmieventd.h"
#include "daemon/log.h"

static pid_t *children;
static size_t nchildren;

static double
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static _Noreturn void
die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_daemon_process: %s%s\n", what, detail);
    exit(1);
}

static void
kill_children(void)
{
    for (size_t i = 0; i < nchildren; i++)
        kill(children[i], SIGKILL);
    for (size_t i = 0; i < nchildren; i++)
        while (waitpid(children[i], NULL, 0) < 0 && errno == EINTR)
            ;
    nchildren = 0;
}

static void
on_signal(int sig)
{
    for (size_t i = 0; i < nchildren; i++)
        kill(children[i], SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Start @n `sleep 60` and wait until each runs the sleep image. */
static void
spawn_children(size_t n)
{
    children = calloc(n, sizeof *children);
    if (children == NULL)
        die("out of memory", "");
    pid_t parent = getpid();
    for (size_t i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            kill_children();
            die("fork: ", strerror(errno));
        }
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(1);
            execlp("sleep", "sleep", "60", (char *)NULL);
            _exit(127);
        }
        children[nchildren++] = pid;
    }
    /* Wait for every exec, so that the processes are stable sleeps when
     * measured (a forked child still shows this program's image). */
    double t0 = now_us();
    for (size_t i = 0; i < nchildren; i++) {
        char path[64], comm[64];
        snprintf(path, sizeof path, "/proc/%d/comm", (int)children[i]);
        for (;;) {
            ssize_t got = instance_read_file(path, comm, sizeof comm);
            if (got > 0 && strncmp(comm, "sleep", 5) == 0)
                break;
            if (now_us() - t0 > 30e6) {
                kill_children();
                die("children did not exec sleep within 30 s", "");
            }
            usleep(1000);
        }
    }
}

struct counter {
    size_t n;
};

static void
count_fn(wmi_object *inst, void *arg)
{
    (void)inst;
    ((struct counter *)arg)->n++;
}

static void
collect_fn(wmi_object *inst, void *arg)
{
    snapshot_add(arg, inst);
}

static void
change_fn(unsigned kind, wmi_object *target, wmi_object *previous, void *arg)
{
    (void)kind;
    (void)target;
    (void)previous;
    (*(size_t *)arg)++;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct row {
    const char *label;
    size_t procs;
    double cold_us, enum_us, scan_us, enum_best, scan_best;
    size_t changes;
};

static struct row
measure(const wmi_schema *schema, const char *label, int reps)
{
    const struct wmid_instance_provider *ip = &wmid_ip_win32_process;
    struct row row = {label, 0, 0, 0, 0, 0, 0, 0};
    double *t = calloc((size_t)reps, sizeof *t);
    if (t == NULL)
        die("out of memory", "");

    /* Cold: a fresh provider state. */
    struct wmid_instance_env *env = instance_env_new();
    void *state = ip->open(env, schema);
    if (state == NULL)
        die("the Win32_Process provider did not open", "");
    struct counter c = {0};
    double t0 = now_us();
    if (WMI_FAILED(ip->enumerate(state, count_fn, &c)))
        die("enumerate failed", "");
    row.cold_us = now_us() - t0;
    row.procs = c.n;

    /* Steady-state enumerations. */
    for (int i = 0; i < reps; i++) {
        c.n = 0;
        t0 = now_us();
        ip->enumerate(state, count_fn, &c);
        t[i] = now_us() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    row.enum_us = t[reps / 2];
    row.enum_best = t[0];

    /* The poller's tick: scan into a snapshot, diff with the previous. */
    struct wmid_snapshot *prev = snapshot_new();
    ip->enumerate(state, collect_fn, prev);
    size_t changes = 0;
    for (int i = 0; i < reps; i++) {
        t0 = now_us();
        struct wmid_snapshot *cur = snapshot_new();
        ip->enumerate(state, collect_fn, cur);
        snapshot_diff(prev, cur, WMID_KIND_CREATION | WMID_KIND_DELETION | WMID_KIND_MODIFICATION, change_fn,
                      &changes);
        snapshot_unref(prev);
        prev = cur;
        t[i] = now_us() - t0;
    }
    snapshot_unref(prev);
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    row.scan_us = t[reps / 2];
    row.scan_best = t[0];
    row.changes = changes;
    ip->close(state);
    instance_env_free(env);
    free(t);

    double k = 1000.0 / (double)row.procs;
    printf("POLL case=%s processes=%zu cold_us=%.0f enumerate_us_best=%.0f enumerate_us_median=%.0f "
           "scan_diff_us_best=%.0f scan_diff_us_median=%.0f cold_us_per_1000=%.0f "
           "enumerate_us_per_1000_best=%.0f enumerate_us_per_1000_median=%.0f "
           "scan_diff_us_per_1000_best=%.0f scan_diff_us_per_1000_median=%.0f changes=%zu\n",
           row.label, row.procs, row.cold_us, row.enum_best, row.enum_us, row.scan_best, row.scan_us,
           row.cold_us * k, row.enum_best * k, row.enum_us * k, row.scan_best * k, row.scan_us * k, row.changes);
    fflush(stdout);
    return row;
}

int
main(int argc, char **argv)
{
    size_t n = 1000;
    int reps = 21, ch;
    while ((ch = getopt(argc, argv, "n:r:")) != -1) {
        switch (ch) {
        case 'n': n = (size_t)strtoul(optarg, NULL, 10); break;
        case 'r': reps = atoi(optarg); break;
        default: die("usage: bench_daemon_process [-n CHILDREN] [-r REPS]", "");
        }
    }
    if (reps <= 0)
        die("usage: bench_daemon_process [-n CHILDREN] [-r REPS]", "");
    log_init(WMI_LOG_ERR, false);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);

    wmi_schema *schema = wmi_schema_new();
    if (schema == NULL || WMI_FAILED(wmi_schema_add_instance_classes(schema, NULL)))
        die("cannot build the instance classes", "");

    struct row rows[2];
    size_t nrows = 0;
    rows[nrows++] = measure(schema, "machine", reps);
    if (n > 0) {
        double t0 = now_us();
        spawn_children(n);
        printf("POLL spawned=%zu children (sleep 60) in %.0f ms\n", nchildren, (now_us() - t0) / 1e3);
        rows[nrows++] = measure(schema, "machine+children", reps);
        kill_children();
    }

    printf("\n| processes | cold (first) scan, us | per 1,000 | enumerate, us best / median | per 1,000 "
           "| scan + diff, us best / median | per 1,000 |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < nrows; i++) {
        const struct row *r = &rows[i];
        double k = 1000.0 / (double)r->procs;
        printf("| %zu (%s) | %.0f | %.0f | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f |\n", r->procs,
               r->label, r->cold_us, r->cold_us * k, r->enum_best, r->enum_us, r->enum_best * k, r->enum_us * k,
               r->scan_best, r->scan_us, r->scan_best * k, r->scan_us * k);
    }
    wmi_schema_free(schema);
    return 0;
}
