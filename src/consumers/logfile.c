/*
 * logfile.c - the LogFileEventConsumer consumer provider (logfile.so).
 *
 * Writes one line per event, the expansion of the logical consumer's Text
 * template, to the file named by Filename, as WMI's standard
 * LogFileEventConsumer does (docs/consumers.md has the whole contract):
 *
 *   - the file is created when missing; its directory must exist;
 *   - IsUnicode TRUE makes a new (or empty) file UTF-16LE with a BOM; a
 *     file that already has content keeps its encoding (BOM sniffed);
 *   - MaximumFileSize (default 65535, 0 = unlimited) is checked before each
 *     line; a full file is renamed to a numbered backup and a new, empty
 *     primary is started;
 *   - open and write failures are WBEM errors from indicate_to_consumer.
 *
 * Shape: one sink per logical consumer (compiled template, settings,
 * expansion buffers); one shared, refcounted struct lf_file per distinct
 * path, holding the open descriptor and a mutex, so that several logical
 * consumers writing the same file (from their own delivery threads)
 * serialise their writes and rotations.  A batch of n events is expanded
 * into one buffer outside the lock and written with a single write() per
 * rotation segment (normally one per batch).  No fsync: the kernel's page
 * cache is the durability WMI's own consumer gives.  The path is stat()ed
 * at most once a second to notice logrotate moving or deleting the file;
 * the file is then reopened (recreated).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wmievent/object.h"
#include "wmievent/plugin.h"
#include "wmievent/status.h"
#include "wmievent/template.h"

#define LF_VERSION "1.0"
#define LF_MAX_BATCH 1024
#define LF_DEFAULT_MAX_SIZE 65535u
#define LF_MAX_BACKUP 999
#define LF_INODE_CHECK_MS 1000

enum lf_encoding {
    ENC_ANSI,      /* bytes as expanded: UTF-8 */
    ENC_UTF16LE,   /* BOM FF FE */
    ENC_UTF16BE,   /* BOM FE FF: only kept for existing files */
};

/* One open log file, shared by every logical consumer naming its path. */
struct lf_file {
    struct lf_file *next;
    char *path;                /* absolute; the sharing key */
    unsigned refs;             /* under provider->lock */

    pthread_mutex_t lock;      /* everything below */
    int fd;                    /* -1 when not open */
    bool regular;              /* a regular file: size limit and rotation apply */
    dev_t dev;
    ino_t ino;
    enum lf_encoding enc;
    uint64_t checked_ms;       /* last stat() of the path */
    mode_t mode;               /* FileMode of a file it creates (the first consumer's) */
    wmi_status logged;         /* last failure logged, to log once per episode */
};

struct lf_provider {
    const struct wmi_host *host;
    pthread_mutex_t lock;      /* files list and refs */
    struct lf_file *files;
};

struct lf_sink {
    struct wmi_unbound_object_sink base; /* first: the host sees this */
    struct lf_provider *prov;
    struct lf_file *file;
    wmi_template *text;
    uint64_t max_size;         /* 0: unlimited */
    bool unicode;
    char *name;                /* the logical consumer's Name, for logs */

    /* Per-call scratch (one call at a time per sink). */
    char *buf;                 /* expanded UTF-8 lines */
    size_t len, cap;
    size_t *ends;              /* end offset of each line in buf, then in out */
    size_t capends;
    unsigned char *wbuf;       /* UTF-16 form of buf */
    size_t wcap;
};

/* ====================================================================
 * Helpers
 * ==================================================================== */

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The WBEM status for an errno of open/write/rename. */
static wmi_status
status_from_errno(int e)
{
    switch (e) {
    case EACCES:
    case EPERM:
    case EROFS:
        return WBEM_E_ACCESS_DENIED;
    case ENOENT:
    case ENOTDIR:
        return WBEM_E_NOT_FOUND;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return WBEM_E_OUT_OF_DISK_SPACE;
    case ENOMEM:
        return WBEM_E_OUT_OF_MEMORY;
    default:
        return WBEM_E_FAILED;
    }
}

static const char *
status_name(wmi_status st)
{
    const char *n = wmi_status_name(st);
    return n != NULL ? n : "WBEM_E_FAILED";
}

