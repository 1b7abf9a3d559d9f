/*
 * nsshim.c - libperfprobe-ns.so: the shim's hooks inside a link namespace.
 *
 * A library opened with dlmopen into a namespace of its own calls that
 * namespace's copy of libc, which the preloaded shim cannot reach.  The
 * namespace's first object (hooks/nsstub.c) needs this object before the
 * library, so that its names come first in the namespace's lookup scope,
 * as a preload's do in the base namespace: the malloc
 * family, mmap, munmap and mremap, dlopen and dlmopen, exit, _exit and the
 * exec family.  The library's references, and libc's own (strdup, fopen),
 * bind here, as they bind to the shim in the base namespace.  Each hook
 * calls what the library's own reference would have found first bare
 * (nsbind.c binds them: libc's, or an allocator of the library's own) and
 * hands the usable size to the shim's counting through the table the shim
 * connects (nslink.h).  Nothing else is here: no thread, no file, no
 * constructor.  x86_64 Linux only, as the shim's dlmopen hook is.
 *
 * It links nothing, libc included, so that every other name the library
 * looks up finds what it finds bare (its own definition first, then its
 * dependencies', libc's among them).  Nothing here calls a library by
 * name.  The shim's table comes through the one name it references, weak
 * (pp_ns_pending, from an object of the shim's the first object needs).
 *
 * Until the table is taken, blocks come from a small static arena and
 * are never freed (a call that reaches a hook while its own binding is
 * being made is served there too); until the names are bound, the base
 * namespace's functions are called.  The mapping calls are the
 * system calls themselves where libc's would be, as libc makes them; an
 * error is set in this namespace's errno.
 *
 * dlopen and dlmopen pass through by a jump (the loader takes $ORIGIN and
 * the search path from the caller's return address), noting for the shim
 * what its figures then miss: a library that calls dlmopen for yet another
 * namespace, or dlopen with RTLD_DEEPBIND, allocates past these hooks.
 */
#define _GNU_SOURCE
#include "ns/nsbind.h"

#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define NS_EXPORT __attribute__((visibility("default")))

static const struct pp_ns_link *_Atomic link_;

/* what each name calls (nsbind.h): the base namespace's until the names
 * are bound (armed when the table is taken) */
static struct fwd fw;
static _Atomic int armed;               /* 0, 1 armed, 2 being published */

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

static void copy(void *to, const void *from, size_t n)
{
    unsigned char *d = to;
    const unsigned char *s = from;
    while (n--)
        *d++ = *s++;
}

/* the malloc family served from the arena: for a call that reaches a
 * hook while its own thread is binding (an IFUNC resolver that allocates);
 * its blocks are known by address wherever they go later */
static void *arena_malloc(size_t n) { return boot_alloc(16, n); }
static void arena_free(void *p) { (void)p; }
static void *arena_calloc(size_t n, size_t size)
{
    return size && n > SIZE_MAX / size ? NULL : boot_alloc(16, n * size);
}
static void *arena_realloc(void *p, size_t n)
{
    void *q = boot_alloc(16, n);
    if (q && p && is_boot(p))
        copy(q, p, boot_size(p) < n ? boot_size(p) : n);
    return q;
}
static void *arena_reallocarray(void *p, size_t n, size_t size)
{
    return size && n > SIZE_MAX / size ? NULL : arena_realloc(p, n * size);
}
static int arena_posix_memalign(void **out, size_t align, size_t n)
{
    return (*out = boot_alloc(align, n)) ? 0 : ENOMEM;
}
static void *arena_memalign(size_t align, size_t n) { return boot_alloc(align, n); }
static void *arena_valloc(size_t n) { return boot_alloc(4096, n); }
static void *arena_pvalloc(size_t n) { return boot_alloc(4096, (n + 4095) & ~(size_t)4095); }
static size_t arena_usable(void *p) { return p && is_boot(p) ? boot_size(p) : 0; }

