/*
 * fuzz_path.c - libFuzzer target: object paths, DMTF datetimes and LIKE.
 *
 * The input, NUL-terminated, goes through wmi_path_parse,
 * wmi_datetime_check and wmi_datetime_to_usec (a datetime that converts
 * must format back to one that converts to the same instant).  Split at
 * its first NUL it is also a LIKE pattern and subject for wmi_like_match.
 */
#include "fuzz_common.h"

int
fuzz_path_one(const uint8_t *data, size_t size)
{
    char *s = fuzz_strndup(data, size);

    char *cls = NULL;
    json_t *keys = NULL;
    wmi_status st = wmi_path_parse(s, &cls, &keys);
    if (WMI_SUCCEEDED(st)) {
        FUZZ_CHECK(cls != NULL && cls[0] != '\0' && json_is_object(keys));
        char *dump = json_dumps(keys, JSON_ENCODE_ANY);
        free(dump);
    } else {
        FUZZ_CHECK(cls == NULL && keys == NULL);
    }
    free(cls);
    json_decref(keys);

    bool ok = wmi_datetime_check(s);
    int64_t usec = 0;
    st = wmi_datetime_to_usec(s, &usec);
    FUZZ_CHECK(ok || WMI_FAILED(st));
    if (WMI_SUCCEEDED(st)) {
        char buf[26];
        wmi_datetime_format(usec, 0, buf);
        int64_t back = 0;
        if (WMI_SUCCEEDED(wmi_datetime_to_usec(buf, &back)))
            FUZZ_CHECK(back == usec);
        for (int off = -720; off <= 720; off += 330)
            wmi_datetime_format(usec, off, buf);
    }

    size_t plen = strlen(s);
    const char *subject = plen < size ? s + plen + 1 : "";
    (void)wmi_like_match(s, subject);
    (void)wmi_like_match(subject, s);

    free(s);
    return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_path_one(data, size);
}
#endif
