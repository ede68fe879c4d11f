/*
 * wmievent/mof.h - the MOF compiler (WMI's mofcomp, without the store).
 *
 * Compiles Managed Object Format text, as WMI's mofcomp accepts it, into
 * the JSON forms the rest of libwmievent uses: class definitions in the
 * form of wmi_schema_add_class_json and instances in the form of
 * wmi_object_from_json, each tagged with its namespace, source file and
 * line, plus the operations the pragmas ask for (deleteclass,
 * deleteinstance), all in file order.  Nothing is stored: applying the
 * result to a repository (PutClass / PutInstance / DeleteClass /
 * DeleteInstance, honouring the classflags / instanceflags in effect) is
 * the caller's job.
 *
 * What is accepted, and where wmieventd differs from mofcomp, is in
 * docs/mof.md.  In short: #pragma namespace / include / classflags /
 * instanceflags / deleteclass / deleteinstance / autorecover / locale /
 * amendment (and source, sourcetype, nonlocal, nonlocaltype, accepted and
 * ignored); qualifier declarations; classes with qualifiers and flavors,
 * properties, defaults, arrays, typed and untyped references, embedded
 * objects and methods; instances with aliases ("as $A", forward references
 * within the file, cycles through key references refused), embedded
 * instances, references from aliases or path strings; every literal form
 * (strings with all escapes and adjacent concatenation, char16, decimal,
 * hex, octal and binary integers, reals, TRUE/FALSE/NULL); both comment
 * styles; UTF-8 or UTF-16 (with BOM) input.
 *
 * All or nothing: a compile either succeeds as a whole (the file and
 * every file it includes) or returns no result at all.
 *
 * Mirrors IMofCompiler::CompileFile / CompileBuffer with
 * WBEM_FLAG_CHECK_ONLY-like behaviour (mofcomp -check), and the
 * WBEMMOF_E_* error codes of wbemcli.h.
 */
#ifndef WMIEVENT_MOF_H
#define WMIEVENT_MOF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "export.h"
#include "object.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits (a file beyond them fails with the status named). */
#define WMI_MOF_MAX_INCLUDE_DEPTH 32      /* WBEMMOF_E_ERROR_INVALID_INCLUDE_FILE */
#define WMI_MOF_MAX_FILE_SIZE (64u << 20) /* bytes per file: WBEMMOF_E_INVALID_FILE */
#define WMI_MOF_MAX_PATH_LENGTH 32768     /* an instance path built from aliases:
                                             WBEM_E_INVALID_OBJECT_PATH */

/* Options of a compile.  Zero-initialise, then set what you need. */
struct wmi_mof_options {
    /* Namespace until the first #pragma namespace (mofcomp -N:), in
     * backslash form; NULL means "root\\default".  Borrowed. */
    const char *default_namespace;
    /* Directories searched by #pragma include after the including file's
     * own directory (mofcomp -I), NULL-terminated; NULL for none.  Borrowed. */
    const char *const *include_dirs;
    /* The classes that already exist in every namespace (the built-in
     * classes, a repository's), against which instances and superclasses
     * are checked; borrowed, only read during the call.  NULL means
     * wmi_schema_new() plus wmi_schema_add_instance_classes(). */
    const wmi_schema *schema;
};

/* What one operation of a result asks for. */
typedef enum wmi_mof_op_kind {
    WMI_MOF_QUALIFIER = 1,    /* a qualifier declaration (json: see below) */
    WMI_MOF_CLASS = 2,        /* PutClass (json: wmi_schema_add_class_json form) */
    WMI_MOF_INSTANCE = 3,     /* PutInstance (json: wmi_object_from_json form) */
    WMI_MOF_DELETE_CLASS = 4, /* #pragma deleteclass (target: the class) */
    WMI_MOF_DELETE_INSTANCE = 5 /* #pragma deleteinstance (target: the path) */
} wmi_mof_op_kind;

/* #pragma classflags / instanceflags in effect for an operation (flags). */
#define WMI_MOF_CLASS_CREATEONLY    0x0001u /* "createonly": fail if it exists */
#define WMI_MOF_CLASS_UPDATEONLY    0x0002u /* "updateonly": fail if it does not */
#define WMI_MOF_CLASS_SAFEUPDATE    0x0004u /* "safeupdate" */
#define WMI_MOF_CLASS_FORCEUPDATE   0x0008u /* "forceupdate" */
#define WMI_MOF_INSTANCE_CREATEONLY 0x0010u /* instanceflags("createonly") */
#define WMI_MOF_INSTANCE_UPDATEONLY 0x0020u /* instanceflags("updateonly") */
#define WMI_MOF_NOFAIL              0x0100u /* delete pragmas: NOFAIL (absent is ok) */

