/*
 * mof_semantics.c - what the MOF compiler's statements mean, below its
 * grammar (mof_internal.h): errors, the operations list it outputs,
 * namespaces, the checks of values, flavors and scopes against qualifier
 * declarations, the instances of a file with their aliases, resolved and
 * checked against the schema at the end of the file, and the effects of
 * the pragmas the grammar reads.
 *
 * Schemas: every namespace the file names gets an overlay schema: a
 * wmi_schema whose class map holds the base schema's classes (borrowed,
 * not owned: they are not in its list, so wmi_schema_free leaves them)
 * plus the classes this compile defines.  Classes are defined as they are
 * parsed, so a class or instance can only use classes declared before it
 * (as mofcomp stores in file order).
 *
 * Bounds: alias key chains nest at most MOF_MAX_ALIAS_DEPTH deep; a path
 * built from aliases is at most WMI_MOF_MAX_PATH_LENGTH bytes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/cimap.h"
#include "lib/mof_internal.h"
#include "lib/object_internal.h"

#define MOF_MAX_ALIAS_DEPTH 32

/* ====================================================================
 * Errors
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

wmi_status
wmi__mof_perr_at(struct mof_comp *c, wmi_status st, int line, int col, const char *fmt, ...)
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
wmi_status
wmi__mof_perr(struct mof_comp *c, wmi_status st, const char *fmt, ...)
{
    char msg[200], td[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tok_desc(&c->f->tok, td, sizeof td);
    return wmi__mof_perr_at(c, st, c->f->tok.line, c->f->tok.col, "%s, found %s", msg, td);
}

wmi_status
wmi__mof_oom(struct mof_comp *c)
{
    return wmi__mof_perr_at(c, WBEM_E_OUT_OF_MEMORY, c->f ? c->f->tok.line : 0, c->f ? c->f->tok.col : 0,
                            "out of memory");
}

/* ====================================================================
 * Value kinds, flavors and scopes
 * ==================================================================== */

/* The kind of a constant's JSON form (array elements). */
enum mof_vkind
wmi__mof_json_kind(const json_t *v)
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
bool
wmi__mof_kind_fits(enum mof_vkind k, const char *type)
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

/* Flavors that contradict each other. */
bool
wmi__mof_flavors_compatible(const json_t *list, const char *add)
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


/* The declaration of qualifier @name (any case), or NULL. */
const json_t *
wmi__mof_qualifier_decl(const struct mof_comp *c, const char *name)
{
    char lname[256];
    snprintf(lname, sizeof lname, "%s", name);
    for (char *p = lname; *p; p++)
        *p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
    return json_object_get(c->quals, lname);
}

/* A declared qualifier's value @val (of kind @k, at @vline/@vcol) must
 * fit the type of its declaration @decl. */
wmi_status
wmi__mof_check_qualifier_value(struct mof_comp *c, const char *name, const json_t *decl, const json_t *val,
                               enum mof_vkind k, int vline, int vcol)
{
    const char *type = json_string_value(json_object_get(decl, "CIMType"));
    bool is_array = json_is_true(json_object_get(decl, "IsArray"));
    if (type == NULL)
        return WBEM_S_NO_ERROR;
    bool ok = k == VK_ARRAY ? is_array : wmi__mof_kind_fits(k, type);
    size_t i;
    json_t *e;
    if (k == VK_ARRAY)
        json_array_foreach(val, i, e) ok = ok && wmi__mof_kind_fits(wmi__mof_json_kind(e), type);
    if (!ok)
        return wmi__mof_perr_at(c, WBEMMOF_E_TYPE_MISMATCH, vline, vcol,
                                "qualifier %s is declared %s%s; this value does not match", name, type,
                                is_array ? "[]" : "");
    return WBEM_S_NO_ERROR;
}

/* The flavors of qualifier @name's declaration @decl apply to its use
 * too (in @flavors), where the use says nothing to the contrary (a use's
 * ToInstance keeps a declared DisableOverride). */
