/*
 * posix.c - what the shim asks of any POSIX system the same way: the
 * clocks, and the list of its own memory with how much of it is resident
 * (mincore), writing a whole buffer without SIGPIPE, and the descriptors
 * the shim keeps out of the program's way, and CPU time and faults
 * (getrusage), and where a thread's id is kept in its thread block.  The mappings themselves come
 * from each system's raw primitive (pp_os_map_raw).
 */
#define _GNU_SOURCE
#include "sys/sys.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif
#include <sys/uio.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

uint64_t pp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t pp_unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The shim's own mappings are remembered, so that the RSS breakdown can
 * name the memory perfprobe itself holds.  pp_os_map is called from inside
 * allocator hooks (a new thread's counter slot), so the list takes no lock:
 * entries are claimed with one atomic add and cleared on unmap. */
#define OWN_MAX 4096
static struct { _Atomic uintptr_t addr; _Atomic size_t len; } own[OWN_MAX];
static _Atomic size_t n_own;

void *pp_os_map(size_t len)
{
    void *r = pp_os_map_raw(len);
    if (!r)
        return NULL;
    size_t i = atomic_fetch_add(&n_own, 1);
    if (i < OWN_MAX) {
        atomic_store(&own[i].addr, (uintptr_t)r);
        atomic_store(&own[i].len, len);
    }
    return r;
}

void pp_os_unmap(void *p, size_t len)
{
    pp_os_unmap_raw(p, len);
    size_t n = atomic_load(&n_own);
    for (size_t i = 0; i < n && i < OWN_MAX; i++)
        if (atomic_load(&own[i].addr) == (uintptr_t)p) {
            atomic_store(&own[i].len, 0);
            atomic_store(&own[i].addr, 0);
            break;
        }
}

/* Resident bytes of [addr, addr+len): mincore, a page at a time in the
 * vector, 16 MiB a call.  Unmapped parts count as not resident. */
uint64_t pp_os_resident(uintptr_t addr, size_t len)
{
    static size_t page;
    unsigned char vec[4096];
    uint64_t pages = 0;
    int saved = errno;
    if (!page)
        page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = addr & ~(uintptr_t)(page - 1), end = addr + len;
    while (a < end) {
        size_t n = (end - a + page - 1) / page;
        if (n > sizeof vec)
            n = sizeof vec;
        if (mincore((void *)a, n * page, (void *)vec) == 0) {
            /* the resident bit of eight pages at a time: the multiply adds
             * the eight bytes (each 0 or 1) into the top one */
            size_t i = 0;
            for (; i + 8 <= n; i += 8) {
                uint64_t w;
                memcpy(&w, vec + i, 8);
                pages += ((w & 0x0101010101010101u) * 0x0101010101010101u) >> 56;
            }
            for (; i < n; i++)
                pages += vec[i] & 1;
        }
        a += n * page;
    }
    errno = saved;
    return pages * page;
}

size_t pp_os_own_ranges(uintptr_t (*out)[2], size_t max)
{
    size_t n = atomic_load(&n_own), k = 0;
    for (size_t i = 0; i < n && i < OWN_MAX && k < max; i++) {
        uintptr_t a = atomic_load(&own[i].addr);
        size_t len = atomic_load(&own[i].len);
        if (a && len) {
            out[k][0] = a;
            out[k][1] = a + len;
            k++;
        }
    }
    return k;
}

uint64_t pp_os_resident_own(void)
{
    uint64_t total = 0;
    size_t n = atomic_load(&n_own);
    for (size_t i = 0; i < n && i < OWN_MAX; i++) {
        uintptr_t a = atomic_load(&own[i].addr);
        size_t len = atomic_load(&own[i].len);
        if (a && len)
            total += pp_os_resident(a, len);
    }
    return total;
}

/* Signals a write of the shim's can raise.  A write to a pipe whose reader
 * has gone raises SIGPIPE, which would end a program that itself wrote
 * nothing more (`prog 2>&1 | head -1`: status 141 where it was 0); one
 * past RLIMIT_FSIZE raises SIGXFSZ (`ulimit -f 16`: status 153, killed by
 * the timeline's write, or at start-up by the copy of /proc/self/status
 * written into a memfd).  So they are blocked in this thread during the
 * write, and one that became pending meanwhile (the kernel directs both at
 * the writing thread) is taken away before the mask comes back; one the
 * program had pending before is left there.  SIGXFSZ only while the soft
 * limit is finite (fsize.c): otherwise no write can raise it, and the
 * timeline's writes pay no system call for it. */
void pp_quiet_begin(struct pp_quiet *q, int pipe)
{
    int saved = errno;
    sigset_t before;
    sigemptyset(&q->set);
    if (pipe)
        sigaddset(&q->set, SIGPIPE);
    if (pp_fsize_guarded())
        sigaddset(&q->set, SIGXFSZ);
    q->on = pipe || sigismember(&q->set, SIGXFSZ) == 1;
    if (!q->on)
        return;
    sigpending(&before);
    pthread_sigmask(SIG_BLOCK, &q->set, &q->old);
    q->had_pipe = sigismember(&before, SIGPIPE) == 1;
    q->had_xfsz = sigismember(&before, SIGXFSZ) == 1;
    errno = saved;
}

/* SIG, pending now, taken away: it is this thread's own */
static void take_pending(int sig)
{
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
#if defined(__linux__)
    struct timespec zero = {0, 0};
    while (sigtimedwait(&one, NULL, &zero) < 0 && errno == EINTR)
        ;
#else
    /* no sigtimedwait (macOS): sigwait returns at once, the signal
     * being pending */
    int got;
    sigwait(&one, &got);
#endif
}

void pp_quiet_end(struct pp_quiet *q)
{
    if (!q->on)
        return;
    int saved = errno;
    sigset_t after;
    if (sigpending(&after) == 0) {
        if (!q->had_pipe && sigismember(&q->set, SIGPIPE) == 1 && sigismember(&after, SIGPIPE) == 1)
            take_pending(SIGPIPE);
        if (!q->had_xfsz && sigismember(&q->set, SIGXFSZ) == 1 && sigismember(&after, SIGXFSZ) == 1)
            take_pending(SIGXFSZ);
    }
    pthread_sigmask(SIG_SETMASK, &q->old, NULL);
    errno = saved;
}

/* writev with SIGXFSZ kept away, in a frame of its own: the masks (256
 * bytes) are on the stack only while the limit is finite, not on every
 * write's (a program's thread with a small stack makes them too) */
static __attribute__((noinline)) ssize_t writev_guarded(int fd, const struct iovec *v, int n)
{
    struct pp_quiet q;
    pp_quiet_begin(&q, 0);
    ssize_t put = writev(fd, v, n);
    int saved = errno;
    pp_quiet_end(&q);
    errno = saved;
    return put;
}

ssize_t pp_writev_quiet(int fd, const struct iovec *v, int n)
{
    return pp_fsize_guarded() ? writev_guarded(fd, v, n) : writev(fd, v, n);
}

void pp_dl_forget(void)
{
    int saved = errno;
    (void)dlerror();
    (void)dlerror();
    errno = saved;
}

const char *pp_err_text(int err)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    const char *s = strerrordesc_np(err);
    return s ? s : "Unknown error";
#else
    return strerror(err);
#endif
}

