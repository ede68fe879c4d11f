/*
 * template.c - WMI standard string templates (see wmievent/template.h and
 * docs/templates.md).
 *
 * A template is compiled once into a short list of operations: literal
 * runs (with "%%" and quoted text already folded in) and property paths
 * split into their dotted segments.  Expansion walks the event's JSON tree
 * directly; the class of each embedded object is looked up in the event's
 * schema by its "__CLASS" so that names compare case-insensitively, unset
 * properties read as their class default, and reals and char16 values are
 * formatted by their CIM type.  Scalars are formatted into a stack buffer:
 * expanding "%ProcessName% %ProcessID%" allocates nothing once the
 * caller's buffer is large enough.  Only embedded objects (MOF text) cost
 * an allocation.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/object_internal.h"
#include "lib/strbuf.h"
#include "wmievent/template.h"

enum tpl_kind {
    OP_LITERAL,   /* lits[a .. a+b) */
    OP_PROPERTY,  /* segs[a .. a+b): offsets of NUL-terminated names */
};

struct tpl_op {
    enum tpl_kind kind;
    uint32_t a;
    uint32_t b;
};

struct wmi_template {
    size_t nops;
    struct tpl_op *ops;
    uint32_t *segs;  /* offsets into names */
    char *lits;      /* literal bytes of every OP_LITERAL, back to back */
    char *names;     /* segment names, each NUL-terminated */
};

/* Longest dotted path: the nesting limit of embedded objects, plus one. */
#define TPL_MAX_SEGMENTS (WMI_MAX_OBJECT_NESTING + 1)

/* ====================================================================
 * Compilation
 * ==================================================================== */

/* Length of the valid UTF-8 sequence at @s (1..4), or 0 if invalid. */
static size_t
utf8_seq_len(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        if (s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80)
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        if (s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

/* Check that @text is UTF-8; on failure fill @err with the line and column. */
static bool
check_utf8(const char *text, wmi_error *err)
{
    const unsigned char *s = (const unsigned char *)text;
    int line = 1;
    const unsigned char *bol = s;
    while (*s) {
        size_t n = utf8_seq_len(s);
        if (n == 0) {
            int column = (int)(s - bol) + 1;
            wmi_error_set(err, WBEM_E_INVALID_PARAMETER, "template", line, column,
                          "invalid UTF-8 byte 0x%02X at line %d, column %d", *s, line, column);
            return false;
        }
        if (*s == '\n') {
            line++;
            bol = s + 1;
        }
        s += n;
    }
    return true;
}

struct tpl_builder {
    struct tpl_op *ops;
    size_t nops, capops;
    uint32_t *segs;
    size_t nsegs, capsegs;
    wmi_strbuf lits;
    wmi_strbuf names;
};

static bool
push_op(struct tpl_builder *b, enum tpl_kind kind, size_t a, size_t n)
{
    if (a > UINT32_MAX || n > UINT32_MAX)
        return false;
    if (b->nops == b->capops) {
        size_t ncap = b->capops ? b->capops * 2 : 8;
        struct tpl_op *p = realloc(b->ops, ncap * sizeof *p);
        if (p == NULL)
            return false;
        b->ops = p;
        b->capops = ncap;
    }
    b->ops[b->nops++] = (struct tpl_op){kind, (uint32_t)a, (uint32_t)n};
    return true;
}

/* Append literal bytes, merging with a directly preceding literal op. */
static bool
add_literal(struct tpl_builder *b, const char *s, size_t n)
{
    if (n == 0)
        return true;
    size_t off = b->lits.len;
    if (!wmi__strbuf_append(&b->lits, s, n))
        return false;
    if (b->nops > 0 && b->ops[b->nops - 1].kind == OP_LITERAL &&
        (size_t)b->ops[b->nops - 1].a + b->ops[b->nops - 1].b == off) {
        if ((size_t)b->ops[b->nops - 1].b + n > UINT32_MAX)
            return false;
        b->ops[b->nops - 1].b += (uint32_t)n;
        return true;
    }
    return push_op(b, OP_LITERAL, off, n);
}

/*
 * A %name% reference: split on '.'.  A path with an empty segment
 * ("%%" is handled by the caller; "%.x%", "%a..b%", "%a.%") or too many
 * segments can never name a property: it compiles to nothing, which is
 * what an unknown property expands to.
 */
static bool
add_property(struct tpl_builder *b, const char *name, size_t n)
{
    size_t nseg = 1;
    for (size_t i = 0; i < n; i++)
        if (name[i] == '.')
            nseg++;
    if (nseg > TPL_MAX_SEGMENTS)
        return true;
    if (name[0] == '.' || name[n - 1] == '.')
        return true;
    for (size_t i = 0; i + 1 < n; i++)
        if (name[i] == '.' && name[i + 1] == '.')
            return true;

    if (b->nsegs + nseg > b->capsegs) {
        size_t ncap = b->capsegs ? b->capsegs : 8;
        while (ncap < b->nsegs + nseg)
            ncap *= 2;
        uint32_t *p = realloc(b->segs, ncap * sizeof *p);
        if (p == NULL)
            return false;
        b->segs = p;
        b->capsegs = ncap;
    }
    size_t first = b->nsegs;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || name[i] == '.') {
            if (b->names.len > UINT32_MAX)
                return false;
            b->segs[b->nsegs++] = (uint32_t)b->names.len;
            if (!wmi__strbuf_append(&b->names, name + start, i - start) ||
                !wmi__strbuf_putc(&b->names, '\0'))
                return false;
            start = i + 1;
        }
    }
    return push_op(b, OP_PROPERTY, first, nseg);
}

