/*
 * wql_parse.c - WQL event query parser, validation against a schema,
 * accessors and the normalised printer.
 *
 *   query  := SELECT (* | path {, path}) FROM class [WITHIN number]
 *             [WHERE cond] [GROUP WITHIN number [BY path {, path}] [HAVING cond]]
 *   cond   := and {OR and}
 *   and    := unary {AND unary}
 *   unary  := NOT unary | ( cond ) | pred
 *   pred   := path relop const | const relop path | path IS [NOT] NULL
 *           | path ISA (string | name) | path LIKE string
 *   path   := name {. name}
 */
#include "lib/wql_internal.h"


#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct parser {
    const char *text;
    wql_tokens toks;
    size_t i;
    const wmi_schema *schema;
    const wmi_class *cls;        /* class names in WHERE/SELECT/BY are checked against */
    wmi_error *err;
    wmi_status st;               /* first failure, WBEM_S_NO_ERROR while fine */
    int depth;
    size_t terms;                /* predicates so far (WMI_WQL_MAX_TERMS) */
} parser;

/* ====================================================================
 * Errors
 * ==================================================================== */

static void fail_at(parser *p, wmi_status st, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
fail_at(parser *p, wmi_status st, size_t pos, const char *fmt, ...)
{
    if (p->st != WBEM_S_NO_ERROR)
        return;
    p->st = st;
    va_list ap;
    va_start(ap, fmt);
    wmi_error_setv(p->err, st, NULL, 0, (int)pos + 1, fmt, ap);
    va_end(ap);
}

static void
oom(parser *p)
{
    size_t pos = p->i < p->toks.n ? p->toks.v[p->i].pos : 0;
    fail_at(p, WBEM_E_OUT_OF_MEMORY, pos, "out of memory");
}

static const wql_token *
peek(const parser *p)
{
    return &p->toks.v[p->i];
}

static const wql_token *
peek2(const parser *p)
{
    return &p->toks.v[p->i + 1 < p->toks.n ? p->i + 1 : p->i];
}

static const wql_token *
next(parser *p)
{
    const wql_token *t = &p->toks.v[p->i];
    if (t->type != WQL_TOK_EOF)
        p->i++;
    return t;
}

/* "unexpected 'X': expected <what>" */
static void
expected(parser *p, const wql_token *t, wmi_status st, const char *what)
{
    char d[80];
    wmi__wql_token_describe(p->text, t, d, sizeof d);
    if (t->type == WQL_TOK_EOF)
        fail_at(p, st, t->pos, "unexpected end of query: expected %s", what);
    else
        fail_at(p, st, t->pos, "unexpected %s: expected %s", d, what);
}

/* ====================================================================
 * Literals
 * ==================================================================== */

static bool
is_literal_token(wql_tok_type t)
{
    return t == WQL_TOK_STRING || t == WQL_TOK_INT || t == WQL_TOK_REAL ||
           t == WQL_TOK_TRUE || t == WQL_TOK_FALSE || t == WQL_TOK_NULL;
}

bool
wmi__wql_real_print(wmi_strbuf *sb, double d)
{
    char buf[64];
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    double a = fabs(d);
    if (strchr(buf, 'e') != NULL && a >= 1e-5 && a < 1e17) {
        /* the same digits without an exponent: 1e+03 -> 1000 */
        int exp10 = (int)floor(log10(a));
        int decimals = prec - 1 - exp10;
        snprintf(buf, sizeof buf, "%.*f", decimals > 0 ? decimals : 0, d);
    }
    if (strpbrk(buf, ".eEn") == NULL)   /* "1" -> "1.0"; inf/nan left alone */
        strcat(buf, ".0");
    return wmi__strbuf_puts(sb, buf);
}

/* WITHIN values: integral ones without a fraction. */
static bool
seconds_print(wmi_strbuf *sb, double d)
{
    if (d == floor(d) && d < 1e15)
        return wmi__strbuf_printf(sb, "%.0f", d);
    return wmi__wql_real_print(sb, d);
}

int
wmi__wql_parse_number(const char *s, bool *neg, uint64_t *mag, double *num)
{
    while (*s == ' ' || *s == '\t')
        s++;
    const char *start = s;
    bool n = false;
    if (*s == '-' || *s == '+') {
        n = *s == '-';
        s++;
    }
    uint64_t m = 0;
    const char *digits = s;
    bool ovf = false;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        digits = s;
        for (;; s++) {
            int h;
            if (*s >= '0' && *s <= '9')
                h = *s - '0';
            else if (*s >= 'a' && *s <= 'f')
                h = *s - 'a' + 10;
            else if (*s >= 'A' && *s <= 'F')
                h = *s - 'A' + 10;
            else
                break;
            if (m > (UINT64_MAX >> 4))
                ovf = true;
            m = (m << 4) | (uint64_t)h;
        }
    } else {
        for (; *s >= '0' && *s <= '9'; s++) {
            uint64_t d = (uint64_t)(*s - '0');
            if (m > (UINT64_MAX - d) / 10)
                ovf = true;
            else
                m = m * 10 + d;
        }
    }
    const char *end = s;
    while (*end == ' ' || *end == '\t')
        end++;
    if (s != digits && *end == '\0' && !ovf && !(n && m > (uint64_t)INT64_MAX + 1u)) {
        *neg = n && m != 0;
        *mag = m;
        *num = n ? -(double)m : (double)m;
        return 1;
    }
    /* a real? */
    if (s == digits && *s != '.')
        return 0;
    char *e;
    double d = strtod(start, &e);
    if (e == start)
        return 0;
    while (*e == ' ' || *e == '\t')
        e++;
    if (*e != '\0' || !isfinite(d))
        return 0;
    *num = d;
    return 2;
}

static bool
literal_set_text(wql_literal *lit, const char *s, size_t n)
{
    lit->text = malloc(n + 1);
    if (lit->text == NULL)
        return false;
    memcpy(lit->text, s, n);
    lit->text[n] = '\0';
    lit->text_len = n;
    wmi_strbuf sb = {0};
    if (!wmi__wql_fold_append(&sb, s, n)) {
        wmi__strbuf_free(&sb);
        return false;
    }
    lit->folded_len = sb.len;
    lit->folded = wmi__strbuf_detach(&sb);
    return lit->folded != NULL;
}

static void
literal_clear(wql_literal *lit)
{
    free(lit->text);
    free(lit->folded);
    memset(lit, 0, sizeof *lit);
}

