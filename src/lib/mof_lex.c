/*
 * mof_lex.c - the MOF lexer: comments, identifiers, aliases, string and
 * char16 literals with every escape, decimal, hex, octal and binary
 * integers, reals and punctuation (docs/mof.md, "Lexical rules").
 *
 * Linear in the input; no recursion.  Input is UTF-8 (mof_files.c converts
 * UTF-16 first); bytes >= 0x80 may appear in names, strings and comments.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/mof_internal.h"

void
wmi__mof_lex_init(struct mof_lexer *lx, const char *buf, size_t len)
{
    memset(lx, 0, sizeof *lx);
    lx->buf = buf;
    lx->len = len;
    lx->line = 1;
    lx->col = 1;
}

void
wmi__mof_lex_free(struct mof_lexer *lx)
{
    wmi__strbuf_free(&lx->sb);
}

bool
wmi__mof_tok_is(const struct mof_token *tok, const char *kw)
{
    size_t n = strlen(kw);
    return tok->kind == MT_IDENT && tok->len == n && strncasecmp(tok->start, kw, n) == 0;
}

static int
peekc(const struct mof_lexer *lx, size_t off)
{
    return lx->pos + off < lx->len ? (unsigned char)lx->buf[lx->pos + off] : -1;
}

static void
advance(struct mof_lexer *lx)
{
    if (lx->pos >= lx->len)
        return;
    if (lx->buf[lx->pos] == '\n') {
        lx->line++;
        lx->col = 1;
    } else {
        lx->col++;
    }
    lx->pos++;
}

static wmi_status lex_error(wmi_error *err, wmi_status st, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static wmi_status
lex_error(wmi_error *err, wmi_status st, int line, int col, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        err->status = st;
        err->line = line;
        err->column = col;
        va_start(ap, fmt);
        vsnprintf(err->text, sizeof err->text, fmt, ap);
        va_end(ap);
    }
    return st;
}

static bool
is_name_start(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c >= 0x80;
}

static bool
is_name_char(int c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static bool
put_utf8(wmi_strbuf *sb, uint32_t cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return wmi__strbuf_append(sb, b, n);
}

/* An escape sequence at its backslash (at @eline/@ecol): *@cp receives
 * the character or, with *@unit set, the UTF-16 code unit of a \x. */
static wmi_status
lex_escape(struct mof_lexer *lx, int eline, int ecol, uint32_t *cp, bool *unit, wmi_error *err)
{
    advance(lx);
    int e = peekc(lx, 0);
    *unit = false;
    switch (e) {
    case 'b': *cp = '\b'; break;
    case 't': *cp = '\t'; break;
    case 'n': *cp = '\n'; break;
    case 'f': *cp = '\f'; break;
    case 'r': *cp = '\r'; break;
    case '"': *cp = '"'; break;
    case '\'': *cp = '\''; break;
    case '\\': *cp = '\\'; break;
    case 'x':
    case 'X': {
        advance(lx);
        uint32_t v = 0;
        int nd = 0;
        while (nd < 4 && wmi__hex_digit(peekc(lx, 0)) >= 0) {
            v = v * 16 + (uint32_t)wmi__hex_digit(peekc(lx, 0));
            advance(lx);
            nd++;
        }
        if (nd == 0)
            return lex_error(err, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, eline, ecol,
                             "\\%c must be followed by 1 to 4 hex digits", e);
        if (v == 0)
            return lex_error(err, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, eline, ecol,
                             "\\x0: a NUL character is not allowed in a string");
        *cp = v;
        *unit = true;
        return WBEM_S_NO_ERROR;
    }
    default: {
        char what[16];
        if (e < 0)
            snprintf(what, sizeof what, "\\");
        else if (e >= 0x20 && e < 0x7F)
            snprintf(what, sizeof what, "\\%c", (char)e);
        else
            snprintf(what, sizeof what, "\\\\x%02X", (unsigned)e & 0xFFu);
        return lex_error(err, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, eline, ecol,
                         "unknown escape sequence \"%s\" (write \\\\ for a backslash)", what);
    }
    }
    advance(lx);
    return WBEM_S_NO_ERROR;
}

/* A quoted literal (string or char16) after its opening quote; decoded
 * into lx->sb.  Escapes: \b \t \n \f \r \" \' \\ and \x or \X with 1 to 4
 * hex digits (a UTF-16 code unit; surrogate pairs combine). */
