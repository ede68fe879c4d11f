/*
 * process_trace.c - Win32_ProcessStartTrace and Win32_ProcessStopTrace.
 *
 * The source is the kernel's process connector (netlink, NETLINK_CONNECTOR
 * / CN_IDX_PROC), which needs root or CAP_NET_ADMIN and the initial PID
 * namespace.  At start the daemon subscribes and proves the connector works
 * by running /bin/true and waiting for its exec event; when that fails it
 * falls back to scanning /proc every process_poll_ms, which can miss a
 * process that lives shorter than one interval.  One log line says which
 * source is in use.
 *
 * A "process start" is an exec (the moment a process gets the image whose
 * name WMI reports); a fork that never execs is not reported.  A stop is
 * reported for every process seen to start, or alive when the daemon
 * started, with the name and ids remembered from its start.
 *
 * With the netlink source, exec and exit are also passed to the
 * Win32_Process instance provider (process_feed_* into env->processes),
 * which pushes __InstanceCreationEvent / __InstanceDeletionEvent without
 * polling.  The /proc polling fallback does not feed it: the intrinsic
 * poller's own scans find those changes then.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/providers/providers.h"
#include "daemon/wmieventd.h"
#include "daemon/log.h"

#define NBUCKETS 4096

struct pinfo {
    int pid;
    int ppid;
    unsigned long long starttime;  /* jiffies since boot, to tell pid reuse */
    unsigned long gen;
    char *name;
    long uid;
    unsigned session;
    struct pinfo *next;
};

struct wmid_proc {
    uv_loop_t *loop;
    struct wmid_eventprov *eventprov; /* serves our events as those of "ProcessTrace" */
    struct wmid_instance_env *env; /* its feed, and where initialize finds it */
    /* The process traces go out through the event provider ABI, as any
     * plugin's events do (eventprov.c): the sink is set by provide_events
     * and cleared by shutdown. */
    const struct wmi_host *host;
    struct wmi_event_sink *sink;
    wmi_object **pending;         /* built in this burst, indicated at its end */
    size_t npending;
    const struct wmid_settings *settings;
    struct pinfo *buckets[NBUCKETS];
    unsigned long gen;
    /* netlink */
    int nl_fd;
    uv_poll_t nl_poll;
    bool nl_active;
    /* self-test */
    uv_process_t probe;
    bool probe_open;              /* the probe's handle is not closed yet */
    unsigned handles;             /* libuv handles not closed yet */
    unsigned long long unreadable; /* execs of processes gone before they were read */
    uint64_t last_unreadable_log;
    int probe_pid;
    uv_timer_t probe_timer;
    bool probe_timer_active;
    /* polling */
    uv_timer_t poll_timer;
    bool polling;
    const char *source;
    bool stopping;
};

/* ====================================================================
 * /proc
 * ==================================================================== */

/* comm, ppid and start time from /proc/PID/stat. */
static bool
read_stat(int pid, char *comm, size_t commlen, int *ppid, unsigned long long *starttime)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if (instance_read_file(path, buf, sizeof buf) <= 0)
        return false;
    char *open_paren = strchr(buf, '(');
    char *close_paren = strrchr(buf, ')');
    if (open_paren == NULL || close_paren == NULL || close_paren < open_paren)
        return false;
    size_t n = (size_t)(close_paren - open_paren - 1);
    if (n >= commlen)
        n = commlen - 1;
    memcpy(comm, open_paren + 1, n);
    comm[n] = '\0';
    /* Fields after the comm: state(3) ppid(4) ... starttime(22). */
    char *p = close_paren + 2;
    int field = 3;
    char *save = NULL;
    for (char *tok = strtok_r(p, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save), field++) {
        if (field == 4)
            *ppid = atoi(tok);
        else if (field == 22) {
            *starttime = strtoull(tok, NULL, 10);
            return true;
        }
    }
    return false;
}

