/*
 * core.h - the shared core: what counts, samples and writes.
 *
 * The files of shim/core/ share these declarations with each other and
 * offer them to the hooks (shim/hooks/), which call down into the core;
 * the core calls down into the system layer (shim/sys/sys.h) and never up
 * into the hooks.  Names shared between files start with pp_; everything
 * else in a file is static.  Declarations are grouped under the file that
 * defines them.
 */
#ifndef PP_CORE_H
#define PP_CORE_H

#include "sys/sys.h"

/* the hooks' per-thread block, pp_hot, and pp_in_hook (hot.c) */
#include "core/hot.h"

/* ---- options.c: every PERFPROBE_* setting -------------------------------- */

enum { PP_FOLLOW_NONE = 0, PP_FOLLOW_EXEC = 1, PP_FOLLOW_ALL = 2 };
struct pp_options {
    char     output[4096];   /* timeline path template (%p, %n not expanded) */
    uint64_t interval_ms;
    int      quiet;
    int      follow;         /* PP_FOLLOW_* */
    uint64_t batch_bytes;
    int      hwm;
    int      parts;
    uint64_t parts_stride;
    uint64_t region_window_ms;
    char     stacks[16];     /* off, sample or all (sites.c) */
    uint64_t sample_bytes, stack_depth, stack_table, top, seed;
    uint64_t dump_at;        /* site views from this RSS or heap (peakview.c) */
    char     cpu[16];        /* CPU samples a second, or off (cpu.c) */
    int      namespaces;     /* count dlmopen namespaces (hooks/namespace.c) */
};
extern struct pp_options pp_opt;
void pp_options_load(int warn);     /* warn: print bad values and unknown names */
const char *pp_getenv(const char *name);
/* PERFPROBE_FOLLOW's value by name: "all", "exec" or "none" */
const char *pp_follow_name(void);

struct pp_option_doc { const char *name, *def, *desc; };
/* The rows of the options table, for the generated documentation. */
const struct pp_option_doc *pp_options_doc(size_t *n);


/* ---- split.c: a record longer than a page, as parts ---------------------- */

/* The parts of the record P[0..N) (one line), each of PAGE bytes or fewer,
 * into OUT (NULL: only measured); their bytes, or 0: not split. */
size_t pp_split(const char *p, size_t n, size_t page, char *out, size_t cap);


/* ---- allocator.c: the real allocator, and whose it is --------------------- */

/* the real functions (sys.h: struct pp_real), filled by pp_resolve */
extern struct pp_real pp_real;
/* Resolve the real functions (the hooks' first call, start-up); the
 * calls made meanwhile are served from a bootstrap arena (allocator.h) */
void pp_resolve(void);
/* usable size of a live block: the allocator's malloc_usable_size, or for
 * glibc an equivalent that reads only the block's own header (the inline
 * form for the allocator hooks: allocator.h, pp_usable_fast) */
size_t pp_usable(void *p);
/* "chunk-header" (glibc, read directly) or "malloc_usable_size" */
const char *pp_usable_method(void);
/* "glibc", "jemalloc", "tcmalloc", "mimalloc" or the library's name: whose
 * malloc the hooks forward to; and that library's path */
const char *pp_allocator_name(void);
const char *pp_allocator_library(void);
/* 1 when the real allocator is glibc's (resolved, and its self-test passed) */
int pp_allocator_is_glibc(void);
/* 0 when the program's malloc is not the shim's (another allocator was
 * preloaded before it, or the executable defines malloc) */
int pp_heap_counted(void);
/* how the program's calls reach the hooks: "interposed", "got" (bind.c), "none" */
const char *pp_heap_binding(void);
/* At start-up: find whose malloc the program calls; WARN: say so on stderr
 * when it is not the shim's. */
