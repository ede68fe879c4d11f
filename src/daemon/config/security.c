/*
 * security.c - identities, rights and the SDDL subset (config/config.h,
 * docs/security.md).
 *
 * The parser is a single left-to-right pass over a string whose length is
 * bounded before anything else is looked at, with an explicit index and
 * no recursion, so that text from a config file or a socket peer can cost
 * at most SEC_MAX_SDDL steps and can never make it read past the NUL.
 * Every token it does not accept is an error with the token's column:
 * an ACE that were skipped instead would silently change who has access.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "daemon/config/config.h"

/* The largest value of a SID's identifier authority (48 bits) and of a
 * sub-authority (32 bits), and the most sub-authorities a SID may have. */
#define SID_AUTH_MAX   0xFFFFFFFFFFFFull
#define SID_SUB_MAX    0xFFFFFFFFull
#define SID_MAX_SUBS   15
/* The largest valid uid or gid: (uid_t)-1 means "no id" to the kernel. */
#define ID_MAX         4294967294LL

/* What an ACE's (or the owner's) SID is, so that matching need not parse
 * strings on the delivery path. */
enum sid_kind {
    SID_OTHER,          /* matched by identical string only */
    SID_EVERYONE,       /* S-1-1-0 */
    SID_ADMINS,         /* S-1-5-32-544 */
    SID_SYSTEM,         /* S-1-5-18 */
    SID_AUTHENTICATED,  /* S-1-5-11 */
    SID_UID,            /* S-1-22-1-<uid> */
    SID_GID,            /* S-1-22-2-<gid> */
};

struct sec_sid {
    enum sid_kind kind;
    long id;                     /* the uid or gid of SID_UID and SID_GID */
    char text[SEC_SID_MAX];      /* numeric, canonical */
};

struct sec_ace {
    bool deny;
    unsigned mask;
    struct sec_sid sid;
};

/* DACL flags. */
#define DACL_PROTECTED      0x1u    /* P */
#define DACL_AUTO_INHERITED 0x2u    /* AI */

struct sec_descriptor {
    bool has_owner, has_group;
    struct sec_sid owner, group;
    unsigned dacl_flags;
    size_t nace;
    struct sec_ace ace[SEC_MAX_ACES];
};

/* ====================================================================
 * SIDs
 * ==================================================================== */

/* The aliases of the subset, and the numeric SIDs they stand for. */
static const struct {
    const char *alias;
    const char *sid;
} sid_aliases[] = {
    {"WD", SEC_SID_EVERYONE},
    {"BA", SEC_SID_ADMINISTRATORS},
    {"SY", SEC_SID_LOCAL_SYSTEM},
    {"AU", SEC_SID_AUTHENTICATED},
};

/* Other SDDL SID aliases, recognised only to say that they are valid SDDL
 * but outside the subset (WBEM_E_NOT_SUPPORTED rather than a syntax error). */
static const char other_sid_aliases[][3] = {
    "AA", "AC", "AN", "AO", "AP", "AS", "BG", "BO", "BU", "CA", "CD", "CG", "CN", "CO", "CY",
    "DA", "DC", "DD", "DG", "DU", "EA", "ED", "EK", "ER", "ES", "HA", "HI", "IS", "IU", "KA",
    "LA", "LG", "LS", "LU", "LW", "ME", "MP", "MS", "MU", "NO", "NS", "NU", "OW", "PA", "PO",
    "PS", "PU", "RA", "RC", "RD", "RE", "RM", "RO", "RS", "RU", "SA", "SI", "SO", "SS", "SU",
    "UD", "WR",
};

/* The numeric parts of a SID. */
struct sid_parts {
    uint64_t auth;
    uint32_t sub[SID_MAX_SUBS];
    size_t nsub;
};

/* Why sid_scan refused a SID, and where (offset into the text given). */
struct sid_fault {
    size_t pos;
    wmi_status status;
    const char *why;
};

/*
 * Check that @s[0..@n) is a numeric SID in canonical form: "S-1-", a
 * decimal identifier authority, then up to 15 decimal sub-authorities, no
 * leading zeros, at most SEC_SID_MAX - 1 characters.  Non-canonical
 * spellings are refused rather than normalised so that the rule "anything
 * else matches only an identical SID string" is exact.
 */
