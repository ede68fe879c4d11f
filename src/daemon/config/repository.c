/*
 * repo.c - the repository at run time: GetObject, PutInstance and
 * DeleteInstance over the objects of the object dir (declarative: changed
 * by editing the files) and the objects created at run time.
 *
 * Objects created at run time persist in one JSON document,
 * <state_dir>/repository.json:
 *
 *   {"Version": 1,
 *    "Objects": [{"Instance": {...}, "CreatorUid": 1000, "Namespace": "root\\cimv2"}, ...],
 *    "Classes": [{"Class": {...}, "CreatorUid": 0, "Namespace": "root\\subscription"}, ...]}
 *
 * (an entry without "Namespace", from an older file, is in
 * root\subscription; a __Namespace instance creates a namespace)
 *
 * rewritten whole on every change, atomically: write a temporary file,
 * fsync it, rename it over the old one, fsync the directory.  One file
 * rather than an embedded store because the repository holds what
 * administrators write (subscriptions, providers: hundreds of objects, not
 * millions), so rewriting it costs nothing, a rename is the whole
 * crash-safety story, and an administrator can read it at 3 a.m. with
 * `jq`.
 *
 * A change is applied as a reload is (main.c): the objects of the object
 * dir plus the candidate document are checked and a new router built;
 * only then is the document written and the router swapped in.  So a
 * PutInstance that would break the configuration changes nothing, and the
 * repository raises its intrinsic events (providers/repository.c) as for
 * any reload.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config/config.h"

struct wmid_repo {
    char *dir;
    char *path;
    json_t *doc;
};

/* ====================================================================
 * The document
 * ==================================================================== */

static json_t *
empty_doc(void)
{
    return json_pack("{sis[]}", "Version", 1, "Objects");
}

struct wmid_repo *
repo_open(const char *state_dir, wmi_error *err)
{
    struct wmid_repo *r = calloc(1, sizeof *r);
    if (r == NULL || (r->dir = strdup(state_dir)) == NULL || asprintf(&r->path, "%s/repository.json", state_dir) < 0) {
        if (r != NULL)
            free(r->dir);
        free(r);
        wmid_fail(err, WBEM_E_OUT_OF_MEMORY, state_dir, "out of memory");
        return NULL;
    }
    json_error_t jerr;
    r->doc = json_load_file(r->path, JSON_REJECT_DUPLICATES, &jerr);
    if (r->doc == NULL && access(r->path, F_OK) != 0 && errno == ENOENT) {
        r->doc = empty_doc();
    } else if (r->doc == NULL) {
        memset(err, 0, sizeof *err);
        wmi_error_set(err, WBEM_E_INVALID_SYNTAX, r->path, jerr.line, jerr.column, "%s", jerr.text);
        repo_close(r);
        return NULL;
    } else if (!json_is_array(json_object_get(r->doc, "Objects"))) {
        wmid_fail(err, WBEM_E_INVALID_PARAMETER, r->path, "Objects: the repository file holds {\"Objects\": [...]}");
        repo_close(r);
        return NULL;
    }
    /* The namespaces of the entries as this file compares them (an
     * administrator may have written "ROOT\\CIMV2"); a malformed one is
     * left for the load to report with its entry. */
    static const char *const lists[] = {"Objects", "Classes"};
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(r->doc, lists[l]), i, e) {
            const char *ns = json_string_value(json_object_get(e, "Namespace"));
            char *norm = ns != NULL ? ns_normalize(ns) : NULL;
            if (norm != NULL && ns_is_valid(norm))
                json_object_set_new(e, "Namespace", json_string(norm));
            free(norm);
        }
    }
    return r;
}

void
repo_close(struct wmid_repo *r)
{
    if (r == NULL)
        return;
    json_decref(r->doc);
    free(r->dir);
    free(r->path);
    free(r);
}

const json_t *
repo_doc(const struct wmid_repo *r)
{
    return r->doc;
}

