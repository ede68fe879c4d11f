/*
 * mofcomp.c - `wmieventctl mofcomp`: compile MOF files here, against the
 * daemon's own classes, and send what they compiled to to the daemon
 * (MofComp) to be loaded all or nothing; or, with --check, compile them
 * offline and print a summary or (--json) the operations.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctl/ctl.h"

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
add_daemon_classes(const struct ctl *ctl, wmi_schema *schema)
{
    json_t *r = NULL;
    int rc = client_request(ctl, json_pack("{sssbss}", "Method", "EnumClasses", "Deep", 1, "Namespace", "*"), &r);
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
mof_load(const struct ctl *ctl, const char *path, const wmi_mof_result *res)
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
    int rc = client_request(ctl, json_pack("{ssso}", "Method", "MofComp", "Operations", ops), &r);
    if (rc == EXIT_OK)
        printf("%s: %lld operation(s) loaded\n", path, (long long)json_integer_value(json_object_get(r, "Applied")));
    json_decref(r);
    return rc;
}

/* ====================================================================
 * The command
 * ==================================================================== */

/*
 * struct mofcomp_args - mofcomp's own options.
 *   check         --check: compile offline, load nothing
 *   dump          --json: print the operations rather than a summary
 *   ns            -N, else the global -N: the MOF's default namespace
 *   incs          the -I directories, NULL-terminated (allocated)
 *   classes_file  --classes, mofcomp's own or the global one
 *   first         the index in argv of the first FILE
 */
struct mofcomp_args {
    bool check, dump;
    const char *ns;
    const char **incs;
    const char *classes_file;
    int first;
};

/* Read mofcomp's options into @a (usage on a bad one or no FILE).  Returns
 * EXIT_OK, or EXIT_WBEM when out of memory. */
static int
parse_args(const struct ctl *ctl, int argc, char **argv, struct mofcomp_args *a)
{
    static const struct option opts[] = {
        {"check", no_argument, NULL, 'k'},
        {"namespace", required_argument, NULL, 'N'},
        {"include", required_argument, NULL, 'I'},
        {"classes", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    *a = (struct mofcomp_args){.ns = ctl->ns, .classes_file = ctl->classes_file};
    a->incs = calloc((size_t)argc + 1, sizeof *a->incs);
    size_t ninc = 0;
    int ch;
    if (a->incs == NULL)
        return EXIT_WBEM;
    /* main's getopt_long stopped at the command; start over on its words. */
    optind = 1;
    while ((ch = getopt_long(argc, argv, "+N:I:", opts, NULL)) != -1) {
        switch (ch) {
        case 'k':
            a->check = true;
            break;
        case 'N':
            /* mofcomp spells it -N:root\x */
            a->ns = optarg[0] == ':' ? optarg + 1 : optarg;
            break;
        case 'I':
            a->incs[ninc++] = optarg;
            break;
        case 'c':
            a->classes_file = optarg;
            break;
        case 'j':
            a->dump = true;
            break;
        default:
            free(a->incs);
            ctl_usage();
        }
    }
    if (optind >= argc) {
        free(a->incs);
        ctl_usage();
    }
    a->first = optind;
    return EXIT_OK;
}

/* A MOF file that did not compile: "file:line:column: NAME (0x...): text". */
static void
print_compile_error(const char *path, wmi_status st, const wmi_error *err)
{
    const char *name = wmi_status_name(st);
    fprintf(stderr, "%s:%d:%d: %s (0x%08X): %s\n", err->source[0] ? err->source : path, err->line, err->column,
            name ? name : "unknown status", st, err->text);
}

/* The classes of the MOF file @path (--classes FILE.mof), added to @schema
 * (mo->schema); those it has already are kept.  EXIT_OK or EXIT_WBEM, with
 * the error printed. */
static int
add_mof_classes(const char *path, const struct wmi_mof_options *mo, wmi_schema *schema)
{
    wmi_mof_result *res = NULL;
    wmi_error err;
    wmi_status st = wmi_mof_compile(path, mo, &res, &err);
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
        print_compile_error(path, st, &err);
        return EXIT_WBEM;
    }
    return EXIT_OK;
}

/* Compile each FILE; load it, or (--check) print it.  A file that fails
 * does not stop the others; the exit code is the last failure's. */
static int
compile_files(const struct ctl *ctl, const struct mofcomp_args *a, const struct wmi_mof_options *mo, int argc,
              char **argv)
{
    int rc = EXIT_OK;
    for (int i = a->first; i < argc; i++) {
        wmi_mof_result *res = NULL;
        wmi_error err;
        wmi_status st = wmi_mof_compile(argv[i], mo, &res, &err);
        if (WMI_FAILED(st)) {
            print_compile_error(argv[i], st, &err);
            rc = EXIT_WBEM;
            continue;
        }
        if (!a->check) {
            int lrc = mof_load(ctl, argv[i], res);
            if (lrc != EXIT_OK)
                rc = lrc;
        } else if (a->dump) {
            mof_dump(res);
        } else {
            mof_summary(argv[i], res);
        }
        wmi_mof_result_free(res);
    }
    return rc;
}

int
cmd_mofcomp(const struct ctl *ctl, int argc, char **argv)
{
    struct mofcomp_args a;
    if (parse_args(ctl, argc, argv, &a) != EXIT_OK)
        return EXIT_WBEM;
    /* --classes may also name a MOF file: its classes join the schema. */
    const char *classes_mof = NULL;
    size_t cl = a.classes_file ? strlen(a.classes_file) : 0;
    if (cl > 4 && strcasecmp(a.classes_file + cl - 4, ".mof") == 0) {
        classes_mof = a.classes_file;
        a.classes_file = NULL;
    }
    wmi_schema *schema = wql_load_schema(a.classes_file);
    /* Loading: compile against the daemon's own classes, so that instances
     * of the classes its object dir defines check here already. */
    int rc = EXIT_OK;
    if (!a.check && add_daemon_classes(ctl, schema) != EXIT_OK)
        rc = EXIT_CONNECT;
    struct wmi_mof_options mo = {.default_namespace = a.ns, .include_dirs = a.incs, .schema = schema};
    if (rc == EXIT_OK && classes_mof != NULL)
        rc = add_mof_classes(classes_mof, &mo, schema);
    if (rc == EXIT_OK)
        rc = compile_files(ctl, &a, &mo, argc, argv);
    wmi_schema_free(schema);
    free(a.incs);
    return rc;
}
