/*
 * alloc.c - the interposed allocator and mmap functions, and nothing else.
 *
 * Each hook calls the real function (resolved once, on the first call, by
 * core/allocator.c over the system layer's sys/<system>/real.c) and hands
 * the result to counters.c or mappings.c; the allocator's state, the
 * bootstrap arena and the usable size are allocator.c's, read here
 * through core/allocator.h.
 * On macOS the same bodies are the hooks of an __interpose table (sys.h:
 * PP_HOOK), and the functions only glibc or Linux have are left out there.
 * Three hazards shape this file:
 *
 *  - Bootstrap.  dlsym itself calls calloc (and malloc for its error
 *    strings) before the real allocator is known.  While resolving, those
 *    calls are served from allocator.c's static arena; its pointers are
 *    recognised by address and never reach the real free.
 *  - Recursion.  Anything done inside a hook may allocate.  pp_in_hook, an
 *    initial-exec TLS flag, sends nested calls straight to the real
 *    functions, uncounted: they are the allocator's or the shim's business.
 *    mmap made while the flag is set is the allocator getting memory for
 *    the heap (jemalloc does this) and is not counted again as a mapping.
 *  - Foreign allocators.  When jemalloc is the allocator, its own API
 *    (mallocx, rallocx, xallocx, dallocx, sdallocx) is interposed too.
 *    Without jemalloc those names still work, over the standard functions;
 *    mallctl and friends are deliberately not exported, so a program that
 *    probes for jemalloc through weak references (folly) is not fooled.
 */
#define _GNU_SOURCE
#include "core/allocator.h"
#include "core/sites.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/auxv.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/stat.h>
#endif
#if defined(__APPLE__)
#include <mach/mach.h>
#include <malloc/malloc.h>
#include <stdlib.h>
#endif

/* dlopen: only to notice RTLD_DEEPBIND (a library loaded with it calls
 * libc's malloc directly, past the hooks, and may free through them).
 * The hook must not change which object dlopen believes called it: glibc
 * searches the caller's RUNPATH and expands $ORIGIN relative to the
 * caller.  So it is a few instructions that record the flag and jump (not
 * call) to the real dlopen, which then sees the program's return address. */
#if defined(__x86_64__) && defined(__linux__)
/* used and externally visible: read from the asm below, which LTO does not
 * see, so it must keep the name whatever partition each lands in */
void *pp_real_dlopen __attribute__((visibility("hidden"), used, externally_visible));
__attribute__((used, externally_visible, visibility("hidden"))) void *pp_resolve_dlopen(void)
{
    if (!pp_real_dlopen)
        pp_real_dlopen = pp_real_next("dlopen");
    return pp_real_dlopen;
}
__attribute__((used, externally_visible, visibility("hidden"))) _Atomic int *pp_deepbind_flag =
    &pp_deepbind_seen;
/* dlopen calls so far (a libpython loaded late: pyframes.c's watch) */
__attribute__((used, externally_visible, visibility("hidden"))) _Atomic unsigned *pp_dlopen_count =
    &pp_dlopens;
__attribute__((used, visibility("hidden"))) _Atomic int *pp_bind_flag = &pp_bind_active;
/* A library named by a path (a '/' and no '$': the caller's RUNPATH and
 * $ORIGIN play no part) opened with RTLD_DEEPBIND, or any while bind.c is
 * active, is opened from here and its references bound to the hooks. */
__attribute__((used, externally_visible, visibility("hidden"))) void *
pp_dlopen_bound(const char *file, int mode)
{
    void *h = ((void *(*)(const char *, int))pp_resolve_dlopen())(file, mode);
    if (h) {
        int saved = pp_in_hook;
        pp_in_hook = 1;
        pp_bind_all((void *)pp_real.malloc, pp_alloc_foreign, (mode & RTLD_DEEPBIND) != 0);
        pp_in_hook = saved;
    }
    return h;
}
/* A bare name opened with RTLD_DEEPBIND (no '/', no '$'): the loader would
 * look in the caller's search path, which the shim's own dlopen would not
 * see.  glibc gives that path (dlinfo RTLD_DI_SERINFO, in the loader's
 * order: the caller's DT_RPATH and its loaders', LD_LIBRARY_PATH, its
 * DT_RUNPATH, then the system directories, before which the loader reads
 * ld.so.cache).  The directories the caller has and the shim has not (its
 * list ends with the same system directories, and the shim has no RPATH
 * or RUNPATH of its own) are looked in here, in order: the first that
 * holds the file gives the path to open.  Else the shim's own search
 * (LD_LIBRARY_PATH, the cache, the system directories) is the caller's:
 * the name is opened as it is.  NULL (the call goes on untouched, as
 * before): a caller outside the base namespace, or a list glibc does not
 * give.  The name to open is in a mapping of the shim's own (not the
 * program's heap, nor per-thread memory every thread would pay for),
 * unmapped after the open (pp_dlopen_owned). */
#define WHERE_LEN 4096