const char *
repo_path(const struct wmid_repo *r)
{
    return r->path;
}

bool
repo_save(struct wmid_repo *r, json_t *doc, wmi_error *err)
{
    char *tmp = NULL;
    if (mkdir(r->dir, 0700) != 0 && errno != EEXIST)
        return wmid_fail(err, WBEM_E_ACCESS_DENIED, r->dir, "cannot create the state directory: %s", strerror(errno));
    if (asprintf(&tmp, "%s.tmp", r->path) < 0)
        return wmid_fail(err, WBEM_E_OUT_OF_MEMORY, r->path, "out of memory");
    char *text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
    int fd = text != NULL ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    bool ok = fd >= 0;
    size_t len = text != NULL ? strlen(text) : 0;
    for (size_t off = 0; ok && off < len;) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        ok = w > 0;
        off += ok ? (size_t)w : 0;
    }
    ok = ok && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    free(text);
    if (ok && rename(tmp, r->path) != 0) {
        saved = errno;
        ok = false;
    }
    if (!ok) {
        unlink(tmp);
        free(tmp);
        return wmid_fail(err, WBEM_E_FAILED, r->path, "cannot write the repository: %s", strerror(saved));
    }
    free(tmp);
    /* The rename is durable only once the directory is. */
    int dfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    json_incref(doc);
    json_decref(r->doc);
    r->doc = doc;
    return true;
}

/* ====================================================================
 * Paths
 * ==================================================================== */

/* Does @o have the class and keys of a parsed path?  String keys compare
 * without case, as WMI compares them. */
static bool
path_matches(const wmi_object *o, const char *cls, const json_t *keys)
{
    if (strcasecmp(wmi_object_class_name(o), cls) != 0)
        return false;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)keys, k, v) {
        const json_t *have = NULL;
        if (k[0] == '\0')
            continue; /* Class=@ or an unnamed key: the class decides */
        if (WMI_FAILED(wmi_object_get_json(o, k, &have, NULL)) || have == NULL)
            return false;
        if (json_is_string(v) && json_is_string(have)) {
            if (strcasecmp(json_string_value(v), json_string_value(have)) != 0)
                return false;
        } else if (json_is_number(v) && json_is_number(have)) {
            if (json_number_value(v) != json_number_value(have))
                return false;
        } else if (!json_equal(v, (json_t *)have)) {
            return false;
        }
    }
    return true;
}

/* The object of @cur in namespace @ns with path @path (class and keys),
 * or -1. */
static long
find_object(const struct wmid_objects *cur, const char *ns, const char *cls, const json_t *keys)
{
    for (size_t i = 0; i < cur->ninstances; i++)
        if (strcmp(objects_ns(cur, i), ns) == 0 && path_matches(cur->instances[i], cls, keys))
            return (long)i;
    return -1;
}

/* Was instance @i of @cur created at run time (from this repository)? */
static bool
is_runtime(const struct wmid_repo *r, const struct wmid_objects *cur, size_t i)
{
    const char *origin = json_string_value(json_array_get(cur->origins, i));
    size_t n = strlen(r->path);
    return origin != NULL && strncmp(origin, r->path, n) == 0 && origin[n] == ':';
}

/* Classes whose instances only administrators may create or change: they
 * decide which code the daemon loads and how long it stays loaded, or
 * (__Namespace) where everyone's objects live. */
static bool
admin_only(const wmi_object *o)
{
    return wmi_object_isa(o, "__Provider") || wmi_object_isa(o, "__ProviderRegistration") ||
           wmi_object_isa(o, "__CacheControl") || wmi_object_isa(o, "__Namespace");
}

/* The namespace of a document entry (normalized in the file already). */
static const char *
entry_ns(const json_t *e)
{
    const char *ns = json_string_value(json_object_get(e, "Namespace"));
    return ns != NULL ? ns : WMID_NS_DEFAULT;
}

