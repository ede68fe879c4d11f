/*
 * test_fuzz_regressions.c - replay the fuzzers' crash regressions.
 *
 * Every file in tests/fuzz/regressions/<target>/ is an input that once
 * crashed, hung or broke an invariant in the libFuzzer target
 * tests/fuzz/fuzz_<target>.c.  The targets are compiled in here (with
 * FUZZ_NO_MAIN) and each file is run through the same code path, so that
 * make check guards every fixed bug without clang or libFuzzer.  A
 * regression that comes back crashes this test (the targets trap on a
 * broken invariant) or is reported by the sanitizers under SAN=1.
 * Run with cwd tests/unit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_NO_MAIN
#include "../fuzz/fuzz_class.c"
#include "../fuzz/fuzz_object.c"
#include "../fuzz/fuzz_path.c"
#include "../fuzz/fuzz_template.c"
#include "../fuzz/fuzz_wql.c"

#define REGRESSIONS_DIR "../fuzz/regressions/"

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run every file of REGRESSIONS_DIR/@name through @one; returns the count. */
static size_t
replay(const char *name, int (*one)(const uint8_t *, size_t))
{
    char dir[256];
    snprintf(dir, sizeof dir, REGRESSIONS_DIR "%s", name);
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0; /* no regressions yet for this target */
    char **files = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            files = realloc(files, cap * sizeof *files);
            assert_non_null(files);
        }
        files[n] = strdup(de->d_name);
        assert_non_null(files[n]);
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(files, n, sizeof *files, name_cmp);

    for (size_t i = 0; i < n; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            fail_msg("%s: cannot open", path);
        uint8_t *buf = NULL;
        size_t len = 0, bcap = 0;
        for (;;) {
            if (len == bcap) {
                bcap = bcap ? bcap * 2 : 4096;
                buf = realloc(buf, bcap);
                assert_non_null(buf);
            }
            size_t got = fread(buf + len, 1, bcap - len, f);
            if (got == 0)
                break;
            len += got;
        }
        fclose(f);
        /* Give the target an exactly sized copy, as libFuzzer does, so
         * that ASan sees a read past the end of the input. */
        uint8_t *exact = malloc(len ? len : 1);
        assert_non_null(exact);
        if (len > 0)
            memcpy(exact, buf, len);
        free(buf);
        one(exact, len);
        free(exact);
        free(files[i]);
    }
    free(files);
    return n;
}

static void
test_wql(void **state)
{
    (void)state;
    print_message("%zu wql regressions\n", replay("wql", fuzz_wql_one));
}

static void
test_object(void **state)
{
    (void)state;
    print_message("%zu object regressions\n", replay("object", fuzz_object_one));
}

static void
test_template(void **state)
{
    (void)state;
    print_message("%zu template regressions\n", replay("template", fuzz_template_one));
}

static void
test_class(void **state)
{
    (void)state;
    print_message("%zu class regressions\n", replay("class", fuzz_class_one));
}

static void
test_path(void **state)
{
    (void)state;
    print_message("%zu path regressions\n", replay("path", fuzz_path_one));
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
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    /* The fuzz world (schema and prepared events) lives for the process. */
    return rc;
}
