/*
 * daemon.h - the daemon's state, one structure: main.c makes it, starts
 * and stops the subsystems it holds, and passes it to reload.c, which
 * swaps its configuration.  Only main.c and reload.c include this header;
 * every subsystem gets the handles it needs, never this structure.
 */
#ifndef WMID_DAEMON_H
#define WMID_DAEMON_H

#include "daemon/wmieventd.h"
#include "daemon/config/config.h"
#include "daemon/control/control.h"
#include "daemon/engine/engine.h"

struct wmid_daemon {
    struct wmid_repo *repo;       /* objects created at run time (state_dir) */
    const char *config_path;
    uv_loop_t *loop;
    struct wmid_settings settings;
    struct wmid_objects objects;
    struct wmid_delivery *delivery;
    struct wmid_router *router;
    struct wmid_control *control;
    struct wmid_proc *proc;
    struct wmid_intrinsic *intrinsic;
    struct wmid_instance_env *instances; /* what the built-in providers share */
    struct wmid_timers *timers;
    struct wmid_lifecycle *lifecycle;
    struct wmid_eventprov *eventprov;
    struct wmid_router_hooks hooks;
    uv_signal_t sigterm, sigint, sighup;
    bool stopping;
    int verbose;
};

/* The Reload request and SIGHUP: re-read the config file and the object
 * dir, and switch to them only if every object is valid (else nothing
 * changes and @err says what was refused).  Unchanged providers and
 * logical consumers are kept with their queues and counters; removed
 * consumers are released once their queues drain; filters keep their
 * counters and open GROUP windows; pollers and timer instructions
 * restart.  The repository's changes raise __InstanceCreationEvent,
 * __InstanceModificationEvent and __InstanceDeletionEvent.  @arg is the
 * struct wmid_daemon.  Loop thread. */
bool reload_config(void *arg, wmi_error *err, size_t *nobjects);
/* The repository requests of the control socket (GetObject, PutInstance,
 * DeleteInstance, the class requests, MofComp): each change is a reload
 * with a candidate repository document.  Fills @ops for @ds. */
void reload_repository_ops(struct wmid_daemon *ds, struct wmid_repo_ops *ops);
/* The object dir's objects, then those created at run time (@doc, or the
 * repository's document when NULL) into @o; false with @err. */
bool reload_load_objects(struct wmid_daemon *ds, const char *object_dir, const json_t *doc, struct wmid_objects *o,
                         wmi_error *err);

#endif /* WMID_DAEMON_H */