static Dl_serinfo *search_list(void *map, size_t *len)
{
    Dl_serinfo size;
    if (dlinfo(map, RTLD_DI_SERINFOSIZE, &size) != 0)
        return NULL;
    Dl_serinfo *si = pp_os_map(size.dls_size);
    if (!si)
        return NULL;
    *len = size.dls_size;
    si->dls_size = size.dls_size;
    si->dls_cnt = size.dls_cnt;
    if (dlinfo(map, RTLD_DI_SERINFOSIZE, si) != 0 || dlinfo(map, RTLD_DI_SERINFO, si) != 0) {
        pp_os_unmap(si, *len);
        return NULL;
    }
    return si;
}

/* $ORIGIN (or ${ORIGIN}) in the name: the directory of the caller's object
 * (of the executable, through /proc/self/exe, when the caller is the
 * program), as the loader expands it.  $LIB and $PLATFORM (or ${LIB},
 * ${PLATFORM}) stay as they are: the loader expands them with its own
 * values (DL_DST_LIB, built into glibc; AT_PLATFORM), the same whoever
 * calls, when the shim opens the name.  Any other '$' is a character of
 * the name, as the loader takes it (glibc's _dl_dst_substitute copies a
 * '$' that starts no token it knows).  0 (the call goes on untouched) for
 * a set-user-ID program (the loader restricts $ORIGIN there), a name
 * without a '/' once expanded (the caller's search path would apply), or
 * a name too long. */
static size_t dst_token(const char *p, const char *name)
{
    size_t n = strlen(name);
    if (p[0] != '$')
        return 0;
    if (!strncmp(p + 1, name, n) && (p[1 + n] == '/' || !p[1 + n]))
        return 1 + n;
    if (p[1] == '{' && !strncmp(p + 2, name, n) && p[2 + n] == '}')
        return 3 + n;
    return 0;
}

/* a token the loader expands somewhere in FILE */
static int has_token(const char *file)
{
    for (const char *p = strchr(file, '$'); p; p = strchr(p + 1, '$'))
        if (dst_token(p, "ORIGIN") || dst_token(p, "LIB") || dst_token(p, "PLATFORM"))
            return 1;
    return 0;
}

static int expand_origin(const char *file, const struct link_map *lm, char *out, size_t cap)
{
    char origin[4096];
    size_t ol;
    if (getauxval(AT_SECURE))
        return 0;
    if (lm->l_name && lm->l_name[0]) {
        ol = strlen(lm->l_name);
        if (ol >= sizeof origin)
            return 0;
        memcpy(origin, lm->l_name, ol + 1);
    } else {
        ssize_t n = readlink("/proc/self/exe", origin, sizeof origin - 1);
        if (n <= 0)
            return 0;
        origin[n] = 0;
    }
    char *slash = strrchr(origin, '/');
    if (!slash)
        return 0;
    ol = slash == origin ? 1 : (size_t)(slash - origin);
    origin[ol] = 0;
    size_t n = 0;
    for (const char *p = file; *p;) {
        size_t skip = dst_token(p, "ORIGIN"), keep = 0;
        if (!skip && *p == '$' && !(keep = dst_token(p, "LIB")))
            keep = dst_token(p, "PLATFORM");
        if (keep) {                     /* for the loader */
            if (n + keep >= cap)
                return 0;
            memcpy(out + n, p, keep);
            n += keep;
            p += keep;
        } else if (skip) {
            if (n + ol >= cap)
                return 0;
            memcpy(out + n, origin, ol);
            n += ol;
            p += skip;
        } else {
            if (n + 1 >= cap)
                return 0;
            out[n++] = *p++;
        }
    }
    out[n] = 0;
    return strchr(out, '/') != NULL;
}

__attribute__((used, externally_visible, visibility("hidden"))) char *
pp_dlopen_where(const char *file, const void *caller)
{
    int saved_errno = errno;
    Dl_info info;
    struct link_map *theirs = NULL, *mine = NULL;
    Lmid_t ns = -1;
    char *out = NULL;
    if (!dladdr1(caller, &info, (void **)&theirs, RTLD_DL_LINKMAP) || !theirs ||
        !dladdr1((void *)pp_dlopen_where, &info, (void **)&mine, RTLD_DL_LINKMAP) || !mine ||
        dlinfo(theirs, RTLD_DI_LMID, &ns) != 0 || ns != LM_ID_BASE)
        goto done;
    size_t la = 0, lb = 0, fl = strlen(file);
    if (has_token(file)) {
        out = pp_os_map(WHERE_LEN);
        if (out && !expand_origin(file, theirs, out, WHERE_LEN)) {
            pp_os_unmap(out, WHERE_LEN);
            out = NULL;
        }
        goto done;
    }
    if (strchr(file, '/')) {            /* a path whose '$' the loader keeps */
        out = fl < WHERE_LEN ? pp_os_map(WHERE_LEN) : NULL;
        if (out)
            memcpy(out, file, fl + 1);
        goto done;
    }
    Dl_serinfo *a = search_list(theirs, &la), *b = a ? search_list(mine, &lb) : NULL;
    char *path = a && b && fl < WHERE_LEN ? pp_os_map(WHERE_LEN) : NULL;
    if (path) {
        /* the system directories: the end both lists share */
        unsigned na = a->dls_cnt, nb = b->dls_cnt;
        while (na && nb && !strcmp(a->dls_serpath[na - 1].dls_name, b->dls_serpath[nb - 1].dls_name))
            na--, nb--;
        int found = 0;
        for (unsigned i = 0; i < na && !found; i++) {
            const char *dir = a->dls_serpath[i].dls_name;
            size_t dl = strlen(dir);
            struct stat st;
            if (dl + 1 + fl + 1 > WHERE_LEN)
                continue;
            memcpy(path, dir, dl);
            path[dl] = '/';
            memcpy(path + dl + 1, file, fl + 1);
            found = stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
                    pp_os_elf_class(path) == 0; /* the loader passes over another class */
        }
        if (!found)                  /* the shim's own search is the rest */
            memcpy(path, file, fl + 1);
        out = path;
    }
    if (a)
        pp_os_unmap(a, la);
    if (b)
        pp_os_unmap(b, lb);
done:
    errno = saved_errno;
    return out;
}