/*
 * struct wmi_mof_op - one operation, in file order.  Every pointer is
 * owned by the result and lives as long as it.
 *   kind        what to do
 *   ns          the namespace, backslash form without machine prefix
 *               ("root\\subscription")
 *   source      the file the declaration is in (as opened; the buffer's
 *               name for wmi_mof_compile_buffer)
 *   line        1-based line of the declaration's first token
 *   json        CLASS: {"__CLASS", "__SUPERCLASS", "__QUALIFIERS",
 *               "__PROPERTIES": {name: {"CIMType", "Default", qualifiers
 *               ...}}, "__METHODS", "__FLAVORS"}; INSTANCE: the instance
 *               as wmi_object_to_json gives it (references as path
 *               strings); QUALIFIER: {"Name", "CIMType", "Default",
 *               "Scope": [...], "Flavor": [...]}; deletes: NULL
 *   target      DELETE_*: the class name or object path; INSTANCE: its
 *               object path (NULL for a keyless instance); else NULL
 *   alias       INSTANCE: its alias without "$", or NULL
 *   flags       WMI_MOF_* in effect
 */
typedef struct wmi_mof_op {
    wmi_mof_op_kind kind;
    const char *ns;
    const char *source;
    int line;
    const json_t *json;
    const char *target;
    const char *alias;
    uint32_t flags;
} wmi_mof_op;

/* The result of a compile.  Opaque; read with the functions below. */
typedef struct wmi_mof_result wmi_mof_result;

/*
 * wmi_mof_compile - compile the MOF file at @path (UTF-8, or UTF-16 with a
 * byte order mark), following #pragma include relative to the including
 * file's directory, then @opts->include_dirs.
 *
 * @opts may be NULL (all defaults).  On success *@out is a new result
 * (free with wmi_mof_result_free).  On failure *@out is NULL and @err (if
 * not NULL) holds the status, the file in @err->source, the 1-based line
 * and column (bytes) of the offending token, and a message naming it.
 *
 * Returns WBEM_S_NO_ERROR; a WBEMMOF_E_* status for a syntax error (e.g.
 * WBEMMOF_E_EXPECTED_SEMI, WBEMMOF_E_UNRECOGNIZED_TOKEN,
 * WBEMMOF_E_INVALID_FILE when a file cannot be read); or, as mofcomp's
 * storing phase does, the WBEM_E_* status of a definition the schema
 * refuses (WBEM_E_NOT_FOUND for an unknown class, WBEM_E_TYPE_MISMATCH,
 * WBEM_E_INVALID_SUPERCLASS, WBEM_E_NO_KEY, WBEM_E_CIRCULAR_REFERENCE for
 * aliases whose key references form a cycle...); WBEM_E_OUT_OF_MEMORY.
 * Thread-safe: compiles share nothing (@opts->schema is only read).
 */
WMI_EXTERN wmi_status wmi_mof_compile(const char *path, const struct wmi_mof_options *opts,
                           wmi_mof_result **out, wmi_error *err);

/*
 * wmi_mof_compile_buffer - as wmi_mof_compile, for @len bytes of MOF text
 * at @text (borrowed, need not be NUL-terminated).  @name (may be NULL:
 * "<buffer>") names it in errors and results; relative #pragma include
 * files are looked up in @name's directory, then in the include dirs.
 */
WMI_EXTERN wmi_status wmi_mof_compile_buffer(const char *text, size_t len, const char *name,
                                  const struct wmi_mof_options *opts, wmi_mof_result **out,
                                  wmi_error *err);

/* wmi_mof_result_free - free a result and everything it owns.  NULL is ok. */
WMI_EXTERN void wmi_mof_result_free(wmi_mof_result *res);

/* Number of operations in a result. */
WMI_EXTERN size_t wmi_mof_result_count(const wmi_mof_result *res);

/*
 * wmi_mof_result_op - the @index-th operation (0-based, file order).
 * Borrowed, valid while the result lives; NULL when out of range.
 */
WMI_EXTERN const wmi_mof_op *wmi_mof_result_op(const wmi_mof_result *res, size_t index);

/*
 * wmi_mof_result_pragmas - what the file-wide pragmas said, as a JSON
 * object: {"autorecover": true, "locale": "MS_409", "amendment": "MS_409"},
 * keys present only when given.  Borrowed.
 */
WMI_EXTERN const json_t *wmi_mof_result_pragmas(const wmi_mof_result *res);

#ifdef __cplusplus
}
#endif
#endif /* WMIEVENT_MOF_H */
