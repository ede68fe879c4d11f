/*
 * wql_internal.h - the insides of the WQL lexer, parser and evaluator,
 * shared by wql_lex.c, wql_parse.c and wql_eval.c.  Internal to
 * libwmievent (see include/wmievent/wql.h for the public API and
 * docs/wql.md for the language).
 */
#ifndef WMI_WQL_INTERNAL_H
#define WMI_WQL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/strbuf.h"
#include "wmievent/object.h"
#include "wmievent/wql.h"

/* Deepest nesting of parentheses and NOT accepted in a condition. */
#define WMI_WQL_MAX_DEPTH 256

/* Most comparison terms (predicates) in WHERE and HAVING together. */
#define WMI_WQL_MAX_TERMS WMI_MAX_QUERY_TERMS

/* ====================================================================
 * Tokens (wql_lex.c)
 * ==================================================================== */

typedef enum wql_tok_type {
    WQL_TOK_EOF = 0,
    WQL_TOK_IDENT,      /* a name that is not a keyword */
    WQL_TOK_STRING,     /* 'x' or "x"; .str holds the decoded text */
    WQL_TOK_INT,        /* integer literal: .neg/.mag */
    WQL_TOK_REAL,       /* real literal: .real */
    WQL_TOK_STAR,       /* * */
    WQL_TOK_COMMA,      /* , */
    WQL_TOK_DOT,        /* . */
    WQL_TOK_LPAREN,     /* ( */
    WQL_TOK_RPAREN,     /* ) */
    WQL_TOK_EQ,         /* = */
    WQL_TOK_NE,         /* != */
    WQL_TOK_LTGT,       /* <> */
    WQL_TOK_LT,         /* < */
    WQL_TOK_GT,         /* > */
    WQL_TOK_LE,         /* <= */
    WQL_TOK_GE,         /* >= */
    /* keywords (case-insensitive) */
    WQL_TOK_SELECT,
    WQL_TOK_FROM,
    WQL_TOK_WHERE,
    WQL_TOK_WITHIN,
    WQL_TOK_GROUP,
    WQL_TOK_BY,
    WQL_TOK_HAVING,
    WQL_TOK_AND,
    WQL_TOK_OR,
    WQL_TOK_NOT,
    WQL_TOK_IS,
    WQL_TOK_ISA,
    WQL_TOK_LIKE,
    WQL_TOK_NULL,
    WQL_TOK_TRUE,
    WQL_TOK_FALSE
} wql_tok_type;

typedef struct wql_token {
    wql_tok_type type;
    size_t pos;          /* byte offset of the first byte in the query */
    size_t len;          /* bytes of source text */
    char *str;           /* WQL_TOK_STRING: decoded, malloc'd, NUL-terminated */
    size_t str_len;
    bool neg;            /* WQL_TOK_INT: sign */
    uint64_t mag;        /* WQL_TOK_INT: magnitude */
    double real;         /* WQL_TOK_INT and WQL_TOK_REAL: value as a double */
} wql_token;

typedef struct wql_tokens {
    wql_token *v;
    size_t n, cap;
} wql_tokens;

/*
 * Split @text (@len bytes) into tokens, ending with one WQL_TOK_EOF.
 * On failure returns the status with @err filled (column, text) and
 * leaves whatever was lexed in @out for wmi__wql_tokens_free.
 */
wmi_status wmi__wql_lex(const char *text, size_t len, wql_tokens *out, wmi_error *err);
void wmi__wql_tokens_free(wql_tokens *toks);

/* A short printable description of a token for messages: 'FROM', "x", ... */
void wmi__wql_token_describe(const char *text, const wql_token *tok, char *buf, size_t size);

/* ====================================================================
 * Characters and case folding (wql_lex.c)
 * ==================================================================== */

/*
 * Decode one UTF-8 code point at @s (@n > 0 bytes available).  Stores the
 * sequence length in *@len.  Invalid sequences decode as the single byte
 * value + 0xDC00 (a lone surrogate, which never folds or matches a valid
 * character) with length 1.
 */
uint32_t wmi__wql_utf8_decode(const unsigned char *s, size_t n, size_t *len);

/* Length of the valid UTF-8 sequence at @s, or 0 if it is not valid. */
size_t wmi__wql_utf8_valid_len(const unsigned char *s, size_t n);

/* Simple case folding (to lower case) of one code point: ASCII, Latin-1,
 * Latin Extended-A, basic Greek and Cyrillic.  Folding never changes the
 * UTF-8 length of a code point. */
uint32_t wmi__wql_fold(uint32_t c);

/* Append the case-folded form of @s (@n bytes) to @sb.  false on ENOMEM. */
bool wmi__wql_fold_append(wmi_strbuf *sb, const char *s, size_t n);

