/*
 * os_linux.c - everything the shim asks of the kernel, behind one small
 * interface (clocks, raw mappings, /proc/self/status, getrusage, write).
 *
 * A port to another system is a new file beside this one.  Nothing here
 * goes through stdio or the allocator: /proc/self/status is opened once and
 * read with pread into a static buffer (fscanf "could potentially deadlock
 * us", as heaptrack notes), and the shim's own memory comes straight from
 * the mmap system call so that it never reaches the hooks.
 */
#define _GNU_SOURCE
#include "sys/sys.h"

#include <link.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <linux/seccomp.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* A key's value lives in a slot of the thread's descriptor, by number, and
 * a namespace's libc (dlmopen) keeps its keys' values in the same slots:
 * CPython's first key there is 0, and found the shim's value in it
 * (PyGILState_Ensure crashed).  The numbers below KEY_AT are held while the
 * shim's key is made, then given back, so that the program's keys and a
 * namespace's have them, as bare; past 31 a key's slot is allocated on its
 * first use, so the shim's stay below 32.  A slot also holds the sequence
 * number of the key that set it, which a libc compares with its own key's
 * before it believes or destroys a value: each key is made, deleted and
 * made again, so that its number there is 3, where a namespace's libc
 * gives its own first key of that number 1 (one it makes past its thirtieth
 * never gets the shim's value), and the namespace object's key (ns/nsshim.c,
 * made the same way) has the shim's counters key's. */
#define KEY_AT 30

int pp_os_key_create(pthread_key_t *key, void (*destructor)(void *))
{
    pthread_key_t held[KEY_AT], k;
    int n = 0;
    while (n < KEY_AT && pthread_key_create(&k, NULL) == 0) {
        if (k >= KEY_AT) {
            pthread_key_delete(k);
            break;
        }
        held[n++] = k;
    }
    int rc = pthread_key_create(key, destructor);
    if (rc == 0 && pthread_key_delete(*key) == 0)
        rc = pthread_key_create(key, destructor);
    while (n > 0)
        pthread_key_delete(held[--n]);
    return rc;
}


/* The shim's own opens (sys.h): the system call, with open's mode argument
 * read only when the call has one, as the C library reads it */
int pp_os_open_raw(int dirfd, const char *path, int flags, mode_t mode)
{
    return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

int pp_os_open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return pp_os_open_raw(AT_FDCWD, path, flags, mode);
}

/* The shim's own memory comes straight from the mmap system call, so that
 * it never reaches the shim's own mmap hook (sys/posix.c keeps the list). */
void *pp_os_map_raw(size_t len)
{
    long r = syscall(SYS_mmap, 0L, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1L, 0L);
    return r < 0 && r > -4096 ? NULL : (void *)r;
}

void pp_os_unmap_raw(void *p, size_t len)
{
    syscall(SYS_munmap, p, len);
}

/* The main thread's stack: from the top (startstack, field 28 of
 * /proc/self/stat, read once) down to the lowest page mapped.  The stack
 * only grows down, so the lowest page found is remembered.  A full look
 * checks whether the mapping has grown below it (a page, then 64 KiB at a
 * time); a quick one (probes) trusts the remembered page, lowered to the
 * caller's own frame when the caller is the main thread, so that it costs
 * one mincore call: growth deeper than that is found by the next full look
 * (the sampler's breakdown, at most PERFPROBE_PARTS_STRIDE samples later). */
static struct pp_fd stat_fd;
static pid_t own_pid(void);

uint64_t pp_os_resident_main_stack(int quick)
{
    static uintptr_t top, low;
    unsigned char vec[1];
    if (!top) {
        char text[1024];
        ssize_t n = pp_os_read_kept(&stat_fd, "/proc/self/stat", text, sizeof text);
        if (n <= 0)
            return 0;
        const char *p = pp_stat_field(text, (size_t)n, 28);
        uintptr_t t = 0;
        while (p && *p >= '0' && *p <= '9')
            t = t * 10 + (uintptr_t)(*p++ - '0');
        if (!t)
            return 0;
        top = (t + 4096) & ~(uintptr_t)4095;    /* the page above startstack */
        low = top - 4096;
    }
    if (quick) {
        uintptr_t here = (uintptr_t)&vec & ~(uintptr_t)4095;
        if (pp_tid() == own_pid() && here < low && here > top - (64u << 20))
            low = here;
        return pp_os_resident(low, top - low);
    }
    /* grow `low` down while the page below is mapped: one failing call
     * when the stack has not grown, 64 KiB steps when it has */
    unsigned char chunk[16];
    while (low > 65536 && mincore((void *)(low - 4096), 4096, vec) == 0) {
        low -= 4096;
        while (low > 65536 && mincore((void *)(low - 65536), 65536, chunk) == 0)
            low -= 65536;
    }
    return pp_os_resident(low, top - low);
}

static __thread pid_t tid_cache PP_TLS;
static pid_t pid_cache;

/* glibc keeps a thread's id in its thread block (struct pthread), and
 * clone writes it there (CLONE_PARENT_SETTID) before pthread_create
 * returns: read in place, at the offset found in this thread's own block
 * (posix.c) */
pid_t pp_os_created_tid(pthread_t t)
{
    const int32_t *it = (const int32_t *)t;
    int at = pp_os_tid_offset(0);
    if (!it || at < 0)
        return -1;
    return it[at / 4] > 0 ? it[at / 4] : -1;
}

int pp_tid_gone(pid_t tid)
{
    int saved = errno;
    int gone = tid <= 0 || (syscall(SYS_tgkill, own_pid(), tid, 0) != 0 && errno == ESRCH);
    errno = saved;
    return gone;
}

pid_t pp_tid(void)
{
    if (PP_UNLIKELY(!tid_cache))
        tid_cache = gettid();
    return tid_cache;
}

/* the process's id, read once (a probe asks at every breakdown) */
static pid_t own_pid(void)
{
    if (PP_UNLIKELY(!pid_cache))
        pid_cache = getpid();
    return pid_cache;
}

/* in a forked child, from its one thread */
void pp_tid_forget(void)
{
    tid_cache = 0;
    pid_cache = 0;
}

/* LEN bytes of this process's memory at SRC into DST, through the kernel
 * (process_vm_readv on our own pid): an address that is not mapped, or not
 * readable, gives an error instead of a fault, so that memory another
 * thread is changing or freeing can be read.  0 when all was read, else an
 * errno (EFAULT: not all of it is mapped; ENOSYS, EPERM: the call is
 * refused, a seccomp filter).  Leaves errno as it was. */
ssize_t pp_os_read_own(void *dst, uintptr_t addr, size_t len)
{
    struct iovec l = {dst, len}, r = {(void *)addr, len};
    return syscall(SYS_process_vm_readv, (long)own_pid(), &l, 1L, &r, 1L, 0L);
}

static _Atomic int peek_refused;

int pp_os_peek(void *dst, uintptr_t src, size_t len)
{
    if (len == 0)
        return 0;
    int saved = errno;
    ssize_t got = pp_os_read_own(dst, src, len);
    int err = got == (ssize_t)len ? 0 : got < 0 ? errno : EFAULT;
    if (err == EPERM || err == EACCES || err == ENOSYS) {
        int none = 0;
        atomic_compare_exchange_strong(&peek_refused, &none, err);
    }
    errno = saved;
    return err;
}

int pp_os_peek_refused(void)
{
    return atomic_load(&peek_refused);
}

/* Read a file (/proc, the cgroup's) from offset 0 into buf (NUL-terminated),
 * through the kept descriptor f when there is one.  Returns the length, or
 * -1.  The
 * descriptors are first opened by the program's thread, before the
 * sampler runs (the first sample); one the program closed since is not
 * opened again by the sampler thread, whose reads are then made apart
 * (apart.c). */
ssize_t pp_os_read_kept(struct pp_fd *f, const char *path, char *buf, size_t cap)
{
    int saved = errno;
    ssize_t n = -1;
    if (f->fd >= 0 && pp_fd_ok(f))
        n = pread(f->fd, buf, cap - 1, 0);
    int done = 0;
    if (n <= 0 && pp_apart_here())
        n = pp_apart_read(path, buf, cap - 1, &done);
    if (n <= 0 && !done) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            n = pread(fd, buf, cap - 1, 0);
            if (f->fd < 0 && pp_fd_can_keep())
                pp_fd_adopt(f, fd);      /* keeps it, high, or closes it */
            else
                close(fd);
        }
    }
    errno = saved;
    if (n <= 0)
        return -1;
    buf[n] = 0;
    return n;
}