static bool
compile_text(struct tpl_builder *b, const char *text)
{
    const char *p = text;
    while (*p) {
        if (*p == '%') {
            const char *end = strchr(p + 1, '%');
            if (end == NULL) /* unterminated: the rest is literal */
                return add_literal(b, p, strlen(p));
            if (end == p + 1) { /* %% */
                if (!add_literal(b, "%", 1))
                    return false;
            } else if (!add_property(b, p + 1, (size_t)(end - p - 1))) {
                return false;
            }
            p = end + 1;
        } else if (*p == '"') {
            const char *end = strchr(p + 1, '"');
            if (end == NULL) { /* an unmatched quote is an ordinary character */
                if (!add_literal(b, p, 1))
                    return false;
                p++;
            } else { /* "..." copied literally, quotes included */
                if (!add_literal(b, p, (size_t)(end - p) + 1))
                    return false;
                p = end + 1;
            }
        } else {
            size_t n = strcspn(p, "%\"");
            if (!add_literal(b, p, n))
                return false;
            p += n;
        }
    }
    return true;
}

wmi_status
wmi_template_compile(const char *text, wmi_template **out, wmi_error *err)
{
    if (out == NULL)
        return WBEM_E_INVALID_PARAMETER;
    *out = NULL;
    if (text == NULL) {
        return wmi_error_set(err, WBEM_E_INVALID_PARAMETER, "template", 0, 0, "no template text");
    }
    if (!check_utf8(text, err))
        return WBEM_E_INVALID_PARAMETER;

    struct tpl_builder b;
    memset(&b, 0, sizeof b);
    wmi_template *t = calloc(1, sizeof *t);
    if (t == NULL || !compile_text(&b, text)) {
        free(t);
        free(b.ops);
        free(b.segs);
        wmi__strbuf_free(&b.lits);
        wmi__strbuf_free(&b.names);
        return WBEM_E_OUT_OF_MEMORY;
    }
    t->nops = b.nops;
    t->ops = b.ops;
    t->segs = b.segs;
    t->lits = b.lits.data;
    t->names = b.names.data;
    *out = t;
    return WBEM_S_NO_ERROR;
}

void
wmi_template_free(wmi_template *tmpl)
{
    if (tmpl == NULL)
        return;
    free(tmpl->ops);
    free(tmpl->segs);
    free(tmpl->lits);
    free(tmpl->names);
    free(tmpl);
}

/* ====================================================================
 * Value formatting
 * ==================================================================== */

static wmi_cimtype
base_type(wmi_cimtype t)
{
    return (wmi_cimtype)(t & ~CIM_FLAG_ARRAY);
}

