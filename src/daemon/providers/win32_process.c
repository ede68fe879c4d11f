/*
 * win32_process.c - the Win32_Process instance provider, from /proc.
 *
 * One readdir of /proc and one read of /proc/PID/stat per process give
 * everything that changes (ppid, CPU times, priority, threads, memory);
 * what does not change while a process runs its image (name, executable,
 * command line, audit session) is read once per process and cached by
 * (pid, start time), so a steady-state scan costs one open/read/close per
 * process.  docs/classes.md lists where every property comes from.
 *
 * A process whose /proc entry we may not read (another user's, with
 * hidepid) is still listed from what stat gives; ExecutablePath and
 * CommandLine are then NULL, as WMI leaves them for processes the caller
 * cannot open.
 *
 * Push: when the netlink process connector works (process_trace.c), it
 * reports every exec and exit to its env's feed (process_feed_*), and a
 * state of that env that subscribed turns them into creations (the
 * instance read from /proc at exec time) and deletions (the instance as
 * last read: at exit the process has already lost its memory).  So filters on creations and deletions
 * need no scan; modifications are still found by polling.  A fork that
 * never execs is not pushed as a creation (as Win32_ProcessStartTrace);
 * it is a deletion at its exit when a scan has seen it.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/providers/providers.h"
#include "daemon/wmieventd.h"

#define NBUCKETS 1024

/* What one read of /proc/PID/stat gives. */
struct pstat {
    char comm[64];
    int ppid;
    unsigned long long minflt, majflt, utime, stime, starttime, vsize;
    long long priority, nice, threads, rss;
};

struct pcache {
    int pid;
    unsigned long long starttime;
    unsigned long gen;           /* the last scan that saw it */
    unsigned long born;          /* the scan that added it */
    struct pstat last;           /* the last stat read (a deletion's state) */
    char *name;
    char *exe;
    char *cmdline;
    unsigned session;
    struct pcache *next;
};

struct wp_state {
    const wmi_schema *schema;
    struct pcache *buckets[NBUCKETS];
    unsigned long gen;
    long clk_tck;
    long page_size;
    /* push */
    struct wmid_process_feed *feed; /* its env's (NULL: none, no push) */
    struct wmid_host_facts *facts;  /* its env's */
    bool subscribed;
    unsigned pushing;            /* WMID_PUSH_* reported now */
    struct wmid_instance_sink sink;
    struct wp_state *next_sub;
};

/* The subscribed states of one env, and whether the connector feeds
 * them.  Loop thread only. */
struct wmid_process_feed {
    struct wp_state *subscribers;
    bool pushing;
};

static bool
parse_stat(const char *buf, struct pstat *st)
{
    const char *open_paren = strchr(buf, '(');
    const char *close_paren = strrchr(buf, ')');
    if (open_paren == NULL || close_paren == NULL || close_paren < open_paren || close_paren[1] != ' ')
        return false;
    size_t n = (size_t)(close_paren - open_paren - 1);
    if (n >= sizeof st->comm)
        n = sizeof st->comm - 1;
    memcpy(st->comm, open_paren + 1, n);
    st->comm[n] = '\0';
    const char *p = close_paren + 2;
    /* Fields from 3 (state) on, numbered as in proc(5). */
    for (int field = 3; field <= 24 && *p != '\0'; field++) {
        char *end;
        if (field == 3) {
            end = strchr(p, ' ');
            if (end == NULL)
                return false;
        } else {
            long long v = strtoll(p, &end, 10);
            if (end == p)
                return false;
            switch (field) {
            case 4: st->ppid = (int)v; break;
            case 10: st->minflt = (unsigned long long)v; break;
            case 12: st->majflt = (unsigned long long)v; break;
            case 14: st->utime = (unsigned long long)v; break;
            case 15: st->stime = (unsigned long long)v; break;
            case 18: st->priority = v; break;
            case 19: st->nice = v; break;
            case 20: st->threads = v; break;
            case 22: st->starttime = (unsigned long long)v; break;
            case 23: st->vsize = strtoull(p, &end, 10); break;
            case 24: st->rss = v; return true;
            default: break;
            }
        }
        p = end;
        while (*p == ' ')
            p++;
    }
    return false;
}

/*
 * Windows base priority from the Linux scheduling class and nice value:
 * real-time policies (stat priority < 0) 24 (REALTIME), nice <= -15 13
 * (HIGH), nice < 0 10 (ABOVE_NORMAL), 0 8 (NORMAL), 1..9 6
 * (BELOW_NORMAL), >= 10 4 (IDLE).
 */
