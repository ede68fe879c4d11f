/*
 * logical_disk.c - the Win32_LogicalDisk instance provider: one instance
 * per mounted filesystem that holds data, from /proc/self/mounts and
 * statvfs(3).  DeviceID (the key) is the mount point: Linux has no drive
 * letters, and the mount point is what an administrator names.
 *
 * Left out, on purpose: kernel pseudo filesystems (proc, sysfs, cgroup,
 * devpts, debugfs, ...), memory-backed ones (tmpfs, ramfs: /run, /dev/shm
 * and every container's private mounts would drown the real disks), and
 * squashfs images (snap packages mount dozens).  A mount point mounted
 * over several times is listed once, as the filesystem that is visible.
 *
 * DriveType follows Win32_LogicalDisk: 4 (Network Drive) for nfs, cifs,
 * smb3, ceph, glusterfs, 9p, sshfs, ...; 5 (Compact Disc) for iso9660 and
 * udf; 2 (Removable Disk) when the block device's sysfs "removable" flag
 * is set; 6 (RAM Disk) for zram and brd devices; else 3 (Local Disk).
 *
 * statvfs on a dead network mount blocks, and mounts are read on the loop
 * thread: for network filesystems it runs on a helper thread and is given
 * up after STATVFS_TIMEOUT_MS (the disk is then left out, with a log
 * line); while that call is still stuck, the mount is skipped at once by
 * every state of the env (env->statvfs).
 */
#include <dirent.h>
#include <limits.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "daemon/providers/providers.h"
#include "daemon/wmieventd.h"
#include "daemon/log.h"

static const char *const skipped_types[] = {
    "proc", "sysfs", "cgroup", "cgroup2", "devpts", "devtmpfs", "tmpfs", "ramfs", "securityfs", "debugfs",
    "tracefs", "pstore", "bpf", "mqueue", "hugetlbfs", "configfs", "fusectl", "binfmt_misc", "autofs",
    "rpc_pipefs", "nsfs", "efivarfs", "selinuxfs", "squashfs", "nfsd", "fuse.gvfsd-fuse", "fuse.portal",
    "fuse.lxcfs", "sockfs", "pipefs", "cpuset", "rootfs", "none",
};

static const char *const network_types[] = {
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "ceph", "glusterfs", "fuse.glusterfs",
    "9p", "fuse.sshfs", "sshfs", "fuse.s3fs", "fuse.rclone", "lustre", "gfs2", "ocfs2", "davfs", "fuse.davfs",
};

static bool
in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* Decode the \xHH escapes udev writes in /dev/disk/by-label names. */
static void
unescape_udev(const char *in, char *out, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; in[i] != '\0' && o + 1 < len; i++) {
        if (in[i] == '\\' && in[i + 1] == 'x' && in[i + 2] != '\0' && in[i + 3] != '\0') {
            char hex[3] = {in[i + 2], in[i + 3], '\0'};
            char *end;
            long v = strtol(hex, &end, 16);
            if (*end == '\0') {
                out[o++] = (char)v;
                i += 3;
                continue;
            }
        }
        out[o++] = in[i];
    }
    out[o] = '\0';
}

/* The name in /dev/disk/<dir> that links to @device (a resolved path). */
static bool
disk_alias(const char *dir, const char *device, char *out, size_t len)
{
    char path[PATH_MAX], real[PATH_MAX];
    DIR *d = opendir(dir);
    if (d == NULL)
        return false;
    struct dirent *de;
    bool found = false;
    while (!found && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (realpath(path, real) != NULL && strcmp(real, device) == 0) {
            unescape_udev(de->d_name, out, len);
            found = true;
        }
    }
    closedir(d);
    return found;
}

/* sysfs says the block device (or the disk of a partition) is removable. */
static bool
removable(const char *device)
{
    char path[PATH_MAX + 32], real[PATH_MAX], buf[16];
    const char *base = strrchr(device, '/');
    if (base == NULL)
        return false;
    snprintf(path, sizeof path, "/sys/class/block/%s", base + 1);
    if (realpath(path, real) == NULL)
        return false;
    snprintf(path, sizeof path, "%s/partition", real);
    if (access(path, F_OK) == 0) {
        char *slash = strrchr(real, '/');
        if (slash != NULL)
            *slash = '\0';
    }
    snprintf(path, sizeof path, "%s/removable", real);
    return instance_read_file(path, buf, sizeof buf) > 0 && buf[0] == '1';
}

struct mnt {
    char *dir, *fsname, *type;
    bool ro;
};

/* ====================================================================
 * statvfs with a bound, for network mounts
 * ==================================================================== */

#define STATVFS_TIMEOUT_MS 1000
#define MAX_STUCK 16

struct statvfs_call {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *path;
    struct statvfs sv;
    int rc;
    bool done;
    bool abandoned;              /* the caller gave up and nobody keeps it: the thread frees */
};

