/*
 * mof_grammar.c - the MOF compiler's parser: a recursive descent over
 * mof_lex.c's tokens that reads qualifiers, qualifier declarations,
 * classes, instances, values, types and pragmas, builds the class
 * definitions and instances in libwmievent's JSON forms and hands them
 * to mof_semantics.c (wmievent/mof.h, docs/mof.md).
 *
 * Bounds: embedded instances nest at most WMI_MAX_OBJECT_NESTING deep.
 * Everything else is a loop, linear in the input (names are looked up in
 * hash maps).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/cimap.h"
#include "lib/mof_internal.h"

/* What a value may be (parse_value flags). */
#define V_ALIAS    0x1u /* an alias ($A): reference properties of top-level instances */
#define V_EMBEDDED 0x2u /* instance of X {...} */
#define V_ARRAY    0x4u /* {a, b} */
#define V_IN_EMB   0x8u /* we are inside an embedded instance */

/* ====================================================================
 * Tokens
 * ==================================================================== */

static wmi_status
next(struct mof_comp *c)
{
    wmi_status st = wmi__mof_lex_next(&c->f->lx, &c->f->tok, c->err);
    if (WMI_FAILED(st)) {
        if (st == WBEM_E_OUT_OF_MEMORY)
            return wmi__mof_oom(c);
        snprintf(c->err->source, sizeof c->err->source, "%s", c->f->path);
    }
    return st;
}

static bool
is_punct(const struct mof_comp *c, char p)
{
    return c->f->tok.kind == MT_PUNCT && c->f->tok.punct == p;
}

static bool
is_kw(const struct mof_comp *c, const char *kw)
{
    return wmi__mof_tok_is(&c->f->tok, kw);
}

/* Expect punctuation @p, then advance. */
static wmi_status
expect(struct mof_comp *c, char p, wmi_status st)
{
    if (!is_punct(c, p))
        return wmi__mof_perr(c, st, "expected \"%c\"", p);
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
        if (wmi__mof_tok_is(t, builtin_types[i]))
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
        return wmi__mof_oom(c);
    wmi_status st = next(c);
    if (WMI_FAILED(st)) {
        json_decref(*out);
        *out = NULL;
    }
    return st;
}

