/*
 * reply.c - replies and errors on the control socket.
 *
 * This file builds the lines the daemon answers with: a request's reply
 * carries a WBEM status ("Status" and "StatusName") and the request's "Id";
 * an error adds a "Message" and the "Field" (or "Source") it is about.  It
 * also keeps the error counters and the rate-limited error log, which bare
 * events use without a reply.  The lines are handed to server.c's write
 * queue.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/control/internal.h"
#include "daemon/log.h"

void
count_error(struct wmid_control *ctl, struct conn *c, wmi_status st, const char *field, const char *msg)
{
    const char *name = wmi_status_name(st) ? wmi_status_name(st) : "WBEM_E_FAILED";
    json_t *n = json_object_get(ctl->errors_by_status, name);
    json_object_set_new(ctl->errors_by_status, name, json_integer(n ? json_integer_value(n) + 1 : 1));
    ctl->errors++;
    snprintf(c->last_error, sizeof c->last_error, "%s: %s%s%.400s", name, field && field[0] ? field : "",
             field && field[0] ? ": " : "", msg);
    snprintf(ctl->last_error, sizeof ctl->last_error, "connection %lu: %.480s", c->id, c->last_error);
    time_t now = time(NULL);
    if (now != ctl->last_log) {
        ctl->last_log = now;
        if (ctl->suppressed)
            log_warnx("control: %s (and %llu more errors in the last second)", ctl->last_error,
                      ctl->suppressed);
        else
            log_warnx("control: %s", ctl->last_error);
        ctl->suppressed = 0;
    } else {
        ctl->suppressed++;
    }
}

/* @obj (stolen) as one compact JSON line with its newline (new string;
 * *@n its length with the newline), or NULL when out of memory. */
char *
json_line(json_t *obj, size_t *n)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (text == NULL)
        return NULL;
    size_t len = strlen(text);
    char *line = realloc(text, len + 2);
    if (line == NULL) {
        free(text);
        return NULL;
    }
    line[len] = '\n';
    line[len + 1] = '\0';
    *n = len + 1;
    return line;
}

/* Send one JSON reply line (steals @reply).  Replies are never dropped: a
 * client that does not read them is not read from either, once more than
 * MAX_PENDING_REPLY_BYTES wait, until it catches up (server.c). */
void
reply(struct conn *c, json_t *reply)
{
    if (c->closing) {
        json_decref(reply);
        return;
    }
    size_t n;
    char *line = json_line(reply, &n);
    if (line == NULL)
        return;
    conn_send_reply(c, line, n);
}

json_t *
status_reply(const json_t *id, wmi_status st)
{
    json_t *r = json_pack("{sIss}", "Status", (json_int_t)st, "StatusName",
                          wmi_status_name(st) ? wmi_status_name(st) : "WBEM_E_FAILED");
    if (id != NULL)
        json_object_set(r, "Id", (json_t *)id);
    return r;
}

void
reply_error(struct conn *c, const json_t *id, wmi_status st, const char *field, const char *msg)
{
    json_t *r = status_reply(id, st);
    json_object_set_new(r, "Message", json_string(msg));
    if (field != NULL && field[0])
        json_object_set_new(r, "Field", json_string(field));
    count_error(c->ctl, c, st, field, msg);
    reply(c, r);
}

/* A failed repository request: status, the field or file, the message. */
void
reply_wmi_error(struct conn *c, const json_t *id, const wmi_error *err)
{
    struct wmid_control *ctl = c->ctl;
    wmi_status st = err->status ? err->status : WBEM_E_FAILED;
    json_t *r = status_reply(id, st);
    json_object_set_new(r, "Message", json_string(err->text));
    if (err->source[0])
        json_object_set_new(r, err->line > 0 || strchr(err->source, ':') || strchr(err->source, '/') ? "Source" : "Field",
                            json_string(err->source));
    if (err->line > 0) {
        json_object_set_new(r, "Line", json_integer(err->line));
        json_object_set_new(r, "Column", json_integer(err->column));
    }
    count_error(ctl, c, st, err->source, err->text);
    reply(c, r);
}

/* The reply to a repository change: its status, or the error. */
void
reply_outcome(struct conn *c, const json_t *id, bool ok, const wmi_error *err)
{
    if (ok)
        reply(c, status_reply(id, WBEM_S_NO_ERROR));
    else
        reply_wmi_error(c, id, err);
}
