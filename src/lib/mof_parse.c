/*
 * mof_parse.c - the MOF compiler: a recursive-descent parser over
 * mof_lex.c's tokens that builds class definitions and instances in
 * libwmievent's JSON forms, checks them against a schema as it goes, and
 * resolves aliases at the end of each file (wmievent/mof.h, docs/mof.md).
 *
 * Schemas: every namespace the file names gets an overlay schema: a
 * wmi_schema whose class map holds the base schema's classes (borrowed,
 * not owned: they are not in its list, so wmi_schema_free leaves them)
 * plus the classes this compile defines.  Classes are defined as they are
 * parsed, so a class or instance can only use classes declared before it
 * (as mofcomp stores in file order).
 *
 * Bounds: embedded instances nest at most WMI_MAX_OBJECT_NESTING deep,
 * includes WMI_MOF_MAX_INCLUDE_DEPTH, alias key chains MOF_MAX_ALIAS_DEPTH;
 * a path built from aliases is at most WMI_MOF_MAX_PATH_LENGTH bytes.
 * Everything else is a loop, linear in the input (names are looked up in
 * hash maps).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cimap.h"
#include "lib/mof_internal.h"
#include "lib/object_internal.h"

#define MOF_MAX_ALIAS_DEPTH 32

struct wmi_mof_result {
    wmi_mof_op *ops;
    size_t nops, cap;
    json_t *pragmas;
};

struct mof_ns {
    char *name;
    wmi_schema *schema;
};

/* An instance of the current file, finished at the end of the file. */
struct mof_inst {
    size_t op;          /* its operation in the result */
    json_t *json;       /* the instance, with alias placeholders */
    json_t *lines;      /* property name -> [line, col] */
    char *alias;
    int line, col;
    int state;          /* 0 new, 1 resolving its keys, 2 path known */
    char *path;         /* NULL while unknown or when keyless */
    wmi_schema *schema; /* overlay of its namespace (borrowed) */
};

struct mof_file {
    const char *path;
    char *dir;
    char *real;         /* realpath, for include cycles (may be NULL) */
    char *text;         /* the text as UTF-8 (owned) */
    size_t len;
    struct mof_lexer lx;
    struct mof_token tok;
    char *ns;
    struct mof_ns *nsent;
    cimap aliases;      /* alias -> struct mof_inst * */
    struct mof_inst **insts;
    size_t ninsts, capinsts;
    struct mof_file *parent;
};

struct mof_comp {
    const struct wmi_mof_options *opts;
    const wmi_schema *base;
    wmi_schema *own_base;
    cimap nsmap;        /* name -> struct mof_ns * */
    struct mof_ns **nslist;
    size_t nns, capns;
    wmi_mof_result *res;
    json_t *quals;      /* lower-case qualifier name -> declaration */
    uint32_t classflags, instflags;
    int depth;
    struct mof_file *f;
    wmi_error *err;
    wmi_error local_err;
};

/* Value kinds, for qualifier type checks. */
enum vkind { VK_NULL, VK_BOOL, VK_INT, VK_REAL, VK_STRING, VK_CHAR, VK_ALIAS, VK_OBJECT, VK_ARRAY };

/* What a value may be (parse_value flags). */
#define V_ALIAS    0x1u /* an alias ($A): reference properties of top-level instances */
#define V_EMBEDDED 0x2u /* instance of X {...} */
#define V_ARRAY    0x4u /* {a, b} */
#define V_IN_EMB   0x8u /* we are inside an embedded instance */

/* ====================================================================
 * Errors and tokens
 * ==================================================================== */

static void
tok_desc(const struct mof_token *t, char *buf, size_t n)
{
    if (t->kind == MT_EOF) {
        snprintf(buf, n, "end of file");
        return;
    }
    size_t len = t->len > 40 ? 40 : t->len;
    char tmp[48];
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)t->start[i];
        tmp[j++] = (ch < 0x20 || ch == 0x7F) ? '?' : (char)ch;
    }
    tmp[j] = '\0';
    if (t->kind == MT_STRING || t->kind == MT_CHAR)
        snprintf(buf, n, "%s%s", tmp, t->len > 40 ? "..." : "");
    else
        snprintf(buf, n, "\"%s%s\"", tmp, t->len > 40 ? "..." : "");
}

static wmi_status perr_at(struct mof_comp *c, wmi_status st, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static wmi_status
perr_at(struct mof_comp *c, wmi_status st, int line, int col, const char *fmt, ...)
{
    wmi_error *e = c->err;
    va_list ap;
    e->status = st;
    e->line = line;
    e->column = col;
    snprintf(e->source, sizeof e->source, "%s", c->f ? c->f->path : "");
    va_start(ap, fmt);
    vsnprintf(e->text, sizeof e->text, fmt, ap);
    va_end(ap);
    return st;
}

/* An error at the current token; the message ends with the token. */
static wmi_status perr(struct mof_comp *c, wmi_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static wmi_status
perr(struct mof_comp *c, wmi_status st, const char *fmt, ...)
{
    char msg[200], td[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tok_desc(&c->f->tok, td, sizeof td);
    return perr_at(c, st, c->f->tok.line, c->f->tok.col, "%s, found %s", msg, td);
}

static wmi_status
oom(struct mof_comp *c)
{
    return perr_at(c, WBEM_E_OUT_OF_MEMORY, c->f ? c->f->tok.line : 0, c->f ? c->f->tok.col : 0,
                   "out of memory");
}

static wmi_status
next(struct mof_comp *c)
{
    wmi_status st = mof_lex_next(&c->f->lx, &c->f->tok, c->err);
    if (WMI_FAILED(st)) {
        if (st == WBEM_E_OUT_OF_MEMORY)
            return oom(c);
        snprintf(c->err->source, sizeof c->err->source, "%s", c->f->path);
    }
    return st;
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        wmi_status st_ = (x);                                                                      \
        if (WMI_FAILED(st_))                                                                       \
            return st_;                                                                            \
    } while (0)

static bool
is_punct(const struct mof_comp *c, char p)
{
    return c->f->tok.kind == MT_PUNCT && c->f->tok.punct == p;
}

static bool
is_kw(const struct mof_comp *c, const char *kw)
{
    return mof_tok_is(&c->f->tok, kw);
}

/* Expect punctuation @p, then advance. */
static wmi_status
expect(struct mof_comp *c, char p, wmi_status st)
{
    if (!is_punct(c, p))
        return perr(c, st, "expected \"%c\"", p);
    return next(c);
}

/* The current identifier as a new string. */
static char *
tok_strdup(const struct mof_comp *c)
{
    return strndup(c->f->tok.start, c->f->tok.len);
}

/* ====================================================================
 * Types
 * ==================================================================== */

static const char *const builtin_types[] = {
    "sint8", "uint8", "sint16", "uint16", "sint32", "uint32", "sint64", "uint64", "real32",
    "real64", "boolean", "string", "char16", "datetime", NULL,
};

/* The canonical spelling of a built-in type name, or NULL. */
static const char *
builtin_type(const struct mof_token *t)
{
    for (size_t i = 0; builtin_types[i] != NULL; i++)
        if (mof_tok_is(t, builtin_types[i]))
            return builtin_types[i];
    return NULL;
}

/* ====================================================================
 * Values
 * ==================================================================== */

static wmi_status parse_instance(struct mof_comp *c, int depth, bool embedded, int line, int col,
                                 json_t **out);

static json_t *
json_uint(uint64_t u)
{
    if (u <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)u);
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)u);
    return json_string(buf);
}

/* Advance past a value's last token; on failure drop the value. */
static wmi_status
took(struct mof_comp *c, json_t **out)
{
    if (*out == NULL)
        return oom(c);
    wmi_status st = next(c);
    if (WMI_FAILED(st)) {
        json_decref(*out);
        *out = NULL;
    }
    return st;
}

/* One scalar (or embedded instance or alias); *@out is NULL on failure. */
static wmi_status
parse_scalar(struct mof_comp *c, int depth, unsigned flags, json_t **out, enum vkind *kind)
{
    struct mof_token *t = &c->f->tok;
    *out = NULL;
    if (t->kind == MT_STRING) {
        wmi_strbuf sb = {0};
        while (t->kind == MT_STRING) {
            if (!wmi_strbuf_append(&sb, t->str, t->slen) || !wmi_strbuf_reserve(&sb, 1)) {
                wmi_strbuf_free(&sb);
                return oom(c);
            }
            wmi_status st = next(c);
            if (WMI_FAILED(st)) {
                wmi_strbuf_free(&sb);
                return st;
            }
        }
        *out = json_stringn(sb.data ? sb.data : "", sb.len);
        wmi_strbuf_free(&sb);
        if (*out == NULL)
            return perr(c, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, "a string is not valid UTF-8");
        *kind = VK_STRING;
        return WBEM_S_NO_ERROR;
    }
    if (t->kind == MT_CHAR) {
        *out = json_stringn(t->str, t->slen);
        if (*out == NULL)
            return perr(c, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, "a char16 constant is not valid UTF-8");
        *kind = VK_CHAR;
        return took(c, out);
    }
    bool neg = false;
    if (is_punct(c, '-') || is_punct(c, '+')) {
        neg = t->punct == '-';
        TRY(next(c));
        if (t->kind != MT_INT && t->kind != MT_REAL)
            return perr(c, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, "expected a number after the sign");
    }
    if (t->kind == MT_INT) {
        if (neg) {
            if (t->u > (uint64_t)INT64_MAX + 1)
                return perr(c, WBEMMOF_E_OUT_OF_RANGE, "negative integer below -2^63");
            *out = json_integer(t->u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(json_int_t)t->u);
        } else {
            *out = json_uint(t->u);
        }
        *kind = VK_INT;
        return took(c, out);
    }
    if (t->kind == MT_REAL) {
        *out = json_real(neg ? -t->d : t->d);
        *kind = VK_REAL;
        return took(c, out);
    }
    if (t->kind == MT_IDENT && (mof_tok_is(t, "true") || mof_tok_is(t, "false"))) {
        *out = json_boolean(mof_tok_is(t, "true"));
        *kind = VK_BOOL;
        return took(c, out);
    }
    if (t->kind == MT_IDENT && mof_tok_is(t, "null")) {
        *out = json_null();
        *kind = VK_NULL;
        return took(c, out);
    }
    if (t->kind == MT_ALIAS) {
        if (flags & V_IN_EMB)
            return perr(c, WBEMMOF_E_ALIASES_IN_EMBEDDED, "an embedded instance cannot use aliases");
        if (!(flags & V_ALIAS))
            return perr(c, WBEMMOF_E_UNEXPECTED_ALIAS,
                        "an alias is a value only for a reference property of an instance");
        char *name = strndup(t->start + 1, t->len - 1);
        *out = name ? json_pack("{s:s,s:i,s:i}", "$alias", name, "$line", t->line, "$col", t->col)
                    : NULL;
        free(name);
        *kind = VK_ALIAS;
        return took(c, out);
    }
    if (t->kind == MT_IDENT && mof_tok_is(t, "instance")) {
        if (!(flags & V_EMBEDDED))
            return perr(c, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, "an embedded instance is not allowed here");
        int line = t->line, col = t->col;
        TRY(next(c));
        TRY(parse_instance(c, depth + 1, true, line, col, out));
        *kind = VK_OBJECT;
        return WBEM_S_NO_ERROR;
    }
    return perr(c, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, "expected a constant value");
}

