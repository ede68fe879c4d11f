/*
 * wmieventd-host - the isolated provider host: runs consumer provider
 * plugins for wmieventd in a process of their own (HostingModel), so that
 * a plugin that crashes or hangs takes only this process down.
 *
 * The daemon starts it with one end of a socketpair on descriptor 3 and
 * talks length-prefixed JSON (src/daemon/plugins/plugins.h, docs/hosting.md).
 * Plugins are loaded with the daemon's own loader (plugins/loader.c, linked in),
 * so the ABI handshake and its error messages are the same in both places.
 *
 * Threads, mirroring the daemon's: the main thread only reads frames and
 * dispatches them, so that it always notices the daemon going away (end
 * of file: the host exits at once); a control thread makes every
 * initialize, find_consumer, release and shutdown call, one at a time, as
 * the plugin ABI promises; each physical consumer (sink) has a worker
 * thread for its indicate_to_consumer calls, so that one slow sink does
 * not hold up another.  Replies go out whole under one write lock.
 *
 * The daemon is the only peer and is trusted to be well-formed, but every
 * message is still checked: a frame that does not parse ends the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/prctl.h>
#include <pwd.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/plugins/plugins.h"
#include "daemon/wmieventd.h"
#include "daemon/log.h"

/* A provider loaded in this host. */
struct hprov {
    uint32_t id;                  /* the daemon's number for it */
    struct wmid_provider p;       /* what loader.c loads into */
    wmi_schema *schema;           /* held while the plugin lives: it may keep it */
    struct hprov *next;
};

struct hsink;

/* A logical consumer the daemon found a physical consumer for. */
struct hconsumer {
    uint32_t cid;
    struct hprov *prov;
    wmi_object *logical;
    struct hsink *sink;           /* NULL when FindConsumer failed */
    wmi_status status;            /* of FindConsumer */
    struct hconsumer *next;
};

/* One Indicate request waiting for a sink's worker. */
struct job {
    json_t *req;
    wmi_object *logical;
    struct job *next;
};

/* A physical consumer and its worker thread. */
struct hsink {
    uint32_t sid;
    struct wmi_unbound_object_sink *us;
    struct hprov *prov;
    unsigned users;               /* logical consumers mapped to it */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail;
    bool stop;
    struct hsink *next;
};

static struct {
    int fd;
    const char *group;
    pthread_mutex_t wmu;          /* one frame at a time on the socket */
    pthread_mutex_t tmu;          /* the tables and the schema pointer */
    wmi_schema *schema;           /* current classes (replaced whole, never changed) */
    json_t *defs;                 /* class name (lower case) -> definition, in order */
    struct hprov *provs;
    struct hconsumer *consumers;
    struct hsink *sinks;
    uint32_t next_sid;
    /* The control thread's queue. */
    pthread_mutex_t cmu;
    pthread_cond_t ccv;
    json_t *cqueue;               /* array of requests */
    bool exiting;
} g = {
    .fd = WMID_HOST_FD,
    .wmu = PTHREAD_MUTEX_INITIALIZER,
    .tmu = PTHREAD_MUTEX_INITIALIZER,
    .cmu = PTHREAD_MUTEX_INITIALIZER,
    .ccv = PTHREAD_COND_INITIALIZER,
};

/* ====================================================================
 * Replies
 * ==================================================================== */

static void
send_json(json_t *msg)
{
    struct hp_buf b = {0};
    if (!hp_buf_frame_json(&b, msg) || hp_buf_payload(&b) > WMID_HOST_MAX_REPLY) {
        /* A reply we cannot build leaves the daemon waiting for it; it
         * will time the call out.  Say why here. */
        log_warnx("host %s: cannot build a reply", g.group);
        hp_buf_free(&b);
        json_decref(msg);
        return;
    }
    pthread_mutex_lock(&g.wmu);
    /* A failed write means the daemon is gone; the main thread sees the
     * end of file and exits. */
    (void)hp_write_all(g.fd, b.data, b.len, -1);
    pthread_mutex_unlock(&g.wmu);
    hp_buf_free(&b);
    json_decref(msg);
}

static void
reply_status(json_int_t id, wmi_status st)
{
    send_json(json_pack("{sIsI}", "id", id, "status", (json_int_t)st));
}