static long
read_uid(int pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    if (instance_read_file(path, buf, sizeof buf) <= 0)
        return -1;
    char *u = strstr(buf, "\nUid:");
    if (u == NULL)
        return -1;
    return strtol(u + 5, NULL, 10);
}

static unsigned
read_session(int pid)
{
    char path[64], buf[32];
    snprintf(path, sizeof path, "/proc/%d/sessionid", pid);
    if (instance_read_file(path, buf, sizeof buf) <= 0)
        return 0;
    unsigned long v = strtoul(buf, NULL, 10);
    return v >= 0xFFFFFFFFul ? 0 : (unsigned)v; /* 4294967295: no audit session */
}

/* The executable of a process, or NULL. */
static char *
read_exe(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    return instance_read_link(path);
}

/* The command line, NULs turned into spaces; NULL for kernel threads. */
static char *
read_cmdline(int pid)
{
    char *argv0 = NULL;
    char *cmd = instance_proc_cmdline(pid, &argv0);
    free(argv0);
    return cmd;
}

/* ====================================================================
 * The process table
 * ==================================================================== */

static struct pinfo **
slot_of(struct wmid_proc *p, int pid)
{
    struct pinfo **pp = &p->buckets[(unsigned)pid % NBUCKETS];
    while (*pp != NULL && (*pp)->pid != pid)
        pp = &(*pp)->next;
    return pp;
}

static void
pinfo_free(struct pinfo *i)
{
    free(i->name);
    free(i);
}

static void
put_common(wmi_object *ev, const struct pinfo *i)
{
    char sid[48];
    wmi_object_put_uint64(ev, "ProcessID", (uint64_t)i->pid);
    wmi_object_put_uint64(ev, "ParentProcessID", (uint64_t)(i->ppid < 0 ? 0 : i->ppid));
    wmi_object_put_uint64(ev, "SessionID", i->session);
    wmi_object_put_string(ev, "ProcessName", i->name);
    if (i->uid >= 0) {
        snprintf(sid, sizeof sid, "S-1-22-1-%ld", i->uid);
        wmi_object_put_string(ev, "Sid", sid);
    }
    wmi_object_put_uint64(ev, "TIME_CREATED", wmi_time_created_now());
}

#define PENDING_MAX 256

/* The end of a burst (a netlink datagram, a /proc scan): indicate what it
 * built in one call. */
static void
flush_pending(struct wmid_proc *p)
{
    if (p->npending == 0)
        return;
    if (p->sink != NULL)
        p->sink->indicate(p->sink, p->npending, p->pending);
    for (size_t k = 0; k < p->npending; k++)
        wmi_object_unref(p->pending[k]);
    p->npending = 0;
}

/* A new trace event of @cls, or NULL when nobody listens (IsActive): then
 * not even the /proc reads are done. */
static wmi_object *
new_event(struct wmid_proc *p, const char *cls)
{
    wmi_object *ev;
    if (p->sink == NULL || p->sink->is_active(p->sink) != WBEM_S_NO_ERROR)
        return NULL;
    if (p->pending == NULL && (p->pending = calloc(PENDING_MAX, sizeof *p->pending)) == NULL)
        return NULL;
    if (WMI_FAILED(wmi_object_new(p->host->schema, cls, &ev)))
        return NULL;
    return ev;
}

static void
add_pending(struct wmid_proc *p, wmi_object *ev)
{
    p->pending[p->npending++] = ev;
    if (p->npending == PENDING_MAX)
        flush_pending(p);
}

static void
emit_start(struct wmid_proc *p, const struct pinfo *i, int pid)
{
    wmi_object *ev = new_event(p, "Win32_ProcessStartTrace");
    if (ev == NULL)
        return;
    put_common(ev, i);
    char *cmd = read_cmdline(pid);
    char *exe = read_exe(pid);
    if (cmd != NULL)
        wmi_object_put_string(ev, "CommandLine", cmd);
    if (exe != NULL)
        wmi_object_put_string(ev, "ExecutablePath", exe);
    free(cmd);
    free(exe);
    add_pending(p, ev);
}

