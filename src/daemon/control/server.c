/*
 * server.c - the control socket: a Unix stream socket carrying JSON lines.
 *
 * Each line is either a bare event (an object with "__CLASS"), indicated
 * with no reply, which is the cheap path for high-rate producers, or a
 * request (an object with "Method"), answered with one reply line that
 * carries a WBEM status.  A connection may also hold temporary
 * subscriptions (ExecNotificationQuery), whose events are written to it as
 * lines of their own.  docs/protocol.md is the reference; internal.h says
 * which of this folder's files does what.
 *
 * This file owns the listener and the connections: accepting them,
 * reading, cutting what is read into lines (handle_line hands events to
 * ingest.c and requests to requests.c), the back-pressure that stops
 * reading a producer while the consumers' queues are full or while its
 * client leaves its replies unread, the write queue, and closing.
 *
 * Bad input never closes the connection: a malformed or oversized line, an
 * unknown class or a wrong property type is counted, logged (at most a line
 * a second) and answered with an error where a reply is possible.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/providers/providers.h"
#include "daemon/control/internal.h"
#include "daemon/engine/engine.h"
#include "daemon/log.h"

#define READ_CHUNK (64 * 1024)
#define MAX_PENDING_REPLY_BYTES (1024 * 1024)

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);
static void process_buffer(struct conn *c, size_t scan_from);
static void conn_close(struct conn *c);

/* ====================================================================
 * The write queue
 * ==================================================================== */

static void
on_write(uv_write_t *req, int status)
{
    /* The connection outlives its writes: uv_close cancels them (status
     * UV_ECANCELED) before the close callback frees it. */
    struct conn *c = req->handle->data;
    free(req->data);
    free(req);
    if (status == 0 && c->write_paused && !c->closing &&
        uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) < MAX_PENDING_REPLY_BYTES / 2) {
        /* The client reads its replies again: read its requests again. */
        c->write_paused = false;
        if (!c->paused) {
            process_buffer(c, 0);
            if (!c->paused && !c->write_paused && !c->closing)
                uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
            router_flush(c->ctl->router);
        }
    }
    if (status == 0)
        temp_drained(c); /* overflowed temporary consumers learn of it */
}

static void
on_event_write(uv_write_t *req, int status)
{
    struct conn *c = req->handle->data;
    /* The reply path's bookkeeping (memory, reading again once drained). */
    on_write(req, status);
    if (status < 0 && status != UV_ECANCELED && !c->closing) {
        /* The peer is gone (EPIPE) though we may not have read its EOF: a
         * reply back-pressure pause stops reading.  Nobody will read these
         * events: end the subscriptions with the connection. */
        log_debug("control: connection %lu: write: %s", c->id, uv_strerror(status));
        conn_close(c);
    }
}

/* Queue @line (@n bytes; ownership taken) with @done to call once written;
 * false when it could not be (the line is freed). */
static bool
queue_line(struct conn *c, char *line, size_t n, uv_write_cb done)
{
    uv_write_t *req = malloc(sizeof *req);
    if (req == NULL) {
        free(line);
        return false;
    }
    req->data = line;
    uv_buf_t b = uv_buf_init(line, (unsigned)n);
    if (uv_write(req, (uv_stream_t *)&c->pipe, &b, 1, done) != 0) {
        free(line);
        free(req);
        return false;
    }
    return true;
}

/* Replies are never dropped: a client that does not read them is not read
 * from either, once more than MAX_PENDING_REPLY_BYTES wait, until it
 * catches up (on_write). */
void
conn_send_reply(struct conn *c, char *line, size_t n)
{
    if (!queue_line(c, line, n, on_write))
        return;
    if (!c->write_paused && uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > MAX_PENDING_REPLY_BYTES) {
        c->write_paused = true;
        c->ctl->replies_paused++;
        uv_read_stop((uv_stream_t *)&c->pipe);
    }
}

/* Events are not held back that way: temporary.c bounds what waits. */
void
conn_send_event(struct conn *c, char *line, size_t n)
{
    queue_line(c, line, n, on_event_write);
}

