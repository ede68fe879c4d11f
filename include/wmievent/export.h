/*
 * wmievent/export.h - WMI_EXTERN, the mark of libwmievent's API.
 *
 * The library is built with -fvisibility=hidden: only what its public
 * headers declare with WMI_EXTERN is exported from libwmievent.so, as
 * libuv's UV_EXTERN does.  The mark sits on the declaration, which every
 * definition in src/lib sees first and inherits its visibility from, so a
 * function is public exactly when a header documents it;
 * tests/symbols/check_exports.py compares the two lists at `make check`.
 *
 * Every public header includes this one; a program never needs to.
 */
#ifndef WMIEVENT_EXPORT_H
#define WMIEVENT_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define WMI_EXTERN extern __attribute__((visibility("default")))
#else
#define WMI_EXTERN extern
#endif

#endif /* WMIEVENT_EXPORT_H */