static uint32_t
windows_priority(long long priority, long long nice)
{
    if (priority < 0)
        return 24;
    if (nice <= -15)
        return 13;
    if (nice < 0)
        return 10;
    if (nice == 0)
        return 8;
    return nice < 10 ? 6 : 4;
}

char *
instance_read_link(const char *path)
{
    char buf[4096];
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    /* A replaced image reads "/usr/bin/x (deleted)"; WMI has no such form. */
    size_t len = (size_t)n;
    if (len > 10 && strcmp(buf + len - 10, " (deleted)") == 0)
        buf[len - 10] = '\0';
    return strdup(buf);
}

/* The command line with NULs as spaces; NULL for kernel threads or when
 * unreadable.  @argv0 receives a copy of the first argument. */
char *
instance_proc_cmdline(int pid, char **argv0)
{
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    ssize_t n = instance_read_file(path, buf, sizeof buf);
    *argv0 = NULL;
    if (n <= 0)
        return NULL;
    *argv0 = strdup(buf);
    while (n > 0 && buf[n - 1] == '\0')
        n--;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    return strdup(buf);
}

static void
pcache_free(struct pcache *c)
{
    free(c->name);
    free(c->exe);
    free(c->cmdline);
    free(c);
}

/* The cached per-image facts of @pid, read when the pid, its start time
 * or its comm is new (an exec keeps the pid and the start time but sets
 * the comm), or when @fresh (an exec was reported). */
static struct pcache *
cache_get(struct wp_state *s, int pid, const struct pstat *st, bool fresh)
{
    struct pcache **pp = &s->buckets[(unsigned)pid % NBUCKETS];
    while (*pp != NULL && (*pp)->pid != pid)
        pp = &(*pp)->next;
    if (*pp != NULL && !fresh && (*pp)->starttime == st->starttime && strcmp((*pp)->last.comm, st->comm) == 0) {
        (*pp)->last = *st;
        return *pp;
    }
    if (*pp != NULL) {
        struct pcache *old = *pp;
        *pp = old->next;
        pcache_free(old);
    }
    struct pcache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    char path[64], buf[32];
    c->pid = pid;
    c->starttime = st->starttime;
    c->born = s->gen;
    c->last = *st;
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    c->exe = instance_read_link(path);
    char *argv0 = NULL;
    c->cmdline = instance_proc_cmdline(pid, &argv0);
    /* The image name: the executable's base name (comm is cut at 15
     * bytes); else argv[0]'s when it agrees with comm; else comm. */
    const char *base = c->exe ? strrchr(c->exe, '/') : NULL;
    if (base != NULL) {
        c->name = strdup(base + 1);
    } else if (argv0 != NULL && argv0[0] != '\0') {
        const char *a = strrchr(argv0, '/');
        a = a ? a + 1 : argv0;
        c->name = strdup(strncmp(a, st->comm, strlen(st->comm)) == 0 ? a : st->comm);
    } else {
        c->name = strdup(st->comm);
    }
    free(argv0);
    snprintf(path, sizeof path, "/proc/%d/sessionid", pid);
    if (instance_read_file(path, buf, sizeof buf) > 0) {
        unsigned long v = strtoul(buf, NULL, 10);
        c->session = v >= 0xFFFFFFFFul ? 0 : (unsigned)v;
    }
    c->next = s->buckets[(unsigned)pid % NBUCKETS];
    s->buckets[(unsigned)pid % NBUCKETS] = c;
    return c;
}

static wmi_object *
make_instance(struct wp_state *s, int pid, const struct pstat *st, const struct pcache *c)
{
    wmi_object *o;
    char handle[16];
    if (WMI_FAILED(wmi_object_new(s->schema, "Win32_Process", &o)))
        return NULL;
    uint64_t to100ns = 10000000ull / (uint64_t)s->clk_tck;
    snprintf(handle, sizeof handle, "%d", pid);
    wmi_object_put_string(o, "Handle", handle);
    wmi_object_put_string(o, "Caption", c->name);
    wmi_object_put_string(o, "Description", c->name);
    wmi_object_put_string(o, "Name", c->name);
    wmi_object_put_string(o, "CreationClassName", "Win32_Process");
    wmi_object_put_string(o, "CSCreationClassName", "Win32_ComputerSystem");
    wmi_object_put_string(o, "CSName", instance_host_name(s->facts));
    wmi_object_put_string(o, "OSCreationClassName", "Win32_OperatingSystem");
    wmi_object_put_string(o, "OSName", instance_os_caption(s->facts));
    if (c->cmdline != NULL)
        wmi_object_put_string(o, "CommandLine", c->cmdline);
    if (c->exe != NULL)
        wmi_object_put_string(o, "ExecutablePath", c->exe);
    int64_t boot = instance_boot_usec(s->facts);
    if (boot > 0)
        instance_put_datetime(o, "CreationDate",
                              boot + (int64_t)(st->starttime * 1000000ull / (uint64_t)s->clk_tck));
    wmi_object_put_uint64(o, "ProcessId", (uint64_t)pid);
    wmi_object_put_uint64(o, "ParentProcessId", (uint64_t)(st->ppid < 0 ? 0 : st->ppid));
    wmi_object_put_uint64(o, "SessionId", c->session);
    wmi_object_put_uint64(o, "KernelModeTime", st->stime * to100ns);
    wmi_object_put_uint64(o, "UserModeTime", st->utime * to100ns);
    wmi_object_put_uint64(o, "WorkingSetSize", (uint64_t)(st->rss < 0 ? 0 : st->rss) * (uint64_t)s->page_size);
    wmi_object_put_uint64(o, "VirtualSize", st->vsize);
    wmi_object_put_uint64(o, "ThreadCount", (uint64_t)(st->threads < 0 ? 0 : st->threads));
    wmi_object_put_uint64(o, "Priority", windows_priority(st->priority, st->nice));
    unsigned long long faults = st->minflt + st->majflt;
    wmi_object_put_uint64(o, "PageFaults", faults > 0xFFFFFFFFull ? 0xFFFFFFFFull : faults);
    return o;
}

