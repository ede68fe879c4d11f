/*
 * lifecycle.h - the idle timer: providers and physical consumers loaded
 * on demand are released after their ClearAfter.
 */
#ifndef WMID_ENGINE_LIFECYCLE_H
#define WMID_ENGINE_LIFECYCLE_H

#include "daemon/wmieventd.h"

struct wmid_router;
struct wmid_lifecycle;

/* A sweep: release what has idled past its ClearAfter at @now_ms and
 * return when the next release may be due (wmid_now_ms() clock;
 * UINT64_MAX: nothing loaded).  Loop thread. */
typedef uint64_t (*wmid_sweep_fn)(void *arg, uint64_t now_ms);

/* The idle timer on @loop (new handle; NULL: out of memory).  Nothing
 * runs until lifecycle_set_router. */
struct wmid_lifecycle *lifecycle_new(uv_loop_t *loop);
/* Sweep with @fn too, after the router's own sweep (router_sweep_idle):
 * the event providers' (providers/eventprov.c) is one.  At most
 * WMID_LIFECYCLE_MAX_SWEEPS; false beyond.  Loop thread. */
#define WMID_LIFECYCLE_MAX_SWEEPS 4
bool lifecycle_add_sweep(struct wmid_lifecycle *lc, wmid_sweep_fn fn, void *arg);
/* The router of the moment (start, reload: its cache controls apply from
 * now on, and its consumers are swept).  Loop thread. */
void lifecycle_set_router(struct wmid_lifecycle *lc, struct wmid_router *r);
/* Something was loaded or attached, or went idle: make sure the timer
 * looks at it within its ClearAfter.  Costs nothing when the timer is
 * armed already; with @lc NULL or stopped, nothing.  Loop thread. */
void lifecycle_kick(struct wmid_lifecycle *lc);
/* The same as a wmid_router_hooks.loaded callback (@arg: the handle). */
void lifecycle_kick_hook(void *arg);
/* Stop for good (shutdown): the timer handle is closed and the handle
 * freed once libuv is done with it.  NULL is ignored.  Loop thread. */
void lifecycle_close(struct wmid_lifecycle *lc);

#endif /* WMID_ENGINE_LIFECYCLE_H */
