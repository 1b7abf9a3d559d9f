/*
 * memory.c - the process's own memory as the leak check (core/leaks.c) and
 * the CPU sampler's Python frames (core/pyframes.c) read it on macOS.
 *
 * Reads go through the kernel (mach_vm_read_overwrite on the task itself),
 * never a load, so that a page unmapped meanwhile or a guard page is an
 * error, not a fault.  The mappings are the task's VM regions in address
 * order (mach_vm_region_recurse, not descending into submaps: the shared
 * cache is one region of them), the main thread's stack the one that
 * holds the main thread's stack (pthread_get_stackaddr_np/stacksize_np).
 * The roots in loaded images are each image's writable segments (macho.c)
 * but the shim's own and libsystem_malloc's (the allocator's own
 * bookkeeping: its magazines' caches of free blocks, its zones; LeakSanitizer
 * on macOS keeps the same distance from the system allocator, having its
 * own), plus the regions tagged VM_MEMORY_OS_ALLOC_ONCE, where libplatform
 * keeps the globals of libdispatch, libxpc and other system libraries
 * (LeakSanitizer's macOS port scans them as roots for that reason).
 * Regions of malloc's own (tagged VM_MEMORY_MALLOC*) are never roots: the
 * leak check takes a mapping only when a thread's stack address lies in it.
 *
 * Nothing here has run on a Mac (docs/macos.md).
 */
#include "sys/sys.h"

#include <errno.h>
#include <mach-o/dyld.h>
#include <mach-o/loader.h>
#include <mach/mach.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

/* mach_vm.h is not in every SDK's headers (Zig's lacks it): MIG's prototypes */
kern_return_t mach_vm_read_overwrite(vm_map_t task, mach_vm_address_t addr, mach_vm_size_t size,
                                     mach_vm_address_t data, mach_vm_size_t *outsize);
kern_return_t mach_vm_region_recurse(vm_map_t task, mach_vm_address_t *addr,
                                     mach_vm_size_t *size, natural_t *depth,
                                     vm_region_recurse_info_t info,
                                     mach_msg_type_number_t *count);
/* libSystem's (libsystem_pthread): the main thread, from any thread */
extern pthread_t pthread_main_thread_np(void);
/* the linker's: this image's own Mach-O header */
extern const struct mach_header_64 __dso_handle;

/* ---- reading ------------------------------------------------------------------ */

static int read_all(void *dst, uintptr_t addr, size_t len)
{
    mach_vm_size_t got = 0;
    return mach_vm_read_overwrite(mach_task_self(), (mach_vm_address_t)addr, (mach_vm_size_t)len,
                                  (mach_vm_address_t)(uintptr_t)dst, &got) == KERN_SUCCESS &&
           got == len;
}

/* the whole range in one call; when part of it cannot be read, a page at a
 * time up to the first that cannot: the bytes before it */
ssize_t pp_os_read_own(void *dst, uintptr_t addr, size_t len)
{
    if (read_all(dst, addr, len))
        return (ssize_t)len;
    size_t page = vm_page_size, done = 0;
    while (done < len) {
        size_t n = page - ((addr + done) & (page - 1));
        if (n > len - done)
            n = len - done;
        if (!read_all((char *)dst + done, addr + done, n))
            break;
        done += n;
    }
    return (ssize_t)done;
}

int pp_os_peek(void *dst, uintptr_t src, size_t len)
{
    if (len == 0)
        return 0;
    int saved = errno;
    int err = read_all(dst, src, len) ? 0 : EFAULT;
    errno = saved;
    return err;
}

int pp_os_peek_refused(void)
{
    return 0;                           /* a read of its own task is never refused */
}

/* 4 KiB entries over the system's pages (16 KiB on Apple silicon): each
 * entry says what mincore says of the page that holds it.  A page that is
 * compressed or swapped out (MINCORE_PAGED_OUT) counts as there: it holds
 * what the program wrote, and a read brings it back; a page never touched
 * has neither bit. */
