/*
 * test_daemon_security.c - identities, the SDDL subset and access checks
 * (src/daemon/config/security.c, docs/security.md).
 *
 * Mostly data-driven: a table of descriptors that must be refused, with
 * the status and column of the error; a table of descriptors and
 * identities with the expected answer for each right; a table of texts
 * and their canonical form.  Identities for the access tables are built
 * by hand so that the answers do not depend on the passwd database of the
 * machine; the identity builders are tested on users every Debian system
 * has (root, nobody).  Every parse also runs on an exact-size heap copy,
 * so that ASan (make SAN=1) catches a read past the end of the text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grp.h>
#include <pwd.h>

#include <cmocka.h>

#include "daemon/config/config.h"

/* Parse a heap copy of exactly strlen(text) + 1 bytes. */
static struct sec_descriptor *
parse_exact(const char *text, wmi_error *err)
{
    size_t n = strlen(text);
    char *copy = malloc(n + 1);
    assert_non_null(copy);
    memcpy(copy, text, n + 1);
    struct sec_descriptor *sd = sec_descriptor_parse(copy, err);
    free(copy);
    return sd;
}

static struct sec_descriptor *
parse_ok(const char *text)
{
    wmi_error err;
    memset(&err, 0, sizeof err);
    struct sec_descriptor *sd = parse_exact(text, &err);
    if (sd == NULL)
        fail_msg("%s: refused at column %d: %s", text, err.column, err.text);
    return sd;
}

/* ====================================================================
 * Errors
 * ==================================================================== */

struct error_case {
    const char *sddl;
    wmi_status status;
    int column;
    const char *says;   /* a piece of the message */
};

#define INVAL WBEM_E_INVALID_PARAMETER
#define NOSUP WBEM_E_NOT_SUPPORTED

