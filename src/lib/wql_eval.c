/*
 * wql_eval.c - WQL condition evaluation and LIKE matching.
 *
 * The hot path of the daemon: every event is tested against every filter.
 * Literals were resolved and LIKE patterns compiled when the query was
 * parsed, so nothing here allocates, converts a literal or re-reads the
 * query text.
 */
#include "lib/wql_internal.h"

#include "lib/datetime.h"
#include "lib/object_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ====================================================================
 * LIKE
 * ==================================================================== */

bool
wmi__wql_like_compile(const char *pattern, size_t len, wql_like *out)
{
    memset(out, 0, sizeof *out);
    const unsigned char *u = (const unsigned char *)pattern;
    /* at most one item and one range per byte, plus one */
    size_t cap = len + 1;
    void *block = malloc(cap * (sizeof(wql_like_item) + sizeof(wql_like_range)));
    if (block == NULL)
        return false;
    out->items = block;
    out->ranges = (wql_like_range *)(void *)((char *)block + cap * sizeof(wql_like_item));
    size_t i = 0;
    /* Once a '[' finds no closing ']' before the end, no later '[' can
     * (any ']' after it would have closed the first), so they are not
     * scanned again: compiling stays linear on patterns full of '['. */
    bool no_close = false;
    while (i < len) {
        size_t l;
        uint32_t c = wmi__wql_utf8_decode(u + i, len - i, &l);
        wql_like_item *it = &out->items[out->nitems];
        memset(it, 0, sizeof *it);
        if (c == '%') {
            i += l;
            if (out->nitems > 0 && out->items[out->nitems - 1].kind == WQL_LIKE_ANY)
                continue;
            it->kind = WQL_LIKE_ANY;
            out->nitems++;
            continue;
        }
        if (c == '_') {
            it->kind = WQL_LIKE_ONE;
            out->nitems++;
            i += l;
            continue;
        }
        if (c == '[' && !no_close) {
            size_t j = i + 1;
            bool neg = false;
            if (j < len && u[j] == '^') {
                neg = true;
                j++;
            }
            size_t first = out->nranges;
            bool closed = false, first_member = true;
            while (j < len) {
                size_t l2;
                uint32_t lo = wmi__wql_utf8_decode(u + j, len - j, &l2);
                if (lo == ']' && !first_member) {
                    j += l2;
                    closed = true;
                    break;
                }
                first_member = false;
                j += l2;
                uint32_t hi = lo;
                if (j + 1 < len && u[j] == '-' && u[j + 1] != ']') {
                    size_t l3;
                    hi = wmi__wql_utf8_decode(u + j + 1, len - j - 1, &l3);
                    j += 1 + l3;
                }
                if (lo > hi) {
                    uint32_t t = lo;
                    lo = hi;
                    hi = t;
                }
                out->ranges[out->nranges].lo = lo;
                out->ranges[out->nranges].hi = hi;
                out->nranges++;
            }
            if (closed) {
                it->kind = WQL_LIKE_SET;
                it->negated = neg;
                it->first = (uint32_t)first;
                it->nranges = (uint32_t)(out->nranges - first);
                out->nitems++;
                i = j;
                continue;
            }
            /* no closing bracket: the '[' is an ordinary character */
            out->nranges = first;
            no_close = true;
        }
        it->kind = WQL_LIKE_CHAR;
        it->cp = wmi__wql_fold(c);
        out->nitems++;
        i += l;
    }
    return true;
}

void
wmi__wql_like_free(wql_like *like)
{
    if (like == NULL)
        return;
    free(like->items);   /* ranges share the block */
    memset(like, 0, sizeof *like);
}

