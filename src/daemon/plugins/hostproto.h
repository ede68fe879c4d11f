/*
 * hostproto.h - the wire between wmieventd (hosting.c) and the isolated
 * provider host wmieventd-host (src/host/host.c).
 *
 * Both ends speak length-prefixed JSON over one socketpair: each frame is
 * a 4-byte big-endian payload length followed by that many bytes holding
 * one JSON object.  Frames are bounded (WMID_HOST_MAX_REQUEST towards the
 * host, WMID_HOST_MAX_REPLY back), so that neither side can be made to
 * buffer without limit; a frame over its bound, or a payload that is not a
 * JSON object, means the peer is broken.  docs/hosting.md describes the
 * messages.
 */
#ifndef WMID_HOSTPROTO_H
#define WMID_HOSTPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* The descriptor number the host finds its end of the socketpair on. */
#define WMID_HOST_FD 3
/* Largest frame the daemon sends (a batch of events). */
#define WMID_HOST_MAX_REQUEST (64u * 1024 * 1024)
/* Largest frame the host sends (replies are small). */
#define WMID_HOST_MAX_REPLY (1024u * 1024)
/* Time allowed for a control call (start, Load, FindConsumer, Release,
 * Unload), in ms: plugins may do real work in initialize. */
#define WMID_HOST_CONTROL_MS 5000
/* A call to IndicateToConsumer may take this many times the provider's
 * deadline before its host is killed as hung. */
#define WMID_HOST_HARD_LIMIT_FACTOR 10
/* The deadline of a provider whose descriptor says 0 (WMI's 100 ms). */
#define WMID_HOST_DEFAULT_DEADLINE_MS 100

/* A frame under construction: the first 4 bytes hold the length once
 * sealed. */
struct hp_buf {
    char *data;
    size_t len, cap;
};

/* Start a new frame (keeps the allocation). */
void hp_buf_reset(struct hp_buf *b);
bool hp_buf_append(struct hp_buf *b, const char *s, size_t n);
bool hp_buf_printf(struct hp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append @j in compact form. */
bool hp_buf_json(struct hp_buf *b, const json_t *j);
/* Payload bytes so far. */
size_t hp_buf_payload(const struct hp_buf *b);
/* Write the length prefix; the frame is data[0..len). */
void hp_buf_seal(struct hp_buf *b);
void hp_buf_free(struct hp_buf *b);
/* A whole frame holding @j; false when out of memory. */
bool hp_buf_frame_json(struct hp_buf *b, const json_t *j);

/* Monotonic clock in ms. */
int64_t hp_now_ms(void);

/*
 * Write all of @data to @fd (blocking or not) before @deadline_ms on the
 * hp_now_ms clock (-1: no deadline).  Returns 0, or -1 with errno set
 * (ETIMEDOUT at the deadline, EPIPE when the peer is gone).
 */
int hp_write_all(int fd, const char *data, size_t len, int64_t deadline_ms);

/* Incoming frames. */
struct hp_reader {
    char *data;
    size_t off, len, cap;
    size_t max;                  /* largest payload accepted */
};

/* One read(2) into the reader: 1 bytes read, 0 end of file, -1 error
 * (errno; EAGAIN when nothing is there on a non-blocking fd). */
int hp_read(int fd, struct hp_reader *r);
/*
 * The next whole frame: 1 with *@msg (a new reference to a JSON object),
 * 0 when more bytes are needed, -1 when the stream is garbage, with *@why
 * saying how.
 */
int hp_next(struct hp_reader *r, json_t **msg, const char **why);
void hp_reader_free(struct hp_reader *r);

#endif /* WMID_HOSTPROTO_H */
