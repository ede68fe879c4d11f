/*
 * data_file.c - the CIM_DataFile and CIM_Directory instance providers:
 * the entries of the directories a query names, from readdir(3) and
 * statx(2), watched with libuv fs events (inotify) where possible.
 *
 * Like WMI's file providers they serve queries, not whole-class
 * enumerations: the scope is the set of directories the query's WHERE
 * pins TargetInstance.Path to (`TargetInstance.Path = '/tmp/watched/'`,
 * or an OR of such terms, in the top-level AND chain).  A polled query
 * on these classes without one is refused with WBEM_E_INVALID_QUERY:
 * WMI would poll every file on the machine.
 *
 * Linux mapping (docs/classes.md): Drive is "" (no drive letters); Path
 * is the directory with a trailing separator, as the query wrote it:
 * "/tmp/watched/", or "\tmp\watched\" (WQL '\\tmp\\watched\\') for
 * queries written the Windows way, in which case Name uses backslashes
 * too; Name is Path + the entry's name; FileName and Extension split the
 * name at its last dot (not a leading one: ".bashrc" has no extension).
 * CIM_DataFile lists every entry that is not a directory (lstat: a
 * symbolic link is a file of its own), CIM_Directory the subdirectories.
 *
 * Push: a state subscribed to changes watches each directory with
 * uv_fs_event and keeps the last instance of every entry; an event on an
 * entry re-reads it and reports a creation, deletion or modification.
 * When a directory cannot be watched (missing, no inotify), or its watch
 * fails later (the directory was removed), the state stops pushing and
 * the poller polls it at WITHIN.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/providers/providers.h"
#include "daemon/wmieventd.h"
#include "daemon/log.h"

#define NBUCKETS 256

struct entry {
    char *name;
    wmi_object *inst;
    struct entry *next;
};

struct watch;

struct df_state {
    const wmi_schema *schema;
    struct wmid_host_facts *facts; /* its env's */
    bool directories;            /* CIM_Directory, else CIM_DataFile */
    struct watch *w;
    size_t nw;
    bool subscribed;
    unsigned pushing;
    struct wmid_instance_sink sink;
    size_t closing;              /* fs event handles not yet closed */
    bool closed;                 /* free once closing drops to 0 */
};

struct watch {
    struct df_state *owner;
    char *fs;                    /* "/tmp/watched/" */
    char *shown;                 /* the query's form: "/tmp/watched/" or "\tmp\watched\" */
    char sep;
    uv_fs_event_t ev;
    bool watching;
    dev_t dev;
    ino_t ino;
    struct entry *buckets[NBUCKETS];
};

/* ====================================================================
 * Scope
 * ==================================================================== */

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
df_scope(const wmi_schema *schema, const wmi_query *query, wmi_error *err)
{
    (void)schema;
    char **v;
    size_t n = instance_query_equalities(query, "TargetInstance.Path", &v);
    const char *why = NULL;
    if (n == 0)
        why = "names no directory";
    for (size_t i = 0; i < n && why == NULL; i++) {
        size_t len = strlen(v[i]);
        char first = v[i][0];
        if (len < 1 || (first != '/' && first != '\\') || v[i][len - 1] != first)
            why = "has a TargetInstance.Path that is not an absolute directory with a trailing separator";
        else if (strchr(v[i], '\n') != NULL)
            why = "has a TargetInstance.Path with a newline";
    }
    if (why != NULL) {
        for (size_t i = 0; i < n; i++)
            free(v[i]);
        free(v);
        wmi_error_set(err, WBEM_E_INVALID_QUERY, "", 0, 0,
                 "Query: file events are served for the directories a query names, and this query %s "
                 "(add TargetInstance.Path = '/dir/', the directory with a trailing slash)",
                 why);
        return NULL;
    }
    qsort(v, n, sizeof *v, cmp_str);
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(v[i]) + 1;
    char *out = malloc(total);
    if (out != NULL) {
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && strcmp(v[i], v[i - 1]) == 0)
                continue;
            if (o > 0)
                out[o++] = '\n';
            size_t len = strlen(v[i]);
            memcpy(out + o, v[i], len);
            o += len;
        }
        out[o] = '\0';
    }
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
    if (out == NULL) {
        wmi_error_set(err, WBEM_E_OUT_OF_MEMORY, err->source, err->line, err->column, "out of memory");
    }
    return out;
}

/* ====================================================================
 * Instances
 * ==================================================================== */

static int64_t
ts_usec(const struct statx_timestamp *t)
{
    return (int64_t)t->tv_sec * 1000000 + t->tv_nsec / 1000;
}

/* The instance for entry @name of @w; NULL when it is gone or of the
 * other class. */