/* ====================================================================
 * Lines
 * ==================================================================== */

static bool
blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return false;
    return true;
}

/* Handle one complete line (without its newline).  Returns true when the
 * producer must pause. */
static bool
handle_line(struct conn *c, const char *line, size_t n)
{
    struct wmid_control *ctl = c->ctl;
    json_error_t jerr;
    char msg[400];

    ctl->lines++;
    if (blank(line, n))
        return false;
    json_t *j = json_loadb(line, n, 0, &jerr);
    if (j == NULL) {
        snprintf(msg, sizeof msg, "malformed JSON line at column %d: %s", jerr.column, jerr.text);
        ctl->refused++;
        c->refused++;
        reply_error(c, NULL, WBEM_E_INVALID_SYNTAX, NULL, msg);
        return false;
    }
    if (json_is_object(j) && json_object_get(j, "__CLASS") != NULL)
        return ingest_bare_event(c, j, n + 1);
    bool pause = false;
    if (json_is_object(j) && json_object_get(j, "Method") != NULL) {
        pause = handle_request(c, j);
    } else {
        reply_error(c, NULL, WBEM_E_INVALID_PARAMETER, NULL,
                    "a line is an event object with \"__CLASS\" or a request with \"Method\"");
    }
    json_decref(j);
    return pause;
}

static void
refuse_oversized(struct conn *c)
{
    char msg[160];
    snprintf(msg, sizeof msg, "line longer than max_line_bytes (%zu bytes); skipped",
             c->ctl->settings->max_line_bytes);
    c->ctl->refused++;
    c->refused++;
    reply_error(c, NULL, WBEM_E_TOO_MUCH_DATA, NULL, msg);
}

/*
 * Handle the complete lines in the buffer, from @scan_from on (the bytes
 * before it hold no newline).  Stops at the first line after which the
 * producer must pause (SlowDownProviders): the lines after it stay in the
 * buffer, unread by the router, until on_resume.  Without that, one read of
 * 64 KiB of small events would be routed at once and overshoot the
 * consumer's queue limit (and drop) before the pause took effect.
 */
static void
process_buffer(struct conn *c, size_t scan_from)
{
    struct wmid_control *ctl = c->ctl;
    size_t start = 0;
    bool pause = false;
    if (c->buf == NULL)
        return; /* nothing buffered (an oversized line's memory was given back) */
    while (!pause) {
        char *nl = memchr(c->buf + scan_from, '\n', c->len - scan_from);
        if (nl == NULL)
            break;
        size_t end = (size_t)(nl - c->buf);
        /* A CRLF line's CR does not count against the limit. */
        size_t linelen = end - start - (end > start && c->buf[end - 1] == '\r' ? 1 : 0);
        if (c->discarding) {
            c->discarding = false;
        } else if (linelen > ctl->settings->max_line_bytes) {
            refuse_oversized(c);
        } else {
            pause = handle_line(c, c->buf + start, end - start);
        }
        start = end + 1;
        scan_from = start;
        if (c->closing)
            return;
    }
    if (start > 0) {
        memmove(c->buf, c->buf + start, c->len - start);
        c->len -= start;
    }
    if (!pause && c->len > ctl->settings->max_line_bytes) {
        /* Keep no more of an oversized line: skip to its newline. */
        if (!c->discarding)
            refuse_oversized(c);
        c->discarding = true;
        c->len = 0;
    }
    if (c->len == 0 && c->cap > 4 * READ_CHUNK) {
        /* Give back the memory an oversized line made us take. */
        free(c->buf);
        c->buf = NULL;
        c->cap = 0;
    }
    if (pause)
        conn_pause(c);
}

/* ====================================================================
 * Back-pressure: SlowDownProviders
 * ==================================================================== */

/* Stop reading a producer until the queues drain (on_resume). */
void
conn_pause(struct conn *c)
{
    if (c->paused || c->closing)
        return;
    c->paused = true;
    c->ctl->paused++;
    uv_read_stop((uv_stream_t *)&c->pipe);
    delivery_want_resume(c->ctl->delivery);
}