static bool
sid_scan(const char *s, size_t n, struct sid_parts *out, struct sid_fault *f)
{
    memset(out, 0, sizeof *out);
    if (n == 0 || (s[0] != 'S' && s[0] != 's')) {
        *f = (struct sid_fault){0, WBEM_E_INVALID_PARAMETER, "a SID begins with S-1-"};
        return false;
    }
    if (s[0] == 's') {
        *f = (struct sid_fault){0, WBEM_E_INVALID_PARAMETER, "a SID begins with an upper-case S (S-1-...)"};
        return false;
    }
    if (n < 2 || s[1] != '-') {
        *f = (struct sid_fault){n < 2 ? n : 1, WBEM_E_INVALID_PARAMETER, "expected '-' after S in a SID"};
        return false;
    }
    if (n < 3 || s[2] != '1') {
        *f = (struct sid_fault){n < 3 ? n : 2, WBEM_E_INVALID_PARAMETER, "the SID revision must be 1 (S-1-...)"};
        return false;
    }
    size_t pos = 3;
    size_t ncomp = 0; /* the authority, then the sub-authorities */
    while (pos < n) {
        if (s[pos] != '-') {
            *f = (struct sid_fault){pos, WBEM_E_INVALID_PARAMETER,
                                    "expected '-' between the numbers of a SID"};
            return false;
        }
        pos++;
        if (ncomp > SID_MAX_SUBS) {
            *f = (struct sid_fault){pos - 1, WBEM_E_INVALID_PARAMETER,
                                    "a SID has at most 15 sub-authorities"};
            return false;
        }
        size_t start = pos;
        uint64_t v = 0;
        uint64_t max = ncomp == 0 ? SID_AUTH_MAX : SID_SUB_MAX;
        while (pos < n && s[pos] >= '0' && s[pos] <= '9') {
            v = v * 10 + (uint64_t)(s[pos] - '0');
            if (v > max) {
                *f = (struct sid_fault){start, WBEM_E_INVALID_PARAMETER,
                                        ncomp == 0 ? "SID identifier authority over 48 bits"
                                                   : "SID sub-authority over 32 bits"};
                return false;
            }
            pos++;
        }
        if (pos == start) {
            *f = (struct sid_fault){pos, WBEM_E_INVALID_PARAMETER, "expected a decimal number in the SID"};
            return false;
        }
        if (s[start] == '0' && pos - start > 1) {
            *f = (struct sid_fault){start, WBEM_E_INVALID_PARAMETER,
                                    "leading zero in a SID number (SIDs are written without them)"};
            return false;
        }
        if (ncomp == 0)
            out->auth = v;
        else
            out->sub[out->nsub++] = (uint32_t)v;
        ncomp++;
    }
    if (ncomp == 0) {
        *f = (struct sid_fault){n, WBEM_E_INVALID_PARAMETER, "expected the identifier authority after S-1"};
        return false;
    }
    if (n >= SEC_SID_MAX) {
        *f = (struct sid_fault){SEC_SID_MAX - 1, WBEM_E_QUOTA_VIOLATION, "SID longer than 63 characters"};
        return false;
    }
    return true;
}

/* Fill @sid from a checked SID: its canonical text and its kind. */
static void
sid_classify(struct sec_sid *sid, const char *text, size_t n, const struct sid_parts *p)
{
    memcpy(sid->text, text, n);
    sid->text[n] = '\0';
    sid->kind = SID_OTHER;
    sid->id = -1;
    if (p->auth == 1 && p->nsub == 1 && p->sub[0] == 0)
        sid->kind = SID_EVERYONE;
    else if (p->auth == 5 && p->nsub == 2 && p->sub[0] == 32 && p->sub[1] == 544)
        sid->kind = SID_ADMINS;
    else if (p->auth == 5 && p->nsub == 1 && p->sub[0] == 18)
        sid->kind = SID_SYSTEM;
    else if (p->auth == 5 && p->nsub == 1 && p->sub[0] == 11)
        sid->kind = SID_AUTHENTICATED;
    else if (p->auth == 22 && p->nsub == 2 && (p->sub[0] == 1 || p->sub[0] == 2) &&
             (long long)p->sub[1] <= ID_MAX) {
        sid->kind = p->sub[0] == 1 ? SID_UID : SID_GID;
        sid->id = (long)p->sub[1];
    }
}

/* Set an identity to the unknown one: matched by Everyone only. */
static void
identity_unknown(struct sec_identity *id)
{
    memset(id, 0, sizeof *id);
    id->uid = -1;
}

/* ====================================================================
 * Identities
 * ==================================================================== */

/*
 * Fill id->groups with @uid's groups and say whether one of them is
 * @admin_gid.  The full list is fetched (getgrouplist tells how many there
 * are) so that admin membership is right even past SEC_MAX_GROUPS.
 */
