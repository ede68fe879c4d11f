/*
 * wmieventctl - the command-line client of wmieventd.
 *
 *   wmieventctl [-s socket] [-N namespace] indicate CLASS [Prop=Value ...]
 *   wmieventctl [-s socket] [-N namespace] indicate -
 *   wmieventctl [-s socket] stats
 *   wmieventctl [-s socket] [-N namespace] enum CLASS
 *   wmieventctl [-s socket] reload
 *   wmieventctl [-s socket] [-N namespace] get PATH
 *   wmieventctl [-s socket] [-N namespace] put [--create-only | --update-only] FILE|-
 *   wmieventctl [-s socket] [-N namespace] delete PATH
 *   wmieventctl [-s socket] [-N namespace] watch [--mof] 'WQL'
 *   wmieventctl [--classes FILE] wql check 'QUERY'
 *   wmieventctl [--classes FILE] wql eval 'QUERY' [FILE]
 *   wmieventctl [-s socket] [--classes FILE] mofcomp [--check] [-N ns] [-I dir] [--json] FILE...
 *
 * -N names the namespace of the request (root\subscription when not given;
 * a path may name its own, root\cimv2:Class.Key="v"); for watch, the
 * namespace whose events are streamed (every namespace when not given).
 *
 * Exit codes: 0 success, 1 a WBEM error (printed as its name and message),
 * 2 usage,
 * 3 the daemon cannot be reached (watch: or closed the connection).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "wmievent.h"

enum { EXIT_OK = 0, EXIT_WBEM = 1, EXIT_USAGE = 2, EXIT_CONNECT = 3 };

static const char *socket_path;
static const char *classes_file;
static const char *namespace_opt;   /* -N: the requests' "Namespace" */

/* Add "Namespace" to @req when -N was given; returns @req. */
static json_t *
with_ns(json_t *req)
{
    if (req != NULL && namespace_opt != NULL)
        json_object_set_new(req, "Namespace", json_string(namespace_opt));
    return req;
}

static _Noreturn void
usage(void)
{
    fprintf(stderr,
            "usage: wmieventctl [-s socket] [-N namespace] indicate CLASS [Prop=Value ...]\n"
            "       wmieventctl [-s socket] [-N namespace] indicate -\n"
            "       wmieventctl [-s socket] stats\n"
            "       wmieventctl [-s socket] [-N namespace] enum CLASS\n"
            "       wmieventctl [-s socket] reload\n"
            "       wmieventctl [-s socket] [-N namespace] get PATH\n"
            "       wmieventctl [-s socket] [-N namespace] put [--create-only | --update-only] FILE|-\n"
            "       wmieventctl [-s socket] [-N namespace] delete PATH\n"
            "       wmieventctl [-s socket] [-N namespace] watch [--mof] QUERY\n"
            "       wmieventctl [--classes file.json] wql check QUERY\n"
            "       wmieventctl [--classes file.json] wql eval QUERY [FILE]\n"
            "       wmieventctl [-s socket] [--classes file.json] mofcomp [--check] [-N namespace] [-I dir] [--json] "
            "FILE...\n");
    exit(EXIT_USAGE);
}

static void
print_status(wmi_status st, const char *where, const char *msg)
{
    const char *name = wmi_status_name(st);
    fprintf(stderr, "wmieventctl: %s%s%s (0x%08X)%s%s\n", where ? where : "", where ? ": " : "",
            name ? name : "unknown status", st, msg ? ": " : "", msg ? msg : wmi_status_message(st));
}

/* ====================================================================
 * The socket
 * ==================================================================== */

struct conn {
    int fd;
    FILE *in;
};

static int
connect_daemon(struct conn *c)
{
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
    c->in = fdopen(dup(c->fd), "r");
    return c->in ? 0 : -1;
}

static void
disconnect(struct conn *c)
{
    fclose(c->in);
    close(c->fd);
}

static int
send_all(int fd, const char *buf, size_t n)
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

static int
send_json(struct conn *c, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    if (text == NULL)
        return -1;
    int rc = send_all(c->fd, text, strlen(text));
    if (rc == 0)
        rc = send_all(c->fd, "\n", 1);
    free(text);
    return rc;
}

/* Read replies until the one whose Id is @id; print the others (errors
 * about earlier bare lines).  Returns a new reference or NULL. */