/* Log a failure of @file once per episode (until the next success). */
static void
log_failure(struct lf_sink *s, wmi_status st, const char *what, int e)
{
    const struct wmi_host *host = s->prov->host;
    if (s->file->logged == st)
        return;
    s->file->logged = st;
    if (host != NULL && host->log != NULL)
        host->log(host, WMI_LOG_ERR, "LogFileEventConsumer.Name=\"%s\": %s %s: %s (%s)",
                  s->name, what, s->file->path, strerror(e), status_name(st));
}

static void
log_recovered(struct lf_sink *s)
{
    const struct wmi_host *host = s->prov->host;
    if (s->file->logged == WBEM_S_NO_ERROR)
        return;
    s->file->logged = WBEM_S_NO_ERROR;
    if (host != NULL && host->log != NULL)
        host->log(host, WMI_LOG_NOTICE, "LogFileEventConsumer.Name=\"%s\": writing %s again",
                  s->name, s->file->path);
}

/* write() all of @p, retrying on EINTR and short writes.  0 or an errno. */
static int
write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (w == 0)
            return EIO;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static size_t
bom_len(enum lf_encoding enc)
{
    return enc == ENC_ANSI ? 0 : 2;
}

static int
write_bom(int fd, enum lf_encoding enc)
{
    static const unsigned char le[2] = {0xFF, 0xFE}, be[2] = {0xFE, 0xFF};
    if (enc == ENC_UTF16LE)
        return write_all(fd, le, 2);
    if (enc == ENC_UTF16BE)
        return write_all(fd, be, 2);
    return 0;
}

/* The encoding of an existing, non-empty file, from its BOM. */
static enum lf_encoding
sniff_encoding(const char *path)
{
    unsigned char b[2];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return ENC_ANSI;
    ssize_t n = pread(fd, b, sizeof b, 0);
    close(fd);
    if (n == 2 && b[0] == 0xFF && b[1] == 0xFE)
        return ENC_UTF16LE;
    if (n == 2 && b[0] == 0xFE && b[1] == 0xFF)
        return ENC_UTF16BE;
    return ENC_ANSI;
}

/*
 * Open (creating if missing) the file.  An empty file gets the encoding
 * @enc_if_new asks for, with its BOM; a file with content keeps its own.
 * Returns 0 or an errno; with file->lock held.
 */
static int
file_open(struct lf_file *f, enum lf_encoding enc_if_new)
{
    /* O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of
     * blocking the delivery thread; it changes nothing for regular files. */
    const int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    int fd = open(f->path, flags);
    if (fd < 0 && errno == ENOENT) {
        /* A file this consumer creates gets FileMode exactly, whatever the
         * process's umask. */
        fd = open(f->path, flags | O_CREAT | O_EXCL, f->mode);
        if (fd >= 0 && fchmod(fd, f->mode) != 0) {
            int e = errno;
            close(fd);
            return e;
        }
        if (fd < 0 && errno == EEXIST)
            fd = open(f->path, flags); /* created meanwhile by someone else */
    }
    if (fd < 0)
        return errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return e;
    }
    f->regular = S_ISREG(st.st_mode);
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    if (!f->regular) {
        f->enc = enc_if_new;
    } else if (st.st_size == 0) {
        f->enc = enc_if_new;
        int e = write_bom(fd, f->enc);
        if (e != 0) {
            close(fd);
            return e;
        }
    } else {
        f->enc = sniff_encoding(f->path);
    }
    f->fd = fd;
    f->checked_ms = now_ms();
    return 0;
}

