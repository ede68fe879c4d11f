/*
 * fuzz_object.c - libFuzzer target: instances from untrusted JSON.
 *
 * The input is loaded with jansson and handed to wmi_object_from_json_new
 * against the fuzz schema (fuzz_common.h: the built-in classes and
 * Fuzz_Event, with a property of every CIM type).  An object that builds
 * is printed as MOF text, its path is built and parsed back, every
 * property is read with every typed getter, and its wmi_object_to_json
 * form must build again into an object with the same JSON form.
 */
#include "fuzz_common.h"

static void
object_exercise(const wmi_object *obj, int depth)
{
    const wmi_class *cls = wmi_object_class(obj);
    FUZZ_CHECK(cls != NULL);

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
        FUZZ_CHECK(strcmp(pcls, wmi_class_name(cls)) == 0);
        free(pcls);
        json_decref(keys);
        free(path);
    }

    char *dump = json_dumps(wmi_object_json(obj), JSON_ENCODE_ANY);
    FUZZ_CHECK(dump != NULL);
    free(dump);

    for (size_t i = 0; i < wmi_class_property_count(cls); i++) {
        const wmi_property *p = wmi_class_property_at(cls, i);
        const json_t *v = NULL;
        wmi_cimtype type;
        FUZZ_CHECK(wmi_object_get_json(obj, p->name, &v, &type) == WBEM_S_NO_ERROR);
        FUZZ_CHECK(v != NULL && type == p->type);
        (void)wmi_object_is_set(obj, p->name);

        char *vt = wmi_value_get_text(v, type);
        FUZZ_CHECK(vt != NULL);
        free(vt);

        int64_t i64;
        uint64_t u64;
        double d;
        bool b;
        const char *s;
        wmi_object *sub = NULL;
        (void)wmi_object_get_sint64(obj, p->name, &i64);
        (void)wmi_object_get_uint64(obj, p->name, &u64);
        (void)wmi_object_get_real64(obj, p->name, &d);
        (void)wmi_object_get_boolean(obj, p->name, &b);
        if (wmi_object_get_string(obj, p->name, &s) == WBEM_S_NO_ERROR)
            FUZZ_CHECK(s != NULL);
        if (wmi_object_get_object(obj, p->name, &sub) == WBEM_S_NO_ERROR) {
            FUZZ_CHECK(sub != NULL);
            if (depth < 4)
                object_exercise(sub, depth + 1);
            wmi_object_unref(sub);
        }
    }
    const json_t *v;
    FUZZ_CHECK(wmi_object_get_json(obj, "No_Such_Property", &v, NULL) == WBEM_E_NOT_FOUND);
}

int
fuzz_object_one(const uint8_t *data, size_t size)
{
    const struct fuzz_world *w = fuzz_world();
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
    if (j == NULL)
        return 0;

    wmi_object *obj = NULL;
    wmi_error err;
    wmi_status st = wmi_object_from_json_new(w->schema, j, &obj, &err);
    if (WMI_FAILED(st)) {
        FUZZ_CHECK(obj == NULL);
        return 0;
    }
    FUZZ_CHECK(obj != NULL);
    object_exercise(obj, 0);

    wmi_object *copy = NULL;
    FUZZ_CHECK(wmi_object_clone(obj, &copy) == WBEM_S_NO_ERROR);
    FUZZ_CHECK(json_equal(wmi_object_json(obj), wmi_object_json(copy)));
    wmi_object_unref(copy);

    /* Round trip through the full JSON form. */
    json_t *full = wmi_object_to_json(obj);
    FUZZ_CHECK(full != NULL);
    wmi_object *again = NULL;
    st = wmi_object_from_json(w->schema, full, &again, &err);
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
    char *t1 = wmi_object_get_text(obj), *t2 = wmi_object_get_text(again);
    (void)t1;
    free(t1);
    free(t2);
    json_decref(full);
    json_decref(full2);
    wmi_object_unref(again);
    wmi_object_unref(obj);
    return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_object_one(data, size);
}
#endif