/* SIGTTOU would stop the process at a write to FD: a terminal with TOSTOP
 * whose foreground is another process group (a background job), unless
 * the program ignores SIGTTOU or this thread blocks it (then the kernel
 * lets the write through) */
static int stopped_by_write(int fd)
{
    pid_t fg = tcgetpgrp(fd);
    struct termios t;
    if (fg < 0 || fg == getpgrp() || tcgetattr(fd, &t) != 0 || !(t.c_lflag & TOSTOP))
        return 0;
    struct sigaction sa;
    sigset_t mask;
    if (sigaction(SIGTTOU, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
        return 0;
    return !(pthread_sigmask(SIG_BLOCK, NULL, &mask) == 0 && sigismember(&mask, SIGTTOU) == 1);
}

/* 1 when a write to FD now could wait: a pipe or terminal with no room (a
 * parent that waits for its child before it reads the child's stderr:
 * bare, the child's own output fitted in the pipe and the child ended).
 * A descriptor poll does not take (macOS's poll refuses devices: POLLNVAL
 * on a terminal) is written as before. */
static int would_wait(int fd)
{
    struct pollfd one = {fd, POLLOUT, 0};
    int r;
    while ((r = poll(&one, 1, 0)) < 0 && errno == EINTR)
        ;
    struct stat st;
    if (r == 1 && (one.revents & POLLNVAL))
        return fstat(fd, &st) != 0;
    return r != 1 || (one.revents & POLLOUT) == 0;
}

/* A socket takes a write without waiting whatever its descriptor's flags
 * (MSG_DONTWAIT), and says when it has no room; its poll says POLLOUT only
 * while three quarters of its buffer are free (a Unix socket's: journald's
 * stream for a service's stderr), too early to leave the table out. */
static ssize_t write_now(int fd, int sock, const char *p, size_t n)
{
#if defined(MSG_NOSIGNAL)
    if (sock)
        return send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
#endif
    (void)sock;
    return write(fd, p, n);
}

void pp_write_all(int fd, const char *p, size_t n)
{
    int saved = errno;
    struct pp_quiet q;
    struct stat st;
    int sock = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
#if !defined(MSG_NOSIGNAL)
    sock = 0;
#endif
    if (stopped_by_write(fd)) {
        errno = saved;
        return;
    }
    pp_quiet_begin(&q, 1);
    /* PIPE_BUF at a time, each only once there is room for it (a pipe
     * with a free page takes that much without waiting); what would wait
     * is left out */
    while (n > 0 && (sock || !would_wait(fd))) {
        ssize_t w = write_now(fd, sock, p, n < PIPE_BUF ? n : PIPE_BUF);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        p += w;
        n -= (size_t)w;
    }
    pp_quiet_end(&q);
    errno = saved;
}

/* ---- descriptors the shim holds ------------------------------------------ */

/* The lowest free descriptor belongs to the program: programs close numbers
 * they never opened (bash closes pipe ends twice, daemons close everything,
 * closefrom), reopen 0-2 expecting the lowest numbers, or run with a tiny
 * RLIMIT_NOFILE.  So a descriptor the shim keeps is moved up, out of the
 * program's way, and is known by device and inode: before each use it is
 * checked, and a number the program closed (and perhaps reused) is simply
 * forgotten, never closed or written.  Under a limit too small to spare
 * any number the shim keeps none: each use opens, reads and closes. */
static int fd_base(void)
{
    static int base = -2;
    if (base == -2) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < 64)
            base = -1;
        else
            base = rl.rlim_cur > 1024 ? 1000 : (int)rl.rlim_cur - 24;
    }
    return base;
}

