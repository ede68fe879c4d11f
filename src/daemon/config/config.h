/*
 * config.h - the configuration: settings and object files (config.c), namespaces (namespace.c),
 * identities and security descriptors (security.c), and the repository of objects created at
 * run time (repository.c).  The one header of src/daemon/config.
 */
#ifndef WMID_CONFIG_CONFIG_H
#define WMID_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include "wmievent/status.h"
#include "daemon/wmieventd.h"

/* ====================================================================
 * security.c - identities, rights and security descriptors for event
 * security, as WMI has them (docs/security.md).  Two checks use this
 * module.  A sink's descriptor says which subscribers may receive its
 * events (WBEM_RIGHT_SUBSCRIBE, checked against the subscription's
 * CreatorSID), and __EventFilter.EventAccess says which publishers may
 * deliver to a filter (WBEM_RIGHT_PUBLISH, checked against the socket
 * peer's uid or the provider's identity).  Both descriptors are written in
 * a small, documented subset of SDDL; anything outside it is refused with
 * an error naming the column and the token, never skipped, since an ACE
 * that is silently dropped changes who gets access.  Identities are Linux
 * users seen as SIDs, the way Samba and sssd map them (S-1-22-1-<uid>,
 * S-1-22-2-<gid>); root and members of the configured admin group are the
 * Administrators SID S-1-5-32-544, which is what WMI records as the
 * CreatorSID of anything an administrator creates.  The module is
 * self-contained: it uses libc and the WBEM status codes only, has no
 * global state, and a parsed descriptor is immutable, so
 * sec_descriptor_allows and sec_descriptor_to_string may be called from any
 * thread at once (delivery threads included).
 * ==================================================================== */

/* Room for a SID string and its NUL: longer SIDs are refused everywhere,
 * so that every SID a descriptor holds fits in a sec_identity. */
#define SEC_SID_MAX 64
/* The most groups an identity records (see groups_truncated). */
#define SEC_MAX_GROUPS 64
/* The most ACEs one descriptor may hold. */
#define SEC_MAX_ACES 64
/* The longest SDDL text accepted, in characters.  Every descriptor within
 * SEC_MAX_ACES and SEC_SID_MAX prints (sec_descriptor_to_string) in fewer
 * than 5000 characters, so the canonical form of anything accepted is
 * always accepted again. */
#define SEC_MAX_SDDL 8192

/* Well-known SIDs. */
#define SEC_SID_EVERYONE       "S-1-1-0"      /* WD */
#define SEC_SID_LOCAL_SYSTEM   "S-1-5-18"     /* SY */
#define SEC_SID_AUTHENTICATED  "S-1-5-11"     /* AU */
#define SEC_SID_ADMINISTRATORS "S-1-5-32-544" /* BA */

/*
 * An identity: who created a subscription (CreatorSID) or who publishes
 * events.  Build it with sec_identity_from_uid or sec_identity_from_sid;
 * a hand-made one works too (sid matching falls back to the string).
 */
struct sec_identity {
    char sid[SEC_SID_MAX];       /* "S-1-22-1-<uid>", or "S-1-5-32-544" (Administrators) for root and
                                  * admin-group members; "" for an unknown identity */
    long uid;                    /* -1 when unknown */
    bool admin;                  /* root or a member of the admin group */
    size_t ngroups;
    long groups[SEC_MAX_GROUPS]; /* the user's gids (getgrouplist), for S-1-22-2-<gid> ACEs */
    /* Set when the user has more groups than fit above.  A deny ACE naming
     * a group that is not listed then matches anyway, so that a lost group
     * can only ever take access away, never grant it. */
    bool groups_truncated;
};

/*
 * The identity of a Linux user: uid 0, or a member of @admin_gid (-1:
 * none), is Administrators, as WMI records administrators.  The groups come
 * from the passwd and group databases (getpwuid_r, getgrouplist), which
 * may go through NSS to sssd or LDAP and block: build identities when a
 * connection is accepted or a subscription is created, not per event.  A
 * user the passwd database does not know has no groups.  A negative @uid,
 * or one that is not a valid uid_t, is an unknown identity: sid "", uid -1,
 * matched only by Everyone.  Thread-safe.
 */
