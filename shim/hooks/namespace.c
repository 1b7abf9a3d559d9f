/*
 * namespace.c - counting what a library opened into a link namespace of
 * its own (dlmopen) allocates.
 *
 * Such a namespace has its own copy of libc, and the preloaded hooks are
 * not in its lookup scope.  So the shim preloads there too: a new
 * namespace is made by opening libperfprobe-ns.so (ns/nsshim.c, beside
 * the shim) into it, then the program's library is opened into that
 * namespace.  The loader looks up every later object's references in the
 * first object's scope first, so the small object's malloc family and
 * mmap catch the library's calls, and libc's own, as the shim catches the
 * base namespace's under LD_PRELOAD; its hooks call the namespace's libc
 * (resolved here, through the loader) and hand the usable sizes to the
 * counting below.
 *
 * The hook must not change which object the loader believes called
 * dlmopen ($ORIGIN and the caller's RUNPATH): it is a jump, as dlopen's
 * is, and the name is resolved from the caller first (pp_dlopen_where,
 * alloc.c) when the shim opens it.  What the program could see is kept
 * as bare:
 *  - a namespace whose library failed to open holds only the shim's
 *    object; it is kept aside and given to the next dlmopen, so that the
 *    program never has fewer namespaces than bare (glibc has 16), and the
 *    error stays the one dlerror reports (a successful dlclose would clear
 *    it);
 *  - after each dlclose, a namespace left with only the shim's object is
 *    closed, so that it goes away as it would bare.
 * No lock of the shim's is held across the loader's calls: a constructor
 * may call dlmopen with the loader's lock held.  A namespace's state moves
 * by compare-and-swap alone.  Without the object (not installed beside the
 * shim), with RTLD_DEEPBIND, or a name the shim cannot resolve as the
 * caller would, the call goes on untouched and the summary says the heap
 * figures miss it (`inexact`: dlmopen).
 */
#define _GNU_SOURCE
#include "core/allocator.h"
#include "core/sites.h"
#include "ns/nslink.h"

#if defined(__x86_64__) && defined(__linux__)
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

/* ---- the counting the namespace object calls ---- *
 * Each runs with pp_in_hook raised, as the shim's own hooks count; a call
 * that arrives with it raised (the shim's own work reaching the namespace)
 * is not counted. */
#define COUNTED(body)                                                   \
    do {                                                                \
        if (pp_in_hook)                                                 \
            return;                                                     \
        pp_in_hook = 1;                                                 \
        body;                                                           \
        pp_in_hook = 0;                                                 \
    } while (0)

static void ns_alloc(void *p, size_t u) { COUNTED(pp_track_alloc_fast(p, u)); }
static void ns_moving(void *p, size_t u) { COUNTED(pp_site_free(p, u)); }
static void ns_freed(void *p, size_t u) { (void)p; COUNTED(pp_count_free(u)); }
static void ns_resized(void *q, size_t old, size_t u) { COUNTED(pp_track_realloc_fast(q, old, u)); }

static void ns_mapped(void *addr, size_t len, int flags)
{
    COUNTED(pp_map_add((uintptr_t)addr, len, (flags & MAP_ANONYMOUS) ? PP_MAP_ANON : PP_MAP_FILE));
    pp_site_map(addr, len, flags);
}

static void ns_unmapped(void *addr, size_t len)
{
    COUNTED(pp_map_remove((uintptr_t)addr, len));
    pp_site_unmap(addr, len);
}

static void ns_moved(void *old, size_t old_len, void *addr, size_t len, int dontunmap)
{
    COUNTED(pp_map_move((uintptr_t)old, old_len, (uintptr_t)addr, len, dontunmap));
}

/* around a call into an allocator of the library's own */
static int ns_enter(void)
{
    int was = pp_in_hook;
    pp_in_hook = 1;
    return was;
}

static void ns_leave(int was)
{
    pp_in_hook = was;
}

/* a binding being made on this thread (nsshim.c: an IFUNC resolver it
 * calls may allocate) */
