/*
 * smtp.c - the SMTPEventConsumer consumer provider (smtp.so).
 *
 * Sends one e-mail per event through an SMTP server, as WMI's standard
 * SMTPEventConsumer does (docs/consumers.md has the whole contract):
 *
 *   - SMTPServer is "host" or "host:port" (port 25 by default);
 *   - ToLine, CcLine and BccLine are lists of addresses separated by
 *     commas or semicolons; all of them are envelope recipients, and Bcc
 *     never appears in the headers;
 *   - FromLine, ReplyToLine, Subject and Message are templates expanded
 *     per event; an empty FromLine becomes wmieventd@<host name>;
 *   - HeaderFields adds "Name: value" lines; lines that would break the
 *     message (CR/LF, no colon, a header the consumer writes, Bcc) make
 *     find_consumer refuse the consumer.
 *
 * The SMTP client is libcurl's: STARTTLS when the server offers it (or
 * always, with WMIEVENTD_SMTP_REQUIRE_TLS), the server's certificate
 * verified against the system's CAs or WMIEVENTD_SMTP_CA_FILE.  libcurl
 * dot-stuffs the body (a line starting with "." goes out as ".."), so the
 * message built here is the plain RFC 5322 text with CRLF line ends.
 *
 * Shape: one sink per logical consumer holding the compiled templates and
 * the validated settings; each indicate_to_consumer call opens one SMTP
 * session (one easy handle), sends one message per event on it and closes
 * it, all within a time budget below the declared deadline.  The message
 * building functions (smtp_build_*, smtp_parse_*) are pure so that the
 * unit test can check them without a server.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "wmievent/object.h"
#include "wmievent/plugin.h"
#include "wmievent/status.h"
#include "wmievent/template.h"

#define SMTP_VERSION "1.0"
/* A batch is sent in one session, so its size bounds a call's duration. */
#define SMTP_MAX_BATCH 16
/* The host's deadline for one call; the curl budget stays below it so
 * that a slow server fails the call instead of tripping the watchdog. */
#define SMTP_DEADLINE_MS 10000
#define SMTP_BUDGET_MS 8000
#define SMTP_CONNECT_TIMEOUT_MS 3000
/* Below this much budget a message is not started: it could not finish. */
#define SMTP_MIN_MESSAGE_MS 200
#define SMTP_DEFAULT_PORT 25
/* RFC 5322 2.1.1: lines SHOULD stay within 78 and MUST within 998. */
#define SMTP_FOLD_AT 78
#define SMTP_LINE_MAX 998
/* RFC 2047: 36 bytes of UTF-8 make 48 base64 characters, so an encoded
 * word is 60 characters and a folded line stays under 76. */
#define SMTP_EWORD_BYTES 36

/* The [Template] properties, in the order the sink keeps them. */
enum smtp_field { F_FROM, F_TO, F_CC, F_BCC, F_REPLY_TO, F_SUBJECT, F_MESSAGE, F_COUNT };

static const char *const smtp_field_prop[F_COUNT] = {
    "FromLine", "ToLine", "CcLine", "BccLine", "ReplyToLine", "Subject", "Message",
};

/* A growing byte buffer; after a failed allocation it only records it. */
struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

/* The envelope recipients (addr-specs) of one message. */
struct addr_list {
    char **v;
    size_t n, cap;
};

/* Everything one message is built from; all borrowed. */
struct smtp_mail {
    const char *field[F_COUNT];  /* expanded; NULL or "" when absent */
    const char *const *extra;    /* validated HeaderFields lines */
    size_t nextra;
    const char *content_type;    /* from HeaderFields, or NULL */
    const char *date;            /* RFC 5322 date-time */
    const char *message_id;      /* "<...@...>" */
};

struct smtp_provider {
    const struct wmi_host *host;
    char *ca_file;               /* WMIEVENTD_SMTP_CA_FILE, or NULL */
    bool require_tls;            /* WMIEVENTD_SMTP_REQUIRE_TLS */
    char hostname[256];          /* for Message-ID and the default From */
    unsigned long seq;           /* Message-ID counter (atomic) */
};

struct smtp_sink {
    struct wmi_unbound_object_sink base;
    struct smtp_provider *prov;
    char *name;
    char *url;                   /* smtp://host:port */
    wmi_template *tmpl[F_COUNT]; /* NULL for a NULL property */
    char **extra;                /* HeaderFields, validated */
    size_t nextra;
    const char *content_type;    /* points into extra[], or NULL */
    char *default_from;          /* wmieventd@<host name> */
    struct sbuf exp[F_COUNT];    /* expansion buffers, reused */
    struct sbuf msg;             /* the message being sent */
    bool failing;                /* a failure was logged; log recovery */
};

