/*
 * sampler.c - one sample of the process, and the thread that takes one every
 * PERFPROBE_INTERVAL_MS.
 *
 * The thread is created with every signal blocked (it inherits the mask in
 * force at pthread_create), so the program's signals always land on its own
 * threads, and it runs its whole life with pp_in_hook set, so nothing it does
 * is ever counted as the program's.  At exit it is told to stop and is not
 * waited for; when the program must be single-threaded for a moment
 * (unshare, setns, set*id: life.c) it is stopped, joined and started again.  If
 * every thread of the program has ended (main called pthread_exit), it
 * ends the process as glibc's last thread would, with exit(0).
 */
#include "core/core.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

static _Atomic int stop;
/* the thread's id while it runs; -1 from just before it is created until
 * it says its id (the kernel counts it from its creation on) */
static _Atomic pid_t tid;

pid_t pp_sampler_tid(void)
{
    return atomic_load_explicit(&tid, memory_order_relaxed);
}

/* /proc/self/status costs ten times /proc/self/statm (it formats dozens of
 * fields): every sample reads RSS from statm, and only every STATUS_STRIDE
 * samples (and the breakdowns, and exit) read the high-water mark from
 * status; in between the last value is carried. */
#define STATUS_STRIDE 20
/* a breakdown whenever RSS passes the one at the peak by 1/PEAK_MARGIN */
#define PEAK_MARGIN 128

void pp_sample_take(struct pp_sample *s, int flags)
{
    static struct pp_proc last_status;
    int fresh = 0;
    s->t_ns = pp_now_ns() - pp_state.start_ns;
    if ((flags & (PP_SAMPLE_STATUS | PP_SAMPLE_PARTS | PP_SAMPLE_NONBLOCK)) &&
        pp_proc_read(&s->proc) == 0) {
        fresh = 1;
        if (!(flags & PP_SAMPLE_NONBLOCK))
            last_status = s->proc;
    } else {
        uint64_t threads = 0;
        s->proc = last_status;
        if (pp_proc_stat(&s->proc.rss, &threads) == 0)
            s->proc.threads = threads;
    }
    /* the kernel updates its high-water mark lazily: it is never below an
     * RSS the shim itself saw */
    pp_rss_seen(s->proc.rss);
    uint64_t seen = pp_rss_seen_max();
    if (s->proc.hwm < seen)
        s->proc.hwm = seen;
    struct pp_proc status = s->proc;           /* as read, for the breakdown */
    uint64_t floor = pp_probe_hwm_floor();     /* probes reset the kernel's mark */
    if (s->proc.hwm < floor)
        s->proc.hwm = floor;
    pp_probe_note_rss(s->proc.rss);
    pp_cpu_read(&s->cpu);
    pp_counters_read(&s->heap, PP_WIN_SAMPLE, flags & PP_SAMPLE_RESET);
    pp_map_read(&s->maps, flags & PP_SAMPLE_RESET, flags & PP_SAMPLE_NONBLOCK);
    s->has_parts = 0;
    /* the breakdown reuses the status just read rather than read it again */
    if ((flags & PP_SAMPLE_PARTS) && pp_opt.parts && fresh &&
        pp_rss_parts(&s->parts, s->heap.bytes, &status) == 0) {
        s->has_parts = 1;
        pp_parts_note(&s->parts, s->t_ns);
    } else if (pp_opt.parts && !(flags & PP_SAMPLE_NONBLOCK)) {
        /* RSS passed the breakdown at the peak by more than PEAK_MARGIN: a
         * breakdown for rss_parts_at_peak (not written with the sample),
         * so that it describes the peak RSS, not the largest breakdown
         * the stride happened to take */
        struct pp_parts peak;
        uint64_t peak_t;
        if (pp_parts_peak(&peak, &peak_t) != 0 ||
            s->proc.rss > peak.rss + peak.rss / PEAK_MARGIN) {
            struct pp_parts p;
            if (pp_rss_parts(&p, s->heap.bytes, fresh ? &status : NULL) == 0)
                pp_parts_note(&p, s->t_ns);
        }
    }
}

