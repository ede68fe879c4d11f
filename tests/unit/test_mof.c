/*
 * test_mof.c - the MOF compiler (wmievent/mof.h).
 *
 * Data-driven: tests/data/mof/cases.tsv lists every MOF file under
 * tests/data/mof/ with its expected outcome, so a new case needs no code
 * (tests/data/mof/README.md gives the format):
 *   FILE  OPTIONS  OK  classes=N instances=N qualifiers=N deletes=N
 *                      [master=FILE] [ops=FILE]             [note]
 *   FILE  OPTIONS  STATUS_NAME  LINE[:COLUMN]                [note]
 * OPTIONS is "-" or ";"-separated: prelude=FILE (compiled first; its
 * classes join the base schema), ns=NAMESPACE, I=DIR.  A master is a
 * Pegasus dump (instances or a class, CIM-XML) the result must agree
 * with; ops is the expected operations as JSON (Source left out).
 * Every .mof file under tests/data/mof must be listed.  The C cases
 * below cover what a data file cannot: the API's edges, limits, bad
 * bytes, big inputs and timing.
 *
 * Run with the working directory tests/unit (make unit does).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "wmievent.h"

#define DATA_DIR "../data/mof/"

/* ====================================================================
 * Helpers
 * ==================================================================== */

static char *
slurp(const char *path, size_t *lenp)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, len = 0, n;
    char *buf = malloc(cap);
    while (buf != NULL && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (nb == NULL)
                free(buf);
            buf = nb;
        }
    }
    fclose(f);
    if (buf != NULL)
        buf[len] = '\0';
    if (lenp != NULL)
        *lenp = len;
    return buf;
}

static int failures;

static void fail_case(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
fail_case(const char *file, int line, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    print_error("%s:%d: %s\n", file, line, msg);
    failures++;
}

static const char *
status_str(wmi_status st)
{
    static char buf[32];
    const char *n = wmi_status_name(st);
    if (n != NULL)
        return n;
    snprintf(buf, sizeof buf, "0x%08X", st);
    return buf;
}

static wmi_status
compile_str(const char *text, wmi_mof_result **out, wmi_error *err)
{
    return wmi_mof_compile_buffer(text, strlen(text), "test.mof", NULL, out, err);
}

/* Compile @text, which must fail with @want on @line (0: any). */
static void
expect_error(const char *text, wmi_status want, int line)
{
    wmi_mof_result *r = (wmi_mof_result *)1;
    wmi_error err;
    wmi_status st = compile_str(text, &r, &err);
    if (st != want || (line != 0 && err.line != line) || r != NULL)
        fail_msg("%s\nexpected %s on line %d, got %s on line %d: %s", text, status_str(want), line,
                 status_str(st), err.line, err.text);
    assert_int_equal(err.status, st);
}

static wmi_mof_result *
expect_ok(const char *text)
{
    wmi_mof_result *r = NULL;
    wmi_error err;
    wmi_status st = compile_str(text, &r, &err);
    if (WMI_FAILED(st))
        fail_msg("%s\nexpected success, got %s at %d:%d: %s", text, status_str(st), err.line, err.column,
                 err.text);
    assert_non_null(r);
    return r;
}

/* ====================================================================
 * Pegasus CIM-XML dumps (.master): a tiny scanner for what they hold
 * ==================================================================== */

/* Value of attribute @name in the tag starting at @tag (up to '>'), new. */
static char *
xml_attr(const char *tag, const char *name)
{
    const char *end = strchr(tag, '>');
    char pat[64];
    snprintf(pat, sizeof pat, " %s=\"", name);
    const char *p = strstr(tag, pat);
    if (p == NULL || (end != NULL && p > end))
        return NULL;
    p += strlen(pat);
    const char *q = strchr(p, '"');
    return q ? strndup(p, (size_t)(q - p)) : NULL;
}

static char *
xml_unescape(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        static const struct { const char *ent; char c; } ents[] = {
            {"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''},
        };
        size_t k;
        for (k = 0; k < sizeof ents / sizeof ents[0]; k++) {
            size_t el = strlen(ents[k].ent);
            if (i + el <= n && strncmp(s + i, ents[k].ent, el) == 0) {
                out[j++] = ents[k].c;
                i += el - 1;
                break;
            }
        }
        if (k == sizeof ents / sizeof ents[0])
            out[j++] = s[i];
    }
    out[j] = '\0';
    return out;
}

/* Our value as the master would print it. */
static bool
value_matches(const json_t *v, const char *text)
{
    if (json_is_string(v))
        return strcmp(json_string_value(v), text) == 0;
    if (json_is_boolean(v))
        return strcasecmp(text, json_is_true(v) ? "TRUE" : "FALSE") == 0;
    if (json_is_integer(v)) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        return strcmp(buf, text) == 0;
    }
    if (json_is_real(v)) {
        double want = strtod(text, NULL);
        double got = json_real_value(v);
        return got == want || (got - want < 1e-6 && want - got < 1e-6);
    }
    return false;
}

/* Values of one PROPERTY element (between @p and @end): a JSON array of
 * strings, or NULL when it has no VALUE; *@is_array for VALUE.ARRAY. */
static json_t *
master_values(const char *p, const char *end, bool *is_array)
{
    json_t *vals = NULL;
    *is_array = false;
    for (const char *q = p; q < end; q++) {
        if (q != p && strncmp(q, "<QUALIFIER", 10) == 0) {
            const char *qe = strstr(q, "</QUALIFIER>");
            if (qe == NULL || qe > end)
                break;
            q = qe;
        } else if (strncmp(q, "<VALUE.ARRAY>", 13) == 0) {
            *is_array = true;
            if (vals == NULL)
                vals = json_array();
        } else if (strncmp(q, "<VALUE>", 7) == 0) {
            const char *s = q + 7;
            const char *e = strstr(s, "</VALUE>");
            if (e == NULL || e > end)
                break;
            /* class dumps indent values on their own lines */
            while (s < e && (*s == '\n' || *s == ' '))
                s++;
            const char *t = e;
            while (t > s && (t[-1] == '\n' || t[-1] == ' '))
                t--;
            char *u = xml_unescape(s, (size_t)(t - s));
            if (vals == NULL)
                vals = json_array();
            json_array_append_new(vals, json_string(u));
            free(u);
            q = e;
        }
    }
    return vals;
}