/* this object's mark of its version: the first object needs it */
NS_EXPORT const int PP_NS_MARK_ID(PP_NS_LINK_VERSION) = PP_NS_LINK_VERSION;

static _Atomic int adopting;

/* The table taken, the names armed to bind at the first call: by
 * whichever comes first, the first hook call (a constructor of the
 * library, or an IFUNC resolver the loader calls before this object is
 * relocated: then nothing is there yet) or the shim's connect once the
 * open returns.  One thread takes it; one that comes meanwhile is served
 * from the arena, as before the table. */
/* this object's load base: its entry in the loader's list */
static uintptr_t self_base;

static const struct pp_ns_link *adopt(const struct pp_ns_link *l)
{
    int want = 0;
    if (!l || l->version != PP_NS_LINK_VERSION ||
        !atomic_compare_exchange_strong(&adopting, &want, 1))
        return atomic_load_explicit(&link_, memory_order_acquire);
    ns_fwd_base(&fw, l);
    uintptr_t lo, hi;
    ns_self(l, &lo, &hi, &self_base);
    l->located(l, lo, hi);
    atomic_store_explicit(&armed, 1, memory_order_release);
    atomic_store_explicit(&link_, l, memory_order_release);
    return l;
}

static const struct pp_ns_link *connected(void)
{
    const struct pp_ns_link *l = atomic_load_explicit(&link_, memory_order_acquire);
    if (__builtin_expect(l != NULL, 1))
        return l;
    const struct pp_ns_link *const *at = ns_pending();
    return at ? adopt(*at) : NULL;
}

/* errno in this namespace's libc (the base's until bound; none before the
 * shim connects) */
static void set_errno(int e)
{
    const struct pp_ns_link *l = connected();
    if (l)
        *fw.c.errno_location() = e;
}

/* PP_NS_LINK_VERSION when the table is taken; 0 for a table of another
 * version (a shim and an object of different builds): the shim then
 * closes the namespace and goes on without it */
NS_EXPORT int pp_ns_connect(const struct pp_ns_link *l)
{
    if (!l || l->version != PP_NS_LINK_VERSION)
        return 0;
    return adopt(l) == l ? PP_NS_LINK_VERSION : 0;
}

/* ---- the binding ---- *
 * Armed when the table is taken (above), made by the first hook called
 * after that (a constructor's call: the library's objects are mapped and
 * relocated by then) or when the open returns
 * (pp_ns_bind).  Nobody waits for anybody: each thread that finds the
 * binding armed makes its own (into MINE, on its stack; nsbind.c works on
 * a static scope, or on pages mapped for it while another thread has that) and
 * uses it for its call, and the first to finish publishes it.  A call the
 * binding thread itself makes meanwhile (an IFUNC resolver that
 * allocates) is served from the arena. */
static void arena_fwd(const struct pp_ns_link *l, struct fwd *mine)
{
    ns_fwd_base(mine, l);
    mine->c.malloc = arena_malloc;
    mine->c.free = arena_free;
    mine->c.calloc = arena_calloc;
    mine->c.realloc = arena_realloc;
    mine->c.reallocarray = arena_reallocarray;
    mine->c.posix_memalign = arena_posix_memalign;
    mine->c.aligned_alloc = arena_memalign;
    mine->c.memalign = arena_memalign;
    mine->c.valloc = arena_valloc;
    mine->c.pvalloc = arena_pvalloc;
    mine->c.usable = arena_usable;
    mine->counted = 0;
}

static const struct fwd *bind_now(const struct pp_ns_link *l, struct fwd *mine)
{
    if (l->guard(1)) {
        arena_fwd(l, mine);
        return mine;
    }
    int rc = ns_fwd_bind(mine, l);
    l->guard(0);
    if (rc < 0) {                       /* no room to bind in: this call from the arena */
        arena_fwd(l, mine);
        return mine;
    }
    if (rc == 0)
        *l->dlmopen_seen = 1;           /* too many objects to look through */
    if (mine->bound == PP_NS_PASS)
        *l->dlmopen_seen = 1;           /* the heap figures miss it */
    int want = 1;
    if (atomic_compare_exchange_strong(&armed, &want, 2)) {
        fw = *mine;
        atomic_store_explicit(&armed, 0, memory_order_release);
    }
    return mine;
}

