/*
 * repo.h - the repository at run time (repo.c): objects created by
 * PutInstance, kept in <state_dir>/repository.json, and the GetObject,
 * PutInstance and DeleteInstance requests.  Loop thread.
 */
#ifndef WMID_REPO_H
#define WMID_REPO_H

#include "daemon/wmieventd.h"
#include "daemon/config/config.h"
#include "daemon/config/security.h"

/* PutInstance flags (WBEM_CHANGE_FLAG_TYPE). */
#define WMID_PUT_CREATE_OR_UPDATE 0x0u  /* WBEM_FLAG_CREATE_OR_UPDATE */
#define WMID_PUT_UPDATE_ONLY      0x1u  /* WBEM_FLAG_UPDATE_ONLY */
#define WMID_PUT_CREATE_ONLY      0x2u  /* WBEM_FLAG_CREATE_ONLY */

struct wmid_repo;

/* Open <state_dir>/repository.json (absent: empty).  NULL with @err naming
 * the file (and line, column) when it cannot be read or parsed. */
struct wmid_repo *repo_open(const char *state_dir, wmi_error *err);
void repo_close(struct wmid_repo *r);
/* The current document (borrowed): {"Version": 1, "Objects": [{"Instance":
 * {...}, "CreatorUid": n}]}. */
const json_t *repo_doc(const struct wmid_repo *r);
/* The file's path (the origin of runtime objects: "<path>: object N ..."). */
const char *repo_path(const struct wmid_repo *r);
/* Write @doc atomically (temporary file, fsync, rename, fsync of the
 * directory) and make it current (a reference is taken). */
bool repo_save(struct wmid_repo *r, json_t *doc, wmi_error *err);

/*
 * Namespaces: @ns is the request's "Namespace" (any spelling; NULL:
 * WMID_NS_DEFAULT).  A path may name its own ("root\\cimv2:Class.Key=1"),
 * and an instance or class definition its "__NAMESPACE"; the path's wins,
 * then @ns, then the object's.  A namespace that does not exist gives
 * WBEM_E_INVALID_NAMESPACE.
 */

/*
 * GetObject: the object of @cur (config or runtime) at @path, as
 * {"Object": {... "__RELPATH", "__NAMESPACE"}, "Origin": "config"|"runtime",
 * "Source": "<file: object N ...>", "CreatorSID": "S-1-..."} (new
 * reference), or NULL with *@st: WBEM_E_INVALID_OBJECT_PATH,
 * WBEM_E_INVALID_NAMESPACE, WBEM_E_INVALID_CLASS (not a class of the
 * namespace), WBEM_E_NOT_FOUND.
 */
json_t *repo_get(const struct wmid_repo *r, const struct wmid_objects *cur, const char *ns, const char *path,
                 wmi_status *st);
/* EnumInstances of a repository class: the instances of @cls and its
 * subclasses in namespace @ns, as GetObject gives them (new array), or NULL
 * with *@st (WBEM_E_INVALID_NAMESPACE, WBEM_E_INVALID_CLASS). */
json_t *repo_enum_instances(const struct wmid_objects *cur, const char *ns, const char *cls, wmi_status *st);

/*
 * PutInstance and DeleteInstance, from the document @base (the current one,
 * repo_doc, or a batch's: MofComp applies its operations one after
 * another): check the request against @cur and @who, and on success give
 * the document the repository would hold afterwards (*@newdoc, new
 * reference): the caller rebuilds with it and saves it (repo_save) only if
 * the rebuild succeeds.  Otherwise the status with @err (field or file, and
 * why): WBEM_E_ACCESS_DENIED (an object of the object dir, one created by
 * someone else, or a provider, registration, cache control or namespace by
 * a non-administrator), WBEM_E_ALREADY_EXISTS, WBEM_E_NOT_FOUND,
 * WBEM_E_INVALID_NAMESPACE, WBEM_E_INVALID_CLASS (a class of another
 * namespace), WBEM_E_INVALID_OPERATION (a provider class or an event),
 * WBEM_E_INVALID_OBJECT (keys missing), or the instance's own validation
 * status.  Deleting a __Namespace instance deletes the runtime objects and
 * classes of that namespace and the ones below it.
 */
wmi_status repo_put_in(struct wmid_repo *r, const json_t *base, const struct wmid_objects *cur,
                       const struct sec_identity *who, const char *ns, const json_t *instance, unsigned flags,
                       json_t **newdoc, wmi_error *err);
wmi_status repo_delete_in(struct wmid_repo *r, const json_t *base, const struct wmid_objects *cur,
                          const struct sec_identity *who, const char *ns, const char *path, json_t **newdoc,
                          wmi_error *err);

/*
 * PutClass and DeleteClass (administrators only): classes created at run
 * time, kept in the document's "Classes" ([{"Class": {...}, "CreatorUid":
 * n, "Namespace": "root\\..."}]).  A built-in class or one of the object
 * dir cannot be changed or deleted (WBEM_E_ACCESS_DENIED), nor can a class
 * be defined in two namespaces (WBEM_E_ALREADY_EXISTS); deleting a class
 * deletes its runtime subclasses and their runtime instances, as WMI does.
 * Same contract as repo_put_in.
 */
wmi_status repo_put_class_in(struct wmid_repo *r, const json_t *base, const struct wmid_objects *cur,
                             const struct sec_identity *who, const char *ns, const json_t *cls, unsigned flags,
                             json_t **newdoc, wmi_error *err);
wmi_status repo_delete_class_in(struct wmid_repo *r, const json_t *base, const struct wmid_objects *cur,
                                const struct sec_identity *who, const char *ns, const char *name, json_t **newdoc,
                                wmi_error *err);

/* EnumClasses: the classes of namespace @ns ("*": every namespace) derived
 * from @super (NULL: every class), all of them (@deep) or the direct
 * subclasses only, as class JSON with "__NAMESPACE" for the classes that
 * are not built in (new array); NULL with *@st (WBEM_E_INVALID_NAMESPACE,
 * WBEM_E_INVALID_CLASS). */
json_t *repo_enum_classes(const struct wmid_objects *cur, const char *ns, const char *super, bool deep,
                          wmi_status *st);

/* May the repository hold instances of @target (not an event class, not a
 * class of an instance provider)?  Any thread: a property of the class. */
bool repository_holds(const wmi_class *target);

#endif /* WMID_REPO_H */
