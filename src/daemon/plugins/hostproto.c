/*
 * hostproto.c - framing for the socketpair between wmieventd and
 * wmieventd-host (plugins.h).  Linked into both programs.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon/plugins/plugins.h"

int64_t
hp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ====================================================================
 * Outgoing frames
 * ==================================================================== */

static bool
reserve(struct hp_buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return true;
    size_t ncap = b->cap ? b->cap : 4096;
    while (ncap < b->len + more)
        ncap *= 2;
    char *nd = realloc(b->data, ncap);
    if (nd == NULL)
        return false;
    b->data = nd;
    b->cap = ncap;
    return true;
}

void
hp_buf_reset(struct hp_buf *b)
{
    b->len = 0;
    if (reserve(b, 4))
        b->len = 4;
}

bool
hp_buf_append(struct hp_buf *b, const char *s, size_t n)
{
    if (b->len < 4)
        return false; /* hp_buf_reset failed */
    if (!reserve(b, n))
        return false;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return true;
}

bool
hp_buf_printf(struct hp_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof small)
        return false; /* only short headers are printed */
    return hp_buf_append(b, small, (size_t)n);
}

bool
hp_buf_json(struct hp_buf *b, const json_t *j)
{
    size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
    if (n == 0 || b->len < 4 || !reserve(b, n))
        return false;
    if (json_dumpb(j, b->data + b->len, n, JSON_COMPACT) != n)
        return false;
    b->len += n;
    return true;
}

size_t
hp_buf_payload(const struct hp_buf *b)
{
    return b->len >= 4 ? b->len - 4 : 0;
}

void
hp_buf_seal(struct hp_buf *b)
{
    uint32_t n = (uint32_t)hp_buf_payload(b);
    unsigned char *p = (unsigned char *)b->data;
    p[0] = (unsigned char)(n >> 24);
    p[1] = (unsigned char)(n >> 16);
    p[2] = (unsigned char)(n >> 8);
    p[3] = (unsigned char)n;
}

bool
hp_buf_frame_json(struct hp_buf *b, const json_t *j)
{
    hp_buf_reset(b);
    if (!hp_buf_json(b, j))
        return false;
    hp_buf_seal(b);
    return true;
}

void
hp_buf_free(struct hp_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int
hp_write_all(int fd, const char *data, size_t len, int64_t deadline_ms)
{
    while (len > 0) {
        /* send with MSG_NOSIGNAL: a dead peer is an error to report, not a
         * SIGPIPE that ends the process. */
        ssize_t w = send(fd, data, len, MSG_NOSIGNAL | (deadline_ms >= 0 ? MSG_DONTWAIT : 0));
        if (w > 0) {
            data += w;
            len -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int64_t left = deadline_ms < 0 ? -1 : deadline_ms - hp_now_ms();
            if (deadline_ms >= 0 && left <= 0) {
                errno = ETIMEDOUT;
                return -1;
            }
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int rc = poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left);
            if (rc < 0 && errno != EINTR)
                return -1;
            if (rc > 0 && (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) && !(pfd.revents & POLLOUT)) {
                errno = EPIPE;
                return -1;
            }
            continue;
        }
        if (w == 0)
            errno = EPIPE;
        return -1;
    }
    return 0;
}

/* ====================================================================
 * Incoming frames
 * ==================================================================== */

int
hp_read(int fd, struct hp_reader *r)
{
    /* Compact once the consumed part dominates, then make room for at
     * least 64 KiB more. */
    if (r->off > 0 && (r->off == r->len || r->off > r->len / 2)) {
        memmove(r->data, r->data + r->off, r->len - r->off);
        r->len -= r->off;
        r->off = 0;
    }
    if (r->cap - r->len < 65536) {
        size_t ncap = r->cap ? r->cap * 2 : 131072;
        char *nd = realloc(r->data, ncap);
        if (nd == NULL) {
            errno = ENOMEM;
            return -1;
        }
        r->data = nd;
        r->cap = ncap;
    }
    for (;;) {
        ssize_t n = read(fd, r->data + r->len, r->cap - r->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        r->len += (size_t)n;
        return 1;
    }
}

int
hp_next(struct hp_reader *r, json_t **msg, const char **why)
{
    size_t have = r->len - r->off;
    *msg = NULL;
    if (have < 4)
        return 0;
    const unsigned char *p = (const unsigned char *)r->data + r->off;
    size_t n = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | (size_t)p[3];
    if (n > r->max) {
        *why = "a frame over the size limit";
        return -1;
    }
    if (n == 0) {
        *why = "an empty frame";
        return -1;
    }
    if (have - 4 < n)
        return 0;
    json_error_t jerr;
    json_t *j = json_loadb(r->data + r->off + 4, n, JSON_REJECT_DUPLICATES, &jerr);
    r->off += 4 + n;
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        *why = "a frame that is not a JSON object";
        return -1;
    }
    *msg = j;
    return 1;
}

void
hp_reader_free(struct hp_reader *r)
{
    free(r->data);
    r->data = NULL;
    r->off = r->len = r->cap = 0;
}