static bool
identity_groups(struct sec_identity *id, uid_t uid, long admin_gid)
{
    long bufsize = sysconf(_SC_GETPW_R_SIZE_MAX);
    size_t cap = bufsize > 0 ? (size_t)bufsize : 16384;
    char *buf = NULL;
    struct passwd pw, *res = NULL;
    for (;;) {
        char *nb = realloc(buf, cap);
        if (nb == NULL) {
            free(buf);
            return false;
        }
        buf = nb;
        int rc = getpwuid_r(uid, &pw, buf, cap, &res);
        if (rc == ERANGE && cap < (1u << 20)) {
            cap *= 2;
            continue;
        }
        break;
    }
    if (res == NULL) {
        /* Not in the passwd database: no name, so no supplementary groups
         * to look up.  The identity is the bare uid. */
        free(buf);
        return false;
    }

    int n = SEC_MAX_GROUPS;
    gid_t *gids = NULL;
    bool admin = false;
    for (int tries = 0; tries < 4; tries++) {
        gid_t *ng = realloc(gids, (size_t)n * sizeof *gids);
        if (ng == NULL)
            break;
        gids = ng;
        int want = n;
        if (getgrouplist(pw.pw_name, pw.pw_gid, gids, &want) >= 0) {
            n = want;
            size_t keep = (size_t)n < SEC_MAX_GROUPS ? (size_t)n : SEC_MAX_GROUPS;
            for (int i = 0; i < n; i++) {
                if (admin_gid >= 0 && (long)gids[i] == admin_gid)
                    admin = true;
                if ((size_t)i < keep)
                    id->groups[i] = (long)gids[i];
            }
            id->ngroups = keep;
            id->groups_truncated = (size_t)n > keep;
            free(gids);
            free(buf);
            return admin;
        }
        /* The list is longer than @n: glibc stored the size it needs. */
        if (want <= n || want > 65536)
            want = n * 2;
        n = want;
    }
    /* Could not fetch the list: keep the primary group and say that more
     * may exist, so that deny ACEs on groups still take effect. */
    free(gids);
    id->groups[0] = (long)pw.pw_gid;
    id->ngroups = 1;
    id->groups_truncated = true;
    admin = admin_gid >= 0 && (long)pw.pw_gid == admin_gid;
    free(buf);
    return admin;
}

void
sec_identity_from_uid(struct sec_identity *id, long uid, long admin_gid)
{
    identity_unknown(id);
    if (uid < 0 || (long long)uid > ID_MAX)
        return;
    id->uid = uid;
    bool member = identity_groups(id, (uid_t)uid, admin_gid);
    id->admin = uid == 0 || member;
    if (id->admin)
        snprintf(id->sid, sizeof id->sid, "%s", SEC_SID_ADMINISTRATORS);
    else
        snprintf(id->sid, sizeof id->sid, "S-1-22-1-%ld", uid);
}

bool
sec_identity_from_sid(struct sec_identity *id, const char *sid, long admin_gid)
{
    identity_unknown(id);
    if (sid == NULL)
        return false;
    size_t n = strnlen(sid, SEC_SID_MAX);
    struct sid_parts parts;
    struct sid_fault fault;
    if (n >= SEC_SID_MAX || !sid_scan(sid, n, &parts, &fault))
        return false;
    struct sec_sid s;
    sid_classify(&s, sid, n, &parts);
    switch (s.kind) {
    case SID_UID:
        sec_identity_from_uid(id, s.id, admin_gid);
        break;
    case SID_SYSTEM:
        sec_identity_from_uid(id, 0, admin_gid);
        break;
    case SID_ADMINS:
        id->admin = true;
        if (admin_gid >= 0) {
            id->groups[0] = admin_gid;
            id->ngroups = 1;
        }
        break;
    case SID_GID:
        id->groups[0] = s.id;
        id->ngroups = 1;
        id->admin = admin_gid >= 0 && s.id == admin_gid;
        break;
    case SID_OTHER:
    case SID_EVERYONE:
    case SID_AUTHENTICATED:
        break;
    }
    /* The identity is the SID as stored, whatever it maps to. */
    memcpy(id->sid, s.text, n + 1);
    return true;
}

/* ====================================================================
 * Matching
 * ==================================================================== */

static bool
has_group(const struct sec_identity *who, long gid)
{
    size_t n = who->ngroups < SEC_MAX_GROUPS ? who->ngroups : SEC_MAX_GROUPS;
    for (size_t i = 0; i < n; i++)
        if (who->groups[i] == gid)
            return true;
    return false;
}

/* Does @sid name @who?  @deny: the ACE denies, so an unknowable answer
 * (a group past a truncated list) is yes. */
static bool
sid_matches(const struct sec_sid *sid, const struct sec_identity *who, bool deny)
{
    bool same = strncmp(sid->text, who->sid, SEC_SID_MAX) == 0;
    switch (sid->kind) {
    case SID_EVERYONE:
        return true;
    case SID_ADMINS:
        return who->admin || same;
    case SID_SYSTEM:
        return who->uid == 0 || same;
    case SID_AUTHENTICATED:
        return who->uid >= 0 || who->admin || same;
    case SID_UID:
        return (who->uid >= 0 && who->uid == sid->id) || same;
    case SID_GID:
        return has_group(who, sid->id) || same || (deny && who->groups_truncated);
    case SID_OTHER:
        return same;
    }
    return false;
}

bool
sec_descriptor_allows(const struct sec_descriptor *sd, const struct sec_identity *who, unsigned right)
{
    if (sd == NULL)
        return true;
    if (who == NULL || right == 0)
        return false;
    for (size_t i = 0; i < sd->nace; i++) {
        const struct sec_ace *a = &sd->ace[i];
        if (a->deny) {
            if ((a->mask & right) != 0 && sid_matches(&a->sid, who, true))
                return false;
        } else {
            if ((a->mask & right) == right && sid_matches(&a->sid, who, false))
                return true;
        }
    }
    return false;
}

