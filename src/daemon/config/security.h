/*
 * security.h - identities, rights and security descriptors for event
 * security, as WMI has them (docs/security.md).
 *
 * Two checks use this module.  A sink's descriptor says which subscribers
 * may receive its events (WBEM_RIGHT_SUBSCRIBE, checked against the
 * subscription's CreatorSID), and __EventFilter.EventAccess says which
 * publishers may deliver to a filter (WBEM_RIGHT_PUBLISH, checked against
 * the socket peer's uid or the provider's identity).  Both descriptors are
 * written in a small, documented subset of SDDL; anything outside it is
 * refused with an error naming the column and the token, never skipped,
 * since an ACE that is silently dropped changes who gets access.
 *
 * Identities are Linux users seen as SIDs, the way Samba and sssd map them
 * (S-1-22-1-<uid>, S-1-22-2-<gid>); root and members of the configured
 * admin group are the Administrators SID S-1-5-32-544, which is what WMI
 * records as the CreatorSID of anything an administrator creates.
 *
 * The module is self-contained: it uses libc and the WBEM status codes
 * only, has no global state, and a parsed descriptor is immutable, so
 * sec_descriptor_allows and sec_descriptor_to_string may be called from
 * any thread at once (delivery threads included).
 */
#ifndef WMID_SECURITY_H
#define WMID_SECURITY_H

#include <stdbool.h>
#include <stddef.h>

#include "wmievent/status.h"

/* Room for a SID string and its NUL: longer SIDs are refused everywhere,
 * so that every SID a descriptor holds fits in a sec_identity. */
#define SEC_SID_MAX 64
/* The most groups an identity records (see groups_truncated). */
#define SEC_MAX_GROUPS 64
/* The most ACEs one descriptor may hold. */
#define SEC_MAX_ACES 64
/* The longest SDDL text accepted, in characters.  Every descriptor within
 * SEC_MAX_ACES and SEC_SID_MAX prints (sec_descriptor_to_string) in fewer
 * than 5000 characters, so the canonical form of anything accepted is
 * always accepted again. */
#define SEC_MAX_SDDL 8192

/* Well-known SIDs. */
#define SEC_SID_EVERYONE       "S-1-1-0"      /* WD */
#define SEC_SID_LOCAL_SYSTEM   "S-1-5-18"     /* SY */
#define SEC_SID_AUTHENTICATED  "S-1-5-11"     /* AU */
#define SEC_SID_ADMINISTRATORS "S-1-5-32-544" /* BA */

/*
 * An identity: who created a subscription (CreatorSID) or who publishes
 * events.  Build it with sec_identity_from_uid or sec_identity_from_sid;
 * a hand-made one works too (sid matching falls back to the string).
 */
struct sec_identity {
    char sid[SEC_SID_MAX];       /* "S-1-22-1-<uid>", or "S-1-5-32-544" (Administrators) for root and
                                  * admin-group members; "" for an unknown identity */
    long uid;                    /* -1 when unknown */
    bool admin;                  /* root or a member of the admin group */
    size_t ngroups;
    long groups[SEC_MAX_GROUPS]; /* the user's gids (getgrouplist), for S-1-22-2-<gid> ACEs */
    /* Set when the user has more groups than fit above.  A deny ACE naming
     * a group that is not listed then matches anyway, so that a lost group
     * can only ever take access away, never grant it. */
    bool groups_truncated;
};

/*
 * The identity of a Linux user: uid 0, or a member of @admin_gid (-1:
 * none), is Administrators, as WMI records administrators.  The groups come
 * from the passwd and group databases (getpwuid_r, getgrouplist), which
 * may go through NSS to sssd or LDAP and block: build identities when a
 * connection is accepted or a subscription is created, not per event.  A
 * user the passwd database does not know has no groups.  A negative @uid,
 * or one that is not a valid uid_t, is an unknown identity: sid "", uid -1,
 * matched only by Everyone.  Thread-safe.
 */
void sec_identity_from_uid(struct sec_identity *id, long uid, long admin_gid);

