/*
 * namespace.c - counting what a library opened into a link namespace of
 * its own (dlmopen) allocates.
 *
 * Such a namespace has its own copy of libc, and the preloaded hooks are
 * not in its lookup scope.  So the shim preloads there too, as the loader
 * preloads in the base namespace: the namespace's first object (a small
 * one of the shim's, nsstub.c) needs libperfprobe-ns.so (ns/nsshim.c,
 * beside the shim), then the program's library.  The loader looks up
 * every object's references in the first object's scope first: the
 * namespace object's malloc family and mmap catch the library's calls, and
 * libc's own, as the shim catches the base namespace's under LD_PRELOAD,
 * and a library opened there later finds the library's names, as bare.
 * The object's hooks call what the library would have found (nsbind.c)
 * and hand the usable sizes to the counting below.
 *
 * The hook must not change which object the loader believes called
 * dlmopen ($ORIGIN and the caller's RUNPATH): it is a jump, as dlopen's
 * is, and the name is resolved from the caller first (pp_dlopen_where,
 * alloc.c) when the shim opens it.  What the program could see is kept
 * as bare:
 *  - the handle is the library's own (opened again with RTLD_NOLOAD and
 *    the program's flags), and the namespace goes as it would bare: at the
 *    program's last dlclose of the library the first object is closed too,
 *    and the namespace object once it is alone;
 *  - a library that fails to open takes the whole namespace with it, and
 *    is opened once more untouched, so that dlerror says what the loader
 *    says bare.
 * No lock of the shim's is held across the loader's calls: a constructor
 * may call dlmopen with the loader's lock held.  A namespace's state moves
 * by compare-and-swap alone.  Without the object (not installed beside the
 * shim, or of another build), with RTLD_DEEPBIND, PERFPROBE_NAMESPACES=0,
 * or a name the shim cannot resolve as the caller would, the call goes on
 * untouched and the summary says the heap figures miss it (`inexact`:
 * dlmopen).
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
#include <sched.h>
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

enum { NS_EMPTY, NS_CREATING, NS_USED, NS_CHECKING, NS_KEPT };
enum { NS_MAX = 16 };                   /* glibc's DL_NNS, the base one included */

struct ns {
    _Atomic int state;
    Lmid_t lmid;
    void *object;                       /* the shim's object there */
    /* the first object (nsstub.c), until the library it was made for
     * (ROOT) is closed for good; CLOSED: the program closed ROOT since the
     * last look */
    void *stub, *root;
    _Atomic int closed;
    int (*others)(void);
    pp_ns_walk_fn walk;
    int (*bind)(void);
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
 * call dlmopen); a thread that asks meanwhile reads its own copy, into
 * pages of its own, rather than wait. */
enum { MAPS_BUF = 8192 };
static char object_path[PATH_MAX], maps_buf[MAPS_BUF];
static _Atomic int object_state;        /* 0 unknown, 1 being read, 2 known, 3 none */

static int read_object_path(char *out, size_t cap, char *buf)
{
    uintptr_t self = (uintptr_t)(void *)read_object_path;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t have = 0;
    int found = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, MAPS_BUF - 1 - have);
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

/* the object's path, or NULL when there is none; *OWN set to the pages
 * of a copy of this thread's own (unmap them when done), else NULL */
static const char *object_path_of(char **own)
{
    int want = 0;
    *own = NULL;
    if (atomic_compare_exchange_strong(&object_state, &want, 1))
        atomic_store(&object_state,
                     read_object_path(object_path, sizeof object_path, maps_buf) ? 2 : 3);
    int st = atomic_load(&object_state);
    if (st != 1)
        return st == 2 ? object_path : NULL;
    char *mem = pp_os_map(PATH_MAX + MAPS_BUF);
    if (mem && !read_object_path(mem, PATH_MAX, mem + PATH_MAX)) {
        pp_os_unmap(mem, PATH_MAX + MAPS_BUF);
        mem = NULL;
    }
    *own = mem;
    return mem;
}

