/*
 * apart.c - descriptors the sampler thread needs, opened out of the
 * program's descriptor table.
 *
 * Every call that makes a descriptor gives the lowest free number, and
 * programs rely on that: a daemon closes everything and reopens 0, 1 and
 * 2 on /dev/null; a shell closes a number and expects the next pipe on it.
 * A descriptor the shim opens is moved high at once (posix.c), but between
 * the open and the move it holds that lowest number, and a program that
 * closes it and opens again in that moment gets another number.  The
 * program's own threads open what they open at moments the program chose;
 * the sampler thread opens at moments of its own, so what it opens while
 * the program runs is opened here instead: by a task of the process's
 * thread group that shares its memory but has a copy of the descriptor
 * table (clone without CLONE_FILES), in which the program's numbers are
 * already taken and its closes are not seen.  The task opens, reads or
 * maps, closes, and ends; the sampler waits for it in a futex the kernel
 * clears and wakes as the task ends (CLONE_CHILD_CLEARTID), where a stop
 * of the process (SIGSTOP, a shell's ^Z, a tracer's) stops the sampler
 * too: a vfork's wait cannot be stopped, and a process stopped while the
 * task ran then never finished stopping, its parent waiting for ever
 * (tests/progs/stop_child: 3 rounds in 200 hung under CLONE_VFORK).  A perf
 * event lives on in its mapping after its descriptor is closed, so an
 * event opened here is never a number in the program's table at all.
 *
 * The task runs on a stack of this file's, with the sampler's thread
 * pointer: it makes raw system calls only, and errno (the sampler's, which
 * waits) is all of the thread's state it touches.  It blocks every signal,
 * as the sampler does, so no signal of the process is delivered to it.
 * It lives some tens of microseconds, and the sampler goes on only once
 * the kernel no longer lists it; its id is known meanwhile (pp_apart_tid,
 * written by the kernel before the task runs: CLONE_PARENT_SETTID) so that
 * a list or a count the program reads then can leave it out (selfstat.c).
 *
 * Where the task cannot be made (a limit on tasks: tried again a second
 * later), or must not be (a seccomp filter on the sampler thread, which may
 * kill the process for a clone whose flags it does not expect), the caller
 * is told, and does what it did before: opens in the program's table, for
 * a moment.
 */
#define _GNU_SOURCE
#include "sys/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define STACK_SIZE (64u << 10)

static __thread int here PP_TLS;       /* this thread is the sampler */
static char *stack;
static _Atomic unsigned gen;            /* odd from before a clone until the
                                         * task is gone */
static pid_t live;                      /* the task's id while it runs (the
                                         * kernel writes it before it starts) */
enum { RECENT = 16 };
static _Atomic pid_t recent[RECENT];    /* the last tasks' ids, kept after */
static _Atomic unsigned n_recent;
static _Atomic int running;             /* 1 from the clone until the
                                         * kernel clears it as the task ends */
static atomic_flag busy = ATOMIC_FLAG_INIT;
static _Atomic int refused;             /* never tried again (a seccomp filter,
                                         * a clone refused for good) */
static uint64_t retry_ns;               /* a limit on tasks refused it: not
                                         * tried again before then */
#define RETRY_NS 1000000000u

struct job {
    int (*fn)(void *);
    void *arg;
    int rc;
};

static int entry(void *p)
{
    struct job *j = p;
    j->rc = j->fn(j->arg);
    return 0;
}

/* no task this time: the stack free again, errno as it was */
static int none(int saved)
{
    atomic_flag_clear(&busy);
    errno = saved;
    return -1;
}

