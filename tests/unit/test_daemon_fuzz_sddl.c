/*
 * test_daemon_fuzz_sddl.c - replay the corpus of the fuzz target fuzz_sddl
 * (tests/fuzz/regressions/sddl/ and tests/fuzz/seeds/sddl/) through the
 * target compiled in with FUZZ_NO_MAIN, as test_fuzz_regressions.c does
 * for the library's targets.  fuzz_sddl tests the daemon's SDDL module
 * (security.c), whose object this test links: tests named test_daemon_*
 * link the daemon's objects.  An empty corpus fails.  Run with cwd
 * tests/unit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define FUZZ_NO_MAIN
#include "../fuzz/fuzz_sddl.c"
#include "../fuzz/fuzz_replay.h"

static void
test_sddl(void **state)
{
    (void)state;
    char why[1024];
    size_t n = fuzz_replay_corpus("../fuzz", "sddl", fuzz_sddl_one, why, sizeof why);
    if (n == 0)
        fail_msg("%s", why);
    print_message("fuzz_sddl: %zu inputs replayed\n", n);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sddl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