/* ---- /proc/self/status, stat, statm --------------------------------------- */

const char *pp_stat_field(const char *text, size_t n, int k)
{
    const char *end = text + n, *p = NULL;
    for (const char *q = text; q < end; q++)
        if (*q == ')')
            p = q;
    if (!p || k < 3)
        return NULL;
    p++;                                        /* " S ppid ...": field 3 next */
    for (int field = 2; field < k; field++) {
        if (p >= end || *p != ' ')
            return NULL;
        p++;
        if (field + 1 < k)
            while (p < end && *p != ' ')
                p++;
    }
    return p < end ? p : NULL;
}

/* "/proc/self" is resolved when a file is opened: after fork the child
 * forgets the parent's descriptors (closing them: they are still ours). */
static struct pp_fd status_fd = {-1, 0, 0}, stat_fd = {-1, 0, 0}, statm_fd = {-1, 0, 0};
static struct pp_fd clear_refs_fd = {-1, 0, 0};
static int clear_refs_denied;
static pp_lock_t status_lock = PP_LOCK_INIT;

/* "VmRSS:\t   1234 kB" -> bytes; 0 when the field is missing */
static uint64_t field_kb(const char *text, const char *name)
{
    const char *p = strstr(text, name);
    uint64_t v = 0;
    if (!p)
        return 0;
    p += strlen(name);
    while (*p == ' ' || *p == '\t')
        p++;
    while (*p >= '0' && *p <= '9')
        v = v * 10 + (uint64_t)(*p++ - '0');
    return v * 1024;
}

