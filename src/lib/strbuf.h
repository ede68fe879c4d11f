/*
 * strbuf.h - a growable byte buffer, internal to libwmievent.
 *
 * Used by template expansion, MOF text and query printing.  The buffer is
 * always NUL-terminated once anything was appended; functions return false
 * only when out of memory, after which the buffer is unchanged.
 */
#ifndef WMI_STRBUF_H
#define WMI_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct wmi_strbuf {
    char *data;   /* malloc'd, NUL-terminated, or NULL when empty */
    size_t len;   /* bytes used, not counting the NUL */
    size_t cap;   /* bytes allocated */
} wmi_strbuf;

bool wmi__strbuf_reserve(wmi_strbuf *sb, size_t extra);
bool wmi__strbuf_append(wmi_strbuf *sb, const char *s, size_t n);
bool wmi__strbuf_puts(wmi_strbuf *sb, const char *s);
bool wmi__strbuf_putc(wmi_strbuf *sb, char c);
bool wmi__strbuf_printf(wmi_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Take the string out of the buffer (never NULL on success: "" when empty). */
char *wmi__strbuf_detach(wmi_strbuf *sb);
void wmi__strbuf_free(wmi_strbuf *sb);

/* The value of hexadecimal digit @c, or -1: for the WQL and MOF lexers. */
static inline int
wmi__hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
