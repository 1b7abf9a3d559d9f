/*
 * nslink.h - what the shim and its namespace object hand each other.
 *
 * A library the program opens into a link namespace of its own (dlmopen)
 * gets a copy of libc there, outside the preloaded hooks' scope.  The shim
 * opens the library into a namespace whose first object (hooks/nsstub.c)
 * needs libperfprobe-ns.so (nsshim.c) before it, so that the object's
 * malloc family comes first in that namespace's lookup scope, as the
 * shim's own does in the base namespace under LD_PRELOAD.  This is the one
 * table they share: the base namespace's calls, handed over by the shim,
 * and the shim's counting, called by the namespace object's hooks.
 */
#ifndef PP_NS_NSLINK_H
#define PP_NS_NSLINK_H

#include <stddef.h>
#include <stdint.h>

struct dl_phdr_info;

#ifndef PP_NS_LINK_VERSION             /* set otherwise only by a test (t0725) */
#define PP_NS_LINK_VERSION 9
#endif
#define PP_NS_STR_(x) #x
#define PP_NS_STR(x) PP_NS_STR_(x)

/* The first object's two symbols: the table, defined absolute at the
 * shim's copy for the namespace, which the object takes at its first hook
 * call (the library's constructors may make it); and the object's mark of
 * this version, which the first object needs, so that an object of
 * another build fails the open before any constructor runs. */
#define PP_NS_PENDING "pp_ns_pending"
#define PP_NS_MARK_ID_(v) pp_ns_link_v##v
#define PP_NS_MARK_ID(v) PP_NS_MARK_ID_(v)
#define PP_NS_MARK "pp_ns_link_v" PP_NS_STR(PP_NS_LINK_VERSION)

/* The calls the object's names make on: the first definitions in the
 * library's scope, found by the object (nsbind.c), or, until then and when
 * they cannot be found, the base namespace's, handed over by the shim.  exit, _exit and the exec family end or replace
 * the process past the shim's own hooks: the object makes the shim's part
 * first (finish, exit_now, exec_begin, exec_failed below). */