static json_int_t
req_id(const json_t *req)
{
    return json_integer_value(json_object_get(req, "id"));
}

static uint32_t
req_u32(const json_t *req, const char *key)
{
    return (uint32_t)json_integer_value(json_object_get(req, key));
}

/* The current schema, referenced. */
static wmi_schema *
schema_get(void)
{
    pthread_mutex_lock(&g.tmu);
    wmi_schema *s = wmi_schema_ref(g.schema);
    pthread_mutex_unlock(&g.tmu);
    return s;
}

/* ====================================================================
 * Classes: definitions sent by the daemon before the objects that use
 * them.  The schema is rebuilt whole (a schema may not change once
 * shared) and swapped in; objects built earlier keep the old one alive.
 * ==================================================================== */

static void
apply_classes(const json_t *msg)
{
    const json_t *list = json_object_get(msg, "classes");
    size_t i;
    const json_t *def;
    if (!json_is_array(list)) {
        log_warnx("host %s: a Classes message without classes", g.group);
        return;
    }
    json_array_foreach(list, i, def) {
        const char *name = json_string_value(json_object_get(def, "__CLASS"));
        if (name == NULL)
            continue;
        char key[256];
        snprintf(key, sizeof key, "%s", name);
        for (char *c = key; *c; c++)
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
        json_object_set(g.defs, key, (json_t *)def);
    }
    wmi_schema *s = wmi_schema_new();
    if (s == NULL) {
        log_warnx("host %s: out of memory for the schema", g.group);
        return;
    }
    /* Built-in classes are already there (the same library as the
     * daemon's) and are skipped; the rest go in superclass first. */
    json_t *all = json_array();
    const char *key;
    json_t *v;
    json_object_foreach(g.defs, key, v)
        json_array_append(all, v);
    size_t failed = 0;
    wmi_error err;
    if (WMI_FAILED(wmi_schema_add_classes_json(s, all, &failed, &err)))
        log_warnx("host %s: %zu class(es) refused; the first, %s: %s", g.group, failed, err.source, err.text);
    json_decref(all);
    pthread_mutex_lock(&g.tmu);
    wmi_schema *old = g.schema;
    g.schema = s;
    pthread_mutex_unlock(&g.tmu);
    wmi_schema_free(old);
}

/* ====================================================================
 * Sink workers
 * ==================================================================== */

static void
run_indicate(struct hsink *k, struct job *j)
{
    json_int_t id = req_id(j->req);
    const json_t *evs = json_object_get(j->req, "events");
    size_t n = json_array_size(evs);
    wmi_status st = WBEM_S_NO_ERROR;

    if (n == 0) {
        reply_status(id, WBEM_E_INVALID_PARAMETER);
        return;
    }
    wmi_object **objs = calloc(n, sizeof *objs);
    wmi_schema *s = schema_get();
    if (objs == NULL)
        st = WBEM_E_OUT_OF_MEMORY;
    for (size_t i = 0; i < n && !WMI_FAILED(st); i++) {
        wmi_error err;
        memset(&err, 0, sizeof err);
        st = wmi_object_from_json(s, json_array_get(evs, i), &objs[i], &err);
        if (WMI_FAILED(st))
            log_debug("host %s: event %zu of a batch: %s: %s", g.group, i, err.source, err.text);
    }
    plugin_call_error_clear();
    if (!WMI_FAILED(st))
        st = k->us->indicate_to_consumer(k->us, j->logical, n, objs);
    for (size_t i = 0; objs != NULL && i < n; i++)
        wmi_object_unref(objs[i]);
    free(objs);
    wmi_schema_free(s);
    /* A failure carries the plugin's words (wmi_host.set_error) to the
     * daemon, for its __ConsumerFailureEvent. */
    if (WMI_FAILED(st) && plugin_call_error()[0] != '\0')
        send_json(json_pack("{sIsIss}", "id", id, "status", (json_int_t)st, "message", plugin_call_error()));
    else
        reply_status(id, st);
}