static const struct error_case error_cases[] = {
    /* structure */
    {"", INVAL, 1, "empty descriptor"},
    {"D", INVAL, 1, "expected O:, G: or D:, found 'D'"},
    {" D:", INVAL, 1, "whitespace"},
    {"O:BA", INVAL, 5, "missing DACL"},
    {"O:BAG:BA", INVAL, 9, "missing DACL"},
    {"O:BAX:", INVAL, 5, "expected G: or D:, found 'X'"},
    {"G:BAO:BAD:", INVAL, 5, "O: out of place"},
    {"D:D:", INVAL, 3, "D: out of place"},
    {"D:(A;;0x40;;;WD)D:", INVAL, 17, "D: out of place"},
    {"D:(A;;0x40;;;WD)x", INVAL, 17, "expected '(' to begin an ACE"},
    {"D:(A;;0x40;;;WD) ", INVAL, 17, "whitespace"},
    {"D:(A;;0x40;;;WD)\x01", INVAL, 17, "\\x01"},
    {"D:S:", NOSUP, 3, "SACL"},
    {"D:(A;;0x40;;;WD)S:(AU;SA;0x40;;;WD)", NOSUP, 17, "SACL"},
    /* owner and group */
    {"O:XYD:", INVAL, 3, "unknown owner SID 'XY'"},
    {"O:BUD:", NOSUP, 3, "owner SID alias 'BU' is not in the supported subset"},
    {"O:D:", INVAL, 3, "missing owner SID"},
    {"O:B", INVAL, 3, "unknown owner SID 'B'"},
    {"O:", INVAL, 3, "missing owner SID"},
    {"O:baD:", INVAL, 3, "upper case"},
    {"G:S-1-5-x", INVAL, 9, "expected a decimal number"},
    {"O:S-1-5-32-0544D:", INVAL, 12, "leading zero"},
    /* DACL flags */
    {"D:X", INVAL, 3, "expected DACL flags P or AI"},
    {"D:PP", INVAL, 4, "DACL flag P given twice"},
    {"D:AIPAI", INVAL, 6, "DACL flag AI given twice"},
    {"D:PA(A;;0x40;;;WD)", INVAL, 4, "found 'A'"},
    {"D:AR", NOSUP, 3, "AR"},
    {"D:NO_ACCESS_CONTROL", NOSUP, 3, "NO_ACCESS_CONTROL"},
    /* ACE shape */
    {"D:(A;;0x40;;;WD", INVAL, 16, "expected ')' to close the ACE at column 3, found the end"},
    {"D:(A;;0x40;;;WD(A;;0x40;;;WD)", INVAL, 16, "found '('"},
    {"D:(A;;0x40;;WD)", INVAL, 15, "has 5 fields"},
    {"D:()", INVAL, 4, "has 1 field:"},
    {"D:(A;;0x40;;;WD;x)", NOSUP, 16, "more than six fields"},
    /* ACE type */
    {"D:(X;;0x40;;;WD)", INVAL, 4, "unknown ACE type 'X'"},
    {"D:(a;;0x40;;;WD)", INVAL, 4, "unknown ACE type 'a'"},
    {"D:(OA;;0x40;;;WD)", NOSUP, 4, "ACE type 'OA' is not in the supported subset"},
    {"D:(AU;;0x40;;;WD)", NOSUP, 4, "ACE type 'AU'"},
    {"D:(;;0x40;;;WD)", INVAL, 4, "missing ACE type"},
    /* ACE flags */
    {"D:(A;CI;0x40;;;WD)", NOSUP, 6, "ACE flags 'CI' are not in the supported subset"},
    {"D:(A;OICI;0x40;;;WD)", NOSUP, 6, "'OICI'"},
    {"D:(A;XX;0x40;;;WD)", INVAL, 6, "unknown ACE flags"},
    {"D:(A;CIX;0x40;;;WD)", INVAL, 8, "unknown ACE flags"},
    /* rights */
    {"D:(A;;;;;WD)", INVAL, 7, "missing ACE rights"},
    {"D:(A;;0x;;;WD)", INVAL, 9, "expected hex digits after 0x"},
    {"D:(A;;0x4g;;;WD)", INVAL, 10, "'g' is not a hex digit"},
    {"D:(A;;064;;;WD)", INVAL, 7, "leading zero"},
    {"D:(A;;6a;;;WD)", INVAL, 8, "'a' is not a decimal digit"},
    {"D:(A;;0;;;WD)", INVAL, 7, "grant or deny nothing"},
    {"D:(A;;0x0;;;WD)", INVAL, 7, "grant or deny nothing"},
    {"D:(A;;0x100;;;WD)", NOSUP, 7, "bits 0x100 outside"},
    {"D:(A;;0x100000000;;;WD)", INVAL, 7, "wider than 32 bits"},
    {"D:(A;;4294967296;;;WD)", INVAL, 7, "wider than 32 bits"},
    {"D:(A;;RC;;;WD)", NOSUP, 7, "rights code 'RC' is not in the supported subset"},
    {"D:(A;;GAGR;;;WD)", NOSUP, 9, "'GR'"},
    {"D:(A;;GAXY;;;WD)", INVAL, 9, "unknown rights code 'XY'"},
    {"D:(A;;GAL;;;WD)", INVAL, 9, "two letters each"},
    {"D:(A;;ga;;;WD)", INVAL, 7, "unknown rights code 'ga'"},
    /* object GUIDs */
    {"D:(A;;0x40;x;;WD)", NOSUP, 12, "object GUID 'x'"},
    {"D:(A;;0x40;;x;WD)", NOSUP, 13, "inherited object GUID"},
    /* ACE SID */
    {"D:(A;;0x40;;;)", INVAL, 14, "missing ACE SID"},
    {"D:(A;;0x40;;;wd)", INVAL, 14, "upper case"},
    {"D:(A;;0x40;;;W)", INVAL, 14, "unknown ACE SID 'W'"},
    {"D:(A;;0x40;;;WDX)", INVAL, 14, "unknown ACE SID 'WDX'"},
    {"D:(A;;0x40;;;BU)", NOSUP, 14, "ACE SID alias 'BU' is not in the supported subset"},
    {"D:(A;;0x40;;;CO)", NOSUP, 14, "accepted aliases are WD"},
    {"D:(A;;0x40;;;S-1-01-0)", INVAL, 18, "leading zero"},
    {"D:(A;;0x40;;;S-2-1-0)", INVAL, 16, "revision must be 1"},
    {"D:(A;;0x40;;;S1-1-0)", INVAL, 14, "unknown ACE SID"},
    {"D:(A;;0x40;;;s-1-1-0)", INVAL, 14, "upper-case S"},
    {"D:(A;;0x40;;;S-1)", INVAL, 17, "identifier authority"},
    {"D:(A;;0x40;;;S-1-)", INVAL, 18, "expected a decimal number"},
    {"D:(A;;0x40;;;S-1-1-)", INVAL, 20, "expected a decimal number"},
    {"D:(A;;0x40;;;S-1-1--0)", INVAL, 20, "expected a decimal number"},
    {"D:(A;;0x40;;;S-1-1-0x)", INVAL, 21, "expected '-'"},
    {"D:(A;;0x40;;;S-1-281474976710656-1)", INVAL, 18, "48 bits"},
    {"D:(A;;0x40;;;S-1-5-4294967296)", INVAL, 20, "32 bits"},
    {"D:(A;;0x40;;;S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16)", INVAL, 55, "at most 15"},
    {"D:(A;;0x40;;;S-1-5-21-4294967295-4294967295-4294967295-4294967295-4294967295-1)", WBEM_E_QUOTA_VIOLATION, 77,
     "longer than 63"},
};