static bool
set_has(const wql_like *like, const wql_like_item *it, uint32_t c)
{
    uint32_t fc = wmi__wql_fold(c);
    const wql_like_range *r = like->ranges + it->first;
    bool in = false;
    for (uint32_t k = 0; k < it->nranges; k++) {
        if ((c >= r[k].lo && c <= r[k].hi) ||
            (fc >= wmi__wql_fold(r[k].lo) && fc <= wmi__wql_fold(r[k].hi))) {
            in = true;
            break;
        }
    }
    return in != (it->negated != 0);
}

static bool
item_matches(const wql_like *like, const wql_like_item *it, uint32_t c)
{
    switch (it->kind) {
    case WQL_LIKE_CHAR: return wmi__wql_fold(c) == it->cp;
    case WQL_LIKE_ONE: return true;
    case WQL_LIKE_SET: return set_has(like, it, c);
    default: return false;
    }
}

static inline uint32_t
next_cp(const unsigned char *s, size_t n, size_t *len)
{
    if (s[0] < 0x80) {
        *len = 1;
        return s[0];
    }
    return wmi__wql_utf8_decode(s, n, len);
}

/*
 * Every item but % consumes exactly one character, so the classic
 * single-backtrack-point wildcard algorithm is exact: on a mismatch,
 * resume after the last % one character further on.  Nothing recurses.
 * Each restart moves the resume point one character on and walks each
 * item at most once, so the work is at most (subject characters + 1) *
 * (pattern items + ranges), O(pattern x subject); OMI's pathological
 * "a%a%a%...%b" against a run of a's costs a few thousand steps.
 * @steps is NULL on the hot path (the inlined check folds away).
 */
static inline bool
like_run(const wql_like *like, const char *subject, size_t len, uint64_t *steps)
{
    const unsigned char *s = (const unsigned char *)subject;
    const wql_like_item *items = like->items;
    size_t n = like->nitems;
    size_t i = 0, p = 0;
    size_t star_i = SIZE_MAX, star_p = 0;
    while (p < len) {
        if (i < n && items[i].kind == WQL_LIKE_ANY) {
            star_i = ++i;
            star_p = p;
            continue;
        }
        size_t l;
        uint32_t c = next_cp(s + p, len - p, &l);
        if (steps != NULL && i < n)
            *steps += 1 + (items[i].kind == WQL_LIKE_SET ? items[i].nranges : 0);
        if (i < n && item_matches(like, &items[i], c)) {
            i++;
            p += l;
            continue;
        }
        if (star_i == SIZE_MAX)
            return false;
        size_t sl;
        (void)next_cp(s + star_p, len - star_p, &sl);
        star_p += sl;
        p = star_p;
        i = star_i;
    }
    while (i < n && items[i].kind == WQL_LIKE_ANY)
        i++;
    return i == n;
}

bool
wmi__wql_like_exec(const wql_like *like, const char *subject, size_t len)
{
    return like_run(like, subject, len, NULL);
}

bool
wmi__wql_like_exec_counted(const wql_like *like, const char *subject, size_t len, uint64_t *steps)
{
    uint64_t dummy = 0;
    return like_run(like, subject, len, steps != NULL ? steps : &dummy);
}

bool
wmi_like_match(const char *pattern, const char *subject)
{
    if (pattern == NULL || subject == NULL)
        return false;
    wql_like like;
    if (!wmi__wql_like_compile(pattern, strlen(pattern), &like))
        return false;
    bool r = wmi__wql_like_exec(&like, subject, strlen(subject));
    wmi__wql_like_free(&like);
    return r;
}

/* ====================================================================
 * DMTF datetimes
 * ==================================================================== */

/*
 * The WQL view of the one DMTF reader (datetime.c): a condition compares
 * exactly what the object loader accepted, day rolls and all.
 */
bool
wmi__wql_dmtf_parse(const char *s, size_t n, wql_dt *out)
{
    static const wql_dt_kind kinds[] = {[WMI__DMTF_NONE] = WQL_DT_NONE,
                                        [WMI__DMTF_ABS] = WQL_DT_ABS,
                                        [WMI__DMTF_INTERVAL] = WQL_DT_INTERVAL,
                                        [WMI__DMTF_WILD] = WQL_DT_WILD};
    wmi__dmtf d;
    bool ok = wmi__dmtf_read(s, n, &d);
    out->kind = kinds[d.kind];
    out->usec = d.usec;
    return ok;
}