static void
emit_stop(struct wmid_proc *p, const struct pinfo *i, int exit_code, bool have_code)
{
    wmi_object *ev = new_event(p, "Win32_ProcessStopTrace");
    if (ev == NULL)
        return;
    put_common(ev, i);
    if (have_code)
        /* The connector passes a wait status; WMI's ExitStatus is the exit
         * code.  A process killed by a signal reports 128 + the signal, as
         * shells do. */
        wmi_object_put_uint64(ev, "ExitStatus",
                              WIFEXITED(exit_code) ? (uint64_t)WEXITSTATUS(exit_code)
                                                   : 128u + (uint64_t)WTERMSIG(exit_code));
    add_pending(p, ev);
}

/* Read a live process into a new table entry; NULL when it is gone. */
static struct pinfo *
observe(int pid)
{
    char comm[64];
    int ppid = -1;
    unsigned long long st = 0;
    if (!read_stat(pid, comm, sizeof comm, &ppid, &st))
        return NULL;
    struct pinfo *i = calloc(1, sizeof *i);
    if (i == NULL)
        return NULL;
    i->pid = pid;
    i->ppid = ppid;
    i->starttime = st;
    i->uid = read_uid(pid);
    i->session = read_session(pid);
    /* WMI's ProcessName is the image name: the exe's base name where we
     * can read it (comm is cut at 15 bytes), else comm. */
    char *exe = read_exe(pid);
    const char *base = exe ? strrchr(exe, '/') : NULL;
    i->name = strdup(base ? base + 1 : comm);
    free(exe);
    return i;
}

/* Record a process, replacing an older one with the same pid. */
static void
table_put(struct wmid_proc *p, struct pinfo *i)
{
    struct pinfo **pp = slot_of(p, i->pid);
    if (*pp != NULL) {
        struct pinfo *old = *pp;
        i->next = old->next;
        *pp = i;
        pinfo_free(old);
    } else {
        i->next = NULL;
        *pp = i;
    }
}

/* ====================================================================
 * Polling /proc
 * ==================================================================== */

static void
scan_proc(struct wmid_proc *p, bool report)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return;
    unsigned long gen = ++p->gen;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        int pid = atoi(de->d_name);
        struct pinfo **pp = slot_of(p, pid);
        if (*pp != NULL) {
            char comm[64];
            int ppid;
            unsigned long long st = 0;
            if (read_stat(pid, comm, sizeof comm, &ppid, &st) && st == (*pp)->starttime) {
                (*pp)->gen = gen;
                continue;
            }
        }
        struct pinfo *i = observe(pid);
        if (i == NULL)
            continue;
        i->gen = gen;
        if (*pp != NULL && report)
            emit_stop(p, *pp, 0, false); /* the pid was reused */
        table_put(p, i);
        if (report)
            emit_start(p, i, pid);
    }
    closedir(d);
    /* Sweep: whatever was not seen has stopped. */
    for (size_t b = 0; b < NBUCKETS; b++) {
        struct pinfo **pp = &p->buckets[b];
        while (*pp != NULL) {
            if ((*pp)->gen != gen) {
                struct pinfo *dead = *pp;
                *pp = dead->next;
                if (report)
                    emit_stop(p, dead, 0, false);
                pinfo_free(dead);
            } else {
                pp = &(*pp)->next;
            }
        }
    }
}

static void
on_poll_timer(uv_timer_t *t)
{
    struct wmid_proc *p = t->data;
    scan_proc(p, true);
    flush_pending(p);
}

static void
start_polling(struct wmid_proc *p, const char *why)
{
    p->source = "/proc polling";
    log_notice("process events: polling /proc every %u ms (%s); processes shorter than that can be missed",
               p->settings->process_poll_ms, why);
    uv_timer_init(p->loop, &p->poll_timer);
    p->handles++;
    p->poll_timer.data = p;
    uv_timer_start(&p->poll_timer, on_poll_timer, p->settings->process_poll_ms, p->settings->process_poll_ms);
    p->polling = true;
}