static wmi_object *
read_entry(struct watch *w, const char *name)
{
    struct df_state *s = w->owner;
    char path[4096];
    if (snprintf(path, sizeof path, "%s%s", w->fs, name) >= (int)sizeof path)
        return NULL;
    struct statx stx;
    if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME, &stx) != 0)
        return NULL;
    bool is_dir = S_ISDIR(stx.stx_mode);
    if (is_dir != s->directories)
        return NULL;
    wmi_object *o;
    if (WMI_FAILED(wmi_object_new(s->schema, s->directories ? "CIM_Directory" : "CIM_DataFile", &o)))
        return NULL;
    char full[4096 * 2];
    snprintf(full, sizeof full, "%s%s", w->shown, name);
    if (w->sep == '\\')
        for (char *c = full + strlen(w->shown); *c != '\0'; c++)
            if (*c == '/')
                *c = '\\';
    const char *dot = strrchr(name, '.');
    if (dot == name)
        dot = NULL; /* ".bashrc": a hidden name, not an extension */
    char base[1024];
    snprintf(base, sizeof base, "%.*s", dot ? (int)(dot - name) : (int)strlen(name), name);
    char type[300];
    if (is_dir)
        snprintf(type, sizeof type, "File Folder");
    else if (dot != NULL)
        snprintf(type, sizeof type, "%.200s File", dot + 1);
    else
        snprintf(type, sizeof type, "File");
    wmi_object_put_string(o, "Name", full);
    wmi_object_put_string(o, "Caption", full);
    wmi_object_put_string(o, "Description", full);
    wmi_object_put_string(o, "Status", "OK");
    wmi_object_put_string(o, "CreationClassName", s->directories ? "CIM_Directory" : "CIM_DataFile");
    wmi_object_put_string(o, "CSCreationClassName", "Win32_ComputerSystem");
    wmi_object_put_string(o, "CSName", instance_host_name(s->facts));
    wmi_object_put_string(o, "FSCreationClassName", "Win32_FileSystem");
    wmi_object_put_string(o, "Drive", "");
    wmi_object_put_string(o, "Path", w->shown);
    wmi_object_put_string(o, "FileName", base);
    wmi_object_put_string(o, "Extension", dot ? dot + 1 : "");
    wmi_object_put_string(o, "FileType", type);
    wmi_object_put_uint64(o, "FileSize", stx.stx_size);
    instance_put_datetime(o, "LastModified", ts_usec(&stx.stx_mtime));
    if (stx.stx_mask & STATX_BTIME)
        instance_put_datetime(o, "CreationDate", ts_usec(&stx.stx_btime));
    wmi_object_put_boolean(o, "Hidden", name[0] == '.');
    wmi_object_put_boolean(o, "Readable", (stx.stx_mode & 0444) != 0);
    wmi_object_put_boolean(o, "Writeable", (stx.stx_mode & 0222) != 0);
    wmi_object_put_boolean(o, "System", false);
    wmi_object_put_boolean(o, "Archive", false);
    wmi_object_put_boolean(o, "Compressed", false);
    wmi_object_put_boolean(o, "Encrypted", false);
    return o;
}

/* Give every entry of @w's directory to @fn. */
static void
list_dir(struct watch *w, void (*fn)(struct watch *w, const char *name, wmi_object *inst, void *arg), void *arg)
{
    DIR *d = opendir(w->fs);
    if (d == NULL)
        return; /* no such directory: no instances, as in WMI */
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (de->d_type != DT_UNKNOWN && (de->d_type == DT_DIR) != w->owner->directories)
            continue;
        wmi_object *o = read_entry(w, de->d_name);
        if (o == NULL)
            continue;
        fn(w, de->d_name, o, arg);
        wmi_object_unref(o);
    }
    closedir(d);
}

/* ====================================================================
 * The entry table of a watched directory
 * ==================================================================== */

static unsigned
name_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % NBUCKETS;
}

static struct entry **
entry_slot(struct watch *w, const char *name)
{
    struct entry **pp = &w->buckets[name_hash(name)];
    while (*pp != NULL && strcmp((*pp)->name, name) != 0)
        pp = &(*pp)->next;
    return pp;
}

static void
entries_clear(struct watch *w, bool report)
{
    for (size_t b = 0; b < NBUCKETS; b++) {
        while (w->buckets[b] != NULL) {
            struct entry *e = w->buckets[b];
            w->buckets[b] = e->next;
            if (report)
                w->owner->sink.deleted(w->owner->sink.arg, e->inst);
            wmi_object_unref(e->inst);
            free(e->name);
            free(e);
        }
    }
}