/* The index in the document of the runtime object at @ns:@path, or -1. */
static long
doc_index(const json_t *doc, const wmi_schema *schema, const char *ns, const char *cls, const json_t *keys)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "Objects"), i, e) {
        wmi_object *o = NULL;
        wmi_error err;
        if (strcmp(entry_ns(e), ns) != 0 ||
            WMI_FAILED(wmi_object_from_json(schema, json_object_get(e, "Instance"), &o, &err)))
            continue;
        bool m = path_matches(o, cls, keys);
        wmi_object_unref(o);
        if (m)
            return (long)i;
    }
    return -1;
}

/* Does namespace @ns exist, in the current load or created by a
 * __Namespace instance of @doc (earlier in the same MofComp)? */
static bool
ns_known(const struct wmid_objects *cur, const json_t *doc, const char *ns)
{
    if (ns_exists(cur->namespaces, ns))
        return true;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "Objects"), i, e) {
        const json_t *inst = json_object_get(e, "Instance");
        const char *cls = json_string_value(json_object_get(inst, "__CLASS"));
        const char *name = json_string_value(json_object_get(inst, "Name"));
        size_t pl = strlen(entry_ns(e));
        if (cls != NULL && name != NULL && strcasecmp(cls, "__Namespace") == 0 &&
            strncmp(ns, entry_ns(e), pl) == 0 && ns[pl] == '\\' && strcasecmp(ns + pl + 1, name) == 0)
            return true;
    }
    return false;
}

/* The namespace of a request: its path's ("root\\cimv2:Class..."), else
 * @ns (the request's "Namespace"), else WMID_NS_DEFAULT; normalized and
 * checked (new string, or NULL with @err: WBEM_E_INVALID_NAMESPACE). */
static char *
repo_request_ns(const struct wmid_objects *cur, const json_t *doc, const char *path_ns, const char *ns, wmi_error *err)
{
    char *out = path_ns != NULL ? strdup(path_ns) : ns_normalize(ns != NULL ? ns : WMID_NS_DEFAULT);
    if (out == NULL || !ns_is_valid(out) || !ns_known(cur, doc, out)) {
        wmid_fail(err, WBEM_E_INVALID_NAMESPACE, "Namespace", "namespace %s does not exist",
             out ? out : (path_ns ? path_ns : ns ? ns : "?"));
        free(out);
        return NULL;
    }
    return out;
}

/* ====================================================================
 * Requests
 * ==================================================================== */

/* An instance as requests return it: its properties plus __RELPATH and
 * __NAMESPACE (new reference). */
static json_t *
instance_json(const wmi_object *o, const char *ns)
{
    json_t *j = json_deep_copy(wmi_object_json(o));
    char *rel = wmi_object_get_path(o);
    if (j != NULL && rel != NULL)
        json_object_set_new(j, "__RELPATH", json_string(rel));
    if (j != NULL)
        json_object_set_new(j, "__NAMESPACE", json_string(ns));
    free(rel);
    return j;
}

json_t *
repo_get(const struct wmid_repo *r, const struct wmid_objects *cur, const char *ns, const char *path, wmi_status *st)
{
    char *cls = NULL, *pns = NULL;
    json_t *keys = NULL;
    const char *rel = ns_split_path(path, &pns);
    wmi_error err;
    char *where = NULL;
    if (rel == NULL || WMI_FAILED(wmi_path_parse(rel, &cls, &keys))) {
        free(pns);
        *st = WBEM_E_INVALID_OBJECT_PATH;
        return NULL;
    }
    json_t *out = NULL;
    long i = -1;
    if ((where = repo_request_ns(cur, NULL, pns, ns, &err)) == NULL) {
        *st = err.status;
    } else if ((i = find_object(cur, where, cls, keys)) >= 0) {
        out = json_object();
        json_object_set_new(out, "Object", instance_json(cur->instances[i], where));
        json_object_set_new(out, "Origin", json_string(is_runtime(r, cur, (size_t)i) ? "runtime" : "config"));
        json_object_set(out, "Source", json_array_get(cur->origins, (size_t)i));
        struct sec_identity who;
        sec_identity_from_uid(&who, cur->owners ? cur->owners[i] : -1, -1);
        json_object_set_new(out, "CreatorSID", json_string(who.sid));
        *st = WBEM_S_NO_ERROR;
    } else if (wmi_schema_get_class(cur->schema, cls) == NULL || !ns_class_in(cur->class_ns, cls, where)) {
        *st = WBEM_E_INVALID_CLASS;
    } else {
        *st = WBEM_E_NOT_FOUND;
    }
    free(where);
    free(pns);
    free(cls);
    json_decref(keys);
    return out;
}