static void
file_close(struct lf_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

/*
 * The open file, reopened when logrotate (or anyone) moved or removed the
 * path: checked at most once a second.  0 or an errno.
 */
static int
file_ensure_open(struct lf_file *f, enum lf_encoding enc_if_new)
{
    if (f->fd >= 0) {
        uint64_t now = now_ms();
        if (now - f->checked_ms < LF_INODE_CHECK_MS)
            return 0;
        f->checked_ms = now;
        struct stat st;
        if (stat(f->path, &st) == 0 && st.st_dev == f->dev && st.st_ino == f->ino)
            return 0;
        file_close(f);
    }
    return file_open(f, enc_if_new);
}

/* ---- backup names ---- */

static bool
is_83_char(char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'()-@^_`{}~", c) != NULL;
}

/* True for an MS-DOS 8.3 name: 1-8 characters, optionally '.' and 1-3 more. */
static bool
is_83_name(const char *base)
{
    size_t n = 0, e = 0;
    const char *p = base;
    while (is_83_char(*p)) {
        p++;
        n++;
    }
    if (n == 0 || n > 8)
        return false;
    if (*p == '\0')
        return true;
    if (*p != '.')
        return false;
    p++;
    while (is_83_char(*p)) {
        p++;
        e++;
    }
    return *p == '\0' && e >= 1 && e <= 3;
}

/*
 * The backup file for @path, as WMI names them: for an 8.3 file name the
 * extension is replaced by 001, 002, ... (EVENTS.LOG -> EVENTS.001, and
 * EVENTS -> EVENTS.001); any other name gets 001, 002, ... appended
 * (process-starts.log -> process-starts.log001).  The number is one more
 * than the highest backup present; after 999, the smallest unused number;
 * when all 999 exist, the oldest backup is overwritten.
 * Returns a malloc'd path, or NULL when out of memory.
 */
static char *
backup_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash != NULL ? slash + 1 : path;
    size_t dirlen = (size_t)(base - path);
    size_t prefix_len; /* bytes of @path kept before the number */
    bool dot;

    if (is_83_name(base)) {
        const char *ext = strchr(base, '.');
        prefix_len = ext != NULL ? (size_t)(ext - path) : strlen(path);
        dot = true;
    } else {
        prefix_len = strlen(path);
        dot = false;
    }

    /* Which numbers exist?  Compare directory entries with the prefix. */
    const char *fprefix = base;                  /* file-name part of the prefix */
    size_t fplen = prefix_len - dirlen;
    static const size_t nnum = LF_MAX_BACKUP + 1;
    unsigned char used[LF_MAX_BACKUP + 1];
    memset(used, 0, sizeof used);
    int highest = 0;
    char *dirpath = dirlen > 0 ? strndup(path, dirlen) : strdup(".");
    if (dirpath == NULL)
        return NULL;
    DIR *d = opendir(dirpath);
    if (d != NULL) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            const char *nm = de->d_name;
            if (strncmp(nm, fprefix, fplen) != 0)
                continue;
            nm += fplen;
            if (dot) {
                if (*nm != '.')
                    continue;
                nm++;
            }
            if (strlen(nm) != 3 || nm[0] < '0' || nm[0] > '9' || nm[1] < '0' || nm[1] > '9' ||
                nm[2] < '0' || nm[2] > '9')
                continue;
            int k = (nm[0] - '0') * 100 + (nm[1] - '0') * 10 + (nm[2] - '0');
            if (k >= 1 && (size_t)k < nnum) {
                used[k] = 1;
                if (k > highest)
                    highest = k;
            }
        }
        closedir(d);
    }
    free(dirpath);

    size_t outlen = prefix_len + (dot ? 1 : 0) + 3 + 1;
    char *out = malloc(outlen);
    if (out == NULL)
        return NULL;
    int num = highest + 1;
    if (num > LF_MAX_BACKUP) {
        num = 0;
        for (int k = 1; k <= LF_MAX_BACKUP; k++) {
            if (!used[k]) {
                num = k;
                break;
            }
        }
    }
    if (num == 0) { /* all 999 exist: overwrite the oldest */
        time_t oldest = 0;
        long oldest_ns = 0;
        num = 1;
        for (int k = 1; k <= LF_MAX_BACKUP; k++) {
            struct stat st;
            snprintf(out, outlen, "%.*s%s%03d", (int)prefix_len, path, dot ? "." : "", k);
            if (stat(out, &st) != 0)
                continue;
            if (k == 1 || st.st_mtim.tv_sec < oldest ||
                (st.st_mtim.tv_sec == oldest && st.st_mtim.tv_nsec < oldest_ns)) {
                oldest = st.st_mtim.tv_sec;
                oldest_ns = st.st_mtim.tv_nsec;
                num = k;
            }
        }
    }
    snprintf(out, outlen, "%.*s%s%03d", (int)prefix_len, path, dot ? "." : "", num);
    return out;
}

