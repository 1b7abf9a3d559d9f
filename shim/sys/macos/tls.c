/*
 * tls.c - per-thread blocks for the hooks on macOS, found through pthread
 * keys (tls.h: PP_THREAD_BLOCK).
 *
 * A __thread variable on macOS is a TLV: its first access on a thread
 * calls malloc to make the thread's copy, and malloc is one of the hooks
 * that touch it, so the hook would come back into itself before the copy
 * exists.  These blocks come from raw mappings of the shim's own instead,
 * and a thread finds its block with pthread_getspecific (a load from its
 * TSD array).  The key is created on a thread's first access of the first
 * block (pthread_key_create takes a lock and does not allocate); until it
 * exists, which is only during start-up, every thread shares one early
 * block, which the creating thread then keeps as its own.
 *
 * At a thread's end the block goes back to a free list, zeroed when it is
 * handed out again; it is put back for the next destructor round first
 * (up to PTHREAD_DESTRUCTOR_ITERATIONS) so that the shim's other
 * destructors (counters.c, region.c) still find the thread's own data.
 *
 * Not run on a Mac (docs/macos.md).
 */
#include "sys/sys.h"
#include "sys/macos/tls.h"

#include <limits.h>
#include <pthread.h>
#include <string.h>

struct hdr {
    struct pp_tkey *owner;
    void *next;                 /* on the free list */
    int rounds;                 /* destructor rounds seen */
    int pad[3];
};

static pp_lock_t pool_lock = PP_LOCK_INIT;
static char *pool_at, *pool_end;

/* SIZE zeroed bytes after a header, from the shim's own mappings */
static void *pool_take(struct pp_tkey *k)
{
    size_t n = sizeof(struct hdr) + ((k->size + 15) & ~(size_t)15);
    struct hdr *h = NULL;
    pp_lock(&pool_lock);
    if (k->free_list) {
        h = (struct hdr *)k->free_list - 1;
        k->free_list = h->next;
        memset(h + 1, 0, k->size);
    } else {
        if (!pool_at || (size_t)(pool_end - pool_at) < n) {
            size_t chunk = n > 65536 ? n : 65536;
            /* zero-filled, and on the list of the shim's own mappings
             * (pp_os_map: no lock), so that the leak check never takes a
             * thread's block for a root and the RSS breakdown counts it as
             * perfprobe's */
            char *m = pp_os_map(chunk);
            if (m) {
                pool_at = m;
                pool_end = m + chunk;
            }
        }
        if (pool_at && (size_t)(pool_end - pool_at) >= n) {
            h = (struct hdr *)pool_at;
            pool_at += n;
        }
    }
    pp_unlock(&pool_lock);
    if (!h)
        return NULL;
    h->owner = k;
    h->next = NULL;
    h->rounds = 0;
    return h + 1;
}

static void thread_ends(void *block)
{
    struct hdr *h = (struct hdr *)block - 1;
    struct pp_tkey *k = h->owner;
    if (++h->rounds < PTHREAD_DESTRUCTOR_ITERATIONS - 1) {
        pthread_setspecific((pthread_key_t)k->key, block);    /* one more round */
        return;
    }
    pp_lock(&pool_lock);
    h->next = k->free_list;
    k->free_list = block;
    pp_unlock(&pool_lock);
}

void pp_tkey_after_fork_child(void)
{
    pp_lock_reset(&pool_lock);
}

void *pp_tkey_lookup(unsigned long key)
{
    return pthread_getspecific((pthread_key_t)key);
}

/* when not even the early block could be mapped */
static char fallback[256] __attribute__((aligned(16)));

void *pp_tkey_block(struct pp_tkey *k)
{
    int state = atomic_load_explicit(&k->state, memory_order_acquire);
    if (state != 2) {
        if (!k->early) {
            /* start-up: one thread as a rule; a race leaves one block unused */
            void *e = pool_take(k);
            if (!e && k->size <= sizeof fallback)
                e = fallback;
            if (!k->early)
                k->early = e;
        }
        int none = 0;
        if (state == 1 || !atomic_compare_exchange_strong(&k->state, &none, 1))
            return k->early;
        pthread_key_t key;
        if (pthread_key_create(&key, thread_ends) != 0) {
            atomic_store(&k->state, 0);
            return k->early;
        }
        k->key = (unsigned long)key;
        pthread_setspecific(key, k->early);
        atomic_store_explicit(&k->state, 2, memory_order_release);
        return k->early;
    }
    void *b = pool_take(k);
    if (!b)
        return k->early;        /* no memory: shared, as during start-up */
    pthread_setspecific((pthread_key_t)k->key, b);
    return b;
}
