/*
 * nsshim.c - libperfprobe-ns.so: the shim's hooks inside a link namespace.
 *
 * A library opened with dlmopen into a namespace of its own calls that
 * namespace's copy of libc, which the preloaded shim cannot reach.  The
 * shim (hooks/namespace.c) opens this object into the namespace first, so
 * that its malloc family, and its mmap, munmap and mremap, come first in
 * the namespace's lookup scope: the library's references, and libc's own
 * (strdup, fopen), bind here, as they bind to the shim in the base
 * namespace.  Each hook calls the namespace's own libc and hands the
 * usable size to the shim's counting through the table the shim connects
 * (nslink.h).  Nothing else is here: no thread, no file, no constructor.
 * x86_64 Linux only, as the shim's dlmopen hook is.
 *
 * It links nothing, libc included: the namespace's global scope is this
 * object's own list, so that every other name the library looks up finds
 * what it finds bare (its own definition first, then its dependencies',
 * libc's among them).  The shim loads libc into the namespace on its own
 * (RTLD_LOCAL) and hands its functions over in the table; nothing here
 * calls a library by name.
 *
 * Until the shim connects (calls libc might make while the shim loads it
 * into the namespace: none were seen), blocks come from a small static
 * arena and are never freed.  The mapping calls are the system calls
 * themselves, as libc makes them; an error is set in this namespace's
 * errno once the shim has connected.
 *
 * dlopen and dlmopen pass through by a jump (the loader takes $ORIGIN and
 * the search path from the caller's return address), noting for the shim
 * what its figures then miss: a library that calls dlmopen for yet another
 * namespace, or dlopen with RTLD_DEEPBIND, allocates past these hooks.
 */
#define _GNU_SOURCE
#include "ns/nslink.h"

#include <errno.h>
#include <link.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define NS_EXPORT __attribute__((visibility("default")))

static const struct pp_ns_link *_Atomic link_;

/* ---- before the shim connects: a bump arena, never freed ---- */
#define BOOT_SIZE (64 * 1024)
static _Alignas(64) char boot[BOOT_SIZE];
static _Atomic size_t boot_used;

static int is_boot(const void *p)
{
    return (const char *)p >= boot && (const char *)p < boot + BOOT_SIZE;
}

/* ALIGN a power of two of 16 or more; each block is preceded by its size */
static void *boot_alloc(size_t align, size_t n)
{
    if (align < 16)
        align = 16;
    if (n > BOOT_SIZE)
        return NULL;
    for (;;) {
        size_t at = atomic_load(&boot_used);
        size_t start = (at + 16 + align - 1) & ~(align - 1);
        if (start + n > BOOT_SIZE)
            return NULL;
        if (atomic_compare_exchange_weak(&boot_used, &at, start + n)) {
            ((size_t *)(boot + start))[-1] = n;
            return boot + start;
        }
    }
}

static size_t boot_size(const void *p)
{
    return ((const size_t *)p)[-1];
}

static const struct pp_ns_link *connected(void)
{
    return atomic_load_explicit(&link_, memory_order_acquire);
}

/* errno in this namespace's libc (none before the shim connects) */
static void set_errno(int e)
{
    const struct pp_ns_link *l = connected();
    if (l)
        *l->errno_location() = e;
}

static void copy(void *to, const void *from, size_t n)
{
    unsigned char *d = to;
    const unsigned char *s = from;
    while (n--)
        *d++ = *s++;
}

static int has(const char *s, const char *part)
{
    for (; *s; s++) {
        const char *a = s, *b = part;
        while (*b && *a == *b)
            a++, b++;
        if (!*b)
            return 1;
    }
    return 0;
}

/* PP_NS_LINK_VERSION when the table is taken; 0 for a table of another
 * version (a shim and an object of different builds): the shim then
 * closes the namespace and goes on without it */
NS_EXPORT int pp_ns_connect(const struct pp_ns_link *l)
{
    if (!l || l->version != PP_NS_LINK_VERSION)
        return 0;
    atomic_store_explicit(&link_, l, memory_order_release);
    return PP_NS_LINK_VERSION;
}

/* ---- the malloc family ---- */

NS_EXPORT void *malloc(size_t n)
{
    const struct pp_ns_link *l = connected();
    if (!l)
        return boot_alloc(16, n);
    void *p = l->malloc(n);
    if (p)
        l->alloc(p, l->usable(p));
    return p;
}