static json_t *
read_reply(struct conn *c, const char *id)
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
            print_status(st, NULL, json_string_value(json_object_get(r, "Message")));
        json_decref(r);
    }
    free(line);
    return found;
}

/* Print a reply's error; returns the exit code. */
static int
check_reply(json_t *r)
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
        print_status(st, where, json_string_value(json_object_get(r, "Message")));
        return EXIT_WBEM;
    }
    return EXIT_OK;
}

/* ====================================================================
 * Commands
 * ==================================================================== */

/* The reply reader of `indicate -`: prints error replies, keeps the final
 * Stats reply (Id "wmieventctl"). */
struct reader {
    struct conn *c;
    json_t *final;
};

static void *
reader_main(void *arg)
{
    struct reader *rd = arg;
    rd->final = read_reply(rd->c, "wmieventctl");
    return NULL;
}

static int
cmd_indicate(int argc, char **argv)
{
    struct conn c;
    if (argc < 1)
        usage();
    if (strcmp(argv[0], "-") == 0) {
        /* Stream stdin as bare events, then ask how many were refused.  A
         * thread reads the replies meanwhile (errors about bad lines): the
         * daemon stops reading a client that leaves its replies unread. */
        if (connect_daemon(&c) != 0)
            return EXIT_CONNECT;
        struct reader rd = {.c = &c};
        pthread_t th;
        if (pthread_create(&th, NULL, reader_main, &rd) != 0) {
            disconnect(&c);
            return EXIT_CONNECT;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        unsigned long sent = 0;
        int rc = EXIT_OK;
        while ((n = getline(&line, &cap, stdin)) > 0) {
            if (line[n - 1] != '\n') {
                char *nl = realloc(line, (size_t)n + 2);
                if (nl == NULL)
                    break;
                line = nl;
                line[n++] = '\n';
            }
            if (send_all(c.fd, line, (size_t)n) != 0) {
                fprintf(stderr, "wmieventctl: write: %s\n", strerror(errno));
                rc = EXIT_CONNECT;
                break;
            }
            sent++;
        }
        free(line);
        json_t *req = json_pack("{ssss}", "Method", "Stats", "Id", "wmieventctl");
        if (rc == EXIT_OK && send_json(&c, req) != 0)
            rc = EXIT_CONNECT;
        json_decref(req);
        if (rc != EXIT_OK)
            shutdown(c.fd, SHUT_RDWR);
        pthread_join(th, NULL);
        json_t *r = rd.final;
        if (rc == EXIT_OK)
            rc = check_reply(r);
        if (rc == EXIT_OK) {
            json_t *conn = json_object_get(r, "Connection");
            json_int_t refused = json_integer_value(json_object_get(conn, "refused"));
            if (refused > 0) {
                fprintf(stderr, "wmieventctl: %lu line(s) sent, %lld refused; last error: %s\n", sent,
                        (long long)refused, json_string_value(json_object_get(conn, "last_error")));
                rc = EXIT_WBEM;
            }
        }
        json_decref(r);
        disconnect(&c);
        return rc;
    }
    json_t *ev = json_pack("{ss}", "__CLASS", argv[0]);
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL || eq == argv[i]) {
            fprintf(stderr, "wmieventctl: expected Prop=Value, got \"%s\"\n", argv[i]);
            json_decref(ev);
            return EXIT_USAGE;
        }
        *eq = '\0';
        json_object_set_new(ev, argv[i], json_string(eq + 1));
    }
    json_t *req = with_ns(json_pack("{sssssbs[o]}", "Method", "Indicate", "Id", "1", "Coerce", 1, "Events", ev));
    if (connect_daemon(&c) != 0) {
        json_decref(req);
        return EXIT_CONNECT;
    }
    send_json(&c, req);
    json_decref(req);
    json_t *r = read_reply(&c, "1");
    int rc = check_reply(r);
    json_decref(r);
    disconnect(&c);
    return rc;
}