/* around a fork made by the namespace's libc (life.c), errno kept */
/* a thread the namespace's pthread_create made, as it ends: what the
 * shim's key destructors do on the program's threads; after the LAST call
 * no region is begun on it (its state would never be given back) */
static void foreign_thread_ends(int last)
{
    pp_region_thread_exit();
    if (last)
        pp_region_thread_dead();
    pp_counters_thread_exit();
}

static int ns_fork_begin(void)
{
    int saved_errno = errno, saved = pp_in_hook;
    pp_in_hook = 1;
    int began = pp_fork_foreign_begin();
    pp_in_hook = saved;
    errno = saved_errno;
    return began;
}

static void ns_fork_end(int began, int child)
{
    int saved_errno = errno;
    pp_fork_foreign_end(began, child);
    errno = saved_errno;
}

/* the object's frames cut off the stacks recorded, as the shim's own */
static void ns_located(const struct pp_ns_link *l, uintptr_t lo, uintptr_t hi)
{
    const struct ns *s = (const struct ns *)((const char *)l - offsetof(struct ns, link));
    pp_unwind_own_range((int)(s - spaces), lo, hi);
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

int pp_ns_stub(const char *object, const char *library, const void *table, char name[2][32],
               struct pp_fd fd[2]);
void pp_ns_stub_opened(void *first, char name[2][32]);

/* the table the object takes (nslink.h); 0 when a base function is missing */
static int fill(struct pp_ns_link *l)
{
    memset(l, 0, sizeof *l);
    for (size_t i = 0; i < sizeof base_fns / sizeof *base_fns; i++) {
        void *fn = pp_real_next(base_fns[i].name);
        if (!fn)
            return 0;
        memcpy((char *)l + base_fns[i].at, &fn, sizeof fn);
    }
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
    l->located = ns_located;
    l->thread_begins = pp_counters_foreign_thread;
    l->thread_ends = foreign_thread_ends;
    l->fork_begin = ns_fork_begin;
    l->fork_end = ns_fork_end;
    l->exit_now = pp_exit_now_begin;
    l->exec_begin = ns_exec_begin;
    l->exec_failed = ns_exec_failed;
    l->dlmopen_seen = (int *)&pp_dlmopen_seen;
    l->deepbind_seen = (int *)&pp_deepbind_seen;
    l->version = PP_NS_LINK_VERSION;
    return 1;
}

/* The library at PATH opened with MODE into a new namespace whose first
 * object is the stub (nsstub.c): the namespace object's hooks come first
 * in its global scope, the library and its dependencies after them, as
 * bare.  The library's handle, S made; NULL with *MADE 0 when the
 * namespace could not be made (the library did not open there, or no
 * object is beside the shim): the caller then opens it untouched, and the
 * program gets the loader's own answer. */
static void *make_with(struct ns *s, const char *object, const char *path, int mode,
                       int *made);

static void *make(struct ns *s, const char *path, int mode, int *made)
{
    char *own;
    const char *object = object_path_of(&own);
    *made = 0;
    if (!object)
        return NULL;
    void *h = make_with(s, object, path, mode, made);
    if (own)
        pp_os_unmap(own, PATH_MAX + MAPS_BUF);
    return h;
}

static void *make_with(struct ns *s, const char *object, const char *path, int mode,
                       int *made)
{
    struct pp_ns_link *l = &s->link;
    char name[2][32];
    if (!fill(l))
        return NULL;
    struct pp_fd fd[2];
    if (pp_ns_stub(object, path, l, name, fd) != 0)
        return NULL;
    void *stub = real_dlmopen(LM_ID_NEWLM, name[0], (mode & (RTLD_LAZY | RTLD_NOW)) | RTLD_LOCAL);
    if (stub)
        pp_ns_stub_opened(stub, name);
    pp_fd_drop(&fd[0]);
    pp_fd_drop(&fd[1]);
    if (!stub)
        return NULL;
    /* the library, opened as the program asked (its handle, its flags),
     * and the object, held by the shim past the stub (the loader's
     * blocks for them counted, as their frees will be) */
    Lmid_t lmid;
    void *h = NULL, *obj = NULL;
    if (dlinfo(stub, RTLD_DI_LMID, &lmid) == 0) {
        h = real_dlmopen(lmid, path, mode | RTLD_NOLOAD);
        obj = real_dlmopen(lmid, object, RTLD_NOW | RTLD_NOLOAD);
    }
    int (*connect)(const struct pp_ns_link *) = NULL;
    if (obj) {
        *(void **)&connect = dlsym(obj, PP_NS_CONNECT);
        *(void **)&s->others = dlsym(obj, PP_NS_OTHERS);
        *(void **)&s->walk = dlsym(obj, PP_NS_WALK);
        *(void **)&s->bind = dlsym(obj, PP_NS_BIND);
        *(void **)&s->holds = dlsym(obj, PP_NS_HOLDS);
    }
    if (!h) {                           /* cannot be: the stub needs it */
        if (obj)
            pp_real_dlclose(obj);
        pp_real_dlclose(stub);
        return NULL;
    }
    *made = 1;
    s->lmid = lmid;
    s->stub = stub;
    s->root = h;
    atomic_store(&s->closed, 0);
    if (!obj || !connect || !s->others || !s->walk || !s->bind || !s->holds ||
        connect(l) != PP_NS_LINK_VERSION) {
        /* cannot be either (the stub needs the object's mark of this
         * version): said so, and the namespace left to the first object,
         * which goes when the library is closed (let_go) */
        if (obj)
            pp_real_dlclose(obj);
        atomic_store(&pp_dlmopen_seen, 1);
        atomic_store(&ns_made, 1);
        atomic_store(&s->state, NS_KEPT);
        return h;
    }
    s->object = obj;
    /* each of the object's names bound to the library's first definition
     * (nsbind.c), unless a constructor's call already did */
    int saved_errno = errno;
    s->bind();
    errno = saved_errno;
    pp_modules_namespace((int)(s - spaces), s->walk);
    atomic_store(&ns_made, 1);
    atomic_store(&s->state, NS_USED);
    return h;
}

/* a free slot for a new namespace */
static struct ns *take(void)
{
    for (int i = 0; i < NS_MAX; i++) {
        int want = NS_EMPTY;
        if (atomic_compare_exchange_strong(&spaces[i].state, &want, NS_CREATING))
            return &spaces[i];
    }
    return NULL;
}

/* dlclose calls under way on this thread: one made by a destructor inside
 * another is deferred by glibc to the end of the outer one, so only the
 * outermost looks for namespaces to close */
static __thread int closing PP_TLS;

/* Still open: the library at handle H, in namespace LMID, has a direct
 * open left besides the first object's need of it and the namespace
 * object's own EXTRA (0 or 1: it holds the library whose allocator it
 * calls): the program's, or the library's own dlopen of itself.  The
 * loader keeps no count anyone may read, but dlclose refuses a handle with
 * none left ("shared object not open"): EXTRA + 1 dlcloses tell, a
 * refusal's message is taken back (it is the shim's, not the program's),
 * and each open let go is taken again at once (RTLD_NOLOAD).  None of it
 * unloads anything: the first object still needs the library. */
/* still_open calls under way, and begun: a program dlclose refused while
 * one ran may have met a library with one of its opens held there */
static _Atomic unsigned probes_now, probes_begun;

static int still_open(Lmid_t lmid, void *h, int extra)
{
    struct link_map *m = NULL;
    int closes = 0;
    if (dlinfo(h, RTLD_DI_LINKMAP, &m) != 0 || !m || !m->l_name)
        return 1;
    atomic_fetch_add(&probes_now, 1);
    atomic_fetch_add(&probes_begun, 1);
    while (closes <= extra) {
        if (pp_real_dlclose(h) != 0) {
            pp_dl_forget();
            break;
        }
        closes++;
    }
    for (int k = 0; k < closes; k++)
        if (!real_dlmopen(lmid, m->l_name, RTLD_LAZY | RTLD_NOLOAD))
            pp_dl_forget();
    atomic_fetch_sub(&probes_now, 1);
    return closes > extra;
}

/* A program's dlclose of H refused while a still_open was under way (it
 * may have held one of H's opens: another thread's last close of a handle
 * of the same library): made again once that is over.  Waited for 20 ms
 * at most: the refused thread may hold the loader's lock (a dlclose from
 * a constructor), which the probe needs to give the open back. */
static int close_again(void *h)
{
    uint64_t until = pp_now_ns() + 20000000;
    while (atomic_load(&probes_now) && pp_now_ns() < until)
        sched_yield();
    return atomic_load(&probes_now) ? -1 : pp_real_dlclose(h);
}

/* S's object asked OP about its namespace, which nsbind.c reads inside
 * the loader's walk, whose lock a forked child would inherit held: under
 * the shim's walk lock, which a fork waits for.  Not had within 50 ms:
 * NOT_HAD, and the question is asked again another time. */
static int ask_walked(struct ns *s, int op, int not_had)
{
    if (!pp_loader_walk_wait(50000000))
        return not_had;
    int answer = s->holds(op);
    pp_loader_walk_done();
    return answer;
}

/* After the program closed a namespace's library: once nothing but the
 * first object holds it open, the first object is closed too, so that
 * the library and what it needs go as they would bare (its destructors
 * run now, their frees counted as the program's).  While it is still open
 * (another handle of the program's, or the library's own open of itself)
 * the first object stays: the namespace's global scope is its scope, and
 * a library opened there later needs the library's names. */
static void let_go(void)
{
    for (int i = 0; i < NS_MAX; i++) {
        struct ns *s = &spaces[i];
        int was = atomic_load(&s->state), gone = 0;
        if (!s->stub || !atomic_load(&s->closed) || (was != NS_USED && was != NS_KEPT) ||
            !atomic_compare_exchange_strong(&s->state, &was, NS_CHECKING))
            continue;
        atomic_store(&s->closed, 0);
        closing++;
        /* kept while it is still open, or another object opened here
         * uses it (asked second: it reads their relocations) */
        int extra = was == NS_USED ? s->holds(PP_NS_HELD_LIBRARY) : 0;
        if (!still_open(s->lmid, s->root, extra) &&
            !(was == NS_USED && ask_walked(s, PP_NS_LIBRARY_NEEDED, 1))) {
            void *stub = s->stub;
            s->stub = s->root = NULL;
            pp_real_dlclose(stub);
            gone = 1;
        } else {
            atomic_store(&s->closed, 1);        /* looked at again at the next dlclose */
        }
        closing--;
        /* a namespace the object never took goes with its first object */
        atomic_store(&s->state, gone && was == NS_KEPT ? NS_EMPTY : was);
    }
}

/* the program's dlclose of H done: if it is a namespace's library, it is
 * looked at (let_go), and again at each later dlclose while it stays */
static void closed(void *h)
{
    for (int i = 0; i < NS_MAX; i++) {
        struct ns *s = &spaces[i];
        int st = atomic_load(&s->state);
        if ((st == NS_USED || st == NS_CHECKING || st == NS_KEPT) && s->root == h && s->stub) {
            atomic_store(&s->closed, 1);
            return;
        }
    }
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
        if (was != NS_USED || s->stub ||
            !atomic_compare_exchange_strong(&s->state, &was, NS_CHECKING))
            continue;
        /* counted, and taken out of the module scan's and the leak
         * check's sight, under the try-lock; closed after it */
        int alone = 0, gone = 0, n = alone_now(s, i, &alone);
        /* when all that is left is what the object holds (the objects it
         * bound names into: nsbind.c) and what they need, that is let go,
         * and taken again if it stays (still in use) */
        if (n > 0 && ask_walked(s, PP_NS_HELD_ALONE, 0)) {
            /* the program's blocks the loader frees then are counted, as
             * at the program's own dlclose that would have freed them */
            int saved = pp_in_hook;
            pp_in_hook = 0;
            s->holds(PP_NS_HELD_RELEASE);
            pp_in_hook = saved;
            alone_now(s, i, &alone);
            if (!alone) {
                pp_in_hook = 0;         /* as when they were taken */
                s->holds(PP_NS_HELD_TAKE);
                pp_in_hook = saved;
            }
        }
        if (alone) {
            /* the object, and the table's holder, came with the program's
             * open, their loader's blocks counted: so are the frees */
            int saved = pp_in_hook;
            pp_in_hook = 0;
            gone = pp_real_dlclose(s->object) == 0;
            pp_in_hook = saved;
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
        if ((st == NS_USED || st == NS_CHECKING || st == NS_KEPT) && spaces[i].lmid == lmid)
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
        /* a namespace of the shim's: the object comes first, but not for
         * RTLD_DEEPBIND.  Any other was made untouched (and noted then),
         * or inside a namespace (noted by the object), or is gone (the
         * call fails) */
        if (file && (mode & RTLD_DEEPBIND) && !(mode & RTLD_NOLOAD) && is_ours(lmid))
            atomic_store(&pp_dlmopen_seen, 1);
    } else if (file && !(mode & (RTLD_DEEPBIND | RTLD_NOLOAD | RTLD_GLOBAL)) &&
               pp_opt.namespaces) {
        /* (glibc refuses RTLD_GLOBAL for a new namespace; RTLD_NOLOAD
         * finds nothing in one) */
        path = pp_dlopen_where(file, caller);
        if (!path)
            atomic_store(&pp_dlmopen_seen, 1);
    } else if (file && !(mode & (RTLD_NOLOAD | RTLD_GLOBAL))) {
        atomic_store(&pp_dlmopen_seen, 1);
    }
    errno = saved_errno;
    return path;
}

__attribute__((used, externally_visible, visibility("hidden"))) void *
pp_dlmopen_owned(char *path, int mode)
{
    int made = 0, saved = pp_in_hook;
    pp_in_hook = 1;
    struct ns *s = take();
    pp_in_hook = saved;
    void *h = s ? make(s, path, mode, &made) : NULL;
    if (s && !made)
        atomic_store(&s->state, NS_EMPTY);
    if (!made) {                        /* no namespace of the shim's: as bare */
        h = real_dlmopen(LM_ID_NEWLM, path, mode);
        if (h)
            atomic_store(&pp_dlmopen_seen, 1);
    }
    pp_dlopen_where_done(path);
    return h;
}

PP_EXPORT int dlclose(void *h)
{
    int py = closing ? 0 : pp_py_close_begin();
    closing++;
    unsigned begun = atomic_load(&probes_begun), now = atomic_load(&probes_now);
    int rc = pp_real_dlclose(h);
    if (rc != 0 && (now || atomic_load(&probes_now) || atomic_load(&probes_begun) != begun))
        rc = close_again(h);
    closing--;
    if (rc == 0 && atomic_load_explicit(&ns_made, memory_order_relaxed)) {
        int saved_errno = errno;
        closed(h);
        if (!closing) {
            let_go();
            int saved = pp_in_hook;
            pp_in_hook = 1;
            reclaim();
            pp_in_hook = saved;
        }
        errno = saved_errno;
    }
    int saved_errno = errno;
    pp_py_close_end(py);
    errno = saved_errno;
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