static void
test_parse_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        const struct error_case *c = &error_cases[i];
        wmi_error err;
        memset(&err, 0x5a, sizeof err);
        struct sec_descriptor *sd = parse_exact(c->sddl, &err);
        if (sd != NULL) {
            sec_descriptor_free(sd);
            fail_msg("\"%s\": accepted, expected an error at column %d", c->sddl, c->column);
        }
        if (err.status != c->status || err.column != c->column || strstr(err.text, c->says) == NULL)
            fail_msg("\"%s\": got %s column %d \"%s\"; expected %s column %d with \"%s\"", c->sddl,
                     wmi_status_name(err.status), err.column, err.text, wmi_status_name(c->status), c->column,
                     c->says);
        assert_int_equal(err.line, 0);
        assert_string_equal(err.source, "");
    }
    /* A NULL error pointer is allowed; a NULL text is an error of its own. */
    assert_null(sec_descriptor_parse("D:(X", NULL));
    wmi_error err;
    assert_null(sec_descriptor_parse(NULL, &err));
    assert_int_equal(err.status, WBEM_E_INVALID_PARAMETER);
}

/* ====================================================================
 * Limits
 * ==================================================================== */

static char *
repeat_aces(size_t n, const char *ace)
{
    size_t len = 2 + n * strlen(ace);
    char *s = malloc(len + 1);
    assert_non_null(s);
    memcpy(s, "D:", 2);
    for (size_t i = 0; i < n; i++)
        memcpy(s + 2 + i * strlen(ace), ace, strlen(ace));
    s[len] = '\0';
    return s;
}

static void
test_limits(void **state)
{
    (void)state;
    /* SEC_MAX_ACES ACEs pass; one more is refused at its '('. */
    const char *ace = "(A;;0x40;;;WD)";
    char *s = repeat_aces(SEC_MAX_ACES, ace);
    struct sec_descriptor *sd = parse_ok(s);
    assert_int_equal(sec_descriptor_ace_count(sd), SEC_MAX_ACES);
    sec_descriptor_free(sd);
    free(s);
    s = repeat_aces(SEC_MAX_ACES + 1, ace);
    wmi_error err;
    assert_null(parse_exact(s, &err));
    assert_int_equal(err.status, WBEM_E_QUOTA_VIOLATION);
    assert_int_equal(err.column, (int)(3 + SEC_MAX_ACES * strlen(ace)));
    assert_non_null(strstr(err.text, "more than 64 ACEs"));
    free(s);

    /* SEC_MAX_SDDL characters are read, and not one more: a text that is
     * too long is refused at the first character past the limit, without
     * looking further (a text of twice the limit whose end is garbage). */
    s = malloc(2 * SEC_MAX_SDDL + 1);
    assert_non_null(s);
    memset(s, 'P', 2 * SEC_MAX_SDDL);
    s[2 * SEC_MAX_SDDL] = '\0';
    memcpy(s, "D:", 2);
    assert_null(sec_descriptor_parse(s, &err));
    assert_int_equal(err.status, WBEM_E_QUOTA_VIOLATION);
    assert_int_equal(err.column, SEC_MAX_SDDL + 1);
    assert_non_null(strstr(err.text, "longer than 8192 characters"));
    /* At exactly the limit the text is parsed (and refused for what it is). */
    s[SEC_MAX_SDDL] = '\0';
    assert_null(sec_descriptor_parse(s, &err));
    assert_int_equal(err.status, WBEM_E_INVALID_PARAMETER);
    assert_int_equal(err.column, 4);
    free(s);

    /* The longest SID accepted has 63 characters, in a descriptor and as an
     * identity. */
    const char *sid63 = "S-1-5-21-4294967295-4294967295-4294967295-4294967295-4294967295";
    assert_int_equal(strlen(sid63), 63);
    char text[128];
    snprintf(text, sizeof text, "D:(A;;0x40;;;%s)", sid63);
    sd = parse_ok(text);
    struct sec_identity id;
    assert_true(sec_identity_from_sid(&id, sid63, -1));
    assert_string_equal(id.sid, sid63);
    assert_true(sec_descriptor_allows(sd, &id, SEC_RIGHT_SUBSCRIBE));
    sec_descriptor_free(sd);

    /* The largest descriptor within the limits prints shorter than the text
     * limit, so that it parses again. */
    char aceb[96];
    snprintf(aceb, sizeof aceb, "(D;;0x80;;;%s)", sid63);
    s = repeat_aces(SEC_MAX_ACES, aceb);
    char *big = malloc(strlen(s) + 200);
    assert_non_null(big);
    sprintf(big, "O:%sG:%sD:PAI%s", sid63, sid63, s + 2);
    sd = parse_ok(big);
    char *out = sec_descriptor_to_string(sd);
    assert_non_null(out);
    assert_true(strlen(out) < SEC_MAX_SDDL);
    assert_string_equal(out, big);
    free(out);
    sec_descriptor_free(sd);
    free(big);
    free(s);
}

/* ====================================================================
 * Access
 * ==================================================================== */

