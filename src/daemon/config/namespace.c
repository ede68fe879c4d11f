/*
 * namespace.c - WMI namespaces: their names, object paths that carry one,
 * and which namespaces and classes a load holds.
 *
 * Every object lives in a namespace: root\subscription (where objects and
 * requests that name none go), root\cimv2, root\default, root itself, and
 * the namespaces created by __Namespace instances (Name "x" in root\cimv2
 * creates root\cimv2\x).  Classes live in a namespace too, except the
 * built-in ones, which every namespace holds.  The daemon keeps one schema
 * for all of them, so that routing stays one class index; what this file
 * adds is the home of each class defined in the object dir or at run time,
 * so that an instance, an event or a query can only use the classes of its
 * own namespace, as in WMI.  The price, a documented deviation, is that a
 * class name is unique across namespaces.
 *
 * Names are compared without case, as WMI compares them, and kept in the
 * normalized form ns_normalize gives: "root\\cimv2".
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "daemon/wmieventd.h"
#include "daemon/config/config.h"

/* ====================================================================
 * Names and paths
 * ==================================================================== */

char *
ns_normalize(const char *ns)
{
    if (ns == NULL)
        return NULL;
    bool remote = false;
    /* \\.\root\x, //./root/x, \\host\root\x, \root\x.  Only this machine
     * is served: another host's name is kept, so that the result is no
     * namespace here (ns_is_valid fails) rather than a local one. */
    if ((ns[0] == '\\' || ns[0] == '/') && (ns[1] == '\\' || ns[1] == '/')) {
        const char *host = ns + 2;
        size_t hl = strcspn(host, "\\/");
        char self[256] = "";
        gethostname(self, sizeof self - 1);
        bool local = (hl == 1 && host[0] == '.') || (hl == 9 && strncasecmp(host, "localhost", 9) == 0) ||
                     (hl > 0 && hl == strlen(self) && strncasecmp(host, self, hl) == 0);
        if (local)
            ns = host + hl;
        else
            remote = true;
    }
    while (!remote && (*ns == '\\' || *ns == '/'))
        ns++;
    char *out = strdup(ns);
    for (char *c = out; c != NULL && *c != '\0'; c++) {
        if (*c == '/')
            *c = '\\';
        else if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c + 32);
    }
    /* No trailing separator. */
    for (size_t n = out ? strlen(out) : 0; n > 0 && out[n - 1] == '\\'; n--)
        out[n - 1] = '\0';
    return out;
}

bool
ns_is_valid(const char *ns)
{
    /* Bounded, so that every buffer that carries one (an event
     * provider's sink, a held batch) holds it whole. */
    if (ns == NULL || strncmp(ns, "root", 4) != 0 || (ns[4] != '\0' && ns[4] != '\\') ||
        strlen(ns) > WMID_NS_MAX)
        return false;
    /* Segments are non-empty and hold no path syntax. */
    for (const char *p = ns; *p != '\0'; p++) {
        if (*p == '\\' && (p[1] == '\\' || p[1] == '\0'))
            return false;
        if (*p == ':' || *p == '"' || *p == '=' || *p == '.' || (unsigned char)*p < 0x20)
            return false;
    }
    return true;
}

const char *
ns_split_path(const char *path, char **ns)
{
    *ns = NULL;
    if (path == NULL)
        return NULL;
    /* The namespace ends at the first ':' before any key syntax ('=' or a
     * quote); class names hold no ':', and a server name ("\\\\.\\") may
     * hold dots. */
    const char *colon = NULL;
    for (const char *p = path; *p != '\0' && *p != '=' && *p != '"'; p++)
        if (*p == ':') {
            colon = p;
            break;
        }
    if (colon == NULL)
        return path;
    char *raw = strndup(path, (size_t)(colon - path));
    *ns = ns_normalize(raw);
    free(raw);
    return colon + 1;
}

char *
ns_qualify(const char *ns, const char *rel)
{
    char *out = NULL;
    if (rel == NULL)
        return NULL;
    if (ns == NULL || strcasecmp(ns, WMID_NS_DEFAULT) == 0)
        return strdup(rel);
    if (asprintf(&out, "%s:%s", ns, rel) < 0)
        return NULL;
    return out;
}

/* ====================================================================
 * Namespaces and class homes of a load
 * ==================================================================== */

static const char *const base_namespaces[] = {"root", WMID_NS_SUBSCRIPTION, WMID_NS_EVENTS, "root\\default"};

bool
ns_init(struct wmid_objects *o)
{
    o->ns = json_array();
    o->class_ns = json_object();
    o->namespaces = json_object();
    if (o->ns == NULL || o->class_ns == NULL || o->namespaces == NULL)
        return false;
    for (size_t i = 0; i < sizeof base_namespaces / sizeof base_namespaces[0]; i++)
        json_object_set_new(o->namespaces, base_namespaces[i], json_true());
    return true;
}

bool
ns_exists(const json_t *namespaces, const char *ns)
{
    if (ns == NULL)
        return false;
    if (namespaces == NULL) {
        for (size_t i = 0; i < sizeof base_namespaces / sizeof base_namespaces[0]; i++)
            if (strcasecmp(ns, base_namespaces[i]) == 0)
                return true;
        return false;
    }
    char *n = ns_normalize(ns);
    bool ok = n != NULL && json_object_get(namespaces, n) != NULL;
    free(n);
    return ok;
}