/* Compare an instance dump with our instances, in order. */
static void
check_instances_master(const char *file, int line, const char *master, const wmi_mof_result *res)
{
    size_t nops = wmi_mof_result_count(res), oi = 0;
    int ninst = 0;
    const char *p = master;
    while ((p = strstr(p, "<INSTANCE")) != NULL) {
        const char *iend = strstr(p, "</INSTANCE>");
        char *cls = xml_attr(p, "CLASSNAME");
        const wmi_mof_op *op = NULL;
        while (oi < nops && (op = wmi_mof_result_op(res, oi++))->kind != WMI_MOF_INSTANCE)
            op = NULL;
        ninst++;
        if (op == NULL || cls == NULL || iend == NULL) {
            fail_case(file, line, "master instance %d (%s): we have no such instance", ninst, cls ? cls : "?");
            free(cls);
            return;
        }
        const json_t *obj = op->json;
        if (strcasecmp(cls, json_string_value(json_object_get(obj, "__CLASS"))) != 0)
            fail_case(file, line, "instance %d: master has class %s, we have %s", ninst, cls,
                      json_string_value(json_object_get(obj, "__CLASS")));
        /* Each property the master gives a value (propagated ones are class defaults). */
        const char *q = p;
        while ((q = strstr(q, "<PROPERTY")) != NULL && q < iend) {
            const char *pend = strstr(q, "</PROPERTY");
            char *name = xml_attr(q, "NAME");
            char *prop = xml_attr(q, "PROPAGATED");
            bool is_array;
            json_t *vals = master_values(q, pend, &is_array);
            const json_t *ours = name ? json_object_get(obj, name) : NULL;
            if (name != NULL && (prop == NULL || strcmp(prop, "true") != 0)) {
                if (vals == NULL) {
                    if (ours != NULL && !json_is_null(ours))
                        fail_case(file, line, "instance %d: %s is NULL in the master, set here", ninst, name);
                } else if (!is_array) {
                    if (ours == NULL || !value_matches(ours, json_string_value(json_array_get(vals, 0))))
                        fail_case(file, line, "instance %d: %s is \"%s\" in the master", ninst, name,
                                  json_string_value(json_array_get(vals, 0)));
                } else {
                    bool ok = json_is_array(ours) && json_array_size(ours) == json_array_size(vals);
                    for (size_t i = 0; ok && i < json_array_size(vals); i++)
                        ok = value_matches(json_array_get(ours, i), json_string_value(json_array_get(vals, i)));
                    if (!ok)
                        fail_case(file, line, "instance %d: array %s differs from the master", ninst, name);
                }
            }
            json_decref(vals);
            free(name);
            free(prop);
            q = pend ? pend + 1 : iend;
        }
        free(cls);
        p = iend;
    }
    size_t ours = 0;
    for (size_t i = 0; i < nops; i++)
        ours += wmi_mof_result_op(res, i)->kind == WMI_MOF_INSTANCE;
    if ((size_t)ninst != ours)
        fail_case(file, line, "master has %d instances, we have %zu", ninst, ours);
}

/* Compare a class dump with our class of that name. */
static void
check_class_master(const char *file, int line, const char *master, const wmi_mof_result *res)
{
    const char *p = strstr(master, "<CLASS");
    char *cname = p ? xml_attr(p, "NAME") : NULL;
    char *sname = p ? xml_attr(p, "SUPERCLASS") : NULL;
    const json_t *def = NULL;
    for (size_t i = 0; cname && i < wmi_mof_result_count(res); i++) {
        const wmi_mof_op *op = wmi_mof_result_op(res, i);
        if (op->kind == WMI_MOF_CLASS &&
            strcasecmp(json_string_value(json_object_get(op->json, "__CLASS")), cname) == 0)
            def = op->json;
    }
    if (def == NULL) {
        fail_case(file, line, "master class %s: not defined here", cname ? cname : "?");
        free(cname);
        free(sname);
        return;
    }
    const char *ours_super = json_string_value(json_object_get(def, "__SUPERCLASS"));
    if ((sname == NULL) != (ours_super == NULL) || (sname && strcasecmp(sname, ours_super) != 0))
        fail_case(file, line, "class %s: superclass %s in the master, %s here", cname, sname ? sname : "none",
                  ours_super ? ours_super : "none");
    const json_t *props = json_object_get(def, "__PROPERTIES");
    size_t nmaster = 0;
    const char *q = p;
    while ((q = strstr(q, "<PROPERTY")) != NULL) {
        const char *pend = strstr(q, "</PROPERTY");
        char *name = xml_attr(q, "NAME");
        char *prop = xml_attr(q, "PROPAGATED");
        char *refc = xml_attr(q, "REFERENCECLASS");
        if (name != NULL && (prop == NULL || strcmp(prop, "true") != 0)) {
            nmaster++;
            const json_t *pd = NULL;
            const char *k;
            json_t *v;
            json_object_foreach((json_t *)props, k, v) if (strcasecmp(k, name) == 0) pd = v;
            if (pd == NULL) {
                fail_case(file, line, "class %s: property %s of the master is missing", cname, name);
            } else {
                const char *t = json_string_value(json_object_get(pd, "CIMType"));
                if (refc != NULL && (t == NULL || strncmp(t, "ref:", 4) != 0 || strcasecmp(t + 4, refc) != 0))
                    fail_case(file, line, "class %s: %s is %s here, a reference to %s in the master", cname,
                              name, t ? t : "?", refc);
                /* Its qualifiers (other than key) with their values. */
                const char *r = q;
                while ((r = strstr(r, "<QUALIFIER")) != NULL && pend != NULL && r < pend) {
                    const char *rend = strstr(r, "</QUALIFIER>");
                    char *qn = xml_attr(r, "NAME");
                    bool arr;
                    json_t *vals = master_values(r, rend, &arr);
                    const json_t *ov = NULL;
                    json_object_foreach((json_t *)pd, k, v) if (qn && strcasecmp(k, qn) == 0) ov = v;
                    if (qn != NULL && ov == NULL)
                        fail_case(file, line, "class %s: %s lacks qualifier %s", cname, name, qn);
                    else if (qn != NULL && vals != NULL && !arr &&
                             !value_matches(ov, json_string_value(json_array_get(vals, 0))))
                        fail_case(file, line, "class %s: %s.%s differs from the master", cname, name, qn);
                    else if (qn != NULL && vals == NULL && strcasecmp(qn, "key") != 0 && !json_is_null(ov))
                        fail_case(file, line, "class %s: %s.%s is NULL in the master", cname, name, qn);
                    json_decref(vals);
                    free(qn);
                    r = rend ? rend + 1 : pend;
                }
            }
        }
        free(name);
        free(prop);
        free(refc);
        q = pend ? pend + 1 : q + 1;
    }
    if (nmaster != json_object_size(props))
        fail_case(file, line, "class %s: master declares %zu properties, we %zu", cname, nmaster,
                  json_object_size(props));
    free(cname);
    free(sname);
}