json_t *
repo_enum_instances(const struct wmid_objects *cur, const char *ns, const char *cls, wmi_status *st)
{
    wmi_error err;
    char *where = repo_request_ns(cur, NULL, NULL, ns, &err);
    if (where == NULL) {
        *st = err.status;
        return NULL;
    }
    if (wmi_schema_get_class(cur->schema, cls) == NULL || !ns_class_in(cur->class_ns, cls, where)) {
        free(where);
        *st = WBEM_E_INVALID_CLASS;
        return NULL;
    }
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < cur->ninstances; i++)
        if (strcmp(objects_ns(cur, i), where) == 0 && wmi_object_isa(cur->instances[i], cls))
            json_array_append_new(list, instance_json(cur->instances[i], where));
    free(where);
    *st = list != NULL ? WBEM_S_NO_ERROR : WBEM_E_OUT_OF_MEMORY;
    return list;
}

wmi_status
repo_put_in(struct wmid_repo *r, const json_t *base, const struct wmid_objects *cur, const struct sec_identity *who,
            const char *ns, const json_t *instance, unsigned flags, json_t **newdoc, wmi_error *err)
{
    wmi_object *o = NULL;
    *newdoc = NULL;
    const char *ins = json_string_value(json_object_get(instance, "__NAMESPACE"));
    char *where = repo_request_ns(cur, base, NULL, ns != NULL ? ns : ins, err);
    if (where == NULL)
        return err->status;
    const char *cname = json_string_value(json_object_get(instance, "__CLASS"));
    if (cname != NULL && !ns_class_in(cur->class_ns, cname, where)) {
        wmid_fail(err, WBEM_E_INVALID_CLASS, "Instance", "class %s is in namespace %s, not in %s", cname,
             ns_class_home(cur->class_ns, cname), where);
        free(where);
        return err->status;
    }
    if (WMI_FAILED(wmi_object_from_json(cur->schema, instance, &o, err))) {
        if (err->source[0] == '\0')
            wmi_error_set(err, err->status, "Instance", err->line, err->column, "%s", err->text);
        free(where);
        return err->status;
    }
    wmi_status st = WBEM_S_NO_ERROR;
    char *cls = NULL, *path = wmi_object_get_path(o);
    json_t *keys = NULL;
    if (!repository_holds(wmi_object_class(o))) {
        wmid_fail(err, WBEM_E_INVALID_OPERATION, "Instance",
             "instances of %s are not kept in the repository (provider classes and events are read-only)",
             wmi_object_class_name(o));
    } else if (admin_only(o) && !who->admin) {
        wmid_fail(err, WBEM_E_ACCESS_DENIED, "Instance", "only administrators may create or change %s instances",
             wmi_object_class_name(o));
    } else if (path == NULL || WMI_FAILED(wmi_path_parse(path, &cls, &keys))) {
        wmid_fail(err, WBEM_E_INVALID_OBJECT, "Instance", "the instance's key properties are not all set");
    } else {
        long i = find_object(cur, where, cls, keys);
        bool exists = i >= 0;
        if (exists && !is_runtime(r, cur, (size_t)i)) {
            wmid_fail(err, WBEM_E_ACCESS_DENIED, json_string_value(json_array_get(cur->origins, (size_t)i)),
                 "%s is declared in the object dir; change it there, not at run time", path);
        } else if (exists && !who->admin && (cur->owners == NULL || cur->owners[i] != who->uid)) {
            wmid_fail(err, WBEM_E_ACCESS_DENIED, "Instance", "%s was created by someone else", path);
        } else if (exists && (flags & 0x3) == WMID_PUT_CREATE_ONLY) {
            wmid_fail(err, WBEM_E_ALREADY_EXISTS, "Instance", "%s exists (WBEM_FLAG_CREATE_ONLY)", path);
        } else if (!exists && (flags & 0x3) == WMID_PUT_UPDATE_ONLY) {
            wmid_fail(err, WBEM_E_NOT_FOUND, "Instance", "%s does not exist (WBEM_FLAG_UPDATE_ONLY)", path);
        } else {
            long di = doc_index(base, cur->schema, where, cls, keys);
            if (!exists && di >= 0 && (flags & 0x3) == WMID_PUT_CREATE_ONLY) {
                /* Created earlier in the same batch (MofComp). */
                wmid_fail(err, WBEM_E_ALREADY_EXISTS, "Instance", "%s exists (WBEM_FLAG_CREATE_ONLY)", path);
                goto out;
            }
            json_t *doc = json_deep_copy(base);
            json_t *list = json_object_get(doc, "Objects");
            /* The creator stays who created it, as CreatorSID does. */
            json_int_t creator = di >= 0 ? json_integer_value(json_object_get(json_array_get(list, (size_t)di),
                                                                               "CreatorUid"))
                                         : (json_int_t)who->uid;
            json_t *e = json_pack("{sOsIss}", "Instance", wmi_object_json(o), "CreatorUid", creator, "Namespace",
                                  where);
            if (doc == NULL || e == NULL) {
                json_decref(doc);
                json_decref(e);
                wmid_fail(err, WBEM_E_OUT_OF_MEMORY, "", "out of memory");
            } else {
                if (di >= 0)
                    json_array_set_new(list, (size_t)di, e);
                else
                    json_array_append_new(list, e);
                *newdoc = doc;
            }
        }
    }
out:
    st = *newdoc != NULL ? WBEM_S_NO_ERROR : err->status;
    free(where);
    free(cls);
    free(path);
    json_decref(keys);
    wmi_object_unref(o);
    return st;
}