/* Class names are keys of class_ns in lower case; false when @cls is
 * longer than a class name may be (255 bytes). */
static bool
class_key(const char *cls, char key[256])
{
    size_t n = strlen(cls);
    if (n >= 256)
        return false;
    for (size_t i = 0; i <= n; i++)
        key[i] = (char)(cls[i] >= 'A' && cls[i] <= 'Z' ? cls[i] + 32 : cls[i]);
    return true;
}

const char *
ns_class_home(const json_t *class_ns, const char *cls)
{
    char key[256];
    if (class_ns == NULL || cls == NULL || !class_key(cls, key))
        return NULL;
    return json_string_value(json_object_get(class_ns, key));
}

bool
ns_class_in(const json_t *class_ns, const char *cls, const char *ns)
{
    const char *home = ns_class_home(class_ns, cls);
    return home == NULL || (ns != NULL && strcasecmp(home, ns) == 0);
}

bool
ns_set_class_home(struct wmid_objects *o, const char *cls, const char *ns)
{
    char key[256];
    return class_key(cls, key) && json_object_set_new(o->class_ns, key, json_string(ns)) == 0;
}

const char *
objects_ns(const struct wmid_objects *o, size_t i)
{
    const char *ns = json_string_value(json_array_get(o->ns, i));
    return ns != NULL ? ns : WMID_NS_DEFAULT;
}

char *
ns_of_object(const json_t *obj, const char *member, wmi_error *err, const char *origin)
{
    const json_t *v = json_object_get(obj, member);
    if (v == NULL)
        return strdup(WMID_NS_DEFAULT);
    char *ns = json_is_string(v) ? ns_normalize(json_string_value(v)) : NULL;
    if (ns == NULL || !ns_is_valid(ns)) {
        wmid_fail(err, WBEM_E_INVALID_NAMESPACE, origin, "%s: \"%.200s\" is not a namespace (root\\...)", member,
                    json_is_string(v) ? json_string_value(v) : "not a string");
        free(ns);
        return NULL;
    }
    return ns;
}

bool
ns_declare(struct wmid_objects *o, const json_t *ns_instances, wmi_error *err)
{
    /* @ns_instances: [{"Parent": ns, "Name": name, "Origin": where}]; every
     * parent must be a base namespace or one of these. */
    size_t i;
    json_t *e;
    json_t *fresh = json_object();
    if (fresh == NULL)
        return wmid_fail(err, WBEM_E_OUT_OF_MEMORY, "", "out of memory");
    json_array_foreach(ns_instances, i, e) {
        const char *parent = json_string_value(json_object_get(e, "Parent"));
        const char *name = json_string_value(json_object_get(e, "Name"));
        const char *origin = json_string_value(json_object_get(e, "Origin"));
        char *full = NULL;
        if (name == NULL || name[0] == '\0' || strpbrk(name, "\\/:\".=") != NULL) {
            json_decref(fresh);
            return wmid_fail(err, WBEM_E_INVALID_NAMESPACE, origin,
                               "Name: \"%.200s\" is not a namespace name (one path segment)", name ? name : "");
        }
        if (asprintf(&full, "%s\\%s", parent, name) < 0) {
            json_decref(fresh);
            return wmid_fail(err, WBEM_E_OUT_OF_MEMORY, origin, "out of memory");
        }
        char *norm = ns_normalize(full);
        free(full);
        if (norm == NULL) {
            json_decref(fresh);
            return wmid_fail(err, WBEM_E_OUT_OF_MEMORY, origin, "out of memory");
        }
        if (!ns_is_valid(norm)) {
            json_decref(fresh);
            wmid_fail(err, WBEM_E_INVALID_NAMESPACE, origin,
                        "Name: namespace %.200s is not valid (at most %d bytes, no control characters)", norm,
                        WMID_NS_MAX);
            free(norm);
            return false;
        }
        /* An instance naming a namespace that exists is a record of it,
         * as mofcomp's "instance of __Namespace { Name = "cimv2"; }" in
         * root is (WMI's PutInstance creates or updates). */
        if (json_object_get(o->namespaces, norm) != NULL && json_object_get(fresh, norm) == NULL) {
            free(norm);
            continue;
        }
        json_object_set_new(fresh, norm, json_pack("[ss]", parent, origin ? origin : ""));
        json_object_set_new(o->namespaces, norm, json_true());
        free(norm);
    }
    /* A parent must exist: a base namespace or one declared here. */
    const char *k;
    json_t *v;
    json_object_foreach(fresh, k, v) {
        const char *parent = json_string_value(json_array_get(v, 0));
        if (parent == NULL || json_object_get(o->namespaces, parent) == NULL) {
            wmid_fail(err, WBEM_E_INVALID_NAMESPACE, json_string_value(json_array_get(v, 1)),
                        "namespace %s: its parent %s does not exist", k, parent ? parent : "?");
            json_decref(fresh);
            return false;
        }
    }
    json_decref(fresh);
    return true;
}
