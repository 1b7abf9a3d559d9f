/*
 * real.c - the functions the hooks stand in for, on macOS: libSystem's,
 * called by their own names.  dyld applies a dylib's __interpose entries
 * to the references of every other image, never to the interposing
 * image's own, so a call from the shim to malloc or mmap reaches
 * libSystem directly: no dlsym (which takes dyld's lock and may allocate).
 *
 * Not run on a Mac (docs/macos.md): compiled for arm64 and x86_64 and
 * linked against libSystem's stub only.
 */
#include "sys/sys.h"

#include <dlfcn.h>
#include <malloc/malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* libSystem's own thread-exit list (what C++ thread_local uses) */
extern void _tlv_atexit(void (*fn)(void *), void *arg);

void *pp_real_next(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

void *pp_real_global(const char *name)
{
    void *p = dlsym(RTLD_DEFAULT, name);
    if (!p)
        pp_dl_forget();
    return p;
}

/* dyld's dlerror keeps its message per thread: nothing is owed */
void pp_real_settle(void)
{
}

int pp_real_object_of(const void *addr, uintptr_t *base, const char **name)
{
    Dl_info info;
    if (!addr || !dladdr(addr, &info) || !info.dli_fbase)
        return 0;
    *base = (uintptr_t)info.dli_fbase;
    if (name)
        *name = info.dli_fname ? info.dli_fname : "";
    return 1;
}


void *pp_real_symbol(const char *name)
{
    (void)name;
    return NULL;                /* no jemalloc mallctl: the zone allocator */
}

int pp_real_in_libc(void *fn)
{
    (void)fn;
    return 0;                   /* no glibc chunk headers to read */
}

/* malloc_size stands in for malloc_usable_size: the bytes the zone gave */
static size_t zone_size(void *p)
{
    return malloc_size(p);
}

void pp_real_resolve_next(struct pp_real *r)
{
    int foreign;
    pp_real_resolve(r, NULL, &foreign);
}

int pp_real_other_shim(void *self)
{
    (void)self;
    return 0;
}

int pp_real_resolve(struct pp_real *r, void *self, int *foreign)
{
    (void)self;
    *foreign = 0;
    r->malloc = malloc;
    r->free = free;
    r->calloc = calloc;
    r->realloc = realloc;
    r->posix_memalign = posix_memalign;
    r->aligned_alloc = aligned_alloc;
    r->valloc = valloc;
    r->usable = zone_size;
    return 0;
}

void *pp_real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return mmap(addr, len, prot, flags, fd, off);
}

int pp_real_munmap(void *addr, size_t len)
{
    return munmap(addr, len);
}

/* no mremap on macOS: never called there */
void *pp_real_mremap(void *old, size_t old_len, size_t new_len, int flags, void *target)
{
    (void)old, (void)old_len, (void)new_len, (void)flags, (void)target;
    return MAP_FAILED;
}

void pp_real_exit_now(int status)
{
    _exit(status);
}

const char *pp_os_progname(void)
{
    return getprogname();
}

int pp_os_main_thread(void)
{
    return pthread_main_np() == 1;
}

int pp_os_thread_atexit(void (*fn)(void *), void *arg)
{
    _tlv_atexit(fn, arg);
    return 0;
}