int pp_proc_read(struct pp_proc *out)
{
    static char text[4096];
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (pp_trylock(&status_lock) != 0)
        return -1;                      /* another thread is reading it */
    if (pp_os_read_kept(&status_fd, "/proc/self/status", text, sizeof text) > 0 &&
        strncmp(text, "Name:", 5) == 0 && strstr(text, "VmRSS:")) {
        out->rss = field_kb(text, "\nVmRSS:");
        out->hwm = field_kb(text, "\nVmHWM:");
        out->rss_anon = field_kb(text, "\nRssAnon:");
        out->rss_file = field_kb(text, "\nRssFile:");
        out->rss_shmem = field_kb(text, "\nRssShmem:");
        uint64_t th = field_kb(text, "\nThreads:") / 1024;
        out->threads = th;
        rc = 0;
    }
    pp_unlock(&status_lock);
    return rc;
}

static uint64_t page_size(void)
{
    static uint64_t page;
    if (!page)
        page = (uint64_t)sysconf(_SC_PAGESIZE);
    return page;
}

/* Resident bytes from /proc/self/statm: a fraction of the cost of status. */
uint64_t pp_proc_rss(void)
{
    uint64_t rss, shared;
    return pp_proc_statm(&rss, &shared) == 0 ? rss : 0;
}

/* statm's resident and shared fields (shared = file-backed + shared-memory
 * pages), in bytes */
int pp_proc_statm(uint64_t *resident, uint64_t *shared)
{
    char text[128];
    uint64_t pages = 0, sh = 0;
    *resident = *shared = 0;
    if (pp_os_read_kept(&statm_fd, "/proc/self/statm", text, sizeof text) <= 0)
        return -1;
    const char *p = text;
    while (*p >= '0' && *p <= '9')           /* size */
        p++;
    if (*p++ != ' ')
        return -1;
    while (*p >= '0' && *p <= '9')
        pages = pages * 10 + (uint64_t)(*p++ - '0');
    if (*p++ != ' ')
        return -1;
    while (*p >= '0' && *p <= '9')
        sh = sh * 10 + (uint64_t)(*p++ - '0');
    *resident = pages * page_size();
    *shared = sh * page_size();
    return 0;
}

/* RSS and the number of threads from /proc/self/stat (fields 20 and 24),
 * one read per sample: the sampler needs to know when it is the last
 * thread alive.  Field 3 is the state of the main thread (the thread group
 * leader): Z once it has called pthread_exit while others run.  Field 52
 * (Linux 3.5+) is then the status it ended with, as wait gives it: 0 from
 * pthread_exit, which ends the thread with the system call's 0. */
static _Atomic char main_state;
static _Atomic int main_code, main_outlived;

int pp_proc_main_exited(void)
{
    char c = atomic_load(&main_state);
    return c == 'Z' || c == 'X';
}

int pp_proc_main_exit_code(int *last)
{
    *last = !atomic_load(&main_outlived);
    return pp_proc_main_exited() ? atomic_load(&main_code) : 0;
}

