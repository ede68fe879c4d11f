/*
 * config.c - the daemon settings file and the object dir.
 *
 * Every error names the file, and the object and property where there is
 * one, with line:column for JSON syntax errors, so that `wmieventd -n`
 * tells an administrator exactly what to fix.
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <libgen.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/wmieventd.h"
#include "daemon/config/config.h"
#include "daemon/log.h"

/* A JSON syntax error, with jansson's wording made plain where it is
 * obscure. */
static void
set_json_err(wmi_error *err, const char *file, const json_error_t *jerr)
{
    bool utf8 = strstr(jerr->text, "unable to decode byte") != NULL;
    wmi_error_set(err, WBEM_E_INVALID_SYNTAX, file, jerr->line, jerr->column, "%s%s", jerr->text,
            utf8 ? " (the file is not valid UTF-8)" : "");
}

/* A path from the settings file, made absolute against the file's dir. */
static char *
resolve(const char *base_dir, const char *p)
{
    char *out;
    if (p[0] == '/')
        return strdup(p);
    if (asprintf(&out, "%s/%s", base_dir, p) < 0)
        return NULL;
    return out;
}

/* ====================================================================
 * Settings
 * ==================================================================== */

enum key_type { K_PATH, K_STRING, K_SIZE, K_UINT, K_LIST };

/* Every setting; the numbers are stored straight into their field
 * (@off), the rest are handled by name below. */
#define NUM(name, type, field) {name, type, offsetof(struct wmid_settings, field)}
static const struct {
    const char *key;
    enum key_type type;
    size_t off;
} known_keys[] = {
    {"socket", K_PATH, 0},
    {"socket_group", K_STRING, 0},
    {"state_dir", K_PATH, 0},
    {"plugin_dir", K_PATH, 0},
    {"object_dir", K_PATH, 0},
    {"log_level", K_STRING, 0},
    {"host_program", K_PATH, 0},
    {"admin_group", K_STRING, 0},
    {"consumer_user", K_STRING, 0},
    {"consumer_group", K_STRING, 0},
    {"user_consumer_providers", K_LIST, 0},
    NUM("max_line_bytes", K_SIZE, max_line_bytes),
    NUM("queue_max_bytes", K_SIZE, queue_max_bytes),
    NUM("high_threshold_on_events", K_SIZE, queue_max_bytes),
    NUM("low_threshold_on_events", K_SIZE, low_threshold_on_events),
    NUM("default_consumer_queue_bytes", K_SIZE, default_consumer_queue_bytes),
    NUM("process_poll_ms", K_UINT, process_poll_ms),
    NUM("shutdown_timeout_ms", K_UINT, shutdown_timeout_ms),
    NUM("min_within_ms", K_UINT, min_within_ms),
    NUM("max_connections", K_UINT, max_connections),
    NUM("max_wait_on_events", K_UINT, max_wait_on_events_ms),
    NUM("consumer_deadline_ms", K_UINT, consumer_deadline_ms),
    NUM("suspend_after_misses", K_UINT, suspend_after_misses),
    NUM("suspend_window_ms", K_UINT, suspend_window_ms),
    NUM("suspend_max_ms", K_UINT, suspend_max_ms),
    NUM("indicate_wait_ms", K_UINT, indicate_wait_ms),
};
#undef NUM

static void
settings_defaults(struct wmid_settings *s)
{
    memset(s, 0, sizeof *s);
    s->socket_gid = -1;
    s->admin_gid = -1;
    s->consumer_uid = -1;
    s->consumer_gid = -1;
    s->log_level = WMI_LOG_INFO;
    s->max_line_bytes = 1024 * 1024;
    s->queue_max_bytes = 64u * 1024 * 1024;
    s->default_consumer_queue_bytes = 16u * 1024 * 1024;
    s->process_poll_ms = 100;
    s->shutdown_timeout_ms = 5000;
    s->min_within_ms = 100;
    s->max_connections = 256;
    s->consumer_deadline_ms = 100;
    s->suspend_after_misses = 3;
    s->suspend_window_ms = 10000;
    s->suspend_max_ms = 60000;
    s->indicate_wait_ms = 2000;
}

