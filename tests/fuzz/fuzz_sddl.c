/*
 * fuzz_sddl.c - libFuzzer target: the SDDL subset and SIDs of the
 * daemon's security module (src/daemon/config/security.c, docs/security.md).
 *
 * The input, NUL-terminated, goes through sec_descriptor_parse.  A text
 * that parses must print (sec_descriptor_to_string) a canonical form that
 * is within the text limit, parses again, prints identically, and answers
 * sec_descriptor_allows the same for every prepared identity and right.
 * A text that is refused must come with a failure status, a column inside
 * the text (or one past its end) and a message.  The input is also read
 * as a stored SID (sec_identity_from_sid): an accepted SID must be kept
 * as given, and an ACE naming it must allow the identity built from it.
 *
 * The daemon's object security.o is linked into the target (the Makefile's
 * fuzz rule for fuzz_sddl, and tests/unit/test_daemon_fuzz_sddl.c, which
 * replays the corpus in make check); the module depends on nothing but
 * libc and the library.
 */
#include "fuzz_common.h"

#include "daemon/config/config.h"

int fuzz_sddl_one(const uint8_t *data, size_t size);

/* Identities built by hand (no passwd lookups): users, root, the stored
 * Administrators and LocalSystem SIDs, an unknown peer, a domain SID, and
 * a user whose group list was cut short. */
static struct sec_identity fuzz_ids[8];

static void
fuzz_sddl_identities(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    static const struct {
        const char *sid;
        long uid;
        bool admin;
        long group;
        bool truncated;
    } defs[8] = {
        {"S-1-22-1-1000", 1000, false, 100, false}, {"S-1-22-1-1001", 1001, false, 1001, false},
        {"S-1-5-32-544", 0, true, 0, false},        {"S-1-5-32-544", -1, true, -1, false},
        {"S-1-5-18", 0, true, 0, false},            {"", -1, false, -1, false},
        {"S-1-5-21-1-2-3-500", -1, false, -1, false}, {"S-1-22-1-2000", 2000, false, 2000, true},
    };
    for (size_t i = 0; i < 8; i++) {
        struct sec_identity *id = &fuzz_ids[i];
        memset(id, 0, sizeof *id);
        snprintf(id->sid, sizeof id->sid, "%s", defs[i].sid);
        id->uid = defs[i].uid;
        id->admin = defs[i].admin;
        if (defs[i].group >= 0) {
            id->groups[0] = defs[i].group;
            id->ngroups = 1;
        }
        id->groups_truncated = defs[i].truncated;
    }
}

int
fuzz_sddl_one(const uint8_t *data, size_t size)
{
    fuzz_sddl_identities();
    char *s = fuzz_strndup(data, size);
    size_t len = strlen(s);

    wmi_error err;
    struct sec_descriptor *sd = sec_descriptor_parse(s, &err);
    if (sd != NULL) {
        char *text = sec_descriptor_to_string(sd);
        FUZZ_CHECK(text != NULL);
        FUZZ_CHECK(strlen(text) <= SEC_MAX_SDDL);
        struct sec_descriptor *again = sec_descriptor_parse(text, &err);
        FUZZ_CHECK(again != NULL);
        char *text2 = sec_descriptor_to_string(again);
        FUZZ_CHECK(text2 != NULL && strcmp(text, text2) == 0);
        FUZZ_CHECK(sec_descriptor_ace_count(sd) == sec_descriptor_ace_count(again));
        for (size_t i = 0; i < sizeof fuzz_ids / sizeof fuzz_ids[0]; i++)
            for (unsigned r = 1; r <= 0x80; r <<= 1)
                FUZZ_CHECK(sec_descriptor_allows(sd, &fuzz_ids[i], r) ==
                           sec_descriptor_allows(again, &fuzz_ids[i], r));
        /* An empty DACL denies everyone. */
        if (sec_descriptor_ace_count(sd) == 0)
            FUZZ_CHECK(!sec_descriptor_allows(sd, &fuzz_ids[2], SEC_RIGHT_PUBLISH));
        free(text2);
        free(text);
        sec_descriptor_free(again);
        sec_descriptor_free(sd);
    } else {
        FUZZ_CHECK(WMI_FAILED(err.status));
        FUZZ_CHECK(err.column >= 1 && (size_t)err.column <= (len < SEC_MAX_SDDL ? len : SEC_MAX_SDDL) + 1);
        FUZZ_CHECK(err.text[0] != '\0');
    }

    /* As a stored SID.  Only short inputs: user SIDs go to the passwd
     * database, which is slow, and SIDs are short anyway. */
    if (len < SEC_SID_MAX) {
        struct sec_identity id;
        if (sec_identity_from_sid(&id, s, 27)) {
            FUZZ_CHECK(strcmp(id.sid, s) == 0);
            char ace[SEC_SID_MAX + 32];
            snprintf(ace, sizeof ace, "D:(A;;0x40;;;%s)", s);
            sd = sec_descriptor_parse(ace, &err);
            FUZZ_CHECK(sd != NULL);
            FUZZ_CHECK(sec_descriptor_allows(sd, &id, SEC_RIGHT_SUBSCRIBE));
            FUZZ_CHECK(!sec_descriptor_allows(sd, &id, SEC_RIGHT_PUBLISH));
            sec_descriptor_free(sd);
        } else {
            FUZZ_CHECK(id.sid[0] == '\0' && id.uid == -1 && !id.admin && id.ngroups == 0);
        }
    }

    free(s);
    return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_sddl_one(data, size);
}
#endif