/* A value: a scalar or, when allowed, {a, b, ...}. */
static wmi_status
parse_value(struct mof_comp *c, int depth, unsigned flags, json_t **out, enum vkind *kind,
            enum vkind *elem_kind)
{
    *out = NULL;
    if (!is_punct(c, '{'))
        return parse_scalar(c, depth, flags, out, kind);
    if (!(flags & V_ARRAY))
        return perr(c, WBEMMOF_E_UNEXPECTED_ARRAY_INIT, "an array value for a non-array property or qualifier");
    TRY(next(c));
    json_t *arr = json_array();
    if (arr == NULL)
        return oom(c);
    *kind = VK_ARRAY;
    if (elem_kind != NULL)
        *elem_kind = VK_NULL;
    if (!is_punct(c, '}')) {
        for (;;) {
            json_t *v;
            enum vkind k;
            if (is_punct(c, '{')) {
                json_decref(arr);
                return perr(c, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, "arrays are one-dimensional");
            }
            int eline = c->f->tok.line, ecol = c->f->tok.col;
            wmi_status st = parse_scalar(c, depth, flags, &v, &k);
            if (WMI_FAILED(st)) {
                json_decref(arr);
                return st;
            }
            if (k == VK_NULL) {
                json_decref(v);
                json_decref(arr);
                return perr_at(c, WBEMMOF_E_NULL_ARRAY_ELEM, eline, ecol,
                               "NULL is not allowed as an array element");
            }
            if (elem_kind != NULL && (*elem_kind == VK_NULL || (*elem_kind == VK_INT && k == VK_REAL)))
                *elem_kind = k;
            if (json_array_append_new(arr, v) != 0) {
                json_decref(arr);
                return oom(c);
            }
            if (!is_punct(c, ','))
                break;
            st = next(c);
            if (WMI_FAILED(st)) {
                json_decref(arr);
                return st;
            }
        }
    }
    if (!is_punct(c, '}')) {
        json_decref(arr);
        return perr(c, WBEMMOF_E_EXPECTED_CLOSE_BRACE, "expected \",\" or \"}\" in an array value");
    }
    *out = arr;
    wmi_status st = next(c);
    if (WMI_FAILED(st)) {
        json_decref(arr);
        *out = NULL;
    }
    return st;
}

/* The kind of a constant's JSON form (array elements). */
static enum vkind
json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return VK_STRING;
    case JSON_INTEGER:
        return VK_INT;
    case JSON_REAL:
        return VK_REAL;
    case JSON_TRUE:
    case JSON_FALSE:
        return VK_BOOL;
    case JSON_OBJECT:
        return VK_OBJECT;
    case JSON_ARRAY:
        return VK_ARRAY;
    case JSON_NULL:
        break;
    }
    return VK_NULL;
}

/* Does a value of kind @k fit CIM type name @type (a qualifier's)? */
static bool
kind_fits(enum vkind k, const char *type)
{
    if (k == VK_NULL)
        return true;
    if (strcmp(type, "boolean") == 0)
        return k == VK_BOOL;
    if (strcmp(type, "string") == 0 || strcmp(type, "datetime") == 0)
        return k == VK_STRING;
    if (strcmp(type, "char16") == 0)
        return k == VK_CHAR || k == VK_STRING;
    if (strcmp(type, "real32") == 0 || strcmp(type, "real64") == 0)
        return k == VK_INT || k == VK_REAL;
    return k == VK_INT; /* the integer types */
}

/* ====================================================================
 * Qualifiers
 * ==================================================================== */

static const char *const flavor_names[] = {
    "EnableOverride", "DisableOverride", "ToSubclass", "NotToSubclass", "Restricted",
    "ToInstance", "NotToInstance", "Translatable", "Amended", NULL,
};

static const char *const scope_names[] = {
    "any", "class", "association", "indication", "qualifier", "property", "reference",
    "method", "parameter", "instance", "schema", NULL,
};

static const char *
keyword_in(const struct mof_token *t, const char *const *list)
{
    for (size_t i = 0; list[i] != NULL; i++)
        if (mof_tok_is(t, list[i]))
            return list[i];
    return NULL;
}

/* Flavors that contradict each other. */
static bool
flavors_compatible(const json_t *list, const char *add)
{
    static const char *const pairs[][2] = {
        {"EnableOverride", "DisableOverride"},
        {"ToSubclass", "NotToSubclass"},
        {"ToSubclass", "Restricted"},
        {"ToInstance", "NotToInstance"},
    };
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        const char *have = json_string_value(v);
        for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++)
            if ((strcmp(have, pairs[p][0]) == 0 && strcmp(add, pairs[p][1]) == 0) ||
                (strcmp(have, pairs[p][1]) == 0 && strcmp(add, pairs[p][0]) == 0))
                return false;
    }
    return true;
}

/* Where a qualifier list stands (for declared scopes). */
enum qscope { QS_CLASS, QS_ASSOCIATION, QS_PROPERTY, QS_REFERENCE, QS_METHOD, QS_PARAMETER, QS_INSTANCE };

static bool
scope_allows(const json_t *decl, enum qscope where, bool assoc, bool indication)
{
    const json_t *scopes = json_object_get(decl, "Scope");
    size_t i;
    json_t *v;
    if (!json_is_array(scopes) || json_array_size(scopes) == 0)
        return true;
    json_array_foreach(scopes, i, v) {
        const char *s = json_string_value(v);
        if (strcmp(s, "any") == 0)
            return true;
        switch (where) {
        case QS_CLASS:
        case QS_ASSOCIATION:
            if (strcmp(s, "class") == 0 || (assoc && strcmp(s, "association") == 0) ||
                (indication && strcmp(s, "indication") == 0))
                return true;
            break;
        case QS_PROPERTY:
            if (strcmp(s, "property") == 0)
                return true;
            break;
        case QS_REFERENCE:
            if (strcmp(s, "reference") == 0 || strcmp(s, "property") == 0)
                return true;
            break;
        case QS_METHOD:
            if (strcmp(s, "method") == 0)
                return true;
            break;
        case QS_PARAMETER:
            if (strcmp(s, "parameter") == 0)
                return true;
            break;
        case QS_INSTANCE:
            return true;
        }
    }
    return false;
}

struct qual_use {
    char *name;
    int line, col;
};

/* A qualifier list "[Name, Name(v), Name{a, b} : Flavor Flavor, ...]" at
 * the current '['.  *@quals receives {name: value}, *@flavors {name:
 * [flavor, ...]} (only qualifiers with flavors); @uses (may be NULL)
 * the names with positions, for scope checks by the caller. */
static wmi_status
parse_qualifiers(struct mof_comp *c, json_t **quals, json_t **flavors, json_t **uses)
{
    *quals = json_object();
    *flavors = json_object();
    *uses = json_object();
    cimap seen = {0};
    wmi_status st = WBEM_S_NO_ERROR;

    if (*quals == NULL || *flavors == NULL || *uses == NULL)
        st = oom(c);
    if (WMI_SUCCEEDED(st))
        st = next(c); /* '[' */
    while (WMI_SUCCEEDED(st)) {
        struct mof_token *t = &c->f->tok;
        if (t->kind != MT_IDENT) {
            st = perr(c, WBEMMOF_E_EXPECTED_QUALIFIER_NAME, "expected a qualifier name");
            break;
        }
        char *name = tok_strdup(c);
        if (name == NULL) {
            st = oom(c);
            break;
        }
        int qline = t->line, qcol = t->col;
        if (cimap_get(&seen, name) != NULL) {
            st = perr(c, WBEMMOF_E_DUPLICATE_QUALIFIER, "qualifier %s is given twice", name);
            free(name);
            break;
        }
        st = next(c);
        json_t *val = NULL;
        enum vkind k = VK_BOOL, ek = VK_NULL;
        int vline = c->f->tok.line, vcol = c->f->tok.col;
        bool has_value = true;
        if (WMI_SUCCEEDED(st) && is_punct(c, '(')) {
            st = next(c);
            vline = c->f->tok.line;
            vcol = c->f->tok.col;
            if (WMI_SUCCEEDED(st))
                st = parse_value(c, 0, V_ARRAY, &val, &k, &ek);
            if (WMI_SUCCEEDED(st))
                st = expect(c, ')', WBEMMOF_E_EXPECTED_CLOSE_PAREN);
        } else if (WMI_SUCCEEDED(st) && is_punct(c, '{')) {
            st = parse_value(c, 0, V_ARRAY, &val, &k, &ek);
        } else if (WMI_SUCCEEDED(st)) {
            val = json_true();
            has_value = false;
        }
        /* A declared qualifier's value must fit its type. */
        char lname[256];
        snprintf(lname, sizeof lname, "%s", name);
        for (char *p = lname; *p; p++)
            *p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
        const json_t *decl = json_object_get(c->quals, lname);
        if (WMI_SUCCEEDED(st) && decl != NULL) {
            const char *type = json_string_value(json_object_get(decl, "CIMType"));
            bool is_array = json_is_true(json_object_get(decl, "IsArray"));
            if (type != NULL && has_value) {
                bool ok = k == VK_ARRAY ? is_array : kind_fits(k, type);
                size_t i;
                json_t *e;
                if (k == VK_ARRAY)
                    json_array_foreach(val, i, e) ok = ok && kind_fits(json_kind(e), type);
                if (!ok)
                    st = perr_at(c, WBEMMOF_E_TYPE_MISMATCH, vline, vcol,
                                 "qualifier %s is declared %s%s; this value does not match", name,
                                 type, is_array ? "[]" : "");
            }
        }
        if (WMI_SUCCEEDED(st)) {
            if (json_object_set_new(*quals, name, val) != 0)
                st = oom(c);
        } else {
            json_decref(val);
        }
        if (WMI_SUCCEEDED(st)) {
            json_t *u = json_pack("[i,i]", qline, qcol);
            if (u == NULL || json_object_set_new(*uses, name, u) != 0)
                st = oom(c);
        }
        if (WMI_SUCCEEDED(st)) {
            /* the key lives in the quals object; seen borrows it */
            void *it = json_object_iter_at(*quals, name);
            const char *key = json_object_iter_key(it);
            if (!cimap_put(&seen, key, (void *)key))
                st = oom(c);
        }
        /* Flavors: ": ToSubclass DisableOverride" */
        if (WMI_SUCCEEDED(st) && is_punct(c, ':')) {
            json_t *fl = json_array();
            if (fl == NULL || json_object_set_new(*flavors, name, fl) != 0) {
                st = oom(c);
            } else {
                st = next(c);
                bool any = false;
                while (WMI_SUCCEEDED(st) && c->f->tok.kind == MT_IDENT) {
                    const char *f = keyword_in(&c->f->tok, flavor_names);
                    if (f == NULL) {
                        st = perr(c, WBEMMOF_E_EXPECTED_FLAVOR_TYPE, "expected a flavor");
                        break;
                    }
                    if (!flavors_compatible(fl, f)) {
                        st = perr(c, WBEMMOF_E_INCOMPATIBLE_FLAVOR_TYPES,
                                  "flavor %s contradicts another flavor of %s", f, name);
                        break;
                    }
                    if (json_array_append_new(fl, json_string(f)) != 0)
                        st = oom(c);
                    else
                        st = next(c);
                    any = true;
                }
                if (WMI_SUCCEEDED(st) && !any)
                    st = perr(c, WBEMMOF_E_EXPECTED_FLAVOR_TYPE, "expected a flavor after \":\"");
            }
        }
        /* The flavors of the qualifier's declaration apply too, where the
         * use says nothing to the contrary (a use's ToInstance keeps a
         * declared DisableOverride). */
        const json_t *dfl = decl != NULL ? json_object_get(decl, "Flavor") : NULL;
        if (WMI_SUCCEEDED(st) && json_array_size(dfl) > 0) {
            json_t *fl = json_object_get(*flavors, name);
            if (fl == NULL && (fl = json_array()) != NULL && json_object_set_new(*flavors, name, fl) != 0)
                fl = NULL;
            size_t di;
            json_t *d;
            json_array_foreach(dfl, di, d) {
                bool have = false;
                size_t hi;
                json_t *h;
                json_array_foreach(fl, hi, h) have = have || json_equal(h, d);
                if (fl == NULL)
                    st = oom(c);
                else if (!have && flavors_compatible(fl, json_string_value(d)) && json_array_append(fl, d) != 0)
                    st = oom(c);
                if (WMI_FAILED(st))
                    break;
            }
        }
        free(name);
        if (WMI_FAILED(st))
            break;
        if (is_punct(c, ',')) {
            st = next(c);
            continue;
        }
        if (is_punct(c, ']')) {
            st = next(c);
            break;
        }
        st = perr(c, WBEMMOF_E_EXPECTED_CLOSE_BRACKET, "expected \",\" or \"]\" in a qualifier list");
    }
    cimap_free(&seen);
    if (WMI_FAILED(st)) {
        json_decref(*quals);
        json_decref(*flavors);
        json_decref(*uses);
        *quals = *flavors = *uses = NULL;
    }
    return st;
}