int pp_apart_run(int (*fn)(void *), void *arg, int *rc)
{
    if (refused || (retry_ns && pp_now_ns() < retry_ns))
        return -1;
    if (atomic_flag_test_and_set(&busy))
        return -1;                      /* one at a time: the stack is one */
    int saved = errno;
    if (atomic_load(&refused))          /* pp_apart_forbid since the look */
        return none(saved);
    /* a seccomp filter may kill on a clone it does not expect (browsers'
     * sandboxes allow only the flags of pthread_create): with a filter on
     * this thread, never tried (filters are never taken off) */
    if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 0) {
        refused = 1;
        return none(saved);
    }
    if (!stack)
        stack = pp_os_map(STACK_SIZE);
    if (!stack)
        return none(saved);
    struct job j = {fn, arg, -1};
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    atomic_fetch_add(&gen, 1);
    atomic_store(&running, 1);
    int flags = CLONE_VM | CLONE_FS | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
                CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
    int got = clone(entry, stack + STACK_SIZE - 64, flags, &j, &live, NULL, &running);
    int err = got < 0 ? errno : 0;
    if (got > 0)
        atomic_store(&recent[atomic_fetch_add(&n_recent, 1) % RECENT], got);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (got < 0) {
        atomic_store(&running, 0);
        /* a limit on tasks (EAGAIN: pids.max, RLIMIT_NPROC) or memory
         * passes: tried again a second later; anything else is for good */
        if (err == EAGAIN || err == ENOMEM)
            retry_ns = pp_now_ns() + RETRY_NS;
        else
            refused = 1;
        atomic_fetch_add(&gen, 1);
        return none(saved);
    }
    /* a shared futex wait, as the kernel's wake at the task's end is one
     * (the word is in private memory, so the two meet either way) */
    while (atomic_load(&running)) {
        struct timespec ts = {0, 10000000};
        syscall(SYS_futex, &running, FUTEX_WAIT, 1, &ts, NULL, 0);
    }
    /* the kernel clears the word when the task lets go of the memory, a
     * moment before it takes the task out of the thread group: until then
     * it is counted, and a program that must be single-threaded
     * (unshare(CLONE_NEWUSER), after the sampler paused) would fail.  So
     * the task is waited for until it is no longer there (bounded) */
    for (int i = 0; i < 100000 && !pp_tid_gone(got); i++)
        sched_yield();
    __atomic_store_n(&live, 0, __ATOMIC_RELEASE);
    atomic_fetch_add(&gen, 1);
    atomic_flag_clear(&busy);
    errno = saved;
    *rc = j.rc;
    return 0;
}

/* A seccomp filter is about to be put on every thread of the process,
 * the sampler's too (SECCOMP_FILTER_FLAG_TSYNC): the check in
 * pp_apart_run could come before it and the clone after, and a filter
 * that does not expect the clone's flags kills the process.  So no task
 * is made from now on, and one already under way is waited for (tens of
 * microseconds): pp_apart_run looks at REFUSED again once it holds BUSY. */
void pp_apart_forbid(void)
{
    atomic_store(&refused, 1);
    while (atomic_flag_test_and_set(&busy))
        sched_yield();
    atomic_flag_clear(&busy);
}

void pp_apart_prime(void)
{
    const char *pre = getenv("LD_PRELOAD");
    if (pre && strstr(pre, "/vgpreload_core"))
        refused = 1;
}

/* a forked child has no task apart, whatever the parent's sampler was
 * doing when another thread forked: nothing running, nothing busy */
void pp_apart_after_fork(void)
{
    atomic_store(&gen, 0);
    __atomic_store_n(&live, 0, __ATOMIC_RELEASE);
    for (int i = 0; i < RECENT; i++)
        atomic_store(&recent[i], 0);
    atomic_flag_clear(&busy);
}

void pp_apart_mark(int on)
{
    here = on;
}

int pp_apart_here(void)
{
    return here;
}

unsigned pp_apart_gen(void)
{
    return atomic_load(&gen);
}

pid_t pp_apart_tid(void)
{
    return __atomic_load_n(&live, __ATOMIC_ACQUIRE);
}

int pp_apart_was(pid_t tid)
{
    for (int i = 0; i < RECENT; i++)
        if (tid > 0 && atomic_load_explicit(&recent[i], memory_order_relaxed) == tid)
            return 1;
    return 0;
}

/* ---- reading a file whole ------------------------------------------------- */

struct read_job {
    const char *path;
    char *buf;
    size_t cap;
    ssize_t got;
    int err;
};

static int read_in(void *p)
{
    struct read_job *r = p;
    long fd = syscall(SYS_openat, AT_FDCWD, r->path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        r->err = errno;
        return -1;
    }
    size_t have = 0;
    while (have < r->cap) {
        long n = syscall(SYS_read, fd, r->buf + have, r->cap - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0 && !have) {
                r->err = errno;
                have = (size_t)-1;
            }
            break;
        }
        have += (size_t)n;
    }
    syscall(SYS_close, fd);
    r->got = (ssize_t)have;
    return 0;
}

ssize_t pp_apart_read(const char *path, char *buf, size_t cap, int *done)
{
    struct read_job r = {path, buf, cap, -1, 0};
    int rc;
    int saved = errno;
    *done = pp_apart_run(read_in, &r, &rc) == 0;
    errno = r.got < 0 && r.err ? r.err : saved;
    return *done ? r.got : -1;
}
