/*
 * wql_lex.c - WQL lexer, UTF-8 helpers and case folding.
 */
#include "lib/wql_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ====================================================================
 * UTF-8 and case folding
 * ==================================================================== */

size_t
wmi__wql_utf8_valid_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2; cp = c & 0x1Fu; min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3; cp = c & 0x0Fu; min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4; cp = c & 0x07u; min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

uint32_t
wmi__wql_utf8_decode(const unsigned char *s, size_t n, size_t *len)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *len = 1;
        return c;
    }
    size_t l = wmi__wql_utf8_valid_len(s, n);
    if (l == 0) {
        *len = 1;
        return 0xDC00u + c;
    }
    uint32_t cp = (l == 2) ? (c & 0x1Fu) : (l == 3) ? (c & 0x0Fu) : (c & 0x07u);
    for (size_t i = 1; i < l; i++)
        cp = (cp << 6) | (s[i] & 0x3Fu);
    *len = l;
    return cp;
}

uint32_t
wmi__wql_fold(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    if (c < 0x100)
        return (c >= 0xC0 && c <= 0xDE && c != 0xD7) ? c + 32 : c;
    if (c < 0x180) {
        /* Latin Extended-A: upper/lower pairs.  U+0130 (I with dot) and
         * U+0131 (dotless i) change UTF-8 length when folded: left alone. */
        if ((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) ||
            (c >= 0x14A && c <= 0x177))
            return (c & 1u) ? c : c + 1;
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
            return (c & 1u) ? c + 1 : c;
        if (c == 0x178)
            return 0xFF;
        return c;
    }
    if (c >= 0x391 && c <= 0x3AB && c != 0x3A2)
        return c + 32;                  /* Greek capitals */
    if (c >= 0x410 && c <= 0x42F)
        return c + 32;                  /* Cyrillic capitals */
    if (c >= 0x400 && c <= 0x40F)
        return c + 80;                  /* Cyrillic capitals with marks */
    return c;
}

static size_t
utf8_encode(uint32_t c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

bool
wmi__wql_fold_append(wmi_strbuf *sb, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (!wmi__strbuf_reserve(sb, n))
        return false;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            char c = (char)((u[i] >= 'A' && u[i] <= 'Z') ? u[i] + 32 : u[i]);
            sb->data[sb->len++] = c;
            i++;
            continue;
        }
        size_t l;
        uint32_t cp = wmi__wql_utf8_decode(u + i, n - i, &l);
        if (cp >= 0xDC00 && cp <= 0xDCFF && l == 1) {
            sb->data[sb->len++] = (char)u[i];   /* invalid byte kept as is */
        } else {
            /* folding keeps the length, so the reservation holds */
            sb->len += utf8_encode(wmi__wql_fold(cp), sb->data + sb->len);
        }
        i += l;
    }
    sb->data[sb->len] = '\0';
    return true;
}

int
wmi__wql_fold_cmp(const char *a, size_t alen, const char *folded, size_t flen)
{
    const unsigned char *ua = (const unsigned char *)a;
    const unsigned char *ub = (const unsigned char *)folded;
    size_t i = 0, j = 0;
    while (i < alen && j < flen) {
        unsigned char ca = ua[i], cb = ub[j];
        if (ca < 0x80 && cb < 0x80) {
            if (ca >= 'A' && ca <= 'Z')
                ca = (unsigned char)(ca + 32);
            if (ca != cb)
                return ca < cb ? -1 : 1;
            i++;
            j++;
            continue;
        }
        size_t la, lb;
        uint32_t x = wmi__wql_fold(wmi__wql_utf8_decode(ua + i, alen - i, &la));
        uint32_t y = wmi__wql_utf8_decode(ub + j, flen - j, &lb);
        if (x != y)
            return x < y ? -1 : 1;
        i += la;
        j += lb;
    }
    if (i < alen)
        return 1;
    if (j < flen)
        return -1;
    return 0;
}

bool
wmi__wql_name_eq(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return false;
        if (x == 0)
            return true;
    }
}

/* ====================================================================
 * Lexer
 * ==================================================================== */

static const struct {
    const char *word;
    wql_tok_type type;
} keywords[] = {
    {"SELECT", WQL_TOK_SELECT}, {"FROM", WQL_TOK_FROM},     {"WHERE", WQL_TOK_WHERE},
    {"WITHIN", WQL_TOK_WITHIN}, {"GROUP", WQL_TOK_GROUP},   {"BY", WQL_TOK_BY},
    {"HAVING", WQL_TOK_HAVING}, {"AND", WQL_TOK_AND},       {"OR", WQL_TOK_OR},
    {"NOT", WQL_TOK_NOT},       {"IS", WQL_TOK_IS},         {"ISA", WQL_TOK_ISA},
    {"LIKE", WQL_TOK_LIKE},     {"NULL", WQL_TOK_NULL},     {"TRUE", WQL_TOK_TRUE},
    {"FALSE", WQL_TOK_FALSE},
};