/* Setting @key of the file @path (in @dir) is @v: checked and stored in
 * @s, or false with @err filled. */
static bool
apply_setting(struct wmid_settings *s, const char *path, const char *dir, const char *key, json_t *v,
              wmi_error *err)
{
    size_t i;
    for (i = 0; i < sizeof known_keys / sizeof known_keys[0]; i++)
        if (strcmp(known_keys[i].key, key) == 0)
            break;
    if (i == sizeof known_keys / sizeof known_keys[0])
        return wmid_fail(err, WBEM_E_INVALID_PARAMETER, path, "unknown setting \"%s\"", key);
    enum key_type t = known_keys[i].type;
    if (t == K_LIST) {
        size_t k;
        json_t *e;
        bool good = json_is_array(v);
        json_array_foreach(v, k, e) good &= json_is_string(e) && json_string_length(e) > 0;
        if (!good)
            return wmid_fail(err, WBEM_E_TYPE_MISMATCH, path, "setting \"%s\" must be an array of names", key);
        json_decref(s->user_consumer_providers);
        s->user_consumer_providers = json_incref(v);
        return true;
    }
    if ((t == K_PATH || t == K_STRING) && (!json_is_string(v) || json_string_length(v) == 0))
        return wmid_fail(err, WBEM_E_TYPE_MISMATCH, path, "setting \"%s\" must be a non-empty string", key);
    if ((t == K_SIZE || t == K_UINT) && (!json_is_integer(v) || json_integer_value(v) <= 0 ||
                                         (t == K_UINT && json_integer_value(v) > 86400000)))
        return wmid_fail(err, WBEM_E_TYPE_MISMATCH, path, "setting \"%s\" must be a positive integer", key);
    const char *sv = json_string_value(v);
    size_t zv = (size_t)json_integer_value(v);
    if (strcmp(key, "socket") == 0)
        s->socket_path = resolve(dir, sv);
    else if (strcmp(key, "state_dir") == 0)
        s->state_dir = resolve(dir, sv);
    else if (strcmp(key, "plugin_dir") == 0)
        s->plugin_dir = resolve(dir, sv);
    else if (strcmp(key, "object_dir") == 0)
        s->object_dir = resolve(dir, sv);
    else if (strcmp(key, "host_program") == 0)
        s->host_program = resolve(dir, sv);
    else if (strcmp(key, "socket_group") == 0 || strcmp(key, "admin_group") == 0) {
        struct group *gr = getgrnam(sv);
        if (gr == NULL)
            return wmid_fail(err, WBEM_E_NOT_FOUND, path, "setting \"%s\": no group \"%s\"", key, sv);
        if (strcmp(key, "socket_group") == 0)
            s->socket_gid = (int)gr->gr_gid;
        else
            s->admin_gid = (long)gr->gr_gid;
    } else if (strcmp(key, "consumer_user") == 0) {
        struct passwd *pw = getpwnam(sv);
        if (pw == NULL)
            return wmid_fail(err, WBEM_E_NOT_FOUND, path, "setting \"consumer_user\": no user \"%s\"", sv);
        s->consumer_uid = (long)pw->pw_uid;
        if (s->consumer_gid < 0)
            s->consumer_gid = (long)pw->pw_gid; /* consumer_group, read later, overrides it */
    } else if (strcmp(key, "consumer_group") == 0) {
        struct group *gr = getgrnam(sv);
        if (gr == NULL)
            return wmid_fail(err, WBEM_E_NOT_FOUND, path, "setting \"consumer_group\": no group \"%s\"", sv);
        s->consumer_gid = (long)gr->gr_gid;
    } else if (strcmp(key, "log_level") == 0) {
        s->log_level = log_level_from_name(sv);
        if (s->log_level < 0)
            return wmid_fail(err, WBEM_E_INVALID_PARAMETER, path,
                           "setting \"log_level\": \"%s\" is not one of err, warning, notice, info, debug", sv);
    } else if (t == K_SIZE) {
        *(size_t *)(void *)((char *)s + known_keys[i].off) = zv;
    } else if (t == K_UINT) {
        *(unsigned *)(void *)((char *)s + known_keys[i].off) = (unsigned)zv;
    }
    return true;
}