/* a name pp_dlopen_where gave, once opened (namespace.c's dlmopen too):
 * unmapped, errno as the open left it */
__attribute__((used, externally_visible, visibility("hidden"))) void pp_dlopen_where_done(char *path)
{
    int saved_errno = errno;
    pp_os_unmap(path, WHERE_LEN);
    errno = saved_errno;
}

__attribute__((used, externally_visible, visibility("hidden"))) void *
pp_dlopen_owned(char *path, int mode)
{
    void *h = pp_dlopen_bound(path, mode);
    pp_dlopen_where_done(path);
    return h;
}

__asm__(".text\n"
        ".globl dlopen\n"
        ".type dlopen, @function\n"
        "dlopen:\n"
        "    mov pp_dlopen_count(%rip), %rax\n"
        "    lock incl (%rax)\n"
        "    test $0x8, %esi\n"                 /* RTLD_DEEPBIND */
        "    jnz 3f\n"
        "    mov pp_bind_flag(%rip), %rax\n"
        "    cmpl $0, (%rax)\n"
        "    jz 1f\n"
        "3:  test %rdi, %rdi\n"
        "    jz 5f\n"
        "    mov %rdi, %rax\n"
        "    xor %edx, %edx\n"                  /* seen a '/' */
        "4:  movzbl (%rax), %ecx\n"
        "    test %ecx, %ecx\n"
        "    jz 6f\n"
        "    cmp $0x24, %ecx\n"                 /* '$' */
        "    je 8f\n"
        "    cmp $0x2f, %ecx\n"                 /* '/' */
        "    jne 7f\n"
        "    mov $1, %edx\n"
        "7:  inc %rax\n"
        "    jmp 4b\n"
        "6:  test %edx, %edx\n"
        "    jz 8f\n"
        "    jmp pp_dlopen_bound\n"
        "8:  test $0x8, %esi\n"                 /* a bare name: with DEEPBIND, */
        "    jz 5f\n"                           /* found as the caller would */
        "    push %rdi\n"
        "    push %rsi\n"
        "    mov 16(%rsp), %rsi\n"              /* the caller's return address */
        "    sub $8, %rsp\n"
        "    call pp_dlopen_where\n"
        "    add $8, %rsp\n"
        "    pop %rsi\n"
        "    pop %rdi\n"
        "    test %rax, %rax\n"
        "    jz 5f\n"
        "    mov %rax, %rdi\n"
        "    jmp pp_dlopen_owned\n"
        "5:  test $0x8, %esi\n"
        "    jz 1f\n"
        "    mov pp_deepbind_flag(%rip), %rax\n"
        "    movl $1, (%rax)\n"
        "1:  mov pp_real_dlopen(%rip), %rax\n"
        "    test %rax, %rax\n"
        "    jz 2f\n"
        "    jmp *%rax\n"
        "2:  push %rdi\n"
        "    push %rsi\n"
        "    sub $8, %rsp\n"
        "    call pp_resolve_dlopen\n"
        "    add $8, %rsp\n"
        "    pop %rsi\n"
        "    pop %rdi\n"
        "    jmp *%rax\n"
        ".size dlopen, .-dlopen\n");

#endif

/* The real allocator's state (allocator.c), as the hooks read it: no
 * ordering needed, it only ever moves forward */
static inline int ready_state(void)
{
    return atomic_load_explicit(&pp_alloc_state, memory_order_relaxed);
}

static inline int resolved(void)
{
    return ready_state() >= PP_ALLOC_READY;
}

static inline int in_bootstrap(void)
{
    return ready_state() == PP_ALLOC_RESOLVING;
}

/* A nested call that must not reach glibc's allocator (single.c) */
static int aside_wanted(void)
{
    return ready_state() == PP_ALLOC_READY_GLIBC && pp_single_served_aside();
}

/* realloc served aside: the old block (the allocator's: realloc_slow
 * moves a bootstrap block before this point) is left as is */
static void *aside_realloc(void *p, size_t n)
{
    void *q = pp_boot_alloc(n);
    if (q && p) {
        size_t old = pp_usable_fast(p);
        memcpy(q, p, old < n ? old : n);
    }
    return q;
}

/* Resolve the real functions on first use. */
#define RESOLVE_FIRST()                                                 \
    do {                                                                \
        if (PP_UNLIKELY(!resolved()))                                   \
            pp_resolve();                                               \
    } while (0)