/* Read 1 to @max digits at @s[*@i]; -1 when there are none. */
static int64_t
read_digits(const char *s, size_t n, size_t *i, size_t min, size_t max)
{
    size_t k = 0;
    int64_t v = 0;
    while (*i < n && k < max && s[*i] >= '0' && s[*i] <= '9') {
        v = v * 10 + (s[(*i)++] - '0');
        k++;
    }
    return k >= min ? v : -1;
}

/* A locale-free datetime constant, field by field, as it is read. */
struct dt_fields {
    int64_t y, mo, d;     /* the date */
    int64_t h, mi, se;    /* the time of day, 0 when not given */
    int64_t us;           /* microseconds, 0 when not given */
    bool zoned;           /* "Z" or an offset was given */
    int64_t offset;       /* the offset east of UTC, in seconds */
};

/* The date at @s: yyyymmdd, or yyyy-mm-dd / yyyy/mm/dd with 1- or 2-digit
 * month and day; *@i is left after it.  False when it is none, or names
 * no day of the calendar. */
static bool
read_date(const char *s, size_t n, size_t *i, struct dt_fields *f)
{
    if (n >= 8 && wmi__dmtf_field(s, 8) >= 0) {
        f->y = wmi__dmtf_field(s, 4);
        f->mo = wmi__dmtf_field(s + 4, 2);
        f->d = wmi__dmtf_field(s + 6, 2);
        *i = 8;
    } else {
        f->y = read_digits(s, n, i, 4, 4);
        if (f->y < 0 || *i >= n || (s[*i] != '-' && s[*i] != '/'))
            return false;
        char sep = s[(*i)++];
        f->mo = read_digits(s, n, i, 1, 2);
        if (f->mo < 0 || *i >= n || s[*i] != sep)
            return false;
        (*i)++;
        f->d = read_digits(s, n, i, 1, 2);
        if (f->d < 0)
            return false;
    }
    return f->y >= 1 && f->mo >= 1 && f->mo <= 12 && f->d >= 1 && f->d <= wmi__days_in_month(f->y, (int)f->mo);
}

/* The time of day after the date, when there is one: a blank or 'T', then
 * hh:mm[:ss[.ffffff]].  False when it is there but malformed. */
static bool
read_time(const char *s, size_t n, size_t *i, struct dt_fields *f)
{
    if (*i >= n || (s[*i] != ' ' && s[*i] != 'T'))
        return true;
    (*i)++;
    f->h = read_digits(s, n, i, 1, 2);
    if (f->h < 0 || f->h > 23 || *i >= n || s[*i] != ':')
        return false;
    (*i)++;
    f->mi = read_digits(s, n, i, 2, 2);
    if (f->mi < 0 || f->mi > 59)
        return false;
    if (*i >= n || s[*i] != ':')
        return true;
    (*i)++;
    f->se = read_digits(s, n, i, 2, 2);
    if (f->se < 0 || f->se > 59)
        return false;
    if (*i >= n || s[*i] != '.')
        return true;
    (*i)++;
    size_t start = *i;
    f->us = read_digits(s, n, i, 1, 6);
    if (f->us < 0)
        return false;
    /* Fewer than six digits are a fraction of a second, not microseconds. */
    for (size_t k = *i - start; k < 6; k++)
        f->us *= 10;
    return true;
}

/* The zone, when there is one: "Z", or +hh:mm / -hh:mm.  False when it is
 * there but malformed. */