NS_EXPORT void free(void *p)
{
    const struct pp_ns_link *l = connected();
    if (!p || is_boot(p) || !l)
        return;
    size_t u = l->usable(p);
    l->moving(p, u);
    l->freed(p, u);
    l->free(p);
}

NS_EXPORT void *calloc(size_t n, size_t size)
{
    const struct pp_ns_link *l = connected();
    if (!l) {
        if (size && n > SIZE_MAX / size)
            return NULL;
        return boot_alloc(16, n * size);       /* static: already zero */
    }
    void *p = l->calloc(n, size);
    if (p)
        l->alloc(p, l->usable(p));
    return p;
}

NS_EXPORT void *realloc(void *p, size_t n)
{
    const struct pp_ns_link *l = connected();
    if (p && is_boot(p)) {
        void *q = malloc(n);
        size_t had = boot_size(p);
        if (q)
            copy(q, p, had < n ? had : n);
        return q;
    }
    if (!l)
        return p ? NULL : boot_alloc(16, n);
    if (!p)
        return malloc(n);
    size_t old = l->usable(p);
    l->moving(p, old);
    void *q = l->realloc(p, n);
    if (q)
        l->resized(q, old, l->usable(q));
    else if (n == 0)
        l->freed(NULL, old);                   /* glibc's realloc(p, 0) frees */
    return q;
}

NS_EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        set_errno(ENOMEM);
        return NULL;
    }
    return realloc(p, n * size);
}

NS_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    const struct pp_ns_link *l = connected();
    if (!l)
        return (*out = boot_alloc(align, n)) ? 0 : ENOMEM;
    int rc = l->posix_memalign(out, align, n);
    if (rc == 0 && *out)
        l->alloc(*out, l->usable(*out));
    return rc;
}

#define ALIGNED(name, params, args, bootargs)                           \
    NS_EXPORT void *name params                                         \
    {                                                                   \
        const struct pp_ns_link *l = connected();                       \
        if (!l)                                                         \
            return boot_alloc bootargs;                                 \
        void *p = l->name args;                                         \
        if (p)                                                          \
            l->alloc(p, l->usable(p));                                  \
        return p;                                                       \
    }

ALIGNED(aligned_alloc, (size_t align, size_t n), (align, n), (align, n))
ALIGNED(memalign, (size_t align, size_t n), (align, n), (align, n))
ALIGNED(valloc, (size_t n), (n), (4096, n))
ALIGNED(pvalloc, (size_t n), (n), (4096, (n + 4095) & ~(size_t)4095))

NS_EXPORT size_t malloc_usable_size(void *p)
{
    const struct pp_ns_link *l = connected();
    if (!p)
        return 0;
    if (is_boot(p))
        return boot_size(p);
    return l ? l->usable(p) : 0;
}

/* ---- mappings: the system calls, as libc's own wrappers make them ---- *
 * Made here with the instruction itself: this object's own names are the
 * hooks, and an error is set in this namespace's errno as libc sets it. */

static long sys5(long nr, long a, long b, long c, long d, long e)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    if (ret < 0 && ret > -4096) {
        set_errno((int)-ret);
        return -1;
    }
    return ret;
}

static long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    if (ret < 0 && ret > -4096) {
        set_errno((int)-ret);
        return -1;
    }
    return ret;
}

NS_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    void *r = (void *)sys6(SYS_mmap, (long)addr, (long)len, prot, flags, fd, (long)off);
    const struct pp_ns_link *l = connected();
    if (r != MAP_FAILED && l)
        l->mapped(r, len, flags);
    return r;
}

NS_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return mmap(addr, len, prot, flags, fd, off);
}

NS_EXPORT int munmap(void *addr, size_t len)
{
    int rc = (int)sys5(SYS_munmap, (long)addr, (long)len, 0, 0, 0);
    const struct pp_ns_link *l = connected();
    if (rc == 0 && l)
        l->unmapped(addr, len);
    return rc;
}

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

NS_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
    void *target = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        target = va_arg(ap, void *);
        va_end(ap);
    }
    void *r = (void *)sys5(SYS_mremap, (long)old, (long)old_len, (long)new_len, flags, (long)target);
    const struct pp_ns_link *l = connected();
    if (r != MAP_FAILED && l)
        l->moved(old, old_len, r, new_len, (flags & MREMAP_DONTUNMAP) != 0);
    return r;
}

