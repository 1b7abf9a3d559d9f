/*
 * probe.c - perf_probe and perf_counter: points a program marks itself.
 *
 * A probe records the time since start and since the previous probe, RSS,
 * the live heap and their changes, the true heap peak between the two
 * probes (from the counters' own probe window), the RSS peak between them,
 * calls and CPU time since the previous probe.  The time spent inside
 * perf_probe is subtracted from every later probe's time, as the trackers
 * this replaces did.
 *
 * The RSS peak between probes is the kernel's own high-water mark where it
 * can be trusted: each probe resets it through /proc/self/clear_refs, and
 * the next probe reads it back with getrusage (a tenth of the cost of
 * /proc/self/status).  getrusage reports max(signal->maxrss, mm hiwater);
 * signal->maxrss only grows, when a thread exits or at exec, and then only
 * to a high-water mark since the last reset, so the figure is exact as long
 * as signal->maxrss was not above the RSS at the reset.  At exec it takes
 * the old image's mark, which for a program just started is its
 * launcher's RSS when it forked: a python3 parent's 200 MiB became the
 * peak of a 2 MiB program.  So getrusage's figure counts as this image's
 * only after a reset it was checked against; before a reset that is not,
 * the peak so far is read from VmHWM (/proc/self/status, this address
 * space's own), and while signal->maxrss stays above the RSS the mark is
 * not reset at all (a reset could not be read back).  That is checked
 * right after each reset (a second getrusage); where it fails, or where
 * clear_refs may not be written, the peak is the highest RSS the sampler
 * saw, and the record says "sampled" instead of "hwm".
 *
 * Two system calls are saved where they cannot change the figure: the
 * mark is not reset when it already equals the RSS now (getrusage read it
 * as no higher: it already means "peak since now"), and the check after a
 * reset is made only at the first one and after a thread has exited
 * (signal->maxrss grows at no other time in a process image).
 *
 * Because the mark is reset, the process's all-time peak is kept here
 * (hwm_floor) and folded into every sample's "hwm" and the summary.  The
 * mark is left alone until the program takes its first probe, so a program
 * that uses none never sees its VmHWM change; the window before the first
 * probe is therefore always a sampled one.
 */
#define _GNU_SOURCE
#include "core/core.h"

#define PERF_PROBE_IMPLEMENTATION
#include "../../libprobe/perf_probe.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define MAX_ROWS   4096          /* probes kept for the exit table */
#define ROW_LABEL  40
#define HWM_SLACK  (1u << 20)    /* RSS growth tolerated between statm and reset */

struct row {
    char label[ROW_LABEL];
    uint64_t t_ns, dt_ns, rss;
    int64_t heap;
    int has_parts;
    struct pp_parts parts;
};

static pp_lock_t lock = PP_LOCK_INIT;
static struct {
    int      any;            /* a probe was taken */
    uint64_t t_ns;           /* overhead-corrected time of the previous probe */
    uint64_t rss;
    int64_t  heap;
    uint64_t allocs, frees, user_ns, sys_ns;
} last;
static uint64_t overhead_ns;
static int hwm_usable = -1;          /* -1: not tried; 0: no; 1: yes */
static int window_exact;             /* this window's getrusage peak is exact */
static uint64_t exits_checked = UINT64_MAX;  /* thread exits at the last check */
static _Atomic uint64_t hwm_floor;   /* all-time peak RSS before the resets */
static uint64_t masked_until;        /* signal->maxrss found above the RSS */
static _Atomic uint64_t sampled_max; /* highest sampled RSS since the last probe */
static struct row *rows;
static size_t n_rows, n_dropped;

static void raise_u64(_Atomic uint64_t *m, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(m, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak(m, &cur, v))
        ;
}

/* the highest RSS seen by the sampler or a probe (core.h) */
static _Atomic uint64_t rss_seen_max;
void pp_rss_seen(uint64_t rss) { raise_u64(&rss_seen_max, rss); }
void pp_rss_seen_reset(uint64_t rss) { atomic_store(&rss_seen_max, rss); }
uint64_t pp_rss_seen_max(void) { return atomic_load(&rss_seen_max); }

uint64_t pp_probe_hwm_floor(void) { return atomic_load(&hwm_floor); }
void pp_probe_note_rss(uint64_t rss) { raise_u64(&sampled_max, rss); }

/* After a reset: still exact when no thread has exited since a check found
 * signal->maxrss below the RSS (it has not grown since). */
static int window_exact_known(uint64_t exits)
{
    if (exits != exits_checked)
        return 0;
    window_exact = 1;
    return 1;
}

