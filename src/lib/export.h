/*
 * export.h - symbol visibility for libwmievent.  The library is built with
 * -fvisibility=hidden; only definitions marked WMI_EXPORT are public.
 */
#ifndef WMI_EXPORT_H
#define WMI_EXPORT_H
#define WMI_EXPORT __attribute__((visibility("default")))
#endif