/* Decimal text of a signed 64-bit integer into @buf (>= 21 bytes). */
static size_t
fmt_int(char *buf, long long v)
{
    char tmp[24];
    size_t n = 0, len = 0;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u != 0);
    if (v < 0)
        buf[len++] = '-';
    while (n > 0)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

/*
 * The shortest %g text that reads back as the same value: as a double for
 * real64, as a float for real32 (a real32 0.1 prints "0.1", not the
 * 0.100000001490116 its double widening would give).
 */
static size_t
fmt_real(char *buf, size_t size, double d, bool real32)
{
    int n = 0;
    if (real32) {
        double want = (double)(float)d;
        for (int prec = 6; prec <= 9; prec++) {
            n = snprintf(buf, size, "%.*g", prec, want);
            if ((double)strtof(buf, NULL) == want)
                break;
        }
    } else {
        for (int prec = 15; prec <= 17; prec++) {
            n = snprintf(buf, size, "%.*g", prec, d);
            if (strtod(buf, NULL) == d)
                break;
        }
    }
    return n < 0 ? 0 : (size_t)n;
}

/* @s quoted with @q, with @q and backslash escaped by a backslash (MOF). */
static bool
put_quoted(wmi_strbuf *sb, const char *s, size_t n, char q)
{
    if (!wmi__strbuf_putc(sb, q))
        return false;
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == q || s[i] == '\\') {
            if (!wmi__strbuf_append(sb, s + start, i - start) || !wmi__strbuf_putc(sb, '\\'))
                return false;
            start = i;
        }
    }
    return wmi__strbuf_append(sb, s + start, n - start) && wmi__strbuf_putc(sb, q);
}

/*
 * An embedded object as its MOF text, as GetObjectText gives it: through
 * wmi_object_get_text on a stack view of the embedded instance when its
 * class is known (properties in class order), else wmi_value_get_text.
 * The final newline of GetObjectText is dropped: the template decides
 * where lines end.
 */
static bool
put_object(wmi_strbuf *sb, const json_t *v, const wmi_schema *schema)
{
    const char *cname = json_string_value(json_object_get(v, "__CLASS"));
    const wmi_class *cls = schema != NULL && cname != NULL ? wmi_schema_get_class(schema, cname) : NULL;
    char *text;
    if (cls != NULL) {
        struct wmi_object view;
        memset(&view, 0, sizeof view);
        atomic_init(&view.refs, 1);
        view.cls = cls;
        view.schema = (wmi_schema *)schema;
        view.json = (json_t *)v;
        text = wmi_object_get_text(&view);
    } else {
        text = wmi_value_get_text(v, CIM_OBJECT);
    }
    if (text == NULL)
        return false;
    size_t n = strlen(text);
    if (n > 0 && text[n - 1] == '\n')
        n--;
    bool ok = wmi__strbuf_append(sb, text, n);
    free(text);
    return ok;
}

/*
 * One scalar value.  @element: it is an element of an array, so strings
 * are written as in MOF ("C:" with quotes, char16 as 'c'); a scalar
 * property's string is written bare.  NULL writes nothing.
 */
static bool
put_scalar(wmi_strbuf *sb, const json_t *v, wmi_cimtype type, bool element,
           const wmi_schema *schema)
{
    char num[40];
    size_t n;

    switch (json_typeof(v)) {
    case JSON_STRING:
        /* 64-bit integers may be held as decimal strings: never quoted */
        if (!element || base_type(type) == CIM_UINT64 || base_type(type) == CIM_SINT64)
            return wmi__strbuf_append(sb, json_string_value(v), json_string_length(v));
        return put_quoted(sb, json_string_value(v), json_string_length(v),
                          base_type(type) == CIM_CHAR16 ? '\'' : '"');
    case JSON_INTEGER:
        n = fmt_int(num, (long long)json_integer_value(v));
        return wmi__strbuf_append(sb, num, n);
    case JSON_REAL:
        n = fmt_real(num, sizeof num, json_real_value(v), base_type(type) == CIM_REAL32);
        return wmi__strbuf_append(sb, num, n);
    case JSON_TRUE:
        return wmi__strbuf_append(sb, "TRUE", 4);
    case JSON_FALSE:
        return wmi__strbuf_append(sb, "FALSE", 5);
    case JSON_OBJECT:
        return put_object(sb, v, schema);
    case JSON_NULL:
    case JSON_ARRAY: /* arrays are handled by the callers */
    default:
        return true;
    }
}

