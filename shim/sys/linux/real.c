/*
 * real.c - the functions the hooks stand in for, as glibc's loader finds
 * them: the next definition after the shim (dlsym(RTLD_NEXT)), the C
 * library's own allocator recognised by its object (os.c says which
 * object holds a function), and the system calls behind mmap, munmap,
 * mremap and _exit, made directly.
 *
 * A program may preload another allocator before the shim (jemalloc,
 * tcmalloc): the first definition of malloc is then that allocator's, and
 * the hooks forward to it (bind.c sends the program's calls to the hooks).
 */
#define _GNU_SOURCE
#include "sys/sys.h"

#include <dlfcn.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* RTLD_NEXT; or, when another allocator was preloaded before the shim,
 * the first definition (that allocator's) */
static void *resolve_from = RTLD_NEXT;
#define RESOLVE(r, field, name) (*(void **)&(r)->field = look(resolve_from, name))

/* dlsym, only for a name some loaded object defines, and the message of a
 * symbol not found forgotten (sys.h): glibc frees that message through
 * free at the next dlsym, and a wrapper after the shim that looks its own
 * free up on its first call would free it again inside that dlsym, round
 * and round */
static int resolving, forget_owed;

static void *look(void *from, const char *name)
{
    if (!pp_os_defined(name))
        return NULL;
    void *p = dlsym(from, name);
    if (!p && resolving)
        forget_owed = 1;                /* not under the caller's locks: pp_real_settle */
    else if (!p)
        pp_dl_forget();
    return p;
}

void pp_real_settle(void)
{
    if (forget_owed) {
        forget_owed = 0;
        pp_dl_forget();
    }
}

void *pp_real_next(const char *name)
{
    return look(RTLD_NEXT, name);
}

void *pp_real_global(const char *name)
{
    return look(RTLD_DEFAULT, name);
}

int pp_real_dlclose(void *handle)
{
    static int (*real)(void *);
    if (!real)
        *(void **)&real = pp_real_next("dlclose");
    return real ? real(handle) : -1;
}


void *pp_real_symbol(const char *name)
{
    return look(resolve_from, name);
}

int pp_real_in_libc(void *fn)
{
    return pp_real_same_object(fn, (void *)gnu_get_libc_version);
}

/* Is the first definition of malloc in a library loaded before the shim
 * (not libc, not the executable)? */
int pp_real_other_shim(void *self)
{
    /* the first perf_probe of the process, in a shared object (not the
     * executable, which may name a function of its own so) that also
     * defines the rest of the probe API and malloc: the shim's exports */
    void *probe = dlsym(RTLD_DEFAULT, "perf_probe");
    Dl_info info;
    if (!probe || pp_real_same_object(probe, self) || !dladdr(probe, &info) ||
        !info.dli_fname || !strstr(info.dli_fname, ".so") || !info.dli_fbase)
        return 0;
    static const char *const api[] = {"perf_probe_ex", "perf_region_begin", "perf_region_end",
                                      "perf_counter", "malloc", "free"};
    for (size_t i = 0; i < sizeof api / sizeof *api; i++) {
        uintptr_t at;
        if (pp_os_elf_symbol((uintptr_t)info.dli_fbase, api[i], &at, NULL) != 0)
            return 0;
    }
    return 1;
}

static int other_allocator_first(void *self)
{
    Dl_info info;
    if (pp_real_other_shim(self))
        return 0;                       /* its malloc passes calls on to ours */
    void *first = dlsym(RTLD_DEFAULT, "malloc");
    if (!first || first == self || !dladdr(first, &info) || !info.dli_fname ||
        !strstr(info.dli_fname, ".so"))     /* not the executable (a PLT slot of its own) */
        return 0;
    return !pp_real_same_object(first, self) && !pp_real_in_libc(first);
}

static int resolve_all(struct pp_real *r);
static void *resolve_self;              /* a function of the shim's own */

void pp_real_resolve_next(struct pp_real *r)
{
    resolve_from = RTLD_NEXT;
    resolve_all(r);
}

int pp_real_resolve(struct pp_real *r, void *self, int *foreign)
{
    resolve_self = self;
    if (other_allocator_first(self)) {
        *foreign = 1;
        resolve_from = RTLD_DEFAULT;
    }
    int jemalloc = resolve_all(r);
    /* the C library itself preloaded before the shim
     * (LD_PRELOAD=libc.so.6:libperfprobe.so): nothing after the shim
     * defines malloc, and the hooks the program still reaches (the C++
     * operators, which only the shim defines) called a null function.
     * The first definitions, the C library's, are the real ones then;
     * the check at start says the heap is not counted */
    if (!r->malloc && resolve_from == RTLD_NEXT) {
        resolve_from = RTLD_DEFAULT;
        jemalloc = resolve_all(r);
        if (r->malloc && pp_real_same_object((void *)r->malloc, self)) {
            resolve_from = RTLD_NEXT;
            jemalloc = resolve_all(r);
        }
    }
    return jemalloc;
}

/* jemalloc's five functions in the object loaded at BASE, in FNS */
static int jemalloc_in(uintptr_t base, void **fns)
{
    static const char *const names[5] = {"mallocx", "rallocx", "xallocx", "dallocx", "sdallocx"};
    for (int i = 0; i < 5; i++) {
        uintptr_t at;
        if (pp_os_elf_symbol(base, names[i], &at, NULL) != 0 || !at)
            return 0;
        fns[i] = (void *)at;
    }
    return 1;
}

static int resolve_all(struct pp_real *r)
{
    int jemalloc = 0;
    resolving = 1;
    r->jemalloc_apart = 0;
    RESOLVE(r, malloc, "malloc");
    RESOLVE(r, free, "free");
    RESOLVE(r, calloc, "calloc");
    RESOLVE(r, realloc, "realloc");
    RESOLVE(r, posix_memalign, "posix_memalign");
    RESOLVE(r, aligned_alloc, "aligned_alloc");
    RESOLVE(r, memalign, "memalign");
    RESOLVE(r, valloc, "valloc");
    RESOLVE(r, usable, "malloc_usable_size");
    /* jemalloc's API, all five from one object that also defines malloc:
     * the allocator's own (jemalloc is the malloc), or else one loaded
     * behind another malloc (apart: passed on uncounted).  Mixing two
     * allocators' blocks would be fatal; a program's own mallocx is not
     * jemalloc's */
    void *fns[5];
    uintptr_t base;
    r->mallocx = NULL;
    if (r->malloc && pp_real_object_of((void *)r->malloc, &base, NULL) && jemalloc_in(base, fns)) {
        jemalloc = 1;
    } else {
        void *m = look(resolve_from, "mallocx");
        if (m && resolve_self && pp_real_same_object(m, resolve_self))
            m = look(RTLD_NEXT, "mallocx");
        uintptr_t at;
        r->jemalloc_apart = m && pp_real_object_of(m, &base, NULL) && jemalloc_in(base, fns) &&
                            pp_os_elf_symbol(base, "malloc", &at, NULL) == 0;
    }
    if (jemalloc || r->jemalloc_apart) {
        *(void **)&r->mallocx = fns[0];
        *(void **)&r->rallocx = fns[1];
        *(void **)&r->xallocx = fns[2];
        *(void **)&r->dallocx = fns[3];
        *(void **)&r->sdallocx = fns[4];
    }
    resolving = 0;
    return jemalloc;
}

/* ---- the system calls ------------------------------------------------------ */

/* syscall() returns -1 with errno set, as the libc wrappers do (the
 * kernel's -errno was taken for a result once more, and every failure
 * read EPERM: a JIT retrying MAP_FIXED_NOREPLACE on EEXIST never did) */
void *pp_real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    long r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
    return r == -1 ? MAP_FAILED : (void *)r;
}

int pp_real_munmap(void *addr, size_t len)
{
    return (int)syscall(SYS_munmap, addr, len);
}

void *pp_real_mremap(void *old, size_t old_len, size_t new_len, int flags, void *target)
{
    long r = syscall(SYS_mremap, old, old_len, new_len, flags, target);
    return r == -1 ? MAP_FAILED : (void *)r;
}

/* the real _exit is this one system call; no dlsym */
void pp_real_exit_now(int status)
{
    for (;;)
        syscall(SYS_exit_group, status);
}

/* ---- the process ------------------------------------------------------------ */

const char *pp_os_progname(void)
{
    return program_invocation_short_name;
}

int pp_os_main_thread(void)
{
    return gettid() == getpid();
}

int __cxa_thread_atexit_impl(void (*fn)(void *), void *arg, void *dso);
extern void *__dso_handle;

int pp_os_thread_atexit(void (*fn)(void *), void *arg)
{
    return __cxa_thread_atexit_impl(fn, arg, &__dso_handle);
}

int pp_os_on_exit(void (*fn)(int status, void *arg), void *arg)
{
    return on_exit(fn, arg);
}