/* Nested calls pass straight through, but for the sampler thread's while
 * glibc's allocator takes no locks (single.c): those are served ASIDE, from
 * the bootstrap arena.  The others hold the flag. */
#define ENTER_OR_ASIDE(passthrough, aside)                              \
    do {                                                                \
        if (pp_in_hook) {                                               \
            if (PP_UNLIKELY(pp_in_hook == PP_IN_HOOK_PROBING))          \
                pp_alloc_probe_hit = 1;                                 \
            if (PP_UNLIKELY(pp_in_hook == PP_IN_HOOK_OWN) ||            \
                PP_UNLIKELY(aside_wanted()))                            \
                return aside;                                           \
            return passthrough;                                         \
        }                                                               \
        pp_in_hook = 1;                                                 \
    } while (0)
#define ENTER_OR(passthrough) ENTER_OR_ASIDE(passthrough, passthrough)
#define LEAVE() (pp_in_hook = 0)

/* A nested call's block, passed through.  Inside a C++ operator new
 * (cxx.c) a failure of the operator's own call (N bytes: its size, or 1
 * for 0, or rounded up to its alignment) lowers the flag: the operator's
 * next steps are the program's own and are counted (hot.h,
 * PP_IN_HOOK_CXX) */
static inline void cxx_failed(size_t n)
{
    size_t want = pp_hot.cxx_size;
    if (n >= want && n - want <= 65536)
        pp_in_hook = 0;
}

static inline void *passed(void *p, size_t n)
{
    if (PP_UNLIKELY(!p) && pp_in_hook == PP_IN_HOOK_CXX)
        cxx_failed(n);
    return p;
}

/* ---- fast paths: glibc's allocator --------------------------------------- *
 *
 * With glibc's allocator the common calls take a shorter path: the hook
 * flag is not raised around the real call, and free ends in a tail call.
 * glibc's malloc, calloc and free call nothing that reaches a hook (their
 * system calls are libc-internal), so no nested call can arrive while the
 * real function runs; the counting that follows takes no lock and does not
 * allocate, and its rare slow parts (a thread's first call, a peak check,
 * a sampled stack) raise the flag themselves.  A signal handler that
 * allocates meanwhile is simply counted, as at any other moment (the slot's
 * running total is updated with one instruction).  Everything else (other
 * allocators, nested calls, bootstrap, mmapped chunks) goes through the
 * general hooks below. */
static inline int fast(void)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t w;                 /* in_hook == 0 and glibc == 1, in one load */
    memcpy(&w, &pp_hot, sizeof w);
    return PP_LIKELY(w == (uint64_t)1 << 32);
#else
    return PP_LIKELY(pp_hot.glibc == 1) && PP_LIKELY(!pp_hot.in_hook);
#endif
}

/* After a slow call: this thread may take the fast path from now on (the
 * state never goes back from READY_GLIBC). */
static inline void note_fast(void)
{
    if (ready_state() == PP_ALLOC_READY_GLIBC)
        pp_hot.glibc = 1;
}

/* The tracking of block P that the real allocator just returned: for
 * realloc (REALLOC set) the old block had OLD usable bytes.  track_full
 * does all of it, out of line (an mmapped chunk, or no slot yet);
 * track_rest what remains after a count that passed the peak alarm or a
 * countdown that ran out (HOW: pp_count_*_quick's answer). */
__attribute__((noinline)) static void *track_full(void *p, int realloc_, size_t old)
{
    pp_in_hook = 1;
    if (realloc_)
        pp_track_realloc_fast(p, old, pp_usable_fast(p));
    else
        pp_track_alloc_fast(p, pp_usable_fast(p));
    pp_in_hook = 0;
    return p;
}

__attribute__((noinline)) static void *track_rest(void *p, size_t u, int how)
{
    if (how == 2) {
        pp_count_new_high();
        if ((pp_site_countdown -= (int64_t)u) >= 0)
            return p;
    }
    return pp_site_sampled(p, u);
}

static inline void *track_fast(void *p, int realloc_, size_t old)
{
    size_t u;
    if (PP_UNLIKELY(!pp_heap_chunk(p, &u)))
        return track_full(p, realloc_, old);
    int how = realloc_ ? pp_count_realloc_quick(old, u) : pp_count_alloc_quick(u);
    if (PP_UNLIKELY(how == 0))
        return track_full(p, realloc_, old);
    if (PP_UNLIKELY(how == 2) || PP_UNLIKELY((pp_site_countdown -= (int64_t)u) < 0))
        return track_rest(p, u, how);
    return p;
}

__attribute__((noinline)) static void free_tracked(void *p, size_t u)
{
    pp_in_hook = 1;
    pp_site_untrack(p, u);
    pp_real.free(p);
    pp_in_hook = 0;
}

static void *malloc_slow(size_t n);
static void free_slow(void *p);
static void *calloc_slow(size_t n, size_t size);
static void *realloc_slow(void *p, size_t n);

PP_HOOK(void *, malloc, (size_t n))
{
    if (PP_LIKELY(fast())) {
        void *p = pp_real.malloc(n);
        return PP_LIKELY(p != NULL) ? track_fast(p, 0, 0) : p;
    }
    return malloc_slow(n);
}

