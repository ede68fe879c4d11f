/*
 * sample_fifo.c - an out-of-tree event provider: lines written to a FIFO
 * become events.
 *
 * Every line written to the FIFO (SAMPLE_FIFO_PATH in the daemon's
 * environment, /run/wmieventd/sample.fifo by default) is indicated as a
 *
 *   Sample_FifoLineEvent  { string Line; uint32 Length; }
 *
 * and, every SAMPLE_FIFO_STATS_MS milliseconds (60000 by default), a
 *
 *   Sample_FifoStatsEvent { uint64 Lines; uint64 Bytes; uint32 IntervalMs; }
 *
 * counts what came in during the interval.
 *
 * It shows the three things every event provider should do:
 *
 *  - Stay idle while nobody listens.  The sink's is_active says whether any
 *    subscription may receive what the provider supplies; while it says no,
 *    the FIFO is closed (writers then wait in open(), or get ENXIO with
 *    O_NONBLOCK) and no timer but a slow poll runs.  new_query and
 *    cancel_query tell the provider that the answer may have changed.
 *  - Use a restricted sink for a part of its registration: the stats timer
 *    runs only while the sink restricted to "SELECT * FROM
 *    Sample_FifoStatsEvent" is active, and the stats events go into it.
 *  - Never block the host's loop: everything here runs in loop callbacks
 *    (host->fd_watch, host->timer_start), reads without blocking, and, when
 *    the host is congested (WBEM_E_SERVER_TOO_BUSY), stops reading the FIFO
 *    and retries the same events a little later, so that the pipe fills and
 *    writers slow down instead of events being lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wmievent.h>

#define DEFAULT_FIFO      "/run/wmieventd/sample.fifo"
#define DEFAULT_STATS_MS  60000
#define STATS_QUERY       "SELECT * FROM Sample_FifoStatsEvent"
/* How often is_active is checked besides the query notifications: an
 * atomic read, so a poll is cheap, and it catches every change. */
#define POLL_MS           1000
/* How long to wait before retrying events the host was too busy to take. */
#define RETRY_MS          100
/* Longer lines are cut to this many bytes in Line; Length tells the truth. */
#define MAX_LINE          4096
/* Bytes taken from the FIFO per read(). */
#define READ_BYTES        4096
/* Events indicated in one call, at most: the lines of one read(), even if
 * every byte is a newline, so that a refused batch never overflows. */
#define MAX_BATCH         READ_BYTES

struct fifo_provider {
    const struct wmi_host *host;
    char *path;
    uint64_t stats_ms;

    struct wmi_event_sink *sink;        /* from provide_events */
    struct wmi_event_sink *stats_sink;  /* restricted to STATS_QUERY */

    int fd;                             /* read end, -1 while idle */
    int keep_fd;                        /* our own writer, so that no EOF */
    uint64_t watch;
    uint64_t poll_timer, soon_timer, stats_timer, retry_timer;

    char line[MAX_LINE];
    size_t line_len;                    /* bytes kept in line */
    uint64_t line_total;                /* bytes of the line so far */

    /* Events the host refused with WBEM_E_SERVER_TOO_BUSY, to retry. */
    wmi_object *pending[MAX_BATCH];
    size_t npending;

    uint64_t lines, bytes;              /* since the last stats event */
};

static void reconcile(struct fifo_provider *p);

/* ---- events ---- */

static void
drop_pending(struct fifo_provider *p)
{
    for (size_t i = 0; i < p->npending; i++)
        wmi_object_unref(p->pending[i]);
    p->npending = 0;
}

/*
 * Replace bytes that are not ASCII by "?" in a copy of @s: wmi_object
 * refuses strings that are not UTF-8, and a FIFO may carry anything.  Used
 * only when the line as read was refused.
 */
static char *
ascii_copy(const char *s)
{
    char *out = strdup(s);
    for (char *c = out; c != NULL && *c != '\0'; c++) {
        if ((unsigned char)*c >= 0x80 || ((unsigned char)*c < 0x20 && *c != '\t'))
            *c = '?';
    }
    return out;
}

