/*
 * client.c - wmieventctl's connection to the daemon: the control socket,
 * the JSON lines sent and read on it, the reading of a reply and its exit
 * code, the reader thread of `indicate -`, and how a WBEM error is printed.
 * The commands build their requests; this file carries them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/ctl.h"

json_t *
client_with_ns(const struct ctl *ctl, json_t *req)
{
    if (req != NULL && ctl->ns != NULL)
        json_object_set_new(req, "Namespace", json_string(ctl->ns));
    return req;
}

void
client_print_status(wmi_status st, const char *where, const char *msg)
{
    const char *name = wmi_status_name(st);
    fprintf(stderr, "wmieventctl: %s%s%s (0x%08X)%s%s\n", where ? where : "", where ? ": " : "",
            name ? name : "unknown status", st, msg ? ": " : "", msg ? msg : wmi_status_message(st));
}

/* ====================================================================
 * The socket
 * ==================================================================== */

int
client_connect(const struct ctl *ctl, struct conn *c)
{
    const char *socket_path = ctl->socket_path;
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    if (strlen(socket_path) >= sizeof sun.sun_path) {
        fprintf(stderr, "wmieventctl: socket path too long: %s\n", socket_path);
        return -1;
    }
    strcpy(sun.sun_path, socket_path);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
        fprintf(stderr, "wmieventctl: cannot connect to %s: %s\n", socket_path, strerror(errno));
        if (c->fd >= 0)
            close(c->fd);
        return -1;
    }
    /* A stream of its own for the replies, so that they are read by lines
     * while the requests are written to the descriptor unbuffered. */
    c->in = fdopen(dup(c->fd), "r");
    return c->in ? 0 : -1;
}

void
client_disconnect(struct conn *c)
{
    fclose(c->in);
    close(c->fd);
}

int
client_send_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

int
client_send_json(struct conn *c, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    if (text == NULL)
        return -1;
    int rc = client_send_all(c->fd, text, strlen(text));
    if (rc == 0)
        rc = client_send_all(c->fd, "\n", 1);
    free(text);
    return rc;
}

/* ====================================================================
 * Replies
 * ==================================================================== */

json_t *
client_read_reply(struct conn *c, const char *id)
{
    char *line = NULL;
    size_t cap = 0;
    json_t *found = NULL;
    while (found == NULL && getline(&line, &cap, c->in) > 0) {
        json_t *r = json_loads(line, 0, NULL);
        if (r == NULL)
            continue;
        const char *rid = json_string_value(json_object_get(r, "Id"));
        if (rid != NULL && strcmp(rid, id) == 0) {
            found = r;
            break;
        }
        wmi_status st = (wmi_status)json_integer_value(json_object_get(r, "Status"));
        if (WMI_FAILED(st))
            client_print_status(st, NULL, json_string_value(json_object_get(r, "Message")));
        json_decref(r);
    }
    free(line);
    return found;
}

int
client_check_reply(json_t *r)
{
    if (r == NULL) {
        fprintf(stderr, "wmieventctl: the daemon closed the connection without a reply\n");
        return EXIT_CONNECT;
    }
    wmi_status st = (wmi_status)json_integer_value(json_object_get(r, "Status"));
    if (WMI_FAILED(st)) {
        /* Where: the request's field, or the file (and line) that was refused. */
        const char *where = json_string_value(json_object_get(r, "Field"));
        char buf[1200];
        const char *source = json_string_value(json_object_get(r, "Source"));
        if (where == NULL && source != NULL) {
            json_int_t line = json_integer_value(json_object_get(r, "Line"));
            if (line > 0)
                snprintf(buf, sizeof buf, "%s:%lld:%lld", source, (long long)line,
                         (long long)json_integer_value(json_object_get(r, "Column")));
            else
                snprintf(buf, sizeof buf, "%s", source);
            where = buf;
        }
        client_print_status(st, where, json_string_value(json_object_get(r, "Message")));
        return EXIT_WBEM;
    }
    return EXIT_OK;
}

int
client_request(const struct ctl *ctl, json_t *req, json_t **out)
{
    struct conn c;
    if (client_connect(ctl, &c) != 0) {
        json_decref(req);
        return EXIT_CONNECT;
    }
    json_object_set_new(req, "Id", json_string("1"));
    client_send_json(&c, req);
    json_decref(req);
    json_t *r = client_read_reply(&c, "1");
    int rc = client_check_reply(r);
    if (out != NULL && rc == EXIT_OK)
        *out = json_incref(r);
    json_decref(r);
    client_disconnect(&c);
    return rc;
}

/* ====================================================================
 * The reader thread
 * ==================================================================== */

static void *
reader_main(void *arg)
{
    struct client_reader *rd = arg;
    rd->final = client_read_reply(rd->c, "wmieventctl");
    return NULL;
}

int
client_reader_start(struct client_reader *rd, struct conn *c)
{
    rd->c = c;
    rd->final = NULL;
    return pthread_create(&rd->thread, NULL, reader_main, rd) == 0 ? 0 : -1;
}

json_t *
client_reader_join(struct client_reader *rd)
{
    pthread_join(rd->thread, NULL);
    return rd->final;
}