/* ====================================================================
 * Buffers
 * ==================================================================== */

static void
sb_putn(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        char *p = realloc(b->p, ncap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
sb_puts(struct sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static void
sb_reset(struct sbuf *b)
{
    b->len = 0;
    b->oom = false;
    if (b->p != NULL)
        b->p[0] = '\0';
}

static void
sb_free(struct sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static bool
addr_list_push(struct addr_list *l, const char *s, size_t n)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 8;
        char **v = realloc(l->v, ncap * sizeof *v);
        if (v == NULL)
            return false;
        l->v = v;
        l->cap = ncap;
    }
    char *c = strndup(s, n);
    if (c == NULL)
        return false;
    l->v[l->n++] = c;
    return true;
}

static void
addr_list_clear(struct addr_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    l->n = 0;
}

static void
addr_list_free(struct addr_list *l)
{
    addr_list_clear(l);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* ====================================================================
 * Message building (pure)
 * ==================================================================== */

/*
 * Replace CR, LF and the other control characters of an expanded header
 * value with spaces, in place: event data must never start a header line
 * of its own or an SMTP command.
 */
static void
smtp_clean_header_text(char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
}

static bool
is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

/*
 * The addr-spec of one list item s[0..n): the text between the last '<'
 * and the following '>' outside double quotes, else the whole item.
 */
static void
smtp_addr_spec(const char *s, size_t n, size_t *off, size_t *len)
{
    bool quoted = false;
    size_t lt = n;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' && (i == 0 || s[i - 1] != '\\'))
            quoted = !quoted;
        else if (!quoted && s[i] == '<')
            lt = i;
    }
    if (lt < n) {
        const char *gt = memchr(s + lt, '>', n - lt);
        if (gt != NULL) {
            *off = lt + 1;
            *len = (size_t)(gt - s) - lt - 1;
            return;
        }
    }
    *off = 0;
    *len = n;
}

/*
 * Split an address list at the commas and semicolons that are outside
 * double quotes and angle brackets.  Each non-empty item, trimmed, goes
 * to @header (when not NULL) joined by ", " and folded before an item
 * that would pass SMTP_FOLD_AT (@col is the header's current column), and
 * its addr-spec to @rcpt (when not NULL).  false when out of memory.
 */
static bool
smtp_parse_addresses(const char *list, size_t col, struct sbuf *header, struct addr_list *rcpt)
{
    bool quoted = false, first = true;
    int angle = 0;
    const char *item = list;
    for (const char *p = list;; p++) {
        if (*p == '"' && (p == list || p[-1] != '\\'))
            quoted = !quoted;
        else if (!quoted && *p == '<')
            angle++;
        else if (!quoted && *p == '>' && angle > 0)
            angle--;
        if (*p != '\0' && (quoted || angle > 0 || (*p != ',' && *p != ';')))
            continue;
        const char *b = item, *e = p;
        while (b < e && is_wsp(*b))
            b++;
        while (e > b && is_wsp(e[-1]))
            e--;
        size_t n = (size_t)(e - b), off, len;
        smtp_addr_spec(b, n, &off, &len);
        while (len > 0 && is_wsp(b[off])) {
            off++;
            len--;
        }
        while (len > 0 && is_wsp(b[off + len - 1]))
            len--;
        if (len > 0) {
            if (header != NULL) {
                if (!first) {
                    bool fold = col + 2 + n > SMTP_FOLD_AT;
                    sb_puts(header, fold ? ",\r\n " : ", ");
                    col = fold ? 1 : col + 2;
                }
                sb_putn(header, b, n);
                col += n;
            }
            if (rcpt != NULL && !addr_list_push(rcpt, b + off, len))
                return false;
            first = false;
        }
        if (*p == '\0')
            break;
        item = p + 1;
    }
    return header == NULL || !header->oom;
}

static bool
is_ascii(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

/* Whether some run of non-blanks is too long to fold plain text around. */
static bool
has_long_word(const char *s)
{
    size_t run = 0;
    for (; *s != '\0'; s++) {
        run = is_wsp(*s) ? 0 : run + 1;
        if (run > SMTP_LINE_MAX - 20)
            return true;
    }
    return false;
}

static void
base64_put(struct sbuf *b, const unsigned char *s, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        char q[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63], i + 1 < n ? tab[(v >> 6) & 63] : '=',
                     i + 2 < n ? tab[v & 63] : '='};
        sb_putn(b, q, 4);
    }
}

/*
 * The Subject value as RFC 2047 "B" encoded words of whole UTF-8
 * characters, one per folded line: the form for text that is not ASCII
 * or that has a word too long to fold.
 */
static void
smtp_put_encoded_words(struct sbuf *out, const char *s)
{
    size_t n = strlen(s), i = 0;
    bool first = true;
    while (i < n) {
        size_t take = n - i < SMTP_EWORD_BYTES ? n - i : SMTP_EWORD_BYTES;
        /* Never split a character: back off continuation bytes. */
        while (i + take < n && take > 1 && ((unsigned char)s[i + take] & 0xC0) == 0x80)
            take--;
        sb_puts(out, first ? "=?utf-8?B?" : "\r\n =?utf-8?B?");
        base64_put(out, (const unsigned char *)s + i, take);
        sb_puts(out, "?=");
        i += take;
        first = false;
    }
}

/*
 * "Name: value" with the value folded at blanks (RFC 5322 2.2.3) so that
 * lines stay within SMTP_FOLD_AT where the words allow it; a value that
 * is not ASCII or cannot be folded goes out as encoded words.
 */
static void
smtp_put_unstructured(struct sbuf *out, const char *name, const char *value)
{
    sb_puts(out, name);
    sb_puts(out, ": ");
    if (!is_ascii(value) || has_long_word(value)) {
        smtp_put_encoded_words(out, value);
        sb_puts(out, "\r\n");
        return;
    }
    size_t col = strlen(name) + 2;
    const char *p = value;
    while (*p != '\0') {
        /* A token is a run of blanks and the word after it. */
        const char *t = p;
        while (is_wsp(*p))
            p++;
        while (*p != '\0' && !is_wsp(*p))
            p++;
        size_t tlen = (size_t)(p - t);
        if (col + tlen > SMTP_FOLD_AT && t != value && is_wsp(*t)) {
            sb_puts(out, "\r\n");
            col = 0;
        }
        sb_putn(out, t, tlen);
        col += tlen;
    }
    sb_puts(out, "\r\n");
}

/* Whether the body must be quoted-printable: 8-bit data or a line too long. */
static bool
smtp_body_needs_qp(const char *s)
{
    size_t line = 0;
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s >= 0x80)
            return true;
        line = (*s == '\r' || *s == '\n') ? 0 : line + 1;
        if (line > SMTP_LINE_MAX)
            return true;
    }
    return false;
}