PP_HOOK(void, free, (void *p))
{
    size_t u;
    if (PP_LIKELY(fast()) && PP_LIKELY(p != NULL)) {
        /* not mmapped (nor a boot block), and counted */
        if (PP_LIKELY(pp_heap_chunk(p, &u)) && PP_LIKELY(pp_count_free_quick(u))) {
            if (PP_UNLIKELY(pp_site_free_wanted(p)))
                free_tracked(p, u);
            else
                pp_real.free(p);
            return;
        }
    }
    free_slow(p);
}

PP_HOOK(void *, calloc, (size_t n, size_t size))
{
    if (PP_LIKELY(fast())) {
        void *p = pp_real.calloc(n, size);
        return PP_LIKELY(p != NULL) ? track_fast(p, 0, 0) : p;
    }
    return calloc_slow(n, size);
}

/* a block that is neither mmapped nor tracked, resized (not to 0: glibc's
 * realloc(p, 0) frees) */
PP_HOOK(void *, realloc, (void *p, size_t n))
{
    size_t old;
    if (PP_LIKELY(fast()) && PP_LIKELY(p != NULL)) {
        if (PP_LIKELY(pp_heap_chunk(p, &old)) && PP_LIKELY(n != 0) &&
            PP_LIKELY(!pp_site_free_wanted(p))) {
            void *q = pp_real.realloc(p, n);
            return PP_LIKELY(q != NULL) ? track_fast(q, 1, old) : q;
        }
    }
    return realloc_slow(p, n);
}

/* ---- the malloc family ---------------------------------------------------- */

/* with -flto the counting fast path is inlined into the hooks; its slow
 * paths are out of line, so that a hook saves few registers */
__attribute__((noinline)) static void *malloc_slow(size_t n)
{
    note_fast();
    if (PP_UNLIKELY(!resolved())) {
        if (in_bootstrap()) {
            if (pp_in_hook == PP_IN_HOOK_PROBING)
                pp_alloc_probe_hit = 1;     /* pp_resolve's look at a wrapper */
            return pp_boot_alloc(n);
        }
        pp_resolve();
    }
    ENTER_OR_ASIDE(passed(pp_real.malloc(n), n), pp_boot_alloc(n));
    void *p = pp_real.malloc(n);
    if (p)
        pp_track_alloc_fast(p, pp_usable_fast(p));
    LEAVE();
    return p;
}

__attribute__((noinline)) static void free_slow(void *p)
{
    note_fast();
    if (!p || PP_UNLIKELY(pp_is_boot(p)))
        return;
    RESOLVE_FIRST();
    if (pp_in_hook) {
        if (PP_LIKELY(!aside_wanted()))
            pp_real.free(p);            /* else: left as is */
        return;
    }
    pp_in_hook = 1;
    pp_track_free_fast(p, pp_usable_fast(p));
    pp_real.free(p);
    LEAVE();
}

__attribute__((noinline)) static void *calloc_slow(size_t n, size_t size)
{
    note_fast();
    if (PP_UNLIKELY(!resolved())) {
        if (in_bootstrap()) {
            if (pp_in_hook == PP_IN_HOOK_PROBING)
                pp_alloc_probe_hit = 1;
            return size && n > SIZE_MAX / size ? NULL : pp_boot_alloc(n * size);
        }
        pp_resolve();
    }
    ENTER_OR_ASIDE(pp_real.calloc(n, size),
                   size && n > SIZE_MAX / size ? NULL : pp_boot_alloc(n * size));
    void *p = pp_real.calloc(n, size);
    if (p)
        pp_track_alloc_fast(p, pp_usable_fast(p));
    LEAVE();
    return p;
}

__attribute__((noinline)) static void *realloc_slow(void *p, size_t n)
{
    note_fast();
    if (PP_UNLIKELY(pp_is_boot(p))) {
        /* a bootstrap block moves to the real heap; its size is unknown,
         * so copy what fits before the end of the arena */
        void *q = PP_HOOKED(malloc)(n);
        size_t avail = (size_t)(pp_boot_buf + PP_BOOT_SIZE - (char *)p);
        if (q)
            memcpy(q, p, n < avail ? n : avail);
        return q;
    }
    if (PP_UNLIKELY(!resolved())) {
        if (in_bootstrap())
            return p ? NULL : pp_boot_alloc(n);
        pp_resolve();
    }
    ENTER_OR_ASIDE(pp_real.realloc(p, n), aside_realloc(p, n));
    size_t old = p ? pp_usable_fast(p) : 0;
    pp_site_free(p, old);
    void *q = pp_real.realloc(p, n);
    if (!p) {
        if (q)
            pp_track_alloc_fast(q, pp_usable_fast(q));
    } else if (q) {
        pp_track_realloc_fast(q, old, pp_usable_fast(q));
    } else if (n == 0) {
        pp_count_free(old);              /* realloc(p, 0) freed p */
    }
    LEAVE();
    return q;
}

#if defined(__linux__)
/* The hooks by names of the shim's own, for the functions below that are
 * built on other hooks: a call by the public name binds to its first
 * definition, which with another allocator preloaded before the shim is
 * that allocator's, so reallocarray, pvalloc and the C23 frees went past
 * the counting (a free counted nowhere left a block "live" for ever) */