/* The line read so far as an event, queued for the next indicate. */
static void
queue_line(struct fifo_provider *p)
{
    wmi_object *ev = NULL;
    p->line[p->line_len] = '\0';
    if (p->line_len > 0 && p->line[p->line_len - 1] == '\r')
        p->line[p->line_len - 1] = '\0';
    uint32_t length = p->line_total > UINT32_MAX ? UINT32_MAX : (uint32_t)p->line_total;
    p->lines++;
    p->bytes += p->line_total;
    p->line_len = 0;
    p->line_total = 0;
    if (WMI_FAILED(wmi_object_new(p->host->schema, "Sample_FifoLineEvent", &ev))) {
        p->host->log(p->host, WMI_LOG_ERR, "the class Sample_FifoLineEvent is not defined");
        return;
    }
    wmi_status st = wmi_object_put_string(ev, "Line", p->line);
    if (st == WBEM_E_TYPE_MISMATCH) {
        char *clean = ascii_copy(p->line);
        st = clean ? wmi_object_put_string(ev, "Line", clean) : WBEM_E_OUT_OF_MEMORY;
        free(clean);
    }
    if (WMI_SUCCEEDED(st))
        st = wmi_object_put_uint64(ev, "Length", length);
    if (WMI_SUCCEEDED(st))
        st = wmi_object_put_uint64(ev, "TIME_CREATED", wmi_time_created_now());
    if (WMI_FAILED(st) || p->npending == MAX_BATCH) {
        wmi_object_unref(ev);
        return;
    }
    p->pending[p->npending++] = ev;
}

static void on_readable(void *arg, int fd);

static void
start_watch(struct fifo_provider *p)
{
    if (p->fd >= 0 && p->watch == 0)
        p->watch = p->host->fd_watch(p->host, p->fd, on_readable, p);
}

static void
stop_watch(struct fifo_provider *p)
{
    if (p->watch != 0)
        p->host->fd_unwatch(p->host, p->watch);
    p->watch = 0;
}

static void
on_retry(void *arg)
{
    struct fifo_provider *p = arg;
    p->retry_timer = 0;
    reconcile(p);
}

/*
 * Indicate the queued events in one call.  When the host is congested it
 * takes none of them: keep them, stop reading (the pipe fills and writers
 * wait) and try again shortly.  Any other refusal is a bug in the object
 * file (the classes do not match this code): log it and drop the events.
 */
static void
flush(struct fifo_provider *p)
{
    if (p->npending == 0)
        return;
    wmi_status st = p->sink->indicate(p->sink, p->npending, p->pending);
    if (st == WBEM_E_SERVER_TOO_BUSY) {
        stop_watch(p);
        if (p->retry_timer == 0)
            p->retry_timer = p->host->timer_start(p->host, RETRY_MS, 0, on_retry, p);
        return;
    }
    if (WMI_FAILED(st))
        p->host->log(p->host, WMI_LOG_WARNING, "Indicate refused %zu line event(s): %s", p->npending,
                     wmi_status_name(st) ? wmi_status_name(st) : "unknown status");
    drop_pending(p);
}

static void
on_readable(void *arg, int fd)
{
    struct fifo_provider *p = arg;
    char buf[READ_BYTES];
    /* One read at a time: a busy writer must not keep the loop here. */
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0)
        return;
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            queue_line(p);
            continue;
        }
        if (p->line_len < MAX_LINE - 1)
            p->line[p->line_len++] = buf[i];
        p->line_total++;
    }
    flush(p);
}

static void
on_stats(void *arg)
{
    struct fifo_provider *p = arg;
    wmi_object *ev = NULL;
    if (WMI_FAILED(wmi_object_new(p->host->schema, "Sample_FifoStatsEvent", &ev)))
        return;
    wmi_object_put_uint64(ev, "Lines", p->lines);
    wmi_object_put_uint64(ev, "Bytes", p->bytes);
    wmi_object_put_uint64(ev, "IntervalMs", p->stats_ms);
    wmi_object_put_uint64(ev, "TIME_CREATED", wmi_time_created_now());
    /* A congested host may refuse one; the next interval counts afresh. */
    p->stats_sink->indicate(p->stats_sink, 1, &ev);
    wmi_object_unref(ev);
    p->lines = p->bytes = 0;
}