void pp_allocator_check(int warn);
/* On the sampler thread: warnings that hooks may not print themselves. */
void pp_allocator_tick(void);
/* Why the heap figures are not exact, if they are not: up to MAX reasons. */
int pp_inexact_reasons(const char **out, int max);
/* jemalloc's stats.allocated, stats.active, stats.resident; -1 when
 * jemalloc is not the allocator */
int pp_jemalloc_stats(uint64_t *allocated, uint64_t *active, uint64_t *resident);


/* ---- buf.c: JSON and text formatting into fixed buffers ------------------- */

struct pp_buf { char *p; size_t len, cap; };
void pp_buf_raw(struct pp_buf *b, const char *s, size_t n);
void pp_buf_str(struct pp_buf *b, const char *s);
void pp_buf_u64(struct pp_buf *b, uint64_t v);
void pp_buf_i64(struct pp_buf *b, int64_t v);
/* v / 10^scale printed with `decimals` digits after the point (rounded) */
void pp_buf_fixed(struct pp_buf *b, int64_t v, unsigned scale, unsigned decimals);
/* A JSON string literal: quotes, escapes, invalid UTF-8 replaced by U+FFFD.
 * At most max_in input bytes are used (longer input is cut on a character
 * boundary); NULL prints null. */
void pp_buf_json_str(struct pp_buf *b, const char *s, size_t max_in);
/* ,"key":  (no comma when the buffer ends with '{') */
void pp_buf_key(struct pp_buf *b, const char *key);
/* a double as JSON: up to 6 decimals, or 6 significant digits in
 * exponent form for very large or small values; null when not finite */
void pp_buf_double(struct pp_buf *b, double v);
/* right-aligned text column helpers for the exit table */
void pp_buf_pad(struct pp_buf *b, size_t width, const char *s, size_t n);

/* one line on stderr: "perfprobe: warning: " a b c d (control characters
 * escaped: a path never splits the line) */
void pp_warn(const char *a, const char *b, const char *c, const char *d);
/* something met while the program runs that its figures then miss (a
 * thread not sampled, no sampler thread): a warning as pp_warn, or with
 * PERFPROBE_QUIET a "note" record in the timeline, nothing on stderr */
void pp_notice(const char *a, const char *b, const char *c);
/* a "note" record of TEXT[0..N) */
void pp_timeline_note(const char *text, size_t n);
/* the same of the text A, B, C (512 bytes at most) */
void pp_timeline_note3(const char *a, const char *b, const char *c);
/* the program is about to put a file at FD (dup2, dup3): the timeline's
 * kept descriptor moves off it first */
void pp_timeline_fd_taken(int fd);

/* ---- counters.c: heap bytes and call counts ------------------------------- */

void pp_count_alloc(size_t usable);
void pp_count_free(size_t usable);
/* The hooks' fast path: count on this thread's slot and return 1; 0 when
 * there is no slot yet (nothing counted: use pp_count_alloc/free); 2 when
 * counted but the slot passed its peak alarm, which pp_count_new_high()
 * must then look at (out of line, so that the fast path keeps no registers). */
int  pp_count_alloc_quick(size_t usable);
int  pp_count_free_quick(size_t usable);
int  pp_count_realloc_quick(size_t old_usable, size_t new_usable);
void pp_count_new_high(void);
/* This thread's own figures, for a region it opens or ends: allocation
 * calls (reallocs included), frees and its live-byte delta; 0 (and zeros)
 * when it can have no counter slot. */
int  pp_counters_self(uint64_t *calls, uint64_t *frees, int64_t *live);
/* A region opens on this thread with its live-byte delta at LIVE (from
 * pp_counters_self): the highest delta from here on is kept, exactly.
 * Returns what the enclosing region had reached (INT64_MAX: none open),
 * which pp_counters_high_close takes back at the region's end; that returns
 * the region's highest delta (INT64_MIN without a counter slot).  Every
 * open must be closed, innermost first. */