static uint64_t decimal(const char *p)
{
    uint64_t v = 0;
    while (p && *p >= '0' && *p <= '9')
        v = v * 10 + (uint64_t)(*p++ - '0');
    return v;
}

int pp_proc_stat(uint64_t *rss, uint64_t *threads)
{
    char text[1024];
    ssize_t n = pp_os_read_kept(&stat_fd, "/proc/self/stat", text, sizeof text);
    if (n <= 0)
        return -1;
    const char *state = pp_stat_field(text, (size_t)n, 3);
    if (state && *state)
        atomic_store(&main_state, *state);
    const char *rss_at = pp_stat_field(text, (size_t)n, 24);
    if (!rss_at || !*rss_at)
        return -1;                             /* cut short */
    *threads = decimal(pp_stat_field(text, (size_t)n, 20));
    *rss = decimal(rss_at) * page_size();
    if (state && (*state == 'Z' || *state == 'X')) {
        atomic_store(&main_code, (int)decimal(pp_stat_field(text, (size_t)n, 52)));
        if (*threads > 2)               /* others of the program's run on */
            atomic_store(&main_outlived, 1);
    }
    return 0;
}

/* Reset the kernel's RSS high-water mark to the current RSS (write "5" to
 * /proc/self/clear_refs, Linux 4.0+).  Returns -1 where not permitted. */
int pp_proc_hwm_reset(void)
{
    int saved = errno, rc = -1;
    if (clear_refs_denied)
        return -1;
    if (clear_refs_fd.fd < 0 || !pp_fd_ok(&clear_refs_fd)) {
        int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            clear_refs_denied = errno == EACCES || errno == EPERM || errno == ENOENT;
            errno = saved;
            return -1;
        }
        if (pp_fd_can_keep())
            pp_fd_adopt(&clear_refs_fd, fd);
        if (clear_refs_fd.fd < 0) {
            rc = write(fd, "5", 1) == 1 ? 0 : -1;
            close(fd);
            errno = saved;
            return rc;
        }
    }
    if (write(clear_refs_fd.fd, "5", 1) == 1)
        rc = 0;
    errno = saved;
    return rc;
}

/* /proc/self/maps through a kept descriptor, rewound; -1 when none can be
 * kept (the caller then opens and closes one itself). */
static struct pp_fd maps_fd = {-1, 0, 0};

int pp_proc_maps_fd(void)
{
    if (maps_fd.fd >= 0 && pp_fd_ok(&maps_fd))
        return lseek(maps_fd.fd, 0, SEEK_SET) == 0 ? maps_fd.fd : -1;
    if (!pp_fd_can_keep())
        return -1;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    return fd >= 0 && pp_fd_adopt(&maps_fd, fd) == 0 ? maps_fd.fd : -1;
}

void pp_proc_prime(void)
{
    char text[4096];
    pp_os_read_kept(&stat_fd, "/proc/self/stat", text, sizeof text);
    pp_os_read_kept(&statm_fd, "/proc/self/statm", text, sizeof text);
    pp_os_read_kept(&status_fd, "/proc/self/status", text, sizeof text);
}

void pp_proc_after_fork(void)
{
    pp_fd_drop(&maps_fd);
    atomic_store(&main_state, 0);
    atomic_store(&main_code, 0);        /* the child's main thread is its own */
    atomic_store(&main_outlived, 0);
    pp_fd_drop(&status_fd);
    pp_fd_drop(&stat_fd);
    pp_fd_drop(&statm_fd);
    pp_fd_drop(&clear_refs_fd);
    clear_refs_denied = 0;
    pp_lock_reset(&status_lock);
}

/* ---- the program itself ---------------------------------------------------- */

ssize_t pp_os_cmdline(char *out, size_t cap)
{
    int cf = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    ssize_t n = cf >= 0 ? read(cf, out, cap) : -1;
    if (cf >= 0)
        close(cf);
    return n;
}

void pp_os_exe(char *out, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", out, cap - 1);
    out[n > 0 ? n : 0] = 0;
}

/* The loaded segment that holds an address, from the program headers
 * (dladdr would search the object's symbols too): whether it is
 * writable, and the object's load bias and name. */
struct segment {
    uintptr_t addr, base;
    const char *name;
    int found, ro;
};

static int find_segment(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct segment *q = arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && q->addr >= lo && q->addr - lo < ph->p_memsz) {
            q->found = 1;
            q->ro = !(ph->p_flags & PF_W);
            q->base = info->dlpi_addr;
            q->name = info->dlpi_name ? info->dlpi_name : "";
            return 1;
        }
    }
    return 0;
}

