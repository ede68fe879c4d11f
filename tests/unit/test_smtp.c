/*
 * test_smtp.c - the SMTPEventConsumer plugin's message building and
 * settings, table-driven.
 *
 * The plugin's source is compiled into this test (its helpers are static,
 * and a plugin exports nothing but wmi_plugin_entry), so the pure
 * functions (address lists, headers, folding, body encoding, HeaderFields
 * and SMTPServer checks) are called directly, and find_consumer and
 * indicate_to_consumer are driven as the host drives them, with a fake
 * struct wmi_host.  A real server is the integration test's business
 * (tests/integration/t_smtp.py); here a closed port gives the failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "consumers/smtp.c"

static wmi_schema *g_schema;

/* ---- the fake host ---- */

static int g_log_count[8];
static char g_log_last[1024];

static void host_log(const struct wmi_host *host, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
host_log(const struct wmi_host *host, int level, const char *fmt, ...)
{
    (void)host;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_log_last, sizeof g_log_last, fmt, ap);
    va_end(ap);
    if (level >= 0 && level < 8)
        g_log_count[level]++;
}

static struct wmi_host g_host = {
    .abi_major = WMI_PLUGIN_ABI_MAJOR,
    .abi_minor = WMI_PLUGIN_ABI_MINOR,
    .size = sizeof(struct wmi_host),
    .log = host_log,
};

/* ==================================================================== */

struct addr_case {
    const char *list;
    const char *header;   /* the To: value */
    const char *rcpt[4];  /* NULL-terminated */
};

static const struct addr_case addr_cases[] = {
    {"a@x.org", "a@x.org", {"a@x.org"}},
    {"a@x.org, b@y.org;c@z.org", "a@x.org, b@y.org, c@z.org", {"a@x.org", "b@y.org", "c@z.org"}},
    {"\"Doe, John\" <jd@x.org>; Ann <ann@y.org>", "\"Doe, John\" <jd@x.org>, Ann <ann@y.org>",
     {"jd@x.org", "ann@y.org"}},
    {" ; ,a@x.org,, ", "a@x.org", {"a@x.org"}},
    {"<a@x.org>", "<a@x.org>", {"a@x.org"}},
    {"Ops <ops@x.org>;\troot", "Ops <ops@x.org>, root", {"ops@x.org", "root"}},
    {"Weird <a,b@x.org>", "Weird <a,b@x.org>", {"a,b@x.org"}},
    {"", "", {NULL}},
    {" ;; ", "", {NULL}},
};

static void
test_addresses(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof addr_cases / sizeof addr_cases[0]; i++) {
        const struct addr_case *c = &addr_cases[i];
        struct sbuf h = {0};
        struct addr_list r = {0};
        sb_puts(&h, "");
        assert_true(smtp_parse_addresses(c->list, 4, &h, &r));
        if (strcmp(h.p, c->header) != 0)
            fail_msg("case %zu [%s]: header [%s], want [%s]", i, c->list, h.p, c->header);
        size_t n = 0;
        while (c->rcpt[n] != NULL)
            n++;
        if (r.n != n)
            fail_msg("case %zu [%s]: %zu recipients, want %zu", i, c->list, r.n, n);
        for (size_t k = 0; k < n; k++)
            assert_string_equal(r.v[k], c->rcpt[k]);
        sb_free(&h);
        addr_list_free(&r);
    }
}

/* A long To list folds after a comma; every line stays within 78. */
static void
test_address_folding(void **state)
{
    (void)state;
    struct sbuf out = {0};
    smtp_put_address_header(&out, "To",
                            "first.person@example.org, second.person@example.org; third.person@example.org,"
                            "fourth.person@example.org");
    assert_string_equal(out.p, "To: first.person@example.org, second.person@example.org,\r\n"
                               " third.person@example.org, fourth.person@example.org\r\n");
    sb_free(&out);
    /* A list with no address writes no header at all. */
    smtp_put_address_header(&out, "Cc", " ; ");
    assert_true(out.p == NULL || out.p[0] == '\0');
    sb_free(&out);
}