/* Resolve a literal token into every form the evaluator may need. */
static bool
make_literal(const wql_token *t, wql_literal *lit)
{
    memset(lit, 0, sizeof *lit);
    lit->as_bool = -1;
    char buf[64];
    switch (t->type) {
    case WQL_TOK_NULL:
        lit->kind = WQL_LIT_NULL;
        return literal_set_text(lit, "NULL", 4);
    case WQL_TOK_TRUE:
    case WQL_TOK_FALSE:
        lit->kind = WQL_LIT_BOOL;
        lit->b = t->type == WQL_TOK_TRUE;
        lit->has_int = lit->has_num = true;
        lit->mag = lit->b ? 1 : 0;
        lit->num = lit->b ? 1.0 : 0.0;
        lit->as_bool = lit->b;
        return lit->b ? literal_set_text(lit, "TRUE", 4) : literal_set_text(lit, "FALSE", 5);
    case WQL_TOK_INT:
        lit->kind = WQL_LIT_INT;
        lit->has_int = lit->has_num = true;
        lit->neg = t->neg;
        lit->mag = t->mag;
        lit->num = t->real;
        if (t->mag == 0)
            lit->as_bool = 0;
        else if (t->mag == 1 && !t->neg)
            lit->as_bool = 1;
        snprintf(buf, sizeof buf, "%s%llu", t->neg ? "-" : "", (unsigned long long)t->mag);
        return literal_set_text(lit, buf, strlen(buf));
    case WQL_TOK_REAL: {
        lit->kind = WQL_LIT_REAL;
        lit->has_num = true;
        lit->num = t->real;
        wmi_strbuf sb = {0};
        if (!wmi__wql_real_print(&sb, t->real)) {
            wmi__strbuf_free(&sb);
            return false;
        }
        bool ok = literal_set_text(lit, sb.data, sb.len);
        wmi__strbuf_free(&sb);
        return ok;
    }
    case WQL_TOK_STRING: {
        lit->kind = WQL_LIT_STRING;
        if (!literal_set_text(lit, t->str, t->str_len))
            return false;
        if (strlen(t->str) == t->str_len) {
            int r = wmi__wql_parse_number(t->str, &lit->neg, &lit->mag, &lit->num);
            lit->has_int = r == 1;
            lit->has_num = r != 0;
            if (r == 1 && lit->mag <= 1 && !lit->neg)
                lit->as_bool = (int)lit->mag;
        }
        if (strcmp(lit->folded, "true") == 0)
            lit->as_bool = 1;
        else if (strcmp(lit->folded, "false") == 0)
            lit->as_bool = 0;
        /* a datetime view, for datetime properties */
        bool wild;
        size_t off;
        (void)wmi__wql_datetime_literal(t->str, t->str_len, &lit->dt, &wild, &off);
        return true;
    }
    default:
        return false;
    }
}

static bool
print_string(wmi_strbuf *sb, const char *s, size_t n)
{
    if (!wmi__strbuf_putc(sb, '"'))
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *e = NULL;
        switch (s[i]) {
        case '"': e = "\\\""; break;
        case '\\': e = "\\\\"; break;
        case '\n': e = "\\n"; break;
        case '\t': e = "\\t"; break;
        case '\r': e = "\\r"; break;
        default: break;
        }
        if (e ? !wmi__strbuf_puts(sb, e) : !wmi__strbuf_putc(sb, s[i]))
            return false;
    }
    return wmi__strbuf_putc(sb, '"');
}

bool
wmi__wql_literal_print(wmi_strbuf *sb, const wql_literal *lit)
{
    if (lit->kind == WQL_LIT_STRING)
        return print_string(sb, lit->text, lit->text_len);
    return wmi__strbuf_append(sb, lit->text, lit->text_len);
}

/* ====================================================================
 * Paths
 * ==================================================================== */

static const struct {
    const char *name;
    wql_sysprop sys;
} sysprops[] = {
    {"__CLASS", WQL_SYS_CLASS},     {"__SUPERCLASS", WQL_SYS_SUPERCLASS},
    {"__GENUS", WQL_SYS_GENUS},     {"__PATH", WQL_SYS_NULL},
    {"__RELPATH", WQL_SYS_NULL},    {"__SERVER", WQL_SYS_NULL},
    {"__NAMESPACE", WQL_SYS_NULL},
};

void
wmi__wql_path_clear(wql_path *path)
{
    for (size_t i = 0; i < path->nseg; i++)
        free(path->seg[i]);
    free(path->seg);
    free(path->text);
    memset(path, 0, sizeof *path);
}

/* path := name {. name}; the current token is a name. */
static bool
parse_path(parser *p, wql_path *path)
{
    memset(path, 0, sizeof *path);
    path->pos = peek(p)->pos;
    path->type = CIM_EMPTY;
    wmi_strbuf text = {0};
    for (;;) {
        const wql_token *t = peek(p);
        /* after a dot any word will do, keywords included */
        bool word = t->type == WQL_TOK_IDENT ||
                    (path->nseg > 0 && t->type >= WQL_TOK_SELECT && t->type <= WQL_TOK_FALSE);
        if (!word) {
            expected(p, t, WBEM_E_INVALID_QUERY, "a property name");
            goto fail;
        }
        next(p);
        char **seg = realloc(path->seg, (path->nseg + 1) * sizeof *seg);
        if (seg == NULL)
            goto nomem;
        path->seg = seg;
        path->seg[path->nseg] = strndup(p->text + t->pos, t->len);
        if (path->seg[path->nseg] == NULL)
            goto nomem;
        path->nseg++;
        if ((path->nseg > 1 && !wmi__strbuf_putc(&text, '.')) ||
            !wmi__strbuf_append(&text, p->text + t->pos, t->len))
            goto nomem;
        if (peek(p)->type != WQL_TOK_DOT)
            break;
        next(p);
    }
    path->text = wmi__strbuf_detach(&text);
    if (path->text == NULL)
        goto nomem;
    for (size_t k = 0; k < sizeof sysprops / sizeof sysprops[0]; k++)
        if (wmi__wql_name_eq(path->seg[0], sysprops[k].name))
            path->sys = sysprops[k].sys;
    return true;
nomem:
    oom(p);
fail:
    wmi__strbuf_free(&text);
    wmi__wql_path_clear(path);
    return false;
}

/*
 * Check a path against class @cls (when the schema knows it): the first
 * segment must be a property (or a system property) and a dotted path
 * must go through an object.  Deeper segments are not checked: an
 * embedded object may be of any class (WMI returns no match, not an
 * error, for a property an embedded object lacks).
 */