static int
cmd_stats(void)
{
    struct conn c;
    if (connect_daemon(&c) != 0)
        return EXIT_CONNECT;
    json_t *req = json_pack("{ssss}", "Method", "Stats", "Id", "1");
    send_json(&c, req);
    json_decref(req);
    json_t *r = read_reply(&c, "1");
    int rc = check_reply(r);
    if (rc == EXIT_OK)
        json_dumpf(json_object_get(r, "Stats"), stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (rc == EXIT_OK)
        putchar('\n');
    json_decref(r);
    disconnect(&c);
    return rc;
}

/* Reload the daemon's configuration (as SIGHUP does), and say how it went. */
static int
cmd_reload(void)
{
    struct conn c;
    if (connect_daemon(&c) != 0)
        return EXIT_CONNECT;
    json_t *req = json_pack("{ssss}", "Method", "Reload", "Id", "1");
    send_json(&c, req);
    json_decref(req);
    json_t *r = read_reply(&c, "1");
    int rc = check_reply(r);
    if (rc == EXIT_OK)
        printf("reloaded: %lld objects\n", (long long)json_integer_value(json_object_get(r, "Objects")));
    json_decref(r);
    disconnect(&c);
    return rc;
}

/* The instances of a class (and its subclasses), one JSON line each, as
 * Get-CimInstance lists them. */
/* One request, one reply: the exit code, the reply kept in *@out when
 * wanted (new reference). */
static int
request(json_t *req, json_t **out)
{
    struct conn c;
    if (connect_daemon(&c) != 0) {
        json_decref(req);
        return EXIT_CONNECT;
    }
    json_object_set_new(req, "Id", json_string("1"));
    send_json(&c, req);
    json_decref(req);
    json_t *r = read_reply(&c, "1");
    int rc = check_reply(r);
    if (out != NULL && rc == EXIT_OK)
        *out = json_incref(r);
    json_decref(r);
    disconnect(&c);
    return rc;
}

/* GetObject: the object as indented JSON; where it comes from and its
 * creator on stderr, so that stdout stays one JSON document. */
static int
cmd_get(const char *path)
{
    json_t *r = NULL;
    int rc = request(with_ns(json_pack("{ssss}", "Method", "GetObject", "Path", path)), &r);
    if (rc == EXIT_OK) {
        json_dumpf(json_object_get(r, "Object"), stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        putchar('\n');
        fprintf(stderr, "wmieventctl: %s object (%s), created by %s\n",
                json_string_value(json_object_get(r, "Origin")), json_string_value(json_object_get(r, "Source")),
                json_string_value(json_object_get(r, "CreatorSID")));
    }
    json_decref(r);
    return rc;
}

/* PutInstance of each object in FILE (one object, or an array of them),
 * in order, stopping at the first refusal. */
static int
cmd_put(int argc, char **argv)
{
    const char *flags = "WBEM_FLAG_CREATE_OR_UPDATE";
    int i = 0;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (strcmp(argv[i], "--create-only") == 0)
            flags = "WBEM_FLAG_CREATE_ONLY";
        else if (strcmp(argv[i], "--update-only") == 0)
            flags = "WBEM_FLAG_UPDATE_ONLY";
        else
            usage();
    }
    if (i + 1 != argc)
        usage();
    json_error_t jerr;
    json_t *doc = strcmp(argv[i], "-") == 0 ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr)
                                             : json_load_file(argv[i], JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        fprintf(stderr, "wmieventctl: %s:%d:%d: %s\n", argv[i], jerr.line, jerr.column, jerr.text);
        return EXIT_USAGE;
    }
    if (json_is_object(doc)) {
        json_t *a = json_array();
        json_array_append_new(a, doc);
        doc = a;
    }
    size_t k;
    json_t *inst;
    int rc = EXIT_OK;
    json_array_foreach(doc, k, inst) {
        rc = request(with_ns(json_pack("{sssOss}", "Method", "PutInstance", "Instance", inst, "Flags", flags)), NULL);
        if (rc != EXIT_OK) {
            fprintf(stderr, "wmieventctl: %s: object %zu refused; the %zu before it were stored\n", argv[i], k, k);
            break;
        }
    }
    json_decref(doc);
    return rc;
}

static int
cmd_delete(const char *path)
{
    return request(with_ns(json_pack("{ssss}", "Method", "DeleteInstance", "Path", path)), NULL);
}

