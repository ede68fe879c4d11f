/*
 * hosting.c - isolated hosting: a consumer provider whose
 * __Win32Provider.HostingModel asks for it runs in a wmieventd-host
 * process (src/host/host.c) instead of the daemon, behind a proxy
 * consumer provider, so that a plugin that crashes or hangs costs a
 * restart of its host and never the daemon.  docs/hosting.md is the
 * user's view; this comment is the implementer's.
 *
 * Pieces:
 *
 *   struct wmid_hosting the daemon's host processes (main.c makes it; the
 *                      consumer provider loads reach it through their
 *                      settings, the rest through p->hosted).
 *   struct hostproc    one host process (one per provider, or one per
 *                      HostingModel ":GroupName" group), its socketpair,
 *                      its supervisor thread and its counters.
 *   struct wmid_hosted one provider in a host: the proxy
 *                      wmi_event_consumer_provider that p->cp points to,
 *                      and the logical consumers found through it.
 *   struct psink       a proxy physical consumer (what the delivery
 *                      engine calls indicate_to_consumer on).
 *
 * The supervisor thread is the only thread that spawns, reads from and
 * reaps a host: it starts the process, replays what the host must know
 * (classes, Load of every provider, FindConsumer of every logical
 * consumer: "establish"), then reads replies and hands them to waiting
 * callers until the host dies; then it reaps it, waits out the backoff and
 * starts the next generation.  Callers (the loop thread for Load and
 * FindConsumer, delivery threads for IndicateToConsumer) write their
 * request frame themselves and wait on the host's condition variable with
 * a deadline; a caller whose deadline passes kills the host (SIGKILL),
 * which the supervisor then sees as end of file.
 *
 * Generations: every start of a host process is a new generation (gen).
 * A request belongs to one generation; when that generation dies, its
 * waiters wake up with "dead" and may try again on the next one (the
 * single redelivery of a batch).  Remote identifiers (provider and
 * consumer ids) are the daemon's and stay the same across generations,
 * so a replayed host is indistinguishable from the first one.
 *
 * Locks, always taken in this order: cmu (the class cache, held while a
 * Classes frame is written, so that no request that needs those classes
 * overtakes it), wmu (one frame at a time on the socket; the supervisor
 * closes the descriptor only under it), mu (everything else).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/plugins/plugins.h"
#include "daemon/wmieventd.h"
#include "daemon/log.h"


/* After a crash or a hang, the k-th consecutive restart waits
 * BACKOFF_FIRST_MS << (k - 2) (the first one none), at most BACKOFF_MAX_MS.
 * A host that stayed up BACKOFF_RESET_MS counts as healthy again. */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 30000
#define BACKOFF_RESET_MS 60000
/* How long a host may take to exit when asked, and to die when killed. */
#define EXIT_WAIT_MS 5000
#define KILL_WAIT_MS 2000

enum death { DEATH_NONE, DEATH_HANG, DEATH_GARBAGE };

struct pending {
    uint64_t id;
    unsigned gen;
    json_t *reply;
    bool done;
    struct pending *next;
};

/* A class already sent to the current generation, and an object of it
 * held so that the class (and its address) stays alive. */
struct seen_class {
    const wmi_class *cls;
    wmi_object *witness;
};

struct psink;
struct hcons;

struct hostproc {
    struct wmid_hosting *owner;   /* lists it while it serves providers */
    char *key;                    /* groups providers: "g:<model>" or "p:<provider>" */
    char *group;                  /* for logs and Stats */
    char *program;
    char run_as[48];              /* "uid:gid" the host drops to (-U), or "" for the daemon's identity */
    pthread_mutex_t mu, wmu, cmu;
    pthread_cond_t cv;            /* CLOCK_MONOTONIC */
    /* The current generation (mu; fd also under wmu). */
    int fd;
    pid_t pid;
    unsigned gen;
    bool alive;                   /* a process exists, not yet reaped */
    bool ready;                   /* established: calls may go out */
    bool starting;                /* the supervisor is starting one */
    bool closing;                 /* hosting_unload of the last provider */
    bool sup_done;
    enum death death;             /* why the current one was killed */
    int64_t started_ms, next_start_ms;
    unsigned consecutive;         /* failures in a row, for the backoff */
    unsigned start_attempts;      /* spawn attempts, failed or not */
    char last_error[256];
    char last_exit[96];
    uint64_t next_id;
    uint32_t next_provider_id, next_consumer_id;
    struct pending *pending;
    struct wmid_hosted *providers;
    pthread_t sup;
    struct hp_reader rd;          /* supervisor only */
    /* The class cache (cmu). */
    unsigned cache_gen;
    struct seen_class *seen;
    size_t nseen, capseen;
    json_t *sent;                 /* lower-case name -> definition sent */
    /* Counters (mu). */
    unsigned long long starts, crashes, hangs, garbage;
    struct hostproc *next;
};

/* A logical consumer found through the proxy. */
struct hcons {
    uint32_t cid;
    wmi_object *logical;
    struct psink *sink;
    unsigned found_gen;           /* the generation that has it */
    uint32_t sid;                 /* its physical consumer there */
    wmi_status status;            /* of FindConsumer there */
    struct hcons *next;
};

struct wmid_hosted {
    struct wmi_event_consumer_provider cp;   /* the proxy: p->cp */
    struct hostproc *hp;
    struct wmid_provider *p;
    uint32_t id;
    char *name, *library;
    wmi_object *registration;
    bool wanted;                  /* load it into every new generation */
    unsigned loaded_gen;
    wmi_status load_status;
    unsigned hard_limit_ms;
    struct hcons *consumers;
    struct psink *sinks;
    atomic_ullong redelivered, failed;
    struct wmid_hosted *next;
};

struct psink {
    struct wmi_unbound_object_sink base;     /* first: the engine sees this */
    struct wmid_hosted *h;
    struct hp_buf buf;            /* the delivery thread's encoding buffer */
    struct psink *next;
};

/* Every host process of the daemon, loop thread only. */
struct wmid_hosting {
    struct hostproc *hosts;
};

/* ====================================================================
 * HostingModel
 * ==================================================================== */

enum model_kind { MODEL_IN_PROCESS, MODEL_ISOLATED, MODEL_INVALID };

static const char *const host_models[] = {
    "SelfHost", "LocalSystemHost", "LocalSystemHostOrSelfHost", "NetworkServiceHost",
    "NetworkServiceHostOrSelfHost", "LocalServiceHost",
};

/* Classify @model; for an isolated one, *@grouped says whether it names a
 * ":GroupName". */
static enum model_kind
classify(const char *model, bool *grouped)
{
    *grouped = false;
    if (model == NULL || model[0] == '\0' || strcasecmp(model, "InProcess") == 0 ||
        strcasecmp(model, "WmiCore") == 0)
        return MODEL_IN_PROCESS;
    if (strcasecmp(model, "Decoupled:Com") == 0 || strcasecmp(model, "Decoupled:Noncom") == 0 ||
        strcasecmp(model, "Decoupled:Com:FoldIdentity(TRUE)") == 0 ||
        strcasecmp(model, "Decoupled:Com:FoldIdentity(FALSE)") == 0)
        return MODEL_ISOLATED;
    const char *colon = strchr(model, ':');
    size_t len = colon ? (size_t)(colon - model) : strlen(model);
    for (size_t i = 0; i < sizeof host_models / sizeof host_models[0]; i++) {
        if (strlen(host_models[i]) == len && strncasecmp(model, host_models[i], len) == 0) {
            if (colon == NULL)
                return MODEL_ISOLATED;
            if (colon[1] == '\0' || strchr(colon + 1, ':') != NULL)
                return MODEL_INVALID;
            *grouped = true;
            return MODEL_ISOLATED;
        }
    }
    return MODEL_INVALID;
}