/* One body line s[0..n) as quoted-printable (RFC 2045 6.7), then CRLF. */
static void
smtp_put_qp_line(struct sbuf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char enc[3] = {'=', hex[c >> 4], hex[c & 15]};
        /* Blanks at the end of a line would be stripped in transit. */
        bool literal = (c >= 33 && c <= 126 && c != '=') || (is_wsp((char)c) && i + 1 < n);
        size_t k = literal ? 1 : 3;
        if (col + k > 75) {
            sb_puts(out, "=\r\n");
            col = 0;
        }
        sb_putn(out, literal ? (const char *)&s[i] : enc, k);
        col += k;
    }
    sb_puts(out, "\r\n");
}

/*
 * The body with every line end (CRLF, LF or a lone CR) made CRLF and a
 * final CRLF added; quoted-printable when @qp.
 */
static void
smtp_put_body(struct sbuf *out, const char *body, bool qp)
{
    const char *p = body;
    while (*p != '\0') {
        size_t n = strcspn(p, "\r\n");
        if (qp) {
            smtp_put_qp_line(out, p, n);
        } else {
            sb_putn(out, p, n);
            sb_puts(out, "\r\n");
        }
        p += n;
        if (p[0] == '\r' && p[1] == '\n')
            p += 2;
        else if (*p != '\0')
            p++;
    }
}

/* An address header, when its list has at least one address. */
static void
smtp_put_address_header(struct sbuf *out, const char *name, const char *list)
{
    if (list == NULL)
        return;
    struct sbuf h = {0};
    sb_puts(&h, name);
    sb_puts(&h, ": ");
    size_t head = h.len;
    if (!smtp_parse_addresses(list, head, &h, NULL) || h.oom) {
        out->oom = true;
    } else if (h.len > head) {
        sb_putn(out, h.p, h.len);
        sb_puts(out, "\r\n");
    }
    sb_free(&h);
}

/*
 * The whole message of @m in @out (reset first): the headers of RFC 5322
 * (Date, From, To, Cc, Reply-To, Subject, Message-ID), MIME headers when
 * the body needs them, the HeaderFields lines, a blank line and the body.
 * false when out of memory.
 */