/* Identities of the access table, built by hand. */
enum who {
    U1000,      /* a user, in groups 1000 and 100 */
    U1001,      /* another user, group 1001 only */
    ROOT,       /* root as sec_identity_from_uid makes it */
    ADMINS,     /* the Administrators SID as stored */
    SYSTEM,     /* the LocalSystem SID as stored */
    UNKNOWN,    /* a peer whose uid is not known */
    FOREIGN,    /* a Windows domain account's SID */
    NWHO
};

static const char *const who_names[NWHO] = {"U1000", "U1001", "ROOT", "ADMINS", "SYSTEM", "UNKNOWN", "FOREIGN"};

static struct sec_identity who_ids[NWHO];

static void
make_identity(struct sec_identity *id, const char *sid, long uid, bool admin, size_t n, const long *groups)
{
    memset(id, 0, sizeof *id);
    snprintf(id->sid, sizeof id->sid, "%s", sid);
    id->uid = uid;
    id->admin = admin;
    id->ngroups = n;
    for (size_t i = 0; i < n; i++)
        id->groups[i] = groups[i];
}

static int
setup_identities(void **state)
{
    (void)state;
    make_identity(&who_ids[U1000], "S-1-22-1-1000", 1000, false, 2, (const long[]){1000, 100});
    make_identity(&who_ids[U1001], "S-1-22-1-1001", 1001, false, 1, (const long[]){1001});
    make_identity(&who_ids[ROOT], "S-1-5-32-544", 0, true, 1, (const long[]){0});
    make_identity(&who_ids[ADMINS], "S-1-5-32-544", -1, true, 0, NULL);
    make_identity(&who_ids[SYSTEM], "S-1-5-18", 0, true, 1, (const long[]){0});
    make_identity(&who_ids[UNKNOWN], "", -1, false, 0, NULL);
    make_identity(&who_ids[FOREIGN], "S-1-5-21-1-2-3-500", -1, false, 0, NULL);
    return 0;
}

struct access_case {
    const char *sddl;   /* NULL: no descriptor */
    unsigned right;
    /* Expected answer per identity, in enum who order: 'y' allowed, 'n' denied. */
    const char *expect;
};

#define SUB SEC_RIGHT_SUBSCRIBE
#define PUB SEC_RIGHT_PUBLISH

static const struct access_case access_cases[] = {
    /*                                                          U1000 U1001 ROOT ADMINS SYSTEM UNKNOWN FOREIGN */
    /* no descriptor, and an empty DACL */
    {NULL, SUB, "yyyyyyy"},
    {NULL, PUB, "yyyyyyy"},
    {"D:", SUB, "nnnnnnn"},
    {"O:BAG:BAD:", PUB, "nnnnnnn"},
    {"D:PAI", PUB, "nnnnnnn"},
    /* Everyone, by alias and by number; the right must be in the mask */
    {"D:(A;;0x40;;;WD)", SUB, "yyyyyyy"},
    {"D:(A;;0x40;;;WD)", PUB, "nnnnnnn"},
    {"D:(A;;0x40;;;S-1-1-0)", SUB, "yyyyyyy"},
    {"D:(A;;GA;;;WD)", PUB, "yyyyyyy"},
    {"D:(A;;DT;;;WD)", SUB, "yyyyyyy"},
    {"D:(A;;DT;;;WD)", PUB, "nnnnnnn"},
    {"D:(A;;LO;;;WD)", PUB, "yyyyyyy"},
    {"D:(A;;64;;;WD)", SUB, "yyyyyyy"},
    {"D:(A;;128;;;WD)", PUB, "yyyyyyy"},
    {"D:(A;;0XC0;;;WD)", PUB, "yyyyyyy"},
    {"D:(A;;CCDCLCSWRPWP;;;WD)", SUB, "nnnnnnn"},
    /* Administrators: root, the stored Administrators SID, LocalSystem */
    {"O:BAG:BAD:(A;;0x80;;;BA)", PUB, "nnyyynn"},
    {"D:(A;;0x80;;;S-1-5-32-544)", PUB, "nnyyynn"},
    {"D:(A;;0x40;;;BA)", PUB, "nnnnnnn"},
    /* LocalSystem: uid 0 and the LocalSystem SID, not the admin group SID */
    {"D:(A;;0x80;;;SY)", PUB, "nnynynn"},
    {"D:(A;;0x80;;;S-1-5-18)", PUB, "nnynynn"},
    /* Authenticated Users: every known uid, and admins */
    {"D:(A;;0x40;;;AU)", SUB, "yyyyynn"},
    {"D:(A;;0x40;;;S-1-5-11)", SUB, "yyyyynn"},
    /* Linux users and groups */
    {"D:(A;;0x40;;;S-1-22-1-1000)", SUB, "ynnnnnn"},
    {"D:(A;;0x40;;;S-1-22-1-0)", SUB, "nnynynn"},
    {"D:(A;;0x40;;;S-1-22-2-100)", SUB, "ynnnnnn"},
    {"D:(A;;0x40;;;S-1-22-2-1001)", SUB, "nynnnnn"},
    {"D:(A;;0x40;;;S-1-22-2-0)", SUB, "nnynynn"},
    /* any other SID: identical strings only */
    {"D:(A;;0x40;;;S-1-5-21-1-2-3-500)", SUB, "nnnnnny"},
    {"D:(A;;0x40;;;S-1-5-21-1-2-3-5000)", SUB, "nnnnnnn"},
    {"D:(A;;0x40;;;S-1-22-3-1000)", SUB, "nnnnnnn"},
    /* order: the first ACE that matches and holds the right decides */
    {"D:(D;;0x80;;;S-1-22-1-1000)(A;;0x80;;;WD)", PUB, "nyyyyyy"},
    {"D:(A;;0x80;;;WD)(D;;0x80;;;S-1-22-1-1000)", PUB, "yyyyyyy"},
    {"D:(D;;0x40;;;S-1-22-1-1000)(A;;0x80;;;WD)", PUB, "yyyyyyy"},
    {"D:(D;;0x40;;;S-1-22-1-1000)(A;;0xc0;;;WD)", SUB, "nyyyyyy"},
    {"D:(D;;0x40;;;S-1-22-2-100)(A;;0x40;;;WD)", SUB, "nyyyyyy"},
    {"D:(D;;0x80;;;BA)(A;;0x80;;;AU)", PUB, "yynnnnn"},
    {"D:(A;;0x80;;;S-1-22-1-1001)(D;;0x80;;;WD)(A;;0x80;;;BA)", PUB, "nynnnnn"},
    {"D:(D;;GA;;;S-1-5-21-1-2-3-500)(A;;GA;;;WD)", SUB, "yyyyyyn"},
    /* owner and group are kept but do not grant anything */
    {"O:S-1-22-1-1000G:S-1-22-2-100D:", SUB, "nnnnnnn"},
    /* asking for two rights at once: an allow must hold both, a deny any */
    {"D:(A;;0x40;;;WD)", SUB | PUB, "nnnnnnn"},
    {"D:(A;;0xc0;;;WD)", SUB | PUB, "yyyyyyy"},
    {"D:(D;;0x40;;;S-1-22-1-1000)(A;;0xc0;;;WD)", SUB | PUB, "nyyyyyy"},
};

