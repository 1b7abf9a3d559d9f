/*
 * os.c - what the shim asks of macOS: the task's memory and CPU figures,
 * its threads, its command line and executable, raw mappings.
 *
 * Memory comes from the kernel's own accounting of the task
 * (task_info(TASK_VM_INFO)): resident_size is RSS, resident_size_peak its
 * high-water mark, and phys_footprint the figure Activity Monitor and Xcode
 * show (compressed and purgeable memory counted as the system charges it).
 * The resident bytes are split into anonymous ("internal") and file-backed
 * ("external") pages; macOS keeps no separate count of shared memory, so
 * that part is 0.  Threads come from proc_pidinfo.  None of these allocate
 * (task_threads would: it hands back an array of ports).
 *
 * macOS has no /proc: the Linux-only readings (the maps descriptor, the
 * clear_refs reset of the high-water mark) answer "not available", and
 * the core falls back as it does on Linux when they are refused.
 * getrusage's ru_maxrss is in bytes here (kilobytes on Linux).
 */
#include "sys/sys.h"

#include <crt_externs.h>
#include <errno.h>
#include <fcntl.h>
#include <libproc.h>
#include <mach-o/dyld.h>
#include <mach/mach.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* one libc, one table of keys: as pthread_key_create */
int pp_os_key_create(pthread_key_t *key, void (*destructor)(void *))
{
    return pthread_key_create(key, destructor);
}