/*
 * Move the full file to its backup and start an empty primary in the same
 * encoding.  0 or an errno (*@what names the step that failed).
 */
static int
file_rotate(struct lf_file *f, const char **what)
{
    char *bak = backup_name(f->path);
    if (bak == NULL) {
        *what = "cannot name a backup of";
        return ENOMEM;
    }
    if (rename(f->path, bak) != 0) {
        int e = errno;
        free(bak);
        *what = "cannot rename to a backup";
        return e;
    }
    free(bak);
    enum lf_encoding enc = f->enc;
    file_close(f);
    int e = file_open(f, enc);
    if (e != 0)
        *what = "cannot create";
    return e;
}

/* ====================================================================
 * Encoding
 * ==================================================================== */

/* Decode one UTF-8 sequence at s[0..n); invalid input yields U+FFFD, 1 byte. */
static uint32_t
utf8_decode(const unsigned char *s, size_t n, size_t *used)
{
    unsigned char c = s[0];
    uint32_t cp;
    size_t len;
    if (c < 0x80) {
        *used = 1;
        return c;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07u;
    } else {
        *used = 1;
        return 0xFFFD;
    }
    if (len > n) {
        *used = 1;
        return 0xFFFD;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *used = 1;
            return 0xFFFD;
        }
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
        *used = 1;
        return 0xFFFD;
    }
    *used = len;
    return cp;
}

/*
 * Convert s->buf (UTF-8) to UTF-16 in s->wbuf, rewriting s->ends[] to
 * offsets in the converted bytes.  false when out of memory.
 */
static bool
to_utf16(struct lf_sink *s, size_t nlines, bool big_endian)
{
    size_t need = s->len * 2 + 2; /* at most two output bytes per input byte */
    if (need > s->wcap) {
        unsigned char *p = realloc(s->wbuf, need);
        if (p == NULL)
            return false;
        s->wbuf = p;
        s->wcap = need;
    }
    const unsigned char *in = (const unsigned char *)s->buf;
    unsigned char *o = s->wbuf;
    size_t pos = 0;
    for (size_t line = 0; line < nlines; line++) {
        size_t end = s->ends[line];
        while (pos < end) {
            size_t used;
            uint32_t cp = utf8_decode(in + pos, end - pos, &used);
            pos += used;
            uint16_t units[2];
            int nu = 1;
            if (cp >= 0x10000) {
                cp -= 0x10000;
                units[0] = (uint16_t)(0xD800 + (cp >> 10));
                units[1] = (uint16_t)(0xDC00 + (cp & 0x3FF));
                nu = 2;
            } else {
                units[0] = (uint16_t)cp;
            }
            for (int k = 0; k < nu; k++) {
                if (big_endian) {
                    *o++ = (unsigned char)(units[k] >> 8);
                    *o++ = (unsigned char)(units[k] & 0xFF);
                } else {
                    *o++ = (unsigned char)(units[k] & 0xFF);
                    *o++ = (unsigned char)(units[k] >> 8);
                }
            }
        }
        s->ends[line] = (size_t)(o - s->wbuf);
    }
    return true;
}

/* ====================================================================
 * The sink
 * ==================================================================== */

/* Expand the n events into s->buf, one line each; s->ends[i] ends line i. */
static wmi_status
expand_batch(struct lf_sink *s, size_t n, wmi_object *const *events)
{
    if (n > s->capends) {
        size_t *p = realloc(s->ends, n * sizeof *p);
        if (p == NULL)
            return WBEM_E_OUT_OF_MEMORY;
        s->ends = p;
        s->capends = n;
    }
    s->len = 0;
    if (s->buf != NULL)
        s->buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        wmi_status st = wmi_template_expand(s->text, events[i], &s->buf, &s->len, &s->cap);
        if (WMI_FAILED(st))
            return st;
        /* the buffer is NUL-terminated, so one more byte fits or is reserved */
        if (s->len + 1 >= s->cap) {
            size_t ncap = s->cap ? s->cap * 2 : 256;
            char *p = realloc(s->buf, ncap);
            if (p == NULL)
                return WBEM_E_OUT_OF_MEMORY;
            s->buf = p;
            s->cap = ncap;
        }
        s->buf[s->len++] = '\n';
        s->buf[s->len] = '\0';
        s->ends[i] = s->len;
    }
    return WBEM_S_NO_ERROR;
}