static bool
check_path(parser *p, wql_path *path, const wmi_class *cls)
{
    if (cls == NULL)
        return true;
    if (path->sys != WQL_SYS_NONE) {
        path->type = path->sys == WQL_SYS_GENUS ? CIM_SINT32 : CIM_STRING;
        if (path->nseg > 1) {
            fail_at(p, WBEM_E_PROPERTY_NOT_AN_OBJECT, path->pos,
                    "'%s' is not an embedded object: cannot use '%s'", path->seg[0], path->text);
            return false;
        }
        return true;
    }
    const wmi_property *prop = wmi_class_find_property(cls, path->seg[0]);
    if (prop == NULL) {
        fail_at(p, WBEM_E_INVALID_PROPERTY, path->pos, "class %s has no property '%s'",
                wmi_class_name(cls), path->seg[0]);
        return false;
    }
    path->type = prop->type;
    path->rcls = cls;
    path->canon = prop->name;
    path->dflt = prop->default_value;
    if (path->nseg > 1 && prop->type != CIM_OBJECT) {
        const char *tn = wmi_cimtype_name(prop->type);
        fail_at(p, WBEM_E_PROPERTY_NOT_AN_OBJECT, path->pos,
                "property '%s' is %s, not an embedded object: cannot use '%s'", path->seg[0],
                tn ? tn : "not an object", path->text);
        return false;
    }
    return true;
}

/* Known CIM type of what a path names, CIM_EMPTY when unknown. */
static wmi_cimtype
path_type(const wql_path *path)
{
    return path->nseg == 1 ? path->type : CIM_EMPTY;
}

static bool
type_is_stringish(wmi_cimtype t)
{
    return t == CIM_STRING || t == CIM_DATETIME || t == CIM_REFERENCE || t == CIM_CHAR16;
}

/* ====================================================================
 * Conditions
 * ==================================================================== */

void
wmi__wql_node_free(wql_node *node)
{
    if (node == NULL)
        return;
    for (size_t i = 0; i < node->nchild; i++)
        wmi__wql_node_free(node->child[i]);
    free(node->child);
    wmi__wql_path_clear(&node->path);
    literal_clear(&node->lit);
    free(node->isa_class);
    wmi__wql_like_free(&node->like);
    free(node);
}

static wql_node *
new_node(parser *p, wql_node_kind kind)
{
    wql_node *n = calloc(1, sizeof *n);
    if (n == NULL) {
        oom(p);
        return NULL;
    }
    n->kind = kind;
    n->path.type = CIM_EMPTY;
    return n;
}

static bool
add_child(parser *p, wql_node *n, wql_node *c)
{
    wql_node **v = realloc(n->child, (n->nchild + 1) * sizeof *v);
    if (v == NULL) {
        oom(p);
        return false;
    }
    n->child = v;
    n->child[n->nchild++] = c;
    return true;
}

static wql_node *parse_or(parser *p);

static bool
relop(wql_tok_type t, wql_op *op)
{
    switch (t) {
    case WQL_TOK_EQ: *op = WQL_OP_EQ; return true;
    case WQL_TOK_NE:
    case WQL_TOK_LTGT: *op = WQL_OP_NE; return true;
    case WQL_TOK_LT: *op = WQL_OP_LT; return true;
    case WQL_TOK_GT: *op = WQL_OP_GT; return true;
    case WQL_TOK_LE: *op = WQL_OP_LE; return true;
    case WQL_TOK_GE: *op = WQL_OP_GE; return true;
    default: return false;
    }
}

static wql_op
flip(wql_op op)
{
    switch (op) {
    case WQL_OP_LT: return WQL_OP_GT;
    case WQL_OP_GT: return WQL_OP_LT;
    case WQL_OP_LE: return WQL_OP_GE;
    case WQL_OP_GE: return WQL_OP_LE;
    default: return op;
    }
}

/*
 * A datetime property (the schema says so) is compared with a datetime:
 * a DMTF datetime or interval without wildcards, or a locale-free date
 * (docs/wql.md).  Anything else is WBEM_E_INVALID_QUERY at the constant.
 */
static bool
check_datetime(parser *p, const wql_path *path, const wql_token *lt, const wql_literal *lit)
{
    char d[80];
    wmi__wql_token_describe(p->text, lt, d, sizeof d);
    if (lt->type != WQL_TOK_STRING) {
        fail_at(p, WBEM_E_INVALID_QUERY, lt->pos,
                "'%s' is a datetime: compare it with a DMTF datetime string, not %s", path->text,
                d);
        return false;
    }
    bool wild;
    size_t off;
    wql_dt dt;
    wql_dt_kind k = wmi__wql_datetime_literal(lt->str, lt->str_len, &dt, &wild, &off);
    if (wild) {
        /* the asterisk's own column when the literal has no escapes */
        size_t pos = lt->pos;
        if (lt->len == lt->str_len + 2)
            pos += 1 + off;
        fail_at(p, WBEM_E_INVALID_QUERY, pos,
                "wildcards ('*') are not allowed in a datetime constant: %s", d);
        return false;
    }
    if (k == WQL_DT_NONE) {
        fail_at(p, WBEM_E_INVALID_QUERY, lt->pos,
                "'%s' is a datetime, and %s is not a DMTF datetime (yyyymmddHHMMSS.mmmmmmsUUU), "
                "interval (ddddddddHHMMSS.mmmmmm:000) or yyyy-mm-dd[ hh:mm[:ss]] date",
                path->text, d);
        return false;
    }
    const wmi_property *prop =
        path->rcls != NULL ? wmi_class_find_property(path->rcls, path->canon) : NULL;
    if (prop != NULL && (prop->flags & WMI_PROPERTY_INTERVAL) && k != WQL_DT_INTERVAL) {
        fail_at(p, WBEM_E_INVALID_QUERY, lt->pos,
                "'%s' is an interval: compare it with ddddddddHHMMSS.mmmmmm:000, not %s",
                path->text, d);
        return false;
    }
    (void)lit;
    return true;
}