/* Check each used qualifier against its declared scope. */
static wmi_status
check_scopes(struct mof_comp *c, const json_t *uses, enum qscope where, bool assoc, bool indication)
{
    const char *name;
    json_t *pos;
    json_object_foreach((json_t *)uses, name, pos) {
        char lname[256];
        snprintf(lname, sizeof lname, "%s", name);
        for (char *p = lname; *p; p++)
            *p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
        const json_t *decl = json_object_get(c->quals, lname);
        if (decl != NULL && !scope_allows(decl, where, assoc, indication))
            return perr_at(c, WBEMMOF_E_QUALIFIER_USED_OUTSIDE_SCOPE,
                           (int)json_integer_value(json_array_get(pos, 0)),
                           (int)json_integer_value(json_array_get(pos, 1)),
                           "qualifier %s is not declared for this scope", name);
    }
    return WBEM_S_NO_ERROR;
}

/* ====================================================================
 * Result and namespaces
 * ==================================================================== */

static wmi_mof_op *
add_op(struct mof_comp *c, wmi_mof_op_kind kind, int line)
{
    wmi_mof_result *r = c->res;
    if (r->nops == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 16;
        wmi_mof_op *n = realloc(r->ops, ncap * sizeof *n);
        if (n == NULL)
            return NULL;
        r->ops = n;
        r->cap = ncap;
    }
    wmi_mof_op *op = &r->ops[r->nops];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->line = line;
    op->ns = strdup(c->f->ns);
    op->source = strdup(c->f->path);
    if (op->ns == NULL || op->source == NULL) {
        free((char *)op->ns);
        free((char *)op->source);
        return NULL;
    }
    r->nops++;
    return op;
}

static void
op_free(wmi_mof_op *op)
{
    free((char *)op->ns);
    free((char *)op->source);
    free((char *)op->target);
    free((char *)op->alias);
    json_decref((json_t *)op->json);
}

/* A schema holding @base's classes (borrowed) and nothing of its own yet. */
static wmi_schema *
overlay_new(const wmi_schema *base)
{
    wmi_schema *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    atomic_init(&s->refs, 1);
    for (size_t i = 0; i < base->nlist; i++) {
        if (!cimap_put(&s->classes, base->list[i]->name, base->list[i])) {
            wmi_schema_free(s);
            return NULL;
        }
    }
    return s;
}

/* Switch the current file to namespace @name (taken). */
static wmi_status
set_namespace(struct mof_comp *c, char *name)
{
    struct mof_ns *e = cimap_get(&c->nsmap, name);
    if (e == NULL) {
        e = calloc(1, sizeof *e);
        if (e == NULL) {
            free(name);
            return oom(c);
        }
        e->name = strdup(name);
        e->schema = overlay_new(c->base);
        if (c->nns == c->capns) {
            size_t ncap = c->capns ? c->capns * 2 : 8;
            struct mof_ns **nl = realloc(c->nslist, ncap * sizeof *nl);
            if (nl != NULL) {
                c->nslist = nl;
                c->capns = ncap;
            }
        }
        if (e->name == NULL || e->schema == NULL || c->nns == c->capns ||
            !cimap_put(&c->nsmap, e->name, e)) {
            free(e->name);
            wmi_schema_free(e->schema);
            free(e);
            free(name);
            return oom(c);
        }
        c->nslist[c->nns++] = e;
    }
    free(c->f->ns);
    c->f->ns = name;
    c->f->nsent = e;
    return WBEM_S_NO_ERROR;
}

/*
 * Normalise a namespace path: "\\\\.\\root\\x", "//./root/x", "\\root\\x"
 * and "root\\x" are absolute; anything else is relative to @cur.  Returns
 * a new string, or NULL when malformed.
 */
static char *
namespace_path(const char *spec, const char *cur)
{
    size_t n = strlen(spec);
    char *s = malloc(n + 1);
    if (s == NULL)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        s[i] = spec[i] == '/' ? '\\' : spec[i];
    const char *p = s;
    bool absolute = false;
    if (p[0] == '\\' && p[1] == '\\') {
        p += 2;
        const char *e = strchr(p, '\\');
        if (e == NULL || e == p) {
            free(s);
            return NULL;
        }
        p = e + 1;
        absolute = true;
    } else if (p[0] == '\\') {
        p++;
        absolute = true;
    }
    if (strncasecmp(p, "root", 4) == 0 && (p[4] == '\0' || p[4] == '\\'))
        absolute = true;
    size_t plen = strlen(p);
    while (plen > 0 && p[plen - 1] == '\\')
        plen--;
    /* Components: names (letters, digits, '_', non-ASCII), none empty. */
    bool ok = plen > 0;
    for (size_t i = 0; ok && i < plen; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '\\')
            ok = i > 0 && p[i - 1] != '\\';
        else
            ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                 ch == '_' || ch >= 0x80;
    }
    char *out = NULL;
    if (ok) {
        size_t clen = absolute ? 0 : strlen(cur) + 1;
        out = malloc(clen + plen + 1);
        if (out != NULL) {
            if (!absolute) {
                memcpy(out, cur, clen - 1);
                out[clen - 1] = '\\';
            }
            memcpy(out + clen, p, plen);
            out[clen + plen] = '\0';
        }
    }
    free(s);
    return out;
}

/* ====================================================================
 * Qualifier declarations
 * ==================================================================== */

/* "Qualifier Name : type[] = value, Scope(...), Flavor(...);" after "Qualifier". */
static wmi_status
parse_qualifier_decl(struct mof_comp *c, int line)
{
    struct mof_token *t = &c->f->tok;
    if (t->kind != MT_IDENT)
        return perr(c, WBEMMOF_E_EXPECTED_QUALIFIER_NAME, "expected a qualifier name");
    char *name = tok_strdup(c);
    json_t *decl = json_object();
    wmi_status st = (name && decl) ? WBEM_S_NO_ERROR : oom(c);
    const char *type = NULL;
    bool is_array = false;

    if (WMI_SUCCEEDED(st) && json_object_set_new(decl, "Name", json_string(name)) != 0)
        st = oom(c);
    if (WMI_SUCCEEDED(st))
        st = next(c);
    if (WMI_SUCCEEDED(st) && !is_punct(c, ':'))
        st = perr(c, WBEMMOF_E_INVALID_QUALIFIER_SYNTAX, "expected \":\" and the qualifier's type");
    if (WMI_SUCCEEDED(st))
        st = next(c);
    if (WMI_SUCCEEDED(st)) {
        type = builtin_type(t);
        if (type == NULL)
            st = perr(c, t->kind == MT_IDENT ? WBEMMOF_E_UNRECOGNIZED_TYPE : WBEMMOF_E_EXPECTED_TYPE_IDENTIFIER,
                      "expected the qualifier's type");
    }
    if (WMI_SUCCEEDED(st))
        st = next(c);
    if (WMI_SUCCEEDED(st) && is_punct(c, '[')) {
        is_array = true;
        st = next(c);
        if (WMI_SUCCEEDED(st) && t->kind == MT_INT)
            st = next(c);
        if (WMI_SUCCEEDED(st))
            st = expect(c, ']', WBEMMOF_E_EXPECTED_CLOSE_BRACKET);
    }
    if (WMI_SUCCEEDED(st)) {
        char tn[32];
        snprintf(tn, sizeof tn, "%s%s", type, is_array ? "[]" : "");
        if (json_object_set_new(decl, "CIMType", json_string(type)) != 0 ||
            json_object_set_new(decl, "IsArray", json_boolean(is_array)) != 0)
            st = oom(c);
    }
    if (WMI_SUCCEEDED(st) && is_punct(c, '=')) {
        st = next(c);
        int vline = t->line, vcol = t->col;
        json_t *v = NULL;
        enum vkind k = VK_NULL, ek = VK_NULL;
        if (WMI_SUCCEEDED(st))
            st = parse_value(c, 0, is_array ? V_ARRAY : 0, &v, &k, &ek);
        bool fits = k == VK_ARRAY || kind_fits(k, type);
        for (size_t i = 0; WMI_SUCCEEDED(st) && k == VK_ARRAY && i < json_array_size(v); i++)
            fits = fits && kind_fits(json_kind(json_array_get(v, i)), type);
        if (WMI_SUCCEEDED(st) && !fits)
            st = perr_at(c, WBEMMOF_E_TYPE_MISMATCH, vline, vcol,
                         "the default of qualifier %s does not match its type %s", name, type);
        if (WMI_SUCCEEDED(st)) {
            if (json_object_set_new(decl, "Default", v) != 0)
                st = oom(c);
        } else {
            json_decref(v);
        }
    }
    bool had_scope = false, had_flavor = false;
    while (WMI_SUCCEEDED(st) && is_punct(c, ',')) {
        st = next(c);
        if (WMI_FAILED(st))
            break;
        bool scope = is_kw(c, "scope"), flavor = is_kw(c, "flavor");
        if ((!scope && !flavor) || (scope && had_scope) || (flavor && had_flavor)) {
            st = perr(c, WBEMMOF_E_INVALID_QUALIFIER_SYNTAX, "expected Scope(...) or Flavor(...)");
            break;
        }
        had_scope |= scope;
        had_flavor |= flavor;
        st = next(c);
        if (WMI_SUCCEEDED(st))
            st = expect(c, '(', WBEMMOF_E_EXPECTED_OPEN_PAREN);
        if (WMI_FAILED(st))
            break;
        json_t *list = json_array();
        if (list == NULL || json_object_set_new(decl, scope ? "Scope" : "Flavor", list) != 0) {
            st = oom(c);
            break;
        }
        while (WMI_SUCCEEDED(st)) {
            const char *kw = keyword_in(t, scope ? scope_names : flavor_names);
            if (kw == NULL) {
                st = scope ? perr(c, WBEMMOF_E_INVALID_QUALIFIER_SYNTAX, "expected a scope keyword")
                           : perr(c, WBEMMOF_E_EXPECTED_FLAVOR_TYPE, "expected a flavor keyword");
                break;
            }
            if (!scope && !flavors_compatible(list, kw)) {
                st = perr(c, WBEMMOF_E_INCOMPATIBLE_FLAVOR_TYPES, "flavor %s contradicts another", kw);
                break;
            }
            if (json_array_append_new(list, json_string(kw)) != 0) {
                st = oom(c);
                break;
            }
            st = next(c);
            if (WMI_FAILED(st) || !is_punct(c, ','))
                break;
            st = next(c);
        }
        if (WMI_SUCCEEDED(st))
            st = expect(c, ')', WBEMMOF_E_EXPECTED_CLOSE_PAREN);
    }
    if (WMI_SUCCEEDED(st) && !is_punct(c, ';'))
        st = perr(c, WBEMMOF_E_EXPECTED_SEMI, "expected \";\" (or \", Scope(...)\", \", Flavor(...)\")");
    if (WMI_SUCCEEDED(st))
        st = next(c);
    if (WMI_SUCCEEDED(st)) {
        char lname[256];
        snprintf(lname, sizeof lname, "%s", name);
        for (char *p = lname; *p; p++)
            *p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
        wmi_mof_op *op = add_op(c, WMI_MOF_QUALIFIER, line);
        if (op == NULL || json_object_set(c->quals, lname, decl) != 0) {
            st = oom(c);
        } else {
            op->json = decl;
            decl = NULL;
        }
    }
    json_decref(decl);
    free(name);
    return st;
}

/* ====================================================================
 * Classes
 * ==================================================================== */

