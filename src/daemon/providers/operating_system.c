/*
 * operating_system.c - the Win32_OperatingSystem instance provider: the
 * one instance (a [singleton], Win32_OperatingSystem=@) from
 * /proc/meminfo, /proc/stat (btime), uname(2), /etc/os-release and the
 * number of processes in /proc.  Memory sizes are in KB, as WMI's.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/utsname.h>

#include "daemon/providers/providers.h"

/* A "Key:   123 kB" value of /proc/meminfo, in KB; -1 when absent. */
static long long
meminfo(const char *buf, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = buf; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, n) == 0 && p[n] == ':')
            return strtoll(p + n + 1, NULL, 10);
    }
    return -1;
}

static uint32_t
count_processes(void)
{
    DIR *d = opendir("/proc");
    uint32_t n = 0;
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL)
        if (de->d_name[0] >= '1' && de->d_name[0] <= '9')
            n++;
    if (d != NULL)
        closedir(d);
    return n;
}

struct os_state {
    const wmi_schema *schema;
    struct wmid_host_facts *facts; /* its env's */
};

static void *
os_open(struct wmid_instance_env *env, const wmi_schema *schema)
{
    struct os_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->schema = schema;
    s->facts = &env->facts;
    return s;
}

static void
os_close(void *state)
{
    free(state);
}

static wmi_status
os_enumerate(void *state, wmid_instance_fn fn, void *arg)
{
    struct os_state *s = state;
    const wmi_schema *schema = s->schema;
    wmi_object *o;
    if (WMI_FAILED(wmi_object_new(schema, "Win32_OperatingSystem", &o)))
        return WBEM_E_OUT_OF_MEMORY;
    struct utsname u;
    const char *caption = instance_os_caption(s->facts);
    char buf[8192];
    wmi_object_put_string(o, "Caption", caption);
    wmi_object_put_string(o, "Name", caption);
    wmi_object_put_string(o, "CreationClassName", "Win32_OperatingSystem");
    wmi_object_put_string(o, "CSCreationClassName", "Win32_ComputerSystem");
    wmi_object_put_string(o, "CSName", instance_host_name(s->facts));
    wmi_object_put_uint64(o, "OSType", 36); /* CIM_OperatingSystem.OSType: LINUX */
    wmi_object_put_boolean(o, "Distributed", false);
    wmi_object_put_boolean(o, "Primary", true);
    wmi_object_put_string(o, "SystemDrive", "/");
    if (uname(&u) == 0) {
        wmi_object_put_string(o, "Version", u.release);
        wmi_object_put_string(o, "BuildNumber", u.version);
        wmi_object_put_string(o, "OSArchitecture",
                              strstr(u.machine, "64") != NULL || strcmp(u.machine, "s390x") == 0 ? "64-bit"
                                                                                                  : "32-bit");
    }
    if (instance_read_file("/proc/meminfo", buf, sizeof buf) > 0) {
        long long total = meminfo(buf, "MemTotal"), avail = meminfo(buf, "MemAvailable");
        long long stotal = meminfo(buf, "SwapTotal"), sfree = meminfo(buf, "SwapFree");
        if (avail < 0)
            avail = meminfo(buf, "MemFree");
        if (total >= 0)
            wmi_object_put_uint64(o, "TotalVisibleMemorySize", (uint64_t)total);
        if (avail >= 0)
            wmi_object_put_uint64(o, "FreePhysicalMemory", (uint64_t)avail);
        if (stotal >= 0) {
            wmi_object_put_uint64(o, "SizeStoredInPagingFiles", (uint64_t)stotal);
            if (total >= 0)
                wmi_object_put_uint64(o, "TotalVirtualMemorySize", (uint64_t)(total + stotal));
        }
        if (sfree >= 0) {
            wmi_object_put_uint64(o, "FreeSpaceInPagingFiles", (uint64_t)sfree);
            if (avail >= 0)
                wmi_object_put_uint64(o, "FreeVirtualMemory", (uint64_t)(avail + sfree));
        }
    }
    int64_t boot = instance_boot_usec(s->facts);
    if (boot > 0)
        instance_put_datetime(o, "LastBootUpTime", boot);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    /* Whole seconds: a LocalDateTime that moves every microsecond would make
     * every poll a modification for no one's benefit. */
    instance_put_datetime(o, "LocalDateTime", (int64_t)tv.tv_sec * 1000000);
    wmi_object_put_sint64(o, "CurrentTimeZone", instance_utc_offset(tv.tv_sec));
    wmi_object_put_uint64(o, "NumberOfProcesses", count_processes());
    fn(o, arg);
    wmi_object_unref(o);
    return WBEM_S_NO_ERROR;
}

const struct wmid_instance_provider wmid_ip_operating_system = {
    .name = "Win32_OperatingSystem",
    .class_name = "Win32_OperatingSystem",
    .push = 0,
    .open = os_open,
    .close = os_close,
    .enumerate = os_enumerate,
};