static int
cmd_enum(const char *class_name)
{
    struct conn c;
    if (connect_daemon(&c) != 0)
        return EXIT_CONNECT;
    json_t *req = with_ns(json_pack("{ssssss}", "Method", "EnumInstances", "Id", "1", "ClassName", class_name));
    send_json(&c, req);
    json_decref(req);
    json_t *r = read_reply(&c, "1");
    int rc = check_reply(r);
    if (rc == EXIT_OK) {
        size_t i;
        json_t *inst;
        json_array_foreach(json_object_get(r, "Instances"), i, inst) {
            char *line = json_dumps(inst, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (line != NULL)
                printf("%s\n", line);
            free(line);
        }
    }
    json_decref(r);
    disconnect(&c);
    return rc;
}

/*
 * A temporary consumer (ExecNotificationQuery): each matching event as one
 * line, JSON or (--mof) the MOF text the daemon renders, until Ctrl-C, a
 * closed pipe (SIGPIPE keeps its default action: `watch ... | head` ends),
 * or the daemon going away (exit 3).  Stdout is flushed per event, so that
 * a pipe sees each event as it comes.
 */
static int
cmd_watch(int argc, char **argv)
{
    bool mof = false;
    int i = 0;
    if (i < argc && strcmp(argv[i], "--mof") == 0) {
        mof = true;
        i++;
    }
    if (argc - i != 1)
        usage();
    struct conn c;
    if (connect_daemon(&c) != 0)
        return EXIT_CONNECT;
    json_t *req = with_ns(json_pack("{ssssssssss}", "Method", "ExecNotificationQuery", "Id", "watch", "QueryLanguage",
                                    "WQL", "Query", argv[i], "Format", mof ? "MOF" : "JSON"));
    int send_rc = send_json(&c, req);
    json_decref(req);
    if (send_rc != 0) {
        fprintf(stderr, "wmieventctl: write: %s\n", strerror(errno));
        disconnect(&c);
        return EXIT_CONNECT;
    }
    json_t *r = read_reply(&c, "watch");
    int rc = check_reply(r);
    json_decref(r);
    if (rc != EXIT_OK) {
        disconnect(&c);
        return rc;
    }
    char *line = NULL;
    size_t cap = 0;
    rc = EXIT_CONNECT;
    while (getline(&line, &cap, c.in) > 0) {
        json_t *m = json_loads(line, 0, NULL);
        if (m == NULL)
            continue;
        const json_t *e = json_object_get(m, "Event");
        const char *text = json_string_value(json_object_get(m, "Text"));
        if (e != NULL) {
            char *out = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (out != NULL)
                printf("%s\n", out);
            free(out);
            fflush(stdout);
        } else if (text != NULL) {
            fputs(text, stdout);
            if (text[0] == '\0' || text[strlen(text) - 1] != '\n')
                putchar('\n');
            fflush(stdout);
        } else if (json_object_get(m, "Status") != NULL) {
            /* A status line: events dropped for a slow read (go on), or
             * the subscription ended (a reload removed its class). */
            wmi_status st = (wmi_status)json_integer_value(json_object_get(m, "Status"));
            print_status(st, NULL, json_string_value(json_object_get(m, "Message")));
            if (json_is_true(json_object_get(m, "Cancelled"))) {
                json_decref(m);
                rc = EXIT_WBEM;
                break;
            }
        }
        json_decref(m);
    }
    if (rc == EXIT_CONNECT)
        fprintf(stderr, "wmieventctl: the daemon closed the connection\n");
    free(line);
    disconnect(&c);
    return rc;
}

/* The built-in classes plus those of --classes (an object file). */
static wmi_schema *
load_schema(void)
{
    wmi_schema *schema = wmi_schema_new();
    /* As the daemon's: with the instance provider classes (Win32_Process...). */
    wmi_schema_add_instance_classes(schema, NULL);
    if (classes_file == NULL)
        return schema;
    json_error_t jerr;
    json_t *defs = json_load_file(classes_file, 0, &jerr);
    if (defs == NULL) {
        fprintf(stderr, "wmieventctl: %s:%d:%d: %s\n", classes_file, jerr.line, jerr.column, jerr.text);
        exit(EXIT_WBEM);
    }
    size_t i;
    json_t *d;
    json_array_foreach(defs, i, d) {
        wmi_error err;
        if (json_integer_value(json_object_get(d, "__GENUS")) != 1)
            continue;
        if (WMI_FAILED(wmi_schema_add_class_json(schema, d, &err))) {
            fprintf(stderr, "wmieventctl: %s: class %zu: %s: %s (%s)\n", classes_file, i, err.source, err.text,
                    wmi_status_name(err.status));
            exit(EXIT_WBEM);
        }
    }
    json_decref(defs);
    return schema;
}

/* ====================================================================
 * Offline GROUP WITHIN for `wql eval`: windows in event time
 * ==================================================================== */

/* The class of the aggregate events of a query with BY. */
#define AGG_CLASS "__AggregateEvent_wql"

static void
print_event(const wmi_object *ev)
{
    char *out = json_dumps(wmi_object_json(ev), JSON_COMPACT);
    printf("%s\n", out);
    free(out);
}

/* Event time of the offline windows: windows count in TIME_CREATED's
 * 100 ns ticks, and close as the replay's time passes their end. */
#define TICKS_PER_SECOND 10000000u

struct groups {
    wmi_window *windows;
    uint64_t last_time;
};

/* Close (print, if HAVING holds) every window that ends by @now. */
static void
groups_close(struct groups *gs, uint64_t now)
{
    wmi_object *agg;
    wmi_error err;
    wmi_status st;
    while ((st = wmi_window_close(gs->windows, now, &agg, &err)) != WBEM_S_FALSE) {
        if (WMI_FAILED(st))
            fprintf(stderr, "wmieventctl: aggregate: %s: %s\n", err.source, err.text);
        else if (agg != NULL)
            print_event(agg);
        wmi_object_unref(agg);
    }
}

/* Count @ev into its group.  Event time is TIME_CREATED (100 ns ticks);
 * an event without one is taken to come at the time of the one before. */
static void
groups_add(struct groups *gs, wmi_object *ev)
{
    uint64_t t = gs->last_time;
    if (wmi_object_get_uint64(ev, "TIME_CREATED", &t) != WBEM_S_NO_ERROR)
        t = gs->last_time;
    gs->last_time = t;
    groups_close(gs, t);
    wmi_window_add(gs->windows, ev, t);
}

/* Parse with the schema when the FROM class is known to it, else check the
 * syntax alone (user classes live in the daemon's config). */
static wmi_status
parse_query(const char *text, const wmi_schema *schema, wmi_query **q, wmi_error *err)
{
    wmi_status st = wmi_query_parse(text, NULL, q, err);
    if (WMI_FAILED(st))
        return st;
    if (wmi_schema_get_class(schema, wmi_query_class(*q)) == NULL)
        return st;
    wmi_query_free(*q);
    return wmi_query_parse(text, schema, q, err);
}

static int
cmd_wql(int argc, char **argv)
{
    if (argc < 2)
        usage();
    wmi_schema *schema = load_schema();
    wmi_query *q;
    wmi_error err;
    memset(&err, 0, sizeof err);
    if (WMI_FAILED(parse_query(argv[1], schema, &q, &err))) {
        fprintf(stderr, "%s at column %d: %s\n", wmi_status_name(err.status), err.column, err.text);
        wmi_schema_free(schema);
        return EXIT_WBEM;
    }
    int rc = EXIT_OK;
    if (strcmp(argv[0], "check") == 0 && argc == 2) {
        char *norm = wmi_query_to_string(q);
        printf("%s\n", norm);
        free(norm);
    } else if (strcmp(argv[0], "eval") == 0 && argc <= 3) {
        FILE *in = stdin;
        if (argc == 3 && strcmp(argv[2], "-") != 0 && (in = fopen(argv[2], "r")) == NULL) {
            fprintf(stderr, "wmieventctl: %s: %s\n", argv[2], strerror(errno));
            rc = EXIT_WBEM;
        }
        char *line = NULL;
        size_t cap = 0;
        unsigned long lineno = 0;
        struct groups *groups = NULL;
        if (wmi_query_group_within(q) >= 0) {
            groups = calloc(1, sizeof *groups);
            if (wmi_query_group_by_count(q) > 0 &&
                WMI_FAILED(wmi_query_define_aggregate_class(q, schema, AGG_CLASS, &err))) {
                fprintf(stderr, "wmieventctl: %s: %s\n", err.source, err.text);
                rc = EXIT_WBEM;
                in = NULL;
            }
            if (groups == NULL || WMI_FAILED(wmi_window_new(q, schema, wmi_query_group_by_count(q) ? AGG_CLASS : NULL,
                                                            TICKS_PER_SECOND, &groups->windows))) {
                fprintf(stderr, "wmieventctl: out of memory\n");
                free(groups);
                groups = NULL;
                rc = EXIT_WBEM;
                in = NULL;
            }
        }
        while (in != NULL && getline(&line, &cap, in) > 0) {
            lineno++;
            json_error_t jerr;
            json_t *j = json_loads(line, 0, &jerr);
            wmi_object *ev;
            if (j == NULL) {
                if (line[strspn(line, " \t\r\n")] == '\0')
                    continue;
                fprintf(stderr, "wmieventctl: line %lu:%d: %s\n", lineno, jerr.column, jerr.text);
                rc = EXIT_WBEM;
                continue;
            }
            if (WMI_FAILED(wmi_object_from_json_new(schema, j, &ev, &err))) {
                fprintf(stderr, "wmieventctl: line %lu: %s%s%s (%s)\n", lineno, err.source,
                        err.source[0] ? ": " : "", err.text, wmi_status_name(err.status));
                rc = EXIT_WBEM;
                continue;
            }
            if (wmi_query_evaluate(q, ev)) {
                if (groups != NULL)
                    groups_add(groups, ev);
                else
                    print_event(ev);
            }
            wmi_object_unref(ev);
        }
        free(line);
        if (groups != NULL) {
            groups_close(groups, UINT64_MAX);
            wmi_window_free(groups->windows);
        }
        free(groups);
        if (in != NULL && in != stdin)
            fclose(in);
    } else {
        wmi_query_free(q);
        wmi_schema_free(schema);
        usage();
    }
    wmi_query_free(q);
    wmi_schema_free(schema);
    return rc;
}

/* ====================================================================
 * mofcomp: compile MOF files (offline with --check)
 * ==================================================================== */

static const char *const mof_kind_names[] = {
    [WMI_MOF_QUALIFIER] = "Qualifier",     [WMI_MOF_CLASS] = "PutClass",
    [WMI_MOF_INSTANCE] = "PutInstance",    [WMI_MOF_DELETE_CLASS] = "DeleteClass",
    [WMI_MOF_DELETE_INSTANCE] = "DeleteInstance",
};

/* Per namespace, in order of first use: classes, instances. */
static void
mof_summary(const char *file, const wmi_mof_result *res)
{
    size_t n = wmi_mof_result_count(res), nq = 0, nd = 0;
    json_t *per = json_object(); /* ns -> [classes, instances] */
    json_t *order = json_array();
    for (size_t i = 0; i < n; i++) {
        const wmi_mof_op *op = wmi_mof_result_op(res, i);
        json_t *e = json_object_get(per, op->ns);
        if (e == NULL) {
            e = json_pack("[i,i]", 0, 0);
            json_object_set_new(per, op->ns, e);
            json_array_append_new(order, json_string(op->ns));
        }
        int slot = op->kind == WMI_MOF_CLASS ? 0 : op->kind == WMI_MOF_INSTANCE ? 1 : -1;
        if (slot >= 0)
            json_array_set_new(e, (size_t)slot, json_integer(json_integer_value(json_array_get(e, (size_t)slot)) + 1));
        nq += op->kind == WMI_MOF_QUALIFIER;
        nd += op->kind == WMI_MOF_DELETE_CLASS || op->kind == WMI_MOF_DELETE_INSTANCE;
    }
    printf("%s: ok", file);
    if (nq)
        printf(", %zu qualifier declaration%s", nq, nq == 1 ? "" : "s");
    if (nd)
        printf(", %zu delete%s", nd, nd == 1 ? "" : "s");
    printf("\n");
    size_t i;
    json_t *ns;
    json_array_foreach(order, i, ns) {
        json_t *e = json_object_get(per, json_string_value(ns));
        printf("  %s: %lld class%s, %lld instance%s\n", json_string_value(ns),
               (long long)json_integer_value(json_array_get(e, 0)),
               json_integer_value(json_array_get(e, 0)) == 1 ? "" : "es",
               (long long)json_integer_value(json_array_get(e, 1)),
               json_integer_value(json_array_get(e, 1)) == 1 ? "" : "s");
    }
    json_decref(per);
    json_decref(order);
}

/* One JSON line per operation. */
static void
mof_dump(const wmi_mof_result *res)
{
    for (size_t i = 0; i < wmi_mof_result_count(res); i++) {
        const wmi_mof_op *op = wmi_mof_result_op(res, i);
        json_t *j = json_pack("{s:s,s:s,s:s,s:i}", "Operation", mof_kind_names[op->kind], "Namespace",
                              op->ns, "Source", op->source, "Line", op->line);
        if (j == NULL)
            continue;
        if (op->json != NULL)
            json_object_set(j, "Object", (json_t *)op->json);
        if (op->target != NULL)
            json_object_set_new(j, "Path", json_string(op->target));
        if (op->alias != NULL)
            json_object_set_new(j, "Alias", json_string(op->alias));
        if (op->flags != 0)
            json_object_set_new(j, "Flags", json_integer(op->flags));
        char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
        if (s != NULL)
            printf("%s\n", s);
        free(s);
        json_decref(j);
    }
    const json_t *pragmas = wmi_mof_result_pragmas(res);
    if (json_object_size(pragmas) > 0) {
        json_t *j = json_pack("{s:O}", "Pragmas", pragmas);
        char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        if (s != NULL)
            printf("%s\n", s);
        free(s);
        json_decref(j);
    }
}

/* The daemon's classes (EnumClasses), added to @schema. */
static int
add_daemon_classes(wmi_schema *schema)
{
    json_t *r = NULL;
    int rc = request(json_pack("{sssbss}", "Method", "EnumClasses", "Deep", 1, "Namespace", "*"), &r);
    if (rc != EXIT_OK)
        return rc;
    /* Built-in classes are the same on both sides and are skipped; a class
     * the daemon has but this schema cannot take only matters if the MOF
     * uses it, and the compiler says so then. */
    wmi_schema_add_classes_json(schema, json_object_get(r, "Classes"), NULL, NULL);
    json_decref(r);
    return EXIT_OK;
}

/* MofComp: send what @path compiled to, all or nothing. */
static int
mof_load(const char *path, const wmi_mof_result *res)
{
    static const char *const kinds[] = {[WMI_MOF_QUALIFIER] = "qualifier", [WMI_MOF_CLASS] = "class",
                                        [WMI_MOF_INSTANCE] = "instance", [WMI_MOF_DELETE_CLASS] = "deleteclass",
                                        [WMI_MOF_DELETE_INSTANCE] = "deleteinstance"};
    json_t *ops = json_array();
    for (size_t i = 0; i < wmi_mof_result_count(res); i++) {
        const wmi_mof_op *op = wmi_mof_result_op(res, i);
        json_t *o = json_pack("{sssssisi}", "Kind", kinds[op->kind], "Source", op->source ? op->source : path,
                              "Line", op->line, "Flags", (int)op->flags);
        if (op->ns != NULL)
            json_object_set_new(o, "Namespace", json_string(op->ns));
        if (op->json != NULL)
            json_object_set(o, "Object", (json_t *)op->json);
        if (op->target != NULL)
            json_object_set_new(o, "Target", json_string(op->target));
        json_array_append_new(ops, o);
    }
    json_t *r = NULL;
    int rc = request(json_pack("{ssso}", "Method", "MofComp", "Operations", ops), &r);
    if (rc == EXIT_OK)
        printf("%s: %lld operation(s) loaded\n", path, (long long)json_integer_value(json_object_get(r, "Applied")));
    json_decref(r);
    return rc;
}

static int
cmd_mofcomp(int argc, char **argv)
{
    static const struct option opts[] = {
        {"check", no_argument, NULL, 'k'},
        {"namespace", required_argument, NULL, 'N'},
        {"include", required_argument, NULL, 'I'},
        {"classes", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    bool check = false, dump = false;
    const char *ns = namespace_opt; /* the global -N, unless mofcomp's own */
    const char **incs = calloc((size_t)argc + 1, sizeof *incs);
    size_t ninc = 0;
    int ch;
    if (incs == NULL)
        return EXIT_WBEM;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "+N:I:", opts, NULL)) != -1) {
        switch (ch) {
        case 'k':
            check = true;
            break;
        case 'N':
            /* mofcomp spells it -N:root\x */
            ns = optarg[0] == ':' ? optarg + 1 : optarg;
            break;
        case 'I':
            incs[ninc++] = optarg;
            break;
        case 'c':
            classes_file = optarg;
            break;
        case 'j':
            dump = true;
            break;
        default:
            free(incs);
            usage();
        }
    }
    if (optind >= argc) {
        free(incs);
        usage();
    }

    /* --classes may also name a MOF file: its classes join the schema. */
    const char *classes_mof = NULL;
    size_t cl = classes_file ? strlen(classes_file) : 0;
    if (cl > 4 && strcasecmp(classes_file + cl - 4, ".mof") == 0) {
        classes_mof = classes_file;
        classes_file = NULL;
    }
    wmi_schema *schema = load_schema();
    /* Loading: compile against the daemon's own classes, so that instances
     * of the classes its object dir defines check here already. */
    if (!check && add_daemon_classes(schema) != EXIT_OK) {
        wmi_schema_free(schema);
        free(incs);
        return EXIT_CONNECT;
    }
    struct wmi_mof_options mo = {.default_namespace = ns, .include_dirs = incs, .schema = schema};
    int rc = EXIT_OK;
    if (classes_mof != NULL) {
        wmi_mof_result *res = NULL;
        wmi_error err;
        wmi_status st = wmi_mof_compile(classes_mof, &mo, &res, &err);
        for (size_t i = 0; WMI_SUCCEEDED(st) && i < wmi_mof_result_count(res); i++) {
            const wmi_mof_op *op = wmi_mof_result_op(res, i);
            if (op->kind == WMI_MOF_CLASS) {
                st = wmi_schema_add_class_json(schema, op->json, &err);
                if (st == WBEM_E_ALREADY_EXISTS)
                    st = WBEM_S_NO_ERROR;
                else if (WMI_FAILED(st)) {
                    snprintf(err.source, sizeof err.source, "%s", op->source);
                    err.line = op->line;
                    err.column = 0;
                }
            }
        }
        wmi_mof_result_free(res);
        if (WMI_FAILED(st)) {
            const char *name = wmi_status_name(st);
            fprintf(stderr, "%s:%d:%d: %s (0x%08X): %s\n", err.source[0] ? err.source : classes_mof, err.line,
                    err.column, name ? name : "unknown status", st, err.text);
            wmi_schema_free(schema);
            free(incs);
            return EXIT_WBEM;
        }
    }
    for (int i = optind; i < argc; i++) {
        wmi_mof_result *res = NULL;
        wmi_error err;
        wmi_status st = wmi_mof_compile(argv[i], &mo, &res, &err);
        if (WMI_FAILED(st)) {
            const char *name = wmi_status_name(st);
            fprintf(stderr, "%s:%d:%d: %s (0x%08X): %s\n", err.source[0] ? err.source : argv[i], err.line,
                    err.column, name ? name : "unknown status", st, err.text);
            rc = EXIT_WBEM;
            continue;
        }
        if (!check) {
            int lrc = mof_load(argv[i], res);
            if (lrc != EXIT_OK)
                rc = lrc;
        } else if (dump) {
            mof_dump(res);
        } else {
            mof_summary(argv[i], res);
        }
        wmi_mof_result_free(res);
    }
    wmi_schema_free(schema);
    free(incs);
    return rc;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"classes", required_argument, NULL, 'c'},
        {"namespace", required_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    socket_path = getenv("WMIEVENTD_SOCKET");
    if (socket_path == NULL)
        socket_path = "/run/wmieventd/wmieventd.sock";
    while ((ch = getopt_long(argc, argv, "+s:c:N:h", opts, NULL)) != -1) {
        switch (ch) {
        case 's':
            socket_path = optarg;
            break;
        case 'N':
            /* as mofcomp spells it too: -N:root\x */
            namespace_opt = optarg[0] == ':' ? optarg + 1 : optarg;
            break;
        case 'c':
            classes_file = optarg;
            break;
        default:
            usage();
        }
    }
    argc -= optind;
    argv += optind;
    if (argc < 1)
        usage();
    if (strcmp(argv[0], "indicate") == 0)
        return cmd_indicate(argc - 1, argv + 1);
    if (strcmp(argv[0], "stats") == 0 && argc == 1)
        return cmd_stats();
    if (strcmp(argv[0], "reload") == 0 && argc == 1)
        return cmd_reload();
    if (strcmp(argv[0], "get") == 0 && argc == 2)
        return cmd_get(argv[1]);
    if (strcmp(argv[0], "put") == 0)
        return cmd_put(argc - 1, argv + 1);
    if (strcmp(argv[0], "delete") == 0 && argc == 2)
        return cmd_delete(argv[1]);
    if (strcmp(argv[0], "enum") == 0 && argc == 2)
        return cmd_enum(argv[1]);
    if (strcmp(argv[0], "watch") == 0)
        return cmd_watch(argc - 1, argv + 1);
    if (strcmp(argv[0], "wql") == 0)
        return cmd_wql(argc - 1, argv + 1);
    if (strcmp(argv[0], "mofcomp") == 0)
        return cmd_mofcomp(argc, argv);
    usage();
}