/* ====================================================================
 * Netlink process connector
 * ==================================================================== */

static void stop_netlink(struct wmid_proc *p);

static void
handle_proc_event(struct wmid_proc *p, const struct proc_event *pe)
{
    if (pe->what == PROC_EVENT_EXEC) {
        int pid = pe->event_data.exec.process_pid;
        if (pid != pe->event_data.exec.process_tgid)
            return;
        if (p->probe_pid != 0 && pid == p->probe_pid && p->source == NULL) {
            p->source = "netlink process connector";
            log_notice("process events: netlink process connector");
            /* Every exec from here on is read; the probe's own, which
             * came before, is not passed on. */
            process_feed_source(p->env->processes, true);
        } else if (p->source != NULL && !p->stopping) {
            process_feed_exec(p->env->processes, pid);
        }
        struct pinfo *i = observe(pid);
        if (i == NULL) {
            /* Gone before /proc could be read: no name, uid or parent to
             * report.  Counted and logged (at most once a second), never
             * silent. */
            p->unreadable++;
            uint64_t now = uv_now(p->loop);
            if (p->source != NULL && now >= p->last_unreadable_log + 1000) {
                p->last_unreadable_log = now;
                log_notice("process events: %llu process(es) exited before /proc/PID could be read; their "
                           "starts were not reported",
                           (unsigned long long)p->unreadable);
            }
            return;
        }
        /* A known pid with another start time: its exit was never seen
         * (a netlink overrun), and the pid was reused.  Report the stop
         * rather than lose it. */
        struct pinfo *old = *slot_of(p, pid);
        if (old != NULL && old->starttime != i->starttime && p->source != NULL && !p->stopping)
            emit_stop(p, old, 0, false);
        table_put(p, i);
        if (p->source != NULL && !p->stopping)
            emit_start(p, i, pid);
    } else if (pe->what == PROC_EVENT_EXIT) {
        int pid = pe->event_data.exit.process_pid;
        if (pid != pe->event_data.exit.process_tgid)
            return;
        if (p->source != NULL && !p->stopping)
            process_feed_exit(p->env->processes, pid);
        struct pinfo **pp = slot_of(p, pid);
        if (*pp == NULL)
            return;
        struct pinfo *dead = *pp;
        *pp = dead->next;
        if (p->source != NULL && !p->stopping)
            emit_stop(p, dead, (int)pe->event_data.exit.exit_code, true);
        pinfo_free(dead);
    }
}

static void
on_netlink(uv_poll_t *h, int status, int events)
{
    struct wmid_proc *p = h->data;
    char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
    (void)events;
    if (status < 0)
        return;
    /* At most this many datagrams per wakeup: a fork storm must not keep
     * the loop from the control socket and the other sources.  What is
     * left stays readable and comes at the next turn. */
    for (int budget = 256; budget > 0; budget--) {
        ssize_t n = recv(p->nl_fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == ENOBUFS) {
                log_warnx("process events: netlink buffer overrun; some starts were missed");
                if (p->source != NULL && !p->stopping)
                    process_feed_overrun(p->env->processes);
                continue;
            }
            flush_pending(p);
            return;
        }
        for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
            if (nh->nlmsg_type == NLMSG_ERROR || nh->nlmsg_type == NLMSG_NOOP)
                continue;
            const struct cn_msg *cn = NLMSG_DATA(nh);
            if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC)
                continue;
            /* The payload sits 4 bytes off an 8-byte boundary: copy it out. */
            struct proc_event pe;
            memset(&pe, 0, sizeof pe);
            memcpy(&pe, cn->data, cn->len < sizeof pe ? cn->len : sizeof pe);
            handle_proc_event(p, &pe);
        }
    }
    flush_pending(p);
}