void sec_identity_from_uid(struct sec_identity *id, long uid, long admin_gid);

/*
 * The identity of a SID string as stored (S-1-22-1-uid, S-1-5-32-544, ...);
 * false for a malformed SID (see docs/security.md: numeric form, no leading
 * zeros, at most SEC_SID_MAX - 1 characters), with @id set to the unknown
 * identity.  id->sid is always the SID given, and:
 *   S-1-22-1-<uid>   that user, with groups and admin as sec_identity_from_uid
 *                    finds them now (membership is live, as a new login sees it)
 *   S-1-5-18         LocalSystem: root (uid 0, admin, root's groups)
 *   S-1-5-32-544     Administrators: admin, uid -1, groups {@admin_gid}
 *   S-1-22-2-<gid>   that group: uid -1, groups {gid}, admin when gid is @admin_gid
 *   anything else    uid -1, no groups, not admin: matched by Everyone and by
 *                    ACEs naming the identical SID
 */
bool sec_identity_from_sid(struct sec_identity *id, const char *sid, long admin_gid);

/* Rights (WMI's WBEM_RIGHT_*): */
#define SEC_RIGHT_SUBSCRIBE 0x40u   /* WBEM_RIGHT_SUBSCRIBE */
#define SEC_RIGHT_PUBLISH   0x80u   /* WBEM_RIGHT_PUBLISH */
/* Every right a descriptor may name: WMI's WBEM_SECURITY_FLAGS 0x1 to 0x80
 * (WBEM_ENABLE ... WBEM_RIGHT_PUBLISH).  The daemon checks only the two
 * above; the others are kept and printed so that a descriptor means what
 * its author wrote. */
#define SEC_RIGHTS_ALL      0xFFu

struct sec_descriptor;   /* opaque: a parsed DACL, with its owner and group */

/*
 * Parse the SDDL subset (docs/security.md); NULL with @err filled (when not
 * NULL) on failure.  err->status is WBEM_E_INVALID_PARAMETER for text that
 * is not SDDL, WBEM_E_NOT_SUPPORTED for SDDL outside the subset (SACLs,
 * object ACEs, inheritance flags, other aliases), WBEM_E_QUOTA_VIOLATION
 * over SEC_MAX_SDDL or SEC_MAX_ACES, WBEM_E_OUT_OF_MEMORY; err->column is
 * the 1-based column of the offending character (one past the end when
 * the text stops short), err->line 0, err->source empty (the caller names
 * the property), err->text names the token and says what is accepted.
 */
struct sec_descriptor *sec_descriptor_parse(const char *sddl, wmi_error *err);
void sec_descriptor_free(struct sec_descriptor *sd);

/*
 * Does @sd grant @right to @who?  ACEs in order; the first ACE whose SID
 * matches @who and whose mask has @right decides (A allows, D denies); no
 * such ACE: denied.  A NULL @sd allows everything (no descriptor set).
 * Ask for one right at a time: an allow ACE must hold every bit of @right,
 * a deny ACE holding any of them denies.  A NULL @who, or a @right of 0,
 * is denied by any descriptor.
 *
 * SID matching: S-1-1-0 (WD) matches everyone; S-1-5-32-544 (BA) matches
 * admins; S-1-5-18 (SY) matches uid 0 and the LocalSystem identity;
 * S-1-5-11 (AU) matches every identity with a known uid, and admins;
 * S-1-22-1-u matches uid u; S-1-22-2-g matches identities whose groups
 * include g; anything else matches only an identical sid string.
 */
bool sec_descriptor_allows(const struct sec_descriptor *sd, const struct sec_identity *who, unsigned right);

/*
 * The canonical text of @sd (new malloc'd string), for logs and Stats:
 * well-known SIDs as their aliases (WD, BA, SY, AU), others numeric, rights
 * in lower-case hex, DACL flags as "PAI".  It parses back to the same
 * descriptor.  A NULL @sd gives "" (no descriptor); NULL only when out of
 * memory.
 */
char *sec_descriptor_to_string(const struct sec_descriptor *sd);

/* The owner (O:) and group (G:) SIDs, numeric, or NULL when the text had
 * none.  Kept for callers that check a sink's owner as WMI does; never
 * used by sec_descriptor_allows. */