static void
test_access(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof access_cases / sizeof access_cases[0]; i++) {
        const struct access_case *c = &access_cases[i];
        struct sec_descriptor *sd = c->sddl != NULL ? parse_ok(c->sddl) : NULL;
        assert_int_equal(strlen(c->expect), NWHO);
        for (int w = 0; w < NWHO; w++) {
            bool want = c->expect[w] == 'y';
            bool got = sec_descriptor_allows(sd, &who_ids[w], c->right);
            if (got != want)
                fail_msg("%s, right 0x%x, %s: %s, expected %s", c->sddl ? c->sddl : "(no descriptor)", c->right,
                         who_names[w], got ? "allowed" : "denied", want ? "allowed" : "denied");
        }
        sec_descriptor_free(sd);
    }
}

static void
test_access_edges(void **state)
{
    (void)state;
    struct sec_descriptor *sd = parse_ok("D:(A;;GA;;;WD)");
    /* No identity, or no right asked: denied by any descriptor... */
    assert_false(sec_descriptor_allows(sd, NULL, SUB));
    assert_false(sec_descriptor_allows(sd, &who_ids[U1000], 0));
    /* ... and allowed when there is none. */
    assert_true(sec_descriptor_allows(NULL, NULL, SUB));
    sec_descriptor_free(sd);

    /* A user with more groups than an identity holds: a deny ACE on a
     * group that is not listed still denies, an allow ACE does not allow. */
    struct sec_identity many;
    make_identity(&many, "S-1-22-1-2000", 2000, false, 1, (const long[]){2000});
    many.groups_truncated = true;
    sd = parse_ok("D:(D;;0x40;;;S-1-22-2-555)(A;;0x40;;;WD)");
    assert_false(sec_descriptor_allows(sd, &many, SUB));
    sec_descriptor_free(sd);
    sd = parse_ok("D:(A;;0x40;;;S-1-22-2-555)");
    assert_false(sec_descriptor_allows(sd, &many, SUB));
    sec_descriptor_free(sd);
    sd = parse_ok("D:(A;;0x40;;;S-1-22-2-2000)");
    assert_true(sec_descriptor_allows(sd, &many, SUB));
    sec_descriptor_free(sd);

    /* An identity built by hand with only its SID string is matched by it. */
    struct sec_identity bare;
    make_identity(&bare, "S-1-22-1-3000", -1, false, 0, NULL);
    sd = parse_ok("D:(A;;0x40;;;S-1-22-1-3000)");
    assert_true(sec_descriptor_allows(sd, &bare, SUB));
    sec_descriptor_free(sd);
}