/* FD again at BASE or above, close-on-exec; FD's descriptor flags: the
 * system call itself on Linux, where the library's fcntl is the hook
 * (hooks/fds.c) */
static int dup_high(int fd, int base)
{
#if defined(__linux__)
    return (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, base);
#else
    return fcntl(fd, F_DUPFD_CLOEXEC, base);
#endif
}

/* Whether the process has one thread: the shim's start in a new image or
 * a forked child, before its sampler thread (core/life.c says so). */
static atomic_int solo;                 /* 1: on; 2, 3: the kernel said 1, more */

void pp_fd_solo(int on)
{
    atomic_store(&solo, on);
}

/* the soft limit on descriptors set: the system call itself on Linux,
 * where the library's setrlimit is a hook (hooks/fds.c) */
static int set_nofile(const struct rlimit *rl)
{
#if defined(__linux__)
    return (int)syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, rl, NULL);
#else
    return setrlimit(RLIMIT_NOFILE, rl);
#endif
}

/* A raise of the soft limit for one call: the limit before, the one set,
 * and the signal mask before (every signal is blocked from the look to
 * the put-back: no handler of the program's runs meanwhile). */
struct nofile_raise {
    struct rlimit was;
    rlim_t to;
    sigset_t mask;
};

/* While the process has one thread, the soft limit raised to NEED (the
 * hard limit allowing; 0: 64 above a soft limit of 64 to 4096) for one
 * call: 1 when raised, to be ended by nofile_back.  No other thread can
 * see the raised limit or set its own meanwhile. */
