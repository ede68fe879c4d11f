/*
 * test_window.c - the GROUP WITHIN engine (wmievent/window.h), driven by a
 * table: each case is a query, a time unit, limits, and a script of steps
 * (add an event at a time, close what is due at a time, ask for the next
 * end, read the counters) with what each must give.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wmievent.h"

#define AGG_CLASS "__AggregateEvent_Test"
#define NEVER UINT64_MAX

enum op {
    END = 0,
    ADD,     /* add event @arg ("severity:message") at @t; status @st */
    CLOSE,   /* close everything due at @t; @arg: what closed, '|'-separated */
    NEXT,    /* the next end is @t (NEVER: no window open) */
    STATS    /* @groups open, @refused refused so far */
};

struct step {
    enum op op;
    uint64_t t;
    const char *arg;
    wmi_status st;
    size_t groups;
    uint64_t refused;
};

struct window_case {
    const char *name;
    const char *query;
    uint64_t units_per_second;
    size_t max_groups, max_bytes;
    struct step steps[16];
};

/* A closed window reads "n=<NumberOfEvents> first=<Representative.Message>"
 * with " sev=<Severity>" for a query BY Severity, or "-" when HAVING
 * rejected it. */
static const struct window_case cases[] = {
    {"one group, no BY, in milliseconds", "SELECT * FROM Test_Event GROUP WITHIN 1", 1000, 0, 0,
     {{NEXT, NEVER, NULL, 0, 0, 0},
      {ADD, 0, "1:a", WBEM_S_NO_ERROR, 0, 0},
      {ADD, 100, "2:b", WBEM_S_NO_ERROR, 0, 0},
      {NEXT, 1000, NULL, 0, 0, 0},
      {ADD, 999, "3:c", WBEM_S_NO_ERROR, 0, 0},
      {CLOSE, 999, "", 0, 0, 0},
      {STATS, 0, NULL, 0, 1, 0},
      {CLOSE, 1000, "n=3 first=a", 0, 0, 0},
      {STATS, 0, NULL, 0, 0, 0},
      {NEXT, NEVER, NULL, 0, 0, 0}}},
    {"groups BY Severity close one by one", "SELECT * FROM Test_Event GROUP WITHIN 1 BY Severity", 1000, 0, 0,
     {{ADD, 0, "1:a", WBEM_S_NO_ERROR, 0, 0},
      {ADD, 10, "2:b", WBEM_S_NO_ERROR, 0, 0},
      {ADD, 20, "1:c", WBEM_S_NO_ERROR, 0, 0},
      {STATS, 0, NULL, 0, 2, 0},
      {CLOSE, 1000, "n=2 first=a sev=1", 0, 0, 0},
      {NEXT, 1010, NULL, 0, 0, 0},
      {CLOSE, 1009, "", 0, 0, 0},
      {CLOSE, 1010, "n=1 first=b sev=2", 0, 0, 0},
      /* A value seen again after its window closed opens a new one. */
      {ADD, 1500, "1:d", WBEM_S_NO_ERROR, 0, 0},
      {CLOSE, NEVER, "n=1 first=d sev=1", 0, 0, 0}}},
    {"HAVING drops the aggregates it rejects",
     "SELECT * FROM Test_Event GROUP WITHIN 1 BY Severity HAVING NumberOfEvents > 1", 1000, 0, 0,
     {{ADD, 0, "1:a", WBEM_S_NO_ERROR, 0, 0},
      {ADD, 0, "2:b", WBEM_S_NO_ERROR, 0, 0},
      {ADD, 5, "2:c", WBEM_S_NO_ERROR, 0, 0},
      {CLOSE, 1000, "-|n=2 first=b sev=2", 0, 0, 0}}},
    {"an event for a window past its end but not closed is counted in it",
     "SELECT * FROM Test_Event GROUP WITHIN 1", 1000, 0, 0,
     {{ADD, 0, "1:a", WBEM_S_NO_ERROR, 0, 0},
      {ADD, 1500, "1:b", WBEM_S_NO_ERROR, 0, 0},
      {CLOSE, 1500, "n=2 first=a", 0, 0, 0}}},
    {"100 ns ticks and a fractional window", "SELECT * FROM Test_Event GROUP WITHIN 0.5", 10000000, 0, 0,
     {{ADD, 20000000, "1:a", WBEM_S_NO_ERROR, 0, 0},
      {NEXT, 25000000, NULL, 0, 0, 0},
      {CLOSE, 24999999, "", 0, 0, 0},
      {CLOSE, 25000000, "n=1 first=a", 0, 0, 0}}},
    {"a window of 1.5 s in milliseconds", "SELECT * FROM Test_Event GROUP WITHIN 1.5", 1000, 0, 0,
     {{ADD, 7, "1:a", WBEM_S_NO_ERROR, 0, 0}, {NEXT, 1507, NULL, 0, 0, 0}}},
    {"a replay whose time goes back: windows close in the order they opened",
     "SELECT * FROM Test_Event GROUP WITHIN 1 BY Severity", 1000, 0, 0,
     {{ADD, 100, "1:a", WBEM_S_NO_ERROR, 0, 0},
      {ADD, 50, "2:b", WBEM_S_NO_ERROR, 0, 0},
      {NEXT, 1100, NULL, 0, 0, 0},
      {CLOSE, 1060, "", 0, 0, 0},
      {CLOSE, 1100, "n=1 first=a sev=1|n=1 first=b sev=2", 0, 0, 0}}},
    {"the group limit refuses new groups, not events of open ones",
     "SELECT * FROM Test_Event GROUP WITHIN 1 BY Severity", 1000, 2, 0,
     {{ADD, 0, "1:a", WBEM_S_NO_ERROR, 0, 0},
      {ADD, 0, "2:b", WBEM_S_NO_ERROR, 0, 0},
      {ADD, 0, "3:c", WBEM_E_QUOTA_VIOLATION, 0, 0},
      {ADD, 0, "1:d", WBEM_S_NO_ERROR, 0, 0},
      {ADD, 0, "4:e", WBEM_E_QUOTA_VIOLATION, 0, 0},
      {STATS, 0, NULL, 0, 2, 2},
      {CLOSE, 1000, "n=2 first=a sev=1|n=1 first=b sev=2", 0, 0, 0},
      {ADD, 1000, "3:f", WBEM_S_NO_ERROR, 0, 0},
      {STATS, 0, NULL, 0, 1, 2}}},
    {"the byte limit refuses an event bigger than it", "SELECT * FROM Test_Event GROUP WITHIN 1", 1000, 0, 10,
     {{ADD, 0, "1:a", WBEM_E_QUOTA_VIOLATION, 0, 0},
      {STATS, 0, NULL, 0, 0, 1},
      {NEXT, NEVER, NULL, 0, 0, 0},
      {CLOSE, NEVER, "", 0, 0, 0}}},
    {"closing at UINT64_MAX closes every window", "SELECT * FROM Test_Event GROUP WITHIN 100 BY Message", 1000,
     0, 0,
     {{ADD, 0, "1:a", WBEM_S_NO_ERROR, 0, 0},
      {ADD, 1, "1:b", WBEM_S_NO_ERROR, 0, 0},
      {ADD, 2, "1:a", WBEM_S_NO_ERROR, 0, 0},
      {CLOSE, NEVER, "n=2 first=a|n=1 first=b", 0, 0, 0},
      {STATS, 0, NULL, 0, 0, 0}}},
};

