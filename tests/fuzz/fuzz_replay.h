/*
 * fuzz_replay.h - replay a fuzz target's corpus without libFuzzer, for the
 * unit tests that compile the targets in with FUZZ_NO_MAIN
 * (tests/unit/test_fuzz_regressions.c, tests/unit/test_daemon_fuzz_sddl.c).
 * Include it after <cmocka.h>.
 *
 * The corpus make check replays for target fuzz_<name> is every file of
 * regressions/<name>/ and of seeds/<name>/ under the tests/fuzz directory
 * (tests/fuzz/README.md, "Regressions").  A target whose corpus is empty,
 * or missing, is an error: make check would not run it at all.
 */
#ifndef WMIEVENT_FUZZ_REPLAY_H
#define WMIEVENT_FUZZ_REPLAY_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef int (*fuzz_one_fn)(const uint8_t *data, size_t size);

/* The directories of a target's corpus, under tests/fuzz. */
static const char *const fuzz_corpus_dirs[] = {"regressions", "seeds"};

static int
fuzz_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run @path's bytes through @one, as an exactly sized buffer, as libFuzzer
 * gives them (ASan then sees a read past the end of the input). */
static void
fuzz_replay_file(const char *path, fuzz_one_fn one)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("%s: cannot open", path);
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        if (got == 0)
            break;
        len += got;
    }
    fclose(f);
    uint8_t *exact = malloc(len ? len : 1);
    assert_non_null(exact);
    if (len > 0)
        memcpy(exact, buf, len);
    free(buf);
    one(exact, len);
    free(exact);
}

/* Run every regular file of @dir through @one, in the order of their
 * names; files whose names start with '.' are skipped.  Returns how many
 * ran: 0 when @dir has none, or does not exist. */
static size_t
fuzz_replay_dir(const char *dir, fuzz_one_fn one)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
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
        size_t len = strlen(dir) + 1 + strlen(de->d_name) + 1;
        files[n] = malloc(len);
        assert_non_null(files[n]);
        snprintf(files[n], len, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(files[n], &st) != 0 || !S_ISREG(st.st_mode)) {
            free(files[n]);
            continue;
        }
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(files, n, sizeof *files, fuzz_name_cmp);
    for (size_t i = 0; i < n; i++) {
        fuzz_replay_file(files[i], one);
        free(files[i]);
    }
    free(files);
    return n;
}

/* Replay the corpus of target fuzz_<@name> found under @root (the
 * tests/fuzz directory) through @one.  Returns the number of inputs; when
 * there were none, @why (of @whylen bytes) says so, naming the target. */
static size_t
fuzz_replay_corpus(const char *root, const char *name, fuzz_one_fn one, char *why, size_t whylen)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof fuzz_corpus_dirs / sizeof fuzz_corpus_dirs[0]; i++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/%s/%s", root, fuzz_corpus_dirs[i], name);
        n += fuzz_replay_dir(dir, one);
    }
    if (n == 0)
        snprintf(why, whylen,
                 "fuzz_%s: empty corpus: no file in %s/regressions/%s/ or %s/seeds/%s/ "
                 "(make check replays every fuzz target's corpus: add a seed)",
                 name, root, name, root, name);
    else if (whylen > 0)
        why[0] = '\0';
    return n;
}

#endif /* WMIEVENT_FUZZ_REPLAY_H */