static wql_tok_type
keyword_type(const char *s, size_t n)
{
    for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++) {
        const char *w = keywords[k].word;
        if (strlen(w) != n)
            continue;
        size_t i = 0;
        for (; i < n; i++) {
            char c = s[i];
            if (c >= 'a' && c <= 'z')
                c = (char)(c - 32);
            if (c != w[i])
                break;
        }
        if (i == n)
            return keywords[k].type;
    }
    return WQL_TOK_IDENT;
}

static void
set_err(wmi_error *err, wmi_status st, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
set_err(wmi_error *err, wmi_status st, size_t pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wmi_error_setv(err, st, NULL, 0, (int)pos + 1, fmt, ap);
    va_end(ap);
}

static bool
push_token(wql_tokens *toks, const wql_token *t)
{
    if (toks->n == toks->cap) {
        size_t cap = toks->cap ? toks->cap * 2 : 32;
        wql_token *v = realloc(toks->v, cap * sizeof *v);
        if (v == NULL)
            return false;
        toks->v = v;
        toks->cap = cap;
    }
    toks->v[toks->n++] = *t;
    return true;
}

static bool
is_ident_start(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c >= 0x80;
}

static bool
is_ident_char(unsigned char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static bool
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Lex a number at @p (a digit, or '-' followed by a digit). */
static wmi_status
lex_number(const char *text, size_t len, size_t p, wql_token *t, wmi_error *err)
{
    const unsigned char *u = (const unsigned char *)text;
    size_t start = p;
    bool neg = false;
    if (u[p] == '-') {
        neg = true;
        p++;
    }
    bool is_real = false;
    uint64_t mag = 0;
    bool overflow = false;
    if (u[p] == '0' && p + 1 < len && (u[p + 1] == 'x' || u[p + 1] == 'X')) {
        p += 2;
        size_t digits = 0;
        int h;
        while (p < len && (h = wmi__hex_digit(u[p])) >= 0) {
            if (mag > (UINT64_MAX >> 4))
                overflow = true;
            mag = (mag << 4) | (uint64_t)h;
            p++;
            digits++;
        }
        if (digits == 0) {
            set_err(err, WBEM_E_INVALID_QUERY, start, "invalid hexadecimal number '%.*s'",
                    (int)(p - start), text + start);
            return WBEM_E_INVALID_QUERY;
        }
    } else {
        while (p < len && is_digit(u[p])) {
            uint64_t d = (uint64_t)(u[p] - '0');
            if (mag > (UINT64_MAX - d) / 10)
                overflow = true;
            else
                mag = mag * 10 + d;
            p++;
        }
        if (p + 1 < len && u[p] == '.' && is_digit(u[p + 1])) {
            is_real = true;
            p++;
            while (p < len && is_digit(u[p]))
                p++;
        }
        if (p < len && (u[p] == 'e' || u[p] == 'E')) {
            size_t q = p + 1;
            if (q < len && (u[q] == '+' || u[q] == '-'))
                q++;
            if (q < len && is_digit(u[q])) {
                is_real = true;
                p = q;
                while (p < len && is_digit(u[p]))
                    p++;
            }
        }
    }
    if (p < len && (is_ident_char(u[p]) || u[p] == '.')) {
        size_t q = p;
        while (q < len && (is_ident_char(u[q]) || u[q] == '.') && q - start < 40)
            q++;
        set_err(err, WBEM_E_INVALID_QUERY, start, "invalid number '%.*s'", (int)(q - start),
                text + start);
        return WBEM_E_INVALID_QUERY;
    }
    t->pos = start;
    t->len = p - start;
    if (is_real) {
        char buf[128];
        if (t->len >= sizeof buf) {
            set_err(err, WBEM_E_INVALID_QUERY, start, "number too long '%.40s...'", text + start);
            return WBEM_E_INVALID_QUERY;
        }
        memcpy(buf, text + start, t->len);
        buf[t->len] = '\0';
        errno = 0;
        char *end;
        double d = strtod(buf, &end);
        if (errno == ERANGE && (d > 1.0 || d < -1.0)) {
            set_err(err, WBEM_E_INVALID_QUERY, start, "number out of range '%s'", buf);
            return WBEM_E_INVALID_QUERY;
        }
        t->type = WQL_TOK_REAL;
        t->real = d;
        return WBEM_S_NO_ERROR;
    }
    if (overflow || (neg && mag > (uint64_t)INT64_MAX + 1u)) {
        set_err(err, WBEM_E_INVALID_QUERY, start, "integer out of range '%.*s'",
                (int)(t->len > 60 ? 60 : t->len), text + start);
        return WBEM_E_INVALID_QUERY;
    }
    t->type = WQL_TOK_INT;
    t->neg = neg && mag != 0;
    t->mag = mag;
    t->real = neg ? -(double)mag : (double)mag;
    return WBEM_S_NO_ERROR;
}

/* Lex a quoted string at @p.  Escapes: \\ \" \' \n \t \r; a backslash
 * before any other character stands for itself. */
static wmi_status
lex_string(const char *text, size_t len, size_t p, wql_token *t, wmi_error *err)
{
    const unsigned char *u = (const unsigned char *)text;
    unsigned char quote = u[p];
    size_t start = p++;
    wmi_strbuf sb = {0};
    if (!wmi__strbuf_reserve(&sb, 16))
        return WBEM_E_OUT_OF_MEMORY;
    sb.data[0] = '\0';     /* reserve alone does not terminate */
    for (;;) {
        if (p >= len) {
            wmi__strbuf_free(&sb);
            set_err(err, WBEM_E_INVALID_QUERY, start, "unterminated string %.20s%s",
                    text + start, len - start > 20 ? "..." : "");
            return WBEM_E_INVALID_QUERY;
        }
        unsigned char c = u[p];
        if (c == quote) {
            p++;
            break;
        }
        if (c == '\\' && p + 1 < len) {
            unsigned char e = u[p + 1];
            char out = 0;
            switch (e) {
            case '\\': out = '\\'; break;
            case '"': out = '"'; break;
            case '\'': out = '\''; break;
            case 'n': out = '\n'; break;
            case 't': out = '\t'; break;
            case 'r': out = '\r'; break;
            default: break;
            }
            if (out != 0) {
                if (!wmi__strbuf_putc(&sb, out))
                    goto oom;
                p += 2;
                continue;
            }
            /* unknown escape: the backslash is literal */
            if (!wmi__strbuf_putc(&sb, '\\'))
                goto oom;
            p++;
            continue;
        }
        size_t l = wmi__wql_utf8_valid_len(u + p, len - p);
        if (l == 0) {
            wmi__strbuf_free(&sb);
            set_err(err, WBEM_E_INVALID_QUERY, p, "invalid UTF-8 byte 0x%02X in string", c);
            return WBEM_E_INVALID_QUERY;
        }
        if (!wmi__strbuf_append(&sb, text + p, l))
            goto oom;
        p += l;
    }
    t->type = WQL_TOK_STRING;
    t->pos = start;
    t->len = p - start;
    t->str_len = sb.len;
    t->str = wmi__strbuf_detach(&sb);
    if (t->str == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    return WBEM_S_NO_ERROR;
oom:
    wmi__strbuf_free(&sb);
    return WBEM_E_OUT_OF_MEMORY;
}

/* A name or keyword at @p: its length and type into *@t. */
static wmi_status
lex_ident(const char *text, size_t len, size_t p, wql_token *t, wmi_error *err)
{
    const unsigned char *u = (const unsigned char *)text;
    size_t q = p;
    while (q < len && is_ident_char(u[q])) {
        if (u[q] >= 0x80) {
            size_t l = wmi__wql_utf8_valid_len(u + q, len - q);
            if (l == 0) {
                set_err(err, WBEM_E_INVALID_QUERY, q, "invalid UTF-8 byte 0x%02X", u[q]);
                return WBEM_E_INVALID_QUERY;
            }
            q += l;
        } else {
            q++;
        }
    }
    t->len = q - p;
    t->type = keyword_type(text + p, t->len);
    return WBEM_S_NO_ERROR;
}

/* An operator or punctuation mark at @p: its length and type into *@t. */
static wmi_status
lex_punct(const unsigned char *u, size_t len, size_t p, wql_token *t, wmi_error *err)
{
    unsigned char c = u[p];
    t->len = 1;
    switch (c) {
    case '*': t->type = WQL_TOK_STAR; break;
    case ',': t->type = WQL_TOK_COMMA; break;
    case '.': t->type = WQL_TOK_DOT; break;
    case '(': t->type = WQL_TOK_LPAREN; break;
    case ')': t->type = WQL_TOK_RPAREN; break;
    case '=': t->type = WQL_TOK_EQ; break;
    case '!':
        if (p + 1 < len && u[p + 1] == '=') {
            t->type = WQL_TOK_NE;
            t->len = 2;
        } else {
            set_err(err, WBEM_E_INVALID_QUERY, p, "unexpected character '!'");
            return WBEM_E_INVALID_QUERY;
        }
        break;
    case '<':
        if (p + 1 < len && u[p + 1] == '>') {
            t->type = WQL_TOK_LTGT;
            t->len = 2;
        } else if (p + 1 < len && u[p + 1] == '=') {
            t->type = WQL_TOK_LE;
            t->len = 2;
        } else {
            t->type = WQL_TOK_LT;
        }
        break;
    case '>':
        if (p + 1 < len && u[p + 1] == '=') {
            t->type = WQL_TOK_GE;
            t->len = 2;
        } else {
            t->type = WQL_TOK_GT;
        }
        break;
    default:
        if (c >= 0x21 && c < 0x7F)
            set_err(err, WBEM_E_INVALID_QUERY, p, "unexpected character '%c'", c);
        else
            set_err(err, WBEM_E_INVALID_QUERY, p, "unexpected byte 0x%02X", c);
        return WBEM_E_INVALID_QUERY;
    }
    return WBEM_S_NO_ERROR;
}

wmi_status
wmi__wql_lex(const char *text, size_t len, wql_tokens *out, wmi_error *err)
{
    const unsigned char *u = (const unsigned char *)text;
    size_t p = 0;
    memset(out, 0, sizeof *out);
    for (;;) {
        while (p < len && (u[p] == ' ' || u[p] == '\t' || u[p] == '\r' || u[p] == '\n' ||
                           u[p] == '\f' || u[p] == '\v'))
            p++;
        wql_token t;
        memset(&t, 0, sizeof t);
        t.pos = p;
        if (p >= len) {
            t.type = WQL_TOK_EOF;
            if (!push_token(out, &t))
                return WBEM_E_OUT_OF_MEMORY;
            return WBEM_S_NO_ERROR;
        }
        unsigned char c = u[p];
        wmi_status st;
        if (is_ident_start(c)) {
            st = lex_ident(text, len, p, &t, err);
            if (st != WBEM_S_NO_ERROR)
                return st;
            p += t.len;
        } else if (is_digit(c) || (c == '-' && p + 1 < len && is_digit(u[p + 1]))) {
            st = lex_number(text, len, p, &t, err);
            if (st != WBEM_S_NO_ERROR)
                return st;
            p += t.len;
        } else if (c == '\'' || c == '"') {
            st = lex_string(text, len, p, &t, err);
            if (st != WBEM_S_NO_ERROR) {
                if (st == WBEM_E_OUT_OF_MEMORY)
                    set_err(err, st, p, "out of memory");
                return st;
            }
            p += t.len;
        } else {
            st = lex_punct(u, len, p, &t, err);
            if (st != WBEM_S_NO_ERROR)
                return st;
            p += t.len;
        }
        if (!push_token(out, &t)) {
            free(t.str);
            return WBEM_E_OUT_OF_MEMORY;
        }
    }
}

void
wmi__wql_tokens_free(wql_tokens *toks)
{
    if (toks == NULL)
        return;
    for (size_t i = 0; i < toks->n; i++)
        free(toks->v[i].str);
    free(toks->v);
    memset(toks, 0, sizeof *toks);
}

void
wmi__wql_token_describe(const char *text, const wql_token *tok, char *buf, size_t size)
{
    if (tok->type == WQL_TOK_EOF) {
        snprintf(buf, size, "end of query");
        return;
    }
    /* the source text, printable ASCII kept, other bytes as \xNN, at most 48 bytes */
    size_t o = 0;
    if (size < 8) {
        if (size)
            buf[0] = '\0';
        return;
    }
    buf[o++] = '\'';
    size_t n = tok->len > 48 ? 48 : tok->len;
    for (size_t i = 0; i < n && o + 6 < size; i++) {
        unsigned char c = (unsigned char)text[tok->pos + i];
        if (c >= 0x20 && c < 0x7F) {
            buf[o++] = (char)c;
        } else {
            snprintf(buf + o, size - o, "\\x%02X", c);
            o += 4;
        }
    }
    if (n < tok->len && o + 4 < size) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '\'';
    buf[o] = '\0';
}