static wmi_schema *
test_schema(void)
{
    wmi_schema *s = wmi_schema_new();
    wmi_error err;
    json_t *def = json_loads("{\"__CLASS\": \"Test_Event\", \"__SUPERCLASS\": \"__ExtrinsicEvent\","
                             " \"__PROPERTIES\": {\"Severity\": \"uint8\", \"Message\": \"string\"}}",
                             0, NULL);
    assert_non_null(def);
    assert_int_equal(wmi_schema_add_class_json(s, def, &err), WBEM_S_NO_ERROR);
    json_decref(def);
    return s;
}

static wmi_object *
make_event(const wmi_schema *schema, const char *spec)
{
    const char *colon = strchr(spec, ':');
    assert_non_null(colon);
    json_t *j = json_pack("{sssiss}", "__CLASS", "Test_Event", "Severity", atoi(spec), "Message", colon + 1);
    wmi_object *ev;
    wmi_error err;
    assert_int_equal(wmi_object_from_json_new(schema, j, &ev, &err), WBEM_S_NO_ERROR);
    return ev;
}

/* Append the summary of one closed window to @buf. */
static void
describe(const wmi_object *agg, char *buf, size_t len)
{
    size_t used = strlen(buf);
    const char *sep = used > 0 ? "|" : "";
    if (agg == NULL) {
        snprintf(buf + used, len - used, "%s-", sep);
        return;
    }
    uint64_t n = 0;
    wmi_object *rep = NULL;
    const char *first = NULL;
    assert_int_equal(wmi_object_get_uint64(agg, "NumberOfEvents", &n), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_object_get_object(agg, "Representative", &rep), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_object_get_string(rep, "Message", &first), WBEM_S_NO_ERROR);
    used += (size_t)snprintf(buf + used, len - used, "%sn=%llu first=%s", sep, (unsigned long long)n, first);
    uint64_t sev;
    if (wmi_object_get_uint64(agg, "Severity", &sev) == WBEM_S_NO_ERROR)
        snprintf(buf + used, len - used, " sev=%llu", (unsigned long long)sev);
    wmi_object_unref(rep);
}

