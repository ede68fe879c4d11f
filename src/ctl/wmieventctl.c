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
 *
 * This file owns main, the usage, the command table and the commands that
 * are one request each (indicate, stats, reload, get, put, delete, enum,
 * watch); the connection is client.c's, the offline wql wql.c's and
 * mofcomp mofcomp.c's.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ctl/ctl.h"

_Noreturn void
ctl_usage(void)
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

/* ====================================================================
 * indicate
 * ==================================================================== */

/* Stream stdin as bare events, then ask how many were refused.  A thread
 * reads the replies meanwhile (errors about bad lines): the daemon stops
 * reading a client that leaves its replies unread. */
static int
indicate_stream(const struct ctl *ctl)
{
    struct conn c;
    if (client_connect(ctl, &c) != 0)
        return EXIT_CONNECT;
    struct client_reader rd;
    if (client_reader_start(&rd, &c) != 0) {
        client_disconnect(&c);
        return EXIT_CONNECT;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long sent = 0;
    int rc = EXIT_OK;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        /* A last line without its newline is still one event. */
        if (line[n - 1] != '\n') {
            char *nl = realloc(line, (size_t)n + 2);
            if (nl == NULL)
                break;
            line = nl;
            line[n++] = '\n';
        }
        if (client_send_all(c.fd, line, (size_t)n) != 0) {
            fprintf(stderr, "wmieventctl: write: %s\n", strerror(errno));
            rc = EXIT_CONNECT;
            break;
        }
        sent++;
    }
    free(line);
    json_t *req = json_pack("{ssss}", "Method", "Stats", "Id", "wmieventctl");
    if (rc == EXIT_OK && client_send_json(&c, req) != 0)
        rc = EXIT_CONNECT;
    json_decref(req);
    /* Without the Stats request the reader would wait for its reply. */
    if (rc != EXIT_OK)
        shutdown(c.fd, SHUT_RDWR);
    json_t *r = client_reader_join(&rd);
    if (rc == EXIT_OK)
        rc = client_check_reply(r);
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
    client_disconnect(&c);
    return rc;
}

/* One event of CLASS, its properties given as Prop=Value (@argv[2...]),
 * coerced by the daemon to the class's types. */
static int
indicate_one(const struct ctl *ctl, int argc, char **argv)
{
    struct conn c;
    json_t *ev = json_pack("{ss}", "__CLASS", argv[1]);
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL || eq == argv[i]) {
            fprintf(stderr, "wmieventctl: expected Prop=Value, got \"%s\"\n", argv[i]);
            json_decref(ev);
            return EXIT_USAGE;
        }
        *eq = '\0';
        json_object_set_new(ev, argv[i], json_string(eq + 1));
    }
    json_t *req = client_with_ns(
        ctl, json_pack("{sssssbs[o]}", "Method", "Indicate", "Id", "1", "Coerce", 1, "Events", ev));
    if (client_connect(ctl, &c) != 0) {
        json_decref(req);
        return EXIT_CONNECT;
    }
    client_send_json(&c, req);
    json_decref(req);
    json_t *r = client_read_reply(&c, "1");
    int rc = client_check_reply(r);
    json_decref(r);
    client_disconnect(&c);
    return rc;
}

static int
cmd_indicate(const struct ctl *ctl, int argc, char **argv)
{
    if (argc < 2)
        ctl_usage();
    if (strcmp(argv[1], "-") == 0)
        return indicate_stream(ctl);
    return indicate_one(ctl, argc, argv);
}

/* ====================================================================
 * stats, reload, get, put, delete, enum
 * ==================================================================== */

static int
cmd_stats(const struct ctl *ctl, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    struct conn c;
    if (client_connect(ctl, &c) != 0)
        return EXIT_CONNECT;
    json_t *req = json_pack("{ssss}", "Method", "Stats", "Id", "1");
    client_send_json(&c, req);
    json_decref(req);
    json_t *r = client_read_reply(&c, "1");
    int rc = client_check_reply(r);
    if (rc == EXIT_OK)
        json_dumpf(json_object_get(r, "Stats"), stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (rc == EXIT_OK)
        putchar('\n');
    json_decref(r);
    client_disconnect(&c);
    return rc;
}

/* Reload the daemon's configuration (as SIGHUP does), and say how it went. */
static int
cmd_reload(const struct ctl *ctl, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    struct conn c;
    if (client_connect(ctl, &c) != 0)
        return EXIT_CONNECT;
    json_t *req = json_pack("{ssss}", "Method", "Reload", "Id", "1");
    client_send_json(&c, req);
    json_decref(req);
    json_t *r = client_read_reply(&c, "1");
    int rc = client_check_reply(r);
    if (rc == EXIT_OK)
        printf("reloaded: %lld objects\n", (long long)json_integer_value(json_object_get(r, "Objects")));
    json_decref(r);
    client_disconnect(&c);
    return rc;
}

/* GetObject: the object as indented JSON; where it comes from and its
 * creator on stderr, so that stdout stays one JSON document. */
static int
cmd_get(const struct ctl *ctl, int argc, char **argv)
{
    (void)argc;
    json_t *r = NULL;
    int rc = client_request(ctl, client_with_ns(ctl, json_pack("{ssss}", "Method", "GetObject", "Path", argv[1])), &r);
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
cmd_put(const struct ctl *ctl, int argc, char **argv)
{
    const char *flags = "WBEM_FLAG_CREATE_OR_UPDATE";
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (strcmp(argv[i], "--create-only") == 0)
            flags = "WBEM_FLAG_CREATE_ONLY";
        else if (strcmp(argv[i], "--update-only") == 0)
            flags = "WBEM_FLAG_UPDATE_ONLY";
        else
            ctl_usage();
    }
    if (i + 1 != argc)
        ctl_usage();
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
        rc = client_request(
            ctl, client_with_ns(ctl, json_pack("{sssOss}", "Method", "PutInstance", "Instance", inst, "Flags", flags)),
            NULL);
        if (rc != EXIT_OK) {
            fprintf(stderr, "wmieventctl: %s: object %zu refused; the %zu before it were stored\n", argv[i], k, k);
            break;
        }
    }
    json_decref(doc);
    return rc;
}