/* Build path <op> literal (already flipped into property-left form). */
static wql_node *
make_cmp(parser *p, wql_path *path, wql_op op, wql_op op_written, bool lit_left,
         const wql_token *lt, const wql_token *optok)
{
    char d[80];
    bool relational = op != WQL_OP_EQ && op != WQL_OP_NE;
    if (lt->type == WQL_TOK_NULL) {
        if (relational) {
            wmi__wql_token_describe(p->text, optok, d, sizeof d);
            fail_at(p, WBEM_E_INVALID_OPERATOR, optok->pos,
                    "operator %s cannot be used with NULL (use IS [NOT] NULL)", d);
            return NULL;
        }
        /* "= NULL" is "IS NULL", "<> NULL" is "IS NOT NULL" */
        wql_node *n = new_node(p, op == WQL_OP_EQ ? WQL_NODE_IS_NULL : WQL_NODE_IS_NOT_NULL);
        if (n != NULL) {
            n->path = *path;
            memset(path, 0, sizeof *path);
        }
        return n;
    }
    if (relational && (lt->type == WQL_TOK_TRUE || lt->type == WQL_TOK_FALSE)) {
        wmi__wql_token_describe(p->text, optok, d, sizeof d);
        fail_at(p, WBEM_E_INVALID_OPERATOR, optok->pos,
                "operator %s cannot be used with a boolean (only =, <> and !=)", d);
        return NULL;
    }
    wmi_cimtype t = path_type(path);
    if (t != CIM_EMPTY) {
        wmi__wql_token_describe(p->text, optok, d, sizeof d);
        if (t & CIM_FLAG_ARRAY) {
            fail_at(p, WBEM_E_INVALID_OPERATOR, optok->pos,
                    "'%s' is an array: arrays cannot be compared", path->text);
            return NULL;
        }
        if (t == CIM_OBJECT) {
            fail_at(p, WBEM_E_INVALID_OPERATOR, optok->pos,
                    "'%s' is an embedded object: use ISA or a property path, not %s",
                    path->text, d);
            return NULL;
        }
        if (t == CIM_BOOLEAN && relational) {
            fail_at(p, WBEM_E_INVALID_OPERATOR, optok->pos,
                    "operator %s cannot be used with boolean property '%s'", d, path->text);
            return NULL;
        }
    }
    wql_node *n = new_node(p, WQL_NODE_CMP);
    if (n == NULL)
        return NULL;
    if (!make_literal(lt, &n->lit)) {
        wmi__wql_node_free(n);
        oom(p);
        return NULL;
    }
    if (t == CIM_DATETIME && !check_datetime(p, path, lt, &n->lit)) {
        wmi__wql_node_free(n);
        return NULL;
    }
    n->path = *path;
    memset(path, 0, sizeof *path);
    n->op = op;
    n->op_written = op_written;
    n->lit_left = lit_left;
    return n;
}

/* "constant relop property", at the constant. */
static wql_node *
parse_constant_first(parser *p)
{
    char d[80];
    wql_op op;
    const wql_token *lt = next(p);
    const wql_token *optok = peek(p);
    if (optok->type == WQL_TOK_LIKE || optok->type == WQL_TOK_ISA || optok->type == WQL_TOK_IS) {
        wmi__wql_token_describe(p->text, optok, d, sizeof d);
        fail_at(p, WBEM_E_INVALID_OPERATOR, optok->pos, "%s needs a property on its left", d);
        return NULL;
    }
    if (!relop(optok->type, &op)) {
        expected(p, optok, WBEM_E_INVALID_QUERY, "a comparison operator");
        return NULL;
    }
    next(p);
    const wql_token *rt = peek(p);
    if (is_literal_token(rt->type)) {
        fail_at(p, WBEM_E_INVALID_QUERY, lt->pos,
                "a comparison needs a property on one side: two constants compared");
        return NULL;
    }
    if (rt->type != WQL_TOK_IDENT) {
        expected(p, rt, WBEM_E_INVALID_QUERY, "a property name");
        return NULL;
    }
    wql_path path;
    if (!parse_path(p, &path))
        return NULL;
    if (!check_path(p, &path, p->cls)) {
        wmi__wql_path_clear(&path);
        return NULL;
    }
    wql_node *n = make_cmp(p, &path, flip(op), op, true, lt, optok);
    wmi__wql_path_clear(&path);
    return n;
}

/* "property IS [NOT] NULL", after IS. */
static wql_node *
parse_is_null(parser *p)
{
    char d[80];
    bool is_not = false;
    if (peek(p)->type == WQL_TOK_NOT) {
        next(p);
        is_not = true;
    }
    const wql_token *nt = peek(p);
    if (nt->type != WQL_TOK_NULL) {
        if (nt->type == WQL_TOK_EOF)
            expected(p, nt, WBEM_E_INVALID_QUERY, "NULL");
        else {
            wmi__wql_token_describe(p->text, nt, d, sizeof d);
            fail_at(p, WBEM_E_INVALID_OPERATOR, nt->pos,
                    "IS%s can only be used with NULL, not %s", is_not ? " NOT" : "", d);
        }
        return NULL;
    }
    next(p);
    return new_node(p, is_not ? WQL_NODE_IS_NOT_NULL : WQL_NODE_IS_NULL);
}

/* "property ISA class", after the ISA (@optok); @path is of type @ptype. */
static wql_node *
parse_isa(parser *p, const wql_path *path, wmi_cimtype ptype, const wql_token *optok)
{
    const wql_token *ct = peek(p);
    if (ct->type != WQL_TOK_STRING && ct->type != WQL_TOK_IDENT) {
        expected(p, ct, WBEM_E_INVALID_QUERY, "a class name after ISA");
        return NULL;
    }
    next(p);
    char *cname = ct->type == WQL_TOK_STRING ? strdup(ct->str) : strndup(p->text + ct->pos, ct->len);
    if (cname == NULL) {
        oom(p);
        return NULL;
    }
    if (ptype != CIM_EMPTY && ptype != CIM_OBJECT) {
        fail_at(p, WBEM_E_INVALID_OPERATOR, optok->pos,
                "ISA needs an embedded object, and '%s' is not one", path->text);
        free(cname);
        return NULL;
    }
    if (p->schema != NULL && wmi_schema_get_class(p->schema, cname) == NULL) {
        fail_at(p, WBEM_E_INVALID_CLASS, ct->pos, "ISA names unknown class '%s'", cname);
        free(cname);
        return NULL;
    }
    wql_node *n = new_node(p, WQL_NODE_ISA);
    if (n == NULL)
        free(cname);
    else
        n->isa_class = cname;
    return n;
}

/* "property LIKE pattern", after the LIKE (@optok); @path is of type @ptype. */
static wql_node *
parse_like(parser *p, const wql_path *path, wmi_cimtype ptype, const wql_token *optok)
{
    char d[80];
    const wql_token *pt = peek(p);
    if (pt->type != WQL_TOK_STRING) {
        if (is_literal_token(pt->type)) {
            wmi__wql_token_describe(p->text, pt, d, sizeof d);
            fail_at(p, WBEM_E_INVALID_OPERATOR, pt->pos, "LIKE needs a string pattern, not %s", d);
        } else {
            expected(p, pt, WBEM_E_INVALID_QUERY, "a string pattern after LIKE");
        }
        return NULL;
    }
    next(p);
    if (ptype != CIM_EMPTY && (!type_is_stringish(ptype) || (ptype & CIM_FLAG_ARRAY))) {
        const char *tn = wmi_cimtype_name(ptype);
        fail_at(p, WBEM_E_INVALID_OPERATOR, optok->pos, "LIKE needs a string property, and '%s' is %s",
                path->text, tn ? tn : "not a string");
        return NULL;
    }
    wql_node *n = new_node(p, WQL_NODE_LIKE);
    if (n == NULL)
        return NULL;
    if (!make_literal(pt, &n->lit) || !wmi__wql_like_compile(pt->str, pt->str_len, &n->like)) {
        wmi__wql_node_free(n);
        oom(p);
        return NULL;
    }
    return n;
}