int64_t pp_counters_high_open(int64_t live);
int64_t pp_counters_high_close(int64_t outer);
/* the bytes this thread has been handed by the allocator so far (usable
 * sizes; a realloc counts its new block) */
static inline uint64_t pp_counters_self_bytes(void)
{
    return pp_hot.bytes_base + (uint64_t)(pp_hot.cd_start - pp_hot.countdown);
}
void pp_count_realloc(size_t old_usable, size_t new_usable);

struct pp_heap {
    int64_t  bytes;          /* live bytes handed out now */
    int64_t  peak;           /* peak since start */
    int64_t  window_peak;    /* peak since the window was last reset */
    uint64_t allocs, frees, reallocs;
};
/* Peak windows: the sampler's (between samples) and the probes' (between
 * probes) are reset independently. */
enum { PP_WIN_SAMPLE, PP_WIN_PROBE, PP_WINDOWS };
void pp_counters_read(struct pp_heap *out, int window, int reset);
void pp_counters_flush_self(void);
void pp_counters_thread_exit(void);
void pp_counters_after_fork_child(void);
void pp_counters_foreign_thread(void);
int  pp_counters_foreign(void);         /* this thread is one such */
void pp_counters_init(void);
/* An address on the stack of every thread that has counted an allocation
 * (recorded by the thread itself, without a lock); up to MAX.  The main
 * thread is left out. */
size_t pp_counters_stack_hints(uintptr_t *out, size_t max);
uint64_t pp_counters_stack_generation(void);  /* grows with each new hint */
/* 1 once the live heap would have gone below zero (clamped at 0) */
int pp_counters_went_negative(void);
/* threads that have exited so far (their slots released) */
uint64_t pp_counters_threads_exited(void);

/* ---- mappings.c: the program's own mmap'd ranges -------------------------- */

enum { PP_MAP_ANON = 0, PP_MAP_FILE = 1 };
void pp_map_add(uintptr_t addr, size_t len, int kind);
void pp_map_remove(uintptr_t addr, size_t len);
/* mremap: [old, old+old_len) became [neu, neu+new_len); keep_old for
 * MREMAP_DONTUNMAP */
void pp_map_move(uintptr_t old, size_t old_len, uintptr_t neu, size_t new_len,
                 int keep_old);
struct pp_maps {
    uint64_t anon, file;     /* bytes mapped now */
    uint64_t peak;           /* peak of anon+file since start */
    uint64_t window_peak;    /* peak since the previous read with reset */
    uint64_t ranges;
};
/* nonblock: for the signal handler, read without waiting for the lock */
void pp_map_read(struct pp_maps *out, int reset_window, int nonblock);
void pp_map_lock(void);
void pp_map_unlock(void);
void pp_map_after_fork_child(void);      /* unlocks; peaks start afresh */
uint64_t pp_map_resident_anon(void);     /* resident bytes of the anon ranges */


/* ---- parts.c: where every resident byte is --------------------------------- */

struct pp_parts {
    uint64_t rss;                        /* VmRSS, read with the parts */
    uint64_t heap, mmap, file, stack, other;      /* add up to rss */
    uint64_t shmem, perfprobe;           /* what "other" holds */
    int64_t  heap_untouched;             /* heap bytes handed out, not resident */
    int      has_je;
    uint64_t je_allocated, je_active, je_resident;
};
/* With STATUS (a fresh /proc/self/status reading): a full breakdown.  With
 * NULL: a quick one, from statm and the shared-memory and own-memory
 * figures of the last full breakdown (the first one is always full). */
int  pp_rss_parts(struct pp_parts *out, int64_t heap_bytes, const struct pp_proc *status);
void pp_parts_after_fork_child(void);

/* ---- sampler.c: the background thread and one sample ---------------------- */

struct pp_sample {
    uint64_t t_ns;           /* since start */
    struct pp_proc proc;
    struct pp_cpu cpu;
    struct pp_heap heap;
    struct pp_maps maps;
    int      has_parts;
    struct pp_parts parts;
};
/* RESET: start new peak windows; NONBLOCK: from a signal handler; PARTS:
 * with the RSS breakdown; STATUS: read /proc/self/status (else statm only) */
