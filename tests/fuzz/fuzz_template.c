/*
 * fuzz_template.c - libFuzzer target: standard string templates.
 *
 * The input is split at its first NUL or newline: the text before is the
 * template, the rest the JSON of the event to expand it against.  When
 * that JSON does not build an event, one of the prepared events
 * (fuzz_common.h) is used, picked by the length of the rest.
 */
#include "fuzz_common.h"

static void
template_expand_all(const wmi_template *t, const char *text, const wmi_object *ev)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    FUZZ_CHECK(wmi_template_expand(t, ev, &buf, &len, &cap) == WBEM_S_NO_ERROR);
    FUZZ_CHECK(buf != NULL && len < cap && buf[len] == '\0');
    size_t first = len;
    /* Appending reuses the buffer and must give the same text again. */
    FUZZ_CHECK(wmi_template_expand(t, ev, &buf, &len, &cap) == WBEM_S_NO_ERROR);
    FUZZ_CHECK(len == 2 * first && memcmp(buf, buf + first, first) == 0);
    char *one = NULL;
    FUZZ_CHECK(wmi_template_expand_string(text, ev, &one) == WBEM_S_NO_ERROR);
    FUZZ_CHECK(one != NULL && strlen(one) == first && memcmp(one, buf, first) == 0);
    free(one);
    free(buf);
}

int
fuzz_template_one(const uint8_t *data, size_t size)
{
    const struct fuzz_world *w = fuzz_world();
    size_t split = 0;
    while (split < size && data[split] != '\0' && data[split] != '\n')
        split++;
    char *text = fuzz_strndup(data, split);

    wmi_template *t = NULL;
    wmi_error err;
    wmi_status st = wmi_template_compile(text, &t, &err);
    if (WMI_FAILED(st)) {
        FUZZ_CHECK(t == NULL);
        free(text);
        return 0;
    }
    FUZZ_CHECK(t != NULL);

    wmi_object *ev = NULL;
    if (split < size) {
        json_error_t jerr;
        json_t *j = json_loadb((const char *)data + split + 1, size - split - 1, 0, &jerr);
        if (j != NULL && WMI_FAILED(wmi_object_from_json_new(w->schema, j, &ev, &err)))
            ev = NULL;
    }
    if (ev != NULL) {
        template_expand_all(t, text, ev);
        wmi_object_unref(ev);
    } else {
        /* One of the prepared events, picked by the length of the rest. */
        template_expand_all(t, text, w->events[(size - split) % FUZZ_NEVENTS]);
    }
    wmi_template_free(t);
    free(text);
    return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_template_one(data, size);
}
#endif