/* Is @ns namespace @top or one below it? */
static bool
ns_within(const char *ns, const char *top)
{
    size_t n = strlen(top);
    return strncmp(ns, top, n) == 0 && (ns[n] == '\0' || ns[n] == '\\');
}

/* Deleting a namespace deletes what it holds, and the namespaces below
 * it, as in WMI: the runtime entries of @doc in namespace @ns\@name and
 * below go.  Whatever the object dir keeps there makes the reload refuse
 * the change. */
static void
drop_namespace(json_t *doc, const char *ns, const char *name)
{
    char *gone = NULL;
    if (asprintf(&gone, "%s\\%s", ns, name) < 0)
        return;
    char *norm = ns_normalize(gone);
    free(gone);
    /* The base namespaces always exist: deleting the record of one (a
     * MOF's "instance of __Namespace { Name = "cimv2"; }") deletes the
     * record only. */
    if (norm != NULL && ns_exists(NULL, norm)) {
        free(norm);
        return;
    }
    static const char *const lists[] = {"Objects", "Classes"};
    for (size_t l = 0; norm != NULL && l < 2; l++) {
        json_t *list = json_object_get(doc, lists[l]);
        for (size_t k = json_array_size(list); k-- > 0;)
            if (ns_within(entry_ns(json_array_get(list, k)), norm))
                json_array_remove(list, k);
    }
    free(norm);
}