static void
table_put(struct watch *w, const char *name, wmi_object *inst, void *arg)
{
    (void)arg;
    struct entry **pp = entry_slot(w, name);
    if (*pp != NULL) {
        wmi_object_unref((*pp)->inst);
        (*pp)->inst = wmi_object_ref(inst);
        return;
    }
    struct entry *e = calloc(1, sizeof *e);
    if (e == NULL || (e->name = strdup(name)) == NULL) {
        free(e);
        return;
    }
    e->inst = wmi_object_ref(inst);
    *pp = e;
}

/* Re-read entry @name and report how it changed. */
static void
refresh_entry(struct watch *w, const char *name)
{
    struct df_state *s = w->owner;
    wmi_object *now = read_entry(w, name);
    struct entry **pp = entry_slot(w, name);
    if (now == NULL) {
        if (*pp != NULL) {
            struct entry *e = *pp;
            *pp = e->next;
            s->sink.deleted(s->sink.arg, e->inst);
            wmi_object_unref(e->inst);
            free(e->name);
            free(e);
        }
        return;
    }
    if (*pp == NULL) {
        table_put(w, name, now, NULL);
        s->sink.created(s->sink.arg, now);
    } else if (!json_equal((json_t *)wmi_object_json((*pp)->inst), (json_t *)wmi_object_json(now))) {
        wmi_object *prev = (*pp)->inst;
        (*pp)->inst = wmi_object_ref(now);
        s->sink.modified(s->sink.arg, now, prev);
        wmi_object_unref(prev);
    }
    wmi_object_unref(now);
}

struct seen {
    char **names;
    size_t n, cap;
};

static void
note_name(struct watch *w, const char *name, wmi_object *inst, void *arg)
{
    (void)w;
    (void)inst;
    struct seen *sn = arg;
    if (sn->n == sn->cap) {
        size_t ncap = sn->cap ? sn->cap * 2 : 64;
        char **nn = realloc(sn->names, ncap * sizeof *nn);
        if (nn == NULL)
            return;
        sn->names = nn;
        sn->cap = ncap;
    }
    if ((sn->names[sn->n] = strdup(name)) != NULL)
        sn->n++;
}

/* Events were lost (no name given): compare the whole directory. */
static void
refresh_all(struct watch *w)
{
    struct seen sn = {NULL, 0, 0};
    list_dir(w, note_name, &sn);
    for (size_t b = 0; b < NBUCKETS; b++)
        for (struct entry *e = w->buckets[b]; e != NULL; e = e->next)
            note_name(w, e->name, NULL, &sn);
    for (size_t i = 0; i < sn.n; i++) {
        /* Names listed twice are refreshed twice: harmless. */
        refresh_entry(w, sn.names[i]);
        free(sn.names[i]);
    }
    free(sn.names);
}

/* ====================================================================
 * Watching
 * ==================================================================== */

static void
on_handle_closed(uv_handle_t *h)
{
    struct watch *w = h->data;
    struct df_state *s = w->owner;
    if (--s->closing == 0 && s->closed) {
        for (size_t i = 0; i < s->nw; i++) {
            free(s->w[i].fs);
            free(s->w[i].shown);
        }
        free(s->w);
        free(s);
    }
}

static void
stop_watches(struct df_state *s)
{
    for (size_t i = 0; i < s->nw; i++) {
        struct watch *w = &s->w[i];
        if (!w->watching)
            continue;
        w->watching = false;
        uv_fs_event_stop(&w->ev);
        uv_close((uv_handle_t *)&w->ev, on_handle_closed);
        entries_clear(w, false);
    }
}

static void stop_pushing(struct df_state *s, struct watch *why);

static void
on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
    struct watch *w = h->data;
    struct df_state *s = w->owner;
    (void)events;
    if (!w->watching || s->pushing == 0)
        return;
    struct stat st;
    if (status < 0 || stat(w->fs, &st) != 0 || st.st_dev != w->dev || st.st_ino != w->ino) {
        /* The directory went (or the watch broke): what it held is gone. */
        entries_clear(w, true);
        stop_pushing(s, w);
        return;
    }
    if (filename == NULL || strchr(filename, '/') != NULL)
        refresh_all(w);
    else
        refresh_entry(w, filename);
}

static void
stop_pushing(struct df_state *s, struct watch *why)
{
    if (why != NULL)
        log_warnx("file events: %s: cannot watch it any more; polled from now on", why->fs);
    stop_watches(s);
    s->pushing = 0;
    s->sink.pushing(s->sink.arg, 0);
}

