/*
 * datetime.h - the one DMTF datetime converter of libwmievent, internal
 * side (datetime.c).  The exported functions (wmi_datetime_*,
 * wmi_interval_*) are declared in wmievent/object.h; the helpers here serve
 * object.c and the WQL evaluator, which must read a datetime exactly as the
 * object loader checked it.
 *
 * Every function here is allocation-free, uses no locale and no time zone,
 * and is thread-safe.
 */
#ifndef WMI_DATETIME_H
#define WMI_DATETIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum wmi__dmtf_kind {
    WMI__DMTF_NONE = 0,   /* not a DMTF datetime */
    WMI__DMTF_ABS,        /* a point in time "yyyymmddHHMMSS.mmmmmmsUUU" */
    WMI__DMTF_INTERVAL,   /* a duration "ddddddddHHMMSS.mmmmmm:000" */
    WMI__DMTF_WILD        /* a point in time with '*' for whole fields */
} wmi__dmtf_kind;

/*
 * struct wmi__dmtf - what wmi__dmtf_read found.
 *   kind    see above
 *   usec    ABS: microseconds since the Unix epoch, UTC, with a day past the
 *           end of its month or a second 60 rolled into what follows (WQL
 *           compares such values as WMI does); INTERVAL: the duration in
 *           microseconds; 0 otherwise
 *   exists  ABS: the fields name a real moment (no February 31, no second
 *           60), as wmi_datetime_to_usec requires; false otherwise
 */
typedef struct wmi__dmtf {
    wmi__dmtf_kind kind;
    int64_t usec;
    bool exists;
} wmi__dmtf;

/*
 * Read the @n bytes at @s as a DMTF datetime or interval.  Returns true
 * when they are one (wmi_datetime_check's syntax, field ranges included),
 * false with out->kind WMI__DMTF_NONE otherwise.  @s need not be
 * NUL-terminated.
 */
bool wmi__dmtf_read(const char *s, size_t n, wmi__dmtf *out);

/*
 * The @n bytes at @s as a decimal number; -1 when one is not a digit, -2
 * when all are '*' (a DMTF wildcard field).  @n is at most 18.
 */
int64_t wmi__dmtf_field(const char *s, size_t n);

/* Days from 1970-01-01 to @y-@m-@d of the proleptic Gregorian calendar. */
int64_t wmi__days_from_civil(int64_t y, int m, int d);

/* Days in month @m (1 to 12) of year @y, leap years counted. */
int wmi__days_in_month(int64_t y, int m);

#endif