wmi_status
repo_delete_in(struct wmid_repo *r, const json_t *base, const struct wmid_objects *cur, const struct sec_identity *who,
               const char *ns, const char *path, json_t **newdoc, wmi_error *err)
{
    char *cls = NULL, *pns = NULL, *where = NULL;
    json_t *keys = NULL;
    *newdoc = NULL;
    const char *rel = ns_split_path(path, &pns);
    if (rel == NULL || WMI_FAILED(wmi_path_parse(rel, &cls, &keys))) {
        free(pns);
        wmid_fail(err, WBEM_E_INVALID_OBJECT_PATH, "Path", "\"%s\" is not an object path", path ? path : "");
        return err->status;
    }
    long i = -1;
    if ((where = repo_request_ns(cur, base, pns, ns, err)) == NULL) {
        /* @err says why */
    } else if (wmi_schema_get_class(cur->schema, cls) == NULL || !ns_class_in(cur->class_ns, cls, where)) {
        wmid_fail(err, WBEM_E_INVALID_CLASS, "Path", "no class %s in namespace %s", cls, where);
    } else if ((i = find_object(cur, where, cls, keys)) < 0) {
        wmid_fail(err, WBEM_E_NOT_FOUND, "Path", "no object %s in namespace %s", rel, where);
    } else if (!is_runtime(r, cur, (size_t)i)) {
        wmid_fail(err, WBEM_E_ACCESS_DENIED, json_string_value(json_array_get(cur->origins, (size_t)i)),
             "%s is declared in the object dir; remove it there", path);
    } else if (!who->admin && (cur->owners == NULL || cur->owners[i] != who->uid)) {
        wmid_fail(err, WBEM_E_ACCESS_DENIED, "Path", "%s was created by someone else", path);
    } else if (admin_only(cur->instances[i]) && !who->admin) {
        wmid_fail(err, WBEM_E_ACCESS_DENIED, "Path", "only administrators may delete %s instances",
             wmi_object_class_name(cur->instances[i]));
    } else {
        long di = doc_index(base, cur->schema, where, cls, keys);
        json_t *doc = json_deep_copy(base);
        if (doc == NULL || di < 0) {
            json_decref(doc);
            wmid_fail(err, WBEM_E_FAILED, r->path, "the object is not in the repository file");
        } else {
            json_array_remove(json_object_get(doc, "Objects"), (size_t)di);
            const char *name = NULL;
            if (wmi_object_isa(cur->instances[i], "__Namespace") &&
                wmi_object_get_string(cur->instances[i], "Name", &name) == WBEM_S_NO_ERROR && name != NULL)
                drop_namespace(doc, where, name);
            *newdoc = doc;
        }
    }
    free(where);
    free(pns);
    free(cls);
    json_decref(keys);
    return *newdoc != NULL ? WBEM_S_NO_ERROR : err->status;
}

/* ====================================================================
 * Classes
 * ==================================================================== */

/* The index of runtime class @name in @doc's "Classes", or -1. */
static long
class_index(const json_t *doc, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "Classes"), i, e) {
        const char *n = json_string_value(json_object_get(json_object_get(e, "Class"), "__CLASS"));
        if (n != NULL && strcasecmp(n, name) == 0)
            return (long)i;
    }
    return -1;
}

