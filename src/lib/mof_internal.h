/*
 * mof_internal.h - the MOF compiler's insides, shared by its files
 * (internal to libwmievent).  The layers, each calling only those below:
 *
 *   mof_files.c      the API; reading files, encodings, #pragma include
 *   mof_grammar.c    the recursive-descent parser over the tokens
 *   mof_semantics.c  errors, the operations list, namespaces and their
 *                    overlay schemas, checks, aliases, pragmas' effects
 *   mof_lex.c        the tokens
 *
 * A #pragma include reaches back from the grammar to the files through
 * struct mof_comp's include hook.
 */
#ifndef WMI_MOF_INTERNAL_H
#define WMI_MOF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cimap.h"
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

void wmi__mof_lex_init(struct mof_lexer *lx, const char *buf, size_t len);
void wmi__mof_lex_free(struct mof_lexer *lx);

/* Next token into *@tok.  On a lexical error returns a WBEMMOF_E_* status
 * with @err's status, line, column and text set (not its source). */
wmi_status wmi__mof_lex_next(struct mof_lexer *lx, struct mof_token *tok, wmi_error *err);

/* Case-insensitive comparison of a token's raw text with a keyword. */
bool wmi__mof_tok_is(const struct mof_token *tok, const char *kw);

/* ====================================================================
 * The compiler's state
 * ==================================================================== */

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
    /* Find and compile the file of a #pragma include (mof_files.c). */
    wmi_status (*include)(struct mof_comp *c, char *name, int line, int col);
};

/* Value kinds, for qualifier type checks. */
enum mof_vkind { VK_NULL, VK_BOOL, VK_INT, VK_REAL, VK_STRING, VK_CHAR, VK_ALIAS, VK_OBJECT, VK_ARRAY };

/* Where a qualifier list stands (for declared scopes). */
enum mof_qscope { QS_CLASS, QS_ASSOCIATION, QS_PROPERTY, QS_REFERENCE, QS_METHOD, QS_PARAMETER, QS_INSTANCE };

#define TRY(x)                                                                                     \
    do {                                                                                           \
        wmi_status st_ = (x);                                                                      \
        if (WMI_FAILED(st_))                                                                       \
            return st_;                                                                            \
    } while (0)

/* ====================================================================
 * mof_semantics.c
 * ==================================================================== */

/* Errors: at a position, at the current token (the message ends with
 * it), out of memory.  Each returns @st (or WBEM_E_OUT_OF_MEMORY). */
wmi_status wmi__mof_perr_at(struct mof_comp *c, wmi_status st, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
wmi_status wmi__mof_perr(struct mof_comp *c, wmi_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
wmi_status wmi__mof_oom(struct mof_comp *c);

/* Values, flavors and scopes against the qualifier declarations. */
enum mof_vkind wmi__mof_json_kind(const json_t *v);
bool wmi__mof_kind_fits(enum mof_vkind k, const char *type);
bool wmi__mof_flavors_compatible(const json_t *list, const char *add);
const json_t *wmi__mof_qualifier_decl(const struct mof_comp *c, const char *name);
wmi_status wmi__mof_check_qualifier_value(struct mof_comp *c, const char *name, const json_t *decl,
                                          const json_t *val, enum mof_vkind k, int vline, int vcol);
wmi_status wmi__mof_add_declared_flavors(struct mof_comp *c, const char *name, const json_t *decl,
                                         json_t *flavors);
wmi_status wmi__mof_declare_qualifier(struct mof_comp *c, const char *name, json_t *decl, int line);
wmi_status wmi__mof_check_scopes(struct mof_comp *c, const json_t *uses, enum mof_qscope where, bool assoc,
                                 bool indication);

/* Operations, namespaces and their overlay schemas, classes. */
wmi_mof_op *wmi__mof_add_op(struct mof_comp *c, wmi_mof_op_kind kind, int line);
wmi_status wmi__mof_set_namespace(struct mof_comp *c, char *name);
char *wmi__mof_namespace_path(const char *spec, const char *cur);
void wmi__mof_prop_pos(const json_t *lines, const char *source, int *line, int *col);
wmi_status wmi__mof_define_class(struct mof_comp *c, json_t *def, const json_t *lines, int nline, int ncol,
                                 int line);

/* The instances of the current file, their aliases resolved and checked
 * against the schema at its end. */
void wmi__mof_inst_free(struct mof_inst *in);
wmi_status wmi__mof_add_instance(struct mof_comp *c, json_t *obj, json_t *lines, char *alias, int line,
                                 int col);
wmi_status wmi__mof_finish_file(struct mof_comp *c);

/* The effects of the pragmas mof_grammar.c reads. */
wmi_status wmi__mof_pragma_namespace(struct mof_comp *c, const char *spec, int line, int col);
uint32_t wmi__mof_flags_of_number(bool cls, uint64_t u);
uint32_t wmi__mof_flags_of_name(bool cls, const char *s);
wmi_status wmi__mof_set_flags(struct mof_comp *c, bool cls, uint32_t flags);
wmi_status wmi__mof_check_delete_target(struct mof_comp *c, bool instance, const char *s, wmi_status bad, int line,
                                        int col);
wmi_status wmi__mof_add_delete(struct mof_comp *c, bool instance, const char *target, bool nofail, int line);
wmi_status wmi__mof_keep_pragma(struct mof_comp *c, const char *name, const char *value, int line, int col);

/* ====================================================================
 * mof_grammar.c
 * ==================================================================== */

/* Whole-file statements of the current file until its end. */
wmi_status wmi__mof_parse_file(struct mof_comp *c);

#endif