/* "property relop constant", after the operator @optok (or an error
 * when it is none). */
static wql_node *
parse_property_first(parser *p, wql_path *path, const wql_token *optok)
{
    wql_op op;
    if (relop(optok->type, &op)) {
        const wql_token *lt = peek(p);
        if (lt->type == WQL_TOK_IDENT) {
            fail_at(p, WBEM_E_INVALID_QUERY, lt->pos,
                    "a property can only be compared with a constant, not with another "
                    "property");
            return NULL;
        }
        if (!is_literal_token(lt->type)) {
            expected(p, lt, WBEM_E_INVALID_QUERY, "a constant");
            return NULL;
        }
        next(p);
        return make_cmp(p, path, op, op, false, lt, optok);
    }
    char what[128];
    snprintf(what, sizeof what, "an operator after '%.80s'", path->text);
    expected(p, optok, WBEM_E_INVALID_QUERY, what);
    return NULL;
}

static wql_node *
parse_predicate(parser *p)
{
    const wql_token *t = peek(p);

    if (++p->terms > WMI_WQL_MAX_TERMS) {
        fail_at(p, WBEM_E_QUOTA_VIOLATION, t->pos,
                "more than %d comparison terms in the query", WMI_WQL_MAX_TERMS);
        return NULL;
    }
    if (is_literal_token(t->type))
        return parse_constant_first(p);
    if (t->type != WQL_TOK_IDENT) {
        expected(p, t, WBEM_E_INVALID_QUERY, "a condition");
        return NULL;
    }
    wql_path path;
    if (!parse_path(p, &path))
        return NULL;
    if (!check_path(p, &path, p->cls)) {
        wmi__wql_path_clear(&path);
        return NULL;
    }
    wmi_cimtype ptype = path_type(&path);
    const wql_token *optok = next(p);
    wql_node *n;

    switch (optok->type) {
    case WQL_TOK_IS:
        n = parse_is_null(p);
        break;
    case WQL_TOK_ISA:
        n = parse_isa(p, &path, ptype, optok);
        break;
    case WQL_TOK_LIKE:
        n = parse_like(p, &path, ptype, optok);
        break;
    default:
        n = parse_property_first(p, &path, optok);
        break;
    }
    if (n != NULL && n->path.seg == NULL) {
        n->path = path;
        return n;
    }
    wmi__wql_path_clear(&path);
    return n;
}

static wql_node *
parse_unary(parser *p)
{
    const wql_token *t = peek(p);
    if (++p->depth > WMI_WQL_MAX_DEPTH) {
        fail_at(p, WBEM_E_QUOTA_VIOLATION, t->pos,
                "condition nested more than %d levels deep", WMI_WQL_MAX_DEPTH);
        return NULL;
    }
    wql_node *n = NULL;
    if (t->type == WQL_TOK_NOT) {
        next(p);
        wql_node *c = parse_unary(p);
        if (c != NULL) {
            n = new_node(p, WQL_NODE_NOT);
            if (n == NULL || !add_child(p, n, c)) {
                wmi__wql_node_free(c);
                wmi__wql_node_free(n);
                n = NULL;
            }
        }
    } else if (t->type == WQL_TOK_LPAREN) {
        next(p);
        n = parse_or(p);
        if (n != NULL) {
            if (peek(p)->type != WQL_TOK_RPAREN) {
                expected(p, peek(p), WBEM_E_INVALID_QUERY, "')'");
                wmi__wql_node_free(n);
                n = NULL;
            } else {
                next(p);
            }
        }
    } else {
        n = parse_predicate(p);
    }
    p->depth--;
    return n;
}

static wql_node *
parse_chain(parser *p, wql_tok_type optok, wql_node_kind kind,
            wql_node *(*sub)(parser *))
{
    wql_node *first = sub(p);
    if (first == NULL || peek(p)->type != optok)
        return first;
    wql_node *n = new_node(p, kind);
    if (n == NULL || !add_child(p, n, first)) {
        wmi__wql_node_free(first);
        wmi__wql_node_free(n);
        return NULL;
    }
    while (peek(p)->type == optok) {
        next(p);
        wql_node *c = sub(p);
        if (c == NULL || !add_child(p, n, c)) {
            wmi__wql_node_free(c);
            wmi__wql_node_free(n);
            return NULL;
        }
    }
    return n;
}

static wql_node *
parse_and(parser *p)
{
    return parse_chain(p, WQL_TOK_AND, WQL_NODE_AND, parse_unary);
}

static wql_node *
parse_or(parser *p)
{
    return parse_chain(p, WQL_TOK_OR, WQL_NODE_OR, parse_and);
}

/*
 * Nesting of a condition's normalised form (wmi_query_to_string) as
 * parse_unary counts it: a predicate prints as "(A = 1)", two levels;
 * NOT as "(NOT x)", two more than x; a chain as "(x AND y ...)", one more
 * than its deepest term.  The tree is at most WMI_WQL_MAX_DEPTH deep.
 */
static int
print_depth(const wql_node *n)
{
    int d = 0;
    switch (n->kind) {
    case WQL_NODE_NOT:
        return 2 + print_depth(n->child[0]);
    case WQL_NODE_AND:
    case WQL_NODE_OR:
        for (size_t i = 0; i < n->nchild; i++) {
            int c = print_depth(n->child[i]);
            if (c > d)
                d = c;
        }
        return 1 + d;
    default:
        return 2;
    }
}

/*
 * The normalised form must parse again, so a condition whose printed
 * parentheses would nest too deep is refused as the written one would be:
 * "NOT NOT ... A = 1" gains two levels a NOT.  @pos is where it starts.
 */
static bool
check_print_depth(parser *p, const wql_node *n, size_t pos)
{
    if (print_depth(n) <= WMI_WQL_MAX_DEPTH)
        return true;
    fail_at(p, WBEM_E_QUOTA_VIOLATION, pos,
            "condition nested more than %d levels deep once normalised (each NOT and "
            "comparison in its own parentheses)", WMI_WQL_MAX_DEPTH);
    return false;
}