/* ====================================================================
 * Canonical text
 * ==================================================================== */

static const struct {
    const char *in;
    const char *out;
} canon_cases[] = {
    {"D:", "D:"},
    {"O:BAG:BAD:(A;;0x80;;;BA)", "O:BAG:BAD:(A;;0x80;;;BA)"},
    {"O:S-1-5-32-544G:S-1-5-18D:PAI(A;;GA;;;S-1-1-0)(D;;64;;;S-1-22-1-1000)",
     "O:BAG:SYD:PAI(A;;0xff;;;WD)(D;;0x40;;;S-1-22-1-1000)"},
    {"G:AUD:AIP", "G:AUD:PAI"},
    {"D:AI", "D:AI"},
    {"D:P(A;;0x40;;;S-1-5-11)", "D:P(A;;0x40;;;AU)"},
    {"D:(A;;CCDCLCSWRPWPDTLO;;;AU)", "D:(A;;0xff;;;AU)"},
    {"D:(A;;DTDT;;;WD)", "D:(A;;0x40;;;WD)"},
    {"D:(A;;0X4F;;;S-1-22-2-27)", "D:(A;;0x4f;;;S-1-22-2-27)"},
    {"D:(A;;0x00000080;;;S-1-5-21-1-2-3-500)", "D:(A;;0x80;;;S-1-5-21-1-2-3-500)"},
    {"O:S-1-22-1-1000D:(D;;1;;;SY)(A;;255;;;BA)", "O:S-1-22-1-1000D:(D;;0x1;;;SY)(A;;0xff;;;BA)"},
    {"D:(A;;0x40;;;S-1-0)", "D:(A;;0x40;;;S-1-0)"},
    {"D:(A;;0x40;;;S-1-281474976710655-4294967295)", "D:(A;;0x40;;;S-1-281474976710655-4294967295)"},
};

static void
test_to_string(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof canon_cases / sizeof canon_cases[0]; i++) {
        struct sec_descriptor *sd = parse_ok(canon_cases[i].in);
        char *out = sec_descriptor_to_string(sd);
        assert_non_null(out);
        if (strcmp(out, canon_cases[i].out) != 0)
            fail_msg("%s: printed %s, expected %s", canon_cases[i].in, out, canon_cases[i].out);
        /* The canonical text parses to a descriptor that prints the same
         * and answers the same for everyone. */
        struct sec_descriptor *again = parse_ok(out);
        char *out2 = sec_descriptor_to_string(again);
        assert_string_equal(out, out2);
        for (int w = 0; w < NWHO; w++)
            for (unsigned r = 1; r <= 0x80; r <<= 1)
                assert_int_equal(sec_descriptor_allows(sd, &who_ids[w], r),
                                 sec_descriptor_allows(again, &who_ids[w], r));
        free(out2);
        sec_descriptor_free(again);
        free(out);
        sec_descriptor_free(sd);
    }
    char *none = sec_descriptor_to_string(NULL);
    assert_string_equal(none, "");
    free(none);
}

static void
test_owner_group(void **state)
{
    (void)state;
    struct sec_descriptor *sd = parse_ok("O:BAG:S-1-22-2-27D:(A;;0x40;;;WD)");
    assert_string_equal(sec_descriptor_owner(sd), "S-1-5-32-544");
    assert_string_equal(sec_descriptor_group(sd), "S-1-22-2-27");
    assert_int_equal(sec_descriptor_ace_count(sd), 1);
    sec_descriptor_free(sd);
    sd = parse_ok("D:");
    assert_null(sec_descriptor_owner(sd));
    assert_null(sec_descriptor_group(sd));
    assert_int_equal(sec_descriptor_ace_count(sd), 0);
    sec_descriptor_free(sd);
    assert_null(sec_descriptor_owner(NULL));
}

/* Each alias stands for its SID, wherever a SID may be written. */
static void
test_aliases(void **state)
{
    (void)state;
    static const struct {
        const char *alias, *sid;
    } aliases[] = {
        {"WD", "S-1-1-0"}, {"BA", "S-1-5-32-544"}, {"SY", "S-1-5-18"}, {"AU", "S-1-5-11"}};
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        char a[64], b[80];
        snprintf(a, sizeof a, "O:%sG:%sD:(A;;0x40;;;%s)", aliases[i].alias, aliases[i].alias, aliases[i].alias);
        snprintf(b, sizeof b, "O:%sG:%sD:(A;;0x40;;;%s)", aliases[i].sid, aliases[i].sid, aliases[i].sid);
        struct sec_descriptor *sa = parse_ok(a), *sb = parse_ok(b);
        assert_string_equal(sec_descriptor_owner(sa), aliases[i].sid);
        assert_string_equal(sec_descriptor_group(sa), aliases[i].sid);
        char *ta = sec_descriptor_to_string(sa), *tb = sec_descriptor_to_string(sb);
        assert_string_equal(ta, a);
        assert_string_equal(tb, a);
        for (int w = 0; w < NWHO; w++)
            assert_int_equal(sec_descriptor_allows(sa, &who_ids[w], SUB), sec_descriptor_allows(sb, &who_ids[w], SUB));
        free(ta);
        free(tb);
        sec_descriptor_free(sa);
        sec_descriptor_free(sb);
    }
}

