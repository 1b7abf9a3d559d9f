/*
 * sampler.c - one sample of the process, and the thread that takes one every
 * PERFPROBE_INTERVAL_MS.
 *
 * The thread is created with every signal blocked (it inherits the mask in
 * force at pthread_create), so the program's signals always land on its own
 * threads, and it runs its whole life with pp_in_hook set, so nothing it does
 * is ever counted as the program's.  It is detached and never joined: at
 * exit it is told to stop and the summary is written under the timeline
 * lock, after which it can write nothing more.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

static _Atomic int stop;

/* /proc/self/status costs ten times /proc/self/statm (it formats dozens of
 * fields): every sample reads RSS from statm, and only every STATUS_STRIDE
 * samples (and the breakdowns, and exit) read the high-water mark from
 * status; in between the last value is carried. */
#define STATUS_STRIDE 20

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
        s->proc = last_status;
        s->proc.rss = pp_proc_rss();
    }
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
    }
}

static void *sampler_main(void *arg)
{
    (void)arg;
    pp_in_hook = 1;
    uint64_t interval = pp_opt.interval_ms * 1000000u;
    uint64_t next = pp_now_ns(), n = 0;
    while (!atomic_load(&stop)) {
        next += interval;
        struct timespec ts = {(time_t)(next / 1000000000u), (long)(next % 1000000000u)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
        if (atomic_load(&stop))
            break;
        struct pp_sample s;
        n++;
        int parts = pp_opt.parts_stride && n % pp_opt.parts_stride == 0;
        pp_sample_take(&s, PP_SAMPLE_RESET | (parts ? PP_SAMPLE_PARTS : 0) |
                               (n % STATUS_STRIDE == 0 ? PP_SAMPLE_STATUS : 0));
        pp_timeline_sample(&s, 0);
        uint64_t now = pp_now_ns();
        if (now > next + interval)      /* fell behind (suspended?): no burst */
            next = now;
    }
    return NULL;
}

void pp_sampler_start(void)
{
    pthread_t t;
    pthread_attr_t attr;
    sigset_t all, old;
    int saved = errno;

    atomic_store(&stop, 0);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 128 * 1024);
    if (pthread_create(&t, &attr, sampler_main, NULL) != 0)
        pp_warn("cannot start the sampler thread; only the summary will be "
                "recorded", "", "", "");
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
}

void pp_sampler_stop(void)
{
    atomic_store(&stop, 1);
}