int pp_os_page_vector(uintptr_t addr, size_t pages, unsigned char *vec)
{
    size_t page = vm_page_size;
    char sys[1024];
    uintptr_t end = addr + pages * 4096;
    uintptr_t at = addr & ~(uintptr_t)(page - 1);
    size_t i = 0;
    while (at < end) {
        size_t n = (end - at + page - 1) / page;
        if (n > sizeof sys)
            n = sizeof sys;
        if (mincore((void *)at, n * page, sys) != 0)
            return -1;
        for (size_t k = 0; k < n && i < pages; k++) {
            int there = (sys[k] & (MINCORE_INCORE | MINCORE_PAGED_OUT)) != 0;
            uintptr_t pe = at + (k + 1) * page;
            for (; i < pages && addr + i * 4096 < pe; i++)
                vec[i] = (unsigned char)there;
        }
        at += n * page;
    }
    return 0;
}

/* ---- the task's regions ----------------------------------------------------- */

/* FN(start, end, user tag, protection, ARG) for each top-level region in
 * address order until FN returns nonzero: 0, or -1 when none could be read */
typedef int (*region_fn)(uintptr_t start, uintptr_t end, unsigned tag, int prot, void *arg);

static int each_region(region_fn fn, void *arg)
{
    mach_vm_address_t a = 0;
    int any = 0;
    for (;;) {
        mach_vm_size_t size = 0;
        natural_t depth = 0;
        vm_region_submap_info_data_64_t info;
        mach_msg_type_number_t count = VM_REGION_SUBMAP_INFO_COUNT_64;
        if (mach_vm_region_recurse(mach_task_self(), &a, &size, &depth,
                                   (vm_region_recurse_info_t)&info, &count) != KERN_SUCCESS)
            break;                       /* past the last region */
        any = 1;
        if (fn((uintptr_t)a, (uintptr_t)(a + size), info.user_tag, info.protection, arg))
            return 0;
        if (a + size <= a)
            break;
        a += size;
    }
    return any ? 0 : -1;
}

struct mappings {
    pp_mapping_fn fn;
    void *arg;
    uintptr_t main_lo, main_hi;
};

static int mapping(uintptr_t start, uintptr_t end, unsigned tag, int prot, void *arg)
{
    struct mappings *m = arg;
    (void)tag;
    (void)prot;
    int main_stack = m->main_hi && start < m->main_hi && end > m->main_lo;
    return m->fn(start, end, main_stack, m->arg);
}

int pp_os_mappings(int kept, pp_mapping_fn fn, void *arg)
{
    (void)kept;
    struct mappings m = {fn, arg, 0, 0};
    pthread_t t = pthread_main_thread_np();
    if (t) {
        /* the address is the stack's top; it grows down */
        m.main_hi = (uintptr_t)pthread_get_stackaddr_np(t);
        size_t sz = pthread_get_stacksize_np(t);
        m.main_lo = m.main_hi > sz ? m.main_hi - sz : 0;
    }
    return each_region(mapping, &m);
}

/* ---- roots in the loaded images ------------------------------------------------ */

struct writable {
    void (*fn)(uintptr_t start, uintptr_t end, void *arg);
    void *arg;
};

static int alloc_once(uintptr_t start, uintptr_t end, unsigned tag, int prot, void *arg)
{
    struct writable *w = arg;
    if (tag == VM_MEMORY_OS_ALLOC_ONCE && (prot & VM_PROT_WRITE))
        w->fn(start, end, w->arg);
    return 0;
}

static int name_ends(const char *path, const char *tail)
{
    size_t n = path ? strlen(path) : 0, t = strlen(tail);
    return n >= t && strcmp(path + n - t, tail) == 0;
}

void pp_modules_each_writable(void (*fn)(uintptr_t start, uintptr_t end, void *arg), void *arg)
{
    uint32_t n = _dyld_image_count();
    for (uint32_t i = 0; i < n; i++) {
        const struct mach_header *h = _dyld_get_image_header(i);
        /* not the shim's own data (what it remembers is no reference of the
         * program's), not the allocator's */
        if (!h || (const void *)h == (const void *)&__dso_handle ||
            name_ends(_dyld_get_image_name(i), "/libsystem_malloc.dylib"))
            continue;
        pp_macho_each_writable((uintptr_t)h, (uintptr_t)_dyld_get_image_vmaddr_slide(i), fn, arg);
    }
    struct writable w = {fn, arg};
    each_region(alloc_once, &w);
}