bool
hosting_is_isolated(const char *model)
{
    bool grouped;
    /* Unknown values count as isolated so that hosting_load refuses them. */
    return classify(model, &grouped) != MODEL_IN_PROCESS;
}

/* ====================================================================
 * Small helpers
 * ==================================================================== */

static bool
fail(struct wmid_provider *p, bool log, wmi_status st, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Record a load failure as loader.c does; @log false when the host has
 * logged it already. */
static bool
fail(struct wmid_provider *p, bool log, wmi_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wmi_error_setv(&p->error, st, p->name, 0, 0, fmt, ap);
    va_end(ap);
    p->loaded = false;
    p->cp = NULL;
    p->state = NULL;
    if (log)
        log_warnx("provider %s: %s (%s); its consumers get nothing", p->name, p->error.text, wmi_status_name(st));
    return false;
}

static void
deadline_ts(struct timespec *ts, int64_t deadline_ms)
{
    ts->tv_sec = (time_t)(deadline_ms / 1000);
    ts->tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
}

/* Wait on hp->cv (mu held) until @deadline_ms; false once it has passed. */
static bool
wait_until(struct hostproc *hp, int64_t deadline_ms)
{
    if (hp_now_ms() >= deadline_ms)
        return false;
    struct timespec ts;
    deadline_ts(&ts, deadline_ms);
    pthread_cond_timedwait(&hp->cv, &hp->mu, &ts);
    return true;
}

static void
lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s + 32);
}

/* The program to run: the host_program setting, else $WMIEVENTD_HOST,
 * else wmieventd-host next to the daemon's own executable. */
static char *
host_program(const struct wmid_settings *s)
{
    char *out = NULL;
    if (s != NULL && s->host_program != NULL)
        return strdup(s->host_program);
    const char *env = getenv("WMIEVENTD_HOST");
    if (env != NULL && env[0] != '\0')
        return strdup(env);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return strdup("wmieventd-host");
    self[n] = '\0';
    if (asprintf(&out, "%s/wmieventd-host", dirname(self)) < 0)
        return NULL;
    return out;
}

/* ====================================================================
 * Writing frames
 * ==================================================================== */

/* Write a whole frame to generation @gen; false when it is gone or the
 * write did not finish by @deadline_ms (errno ETIMEDOUT). */
static bool
send_frame(struct hostproc *hp, unsigned gen, const char *data, size_t len, int64_t deadline_ms)
{
    pthread_mutex_lock(&hp->wmu);
    pthread_mutex_lock(&hp->mu);
    bool ok = hp->alive && hp->gen == gen && hp->fd >= 0;
    int fd = hp->fd;
    pthread_mutex_unlock(&hp->mu);
    if (ok && hp_write_all(fd, data, len, deadline_ms) != 0)
        ok = false;
    else if (!ok)
        errno = EPIPE;
    int saved = errno;
    pthread_mutex_unlock(&hp->wmu);
    errno = saved;
    return ok;
}

/* mu held: kill generation @gen as hung (or broken), once. */
static void
kill_locked(struct hostproc *hp, unsigned gen, enum death why, unsigned limit_ms)
{
    if (!hp->alive || hp->gen != gen || hp->death != DEATH_NONE)
        return;
    hp->death = why;
    hp->ready = false;
    if (why == DEATH_HANG && !hp->closing) {
        hp->hangs++;
        log_warnx("host %s (pid %d): a call ran past its hard limit of %u ms; killing it", hp->group,
                  (int)hp->pid, limit_ms);
    }
    /* The pid is not reaped while alive is set (the supervisor clears it
     * under mu before waitpid), so it cannot have been reused. */
    kill(hp->pid, SIGKILL);
    pthread_cond_broadcast(&hp->cv);
}

/* ====================================================================
 * Classes: the host learns the definition of every class before the
 * first object of it, in superclass-first order.
 * ==================================================================== */

static void
cache_reset(struct hostproc *hp, unsigned gen)
{
    for (size_t i = 0; i < hp->nseen; i++)
        wmi_object_unref(hp->seen[i].witness);
    hp->nseen = 0;
    json_object_clear(hp->sent);
    hp->cache_gen = gen;
}

static bool
class_seen(struct hostproc *hp, const wmi_class *cls)
{
    for (size_t i = hp->nseen; i-- > 0;)
        if (hp->seen[i].cls == cls)
            return true;
    return false;
}

/* Add the classes @obj needs (its class chain, and those of objects
 * embedded in it) that the host lacks to @out. */
static void
collect_classes(struct hostproc *hp, const wmi_object *obj, json_t *out, int depth)
{
    const wmi_class *cls = wmi_object_class(obj);
    if (depth > WMI_MAX_OBJECT_NESTING)
        return;
    if (!class_seen(hp, cls)) {
        const wmi_class *chain[WMI_MAX_OBJECT_NESTING * 4];
        size_t n = 0;
        for (const wmi_class *c = cls; c != NULL && n < sizeof chain / sizeof chain[0]; c = wmi_class_superclass(c))
            chain[n++] = c;
        while (n-- > 0) {
            char key[256];
            snprintf(key, sizeof key, "%s", wmi_class_name(chain[n]));
            lower(key);
            json_t *def = wmi_class_to_json(chain[n]);
            if (def == NULL)
                continue;
            json_t *prev = json_object_get(hp->sent, key);
            if (prev == NULL || !json_equal(prev, def)) {
                json_array_append(out, def);
                json_object_set(hp->sent, key, def);
            }
            json_decref(def);
        }
        if (hp->nseen == hp->capseen) {
            size_t ncap = hp->capseen ? hp->capseen * 2 : 16;
            struct seen_class *ns = realloc(hp->seen, ncap * sizeof *ns);
            if (ns != NULL) {
                hp->seen = ns;
                hp->capseen = ncap;
            }
        }
        if (hp->nseen < hp->capseen)
            hp->seen[hp->nseen++] = (struct seen_class){cls, wmi_object_ref((wmi_object *)obj)};
    }
    /* Embedded objects (TargetInstance and the like) may be of any
     * subclass of their property's class. */
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)wmi_object_json(obj), k, v) {
        if (!json_is_object(v) || json_object_get(v, "__CLASS") == NULL)
            continue;
        wmi_object *e = NULL;
        if (wmi_object_get_object(obj, k, &e) == WBEM_S_NO_ERROR && e != NULL)
            collect_classes(hp, e, out, depth + 1);
        wmi_object_unref(e);
    }
}

/* Make sure generation @gen knows the classes of @objs; false when the
 * generation is gone. */
static bool
ensure_classes(struct hostproc *hp, unsigned gen, const wmi_object *const *objs, size_t n, int64_t deadline_ms)
{
    bool ok = true;
    pthread_mutex_lock(&hp->cmu);
    if (hp->cache_gen != gen)
        cache_reset(hp, gen);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        if (objs[i] != NULL)
            collect_classes(hp, objs[i], out, 0);
    if (json_array_size(out) > 0) {
        json_t *msg = json_pack("{sssO}", "op", "Classes", "classes", out);
        struct hp_buf b = {0};
        ok = msg != NULL && hp_buf_frame_json(&b, msg) && hp_buf_payload(&b) <= WMID_HOST_MAX_REQUEST &&
             send_frame(hp, gen, b.data, b.len, deadline_ms);
        if (!ok)
            /* Whatever was not sent must be sent again. */
            cache_reset(hp, gen);
        hp_buf_free(&b);
        json_decref(msg);
    }
    json_decref(out);
    pthread_mutex_unlock(&hp->cmu);
    return ok;
}