static wmi_status
lf_indicate(struct wmi_unbound_object_sink *self, const wmi_object *logical_consumer, size_t n,
            wmi_object *const *events)
{
    struct lf_sink *s = (struct lf_sink *)(void *)self;
    struct lf_file *f = s->file;
    (void)logical_consumer; /* the settings were read by find_consumer */

    if (n == 0)
        return WBEM_S_NO_ERROR;
    wmi_status st = expand_batch(s, n, events);
    if (WMI_FAILED(st))
        return st;

    pthread_mutex_lock(&f->lock);
    const char *what = "cannot open";
    bool write_failed = false;
    int e = file_ensure_open(f, s->unicode ? ENC_UTF16LE : ENC_ANSI);
    if (e != 0)
        goto fail;

    const unsigned char *out = (const unsigned char *)s->buf;
    if (f->enc != ENC_ANSI) {
        if (!to_utf16(s, n, f->enc == ENC_UTF16BE)) {
            pthread_mutex_unlock(&f->lock);
            return WBEM_E_OUT_OF_MEMORY;
        }
        out = s->wbuf;
    }

    /* The size before each line decides a rotation; lines between two
     * rotations go out in one write(). */
    uint64_t size = 0;
    bool limit = s->max_size != 0 && f->regular;
    if (limit) {
        struct stat stt;
        if (fstat(f->fd, &stt) != 0) {
            e = errno;
            what = "cannot stat";
            goto fail;
        }
        size = (uint64_t)stt.st_size;
    }
    size_t seg = 0; /* start of the pending segment in out */
    for (size_t i = 0; i < n; i++) {
        size_t start = i == 0 ? 0 : s->ends[i - 1];
        if (limit && size >= s->max_size && size > bom_len(f->enc)) {
            e = write_all(f->fd, out + seg, start - seg);
            if (e != 0) {
                what = "cannot write";
                write_failed = true;
                goto fail;
            }
            seg = start;
            e = file_rotate(f, &what);
            if (e != 0)
                goto fail;
            size = bom_len(f->enc);
        }
        size += s->ends[i] - start;
    }
    e = write_all(f->fd, out + seg, s->ends[n - 1] - seg);
    if (e != 0) {
        what = "cannot write";
        write_failed = true;
        goto fail;
    }
    log_recovered(s);
    pthread_mutex_unlock(&f->lock);
    return WBEM_S_NO_ERROR;

fail:
    st = status_from_errno(e);
    log_failure(s, st, what, e);
    /* The failure event names the file and the reason (ABI 1.2). */
    const struct wmi_host *host = s->prov->host;
    if (host->size >= offsetof(struct wmi_host, set_error) + sizeof host->set_error && host->set_error != NULL)
        host->set_error(host, "%s %s: %s", what, f->path, strerror(e));
    /* After a failed write the file is reopened on the next call (the
     * descriptor may be bad for good); a file that failed to open stays
     * closed and is retried on the next call. */
    if (write_failed)
        file_close(f);
    pthread_mutex_unlock(&f->lock);
    return st;
}

static void
file_unref(struct lf_provider *p, struct lf_file *f)
{
    pthread_mutex_lock(&p->lock);
    if (--f->refs > 0) {
        pthread_mutex_unlock(&p->lock);
        return;
    }
    for (struct lf_file **pp = &p->files; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    }
    pthread_mutex_unlock(&p->lock);
    file_close(f);
    pthread_mutex_destroy(&f->lock);
    free(f->path);
    free(f);
}