/* ====================================================================
 * Identities
 * ==================================================================== */

static void
test_identity_from_uid(void **state)
{
    (void)state;
    struct sec_identity id;

    /* root is Administrators, whatever the admin group. */
    sec_identity_from_uid(&id, 0, -1);
    assert_string_equal(id.sid, "S-1-5-32-544");
    assert_int_equal(id.uid, 0);
    assert_true(id.admin);
    assert_true(id.ngroups >= 1);
    assert_int_equal(id.groups[0], 0);

    /* A user not in the passwd database: the bare uid, no groups. */
    sec_identity_from_uid(&id, 3999999999L, -1);
    assert_string_equal(id.sid, "S-1-22-1-3999999999");
    assert_int_equal(id.uid, 3999999999L);
    assert_false(id.admin);
    assert_int_equal(id.ngroups, 0);

    /* uid 1000: S-1-22-1-1000 unless it is in the admin group. */
    sec_identity_from_uid(&id, 1000, -1);
    assert_string_equal(id.sid, "S-1-22-1-1000");
    assert_false(id.admin);

    /* Unknown uids. */
    static const long bad[] = {-1, -5, 4294967295L, 4294967296L};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sec_identity_from_uid(&id, bad[i], 0);
        assert_string_equal(id.sid, "");
        assert_int_equal(id.uid, -1);
        assert_false(id.admin);
        assert_int_equal(id.ngroups, 0);
    }

    /* nobody (every Debian system has it): a plain user, and an
     * administrator once its group is the admin group. */
    struct passwd *pw = getpwnam("nobody");
    if (pw == NULL) {
        print_message("no user nobody: admin group case skipped\n");
        return;
    }
    long uid = (long)pw->pw_uid, gid = (long)pw->pw_gid;
    char want[64];
    snprintf(want, sizeof want, "S-1-22-1-%ld", uid);
    sec_identity_from_uid(&id, uid, -1);
    assert_string_equal(id.sid, want);
    assert_int_equal(id.uid, uid);
    assert_false(id.admin);
    bool found = false;
    for (size_t i = 0; i < id.ngroups; i++)
        found = found || id.groups[i] == gid;
    assert_true(found);
    assert_false(id.groups_truncated);

    sec_identity_from_uid(&id, uid, gid);
    assert_string_equal(id.sid, "S-1-5-32-544");
    assert_int_equal(id.uid, uid);
    assert_true(id.admin);

    /* ... and its group ACE matches it. */
    char text[64];
    snprintf(text, sizeof text, "D:(A;;0x40;;;S-1-22-2-%ld)", gid);
    struct sec_descriptor *sd = parse_ok(text);
    sec_identity_from_uid(&id, uid, -1);
    assert_true(sec_descriptor_allows(sd, &id, SUB));
    sec_descriptor_free(sd);
}