/* One scalar (or embedded instance or alias); *@out is NULL on failure. */
static wmi_status
parse_scalar(struct mof_comp *c, int depth, unsigned flags, json_t **out, enum mof_vkind *kind)
{
    struct mof_token *t = &c->f->tok;
    *out = NULL;
    if (t->kind == MT_STRING) {
        wmi_strbuf sb = {0};
        while (t->kind == MT_STRING) {
            if (!wmi__strbuf_append(&sb, t->str, t->slen) || !wmi__strbuf_reserve(&sb, 1)) {
                wmi__strbuf_free(&sb);
                return wmi__mof_oom(c);
            }
            wmi_status st = next(c);
            if (WMI_FAILED(st)) {
                wmi__strbuf_free(&sb);
                return st;
            }
        }
        *out = json_stringn(sb.data ? sb.data : "", sb.len);
        wmi__strbuf_free(&sb);
        if (*out == NULL)
            return wmi__mof_perr(c, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, "a string is not valid UTF-8");
        *kind = VK_STRING;
        return WBEM_S_NO_ERROR;
    }
    if (t->kind == MT_CHAR) {
        *out = json_stringn(t->str, t->slen);
        if (*out == NULL)
            return wmi__mof_perr(c, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, "a char16 constant is not valid UTF-8");
        *kind = VK_CHAR;
        return took(c, out);
    }
    bool neg = false;
    if (is_punct(c, '-') || is_punct(c, '+')) {
        neg = t->punct == '-';
        TRY(next(c));
        if (t->kind != MT_INT && t->kind != MT_REAL)
            return wmi__mof_perr(c, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, "expected a number after the sign");
    }
    if (t->kind == MT_INT) {
        if (neg) {
            if (t->u > (uint64_t)INT64_MAX + 1)
                return wmi__mof_perr(c, WBEMMOF_E_OUT_OF_RANGE, "negative integer below -2^63");
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
    if (t->kind == MT_IDENT && (wmi__mof_tok_is(t, "true") || wmi__mof_tok_is(t, "false"))) {
        *out = json_boolean(wmi__mof_tok_is(t, "true"));
        *kind = VK_BOOL;
        return took(c, out);
    }
    if (t->kind == MT_IDENT && wmi__mof_tok_is(t, "null")) {
        *out = json_null();
        *kind = VK_NULL;
        return took(c, out);
    }
    if (t->kind == MT_ALIAS) {
        if (flags & V_IN_EMB)
            return wmi__mof_perr(c, WBEMMOF_E_ALIASES_IN_EMBEDDED, "an embedded instance cannot use aliases");
        if (!(flags & V_ALIAS))
            return wmi__mof_perr(c, WBEMMOF_E_UNEXPECTED_ALIAS,
                                 "an alias is a value only for a reference property of an instance");
        char *name = strndup(t->start + 1, t->len - 1);
        *out = name ? json_pack("{s:s,s:i,s:i}", "$alias", name, "$line", t->line, "$col", t->col)
                    : NULL;
        free(name);
        *kind = VK_ALIAS;
        return took(c, out);
    }
    if (t->kind == MT_IDENT && wmi__mof_tok_is(t, "instance")) {
        if (!(flags & V_EMBEDDED))
            return wmi__mof_perr(c, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, "an embedded instance is not allowed here");
        int line = t->line, col = t->col;
        TRY(next(c));
        TRY(parse_instance(c, depth + 1, true, line, col, out));
        *kind = VK_OBJECT;
        return WBEM_S_NO_ERROR;
    }
    return wmi__mof_perr(c, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, "expected a constant value");
}

/* A value: a scalar or, when allowed, {a, b, ...}. */
static wmi_status
parse_value(struct mof_comp *c, int depth, unsigned flags, json_t **out, enum mof_vkind *kind,
            enum mof_vkind *elem_kind)
{
    *out = NULL;
    if (!is_punct(c, '{'))
        return parse_scalar(c, depth, flags, out, kind);
    if (!(flags & V_ARRAY))
        return wmi__mof_perr(c, WBEMMOF_E_UNEXPECTED_ARRAY_INIT, "an array value for a non-array property or qualifier");
    TRY(next(c));
    json_t *arr = json_array();
    if (arr == NULL)
        return wmi__mof_oom(c);
    *kind = VK_ARRAY;
    if (elem_kind != NULL)
        *elem_kind = VK_NULL;
    if (!is_punct(c, '}')) {
        for (;;) {
            json_t *v;
            enum mof_vkind k;
            if (is_punct(c, '{')) {
                json_decref(arr);
                return wmi__mof_perr(c, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, "arrays are one-dimensional");
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
                return wmi__mof_perr_at(c, WBEMMOF_E_NULL_ARRAY_ELEM, eline, ecol,
                                        "NULL is not allowed as an array element");
            }
            if (elem_kind != NULL && (*elem_kind == VK_NULL || (*elem_kind == VK_INT && k == VK_REAL)))
                *elem_kind = k;
            if (json_array_append_new(arr, v) != 0) {
                json_decref(arr);
                return wmi__mof_oom(c);
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
        return wmi__mof_perr(c, WBEMMOF_E_EXPECTED_CLOSE_BRACE, "expected \",\" or \"}\" in an array value");
    }
    *out = arr;
    wmi_status st = next(c);
    if (WMI_FAILED(st)) {
        json_decref(arr);
        *out = NULL;
    }
    return st;
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
        if (wmi__mof_tok_is(t, list[i]))
            return list[i];
    return NULL;
}

/* After a qualifier's name: its value, "(v)" or "{a, b}", at
 * (*@vline, *@vcol), or true when it has none (*@has_value false). */
static wmi_status
parse_qualifier_value(struct mof_comp *c, json_t **val, enum mof_vkind *k, int *vline, int *vcol,
                      bool *has_value)
{
    enum mof_vkind ek = VK_NULL;
    *val = NULL;
    *k = VK_BOOL;
    *has_value = true;
    TRY(next(c));
    *vline = c->f->tok.line;
    *vcol = c->f->tok.col;
    if (is_punct(c, '(')) {
        TRY(next(c));
        *vline = c->f->tok.line;
        *vcol = c->f->tok.col;
        TRY(parse_value(c, 0, V_ARRAY, val, k, &ek));
        wmi_status st = expect(c, ')', WBEMMOF_E_EXPECTED_CLOSE_PAREN);
        if (WMI_FAILED(st)) {
            json_decref(*val);
            *val = NULL;
        }
        return st;
    }
    if (is_punct(c, '{'))
        return parse_value(c, 0, V_ARRAY, val, k, &ek);
    *val = json_true();
    *has_value = false;
    return WBEM_S_NO_ERROR;
}

/* A qualifier's flavors ": ToSubclass DisableOverride", at the ':', into
 * @flavors under @name. */
static wmi_status
parse_flavors(struct mof_comp *c, const char *name, json_t *flavors)
{
    json_t *fl = json_array();
    if (fl == NULL || json_object_set_new(flavors, name, fl) != 0)
        return wmi__mof_oom(c);
    wmi_status st = next(c);
    bool any = false;
    while (WMI_SUCCEEDED(st) && c->f->tok.kind == MT_IDENT) {
        const char *f = keyword_in(&c->f->tok, flavor_names);
        if (f == NULL)
            return wmi__mof_perr(c, WBEMMOF_E_EXPECTED_FLAVOR_TYPE, "expected a flavor");
        if (!wmi__mof_flavors_compatible(fl, f))
            return wmi__mof_perr(c, WBEMMOF_E_INCOMPATIBLE_FLAVOR_TYPES,
                                 "flavor %s contradicts another flavor of %s", f, name);
        if (json_array_append_new(fl, json_string(f)) != 0)
            st = wmi__mof_oom(c);
        else
            st = next(c);
        any = true;
    }
    if (WMI_SUCCEEDED(st) && !any)
        st = wmi__mof_perr(c, WBEMMOF_E_EXPECTED_FLAVOR_TYPE, "expected a flavor after \":\"");
    return st;
}

/* One qualifier of a list, at its name, into @quals, @flavors and @uses
 * (see parse_qualifiers); @seen holds the names before it. */
static wmi_status
parse_qualifier(struct mof_comp *c, json_t *quals, json_t *flavors, json_t *uses, cimap *seen)
{
    struct mof_token *t = &c->f->tok;
    if (t->kind != MT_IDENT)
        return wmi__mof_perr(c, WBEMMOF_E_EXPECTED_QUALIFIER_NAME, "expected a qualifier name");
    char *name = tok_strdup(c);
    if (name == NULL)
        return wmi__mof_oom(c);
    int qline = t->line, qcol = t->col;
    if (wmi__cimap_get(seen, name) != NULL) {
        wmi_status st = wmi__mof_perr(c, WBEMMOF_E_DUPLICATE_QUALIFIER, "qualifier %s is given twice", name);
        free(name);
        return st;
    }
    json_t *val;
    enum mof_vkind k;
    int vline, vcol;
    bool has_value;
    wmi_status st = parse_qualifier_value(c, &val, &k, &vline, &vcol, &has_value);
    const json_t *decl = wmi__mof_qualifier_decl(c, name);
    if (WMI_SUCCEEDED(st) && decl != NULL && has_value)
        st = wmi__mof_check_qualifier_value(c, name, decl, val, k, vline, vcol);
    if (WMI_SUCCEEDED(st)) {
        if (json_object_set_new(quals, name, val) != 0)
            st = wmi__mof_oom(c);
    } else {
        json_decref(val);
    }
    if (WMI_SUCCEEDED(st)) {
        json_t *u = json_pack("[i,i]", qline, qcol);
        if (u == NULL || json_object_set_new(uses, name, u) != 0)
            st = wmi__mof_oom(c);
    }
    if (WMI_SUCCEEDED(st)) {
        /* the key lives in the quals object; seen borrows it */
        void *it = json_object_iter_at(quals, name);
        const char *key = json_object_iter_key(it);
        if (!wmi__cimap_put(seen, key, (void *)key))
            st = wmi__mof_oom(c);
    }
    if (WMI_SUCCEEDED(st) && is_punct(c, ':'))
        st = parse_flavors(c, name, flavors);
    if (WMI_SUCCEEDED(st) && decl != NULL)
        st = wmi__mof_add_declared_flavors(c, name, decl, flavors);
    free(name);
    return st;
}

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
        st = wmi__mof_oom(c);
    if (WMI_SUCCEEDED(st))
        st = next(c); /* '[' */
    while (WMI_SUCCEEDED(st)) {
        st = parse_qualifier(c, *quals, *flavors, *uses, &seen);
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
        st = wmi__mof_perr(c, WBEMMOF_E_EXPECTED_CLOSE_BRACKET, "expected \",\" or \"]\" in a qualifier list");
    }
    wmi__cimap_free(&seen);
    if (WMI_FAILED(st)) {
        json_decref(*quals);
        json_decref(*flavors);
        json_decref(*uses);
        *quals = *flavors = *uses = NULL;
    }
    return st;
}

/* ====================================================================
 * Qualifier declarations
 * ==================================================================== */

/* A qualifier declaration's ": type[]", at the ':'; *@type is the
 * canonical spelling of its built-in type. */
static wmi_status
parse_decl_type(struct mof_comp *c, json_t *decl, const char **type, bool *is_array)
{
    struct mof_token *t = &c->f->tok;
    if (!is_punct(c, ':'))
        return wmi__mof_perr(c, WBEMMOF_E_INVALID_QUALIFIER_SYNTAX, "expected \":\" and the qualifier's type");
    TRY(next(c));
    *type = builtin_type(t);
    if (*type == NULL)
        return wmi__mof_perr(c, t->kind == MT_IDENT ? WBEMMOF_E_UNRECOGNIZED_TYPE : WBEMMOF_E_EXPECTED_TYPE_IDENTIFIER,
                             "expected the qualifier's type");
    TRY(next(c));
    if (is_punct(c, '[')) {
        *is_array = true;
        TRY(next(c));
        if (t->kind == MT_INT)
            TRY(next(c));
        TRY(expect(c, ']', WBEMMOF_E_EXPECTED_CLOSE_BRACKET));
    }
    if (json_object_set_new(decl, "CIMType", json_string(*type)) != 0 ||
        json_object_set_new(decl, "IsArray", json_boolean(*is_array)) != 0)
        return wmi__mof_oom(c);
    return WBEM_S_NO_ERROR;
}

/* A qualifier declaration's "= value", at the '=': its default, which
 * must fit its type. */
static wmi_status
parse_decl_default(struct mof_comp *c, json_t *decl, const char *name, const char *type, bool is_array)
{
    struct mof_token *t = &c->f->tok;
    wmi_status st = next(c);
    int vline = t->line, vcol = t->col;
    json_t *v = NULL;
    enum mof_vkind k = VK_NULL, ek = VK_NULL;
    if (WMI_SUCCEEDED(st))
        st = parse_value(c, 0, is_array ? V_ARRAY : 0, &v, &k, &ek);
    bool fits = k == VK_ARRAY || wmi__mof_kind_fits(k, type);
    for (size_t i = 0; WMI_SUCCEEDED(st) && k == VK_ARRAY && i < json_array_size(v); i++)
        fits = fits && wmi__mof_kind_fits(wmi__mof_json_kind(json_array_get(v, i)), type);
    if (WMI_SUCCEEDED(st) && !fits)
        st = wmi__mof_perr_at(c, WBEMMOF_E_TYPE_MISMATCH, vline, vcol,
                              "the default of qualifier %s does not match its type %s", name, type);
    if (WMI_SUCCEEDED(st)) {
        if (json_object_set_new(decl, "Default", v) != 0)
            st = wmi__mof_oom(c);
    } else {
        json_decref(v);
    }
    return st;
}

/* The keywords of a Scope(...) (@scope) or Flavor(...) into @list, up to
 * the ')'. */
static wmi_status
parse_decl_keywords(struct mof_comp *c, json_t *list, bool scope)
{
    for (;;) {
        const char *kw = keyword_in(&c->f->tok, scope ? scope_names : flavor_names);
        if (kw == NULL)
            return scope ? wmi__mof_perr(c, WBEMMOF_E_INVALID_QUALIFIER_SYNTAX, "expected a scope keyword")
                         : wmi__mof_perr(c, WBEMMOF_E_EXPECTED_FLAVOR_TYPE, "expected a flavor keyword");
        if (!scope && !wmi__mof_flavors_compatible(list, kw))
            return wmi__mof_perr(c, WBEMMOF_E_INCOMPATIBLE_FLAVOR_TYPES, "flavor %s contradicts another", kw);
        if (json_array_append_new(list, json_string(kw)) != 0)
            return wmi__mof_oom(c);
        TRY(next(c));
        if (!is_punct(c, ','))
            return WBEM_S_NO_ERROR;
        TRY(next(c));
    }
}

/* A qualifier declaration's ", Scope(...)" or ", Flavor(...)", at the
 * ','; each at most once. */
static wmi_status
parse_decl_list(struct mof_comp *c, json_t *decl, bool *had_scope, bool *had_flavor)
{
    TRY(next(c));
    bool scope = is_kw(c, "scope"), flavor = is_kw(c, "flavor");
    if ((!scope && !flavor) || (scope && *had_scope) || (flavor && *had_flavor))
        return wmi__mof_perr(c, WBEMMOF_E_INVALID_QUALIFIER_SYNTAX, "expected Scope(...) or Flavor(...)");
    *had_scope |= scope;
    *had_flavor |= flavor;
    TRY(next(c));
    TRY(expect(c, '(', WBEMMOF_E_EXPECTED_OPEN_PAREN));
    json_t *list = json_array();
    if (list == NULL || json_object_set_new(decl, scope ? "Scope" : "Flavor", list) != 0)
        return wmi__mof_oom(c);
    TRY(parse_decl_keywords(c, list, scope));
    return expect(c, ')', WBEMMOF_E_EXPECTED_CLOSE_PAREN);
}

/* "Qualifier Name : type[] = value, Scope(...), Flavor(...);" after "Qualifier". */
static wmi_status
parse_qualifier_decl(struct mof_comp *c, int line)
{
    struct mof_token *t = &c->f->tok;
    if (t->kind != MT_IDENT)
        return wmi__mof_perr(c, WBEMMOF_E_EXPECTED_QUALIFIER_NAME, "expected a qualifier name");
    char *name = tok_strdup(c);
    json_t *decl = json_object();
    wmi_status st = (name && decl) ? WBEM_S_NO_ERROR : wmi__mof_oom(c);
    const char *type = NULL;
    bool is_array = false, had_scope = false, had_flavor = false;

    if (WMI_SUCCEEDED(st) && json_object_set_new(decl, "Name", json_string(name)) != 0)
        st = wmi__mof_oom(c);
    if (WMI_SUCCEEDED(st))
        st = next(c);
    if (WMI_SUCCEEDED(st))
        st = parse_decl_type(c, decl, &type, &is_array);
    if (WMI_SUCCEEDED(st) && is_punct(c, '='))
        st = parse_decl_default(c, decl, name, type, is_array);
    while (WMI_SUCCEEDED(st) && is_punct(c, ','))
        st = parse_decl_list(c, decl, &had_scope, &had_flavor);
    if (WMI_SUCCEEDED(st) && !is_punct(c, ';'))
        st = wmi__mof_perr(c, WBEMMOF_E_EXPECTED_SEMI, "expected \";\" (or \", Scope(...)\", \", Flavor(...)\")");
    if (WMI_SUCCEEDED(st))
        st = next(c);
    if (WMI_SUCCEEDED(st)) {
        st = wmi__mof_declare_qualifier(c, name, decl, line);
        decl = NULL;
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
            return wmi__mof_oom(c);
    }
    if (json_object_size(flavors) > 0 && json_object_set(prop, "__FLAVORS", flavors) != 0)
        return wmi__mof_oom(c);
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
        return wmi__mof_perr(c, WBEMMOF_E_EXPECTED_TYPE_IDENTIFIER, "expected a type");
    const char *b = builtin_type(t);
    if (b != NULL) {
        *type = strdup(b);
        return *type ? next(c) : wmi__mof_oom(c);
    }
    if (allow_void && wmi__mof_tok_is(t, "void")) {
        *type = strdup("void");
        return *type ? next(c) : wmi__mof_oom(c);
    }
    if (wmi__mof_tok_is(t, "typedef") || wmi__mof_tok_is(t, "enum"))
        return wmi__mof_perr(c, WBEMMOF_E_TYPEDEF_NOT_SUPPORTED, "typedefs and enumerations are not supported");
    bool object = wmi__mof_tok_is(t, "object");
    char *cls = tok_strdup(c);
    if (cls == NULL)
        return wmi__mof_oom(c);
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
        return *type ? next(c) : wmi__mof_oom(c);
    }
    if (object) {
        free(cls);
        *is_object = true;
        *type = strdup("object");
        return *type ? WBEM_S_NO_ERROR : wmi__mof_oom(c);
    }
    char td[64];
    snprintf(td, sizeof td, "%s", cls);
    free(cls);
    return wmi__mof_perr_at(c, WBEMMOF_E_UNRECOGNIZED_TYPE, line, col,
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
            st = wmi__mof_check_scopes(c, uses, QS_PARAMETER, false, false);
        char *pname = NULL;
        if (WMI_SUCCEEDED(st) && t->kind != MT_IDENT)
            st = wmi__mof_perr(c, WBEMMOF_E_EXPECTED_PROPERTY_NAME, "expected a parameter name");
        if (WMI_SUCCEEDED(st)) {
            pname = tok_strdup(c);
            st = pname ? next(c) : wmi__mof_oom(c);
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
            enum mof_vkind k;
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
                st = wmi__mof_oom(c);
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

/* Add a name; false if present (case-insensitive) or out of memory (*wmi__mof_oom). */
static bool
name_set_add(struct name_set *s, const char *name, bool *nomem)
{
    *nomem = false;
    if (wmi__cimap_get(&s->map, name) != NULL)
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
    if (d == NULL || !wmi__cimap_put(&s->map, d, d)) {
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
    wmi__cimap_free(&s->map);
}

/* The features of the class being parsed. */
struct class_body {
    const char *name;
    json_t *props;        /* name -> property definition */
    json_t *methods;      /* name -> method definition */
    json_t *lines;        /* property name -> [line, col] */
    struct name_set names;
};

/* A feature's qualifiers (NULL without), type and name. */
struct feature {
    json_t *quals, *flavors, *uses;
    char *type, *name;
    bool is_ref, is_obj;
    int line, col;        /* of the name */
};

/* ": Super" after the class name, then the '{' of the body; *@sname is
 * the superclass, new, or NULL. */
static wmi_status
parse_class_head(struct mof_comp *c, char **sname)
{
    struct mof_token *t = &c->f->tok;
    if (is_punct(c, ':')) {
        TRY(next(c));
        if (t->kind != MT_IDENT)
            return wmi__mof_perr(c, WBEMMOF_E_EXPECTED_CLASS_NAME, "expected the superclass name");
        *sname = tok_strdup(c);
        if (*sname == NULL)
            return wmi__mof_oom(c);
        TRY(next(c));
    }
    if (is_kw(c, "as") || t->kind == MT_ALIAS)
        return wmi__mof_perr(c, WBEMMOF_E_UNEXPECTED_ALIAS, "a class declaration cannot have an alias");
    if (!is_punct(c, '{'))
        return wmi__mof_perr(c, WBEMMOF_E_EXPECTED_OPEN_BRACE, "expected \"{\" to open the class body");
    return next(c);
}

/* A method, at the '(' after its name: kept in "__METHODS", not used by
 * wmieventd. */
static wmi_status
parse_method(struct mof_comp *c, struct class_body *b, const struct feature *f)
{
    json_t *params = json_array();
    json_t *m = json_object();
    wmi_status st = WBEM_S_NO_ERROR;
    if (f->uses != NULL)
        st = wmi__mof_check_scopes(c, f->uses, QS_METHOD, false, false);
    if (WMI_SUCCEEDED(st))
        st = next(c);
    if (WMI_SUCCEEDED(st) && (params == NULL || m == NULL))
        st = wmi__mof_oom(c);
    if (WMI_SUCCEEDED(st))
        st = parse_params(c, params);
    if (WMI_SUCCEEDED(st) && is_punct(c, '['))
        st = wmi__mof_perr(c, WBEMMOF_E_NO_ARRAYS_RETURNED, "a method cannot return an array");
    if (WMI_SUCCEEDED(st) &&
        (json_object_set_new(m, "ReturnType", json_string(f->type)) != 0 ||
         json_object_set(m, "Parameters", params) != 0 ||
         (f->quals != NULL && json_object_set(m, "Qualifiers", f->quals) != 0) ||
         json_object_set(b->methods, f->name, m) != 0))
        st = wmi__mof_oom(c);
    json_decref(params);
    json_decref(m);
    return st;
}

/* [EmbeddedObject] / [EmbeddedInstance("C")] string, and
 * [CIMTYPE("object:C")] object, are embedded objects of C: the feature's
 * type becomes "object" or "object:C". */
static wmi_status
embedded_type(struct mof_comp *c, struct feature *f)
{
    const char *eiv = NULL;
    const json_t *ei = NULL;
    if (f->quals != NULL) {
        const char *k;
        json_t *v;
        json_object_foreach(f->quals, k, v) {
            if (strcasecmp(k, "EmbeddedInstance") == 0 || strcasecmp(k, "CIMTYPE") == 0 ||
                strcasecmp(k, "EmbeddedObject") == 0)
                ei = v, eiv = k;
        }
    }
    if (ei == NULL)
        return WBEM_S_NO_ERROR;
    char *nt = NULL;
    if (strcasecmp(eiv, "EmbeddedObject") == 0 && json_is_true(ei) && strcmp(f->type, "string") == 0) {
        nt = strdup("object");
    } else if (strcasecmp(eiv, "EmbeddedInstance") == 0 && json_is_string(ei) &&
               strcmp(f->type, "string") == 0) {
        nt = malloc(strlen(json_string_value(ei)) + 8);
        if (nt)
            sprintf(nt, "object:%s", json_string_value(ei));
    } else if (strcasecmp(eiv, "CIMTYPE") == 0 && f->is_obj && json_is_string(ei) &&
               strncasecmp(json_string_value(ei), "object:", 7) == 0) {
        nt = malloc(strlen(json_string_value(ei)) + 1);
        if (nt)
            sprintf(nt, "object:%s", json_string_value(ei) + 7);
    } else if (strcasecmp(eiv, "CIMTYPE") == 0 && json_is_string(ei) &&
               strncasecmp(json_string_value(ei), "object", 6) == 0 && !f->is_obj) {
        return wmi__mof_perr_at(c, WBEMMOF_E_CIMTYPE_QUALIFIER, f->line, f->col,
                                "CIMTYPE(\"%s\") on a %s property", json_string_value(ei), f->type);
    }
    if (nt != NULL) {
        free(f->type);
        f->type = nt;
        f->is_obj = true;
    }
    return WBEM_S_NO_ERROR;
}

/* A property's "= value", at the '=': its "Default" in @prop. */
static wmi_status
parse_default(struct mof_comp *c, json_t *prop, unsigned flags)
{
    json_t *v = NULL;
    enum mof_vkind k;
    wmi_status st = next(c);
    if (WMI_SUCCEEDED(st))
        st = parse_value(c, 0, flags, &v, &k, NULL);
    if (WMI_SUCCEEDED(st)) {
        if (json_object_set_new(prop, "Default", v) != 0)
            st = wmi__mof_oom(c);
    } else {
        json_decref(v);
    }
    return st;
}

/* A property, after its name: "[]" and "= default", into @b. */
static wmi_status
parse_property(struct mof_comp *c, struct class_body *b, struct feature *f)
{
    struct mof_token *t = &c->f->tok;
    json_t *prop = NULL;
    wmi_status st = WBEM_S_NO_ERROR;
    bool arr = false;
    if (strcmp(f->type, "void") == 0)
        st = wmi__mof_perr_at(c, WBEMMOF_E_UNRECOGNIZED_TYPE, f->line, f->col, "a property cannot be void");
    if (WMI_SUCCEEDED(st) && f->uses != NULL)
        st = wmi__mof_check_scopes(c, f->uses, f->is_ref ? QS_REFERENCE : QS_PROPERTY, false, false);
    if (WMI_SUCCEEDED(st) && is_punct(c, '[')) {
        arr = true;
        st = next(c);
        if (WMI_SUCCEEDED(st) && t->kind == MT_INT)
            st = next(c);
        if (WMI_SUCCEEDED(st))
            st = expect(c, ']', WBEMMOF_E_EXPECTED_CLOSE_BRACKET);
    }
    if (WMI_SUCCEEDED(st))
        st = embedded_type(c, f);
    if (WMI_SUCCEEDED(st)) {
        char *tn = malloc(strlen(f->type) + 3);
        if (tn != NULL)
            sprintf(tn, "%s%s", f->type, arr ? "[]" : "");
        prop = tn ? json_pack("{s:s}", "CIMType", tn) : NULL;
        free(tn);
        if (prop == NULL)
            st = wmi__mof_oom(c);
    }
    if (WMI_SUCCEEDED(st) && f->quals != NULL)
        st = put_feature_quals(c, prop, f->quals, f->flavors);
    if (WMI_SUCCEEDED(st) && is_punct(c, '='))
        st = parse_default(c, prop, (arr ? V_ARRAY : 0) | (f->is_obj ? V_EMBEDDED : 0));
    if (WMI_SUCCEEDED(st) &&
        (json_object_set(b->props, f->name, prop) != 0 ||
         json_object_set_new(b->lines, f->name, json_pack("[i,i]", f->line, f->col)) != 0))
        st = wmi__mof_oom(c);
    json_decref(prop);
    return st;
}

/* One feature of a class body, a property or a method, from its
 * qualifiers to its ';'. */
static wmi_status
parse_feature(struct mof_comp *c, struct class_body *b)
{
    struct mof_token *t = &c->f->tok;
    struct feature f = {0};
    wmi_status st = WBEM_S_NO_ERROR;
    if (t->kind == MT_EOF)
        return wmi__mof_perr(c, WBEMMOF_E_EXPECTED_CLOSE_BRACE, "expected \"}\" to close class %s", b->name);
    if (is_punct(c, '['))
        st = parse_qualifiers(c, &f.quals, &f.flavors, &f.uses);
    if (WMI_SUCCEEDED(st) && t->kind != MT_IDENT)
        st = wmi__mof_perr(c, WBEMMOF_E_EXPECTED_BRACE_OR_BAD_TYPE, "expected a property or method type or \"}\"");
    if (WMI_SUCCEEDED(st))
        st = parse_type(c, true, &f.type, &f.is_ref, &f.is_obj);
    if (WMI_SUCCEEDED(st) && t->kind != MT_IDENT)
        st = wmi__mof_perr(c, WBEMMOF_E_EXPECTED_PROPERTY_NAME, "expected a property or method name");
    if (WMI_SUCCEEDED(st)) {
        f.name = tok_strdup(c);
        f.line = t->line;
        f.col = t->col;
        bool nomem;
        if (f.name == NULL)
            st = wmi__mof_oom(c);
        else if (!name_set_add(&b->names, f.name, &nomem))
            st = nomem ? wmi__mof_oom(c)
                       : wmi__mof_perr(c, WBEMMOF_E_DUPLICATE_PROPERTY, "%s is declared twice in class %s",
                                       f.name, b->name);
    }
    if (WMI_SUCCEEDED(st))
        st = next(c);
    if (WMI_SUCCEEDED(st) && is_punct(c, '('))
        st = parse_method(c, b, &f);
    else if (WMI_SUCCEEDED(st))
        st = parse_property(c, b, &f);
    if (WMI_SUCCEEDED(st) && !is_punct(c, ';'))
        st = wmi__mof_perr(c, WBEMMOF_E_EXPECTED_SEMI, "expected \";\" after %s", f.name ? f.name : "the feature");
    if (WMI_SUCCEEDED(st))
        st = next(c);
    json_decref(f.quals);
    json_decref(f.flavors);
    json_decref(f.uses);
    free(f.type);
    free(f.name);
    return st;
}

/* "class Name : Super { features };" after "class". */
static wmi_status
parse_class(struct mof_comp *c, json_t *cquals, json_t *cflav, json_t *cuses, int line, int col)
{
    struct mof_token *t = &c->f->tok;
    struct class_body b = {0};
    json_t *def = NULL;
    char *cname = NULL, *sname = NULL;
    wmi_status st = WBEM_S_NO_ERROR;
    int nline = t->line, ncol = t->col;

    if (t->kind != MT_IDENT)
        return wmi__mof_perr(c, WBEMMOF_E_EXPECTED_CLASS_NAME, "expected a class name");
    cname = tok_strdup(c);
    b.name = cname;
    def = json_object();
    b.props = json_object();
    b.methods = json_object();
    b.lines = json_object();
    if (cname == NULL || def == NULL || b.props == NULL || b.methods == NULL || b.lines == NULL) {
        st = wmi__mof_oom(c);
        goto out;
    }
    bool assoc = json_is_true(json_object_get(cquals, "Association")) ||
                 json_is_true(json_object_get(cquals, "association"));
    bool indication = json_is_true(json_object_get(cquals, "Indication")) ||
                      json_is_true(json_object_get(cquals, "indication"));
    if (cuses != NULL && WMI_FAILED(st = wmi__mof_check_scopes(c, cuses, QS_CLASS, assoc, indication)))
        goto out;
    if (WMI_FAILED(st = next(c)) || WMI_FAILED(st = parse_class_head(c, &sname)))
        goto out;
    while (!is_punct(c, '}'))
        if (WMI_FAILED(st = parse_feature(c, &b)))
            goto out;
    if (WMI_FAILED(st = next(c)))
        goto out;
    if (!is_punct(c, ';')) {
        st = wmi__mof_perr(c, WBEMMOF_E_EXPECTED_SEMI, "expected \";\" after the class body");
        goto out;
    }
    if (WMI_FAILED(st = next(c)))
        goto out;

    if (json_object_set_new(def, "__CLASS", json_string(cname)) != 0 ||
        (sname != NULL && json_object_set_new(def, "__SUPERCLASS", json_string(sname)) != 0) ||
        json_object_set(def, "__QUALIFIERS", cquals) != 0 ||
        (json_object_size(cflav) > 0 && json_object_set(def, "__FLAVORS", cflav) != 0) ||
        json_object_set(def, "__PROPERTIES", b.props) != 0 ||
        (json_object_size(b.methods) > 0 && json_object_set(def, "__METHODS", b.methods) != 0)) {
        st = wmi__mof_oom(c);
        goto out;
    }
    st = wmi__mof_define_class(c, def, b.lines, nline, ncol, line);
    def = NULL;
    (void)col;
out:
    json_decref(def);
    json_decref(b.props);
    json_decref(b.methods);
    json_decref(b.lines);
    name_set_free(&b.names);
    free(cname);
    free(sname);
    return st;
}

/* ====================================================================
 * Instances
 * ==================================================================== */

/* "of Class [as $Alias]" after "instance": *@cls receives the class,
 * *@alias the alias (new) or NULL. */
static wmi_status
parse_instance_head(struct mof_comp *c, bool embedded, const wmi_class **cls, char **alias)
{
    struct mof_token *t = &c->f->tok;
    wmi_status st;
    if (!is_kw(c, "of"))
        return wmi__mof_perr(c, WBEMMOF_E_INVALID_INSTANCE_DECLARATION, "expected \"of\" after \"instance\"");
    TRY(next(c));
    if (t->kind != MT_IDENT)
        return wmi__mof_perr(c, WBEMMOF_E_EXPECTED_CLASS_NAME, "expected a class name");
    char *cn = tok_strdup(c);
    if (cn == NULL)
        return wmi__mof_oom(c);
    *cls = wmi_schema_get_class(c->f->nsent->schema, cn);
    if (*cls == NULL) {
        st = wmi__mof_perr(c, WBEM_E_NOT_FOUND, "class %s is not defined in namespace %s", cn, c->f->ns);
        free(cn);
        return st;
    }
    free(cn);
    TRY(next(c));
    if (!is_kw(c, "as"))
        return WBEM_S_NO_ERROR;
    if (embedded)
        return wmi__mof_perr(c, WBEMMOF_E_ALIASES_IN_EMBEDDED, "an embedded instance cannot have an alias");
    TRY(next(c));
    if (t->kind == MT_IDENT)
        return wmi__mof_perr(c, WBEMMOF_E_EXPECTED_DOLLAR, "an alias starts with \"$\"");
    if (t->kind != MT_ALIAS)
        return wmi__mof_perr(c, WBEMMOF_E_EXPECTED_ALIAS_NAME, "expected an alias ($Name)");
    *alias = strndup(t->start + 1, t->len - 1);
    if (*alias == NULL)
        return wmi__mof_oom(c);
    if (wmi__cimap_get(&c->f->aliases, *alias) != NULL)
        st = wmi__mof_perr(c, WBEMMOF_E_MULTIPLE_ALIASES, "alias $%s is already defined in this file", *alias);
    else
        st = next(c);
    if (WMI_FAILED(st)) {
        free(*alias);
        *alias = NULL;
    }
    return st;
}

/* One "Prop = value;" of the body of an instance of @cls, into @obj and
 * @lines; @names holds the properties set before it. */
static wmi_status
parse_instance_property(struct mof_comp *c, const wmi_class *cls, int depth, bool embedded, json_t *obj,
                        json_t *lines, struct name_set *names)
{
    struct mof_token *t = &c->f->tok;
    wmi_status st = WBEM_S_NO_ERROR;
    if (t->kind == MT_EOF)
        return wmi__mof_perr(c, WBEMMOF_E_EXPECTED_CLOSE_BRACE, "expected \"}\" to close the instance");
    if (is_punct(c, '[')) {
        /* Instance-level property qualifiers: accepted, not kept. */
        json_t *q = NULL, *fl = NULL, *uses = NULL;
        st = parse_qualifiers(c, &q, &fl, &uses);
        json_decref(q);
        json_decref(fl);
        json_decref(uses);
        TRY(st);
    }
    if (t->kind != MT_IDENT)
        return wmi__mof_perr(c, WBEMMOF_E_EXPECTED_PROPERTY_NAME, "expected a property name or \"}\"");
    char *pn = tok_strdup(c);
    if (pn == NULL)
        return wmi__mof_oom(c);
    const wmi_property *p = wmi_class_find_property(cls, pn);
    bool nomem = false;
    if (p == NULL)
        st = wmi__mof_perr(c, WBEM_E_NOT_FOUND, "class %s has no property %s", wmi_class_name(cls), pn);
    else if (!name_set_add(names, p->name, &nomem))
        st = nomem ? wmi__mof_oom(c) : wmi__mof_perr(c, WBEMMOF_E_DUPLICATE_PROPERTY, "%s is set twice", pn);
    free(pn);
    TRY(st);
    int pline = t->line, pcol = t->col;
    TRY(next(c));
    if (!is_punct(c, '='))
        return wmi__mof_perr(c, WBEMMOF_E_EXPECTED_SEMI, "expected \"=\" after %s", p->name);
    TRY(next(c));
    wmi_cimtype base = (wmi_cimtype)(p->type & ~CIM_FLAG_ARRAY);
    unsigned flags = V_EMBEDDED;
    if (p->type & CIM_FLAG_ARRAY)
        flags |= V_ARRAY;
    if (embedded)
        flags |= V_IN_EMB;
    else if (base == CIM_REFERENCE)
        flags |= V_ALIAS;
    json_t *v = NULL;
    enum mof_vkind k;
    TRY(parse_value(c, depth, flags, &v, &k, NULL));
    if (json_object_set_new(obj, p->name, v) != 0 ||
        json_object_set_new(lines, p->name, json_pack("[i,i]", pline, pcol)) != 0)
        return wmi__mof_oom(c);
    if (!is_punct(c, ';'))
        return wmi__mof_perr(c, WBEMMOF_E_EXPECTED_SEMI, "expected \";\" after the value of %s", p->name);
    return next(c);
}

/* "instance of Class [as $Alias] { Prop = value; ... }" after "instance";
 * top-level ones end with ';' and are queued on the file, embedded ones
 * are returned in *@out. */
static wmi_status
parse_instance(struct mof_comp *c, int depth, bool embedded, int line, int col, json_t **out)
{
    const wmi_class *cls = NULL;
    json_t *obj = NULL, *lines = NULL;
    char *alias = NULL;
    wmi_status st = WBEM_S_NO_ERROR;
    struct name_set names = {0};

    if (out != NULL)
        *out = NULL;
    if (depth > WMI_MAX_OBJECT_NESTING)
        return wmi__mof_perr(c, WBEMMOF_E_INVALID_INSTANCE_DECLARATION,
                             "embedded instances nest more than %d deep", WMI_MAX_OBJECT_NESTING);
    TRY(parse_instance_head(c, embedded, &cls, &alias));
    obj = json_pack("{s:s}", "__CLASS", wmi_class_name(cls));
    lines = json_object();
    if (obj == NULL || lines == NULL) {
        st = wmi__mof_oom(c);
        goto out;
    }
    if (!is_punct(c, '{')) {
        st = wmi__mof_perr(c, WBEMMOF_E_EXPECTED_OPEN_BRACE, "expected \"{\" to open the instance body");
        goto out;
    }
    if (WMI_FAILED(st = next(c)))
        goto out;
    while (!is_punct(c, '}'))
        if (WMI_FAILED(st = parse_instance_property(c, cls, depth, embedded, obj, lines, &names)))
            goto out;
    if (WMI_FAILED(st = next(c)))
        goto out;
    if (embedded) {
        /* Checked with its container; errors name the container's line. */
        *out = obj;
        obj = NULL;
        goto out;
    }
    if (!is_punct(c, ';')) {
        st = wmi__mof_perr(c, WBEMMOF_E_EXPECTED_SEMI, "expected \";\" after the instance body");
        goto out;
    }
    if (WMI_FAILED(st = next(c)))
        goto out;
    st = wmi__mof_add_instance(c, obj, lines, alias, line, col);
    obj = lines = NULL;
    alias = NULL;
out:
    json_decref(obj);
    json_decref(lines);
    free(alias);
    name_set_free(&names);
    return st;
}

/* ====================================================================
 * Pragmas
 * ==================================================================== */

/* '(' "string" ')' : the string, new. */
static wmi_status
pragma_string_arg(struct mof_comp *c, wmi_status bad, char **out)
{
    struct mof_token *t = &c->f->tok;
    json_t *v = NULL;
    enum mof_vkind k;
    *out = NULL;
    if (!is_punct(c, '('))
        return wmi__mof_perr(c, bad == WBEMMOF_E_INVALID_PRAGMA ? WBEMMOF_E_EXPECTED_OPEN_PAREN : bad,
                             "expected \"(\"");
    TRY(next(c));
    if (t->kind != MT_STRING)
        return wmi__mof_perr(c, bad, "expected a string");
    TRY(parse_scalar(c, 0, 0, &v, &k));
    *out = strdup(json_string_value(v));
    json_decref(v);
    if (*out == NULL)
        return wmi__mof_oom(c);
    if (!is_punct(c, ')')) {
        free(*out);
        *out = NULL;
        return wmi__mof_perr(c, bad == WBEMMOF_E_INVALID_PRAGMA ? WBEMMOF_E_EXPECTED_CLOSE_PAREN : bad,
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
        return wmi__mof_perr(c, WBEMMOF_E_INVALID_FLAGS_SYNTAX, "expected \"(\"");
    TRY(next(c));
    for (;;) {
        if (t->kind == MT_INT) {
            flags |= wmi__mof_flags_of_number(cls, t->u);
            TRY(next(c));
        } else if (t->kind == MT_STRING) {
            char s[32];
            snprintf(s, sizeof s, "%.*s", (int)(t->slen < 31 ? t->slen : 31), t->str);
            uint32_t named = wmi__mof_flags_of_name(cls, s);
            if (named == 0)
                return wmi__mof_perr(c, WBEMMOF_E_INVALID_FLAGS_SYNTAX, "unknown %s flag",
                                     cls ? "classflags" : "instanceflags");
            flags |= named;
            TRY(next(c));
        } else {
            return wmi__mof_perr(c, WBEMMOF_E_INVALID_FLAGS_SYNTAX, "expected a flag name in quotes");
        }
        if (is_punct(c, ',')) {
            TRY(next(c));
            continue;
        }
        break;
    }
    TRY(wmi__mof_set_flags(c, cls, flags));
    if (!is_punct(c, ')'))
        return wmi__mof_perr(c, WBEMMOF_E_INVALID_FLAGS_SYNTAX, "expected \")\"");
    return next(c);
}

/* deleteinstance("path", FAIL|NOFAIL) / deleteclass("Class", FAIL|NOFAIL) */
static wmi_status
pragma_delete(struct mof_comp *c, bool instance, int line)
{
    struct mof_token *t = &c->f->tok;
    wmi_status bad = instance ? WBEMMOF_E_INVALID_DELETEINSTANCE_SYNTAX : WBEMMOF_E_INVALID_DELETECLASS_SYNTAX;
    json_t *v = NULL;
    enum mof_vkind k;
    if (!is_punct(c, '('))
        return wmi__mof_perr(c, bad, "expected \"(\"");
    TRY(next(c));
    if (t->kind != MT_STRING)
        return wmi__mof_perr(c, bad, instance ? "expected an object path in quotes" : "expected a class name in quotes");
    int sline = t->line, scol = t->col;
    TRY(parse_scalar(c, 0, 0, &v, &k));
    const char *s = json_string_value(v);
    wmi_status st = wmi__mof_check_delete_target(c, instance, s, bad, sline, scol);
    bool nofail = false;
    if (WMI_SUCCEEDED(st) && !is_punct(c, ','))
        st = wmi__mof_perr(c, bad, "expected \",\" and FAIL or NOFAIL");
    if (WMI_SUCCEEDED(st))
        st = next(c);
    if (WMI_SUCCEEDED(st)) {
        if (is_kw(c, "nofail"))
            nofail = true;
        else if (!is_kw(c, "fail"))
            st = wmi__mof_perr(c, bad, "expected FAIL or NOFAIL");
    }
    if (WMI_SUCCEEDED(st))
        st = next(c);
    if (WMI_SUCCEEDED(st) && !is_punct(c, ')'))
        st = wmi__mof_perr(c, bad, "expected \")\"");
    if (WMI_SUCCEEDED(st))
        st = next(c);
    if (WMI_SUCCEEDED(st))
        st = wmi__mof_add_delete(c, instance, s, nofail, line);
    json_decref(v);
    return st;
}

/* After '#'. */
static wmi_status
parse_pragma(struct mof_comp *c, int line, int col)
{
    struct mof_token *t = &c->f->tok;
    if (!is_kw(c, "pragma"))
        return wmi__mof_perr(c, WBEMMOF_E_INVALID_PRAGMA, "expected \"pragma\" after \"#\"");
    TRY(next(c));
    if (t->kind != MT_IDENT)
        return wmi__mof_perr(c, WBEMMOF_E_INVALID_PRAGMA, "expected a pragma name");
    if (is_kw(c, "namespace")) {
        char *s;
        int sline = t->line, scol = t->col;
        TRY(next(c));
        sline = t->line;
        scol = t->col + 1;
        TRY(pragma_string_arg(c, WBEMMOF_E_INVALID_NAMESPACE_SYNTAX, &s));
        wmi_status st = wmi__mof_pragma_namespace(c, s, sline, scol);
        free(s);
        return st;
    }
    if (is_kw(c, "include")) {
        char *name;
        TRY(next(c));
        TRY(pragma_string_arg(c, WBEMMOF_E_ERROR_INVALID_INCLUDE_FILE, &name));
        wmi_status st = c->include(c, name, line, col);
        free(name);
        return st;
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
        TRY(wmi__mof_keep_pragma(c, "autorecover", NULL, t->line, t->col));
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
        wmi_status st = keep != NULL ? wmi__mof_keep_pragma(c, keep, s, pl, pc) : WBEM_S_NO_ERROR;
        free(s);
        return st;
    }
    return wmi__mof_perr(c, WBEMMOF_E_INVALID_PRAGMA, "unknown pragma");
}

/* ====================================================================
 * Statements
 * ==================================================================== */

/* Whole-file statements until end of file. */
wmi_status
wmi__mof_parse_file(struct mof_comp *c)
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
                st = (q && fl) ? parse_class(c, q, fl, uses, line, col) : wmi__mof_oom(c);
            }
        } else if (is_kw(c, "instance")) {
            st = uses ? wmi__mof_check_scopes(c, uses, QS_INSTANCE, false, false) : WBEM_S_NO_ERROR;
            if (WMI_SUCCEEDED(st))
                st = next(c);
            if (WMI_SUCCEEDED(st))
                st = parse_instance(c, 0, false, line, col, NULL);
        } else if (q == NULL && is_kw(c, "qualifier")) {
            st = next(c);
            if (WMI_SUCCEEDED(st))
                st = parse_qualifier_decl(c, line);
        } else if (is_kw(c, "typedef") || is_kw(c, "enum")) {
            st = wmi__mof_perr(c, WBEMMOF_E_TYPEDEF_NOT_SUPPORTED, "typedefs and enumerations are not supported");
        } else if (q != NULL) {
            st = wmi__mof_perr(c, WBEMMOF_E_INVALID_CLASS_DECLARATION,
                               "expected \"class\" or \"instance\" after qualifiers");
        } else {
            st = wmi__mof_perr(c, WBEMMOF_E_UNRECOGNIZED_TOKEN,
                               "expected a class, instance, qualifier declaration or #pragma");
        }
        json_decref(q);
        json_decref(fl);
        json_decref(uses);
        if (WMI_FAILED(st))
            return st;
    }
    return wmi__mof_finish_file(c);
}
