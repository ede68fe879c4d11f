/*
 * log.h - logging to stderr (relayd's log_warn/log_warnx/fatal)
 */
#ifndef WMID_LOG_H
#define WMID_LOG_H

#include "daemon/wmieventd.h"

void log_init(int level, bool timestamps);
void log_setlevel(int level);
int log_getlevel(void);
/* log_warn appends strerror(errno); log_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int level, const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
_Noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int log_level_from_name(const char *name);

#endif /* WMID_LOG_H */