wmi_status
repo_put_class_in(struct wmid_repo *r, const json_t *base, const struct wmid_objects *cur,
                  const struct sec_identity *who, const char *ns, const json_t *cls, unsigned flags, json_t **newdoc,
                  wmi_error *err)
{
    (void)r;
    *newdoc = NULL;
    const char *name = json_string_value(json_object_get(cls, "__CLASS"));
    if (!json_is_object(cls) || name == NULL || name[0] == '\0') {
        wmid_fail(err, WBEM_E_INVALID_PARAMETER, "Class", "a class definition is an object with \"__CLASS\"");
        return err->status;
    }
    if (!who->admin) {
        wmid_fail(err, WBEM_E_ACCESS_DENIED, "Class", "only administrators may create or change classes");
        return err->status;
    }
    const char *cns = json_string_value(json_object_get(cls, "__NAMESPACE"));
    char *where = repo_request_ns(cur, base, NULL, ns != NULL ? ns : cns, err);
    if (where == NULL)
        return err->status;
    long ci = class_index(base, name);
    bool known = wmi_schema_get_class(cur->schema, name) != NULL;
    const char *home = ci >= 0 ? entry_ns(json_array_get(json_object_get(base, "Classes"), (size_t)ci))
                               : ns_class_home(cur->class_ns, name);
    if (known && ci < 0)
        wmid_fail(err, WBEM_E_ACCESS_DENIED, "Class", "class %s is built in or defined in the object dir", name);
    else if (home != NULL && strcmp(home, where) != 0)
        wmid_fail(err, WBEM_E_ALREADY_EXISTS, "Class",
             "class %s is defined in namespace %s (class names are unique across namespaces here)", name, home);
    else if (ci >= 0 && (flags & 0x3) == WMID_PUT_CREATE_ONLY)
        wmid_fail(err, WBEM_E_ALREADY_EXISTS, "Class", "class %s exists (WBEM_FLAG_CREATE_ONLY)", name);
    else if (ci < 0 && (flags & 0x3) == WMID_PUT_UPDATE_ONLY)
        wmid_fail(err, WBEM_E_NOT_FOUND, "Class", "class %s does not exist (WBEM_FLAG_UPDATE_ONLY)", name);
    else
        err->status = WBEM_S_NO_ERROR;
    /* Check it on its own against the current classes: the reload checks
     * it again with everything else. */
    json_t *doc = WMI_SUCCEEDED(err->status) ? json_deep_copy(base) : NULL;
    json_t *def = doc != NULL ? json_deep_copy(cls) : NULL;
    if (WMI_SUCCEEDED(err->status) &&
        (def == NULL ||
         (json_object_get(doc, "Classes") == NULL && json_object_set_new(doc, "Classes", json_array())))) {
        json_decref(doc);
        json_decref(def);
        free(where);
        wmid_fail(err, WBEM_E_OUT_OF_MEMORY, "", "out of memory");
        return err->status;
    }
    if (WMI_FAILED(err->status)) {
        free(where);
        return err->status;
    }
    /* The namespace is the entry's, not the definition's. */
    json_object_del(def, "__NAMESPACE");
    json_t *e = json_pack("{sosIss}", "Class", def, "CreatorUid", (json_int_t)who->uid, "Namespace", where);
    free(where);
    if (ci >= 0)
        json_array_set_new(json_object_get(doc, "Classes"), (size_t)ci, e);
    else
        json_array_append_new(json_object_get(doc, "Classes"), e);
    *newdoc = doc;
    return WBEM_S_NO_ERROR;
}

