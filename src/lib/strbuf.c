/*
 * strbuf.c - growable byte buffer (see strbuf.h).
 */
#include "lib/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
wmi__strbuf_reserve(wmi_strbuf *sb, size_t extra)
{
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap)
        return true;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(sb->data, cap);
    if (p == NULL)
        return false;
    sb->data = p;
    sb->cap = cap;
    return true;
}

bool
wmi__strbuf_append(wmi_strbuf *sb, const char *s, size_t n)
{
    if (!wmi__strbuf_reserve(sb, n))
        return false;
    if (n)
        memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
    return true;
}

bool
wmi__strbuf_puts(wmi_strbuf *sb, const char *s)
{
    return wmi__strbuf_append(sb, s, strlen(s));
}

bool
wmi__strbuf_putc(wmi_strbuf *sb, char c)
{
    return wmi__strbuf_append(sb, &c, 1);
}

bool
wmi__strbuf_printf(wmi_strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    char small[128];

    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return false;
    if ((size_t)n < sizeof small)
        return wmi__strbuf_append(sb, small, (size_t)n);
    if (!wmi__strbuf_reserve(sb, (size_t)n))
        return false;
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
    return true;
}

char *
wmi__strbuf_detach(wmi_strbuf *sb)
{
    char *s = sb->data;
    if (s == NULL)
        s = calloc(1, 1);
    sb->data = NULL;
    sb->len = sb->cap = 0;
    return s;
}

void
wmi__strbuf_free(wmi_strbuf *sb)
{
    free(sb->data);
    sb->data = NULL;
    sb->len = sb->cap = 0;
}