wmi_status
wmi__mof_add_declared_flavors(struct mof_comp *c, const char *name, const json_t *decl, json_t *flavors)
{
    const json_t *dfl = json_object_get(decl, "Flavor");
    if (json_array_size(dfl) == 0)
        return WBEM_S_NO_ERROR;
    json_t *fl = json_object_get(flavors, name);
    if (fl == NULL && (fl = json_array()) != NULL && json_object_set_new(flavors, name, fl) != 0)
        fl = NULL;
    if (fl == NULL)
        return wmi__mof_oom(c);
    size_t di;
    json_t *d;
    json_array_foreach(dfl, di, d) {
        bool have = false;
        size_t hi;
        json_t *h;
        json_array_foreach(fl, hi, h) have = have || json_equal(h, d);
        if (!have && wmi__mof_flavors_compatible(fl, json_string_value(d)) && json_array_append(fl, d) != 0)
            return wmi__mof_oom(c);
    }
    return WBEM_S_NO_ERROR;
}

static bool
scope_allows(const json_t *decl, enum mof_qscope where, bool assoc, bool indication)
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

/* Declare qualifier @name as @decl (taken): an operation at @line, and
 * the declaration the uses that follow are checked against. */
wmi_status
wmi__mof_declare_qualifier(struct mof_comp *c, const char *name, json_t *decl, int line)
{
    char lname[256];
    snprintf(lname, sizeof lname, "%s", name);
    for (char *p = lname; *p; p++)
        *p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
    wmi_mof_op *op = wmi__mof_add_op(c, WMI_MOF_QUALIFIER, line);
    if (op == NULL || json_object_set(c->quals, lname, decl) != 0) {
        json_decref(decl);
        return wmi__mof_oom(c);
    }
    op->json = decl;
    return WBEM_S_NO_ERROR;
}

/* Check each used qualifier against its declared scope. */
wmi_status
wmi__mof_check_scopes(struct mof_comp *c, const json_t *uses, enum mof_qscope where, bool assoc, bool indication)
{
    const char *name;
    json_t *pos;
    json_object_foreach((json_t *)uses, name, pos) {
        const json_t *decl = wmi__mof_qualifier_decl(c, name);
        if (decl != NULL && !scope_allows(decl, where, assoc, indication))
            return wmi__mof_perr_at(c, WBEMMOF_E_QUALIFIER_USED_OUTSIDE_SCOPE,
                                    (int)json_integer_value(json_array_get(pos, 0)),
                                    (int)json_integer_value(json_array_get(pos, 1)),
                                    "qualifier %s is not declared for this scope", name);
    }
    return WBEM_S_NO_ERROR;
}

/* ====================================================================
 * Operations and namespaces
 * ==================================================================== */

wmi_mof_op *
wmi__mof_add_op(struct mof_comp *c, wmi_mof_op_kind kind, int line)
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
        if (!wmi__cimap_put(&s->classes, base->list[i]->name, base->list[i])) {
            wmi_schema_free(s);
            return NULL;
        }
    }
    return s;
}