static bool
read_zone(const char *s, size_t n, size_t *i, struct dt_fields *f)
{
    if (*i < n && s[*i] == 'Z') {
        f->zoned = true;
        (*i)++;
        return true;
    }
    if (*i >= n || (s[*i] != '+' && s[*i] != '-'))
        return true;
    int sign = s[(*i)++] == '-' ? -1 : 1;
    int64_t oh = read_digits(s, n, i, 2, 2);
    if (oh < 0 || oh > 23 || *i >= n || s[*i] != ':')
        return false;
    (*i)++;
    int64_t om = read_digits(s, n, i, 2, 2);
    if (om < 0 || om > 59)
        return false;
    f->zoned = true;
    f->offset = sign * (oh * 60 + om) * 60;
    return true;
}

/* The seconds since the epoch, UTC, that @f names. */
static int64_t
fields_to_seconds(const struct dt_fields *f)
{
    if (f->zoned)
        return wmi__days_from_civil(f->y, (int)f->mo, (int)f->d) * 86400 + f->h * 3600 + f->mi * 60 + f->se -
               f->offset;
    /* as WMI does, a date without a zone is the machine's local time */
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = (int)f->y - 1900;
    tm.tm_mon = (int)f->mo - 1;
    tm.tm_mday = (int)f->d;
    tm.tm_hour = (int)f->h;
    tm.tm_min = (int)f->mi;
    tm.tm_sec = (int)f->se;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm);
}

/* A DMTF datetime or interval constant (25 bytes, '.' at 14); one with '*'
 * fields is refused, with *@wild set. */
static wql_dt_kind
dmtf_literal(const char *s, size_t n, wql_dt *out, bool *wild, size_t *col_off)
{
    wql_dt dt;
    if (!wmi__wql_dmtf_parse(s, n, &dt))
        return WQL_DT_NONE;
    if (dt.kind == WQL_DT_WILD) {
        *wild = true;
        *col_off = (size_t)((const char *)memchr(s, '*', n) - s);
        return WQL_DT_NONE;
    }
    *out = dt;
    return dt.kind;
}

wql_dt_kind
wmi__wql_datetime_literal(const char *s, size_t n, wql_dt *out, bool *wild, size_t *col_off)
{
    *wild = false;
    *col_off = 0;
    out->kind = WQL_DT_NONE;
    out->usec = 0;
    if (n == 25 && s[14] == '.')
        return dmtf_literal(s, n, out, wild, col_off);
    /* locale-free forms: yyyymmdd | yyyy-mm-dd | yyyy/mm/dd [time] [zone] */
    struct dt_fields f = {0};
    size_t i = 0;
    if (!read_date(s, n, &i, &f) || !read_time(s, n, &i, &f) || !read_zone(s, n, &i, &f) || i != n)
        return WQL_DT_NONE;
    out->kind = WQL_DT_ABS;
    out->usec = fields_to_seconds(&f) * 1000000 + f.us;
    return WQL_DT_ABS;
}

/* ====================================================================
 * Values
 * ==================================================================== */

typedef enum val_kind {
    VK_ABSENT,      /* no such property */
    VK_NULL,
    VK_JSON,        /* j, type (CIM_EMPTY: unknown, infer from JSON) */
    VK_STR,         /* s (system properties) */
    VK_INT          /* i (system properties) */
} val_kind;

typedef struct val {
    val_kind kind;
    const json_t *j;
    wmi_cimtype type;
    const char *s;
    int64_t i;
    const json_t *parent;   /* the embedded object holding a dotted path's last segment */
} val;

/* json_object_get, then a case-insensitive scan (WMI names ignore case). */
static const json_t *
member(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    if (v != NULL)
        return v;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value) {
        if (wmi__wql_name_eq(key, name))
            return value;
    }
    return NULL;
}

/* @c is @anc or derives from it (pointer walk: no name compares). */
static bool
derives_from(const wmi_class *c, const wmi_class *anc)
{
    for (; c != NULL; c = wmi_class_superclass(c))
        if (c == anc)
            return true;
    return false;
}