enum { PP_SAMPLE_RESET = 1, PP_SAMPLE_NONBLOCK = 2, PP_SAMPLE_PARTS = 4, PP_SAMPLE_STATUS = 8 };
void pp_sample_take(struct pp_sample *s, int flags);
/* TICK: called on the thread once a sample; GONE: when every thread of the
 * program has ended (it does not return).  life.c passes its own, so that
 * the sampler calls nothing above it by name. */
void pp_sampler_start(void (*tick)(void), void (*gone)(void));
void pp_sampler_stop(void);
int  pp_sampler_pause(void);        /* stop and join; 1 if it was running */
/* the sampler thread's id while it runs (the kernel may still list it for
 * a moment after), -1 while it is being created, else 0 */
pid_t pp_sampler_tid(void);
void pp_sampler_after_fork_child(void);

/* ---- cpu.c: CPU stacks sampled by the kernel, read by the sampler ---------- */

void pp_cpu_tick(int final);        /* the sampler, each sample; FINAL at exit */
void pp_cpu_after_fork_child(void);
/* the program's thread, before the sampler starts: what the first tick
 * would open in the program's table, opened now (sys/linux/apart.c) */
void pp_cpu_prime(void);
void pp_cpu_flush(void);           /* before an exec: the samples held, written */
/* between ticks: when the sampler should read the ring buffers again (0:
 * at the next tick), and the read.  A thread that runs Python is read just
 * after its next sample is due, so that the Python frames read are those
 * of the moment of the sample, within a fraction of a millisecond */
uint64_t pp_cpu_read_at(void);
void pp_cpu_read_soon(void);
/* the region thread TID was in at CLOCK_MONOTONIC time T_NS (region.c):
 * its path, or NULL */
const char *pp_region_at(pid_t tid, uint64_t t_ns);
void pp_region_remember(void);      /* after each tick's samples */

/* ---- probe.c: perf_probe, perf_counter ----------------------------------- */

/* the highest RSS the shim itself observed (samples and probes): the peak
 * reported is never below it.  pp_rss_seen raises it, _reset sets it. */
void pp_rss_seen(uint64_t rss);
void pp_rss_seen_reset(uint64_t rss);
uint64_t pp_rss_seen_max(void);

struct pp_probe_record {
    const char *label;
    uint64_t t_ns, dt_ns, overhead_ns;
    uint64_t rss, rss_start, rss_last;
    int64_t  heap, heap_start, heap_last, peak_heap;
    uint64_t peak_rss;
    int      peak_rss_exact;
    uint64_t allocs, frees, user_ns, sys_ns;     /* since the previous probe */
    const struct pp_parts *parts;                 /* NULL when off */
};
uint64_t pp_probe_hwm_floor(void);       /* all-time peak RSS before HWM resets */
void pp_probe_note_rss(uint64_t rss);    /* the sampler's RSS, for sampled peaks */
void pp_probe_after_fork_child(void);
void pp_probe_lock(void);
void pp_probe_unlock(void);
size_t pp_probe_count(size_t *dropped);
size_t pp_probe_rows(size_t i, const char **label, uint64_t *t_ns, uint64_t *dt_ns,
                     uint64_t *rss, int64_t *heap, const struct pp_parts **parts);
/* the breakdown with the highest RSS seen so far (probes and samples) */
void pp_parts_note(const struct pp_parts *p, uint64_t t_ns);
int  pp_parts_peak(struct pp_parts *out, uint64_t *t_ns);


/* ---- region.c: perf_region_begin/end, latency histograms ------------------ */

/* what one occurrence of a region allocated, over its occurrences: exact
 * sums, extremes and mean; percentiles from the log-linear histogram */