static bool
smtp_build_message(const struct smtp_mail *m, struct sbuf *out)
{
    const char *body = m->field[F_MESSAGE] != NULL ? m->field[F_MESSAGE] : "";
    bool qp = smtp_body_needs_qp(body);
    sb_reset(out);
    sb_puts(out, "Date: ");
    sb_puts(out, m->date);
    sb_puts(out, "\r\n");
    smtp_put_address_header(out, "From", m->field[F_FROM]);
    smtp_put_address_header(out, "To", m->field[F_TO]);
    smtp_put_address_header(out, "Cc", m->field[F_CC]);
    smtp_put_address_header(out, "Reply-To", m->field[F_REPLY_TO]);
    if (m->field[F_SUBJECT] != NULL && m->field[F_SUBJECT][0] != '\0')
        smtp_put_unstructured(out, "Subject", m->field[F_SUBJECT]);
    sb_puts(out, "Message-ID: ");
    sb_puts(out, m->message_id);
    sb_puts(out, "\r\n");
    if (qp || m->content_type != NULL)
        sb_puts(out, "MIME-Version: 1.0\r\n");
    if (qp && m->content_type == NULL)
        sb_puts(out, "Content-Type: text/plain; charset=utf-8\r\n");
    if (qp)
        sb_puts(out, "Content-Transfer-Encoding: quoted-printable\r\n");
    for (size_t i = 0; i < m->nextra; i++) {
        sb_puts(out, m->extra[i]);
        sb_puts(out, "\r\n");
    }
    sb_puts(out, "\r\n");
    smtp_put_body(out, body, qp);
    return !out->oom;
}

/*
 * The envelope of @m: the From addr-spec in *@from (malloc'd) and every
 * To, Cc and Bcc addr-spec in @rcpt (cleared first).  false when out of
 * memory.
 */
static bool
smtp_build_envelope(const struct smtp_mail *m, char **from, struct addr_list *rcpt)
{
    static const enum smtp_field lists[] = {F_TO, F_CC, F_BCC};
    addr_list_clear(rcpt);
    *from = NULL;
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        const char *l = m->field[lists[i]];
        if (l != NULL && !smtp_parse_addresses(l, 0, NULL, rcpt))
            return false;
    }
    struct addr_list f = {0};
    bool ok = smtp_parse_addresses(m->field[F_FROM] != NULL ? m->field[F_FROM] : "", 0, NULL, &f);
    if (ok)
        *from = strdup(f.n > 0 ? f.v[0] : "");
    addr_list_free(&f);
    return ok && *from != NULL;
}

/* RFC 5322 3.3 date-time, with the day and month names of the RFC (no
 * locale). */
static void
smtp_format_date(const struct tm *tm, long gmtoff, char *out, size_t outlen)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    long off = gmtoff < 0 ? -gmtoff : gmtoff;
    snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld", days[tm->tm_wday % 7], tm->tm_mday,
             months[tm->tm_mon % 12], tm->tm_year + 1900, tm->tm_hour, tm->tm_min, tm->tm_sec,
             gmtoff < 0 ? '-' : '+', (off / 3600) % 100, (off / 60) % 60);
}

enum smtp_hf { HF_OK, HF_CONTENT_TYPE, HF_BAD };

/*
 * Check one HeaderFields line.  HF_OK, HF_CONTENT_TYPE (it replaces the
 * consumer's Content-Type), or HF_BAD with the reason in *@why.
 */
static enum smtp_hf
smtp_check_header_field(const char *line, const char **why)
{
    static const char *const own[] = {"Date", "From", "To", "Cc", "Reply-To", "Subject", "Message-ID",
                                      "MIME-Version", "Content-Transfer-Encoding"};
    const char *colon = strchr(line, ':');
    size_t n = colon != NULL ? (size_t)(colon - line) : 0;
    for (const char *p = line; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\r' || c == '\n') {
            *why = "holds a CR or LF";
            return HF_BAD;
        }
        if ((c < 0x20 && c != '\t') || c >= 0x7f) {
            *why = "holds a control or non-ASCII character";
            return HF_BAD;
        }
    }
    if (strlen(line) > SMTP_LINE_MAX) {
        *why = "is longer than 998 characters";
        return HF_BAD;
    }
    if (n == 0) {
        *why = "is not \"Name: value\"";
        return HF_BAD;
    }
    for (size_t i = 0; i < n; i++) {
        if (line[i] <= ' ') {
            *why = "has a blank in its field name";
            return HF_BAD;
        }
    }
    if (n == 3 && strncasecmp(line, "Bcc", 3) == 0) {
        *why = "is a Bcc header, which would show the blind copies to every recipient (use BccLine)";
        return HF_BAD;
    }
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        if (strlen(own[i]) == n && strncasecmp(line, own[i], n) == 0) {
            *why = "names a header the consumer writes itself";
            return HF_BAD;
        }
    }
    if (n == 12 && strncasecmp(line, "Content-Type", 12) == 0)
        return HF_CONTENT_TYPE;
    return HF_OK;
}