static void
run_step(wmi_window *w, const wmi_schema *schema, const struct step *s)
{
    switch (s->op) {
    case ADD: {
        wmi_object *ev = make_event(schema, s->arg);
        assert_int_equal(wmi_window_add(w, ev, s->t), s->st);
        wmi_object_unref(ev);
        break;
    }
    case CLOSE: {
        char got[512] = "";
        wmi_object *agg;
        wmi_error err;
        wmi_status st;
        while ((st = wmi_window_close(w, s->t, &agg, &err)) != WBEM_S_FALSE) {
            assert_int_equal(st, WBEM_S_NO_ERROR);
            describe(agg, got, sizeof got);
            wmi_object_unref(agg);
        }
        assert_null(agg);
        assert_string_equal(got, s->arg);
        break;
    }
    case NEXT: {
        uint64_t when = 12345;
        bool open = wmi_window_next_close(w, &when);
        assert_int_equal(open, s->t != NEVER);
        assert_int_equal(when, open ? s->t : 12345);
        break;
    }
    case STATS: {
        wmi_window_stats st;
        wmi_window_get_stats(w, &st);
        assert_int_equal(st.groups, s->groups);
        assert_int_equal(st.refused, s->refused);
        break;
    }
    case END:
        break;
    }
}

static void
test_window_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct window_case *c = &cases[i];
        wmi_schema *schema = test_schema();
        wmi_query *q;
        wmi_error err;
        wmi_window *w;
        print_message("case: %s\n", c->name);
        assert_int_equal(wmi_query_parse(c->query, schema, &q, &err), WBEM_S_NO_ERROR);
        const char *cls = NULL;
        if (wmi_query_group_by_count(q) > 0) {
            assert_int_equal(wmi_query_define_aggregate_class(q, schema, AGG_CLASS, &err), WBEM_S_NO_ERROR);
            cls = AGG_CLASS;
        }
        assert_int_equal(wmi_window_new(q, schema, cls, c->units_per_second, &w), WBEM_S_NO_ERROR);
        wmi_window_set_limits(w, c->max_groups, c->max_bytes);
        for (size_t k = 0; k < sizeof c->steps / sizeof c->steps[0] && c->steps[k].op != END; k++)
            run_step(w, schema, &c->steps[k]);
        /* Open windows are dropped with the engine. */
        wmi_window_free(w);
        wmi_query_free(q);
        wmi_schema_free(schema);
    }
}

