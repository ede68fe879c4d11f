/*
 * datetime.c - the one DMTF datetime converter of libwmievent (see
 * datetime.h and the DMTF section of object.h).
 *
 * A DMTF datetime is "yyyymmddHHMMSS.mmmmmmsUUU" (sUUU: the UTC offset in
 * minutes, sign '+' or '-'), an interval "ddddddddHHMMSS.mmmmmm:000".  The
 * object loader, the WQL evaluator and the daemon all read and write them
 * through this file, so that a value the loader accepted reads the same in
 * a WHERE clause, and the calendar arithmetic exists once.  Nothing here
 * consults the locale or the time zone: the arithmetic is the proleptic
 * Gregorian calendar on 64-bit integers.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/datetime.h"
#include "wmievent/object.h"

/* The longest interval "99999999235959.999999:000" in microseconds. */
#define INTERVAL_MAX_USEC ((((INT64_C(99999999) * 24 + 23) * 60 + 59) * 60 + 59) * 1000000 + 999999)

/* ====================================================================
 * Calendar arithmetic
 * ==================================================================== */

int64_t
wmi__days_from_civil(int64_t y, int m, int d)
{
    /* Counting years from March puts the leap day last, so that the day of
     * the year follows from the month by one linear formula. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The inverse of wmi__days_from_civil: the date @days after 1970-01-01. */
static void
civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int
wmi__days_in_month(int64_t y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

/* ====================================================================
 * Reading
 * ==================================================================== */

int64_t
wmi__dmtf_field(const char *s, size_t n)
{
    if (s[0] == '*') {
        for (size_t i = 0; i < n; i++)
            if (s[i] != '*')
                return -1;
        return -2;
    }
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* "ddddddddHHMMSS.mmmmmm:000" at @s (25 bytes, s[21] == ':'): no wildcards. */
static bool
read_interval(const char *s, wmi__dmtf *out)
{
    int64_t d = wmi__dmtf_field(s, 8), h = wmi__dmtf_field(s + 8, 2), mi = wmi__dmtf_field(s + 10, 2),
            se = wmi__dmtf_field(s + 12, 2), us = wmi__dmtf_field(s + 15, 6);
    if (d < 0 || h < 0 || mi < 0 || se < 0 || us < 0 || h > 23 || mi > 59 || se > 59 ||
        memcmp(s + 22, "000", 3) != 0)
        return false;
    out->kind = WMI__DMTF_INTERVAL;
    out->usec = (((d * 24 + h) * 60 + mi) * 60 + se) * 1000000 + us;
    return true;
}

/* "yyyymmddHHMMSS.mmmmmmsUUU" at @s (25 bytes, s[21] is the sign). */
static bool
read_moment(const char *s, wmi__dmtf *out)
{
    static const struct {
        unsigned char off, len;
        short min, max;
    } f[] = {{0, 4, 0, 9999}, {4, 2, 1, 12}, {6, 2, 1, 31},      {8, 2, 0, 23},
             {10, 2, 0, 59},  {12, 2, 0, 60}, {15, 6, 0, 32767}, {22, 3, 0, 999}};
    int64_t v[8];
    bool wild = false;
    for (size_t i = 0; i < 8; i++) {
        v[i] = wmi__dmtf_field(s + f[i].off, f[i].len);
        if (v[i] == -1)
            return false;
        if (v[i] == -2) {
            wild = true;
            continue;
        }
        /* Six digits of microseconds are never out of range. */
        if (v[i] < f[i].min || (i != 6 && v[i] > f[i].max))
            return false;
    }
    if (wild) {
        out->kind = WMI__DMTF_WILD;
        return true;
    }
    int64_t days = wmi__days_from_civil(v[0], (int)v[1], (int)v[2]);
    int64_t secs = days * 86400 + v[3] * 3600 + v[4] * 60 + v[5];
    int64_t offset = (s[21] == '-' ? -v[7] : v[7]) * 60;
    out->kind = WMI__DMTF_ABS;
    out->usec = (secs - offset) * 1000000 + v[6];
    out->exists = v[2] <= wmi__days_in_month(v[0], (int)v[1]) && v[5] < 60;
    return true;
}

bool
wmi__dmtf_read(const char *s, size_t n, wmi__dmtf *out)
{
    out->kind = WMI__DMTF_NONE;
    out->usec = 0;
    out->exists = false;
    if (n != 25 || s[14] != '.')
        return false;
    bool ok = false;
    if (s[21] == ':')
        ok = read_interval(s, out);
    else if (s[21] == '+' || s[21] == '-')
        ok = read_moment(s, out);
    if (!ok) {
        out->kind = WMI__DMTF_NONE;
        out->usec = 0;
        out->exists = false;
    }
    return ok;
}

/* ====================================================================
 * The exported functions (object.h)
 * ==================================================================== */

bool
wmi_datetime_check(const char *s)
{
    wmi__dmtf d;
    return s != NULL && wmi__dmtf_read(s, strlen(s), &d);
}

wmi_status
wmi_datetime_to_usec(const char *s, int64_t *usec)
{
    wmi__dmtf d;
    if (s == NULL || !wmi__dmtf_read(s, strlen(s), &d) || d.kind != WMI__DMTF_ABS || !d.exists)
        return WBEM_E_INVALID_PARAMETER;
    *usec = d.usec;
    return WBEM_S_NO_ERROR;
}

wmi_status
wmi_interval_to_usec(const char *s, int64_t *usec)
{
    wmi__dmtf d;
    if (s == NULL || !wmi__dmtf_read(s, strlen(s), &d) || d.kind != WMI__DMTF_INTERVAL)
        return WBEM_E_INVALID_PARAMETER;
    *usec = d.usec;
    return WBEM_S_NO_ERROR;
}

char *
wmi_datetime_format(int64_t usec, int utc_offset_min, char buf[26])
{
    int64_t local = usec + (int64_t)utc_offset_min * 60 * 1000000;
    /* Round towards the past, so that the fraction is never negative. */
    int64_t secs = local >= 0 ? local / 1000000 : -((-local + 999999) / 1000000);
    int64_t frac = local - secs * 1000000;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t sod = secs - days * 86400;
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    int off = utc_offset_min < 0 ? -utc_offset_min : utc_offset_min;
    /* The fields have fixed widths: a year past 9999 keeps its last four
     * digits and an offset its last three, so the text is always 25 bytes
     * (the scratch buffer only keeps the compiler's width check quiet). */
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%04d%02d%02d%02d%02d%02d.%06d%c%03d", (int)(y % 10000), m, d,
             (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (int)frac,
             utc_offset_min < 0 ? '-' : '+', off % 1000);
    memcpy(buf, tmp, 25);
    buf[25] = '\0';
    return buf;
}

char *
wmi_interval_format(int64_t usec, char buf[26])
{
    if (usec < 0 || usec > INTERVAL_MAX_USEC)
        return NULL;
    int64_t secs = usec / 1000000;
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%08lld%02d%02d%02d.%06d:000", (long long)(secs / 86400),
             (int)(secs / 3600 % 24), (int)(secs / 60 % 60), (int)(secs % 60), (int)(usec % 1000000));
    memcpy(buf, tmp, 25);
    buf[25] = '\0';
    return buf;
}

uint64_t
wmi_time_created_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* 11644473600 s between 1601-01-01 and 1970-01-01. */
    return ((uint64_t)ts.tv_sec + 11644473600ull) * 10000000ull + (uint64_t)ts.tv_nsec / 100;
}