static bool
start_netlink(struct wmid_proc *p)
{
    p->nl_fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR);
    if (p->nl_fd < 0)
        return false;
    /* Bursts of forks arrive faster than one loop turn reads them: a larger
     * receive buffer (root may exceed net.core.rmem_max) makes overruns,
     * which lose starts, rarer.  Best effort: the default still works. */
    int rcvbuf = 4 * 1024 * 1024;
    if (setsockopt(p->nl_fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
        (void)setsockopt(p->nl_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = 0};
    if (bind(p->nl_fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(p->nl_fd);
        p->nl_fd = -1;
        return false;
    }
    /* nlmsghdr + cn_msg + the op, laid out by hand: cn_msg ends in a
     * flexible array, which ISO C does not allow inside another struct. */
    char msg[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof(enum proc_cn_mcast_op))]
        __attribute__((aligned(NLMSG_ALIGNTO)));
    memset(msg, 0, sizeof msg);
    struct nlmsghdr *nh = (struct nlmsghdr *)(void *)msg;
    struct cn_msg *cn = NLMSG_DATA(nh);
    enum proc_cn_mcast_op op = PROC_CN_MCAST_LISTEN;
    nh->nlmsg_len = NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof op);
    nh->nlmsg_type = NLMSG_DONE;
    cn->id.idx = CN_IDX_PROC;
    cn->id.val = CN_VAL_PROC;
    cn->len = sizeof op;
    memcpy(cn->data, &op, sizeof op);
    if (send(p->nl_fd, msg, nh->nlmsg_len, 0) < 0) {
        close(p->nl_fd);
        p->nl_fd = -1;
        return false;
    }
    uv_poll_init(p->loop, &p->nl_poll, p->nl_fd);
    p->handles++;
    p->nl_poll.data = p;
    uv_poll_start(&p->nl_poll, UV_READABLE, on_netlink);
    p->nl_active = true;
    return true;
}

static void proc_free(struct wmid_proc *p);

/* Every handle of the source closes through here; the last one to close
 * after proc_stop frees the source. */
static void
on_handle_closed(uv_handle_t *h)
{
    struct wmid_proc *p = h->data;
    if (--p->handles == 0 && p->stopping)
        proc_free(p);
}

static void
stop_netlink(struct wmid_proc *p)
{
    if (!p->nl_active)
        return;
    p->nl_active = false;
    uv_poll_stop(&p->nl_poll);
    uv_close((uv_handle_t *)&p->nl_poll, on_handle_closed);
    close(p->nl_fd);
    p->nl_fd = -1;
}

static void
on_probe_exit(uv_process_t *proc, int64_t exit_status, int term_signal)
{
    struct wmid_proc *p = proc->data;
    (void)exit_status;
    (void)term_signal;
    p->probe_open = false;
    uv_close((uv_handle_t *)proc, on_handle_closed);
}

static void
on_probe_timeout(uv_timer_t *t)
{
    struct wmid_proc *p = t->data;
    uv_close((uv_handle_t *)&p->probe_timer, on_handle_closed);
    p->probe_timer_active = false;
    if (p->source != NULL)
        return; /* the connector works */
    stop_netlink(p);
    start_polling(p, "the process connector delivered no event (not in the initial PID namespace?)");
}

/* ====================================================================
 * Life cycle
 * ==================================================================== */

/* ---- the event provider (wmievent/plugin.h), built in ---- */

/* *provider comes in as the connector (proc_start's context for
 * eventprov_add_builtin), and stays it. */
static wmi_status
ep_initialize(const struct wmi_host *host, const wmi_object *registration, void **provider)
{
    (void)registration;
    struct wmid_proc *p = *provider;
    if (p == NULL)
        return WBEM_E_FAILED;
    p->host = host;
    return WBEM_S_INITIALIZED;
}

static wmi_status
ep_provide_events(void *provider, struct wmi_event_sink *sink)
{
    struct wmid_proc *p = provider;
    p->sink = sink;
    return WBEM_S_NO_ERROR;
}