/* the forwards in effect for this call: FW, or one made on the caller's
 * stack (MINE) while the binding is armed */
static inline const struct fwd *now(const struct pp_ns_link *l, struct fwd *mine)
{
    if (__builtin_expect(atomic_load_explicit(&armed, memory_order_acquire) == 0, 1))
        return &fw;
    return bind_now(l, mine);
}

#define FWD(l) struct fwd mine_; const struct fwd *F = now((l), &mine_)

static int end_key_made(const struct pp_ns_link *l, const struct fwd *F);

/* the shim, once the open returned: bound unless a hook did, the objects
 * bound into held, and the key that sees threads made here end (below).
 * Answers how it was bound. */
NS_EXPORT int pp_ns_bind(void)
{
    const struct pp_ns_link *l = connected();
    if (!l)
        return PP_NS_NONE;
    struct fwd mine;
    if (atomic_load(&armed))
        bind_now(l, &mine);
    ns_hold(&fw, l);
    end_key_made(l, &fw);
    return fw.bound;
}

/* the objects bound into, held (nsbind.c): OP 0 answers whether they,
 * and what they need, are all the namespace holds besides this object; 1
 * lets them go; 2 takes them again (they stayed: still in use); 3 answers
 * whether the library itself is one of them; 4 whether an object opened
 * into the namespace since needs the library (nsbind.c) */
NS_EXPORT int pp_ns_holds(int op)
{
    const struct pp_ns_link *l = connected();
    if (!l)
        return 0;
    if (op == PP_NS_HELD_ALONE)
        return ns_only_held(l);
    if (op == PP_NS_HELD_LIBRARY)
        return ns_holds_library(l);
    if (op == PP_NS_LIBRARY_NEEDED)
        return ns_library_needed(l);
    if (op == PP_NS_HELD_RELEASE)
        ns_release(l);
    else
        ns_hold(&fw, l);
    return 0;
}

/* ---- the malloc family ---- *
 * COUNTS(i): name I's calls are counted (its forward is libc's, or the
 * library's own allocator's whole family).  CALL wraps a call into an
 * allocator of the library's own in the shim's hook depth, so that the
 * mappings it makes to feed its heap are not counted as the program's. */

#define COUNTS(i) ((F->counted >> (i)) & 1u)
#define CALL(l, r, expr)                                                \
    do {                                                                \
        int was_ = F->own ? (l)->enter() : 0;                           \
        r = expr;                                                       \
        if (F->own)                                                     \
            (l)->leave(was_);                                           \
    } while (0)

/* a block handed out by the forward of name I, counted if it is */
static void *handed(const struct pp_ns_link *l, const struct fwd *F, int i, void *p)
{
    if (p && COUNTS(i)) {
        size_t u;
        CALL(l, u, F->c.usable(p));
        l->alloc(p, u);
    }
    return p;
}

/* the hooks' own calls of each other go to these, never to the exported
 * names (which are the namespace's, and the base namespace's too) */
static void *ns_malloc(size_t n)
{
    const struct pp_ns_link *l = connected();
    if (!l)
        return boot_alloc(16, n);
    FWD(l);
    void *p;
    CALL(l, p, F->c.malloc(n));
    return handed(l, F, F_MALLOC, p);
}

NS_EXPORT void *malloc(size_t n)
{
    return ns_malloc(n);
}

NS_EXPORT void free(void *p)
{
    const struct pp_ns_link *l = connected();
    if ((p && is_boot(p)) || !l)
        return;
    FWD(l);
    if (p && COUNTS(F_FREE)) {
        size_t u;
        CALL(l, u, F->c.usable(p));
        l->moving(p, u);
        l->freed(p, u);
    }
    int was = F->own ? l->enter() : 0;
    F->c.free(p);
    if (F->own)
        l->leave(was);
}