struct pp_region_allocs {
    double   mean, p50, p99;
    uint64_t max;
};
struct pp_region_stats {
    const char *name, *path;
    int      depth;
    uint64_t count;
    double   total_ns, mean_ns, min_ns, max_ns, span_ns;
    double   p50_ns, p90_ns, p95_ns, p99_ns, p999_ns;
    /* the thread's own allocations inside each occurrence, nested regions
     * included (self_*: those of nested regions left out) */
    struct pp_region_allocs calls, bytes;
    uint64_t frees;                        /* in all occurrences */
    double   net_mean;                     /* live bytes an occurrence leaves */
    int64_t  net_min, net_max;
    double   self_calls_mean, self_bytes_mean;
    /* the highest live bytes reached inside an occurrence, above where it
     * began (nested regions included) */
    struct pp_region_allocs peak;
};
/* Regions seen so far, merged over threads; i from 0; 0 when past the end. */
int pp_region_stats(size_t i, struct pp_region_stats *out);
size_t pp_region_count(void);
void pp_region_init(void);
void pp_region_thread_exit(void);
/* no region is begun on this thread from now on (Linux: a namespace's
 * thread past its last key destructor, hooks/namespace.c) */
void pp_region_thread_dead(void);
void pp_region_after_fork_child(void);
/* From the sampler thread once per PERFPROBE_REGION_WINDOW_MS (and once at
 * exit): a "regions" record for the occurrences that ended since the last
 * call.  Serialised internally; writes nothing when nothing ended. */
void pp_region_window(void);

/* ---- timeline.c: the JSON Lines file ------------------------------------- */

/* the tree's file (TREE_PATH, known by device and inode) or, with NULL, a
 * new file from PERFPROBE_OUTPUT */
void pp_timeline_open(uint64_t tree_dev, uint64_t tree_ino, const char *tree_path);
int  pp_timeline_identity(uint64_t *dev, uint64_t *ino, const char **path);
/* Write a record: B holds a whole JSON object that starts {"type":"NAME";
 * "pid" and the newline are added.  Any thread outside an allocator hook. */
void pp_timeline_record(struct pp_buf *b);
void pp_timeline_sample(const struct pp_sample *s, int force);
/* before exec (FAILED_ERRNO 0), or after an exec that failed */
void pp_timeline_exec(const char *file, char *const argv[], int failed_errno, const char *untraced);
void pp_timeline_untraced(long child, const char *file, const char *why);
/* The summary (summary.c): 0 when no summary is to be written now (no
 * file, a record of this thread's is being written, or the lock was not
 * had within a second); else the lock is held until
 * pp_timeline_summary_end, with *OPEN 1 when this image's records are not
 * closed yet, and the sample lines written and samples taken.  The end
 * writes B (a whole record, as pp_timeline_record's; NULL: none) when
 * open, and closes the image's records. */
int  pp_timeline_summary_begin(int *open, uint64_t *samples, uint64_t *samples_taken);
/* writes this image made without the lock other writers of the file take
 * (its holder kept it past the wait; a file system without flock) */
uint64_t pp_timeline_unlocked_writes(void);
void pp_timeline_summary_end(struct pp_buf *b);
/* Between the two: write B, the summary, and say whether it went in: 0
 * when a file-size limit kept it out whole (a shorter one may fit) */
int  pp_timeline_summary_try(struct pp_buf *b);
/* "KEY":{the RSS breakdown P}; T_NS: with its time; WITH_RSS_OUTSIDE: the
 * record gives the RSS itself */
void pp_timeline_parts(struct pp_buf *b, const char *key, const struct pp_parts *p,
                       const uint64_t *t_ns, int with_rss_outside);