extern __typeof__(realloc) pp_self_realloc __attribute__((alias("realloc"), visibility("hidden")));
extern __typeof__(free) pp_self_free __attribute__((alias("free"), visibility("hidden")));
extern __typeof__(malloc) pp_self_malloc __attribute__((alias("malloc"), visibility("hidden")));

/* glibc's own entry points (reallocarray calls realloc inside libc) */
PP_EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    return pp_self_realloc(p, n * size);
}
#endif

/* posix_memalign's answer, passed through (libc++abi's aligned operator
 * new calls it: passed above) */
static inline int posix_passed(int rc, size_t n)
{
    if (PP_UNLIKELY(rc != 0) && pp_in_hook == PP_IN_HOOK_CXX)
        cxx_failed(n);
    return rc;
}

PP_HOOK(int, posix_memalign, (void **out, size_t align, size_t n))
{
    if (PP_UNLIKELY(in_bootstrap()))
        return (*out = pp_boot_aligned(align, n)) ? 0 : ENOMEM;
    RESOLVE_FIRST();
    ENTER_OR_ASIDE(posix_passed(pp_real.posix_memalign(out, align, n), n),
                   (*out = pp_boot_aligned(align, n)) ? 0 : ENOMEM);
    int rc = pp_real.posix_memalign(out, align, n);
    if (rc == 0 && *out)
        pp_track_alloc_fast(*out, pp_usable_fast(*out));
    LEAVE();
    return rc;
}

#define ALIGNED_HOOK(name, params, args, bootargs, size)                \
    PP_HOOK(void *, name, params)                                       \
    {                                                                   \
        if (PP_UNLIKELY(in_bootstrap()))                                \
            return pp_boot_aligned bootargs;                            \
        RESOLVE_FIRST();                                                \
        ENTER_OR_ASIDE(passed(pp_real.name args, size), pp_boot_aligned bootargs); \
        void *p = pp_real.name args;                                    \
        if (p)                                                          \
            pp_track_alloc_fast(p, pp_usable_fast(p));                  \
        LEAVE();                                                        \
        return p;                                                       \
    }

ALIGNED_HOOK(aligned_alloc, (size_t align, size_t n), (align, n), (align, n), n)
ALIGNED_HOOK(valloc, (size_t n), (n), (4096, n), n)

#if defined(__APPLE__)
/* ---- macOS: reallocf, malloc_size, the default zone ------------------------ *
 *
 * libSystem's reallocf calls realloc inside libsystem_malloc, and the
 * malloc_zone_* functions are what frameworks call: neither reaches the
 * hooks above by itself (a call inside one image is never interposed).
 * Calls on the default zone go to the hooks, so that they are counted
 * exactly as malloc's; other zones (a program's own) pass through.
 * C++ operator new and delete need no hook here: libc++abi's call malloc
 * and free from another image, through the table (cxx.c). */
PP_HOOK(void *, reallocf, (void *p, size_t n))
{
    void *q = PP_HOOKED(realloc)(p, n);
    if (!q && p && n)
        PP_HOOKED(free)(p);
    return q;
}

/* a block of the shim's bootstrap arena belongs to no zone */
PP_HOOK(size_t, malloc_size, (const void *p))
{
    if (PP_UNLIKELY(pp_is_boot(p)))
        return 0;
    return malloc_size(p);
}

extern malloc_zone_t **malloc_zones;    /* libmalloc's; [0] is the default */

/* the default zone: malloc_default_zone()'s answer (a zone that forwards to
 * the real one) or the real one (malloc_zone_from_ptr's answer) */
static int default_zone(malloc_zone_t *z)
{
    static malloc_zone_t *virt;
    if (!virt)
        virt = malloc_default_zone();
    return z == virt || (malloc_zones && z == malloc_zones[0]);
}

PP_HOOK(void *, malloc_zone_malloc, (malloc_zone_t *z, size_t n))
{
    return default_zone(z) ? PP_HOOKED(malloc)(n) : malloc_zone_malloc(z, n);
}

PP_HOOK(void *, malloc_zone_calloc, (malloc_zone_t *z, size_t n, size_t size))
{
    return default_zone(z) ? PP_HOOKED(calloc)(n, size) : malloc_zone_calloc(z, n, size);
}

PP_HOOK(void *, malloc_zone_valloc, (malloc_zone_t *z, size_t n))
{
    return default_zone(z) ? PP_HOOKED(valloc)(n) : malloc_zone_valloc(z, n);
}

PP_HOOK(void *, malloc_zone_realloc, (malloc_zone_t *z, void *p, size_t n))
{
    return default_zone(z) ? PP_HOOKED(realloc)(p, n) : malloc_zone_realloc(z, p, n);
}

PP_HOOK(void, malloc_zone_free, (malloc_zone_t *z, void *p))
{
    if (default_zone(z))
        PP_HOOKED(free)(p);
    else
        malloc_zone_free(z, p);
}