/* ====================================================================
 * Calls from callers (loop and delivery threads)
 * ==================================================================== */

enum call_result { CALL_OK, CALL_DEAD, CALL_TIMEOUT };

/*
 * Send the sealed frame @b (request @id) to generation @gen and wait for
 * the reply until @timeout_ms.  On time-out the host is killed as hung.
 */
static enum call_result
call_frame(struct hostproc *hp, unsigned gen, uint64_t id, const struct hp_buf *b, unsigned timeout_ms,
           json_t **reply)
{
    struct pending pd = {.id = id, .gen = gen};
    int64_t deadline = hp_now_ms() + timeout_ms;
    *reply = NULL;

    pthread_mutex_lock(&hp->mu);
    if (!hp->alive || hp->gen != gen) {
        pthread_mutex_unlock(&hp->mu);
        return CALL_DEAD;
    }
    pd.next = hp->pending;
    hp->pending = &pd;
    pthread_mutex_unlock(&hp->mu);

    bool sent = send_frame(hp, gen, b->data, b->len, deadline);
    int err = errno;
    pthread_mutex_lock(&hp->mu);
    if (sent)
        while (!pd.done && hp->alive && hp->gen == gen && wait_until(hp, deadline))
            ;
    for (struct pending **pp = &hp->pending; *pp != NULL; pp = &(*pp)->next)
        if (*pp == &pd) {
            *pp = pd.next;
            break;
        }
    enum call_result r;
    if (pd.done) {
        *reply = pd.reply;
        r = CALL_OK;
    } else if (hp->alive && hp->gen == gen && (sent || err == ETIMEDOUT)) {
        kill_locked(hp, gen, DEATH_HANG, timeout_ms);
        r = CALL_TIMEOUT;
    } else {
        /* The host went away under us: let no one else use it. */
        if (hp->gen == gen)
            hp->ready = false;
        r = CALL_DEAD;
    }
    pthread_mutex_unlock(&hp->mu);
    return r;
}

/* A JSON request to generation @gen; "id" is added. */
static enum call_result
call_json(struct hostproc *hp, unsigned gen, json_t *req, unsigned timeout_ms, json_t **reply)
{
    struct hp_buf b = {0};
    pthread_mutex_lock(&hp->mu);
    uint64_t id = ++hp->next_id;
    pthread_mutex_unlock(&hp->mu);
    json_object_set_new(req, "id", json_integer((json_int_t)id));
    enum call_result r = CALL_DEAD;
    if (hp_buf_frame_json(&b, req))
        r = call_frame(hp, gen, id, &b, timeout_ms, reply);
    hp_buf_free(&b);
    return r;
}

enum ready_result { READY, NOT_READY, CLOSED };

/*
 * Wait until a generation is established and return it in *@gen.  Gives
 * up when @max_starts more start attempts have failed, and at once when
 * the host is in a backoff that ends after @budget_ms; otherwise the wait
 * allows WMID_HOST_CONTROL_MS for a start on top of @budget_ms.
 */
static enum ready_result
wait_ready(struct hostproc *hp, unsigned budget_ms, unsigned max_starts, unsigned *gen)
{
    int64_t deadline = hp_now_ms() + budget_ms + WMID_HOST_CONTROL_MS;
    enum ready_result r = NOT_READY;
    pthread_mutex_lock(&hp->mu);
    unsigned base = hp->start_attempts;
    for (;;) {
        if (hp->closing) {
            r = CLOSED;
            break;
        }
        if (hp->ready) {
            *gen = hp->gen;
            r = READY;
            break;
        }
        bool idle = !hp->alive && !hp->starting;
        if (idle && (hp->start_attempts - base >= max_starts || hp->next_start_ms > hp_now_ms() + budget_ms))
            break;
        if (!wait_until(hp, deadline))
            break;
    }
    pthread_mutex_unlock(&hp->mu);
    return r;
}

/* ====================================================================
 * Supervisor: start, establish, serve, reap
 * ==================================================================== */

static bool
spawn_host(struct hostproc *hp)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(hp->last_error, sizeof hp->last_error, "cannot create a socketpair: %s", strerror(errno));
        return false;
    }
    int child = sv[1];
    if (child == WMID_HOST_FD) {
        /* dup2 onto itself would keep close-on-exec set. */
        child = fcntl(sv[1], F_DUPFD_CLOEXEC, WMID_HOST_FD + 1);
        close(sv[1]);
    }
    char level[16];
    snprintf(level, sizeof level, "%d", log_getlevel());
    char *argv[] = {(char *)"wmieventd-host", (char *)"-g", hp->group, (char *)"-l", level, NULL, NULL, NULL, NULL};
    size_t na = 5;
    if (hp->run_as[0] != '\0') {
        argv[na++] = (char *)"-U";
        argv[na++] = hp->run_as;
    }
    if (isatty(STDERR_FILENO))
        argv[na++] = (char *)"-t";
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGHUP);
    sigaddset(&defaults, SIGCHLD);
    posix_spawn_file_actions_init(&fa);
    /* Only stdin, stdout, stderr (the daemon's log) and the socket reach
     * the host, whatever a plugin of the daemon opened without
     * O_CLOEXEC. */
    posix_spawn_file_actions_adddup2(&fa, child, WMID_HOST_FD);
    posix_spawn_file_actions_addclosefrom_np(&fa, WMID_HOST_FD + 1);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = child < 0 ? errno : posix_spawn(&pid, hp->program, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (child >= 0)
        close(child);
    if (rc != 0) {
        close(sv[0]);
        snprintf(hp->last_error, sizeof hp->last_error, "cannot start %s: %s", hp->program, strerror(rc));
        return false;
    }
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    pthread_mutex_lock(&hp->mu);
    hp->fd = sv[0];
    hp->pid = pid;
    hp->gen++;
    hp->alive = true;
    hp->death = DEATH_NONE;
    hp->started_ms = hp_now_ms();
    hp->starts++;
    hp->rd.off = hp->rd.len = 0;
    pthread_mutex_unlock(&hp->mu);
    return true;
}

/* mu held: hand a reply to its waiter.  False for an unexpected id. */
static bool
deliver_reply(struct hostproc *hp, unsigned gen, json_t *msg)
{
    json_t *idv = json_object_get(msg, "id");
    if (!json_is_integer(idv))
        return false;
    uint64_t id = (uint64_t)json_integer_value(idv);
    for (struct pending *pd = hp->pending; pd != NULL; pd = pd->next) {
        if (pd->id == id && pd->gen == gen && !pd->done) {
            pd->reply = msg;
            pd->done = true;
            pthread_cond_broadcast(&hp->cv);
            return true;
        }
    }
    return false;
}

/*
 * Read frames of generation @gen until @deadline_ms (-1: until the host
 * dies or @id's reply came).  Replies go to their waiters; the reply to
 * @id (0: none) is returned in *@mine.  Returns false when the host died,
 * sent garbage (then killed) or, with a deadline, did not answer in time.
 */