/* calls from the dylib itself are not interposed: this is the real mmap */
void *pp_os_map_raw(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANON, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void pp_os_unmap_raw(void *p, size_t len)
{
    munmap(p, len);
}

/* counters.c asks for it inside the hooks: not a TLV (sys.h) */
PP_THREAD_BLOCK(pid_t, tid)
#define tid_cache (*tid_at())

pid_t pp_os_created_tid(pthread_t t)
{
    (void)t;
    return -1;
}

int pp_tid_gone(pid_t tid)
{
    (void)tid;
    return -1;
}

pid_t pp_tid(void)
{
    if (PP_UNLIKELY(!tid_cache)) {
        uint64_t id = 0;
        pthread_threadid_np(NULL, &id);
        tid_cache = (pid_t)id;
    }
    return tid_cache;
}

void pp_tid_forget(void)
{
    tid_cache = 0;
}

static int vm_info(task_vm_info_data_t *v)
{
    mach_msg_type_number_t count = TASK_VM_INFO_COUNT;
    return task_info(mach_task_self(), TASK_VM_INFO, (task_info_t)v, &count) == KERN_SUCCESS
               ? 0 : -1;
}

static uint64_t thread_count(void)
{
    struct proc_taskinfo ti;
    if (proc_pidinfo(getpid(), PROC_PIDTASKINFO, 0, &ti, sizeof ti) != (int)sizeof ti)
        return 0;
    return (uint64_t)ti.pti_threadnum;
}

int pp_proc_read(struct pp_proc *out)
{
    task_vm_info_data_t v;
    int saved = errno;
    memset(out, 0, sizeof *out);
    if (vm_info(&v) < 0) {
        errno = saved;
        return -1;
    }
    out->rss = v.resident_size;
    out->hwm = v.resident_size_peak;
    out->rss_anon = v.internal;
    out->rss_file = v.external;
    out->rss_shmem = 0;
    out->threads = thread_count();
    errno = saved;
    return 0;
}

uint64_t pp_proc_rss(void)
{
    mach_task_basic_info_data_t b;
    mach_msg_type_number_t count = MACH_TASK_BASIC_INFO_COUNT;
    if (task_info(mach_task_self(), MACH_TASK_BASIC_INFO, (task_info_t)&b, &count) != KERN_SUCCESS)
        return 0;
    return b.resident_size;
}

int pp_proc_stat(uint64_t *rss, uint64_t *threads)
{
    *rss = pp_proc_rss();
    *threads = thread_count();
    return *rss ? 0 : -1;
}

/* the main thread ending first is a Linux matter (a zombie leader whose
 * other threads run on); macOS ends the process with it */
int pp_proc_main_exited(void)
{
    return 0;
}

/* not asked on macOS: kept descriptors stay below the limit there */
int pp_os_one_thread(void)
{
    return 0;
}

/* no pid namespaces on macOS */
pid_t pp_os_pid_seen(pid_t local, pid_t *ppid)
{
    (void)ppid;
    return local;
}

/* no seccomp on macOS */
int pp_os_filters(int first)
{
    (void)first;
    return 0;
}

int pp_proc_main_exit_code(int *last)
{
    *last = 1;
    return 0;
}

int pp_proc_maps_fd(void)
{
    return -1;
}

int pp_proc_statm(uint64_t *resident, uint64_t *shared)
{
    task_vm_info_data_t v;
    if (vm_info(&v) < 0)
        return -1;
    *resident = v.resident_size;
    *shared = v.external;
    return 0;
}

int pp_proc_hwm_reset(void)
{
    return -1;
}

/* no /proc files to reopen; the thread blocks' pool lock is freed (a
 * thread of the parent may have held it at the fork) */
void pp_proc_after_fork(void)
{
    pp_tkey_after_fork_child();
}

/* No task with a descriptor table of its own (Linux's apart.c): the
 * callers open as before */
int pp_apart_run(int (*fn)(void *), void *arg, int *rc)
{
    (void)fn;
    (void)arg;
    (void)rc;
    return -1;
}

pid_t pp_apart_tid(void)
{
    return 0;
}

unsigned pp_apart_gen(void)
{
    return 0;
}

void pp_apart_mark(int on)
{
    (void)on;
}

void pp_apart_after_fork(void)
{
}

void pp_apart_forbid(void)
{
}

void pp_apart_prime(void)
{
}

int pp_apart_here(void)
{
    return 0;
}

ssize_t pp_apart_read(const char *path, char *buf, size_t cap, int *done)
{
    (void)path;
    (void)buf;
    (void)cap;
    *done = 0;
    return -1;
}

/* nothing kept to open ahead: the figures come from Mach calls */
void pp_proc_prime(void)
{
}

/* the arguments as the kernel keeps them on Linux: NUL-separated */
ssize_t pp_os_cmdline(char *out, size_t cap)
{
    int argc = *_NSGetArgc();
    char **argv = *_NSGetArgv();
    size_t n = 0;
    for (int i = 0; i < argc && argv[i]; i++) {
        size_t len = strlen(argv[i]) + 1;
        if (n + len > cap)
            break;
        memcpy(out + n, argv[i], len);
        n += len;
    }
    return (ssize_t)n;
}

void pp_os_exe(char *out, size_t cap)
{
    uint32_t size = (uint32_t)cap;
    if (_NSGetExecutablePath(out, &size) != 0)
        out[0] = 0;
}

int pp_os_read_only(const void *p)
{
    vm_address_t a = (vm_address_t)(uintptr_t)p;
    vm_size_t size = 0;
    vm_region_basic_info_data_64_t info;
    mach_msg_type_number_t count = VM_REGION_BASIC_INFO_COUNT_64;
    mach_port_t object = MACH_PORT_NULL;
    if (vm_region_64(mach_task_self(), &a, &size, VM_REGION_BASIC_INFO_64,
                       (vm_region_info_t)&info, &count, &object) != KERN_SUCCESS ||
        a > (vm_address_t)(uintptr_t)p)
        return 0;
    return !(info.protection & VM_PROT_WRITE);
}

/* ---- memory limits ----------------------------------------------------------- */

/* macOS has no cgroups: no limit to watch (the kernel's memorystatus
 * limits are not readable by the process itself). */
int pp_cgroup_memory(uint64_t *limit, uint64_t *current)
{
    (void)limit;
    (void)current;
    return 0;
}

int pp_cgroup_counts(struct pp_cgroup_counts *c)
{
    memset(c, 0, sizeof *c);
    return 0;
}

/* F_PREALLOCATE: blocks past the physical end of the file, the size left
 * as it is (what fallocate's KEEP_SIZE does on Linux).  The room wanted is
 * what [at, at+n) needs beyond the blocks the file owns (st_blocks).  A
 * filesystem that refuses says EOPNOTSUPP: the timeline then writes as
 * without a reservation.  Not run on a Mac. */
int pp_os_reserve(int fd, uint64_t at, uint64_t n)
{
    int saved = errno, rc = 0;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = errno;
    } else {
        uint64_t owned = (uint64_t)st.st_blocks * 512;
        if (at + n > owned) {
            fstore_t fs = {F_ALLOCATEALL, F_PEOFPOSMODE, 0, (off_t)(at + n - owned), 0};
            if (fcntl(fd, F_PREALLOCATE, &fs) != 0)
                rc = errno == ENOSPC || errno == EDQUOT || errno == EFBIG ? errno : EOPNOTSUPP;
        }
    }
    errno = saved;
    return rc;
}