/*
 * The curl URL of an SMTPServer value: "host", "host:port", "[v6]",
 * "[v6]:port" or a bare IPv6 address.  NULL with *@why set when the value
 * is unusable or memory runs out.
 */
static char *
smtp_parse_server(const char *server, const char **why)
{
    char host[256];
    const char *port = NULL;
    const char *colon = strchr(server, ':');
    *why = "SMTPServer is not a host or host:port";
    if (server[0] == '[') {
        const char *close = strchr(server, ']');
        if (close == NULL || (size_t)(close - server) + 1 >= sizeof host || close == server + 1)
            return NULL;
        snprintf(host, sizeof host, "%.*s", (int)(close - server + 1), server);
        if (close[1] == ':')
            port = close + 2;
        else if (close[1] != '\0')
            return NULL;
        for (const char *p = server + 1; p < close; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
                return NULL;
    } else if (colon != NULL && strchr(colon + 1, ':') != NULL) {
        /* Two colons or more: a bare IPv6 address, which curl wants in brackets. */
        if (strlen(server) + 3 > sizeof host)
            return NULL;
        for (const char *p = server; *p != '\0'; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
                return NULL;
        snprintf(host, sizeof host, "[%s]", server);
    } else {
        size_t n = colon != NULL ? (size_t)(colon - server) : strlen(server);
        if (n == 0 || n >= sizeof host)
            return NULL;
        for (size_t i = 0; i < n; i++)
            if (!isalnum((unsigned char)server[i]) && server[i] != '-' && server[i] != '.' && server[i] != '_')
                return NULL;
        snprintf(host, sizeof host, "%.*s", (int)n, server);
        port = colon != NULL ? colon + 1 : NULL;
    }
    long portnum = SMTP_DEFAULT_PORT;
    if (port != NULL) {
        char *end;
        if (!isdigit((unsigned char)port[0]) || strlen(port) > 5)
            return NULL;
        portnum = strtol(port, &end, 10);
        if (*end != '\0' || portnum < 1 || portnum > 65535)
            return NULL;
    }
    char *url;
    if (asprintf(&url, "smtp://%s:%ld", host, portnum) < 0) {
        *why = "out of memory";
        return NULL;
    }
    return url;
}

/* ====================================================================
 * Sending
 * ==================================================================== */

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The WBEM status of a curl failure: the network and TLS failures are
 * transport failures, so that __ConsumerFailureEvent tells them apart. */
static wmi_status
smtp_status_from_curl(CURLcode c)
{
    switch (c) {
    case CURLE_OUT_OF_MEMORY:
        return WBEM_E_OUT_OF_MEMORY;
    case CURLE_LOGIN_DENIED:
        return WBEM_E_ACCESS_DENIED;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
        return WBEM_E_TRANSPORT_FAILURE;
    default:
        return WBEM_E_FAILED;
    }
}

struct upload {
    const char *p;
    size_t len, off;
};

static size_t
upload_read(char *buf, size_t size, size_t nitems, void *arg)
{
    struct upload *u = arg;
    size_t n = size * nitems;
    if (n > u->len - u->off)
        n = u->len - u->off;
    memcpy(buf, u->p + u->off, n);
    u->off += n;
    return n;
}

static void
smtp_log(const struct smtp_sink *s, int level, const char *what, const char *detail)
{
    const struct wmi_host *host = s->prov->host;
    if (host != NULL && host->log != NULL)
        host->log(host, level, "SMTPEventConsumer.Name=\"%s\": %s: %s", s->name, what, detail);
}

/* A new easy handle with the session's settings: the server, TLS, the
 * time limits.  NULL when out of memory. */
static CURL *
smtp_session(const struct smtp_sink *s, char *errbuf, struct upload *u)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return NULL;
    const struct smtp_provider *p = s->prov;
    bool ok = curl_easy_setopt(c, CURLOPT_URL, s->url) == CURLE_OK &&
              /* Signals would hit another thread of the daemon. */
              curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_USE_SSL, p->require_tls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY) ==
                  CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
              (p->ca_file == NULL || curl_easy_setopt(c, CURLOPT_CAINFO, p->ca_file) == CURLE_OK) &&
              curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)SMTP_CONNECT_TIMEOUT_MS) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_UPLOAD, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_READFUNCTION, upload_read) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_READDATA, u) == CURLE_OK;
    if (!ok) {
        curl_easy_cleanup(c);
        return NULL;
    }
    return c;
}

