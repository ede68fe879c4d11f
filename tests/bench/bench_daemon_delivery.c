/*
 * bench_daemon_delivery.c - the delivery engine (src/daemon/engine/delivery.c) from
 * an in-process provider: throughput, latency, batching gain and deadline
 * detection (issue 4, "Benchmarks" items 1-4).
 *
 *   usage: bench_daemon_delivery -d DIR -n NULL_SO -p DELIVERY_SO
 *              [-N EVENTS] [-R RUNS] [-L LATENCY_SECONDS] [-W BATCH_SECONDS]
 *              [-T DEADLINE_TRIALS] [-D DEADLINE_MS] [-b BURST] [-M MICRO_CALLS]
 *              [-P TICK_US] [-c throughput,latency,batching,deadline]
 *
 * The program writes an object dir under DIR (conf.d/10-delivery.json) and
 * builds what main.c builds from it: delivery_new on a uv loop, router_new,
 * delivery_set_raise_cb (forwarding to router_raise, as main.c does, after
 * taking the time), delivery_set_resume_cb (as control.c does),
 * router_load_providers, router_start.  Its main thread is the in-process
 * provider *and* the loop thread, as the control socket's ingest is in the
 * daemon: it calls router_indicate for a burst of events (-b, 256), then
 * router_flush, then runs the loop once without blocking (the reap, raise,
 * resume and watchdog asyncs and timers); when router_indicate asks it to
 * pause (SlowDownProviders), it calls delivery_want_resume and runs the
 * loop until the resume callback says go.
 *
 * Events come from a pool of 4,096 pre-built objects per class (ProcessName,
 * ProcessID, Severity), indicated in turn and borrowed: what is timed is
 * router_indicate (class index + a filter without WHERE) and the engine,
 * not building events.  Every filter is "SELECT * FROM <class>".
 *
 * 1. Throughput to a null consumer (tests/bench/plugins/null.c, max_batch
 *    1024, the socket benchmark's consumer): asynchronous and synchronous
 *    (DeliverSynchronously = TRUE), to one consumer and to four (one filter,
 *    four bindings, four logical consumers on four physical consumers: four
 *    sinks and, asynchronously, four delivery threads).  N events per run,
 *    RUNS runs, the median by events/s.  Clock from the first indicate to
 *    the moment every delivery is counted (the consumers' "delivered"
 *    counters).  CPU: getrusage(RUSAGE_SELF) (every thread) and
 *    RUSAGE_THREAD (the producer + loop thread), per delivery.  Then the
 *    synchronous path alone, ns per call, best of RUNS runs of M calls:
 *    the null plugin's indicate_to_consumer called directly, delivery_call,
 *    and router_indicate on a synchronous binding.
 * 2. Asynchronous latency from router_indicate to the return of
 *    IndicateToConsumer (plugins/delivery.c "stamp": it stores the return
 *    time of the call that carried the k-th event; the program the time
 *    just before it indicated the k-th event; one consumer keeps order),
 *    p50/p99/p99.9/max, with the producer paced at 10 % and 80 % of the
 *    lower of the asynchronous one-consumer rate of 1 and this producer's
 *    own unpaced maximum, for LATENCY_SECONDS each: every TICK_US (100) it
 *    sends the events due (at most BURST at a time, router_flush after
 *    each) and sleeps (nanosleep), as an event loop reading bursts does;
 *    then again with a producer that spins between events ("-spin": the
 *    engine's best case; -P 0: spin only).  Also: the events over 1 ms, grouped in episodes
 *    (1 ms of sending without one ends an episode), and the process's
 *    involuntary context switches meanwhile: on a shared 2-CPU machine
 *    the tail follows them.  The
 *    daemon's own histogram (delivery_consumer_stats_json, log2 buckets)
 *    is printed next to it.
 * 3. Batching gain: a consumer that busy-waits (spins on CLOCK_MONOTONIC)
 *    1 ms per call + 1 us per event, max_batch 4096.  The producer keeps
 *    the consumer's backlog (queued_events) at 2 x max_batch with automatic
 *    batching, at 64 with every event sent WMID_PUSH_SOLO
 *    (router_indicate_flags: WBEM_FLAG_MUST_NOT_BATCH): the consumer never
 *    waits for work in either; events/s delivered over BATCH_SECONDS (after
 *    0.2 s of warm-up) each way.
 * 4. Deadline detection: a consumer whose call sleeps 2 x DEADLINE_MS
 *    (nanosleep) with consumer_deadline_ms = DEADLINE_MS (100).  Per trial
 *    one event; lateness = the time the engine's report reached the raise
 *    callback on the loop thread (__ConsumerFailureEvent with
 *    WBEM_E_PROVIDER_TIMED_OUT, delivery_set_raise_cb) - (the time the
 *    plugin's call started + the deadline), and the same up to the return
 *    of IndicateToConsumer of a consumer subscribed to
 *    "SELECT * FROM __ConsumerFailureEvent".  min/median/max over TRIALS.
 *
 * Prints "DELIVERY ..." lines (key=value) and the targets of issue 4 with
 * the ratio to each; never fails on a missed target.
 *
 * Linked with the daemon's objects (Makefile rule bench_daemon_%).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/wmieventd.h"
#include "plugins/delivery.h"
#include "daemon/config/config.h"
#include "daemon/engine/engine.h"
#include "daemon/log.h"
#include "daemon/providers/providers.h"

/* The filter checks wmieventd itself builds with. */
static const struct wmid_router_hooks bench_hooks = {.check_filter = intrinsic_check_filter,
                                                    .within_has_effect = intrinsic_within_has_effect};

#define POOL 4096
#define SIZE_HINT 112 /* bytes: the bench line's average (bench_socket) */

/* Slots of plugins/delivery.c, one per logical consumer. */
enum { SLOT_LAT10, SLOT_LAT80, SLOT_BATCH, SLOT_DEAD, SLOT_REC, SLOT_LATMAX, SLOT_LAT10S, SLOT_LAT80S };