/* any power of two: posix_memalign's floor is a pointer's size */
PP_HOOK(void *, malloc_zone_memalign, (malloc_zone_t *z, size_t align, size_t n))
{
    void *p = NULL;
    if (!default_zone(z))
        return malloc_zone_memalign(z, align, n);
    if (PP_HOOKED(posix_memalign)(&p, align < sizeof p ? sizeof p : align, n) != 0)
        return NULL;
    return p;
}
#endif /* __APPLE__ */

#if defined(__linux__)
/* memalign, pvalloc, the C23 frees, jemalloc's API, mmap64 and mremap are
 * glibc's or Linux's: libSystem has none of them (jemalloc on macOS is a
 * malloc zone, reached through malloc and the zone functions) */
ALIGNED_HOOK(memalign, (size_t align, size_t n), (align, n), (align, n), n)
extern __typeof__(memalign) pp_self_memalign
    __attribute__((alias("memalign"), visibility("hidden")));

/* pvalloc is glibc-only (jemalloc lacks it): built on memalign so that the
 * block always comes from the allocator that will free it.  A size of 0
 * stays 0, as glibc's own rounds it (its smallest block, not a page). */
PP_EXPORT void *pvalloc(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (n > SIZE_MAX - page) {
        errno = ENOMEM;
        return NULL;
    }
    n = (n + page - 1) & ~(page - 1);
    return pp_self_memalign(page, n);
}

/* C23 */
PP_EXPORT void free_sized(void *p, size_t size)
{
    (void)size;
    pp_self_free(p);
}

PP_EXPORT void free_aligned_sized(void *p, size_t align, size_t size)
{
    (void)align;
    (void)size;
    pp_self_free(p);
}

/* ---- jemalloc's API ------------------------------------------------------- */

#define MALLOCX_ALIGN_MASK 0x3f
#define MALLOCX_ZERO       0x40

static size_t flag_align(int flags)
{
    int lg = flags & MALLOCX_ALIGN_MASK;
    return lg ? (size_t)1 << lg : 0;
}

PP_EXPORT void *mallocx(size_t size, int flags)
{
    RESOLVE_FIRST();
    if (PP_UNLIKELY(pp_real.jemalloc_apart))
        return pp_real.mallocx(size, flags);
    if (!pp_real.mallocx) {                       /* no jemalloc: emulate */
        size_t a = flag_align(flags);
        void *p = a > 16 ? pp_self_memalign(a, size) : pp_self_malloc(size);
        if (p && (flags & MALLOCX_ZERO))
            memset(p, 0, size);
        return p;
    }
    ENTER_OR(pp_real.mallocx(size, flags));
    void *p = pp_real.mallocx(size, flags);
    if (p)
        pp_track_alloc_fast(p, pp_usable_fast(p));
    LEAVE();
    return p;
}

PP_EXPORT void *rallocx(void *p, size_t size, int flags)
{
    RESOLVE_FIRST();
    if (PP_UNLIKELY(pp_real.jemalloc_apart))
        return pp_real.rallocx(p, size, flags);
    if (!pp_real.mallocx) {
        size_t a = flag_align(flags), old = pp_usable_fast(p);
        void *q;
        if (a > 16) {
            q = pp_self_memalign(a, size);
            if (q) {
                memcpy(q, p, old < size ? old : size);
                pp_self_free(p);
            }
        } else {
            q = pp_self_realloc(p, size);
        }
        if (q && (flags & MALLOCX_ZERO) && size > old)
            memset((char *)q + old, 0, size - old);
        return q;
    }
    ENTER_OR(pp_real.rallocx(p, size, flags));
    size_t old = pp_usable_fast(p);
    pp_site_free(p, old);
    void *q = pp_real.rallocx(p, size, flags);
    if (q)
        pp_track_realloc_fast(q, old, pp_usable_fast(q));
    LEAVE();
    return q;
}

PP_EXPORT size_t xallocx(void *p, size_t size, size_t extra, int flags)
{
    RESOLVE_FIRST();
    if (PP_UNLIKELY(pp_real.jemalloc_apart))
        return pp_real.xallocx(p, size, extra, flags);
    if (!pp_real.mallocx)               /* cannot resize in place: report the size */
        return pp_usable_fast(p);
    ENTER_OR(pp_real.xallocx(p, size, extra, flags));
    size_t old = pp_usable_fast(p);
    size_t now = pp_real.xallocx(p, size, extra, flags);
    if (now != old)
        pp_count_realloc(old, now);
    LEAVE();
    return now;
}

PP_EXPORT void dallocx(void *p, int flags)
{
    RESOLVE_FIRST();
    if (PP_UNLIKELY(pp_real.jemalloc_apart)) {
        pp_real.dallocx(p, flags);
        return;
    }
    if (!pp_real.mallocx) {
        pp_self_free(p);
        return;
    }
    if (pp_in_hook) {
        pp_real.dallocx(p, flags);
        return;
    }
    pp_in_hook = 1;
    pp_track_free_fast(p, pp_usable_fast(p));
    pp_real.dallocx(p, flags);
    LEAVE();
}