static void
resolve(const wmi_query *q, const wql_path *path, const wmi_object *ev, val *v)
{
    v->j = NULL;
    v->type = CIM_EMPTY;
    v->parent = NULL;
    switch (path->sys) {
    case WQL_SYS_CLASS:
        v->kind = VK_STR;
        v->s = wmi_object_class_name(ev);
        return;
    case WQL_SYS_SUPERCLASS: {
        const wmi_class *sup = wmi_class_superclass(wmi_object_class(ev));
        if (sup == NULL) {
            v->kind = VK_NULL;
        } else {
            v->kind = VK_STR;
            v->s = wmi_class_name(sup);
        }
        return;
    }
    case WQL_SYS_GENUS:
        v->kind = VK_INT;
        v->i = 2;
        return;
    case WQL_SYS_NULL:
        v->kind = VK_NULL;
        return;
    case WQL_SYS_NONE:
        break;
    }
    const json_t *j;
    wmi_cimtype type;
    const wmi_class *ecls = wmi_object_class(ev);
    if (path->rcls != NULL && path->rcls == ecls) {
        /* fast path: the property was resolved against this very class */
        j = json_object_get(wmi_object_json(ev), path->canon);
        if (j == NULL)
            j = path->dflt ? path->dflt : json_null();
        type = path->type;
    } else if (path->rcls != NULL && derives_from(ecls, path->rcls) &&
               (j = json_object_get(wmi_object_json(ev), path->canon)) != NULL) {
        /* A subclass keeps the inherited property's name and type (the
         * schema allows no other), so a value it sets is read the same way;
         * an unset one falls through for the subclass's own default. */
        type = path->type;
    } else if (wmi_object_get_json(ev, path->seg[0], &j, &type) != WBEM_S_NO_ERROR ||
               j == NULL) {
        v->kind = VK_ABSENT;
        return;
    }
    for (size_t k = 1; k < path->nseg; k++) {
        if (!json_is_object(j)) {
            v->kind = VK_ABSENT;
            return;
        }
        const json_t *m = member(j, path->seg[k]);
        type = CIM_EMPTY;
        if (m == NULL && q->schema != NULL) {
            /* not set in the embedded instance: its class default, if declared */
            const char *cn = json_string_value(json_object_get(j, "__CLASS"));
            const wmi_class *cls = cn ? wmi_schema_get_class(q->schema, cn) : NULL;
            const wmi_property *prop = cls ? wmi_class_find_property(cls, path->seg[k]) : NULL;
            if (prop != NULL) {
                if (prop->default_value == NULL) {
                    v->kind = VK_NULL;
                    return;
                }
                m = prop->default_value;
                type = prop->type;
            }
        }
        if (m == NULL) {
            v->kind = VK_ABSENT;
            return;
        }
        v->parent = j;
        j = m;
    }
    if (json_is_null(j)) {
        v->kind = VK_NULL;
        return;
    }
    v->kind = VK_JSON;
    v->j = j;
    v->type = type;
}

static bool
apply(wql_op op, int c)
{
    switch (op) {
    case WQL_OP_EQ: return c == 0;
    case WQL_OP_NE: return c != 0;
    case WQL_OP_LT: return c < 0;
    case WQL_OP_GT: return c > 0;
    case WQL_OP_LE: return c <= 0;
    case WQL_OP_GE: return c >= 0;
    }
    return false;
}

typedef struct num {
    bool is_int;
    bool neg;
    uint64_t mag;
    double d;
} num;

static int
cmp_exact(bool an, uint64_t am, bool bn, uint64_t bm)
{
    if (an != bn)
        return an ? -1 : 1;
    if (am == bm)
        return 0;
    bool less = am < bm;
    if (an)
        less = !less;
    return less ? -1 : 1;
}