NS_EXPORT void *calloc(size_t n, size_t size)
{
    const struct pp_ns_link *l = connected();
    if (!l) {
        if (size && n > SIZE_MAX / size)
            return NULL;
        return boot_alloc(16, n * size);       /* static: already zero */
    }
    FWD(l);
    void *p;
    CALL(l, p, F->c.calloc(n, size));
    return handed(l, F, F_CALLOC, p);
}

/* realloc and reallocarray: FN the forward called with (P, N, SIZE);
 * reallocarray's own forward gets all three, realloc's the product */
static void *resize(const struct pp_ns_link *l, const struct fwd *F, int i, void *p, size_t n,
                    size_t size)
{
    void *q;
#define RESIZE_CALL() (i == F_REALLOCARRAY ? F->c.reallocarray(p, n, size) : F->c.realloc(p, n))
    if (!p) {
        CALL(l, q, RESIZE_CALL());
        return handed(l, F, i, q);
    }
    if (!COUNTS(i)) {
        CALL(l, q, RESIZE_CALL());
        return q;
    }
    size_t old, u = 0;
    CALL(l, old, F->c.usable(p));
    l->moving(p, old);
    CALL(l, q, RESIZE_CALL());
    if (q) {
        CALL(l, u, F->c.usable(q));
        l->resized(q, old, u);
    } else if (n == 0 && size != 0) {
        l->freed(NULL, old);                   /* glibc's realloc(p, 0) frees */
    }
#undef RESIZE_CALL
    return q;
}

static void *ns_realloc(void *p, size_t n)
{
    const struct pp_ns_link *l = connected();
    if (p && is_boot(p)) {
        void *q = ns_malloc(n);
        size_t had = boot_size(p);
        if (q)
            copy(q, p, had < n ? had : n);
        return q;
    }
    if (!l)
        return p ? NULL : boot_alloc(16, n);
    FWD(l);
    return resize(l, F, F_REALLOC, p, n, 1);
}

NS_EXPORT void *realloc(void *p, size_t n)
{
    return ns_realloc(p, n);
}

/* libc's reallocarray calls realloc inside libc, past these hooks: the
 * product checked here, and realloc's forward called; an allocator of the
 * library's own that has one gets its own */
NS_EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
    const struct pp_ns_link *l = connected();
    if (l) {
        FWD(l);
        if (F->from[F_REALLOCARRAY])
            return resize(l, F, F_REALLOCARRAY, p, n, size);
    }
    if (size && n > SIZE_MAX / size) {
        set_errno(ENOMEM);
        return NULL;
    }
    return ns_realloc(p, n * size);
}

NS_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    const struct pp_ns_link *l = connected();
    if (!l)
        return (*out = boot_alloc(align, n)) ? 0 : ENOMEM;
    FWD(l);
    int rc;
    CALL(l, rc, F->c.posix_memalign(out, align, n));
    if (rc == 0)
        handed(l, F, F_POSIX_MEMALIGN, *out);
    return rc;
}

#define ALIGNED(name, i, params, args, bootargs)                        \
    NS_EXPORT void *name params                                         \
    {                                                                   \
        const struct pp_ns_link *l = connected();                       \
        if (!l)                                                         \
            return boot_alloc bootargs;                                 \
        FWD(l);                                                         \
        void *p;                                                        \
        CALL(l, p, F->c.name args);                                     \
        return handed(l, F, i, p);                                      \
    }

ALIGNED(aligned_alloc, F_ALIGNED_ALLOC, (size_t align, size_t n), (align, n), (align, n))
ALIGNED(memalign, F_MEMALIGN, (size_t align, size_t n), (align, n), (align, n))
ALIGNED(valloc, F_VALLOC, (size_t n), (n), (4096, n))
ALIGNED(pvalloc, F_PVALLOC, (size_t n), (n), (4096, (n + 4095) & ~(size_t)4095))