static void
on_resume(void *arg)
{
    struct wmid_control *ctl = arg;
    if (delivery_is_congested(ctl->delivery)) {
        delivery_want_resume(ctl->delivery);
        return;
    }
    /* The event providers' queue waits for the same drain. */
    eventprov_resume(ctl->eventprov);
    for (struct conn *c = ctl->conns; c != NULL; c = c->next) {
        if (c->paused && !c->closing) {
            c->paused = false;
            /* First the lines read before the pause; they may pause again. */
            process_buffer(c, 0);
            if (!c->paused && !c->write_paused && !c->closing)
                uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
        }
    }
    router_flush(ctl->router);
}

/* ====================================================================
 * Connections
 * ==================================================================== */

static void
on_conn_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    free(c->buf);
    free(c->held);
    free(c->held_size);
    free(c);
}

static void
on_timer_closed(uv_handle_t *h)
{
    free(h);
}

static void
conn_close(struct conn *c)
{
    struct wmid_control *ctl = c->ctl;
    if (c->closing)
        return;
    /* A MUST_BATCH sink's held events are routed, not lost, when the
     * producer goes. */
    if (c->nheld > 0) {
        ingest_flush_held(c);
        router_flush(ctl->router);
    }
    if (c->batch_timer != NULL) {
        uv_close((uv_handle_t *)c->batch_timer, on_timer_closed);
        c->batch_timer = NULL;
    }
    temp_conn_closed(c);
    c->closing = true;
    ctl->nopen--;
    if (c->prev)
        c->prev->next = c->next;
    else
        ctl->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct conn *c = h->data;
    (void)suggested;
    if (c->cap - c->len < READ_CHUNK) {
        size_t ncap = c->len + READ_CHUNK;
        char *nb = realloc(c->buf, ncap);
        if (nb == NULL) {
            *b = uv_buf_init(NULL, 0);
            return;
        }
        c->buf = nb;
        c->cap = ncap;
    }
    *b = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct conn *c = s->data;
    (void)b;

    if (nread < 0) {
        if (nread != UV_EOF)
            log_debug("control: connection %lu: %s", c->id, uv_strerror((int)nread));
        conn_close(c);
        return;
    }
    if (nread == 0)
        return;
    size_t scan_from = c->len;
    c->len += (size_t)nread;
    process_buffer(c, scan_from);
    /* One wake of the delivery threads per read, not per event. */
    router_flush(c->ctl->router);
}

static void
on_connection(uv_stream_t *server, int status)
{
    struct wmid_control *ctl = server->data;
    if (status < 0) {
        log_warnx("control: accept: %s", uv_strerror(status));
        return;
    }
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return;
    uv_pipe_init(ctl->loop, &c->pipe, 0);
    c->pipe.data = c;
    c->ctl = ctl;
    c->id = ++ctl->next_id;
    c->uid = -1;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0) {
        uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
        return;
    }
    uv_os_fd_t fd;
    struct ucred cred;
    socklen_t clen = sizeof cred;
    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) == 0 &&
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
        c->uid = (long)cred.uid;
    /* Once per connection: the group lookup may go through NSS. */
    sec_identity_from_uid(&c->identity, c->uid, ctl->settings->admin_gid);
    if (ctl->nopen >= ctl->settings->max_connections) {
        /* Each connection may hold a line of up to max_line_bytes: bound
         * how many there are.  Refused with a log line a second at most. */
        ctl->refused_connections++;
        time_t now = time(NULL);
        if (now != ctl->last_refuse_log) {
            ctl->last_refuse_log = now;
            log_warnx("control: %u connections open (max_connections); refusing uid %ld (%llu refused so far)",
                      ctl->nopen, c->uid, ctl->refused_connections);
        }
        uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
        return;
    }
    ctl->nopen++;
    c->next = ctl->conns;
    if (ctl->conns)
        ctl->conns->prev = c;
    ctl->conns = c;
    ctl->accepted++;
    log_debug("control: connection %lu from uid %ld", c->id, c->uid);
    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

