/*
 * notify.h - systemd readiness without libsystemd
 */
#ifndef WMID_NOTIFY_H
#define WMID_NOTIFY_H

#include "daemon/wmieventd.h"

void notify_systemd(const char *state);

#endif /* WMID_NOTIFY_H */