/* Compare a numeric value with the literal's numeric view. */
static bool
cmp_num(const num *a, const wql_literal *lit, wql_op op)
{
    if (!lit->has_num)
        return false;                   /* type clash */
    if (a->is_int && lit->has_int)
        return apply(op, cmp_exact(a->neg, a->mag, lit->neg, lit->mag));
    double x = a->d, y = lit->num;
    if (isnan(x) || isnan(y))
        return op == WQL_OP_NE;
    return apply(op, x < y ? -1 : x > y ? 1 : 0);
}

static bool
json_num(const json_t *j, num *out)
{
    if (json_is_integer(j)) {
        json_int_t i = json_integer_value(j);
        out->is_int = true;
        out->neg = i < 0;
        out->mag = i < 0 ? (uint64_t)(-(i + 1)) + 1u : (uint64_t)i;
        out->d = (double)i;
        return true;
    }
    if (json_is_real(j)) {
        out->is_int = false;
        out->d = json_real_value(j);
        return true;
    }
    if (json_is_string(j)) {
        /* 64-bit integers may travel as decimal strings */
        int r = wmi__wql_parse_number(json_string_value(j), &out->neg, &out->mag, &out->d);
        out->is_int = r == 1;
        return r != 0;
    }
    return false;
}

static bool
cmp_bool(bool b, const wql_literal *lit, wql_op op)
{
    if (lit->as_bool < 0 || (op != WQL_OP_EQ && op != WQL_OP_NE))
        return false;
    bool eq = b == (lit->as_bool == 1);
    return op == WQL_OP_EQ ? eq : !eq;
}

static bool
cmp_str(const char *s, size_t n, const wql_literal *lit, wql_op op)
{
    /* folding keeps UTF-8 lengths, so different lengths are never equal */
    if (op == WQL_OP_EQ && n != lit->folded_len)
        return false;
    if (op == WQL_OP_NE && n != lit->folded_len)
        return true;
    return apply(op, wmi__wql_fold_cmp(s, n, lit->folded, lit->folded_len));
}

/*
 * A datetime value against a constant: both read as DMTF and compared in
 * UTC, intervals as durations.  A value with '*' wildcards compares only
 * for (in)equality, as text, character by character ("+***" is not
 * "+000"); a datetime and an interval, or a constant that is not a
 * datetime, never compare.
 */
static bool
cmp_datetime(const char *s, size_t n, const wql_literal *lit, wql_op op)
{
    wql_dt v;
    if (!wmi__wql_dmtf_parse(s, n, &v))
        return false;
    if (v.kind == WQL_DT_WILD) {
        if (op != WQL_OP_EQ && op != WQL_OP_NE)
            return false;
        bool eq = n == lit->text_len && memcmp(s, lit->text, n) == 0;
        return op == WQL_OP_EQ ? eq : !eq;
    }
    if (lit->dt.kind != v.kind)
        return false;
    return apply(op, v.usec < lit->dt.usec ? -1 : v.usec > lit->dt.usec ? 1 : 0);
}

/*
 * Inside an embedded object the type is not known at parse time.  When
 * the constant is a datetime and the value looks like one, the embedded
 * instance's class says whether it is one (a schema lookup, only then).
 */
static bool
embedded_is_datetime(const wmi_query *q, const wql_node *node, const val *v)
{
    if (q->schema == NULL || v->parent == NULL || json_string_length(v->j) != 25)
        return false;
    const char *cn = json_string_value(json_object_get(v->parent, "__CLASS"));
    const wmi_class *cls = cn ? wmi_schema_get_class(q->schema, cn) : NULL;
    const wmi_property *prop =
        cls ? wmi_class_find_property(cls, node->path.seg[node->path.nseg - 1]) : NULL;
    return prop != NULL && prop->type == CIM_DATETIME;
}

