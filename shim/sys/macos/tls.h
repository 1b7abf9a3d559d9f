/*
 * tls.h - the macOS hooks' per-thread blocks (tls.c): the key type and the
 * inline lookup a hook makes on every call.
 *
 * Linux keeps such data in __thread variables with the initial-exec model
 * (sys.h: PP_TLS).  On macOS a __thread variable is a TLV whose first
 * access on a thread calls malloc to make the thread's copy, and malloc is
 * a hook that would touch it again.  There a hook's per-thread data is a
 * block of the shim's own memory (raw mappings, never the allocator) found
 * through a pthread key created on first use: pthread_getspecific is a
 * load from the thread's own TSD array, and neither it nor
 * pthread_setspecific allocates.  PP_THREAD_BLOCK(type, name) defines
 * NAME_at(), this thread's zeroed TYPE.
 *
 * sys.h includes this header on macOS; it needs nothing of sys.h, so that
 * tests/unit/test_tkey.c can run tls.c on Linux.
 */
#ifndef PP_SYS_MACOS_TLS_H
#define PP_SYS_MACOS_TLS_H

#include <stdatomic.h>
#include <stddef.h>

struct pp_tkey {
    _Atomic int   state;        /* 0 none, 1 being created, 2 ready */
    unsigned long key;          /* the pthread key */
    size_t        size;
    void         *early;        /* the block used before the key exists */
    void         *free_list;    /* blocks of ended threads */
};
#define PP_TKEY_INIT(type) {0, 0, sizeof(type), NULL, NULL}
void *pp_tkey_block(struct pp_tkey *k);      /* a thread's first access */
void *pp_tkey_lookup(unsigned long key);     /* pthread_getspecific */
void pp_tkey_after_fork_child(void);         /* the pool's lock, free again */
static inline void *pp_tkey_get(struct pp_tkey *k)
{
    if (__builtin_expect(atomic_load_explicit(&k->state, memory_order_acquire) == 2, 1)) {
        void *p = pp_tkey_lookup(k->key);
        if (__builtin_expect(p != NULL, 1))
            return p;
    }
    return pp_tkey_block(k);
}
#define PP_THREAD_BLOCK(type, name)                                             \
    static struct pp_tkey name##_tkey = PP_TKEY_INIT(type);                     \
    static inline type *name##_at(void) { return (type *)pp_tkey_get(&name##_tkey); }

#endif