static int nofile_raise(struct nofile_raise *r, rlim_t need)
{
    if (!atomic_load(&solo))
        return 0;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &r->mask);
    struct rlimit *was = &r->was;
    if (getrlimit(RLIMIT_NOFILE, was) != 0 || was->rlim_cur == RLIM_INFINITY)
        goto no;
    if (!need) {
        if (was->rlim_cur < 64 || was->rlim_cur > 4096)
            goto no;
        need = was->rlim_cur + 64;
    }
    if (was->rlim_cur >= need || (was->rlim_max != RLIM_INFINITY && was->rlim_max < need))
        goto no;
    /* "one thread" asked of the kernel once a window: a library the
     * program links may have started a thread in its constructor, which
     * runs before the shim's */
    if (atomic_load(&solo) == 1)
        atomic_store(&solo, pp_os_one_thread() ? 2 : 3);
    struct rlimit wide = {need, was->rlim_max};
    if (atomic_load(&solo) != 2 || set_nofile(&wide) != 0)
        goto no;
    r->to = need;
    return 1;
no:
    pthread_sigmask(SIG_SETMASK, &r->mask, NULL);
    return 0;
}

/* the limit put back after a raise, unless something set another, and
 * the signal mask */
static void nofile_back(struct nofile_raise *r)
{
    struct rlimit cur;
    if (getrlimit(RLIMIT_NOFILE, &cur) == 0 && cur.rlim_cur == r->to)
        set_nofile(&r->was);
    pthread_sigmask(SIG_SETMASK, &r->mask, NULL);
}

/* FD again where the shim keeps it.  BASE is inside the program's numbers:
 * one that opens files until EMFILE would get fewer than bare.  A
 * descriptor may stay open above the soft RLIMIT_NOFILE (the limit only
 * bounds new numbers), so while the process has one thread the soft limit
 * is raised for the one dup and put back: the number is one the program
 * can never be given, nor pass to dup2.  (A forked child's own_description
 * in core/timeline.c puts its file on such a number the same way:
 * pp_fd_replace.)  Not above a soft limit of 4096: the kernel sizes the
 * process's descriptor table to its highest number (8 bytes a number,
 * 64 KiB at 4096, where 1000 takes 8 KiB). */
static int dup_keep(int fd, int base)
{
    struct nofile_raise r;
    int high = -1;
    if (nofile_raise(&r, 0)) {
        high = dup_high(fd, (int)r.was.rlim_cur);
        nofile_back(&r);
    }
    return high >= 0 ? high : dup_high(fd, base);
}

static int fd_flags(int fd)
{
    int saved = errno;
#if defined(__linux__)
    int fl = (int)syscall(SYS_fcntl, fd, F_GETFD);
#else
    int fl = fcntl(fd, F_GETFD);
#endif
    errno = saved;
    return fl < 0 ? 0 : fl;
}

/* The numbers the shim keeps, with the file each held when kept, for
 * pp_fd_kept: copies (the structs may live anywhere), one a number, a slot
 * claimed by compare-and-swap, one taken at random when all are (that
 * number then looks open again, as before fds.c).  An entry goes when the
 * shim forgets or closes its number; one whose number the program took
 * over since names another file there, or the same file (the program's
 * own open of it) without close-on-exec, which every kept descriptor has
 * and a dup2 never gives, and is not believed.  KEPT_LOW is the lowest
 * number ever kept: a number below it costs one compare. */
#define KEPT_MAX 16
static struct {
    _Atomic int fd;
    _Atomic dev_t dev;
    _Atomic ino_t ino;
} kept[KEPT_MAX];
static _Atomic int kept_low = INT_MAX, kept_next;

/* the slot of number FD, taken: its fd field -1 while it is filled (0: free) */
static int kept_claim(int fd)
{
    for (int i = 0; i < KEPT_MAX; i++) {
        int want = fd + 1;
        if (atomic_compare_exchange_strong(&kept[i].fd, &want, -1))
            return i;
    }
    for (int i = 0; i < KEPT_MAX; i++) {
        int zero = 0;
        if (atomic_compare_exchange_strong(&kept[i].fd, &zero, -1))
            return i;
    }
    for (int tries = 0;; tries++) {
        int at = (int)((unsigned)atomic_fetch_add(&kept_next, 1) % KEPT_MAX);
        int was = atomic_load(&kept[at].fd);
        if ((was != -1 || tries > 4 * KEPT_MAX) &&
            atomic_compare_exchange_strong(&kept[at].fd, &was, -1))
            return at;
    }
}