static wmi_status
lex_quoted(struct mof_lexer *lx, char quote, int line, int col, wmi_error *err)
{
    uint32_t high = 0; /* pending high surrogate */
    int hline = 0, hcol = 0;

    lx->sb.len = 0;
    if (!wmi__strbuf_reserve(&lx->sb, 1))
        return WBEM_E_OUT_OF_MEMORY;
    lx->sb.data[0] = '\0';
    for (;;) {
        int c = peekc(lx, 0);
        int eline = lx->line, ecol = lx->col;
        if (c < 0 || c == '\n' || c == '\r')
            return lex_error(err, WBEMMOF_E_UNRECOGNIZED_TOKEN, line, col,
                             "unterminated %s literal", quote == '"' ? "string" : "char16");
        if (c == quote && high == 0) {
            advance(lx);
            return WBEM_S_NO_ERROR;
        }
        uint32_t cp = 0;
        bool unit = false; /* cp is a UTF-16 code unit from \x */
        if (c == '\\') {
            wmi_status st = lex_escape(lx, eline, ecol, &cp, &unit, err);
            if (WMI_FAILED(st))
                return st;
        } else {
            /* A raw byte: copy UTF-8 through as is. */
            if (high != 0)
                return lex_error(err, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, hline, hcol,
                                 "unpaired UTF-16 high surrogate");
            if (c == 0)
                return lex_error(err, WBEMMOF_E_UNRECOGNIZED_TOKEN, eline, ecol,
                                 "NUL byte in a literal");
            if (!wmi__strbuf_putc(&lx->sb, (char)c))
                return WBEM_E_OUT_OF_MEMORY;
            advance(lx);
            continue;
        }
        if (unit && cp >= 0xD800 && cp <= 0xDBFF) {
            if (high != 0)
                return lex_error(err, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, hline, hcol,
                                 "unpaired UTF-16 high surrogate");
            high = cp;
            hline = eline;
            hcol = ecol;
            continue;
        }
        if (unit && cp >= 0xDC00 && cp <= 0xDFFF) {
            if (high == 0)
                return lex_error(err, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, eline, ecol,
                                 "unpaired UTF-16 low surrogate");
            cp = 0x10000 + ((high - 0xD800) << 10) + (cp - 0xDC00);
            high = 0;
        } else if (high != 0) {
            return lex_error(err, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, hline, hcol,
                             "unpaired UTF-16 high surrogate");
        }
        if (!put_utf8(&lx->sb, cp))
            return WBEM_E_OUT_OF_MEMORY;
    }
}

/* A number starting at the current position (a digit, or '.' then a digit). */
static wmi_status
lex_number(struct mof_lexer *lx, struct mof_token *tok, wmi_error *err)
{
    size_t s = lx->pos;
    const char *b = lx->buf;
    size_t i = s;
    size_t n = lx->len;

    /* Find the extent: [0-9a-zA-Z_.] and a sign right after an exponent. */
    while (i < n) {
        unsigned char c = (unsigned char)b[i];
        if (is_name_char(c) || c == '.') {
            i++;
        } else if ((c == '+' || c == '-') && i > s && (b[i - 1] == 'e' || b[i - 1] == 'E') &&
                   !(i - s >= 2 && (b[s + 1] == 'x' || b[s + 1] == 'X'))) {
            i++;
        } else {
            break;
        }
    }
    size_t len = i - s;
    char text[80];
    tok->start = b + s;
    tok->len = len;
    if (len >= sizeof text)
        return lex_error(err, WBEMMOF_E_OUT_OF_RANGE, tok->line, tok->col,
                         "numeric constant too long");
    memcpy(text, b + s, len);
    text[len] = '\0';
    for (size_t k = 0; k < len; k++)
        advance(lx);

    uint64_t v = 0;
    int base = 10;
    const char *digits = text;
    size_t nd = len;
    bool is_real = strpbrk(text, ".") != NULL;
    if (len > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        digits = text + 2;
        nd = len - 2;
        is_real = false;
    } else if (!is_real && len > 1 && (text[len - 1] == 'b' || text[len - 1] == 'B') &&
               strspn(text, "01") == len - 1) {
        base = 2;
        nd = len - 1;
    } else if (!is_real && strpbrk(text, "eE") != NULL && strspn(text, "0123456789") > 0) {
        is_real = true;
    } else if (!is_real && len > 1 && text[0] == '0') {
        base = 8;
        digits = text + 1;
        nd = len - 1;
    }
    if (is_real) {
        char *end;
        errno = 0;
        double d = strtod(text, &end);
        if (*end != '\0' || end == text)
            return lex_error(err, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, tok->line, tok->col,
                             "malformed real constant \"%s\"", text);
        if (errno == ERANGE && (d > 1.0 || d < -1.0))
            return lex_error(err, WBEMMOF_E_OUT_OF_RANGE, tok->line, tok->col,
                             "real constant \"%s\" out of range", text);
        tok->kind = MT_REAL;
        tok->d = d;
        return WBEM_S_NO_ERROR;
    }
    if (nd == 0)
        return lex_error(err, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, tok->line, tok->col,
                         "malformed integer constant \"%s\"", text);
    for (size_t k = 0; k < nd; k++) {
        int d = wmi__hex_digit((unsigned char)digits[k]);
        if (d < 0 || d >= base)
            return lex_error(err, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, tok->line, tok->col,
                             "malformed integer constant \"%s\"", text);
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return lex_error(err, WBEMMOF_E_OUT_OF_RANGE, tok->line, tok->col,
                             "integer constant \"%s\" does not fit in 64 bits", text);
        v = v * (uint64_t)base + (uint64_t)d;
    }
    tok->kind = MT_INT;
    tok->u = v;
    return WBEM_S_NO_ERROR;
}

