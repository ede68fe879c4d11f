/*
 * wql.c - the offline `wql check` and `wql eval` of wmieventctl: the
 * schema they check against (the built-in classes and --classes, which
 * mofcomp uses too), a query parsed with or without it, and the replay of
 * events from a file through a query, with GROUP WITHIN windows in event
 * time.  Nothing here talks to the daemon.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"

wmi_schema *
wql_load_schema(const char *classes_file)
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

/* The windows of @q, a query with GROUP WITHIN, in *@out (NULL when they
 * cannot be made).  Returns false, with the reason printed, when the
 * replay cannot go on: no aggregate class for BY, or no windows. */
static bool
groups_open(const wmi_query *q, wmi_schema *schema, struct groups **out)
{
    bool ok = true;
    wmi_error err;
    struct groups *groups = calloc(1, sizeof *groups);
    if (wmi_query_group_by_count(q) > 0 && WMI_FAILED(wmi_query_define_aggregate_class(q, schema, AGG_CLASS, &err))) {
        fprintf(stderr, "wmieventctl: %s: %s\n", err.source, err.text);
        ok = false;
    }
    if (groups == NULL || WMI_FAILED(wmi_window_new(q, schema, wmi_query_group_by_count(q) ? AGG_CLASS : NULL,
                                                    TICKS_PER_SECOND, &groups->windows))) {
        fprintf(stderr, "wmieventctl: out of memory\n");
        free(groups);
        groups = NULL;
        ok = false;
    }
    *out = groups;
    return ok;
}

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

/* ====================================================================
 * wql check, wql eval
 * ==================================================================== */

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

/* Test each event of @in (one JSON object a line) against @q: print those
 * that match, or count them into @groups when there are.  Returns
 * EXIT_WBEM when a line was refused, after the others were read. */
static int
eval_lines(const wmi_query *q, const wmi_schema *schema, FILE *in, struct groups *groups)
{
    char *line = NULL;
    size_t cap = 0;
    unsigned long lineno = 0;
    int rc = EXIT_OK;
    while (getline(&line, &cap, in) > 0) {
        lineno++;
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);
        wmi_object *ev;
        wmi_error err;
        if (j == NULL) {
            if (line[strspn(line, " \t\r\n")] == '\0')
                continue;
            fprintf(stderr, "wmieventctl: line %lu:%d: %s\n", lineno, jerr.column, jerr.text);
            rc = EXIT_WBEM;
            continue;
        }
        if (WMI_FAILED(wmi_object_from_json_new(schema, j, &ev, &err))) {
            fprintf(stderr, "wmieventctl: line %lu: %s%s%s (%s)\n", lineno, err.source, err.source[0] ? ": " : "",
                    err.text, wmi_status_name(err.status));
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
    return rc;
}

/* wql eval: replay the events of @path (stdin when NULL or "-") through @q. */
static int
wql_eval(const wmi_query *q, wmi_schema *schema, const char *path)
{
    int rc = EXIT_OK;
    FILE *in = stdin;
    if (path != NULL && strcmp(path, "-") != 0 && (in = fopen(path, "r")) == NULL) {
        fprintf(stderr, "wmieventctl: %s: %s\n", path, strerror(errno));
        rc = EXIT_WBEM;
    }
    struct groups *groups = NULL;
    if (wmi_query_group_within(q) >= 0 && !groups_open(q, schema, &groups)) {
        rc = EXIT_WBEM;
        in = NULL;
    }
    if (in != NULL && eval_lines(q, schema, in, groups) != EXIT_OK)
        rc = EXIT_WBEM;
    if (groups != NULL) {
        /* The end of the replay ends every window still open. */
        groups_close(groups, UINT64_MAX);
        wmi_window_free(groups->windows);
    }
    free(groups);
    if (in != NULL && in != stdin)
        fclose(in);
    return rc;
}

int
cmd_wql(const struct ctl *ctl, int argc, char **argv)
{
    if (argc < 3)
        ctl_usage();
    const char *verb = argv[1];
    wmi_schema *schema = wql_load_schema(ctl->classes_file);
    wmi_query *q;
    wmi_error err;
    memset(&err, 0, sizeof err);
    /* The query is checked before the verb, so that a bad query says why
     * whatever the verb. */
    if (WMI_FAILED(parse_query(argv[2], schema, &q, &err))) {
        fprintf(stderr, "%s at column %d: %s\n", wmi_status_name(err.status), err.column, err.text);
        wmi_schema_free(schema);
        return EXIT_WBEM;
    }
    int rc = EXIT_OK;
    if (strcmp(verb, "check") == 0 && argc == 3) {
        char *norm = wmi_query_to_string(q);
        printf("%s\n", norm);
        free(norm);
    } else if (strcmp(verb, "eval") == 0 && argc <= 4) {
        rc = wql_eval(q, schema, argc == 4 ? argv[3] : NULL);
    } else {
        wmi_query_free(q);
        wmi_schema_free(schema);
        ctl_usage();
    }
    wmi_query_free(q);
    wmi_schema_free(schema);
    return rc;
}