/* ====================================================================
 * The statement
 * ==================================================================== */

static bool
parse_seconds(parser *p, const char *clause, double *out)
{
    const wql_token *t = peek(p);
    if (t->type != WQL_TOK_INT && t->type != WQL_TOK_REAL) {
        char what[64];
        snprintf(what, sizeof what, "a number of seconds after %s", clause);
        expected(p, t, WBEM_E_INVALID_QUERY, what);
        return false;
    }
    if (!(t->real > 0.0) || !isfinite(t->real)) {
        char d[80];
        wmi__wql_token_describe(p->text, t, d, sizeof d);
        fail_at(p, WBEM_E_INVALID_QUERY, t->pos, "%s needs a positive number of seconds, not %s",
                clause, d);
        return false;
    }
    next(p);
    *out = t->real;
    return true;
}

static bool
parse_path_list(parser *p, wql_path **out, size_t *count)
{
    for (;;) {
        wql_path *v = realloc(*out, (*count + 1) * sizeof *v);
        if (v == NULL) {
            oom(p);
            return false;
        }
        *out = v;
        if (!parse_path(p, &v[*count]))
            return false;
        (*count)++;
        if (peek(p)->type != WQL_TOK_COMMA)
            return true;
        next(p);
    }
}

static void
query_free(wmi_query *q)
{
    if (q == NULL)
        return;
    free(q->from);
    for (size_t i = 0; i < q->nselect; i++)
        wmi__wql_path_clear(&q->select[i]);
    free(q->select);
    for (size_t i = 0; i < q->ngroup_by; i++)
        wmi__wql_path_clear(&q->group_by[i]);
    free(q->group_by);
    wmi__wql_node_free(q->where);
    wmi__wql_node_free(q->having);
    free(q);
}

/* "FROM Class", then the checks against the schema: an event class, and
 * the selected properties its own.  false on error. */
static bool
parse_from(parser *p, wmi_query *q)
{
    const wql_token *t = peek(p);
    if (t->type != WQL_TOK_FROM) {
        expected(p, t, WBEM_E_INVALID_QUERY, "FROM");
        return false;
    }
    next(p);
    t = peek(p);
    if (t->type != WQL_TOK_IDENT) {
        expected(p, t, WBEM_E_INVALID_QUERY, "an event class name after FROM");
        return false;
    }
    next(p);
    q->from = strndup(p->text + t->pos, t->len);
    if (q->from == NULL) {
        oom(p);
        return false;
    }
    if (p->schema != NULL) {
        q->from_class = wmi_schema_get_class(p->schema, q->from);
        if (q->from_class == NULL) {
            fail_at(p, WBEM_E_INVALID_CLASS, t->pos, "unknown class '%s'", q->from);
            return false;
        }
        if (!wmi_class_isa(q->from_class, "__Event")) {
            fail_at(p, WBEM_E_NOT_EVENT_CLASS, t->pos,
                    "class '%s' is not an event class (an __Event descendant)", q->from);
            return false;
        }
        p->cls = q->from_class;
        for (size_t i = 0; i < q->nselect; i++)
            if (!check_path(p, &q->select[i], p->cls))
                return false;
    }
    return true;
}

/* "BY prop, ..." of GROUP WITHIN, at the BY.  false on error. */
static bool
parse_group_by(parser *p, wmi_query *q)
{
    const wql_token *by = next(p);
    if (peek(p)->type != WQL_TOK_IDENT) {
        if (peek(p)->type == WQL_TOK_EOF || peek(p)->type == WQL_TOK_HAVING)
            fail_at(p, WBEM_E_MISSING_AGGREGATION_LIST, by->pos, "BY needs a list of properties");
        else
            expected(p, peek(p), WBEM_E_INVALID_QUERY, "a property name after BY");
        return false;
    }
    if (!parse_path_list(p, &q->group_by, &q->ngroup_by))
        return false;
    for (size_t i = 0; i < q->ngroup_by; i++) {
        wql_path *g = &q->group_by[i];
        if (!check_path(p, g, p->cls))
            return false;
        if (p->cls != NULL && g->nseg == 1 && g->type == CIM_OBJECT) {
            fail_at(p, WBEM_E_AGGREGATING_BY_OBJECT, g->pos,
                    "cannot group by embedded object '%s': name one of its properties "
                    "(%s.Name)", g->text, g->text);
            return false;
        }
    }
    return true;
}

/* "GROUP WITHIN n [BY ...] [HAVING ...]", at the GROUP.  false on error. */
static bool
parse_group(parser *p, wmi_query *q)
{
    next(p);
    next(p);    /* WITHIN */
    if (!parse_seconds(p, "GROUP WITHIN", &q->group_within))
        return false;
    if (peek(p)->type == WQL_TOK_BY && !parse_group_by(p, q))
        return false;
    if (peek(p)->type == WQL_TOK_HAVING) {
        next(p);
        /* HAVING is about the __AggregateEvent, not the FROM class */
        p->cls = p->schema ? wmi_schema_get_class(p->schema, "__AggregateEvent") : NULL;
        size_t cpos = peek(p)->pos;
        q->having = parse_or(p);
        if (q->having == NULL || !check_print_depth(p, q->having, cpos))
            return false;
    }
    return true;
}

static void
parse_statement(parser *p, wmi_query *q)
{
    const wql_token *t = next(p);       /* SELECT, checked by the caller */

    /* select list */
    t = peek(p);
    if (t->type == WQL_TOK_STAR) {
        next(p);
    } else if (t->type == WQL_TOK_IDENT) {
        if (!parse_path_list(p, &q->select, &q->nselect))
            return;
    } else {
        expected(p, t, WBEM_E_INVALID_QUERY, "'*' or a property list after SELECT");
        return;
    }

    if (!parse_from(p, q))
        return;

    if (peek(p)->type == WQL_TOK_WITHIN) {
        next(p);
        if (!parse_seconds(p, "WITHIN", &q->within))
            return;
    }

    if (peek(p)->type == WQL_TOK_WHERE) {
        next(p);
        size_t cpos = peek(p)->pos;
        q->where = parse_or(p);
        if (q->where == NULL || !check_print_depth(p, q->where, cpos))
            return;
    }

    t = peek(p);
    if (t->type == WQL_TOK_BY || t->type == WQL_TOK_HAVING ||
        (t->type == WQL_TOK_GROUP && peek2(p)->type != WQL_TOK_WITHIN)) {
        char d[80];
        const wql_token *at = t->type == WQL_TOK_GROUP ? peek2(p) : t;
        wmi__wql_token_describe(p->text, at, d, sizeof d);
        if (t->type == WQL_TOK_GROUP && at->type != WQL_TOK_BY && at->type != WQL_TOK_HAVING)
            expected(p, at, WBEM_E_INVALID_QUERY, "WITHIN after GROUP");
        else
            fail_at(p, WBEM_E_MISSING_GROUP_WITHIN, at->pos, "%s without GROUP WITHIN", d);
        return;
    }
    if (t->type == WQL_TOK_GROUP && !parse_group(p, q))
        return;

    t = peek(p);
    if (t->type != WQL_TOK_EOF) {
        char d[80];
        wmi__wql_token_describe(p->text, t, d, sizeof d);
        fail_at(p, WBEM_E_INVALID_QUERY, t->pos, "unexpected %s after the end of the query", d);
    }
}