NS_EXPORT size_t malloc_usable_size(void *p)
{
    const struct pp_ns_link *l = connected();
    if (p && is_boot(p))
        return boot_size(p);
    if (!l)
        return 0;
    FWD(l);
    size_t u;
    CALL(l, u, F->c.usable(p));
    return u;
}

/* ---- mappings: the system calls, as libc's own wrappers make them ---- *
 * Made here with the instruction itself: this object's own names are the
 * hooks, and an error is set in this namespace's errno as libc sets it. */

static long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
    long ret = ns_sys(nr, a, b, c, d, e, f);
    if (ret < 0 && ret > -4096) {
        set_errno((int)-ret);
        return -1;
    }
    return ret;
}

static long sys5(long nr, long a, long b, long c, long d, long e)
{
    return sys6(nr, a, b, c, d, e, 0);
}

static void *map_now(void *(*fn)(void *, size_t, int, int, int, off_t), void *addr, size_t len,
                     int prot, int flags, int fd, off_t off)
{
    const struct pp_ns_link *l = connected();
    void *r = fn ? fn(addr, len, prot, flags, fd, off)
                 : (void *)sys6(SYS_mmap, (long)addr, (long)len, prot, flags, fd, (long)off);
    if (r != MAP_FAILED && l)
        l->mapped(r, len, flags);
    return r;
}

NS_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    const struct pp_ns_link *l = connected();
    if (!l)
        return map_now(NULL, addr, len, prot, flags, fd, off);
    FWD(l);
    return map_now(F->mmap, addr, len, prot, flags, fd, off);
}

NS_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    const struct pp_ns_link *l = connected();
    if (!l)
        return map_now(NULL, addr, len, prot, flags, fd, off);
    FWD(l);
    return map_now(F->mmap64 ? F->mmap64 : F->mmap, addr, len, prot, flags, fd, off);
}

NS_EXPORT int munmap(void *addr, size_t len)
{
    const struct pp_ns_link *l = connected();
    struct fwd mine_;
    const struct fwd *F = l ? now(l, &mine_) : NULL;
    int rc = F && F->munmap ? F->munmap(addr, len)
                            : (int)sys5(SYS_munmap, (long)addr, (long)len, 0, 0, 0);
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
    /* as glibc reads it: the new address is a placement hint with
     * MREMAP_DONTUNMAP alone */
    if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) {
        va_list ap;
        va_start(ap, flags);
        target = va_arg(ap, void *);
        va_end(ap);
    }
    const struct pp_ns_link *l = connected();
    struct fwd mine_;
    const struct fwd *F = l ? now(l, &mine_) : NULL;
    void *r = F && F->mremap ? F->mremap(old, old_len, new_len, flags, target)
                        : (void *)sys5(SYS_mremap, (long)old, (long)old_len, (long)new_len, flags,
                                       (long)target);
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
    struct fwd mine_;
    const struct fwd *F = l ? now(l, &mine_) : NULL;
    ns_real_dlopen = F ? F->c.dlopen : NULL;
    ns_real_dlmopen = F ? F->c.dlmopen : NULL;
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

/* never a tail call: the loader takes the namespace from the return
 * address, which must be in this object */
NS_EXPORT int pp_ns_walk(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg)
{
    const struct pp_ns_link *l = connected();
    int rc = l ? l->iterate(cb, arg) : 0;
    __asm__ volatile("" ::: "memory");
    return rc;
}

/* ---- dl_iterate_phdr: the namespace's objects as listed bare ---- *
 * The loader lists the shim's first object, the table's holder and this
 * object ahead of the library.  A library that walks its namespace gets
 * the list it gets bare: the first two left out, and this one after the
 * rest, so that the library comes first (with the counts of loads and
 * unloads the last one shown had: a callback may open or close objects).
 * The loader lists a namespace in load order, and the first two were
 * loaded before this one: what comes before this one's entry is left out,
 * what comes after is shown, and no entry is read but for its load base
 * (a signal handler's walk may meet an object being unmapped by its own
 * thread's dlclose).  The walk is the namespace's own libc's, as bare, so
 * that a callback's caller is an object the namespace lists (an unwinder
 * that finds frames through dl_iterate_phdr goes past it).  The shim's
 * own walks call the base's (pp_ns_walk). */
