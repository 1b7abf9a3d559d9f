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
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

uint64_t pp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t pp_unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void pp_write_all(int fd, const char *p, size_t n)
{
    int saved = errno;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        p += w;
        n -= (size_t)w;
    }
    errno = saved;
}

/* The shim's own mappings are remembered, so that the RSS breakdown can
 * name the memory perfprobe itself holds. */
#define OWN_MAX 1024
static struct { uintptr_t addr; size_t len; } own[OWN_MAX];
static size_t n_own;
static pthread_mutex_t own_lock = PTHREAD_MUTEX_INITIALIZER;

void *pp_os_map(size_t len)
{
    long r = syscall(SYS_mmap, 0L, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1L, 0L);
    if (r < 0 && r > -4096)
        return NULL;
    pthread_mutex_lock(&own_lock);
    if (n_own < OWN_MAX) {
        own[n_own].addr = (uintptr_t)r;
        own[n_own].len = len;
        n_own++;
    }
    pthread_mutex_unlock(&own_lock);
    return (void *)r;
}

void pp_os_unmap(void *p, size_t len)
{
    syscall(SYS_munmap, p, len);
    pthread_mutex_lock(&own_lock);
    for (size_t i = 0; i < n_own; i++)
        if (own[i].addr == (uintptr_t)p) {
            own[i] = own[--n_own];
            break;
        }
    pthread_mutex_unlock(&own_lock);
}

/* Resident bytes of [addr, addr+len): mincore, a page at a time in the
 * vector, 16 MiB a call.  Unmapped parts count as not resident. */
uint64_t pp_os_resident(uintptr_t addr, size_t len)
{
    static size_t page;
    unsigned char vec[4096];
    uint64_t pages = 0;
    int saved = errno;
    if (!page)
        page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = addr & ~(uintptr_t)(page - 1), end = addr + len;
    while (a < end) {
        size_t n = (end - a + page - 1) / page;
        if (n > sizeof vec)
            n = sizeof vec;
        if (mincore((void *)a, n * page, vec) == 0)
            for (size_t i = 0; i < n; i++)
                pages += vec[i] & 1;
        a += n * page;
    }
    errno = saved;
    return pages * page;
}

uint64_t pp_os_resident_own(void)
{
    uint64_t total = 0;
    pthread_mutex_lock(&own_lock);
    for (size_t i = 0; i < n_own; i++)
        total += pp_os_resident(own[i].addr, own[i].len);
    pthread_mutex_unlock(&own_lock);
    return total;
}

/* The main thread's stack: from the top (startstack, field 28 of
 * /proc/self/stat, read once) down to the lowest page mapped.  The stack
 * only grows down, so the lowest page found is remembered.  A full look
 * checks whether the mapping has grown below it (a page, then 64 KiB at a
 * time); a quick one (probes) trusts the remembered page, lowered to the
 * caller's own frame when the caller is the main thread, so that it costs
 * one mincore call: growth deeper than that is found by the next full look
 * (the sampler's breakdown, at most PERFPROBE_PARTS_STRIDE samples later). */