wmi_status
wmi_query_parse(const char *text, const wmi_schema *schema, wmi_query **out, wmi_error *err)
{
    parser p;
    memset(&p, 0, sizeof p);
    p.text = text;
    p.schema = schema;
    p.err = err;
    if (out != NULL)
        *out = NULL;
    if (text == NULL || out == NULL) {
        fail_at(&p, WBEM_E_INVALID_PARAMETER, 0, "no query");
        return p.st;
    }
    size_t len = strnlen(text, (size_t)WMI_MAX_QUERY + 1);
    if (len > WMI_MAX_QUERY) {
        fail_at(&p, WBEM_E_UNPARSABLE_QUERY, WMI_MAX_QUERY,
                "query longer than %d bytes", WMI_MAX_QUERY);
        return p.st;
    }

    /* Not a SELECT at all (ASSOCIATORS OF, REFERENCES OF, empty...)? */
    size_t s = 0;
    while (s < len && (text[s] == ' ' || text[s] == '\t' || text[s] == '\r' ||
                       text[s] == '\n' || text[s] == '\f' || text[s] == '\v'))
        s++;
    if (s == len) {
        fail_at(&p, WBEM_E_UNPARSABLE_QUERY, s, "empty query");
        return p.st;
    }
    size_t w = s;
    while (w < len && ((text[w] >= 'A' && text[w] <= 'Z') || (text[w] >= 'a' && text[w] <= 'z') ||
                       (text[w] >= '0' && text[w] <= '9') || text[w] == '_'))
        w++;
    if (w - s != 6 || strncasecmp(text + s, "SELECT", 6) != 0) {
        size_t n = w > s ? w - s : 1;
        if (n > 40)
            n = 40;
        char word[48];
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)text[s + i];
            word[o++] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
        }
        word[o] = '\0';
        fail_at(&p, WBEM_E_UNPARSABLE_QUERY, s,
                "not a SELECT statement: '%s' (only SELECT event queries are supported)", word);
        return p.st;
    }

    wmi_status st = wmi__wql_lex(text, len, &p.toks, err);
    if (st != WBEM_S_NO_ERROR) {
        wmi__wql_tokens_free(&p.toks);
        if (st == WBEM_E_OUT_OF_MEMORY)
            fail_at(&p, st, 0, "out of memory");
        return st;
    }

    wmi_query *q = calloc(1, sizeof *q);
    if (q == NULL) {
        wmi__wql_tokens_free(&p.toks);
        fail_at(&p, WBEM_E_OUT_OF_MEMORY, 0, "out of memory");
        return p.st;
    }
    q->schema = schema;
    q->within = -1.0;
    q->group_within = -1.0;
    parse_statement(&p, q);
    wmi__wql_tokens_free(&p.toks);
    if (p.st == WBEM_S_NO_ERROR) {
        /* The normalised form must parse again: it may not outgrow the
         * length limit (every comparison gains parentheses and spaces). */
        char *norm = wmi_query_to_string(q);
        if (norm == NULL)
            fail_at(&p, WBEM_E_OUT_OF_MEMORY, 0, "out of memory");
        else if (strlen(norm) > WMI_MAX_QUERY)
            fail_at(&p, WBEM_E_UNPARSABLE_QUERY, 0,
                    "query longer than %d bytes once normalised (%zu bytes)", WMI_MAX_QUERY,
                    strlen(norm));
        free(norm);
    }
    if (p.st != WBEM_S_NO_ERROR) {
        query_free(q);
        return p.st;
    }
    *out = q;
    return WBEM_S_NO_ERROR;
}

void
wmi_query_free(wmi_query *query)
{
    query_free(query);
}

/* ====================================================================
 * Accessors
 * ==================================================================== */

const char *
wmi_query_class(const wmi_query *query)
{
    return query ? query->from : NULL;
}

double
wmi_query_within(const wmi_query *query)
{
    return query ? query->within : -1.0;
}

double
wmi_query_group_within(const wmi_query *query)
{
    return query ? query->group_within : -1.0;
}

size_t
wmi_query_group_by_count(const wmi_query *query)
{
    return query ? query->ngroup_by : 0;
}

const char *
wmi_query_group_by_at(const wmi_query *query, size_t index)
{
    if (query == NULL || index >= query->ngroup_by)
        return NULL;
    return query->group_by[index].text;
}

bool
wmi_query_has_having(const wmi_query *query)
{
    return query != NULL && query->having != NULL;
}

/* Is @n "TargetInstance ISA 'X'"? */
static const char *
isa_target_of(const wql_node *n)
{
    if (n->kind == WQL_NODE_ISA && n->path.nseg == 1 &&
        wmi__wql_name_eq(n->path.seg[0], "TargetInstance"))
        return n->isa_class;
    return NULL;
}

/* The ISA targets of the AND chain rooted at @n; nested AND groups are
 * part of it (the depth is bounded by WMI_WQL_MAX_DEPTH). */
static const char *
isa_target_walk(const wmi_query *q, const wql_node *n, const char *best)
{
    if (n->kind == WQL_NODE_AND) {
        for (size_t i = 0; i < n->nchild; i++)
            best = isa_target_walk(q, n->child[i], best);
        return best;
    }
    const char *t = isa_target_of(n);
    if (t == NULL)
        return best;
    if (best == NULL)
        return t;
    /* both hold: the narrower class decides */
    const wmi_class *tc = q->schema ? wmi_schema_get_class(q->schema, t) : NULL;
    if (tc != NULL && !wmi__wql_name_eq(t, best) && wmi_class_isa(tc, best))
        return t;
    return best;
}

const char *
wmi_query_isa_target(const wmi_query *q)
{
    if (q == NULL || q->where == NULL)
        return NULL;
    return isa_target_walk(q, q->where, NULL);
}