static bool
eval_cmp(const wmi_query *q, const wql_node *node, const val *v)
{
    const wql_literal *lit = &node->lit;
    wql_op op = node->op;
    num a;
    switch (v->kind) {
    case VK_ABSENT:
    case VK_NULL:
        return false;
    case VK_STR:
        return cmp_str(v->s, strlen(v->s), lit, op);
    case VK_INT:
        a.is_int = true;
        a.neg = v->i < 0;
        a.mag = v->i < 0 ? (uint64_t)(-(v->i + 1)) + 1u : (uint64_t)v->i;
        a.d = (double)v->i;
        return cmp_num(&a, lit, op);
    case VK_JSON:
        break;
    }
    const json_t *j = v->j;
    switch (v->type) {
    case CIM_SINT8: case CIM_UINT8: case CIM_SINT16: case CIM_UINT16:
    case CIM_SINT32: case CIM_UINT32: case CIM_SINT64: case CIM_UINT64:
    case CIM_REAL32: case CIM_REAL64:
        return json_num(j, &a) && cmp_num(&a, lit, op);
    case CIM_BOOLEAN:
        return json_is_boolean(j) && cmp_bool(json_is_true(j), lit, op);
    case CIM_DATETIME:
        return json_is_string(j) &&
               cmp_datetime(json_string_value(j), json_string_length(j), lit, op);
    case CIM_STRING: case CIM_REFERENCE: case CIM_CHAR16:
        return json_is_string(j) &&
               cmp_str(json_string_value(j), json_string_length(j), lit, op);
    case CIM_EMPTY:
        break;
    default:
        return false;   /* objects, arrays */
    }
    /* type unknown (inside an embedded object): go by the JSON value */
    switch (json_typeof(j)) {
    case JSON_INTEGER:
    case JSON_REAL:
        return json_num(j, &a) && cmp_num(&a, lit, op);
    case JSON_TRUE:
    case JSON_FALSE:
        return cmp_bool(json_is_true(j), lit, op);
    case JSON_STRING:
        if ((lit->kind == WQL_LIT_INT || lit->kind == WQL_LIT_REAL) && json_num(j, &a))
            return cmp_num(&a, lit, op);
        if (lit->dt.kind != WQL_DT_NONE && embedded_is_datetime(q, node, v))
            return cmp_datetime(json_string_value(j), json_string_length(j), lit, op);
        return cmp_str(json_string_value(j), json_string_length(j), lit, op);
    default:
        return false;
    }
}

static bool
eval_isa(const wmi_query *q, const wql_node *node, const val *v)
{
    if (v->kind != VK_JSON || !json_is_object(v->j))
        return false;
    const char *cn = json_string_value(json_object_get(v->j, "__CLASS"));
    if (cn == NULL)
        return false;
    if (wmi__wql_name_eq(cn, node->isa_class))
        return true;
    if (q->schema == NULL)
        return false;
    const wmi_class *cls = wmi_schema_get_class(q->schema, cn);
    return cls != NULL && wmi_class_isa(cls, node->isa_class);
}

bool
wmi__wql_eval_node(const wmi_query *q, const wql_node *node, const wmi_object *ev)
{
    val v;
    switch (node->kind) {
    case WQL_NODE_AND:
        for (size_t i = 0; i < node->nchild; i++)
            if (!wmi__wql_eval_node(q, node->child[i], ev))
                return false;
        return true;
    case WQL_NODE_OR:
        for (size_t i = 0; i < node->nchild; i++)
            if (wmi__wql_eval_node(q, node->child[i], ev))
                return true;
        return false;
    case WQL_NODE_NOT:
        return !wmi__wql_eval_node(q, node->child[0], ev);
    case WQL_NODE_CMP:
        resolve(q, &node->path, ev, &v);
        return eval_cmp(q, node, &v);
    case WQL_NODE_IS_NULL:
        resolve(q, &node->path, ev, &v);
        return v.kind == VK_NULL || v.kind == VK_ABSENT;
    case WQL_NODE_IS_NOT_NULL:
        resolve(q, &node->path, ev, &v);
        return v.kind != VK_NULL && v.kind != VK_ABSENT;
    case WQL_NODE_ISA:
        resolve(q, &node->path, ev, &v);
        return eval_isa(q, node, &v);
    case WQL_NODE_LIKE:
        resolve(q, &node->path, ev, &v);
        if (v.kind == VK_STR)
            return wmi__wql_like_exec(&node->like, v.s, strlen(v.s));
        if (v.kind != VK_JSON || !json_is_string(v.j))
            return false;
        return wmi__wql_like_exec(&node->like, json_string_value(v.j), json_string_length(v.j));
    }
    return false;
}