uint64_t pp_os_resident_main_stack(int quick)
{
    static uintptr_t top, low;
    unsigned char vec[1];
    if (!top) {
        char text[1024];
        int f = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
        ssize_t n = f >= 0 ? read(f, text, sizeof text - 1) : -1;
        if (f >= 0)
            close(f);
        if (n <= 0)
            return 0;
        text[n] = 0;
        const char *p = strrchr(text, ')');     /* the name may hold spaces */
        for (int field = 2; p && *p && field < 28; p++)
            if (*p == ' ')
                field++;
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
        if (pp_tid() == getpid() && here < low && here > top - (64u << 20))
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

pid_t pp_tid(void)
{
    if (PP_UNLIKELY(!tid_cache))
        tid_cache = gettid();
    return tid_cache;
}

void pp_tid_forget(void)
{
    tid_cache = 0;
}

/* ---- /proc/self/status ---------------------------------------------------- */

static int status_fd = -1;
static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER;

void pp_proc_reopen(void)
{
    int saved = errno;
    if (status_fd >= 0)
        close(status_fd);
    /* /proc/self is resolved when opened: a forked child must reopen */
    status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    errno = saved;
}

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
    int saved = errno, rc = -1;
    memset(out, 0, sizeof *out);
    /* The signal handler may call this while the sampler holds the lock:
     * it then goes without rather than waiting. */
    if (pthread_mutex_trylock(&status_lock) != 0)
        return -1;
    for (int attempt = 0; attempt < 2 && rc < 0; attempt++) {
        if (status_fd < 0 || attempt > 0)
            pp_proc_reopen();
        if (status_fd < 0)
            break;
        ssize_t n = pread(status_fd, text, sizeof text - 1, 0);
        if (n <= 0)
            continue;
        text[n] = 0;
        /* the program may have closed our descriptor and reused the number */
        if (strncmp(text, "Name:", 5) != 0 || !strstr(text, "VmRSS:"))
            continue;
        out->rss = field_kb(text, "\nVmRSS:");
        out->hwm = field_kb(text, "\nVmHWM:");
        out->rss_anon = field_kb(text, "\nRssAnon:");
        out->rss_file = field_kb(text, "\nRssFile:");
        out->rss_shmem = field_kb(text, "\nRssShmem:");
        rc = 0;
    }
    pthread_mutex_unlock(&status_lock);
    errno = saved;
    return rc;
}

/* ---- cheap RSS and the high-water mark, for probes ------------------------ */

static int statm_fd = -1, clear_refs_fd = -2;      /* -2: not opened yet */

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
    int saved = errno, rc = -1;
    uint64_t pages = 0, sh = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (statm_fd < 0 || attempt > 0) {
            if (statm_fd >= 0)
                close(statm_fd);
            statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
        }
        ssize_t n = statm_fd >= 0 ? pread(statm_fd, text, sizeof text - 1, 0) : -1;
        if (n <= 0)
            continue;
        text[n] = 0;
        const char *p = text;
        while (*p >= '0' && *p <= '9')           /* size */
            p++;
        if (*p != ' ')
            continue;                            /* not statm: fd was reused */
        p++;
        while (*p >= '0' && *p <= '9')
            pages = pages * 10 + (uint64_t)(*p++ - '0');
        if (*p++ != ' ')
            continue;
        while (*p >= '0' && *p <= '9')
            sh = sh * 10 + (uint64_t)(*p++ - '0');
        rc = 0;
        break;
    }
    errno = saved;
    static uint64_t page;
    if (!page)
        page = (uint64_t)sysconf(_SC_PAGESIZE);
    *resident = pages * page;
    *shared = sh * page;
    return rc;
}

/* Reset the kernel's RSS high-water mark to the current RSS (write "5" to
 * /proc/self/clear_refs, Linux 4.0+).  Returns -1 where not permitted. */
int pp_proc_hwm_reset(void)
{
    int saved = errno, rc = -1;
    if (clear_refs_fd == -2)
        clear_refs_fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (clear_refs_fd >= 0 && write(clear_refs_fd, "5", 1) == 1)
        rc = 0;
    errno = saved;
    return rc;
}

void pp_proc_after_fork(void)
{
    pp_proc_reopen();
    if (statm_fd >= 0)
        close(statm_fd);
    statm_fd = -1;
    if (clear_refs_fd >= 0)
        close(clear_refs_fd);
    clear_refs_fd = -2;
}

void pp_cpu_read(struct pp_cpu *out)
{
    struct rusage ru;
    int saved = errno;
    memset(out, 0, sizeof *out);
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        out->user_ns = (uint64_t)ru.ru_utime.tv_sec * 1000000000u +
                       (uint64_t)ru.ru_utime.tv_usec * 1000u;
        out->sys_ns = (uint64_t)ru.ru_stime.tv_sec * 1000000000u +
                      (uint64_t)ru.ru_stime.tv_usec * 1000u;
        out->minflt = (uint64_t)ru.ru_minflt;
        out->majflt = (uint64_t)ru.ru_majflt;
        out->maxrss = (uint64_t)ru.ru_maxrss * 1024;
    }
    errno = saved;
}