/* Send s->msg from @from to @rcpt on session @c within @budget_ms. */
static CURLcode
smtp_send_one(struct smtp_sink *s, CURL *c, struct upload *u, const char *from, const struct addr_list *rcpt,
              long budget_ms)
{
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < rcpt->n; i++) {
        struct curl_slist *l = curl_slist_append(list, rcpt->v[i]);
        if (l == NULL) {
            curl_slist_free_all(list);
            return CURLE_OUT_OF_MEMORY;
        }
        list = l;
    }
    u->p = s->msg.p;
    u->len = s->msg.len;
    u->off = 0;
    CURLcode rc = curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_MAIL_RCPT, list);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)s->msg.len);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, budget_ms);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(c);
    /* The option keeps a pointer to the list: clear it before freeing. */
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, (struct curl_slist *)NULL);
    curl_slist_free_all(list);
    return rc;
}

/* Expand the templates for @event and build s->msg and the envelope. */
static wmi_status
smtp_prepare(struct smtp_sink *s, const wmi_object *event, char **from, struct addr_list *rcpt)
{
    struct smtp_mail m = {.extra = (const char *const *)s->extra, .nextra = s->nextra,
                          .content_type = s->content_type};
    for (int f = 0; f < F_COUNT; f++) {
        sb_reset(&s->exp[f]);
        sb_puts(&s->exp[f], "");
        if (s->tmpl[f] != NULL &&
            WMI_FAILED(wmi_template_expand(s->tmpl[f], event, &s->exp[f].p, &s->exp[f].len, &s->exp[f].cap)))
            return WBEM_E_OUT_OF_MEMORY;
        if (s->exp[f].oom)
            return WBEM_E_OUT_OF_MEMORY;
        if (f != F_MESSAGE)
            smtp_clean_header_text(s->exp[f].p);
        m.field[f] = s->exp[f].p;
    }
    if (m.field[F_FROM][0] == '\0')
        m.field[F_FROM] = s->default_from;

    char date[64], msgid[400];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    smtp_format_date(&tm, tm.tm_gmtoff, date, sizeof date);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long seq = __atomic_add_fetch(&s->prov->seq, 1, __ATOMIC_RELAXED);
    snprintf(msgid, sizeof msgid, "<%lld.%09ld.%ld.%lu.wmieventd@%s>", (long long)ts.tv_sec, ts.tv_nsec,
             (long)getpid(), seq, s->prov->hostname);
    m.date = date;
    m.message_id = msgid;
    if (!smtp_build_envelope(&m, from, rcpt) || !smtp_build_message(&m, &s->msg))
        return WBEM_E_OUT_OF_MEMORY;
    return WBEM_S_NO_ERROR;
}

/*
 * Send the n events as n messages in one session.  The first failure
 * stops the batch: the events before it are delivered, the call fails.
 */