/* Copy the qualifiers of a feature into its JSON property object. */
static wmi_status
put_feature_quals(struct mof_comp *c, json_t *prop, json_t *quals, json_t *flavors)
{
    const char *k;
    json_t *v;
    bool write = json_is_true(json_object_get(quals, "write")) ||
                 json_is_true(json_object_get(quals, "Write"));
    json_object_foreach(quals, k, v) {
        if (strcasecmp(k, "CIMType") == 0 || strcasecmp(k, "Default") == 0 ||
            strcasecmp(k, "__FLAVORS") == 0)
            continue;
        const char *key = k;
        if (strcasecmp(k, "key") == 0)
            key = "Key";
        else if (strcasecmp(k, "not_null") == 0)
            key = "not_null";
        else if (strcasecmp(k, "template") == 0)
            key = "Template";
        else if (strcasecmp(k, "read") == 0) {
            /* [read] marks a read-only property only without [write]. */
            if (write)
                continue;
            key = "read";
        }
        if (json_object_set(prop, key, v) != 0)
            return oom(c);
    }
    if (json_object_size(flavors) > 0 && json_object_set(prop, "__FLAVORS", flavors) != 0)
        return oom(c);
    return WBEM_S_NO_ERROR;
}

/* A type: built-in, "object", "object ref", "Class ref".  *@type is a new
 * string in the JSON class form ("uint32", "object", "ref", "ref:Foo");
 * *@is_ref set for references. */
static wmi_status
parse_type(struct mof_comp *c, bool allow_void, char **type, bool *is_ref, bool *is_object)
{
    struct mof_token *t = &c->f->tok;
    *type = NULL;
    *is_ref = *is_object = false;
    if (t->kind != MT_IDENT)
        return perr(c, WBEMMOF_E_EXPECTED_TYPE_IDENTIFIER, "expected a type");
    const char *b = builtin_type(t);
    if (b != NULL) {
        *type = strdup(b);
        return *type ? next(c) : oom(c);
    }
    if (allow_void && mof_tok_is(t, "void")) {
        *type = strdup("void");
        return *type ? next(c) : oom(c);
    }
    if (mof_tok_is(t, "typedef") || mof_tok_is(t, "enum"))
        return perr(c, WBEMMOF_E_TYPEDEF_NOT_SUPPORTED, "typedefs and enumerations are not supported");
    bool object = mof_tok_is(t, "object");
    char *cls = tok_strdup(c);
    if (cls == NULL)
        return oom(c);
    int line = t->line, col = t->col;
    wmi_status st = next(c);
    if (WMI_FAILED(st)) {
        free(cls);
        return st;
    }
    if (is_kw(c, "ref")) {
        *is_ref = true;
        if (object) {
            *type = strdup("ref");
        } else {
            *type = malloc(strlen(cls) + 5);
            if (*type)
                sprintf(*type, "ref:%s", cls);
        }
        free(cls);
        return *type ? next(c) : oom(c);
    }
    if (object) {
        free(cls);
        *is_object = true;
        *type = strdup("object");
        return *type ? WBEM_S_NO_ERROR : oom(c);
    }
    char td[64];
    snprintf(td, sizeof td, "%s", cls);
    free(cls);
    return perr_at(c, WBEMMOF_E_UNRECOGNIZED_TYPE, line, col,
                   "unknown type \"%s\" (a class name is a type only with \"ref\")", td);
}

/* Parameters of a method after '(' up to and including ')'. */
static wmi_status
parse_params(struct mof_comp *c, json_t *params)
{
    struct mof_token *t = &c->f->tok;
    if (is_punct(c, ')'))
        return next(c);
    for (;;) {
        json_t *q = NULL, *fl = NULL, *uses = NULL;
        char *type = NULL;
        bool is_ref, is_obj;
        wmi_status st = WBEM_S_NO_ERROR;
        if (is_punct(c, '['))
            st = parse_qualifiers(c, &q, &fl, &uses);
        if (WMI_SUCCEEDED(st))
            st = parse_type(c, false, &type, &is_ref, &is_obj);
        if (WMI_SUCCEEDED(st) && uses != NULL)
            st = check_scopes(c, uses, QS_PARAMETER, false, false);
        char *pname = NULL;
        if (WMI_SUCCEEDED(st) && t->kind != MT_IDENT)
            st = perr(c, WBEMMOF_E_EXPECTED_PROPERTY_NAME, "expected a parameter name");
        if (WMI_SUCCEEDED(st)) {
            pname = tok_strdup(c);
            st = pname ? next(c) : oom(c);
        }
        bool arr = false;
        if (WMI_SUCCEEDED(st) && is_punct(c, '[')) {
            arr = true;
            st = next(c);
            if (WMI_SUCCEEDED(st) && t->kind == MT_INT)
                st = next(c);
            if (WMI_SUCCEEDED(st))
                st = expect(c, ']', WBEMMOF_E_EXPECTED_CLOSE_BRACKET);
        }
        if (WMI_SUCCEEDED(st) && is_punct(c, '=')) {
            json_t *v = NULL;
            enum vkind k;
            st = next(c);
            if (WMI_SUCCEEDED(st))
                st = parse_value(c, 0, arr ? V_ARRAY : 0, &v, &k, NULL);
            json_decref(v);
        }
        if (WMI_SUCCEEDED(st)) {
            char *tn = type ? malloc(strlen(type) + 3) : NULL;
            if (tn != NULL)
                sprintf(tn, "%s%s", type, arr ? "[]" : "");
            json_t *p = tn ? json_pack("{s:s,s:s}", "Name", pname, "CIMType", tn) : NULL;
            free(tn);
            if (p != NULL && q != NULL && json_object_size(q) > 0 &&
                json_object_set(p, "Qualifiers", q) != 0) {
                json_decref(p);
                p = NULL;
            }
            if (p == NULL || json_array_append_new(params, p) != 0)
                st = oom(c);
        }
        free(pname);
        free(type);
        json_decref(q);
        json_decref(fl);
        json_decref(uses);
        if (WMI_FAILED(st))
            return st;
        if (is_punct(c, ',')) {
            TRY(next(c));
            continue;
        }
        return expect(c, ')', WBEMMOF_E_EXPECTED_CLOSE_PAREN);
    }
}

struct name_set {
    cimap map;
    char **names;
    size_t n, cap;
};

/* Add a name; false if present (case-insensitive) or out of memory (*oom). */
static bool
name_set_add(struct name_set *s, const char *name, bool *nomem)
{
    *nomem = false;
    if (cimap_get(&s->map, name) != NULL)
        return false;
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 16;
        char **nn = realloc(s->names, ncap * sizeof *nn);
        if (nn == NULL) {
            *nomem = true;
            return false;
        }
        s->names = nn;
        s->cap = ncap;
    }
    char *d = strdup(name);
    if (d == NULL || !cimap_put(&s->map, d, d)) {
        free(d);
        *nomem = true;
        return false;
    }
    s->names[s->n++] = d;
    return true;
}

static void
name_set_free(struct name_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->names[i]);
    free(s->names);
    cimap_free(&s->map);
}

/* Position of a property of the class being defined, for errors. */
static void
prop_pos(const json_t *lines, const char *source, int *line, int *col)
{
    const char *dot = strchr(source, '.');
    if (dot == NULL)
        return;
    char name[256];
    size_t n = strcspn(dot + 1, ".[");
    if (n >= sizeof name)
        return;
    memcpy(name, dot + 1, n);
    name[n] = '\0';
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)lines, k, v) {
        if (strcasecmp(k, name) == 0) {
            *line = (int)json_integer_value(json_array_get(v, 0));
            *col = (int)json_integer_value(json_array_get(v, 1));
            return;
        }
    }
}