/*
 * The identity of a SID string as stored (S-1-22-1-uid, S-1-5-32-544, ...);
 * false for a malformed SID (see docs/security.md: numeric form, no leading
 * zeros, at most SEC_SID_MAX - 1 characters), with @id set to the unknown
 * identity.  id->sid is always the SID given, and:
 *   S-1-22-1-<uid>   that user, with groups and admin as sec_identity_from_uid
 *                    finds them now (membership is live, as a new login sees it)
 *   S-1-5-18         LocalSystem: root (uid 0, admin, root's groups)
 *   S-1-5-32-544     Administrators: admin, uid -1, groups {@admin_gid}
 *   S-1-22-2-<gid>   that group: uid -1, groups {gid}, admin when gid is @admin_gid
 *   anything else    uid -1, no groups, not admin: matched by Everyone and by
 *                    ACEs naming the identical SID
 */
bool sec_identity_from_sid(struct sec_identity *id, const char *sid, long admin_gid);

/* Rights (WMI's WBEM_RIGHT_*): */
#define SEC_RIGHT_SUBSCRIBE 0x40u   /* WBEM_RIGHT_SUBSCRIBE */
#define SEC_RIGHT_PUBLISH   0x80u   /* WBEM_RIGHT_PUBLISH */
/* Every right a descriptor may name: WMI's WBEM_SECURITY_FLAGS 0x1 to 0x80
 * (WBEM_ENABLE ... WBEM_RIGHT_PUBLISH).  The daemon checks only the two
 * above; the others are kept and printed so that a descriptor means what
 * its author wrote. */
#define SEC_RIGHTS_ALL      0xFFu

struct sec_descriptor;   /* opaque: a parsed DACL, with its owner and group */

/*
 * Parse the SDDL subset (docs/security.md); NULL with @err filled (when not
 * NULL) on failure.  err->status is WBEM_E_INVALID_PARAMETER for text that
 * is not SDDL, WBEM_E_NOT_SUPPORTED for SDDL outside the subset (SACLs,
 * object ACEs, inheritance flags, other aliases), WBEM_E_QUOTA_VIOLATION
 * over SEC_MAX_SDDL or SEC_MAX_ACES, WBEM_E_OUT_OF_MEMORY; err->column is
 * the 1-based column of the offending character (one past the end when
 * the text stops short), err->line 0, err->source empty (the caller names
 * the property), err->text names the token and says what is accepted.
 */
struct sec_descriptor *sec_descriptor_parse(const char *sddl, wmi_error *err);
void sec_descriptor_free(struct sec_descriptor *sd);

/*
 * Does @sd grant @right to @who?  ACEs in order; the first ACE whose SID
 * matches @who and whose mask has @right decides (A allows, D denies); no
 * such ACE: denied.  A NULL @sd allows everything (no descriptor set).
 * Ask for one right at a time: an allow ACE must hold every bit of @right,
 * a deny ACE holding any of them denies.  A NULL @who, or a @right of 0,
 * is denied by any descriptor.
 *
 * SID matching: S-1-1-0 (WD) matches everyone; S-1-5-32-544 (BA) matches
 * admins; S-1-5-18 (SY) matches uid 0 and the LocalSystem identity;
 * S-1-5-11 (AU) matches every identity with a known uid, and admins;
 * S-1-22-1-u matches uid u; S-1-22-2-g matches identities whose groups
 * include g; anything else matches only an identical sid string.
 */
bool sec_descriptor_allows(const struct sec_descriptor *sd, const struct sec_identity *who, unsigned right);

/*
 * The canonical text of @sd (new malloc'd string), for logs and Stats:
 * well-known SIDs as their aliases (WD, BA, SY, AU), others numeric, rights
 * in lower-case hex, DACL flags as "PAI".  It parses back to the same
 * descriptor.  A NULL @sd gives "" (no descriptor); NULL only when out of
 * memory.
 */
char *sec_descriptor_to_string(const struct sec_descriptor *sd);

/* The owner (O:) and group (G:) SIDs, numeric, or NULL when the text had
 * none.  Kept for callers that check a sink's owner as WMI does; never
 * used by sec_descriptor_allows. */
const char *sec_descriptor_owner(const struct sec_descriptor *sd);
const char *sec_descriptor_group(const struct sec_descriptor *sd);

/* The number of ACEs in the DACL (0 for an empty DACL, which denies
 * everything). */
size_t sec_descriptor_ace_count(const struct sec_descriptor *sd);

#endif /* WMID_SECURITY_H */