static __thread int binding PP_TLS;

static int ns_guard(int on)
{
    int was = binding;
    binding = on;
    return was;
}

/* the image's last records before an exec made inside the namespace, as
 * the shim's own exec hooks write them (hooks/process.c); the program's
 * errno (this libc's) is left as it was: the call sets the namespace's */
static int ns_exec_begin(const char *file, char *const argv[], char *const envp[], int search)
{
    int saved_errno = errno;
    int b = pp_exec_begin(file, argv, pp_untraced(file, envp, search));
    errno = saved_errno;
    return b;
}

static void ns_exec_failed(int began, const char *file)
{
    int saved_errno = errno;
    pp_exec_failed(began, file);
    errno = saved_errno;
}

/* ---- the namespaces the shim made ---- */

enum { NS_EMPTY, NS_CREATING, NS_SPARE, NS_HANDED, NS_USED, NS_CHECKING };
enum { NS_MAX = 16 };                   /* glibc's DL_NNS, the base one included */

struct ns {
    _Atomic int state;
    Lmid_t lmid;
    void *object;                       /* the shim's object there */
    int (*others)(void);
    pp_ns_walk_fn walk;
    void (*expect)(void);
    int (*bind)(int opened);
    int (*holds)(int op);
    struct pp_ns_link link;             /* kept: the object reads it */
};
static struct ns spaces[NS_MAX];
static _Atomic int ns_made;             /* a namespace was ever made */

void *pp_real_dlmopen __attribute__((visibility("hidden"), used, externally_visible));
__attribute__((used, externally_visible, visibility("hidden"))) void *pp_resolve_dlmopen(void)
{
    if (!pp_real_dlmopen)
        pp_real_dlmopen = pp_real_next("dlmopen");
    return pp_real_dlmopen;
}

static void *real_dlmopen(Lmid_t lmid, const char *file, int mode)
{
    return ((void *(*)(Lmid_t, const char *, int))pp_resolve_dlmopen())(lmid, file, mode);
}


/* The path of the object beside the shim: the directory of the shim's own
 * file as mapped (/proc/self/maps names it whole, where the loader keeps a
 * relative LD_PRELOAD entry as it was given).  Read once, by the first
 * thread to ask, into static buffers (a thread with a small stack may
 * call dlmopen); a thread that asks meanwhile goes on without the object
 * (its call untouched, and said so). */
static char object_path[PATH_MAX], maps_buf[8192];
static _Atomic int object_state;        /* 0 unknown, 1 being read, 2 known, 3 none */

static int read_object_path(char *out, size_t cap)
{
    uintptr_t self = (uintptr_t)(void *)read_object_path;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char *buf = maps_buf;
    size_t have = 0;
    int found = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof maps_buf - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = 0;
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = 0;
            char *end;
            unsigned long lo = strtoul(line, &end, 16), hi = 0;
            if (*end == '-')
                hi = strtoul(end + 1, NULL, 16);
            char *path = strchr(line, '/');
            if (self >= lo && self < hi && path) {
                size_t dl = (size_t)(strrchr(path, '/') - path);
                static const char name[] = "/libperfprobe-ns.so";
                if (dl + sizeof name <= cap) {
                    memcpy(out, path, dl);
                    memcpy(out + dl, name, sizeof name);
                    found = 1;
                }
                break;
            }
            line = nl + 1;
        }
        if (found || line == buf)
            break;                      /* found, or a line longer than the buffer */
        have -= (size_t)(line - buf);
        memmove(buf, line, have);
    }
    close(fd);
    return found;
}

/* the object's path, or NULL when unknown (or being read) */
static const char *object_path_of(void)
{
    int want = 0;
    if (atomic_compare_exchange_strong(&object_state, &want, 1))
        atomic_store(&object_state, read_object_path(object_path, sizeof object_path) ? 2 : 3);
    return atomic_load(&object_state) == 2 ? object_path : NULL;
}