struct opts {
    const char *dir, *null_so, *del_so;
    size_t n;
    int runs;
    double lat_secs, batch_secs;
    int trials;
    unsigned deadline_ms;
    size_t burst;
    size_t micro;
    unsigned tick_us;
};

struct bench {
    struct opts o;
    uv_loop_t loop;
    uv_timer_t tick;
    struct wmid_settings s;
    struct wmid_objects objs;
    struct wmid_delivery *d;
    struct wmid_router *r;
    struct bdel_shared *sh;
    bool resumed;
    unsigned long long pauses;
    /* Deadline reports seen by the raise callback, and when. */
    uint64_t *raise_ns;
    size_t nraise, capraise;
    /* Deadline reports outside the deadline case: calls of consumers that
     * never take more than microseconds, reported late (an engine bug). */
    bool in_deadline;
    unsigned long long spurious;
};

static struct bench B;

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static _Noreturn void
die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_daemon_delivery: %s%s\n", what, detail);
    exit(1);
}

static double
cpu_s(int who)
{
    struct rusage ru;
    getrusage(who, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec * 1e-6;
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

/* ====================================================================
 * Configuration
 * ==================================================================== */

static void
write_objects(const struct opts *o, char *confd, size_t len)
{
    char path[4200];
    snprintf(confd, len, "%s/conf.d", o->dir);
    mkdir(o->dir, 0755);
    if (mkdir(confd, 0755) != 0 && errno != EEXIST)
        die("cannot create ", confd);
    snprintf(path, sizeof path, "%s/10-delivery.json", confd);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        die("cannot write ", path);
    fprintf(f, "[\n");
    /* Event classes: one per scenario, so that each has its own filter. */
    fprintf(f, "{\"__GENUS\":1,\"__CLASS\":\"Bench_DEvent\",\"__SUPERCLASS\":\"__ExtrinsicEvent\","
               "\"__PROPERTIES\":{\"ProcessName\":\"string\",\"ProcessID\":\"uint32\",\"Severity\":\"uint32\"}},\n");
    static const char *const classes[] = {"Bench_A1", "Bench_A4", "Bench_S1", "Bench_S4",
                                          "Bench_L10", "Bench_L80", "Bench_L10S", "Bench_L80S", "Bench_LMax",
                                          "Bench_Batch", "Bench_Dead"};
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
        fprintf(f, "{\"__GENUS\":1,\"__CLASS\":\"%s\",\"__SUPERCLASS\":\"Bench_DEvent\",\"__PROPERTIES\":{}},\n",
                classes[i]);
        fprintf(f, "{\"__CLASS\":\"__EventFilter\",\"Name\":\"%s\",\"QueryLanguage\":\"WQL\","
                   "\"Query\":\"SELECT * FROM %s\"},\n",
                classes[i] + 6, classes[i]);
    }
    fprintf(f, "{\"__CLASS\":\"__EventFilter\",\"Name\":\"Failures\",\"QueryLanguage\":\"WQL\","
               "\"Query\":\"SELECT * FROM __ConsumerFailureEvent\"},\n");
    /* The null consumer (null.so), as the socket benchmark's. */
    fprintf(f, "{\"__GENUS\":1,\"__CLASS\":\"Bench_NullConsumer\",\"__SUPERCLASS\":\"__EventConsumer\","
               "\"__PROPERTIES\":{\"Name\":{\"CIMType\":\"string\",\"Key\":true},\"CounterFile\":\"string\"}},\n");
    fprintf(f, "{\"__CLASS\":\"__Win32Provider\",\"Name\":\"BenchNull\",\"Library\":\"%s\"},\n", o->null_so);
    fprintf(f, "{\"__CLASS\":\"__EventConsumerProviderRegistration\",\"Provider\":\"__Win32Provider.Name=\\\"BenchNull\\\"\","
               "\"ConsumerClassNames\":[\"Bench_NullConsumer\"]},\n");
    /* The delivery bench consumer (delivery.so). */
    fprintf(f, "{\"__GENUS\":1,\"__CLASS\":\"Bench_DeliveryConsumer\",\"__SUPERCLASS\":\"__EventConsumer\","
               "\"__PROPERTIES\":{\"Name\":{\"CIMType\":\"string\",\"Key\":true},\"Slot\":\"uint32\","
               "\"Mode\":\"string\",\"CallCostUs\":\"uint32\",\"EventCostNs\":\"uint32\",\"SleepMs\":\"uint32\"}},\n");
    fprintf(f, "{\"__CLASS\":\"__Win32Provider\",\"Name\":\"BenchDelivery\",\"Library\":\"%s\"},\n", o->del_so);
    fprintf(f, "{\"__CLASS\":\"__EventConsumerProviderRegistration\","
               "\"Provider\":\"__Win32Provider.Name=\\\"BenchDelivery\\\"\","
               "\"ConsumerClassNames\":[\"Bench_DeliveryConsumer\"]},\n");

    /* Null consumers and their bindings. */
    struct {
        const char *filter, *consumer;
        bool sync;
    } nb[] = {
        {"A1", "A1", false},   {"A4", "A4_0", false}, {"A4", "A4_1", false}, {"A4", "A4_2", false},
        {"A4", "A4_3", false}, {"S1", "S1", true},    {"S4", "S4_0", true},  {"S4", "S4_1", true},
        {"S4", "S4_2", true},  {"S4", "S4_3", true},
    };
    for (size_t i = 0; i < sizeof nb / sizeof nb[0]; i++) {
        fprintf(f, "{\"__CLASS\":\"Bench_NullConsumer\",\"Name\":\"%s\"},\n", nb[i].consumer);
        fprintf(f, "{\"__CLASS\":\"__FilterToConsumerBinding\",\"Filter\":\"__EventFilter.Name=\\\"%s\\\"\","
                   "\"Consumer\":\"Bench_NullConsumer.Name=\\\"%s\\\"\",\"SlowDownProviders\":true%s},\n",
                nb[i].filter, nb[i].consumer, nb[i].sync ? ",\"DeliverSynchronously\":true" : "");
    }
    /* delivery.so consumers. */
    struct {
        const char *filter, *consumer, *mode;
        int slot;
        unsigned call_us, event_ns, sleep_ms;
    } db[] = {
        {"L10", "Lat10", "stamp", SLOT_LAT10, 0, 0, 0},
        {"L80", "Lat80", "stamp", SLOT_LAT80, 0, 0, 0},
        {"LMax", "LatMax", "stamp", SLOT_LATMAX, 0, 0, 0},
        {"L10S", "Lat10Spin", "stamp", SLOT_LAT10S, 0, 0, 0},
        {"L80S", "Lat80Spin", "stamp", SLOT_LAT80S, 0, 0, 0},
        {"Batch", "Batch", "cost", SLOT_BATCH, 1000, 1000, 0},
        {"Dead", "Dead", "sleep", SLOT_DEAD, 0, 0, 2 * o->deadline_ms},
        {"Failures", "Rec", "record", SLOT_REC, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof db / sizeof db[0]; i++) {
        fprintf(f, "{\"__CLASS\":\"Bench_DeliveryConsumer\",\"Name\":\"%s\",\"Slot\":%d,\"Mode\":\"%s\","
                   "\"CallCostUs\":%u,\"EventCostNs\":%u,\"SleepMs\":%u},\n",
                db[i].consumer, db[i].slot, db[i].mode, db[i].call_us, db[i].event_ns, db[i].sleep_ms);
        fprintf(f, "{\"__CLASS\":\"__FilterToConsumerBinding\",\"Filter\":\"__EventFilter.Name=\\\"%s\\\"\","
                   "\"Consumer\":\"Bench_DeliveryConsumer.Name=\\\"%s\\\"\",\"SlowDownProviders\":true}%s\n",
                db[i].filter, db[i].consumer, i + 1 < sizeof db / sizeof db[0] ? "," : "");
    }
    fprintf(f, "]\n");
    if (fclose(f) != 0)
        die("cannot write ", path);
}

static struct wmid_filter *
filter_named(const char *name)
{
    for (size_t i = 0; i < router_filter_count(B.r); i++) {
        struct wmid_filter *f = router_filter_at(B.r, i);
        if (strcmp(f->name, name) == 0)
            return f;
    }
    die("no filter ", name);
}

/* The logical consumers bound to filter @name. */
static size_t
consumers_of(const char *name, struct wmid_consumer **out, size_t max)
{
    struct wmid_filter *f = filter_named(name);
    size_t n = 0;
    for (size_t j = 0; j < f->nbindings && n < max; j++) {
        out[n++] = f->bindings[j]->consumer;
        if (f->bindings[j]->consumer->sink == NULL)
            die("a consumer has no physical consumer (plugin not loaded?): ", f->bindings[j]->consumer->path);
    }
    return n;
}

static wmi_object **
make_pool(const char *cls)
{
    wmi_object **pool = calloc(POOL, sizeof *pool);
    if (pool == NULL)
        die("out of memory", "");
    for (size_t i = 0; i < POOL; i++) {
        if (WMI_FAILED(wmi_object_new(B.objs.schema, cls, &pool[i])))
            die("cannot build an event of ", cls);
        char name[32];
        snprintf(name, sizeof name, "proc-1%zu.exe", i % 100);
        wmi_object_put_string(pool[i], "ProcessName", name);
        wmi_object_put_uint64(pool[i], "ProcessID", 1000 + i);
        wmi_object_put_uint64(pool[i], "Severity", 3);
    }
    return pool;
}

static void
free_pool(wmi_object **pool)
{
    for (size_t i = 0; i < POOL; i++)
        wmi_object_unref(pool[i]);
    free(pool);
}

/* ====================================================================
 * The loop: callbacks, and running it until something holds
 * ==================================================================== */

static void
on_tick(uv_timer_t *t)
{
    (void)t;
}

static void
on_raise(void *arg, struct wmid_system_event *se)
{
    (void)arg;
    if (se != NULL && se->kind == WMID_SE_CONSUMER_FAILURE && se->code == WBEM_E_PROVIDER_TIMED_OUT) {
        if (!B.in_deadline)
            B.spurious++;
        else if (B.nraise < B.capraise)
            B.raise_ns[B.nraise++] = now_ns();
    }
    router_raise(B.r, se);
}

static void
on_resume(void *arg)
{
    (void)arg;
    if (delivery_is_congested(B.d)) {
        delivery_want_resume(B.d);
        return;
    }
    B.resumed = true;
}

/* Run the loop (blocking in it, as the daemon does) until @cond holds or
 * @timeout_ms passed; a 1 ms timer keeps it from sleeping past the moment
 * @cond becomes true without a wakeup of its own. */
static bool
run_until(bool (*cond)(void *), void *arg, unsigned timeout_ms)
{
    uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000ull;
    uv_timer_start(&B.tick, on_tick, 1, 1);
    bool ok;
    while (!(ok = cond(arg)) && now_ns() < end)
        uv_run(&B.loop, UV_RUN_ONCE);
    uv_timer_stop(&B.tick);
    return ok;
}

static bool
cond_resumed(void *arg)
{
    (void)arg;
    return B.resumed;
}

/* The producer was told to pause (SlowDownProviders): wait as control.c does. */
static void
pause_producer(void)
{
    B.pauses++;
    B.resumed = false;
    router_flush(B.r);
    delivery_want_resume(B.d);
    if (!run_until(cond_resumed, NULL, 60000))
        die("the engine never resumed the producer", "");
}

struct delivered_goal {
    struct wmid_consumer **c;
    size_t n;
    unsigned long long goal;
};

static unsigned long long
delivered_sum(struct wmid_consumer **c, size_t n)
{
    unsigned long long t = 0;
    for (size_t i = 0; i < n; i++)
        t += atomic_load(&c[i]->stats.delivered);
    return t;
}

static bool
cond_delivered(void *arg)
{
    struct delivered_goal *g = arg;
    return delivered_sum(g->c, g->n) >= g->goal;
}

/* ====================================================================
 * 1. Throughput
 * ==================================================================== */

struct tp {
    double ev_s, cpu_us, prod_cpu_us, wall_s;
    double mean_batch;
    unsigned long long pauses;
};

static int
cmp_tp(const void *a, const void *b)
{
    double x = ((const struct tp *)a)->ev_s, y = ((const struct tp *)b)->ev_s;
    return x < y ? -1 : x > y;
}

/* Send @n events of @pool through router_indicate in bursts; wait until
 * every consumer of @cs counted them. */
static struct tp
throughput_run(wmi_object **pool, struct wmid_consumer **cs, size_t ncs, size_t n)
{
    unsigned long long d0 = delivered_sum(cs, ncs), calls0 = 0;
    for (size_t i = 0; i < ncs; i++)
        calls0 += atomic_load(&cs[i]->stats.calls);
    unsigned long long p0 = B.pauses;
    double c0 = cpu_s(RUSAGE_SELF), pc0 = cpu_s(RUSAGE_THREAD);
    uint64_t t0 = now_ns();
    size_t k = 0;
    while (k < n) {
        bool pause = false;
        size_t end = k + B.o.burst < n ? k + B.o.burst : n;
        for (; k < end && !pause; k++)
            pause = router_indicate(B.r, pool[k % POOL], SIZE_HINT);
        router_flush(B.r);
        if (pause)
            pause_producer();
        else
            uv_run(&B.loop, UV_RUN_NOWAIT);
    }
    struct delivered_goal g = {cs, ncs, d0 + (unsigned long long)n * ncs};
    if (!run_until(cond_delivered, &g, 120000))
        die("not every event was delivered", "");
    uint64_t t1 = now_ns();
    double c1 = cpu_s(RUSAGE_SELF), pc1 = cpu_s(RUSAGE_THREAD);
    unsigned long long calls1 = 0;
    for (size_t i = 0; i < ncs; i++)
        calls1 += atomic_load(&cs[i]->stats.calls);
    double deliveries = (double)n * (double)ncs;
    struct tp r = {
        .ev_s = (double)n / ((double)(t1 - t0) * 1e-9),
        .cpu_us = (c1 - c0) * 1e6 / deliveries,
        .prod_cpu_us = (pc1 - pc0) * 1e6 / deliveries,
        .wall_s = (double)(t1 - t0) * 1e-9,
        .mean_batch = calls1 > calls0 ? deliveries / (double)(calls1 - calls0) : 0,
        .pauses = B.pauses - p0,
    };
    /* Free what the delivery threads handed back before the next run. */
    router_flush(B.r);
    uv_run(&B.loop, UV_RUN_NOWAIT);
    return r;
}

static struct tp
throughput(const char *label, const char *filter, const char *cls, bool sync)
{
    struct wmid_consumer *cs[8];
    size_t ncs = consumers_of(filter, cs, 8);
    wmi_object **pool = make_pool(cls);
    /* Warm-up: a tenth of a run, not counted. */
    throughput_run(pool, cs, ncs, B.o.n / 10 > 0 ? B.o.n / 10 : 1);
    struct tp *runs = calloc((size_t)B.o.runs, sizeof *runs);
    for (int i = 0; i < B.o.runs; i++) {
        runs[i] = throughput_run(pool, cs, ncs, B.o.n);
        printf("DELIVERY-RUN case=%s run=%d ev_s=%.0f cpu_us_delivery=%.3f\n", label, i + 1, runs[i].ev_s,
               runs[i].cpu_us);
    }
    qsort(runs, (size_t)B.o.runs, sizeof *runs, cmp_tp);
    struct tp m = runs[B.o.runs / 2];
    free(runs);
    free_pool(pool);
    unsigned long long sc = 0;
    for (size_t i = 0; i < ncs; i++)
        sc += atomic_load(&cs[i]->stats.sync_calls);
    printf("DELIVERY case=%s mode=%s consumers=%zu n=%zu ev_s=%.0f deliveries_s=%.0f cpu_us_delivery=%.3f "
           "producer_cpu_us_delivery=%.3f other_threads_cpu_us_delivery=%.3f deliveries_per_cpu_s=%.0f "
           "mean_batch=%.1f pauses=%llu sync_calls_total=%llu (median of %d)\n",
           label, sync ? "sync" : "async", ncs, B.o.n, m.ev_s, m.ev_s * (double)ncs, m.cpu_us, m.prod_cpu_us,
           m.cpu_us - m.prod_cpu_us, m.cpu_us > 0 ? 1e6 / m.cpu_us : 0, m.mean_batch, m.pauses, sc, B.o.runs);
    fflush(stdout);
    return m;
}

/* ns per call of @fn, best of RUNS runs of M calls. */
struct micro_ctx {
    struct wmi_unbound_object_sink *us;
    struct wmid_consumer *c;
    wmi_object **pool;
};

static double
micro(int what, struct micro_ctx *m)
{
    double best = 1e300;
    for (int rep = 0; rep < B.o.runs + 1; rep++) {
        uint64_t t0 = now_ns();
        bool late = false;
        for (size_t i = 0; i < B.o.micro; i++) {
            wmi_object *ev = m->pool[i % POOL];
            switch (what) {
            case 0:
                m->us->indicate_to_consumer(m->us, m->c->logical, 1, &ev);
                break;
            case 1:
                delivery_call(B.d, m->c, ev, SIZE_HINT, WMID_PUSH_SLOW_DOWN, &late);
                break;
            default:
                router_indicate(B.r, ev, SIZE_HINT);
                break;
            }
            if ((i & 255) == 255) {
                router_flush(B.r);
                uv_run(&B.loop, UV_RUN_NOWAIT);
            }
        }
        double ns = (double)(now_ns() - t0) / (double)B.o.micro;
        if (rep > 0 && ns < best) /* the first is a warm-up */
            best = ns;
        if (late)
            printf("DELIVERY warning: a synchronous call missed its deadline during the micro benchmark\n");
    }
    return best;
}

/* ====================================================================
 * 2. Latency
 * ==================================================================== */

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct slot_goal {
    struct bdel_slot *s;
    uint64_t goal;
};

static bool
cond_slot(void *arg)
{
    struct slot_goal *g = arg;
    return atomic_load(&g->s->events) >= g->goal;
}

/* Paced at @rate events/s for LATENCY_SECONDS, or, with @rate 0, N events
 * as fast as this producer goes (its maximum).  Returns the rate reached. */
static double
latency(const char *label, const char *filter, const char *cls, int slot, double rate, double pct, unsigned tick_us)
{
    struct wmid_consumer *c;
    consumers_of(filter, &c, 1);
    struct bdel_slot *s = &B.sh->slot[slot];
    size_t n = rate > 0 ? (size_t)(rate * B.o.lat_secs) : B.o.n;
    if (n < 1000)
        n = 1000;
    uint64_t *sent = calloc(n, sizeof *sent), *done = calloc(n, sizeof *done);
    if (sent == NULL || done == NULL)
        die("out of memory", "");
    s->done_ns = done;
    s->cap = n;
    atomic_store(&s->events, 0);
    wmi_object **pool = make_pool(cls);
    unsigned long long p0 = B.pauses;
    double c0 = cpu_s(RUSAGE_SELF);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    uint64_t t0 = now_ns(), last_loop = t0;
    size_t k = 0;
    while (k < n) {
        uint64_t now = now_ns();
        size_t due = rate > 0 ? (size_t)((double)(now - t0) * 1e-9 * rate) : n;
        if (due > n)
            due = n;
        if (k < due) {
            bool pause = false;
            size_t end = due - k > B.o.burst ? k + B.o.burst : due;
            for (; k < end && !pause; k++) {
                sent[k] = now_ns();
                pause = router_indicate(B.r, pool[k % POOL], SIZE_HINT);
            }
            router_flush(B.r);
            if (pause)
                pause_producer();
        }
        if (now - last_loop > 100000) { /* run the loop every 0.1 ms */
            uv_run(&B.loop, UV_RUN_NOWAIT);
            last_loop = now;
        }
        if (rate > 0 && tick_us > 0 && k >= due) {
            /* Paced: sleep until the next tick rather than spin, so that
             * the producer leaves the CPU to the delivery thread (2 CPUs). */
            struct timespec ts = {0, (long)tick_us * 1000};
            nanosleep(&ts, NULL);
        }
    }
    uint64_t t_last = sent[n - 1];
    struct slot_goal g = {s, n};
    if (!run_until(cond_slot, &g, 60000))
        die("latency: not every event was delivered", "");
    double c1 = cpu_s(RUSAGE_SELF);
    getrusage(RUSAGE_SELF, &ru1);
    s->done_ns = NULL;
    s->cap = 0;
    for (size_t i = 0; i < n; i++)
        done[i] = done[i] > sent[i] ? done[i] - sent[i] : 0;
    /* Where the tail comes from: episodes of events over 1 ms (consecutive
     * in sending order, one episode until 1 ms of sending passes without
     * one), and how much sending time they cover. */
    size_t episodes = 0, slow = 0;
    uint64_t last_slow = 0, ep_start = 0, covered = 0, longest = 0;
    for (size_t i = 0; i < n; i++) {
        if (done[i] <= 1000000)
            continue;
        slow++;
        if (episodes == 0 || sent[i] - last_slow > 1000000) {
            if (episodes > 0) {
                covered += last_slow - ep_start;
                longest = last_slow - ep_start > longest ? last_slow - ep_start : longest;
            }
            episodes++;
            ep_start = sent[i];
        }
        last_slow = sent[i];
    }
    if (episodes > 0) {
        covered += last_slow - ep_start;
        longest = last_slow - ep_start > longest ? last_slow - ep_start : longest;
    }
    qsort(done, n, sizeof *done, cmp_u64);
    double p50 = (double)done[n / 2] / 1e3, p99 = (double)done[(size_t)((double)n * 0.99)] / 1e3,
           p999 = (double)done[(size_t)((double)n * 0.999)] / 1e3, mx = (double)done[n - 1] / 1e3;
    double achieved = (double)n / ((double)(t_last - t0) * 1e-9);
    json_t *st = delivery_consumer_stats_json(B.d, c);
    json_t *lat = json_object_get(st, "latency_us");
    printf("DELIVERY case=%s load_pct=%.0f tick_us=%u paced_ev_s=%.0f achieved_ev_s=%.0f n=%zu p50_us=%.1f p99_us=%.1f "
           "p999_us=%.1f max_us=%.1f mean_batch=%.2f pauses=%llu cpu_us_ev=%.3f "
           "daemon_histogram_p50_us<=%lld p99_us<=%lld p999_us<=%lld over_1ms=%zu episodes=%zu "
           "episodes_ms=%.1f longest_episode_ms=%.1f involuntary_switches=%ld\n",
           label, pct, rate > 0 ? tick_us : 0, rate, achieved, n, p50, p99, p999, mx,
           json_real_value(json_object_get(st, "mean_batch")), B.pauses - p0, (c1 - c0) * 1e6 / (double)n,
           (long long)json_integer_value(json_object_get(lat, "p50")),
           (long long)json_integer_value(json_object_get(lat, "p99")),
           (long long)json_integer_value(json_object_get(lat, "p999")), slow, episodes, (double)covered / 1e6,
           (double)longest / 1e6, ru1.ru_nivcsw - ru0.ru_nivcsw);
    json_decref(st);
    free_pool(pool);
    free(sent);
    free(done);
    router_flush(B.r);
    uv_run(&B.loop, UV_RUN_NOWAIT);
    if (pct > 50 && rate > 0) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.0f", p99);
        printf("  target: p99 under 1 ms at 80 %% load (%s): p99 %s us = %.2f x the target: %s%s\n", label, buf, p99 / 1000.0,
               p99 < 1000 ? "met" : "MISSED", achieved < 0.95 * rate ? " (the producer did not reach the rate)" : "");
    }
    fflush(stdout);
    return achieved;
}

/* ====================================================================
 * 3. Batching gain
 * ==================================================================== */

static double
batching_run(wmi_object **pool, struct wmid_consumer *c, unsigned flags, size_t backlog, double secs,
             double *mean_batch)
{
    struct bdel_slot *s = &B.sh->slot[SLOT_BATCH];
    uint64_t t0 = now_ns(), warm = t0 + 200000000ull, end = warm + (uint64_t)(secs * 1e9);
    uint64_t e0 = 0, c0 = 0, t1 = 0;
    size_t k = 0;
    bool measuring = false;
    for (;;) {
        uint64_t now = now_ns();
        if (!measuring && now >= warm) {
            measuring = true;
            e0 = atomic_load(&s->events);
            c0 = atomic_load(&s->calls);
            t1 = now;
        }
        if (now >= end)
            break;
        if (atomic_load(&c->queued_events) < backlog) {
            bool pause = false;
            for (size_t i = 0; i < B.o.burst && !pause && atomic_load(&c->queued_events) < backlog; i++)
                pause = router_indicate_flags(B.r, pool[k++ % POOL], SIZE_HINT, flags);
            router_flush(B.r);
            if (pause)
                pause_producer();
        } else {
            uv_run(&B.loop, UV_RUN_NOWAIT);
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
    }
    uint64_t e1 = atomic_load(&s->events), c1 = atomic_load(&s->calls), t2 = now_ns();
    *mean_batch = c1 > c0 ? (double)(e1 - e0) / (double)(c1 - c0) : 0;
    /* Drain what is left before the next run. */
    struct wmid_consumer *cs[1] = {c};
    struct delivered_goal dg = {cs, 1, 0};
    dg.goal = atomic_load(&c->stats.delivered) + atomic_load(&c->queued_events);
    run_until(cond_delivered, &dg, 60000);
    router_flush(B.r);
    uv_run(&B.loop, UV_RUN_NOWAIT);
    return (double)(e1 - e0) / ((double)(t2 - t1) * 1e-9);
}

static void
batching(void)
{
    struct wmid_consumer *c;
    consumers_of("Batch", &c, 1);
    wmi_object **pool = make_pool("Bench_Batch");
    double mb_auto, mb_solo;
    double r_auto = batching_run(pool, c, 0, 2 * 4096, B.o.batch_secs, &mb_auto);
    double r_solo = batching_run(pool, c, WMID_PUSH_SOLO, 64, B.o.batch_secs, &mb_solo);
    free_pool(pool);
    double gain = r_solo > 0 ? r_auto / r_solo : 0;
    /* What the consumer's cost allows: one call of 1 ms + n x 1 us. */
    double ideal_auto = 4096.0 / (1e-3 + 4096 * 1e-6), ideal_solo = 1.0 / (1e-3 + 1e-6);
    printf("DELIVERY case=batching consumer=\"1 ms/call + 1 us/event, busy-wait\" max_batch=4096 "
           "auto_ev_s=%.0f auto_mean_batch=%.1f solo_ev_s=%.0f solo_mean_batch=%.2f gain=%.1f "
           "ideal_auto_ev_s=%.0f ideal_solo_ev_s=%.0f ideal_gain=%.1f seconds=%.1f\n",
           r_auto, mb_auto, r_solo, mb_solo, gain, ideal_auto, ideal_solo, ideal_auto / ideal_solo, B.o.batch_secs);
    printf("  target: batching gain above 50x: %.1fx = %.1f x the target: %s\n", gain, gain / 50,
           gain > 50 ? "met" : "MISSED");
    fflush(stdout);
}

/* ====================================================================
 * 4. Deadline detection
 * ==================================================================== */

struct trial_goal {
    uint64_t calls, raises, recs;
};

static bool
cond_trial(void *arg)
{
    struct trial_goal *g = arg;
    return atomic_load(&B.sh->slot[SLOT_DEAD].calls) >= g->calls && B.nraise >= g->raises &&
           atomic_load(&B.sh->slot[SLOT_REC].events) >= g->recs;
}

static int
cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void
deadline(void)
{
    struct wmid_consumer *c;
    consumers_of("Dead", &c, 1);
    struct bdel_slot *dead = &B.sh->slot[SLOT_DEAD], *rec = &B.sh->slot[SLOT_REC];
    size_t T = (size_t)B.o.trials;
    uint64_t *rec_done = calloc(T + 16, sizeof *rec_done);
    double *late_raise = calloc(T, sizeof(double)), *late_rec = calloc(T, sizeof(double));
    B.raise_ns = calloc(T + 16, sizeof *B.raise_ns);
    B.capraise = T + 16;
    B.nraise = 0;
    rec->done_ns = rec_done;
    rec->cap = T + 16;
    atomic_store(&rec->events, 0);
    wmi_object **pool = make_pool("Bench_Dead");
    size_t ok = 0;
    B.in_deadline = true;
    for (size_t t = 0; t < T; t++) {
        struct trial_goal g = {atomic_load(&dead->calls) + 1, B.nraise + 1, atomic_load(&rec->events) + 1};
        router_indicate(B.r, pool[t % POOL], SIZE_HINT);
        router_flush(B.r);
        if (!run_until(cond_trial, &g, 10u * 2 * B.o.deadline_ms + 5000)) {
            printf("DELIVERY deadline trial %zu: no report within %u ms (calls %llu, reports %zu, recorded %llu)\n",
                   t + 1, 10u * 2 * B.o.deadline_ms + 5000, (unsigned long long)atomic_load(&dead->calls),
                   B.nraise, (unsigned long long)atomic_load(&rec->events));
            continue;
        }
        uint64_t due = atomic_load(&dead->call_start_ns) + (uint64_t)B.o.deadline_ms * 1000000ull;
        late_raise[ok] = ((double)B.raise_ns[B.nraise - 1] - (double)due) / 1e6;
        late_rec[ok] = ((double)rec_done[atomic_load(&rec->events) - 1] - (double)due) / 1e6;
        ok++;
        /* Let the watchdog see that nothing runs and stop, as between two
         * unrelated late calls. */
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        uv_run(&B.loop, UV_RUN_NOWAIT);
    }
    B.in_deadline = false;
    rec->done_ns = NULL;
    rec->cap = 0;
    free_pool(pool);
    if (ok == 0) {
        printf("DELIVERY case=deadline trials=0 (no report seen)\n");
        return;
    }
    qsort(late_raise, ok, sizeof(double), cmp_dbl);
    qsort(late_rec, ok, sizeof(double), cmp_dbl);
    printf("DELIVERY case=deadline deadline_ms=%u call_ms=%u trials=%zu/%d "
           "raised_late_ms_min=%.2f median=%.2f max=%.2f "
           "subscriber_late_ms_min=%.2f median=%.2f max=%.2f deadline_misses=%llu\n",
           B.o.deadline_ms, 2 * B.o.deadline_ms, ok, B.o.trials, late_raise[0], late_raise[ok / 2],
           late_raise[ok - 1], late_rec[0], late_rec[ok / 2], late_rec[ok - 1],
           (unsigned long long)atomic_load(&c->stats.deadline_misses));
    printf("  target: deadline misses reported within 10 ms of the deadline: max %.2f ms = %.2f x the target: "
           "%s\n",
           late_raise[ok - 1], late_raise[ok - 1] / 10, late_raise[ok - 1] <= 10 ? "met" : "MISSED");
    fflush(stdout);
    free(rec_done);
    free(late_raise);
    free(late_rec);
}

/* ====================================================================
 * main
 * ==================================================================== */

static void
usage(void)
{
    die("usage: bench_daemon_delivery -d DIR -n NULL_SO -p DELIVERY_SO [-N EVENTS] [-R RUNS] "
        "[-L LATENCY_SECONDS] [-W BATCH_SECONDS] [-T DEADLINE_TRIALS] [-D DEADLINE_MS] [-b BURST] "
        "[-M MICRO_CALLS] [-P TICK_US] [-c CASES]",
        "");
}

static bool
want(const char *cases, const char *c)
{
    if (cases == NULL)
        return true;
    size_t l = strlen(c);
    for (const char *p = cases; (p = strstr(p, c)) != NULL; p += l)
        if ((p == cases || p[-1] == ',') && (p[l] == '\0' || p[l] == ','))
            return true;
    return false;
}

int
main(int argc, char **argv)
{
    struct opts *o = &B.o;
    const char *cases = NULL;
    int ch;
    o->n = 1000000;
    o->runs = 3;
    o->lat_secs = 2;
    o->batch_secs = 2;
    o->trials = 20;
    o->deadline_ms = 100;
    o->burst = 256;
    o->micro = 1000000;
    o->tick_us = 100;
    while ((ch = getopt(argc, argv, "d:n:p:N:R:L:W:T:D:b:M:c:P:")) != -1) {
        switch (ch) {
        case 'd': o->dir = optarg; break;
        case 'n': o->null_so = optarg; break;
        case 'p': o->del_so = optarg; break;
        case 'N': o->n = strtoull(optarg, NULL, 10); break;
        case 'R': o->runs = atoi(optarg); break;
        case 'L': o->lat_secs = atof(optarg); break;
        case 'W': o->batch_secs = atof(optarg); break;
        case 'T': o->trials = atoi(optarg); break;
        case 'D': o->deadline_ms = (unsigned)atoi(optarg); break;
        case 'b': o->burst = strtoull(optarg, NULL, 10); break;
        case 'M': o->micro = strtoull(optarg, NULL, 10); break;
        case 'c': cases = optarg; break;
        case 'P': o->tick_us = (unsigned)atoi(optarg); break;
        default: usage();
        }
    }
    if (o->dir == NULL || o->null_so == NULL || o->del_so == NULL || o->n == 0 || o->runs <= 0 ||
        o->trials <= 0 || o->deadline_ms == 0 || o->burst == 0 || o->micro == 0)
        usage();
    log_init(WMI_LOG_WARNING, false);

    /* The daemon's defaults (config.c), but for the deadline and for
     * suspension, which would otherwise stop the deadline trials: a
     * window of 1 ms never holds 64 misses. */
    struct wmid_settings *s = &B.s;
    s->plugin_dir = (char *)"/nonexistent";
    s->queue_max_bytes = 64u * 1024 * 1024;
    s->low_threshold_on_events = s->queue_max_bytes / 2;
    s->default_consumer_queue_bytes = 16u * 1024 * 1024;
    s->consumer_deadline_ms = o->deadline_ms;
    s->suspend_after_misses = 64;
    s->suspend_window_ms = 1;
    s->suspend_max_ms = 60000;
    s->shutdown_timeout_ms = 5000;
    s->min_within_ms = 100;

    char confd[4096];
    write_objects(o, confd, sizeof confd);
    wmi_error err;
    memset(&err, 0, sizeof err);
    if (!config_load_objects(confd, &B.objs, &err))
        die("config_load_objects: ", err.text);
    if (uv_loop_init(&B.loop) != 0)
        die("uv_loop_init failed", "");
    uv_timer_init(&B.loop, &B.tick);
    B.d = delivery_new(&B.loop, s);
    if (B.d == NULL)
        die("delivery_new failed", "");
    B.r = router_new(&B.objs, s, B.d, &bench_hooks, &err);
    if (B.r == NULL)
        die("router_new: ", err.text);
    delivery_set_raise_cb(B.d, on_raise, NULL);
    delivery_set_resume_cb(B.d, on_resume, NULL);
    router_load_providers(B.r, s);
    router_start(B.r, &B.loop);
    void *h = dlopen(o->del_so, RTLD_NOW | RTLD_NOLOAD);
    void *sym = h != NULL ? dlsym(h, "bench_delivery_shared") : NULL;
    struct bdel_shared *(*get)(void) = NULL;
    if (sym != NULL) /* ISO C has no object-to-function pointer cast */
        memcpy(&get, &sym, sizeof get);
    if (get == NULL)
        die("delivery.so is not loaded or has no bench_delivery_shared: ", o->del_so);
    B.sh = get();

    printf("DELIVERY setup n=%zu runs=%d burst=%zu pool=%d size_hint=%d consumer_deadline_ms=%u "
           "default_consumer_queue_bytes=%zu high_threshold_on_events=%zu nproc=%ld\n",
           o->n, o->runs, o->burst, POOL, SIZE_HINT, o->deadline_ms, s->default_consumer_queue_bytes,
           s->queue_max_bytes, sysconf(_SC_NPROCESSORS_ONLN));
    fflush(stdout);

    /* 1. Throughput. */
    double max_rate = 0;
    if (want(cases, "throughput") || want(cases, "latency")) {
        struct tp a1 = throughput("async-1", "A1", "Bench_A1", false);
        max_rate = a1.ev_s;
        if (want(cases, "throughput")) {
            char b1[32], b2[32];
            group(b1, sizeof b1, 1e6 / a1.cpu_us);
            printf("  target: asynchronous >= 1,000,000 events/s per core (in-process provider, null consumer): "
                   "%s deliveries per CPU second (%.3f CPU us each, all threads) = %.2f x the target: %s\n",
                   b1, a1.cpu_us, 1.0 / a1.cpu_us, a1.cpu_us <= 1.0 ? "met" : "MISSED");
            group(b2, sizeof b2, a1.ev_s);
            printf("  (wall clock: %s events/s on %ld CPUs)\n", b2, sysconf(_SC_NPROCESSORS_ONLN));
            struct tp a4 = throughput("async-4", "A4", "Bench_A4", false);
            struct tp s1 = throughput("sync-1", "S1", "Bench_S1", true);
            struct tp s4 = throughput("sync-4", "S4", "Bench_S4", true);
            (void)a4;
            (void)s4;
            /* The synchronous path alone. */
            struct wmid_consumer *c;
            consumers_of("S1", &c, 1);
            struct micro_ctx m = {NULL, c, make_pool("Bench_S1")};
            if (WMI_FAILED(c->provider->cp->find_consumer(c->provider->state, c->logical, &m.us)) || m.us == NULL)
                die("FindConsumer of the null plugin failed", "");
            double direct = micro(0, &m), call = micro(1, &m), ind = micro(2, &m);
            m.us->release(m.us);
            free_pool(m.pool);
            printf("DELIVERY case=sync-overhead direct_plugin_ns=%.1f delivery_call_ns=%.1f "
                   "router_indicate_sync_ns=%.1f delivery_call_overhead_ns=%.1f router_indicate_overhead_ns=%.1f "
                   "sync_1_wall_ns_ev=%.1f calls=%zu (best of %d)\n",
                   direct, call, ind, call - direct, ind - direct, 1e9 / s1.ev_s, o->micro, o->runs);
            printf("  target: synchronous overhead under 1 us per event: delivery_call %.0f ns - direct call %.0f "
                   "ns = %.0f ns (%.2f x the target; %.0f ns through router_indicate, %.2f x): %s\n",
                   call, direct, call - direct, (call - direct) / 1000, ind - direct, (ind - direct) / 1000,
                   ind - direct < 1000 ? "met" : "MISSED");
            fflush(stdout);
        }
    }

    /* 2. Latency at 10 % and 80 % of the asynchronous maximum. */
    if (want(cases, "latency")) {
        /* This producer stamps every event (clock_gettime) and checks the
         * clock between bursts: its own maximum is lower than the bare
         * loop of 1.  100 % is the lower of the two. */
        double own = latency("latency-max", "LMax", "Bench_LMax", SLOT_LATMAX, 0, 100, 0);
        double ref = own < max_rate ? own : max_rate;
        printf("DELIVERY latency reference: %.0f events/s (throughput async-1 %.0f, this producer unpaced %.0f)\n",
               ref, max_rate, own);
        latency("latency-10", "L10", "Bench_L10", SLOT_LAT10, 0.1 * ref, 10, o->tick_us);
        latency("latency-80", "L80", "Bench_L80", SLOT_LAT80, 0.8 * ref, 80, o->tick_us);
        if (o->tick_us > 0) { /* and with a producer that spins: the engine's best case */
            latency("latency-10-spin", "L10S", "Bench_L10S", SLOT_LAT10S, 0.1 * ref, 10, 0);
            latency("latency-80-spin", "L80S", "Bench_L80S", SLOT_LAT80S, 0.8 * ref, 80, 0);
        }
    }
    /* 3. Batching gain. */
    if (want(cases, "batching"))
        batching();
    /* 4. Deadline detection. */
    if (want(cases, "deadline"))
        deadline();

    if (B.spurious > 0)
        printf("DELIVERY warning: spurious_deadline_reports=%llu: __ConsumerFailureEvent WBEM_E_PROVIDER_TIMED_OUT "
               "raised for calls of consumers that take microseconds (outside the deadline case)\n",
               B.spurious);
    /* Tear down as main.c does. */
    if (!delivery_shutdown(B.d, 5000)) {
        printf("DELIVERY warning: a consumer call was still running at shutdown\n");
        fflush(stdout);
        _exit(0);
    }
    router_free(B.r);
    delivery_free(B.d);
    uv_close((uv_handle_t *)&B.tick, NULL);
    uv_run(&B.loop, UV_RUN_DEFAULT);
    uv_loop_close(&B.loop);
    config_free_objects(&B.objs);
    free(B.raise_ns);
    return 0;
}
