/*
 * mof_files.c - the MOF compiler's API and its files: reading a file
 * (regular files only, at most WMI_MOF_MAX_FILE_SIZE bytes), its encoding
 * (UTF-8, UTF-16 with a byte order mark), #pragma include (found next to
 * the including file, then in the include directories; nested at most
 * WMI_MOF_MAX_INCLUDE_DEPTH deep, never in a cycle) and the compile of
 * each file by mof_grammar.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/mof_internal.h"
#include "lib/object_internal.h"

/* ====================================================================
 * Files
 * ==================================================================== */

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
        if (!wmi__strbuf_reserve(&sb, len + 1))
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
                wmi__strbuf_free(&sb);
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
            if (!wmi__strbuf_append(&sb, b, n)) {
                wmi__strbuf_free(&sb);
                return NULL;
            }
        }
        if (i != len) {
            *bad = true;
            wmi__strbuf_free(&sb);
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
        if (!wmi__strbuf_append(&sb, buf, n)) {
            *errnum = ENOMEM;
            break;
        }
    }
    if (*errnum == 0 && ferror(fp))
        *errnum = EIO;
    fclose(fp);
    if (*errnum != 0) {
        wmi__strbuf_free(&sb);
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
        return wmi__mof_perr_at(c, WBEMMOF_E_ERROR_INVALID_INCLUDE_FILE, line, col,
                                "includes nest more than %d deep", WMI_MOF_MAX_INCLUDE_DEPTH);
    if (text == NULL) {
        int e;
        f.real = realpath(path, NULL);
        for (struct mof_file *p = c->f; p != NULL && f.real != NULL; p = p->parent)
            if (p->real != NULL && strcmp(p->real, f.real) == 0) {
                free(f.real);
                return wmi__mof_perr_at(c, WBEMMOF_E_ERROR_INVALID_INCLUDE_FILE, line, col,
                                        "\"%s\" includes itself", path);
            }
        raw = read_file(path, &len, &e);
        if (raw == NULL) {
            free(f.real);
            if (c->f != NULL)
                return wmi__mof_perr_at(c, e == ENOMEM ? WBEM_E_OUT_OF_MEMORY : WBEMMOF_E_ERROR_INVALID_INCLUDE_FILE,
                                        line, col, "cannot read include file \"%s\": %s", path, strerror(e));
            c->f = &f;
            st = wmi__mof_perr_at(c, e == ENOMEM ? WBEM_E_OUT_OF_MEMORY : WBEMMOF_E_INVALID_FILE, 0, 0,
                                  "cannot read \"%s\": %s", path,
                                  e == EFBIG ? "larger than WMI_MOF_MAX_FILE_SIZE"
                                  : e == EINVAL ? "not a regular file" : strerror(e));
            c->f = NULL;
            return st;
        }
        text = raw;
    } else if (len > WMI_MOF_MAX_FILE_SIZE) {
        c->f = &f;
        st = wmi__mof_perr_at(c, WBEMMOF_E_INVALID_FILE, 0, 0, "larger than WMI_MOF_MAX_FILE_SIZE");
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
        st = bad ? wmi__mof_perr_at(c, WBEMMOF_E_INVALID_FILE, 1, 1, "malformed UTF-16 text") : wmi__mof_oom(c);
    } else {
        wmi__mof_lex_init(&f.lx, f.text, f.len);
        char *ns = strdup(saved ? saved->ns
                                : (c->opts->default_namespace ? c->opts->default_namespace : "root\\default"));
        st = ns ? wmi__mof_set_namespace(c, ns) : wmi__mof_oom(c);
        if (WMI_SUCCEEDED(st))
            st = wmi__mof_parse_file(c);
        wmi__mof_lex_free(&f.lx);
    }
    c->depth--;
    c->f = saved;
    for (size_t i = 0; i < f.ninsts; i++)
        wmi__mof_inst_free(f.insts[i]);
    free(f.insts);
    wmi__cimap_free(&f.aliases);
    free(f.ns);
    free(f.text);
    free(f.dir);
    free(f.real);
    return st;
}

/* #pragma include("@name") at @line/@col of the current file (struct
 * mof_comp's include hook): the including file's dir, then -I dirs. */
static wmi_status
include_file(struct mof_comp *c, char *name, int line, int col)
{
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
    if (found == NULL)
        return wmi__mof_perr_at(c, WBEMMOF_E_ERROR_INVALID_INCLUDE_FILE, line, col,
                                "include file \"%s\" not found", name);
    wmi_status st = compile_file(c, found, NULL, 0, line, col);
    free(found);
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
    c.include = include_file;
    if (out == NULL || (path == NULL && text == NULL)) {
        wmi__set_error(c.err, WBEM_E_INVALID_PARAMETER, "", "no file, buffer or result pointer");
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
        wmi__set_error(c.err, WBEM_E_OUT_OF_MEMORY, path ? path : "", "out of memory");
        st = WBEM_E_OUT_OF_MEMORY;
    } else if (c.opts->default_namespace != NULL) {
        char *ns = wmi__mof_namespace_path(c.opts->default_namespace, "root");
        if (ns == NULL) {
            wmi__set_error(c.err, WBEMMOF_E_INVALID_NAMESPACE_SPECIFICATION, path ? path : "",
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
    wmi__cimap_free(&c.nsmap);
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
        wmi__set_error(err, WBEM_E_INVALID_PARAMETER, "", "no file");
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