/* "class Name : Super { features };" after "class". */
static wmi_status
parse_class(struct mof_comp *c, json_t *cquals, json_t *cflav, json_t *cuses, int line, int col)
{
    struct mof_token *t = &c->f->tok;
    json_t *def = NULL, *props = NULL, *methods = NULL, *lines = NULL;
    struct name_set names = {0};
    char *cname = NULL, *sname = NULL;
    wmi_status st = WBEM_S_NO_ERROR;
    int nline = t->line, ncol = t->col;

    if (t->kind != MT_IDENT)
        return perr(c, WBEMMOF_E_EXPECTED_CLASS_NAME, "expected a class name");
    cname = tok_strdup(c);
    def = json_object();
    props = json_object();
    methods = json_object();
    lines = json_object();
    if (cname == NULL || def == NULL || props == NULL || methods == NULL || lines == NULL) {
        st = oom(c);
        goto out;
    }
    bool assoc = json_is_true(json_object_get(cquals, "Association")) ||
                 json_is_true(json_object_get(cquals, "association"));
    bool indication = json_is_true(json_object_get(cquals, "Indication")) ||
                      json_is_true(json_object_get(cquals, "indication"));
    if (cuses != NULL && WMI_FAILED(st = check_scopes(c, cuses, QS_CLASS, assoc, indication)))
        goto out;
    if (WMI_FAILED(st = next(c)))
        goto out;
    if (is_punct(c, ':')) {
        if (WMI_FAILED(st = next(c)))
            goto out;
        if (t->kind != MT_IDENT) {
            st = perr(c, WBEMMOF_E_EXPECTED_CLASS_NAME, "expected the superclass name");
            goto out;
        }
        sname = tok_strdup(c);
        if (sname == NULL) {
            st = oom(c);
            goto out;
        }
        if (WMI_FAILED(st = next(c)))
            goto out;
    }
    if (is_kw(c, "as") || t->kind == MT_ALIAS) {
        st = perr(c, WBEMMOF_E_UNEXPECTED_ALIAS, "a class declaration cannot have an alias");
        goto out;
    }
    if (!is_punct(c, '{')) {
        st = perr(c, WBEMMOF_E_EXPECTED_OPEN_BRACE, "expected \"{\" to open the class body");
        goto out;
    }
    if (WMI_FAILED(st = next(c)))
        goto out;
    while (!is_punct(c, '}')) {
        json_t *q = NULL, *fl = NULL, *uses = NULL, *prop = NULL;
        char *type = NULL, *pname = NULL;
        bool is_ref = false, is_obj = false;
        int pline = t->line, pcol = t->col;
        if (t->kind == MT_EOF) {
            st = perr(c, WBEMMOF_E_EXPECTED_CLOSE_BRACE, "expected \"}\" to close class %s", cname);
            goto out;
        }
        if (is_punct(c, '['))
            st = parse_qualifiers(c, &q, &fl, &uses);
        if (WMI_SUCCEEDED(st) && t->kind != MT_IDENT)
            st = perr(c, WBEMMOF_E_EXPECTED_BRACE_OR_BAD_TYPE, "expected a property or method type or \"}\"");
        if (WMI_SUCCEEDED(st))
            st = parse_type(c, true, &type, &is_ref, &is_obj);
        if (WMI_SUCCEEDED(st) && t->kind != MT_IDENT)
            st = perr(c, WBEMMOF_E_EXPECTED_PROPERTY_NAME, "expected a property or method name");
        if (WMI_SUCCEEDED(st)) {
            pname = tok_strdup(c);
            pline = t->line;
            pcol = t->col;
            bool nomem;
            if (pname == NULL)
                st = oom(c);
            else if (!name_set_add(&names, pname, &nomem))
                st = nomem ? oom(c)
                           : perr(c, WBEMMOF_E_DUPLICATE_PROPERTY, "%s is declared twice in class %s",
                                  pname, cname);
        }
        if (WMI_SUCCEEDED(st))
            st = next(c);
        if (WMI_SUCCEEDED(st) && is_punct(c, '(')) {
            /* A method: kept in "__METHODS", not used by wmieventd. */
            json_t *params = json_array();
            json_t *m = json_object();
            if (uses != NULL)
                st = check_scopes(c, uses, QS_METHOD, false, false);
            if (WMI_SUCCEEDED(st))
                st = next(c);
            if (WMI_SUCCEEDED(st) && (params == NULL || m == NULL))
                st = oom(c);
            if (WMI_SUCCEEDED(st))
                st = parse_params(c, params);
            if (WMI_SUCCEEDED(st) && is_punct(c, '['))
                st = perr(c, WBEMMOF_E_NO_ARRAYS_RETURNED, "a method cannot return an array");
            if (WMI_SUCCEEDED(st) &&
                (json_object_set_new(m, "ReturnType", json_string(type)) != 0 ||
                 json_object_set(m, "Parameters", params) != 0 ||
                 (q != NULL && json_object_set(m, "Qualifiers", q) != 0) ||
                 json_object_set(methods, pname, m) != 0))
                st = oom(c);
            json_decref(params);
            json_decref(m);
        } else if (WMI_SUCCEEDED(st)) {
            bool arr = false;
            if (strcmp(type, "void") == 0)
                st = perr_at(c, WBEMMOF_E_UNRECOGNIZED_TYPE, pline, pcol,
                             "a property cannot be void");
            if (WMI_SUCCEEDED(st) && uses != NULL)
                st = check_scopes(c, uses, is_ref ? QS_REFERENCE : QS_PROPERTY, false, false);
            if (WMI_SUCCEEDED(st) && is_punct(c, '[')) {
                arr = true;
                st = next(c);
                if (WMI_SUCCEEDED(st) && t->kind == MT_INT)
                    st = next(c);
                if (WMI_SUCCEEDED(st))
                    st = expect(c, ']', WBEMMOF_E_EXPECTED_CLOSE_BRACKET);
            }
            /* [EmbeddedObject] / [EmbeddedInstance("C")] string, and
             * [CIMTYPE("object:C")] object, are embedded objects of C. */
            const char *eiv = NULL;
            const json_t *ei = NULL;
            if (q != NULL) {
                const char *k;
                json_t *v;
                json_object_foreach(q, k, v) {
                    if (strcasecmp(k, "EmbeddedInstance") == 0 || strcasecmp(k, "CIMTYPE") == 0 ||
                        strcasecmp(k, "EmbeddedObject") == 0)
                        ei = v, eiv = k;
                }
            }
            if (WMI_SUCCEEDED(st) && ei != NULL) {
                char *nt = NULL;
                if (strcasecmp(eiv, "EmbeddedObject") == 0 && json_is_true(ei) &&
                    strcmp(type, "string") == 0) {
                    nt = strdup("object");
                } else if (strcasecmp(eiv, "EmbeddedInstance") == 0 && json_is_string(ei) &&
                           strcmp(type, "string") == 0) {
                    nt = malloc(strlen(json_string_value(ei)) + 8);
                    if (nt)
                        sprintf(nt, "object:%s", json_string_value(ei));
                } else if (strcasecmp(eiv, "CIMTYPE") == 0 && is_obj && json_is_string(ei) &&
                           strncasecmp(json_string_value(ei), "object:", 7) == 0) {
                    nt = malloc(strlen(json_string_value(ei)) + 1);
                    if (nt)
                        sprintf(nt, "object:%s", json_string_value(ei) + 7);
                } else if (strcasecmp(eiv, "CIMTYPE") == 0 && json_is_string(ei) &&
                           strncasecmp(json_string_value(ei), "object", 6) == 0 && !is_obj) {
                    st = perr_at(c, WBEMMOF_E_CIMTYPE_QUALIFIER, pline, pcol,
                                 "CIMTYPE(\"%s\") on a %s property", json_string_value(ei), type);
                }
                if (nt != NULL) {
                    free(type);
                    type = nt;
                    is_obj = true;
                }
            }
            char *tn = NULL;
            if (WMI_SUCCEEDED(st)) {
                tn = malloc(strlen(type) + 3);
                if (tn != NULL)
                    sprintf(tn, "%s%s", type, arr ? "[]" : "");
                prop = tn ? json_pack("{s:s}", "CIMType", tn) : NULL;
                free(tn);
                if (prop == NULL)
                    st = oom(c);
            }
            if (WMI_SUCCEEDED(st) && q != NULL)
                st = put_feature_quals(c, prop, q, fl);
            if (WMI_SUCCEEDED(st) && is_punct(c, '=')) {
                json_t *v = NULL;
                enum vkind k;
                st = next(c);
                if (WMI_SUCCEEDED(st))
                    st = parse_value(c, 0, (arr ? V_ARRAY : 0) | (is_obj ? V_EMBEDDED : 0), &v, &k,
                                     NULL);
                if (WMI_SUCCEEDED(st)) {
                    if (json_object_set_new(prop, "Default", v) != 0)
                        st = oom(c);
                } else {
                    json_decref(v);
                }
            }
            if (WMI_SUCCEEDED(st) &&
                (json_object_set(props, pname, prop) != 0 ||
                 json_object_set_new(lines, pname, json_pack("[i,i]", pline, pcol)) != 0))
                st = oom(c);
        }
        if (WMI_SUCCEEDED(st) && !is_punct(c, ';'))
            st = perr(c, WBEMMOF_E_EXPECTED_SEMI, "expected \";\" after %s", pname ? pname : "the feature");
        if (WMI_SUCCEEDED(st))
            st = next(c);
        json_decref(q);
        json_decref(fl);
        json_decref(uses);
        json_decref(prop);
        free(type);
        free(pname);
        if (WMI_FAILED(st))
            goto out;
    }
    if (WMI_FAILED(st = next(c)))
        goto out;
    if (!is_punct(c, ';')) {
        st = perr(c, WBEMMOF_E_EXPECTED_SEMI, "expected \";\" after the class body");
        goto out;
    }
    if (WMI_FAILED(st = next(c)))
        goto out;

    if (json_object_set_new(def, "__CLASS", json_string(cname)) != 0 ||
        (sname != NULL && json_object_set_new(def, "__SUPERCLASS", json_string(sname)) != 0) ||
        json_object_set(def, "__QUALIFIERS", cquals) != 0 ||
        (json_object_size(cflav) > 0 && json_object_set(def, "__FLAVORS", cflav) != 0) ||
        json_object_set(def, "__PROPERTIES", props) != 0 ||
        (json_object_size(methods) > 0 && json_object_set(def, "__METHODS", methods) != 0)) {
        st = oom(c);
        goto out;
    }
    wmi_error e;
    memset(&e, 0, sizeof e);
    wmi_schema *schema = c->f->nsent->schema;
    st = wmi_schema_add_class_json(schema, def, &e);
    if (st == WBEM_E_ALREADY_EXISTS) {
        /* A class that exists is updated (mofcomp's default classflags);
         * instances are checked against the definition that exists. */
        st = WBEM_S_NO_ERROR;
    } else if (WMI_FAILED(st)) {
        int el = nline, ec = ncol;
        if (st == WBEM_E_INVALID_SUPERCLASS && sname != NULL)
            snprintf(e.text, sizeof e.text, "superclass %s is not defined in %s", sname, c->f->ns);
        else
            prop_pos(lines, e.source, &el, &ec);
        st = perr_at(c, st, el, ec, "class %s: %s", cname, e.text);
        goto out;
    }
    wmi_mof_op *op = add_op(c, WMI_MOF_CLASS, line);
    if (op == NULL) {
        st = oom(c);
        goto out;
    }
    op->json = def;
    op->flags = c->classflags;
    def = NULL;
    (void)col;
out:
    json_decref(def);
    json_decref(props);
    json_decref(methods);
    json_decref(lines);
    name_set_free(&names);
    free(cname);
    free(sname);
    return st;
}

/* ====================================================================
 * Instances
 * ==================================================================== */

static void
inst_free(struct mof_inst *in)
{
    if (in == NULL)
        return;
    json_decref(in->json);
    json_decref(in->lines);
    free(in->alias);
    free(in->path);
    free(in);
}

/* "instance of Class [as $Alias] { Prop = value; ... }" after "instance";
 * top-level ones end with ';' and are queued on the file, embedded ones
 * are returned in *@out. */
static wmi_status
parse_instance(struct mof_comp *c, int depth, bool embedded, int line, int col, json_t **out)
{
    struct mof_token *t = &c->f->tok;
    wmi_schema *schema = c->f->nsent->schema;
    struct mof_inst *in = NULL;
    json_t *obj = NULL, *lines = NULL;
    char *alias = NULL;
    wmi_status st = WBEM_S_NO_ERROR;
    struct name_set names = {0};

    if (out != NULL)
        *out = NULL;
    if (depth > WMI_MAX_OBJECT_NESTING)
        return perr(c, WBEMMOF_E_INVALID_INSTANCE_DECLARATION,
                    "embedded instances nest more than %d deep", WMI_MAX_OBJECT_NESTING);
    if (!is_kw(c, "of"))
        return perr(c, WBEMMOF_E_INVALID_INSTANCE_DECLARATION, "expected \"of\" after \"instance\"");
    TRY(next(c));
    if (t->kind != MT_IDENT)
        return perr(c, WBEMMOF_E_EXPECTED_CLASS_NAME, "expected a class name");
    const wmi_class *cls;
    {
        char *cn = tok_strdup(c);
        if (cn == NULL)
            return oom(c);
        cls = wmi_schema_get_class(schema, cn);
        if (cls == NULL) {
            st = perr(c, WBEM_E_NOT_FOUND, "class %s is not defined in namespace %s", cn, c->f->ns);
            free(cn);
            return st;
        }
        free(cn);
    }
    TRY(next(c));
    if (is_kw(c, "as")) {
        if (embedded)
            return perr(c, WBEMMOF_E_ALIASES_IN_EMBEDDED, "an embedded instance cannot have an alias");
        TRY(next(c));
        if (t->kind == MT_IDENT)
            return perr(c, WBEMMOF_E_EXPECTED_DOLLAR, "an alias starts with \"$\"");
        if (t->kind != MT_ALIAS)
            return perr(c, WBEMMOF_E_EXPECTED_ALIAS_NAME, "expected an alias ($Name)");
        alias = strndup(t->start + 1, t->len - 1);
        if (alias == NULL)
            return oom(c);
        if (cimap_get(&c->f->aliases, alias) != NULL) {
            st = perr(c, WBEMMOF_E_MULTIPLE_ALIASES, "alias $%s is already defined in this file", alias);
            free(alias);
            return st;
        }
        st = next(c);
        if (WMI_FAILED(st)) {
            free(alias);
            return st;
        }
    }
    obj = json_pack("{s:s}", "__CLASS", wmi_class_name(cls));
    lines = json_object();
    if (obj == NULL || lines == NULL) {
        st = oom(c);
        goto out;
    }
    if (!is_punct(c, '{')) {
        st = perr(c, WBEMMOF_E_EXPECTED_OPEN_BRACE, "expected \"{\" to open the instance body");
        goto out;
    }
    if (WMI_FAILED(st = next(c)))
        goto out;
    while (!is_punct(c, '}')) {
        json_t *q = NULL, *fl = NULL, *uses = NULL, *v = NULL;
        enum vkind k;
        if (t->kind == MT_EOF) {
            st = perr(c, WBEMMOF_E_EXPECTED_CLOSE_BRACE, "expected \"}\" to close the instance");
            goto out;
        }
        if (is_punct(c, '[')) {
            /* Instance-level property qualifiers: accepted, not kept. */
            st = parse_qualifiers(c, &q, &fl, &uses);
            json_decref(q);
            json_decref(fl);
            json_decref(uses);
            if (WMI_FAILED(st))
                goto out;
        }
        if (t->kind != MT_IDENT) {
            st = perr(c, WBEMMOF_E_EXPECTED_PROPERTY_NAME, "expected a property name or \"}\"");
            goto out;
        }
        char *pn = tok_strdup(c);
        if (pn == NULL) {
            st = oom(c);
            goto out;
        }
        const wmi_property *p = wmi_class_find_property(cls, pn);
        bool nomem = false;
        if (p == NULL)
            st = perr(c, WBEM_E_NOT_FOUND, "class %s has no property %s", wmi_class_name(cls), pn);
        else if (!name_set_add(&names, p->name, &nomem))
            st = nomem ? oom(c) : perr(c, WBEMMOF_E_DUPLICATE_PROPERTY, "%s is set twice", pn);
        free(pn);
        if (WMI_FAILED(st))
            goto out;
        int pline = t->line, pcol = t->col;
        if (WMI_FAILED(st = next(c)))
            goto out;
        if (!is_punct(c, '=')) {
            st = perr(c, WBEMMOF_E_EXPECTED_SEMI, "expected \"=\" after %s", p->name);
            goto out;
        }
        if (WMI_FAILED(st = next(c)))
            goto out;
        wmi_cimtype base = (wmi_cimtype)(p->type & ~CIM_FLAG_ARRAY);
        unsigned flags = V_EMBEDDED;
        if (p->type & CIM_FLAG_ARRAY)
            flags |= V_ARRAY;
        if (embedded)
            flags |= V_IN_EMB;
        else if (base == CIM_REFERENCE)
            flags |= V_ALIAS;
        if (WMI_FAILED(st = parse_value(c, depth, flags, &v, &k, NULL)))
            goto out;
        if (json_object_set_new(obj, p->name, v) != 0 ||
            json_object_set_new(lines, p->name, json_pack("[i,i]", pline, pcol)) != 0) {
            st = oom(c);
            goto out;
        }
        if (!is_punct(c, ';')) {
            st = perr(c, WBEMMOF_E_EXPECTED_SEMI, "expected \";\" after the value of %s", p->name);
            goto out;
        }
        if (WMI_FAILED(st = next(c)))
            goto out;
    }
    if (WMI_FAILED(st = next(c)))
        goto out;
    if (embedded) {
        /* Checked with its container; errors name the container's line. */
        *out = obj;
        obj = NULL;
        goto out;
    }
    if (!is_punct(c, ';')) {
        st = perr(c, WBEMMOF_E_EXPECTED_SEMI, "expected \";\" after the instance body");
        goto out;
    }
    if (WMI_FAILED(st = next(c)))
        goto out;
    wmi_mof_op *op = add_op(c, WMI_MOF_INSTANCE, line);
    in = calloc(1, sizeof *in);
    struct mof_file *f = c->f;
    if (op == NULL || in == NULL) {
        st = oom(c);
        goto out;
    }
    op->flags = c->instflags;
    in->op = c->res->nops - 1;
    in->json = obj;
    in->lines = lines;
    in->alias = alias;
    in->line = line;
    in->col = col;
    in->schema = schema;
    obj = lines = NULL;
    alias = NULL;
    if (f->ninsts == f->capinsts) {
        size_t ncap = f->capinsts ? f->capinsts * 2 : 16;
        struct mof_inst **ni = realloc(f->insts, ncap * sizeof *ni);
        if (ni == NULL) {
            st = oom(c);
            goto out;
        }
        f->insts = ni;
        f->capinsts = ncap;
    }
    if (in->alias != NULL && !cimap_put(&f->aliases, in->alias, in)) {
        st = oom(c);
        goto out;
    }
    f->insts[f->ninsts++] = in;
    in = NULL;
out:
    inst_free(in);
    json_decref(obj);
    json_decref(lines);
    free(alias);
    name_set_free(&names);
    return st;
}