/* Number of non-NULL elements of an array value, or 1 for a non-NULL scalar. */
static size_t
count_elements(const json_t *v)
{
    if (json_is_array(v)) {
        size_t n = 0, i;
        const json_t *e;
        json_array_foreach(v, i, e) {
            if (!json_is_null(e))
                n++;
        }
        return n;
    }
    return json_is_null(v) ? 0 : 1;
}

/* The elements of @v (array, or a single scalar), each preceded by a comma
 * except the very first one written (*@first). */
static bool
put_elements(wmi_strbuf *sb, const json_t *v, wmi_cimtype type, bool *first,
             const wmi_schema *schema)
{
    if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) {
            if (!put_elements(sb, e, type, first, schema))
                return false;
        }
        return true;
    }
    if (json_is_null(v))
        return true;
    if (!*first && !wmi__strbuf_putc(sb, ','))
        return false;
    *first = false;
    return put_scalar(sb, v, type, true, schema);
}

/* A whole value: arrays as (a,b), one element without parentheses, () when empty. */
static bool
put_value(wmi_strbuf *sb, const json_t *v, wmi_cimtype type, const wmi_schema *schema)
{
    if (!json_is_array(v))
        return put_scalar(sb, v, type, false, schema);
    size_t n = count_elements(v);
    bool first = true;
    if (n == 1)
        return put_elements(sb, v, type, &first, schema);
    return wmi__strbuf_putc(sb, '(') && put_elements(sb, v, type, &first, schema) &&
           wmi__strbuf_putc(sb, ')');
}

/* ====================================================================
 * Path resolution
 * ==================================================================== */

/*
 * Property @name of the embedded instance @obj (a JSON object with
 * "__CLASS").  The class from @schema gives the spelling, the CIM type and
 * the default; without a class (no schema, unknown class) the JSON is
 * searched case-insensitively and values are formatted by their JSON
 * type.  Returns false when the property does not exist; *@out may be a
 * JSON null.
 */
static bool
lookup_embedded(const wmi_schema *schema, const json_t *obj, const char *name,
                const json_t **out, wmi_cimtype *type)
{
    const json_t *cls_json = json_object_get(obj, "__CLASS");
    if (strcasecmp(name, "__CLASS") == 0) {
        if (cls_json == NULL)
            return false;
        *out = cls_json;
        *type = CIM_STRING;
        return true;
    }
    const wmi_class *cls = NULL;
    if (schema != NULL && json_is_string(cls_json))
        cls = wmi_schema_get_class(schema, json_string_value(cls_json));
    if (cls != NULL) {
        const wmi_property *prop = wmi_class_find_property(cls, name);
        if (prop == NULL)
            return false;
        const json_t *v = json_object_get(obj, prop->name);
        if (v == NULL)
            v = prop->default_value;
        *out = v != NULL ? v : json_null();
        *type = prop->type;
        return true;
    }
    const json_t *v = json_object_get(obj, name);
    if (v == NULL) {
        const char *k;
        json_t *kv;
        json_object_foreach((json_t *)obj, k, kv) {
            if (strcasecmp(k, name) == 0) {
                v = kv;
                break;
            }
        }
    }
    if (v == NULL)
        return false;
    *out = v;
    *type = CIM_EMPTY;
    return true;
}

struct walk_ctx {
    const wmi_schema *schema;
    const wmi_template *tmpl;
    const uint32_t *segs;
    size_t nseg;
    wmi_strbuf *sb;   /* NULL: count only */
    size_t count;
    bool first;
};

/*
 * Visit the values reached from @v by segments @k.. of the path, through
 * arrays of embedded objects, flattening arrays.  Counts elements, or
 * writes them comma-separated.
 */