#define PP_LABEL_MAX 4096      /* input bytes of a label or name a record keeps */
void pp_timeline_forget(void);        /* a child that is not followed */
void pp_timeline_probe(const struct pp_probe_record *r);
/* this thread's records until the release leave in one write */
void pp_timeline_hold(void);
void pp_timeline_release(void);
/* write the held probe records now; NONBLOCK: only if the lock is free */
void pp_timeline_flush(int nonblock);
void pp_timeline_counter(const char *name, double value, uint64_t t_ns);
const char *pp_timeline_path(void);               /* "" when none */
uint64_t pp_timeline_samples(void);
void pp_timeline_lock(void);
void pp_timeline_unlock(void);
void pp_timeline_after_fork_child(void);
void pp_timeline_tree(void);          /* other processes may write the file now */
/* ON: the sampler thread runs and writes held records at each tick (from
 * sampler.c as it starts and stops); off, a release writes them at once */
void pp_timeline_sampler_running(int on);

/* ---- summary.c: the timeline's last record --------------------------------- */

/* The summary record of this image (at normal exit): END's figures, the
 * probes, the regions, the RSS breakdowns, whether the heap is exact */
void pp_summary_write(const struct pp_sample *end);

/* ---- report.c: the table printed on stderr at exit ------------------------ */

/* on stderr, or TO_RECORD into the timeline (PERFPROBE_TABLE=record) */
void pp_report_table(const struct pp_sample *end, int to_record);


/* ---- sites.c: allocation sites --------------------------------------------- */

enum { PP_STACKS_OFF, PP_STACKS_SAMPLE, PP_STACKS_ALL };
#define PP_STACK_MAX 256
extern int pp_sites_mode;
/* The hooks' counting of block P (counters.c, and sites.c's sampling),
 * out of line (sites.c), for the C++ hooks (cxx.c); the allocator hooks
 * use the inline forms (sites.h: pp_track_alloc_fast ...) */
void pp_track_alloc(void *p, size_t usable);
void pp_track_free(void *p, size_t usable);
/* realloc: the old block was pp_site_free'd before the call */
void pp_track_realloc(void *q, size_t old_usable, size_t new_usable);
void pp_sites_init(void);
void pp_sites_probe(const char *label);       /* outside hooks */
/* at exit: the peak view; whether the leak check has a table to check
 * (`all`); the exit view, LEAKS_CLASSIFIED when the check ran and
 * succeeded (life.c runs them in this order, the check in between) */
void pp_sites_exit(void);
int  pp_sites_leak_check(void);
void pp_sites_exit_view(int leaks_classified);
void pp_sites_after_fork_child(void);
/* the sampler thread (peakview.c); CGROUP: the cgroup's usage and limit
 * for a "cgroup_limit" or "cgroup_pressure" dump (with the count that
 * moved, before and now, for the latter), else NULL */
struct pp_dump_cgroup {
    uint64_t usage, limit;
    const char *counter;              /* NULL: none */
    uint64_t count, was;
};
int  pp_sites_view(const char *why, const struct pp_dump_cgroup *cgroup);
int64_t pp_sites_peak_bytes(int *pending);
/* leaks.c: the live blocks at exit, with `all` */
struct pp_block { uintptr_t addr; size_t size; uint32_t ref; uint32_t pad; };
size_t pp_sites_block_count(void);
size_t pp_sites_blocks(struct pp_block *out, size_t cap);
void pp_sites_lost(uint32_t ref, size_t size);
int  pp_leaks_classify(void);
/* ---- peakview.c, cgroup.c: site views that survive a kill ------------------ */
void pp_peakview_tick(const struct pp_sample *s);
/* the cgroup's files found and opened by the program's thread, before the
 * sampler starts */
void pp_peakview_prime(void);
/* a "module" record for each module not written yet in this image */
void pp_sites_write_modules(struct pp_buf *b);
int  pp_unwind(uintptr_t *out, int max);
/* stacks libgcc's unwinder walked so far (the others: cfi.c) */
uint64_t pp_unwind_by_libgcc(void);
/* pyframes.c: Python frames merged into a stack.  A Python frame is stored
 * as PP_PY_MARK(id), a value no return address takes (written negative);
 * its identity goes out in a "pyframe" record. */
