/*
 * bench_eval.c - micro benchmarks of the per-event work in libwmievent,
 * ns per operation, single thread:
 *
 *   json_loadb            jansson parse of a typical 112-byte event line
 *   from_json_new         wmi_object_from_json_new on the parsed tree
 *                         (type checks, name normalisation) + unref
 *   line_to_object        the two together, as control.c does per line
 *   isa("__Event")        wmi_object_isa by name, as control.c does per line
 *   wql_evaluate_where    the bench filter against a matching event
 *   wql_evaluate_where/no the bench filter against a non-matching one
 *                         (LIKE fails: the AND short-cuts)
 *   wql_evaluate          with the FROM class test
 *   like_match            wmi_like_match('proc-1%', 'proc-110.exe')
 *   template_expand       "%ProcessName% %ProcessID%" into a reused buffer
 *   wql_parse             parse + free of the bench filter
 *
 *   usage: bench_eval [ITERATIONS]   (default 1,000,000; each op is timed
 *          over ITERATIONS calls after a warm-up, best of 3 repetitions)
 *
 * Linked only with the static libwmievent, jansson and pthread (Makefile).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <wmievent/object.h>
#include <wmievent/template.h>
#include <wmievent/wql.h>

#define BENCH_QUERY "SELECT * FROM Bench_ProcessTrace WHERE ProcessName LIKE 'proc-1%' AND Severity >= 3"
#define LINE_MATCH                                                                                         \
    "{\"__CLASS\":\"Bench_ProcessStopTrace\",\"ProcessName\":\"proc-110.exe\",\"ProcessID\":61069,"      \
    "\"SessionID\":1,\"Severity\":3}"
#define LINE_NOMATCH                                                                                       \
    "{\"__CLASS\":\"Bench_ProcessStartTrace\",\"ProcessName\":\"proc-742.exe\",\"ProcessID\":4711,"      \
    "\"SessionID\":2,\"Severity\":5}"

static const char *const class_defs[] = {
    "{\"__GENUS\":1,\"__CLASS\":\"Bench_ProcessTrace\",\"__SUPERCLASS\":\"__ExtrinsicEvent\","
    "\"__PROPERTIES\":{\"ProcessName\":\"string\",\"ProcessID\":\"uint32\",\"SessionID\":\"uint32\","
    "\"Severity\":\"uint32\"}}",
    "{\"__GENUS\":1,\"__CLASS\":\"Bench_ProcessStartTrace\",\"__SUPERCLASS\":\"Bench_ProcessTrace\","
    "\"__PROPERTIES\":{}}",
    "{\"__GENUS\":1,\"__CLASS\":\"Bench_ProcessStopTrace\",\"__SUPERCLASS\":\"Bench_ProcessTrace\","
    "\"__PROPERTIES\":{}}",
};

static volatile uint64_t sink; /* keeps results alive */

static double
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static _Noreturn void
die(const char *what)
{
    fprintf(stderr, "bench_eval: %s\n", what);
    exit(1);
}

struct ctx {
    wmi_schema *schema;
    wmi_query *query;
    wmi_template *tmpl;
    wmi_object *ev_match, *ev_nomatch;
    char *buf;
    size_t len, cap;
};

typedef void (*op_fn)(struct ctx *c);

static json_t *
load(const char *line)
{
    json_error_t jerr;
    json_t *j = json_loadb(line, strlen(line), 0, &jerr);
    if (j == NULL)
        die("json_loadb failed");
    return j;
}

static wmi_object *
to_object(const wmi_schema *schema, const char *line)
{
    wmi_object *o;
    wmi_error err;
    if (WMI_FAILED(wmi_object_from_json_new(schema, load(line), &o, &err)))
        die("wmi_object_from_json_new failed");
    return o;
}

static void
op_json_loadb(struct ctx *c)
{
    (void)c;
    json_t *j = load(LINE_MATCH);
    sink += json_object_size(j);
    json_decref(j);
}

/* from_json_new alone: the parse is done outside the timed region in
 * batches (see run_from_json). */
static json_t *pre[1024];
static size_t npre;

static void
op_from_json_new(struct ctx *c)
{
    wmi_object *o;
    wmi_error err;
    if (WMI_FAILED(wmi_object_from_json_new(c->schema, pre[npre++], &o, &err)))
        die("wmi_object_from_json_new failed");
    wmi_object_unref(o);
}

static void
op_line_to_object(struct ctx *c)
{
    wmi_object *o = to_object(c->schema, LINE_MATCH);
    sink += wmi_object_isa(o, "__Event");
    wmi_object_unref(o);
}

static void
op_isa_event(struct ctx *c)
{
    sink += wmi_object_isa(c->ev_match, "__Event");
}

static void
op_eval_where(struct ctx *c)
{
    sink += wmi_query_evaluate_where(c->query, c->ev_match);
}

static void
op_eval_where_nomatch(struct ctx *c)
{
    sink += wmi_query_evaluate_where(c->query, c->ev_nomatch);
}

static void
op_eval(struct ctx *c)
{
    sink += wmi_query_evaluate(c->query, c->ev_match);
}