/* ====================================================================
 * Parsing
 * ==================================================================== */

struct parser {
    const char *s;
    size_t len;
    wmi_error *err;
};

static void fail(struct parser *p, wmi_status st, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
fail(struct parser *p, wmi_status st, size_t pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wmi_error_setv(p->err, st, "", 0, (int)pos + 1, fmt, ap);
    va_end(ap);
}

/*
 * Quote @n bytes at @s for an error message: printable ASCII as is, the
 * rest as \xNN, cut at 40 bytes.  Error texts end up in logs and JSON, so
 * raw control characters from the input must not reach them.
 */
static const char *
quote(const char *s, size_t n, char *buf, size_t cap)
{
    size_t o = 0;
    size_t lim = n > 40 ? 40 : n;
    buf[o++] = '\'';
    for (size_t i = 0; i < lim && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            buf[o++] = (char)c;
        } else {
            snprintf(buf + o, cap - o, "\\x%02x", c);
            o += 4;
        }
    }
    if (lim < n && o + 4 < cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '\'';
    buf[o] = '\0';
    return buf;
}

/* The character at @pos described for "found ..." in a message. */
static const char *
found(const struct parser *p, size_t pos, char *buf, size_t cap)
{
    if (pos >= p->len)
        return "the end of the descriptor";
    if (p->s[pos] == ' ' || p->s[pos] == '\t' || p->s[pos] == '\n' || p->s[pos] == '\r')
        return "whitespace (SDDL has none)";
    return quote(p->s + pos, 1, buf, cap);
}

static bool
at(const struct parser *p, size_t pos, const char *lit)
{
    size_t n = strlen(lit);
    return pos <= p->len && p->len - pos >= n && memcmp(p->s + pos, lit, n) == 0;
}

static bool
is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool
in_list(const char (*list)[3], size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (list[i][0] == s[0] && list[i][1] == s[1])
            return true;
    return false;
}

#define ALIASES_ACCEPTED "WD (Everyone), BA (Administrators), SY (LocalSystem), AU (Authenticated Users)"

/*
 * Parse the SID at @s[@start..@start+@n): an alias of the subset or a
 * numeric SID.  @what names the field for messages.
 */
static bool
parse_sid(struct parser *p, size_t start, size_t n, struct sec_sid *out, const char *what)
{
    const char *s = p->s + start;
    char q[200];
    if (n == 0) {
        fail(p, WBEM_E_INVALID_PARAMETER, start, "missing %s: expected S-1-... or one of " ALIASES_ACCEPTED,
             what);
        return false;
    }
    if (n >= 2 && (s[0] == 'S' || s[0] == 's') && s[1] == '-') {
        struct sid_parts parts;
        struct sid_fault f;
        if (!sid_scan(s, n, &parts, &f)) {
            fail(p, f.status, start + f.pos, "%s %s: %s", what, quote(s, n, q, sizeof q), f.why);
            return false;
        }
        sid_classify(out, s, n, &parts);
        return true;
    }
    if (n == 2) {
        for (size_t i = 0; i < sizeof sid_aliases / sizeof sid_aliases[0]; i++) {
            if (memcmp(s, sid_aliases[i].alias, 2) == 0) {
                const char *num = sid_aliases[i].sid;
                struct sid_parts parts;
                struct sid_fault f;
                (void)sid_scan(num, strlen(num), &parts, &f);
                sid_classify(out, num, strlen(num), &parts);
                return true;
            }
        }
        if (in_list(other_sid_aliases, sizeof other_sid_aliases / sizeof other_sid_aliases[0], s)) {
            fail(p, WBEM_E_NOT_SUPPORTED, start,
                 "%s alias %s is not in the supported subset: accepted aliases are " ALIASES_ACCEPTED
                 "; write any other SID in numeric form (S-1-...)",
                 what, quote(s, n, q, sizeof q));
            return false;
        }
        if (!is_upper(s[0]) || !is_upper(s[1])) {
            fail(p, WBEM_E_INVALID_PARAMETER, start,
                 "unknown %s %s: SID aliases are upper case (" ALIASES_ACCEPTED "), other SIDs S-1-...",
                 what, quote(s, n, q, sizeof q));
            return false;
        }
    }
    fail(p, WBEM_E_INVALID_PARAMETER, start, "unknown %s %s: expected S-1-... or one of " ALIASES_ACCEPTED, what,
         quote(s, n, q, sizeof q));
    return false;
}

/*
 * The owner or group SID after "O:" or "G:" at @*pos.  Its end is not
 * delimited in SDDL: a numeric SID runs over digits and dashes, an alias
 * is two letters.
 */
static bool
parse_component_sid(struct parser *p, size_t *pos, struct sec_sid *out, const char *what)
{
    size_t start = *pos;
    size_t end = start;
    if (start < p->len && (p->s[start] == 'S' || p->s[start] == 's') && start + 1 < p->len &&
        p->s[start + 1] == '-') {
        end = start + 1;
        while (end < p->len && ((p->s[end] >= '0' && p->s[end] <= '9') || p->s[end] == '-'))
            end++;
    } else if (start + 1 < p->len && p->s[start + 1] != ':') {
        end = start + 2;
    } else if (start + 1 == p->len) {
        end = start + 1; /* one character left: reported as an unknown SID */
    } else {
        /* Nothing before the next component (or the end): report an empty
         * SID rather than reading "G:" as an alias. */
        end = start;
    }
    if (!parse_sid(p, start, end - start, out, what))
        return false;
    *pos = end;
    return true;
}

/* Two-letter ACE flags of SDDL, refused with WBEM_E_NOT_SUPPORTED. */
static const char ace_flag_codes[][3] = {"CI", "OI", "NP", "IO", "ID", "SA", "FA", "TP", "CR"};

/* ACE types of SDDL other than A and D, refused with WBEM_E_NOT_SUPPORTED. */
static const char *const other_ace_types[] = {"OA", "OD", "AU", "AL", "OU", "OL", "ML", "XA", "XD",
                                              "XU", "ZA", "RA", "SP", "SC", "XN"};

/* The rights codes of the subset: the SDDL letters of bits 0x1 to 0x80, as
 * Windows prints WMI namespace descriptors (CCDCLCSWRPWP...), and GA. */
static const struct {
    char code[3];
    unsigned mask;
} rights_codes[] = {
    {"GA", SEC_RIGHTS_ALL},
    {"CC", 0x1u},  /* WBEM_ENABLE */
    {"DC", 0x2u},  /* WBEM_METHOD_EXECUTE */
    {"LC", 0x4u},  /* WBEM_FULL_WRITE_REP */
    {"SW", 0x8u},  /* WBEM_PARTIAL_WRITE_REP */
    {"RP", 0x10u}, /* WBEM_WRITE_PROVIDER */
    {"WP", 0x20u}, /* WBEM_REMOTE_ACCESS */
    {"DT", 0x40u}, /* WBEM_RIGHT_SUBSCRIBE */
    {"LO", 0x80u}, /* WBEM_RIGHT_PUBLISH */
};

/* Other SDDL rights codes, refused with WBEM_E_NOT_SUPPORTED. */
static const char other_rights_codes[][3] = {"GR", "GW", "GX", "RC", "SD", "WD", "WO", "FA", "FR", "FW",
                                             "FX", "KA", "KR", "KW", "KX", "CR", "NR", "NW", "NX"};

#define RIGHTS_ACCEPTED \
    "a number (0x40, 64) or codes GA (all), CC, DC, LC, SW, RP, WP, DT (0x40 SUBSCRIBE), LO (0x80 PUBLISH)"

static bool
parse_rights(struct parser *p, size_t start, size_t n, unsigned *mask)
{
    const char *s = p->s + start;
    char q[200];
    uint64_t v = 0;
    if (n == 0) {
        fail(p, WBEM_E_INVALID_PARAMETER, start, "missing ACE rights: expected " RIGHTS_ACCEPTED);
        return false;
    }
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        if (n == 2) {
            fail(p, WBEM_E_INVALID_PARAMETER, start + 2, "expected hex digits after 0x in the ACE rights");
            return false;
        }
        for (size_t i = 2; i < n; i++) {
            char c = s[i];
            unsigned d;
            if (c >= '0' && c <= '9')
                d = (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                d = (unsigned)(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                d = (unsigned)(c - 'A' + 10);
            else {
                fail(p, WBEM_E_INVALID_PARAMETER, start + i, "%s is not a hex digit in the ACE rights %s",
                     quote(s + i, 1, q, sizeof q / 2), quote(s, n, q + 100, sizeof q / 2));
                return false;
            }
            v = v * 16 + d;
            if (v > 0xFFFFFFFFu) {
                fail(p, WBEM_E_INVALID_PARAMETER, start, "ACE rights %s wider than 32 bits",
                     quote(s, n, q, sizeof q));
                return false;
            }
        }
    } else if (s[0] >= '0' && s[0] <= '9') {
        if (s[0] == '0' && n > 1) {
            fail(p, WBEM_E_INVALID_PARAMETER, start,
                 "leading zero in the ACE rights %s: write decimal without leading zeros, or hex as 0x...",
                 quote(s, n, q, sizeof q));
            return false;
        }
        for (size_t i = 0; i < n; i++) {
            if (s[i] < '0' || s[i] > '9') {
                fail(p, WBEM_E_INVALID_PARAMETER, start + i, "%s is not a decimal digit in the ACE rights %s",
                     quote(s + i, 1, q, sizeof q / 2), quote(s, n, q + 100, sizeof q / 2));
                return false;
            }
            v = v * 10 + (uint64_t)(s[i] - '0');
            if (v > 0xFFFFFFFFu) {
                fail(p, WBEM_E_INVALID_PARAMETER, start, "ACE rights %s wider than 32 bits",
                     quote(s, n, q, sizeof q));
                return false;
            }
        }
    } else {
        for (size_t i = 0; i < n; i += 2) {
            if (i + 1 >= n) {
                fail(p, WBEM_E_INVALID_PARAMETER, start + i,
                     "rights codes are two letters each: %s is one; expected " RIGHTS_ACCEPTED,
                     quote(s + i, 1, q, sizeof q));
                return false;
            }
            bool ok = false;
            for (size_t k = 0; k < sizeof rights_codes / sizeof rights_codes[0]; k++) {
                if (memcmp(s + i, rights_codes[k].code, 2) == 0) {
                    v |= rights_codes[k].mask;
                    ok = true;
                    break;
                }
            }
            if (ok)
                continue;
            if (in_list(other_rights_codes, sizeof other_rights_codes / sizeof other_rights_codes[0], s + i)) {
                fail(p, WBEM_E_NOT_SUPPORTED, start + i,
                     "rights code %s is not in the supported subset: only WMI's rights 0x1 to 0x80 are; "
                     "expected " RIGHTS_ACCEPTED,
                     quote(s + i, 2, q, sizeof q));
            } else {
                fail(p, WBEM_E_INVALID_PARAMETER, start + i, "unknown rights code %s: expected " RIGHTS_ACCEPTED,
                     quote(s + i, 2, q, sizeof q));
            }
            return false;
        }
    }
    if (v == 0) {
        fail(p, WBEM_E_INVALID_PARAMETER, start, "ACE rights %s are empty: the ACE would grant or deny nothing",
             quote(s, n, q, sizeof q));
        return false;
    }
    if ((v & ~(uint64_t)SEC_RIGHTS_ALL) != 0) {
        fail(p, WBEM_E_NOT_SUPPORTED, start,
             "ACE rights %s have bits 0x%llx outside WMI's rights 0x1 to 0x80 "
             "(0x40 WBEM_RIGHT_SUBSCRIBE, 0x80 WBEM_RIGHT_PUBLISH)",
             quote(s, n, q, sizeof q), (unsigned long long)(v & ~(uint64_t)SEC_RIGHTS_ALL));
        return false;
    }
    *mask = (unsigned)v;
    return true;
}

/* Field @i of an ACE at @s[@start..@start+@n), checked into @ace. */
static bool
parse_ace_field(struct parser *p, int i, size_t start, size_t n, struct sec_ace *ace)
{
    const char *s = p->s + start;
    char q[200];
    switch (i) {
    case 0: /* type */
        if (n == 1 && (s[0] == 'A' || s[0] == 'D')) {
            ace->deny = s[0] == 'D';
            return true;
        }
        if (n == 0) {
            fail(p, WBEM_E_INVALID_PARAMETER, start, "missing ACE type: expected A (allow) or D (deny)");
            return false;
        }
        for (size_t k = 0; k < sizeof other_ace_types / sizeof other_ace_types[0]; k++) {
            if (n == strlen(other_ace_types[k]) && memcmp(s, other_ace_types[k], n) == 0) {
                fail(p, WBEM_E_NOT_SUPPORTED, start,
                     "ACE type %s is not in the supported subset: accepted types are A (allow) and D (deny)",
                     quote(s, n, q, sizeof q));
                return false;
            }
        }
        fail(p, WBEM_E_INVALID_PARAMETER, start, "unknown ACE type %s: expected A (allow) or D (deny)",
             quote(s, n, q, sizeof q));
        return false;
    case 1: /* flags */
        if (n == 0)
            return true;
        for (size_t k = 0; k < n; k += 2) {
            if (k + 1 >= n ||
                !in_list(ace_flag_codes, sizeof ace_flag_codes / sizeof ace_flag_codes[0], s + k)) {
                fail(p, WBEM_E_INVALID_PARAMETER, start + k,
                     "unknown ACE flags %s: the field must be empty", quote(s, n, q, sizeof q));
                return false;
            }
        }
        fail(p, WBEM_E_NOT_SUPPORTED, start,
             "ACE flags %s are not in the supported subset: inheritance and audit flags have no meaning for "
             "a filter's or a sink's descriptor; leave the field empty",
             quote(s, n, q, sizeof q));
        return false;
    case 2:
        return parse_rights(p, start, n, &ace->mask);
    case 3:
    case 4:
        if (n == 0)
            return true;
        fail(p, WBEM_E_NOT_SUPPORTED, start,
             "%s GUID %s: object ACEs are not in the supported subset; the field must be empty",
             i == 3 ? "object" : "inherited object", quote(s, n, q, sizeof q));
        return false;
    default:
        return parse_sid(p, start, n, &ace->sid, "ACE SID");
    }
}

/*
 * An ACE at @*pos, which is its '('; on success @*pos is past its ')'.
 * Its shape (six fields, closed) is checked before its fields, so that a
 * missing ';' is reported as such rather than as a strange value in the
 * field that slid into the wrong place.
 */
static bool
parse_ace(struct parser *p, size_t *pos, struct sec_ace *ace)
{
    size_t open = *pos;
    size_t i = open + 1;
    size_t nsemi = 0, extra = 0;
    char q[40];
    while (i < p->len && p->s[i] != ')' && p->s[i] != '(') {
        if (p->s[i] == ';') {
            if (nsemi == 5)
                extra = i;
            nsemi++;
        }
        i++;
    }
    if (i >= p->len || p->s[i] != ')') {
        fail(p, WBEM_E_INVALID_PARAMETER, i, "expected ')' to close the ACE at column %zu, found %s", open + 1,
             found(p, i, q, sizeof q));
        return false;
    }
    if (nsemi > 5) {
        fail(p, WBEM_E_NOT_SUPPORTED, extra,
             "more than six fields in the ACE at column %zu: conditional and resource-attribute ACEs are not in "
             "the supported subset",
             open + 1);
        return false;
    }
    if (nsemi < 5) {
        fail(p, WBEM_E_INVALID_PARAMETER, i,
             "the ACE at column %zu has %zu field%s: an ACE has six, (type;flags;rights;;;sid)", open + 1,
             nsemi + 1, nsemi == 0 ? "" : "s");
        return false;
    }
    size_t close = i;
    i = open + 1;
    for (int field = 0; field < 6; field++) {
        size_t start = i;
        while (i < close && p->s[i] != ';')
            i++;
        if (!parse_ace_field(p, field, start, i - start, ace))
            return false;
        i++; /* past the ';', or the ')' after the last field */
    }
    *pos = close + 1;
    return true;
}

/* A component header ("O:", "D:", ...) out of place at @pos, reported. */
static bool
misplaced_component(struct parser *p, size_t pos)
{
    if (at(p, pos, "S:")) {
        fail(p, WBEM_E_NOT_SUPPORTED, pos,
             "SACL (S:) is not in the supported subset: auditing has no meaning here; remove it");
        return true;
    }
    if (at(p, pos, "O:") || at(p, pos, "G:") || at(p, pos, "D:")) {
        fail(p, WBEM_E_INVALID_PARAMETER, pos,
             "%.2s out of place: the components come in the order O:, G:, D:, each at most once", p->s + pos);
        return true;
    }
    return false;
}

/* The optional owner and group, then "D:", at @*pos (0); @*pos is past
 * the "D:" on success. */
static bool
parse_header(struct parser *p, size_t *pos, struct sec_descriptor *sd)
{
    char q[40];
    if (at(p, *pos, "O:")) {
        *pos += 2;
        if (!parse_component_sid(p, pos, &sd->owner, "owner SID"))
            return false;
        sd->has_owner = true;
    }
    if (at(p, *pos, "G:")) {
        *pos += 2;
        if (!parse_component_sid(p, pos, &sd->group, "group SID"))
            return false;
        sd->has_group = true;
    }
    if (!at(p, *pos, "D:")) {
        if (misplaced_component(p, *pos))
            return false;
        if (*pos >= p->len)
            fail(p, WBEM_E_INVALID_PARAMETER, *pos,
                 "missing DACL: expected D: (an empty DACL D: denies everyone; to allow everyone set no "
                 "descriptor)");
        else
            fail(p, WBEM_E_INVALID_PARAMETER, *pos, "expected %s, found %s",
                 sd->has_group ? "D:" : sd->has_owner ? "G: or D:" : "O:, G: or D:", found(p, *pos, q, sizeof q));
        return false;
    }
    *pos += 2;
    return true;
}

/* DACL flags at @*pos, up to the first ACE or the end.  P and AI are
 * statements about inheritance, which is true of every descriptor here
 * (nothing is inherited), so they are kept and printed; the others ask
 * for behaviour this has not. */
static bool
parse_dacl_flags(struct parser *p, size_t *pos, struct sec_descriptor *sd)
{
    char q[40];
    while (*pos < p->len && p->s[*pos] != '(') {
        unsigned flag = 0;
        size_t flen = 0;
        if (at(p, *pos, "P")) {
            flag = DACL_PROTECTED;
            flen = 1;
        } else if (at(p, *pos, "AI")) {
            flag = DACL_AUTO_INHERITED;
            flen = 2;
        } else if (at(p, *pos, "AR")) {
            fail(p, WBEM_E_NOT_SUPPORTED, *pos,
                 "DACL flag AR (auto-inherit required) is not in the supported subset: accepted flags are P and AI");
            return false;
        } else if (at(p, *pos, "NO_ACCESS_CONTROL")) {
            fail(p, WBEM_E_NOT_SUPPORTED, *pos,
                 "NO_ACCESS_CONTROL (a NULL DACL) is not in the supported subset: to allow everyone set no "
                 "descriptor, or write D:(A;;GA;;;WD)");
            return false;
        } else {
            if (misplaced_component(p, *pos))
                return false;
            fail(p, WBEM_E_INVALID_PARAMETER, *pos,
                 "expected DACL flags P or AI, or an ACE '(', after D:, found %s", found(p, *pos, q, sizeof q));
            return false;
        }
        if (sd->dacl_flags & flag) {
            fail(p, WBEM_E_INVALID_PARAMETER, *pos, "DACL flag %.*s given twice", (int)flen, p->s + *pos);
            return false;
        }
        sd->dacl_flags |= flag;
        *pos += flen;
    }
    return true;
}

/* The ACEs from @pos to the end. */
static bool
parse_aces(struct parser *p, size_t pos, struct sec_descriptor *sd)
{
    char q[40];
    while (pos < p->len) {
        if (p->s[pos] != '(') {
            if (misplaced_component(p, pos))
                return false;
            fail(p, WBEM_E_INVALID_PARAMETER, pos, "expected '(' to begin an ACE, or the end, found %s",
                 found(p, pos, q, sizeof q));
            return false;
        }
        if (sd->nace == SEC_MAX_ACES) {
            fail(p, WBEM_E_QUOTA_VIOLATION, pos, "more than %d ACEs in the DACL", SEC_MAX_ACES);
            return false;
        }
        if (!parse_ace(p, &pos, &sd->ace[sd->nace]))
            return false;
        sd->nace++;
    }
    return true;
}

struct sec_descriptor *
sec_descriptor_parse(const char *sddl, wmi_error *err)
{
    struct parser p = {sddl, 0, err};
    if (sddl == NULL) {
        wmi_error_set(err, WBEM_E_INVALID_PARAMETER, "", 0, 0, "no descriptor text");
        return NULL;
    }
    p.len = strnlen(sddl, (size_t)SEC_MAX_SDDL + 1);
    if (p.len > SEC_MAX_SDDL) {
        fail(&p, WBEM_E_QUOTA_VIOLATION, SEC_MAX_SDDL, "descriptor longer than %d characters", SEC_MAX_SDDL);
        return NULL;
    }
    if (p.len == 0) {
        fail(&p, WBEM_E_INVALID_PARAMETER, 0,
             "empty descriptor: expected [O:sid][G:sid]D:[flags](ACE)...; to allow everyone set no descriptor");
        return NULL;
    }
    struct sec_descriptor *sd = calloc(1, sizeof *sd);
    if (sd == NULL) {
        fail(&p, WBEM_E_OUT_OF_MEMORY, 0, "out of memory");
        return NULL;
    }
    size_t pos = 0;
    if (!parse_header(&p, &pos, sd) || !parse_dacl_flags(&p, &pos, sd) || !parse_aces(&p, pos, sd)) {
        free(sd);
        return NULL;
    }
    return sd;
}

void
sec_descriptor_free(struct sec_descriptor *sd)
{
    free(sd);
}

/* ====================================================================
 * Printing
 * ==================================================================== */

static const char *
sid_print(const struct sec_sid *sid)
{
    switch (sid->kind) {
    case SID_EVERYONE:
        return "WD";
    case SID_ADMINS:
        return "BA";
    case SID_SYSTEM:
        return "SY";
    case SID_AUTHENTICATED:
        return "AU";
    case SID_UID:
    case SID_GID:
    case SID_OTHER:
        break;
    }
    return sid->text;
}

char *
sec_descriptor_to_string(const struct sec_descriptor *sd)
{
    if (sd == NULL)
        return strdup("");
    /* The bound is exact enough: each part is at most its SID plus a few
     * characters, and parts are bounded in number (see SEC_MAX_SDDL). */
    size_t cap = 16 + 2 * (SEC_SID_MAX + 4) + sd->nace * (SEC_SID_MAX + 24);
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    if (sd->has_owner)
        o += (size_t)snprintf(out + o, cap - o, "O:%s", sid_print(&sd->owner));
    if (sd->has_group)
        o += (size_t)snprintf(out + o, cap - o, "G:%s", sid_print(&sd->group));
    o += (size_t)snprintf(out + o, cap - o, "D:%s%s", (sd->dacl_flags & DACL_PROTECTED) ? "P" : "",
                          (sd->dacl_flags & DACL_AUTO_INHERITED) ? "AI" : "");
    for (size_t i = 0; i < sd->nace; i++) {
        const struct sec_ace *a = &sd->ace[i];
        o += (size_t)snprintf(out + o, cap - o, "(%c;;0x%x;;;%s)", a->deny ? 'D' : 'A', a->mask,
                              sid_print(&a->sid));
    }
    return out;
}

const char *
sec_descriptor_owner(const struct sec_descriptor *sd)
{
    return sd != NULL && sd->has_owner ? sd->owner.text : NULL;
}

const char *
sec_descriptor_group(const struct sec_descriptor *sd)
{
    return sd != NULL && sd->has_group ? sd->group.text : NULL;
}

size_t
sec_descriptor_ace_count(const struct sec_descriptor *sd)
{
    return sd != NULL ? sd->nace : 0;
}