/* ====================================================================
 * Public entry points
 * ==================================================================== */

bool
wmi_query_evaluate(const wmi_query *query, const wmi_object *event)
{
    if (query == NULL || event == NULL)
        return false;
    const wmi_class *cls = wmi_object_class(event);
    if (cls == NULL)
        return false;
    if (cls != query->from_class && !wmi_class_isa(cls, query->from))
        return false;
    return query->where == NULL || wmi__wql_eval_node(query, query->where, event);
}

bool
wmi_query_evaluate_where(const wmi_query *query, const wmi_object *event)
{
    if (query == NULL || event == NULL)
        return false;
    return query->where == NULL || wmi__wql_eval_node(query, query->where, event);
}

bool
wmi_query_evaluate_having(const wmi_query *query, const wmi_object *aggregate)
{
    if (query == NULL || aggregate == NULL)
        return false;
    return query->having == NULL || wmi__wql_eval_node(query, query->having, aggregate);
}

/* ====================================================================
 * Projection
 * ==================================================================== */

/* Does the select list name @key (its first segment), case-insensitively? */
static bool
selected(const wmi_query *q, const char *key)
{
    for (size_t i = 0; i < q->nselect; i++)
        if (q->select[i].sys == WQL_SYS_NONE && wmi__wql_name_eq(q->select[i].seg[0], key))
            return true;
    return false;
}

wmi_status
wmi_query_project(const wmi_query *q, const wmi_object *event, wmi_object **out)
{
    if (out != NULL)
        *out = NULL;
    if (q == NULL || event == NULL || out == NULL)
        return WBEM_E_INVALID_PARAMETER;
    if (q->nselect == 0) {
        *out = wmi_object_ref((wmi_object *)(uintptr_t)event);
        return WBEM_S_NO_ERROR;
    }
    /* A new instance of the event's class (its schema, which the event
     * keeps alive), then copies of the selected values the event sets, in
     * the event's order.  They were checked when the event was built. */
    wmi_object *o = NULL;
    wmi_status st = wmi_object_new(event->schema, wmi_class_name(event->cls), &o);
    if (st != WBEM_S_NO_ERROR)
        return st == WBEM_E_INVALID_CLASS ? WBEM_E_INVALID_PARAMETER : st;
    const char *key;
    json_t *value;
    json_object_foreach(event->json, key, value) {
        if (strcmp(key, "__CLASS") == 0 || !selected(q, key))
            continue;
        json_t *copy = json_deep_copy(value);
        if (copy == NULL || json_object_set_new(o->json, key, copy) != 0) {
            wmi_object_unref(o);
            return WBEM_E_OUT_OF_MEMORY;
        }
    }
    /* The properties not selected read NULL, as in WMI, rather than their
     * class defaults. */
    for (size_t i = 0; i < wmi_class_property_count(event->cls); i++) {
        const wmi_property *p = wmi_class_property_at(event->cls, i);
        if (!selected(q, p->name) && json_object_get(o->json, p->name) == NULL &&
            json_object_set_new(o->json, p->name, json_null()) != 0) {
            wmi_object_unref(o);
            return WBEM_E_OUT_OF_MEMORY;
        }
    }
    *out = o;
    return WBEM_S_NO_ERROR;
}
