/*
 * instance.c - the registry of built-in instance providers, and helpers
 * they share.  See instance.h for the interface.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "daemon/instance.h"

static const struct wmid_instance_provider *const builtin[] = {
    &wmid_ip_win32_process, &wmid_ip_logical_disk, &wmid_ip_operating_system,
    &wmid_ip_local_time,    &wmid_ip_utc_time,     &wmid_ip_data_file,
    &wmid_ip_directory,
};

const struct wmid_instance_provider *const *
instance_providers(size_t *n)
{
    *n = sizeof builtin / sizeof builtin[0];
    return builtin;
}

size_t
instance_providers_for(const wmi_schema *schema, const char *class_name,
                       const struct wmid_instance_provider **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
        const wmi_class *cls = wmi_schema_get_class(schema, builtin[i]->class_name);
        if (cls == NULL || !wmi_class_isa(cls, class_name))
            continue;
        if (n < max)
            out[n] = builtin[i];
        n++;
    }
    return n;
}

wmi_status
instance_enumerate(const wmi_schema *schema, const char *class_name, wmid_instance_fn fn, void *arg)
{
    const struct wmid_instance_provider *ps[sizeof builtin / sizeof builtin[0]];
    if (class_name == NULL || wmi_schema_get_class(schema, class_name) == NULL)
        return WBEM_E_INVALID_CLASS;
    size_t n = instance_providers_for(schema, class_name, ps, sizeof ps / sizeof ps[0]);
    if (n == 0)
        return WBEM_E_NOT_SUPPORTED;
    wmi_status st = WBEM_S_NO_ERROR;
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        if (ps[i]->open == NULL)
            continue; /* needs a scope: a query naming what to list */
        done++;
        void *state = ps[i]->open(schema);
        if (state == NULL) {
            if (st == WBEM_S_NO_ERROR)
                st = WBEM_E_PROVIDER_FAILURE;
            continue;
        }
        wmi_status s = ps[i]->enumerate(state, fn, arg);
        if (WMI_FAILED(s) && st == WBEM_S_NO_ERROR)
            st = s;
        ps[i]->close(state);
    }
    return done == 0 ? WBEM_E_INVALID_QUERY : st;
}

/* ====================================================================
 * Helpers
 * ==================================================================== */

const char *
instance_wql_skip_string(const char *p)
{
    for (p++; *p != '\0'; p++) {
        if (*p == '\\' && p[1] != '\0')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

const char *
instance_wql_group_end(const char *p)
{
    int depth = 0;
    while (*p != '\0') {
        if (*p == '"') {
            p = instance_wql_skip_string(p);
            if (p == NULL)
                return NULL;
            continue;
        }
        if (*p == '(')
            depth++;
        else if (*p == ')' && --depth == 0)
            return p + 1;
        p++;
    }
    return NULL;
}

/* The unescaped literal of the quoted string at [@s, @close) (@s on the
 * opening quote, @close one past the closing one).  malloc'd. */
static char *
unquote(const char *s, const char *close)
{
    char *out = malloc((size_t)(close - s));
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (const char *q = s + 1; q < close - 1; q++) {
        if (*q == '\\' && q + 1 < close - 1)
            q++;
        out[o++] = *q;
    }
    out[o] = '\0';
    return out;
}

/* If [@p, @end) is `(PROP = "v")` or `("v" = PROP)`, v (malloc'd). */
static char *
match_equality(const char *p, const char *end, const char *prop)
{
    size_t n = strlen(prop);
    if (end - p < 2 || *p != '(' || end[-1] != ')')
        return NULL;
    p++;
    end--;
    if (*p == '"') {
        const char *close = instance_wql_skip_string(p);
        if (close == NULL || end - close != (ptrdiff_t)(3 + n) || strncmp(close, " = ", 3) != 0 ||
            strncasecmp(close + 3, prop, n) != 0)
            return NULL;
        return unquote(p, close);
    }
    if (end - p <= (ptrdiff_t)(n + 4) || strncasecmp(p, prop, n) != 0 || strncmp(p + n, " = \"", 4) != 0)
        return NULL;
    const char *close = instance_wql_skip_string(p + n + 3);
    if (close != end)
        return NULL;
    return unquote(p + n + 3, close);
}

static void
free_values(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* The values of a term that is one equality on @prop, or an OR of them. */
static size_t
term_equalities(const char *p, const char *end, const char *prop, char ***out)
{
    char *one = match_equality(p, end, prop);
    if (one != NULL) {
        *out = malloc(sizeof **out);
        if (*out == NULL) {
            free(one);
            return 0;
        }
        (*out)[0] = one;
        return 1;
    }
    if (end - p < 4 || p[1] != '(')
        return 0;
    char **v = NULL;
    size_t n = 0;
    for (const char *q = p + 1; q < end - 1;) {
        const char *e = instance_wql_group_end(q);
        char *val = e != NULL && e <= end - 1 ? match_equality(q, e, prop) : NULL;
        char **nv = val ? realloc(v, (n + 1) * sizeof *v) : NULL;
        if (nv == NULL) {
            free(val);
            free_values(v, n);
            return 0;
        }
        v = nv;
        v[n++] = val;
        q = e;
        if (q == end - 1)
            break;
        if (strncmp(q, " OR ", 4) != 0) {
            free_values(v, n);
            return 0;
        }
        q += 4;
    }
    *out = v;
    return n;
}

size_t
instance_query_equalities(const wmi_query *query, const char *prop, char ***out)
{
    *out = NULL;
    char *text = wmi_query_to_string(query);
    /* Nothing before WHERE holds a string literal or the word WHERE. */
    const char *w = text ? strstr(text, " WHERE (") : NULL;
    const char *p = w ? w + 7 : NULL;
    const char *end = p ? instance_wql_group_end(p) : NULL;
    size_t n = 0;
    if (end == NULL) {
        free(text);
        return 0;
    }
    n = term_equalities(p, end, prop, out);
    if (n == 0 && p[1] == '(') {
        /* A chain: WHERE ((a) AND (b) ...); the first term that is an
         * equality (or an OR of them) on @prop counts. */
        for (const char *q = p + 1; q < end - 1 && n == 0;) {
            const char *e = instance_wql_group_end(q);
            if (e == NULL || e > end - 1)
                break;
            n = term_equalities(q, e, prop, out);
            q = e;
            if (strncmp(q, " AND ", 5) != 0) {
                if (n > 0 && q != end - 1) { /* an OR chain at the top */
                    free_values(*out, n);
                    *out = NULL;
                    n = 0;
                }
                break;
            }
            q += 5;
        }
    }
    free(text);
    return n;
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
instance_host_name(void)
{
    static char host[256];
    if (host[0] == '\0' && (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0'))
        snprintf(host, sizeof host, "localhost");
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
instance_boot_usec(void)
{
    static int64_t boot;
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
    }
    return boot;
}

const char *
instance_os_caption(void)
{
    static char caption[256];
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
            snprintf(caption, sizeof caption, "%.*s", (int)n, v);
            break;
        }
    }
    if (caption[0] == '\0')
        snprintf(caption, sizeof caption, "Linux");
    return caption;
}
