/*
 * control.h - the Unix control socket (JSON lines)
 */
#ifndef WMID_CONTROL_CONTROL_H
#define WMID_CONTROL_CONTROL_H

#include "daemon/wmieventd.h"
#include "daemon/config/config.h"

struct wmid_delivery;
struct wmid_router;
struct wmid_eventprov;
struct wmid_instance_env;

struct wmid_control;
/* @env: the instance providers' (EnumInstances), borrowed. */
struct wmid_control *control_new(uv_loop_t *loop, const struct wmid_settings *s,
                                 struct wmid_router *r, struct wmid_delivery *d, struct wmid_eventprov *ep,
                                 struct wmid_instance_env *env, wmi_error *err);
/* The router that serves requests from now on (reload).  Loop thread. */
void control_set_router(struct wmid_control *c, struct wmid_router *r);
/* The repository at run time, for GetObject, PutInstance and
 * DeleteInstance (main.c implements them over repo.c).  Loop thread. */
struct wmid_repo_ops {
    /* Every operation takes the request's "Namespace" (@ns: NULL for the
     * default, root\\subscription; repo.h says how paths override it). */
    /* The object at @path: new reference, or NULL with *@st. */
    json_t *(*get)(void *arg, const char *ns, const char *path, wmi_status *st);
    /* EnumInstances of a class the repository holds (new array), or NULL
     * with *@st. */
    json_t *(*enum_instances)(void *arg, const char *ns, const char *cls, wmi_status *st);
    /* Create or change an instance (flags WMID_PUT_*), or delete one, as
     * @who; the configuration is rebuilt with the change and the
     * repository file written.  False with @err (nothing changed). */
    bool (*put)(void *arg, const struct sec_identity *who, const char *ns, const json_t *instance, unsigned flags,
                wmi_error *err);
    bool (*del)(void *arg, const struct sec_identity *who, const char *ns, const char *path, wmi_error *err);
    /* Classes at run time (administrators), and EnumClasses. */
    bool (*put_class)(void *arg, const struct sec_identity *who, const char *ns, const json_t *cls, unsigned flags,
                      wmi_error *err);
    bool (*del_class)(void *arg, const struct sec_identity *who, const char *ns, const char *name, wmi_error *err);
    json_t *(*enum_classes)(void *arg, const char *ns, const char *super, bool deep, wmi_status *st);
    /* MofComp: the operations of a compiled MOF file (as wmieventctl
     * sends them, each with its "Namespace"), applied all or nothing;
     * *@applied counts them. */
    bool (*mofcomp)(void *arg, const struct sec_identity *who, const json_t *ops, size_t *applied, wmi_error *err);
    void *arg;
};
void control_set_repository(struct wmid_control *c, const struct wmid_repo_ops *ops);
/* What the Reload request calls: true with the number of objects loaded,
 * or false with @err naming the file or object that was refused (the
 * running configuration stays).  Loop thread. */
void control_set_reload(struct wmid_control *c, bool (*fn)(void *arg, wmi_error *err, size_t *nobjects),
                        void *arg);
void control_stop_accepting(struct wmid_control *c);
void control_close(struct wmid_control *c);

#endif /* WMID_CONTROL_CONTROL_H */
