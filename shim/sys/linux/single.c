/*
 * single.c - a program with one thread stays single-threaded in glibc's eyes.
 *
 * glibc keeps a flag, __libc_single_threaded, that pthread_create clears
 * for good.  While it is set, glibc's malloc takes no arena lock and
 * frees to its fast bins without atomic instructions, and libstdc++ counts
 * shared_ptr and locale references without them.  The sampler thread would
 * clear it in every program, so a single-threaded program would run a
 * different allocator path under the shim than bare (on python3, 8 more
 * instructions per malloc-family call, which is more than the hooks).
 *
 * So after creating the sampler the shim sets the flag back, when it was
 * set before and the allocator is glibc's.  That is safe because of what
 * the sampler thread never does: it never calls glibc's allocator (any
 * allocation it made would be served from the shim's own arena instead:
 * preload.c, and counted here), never uses stdio, takes no pthread mutex
 * (glibc takes those with a plain store too: the shim's locks are its own,
 * lock.c), calls no library of the program's, and never touches what the
 * program's thread uses without a lock.  The loader's lock is a pthread
 * mutex too, held by dl_iterate_phdr: the sampler walks the loader's list
 * only once the flag is 0 for good (pp_single_may_lock).  Where glibc reads the flag for more than speed, the shim clears it
 * first: set*id() changes the credentials of every thread only when the
 * process is known to have several (hooks/process.c: cleared for good
 * only when the sampler could not be stopped around the call), and around
 * fork() it is cleared for the call.  The program's own first
 * pthread_create clears the flag as it would bare.
 *
 * The flag has two homes when the executable has a copy relocation for it:
 * libc's own (which malloc reads) and the executable's (which the program
 * and libstdc++ read).  pthread_create writes both; so does the shim.
 */
#include "sys/sys.h"

#include <dlfcn.h>

static volatile char *flag_libc;        /* libc's own storage */
static volatile char *flag_seen;        /* the one the program resolves */
static int kept;                        /* the shim set the flag back */
static _Atomic uint64_t aside;          /* the sampler's allocations served aside */
static __thread int on_sampler PP_TLS;
/* Odd while the flag may go from 0 back to 1: from before the sampler's
 * pthread_create until the flag is set back, and from pp_single_end until
 * pp_single_restore (set*id never restores: it stays odd).  The flag goes
 * back to 1 only inside such a window, so a 0 read between two equal even
 * values stays 0 for good (pp_single_may_lock). */
static _Atomic unsigned window;

static void window_step(void)
{
    atomic_fetch_add(&window, 1);
    atomic_thread_fence(memory_order_seq_cst);
}

/* Once, on the program's thread, before the first sampler starts. */
static void resolve(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    flag_libc = dlsym(RTLD_NEXT, "__libc_single_threaded");
    flag_seen = dlsym(RTLD_DEFAULT, "__libc_single_threaded");
    if (!flag_libc || !flag_seen) {
        flag_libc = flag_seen = NULL;   /* glibc before 2.32: no flag */
        pp_dl_forget();
    }
}

/* Only with glibc's allocator (the caller says): another one (jemalloc) is
 * called from the sampler thread (its statistics) and takes pthread
 * mutexes the program's thread takes too. */
int pp_single_before_create(int glibc_allocator)
{
    if (!glibc_allocator)
        return 0;
    resolve();
    if (!flag_libc || !*flag_libc || !*flag_seen)
        return 0;
    window_step();                      /* pthread_create clears it: open */
    return 1;
}

/* Both copies of the flag (glibc's pthread_create writes both too) */
static void set_flag(char v)
{
    *flag_libc = v;
    *flag_seen = v;
}

void pp_single_after_create(int was_single, int created)
{
    if (was_single && created) {
        set_flag(1);
        kept = 1;
    }
    if (was_single)
        window_step();                  /* closed: the flag as it will stay */
}

/* set*id() for good, fork() for the call: glibc's set*id changes the
 * credentials of every thread, and its fork takes and resets the
 * allocator's and stdio's locks and (in the child) its count of threads,
 * only when the flag says the process has several.  Left at the parent's,
 * that count makes a child's main calling pthread_exit skip the atexit
 * handlers.  After fork the child has one thread of the program's, as the
 * parent had: pp_single_restore sets the flag back on both sides. */
int pp_single_end(void)
{
    if (!kept || !*flag_libc)
        return 0;
    window_step();
    set_flag(0);
    return 1;
}

void pp_single_restore(int ended)
{
    if (ended) {
        set_flag(1);
        window_step();
    }
}

/* glibc's pthread_mutex_lock takes a free mutex with a plain store, and
 * pthread_mutex_unlock frees it with a plain store and wakes no waiter,
 * whenever the flag is set (the recursive mutexes too: the loader's).
 * The program's own threads may take any mutex: while the flag is set
 * there is one of them.  The sampler may only once the flag is 0 for good:
 * never set back by the shim, or cleared since by the program's own
 * pthread_create. */
int pp_single_may_lock(void)
{
    if (!on_sampler || !flag_libc)
        return 1;
    unsigned before = atomic_load(&window);
    int set = *flag_libc;
    atomic_thread_fence(memory_order_seq_cst);
    return !set && !(before & 1) && atomic_load(&window) == before;
}

void pp_single_mark_sampler(int on)
{
    on_sampler = on;
}

int pp_single_served_aside(void)
{
    if (!on_sampler || !flag_libc || !*flag_libc)
        return 0;
    atomic_fetch_add_explicit(&aside, 1, memory_order_relaxed);
    return 1;
}

uint64_t pp_single_aside_count(void)
{
    return atomic_load(&aside);
}
