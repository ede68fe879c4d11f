/*
 * fuzz_class.c - libFuzzer target: class definitions (the PutClass JSON of
 * config files and plugins).
 *
 * The input is loaded with jansson: one class definition or an array of
 * them, added in order to a fresh schema with wmi_schema_add_class_json.
 * Every class that is accepted must come back from wmi_class_to_json in a
 * form that defines the same class again (in a second schema), and an
 * instance of it (wmi_object_new, every property at its default) must
 * print, give a path that parses and go through wmi_object_to_json and
 * wmi_object_from_json.
 */
#include "fuzz_common.h"

static void
class_instance(const wmi_schema *schema, const wmi_class *cls)
{
    if (wmi_class_flags(cls) & WMI_CLASS_ABSTRACT)
        return;
    wmi_object *obj = NULL;
    FUZZ_CHECK(wmi_object_new(schema, wmi_class_name(cls), &obj) == WBEM_S_NO_ERROR);
    char *text = wmi_object_get_text(obj);
    FUZZ_CHECK(text != NULL);
    free(text);
    char *path = wmi_object_get_path(obj);
    if (path != NULL) {
        char *pcls = NULL;
        json_t *keys = NULL;
        wmi_status st = wmi_path_parse(path, &pcls, &keys);
        if (WMI_FAILED(st))
            fprintf(stderr, "path does not parse: %s\n", path);
        FUZZ_CHECK(WMI_SUCCEEDED(st));
        free(pcls);
        json_decref(keys);
        free(path);
    }
    for (size_t i = 0; i < wmi_class_property_count(cls); i++) {
        const wmi_property *p = wmi_class_property_at(cls, i);
        const json_t *v = NULL;
        FUZZ_CHECK(wmi_object_get_json(obj, p->name, &v, NULL) == WBEM_S_NO_ERROR);
        char *vt = wmi_value_get_text(v, p->type);
        FUZZ_CHECK(vt != NULL);
        free(vt);
    }
    json_t *full = wmi_object_to_json(obj);
    FUZZ_CHECK(full != NULL);
    wmi_object *again = NULL;
    wmi_error err;
    wmi_status st = wmi_object_from_json(schema, full, &again, &err);
    if (WMI_FAILED(st)) {
        char *d = json_dumps(full, JSON_ENCODE_ANY);
        fprintf(stderr, "to_json form does not build: %s: %s\n  %s\n", err.source, err.text, d);
        free(d);
    }
    FUZZ_CHECK(WMI_SUCCEEDED(st));
    json_t *full2 = wmi_object_to_json(again);
    FUZZ_CHECK(full2 != NULL);
    if (!json_equal(full, full2)) {
        char *d1 = json_dumps(full, JSON_ENCODE_ANY), *d2 = json_dumps(full2, JSON_ENCODE_ANY);
        fprintf(stderr, "to_json round trip differs:\n  %s\n  %s\n", d1, d2);
        free(d1);
        free(d2);
    }
    FUZZ_CHECK(json_equal(full, full2));
    json_decref(full);
    json_decref(full2);
    wmi_object_unref(again);
    wmi_object_unref(obj);
}

int
fuzz_class_one(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
    if (j == NULL)
        return 0;
    if (!json_is_array(j)) {
        json_t *a = json_array();
        json_array_append_new(a, j);
        j = a;
    }
    wmi_schema *s = wmi_schema_new();
    wmi_schema *s2 = wmi_schema_new();
    FUZZ_CHECK(s != NULL && s2 != NULL);
    size_t i;
    json_t *def;
    json_array_foreach(j, i, def) {
        wmi_error err;
        if (WMI_FAILED(wmi_schema_add_class_json(s, def, &err)))
            continue;
        const wmi_class *cls =
            wmi_schema_get_class(s, json_string_value(json_object_get(def, "__CLASS")));
        FUZZ_CHECK(cls != NULL);

        /* The class's own JSON form defines the same class again. */
        json_t *cj = wmi_class_to_json(cls);
        FUZZ_CHECK(cj != NULL);
        wmi_status st = wmi_schema_add_class_json(s2, cj, &err);
        if (WMI_FAILED(st)) {
            char *d = json_dumps(cj, JSON_ENCODE_ANY);
            fprintf(stderr, "class_to_json form does not define: %s: %s\n  %s\n", err.source,
                    err.text, d);
            free(d);
        }
        FUZZ_CHECK(WMI_SUCCEEDED(st));
        const wmi_class *cls2 = wmi_schema_get_class(s2, wmi_class_name(cls));
        FUZZ_CHECK(cls2 != NULL);
        FUZZ_CHECK(wmi_class_property_count(cls) == wmi_class_property_count(cls2));
        json_t *cj2 = wmi_class_to_json(cls2);
        FUZZ_CHECK(cj2 != NULL);
        if (!json_equal(cj, cj2)) {
            char *d1 = json_dumps(cj, JSON_ENCODE_ANY), *d2 = json_dumps(cj2, JSON_ENCODE_ANY);
            fprintf(stderr, "class_to_json round trip differs:\n  %s\n  %s\n", d1, d2);
            free(d1);
            free(d2);
        }
        FUZZ_CHECK(json_equal(cj, cj2));
        json_decref(cj);
        json_decref(cj2);

        class_instance(s, cls);
    }
    wmi_schema_free(s);
    wmi_schema_free(s2);
    json_decref(j);
    return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_class_one(data, size);
}
#endif