/* Reset the high-water mark and find out whether the next reading will
 * mean "peak since now".  Called with the lock held. */
static void start_window(uint64_t rss_now, uint64_t maxrss_before)
{
    uint64_t exits = pp_counters_threads_exited();
    int was_exact = hwm_usable == 1 && window_exact;
    if (was_exact)                       /* this image's peak since the reset */
        raise_u64(&hwm_floor, maxrss_before);
    if (was_exact && exits == exits_checked && maxrss_before <= rss_now)
        return;              /* the mark is at the RSS now: as good as reset */
    window_exact = 0;
    if (hwm_usable == 0 || !pp_opt.hwm) {
        hwm_usable = 0;
        return;
    }
    /* signal->maxrss (the image before exec: the launcher's RSS at fork)
     * above the RSS: until the RSS passes it, a reset could not be read
     * back, so the mark is left alone and the window is a sampled one */
    if (maxrss_before <= masked_until)
        return;
    /* getrusage's figure may be the image before exec's: the peak the
     * reset is about to clear is read from VmHWM, this address space's */
    if (!was_exact) {
        struct pp_proc st;
        if (pp_proc_read(&st) != 0)
            return;                      /* not now: the mark is kept */
        raise_u64(&hwm_floor, st.hwm);
    }
    if (pp_proc_hwm_reset() < 0) {
        hwm_usable = 0;
        return;
    }
    hwm_usable = 1;
    if (window_exact_known(exits))
        return;
    struct pp_cpu after;
    pp_cpu_read(&after);
    window_exact = after.maxrss <= rss_now + HWM_SLACK;
    exits_checked = window_exact ? exits : UINT64_MAX;
    if (!window_exact)
        masked_until = after.maxrss;
}

static void keep_row(const char *label, uint64_t t_ns, uint64_t dt_ns, uint64_t rss, int64_t heap,
                     const struct pp_parts *parts)
{
    if (!rows) {
        rows = pp_os_map(MAX_ROWS * sizeof *rows);
        if (!rows)
            return;
    }
    if (n_rows == MAX_ROWS) {
        n_dropped++;
        return;
    }
    struct row *r = &rows[n_rows++];
    size_t n = label ? strnlen(label, ROW_LABEL - 1) : 0;
    memcpy(r->label, label ? label : "(null)", label ? n : 6);
    r->label[label ? n : 6] = 0;
    r->t_ns = t_ns;
    r->dt_ns = dt_ns;
    r->rss = rss;
    r->heap = heap;
    r->has_parts = parts != NULL;
    if (parts)
        r->parts = *parts;
}