/* the text of the object holding ADDR, from a walk of its namespace */
struct holder {
    uintptr_t addr, lo, hi;
};

static int find_holder(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct holder *h = arg;
    uintptr_t lo, hi;
    pp_module_range(info, &lo, &hi);
    if (h->addr >= lo && h->addr < hi) {
        h->lo = lo;
        h->hi = hi;
        return 1;
    }
    return 0;
}

/* the base namespace's functions the object calls until it is bound, by
 * name: the next definition past the shim */
#define BASE_FN(id, field, name) {name, offsetof(struct pp_ns_link, base.field)},
static const struct {
    const char *name;
    size_t at;
} base_fns[] = {
    PP_NS_CALLS(BASE_FN)
    {"dl_iterate_phdr", offsetof(struct pp_ns_link, iterate)},
};

/* a new namespace holding the shim's object, connected; 0 when it cannot
 * be made (no object beside the shim: the caller goes on without) */
static int make(struct ns *s)
{
    const char *path = object_path_of();
    if (!path)
        return 0;
    void *h = real_dlmopen(LM_ID_NEWLM, path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return 0;
    Lmid_t lmid;
    int (*connect)(const struct pp_ns_link *) = NULL;
    struct pp_ns_link *l = &s->link;
    memset(l, 0, sizeof *l);
    /* the object links nothing, so the namespace's global scope is the
     * object alone; libc comes with the library, where its scope puts it */
    if (dlinfo(h, RTLD_DI_LMID, &lmid) != 0)
        goto fail;
    *(void **)&connect = dlsym(h, PP_NS_CONNECT);
    *(void **)&s->others = dlsym(h, PP_NS_OTHERS);
    *(void **)&s->walk = dlsym(h, PP_NS_WALK);
    *(void **)&s->expect = dlsym(h, PP_NS_EXPECT);
    *(void **)&s->bind = dlsym(h, PP_NS_BIND);
    *(void **)&s->holds = dlsym(h, PP_NS_HOLDS);
    for (size_t i = 0; i < sizeof base_fns / sizeof *base_fns; i++) {
        void *fn = pp_real_next(base_fns[i].name);
        if (!fn)
            goto fail;
        memcpy((char *)l + base_fns[i].at, &fn, sizeof fn);
    }
    if (!connect || !s->others || !s->walk || !s->expect || !s->bind || !s->holds)
        goto fail;
    l->alloc = ns_alloc;
    l->moving = ns_moving;
    l->freed = ns_freed;
    l->resized = ns_resized;
    l->mapped = ns_mapped;
    l->unmapped = ns_unmapped;
    l->moved = ns_moved;
    l->unload = pp_real_dlclose;
    l->guard = ns_guard;
    l->enter = ns_enter;
    l->leave = ns_leave;
    l->finish = pp_finish;
    l->thread_begins = pp_counters_foreign_thread;
    l->exit_now = pp_exit_now_begin;
    l->exec_begin = ns_exec_begin;
    l->exec_failed = ns_exec_failed;
    l->dlmopen_seen = (int *)&pp_dlmopen_seen;
    l->deepbind_seen = (int *)&pp_deepbind_seen;
    l->version = PP_NS_LINK_VERSION;
    if (connect(l) != PP_NS_LINK_VERSION)
        goto fail;                      /* an object of another build */
    s->lmid = lmid;
    s->object = h;
    struct holder own = {(uintptr_t)(void *)connect, 0, 0};
    int held = pp_loader_walk_wait(50000000);   /* as every walk of the shim's */
    s->walk(find_holder, &own);
    if (held)
        pp_loader_walk_done();
    pp_unwind_own_range((int)(s - spaces), own.lo, own.hi);
    pp_modules_namespace((int)(s - spaces), s->walk);
    atomic_store(&ns_made, 1);
    return 1;
fail:
    pp_real_dlclose(h);
    return 0;
}

/* a namespace for a dlmopen(LM_ID_NEWLM): one kept aside, else a new one */
static struct ns *take(void)
{
    for (int i = 0; i < NS_MAX; i++) {
        int want = NS_SPARE;
        if (atomic_compare_exchange_strong(&spaces[i].state, &want, NS_HANDED))
            return &spaces[i];
    }
    for (int i = 0; i < NS_MAX; i++) {
        int want = NS_EMPTY;
        if (atomic_compare_exchange_strong(&spaces[i].state, &want, NS_CREATING)) {
            if (make(&spaces[i])) {
                atomic_store(&spaces[i].state, NS_HANDED);
                return &spaces[i];
            }
            atomic_store(&spaces[i].state, NS_EMPTY);
            return NULL;
        }
    }
    return NULL;
}

/* After a dlclose: close each namespace left with the shim's object alone.
 * The count is made, and the namespace taken out of the module scan's and
 * the leak check's sight, under the loader walk's try-lock (which they hold
 * while they call into a namespace's object, and a fork waits for:
 * sys/lock.c); the closing comes after, with no lock of the shim's held. */
/* The objects of namespace S other than the object and the
 * loader, counted under the loader walk's try-lock (-1 when it was not
 * had); none: taken out of the module scan's and the leak check's sight
 * there, and *ALONE set. */
static int alone_now(struct ns *s, int i, int *alone)
{
    int n = -1;
    if (pp_loader_walk_wait(50000000)) {
        n = s->others();
        if (n == 0) {
            pp_modules_namespace(i, NULL);
            *alone = 1;
        }
        pp_loader_walk_done();
    }
    return n;
}

static void reclaim(void)
{
    for (int i = 0; i < NS_MAX; i++) {
        struct ns *s = &spaces[i];
        int was = atomic_load(&s->state);
        if ((was != NS_USED && was != NS_SPARE) ||
            !atomic_compare_exchange_strong(&s->state, &was, NS_CHECKING))
            continue;
        /* counted, and taken out of the module scan's and the leak
         * check's sight, under the try-lock; closed after it */
        int alone = 0, gone = 0, n = alone_now(s, i, &alone);
        /* when all that is left is what the object holds (the objects it
         * bound names into: nsbind.c) and what they need, that is let go,
         * and taken again if it stays (still in use) */
        if (n > 0 && s->holds(0)) {
            /* the program's blocks the loader frees then are counted, as
             * at the program's own dlclose that would have freed them */
            int saved = pp_in_hook;
            pp_in_hook = 0;
            s->holds(1);
            pp_in_hook = saved;
            alone_now(s, i, &alone);
            if (!alone) {
                pp_in_hook = 0;         /* as when they were taken */
                s->holds(2);
                pp_in_hook = saved;
            }
        }
        if (alone) {
            gone = pp_real_dlclose(s->object) == 0;
            if (gone)
                pp_unwind_own_range(i, 0, 0);
            else
                pp_modules_namespace(i, s->walk);
        }
        if (gone) {
            s->object = NULL;
            atomic_store(&s->state, NS_EMPTY);
        } else {
            atomic_store(&s->state, was);
        }
    }
}

static int is_ours(Lmid_t lmid)
{
    for (int i = 0; i < NS_MAX; i++) {
        int st = atomic_load(&spaces[i].state);
        if ((st == NS_USED || st == NS_HANDED || st == NS_CHECKING) && spaces[i].lmid == lmid)
            return 1;
    }
    return 0;
}

/* ---- the hooks ---- */

char *pp_dlopen_where(const char *file, const void *caller);
void pp_dlopen_where_done(char *path);

/* From the dlmopen hook, for a namespace other than the base one: the name
 * to open from here into a namespace of the shim's (LM_ID_NEWLM), or NULL
 * for the call to go on untouched (noted when the heap figures then miss
 * the library). */
__attribute__((used, externally_visible, visibility("hidden"))) char *
pp_dlmopen_route(Lmid_t lmid, const char *file, int mode, const void *caller)
{
    int saved_errno = errno;
    char *path = NULL;
    if (lmid != LM_ID_NEWLM) {
        if (!is_ours(lmid))
            atomic_store(&pp_dlmopen_seen, 1);
    } else if (file && !(mode & RTLD_DEEPBIND) && pp_opt.namespaces) {
        path = pp_dlopen_where(file, caller);
        if (!path)
            atomic_store(&pp_dlmopen_seen, 1);
    } else if (file) {
        atomic_store(&pp_dlmopen_seen, 1);
    }
    errno = saved_errno;
    return path;
}

__attribute__((used, externally_visible, visibility("hidden"))) void *
pp_dlmopen_owned(char *path, int mode)
{
    int saved = pp_in_hook;
    pp_in_hook = 1;
    struct ns *s = take();
    pp_in_hook = saved;
    void *h;
    if (!s) {                           /* no namespace of the shim's: as before */
        h = real_dlmopen(LM_ID_NEWLM, path, mode);
        if (h)
            atomic_store(&pp_dlmopen_seen, 1);
    } else {
        /* each of the object's names bound to the library's first
         * definition (nsshim.c), at its constructors' first call or now */
        s->expect();
        h = real_dlmopen(s->lmid, path, mode);
        int saved_errno = errno;
        s->bind(h != NULL);
        errno = saved_errno;
        atomic_store(&s->state, h ? NS_USED : NS_SPARE);
    }
    pp_dlopen_where_done(path);
    return h;
}

/* dlclose calls under way on this thread: one made by a destructor inside
 * another is deferred by glibc to the end of the outer one, so only the
 * outermost looks for namespaces to close */
static __thread int closing PP_TLS;

PP_EXPORT int dlclose(void *h)
{
    closing++;
    int rc = pp_real_dlclose(h);
    closing--;
    if (rc == 0 && !closing && atomic_load_explicit(&ns_made, memory_order_relaxed)) {
        int saved_errno = errno, saved = pp_in_hook;
        pp_in_hook = 1;
        reclaim();
        pp_in_hook = saved;
        errno = saved_errno;
    }
    return rc;
}

/* LM_ID_BASE (0): only RTLD_DEEPBIND is noted, as dlopen's hook notes it.
 * Any other namespace: pp_dlmopen_route decides, with the caller's return
 * address; a name it returns is opened from here (pp_dlmopen_owned). */
__asm__(".text\n"
        ".globl dlmopen\n"
        ".type dlmopen, @function\n"
        "dlmopen:\n"
        "    mov pp_dlopen_count(%rip), %rax\n"
        "    lock incl (%rax)\n"
        "    test %rdi, %rdi\n"                 /* LM_ID_BASE is 0 */
        "    jnz 3f\n"
        "    test $0x8, %edx\n"                 /* RTLD_DEEPBIND */
        "    jz 1f\n"
        "    mov pp_deepbind_flag(%rip), %rax\n"
        "    movl $1, (%rax)\n"
        "    jmp 1f\n"
        "3:  push %rdi\n"
        "    push %rsi\n"
        "    push %rdx\n"
        "    mov 24(%rsp), %rcx\n"              /* the caller's return address */
        "    call pp_dlmopen_route\n"
        "    pop %rdx\n"
        "    pop %rsi\n"
        "    pop %rdi\n"
        "    test %rax, %rax\n"
        "    jz 1f\n"
        "    mov %rax, %rdi\n"
        "    mov %edx, %esi\n"
        "    jmp pp_dlmopen_owned\n"
        "1:  mov pp_real_dlmopen(%rip), %rax\n"
        "    test %rax, %rax\n"
        "    jz 2f\n"
        "    jmp *%rax\n"
        "2:  push %rdi\n"
        "    push %rsi\n"
        "    push %rdx\n"
        "    call pp_resolve_dlmopen\n"
        "    pop %rdx\n"
        "    pop %rsi\n"
        "    pop %rdi\n"
        "    jmp *%rax\n"
        ".size dlmopen, .-dlmopen\n");

#endif /* __x86_64__ && __linux__ */