#define PP_PY_MARK(id)   ((uintptr_t)0 - (uintptr_t)(id))
#define PP_IS_PY_MARK(v) ((intptr_t)(v) < 0)
/* the innermost "frame" of a site that is an anonymous mapping (made by a
 * Python interpreter's own allocator: pyframes.c), pyframe id 0 */
#define PP_MAP_MARK      PP_PY_MARK(0x7fffffff)
/* in a process running CPython, an anonymous private mmap made outside the
 * allocator (pymalloc's arenas) is sampled as a site, and its munmap frees it */
void pp_site_map(void *p, size_t len, int flags);
void pp_site_unmap(void *p, size_t len);
extern int pp_py_on;
/* set by sites.c when allocation stacks are on (before its pp_py_init):
 * pp_py_init then turns pp_py_on on for an interpreter it can read */
extern int pp_py_for_sites;
void pp_py_init(void);
/* dlopen calls so far (the dlopen hook counts them); the sampler looks for a
 * libpython loaded late after each (pp_py_watch, every tick) */
extern _Atomic unsigned pp_dlopens;
void pp_py_watch(void);
/* the program's thread refreshed the module list (sites.c): a libpython
 * among the new modules is read before that thread goes on */
void pp_py_look(void);
/* the program's thread at a sampled allocation: after a dlopen that has
 * ended, the list refreshed and looked at before its frames are read */
void pp_py_after_dlopen(void);
/* around the outermost dlclose of the program's (pyframes.c): while one
 * is under way no walk of the frames of an interpreter loaded late begins
 * and none is set up, and after it an interpreter loaded late whose library is gone is forgotten.
 * Begin answers 1 when it counted the dlclose (frames are wanted); end
 * takes that answer */
int  pp_py_close_begin(void);
void pp_py_close_end(int began);
/* fork: no look in progress while the process is copied (the look takes the
 * loader's locks, which a child must not inherit held) */
void pp_py_fork_prepare(void);
void pp_py_fork_done(void);
int  pp_py_merge(uintptr_t *frames, int n, int max);
void pp_py_write(struct pp_buf *b);
void pp_py_after_fork_child(void);
/* CPU samples (cpu.c): another thread's Python frames, read by the sampler
 * thread from outside while that thread runs (every read through the
 * kernel, every object checked; a frame that fails is one unreadable frame
 * and ends the walk).  ids innermost first; ends[g]: one past the last
 * frame of the g-th innermost evaluation call; bad: the walk gave up */
#define PP_PY_MAX 128
struct pp_py_stack { int n, ng, bad; uint32_t ids[PP_PY_MAX + 1]; int ends[PP_PY_MAX + 2]; };
/* thread TID's frames into S now: their number (0: no Python frames, or no
 * thread state of TID found, or no interpreter read) */
int  pp_py_read_thread(pid_t tid, struct pp_py_stack *s);
/* how many of FRAMES[0..N) are the interpreter's evaluation frames */
int  pp_py_evals(const uintptr_t *frames, int n);
/* S merged into a sample's stack (OUTER: its native walk is complete, the
 * evaluation calls are matched from the outermost); the new count */
int  pp_py_merge_read(const struct pp_py_stack *s, uintptr_t *frames, int n, int max, int outer);
/* V is the "<python: unreadable>" frame */
int  pp_py_is_unreadable(uintptr_t v);

/* ---- state.c: the process's identity, kept by life.c, read by all --------- */