/* The thread sleeps on a futex word (until a CLOCK_MONOTONIC deadline), so
 * that it can be woken at once to stop: not on a condition variable, whose
 * mutex glibc may take with a plain store (lock.c). */
static _Atomic int wake;
static pthread_t thread;
static _Atomic int running;
/* what the thread calls up into the life cycle (life.c), given by
 * pp_sampler_start: this file names nothing above it */
static void (*tick_fn)(void), (*gone_fn)(void);

/* Is the program's every thread gone? The main thread, once it called
 * pthread_exit, stays in the count as a zombie until the process ends, so
 * with two threads left (it and the sampler) its state tells: the sample
 * just taken read it from /proc/self/stat.  (No descriptor is opened here:
 * a number opened and closed by this thread each tick could be closed by
 * the program in between, bash closes numbers twice, and then reused by it,
 * and this thread's close would take the program's.) */
static int program_gone(uint64_t threads)
{
    return threads > 0 && threads <= 2 && pp_proc_main_exited();
}

/* A "note" record when the region clock fell back from the TSC. */
static void clock_note(void)
{
    const char *why;
    double got, want;
    if (!pp_clock_fell_back(&why, &got, &want))
        return;
    char text[192];
    struct pp_buf t = {text, 0, sizeof text};
    pp_buf_str(&t, "region timings use CLOCK_MONOTONIC from here on: the TSC ");
    pp_buf_str(&t, why);
    if (want > 0) {
        pp_buf_str(&t, " (");
        pp_buf_double(&t, got);
        pp_buf_str(&t, " ticks/ns against ");
        pp_buf_double(&t, want);
        pp_buf_str(&t, ")");
    }
    pp_timeline_note(text, t.len > t.cap ? t.cap : t.len);
}

static void *sampler_main(void *arg)
{
    (void)arg;
    pp_in_hook = 1;
    atomic_store(&tid, pp_tid());
    pp_single_mark_sampler(1);
    pp_apart_mark(1);
    uint64_t interval = pp_opt.interval_ms * 1000000u;
    uint64_t next = pp_now_ns(), n = 0;
    uint64_t window = pp_opt.region_window_ms * 1000000u, next_window = next + window;
    pp_cpu_tick(0);                     /* CPU events open from the start */
    while (!atomic_load(&stop)) {
        next += interval;
        while (!atomic_load(&stop) && pp_now_ns() < next) {
            int seen = atomic_load(&wake);
            if (atomic_load(&stop))
                break;
            uint64_t soon = pp_cpu_read_at();   /* Python frames: cpu.c */
            if (soon && soon < next) {
                if (pp_now_ns() >= soon)
                    pp_cpu_read_soon();
                else
                    pp_futex_wait(&wake, seen, soon);
                continue;
            }
            pp_futex_wait(&wake, seen, next);
        }
        if (atomic_load(&stop))
            break;
        struct pp_sample s;
        n++;
        int parts = pp_opt.parts_stride && n % pp_opt.parts_stride == 0;
        pp_sample_take(&s, PP_SAMPLE_RESET | (parts ? PP_SAMPLE_PARTS : 0) |
                               (n % STATUS_STRIDE == 0 ? PP_SAMPLE_STATUS : 0));
        pp_timeline_sample(&s, 0);
        pp_peakview_tick(&s);           /* site views that survive a kill */
        pp_cpu_tick(0);                 /* CPU stacks (cpu.c) */
        pp_timeline_flush(0);           /* probe records held since */
        tick_fn();
        pp_py_watch();                  /* a libpython loaded late */
        pp_clock_check();               /* the TSC against CLOCK_MONOTONIC */
        clock_note();
        if (program_gone(s.proc.threads)) {
            atomic_store(&tid, 0);
            gone_fn();                  /* exit(0), as glibc's last thread */
            return NULL;
        }
        uint64_t now = pp_now_ns();
        if (now >= next_window) {       /* regions over time (region.c) */
            pp_region_window();
            next_window = now + window;
        }
        if (now > next + interval)      /* fell behind (suspended?): no burst */
            next = now;
    }
    atomic_store(&tid, 0);
    return NULL;
}

