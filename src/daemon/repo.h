/*
 * repo.h - the repository at run time (repo.c): objects created by
 * PutInstance, kept in <state_dir>/repository.json, and the GetObject,
 * PutInstance and DeleteInstance requests.  Loop thread.
 */
#ifndef WMID_REPO_H
#define WMID_REPO_H

#include "daemon/wmieventd.h"

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
 * GetObject: the object of @cur (config or runtime) at @path, as
 * {"Object": {... "__RELPATH"}, "Origin": "config"|"runtime", "Source":
 * "<file: object N ...>", "CreatorSID": "S-1-..."} (new reference), or
 * NULL with *@st: WBEM_E_INVALID_OBJECT_PATH, WBEM_E_INVALID_CLASS,
 * WBEM_E_NOT_FOUND.
 */
json_t *repo_get(const struct wmid_repo *r, const struct wmid_objects *cur, const char *path, wmi_status *st);

/*
 * PutInstance and DeleteInstance: check the request against @cur and
 * @who, and on success give the document the repository would hold
 * afterwards (*@newdoc, new reference): the caller rebuilds with it and
 * saves it (repo_save) only if the rebuild succeeds.  Otherwise the status
 * with @err (field or file, and why): WBEM_E_ACCESS_DENIED (an object of
 * the object dir, one created by someone else, or a provider,
 * registration or cache control by a non-administrator),
 * WBEM_E_ALREADY_EXISTS, WBEM_E_NOT_FOUND, WBEM_E_INVALID_OPERATION (a
 * provider class or an event), WBEM_E_INVALID_OBJECT (keys missing), or
 * the instance's own validation status.
 */
wmi_status repo_put(struct wmid_repo *r, const struct wmid_objects *cur, const struct sec_identity *who,
                    const json_t *instance, unsigned flags, json_t **newdoc, wmi_error *err);
wmi_status repo_delete(struct wmid_repo *r, const struct wmid_objects *cur, const struct sec_identity *who,
                       const char *path, json_t **newdoc, wmi_error *err);
/* The same from the document @base instead of the current one (a batch:
 * MofComp applies its operations one after another). */
wmi_status repo_put_in(struct wmid_repo *r, const json_t *base, const struct wmid_objects *cur,
                       const struct sec_identity *who, const json_t *instance, unsigned flags, json_t **newdoc,
                       wmi_error *err);
wmi_status repo_delete_in(struct wmid_repo *r, const json_t *base, const struct wmid_objects *cur,
                          const struct sec_identity *who, const char *path, json_t **newdoc, wmi_error *err);

/*
 * PutClass and DeleteClass (administrators only): classes created at run
 * time, kept in the document's "Classes" ([{"Class": {...}, "CreatorUid":
 * n}]).  A built-in class or one of the object dir cannot be changed or
 * deleted (WBEM_E_ACCESS_DENIED); deleting a class deletes its runtime
 * subclasses and their runtime instances, as WMI does.  Same contract as
 * repo_put.
 */
wmi_status repo_put_class_in(struct wmid_repo *r, const json_t *base, const struct wmid_objects *cur,
                             const struct sec_identity *who, const json_t *cls, unsigned flags, json_t **newdoc,
                             wmi_error *err);
wmi_status repo_delete_class_in(struct wmid_repo *r, const json_t *base, const struct wmid_objects *cur,
                                const struct sec_identity *who, const char *name, json_t **newdoc, wmi_error *err);

/* EnumClasses: the classes derived from @super (NULL: every class), all of
 * them (@deep) or the direct subclasses only, as class JSON (new array). */
json_t *repo_enum_classes(const wmi_schema *schema, const char *super, bool deep, wmi_status *st);

#endif /* WMID_REPO_H */