/* ====================================================================
 * cases.tsv
 * ==================================================================== */

struct case_ctx {
    json_t *listed; /* file -> true */
    int ok, err, differ;
};

/* The operations as the ops=FILE expectation holds them. */
static json_t *
ops_json(const wmi_mof_result *res)
{
    static const char *const kinds[] = {"", "Qualifier", "PutClass", "PutInstance", "DeleteClass", "DeleteInstance"};
    json_t *arr = json_array();
    for (size_t i = 0; i < wmi_mof_result_count(res); i++) {
        const wmi_mof_op *op = wmi_mof_result_op(res, i);
        json_t *j = json_pack("{s:s,s:s,s:i}", "Operation", kinds[op->kind], "Namespace", op->ns, "Line", op->line);
        if (op->json)
            json_object_set(j, "Object", (json_t *)op->json);
        if (op->target)
            json_object_set_new(j, "Path", json_string(op->target));
        if (op->alias)
            json_object_set_new(j, "Alias", json_string(op->alias));
        if (op->flags)
            json_object_set_new(j, "Flags", json_integer(op->flags));
        json_array_append_new(arr, j);
    }
    if (json_object_size(wmi_mof_result_pragmas(res)) > 0)
        json_array_append_new(arr, json_pack("{s:O}", "Pragmas", wmi_mof_result_pragmas(res)));
    return arr;
}