/* The envelope: To, Cc and Bcc recipients in order; From's addr-spec. */
static void
test_envelope(void **state)
{
    (void)state;
    struct smtp_mail m = {.field = {[F_FROM] = "Watcher <w@x.org>", [F_TO] = "a@x.org", [F_CC] = "b@x.org; c@x.org",
                                    [F_BCC] = "Hidden <h@x.org>"}};
    struct addr_list r = {0};
    char *from = NULL;
    assert_true(smtp_build_envelope(&m, &from, &r));
    assert_string_equal(from, "w@x.org");
    assert_int_equal(r.n, 4);
    assert_string_equal(r.v[0], "a@x.org");
    assert_string_equal(r.v[1], "b@x.org");
    assert_string_equal(r.v[2], "c@x.org");
    assert_string_equal(r.v[3], "h@x.org");
    free(from);
    addr_list_free(&r);
}

struct hf_case {
    const char *line;
    enum smtp_hf want;
    const char *why;      /* a part of the reason, for HF_BAD */
};

static const struct hf_case hf_cases[] = {
    {"X-Priority: 1", HF_OK, NULL},
    {"Importance:high", HF_OK, NULL},
    {"X-Tab:\tvalue", HF_OK, NULL},
    {"Content-Type: text/html; charset=utf-8", HF_CONTENT_TYPE, NULL},
    {"content-type: text/plain", HF_CONTENT_TYPE, NULL},
    {"X-Evil: a\r\nBcc: spy@x.org", HF_BAD, "CR or LF"},
    {"X-Evil: a\nb", HF_BAD, "CR or LF"},
    {"X-Evil: a\rb", HF_BAD, "CR or LF"},
    {"Bcc: spy@x.org", HF_BAD, "Bcc"},
    {"BCC:spy@x.org", HF_BAD, "Bcc"},
    {"Subject: again", HF_BAD, "writes itself"},
    {"to: x@y.org", HF_BAD, "writes itself"},
    {"Message-ID: <1@x>", HF_BAD, "writes itself"},
    {"Content-Transfer-Encoding: 8bit", HF_BAD, "writes itself"},
    {"no colon here", HF_BAD, "Name: value"},
    {": value", HF_BAD, "Name: value"},
    {"Bad Name: value", HF_BAD, "blank"},
    {"X-Bell: \a", HF_BAD, "control"},
    {"X-Latin: caf\xc3\xa9", HF_BAD, "non-ASCII"},
    {"", HF_BAD, "Name: value"},
};

static void
test_header_fields(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof hf_cases / sizeof hf_cases[0]; i++) {
        const struct hf_case *c = &hf_cases[i];
        const char *why = NULL;
        enum smtp_hf got = smtp_check_header_field(c->line, &why);
        if (got != c->want)
            fail_msg("case %zu [%s]: %d, want %d (%s)", i, c->line, got, c->want, why ? why : "");
        if (c->want == HF_BAD && strstr(why, c->why) == NULL)
            fail_msg("case %zu [%s]: reason [%s] lacks [%s]", i, c->line, why, c->why);
    }
    char long_line[1100];
    memset(long_line, 'a', sizeof long_line - 1);
    long_line[sizeof long_line - 1] = '\0';
    memcpy(long_line, "X-Long: ", 8);
    const char *why = NULL;
    assert_int_equal(smtp_check_header_field(long_line, &why), HF_BAD);
    assert_non_null(strstr(why, "998"));
}

struct server_case {
    const char *server;
    const char *url;      /* NULL: refused */
};

static const struct server_case server_cases[] = {
    {"mail.example.org", "smtp://mail.example.org:25"},
    {"mail.example.org:587", "smtp://mail.example.org:587"},
    {"127.0.0.1:2525", "smtp://127.0.0.1:2525"},
    {"[::1]", "smtp://[::1]:25"},
    {"[::1]:2525", "smtp://[::1]:2525"},
    {"::1", "smtp://[::1]:25"},
    {"smtp_relay", "smtp://smtp_relay:25"},
    {"host:0", NULL},
    {"host:65536", NULL},
    {"host:", NULL},
    {"host:25x", NULL},
    {":25", NULL},
    {"smtp://host", NULL},
    {"user@host", NULL},
    {"host name", NULL},
    {"[::1", NULL},
    {"[::1]x", NULL},
    {"[]", NULL},
};

static void
test_server(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof server_cases / sizeof server_cases[0]; i++) {
        const struct server_case *c = &server_cases[i];
        const char *why = NULL;
        char *url = smtp_parse_server(c->server, &why);
        if (c->url == NULL && url != NULL)
            fail_msg("case %zu [%s]: accepted as %s", i, c->server, url);
        if (c->url != NULL && (url == NULL || strcmp(url, c->url) != 0))
            fail_msg("case %zu [%s]: %s, want %s (%s)", i, c->server, url ? url : "refused", c->url,
                     why ? why : "");
        if (url == NULL)
            assert_non_null(strstr(why, "SMTPServer"));
        free(url);
    }
}