static wmi_status
smtp_indicate(struct wmi_unbound_object_sink *self, const wmi_object *logical_consumer, size_t n,
              wmi_object *const *events)
{
    struct smtp_sink *s = (struct smtp_sink *)(void *)self;
    (void)logical_consumer; /* the settings were read by find_consumer */
    if (n == 0)
        return WBEM_S_NO_ERROR;
    char errbuf[CURL_ERROR_SIZE] = "";
    struct upload u = {0};
    struct addr_list rcpt = {0};
    CURL *c = smtp_session(s, errbuf, &u);
    if (c == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    uint64_t start = now_ms();
    wmi_status st = WBEM_S_NO_ERROR;
    for (size_t i = 0; i < n && st == WBEM_S_NO_ERROR; i++) {
        char *from = NULL;
        st = smtp_prepare(s, events[i], &from, &rcpt);
        if (st == WBEM_S_NO_ERROR && rcpt.n == 0) {
            smtp_log(s, WMI_LOG_ERR, "not sent", "ToLine, CcLine and BccLine expand to no address");
            s->failing = true;
            st = WBEM_E_FAILED;
        }
        long left = SMTP_BUDGET_MS - (long)(now_ms() - start);
        if (st == WBEM_S_NO_ERROR && left < SMTP_MIN_MESSAGE_MS) {
            smtp_log(s, WMI_LOG_ERR, s->url, "no time left in the call for the rest of the batch");
            s->failing = true;
            st = WBEM_E_TRANSPORT_FAILURE;
        }
        if (st == WBEM_S_NO_ERROR) {
            CURLcode rc = smtp_send_one(s, c, &u, from, &rcpt, left);
            if (rc != CURLE_OK) {
                st = smtp_status_from_curl(rc);
                smtp_log(s, WMI_LOG_ERR, s->url, errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
                s->failing = true;
            }
        }
        free(from);
    }
    /* Cleaning the handle up ends the session (QUIT) and closes it. */
    curl_easy_cleanup(c);
    addr_list_free(&rcpt);
    if (st == WBEM_S_NO_ERROR && s->failing) {
        s->failing = false;
        smtp_log(s, WMI_LOG_NOTICE, s->url, "sending again");
    }
    return st;
}

/* ====================================================================
 * The sink and the provider
 * ==================================================================== */

static void
smtp_release(struct wmi_unbound_object_sink *self)
{
    struct smtp_sink *s = (struct smtp_sink *)(void *)self;
    if (s == NULL)
        return;
    for (int f = 0; f < F_COUNT; f++) {
        wmi_template_free(s->tmpl[f]);
        sb_free(&s->exp[f]);
    }
    for (size_t i = 0; i < s->nextra; i++)
        free(s->extra[i]);
    free(s->extra);
    sb_free(&s->msg);
    free(s->default_from);
    free(s->url);
    free(s->name);
    free(s);
}

static void
log_bad(const struct smtp_provider *p, const char *name, const char *what, const char *why)
{
    if (p->host != NULL && p->host->log != NULL)
        p->host->log(p->host, WMI_LOG_ERR, "SMTPEventConsumer.Name=\"%s\": %s %s", name, what, why);
}

/* Compile the [Template] properties; ToLine must be set. */
static wmi_status
smtp_read_templates(struct smtp_sink *s, const wmi_object *lc)
{
    for (int f = 0; f < F_COUNT; f++) {
        const char *text = NULL;
        wmi_status st = wmi_object_get_string(lc, smtp_field_prop[f], &text);
        if (WMI_FAILED(st)) {
            log_bad(s->prov, s->name, smtp_field_prop[f], "is not a string");
            return WBEM_E_INVALID_PARAMETER;
        }
        if (st == WBEM_S_FALSE || text[0] == '\0')
            continue;
        wmi_error err;
        st = wmi_template_compile(text, &s->tmpl[f], &err);
        if (WMI_FAILED(st)) {
            if (st == WBEM_E_INVALID_PARAMETER)
                log_bad(s->prov, s->name, smtp_field_prop[f], "is not a valid template");
            return st;
        }
    }
    if (s->tmpl[F_TO] == NULL) {
        log_bad(s->prov, s->name, "ToLine", "is not set");
        return WBEM_E_INVALID_PARAMETER;
    }
    return WBEM_S_NO_ERROR;
}

/* Validate and keep HeaderFields. */
static wmi_status
smtp_read_header_fields(struct smtp_sink *s, const wmi_object *lc)
{
    const json_t *v = NULL;
    if (WMI_FAILED(wmi_object_get_json(lc, "HeaderFields", &v, NULL)) || v == NULL || json_is_null(v))
        return WBEM_S_NO_ERROR;
    if (!json_is_array(v)) {
        log_bad(s->prov, s->name, "HeaderFields", "is not an array of strings");
        return WBEM_E_INVALID_PARAMETER;
    }
    size_t n = json_array_size(v);
    s->extra = calloc(n + 1, sizeof *s->extra);
    if (s->extra == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    for (size_t i = 0; i < n; i++) {
        const char *line = json_string_value(json_array_get(v, i));
        const char *why = "is NULL";
        enum smtp_hf kind = line != NULL ? smtp_check_header_field(line, &why) : HF_BAD;
        if (kind == HF_BAD) {
            char what[64];
            snprintf(what, sizeof what, "HeaderFields[%zu]", i);
            log_bad(s->prov, s->name, what, why);
            return WBEM_E_INVALID_PARAMETER;
        }
        s->extra[i] = strdup(line);
        if (s->extra[i] == NULL)
            return WBEM_E_OUT_OF_MEMORY;
        s->nextra = i + 1;
        if (kind == HF_CONTENT_TYPE) {
            /* The value without its leading blanks replaces ours. */
            const char *val = strchr(s->extra[i], ':') + 1;
            while (is_wsp(*val))
                val++;
            s->content_type = val;
        }
    }
    return WBEM_S_NO_ERROR;
}

static wmi_status
smtp_find_consumer(void *provider, const wmi_object *lc, struct wmi_unbound_object_sink **sink)
{
    struct smtp_provider *p = provider;
    const char *name = NULL, *server = NULL, *why = NULL;
    if (sink == NULL || lc == NULL)
        return WBEM_E_INVALID_PARAMETER;
    *sink = NULL;
    if (wmi_object_get_string(lc, "Name", &name) != WBEM_S_NO_ERROR)
        name = "";
    struct smtp_sink *s = calloc(1, sizeof *s);
    if (s == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    s->base.indicate_to_consumer = smtp_indicate;
    s->base.release = smtp_release;
    s->prov = p;
    s->name = strdup(name);
    if (s->name == NULL || asprintf(&s->default_from, "wmieventd@%s", p->hostname) < 0) {
        s->default_from = NULL;
        smtp_release(&s->base);
        return WBEM_E_OUT_OF_MEMORY;
    }
    wmi_status st = wmi_object_get_string(lc, "SMTPServer", &server);
    if (st != WBEM_S_NO_ERROR || server[0] == '\0') {
        log_bad(p, name, "SMTPServer", "is not set");
        smtp_release(&s->base);
        return WBEM_E_INVALID_PARAMETER;
    }
    s->url = smtp_parse_server(server, &why);
    if (s->url == NULL) {
        char quoted[300];
        snprintf(quoted, sizeof quoted, "(\"%.256s\")", server);
        log_bad(p, name, why, quoted);
        smtp_release(&s->base);
        return strcmp(why, "out of memory") == 0 ? WBEM_E_OUT_OF_MEMORY : WBEM_E_INVALID_PARAMETER;
    }
    st = smtp_read_templates(s, lc);
    if (st == WBEM_S_NO_ERROR)
        st = smtp_read_header_fields(s, lc);
    if (st != WBEM_S_NO_ERROR) {
        smtp_release(&s->base);
        return st;
    }
    *sink = &s->base;
    return WBEM_S_NO_ERROR;
}

/* The machine's name as a domain for Message-ID and the default From:
 * anything but letters, digits, '-' and '.' makes it "localhost". */
static void
smtp_hostname(char *out, size_t outlen)
{
    if (gethostname(out, outlen) != 0 || out[0] == '\0')
        out[0] = '\0';
    out[outlen - 1] = '\0';
    for (const char *c = out; *c != '\0'; c++)
        if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.')
            out[0] = '\0';
    if (out[0] == '\0')
        snprintf(out, outlen, "localhost");
}

static wmi_status
smtp_initialize(const struct wmi_host *host, const wmi_object *registration, void **provider)
{
    (void)registration;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return WBEM_E_FAILED;
    struct smtp_provider *p = calloc(1, sizeof *p);
    if (p == NULL) {
        curl_global_cleanup();
        return WBEM_E_OUT_OF_MEMORY;
    }
    p->host = host;
    smtp_hostname(p->hostname, sizeof p->hostname);
    /* The TLS settings are the daemon's: the same for every consumer. */
    const char *ca = getenv("WMIEVENTD_SMTP_CA_FILE");
    const char *req = getenv("WMIEVENTD_SMTP_REQUIRE_TLS");
    p->require_tls = req != NULL && (strcmp(req, "1") == 0 || strcasecmp(req, "yes") == 0 ||
                                     strcasecmp(req, "true") == 0);
    if (ca != NULL && ca[0] != '\0') {
        p->ca_file = strdup(ca);
        if (p->ca_file == NULL) {
            free(p);
            curl_global_cleanup();
            return WBEM_E_OUT_OF_MEMORY;
        }
    }
    *provider = p;
    return WBEM_S_INITIALIZED;
}

static void
smtp_shutdown(void *provider)
{
    struct smtp_provider *p = provider;
    if (p == NULL)
        return;
    free(p->ca_file);
    free(p);
    curl_global_cleanup();
}

static const struct wmi_event_consumer_provider smtp_provider_ops = {
    .max_batch = SMTP_MAX_BATCH,
    .deadline_ms = SMTP_DEADLINE_MS,
    .initialize = smtp_initialize,
    .find_consumer = smtp_find_consumer,
    .shutdown = smtp_shutdown,
};

static const struct wmi_plugin smtp_plugin = {
    WMI_PLUGIN_DESCRIPTOR("smtp", SMTP_VERSION),
    .consumer_provider = &smtp_provider_ops,
    .event_provider = NULL,
};

const struct wmi_plugin *
wmi_plugin_entry(uint32_t host_abi_major)
{
    if (host_abi_major != WMI_PLUGIN_ABI_MAJOR)
        return NULL;
    return &smtp_plugin;
}
