/*
 * bench_socket.c - end-to-end throughput of wmieventd over its control
 * socket: producer, stopwatch and daemon supervisor in one program.
 *
 *   bench_socket -x WMIEVENTD -f SETTINGS -s SOCKET (-k COUNTER | -o OUTFILE)
 *                [-n EVENTS] [-R RUNS] [-c CASE] [-l DAEMON_LOG] [-T TIMEOUT_S]
 *
 * For each run it starts `WMIEVENTD -d -f SETTINGS` fresh, waits until the
 * daemon answers a Ping on SOCKET, then writes EVENTS bare JSON events
 * (generated in memory, deterministic, the same shape and distribution as
 * ../shared/bench-peers/gen.py: 1/3 match the bench filter) over one
 * connection in 64 KiB write()s from a thread, while the main thread polls
 * for completion every millisecond:
 *   -k COUNTER   the 64-bit counter the null consumer (plugins/null.c) keeps
 *                in that file must reach the number of matching events;
 *   -o OUTFILE   the LogFileEventConsumer's file must reach the expected
 *                size ("<ProcessName> <ProcessID>\n" per match), and is then
 *                compared with the expected bytes.
 * It reports, per run and as the median over the runs:
 *   ev/s e2e     EVENTS / (time until every match was delivered)
 *   ev/s in      EVENTS / (time until the kernel took the last byte)
 *   CPU us/ev    the daemon's utime+stime (all threads) during the send,
 *                per event
 *   VmHWM        the daemon's peak RSS at the end of the run (and at idle,
 *                before the send, i.e. what the config alone costs)
 * The last line is machine-readable ("RESULT key=value ...").
 * Exit status 0 when every run delivered every match, else 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64 * 1024)
#define MAX_RUNS 32

struct workload {
    char *buf;           /* N lines */
    size_t len;
    size_t n;
    size_t matches;
    char *expected;      /* fields output */
    size_t expected_len;
};

struct run_result {
    bool ok;
    double wall_s, in_s, cpu_s;
    long hwm_idle_kib, hwm_kib;
    const char *check;
};

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ====================================================================
 * Workload: the same shape as bench-peers/gen.py (not the same bytes:
 * a different PRNG), so the match ratio and line lengths are alike.
 * ==================================================================== */

static uint64_t rng_state = 12345;

static uint64_t
rnd(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned
rnd_range(unsigned lo, unsigned hi) /* [lo, hi) */
{
    return lo + (unsigned)(rnd() % (hi - lo));
}

static void
append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t ncap = *cap ? *cap : 1 << 20;
        while (*len + n + 1 > ncap)
            ncap *= 2;
        char *nb = realloc(*buf, ncap);
        if (nb == NULL) {
            perror("realloc");
            exit(2);
        }
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static void
make_workload(struct workload *w, size_t n)
{
    static const char *const classes[] = {"Bench_ProcessStartTrace", "Bench_ProcessStopTrace"};
    size_t cap = 0, ecap = 0;
    char line[256], name[32], fields[64];
    memset(w, 0, sizeof *w);
    w->n = n;
    for (size_t i = 0; i < n; i++) {
        bool one = rnd() % 2 == 0;
        if (one)
            snprintf(name, sizeof name, "proc-1%u.exe", rnd_range(0, 1000));
        else
            snprintf(name, sizeof name, "proc-%u%u.exe", rnd_range(2, 10), rnd_range(0, 1000));
        unsigned sev = rnd_range(1, 7);
        const char *cls = classes[rnd_range(0, 2)];
        unsigned pid = rnd_range(4, 65536);
        int k = snprintf(line, sizeof line,
                         "{\"__CLASS\":\"%s\",\"ProcessName\":\"%s\",\"ProcessID\":%u,"
                         "\"SessionID\":%u,\"Severity\":%u}\n",
                         cls, name, pid, rnd_range(0, 4), sev);
        append(&w->buf, &w->len, &cap, line, (size_t)k);
        if (strncmp(name, "proc-1", 6) == 0 && sev >= 3) {
            k = snprintf(fields, sizeof fields, "%s %u\n", name, pid);
            append(&w->expected, &w->expected_len, &ecap, fields, (size_t)k);
            w->matches++;
        }
    }
}

/* ====================================================================
 * The daemon
 * ==================================================================== */

static pid_t
start_daemon(const char *exe, const char *settings, const char *logpath)
{
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        int fd = open(logpath ? logpath : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            dup2(fd, STDOUT_FILENO);
            close(fd);
        }
        execl(exe, exe, "-d", "-f", settings, (char *)NULL);
        perror(exe);
        _exit(127);
    }
    return pid;
}