static void
ep_shutdown(void *provider)
{
    struct wmid_proc *p = provider;
    flush_pending(p);
    p->sink = NULL;
    p->host = NULL;
}

static const struct wmi_event_provider proc_event_provider = {
    .initialize = ep_initialize,
    .provide_events = ep_provide_events,
    .shutdown = ep_shutdown,
};

struct wmid_proc *
proc_start(uv_loop_t *loop, const struct wmid_settings *s, struct wmid_instance_env *env, struct wmid_eventprov *ep)
{
    struct wmid_proc *p = calloc(1, sizeof *p);
    if (p == NULL || env == NULL) {
        free(p);
        return NULL;
    }
    p->loop = loop;
    p->env = env;
    p->settings = s;
    env->proc = p;
    static const char *const queries[] = {"SELECT * FROM Win32_ProcessStartTrace",
                                          "SELECT * FROM Win32_ProcessStopTrace"};
    p->eventprov = ep;
    eventprov_add_builtin(ep, "ProcessTrace", &proc_event_provider, queries, 2, p);
    p->nl_fd = -1;
    /* Remember what runs now, so that its stops can be reported. */
    scan_proc(p, false);
    if (getenv("WMIEVENTD_PROC_POLL") != NULL) {
        start_polling(p, "WMIEVENTD_PROC_POLL is set");
        return p;
    }
    if (!start_netlink(p)) {
        start_polling(p, errno == EPERM || errno == EACCES
                             ? "the process connector needs root or CAP_NET_ADMIN"
                             : "the process connector is not available");
        return p;
    }
    /* Prove the connector with a process of our own. */
    char *args[] = {(char *)"/bin/true", NULL};
    uv_process_options_t opt = {.file = args[0], .args = args, .exit_cb = on_probe_exit};
    p->probe.data = p;
    p->handles++;
    if (uv_spawn(loop, &p->probe, &opt) != 0) {
        /* A failed spawn still leaves a handle to close. */
        uv_close((uv_handle_t *)&p->probe, on_handle_closed);
        stop_netlink(p);
        start_polling(p, "cannot run /bin/true to test the process connector");
        return p;
    }
    p->probe_open = true;
    p->probe_pid = p->probe.pid;
    uv_timer_init(loop, &p->probe_timer);
    p->handles++;
    p->probe_timer.data = p;
    uv_timer_start(&p->probe_timer, on_probe_timeout, 1000, 0);
    p->probe_timer_active = true;
    return p;
}

static void
proc_free(struct wmid_proc *p)
{
    free(p->pending);
    for (size_t b = 0; b < NBUCKETS; b++) {
        while (p->buckets[b] != NULL) {
            struct pinfo *i = p->buckets[b];
            p->buckets[b] = i->next;
            pinfo_free(i);
        }
    }
    free(p);
}

void
proc_stop(struct wmid_proc *p)
{
    if (p == NULL)
        return;
    p->stopping = true;
    eventprov_remove_builtin(p->eventprov, &proc_event_provider);
    if (p->env->proc == p)
        p->env->proc = NULL;
    stop_netlink(p);
    if (p->probe_open) {
        /* SIGTERM before /bin/true was reaped: stop watching it. */
        p->probe_open = false;
        uv_close((uv_handle_t *)&p->probe, on_handle_closed);
    }
    if (p->probe_timer_active) {
        p->probe_timer_active = false;
        uv_timer_stop(&p->probe_timer);
        uv_close((uv_handle_t *)&p->probe_timer, on_handle_closed);
    }
    if (p->polling) {
        p->polling = false;
        uv_timer_stop(&p->poll_timer);
        uv_close((uv_handle_t *)&p->poll_timer, on_handle_closed);
    }
    /* Freed when the last handle has closed (on_handle_closed). */
    if (p->handles == 0)
        proc_free(p);
}