static void *
sink_worker(void *arg)
{
    struct hsink *k = arg;
    pthread_mutex_lock(&k->mu);
    for (;;) {
        while (k->head == NULL && !k->stop)
            pthread_cond_wait(&k->cv, &k->mu);
        if (k->head == NULL)
            break;
        struct job *j = k->head;
        k->head = j->next;
        if (k->head == NULL)
            k->tail = NULL;
        pthread_mutex_unlock(&k->mu);
        run_indicate(k, j);
        json_decref(j->req);
        wmi_object_unref(j->logical);
        free(j);
        pthread_mutex_lock(&k->mu);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

/* Main thread: queue an Indicate for its consumer's sink. */
static void
dispatch_indicate(json_t *req)
{
    uint32_t cid = req_u32(req, "consumer");
    struct hsink *k = NULL;
    wmi_object *logical = NULL;
    wmi_status st = WBEM_E_NOT_FOUND;

    pthread_mutex_lock(&g.tmu);
    for (struct hconsumer *c = g.consumers; c != NULL; c = c->next) {
        if (c->cid == cid) {
            k = c->sink;
            st = c->status;
            if (k != NULL)
                logical = wmi_object_ref(c->logical);
            break;
        }
    }
    struct job *j = k != NULL ? calloc(1, sizeof *j) : NULL;
    if (j != NULL) {
        j->req = req;
        j->logical = logical;
        pthread_mutex_lock(&k->mu);
        if (k->tail)
            k->tail->next = j;
        else
            k->head = j;
        k->tail = j;
        pthread_cond_signal(&k->cv);
        pthread_mutex_unlock(&k->mu);
    }
    pthread_mutex_unlock(&g.tmu);
    if (j == NULL) {
        wmi_object_unref(logical);
        reply_status(req_id(req), k != NULL ? WBEM_E_OUT_OF_MEMORY : (WMI_FAILED(st) ? st : WBEM_E_NOT_FOUND));
        json_decref(req);
    }
}

/* ====================================================================
 * Control calls (control thread)
 * ==================================================================== */

static struct hprov *
find_prov(uint32_t id)
{
    for (struct hprov *v = g.provs; v != NULL; v = v->next)
        if (v->id == id)
            return v;
    return NULL;
}

/* Stop a sink's worker and release the physical consumer. */
static void
sink_destroy(struct hsink *k)
{
    pthread_mutex_lock(&k->mu);
    k->stop = true;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->thread, NULL);
    if (k->us->release != NULL)
        k->us->release(k->us);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    free(k);
}

/* Forget logical consumer @cid; release its sink with its last user. */
static void
consumer_drop(uint32_t cid)
{
    struct hsink *dead = NULL;
    wmi_object *logical = NULL;
    pthread_mutex_lock(&g.tmu);
    for (struct hconsumer **pc = &g.consumers; *pc != NULL; pc = &(*pc)->next) {
        struct hconsumer *c = *pc;
        if (c->cid != cid)
            continue;
        *pc = c->next;
        logical = c->logical;
        if (c->sink != NULL && --c->sink->users == 0) {
            dead = c->sink;
            for (struct hsink **pk = &g.sinks; *pk != NULL; pk = &(*pk)->next)
                if (*pk == dead) {
                    *pk = dead->next;
                    break;
                }
        }
        free(c);
        break;
    }
    pthread_mutex_unlock(&g.tmu);
    if (dead != NULL)
        sink_destroy(dead);
    wmi_object_unref(logical);
}

static void
op_load(const json_t *req)
{
    json_int_t id = req_id(req);
    uint32_t pid = req_u32(req, "provider");
    const char *name = json_string_value(json_object_get(req, "name"));
    const char *library = json_string_value(json_object_get(req, "library"));
    struct hprov *v = find_prov(pid);

    if (v == NULL && (name == NULL || library == NULL)) {
        reply_status(id, WBEM_E_INVALID_PARAMETER);
        return;
    }
    if (v == NULL) {
        v = calloc(1, sizeof *v);
        if (v == NULL) {
            reply_status(id, WBEM_E_OUT_OF_MEMORY);
            return;
        }
        v->id = pid;
        v->p.name = strdup(name);
        v->p.library = strdup(library);
        v->schema = schema_get();
        wmi_error err;
        memset(&err, 0, sizeof err);
        const json_t *reg = json_object_get(req, "registration");
        wmi_status st = WBEM_S_NO_ERROR;
        if (reg != NULL && !json_is_null(reg))
            st = wmi_object_from_json(v->schema, reg, &v->p.registration, &err);
        if (WMI_FAILED(st)) {
            wmi_error_set(&v->p.error, st, name, 0, 0, "the registration cannot be rebuilt in the host: %.80s: %.120s",
                          err.source, err.text);
            log_warnx("provider %s: %s (%s); its consumers get nothing", name, v->p.error.text,
                      wmi_status_name(st) ? wmi_status_name(st) : "?");
        } else {
            plugin_load_in_process(&v->p, v->schema);
        }
        pthread_mutex_lock(&g.tmu);
        v->next = g.provs;
        g.provs = v;
        pthread_mutex_unlock(&g.tmu);
    }
    const struct wmi_event_consumer_provider *cp = v->p.loaded ? v->p.cp : NULL;
    send_json(json_pack("{sIsIsssIsI}", "id", id, "status", (json_int_t)v->p.error.status, "message", v->p.error.text,
                        "max_batch", (json_int_t)(cp ? cp->max_batch : 0), "deadline_ms",
                        (json_int_t)(cp ? cp->deadline_ms : 0)));
}

static void
op_find(const json_t *req)
{
    json_int_t id = req_id(req);
    uint32_t cid = req_u32(req, "consumer");
    struct hprov *v = find_prov(req_u32(req, "provider"));
    wmi_status st;

    /* Idempotent: the daemon may ask again for a consumer that a restart
     * already found. */
    pthread_mutex_lock(&g.tmu);
    for (struct hconsumer *c = g.consumers; c != NULL; c = c->next) {
        if (c->cid == cid) {
            json_t *r = json_pack("{sIsI}", "id", id, "status", (json_int_t)c->status);
            if (c->sink != NULL)
                json_object_set_new(r, "sink", json_integer(c->sink->sid));
            pthread_mutex_unlock(&g.tmu);
            send_json(r);
            return;
        }
    }
    pthread_mutex_unlock(&g.tmu);
    if (v == NULL || !v->p.loaded) {
        reply_status(id, v == NULL ? WBEM_E_PROVIDER_NOT_FOUND : v->p.error.status);
        return;
    }
    struct hconsumer *c = calloc(1, sizeof *c);
    if (c == NULL) {
        reply_status(id, WBEM_E_OUT_OF_MEMORY);
        return;
    }
    c->cid = cid;
    c->prov = v;
    wmi_schema *s = schema_get();
    wmi_error err;
    memset(&err, 0, sizeof err);
    st = wmi_object_from_json(s, json_object_get(req, "logical"), &c->logical, &err);
    wmi_schema_free(s);
    if (WMI_FAILED(st)) {
        log_warnx("provider %s: the logical consumer cannot be rebuilt in the host: %s: %s", v->p.name,
                  err.source, err.text);
        free(c);
        reply_status(id, st);
        return;
    }
    struct wmi_unbound_object_sink *us = NULL;
    st = v->p.cp->find_consumer(v->p.state, c->logical, &us);
    if (WMI_FAILED(st) || us == NULL || us->indicate_to_consumer == NULL) {
        /* As delivery_attach does: a sink handed back with a failure is
         * the plugin's to free. */
        if (us != NULL && us->release != NULL)
            us->release(us);
        st = WMI_FAILED(st) ? st : WBEM_E_PROVIDER_FAILURE;
        us = NULL;
    }
    c->status = st;
    struct hsink *k = NULL, *fresh = NULL;
    if (us != NULL) {
        pthread_mutex_lock(&g.tmu);
        for (k = g.sinks; k != NULL && k->us != us; k = k->next)
            ;
        pthread_mutex_unlock(&g.tmu);
        if (k == NULL) {
            fresh = k = calloc(1, sizeof *k);
            if (k != NULL) {
                k->us = us;
                k->prov = v;
                pthread_mutex_init(&k->mu, NULL);
                pthread_cond_init(&k->cv, NULL);
                if (pthread_create(&k->thread, NULL, sink_worker, k) != 0) {
                    pthread_mutex_destroy(&k->mu);
                    pthread_cond_destroy(&k->cv);
                    free(k);
                    fresh = k = NULL;
                }
            }
            if (k == NULL) {
                if (us->release != NULL)
                    us->release(us);
                c->status = st = WBEM_E_OUT_OF_MEMORY;
            }
        }
    }
    pthread_mutex_lock(&g.tmu);
    if (fresh != NULL) {
        fresh->sid = ++g.next_sid;
        fresh->next = g.sinks;
        g.sinks = fresh;
    }
    if (k != NULL)
        k->users++;
    c->sink = k;
    c->next = g.consumers;
    g.consumers = c;
    json_t *r = json_pack("{sIsI}", "id", id, "status", (json_int_t)st);
    if (k != NULL)
        json_object_set_new(r, "sink", json_integer(k->sid));
    pthread_mutex_unlock(&g.tmu);
    send_json(r);
}

static void
op_release(const json_t *req)
{
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(req, "consumers"), i, v)
        consumer_drop((uint32_t)json_integer_value(v));
    reply_status(req_id(req), WBEM_S_NO_ERROR);
}