/* Switch the current file to namespace @name (taken). */
wmi_status
wmi__mof_set_namespace(struct mof_comp *c, char *name)
{
    struct mof_ns *e = wmi__cimap_get(&c->nsmap, name);
    if (e == NULL) {
        e = calloc(1, sizeof *e);
        if (e == NULL) {
            free(name);
            return wmi__mof_oom(c);
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
            !wmi__cimap_put(&c->nsmap, e->name, e)) {
            free(e->name);
            wmi_schema_free(e->schema);
            free(e);
            free(name);
            return wmi__mof_oom(c);
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
char *
wmi__mof_namespace_path(const char *spec, const char *cur)
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

/* Position of a property of the class being defined, for errors. */
void
wmi__mof_prop_pos(const json_t *lines, const char *source, int *line, int *col)
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

/* Define class @def (taken) in the current namespace's overlay schema,
 * an operation at @line.  Errors are reported at the class name
 * (@nline/@ncol) or at the property of @lines they concern. */
wmi_status
wmi__mof_define_class(struct mof_comp *c, json_t *def, const json_t *lines, int nline, int ncol, int line)
{
    const char *cname = json_string_value(json_object_get(def, "__CLASS"));
    const char *sname = json_string_value(json_object_get(def, "__SUPERCLASS"));
    wmi_error e;
    memset(&e, 0, sizeof e);
    wmi_schema *schema = c->f->nsent->schema;
    wmi_status st = wmi_schema_add_class_json(schema, def, &e);
    if (st == WBEM_E_ALREADY_EXISTS) {
        /* A class that exists is updated (mofcomp's default classflags);
         * instances are checked against the definition that exists. */
        st = WBEM_S_NO_ERROR;
    } else if (WMI_FAILED(st)) {
        int el = nline, ec = ncol;
        if (st == WBEM_E_INVALID_SUPERCLASS && sname != NULL)
            snprintf(e.text, sizeof e.text, "superclass %s is not defined in %s", sname, c->f->ns);
        else
            wmi__mof_prop_pos(lines, e.source, &el, &ec);
        st = wmi__mof_perr_at(c, st, el, ec, "class %s: %s", cname, e.text);
        json_decref(def);
        return st;
    }
    wmi_mof_op *op = wmi__mof_add_op(c, WMI_MOF_CLASS, line);
    if (op == NULL) {
        json_decref(def);
        return wmi__mof_oom(c);
    }
    op->json = def;
    op->flags = c->classflags;
    return WBEM_S_NO_ERROR;
}

/* ====================================================================
 * Instances, aliases and the end of a file
 * ==================================================================== */

void
wmi__mof_inst_free(struct mof_inst *in)
{
    if (in == NULL)
        return;
    json_decref(in->json);
    json_decref(in->lines);
    free(in->alias);
    free(in->path);
    free(in);
}

/* Queue an instance of the current file, an operation at @line (@col):
 * @obj (with alias placeholders), its property positions @lines and its
 * @alias (or NULL) are taken.  wmi__mof_finish_file checks it. */
wmi_status
wmi__mof_add_instance(struct mof_comp *c, json_t *obj, json_t *lines, char *alias, int line, int col)
{
    struct mof_file *f = c->f;
    wmi_mof_op *op = wmi__mof_add_op(c, WMI_MOF_INSTANCE, line);
    struct mof_inst *in = calloc(1, sizeof *in);
    if (op == NULL || in == NULL) {
        free(in);
        json_decref(obj);
        json_decref(lines);
        free(alias);
        return wmi__mof_oom(c);
    }
    op->flags = c->instflags;
    in->op = c->res->nops - 1;
    in->json = obj;
    in->lines = lines;
    in->alias = alias;
    in->line = line;
    in->col = col;
    in->schema = f->nsent->schema;
    if (f->ninsts == f->capinsts) {
        size_t ncap = f->capinsts ? f->capinsts * 2 : 16;
        struct mof_inst **ni = realloc(f->insts, ncap * sizeof *ni);
        if (ni == NULL) {
            wmi__mof_inst_free(in);
            return wmi__mof_oom(c);
        }
        f->insts = ni;
        f->capinsts = ncap;
    }
    if (in->alias != NULL && !wmi__cimap_put(&f->aliases, in->alias, in)) {
        wmi__mof_inst_free(in);
        return wmi__mof_oom(c);
    }
    f->insts[f->ninsts++] = in;
    return WBEM_S_NO_ERROR;
}

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
    struct mof_inst *target = wmi__cimap_get(&c->f->aliases, name);
    if (target == NULL)
        return wmi__mof_perr_at(c, WBEM_E_NOT_FOUND, line, col, "alias $%s is not defined in this file", name);
    if (depth > MOF_MAX_ALIAS_DEPTH)
        return wmi__mof_perr_at(c, WBEM_E_CIRCULAR_REFERENCE, line, col,
                                "alias $%s: key references nest more than %d deep", name, MOF_MAX_ALIAS_DEPTH);
    if (target->state == 1)
        return wmi__mof_perr_at(c, WBEM_E_CIRCULAR_REFERENCE, line, col,
                                "alias $%s: the key references of these instances form a cycle", name);
    TRY(inst_resolve_keys(c, target, depth + 1));
    if (target->path == NULL)
        return wmi__mof_perr_at(c, WBEM_E_INVALID_OBJECT_PATH, line, col,
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
            return wmi__mof_oom(c);
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *e = json_array_get(v, i);
            if (!is_placeholder(e))
                continue;
            TRY(placeholder_path(c, e, depth, &path));
            if (json_array_set_new(v, i, json_string(path)) != 0)
                return wmi__mof_oom(c);
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
    wmi__mof_prop_pos(in->lines, buf, line, col);
    if (*line == in->line)
        wmi__mof_prop_pos(in->lines, source, line, col);
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
                return wmi__mof_perr_at(c, WBEM_E_NO_KEY, in->line, in->col,
                                        "instance of %s: key property %s has no value", cname, p->name);
        }
        if (in->path != NULL && strlen(in->path) > WMI_MOF_MAX_PATH_LENGTH) {
            free(in->path);
            in->path = NULL;
            return wmi__mof_perr_at(c, WBEM_E_INVALID_OBJECT_PATH, in->line, in->col,
                                    "the path of this instance is longer than %d bytes", WMI_MOF_MAX_PATH_LENGTH);
        }
    }
    in->state = 2;
    return WBEM_S_NO_ERROR;
}

/* Resolve every alias of the file, check every instance, fill the ops. */
wmi_status
wmi__mof_finish_file(struct mof_comp *c)
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
            return wmi__mof_perr_at(c, st, line, col, "%s%s%s", e.source, e.source[0] ? ": " : "", e.text);
        }
        const wmi_class *cls = wmi_object_class(o);
        bool has_keys = (wmi_class_flags(cls) & WMI_CLASS_SINGLETON) != 0;
        for (size_t p = 0; p < wmi_class_property_count(cls) && !has_keys; p++)
            has_keys = (wmi_class_property_at(cls, p)->flags & WMI_PROPERTY_KEY) != 0;
        if (has_keys && in->path == NULL) {
            wmi_object_unref(o);
            return wmi__mof_perr_at(c, WBEM_E_NO_KEY, in->line, in->col,
                                    "instance of %s: every key property needs a value", wmi_class_name(cls));
        }
        wmi_mof_op *op = &c->res->ops[in->op];
        op->json = json_deep_copy(wmi_object_json(o));
        wmi_object_unref(o);
        if (op->json == NULL)
            return wmi__mof_oom(c);
        /* Later instances of the file may still refer to this one. */
        if ((in->path != NULL && (op->target = strdup(in->path)) == NULL) ||
            (in->alias != NULL && (op->alias = strdup(in->alias)) == NULL))
            return wmi__mof_oom(c);
    }
    return WBEM_S_NO_ERROR;
}

