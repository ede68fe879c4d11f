/*
 * namespace.h - namespaces, paths that name one, and the namespaces and
 * class homes of a load
 */
#ifndef WMID_CONFIG_NAMESPACE_H
#define WMID_CONFIG_NAMESPACE_H

#include "daemon/wmieventd.h"
#include "daemon/config/config.h"

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

#endif /* WMID_CONFIG_NAMESPACE_H */
