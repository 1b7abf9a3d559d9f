/*
 * nsbind.h - what each of the namespace object's names calls (nsbind.c
 * finds it, nsshim.c's hooks call it).  Internal to libperfprobe-ns.so.
 */
#ifndef PP_NS_NSBIND_H
#define PP_NS_NSBIND_H

#include "ns/nslink.h"

#include <stdint.h>
#include <sys/types.h>

#define NS_HIDDEN __attribute__((visibility("hidden")))

/* each name's index: the calls' (F_MALLOC ... F_FEXECVE, nslink.h), then
 * the mapping calls; the malloc family comes first, up to F_FAMILY */
#define F_INDEX(id, field, name) F_##id,
enum { PP_NS_CALLS(F_INDEX) F_MMAP, F_MMAP64, F_MUNMAP, F_MREMAP, F_ITERATE, F_N,
       F_FAMILY = F_DLOPEN };
#undef F_INDEX

struct fwd {
    struct pp_ns_calls c;
    /* NULL: the system call itself */
    void *(*mmap)(void *, size_t, int, int, int, off_t);
    void *(*mmap64)(void *, size_t, int, int, int, off_t);
    int (*munmap)(void *, size_t);
    void *(*mremap)(void *, size_t, size_t, int, ...);
    /* NULL: the base's (the table's iterate) */
    int (*iterate)(int (*)(struct dl_phdr_info *, size_t, void *), void *);
    int own;               /* the allocator is the library's own, not libc's */
    unsigned counted;      /* a bit per name of the family: its calls counted */
    int bound;             /* PP_NS_LIBC, PP_NS_OWN or PP_NS_PASS */
    uintptr_t from[F_N];   /* where each name's definition is (0: the base's) */
};

/* system call NR with its arguments, made with the instruction itself;
 * the kernel's answer (-4095 to -1: an error) */
NS_HIDDEN long ns_sys(long nr, long a, long b, long c, long d, long e, long f);

/* where the shim's table's address is: in an object of the shim's that the
 * namespace's first object needs (hooks/nsstub.c); NULL when this object
 * was opened some other way */
NS_HIDDEN const struct pp_ns_link *const *ns_pending(void);

/* where this object is: its segments' first byte and last byte past (0, 0
 * when the walk does not find it); on the shim's scope, as the shim's
 * calls, which it comes before (the table is taken first) */
NS_HIDDEN void ns_self(const struct pp_ns_link *l, uintptr_t *lo, uintptr_t *hi, uintptr_t *base);

/* the base namespace's, as the shim handed them over: until bound, and
 * when no binding can be made */
NS_HIDDEN void ns_fwd_base(struct fwd *f, const struct pp_ns_link *l);

/* each name bound to the first definition in the scope of the library
 * (the object after this one), as the loader built it; F keeps the
 * base's when there is none, or when the namespace holds more objects than
 * are looked through (then 0 is returned, else 1); -1 when no room to
 * work could be had (F is not to be used) */
NS_HIDDEN int ns_fwd_bind(struct fwd *f, const struct pp_ns_link *l);

/* The objects other than libc that F's names were bound into, taken
 * (dlopen with RTLD_NOLOAD), so that they stay loaded while the namespace
 * calls them, as the loader keeps an object another's relocations bound
 * into; let go when they, and what they need, are all that is left. */
NS_HIDDEN void ns_hold(const struct fwd *f, const struct pp_ns_link *l);
NS_HIDDEN void ns_release(const struct pp_ns_link *l);
/* how many objects the namespace holds besides this one, the table's
 * holder (hooks/nsstub.c) and the loader (its vDSO too); on the shim's
 * scope */
NS_HIDDEN int ns_others(const struct pp_ns_link *l);
/* 1 when the library itself is one of them (its allocator is its own) */
NS_HIDDEN int ns_holds_library(const struct pp_ns_link *l);
/* 1 when an object outside the namespace's first object's scope (opened
 * into the namespace since) needs the library (DT_NEEDED), or has a
 * reference bound into it (found through the namespace's global scope):
 * the loader keeps the library for it once the program has closed it */
NS_HIDDEN int ns_library_needed(const struct pp_ns_link *l);
/* 1 when some are held and every object of the namespace but this one and
 * the loader is one of them, or a dependency of one */
NS_HIDDEN int ns_only_held(const struct pp_ns_link *l);

#endif