static void
op_like(struct ctx *c)
{
    (void)c;
    sink += wmi_like_match("proc-1%", "proc-110.exe");
}

static void
op_template(struct ctx *c)
{
    c->len = 0;
    if (WMI_FAILED(wmi_template_expand(c->tmpl, c->ev_match, &c->buf, &c->len, &c->cap)))
        die("wmi_template_expand failed");
    sink += c->len;
}

static void
op_parse(struct ctx *c)
{
    wmi_query *q;
    wmi_error err;
    if (WMI_FAILED(wmi_query_parse(BENCH_QUERY, c->schema, &q, &err)))
        die("wmi_query_parse failed");
    wmi_query_free(q);
}

/* Time @iters calls of @fn; ns per call, best of 3. */
static double
time_op(struct ctx *c, op_fn fn, size_t iters, bool prebuilt)
{
    double best = 1e300;
    for (int rep = 0; rep < 4; rep++) { /* rep 0 is the warm-up */
        double total = 0;
        size_t done = 0;
        while (done < iters) {
            size_t batch = iters - done;
            if (prebuilt) {
                /* parse a batch of trees first; only the conversion is timed */
                if (batch > sizeof pre / sizeof pre[0])
                    batch = sizeof pre / sizeof pre[0];
                for (size_t i = 0; i < batch; i++)
                    pre[i] = load(LINE_MATCH);
                npre = 0;
            }
            double t0 = now_ns();
            for (size_t i = 0; i < batch; i++)
                fn(c);
            total += now_ns() - t0;
            done += batch;
        }
        if (rep > 0 && total / (double)iters < best)
            best = total / (double)iters;
    }
    return best;
}

int
main(int argc, char **argv)
{
    size_t iters = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
    struct ctx c;
    wmi_error err;
    memset(&c, 0, sizeof c);

    if (iters == 0)
        die("usage: bench_eval [ITERATIONS]");
    c.schema = wmi_schema_new();
    if (c.schema == NULL)
        die("wmi_schema_new failed");
    for (size_t i = 0; i < sizeof class_defs / sizeof class_defs[0]; i++) {
        json_t *def = load(class_defs[i]);
        if (WMI_FAILED(wmi_schema_add_class_json(c.schema, def, &err)))
            die("wmi_schema_add_class_json failed");
        json_decref(def);
    }
    if (WMI_FAILED(wmi_query_parse(BENCH_QUERY, c.schema, &c.query, &err))) {
        fprintf(stderr, "bench_eval: %s: column %d: %s\n", BENCH_QUERY, err.column, err.text);
        return 1;
    }
    if (WMI_FAILED(wmi_template_compile("%ProcessName% %ProcessID%", &c.tmpl, &err)))
        die("wmi_template_compile failed");
    c.ev_match = to_object(c.schema, LINE_MATCH);
    c.ev_nomatch = to_object(c.schema, LINE_NOMATCH);

    /* Sanity: the work measured is the right work. */
    if (!wmi_query_evaluate(c.query, c.ev_match) || wmi_query_evaluate(c.query, c.ev_nomatch))
        die("the bench filter does not select what it should");
    op_template(&c);
    if (strcmp(c.buf, "proc-110.exe 61069") != 0) {
        fprintf(stderr, "bench_eval: template gave \"%s\"\n", c.buf);
        return 1;
    }

    static const struct {
        const char *name;
        op_fn fn;
        bool prebuilt;
        size_t div;
    } ops[] = {
        {"json_loadb (112-byte event line)", op_json_loadb, false, 1},
        {"wmi_object_from_json_new + unref", op_from_json_new, true, 1},
        {"line -> object (loadb + from_json_new + isa + unref)", op_line_to_object, false, 1},
        {"wmi_object_isa(ev, \"__Event\")", op_isa_event, false, 1},
        {"wmi_query_evaluate_where, match", op_eval_where, false, 1},
        {"wmi_query_evaluate_where, no match (LIKE fails)", op_eval_where_nomatch, false, 1},
        {"wmi_query_evaluate (FROM class + WHERE), match", op_eval, false, 1},
        {"wmi_like_match('proc-1%', 'proc-110.exe')", op_like, false, 1},
        {"wmi_template_expand \"%ProcessName% %ProcessID%\"", op_template, false, 1},
        {"wmi_query_parse + free (bench filter)", op_parse, false, 10},
    };
    printf("bench_eval: %zu iterations per op, best of 3, ns/op\n", iters);
    printf("  filter:   %s\n  event:    %s\n", BENCH_QUERY, LINE_MATCH);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t n = iters / ops[i].div ? iters / ops[i].div : 1;
        double ns = time_op(&c, ops[i].fn, n, ops[i].prebuilt);
        printf("  %-55s %9.1f ns/op\n", ops[i].name, ns);
        fflush(stdout);
    }
    free(c.buf);
    wmi_object_unref(c.ev_match);
    wmi_object_unref(c.ev_nomatch);
    wmi_template_free(c.tmpl);
    wmi_query_free(c.query);
    wmi_schema_free(c.schema);
    return (int)(sink & 0); /* 0; reading sink keeps the work */
}