static void kept_forget(int fd)
{
    for (int i = 0; i < KEPT_MAX; i++) {
        int want = fd + 1;
        atomic_compare_exchange_strong(&kept[i].fd, &want, 0);
    }
}

static void kept_note(int fd, dev_t dev, ino_t ino)
{
    int at = kept_claim(fd);
    atomic_store(&kept[at].dev, dev);
    atomic_store(&kept[at].ino, ino);
    atomic_store(&kept[at].fd, fd + 1);
    int low = atomic_load(&kept_low);
    while (fd < low && !atomic_compare_exchange_weak(&kept_low, &low, fd))
        ;
}

int pp_fd_kept(int fd)
{
    if (PP_LIKELY(fd < atomic_load_explicit(&kept_low, memory_order_relaxed)))
        return 0;
    for (int i = 0; i < KEPT_MAX; i++)
        if (atomic_load(&kept[i].fd) == fd + 1) {
            dev_t dev = atomic_load(&kept[i].dev);
            ino_t ino = atomic_load(&kept[i].ino);
            return atomic_load(&kept[i].fd) == fd + 1 && pp_fd_same(fd, dev, ino) &&
                   (fd_flags(fd) & FD_CLOEXEC);
        }
    return 0;
}

/* Close FD, just opened by the shim as the file ST describes, unless it is
 * no longer that file: another thread of the program may have closed the
 * number (programs close numbers they never opened) and reused it. */
static void close_if_still(int fd, const struct stat *st)
{
    struct stat now;
    if (fstat(fd, &now) == 0 && now.st_dev == st->st_dev && now.st_ino == st->st_ino)
        close(fd);
}

int pp_fd_adopt(struct pp_fd *f, int fd)
{
    struct stat st;
    int saved = errno, base = fd_base();
    f->fd = -1;
    if (fd < 0)
        return -1;
    if (base < 0 || fstat(fd, &st) != 0) {
        close(fd);
        errno = saved;
        return -1;
    }
    int high = fd >= base ? fd : dup_keep(fd, base);
    if (high != fd)
        close_if_still(fd, &st);
    errno = saved;
    if (high < 0)
        return -1;
    f->fd = high;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    kept_note(high, st.st_dev, st.st_ino);
    return 0;
}

int pp_fd_ok_size(struct pp_fd *f, uint64_t *size)
{
    struct stat st;
    int saved = errno, ok = f->fd >= 0 && fstat(f->fd, &st) == 0 &&
                            st.st_dev == f->dev && st.st_ino == f->ino;
    errno = saved;
    if (!ok) {
        if (f->fd >= 0)
            kept_forget(f->fd);
        f->fd = -1;          /* the number is the program's now: forget it */
    } else if (size) {
        *size = (uint64_t)st.st_size;
    }
    return ok;
}

int pp_os_try_lock(int fd)
{
    return flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : errno;
}

void pp_os_unlock(int fd)
{
    flock(fd, LOCK_UN);
}

int pp_fd_ok(struct pp_fd *f)
{
    return pp_fd_ok_size(f, NULL);
}

int pp_fd_replace(struct pp_fd *f, int fd)
{
    int saved = errno, rc = -1;
    struct nofile_raise r;          /* F's number may be above the soft limit */
    int raised = f->fd >= 0 && nofile_raise(&r, (rlim_t)f->fd + 1);
#if defined(__linux__)
    rc = (int)syscall(SYS_dup3, fd, f->fd, O_CLOEXEC);   /* not the hook (hooks/fds.c) */
#else
    if (dup2(fd, f->fd) >= 0)
        rc = fcntl(f->fd, F_SETFD, FD_CLOEXEC);
#endif
    if (raised)
        nofile_back(&r);
    if (rc >= 0) {
        struct stat st;
        if (fstat(f->fd, &st) == 0)
            kept_note(f->fd, st.st_dev, st.st_ino);
    }
    errno = saved;
    return rc < 0 ? -1 : 0;
}