/* Release every consumer of @v, shut the plugin down and forget it. */
static void
prov_unload(struct hprov *v)
{
    for (;;) {
        uint32_t cid = 0;
        bool found = false;
        pthread_mutex_lock(&g.tmu);
        for (struct hconsumer *c = g.consumers; c != NULL && !found; c = c->next)
            if (c->prov == v) {
                cid = c->cid;
                found = true;
            }
        pthread_mutex_unlock(&g.tmu);
        if (!found)
            break;
        consumer_drop(cid);
    }
    pthread_mutex_lock(&g.tmu);
    for (struct hprov **pv = &g.provs; *pv != NULL; pv = &(*pv)->next)
        if (*pv == v) {
            *pv = v->next;
            break;
        }
    pthread_mutex_unlock(&g.tmu);
    plugin_unload_in_process(&v->p);
    wmi_object_unref(v->p.registration);
    free(v->p.name);
    free(v->p.library);
    wmi_schema_free(v->schema);
    free(v);
}

static void
op_unload(const json_t *req)
{
    struct hprov *v = find_prov(req_u32(req, "provider"));
    if (v != NULL)
        prov_unload(v);
    reply_status(req_id(req), WBEM_S_NO_ERROR);
}

static void *
control_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g.cmu);
    for (;;) {
        while (json_array_size(g.cqueue) == 0 && !g.exiting)
            pthread_cond_wait(&g.ccv, &g.cmu);
        if (json_array_size(g.cqueue) == 0)
            break;
        json_t *req = json_incref(json_array_get(g.cqueue, 0));
        json_array_remove(g.cqueue, 0);
        pthread_mutex_unlock(&g.cmu);
        const char *op = json_string_value(json_object_get(req, "op"));
        bool leave = false;
        if (op == NULL)
            reply_status(req_id(req), WBEM_E_INVALID_PARAMETER);
        else if (strcmp(op, "Load") == 0)
            op_load(req);
        else if (strcmp(op, "FindConsumer") == 0)
            op_find(req);
        else if (strcmp(op, "Release") == 0)
            op_release(req);
        else if (strcmp(op, "Unload") == 0)
            op_unload(req);
        else if (strcmp(op, "Exit") == 0) {
            while (g.provs != NULL)
                prov_unload(g.provs);
            reply_status(req_id(req), WBEM_S_NO_ERROR);
            leave = true;
        } else
            reply_status(req_id(req), WBEM_E_NOT_SUPPORTED);
        json_decref(req);
        pthread_mutex_lock(&g.cmu);
        if (leave) {
            g.exiting = true;
            /* Wake the main thread out of its read: it exits cleanly. */
            shutdown(g.fd, SHUT_RD);
        }
    }
    pthread_mutex_unlock(&g.cmu);
    return NULL;
}