static void probe(const char *label, struct perf_probe_info *out)
{
    int saved = pp_in_hook;
    pp_in_hook = 1;
    pp_lock(&lock);
    /* the probe's time starts once it holds the lock: a thread's wait for
     * another's probe is inside that probe's time already, and the sum of
     * these times, which every later t_s has taken off, stays below the
     * time elapsed (summed with the waits, four threads probing at once
     * made it larger, and t_s went below zero) */
    uint64_t t0 = pp_now_ns();

    struct pp_cpu cpu;
    struct pp_heap heap;
    struct pp_parts parts;
    int has_parts = 0;
    pp_counters_read(&heap, PP_WIN_PROBE, 1);
    uint64_t rss;
    if (pp_opt.parts && pp_rss_parts(&parts, heap.bytes, NULL) == 0) {
        rss = parts.rss;             /* the same reading as the parts */
        has_parts = 1;
    } else {
        rss = pp_proc_rss();
    }
    pp_rss_seen(rss);
    pp_cpu_read(&cpu);
    if (!last.any) {                      /* the first window starts at start-up */
        last.rss = pp_state.first.proc.rss;
        last.heap = pp_state.first.heap.bytes;
        last.user_ns = pp_state.first.cpu.user_ns;
        last.sys_ns = pp_state.first.cpu.sys_ns;
        last.allocs = pp_state.first.heap.allocs;
        last.frees = pp_state.first.heap.frees;
    }
    uint64_t peak_rss;
    int exact = hwm_usable == 1 && window_exact;
    if (exact) {
        peak_rss = cpu.maxrss;
    } else {
        peak_rss = atomic_exchange(&sampled_max, 0);
        if (peak_rss < last.rss)
            peak_rss = last.rss;
    }
    /* the window runs from the previous probe's RSS to this one's (the
     * kernel's counters behind VmRSS and the mark are approximate by a few
     * pages, so the mark can read slightly below either) */
    if (last.any && peak_rss < last.rss)
        peak_rss = last.rss;
    if (peak_rss < rss)
        peak_rss = rss;
    uint64_t t_ns = t0 - pp_state.start_ns - overhead_ns;
    uint64_t dt_ns = last.any ? t_ns - last.t_ns : t_ns;

    struct pp_probe_record rec = {
        .label = label, .t_ns = t_ns, .dt_ns = dt_ns, .overhead_ns = overhead_ns,
        .rss = rss, .rss_start = pp_state.first.proc.rss, .rss_last = last.rss,
        .heap = heap.bytes, .heap_start = pp_state.first.heap.bytes, .heap_last = last.heap,
        .peak_heap = heap.window_peak, .peak_rss = peak_rss, .peak_rss_exact = exact,
        .allocs = heap.allocs - last.allocs, .frees = heap.frees - last.frees,
        .user_ns = cpu.user_ns - last.user_ns, .sys_ns = cpu.sys_ns - last.sys_ns,
        .parts = has_parts ? &parts : NULL,
    };
    pp_timeline_hold();
    pp_timeline_probe(&rec);
    pp_sites_probe(label);
    pp_timeline_release();
    keep_row(label, t_ns, dt_ns, rss, heap.bytes, has_parts ? &parts : NULL);
    if (has_parts)
        pp_parts_note(&parts, t0 - pp_state.start_ns);
    if (out) {
        out->t_s = (double)t_ns * 1e-9;
        out->dt_s = (double)dt_ns * 1e-9;
        out->rss_bytes = (int64_t)rss;
        out->d_rss_start = (int64_t)(rss - pp_state.first.proc.rss);
        out->d_rss_last = (int64_t)(rss - last.rss);
        out->heap_bytes = heap.bytes;
        out->d_heap_start = heap.bytes - pp_state.first.heap.bytes;
        out->d_heap_last = heap.bytes - last.heap;
        out->peak_heap_since_last = heap.window_peak;
        out->peak_rss_since_last = (int64_t)peak_rss;
        out->peak_rss_exact = exact;
        out->allocs_since_last = (int64_t)rec.allocs;
        out->frees_since_last = (int64_t)rec.frees;
        out->cpu_user_s_since_last = (double)rec.user_ns * 1e-9;
        out->cpu_sys_s_since_last = (double)rec.sys_ns * 1e-9;
    }

    last.any = 1;
    last.t_ns = t_ns;
    last.rss = rss;
    last.heap = heap.bytes;
    last.allocs = heap.allocs;
    last.frees = heap.frees;
    last.user_ns = cpu.user_ns;
    last.sys_ns = cpu.sys_ns;
    raise_u64(&sampled_max, rss);
    start_window(rss, cpu.maxrss);

    overhead_ns += pp_now_ns() - t0;
    pp_unlock(&lock);
    pp_in_hook = saved;
}

void pp_probe_after_fork_child(void)
{
    memset(&last, 0, sizeof last);
    overhead_ns = 0;
    n_rows = n_dropped = 0;
    hwm_usable = -1;
    window_exact = 0;
    masked_until = 0;
    exits_checked = UINT64_MAX;
    atomic_store(&sampled_max, pp_state.first.proc.rss);
    atomic_store(&hwm_floor, 0);
    pp_rss_seen_reset(0);
}

void pp_probe_lock(void)   { pp_lock(&lock); }
void pp_probe_unlock(void) { pp_unlock(&lock); }

PP_EXPORT void perf_probe(const char *label)
{
    if (pp_state.active)
        probe(label, NULL);
}

PP_EXPORT void perf_probe_ex(const char *label, struct perf_probe_info *out)
{
    if (pp_state.active)
        probe(label, out);
    else if (out)
        memset(out, 0, sizeof *out);
}

PP_EXPORT void perf_counter(const char *name, double value)
{
    if (!pp_state.active)
        return;
    int saved = pp_in_hook;
    pp_in_hook = 1;
    pp_timeline_counter(name, value, pp_now_ns() - pp_state.start_ns);
    pp_in_hook = saved;
}

/* ---- the exit table's probe rows ----------------------------------------- */

size_t pp_probe_rows(size_t i, const char **label, uint64_t *t_ns, uint64_t *dt_ns,
                     uint64_t *rss, int64_t *heap, const struct pp_parts **parts)
{
    if (i >= n_rows)
        return 0;
    *parts = rows[i].has_parts ? &rows[i].parts : NULL;
    *label = rows[i].label;
    *t_ns = rows[i].t_ns;
    *dt_ns = rows[i].dt_ns;
    *rss = rows[i].rss;
    *heap = rows[i].heap;
    return 1;
}

size_t pp_probe_count(size_t *dropped)
{
    *dropped = n_dropped;
    return n_rows;
}