static void
lf_release(struct wmi_unbound_object_sink *self)
{
    struct lf_sink *s = (struct lf_sink *)(void *)self;
    if (s == NULL)
        return;
    if (s->file != NULL)
        file_unref(s->prov, s->file);
    wmi_template_free(s->text);
    free(s->name);
    free(s->buf);
    free(s->ends);
    free(s->wbuf);
    free(s);
}

/* ====================================================================
 * The provider
 * ==================================================================== */

/*
 * The sharing key of a Filename: absolute (relative names are relative to
 * the daemon's working directory), with the directory resolved by
 * realpath() when it exists so that different spellings of one directory
 * share one file.  NULL when out of memory.
 */
static char *
canonical_path(const char *name)
{
    char *abs;
    if (name[0] == '/') {
        abs = strdup(name);
    } else {
        char *cwd = getcwd(NULL, 0);
        if (cwd == NULL)
            return strdup(name);
        if (asprintf(&abs, "%s/%s", cwd, name) < 0)
            abs = NULL;
        free(cwd);
    }
    if (abs == NULL)
        return NULL;
    char *slash = strrchr(abs, '/');
    *slash = '\0';
    char *dir = realpath(slash == abs ? "/" : abs, NULL);
    *slash = '/';
    if (dir == NULL)
        return abs;
    char *out;
    if (asprintf(&out, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, slash + 1) < 0)
        out = NULL;
    free(dir);
    free(abs);
    return out;
}

static struct lf_file *
file_get(struct lf_provider *p, const char *filename)
{
    char *path = canonical_path(filename);
    if (path == NULL)
        return NULL;
    pthread_mutex_lock(&p->lock);
    for (struct lf_file *f = p->files; f != NULL; f = f->next) {
        if (strcmp(f->path, path) == 0) {
            f->refs++;
            pthread_mutex_unlock(&p->lock);
            free(path);
            return f;
        }
    }
    struct lf_file *f = calloc(1, sizeof *f);
    if (f == NULL || pthread_mutex_init(&f->lock, NULL) != 0) {
        pthread_mutex_unlock(&p->lock);
        free(f);
        free(path);
        return NULL;
    }
    f->path = path;
    f->fd = -1;
    f->refs = 1;
    f->next = p->files;
    p->files = f;
    pthread_mutex_unlock(&p->lock);
    return f;
}

static void
log_bad(const struct lf_provider *p, const char *name, const char *why)
{
    if (p->host != NULL && p->host->log != NULL)
        p->host->log(p->host, WMI_LOG_ERR, "LogFileEventConsumer.Name=\"%s\": %s", name, why);
}

/* FileMode, our extension: the permission bits, as octal digits, of a
 * file the consumer creates ("0640" when unset).  False when it is not
 * one (more than 0777: no set-id or sticky bits). */
static bool
file_mode(const wmi_object *lc, mode_t *mode)
{
    const char *s = NULL;
    wmi_status st = wmi_object_get_string(lc, "FileMode", &s);
    if (WMI_FAILED(st) && st != WBEM_E_NOT_FOUND)
        return false;
    if (st != WBEM_S_NO_ERROR || s == NULL) {
        *mode = 0640;
        return true;
    }
    char *end;
    unsigned long v = strtoul(s, &end, 8);
    if (s[0] == '\0' || *end != '\0' || strchr(s, '-') != NULL || v > 0777 || v == 0)
        return false;
    *mode = (mode_t)v;
    return true;
}