static bool
df_subscribe(void *state, uv_loop_t *loop, const struct wmid_instance_sink *sink)
{
    struct df_state *s = state;
    if (s->subscribed)
        return false;
    s->sink = *sink;
    s->subscribed = true;
    bool all = true;
    for (size_t i = 0; i < s->nw && all; i++) {
        struct watch *w = &s->w[i];
        struct stat st;
        if (stat(w->fs, &st) != 0 || !S_ISDIR(st.st_mode)) {
            all = false;
            log_info("file events: %s: not a directory now; polled", w->fs);
            break;
        }
        w->dev = st.st_dev;
        w->ino = st.st_ino;
        uv_fs_event_init(loop, &w->ev);
        w->ev.data = w;
        w->watching = true;
        s->closing++;
        int rc = uv_fs_event_start(&w->ev, on_fs_event, w->fs, 0);
        if (rc != 0) {
            log_info("file events: %s: cannot watch (%s); polled", w->fs, uv_strerror(rc));
            all = false;
            break;
        }
        list_dir(w, table_put, NULL);
    }
    if (!all) {
        stop_watches(s);
        return true; /* subscribed, pushing nothing: polled */
    }
    s->pushing = WMID_PUSH_CREATION | WMID_PUSH_DELETION | WMID_PUSH_MODIFICATION;
    s->sink.pushing(s->sink.arg, s->pushing);
    return true;
}

static void
df_unsubscribe(void *state)
{
    struct df_state *s = state;
    if (!s->subscribed)
        return;
    stop_watches(s);
    s->subscribed = false;
    s->pushing = 0;
}

/* ====================================================================
 * The provider
 * ==================================================================== */

static void *
open_scoped(struct wmid_instance_env *env, const wmi_schema *schema, const char *scope, bool directories)
{
    struct df_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->schema = schema;
    s->facts = &env->facts;
    s->directories = directories;
    size_t n = 1;
    for (const char *c = scope; *c != '\0'; c++)
        n += *c == '\n';
    s->w = calloc(n, sizeof *s->w);
    if (s->w == NULL) {
        free(s);
        return NULL;
    }
    for (const char *p = scope; *p != '\0' || s->nw == 0;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        struct watch *w = &s->w[s->nw++];
        w->owner = s;
        w->shown = strndup(p, len);
        w->fs = strndup(p, len);
        if (w->shown == NULL || w->fs == NULL)
            break;
        w->sep = w->shown[0] == '\\' ? '\\' : '/';
        if (w->sep == '\\')
            for (char *c = w->fs; *c != '\0'; c++)
                if (*c == '\\')
                    *c = '/';
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    return s;
}

static void *
df_open_files(struct wmid_instance_env *env, const wmi_schema *schema, const char *scope)
{
    return open_scoped(env, schema, scope, false);
}

static void *
df_open_dirs(struct wmid_instance_env *env, const wmi_schema *schema, const char *scope)
{
    return open_scoped(env, schema, scope, true);
}

static void
df_close(void *state)
{
    struct df_state *s = state;
    if (s == NULL)
        return;
    df_unsubscribe(s);
    s->closed = true;
    if (s->closing == 0) {
        /* No handle is closing: free now. */
        for (size_t i = 0; i < s->nw; i++) {
            free(s->w[i].fs);
            free(s->w[i].shown);
        }
        free(s->w);
        free(s);
    }
}

struct enum_ctx {
    wmid_instance_fn fn;
    void *arg;
};

static void
give(struct watch *w, const char *name, wmi_object *inst, void *arg)
{
    (void)w;
    (void)name;
    struct enum_ctx *ctx = arg;
    ctx->fn(inst, ctx->arg);
}

static wmi_status
df_enumerate(void *state, wmid_instance_fn fn, void *arg)
{
    struct df_state *s = state;
    struct enum_ctx ctx = {fn, arg};
    for (size_t i = 0; i < s->nw; i++)
        if (s->w[i].fs != NULL)
            list_dir(&s->w[i], give, &ctx);
    return WBEM_S_NO_ERROR;
}

const struct wmid_instance_provider wmid_ip_data_file = {
    .name = "CIM_DataFile (directory listing)",
    .class_name = "CIM_DataFile",
    .push = WMID_PUSH_CREATION | WMID_PUSH_DELETION | WMID_PUSH_MODIFICATION,
    .close = df_close,
    .enumerate = df_enumerate,
    .subscribe = df_subscribe,
    .unsubscribe = df_unsubscribe,
    .scope = df_scope,
    .open_scoped = df_open_files,
};

const struct wmid_instance_provider wmid_ip_directory = {
    .name = "CIM_Directory (directory listing)",
    .class_name = "CIM_Directory",
    .push = WMID_PUSH_CREATION | WMID_PUSH_DELETION | WMID_PUSH_MODIFICATION,
    .close = df_close,
    .enumerate = df_enumerate,
    .subscribe = df_subscribe,
    .unsubscribe = df_unsubscribe,
    .scope = df_scope,
    .open_scoped = df_open_dirs,
};