wmi_status
wmi__mof_lex_next(struct mof_lexer *lx, struct mof_token *tok, wmi_error *err)
{
    memset(tok, 0, sizeof *tok);
    for (;;) {
        int c = peekc(lx, 0);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            advance(lx);
        } else if (c == '/' && peekc(lx, 1) == '/') {
            while (peekc(lx, 0) >= 0 && peekc(lx, 0) != '\n')
                advance(lx);
        } else if (c == '/' && peekc(lx, 1) == '*') {
            int line = lx->line, col = lx->col;
            advance(lx);
            advance(lx);
            for (;;) {
                int d = peekc(lx, 0);
                if (d < 0)
                    return lex_error(err, WBEMMOF_E_UNRECOGNIZED_TOKEN, line, col,
                                     "unterminated comment: \"/*\" without \"*/\"");
                if (d == '*' && peekc(lx, 1) == '/') {
                    advance(lx);
                    advance(lx);
                    break;
                }
                advance(lx);
            }
        } else {
            break;
        }
    }
    tok->line = lx->line;
    tok->col = lx->col;
    tok->start = lx->buf + lx->pos;
    int c = peekc(lx, 0);
    if (c < 0) {
        tok->kind = MT_EOF;
        return WBEM_S_NO_ERROR;
    }
    if (is_name_start(c)) {
        size_t s = lx->pos;
        while (is_name_char(peekc(lx, 0)))
            advance(lx);
        tok->kind = MT_IDENT;
        tok->len = lx->pos - s;
        return WBEM_S_NO_ERROR;
    }
    if (c == '$') {
        advance(lx);
        if (!is_name_start(peekc(lx, 0)))
            return lex_error(err, WBEMMOF_E_EXPECTED_ALIAS_NAME, tok->line, tok->col,
                             "\"$\" must be followed by an alias name");
        while (is_name_char(peekc(lx, 0)))
            advance(lx);
        tok->kind = MT_ALIAS;
        tok->len = (size_t)(lx->buf + lx->pos - tok->start);
        return WBEM_S_NO_ERROR;
    }
    if (c == '"' || c == '\'') {
        advance(lx);
        wmi_status st = lex_quoted(lx, (char)c, tok->line, tok->col, err);
        if (WMI_FAILED(st))
            return st;
        tok->len = (size_t)(lx->buf + lx->pos - tok->start);
        tok->str = lx->sb.data;
        tok->slen = lx->sb.len;
        if (c == '"') {
            tok->kind = MT_STRING;
            return WBEM_S_NO_ERROR;
        }
        tok->kind = MT_CHAR;
        /* Exactly one character (one UTF-16 unit, or a pair). */
        size_t n = 0;
        for (size_t k = 0; k < tok->slen; k++)
            if (((unsigned char)tok->str[k] & 0xC0) != 0x80)
                n++;
        if (n != 1)
            return lex_error(err, WBEMMOF_E_ILLEGAL_CONSTANT_VALUE, tok->line, tok->col,
                             "a char16 constant holds exactly one character");
        return WBEM_S_NO_ERROR;
    }
    if ((c >= '0' && c <= '9') || (c == '.' && peekc(lx, 1) >= '0' && peekc(lx, 1) <= '9'))
        return lex_number(lx, tok, err);
    if (c != 0 && strchr("{}[](),;:=#+-", c) != NULL) {
        advance(lx);
        tok->kind = MT_PUNCT;
        tok->punct = (char)c;
        tok->len = 1;
        return WBEM_S_NO_ERROR;
    }
    char what[16];
    if (c >= 0x20 && c < 0x7F)
        snprintf(what, sizeof what, "'%c'", (char)c);
    else
        snprintf(what, sizeof what, "byte 0x%02X", (unsigned)c);
    return lex_error(err, WBEMMOF_E_UNRECOGNIZED_TOKEN, tok->line, tok->col, "unexpected character %s",
                     what);
}