/* @n is `path = 'string'` (either way round: the evaluator form keeps the
 * property on the left). */
static bool
string_equality_on(const wql_node *n, const char *path)
{
    return n->kind == WQL_NODE_CMP && n->op == WQL_OP_EQ && n->lit.kind == WQL_LIT_STRING &&
           n->path.text != NULL && wmi__wql_name_eq(n->path.text, path);
}

/* The literals of a term that is one such equality, or an OR of them. */
static size_t
term_equalities(const wql_node *n, const char *path, const char ***out)
{
    size_t count = n->kind == WQL_NODE_OR ? n->nchild : 1;
    if (n->kind == WQL_NODE_OR) {
        for (size_t i = 0; i < n->nchild; i++)
            if (!string_equality_on(n->child[i], path))
                return 0;
    } else if (!string_equality_on(n, path)) {
        return 0;
    }
    *out = malloc(count * sizeof **out);
    if (*out == NULL)
        return 0;
    for (size_t i = 0; i < count; i++)
        (*out)[i] = (n->kind == WQL_NODE_OR ? n->child[i] : n)->lit.text;
    return count;
}

/* The first term of the AND chain at @n (nested AND groups included)
 * that term_equalities accepts. */
static size_t
and_chain_equalities(const wql_node *n, const char *path, const char ***out)
{
    if (n->kind != WQL_NODE_AND)
        return term_equalities(n, path, out);
    for (size_t i = 0; i < n->nchild; i++) {
        size_t count = and_chain_equalities(n->child[i], path, out);
        if (count > 0)
            return count;
    }
    return 0;
}

size_t
wmi_query_equalities(const wmi_query *q, const char *path, const char ***values)
{
    if (values == NULL)
        return 0;
    *values = NULL;
    if (q == NULL || path == NULL || q->where == NULL)
        return 0;
    return and_chain_equalities(q->where, path, values);
}

size_t
wmi_query_select_count(const wmi_query *query)
{
    return query ? query->nselect : 0;
}

const char *
wmi_query_select_at(const wmi_query *query, size_t index)
{
    if (query == NULL || index >= query->nselect)
        return NULL;
    return query->select[index].text;
}

/* ====================================================================
 * Printing
 * ==================================================================== */

static const char *
op_text(wql_op op)
{
    switch (op) {
    case WQL_OP_EQ: return "=";
    case WQL_OP_NE: return "<>";
    case WQL_OP_LT: return "<";
    case WQL_OP_GT: return ">";
    case WQL_OP_LE: return "<=";
    case WQL_OP_GE: return ">=";
    }
    return "?";
}

static bool
print_node(wmi_strbuf *sb, const wql_node *n)
{
    bool ok = true;
    switch (n->kind) {
    case WQL_NODE_AND:
    case WQL_NODE_OR: {
        const char *kw = n->kind == WQL_NODE_AND ? " AND " : " OR ";
        /* one pair of parentheses around a chain of the same operator:
         * ((a) AND (b) AND (c)); AND and OR are associative, and printing
         * a long chain nested would exceed the nesting limit on re-parse */
        ok = wmi__strbuf_putc(sb, '(');
        for (size_t i = 0; i < n->nchild && ok; i++) {
            if (i > 0)
                ok = wmi__strbuf_puts(sb, kw);
            ok = ok && print_node(sb, n->child[i]);
        }
        return ok && wmi__strbuf_putc(sb, ')');
    }
    case WQL_NODE_NOT:
        return wmi__strbuf_puts(sb, "(NOT ") && print_node(sb, n->child[0]) &&
               wmi__strbuf_putc(sb, ')');
    case WQL_NODE_CMP:
        ok = wmi__strbuf_putc(sb, '(');
        if (n->lit_left)
            ok = ok && wmi__wql_literal_print(sb, &n->lit) &&
                 wmi__strbuf_printf(sb, " %s %s", op_text(n->op_written), n->path.text);
        else
            ok = ok && wmi__strbuf_printf(sb, "%s %s ", n->path.text, op_text(n->op_written)) &&
                 wmi__wql_literal_print(sb, &n->lit);
        return ok && wmi__strbuf_putc(sb, ')');
    case WQL_NODE_IS_NULL:
        return wmi__strbuf_printf(sb, "(%s IS NULL)", n->path.text);
    case WQL_NODE_IS_NOT_NULL:
        return wmi__strbuf_printf(sb, "(%s IS NOT NULL)", n->path.text);
    case WQL_NODE_ISA:
        return wmi__strbuf_printf(sb, "(%s ISA ", n->path.text) &&
               print_string(sb, n->isa_class, strlen(n->isa_class)) && wmi__strbuf_putc(sb, ')');
    case WQL_NODE_LIKE:
        return wmi__strbuf_printf(sb, "(%s LIKE ", n->path.text) &&
               wmi__wql_literal_print(sb, &n->lit) && wmi__strbuf_putc(sb, ')');
    }
    return false;
}

static bool
print_paths(wmi_strbuf *sb, const wql_path *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((i > 0 && !wmi__strbuf_puts(sb, ", ")) || !wmi__strbuf_puts(sb, v[i].text))
            return false;
    return true;
}

char *
wmi_query_to_string(const wmi_query *q)
{
    if (q == NULL)
        return NULL;
    wmi_strbuf sb = {0};
    bool ok = wmi__strbuf_puts(&sb, "SELECT ");
    if (q->nselect == 0)
        ok = ok && wmi__strbuf_putc(&sb, '*');
    else
        ok = ok && print_paths(&sb, q->select, q->nselect);
    ok = ok && wmi__strbuf_printf(&sb, " FROM %s", q->from);
    if (q->within >= 0)
        ok = ok && wmi__strbuf_puts(&sb, " WITHIN ") && seconds_print(&sb, q->within);
    if (q->where)
        ok = ok && wmi__strbuf_puts(&sb, " WHERE ") && print_node(&sb, q->where);
    if (q->group_within >= 0) {
        ok = ok && wmi__strbuf_puts(&sb, " GROUP WITHIN ") && seconds_print(&sb, q->group_within);
        if (q->ngroup_by)
            ok = ok && wmi__strbuf_puts(&sb, " BY ") && print_paths(&sb, q->group_by, q->ngroup_by);
        if (q->having)
            ok = ok && wmi__strbuf_puts(&sb, " HAVING ") && print_node(&sb, q->having);
    }
    if (!ok) {
        wmi__strbuf_free(&sb);
        return NULL;
    }
    return wmi__strbuf_detach(&sb);
}