/* Calls still stuck, by mount point (loop thread only); an entry is
 * dropped once its call has returned. */
struct wmid_statvfs_calls {
    struct statvfs_call *stuck[MAX_STUCK];
};

static void
call_free(struct statvfs_call *c)
{
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c->path);
    free(c);
}

static void *
statvfs_thread(void *arg)
{
    struct statvfs_call *c = arg;
    struct statvfs sv;
    int rc = statvfs(c->path, &sv);
    pthread_mutex_lock(&c->mu);
    c->sv = sv;
    c->rc = rc;
    c->done = true;
    bool abandoned = c->abandoned;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (abandoned)
        call_free(c);
    return NULL;
}

struct wmid_statvfs_calls *
statvfs_calls_new(void)
{
    return calloc(1, sizeof(struct wmid_statvfs_calls));
}

/* The calls still stuck are left to their threads, which free them
 * whenever they return. */
void
statvfs_calls_free(struct wmid_statvfs_calls *calls)
{
    if (calls == NULL)
        return;
    for (size_t i = 0; i < MAX_STUCK; i++) {
        struct statvfs_call *c = calls->stuck[i];
        if (c == NULL)
            continue;
        pthread_mutex_lock(&c->mu);
        bool done = c->done;
        c->abandoned = !done;
        pthread_mutex_unlock(&c->mu);
        if (done)
            call_free(c);
    }
    free(calls);
}

/* Is a call on @dir still stuck?  Entries whose call has since returned
 * are forgotten on the way. */
static bool
is_stuck(struct wmid_statvfs_calls *calls, const char *dir)
{
    bool found = false;
    for (size_t i = 0; calls != NULL && i < MAX_STUCK; i++) {
        struct statvfs_call *c = calls->stuck[i];
        if (c == NULL)
            continue;
        pthread_mutex_lock(&c->mu);
        bool done = c->done;
        pthread_mutex_unlock(&c->mu);
        if (done) {
            call_free(c);
            calls->stuck[i] = NULL;
        } else if (strcmp(c->path, dir) == 0) {
            found = true;
        }
    }
    return found;
}

