/*
 * log.c - the daemon's log: one line per message on stderr, with a level
 * tag, and a timestamp when running in the foreground.  Every line is
 * written with a single write(2), so lines from the delivery threads and
 * the loop thread never interleave.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "daemon/wmieventd.h"
#include "daemon/log.h"

static int log_level = WMI_LOG_INFO;
static bool log_timestamps = true;

static const char *const level_names[] = {"emerg", "alert", "crit", "err", "warning", "notice",
                                          "info", "debug"};

void
log_init(int level, bool timestamps)
{
    log_level = level;
    log_timestamps = timestamps;
}

void
log_setlevel(int level)
{
    log_level = level;
}

int
log_getlevel(void)
{
    return log_level;
}

int
log_level_from_name(const char *name)
{
    for (int i = 0; i < 8; i++)
        if (strcasecmp(level_names[i], name) == 0)
            return i;
    if (strcasecmp(name, "error") == 0)
        return WMI_LOG_ERR;
    if (strcasecmp(name, "warn") == 0)
        return WMI_LOG_WARNING;
    return -1;
}

void
log_vmsg(int level, const char *prefix, const char *fmt, va_list ap)
{
    char line[2048];
    size_t n = 0;

    if (level > log_level)
        return;
    if (log_timestamps) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        localtime_r(&ts.tv_sec, &tm);
        n += strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof line - n, ".%03ld ", ts.tv_nsec / 1000000);
    }
    n += (size_t)snprintf(line + n, sizeof line - n, "wmieventd[%s]: %s", level_names[level & 7],
                          prefix ? prefix : "");
    if (n < sizeof line)
        n += (size_t)vsnprintf(line + n, sizeof line - n, fmt, ap);
    if (n >= sizeof line - 1)
        n = sizeof line - 2;
    /* Text from clients (class names, methods) is logged too: no control
     * character may start a forged line or reach the terminal. */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}

void
log_msg(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, NULL, fmt, ap);
    va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
    char buf[1024];
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    log_msg(WMI_LOG_WARNING, "%s: %s", buf, strerror(saved));
}

#define LOG_FN(fn, level)                    \
    void fn(const char *fmt, ...)            \
    {                                        \
        va_list ap;                          \
        va_start(ap, fmt);                   \
        log_vmsg(level, NULL, fmt, ap);      \
        va_end(ap);                          \
    }

LOG_FN(log_warnx, WMI_LOG_WARNING)
LOG_FN(log_notice, WMI_LOG_NOTICE)
LOG_FN(log_info, WMI_LOG_INFO)
LOG_FN(log_debug, WMI_LOG_DEBUG)

void
fatalx(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(WMI_LOG_ERR, "fatal: ", fmt, ap);
    va_end(ap);
    exit(3);
}

bool
wmid_fail(wmi_error *err, wmi_status st, const char *source, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wmi_error_setv(err, st, source, 0, 0, fmt, ap);
    va_end(ap);
    return false;
}