/*
 * Compare @a (@alen bytes, any case) with @folded (@flen bytes, already
 * folded), code point by code point after folding @a.  Returns <0, 0, >0.
 */
int wmi__wql_fold_cmp(const char *a, size_t alen, const char *folded, size_t flen);

/* ASCII case-insensitive equality of two NUL-terminated strings. */
bool wmi__wql_name_eq(const char *a, const char *b);

/* ====================================================================
 * LIKE patterns (wql_eval.c)
 * ==================================================================== */

typedef enum wql_like_kind {
    WQL_LIKE_CHAR,      /* one literal code point (folded) */
    WQL_LIKE_ONE,       /* _ */
    WQL_LIKE_ANY,       /* % (runs collapsed) */
    WQL_LIKE_SET        /* [..] or [^..] */
} wql_like_kind;

typedef struct wql_like_item {
    uint8_t kind;       /* wql_like_kind */
    uint8_t negated;    /* WQL_LIKE_SET: [^...] */
    uint32_t cp;        /* WQL_LIKE_CHAR: folded code point */
    uint32_t first;     /* WQL_LIKE_SET: index of the first range */
    uint32_t nranges;   /* WQL_LIKE_SET: number of ranges */
} wql_like_item;

typedef struct wql_like_range {
    uint32_t lo, hi;    /* inclusive; a single character has lo == hi */
} wql_like_range;

typedef struct wql_like {
    wql_like_item *items;
    size_t nitems;
    wql_like_range *ranges;
    size_t nranges;
} wql_like;

/*
 * Compile a LIKE pattern.  Items and ranges are allocated in one block;
 * free with wmi__wql_like_free.  Returns false when out of memory.
 */
bool wmi__wql_like_compile(const char *pattern, size_t len, wql_like *out);
void wmi__wql_like_free(wql_like *like);
bool wmi__wql_like_exec(const wql_like *like, const char *subject, size_t len);

/*
 * As wmi__wql_like_exec, and adds to *@steps the work done: one per pattern
 * item tested against a subject character, plus one per range of a [set]
 * tested.  For the tests, which bound it (steps <= 2 * (pattern bytes + 1)
 * * (subject characters + 1)) rather than time it.
 */
bool wmi__wql_like_exec_counted(const wql_like *like, const char *subject, size_t len,
                                uint64_t *steps);

/* ====================================================================
 * DMTF datetimes in conditions (wql_eval.c)
 * ==================================================================== */

typedef enum wql_dt_kind {
    WQL_DT_NONE = 0,     /* not a datetime */
    WQL_DT_ABS,          /* a point in time: usec since the epoch, UTC */
    WQL_DT_INTERVAL,     /* a duration: usec */
    WQL_DT_WILD          /* a DMTF datetime with '*' fields: compared as text */
} wql_dt_kind;

typedef struct wql_dt {
    wql_dt_kind kind;
    int64_t usec;
} wql_dt;

/*
 * Read a DMTF datetime "yyyymmddHHMMSS.mmmmmmsUUU" (UTC offset in minutes),
 * or interval "ddddddddHHMMSS.mmmmmm:000", exactly 25 bytes at @s.  A
 * datetime with '*' (whole fields) is WQL_DT_WILD.  Returns false for
 * anything else.  Allocation-free, no locale, no time zone.
 */
bool wmi__wql_dmtf_parse(const char *s, size_t n, wql_dt *out);

/*
 * Read a datetime constant of a WHERE clause: a DMTF datetime or interval
 * (wildcards refused), or a locale-free form (docs/wql.md):
 *   yyyymmdd, yyyy-mm-dd, yyyy/mm/dd, either optionally followed by a blank
 *   (or, after yyyy-mm-dd, 'T') and hh:mm[:ss[.ffffff]], then optionally
 *   "Z" or +hh:mm / -hh:mm; without a zone the local time zone applies.
 * Returns WQL_DT_NONE when @s is none of these; *@wild is set when it is a
 * DMTF datetime except for '*' wildcards (*@col_off: offset of the first).
 */
wql_dt_kind wmi__wql_datetime_literal(const char *s, size_t n, wql_dt *out, bool *wild,
                                      size_t *col_off);

/* ====================================================================
 * The parsed query (wql_parse.c)
 * ==================================================================== */

/* Comparison operators; the evaluator's form has the property on the left. */
typedef enum wql_op {
    WQL_OP_EQ,
    WQL_OP_NE,
    WQL_OP_LT,
    WQL_OP_GT,
    WQL_OP_LE,
    WQL_OP_GE
} wql_op;