struct pp_state {
    uint64_t start_ns;       /* CLOCK_MONOTONIC at start-up */
    uint64_t start_unix_ns;
    uint64_t cpu_before_ns;  /* the process's CPU time (user + system) at t_s = 0:
                              * the loader's, earlier images' after an exec */
    pid_t    pid, ppid, root_pid;  /* as /proc shows them (pp_os_pid_seen) */
    pid_t    own_pid;        /* getpid()'s: not the same in a pid namespace of
                              * the program's own */
    int      is_root;        /* the first traced process of the tree */
    int      first_image;    /* ... before any exec: nothing traced ran before */
    int      image;          /* images of this pid before this one (execs) */
    int      active;         /* the shim is fully initialised (and recording) */
    int      forked;         /* this image began as a fork of the traced one */
    int      exit_status;    /* what exit was given (0-255), or -1: not yet */
    struct pp_sample first;  /* the sample taken at start-up */
    int      stderr_ok;      /* fd 2 was open at start-up, as this file: */
    dev_t    stderr_dev;     /* the table never goes into a file that */
    ino_t    stderr_ino;     /* reused the number */
    char     program[256];
    char     exe[4096];
};
extern struct pp_state pp_state;

/* ---- life.c: start-up, fork, exec and exit -------------------------------- */

void pp_finish(void);
int  pp_fork_foreign_begin(void);
void pp_fork_foreign_end(int began, int child);
/* What the process hooks (hooks/process.c) call.  exit: the summary made
 * sure of, then the real exit; _exit: the held probe records written
 * (the hook then ends the process itself). */
__attribute__((noreturn)) void pp_exit(int status);
void pp_exit_now_begin(void);
/* An exec of FILE is about to replace this image: its last sample and the
 * "exec" record.  Returns what pp_exec_failed takes back when the exec
 * returned (it failed, with errno set): an "exec_failed" record. */
int  pp_exec_begin(const char *file, char *const argv[], const char *untraced);
/* Why FILE, started with ENVP (NULL: environ; SEARCH: looked up in PATH),
 * will run without the shim (an environment without it, a set-user-ID
 * program, ...; sys.h), or NULL: for the exec record, and for
 * pp_spawned, which writes an "untraced" record after a posix_spawn that
 * returned RC and *PID */
const char *pp_untraced(const char *file, char *const envp[], int search);
void pp_spawned(int rc, const pid_t *pid, const char *file, const char *untraced);
void pp_exec_failed(int began, const char *file);
/* The environment an exec or a spawn is given, with this image's
 * PERFPROBE_TREE entry in place of an older one (ENVP itself when nothing
 * is to change); the copy goes into STACK, CAP entries, or a raw mapping
 * that pp_env_fix_done unmaps (errno kept). */
struct pp_env_fix {
    char **envp;
    void *map;
    size_t map_len;
    char *pre_stack;    /* PP_ENV_PRE bytes for pp_env_unpreload's new
                         * preload entry; a longer one is mapped: */
    char *pre;
    size_t pre_len;
};
#define PP_ENV_PRE 256
char *const *pp_env_fixed(struct pp_env_fix *f, char *const envp[], char **stack, size_t cap);
/* WHY is pp_os_other_abi: ENVP (pp_env_fixed's) with the shim's entries
 * taken out of the preload variable (the new entry in F's pre_stack when
 * it fits, else a raw mapping that pp_env_fix_done unmaps: the exec hooks'
 * frames stay small, for a vfork-style child's small stack); ENVP itself
 * otherwise */
char *const *pp_env_unpreload(struct pp_env_fix *f, char *const envp[], char **stack, size_t cap,
                              const char *why);
void pp_env_fix_done(struct pp_env_fix *f);
/* Linux: unshare, setns, close_range with CLOSE_RANGE_UNSHARE and the
 * set*id family run with the sampler thread stopped; returns what
 * pp_alone_end takes to start it again (0: nothing was stopped, and a
 * sampler may still run) */
int  pp_alone_begin(void);
void pp_alone_end(int began);
/* the same for the set*id calls (-1: not this process's call, a vfork
 * child's, whose memory is the parent's: glibc's view of the threads is
 * left alone) */
int  pp_alone_creds_begin(void);


#endif