static struct segment segment_of(const void *p)
{
    struct segment q = {(uintptr_t)p, 0, NULL, 0, 0};
    if (p)
        dl_iterate_phdr(find_segment, &q);
    return q;
}

/* asked as the program runs (a region's name): under the loader walk's
 * try-lock, which a fork waits for (modules.c); when it is taken, "not
 * known to be read-only", so that the caller copies the name */
int pp_os_read_only(const void *p)
{
    if (!pp_loader_walk_try())
        return 0;
    int ro = segment_of(p).ro;
    pp_loader_walk_done();
    return ro;
}

int pp_real_object_of(const void *addr, uintptr_t *base, const char **name)
{
    struct segment q = segment_of(addr);
    if (!q.found)
        return 0;
    *base = q.base;
    if (name)
        *name = q.name;
    return 1;
}

int pp_os_reserve(int fd, uint64_t at, uint64_t n)
{
    int saved = errno, rc = 0;
    if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)at, (off_t)n) != 0)
        rc = errno;
    errno = saved;
    return rc;
}

/* ---- the process's own memory, for the leak check ---------------------------- */

int pp_os_page_vector(uintptr_t addr, size_t pages, unsigned char *vec)
{
    return mincore((void *)addr, pages * 4096, vec);
}

pid_t pp_os_pid_seen(pid_t local, pid_t *ppid)
{
    char link[32], text[1024];
    int saved = errno;
    long n = syscall(SYS_readlinkat, AT_FDCWD, "/proc/self", link, sizeof link - 1);
    pid_t seen = local;
    if (n > 0) {
        link[n] = 0;
        uint64_t v = decimal(link);
        if (v > 0 && v < INT_MAX)
            seen = (pid_t)v;
    }
    if (seen != local && ppid) {
        int fd = pp_os_open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
        ssize_t got = fd >= 0 ? read(fd, text, sizeof text) : -1;
        if (fd >= 0)
            close(fd);
        uint64_t v = got > 0 ? decimal(pp_stat_field(text, (size_t)got, 4)) : 0;
        if (v > 0 && v < INT_MAX)
            *ppid = (pid_t)v;
    }
    errno = saved;
    return seen;
}

/* FIRST: the image's start, where one prctl answers for most programs;
 * later (a forked child, a restart) the status file alone is read: a
 * filter the program put on may kill on prctl, as on anything it does
 * not make itself, and reading files is what the sampler does anyway */
int pp_os_filters(int first)
{
    int saved = errno;
    if (first) {
        long mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
        if (mode == 0)
            return 0;
    }
    /* the file line by line (a long Groups: line may come first), keeping
     * the two Seccomp lines */
    char chunk[1024], line[64];
    size_t len = 0;
    long mode = -1, count = 1;
    int fd = pp_os_open("/proc/thread-self/status", O_RDONLY | O_CLOEXEC), filters;
    ssize_t n;
    while (fd >= 0 && (n = read(fd, chunk, sizeof chunk)) > 0)
        for (ssize_t i = 0; i < n; i++) {
            if (chunk[i] != '\n') {
                if (len < sizeof line - 1)
                    line[len++] = chunk[i];
                continue;
            }
            line[len] = 0;
            if (!strncmp(line, "Seccomp:", 8))
                mode = strtol(line + 8, NULL, 10);
            else if (!strncmp(line, "Seccomp_filters:", 16))
                count = strtol(line + 16, NULL, 10);
            len = 0;
        }
    if (fd >= 0)
        close(fd);
    if (mode < 0)                       /* not said there: the system call */
        mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
    filters = mode == 0                     ? 0
              : mode == SECCOMP_MODE_STRICT ? INT_MAX
              : count > 1                   ? (count > INT_MAX - 1 ? INT_MAX - 1 : (int)count)
                                            : 1;
    errno = saved;
    return filters;
}

/* Whether the process has one thread, read from field 20 of
 * /proc/self/stat on a descriptor of its own (the system call: at the
 * shim's start, before any kept descriptor) */
int pp_os_one_thread(void)
{
    char text[1024];
    int saved = errno, fd = pp_os_open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, text, sizeof text) : -1;
    if (fd >= 0)
        close(fd);
    errno = saved;
    return n > 0 && decimal(pp_stat_field(text, (size_t)n, 20)) == 1;
}