/* ====================================================================
 * Pragmas (read by mof_grammar.c)
 * ==================================================================== */

/* #pragma namespace("@spec"): switch the current file to that namespace;
 * @line/@col locate @spec. */
wmi_status
wmi__mof_pragma_namespace(struct mof_comp *c, const char *spec, int line, int col)
{
    char *ns = wmi__mof_namespace_path(spec, c->f->ns);
    if (ns == NULL)
        return wmi__mof_perr_at(c, WBEMMOF_E_INVALID_NAMESPACE_SPECIFICATION, line, col,
                                "\"%s\" is not a namespace path", spec);
    return wmi__mof_set_namespace(c, ns);
}

/* The classflags (@cls) or instanceflags of a flag given as a number. */
uint32_t
wmi__mof_flags_of_number(bool cls, uint64_t u)
{
    /* WBEM_FLAG_CREATE_ONLY 2, UPDATE_ONLY 1, UPDATE_SAFE_MODE 0x20, FORCE_MODE 0x40 */
    uint32_t flags = 0;
    if (u & 2)
        flags |= cls ? WMI_MOF_CLASS_CREATEONLY : WMI_MOF_INSTANCE_CREATEONLY;
    if (u & 1)
        flags |= cls ? WMI_MOF_CLASS_UPDATEONLY : WMI_MOF_INSTANCE_UPDATEONLY;
    if (cls && (u & 0x20))
        flags |= WMI_MOF_CLASS_SAFEUPDATE;
    if (cls && (u & 0x40))
        flags |= WMI_MOF_CLASS_FORCEUPDATE;
    return flags;
}