/* ---- going idle and back ---- */

static bool
open_fifo(struct fifo_provider *p)
{
    p->fd = open(p->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (p->fd < 0)
        return false;
    /* With a writer of our own open, the FIFO never reads as EOF when the
     * last real writer goes, which would make it readable forever. */
    p->keep_fd = open(p->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (p->keep_fd < 0) {
        close(p->fd);
        p->fd = -1;
        return false;
    }
    start_watch(p);
    return p->watch != 0;
}

static void
close_fifo(struct fifo_provider *p)
{
    stop_watch(p);
    if (p->retry_timer != 0)
        p->host->timer_stop(p->host, p->retry_timer);
    p->retry_timer = 0;
    drop_pending(p);
    if (p->fd >= 0)
        close(p->fd);
    if (p->keep_fd >= 0)
        close(p->keep_fd);
    p->fd = p->keep_fd = -1;
    p->line_len = 0;
    p->line_total = 0;
}

/*
 * Bring the FIFO and the stats timer in line with what the sinks say.
 * Cheap and idempotent: called by the poll timer, after query
 * notifications and after a retry.
 */
static void
reconcile(struct fifo_provider *p)
{
    bool active = p->sink->is_active(p->sink) == WBEM_S_NO_ERROR;
    if (active && p->fd < 0) {
        if (open_fifo(p))
            p->host->log(p->host, WMI_LOG_INFO, "someone listens: reading %s", p->path);
        else {
            p->host->log(p->host, WMI_LOG_ERR, "cannot read %s: %s", p->path, strerror(errno));
            close_fifo(p);
        }
    } else if (!active && p->fd >= 0) {
        p->host->log(p->host, WMI_LOG_INFO, "nobody listens: closing %s", p->path);
        close_fifo(p);
    } else if (active && p->npending > 0 && p->retry_timer == 0) {
        /* A retry after WBEM_E_SERVER_TOO_BUSY: resume reading once the
         * events kept back are through. */
        flush(p);
        if (p->npending == 0)
            start_watch(p);
    }

    bool stats = active && p->stats_sink->is_active(p->stats_sink) == WBEM_S_NO_ERROR;
    if (stats && p->stats_timer == 0) {
        p->lines = p->bytes = 0;
        p->stats_timer = p->host->timer_start(p->host, p->stats_ms, p->stats_ms, on_stats, p);
    } else if (!stats && p->stats_timer != 0) {
        p->host->timer_stop(p->host, p->stats_timer);
        p->stats_timer = 0;
    }
}

static void
on_poll(void *arg)
{
    reconcile(arg);
}

static void
on_soon(void *arg)
{
    struct fifo_provider *p = arg;
    p->soon_timer = 0;
    reconcile(p);
}

/* Re-check on the next loop turn, once the host has taken the change in. */
static void
reconcile_soon(struct fifo_provider *p)
{
    if (p->soon_timer == 0 && p->sink != NULL)
        p->soon_timer = p->host->timer_start(p->host, 0, 0, on_soon, p);
}

/* ---- the provider ---- */

static void
provider_free(struct fifo_provider *p)
{
    free(p->path);
    free(p);
}

static wmi_status
fifo_initialize(const struct wmi_host *host, const wmi_object *registration, void **provider)
{
    (void)registration;
    /* fd_watch and timers came with ABI 1.1: refuse an older host. */
    if (host->size < offsetof(struct wmi_host, fd_unwatch) + sizeof host->fd_unwatch) {
        host->log(host, WMI_LOG_ERR, "this host offers no loop services (plugin ABI 1.1 needed)");
        return WBEM_E_FAILED;
    }
    struct fifo_provider *p = calloc(1, sizeof *p);
    if (p == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    p->host = host;
    p->fd = p->keep_fd = -1;
    const char *path = getenv("SAMPLE_FIFO_PATH");
    p->path = strdup(path != NULL && path[0] != '\0' ? path : DEFAULT_FIFO);
    const char *ms = getenv("SAMPLE_FIFO_STATS_MS");
    char *end = NULL;
    p->stats_ms = ms != NULL ? strtoull(ms, &end, 10) : DEFAULT_STATS_MS;
    if (ms != NULL && (end == ms || *end != '\0' || p->stats_ms == 0 || p->stats_ms > 86400000)) {
        host->log(host, WMI_LOG_ERR, "SAMPLE_FIFO_STATS_MS=%s is not a number of ms in 1..86400000", ms);
        provider_free(p);
        return WBEM_E_INVALID_PARAMETER;
    }
    if (p->path == NULL) {
        provider_free(p);
        return WBEM_E_OUT_OF_MEMORY;
    }
    /* Create the FIFO now, so that writers find it even while we idle. */
    struct stat st;
    if (mkfifo(p->path, 0620) != 0 && (errno != EEXIST || stat(p->path, &st) != 0 || !S_ISFIFO(st.st_mode))) {
        host->log(host, WMI_LOG_ERR, "cannot create the FIFO %s: %s", p->path,
                  errno == EEXIST ? "it exists and is not a FIFO" : strerror(errno));
        provider_free(p);
        return WBEM_E_FAILED;
    }
    *provider = p;
    return WBEM_S_INITIALIZED;
}

static wmi_status
fifo_provide_events(void *provider, struct wmi_event_sink *sink)
{
    struct fifo_provider *p = provider;
    const char *queries[] = {STATS_QUERY};
    p->sink = sink;
    wmi_status st = sink->get_restricted_sink(sink, 1, queries, &p->stats_sink);
    if (WMI_FAILED(st)) {
        p->host->log(p->host, WMI_LOG_ERR, "GetRestrictedSink(%s): %s (is it in EventQueryList?)", STATS_QUERY,
                     wmi_status_name(st) ? wmi_status_name(st) : "unknown status");
        return st;
    }
    p->poll_timer = p->host->timer_start(p->host, POLL_MS, POLL_MS, on_poll, p);
    if (p->poll_timer == 0)
        return WBEM_E_OUT_OF_MEMORY;
    reconcile(p);
    return WBEM_S_NO_ERROR;
}

static wmi_status
fifo_new_query(void *provider, uint32_t id, const char *language, const char *query)
{
    (void)id;
    (void)language;
    (void)query;
    reconcile_soon(provider);
    return WBEM_S_NO_ERROR;
}

static wmi_status
fifo_cancel_query(void *provider, uint32_t id)
{
    (void)id;
    reconcile_soon(provider);
    return WBEM_S_NO_ERROR;
}

static void
fifo_shutdown(void *provider)
{
    struct fifo_provider *p = provider;
    close_fifo(p);
    uint64_t timers[] = {p->poll_timer, p->soon_timer, p->stats_timer};
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++) {
        if (timers[i] != 0)
            p->host->timer_stop(p->host, timers[i]);
    }
    if (p->stats_sink != NULL)
        p->stats_sink->release(p->stats_sink);
    /* The FIFO stays: an administrator may have set its owner and mode. */
    provider_free(p);
}

static const struct wmi_event_provider fifo_provider = {
    .initialize = fifo_initialize,
    .provide_events = fifo_provide_events,
    .new_query = fifo_new_query,
    .cancel_query = fifo_cancel_query,
    .access_check = NULL,
    .shutdown = fifo_shutdown,
};

static const struct wmi_plugin plugin = {
    WMI_PLUGIN_DESCRIPTOR("sample_fifo", "1.0"),
    .consumer_provider = NULL,
    .event_provider = &fifo_provider,
};

const struct wmi_plugin *
wmi_plugin_entry(uint32_t host_abi_major)
{
    return host_abi_major == WMI_PLUGIN_ABI_MAJOR ? &plugin : NULL;
}