struct unstructured_case {
    const char *value;
    const char *want;     /* the whole header, CRLF included */
};

static const struct unstructured_case subject_cases[] = {
    {"Disk full", "Subject: Disk full\r\n"},
    /* Folded before the blank whose word would pass column 78. */
    {"The quick brown fox jumps over the lazy dog and then the quick brown fox jumps again",
     "Subject: The quick brown fox jumps over the lazy dog and then the quick brown\r\n"
     " fox jumps again\r\n"},
    /* UTF-8: encoded words of whole characters (RFC 2047), 18 of the 20
     * two-byte characters in the first. */
    {"caf\xc3\xa9", "Subject: =?utf-8?B?Y2Fmw6k=?=\r\n"},
    {"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
     "Subject: =?utf-8?B?w6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOp?=\r\n"
     " =?utf-8?B?w6nDqQ==?=\r\n"},
};

static void
test_subject(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof subject_cases / sizeof subject_cases[0]; i++) {
        struct sbuf out = {0};
        smtp_put_unstructured(&out, "Subject", subject_cases[i].value);
        if (strcmp(out.p, subject_cases[i].want) != 0)
            fail_msg("case %zu:\n  got  [%s]\n  want [%s]", i, out.p, subject_cases[i].want);
        sb_free(&out);
    }
    /* A word too long to fold within 998 goes out encoded, lines short. */
    char word[1200];
    memset(word, 'x', sizeof word - 1);
    word[sizeof word - 1] = '\0';
    struct sbuf out = {0};
    smtp_put_unstructured(&out, "Subject", word);
    assert_memory_equal(out.p, "Subject: =?utf-8?B?", 19);
    for (char *line = out.p; *line != '\0';) {
        char *end = strstr(line, "\r\n");
        assert_non_null(end);
        assert_true(end - line <= SMTP_FOLD_AT);
        line = end + 2;
    }
    sb_free(&out);
}

/* Event data cannot add a header line: controls become blanks. */
static void
test_clean_header_text(void **state)
{
    (void)state;
    char s[] = "alert\r\nBcc: spy@x.org\t\x01!";
    smtp_clean_header_text(s);
    assert_string_equal(s, "alert  Bcc: spy@x.org  !");
}

struct body_case {
    const char *body;
    bool qp;
    const char *want;
};

static const struct body_case body_cases[] = {
    {"", false, ""},
    {"one line", false, "one line\r\n"},
    {"a\nb\r\nc\rd\n", false, "a\r\nb\r\nc\r\nd\r\n"},
    /* Dot-stuffing is libcurl's: the text here keeps its dots. */
    {".\n..hidden\n", false, ".\r\n..hidden\r\n"},
    {"caf\xc3\xa9 = ok", true, "caf=C3=A9 =3D ok\r\n"},
    {"caf\xc3\xa9 \nblank\t", true, "caf=C3=A9=20\r\nblank=09\r\n"},
};

static void
test_body(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof body_cases / sizeof body_cases[0]; i++) {
        const struct body_case *c = &body_cases[i];
        assert_int_equal(smtp_body_needs_qp(c->body), c->qp);
        struct sbuf out = {0};
        sb_puts(&out, "");
        smtp_put_body(&out, c->body, c->qp);
        if (strcmp(out.p, c->want) != 0)
            fail_msg("case %zu:\n  got  [%s]\n  want [%s]", i, out.p, c->want);
        sb_free(&out);
    }
    /* A line over 998 octets is quoted-printable with soft breaks. */
    char line[1500];
    memset(line, 'y', sizeof line - 1);
    line[sizeof line - 1] = '\0';
    assert_true(smtp_body_needs_qp(line));
    struct sbuf out = {0};
    smtp_put_body(&out, line, true);
    size_t ys = 0;
    for (char *l = out.p; *l != '\0';) {
        char *end = strstr(l, "\r\n");
        assert_true(end - l <= 76);
        for (char *p = l; p < end; p++)
            ys += *p == 'y';
        l = end + 2;
    }
    assert_int_equal(ys, sizeof line - 1);
    sb_free(&out);
}