/* ====================================================================
 * Aliases and the end of a file
 * ==================================================================== */

static bool
is_placeholder(const json_t *v)
{
    return json_is_object(v) && json_object_get(v, "$alias") != NULL;
}

static wmi_status inst_resolve_keys(struct mof_comp *c, struct mof_inst *in, int depth);

/* The path an alias placeholder stands for (borrowed from the target). */
static wmi_status
placeholder_path(struct mof_comp *c, const json_t *ph, int depth, const char **path)
{
    const char *name = json_string_value(json_object_get(ph, "$alias"));
    int line = (int)json_integer_value(json_object_get(ph, "$line"));
    int col = (int)json_integer_value(json_object_get(ph, "$col"));
    struct mof_inst *target = cimap_get(&c->f->aliases, name);
    if (target == NULL)
        return perr_at(c, WBEM_E_NOT_FOUND, line, col, "alias $%s is not defined in this file", name);
    if (depth > MOF_MAX_ALIAS_DEPTH)
        return perr_at(c, WBEM_E_CIRCULAR_REFERENCE, line, col,
                       "alias $%s: key references nest more than %d deep", name, MOF_MAX_ALIAS_DEPTH);
    if (target->state == 1)
        return perr_at(c, WBEM_E_CIRCULAR_REFERENCE, line, col,
                       "alias $%s: the key references of these instances form a cycle", name);
    TRY(inst_resolve_keys(c, target, depth + 1));
    if (target->path == NULL)
        return perr_at(c, WBEM_E_INVALID_OBJECT_PATH, line, col,
                       "alias $%s: its instance (line %d) has no key values, so no path to refer to",
                       name, target->line);
    *path = target->path;
    return WBEM_S_NO_ERROR;
}

/* Replace the placeholders of one property value (scalar or array). */
static wmi_status
resolve_value(struct mof_comp *c, json_t *obj, const char *prop, int depth)
{
    json_t *v = json_object_get(obj, prop);
    const char *path;
    if (is_placeholder(v)) {
        TRY(placeholder_path(c, v, depth, &path));
        if (json_object_set_new(obj, prop, json_string(path)) != 0)
            return oom(c);
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *e = json_array_get(v, i);
            if (!is_placeholder(e))
                continue;
            TRY(placeholder_path(c, e, depth, &path));
            if (json_array_set_new(v, i, json_string(path)) != 0)
                return oom(c);
        }
    }
    return WBEM_S_NO_ERROR;
}

static void
inst_error_pos(const struct mof_inst *in, const char *source, int *line, int *col)
{
    *line = in->line;
    *col = in->col;
    /* source is "Prop", "Prop.Sub" or "Class.Prop" depending on the layer */
    char buf[300];
    snprintf(buf, sizeof buf, ".%s", source);
    prop_pos(in->lines, buf, line, col);
    if (*line == in->line)
        prop_pos(in->lines, source, line, col);
}

/* Resolve the aliases in @in's key properties and compute its path. */
static wmi_status
inst_resolve_keys(struct mof_comp *c, struct mof_inst *in, int depth)
{
    if (in->state == 2)
        return WBEM_S_NO_ERROR;
    in->state = 1;
    const char *cname = json_string_value(json_object_get(in->json, "__CLASS"));
    const wmi_class *cls = wmi_schema_get_class(in->schema, cname);
    size_t n = cls ? wmi_class_property_count(cls) : 0;
    for (size_t i = 0; i < n; i++) {
        const wmi_property *p = wmi_class_property_at(cls, i);
        if (p->flags & WMI_PROPERTY_KEY)
            TRY(resolve_value(c, in->json, p->name, depth));
    }
    /* The path from the keys alone (other properties may still hold
     * placeholders, and are checked with the whole instance later). */
    wmi_object *o = NULL;
    if (cls != NULL && !(wmi_class_flags(cls) & WMI_CLASS_ABSTRACT) &&
        WMI_SUCCEEDED(wmi_object_new(in->schema, cname, &o))) {
        bool ok = true;
        for (size_t i = 0; i < n && ok; i++) {
            const wmi_property *p = wmi_class_property_at(cls, i);
            json_t *v = json_object_get(in->json, p->name);
            if ((p->flags & WMI_PROPERTY_KEY) && v != NULL)
                ok = WMI_SUCCEEDED(wmi_object_put_json(o, p->name, json_deep_copy(v)));
        }
        if (ok)
            in->path = wmi_object_get_path(o);
        wmi_object_unref(o);
        /* A key without a value (and without a class default) leaves
         * the instance without a path: say so here, where it is. */
        for (size_t i = 0; i < n && ok && in->path == NULL; i++) {
            const wmi_property *p = wmi_class_property_at(cls, i);
            const json_t *v = json_object_get(in->json, p->name);
            if ((p->flags & WMI_PROPERTY_KEY) && (v == NULL || json_is_null(v)) && p->default_value == NULL)
                return perr_at(c, WBEM_E_NO_KEY, in->line, in->col,
                               "instance of %s: key property %s has no value", cname, p->name);
        }
        if (in->path != NULL && strlen(in->path) > WMI_MOF_MAX_PATH_LENGTH) {
            free(in->path);
            in->path = NULL;
            return perr_at(c, WBEM_E_INVALID_OBJECT_PATH, in->line, in->col,
                           "the path of this instance is longer than %d bytes", WMI_MOF_MAX_PATH_LENGTH);
        }
    }
    in->state = 2;
    return WBEM_S_NO_ERROR;
}

/* Resolve every alias of the file, check every instance, fill the ops. */
static wmi_status
finish_file(struct mof_comp *c)
{
    struct mof_file *f = c->f;
    for (size_t i = 0; i < f->ninsts; i++)
        TRY(inst_resolve_keys(c, f->insts[i], 0));
    for (size_t i = 0; i < f->ninsts; i++) {
        struct mof_inst *in = f->insts[i];
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(in->json, tmp, k, v) {
            (void)v;
            TRY(resolve_value(c, in->json, k, 0));
        }
        wmi_object *o = NULL;
        wmi_error e;
        memset(&e, 0, sizeof e);
        wmi_status st = wmi_object_from_json(in->schema, in->json, &o, &e);
        if (WMI_FAILED(st)) {
            int line, col;
            inst_error_pos(in, e.source, &line, &col);
            if (st == WBEM_E_INVALID_CLASS)
                snprintf(e.text, sizeof e.text, "class %s is abstract: it cannot have instances",
                         json_string_value(json_object_get(in->json, "__CLASS")));
            return perr_at(c, st, line, col, "%s%s%s", e.source, e.source[0] ? ": " : "", e.text);
        }
        const wmi_class *cls = wmi_object_class(o);
        bool has_keys = (wmi_class_flags(cls) & WMI_CLASS_SINGLETON) != 0;
        for (size_t p = 0; p < wmi_class_property_count(cls) && !has_keys; p++)
            has_keys = (wmi_class_property_at(cls, p)->flags & WMI_PROPERTY_KEY) != 0;
        if (has_keys && in->path == NULL) {
            wmi_object_unref(o);
            return perr_at(c, WBEM_E_NO_KEY, in->line, in->col,
                           "instance of %s: every key property needs a value", wmi_class_name(cls));
        }
        wmi_mof_op *op = &c->res->ops[in->op];
        op->json = json_deep_copy(wmi_object_json(o));
        wmi_object_unref(o);
        if (op->json == NULL)
            return oom(c);
        /* Later instances of the file may still refer to this one. */
        if ((in->path != NULL && (op->target = strdup(in->path)) == NULL) ||
            (in->alias != NULL && (op->alias = strdup(in->alias)) == NULL))
            return oom(c);
    }
    return WBEM_S_NO_ERROR;
}

/* ====================================================================
 * Pragmas
 * ==================================================================== */

static wmi_status compile_file(struct mof_comp *c, const char *path, const char *text, size_t len,
                               int line, int col);

/* '(' "string" ')' : the string, new. */
static wmi_status
pragma_string_arg(struct mof_comp *c, wmi_status bad, char **out)
{
    struct mof_token *t = &c->f->tok;
    json_t *v = NULL;
    enum vkind k;
    *out = NULL;
    if (!is_punct(c, '('))
        return perr(c, bad == WBEMMOF_E_INVALID_PRAGMA ? WBEMMOF_E_EXPECTED_OPEN_PAREN : bad,
                    "expected \"(\"");
    TRY(next(c));
    if (t->kind != MT_STRING)
        return perr(c, bad, "expected a string");
    TRY(parse_scalar(c, 0, 0, &v, &k));
    *out = strdup(json_string_value(v));
    json_decref(v);
    if (*out == NULL)
        return oom(c);
    if (!is_punct(c, ')')) {
        free(*out);
        *out = NULL;
        return perr(c, bad == WBEMMOF_E_INVALID_PRAGMA ? WBEMMOF_E_EXPECTED_CLOSE_PAREN : bad,
                    "expected \")\"");
    }
    wmi_status st = next(c);
    if (WMI_FAILED(st)) {
        free(*out);
        *out = NULL;
    }
    return st;
}