struct bare_list {
    int (*cb)(struct dl_phdr_info *, size_t, void *);
    void *arg;
    struct dl_phdr_info self;
    size_t self_size;
    unsigned long long adds, subs;
};

static int list_bare(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct bare_list *g = arg;
    if (!g->self_size && info->dlpi_addr == self_base) {
        g->self_size = size < sizeof g->self ? size : sizeof g->self;
        copy(&g->self, info, g->self_size);
        return 0;
    }
    if (!g->self_size && self_base)
        return 0;                       /* the first object, the table's holder */
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
        g->adds = info->dlpi_adds;
        g->subs = info->dlpi_subs;
    }
    return g->cb(info, size, g->arg);
}

NS_EXPORT int dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg)
{
    const struct pp_ns_link *l = connected();
    struct bare_list g = {.cb = cb, .arg = arg};
    if (!l)
        return 0;
    FWD(l);
    int rc = (F->iterate ? F->iterate : l->iterate)(list_bare, &g);
    __asm__ volatile("" ::: "memory");  /* never a tail call (as above) */
    if (rc == 0 && g.self_size) {
        if (g.self_size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof g.self.dlpi_subs &&
            (g.adds || g.subs)) {
            g.self.dlpi_adds = g.adds;
            g.self.dlpi_subs = g.subs;
        }
        rc = cb(&g.self, g.self_size, arg);
    }
    return rc;
}

/* the objects of this namespace besides this one, the table's holder and
 * the loader (nsbind.c) */
NS_EXPORT int pp_ns_others(void)
{
    const struct pp_ns_link *l = connected();
    return l ? ns_others(l) : -1;
}

/* ---- exit and exec made here ---- *
 * The namespace's libc ends or replaces the process past the shim's own
 * hooks (its exit runs only the handlers registered in this namespace,
 * then _exit, as bare): the shim's part is made here first, as its own
 * hooks make it (hooks/process.c): the summary, the records held, the
 * image's last records before an exec. */

static long exit_group_now(long status)
{
    return sys5(SYS_exit_group, status, 0, 0, 0, 0);
}

NS_EXPORT void exit(int status)
{
    const struct pp_ns_link *l = connected();
    if (l) {
        FWD(l);
        l->finish();
        F->c.exit(status);
    }
    exit_group_now(status);
    __builtin_unreachable();
}

__attribute__((noreturn)) static void ns_exit_now(int status)
{
    const struct pp_ns_link *l = connected();
    if (l) {
        FWD(l);
        l->exit_now();
        F->c.exit_now(status);
    }
    exit_group_now(status);
    __builtin_unreachable();
}

NS_EXPORT void _exit(int status)
{
    ns_exit_now(status);
}

NS_EXPORT void _Exit(int status)
{
    ns_exit_now(status);
}

/* the exec forms: the image's last records, the call, and, if it failed,
 * the image goes on (errno as the call left it) */
#define EXEC_FORM(name, params, file, args, envp, search)               \
    static int ns_##name params                                         \
    {                                                                   \
        const struct pp_ns_link *l = connected();                       \
        if (!l) {                                                       \
            set_errno(ENOSYS);                                          \
            return -1;                                                  \
        }                                                               \
        FWD(l);                                                         \
        int began = l->exec_begin(file, argv, envp, search);            \
        int rc = F->c.name args;                                        \
        int e = *F->c.errno_location();                                 \
        l->exec_failed(began, file);                                    \
        *F->c.errno_location() = e;                                     \
        return rc;                                                      \
    }                                                                   \
    NS_EXPORT int name params                                           \
    {                                                                   \
        return ns_##name args;                                          \
    }

EXEC_FORM(execve, (const char *path, char *const argv[], char *const envp[]), path,
          (path, argv, envp), envp, 0)