/* The seccomp filters the image began under (-1: not started yet).  A
 * thread inherits its creator's filters: a sampler started later (in a
 * forked child, after a set*id call or a failed exec) from a thread the
 * program has put a filter on since would run under a filter meant for
 * the program's own calls, and one that kills on the sampler's (the
 * directory reads, perf_event_open) killed the process.  None is started
 * there: the image keeps its first and last samples and its summary.  A
 * filter the image began under (a container's, a service's) was there for
 * the first sampler too. */
static int filters_first = -1;

void pp_sampler_start(void (*tick)(void), void (*gone)(void))
{
    pthread_attr_t attr;
    sigset_t all, old;
    int saved = errno;
    int filters = pp_os_filters(filters_first < 0);
    if (filters_first < 0)
        filters_first = filters;
    else if (filters > filters_first) {
        pp_timeline_sampler_running(0);
        static const char why[] = "a seccomp filter was put on this thread since the start: no "
                                  "sampler thread under it; only the first and last samples and "
                                  "the summary are recorded";
        pp_timeline_note(why, sizeof why - 1);       /* a note only: not the program's stderr */
        errno = saved;
        return;
    }

    tick_fn = tick;
    gone_fn = gone;
    atomic_store(&stop, 0);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 128 * 1024);
    int single = pp_single_before_create(pp_allocator_is_glibc());
    atomic_store(&tid, -1);
    running = pthread_create(&thread, &attr, sampler_main, NULL) == 0;
    if (!running) {
        atomic_store(&tid, 0);
    } else {
        /* known before the thread runs, so that a listing of the threads
         * the program makes at once can leave it out (hooks/procfs.c) */
        pid_t t = pp_os_created_tid(thread), none = -1;
        if (t > 0)
            atomic_compare_exchange_strong(&tid, &none, t);
    }
    pp_timeline_sampler_running(running);
    pp_single_after_create(single, running);
    if (!running)
        pp_notice("cannot start the sampler thread; only the summary will be "
                  "recorded", "", "");
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
}

/* Tell the thread to stop; it is not waited for (at exit, the process
 * ends around it). */
void pp_sampler_stop(void)
{
    atomic_store(&stop, 1);
    pp_timeline_sampler_running(0);
    pp_region_window();                 /* the last, partial window */
    atomic_fetch_add(&wake, 1);
    pp_futex_wake(&wake);
}

/* Stop the thread and wait until the kernel no longer counts it, for a
 * program that must be single-threaded for a moment.  1 if it was running. */
int pp_sampler_pause(void)
{
    uint64_t rss, before = 0, now = 0;
    if (!running || pthread_equal(thread, pthread_self()))
        return 0;
    pid_t t = atomic_load(&tid);
    /* the count before, for the wait below where the thread cannot be
     * told gone by its id (unknown, or a system that cannot tell) */
    if (t <= 0 || pp_tid_gone(t) < 0)
        pp_proc_stat(&rss, &before);
    pp_sampler_stop();
    /* no handler of the program's inside the join: glibc frees the
     * thread's stack under its stack-cache lock, and a set*id call from a
     * handler waits for that lock (a failed exec's pause hung so) */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_join(thread, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    running = 0;
    /* pthread_join returns when the thread's tid is cleared, a moment
     * before the kernel takes it out of the thread group: waited for by
     * its id where the system tells, else by the count going down */
    for (int i = 0; i < 2000; i++) {
        int gone = t > 0 ? pp_tid_gone(t) : -1;
        if (gone > 0 || (gone < 0 && (!before || pp_proc_stat(&rss, &now) != 0 || now < before)))
            break;
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
    return 1;
}

/* In a forked child the thread does not exist. */
void pp_sampler_after_fork_child(void)
{
    running = 0;
    atomic_store(&tid, 0);
    pp_timeline_sampler_running(0);
}
