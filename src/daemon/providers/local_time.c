/*
 * local_time.c - Win32_LocalTime and Win32_UTCTime: one instance each
 * ([singleton]), the current time broken down as WMI does: Year, Month
 * (1-12), Day (1-31), DayOfWeek (0 = Sunday), Hour, Minute, Second,
 * Quarter (1-4), WeekInMonth (1-6, weeks starting on Sunday).
 * Milliseconds stays NULL, as WMI leaves it: the instance changes once a
 * second, so `__InstanceModificationEvent WITHIN 1 WHERE TargetInstance
 * ISA 'Win32_LocalTime' AND TargetInstance.Second = 0` fires once a
 * minute, the documented way to schedule.  WMI serves these classes with
 * an event provider too, so that a query without WITHIN works (Microsoft's
 * "wake-up call" sample): here such a query is polled every second
 * (event_interval_ms), the instance's own resolution.
 */
#include <stdio.h>
#include <time.h>

#include "daemon/providers/providers.h"

struct wmid_time_fields {
    unsigned year, month, day, day_of_week, hour, minute, second, quarter, week_in_month;
};

static void
fields(const struct tm *tm, struct wmid_time_fields *f)
{
    f->year = (unsigned)tm->tm_year + 1900;
    f->month = (unsigned)tm->tm_mon + 1;
    f->day = (unsigned)tm->tm_mday;
    f->day_of_week = (unsigned)tm->tm_wday;
    f->hour = (unsigned)tm->tm_hour;
    f->minute = (unsigned)tm->tm_min;
    f->second = tm->tm_sec > 59 ? 59u : (unsigned)tm->tm_sec; /* a leap second reads as :59 */
    f->quarter = (unsigned)tm->tm_mon / 3 + 1;
    /* Weekday of the 1st of the month, then which Sunday-started row the
     * day falls in. */
    int first_wday = ((tm->tm_wday - (tm->tm_mday - 1)) % 7 + 7) % 7;
    f->week_in_month = (unsigned)((tm->tm_mday - 1 + first_wday) / 7 + 1);
}

static void *
lt_open(struct wmid_instance_env *env, const wmi_schema *schema)
{
    (void)env;
    return (void *)schema;
}

static void
lt_close(void *state)
{
    (void)state;
}

static wmi_status
enumerate_time(const wmi_schema *schema, const char *class_name, bool utc, wmid_instance_fn fn, void *arg)
{
    wmi_object *o;
    struct tm tm;
    struct wmid_time_fields f;
    time_t now = time(NULL);
    if ((utc ? gmtime_r(&now, &tm) : localtime_r(&now, &tm)) == NULL)
        return WBEM_E_FAILED;
    if (WMI_FAILED(wmi_object_new(schema, class_name, &o)))
        return WBEM_E_OUT_OF_MEMORY;
    fields(&tm, &f);
    wmi_object_put_uint64(o, "Year", f.year);
    wmi_object_put_uint64(o, "Month", f.month);
    wmi_object_put_uint64(o, "Day", f.day);
    wmi_object_put_uint64(o, "DayOfWeek", f.day_of_week);
    wmi_object_put_uint64(o, "Hour", f.hour);
    wmi_object_put_uint64(o, "Minute", f.minute);
    wmi_object_put_uint64(o, "Second", f.second);
    wmi_object_put_uint64(o, "Quarter", f.quarter);
    wmi_object_put_uint64(o, "WeekInMonth", f.week_in_month);
    fn(o, arg);
    wmi_object_unref(o);
    return WBEM_S_NO_ERROR;
}

static wmi_status
local_enumerate(void *state, wmid_instance_fn fn, void *arg)
{
    return enumerate_time(state, "Win32_LocalTime", false, fn, arg);
}

static wmi_status
utc_enumerate(void *state, wmid_instance_fn fn, void *arg)
{
    return enumerate_time(state, "Win32_UTCTime", true, fn, arg);
}

const struct wmid_instance_provider wmid_ip_local_time = {
    .name = "Win32_LocalTime",
    .class_name = "Win32_LocalTime",
    .push = 0,
    .event_interval_ms = 1000,
    .open = lt_open,
    .close = lt_close,
    .enumerate = local_enumerate,
};

const struct wmid_instance_provider wmid_ip_utc_time = {
    .name = "Win32_UTCTime",
    .class_name = "Win32_UTCTime",
    .push = 0,
    .event_interval_ms = 1000,
    .open = lt_open,
    .close = lt_close,
    .enumerate = utc_enumerate,
};