EXEC_FORM(execv, (const char *path, char *const argv[]), path, (path, argv), NULL, 0)
EXEC_FORM(execvp, (const char *file, char *const argv[]), file, (file, argv), NULL, 1)
EXEC_FORM(execvpe, (const char *file, char *const argv[], char *const envp[]), file,
          (file, argv, envp), envp, 1)
EXEC_FORM(fexecve, (int fd, char *const argv[], char *const envp[]),
          argv[0] ? argv[0] : "(fexecve)", (fd, argv, envp), envp, 0)

/* execl, execlp, execle: the arguments gathered into an array on the
 * stack, then the v-form above, as glibc itself does */
static int count_args(va_list ap)
{
    int n = 1;
    while (va_arg(ap, char *))
        n++;
    return n;
}

#define GATHER(first, argv, extra)                                      \
    va_list ap;                                                         \
    va_start(ap, first);                                                \
    int n_ = count_args(ap);                                            \
    va_end(ap);                                                         \
    char *argv[n_ + 1];                                                 \
    argv[0] = (char *)first;                                            \
    va_start(ap, first);                                                \
    for (int i_ = 1; i_ <= n_; i_++)                                    \
        argv[i_] = va_arg(ap, char *);                                  \
    extra;                                                              \
    va_end(ap)

NS_EXPORT int execl(const char *path, const char *arg, ...)
{
    GATHER(arg, argv, (void)0);
    return ns_execv(path, argv);
}

NS_EXPORT int execlp(const char *file, const char *arg, ...)
{
    GATHER(arg, argv, (void)0);
    return ns_execvp(file, argv);
}

NS_EXPORT int execle(const char *path, const char *arg, ...)
{
    char *const *envp;
    GATHER(arg, argv, envp = va_arg(ap, char *const *));
    return ns_execve(path, argv, envp);
}

/* ---- threads made here ---- *
 * The namespace's pthread_create makes threads with its own libc's
 * thread-specific keys in the same slots as the base libc's: the shim must
 * not set its key on them (core/counters.c), and that libc runs its own
 * keys' destructors when they end, not the shim's.  Each such thread
 * starts in ns_thread_start, which tells the shim first.  The thread's
 * slot and region state are given back by the destructor of a key of that
 * libc's (end_key), which it runs whether the start routine returns or
 * the thread calls pthread_exit or is cancelled, after its cleanup
 * handlers and its C++ thread_local destructors; the destructor sets its
 * key again for the next round, up to glibc's four
 * (PTHREAD_DESTRUCTOR_ITERATIONS), so that state taken again by another
 * key's destructor after it ran (a region begun) is given back too, and
 * after the last no region is begun there; a round finds the key only, as
 * other keys' values were cleared before their destructors ran.  The key
 * is made as the namespace is set up (pp_ns_bind, inside the program's
 * dlmopen, before any other thread can have its handle), numbered 30 as
 * the shim's own keys are in the base libc and in the same way
 * (sys/linux/os.c): the numbers below it free then are held while it is
 * made, so that the namespace's own keys are numbered as bare up to their
 * thirtieth, and it is made twice, so that its sequence number is 3, as
 * the shim's keys' are, and not the 1 of a key that libc makes later with
 * a number the shim uses.  A thread that libc makes for itself (a
 * SIGEV_THREAD timer's), on which the shim sets its counters key, so
 * gets this destructor with that key's value: the state goes then too.
 * Its slot is one the shim never sets on threads made here (30 or 31: one
 * past those has its slot allocated at first use, which the program's
 * allocator would do; then none is made).  Without the key (no libc of the
 * namespace's own, no number left), or on a thread a constructor made,
 * the state is given back when the start routine returns, and a thread
 * that calls pthread_exit keeps it.  The start routine and its
 * argument go over in a block of the base allocator's, past the hooks. */
struct start {
    void *(*fn)(void *);
    void *arg;
};