/* The checks across settings of the file @path (@root), once each is
 * stored; false with @err filled. */
static bool
check_settings(struct wmid_settings *s, const json_t *root, const char *path, wmi_error *err)
{
    if (json_object_get(root, "queue_max_bytes") != NULL && json_object_get(root, "high_threshold_on_events") != NULL)
        return wmid_fail(err, WBEM_E_INVALID_PARAMETER, path,
                       "\"queue_max_bytes\" is the old name of \"high_threshold_on_events\"; set one of them");
    if (s->low_threshold_on_events == 0)
        s->low_threshold_on_events = s->queue_max_bytes / 2;
    if (s->low_threshold_on_events > s->queue_max_bytes)
        return wmid_fail(err, WBEM_E_INVALID_PARAMETER, path,
                       "setting \"low_threshold_on_events\" (%zu bytes) is above \"high_threshold_on_events\" "
                       "(%zu bytes)",
                       s->low_threshold_on_events, s->queue_max_bytes);
    if (s->suspend_after_misses > 64)
        return wmid_fail(err, WBEM_E_INVALID_PARAMETER, path, "setting \"suspend_after_misses\" is at most 64");
    static const char *const required[] = {"socket", "state_dir", "plugin_dir", "object_dir"};
    for (size_t i = 0; i < 4; i++)
        if (json_object_get(root, required[i]) == NULL)
            return wmid_fail(err, WBEM_E_INVALID_PARAMETER, path, "missing setting \"%s\"", required[i]);
    return true;
}

bool
config_load_settings(const char *path, struct wmid_settings *s, wmi_error *err)
{
    json_error_t jerr;
    settings_defaults(s);
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        set_json_err(err, path, &jerr);
        return false;
    }
    if (!json_is_object(root)) {
        wmi_error_set(err, WBEM_E_INVALID_PARAMETER, path, 1, 1, "the settings file holds one JSON object");
        json_decref(root);
        return false;
    }
    char *pathcopy = strdup(path);
    char real[PATH_MAX];
    const char *dir = dirname(pathcopy);
    if (realpath(dir, real) != NULL)
        dir = real;
    s->config_path = strdup(path);

    const char *key;
    json_t *v;
    bool ok = true;
    json_object_foreach(root, key, v) {
        if (!apply_setting(s, path, dir, key, v, err)) {
            ok = false;
            break;
        }
    }
    ok = ok && check_settings(s, root, path, err);
    free(pathcopy);
    json_decref(root);
    if (!ok)
        config_free_settings(s);
    return ok;
}

void
config_free_settings(struct wmid_settings *s)
{
    free(s->config_path);
    free(s->socket_path);
    free(s->state_dir);
    free(s->plugin_dir);
    free(s->object_dir);
    free(s->host_program);
    json_decref(s->user_consumer_providers);
    memset(s, 0, sizeof *s);
}

/* ====================================================================
 * Object dir
 * ==================================================================== */

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.json files of @dir, sorted; NULL-terminated. */
static char **
list_json(const char *dir, wmi_error *err)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        wmi_error_set(err, WBEM_E_NOT_FOUND, dir, 0, 0, "cannot open the object dir: %s", strerror(errno));
        return NULL;
    }
    size_t n = 0, cap = 16;
    char **names = calloc(cap, sizeof *names);
    struct dirent *de;
    while (names != NULL && (de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0 || de->d_name[0] == '.')
            continue;
        if (n + 2 > cap) {
            char **nn = realloc(names, (cap *= 2) * sizeof *nn);
            if (nn == NULL)
                break;
            names = nn;
        }
        if (asprintf(&names[n], "%s/%s", dir, de->d_name) >= 0)
            n++;
    }
    closedir(d);
    if (names == NULL)
        return NULL;
    names[n] = NULL;
    qsort(names, n, sizeof *names, name_cmp);
    return names;
}

