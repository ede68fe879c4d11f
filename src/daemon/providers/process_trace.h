/*
 * process_trace.h - Win32_ProcessStartTrace / StopTrace
 */
#ifndef WMID_PROVIDERS_PROCESS_TRACE_H
#define WMID_PROVIDERS_PROCESS_TRACE_H

#include "daemon/wmieventd.h"

struct wmid_proc;
struct wmid_instance_env;
struct wmid_eventprov;
/* Start the process connector of @env (env->proc); its events go out
 * through @ep as those of the built-in event provider "ProcessTrace"
 * (eventprov_add_builtin), from the next eventprov_sync on, and its execs
 * and exits into env->processes.  Loop thread. */
struct wmid_proc *proc_start(uv_loop_t *loop, const struct wmid_settings *s, struct wmid_instance_env *env,
                             struct wmid_eventprov *ep);
void proc_stop(struct wmid_proc *p);

#endif /* WMID_PROVIDERS_PROCESS_TRACE_H */
