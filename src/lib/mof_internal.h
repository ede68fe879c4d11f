/*
 * mof_internal.h - the MOF compiler's lexer, shared by mof_lex.c and
 * mof_parse.c (internal to libwmievent).
 */
#ifndef WMI_MOF_INTERNAL_H
#define WMI_MOF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/strbuf.h"
#include "wmievent/mof.h"

enum mof_tok_kind {
    MT_EOF = 0,
    MT_IDENT,  /* name or keyword (keywords are case-insensitive) */
    MT_STRING, /* "..." decoded into str/slen (one literal; the parser joins adjacent ones) */
    MT_CHAR,   /* 'c' decoded into str/slen (UTF-8 of one UTF-16 unit) */
    MT_INT,    /* unsigned magnitude in u (the sign is the parser's) */
    MT_REAL,   /* d */
    MT_ALIAS,  /* $name: the name (without '$') at start + 1, len - 1 */
    MT_PUNCT   /* one of { } [ ] ( ) , ; : = # + - in punct */
};

struct mof_token {
    enum mof_tok_kind kind;
    int line, col;      /* 1-based; col in bytes */
    const char *start;  /* raw text in the buffer */
    size_t len;
    const char *str;    /* MT_STRING / MT_CHAR: lexer-owned until the next token */
    size_t slen;
    uint64_t u;
    double d;
    char punct;
};

struct mof_lexer {
    const char *buf;
    size_t len, pos;
    int line, col;
    wmi_strbuf sb;      /* decoded string literal */
};

void mof_lex_init(struct mof_lexer *lx, const char *buf, size_t len);
void mof_lex_free(struct mof_lexer *lx);

/* Next token into *@tok.  On a lexical error returns a WBEMMOF_E_* status
 * with @err's status, line, column and text set (not its source). */
wmi_status mof_lex_next(struct mof_lexer *lx, struct mof_token *tok, wmi_error *err);

/* Case-insensitive comparison of a token's raw text with a keyword. */
bool mof_tok_is(const struct mof_token *tok, const char *kw);

#endif
