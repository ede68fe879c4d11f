/*
 * test_fuzz_regressions.c - replay the fuzzers' corpora.
 *
 * Every file in tests/fuzz/regressions/<name>/ is an input that once
 * crashed, hung or broke an invariant in the libFuzzer target
 * tests/fuzz/fuzz_<name>.c; the files in tests/fuzz/seeds/<name>/ are its
 * hand-written seeds.  The targets are compiled in here (with
 * FUZZ_NO_MAIN) and each file is run through the same code path, so that
 * make check guards every fixed bug, and runs every target, without clang
 * or libFuzzer.  A regression that comes back crashes this test (the
 * targets trap on a broken invariant) or is reported by the sanitizers
 * under SAN=1.  A target whose corpus is empty fails, naming it, and so
 * does a tests/fuzz/fuzz_*.c that no test replays.  fuzz_sddl, which
 * tests a daemon module, is replayed by test_daemon_fuzz_sddl.c (tests of
 * that name link the daemon's objects).  Run with cwd tests/unit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_NO_MAIN
#include "../fuzz/fuzz_class.c"
#include "../fuzz/fuzz_mof.c"
#include "../fuzz/fuzz_object.c"
#include "../fuzz/fuzz_path.c"
#include "../fuzz/fuzz_template.c"
#include "../fuzz/fuzz_wql.c"
#include "../fuzz/fuzz_replay.h"

#define FUZZ_DIR "../fuzz"

/* Replay target fuzz_<@name>'s corpus; fail when it is empty. */
static void
replay(const char *name, fuzz_one_fn one)
{
    char why[1024];
    size_t n = fuzz_replay_corpus(FUZZ_DIR, name, one, why, sizeof why);
    if (n == 0)
        fail_msg("%s", why);
    print_message("fuzz_%s: %zu inputs replayed\n", name, n);
}

static void
test_wql(void **state)
{
    (void)state;
    replay("wql", fuzz_wql_one);
}

static void
test_object(void **state)
{
    (void)state;
    replay("object", fuzz_object_one);
}

static void
test_template(void **state)
{
    (void)state;
    replay("template", fuzz_template_one);
}

static void
test_class(void **state)
{
    (void)state;
    replay("class", fuzz_class_one);
}

static void
test_path(void **state)
{
    (void)state;
    replay("path", fuzz_path_one);
}

static void
test_mof(void **state)
{
    (void)state;
    replay("mof", fuzz_mof_one);
}

/* Every target of tests/fuzz has its corpus replayed: by the tests above,
 * or by the test named next to it. */
static const char *const replayed[][2] = {
    {"class", "test_fuzz_regressions.c"}, {"mof", "test_fuzz_regressions.c"},
    {"object", "test_fuzz_regressions.c"}, {"path", "test_fuzz_regressions.c"},
    {"template", "test_fuzz_regressions.c"}, {"wql", "test_fuzz_regressions.c"},
    {"sddl", "test_daemon_fuzz_sddl.c"},
};

static void
test_every_target_replayed(void **state)
{
    (void)state;
    DIR *d = opendir(FUZZ_DIR);
    assert_non_null(d);
    size_t targets = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (strncmp(de->d_name, "fuzz_", 5) != 0 || len < 8 || strcmp(de->d_name + len - 2, ".c") != 0)
            continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(len - 7), de->d_name + 5);
        bool found = false;
        for (size_t i = 0; i < sizeof replayed / sizeof replayed[0]; i++)
            found = found || strcmp(replayed[i][0], name) == 0;
        if (!found)
            fail_msg("tests/fuzz/%s: no test replays the corpus of fuzz_%s (add it to "
                     "tests/unit/test_fuzz_regressions.c)", de->d_name, name);
        targets++;
    }
    closedir(d);
    assert_int_equal(targets, sizeof replayed / sizeof replayed[0]);
}

/* The replay helper itself: what it counts, and that an empty corpus
 * fails. */
static size_t calls;
static char last[16];
static size_t last_size;

static int
record_one(const uint8_t *data, size_t size)
{
    calls++;
    last_size = size;
    snprintf(last, sizeof last, "%.*s", (int)size, (const char *)data);
    return 0;
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
test_empty_corpus_fails(void **state)
{
    (void)state;
    char root[] = "/tmp/wmit-fuzz-replay-XXXXXX";
    assert_non_null(mkdtemp(root));
    char p[4][128], why[1024];
    snprintf(p[0], sizeof p[0], "%s/regressions", root);
    snprintf(p[1], sizeof p[1], "%s/seeds", root);
    snprintf(p[2], sizeof p[2], "%s/regressions/none", root);
    snprintf(p[3], sizeof p[3], "%s/seeds/none", root);

    /* No corpus directories at all. */
    calls = 0;
    assert_int_equal(fuzz_replay_corpus(root, "none", record_one, why, sizeof why), 0);
    assert_non_null(strstr(why, "fuzz_none: empty corpus"));
    assert_int_equal(calls, 0);

    /* Empty ones, then only a dot file and a directory: still empty. */
    for (int i = 0; i < 4; i++)
        assert_int_equal(mkdir(p[i], 0700), 0);
    assert_int_equal(fuzz_replay_corpus(root, "none", record_one, why, sizeof why), 0);
    assert_non_null(strstr(why, "fuzz_none: empty corpus"));
    char hidden[160], sub[160], seed[160], reg[160];
    snprintf(hidden, sizeof hidden, "%s/.hidden", p[3]);
    snprintf(sub, sizeof sub, "%s/sub", p[3]);
    write_file(hidden, "x");
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(fuzz_replay_corpus(root, "none", record_one, why, sizeof why), 0);
    assert_non_null(strstr(why, "fuzz_none"));
    assert_int_equal(calls, 0);

    /* A seed alone is a corpus, replayed once with its bytes. */
    snprintf(seed, sizeof seed, "%s/a", p[3]);
    write_file(seed, "abc");
    assert_int_equal(fuzz_replay_corpus(root, "none", record_one, why, sizeof why), 1);
    assert_string_equal(why, "");
    assert_int_equal(calls, 1);
    assert_string_equal(last, "abc");
    assert_int_equal(last_size, 3);

    /* A regression (an empty file is an input too) and the seed. */
    snprintf(reg, sizeof reg, "%s/b", p[2]);
    write_file(reg, "");
    calls = 0;
    assert_int_equal(fuzz_replay_corpus(root, "none", record_one, why, sizeof why), 2);
    assert_int_equal(calls, 2);
    assert_string_equal(last, "abc"); /* regressions first, then seeds */

    /* Another target's corpus is not this one's. */
    assert_int_equal(fuzz_replay_corpus(root, "other", record_one, why, sizeof why), 0);
    assert_non_null(strstr(why, "fuzz_other: empty corpus"));

    assert_int_equal(unlink(reg), 0);
    assert_int_equal(unlink(seed), 0);
    assert_int_equal(unlink(hidden), 0);
    assert_int_equal(rmdir(sub), 0);
    for (int i = 3; i >= 0; i--)
        assert_int_equal(rmdir(p[i]), 0);
    assert_int_equal(rmdir(root), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wql),
        cmocka_unit_test(test_object),
        cmocka_unit_test(test_template),
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_class),
        cmocka_unit_test(test_mof),
        cmocka_unit_test(test_every_target_replayed),
        cmocka_unit_test(test_empty_corpus_fails),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    /* The fuzz world (schema and prepared events) lives for the process. */
    return rc;
}
