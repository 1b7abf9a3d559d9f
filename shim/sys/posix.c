/*
 * posix.c - what the shim asks of any POSIX system the same way: the
 * clocks, and the list of its own memory with how much of it is resident
 * (mincore).  The mappings themselves come from each system's raw
 * primitive (pp_os_map_raw).
 */
#include "sys/sys.h"

#include <errno.h>
#include <sys/mman.h>
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

/* The shim's own mappings are remembered, so that the RSS breakdown can
 * name the memory perfprobe itself holds.  pp_os_map is called from inside
 * allocator hooks (a new thread's counter slot), so the list takes no lock:
 * entries are claimed with one atomic add and cleared on unmap. */
#define OWN_MAX 4096
static struct { _Atomic uintptr_t addr; _Atomic size_t len; } own[OWN_MAX];
static _Atomic size_t n_own;

void *pp_os_map(size_t len)
{
    void *r = pp_os_map_raw(len);
    if (!r)
        return NULL;
    size_t i = atomic_fetch_add(&n_own, 1);
    if (i < OWN_MAX) {
        atomic_store(&own[i].addr, (uintptr_t)r);
        atomic_store(&own[i].len, len);
    }
    return r;
}

void pp_os_unmap(void *p, size_t len)
{
    pp_os_unmap_raw(p, len);
    size_t n = atomic_load(&n_own);
    for (size_t i = 0; i < n && i < OWN_MAX; i++)
        if (atomic_load(&own[i].addr) == (uintptr_t)p) {
            atomic_store(&own[i].len, 0);
            atomic_store(&own[i].addr, 0);
            break;
        }
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
        if (mincore((void *)a, n * page, (void *)vec) == 0)
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
    size_t n = atomic_load(&n_own);
    for (size_t i = 0; i < n && i < OWN_MAX; i++) {
        uintptr_t a = atomic_load(&own[i].addr);
        size_t len = atomic_load(&own[i].len);
        if (a && len)
            total += pp_os_resident(a, len);
    }
    return total;
}