static wmi_status
lf_find_consumer(void *provider, const wmi_object *lc, struct wmi_unbound_object_sink **sink)
{
    struct lf_provider *p = provider;
    const char *name = NULL, *filename = NULL, *text = NULL;
    uint64_t max_size = LF_DEFAULT_MAX_SIZE;
    bool unicode = false;
    wmi_status st;

    if (sink == NULL || lc == NULL)
        return WBEM_E_INVALID_PARAMETER;
    *sink = NULL;
    if (wmi_object_get_string(lc, "Name", &name) != WBEM_S_NO_ERROR)
        name = "";

    st = wmi_object_get_string(lc, "Filename", &filename);
    if (st != WBEM_S_NO_ERROR || filename[0] == '\0') {
        log_bad(p, name, "Filename is not set");
        return WBEM_E_INVALID_PARAMETER;
    }
    size_t fnlen = strlen(filename);
    if (filename[fnlen - 1] == '/') {
        log_bad(p, name, "Filename names a directory");
        return WBEM_E_INVALID_PARAMETER;
    }
    st = wmi_object_get_string(lc, "Text", &text);
    if (WMI_FAILED(st)) {
        log_bad(p, name, "Text is not a string");
        return WBEM_E_INVALID_PARAMETER;
    }
    if (st == WBEM_S_FALSE)
        text = "";
    st = wmi_object_get_uint64(lc, "MaximumFileSize", &max_size);
    if (WMI_FAILED(st)) {
        log_bad(p, name, "MaximumFileSize is not a uint64");
        return WBEM_E_INVALID_PARAMETER;
    }
    if (st == WBEM_S_FALSE)
        max_size = LF_DEFAULT_MAX_SIZE;
    st = wmi_object_get_boolean(lc, "IsUnicode", &unicode);
    if (WMI_FAILED(st)) {
        log_bad(p, name, "IsUnicode is not a boolean");
        return WBEM_E_INVALID_PARAMETER;
    }
    if (st == WBEM_S_FALSE)
        unicode = false;
    mode_t mode;
    if (!file_mode(lc, &mode)) {
        log_bad(p, name, "FileMode is not an octal file mode such as \"0640\" (0001 to 0777)");
        return WBEM_E_INVALID_PARAMETER;
    }

    struct lf_sink *s = calloc(1, sizeof *s);
    if (s == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    s->base.indicate_to_consumer = lf_indicate;
    s->base.release = lf_release;
    s->prov = p;
    s->max_size = max_size;
    s->unicode = unicode;
    s->name = strdup(name);
    if (s->name == NULL) {
        lf_release(&s->base);
        return WBEM_E_OUT_OF_MEMORY;
    }
    wmi_error err;
    st = wmi_template_compile(text, &s->text, &err);
    if (WMI_FAILED(st)) {
        if (st == WBEM_E_INVALID_PARAMETER)
            log_bad(p, name, "Text is not a valid template");
        lf_release(&s->base);
        return st;
    }
    s->file = file_get(p, filename);
    if (s->file == NULL) {
        lf_release(&s->base);
        return WBEM_E_OUT_OF_MEMORY;
    }
    pthread_mutex_lock(&s->file->lock);
    if (s->file->mode == 0)
        s->file->mode = mode; /* a file shared by consumers: the first one's */
    pthread_mutex_unlock(&s->file->lock);
    *sink = &s->base;
    return WBEM_S_NO_ERROR;
}

static wmi_status
lf_initialize(const struct wmi_host *host, const wmi_object *registration, void **provider)
{
    (void)registration;
    struct lf_provider *p = calloc(1, sizeof *p);
    if (p == NULL)
        return WBEM_E_OUT_OF_MEMORY;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        return WBEM_E_FAILED;
    }
    p->host = host;
    *provider = p;
    return WBEM_S_INITIALIZED;
}

static void
lf_shutdown(void *provider)
{
    struct lf_provider *p = provider;
    if (p == NULL)
        return;
    /* Every sink has been released, so no file is left; be safe anyway. */
    while (p->files != NULL) {
        struct lf_file *f = p->files;
        p->files = f->next;
        file_close(f);
        pthread_mutex_destroy(&f->lock);
        free(f->path);
        free(f);
    }
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static const struct wmi_event_consumer_provider lf_provider_ops = {
    .max_batch = LF_MAX_BATCH,
    .deadline_ms = 0,
    .initialize = lf_initialize,
    .find_consumer = lf_find_consumer,
    .shutdown = lf_shutdown,
};

static const struct wmi_plugin lf_plugin = {
    WMI_PLUGIN_DESCRIPTOR("logfile", LF_VERSION),
    .consumer_provider = &lf_provider_ops,
    .event_provider = NULL,
};

const struct wmi_plugin *
wmi_plugin_entry(uint32_t host_abi_major)
{
    if (host_abi_major != WMI_PLUGIN_ABI_MAJOR)
        return NULL;
    return &lf_plugin;
}
