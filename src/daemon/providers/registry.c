/*
 * registry.c - the built-in instance providers: which serve a class, their
 * enumeration and opening, and the env that holds their shared state
 * (struct wmid_instance_env).  The providers themselves only use the
 * helpers of instance.c, so that dependencies point one way: registry ->
 * providers -> instance.c.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "daemon/providers/providers.h"

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
        return ip->open_scoped(env, schema, scope);
    return ip->open(env, schema);
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