#define END_KEY_AT   30
#define END_KEY_LAST 32                 /* glibc's PTHREAD_KEY_2NDLEVEL_SIZE: slots in the thread */
#define END_ROUNDS   4
static _Atomic int end_key_state;       /* 0 not yet, 1 being made, 2 made, 3 none */
static unsigned end_key;

/* V: the round, from 1; or the shim's counters key's value (above) */
static void thread_ended(void *v)
{
    const struct pp_ns_link *l = connected();
    uintptr_t round = (uintptr_t)v;
    if (!l)
        return;
    l->thread_ends(round >= END_ROUNDS);
    if (round < END_ROUNDS) {
        FWD(l);
        F->c.pthread_setspecific(end_key, (const void *)(round + 1));
    }
}

/* end_key made in the libc of F, which makes the threads; 0: none */
static int end_key_made(const struct pp_ns_link *l, const struct fwd *F)
{
    int st = atomic_load(&end_key_state);
    if (st >= 2)
        return st == 2;
    if (F->c.pthread_create == l->base.pthread_create ||
        F->c.pthread_key_create == l->base.pthread_key_create ||
        F->c.pthread_key_delete == l->base.pthread_key_delete ||
        F->c.pthread_setspecific == l->base.pthread_setspecific)
        return 0;                       /* the base libc's threads: not bound yet */
    int zero = 0;
    if (!atomic_compare_exchange_strong(&end_key_state, &zero, 1))
        return 0;                       /* another thread makes it: this one goes without */
    unsigned held[END_KEY_AT], k;
    int n = 0, ok = 0;
    while (n < END_KEY_AT && F->c.pthread_key_create(&k, NULL) == 0) {
        if (k >= END_KEY_AT) {
            F->c.pthread_key_delete(k);
            break;
        }
        held[n++] = k;
    }
    if (F->c.pthread_key_create(&end_key, thread_ended) == 0 &&
        F->c.pthread_key_delete(end_key) == 0 &&
        F->c.pthread_key_create(&end_key, thread_ended) == 0) {
        ok = end_key < END_KEY_LAST;
        if (!ok)                        /* its slot would be allocated, by the program's allocator */
            F->c.pthread_key_delete(end_key);
    }
    while (n > 0)
        F->c.pthread_key_delete(held[--n]);
    atomic_store(&end_key_state, ok ? 2 : 3);
    return ok;
}

static void *ns_thread_start(void *p)
{
    const struct pp_ns_link *l = connected();
    struct start st = *(struct start *)p;
    l->base.free(p);
    l->thread_begins();
    int keyed = 0;
    if (atomic_load(&end_key_state) == 2) {
        FWD(l);
        keyed = F->c.pthread_setspecific(end_key, (const void *)1) == 0;
    }
    void *r = st.fn(st.arg);
    if (!keyed)
        l->thread_ends(1);
    return r;
}

NS_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                             void *arg)
{
    const struct pp_ns_link *l = connected();
    if (!l)
        return EAGAIN;
    FWD(l);
    int (*create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *) =
        (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *))F->c.pthread_create;
    struct start *st = l->base.malloc(sizeof *st);
    if (!st)
        return create(t, attr, fn, arg);
    *st = (struct start){fn, arg};
    int rc = create(t, attr, ns_thread_start, st);
    if (rc != 0)
        l->base.free(st);
    return rc;
}

/* ---- fork made here ---- *
 * This namespace's libc forks past the base libc, whose preparations the
 * shim's own fork handling rides on: the shim's part is made around it
 * (its locks, and the child's start, with no sampler thread: life.c). */
NS_EXPORT pid_t fork(void)
{
    const struct pp_ns_link *l = connected();
    if (!l)
        return (pid_t)sys5(SYS_fork, 0, 0, 0, 0, 0);
    FWD(l);
    /* the base libc's own fork (unbound, or found nowhere else) runs the
     * shim's part itself, from its pthread_atfork handlers */
    if (F->c.fork == l->base.fork)
        return (pid_t)F->c.fork();
    int began = l->fork_begin();
    pid_t pid = F->c.fork();
    l->fork_end(began, pid == 0);
    return pid;
}