const char *sec_descriptor_owner(const struct sec_descriptor *sd);
const char *sec_descriptor_group(const struct sec_descriptor *sd);

/* The number of ACEs in the DACL (0 for an empty DACL, which denies
 * everything). */
size_t sec_descriptor_ace_count(const struct sec_descriptor *sd);

/* ====================================================================
 * config.c - daemon settings and the object dir
 * ==================================================================== */

/* Load the daemon settings; on error prints nothing and fills @err. */
bool config_load_settings(const char *path, struct wmid_settings *s, wmi_error *err);
void config_free_settings(struct wmid_settings *s);
/* Load classes then instances of every *.json in @dir; false and @err on error. */
bool config_load_objects(const char *dir, struct wmid_objects *o, wmi_error *err);
void config_free_objects(struct wmid_objects *o);
/* Append the objects created at run time (the repository document of
 * repo.c; origins "@source: object N (...)", owners their creators).  False
 * and @err naming the object when one no longer fits its class. */
bool config_add_runtime(struct wmid_objects *o, const json_t *doc, const char *source, wmi_error *err);

/* ====================================================================
 * namespace.c - namespaces, paths that name one, and the namespaces and
 * class homes of a load
 * ==================================================================== */

/* A namespace as WMI writes it ("\\\\.\\root\\cimv2", "//./root/cimv2",
 * "ROOT\\CIMV2"), normalized to "root\\cimv2" (new string; NULL for NULL). */
char *ns_normalize(const char *ns);
/* Is normalized @ns a well-formed namespace name ("root" or "root\\..." with
 * non-empty segments free of path syntax, at most WMID_NS_MAX bytes)? */
bool ns_is_valid(const char *ns);
/* Split "root\\cimv2:Class.Key=1" (or "\\\\.\\root\\cimv2:...") into the
 * relative path (returned, borrowed from @path) and *@ns (new normalized
 * string, NULL when the path names no namespace). */
const char *ns_split_path(const char *path, char **ns);
/* The path shown for an object of @ns: @rel itself in WMID_NS_DEFAULT,
 * "ns:rel" elsewhere (new string). */
char *ns_qualify(const char *ns, const char *rel);
/* Fill the namespace members of @o with the base namespaces (root,
 * root\\subscription, root\\cimv2, root\\default).  False: out of memory. */
bool ns_init(struct wmid_objects *o);
/* Does namespace @ns (any spelling) exist in @namespaces (an
 * wmid_objects.namespaces; NULL: the base namespaces only)? */
bool ns_exists(const json_t *namespaces, const char *ns);
/* The namespace of user class @cls (borrowed), or NULL for a built-in
 * class, which every namespace holds. */
const char *ns_class_home(const json_t *class_ns, const char *cls);
/* Does namespace @ns hold class @cls? */
bool ns_class_in(const json_t *class_ns, const char *cls, const char *ns);
bool ns_set_class_home(struct wmid_objects *o, const char *cls, const char *ns);
/* The namespace of instance @i (borrowed). */
const char *objects_ns(const struct wmid_objects *o, size_t i);
/* The namespace an object names in @member ("__NAMESPACE" in the object
 * dir, "Namespace" in the repository file), normalized (new string):
 * WMID_NS_DEFAULT when absent; NULL with @err (WBEM_E_INVALID_NAMESPACE,
 * @origin) when malformed.  Existence is the caller's to check. */
char *ns_of_object(const json_t *obj, const char *member, wmi_error *err, const char *origin);
/* Create the namespaces of __Namespace instances: @ns_instances is
 * [{"Parent": ns, "Name": name, "Origin": where}]; one that exists already
 * is left as it is.  False with @err (WBEM_E_INVALID_NAMESPACE: a name
 * that is not one path segment, a parent that does not exist) naming the
 * instance. */
bool ns_declare(struct wmid_objects *o, const json_t *ns_instances, wmi_error *err);

/* ====================================================================
 * repository.c - the repository at run time: objects created by
 * PutInstance, kept in <state_dir>/repository.json, and the GetObject,
 * PutInstance and DeleteInstance requests.  Loop thread.
 * ==================================================================== */

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

#endif /* WMID_CONFIG_CONFIG_H */
