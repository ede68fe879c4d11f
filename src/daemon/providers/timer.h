/*
 * timer.h - __IntervalTimerInstruction / __AbsoluteTimerInstruction
 */
#ifndef WMID_PROVIDERS_TIMER_H
#define WMID_PROVIDERS_TIMER_H

#include "daemon/wmieventd.h"
#include "daemon/config/config.h"

struct wmid_timers;
/* Check the timer instructions among the loaded objects (for -n too). */
bool timers_check(const struct wmid_objects *o, wmi_error *err);
/* Start a uv timer per instruction; they raise __TimerEvent. */
struct wmid_timers *timers_start(uv_loop_t *loop, const struct wmid_objects *o, struct wmid_router *r);
void timers_stop(struct wmid_timers *ts);

#endif /* WMID_PROVIDERS_TIMER_H */