static void
test_identity_from_sid(void **state)
{
    (void)state;
    struct sec_identity id;

    assert_true(sec_identity_from_sid(&id, "S-1-5-32-544", 27));
    assert_string_equal(id.sid, "S-1-5-32-544");
    assert_true(id.admin);
    assert_int_equal(id.uid, -1);
    assert_int_equal(id.ngroups, 1);
    assert_int_equal(id.groups[0], 27);

    assert_true(sec_identity_from_sid(&id, "S-1-5-32-544", -1));
    assert_true(id.admin);
    assert_int_equal(id.ngroups, 0);

    /* A stored user SID keeps its text even for root. */
    assert_true(sec_identity_from_sid(&id, "S-1-22-1-0", -1));
    assert_string_equal(id.sid, "S-1-22-1-0");
    assert_int_equal(id.uid, 0);
    assert_true(id.admin);

    assert_true(sec_identity_from_sid(&id, "S-1-22-1-1000", -1));
    assert_string_equal(id.sid, "S-1-22-1-1000");
    assert_int_equal(id.uid, 1000);

    assert_true(sec_identity_from_sid(&id, "S-1-5-18", -1));
    assert_string_equal(id.sid, "S-1-5-18");
    assert_int_equal(id.uid, 0);
    assert_true(id.admin);

    assert_true(sec_identity_from_sid(&id, "S-1-22-2-27", 27));
    assert_string_equal(id.sid, "S-1-22-2-27");
    assert_int_equal(id.uid, -1);
    assert_true(id.admin);
    assert_int_equal(id.ngroups, 1);
    assert_int_equal(id.groups[0], 27);
    assert_true(sec_identity_from_sid(&id, "S-1-22-2-27", -1));
    assert_false(id.admin);

    assert_true(sec_identity_from_sid(&id, "S-1-5-21-1-2-3-500", 0));
    assert_string_equal(id.sid, "S-1-5-21-1-2-3-500");
    assert_int_equal(id.uid, -1);
    assert_false(id.admin);
    assert_int_equal(id.ngroups, 0);

    /* A uid that cannot be one is just another SID. */
    assert_true(sec_identity_from_sid(&id, "S-1-22-1-4294967295", -1));
    assert_int_equal(id.uid, -1);
    assert_false(id.admin);

    /* Malformed SIDs, including the aliases of the descriptor syntax (a
     * stored SID is numeric): refused, and the identity left unknown. */
    static const char *const bad[] = {
        "", "BA", "WD", "S", "S-", "S-1", "S-1-", "S-1-01", "S-1-5--1", "s-1-1-0", "S-1-1-0 ", " S-1-1-0",
        "S-2-1-0", "S-1-1-0-", "S-1-5-4294967296", "S-1-5-21-4294967295-4294967295-4294967295-4294967295-42949672950",
        "S-1-5-21-4294967295-4294967295-4294967295-4294967295-4294967295-1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&id, 0x5a, sizeof id);
        if (sec_identity_from_sid(&id, bad[i], 0))
            fail_msg("\"%s\" accepted as a SID", bad[i]);
        assert_string_equal(id.sid, "");
        assert_int_equal(id.uid, -1);
        assert_false(id.admin);
        assert_int_equal(id.ngroups, 0);
    }
    assert_false(sec_identity_from_sid(&id, NULL, 0));

    /* What sec_identity_from_uid builds, sec_identity_from_sid reads back. */
    struct sec_identity a, b;
    sec_identity_from_uid(&a, 1000, -1);
    assert_true(sec_identity_from_sid(&b, a.sid, -1));
    assert_string_equal(a.sid, b.sid);
    assert_int_equal(a.uid, b.uid);
    assert_int_equal(a.admin, b.admin);
}

/* ====================================================================
 * Robustness: prefixes and one-character mutations of valid texts parse
 * or fail cleanly, and whatever parses prints a text that parses to the
 * same thing (ASan reports any read past the exact-size copies).
 * ==================================================================== */

static void
check_one(const char *text)
{
    wmi_error err;
    struct sec_descriptor *sd = parse_exact(text, &err);
    if (sd == NULL) {
        assert_true(WMI_FAILED(err.status));
        assert_true(err.column >= 1 && (size_t)err.column <= strlen(text) + 1);
        assert_true(err.text[0] != '\0');
        return;
    }
    char *out = sec_descriptor_to_string(sd);
    assert_non_null(out);
    struct sec_descriptor *again = parse_ok(out);
    char *out2 = sec_descriptor_to_string(again);
    assert_string_equal(out, out2);
    for (int w = 0; w < NWHO; w++)
        for (unsigned r = 1; r <= 0x80; r <<= 1)
            assert_int_equal(sec_descriptor_allows(sd, &who_ids[w], r),
                             sec_descriptor_allows(again, &who_ids[w], r));
    free(out);
    free(out2);
    sec_descriptor_free(again);
    sec_descriptor_free(sd);
}

static void
test_mutations(void **state)
{
    (void)state;
    static const char *const seeds[] = {
        "O:BAG:BAD:PAI(A;;0x80;;;BA)(D;;GA;;;S-1-22-1-1000)",
        "O:S-1-5-32-544G:S-1-22-2-27D:(A;;64;;;S-1-22-2-100)(A;;DTLO;;;AU)",
        "D:AI(D;;0XC0;;;SY)(A;;CC;;;WD)",
    };
    static const char alphabet[] = "();:-0123456789xADGOPSWIBUYCTL\x01 a";
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
        size_t n = strlen(seeds[s]);
        char buf[128];
        for (size_t cut = 0; cut <= n; cut++) {
            memcpy(buf, seeds[s], cut);
            buf[cut] = '\0';
            check_one(buf);
        }
        for (size_t i = 0; i < n; i++) {
            for (size_t k = 0; k < sizeof alphabet - 1; k++) {
                memcpy(buf, seeds[s], n + 1);
                buf[i] = alphabet[k];
                check_one(buf);
                /* ... and with the character deleted. */
                memcpy(buf, seeds[s], i);
                memcpy(buf + i, seeds[s] + i + 1, n - i);
                check_one(buf);
            }
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_access),
        cmocka_unit_test(test_access_edges),
        cmocka_unit_test(test_to_string),
        cmocka_unit_test(test_owner_group),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_identity_from_uid),
        cmocka_unit_test(test_identity_from_sid),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, setup_identities, NULL);
}
