/*
 * export.h - kept only so that library code written before the export mark
 * moved still compiles.  The mark now sits on the declarations in the
 * public headers (WMI_EXTERN, wmievent/export.h), and a definition takes
 * its visibility from there, so WMI_EXPORT on a definition adds nothing:
 * new code neither includes this file nor uses the macro, and a leftover
 * use can simply be deleted.
 */
#ifndef WMI_EXPORT_H
#define WMI_EXPORT_H
#define WMI_EXPORT
#endif