static void *
wp_open(struct wmid_instance_env *env, const wmi_schema *schema)
{
    struct wp_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->schema = schema;
    s->feed = env->processes;
    s->facts = &env->facts;
    s->clk_tck = sysconf(_SC_CLK_TCK);
    if (s->clk_tck <= 0)
        s->clk_tck = 100;
    s->page_size = sysconf(_SC_PAGESIZE);
    if (s->page_size <= 0)
        s->page_size = 4096;
    return s;
}

static void wp_unsubscribe(void *state);

static void
wp_close(void *state)
{
    struct wp_state *s = state;
    if (s == NULL)
        return;
    wp_unsubscribe(s);
    for (size_t b = 0; b < NBUCKETS; b++) {
        while (s->buckets[b] != NULL) {
            struct pcache *c = s->buckets[b];
            s->buckets[b] = c->next;
            pcache_free(c);
        }
    }
    free(s);
}

/* Read /proc/PID/stat; false when the process is gone. */
static bool
read_pstat(int pid, struct pstat *st)
{
    char path[64], buf[1024];
    memset(st, 0, sizeof *st);
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    return instance_read_file(path, buf, sizeof buf) > 0 && parse_stat(buf, st);
}

/* One pass over /proc: refresh the cache, give each instance to @fn (when
 * not NULL).  Returns the generation of the pass, 0 on failure. */
static unsigned long
scan(struct wp_state *s, wmid_instance_fn fn, void *arg)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return 0;
    unsigned long gen = ++s->gen;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        int pid = atoi(de->d_name);
        struct pstat st;
        if (!read_pstat(pid, &st))
            continue; /* gone meanwhile */
        struct pcache *c = cache_get(s, pid, &st, false);
        if (c == NULL)
            continue;
        c->gen = gen;
        if (fn == NULL)
            continue;
        wmi_object *o = make_instance(s, pid, &st, c);
        if (o != NULL) {
            fn(o, arg);
            wmi_object_unref(o);
        }
    }
    closedir(d);
    return gen;
}

/*
 * Forget processes a pass did not see.  While deletions are pushed, an
 * entry stays until a second pass misses it, so that a pass that runs
 * before the connector's exit message is read does not take the state
 * the deletion needs.  With @report, tell the sink of what went (and of
 * what came: entries born in this pass).
 */
static void
sweep(struct wp_state *s, unsigned long gen, bool report)
{
    for (size_t b = 0; b < NBUCKETS; b++) {
        struct pcache **pp = &s->buckets[b];
        while (*pp != NULL) {
            struct pcache *c = *pp;
            bool gone = report || !(s->pushing & WMID_PUSH_DELETION) ? c->gen != gen : c->gen + 1 < gen;
            if (report && !gone && c->born == gen) {
                wmi_object *o = make_instance(s, c->pid, &c->last, c);
                if (o != NULL) {
                    s->sink.created(s->sink.arg, o);
                    wmi_object_unref(o);
                }
            }
            if (!gone) {
                pp = &c->next;
                continue;
            }
            *pp = c->next;
            if (report) {
                wmi_object *o = make_instance(s, c->pid, &c->last, c);
                if (o != NULL) {
                    s->sink.deleted(s->sink.arg, o);
                    wmi_object_unref(o);
                }
            }
            pcache_free(c);
        }
    }
}