/* classflags("createonly", ...) / instanceflags(...): names or numbers. */
static wmi_status
pragma_flags(struct mof_comp *c, bool cls)
{
    struct mof_token *t = &c->f->tok;
    uint32_t flags = 0;
    if (!is_punct(c, '('))
        return perr(c, WBEMMOF_E_INVALID_FLAGS_SYNTAX, "expected \"(\"");
    TRY(next(c));
    for (;;) {
        if (t->kind == MT_INT) {
            /* WBEM_FLAG_CREATE_ONLY 2, UPDATE_ONLY 1, UPDATE_SAFE_MODE 0x20, FORCE_MODE 0x40 */
            uint64_t u = t->u;
            if (u & 2)
                flags |= cls ? WMI_MOF_CLASS_CREATEONLY : WMI_MOF_INSTANCE_CREATEONLY;
            if (u & 1)
                flags |= cls ? WMI_MOF_CLASS_UPDATEONLY : WMI_MOF_INSTANCE_UPDATEONLY;
            if (cls && (u & 0x20))
                flags |= WMI_MOF_CLASS_SAFEUPDATE;
            if (cls && (u & 0x40))
                flags |= WMI_MOF_CLASS_FORCEUPDATE;
            TRY(next(c));
        } else if (t->kind == MT_STRING) {
            char s[32];
            snprintf(s, sizeof s, "%.*s", (int)(t->slen < 31 ? t->slen : 31), t->str);
            if (strcasecmp(s, "createonly") == 0)
                flags |= cls ? WMI_MOF_CLASS_CREATEONLY : WMI_MOF_INSTANCE_CREATEONLY;
            else if (strcasecmp(s, "updateonly") == 0)
                flags |= cls ? WMI_MOF_CLASS_UPDATEONLY : WMI_MOF_INSTANCE_UPDATEONLY;
            else if (cls && strcasecmp(s, "safeupdate") == 0)
                flags |= WMI_MOF_CLASS_SAFEUPDATE;
            else if (cls && strcasecmp(s, "forceupdate") == 0)
                flags |= WMI_MOF_CLASS_FORCEUPDATE;
            else
                return perr(c, WBEMMOF_E_INVALID_FLAGS_SYNTAX, "unknown %s flag",
                            cls ? "classflags" : "instanceflags");
            TRY(next(c));
        } else {
            return perr(c, WBEMMOF_E_INVALID_FLAGS_SYNTAX, "expected a flag name in quotes");
        }
        if (is_punct(c, ',')) {
            TRY(next(c));
            continue;
        }
        break;
    }
    if ((flags & WMI_MOF_CLASS_CREATEONLY) && (flags & WMI_MOF_CLASS_UPDATEONLY))
        return perr(c, WBEMMOF_E_INVALID_FLAGS_SYNTAX, "createonly and updateonly exclude each other");
    if ((flags & WMI_MOF_INSTANCE_CREATEONLY) && (flags & WMI_MOF_INSTANCE_UPDATEONLY))
        return perr(c, WBEMMOF_E_INVALID_FLAGS_SYNTAX, "createonly and updateonly exclude each other");
    if (!is_punct(c, ')'))
        return perr(c, WBEMMOF_E_INVALID_FLAGS_SYNTAX, "expected \")\"");
    if (cls)
        c->classflags = flags;
    else
        c->instflags = flags;
    return next(c);
}

/* deleteinstance("path", FAIL|NOFAIL) / deleteclass("Class", FAIL|NOFAIL) */
static wmi_status
pragma_delete(struct mof_comp *c, bool instance, int line)
{
    struct mof_token *t = &c->f->tok;
    wmi_status bad = instance ? WBEMMOF_E_INVALID_DELETEINSTANCE_SYNTAX : WBEMMOF_E_INVALID_DELETECLASS_SYNTAX;
    json_t *v = NULL;
    enum vkind k;
    if (!is_punct(c, '('))
        return perr(c, bad, "expected \"(\"");
    TRY(next(c));
    if (t->kind != MT_STRING)
        return perr(c, bad, instance ? "expected an object path in quotes" : "expected a class name in quotes");
    int sline = t->line, scol = t->col;
    TRY(parse_scalar(c, 0, 0, &v, &k));
    const char *s = json_string_value(v);
    wmi_status st = WBEM_S_NO_ERROR;
    if (instance) {
        char *cn = NULL;
        json_t *keys = NULL;
        if (WMI_FAILED(wmi_path_parse(s, &cn, &keys)))
            st = perr_at(c, bad, sline, scol, "\"%s\" is not an object path", s);
        free(cn);
        json_decref(keys);
    } else {
        bool ok = s[0] != '\0';
        for (const char *p = s; *p && ok; p++)
            ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_' ||
                 (unsigned char)*p >= 0x80 || (p > s && *p >= '0' && *p <= '9');
        if (!ok)
            st = perr_at(c, bad, sline, scol, "\"%s\" is not a class name", s);
    }
    bool nofail = false;
    if (WMI_SUCCEEDED(st) && !is_punct(c, ','))
        st = perr(c, bad, "expected \",\" and FAIL or NOFAIL");
    if (WMI_SUCCEEDED(st))
        st = next(c);
    if (WMI_SUCCEEDED(st)) {
        if (is_kw(c, "nofail"))
            nofail = true;
        else if (!is_kw(c, "fail"))
            st = perr(c, bad, "expected FAIL or NOFAIL");
    }
    if (WMI_SUCCEEDED(st))
        st = next(c);
    if (WMI_SUCCEEDED(st) && !is_punct(c, ')'))
        st = perr(c, bad, "expected \")\"");
    if (WMI_SUCCEEDED(st))
        st = next(c);
    if (WMI_SUCCEEDED(st)) {
        wmi_mof_op *op = add_op(c, instance ? WMI_MOF_DELETE_INSTANCE : WMI_MOF_DELETE_CLASS, line);
        if (op == NULL || (op->target = strdup(s)) == NULL)
            st = oom(c);
        else
            op->flags = nofail ? WMI_MOF_NOFAIL : 0;
    }
    json_decref(v);
    return st;
}

static char *
path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p == NULL)
        return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

/* #pragma include("file"): the including file's dir, then -I dirs. */
static wmi_status
pragma_include(struct mof_comp *c, int line, int col)
{
    char *name = NULL;
    TRY(pragma_string_arg(c, WBEMMOF_E_ERROR_INVALID_INCLUDE_FILE, &name));
    for (char *p = name; *p; p++)
        if (*p == '\\')
            *p = '/';
    char *found = NULL;
    if (name[0] == '/') {
        if (access(name, R_OK) == 0)
            found = strdup(name);
    } else {
        char *cand = path_join(c->f->dir ? c->f->dir : ".", name);
        if (cand != NULL && access(cand, R_OK) == 0)
            found = cand;
        else
            free(cand);
        for (size_t i = 0; found == NULL && c->opts->include_dirs && c->opts->include_dirs[i]; i++) {
            cand = path_join(c->opts->include_dirs[i], name);
            if (cand != NULL && access(cand, R_OK) == 0)
                found = cand;
            else
                free(cand);
        }
    }
    if (found == NULL) {
        wmi_status st = perr_at(c, WBEMMOF_E_ERROR_INVALID_INCLUDE_FILE, line, col,
                                "include file \"%s\" not found", name);
        free(name);
        return st;
    }
    free(name);
    wmi_status st = compile_file(c, found, NULL, 0, line, col);
    free(found);
    return st;
}

/* After '#'. */
static wmi_status
parse_pragma(struct mof_comp *c, int line, int col)
{
    struct mof_token *t = &c->f->tok;
    if (!is_kw(c, "pragma"))
        return perr(c, WBEMMOF_E_INVALID_PRAGMA, "expected \"pragma\" after \"#\"");
    TRY(next(c));
    if (t->kind != MT_IDENT)
        return perr(c, WBEMMOF_E_INVALID_PRAGMA, "expected a pragma name");
    if (is_kw(c, "namespace")) {
        char *s;
        int sline = t->line, scol = t->col;
        TRY(next(c));
        sline = t->line;
        scol = t->col + 1;
        TRY(pragma_string_arg(c, WBEMMOF_E_INVALID_NAMESPACE_SYNTAX, &s));
        char *ns = namespace_path(s, c->f->ns);
        if (ns == NULL) {
            wmi_status st = perr_at(c, WBEMMOF_E_INVALID_NAMESPACE_SPECIFICATION, sline, scol,
                                    "\"%s\" is not a namespace path", s);
            free(s);
            return st;
        }
        free(s);
        return set_namespace(c, ns);
    }
    if (is_kw(c, "include")) {
        TRY(next(c));
        return pragma_include(c, line, col);
    }
    if (is_kw(c, "classflags") || is_kw(c, "instanceflags")) {
        bool cls = is_kw(c, "classflags");
        TRY(next(c));
        return pragma_flags(c, cls);
    }
    if (is_kw(c, "deleteinstance") || is_kw(c, "deleteclass")) {
        bool inst = is_kw(c, "deleteinstance");
        TRY(next(c));
        return pragma_delete(c, inst, line);
    }
    if (is_kw(c, "autorecover")) {
        if (json_object_set_new(c->res->pragmas, "autorecover", json_true()) != 0)
            return oom(c);
        return next(c);
    }
    const char *keep = is_kw(c, "locale") ? "locale" : is_kw(c, "amendment") ? "amendment" : NULL;
    if (keep != NULL || is_kw(c, "source") || is_kw(c, "sourcetype") || is_kw(c, "nonlocal") ||
        is_kw(c, "nonlocaltype")) {
        char *s;
        bool amend = keep != NULL && strcmp(keep, "amendment") == 0;
        int pl = t->line, pc = t->col;
        TRY(next(c));
        TRY(pragma_string_arg(c, amend ? WBEMMOF_E_INVALID_AMENDMENT_SYNTAX : WBEMMOF_E_INVALID_PRAGMA, &s));
        wmi_status st = WBEM_S_NO_ERROR;
        if (amend && json_object_get(c->res->pragmas, "amendment") != NULL)
            st = perr_at(c, WBEMMOF_E_INVALID_DUPLICATE_AMENDMENT, pl, pc, "a second amendment pragma");
        else if (keep != NULL && json_object_set_new(c->res->pragmas, keep, json_string(s)) != 0)
            st = oom(c);
        free(s);
        return st;
    }
    return perr(c, WBEMMOF_E_INVALID_PRAGMA, "unknown pragma");
}

/* ====================================================================
 * Files
 * ==================================================================== */

/* Whole-file statements until end of file. */
static wmi_status
parse_file(struct mof_comp *c)
{
    struct mof_token *t = &c->f->tok;
    TRY(next(c));
    while (t->kind != MT_EOF) {
        int line = t->line, col = t->col;
        if (is_punct(c, '#')) {
            TRY(next(c));
            TRY(parse_pragma(c, line, col));
            continue;
        }
        json_t *q = NULL, *fl = NULL, *uses = NULL;
        if (is_punct(c, '['))
            TRY(parse_qualifiers(c, &q, &fl, &uses));
        wmi_status st;
        if (is_kw(c, "class")) {
            st = next(c);
            if (WMI_SUCCEEDED(st)) {
                if (q == NULL) {
                    q = json_object();
                    fl = json_object();
                }
                st = (q && fl) ? parse_class(c, q, fl, uses, line, col) : oom(c);
            }
        } else if (is_kw(c, "instance")) {
            st = uses ? check_scopes(c, uses, QS_INSTANCE, false, false) : WBEM_S_NO_ERROR;
            if (WMI_SUCCEEDED(st))
                st = next(c);
            if (WMI_SUCCEEDED(st))
                st = parse_instance(c, 0, false, line, col, NULL);
        } else if (q == NULL && is_kw(c, "qualifier")) {
            st = next(c);
            if (WMI_SUCCEEDED(st))
                st = parse_qualifier_decl(c, line);
        } else if (is_kw(c, "typedef") || is_kw(c, "enum")) {
            st = perr(c, WBEMMOF_E_TYPEDEF_NOT_SUPPORTED, "typedefs and enumerations are not supported");
        } else if (q != NULL) {
            st = perr(c, WBEMMOF_E_INVALID_CLASS_DECLARATION, "expected \"class\" or \"instance\" after qualifiers");
        } else {
            st = perr(c, WBEMMOF_E_UNRECOGNIZED_TOKEN,
                      "expected a class, instance, qualifier declaration or #pragma");
        }
        json_decref(q);
        json_decref(fl);
        json_decref(uses);
        if (WMI_FAILED(st))
            return st;
    }
    return finish_file(c);
}

