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

#include "daemon/providers/instance.h"

static const struct wmid_instance_provider *const builtin[] = {
    &wmid_ip_win32_process, &wmid_ip_logical_disk, &wmid_ip_operating_system,
    &wmid_ip_local_time,    &wmid_ip_utc_time,     &wmid_ip_data_file,
    &wmid_ip_directory,     &wmid_ip_repository,
};

const struct wmid_instance_provider *const *
instance_providers(size_t *n)
{
    *n = sizeof builtin / sizeof builtin[0];
    return builtin;
}

bool
instance_provider_serves(const wmi_schema *schema, const struct wmid_instance_provider *ip, const char *target)
{
    const wmi_class *cls = wmi_schema_get_class(schema, ip->class_name);
    if (cls == NULL || target == NULL)
        return false;
    if (wmi_class_isa(cls, target))
        return true;
    const wmi_class *tc = wmi_schema_get_class(schema, target);
    if (tc == NULL)
        return false;
    if (ip->flags & WMID_IP_ANY_CLASS)
        return ip->serves_subclass == NULL || ip->serves_subclass(tc);
    return (ip->flags & WMID_IP_SUBCLASSES) != 0 && wmi_class_isa(tc, ip->class_name) &&
           (ip->serves_subclass == NULL || ip->serves_subclass(tc));
}

size_t
instance_providers_for(const wmi_schema *schema, const char *class_name,
                       const struct wmid_instance_provider **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
        if (!instance_provider_serves(schema, builtin[i], class_name))
            continue;
        if (n < max)
            out[n] = builtin[i];
        n++;
    }
    return n;
}

/* A provider that returns subclasses (the repository) is asked for all it
 * has; only the instances of the class enumerated go on. */
struct isa_filter {
    const char *class_name;
    wmid_instance_fn fn;
    void *arg;
};

static void
isa_only(wmi_object *inst, void *arg)
{
    struct isa_filter *f = arg;
    if (wmi_object_isa(inst, f->class_name))
        f->fn(inst, f->arg);
}

size_t
instance_polled_providers_for(const wmi_schema *schema, const char *class_name,
                              const struct wmid_instance_provider **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
        if ((builtin[i]->flags & WMID_IP_NO_WITHIN) || !instance_provider_serves(schema, builtin[i], class_name))
            continue;
        if (n < max)
            out[n] = builtin[i];
        n++;
    }
    return n;
}

wmi_status
instance_enumerate(struct wmid_instance_env *env, const wmi_schema *schema, const char *class_name,
                   const struct wmid_instance_provider *skip, wmid_instance_fn fn, void *arg)
{
    struct isa_filter isa = {class_name, fn, arg};
    const struct wmid_instance_provider *ps[sizeof builtin / sizeof builtin[0]];
    if (class_name == NULL || wmi_schema_get_class(schema, class_name) == NULL)
        return WBEM_E_INVALID_CLASS;
    size_t n = instance_providers_for(schema, class_name, ps, sizeof ps / sizeof ps[0]);
    if (n == 0)
        return WBEM_E_NOT_SUPPORTED;
    wmi_status st = WBEM_S_NO_ERROR;
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        if (ps[i] == skip) {
            done++;
            continue; /* the caller lists its instances itself */
        }
        if (ps[i]->open == NULL)
            continue; /* needs a scope: a query naming what to list */
        done++;
        void *state = instance_open(env, ps[i], schema, NULL);
        if (state == NULL) {
            if (st == WBEM_S_NO_ERROR)
                st = WBEM_E_PROVIDER_FAILURE;
            continue;
        }
        wmi_status s = (ps[i]->flags & WMID_IP_SUBCLASSES) ? ps[i]->enumerate(state, isa_only, &isa)
                                                           : ps[i]->enumerate(state, fn, arg);
        if (WMI_FAILED(s) && st == WBEM_S_NO_ERROR)
            st = s;
        ps[i]->close(state);
    }
    return done == 0 ? WBEM_E_INVALID_QUERY : st;
}

void *
instance_open(struct wmid_instance_env *env, const struct wmid_instance_provider *ip, const wmi_schema *schema,
              const char *scope)
{
    if (scope != NULL)
        return ip->open_scoped(schema, scope);
    return ip->open(env, schema);
}

/* ====================================================================
 * The env
 * ==================================================================== */

struct wmid_instance_env *
instance_env_new(void)
{
    struct wmid_instance_env *env = calloc(1, sizeof *env);
    if (env == NULL)
        return NULL;
    env->processes = process_feed_new();
    env->statvfs = statvfs_calls_new();
    env->repository = repo_snapshot_new();
    return env;
}

/* Once every state opened in @env is closed and its connector stopped. */
void
instance_env_free(struct wmid_instance_env *env)
{
    if (env == NULL)
        return;
    process_feed_free(env->processes);
    statvfs_calls_free(env->statvfs);
    repo_snapshot_free(env->repository);
    free(env);
}

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

unsigned
instance_event_interval_ms(const wmi_schema *schema, const char *class_name)
{
    const struct wmid_instance_provider *ps[sizeof builtin / sizeof builtin[0]];
    size_t n = instance_polled_providers_for(schema, class_name, ps, sizeof ps / sizeof ps[0]);
    unsigned ms = 0;
    for (size_t i = 0; i < n; i++) {
        if (ps[i]->event_interval_ms == 0)
            return 0;
        if (ps[i]->event_interval_ms > ms)
            ms = ps[i]->event_interval_ms;
    }
    return ms;
}
