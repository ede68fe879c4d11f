/*
 * instance.c - what the built-in instance providers share: reading small
 * files of /proc and /sys, the host name, the boot time and the OS
 * caption, DMTF datetimes of local time, and the equalities of a query.
 * The registry of the providers is registry.c; see providers.h for the
 * interface.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "daemon/providers/providers.h"

/* ====================================================================
 * Helpers
 * ==================================================================== */

size_t
instance_query_equalities(const wmi_query *query, const char *prop, char ***out)
{
    const char **v;
    size_t n = wmi_query_equalities(query, prop, &v);
    *out = NULL;
    if (n == 0)
        return 0;
    /* The caller owns copies (they outlive the query in scopes). */
    *out = calloc(n, sizeof **out);
    for (size_t i = 0; *out != NULL && i < n; i++) {
        (*out)[i] = strdup(v[i]);
        if ((*out)[i] == NULL) {
            for (size_t j = 0; j < i; j++)
                free((*out)[j]);
            free(*out);
            *out = NULL;
        }
    }
    free(v);
    return *out != NULL ? n : 0;
}

ssize_t
instance_read_file(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    while (got < len - 1) {
        ssize_t n = read(fd, buf + got, len - 1 - got);
        if (n <= 0) {
            if (n < 0 && got == 0) {
                close(fd);
                return -1;
            }
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return (ssize_t)got;
}

const char *
instance_host_name(struct wmid_host_facts *hf)
{
    char *host = hf->host;
    if (host[0] == '\0' && (gethostname(host, sizeof hf->host - 1) != 0 || host[0] == '\0'))
        snprintf(host, sizeof hf->host, "localhost");
    return host;
}

int
instance_utc_offset(time_t t)
{
    struct tm tm;
    if (localtime_r(&t, &tm) == NULL)
        return 0;
    return (int)(tm.tm_gmtoff / 60);
}

wmi_status
instance_put_datetime(wmi_object *o, const char *name, int64_t usec)
{
    char buf[32];
    wmi_datetime_format(usec, instance_utc_offset((time_t)(usec / 1000000)), buf);
    return wmi_object_put_string(o, name, buf);
}

int64_t
instance_boot_usec(struct wmid_host_facts *hf)
{
    int64_t boot = hf->boot_usec;
    if (boot == 0) {
        /* The intr line can be long: read line by line. */
        FILE *f = fopen("/proc/stat", "re");
        char *line = NULL;
        size_t cap = 0;
        while (f != NULL && getline(&line, &cap, f) > 0) {
            if (strncmp(line, "btime ", 6) == 0) {
                boot = (int64_t)strtoll(line + 6, NULL, 10) * 1000000;
                break;
            }
        }
        free(line);
        if (f != NULL)
            fclose(f);
        hf->boot_usec = boot;
    }
    return boot;
}

const char *
instance_os_caption(struct wmid_host_facts *hf)
{
    char *caption = hf->caption;
    if (caption[0] != '\0')
        return caption;
    static const char *const files[] = {"/etc/os-release", "/usr/lib/os-release"};
    for (size_t i = 0; i < 2 && caption[0] == '\0'; i++) {
        char buf[4096];
        if (instance_read_file(files[i], buf, sizeof buf) <= 0)
            continue;
        char *save = NULL;
        for (char *line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
            if (strncmp(line, "PRETTY_NAME=", 12) != 0)
                continue;
            char *v = line + 12;
            size_t n = strlen(v);
            if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
                v++;
                n -= 2;
            }
            snprintf(caption, sizeof hf->caption, "%.*s", (int)n, v);
            break;
        }
    }
    if (caption[0] == '\0')
        snprintf(caption, sizeof hf->caption, "Linux");
    return caption;
}