/* UTF-16 (with a byte order mark) to UTF-8; UTF-8 BOM dropped.  Returns a
 * new buffer in *@out, or NULL with *@bad set when malformed. */
static char *
to_utf8(const char *text, size_t len, size_t *outlen, bool *bad)
{
    const unsigned char *u = (const unsigned char *)text;
    *bad = false;
    if (len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF))) {
        bool le = u[0] == 0xFF;
        wmi_strbuf sb = {0};
        size_t i = 2;
        if (!wmi_strbuf_reserve(&sb, len + 1))
            return NULL;
        while (i + 1 < len) {
            uint32_t cu = le ? (uint32_t)(u[i] | (u[i + 1] << 8)) : (uint32_t)((u[i] << 8) | u[i + 1]);
            i += 2;
            if (cu >= 0xD800 && cu <= 0xDBFF && i + 1 < len) {
                uint32_t lo = le ? (uint32_t)(u[i] | (u[i + 1] << 8)) : (uint32_t)((u[i] << 8) | u[i + 1]);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cu = 0x10000 + ((cu - 0xD800) << 10) + (lo - 0xDC00);
                    i += 2;
                }
            }
            if ((cu >= 0xD800 && cu <= 0xDFFF) || cu == 0) {
                *bad = true;
                wmi_strbuf_free(&sb);
                return NULL;
            }
            char b[4];
            size_t n;
            if (cu < 0x80) {
                b[0] = (char)cu;
                n = 1;
            } else if (cu < 0x800) {
                b[0] = (char)(0xC0 | (cu >> 6));
                b[1] = (char)(0x80 | (cu & 0x3F));
                n = 2;
            } else if (cu < 0x10000) {
                b[0] = (char)(0xE0 | (cu >> 12));
                b[1] = (char)(0x80 | ((cu >> 6) & 0x3F));
                b[2] = (char)(0x80 | (cu & 0x3F));
                n = 3;
            } else {
                b[0] = (char)(0xF0 | (cu >> 18));
                b[1] = (char)(0x80 | ((cu >> 12) & 0x3F));
                b[2] = (char)(0x80 | ((cu >> 6) & 0x3F));
                b[3] = (char)(0x80 | (cu & 0x3F));
                n = 4;
            }
            if (!wmi_strbuf_append(&sb, b, n)) {
                wmi_strbuf_free(&sb);
                return NULL;
            }
        }
        if (i != len) {
            *bad = true;
            wmi_strbuf_free(&sb);
            return NULL;
        }
        *outlen = sb.len;
        return sb.data ? sb.data : strdup("");
    }
    size_t skip = (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) ? 3 : 0;
    char *p = malloc(len - skip + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, text + skip, len - skip);
    p[len - skip] = '\0';
    *outlen = len - skip;
    return p;
}

static char *
read_file(const char *path, size_t *len, int *errnum)
{
    FILE *fp = fopen(path, "rb");
    wmi_strbuf sb = {0};
    char buf[65536];
    size_t n;
    *errnum = 0;
    if (fp == NULL) {
        *errnum = errno;
        return NULL;
    }
    /* Regular files only: a FIFO or a device could block or never end. */
    struct stat sbuf;
    if (fstat(fileno(fp), &sbuf) != 0 || !S_ISREG(sbuf.st_mode)) {
        *errnum = fstat(fileno(fp), &sbuf) != 0 ? errno : S_ISDIR(sbuf.st_mode) ? EISDIR : EINVAL;
        fclose(fp);
        return NULL;
    }
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0) {
        if (sb.len + n > WMI_MOF_MAX_FILE_SIZE) {
            *errnum = EFBIG;
            break;
        }
        if (!wmi_strbuf_append(&sb, buf, n)) {
            *errnum = ENOMEM;
            break;
        }
    }
    if (*errnum == 0 && ferror(fp))
        *errnum = EIO;
    fclose(fp);
    if (*errnum != 0) {
        wmi_strbuf_free(&sb);
        return NULL;
    }
    *len = sb.len;
    return sb.data ? sb.data : strdup("");
}

/* Compile one file (from @path, or @text when not NULL), included at
 * @line/@col of the current file when there is one. */
static wmi_status
compile_file(struct mof_comp *c, const char *path, const char *text, size_t len, int line, int col)
{
    struct mof_file f;
    wmi_status st = WBEM_S_NO_ERROR;
    char *raw = NULL;

    memset(&f, 0, sizeof f);
    f.path = path;
    f.parent = c->f;
    if (c->depth >= WMI_MOF_MAX_INCLUDE_DEPTH)
        return perr_at(c, WBEMMOF_E_ERROR_INVALID_INCLUDE_FILE, line, col,
                       "includes nest more than %d deep", WMI_MOF_MAX_INCLUDE_DEPTH);
    if (text == NULL) {
        int e;
        f.real = realpath(path, NULL);
        for (struct mof_file *p = c->f; p != NULL && f.real != NULL; p = p->parent)
            if (p->real != NULL && strcmp(p->real, f.real) == 0) {
                free(f.real);
                return perr_at(c, WBEMMOF_E_ERROR_INVALID_INCLUDE_FILE, line, col,
                               "\"%s\" includes itself", path);
            }
        raw = read_file(path, &len, &e);
        if (raw == NULL) {
            free(f.real);
            if (c->f != NULL)
                return perr_at(c, e == ENOMEM ? WBEM_E_OUT_OF_MEMORY : WBEMMOF_E_ERROR_INVALID_INCLUDE_FILE,
                               line, col, "cannot read include file \"%s\": %s", path, strerror(e));
            c->f = &f;
            st = perr_at(c, e == ENOMEM ? WBEM_E_OUT_OF_MEMORY : WBEMMOF_E_INVALID_FILE, 0, 0,
                         "cannot read \"%s\": %s", path,
                         e == EFBIG ? "larger than WMI_MOF_MAX_FILE_SIZE"
                         : e == EINVAL ? "not a regular file" : strerror(e));
            c->f = NULL;
            return st;
        }
        text = raw;
    } else if (len > WMI_MOF_MAX_FILE_SIZE) {
        c->f = &f;
        st = perr_at(c, WBEMMOF_E_INVALID_FILE, 0, 0, "larger than WMI_MOF_MAX_FILE_SIZE");
        c->f = NULL;
        return st;
    }
    bool bad = false;
    f.text = to_utf8(text, len, &f.len, &bad);
    free(raw);
    const char *slash = strrchr(path, '/');
    f.dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : NULL;
    struct mof_file *saved = c->f;
    c->f = &f;
    c->depth++;
    if (f.text == NULL) {
        st = bad ? perr_at(c, WBEMMOF_E_INVALID_FILE, 1, 1, "malformed UTF-16 text") : oom(c);
    } else {
        mof_lex_init(&f.lx, f.text, f.len);
        char *ns = strdup(saved ? saved->ns
                                : (c->opts->default_namespace ? c->opts->default_namespace : "root\\default"));
        st = ns ? set_namespace(c, ns) : oom(c);
        if (WMI_SUCCEEDED(st))
            st = parse_file(c);
        mof_lex_free(&f.lx);
    }
    c->depth--;
    c->f = saved;
    for (size_t i = 0; i < f.ninsts; i++)
        inst_free(f.insts[i]);
    free(f.insts);
    cimap_free(&f.aliases);
    free(f.ns);
    free(f.text);
    free(f.dir);
    free(f.real);
    return st;
}

/* ====================================================================
 * API
 * ==================================================================== */

static wmi_status
compile(const char *path, const char *text, size_t len, const struct wmi_mof_options *opts,
        wmi_mof_result **out, wmi_error *err)
{
    static const struct wmi_mof_options defaults;
    struct mof_comp c;
    wmi_status st = WBEM_S_NO_ERROR;

    memset(&c, 0, sizeof c);
    if (out != NULL)
        *out = NULL;
    c.err = err ? err : &c.local_err;
    memset(c.err, 0, sizeof *c.err);
    c.opts = opts ? opts : &defaults;
    if (out == NULL || (path == NULL && text == NULL)) {
        wmi_set_error(c.err, WBEM_E_INVALID_PARAMETER, "", "no file, buffer or result pointer");
        return WBEM_E_INVALID_PARAMETER;
    }
    c.base = c.opts->schema;
    if (c.base == NULL) {
        c.own_base = wmi_schema_new();
        if (c.own_base != NULL)
            wmi_schema_add_instance_classes(c.own_base, NULL);
        c.base = c.own_base;
    }
    c.res = calloc(1, sizeof *c.res);
    c.quals = json_object();
    if (c.base == NULL || c.res == NULL || c.quals == NULL ||
        (c.res->pragmas = json_object()) == NULL) {
        wmi_set_error(c.err, WBEM_E_OUT_OF_MEMORY, path ? path : "", "out of memory");
        st = WBEM_E_OUT_OF_MEMORY;
    } else if (c.opts->default_namespace != NULL) {
        char *ns = namespace_path(c.opts->default_namespace, "root");
        if (ns == NULL) {
            wmi_set_error(c.err, WBEMMOF_E_INVALID_NAMESPACE_SPECIFICATION, path ? path : "",
                          "default namespace \"%s\" is not a namespace path", c.opts->default_namespace);
            st = WBEMMOF_E_INVALID_NAMESPACE_SPECIFICATION;
        } else {
            struct wmi_mof_options *o2 = malloc(sizeof *o2);
            if (o2 == NULL) {
                st = WBEM_E_OUT_OF_MEMORY;
            } else {
                *o2 = *c.opts;
                o2->default_namespace = ns;
                c.opts = o2;
                ns = NULL;
            }
            free(ns);
        }
    }
    if (WMI_SUCCEEDED(st))
        st = compile_file(&c, path ? path : "<buffer>", text, len, 0, 0);
    if (c.opts != &defaults && c.opts != opts) {
        free((char *)c.opts->default_namespace);
        free((void *)c.opts);
    }
    for (size_t i = 0; i < c.nns; i++) {
        wmi_schema_free(c.nslist[i]->schema);
        free(c.nslist[i]->name);
        free(c.nslist[i]);
    }
    free(c.nslist);
    cimap_free(&c.nsmap);
    json_decref(c.quals);
    wmi_schema_free(c.own_base);
    if (WMI_FAILED(st)) {
        wmi_mof_result_free(c.res);
        return st;
    }
    *out = c.res;
    return WBEM_S_NO_ERROR;
}

wmi_status
wmi_mof_compile(const char *path, const struct wmi_mof_options *opts, wmi_mof_result **out,
                wmi_error *err)
{
    if (path == NULL) {
        if (out != NULL)
            *out = NULL;
        wmi_set_error(err, WBEM_E_INVALID_PARAMETER, "", "no file");
        return WBEM_E_INVALID_PARAMETER;
    }
    return compile(path, NULL, 0, opts, out, err);
}

wmi_status
wmi_mof_compile_buffer(const char *text, size_t len, const char *name,
                       const struct wmi_mof_options *opts, wmi_mof_result **out, wmi_error *err)
{
    static const char empty[1] = "";
    return compile(name ? name : "<buffer>", text ? text : empty, text ? len : 0, opts, out, err);
}

void
wmi_mof_result_free(wmi_mof_result *res)
{
    if (res == NULL)
        return;
    for (size_t i = 0; i < res->nops; i++)
        op_free(&res->ops[i]);
    free(res->ops);
    json_decref(res->pragmas);
    free(res);
}

size_t
wmi_mof_result_count(const wmi_mof_result *res)
{
    return res ? res->nops : 0;
}

const wmi_mof_op *
wmi_mof_result_op(const wmi_mof_result *res, size_t index)
{
    return res && index < res->nops ? &res->ops[index] : NULL;
}

const json_t *
wmi_mof_result_pragmas(const wmi_mof_result *res)
{
    return res ? res->pragmas : NULL;
}