static int
cmd_delete(const struct ctl *ctl, int argc, char **argv)
{
    (void)argc;
    return client_request(ctl, client_with_ns(ctl, json_pack("{ssss}", "Method", "DeleteInstance", "Path", argv[1])),
                          NULL);
}

/* The instances of a class (and its subclasses), one JSON line each, as
 * Get-CimInstance lists them. */
static int
cmd_enum(const struct ctl *ctl, int argc, char **argv)
{
    (void)argc;
    struct conn c;
    if (client_connect(ctl, &c) != 0)
        return EXIT_CONNECT;
    json_t *req =
        client_with_ns(ctl, json_pack("{ssssss}", "Method", "EnumInstances", "Id", "1", "ClassName", argv[1]));
    client_send_json(&c, req);
    json_decref(req);
    json_t *r = client_read_reply(&c, "1");
    int rc = client_check_reply(r);
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
    client_disconnect(&c);
    return rc;
}

/* ====================================================================
 * watch
 * ==================================================================== */

/* Print what the daemon sent for the subscription: an event (JSON or MOF
 * text) or a status line.  Returns false when the subscription ended. */
static bool
watch_print(const json_t *m)
{
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
        client_print_status(st, NULL, json_string_value(json_object_get(m, "Message")));
        if (json_is_true(json_object_get(m, "Cancelled")))
            return false;
    }
    return true;
}

/*
 * A temporary consumer (ExecNotificationQuery): each matching event as one
 * line, JSON or (--mof) the MOF text the daemon renders, until Ctrl-C, a
 * closed pipe (SIGPIPE keeps its default action: `watch ... | head` ends),
 * or the daemon going away (exit 3).  Stdout is flushed per event, so that
 * a pipe sees each event as it comes.
 */
static int
cmd_watch(const struct ctl *ctl, int argc, char **argv)
{
    bool mof = false;
    int i = 1;
    if (i < argc && strcmp(argv[i], "--mof") == 0) {
        mof = true;
        i++;
    }
    if (argc - i != 1)
        ctl_usage();
    struct conn c;
    if (client_connect(ctl, &c) != 0)
        return EXIT_CONNECT;
    json_t *req = client_with_ns(ctl, json_pack("{ssssssssss}", "Method", "ExecNotificationQuery", "Id", "watch",
                                                "QueryLanguage", "WQL", "Query", argv[i], "Format",
                                                mof ? "MOF" : "JSON"));
    int send_rc = client_send_json(&c, req);
    json_decref(req);
    if (send_rc != 0) {
        fprintf(stderr, "wmieventctl: write: %s\n", strerror(errno));
        client_disconnect(&c);
        return EXIT_CONNECT;
    }
    json_t *r = client_read_reply(&c, "watch");
    int rc = client_check_reply(r);
    json_decref(r);
    if (rc != EXIT_OK) {
        client_disconnect(&c);
        return rc;
    }
    char *line = NULL;
    size_t cap = 0;
    rc = EXIT_CONNECT;
    while (getline(&line, &cap, c.in) > 0) {
        json_t *m = json_loads(line, 0, NULL);
        if (m == NULL)
            continue;
        bool go_on = watch_print(m);
        json_decref(m);
        if (!go_on) {
            rc = EXIT_WBEM;
            break;
        }
    }
    if (rc == EXIT_CONNECT)
        fprintf(stderr, "wmieventctl: the daemon closed the connection\n");
    free(line);
    client_disconnect(&c);
    return rc;
}

/* ====================================================================
 * main
 * ==================================================================== */

/*
 * The commands.  A command is run as main is, @argv[0] its name; @argc is
 * the number of words it takes, its name included, or 0 when it checks
 * them itself.  A name given with another number of words is a usage
 * error.
 */
static const struct command {
    const char *name;
    int argc;
    int (*run)(const struct ctl *ctl, int argc, char **argv);
} commands[] = {
    {"indicate", 0, cmd_indicate}, {"stats", 1, cmd_stats},   {"reload", 1, cmd_reload},
    {"get", 2, cmd_get},           {"put", 0, cmd_put},       {"delete", 2, cmd_delete},
    {"enum", 2, cmd_enum},         {"watch", 0, cmd_watch},   {"wql", 0, cmd_wql},
    {"mofcomp", 0, cmd_mofcomp},
};

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
    struct ctl ctl = {.socket_path = getenv("WMIEVENTD_SOCKET")};
    int ch;
    if (ctl.socket_path == NULL)
        ctl.socket_path = "/run/wmieventd/wmieventd.sock";
    while ((ch = getopt_long(argc, argv, "+s:c:N:h", opts, NULL)) != -1) {
        switch (ch) {
        case 's':
            ctl.socket_path = optarg;
            break;
        case 'N':
            /* as mofcomp spells it too: -N:root\x */
            ctl.ns = optarg[0] == ':' ? optarg + 1 : optarg;
            break;
        case 'c':
            ctl.classes_file = optarg;
            break;
        default:
            ctl_usage();
        }
    }
    argc -= optind;
    argv += optind;
    if (argc < 1)
        ctl_usage();
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const struct command *cmd = &commands[i];
        if (strcmp(argv[0], cmd->name) == 0 && (cmd->argc == 0 || cmd->argc == argc))
            return cmd->run(&ctl, argc, argv);
    }
    ctl_usage();
}