static void
free_list(char **names)
{
    for (size_t i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
}

/* "file: object N (Class "Name")" for messages; objects with no Name are
 * shown by what they refer to (a binding's Filter, a registration's
 * Provider). */
static void
describe(char *buf, size_t len, const char *file, size_t index, const json_t *obj)
{
    const char *cls = json_string_value(json_object_get(obj, "__CLASS"));
    const char *name = json_string_value(json_object_get(obj, "Name"));
    if (name == NULL)
        name = json_string_value(json_object_get(obj, "TimerId"));
    if (name != NULL) {
        snprintf(buf, len, "%s: object %zu (%s \"%s\")", file, index, cls ? cls : "no __CLASS", name);
        return;
    }
    static const char *const refs[] = {"Filter", "Provider"};
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        const char *ref = json_string_value(json_object_get(obj, refs[i]));
        if (ref != NULL) {
            snprintf(buf, len, "%s: object %zu (%s with %s %s)", file, index, cls ? cls : "no __CLASS",
                     refs[i], ref);
            return;
        }
    }
    snprintf(buf, len, "%s: object %zu (%s)", file, index, cls ? cls : "no __CLASS");
}

/* ---- one class, one instance: shared by the object dir and the
 * repository file ---- */

static bool
is_namespace_instance(const json_t *obj)
{
    const char *cls = json_string_value(json_object_get(obj, "__CLASS"));
    return cls != NULL && strcasecmp(cls, "__Namespace") == 0;
}

/* Add class definition @def of namespace @ns, and remember its home.  Its
 * superclass must be built in or of the same namespace. */
static bool
add_class(struct wmid_objects *o, const json_t *def, const char *ns, const char *where, wmi_error *err)
{
    const char *name = json_string_value(json_object_get(def, "__CLASS"));
    const char *super = json_string_value(json_object_get(def, "__SUPERCLASS"));
    if (!json_is_object(def))
        return wmid_fail(err, WBEM_E_INVALID_OBJECT, where, "Class: not an object");
    if (!ns_exists(o->namespaces, ns))
        return wmid_fail(err, WBEM_E_INVALID_NAMESPACE, where, "namespace %s does not exist", ns);
    if (super != NULL && !ns_class_in(o->class_ns, super, ns))
        return wmid_fail(err, WBEM_E_INVALID_SUPERCLASS, where,
                           "__SUPERCLASS: class %s is in namespace %s, not in %s", super,
                           ns_class_home(o->class_ns, super), ns);
    const char *home = name != NULL ? ns_class_home(o->class_ns, name) : NULL;
    if (home != NULL && strcasecmp(home, ns) != 0)
        return wmid_fail(err, WBEM_E_ALREADY_EXISTS, where,
                           "class %s is defined in namespace %s already (class names are unique across "
                           "namespaces here)", name, home);
    wmi_error cerr;
    if (WMI_FAILED(wmi_schema_add_class_json(o->schema, def, &cerr)))
        return wmid_fail(err, cerr.status, where, "%s%s%s", cerr.source, cerr.source[0] ? ": " : "", cerr.text);
    if (!ns_set_class_home(o, name, ns))
        return wmid_fail(err, WBEM_E_OUT_OF_MEMORY, where, "out of memory");
    return true;
}