static int
connect_unix(const char *path)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Connect and get a reply to a Ping: the daemon's loop is running. */
static bool
wait_ready(const char *sock, pid_t pid, double timeout_s)
{
    double t0 = now_s();
    while (now_s() - t0 < timeout_s) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return false;
        int fd = connect_unix(sock);
        if (fd >= 0) {
            static const char ping[] = "{\"Method\":\"Ping\",\"Id\":1}\n";
            char reply[512];
            bool ok = write(fd, ping, sizeof ping - 1) == (ssize_t)(sizeof ping - 1) &&
                      read(fd, reply, sizeof reply) > 0;
            close(fd);
            if (ok)
                return true;
        }
        sleep_ms(10);
    }
    return false;
}

/* utime + stime of every thread of @pid, in seconds. */
static double
proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    /* after ") ": state(3) ... utime(14) stime(15) */
    unsigned long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long
proc_status_kib(pid_t pid, const char *key)
{
    char path[64], line[256];
    size_t kl = strlen(key);
    long v = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

static void
stop_daemon(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        sleep_ms(10);
    }
    fprintf(stderr, "bench_socket: daemon %d did not stop within 10 s of SIGTERM; SIGKILL\n", (int)pid);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* ====================================================================
 * The sender thread
 * ==================================================================== */

struct sender {
    int fd;
    const char *buf;
    size_t len;
    atomic_size_t sent;
    double done_at;
    int error;
};

static void *
send_all(void *arg)
{
    struct sender *s = arg;
    size_t off = 0;
    while (off < s->len) {
        size_t n = s->len - off < CHUNK ? s->len - off : CHUNK;
        ssize_t w = write(s->fd, s->buf + off, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            s->error = errno;
            break;
        }
        off += (size_t)w;
        atomic_store(&s->sent, off);
    }
    s->done_at = now_s();
    return NULL;
}

/* ====================================================================
 * One run
 * ==================================================================== */

struct options {
    const char *exe, *settings, *sock, *counter, *outfile, *label, *logpath;
    size_t n;
    int runs;
    double timeout_s, stall_s;
};

static uint64_t
read_progress(const struct options *o, volatile uint64_t **map)
{
    if (o->counter != NULL) {
        if (*map == NULL) {
            int fd = open(o->counter, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                return 0;
            struct stat st;
            if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(uint64_t)) {
                close(fd);
                return 0;
            }
            void *m = mmap(NULL, sizeof(uint64_t), PROT_READ, MAP_SHARED, fd, 0);
            close(fd);
            if (m == MAP_FAILED)
                return 0;
            *map = m;
        }
        return **map;
    }
    struct stat st;
    if (stat(o->outfile, &st) != 0)
        return 0;
    return (uint64_t)st.st_size;
}

static const char *
check_output(const struct options *o, const struct workload *w)
{
    if (o->counter != NULL)
        return "count-exact";
    FILE *f = fopen(o->outfile, "rb");
    if (f == NULL)
        return "unreadable";
    char *got = malloc(w->expected_len + 1);
    size_t n = got ? fread(got, 1, w->expected_len + 1, f) : 0;
    fclose(f);
    const char *r = n == w->expected_len && memcmp(got, w->expected, n) == 0 ? "identical" : "DIFFERENT";
    free(got);
    return r;
}

static struct run_result
one_run(const struct options *o, const struct workload *w, int run)
{
    struct run_result r = {false, 0, 0, 0, -1, -1, "failed"};
    uint64_t target = o->counter != NULL ? (uint64_t)w->matches : (uint64_t)w->expected_len;
    volatile uint64_t *map = NULL;

    unlink(o->counter != NULL ? o->counter : o->outfile);
    pid_t pid = start_daemon(o->exe, o->settings, o->logpath);
    if (!wait_ready(o->sock, pid, 30)) {
        fprintf(stderr, "bench_socket: %s run %d: the daemon did not come up on %s (log: %s)\n", o->label, run,
                o->sock, o->logpath ? o->logpath : "-");
        stop_daemon(pid);
        return r;
    }
    int fd = connect_unix(o->sock);
    if (fd < 0) {
        perror("connect");
        stop_daemon(pid);
        return r;
    }
    r.hwm_idle_kib = proc_status_kib(pid, "VmHWM");
    struct sender s = {.fd = fd, .buf = w->buf, .len = w->len};
    atomic_init(&s.sent, 0);
    double cpu0 = proc_cpu_s(pid);
    double t0 = now_s();
    pthread_t th;
    if (pthread_create(&th, NULL, send_all, &s) != 0) {
        perror("pthread_create");
        exit(2);
    }
    uint64_t last = 0;
    size_t last_sent = 0;
    double last_move = t0, t_end = 0;
    for (;;) {
        sleep_ms(1);
        uint64_t p = read_progress(o, &map);
        double t = now_s();
        if (p >= target) {
            t_end = t;
            break;
        }
        size_t sent = atomic_load(&s.sent);
        if (p != last || sent != last_sent) {
            last = p;
            last_sent = sent;
            last_move = t;
        }
        if (t - t0 > o->timeout_s || t - last_move > o->stall_s || waitpid(pid, NULL, WNOHANG) == pid) {
            fprintf(stderr,
                    "bench_socket: %s run %d: gave up after %.1f s: %llu of %llu delivered, %zu of %zu bytes "
                    "sent\n",
                    o->label, run, t - t0, (unsigned long long)p, (unsigned long long)target, sent, w->len);
            break;
        }
    }
    pthread_join(th, NULL);
    double cpu1 = proc_cpu_s(pid);
    if (t_end > 0) {
        sleep_ms(20); /* nothing more may arrive */
        uint64_t p = read_progress(o, &map);
        r.ok = p == target && s.error == 0;
        r.check = p == target ? check_output(o, w) : "TOO-MANY";
        if (strcmp(r.check, "DIFFERENT") == 0)
            r.ok = false;
        r.wall_s = t_end - t0;
        r.in_s = s.done_at - t0;
        r.cpu_s = cpu1 - cpu0;
        r.hwm_kib = proc_status_kib(pid, "VmHWM");
    }
    if (map != NULL)
        munmap((void *)map, sizeof(uint64_t));
    close(fd);
    stop_daemon(pid);
    return r;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void
usage(void)
{
    fprintf(stderr, "usage: bench_socket -x WMIEVENTD -f SETTINGS -s SOCKET (-k COUNTER | -o OUTFILE)\n"
                    "                    [-n EVENTS] [-R RUNS] [-c CASE] [-l DAEMON_LOG] [-T TIMEOUT_S]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    struct options o = {.n = 1000000, .runs = 3, .label = "case", .timeout_s = 300, .stall_s = 30};
    int ch;
    while ((ch = getopt(argc, argv, "x:f:s:k:o:n:R:c:l:T:")) != -1) {
        switch (ch) {
        case 'x': o.exe = optarg; break;
        case 'f': o.settings = optarg; break;
        case 's': o.sock = optarg; break;
        case 'k': o.counter = optarg; break;
        case 'o': o.outfile = optarg; break;
        case 'n': o.n = (size_t)strtoull(optarg, NULL, 10); break;
        case 'R': o.runs = atoi(optarg); break;
        case 'c': o.label = optarg; break;
        case 'l': o.logpath = optarg; break;
        case 'T': o.timeout_s = atof(optarg); break;
        default: usage();
        }
    }
    if (!o.exe || !o.settings || !o.sock || (!o.counter == !o.outfile) || o.n == 0 || o.runs < 1 ||
        o.runs > MAX_RUNS)
        usage();
    signal(SIGPIPE, SIG_IGN);

    struct workload w;
    make_workload(&w, o.n);
    printf("%s: %zu events (%zu bytes, %.1f B/line), %zu match (%.1f %%), %s\n", o.label, w.n, w.len,
           (double)w.len / (double)w.n, w.matches, 100.0 * (double)w.matches / (double)w.n,
           o.counter ? "null consumer" : "LogFileEventConsumer");
    fflush(stdout);

    double e2e[MAX_RUNS], in[MAX_RUNS], cpu[MAX_RUNS];
    long hwm = -1, hwm_idle = -1;
    int ok = 0;
    for (int i = 0; i < o.runs; i++) {
        struct run_result r = one_run(&o, &w, i + 1);
        if (!r.ok) {
            printf("  run %d: FAILED (%s)\n", i + 1, r.check);
            fflush(stdout);
            continue;
        }
        e2e[ok] = (double)w.n / r.wall_s;
        in[ok] = (double)w.n / r.in_s;
        cpu[ok] = r.cpu_s * 1e6 / (double)w.n;
        if (r.hwm_kib > hwm)
            hwm = r.hwm_kib;
        if (r.hwm_idle_kib > hwm_idle)
            hwm_idle = r.hwm_idle_kib;
        printf("  run %d: %9.0f ev/s end-to-end, %9.0f ev/s in, wall %.3f s, daemon CPU %.2f s "
               "(%.2f us/ev), VmHWM %.1f MiB (idle %.1f MiB), %s\n",
               i + 1, e2e[ok], in[ok], r.wall_s, r.cpu_s, cpu[ok], (double)r.hwm_kib / 1024,
               (double)r.hwm_idle_kib / 1024, r.check);
        fflush(stdout);
        ok++;
    }
    if (ok == 0) {
        printf("RESULT case=%s n=%zu runs_ok=0/%d\n", o.label, w.n, o.runs);
        return 1;
    }
    double me2e = median(e2e, ok), min = median(in, ok), mcpu = median(cpu, ok);
    printf("RESULT case=%s n=%zu matches=%zu runs_ok=%d/%d ev_s_e2e=%.0f ev_s_in=%.0f cpu_us_ev=%.2f "
           "vmhwm_mib=%.1f idle_vmhwm_mib=%.1f\n",
           o.label, w.n, w.matches, ok, o.runs, me2e, min, mcpu, (double)hwm / 1024, (double)hwm_idle / 1024);
    free(w.buf);
    free(w.expected);
    return ok == o.runs ? 0 : 1;
}