static int
statvfs_bounded(struct wmid_statvfs_calls *calls, const char *dir, struct statvfs *out)
{
    if (is_stuck(calls, dir))
        return -1;
    struct statvfs_call *c = calloc(1, sizeof *c);
    if (c == NULL || (c->path = strdup(dir)) == NULL) {
        free(c);
        return -1;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    int err = pthread_create(&th, &attr, statvfs_thread, c);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        call_free(c);
        return -1;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += STATVFS_TIMEOUT_MS / 1000;
    deadline.tv_nsec += (long)(STATVFS_TIMEOUT_MS % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mu);
    int rc = 0;
    while (!c->done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&c->cv, &c->mu, &deadline);
    if (!c->done) {
        /* Keep the call in the stuck table, or, when it is full, let the
         * thread free it whenever it returns. */
        size_t i;
        for (i = 0; calls != NULL && i < MAX_STUCK && calls->stuck[i] != NULL; i++)
            ;
        if (calls != NULL && i < MAX_STUCK)
            calls->stuck[i] = c;
        else
            c->abandoned = true;
        pthread_mutex_unlock(&c->mu);
        log_warnx("Win32_LogicalDisk: statvfs(%s) did not answer within %d ms (a dead network mount?); "
                  "left out until it does",
                  dir, STATVFS_TIMEOUT_MS);
        return -1;
    }
    *out = c->sv;
    int result = c->rc;
    pthread_mutex_unlock(&c->mu);
    call_free(c);
    return result;
}

static wmi_object *
make_disk(const wmi_schema *schema, struct wmid_host_facts *facts, const struct mnt *m, const struct statvfs *sv)
{
    wmi_object *o;
    if (WMI_FAILED(wmi_object_new(schema, "Win32_LogicalDisk", &o)))
        return NULL;
    char device[PATH_MAX], alias[256];
    bool is_dev = m->fsname[0] == '/' && realpath(m->fsname, device) != NULL && strncmp(device, "/dev/", 5) == 0;
    uint32_t type = 3;
    const char *desc = "Local Fixed Disk";
    if (in_list(m->type, network_types, sizeof network_types / sizeof network_types[0])) {
        type = 4;
        desc = "Network Connection";
    } else if (strcmp(m->type, "iso9660") == 0 || strcmp(m->type, "udf") == 0) {
        type = 5;
        desc = "CD-ROM Disc";
    } else if (is_dev && (strncmp(device, "/dev/zram", 9) == 0 || strncmp(device, "/dev/ram", 8) == 0)) {
        type = 6;
        desc = "RAM Disk";
    } else if (is_dev && removable(device)) {
        type = 2;
        desc = "Removable Disk";
    }
    wmi_object_put_string(o, "DeviceID", m->dir);
    wmi_object_put_string(o, "Name", m->dir);
    wmi_object_put_string(o, "Caption", m->dir);
    wmi_object_put_string(o, "Description", desc);
    wmi_object_put_string(o, "CreationClassName", "Win32_LogicalDisk");
    wmi_object_put_string(o, "SystemCreationClassName", "Win32_ComputerSystem");
    wmi_object_put_string(o, "SystemName", instance_host_name(facts));
    wmi_object_put_string(o, "FileSystem", m->type);
    wmi_object_put_uint64(o, "DriveType", type);
    if (type == 3)
        wmi_object_put_uint64(o, "MediaType", 12); /* Fixed hard disk media */
    else if (type == 2)
        wmi_object_put_uint64(o, "MediaType", 11); /* Removable media other than floppy */
    if (type == 4)
        wmi_object_put_string(o, "ProviderName", m->fsname);
    wmi_object_put_uint64(o, "Access", m->ro ? 1 : 3); /* Readable, Read/Write */
    uint64_t frsize = sv->f_frsize ? sv->f_frsize : sv->f_bsize;
    wmi_object_put_uint64(o, "BlockSize", frsize);
    wmi_object_put_uint64(o, "NumberOfBlocks", (uint64_t)sv->f_blocks);
    wmi_object_put_uint64(o, "Size", (uint64_t)sv->f_blocks * frsize);
    wmi_object_put_uint64(o, "FreeSpace", (uint64_t)sv->f_bavail * frsize);
    wmi_object_put_uint64(o, "MaximumComponentLength", (uint64_t)sv->f_namemax);
    if (is_dev && disk_alias("/dev/disk/by-label", device, alias, sizeof alias))
        wmi_object_put_string(o, "VolumeName", alias);
    if (is_dev && disk_alias("/dev/disk/by-uuid", device, alias, sizeof alias))
        wmi_object_put_string(o, "VolumeSerialNumber", alias);
    return o;
}

/* ====================================================================
 * The provider
 * ==================================================================== */

struct ld_state {
    const wmi_schema *schema;
    struct wmid_statvfs_calls *calls; /* its env's (NULL: none) */
    struct wmid_host_facts *facts;    /* its env's */
};

static void *
ld_open(struct wmid_instance_env *env, const wmi_schema *schema)
{
    struct ld_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return NULL;
    st->schema = schema;
    st->calls = env->statvfs;
    st->facts = &env->facts;
    return st;
}

static void
ld_close(void *state)
{
    free(state);
}

static wmi_status
ld_enumerate(void *state, wmid_instance_fn fn, void *arg)
{
    const struct ld_state *st = state;
    const wmi_schema *schema = st->schema;
    FILE *f = setmntent("/proc/self/mounts", "re");
    if (f == NULL)
        return WBEM_E_PROVIDER_FAILURE;
    struct mnt *ms = NULL;
    size_t n = 0, cap = 0;
    struct mntent me;
    char buf[4096];
    while (getmntent_r(f, &me, buf, sizeof buf) != NULL) {
        if (in_list(me.mnt_type, skipped_types, sizeof skipped_types / sizeof skipped_types[0]))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct mnt *nm = realloc(ms, ncap * sizeof *nm);
            if (nm == NULL)
                break;
            ms = nm;
            cap = ncap;
        }
        ms[n].dir = strdup(me.mnt_dir);
        ms[n].fsname = strdup(me.mnt_fsname);
        ms[n].type = strdup(me.mnt_type);
        ms[n].ro = hasmntopt(&me, "ro") != NULL;
        if (ms[n].dir == NULL || ms[n].fsname == NULL || ms[n].type == NULL) {
            free(ms[n].dir);
            free(ms[n].fsname);
            free(ms[n].type);
            break;
        }
        n++;
    }
    endmntent(f);
    for (size_t i = 0; i < n; i++) {
        bool hidden = false;
        for (size_t j = i + 1; j < n && !hidden; j++)
            hidden = strcmp(ms[i].dir, ms[j].dir) == 0; /* mounted over later */
        struct statvfs sv;
        bool network = in_list(ms[i].type, network_types, sizeof network_types / sizeof network_types[0]);
        int rc = hidden ? -1 : network ? statvfs_bounded(st->calls, ms[i].dir, &sv) : statvfs(ms[i].dir, &sv);
        if (rc == 0 && sv.f_blocks > 0) {
            wmi_object *o = make_disk(schema, st->facts, &ms[i], &sv);
            if (o != NULL) {
                fn(o, arg);
                wmi_object_unref(o);
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(ms[i].dir);
        free(ms[i].fsname);
        free(ms[i].type);
    }
    free(ms);
    return WBEM_S_NO_ERROR;
}

const struct wmid_instance_provider wmid_ip_logical_disk = {
    .name = "Win32_LogicalDisk (mounts)",
    .class_name = "Win32_LogicalDisk",
    .push = 0,
    .open = ld_open,
    .close = ld_close,
    .enumerate = ld_enumerate,
};