static wmi_status
wp_enumerate(void *state, wmid_instance_fn fn, void *arg)
{
    struct wp_state *s = state;
    unsigned long gen = scan(s, fn, arg);
    if (gen == 0)
        return WBEM_E_PROVIDER_FAILURE;
    sweep(s, gen, false);
    return WBEM_S_NO_ERROR;
}

/* ====================================================================
 * Push: exec and exit from the process connector
 * ==================================================================== */

static void
set_pushing(struct wp_state *s, bool on)
{
    unsigned kinds = on ? WMID_PUSH_CREATION | WMID_PUSH_DELETION : 0;
    if (s->pushing == kinds)
        return;
    if (on) {
        /* Know every live process, so that any exit can be told. */
        unsigned long gen = scan(s, NULL, NULL);
        if (gen != 0)
            sweep(s, gen, false);
    }
    s->pushing = kinds;
    s->sink.pushing(s->sink.arg, kinds);
}

static void
wp_exec(struct wp_state *s, int pid)
{
    struct pstat st;
    if (!read_pstat(pid, &st))
        return; /* already gone: nothing reliable to report */
    struct pcache *c = cache_get(s, pid, &st, true);
    if (c == NULL)
        return;
    c->gen = s->gen;
    wmi_object *o = make_instance(s, pid, &st, c);
    if (o != NULL) {
        s->sink.created(s->sink.arg, o);
        wmi_object_unref(o);
    }
}

static void
wp_exit(struct wp_state *s, int pid)
{
    struct pcache **pp = &s->buckets[(unsigned)pid % NBUCKETS];
    while (*pp != NULL && (*pp)->pid != pid)
        pp = &(*pp)->next;
    if (*pp == NULL)
        return; /* never seen (a fork that did not exec) */
    struct pcache *c = *pp;
    *pp = c->next;
    wmi_object *o = make_instance(s, pid, &c->last, c);
    if (o != NULL) {
        s->sink.deleted(s->sink.arg, o);
        wmi_object_unref(o);
    }
    pcache_free(c);
}

static bool
wp_subscribe(void *state, uv_loop_t *loop, const struct wmid_instance_sink *sink)
{
    struct wp_state *s = state;
    (void)loop;
    if (s->subscribed || s->feed == NULL)
        return false;
    s->sink = *sink;
    s->subscribed = true;
    s->next_sub = s->feed->subscribers;
    s->feed->subscribers = s;
    if (s->feed->pushing)
        set_pushing(s, true);
    return true;
}

static void
wp_unsubscribe(void *state)
{
    struct wp_state *s = state;
    if (!s->subscribed)
        return;
    for (struct wp_state **pp = &s->feed->subscribers; *pp != NULL; pp = &(*pp)->next_sub) {
        if (*pp == s) {
            *pp = s->next_sub;
            break;
        }
    }
    s->subscribed = false;
    s->pushing = 0;
}

struct wmid_process_feed *
process_feed_new(void)
{
    return calloc(1, sizeof(struct wmid_process_feed));
}

/* Every state subscribed to @f has unsubscribed (intrinsic_stop). */
void
process_feed_free(struct wmid_process_feed *f)
{
    free(f);
}

void
process_feed_source(struct wmid_process_feed *f, bool pushing)
{
    if (f == NULL || f->pushing == pushing)
        return;
    f->pushing = pushing;
    for (struct wp_state *s = f->subscribers; s != NULL; s = s->next_sub)
        set_pushing(s, pushing);
}

void
process_feed_exec(struct wmid_process_feed *f, int pid)
{
    if (f == NULL || !f->pushing)
        return;
    for (struct wp_state *s = f->subscribers; s != NULL; s = s->next_sub)
        wp_exec(s, pid);
}

void
process_feed_exit(struct wmid_process_feed *f, int pid)
{
    if (f == NULL || !f->pushing)
        return;
    for (struct wp_state *s = f->subscribers; s != NULL; s = s->next_sub)
        wp_exit(s, pid);
}

/* Events were lost: find what changed by one pass, and tell it. */
void
process_feed_overrun(struct wmid_process_feed *f)
{
    if (f == NULL || !f->pushing)
        return;
    for (struct wp_state *s = f->subscribers; s != NULL; s = s->next_sub) {
        unsigned long gen = scan(s, NULL, NULL);
        if (gen != 0)
            sweep(s, gen, true);
    }
}

const struct wmid_instance_provider wmid_ip_win32_process = {
    .name = "Win32_Process (/proc)",
    .class_name = "Win32_Process",
    .push = WMID_PUSH_CREATION | WMID_PUSH_DELETION,
    .open = wp_open,
    .close = wp_close,
    .enumerate = wp_enumerate,
    .subscribe = wp_subscribe,
    .unsubscribe = wp_unsubscribe,
};
