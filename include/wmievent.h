/*
 * wmievent.h - the umbrella header of libwmievent.
 *
 * Include this one header to use the library: WBEM status codes, the
 * CIM-typed object model and class schema, WQL event queries and their
 * GROUP windows, standard string templates, and the plugin ABI for
 * consumer providers.
 * Everything exported carries the prefix wmi_ (WMI's own constant names,
 * WBEM_* and CIM_*, keep their spelling).
 */
#ifndef WMIEVENT_H
#define WMIEVENT_H

#define WMIEVENT_VERSION "0.1.0"

#include "wmievent/status.h"
#include "wmievent/object.h"
#include "wmievent/wql.h"
#include "wmievent/window.h"
#include "wmievent/template.h"
#include "wmievent/plugin.h"
#include "wmievent/mof.h"

#endif /* WMIEVENT_H */