static void
test_date(void **state)
{
    (void)state;
    struct tm tm = {.tm_year = 126, .tm_mon = 11, .tm_mday = 6, .tm_wday = 0, .tm_hour = 7, .tm_min = 5,
                    .tm_sec = 9};
    char buf[64];
    smtp_format_date(&tm, 0, buf, sizeof buf);
    assert_string_equal(buf, "Sun, 06 Dec 2026 07:05:09 +0000");
    smtp_format_date(&tm, -(5 * 3600 + 30 * 60), buf, sizeof buf);
    assert_string_equal(buf, "Sun, 06 Dec 2026 07:05:09 -0530");
}

/* The whole message: header order, MIME headers only when needed,
 * HeaderFields after the consumer's own, no Bcc. */
static void
test_message(void **state)
{
    (void)state;
    const char *extra[] = {"X-Priority: 1"};
    struct smtp_mail m = {
        .field = {[F_FROM] = "wmi@x.org", [F_TO] = "a@x.org;b@x.org", [F_CC] = "c@x.org", [F_BCC] = "h@x.org",
                  [F_REPLY_TO] = "ops@x.org", [F_SUBJECT] = "sshd started", [F_MESSAGE] = "pid 42\n.\nend"},
        .extra = extra, .nextra = 1, .date = "Sun, 06 Dec 2026 07:05:09 +0000", .message_id = "<1.2@x.org>"};
    struct sbuf out = {0};
    assert_true(smtp_build_message(&m, &out));
    assert_string_equal(out.p, "Date: Sun, 06 Dec 2026 07:05:09 +0000\r\n"
                               "From: wmi@x.org\r\n"
                               "To: a@x.org, b@x.org\r\n"
                               "Cc: c@x.org\r\n"
                               "Reply-To: ops@x.org\r\n"
                               "Subject: sshd started\r\n"
                               "Message-ID: <1.2@x.org>\r\n"
                               "X-Priority: 1\r\n"
                               "\r\n"
                               "pid 42\r\n.\r\nend\r\n");

    /* A UTF-8 body and a Content-Type of HeaderFields. */
    const char *html[] = {"Content-Type: text/html; charset=utf-8"};
    m.field[F_MESSAGE] = "<p>caf\xc3\xa9</p>";
    m.field[F_CC] = NULL;
    m.field[F_REPLY_TO] = "";
    m.field[F_SUBJECT] = NULL;
    m.extra = html;
    m.content_type = "text/html; charset=utf-8";
    assert_true(smtp_build_message(&m, &out));
    assert_string_equal(out.p, "Date: Sun, 06 Dec 2026 07:05:09 +0000\r\n"
                               "From: wmi@x.org\r\n"
                               "To: a@x.org, b@x.org\r\n"
                               "Message-ID: <1.2@x.org>\r\n"
                               "MIME-Version: 1.0\r\n"
                               "Content-Transfer-Encoding: quoted-printable\r\n"
                               "Content-Type: text/html; charset=utf-8\r\n"
                               "\r\n"
                               "<p>caf=C3=A9</p>\r\n");
    m.extra = NULL;
    m.nextra = 0;
    m.content_type = NULL;
    assert_true(smtp_build_message(&m, &out));
    assert_non_null(strstr(out.p, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                  "Content-Transfer-Encoding: quoted-printable\r\n\r\n"));
    sb_free(&out);
}

/* ---- the provider, as the host drives it ---- */

static wmi_object *
consumer(const char *json)
{
    json_error_t jerr;
    wmi_error err;
    wmi_object *obj = NULL;
    json_t *j = json_loads(json, 0, &jerr);
    if (j == NULL)
        fail_msg("bad test JSON: %s: %s", jerr.text, json);
    wmi_status st = wmi_object_from_json(g_schema, j, &obj, &err);
    json_decref(j);
    if (WMI_FAILED(st))
        fail_msg("object: 0x%08x %s: %s", st, err.source, err.text);
    return obj;
}

struct refusal_case {
    const char *json;     /* members after __CLASS and Name */
    const char *logged;   /* a part of the log line */
};

static const struct refusal_case refusal_cases[] = {
    {"\"ToLine\":\"a@x.org\"", "SMTPServer is not set"},
    {"\"SMTPServer\":\"\",\"ToLine\":\"a@x.org\"", "SMTPServer is not set"},
    {"\"SMTPServer\":\"host:99999\",\"ToLine\":\"a@x.org\"",
     "SMTPServer is not a host or host:port (\"host:99999\")"},
    {"\"SMTPServer\":\"localhost\"", "ToLine is not set"},
    {"\"SMTPServer\":\"localhost\",\"ToLine\":\"\"", "ToLine is not set"},
    {"\"SMTPServer\":\"localhost\",\"ToLine\":\"a@x.org\",\"HeaderFields\":[\"X-A: 1\",\"X-B: 2\\r\\nBcc: s@x\"]",
     "HeaderFields[1] holds a CR or LF"},
    {"\"SMTPServer\":\"localhost\",\"ToLine\":\"a@x.org\",\"HeaderFields\":[\"Bcc: s@x.org\"]",
     "HeaderFields[0] is a Bcc header"},
};