static void
case_record(char **f, int nf, int line, void *arg)
{
    struct case_ctx *ctx = arg;
    const char *tsv = "cases.tsv";
    if (nf < 4) {
        fail_case(tsv, line, "needs at least 4 fields, has %d", nf);
        return;
    }
    char path[1024];
    snprintf(path, sizeof path, DATA_DIR "%s", f[0]);
    json_object_set_new(ctx->listed, f[0], json_true());
    if (nf >= 5 && strncmp(f[4], "differs", 7) == 0)
        ctx->differ++;

    /* Options. */
    const char *incs[8] = {NULL};
    size_t ninc = 0;
    char nsbuf[256] = "";
    wmi_schema *schema = wmi_schema_new();
    wmi_schema_add_instance_classes(schema, NULL);
    char *opts = strdup(f[1]);
    char incbuf[8][512];
    for (char *save = NULL, *o = strtok_r(opts, ";", &save); o; o = strtok_r(NULL, ";", &save)) {
        if (strcmp(o, "-") == 0)
            continue;
        if (strncmp(o, "ns=", 3) == 0) {
            snprintf(nsbuf, sizeof nsbuf, "%s", o + 3);
        } else if (strncmp(o, "I=", 2) == 0 && ninc < 7) {
            snprintf(incbuf[ninc], sizeof incbuf[ninc], DATA_DIR "%s", o + 2);
            incs[ninc] = incbuf[ninc];
            ninc++;
        } else if (strncmp(o, "prelude=", 8) == 0) {
            char pp[1024];
            wmi_mof_result *pr;
            wmi_error perr;
            struct wmi_mof_options po = {.schema = schema};
            snprintf(pp, sizeof pp, DATA_DIR "%s", o + 8);
            if (WMI_FAILED(wmi_mof_compile(pp, &po, &pr, &perr))) {
                fail_case(tsv, line, "prelude %s: %s at %d: %s", o + 8, status_str(perr.status), perr.line, perr.text);
                continue;
            }
            for (size_t i = 0; i < wmi_mof_result_count(pr); i++) {
                const wmi_mof_op *op = wmi_mof_result_op(pr, i);
                if (op->kind == WMI_MOF_CLASS)
                    wmi_schema_add_class_json(schema, op->json, &perr);
            }
            wmi_mof_result_free(pr);
        } else {
            fail_case(tsv, line, "unknown option %s", o);
        }
    }
    free(opts);
    struct wmi_mof_options mo = {.schema = schema, .include_dirs = incs,
                                 .default_namespace = nsbuf[0] ? nsbuf : NULL};
    wmi_mof_result *res = (wmi_mof_result *)1;
    wmi_error err;
    wmi_status st = wmi_mof_compile(path, &mo, &res, &err);

    if (strcmp(f[2], "OK") == 0) {
        ctx->ok++;
        if (WMI_FAILED(st)) {
            fail_case(tsv, line, "%s: expected OK, got %s at %s:%d:%d: %s", f[0], status_str(st), err.source,
                      err.line, err.column, err.text);
        } else {
            size_t n[5] = {0};
            for (size_t i = 0; i < wmi_mof_result_count(res); i++) {
                wmi_mof_op_kind k = wmi_mof_result_op(res, i)->kind;
                n[k == WMI_MOF_CLASS ? 0 : k == WMI_MOF_INSTANCE ? 1 : k == WMI_MOF_QUALIFIER ? 2 : 3]++;
            }
            char *spec = strdup(f[3]);
            for (char *save = NULL, *w = strtok_r(spec, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
                static const char *const keys[] = {"classes=", "instances=", "qualifiers=", "deletes="};
                bool done = false;
                for (int k = 0; k < 4 && !done; k++) {
                    if (strncmp(w, keys[k], strlen(keys[k])) == 0) {
                        done = true;
                        size_t want = strtoul(w + strlen(keys[k]), NULL, 10);
                        if (want != n[k])
                            fail_case(tsv, line, "%s: %.*s: expected %zu, got %zu", f[0], (int)strlen(keys[k]) - 1,
                                      keys[k], want, n[k]);
                    }
                }
                if (done || strcmp(w, "-") == 0)
                    continue;
                if (strncmp(w, "master=", 7) == 0 || strncmp(w, "ops=", 4) == 0) {
                    char mp[1024];
                    bool is_ops = w[0] == 'o';
                    snprintf(mp, sizeof mp, DATA_DIR "%s", w + (is_ops ? 4 : 7));
                    char *m = slurp(mp, NULL);
                    if (m == NULL) {
                        fail_case(tsv, line, "cannot read %s", mp);
                    } else if (is_ops) {
                        json_error_t jerr;
                        json_t *want = json_loads(m, 0, &jerr);
                        json_t *got = ops_json(res);
                        if (want == NULL) {
                            fail_case(tsv, line, "%s: %s", mp, jerr.text);
                        } else if (!json_equal(want, got)) {
                            char *g = json_dumps(got, JSON_INDENT(1) | JSON_ENSURE_ASCII);
                            fail_case(tsv, line, "%s: operations differ from %s; got:\n%s", f[0], mp, g);
                            free(g);
                        }
                        json_decref(want);
                        json_decref(got);
                    } else if (strstr(m, "<INSTANCE") != NULL) {
                        check_instances_master(tsv, line, m, res);
                    } else {
                        check_class_master(tsv, line, m, res);
                    }
                    free(m);
                    continue;
                }
                fail_case(tsv, line, "unknown expectation %s", w);
            }
            free(spec);
            wmi_mof_result_free(res);
        }
    } else {
        ctx->err++;
        wmi_status want;
        int wline = 0, wcol = 0;
        if (WMI_FAILED(wmi_status_from_name(f[2], &want))) {
            fail_case(tsv, line, "unknown status %s", f[2]);
        } else if (st != want) {
            fail_case(tsv, line, "%s: expected %s, got %s at %d:%d: %s", f[0], f[2], status_str(st), err.line,
                      err.column, WMI_FAILED(st) ? err.text : "");
            if (WMI_SUCCEEDED(st))
                wmi_mof_result_free(res);
        } else {
            sscanf(f[3], "%d:%d", &wline, &wcol);
            if (err.line != wline || (wcol != 0 && err.column != wcol))
                fail_case(tsv, line, "%s: %s at %d:%d, expected at %s: %s", f[0], f[2], err.line, err.column, f[3],
                          err.text);
            if (res != NULL)
                fail_case(tsv, line, "%s: a failed compile returned a result", f[0]);
            if (err.text[0] == '\0' || err.source[0] == '\0')
                fail_case(tsv, line, "%s: the error has no text or source", f[0]);
        }
    }
    wmi_schema_free(schema);
}

static int
for_each_record(const char *file, void (*fn)(char **, int, int, void *), void *arg)
{
    char path[512];
    snprintf(path, sizeof path, DATA_DIR "%s", file);
    char *buf = slurp(path, NULL);
    if (buf == NULL) {
        fail_msg("cannot read %s", path);
        return 0;
    }
    int count = 0, line = 0;
    for (char *p = buf, *next; *p; p = next) {
        char *eol = strchr(p, '\n');
        next = eol ? eol + 1 : p + strlen(p);
        if (eol)
            *eol = '\0';
        line++;
        if (*p == '\0' || *p == '#')
            continue;
        char *fields[8];
        int nf = 0;
        for (char *f = p;;) {
            char *tab = strchr(f, '\t');
            if (nf < 8)
                fields[nf++] = f;
            if (tab == NULL)
                break;
            *tab = '\0';
            f = tab + 1;
        }
        fn(fields, nf, line, arg);
        count++;
    }
    free(buf);
    return count;
}

/* Every .mof under the data dir must be a case. */
static void
check_listed(const char *dir, const char *rel, const json_t *listed)
{
    char path[1024];
    snprintf(path, sizeof path, DATA_DIR "%s", dir);
    DIR *d = opendir(path);
    struct dirent *e;
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char sub[1024];
        snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        char full[2048];
        struct stat sb;
        snprintf(full, sizeof full, "%s/%s", path, e->d_name);
        if (stat(full, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            check_listed(sub, sub, listed);
            continue;
        }
        size_t n = strlen(e->d_name);
        if (n > 4 && strcasecmp(e->d_name + n - 4, ".mof") == 0 && json_object_get(listed, sub) == NULL)
            fail_case("cases.tsv", 0, "%s has no case", sub);
    }
    closedir(d);
}

static void
test_cases_tsv(void **state)
{
    (void)state;
    struct case_ctx ctx = {.listed = json_object()};
    failures = 0;
    int n = for_each_record("cases.tsv", case_record, &ctx);
    check_listed("", "", ctx.listed);
    print_message("cases.tsv: %d files (%d compile, %d fail as expected; %d differ from the peer, with the reason)\n",
                  n, ctx.ok, ctx.err, ctx.differ);
    json_decref(ctx.listed);
    assert_true(n >= 70);
    assert_int_equal(failures, 0);
}

/* ====================================================================
 * C cases
 * ==================================================================== */

static void
test_status_names(void **state)
{
    (void)state;
    for (wmi_status s = 0x80044001u; s <= 0x80044031u; s++) {
        const char *n = wmi_status_name(s);
        assert_non_null(n);
        assert_memory_equal(n, "WBEMMOF_E_", 10);
        wmi_status back;
        assert_int_equal(wmi_status_from_name(n, &back), WBEM_S_NO_ERROR);
        assert_int_equal(back, s);
    }
    assert_string_equal(wmi_status_name(WBEMMOF_E_EXPECTED_SEMI), "WBEMMOF_E_EXPECTED_SEMI");
    assert_int_equal(WBEMMOF_E_UNEXPECTED_ALIAS, 0x8004400Eu);
    assert_int_equal(WBEMMOF_E_MULTIPLE_ALIASES, 0x80044024u);
    assert_int_equal(WBEMMOF_E_INVALID_DELETECLASS_SYNTAX, 0x80044031u);
    assert_null(wmi_status_name(0x80044032u));
}

static void
test_api_edges(void **state)
{
    (void)state;
    wmi_mof_result *r = (wmi_mof_result *)1;
    wmi_error err;
    assert_int_equal(wmi_mof_compile(NULL, NULL, &r, &err), WBEM_E_INVALID_PARAMETER);
    assert_null(r);
    assert_int_equal(wmi_mof_compile("/nonexistent/x.mof", NULL, &r, &err), WBEMMOF_E_INVALID_FILE);
    assert_null(r);
    assert_string_equal(err.source, "/nonexistent/x.mof");
    assert_int_equal(wmi_mof_compile_buffer(NULL, 0, NULL, NULL, &r, NULL), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_mof_result_count(r), 0);
    assert_null(wmi_mof_result_op(r, 0));
    assert_int_equal(json_object_size(wmi_mof_result_pragmas(r)), 0);
    wmi_mof_result_free(r);
    wmi_mof_result_free(NULL);
    assert_int_equal(wmi_mof_result_count(NULL), 0);
    /* Errors name the buffer, line, column and token. */
    assert_int_equal(wmi_mof_compile_buffer("class A {\n  uint32 X\n};", 23, "buf.mof", NULL, &r, &err),
                     WBEMMOF_E_EXPECTED_SEMI);
    assert_string_equal(err.source, "buf.mof");
    assert_int_equal(err.line, 3);
    assert_int_equal(err.column, 1);
    assert_non_null(strstr(err.text, "\"}\""));
    /* The default namespace, and a bad one. */
    struct wmi_mof_options o = {.default_namespace = "\\\\.\\ROOT\\x"};
    assert_int_equal(wmi_mof_compile_buffer("class A { };", 12, NULL, &o, &r, &err), WBEM_S_NO_ERROR);
    assert_string_equal(wmi_mof_result_op(r, 0)->ns, "ROOT\\x");
    assert_string_equal(wmi_mof_result_op(r, 0)->source, "<buffer>");
    wmi_mof_result_free(r);
    o.default_namespace = "root\\\\x";
    assert_int_equal(wmi_mof_compile_buffer("", 0, NULL, &o, &r, &err), WBEMMOF_E_INVALID_NAMESPACE_SPECIFICATION);
    /* A text that is not NUL-terminated. */
    char text[] = {'c', 'l', 'a', 's', 's', ' ', 'B', '{', '}', ';', '"'};
    assert_int_equal(wmi_mof_compile_buffer(text, 10, NULL, NULL, &r, &err), WBEM_S_NO_ERROR);
    wmi_mof_result_free(r);
}

static void
test_syntax_errors(void **state)
{
    (void)state;
    expect_error("class A { uint32 X }", WBEMMOF_E_EXPECTED_SEMI, 1);
    expect_error("class A { uint32 X; }", WBEMMOF_E_EXPECTED_SEMI, 1);
    expect_error("class A uint32 X; };", WBEMMOF_E_EXPECTED_OPEN_BRACE, 1);
    expect_error("class A {\n uint32 X;\n", WBEMMOF_E_EXPECTED_CLOSE_BRACE, 3);
    expect_error("[key class A { };", WBEMMOF_E_EXPECTED_CLOSE_BRACKET, 1);
    expect_error("[Description(\"x\" class A { };", WBEMMOF_E_EXPECTED_CLOSE_PAREN, 1);
    expect_error("[1] class A { };", WBEMMOF_E_EXPECTED_QUALIFIER_NAME, 1);
    expect_error("class { };", WBEMMOF_E_EXPECTED_CLASS_NAME, 1);
    expect_error("class A { uint33 X; };", WBEMMOF_E_UNRECOGNIZED_TYPE, 1);
    expect_error("class A { uint32 ; };", WBEMMOF_E_EXPECTED_PROPERTY_NAME, 1);
    expect_error("class A { 5 X; };", WBEMMOF_E_EXPECTED_BRACE_OR_BAD_TYPE, 1);
    expect_error("class A { uint32 X; string x; };", WBEMMOF_E_DUPLICATE_PROPERTY, 1);
    expect_error("class A { uint32 X = {1}; };", WBEMMOF_E_UNEXPECTED_ARRAY_INIT, 1);
    expect_error("class A { uint32 X[] = {1, NULL}; };", WBEMMOF_E_NULL_ARRAY_ELEM, 1);
    expect_error("class A { uint32 X[] = {{1}}; };", WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, 1);
    expect_error("class A { uint32 X = $a; };", WBEMMOF_E_UNEXPECTED_ALIAS, 1);
    expect_error("class A { uint32 X = 99999999999999999999; };", WBEMMOF_E_OUT_OF_RANGE, 1);
    expect_error("class A { sint64 X = -9223372036854775809; };", WBEMMOF_E_OUT_OF_RANGE, 1);
    expect_error("class A { uint32 X = 09; };", WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, 1);
    expect_error("class A { uint32 X = 102b; };", WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, 1);
    expect_error("class A { uint32 X = 12abc; };", WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, 1);
    expect_error("class A { string X = \"a\\qb\"; };", WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, 1);
    expect_error("class A { string X = \"a\\x\"; };", WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, 1);
    expect_error("class A { string X = \"\\x0\"; };", WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, 1);
    expect_error("class A { string X = \"\\xD800\"; };", WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, 1);
    expect_error("class A { string X = \"\\xDC00\"; };", WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, 1);
    expect_error("class A { char16 X = 'ab'; };", WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, 1);
    expect_error("class A { string X = \"open\n\"; };", WBEMMOF_E_UNRECOGNIZED_TOKEN, 1);
    expect_error("/* open", WBEMMOF_E_UNRECOGNIZED_TOKEN, 1);
    expect_error("class A { };\n@", WBEMMOF_E_UNRECOGNIZED_TOKEN, 2);
    expect_error("banana", WBEMMOF_E_UNRECOGNIZED_TOKEN, 1);
    expect_error("typedef uint32 X;", WBEMMOF_E_TYPEDEF_NOT_SUPPORTED, 1);
    expect_error("[key] qualifier X : boolean;", WBEMMOF_E_INVALID_CLASS_DECLARATION, 1);
    expect_error("class A as $x { };", WBEMMOF_E_UNEXPECTED_ALIAS, 1);
    expect_error("class A { }; instance A { };", WBEMMOF_E_INVALID_INSTANCE_DECLARATION, 1);
    expect_error("class A { }; instance of { };", WBEMMOF_E_EXPECTED_CLASS_NAME, 1);
    expect_error("class A { }; instance of A as x { };", WBEMMOF_E_EXPECTED_DOLLAR, 1);
    expect_error("class A { }; instance of A as $ { };", WBEMMOF_E_EXPECTED_ALIAS_NAME, 1);
    expect_error("class A { [key] string K; };\ninstance of A as $x { K = \"1\"; };\ninstance of A as $X { K = \"2\"; };",
                 WBEMMOF_E_MULTIPLE_ALIASES, 3);
    expect_error("class A { uint32 X; }; instance of A { X = 1; X = 2; };", WBEMMOF_E_DUPLICATE_PROPERTY, 1);
    expect_error("class A { uint32 X; }; instance of A { X = 1 };", WBEMMOF_E_EXPECTED_SEMI, 1);
    expect_error("class A { uint32 X; }; instance of A { X 1; };", WBEMMOF_E_EXPECTED_SEMI, 1);
    expect_error("class A { uint32 X; }; instance of A { X = $y; };", WBEMMOF_E_UNEXPECTED_ALIAS, 1);
    expect_error("class A { [key] string K; A ref R; object O; };\n"
                 "instance of A as $a { K = \"a\"; };\n"
                 "instance of A { K = \"b\"; O = instance of A { K = \"c\"; R = $a; }; };",
                 WBEMMOF_E_ALIASES_IN_EMBEDDED, 3);
    expect_error("class A { object O; }; instance of A { O = instance of A as $e { }; };",
                 WBEMMOF_E_ALIASES_IN_EMBEDDED, 1);
    expect_error("class A { [Key : Restricted ToSubclass] string K; };", WBEMMOF_E_INCOMPATIBLE_FLAVOR_TYPES, 1);
    expect_error("class A { [Key : Sticky] string K; };", WBEMMOF_E_EXPECTED_FLAVOR_TYPE, 1);
    expect_error("class A { [Key, key] string K; };", WBEMMOF_E_DUPLICATE_QUALIFIER, 1);
    expect_error("class A { uint32 M() []; };", WBEMMOF_E_NO_ARRAYS_RETURNED, 1);
    expect_error("class A { [CIMTYPE(\"object:A\")] string S; };", WBEMMOF_E_CIMTYPE_QUALIFIER, 1);
    expect_error("qualifier Q : boolean, Scope(property);\n[Q] class A { };", WBEMMOF_E_QUALIFIER_USED_OUTSIDE_SCOPE, 2);
    expect_error("qualifier Q : string;\nclass A { [Q(1)] string S; };", WBEMMOF_E_TYPE_MISMATCH, 2);
    expect_error("qualifier Q : string[];\nclass A { [Q{\"a\", 2}] string S; };", WBEMMOF_E_TYPE_MISMATCH, 2);
    expect_error("qualifier Q : uint32 = \"x\";", WBEMMOF_E_TYPE_MISMATCH, 1);
    expect_error("qualifier Q boolean;", WBEMMOF_E_INVALID_QUALIFIER_SYNTAX, 1);
    expect_error("qualifier Q : bool;", WBEMMOF_E_UNRECOGNIZED_TYPE, 1);
    /* Pragmas. */
    expect_error("#pragma junk(\"x\")", WBEMMOF_E_INVALID_PRAGMA, 1);
    expect_error("#include(\"x\")", WBEMMOF_E_INVALID_PRAGMA, 1);
    expect_error("#pragma namespace(\"\")", WBEMMOF_E_INVALID_NAMESPACE_SPECIFICATION, 1);
    expect_error("#pragma namespace(\"root\\\\a b\")", WBEMMOF_E_INVALID_NAMESPACE_SPECIFICATION, 1);
    expect_error("#pragma namespace(\"\\\\\\\\\")", WBEMMOF_E_INVALID_NAMESPACE_SPECIFICATION, 1);
    expect_error("#pragma namespace(root)", WBEMMOF_E_INVALID_NAMESPACE_SYNTAX, 1);
    expect_error("#pragma classflags(\"sometimes\")", WBEMMOF_E_INVALID_FLAGS_SYNTAX, 1);
    expect_error("#pragma classflags(\"createonly\", \"updateonly\")", WBEMMOF_E_INVALID_FLAGS_SYNTAX, 1);
    expect_error("#pragma instanceflags(\"safeupdate\")", WBEMMOF_E_INVALID_FLAGS_SYNTAX, 1);
    expect_error("#pragma deleteinstance(\"Not a path=\", FAIL)", WBEMMOF_E_INVALID_DELETEINSTANCE_SYNTAX, 1);
    expect_error("#pragma deleteinstance(\"A.K=1\")", WBEMMOF_E_INVALID_DELETEINSTANCE_SYNTAX, 1);
    expect_error("#pragma deleteclass(\"A\", MAYBE)", WBEMMOF_E_INVALID_DELETECLASS_SYNTAX, 1);
    expect_error("#pragma deleteclass(\"A.B\", FAIL)", WBEMMOF_E_INVALID_DELETECLASS_SYNTAX, 1);
    expect_error("#pragma amendment(\"MS_409\")\n#pragma amendment(\"MS_407\")", WBEMMOF_E_INVALID_DUPLICATE_AMENDMENT, 2);
    expect_error("#pragma amendment(409)", WBEMMOF_E_INVALID_AMENDMENT_SYNTAX, 1);
    expect_error("#pragma include(\"no-such-file.mof\")", WBEMMOF_E_ERROR_INVALID_INCLUDE_FILE, 1);
    /* Schema checks (mofcomp's storing phase: WBEM_E_*). */
    expect_error("instance of Nope { };", WBEM_E_NOT_FOUND, 1);
    expect_error("class A { };\ninstance of A { Nope = 1; };", WBEM_E_NOT_FOUND, 2);
    expect_error("class A : Nope { };", WBEM_E_INVALID_SUPERCLASS, 1);
    expect_error("class A {\n uint8 X = 300;\n};", WBEM_E_TYPE_MISMATCH, 2);
    expect_error("class A { uint8 X; };\ninstance of A {\n X = \"s\";\n};", WBEM_E_TYPE_MISMATCH, 3);
    expect_error("class A { uint8 X[]; };\ninstance of A {\n X = 1;\n};", WBEM_E_TYPE_MISMATCH, 3);
    expect_error("[abstract] class A { };\ninstance of A { };", WBEM_E_INVALID_CLASS, 2);
    expect_error("class A { [key] string K; };\ninstance of A { };", WBEM_E_NO_KEY, 2);
    expect_error("class A { [key] real32 K; };", WBEM_E_CANNOT_BE_KEY, 1);
    expect_error("class A { [key] string K; A ref R; };\ninstance of A { K = \"x\"; R = $nope; };",
                 WBEM_E_NOT_FOUND, 2);
    expect_error("class A { [key] A ref K; };\ninstance of A as $a { K = $b; };\ninstance of A as $b { K = $a; };",
                 WBEM_E_CIRCULAR_REFERENCE, 3);
    expect_error("class A { [key] A ref K; };\ninstance of A as $a { K = $a; };", WBEM_E_CIRCULAR_REFERENCE, 2);
    expect_error("class A { uint32 X; A ref R; };\ninstance of A as $a { };\ninstance of A { R = $a; };",
                 WBEM_E_INVALID_OBJECT_PATH, 3);
    expect_error("#pragma namespace(\"root\\\\other\")\ninstance of __EventFilter { Name = 1; };", WBEM_E_TYPE_MISMATCH, 2);
}

static void
test_aliases_ok(void **state)
{
    (void)state;
    /* Non-key references may form cycles; aliases are case-insensitive. */
    wmi_mof_result *r = expect_ok("class N { [key] string K; N ref Next; };\n"
                                  "instance of N as $a { K = \"a\"; Next = $B; };\n"
                                  "instance of N as $b { K = \"b\"; Next = $A; };\n");
    assert_int_equal(wmi_mof_result_count(r), 3);
    assert_string_equal(json_string_value(json_object_get(wmi_mof_result_op(r, 1)->json, "Next")), "N.K=\"b\"");
    assert_string_equal(json_string_value(json_object_get(wmi_mof_result_op(r, 2)->json, "Next")), "N.K=\"a\"");
    assert_string_equal(wmi_mof_result_op(r, 1)->alias, "a");
    wmi_mof_result_free(r);
    /* Keywords in any case; pragmas too; a class redefinition is an update. */
    r = expect_ok("#PRAGMA NAMESPACE(\"\\\\\\\\.\\\\ROOT\\\\Subscription\")\nCLASS A { [KEY] STRING K; };\n"
                  "class A { [key] string K; };\nINSTANCE OF A { K = \"x\"; };\n#Pragma AutoRecover\n");
    assert_int_equal(wmi_mof_result_count(r), 3);
    assert_string_equal(wmi_mof_result_op(r, 0)->ns, "ROOT\\Subscription");
    assert_true(json_is_true(json_object_get(wmi_mof_result_pragmas(r), "autorecover")));
    wmi_mof_result_free(r);
    /* Relative namespaces nest under the current one. */
    r = expect_ok("#pragma namespace(\"a\")\nclass A { };\n#pragma namespace(\"//./root/b/c/\")\nclass B { };");
    assert_string_equal(wmi_mof_result_op(r, 0)->ns, "root\\default\\a");
    assert_string_equal(wmi_mof_result_op(r, 1)->ns, "root\\b\\c");
    wmi_mof_result_free(r);
    /* Class names are per namespace. */
    r = expect_ok("class A { uint32 X; };\n#pragma namespace(\"root\\\\other\")\nclass A { string X; };\n"
                  "instance of A { X = \"s\"; };");
    wmi_mof_result_free(r);
}

static char tmpdir[256];

static void
write_file(const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
test_includes(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_mof.%d", (int)getpid());
    assert_int_equal(mkdir(tmpdir, 0700), 0);
    char sub[300], p[512];
    snprintf(sub, sizeof sub, "%s/inc", tmpdir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_file("self.mof", "#pragma include(\"self.mof\")\n");
    write_file("a.mof", "class A { };\n#pragma include (\"b.mof\")\n");
    write_file("b.mof", "\n#pragma include(\"a.mof\")\n");
    write_file("inc/lib.mof", "class Lib { [key] string K; };\n");
    write_file("main.mof", "#pragma include(\"lib.mof\")\ninstance of Lib { K = \"k\"; };\n");
    write_file("bad.mof", "class Lib2 { };\n#pragma include(\"inc/broken.mof\")\n");
    write_file("inc/broken.mof", "\n\nclass {\n");
    wmi_mof_result *r = (wmi_mof_result *)1;
    wmi_error err;
    snprintf(p, sizeof p, "%s/self.mof", tmpdir);
    assert_int_equal(wmi_mof_compile(p, NULL, &r, &err), WBEMMOF_E_ERROR_INVALID_INCLUDE_FILE);
    snprintf(p, sizeof p, "%s/a.mof", tmpdir);
    assert_int_equal(wmi_mof_compile(p, NULL, &r, &err), WBEMMOF_E_ERROR_INVALID_INCLUDE_FILE);
    assert_non_null(strstr(err.source, "b.mof"));
    assert_int_equal(err.line, 2);
    /* -I directories. */
    snprintf(p, sizeof p, "%s/main.mof", tmpdir);
    assert_int_equal(wmi_mof_compile(p, NULL, &r, &err), WBEMMOF_E_ERROR_INVALID_INCLUDE_FILE);
    const char *dirs[] = {"/nonexistent", sub, NULL};
    struct wmi_mof_options o = {.include_dirs = dirs};
    assert_int_equal(wmi_mof_compile(p, &o, &r, &err), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_mof_result_count(r), 2);
    assert_non_null(strstr(wmi_mof_result_op(r, 0)->source, "inc/lib.mof"));
    assert_int_equal(wmi_mof_result_op(r, 1)->line, 2);
    wmi_mof_result_free(r);
    /* An error in an included file names that file; nothing is kept. */
    snprintf(p, sizeof p, "%s/bad.mof", tmpdir);
    r = (wmi_mof_result *)1;
    assert_int_equal(wmi_mof_compile(p, NULL, &r, &err), WBEMMOF_E_EXPECTED_CLASS_NAME);
    assert_null(r);
    assert_non_null(strstr(err.source, "broken.mof"));
    assert_int_equal(err.line, 3);
    /* A directory is not a MOF file. */
    assert_int_equal(wmi_mof_compile(tmpdir, NULL, &r, &err), WBEMMOF_E_INVALID_FILE);
    const char *names[] = {"self.mof", "a.mof", "b.mof", "inc/lib.mof", "main.mof", "bad.mof", "inc/broken.mof"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", tmpdir, names[i]);
        unlink(p);
    }
    rmdir(sub);
    rmdir(tmpdir);
}

/* A schema passed in opts: instance checks use its classes. */
static void
test_base_schema(void **state)
{
    (void)state;
    wmi_schema *s = wmi_schema_new();
    json_t *def = json_loads("{\"__CLASS\":\"Mine\",\"__PROPERTIES\":{\"K\":{\"CIMType\":\"string\",\"Key\":true}}}", 0, NULL);
    assert_int_equal(wmi_schema_add_class_json(s, def, NULL), WBEM_S_NO_ERROR);
    json_decref(def);
    struct wmi_mof_options o = {.schema = s};
    wmi_mof_result *r;
    wmi_error err;
    const char *text = "instance of Mine { K = \"x\"; };\nclass Sub : Mine { uint32 N; };\ninstance of Sub { K = \"y\"; N = 1; };";
    assert_int_equal(wmi_mof_compile_buffer(text, strlen(text), NULL, &o, &r, &err), WBEM_S_NO_ERROR);
    assert_int_equal(wmi_mof_result_count(r), 3);
    assert_string_equal(wmi_mof_result_op(r, 2)->target, "Sub.K=\"y\"");
    wmi_mof_result_free(r);
    /* The base schema is not changed. */
    assert_null(wmi_schema_get_class(s, "Sub"));
    /* Without the base schema the class is unknown; Win32_Process is known by default. */
    assert_int_equal(wmi_mof_compile_buffer(text, strlen(text), NULL, NULL, &r, &err), WBEM_E_NOT_FOUND);
    wmi_schema_free(s);
    r = expect_ok("#pragma namespace(\"root\\\\cimv2\")\ninstance of Win32_Process { Handle = \"1\"; Name = \"init\"; };");
    wmi_mof_result_free(r);
}

/* Every prefix of a valid file fails cleanly or compiles; random bytes never crash. */
static void
test_truncations_and_noise(void **state)
{
    (void)state;
    size_t len;
    char *text = slurp(DATA_DIR "cases/classes.mof", &len);
    assert_non_null(text);
    for (size_t n = 0; n <= len; n++) {
        wmi_mof_result *r;
        wmi_error err;
        wmi_status st = wmi_mof_compile_buffer(text, n, "cut.mof", NULL, &r, &err);
        if (WMI_SUCCEEDED(st))
            wmi_mof_result_free(r);
        else
            assert_true(err.line >= 0 && err.text[0] != '\0');
    }
    srand(42);
    for (int i = 0; i < 2000; i++) {
        char buf[64];
        size_t n = (size_t)(rand() % 64);
        for (size_t k = 0; k < n; k++)
            buf[k] = "class instance of as $a { } [ ] ( ) ; , : = \" ' \\ 0x1 1.5 // /* */ #pragma\n\x01\xff"[rand() % 60];
        wmi_mof_result *r;
        if (WMI_SUCCEEDED(wmi_mof_compile_buffer(buf, n, NULL, NULL, &r, NULL)))
            wmi_mof_result_free(r);
    }
    free(text);
}

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Limits: nesting is bounded, big inputs stay linear. */
static void
test_limits(void **state)
{
    (void)state;
    /* Embedded instances nested past WMI_MAX_OBJECT_NESTING. */
    size_t depth = 200;
    char *deep = malloc(depth * 40 + 200);
    strcpy(deep, "class E { object O; };\ninstance of E { O = ");
    for (size_t i = 0; i < depth; i++)
        strcat(deep, "instance of E { O = ");
    strcat(deep, "NULL;");
    for (size_t i = 0; i < depth; i++)
        strcat(deep, " };");
    strcat(deep, " };");
    expect_error(deep, WBEMMOF_E_INVALID_INSTANCE_DECLARATION, 2);
    free(deep);
    /* A chain of key references longer than the alias depth limit, and
     * paths that would double in length at every step. */
    {
        size_t n = 40, cap = n * 80 + 100;
        char *t = malloc(cap);
        size_t off = (size_t)snprintf(t, cap, "class K { [key] K ref P; };\ninstance of K as $a0 { P = \"K.P=\\\"x\\\"\"; };\n");
        for (size_t i = 1; i < n; i++)
            off += (size_t)snprintf(t + off, cap - off, "instance of K as $a%zu { P = $a%zu; };\n", i, i - 1);
        wmi_mof_result *r = (wmi_mof_result *)1;
        wmi_error err;
        wmi_status st = compile_str(t, &r, &err);
        assert_true(st == WBEM_E_INVALID_OBJECT_PATH || st == WBEM_E_CIRCULAR_REFERENCE);
        assert_null(r);
        free(t);
    }
    /* 20000 instances with aliases, references among them: linear. */
    size_t n = 20000, cap = n * 120 + 200;
    char *big = malloc(cap);
    size_t off = (size_t)snprintf(big, cap, "class B { [key] uint32 Id; B ref Prev; string S = \"x\" \"y\"; };\n");
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(big + off, cap - off, "instance of B as $b%zu { Id = %zu; Prev = $b%zu; };\n", i, i,
                                i ? i - 1 : n - 1);
    double t0 = now();
    wmi_mof_result *r;
    wmi_error err;
    assert_int_equal(wmi_mof_compile_buffer(big, off, NULL, NULL, &r, &err), WBEM_S_NO_ERROR);
    double t1 = now();
    assert_int_equal(wmi_mof_result_count(r), n + 1);
    assert_string_equal(json_string_value(json_object_get(wmi_mof_result_op(r, 1)->json, "Prev")), "B.Id=19999");
    wmi_mof_result_free(r);
    print_message("20000 instances with aliases: %.3f s\n", t1 - t0);
    assert_true(t1 - t0 < 10.0);
    free(big);
    /* A class with 20000 properties, one long string of 100000 parts. */
    cap = 20000 * 30 + 100;
    big = malloc(cap);
    off = (size_t)snprintf(big, cap, "class W {\n");
    for (size_t i = 0; i < 20000; i++)
        off += (size_t)snprintf(big + off, cap - off, "uint32 P%zu;\n", i);
    off += (size_t)snprintf(big + off, cap - off, "};\n");
    t0 = now();
    assert_int_equal(wmi_mof_compile_buffer(big, off, NULL, NULL, &r, &err), WBEM_S_NO_ERROR);
    wmi_mof_result_free(r);
    free(big);
    cap = 100000 * 4 + 100;
    big = malloc(cap);
    off = (size_t)snprintf(big, cap, "class S { string X = ");
    for (size_t i = 0; i < 100000; i++)
        off += (size_t)snprintf(big + off, cap - off, "\"a\" ");
    off += (size_t)snprintf(big + off, cap - off, "; };");
    assert_int_equal(wmi_mof_compile_buffer(big, off, NULL, NULL, &r, &err), WBEM_S_NO_ERROR);
    assert_int_equal(strlen(json_string_value(
                         json_object_get(json_object_get(json_object_get(wmi_mof_result_op(r, 0)->json, "__PROPERTIES"), "X"),
                                         "Default"))),
                     100000);
    wmi_mof_result_free(r);
    t1 = now();
    print_message("20000 properties and a 100000-part string: %.3f s\n", t1 - t0);
    assert_true(t1 - t0 < 10.0);
    free(big);
}

/* Bad bytes: NUL, bad UTF-8 in strings, malformed UTF-16. */
static void
test_bad_bytes(void **state)
{
    (void)state;
    wmi_mof_result *r;
    wmi_error err;
    assert_int_equal(wmi_mof_compile_buffer("class A {\0};", 12, NULL, NULL, &r, &err), WBEMMOF_E_UNRECOGNIZED_TOKEN);
    assert_int_equal(wmi_mof_compile_buffer("class A { string S = \"\xff\"; };", 28, NULL, NULL, &r, &err),
                     WBEMMOF_E_ILLEGAL_CONSTANT_VALUE);
    assert_int_equal(wmi_mof_compile_buffer("\xff\xfe" "c\0l", 5, NULL, NULL, &r, &err), WBEMMOF_E_INVALID_FILE);
    assert_int_equal(wmi_mof_compile_buffer("\xff\xfe\x00\xd8x\x00", 6, NULL, NULL, &r, &err), WBEMMOF_E_INVALID_FILE);
    /* UTF-8 byte order mark, UTF-16BE. */
    assert_int_equal(wmi_mof_compile_buffer("\xef\xbb\xbf" "class A { };", 15, NULL, NULL, &r, &err), WBEM_S_NO_ERROR);
    wmi_mof_result_free(r);
    const char be[] = "\xfe\xff\0c\0l\0a\0s\0s\0 \0B\0{\0}\0;";
    assert_int_equal(wmi_mof_compile_buffer(be, sizeof be - 1, NULL, NULL, &r, &err), WBEM_S_NO_ERROR);
    assert_string_equal(json_string_value(json_object_get(wmi_mof_result_op(r, 0)->json, "__CLASS")), "B");
    wmi_mof_result_free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases_tsv),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_api_edges),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_aliases_ok),
        cmocka_unit_test(test_includes),
        cmocka_unit_test(test_base_schema),
        cmocka_unit_test(test_truncations_and_noise),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_bad_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