/* ====================================================================
 * Main thread
 * ==================================================================== */

/*
 * -U uid:gid: act as that identity before anything of a plugin is loaded
 * (docs/security.md): the user's supplementary groups (initgroups when
 * the uid has a passwd entry, else @gid alone), then the gid, then the
 * uid, and no way back: the kernel's no_new_privs, so that no set-uid
 * program a plugin runs gains anything.  Any failure ends the host: it
 * must never go on with more rights than asked.
 */
static void
drop_to(const char *spec)
{
    char *end;
    long uid = strtol(spec, &end, 10);
    long gid = *end == ':' ? strtol(end + 1, &end, 10) : -1;
    if (uid < 0 || gid < 0 || *end != '\0')
        fatalx("host %s: -U %s is not uid:gid", g.group, spec);
    if (geteuid() != (uid_t)uid || getegid() != (gid_t)gid) {
        struct passwd *pw = getpwuid((uid_t)uid);
        gid_t one = (gid_t)gid;
        if (pw != NULL ? initgroups(pw->pw_name, (gid_t)gid) != 0 : setgroups(1, &one) != 0)
            fatalx("host %s: cannot take the groups of uid %ld: %s", g.group, uid, strerror(errno));
        if (setgid((gid_t)gid) != 0 || setuid((uid_t)uid) != 0)
            fatalx("host %s: cannot act as uid %ld gid %ld: %s", g.group, uid, gid, strerror(errno));
        if (uid != 0 && setuid(0) == 0)
            fatalx("host %s: could become root again after dropping to uid %ld", g.group, uid);
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        fatalx("host %s: cannot set no_new_privs: %s", g.group, strerror(errno));
}

static void
usage(void)
{
    fprintf(stderr, "usage: wmieventd-host -g group [-l level] [-t] [-U uid:gid]\n"
                    "  (started by wmieventd, with its socket on descriptor %d)\n",
            WMID_HOST_FD);
    exit(2);
}

int
main(int argc, char **argv)
{
    int level = WMI_LOG_INFO, ch;
    bool timestamps = false;
    const char *run_as = NULL;

    g.group = "?";
    while ((ch = getopt(argc, argv, "g:l:tU:")) != -1) {
        switch (ch) {
        case 'g':
            g.group = optarg;
            break;
        case 'l':
            level = atoi(optarg);
            break;
        case 't':
            timestamps = true;
            break;
        case 'U':
            run_as = optarg;
            break;
        default:
            usage();
        }
    }
    log_init(level, timestamps);
    if (run_as != NULL)
        drop_to(run_as);
    if (fcntl(g.fd, F_GETFD) < 0)
        usage();
    /* Programs a plugin runs must not inherit the daemon's socket. */
    fcntl(g.fd, F_SETFD, FD_CLOEXEC);
    signal(SIGPIPE, SIG_IGN);

    g.schema = wmi_schema_new();
    g.defs = json_object();
    g.cqueue = json_array();
    if (g.schema == NULL || g.defs == NULL || g.cqueue == NULL)
        fatalx("host %s: out of memory", g.group);
    pthread_t ctl;
    if (pthread_create(&ctl, NULL, control_thread, NULL) != 0)
        fatalx("host %s: cannot start the control thread", g.group);

    struct hp_reader r = {.max = WMID_HOST_MAX_REQUEST};
    for (;;) {
        int rc = hp_read(g.fd, &r);
        if (rc <= 0) {
            pthread_mutex_lock(&g.cmu);
            bool asked = g.exiting;
            pthread_mutex_unlock(&g.cmu);
            if (!asked) {
                /* The daemon is gone (or broke the socket): nothing is left
                 * to serve, and plugin calls may be stuck.  Leave now. */
                _exit(rc == 0 ? 0 : 1);
            }
            break;
        }
        json_t *msg;
        const char *why = NULL;
        int got;
        while ((got = hp_next(&r, &msg, &why)) == 1) {
            const char *op = json_string_value(json_object_get(msg, "op"));
            if (op != NULL && strcmp(op, "Indicate") == 0)
                dispatch_indicate(msg);
            else if (op != NULL && strcmp(op, "Classes") == 0) {
                apply_classes(msg);
                json_decref(msg);
            } else {
                pthread_mutex_lock(&g.cmu);
                json_array_append_new(g.cqueue, msg);
                pthread_cond_signal(&g.ccv);
                pthread_mutex_unlock(&g.cmu);
            }
        }
        if (got < 0) {
            log_warnx("host %s: the daemon sent %s; exiting", g.group, why);
            _exit(1);
        }
    }
    pthread_join(ctl, NULL);
    hp_reader_free(&r);
    json_decref(g.cqueue);
    json_decref(g.defs);
    wmi_schema_free(g.schema);
    return 0;
}