static void
test_window_new_refuses(void **state)
{
    (void)state;
    wmi_schema *schema = test_schema();
    wmi_query *plain, *grouped;
    wmi_error err;
    wmi_window *w = (wmi_window *)&w;
    assert_int_equal(wmi_query_parse("SELECT * FROM Test_Event", schema, &plain, &err), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_query_parse("SELECT * FROM Test_Event GROUP WITHIN 1", schema, &grouped, &err),
                     WBEM_S_NO_ERROR);
    assert_int_equal(wmi_window_new(plain, schema, NULL, 1000, &w), WBEM_E_INVALID_QUERY);
    assert_null(w);
    assert_int_equal(wmi_window_new(grouped, schema, NULL, 0, &w), WBEM_E_INVALID_PARAMETER);
    assert_int_equal(wmi_window_new(NULL, schema, NULL, 1000, &w), WBEM_E_INVALID_PARAMETER);
    assert_int_equal(wmi_window_new(grouped, schema, NULL, 1000, NULL), WBEM_E_INVALID_PARAMETER);
    wmi_window_free(NULL);
    wmi_query_free(plain);
    wmi_query_free(grouped);
    wmi_schema_free(schema);
}

/* A reload keeps the open windows: what closes after the rebind is judged
 * by the new query's HAVING. */
static void
test_window_rebind(void **state)
{
    (void)state;
    wmi_schema *schema = test_schema();
    wmi_query *all, *picky;
    wmi_error err;
    wmi_window *w;
    assert_int_equal(wmi_query_parse("SELECT * FROM Test_Event GROUP WITHIN 1", schema, &all, &err),
                     WBEM_S_NO_ERROR);
    assert_int_equal(wmi_query_parse("SELECT * FROM Test_Event GROUP WITHIN 1 HAVING NumberOfEvents > 5",
                                     schema, &picky, &err),
                     WBEM_S_NO_ERROR);
    assert_int_equal(wmi_window_new(all, schema, NULL, 1000, &w), WBEM_S_NO_ERROR);
    wmi_object *ev = make_event(schema, "1:a");
    assert_int_equal(wmi_window_add(w, ev, 0), WBEM_S_NO_ERROR);
    wmi_window_rebind(w, picky, schema, NULL);
    wmi_query_free(all);
    wmi_object *agg = (wmi_object *)&agg;
    assert_int_equal(wmi_window_close(w, 1000, &agg, &err), WBEM_S_NO_ERROR);
    assert_null(agg);
    assert_int_equal(wmi_window_close(w, 1000, &agg, NULL), WBEM_S_FALSE);
    wmi_object_unref(ev);
    wmi_window_free(w);
    wmi_query_free(picky);
    wmi_schema_free(schema);
}

/* An aggregate that cannot be made (its class is not in the schema) is a
 * failure of that one window, which is gone afterwards. */
static void
test_window_make_fails(void **state)
{
    (void)state;
    wmi_schema *schema = test_schema();
    wmi_query *q;
    wmi_error err;
    wmi_window *w;
    assert_int_equal(wmi_query_parse("SELECT * FROM Test_Event GROUP WITHIN 1 BY Severity", schema, &q, &err),
                     WBEM_S_NO_ERROR);
    assert_int_equal(wmi_window_new(q, schema, "No_Such_Class", 1000, &w), WBEM_S_NO_ERROR);
    wmi_object *ev = make_event(schema, "1:a");
    assert_int_equal(wmi_window_add(w, ev, 0), WBEM_S_NO_ERROR);
    wmi_object *agg;
    memset(&err, 0, sizeof err);
    wmi_status st = wmi_window_close(w, 1000, &agg, &err);
    assert_true(WMI_FAILED(st));
    assert_int_equal(err.status, st);
    assert_null(agg);
    assert_int_equal(wmi_window_close(w, NEVER, &agg, &err), WBEM_S_FALSE);
    wmi_object_unref(ev);
    wmi_window_free(w);
    wmi_query_free(q);
    wmi_schema_free(schema);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_table),
        cmocka_unit_test(test_window_new_refuses),
        cmocka_unit_test(test_window_rebind),
        cmocka_unit_test(test_window_make_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
