/*
 * lifecycle.h - the idle timer: providers and physical consumers loaded
 * on demand are released after their ClearAfter
 */
#ifndef WMID_ENGINE_LIFECYCLE_H
#define WMID_ENGINE_LIFECYCLE_H

#include "daemon/wmieventd.h"

struct wmid_router;

/* The timer on @loop; nothing runs until lifecycle_set_router. */
void lifecycle_init(uv_loop_t *loop);
/* The router of the moment (start, reload: its cache controls apply from
 * now on).  Loop thread. */
void lifecycle_set_router(struct wmid_router *r);
/* Something was loaded or attached, or went idle: make sure the timer
 * looks at it within its ClearAfter.  Costs nothing when the timer is
 * armed already; without lifecycle_init (tests), nothing.  Loop thread. */
void lifecycle_kick(void);
/* Stop for good (shutdown); the timer handle is closed.  Loop thread. */
void lifecycle_shutdown(void);

#endif /* WMID_ENGINE_LIFECYCLE_H */
