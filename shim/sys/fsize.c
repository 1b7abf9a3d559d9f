/*
 * fsize.c - whether the soft RLIMIT_FSIZE is finite, for the shim's writes.
 *
 * A write of the shim's past the limit raises SIGXFSZ, which would end a
 * program that itself wrote nothing too large; posix.c's pp_quiet_begin
 * keeps it from the program, but only while the limit is finite, so that
 * with no limit (nearly always) the timeline's writes pay no system call
 * for it.  The limit is looked at at start-up, each sample and at exit,
 * and around every call of the program's that sets it (hooks/fds.c, and
 * syscall() in linux/syscall.c): while such a call is under way the
 * writes keep SIGXFSZ away whatever the last look said.  A file of its
 * own, with no system call in it but getrlimit, so that syscall.c can
 * use it without a circle through posix.c (which makes its calls through
 * syscall()).
 */
#define _GNU_SOURCE
#include "sys/sys.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

static atomic_int fsize_limited = 1;    /* until the first look */
static atomic_int fsize_changing;       /* set*rlimit calls under way */
static atomic_uint fsize_seq;           /* calls begun and ended */
static _Atomic uint64_t fsize_limit = UINT64_MAX;
static atomic_int fsize_owner;          /* the process this is about */

/* The limit read now, and kept unless SEQ (when given: the count read
 * before) says a call of the program's set it meanwhile: that call's own
 * look is the one to keep. */
static void look(const unsigned *seq)
{
    struct rlimit rl;
    int ok = getrlimit(RLIMIT_FSIZE, &rl) == 0;
    int finite = !ok || rl.rlim_cur != RLIM_INFINITY;
    if (seq && (atomic_load(&fsize_changing) || atomic_load(&fsize_seq) != *seq))
        return;
    atomic_store(&fsize_limited, finite);
    atomic_store(&fsize_limit, ok && finite ? (uint64_t)rl.rlim_cur : UINT64_MAX);
}

void pp_fsize_check(int start)
{
    int saved = errno;
    if (start) {
        atomic_store(&fsize_owner, (int)getpid());
        look(NULL);
    } else {
        unsigned seq = atomic_load(&fsize_seq);     /* each sample, and at exit */
        look(&seq);
    }
    errno = saved;
}

uint64_t pp_fsize_limit(void)
{
    return atomic_load(&fsize_limit);
}

/* A vfork child (or a raw clone's) shares this memory but not the limit:
 * its calls leave the state alone. */
static int this_process(void)
{
    int saved = errno, mine = (int)getpid() == atomic_load(&fsize_owner);
    errno = saved;
    return mine;
}

void pp_fsize_change_begin(void)
{
    if (!this_process())
        return;
    atomic_fetch_add(&fsize_changing, 1);
    atomic_fetch_add(&fsize_seq, 1);
}

void pp_fsize_change_end(void)
{
    if (!this_process())
        return;
    int saved = errno;
    look(NULL);
    errno = saved;
    atomic_fetch_add(&fsize_seq, 1);
    atomic_fetch_sub(&fsize_changing, 1);
}

int pp_fsize_guarded(void)
{
    return atomic_load(&fsize_limited) || atomic_load(&fsize_changing);
}