static bool
walk(struct walk_ctx *c, const json_t *v, wmi_cimtype type, size_t k)
{
    if (k == c->nseg) {
        if (c->sb == NULL) {
            c->count += count_elements(v);
            return true;
        }
        return put_elements(c->sb, v, type, &c->first, c->schema);
    }
    if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) {
            if (!walk(c, e, base_type(type), k))
                return false;
        }
        return true;
    }
    if (!json_is_object(v))
        return true; /* a dot on a non-object: nothing */
    const json_t *cv;
    wmi_cimtype ct;
    if (!lookup_embedded(c->schema, v, c->tmpl->names + c->segs[k], &cv, &ct))
        return true;
    return walk(c, cv, ct, k + 1);
}

static bool
expand_property(wmi_strbuf *sb, const wmi_template *t, const struct tpl_op *op,
                const wmi_object *event)
{
    const uint32_t *segs = t->segs + op->a;
    size_t nseg = op->b;
    const char *name = t->names + segs[0];
    const json_t *v;
    wmi_cimtype type = CIM_EMPTY;

    if (event == NULL)
        return true;
    if (WMI_FAILED(wmi_object_get_json(event, name, &v, &type))) {
        if (strcasecmp(name, "__CLASS") != 0)
            return true;
        if (nseg > 1)
            return true;
        return wmi__strbuf_puts(sb, wmi_object_class_name(event));
    }

    /* The common case: a chain of embedded objects, one value at the end. */
    const wmi_schema *schema = event->schema;
    size_t k = 1;
    for (; k < nseg; k++) {
        if (!json_is_object(v))
            break;
        if (!lookup_embedded(schema, v, t->names + segs[k], &v, &type))
            return true;
    }
    if (k == nseg)
        return put_value(sb, v, type, schema);
    if (!json_is_array(v))
        return true; /* a dot on a scalar or NULL */

    /* Through an array of embedded objects: the result is an array. */
    struct walk_ctx c = {schema, t, segs, nseg, NULL, 0, true};
    walk(&c, v, type, k);
    size_t n = c.count;
    c.sb = sb;
    if (n == 1)
        return walk(&c, v, type, k);
    return wmi__strbuf_putc(sb, '(') && walk(&c, v, type, k) && wmi__strbuf_putc(sb, ')');
}

wmi_status
wmi_template_expand(const wmi_template *tmpl, const wmi_object *event, char **buf,
                    size_t *len, size_t *cap)
{
    if (tmpl == NULL || buf == NULL || len == NULL || cap == NULL)
        return WBEM_E_INVALID_PARAMETER;

    wmi_strbuf sb = {*buf, *len, *buf != NULL ? *cap : 0};
    size_t start = sb.len;
    bool ok = wmi__strbuf_reserve(&sb, 0);
    if (ok)
        sb.data[sb.len] = '\0'; /* even when nothing is appended */

    for (size_t i = 0; ok && i < tmpl->nops; i++) {
        const struct tpl_op *op = &tmpl->ops[i];
        if (op->kind == OP_LITERAL)
            ok = wmi__strbuf_append(&sb, tmpl->lits + op->a, op->b);
        else
            ok = expand_property(&sb, tmpl, op, event);
    }
    if (!ok) {
        sb.len = start;
        if (sb.data != NULL)
            sb.data[start] = '\0';
    }
    *buf = sb.data;
    *len = sb.len;
    *cap = sb.cap;
    return ok ? WBEM_S_NO_ERROR : WBEM_E_OUT_OF_MEMORY;
}

wmi_status
wmi_template_expand_string(const char *text, const wmi_object *event, char **out)
{
    wmi_template *t;
    if (out == NULL)
        return WBEM_E_INVALID_PARAMETER;
    *out = NULL;
    wmi_status st = wmi_template_compile(text, &t, NULL);
    if (WMI_FAILED(st))
        return st;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    st = wmi_template_expand(t, event, &buf, &len, &cap);
    wmi_template_free(t);
    if (WMI_FAILED(st)) {
        free(buf);
        return st;
    }
    *out = buf;
    return WBEM_S_NO_ERROR;
}
