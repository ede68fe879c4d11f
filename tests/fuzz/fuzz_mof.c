/*
 * fuzz_mof.c - libFuzzer target: the MOF compiler (wmi_mof_compile_buffer).
 *
 * The input is MOF text (any bytes; UTF-16 with a byte order mark too),
 * compiled against the built-in schema.  Inputs naming "include" are
 * skipped so that a run never reads files outside the corpus.
 *
 * On failure the error must be filled in (the status returned, a message,
 * a line) and no result returned.  On success every operation must stand
 * on its own: per namespace, the class definitions, added in order to a
 * fresh schema, must be accepted (or already exist, as a redefinition
 * does), and every instance must build from its JSON against that schema
 * and, when the compiler gave it a path, give the same path back.
 */
#include <strings.h>

#include "fuzz_common.h"
#include "wmievent/mof.h"

int fuzz_mof_one(const uint8_t *data, size_t size);

struct ns_schema {
    char *name;
    wmi_schema *schema;
};

static wmi_schema *
schema_for(struct ns_schema *list, size_t *n, size_t cap, const char *ns)
{
    for (size_t i = 0; i < *n; i++)
        if (strcasecmp(list[i].name, ns) == 0)
            return list[i].schema;
    FUZZ_CHECK(*n < cap);
    list[*n].name = strdup(ns);
    list[*n].schema = wmi_schema_new();
    wmi_schema_add_instance_classes(list[*n].schema, NULL);
    return list[(*n)++].schema;
}

int
fuzz_mof_one(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i + 7 <= size; i++)
        if (strncasecmp((const char *)data + i, "include", 7) == 0)
            return 0;
    static wmi_schema *base;
    if (base == NULL) {
        base = wmi_schema_new();
        wmi_schema_add_instance_classes(base, NULL);
    }
    struct wmi_mof_options opts = {.schema = base};
    wmi_mof_result *res = (wmi_mof_result *)1;
    wmi_error err;
    wmi_status st = wmi_mof_compile_buffer((const char *)data, size, "fuzz.mof", &opts, &res, &err);
    if (WMI_FAILED(st)) {
        FUZZ_CHECK(res == NULL);
        FUZZ_CHECK(err.status == st);
        FUZZ_CHECK(err.text[0] != '\0');
        FUZZ_CHECK(err.line >= 0 && err.column >= 0);
        return 0;
    }
    FUZZ_CHECK(res != NULL);
    size_t n = wmi_mof_result_count(res), nns = 0;
    struct ns_schema *list = calloc(n + 1, sizeof *list);
    FUZZ_CHECK(list != NULL);
    for (size_t i = 0; i < n; i++) {
        const wmi_mof_op *op = wmi_mof_result_op(res, i);
        FUZZ_CHECK(op != NULL && op->ns != NULL && op->source != NULL && op->line >= 1);
        wmi_schema *s = schema_for(list, &nns, n + 1, op->ns);
        if (op->kind == WMI_MOF_CLASS) {
            wmi_status cs = wmi_schema_add_class_json(s, op->json, &err);
            if (WMI_FAILED(cs) && cs != WBEM_E_ALREADY_EXISTS)
                fprintf(stderr, "class op %zu does not define again: %s: %s\n", i, err.source, err.text);
            FUZZ_CHECK(WMI_SUCCEEDED(cs) || cs == WBEM_E_ALREADY_EXISTS);
        } else if (op->kind == WMI_MOF_DELETE_CLASS || op->kind == WMI_MOF_DELETE_INSTANCE) {
            FUZZ_CHECK(op->target != NULL && op->json == NULL);
        } else if (op->kind == WMI_MOF_QUALIFIER) {
            FUZZ_CHECK(json_is_object(op->json));
        }
    }
    for (size_t i = 0; i < n; i++) {
        const wmi_mof_op *op = wmi_mof_result_op(res, i);
        if (op->kind != WMI_MOF_INSTANCE)
            continue;
        wmi_schema *s = schema_for(list, &nns, n + 1, op->ns);
        wmi_object *obj = NULL;
        wmi_status os = wmi_object_from_json(s, op->json, &obj, &err);
        if (WMI_FAILED(os))
            fprintf(stderr, "instance op %zu does not build: %s: %s\n", i, err.source, err.text);
        FUZZ_CHECK(WMI_SUCCEEDED(os));
        if (op->target != NULL) {
            char *path = wmi_object_get_path(obj);
            if (path == NULL || strcmp(path, op->target) != 0)
                fprintf(stderr, "instance op %zu: path %s, compiler said %s\n", i, path ? path : "(null)",
                        op->target);
            FUZZ_CHECK(path != NULL && strcmp(path, op->target) == 0);
            free(path);
        }
        wmi_object_unref(obj);
    }
    for (size_t i = 0; i < nns; i++) {
        free(list[i].name);
        wmi_schema_free(list[i].schema);
    }
    free(list);
    wmi_mof_result_free(res);
    return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_mof_one(data, size);
}
#endif