struct pp_ns_calls {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void *(*reallocarray)(void *, size_t, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    size_t (*usable)(void *);
    void *dlopen;
    void *dlmopen;
    int *(*errno_location)(void);
    void (*exit)(int);
    void (*exit_now)(int);
    int (*execve)(const char *, char *const[], char *const[]);
    int (*execv)(const char *, char *const[]);
    int (*execvp)(const char *, char *const[]);
    int (*execvpe)(const char *, char *const[], char *const[]);
    int (*fexecve)(int, char *const[], char *const[]);
    int (*pthread_create)(void *, const void *, void *(*)(void *), void *);
    int (*fork)(void);
    int (*pthread_key_create)(unsigned *, void (*)(void *));
    int (*pthread_key_delete)(unsigned);
    int (*pthread_setspecific)(unsigned, const void *);
};

/* each call's field and name, in the struct's order (the malloc family
 * first, up to dlopen), for the shim's lookups in that libc and the
 * object's in the library's scope: X(ID, field, "name") */
#define PP_NS_CALLS(X)                                                  \
    X(MALLOC, malloc, "malloc")                                         \
    X(FREE, free, "free")                                               \
    X(CALLOC, calloc, "calloc")                                         \
    X(REALLOC, realloc, "realloc")                                      \
    X(REALLOCARRAY, reallocarray, "reallocarray")                       \
    X(POSIX_MEMALIGN, posix_memalign, "posix_memalign")                 \
    X(ALIGNED_ALLOC, aligned_alloc, "aligned_alloc")                    \
    X(MEMALIGN, memalign, "memalign")                                   \
    X(VALLOC, valloc, "valloc")                                         \
    X(PVALLOC, pvalloc, "pvalloc")                                      \
    X(USABLE, usable, "malloc_usable_size")                             \
    X(DLOPEN, dlopen, "dlopen")                                         \
    X(DLMOPEN, dlmopen, "dlmopen")                                      \
    X(ERRNO, errno_location, "__errno_location")                        \
    X(EXIT, exit, "exit")                                               \
    X(EXIT_NOW, exit_now, "_exit")                                      \
    X(EXECVE, execve, "execve")                                         \
    X(EXECV, execv, "execv")                                            \
    X(EXECVP, execvp, "execvp")                                         \
    X(EXECVPE, execvpe, "execvpe")                                      \
    X(FEXECVE, fexecve, "fexecve")                                      \
    X(PTHREAD_CREATE, pthread_create, "pthread_create")                 \
    X(FORK, fork, "fork")                                               \
    X(KEY_CREATE, pthread_key_create, "pthread_key_create")             \
    X(KEY_DELETE, pthread_key_delete, "pthread_key_delete")             \
    X(SETSPECIFIC, pthread_setspecific, "pthread_setspecific")

struct pp_ns_link {
    int version;
    struct pp_ns_calls base;            /* the base namespace's, past the shim */
    /* the shim's counting, with the namespace allocator's usable sizes:
     * a block handed out; a block about to be freed or moved by realloc
     * (its site, if sampled, let go); a free counted (P may be NULL: a
     * realloc to 0); a realloc's new block */
    void (*alloc)(void *p, size_t usable);
    void (*moving)(void *p, size_t usable);
    void (*freed)(void *p, size_t usable);
    void (*resized)(void *q, size_t old_usable, size_t new_usable);
    /* the shim's mappings: mmap, munmap and mremap made in the namespace */
    void (*mapped)(void *addr, size_t len, int flags);
    void (*unmapped)(void *addr, size_t len);
    void (*moved)(void *old, size_t old_len, void *addr, size_t len, int dontunmap);
    /* the shim's flags for what its figures then miss: a library here
     * that calls dlmopen for yet another namespace, or dlopen with
     * RTLD_DEEPBIND (its own libc first) */
    int *dlmopen_seen;
    int *deepbind_seen;
    /* the loader's walk and dlclose (dl_iterate_phdr lists the namespace
     * of its caller's return address: called from the object, the
     * object's namespace) */
    int (*iterate)(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg);
    int (*unload)(void *);             /* dlclose */
    /* on this thread: 1 to say a binding is being made (answers whether
     * one already was), 0 when it is done */
    int (*guard)(int on);
    /* around a call into an allocator of the library's own (not libc's):
     * the shim's hook depth raised, so that the mappings it makes to feed
     * its heap are not counted as the program's (as in the base
     * namespace); enter answers the depth to give back to leave */
    int (*enter)(void);
    void (*leave)(int was);
    /* the shim's part of an exit, _exit or exec made inside the namespace:
     * the summary before an exit (finish), the records held before an
     * _exit (exit_now), the image's last records before an exec
     * (exec_begin, with the environment passed, NULL for environ, and 1
     * for a search of PATH; what it answers goes to exec_failed) */
    void (*finish)(void);
    /* where the object is (its first and last byte past), at its first
     * call: its frames are the shim's, cut off the stacks it records */
    void (*located)(const struct pp_ns_link *l, uintptr_t lo, uintptr_t hi);
    /* first thing on a thread the namespace's pthread_create made, and
     * last as it ends: that libc runs its own keys' destructors, not the
     * shim's, so the object calls thread_ends from a destructor of a key
     * of that libc's (again in each round of them, as a destructor may
     * allocate or begin a region; LAST in the last), or when the start
     * routine returns (LAST 1) */
    void (*thread_begins)(void);
    void (*thread_ends)(int last);
    /* around a fork made here (its libc runs none of the base libc's
     * preparations): begin answers what end takes, with whether this is
     * the child */
    int (*fork_begin)(void);
    void (*fork_end)(int began, int child);
    void (*exit_now)(void);
    int (*exec_begin)(const char *file, char *const argv[], char *const envp[], int search);
    void (*exec_failed)(int began, const char *file);
};

/* the namespace object's entries besides the hooks: hand it the table
 * (kept, not copied: it lives as long as the namespace; it answers
 * PP_NS_LINK_VERSION when it takes it, 0 for another version); count the objects
 * of its namespace other than itself and the loader; and
 * dl_iterate_phdr from inside the namespace (the loader lists its
 * caller's namespace), for the shim's list of modules */
#define PP_NS_CONNECT "pp_ns_connect"
#define PP_NS_OTHERS  "pp_ns_others"
#define PP_NS_WALK    "pp_ns_walk"

/* after the open of the program's library into the namespace: bind binds
 * each of the object's names to what the library's scope finds first bare,
 * unless a hook already did at its first call from the library's
 * constructors, and holds what it bound into.  It answers what it found:
 * PP_NS_LIBC (libc's
 * allocator), PP_NS_OWN (the library's own, counted), PP_NS_PASS (passed
 * through uncounted: an allocator of the library's own whose
 * malloc_usable_size, free, calloc or realloc is not its own), PP_NS_NONE
 * (not opened). */
#define PP_NS_BIND    "pp_ns_bind"
#define PP_NS_HOLDS   "pp_ns_holds"       /* the objects bound into, held */
enum { PP_NS_HELD_ALONE, PP_NS_HELD_RELEASE, PP_NS_HELD_TAKE, PP_NS_HELD_LIBRARY,
       PP_NS_LIBRARY_NEEDED };
enum { PP_NS_NONE, PP_NS_LIBC, PP_NS_OWN, PP_NS_PASS };

#endif