/* Add instance @obj of namespace @ns, created by @owner. */
static bool
add_instance(struct wmid_objects *o, const json_t *obj, const char *ns, long owner, const char *where,
             wmi_error *err)
{
    const char *cls = json_string_value(json_object_get(obj, "__CLASS"));
    if (!json_is_object(obj))
        return wmid_fail(err, WBEM_E_INVALID_OBJECT, where, "Instance: not an object");
    if (!ns_exists(o->namespaces, ns))
        return wmid_fail(err, WBEM_E_INVALID_NAMESPACE, where, "namespace %s does not exist", ns);
    if (cls != NULL && !ns_class_in(o->class_ns, cls, ns))
        return wmid_fail(err, WBEM_E_INVALID_CLASS, where, "__CLASS: class %s is in namespace %s, not in %s", cls,
                           ns_class_home(o->class_ns, cls), ns);
    wmi_error oerr;
    wmi_object *inst;
    if (WMI_FAILED(wmi_object_from_json(o->schema, obj, &inst, &oerr)))
        return wmid_fail(err, oerr.status, where, "%s%s%s", oerr.source, oerr.source[0] ? ": " : "", oerr.text);
    wmi_object **ni = realloc(o->instances, (o->ninstances + 1) * sizeof *ni);
    if (ni != NULL)
        o->instances = ni;
    long *no = ni != NULL ? realloc(o->owners, (o->ninstances + 1) * sizeof *no) : NULL;
    if (no != NULL)
        o->owners = no;
    if (ni == NULL || no == NULL || json_array_append_new(o->ns, json_string(ns)) != 0) {
        wmi_object_unref(inst);
        return wmid_fail(err, WBEM_E_OUT_OF_MEMORY, where, "out of memory");
    }
    o->owners[o->ninstances] = owner;
    o->instances[o->ninstances++] = inst;
    json_array_append_new(o->origins, json_string(where));
    return true;
}

/* The __Namespace instances among @objs create namespaces before anything
 * is put in them.  Each entry is an instance (@key NULL: an object file)
 * or holds one in member @key (the repository file: "Instance"); the
 * entry's member @ns_member names the namespace it is in.  @file names
 * the entries in errors. */
static bool
declare_namespaces(struct wmid_objects *o, const json_t *objs, const char *key, const char *ns_member,
                   const char *file, wmi_error *err)
{
    json_t *list = json_array();
    size_t i;
    json_t *e;
    char where[600];
    bool ok = list != NULL;
    json_array_foreach(objs, i, e) {
        const json_t *obj = key != NULL ? json_object_get(e, key) : e;
        if (!ok || !is_namespace_instance(obj) || json_integer_value(json_object_get(obj, "__GENUS")) == 1)
            continue;
        describe(where, sizeof where, file, i, obj);
        char *parent = ns_of_object(e, ns_member, err, where);
        if (parent == NULL) {
            ok = false;
            break;
        }
        json_array_append_new(list, json_pack("{sssOss}", "Parent", parent, "Name",
                                              json_object_get(obj, "Name") ? json_object_get(obj, "Name")
                                                                           : json_null(),
                                              "Origin", where));
        free(parent);
    }
    ok = ok && ns_declare(o, list, err);
    json_decref(list);
    return ok;
}