int pp_fd_move(struct pp_fd *f)
{
    int saved = errno, base = fd_base(), old = f->fd;
    struct stat st;
    if (old < 0 || base < 0 || fstat(old, &st) != 0 || st.st_dev != f->dev || st.st_ino != f->ino) {
        errno = saved;
        return -1;
    }
    /* well above the number the program takes: the numbers just above it
     * may be its next ones (a program that walks 1000, 1001 ...) */
    int moved = dup_high(old, old + 64);
    if (moved < 0)
        moved = dup_high(old, base);
    if (moved < 0) {
        errno = saved;
        return -1;
    }
    kept_note(moved, st.st_dev, st.st_ino);
    f->fd = moved;
    kept_forget(old);
    close_if_still(old, &st);
    errno = saved;
    return 0;
}

void pp_fd_drop(struct pp_fd *f)
{
    if (pp_fd_ok(f)) {
        kept_forget(f->fd);
        close(f->fd);
    }
    f->fd = -1;
}

int pp_fd_can_keep(void)
{
    return fd_base() >= 0;
}

int pp_fd_identity(int fd, dev_t *dev, ino_t *ino)
{
    struct stat st;
    int saved = errno;
    if (fstat(fd, &st) != 0) {
        errno = saved;
        return 0;
    }
    *dev = st.st_dev;
    *ino = st.st_ino;
    return 1;
}

int pp_fd_same(int fd, dev_t dev, ino_t ino)
{
    dev_t d;
    ino_t i;
    return pp_fd_identity(fd, &d, &i) && d == dev && i == ino;
}

/* ---- CPU time and faults ------------------------------------------------------ */

/* getrusage's ru_maxrss is in KiB on Linux, in bytes on macOS */
#if defined(__APPLE__)
#define MAXRSS_UNIT 1
#else
#define MAXRSS_UNIT 1024
#endif

void pp_cpu_read(struct pp_cpu *out)
{
    struct rusage ru;
    int saved = errno;
    memset(out, 0, sizeof *out);
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        out->user_ns = (uint64_t)ru.ru_utime.tv_sec * 1000000000u +
                       (uint64_t)ru.ru_utime.tv_usec * 1000u;
        out->sys_ns = (uint64_t)ru.ru_stime.tv_sec * 1000000000u +
                      (uint64_t)ru.ru_stime.tv_usec * 1000u;
        out->minflt = (uint64_t)ru.ru_minflt;
        out->majflt = (uint64_t)ru.ru_majflt;
        out->maxrss = (uint64_t)ru.ru_maxrss * MAXRSS_UNIT;
    }
    errno = saved;
}

/* The file an exec of FILE runs: FILE itself when it names a path or PATH
 * is NULL (no search), else FILE looked up in the directories of PATH as
 * execvp does (an empty entry is the working directory) into BUF; NULL
 * when no executable is found there (secure.c) */
const char *pp_exec_file(const char *file, const char *path, char *buf, size_t cap)
{
    if (!file || !*file)
        return NULL;
    if (!path || strchr(file, '/'))
        return file;
    size_t flen = strlen(file);
    while (*path) {
        size_t n = strcspn(path, ":");
        const char *dir = n ? path : ".";
        size_t dlen = n ? n : 1;
        if (dlen + 1 + flen < cap) {
            memcpy(buf, dir, dlen);
            buf[dlen] = '/';
            memcpy(buf + dlen + 1, file, flen + 1);
            if (access(buf, X_OK) == 0)
                return buf;
        }
        path += n;
        if (*path)
            path++;
    }
    return NULL;
}

/* A thread's id in its thread block (sys.h): glibc's struct pthread
 * holds the tid, macOS's libpthread the thread_id.  Its place is found in
 * this thread's own block, which holds this thread's id: the sampler
 * thread (core/pyframes.c) reads the block through the kernel, a
 * program's thread (pp_os_created_tid, as pthread_create returns) in
 * place, without a system call, up to the word found. */
static _Atomic int tid_at = -1;

int pp_os_tid_offset(int peek)
{
    int at = atomic_load_explicit(&tid_at, memory_order_relaxed);
    if (at >= 0)
        return at;
    const int32_t *w = (const int32_t *)pthread_self();
    int32_t copy[512];
    pid_t self = pp_tid();
    if (!w)
        return -1;
    if (peek) {
        if (pp_os_peek(copy, (uintptr_t)w, sizeof copy) != 0)
            return -1;
        w = copy;
    }
    for (int i = 0; i < 512; i++)
        if (w[i] == self) {
            atomic_store_explicit(&tid_at, i * 4, memory_order_relaxed);
            return i * 4;
        }
    return -1;
}