typedef enum wql_lit_kind {
    WQL_LIT_NULL,
    WQL_LIT_BOOL,
    WQL_LIT_INT,
    WQL_LIT_REAL,
    WQL_LIT_STRING
} wql_lit_kind;

/*
 * A literal, resolved at parse time into every form the evaluator may
 * need, so that evaluation never converts or allocates.
 */
typedef struct wql_literal {
    wql_lit_kind kind;
    bool b;              /* BOOL */
    /* numeric view: INT, BOOL (0/1), REAL, and a STRING that reads as a number */
    bool has_int;        /* neg/mag valid (exact integer) */
    bool neg;
    uint64_t mag;
    bool has_num;        /* num valid */
    double num;
    int as_bool;         /* -1 none, 0 FALSE, 1 TRUE (BOOL, INT 0/1, "true"/"false") */
    /* text view: STRING as decoded; numbers in canonical decimal; TRUE/FALSE */
    char *text;
    size_t text_len;
    char *folded;        /* case-folded text */
    size_t folded_len;
    wql_dt dt;           /* STRING that reads as a datetime or interval */
} wql_literal;

/* Well-known system properties resolved without a property lookup. */
typedef enum wql_sysprop {
    WQL_SYS_NONE = 0,
    WQL_SYS_CLASS,       /* __CLASS */
    WQL_SYS_SUPERCLASS,  /* __SUPERCLASS */
    WQL_SYS_GENUS,       /* __GENUS: 2 for an instance */
    WQL_SYS_NULL         /* __PATH, __RELPATH, __SERVER, __NAMESPACE...: NULL in events */
} wql_sysprop;

typedef struct wql_path {
    char **seg;          /* segments as written */
    size_t nseg;
    char *text;          /* segments joined with '.' */
    size_t pos;          /* byte offset in the query, for messages */
    wql_sysprop sys;     /* first segment is a system property */
    wmi_cimtype type;    /* CIM type of the first segment when the schema knows it,
                            CIM_EMPTY otherwise; only meaningful when nseg == 1 */
    /* Resolved at parse time against a known class (the FROM class, or
     * __AggregateEvent for HAVING): for an event of exactly that class the
     * evaluator reads the value straight from the object's JSON. */
    const wmi_class *rcls;
    const char *canon;   /* the property name as the class spells it */
    const json_t *dflt;  /* the class default, or NULL */
} wql_path;

typedef enum wql_node_kind {
    WQL_NODE_AND,
    WQL_NODE_OR,
    WQL_NODE_NOT,
    WQL_NODE_CMP,        /* path op literal */
    WQL_NODE_IS_NULL,
    WQL_NODE_IS_NOT_NULL,
    WQL_NODE_ISA,
    WQL_NODE_LIKE
} wql_node_kind;

typedef struct wql_node {
    wql_node_kind kind;
    /* AND / OR: n-ary, children in source order; NOT: one child */
    struct wql_node **child;
    size_t nchild;
    /* predicates */
    wql_path path;
    wql_op op;           /* CMP: evaluator form (property on the left) */
    wql_op op_written;   /* CMP: as written, for printing */
    bool lit_left;       /* CMP: the literal was written on the left */
    wql_literal lit;     /* CMP, LIKE (pattern text) */
    char *isa_class;     /* ISA */
    wql_like like;       /* LIKE */
} wql_node;

struct wmi_query {
    char *from;                  /* FROM class as written */
    const wmi_schema *schema;    /* borrowed, may be NULL */
    const wmi_class *from_class; /* when the schema knows it */
    double within;               /* < 0: none */
    double group_within;         /* < 0: no GROUP */
    wql_path *select;            /* NULL/0 for SELECT * */
    size_t nselect;
    wql_path *group_by;
    size_t ngroup_by;
    wql_node *where;             /* NULL: none */
    wql_node *having;            /* NULL: none */
};

void wmi__wql_node_free(wql_node *node);
void wmi__wql_path_clear(wql_path *path);

/*
 * Parse a whole string as an integer (decimal or 0x hex, optional sign,
 * surrounding blanks allowed: *@neg and *@mag exact, *@num approximate) or a
 * finite real (*@num).  Returns 0 for neither, 1 integer, 2 real.
 */
int wmi__wql_parse_number(const char *s, bool *neg, uint64_t *mag, double *num);

/* Print a literal in normalised form (strings double-quoted). */
bool wmi__wql_literal_print(wmi_strbuf *sb, const wql_literal *lit);
/* Print a number so that it reads back as the same double ("1.0", "0.5"). */
bool wmi__wql_real_print(wmi_strbuf *sb, double d);

/* Evaluate a condition tree against an event (wql_eval.c). */
bool wmi__wql_eval_node(const wmi_query *q, const wql_node *node, const wmi_object *event);

#endif