static void
test_find_consumer_refusals(void **state)
{
    (void)state;
    void *prov = NULL;
    assert_int_equal(smtp_initialize(&g_host, NULL, &prov), WBEM_S_INITIALIZED);
    for (size_t i = 0; i < sizeof refusal_cases / sizeof refusal_cases[0]; i++) {
        char json[512];
        snprintf(json, sizeof json, "{\"__CLASS\":\"SMTPEventConsumer\",\"Name\":\"bad\",%s}", refusal_cases[i].json);
        wmi_object *lc = consumer(json);
        struct wmi_unbound_object_sink *sink = (struct wmi_unbound_object_sink *)&sink;
        g_log_last[0] = '\0';
        assert_int_equal(smtp_find_consumer(prov, lc, &sink), WBEM_E_INVALID_PARAMETER);
        assert_null(sink);
        if (strstr(g_log_last, refusal_cases[i].logged) == NULL)
            fail_msg("case %zu: log [%s] lacks [%s]", i, g_log_last, refusal_cases[i].logged);
        wmi_object_unref(lc);
    }
    smtp_shutdown(prov);
}

/* A port nobody listens on: bound, then closed. */
static int
closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* A server that is down: WBEM_E_TRANSPORT_FAILURE and curl's text logged. */
static void
test_server_down(void **state)
{
    (void)state;
    void *prov = NULL;
    assert_int_equal(smtp_initialize(&g_host, NULL, &prov), WBEM_S_INITIALIZED);
    char json[256];
    snprintf(json, sizeof json,
             "{\"__CLASS\":\"SMTPEventConsumer\",\"Name\":\"down\",\"SMTPServer\":\"127.0.0.1:%d\","
             "\"ToLine\":\"a@x.org\",\"Subject\":\"%%ProcessName%%\"}",
             closed_port());
    wmi_object *lc = consumer(json);
    struct wmi_unbound_object_sink *sink = NULL;
    assert_int_equal(smtp_find_consumer(prov, lc, &sink), WBEM_S_NO_ERROR);
    wmi_object *ev = consumer("{\"__CLASS\":\"Win32_ProcessStartTrace\",\"ProcessName\":\"sshd\"}");
    wmi_object *const evs[2] = {ev, ev};
    int errs = g_log_count[WMI_LOG_ERR];
    assert_int_equal(sink->indicate_to_consumer(sink, lc, 2, evs), WBEM_E_TRANSPORT_FAILURE);
    assert_int_equal(g_log_count[WMI_LOG_ERR], errs + 1);
    assert_non_null(strstr(g_log_last, "Name=\"down\""));
    assert_non_null(strstr(g_log_last, "127.0.0.1"));
    sink->release(sink);
    wmi_object_unref(ev);
    wmi_object_unref(lc);
    smtp_shutdown(prov);
}

static void
test_entry(void **state)
{
    (void)state;
    const struct wmi_plugin *p = wmi_plugin_entry(WMI_PLUGIN_ABI_MAJOR);
    assert_non_null(p);
    assert_string_equal(p->name, "smtp");
    assert_int_equal(p->consumer_provider->deadline_ms, SMTP_DEADLINE_MS);
    assert_true(SMTP_BUDGET_MS < SMTP_DEADLINE_MS);
    assert_int_equal(p->consumer_provider->max_batch, SMTP_MAX_BATCH);
    assert_null(wmi_plugin_entry(WMI_PLUGIN_ABI_MAJOR + 1));
}

int
main(void)
{
    g_schema = wmi_schema_new();
    if (g_schema == NULL)
        return 1;
    g_host.schema = g_schema;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_address_folding),
        cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_header_fields),
        cmocka_unit_test(test_server),
        cmocka_unit_test(test_subject),
        cmocka_unit_test(test_clean_header_text),
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_date),
        cmocka_unit_test(test_message),
        cmocka_unit_test(test_find_consumer_refusals),
        cmocka_unit_test(test_server_down),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    wmi_schema_free(g_schema);
    return rc;
}