wmi_status
repo_delete_class_in(struct wmid_repo *r, const json_t *base, const struct wmid_objects *cur,
                     const struct sec_identity *who, const char *ns, const char *name, json_t **newdoc,
                     wmi_error *err)
{
    (void)r;
    *newdoc = NULL;
    if (name == NULL || !who->admin) {
        wmid_fail(err, name == NULL ? WBEM_E_INVALID_PARAMETER : WBEM_E_ACCESS_DENIED, "ClassName",
             name == NULL ? "DeleteClass needs \"ClassName\"" : "only administrators may delete classes");
        return err->status;
    }
    char *where = repo_request_ns(cur, base, NULL, ns, err);
    if (where == NULL)
        return err->status;
    const wmi_class *target = wmi_schema_get_class(cur->schema, name);
    bool here = target != NULL && ns_class_in(cur->class_ns, name, where);
    if (!here)
        wmid_fail(err, WBEM_E_NOT_FOUND, "ClassName", "no class %s in namespace %s", name, where);
    else if (class_index(base, name) < 0)
        wmid_fail(err, WBEM_E_ACCESS_DENIED, "ClassName", "class %s is built in or defined in the object dir", name);
    free(where);
    if (!here || class_index(base, name) < 0)
        return err->status;
    /* The class, its runtime subclasses and their runtime instances go;
     * anything of the object dir that needs them makes the reload fail. */
    json_t *doc = json_deep_copy(base);
    json_t *classes = json_object_get(doc, "Classes"), *objects = json_object_get(doc, "Objects");
    for (size_t i = json_array_size(classes); i-- > 0;) {
        const char *n = json_string_value(json_object_get(json_object_get(json_array_get(classes, i), "Class"), "__CLASS"));
        const wmi_class *c = n ? wmi_schema_get_class(cur->schema, n) : NULL;
        if (c != NULL && wmi_class_isa(c, wmi_class_name(target)))
            json_array_remove(classes, i);
    }
    for (size_t i = json_array_size(objects); i-- > 0;) {
        const char *n = json_string_value(json_object_get(json_object_get(json_array_get(objects, i), "Instance"), "__CLASS"));
        const wmi_class *c = n ? wmi_schema_get_class(cur->schema, n) : NULL;
        if (c != NULL && wmi_class_isa(c, wmi_class_name(target)))
            json_array_remove(objects, i);
    }
    *newdoc = doc;
    return WBEM_S_NO_ERROR;
}

struct enum_ctx {
    const json_t *class_ns;
    const char *ns;              /* NULL: every namespace */
    const char *super;
    bool deep;
    json_t *out;
};

static bool
enum_one(const wmi_class *c, void *arg)
{
    struct enum_ctx *e = arg;
    const wmi_class *sup = wmi_class_superclass(c);
    bool take;
    if (e->ns != NULL && !ns_class_in(e->class_ns, wmi_class_name(c), e->ns))
        return true;
    if (e->super == NULL)
        take = e->deep || sup == NULL;
    else if (e->deep)
        take = strcasecmp(wmi_class_name(c), e->super) != 0 && wmi_class_isa(c, e->super);
    else
        take = sup != NULL && strcasecmp(wmi_class_name(sup), e->super) == 0;
    if (take) {
        json_t *j = wmi_class_to_json(c);
        const char *home = ns_class_home(e->class_ns, wmi_class_name(c));
        if (j != NULL && home != NULL)
            json_object_set_new(j, "__NAMESPACE", json_string(home));
        if (j != NULL)
            json_array_append_new(e->out, j);
    }
    return true;
}

json_t *
repo_enum_classes(const struct wmid_objects *cur, const char *ns, const char *super, bool deep, wmi_status *st)
{
    char *where = NULL;
    if (ns == NULL || strcmp(ns, "*") != 0) {
        wmi_error err;
        if ((where = repo_request_ns(cur, NULL, NULL, ns, &err)) == NULL) {
            *st = err.status;
            return NULL;
        }
    }
    if (super != NULL && (wmi_schema_get_class(cur->schema, super) == NULL ||
                          (where != NULL && !ns_class_in(cur->class_ns, super, where)))) {
        free(where);
        *st = WBEM_E_INVALID_CLASS;
        return NULL;
    }
    struct enum_ctx e = {cur->class_ns, where, super, deep, json_array()};
    wmi_schema_foreach_class(cur->schema, enum_one, &e);
    free(where);
    *st = WBEM_S_NO_ERROR;
    return e.out;
}

/* Event classes have no instances, and the CIM classes under
 * CIM_ManagedSystemElement (Win32_Process, CIM_DataFile, ...) come from
 * their instance providers: neither is the repository's. */
bool
repository_holds(const wmi_class *target)
{
    return !wmi_class_isa(target, "__Event") && !wmi_class_isa(target, "__AggregateEvent") &&
           !wmi_class_isa(target, "CIM_ManagedSystemElement");
}