PP_EXPORT void sdallocx(void *p, size_t size, int flags)
{
    RESOLVE_FIRST();
    if (PP_UNLIKELY(pp_real.jemalloc_apart)) {
        pp_real.sdallocx(p, size, flags);
        return;
    }
    if (!pp_real.mallocx) {
        pp_self_free(p);
        return;
    }
    if (pp_in_hook) {
        pp_real.sdallocx(p, size, flags);
        return;
    }
    pp_in_hook = 1;
    pp_track_free_fast(p, pp_usable_fast(p));
    pp_real.sdallocx(p, size, flags);
    LEAVE();
}
#endif /* __linux__ */

/* ---- mmap, munmap, mremap ------------------------------------------------- */

/* The real functions are the system calls, made directly (pp_real_mmap),
 * never through dlsym'd pointers: an allocator preloaded before the shim
 * (jemalloc) calls mmap during its own initialisation, holding its init
 * lock, and resolving anything there (dlsym's error path calls malloc)
 * would wait on that same lock.  Updating the range table takes the shim's
 * own lock; pp_in_hook is held meanwhile so that a signal handler calling
 * mmap on this thread passes straight through instead of waiting for it. */

PP_HOOK(void *, mmap, (void *addr, size_t len, int prot, int flags, int fd, off_t off))
{
    void *r = pp_real_mmap(addr, len, prot, flags, fd, off);
    if (r == MAP_FAILED)
        return r;
    /* inside a hook, mmap is the allocator feeding its heap */
    if (!pp_in_hook && resolved()) {
        pp_in_hook = 1;
        pp_map_add((uintptr_t)r, len, (flags & MAP_ANONYMOUS) ? PP_MAP_ANON : PP_MAP_FILE);
        pp_in_hook = 0;
        pp_site_map(r, len, flags);
    }
    return r;
}

PP_HOOK(int, munmap, (void *addr, size_t len))
{
    int rc = pp_real_munmap(addr, len);
    if (rc == 0 && !pp_in_hook && resolved()) {
        pp_in_hook = 1;
        pp_map_remove((uintptr_t)addr, len);
        pp_in_hook = 0;
        pp_site_unmap(addr, len);
    }
    return rc;
}

#if defined(__APPLE__)
/* vm_allocate, mach_vm_allocate and their deallocations: Mach's own way to
 * map anonymous memory into the task, which frameworks use as others use
 * mmap.  Counted for this task as mmap's anonymous mappings are (not while
 * a hook runs: that is the allocator feeding its zones).  mach_vm.h is
 * not in every SDK's headers: the prototypes are MIG's. */
kern_return_t mach_vm_allocate(vm_map_t task, mach_vm_address_t *addr, mach_vm_size_t size,
                               int flags);
kern_return_t mach_vm_deallocate(vm_map_t task, mach_vm_address_t addr, mach_vm_size_t size);

static void vm_added(vm_map_t task, uintptr_t addr, size_t size)
{
    if (task == mach_task_self() && !pp_in_hook && resolved()) {
        pp_in_hook = 1;
        pp_map_add(addr, size, PP_MAP_ANON);
        pp_in_hook = 0;
    }
}

static void vm_removed(vm_map_t task, uintptr_t addr, size_t size)
{
    if (task == mach_task_self() && !pp_in_hook && resolved()) {
        pp_in_hook = 1;
        pp_map_remove(addr, size);
        pp_in_hook = 0;
    }
}

PP_HOOK(kern_return_t, vm_allocate, (vm_map_t task, vm_address_t *addr, vm_size_t size, int flags))
{
    kern_return_t kr = vm_allocate(task, addr, size, flags);
    if (kr == KERN_SUCCESS)
        vm_added(task, (uintptr_t)*addr, size);
    return kr;
}

PP_HOOK(kern_return_t, vm_deallocate, (vm_map_t task, vm_address_t addr, vm_size_t size))
{
    kern_return_t kr = vm_deallocate(task, addr, size);
    if (kr == KERN_SUCCESS)
        vm_removed(task, (uintptr_t)addr, size);
    return kr;
}

PP_HOOK(kern_return_t, mach_vm_allocate,
        (vm_map_t task, mach_vm_address_t *addr, mach_vm_size_t size, int flags))
{
    kern_return_t kr = mach_vm_allocate(task, addr, size, flags);
    if (kr == KERN_SUCCESS)
        vm_added(task, (uintptr_t)*addr, (size_t)size);
    return kr;
}

PP_HOOK(kern_return_t, mach_vm_deallocate,
        (vm_map_t task, mach_vm_address_t addr, mach_vm_size_t size))
{
    kern_return_t kr = mach_vm_deallocate(task, addr, size);
    if (kr == KERN_SUCCESS)
        vm_removed(task, (uintptr_t)addr, (size_t)size);
    return kr;
}
#endif /* __APPLE__ */

#if defined(__linux__)
PP_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return mmap(addr, len, prot, flags, fd, off);
}

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

PP_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
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
    void *r = pp_real_mremap(old, old_len, new_len, flags, target);
    if (r == MAP_FAILED)
        return r;
    if (!pp_in_hook && resolved()) {
        pp_in_hook = 1;
        pp_map_move((uintptr_t)old, old_len, (uintptr_t)r, new_len,
                    (flags & MREMAP_DONTUNMAP) != 0);
        pp_in_hook = 0;
    }
    return r;
}
#endif /* __linux__ */