/* ====================================================================
 * Listener
 * ==================================================================== */

static int
mkdir_p(const char *dir)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* Is something already listening on @path? */
static bool
socket_in_use(const char *path)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool used = connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0;
    close(fd);
    return used;
}

struct wmid_control *
control_new(uv_loop_t *loop, const struct wmid_settings *s, struct wmid_router *r, struct wmid_delivery *d,
            struct wmid_eventprov *ep, struct wmid_instance_env *env, wmi_error *err)
{
    struct wmid_control *ctl = calloc(1, sizeof *ctl);
    if (ctl == NULL)
        return NULL;
    ctl->loop = loop;
    ctl->settings = s;
    ctl->router = r;
    ctl->delivery = d;
    ctl->eventprov = ep;
    ctl->instances = env;
    ctl->errors_by_status = json_object();
    ctl->loop_thread = pthread_self();
    delivery_set_resume_cb(d, on_resume, ctl);

    char *dir = strdup(s->socket_path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        if (mkdir_p(dir) != 0)
            log_warn("control: cannot create %s", dir);
    }
    free(dir);
    if (strlen(s->socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        wmi_error_set(err, WBEM_E_FAILED, s->socket_path, 0, 0, "socket path is longer than %zu bytes",
                      sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        goto fail;
    }
    if (socket_in_use(s->socket_path)) {
        wmi_error_set(err, WBEM_E_FAILED, s->socket_path, 0, 0, "another daemon is listening on this socket");
        goto fail;
    }
    unlink(s->socket_path);
    uv_pipe_init(loop, &ctl->listener, 0);
    ctl->listener.data = ctl;
    mode_t old = umask(0117);
    int rc = uv_pipe_bind(&ctl->listener, s->socket_path);
    umask(old);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&ctl->listener, 128, on_connection);
    if (rc != 0) {
        wmi_error_set(err, WBEM_E_FAILED, s->socket_path, 0, 0, "cannot listen: %s", uv_strerror(rc));
        uv_close((uv_handle_t *)&ctl->listener, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        goto fail;
    }
    chmod(s->socket_path, 0660);
    if (s->socket_gid >= 0 && chown(s->socket_path, (uid_t)-1, (gid_t)s->socket_gid) != 0)
        log_warn("control: chown %s", s->socket_path);
    ctl->listening = true;
    log_info("control: listening on %s", s->socket_path);
    return ctl;
fail:
    json_decref(ctl->errors_by_status);
    free(ctl);
    return NULL;
}

void
control_set_router(struct wmid_control *c, struct wmid_router *r)
{
    c->router = r;
    if (c->temps != NULL)
        temp_reparse(c);
}

void
control_stop_accepting(struct wmid_control *ctl)
{
    if (ctl->listening) {
        ctl->listening = false;
        uv_close((uv_handle_t *)&ctl->listener, NULL);
        unlink(ctl->settings->socket_path);
    }
}

void
control_close(struct wmid_control *ctl)
{
    control_stop_accepting(ctl);
    /* Lines a paused producer sent but the daemon had not read yet are not
     * routed: say so rather than lose them silently. */
    size_t held = 0;
    unsigned nheld = 0;
    for (struct conn *c = ctl->conns; c != NULL; c = c->next) {
        if ((c->paused || c->write_paused) && c->len > 0) {
            held += c->len;
            nheld++;
        }
    }
    if (held > 0)
        log_warnx("control: %zu byte(s) of lines read from %u paused connection(s) were not routed before exit",
                  held, nheld);
    while (ctl->conns != NULL)
        conn_close(ctl->conns);
    uv_run(ctl->loop, UV_RUN_NOWAIT);
    ctl->closing = true;
    temp_reindex(ctl); /* no subscription is left: the router's hook goes */
    free(ctl->tnames);
    ctl->tnames = NULL;
    json_decref(ctl->errors_by_status);
    free(ctl);
}