static bool
pump(struct hostproc *hp, unsigned gen, uint64_t id, json_t **mine, int64_t deadline_ms)
{
    int fd;
    pthread_mutex_lock(&hp->mu);
    fd = hp->fd;
    pthread_mutex_unlock(&hp->mu);
    for (;;) {
        json_t *msg;
        const char *why = NULL;
        int got;
        while ((got = hp_next(&hp->rd, &msg, &why)) == 1) {
            if (id != 0 && json_integer_value(json_object_get(msg, "id")) == (json_int_t)id) {
                *mine = msg;
                return true;
            }
            pthread_mutex_lock(&hp->mu);
            bool taken = deliver_reply(hp, gen, msg);
            if (!taken) {
                log_warnx("host %s (pid %d): a reply to no request; treating the host as broken", hp->group,
                          (int)hp->pid);
                kill_locked(hp, gen, DEATH_GARBAGE, 0);
            }
            pthread_mutex_unlock(&hp->mu);
            if (!taken) {
                json_decref(msg);
                return false;
            }
        }
        if (got < 0) {
            pthread_mutex_lock(&hp->mu);
            log_warnx("host %s (pid %d) sent %s; treating it as broken", hp->group, (int)hp->pid, why);
            kill_locked(hp, gen, DEATH_GARBAGE, 0);
            pthread_mutex_unlock(&hp->mu);
            return false;
        }
        int64_t wait = 1000;
        if (deadline_ms >= 0) {
            wait = deadline_ms - hp_now_ms();
            if (wait <= 0) {
                pthread_mutex_lock(&hp->mu);
                kill_locked(hp, gen, DEATH_HANG, WMID_HOST_CONTROL_MS);
                pthread_mutex_unlock(&hp->mu);
                return false;
            }
            if (wait > 1000)
                wait = 1000;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int rc = poll(&pfd, 1, (int)wait);
        if (rc < 0 && errno != EINTR)
            return false;
        if (rc == 0) {
            /* No end of file can mean a child of a plugin holds the
             * socket: look at the process itself, without reaping it. */
            siginfo_t si;
            memset(&si, 0, sizeof si);
            if (waitid(P_PID, (id_t)hp->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid != 0)
                return false;
            continue;
        }
        if (rc < 0)
            continue;
        int r = hp_read(fd, &hp->rd);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
            return false;
    }
}

/* Supervisor: a request of its own during establish. */
static json_t *
sup_call(struct hostproc *hp, unsigned gen, json_t *req)
{
    struct hp_buf b = {0};
    pthread_mutex_lock(&hp->mu);
    uint64_t id = ++hp->next_id;
    pthread_mutex_unlock(&hp->mu);
    json_object_set_new(req, "id", json_integer((json_int_t)id));
    int64_t deadline = hp_now_ms() + WMID_HOST_CONTROL_MS;
    json_t *reply = NULL;
    if (hp_buf_frame_json(&b, req) && send_frame(hp, gen, b.data, b.len, deadline))
        pump(hp, gen, id, &reply, deadline);
    hp_buf_free(&b);
    json_decref(req);
    return reply;
}

static wmi_status
reply_status(const json_t *reply)
{
    return (wmi_status)json_integer_value(json_object_get(reply, "status"));
}

/*
 * Replay what generation @gen must know: every wanted provider loaded,
 * every logical consumer found.  False when the host failed meanwhile.
 */
static bool
establish(struct hostproc *hp, unsigned gen)
{
    /* Snapshot under mu; the lists may change while we talk. */
    json_t *loads = json_array(), *finds = json_array();
    pthread_mutex_lock(&hp->mu);
    for (struct wmid_hosted *h = hp->providers; h != NULL; h = h->next) {
        if (!h->wanted)
            continue;
        json_array_append_new(loads, json_pack("{sssIsssssO}", "op", "Load", "provider", (json_int_t)h->id, "name", h->name,
                                               "library", h->library, "registration",
                                               h->registration ? wmi_object_json(h->registration) : json_null()));
        for (struct hcons *c = h->consumers; c != NULL; c = c->next)
            json_array_append_new(finds, json_pack("{sssIsIsO}", "op", "FindConsumer", "provider", (json_int_t)h->id, "consumer",
                                                   (json_int_t)c->cid, "logical", wmi_object_json(c->logical)));
    }
    /* The objects themselves, for their classes. */
    size_t nobj = 0;
    for (struct wmid_hosted *h = hp->providers; h != NULL; h = h->next) {
        nobj++;
        for (struct hcons *c = h->consumers; c != NULL; c = c->next)
            nobj++;
    }
    wmi_object **objs = calloc(nobj + 1, sizeof *objs);
    size_t k = 0;
    for (struct wmid_hosted *h = hp->providers; h != NULL && objs != NULL; h = h->next) {
        if (h->registration != NULL)
            objs[k++] = wmi_object_ref(h->registration);
        for (struct hcons *c = h->consumers; c != NULL; c = c->next)
            objs[k++] = wmi_object_ref(c->logical);
    }
    pthread_mutex_unlock(&hp->mu);

    bool ok = objs != NULL &&
              ensure_classes(hp, gen, (const wmi_object *const *)objs, k, hp_now_ms() + WMID_HOST_CONTROL_MS);
    for (size_t i = 0; objs != NULL && i < k; i++)
        wmi_object_unref(objs[i]);
    free(objs);

    size_t i;
    json_t *req;
    json_array_foreach(loads, i, req) {
        if (!ok)
            break;
        uint32_t pid = (uint32_t)json_integer_value(json_object_get(req, "provider"));
        json_t *reply = sup_call(hp, gen, json_incref(req));
        if (reply == NULL) {
            ok = false;
            break;
        }
        wmi_status st = reply_status(reply);
        pthread_mutex_lock(&hp->mu);
        for (struct wmid_hosted *h = hp->providers; h != NULL; h = h->next)
            if (h->id == pid) {
                h->load_status = st;
                if (!WMI_FAILED(st))
                    h->loaded_gen = gen;
            }
        pthread_mutex_unlock(&hp->mu);
        json_decref(reply);
    }
    json_array_foreach(finds, i, req) {
        if (!ok)
            break;
        uint32_t cid = (uint32_t)json_integer_value(json_object_get(req, "consumer"));
        json_t *reply = sup_call(hp, gen, json_incref(req));
        if (reply == NULL) {
            ok = false;
            break;
        }
        pthread_mutex_lock(&hp->mu);
        for (struct wmid_hosted *h = hp->providers; h != NULL; h = h->next)
            for (struct hcons *c = h->consumers; c != NULL; c = c->next)
                if (c->cid == cid) {
                    c->status = reply_status(reply);
                    c->sid = (uint32_t)json_integer_value(json_object_get(reply, "sink"));
                    c->found_gen = gen;
                }
        pthread_mutex_unlock(&hp->mu);
        json_decref(reply);
    }
    json_decref(loads);
    json_decref(finds);
    return ok;
}

/* The host of generation @gen is done for: reap it and say how it ended. */
static void
reap(struct hostproc *hp, unsigned gen)
{
    pthread_mutex_lock(&hp->mu);
    pid_t pid = hp->pid;
    hp->alive = false;
    hp->ready = false;
    hp->starting = false;
    enum death why = hp->death;
    pthread_cond_broadcast(&hp->cv);
    pthread_mutex_unlock(&hp->mu);
    (void)gen;

    pthread_mutex_lock(&hp->wmu);
    close(hp->fd);
    hp->fd = -1;
    pthread_mutex_unlock(&hp->wmu);
    /* Make sure it is gone (it may have closed the socket and lived on). */
    kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    char how[64];
    bool killed_by_us = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    if (WIFSIGNALED(status))
        snprintf(how, sizeof how, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status));

    pthread_mutex_lock(&hp->mu);
    int64_t now = hp_now_ms();
    snprintf(hp->last_exit, sizeof hp->last_exit, "%s", how);
    if (hp->closing) {
        pthread_mutex_unlock(&hp->mu);
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            log_info("host %s (pid %d) %s at shutdown", hp->group, (int)pid, how);
        return;
    }
    if (why == DEATH_GARBAGE)
        hp->garbage++;
    else if (why == DEATH_NONE || !killed_by_us)
        hp->crashes++;
    hp->consecutive = now - hp->started_ms >= BACKOFF_RESET_MS ? 1 : hp->consecutive + 1;
    int64_t delay = 0;
    if (hp->consecutive >= 2) {
        delay = BACKOFF_FIRST_MS;
        for (unsigned i = 2; i < hp->consecutive && delay < BACKOFF_MAX_MS; i++)
            delay *= 2;
        if (delay > BACKOFF_MAX_MS)
            delay = BACKOFF_MAX_MS;
    }
    hp->next_start_ms = now + delay;
    pthread_cond_broadcast(&hp->cv);
    pthread_mutex_unlock(&hp->mu);
    if (why == DEATH_NONE)
        log_warnx("host %s (pid %d) died: %s; restarting it in %lld ms", hp->group, (int)pid, how,
                  (long long)delay);
    else
        log_notice("host %s (pid %d) %s; restarting it in %lld ms", hp->group, (int)pid,
                   why == DEATH_HANG ? "was killed as hung" : "was killed as broken", (long long)delay);
}

static void *
supervisor(void *arg)
{
    struct hostproc *hp = arg;
    pthread_mutex_lock(&hp->mu);
    for (;;) {
        while (!hp->closing && hp_now_ms() < hp->next_start_ms)
            wait_until(hp, hp->next_start_ms);
        if (hp->closing)
            break;
        hp->starting = true;
        hp->start_attempts++;
        pthread_cond_broadcast(&hp->cv);
        pthread_mutex_unlock(&hp->mu);

        bool spawned = spawn_host(hp);
        pthread_mutex_lock(&hp->mu);
        if (!spawned) {
            hp->starting = false;
            hp->consecutive++;
            int64_t delay = BACKOFF_FIRST_MS;
            for (unsigned i = 1; i < hp->consecutive && delay < BACKOFF_MAX_MS; i++)
                delay *= 2;
            hp->next_start_ms = hp_now_ms() + (delay > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay);
            pthread_cond_broadcast(&hp->cv);
            log_warnx("host %s: %s", hp->group, hp->last_error);
            continue;
        }
        unsigned gen = hp->gen;
        pthread_mutex_unlock(&hp->mu);

        if (establish(hp, gen)) {
            pthread_mutex_lock(&hp->mu);
            if (hp->alive && hp->gen == gen && hp->death == DEATH_NONE) {
                hp->ready = true;
                hp->starting = false;
                if (hp->starts > 1)
                    log_info("host %s: restarted as pid %d", hp->group, (int)hp->pid);
            }
            pthread_cond_broadcast(&hp->cv);
            pthread_mutex_unlock(&hp->mu);
            json_t *none = NULL;
            pump(hp, gen, 0, &none, -1);
        }
        reap(hp, gen);
        pthread_mutex_lock(&hp->mu);
    }
    hp->sup_done = true;
    pthread_cond_broadcast(&hp->cv);
    pthread_mutex_unlock(&hp->mu);
    return NULL;
}

/* ====================================================================
 * Host processes: find, create, close
 * ==================================================================== */

static struct hostproc *
host_new(struct wmid_hosting *hg, const char *key, const char *group, char *program, const char *run_as)
{
    struct hostproc *hp = calloc(1, sizeof *hp);
    if (hp == NULL)
        return NULL;
    snprintf(hp->run_as, sizeof hp->run_as, "%s", run_as);
    hp->owner = hg;
    hp->key = strdup(key);
    hp->group = strdup(group);
    hp->program = program;
    hp->sent = json_object();
    hp->fd = -1;
    hp->rd.max = WMID_HOST_MAX_REPLY;
    pthread_mutex_init(&hp->mu, NULL);
    pthread_mutex_init(&hp->wmu, NULL);
    pthread_mutex_init(&hp->cmu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&hp->cv, &ca);
    pthread_condattr_destroy(&ca);
    /* The supervisor takes no signals: they belong to the loop thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = hp->key && hp->group && hp->sent ? pthread_create(&hp->sup, NULL, supervisor, hp) : ENOMEM;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        log_warnx("host %s: cannot start its supervisor thread: %s", group, strerror(rc));
        free(hp->key);
        free(hp->group);
        free(hp->program);
        json_decref(hp->sent);
        free(hp);
        return NULL;
    }
    hp->next = hg->hosts;
    hg->hosts = hp;
    return hp;
}

static void
host_free(struct hostproc *hp)
{
    pthread_mutex_lock(&hp->cmu);
    cache_reset(hp, 0);
    pthread_mutex_unlock(&hp->cmu);
    free(hp->seen);
    json_decref(hp->sent);
    hp_reader_free(&hp->rd);
    pthread_mutex_destroy(&hp->mu);
    pthread_mutex_destroy(&hp->wmu);
    pthread_mutex_destroy(&hp->cmu);
    pthread_cond_destroy(&hp->cv);
    free(hp->key);
    free(hp->group);
    free(hp->program);
    free(hp);
}

/* Stop the host (its last provider left): ask it to exit, kill it if it
 * does not within EXIT_WAIT_MS, never wait without bound. */
static void
host_close(struct hostproc *hp)
{
    for (struct hostproc **pp = &hp->owner->hosts; *pp != NULL; pp = &(*pp)->next)
        if (*pp == hp) {
            *pp = hp->next;
            break;
        }
    pthread_mutex_lock(&hp->mu);
    hp->closing = true;
    bool ready = hp->ready;
    unsigned gen = hp->gen;
    pthread_cond_broadcast(&hp->cv);
    pthread_mutex_unlock(&hp->mu);
    if (ready) {
        json_t *reply = NULL;
        json_t *req = json_pack("{ss}", "op", "Exit");
        call_json(hp, gen, req, EXIT_WAIT_MS, &reply);
        json_decref(req);
        json_decref(reply);
    }
    pthread_mutex_lock(&hp->mu);
    int64_t deadline = hp_now_ms() + EXIT_WAIT_MS;
    while (!hp->sup_done && wait_until(hp, deadline))
        ;
    if (!hp->sup_done && hp->alive) {
        log_warnx("host %s (pid %d) did not exit within %d ms; killing it", hp->group, (int)hp->pid, EXIT_WAIT_MS);
        hp->death = DEATH_HANG;
        kill(hp->pid, SIGKILL);
    }
    deadline = hp_now_ms() + KILL_WAIT_MS;
    while (!hp->sup_done && wait_until(hp, deadline))
        ;
    bool done = hp->sup_done;
    pthread_mutex_unlock(&hp->mu);
    if (!done) {
        /* A process that does not die of SIGKILL (stuck in the kernel)
         * keeps its supervisor; leave both rather than hang the exit. */
        log_warnx("host %s: its process did not die; leaving it behind", hp->group);
        pthread_detach(hp->sup);
        return;
    }
    pthread_join(hp->sup, NULL);
    host_free(hp);
}

/* ====================================================================
 * The proxy: physical consumers
 * ==================================================================== */

/* Encode @events[@from..) for consumer @cid into @b until the frame limit;
 * returns the end index.  The request id goes last, so that a redelivery
 * only rewrites the tail. */
static size_t
encode_batch(struct hp_buf *b, uint32_t cid, wmi_object *const *events, size_t from, size_t n, size_t *idpos)
{
    hp_buf_reset(b);
    hp_buf_printf(b, "{\"op\":\"Indicate\",\"consumer\":%u,\"events\":[", (unsigned)cid);
    size_t i;
    for (i = from; i < n; i++) {
        size_t mark = b->len;
        if ((i > from && !hp_buf_append(b, ",", 1)) || !hp_buf_json(b, wmi_object_json(events[i])) ||
            hp_buf_payload(b) + 64 > WMID_HOST_MAX_REQUEST) {
            b->len = mark;
            break;
        }
    }
    hp_buf_append(b, "],\"id\":", 7);
    *idpos = b->len;
    return i;
}

static bool
set_id(struct hp_buf *b, size_t idpos, uint64_t id)
{
    b->len = idpos;
    if (!hp_buf_printf(b, "%llu}", (unsigned long long)id))
        return false;
    hp_buf_seal(b);
    return true;
}

/* One frame's worth of events: at most two attempts (the redelivery). */
static wmi_status
deliver_chunk(struct psink *ps, struct hcons *hc, wmi_object *const *events, size_t n, size_t idpos)
{
    struct wmid_hosted *h = ps->h;
    struct hostproc *hp = h->hp;
    bool hung = false;

    for (int attempt = 0; attempt < 2; attempt++) {
        unsigned gen = 0;
        if (wait_ready(hp, h->hard_limit_ms, 1, &gen) != READY)
            break;
        pthread_mutex_lock(&hp->mu);
        bool loaded = h->loaded_gen == gen;
        bool found = hc->found_gen == gen;
        wmi_status fst = hc->status;
        uint64_t id = ++hp->next_id;
        pthread_mutex_unlock(&hp->mu);
        if (!loaded || !found || WMI_FAILED(fst)) {
            /* The restarted host could not load the plugin or find this
             * consumer again: nothing to redeliver to. */
            atomic_fetch_add(&h->failed, 1);
            return loaded && found ? fst : WBEM_E_PROVIDER_FAILURE;
        }
        if (!ensure_classes(hp, gen, (const wmi_object *const *)events, n,
                            hp_now_ms() + h->hard_limit_ms) ||
            !set_id(&ps->buf, idpos, id)) {
            hung = false;
            continue;
        }
        if (attempt == 1)
            atomic_fetch_add(&h->redelivered, 1);
        json_t *reply = NULL;
        enum call_result r = call_frame(hp, gen, id, &ps->buf, h->hard_limit_ms, &reply);
        if (r == CALL_OK) {
            wmi_status st = reply_status(reply);
            /* The plugin's words for a failure, as if it ran here. */
            const char *msg = json_string_value(json_object_get(reply, "message"));
            if (WMI_FAILED(st) && msg != NULL)
                plugin_call_error_set(msg);
            json_decref(reply);
            return st;
        }
        hung = r == CALL_TIMEOUT;
    }
    atomic_fetch_add(&h->failed, 1);
    return hung ? WBEM_E_PROVIDER_TIMED_OUT : WBEM_E_PROVIDER_FAILURE;
}

static wmi_status
proxy_indicate(struct wmi_unbound_object_sink *self, const wmi_object *logical, size_t n,
               wmi_object *const *events)
{
    struct psink *ps = (struct psink *)self;
    struct wmid_hosted *h = ps->h;
    struct hcons *hc = NULL;

    pthread_mutex_lock(&h->hp->mu);
    for (struct hcons *c = h->consumers; c != NULL && hc == NULL; c = c->next)
        if (c->sink == ps && c->logical == logical)
            hc = c;
    pthread_mutex_unlock(&h->hp->mu);
    if (hc == NULL)
        return WBEM_E_NOT_FOUND;
    wmi_status result = WBEM_S_NO_ERROR;
    for (size_t from = 0; from < n;) {
        size_t idpos;
        size_t to = encode_batch(&ps->buf, hc->cid, events, from, n, &idpos);
        wmi_status st;
        if (to == from) {
            /* One event over the frame limit cannot be carried. */
            st = WBEM_E_QUOTA_VIOLATION;
            to = from + 1;
        } else
            st = deliver_chunk(ps, hc, events + from, to - from, idpos);
        if (WMI_FAILED(st))
            result = st;
        from = to;
    }
    return result;
}

static void
proxy_release(struct wmi_unbound_object_sink *self)
{
    struct psink *ps = (struct psink *)self;
    struct wmid_hosted *h = ps->h;
    struct hostproc *hp = h->hp;
    struct hcons *mine = NULL;
    json_t *cids = json_array();

    pthread_mutex_lock(&hp->mu);
    for (struct hcons **pc = &h->consumers; *pc != NULL;) {
        struct hcons *c = *pc;
        if (c->sink == ps) {
            *pc = c->next;
            c->next = mine;
            mine = c;
            json_array_append_new(cids, json_integer(c->cid));
        } else
            pc = &c->next;
    }
    for (struct psink **pp = &h->sinks; *pp != NULL; pp = &(*pp)->next)
        if (*pp == ps) {
            *pp = ps->next;
            break;
        }
    bool ready = hp->ready;
    unsigned gen = hp->gen;
    pthread_mutex_unlock(&hp->mu);
    if (ready && json_array_size(cids) > 0) {
        json_t *reply = NULL;
        json_t *req = json_pack("{sssO}", "op", "Release", "consumers", cids);
        call_json(hp, gen, req, WMID_HOST_CONTROL_MS, &reply);
        json_decref(req);
        json_decref(reply);
    }
    json_decref(cids);
    while (mine != NULL) {
        struct hcons *next = mine->next;
        wmi_object_unref(mine->logical);
        free(mine);
        mine = next;
    }
    hp_buf_free(&ps->buf);
    free(ps);
}

/* FindConsumer, on the loop thread. */
static wmi_status
proxy_find(void *state, const wmi_object *logical, struct wmi_unbound_object_sink **out)
{
    struct wmid_hosted *h = state;
    struct hostproc *hp = h->hp;
    struct hcons *hc = calloc(1, sizeof *hc);
    *out = NULL;
    if (hc == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    hc->logical = wmi_object_ref((wmi_object *)logical);
    hc->status = WBEM_E_PROVIDER_FAILURE;
    /* Listed first, so that a restart meanwhile finds it too. */
    pthread_mutex_lock(&hp->mu);
    hc->cid = ++hp->next_consumer_id;
    hc->next = h->consumers;
    h->consumers = hc;
    pthread_mutex_unlock(&hp->mu);

    wmi_status st = WBEM_E_PROVIDER_FAILURE;
    unsigned gen = 0;
    bool have = false;
    for (int attempt = 0; attempt < 2 && !have; attempt++) {
        if (wait_ready(hp, WMID_HOST_CONTROL_MS, 1, &gen) != READY)
            break;
        pthread_mutex_lock(&hp->mu);
        if (hc->found_gen == gen) { /* establish did it */
            st = hc->status;
            have = true;
        }
        pthread_mutex_unlock(&hp->mu);
        if (have)
            break;
        const wmi_object *objs[1] = {logical};
        if (!ensure_classes(hp, gen, objs, 1, hp_now_ms() + WMID_HOST_CONTROL_MS))
            continue;
        json_t *reply = NULL;
        json_t *req = json_pack("{sssIsIsO}", "op", "FindConsumer", "provider", (json_int_t)h->id, "consumer",
                                (json_int_t)hc->cid, "logical", wmi_object_json(logical));
        enum call_result r = call_json(hp, gen, req, WMID_HOST_CONTROL_MS, &reply);
        json_decref(req);
        if (r == CALL_OK) {
            pthread_mutex_lock(&hp->mu);
            hc->status = st = reply_status(reply);
            hc->sid = (uint32_t)json_integer_value(json_object_get(reply, "sink"));
            hc->found_gen = gen;
            pthread_mutex_unlock(&hp->mu);
            have = true;
        }
        json_decref(reply);
    }
    if (have && WMI_FAILED(st))
        log_info("provider %s: FindConsumer in host %s failed with %s", h->name, hp->group,
                 wmi_status_name(st) ? wmi_status_name(st) : "an unknown status");
    pthread_mutex_lock(&hp->mu);
    struct psink *ps = NULL;
    if (have && !WMI_FAILED(st)) {
        /* The plugin's sink for another logical consumer: share the proxy,
         * as the engine shares a sink returned twice. */
        for (struct hcons *c = h->consumers; c != NULL && ps == NULL; c = c->next)
            if (c != hc && c->sink != NULL && c->found_gen == hc->found_gen && c->sid == hc->sid)
                ps = c->sink;
        if (ps == NULL && (ps = calloc(1, sizeof *ps)) != NULL) {
            ps->base.indicate_to_consumer = proxy_indicate;
            ps->base.release = proxy_release;
            ps->h = h;
            ps->next = h->sinks;
            h->sinks = ps;
        }
        if (ps == NULL)
            st = WBEM_E_OUT_OF_MEMORY;
    }
    hc->sink = ps;
    if (ps == NULL) {
        /* Not kept: forget it here (the host drops it with its
         * generation or when the provider unloads). */
        for (struct hcons **pc = &h->consumers; *pc != NULL; pc = &(*pc)->next)
            if (*pc == hc) {
                *pc = hc->next;
                break;
            }
    }
    pthread_mutex_unlock(&hp->mu);
    if (ps == NULL) {
        wmi_object_unref(hc->logical);
        free(hc);
        return WMI_FAILED(st) ? st : WBEM_E_PROVIDER_FAILURE;
    }
    *out = &ps->base;
    return WBEM_S_NO_ERROR;
}

/* ====================================================================
 * Load, unload, stats
 * ==================================================================== */

static void
hosted_free(struct wmid_hosted *h)
{
    while (h->consumers != NULL) {
        struct hcons *c = h->consumers;
        h->consumers = c->next;
        wmi_object_unref(c->logical);
        free(c);
    }
    while (h->sinks != NULL) {
        struct psink *ps = h->sinks;
        h->sinks = ps->next;
        hp_buf_free(&ps->buf);
        free(ps);
    }
    wmi_object_unref(h->registration);
    free(h->name);
    free(h->library);
    free(h);
}

/* Take @h out of its host; close the host with its last provider. */
static void
hosted_detach(struct wmid_hosted *h)
{
    struct hostproc *hp = h->hp;
    pthread_mutex_lock(&hp->mu);
    for (struct wmid_hosted **pp = &hp->providers; *pp != NULL; pp = &(*pp)->next)
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    bool last = hp->providers == NULL;
    pthread_mutex_unlock(&hp->mu);
    hosted_free(h);
    if (last)
        host_close(hp);
}

/* The host of @p's HostingModel (started, or joined), and a record of
 * @p listed in it; NULL with the failure recorded. */
static struct wmid_hosted *
hosted_new(struct wmid_hosting *hg, struct wmid_provider *p, const struct wmid_settings *s)
{
    bool grouped;
    if (classify(p->hosting_model, &grouped) == MODEL_INVALID) {
        fail(p, true, WBEM_E_INVALID_PROVIDER_REGISTRATION,
             "HostingModel \"%s\" is not a hosting model (use InProcess, SelfHost, LocalSystemHost, "
             "LocalSystemHostOrSelfHost, NetworkServiceHost, NetworkServiceHostOrSelfHost, "
             "LocalServiceHost or Decoupled:Com, optionally with \":GroupName\")",
             p->hosting_model);
        return NULL;
    }
    if (p->library == NULL) {
        fail(p, true, WBEM_E_INVALID_PROVIDER_REGISTRATION, "__Win32Provider has no Library");
        return NULL;
    }
    if (hg == NULL) {
        fail(p, true, WBEM_E_PROVIDER_LOAD_FAILURE, "isolated hosting is not available here");
        return NULL;
    }
    if (p->run_as && p->run_uid == WMID_RUN_UNKNOWN) {
        fail(p, true, WBEM_E_ACCESS_DENIED,
             "its logical consumers' creator has no known uid, and a consumer acts only as its creator");
        return NULL;
    }
    /* A provider acting as a user has host processes of that identity
     * only: the key, and the group shown, carry it. */
    char key[512], group[320], run_as[48] = "";
    if (p->run_as)
        snprintf(run_as, sizeof run_as, "%ld:%ld", p->run_uid, p->run_gid);
    snprintf(group, sizeof group, "%s%s%s", grouped ? p->hosting_model : p->name, p->run_as ? "@" : "", run_as);
    snprintf(key, sizeof key, "%s:%s", grouped ? "g" : "p", group);
    lower(key);
    struct hostproc *hp = NULL;
    for (hp = hg->hosts; hp != NULL && strcmp(hp->key, key) != 0; hp = hp->next)
        ;
    if (hp == NULL) {
        char *program = host_program(s);
        if (program == NULL) {
            fail(p, true, WBEM_E_OUT_OF_MEMORY, "cannot start a host: out of memory");
            return NULL;
        }
        hp = host_new(hg, key, group, program, run_as);
        if (hp == NULL) {
            fail(p, true, WBEM_E_PROVIDER_LOAD_FAILURE, "cannot start a host for HostingModel \"%s\"",
                 p->hosting_model);
            return NULL;
        }
    }
    struct wmid_hosted *h = calloc(1, sizeof *h);
    if (h == NULL || (h->name = strdup(p->name)) == NULL || (h->library = strdup(p->library)) == NULL) {
        if (h != NULL)
            free(h->name);
        free(h);
        if (hp->providers == NULL)
            host_close(hp);
        fail(p, true, WBEM_E_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    h->hp = hp;
    h->p = p;
    h->registration = p->registration ? wmi_object_ref(p->registration) : NULL;
    h->cp.find_consumer = proxy_find;
    pthread_mutex_lock(&hp->mu);
    h->id = ++hp->next_provider_id;
    h->next = hp->providers;
    hp->providers = h;
    pthread_mutex_unlock(&hp->mu);
    return h;
}

/* @h is not loaded after all: out of its host, the failure recorded. */
static bool
hosted_failed(struct wmid_hosted *h, bool log, wmi_status st, const char *why)
{
    struct wmid_provider *p = h->p;
    pthread_mutex_lock(&h->hp->mu);
    h->wanted = false;
    pthread_mutex_unlock(&h->hp->mu);
    hosted_detach(h);
    return fail(p, log, st, "%s", why);
}

/*
 * Start (or join) @h's host, then load the plugin there: the host's
 * reply to Load, with the generation in *@gen; NULL (recorded) when the
 * host did not start or died or hung twice.  wanted is set first, so that
 * a host that restarts meanwhile loads it too.
 */
static json_t *
load_in_host(struct wmid_hosted *h, unsigned *gen)
{
    struct hostproc *hp = h->hp;
    json_t *reply = NULL;
    bool died = false;
    for (int attempt = 0; attempt < 2 && reply == NULL; attempt++) {
        enum ready_result rr = wait_ready(hp, WMID_HOST_CONTROL_MS, 1, gen);
        if (rr != READY) {
            char why[1024];
            pthread_mutex_lock(&hp->mu);
            snprintf(why, sizeof why, "host %s: %s", hp->key + 2,
                     hp->last_error[0] ? hp->last_error
                     : died            ? "its host died while loading it"
                                       : "its host did not start in time");
            pthread_mutex_unlock(&hp->mu);
            hosted_failed(h, true, WBEM_E_PROVIDER_LOAD_FAILURE, why);
            return NULL;
        }
        pthread_mutex_lock(&hp->mu);
        h->wanted = true;
        pthread_mutex_unlock(&hp->mu);
        const wmi_object *objs[1] = {h->registration};
        if (!ensure_classes(hp, *gen, objs, 1, hp_now_ms() + WMID_HOST_CONTROL_MS)) {
            died = true;
            continue;
        }
        json_t *req = json_pack("{sssIsssssO}", "op", "Load", "provider", (json_int_t)h->id, "name", h->name,
                                "library", h->library, "registration",
                                h->registration ? wmi_object_json(h->registration) : json_null());
        if (call_json(hp, *gen, req, WMID_HOST_CONTROL_MS, &reply) != CALL_OK)
            died = true;
        json_decref(req);
    }
    if (reply == NULL) {
        char why[1024];
        snprintf(why, sizeof why, "its host (HostingModel \"%s\") died or hung twice while loading %s",
                 h->p->hosting_model, h->p->library);
        hosted_failed(h, true, WBEM_E_PROVIDER_LOAD_FAILURE, why);
    }
    return reply;
}

/* The host loaded @h in generation @gen (@reply, consumed): p->cp is the
 * proxy from now on. */
static void
hosted_loaded(struct wmid_hosted *h, unsigned gen, json_t *reply)
{
    struct wmid_provider *p = h->p;
    struct hostproc *hp = h->hp;
    const char *msg = json_string_value(json_object_get(reply, "message"));
    json_int_t mb = json_integer_value(json_object_get(reply, "max_batch"));
    json_int_t dl = json_integer_value(json_object_get(reply, "deadline_ms"));
    h->cp.max_batch = mb > 0 && mb <= WMID_MAX_BATCH ? (uint32_t)mb : 0;
    h->cp.deadline_ms = dl > 0 && dl <= 86400000 ? (uint32_t)dl : 0;
    /* __Win32Provider.DeadlineMs overrides the plugin's own deadline, as
     * for in-process providers (delivery.c). */
    if (p->deadline_ms > 0)
        h->cp.deadline_ms = p->deadline_ms;
    h->hard_limit_ms = WMID_HOST_HARD_LIMIT_FACTOR * (h->cp.deadline_ms ? h->cp.deadline_ms
                                                                         : WMID_HOST_DEFAULT_DEADLINE_MS);
    pthread_mutex_lock(&hp->mu);
    h->load_status = reply_status(reply);
    h->loaded_gen = gen;
    int pid = (int)hp->pid;
    pthread_mutex_unlock(&hp->mu);
    p->cp = &h->cp;
    p->state = h;
    p->hosted = h;
    p->loaded = true;
    wmi_error_set(&p->error, WBEM_S_NO_ERROR, p->name, 0, 0, "%.170s in host %.40s (pid %d)", msg ? msg : "loaded",
             hp->group, pid);
    json_decref(reply);
    log_info("provider %s: %s", p->name, p->error.text);
}

bool
hosting_load(struct wmid_provider *p, const struct wmid_settings *s, const wmi_schema *schema)
{
    (void)schema; /* the host learns classes from the objects it is sent */
    p->loaded = false;
    struct wmid_hosted *h = hosted_new(s != NULL ? s->hosting : NULL, p, s);
    if (h == NULL)
        return false;
    unsigned gen = 0;
    json_t *reply = load_in_host(h, &gen);
    if (reply == NULL)
        return false;
    wmi_status st = reply_status(reply);
    if (WMI_FAILED(st)) {
        /* The host has logged the reason in loader.c's words. */
        const char *msg = json_string_value(json_object_get(reply, "message"));
        char copy[256];
        snprintf(copy, sizeof copy, "%s", msg ? msg : "not loaded in its host");
        json_decref(reply);
        return hosted_failed(h, false, st, copy);
    }
    hosted_loaded(h, gen, reply);
    return true;
}

void
hosting_unload(struct wmid_provider *p)
{
    struct wmid_hosted *h = p->hosted;
    p->loaded = false;
    p->cp = NULL;
    p->state = NULL;
    p->hosted = NULL;
    if (h == NULL)
        return;
    struct hostproc *hp = h->hp;
    pthread_mutex_lock(&hp->mu);
    h->wanted = false;
    bool ready = hp->ready && h->loaded_gen == hp->gen;
    unsigned gen = hp->gen;
    bool others = hp->providers != h || h->next != NULL;
    pthread_mutex_unlock(&hp->mu);
    /* With other providers in the host, unload this one there; the last
     * one's Exit unloads everything anyway. */
    if (ready && others) {
        json_t *reply = NULL;
        json_t *req = json_pack("{sssI}", "op", "Unload", "provider", (json_int_t)h->id);
        call_json(hp, gen, req, WMID_HOST_CONTROL_MS, &reply);
        json_decref(req);
        json_decref(reply);
    }
    hosted_detach(h);
}

json_t *
hosting_stats_json(const struct wmid_provider *p)
{
    const struct wmid_hosted *h = p->hosted;
    if (h == NULL)
        return NULL;
    struct hostproc *hp = h->hp;
    pthread_mutex_lock(&hp->mu);
    const char *state = hp->closing ? "stopped"
                        : hp->ready ? (h->loaded_gen == hp->gen ? "running" : "not loaded")
                        : hp->starting ? "starting"
                                       : "restarting";
    json_t *out = json_pack(
        "{sssssIsssIsIsIsIsIsIsI}", "hosting_model", p->hosting_model ? p->hosting_model : "", "host",
        hp->group, "pid", (json_int_t)(hp->alive ? hp->pid : 0), "state", state, "restarts",
        (json_int_t)(hp->starts > 0 ? hp->starts - 1 : 0), "crashes", (json_int_t)hp->crashes, "hangs_killed",
        (json_int_t)hp->hangs, "protocol_errors", (json_int_t)hp->garbage, "redelivered_batches",
        (json_int_t)atomic_load(&((struct wmid_hosted *)h)->redelivered), "failed_batches",
        (json_int_t)atomic_load(&((struct wmid_hosted *)h)->failed), "hard_limit_ms",
        (json_int_t)h->hard_limit_ms);
    if (out != NULL && hp->last_exit[0])
        json_object_set_new(out, "last_exit", json_string(hp->last_exit));
    size_t ncons = 0;
    for (const struct hcons *c = h->consumers; c != NULL; c = c->next)
        ncons++;
    json_object_set_new(out, "consumers", json_integer((json_int_t)ncons));
    pthread_mutex_unlock(&hp->mu);
    return out;
}

void
hosting_forget(struct wmid_provider *p, const wmi_object *logical)
{
    struct wmid_hosted *h = p->hosted;
    if (h == NULL)
        return;
    struct hostproc *hp = h->hp;
    struct hcons *gone = NULL;
    pthread_mutex_lock(&hp->mu);
    for (struct hcons **pc = &h->consumers; *pc != NULL; pc = &(*pc)->next) {
        if ((*pc)->logical == logical) {
            gone = *pc;
            *pc = gone->next;
            break;
        }
    }
    bool ready = hp->ready;
    unsigned gen = hp->gen;
    pthread_mutex_unlock(&hp->mu);
    if (gone == NULL)
        return;
    /* The host keeps its physical consumer while others use it, and
     * forgets this logical consumer (its record and reference). */
    if (ready) {
        json_t *reply = NULL;
        json_t *req = json_pack("{sss[i]}", "op", "Release", "consumers", (int)gone->cid);
        call_json(hp, gen, req, WMID_HOST_CONTROL_MS, &reply);
        json_decref(req);
        json_decref(reply);
    }
    wmi_object_unref(gone->logical);
    free(gone);
}

struct wmid_hosting *
hosting_new(void)
{
    return calloc(1, sizeof(struct wmid_hosting));
}

void
hosting_free(struct wmid_hosting *hg)
{
    if (hg == NULL)
        return;
    /* Every provider has been unloaded, which closed its host; a host
     * still listed has none left to serve. */
    while (hg->hosts != NULL)
        host_close(hg->hosts);
    free(hg);
}