/* ---- dlopen and dlmopen: noted, then the namespace's libc's by a jump ---- */

__attribute__((used, visibility("hidden"))) void *ns_real_dlopen, *ns_real_dlmopen;
__attribute__((used, visibility("hidden"))) int *ns_dlmopen_flag, *ns_deepbind_flag;
static int unused_flag;

__attribute__((used, visibility("hidden"))) void ns_resolve_dl(void)
{
    const struct pp_ns_link *l = connected();
    if (!ns_real_dlopen)
        ns_real_dlopen = l ? l->dlopen : NULL;
    if (!ns_real_dlmopen)
        ns_real_dlmopen = l ? l->dlmopen : NULL;
    ns_dlmopen_flag = l ? l->dlmopen_seen : &unused_flag;
    ns_deepbind_flag = l ? l->deepbind_seen : &unused_flag;
}

/* ns_resolve_dl called with rdi, rsi and rdx kept, the stack aligned for
 * the call (entry: 8 mod 16; three pushes) */
#define RESOLVE_DL                                                      \
    "    push %rdi\n"                                                   \
    "    push %rsi\n"                                                   \
    "    push %rdx\n"                                                   \
    "    call ns_resolve_dl\n"                                          \
    "    pop %rdx\n"                                                    \
    "    pop %rsi\n"                                                    \
    "    pop %rdi\n"
/* at label 1: a jump to the real function, or NULL back while the shim has
 * not connected (nothing can be loaded here yet) */
#define JUMP_TO(real)                                                   \
    "1:  mov " real "(%rip), %rax\n"                                    \
    "    test %rax, %rax\n"                                             \
    "    jz 9f\n"                                                       \
    "    jmp *%rax\n"                                                   \
    "9:  xor %eax, %eax\n"                                              \
    "    ret\n"

__asm__(".text\n"
        ".globl dlopen\n"
        ".type dlopen, @function\n"
        "dlopen:\n"
        RESOLVE_DL
        "    test $0x8, %esi\n"                 /* RTLD_DEEPBIND */
        "    jz 1f\n"
        "    mov ns_deepbind_flag(%rip), %rax\n"
        "    movl $1, (%rax)\n"
        JUMP_TO("ns_real_dlopen")
        ".size dlopen, .-dlopen\n"
        ".globl dlmopen\n"
        ".type dlmopen, @function\n"
        "dlmopen:\n"
        RESOLVE_DL
        "    test %rdi, %rdi\n"                 /* LM_ID_BASE is 0 */
        "    jnz 2f\n"
        "    test $0x8, %edx\n"                 /* RTLD_DEEPBIND */
        "    jz 1f\n"
        "    mov ns_deepbind_flag(%rip), %rax\n"
        "    jmp 3f\n"
        "2:  mov ns_dlmopen_flag(%rip), %rax\n"
        "3:  movl $1, (%rax)\n"
        JUMP_TO("ns_real_dlmopen")
        ".size dlmopen, .-dlmopen\n");

/* ---- what else is loaded here ---- */

struct others {
    uintptr_t self, libc;
    int n;
};

static int holds(const struct dl_phdr_info *info, uintptr_t a)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && a >= lo && a - lo < ph->p_memsz)
            return 1;
    }
    return 0;
}

static int count_other(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct others *o = arg;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    if (holds(info, o->self) || (o->libc && holds(info, o->libc)) || has(name, "/ld-linux") ||
        has(name, "linux-vdso") || !*name)
        return 0;
    o->n++;
    return 0;
}

/* never a tail call: the loader takes the namespace from the return
 * address, which must be in this object */
NS_EXPORT int pp_ns_walk(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg)
{
    const struct pp_ns_link *l = connected();
    int rc = l ? l->iterate(cb, arg) : 0;
    __asm__ volatile("" ::: "memory");
    return rc;
}

/* dl_iterate_phdr lists the objects of its caller's namespace: this one's */
NS_EXPORT int pp_ns_others(void)
{
    const struct pp_ns_link *l = connected();
    struct others o = {(uintptr_t)(void *)pp_ns_others, l ? (uintptr_t)(void *)l->malloc : 0, 0};
    if (!l)
        return -1;
    l->iterate(count_other, &o);
    return o.n;
}