/* ... of a flag given by name ("createonly"), or 0 for an unknown name. */
uint32_t
wmi__mof_flags_of_name(bool cls, const char *s)
{
    if (strcasecmp(s, "createonly") == 0)
        return cls ? WMI_MOF_CLASS_CREATEONLY : WMI_MOF_INSTANCE_CREATEONLY;
    if (strcasecmp(s, "updateonly") == 0)
        return cls ? WMI_MOF_CLASS_UPDATEONLY : WMI_MOF_INSTANCE_UPDATEONLY;
    if (cls && strcasecmp(s, "safeupdate") == 0)
        return WMI_MOF_CLASS_SAFEUPDATE;
    if (cls && strcasecmp(s, "forceupdate") == 0)
        return WMI_MOF_CLASS_FORCEUPDATE;
    return 0;
}

/* The classflags (@cls) or instanceflags of the operations that follow;
 * an error at the current token when they exclude each other. */
wmi_status
wmi__mof_set_flags(struct mof_comp *c, bool cls, uint32_t flags)
{
    if ((flags & WMI_MOF_CLASS_CREATEONLY) && (flags & WMI_MOF_CLASS_UPDATEONLY))
        return wmi__mof_perr(c, WBEMMOF_E_INVALID_FLAGS_SYNTAX, "createonly and updateonly exclude each other");
    if ((flags & WMI_MOF_INSTANCE_CREATEONLY) && (flags & WMI_MOF_INSTANCE_UPDATEONLY))
        return wmi__mof_perr(c, WBEMMOF_E_INVALID_FLAGS_SYNTAX, "createonly and updateonly exclude each other");
    if (cls)
        c->classflags = flags;
    else
        c->instflags = flags;
    return WBEM_S_NO_ERROR;
}

/* The target of a deleteinstance (@instance: an object path) or
 * deleteclass (a class name); @bad at @line/@col when it is none. */
wmi_status
wmi__mof_check_delete_target(struct mof_comp *c, bool instance, const char *s, wmi_status bad, int line,
                             int col)
{
    wmi_status st = WBEM_S_NO_ERROR;
    if (instance) {
        char *cn = NULL;
        json_t *keys = NULL;
        if (WMI_FAILED(wmi_path_parse(s, &cn, &keys)))
            st = wmi__mof_perr_at(c, bad, line, col, "\"%s\" is not an object path", s);
        free(cn);
        json_decref(keys);
    } else {
        bool ok = s[0] != '\0';
        for (const char *p = s; *p && ok; p++)
            ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_' ||
                 (unsigned char)*p >= 0x80 || (p > s && *p >= '0' && *p <= '9');
        if (!ok)
            st = wmi__mof_perr_at(c, bad, line, col, "\"%s\" is not a class name", s);
    }
    return st;
}

/* The operation of a deleteinstance (@instance) or deleteclass pragma. */
wmi_status
wmi__mof_add_delete(struct mof_comp *c, bool instance, const char *target, bool nofail, int line)
{
    wmi_mof_op *op = wmi__mof_add_op(c, instance ? WMI_MOF_DELETE_INSTANCE : WMI_MOF_DELETE_CLASS, line);
    if (op == NULL || (op->target = strdup(target)) == NULL)
        return wmi__mof_oom(c);
    op->flags = nofail ? WMI_MOF_NOFAIL : 0;
    return WBEM_S_NO_ERROR;
}

/* Keep pragma @name in the result's pragmas: @value, or true when NULL.
 * A second amendment is an error at @line/@col. */
wmi_status
wmi__mof_keep_pragma(struct mof_comp *c, const char *name, const char *value, int line, int col)
{
    if (strcmp(name, "amendment") == 0 && json_object_get(c->res->pragmas, "amendment") != NULL)
        return wmi__mof_perr_at(c, WBEMMOF_E_INVALID_DUPLICATE_AMENDMENT, line, col, "a second amendment pragma");
    if (json_object_set_new(c->res->pragmas, name, value ? json_string(value) : json_true()) != 0)
        return wmi__mof_oom(c);
    return WBEM_S_NO_ERROR;
}

/* ====================================================================
 * The result (wmievent/mof.h)
 * ==================================================================== */

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