bool
config_load_objects(const char *dir, struct wmid_objects *o, wmi_error *err)
{
    memset(o, 0, sizeof *o);
    char **files = list_json(dir, err);
    if (files == NULL)
        return false;
    size_t nfiles = 0;
    while (files[nfiles])
        nfiles++;
    json_t **docs = calloc(nfiles + 1, sizeof *docs);
    o->schema = wmi_schema_new();
    /* The classes of the built-in instance providers (docs/classes.md). */
    if (o->schema != NULL)
        wmi_schema_add_instance_classes(o->schema, NULL);
    o->origins = json_array();
    bool ok = docs != NULL && o->schema != NULL && o->origins != NULL && ns_init(o);
    if (!ok)
        wmid_fail(err, WBEM_E_OUT_OF_MEMORY, dir, "out of memory");
    char where[600];

    /* Pass 1: parse every file, so that syntax errors come first. */
    for (size_t f = 0; ok && f < nfiles; f++) {
        json_error_t jerr;
        docs[f] = json_load_file(files[f], JSON_REJECT_DUPLICATES, &jerr);
        if (docs[f] == NULL) {
            set_json_err(err, files[f], &jerr);
            ok = false;
        } else if (!json_is_array(docs[f])) {
            wmi_error_set(err, WBEM_E_INVALID_PARAMETER, files[f], 1, 1,
                    "an object file holds a JSON array of instances and class definitions");
            ok = false;
        }
    }
    /* Pass 2: the namespaces the files create (__Namespace instances). */
    for (size_t f = 0; ok && f < nfiles; f++)
        ok = declare_namespaces(o, docs[f], NULL, "__NAMESPACE", files[f], err);
    /* Pass 3: class definitions ("__GENUS": 1), all files, in order. */
    for (size_t f = 0; ok && f < nfiles; f++) {
        size_t i;
        json_t *obj;
        json_array_foreach(docs[f], i, obj) {
            json_t *genus = json_object_get(obj, "__GENUS");
            if (genus == NULL || json_integer_value(genus) != 1)
                continue;
            describe(where, sizeof where, files[f], i, obj);
            char *ns = ns_of_object(obj, "__NAMESPACE", err, where);
            ok = ns != NULL && add_class(o, obj, ns, where, err);
            free(ns);
            if (!ok)
                break;
        }
    }
    /* Pass 4: instances. */
    for (size_t f = 0; ok && f < nfiles; f++) {
        size_t i;
        json_t *obj;
        /* Who wrote the file created its objects (their CreatorSID). */
        struct stat st;
        long owner = stat(files[f], &st) == 0 ? (long)st.st_uid : -1;
        json_array_foreach(docs[f], i, obj) {
            json_t *genus = json_object_get(obj, "__GENUS");
            if (genus != NULL && json_integer_value(genus) == 1)
                continue;
            describe(where, sizeof where, files[f], i, obj);
            char *ns = ns_of_object(obj, "__NAMESPACE", err, where);
            ok = ns != NULL && add_instance(o, obj, ns, owner, where, err);
            free(ns);
            if (!ok)
                break;
        }
    }
    for (size_t f = 0; docs && f < nfiles; f++)
        json_decref(docs[f]);
    free(docs);
    free_list(files);
    if (!ok)
        config_free_objects(o);
    return ok;
}

bool
config_add_runtime(struct wmid_objects *o, const json_t *doc, const char *source, wmi_error *err)
{
    size_t i;
    json_t *e;
    char where[600];
    /* Namespaces first, then classes: runtime instances may be of them. */
    if (!declare_namespaces(o, json_object_get(doc, "Objects"), "Instance", "Namespace", source, err))
        return false;
    json_array_foreach(json_object_get(doc, "Classes"), i, e) {
        const json_t *def = json_object_get(e, "Class");
        const char *name = json_string_value(json_object_get(def, "__CLASS"));
        snprintf(where, sizeof where, "%s: class %zu (%s)", source, i, name ? name : "no __CLASS");
        char *ns = ns_of_object(e, "Namespace", err, where);
        bool ok = ns != NULL && add_class(o, def, ns, where, err);
        free(ns);
        if (!ok)
            return false;
    }
    json_array_foreach(json_object_get(doc, "Objects"), i, e) {
        const json_t *obj = json_object_get(e, "Instance");
        describe(where, sizeof where, source, i, obj);
        json_t *uid = json_object_get(e, "CreatorUid");
        char *ns = ns_of_object(e, "Namespace", err, where);
        bool ok = ns != NULL &&
                  add_instance(o, obj, ns, json_is_integer(uid) ? (long)json_integer_value(uid) : -1, where, err);
        free(ns);
        if (!ok)
            return false;
    }
    return true;
}

void
config_free_objects(struct wmid_objects *o)
{
    for (size_t i = 0; i < o->ninstances; i++)
        wmi_object_unref(o->instances[i]);
    free(o->instances);
    free(o->owners);
    json_decref(o->origins);
    json_decref(o->ns);
    json_decref(o->class_ns);
    json_decref(o->namespaces);
    wmi_schema_free(o->schema);
    memset(o, 0, sizeof *o);
}
