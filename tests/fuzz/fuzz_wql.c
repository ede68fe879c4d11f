/*
 * fuzz_wql.c - libFuzzer target: WQL lexer, parser, printer and evaluator.
 *
 * The input, NUL-terminated, is parsed with no schema and with the fuzz
 * schema (fuzz_common.h).  Whatever parses is printed with
 * wmi_query_to_string; the printed form must parse again and print the
 * same, and the query is evaluated against the prepared events.
 */
#include "fuzz_common.h"

static void
wql_check(const char *text, const wmi_schema *schema, const struct fuzz_world *w)
{
    wmi_query *q = NULL;
    wmi_error err;
    wmi_status st = wmi_query_parse(text, schema, &q, &err);
    if (WMI_FAILED(st)) {
        FUZZ_CHECK(q == NULL);
        FUZZ_CHECK(err.status == st);
        return;
    }
    FUZZ_CHECK(q != NULL);

    /* Accessors. */
    FUZZ_CHECK(wmi_query_class(q) != NULL);
    (void)wmi_query_within(q);
    (void)wmi_query_group_within(q);
    (void)wmi_query_has_having(q);
    for (size_t i = 0; i < wmi_query_select_count(q); i++)
        FUZZ_CHECK(wmi_query_select_at(q, i) != NULL);
    for (size_t i = 0; i < wmi_query_group_by_count(q); i++)
        FUZZ_CHECK(wmi_query_group_by_at(q, i) != NULL);

    /* Print, re-parse, print again: the two must agree. */
    char *s1 = wmi_query_to_string(q);
    FUZZ_CHECK(s1 != NULL);
    wmi_query *q2 = NULL;
    st = wmi_query_parse(s1, schema, &q2, &err);
    if (WMI_FAILED(st))
        fprintf(stderr, "printed form does not parse: %s\n  %s\n  column %d: %s\n", text, s1,
                err.column, err.text);
    FUZZ_CHECK(WMI_SUCCEEDED(st));
    char *s2 = wmi_query_to_string(q2);
    FUZZ_CHECK(s2 != NULL);
    if (strcmp(s1, s2) != 0)
        fprintf(stderr, "printed forms differ:\n  %s\n  %s\n", s1, s2);
    FUZZ_CHECK(strcmp(s1, s2) == 0);

    /* Evaluate: the re-parsed query must give the same answers. */
    for (size_t e = 0; e < FUZZ_NEVENTS; e++) {
        bool a = wmi_query_evaluate(q, w->events[e]);
        bool b = wmi_query_evaluate(q2, w->events[e]);
        FUZZ_CHECK(a == b);
        a = wmi_query_evaluate_where(q, w->events[e]);
        b = wmi_query_evaluate_where(q2, w->events[e]);
        FUZZ_CHECK(a == b);
    }
    FUZZ_CHECK(wmi_query_evaluate_having(q, w->aggregate) ==
               wmi_query_evaluate_having(q2, w->aggregate));

    free(s1);
    free(s2);
    wmi_query_free(q2);
    wmi_query_free(q);
}

int
fuzz_wql_one(const uint8_t *data, size_t size)
{
    const struct fuzz_world *w = fuzz_world();
    char *text = fuzz_strndup(data, size);
    wql_check(text, NULL, w);
    wql_check(text, w->schema, w);
    free(text);
    return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_wql_one(data, size);
}
#endif
